"""The drill a saved run played, kept in its run directory.

A run saves the drill file it ran, byte for byte, as `drill.toml` beside its event log, and its
`run_started` record holds the file's SHA-256 (`drill_sha256`) and where it came from
(`drill_file`). Review (`report`, `mirror`) and rescoring read that copy, never the library by
id: the file may have been edited, renamed or deleted since, and a built-in drill of the same id
may say something else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from drills.course import (
    Course,
    CourseFile,
    builtin_course_files,
    builtin_courses,
    find_course,
    parse_course_bytes,
)
from drills.log import LogRecord
from drills.schema import Drill, DrillFile, builtin_drills, find_drill, parse_drill_bytes

DRILL_COPY = "drill.toml"
# A drill built in code, with no file: its validated model as JSON.
DRILL_JSON = "drill.json"


def drill_source(drill: Drill, source: DrillFile | None) -> tuple[str, bytes, str | None]:
    """What a run keeps of its drill: (copy's file name, its bytes, the file it came from).
    With no file given, a drill identical to a built-in one keeps that file; any other drill
    keeps its validated model as JSON. Raises ValueError if `source` is another drill."""
    if source is not None:
        if source.drill != drill:
            raise ValueError(f"{source.path} is not the drill {drill.id} being run")
        return DRILL_COPY, source.content, str(source.path)
    if builtin_drills().get(drill.id) == drill:
        from drills.schema import read_drill_file

        builtin = read_drill_file(drill.id)
        return DRILL_COPY, builtin.content, str(builtin.path)
    return DRILL_JSON, drill.model_dump_json(indent=2).encode("utf-8"), None


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _not_a_drill_run(run_dir: Path, started: dict[str, Any]) -> str:
    """What to say of a folder whose log is not a drill run's, and what to pass instead."""
    if "course" in started:
        return (
            f"{run_dir} is a qualification attempt (course {started['course']}), not a drill"
            f" run: replay and mirror play drill runs; for an attempt use `openrange report"
            f" {run_dir}` (its targets) or `openrange score {run_dir}`"
        )
    return f"{run_dir}: its log does not begin with run_started: not a drill run's folder"


def drill_run_records(run_dir: Path) -> list[LogRecord]:
    """A saved drill run's records (`read_events`), refused in one line when the folder's log
    is empty or is a qualification attempt's (replay, mirror and the debrief play drill runs)."""
    from drills.events import EventLogError
    from range.runs.runlog import EVENTS, read_events

    records = read_events(run_dir)
    if not records:
        raise EventLogError(run_dir / EVENTS, 1, "the log holds no records: nothing to review")
    if "drill" not in records[0].data:
        raise ValueError(_not_a_drill_run(run_dir, records[0].data))
    return records


def saved_drill_run(run_dir: Path) -> tuple[list[LogRecord], Drill]:
    """A saved drill run's records and the drill it played (`saved_drill`)."""
    records = drill_run_records(run_dir)
    return records, saved_drill(run_dir, records[0].data)


def verified_drill_copy(run_dir: Path, started: dict[str, Any]) -> tuple[Path, bytes] | None:
    """The copy of its drill a saved run keeps (`drill.toml`, or `drill.json` for a drill built
    in code), checked against the SHA-256 its `run_started` recorded: the one check `score`,
    `report`, `replay` and `mirror` share. None for a run saved before runs kept their drill
    (no `drill_sha256`); else the copy's path and the bytes that were checked. Raises
    ValueError for a missing or altered copy."""
    digest = started.get("drill_sha256")
    if digest is None:
        return None
    copy = run_dir / DRILL_COPY
    if not copy.is_file() and (run_dir / DRILL_JSON).is_file():
        copy = run_dir / DRILL_JSON
    return copy, verified_copy(copy, f"drill {started['drill']}", digest)


def verified_copy(copy: Path, named: str, digest: str) -> bytes:
    """The bytes of a file a run keeps and judges by (its drill, its policy), checked against
    the SHA-256 its log recorded. `named`: what the log names ("drill knife-approach-v1").
    Raises ValueError for a missing copy or one changed after the run: no other is trusted."""
    if not copy.is_file():
        raise ValueError(
            f"{copy}: missing; the run's log names {named} with SHA-256 {digest[:12]}...,"
            " and no other copy is trusted"
        )
    content = copy.read_bytes()
    if hashlib.sha256(content).hexdigest() != digest:
        raise ValueError(
            f"{copy} does not match the SHA-256 the run recorded ({digest[:12]}...):"
            " it was changed after the run"
        )
    return content


def saved_drill(run_dir: Path, started: dict[str, Any] | None = None) -> Drill:
    """The drill a saved run played, from the copy in its run directory, checked against the
    hash its log recorded. A run saved before runs kept their drill (no `drill_sha256`) falls
    back to the built-in library by id. Raises ValueError for a missing or altered copy."""
    if started is None:
        started = drill_run_records(run_dir)[0].data
    if "drill" not in started:
        raise ValueError(_not_a_drill_run(run_dir, started))
    kept = verified_drill_copy(run_dir, started)
    if kept is None:
        return find_drill(str(started["drill"]))
    copy, content = kept
    if copy.name == DRILL_JSON:
        return Drill.model_validate_json(content)
    return parse_drill_bytes(content, copy)


COURSE_COPY = "course.toml"
COURSE_JSON = "course.json"


def course_source(course: Course, source: CourseFile | None = None) -> tuple[str, bytes]:
    """What an attempt keeps of its course (file name, bytes): the file it was read from, byte
    for byte (`source`, as a drill run keeps its drill file); with no file given, a built-in
    course's file, or any other course's validated model as JSON. Raises ValueError if
    `source` holds another course."""
    if source is not None:
        if source.course != course:
            raise ValueError(f"{source.path} is not the course {course.id} being fired")
        return COURSE_COPY, source.content
    if builtin_courses().get(course.id) == course:
        return COURSE_COPY, builtin_course_files()[course.id].read_bytes()
    return COURSE_JSON, course.model_dump_json(indent=2).encode("utf-8")


def saved_course(run_dir: Path, started: dict[str, Any]) -> Course:
    """The course a saved attempt fired, from the copy in its run directory (the course file's
    bytes, `course.toml`, or in attempts saved before, its model as `course.json`), checked
    against the hash in its `attempt_started` (`course_sha256`); an attempt saved before
    attempts kept their course falls back to the built-in library by id. Raises ValueError for
    a missing or altered copy."""
    digest = started.get("course_sha256")
    if digest is None:
        return find_course(str(started["course"]))
    copy = run_dir / COURSE_COPY
    if not copy.is_file():
        copy = run_dir / COURSE_JSON
    if not copy.is_file():
        where = started.get("course_file") or f"the built-in course {started['course']}'s file"
        raise ValueError(
            f"{run_dir / COURSE_COPY}: missing: the copy of the course this attempt fired"
            f" ({started['course']}) is gone; put it back there (the file it was read from,"
            f" {where}, if it is unchanged: SHA-256 {digest[:12]}...)"
        )
    content = copy.read_bytes()
    if sha256(content) != digest:
        raise ValueError(
            f"{copy} does not match the SHA-256 the attempt recorded ({digest[:12]}...):"
            " it was changed after the attempt"
        )
    if copy.name == COURSE_JSON:  # an attempt saved before attempts kept the file's bytes
        return Course.model_validate_json(content)
    return parse_course_bytes(content, copy)


# -- an attempt fired in parts (a crash, then `course run --resume`) ------------------------------

# Left in an earlier part's folder when the attempt is resumed (range/runs/course.py).
RESUMED_LINK = "resumed.json"


def _part_folder(recorded: str, beside: Path) -> Path:
    """A part's folder as recorded, or, when the runs folder was moved or copied whole since,
    the folder of that name beside `beside`."""
    path = Path(recorded)
    if path.is_dir():
        return path
    return beside.parent / path.name


def _last_part(run_dir: Path) -> Path:
    """The folder of the attempt's last part, following each earlier part's RESUMED_LINK."""
    import json

    seen = {run_dir.resolve()}
    last = run_dir
    while (link := last / RESUMED_LINK).is_file():
        try:
            data = json.loads(link.read_text(encoding="utf-8"))
            following = _part_folder(str(data["resumed_in"]), last)
        except (OSError, ValueError, KeyError, TypeError):
            raise ValueError(
                f"{link}: not the link to where the attempt was resumed (resumed_in)"
            ) from None
        if not following.is_dir():
            raise ValueError(
                f"{link}: the attempt was resumed in {following}, which is missing: rescore it"
                " there, or see the whole attempt with `openrange records show`"
            )
        if following.resolve() in seen:
            break
        seen.add(following.resolve())
        last = following
    return last


def _whole_attempt(in_progress: int, records: list[LogRecord]) -> str:
    """Where the records hold a resumed attempt whose earlier part is missing: the
    qualification record its `attempt_ended` names, or (a part cut again, or logged before
    attempts said their record) the in-progress number, named as such, never as a record."""
    ended = next((r for r in records if r.kind == "attempt_ended"), None)
    record = None if ended is None else ended.data.get("qualification")
    if record is not None:
        return (
            f"`openrange records show {record}` holds the whole attempt (in-progress attempt"
            f" #{in_progress}, now qualification record {record})"
        )
    return (
        f"the records hold the whole attempt: in-progress attempt #{in_progress} (`openrange"
        " records incomplete`) or, once recorded, the qualification record it became"
        f" (`openrange records history`; not record {in_progress}: the two numbers differ)"
    )


def attempt_parts(run_dir: Path) -> list[tuple[Path, list[LogRecord]]]:
    """Every part of the attempt whose folder (any part's) is `run_dir`, in the order fired:
    (folder, its records). An attempt never resumed is one part. Raises ValueError, naming the
    folder, when a part the attempt names is missing."""
    from range.runs.runlog import read_events

    last = _last_part(run_dir)
    records = read_events(last)
    recorded = next((r for r in records if r.kind == "attempt_recorded"), None)
    parts: list[tuple[Path, list[LogRecord]]] = []
    if recorded is not None:
        # `attempt_recorded` numbers the in-progress attempt; the qualification record it
        # became is another number (docs/records.md "Two numbers, never mixed").
        attempt = f"in-progress attempt #{recorded.data['attempt']}"
        holds = _whole_attempt(recorded.data["attempt"], records)
        if recorded.data.get("kept_strings") and not recorded.data.get("earlier_logs"):
            raise ValueError(
                f"{last} holds {attempt} from its resume on; the strings fired before"
                " were logged in no folder it knows of (saved with --no-save, or by an older"
                f" OpenRange): {holds}"
            )
        for earlier in recorded.data.get("earlier_logs", []):
            folder = _part_folder(str(earlier), last)
            if not folder.is_dir():
                raise ValueError(
                    f"{last} resumes {attempt}, whose first strings were logged in"
                    f" {earlier}, which is missing: {holds}"
                )
            parts.append((folder, read_events(folder)))
    parts.append((last, records))
    return parts


def attempt_log(run_dir: Path) -> list[LogRecord]:
    """The records of the whole attempt whose folder (any part's) is `run_dir`: the first part's
    `attempt_started`, then each part's records. Of a part that a crash cut, only the strings
    the next part kept (its `attempt_recorded`) are taken: the cut string is reshot there, and
    a shot logged just before the crash but never kept in the records is not the attempt's."""
    parts = attempt_parts(run_dir)
    merged: list[LogRecord] = []
    for n, (_, records) in enumerate(parts):
        body = records if n == 0 else [r for r in records if r.kind != "attempt_started"]
        if n + 1 < len(parts):
            following = next(r for r in parts[n + 1][1] if r.kind == "attempt_recorded")
            kept = {(int(k[0]), int(k[1])) for k in following.data.get("kept_strings", [])}
            body = [
                r
                for r in body
                if r.data.get("stage") is None
                or (int(r.data["stage"]), int(r.data["string"])) in kept
            ]
        merged += body
    return merged


# An officer script (`drill run --sim FILE`) or a shooter file (`course run --shooter FILE`)
# given as a file: its bytes are kept beside the log under these names and hashed into the
# log's first record (`officer_sha256`, `shooter_sha256`), as the drill's and the course's
# are (nu24 #6). A built-in named by its id keeps nothing: the id says which it is.
OFFICER_COPY = "officer.toml"
SHOOTER_COPY = "shooter.toml"


@dataclass(frozen=True, slots=True)
class ScriptFile:
    """A script or shooter file as it was read for a run: where, and its exact bytes."""

    path: Path
    content: bytes

    @property
    def sha256(self) -> str:
        return sha256(self.content)


def script_file(name: str, builtin: Collection[str]) -> ScriptFile | None:
    """The file `--sim NAME` / `--shooter NAME` reads (None: a built-in named by its id, or a
    name that is no file: the loader says why), read once: its loader parses `content`, so
    the bytes played are the bytes kept and hashed (rv24 #2). Read as a data file is (a file
    too big is refused by name)."""
    from physics.datafiles import read_bytes

    if name in builtin:
        return None
    path = Path(name)
    if path.suffix != ".toml" or not path.is_file():
        return None
    return ScriptFile(path, read_bytes(path))


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_Played = TypeVar("_Played", bound=_Identified)


def played_label(item: _Played, file: ScriptFile | None, builtins: Mapping[str, _Played]) -> str:
    """How a run names the script or shooter that played it (`item`, read from `file`; None:
    a built-in by its id): its id, and for a file that keeps a built-in id (`builtins`) but is
    not that built-in, `phone-draw-correct-v1 (modified, sha256 1a2b3c4d5e6f)`, as an edited
    copy of a built-in drill is named."""
    builtin = builtins.get(item.id)
    if file is not None and builtin is not None and builtin != item:
        return f"{item.id} (modified, sha256 {file.sha256[:12]})"
    return item.id


def kept_script_problems(run_dir: Path, started: dict[str, Any]) -> list[str]:
    """What is wrong with the officer script or shooter file a run keeps (`officer.toml`,
    `shooter.toml`) against the SHA-256 its log's first record holds (`officer_sha256`,
    `shooter_sha256`), one line each: missing, unreadable, or changed after the run. Empty
    where the copy is the one played, or where none was kept (a built-in by id, a live
    officer, a run saved before runs kept these files). Unlike the drill's copy, neither is
    read to score or review the run (the log says what the officer did), so `score` and
    `report` say so and go on, as for an edited log."""
    problems: list[str] = []
    run = "attempt" if "course" in started else "run"
    for key, copy_name, what in (
        ("officer_sha256", OFFICER_COPY, "officer script"),
        ("shooter_sha256", SHOOTER_COPY, "shooter file"),
    ):
        digest = started.get(key)
        if not isinstance(digest, str) or not digest:
            continue
        copy = run_dir / copy_name
        try:
            content = copy.read_bytes()
        except OSError as exc:
            why = "missing" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
            problems.append(
                f"{copy}: {why}: the copy of the {what} this {run} played (SHA-256"
                f" {digest[:12]}...) is gone; the {run} is read from its log"
            )
            continue
        if sha256(content) != digest:
            problems.append(
                f"{copy} does not match the SHA-256 the {run} recorded ({digest[:12]}...):"
                f" the {what} was changed after the {run}; the {run} is read from its log"
            )
    return problems
