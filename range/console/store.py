"""The console's tables in the records database: accounts, settings and a hash-chained audit
trail of who did what.

They live beside the records (same SQLite file or PostgreSQL database, opened through
`range.records.Records`), created with `CREATE TABLE IF NOT EXISTS` so the records' own numbered
migrations stay untouched. Every audit row carries the hash of the one before it, as
qualifications do, so `verify_audit` finds an edited or deleted row.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from range.records.store import GENESIS, Records, RecordsError, missing_tables_line


class Role(StrEnum):
    RANGE_MASTER = "range_master"
    INSTRUCTOR = "instructor"
    ARMORER = "armorer"
    OFFICER = "officer"  # reads only their own records and runs


# Who may do what; one place, checked by `app.require`.
CAN_CONTROL = {Role.RANGE_MASTER, Role.INSTRUCTOR}
CAN_READ_ALL = {Role.RANGE_MASTER, Role.INSTRUCTOR, Role.ARMORER}
CAN_ADMIN = {Role.RANGE_MASTER}

_AUDIT_FIELDS = ("id", "at", "actor", "action", "detail", "prev_hash")
# The chain's head in console_settings: "ID:HASH" of the newest audit row ("0:" + GENESIS for
# a console that has audited nothing yet).
AUDIT_HEAD = "audit_head"
# Set once, by the records' schema 8 migration, for a trail kept before heads were
# (docs/console.md): JSON {"at": ISO date, "rows": N, "ids_given": M}, the trail as it stood then.
HEAD_AT_UPGRADE = "audit_head_set_at_upgrade"
# The key a record the console writes (a lane's drill run: its result; a lane's attempt, a
# speech correction's amendment: its detail) keeps the audit head in, as it stood then,
# chained with the record's own fields: `records verify` finds a trail shorter than a record
# says it was.
MARK = "console_audit"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    badge: str | None  # an officer's badge: the records they may read
    password_hash: str
    disabled: bool = False  # a range master turned it off: no login, no session


# The console's tables, grouped by the OpenRange that first made them (each group with every
# group before it, on a console's every open), and what each holds. A store holding a table of
# one group had every table of the groups up to it: one of those missing was dropped
# (`missing_console_tables`); a later group's is made when an upgraded console first opens it.
CONSOLE_TABLES: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        (
            "console_users",
            "console_users (name TEXT PRIMARY KEY, role TEXT NOT NULL, badge TEXT,"
            " password_hash TEXT NOT NULL, created TEXT NOT NULL)",
        ),
        ("console_settings", "console_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"),
        (
            "console_audit",
            "console_audit (id {auto}, at TEXT NOT NULL, actor TEXT NOT NULL,"
            " action TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,"
            " hash TEXT NOT NULL)",
        ),
    ),
    (
        # A login's session, by the random id its signed cookie carries: logging out, a new
        # password, a new role or a disabled account ends it on the server.
        (
            "console_sessions",
            "console_sessions (sid TEXT PRIMARY KEY, name TEXT NOT NULL, created TEXT NOT NULL)",
        ),
        ("console_disabled", "console_disabled (name TEXT PRIMARY KEY, at TEXT NOT NULL)"),
    ),
    (
        # Failed logins (range.console.auth), kept here so a restart does not clear them: `at`
        # in seconds on the console's limiter clock (the wall clock, UTC epoch).
        (
            "console_login_failures",
            "console_login_failures (key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)",
        ),
    ),
    (
        # Each lane's finished runs the records refused, as the Lanes page lists them
        # (protocol.unrecorded_row, JSON): a restarted console shows them before the lane
        # re-attaches (the lane's hello then says what it holds).
        (
            "console_unrecorded",
            "console_unrecorded (lane TEXT NOT NULL, run_dir TEXT NOT NULL,"
            " row_json TEXT NOT NULL, PRIMARY KEY (lane, run_dir))",
        ),
    ),
)


def missing_console_tables(present: set[str]) -> list[str]:
    """The console's tables a store with the tables `present` should hold and does not: every
    table of the groups up to the newest one it holds a table of (none held: no console has
    used it, and nothing is missing)."""
    names = [[name for name, _ in group] for group in CONSOLE_TABLES]
    newest = max((i for i, group in enumerate(names) if present.intersection(group)), default=-1)
    return [name for group in names[: newest + 1] for name in group if name not in present]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# The longest account name (characters): it is shown in every page's header and in tables.
MAX_NAME_CHARS = 32


_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9._-]+")


def check_name(name: str) -> None:
    """An account name: ASCII letters (A-Z, a-z), digits, '.', '-' or '_', at most
    MAX_NAME_CHARS (RecordsError in one line). ASCII only: no look-alike names (a Cyrillic 'а'
    for a Latin 'a') in the header, the audit trail or a login."""
    if len(name) > MAX_NAME_CHARS:
        raise RecordsError(f"account name of {len(name)} characters: at most {MAX_NAME_CHARS}")
    if not _ACCOUNT_NAME.fullmatch(name):
        raise RecordsError(
            f"account name {name!r}: use ASCII letters (A-Z, a-z), digits, '.', '-' or '_'"
        )


def audit_hash(row: dict[str, Any]) -> str:
    canonical = json.dumps([row[k] for k in _AUDIT_FIELDS], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class ConsoleStore:
    """The console's rows in one records database. Open it per request (cheap): SQLite
    connections are not shared between threads."""

    def __init__(self, records: Records) -> None:
        self.records = records
        auto = (
            "INTEGER PRIMARY KEY AUTOINCREMENT"
            if records.dialect == "sqlite"
            else "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        )
        self._refuse_missing()
        if not {name for group in CONSOLE_TABLES for name, _ in group} <= records.tables():
            # Made in one transaction (a new console, or one upgraded): another opener sees
            # all of them or none, never a group half made as if one had been dropped.
            with records.transaction(exclusive=True):
                self._refuse_missing()
                for group in CONSOLE_TABLES:
                    for _, sql in group:
                        records.execute(f"CREATE TABLE IF NOT EXISTS {sql.format(auto=auto)}")
                records.execute(
                    "CREATE INDEX IF NOT EXISTS console_login_failures_key"
                    " ON console_login_failures (key, at)"
                )
        self._start_head()

    def _refuse_missing(self) -> None:
        """A table dropped from a store in use is refused in one line, never made again
        empty: an audit trail numbered from 1 anew, accounts on again, unseen (nu25 #4)."""
        missing = self.records.missing_tables()
        if missing:
            raise RecordsError(
                f"records {self.records.where}: {missing_tables_line(missing)} (the console"
                " will not make it again, empty); `openrange records verify` says what else is"
                " damaged"
            )

    def _start_head(self) -> None:
        """A brand-new console (no head, no audit id ever given, no setting and no account:
        nothing of a console yet) starts its chain's head, at the genesis; any other store
        with no head had it deleted, and none is made up (rc21 #6): its settings and accounts
        show the console was used, so `verify_audit` reports the missing head even when
        every row and the ids' counter went with it."""
        if not self._brand_new():
            return  # a head, or one deleted: nothing written (every request opens a store)
        with self.records.transaction(exclusive=True):
            if not self._brand_new():
                return
            self.records.execute(
                "INSERT INTO console_settings (key, value) VALUES (?, ?)",
                AUDIT_HEAD,
                f"0:{GENESIS}",
            )

    def _brand_new(self) -> bool:
        return not _console_used(self.records)

    @classmethod
    def open(cls, url: str | None = None) -> ConsoleStore:
        records = Records.open(url)
        try:
            return cls(records)
        except BaseException:
            records.close()
            raise

    def close(self) -> None:
        self.records.close()

    def __enter__(self) -> ConsoleStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- accounts ----------------------------------------------------------------------------

    def has_users(self) -> bool:
        return bool(self.records.query("SELECT name FROM console_users LIMIT 1"))

    def add_user(
        self,
        name: str,
        role: Role,
        password_hash: str,
        badge: str | None,
        badge_field: str = "--badge",
    ) -> None:
        """A new account; `badge_field` is how the caller names the badge it asks for (the
        command line's --badge; a form's field), said when an officer's account has none."""
        check_name(name)
        self._check_badge(name, role, badge, badge_field)
        if self.user(name) is not None:
            raise RecordsError(f"account {name!r} already exists")
        self.records.execute(
            "INSERT INTO console_users (name, role, badge, password_hash, created)"
            " VALUES (?, ?, ?, ?, ?)",
            name,
            role.value,
            badge,
            password_hash,
            _now(),
        )

    def _check_badge(self, name: str, role: Role, badge: str | None, badge_field: str) -> None:
        """An officer's account has a badge the records know (`badge_field`: how the caller
        names it), and only an officer's has one."""
        if role is not Role.OFFICER and badge:
            raise RecordsError(f"account {name!r}: only an officer account has {badge_field}")
        if role is Role.OFFICER and not badge:
            raise RecordsError(f"account {name!r}: an officer account needs {badge_field}")
        if role is Role.OFFICER and badge:
            self.records.officer(badge)  # one the records know, or refused in one line

    def set_password(self, name: str, password_hash: str) -> None:
        """A new password; every session of the account ends (log in again)."""
        if self.user(name) is None:
            raise RecordsError(f"no account {name!r}")
        self.records.execute(
            "UPDATE console_users SET password_hash = ? WHERE name = ?", password_hash, name
        )
        self.end_sessions(name)

    def set_role(
        self, name: str, role: Role, badge: str | None, badge_field: str = "--badge"
    ) -> None:
        """A new role (an officer's needs a badge, and only an officer's has one); every
        session of the account ends."""
        user = self.user(name)
        if user is None:
            raise RecordsError(f"no account {name!r}")
        self._check_badge(name, role, badge, badge_field)
        if user.role is Role.RANGE_MASTER and role is not Role.RANGE_MASTER:
            self._keep_a_range_master(name)
        self.records.execute(
            "UPDATE console_users SET role = ?, badge = ? WHERE name = ?",
            role.value,
            badge if role is Role.OFFICER else None,
            name,
        )
        self.end_sessions(name)

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Turn an account off (no login; its sessions end) or on again."""
        user = self.user(name)
        if user is None:
            raise RecordsError(f"no account {name!r}")
        if disabled == user.disabled:
            return
        if disabled:
            if user.role is Role.RANGE_MASTER:
                self._keep_a_range_master(name)
            self.records.execute(
                "INSERT INTO console_disabled (name, at) VALUES (?, ?)", name, _now()
            )
            self.end_sessions(name)
        else:
            self.records.execute("DELETE FROM console_disabled WHERE name = ?", name)

    def _keep_a_range_master(self, name: str) -> None:
        others = [
            u
            for u in self.users()
            if u.role is Role.RANGE_MASTER and not u.disabled and u.name != name
        ]
        if not others:
            raise RecordsError(f"account {name!r} is the only range master: make another one first")

    def user(self, name: str) -> User | None:
        rows = self.records.query(
            "SELECT u.name, u.role, u.badge, u.password_hash, d.name AS off"
            " FROM console_users u LEFT JOIN console_disabled d ON d.name = u.name"
            " WHERE u.name = ?",
            name,
        )
        if not rows:
            return None
        r = rows[0]
        return User(r["name"], Role(r["role"]), r["badge"], r["password_hash"], bool(r["off"]))

    def users(self) -> list[User]:
        rows = self.records.query(
            "SELECT u.name, u.role, u.badge, u.password_hash, d.name AS off"
            " FROM console_users u LEFT JOIN console_disabled d ON d.name = u.name"
            " ORDER BY u.name"
        )
        return [
            User(r["name"], Role(r["role"]), r["badge"], r["password_hash"], bool(r["off"]))
            for r in rows
        ]

    # -- sessions ----------------------------------------------------------------------------

    def new_session(self, name: str, max_age_s: float) -> str:
        """A new session for `name` (its id goes into the signed cookie); sessions older than
        `max_age_s` are dropped, as their cookies have expired."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=max_age_s)).isoformat(timespec="seconds")
        self.records.execute("DELETE FROM console_sessions WHERE created < ?", cutoff)
        sid = secrets.token_urlsafe(32)
        self.records.execute(
            "INSERT INTO console_sessions (sid, name, created) VALUES (?, ?, ?)", sid, name, _now()
        )
        return sid

    def session_user(self, sid: str, name: str) -> User | None:
        """The account of a live session `sid` that belongs to `name` (None: ended, not its,
        or the account is disabled)."""
        rows = self.records.query(
            "SELECT name FROM console_sessions WHERE sid = ? AND name = ?", sid, name
        )
        user = self.user(name) if rows else None
        return None if user is None or user.disabled else user

    def end_session(self, sid: str) -> None:
        self.records.execute("DELETE FROM console_sessions WHERE sid = ?", sid)

    def end_sessions(self, name: str) -> None:
        self.records.execute("DELETE FROM console_sessions WHERE name = ?", name)

    # -- failed logins (auth.FailureLog) --------------------------------------------------------

    def failures_since(self, key: str, since: float) -> list[float]:
        self.records.execute(
            "DELETE FROM console_login_failures WHERE key = ? AND at < ?", key, float(since)
        )
        rows = self.records.query(
            "SELECT at FROM console_login_failures WHERE key = ? ORDER BY at", key
        )
        return [float(r["at"]) for r in rows]

    def add_failure(self, key: str, at: float) -> None:
        # Failures older than a day count for nothing (the window is minutes): dropped here,
        # so addresses that never come back do not pile up.
        self.records.execute("DELETE FROM console_login_failures WHERE at < ?", float(at) - 86400.0)
        self.records.execute(
            "INSERT INTO console_login_failures (key, at) VALUES (?, ?)", key, float(at)
        )

    def clear_failures(self, key: str) -> None:
        self.records.execute("DELETE FROM console_login_failures WHERE key = ?", key)

    # -- lanes' runs not recorded ------------------------------------------------------------

    def set_unrecorded(self, lane: str, rows: list[dict[str, Any]]) -> None:
        """What `lane` holds unrecorded now (replacing what was kept for it)."""
        with self.records.transaction():
            self.records.execute("DELETE FROM console_unrecorded WHERE lane = ?", lane)
            for row in rows:
                self.records.execute(
                    "INSERT INTO console_unrecorded (lane, run_dir, row_json) VALUES (?, ?, ?)",
                    lane,
                    str(row["run_dir"]),
                    json.dumps(row, sort_keys=True),
                )

    def unrecorded(self) -> dict[str, list[dict[str, Any]]]:
        """Every lane's kept unrecorded runs, by lane (each lane's by run folder)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.records.query(
            "SELECT lane, row_json FROM console_unrecorded ORDER BY lane, run_dir"
        ):
            row = json.loads(r["row_json"])
            if isinstance(row, dict):
                out.setdefault(str(r["lane"]), []).append(row)
        return out

    # -- settings ----------------------------------------------------------------------------

    def secret(self, key: str) -> str:
        """A random secret made once and kept (the session-signing key, the lanes' key)."""
        rows = self.records.query("SELECT value FROM console_settings WHERE key = ?", key)
        if rows:
            return str(rows[0]["value"])
        value = secrets.token_urlsafe(32)
        conflict = " ON CONFLICT (key) DO NOTHING"
        self.records.execute(
            "INSERT INTO console_settings (key, value) VALUES (?, ?)" + conflict, key, value
        )
        return str(
            self.records.query("SELECT value FROM console_settings WHERE key = ?", key)[0]["value"]
        )

    # -- audit ---------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, **detail: Any) -> int:
        """Append who did what to the audit chain; returns the row's id."""
        with self.records.transaction(exclusive=True):
            # Chain onto the stored head, not onto the newest row left: a deleted newest row
            # then stays a broken link after the next audited action (nu22 #1).
            head_row = self.records.query(
                "SELECT value FROM console_settings WHERE key = 'audit_head'"
            )
            # A head is started only with a brand-new console (`_start_head`); no head now
            # means it was deleted. The action is still audited (a refusal would lock the
            # range master out: logging in is audited), chained onto the newest row left, but
            # no head is made up: /audit and `records verify` keep saying it is missing
            # (rc20 #3, rc21 #6), as the qualification chain's missing head is never rebuilt.
            if head_row:
                prev_hash = str(head_row[0]["value"]).partition(":")[2]
            else:
                last = self.records.query("SELECT hash FROM console_audit ORDER BY id DESC LIMIT 1")
                prev_hash = str(last[0]["hash"]) if last else GENESIS
            row: dict[str, Any] = {
                "at": _now(),
                "actor": actor,
                "action": action,
                "detail": json.dumps(detail, sort_keys=True, default=str),
                "prev_hash": prev_hash,
            }
            cur = self.records.execute(
                "INSERT INTO console_audit (at, actor, action, detail, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, '')"
                + (" RETURNING id" if self.records.dialect == "postgresql" else ""),
                *row.values(),
            )
            row["id"] = self.records.inserted_id(cur)
            digest = audit_hash(row)
            self.records.execute(
                "UPDATE console_audit SET hash = ? WHERE id = ?", digest, row["id"]
            )
            # The chain's head, so deleting the newest rows is found too.
            head = f"{row['id']}:{digest}"
            if head_row:
                self.records.execute(
                    "UPDATE console_settings SET value = ? WHERE key = 'audit_head'", head
                )
            return int(row["id"])

    def audit_mark(self) -> str:
        """Where the audit trail stands now ("ID:HASH"), for a record the console writes to
        keep in its own chained fields (MARK)."""
        return audit_mark(self.records)

    def audit_rows(self, limit: int = 200) -> list[dict[str, Any]]:
        return self.records.query(
            f"SELECT * FROM console_audit ORDER BY id DESC LIMIT {int(limit)}"
        )

    def verify_audit(self) -> list[str]:
        """Walk the audit chain: one line per broken link or edited row."""
        return verify_audit(self.records)


class StoredFailures:
    """The console's failed logins (auth.FailureLog) in its records store, one connection per
    call (`open` gives a ConsoleStore), so every worker thread has its own."""

    def __init__(self, open_store: Callable[[], ConsoleStore]) -> None:
        self.open_store = open_store

    def failures_since(self, key: str, since: float) -> list[float]:
        with self.open_store() as store:
            return store.failures_since(key, since)

    def add_failure(self, key: str, at: float) -> None:
        with self.open_store() as store:
            store.add_failure(key, at)

    def clear_failures(self, key: str) -> None:
        with self.open_store() as store:
            store.clear_failures(key)


def _has_table(records: Records, table: str) -> bool:
    if records.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name = ?"
        )
    return bool(records.query(sql, table))


def has_audit(records: Records) -> bool:
    """Whether the records database holds a console audit trail (a console has used it)."""
    return _has_table(records, "console_audit")


def audit_count(records: Records) -> int:
    return int(records.query("SELECT COUNT(*) AS n FROM console_audit")[0]["n"])


def audit_mark(records: Records) -> str:
    """Where the console's audit trail in `records` stands now, "ID:HASH": its head, or (a
    head deleted) its newest row, or "0:" + GENESIS for a trail with none."""
    head = records.query("SELECT value FROM console_settings WHERE key = ?", AUDIT_HEAD)
    if head:
        return str(head[0]["value"])
    last = records.query("SELECT id, hash FROM console_audit ORDER BY id DESC LIMIT 1")
    return f"{last[0]['id']}:{last[0]['hash']}" if last else f"0:{GENESIS}"


def _audit_ids_used(records: Records) -> int:
    """The highest audit row id ever given (deleted rows included), 0 for a trail never
    written: SQLite's AUTOINCREMENT counter, PostgreSQL's identity sequence."""
    if records.dialect == "sqlite":
        rows = records.query("SELECT seq FROM sqlite_sequence WHERE name = 'console_audit'")
        used = int(rows[0]["seq"] or 0) if rows else 0
    else:
        rows = records.query(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence('console_audit', 'id')) AS seq"
        )
        used = int(rows[0]["seq"] or 0) if rows else 0
    newest = records.query("SELECT MAX(id) AS id FROM console_audit")[0]["id"]
    return max(used, int(newest or 0))


