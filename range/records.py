"""Records: officers, drill runs and qualification attempts, with an audit trail.

SQLite by default (a file in the user's data directory, WAL); PostgreSQL when
`OPENRANGE_DATABASE_URL` names one. Schema changes are numbered migrations. Every finished
qualification carries the hash of the one before it (and a chain head row holds the last), so
`openrange records verify` finds an edited or deleted record. An attempt in progress lives in its
own table, updated after every shot, until it is finished in one transaction: a crash leaves an
attempt marked incomplete and recoverable, never a half-written record.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
URL_ENV = "OPENRANGE_DATABASE_URL"

_MIGRATIONS = [
    """
    CREATE TABLE officers (
        badge TEXT PRIMARY KEY, name TEXT NOT NULL, agency TEXT NOT NULL,
        unit TEXT NOT NULL DEFAULT '');
    CREATE TABLE drill_runs (
        id {auto}, badge TEXT NOT NULL, drill TEXT NOT NULL, seed BIGINT NOT NULL,
        recorded TEXT NOT NULL, software_version TEXT NOT NULL, decision TEXT NOT NULL,
        score REAL NOT NULL, passed INTEGER NOT NULL, run_dir TEXT, result TEXT NOT NULL);
    CREATE TABLE attempts_in_progress (
        id {auto}, badge TEXT NOT NULL, course TEXT NOT NULL, seed BIGINT NOT NULL,
        started TEXT NOT NULL, software_version TEXT NOT NULL, devices TEXT NOT NULL,
        calibration TEXT NOT NULL, shots TEXT NOT NULL);
    CREATE TABLE qualifications (
        id {auto}, badge TEXT NOT NULL, course TEXT NOT NULL, started TEXT NOT NULL,
        finished TEXT NOT NULL, seed BIGINT NOT NULL, software_version TEXT NOT NULL,
        devices TEXT NOT NULL, calibration TEXT NOT NULL, points INTEGER NOT NULL,
        max_points INTEGER NOT NULL, hits INTEGER NOT NULL, passed INTEGER NOT NULL,
        detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE chain_head (id INTEGER PRIMARY KEY, last_id BIGINT NOT NULL,
        last_hash TEXT NOT NULL);
    INSERT INTO chain_head (id, last_id, last_hash) VALUES (1, 0, '{genesis}');
    """,
]

# The fields of a qualification its hash covers, in order.
_HASHED = (
    "id",
    "badge",
    "course",
    "started",
    "finished",
    "seed",
    "software_version",
    "devices",
    "calibration",
    "points",
    "max_points",
    "hits",
    "passed",
    "detail",
    "prev_hash",
)


def default_url() -> str:
    url = os.environ.get(URL_ENV)
    if url:
        return url
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'openrange' / 'records.sqlite'}"


def record_hash(row: dict[str, Any]) -> str:
    canonical = json.dumps([row[k] for k in _HASHED], separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RecordsError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Problem:
    qualification: int
    what: str


class Records:
    """One records database. `Records.open()` picks the backend from the URL."""

    def __init__(self, connection: Any, dialect: str, url: str) -> None:
        self._db = connection
        self.dialect = dialect
        self.url = url
        self._migrate()

    @classmethod
    def open(cls, url: str | None = None) -> Records:
        url = url or default_url()
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            return cls(db, "sqlite", url)
        if url.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
                from psycopg.rows import dict_row
            except ImportError:
                raise RecordsError(
                    "PostgreSQL records need psycopg: pip install 'psycopg[binary]'"
                ) from None
            return cls(
                psycopg.connect(url, autocommit=True, row_factory=dict_row), "postgresql", url
            )
        raise RecordsError(f"records URL {url!r}: use sqlite:///PATH or postgresql://...")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Records:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def _rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        cur = self._db.execute(self._sql(sql), args)
        return [dict(r) for r in cur.fetchall()]

    def _run(self, sql: str, *args: Any) -> Any:
        return self._db.execute(self._sql(sql), args)

    @contextmanager
    def _transaction(self, exclusive: bool = False) -> Iterator[None]:
        """One transaction; `exclusive` serialises writers (the hash chain needs it)."""
        if self.dialect == "sqlite":
            # Always IMMEDIATE: a deferred transaction that reads and then writes must upgrade
            # its lock, and in WAL mode that fails at once ("database is locked") when another
            # lane committed meanwhile; the busy timeout only covers waiting for the lock.
            self._db.execute("BEGIN IMMEDIATE")
        else:
            self._db.execute("BEGIN")
            if exclusive:
                self._db.execute("LOCK TABLE chain_head IN EXCLUSIVE MODE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        auto = (
            "INTEGER PRIMARY KEY AUTOINCREMENT"
            if self.dialect == "sqlite"
            else "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        )
        with self._transaction(exclusive=True) if self.dialect == "sqlite" else self._pg_lock():
            self._run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = self._rows("SELECT version FROM schema_version")
            current = rows[0]["version"] if rows else 0
            if not rows:
                self._run("INSERT INTO schema_version (version) VALUES (0)")
            for number, migration in enumerate(_MIGRATIONS[current:], start=current + 1):
                for statement in migration.format(auto=auto, genesis=GENESIS).split(";"):
                    if statement.strip():
                        self._run(statement)
                self._run("UPDATE schema_version SET version = ?", number)

    @contextmanager
    def _pg_lock(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            self._db.execute("SELECT pg_advisory_xact_lock(4242)")  # one migrator at a time
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._rows("SELECT version FROM schema_version")[0]["version"])

    # -- officers and drill runs -----------------------------------------------------------------

    def add_officer(self, badge: str, name: str, agency: str, unit: str = "") -> None:
        with self._transaction():
            if self._rows("SELECT badge FROM officers WHERE badge = ?", badge):
                self._run(
                    "UPDATE officers SET name = ?, agency = ?, unit = ? WHERE badge = ?",
                    name,
                    agency,
                    unit,
                    badge,
                )
            else:
                self._run(
                    "INSERT INTO officers (badge, name, agency, unit) VALUES (?, ?, ?, ?)",
                    badge,
                    name,
                    agency,
                    unit,
                )

    def officers(self) -> list[dict[str, Any]]:
        return self._rows("SELECT badge, name, agency, unit FROM officers ORDER BY badge")

    def officer(self, badge: str) -> dict[str, Any]:
        rows = self._rows("SELECT badge, name, agency, unit FROM officers WHERE badge = ?", badge)
        if not rows:
            raise RecordsError(
                f"no officer with badge {badge!r}: add them with `openrange records officers --add`"
            )
        return rows[0]

    def add_drill_run(self, badge: str, result: dict[str, Any]) -> int:
        score = result["score"]
        with self._transaction():
            cur = self._run(
                "INSERT INTO drill_runs (badge, drill, seed, recorded, software_version, decision,"
                " score, passed, run_dir, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                + (" RETURNING id" if self.dialect == "postgresql" else ""),
                badge,
                result["drill"],
                result["seed"],
                _now(),
                result["openrange_version"],
                score["decision"],
                score["score"],
                int(score["passed"]),
                result.get("run_dir"),
                json.dumps(result, sort_keys=True),
            )
            return self._last_id(cur)

    def drill_runs(self, badge: str) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT id, drill, seed, recorded, decision, score, passed FROM"
            " drill_runs WHERE badge = ? ORDER BY id",
            badge,
        )

    def _last_id(self, cur: Any) -> int:
        if self.dialect == "postgresql":
            return int(cur.fetchone()["id"])
        return int(cur.lastrowid)

    # -- qualification attempts ------------------------------------------------------------------

    def begin_attempt(
        self,
        badge: str,
        course: str,
        seed: int,
        software_version: str,
        devices: list[dict[str, str]],
        calibration: list[dict[str, Any]],
    ) -> int:
        self.officer(badge)
        with self._transaction():
            cur = self._run(
                "INSERT INTO attempts_in_progress (badge, course, seed, started, software_version,"
                " devices, calibration, shots) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                + (" RETURNING id" if self.dialect == "postgresql" else ""),
                badge,
                course,
                seed,
                _now(),
                software_version,
                json.dumps(devices),
                json.dumps(calibration),
                "[]",
            )
            return self._last_id(cur)

    def record_shot(self, attempt: int, shot: dict[str, Any]) -> None:
        """Keep each shot as it is fired: a crash loses nothing already fired."""
        with self._transaction():
            rows = self._rows("SELECT shots FROM attempts_in_progress WHERE id = ?", attempt)
            if not rows:
                raise RecordsError(f"no attempt in progress with id {attempt}")
            shots = [*json.loads(rows[0]["shots"]), shot]
            self._run(
                "UPDATE attempts_in_progress SET shots = ? WHERE id = ?", json.dumps(shots), attempt
            )

    def incomplete(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, badge, course, seed, started, shots FROM attempts_in_progress ORDER BY id"
        )
        for row in rows:
            row["shots"] = len(json.loads(row.pop("shots")))
        return rows

    def finish_attempt(self, attempt: int, score: dict[str, Any]) -> int:
        """Move a finished attempt into the hash-chained qualification records, atomically."""
        with self._transaction(exclusive=True):
            rows = self._rows("SELECT * FROM attempts_in_progress WHERE id = ?", attempt)
            if not rows:
                raise RecordsError(f"no attempt in progress with id {attempt}")
            progress = rows[0]
            head = self._rows("SELECT last_id, last_hash FROM chain_head WHERE id = 1")[0]
            detail = json.dumps(
                {"shots": json.loads(progress["shots"]), "score": score}, sort_keys=True
            )
            row = {
                "badge": progress["badge"],
                "course": progress["course"],
                "started": progress["started"],
                "finished": _now(),
                "seed": progress["seed"],
                "software_version": progress["software_version"],
                "devices": progress["devices"],
                "calibration": progress["calibration"],
                "points": score["points"],
                "max_points": score["max_points"],
                "hits": score["hits"],
                "passed": int(score["passed"]),
                "detail": detail,
                "prev_hash": head["last_hash"],
            }
            cur = self._run(
                "INSERT INTO qualifications ("
                + ", ".join(row)
                + ", hash) VALUES ("
                + ", ".join("?" for _ in row)
                + ", '')"
                + (" RETURNING id" if self.dialect == "postgresql" else ""),
                *row.values(),
            )
            row["id"] = self._last_id(cur)
            digest = record_hash(row)
            self._run("UPDATE qualifications SET hash = ? WHERE id = ?", digest, row["id"])
            self._run(
                "UPDATE chain_head SET last_id = ?, last_hash = ? WHERE id = 1", row["id"], digest
            )
            self._run("DELETE FROM attempts_in_progress WHERE id = ?", attempt)
            return int(row["id"])

    def qualification(self, qualification: int) -> dict[str, Any]:
        rows = self._rows("SELECT * FROM qualifications WHERE id = ?", qualification)
        if not rows:
            raise RecordsError(f"no qualification record {qualification}")
        return rows[0]

    def qualifications(
        self, badge: str | None = None, since: str | None = None, until: str | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM qualifications WHERE 1 = 1"
        args: list[Any] = []
        if badge is not None:
            sql += " AND badge = ?"
            args.append(badge)
        if since is not None:
            sql += " AND finished >= ?"
            args.append(since)
        if until is not None:
            sql += " AND finished < ?"
            args.append(until)
        return self._rows(sql + " ORDER BY id", *args)

    def verify(self) -> list[Problem]:
        """Walk the chain: an edited record breaks its own hash, a deleted one the next link
        (or the chain head, if it was the last)."""
        problems = []
        previous_hash, previous_id = GENESIS, 0
        for row in self._rows("SELECT * FROM qualifications ORDER BY id"):
            if row["prev_hash"] != previous_hash:
                problems.append(
                    Problem(
                        row["id"],
                        f"does not follow record {previous_id}:"
                        " a record before it was deleted or changed",
                    )
                )
            if record_hash(row) != row["hash"]:
                problems.append(
                    Problem(row["id"], "its contents no longer match its hash: it was edited")
                )
            previous_hash, previous_id = row["hash"], row["id"]
        head = self._rows("SELECT last_id, last_hash FROM chain_head WHERE id = 1")[0]
        if head["last_hash"] != previous_hash:
            problems.append(
                Problem(
                    int(head["last_id"]),
                    "the newest record is missing or changed: the chain ends elsewhere",
                )
            )
        return problems
