"""l24a: records and console items earlier sessions left alone: `score` exits 11 for a run
not graded; a faulted run is said faulted wherever the records show it (rc21 #7c); ..."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from newuser_support import saved_knife_run

from range.cli.main import main

FAULT = "T7-0042 did not come back within 2 s"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return saved_knife_run(tmp_path_factory.mktemp("runs"))


def _faulted_folder(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of the run whose log ends as a faulted run's does (run_ended state faulted)."""
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    (copy / "result.json").unlink()
    lines = (copy / "events.jsonl").read_text(encoding="utf-8").splitlines()
    ended = json.loads(lines[-1])
    assert ended["kind"] == "run_ended"
    ended |= {"state": "faulted", "reason": FAULT}
    lines[-1] = json.dumps(ended)
    (copy / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copy


def test_score_of_a_lone_faulted_run_exits_not_graded(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faulted = _faulted_folder(run_dir, tmp_path)
    assert main(["score", str(faulted)]) == 11  # README: 11, a drill run not graded
    out = capsys.readouterr().out
    assert f"INCOMPLETE  (the run faulted: {FAULT}; not graded" in out, out
    assert main(["score", str(faulted), "--json"]) == 11
    capsys.readouterr()
    # With a graded run beside it, the batch reports rates: 0.
    assert main(["score", str(run_dir), str(faulted)]) == 0

