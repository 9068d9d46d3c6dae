"""New-user pass nu12h (issue #12, last leftovers): one JSON shape for a judged attempt (a
scripted shooter's reads SIMULATED everywhere); a roster as of a past date; an attempt sheet
that adds up from the records alone. Each a reproduction that failed before its fix (in
process)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from range.cli.main import main
from range.records.store import Records


def _out(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> str:
    capsys.readouterr()
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out


@pytest.fixture(scope="module")
def attempt(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict[str, Any]]:
    """A store with officer 4411 and one scripted (simulated) attempt at the Kansas course
    recorded for them: the store's URL, the attempt's folder and `course run --json`."""
    tmp = tmp_path_factory.mktemp("nu12h")
    db = f"sqlite:///{tmp / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    argv = ["course", "run", "kansas-style-70-v1", "--badge", "4411", "--seed", "1", "--json"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--db", db, "--runs-dir", str(tmp / "runs")]) == 0
    shown: dict[str, Any] = json.loads(out.getvalue())
    (run_dir,) = (tmp / "runs").iterdir()
    return db, run_dir, shown


# -- 1: one JSON shape for a judged attempt ------------------------------------------------------


def test_a_scripted_attempt_has_one_json_shape_everywhere(
    attempt: tuple[str, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """course run --json, result.json, the record and score --json: one shape, SIMULATED."""
    db, run_dir, shown = attempt
    written = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    rescored = json.loads(_out(capsys, ["score", str(run_dir), "--json"]))
    with Records.open(db, create=False) as records:
        stored = json.loads(records.qualification(int(shown["qualification"]))["detail"])["score"]
    assert shown["score"] == written["score"] == rescored == stored
    assert rescored["outcome"] in (
        "SIMULATED (would be QUALIFIED)",
        "SIMULATED (would be NOT QUALIFIED)",
    )
    assert (rescored["passed"], rescored["simulated"]) == (None, True)
    assert isinstance(rescored["would_pass"], bool)
    assert written["simulated"] is shown["simulated"] is True


def test_score_text_of_a_scripted_attempt_says_simulated_not_pass(
    attempt: tuple[str, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, run_dir, _ = attempt
    text = _out(capsys, ["score", str(run_dir)])
    verdict = text.splitlines()[-1]
    assert verdict.startswith("SIMULATED (would be ") and "not a qualification" in verdict
    assert "PASS" not in text and not verdict.startswith(("QUALIFIED", "NOT QUALIFIED"))


def test_an_officers_attempt_keeps_pass_or_fail_in_the_same_shape() -> None:
    from drills.course import find_course
    from scoring.course import judged_attempt, score_attempt

    score = score_attempt(find_course("kansas-style-70-v1"))
    simulated, real = judged_attempt(score, True), judged_attempt(score, False)
    assert simulated.keys() == real.keys()
    assert (real["outcome"], real["passed"], real["would_pass"], real["simulated"]) == (
        "FAIL",
        False,
        False,
        False,
    )

