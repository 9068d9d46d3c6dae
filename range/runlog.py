"""A run on disk: `runs/<time>-<drill>/events.jsonl` (append-only) and `result.json`.

Each record is written and flushed as it happens, so a crash or a power cut mid-drill keeps the
run up to its last event; the result is written to a temporary file and renamed into place, so
it is either whole or absent.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from drills.log import LogRecord

EVENTS = "events.jsonl"
RESULT = "result.json"


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
        self._events: IO[str] | None = (path / EVENTS).open("a", encoding="utf-8")

    def append(self, record: LogRecord) -> None:
        if self._events is None:
            raise ValueError(f"run {self.path} is closed")
        self._events.write(json.dumps(record.as_json(), sort_keys=True) + "\n")
        self._events.flush()

    def finish(self, result: dict[str, Any]) -> None:
        self.close()
        tmp = self.path / (RESULT + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(result, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path / RESULT)

    def close(self) -> None:
        if self._events is not None:
            self._events.flush()
            os.fsync(self._events.fileno())
            self._events.close()
            self._events = None


def read_events(run_dir: Path) -> list[LogRecord]:
    """The records of a saved run. A last line cut short by a crash is dropped, nothing else."""
    path = run_dir / EVENTS
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} holds no {EVENTS}: is it a run directory?")
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(LogRecord.from_json(json.loads(line)))
        except (json.JSONDecodeError, KeyError) as exc:
            if number == len(lines):
                break
            raise ValueError(f"{path}:{number}: not a log record: {exc}") from None
    return records
