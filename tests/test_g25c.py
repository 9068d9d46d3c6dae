"""g25c: a table dropped from a records store (nu25 #4): `records verify` names it in one line
(text and --json) instead of "chain intact", and the console refuses the store instead of
making the table again empty. Real SQLite and the suite's throwaway PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_support import new_database

from range.cli.main import main
from range.console.store import CONSOLE_TABLES, ConsoleStore, missing_console_tables
from range.records.store import SCHEMA_VERSION, Records, RecordsError, schema_tables


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store a console has used (officer 4411, three audit rows, so the head names row 3) and
    holding an attempt in progress: a SQLite file, or a database of its own on the throwaway
    PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    else:
        url = new_database(request.getfixturevalue("postgres_url"))
    with Records.open(url) as records:
        records.add_officer("4411", "R. Diaz", "Metro PD")
        attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 3, "0.1.0", [], [])
        records.record_shot(attempt, {"kind": "shot", "stage": 0, "string": 0, "points": 2})
    with ConsoleStore.open(url) as store:
        for n in range(3):
            store.audit("rm1", "login", n=n)
    yield url


def _drop(url: str, *tables: str) -> None:
    with Records.open(url) as records:
        for table in tables:
            records.execute(f"DROP TABLE {table}")


def _verify(url: str, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["records", "verify", "--db", url, *flags])
    said = capsys.readouterr()
    return code, said.out + said.err


def _tables(url: str) -> set[str]:
    with Records.open(url) as records:
        return records._tables()


def test_schema_tables_are_what_a_new_store_holds(tmp_path: Path) -> None:
    """The one list `verify` and the console check a store against is read from the
    migrations: it is exactly the tables a new store gets."""
    with Records.open(f"sqlite:///{tmp_path / 'new.sqlite'}") as records:
        made = records._tables() - {"sqlite_sequence"}
    assert set(schema_tables()) == made
    assert len(schema_tables()) == len(made)
    assert "attempt_shots" in schema_tables(SCHEMA_VERSION)
    assert "attempt_shots" not in schema_tables(1)


def test_a_dropped_audit_trail_is_not_intact_and_the_console_refuses_the_store(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu25 #4: `drop table console_audit` while console_settings holds the head (row 3) read
    "chain intact" (exit 0), --json just left out audit_rows, and the next console start made
    the table again empty, numbering new rows from 1."""
    _drop(db, "console_audit")
    code, text = _verify(db, capsys)
    assert code == 1
    lines = text.splitlines()
    assert lines[0].startswith("chain NOT intact: 1 problem")
    (named,) = [line for line in lines if "console_audit" in line]
    assert named.startswith("table console_audit is missing: dropped outside OpenRange")
    assert "restore the store from a backup" in named
    code, out = _verify(db, capsys, "--json")
    found: dict[str, Any] = json.loads(out)
    assert code == 1 and found["intact"] is False
    assert found["missing_tables"] == ["console_audit"]
    assert [p["chain"] for p in found["problems"]] == ["store"]
    assert found["problems"][0]["problem"] == named
    # The console (`openrange console` opens its store so before it serves; every page too)
    # refuses it in one line, and makes nothing again.
    with pytest.raises(RecordsError) as refused:
        ConsoleStore.open(db)
    said = str(refused.value)
    assert "\n" not in said and "table console_audit is missing" in said
    assert "the console will not make it again" in said and "records verify" in said
    assert "console_audit" not in _tables(db)
    capsys.readouterr()
    assert main(["console", "lane-key", "--db", db]) != 0
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "table console_audit is missing" in err
    assert "console_audit" not in _tables(db)


def test_a_dropped_table_of_an_attempt_in_progress_is_named(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu25 #4: `drop table attempt_shots` with an attempt in progress read "chain intact, 1
    attempt in progress" (exit 0); only `records incomplete` then failed. The chains, which do
    not read it, are still walked; a table they need gone, nothing is called intact."""
    _drop(db, "attempt_shots")
    code, text = _verify(db, capsys, "--json")
    found = json.loads(text)
    assert code == 1 and found["missing_tables"] == ["attempt_shots"]
    assert found["in_progress"] == 1 and found["audit_rows"] == 3
    (problem,) = found["problems"]
    assert problem["problem"].startswith("table attempt_shots is missing")
    with pytest.raises(RecordsError, match="table attempt_shots is missing"):
        ConsoleStore.open(db)
    _drop(db, "ledger", "console_users")
    code, text = _verify(db, capsys)
    assert code == 1
    assert text.splitlines()[0] == (
        "chain NOT intact: 1 problem in 0 qualification records, 1 officer, 0 drill runs,"
        " 3 console audit rows kept, not walked"
    )
    assert (
        "tables ledger, attempt_shots, console_users are missing: dropped outside OpenRange,"
        " with what they held, so the chains cannot be walked; restore the store from a backup"
    ) in text.splitlines()


def test_an_older_consoles_store_is_not_missing_what_it_never_had(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A console's tables came in groups: a store an older console used (its first group only)
    is intact, and an upgraded console makes the later ones; one dropped from among tables the
    store did have (console_disabled, console_unrecorded still there) is named."""
    later = [name for group in CONSOLE_TABLES[1:] for name, _ in group]
    _drop(db, "console_disabled")
    code, text = _verify(db, capsys, "--json")
    assert code == 1 and json.loads(text)["missing_tables"] == ["console_disabled"]
    _drop(db, *(t for t in later if t != "console_disabled"))
    code, text = _verify(db, capsys, "--json")
    assert code == 0 and json.loads(text)["missing_tables"] == []
    with ConsoleStore.open(db) as store:
        assert len(store.audit_rows()) == 3
    assert set(later) <= _tables(db)


def test_missing_console_tables_by_group() -> None:
    assert missing_console_tables(set()) == []
    assert missing_console_tables({"officers"}) == []
    assert missing_console_tables({"console_settings"}) == ["console_users", "console_audit"]
    assert missing_console_tables({"console_unrecorded"}) == [
        name for group in CONSOLE_TABLES[:-1] for name, _ in group
    ]


def test_a_command_that_needs_a_dropped_table_points_to_verify(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`records incomplete` with attempt_shots dropped said only "no such table": it is one
    line that sends the range master to `records verify`."""
    _drop(db, "attempt_shots")
    capsys.readouterr()
    assert main(["records", "incomplete", "--db", db]) == 5
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "attempt_shots" in err
    assert "`openrange records verify` names every table missing" in err
