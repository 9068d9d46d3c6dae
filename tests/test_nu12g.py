"""New-user pass nu12g (issue #12): `--to` includes the day it names; a scripted course run's
JSON says SIMULATED; an edited drill run is DAMAGED in `show`; an ungraded drill run has no
score; `score` on mixed folders. Each a reproduction that failed before its fix (in process)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from range.cli.main import main
from range.records.store import Records


def _out(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def drilled(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with officer 4411 and one scripted drill run recorded today."""
    tmp = tmp_path_factory.mktemp("drilled")
    db = f"sqlite:///{tmp / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "1"]
    assert main([*argv, "--runs-dir", str(tmp / "runs"), "--db", db]) == 0
    return db


# -- 1: --to includes the whole day it names ------------------------------------------------------


def test_export_to_today_includes_records_of_today(
    drilled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    with Records.open(drilled, create=False) as records:
        (run,) = records.all_drill_runs()
    today = str(run["recorded"])[:10]  # the day it was recorded, not the clock: no midnight race
    export = ["records", "export", "--format", "csv", "--drill-runs", "--db", drilled]
    rows = _csv(_out(capsys, [*export, "--from", today, "--to", today]))
    assert len(rows) == 1
    assert len(_csv(_out(capsys, [*export, "--to", today]))) == 1
    with Records.open(drilled, create=False) as records:
        assert len(records.all_drill_runs(today, today)) == 1
        assert records.qualifications(since=today, until=today) == []
    with pytest.raises(SystemExit):
        main(["records", "export", "--help"])
    assert "inclusive" in capsys.readouterr().out


# -- 2: a scripted course run's JSON says SIMULATED, and names the officer ------------------------


def test_course_run_json_of_a_scripted_shooter_is_simulated_and_names_the_officer(
    drilled: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    argv = ["course", "run", "fbi-pistol-2019-v1", "--badge", "4411", "--seed", "1", "--json"]
    shown = json.loads(_out(capsys, [*argv, "--db", drilled, "--runs-dir", str(tmp_path)]))
    assert shown["simulated"] is True
    assert shown["score"]["outcome"].startswith("SIMULATED (would be ")
    assert shown["score"]["passed"] is None
    assert (shown["officer_name"], shown["badge"]) == ("Ofc. Rivera", "4411")


# -- 3: `records show --drill-run` says DAMAGED for a drill run edited in the database ------------


def test_show_of_a_drill_run_edited_in_the_database_warns_as_for_a_qualification(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "1", "--db", db]
    _out(capsys, [*argv, "--runs-dir", str(tmp_path / "runs")])
    show = ["records", "show", "--drill-run", "1", "--db", db]
    assert "WARNING" not in _out(capsys, show)
    raw = sqlite3.connect(tmp_path / "records.sqlite")
    with raw:
        raw.execute("UPDATE drill_runs SET score = 55 WHERE id = 1")
    raw.close()
    text = _out(capsys, show)
    assert "  DAMAGED (edited? run records verify): " in text
    assert "  WARNING: drill run 1: its contents no longer match" in text
    shown = json.loads(_out(capsys, [*show, "--json"]))
    assert shown["outcome"] == "DAMAGED (edited? run records verify)"
    assert "no longer match" in shown["problem"]


# -- 4: a killed drill run closed ungraded has no score, and is dated at its start ---------------


class _Killed(BaseException):
    """Stands for kill -9 in process: nothing after it runs (no recording, no cleanup)."""


def test_a_killed_drill_run_closed_has_no_score_and_its_start_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from range.runs import drill as runs_drill

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")

    def killed(session: object) -> None:
        raise _Killed

    monkeypatch.setattr(runs_drill.Session, "_run_simulated", killed)
    argv = ["drill", "run", "active-shooter-v1", "--badge", "4411", "--seed", "1", "--db", db]
    with pytest.raises(_Killed):
        main([*argv, "--runs-dir", str(tmp_path / "runs")])
    monkeypatch.undo()
    with Records.open(db) as records:
        records.add_officer("4499", "Ofc. Other", "Metro PD")
        row = records.drill_run_in_progress(1)
    (run_dir,) = (tmp_path / "runs").iterdir()
    began = "2026-01-02T03:04:05+00:00"
    close = ["records", "close", "--drill-run", "1", "--by", "Sgt. Ortiz", "--reason", "killed"]
    raw = sqlite3.connect(tmp_path / "records.sqlite")
    # rc24 #2: a start or a badge edited into the in-progress row is refused, naming the field
    # and both values: the run folder's name says when it began, its log whose run it is.
    made = f"{run_dir.name[:4]}-{run_dir.name[4:6]}-{run_dir.name[6:8]}T{run_dir.name[9:11]}:"
    for column, value, said in (
        ("started", began, f"started is {began} in the row, {made}"),
        ("badge", "4499", "badge is 4499 in the row, 4411 in line 1 (run_started) of its log"),
    ):
        with raw:
            raw.execute(f"UPDATE drill_runs_in_progress SET {column} = ?", (value,))
        assert main([*close, "--db", db]) == 5
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert "in-progress drill run #1: drill_runs_in_progress " + said in err, err
        assert "edited; close or resume refused, nothing was changed" in err
        with raw:
            raw.execute(f"UPDATE drill_runs_in_progress SET {column} = ?", (row[column],))
    # A run whose folder says it began then (as one of that day would be named) is dated so.
    moved = run_dir.with_name("20260102-030405-active-shooter-v1")
    run_dir.rename(moved)
    with raw:
        raw.execute(
            "UPDATE drill_runs_in_progress SET started = ?, run_dir = ?", (began, str(moved))
        )
    raw.close()
    _out(capsys, [*close, "--db", db])
    export = ["records", "export", "--format", "csv", "--drill-runs", "--db", db]
    (row,) = _csv(_out(capsys, export))
    assert row["outcome"].startswith("INCOMPLETE")
    assert (row["score"], row["recorded"]) == ("", began)
    (run,) = json.loads(_out(capsys, ["records", "history", "4411", "--db", db, "--json"]))[
        "drill_runs"
    ]
    assert (run["score"], run["recorded"]) == (None, began)
    shown = json.loads(_out(capsys, ["records", "show", "--drill-run", "1", "--db", db, "--json"]))
    assert (shown["score"], shown["recorded"]) == (None, began)
    assert "not graded" in _out(capsys, ["records", "show", "--drill-run", "1", "--db", db])
    assert _csv(_out(capsys, [*export, "--from", "2026-01-02", "--to", "2026-01-02"])) != []


# -- 5: `score` on a folder mixing drill runs and attempts names the attempts ------------------


def test_score_of_mixed_folders_names_the_attempt_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from drills.course import find_course, find_shooter
    from range.runs.course import CourseConfig, run_course

    runs = tmp_path / "runs"
    _out(capsys, ["drill", "run", "phone-draw-v1", "--seed", "1", "--runs-dir", str(runs)])
    (drill_dir,) = runs.iterdir()
    course, shooter = find_course("fbi-pistol-2019-v1"), find_shooter("expert")
    attempt = run_course(CourseConfig(course, shooter, 1, runs_dir=runs)).run_dir
    assert attempt is not None
    assert main(["score", str(drill_dir), str(attempt)]) != 0
    err = capsys.readouterr().err
    assert "score drill runs and qualification attempts separately" in err
    assert f"qualification attempt {attempt} among 1 drill run" in err
    assert str(drill_dir) not in err


# -- 6: a lane file's problems are said all at once, not one stage per try ------------------------


def test_a_lane_file_s_schema_mirror_port_and_profile_problems_come_in_one_message(
    tmp_path: Path,
) -> None:
    from physics.datafiles import DataFileError
    from range.runs.lanefile import load_lane

    path = tmp_path / "lane.toml"
    path.write_text(
        'version = 1\nname = "Lane 3"\nports = ["/dev/no-such-replica"]\nhand = "foot"\n'
        'headless = true\nmirror = true\n[calibration]\nprofiles = "no-such-folder"\n'
    )
    with pytest.raises(DataFileError) as err:
        load_lane(path)
    message = str(err.value)
    assert f"{path}:4: hand" in message  # the schema's
    assert f"{path}:6: mirror: mirror draws what the headset shows" in message
    assert f"{path}:3: ports[0]: /dev/no-such-replica does not exist" in message
    assert f"{path}:8: calibration.profiles: " in message and "does not exist" in message
