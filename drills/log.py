"""The drill's append-only event log: every fact the engine knows, in order, in run time.

`scoring` judges a run from this log alone, so a saved run can be rescored later and a disputed
run can be replayed. Records are plain JSON-able dicts; keys are part of the log format
(docs/drills.md, "Event log").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

LOG_FORMAT = 1


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
        record = LogRecord.from_json(json.loads(json.dumps(record.as_json())))
        self.records.append(record)
        for sink in self._sinks:
            if callable(sink):
                sink(record)
            else:
                sink.append(record)

    def emit(self, t: float, kind: str, **data: Any) -> None:
        self.append(LogRecord(t, kind, data))
