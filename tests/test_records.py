"""Records on SQLite and on a real PostgreSQL: the audit chain, crashes, two lanes at once."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import new_database

from range.records.store import Records, RecordsError


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.sqlite'}"
        return
    yield new_database(request.getfixturevalue("postgres_url"))


def qualify(records: Records, badge: str, points: int = 96) -> int:
    attempt = records.begin_attempt(
        badge, "fbi-pistol-2019-v1", 7, "0.1.0", [{"model": "pistol", "serial": "P-1"}], []
    )
    records.record_shot(attempt, {"stage": 0, "string": 0, "zone": "bottle", "points": 2})
    score = {"points": points, "max_points": 100, "hits": points // 2, "passed": points >= 90}
    return records.finish_attempt(attempt, score)


def test_officers_attempts_and_history(url: str) -> None:
    with Records.open(url) as records:
        assert records.schema_version == 8
        records.add_officer("4411", "J. Rivera", "Metro PD", "Patrol")
        first, second = qualify(records, "4411", 96), qualify(records, "4411", 80)
        history = records.qualifications("4411")
        assert [r["id"] for r in history] == [first, second]
        assert [bool(r["passed"]) for r in history] == [True, False]
        assert records.verify() == []
        with pytest.raises(RecordsError, match="no officer with badge"):
            records.begin_attempt("9999", "c", 1, "v", [], [])


def _raw(url: str, sql: str) -> None:
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        db.execute(sql)
        db.commit()
        db.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            db.execute(sql)


@pytest.mark.parametrize(
    ("tamper", "finding"),
    [
        ("UPDATE qualifications SET points = 100 WHERE id = 2", "edited"),
        ("DELETE FROM qualifications WHERE id = 2", "deleted"),
        ("DELETE FROM qualifications WHERE id = 3", "newest record is missing"),
    ],
)
def test_verify_finds_an_edited_or_deleted_record(url: str, tamper: str, finding: str) -> None:
    with Records.open(url) as records:
        records.add_officer("7", "A. Officer", "Metro PD")
        for points in (92, 84, 98):
            qualify(records, "7", points)
        assert records.verify() == []
    _raw(url, tamper)
    with Records.open(url) as records:
        problems = records.verify()
    assert problems and any(finding in p.what for p in problems)


CRASHING_LANE = """
import os, sys
from range.records.store import Records
records = Records.open(sys.argv[1])
records.add_officer("12", "B. Officer", "Metro PD")
attempt = records.begin_attempt("12", "fbi-pistol-2019-v1", 3, "0.1.0", [], [])
for n in range(5):
    records.record_shot(attempt, {"shot": n, "points": 2})
