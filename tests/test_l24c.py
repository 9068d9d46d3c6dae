"""l24c: the console's audit trail against the records it wrote (rc21 #6), a trail kept before
audit heads (schema 8), and an emulator whose owner file was deleted (rc20). Real SQLite, a
throwaway PostgreSQL, a console's own handlers in process, a real emulator on a pty."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_support import new_database

from range.cli.main import main
from range.console.store import MARK, ConsoleStore
from range.records.store import Records


@pytest.fixture(scope="module")
def lane_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """A drill run and a course attempt as a lane offers them to the console (played once
    here: a scripted officer, the qualified shooter), with their files bundled."""
    from drills.course import find_course, find_shooter
    from drills.officer import find_officer
    from drills.schema import read_drill_file
    from range.console.protocol import bundle
    from range.runs.course import CourseConfig, run_course
    from range.runs.drill import RunConfig, run_drill

    runs = tmp_path_factory.mktemp("lane-runs")
    drill_file = Path(__file__).parent / "data" / "console" / "branch.toml"
    source = read_drill_file(str(drill_file))
    drill = run_drill(
        RunConfig(
            source.drill,
            find_officer("traffic-stop-compliant-correct-v1"),
            seed=5,
            runs_dir=runs,
            drill_file=source,
            officer_name="4411",
        )
    ).as_json()
    drill |= {"badge": "4411", "started_by": "inst", "files": bundle(Path(drill["run_dir"]))}
    course = run_course(
        CourseConfig(
            find_course("taser7-practical-v1"), find_shooter("qualified"), 5, runs_dir=runs
        )
    ).as_json()
    course |= {"badge": "4411", "started_by": "inst", "files": bundle(Path(course["run_dir"]))}
    return {"drill": drill, "course": course}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new records database with officer 4411: a SQLite file, or a database of its own on
    the throwaway PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    else:
        url = new_database(request.getfixturevalue("postgres_url"))
    with Records.open(url) as records:
        records.add_officer("4411", "R. Diaz", "Metro PD")
    yield url


def _verify(url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["records", "verify", "--db", url, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _problems(found: dict[str, Any]) -> list[str]:
    return [p["problem"] for p in found["problems"]]


# -- rc21 #6: a wiped console audit trail ------------------------------------------------------


def _console_used(url: str, tmp_path: Path, results: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """A console that logged someone in and recorded a lane's drill run and course attempt:
    the drill run's id and the qualification record's."""
    from range.console.app import Console

    console = Console(url, runs_dir=tmp_path / "console-runs")
    with ConsoleStore.open(url) as store:
        store.audit("boss", "login", address="127.0.0.1")
        store.audit("inst", "lane_start", lane="LANE1")
    console._drill_finished("LANE1", dict(results["drill"]))
    console._course_finished("LANE1", dict(results["course"]))
    with Records.open(url) as records:
        (run,) = records.drill_runs("4411")
        (record,) = records.qualifications("4411")
    return int(run["id"]), int(record["id"])


def _wipe(url: str, *, settings: bool = False, tables: bool = False) -> None:
    """rc21 #6's edit: every audit row, the head and the ids' counter gone (and, with
    `settings`, every console setting and account; with `tables`, the console's tables)."""
    with Records.open(url) as records:
        if tables:
            for table in ("console_audit", "console_settings", "console_users"):
                records.execute(f"DROP TABLE {table}")
            return
        records.execute("DELETE FROM console_audit")
        records.execute("DELETE FROM console_settings WHERE key = 'audit_head'")
        if records.dialect == "sqlite":
            records.execute("DELETE FROM sqlite_sequence WHERE name = 'console_audit'")
        else:
            records.execute("TRUNCATE console_audit RESTART IDENTITY")
        if settings:
            records.execute("DELETE FROM console_settings")
            records.execute("DELETE FROM console_sessions")
            records.execute("DELETE FROM console_users")


