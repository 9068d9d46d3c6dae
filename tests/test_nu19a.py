"""nu19's defects in the records and the CLI (range/cli, range/records): a run never graded
shows no score anywhere (#5), an edited drill run's decision is not "cut short" (#9), an
event line repeated lines apart is refused (#11), and small inconsistencies (#12)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_rules import end, fire, phase, pos, rec, spoke, start
from test_speech_corrections import record_run, write_run

from range.cli.main import main
from range.records.store import Records
from range.runs.runlog import EventLogError, read_events
from scoring.policy import default_policy
from scoring.score import score_run

STOPPED = "stopped by the range master with Ctrl-C"


def _recorded(tmp_path: Path, state: str) -> tuple[str, Path, int]:
    """A records store with one drill run for badge 4411 whose log holds the officer's words
    and ended `state` (`aborted`: stopped with Ctrl-C; `incomplete`: its log has no end)."""
    records_ = [*start(), phase(0, "active_resistance"), spoke(1.0, "command.stop", "stop")]
    if state == "aborted":
        records_.append(rec(2.0, "run_ended", state="aborted", reason=STOPPED))
    run = write_run(tmp_path / "run", records_)
    db = f"sqlite:///{tmp_path / 'records.db'}"
    end_reason = STOPPED if state == "aborted" else "killed"
    return db, run, record_run(run, db, state=state, end_reason=end_reason)


@pytest.mark.parametrize("state", ["aborted", "incomplete"])
def test_a_run_never_graded_shows_no_score_once_its_speech_is_corrected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], state: str
) -> None:
    """nu19 #5: `speech correct` said "rescored: 100 -> 100" and `records show` "score 100 as
    recorded -> 100" and "findings as corrected (score 100)" for an ABORTED run."""
    db, run, number = _recorded(tmp_path, state)
    by = ["--by", "Sgt Lee", "--db", db]
    act = ["--at", "0.6", "--act", "command.drop_weapon"]
    assert main(["speech", "correct", str(run), *act, *by]) == 0
    said = capsys.readouterr().out
    assert f"drill run {number} in the records amended: still not graded" in said
    assert "rescored" not in said and not re.search(r"-> \d", said)
    undo = ["--at", "0.6", "--act", "command.stop", "--json"]
    assert main(["speech", "correct", str(run), *undo, *by]) == 0
    (amended,) = json.loads(capsys.readouterr().out)["rescored"]
    assert amended == {"drill_run": number, "score_before": None, "score": None}
    assert main(["records", "show", "--drill-run", str(number), "--db", db]) == 0
    shown = capsys.readouterr().out
    assert "(speech correct): still not graded" in shown
    assert "findings as corrected (not graded):" in shown
    assert "findings as recorded (not graded):" in shown
    assert not re.search(r"score \d|-> \d", shown)
    assert main(["records", "show", "--drill-run", str(number), "--db", db, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["score"] is None and row["recorded_score"] is None
    assert [c["score"] for c in row["corrected"]] == [None, None]
    assert row["corrected_score"]["score"] is None
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["drill_runs"]
    assert listed["score"] is None and [c["score"] for c in listed["corrected"]] == [None, None]


def test_an_edited_drill_run_and_officer_are_said_damaged_never_cut_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu19 #9: a completed run whose score was edited in SQLite was listed "DAMAGED ... no
    decision (cut short)", and an officer's edited name was shown with no mark."""
    import sqlite3

    run = write_run(
        tmp_path / "run",
        [
            *start(),
            phase(0, "active_resistance"),
            rec(3.0, "run_ended", state="completed", reason="s reached the end"),
        ],
    )
    path = tmp_path / "records.db"
    db = f"sqlite:///{path}"
    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        score = score_run(read_events(run), default_policy())
        result = {"drill": "knife-approach-v1", "seed": 7, "openrange_version": "0"}
        number = records.add_drill_run(
            "4411", result | {"state": "completed", "score": score.as_json(), "run_dir": str(run)}
        )
    assert main(["records", "history", "4411", "--db", db]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "J. Rivera, badge 4411, Metro PD"
    with sqlite3.connect(path) as edit:
        edit.execute("UPDATE drill_runs SET score = 90 WHERE id = ?", (number,))
        edit.execute("UPDATE officers SET name = 'J. Rivero' WHERE badge = '4411'")
    assert main(["records", "history", "4411", "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "J. Rivero, badge 4411, Metro PD  DAMAGED (edited? run records verify)",
        "  WARNING: officer 4411 no longer matches its hash: it was edited: run records verify",
    ]
    (listed,) = [line for line in lines if line.startswith(f"  drill {number}")]
    assert listed.endswith("knife-approach-v1            DAMAGED (edited? run records verify)")
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["officer_problem"] == "officer 4411 no longer matches its hash: it was edited"
    assert main(["records", "show", "--drill-run", str(number), "--db", db]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[1].startswith("  DAMAGED (edited? run records verify): not graded; seed 7")
    assert "cut short" not in "\n".join(shown)


def test_an_event_line_repeated_lines_apart_is_refused_naming_both_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu19 #11: a copy of a shot's line two lines after it was scored as two shots;
    only a copy on the very next line was refused. A positions snapshot may still repeat."""
    log = [*start(), phase(0, "deadly_threat", "handgun", acting=True), fire(1.0)]
    log += [pos(1.1, (0, 0), s=(6, 0)), pos(1.2, (0, 0), s=(6, 0)), fire(1.0), end(2.0)]
    run = write_run(tmp_path / "run", log)
    with pytest.raises(EventLogError) as refused:
        read_events(run)
    assert str(refused.value) == (
        f"{run / 'events.jsonl'}:6: repeats line 3 exactly (an officer_action twice)"
    )
    assert main(["score", str(run)]) != 0
    assert "repeats line 3 exactly" in capsys.readouterr().err
    # The same log without the copy: read whole, its snapshots repeating as the engine writes.
    whole = write_run(tmp_path / "whole", [*log[:5], log[6]])
    assert [r.kind for r in read_events(whole)].count("positions") == 2


def test_no_course_log_repeats_an_event_line(tmp_path: Path) -> None:
    """nu19 #11: the refusal holds no legitimate log back: a TASER course with a string
    reshot after a device fault, saved and read back whole (every library drill's shipped
    scripts: tests/test_drill_library.py; every course and shooter at several seeds, and
    each course with a fault, were read so when the refusal was made)."""
    from drills.course import find_course, find_shooter
    from range.runs.course import CourseConfig, run_course

    course = find_course("taser7-practical-v1")
    config = CourseConfig(
        course, find_shooter("expert"), 2, runs_dir=tmp_path, unplug_during=(1, 0)
    )
    result = run_course(config)
    assert result.run_dir is not None and result.reshot == [(1, 0)]
    assert read_events(result.run_dir)[-1].kind == "attempt_ended"


def test_verify_json_help_and_course_summary_say_what_the_docs_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu19 #12: `records verify --json` carries the schema version docs/records.md promises;
    `openrange --help` says `course` runs courses; the course summary's columns line up
    under a stage name longer than the column was."""
    from drills.course import find_course
    from range.cli.summary import format_attempt
    from range.records.store import SCHEMA_VERSION
    from scoring.course import score_attempt

    db, _, _ = _recorded(tmp_path, "aborted")
    assert main(["records", "verify", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["schema_version"] == SCHEMA_VERSION == 8
    with pytest.raises(SystemExit):
        main(["--help"])
    (course,) = [line for line in capsys.readouterr().out.splitlines() if " course " in line]
    said = "course list, show, validate and run qualification courses of fire"
    assert " ".join(course.split()) == said
    stages = format_attempt(score_attempt(find_course("taser7-practical-v1"))).splitlines()[:-1]
    assert len(stages) == 3 and "both bays and a reload" in stages[2]
    assert len({line.index(" points") for line in stages}) == 1


def test_an_event_line_copied_re_spaced_is_refused_as_a_repeat(tmp_path: Path) -> None:
    """rc19 #8: the shot's line written back compact (other spacing, keys in another order)
    was counted as a second shot: only a byte-identical copy was refused."""
    log = [*start(), phase(0, "deadly_threat", "handgun", acting=True), fire(1.0)]
    log += [pos(1.1, (0, 0), s=(6, 0)), end(2.0)]
    run = write_run(tmp_path / "run", log)
    path = run / "events.jsonl"
    lines = path.read_text().splitlines()
    shot = json.loads(lines[2])
    copy = json.dumps(dict(reversed(shot.items())), separators=(",", ":"))
    assert copy != lines[2]
    path.write_text("\n".join([*lines[:4], copy, *lines[4:]]) + "\n")
    with pytest.raises(EventLogError) as refused:
        read_events(run)
    assert str(refused.value) == (
        f"{path}:5: repeats line 3 written differently (an officer_action twice)"
    )