print(attempt, flush=True)
os.kill(os.getpid(), 9)  # the process dies mid-attempt
"""


def test_a_crash_mid_attempt_leaves_it_incomplete_and_recoverable(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_LANE, url], capture_output=True, text=True
    )
    assert done.returncode == -signal.SIGKILL
    attempt = int(done.stdout.split()[0])
    with Records.open(url) as records:
        assert records.qualifications() == [], "no half-written qualification record"
        (incomplete,) = records.incomplete()
        assert (incomplete["id"], incomplete["shots"]) == (attempt, 5)
        # Recoverable: the range master finishes (or scores) it from what was kept.
        finished = records.finish_attempt(
            attempt, {"points": 10, "max_points": 100, "hits": 5, "passed": False}
        )
        assert records.qualification(finished)["badge"] == "12"
        assert records.incomplete() == [] and records.verify() == []


def _lane(url: str, lane: int, attempts: int) -> None:
    with Records.open(url) as records:
        for _ in range(attempts):
            qualify(records, f"lane-{lane}")


def test_two_lanes_writing_at_once_lose_nothing(url: str) -> None:
    with Records.open(url) as records:
        for lane in (1, 2):
            records.add_officer(f"lane-{lane}", f"Officer {lane}", "Metro PD")
    context = multiprocessing.get_context("spawn")
    lanes = [context.Process(target=_lane, args=(url, lane, 25)) for lane in (1, 2)]
    for process in lanes:
        process.start()
    for process in lanes:
        process.join(timeout=120)
        assert process.exitcode == 0
    with Records.open(url) as records:
        rows = records.qualifications()
        assert len(rows) == 50
        assert {r["badge"] for r in rows} == {"lane-1", "lane-2"}
        assert records.verify() == [], "the chain survived two writers"


def test_migrations_run_once(url: str) -> None:
    with Records.open(url) as records:
        records.add_officer("1", "C. Officer", "Metro PD")
    with Records.open(url) as records:
        assert records.schema_version == 8 and len(records.officers()) == 1


def test_a_bad_url_is_one_line() -> None:
    with pytest.raises(RecordsError, match=r"sqlite:////ABSOLUTE/PATH\.sqlite \(four slashes"):
        Records.open("mysql://x")


def test_the_default_database_lives_in_the_user_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENRANGE_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    with Records.open() as records:
        records.add_officer("1", "D. Officer", "Metro PD")
    assert (tmp_path / "openrange" / "records.sqlite").exists()
    assert os.environ.get("OPENRANGE_DATABASE_URL") is None


def _scores(url: str) -> list[tuple[int, float | None]]:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return [
                (int(i), s) for i, s in db.execute("SELECT id, score FROM drill_runs ORDER BY id")
            ]
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute("SELECT id, score FROM drill_runs ORDER BY id").fetchall()
    return [(int(i), s) for i, s in rows]


def _drill_result(state: str, complete: bool) -> dict[str, object]:
    """A drill run's result as `drill run --badge` keeps it: the scorer's 100 for a run it did
    not grade (ABORTED, INCOMPLETE) too."""
    score = {"decision": "no force used" if complete else None, "score": 100.0, "passed": True}
    return {
        "drill": "phone-draw-v1",
        "seed": 1,
        "openrange_version": "0",
        "state": state,
        "complete": complete,
        "score": score | {"complete": complete},
    }


def test_a_drill_run_never_graded_keeps_no_score_and_an_older_store_migrates(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rc19 #5 (nit): an ABORTED or INCOMPLETE drill run's `score` column held the scorer's 100,
    shown nowhere. It is NULL from schema 7 on; a store kept at schema 6 migrates (SQLite copies
    the table) with its runs, their hashes and the id counter as they were."""
    from range.records import store

    latest = store.SCHEMA_VERSION
    monkeypatch.setattr(store, "_MIGRATIONS", store._MIGRATIONS[:6])
    monkeypatch.setattr(store, "SCHEMA_VERSION", 6)
    monkeypatch.setattr(store, "graded", lambda outcome: True)  # as schema 6 wrote them
    with Records.open(url) as records:  # as schema 6 kept them: the number in every row
        records.add_officer("4411", "J. Rivera", "Metro PD")
        for state, complete in (("ended", True), ("aborted", True), ("ended", True)):
            records.add_drill_run("4411", _drill_result(state, complete))
    first = 4
    if url.startswith("sqlite"):  # ids given before (a run since deleted) are never given again
        _raw(url, "UPDATE sqlite_sequence SET seq = 10 WHERE name = 'drill_runs'")
        first = 11
    monkeypatch.undo()
    with Records.open(url) as records:
        assert records.schema_version == latest == 8
        assert records.verify() == []
        assert records.add_drill_run("4411", _drill_result("aborted", True)) == first
        assert records.add_drill_run("4411", _drill_result("ended", False)) == first + 1
        assert records.add_drill_run("4411", _drill_result("ended", True)) == first + 2
        amended = records.amend_drill_run(
            first, "Sgt Lee", {"decision": None, "score": 100.0, "passed": True}, {}
        )
        assert records.verify() == []
        shown = [r["score"] for r in records.drill_runs("4411")]
        assert shown == [100.0, None, 100.0, None, None, 100.0]
    # Kept before: as they were (chained so); never graded since: NULL, its amendment too.
    kept = [(1, 100.0), (2, 100.0), (3, 100.0)]
    assert _scores(url) == [*kept, (first, None), (first + 1, None), (first + 2, 100.0)]
    with Records.open(url) as records:
        (row,) = records._rows("SELECT score FROM drill_run_amendments WHERE id = ?", amended)
        assert row["score"] is None


def test_a_schema_version_set_back_below_7_is_said_so(url: str) -> None:
    """Migration 7 has no statement of its own to fail on a store that already has it: SQLite
    finds the NOT NULL gone and says the schema_version was set back, as for the others;
    PostgreSQL drops a constraint already dropped, and the store is as it was."""
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
    _raw(url, "UPDATE schema_version SET version = 6")
    if url.startswith("sqlite"):
        with pytest.raises(RecordsError, match="already holds what schema 7 adds") as caught:
            Records.open(url)
        assert "the schema_version table was edited; nothing was migrated" in str(caught.value)
        return
    with Records.open(url) as records:
        assert records.schema_version == 8 and records.verify() == []
