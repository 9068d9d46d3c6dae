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


# -- 2: a roster as of a past date is the standing as it was on that day --------------------------


def _pass_on(records: Records, day: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """An officer's passing attempt at the FBI course, recorded as finished on `day` (the
    records' clock set back, so the chain holds: nothing edited afterwards)."""
    import range.records.store as store

    monkeypatch.setattr(store, "_now", lambda: f"{day}T10:00:00+00:00")
    attempt = records.begin_attempt(
        "4411", "fbi-pistol-2019-v1", 7, "0.1.0", [{"model": "pistol", "serial": "P-1"}], []
    )
    score = {"points": 96, "max_points": 100, "hits": 48, "passed": True}
    finished = records.finish_attempt(attempt, score)
    monkeypatch.undo()
    return finished


@pytest.fixture(scope="module")
def passed_twice(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Officer 4411 passed the FBI course on 2025-06-01 and again on 2026-05-20."""
    db = f"sqlite:///{tmp_path_factory.mktemp('asof') / 'records.sqlite'}"
    with pytest.MonkeyPatch.context() as monkeypatch, Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
        _pass_on(records, "2025-06-01", monkeypatch)
        _pass_on(records, "2026-05-20", monkeypatch)
        assert records.verify() == []
    return db


def test_a_roster_as_of_a_past_day_ignores_later_passes(passed_twice: str) -> None:
    from datetime import date

    from range.records.exports import roster

    with Records.open(passed_twice, create=False) as records:
        (before,) = roster(records, date(2025, 5, 31), 365)
        (between,) = roster(records, date(2026, 2, 28), 365)
        (after,) = roster(records, date(2026, 5, 20), 365)
    assert before.status == "no attempts"
    # As of 2026-02-28 the last pass was 2025-06-01; it expires 2026-06-01, 93 days on.
    assert (between.status, between.last_pass, between.expires, between.attempts) == (
        "qualified",
        "2025-06-01",
        "2026-06-01",
        1,
    )
    assert (after.last_pass, after.attempts) == ("2026-05-20", 2)  # the day itself counts


def test_the_roster_export_and_console_roster_are_as_of_their_day(
    passed_twice: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import date

    from range.console.pages import roster_page

    argv = ["records", "export", "--db", passed_twice, "--format", "html", "--to", "2026-02-28"]
    html = _out(capsys, argv)
    assert "2025-06-01" in html and "2026-05-20" not in html
    # Expiry counted against the day: 2025-06-01 + 365 d is within 30 days of 2026-05-15.
    argv[-1] = "2026-05-15"
    assert "expires in 17 days" in _out(capsys, argv)
    pdf = tmp_path / "roster.pdf"
    argv = ["records", "export", "--db", passed_twice, "--format", "pdf", "--to", "2026-02-28"]
    assert _out(capsys, [*argv, "--out", str(pdf)]) == "" and pdf.stat().st_size > 0
    with Records.open(passed_twice, create=False) as records:
        (line,) = roster_page(records, date(2026, 2, 28))
    assert line["line"].last_pass == "2025-06-01"
    assert [(c.status, c.last_pass) for c in line["courses"]] == [("qualified", "2025-06-01")]


# -- 3: a file course's attempt sheet adds up from the records alone ------------------------------

LATE_COURSE = """\
id = "late-edge-v1"
version = 1
title = "Late edge"
source = "a one-string test course: its last round is late and counts as a miss"
target = "b27"
late_shots = "miss"
pass_mark = { points = 1 }

[[stages]]
name = "3 yd"
strings = [
  { distance_yd = 3.0, start = "ready", rounds = 3, par_time_s = 3.0 },
]
"""

SLOW_SHOOTER = """\
version = 1
[[shooter]]
id = "slow-edge"
description = "Rounds at 2.0, 2.6 and 3.2 s: the last one after the par time."
reaction_s = 0.3
draw_s = { holster = 1.7, low_ready = 1.7, ready = 1.7 }
split_s = 0.6
reload_s = 2.4
aim_error_mrad = 1.0
"""


def test_a_file_course_sheet_adds_up_after_its_run_folder_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    (tmp_path / "late.toml").write_text(LATE_COURSE, encoding="utf-8")
    (tmp_path / "slow.toml").write_text(SLOW_SHOOTER, encoding="utf-8")
    runs = tmp_path / "runs"
    argv = ["course", "run", "late.toml", "--shooter", "slow.toml", "--badge", "4411"]
    _out(capsys, [*argv, "--db", db, "--runs-dir", str(runs)])
    shutil.rmtree(runs)  # the run folder (and the course copy kept in it) gone
    (tmp_path / "late.toml").unlink()
    shown = json.loads(_out(capsys, ["records", "show", "1", "--db", db, "--json"]))
    sheet = shown["sheet"]
    assert [line["note"] for line in sheet] == ["", "", "late: scored as a miss"]
    assert sheet[-1]["points"] == 0 and sheet[-1]["where"] != "miss"  # its zone scored points
    assert sum(line["points"] for line in sheet) == shown["points"] > 0
    text = _out(capsys, ["records", "show", "1", "--db", db])
    assert f"sheet total {shown['points']} = recorded {shown['points']} points" in text
    assert "verify" not in text  # the record is whole: nothing was edited
    # The record itself is whole; only its log is gone, and verify says so as it does of a
    # drill run's (the record keeps its log's sha256: task f12k, nu12i 1).
    capsys.readouterr()
    assert main(["records", "verify", "--db", db]) == 1
    err = capsys.readouterr().err
    assert "record 1: its log " in err and "cannot be read" in err and "its hash" not in err

    # A record from before points per hit were kept: the sheet says so, with no numbers.
    from range.records.exports import COUNTED, score_sheet

    with Records.open(db, create=False) as records:
        row = records.qualification(1)
    detail = json.loads(row["detail"])
    for rec in detail["shots"]:
        rec.pop(COUNTED, None)
    lines, total = score_sheet(row | {"detail": json.dumps(detail)})
    assert total is None and [line.points for line in lines] == [None, None, None]


# -- 4: a lane's scripted attempt reads SIMULATED on the console, as on the CLI -------------------


def test_a_lane_course_of_a_scripted_shooter_ends_simulated_not_passed() -> None:
    from drills.course import find_course
    from drills.log import LogRecord
    from range.console.courselane import course_event, course_state

    ended = LogRecord(
        9.0, "attempt_ended", {"points": 3, "hits": 3, "passed": True, "complete": True}
    )
    line = course_event(ended, "expert")
    assert line is not None
    assert line["text"] == (
        "3 points, SIMULATED (would be QUALIFIED): scripted shooter expert, not a qualification"
    )
    course = find_course("kansas-style-70-v1")
    score = course_state(course, [ended], {"shooter": "expert"})["score"]
    assert (score["outcome"], score["simulated"]) == ("SIMULATED (would be QUALIFIED)", True)
    # An officer's keeps its pass.
    officer = course_event(ended)
    assert officer is not None and officer["text"] == "3 points, passed"
    assert course_state(course, [ended], {"shooter": "officer"})["score"]["outcome"] == "PASS"
