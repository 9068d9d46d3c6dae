"""`--sound` for the commands that play a drill: the run's soundtrack written and played.

off: nothing. wav (default): the soundtrack written as `sound.wav` in the run folder. alsa: also
played through an ALSA device (`--sound-device`, default `default`; `null` plays it nowhere).
device: also played through PortAudio's default output. A simulated run plays its soundtrack
after the run; a live run plays each sound as its record is written (range.voice.soundtrack,
`LivePlayer`). A machine without espeak-ng or without an audio device runs everything and says
in one line that speech or audio is off.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from range.cli import util as cliutil

if TYPE_CHECKING:
    from drills.log import LogRecord
    from drills.schema import Drill
    from range.voice.audio import Pcm
    from range.voice.soundtrack import LivePlayer, Sink, Speak
    from range.voice.speak import Stereo

SOUND_FILE = "sound.wav"


class Given(argparse.Action):
    """Stores the option's value and notes that it was given (`<dest>_given`): a default and
    the same value typed are told apart (`check_sound_options`)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_given", True)


def add_sound_device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sound-device",
        action=Given,
        default="default",
        metavar="ALSA_PCM",
        help="the ALSA device to play through (default: default; null: play it nowhere);"
        " implies --sound alsa, and is refused with another --sound",
    )


def add_sound_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sound",
        action=Given,
        choices=["off", "wav", "alsa", "device"],
        default="wav",
        help="the run's soundtrack (subjects' voices, shots, the TASER's arc): wav writes"
        " sound.wav in the run folder (default); alsa and device also play it (docs/speech.md)",
    )
    add_sound_device_option(p)


def check_sound_options(args: argparse.Namespace) -> None:
    """`--sound-device` names an ALSA device, so it means `--sound alsa`: implied when `--sound`
    is not given, refused in one line with another `--sound` (it would be ignored)."""
    if not getattr(args, "sound_device_given", False):
        return
    if not getattr(args, "sound_given", False):
        args.sound = "alsa"
    elif args.sound != "alsa":
        raise ValueError(
            f"--sound-device {args.sound_device} is for --sound alsa (an ALSA device); --sound"
            f" {args.sound} plays through no ALSA device: drop one of them"
        )


def _sink(args: argparse.Namespace) -> Sink | None:
    from range.voice.speak import AlsaSink, DeviceSink

    kind = getattr(args, "sound", "off")
    if kind == "alsa":
        return AlsaSink(args.sound_device)
    if kind == "device":
        return DeviceSink()
    return None


def _play(sink: Sink | None, track: Stereo) -> None:
    """Play a finished soundtrack on `sink` (None: nothing); no audio device is one line."""
    if sink is None:
        return
    from range.voice.audio import AudioUnavailableError

    try:
        sink.play(track)
    except AudioUnavailableError as exc:
        cliutil.say(f"openrange: {exc}")


def _speaker(args: argparse.Namespace) -> Speak | None:
    """espeak-ng, or None (lines left silent) with one line saying so, once a command (the
    run's soundtrack asks again after the run: `speech_first` said it before)."""
    from range.voice.soundtrack import speak_espeak
    from range.voice.speak import SpeechUnavailableError, espeak_path

    try:
        espeak_path()
    except SpeechUnavailableError as exc:
        if not getattr(args, "speech_off_said", False):
            cliutil.say(f"openrange: speech is off: {exc}")
            args.speech_off_said = True
        return None
    return speak_espeak


def speech_first(args: argparse.Namespace) -> None:
    """Before a run starts (before GO): say that speech is off, if it is and the run has a
    soundtrack, so the line is not said in the middle of the run's own output."""
    if getattr(args, "sound", "off") != "off":
        _speaker(args)


def after_run(
    args: argparse.Namespace,
    drill: Drill,
    records: list[LogRecord],
    seed: int,
    run_dir: Path | None,
    voice: Pcm | None = None,
) -> Path | None:
    """Write the run's soundtrack to its folder and play it as `--sound` asks (after a
    simulated run; a live run has played it already). Returns the file written, if any.
    `voice`: a `--voice` run's recording (as read_wav read it before the run: not decoded
    again, rv21b #9), on the run's clock: the officer's words are mixed in (nu21 #5: a
    reviewer playing a talk-down's sound.wav heard nothing)."""
    kind = getattr(args, "sound", "off")
    if kind == "off":
        return None
    from range.voice.audio import SAMPLE_RATE_HZ
    from range.voice.soundtrack import build, recording_for_track
    from range.voice.speak import WavSink

    hears = drill.empathy.hears if drill.empathy is not None else "clear"
    words = None
    if voice is not None:
        words = recording_for_track(voice, SAMPLE_RATE_HZ)
    track = build(records, seed, hears, _speaker(args), words)
    written = None
    if run_dir is not None:
        written = run_dir / SOUND_FILE
        WavSink(written, run_file=True).play(track)
    _play(_sink(args) if getattr(args, "live", False) is False else None, track)
    return written


