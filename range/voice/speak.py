"""Sound out: subjects' lines through espeak-ng, placed in stereo; range sounds; sinks.

Every sound is a float32 stereo array (n, 2) at OUT_RATE_HZ, built without a device, so it can be
tested by reading it back. A sink then plays it: `WavSink` writes a file, `AlsaSink` plays through
an ALSA device with `aplay` (the `null` device exists on every ALSA install, so the real sound path
is tested on a machine with no sound card), `DeviceSink` uses PortAudio's default output.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from math import cos, pi, radians, sin
from pathlib import Path

import numpy as np
import numpy.typing as npt

from range.voice.audio import AudioUnavailableError

OUT_RATE_HZ = 22_050  # espeak-ng's own rate: no resampling of speech
Stereo = npt.NDArray[np.float32]
REFERENCE_DISTANCE_M = 1.0  # full level at 1 m; inverse-distance (-6 dB per doubling) beyond
MIN_GAIN = 0.02  # never quieter than -34 dB: a subject across the range is still heard


class SpeechUnavailableError(RuntimeError):
    """espeak-ng is not installed."""


class SpeechFailedError(RuntimeError):
    """espeak-ng is installed but could not speak a line (it failed, or wrote no sound)."""


@dataclass(frozen=True, slots=True)
class Voice:
    """An espeak-ng voice: `name` as `espeak-ng --voices` lists it, plus a variant (`en-us+m3`),
    speaking rate in words per minute and pitch 0..99."""

    name: str = "en-us"
    speed_wpm: int = 160
    pitch: int = 50


# A voice per subject, by index in the drill's subject list: different variants and pitches so
# two subjects are told apart by ear.
SUBJECT_VOICES = (
    Voice("en-us+m3", 150, 40),
    Voice("en-us+f3", 165, 60),
    Voice("en-us+m7", 140, 30),
    Voice("en-us+f4", 170, 70),
)


def voice_for_subject(index: int) -> Voice:
    return SUBJECT_VOICES[index % len(SUBJECT_VOICES)]


def espeak_path() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise SpeechUnavailableError("espeak-ng is not installed; apt-get install espeak-ng")
    return path


def synthesize(text: str, voice: Voice = Voice()) -> npt.NDArray[np.float32]:
    """`text` spoken by espeak-ng: mono float32 at OUT_RATE_HZ.

    The text goes in on standard input, never on the command line, so a line that begins with
    "-" ("-- Get away from me!") is spoken, not taken as an option. Raises SpeechUnavailableError
    (no espeak-ng), SpeechFailedError naming the line (espeak-ng failed or wrote no sound) or
    ValueError for a line with nothing to say."""
    import soundfile

    if not text.strip():
        raise ValueError("nothing to say: the text is empty")
    command = [
        espeak_path(),
        *("-v", voice.name, "-s", str(voice.speed_wpm), "-p", str(voice.pitch)),
        *("--stdout", "--stdin"),
    ]
    try:
        result = subprocess.run(
            command, input=text.encode(), capture_output=True, check=True, timeout=30
        )
        samples, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
    except (OSError, subprocess.SubprocessError, soundfile.LibsndfileError) as exc:
        said = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else None
        why = said.decode(errors="replace").strip() if said else str(exc)
        raise SpeechFailedError(f"espeak-ng could not speak {text!r}: {why}") from exc
    if rate != OUT_RATE_HZ:
        raise SpeechUnavailableError(f"espeak-ng wrote {rate} Hz, expected {OUT_RATE_HZ}")
    return np.asarray(samples, dtype=np.float32)


def place(mono: npt.NDArray[np.float32], azimuth_deg: float, distance_m: float) -> Stereo:
    """Put a mono sound at `azimuth_deg` (0 ahead, +90 right, -90 left) and `distance_m`.

    Constant-power panning (the level does not dip in the middle) and inverse-distance gain,
    full at REFERENCE_DISTANCE_M and no lower than MIN_GAIN. Returns (n, 2) float32, left first."""
    if distance_m <= 0:
        raise ValueError(f"distance {distance_m} m must be positive")
    pan = max(-1.0, min(1.0, sin(radians(azimuth_deg))))  # -1 left .. +1 right
    angle = (pan + 1.0) * pi / 4.0
    gain = max(MIN_GAIN, min(1.0, REFERENCE_DISTANCE_M / distance_m))
    left, right = cos(angle) * gain, sin(angle) * gain
    return np.stack([mono * left, mono * right], axis=1).astype(np.float32)


def say(text: str, voice: Voice, azimuth_deg: float, distance_m: float) -> Stereo:
    """A subject's line, spoken and placed."""
    return place(synthesize(text, voice), azimuth_deg, distance_m)


