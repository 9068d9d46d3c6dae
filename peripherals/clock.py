"""The injected clock: host monotonic seconds. `range` builds the real one; tests and lock-step
simulation use `ManualClock`. Nothing below `range` reads the wall clock."""

from __future__ import annotations

import threading
from typing import Protocol


class Clock(Protocol):
    def now_s(self) -> float:
        """Seconds on a monotonic host timeline; only differences mean anything."""
        ...


class ManualClock:
    """A clock that moves only when told: a simulated run's time is steps x dt."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now = start_s
        self._lock = threading.Lock()

    def now_s(self) -> float:
        with self._lock:
            return self._now

    def set(self, now_s: float) -> None:
        with self._lock:
            if now_s < self._now:
                raise ValueError(f"a monotonic clock cannot go back from {self._now} to {now_s}")
            self._now = now_s

    def advance(self, dt_s: float) -> float:
        with self._lock:
            if dt_s < 0:
                raise ValueError("a monotonic clock cannot go back")
            self._now += dt_s
            return self._now
