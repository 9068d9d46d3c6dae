"""Instructor corrections of misheard speech acts (issue 17 point 2), kept beside a run's log.

The event log is never edited. A correction names one heard act (by its run time and the act
it was heard as): an `officer_spoke` record, or an instructor's live mark (`instructor_command`
"mark", `marked` true), and the act it should have been (or `none`: it was not speech).
All the corrections of one run live in one JSON file in the run directory, named after the
SHA-256 of the log they correct (`speech-corrections-<16 hex>.json`), so they can only ever be
applied to that log. The scorer applies them (`score_run(..., corrections=...)`) and lists them
in the score. docs/scoring.md "Instructor corrections".
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from drills.log import LogRecord
from drills.speech import ACT, OFFICER_SPOKE, span_text
from physics.datafiles import (
    KIND_WORDS,
    StrictModel,
    error_message,
    field_name,
    json_key_lines,
    locate,
)

CORRECTIONS_FORMAT = 1
# The format of a file that holds an act the instructor added (`added`, below): a reader of
# format 1 refuses its keys, so it is told by the version, not by a key it does not know.
ADDED_FORMAT = 2
# An --at this close to an utterance's start or end still names it: a reviewer clicks or reads
# a time off the timeline, to a quarter second.
MATCH_SLACK_S = 0.25
SHA256 = r"^[0-9a-f]{64}$"
NONE = "none"  # the act of an utterance that was not speech at all (a false act)
# What a correction's `was` may be: the act heard, or `none` for an act the instructor added
# where the recogniser heard nothing.
WAS = rf"^{NONE}$|{ACT}"
NO_SUCH_ACT = "no act"  # how `unapplied` begins why a correction's act is in no phrase book
# How `unapplied` begins why a correction is not applied because a later one of the same act
# replaced it: history, not a fault of the file (rc17 #6).
SUPERSEDED = "superseded by"


class CorrectionError(ValueError):
    """A correction refused: one line for the user."""


class Correction(StrictModel):
    """One correction: the utterance at `utterance_t` (its `officer_spoke` record's t, or a live
    mark's when `marked`) heard as `was` is `act` (or `none`), by `by`, `made` (ISO 8601
    wall-clock time, from range/)."""

    at_s: float = Field(ge=0.0)
    utterance_t: float = Field(ge=0.0)
    text: str
    was: str = Field(pattern=WAS)
    act: str
    by: str = Field(min_length=1)
    reason: str = ""
    made: str
    # The act corrected is an instructor's live mark (`instructor_command` "mark"), not an
    # `officer_spoke` record: a mark picked in a hurry is corrected as an utterance is.
    marked: bool = False
    # The corrected officer_spoke record's number (its `n`) where the log numbers them: the
    # correction is of that act alone, where one utterance holds the same act twice ("drop the
    # knife, drop the knife"). None (a file written before, or a mark): every act at
    # `utterance_t` heard as `was`.
    n: int | None = Field(default=None, ge=1)
    # An act the recogniser missed, added by the instructor in review over the officer's words'
    # span `start_s`-`end_s` (run seconds), where no act was heard: `was` is `none`, and
    # `utterance_t` the span's end, when it is credited (as an utterance's act is when its
    # words ended). Scored as a live mark at `end_s` (nu21 #1). A later correction with the
    # same `utterance_t` (`was` none) replaces it; one with act `none` takes it back.
    added: bool = False
    start_s: float | None = Field(default=None, ge=0.0)
    end_s: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _added_fits(self) -> Correction:
        if not self.added:
            if self.was == NONE:
                raise ValueError("'was' is none only for an added act ('added': true)")
            if self.start_s is not None or self.end_s is not None:
                raise ValueError("'start_s' and 'end_s' are an added act's ('added': true)")
            return self
        if self.was != NONE:
            raise ValueError(f"an added act was heard as nothing: 'was' is none, not {self.was!r}")
        if self.start_s is None or self.end_s is None or self.end_s <= self.start_s:
            raise ValueError("an added act needs its words' span: 'start_s' before 'end_s'")
        if abs(self.utterance_t - self.end_s) > 1e-9:
            raise ValueError("an added act's 'utterance_t' is its 'end_s'")
        if self.marked or self.n is not None:
            raise ValueError("an added act is no mark and no numbered utterance")
        return self

    @field_validator("made")
    @classmethod
    def _made(cls, made: str) -> str:
        try:  # as `speech correct` writes it: 2026-12-01T16:44:43+00:00
            datetime.fromisoformat(made)
        except ValueError:
            raise ValueError(f"{made!r} is not a date and time (ISO 8601)") from None
        return made

    @field_validator("act")
    @classmethod
    def _act(cls, act: str) -> str:
        if act != NONE and not re.match(ACT, act):
            raise ValueError(f"{act!r} is not a speech act (category[.name]) or 'none'")
        return act


class Corrections(StrictModel):
    version: Literal[1, 2]
    log_sha256: str = Field(pattern=SHA256)
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
    data = _parse(path)
    if data.log_sha256 != sha256:
        raise CorrectionError(f"{path}: corrects another log (sha256 {data.log_sha256[:16]})")
    return data.corrections


# Pydantic's words for a value of the wrong kind, in the words the data files use
# (physics/datafiles.py KIND_WORDS), but JSON's: a corrections file holds objects, not tables.
_KIND_WORDS = KIND_WORDS | {
    kind: "an object is needed" for kind in ("dict_type", "model_type", "model_attributes_type")
}


def _plain(error: Any) -> str:
    kind = error.get("type")
    if kind in _KIND_WORDS:
        return f"{_KIND_WORDS[kind]}, not {json.dumps(error.get('input'))}"
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "literal_error":
        return f"{error['ctx']['expected']} is needed, not {json.dumps(error.get('input'))}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch" and "ctx" in error:
        pattern = str(error["ctx"].get("pattern"))
        words = {
            ACT: "a speech act (category[.name])",
            WAS: "a speech act (category[.name]) or none (an added act's)",
            SHA256: "64 lower-case hex digits",
        }
        if pattern in words:
            return f"{json.dumps(error.get('input'))} is not {words[pattern]}"
    return error_message(error)


def _parse(path: Path) -> Corrections:
    """A corrections file, or CorrectionError naming the file, the line and the field of
    every problem in it (one line each)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return Corrections.model_validate_json(text)
    except ValidationError as exc:
        errors = exc.errors()
    if errors and errors[0]["type"] == "json_invalid":
        try:
            json.loads(text)
        except json.JSONDecodeError as bad:
            raise CorrectionError(f"{path}:{bad.lineno}: not valid JSON: {bad.msg}") from None
    lines = json_key_lines(text)
    problems = []
    for error in errors:
        loc = [part for part in error["loc"] if isinstance(part, int | str)]
        where = f"{path}:{locate(lines, loc) or 1}"
        problems.append(
            f"{where}: {field_name(loc)}: {_plain(error)}" if loc else f"{where}: {_plain(error)}"
        )
    raise CorrectionError("\n".join(problems))


