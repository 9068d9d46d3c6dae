"""A run's soundtrack, built from its event log: what the officer (or, in an empathy scene, the
person whose eyes and ears the officer takes) heard, and when.

Subjects' lines (`subject_spoke`) in each subject's voice, placed by their direction and distance
from the listener's head at the moment spoken; the officer's own words (`officer_action` with
`say`); gunshots, the TASER's cartridge and its arc while a cycle runs; a course's start beeps.
The same log and seed give the same samples (the noise of shots and arcs draws from the seed),
so a saved run's `sound.wav` can be rebuilt and checked. `LivePlayer` plays the same sounds
through a sink as the records of a live run are written.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from math import pi
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from drills.log import LogRecord
from drills.voicing import OFFICER, facing, heard_from
from range.voice.speak import (
    OUT_RATE_HZ,
    Stereo,
    Voice,
    beep,
    gunshot,
    mix,
    place,
    synthesize,
    taser_arc,
    voice_for_subject,
)

Mono = npt.NDArray[np.float32]
Hears = Literal["clear", "distorted", "muffled"]
Speak = Callable[[str, Voice], Mono]
OFFICER_VOICE = Voice("en-us+m1", 165, 45)  # the officer's own words, scripted or replayed
OWN_VOICE_M = 1.0  # one's own voice: at full level, centred
TASER_CYCLE_S = 5.0  # facts.md §1: a cycle without a logged end lasts 5 s
TAIL_S = 0.5  # the track runs this long past the last record, so a last sound is not cut
SOUND_KINDS = frozenset(
    {"subject_spoke", "officer_action", "taser_cycle_started", "string_started", "shot"}
)


class Sink(Protocol):
    def play(self, track: Stereo) -> None: ...


def distort(mono: Mono, rng: np.random.Generator) -> Mono:
    """Voices as a person in a mental-health crisis may hear them: the words ring-modulated
    (a metallic, unsteady timbre), echoed at 120 and 260 ms, over a whispering noise shaped by
    the speech's own envelope. Same length as the input plus the echoes' tail."""
    n = len(mono)
    t = np.arange(n) / OUT_RATE_HZ
    wobble = 0.5 + 0.5 * np.sin(2 * pi * 37.0 * t)  # 37 Hz: a rough, inhuman modulation
    dry = mono * (0.4 + 0.6 * wobble)
    delays = (int(0.12 * OUT_RATE_HZ), int(0.26 * OUT_RATE_HZ))
    out = np.zeros(n + delays[-1], dtype=np.float64)
    out[:n] += dry
    for delay, gain in zip(delays, (0.6, 0.4), strict=True):
        out[delay : delay + n] += gain * dry
    envelope = np.convolve(np.abs(mono), np.ones(441) / 441, mode="same")  # 20 ms
    whisper = rng.normal(0.0, 1.0, n) * envelope * 0.8
    out[:n] += whisper
    return np.clip(out, -1, 1).astype(np.float32)


def muffle(mono: Mono) -> Mono:
    """Voices through a door or a wall: a 400 Hz low-pass (two one-pole stages) at half level."""
    from scipy.signal import lfilter

    a = float(np.exp(-2 * pi * 400.0 / OUT_RATE_HZ))
    once = lfilter([1 - a], [1, -a], mono)
    return np.asarray(0.5 * lfilter([1 - a], [1, -a], once), dtype=np.float32)


def speak_espeak(text: str, voice: Voice) -> Mono:
    return synthesize(text, voice)


@dataclass(slots=True)
class _Scene:
    """What the log has said so far: who listens, where everyone stands."""

    listener: str = OFFICER
    officer_m: tuple[float, float] = (0.0, 0.0)
    subjects_m: dict[str, tuple[float, float]] = field(default_factory=dict)
    exposures: dict[tuple[str, int], float] = field(default_factory=dict)

    def head(self) -> tuple[tuple[float, float], float]:
        """The listener's head: the officer facing downrange, or the perspective subject
        turned toward the officer (as the engine turns a subject who holds)."""
        if self.listener == OFFICER:
            return self.officer_m, 0.0
        at = self.subjects_m.get(self.listener, (0.0, 0.0))
        return at, facing(at, self.officer_m)

    def from_officer(self) -> tuple[float, float]:
        """(azimuth_deg, distance_m) of the officer from the listener's head."""
        if self.listener == OFFICER:
            return 0.0, OWN_VOICE_M
        at, yaw = self.head()
        return heard_from(at, yaw, self.officer_m)

    def from_subject(self, subject: str) -> tuple[float, float]:
        at, yaw = self.head()
        return heard_from(at, yaw, self.subjects_m.get(subject, at))


