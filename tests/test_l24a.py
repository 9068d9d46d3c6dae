"""l24a: records and console items earlier sessions left alone: `score` exits 11 for a run
not graded; a faulted run is said faulted wherever the records show it (rc21 #7c); ..."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from newuser_support import saved_knife_run

from range.cli.main import main
from range.records.store import Records

FAULT = "T7-0042 did not come back within 2 s"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return saved_knife_run(tmp_path_factory.mktemp("runs"))


def _faulted_result(run_dir: Path) -> dict[str, Any]:
    """The run's result.json as a live run that faulted keeps it (range/runs/drill.py)."""
    result = json.loads((run_dir / "result.json").read_text())
    result |= {"state": "faulted", "end_reason": FAULT}
    result["score"] |= {"outcome": "INCOMPLETE", "complete": False, "decision": "INCOMPLETE"}
    return dict(result)


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


def test_the_console_trend_says_a_faulted_run_faulted(run_dir: Path, tmp_path: Path) -> None:
    from range.console.pages import trend

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        number = records.add_drill_run("4411", _faulted_result(run_dir))
        rows, left_out = trend(records, "4411")
    assert rows == []
    (why,) = [entry["why"] for entry in left_out]
    assert why == f"run {number}: INCOMPLETE, no decision (faulted): {FAULT}", why
    assert "cut short" not in why
