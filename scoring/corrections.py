"""Instructor corrections of misheard speech acts (issue 17 point 2), kept beside a run's log.

The event log is never edited. A correction names one `officer_spoke` record (by its run time
and the act it was heard as) and the act it should have been (or `none`: it was not speech).
All the corrections of one run live in one JSON file in the run directory, named after the
SHA-256 of the log they correct (`speech-corrections-<16 hex>.json`), so they can only ever be
applied to that log. The scorer applies them (`score_run(..., corrections=...)`) and lists them
in the score. docs/scoring.md "Instructor corrections".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from drills.log import LogRecord
from drills.speech import ACT, OFFICER_SPOKE
from physics.datafiles import StrictModel, error_message

CORRECTIONS_FORMAT = 1
# An --at this close to an utterance's start or end still names it: a reviewer clicks or reads
# a time off the timeline, to a quarter second.
MATCH_SLACK_S = 0.25
NONE = "none"  # the act of an utterance that was not speech at all (a false act)


class CorrectionError(ValueError):
    """A correction refused: one line for the user."""


class Correction(StrictModel):
    """One correction: the utterance at `utterance_t` (its `officer_spoke` record's t) heard as
    `was` is `act` (or `none`), by `by`, `made` (ISO 8601 wall-clock time, from range/)."""

    at_s: float = Field(ge=0.0)
    utterance_t: float = Field(ge=0.0)
    text: str
    was: str = Field(pattern=ACT)
    act: str
    by: str = Field(min_length=1)
    reason: str = ""
    made: str

    @field_validator("act")
    @classmethod
    def _act(cls, act: str) -> str:
        if act != NONE and not re.match(ACT, act):
            raise ValueError(f"{act!r} is not a speech act (category[.name]) or 'none'")
        return act


class Corrections(StrictModel):
    version: Literal[1]
    log_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    corrections: list[Correction]


def log_sha256(events: Path) -> str:
    return hashlib.sha256(events.read_bytes()).hexdigest()


def corrections_path(run_dir: Path, sha256: str) -> Path:
    """Where the corrections of the log with this SHA-256 are kept."""
    return run_dir / f"speech-corrections-{sha256[:16]}.json"


def read_corrections(run_dir: Path, sha256: str) -> list[Correction]:
    """The corrections kept for the log with this SHA-256 ([] when there are none). Raises
    CorrectionError naming the file for one that is not a corrections file of that log."""
    path = corrections_path(run_dir, sha256)
    if not path.exists():
        return []
    try:
        data = Corrections.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "file"
        raise CorrectionError(f"{path}: {where}: {error_message(error)}") from None
    if data.log_sha256 != sha256:
        raise CorrectionError(f"{path}: corrects another log (sha256 {data.log_sha256[:16]})")
    return data.corrections


def write_corrections(run_dir: Path, sha256: str, corrections: Sequence[Correction]) -> Path:
    """Keep `corrections` for the log with this SHA-256, replacing the file whole (a crash
    leaves the old file or the new, never half of one)."""
    path = corrections_path(run_dir, sha256)
    body = Corrections(version=CORRECTIONS_FORMAT, log_sha256=sha256, corrections=list(corrections))
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body.model_dump(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def utterances(records: Iterable[LogRecord]) -> list[LogRecord]:
    return [r for r in records if r.kind == OFFICER_SPOKE]


def find_utterance(records: Iterable[LogRecord], at_s: float, was: str | None) -> LogRecord:
    """The `officer_spoke` record whose speech (to its decision, `t`) spans `at_s`
    (MATCH_SLACK_S either side), the nearest when several do; `was` picks among several heard
    as different acts. Raises
    CorrectionError (one line) when none matches, or several with different acts and no
    `was`."""
    heard = utterances(records)
    # Up to the record's own t (when the act was decided, after the words ended): the time the
    # score's lines and the corrections list show for it names it too.
    near = [
        r
        for r in heard
        if r.data["start_s"] - MATCH_SLACK_S <= at_s <= max(r.data["end_s"], r.t) + MATCH_SLACK_S
    ]
    if was is not None:
        acts_near = sorted({str(r.data["act"]) for r in near})
        near = [r for r in near if r.data["act"] == was]
        if not near and acts_near:
            raise CorrectionError(
                f"--was {was}: what was said at {at_s:.2f} s was heard as {', '.join(acts_near)};"
                " give one of those, or leave --was out"
            )
    if not near:
        what = f" heard as {was}" if was is not None else ""
        times = ", ".join(f"{r.data['start_s']:.2f}-{r.data['end_s']:.2f} s" for r in heard)
        raise CorrectionError(
            f"no utterance{what} at {at_s:.2f} s"
            + (f" (utterances: {times})" if times else " (this run has no officer_spoke records)")
        )
    acts = sorted({str(r.data["act"]) for r in near})
    if len(acts) > 1:
        raise CorrectionError(
            f"{len(near)} utterances at {at_s:.2f} s heard as {', '.join(acts)}: say which with"
            " --was ACT"
        )
    return min(near, key=lambda r: abs((r.data["start_s"] + r.data["end_s"]) / 2 - at_s))


def unapplied(
    records: Iterable[LogRecord], corrections: Sequence[Correction]
) -> list[tuple[int, str]]:
    """(index, why) of each correction that does not apply to `records`: it names no
    `officer_spoke` record there (a stale or hand-edited file), its `was` is not the act that
    record was heard as, it changes nothing (its act is the one heard), or a later correction
    of the same utterance supersedes it. Those are never
    applied, and never listed as applied: the scorer lists them as not applied, with why."""
    heard: dict[float, list[str]] = {}
    for r in utterances(records):
        heard.setdefault(r.t, []).append(str(r.data["act"]))
    latest = {(c.utterance_t, c.was): index for index, c in enumerate(corrections)}
    out: list[tuple[int, str]] = []
    for index, c in enumerate(corrections):
        acts = heard.get(c.utterance_t)
        later = latest[(c.utterance_t, c.was)]
        if acts is None:
            times = ", ".join(f"{t:g}" for t in sorted(heard)) or "none"
            out.append(
                (
                    index,
                    f"the log has no officer_spoke at t = {c.utterance_t:g} s"
                    f" (its officer_spoke t: {times})",
                )
            )
        elif c.was not in acts:
            out.append(
                (
                    index,
                    f"the officer_spoke at t = {c.utterance_t:g} s was heard as"
                    f" {', '.join(acts)}, not {c.was}",
                )
            )
        elif c.act == c.was:
            out.append((index, f"a no-op: {c.act} is the act heard"))
        elif later != index:
            out.append((index, f"superseded by corrections[{later}] of the same utterance"))
    return out


def apply_corrections(
    records: Iterable[LogRecord], corrections: Sequence[Correction]
) -> list[LogRecord]:
    """The log as the instructor corrected it: each corrected `officer_spoke` record carries the
    corrected act (or is left out for `none`); the latest correction of an utterance wins.
    The records given are not changed."""
    latest = {(c.utterance_t, c.was): c for c in corrections}
    out: list[LogRecord] = []
    for r in records:
        fix = latest.get((r.t, str(r.data.get("act")))) if r.kind == OFFICER_SPOKE else None
        if fix is None:
            out.append(r)
        elif fix.act != NONE:
            out.append(LogRecord(r.t, r.kind, {**r.data, "act": fix.act}))
    return out
