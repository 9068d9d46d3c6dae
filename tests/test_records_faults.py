"""Records that cannot be fooled (issue 12, items 3, 7, 11-17, 20): verify in one snapshot,
read-only commands that never create, officers and drill runs in the chain, durability,
crashed attempts listed and closed, per-course standing, and every fault as one named line."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg_support import new_database

from range.cli.main import main
from range.records.exports import certificate_fields, export_csv, roster
from range.records.store import _MIGRATIONS, GENESIS, Records, RecordsError, outcome, redact


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.sqlite'}"
        return
    yield new_database(request.getfixturevalue("postgres_url"))


def _raw(url: str, *sql: str) -> None:
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        for statement in sql:
            db.execute(statement)
        db.commit()
        db.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            for statement in sql:
                db.execute(statement)


SCORE = {"points": 96, "max_points": 100, "hits": 48, "passed": True}


def qualify(
    records: Records, badge: str, course: str = "fbi-pistol-2019-v1", **score: object
) -> int:
    attempt = records.begin_attempt(badge, course, 7, "0.1.0", [], [])
    records.record_shot(attempt, {"kind": "shot", "stage": 0, "string": 0, "points": 2})
    return records.finish_attempt(attempt, SCORE | score)


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, f"one line, not: {err!r}"
    return err


# -- item 11: verify in one snapshot -----------------------------------------------------------


def _writer(url: str, attempts: int) -> None:
    with Records.open(url) as records:
        for _ in range(attempts):
            qualify(records, "w")
            records.add_officer("w", "W. Writer", "Metro PD")  # the ledger moves too


def test_verify_while_a_lane_writes_never_cries_tamper(url: str) -> None:
    with Records.open(url) as records:
        records.add_officer("w", "W. Writer", "Metro PD")
    lane = multiprocessing.get_context("spawn").Process(target=_writer, args=(url, 60))
    lane.start()
    checks = 0
    with Records.open(url, create=False) as records:
        while lane.is_alive() or checks < 5:
            assert records.verify() == [], f"verify #{checks} saw a lane's write half done"
            checks += 1
    lane.join(timeout=120)
    assert lane.exitcode == 0 and checks >= 5


# -- item 12: read-only never creates; empty, missing, truncated, newer --------------------------

READ_ONLY = [
    ["records", "verify"],
    ["records", "officers"],
    ["records", "history", "4411"],
    ["records", "show", "1"],
    ["records", "incomplete"],
    ["records", "export", "--format", "csv"],
    ["records", "export", "--format", "html"],
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda a: " ".join(a[1:3]))
def test_a_read_only_command_with_a_mistyped_db_creates_nothing(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "recrods.sqlite"
    assert main([*argv, "--db", f"sqlite:///{missing}"]) == 5
    assert str(missing) in _err(capsys)
    assert list(tmp_path.iterdir()) == [], "nothing was created"


def test_verify_on_an_empty_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    assert main(["records", "verify", "--db", f"sqlite:///{empty}"]) == 5
    err = _err(capsys)
    assert str(empty) in err and "empty" in err
    assert empty.stat().st_size == 0


def test_verify_on_a_truncated_database_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records.sqlite"
    with Records.open(f"sqlite:///{path}") as records:
        records.add_officer("1", "A. Officer", "Metro PD")
        for _ in range(30):
            qualify(records, "1")
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 3)
    assert main(["records", "verify", "--db", f"sqlite:///{path}"]) == 5
    err = _err(capsys)
    assert str(path) in err and "chain intact" not in capsys.readouterr().out


def test_a_read_only_command_on_an_empty_postgresql_database_creates_nothing(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = new_database(postgres_url)
    assert main(["records", "verify", "--db", db]) == 5
    assert "empty" in _err(capsys)
    import psycopg

    with psycopg.connect(db) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_db"
    assert main(["records", "history", "1", "--db", missing]) == 5
    err = _err(capsys)
    assert "no such PostgreSQL database" in err and "no_such_db" in err


def test_a_schema_newer_than_the_code_is_refused_by_name(url: str) -> None:
    with Records.open(url) as records:
        records.add_officer("1", "A. Officer", "Metro PD")
    _raw(url, "UPDATE schema_version SET version = 99")
    for create in (True, False):
        with pytest.raises(RecordsError, match="schema version 99 is newer"):
            Records.open(url, create=create)


def test_a_version_1_store_migrates_into_the_chain(url: str) -> None:
    """A store written by the version-1 code: its officers and drill runs join the ledger, its
    attempt in progress keeps its shots."""
    auto = (
        "INTEGER PRIMARY KEY AUTOINCREMENT"
        if url.startswith("sqlite")
        else "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )
    statements = [
        s for s in _MIGRATIONS[0].format(auto=auto, genesis=GENESIS).split(";") if s.strip()
    ]
    _raw(
        url,
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        "INSERT INTO schema_version (version) VALUES (1)",
        *statements,
        "INSERT INTO officers (badge, name, agency, unit) VALUES ('5', 'E. Old', 'Metro PD', '')",
        "INSERT INTO drill_runs (badge, drill, seed, recorded, software_version, decision, score,"
        " passed, run_dir, result) VALUES ('5', 'phone-draw-v1', 1, '2026-01-01', '0.1.0',"
        " 'appropriate', 90, 1, NULL, '{}')",
        "INSERT INTO attempts_in_progress (badge, course, seed, started, software_version,"
        " devices, calibration, shots) VALUES ('5', 'fbi-pistol-2019-v1', 1, '2026-01-01',"
        " '0.1.0', '[]', '[]', '[{\"points\": 2}, {\"points\": 5}]')",
    )
    with Records.open(url, create=False) as records:
        assert records.schema_version == len(_MIGRATIONS)
        assert records.verify() == []
        ((attempt, shots),) = [(r["id"], r["shots"]) for r in records.incomplete()]
        assert shots == 2
        records.record_shot(attempt, {"points": 4})
        done = records.finish_attempt(attempt, SCORE)
        detail = json.loads(records.qualification(done)["detail"])
        assert [s["points"] for s in detail["shots"]] == [2, 5, 4]
    _raw(url, "UPDATE officers SET name = 'E. Forged' WHERE badge = '5'")
    with Records.open(url, create=False) as records:
        assert any("officer 5" in p.what and "edited" in p.what for p in records.verify())


# -- item 13: officers and drill runs are chained -----------------------------------------------

DRILL_RESULT = {
    "drill": "phone-draw-v1",
    "seed": 1,
    "openrange_version": "0.1.0",
    "score": {"decision": "appropriate", "score": 91.5, "passed": True},
}


@pytest.mark.parametrize(
    ("tamper", "finding"),
    [
        ("UPDATE officers SET name = 'X. Forged' WHERE badge = '7'", "officer 7 no longer matches"),
        ("UPDATE drill_runs SET score = 100 WHERE id = 1", "drill run 1 no longer matches"),
        ("UPDATE drill_runs SET passed = 1 WHERE id = 2", "drill run 2 no longer matches"),
        ("DELETE FROM drill_runs WHERE id = 1", "drill run 1 was deleted"),
        (
            "INSERT INTO officers (badge, name, agency, unit) VALUES ('9', 'G. Host', 'X', '')",
            "officer 9 is not in the audit chain",
        ),
        ("DELETE FROM ledger WHERE id = 2", "an entry before it was deleted"),
    ],
)
def test_verify_finds_an_edited_officer_or_drill_run(
    url: str, tamper: str, finding: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Records.open(url) as records:
        records.add_officer("7", "A. Officer", "Metro PD")
        records.add_officer("7", "A. Officer-Renamed", "Metro PD")  # an update is chained too
        records.add_drill_run("7", DRILL_RESULT)
        failed = DRILL_RESULT | {
            "score": {"decision": "excessive force", "score": 40.0, "passed": False}
        }
        records.add_drill_run("7", failed)
        assert records.verify() == []
    _raw(url, tamper)
    assert main(["records", "verify", "--db", url]) == 1
    assert finding in capsys.readouterr().err


# -- item 14: durable once saved -----------------------------------------------------------------


def test_a_saved_record_is_on_disk_at_commit(url: str) -> None:
    with Records.open(url) as records:
        records.add_officer("1", "A. Officer", "Metro PD")
        attempt = records.begin_attempt("1", "fbi-pistol-2019-v1", 1, "0.1.0", [], [])
        records.record_shot(attempt, {"points": 5})  # a shot in progress is not fsynced alone
        records.finish_attempt(attempt, SCORE)  # this is: FULL again
        if records.dialect == "sqlite":
            assert records._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
            assert records._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        else:
            setting = records._db.execute("SHOW synchronous_commit").fetchone()
            assert setting["synchronous_commit"] == "on"


CRASH_AFTER_SAVE = """
import os, sys
from range.records.store import Records
records = Records.open(sys.argv[1])
records.add_officer("3", "K. Killed", "Metro PD")
attempt = records.begin_attempt("3", "fbi-pistol-2019-v1", 1, "0.1.0", [], [])
record = records.finish_attempt(attempt, {"points": 95, "max_points": 100, "hits": 50,
                                          "passed": True})
