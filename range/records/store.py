"""Records: officers, drill runs and qualification attempts, with an audit trail.

SQLite by default (a file in the user's data directory, WAL, synchronous=FULL); PostgreSQL when
`OPENRANGE_DATABASE_URL` names one. Schema changes are numbered migrations. Every finished
qualification carries the hash of the one before it (and a chain head row holds the last); every
officer version and drill run is chained the same way in the ledger. `openrange records verify`
finds an edited or deleted record, reading everything in one snapshot. An attempt in progress lives
in its own tables, one row per shot, until it is finished in one transaction: a crash leaves an
attempt incomplete and recoverable (listed, closed or finished), never a half-written record.

Every database error leaves this module as one `RecordsError` line that names the store (its URL
with any password redacted), never a driver traceback.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from drills.course import Course

GENESIS = "0" * 64
# Row ids are BIGINT in both dialects: a number outside it names no row (and SQLite's driver
# cannot even bind it: OverflowError), so a lookup by such an id finds nothing.
ID_MIN, ID_MAX = -(2**63), 2**63 - 1
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
    # 2: officers and drill runs join an audit chain of their own (the ledger, head row 2); shots
    # in progress get a row each (recording one costs the same however long the attempt is);
    # indexes for the roster and history.
    """
    CREATE TABLE ledger (
        id {auto}, kind TEXT NOT NULL, ref TEXT NOT NULL, digest TEXT NOT NULL,
        prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE INDEX ledger_ref ON ledger (kind, ref, id);
    INSERT INTO chain_head (id, last_id, last_hash) VALUES (2, 0, '{genesis}');
    CREATE TABLE attempt_shots (
        attempt BIGINT NOT NULL, seq INTEGER NOT NULL, shot TEXT NOT NULL,
        PRIMARY KEY (attempt, seq));
    CREATE INDEX qualifications_badge ON qualifications (badge, course, finished);
    CREATE INDEX qualifications_finished ON qualifications (finished);
    CREATE INDEX drill_runs_badge ON drill_runs (badge, id);
    """,
    # 3: the course file an attempt fired (its content hash) and whether it is the built-in
    # course of its id, unchanged ('builtin'), an edited copy that keeps a built-in id
    # ('modified': never the built-in course's qualification) or another course ('file');
    # '' for records kept before (chained as they were).
    """
    ALTER TABLE attempts_in_progress ADD COLUMN course_sha256 TEXT NOT NULL DEFAULT '';
    ALTER TABLE qualifications ADD COLUMN course_sha256 TEXT NOT NULL DEFAULT '';
    ALTER TABLE qualifications ADD COLUMN course_origin TEXT NOT NULL DEFAULT '';
    """,
    # 4: who fires an attempt in progress: 'officer', or a scripted shooter profile's id (a
    # simulation: its record says so in its chained detail and never counts as qualified);
    # a resume by another shooter is refused. Attempts begun before were an officer's.
    """
    ALTER TABLE attempts_in_progress ADD COLUMN shooter TEXT NOT NULL DEFAULT 'officer';
    """,
    # 5: the drill file a drill run played (its content hash, the run log's `drill_sha256`) and
    # whether it is the built-in drill of its id ('builtin'), an edited copy that keeps a
    # built-in id ('modified') or another drill ('file'), chained in the run's ledger digest;
    # '' for runs kept before (chained as they were).
    """
    ALTER TABLE drill_runs ADD COLUMN drill_sha256 TEXT NOT NULL DEFAULT '';
    ALTER TABLE drill_runs ADD COLUMN drill_origin TEXT NOT NULL DEFAULT '';
    """,
    # 6: a drill run played for the records is registered when it starts (a run killed
    # meanwhile is listed by `records incomplete` and closed by `records close --drill-run`,
    # as an attempt is), and finished into `drill_runs` in one transaction; an instructor's
    # later rescoring of a kept run (`speech correct`) is an amendment row of its own, chained
    # in the ledger: the run's own row is never edited.
    """
    CREATE TABLE drill_runs_in_progress (
        id {auto}, badge TEXT NOT NULL, drill TEXT NOT NULL, seed BIGINT NOT NULL,
        started TEXT NOT NULL, software_version TEXT NOT NULL, officer TEXT NOT NULL,
        drill_sha256 TEXT NOT NULL, run_dir TEXT);
    CREATE TABLE drill_run_amendments (
        id {auto}, run BIGINT NOT NULL, recorded TEXT NOT NULL, by_whom TEXT NOT NULL,
        decision TEXT NOT NULL, score REAL NOT NULL, passed INTEGER NOT NULL,
        detail TEXT NOT NULL);
    CREATE INDEX drill_run_amendments_run ON drill_run_amendments (run, id);
    """,
    # 7: a drill run never graded (INCOMPLETE, ABORTED), and an amendment of one, keeps no
    # score: NULL, not the scorer's number for a run it did not grade (rc19 #5). The `score`
    # columns lose NOT NULL (`_migrate_to_7`: PostgreSQL drops the constraint, SQLite copies
    # each table into one without it). Rows kept before keep their number: chained as they were.
    "",
    # 8: the console's audit trail (range/console/store.py), where a console has used the
    # store, gets its chain head if it has none: a trail kept before heads were (OpenRange
    # before 2026-11-30) would read as a deleted head for ever. Set once, from the trail as it
    # stands, and marked as set at the upgrade, with when and the rows then
    # (`_migrate_to_8`): `records verify` says so rather than "missing". Records the console
    # writes from now on keep the head they saw, chained (rc21 #6), so a schema 7 OpenRange,
    # which would not, is refused by the version.
    "",
]
SCHEMA_VERSION = len(_MIGRATIONS)
_CREATES = re.compile(r"CREATE TABLE (\w+)")


def schema_tables(version: int = SCHEMA_VERSION) -> tuple[str, ...]:
    """The tables a store of schema `version` holds, in the order its migrations make them
    (`schema_version` first): read from the migrations themselves, so the list `verify` and
    the console check a store against never drifts from what a migration creates."""
    made = [name for migration in _MIGRATIONS[:version] for name in _CREATES.findall(migration)]
    return ("schema_version", *made)


# The tables `verify` walks (the chains, and what the ledger chains); one of them missing, the
# chains cannot be walked at all. A missing table `verify` does not read (`attempt_shots`: an
# attempt in progress's shots) is reported all the same.
WALKED_TABLES = frozenset(
    {"qualifications", "chain_head", "ledger", "officers", "drill_runs", "drill_run_amendments"}
)
QUALIFICATIONS, LEDGER = 1, 2  # the chain head rows
# What `Records.counts` counts: its key, and the table it counts.
_COUNTED = {
    "records": "qualifications",
    "officers": "officers",
    "drill_runs": "drill_runs",
    "in_progress": "attempts_in_progress",
    "drill_runs_in_progress": "drill_runs_in_progress",
    "amendments": "drill_run_amendments",
}

_OFFICER_FIELDS = ("badge", "name", "agency", "unit")
_DRILL_RUN_FIELDS = (
    "id",
    "badge",
    "drill",
    "seed",
    "recorded",
    "software_version",
    "decision",
    "score",
    "passed",
    "run_dir",
    "result",
)

# What a drill run listing shows of each run (history, the CSV export, the console's tables).
LISTED_RUN_FIELDS = (
    "id",
    "badge",
    "drill",
    "drill_sha256",
    "drill_origin",
    "seed",
    "recorded",
    "decision",
    "score",
    "passed",
)

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


# The password runs to the LAST '@' of the authority: one with an unencoded '@' in it
# (`bob:Winter@2024@host`) is hidden whole, not cut at its own '@'.
_SECRET = re.compile(r"(://[^:/@\s]*:)([^/\s]*)(@)")
_PASSWORD_KEY = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def redact(text: str, url: str | None = None) -> str:
    """`text` with every password in a URL (`scheme://user:SECRET@host`) or a libpq keyword
    string (`password=SECRET`) replaced by `***`: for every message and log. With `url`, the
    password of that URL is also hidden wherever a driver's own message echoes it or a piece
    of it (libpq reads `bob:Winter@2024@host` as host `2024@host`)."""
    out = _PASSWORD_KEY.sub(r"\1***", _SECRET.sub(r"\1***\3", text))
    if url is not None:
        found = _SECRET.search(url)
        if found is not None and found.group(2):
            secret = found.group(2)
            for piece in sorted({secret, *secret.split("@")}, key=len, reverse=True):
                if piece:
                    out = out.replace(piece, "***")
    return out


def _scheme_lowered(url: str) -> str:
    """A URL with its scheme in lower case (schemes are case-insensitive: RFC 3986 §3.1)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.lower()}{sep}{rest}" if sep else url


def default_url() -> str:
    """$OPENRANGE_DATABASE_URL, else the user's SQLite file; RecordsError when the variable is
    set but empty (a slip that would otherwise silently use the default store)."""
    url = os.environ.get(URL_ENV)
    if url is not None and not url.strip():
        raise RecordsError(f"${URL_ENV} is set but empty: unset it or give a records URL")
    if url:
        return url
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'openrange' / 'records.sqlite'}"


class RecordsError(RuntimeError):
    pass


_INSERT_SHOT = (
    "INSERT INTO attempt_shots (attempt, seq, shot)"
    " SELECT a.id, COALESCE((SELECT MAX(s.seq) + 1 FROM attempt_shots s"
    " WHERE s.attempt = a.id), 0), ? FROM attempts_in_progress a WHERE a.id = ?"
)