def set_head_at_upgrade(records: Records, at: str) -> None:
    """The records' schema 8 migration (range/records/store.py): a trail kept before its head
    was (OpenRange before 2026-11-30), or a console's tables with no head, gets one, once,
    from the trail as it stands (its newest row), and says so (HEAD_AT_UPGRADE: when, and the
    rows and ids then), so `verify_audit` says when rather than "missing": rows deleted before
    then cannot be told. A store no console has used is left alone."""
    if not has_audit(records):
        return
    records.execute(
        "CREATE TABLE IF NOT EXISTS console_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
    )
    if records.query("SELECT key FROM console_settings WHERE key = ?", AUDIT_HEAD):
        return
    if not _console_used(records):
        return  # nothing of a console yet: its first open starts the head (_start_head)
    kept = {
        "at": at,
        "rows": audit_count(records),
        "ids_given": _audit_ids_used(records),
    }
    records.execute(
        "INSERT INTO console_settings (key, value) VALUES (?, ?)", AUDIT_HEAD, audit_mark(records)
    )
    records.execute(
        "INSERT INTO console_settings (key, value) VALUES (?, ?)",
        HEAD_AT_UPGRADE,
        json.dumps(kept, sort_keys=True),
    )


def head_set_at_upgrade(records: Records) -> str | None:
    """What `records verify` says of a head the schema 8 migration set (None: it did not)."""
    if not _has_table(records, "console_settings"):
        return None
    rows = records.query("SELECT value FROM console_settings WHERE key = ?", HEAD_AT_UPGRADE)
    if not rows:
        return None
    try:
        kept = json.loads(str(rows[0]["value"]))
        day = str(kept["at"])[:10]
        then = f"{kept['rows']} rows, ids given up to {kept['ids_given']}"
    except (ValueError, TypeError, KeyError):
        return f"audit: console_settings {HEAD_AT_UPGRADE!r} is not what OpenRange wrote: edited"
    return (
        f"console audit: the chain head was set at the upgrade to schema 8 on {day} ({then});"
        " rows deleted before then cannot be told"
    )