print(record, flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_record_said_saved_survives_a_kill(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_SAVE, url], capture_output=True, text=True
    )
    assert done.returncode == -signal.SIGKILL
    with Records.open(url, create=False) as records:
        assert records.qualification(int(done.stdout))["points"] == 95
        assert records.verify() == []


# -- item 15 and item 3: crashed attempts listed and closed as INCOMPLETE ------------------------

CRASHING_LANE = """
import os, sys
from range.records.store import Records
records = Records.open(sys.argv[1])
records.add_officer("12", "B. Officer", "Metro PD")
attempt = records.begin_attempt("12", "fbi-pistol-2019-v1", 3, "0.1.0", [], [])
for n in range(5):
    records.record_shot(attempt, {"kind": "shot", "stage": 0, "string": 0, "t_s": 1.0 + n,
                                  "zone": "bottle", "points": 5})
print(attempt, flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_range_master_lists_and_closes_a_crashed_attempt(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_LANE, url], capture_output=True, text=True
    )
    attempt = int(done.stdout.split()[0])
    assert main(["records", "incomplete", "--db", url, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["badge"], listed["shots"]) == (attempt, "12", 5)
    assert (
        main(
            [
                "records",
                "close",
                str(attempt),
                "--db",
                url,
                "--by",
                "Sgt. Ortiz",
                "--reason",
                "power cut",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "saved" in out
    assert main(["records", "incomplete", "--db", url]) == 0
    assert "no incomplete attempts" in capsys.readouterr().out
    with Records.open(url, create=False) as records:
        (row,) = records.qualifications("12")
        assert outcome(row) == "INCOMPLETE" and not row["passed"]
        assert len(json.loads(row["detail"])["shots"]) == 5, "every shot kept"
        assert records.verify() == []
        csv_rows = export_csv(records, None, None).splitlines()
        assert csv_rows[0].split(",")[9] == "outcome" and csv_rows[1].split(",")[9] == "INCOMPLETE"
        fields = certificate_fields(records, row["id"])
        assert "certificate" in fields["title"] and fields["title"].startswith(
            "Qualification attempt record: INCOMPLETE"
        )
    assert main(["records", "history", "12", "--db", url]) == 0
    history = capsys.readouterr().out
    (attempt_line,) = [line for line in history.splitlines() if line.strip().startswith("record ")]
    assert attempt_line.endswith("INCOMPLETE") and "QUALIFIED" not in attempt_line.upper()
    assert main(["records", "show", str(row["id"]), "--db", url]) == 0
    assert "closed by Sgt. Ortiz" in capsys.readouterr().out


def test_a_drill_run_without_its_end_is_incomplete_in_the_records(url: str) -> None:
    """However the scorer marks a run with no `run_ended` (an INCOMPLETE outcome or decision),
    the records never call it a pass or a fail, even with passed = true."""
    with Records.open(url) as records:
        records.add_officer("8", "H. Officer", "Metro PD")
        cut = {
            "decision": "INCOMPLETE: the log ends before run_ended",
            "score": 100.0,
            "passed": True,
            "outcome": "INCOMPLETE",
        }
        records.add_drill_run("8", DRILL_RESULT | {"score": cut})
        records.add_drill_run("8", DRILL_RESULT)
        assert [d["outcome"] for d in records.drill_runs("8")] == ["INCOMPLETE", "PASS"]


# -- item 16: per-course standing, expiry warnings, indexed --------------------------------------


def test_the_roster_keeps_each_course_apart_and_warns_of_expiry(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Records.open(url) as records:
        records.add_officer("1", "P. Pistol", "Metro PD")
        records.add_officer("2", "N. Never", "Metro PD")
        qualify(records, "1", "fbi-pistol-2019-v1")
        for _ in range(3):
            qualify(records, "1", "taser7-practical-v1", points=2, passed=False)
        today = datetime.now(UTC).date()
        lines = {(r.badge, r.course): r for r in roster(records, today, 365)}
        assert lines[("1", "fbi-pistol-2019-v1")].status == "qualified"
        assert lines[("1", "fbi-pistol-2019-v1")].weapons == "pistol"
        taser = lines[("1", "taser7-practical-v1")]
        assert (taser.status, taser.attempts, taser.weapons) == ("not qualified", 3, "taser-7")
        assert lines[("2", "")].status == "no attempts"
        soon = {r.course: r for r in roster(records, today + timedelta(days=350), 365)}
        pistol = soon["fbi-pistol-2019-v1"]
        assert (pistol.status, pistol.warning) == ("expires soon", "expires in 15 days")
        late = {r.course: r for r in roster(records, today + timedelta(days=370), 365)}
        assert late["fbi-pistol-2019-v1"].warning == "expired 5 days ago"
    assert main(["records", "history", "1", "--db", url, "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    standing = {s["course"]: s["status"] for s in history["standing"]}
    assert standing == {"fbi-pistol-2019-v1": "qualified", "taser7-practical-v1": "not qualified"}
    weapons = {w["weapon"]: w["status"] for w in history["by_weapon"]}
    assert weapons == {"pistol": "qualified", "taser-7": "not qualified"}
    roster_page = Path(url.removeprefix("sqlite:///")).parent / "roster.html"
    if url.startswith("sqlite"):
        in_350 = (datetime.now(UTC).date() + timedelta(days=350)).isoformat()
        argv = ["records", "export", "--db", url, "--format", "html", "--to", in_350]
        assert main([*argv, "--out", str(roster_page)]) == 0
        assert "Expiring or expired:</b> P. Pistol (1), fbi-pistol-2019-v1: expires in 15 days" in (
            roster_page.read_text()
        )


def test_the_roster_history_and_shot_queries_use_indexes(tmp_path: Path) -> None:
    with Records.open(f"sqlite:///{tmp_path / 'r.sqlite'}") as records:
        db = records._db

        def plan(sql: str) -> str:
            return " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, ()))

        assert "USING" in plan(
            "SELECT badge, course, COUNT(*), MAX(finished) FROM qualifications"
            " GROUP BY badge, course"
        ) and "TEMP B-TREE" not in plan(
            "SELECT badge, course, COUNT(*) FROM qualifications GROUP BY badge, course"
        )
        assert "qualifications_badge" in plan("SELECT * FROM qualifications WHERE badge = '1'")
        assert "drill_runs_badge" in plan("SELECT * FROM drill_runs WHERE badge = '1' ORDER BY id")
        assert "INDEX sqlite_autoindex_attempt_shots_1 (attempt=?)" in plan(
            "SELECT MAX(seq) FROM attempt_shots WHERE attempt = 1"
        )


# -- item 7: the sheet adds up; stages from 1; no certificate for a failed attempt ---------------


def test_records_show_adds_up_with_late_shots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from drills.course import find_course, find_shooter
    from range.runs.course import CourseConfig, run_course

    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        course = find_course("fbi-pistol-2019-v1")
        result = run_course(
            CourseConfig(course, find_shooter("struggling"), 1), records=records, badge="4411"
        )
    assert result.score.late > 0 and not result.score.passed
    number = result.qualification
    assert main(["records", "show", str(number), "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    sheet = shown["sheet"]
    assert sum(line["points"] for line in sheet) == shown["points"] == result.score.points
    late = [line for line in sheet if line["note"].startswith("late")]
    assert len(late) == result.score.late and all(line["points"] == 0 for line in late)
    assert min(line["stage"] for line in sheet) == 1
    assert max(line["stage"] for line in sheet) == len(course.stages)
    assert main(["records", "show", str(number), "--db", db]) == 0
    text = capsys.readouterr().out
    assert f"sheet total {result.score.points} = recorded {result.score.points}" in text
    assert "stage 0" not in text
    out = tmp_path / "attempt.html"
    assert (
        main(
            [
                "records",
                "export",
                "--db",
                db,
                "--format",
                "html",
                "--attempt",
                str(number),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    page = out.read_text()
    assert "Qualification certificate" not in page
    # a scripted shooter's attempt is a simulation (issue 12, second new user, item 3)
    assert (
        "SIMULATED (scripted shooter struggling): not a qualification (not a certificate)" in page
    )
    assert '<p class="small">1: 3 yd: ' in page  # stages numbered from 1, as on the PDF


# -- item 17 and 20: one named line, never a traceback, nothing lost, no password ----------------


def test_postgresql_not_running_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    db = f"postgresql://ranger:hunter2@127.0.0.1:{port}/records"
    assert main(["records", "verify", "--db", db]) == 5
    err = _err(capsys)
    assert "cannot reach the PostgreSQL server" in err and "hunter2" not in err
    assert "ranger:***@127.0.0.1" in err


def test_a_mistyped_scheme_never_prints_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "verify", "--db", "postgresq://ranger:hunter2@db.local/records"]) == 5
    err = _err(capsys)
    assert "hunter2" not in err and "postgresq://ranger:***@db.local/records" in err
    assert redact("host=db password=hunter2 user=x") == "host=db password=*** user=x"


def test_a_directory_as_the_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["records", "verify"],
        ["records", "officers", "--add", "1", "--name", "A", "--agency", "B"],
    ):
        assert main([*argv, "--db", "sqlite:////tmp"]) == 5
        assert "/tmp is a directory" in _err(capsys)


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        # A missing chain-head row is a problem verify finds (not intact, exit 1, and in
        # `--json`'s problems: nu25 #9); so is a dropped table: "chain NOT intact" (nu25 #4).
        ("DELETE FROM chain_head WHERE id = 1", "chain head row 1"),
        ("DELETE FROM chain_head WHERE id = 2", "chain head row 2"),
        ("DROP TABLE ledger", "table ledger is missing"),
        ("DROP TABLE qualifications", "table qualifications is missing"),
    ],
)
def test_a_damaged_store_under_verify_is_one_named_line(
    url: str, damage: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Records.open(url) as records:
        records.add_officer("1", "A. Officer", "Metro PD")
        qualify(records, "1")
    _raw(url, damage)
    assert main(["records", "verify", "--db", url]) == 1
    err = capsys.readouterr().err  # the headline, then the problem's one line
    assert "Traceback" not in err and named in err


def test_a_file_that_is_not_a_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "records.sqlite"
    bad.write_bytes(b"this is not SQLite\n" * 300)
    for argv in (["records", "verify"], ["records", "history", "1"]):
        assert main([*argv, "--db", f"sqlite:///{bad}"]) == 5
        assert "not a readable records database" in _err(capsys)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs) to fill up: root only."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk needs a tmpfs mount: root only")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)
            pytest.fail("a file on the full disk was left open")


def test_a_full_disk_during_course_run_is_one_line_and_loses_nothing(
    tmp_path: Path, tiny_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tiny_disk / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        saved = qualify(records, "4411")
    filler = tiny_disk / "filler"
    with filler.open("wb", buffering=0) as f:  # take every free block
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    argv = [
        "course",
        "run",
        "fbi-pistol-2019-v1",
        "--badge",
        "4411",
        "--db",
        db,
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert main(argv) == 5
    err = _err(capsys)
    assert "disk is full" in err and "nothing saved before was lost" in err
    filler.unlink()
    with Records.open(db, create=False) as records:
        assert records.qualification(saved)["points"] == 96
        assert records.officer("4411")["name"] == "J. Rivera"
        assert records.verify() == []


def test_a_disk_that_fills_mid_attempt_keeps_every_shot_already_saved(tiny_disk: Path) -> None:
    db = f"sqlite:///{tiny_disk / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 1, "0.1.0", [], [])
        filler = tiny_disk / "filler"
        with filler.open("wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        saved = 0
        with pytest.raises(RecordsError, match="disk is full"):
            for n in range(100_000):
                records.record_shot(attempt, {"shot": n, "pad": "x" * 200})
                saved += 1
    filler.unlink()
    with Records.open(db, create=False) as records:
        (listed,) = records.incomplete()
        assert (listed["id"], listed["shots"]) == (attempt, saved)


CRASH_MID_COURSE = """
import os, sys
from drills.course import find_course, find_shooter
from range.runs.course import CourseConfig, run_course
from range.records.store import Records

