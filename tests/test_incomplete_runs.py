"""A log that never reached its end is INCOMPLETE: its own outcome, never a pass or a fail."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drills.officer import find_officer
from drills.schema import find_drill
from range.cli.main import main
from range.runs.drill import RunConfig, run_drill
from range.runs.runlog import EVENTS, read_events
from scoring.policy import default_policy
from scoring.score import Outcome, score_run


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean, passing run of a drill, saved to disk."""
    root = tmp_path_factory.mktemp("runs")
    drill = find_drill("phone-draw-v1")
    assert drill.expected_officer is not None
    result = run_drill(RunConfig(drill, find_officer(drill.expected_officer), 1, runs_dir=root))
    assert result.run_dir is not None and result.score.passed
    return result.run_dir


def _cut(saved: Path, tmp_path: Path, keep: int) -> Path:
    """A copy of the saved run whose log keeps only its first `keep` lines (a crash)."""
    run = tmp_path / saved.name
    shutil.copytree(saved, run)
    (run / "result.json").unlink()
    lines = (run / EVENTS).read_text(encoding="utf-8").splitlines(keepends=True)
    (run / EVENTS).write_text("".join(lines[:keep]), encoding="utf-8")
    return run


def test_a_log_holding_only_run_started_rescores_incomplete_not_pass(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's example: it scored "no force used, 100/100 PASS"."""
    run = _cut(saved, tmp_path, 1)
    score = score_run(read_events(run), default_policy())
    assert score.outcome is Outcome.INCOMPLETE and not score.passed
    assert "no run_ended" in score.incomplete
    # Not graded: `score` exits as the run itself did (README's exit statuses: 11).
    assert main(["score", str(run)]) == 11
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "PASS" not in out and "FAIL" not in out
    assert "100/100" not in out
    assert main(["score", str(run), "--json"]) == 11
    scored = json.loads(capsys.readouterr().out)
    assert (scored["outcome"], scored["passed"]) == ("INCOMPLETE", False)


def test_a_run_cut_short_before_run_ended_is_incomplete_and_a_whole_one_passes(
    saved: Path, tmp_path: Path
) -> None:
    records = read_events(saved)
    assert records[-1].kind == "run_ended"
    whole = score_run(records, default_policy())
    assert whole.outcome is Outcome.PASS
    ended = next(i for i, r in enumerate(records) if r.kind == "run_ended")
    cut = score_run(records[:ended], default_policy())
    assert cut.outcome is Outcome.INCOMPLETE and not cut.passed
    # Every finding up to the cut is still there for review; the credits for how a run ended
    # (HOLD-01, DEESC-02) are not given to one that never ended.
    ending = ("HOLD-01", "DEESC-02")
    assert [f.rule for f in cut.findings] == [
        f.rule for f in whole.findings if f.rule not in ending
    ]


def test_an_incomplete_run_is_listed_as_such_and_left_out_of_detection_rates(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _cut(saved, tmp_path, 1)
    assert main(["score", str(saved), str(run)]) == 0
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out.splitlines()[1] and str(run) in out.splitlines()[1]
    assert main(["score", str(saved), str(run), "--json"]) == 0
    officers = json.loads(capsys.readouterr().out)["officers"]
    assert sum(o["shoot_runs"] + o["no_shoot_runs"] for o in officers) == 1
    # A batch with a graded run reports its rates: 0. A batch none of whose runs was graded
    # has nothing to grade or rate: 11, as each run exited.
    other = _cut(saved, tmp_path / "other", 2)
    assert main(["score", str(run), str(other)]) == 11
    assert main(["score", str(run), str(other), "--json"]) == 11


def test_the_after_action_report_of_a_cut_run_says_incomplete(saved: Path, tmp_path: Path) -> None:
    from range.review.report import write_report

    ended = [r.kind for r in read_events(saved)].index("run_ended")
    page = write_report(_cut(saved, tmp_path, ended)).read_text(encoding="utf-8")
    assert "INCOMPLETE" in page and "PASS" not in page and "FAIL" not in page


def test_a_qualification_log_without_attempt_ended_reports_incomplete(tmp_path: Path) -> None:
    from drills.course import find_course, find_shooter
    from range.review.report import write_report
    from range.runs.course import CourseConfig, run_course

    course = find_course("texas-ltc-b27-v1")
    result = run_course(CourseConfig(course, find_shooter("qualified"), 1, runs_dir=tmp_path))
    assert result.run_dir is not None and result.score.passed
    whole = write_report(result.run_dir, tmp_path / "whole.html").read_text(encoding="utf-8")
    assert "QUALIFIED" in whole and "INCOMPLETE" not in whole
    run = _cut(result.run_dir, tmp_path / "cut", -1)
    page = write_report(run).read_text(encoding="utf-8")
    assert "INCOMPLETE" in page and "QUALIFIED" not in page
