"""The benchmarks' own drill text is a data file like any other: it must pass today's drill
validation, or bench/run.py stops at its first figure (it did, after drills had to be able to
end, and nothing ran it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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
