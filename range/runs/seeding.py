"""The seeded random-generator convention.

One integer seed per run, stored with the run. Each consumer gets its own named stream, so adding
a draw in one place (say, a new subject variation) does not shift the probe dispersion of an old
run's replay. Lower layers only ever receive a `numpy.random.Generator`.
"""

from __future__ import annotations

import zlib

import numpy as np

STREAMS = ("drill", "officer", "physics", "penetration", "detach")


class RunRandom:
    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError("a run seed is a non-negative integer")
        self.seed = seed

    def stream(self, name: str) -> np.random.Generator:
        """The generator for `name`: the same seed and name always give the same draws."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, zlib.crc32(name.encode())]))
