"""The drill's append-only event log: every fact the engine knows, in order, in run time.

`scoring` judges a run from this log alone, so a saved run can be rescored later and a disputed
run can be replayed. Records are plain JSON-able dicts; every kind and its fields are defined in
drills/events.py (docs/drills.md, "Event log").
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from drills.events import LOG_FORMAT, check_record

__all__ = ["CHECK_RECORDS", "LOG_FORMAT", "EventSink", "LogRecord", "MemoryLog", "run_started"]

# Check every record appended against the vocabulary (drills/events.py) and refuse one that does
# not match. The tests turn it on (tests/conftest.py, and OPENRANGE_CHECK_EVENTS=1 for the
# commands they start), so a record kind or field written but not defined fails in CI; a live
# run leaves it off, as a qualification is never stopped over a log field (the reader checks).
CHECK_RECORDS = os.environ.get("OPENRANGE_CHECK_EVENTS") == "1"


@dataclass(frozen=True, slots=True)
class LogRecord:
    t: float
    kind: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "kind": self.kind, **self.data}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> LogRecord:
        rest = {k: v for k, v in record.items() if k not in ("t", "kind")}
        return cls(float(record["t"]), str(record["kind"]), rest)


def run_started(records: Sequence[LogRecord]) -> dict[str, Any] | None:
    """What the log's `run_started` (its first record) keeps, or None: not a drill run's log
    (an attempt's, or an empty one). Here, below range/, so range.runs uses it too (rv21b #1)."""
    return records[0].data if records and records[0].kind == "run_started" else None


class EventSink(Protocol):
    def append(self, record: LogRecord) -> None: ...


class MemoryLog:
    """Keeps the records; the run writer (range) mirrors them to a JSONL file as they come.

    A live run learns of some facts after later ones are logged (a trigger pull waits for the
    pose stream to cover its time; a replica's event is read a frame after it happened): it
    `hold`s the log, and each record is then kept back, in time order, until the run
    `release`s the records up to a time nothing earlier can still come before. `records` and
    every sink get records in time order (scoring and replay read them so)."""

    def __init__(self, *sinks: EventSink) -> None:
        self.records: list[LogRecord] = []
        self._sinks: list[EventSink | Callable[[LogRecord], None]] = list(sinks)
        self._held: list[LogRecord] | None = None  # None: records pass straight through

    def hold(self) -> None:
        """From now on keep records back until `release` (in time order, ties as they came)."""
        if self._held is None:
            self._held = []

    def release(self, until_t: float | None = None) -> None:
        """Pass on the held records up to run time `until_t` (all of them when None, and stop
        holding)."""
        held = self._held
        if held is None:
            return
        n = len(held) if until_t is None else bisect.bisect_right(held, until_t, key=_time)
        out, held[:n] = held[:n], []
        if until_t is None:
            self._held = None
        for record in out:
            self._pass_on(record)

    @property
    def held(self) -> tuple[LogRecord, ...]:
        """The records logged and still held back (`hold`), in time order."""
        return tuple(self._held or ())

    def last(self, kinds: tuple[str, ...]) -> LogRecord | None:
        """The latest record of one of `kinds`, held back or not."""
        held: list[LogRecord] = self._held or []
        # Called each frame while a live run is suspended: no copy of the whole log.
        for record in itertools.chain(reversed(held), reversed(self.records)):
            if record.kind in kinds:
                return record
        return None

    def attach(self, sink: Callable[[LogRecord], None]) -> None:
        """Also hand every record from now on to `sink` (the records database, say)."""
        self._sinks.append(sink)

    def append(self, record: LogRecord) -> None:
        # Keep exactly what a file would hold (rounded times, lists not tuples), so scoring the
        # run now and rescoring its saved log later see the same records.
        text = json.dumps(record.as_json())
        if CHECK_RECORDS:
            check_record(text)
        record = LogRecord.from_json(json.loads(text))
        if self._held is not None:
            bisect.insort_right(self._held, record, key=_time)
            return
        self._pass_on(record)

    def _pass_on(self, record: LogRecord) -> None:
        self.records.append(record)
        for sink in self._sinks:
            if callable(sink):
                sink(record)
            else:
                sink.append(record)

    def emit(self, t: float, kind: str, **data: Any) -> None:
        self.append(LogRecord(t, kind, data))


def _time(record: LogRecord) -> float:
    return record.t
