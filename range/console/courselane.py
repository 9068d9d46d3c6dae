"""A qualification course on a lane, live on the console: the lane fires the course
(range/runs/course.py `run_course`, the scripted shooter on emulated replicas) and streams each
string as it is fired (par time, rounds fired, points, faults) with the running score; the
console records the finished attempt for the officer (`record_attempt`).

A course has no phases or subjects: its state frame says `"kind": "course"` and carries the
strings instead. The instructor can abort it (the attempt then is not recorded); the other run
commands are for drills.
"""

from __future__ import annotations

import queue
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drills.course import Course, find_course, find_shooter
from drills.log import LogRecord
from range.console.protocol import Command
from range.records.store import OFFICER, Records, closed_score
from range.runs.course import CourseConfig
from scoring.course import attempt_from_log, count_fired, judged_outcome
from scoring.score import Outcome

Publish = Callable[[dict[str, Any], list[dict[str, Any]]], None]
DEFAULT_SHOOTER = "qualified"
# Records the console keeps of a course (range/runs/course.py keeps the same as they are fired).
KEPT = ("shot", "deployment", "string_faulted")


class CourseAbortedError(Exception):
    """The instructor aborted the course on the lane: said in one line, nothing recorded.
    `by`: who aborted it."""

    def __init__(self, message: str, by: str) -> None:
        super().__init__(message)
        self.by = by


def course_config(args: dict[str, Any], runs_dir: Path | None) -> CourseConfig:
    """The course a START command with `course` asks for: course (built-in id or .toml path),
    shooter (a scripted shooter's id, default DEFAULT_SHOOTER), seed (None: random), the
    officer's badge or name."""
    seed = args.get("seed")
    return CourseConfig(
        find_course(str(args["course"])),
        find_shooter(str(args.get("shooter") or DEFAULT_SHOOTER)),
        int(seed) if seed not in (None, "") else secrets.randbelow(2**31),
        officer_name=str(args.get("officer") or args.get("badge") or "scripted"),
        runs_dir=runs_dir,
    )


def course_state(
    course: Course, records: list[LogRecord], meta: dict[str, Any], ended: bool = False
) -> dict[str, Any]:
    """The course so far as the console draws it: every string (stage and string from 1, weapon,
    distance in feet, par time, rounds or cartridges, fired, points, hits, status: waiting,
    firing, done or reshot) and the running totals; `score` once the attempt has ended."""
    strings: dict[tuple[int, int], dict[str, Any]] = {}
    for i, stage in enumerate(course.stages):
        for j, s in enumerate(stage.strings):
            strings[(i, j)] = {
                "stage": i + 1,
                "string": j + 1,
                "weapon": s.weapon,
                "distance_ft": s.distance_ft_value,
                "par_time_s": s.par_time_s,
                "rounds": s.rounds or s.cartridges,
                "fired": 0,
                "points": 0,
                "hits": 0,
                "status": "waiting",
            }
    score: dict[str, Any] | None = None
    t_s = 0.0
    current: tuple[int, int] | None = None

    def finish_current() -> None:
        if current is not None and strings[current]["status"] == "firing":
            strings[current]["status"] = "done"

    for r in records:
        t_s = max(t_s, r.t)
        key = (int(r.data.get("stage", -1)), int(r.data.get("string", -1)))
        row = strings.get(key)
        if r.kind == "string_started" and row is not None:
            finish_current()
            current = key
            row.update(status="firing", fired=0)
        elif r.kind in ("shot", "deployment") and row is not None:
            row["fired"] += 1
        elif r.kind == "string_faulted" and row is not None:
            row["status"] = "reshot" if r.data.get("reshoot") else "faulted"
        elif r.kind == "attempt_ended":
            finish_current()
            current = None
            score = dict(r.data)
            # Worded as the CLI and result.json word it (scoring.course.judged_outcome): a
            # scripted shooter's reads SIMULATED, never a pass of its own.
            shooter = str(meta.get("shooter") or OFFICER)
            score["simulated"] = shooter != OFFICER
            score["outcome"] = ended_outcome(r.data, shooter)
    # Points and hits as the attempt sheet counts them: the one judge, scoring/course.py
    # `count_fired` (late rounds as the course says, a miss or void; rounds beyond a string's
    # count and a string cut by a fault, nothing), over the log as `rescore_attempt` reads it.
    fired = attempt_from_log(course, records)
    for counted in count_fired(course, fired.shots, fired.deployments, fired.faulted):
        row = strings[(counted.fired.stage, counted.fired.string)]
        row["points"] += counted.points
        row["hits"] += int(counted.hit)
    rows = list(strings.values())
    return {
        **meta,
        "kind": "course",
        "status": "ended" if ended or score is not None else "running",
        "course": course.id,
        "title": course.title,
        "t_s": round(t_s, 3),
        "current": None if current is None else [current[0] + 1, current[1] + 1],
        "strings": rows,
        "points": sum(r["points"] for r in rows),
        "hit_count": sum(r["hits"] for r in rows),  # not "hits": the map draws those
        "score": score,
    }


