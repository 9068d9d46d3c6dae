"""A run on disk: `runs/<time>-<drill>/events.jsonl` (append-only) and `result.json`.

Each record is written and flushed as it happens, so a crash or a power cut mid-drill keeps the
run up to its last event; the result is written to a temporary file and renamed into place, so
it is either whole or absent. A write that fails (a full disk) stops the run with RunWriteError,
which names the file and the run time the log is kept up to; what was written stays readable.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from drills.events import (
    MAX_JSON_DEPTH,
    EventLogError,
    RecordError,
    check_order,
    check_record,
    json_depth,
)
from drills.log import LogRecord
from drills.wording import article

EVENTS = "events.jsonl"
RESULT = "result.json"
LOG_SHA256 = "log_sha256"  # result.json's record of the log as written
# Record kinds that say how things stand, not that something happened: two in a row may match.
_SNAPSHOTS = frozenset({"positions"})
# The record a whole log opens with: a drill run's, or a qualification attempt's.
_OPENINGS = frozenset({"run_started", "attempt_started"})


class RunWriteError(Exception):
    """A run's files could not be written (a full disk, a quota, a removed folder)."""

    def __init__(self, path: Path, kept_to_s: float | None, cause: OSError) -> None:
        self.path = path
        self.cause = cause
        # The run's result when only result.json failed: the log is whole (it holds
        # `run_ended`), so the run is complete and its outcome follows the log (set by the
        # runner that computed it; None when the log itself was cut short).
        self.result: Any = None
        kept = (
            f"the event log is kept up to t = {kept_to_s:.3f} s"
            if kept_to_s is not None
            else "nothing was written"
        )
        super().__init__(f"{path}: cannot write ({cause.strerror or cause}): {kept}")


class RunWriter:
    def __init__(self, runs_dir: Path, drill_id: str, now: datetime | None = None) -> None:
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
        base = runs_dir / f"{stamp}-{drill_id}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        path.mkdir(parents=True)
        self.path = path
        # Unbuffered bytes: a record is on disk whole, or (after a failed write) cut back off,
        # so the log never ends in a record that lacks its newline (see `append`).
        self._events: IO[bytes] | None = (path / EVENTS).open("ab", buffering=0)
        # The writer holds an exclusive lock on its log while it writes: another process (a
        # restarted lane with the same runs folder) sees the run is still being played
        # (`being_written`) and leaves it; the kernel drops the lock when this process dies.
        fcntl.flock(self._events.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._written_to_s: float | None = None

    def append(self, record: LogRecord) -> None:
        if self._events is None:
            raise ValueError(f"run {self.path} is closed")
        line = (json.dumps(record.as_json(), sort_keys=True) + "\n").encode("utf-8")
        start = os.fstat(self._events.fileno()).st_size
        try:
            done = 0
            while done < len(line):  # a write may be short just before the disk fills
                wrote = self._events.write(line[done:])
                if not wrote:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += wrote
        except OSError as exc:
            # Cut the part of this record that did reach the disk: a torn line that happens to
            # end just before its newline would read as whole, and the log would run past the
            # time the error names. Shrinking a file needs no space, so this holds on a full disk.
            with contextlib.suppress(OSError):
                os.ftruncate(self._events.fileno(), start)
            self._abandon()
            raise RunWriteError(self.path / EVENTS, self._written_to_s, exc) from exc
        self._written_to_s = record.t

    def keep(self, name: str, content: bytes) -> None:
        """Write `content` into the run folder as `name` (a drill, policy, script or phrase book
        copy): RunWriteError, naming the file, when it cannot be written (a full disk)."""
        keep_file(self.path / name, content, self._written_to_s)

    def finish(self, result: dict[str, Any], outcome: Any = None) -> None:
        """Close the log and write `result` as result.json. `outcome` is the runner's result
        object: when only result.json fails, the log is whole (it holds `run_ended`), so the
        run is complete and the RunWriteError carries it (`.result`)."""
        self.close()
        tmp = self.path / (RESULT + ".tmp")
        try:
            # The log's sha256 as written, kept with the result: `score` warns of a log edited
            # since, and `speech correct` refuses to correct one (range/cli/corrections.py).
            written = hashlib.sha256((self.path / EVENTS).read_bytes()).hexdigest()
            result = {**result, LOG_SHA256: written}
            with tmp.open("w", encoding="utf-8") as f:
                json.dump(result, f, indent=2, sort_keys=True)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.path / RESULT)
        except OSError as exc:
            tmp.unlink(missing_ok=True)  # a half-written result must never be read
            error = RunWriteError(self.path / RESULT, self._written_to_s, exc)
            error.result = outcome
            raise error from exc

    def close(self) -> None:
        if self._events is not None:
            try:
                os.fsync(self._events.fileno())
            except OSError as exc:
                self._abandon()
                raise RunWriteError(self.path / EVENTS, self._written_to_s, exc) from exc
            self._events.close()
            self._events = None

    def discard(self) -> None:
        """Remove the run folder of a run refused (or failed) before it started: no log record
        was written, so it holds nothing to keep (only the drill file's copy). A folder that
        cannot be removed is left as it is."""
        self._abandon()
        if self._written_to_s is None:
            shutil.rmtree(self.path, ignore_errors=True)

    def _abandon(self) -> None:
        """Close the log after a failed write (nothing is buffered: the log is unbuffered)."""
        events, self._events = self._events, None
        if events is not None:
            with contextlib.suppress(OSError):
                events.close()


