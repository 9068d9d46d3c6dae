"""The console's accounts, login limiter and audit chain, on real SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from range.console.auth import (
    MAX_FAILURES,
    WINDOW_S,
    LoginLimiter,
    check_login,
    check_password,
    csrf_ok,
    hash_password,
)
from range.console.store import ConsoleStore, Role, StoredFailures
from range.records.store import RecordsError


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsoleStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with ConsoleStore.open(url) as s:
        if s.records.dialect == "postgresql":
            for table in (
                "console_users",
                "console_audit",
                "console_settings",
                "console_sessions",
                "console_disabled",
                "console_login_failures",
                "console_unrecorded",
            ):
                s.records.execute(f"DELETE FROM {table}")
            # A brand-new trail: no audit id given yet (rows and ids given with no head are
            # a deleted head, rc20 #3).
            s.records.execute("TRUNCATE console_audit RESTART IDENTITY")
            s._start_head()  # a brand-new console's head, as a new SQLite file gets
        yield s


def test_passwords_are_argon2_and_checked() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert check_password(hashed, "correct horse battery")
    assert not check_password(hashed, "correct horse batterY")
    assert not check_login(None, "correct horse battery")  # no such account
    with pytest.raises(ValueError, match="at least 10"):
        hash_password("short")


def test_login_limiter_blocks_after_n_failures_until_the_window_passes() -> None:
    now = [0.0]
    limiter = LoginLimiter(lambda: now[0])
    for _ in range(MAX_FAILURES - 1):
        limiter.failed("addr:1.2.3.4", "name:boss")
    assert limiter.blocked_for_s("addr:1.2.3.4") == 0
    limiter.failed("addr:1.2.3.4", "name:boss")
    assert limiter.blocked_for_s("addr:1.2.3.4") == pytest.approx(WINDOW_S)
    assert limiter.blocked_for_s("name:boss") > 0
    assert limiter.blocked_for_s("addr:5.6.7.8") == 0
    now[0] = WINDOW_S / 2
    assert limiter.blocked_for_s("name:boss") == pytest.approx(WINDOW_S / 2)
    now[0] = WINDOW_S + 1
    assert limiter.blocked_for_s("addr:1.2.3.4", "name:boss") == 0


def test_login_failures_are_kept_in_the_store(store: ConsoleStore) -> None:
    # Issue 18 (f18c #4): the counts lived in memory, so a restart cleared them. Kept in the
    # records store, a new limiter over a new connection (a restarted console) still counts them.
    url = store.records.url
    now = [1000.0]
    first = LoginLimiter(lambda: now[0], log=StoredFailures(lambda: ConsoleStore.open(url)))
    for _ in range(MAX_FAILURES):
        first.failed("pair:1.2.3.4:boss")
    again = LoginLimiter(lambda: now[0], log=StoredFailures(lambda: ConsoleStore.open(url)))
    assert again.blocked_for_s("pair:1.2.3.4:boss") == pytest.approx(WINDOW_S)
    assert again.blocked_for_s("pair:1.2.3.4:arm") == 0
    now[0] += WINDOW_S + 1  # the window passes: the old failures are dropped
    assert again.blocked_for_s("pair:1.2.3.4:boss") == 0
    assert store.failures_since("pair:1.2.3.4:boss", 0.0) == []
    again.failed("pair:1.2.3.4:boss")
    again.succeeded("pair:1.2.3.4:boss")
    assert store.failures_since("pair:1.2.3.4:boss", 0.0) == []


def test_csrf_comparison() -> None:
    assert csrf_ok("abc", "abc")
    assert not csrf_ok("abc", "abd")
    assert not csrf_ok("abc", None)
    assert not csrf_ok(None, None)
    assert not csrf_ok("", "")


def test_accounts_and_roles(store: ConsoleStore) -> None:
    assert not store.has_users()
    store.add_user("boss", Role.RANGE_MASTER, hash_password("a long password"), None)
    unknown = f"B-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RecordsError, match=f"no officer with badge '{unknown}'"):
        # Issue 18 (nu18 #15): a badge the records do not know was accepted.
        store.add_user("o1", Role.OFFICER, hash_password("a long password"), unknown)
    if not any(o["badge"] == "B-101" for o in store.records.officers()):
        store.records.add_officer("B-101", "Alex Officer", "Metro PD")
    store.add_user("o1", Role.OFFICER, hash_password("a long password"), "B-101")
    assert store.has_users()
    officer = store.user("o1")
    assert officer is not None and officer.role is Role.OFFICER and officer.badge == "B-101"
    assert store.user("nobody") is None
    with pytest.raises(RecordsError, match="already exists"):
        store.add_user("boss", Role.INSTRUCTOR, "x", None)
    with pytest.raises(RecordsError, match="needs --badge"):
        store.add_user("o2", Role.OFFICER, "x", None)
    with pytest.raises(RecordsError, match="account name"):
        store.add_user("a b", Role.ARMORER, "x", None)
    assert [u.name for u in store.users()] == ["boss", "o1"]


def test_secrets_are_made_once(store: ConsoleStore) -> None:
    first = store.secret("lane_key")
    assert len(first) >= 40
    assert store.secret("lane_key") == first
    assert store.secret("session_key") != first


def test_audit_chain_finds_an_edit_and_a_deletion(store: ConsoleStore) -> None:
    ids = [store.audit("boss", "login"), store.audit("boss", "lane_pause", lane="LANE1")]
    ids.append(store.audit("boss", "logout"))
    assert store.verify_audit() == []
    rows = store.audit_rows()
    assert [r["action"] for r in rows] == ["logout", "lane_pause", "login"]
    assert rows[1]["prev_hash"] == rows[2]["hash"]
    store.records.execute("UPDATE console_audit SET actor = 'someone' WHERE id = ?", ids[1])
    assert store.verify_audit() == [f"audit row {ids[1]}: edited after it was written"]
    store.records.execute("DELETE FROM console_audit WHERE id = ?", ids[1])
    assert store.verify_audit() == [f"audit row {ids[2]}: a row before it was deleted or changed"]


def test_a_deleted_newest_audit_row_stays_found_after_the_next_action(
    store: ConsoleStore,
) -> None:
    # nu22 #1: the next audited action chained onto the newest row left and moved the head
    # there, so a deleted newest row left no trace but a gap in the ids.
    ids = [store.audit("boss", "login"), store.audit("boss", "lane_pause", lane="LANE1")]
    store.records.execute("DELETE FROM console_audit WHERE id = ?", ids[1])
    assert store.verify_audit() == [
        f"audit: the newest row is missing or changed (the chain ended at row {ids[1]})"
    ]
    later = store.audit("boss", "login")
    assert store.verify_audit() == [f"audit row {later}: a row before it was deleted or changed"]
    store.audit("boss", "logout")
    assert store.verify_audit() == [f"audit row {later}: a row before it was deleted or changed"]


def test_records_verify_counts_one_snapshot_while_the_console_writes(
    store: ConsoleStore, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 18 (f18c #8): on PostgreSQL `records verify` read the audit rows, the chain's head
    # and the counts in separate statements, each seeing every commit before it: with the
    # console auditing meanwhile it said the newest audit row was missing (the head named a row
    # the walk had not seen) and counted rows it never checked. Now all in one snapshot.
    import json
    import threading

    from range.cli.main import main

    url = store.records.url
    store.audit("boss", "login")
    stop = threading.Event()

    def console_writing() -> None:
        with ConsoleStore.open(url) as writer:
            while not stop.is_set():
                writer.audit("boss", "lane_start", lane="L1")

    thread = threading.Thread(target=console_writing)
    thread.start()
    seen = 0
    try:
        for _ in range(60):
            assert main(["records", "verify", "--db", url, "--json"]) == 0, capsys.readouterr()
            found = json.loads(capsys.readouterr().out)
            assert found["intact"] and found["problems"] == []
            assert found["audit_rows"] >= seen
            seen = found["audit_rows"]
    finally:
        stop.set()
        thread.join()
    assert store.verify_audit() == []
    with store.records.snapshot():
        walked = len(store.records.query("SELECT id FROM console_audit"))
    assert main(["records", "verify", "--db", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["audit_rows"] == walked >= seen
