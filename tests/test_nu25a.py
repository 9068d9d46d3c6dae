"""nu25 #1, #2 and #11: an in-progress attempt's rows are checked against its logs and field by
field before a resume or a close seals them; a record sealed damaged is shown, not crashed on."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.course import find_course, find_shooter
from range.cli.main import main
from range.records.store import Records
from range.runs.course import CourseConfig, run_course
from range.runs.runlog import read_events

BADGE = "4411"
COURSE = "fbi-pistol-2019-v1"


class _CrashError(Exception):
    """The process dies between writing a shot to the log and keeping its row."""


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A store with in-progress attempt #1 of a real course run, cut after two strings ended,
    its last shot in the log and not in the records (the crash came between the two writes);
    and the folder its part was logged in."""
    base = tmp_path_factory.mktemp("nu25a")
    path = base / "base.sqlite"
    record_shot = Records.record_shot
    ends = 0

    def crash_before_the_row(self: Records, attempt: int, shot: dict[str, Any]) -> None:
        nonlocal ends
        if ends == 2 and shot.get("kind") == "shot":
            raise _CrashError
        record_shot(self, attempt, shot)
        ends += shot.get("kind") == "string_ended"

    with Records.open(f"sqlite:///{path}") as records, pytest.MonkeyPatch.context() as mp:
        records.add_officer(BADGE, "J. Rivera", "Metro PD")
        mp.setattr(Records, "record_shot", crash_before_the_row)
        config = CourseConfig(
            find_course(COURSE), find_shooter("expert"), 11, runs_dir=base / "runs"
        )
        with pytest.raises(_CrashError):
            run_course(config, records=records, badge=BADGE)
    (folder,) = (base / "runs").iterdir()
    yield path, folder


def _store(crashed: tuple[Path, Path], tmp_path: Path) -> tuple[str, Path]:
    """A copy of the crashed store, to tamper with."""
    copy = tmp_path / "t.sqlite"
    src, dst = sqlite3.connect(crashed[0]), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    return f"sqlite:///{copy}", copy


def _sql(path: Path, statement: str) -> None:
    raw = sqlite3.connect(path)
    raw.execute(statement)
    raw.commit()
    raw.close()


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, f"one line, not: {err!r}"
    return err


def _close(db: str) -> list[str]:
    return ["records", "close", "1", "--by", "Sgt O", "--reason", "test", "--db", db]


def _resume(db: str, runs: Path) -> list[str]:
    return ["course", "run", COURSE, "--badge", BADGE, "--resume", "1", "--db", db]


def _in_progress(db: str) -> list[dict[str, Any]]:
    with Records.open(db, create=False) as records:
        return records.incomplete()


# -- nu25 #1: rows deleted, edited or of another kind are refused against the log ----------------


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        (
            "DELETE FROM attempt_shots WHERE attempt = 1 AND seq BETWEEN 4 AND 6",
            "has no row before shot 5 (attempt_shots seq 7): deleted",
        ),
        (
            "UPDATE attempt_shots SET shot = replace(shot, '\"points\": 2', '\"points\": 5')"
            " WHERE seq = 3",
            "shot 4 (attempt_shots seq 3) (shot of stage 0, string 0) differs from line",
        ),
        (
            'UPDATE attempt_shots SET shot = replace(shot, \'"kind": "shot"\','
            ' \'"kind": "deployment"\') WHERE seq = 3',
            "shot 4 (attempt_shots seq 3) (deployment of stage 0, string 0) differs from line",
        ),
    ],
    ids=["deleted", "edited", "re-kinded"],
)
def test_rows_that_disagree_with_the_log_are_refused_by_close_and_resume(
    crashed: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
    said: str,
) -> None:
    db, path = _store(crashed, tmp_path)
    _sql(path, tamper)
    runs = tmp_path / "runs"
    for argv in (_close(db), [*_resume(db, runs), "--runs-dir", str(runs)]):
        assert main(argv) == 5, argv
        err = _err(capsys)
        assert said in err, err
        assert "in-progress attempt #1" in err and f"{crashed[1]}/events.jsonl" in err
        assert "nothing was changed" in err and "make the row what the log says" in err
        assert [a["id"] for a in _in_progress(db)] == [1]
    assert not runs.exists() or not any(runs.iterdir())  # the resume fired nothing
    assert main(["records", "verify", "--db", db]) == 0  # nothing was sealed
    assert "0 qualification records" in capsys.readouterr().out


