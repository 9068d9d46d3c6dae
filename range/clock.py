"""The real clock. Built here and injected below; no other layer reads the time."""

from __future__ import annotations

import time


class MonotonicClock:
    """Host monotonic seconds (`time.monotonic_ns`), immune to wall-clock steps."""

    def __init__(self, origin_ns: int | None = None) -> None:
        self._origin_ns = time.monotonic_ns() if origin_ns is None else origin_ns

    def now_s(self) -> float:
        return (time.monotonic_ns() - self._origin_ns) * 1e-9

    def monotonic_ns(self, host_s: float) -> int:
        """The system's CLOCK_MONOTONIC reading at host time `host_s` (what OpenXR converts)."""
        return self._origin_ns + round(host_s * 1e9)