def verify_audit(records: Records) -> list[str]:
    """Walk the console's audit chain in `records`: one line per broken link or edited row
    (`openrange records verify` and the console's /audit both say them), and a trail shorter
    than a record the console wrote says it was. The rows, the chain's head and the records
    are read in one snapshot: a row audited meanwhile is seen in all or none."""
    with records.snapshot():
        return _verify_audit(records)


def _verify_audit(records: Records) -> list[str]:
    if not has_audit(records):  # the console's tables gone, or never made
        return _marks_problems(records, None, 0)
    problems = []
    previous, last_id, walked = GENESIS, 0, 0
    hashes: dict[int, str] = {}
    for row in records.query("SELECT * FROM console_audit ORDER BY id"):
        walked += 1
        if row["prev_hash"] != previous:
            problems.append(f"audit row {row['id']}: a row before it was deleted or changed")
        if audit_hash(row) != row["hash"]:
            problems.append(f"audit row {row['id']}: edited after it was written")
        previous, last_id = row["hash"], row["id"]
        hashes[int(row["id"])] = str(row["hash"])
    settings = _has_table(records, "console_settings")
    head = (
        records.query("SELECT value FROM console_settings WHERE key = ?", AUDIT_HEAD)
        if settings
        else []
    )
    if not head:
        used = _audit_ids_used(records)
        kept = _console_kept(records, settings)
        if used:  # rows, or ids once given, and no head: it was deleted (rc20 #3)
            problems.append(
                f"audit: the chain head (console_settings 'audit_head') is missing ({walked}"
                f" rows left, ids given up to {used}): rows deleted at the end cannot be"
                " found; restore it from a backup"
            )
        elif kept:  # no row, no id ever given, but the console was used (rc21 #6)
            problems.append(
                f"audit: the chain head (console_settings 'audit_head') is missing (0 rows,"
                f" no audit id given), yet {kept} are there: the console was used and its"
                " trail wiped; restore it from a backup"
            )
    elif head[0]["value"] != f"{last_id}:{previous}":
        problems.append(
            f"audit: the newest row is missing or changed (the chain ended at"
            f" row {str(head[0]['value']).split(':')[0]})"
        )
    return problems + _marks_problems(records, hashes, last_id)