def test_a_close_keeps_what_the_log_holds_beyond_the_rows(
    crashed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The log is what was fired: the shot logged just before the crash, and never kept as a
    row, is in the closed record too, so the record agrees with its own log."""
    db, _ = _store(crashed, tmp_path)
    logged = [r for r in read_events(crashed[1]) if r.kind in ("shot", "deployment")]
    assert _in_progress(db)[0]["shots"] == len(logged) - 1
    assert main(_close(db)) == 0
    capsys.readouterr()
    assert main(["records", "show", "1", "--json", "--db", db]) == 0
    shown = json.loads(capsys.readouterr().out)
    fired = [s for s in shown["detail"]["shots"] if s["kind"] in ("shot", "deployment")]
    assert len(fired) == len(logged)
    assert fired[-1]["t_s"] == logged[-1].data["t_s"]


# -- nu25 #2: a kept row with a field missing or out of range is refused, never a traceback -------


def _hand_made(tmp_path: Path) -> tuple[str, Path]:
    """An in-progress attempt with one whole shot and no log folder (as a store of an older
    OpenRange keeps one): only its rows can be checked."""
    path = tmp_path / "r.sqlite"
    db = f"sqlite:///{path}"
    with Records.open(db) as records:
        records.add_officer(BADGE, "J. Rivera", "Metro PD")
        attempt = records.begin_attempt(BADGE, COURSE, 5, "0.1.0", [], [], shooter="qualified")
        shot = {"stage": 0, "string": 0, "t_s": 1.0, "zone": "5", "points": 5}
        shot |= {"stopped_by": None, "point": [0.0, 1.0, 5.0], "distance_m": 2.7}
        records.record_shot(attempt, {"kind": "shot", **shot})
    return db, path


@pytest.mark.parametrize(
    ("shot", "said"),
    [
        ('{"kind": "shot", "stage": 1}', "shot 1 (attempt_shots seq 0) (shot of stage 1): string:"),
        ("REPLACE", "stage: 99 is not a stage of fbi-pistol-2019-v1 (it has "),
    ],
    ids=["fields-missing", "stage-out-of-range"],
)
def test_a_damaged_row_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shot: str, said: str
) -> None:
    db, path = _hand_made(tmp_path)
    if shot == "REPLACE":
        _sql(path, "UPDATE attempt_shots SET shot = replace(shot, '\"stage\": 0', '\"stage\": 99')")
    else:
        _sql(path, f"UPDATE attempt_shots SET shot = '{shot}'")
    runs = tmp_path / "runs"
    for argv in (_close(db), [*_resume(db, runs), "--runs-dir", str(runs)]):
        assert main(argv) == 5, argv
        err = _err(capsys)
        assert said in err and "in-progress attempt #1" in err and "nothing was changed" in err
        assert [a["id"] for a in _in_progress(db)] == [1]


def test_show_of_a_record_sealed_damaged_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record an older OpenRange sealed with a damaged shot: `show` gives the record with a
    WARNING naming the shot and the field, no sheet, and no traceback."""
    db, path = _hand_made(tmp_path)
    _sql(path, 'UPDATE attempt_shots SET shot = \'{"kind": "shot", "stage": 1}\'')
    with monkeypatch.context() as mp:
        mp.setattr(Records, "_check_kept", lambda *args, **kwargs: None)
        assert main(_close(db)) == 0
    capsys.readouterr()
    assert main(["records", "show", "1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "WARNING: record 1: shot 1 (shot): string: required field is missing" in out
    assert "no score sheet can be drawn from it" in out
    assert main(["records", "show", "1", "--json", "--db", db]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sheet"] == [] and "string: required field" in shown["sheet_problem"]


# -- nu25 #11: no lock file left by a kill just after recording; no empty Stages heading ---------


def test_a_lock_file_left_by_a_kill_after_recording_goes_at_the_next_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, path = _hand_made(tmp_path)
    lock = Path(f"{path}.attempt-1.lock")
    with Records.open(db, create=False) as records:
        records.claim_attempt(1)
        with pytest.MonkeyPatch.context() as mp:  # killed between the commit and the unlink
            mp.setattr(Records, "_release_claim", lambda *args: None)
            records.finish_attempt(1, {"points": 0, "max_points": 100, "hits": 0, "passed": 0})
        fd, _ = records._claims.pop(("attempt", 1))
        os.close(fd)
    assert lock.is_file()
    with Records.open(db, create=False) as live:  # one being fired stays claimed
        fired = live.begin_attempt(BADGE, COURSE, 5, "0.1.0", [], [], shooter="qualified")
        assert main(["records", "incomplete", "--db", db]) == 0
        assert not lock.exists()
        assert Path(f"{path}.attempt-{fired}.lock").is_file()
    assert "being fired now" in capsys.readouterr().out


def test_an_incomplete_attempt_record_says_why_it_has_no_stages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = _hand_made(tmp_path)
    assert main(_close(db)) == 0
    out = tmp_path / "record.html"
    argv = ["records", "export", "--format", "html", "--attempt", "1", "--out", str(out)]
    assert main([*argv, "--db", db]) == 0
    page = out.read_text()
    after = page.split("Stages:", 1)[1]
    assert after.index("none scored: the attempt was not finished (INCOMPLETE") < after.index(
        "Devices and calibration:"
    )


# -- rc24 #1: the row that names the attempt's log deleted: refused, not sealed unchecked --------


def test_a_deleted_log_folder_row_is_refused_by_close_and_resume(
    crashed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleting seq 0 (the row naming the run folder) turned the row-vs-log check off: an
    edited shot was sealed and the record named no log. Rows are numbered from 0 and never
    deleted before the attempt is finished, so the gap is refused in one line."""
    db, path = _store(crashed, tmp_path)
    _sql(path, "DELETE FROM attempt_shots WHERE attempt = 1 AND seq = 0")
    _sql(
        path,
        "UPDATE attempt_shots SET shot = replace(shot, '\"points\": 2', '\"points\": 5')"
        " WHERE seq = 3",
    )
    runs = tmp_path / "runs"
    for argv in (_close(db), [*_resume(db, runs), "--runs-dir", str(runs)]):
        assert main(argv) == 5, argv
        err = _err(capsys)
        assert "in-progress attempt #1: attempt_shots seq 0 is missing" in err, err
        assert '"kind": "attempt_log"' in err and "attempt_recorded attempt 1" in err
        assert "deleted (edited?)" in err and "nothing was changed" in err
        assert [a["id"] for a in _in_progress(db)] == [1]
    assert not runs.exists() or not any(runs.iterdir())  # the resume fired nothing
    assert main(["records", "verify", "--db", db]) == 0
    assert "0 qualification records" in capsys.readouterr().out


# -- rc24 #2: the in-progress row's badge and start are held to its log and run folder ----------


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        (
            "UPDATE attempts_in_progress SET started = '2026-10-01T09:00:00+00:00'",
            "attempts_in_progress started is 2026-10-01T09:00:00+00:00 in the row, ",
        ),
        (
            "UPDATE attempts_in_progress SET badge = '7001'",
            "attempts_in_progress badge is 7001 in the row, 4411 in line 1 (attempt_started)",
        ),
    ],
    ids=["started", "badge"],
)
def test_an_attempt_re_dated_or_re_assigned_in_the_store_is_refused_by_close(
    crashed: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
    said: str,
) -> None:
    db, path = _store(crashed, tmp_path)
    with Records.open(db, create=False) as records:
        records.add_officer("7001", "A. Other", "Metro PD")
    _sql(path, tamper)
    badge = "7001" if "badge" in tamper else BADGE
    runs = tmp_path / "runs"
    resume = [*_resume(db, runs), "--runs-dir", str(runs)]
    resume[resume.index("--badge") + 1] = badge
    for argv in (_close(db), resume):
        assert main(argv) == 5, argv
        err = _err(capsys)
        assert said in err and "in-progress attempt #1" in err, err
        assert "edited; close or resume refused, nothing was changed" in err
        assert [a["id"] for a in _in_progress(db)] == [1]
    if "started" in tamper:  # the run folder's name says when it began
        assert f"in its run folder's name {crashed[1]}" in err
    assert main(["records", "verify", "--db", db]) == 0
    assert "0 qualification records" in capsys.readouterr().out


def test_an_attempt_s_log_names_its_badge(crashed: tuple[Path, Path]) -> None:
    (first, *_) = read_events(crashed[1])
    assert (first.kind, first.data["badge"]) == ("attempt_started", BADGE)
