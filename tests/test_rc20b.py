"""rc20 (re-check of the nu20 to nu22 fixes), new defects 2, 3 and 7: each test fails without
its fix. In-process: the console's handlers called directly on real SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from range.console.app import Console
from range.console.auth import hash_password
from range.console.store import ConsoleStore, Role
from range.records.store import Records


@pytest.fixture(scope="module")
def hashed() -> str:
    return hash_password("correct horse battery")


def _console(tmp_path: Path, hashed: str) -> tuple[Console, dict[str, str]]:
    """A console on a fresh database with a range master `boss` logged in: its session."""
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "R. Diaz", "Metro PD")
    with ConsoleStore.open(db) as store:
        store.add_user("boss", Role.RANGE_MASTER, hashed, None)
        sid = store.new_session("boss", 3600)
    return Console(db, runs_dir=tmp_path / "console-runs"), {"user": "boss", "sid": sid}


def _get(console: Console, handler: Any, session: dict[str, str], **params: Any) -> Any:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [],
        "path_params": params,
        "session": dict(session),
        "app": None,
    }
    return asyncio.run(handler(Request(scope)))


def _qualified(db: str) -> int:
    with Records.open(db) as records:
        attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 2, "0.1.0", [], [])
        stages = [{"name": "1", "points": 88, "hits": 44}]
        score = {"points": 88, "max_points": 100, "hits": 44, "passed": True, "stages": stages}
        return records.finish_attempt(attempt, score)


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ("points = 99", "its contents no longer match its hash"),
        ("detail = '{not json'", "detail is not valid JSON"),
    ],
)
def test_a_damaged_record_s_pdf_is_a_one_line_page_and_not_linked(
    tmp_path: Path, hashed: str, edit: str, said: str
) -> None:
    # rc20 #2: /certificates/N.pdf of a DAMAGED qualification answered 500 (RecordsError
    # uncaught); the officer page linked it and showed the edited "Stages together 88 44".
    console, session = _console(tmp_path, hashed)
    qid = _qualified(console.db_url or "")
    good = _get(console, console.certificate, session, id=qid)
    assert (good.status_code, good.media_type) == (200, "application/pdf")
    with Records.open(console.db_url) as records:
        records.execute(f"UPDATE qualifications SET {edit} WHERE id = ?", qid)
    reply = _get(console, console.certificate, session, id=qid)
    assert reply.status_code == 409
    body = reply.body.decode()
    assert f"record {qid}: {said}" in body
    page = _get(console, console.officer, session, badge="4411").body.decode()
    assert "DAMAGED" in page
    assert f"/certificates/{qid}.pdf" not in page
    assert "<td>Stages together</td><td>-</td><td>-</td>" in page
    assert "88" not in page.split("Stages together")[1].split("</tr>")[0]


def test_a_deleted_audit_head_is_reported_and_never_made_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc20 #3: deleting the newest audit row and the audit_head together went unnoticed: the
    # next audited action chained onto the newest row left and wrote a new head (ids 4 -> 6).
    from range.cli.main import main

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with ConsoleStore.open(db) as store:
        assert store.verify_audit() == []  # a brand-new trail, no rows
        ids = [store.audit("boss", "login"), store.audit("boss", "logout")]
        head = store.records.query("SELECT value FROM console_settings WHERE key = 'audit_head'")
        assert head[0]["value"].startswith(f"{ids[1]}:")  # a new database starts a head
        store.records.execute("DELETE FROM console_audit WHERE id = ?", ids[1])
        store.records.execute("DELETE FROM console_settings WHERE key = 'audit_head'")
        missing = (
            "audit: the chain head (console_settings 'audit_head') is missing ({} rows left, ids"
            " given up to {}): rows deleted at the end cannot be found; restore it from a backup"
        )
        assert store.verify_audit() == [missing.format(1, ids[1])]
        later = store.audit("boss", "login")  # audited still, but no head made up
        assert (
            store.records.query("SELECT value FROM console_settings WHERE key = 'audit_head'") == []
        )
        assert store.verify_audit() == [missing.format(2, later)]
        capsys.readouterr()
        assert main(["records", "verify", "--db", db]) == 1
        assert missing.format(2, later) in capsys.readouterr().err
        # Every row and the head deleted: not an empty, intact trail.
        store.records.execute("DELETE FROM console_audit")
        assert store.verify_audit() == [missing.format(0, later)]
