"""The drill's append-only event log: every fact the engine knows, in order, in run time.

`scoring` judges a run from this log alone, so a saved run can be rescored later and a disputed
run can be replayed. Records are plain JSON-able dicts; every kind and its fields are defined in
drills/events.py (docs/drills.md, "Event log").
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from drills.events import LOG_FORMAT, check_record

__all__ = ["CHECK_RECORDS", "LOG_FORMAT", "EventSink", "LogRecord", "MemoryLog"]

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


class EventSink(Protocol):
    def append(self, record: LogRecord) -> None: ...


class MemoryLog:
    """Keeps the records; the run writer (range) mirrors them to a JSONL file as they come."""

    def __init__(self, *sinks: EventSink) -> None:
        self.records: list[LogRecord] = []
        self._sinks: list[EventSink | Callable[[LogRecord], None]] = list(sinks)

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
        self.records.append(record)
        for sink in self._sinks:
            if callable(sink):
                sink(record)
            else:
                sink.append(record)

    def emit(self, t: float, kind: str, **data: Any) -> None:
        self.append(LogRecord(t, kind, data))