class Soundtrack:
    """Sounds from log records, in order. `feed` takes one record and returns the sounds it
    makes as (start time s, stereo); `hears` is how the listener hears others' voices (an
    empathy scene's `hears`). `speak` turns text into mono speech (espeak-ng; None: lines are
    left silent, as on a machine without espeak-ng)."""

    def __init__(self, seed: int, hears: Hears = "clear", speak: Speak | None = speak_espeak):
        self.rng = np.random.default_rng([seed, 17])  # 17: the issue; a stream of its own
        self.hears = hears
        self.speak = speak
        self.scene = _Scene()
        self._said: dict[tuple[str, Voice], Mono] = {}

    def prepare(self, records: Iterable[LogRecord]) -> None:
        """Read ahead for what is logged after the sound starts: each TASER cycle's length."""
        for rec in records:
            if rec.kind == "taser_exposure":
                key = (str(rec.data["subject"]), int(rec.data["cycle"]))
                self.scene.exposures[key] = float(rec.data["duration_s"])

    def feed(self, rec: LogRecord) -> list[tuple[float, Stereo]]:
        scene, data = self.scene, rec.data
        if rec.kind == "run_started":
            scene.listener = str(data.get("perspective") or OFFICER)
            scene.subjects_m = {k: _xy(v["start_m"]) for k, v in data["subjects"].items()}
        elif rec.kind == "positions":
            scene.officer_m = _xy(data["officer"])
            scene.subjects_m.update({k: _xy(v) for k, v in data["subjects"].items()})
        elif rec.kind == "subject_spoke":
            own = data["subject"] == scene.listener
            line = self._line(str(data["text"]), voice_for_subject(int(data["voice"])), own)
            if line is not None:
                distance = max(float(data["distance_m"]), 0.1)
                return [(rec.t, place(line, float(data["azimuth_deg"]), distance))]
        elif rec.kind == "officer_action":
            return self._officer(rec)
        elif rec.kind == "taser_cycle_started":
            key = (str(data["subject"]), int(data["cycle"]))
            length = scene.exposures.get(key, TASER_CYCLE_S)
            if length > 0:
                azimuth, distance = scene.from_subject(str(data["subject"]))
                arc = taser_arc(self.rng, length)
                return [(rec.t, place(arc, azimuth, max(distance, 0.1)))]
        elif rec.kind == "string_started":  # a course's start signal: the shot timer
            return [(rec.t, place(beep(), 0.0, OWN_VOICE_M))]
        elif rec.kind == "shot":
            return [(rec.t, place(gunshot(self.rng), 0.0, OWN_VOICE_M))]
        return []

    def _officer(self, rec: LogRecord) -> list[tuple[float, Stereo]]:
        action, said = rec.data["action"], rec.data.get("say")
        azimuth, distance = self.scene.from_officer()
        distance = max(distance, 0.1)
        if action == "firearm_fired":
            return [(rec.t, place(gunshot(self.rng), azimuth, distance))]
        if action == "taser_fired":  # the cartridge's primer: a sharp, quieter pop
            return [(rec.t, place(0.4 * gunshot(self.rng, 0.15), azimuth, distance))]
        if action == "verbal_command" and said:
            line = self._line(str(said), OFFICER_VOICE, own=self.scene.listener == OFFICER)
            if line is not None:
                return [(rec.t, place(line, azimuth, distance))]
        return []

    def _line(self, text: str, voice: Voice, own: bool) -> Mono | None:
        if self.speak is None:
            return None
        if (text, voice) not in self._said:
            self._said[(text, voice)] = self.speak(text, voice)
        line = self._said[(text, voice)]
        if own or self.hears == "clear":
            return line
        return distort(line, self.rng) if self.hears == "distorted" else muffle(line)