# The corrections' lock file, in the run folder (a dot file: a run's bundle and listings
# leave it out). Left there once made: removing it would let a corrector lock a file another
# has just unlinked while a third locks a new one.
CORRECTIONS_LOCK = ".speech-corrections.lock"


@contextmanager
def corrections_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run's corrections for one read-amend-write: two instructors correcting one run
    at once (two `speech correct`s, or one and the console's debrief) are served one after the
    other, each from the file the other left, so neither correction is lost (nu17c #2). An
    advisory `fcntl.flock` on CORRECTIONS_LOCK, a regular file in the run folder (made on the
    first correction, and left there; it holds nothing), released when the block ends or the
    process dies. A regular file's flock is the server's on NFS (Linux), so correctors on two
    machines sharing a runs folder are served one after the other too, where a directory's
    would be each client's alone (rv-range)."""
    fd = os.open(run_dir / CORRECTIONS_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_corrections(run_dir: Path, sha256: str, corrections: Sequence[Correction]) -> Path:
    """Keep `corrections` for the log with this SHA-256, replacing the file whole (a crash
    leaves the old file or the new, never half of one; the temporary file's name is unique, so
    two writers never share one). Call it under `corrections_lock`, with the corrections read
    under the same lock, or one writer's correction replaces another's."""
    path = corrections_path(run_dir, sha256)
    version = ADDED_FORMAT if any(c.added for c in corrections) else CORRECTIONS_FORMAT
    body = {
        "version": version,
        "log_sha256": sha256,
        "corrections": [dumped(c) for c in corrections],
    }
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as out:
            out.write(json.dumps(body, indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def dumped(correction: Correction) -> dict[str, Any]:
    """A correction as kept (the file, the records' amendment, the score's listing): an added
    act's keys only on an added act, so a correction of a heard act is kept as format 1 keeps
    it."""
    out = correction.model_dump(mode="json")
    if not correction.added:
        for key in ("added", "start_s", "end_s"):
            out.pop(key)
    return out


def added_in_force(corrections: Sequence[Correction]) -> list[Correction]:
    """The acts added by the instructor (`added`) as they stand: the latest correction of each
    (by its `utterance_t`), those not taken back (act `none`), in time order."""
    latest: dict[float, Correction] = {}
    for c in corrections:
        if c.added:
            latest[c.utterance_t] = c
    return sorted((c for c in latest.values() if c.act != NONE), key=lambda c: c.utterance_t)


def added_mark(correction: Correction) -> LogRecord:
    """An added act as the scorer reads it: a live mark (`instructor_command` "mark") at the
    end of its words, by the instructor who added it."""
    assert correction.start_s is not None and correction.end_s is not None
    return LogRecord(
        correction.utterance_t,
        "instructor_command",
        {
            "command": "mark",
            "act": correction.act,
            "by": correction.by,
            "added": True,
            "start_s": correction.start_s,
            "end_s": correction.end_s,
        },
    )


def overlaps(records: Iterable[LogRecord], start_s: float, end_s: float) -> LogRecord | None:
    """The first heard act (an utterance's words, a mark's moment) inside `start_s`-`end_s`,
    or None: an added act's span may hold none (one heard there is corrected, not added)."""
    for r in heard_acts(list(records)):
        lo, hi = span(r)
        if lo <= end_s and start_s <= hi:
            return r
    return None


def run_end_s(records: Sequence[LogRecord]) -> float:
    """The run's last moment in its log (its last record's t)."""
    return max((r.t for r in records), default=0.0)


def is_mark(record: LogRecord) -> bool:
    """An instructor's live mark of an act (scored as heard, scoring/score.py)."""
    return (
        record.kind == "instructor_command"
        and record.data.get("command") == "mark"
        and re.match(ACT, str(record.data.get("act") or "")) is not None
    )


def utterances(records: Iterable[LogRecord]) -> list[LogRecord]:
    return [r for r in records if r.kind == OFFICER_SPOKE]


def marks(records: Iterable[LogRecord]) -> list[LogRecord]:
    """The instructor's live marks of an act, in log order."""
    return [r for r in records if is_mark(r)]


def span(record: LogRecord) -> tuple[float, float]:
    """When a heard act's words were said: an utterance's start and end, a mark's moment."""
    if record.kind == OFFICER_SPOKE:
        return float(record.data["start_s"]), float(record.data["end_s"])
    return record.t, record.t


def _number(record: LogRecord) -> int | None:
    n = record.data.get("n") if record.kind == OFFICER_SPOKE else None
    return n if isinstance(n, int) else None


def corrects(correction: Correction, record: LogRecord) -> bool:
    """Whether `correction` names `record` (an `officer_spoke` record or a live mark): its t,
    the act it was heard as, whether it is a mark, and its number `n` where both have one."""
    return (
        not correction.added
        and abs(correction.utterance_t - record.t) < 1e-9
        and correction.was == record.data.get("act")
        and correction.marked == not_spoken(record)
        and (correction.n is None or correction.n == _number(record))
    )


def heard_acts(records: Sequence[LogRecord]) -> list[LogRecord]:
    """The log's heard acts, every act a correction can name: its utterances, then its live
    marks (each in log order)."""
    return [*utterances(records), *marks(records)]


def heard_as(correction: Correction, heard: Iterable[LogRecord]) -> dict[str, Any]:
    """What the log has of the act `correction` names among `heard` (the log's utterances and
    live marks, `heard_acts(records)`, built once by a caller that lists
    several): the act's own words (`phrase`, where it was heard inside a longer utterance) and
    when they were said (`start_s`, `end_s`: its words' span, a mark's moment, the time every
    listing gives the act, nu19 #12); empty where the log does not name it. The one lookup
    behind score's listing and `openrange speech correct`'s notes (rv20b #1)."""
    named = next((r for r in heard if corrects(correction, r)), None)
    if named is None:
        return {}
    start, end = span(named)
    out: dict[str, Any] = {"start_s": start, "end_s": end}
    if named.data.get("phrase"):
        out["phrase"] = str(named.data["phrase"])
    return out


def correction_of(record: LogRecord, corrections: Sequence[Correction]) -> Correction | None:
    """The correction in force for a heard act: the latest that names it, or None."""
    named = [c for c in corrections if corrects(c, record)]
    return named[-1] if named else None


def _in_book(correction: Correction, acts: Collection[str] | None) -> bool:
    """Whether `correction`'s act can apply: `none`, or in `acts` (the run's phrase books;
    None: not checked). One in none of them is a hand-edited typo, never applied (nu17c #5)."""
    return acts is None or correction.act == NONE or correction.act in acts


def undone(
    corrections: Sequence[Correction], index: int, acts: Collection[str] | None = None
) -> Correction | None:
    """The correction that `corrections[index]` undoes when it puts back the act heard (its
    act is its `was`): the latest earlier correction of the same heard act that could apply
    (given the run's phrase books' `acts`, a typo is skipped: it was never applied, as
    `unapplied` says). None for a correction that is not an undo."""
    fix = corrections[index]
    if fix.act != fix.was:
        return None
    key = (fix.utterance_t, fix.was, fix.marked, fix.n)
    earlier = [
        c
        for c in corrections[:index]
        if (c.utterance_t, c.was, c.marked, c.n) == key and _in_book(c, acts)
    ]
    return earlier[-1] if earlier else None


def act_in_force(record: LogRecord, corrections: Sequence[Correction]) -> str:
    """The act a heard act counts as after the corrections: the latest correction's act (or
    `none`), else the act heard."""
    fix = correction_of(record, corrections)
    return str(record.data["act"]) if fix is None else fix.act


def find_utterance(
    records: Iterable[LogRecord], at_s: float, was: str | None, marked: bool | None = None
) -> LogRecord:
    """The `officer_spoke` record whose speech (to its decision, `t`) spans `at_s`, or the
    instructor's live mark at `at_s` (MATCH_SLACK_S either side), the nearest when several do;
    `was` picks among several heard as different acts. `marked`: True, marks only; False,
    utterances only; None, an utterance where one matches, else a mark. Raises
    CorrectionError (one line) when none matches, or several with different acts and no
    `was`."""
    records = list(records)
    groups = [
        *([] if marked is True else [utterances(records)]),
        *([] if marked is False else [marks(records)]),
    ]
    heard = [r for group in groups for r in group]
    acts_near: set[str] = set()
    near: list[LogRecord] = []
    for group in groups:
        # An act's own words first (each act of an utterance has its own span); else up to
        # the record's t (when the act was decided, after the words ended): the time the
        # score's lines and the corrections list show for it names it too.
        own = [r for r in group if span(r)[0] - MATCH_SLACK_S <= at_s <= span(r)[1] + MATCH_SLACK_S]
        inside = [r for r in own if span(r)[0] <= at_s <= span(r)[1]]
        near = (
            inside
            if len({str(r.data["act"]) for r in inside}) == 1
            else own
            or [
                r
                for r in group
                if span(r)[0] - MATCH_SLACK_S <= at_s <= max(span(r)[1], r.t) + MATCH_SLACK_S
            ]
        )
        acts_near |= {str(r.data["act"]) for r in near}
        if was is not None:
            near = [r for r in near if r.data["act"] == was]
        if near:
            break
    if not near and was is not None and acts_near:
        raise CorrectionError(
            f"--was {was}: what was said at {at_s:.2f} s was heard as"
            f" {', '.join(sorted(acts_near))}; give one of those, or leave --was out"
        )
    if not near:
        what = f" heard as {was}" if was is not None else ""
        times = ", ".join(_heard_times(heard))
        raise CorrectionError(
            f"no utterance{what} at {at_s:.2f} s"
            + (
                f" (utterances: {times})"
                if times
                else " (this run has no officer_spoke records and no marks)"
            )
        )
    acts = sorted({str(r.data["act"]) for r in near})
    if len(acts) > 1:
        raise CorrectionError(
            # Acts, not utterances: one utterance can hold several (nu17c #17).
            f"{len(near)} acts heard at {at_s:.2f} s ({', '.join(acts)}): say which with --was ACT"
        )
    return min(near, key=lambda r: abs(sum(span(r)) / 2 - at_s))


def _heard_times(heard: Iterable[LogRecord]) -> list[str]:
    """Each utterance's span (its acts' words together: the acts one utterance was heard as
    share its `t` and `text`, nu21 #7: two acts of "police, drop the knife" are one utterance)
    and each mark's moment, in order."""
    spans: dict[tuple[float, str], tuple[float, float]] = {}
    moments: list[tuple[float, str]] = []
    for r in heard:
        start, end = span(r)
        if r.kind != OFFICER_SPOKE:
            moments.append((start, _when(r)))
            continue
        key = (r.t, str(r.data.get("text", "")))
        lo, hi = spans.get(key, (start, end))
        spans[key] = (min(lo, start), max(hi, end))
    moments += [(lo, span_text(lo, hi)) for lo, hi in spans.values()]
    return [words for _, words in sorted(moments)]


def _when(record: LogRecord) -> str:
    start, end = span(record)
    return span_text(start, end) if record.kind == OFFICER_SPOKE else f"{start:.2f} s (mark)"


def not_spoken(record: LogRecord) -> bool:
    """A heard act that is a mark, not an `officer_spoke` record (a correction's `marked`)."""
    return record.kind != OFFICER_SPOKE


def _key(record: LogRecord) -> tuple[float, bool]:
    """What a correction names a heard act by, beside the act: its t and whether it is a mark."""
    return record.t, not_spoken(record)


def unapplied(
    records: Iterable[LogRecord],
    corrections: Sequence[Correction],
    acts: Collection[str] | None = None,
) -> list[tuple[int, str]]:
    """(index, why) of each correction that does not apply to `records`: it names no
    `officer_spoke` record (or mark, for a `marked` one) there (a stale or hand-edited file),
    its `was` is not the act that record was heard as (or its `n` no record's there), it
    changes nothing (its act is the one heard, with no earlier correction to put back), or a
    later correction of the same utterance supersedes it, or (given the run's phrase book's
    `acts`) its act is in no phrase book of the run: a hand-edited typo would be scored as a
    new act (nu17c #5; `speech correct` refuses one as it is made). Those are never
    applied, and never listed as applied: the scorer lists them as not applied, with why."""
    records = list(records)
    heard: dict[tuple[float, bool], list[str]] = {}
    for r in heard_acts(records):
        heard.setdefault(_key(r), []).append(str(r.data["act"]))
    known = None if acts is None else set(acts)

    # Only a correction that can apply supersedes another (a typo leaves the one before it).
    valid = [(index, c) for index, c in enumerate(corrections) if _in_book(c, known)]
    latest = {(c.utterance_t, c.was, c.marked, c.n): index for index, c in valid}
    first: dict[tuple[float, str, bool, int | None], int] = {}
    for index, c in reversed(valid):
        first[(c.utterance_t, c.was, c.marked, c.n)] = index
    out: list[tuple[int, str]] = []
    for index, c in enumerate(corrections):
        sounds = heard.get((c.utterance_t, c.marked))
        later = latest.get((c.utterance_t, c.was, c.marked, c.n), index)
        # Putting back the act heard after earlier corrections is a correction of its own
        # (they are superseded); with none before it, it changes nothing.
        restores = first.get((c.utterance_t, c.was, c.marked, c.n), index) != index
        what = "mark" if c.marked else "officer_spoke"
        if not _in_book(c, known):
            out.append((index, f"{NO_SUCH_ACT} {c.act!r} in this run's phrase book"))
        elif c.added:
            why = _added_unfit(records, c)
            if why is not None:
                out.append((index, why))
            elif c.act == c.was and not restores:
                out.append((index, "a no-op: it takes back no added act"))
            elif later != index:
                out.append((index, f"{SUPERSEDED} corrections[{later}] of the same added act"))
        elif sounds is None:
            times = ", ".join(f"{t:g}" for t, m in sorted(heard) if m == c.marked) or "none"
            out.append(
                (
                    index,
                    f"the log has no {what} at t = {c.utterance_t:g} s (its {what} t: {times})",
                )
            )
        elif c.was not in sounds:
            out.append(
                (
                    index,
                    f"the {what} at t = {c.utterance_t:g} s was heard as"
                    f" {', '.join(sounds)}, not {c.was}",
                )
            )
        elif c.n is not None and not any(
            r.t == c.utterance_t and _number(r) == c.n and r.data["act"] == c.was
            for r in utterances(records)
        ):
            out.append(
                (index, f"the log has no officer_spoke n = {c.n} at t = {c.utterance_t:g} s")
            )
        elif c.act == c.was and not restores:
            out.append((index, f"a no-op: {c.act} is the act heard"))
        elif later != index:
            out.append((index, f"{SUPERSEDED} corrections[{later}] of the same utterance"))
    return out


def _added_unfit(records: Sequence[LogRecord], c: Correction) -> str | None:
    """Why an added act does not fit the log (a hand-edited file: `speech correct --add`
    refuses each as it is made), or None."""
    assert c.start_s is not None and c.end_s is not None
    end = run_end_s(records)
    if c.end_s > end + 1e-9:
        return f"its words end at {c.end_s:g} s, after the run's end ({end:g} s)"
    heard = overlaps(records, c.start_s, c.end_s)
    if heard is not None:
        return f"the log heard {heard.data['act']} at {_when(heard)}, inside its span"
    return None


def apply_corrections(
    records: Iterable[LogRecord], corrections: Sequence[Correction]
) -> list[LogRecord]:
    """The log as the instructor corrected it: each corrected `officer_spoke` record (or live
    mark) carries the corrected act (or is left out for `none`); the latest correction of an
    utterance wins. The records given are not changed."""
    out: list[LogRecord] = []
    for r in records:
        heard = r.kind == OFFICER_SPOKE or is_mark(r)
        fix = correction_of(r, corrections) if heard else None
        if fix is None:
            out.append(r)
        elif fix.act != NONE:
            out.append(LogRecord(r.t, r.kind, {**r.data, "act": fix.act}))
    # The acts the instructor added, each among the records of its time, as a live mark is.
    for fix in added_in_force(corrections):
        at = next((i for i, r in enumerate(out) if r.t > fix.utterance_t), len(out))
        out.insert(at, added_mark(fix))
    return out