def write_failed(exc: OSError, kept: str) -> str:
    """The one line for a soundtrack that could not be written (a full disk): the file, why,
    and what was kept all the same (the run is recorded before its sound is written)."""
    return (
        f"openrange: {exc.filename or SOUND_FILE}: {exc.strerror or exc}: the soundtrack was"
        f" not written; {kept}"
    )


def live_player(args: argparse.Namespace, drill: Drill | None, seed: int) -> LivePlayer | None:
    """A player for a live run's sounds as they happen, or None (with one line saying audio is
    off) when `--sound` plays nothing or this machine has no audio output."""
    from range.voice.audio import output_off_reason
    from range.voice.soundtrack import LivePlayer

    sink = _sink(args)
    if sink is None:
        return None
    if args.sound == "device":
        reason = output_off_reason()
        if reason is not None:
            cliutil.say(f"openrange: audio is off: {reason}")
            return None
    hears = drill.empathy.hears if drill is not None and drill.empathy is not None else "clear"
    return LivePlayer(sink, seed, hears, _speaker(args) if drill is not None else None)


def after_course(args: argparse.Namespace, run_dir: Path | None, seed: int) -> Path | None:
    """A course attempt's soundtrack from its saved log: the range timer's beep at each
    string's start signal and a report for each round, written as `sound.wav` and played as
    `--sound` asks (after the attempt; a live attempt's timer calls each string on stderr)."""
    if getattr(args, "sound", "off") == "off" or run_dir is None:
        return None
    from range.runs.runlog import read_events
    from range.voice.soundtrack import build
    from range.voice.speak import WavSink

    track = build(read_events(run_dir), seed, speak=None)
    written = run_dir / SOUND_FILE
    WavSink(written, run_file=True).play(track)
    _play(_sink(args) if not getattr(args, "port", None) else None, track)
    return written


def timer_voice(say: Callable[[str], None], player: LivePlayer | None) -> Callable[[str], None]:
    """A live range timer's voice: every call said on stderr as before, and its start signal
    ("BEEP") also heard, the shot timer's tone through the player's sink."""
    if player is None:
        return say
    from range.voice.speak import beep, place

    tone = place(beep(), 0.0, 1.0)

    def voice(line: str) -> None:
        say(line)
        if line == "BEEP":
            player.play(tone)

    return voice


@contextmanager
def playing_along(
    args: argparse.Namespace, run_dir: Path
) -> Iterator[subprocess.Popen[bytes] | None]:
    """While a replay plays at speed 1 in a window or the headset, its run's `sound.wav` plays
    through ALSA (`--sound alsa`, `--sound-device`) or PortAudio (`--sound device`), so the run
    is heard from the same head it is seen from; stopped when the replay ends. Yields the aplay
    process (None when nothing plays through ALSA). Anything that keeps the sound from playing
    is said in one line; the replay goes on."""
    kind = getattr(args, "sound", "off")
    path = run_dir / SOUND_FILE
    if kind == "off":
        yield None
        return
    if not path.is_file():
        cliutil.say(f"openrange: {path}: no soundtrack kept with this run; the replay is silent")
        yield None
        return
    if getattr(args, "speed", 1.0) != 1.0:
        cliutil.say("openrange: the soundtrack plays at --speed 1 only; the replay is silent")
        yield None
        return
    if kind == "device":
        from range.voice.audio import output_off_reason

        reason = output_off_reason()
        if reason is not None:
            cliutil.say(f"openrange: audio is off: {reason}")
            yield None
            return
        import sounddevice
        import soundfile

        samples, rate = soundfile.read(str(path), dtype="float32")
        sounddevice.play(samples, rate)
        try:
            yield None
        finally:
            sounddevice.stop()
        return
    aplay = shutil.which("aplay")
    if aplay is None:
        cliutil.say("openrange: audio is off: aplay is missing; apt-get install alsa-utils")
        yield None
        return
    device = getattr(args, "sound_device", "default")
    process = subprocess.Popen(
        [aplay, "-q", "-D", device, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        _, err = process.communicate(timeout=10)
        if process.returncode not in (0, -signal.SIGTERM):
            lines = err.decode(errors="replace").strip().splitlines()
            why = lines[-1] if lines else "failed"
            cliutil.say(f"openrange: audio is off: ALSA device {device!r}: {why}")