def build(
    records: list[LogRecord],
    seed: int,
    hears: Hears = "clear",
    speak: Speak | None = speak_espeak,
    officer_voice: Mono | None = None,
) -> Stereo:
    """The whole run's soundtrack: (n, 2) float32 at OUT_RATE_HZ, from time 0 to the last
    record plus TAIL_S (or the last sound's end).

    `officer_voice`: a `--voice` run's recording at OUT_RATE_HZ, whose time is run time (the
    recogniser heard it on the run's clock): laid from 0 s, centred at full level as one's own
    voice is, and cut at the run's end, so the track holds the officer's words and the subject's
    answers in the order they came (nu21 #5)."""
    track = Soundtrack(seed, hears, speak)
    track.prepare(records)
    sounds = [s for rec in records for s in track.feed(rec)]
    end = (records[-1].t if records else 0.0) + TAIL_S
    if officer_voice is not None and len(officer_voice):
        words = officer_voice[: int(end * OUT_RATE_HZ)]
        sounds.insert(0, (0.0, place(words, 0.0, OWN_VOICE_M)))
    return mix(sounds, end)


def recording_for_track(pcm: npt.NDArray[np.int16], rate_hz: int) -> Mono:
    """A recording (int16 at `rate_hz`, as range.voice.audio.read_wav gives it) as a track's
    mono float samples at OUT_RATE_HZ."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    mono = pcm.astype(np.float32) / 32768.0
    ratio = Fraction(OUT_RATE_HZ, rate_hz)
    if ratio == 1:
        return mono
    out = resample_poly(mono, ratio.numerator, ratio.denominator)
    return np.asarray(np.clip(out, -1.0, 1.0), dtype=np.float32)


def _xy(value: Any) -> tuple[float, float]:
    return float(value[0]), float(value[1])


class LivePlayer:
    """Plays a live run's sounds through `sink` as their records are written: `__call__` is a
    MemoryLog sink (`log.attach(player)`); sounds are rendered and played on one worker thread,
    in order, so the frame loop never waits for a speaker. `close` waits for what is queued
    (at most `drain_s`) and stops the thread. The first sink failure (no device) is kept in
    `error` and the rest is dropped: the run goes on without audio."""

    def __init__(
        self, sink: Sink, seed: int, hears: Hears = "clear", speak: Speak | None = speak_espeak
    ) -> None:
        self.sink = sink
        self.track = Soundtrack(seed, hears, speak)
        self.error: Exception | None = None
        self.played = 0
        self._seen = 0
        self._queue: queue.Queue[LogRecord | np.ndarray | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="live-sound", daemon=True)
        self._thread.start()

    def __call__(self, rec: LogRecord) -> None:
        if rec.kind in SOUND_KINDS or rec.kind in ("run_started", "positions"):
            self._queue.put(rec)

    def play(self, sound: Stereo) -> None:
        """Play a sound that no record carries (a live range timer's beep), in turn."""
        self._queue.put(sound)

    def catch_up(self, records: list[LogRecord]) -> None:
        """Take the records written since the last call (a frame callback's way in)."""
        for rec in records[self._seen :]:
            self(rec)
        self._seen = len(records)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                sounds = (
                    [item]
                    if isinstance(item, np.ndarray)
                    else [s for _, s in self.track.feed(item)]
                )
                for sound in sounds:
                    if self.error is None:
                        self.sink.play(sound)
                        self.played += 1
            except Exception as exc:  # a sink's own errors: audio goes off, the run goes on
                self.error = exc

    def close(self, drain_s: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout=drain_s)