def beep(duration_s: float = 0.3, frequency_hz: float = 3000.0) -> npt.NDArray[np.float32]:
    """A shot timer's start beep: a tone with 5 ms ramps (no click)."""
    t = np.arange(int(duration_s * OUT_RATE_HZ)) / OUT_RATE_HZ
    tone = 0.5 * np.sin(2 * pi * frequency_hz * t)
    ramp = np.minimum(1.0, np.minimum(t, duration_s - t) / 0.005)
    return (tone * ramp).astype(np.float32)


def gunshot(rng: np.random.Generator, duration_s: float = 0.4) -> npt.NDArray[np.float32]:
    """A pistol report as heard through muffs: a noise burst with a fast decay."""
    t = np.arange(int(duration_s * OUT_RATE_HZ)) / OUT_RATE_HZ
    noise = rng.normal(0.0, 1.0, len(t))
    return np.clip(0.9 * noise * np.exp(-t / 0.04), -1, 1).astype(np.float32)


def taser_arc(rng: np.random.Generator, duration_s: float = 1.0) -> npt.NDArray[np.float32]:
    """The CEW's arc: sharp clicks at the pulse rate over a crackle."""
    pulse_hz = 19.0  # the audible click rate of a TASER 7's arc (about 19 pulses per second)
    n = int(duration_s * OUT_RATE_HZ)
    out = 0.05 * rng.normal(0.0, 1.0, n)
    width = int(0.004 * OUT_RATE_HZ)
    for start in np.arange(0.0, duration_s, 1.0 / pulse_hz):
        i = int(start * OUT_RATE_HZ)
        out[i : i + width] += 0.8 * rng.normal(0.0, 1.0, len(out[i : i + width]))
    return np.clip(out, -1, 1).astype(np.float32)


def mix(sounds: list[tuple[float, Stereo]], duration_s: float | None = None) -> Stereo:
    """Sounds laid on one track at their start times (s); clipped to -1..1."""
    end = max((int(t * OUT_RATE_HZ) + len(s) for t, s in sounds), default=0)
    if duration_s is not None:
        end = max(end, int(duration_s * OUT_RATE_HZ))
    track = np.zeros((end, 2), dtype=np.float32)
    for t, sound in sounds:
        i = int(t * OUT_RATE_HZ)
        track[i : i + len(sound)] += sound
    return np.clip(track, -1, 1)


def to_pcm16(track: Stereo) -> npt.NDArray[np.int16]:
    return (np.clip(track, -1, 1) * 32767).astype(np.int16)


class WavSink:
    """Writes what is played to a WAV file (the run's audio track)."""

    def __init__(self, path: Path, *, run_file: bool = False) -> None:
        """`run_file`: the run's own soundtrack, written by the run (range/outfile.py's
        `check` is for the paths a user names, as `speech say --out`)."""
        self.path = path
        self.run_file = run_file

    def play(self, track: Stereo) -> None:
        """Encoded in memory, then written whole or not at all: a full disk is one OSError
        naming the file (never libsndfile's own error, never a partial WAV left behind)."""
        import soundfile

        from range import outfile

        buffer = io.BytesIO()
        soundfile.write(buffer, to_pcm16(track), OUT_RATE_HZ, format="WAV", subtype="PCM_16")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        outfile.write_bytes(self.path, buffer.getvalue(), run_file=self.run_file)


class AlsaSink:
    """Plays through an ALSA PCM device with aplay (alsa-utils): `default`, `null`, `hw:1,0`.

    Raises AudioUnavailableError (one line) when aplay is missing or the device refuses."""

    def __init__(self, device: str = "default") -> None:
        self.device = device

    def play(self, track: Stereo) -> None:
        import soundfile

        aplay = shutil.which("aplay")
        if aplay is None:
            raise AudioUnavailableError(
                "audio is off: aplay is missing; apt-get install alsa-utils"
            )
        buffer = io.BytesIO()
        soundfile.write(buffer, to_pcm16(track), OUT_RATE_HZ, subtype="PCM_16", format="WAV")
        result = subprocess.run(
            [aplay, "-q", "-D", self.device, "-"],
            input=buffer.getvalue(),
            capture_output=True,
            timeout=max(10.0, 2 * len(track) / OUT_RATE_HZ),
        )
        if result.returncode != 0:
            reason = result.stderr.decode(errors="replace").strip().splitlines()
            raise AudioUnavailableError(
                f"audio is off: ALSA device {self.device!r}: {reason[-1] if reason else 'failed'}"
            )


class DeviceSink:
    """Plays through PortAudio's default output device (sounddevice).

    Raises AudioUnavailableError (one line) when there is no output device."""

    def play(self, track: Stereo) -> None:
        from range.voice.audio import output_off_reason

        reason = output_off_reason()
        if reason is not None:
            raise AudioUnavailableError(f"audio is off: {reason}")
        import sounddevice

        try:
            sounddevice.play(track, OUT_RATE_HZ, blocking=True)
        except Exception as exc:  # PortAudio raises its own error types
            message = f"audio is off: the output device refused ({exc})"
            raise AudioUnavailableError(message) from None
