"""A one-line progress bar on stderr, redrawn in place."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._last = ""
        self._total = 0.0

    def __call__(self, done: float, total: float, note: str) -> None:
        self._total = total
        fraction = 0.0 if total <= 0 else min(1.0, done / total)
        filled = round(fraction * self.width)
        line = (
            f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}]"
            f" {done:5.1f}/{total:.0f} s  {note:<12}"
        )
        if line != self._last:
            self.stream.write(line)
            self.stream.flush()
            self._last = line

    def finish(self, done: float, why: str) -> None:
        """The last line: the bar full and `done` with why, wherever the run stopped (nu23 #9:
        a drill that ended at 0.8 of its 12 s looked stalled at `0.8/12 s down`)."""
        if not self._last:
            return
        line = f"\r{self.label} [{'#' * self.width}] {done:5.1f}/{self._total:.0f} s  done: {why}"
        pad = max(0, len(self._last) - len(line))
        self.stream.write(line + " " * pad)
        self.stream.flush()
        self._last = line

    def close(self) -> None:
        if self._last:
            self.stream.write("\n")
            self.stream.flush()