def _digest(values: list[Any]) -> str:
    canonical = json.dumps(values, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _fields_digest(row: dict[str, Any], fields: tuple[str, ...], later: tuple[str, ...]) -> str:
    """The digest of a row's `fields`, and of the `later` ones (a later schema's) when any of
    them holds a value: a row kept before them has '' in each and keeps its old digest."""
    values = [row[k] for k in fields]
    if any(row.get(k) for k in later):
        values += [row[k] for k in later]
    return _digest(values)


# Since schema 3, also these (a record kept before has '' in both and keeps its old hash).
_HASHED_COURSE = ("course_sha256", "course_origin")


def record_hash(row: dict[str, Any]) -> str:
    return _fields_digest(row, _HASHED, _HASHED_COURSE)


def builtin_course_sha256(course: str) -> str | None:
    """The content hash of the built-in course file with this id (None: no such built-in)."""
    from drills.course import builtin_course_files

    path = builtin_course_files().get(course)
    return None if path is None else hashlib.sha256(path.read_bytes()).hexdigest()


def course_origin(course: str, sha256: str) -> str:
    """'builtin' (the built-in course of that id, byte for byte), 'modified' (another file
    that keeps a built-in id) or 'file' (a course of its own id); '' when no hash is known."""
    if not sha256:
        return ""
    builtin = builtin_course_sha256(course)
    if builtin is None:
        return "file"
    return "builtin" if builtin == sha256 else "modified"


def closed_entry(by: str, reason: str, attempt: int | None = None) -> dict[str, Any]:
    """Who closed an attempt INCOMPLETE, why and when, as its record's detail keeps it
    (`incomplete`): the one entry `records close` (with the in-progress `attempt`'s number)
    and a lane's cut-short attempt (`by` lane:NAME) both write."""
    closed: dict[str, Any] = {"closed_by": by, "reason": reason, "closed": _now()}
    if attempt is not None:
        closed["attempt"] = attempt
    return closed


def closed_score(max_points: int) -> dict[str, Any]:
    """The score an attempt closed INCOMPLETE records, however it was closed (`records close`,
    or a lane's attempt cut short by a stopped lane): 0 points and 0 hits of the course's
    maximum, never a pass. Its shots are all kept, each with what it counted (the sheet lists
    them); a part score would read as a fail of an attempt that was never finished (nu22 #5)."""
    return {"points": 0, "max_points": max_points, "hits": 0, "passed": False, "complete": False}


def _course_max_points(course: str, sha256: str) -> int:
    """The maximum of the course an attempt fired, when it is a built-in one (0 otherwise: the
    file it fired is not kept in the store)."""
    if course_origin(course, sha256) not in ("", "builtin"):
        return 0
    from drills.course import builtin_courses

    found = builtin_courses().get(course)
    return 0 if found is None else found.max_points


def course_label(row: dict[str, Any]) -> str:
    """A record's course as every listing shows it: the id, and for an edited copy of a
    built-in course, `fbi-pistol-2019-v1 (modified, sha256 1a2b3c4d5e6f)`."""
    if row.get("course_origin") == "modified":
        return f"{row['course']} (modified, sha256 {str(row['course_sha256'])[:12]})"
    return str(row["course"])


def builtin_drill_sha256(drill: str) -> str | None:
    """The content hash of the built-in drill file with this id (None: no such built-in)."""
    from drills.schema import builtin_drill_files

    path = builtin_drill_files().get(drill)
    return None if path is None else hashlib.sha256(path.read_bytes()).hexdigest()


def drill_origin(drill: str, sha256: str) -> str:
    """As `course_origin`, for a drill file: 'builtin', 'modified' (another file that keeps a
    built-in id) or 'file'; '' when no hash is known."""
    if not sha256:
        return ""
    builtin = builtin_drill_sha256(drill)
    if builtin is None:
        return "file"
    return "builtin" if builtin == sha256 else "modified"


def drill_label(row: dict[str, Any]) -> str:
    """A drill run's drill as every listing shows it: the id, and for an edited copy of a
    built-in drill, `phone-draw-v1 (modified, sha256 1a2b3c4d5e6f)`."""
    if row.get("drill_origin") == "modified":
        return f"{row['drill']} (modified, sha256 {str(row['drill_sha256'])[:12]})"
    return str(row["drill"])


def content_label(kind: Literal["course", "drill"], ident: str, sha256: str) -> tuple[str, str]:
    """How every command names a course or drill by its content (`score`, `report`, `course
    show` / `validate`, `drill show` / `validate`, the after-action report), as the records
    do: (label, note). The label is the id, or for an edited copy of a built-in
    `fbi-pistol-2019-v1 (modified, sha256 1a2b3c4d5e6f)`; the note ('' unless modified) says
    that the copy is not the built-in one. One decision: `course_origin` / `drill_origin`."""
    if kind == "course":
        origin = course_origin(ident, sha256)
        row = {"course": ident, "course_origin": origin, "course_sha256": sha256}
        label = course_label(row)
        counts = "it never counts as the built-in course's qualification"
    else:
        origin = drill_origin(ident, sha256)
        label = drill_label({"drill": ident, "drill_origin": origin, "drill_sha256": sha256})
        counts = "its runs are not runs of the built-in drill"
    if origin != "modified":
        return label, ""
    return label, f"this file differs from the built-in {ident}: {counts}"


def officer_digest(row: dict[str, Any]) -> str:
    return _digest([row[k] for k in _OFFICER_FIELDS])


# Since schema 5, also these (a run kept before has '' in both and keeps its old digest).
_DRILL_RUN_FILE = ("drill_sha256", "drill_origin")


def drill_run_digest(row: dict[str, Any]) -> str:
    return _fields_digest(row, _DRILL_RUN_FIELDS, _DRILL_RUN_FILE)


# Drill runs (`d`), each with `chained`: the digest the ledger chained for it (NULL for a run
# kept before the ledger chained one).
_CHAINED_DRILL_RUNS = (
    "SELECT d.*, (SELECT l.digest FROM ledger l WHERE l.kind = 'drill_run'"
    " AND l.ref = CAST(d.id AS TEXT) ORDER BY l.id DESC LIMIT 1) AS chained"
    " FROM drill_runs d"
)


def drill_run_edited(row: dict[str, Any]) -> bool:
    """Whether a drill run's row, read with its `chained` digest, no longer matches the digest
    the ledger chained for it: edited outside OpenRange (one kept before the ledger chained a
    digest is not judged)."""
    chained = row.get("chained")
    return chained is not None and drill_run_digest(row) != chained


_AMENDMENT_FIELDS = ("id", "run", "recorded", "by_whom", "decision", "score", "passed", "detail")


def amendment_digest(row: dict[str, Any]) -> str:
    return _digest([row[k] for k in _AMENDMENT_FIELDS])


# A drill run's log inside its folder (range/runs/runlog.py EVENTS). Its sha256 is kept in the
# recorded result (`log_sha256`), so in the digest the ledger chains: an edited log is found.
RUN_LOG = "events.jsonl"
NO_LOG_HASH = "no log hash kept (recorded before log hashes were)"
# A drill run closed by a range master (`records close --drill-run`) whose run folder had no
# log then (moved or deleted): nothing of it was kept to hash (rc19 #1), not an old record.
NO_LOG_CLOSED = "no log hash kept (its run folder had no log when it was closed)"
# A run closed (`records close --drill-run`) by a version that did not record whether its
# folder had a log (rv20a #1): not known, so not said either way.
NO_LOG_UNKNOWN = (
    "no log hash kept (closed by a version that did not hash logs or record whether its"
    " folder had one)"
)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_mismatch(path: Path, kept: str, where: str, verb: str) -> str | None:
    """Why `path` is not the file whose sha256 was `kept` (`where`: "in run_started", "when
    it was recorded"), as every check of a kept file says it, or None when it matches:
    "no longer matches the sha256 kept WHERE (kept, now): it was VERB". Raises OSError when
    it cannot be read."""
    now = file_sha256(path)
    if now == kept:
        return None
    return f"no longer matches the sha256 kept {where} ({kept[:12]}, now {now[:12]}): it was {verb}"


def _edited_line(what: str, ref: object) -> str:
    """A record that no longer matches the digest the ledger chained for it, in the words
    `verify` and `history` say it: `officer 4411 no longer matches its hash: it was edited`."""
    return f"{what} {ref} no longer matches its hash: it was edited"


def log_check(row: dict[str, Any]) -> tuple[bool | None, str]:
    """Whether a recorded drill run's log on disk is the one recorded: (True, "log sha256
    ..."), (False, why: edited or missing), or (None, why none was kept): NO_LOG_HASH for a
    run recorded without one (an older record, or a run kept without its folder),
    NO_LOG_CLOSED for a run closed when its folder had no log (`close_drill_run` kept that
    fact), NO_LOG_UNKNOWN for one closed by a version that did not keep it."""
    try:
        result = stored_json(row, "result", "drill run") or {}
    except RecordsError as exc:
        return False, str(exc)
    kept = result.get("log_sha256") if isinstance(result, dict) else None
    closed = result.get("closed") if isinstance(result, dict) else None
    if not kept and row.get("run_dir") and isinstance(closed, dict):
        if "log_missing" not in closed:
            return None, NO_LOG_UNKNOWN
        if closed["log_missing"] is True:
            return None, NO_LOG_CLOSED
    return kept_log_check(row.get("run_dir"), kept)


def kept_log_check(run_dir: Any, kept: Any) -> tuple[bool | None, str]:
    """Whether the log in `run_dir` is the one whose sha256 a record `kept` (a drill run's, or
    one part of a qualification attempt's): (True, "log sha256 ..."), (False, why: edited or
    missing), or (None, NO_LOG_HASH) when the record kept no hash or no folder. The one check
    behind `records verify`, `score` and `report` for both kinds of record."""
    if not kept or not run_dir:
        return None, NO_LOG_HASH
    log = Path(str(run_dir)) / RUN_LOG
    try:
        why = sha256_mismatch(log, str(kept), "when it was recorded", "edited")
    except OSError as exc:
        return False, f"its log {log} cannot be read ({exc.strerror or exc}): moved or deleted?"
    if why is not None:
        return False, f"its log {log} {why}"
    return True, f"log sha256 {str(kept)[:12]} as recorded"  # the log's, as it matches


def attempt_log_checks(row: dict[str, Any]) -> list[tuple[bool | None, str]]:
    """kept_log_check for each part of a qualification record (a resumed attempt has several)
    whose log's sha256 the record kept ([] for a record kept without: an older one, or one
    whose lane kept no folder). A damaged detail is the chain walk's to report."""
    try:
        detail = stored_json(row, "detail")
    except RecordsError:
        return []
    shots = detail.get("shots", []) if isinstance(detail, dict) else []
    return [
        kept_log_check(kept.get("run_dir"), kept.get("log_sha256"))
        for kept in attempt_logs(shots)
        if kept.get("log_sha256")
    ]


def _ledger_hash(row: dict[str, Any]) -> str:
    return _digest([row["id"], row["kind"], row["ref"], row["digest"], row["prev_hash"]])


def stored_json(row: dict[str, Any], field: str, what: str = "record") -> Any:
    """A JSON column of a stored row, parsed; a column that is not JSON any more (edited by
    hand in the database) raises RecordsError in one line naming the record and the field:
    `record 1: detail is not valid JSON (edited?): run records verify`."""
    value = row.get(field)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise RecordsError(
            f"{what} {row.get('id')}: {field} is not valid JSON (edited?): run records verify"
        ) from None


DAMAGED = "DAMAGED (edited? run records verify)"
OFFICER = "officer"  # who fires a real attempt; anything else is a scripted shooter's id
# A kept record of an attempt that is no shot: the folder one part of it was logged in
# (range/runs/course.py), so a resume finds the earlier parts and the record names them all.
ATTEMPT_LOG = "attempt_log"


def attempt_logs(kept: Iterable[Any]) -> list[dict[str, Any]]:
    """The parts of an attempt: its kept records that say where a part was logged
    (ATTEMPT_LOG, `run_dir`), in the order fired; shots, strings' ends and anything damaged
    left out. The dicts themselves, not copies."""
    return [r for r in kept if isinstance(r, dict) and r.get("kind") == ATTEMPT_LOG]


def attempt_folders(kept: Iterable[Any]) -> list[str]:
    """The folders an attempt's parts were logged in, in order, from its kept records."""
    return [str(r.get("run_dir")) for r in attempt_logs(kept)]


# What an in-progress attempt keeps, one row each (range/runs/course.py `_keep_shot`).
# A string's end (kept so that a resume keeps every finished string) is no shot: not counted
# in `incomplete`, not copied into the qualification record.
STRING_ENDED = "string_ended"
KEPT_KINDS = ("shot", "deployment", "string_faulted", STRING_ENDED)


def _kept_record(record: dict[str, Any]) -> bool:
    """Whether one kept row of an in-progress attempt is what the runner keeps: a shot, a
    deployment or a faulted string (with its string), or the folder a part was logged in."""
    kind = record.get("kind")
    if kind == ATTEMPT_LOG:
        return isinstance(record.get("run_dir"), str)
    if "kind" not in record:  # a store of schema 1 kept shots without their kind
        return bool(record)
    return kind in KEPT_KINDS and len(record) > 1


_ABSENT = object()  # a field a kept row or its log line does not have


def _row(n: int, seq: int | None) -> str:
    """An in-progress attempt's kept row as a range master or an administrator finds it: its
    place among the attempt's kept records, and its `seq` in attempt_shots."""
    return f"shot {n}" + ("" if seq is None else f" (attempt_shots seq {seq})")


def _described(record: dict[str, Any]) -> str:
    """A kept record in a few words: its kind, stage and string as stored (from 0)."""
    kind = str(record.get("kind", "shot"))[:40]
    where = [f"{key} {str(record[key])[:12]}" for key in ("stage", "string") if key in record]
    return kind + (f" of {', '.join(where)}" if where else "")


def kept_field_problem(
    record: dict[str, Any], course: Course | None, fields: bool = True
) -> str | None:
    """What is wrong with one kept shot, deployment or string's end or fault: its stage or
    string missing, a field mistyped, out of range or unknown (checked as its log line is, by
    the event log's vocabulary, drills/events.py), or (with `course`) a stage or string the
    course does not have; None: nothing. Another field missing is let be: nothing counts on it
    (an older store's rows may lack one). A folder row and a schema 1 shot (no kind) are
    checked by `_kept_record` alone. Without `fields`, only its stage and string, and only
    against `course`."""
    from pydantic import ValidationError

    from drills.events import KINDS
    from physics.datafiles import error_message

    kind = record.get("kind")
    if kind not in KEPT_KINDS:
        return None
    if fields:
        try:
            KINDS[str(kind)].model_validate_json(json.dumps({"t": 0.0, **record}))
        except ValidationError as exc:
            for error in exc.errors():
                name = ".".join(str(p) for p in error["loc"]) or "kind"
                if error["type"] == "missing" and name not in ("stage", "string"):
                    continue
                said = {
                    "missing": "required field is missing",
                    "extra_forbidden": f"unknown field for a {kind} record",
                }.get(error["type"], error_message(error))
                return f"{name}: {said}"
    stage, string = record.get("stage"), record.get("string")
    if course is not None and isinstance(stage, int) and isinstance(string, int):
        if not 0 <= stage < len(course.stages):
            return f"stage: {stage} is not a stage of {course.id} (it has {len(course.stages)})"
        strings = course.stages[stage].strings
        if not 0 <= string < len(strings):
            return (
                f"string: {string} is not a string of {course.id}'s stage {stage}"
                f" (it has {len(strings)})"
            )
    return None


def simulated_label(shooter: str) -> str:
    """The outcome of an attempt fired by a scripted shooter: never a qualification."""
    return f"SIMULATED (scripted shooter {shooter}): not a qualification"


def edited(row: dict[str, Any]) -> bool:
    """Whether a qualification record (a whole row, as `SELECT *` reads it) no longer matches
    its own hash: it was edited outside OpenRange. A partial row (no hash read) is not judged."""
    if "hash" not in row or any(k not in row for k in _HASHED):
        return False
    try:
        return bool(record_hash(row) != row["hash"])
    except (KeyError, TypeError, ValueError):
        return True


def held_points(row: dict[str, Any], outcome_: str) -> dict[str, int | None]:
    """A qualification record's `points` and `hits` as its listings show them: None (empty
    in the CSV, "-" in text) for a DAMAGED record, whose numbers were edited or cannot be
    trusted: nothing is read from it as if it held (nu22 #3)."""
    if outcome_ == DAMAGED:
        return {"points": None, "hits": None}
    return {"points": row["points"], "hits": row["hits"]}


def damage(row: dict[str, Any]) -> str | None:
    """Why a qualification record reads DAMAGED (`outcome`), in one phrase, None when it
    does not: its contents no longer match its own hash, or its detail no longer parses."""
    if edited(row):
        return "its contents no longer match its hash: it was edited outside OpenRange"
    try:
        detail = stored_json(row, "detail")
    except RecordsError:
        return "its detail is not valid JSON: it was edited outside OpenRange"
    if not isinstance(detail, dict):
        return "its detail is not a JSON object: it was edited outside OpenRange"
    return None


def outcome(row: dict[str, Any]) -> str:
    """A qualification record's outcome: QUALIFIED, NOT QUALIFIED, or INCOMPLETE (a crashed
    attempt closed by a range master, or strings still to reshoot): never pass or fail, and
    INCOMPLETE whoever fired it (a scripted shooter's is tagged "simulated"); a scripted
    shooter's finished attempt is SIMULATED.
    DAMAGED when its detail no longer parses or its contents no longer match its own hash
    (edited outside OpenRange): an edited record never reads as qualified."""
    if edited(row):
        return DAMAGED
    try:
        detail = stored_json(row, "detail")
    except RecordsError:
        return DAMAGED
    if not isinstance(detail, dict):
        return DAMAGED
    simulated = detail.get("shooter", OFFICER) != OFFICER
    if detail.get("incomplete") or detail.get("score", {}).get("complete") is False:
        # Unfinished whoever fired it: a scripted shooter's is tagged, never graded either way.
        if simulated:
            return f"INCOMPLETE (simulated: scripted shooter {detail['shooter']})"
        return "INCOMPLETE"
    if simulated:
        return simulated_label(str(detail["shooter"]))
    return "QUALIFIED" if row["passed"] else "NOT QUALIFIED"


LIVE = "live"  # the `officer` of a drill run an officer played live; else a script played it


def scripted_officer(officer: str) -> str:
    """The officer script that played a drill run whose result names `officer` ("" when an
    officer played it live): the script's id, also when the words came from a recording
    (`--voice`: "officer's words from v.wav; actions scripted by knife-x-v1")."""
    if not officer or officer == LIVE:
        return ""
    return officer.rpartition("actions scripted by ")[2]


def drill_run_script(row: dict[str, Any]) -> str:
    """The officer script that played a kept drill run ("" for a live officer's run)."""
    try:
        result = stored_json(row, "result", "drill run")
    except RecordsError:
        return ""
    return scripted_officer(str(result.get("officer") or "")) if isinstance(result, dict) else ""


def drill_outcome(row: dict[str, Any]) -> str:
    """A drill run's outcome: PASS, FAIL, ABORTED (stopped before its end: aborted or restarted
    by an instructor; not scored), or INCOMPLETE (its log has no `run_ended`: a crash or a cut
    run), whichever way the scorer says so (an INCOMPLETE outcome or decision, or
    complete = false). A run a scripted officer played (no --live) is never the officer's
    own decision: `SIMULATED (scripted officer ID): PASS`, or `INCOMPLETE (simulated:
    scripted officer ID)`, as a scripted shooter's qualification attempt is. With `--voice`
    the words were a recording's: `SIMULATED (officer's words from V.wav; actions by scripted
    officer ID): PASS`."""
    base = _drill_outcome(row)
    who = simulated_by(row)
    if who is None or base == DAMAGED:
        return base
    if base == "INCOMPLETE":
        return f"INCOMPLETE (simulated: {who})"
    return f"SIMULATED ({who}): {base}"


def simulated_by(row: dict[str, Any]) -> str | None:
    """Who played a kept drill run a scripted officer played, as its outcome names it
    (`SIMULATED (WHO): PASS`): `scripted officer ID`, or, with `--voice`, `officer's words from
    V.wav; actions by scripted officer ID`; None for a live officer's run. `records show`, the
    console's debrief and its runs tables all say it in these words (nu19 #3)."""
    script = drill_run_script(row)
    if not script:
        return None
    try:
        result = stored_json(row, "result", "drill run")
    except RecordsError:
        result = None
    officer = str(result.get("officer") or "") if isinstance(result, dict) else ""
    if "actions scripted by " in officer:  # --voice: the words were a recording's, not a script's
        return officer.replace("actions scripted by", "actions by scripted officer")
    return f"scripted officer {script}"


def simulation_note(script: str, badge: str) -> str:
    """What a drill run a scripted officer played under a badge is, and is not: said by
    `records show` and the console's debrief in these words."""
    return (
        f"played by the scripted officer {script} (no --live): a simulation, never badge"
        f" {badge}'s own decisions"
    )


UNKNOWN = "unknown"  # who played a drill run whose stored result is DAMAGED


def damaged_run(outcome_: str) -> dict[str, Any]:
    """What a listed drill run shows in place of its own columns when its stored result is
    DAMAGED (does not parse, or no longer matches its chained digest): nobody is known to have
    played it, and it has no score and no pass, never a live officer's pass."""
    if outcome_ != DAMAGED:
        return {}
    return {"officer": UNKNOWN, "officer_kind": UNKNOWN, "score": None, "passed": None}


def graded(outcome_: str) -> bool:
    """Whether a drill run with this outcome was graded: an INCOMPLETE (killed, cut) or
    ABORTED run was not, and has no score to show; a DAMAGED one's score is not to be trusted."""
    # A scripted officer's is `SIMULATED (scripted officer ID): ABORTED`: not graded either.
    base = outcome_.rsplit(": ", 1)[-1] if outcome_.startswith("SIMULATED") else outcome_
    return not base.startswith(("INCOMPLETE", "ABORTED", DAMAGED))


def drill_run_stopped(row: dict[str, Any]) -> str | None:
    """Who stopped an ABORTED drill run (`aborted by NAME`, `restarted by NAME`), None for one
    that ran to its end (or whose result cannot be read)."""
    try:
        result = stored_json(row, "result", "drill run")
    except RecordsError:
        return None
    if not isinstance(result, dict) or result.get("state") != "aborted":
        return None
    return str(result.get("end_reason") or "aborted")


def drill_run_faulted(row: dict[str, Any]) -> str | None:
    """Why a live drill run faulted (a replica lost and not back: `T7-0042 did not come back
    within 2 s`), None for one that did not (or whose result cannot be read): it decided
    nothing, and was not cut short either (rc21 #7c)."""
    try:
        result = stored_json(row, "result", "drill run")
    except RecordsError:
        return None
    if not isinstance(result, dict) or result.get("state") != "faulted":
        return None
    return str(result.get("end_reason") or "a device fault")


def drill_run_not_decided(row: dict[str, Any]) -> str | None:
    """Why an INCOMPLETE drill run that ran to its end decided nothing (an empathy scene whose
    debrief went unanswered: `no debrief question answered (0 of 3)`), None for one cut short
    (its log stops before the end) or whose result cannot be read (nu23 #7)."""
    try:
        result = stored_json(row, "result", "drill run")
    except RecordsError:
        return None
    if not isinstance(result, dict) or result.get("state") != "completed":
        return None
    score = result.get("score")
    why = score.get("incomplete") if isinstance(score, dict) else None
    return str(why).split(":")[0] if why else None


# Why an INCOMPLETE drill run decided nothing, in the words `records history`, `records show`
# and the console's trend all use (one wording: `no_decision`).
NOT_DECIDED = "no decision (cut short)"  # its log stops before the end: nothing was decided
NOT_DECIDED_FAULTED = "no decision (faulted)"  # a live run whose replica was lost (rc21 #7c)


def no_decision(not_decided: str | None, faulted: str | None) -> str:
    """An INCOMPLETE drill run's decision, none, with why: `no decision: no debrief question
    answered (0 of 3)` for one that ran to its end (`drill_run_not_decided`), `no decision
    (faulted): T7-0042 did not come back within 2 s` for one whose log says it faulted
    (`drill_run_faulted`: the run's end_reason, as `score` says `the run faulted: ...`), else
    `no decision (cut short)`: its log stops before the end."""
    if not_decided:
        return f"no decision: {not_decided}"
    if faulted:
        return f"{NOT_DECIDED_FAULTED}: {faulted}"
    return NOT_DECIDED


def drill_run_no_decision(row: dict[str, Any]) -> str:
    """`no_decision` for a kept INCOMPLETE drill run, from its stored result."""
    return no_decision(drill_run_not_decided(row), drill_run_faulted(row))


def drill_run_uncalibrated(row: dict[str, Any]) -> list[str]:
    """Each device a kept drill run used without a valid calibration, on a range master's
    override, as one phrase (`T7-UNCAL: never calibrated; used on the override of RM Lee`),
    from its result's `calibration` (nu20 #6); [] when all were calibrated, for a run recorded
    before results kept it, and when the result cannot be read (DAMAGED)."""
    from range.calibration.used import overridden

    try:
        result = stored_json(row, "result", "drill run")
    except RecordsError:
        return []
    return overridden(result.get("calibration")) if isinstance(result, dict) else []


def drill_run_left_out(row: dict[str, Any]) -> list[str]:
    """The issued weapons a kept drill run was played without (the range master's
    `--without`: its score's `weapons_left_out`, rc21 #5), as `records show` and `score` say
    them; [] for none, for a run recorded before results kept it, and when the result cannot
    be read (DAMAGED)."""
    try:
        result = stored_json(row, "result", "drill run")
    except RecordsError:
        return []
    score = result.get("score") if isinstance(result, dict) else None
    left = score.get("weapons_left_out") if isinstance(score, dict) else None
    return [str(w) for w in left] if isinstance(left, list) else []


def drill_run_policy(row: dict[str, Any]) -> str:
    """The label of the policy that judged a kept drill run, as `records show` names it after
    "judged by policy" (`metro-pd-v1 (file ..., sha256 41c09b52db3f)`, rc25 #4); "" for a run
    recorded before results named it, and when the result cannot be read (DAMAGED)."""
    try:
        result = stored_json(row, "result", "drill run")
    except RecordsError:
        return ""
    score = result.get("score") if isinstance(result, dict) else None
    policy = score.get("policy") if isinstance(score, dict) else None
    return policy if isinstance(policy, str) else ""


def drill_run_incomplete(row: dict[str, Any]) -> bool:
    """Whether a drill run never finished (INCOMPLETE), whoever played it: `drill_outcome`
    names a scripted run's script in its outcome, so its text is not for comparing."""
    return _drill_outcome(row) == "INCOMPLETE"


def _drill_outcome(row: dict[str, Any]) -> str:
    try:
        result = stored_json(row, "result", "drill run") or {}
    except RecordsError:
        return DAMAGED
    if not isinstance(result, dict):
        return DAMAGED
    if result.get("state") == "aborted":  # stopped by an instructor (or restarted): not scored
        return "ABORTED"
    score = result.get("score", {})
    said = [score.get("outcome"), score.get("decision"), row.get("decision")]
    if (
        any(str(s or "").strip().lower().startswith("incomplete") for s in said)
        or score.get("complete") is False
        or result.get("complete") is False
    ):
        return "INCOMPLETE"
    return "PASS" if row["passed"] else "FAIL"


# An edited copy of a built-in course stands apart, under its own label: a pass on it is never
# the built-in course's qualification. SQL giving a qualification row's variant ('' if none).
_VARIANT = "CASE WHEN course_origin = 'modified' THEN course_sha256 ELSE '' END"


def _standing_filter(badge: str | None, until: str | None) -> tuple[str, list[Any]]:
    """The `AND ...` conditions (with a trailing space, or "") and their arguments that keep
    one officer's records (`badge`) and those finished by the end of `until` (YYYY-MM-DD)."""
    conditions: list[str] = []
    args: list[Any] = []
    if badge is not None:
        conditions.append("badge = ?")
        args.append(badge)
    if until is not None:
        conditions.append("finished < ?")
        args.append(_day_after(until))  # the whole of that day, as --to everywhere
    return "".join(f"AND {c} " for c in conditions), args


def _variant_label(row: Mapping[str, Any]) -> str:
    """The course label of a grouped row of (course, variant) as `_VARIANT` gives it."""
    return course_label(
        {
            "course": row["course"],
            "course_origin": "modified" if row["variant"] else "",
            "course_sha256": row["variant"],
        }
    )


def _day_after(day: str) -> str:
    """The ISO date after `day`: `--to DAY` includes the whole of DAY (timestamps on it sort
    after the bare date, so `< DAY` would leave them out)."""
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _started(result: dict[str, Any]) -> str | None:
    """When a run's result says it started (`started`, a console lane's run: UTC, ISO, to the
    second, as `_now` writes it), or None when it says not or not in that form."""
    return utc_stamp(result.get("started"))


def utc_stamp(value: object) -> str | None:
    """`value` as the records keep a time (UTC, ISO, to the second, as `_now` writes it), or
    None when it is not a UTC ISO time (a lane's result says when its run started and ended:
    taken only in that form)."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None or when.utcoffset() != timedelta(0):
        return None
    return when.isoformat(timespec="seconds")


# A run folder's name begins with when it was made, UTC to the second (`RunWriter`:
# `20261202-023805-knife-approach-v1`), just before its run is registered in progress: the
# registration's `started` lies within this many seconds after it (rc24 #2).
START_SLACK_S = 120
_FOLDER_STAMP = re.compile(r"([0-9]{8}-[0-9]{6})-")


def folder_started(folder: str | Path) -> datetime | None:
    """When a run folder was made, from its name (UTC), or None when its name does not say."""
    found = _FOLDER_STAMP.match(Path(folder).name)
    if found is None:
        return None
    try:
        return datetime.strptime(found[1], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of `verify`: `qualification` is the record's id (0 for the store itself);
    `kind` says which chain (qualification, officer, drill run, store)."""

    qualification: int
    what: str
    kind: str = "qualification"


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One officer's standing on one course: the last pass, the last attempt, how many."""

    badge: str
    course: str
    attempts: int
    last_attempt: str | None
    last_pass: str | None
    damaged: bool = False  # the record of the last pass no longer matches its hash (edited)


_T = TypeVar("_T")
# The PostgreSQL advisory lock class of each kind of claim (`Records.claim_attempt`).
_CLAIM_KEYS = {"attempt": 4243, "drill-run": 4244}


def _sqlite_path(url: str) -> Path:
    """The file a `sqlite:///PATH` URL names: PATH relative to the current directory
    (`sqlite:///records.sqlite`), absolute with a fourth slash (`sqlite:////srv/or/records.sqlite`),
    a leading `~` the user's home (`sqlite:///~/records.sqlite`), not a folder named `~`."""
    return Path(url.removeprefix("sqlite:///")).expanduser()


# What a store URL may be, said wherever one is refused (nu25 #6).
URL_FORMS = (
    "sqlite:////ABSOLUTE/PATH.sqlite (four slashes), sqlite:///RELATIVE/PATH.sqlite,"
    " sqlite:///~/PATH.sqlite, or postgresql://USER@HOST/DB"
)


# The shared-memory index could not be grown or mapped (a full disk): sqlite3.h's codes.
_SQLITE_IOERR_SHMSIZE = getattr(sqlite3, "SQLITE_IOERR_SHMSIZE", 4874)
_SQLITE_IOERR_SHMMAP = getattr(sqlite3, "SQLITE_IOERR_SHMMAP", 5386)


def _open_to_read(path: Path) -> sqlite3.Connection:
    """A connection for a command that only reads (nothing is created). A WAL database needs
    its shared-memory index file to be read, and a full disk refuses to grow it: then the store
    is read in exclusive locking mode, which keeps that index in memory (SQLite's WAL docs),
    so `verify` and `history` work on a full disk (a writer waits meanwhile; it could not
    write on that disk anyway)."""
    uri = f"{path.resolve().as_uri()}?mode=rw"
    db = sqlite3.connect(uri, timeout=30.0, isolation_level=None, uri=True)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if code not in (sqlite3.SQLITE_FULL, _SQLITE_IOERR_SHMSIZE, _SQLITE_IOERR_SHMMAP):
            raise
        db.close()
    db = sqlite3.connect(uri, timeout=30.0, isolation_level=None, uri=True)
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    return db


class Records:
    """One records database. `Records.open()` picks the backend from the URL."""

    def __init__(
        self, connection: Any, dialect: str, url: str, create: bool = True, migrate: bool = True
    ) -> None:
        self._db = connection
        self.dialect = dialect
        self.url = url
        self.where = redact(url)
        # Whether `open` made this store just now (a SQLite file that was not there): the
        # command that adds to it says where (nu25 #6).
        self.created = False
        self._synchronous = "FULL"  # what Records.open set (SQLite)
        self._in_snapshot = False  # inside snapshot(): a nested one reads in the same
        # (kind, id) -> lock file (SQLite); kind is "attempt" or "drill-run" (_CLAIM_KEYS).
        self._claims: dict[tuple[str, int], tuple[int, Path] | None] = {}
        self._may_migrate = migrate
        try:
            self._guard(self._migrate if create else self._check_schema)
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, url: str | None = None, create: bool = True, migrate: bool = True) -> Records:
        """Open (with `create`, create or migrate) the store at `url`.

        Without `create` (the read-only commands) nothing is created: a missing or empty store is
        an error naming it. A schema newer than this code is refused by name either way.
        Without `migrate` (a command that only reads: verify, history, show, export) an older
        store is refused by name instead of migrated: reading never writes, and an audit never
        chains what it was asked to check.
        Raises RecordsError, one line, with any password in the URL redacted.
        """
        url = _scheme_lowered(default_url() if url is None else url)
        if url.startswith("sqlite:///"):
            # Named by its absolute path in every message (a relative one, or `~`, said as
            # the file it is: nu25 #6).
            path = _sqlite_path(url).absolute()
            url = f"sqlite:///{path}"
        where = redact(url)
        if url.startswith("sqlite:///"):
            if path.is_dir():
                raise RecordsError(f"records {where}: {path} is a directory, not a database file")
            if not create and not path.exists():
                raise RecordsError(
                    f"no records database at {path} (check --db or ${URL_ENV}); nothing was created"
                )
            db: sqlite3.Connection | None = None
            created = create and not path.exists()
            try:
                if create:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
                else:
                    db = _open_to_read(path)
                db.row_factory = sqlite3.Row
                if create:  # WAL is kept in the file; setting it writes, so only on create
                    db.execute("PRAGMA journal_mode=WAL")
                # FULL: a commit is on disk before the CLI says "saved" (NORMAL with WAL may
                # lose the newest commits to a power cut).
                db.execute("PRAGMA synchronous=FULL")
            except (sqlite3.Error, OSError) as exc:
                if db is not None:
                    db.close()
                raise RecordsError(f"records {where}: {_explain(exc, path)}") from None
            records = cls(db, "sqlite", url, create, migrate)
            records.created = created
            return records
        if url.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
                from psycopg.rows import dict_row
            except ImportError:
                raise RecordsError(
                    "PostgreSQL records need psycopg: pip install 'psycopg[binary]'"
                ) from None
            if url.partition("://")[2].split("/", 1)[0].count("@") > 1:
                # An unencoded @ in the password: libpq would read the rest as the host and
                # say only that it cannot resolve it (nu25 #11).
                raise RecordsError(
                    f"records {where}: an @ in the password must be written %40 in the URL"
                    " (libpq reads what follows the first @ as the host)"
                )
            try:
                connection = psycopg.connect(
                    url, autocommit=True, row_factory=dict_row, connect_timeout=10
                )
                # Durable at COMMIT whatever the server's default (docs/records.md).
                connection.execute("SET synchronous_commit = on")
            except psycopg.Error as exc:
                said = redact(_explain(exc), url)
                raise RecordsError(f"records {where}: {said}") from None
            return cls(connection, "postgresql", url, create, migrate)
        hint = f" (for that file: sqlite:///{url})" if url.startswith(("/", "~", ".")) else ""
        raise RecordsError(f"records URL {where!r}: use {URL_FORMS}{hint}")

    def _release_claim(self, attempt: int, kind: str = "attempt") -> None:
        """Let go of this process's claim on `attempt` (`claim_attempt`), if it holds one."""
        if (kind, attempt) not in self._claims:
            return
        claim = self._claims.pop((kind, attempt))
        if claim is None:
            with suppress(Exception):  # PostgreSQL: the session's advisory lock
                self._rows("SELECT pg_advisory_unlock(?, ?) AS ok", _CLAIM_KEYS[kind], attempt)
            return
        fd, path = claim
        # The lock file goes with the claim, removed while still locked: nothing is left behind
        # (a refused resume included). A process that opened it meanwhile gets the lock on a
        # file no longer at its path, sees that, and claims afresh (claim_attempt).
        with suppress(OSError):
            path.unlink(missing_ok=True)
        os.close(fd)

    def close(self) -> None:
        for kind, attempt in list(self._claims):
            self._release_claim(attempt, kind)
        # Closing a broken connection must not hide the error that broke it.
        with suppress(Exception):
            self._db.close()

    def __enter__(self) -> Records:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tables others keep in the records' database (the console's: range/console/store.py) ----

    def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """The rows of a read (`?` placeholders, in either dialect); a driver error is one
        RecordsError line naming the database."""
        return self._rows(sql, *args)

    def execute(self, sql: str, *args: Any) -> Any:
        """Run one statement (`?` placeholders, in either dialect) and return its cursor; a
        driver error is one RecordsError line naming the database."""
        return self._run(sql, *args)

    def transaction(self, exclusive: bool = False) -> AbstractContextManager[None]:
        """One durable transaction; `exclusive` serialises the writers of a hash chain."""
        return self._transaction(exclusive)

    def inserted_id(self, cur: Any) -> int:
        """The id of the row an INSERT (`... RETURNING id` on PostgreSQL) just made."""
        return self._last_id(cur)

    # -- plumbing --------------------------------------------------------------------------------

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        if self.dialect == "sqlite":
            return (sqlite3.Error,)
        import psycopg

        return (psycopg.Error,)

    def _guard(self, fn: Callable[[], _T]) -> _T:
        """Run `fn`, turning a driver error into one named RecordsError line."""
        try:
            return fn()
        except self._driver_errors() as exc:
            path = _sqlite_path(self.url) if self.dialect == "sqlite" else None
            said = redact(_explain(exc, path), self.url)
            raise RecordsError(f"records {self.where}: {said}") from None

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def _rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        def run() -> list[dict[str, Any]]:
            cur = self._db.execute(self._sql(sql), args)
            return [dict(r) for r in cur.fetchall()]

        return self._guard(run)

    def _rows_by_id(self, sql: str, number: int) -> list[dict[str, Any]]:
        """The rows of `sql` for the row id `number` (its one `?`): none for a number no BIGINT
        holds (a URL's or a flag's id out of range is "no such record", never a driver error)."""
        return self._rows(sql, number) if ID_MIN <= number <= ID_MAX else []

    def _run(self, sql: str, *args: Any) -> Any:
        # `_guard` inlined: this runs three times for every shot recorded.
        try:
            return self._db.execute(sql if self.dialect == "sqlite" else self._sql(sql), args)
        except self._driver_errors() as exc:
            path = _sqlite_path(self.url) if self.dialect == "sqlite" else None
            raise RecordsError(f"records {self.where}: {_explain(exc, path)}") from None

    @contextmanager
    def _transaction(self, exclusive: bool = False, durable: bool = True) -> Iterator[None]:
        """One transaction; `exclusive` serialises writers (the hash chains need it).

        `durable` (the default): on disk when COMMIT returns, so a power cut cannot lose it.
        Without it (a shot of an attempt in progress, nothing the CLI calls saved yet) the
        commit survives the process being killed, and reaches the disk with the next durable
        commit (the attempt's finish); a power cut may lose the newest such shots."""
        if self.dialect == "sqlite":
            # Switched only when it changes: the shots of an attempt follow one another.
            wanted = "FULL" if durable else "NORMAL"
            if wanted != self._synchronous:
                self._run(f"PRAGMA synchronous={wanted}")
                self._synchronous = wanted
            # Always IMMEDIATE: a deferred transaction that reads and then writes must upgrade
            # its lock, and in WAL mode that fails at once ("database is locked") when another
            # lane committed meanwhile; the busy timeout only covers waiting for the lock.
            self._run("BEGIN IMMEDIATE")
        else:
            self._run("BEGIN")
            if not durable:
                self._run("SET LOCAL synchronous_commit = off")
            if exclusive:
                self._run("LOCK TABLE chain_head IN EXCLUSIVE MODE")
        try:
            yield
        except BaseException:
            self._rollback()
            raise
        try:
            self._run("COMMIT")
        except RecordsError:
            self._rollback()
            raise

    def _rollback(self) -> None:
        with suppress(Exception):  # a dead connection has rolled back already
            self._db.execute("ROLLBACK")

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Reads that all see one snapshot: a lane committing meanwhile is seen entirely or
        not at all (SQLite WAL: a read transaction; PostgreSQL: REPEATABLE READ)."""
        if self.dialect == "sqlite":
            self._run("BEGIN")  # deferred: the snapshot is taken at the first read
        else:
            self._run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            self._rollback()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that all see one snapshot (`_snapshot`), for a caller that reads more than one
        chain or count (`records verify`: both chains, the counts and the console's audit
        trail); a snapshot within one is the same snapshot. On PostgreSQL each statement
        outside one sees every commit before it: a console writing meanwhile made the audit
        trail's head name a row the walk had not seen."""
        if self._in_snapshot:
            yield
            return
        self._in_snapshot = True
        try:
            with self._snapshot():
                yield
        finally:
            self._in_snapshot = False

    def _tables(self) -> set[str]:
        if self.dialect == "sqlite":
            rows = self._rows("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self._rows(
                "SELECT table_name AS name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        return {r["name"] for r in rows}

    def tables(self) -> set[str]:
        """The names of the tables the store holds now."""
        return self._tables()

    def missing_tables(self) -> list[str]:
        """The tables this store's schema version has (`schema_tables`), and those of the
        console's that a console which used it made (range/console/store.py), that are not
        there: dropped outside OpenRange. `verify` reports them; the console refuses such a
        store rather than make them again empty."""
        from range.console.store import missing_console_tables

        present = self._tables()
        mine = [t for t in schema_tables(self.schema_version) if t not in present]
        return mine + missing_console_tables(present)

    def _stored_version(self) -> int | None:
        tables = self._tables()
        if "schema_version" not in tables:
            return None
        return self._version_of(self._rows("SELECT version FROM schema_version"), tables)

    def _version_of(self, rows: list[dict[str, Any]], tables: set[str]) -> int | None:
        """The one version a schema_version table holds; None for a new, empty store. A table
        that holds no row (in a store with tables), several rows, something not a whole number
        or a version OpenRange never writes is refused by name: nothing is migrated over it."""
        damaged = f"records {self.where}: schema_version"
        allowed = f"1 to {SCHEMA_VERSION}"
        if not rows:
            if tables - {"schema_version"}:
                raise RecordsError(
                    f"{damaged} is empty although the store holds tables: damaged or not"
                    " OpenRange's; nothing was changed"
                )
            return None
        if len(rows) != 1:
            versions = ", ".join(repr(r["version"]) for r in rows)
            raise RecordsError(
                f"{damaged} holds {len(rows)} rows ({versions}), not one: damaged;"
                " nothing was changed"
            )
        version = rows[0]["version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise RecordsError(
                f"{damaged} is {version!r}, not a version number ({allowed}): damaged;"
                " nothing was changed"
            )
        if version < 1:
            raise RecordsError(
                f"{damaged} is {version}, not a version OpenRange writes ({allowed}): damaged;"
                " nothing was changed"
            )
        return version

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise RecordsError(
                f"records {self.where}: schema version {version} is newer than this OpenRange"
                f" understands ({SCHEMA_VERSION}); upgrade OpenRange to read it"
            )

    def _check_schema(self) -> None:
        """For read-only use: an OpenRange store, not newer than the code; an older one is
        migrated (an existing store only: nothing is created)."""
        version = self._stored_version()
        if version is None:
            raise RecordsError(
                f"records {self.where}: empty, not an OpenRange records database"
                " (no schema_version row); nothing was created"
            )
        self._refuse_newer(version)
        if version < SCHEMA_VERSION and not self._may_migrate:
            raise RecordsError(
                f"records {self.where}: schema version {version} is older than this OpenRange's"
                f" ({SCHEMA_VERSION}); a command that only reads never migrates it (nothing was"
                " changed): any command that writes to the store migrates it first"
            )
        if version < SCHEMA_VERSION:
            self._migrate()

    def _migrate(self) -> None:
        auto = (
            "INTEGER PRIMARY KEY AUTOINCREMENT"
            if self.dialect == "sqlite"
            else "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        )
        with self._transaction(exclusive=True) if self.dialect == "sqlite" else self._pg_lock():
            self._run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = self._rows("SELECT version FROM schema_version")
            current = self._version_of(rows, self._tables()) or 0
            self._refuse_newer(current)
            if not rows:
                self._run("INSERT INTO schema_version (version) VALUES (0)")
            for number, migration in enumerate(_MIGRATIONS[current:], start=current + 1):
                for statement in migration.format(auto=auto, genesis=GENESIS).split(";"):
                    if statement.strip():
                        self._migration_step(statement, current, number)
                if number == 2:
                    self._migrate_to_2()
                if number == 7:
                    self._migrate_to_7(current)
                if number == 8:
                    from range.console.store import set_head_at_upgrade

                    set_head_at_upgrade(self, _now())
                self._run("UPDATE schema_version SET version = ?", number)

    def _migration_step(self, statement: str, current: int, number: int) -> None:
        """One statement of migration `number`; a table or column it adds that is already
        there means the store's `schema_version` (`current`) was set back by hand: said so in
        one line (nothing migrated), never a bare `duplicate column name`."""
        try:
            self._run(statement)
        except RecordsError as exc:
            said = str(exc).lower()
            if "duplicate column" not in said and "already exists" not in said:
                raise
            raise self._set_back(current, number, str(exc).rpartition(": ")[2]) from None

    def _set_back(self, current: int, number: int, what: str) -> RecordsError:
        """A store whose `schema_version` (`current`) was set back by hand: it already holds
        `what` migration `number` makes. Said so in one line; nothing is migrated."""
        return RecordsError(
            f"records {self.where}: its schema_version says {current}, but the store already"
            f" holds what schema {number} adds ({what}): the schema_version table was edited;"
            f" nothing was migrated (set it back to the store's version, {len(_MIGRATIONS)} for"
            " this OpenRange, or restore a backup)"
        )

    def _migrate_to_2(self) -> None:
        """Chain the officers and drill runs already kept (as they stand now), and move the
        shots of attempts in progress to a row each."""
        for officer in self._rows("SELECT * FROM officers ORDER BY badge"):
            self._append("officer", officer["badge"], officer_digest(officer))
        for run in self._rows("SELECT * FROM drill_runs ORDER BY id"):
            self._append("drill_run", str(run["id"]), drill_run_digest(run))
        for attempt in self._rows("SELECT id, shots FROM attempts_in_progress"):
            for seq, shot in enumerate(json.loads(attempt["shots"])):
                self._run(
                    "INSERT INTO attempt_shots (attempt, seq, shot) VALUES (?, ?, ?)",
                    attempt["id"],
                    seq,
                    json.dumps(shot),
                )
            self._run("UPDATE attempts_in_progress SET shots = '[]' WHERE id = ?", attempt["id"])

    def _migrate_to_7(self, current: int) -> None:
        """The `score` of drill runs and of their amendments may be NULL (a run never graded
        has none). SQLite cannot drop a NOT NULL: each table is copied into one made from its
        own CREATE statement less that constraint, with its rows (ids kept), its indexes and
        its AUTOINCREMENT counter (a deleted last row's id is never given again)."""
        tables = ("drill_runs", "drill_run_amendments")
        if self.dialect == "postgresql":
            for table in tables:
                self._run(f"ALTER TABLE {table} ALTER COLUMN score DROP NOT NULL")
            return
        for table in tables:
            (made,) = self._rows(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", table
            )
            create = str(made["sql"])
            if "score REAL NOT NULL" not in create:  # the schema_version set back by hand
                raise self._set_back(current, 7, f"{table}.score without NOT NULL")
            indexes = self._rows(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
                " AND sql IS NOT NULL",
                table,
            )
            counter = self._rows("SELECT seq FROM sqlite_sequence WHERE name = ?", table)
            copy = f"{table}_7"
            self._run(
                create.replace("score REAL NOT NULL", "score REAL", 1).replace(
                    f"CREATE TABLE {table} (", f"CREATE TABLE {copy} (", 1
                )
            )
            self._run(f"INSERT INTO {copy} SELECT * FROM {table}")
            self._run(f"DROP TABLE {table}")
            self._run(f"ALTER TABLE {copy} RENAME TO {table}")
            for index in indexes:
                self._run(str(index["sql"]))
            copied = self._rows("SELECT seq FROM sqlite_sequence WHERE name = ?", table)
            seq = max([int(r["seq"]) for r in [*counter, *copied]], default=None)
            if seq is not None:
                self._run("DELETE FROM sqlite_sequence WHERE name = ?", table)
                self._run("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", table, seq)

    @contextmanager
    def _pg_lock(self) -> Iterator[None]:
        self._run("BEGIN")
        try:
            self._run("SELECT pg_advisory_xact_lock(4242)")  # one migrator at a time
            yield
        except BaseException:
            self._rollback()
            raise
        self._run("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._rows("SELECT version FROM schema_version")[0]["version"])

    def _head(self, chain: int) -> dict[str, Any]:
        rows = self._rows("SELECT last_id, last_hash FROM chain_head WHERE id = ?", chain)
        if not rows:
            name = "qualifications" if chain == QUALIFICATIONS else "ledger"
            raise RecordsError(
                f"records {self.where}: the chain head row {chain} ({name}) is missing:"
                " the audit chain cannot be checked; restore it from a backup"
            )
        return rows[0]

    def _head_found(self, chain: int, problems: list[Problem]) -> dict[str, Any] | None:
        """`chain`'s head for `verify`: a missing head row is one more problem found (so that
        `verify --json` still answers in JSON: nu25 #9), and None."""
        try:
            return self._head(chain)
        except RecordsError as missing:
            problems.append(
                Problem(0, str(missing).removeprefix(f"records {self.where}: "), "store")
            )
            return None

    def _append(self, kind: str, ref: str, digest: str) -> None:
        """Add one entry to the ledger chain (inside the caller's exclusive transaction)."""
        head = self._head(LEDGER)
        row = {"kind": kind, "ref": ref, "digest": digest, "prev_hash": head["last_hash"]}
        cur = self._run(
            "INSERT INTO ledger (kind, ref, digest, prev_hash, hash) VALUES (?, ?, ?, ?, '')"
            + (" RETURNING id" if self.dialect == "postgresql" else ""),
            *row.values(),
        )
        row["id"] = self._last_id(cur)
        digest_ = _ledger_hash(row)
        self._run("UPDATE ledger SET hash = ? WHERE id = ?", digest_, row["id"])
        self._run(
            "UPDATE chain_head SET last_id = ?, last_hash = ? WHERE id = ?",
            row["id"],
            digest_,
            LEDGER,
        )

    # -- officers and drill runs -----------------------------------------------------------------

    def add_officer(
        self, badge: str, name: str, agency: str, unit: str = "", replace: bool = True
    ) -> bool:
        """Add or update an officer; each version joins the ledger chain. With `replace`
        False an existing badge is refused (RecordsError naming who holds it): adding never
        silently renames the officer on every old certificate. An update that changes nothing
        writes nothing (no ledger row): returns whether anything was written."""
        with self._transaction(exclusive=True):
            held = self._rows("SELECT name, agency, unit FROM officers WHERE badge = ?", badge)
            if (
                held
                and replace
                and (held[0]["name"], held[0]["agency"], held[0]["unit"])
                == (
                    name,
                    agency,
                    unit,
                )
            ):
                return False
            if held and not replace:
                raise RecordsError(
                    f"badge {badge} is already {held[0]['name']} ({held[0]['agency']}): to"
                    f" change that officer give --update {badge} with the fields that change"
                )
            if held:
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
            row = {"badge": badge, "name": name, "agency": agency, "unit": unit}
            self._append("officer", badge, officer_digest(row))
        return True

    def officers(self) -> list[dict[str, Any]]:
        return self._rows("SELECT badge, name, agency, unit FROM officers ORDER BY badge")

    def officer(self, badge: str) -> dict[str, Any]:
        rows = self._rows("SELECT badge, name, agency, unit FROM officers WHERE badge = ?", badge)
        if not rows:
            raise RecordsError(
                f"no officer with badge {badge!r}: add them with `openrange records officers --add`"
            )
        return rows[0]

    def officer_problem(self, row: dict[str, Any]) -> str | None:
        """What is wrong with an officer's row (`officer`; edited outside OpenRange: it no
        longer matches the digest the ledger chained for it, as `verify` finds), None when it
        matches or was kept before the ledger chained one: `history` marks the officer's name
        so."""
        badge = row["badge"]
        chained = self._rows(
            "SELECT digest FROM ledger WHERE kind = 'officer' AND ref = ? ORDER BY id DESC LIMIT 1",
            badge,
        )
        if not chained or chained[0]["digest"] == officer_digest(row):
            return None
        return _edited_line("officer", badge)

    def begin_drill_run(
        self,
        badge: str,
        drill: str,
        seed: int,
        software_version: str,
        officer: str,
        drill_sha256: str = "",
        run_dir: str | Path | None = None,
    ) -> int:
        """Register a drill run for the records as it starts (as `begin_attempt` does an
        attempt), claimed by this process until it is finished (`add_drill_run(...,
        in_progress=N)`): a run killed meanwhile is listed by `incomplete_drill_runs` and closed
        by `close_drill_run`, never lost. `run_dir` is kept absolute (resolved here)."""
        self.officer(badge)
        self._sweep_claims()  # a lock file a killed process left after recording
        folder = None if run_dir is None else str(Path(run_dir).resolve())
        with self._transaction(durable=False):  # in progress: made durable by its finish
            cur = self._run(
                "INSERT INTO drill_runs_in_progress (badge, drill, seed, started,"
                " software_version, officer, drill_sha256, run_dir)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                + (" RETURNING id" if self.dialect == "postgresql" else ""),
                badge,
                drill,
                seed,
                _now(),
                software_version,
                officer,
                drill_sha256,
                folder,
            )
            number = self._last_id(cur)
        self.claim_attempt(number, "drill-run")
        return number

    def abandon_drill_run(self, number: int) -> None:
        """Drop the registration of a drill run this process began and that never started (a
        refusal during its setup: no OpenXR runtime, a voice that cannot open): nothing was
        played, so nothing is kept, and its claim is let go."""
        with self._transaction(durable=False):
            self._run("DELETE FROM drill_runs_in_progress WHERE id = ?", number)
        self._release_claim(number, "drill-run")

    def drill_run_in_progress(self, number: int) -> dict[str, Any]:
        """A drill run registered and never finished; RecordsError when there is none."""
        rows = self._rows_by_id("SELECT * FROM drill_runs_in_progress WHERE id = ?", number)
        if not rows:
            raise RecordsError(
                f"no drill run in progress with id {number}: see `openrange records incomplete`"
            )
        return rows[0]

    def incomplete_drill_runs(self) -> list[dict[str, Any]]:
        """Drill runs registered and never finished (killed, or still being played: `live`)."""
        if not self._since_6():
            return []
        rows = self._rows(
            "SELECT id, badge, drill, seed, started, officer, run_dir"
            " FROM drill_runs_in_progress ORDER BY id"
        )
        return [{**row, "live": self.attempt_live(int(row["id"]), "drill-run")} for row in rows]

    def close_drill_run(self, number: int, by: str, reason: str, result: dict[str, Any]) -> int:
        """A range master closes a drill run that never finished: it is kept in the records
        (and the chain) with `result` (what its run folder's log scores: INCOMPLETE without
        `run_ended`), who closed it and why. Returns the drill run's record number."""
        if not by.strip() or not reason.strip():
            raise RecordsError("closing a drill run needs who closes it (--by) and why (--reason)")
        self.claim_attempt(number, "drill-run")  # not while a run plays it
        try:
            progress = self.drill_run_in_progress(number)
            what = f"in-progress drill run #{number}"
            self._check_begun(what, "drill_runs_in_progress", progress, progress["run_dir"])
        except RecordsError:
            self._release_claim(number, "drill-run")
            raise
        kept = result | {"officer": progress["officer"]}
        kept.setdefault("run_dir", progress["run_dir"])
        # What the closing saw, kept in the chained result (rv20a #1): `log_check` reads it, so
        # `verify` never guesses whether the folder had a log (a log there is hashed below).
        folder = kept["run_dir"]
        log_missing = bool(folder) and not (Path(str(folder)) / RUN_LOG).is_file()
        kept["closed"] = {
            "closed_by": by,
            "reason": reason,
            "closed": _now(),
            "log_missing": log_missing,
        }
        # Dated when it was run (its start), not when it was closed; `closed` says when.
        return self.add_drill_run(
            progress["badge"], kept, in_progress=number, recorded=str(progress["started"])
        )

    def add_drill_run(
        self,
        badge: str,
        result: dict[str, Any],
        in_progress: int | None = None,
        recorded: str | None = None,
    ) -> int:
        """Keep a drill run (its result JSON, whose `drill_sha256` says which file it played:
        an edited copy of a built-in drill is kept as 'modified'); it joins the ledger chain.
        With `in_progress` (from `begin_drill_run`), that registration ends in the same
        transaction. The run folder is kept absolute. A run is dated when it started, as a
        closed one is (nu20 #13): `recorded` if given, else its registration's `started`, else
        the result's `started` (a console lane's run), else now."""
        score = result["score"]
        folder = result.get("run_dir")
        if folder:
            folder = str(Path(folder).resolve())
            result = result | {"run_dir": folder}
        log = Path(str(result.get("run_dir") or "")) / RUN_LOG
        if result.get("run_dir") and "log_sha256" not in result and log.is_file():
            # The log as recorded, chained with the run: `verify` and the debrief find it edited.
            result = {**result, "log_sha256": file_sha256(log)}
        with self._transaction(exclusive=True):
            if in_progress is not None and recorded is None:
                begun = self._rows(
                    "SELECT started FROM drill_runs_in_progress WHERE id = ?", in_progress
                )
                recorded = str(begun[0]["started"]) if begun else None
            if in_progress is not None:
                self._run("DELETE FROM drill_runs_in_progress WHERE id = ?", in_progress)
            row: dict[str, Any] = {
                "badge": badge,
                "drill": result["drill"],
                "seed": result["seed"],
                "recorded": recorded or _started(result) or _now(),
                "software_version": result["openrange_version"],
                # A run cut short decided nothing: no decision (null in its result, "" here).
                "decision": str(score["decision"] or ""),
                "score": score["score"],
                "passed": int(score["passed"]),
                "run_dir": folder,
                "result": json.dumps(result, sort_keys=True),
                "drill_sha256": str(result.get("drill_sha256") or ""),
            }
            row["drill_origin"] = drill_origin(row["drill"], row["drill_sha256"])
            if not graded(_drill_outcome(row)):
                row["score"] = None  # never graded: no score kept, not the scorer's number
            number = self._insert_chained("drill_runs", row, "drill_run", drill_run_digest)
        if in_progress is not None:
            self._release_claim(in_progress, "drill-run")
        return number

    def drill_runs_at(self, run_dir: Path) -> list[int]:
        """The drill runs kept with this run folder (compared absolute)."""
        rows = self._rows(
            "SELECT id FROM drill_runs WHERE run_dir = ? ORDER BY id", str(run_dir.resolve())
        )
        return [int(r["id"]) for r in rows]

    def qualifications_at(self, run_dir: Path) -> list[int]:
        """The qualification records with a part logged in this run folder (compared
        absolute, as the attempt kept it)."""
        folder = json.dumps(str(run_dir.resolve()))
        rows = self._rows(
            "SELECT id, detail FROM qualifications WHERE detail LIKE ? ORDER BY id",
            f"%{folder}%",
        )
        return [int(r["id"]) for r in rows]

    def amend_drill_run(
        self, run_id: int, by: str, score: dict[str, Any], why: dict[str, Any]
    ) -> int:
        """Rescore a kept drill run (an instructor's speech correction): a new amendment row,
        chained in the ledger; the run's own row stays as it was recorded. Listings show the
        newest amendment's score, "corrected by" whom. Returns the amendment's id."""
        outcome_ = self.drill_run(run_id)["outcome"]  # RecordsError when there is none
        # A run never graded is not graded by a correction either: no score kept (rc19 #5).
        kept = float(score["score"]) if outcome_ == DAMAGED or graded(outcome_) else None
        with self._transaction(exclusive=True):
            row: dict[str, Any] = {
                "run": run_id,
                "recorded": _now(),
                "by_whom": by,
                "decision": str(score["decision"] or ""),
                "score": kept,
                "passed": int(bool(score["passed"])),
                "detail": json.dumps(why | {"score": score}, sort_keys=True),
            }
            return self._insert_chained(
                "drill_run_amendments", row, "drill_run_amendment", amendment_digest
            )

    def _insert_chained(
        self,
        table: str,
        row: dict[str, Any],
        kind: str,
        digest: Callable[[dict[str, Any]], str],
    ) -> int:
        """Insert `row` into `table` and append its digest to the ledger as `kind`, inside
        the caller's transaction. The digest is of the row as the database holds it (a REAL
        score reads back as a float). Returns the new row's id."""
        cur = self._run(
            f"INSERT INTO {table} ("
            + ", ".join(row)
            + ") VALUES ("
            + ", ".join("?" for _ in row)
            + ")"
            + (" RETURNING id" if self.dialect == "postgresql" else ""),
            *row.values(),
        )
        number = self._last_id(cur)
        (stored,) = self._rows(f"SELECT * FROM {table} WHERE id = ?", number)
        self._append(kind, str(number), digest(stored))
        return int(number)

    def _since_6(self) -> bool:
        """Whether the store has schema 6's tables (a read-only command does not migrate an
        older store: it has no drill run in progress and no amendment)."""
        return "drill_run_amendments" in self._tables()

    def _amendments(self, where: str, args: list[Any]) -> dict[int, list[dict[str, Any]]]:
        """The amendments of the drill runs `where` selects (on `d`), oldest first, by run."""
        if not self._since_6():
            return {}
        rows = self._rows(
            "SELECT a.* FROM drill_run_amendments a JOIN drill_runs d ON d.id = a.run"
            f" {where} ORDER BY a.id",
            *args,
        )
        out: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            out.setdefault(int(row["run"]), []).append(row)
        return out

    def drill_run_amendments(self, run_id: int) -> list[dict[str, Any]] | None:
        """One drill run's amendments (`amend_drill_run`), oldest first, every column; None for
        an older store that keeps none (before schema 6)."""
        if not self._since_6():
            return None
        return self._amendments("WHERE d.id = ?", [run_id]).get(run_id, [])

    def amended_drill_runs(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Drill run rows (every column, as read from `drill_runs`) as their newest amendment
        left them: the score, decision and `corrected` every listing shows (`drill_run`,
        `drill_runs`, the console's run tables). Judge a row's digest before this."""
        ids = [int(r["id"]) for r in rows]
        if not ids:
            return rows
        marks = ", ".join("?" for _ in ids)
        amendments = self._amendments(f"WHERE d.id IN ({marks})", ids)
        return [_amended(r, amendments.get(int(r["id"]), [])) for r in rows]

    def drill_run_row(self, run_id: int) -> dict[str, Any] | None:
        """One drill run's columns as recorded (no amendment applied, no outcome), or None."""
        rows = self._rows_by_id("SELECT * FROM drill_runs WHERE id = ?", run_id)
        return rows[0] if rows else None

    def drill_run_rows(self, badge: str) -> list[dict[str, Any]]:
        """An officer's drill runs as recorded, oldest first: `id, drill, recorded, run_dir,
        result, decision, passed` (the console's trend)."""
        return self._rows(
            "SELECT id, drill, recorded, run_dir, result, decision, passed FROM drill_runs"
            " WHERE badge = ? ORDER BY id",
            badge,
        )

    def recent_drill_run_rows(self, badge: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` drill runs (of `badge`; None: anyone's), newest first, every
        column as recorded, with `chained`: the digest the ledger chained for it (None before
        the ledger kept one)."""
        where, args = ("WHERE d.badge = ?", [badge]) if badge is not None else ("", [])
        return self._rows(
            f"{_CHAINED_DRILL_RUNS} {where} ORDER BY d.id DESC LIMIT {int(limit)}", *args
        )

    def drill_run(self, run_id: int) -> dict[str, Any]:
        """One recorded drill run, every column, with its `outcome` (`drill_outcome`); when an
        instructor rescored it, its newest `score`, `decision` and `passed`, and `corrected`:
        each amendment (by whom, when, the score it gave) and `recorded_score`, as recorded."""
        rows = self._rows_by_id(f"{_CHAINED_DRILL_RUNS} WHERE d.id = ?", run_id)
        if not rows:
            # A number `records incomplete` lists is the run in progress's, not a record's: say
            # so, and how to close it (nu23 #7: the sentence stopped at "an officer's").
            pending = (
                self._rows_by_id("SELECT * FROM drill_runs_in_progress WHERE id = ?", run_id)
                if self._since_6()
                else []
            )
            if pending:
                raise RecordsError(
                    f"no drill run {run_id} recorded: #{run_id} is a drill run in progress"
                    f" (badge {pending[0]['badge']}, {pending[0]['drill']}), never finished;"
                    f" close it with `openrange records close --drill-run {run_id} --by NAME"
                    " --reason TEXT`, and it is recorded as INCOMPLETE"
                )
            raise RecordsError(
                f"no drill run {run_id}: `openrange records history BADGE` lists an officer's"
                " drill runs with their numbers"
            )
        row = rows[0]
        # Edited outside OpenRange: DAMAGED here too, as history, the CSV and verify say.
        problem = (
            f"drill run {run_id}: its contents no longer match the digest the ledger chained"
            " for it: it was edited"
            if drill_run_edited(row)
            else None
        )
        del row["chained"]
        amended = _amended(row, self._amendments("WHERE d.id = ?", [run_id]).get(run_id, []))
        outcome_ = DAMAGED if problem is not None else drill_outcome(amended)
        if problem is None and drill_run_incomplete(amended):
            amended = amended | {"decision": None}  # cut short: nothing was decided
        if problem is None and not graded(outcome_):
            amended = _ungraded(amended)
        return amended | {"outcome": outcome_, "problem": problem}

    def drill_runs(self, badge: str) -> list[dict[str, Any]]:
        return self._drill_runs(
            "WHERE d.badge = ?", [badge], LISTED_RUN_FIELDS[:1] + LISTED_RUN_FIELDS[2:]
        )

    def all_drill_runs(
        self, since: str | None = None, until: str | None = None
    ) -> list[dict[str, Any]]:
        """Every drill run recorded from `since` through `until` (ISO dates, both days
        included), each with its `outcome`, oldest first (the CSV export)."""
        sql = "WHERE 1 = 1"
        args: list[Any] = []
        if since is not None:
            sql += " AND d.recorded >= ?"
            args.append(since)
        if until is not None:
            sql += " AND d.recorded < ?"
            args.append(_day_after(until))
        return self._drill_runs(sql, args, LISTED_RUN_FIELDS)

    def _drill_runs(
        self, where: str, args: list[Any], fields: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        """Drill runs with their `outcome`: DAMAGED for one whose contents no longer match the
        digest the ledger chained for it (edited outside OpenRange), as for a qualification."""
        rows = self._rows(f"{_CHAINED_DRILL_RUNS} {where} ORDER BY d.id", *args)
        amendments = self._amendments(where, args)
        shown = []
        for row in rows:
            edited_run = drill_run_edited(row)
            row = _amended(row, amendments.get(int(row["id"]), []))
            outcome_ = DAMAGED if edited_run else drill_outcome(row)
            script = drill_run_script(row)
            listed = {k: row[k] for k in LISTED_RUN_FIELDS if k in row}
            if not graded(outcome_):
                # Never graded: no score (not the log's default 100) and no decision.
                row = _ungraded(row)
                listed |= {"score": None, "decision": None}
                if stopped := drill_run_stopped(row):
                    listed["stopped"] = stopped
                if not_decided := drill_run_not_decided(row):
                    listed["not_decided"] = not_decided
                if faulted := drill_run_faulted(row):
                    listed["faulted"] = faulted
            shown.append(
                listed
                | {
                    "outcome": outcome_,
                    "officer": script or LIVE,
                    "officer_kind": "scripted" if script else LIVE,
                    "corrected": row.get("corrected", []),
                    # Devices used uncalibrated on a range master's override (nu20 #6).
                    "uncalibrated": [] if edited_run else drill_run_uncalibrated(row),
                    # Issued weapons the range master left out (`--without`, rc21 #5).
                    "weapons_left_out": [] if edited_run else drill_run_left_out(row),
                    # The policy that judged it, as `records show` names it (rc25 #4).
                    "policy": "" if edited_run else drill_run_policy(row),
                }
                | damaged_run(outcome_)
            )
        return shown

    def _last_id(self, cur: Any) -> int:
        if self.dialect == "postgresql":
            return int(self._guard(cur.fetchone)["id"])
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
        course_sha256: str = "",
        shooter: str = OFFICER,
        started: str | None = None,
    ) -> int:
        """Begin recording an attempt; `course_sha256`: the content hash of the course fired
        (the run's `attempt_started` logs the same), kept in its qualification record;
        `shooter`: OFFICER, or a scripted shooter's id (a simulation, recorded as SIMULATED
        and never counted as qualified); `started`: when it was fired (a console lane's
        attempt, recorded after it ended: UTC ISO, as `_now` writes it), default now."""
        self.officer(badge)
        self._sweep_claims()  # a lock file a killed process left after recording
        with self._transaction(durable=False):  # in progress: made durable by its finish
            cur = self._run(
                "INSERT INTO attempts_in_progress (badge, course, seed, started, software_version,"
                " devices, calibration, shots, course_sha256, shooter)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                + (" RETURNING id" if self.dialect == "postgresql" else ""),
                badge,
                course,
                seed,
                started or _now(),
                software_version,
                json.dumps(devices),
                json.dumps(calibration),
                "[]",
                course_sha256,
                shooter,
            )
            attempt = self._last_id(cur)
        # The run that fires it holds it, as a resume does: a `--resume` or a `records close` of
        # an attempt being fired right now is refused up front (nothing merged, nothing lost).
        self.claim_attempt(attempt)
        return attempt

    def record_shot(self, attempt: int, shot: dict[str, Any]) -> None:
        """Keep each shot as it is fired: a crash loses nothing already fired. One row per shot,
        so the cost does not grow with the attempt. Not fsynced on its own: it survives the
        process being killed, and is on disk once the attempt is finished (or the next durable
        write); docs/records.md says what a power cut may take."""
        text = json.dumps(shot)  # outside the write lock
        with self._transaction(durable=False):
            # One statement: the next sequence number is one probe of the primary key's
            # prefix (MAX), whatever the attempt's length; no row when there is no attempt.
            cur = self._run(_INSERT_SHOT, text, attempt)
            if cur.rowcount != 1:
                raise RecordsError(f"no in-progress attempt #{attempt}")

    def _kept_rows(
        self, attempt: int, earlier: Any = "[]"
    ) -> list[tuple[int | None, dict[str, Any]]]:
        """An in-progress attempt's kept records (`earlier`: its legacy `shots` column, then one
        row per record), each with its row's `seq` in attempt_shots (None: the legacy column).
        A row that does not parse, or is not a shot, deployment, faulted string or log folder,
        raises RecordsError in one line naming the store, the attempt and the row
        (`in-progress attempt #8: shot 1 is not a JSON record: damaged`), so nothing damaged is
        resumed from or sealed into the chain as good; `_logged_tail` compares them with their
        logs and `_check_kept` checks their fields."""
        rows = self._rows(
            "SELECT seq, shot FROM attempt_shots WHERE attempt = ? ORDER BY seq", attempt
        )
        kept: list[tuple[int | None, dict[str, Any]]] = [
            (None, record) for record in self._in_progress_json(attempt, "shots", earlier, list)
        ]
        for n, row in enumerate(rows, len(kept) + 1):
            kept.append(
                (int(row["seq"]), self._in_progress_json(attempt, f"shot {n}", row["shot"], dict))
            )
        for n, (seq, record) in enumerate(kept, 1):
            if not isinstance(record, dict) or not _kept_record(record):
                raise RecordsError(
                    f"records {self.where}: in-progress attempt #{attempt}: shot {n} is not a"
                    " shot, deployment, faulted string or log folder"
                    + ("" if seq is None else f" (attempt_shots seq {seq})")
                    + ": damaged (edited?); close or resume refused, nothing was changed"
                )
        return kept

    def _check_begun(self, what: str, table: str, progress: dict[str, Any], folder: object) -> None:
        """Hold an in-progress row's `badge` and `started`, which the record is sealed with,
        to what its run folder says (rc24 #2): the badge its log's first record carries (a
        drill run's `run_started`, an attempt's `attempt_started`, where one was given) and
        the start its folder's name carries (`folder_started`: runs are dated by their start,
        which the expiry counts from). A mismatch raises RecordsError in one line naming the
        store, the run, the row's field and both values. No folder, or a log gone or
        unreadable: only what is there is checked."""
        from drills.events import EventLogError
        from range.runs.runlog import read_events

        if not isinstance(folder, str) or not folder:
            return
        head = f"records {self.where}: {what}: {table}"
        refused = (
            "edited; close or resume refused, nothing was changed; make the row what the run"
            " folder says (or restore the store from a backup), then close or resume it"
        )
        made = folder_started(folder)
        if made is not None:
            stamp = utc_stamp(str(progress["started"]))
            began = None if stamp is None else datetime.fromisoformat(stamp)
            if began is None or abs((began - made).total_seconds()) > START_SLACK_S:
                raise RecordsError(
                    f"{head} started is {str(progress['started'])[:40]} in the row,"
                    f" {made.isoformat()} in its run folder's name {folder}: {refused}"
                )
        try:
            events = read_events(Path(folder))
        except (OSError, EventLogError):
            return
        logged = events[0].data.get("badge") if events else None
        if isinstance(logged, str) and logged != str(progress["badge"]):
            raise RecordsError(
                f"{head} badge is {str(progress['badge'])[:40]} in the row, {logged[:40]} in"
                f" line 1 ({events[0].kind}) of its log {Path(folder) / RUN_LOG}: {refused}"
            )

    def _check_begun_attempt(
        self,
        attempt: int,
        progress: dict[str, Any],
        kept: list[tuple[int | None, dict[str, Any]]],
    ) -> None:
        """`_check_begun` for an in-progress attempt: against its first part's folder (its
        row says when and whose the attempt was from its first part on)."""
        first = attempt_folders(record for _, record in kept)[:1]
        self._check_begun(
            f"in-progress attempt #{attempt}",
            "attempts_in_progress",
            progress,
            first[0] if first else None,
        )

    def _check_numbered(self, attempt: int, kept: list[tuple[int | None, dict[str, Any]]]) -> None:
        """Rows are numbered from 0, one by one (_INSERT_SHOT), and none is deleted before the
        attempt is finished: a gap is a row deleted, refused in one line naming its seq (after
        `_logged_tail`, which names a deleted row by its log line where it can). Seq 0 of an
        attempt fired with a run folder names that folder (ATTEMPT_LOG): without it nothing
        would hold the rows to the log and the record would name no log (rc24 #1)."""
        seqs = [seq for seq, _ in kept if seq is not None]
        for expected, seq in enumerate(seqs):
            if seq == expected:
                continue
            what = (
                "the row that names the run folder the attempt was logged in, if it was"
                f' ({{"kind": "{ATTEMPT_LOG}", "run_dir": FOLDER}}, FOLDER the one whose'
                f" events.jsonl has attempt_recorded attempt {attempt}), or its first shot"
                if expected == 0
                else "a kept shot, string's end or log folder"
            )
            raise RecordsError(
                f"records {self.where}: in-progress attempt #{attempt}: attempt_shots seq"
                f" {expected} is missing (rows are numbered from 0 and never deleted before"
                " the attempt is finished): deleted (edited?); close or resume refused,"
                f" nothing was changed; put back {what} as seq {expected} (or restore the"
                " store from a backup), then close or resume it"
            )

    def _check_kept(
        self,
        attempt: int,
        kept: list[tuple[int | None, dict[str, Any]]],
        course: Course | None = None,
        fields: bool = True,
    ) -> None:
        """Check each kept row's fields: one missing, unknown or mistyped (the event log's own
        vocabulary, drills/events.py), or (with `course`) a stage or string the course does not
        have, raises RecordsError in one line naming the store, the attempt, the row and the
        field. Without `fields`: only its stage and string against `course`."""
        for n, (seq, record) in enumerate(kept, 1):
            wrong = kept_field_problem(record, course, fields)
            if wrong is not None:
                raise RecordsError(
                    f"records {self.where}: in-progress attempt #{attempt}: {_row(n, seq)}"
                    f" ({_described(record)}): {wrong}: damaged (edited?); close or resume"
                    " refused, nothing was changed"
                )

    def _logged_tail(
        self, attempt: int, kept: list[tuple[int | None, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Check an in-progress attempt's kept rows against its parts' event logs, the record
        of what was fired (each part's `events.jsonl`, whose sha256 its record will keep):
        each part's rows must be its log's shots, deployments and strings' ends and faults, in
        order and field for field. A row deleted, edited or of another kind raises
        RecordsError in one line naming the store, the attempt, the row, the log's line and the
        field, and how to repair it. Only the last part's log may run ahead of its rows (the
        process died between writing the log and the row): its records beyond them are
        returned, for the caller to keep. A part whose log is gone or unreadable is left as the
        records have it (they are all there is of it)."""
        from drills.events import EventLogError
        from range.runs.runlog import read_events

        marks = [n for n, (_, r) in enumerate(kept) if r.get("kind") == ATTEMPT_LOG]
        tail: list[dict[str, Any]] = []
        for p, mark in enumerate(marks):
            end = marks[p + 1] if p + 1 < len(marks) else len(kept)
            rows = [(n, kept[n]) for n in range(mark + 1, end)]
            folder = Path(str(kept[mark][1]["run_dir"]))
            try:
                events = read_events(folder)
            except (OSError, EventLogError):
                continue
            log = folder / RUN_LOG
            logged = [
                (line, {"kind": r.kind, **r.data})
                for line, r in enumerate(events, 1)
                if r.kind in KEPT_KINDS
            ]
            refused = (
                "close or resume refused, nothing was changed; the log is what was fired: make"
                " the row what the log says (or restore the store from a backup), then close or"
                " resume it"
            )
            head = f"records {self.where}: in-progress attempt #{attempt}"
            for k, (n, (seq, row)) in enumerate(rows):
                if k >= len(logged):
                    raise RecordsError(
                        f"{head}: {_row(n + 1, seq)} ({_described(row)}) is not in its part's"
                        f" log {log}, which ends before it: added (edited?); close or resume"
                        " refused, nothing was changed; delete the row (or restore the store"
                        " from a backup), then close or resume it"
                    )
                line, want = logged[k]
                if row == want:
                    continue
                if any(row == later for _, later in logged[k + 1 :]):
                    raise RecordsError(
                        f"{head}: the {_described(want)} of line {line} of its log {log} has no"
                        f" row before {_row(n + 1, seq)}: deleted (edited?); {refused}"
                    )
                field = next(
                    key
                    for key in ("kind", *sorted({*row, *want} - {"kind"}))
                    if row.get(key, _ABSENT) != want.get(key, _ABSENT)
                )
                said = {True: "absent", False: ""}
                here = said[field not in row] or json.dumps(row[field])
                there = said[field not in want] or json.dumps(want[field])
                raise RecordsError(
                    f"{head}: {_row(n + 1, seq)} ({_described(row)}) differs from line {line} of"
                    f" its log {log}: {field} is {here[:40]} in the row, {there[:40]} in the"
                    f" log: edited; {refused}"
                )
            beyond = [want for _, want in logged[len(rows) :]]
            if beyond and p + 1 < len(marks):
                line, want = logged[len(rows)]
                raise RecordsError(
                    f"{head}: the {_described(want)} of line {line} of its log {log} has no row"
                    f" (part {p + 1} of {len(marks)} ends before it): deleted (edited?);"
                    f" {refused}"
                )
            tail = beyond
        return tail

    def _in_progress_json(self, attempt: int, what: str, text: Any, kind: type) -> Any:
        """One JSON column of an in-progress attempt, parsed and of the right kind (a list or
        a record), else RecordsError naming the store, the attempt and the column."""
        try:
            value = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            value = None
        if not isinstance(value, kind):
            said = "JSON list" if kind is list else "JSON record"
            raise RecordsError(
                f"records {self.where}: in-progress attempt #{attempt}: {what} is not a"
                f" {said}: damaged (edited?); close or resume refused, nothing was changed"
            )
        return value

    def incomplete(self) -> list[dict[str, Any]]:
        """Attempts begun and never finished (a crash, a pulled plug, or still being fired):
        id, badge, course, seed, started, how many shots were kept, and `live` (True while
        another process fires it: not one to resume or close). A lock file left by a process
        killed just after it recorded its attempt goes (`_sweep_claims`)."""
        self._sweep_claims()
        rows = self._rows(
            "SELECT a.id, a.badge, a.course, a.seed, a.started, COUNT(s.seq) AS shots"
            " FROM attempts_in_progress a LEFT JOIN attempt_shots s ON s.attempt = a.id"
            # Where a part of the attempt was logged is kept with it, and is no shot.
            " AND s.shot NOT LIKE ? AND s.shot NOT LIKE ?"
            " GROUP BY a.id, a.badge, a.course, a.seed, a.started ORDER BY a.id",
            json.dumps({"kind": ATTEMPT_LOG})[:-1] + "%",
            # So is the end of a string fired whole (kept so that a resume keeps the string).
            json.dumps({"kind": STRING_ENDED})[:-1] + "%",
        )
        return [{**row, "live": self.attempt_live(int(row["id"]))} for row in rows]

    def finish_attempt(
        self,
        attempt: int,
        score: dict[str, Any],
        incomplete: dict[str, Any] | None = None,
        course: Course | None = None,
        seal: Callable[[int], None] | None = None,
        console_audit: str | None = None,
        finished: str | None = None,
        logged: list[dict[str, Any]] | None = None,
    ) -> int:
        """Move a finished attempt into the hash-chained qualification records, atomically.
        `finished`: when it ended (a console lane's attempt, recorded after: UTC ISO), default
        now; its expiry counts from it.
        `seal` (the runner's) is called with the record's number before it is hashed: it ends
        and closes the attempt's log, whose sha256 (each part's, for a resumed attempt) the
        record then keeps, chained, so that `records verify`, `score` and `report` find a log
        edited since, as they do a drill run's.
        With `incomplete` (who closed it and why) it is recorded as INCOMPLETE. Each round and
        cartridge keeps what it counted (range.records.exports.keep_counted), judged against
        `course` (default: the built-in course, or the copy kept in the attempt's run folder),
        so its sheet adds up from the records alone. `console_audit` (an attempt the console
        records: its audit head then) is kept in the chained detail, so `records verify`
        finds the console's trail wiped after it (range/console/store.py MARK). `logged`:
        records its last part's log holds beyond its rows (`records close`: `_logged_tail`),
        kept after them. A kept row naming a stage or string that course does not have is
        refused (RecordsError)."""
        from range.records.exports import keep_counted, sheet_course

        with self._transaction(exclusive=True):
            rows = self._rows_by_id("SELECT * FROM attempts_in_progress WHERE id = ?", attempt)
            if not rows:
                raise RecordsError(f"no in-progress attempt #{attempt}")
            progress = rows[0]
            head = self._head(QUALIFICATIONS)
            # A string's end is kept only for a resume to know the string was finished.
            kept_rows = self._kept_rows(attempt, progress["shots"])
            kept_rows += [(None, record) for record in logged or []]
            shots = [s for _, s in kept_rows if s.get("kind") != STRING_ENDED]
            for column in ("devices", "calibration"):  # chained as they are: checked first
                self._in_progress_json(attempt, column, progress[column], list)
            body: dict[str, Any] = {"shots": shots, "score": score}
            if incomplete is not None:
                body["incomplete"] = incomplete
            if console_audit is not None:
                body["console_audit"] = console_audit
            simulated = progress.get("shooter", OFFICER) != OFFICER
            if simulated:
                body["shooter"] = progress["shooter"]  # chained with the detail
            origin = course_origin(progress["course"], progress["course_sha256"])
            if course is None:
                found = {
                    "course": progress["course"],
                    "course_origin": origin,
                    "course_sha256": progress["course_sha256"],
                    "detail": json.dumps(body),
                }
                course = sheet_course(found)
            # A stage or string the course does not have: never sealed (counting it would
            # fail). Close and resume check every field first (`_check_kept`).
            self._check_kept(attempt, kept_rows, course, fields=False)
            keep_counted(body, course)
            row = {
                "badge": progress["badge"],
                "course": progress["course"],
                "started": progress["started"],
                "finished": finished or _now(),
                "seed": progress["seed"],
                "software_version": progress["software_version"],
                "devices": progress["devices"],
                "calibration": progress["calibration"],
                "points": score["points"],
                "max_points": score["max_points"],
                "hits": score["hits"],
                "passed": int(score["passed"]) if incomplete is None and not simulated else 0,
                "detail": json.dumps(body, sort_keys=True),
                "prev_hash": head["last_hash"],
                "course_sha256": progress["course_sha256"],
                "course_origin": origin,
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
            if seal is not None:
                seal(int(row["id"]))
                for kept in attempt_logs(body["shots"]):
                    log = Path(str(kept.get("run_dir"))) / RUN_LOG
                    if log.is_file():
                        kept["log_sha256"] = file_sha256(log)
                row["detail"] = json.dumps(body, sort_keys=True)
            digest = record_hash(row)
            self._run(
                "UPDATE qualifications SET hash = ?, detail = ? WHERE id = ?",
                digest,
                row["detail"],
                row["id"],
            )
            self._run(
                "UPDATE chain_head SET last_id = ?, last_hash = ? WHERE id = ?",
                row["id"],
                digest,
                QUALIFICATIONS,
            )
            self._run("DELETE FROM attempt_shots WHERE attempt = ?", attempt)
            self._run("DELETE FROM attempts_in_progress WHERE id = ?", attempt)
            number = int(row["id"])
        self._release_claim(attempt)  # finished: one open lock file per attempt in flight only
        return number

    def attempt_in_progress(self, attempt: int) -> dict[str, Any]:
        """An unfinished attempt's badge, course, course_sha256, seed and shooter; RecordsError
        when there is none with that id."""
        rows = self._rows_by_id(
            "SELECT id, badge, course, course_sha256, seed, shooter, started"
            " FROM attempts_in_progress WHERE id = ?",
            attempt,
        )
        if not rows:
            raise RecordsError(
                f"no in-progress attempt #{attempt}: see `openrange records incomplete` (a"
                " qualification record's number is another number)"
            )
        return rows[0]

    def attempt_live(self, attempt: int, kind: str = "attempt") -> bool:
        """Whether another process holds `attempt`'s claim, i.e. fires it right now (`records
        incomplete` tells a live attempt from a crashed one); this process's own claims and an
        attempt nobody holds are not live."""
        if (kind, attempt) in self._claims:
            return False
        if self.dialect != "sqlite":
            key = _CLAIM_KEYS[kind]
            rows = self._rows("SELECT pg_try_advisory_lock(?, ?) AS ok", key, attempt)
            if rows[0]["ok"]:
                self._rows("SELECT pg_advisory_unlock(?, ?) AS ok", key, attempt)
                return False
            return True
        path = Path(f"{_sqlite_path(self.url)}.{kind}-{attempt}.lock")
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False  # never claimed since the file went: nobody fires it
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # closing drops the probe's own lock
        return False

    def _sweep_claims(self) -> None:
        """Remove the lock files (SQLite) of attempts and drill runs no longer in progress that
        nobody holds: a process killed after its attempt was recorded and before it removed
        its lock file left it (harmless, but none is to be left behind). Taken as a claim is
        let go of (`_release_claim`): locked first, so a file a live process holds stays, and
        a process that opened it meanwhile sees it gone and claims afresh."""
        if self.dialect != "sqlite":
            return
        db = _sqlite_path(self.url)
        found: list[Path] = []
        with suppress(OSError):
            found = [p for p in db.parent.iterdir() if p.name.startswith(f"{db.name}.")]
        if not found:
            return
        tables = {"attempt": "attempts_in_progress", "drill-run": "drill_runs_in_progress"}
        present = self._tables()
        for kind, table in tables.items():
            pattern = re.compile(rf"{re.escape(db.name)}\.{kind}-([0-9]{{1,19}})\.lock")
            stale = [(p, int(m[1])) for p in found if (m := pattern.fullmatch(p.name))]
            if not stale or table not in present:
                continue
            live = {int(r["id"]) for r in self._rows(f"SELECT id FROM {table}")}
            for path, number in stale:
                if number in live or (kind, number) in self._claims:
                    continue
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    if os.stat(path).st_ino == os.fstat(fd).st_ino:
                        path.unlink()
                except OSError:
                    pass  # held: its process is finishing it and removes it itself
                finally:
                    os.close(fd)

    def claim_attempt(self, attempt: int, kind: str = "attempt") -> None:
        """Claim an unfinished attempt for this process until `close()`, before anything is
        fired: a second `course run --resume` of the same attempt (on this store) is refused up
        front, in one line, instead of firing the course and merging its shots into the same
        record. The claim dies with the process (a kill -9 leaves nothing to clear): SQLite
        holds an flock on `<database>.attempt-<id>.lock`, PostgreSQL a session advisory lock."""
        if (kind, attempt) in self._claims:
            return
        busy = (
            f"in-progress attempt #{attempt} is being fired by another process right now (its"
            " first run or a resume): wait for it to end, or stop it"
            if kind == "attempt"
            else f"in-progress drill run #{attempt} is being played by another process right now:"
            " wait for it to end, or stop it"
        )
        if self.dialect != "sqlite":
            key = _CLAIM_KEYS[kind]
            rows = self._rows("SELECT pg_try_advisory_lock(?, ?) AS ok", key, attempt)
            if not rows[0]["ok"]:
                raise RecordsError(busy)
            self._claims[(kind, attempt)] = None
            return
        path = Path(f"{_sqlite_path(self.url)}.{kind}-{attempt}.lock")
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise RecordsError(
                    f"{path}: cannot claim in-progress {kind.replace('-', ' ')} #{attempt}:"
                    f" {exc.strerror}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                raise RecordsError(
                    busy + (f" (pid {holder})" if holder.isdigit() else "")
                ) from None
            try:  # still the file at the path, not one its last holder removed meanwhile
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        with suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._claims[(kind, attempt)] = (fd, path)

    def resume_attempt(
        self,
        attempt: int,
        badge: str,
        course: str,
        course_sha256: str | None = None,
        shooter: str | None = None,
        fired: Course | None = None,
    ) -> list[dict[str, Any]]:
        """The records kept so far of an attempt that never finished (shots, deployments,
        faulted strings, in order), to fire the rest of it. Raises RecordsError, naming what is
        wrong, when it is not in progress, is another officer's or another course's, or (with
        `course_sha256`) began with another version of the course file, or (with `shooter`)
        was fired by another shooter (an officer's attempt is never finished by a script).
        The attempt is claimed first (`claim_attempt`): one resume at a time; a refused resume
        lets go of its claim at once (and of its lock file). The kept rows are checked
        (`_shots`; with `fired`, the course, their stages and strings too) and compared with
        their parts' logs (`_logged_tail`): a row deleted or edited is refused by name."""
        self.claim_attempt(attempt)
        try:
            return self._resumable(attempt, badge, course, course_sha256, shooter, fired)
        except RecordsError:
            self._release_claim(attempt)
            raise

    def _resumable(
        self,
        attempt: int,
        badge: str,
        course: str,
        course_sha256: str | None,
        shooter: str | None,
        fired: Course | None = None,
    ) -> list[dict[str, Any]]:
        """resume_attempt's checks and its records kept so far, the attempt claimed."""
        rows = self._rows(
            "SELECT badge, course, shots, course_sha256, shooter, started"
            " FROM attempts_in_progress WHERE id = ?",
            attempt,
        )
        if not rows:
            raise RecordsError(
                f"no in-progress attempt #{attempt}: see `openrange records incomplete` (a"
                " qualification record's number is another number)"
            )
        if (rows[0]["badge"], rows[0]["course"]) != (badge, course):
            raise RecordsError(
                f"in-progress attempt #{attempt} is badge {rows[0]['badge']}'s on"
                f" {rows[0]['course']}, not badge {badge}'s on {course}"
            )
        kept = rows[0]["course_sha256"]
        if course_sha256 is not None and kept and kept != course_sha256:
            raise RecordsError(
                f"in-progress attempt #{attempt} began with another version of {course}"
                f" (sha256 {kept[:12]}, this file {course_sha256[:12]}): resume it with that file"
            )
        began = rows[0]["shooter"]
        if shooter is not None and shooter != began:
            said = "an officer" if began == OFFICER else f"scripted shooter {began}"
            now = "an officer" if shooter == OFFICER else f"scripted shooter {shooter}"
            raise RecordsError(
                f"in-progress attempt #{attempt} was begun by {said}, not {now}: resume it the"
                " same way"
            )
        # Against the log first (a row edited is named by its log line), then field by field.
        kept = self._kept_rows(attempt, rows[0]["shots"])
        self._logged_tail(attempt, kept)  # its tail is kept by the resume (_reconciled)
        self._check_numbered(attempt, kept)
        self._check_kept(attempt, kept, fired)
        self._check_begun_attempt(attempt, rows[0], kept)
        return [record for _, record in kept]

    def close_attempt(self, attempt: int, by: str, reason: str) -> int:
        """A range master closes a crashed attempt: it joins the chain as INCOMPLETE (never a
        pass or a fail) with every shot kept, and who closed it and why."""
        if not by.strip() or not reason.strip():
            raise RecordsError("closing an attempt needs who closes it (--by) and why (--reason)")
        self.claim_attempt(attempt)  # not while a run or a resume fires it
        try:
            progress = self.attempt_in_progress(attempt)
            # Its rows are checked against its parts' logs first; what the last part's log
            # holds beyond them (the process died between the two writes) is kept too.
            earlier = self._rows_by_id(
                "SELECT shots FROM attempts_in_progress WHERE id = ?", attempt
            )
            kept = self._kept_rows(attempt, earlier[0]["shots"])
            logged = self._logged_tail(attempt, kept)
            self._check_numbered(attempt, kept)  # a row deleted where no log says so
            self._check_kept(attempt, kept)  # then field by field
            self._check_begun_attempt(attempt, progress, kept)
        except RecordsError:
            self._release_claim(attempt)  # nothing closed: no lock file left behind
            raise
        score = closed_score(_course_max_points(progress["course"], progress["course_sha256"]))
        # The record keeps the in-progress attempt's number: the two are different numbers.
        return self.finish_attempt(
            attempt, score, incomplete=closed_entry(by, reason, attempt), logged=logged
        )

    def qualification(self, qualification: int) -> dict[str, Any]:
        rows = self._rows_by_id("SELECT * FROM qualifications WHERE id = ?", qualification)
        if not rows:
            raise RecordsError(f"no qualification record {qualification}")
        return rows[0]

    def check_record(self, row: dict[str, Any]) -> str | None:
        """What is wrong with one qualification record, checked on its own (as a certificate
        needs it): its contents against its hash, and its link to the record before it.
        None when it holds."""
        if edited(row):
            return f"record {row['id']}: its contents no longer match its hash: it was edited"
        before = self._rows(
            "SELECT id, hash FROM qualifications WHERE id < ? ORDER BY id DESC LIMIT 1", row["id"]
        )
        expected = before[0]["hash"] if before else GENESIS
        if row["prev_hash"] != expected:
            previous = before[0]["id"] if before else 0
            return (
                f"record {row['id']}: does not follow record {previous}:"
                " a record before it was deleted or changed"
            )
        return None

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
            args.append(_day_after(until))
        return self._rows(sql + " ORDER BY id", *args)

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM qualifications")[0]["n"])

    def counts(self) -> dict[str, int]:
        """How many qualification records, officers and drill runs the chains hold, and how
        many attempts are in progress (outside the chain until finished or closed)."""
        # A table the store does not have (before schema 6; dropped: `verify` says so) holds 0.
        present = self._tables()
        counted = ", ".join(
            f"(SELECT COUNT(*) FROM {table}) AS {key}" if table in present else f"0 AS {key}"
            for key, table in _COUNTED.items()
        )
        (row,) = self._rows(f"SELECT {counted}")
        return {k: int(v) for k, v in row.items()}

    # Not LIKE this: a qualification record an officer fired. A scripted shooter's attempt (its
    # detail, written by finish_attempt with sorted keys, names the `shooter`) is a simulation,
    # never an attempt at qualifying, and counts toward no one's standing, not even as "not
    # qualified". Matched on the text, not parsed: a record whose JSON was damaged by hand is
    # still listed (DAMAGED), never an error, in SQLite and PostgreSQL alike.
    _SIMULATED_LIKE = '%"shooter": "%'

    def standing(self, badge: str | None = None, until: str | None = None) -> list[StatusRow]:
        """Each officer's (or one officer's) standing per course, in one indexed query. With
        `until` (YYYY-MM-DD), as it stood on that day: records finished after it are left out
        (a roster as of a past date never counts a later pass)."""
        where, args = _standing_filter(badge, until)
        variant = _VARIANT
        rows = self._rows(
            f"SELECT badge, course, {variant} AS variant, COUNT(*) AS attempts,"
            " MAX(finished) AS last_attempt,"
            " MAX(CASE WHEN passed = 1 THEN finished END) AS last_pass"
            f" FROM qualifications WHERE detail NOT LIKE ? {where}"
            f"GROUP BY badge, course, {variant}"
            " ORDER BY badge, course, variant",
            self._SIMULATED_LIKE,
            *args,
        )
        # The record each last pass rests on is checked against its own hash (one indexed
        # lookup per course and officer, not every record): a pass written into the database
        # by hand never qualifies anyone.
        damaged = set()
        for r in rows:
            if r["last_pass"] is None:
                continue
            passes = self._rows(
                "SELECT * FROM qualifications WHERE badge = ? AND course = ? AND finished = ?"
                " AND passed = 1",
                r["badge"],
                r["course"],
                r["last_pass"],
            )
            for p in passes:
                variant = p["course_sha256"] if p["course_origin"] == "modified" else ""
                if variant == r["variant"] and edited(p):
                    damaged.add((r["badge"], r["course"], r["variant"]))
        return [
            StatusRow(
                r["badge"],
                _variant_label(r),
                int(r["attempts"]),
                r["last_attempt"],
                r["last_pass"],
                (r["badge"], r["course"], r["variant"]) in damaged,
            )
            for r in rows
        ]

    def simulated_courses(
        self, badge: str | None = None, until: str | None = None
    ) -> set[tuple[str, str]]:
        """(badge, course label) of every course each officer (or one officer) has a scripted
        shooter's attempt on, in one grouped query, as `standing` counts them (`until`: as it
        stood on that day). A course here and not in `standing` is "simulated only"."""
        where, args = _standing_filter(badge, until)
        variant = _VARIANT
        rows = self._rows(
            f"SELECT badge, course, {variant} AS variant FROM qualifications"
            f" WHERE detail LIKE ? {where}GROUP BY badge, course, {variant}",
            self._SIMULATED_LIKE,
            *args,
        )
        return {
            (
                str(r["badge"]),
                _variant_label(r),
            )
            for r in rows
        }

    # -- the audit check -------------------------------------------------------------------------

    def verify(self) -> list[Problem]:
        """Walk both chains inside one snapshot: an edited record breaks its own hash, a deleted
        one the next link (or the chain head, if it was the last); an officer or drill run
        edited, deleted or added outside OpenRange no longer matches the ledger."""
        with self.snapshot():
            # Every table the store's schema has (and the console's, where one used it): a
            # dropped one is a problem named in one line, never "intact" (nu25 #4).
            missing = self.missing_tables()
            if missing:
                unwalked = bool(WALKED_TABLES.intersection(missing))
                return [Problem(0, missing_tables_line(missing, unwalked), "store")] + (
                    [] if unwalked else self._walk()
                )
            return self._walk()

    def _walk(self) -> list[Problem]:
        problems = self._verify_qualifications()
        problems += self._verify_ledger()
        problems += self._verify_logs()
        return problems

    def rescore_warnings(self) -> list[Problem]:
        """Each kept run's drill or course file (the copy in its run folder: `drill.toml`,
        `course.toml`, or a built-in's `.json`) against the sha256 its record holds: a copy
        edited or removed since leaves a run that can no longer be rescored, reported or
        replayed. A warning, not a broken chain: the record itself still holds. A folder that
        is gone is not judged here (`verify` reports a drill run's missing log)."""
        from range.runs.saved import COURSE_COPY, COURSE_JSON, DRILL_COPY, DRILL_JSON

        found: list[Problem] = []
        if not {"drill_runs", "qualifications"} <= self._tables():
            return found  # a table dropped: `verify` says so
        for run in self._rows(
            "SELECT id, run_dir, drill_sha256 FROM drill_runs WHERE run_dir IS NOT NULL"
            " AND drill_sha256 != '' ORDER BY id"
        ):
            said = _copy_problem(Path(run["run_dir"]), run["drill_sha256"], DRILL_COPY, DRILL_JSON)
            if said:
                found.append(Problem(int(run["id"]), f"drill run {run['id']}: {said}", "rescore"))
        for row in self._rows(
            "SELECT id, detail, course_sha256 FROM qualifications WHERE course_sha256 != ''"
            " ORDER BY id"
        ):
            try:
                detail = stored_json(row, "detail")
            except RecordsError:
                continue  # DAMAGED: the chain walk reports it
            shots = detail.get("shots", []) if isinstance(detail, dict) else []
            for logged_in in attempt_folders(shots):
                folder = Path(logged_in)
                said = _copy_problem(folder, row["course_sha256"], COURSE_COPY, COURSE_JSON)
                if said:
                    found.append(Problem(int(row["id"]), f"record {row['id']}: {said}", "rescore"))
        return found

    def sheet_warnings(self) -> list[Problem]:
        """Each qualification record whose score sheet cannot be drawn: a round or cartridge
        sealed with a missing or mistyped field, or naming a stage or string its course does not
        have (sealed so before in-progress rows were checked field by field, nu25 #2), named by
        record, shot and field as `records show` names it. A warning, not a broken chain: the
        record still holds what was sealed, and its hash still matches."""
        from range.records.exports import score_sheet

        found: list[Problem] = []
        for row in self._rows("SELECT * FROM qualifications ORDER BY id"):
            try:
                stored_json(row, "detail")
            except RecordsError:
                continue  # DAMAGED: the chain walk reports it
            try:
                score_sheet(row)
            except RecordsError as exc:
                # `show`'s line, less its advice to run verify: this is verify.
                said = str(exc).removesuffix(": run records verify")
                found.append(Problem(int(row["id"]), said, "sheet"))
        return found

    def drill_run_log_checks(self) -> list[tuple[int, bool | None, str]]:
        """Each recorded drill run's id and `log_check`: whether its log on disk is still the
        one recorded (None: none was kept, and what says why: NO_LOG_HASH, NO_LOG_CLOSED or
        NO_LOG_UNKNOWN), and what is said."""
        if "drill_runs" not in self._tables():
            return []  # dropped: `verify` says so
        rows = self._rows("SELECT id, run_dir, result FROM drill_runs ORDER BY id")
        return [(int(row["id"]), *log_check(row)) for row in rows]

    def _verify_logs(self) -> list[Problem]:
        """Each drill run's log on disk, and each part's log of a qualification record, against
        the sha256 its record kept (one recorded without is not judged: it has none to judge
        by)."""
        problems = [
            Problem(run, f"drill run {run}: {why}", "log")
            for run, ok, why in self.drill_run_log_checks()
            if ok is False
        ]
        for row in self._rows("SELECT id, detail FROM qualifications ORDER BY id"):
            for ok, why in attempt_log_checks(row):
                if ok is False:
                    problems.append(Problem(int(row["id"]), f"record {row['id']}: {why}", "log"))
        return problems

    def _verify_qualifications(self) -> list[Problem]:
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
        head = self._head_found(QUALIFICATIONS, problems)
        if head is None:
            pass
        elif head["last_hash"] != previous_hash:
            problems.append(
                Problem(
                    _head_id(head["last_id"]),
                    "the newest record is missing or changed: the chain ends elsewhere",
                )
            )
        elif head["last_id"] != previous_id:
            problems.append(
                Problem(
                    previous_id,
                    f"the chain head names record {head['last_id']!r} as the newest, not"
                    f" {previous_id}: the chain head was edited",
                )
            )
        return problems

    def _verify_ledger(self) -> list[Problem]:
        problems = []
        previous_hash = GENESIS
        latest: dict[tuple[str, str], str] = {}
        previous_id = 0
        whole = True  # the newest entry's hash is its own
        for entry in self._rows("SELECT * FROM ledger ORDER BY id"):
            previous_id = entry["id"]
            name = f"ledger entry {entry['id']} ({entry['kind']} {entry['ref']})"
            if entry["prev_hash"] != previous_hash:
                problems.append(
                    Problem(entry["id"], f"{name}: an entry before it was deleted", "ledger")
                )
            whole = _ledger_hash(entry) == entry["hash"]
            if not whole:
                problems.append(Problem(entry["id"], f"{name}: it was edited", "ledger"))
            previous_hash = entry["hash"]
            latest[(entry["kind"], entry["ref"])] = entry["digest"]
        head = self._head_found(LEDGER, problems)
        if head is None:
            pass
        elif head["last_hash"] != previous_hash and head["last_id"] == previous_id != 0 and whole:
            # The head names the newest entry, which is there and whole: the head's hash was
            # changed, not an entry deleted (nu25 #9).
            problems.append(
                Problem(
                    previous_id,
                    f"the ledger's chain head holds a hash that is not entry {previous_id}'s"
                    f" (the newest, which is there): the chain head was edited",
                    "ledger",
                )
            )
        elif head["last_hash"] != previous_hash:
            problems.append(
                Problem(_head_id(head["last_id"]), "the newest ledger entry is missing", "ledger")
            )
        elif head["last_id"] != previous_id:
            problems.append(
                Problem(
                    previous_id,
                    f"the ledger's chain head names entry {head['last_id']!r} as the newest,"
                    f" not {previous_id}: the chain head was edited",
                    "ledger",
                )
            )
        kept: dict[tuple[str, str], str] = {}
        for officer in self._rows("SELECT * FROM officers"):
            kept[("officer", officer["badge"])] = officer_digest(officer)
        for run in self._rows("SELECT * FROM drill_runs"):
            kept[("drill_run", str(run["id"]))] = drill_run_digest(run)
        amendments = self._rows("SELECT * FROM drill_run_amendments") if self._since_6() else []
        for amendment in amendments:
            kept[("drill_run_amendment", str(amendment["id"]))] = amendment_digest(amendment)
        whats = {"officer": "officer", "drill_run": "drill run"}
        for (kind, ref), digest in sorted(kept.items()):
            what = whats.get(kind, "drill run amendment")
            number = 0 if kind == "officer" else int(ref)
            if (kind, ref) not in latest:
                problems.append(
                    Problem(number, f"{what} {ref} is not in the audit chain: added outside", kind)
                )
            elif latest[(kind, ref)] != digest:
                problems.append(Problem(number, _edited_line(what, ref), kind))
        for kind, ref in sorted(set(latest) - set(kept)):
            what = whats.get(kind, "drill run amendment")
            number = 0 if kind == "officer" else int(ref)
            problems.append(Problem(number, f"{what} {ref} was deleted", kind))
        return problems


# SQLite reports a WAL or journal it cannot grow as a plain I/O error; with less than this free
# on the store's filesystem, that error is a full disk.
_NEARLY_FULL_BYTES = 1 << 20


def missing_tables_line(missing: list[str], unwalked: bool = False) -> str:
    """`verify`'s one line for tables dropped from a store (`unwalked`: the chains could not
    be walked without them)."""
    one = len(missing) == 1
    line = (
        f"table{'' if one else 's'} {', '.join(missing)} {'is' if one else 'are'} missing:"
        f" dropped outside OpenRange, with what {'it' if one else 'they'} held"
    )
    if unwalked:
        line += ", so the chains cannot be walked"
    return line + "; restore the store from a backup"


def _copy_problem(folder: Path, recorded: str, *names: str) -> str | None:
    """What is wrong with the copy of a run's drill or course file kept in `folder` (the first
    of `names` there), against the sha256 the record holds; None when it matches, or when the
    folder itself is gone (said elsewhere)."""
    if not folder.is_dir():
        return None
    copy = next((folder / n for n in names if (folder / n).is_file()), None)
    if copy is None:
        return (
            f"{folder / names[0]} is missing: the run can no longer be rescored, reported or"
            " replayed"
        )
    try:
        now = file_sha256(copy)
    except OSError as exc:
        return f"{copy}: cannot be read ({exc.strerror})"
    if now != recorded:
        return (
            f"{copy} no longer matches the sha256 the run recorded ({recorded[:12]}, now"
            f" {now[:12]}): edited since; the run can no longer be rescored, reported or replayed"
        )
    return None


def _amended(row: dict[str, Any], amendments: list[dict[str, Any]]) -> dict[str, Any]:
    """A drill run's row as its newest amendment left it (`Records.amend_drill_run`)."""
    if not amendments:
        return row
    newest = amendments[-1]
    try:
        detail = stored_json(newest, "detail", "drill run amendment")
    except RecordsError:
        detail = None  # edited by hand: `records verify` names it
    return row | {
        # The newest amendment's whole score (its findings), as `speech correct` rescored it.
        "corrected_score": detail.get("score") if isinstance(detail, dict) else None,
        "score": newest["score"],
        "decision": newest["decision"],
        "passed": newest["passed"],
        "recorded_score": row["score"],
        "corrected": [
            {"by": a["by_whom"], "recorded": a["recorded"], "score": a["score"]} for a in amendments
        ],
    }


def _ungraded(row: dict[str, Any]) -> dict[str, Any]:
    """A drill run that was never graded (INCOMPLETE, ABORTED) as it is shown: no score at
    all, neither as recorded nor as an instructor's speech correction rescored it (the
    scorer's 100 for a run it did not grade is no grade: nu19 #5); the stored rows keep
    what was chained."""
    shown = row | {
        "score": None,
        "corrected": [c | {"score": None} for c in row.get("corrected", [])],
    }
    if "recorded_score" in row:
        shown["recorded_score"] = None
    if isinstance(row.get("corrected_score"), dict):
        shown["corrected_score"] = row["corrected_score"] | {"score": None}
    return shown


def _disk_full(path: Path | None) -> bool:
    if path is None:
        return False
    try:
        stats = os.statvfs(path.parent)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < _NEARLY_FULL_BYTES


def _head_id(value: Any) -> int:
    """A chain head's last_id as a record number (0 when it was edited into something else)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _explain(exc: BaseException, path: Path | None = None) -> str:
    """A driver error as one line a range master can act on (never a password). `path`: the
    SQLite file, to tell a full disk behind a plain I/O error."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    lowered = text.lower()
    io_error = "disk i/o error" in lowered or str(getattr(exc, "sqlite_errorname", "")).startswith(
        "SQLITE_IOERR"
    )
    if "disk is full" in lowered or "no space left" in lowered or (io_error and _disk_full(path)):
        return "the disk is full; the write was rolled back and nothing saved before was lost"
    if "file is not a database" in lowered or "malformed" in lowered:
        return f"not a readable records database ({text})"
    if "unable to open database file" in lowered:
        return f"cannot open the database file ({text})"
    if "no such table" in lowered or ("does not exist" in lowered and "relation" in lowered):
        return (
            f"{text}: the store is damaged (a table dropped) or not OpenRange's;"
            " `openrange records verify` names every table missing"
        )
    if "database" in lowered and "does not exist" in lowered:
        return f"no such PostgreSQL database; nothing was created ({redact(text)})"
    if "connection" in lowered or "could not connect" in lowered:
        return f"cannot reach the PostgreSQL server ({redact(text)})"
    return redact(text)