def _console_used(records: Records) -> bool:
    """Whether a console has used this database: its settings, its accounts, or an audit id
    ever given (a trail wiped still gave its ids)."""
    settings = _has_table(records, "console_settings")
    return bool(_console_kept(records, settings) or _audit_ids_used(records))


def _console_kept(records: Records, settings: bool) -> str:
    """What shows a console used this database ("the console's settings lane_key,
    session_key and 2 accounts"), or "" when nothing does."""
    keys = (
        [str(r["key"]) for r in records.query("SELECT key FROM console_settings ORDER BY key")]
        if settings
        else []
    )
    accounts = (
        int(records.query("SELECT COUNT(*) AS n FROM console_users")[0]["n"])
        if _has_table(records, "console_users")
        else 0
    )
    said = [f"the console's settings {', '.join(keys)}"] if keys else []
    if accounts:
        said.append(f"{accounts} console account{'' if accounts == 1 else 's'}")
    return " and ".join(said)


def _marks(records: Records) -> list[tuple[int, str, str]]:
    """Each record the console wrote with the audit head as it stood then (MARK): (the row it
    names, its hash, the record's name), newest row first."""
    found: list[tuple[int, str, str]] = []
    pattern = f'%"{MARK}":%'
    sources = [
        ("drill_runs", "result", "drill run"),
        ("qualifications", "detail", "qualification record"),
        ("drill_run_amendments", "detail", "drill run correction"),
    ]
    for table, column, what in sources:
        if not _has_table(records, table):
            continue  # before schema 6 (amendments), or dropped: `records verify` says so
        for row in records.query(
            f"SELECT id, {column} AS kept FROM {table} WHERE {column} LIKE ? ORDER BY id", pattern
        ):
            try:
                mark = json.loads(str(row["kept"])).get(MARK)
                ref, _, digest = str(mark).partition(":")
                number = int(ref)
            except (ValueError, AttributeError):
                continue  # damaged: the records' own chains report it
            if number > 0:
                found.append((number, digest, f"{what} {row['id']}"))
    return sorted(found, key=lambda m: -m[0])


