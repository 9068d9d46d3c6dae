"""The officer's voice in a drill run: audio on the run's clock through the one Listener pipeline
(range/voice/recognize.py), each act heard handed to the engine as `officer_spoke`.

Two sources, one pipeline:
- a recording (`drill run ID --voice OFFICER.wav`): the officer's audio track, t = 0 at the run's
  start, fed block by block as run time passes (`TrackVoice`), so a simulated run stays
  deterministic;
- a live stream (`--live`: the microphone; a test's recording played at its own pace,
  `paced_blocks`), heard on a worker thread so decoding never holds up a frame (`LiveVoice`).

Either keeps every sample it was given, so the run folder holds what the officer said and a
reviewer can listen (docs/drills.md, "The officer's voice").
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from range.voice.audio import BLOCK_S, SAMPLE_RATE_HZ, Pcm, file_blocks
from range.voice.recognize import Heard, Listener

VOICE_FILE = "officer-voice.wav"  # the officer's audio, kept in the run folder
SILENCE_DBFS = -120.0  # the loudness of digital silence (log of zero)


def loudness_dbfs(pcm: Pcm) -> float:
    """RMS level of int16 samples in dBFS (0 = a full-scale square wave); SILENCE_DBFS for none."""
    if len(pcm) == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
    return max(SILENCE_DBFS, 20.0 * math.log10(rms / 32768.0)) if rms > 0 else SILENCE_DBFS


@dataclass(frozen=True, slots=True)
class Spoken:
    """One act heard: what the Listener heard (times from the stream's start, s) and how loud
    the words were (the RMS of the samples from its start to its end, dBFS)."""

    heard: Heard
    loudness_dbfs: float


class _Kept:
    """The stream's samples so far, for loudness and for the run folder."""

    def __init__(self) -> None:
        self.blocks: list[Pcm] = []
        self.samples = 0

    def add(self, block: Pcm) -> None:
        self.blocks.append(block)
        self.samples += len(block)

    def pcm(self) -> Pcm:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, dtype=np.int16)

    def spoken(self, heard: Heard) -> Spoken:
        lo = int(heard.start_s * SAMPLE_RATE_HZ)
        hi = max(lo + 1, math.ceil(heard.end_s * SAMPLE_RATE_HZ))
        return Spoken(heard, loudness_dbfs(self.pcm()[lo:hi]))


class TrackVoice:
    """A recording on the run's clock: `until(t_s)` feeds every block that has ended by stream
    time `t_s` and returns the acts decided meanwhile. Deterministic: it depends on run time
    only."""

    def __init__(self, pcm: Pcm, listener: Listener) -> None:
        self._blocks = list(file_blocks(pcm))
        self._next = 0
        self._listener = listener
        self._kept = _Kept()
        self._fed_s = 0.0

    def until(self, t_s: float) -> list[Spoken]:
        out: list[Spoken] = []
        while self._next < len(self._blocks):
            block = self._blocks[self._next]
            end_s = self._fed_s + len(block) / SAMPLE_RATE_HZ
            if end_s > t_s + 1e-9:
                break
            self._next += 1
            self._fed_s = end_s
            self._kept.add(block)
            out += [self._kept.spoken(h) for h in self._listener.feed(block)]
        if self._next == len(self._blocks) and self._blocks:
            # The recording is over: speech still open is decided now.
            self._blocks = []
            out += [self._kept.spoken(h) for h in self._listener.close()]
        return out

    def finish(self, t_s: float) -> list[Spoken]:
        """The run ends at stream time `t_s`: the blocks until then, and speech still open
        decided now (its words were said before the end; nu17c #4). Hears nothing after."""
        out = self.until(t_s)
        if self._blocks:
            self._blocks = []
            out += [self._kept.spoken(h) for h in self._listener.close()]
        return out

    def pcm(self) -> Pcm:
        return self._kept.pcm()


class LiveVoice:
    """A live stream heard on a worker thread: `start()` as the run's clock starts, `heard()`
    each frame for the acts decided since, `close()` at the end (joins the thread).

    `blocks` is the microphone (`range.voice.audio.microphone_blocks`) or a recording played at
    its own pace (`paced_blocks`); stream time 0 is when `start()` was called. An error in the
    stream (the device unplugged) ends hearing and is kept in `error`; the run goes on."""

    def __init__(self, blocks: Iterable[Pcm], listener: Listener) -> None:
        self._blocks = blocks
        self._listener = listener
        self._kept = _Kept()
        self._out: queue.Queue[Spoken] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="officer-voice", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            for block in self._blocks:
                if self._stop.is_set():
                    break
                self._kept.add(block)
                for heard in self._listener.feed(block):
                    self._out.put(self._kept.spoken(heard))
            if not self._stop.is_set():
                for heard in self._listener.close():
                    self._out.put(self._kept.spoken(heard))
        except Exception as exc:  # PortAudio's own errors: hearing ends, the run goes on
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            close = getattr(self._blocks, "close", None)
            if callable(close):
                close()  # a generator's `with InputStream` is left here, on its own thread

    def heard(self) -> list[Spoken]:
        out: list[Spoken] = []
        while True:
            try:
                out.append(self._out.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def finish(self) -> list[Spoken]:
        """The run ends: hearing stops, speech still open is decided now (its words were said
        before the end; nu17c #4), and every act not yet taken is returned."""
        running = self._thread is not None
        self.close()
        if running and self.error is None:
            for heard in self._listener.close():
                self._out.put(self._kept.spoken(heard))
        return self.heard()

    def pcm(self) -> Pcm:
        return self._kept.pcm()


def paced_blocks(
    pcm: Pcm,
    block_s: float = BLOCK_S,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.monotonic,
) -> Iterator[Pcm]:
    """A recording delivered as a microphone delivers it: each block once its last sample would
    have been spoken, on the real clock (the live path's test source)."""
    started = now()
    done_s = 0.0
    for block in file_blocks(pcm, block_s):
        done_s += len(block) / SAMPLE_RATE_HZ
        wait = started + done_s - now()
        if wait > 0:
            sleep(wait)
        yield block