def ended_outcome(data: dict[str, Any], shooter: str) -> str:
    """An `attempt_ended` record's outcome, as judged_attempt words it, for who fired it."""
    if not data.get("complete", True):
        verdict = Outcome.INCOMPLETE
    else:
        verdict = Outcome.PASS if data.get("passed") else Outcome.FAIL
    return judged_outcome(verdict, shooter != OFFICER)


def course_event(record: LogRecord, shooter: str = OFFICER) -> dict[str, Any] | None:
    """A line of the live timeline, for the records worth one; `shooter`: who fires the
    attempt (a scripted shooter's end reads SIMULATED, not passed)."""
    d = record.data
    where = f"stage {int(d.get('stage', 0)) + 1} string {int(d.get('string', 0)) + 1}"
    if record.kind == "string_started":
        text = f"{where}: {d['distance_ft']:g} ft from {d['start']}, par {d['par_time_s']:g} s"
    elif record.kind == "shot":
        text = f"{where}: {d['t_s']:.2f} s, {d['zone']}, {d['points']} points"
    elif record.kind == "deployment":
        text = f"{where}: {d['t_s']:.2f} s, {'effective' if d['effective'] else d['reason']}"
    elif record.kind == "string_faulted":
        cut_by = d.get("reason") or "device fault"
        text = f"{where}: {cut_by}, {'reshot' if d.get('reshoot') else 'not reshot'}"
    elif record.kind == "attempt_ended":
        if shooter == OFFICER:
            text = f"{d['points']} points, {'passed' if d['passed'] else 'failed'}"
        else:
            said = ended_outcome(d, shooter)
            text = f"{d['points']} points, {said}: scripted shooter {shooter}, not a qualification"
    else:
        return None
    return {"t": round(record.t, 3), "kind": record.kind, "text": text}


class CourseControl:
    """The per-record hook of a course on a lane (`run_course(on_record=...)`): publish the
    course's state, hold it to real time (`speed` x the wall clock; None: as fast as it runs),
    and stop it when the instructor aborts. Clock and sleep are injected."""

    def __init__(
        self,
        course: Course,
        commands: queue.Queue[dict[str, Any]],
        publish: Publish,
        meta: dict[str, Any],
        speed: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.course = course
        self.commands = commands
        self.publish = publish
        self.meta = meta
        self.speed = speed
        self.clock = clock
        self.sleep = sleep
        self.records: list[LogRecord] = []
        self._start: float | None = None

    def __call__(self, record: LogRecord) -> None:
        if self._start is None:
            self._start = self.clock() - record.t / (self.speed or 1.0)
        if self.speed is not None:
            ahead_s = self._start + record.t / self.speed - self.clock()
            if ahead_s > 0:
                self.sleep(ahead_s)
        self._take_commands()
        self.records.append(record)
        line = course_event(record, str(self.meta.get("shooter") or OFFICER))
        self.publish(self.state(), [] if line is None else [line])

    def state(self, ended: bool = False) -> dict[str, Any]:
        return course_state(self.course, self.records, self.meta, ended)

    def _take_commands(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            if command.get("command") == Command.ABORT:
                by = str(command.get("by", "?"))
                raise CourseAbortedError(
                    f"course {self.course.id} aborted by {by}: not recorded", by
                )


def record_attempt(
    records: Records,
    badge: str,
    run_dir: Path,
    score: dict[str, Any],
    incomplete: dict[str, Any] | None = None,
    console_audit: str | None = None,
    started: str | None = None,
    finished: str | None = None,
) -> int:
    """A course fired on a lane into the officer's records, from its saved folder: begun with
    what its `attempt_started` says (course hash, seed, devices, calibration, shooter: a
    scripted shooter's attempt stays a simulation), its shots kept, finished with `score`
    (with `incomplete`, who and why: recorded INCOMPLETE, as an attempt a lane process died
    firing is, with the score `records close` gives one: `closed_score`, 0 of the course's
    maximum). `console_audit`: the console's audit head as it stands (ConsoleStore.audit_mark),
    kept in the record's chained detail. Dated when it was fired, as the command line dates
    one (nu25 #3): `started` and `finished` as the lane's result says them (UTC ISO; anything
    else, or none: now), so a Retry after an outage, however late, keeps the day it was fired,
    which its expiry counts from. Returns the qualification's id."""
    from range.records.store import utc_stamp
    from range.runs.runlog import read_events

    events = read_events(run_dir)
    began = utc_stamp(started)
    ended = utc_stamp(finished)
    if began is None or (ended is not None and ended < began):
        ended = None  # no start said, or a lane's clock that ran backwards: dated now
    started_log = events[0].data
    attempt = records.begin_attempt(
        badge,
        str(started_log["course"]),
        int(started_log["seed"]),
        str(started_log["openrange_version"]),
        list(started_log["devices"]),
        calibration=list(started_log["calibration"]),
        course_sha256=str(started_log["course_sha256"]),
        shooter=str(started_log["shooter"]),
        started=began,
    )
    for r in events:
        if r.kind in KEPT:
            records.record_shot(attempt, {"kind": r.kind, **r.data})
    if incomplete is not None:
        score = closed_score(int(score["max_points"]))
    return records.finish_attempt(
        attempt, score, incomplete=incomplete, console_audit=console_audit, finished=ended
    )