def _marks_problems(records: Records, hashes: dict[int, str] | None, newest: int) -> list[str]:
    """A trail shorter than, or other than, the one the console's records saw (rc21 #6): the
    newest such record named, with how many others say so too."""
    short: list[tuple[int, str, str]] = []
    other: list[tuple[int, str, str]] = []
    for mark in _marks(records):
        number, digest, _ = mark
        if hashes is None or number not in hashes:
            short.append(mark)
        elif hashes[number] != digest:
            other.append(mark)
    problems = []

    def more(marks: list[tuple[int, str, str]]) -> str:
        n = len(marks) - 1
        return f" ({n} other record{' says' if n == 1 else 's say'} so too)" if n else ""

    if short:
        number, _, what = short[0]
        if hashes is None:
            trail = "this database holds no console audit trail (its tables were removed)"
        elif not hashes:
            trail = "the trail holds no row at all"
        else:
            trail = f"the trail has no row {number} ({len(hashes)} rows, the newest {newest})"
        problems.append(
            f"audit: {what} was recorded by the console when its audit trail reached row"
            f" {number}, but {trail}: the trail is shorter than the record says; restore it"
            f" from a backup{more(short)}"
        )
    if other:
        number, digest, what = other[0]
        problems.append(
            f"audit: {what} was recorded by the console when audit row {number} hashed"
            f" {digest[:12]}, but that row now hashes {hashes[number][:12] if hashes else '?'}:"
            f" the trail was rewritten since{more(other)}"
        )
    return problems
