"""The benchmarks' own drill text is a data file like any other: it must pass today's drill
validation, or bench/run.py stops at its first figure (it did, after drills had to be able to
end, and nothing ran it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from drills.schema import parse_drill

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _bench_module(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))  # bench/run.py imports its sibling bench/console.py
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_the_benchmarks_drill_passes_validation() -> None:
    run = _bench_module("run")
    drill = parse_drill(run.THREE_SUBJECTS, "bench/run.py THREE_SUBJECTS")
    assert len(drill.subjects) == 3


def test_paired_timings_alternate_one_batch_of_each_through_median_cpu_us(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rv21a #10: `_paired_cpu_us` takes each batch by `_median_cpu_us` (one batch), new then
    old in turn, and keeps each side's least median; it had its own copy of the timing loop."""
    run = _bench_module("run")
    asked: list[tuple[str, int, int]] = []
    times = iter([5.0, 9.0, 3.0, 8.0, 4.0, 7.5])

    def timed(fn: object, repeat: int, batches: int = 5) -> float:
        asked.append(("new" if fn is new else "old", repeat, batches))
        return next(times)

    def new() -> None: ...
    def old() -> None: ...

    monkeypatch.setattr(run, "_median_cpu_us", timed)
    assert run._paired_cpu_us(new, old, 7, batches=3) == (3.0, 7.5)
    assert asked == [("new", 7, 1), ("old", 7, 1)] * 3
