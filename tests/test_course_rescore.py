"""A qualification attempt is judged from its event log alone: `openrange score RUN_DIR` gives
the recorded score back, and a hand-edited round or cartridge changes it (scoring/course.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drills.course import find_course, find_shooter
from range.cli.main import main
from range.runs.course import CourseConfig, run_course
from range.runs.runlog import read_events
from scoring.course import judged_attempt, rescore_attempt


def _attempt(tmp_path: Path, course: str, shooter: str, **extra: Any) -> Path:
    config = CourseConfig(find_course(course), find_shooter(shooter), 5, runs_dir=tmp_path, **extra)
    result = run_course(config)
    assert result.run_dir is not None
    return result.run_dir


def _zone_points(course: Any) -> list[int]:
    from physics.targets import TARGETS

    return [zone.points for zone in TARGETS[course.target].zones]


def _score_json(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["score", str(run_dir), "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert out["simulated"] is True  # every attempt here is fired by a scripted shooter
    return out


def _edit(run_dir: Path, kind: str, change: Any) -> None:
    """Change the first record of `kind` in the saved log, as a hand-edit would."""
    path = run_dir / "events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        record = json.loads(line)
        if record["kind"] == kind and change(record):
            lines[n] = json.dumps(record)
            break
    else:
        raise AssertionError(f"no {kind} record to edit")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_rescoring_a_pistol_attempt_gives_the_recorded_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _attempt(tmp_path, "fbi-pistol-2019-v1", "struggling")
    recorded = json.loads((run_dir / "result.json").read_text())["score"]
    assert 0 < recorded["points"] < recorded["max_points"] and recorded["late"] > 0
    rescored = _score_json(run_dir, capsys)
    assert rescored == recorded
    assert rescored["outcome"].startswith("SIMULATED (would be ")  # never PASS or FAIL

    # A hand-edited round, fired in time off the best zone: its hole moved to the centre.
    course = find_course("fbi-pistol-2019-v1")
    best = max(recorded_points for recorded_points in _zone_points(course))

    def to_centre(record: dict[str, Any]) -> bool:
        par = course.stages[record["stage"]].strings[record["string"]].par_time_s
        if record["points"] == best or record["t_s"] > par:
            return False
        record["hole_in"] = [0.0, 0.0]
        return True

    _edit(run_dir, "shot", to_centre)
    edited = _score_json(run_dir, capsys)
    assert edited["points"] > recorded["points"]


def test_rescoring_a_taser_attempt_judges_its_cartridges_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _attempt(tmp_path, "taser7-practical-v1", "expert")
    recorded = json.loads((run_dir / "result.json").read_text())["score"]
    assert recorded["hits"] > 0
    assert _score_json(run_dir, capsys) == recorded

    # The laser was on the subject; edited, it was on the backstop: not effective any more.
    def laser_off(record: dict[str, Any]) -> bool:
        if not record["effective"]:
            return False
        record["laser_on"] = "backstop"
        return True

    _edit(run_dir, "deployment", laser_off)
    edited = _score_json(run_dir, capsys)
    assert edited["hits"] == recorded["hits"] - 1


def test_a_reshot_string_is_rescored_from_its_reshoot(tmp_path: Path) -> None:
    run_dir = _attempt(tmp_path, "kansas-style-70-v1", "expert", unplug_during=(1, 0))
    recorded = json.loads((run_dir / "result.json").read_text())
    assert recorded["reshot"] == [[1, 0]]
    course = find_course("kansas-style-70-v1")
    rescored = rescore_attempt(course, read_events(run_dir))
    assert judged_attempt(rescored, simulated=True) == recorded["score"]


def test_score_prints_an_attempt_stage_by_stage_with_its_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _attempt(tmp_path, "kansas-style-70-v1", "expert")
    capsys.readouterr()
    assert main(["score", str(run_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Kansas-style") and str(run_dir) in out[0]
    assert (
        out[-1].startswith("SIMULATED (would be QUALIFIED), not a qualification: ")
        and len(out) == 2 + 4
    )  # title, 4 stages, verdict
