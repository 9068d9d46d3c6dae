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

    def __call__(self, done: float, total: float, note: str) -> None:
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

    def close(self) -> None:
        if self._last:
            self.stream.write("\n")
            self.stream.flush()
