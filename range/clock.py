"""The real clock. Built here and injected below; no other layer reads the time."""

from __future__ import annotations

import time


class MonotonicClock:
    """Host monotonic seconds (`time.monotonic_ns`), immune to wall-clock steps."""

    def __init__(self) -> None:
        self._origin_ns = time.monotonic_ns()

    def now_s(self) -> float:
        return (time.monotonic_ns() - self._origin_ns) * 1e-9
