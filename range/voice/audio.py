"""Audio in: a WAV file or the microphone, as 16 kHz mono int16 blocks through one pipeline.

PocketSphinx's en-us model is trained on 16 kHz speech, so every source is converted to that here,
once. A machine without an audio device raises AudioUnavailableError, which the CLI prints as one
line ("audio is off: ...").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from math import gcd
from pathlib import Path

import numpy as np
import numpy.typing as npt

SAMPLE_RATE_HZ = 16_000
# The lowest sample rate a recording may have: 8 kHz (telephone band, speech to 4 kHz). Below it
# the consonants that tell one command from another are gone, and a 1 kHz file was heard as
# nothing at all, rc 0, with no hint (nu17b #7).
MIN_RATE_HZ = 8_000
BLOCK_S = 0.03  # the endpointer's frame (pocketsphinx.Endpointer default)

Pcm = npt.NDArray[np.int16]


class AudioUnavailableError(RuntimeError):
    """No audio device (or no PortAudio) on this machine."""


def to_mono_16k(samples: npt.NDArray[np.floating], rate_hz: int) -> Pcm:
    """Mix down to mono and resample to 16 kHz. samples: floats in -1..1, (n,) or (n, ch)."""
    from scipy.signal import resample_poly

    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    if rate_hz != SAMPLE_RATE_HZ:
        g = gcd(SAMPLE_RATE_HZ, rate_hz)
        mono = resample_poly(mono, SAMPLE_RATE_HZ // g, rate_hz // g)
    return np.asarray(np.clip(mono, -1.0, 1.0) * 32767.0, dtype=np.int16)


def read_wav(path: Path, warn: Callable[[str], None] | None = None) -> Pcm:
    """A sound file (WAV, FLAC, OGG: whatever libsndfile reads) as 16 kHz mono int16. Samples
    that are not numbers (NaN, infinite: a float file) are read as silence, and `warn` is told
    so in one line naming the file; `warn` is also told when the file is cut short (`cut_short`).

    Raises FileNotFoundError, or ValueError naming the file when it is not audio or its sample
    rate is under MIN_RATE_HZ."""
    import soundfile

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(
            f"{path}: a directory, not a sound file: give one recording (WAV, FLAC or OGG)"
        )
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    except soundfile.LibsndfileError as exc:
        raise ValueError(f"{path}: not a sound file ({exc})") from None
    if rate < MIN_RATE_HZ:
        raise ValueError(
            f"{path}: recorded at {rate} Hz: speech needs at least {MIN_RATE_HZ} Hz (the"
            f" recogniser hears {SAMPLE_RATE_HZ} Hz)"
        )
    if warn is not None:
        short = cut_short(path)
        if short is not None:
            warn(short)
    samples = np.asarray(samples)
    bad = ~np.isfinite(samples)
    if bad.any():
        samples = np.where(bad, 0.0, samples).astype(np.float32)
        if warn is not None:
            count = int(np.sum(bad.any(axis=1) if bad.ndim == 2 else bad))
            warn(f"{path}: {count} samples are not numbers (NaN or infinite): read as silence")
    return to_mono_16k(samples, int(rate))


def cut_short(path: Path) -> str | None:
    """Why a WAV file is cut short (its header promises more sound than the file holds: a copy
    or a recording that stopped), or None. libsndfile reads what is there without a word."""
    import struct

    try:
        with open(path, "rb") as wav:
            head = wav.read(4096)
            size = wav.seek(0, 2)
    except OSError:
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    at = 12
    while at + 8 <= len(head):
        chunk, length = head[at : at + 4], struct.unpack("<I", head[at + 4 : at + 8])[0]
        if chunk == b"data":
            there = size - (at + 8)
            if there < length:
                return (
                    f"{path}: the file is cut short: its header promises {length} bytes of"
                    f" sound and {there} are there (only those are heard)"
                )
            return None
        at += 8 + length + (length & 1)
    return None


def write_wav(path: Path, pcm: Pcm, rate_hz: int = SAMPLE_RATE_HZ) -> Path:
    """Write int16 samples (mono (n,) or stereo (n, 2)) as a 16-bit WAV file."""
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), pcm, rate_hz, subtype="PCM_16")
    return path


def file_blocks(pcm: Pcm, block_s: float = BLOCK_S) -> Iterator[Pcm]:
    """A recording cut into the blocks a microphone would deliver."""
    n = round(block_s * SAMPLE_RATE_HZ)
    for start in range(0, len(pcm), n):
        yield pcm[start : start + n]


def _device_off_reason(channels_key: str, none_found: str) -> str | None:
    """None when PortAudio has a device with `channels_key` ("max_input_channels" or
    "max_output_channels") above zero, else why not (one line; `none_found` when none has)."""
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library itself is missing
        return f"PortAudio is not installed ({exc}); apt-get install libportaudio2"
    try:
        devices = sounddevice.query_devices()
    except Exception as exc:  # PortAudio raises its own error types
        return f"no audio devices ({exc})"
    if not any(d[channels_key] > 0 for d in devices):
        return none_found
    return None


def audio_off_reason() -> str | None:
    """None when an input and output device exist, else why audio is off (one line)."""
    return _device_off_reason("max_input_channels", "no microphone (no audio input device)")


def output_off_reason() -> str | None:
    """None when PortAudio has an output device, else why sound cannot be played (one line)."""
    return _device_off_reason(
        "max_output_channels", "no speaker or headphones (no audio output device)"
    )


def microphone_blocks(seconds: float | None, block_s: float = BLOCK_S) -> Iterator[Pcm]:
    """Blocks from the default microphone until `seconds` have passed (None: until interrupted).

    Raises AudioUnavailableError when there is no input device."""
    reason = audio_off_reason()
    if reason is not None:
        raise AudioUnavailableError(f"audio is off: {reason}")
    import sounddevice

    n = round(block_s * SAMPLE_RATE_HZ)
    total = None if seconds is None else int(seconds / block_s)
    with sounddevice.InputStream(samplerate=SAMPLE_RATE_HZ, channels=1, dtype="int16") as stream:
        count = 0
        while total is None or count < total:
            block, _overflowed = stream.read(n)
            yield np.asarray(block[:, 0], dtype=np.int16)
            count += 1