def keep_file(path: Path, content: bytes, kept_to_s: float | None = None) -> None:
    """Write one of a run's kept files (`path`, whole bytes). A failed write (a full disk, a
    file-size limit) raises RunWriteError naming the file, one line, as a failed log write does;
    `kept_to_s`: how far the run's log was written then (None: nothing yet)."""
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise RunWriteError(path, kept_to_s, exc) from exc


def being_written(run_dir: Path) -> bool:
    """Whether a live process (this one or another) still writes `run_dir`'s log: its
    RunWriter holds the log's lock until the log is closed or the process dies."""
    try:
        with (run_dir / EVENTS).open("rb") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    return False


def read_events(run_dir: Path) -> list[LogRecord]:
    """The records of a saved run, each checked against the vocabulary (drills/events.py).

    A last line cut short by a crash or a full disk (no newline, not whole JSON, perhaps cut
    inside a UTF-8 character) is dropped, nothing else. Raises EventLogError naming the file,
    the line and the field of the first record that is not JSON, not an object, of an unknown
    kind, or lacks or mistypes a field; FileNotFoundError for a folder that holds no log.
    """
    path = run_dir / EVENTS
    if not run_dir.exists():
        raise FileNotFoundError(f"{run_dir} does not exist")
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} holds no {EVENTS}: is it a run directory?")
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last whole record
    torn = not raw.endswith(b"\n")  # the last line was never finished
    records: list[LogRecord] = []
    previous_t: float | None = None
    seen: dict[str, int] = {}  # each event record (as parsed) and the line it was first on
    for number, line in enumerate(lines, start=1):
        try:
            data = json.loads(line.decode("utf-8"))
        except RecursionError:
            raise EventLogError(
                path, number, f"nested too deeply (at most {MAX_JSON_DEPTH} levels)"
            ) from None
        except UnicodeDecodeError as exc:
            if torn and number == len(lines):
                break
            problem = f"not UTF-8 text: byte 0x{line[exc.start : exc.start + 1].hex()}"
            raise EventLogError(path, number, problem) from None
        except json.JSONDecodeError as exc:
            if torn and number == len(lines):
                break
            raise EventLogError(path, number, f"not a JSON record: {exc.msg}") from None
        depth = json_depth(data)
        if depth > MAX_JSON_DEPTH:
            raise EventLogError(
                path, number, f"nested too deeply (at most {MAX_JSON_DEPTH} levels)"
            )
        try:
            record = check_record(data)
        except RecordError as exc:
            raise EventLogError(path, number, str(exc)) from None
        # A line written twice (a hand edit, a copy gone wrong), next to the first or lines
        # after it, would count its event (a shot, an action) twice: refused, naming both
        # lines. No two events of a run are alike to the byte (each is stamped with its time
        # and what it was; tests/test_nu19a.py reads every library drill's and course's log).
        # A repeated snapshot of where everyone stands (the engine writes one per frame, even
        # when nothing moved) changes nothing; and before each officer_spoke carried its
        # number `n`, the same words said twice at once were two identical lines,
        # legitimately: such a log is read as written. The records are compared as parsed
        # (the same kind, t and fields), not as bytes: a copy re-spaced or with its keys in
        # another order is the same event (rc19 #8).
        if record.kind not in _SNAPSHOTS and not (
            record.kind == "officer_spoke" and "n" not in data
        ):
            first = seen.setdefault(json.dumps(data, sort_keys=True), number)
            if first != number:
                where = "the line before it" if first == number - 1 else f"line {first}"
                how = "exactly" if lines[first - 1] == line else "written differently"
                raise EventLogError(
                    path, number, f"repeats {where} {how} ({article(record.kind)} twice)"
                )
        if number == 1 and record.kind not in _OPENINGS:
            # A log read without its first line would be scored without the run it belongs
            # to (a drill run graded PASS, a report with no drill): refused, by name.
            raise EventLogError(
                path,
                1,
                f"kind: a log opens with {' or '.join(sorted(_OPENINGS))}, not {record.kind}:"
                " its start is missing, so it cannot be scored or reviewed",
            )
        out_of_order = check_order(record.t, previous_t)
        if out_of_order is not None:
            raise EventLogError(path, number, f"t: {out_of_order}")
        previous_t = record.t
        records.append(LogRecord.from_json(data))
    return records