kept = 0
record_shot = Records.record_shot


def record_then_die(self, attempt, shot):
    global kept
    record_shot(self, attempt, shot)
    kept += shot.get("kind") == "shot"
    if kept == 8 and shot.get("kind") == "shot":
        print(attempt, flush=True)
        os.kill(os.getpid(), 9)  # the power goes mid-string


Records.record_shot = record_then_die
records = Records.open(sys.argv[1])
config = CourseConfig(find_course("fbi-pistol-2019-v1"), find_shooter("expert"), 4)
run_course(config, records=records, badge="4411")
"""


def test_a_crashed_attempt_is_resumed_from_the_string_it_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
    done = subprocess.run(
        [sys.executable, "-c", CRASH_MID_COURSE, db], capture_output=True, text=True
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    attempt = int(done.stdout)
    with Records.open(db, create=False) as records:
        kept = records.resume_attempt(attempt, "4411", "fbi-pistol-2019-v1")
        with pytest.raises(RecordsError, match="not badge 9's"):
            records.resume_attempt(attempt, "9", "fbi-pistol-2019-v1")
    assert len([k for k in kept if k["kind"] == "shot"]) == 8
    cut = (kept[-1]["stage"], kept[-1]["string"])
    # A string's end is kept for the resume only, not copied into the record.
    kept = [k for k in kept if k["kind"] != "string_ended"]
    before = [k for k in kept if (k["stage"], k["string"]) != cut]
    argv = ["course", "run", "fbi-pistol-2019-v1", "--badge", "4411", "--shooter", "expert"]
    argv += ["--db", db, "--resume", str(attempt), "--runs-dir", str(tmp_path / "runs"), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reshot"] == [list(cut)] and result["score"]["complete"]
    number = result["qualification"]
    with Records.open(db, create=False) as records:
        assert records.incomplete() == [] and records.verify() == []
        shots = json.loads(records.qualification(number)["detail"])["shots"]
        # Each kept as fired, with what it counted beside it (nu12h: the sheet adds up alone).
        fired = [{k: v for k, v in s.items() if k != "counted"} for s in shots[: len(before)]]
        assert fired == before, "the strings fired before the crash are kept"
    assert main(["records", "show", str(number), "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert sum(line["points"] for line in shown["sheet"]) == shown["points"]
    voided = [line for line in shown["sheet"] if line["note"].startswith("string cut")]
    assert len(voided) == len(kept) - len(before)
    assert main(argv) == 5
    assert f"no in-progress attempt #{attempt}" in _err(capsys)


def test_the_score_sheet_says_what_cut_a_reshot_string() -> None:
    """A round of a string that was cut and reshot counts nothing, and its note says what cut
    it (the `string_faulted` record's reason: here the headset taken off); a record from
    before reasons were kept reads as a device fault."""
    from range.records.exports import score_sheet
    from range.runs.course import HEADSET_OFF

    shot = {"kind": "shot", "stage": 0, "string": 0, "zone": "5", "points": 5}
    cut = {"kind": "string_faulted", "stage": 0, "string": 0, "reshoot": True}
    shots = [shot | {"t_s": 0.8}, cut | {"reason": HEADSET_OFF}, shot | {"t_s": 0.9}]
    row = {"course": "fbi-pistol-2019-v1", "detail": json.dumps({"shots": shots, "score": {}})}
    lines, total = score_sheet(row)
    assert [(line.points, line.note) for line in lines] == [
        (0, f"string cut: {HEADSET_OFF}; reshot"),
        (5, ""),
    ]
    assert total == 5
    del shots[1]["reason"]
    lines, _ = score_sheet(row | {"detail": json.dumps({"shots": shots, "score": {}})})
    assert lines[0].note == "string cut by a device fault: reshot"


def test_a_weapon_is_qualified_by_any_valid_course_firing_it(tmp_path: Path) -> None:
    from range.records.exports import by_weapon

    with Records.open(f"sqlite:///{tmp_path / 'r.sqlite'}") as records:
        records.add_officer("1", "P. Pistol", "Metro PD")
        qualify(records, "1", "texas-ltc-b27-v1", points=10, passed=False)
        qualify(records, "1", "fbi-pistol-2019-v1")
        qualify(records, "1", "taser7-practical-v1", points=2, passed=False)
        lines = roster(records, datetime.now(UTC).date(), 365)
    weapons = {(w.weapons, w.status, w.course) for w in by_weapon(lines)}
    assert weapons == {
        ("pistol", "qualified", "fbi-pistol-2019-v1"),
        ("taser-7", "not qualified", "taser7-practical-v1"),
    }


# -- issue 12 second new user, item 1: hand-edited JSON names the record ------------------------


def test_a_record_with_broken_json_is_named_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "A. Officer", "Metro PD")
        qualify(records, "4411")
        records.add_drill_run("4411", DRILL_RESULT)
    _raw(
        db,
        "update qualifications set detail='[' || detail where id=1",
        "update drill_runs set result='nope'",
    )
    assert main(["records", "show", "1", "--db", db]) == 5
    assert (
        _err(capsys)
        .strip()
        .endswith("record 1: detail is not valid JSON (edited?): run records verify")
    )
    assert main(["records", "export", "--format", "html", "--attempt", "1", "--db", db]) == 5
    assert "record 1: detail is not valid JSON" in _err(capsys)
    # history and the CSV export name the damaged records and go on
    assert main(["records", "history", "4411", "--db", db]) == 0
    out = capsys.readouterr().out
    # the record, the drill run, and the standing resting on the record (per course, per weapon)
    assert out.count("DAMAGED (edited? run records verify)") == 4
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["qualifications"][0]["outcome"] == "DAMAGED (edited? run records verify)"
    assert shown["drill_runs"][0]["outcome"] == "DAMAGED (edited? run records verify)"
    out_csv = tmp_path / "all.csv"
    assert main(["records", "export", "--format", "csv", "--db", db, "--out", str(out_csv)]) == 0
    assert "DAMAGED" in out_csv.read_text()