def test_the_console_s_records_keep_the_audit_head_they_saw(
    db: str,
    tmp_path: Path,
    lane_results: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    run, record = _console_used(db, tmp_path, lane_results)
    with Records.open(db) as records:
        result = json.loads(records.drill_run(run)["result"])
        detail = json.loads(records.qualification(record)["detail"])
    # Chained with the record itself: the ledger's digest of the run, the record's own hash.
    assert result[MARK].startswith("2:")  # login and lane_start audited before it
    assert detail[MARK].startswith("3:")  # ... and the drill run's run_recorded
    code, found = _verify(db, capsys)
    assert (code, found["intact"], found["audit_rows"]) == (0, True, 4)


def test_a_wiped_trail_is_found_from_the_records_and_settings(
    db: str,
    tmp_path: Path,
    lane_results: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # rc21 #6: deleting every audit row, the audit_head and the sqlite_sequence row made
    # `records verify` say "chain intact ... 0 console audit rows".
    run, record = _console_used(db, tmp_path, lane_results)
    _wipe(db)
    code, found = _verify(db, capsys)
    assert (code, found["intact"], found["audit_rows"]) == (1, False, 0)
    assert _problems(found) == [
        "audit: the chain head (console_settings 'audit_head') is missing (0 rows, no audit id"
        " given), yet the console's settings lane_key, session_key are there: the console was"
        " used and its trail wiped; restore it from a backup",
        f"audit: qualification record {record} was recorded by the console when its audit"
        " trail reached row 3, but the trail holds no row at all: the trail is shorter than"
        " the record says; restore it from a backup (1 other record says so too)",
    ]
    # A console opened on it again (a login is audited) never starts a new head over it.
    with ConsoleStore.open(db) as store:
        store.audit("boss", "login")
        assert (
            store.records.query("SELECT key FROM console_settings WHERE key = 'audit_head'") == []
        )
        said = store.verify_audit()
    assert said[0].startswith("audit: the chain head (console_settings 'audit_head') is missing")
    assert f"drill run {run}" not in " ".join(said)  # the newest record named, not each


def test_a_trail_wiped_with_its_settings_or_tables_is_found_from_the_records(
    db: str,
    tmp_path: Path,
    lane_results: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, record = _console_used(db, tmp_path, lane_results)
    _wipe(db, settings=True)
    code, found = _verify(db, capsys)
    assert code == 1
    assert _problems(found) == [
        f"audit: qualification record {record} was recorded by the console when its audit"
        " trail reached row 3, but the trail holds no row at all: the trail is shorter than"
        " the record says; restore it from a backup (1 other record says so too)"
    ]
    _wipe(db, tables=True)
    code, found = _verify(db, capsys)
    assert (code, "audit_rows" in found) == (1, False)
    assert _problems(found) == [
        # The console's later tables (console_sessions...) are left: named too (nu25 #4).
        "tables console_users, console_settings, console_audit are missing: dropped outside"
        " OpenRange, with what they held; restore the store from a backup",
        f"audit: qualification record {record} was recorded by the console when its audit"
        " trail reached row 3, but this database holds no console audit trail (its tables"
        " were removed): the trail is shorter than the record says; restore it from a backup"
        " (1 other record says so too)",
    ]


def test_newest_rows_cut_and_a_rewritten_trail_are_found_from_the_records(
    tmp_path: Path, lane_results: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    from range.console.store import audit_hash

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "R. Diaz", "Metro PD")
    run, _ = _console_used(db, tmp_path, lane_results)
    # Rows 3 on deleted and the head set back onto row 2: the walk alone holds.
    with Records.open(db) as records:
        records.execute("DELETE FROM console_audit WHERE id >= 3")
        (row2,) = records.query("SELECT id, hash FROM console_audit WHERE id = 2")
        records.execute(
            "UPDATE console_settings SET value = ? WHERE key = 'audit_head'",
            f"{row2['id']}:{row2['hash']}",
        )
    code, found = _verify(db, capsys)
    assert code == 1
    assert _problems(found)[0].startswith(
        "audit: qualification record 1 was recorded by the console when its audit trail"
        " reached row 3, but the trail has no row 3 (2 rows, the newest 2)"
    )
    # Every row rewritten with its hashes made again, and the head with them.
    with Records.open(db) as records:
        previous = "0" * 64
        for row in records.query("SELECT * FROM console_audit ORDER BY id"):
            row |= {"actor": "someone", "prev_hash": previous}
            row["hash"] = previous = audit_hash(row)
            records.execute(
                "UPDATE console_audit SET actor = ?, prev_hash = ?, hash = ? WHERE id = ?",
                row["actor"],
                row["prev_hash"],
                row["hash"],
                row["id"],
            )
        records.execute(
            "UPDATE console_settings SET value = ? WHERE key = 'audit_head'", f"2:{previous}"
        )
    code, found = _verify(db, capsys)
    (rewritten,) = [p for p in _problems(found) if "rewritten" in p]
    assert rewritten.startswith(
        f"audit: drill run {run} was recorded by the console when audit row 2"
    )
    assert rewritten.endswith("the trail was rewritten since")


def test_a_console_correction_names_the_trail_it_saw_too(
    tmp_path: Path, lane_results: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    # A speech correction made in the console is an amendment keeping the head it saw
    # (tests/test_nu18h.py checks the console writes it): the newest such record is named.
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "R. Diaz", "Metro PD")
    run, _ = _console_used(db, tmp_path, lane_results)
    with ConsoleStore.open(db) as store:
        store.audit("inst", "speech_corrected", run=run)
        score = lane_results["drill"]["score"]
        amendment = store.records.amend_drill_run(run, "inst", score, {MARK: store.audit_mark()})
    _wipe(db)
    code, found = _verify(db, capsys)
    assert code == 1
    assert _problems(found)[1] == (
        f"audit: drill run correction {amendment} was recorded by the console when its audit"
        " trail reached row 5, but the trail holds no row at all: the trail is shorter than"
        " the record says; restore it from a backup (2 other records say so too)"
    )


def test_a_brand_new_console_starts_its_head_and_records_verify_intact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A console started and never used (its keys made, nobody logged in) is no wiped trail.
    from range.console.app import Console

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    Console(db, runs_dir=tmp_path / "runs")
    code, found = _verify(db, capsys)
    assert (code, found["intact"], found["audit_rows"]) == (0, True, 0)


def _audit_page(url: str) -> str:
    """The console's /audit page for a range master, in process."""
    import asyncio

    from starlette.requests import Request

    from range.console.app import Console
    from range.console.store import Role

    with ConsoleStore.open(url) as store:
        if store.user("rm") is None:
            store.add_user("rm", Role.RANGE_MASTER, "x", None)
        sid = store.new_session("rm", 3600)
    console = Console(url)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/audit",
        "query_string": b"",
        "headers": [],
        "path_params": {},
        "session": {"user": "rm", "sid": sid},
        "app": None,
    }
    reply = asyncio.run(console.audit_page(Request(scope)))
    assert reply.status_code == 200
    return bytes(reply.body).decode()


# -- a trail kept before audit heads: set once at the upgrade to schema 8 ------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def schema_7(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A records database at schema 7 whose console kept its trail before heads were (rows,
    no `audit_head`): what OpenRange before 2026-11-30 left."""
    from range.records import store

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    else:  # a database of its own on the throwaway server
        url = new_database(request.getfixturevalue("postgres_url"))
    real = store._MIGRATIONS[:]
    try:
        store._MIGRATIONS[:] = real[:7]
        with ConsoleStore.open(url) as old:
            for action in ("login", "lane_start", "logout"):
                old.audit("boss", action)
            old.records.execute("DELETE FROM console_settings WHERE key = 'audit_head'")
            old.secret("lane_key")
            assert old.records.schema_version == 7
    finally:
        store._MIGRATIONS[:] = real
    yield url


def test_a_trail_kept_before_heads_gets_one_at_the_upgrade_and_says_when(
    schema_7: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # l24c: such a trail read as a deleted head ("missing") for ever, indistinguishable from
    # one deleted by hand.
    from datetime import UTC, datetime

    from range.records.store import SCHEMA_VERSION

    assert SCHEMA_VERSION == 8
    with Records.open(schema_7) as records:  # a command that writes migrates it
        assert records.schema_version == 8
        (head,) = records.query("SELECT value FROM console_settings WHERE key = 'audit_head'")
        (row3,) = records.query("SELECT hash FROM console_audit WHERE id = 3")
        assert head["value"] == f"3:{row3['hash']}"
    day = datetime.now(UTC).date().isoformat()
    said = (
        f"console audit: the chain head was set at the upgrade to schema 8 on {day} (3 rows,"
        " ids given up to 3); rows deleted before then cannot be told"
    )
    code, found = _verify(schema_7, capsys)
    assert (code, found["intact"], found["audit_rows"]) == (0, True, 3)
    assert found["audit_head_set_at_upgrade"] == said
    assert main(["records", "verify", "--db", schema_7]) == 0
    assert said in capsys.readouterr().out.splitlines()
    assert said in _audit_page(schema_7)
    # Later actions chain onto it; a head deleted after the upgrade is missing again, never
    # set a second time (the migration ran once).
    with ConsoleStore.open(schema_7) as store:
        store.audit("boss", "login")
        assert store.verify_audit() == []
        store.records.execute("DELETE FROM console_settings WHERE key = 'audit_head'")
    with Records.open(schema_7) as records:
        assert records.query("SELECT value FROM console_settings WHERE key = 'audit_head'") == []
    code, found = _verify(schema_7, capsys)
    assert code == 1
    assert _problems(found)[0].startswith(
        "audit: the chain head (console_settings 'audit_head') is missing (4 rows left, ids"
        " given up to 4)"
    )


# -- rc20: a running emulator's owner file deleted ----------------------------------------------


def test_a_deleted_owner_file_of_a_live_claim_is_not_stale(tmp_path: Path) -> None:
    # rc20 (noticed, left): with its `.owner` file deleted (a tmp cleaner), a running
    # emulator's link was taken for stale: `scan` removed it (the emulator invisible until
    # restarted), and another emulator could take its serial. The lock it still holds on
    # the deleted file is the proof. A claim on a real pty, no serving thread to write the
    # file again: the lock alone decides.
    import os

    from peripherals.ports import PortDirectory, candidate_ports
    from peripherals.registry import (
        Claim,
        SerialTakenError,
        clean_if_stale,
        owner_path,
        stale_problem,
    )

    folder = tmp_path / "by-id"
    folder.mkdir(mode=0o700)
    link = folder / "openrange-pistol-OW-1"
    master, slave = os.openpty()
    claim = Claim.take(link)
    try:
        port = os.ttyname(slave)
        claim.publish(port)
        owner_path(link).unlink()
        assert stale_problem(link) is None
        assert not clean_if_stale(link)
        assert PortDirectory(folder).ports() == [str(link)]
        assert str(link) in candidate_ports([folder])
        assert os.readlink(link) == port
        with pytest.raises(SerialTakenError, match=f"pid {os.getpid()}, on {port}"):
            Claim.take(link)
        # It writes its owner file again, locked, and the link is its own still.
        assert claim.restore()
        assert not claim.restore()  # once
        assert stale_problem(link) is None
    finally:
        claim.release()
        os.close(master)
        os.close(slave)
    assert not link.is_symlink() and not owner_path(link).exists()
    # Gone with its process (here: its lock let go): stale as before, and cleaned.
    claim = Claim.take(link)
    claim.publish("/dev/null")
    owner_path(link).unlink()
    os.close(claim.fd)
    assert "no owner file beside it" in str(stale_problem(link))
    assert PortDirectory(folder).ports() == [] and not link.is_symlink()


def test_a_running_emulator_writes_its_deleted_owner_file_again(tmp_path: Path) -> None:
    import os
    import time

    from peripherals.emulator import PistolEmulator
    from peripherals.ports import PortDirectory, find_by_serial
    from peripherals.registry import owner_of, owner_path
    from range.clock import MonotonicClock

    folder = tmp_path / "by-id"
    folder.mkdir(mode=0o700)
    clock = MonotonicClock()
    with PistolEmulator("OW-1", clock, directory=folder) as emulator:
        link = folder / "openrange-pistol-OW-1"
        owner = owner_path(link)
        owner.unlink()
        assert PortDirectory(folder).ports() == [str(link)]  # at once: its lock is the proof
        deadline = time.monotonic() + 2.0
        while not owner.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert owner_of(link).said() == f"pid {os.getpid()}, on {emulator.port}"
        found = find_by_serial("OW-1", clock, PortDirectory(folder).ports())
        assert found is not None
        found.close()
    assert not link.is_symlink() and not owner.exists()
