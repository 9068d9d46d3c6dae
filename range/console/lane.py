"""A lane as its own process: it runs drills on its replicas and takes the console's orders.

`openrange lane --console URL --name LANE1` connects to the console's lane WebSocket, publishes
its run's state every frame and applies the instructor's commands at frame boundaries through
`RunConfig.on_frame` (`LiveControl`). Every command is written into the run's event log as an
`instructor_command` record with who gave it, before it takes effect, so `replay_control` plays
it back at the same frame. The lane never needs the console: if the console goes away the run
goes on, its log stays on disk, and the link retries until the console returns; finished runs
not yet acknowledged are offered again in the next hello. A run the records refuse (an unknown
badge, a store error) is held, folder and all, and offered no more until a range master retries
or dismisses it from the console. Both lists are kept in the runs folder too
(`LaneProcess.pending_path`), so a restarted lane process offers and holds them again.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drills.engine import RunState
from drills.log import LogRecord
from drills.officer import find_officer
from drills.schema import read_drill_file
from range.console import speech
from range.console.courselane import CourseAbortedError, CourseControl, course_config
from range.console.graph import phase_graph
from range.console.protocol import (
    IDLE,
    Command,
    clip_keys,
    event_line,
    impact_rows,
    lane_state,
    unrecorded_row,
    with_files,
)
from range.console.replicas import ReplicaWatch
from range.review.effects import EffectLog, impact_json
from range.runs.course import run_course
from range.runs.drill import RunConfig, Session
from range.runs.runlog import EVENTS, RESULT, being_written, read_events

CommandMessage = dict[str, Any]
Publish = Callable[[dict[str, Any], list[dict[str, Any]]], None]
# A line to speak now: (subject or None, text, the drill's subject ids in order).
Say = Callable[[str | None, str, list[str]], None]
# While paused the state still goes out, at this rate, so the console shows the pause.
PAUSED_PUBLISH_S = 0.1
# The pending-runs file's format (LaneProcess.pending_path).
PENDING_VERSION = 1
# Written into a cut-short run's folder when a restarted lane finds it (the result it offers):
# the folder is offered once.
CUT_SHORT_FILE = "incomplete.json"
# Beside the log of a course an instructor aborted (nothing recorded, as the abort says): a
# restarted lane does not offer it as cut short by a stopped lane (nu22 #4).
ABORTED_FILE = "aborted.json"
# A lane's mark in each run folder it makes, as the folder is made (`mark_lane_run`): a lane
# restarted offers as cut short only the runs a lane of its name made, never a folder the
# command line left in the shared runs folder (its records hold it, or list it in progress:
# rc19 #3). A dot file: a run's bundle and listings leave it out.
LANE_MARK = ".lane.json"


def mark_lane_run(folder: Path | None, lane: str) -> str:
    """Mark `folder` as a run the lane named `lane` made (None: a run kept nowhere), started
    now: returns when (UTC, ISO, to the second), kept in the mark too, so the records date
    the run by its start, a cut-short one as well (nu20 #13)."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    if folder is not None:
        mark = {"lane": lane, "started": started}
        (folder / LANE_MARK).write_text(json.dumps(mark) + "\n", encoding="utf-8")
    return started


def marked_start(folder: Path) -> str | None:
    """When the lane's mark says the run in `folder` started (None: not said)."""
    try:
        started = json.loads((folder / LANE_MARK).read_text(encoding="utf-8")).get("started")
    except (OSError, ValueError, AttributeError):
        return None
    return started if isinstance(started, str) else None


def _mark_aborted(folder: Path, by: str, lane: str) -> None:
    """Mark a course's folder as aborted by `by` (ABORTED_FILE): never offered as cut short."""
    try:
        (folder / ABORTED_FILE).write_text(
            json.dumps({"aborted_by": by, "lane": lane}) + "\n", encoding="utf-8"
        )
    except OSError as exc:  # a restart would offer it as cut short: said now
        print(f"lane {lane}: {folder}: {exc}", file=sys.stderr)


def made_by(folder: Path) -> str | None:
    """The name of the lane that made the run folder, or None for one no lane marked."""
    try:
        lane = json.loads((folder / LANE_MARK).read_text(encoding="utf-8")).get("lane")
    except (OSError, ValueError, AttributeError):
        return None
    return lane if isinstance(lane, str) else None


# Fields of a command's args that go into its log record.
_ARG_FIELDS = ("button", "subject", "text", "act", "note")


class LiveControl:
    """The per-frame hook of a live run: apply queued commands, publish the state, and hold the
    engine to real time (`speed` x wall clock; None: as fast as it runs). Clock and sleep are
    injected; `commands` is fed by the lane's link thread."""

    def __init__(
        self,
        commands: queue.Queue[CommandMessage],
        publish: Publish,
        meta: dict[str, Any],
        speed: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
        say: Say | None = None,
    ) -> None:
        self.commands = commands
        self.say = say
        self.publish = publish
        self.meta = meta
        self.speed = speed
        self.clock = clock
        self.restart = False
        # A pause of a paused run or a resume of a running one changes nothing: not logged
        # (a replay of a saved log gives every command it holds, as it was given).
        self.skip_no_ops = True
        self._paused = False
        self._start: float | None = None
        self._new: list[dict[str, Any]] = []
        self._effects = EffectLog()
        self._hits: list[dict[str, Any]] = []
        self._impacts_m: list[dict[str, Any]] = []

    def __call__(self, session: Session) -> None:
        engine = session.engine
        if self._start is None:
            engine.log.attach(self._record)
            self._start = self.clock()
            for record in engine.log.records:
                self._record(record)
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                break
            self.apply(session, command)
        self._publish(session)
        if engine.state is RunState.SUSPENDED and self._paused:
            self._wait_paused(session)
        if self.speed is not None and not engine.finished:
            ahead_s = self._start + engine.t / self.speed - self.clock()
            if ahead_s > 0:
                time.sleep(ahead_s)

    def apply(self, session: Session, command: CommandMessage) -> None:
        """One instructor command, logged with who gave it, then applied."""
        engine = session.engine
        name = Command(command["command"])
        by = str(command.get("by", "?"))
        args = command.get("args") or {}
        if engine.finished or name is Command.START:
            return
        if self.skip_no_ops and (
            (name is Command.PAUSE and engine.state is RunState.SUSPENDED)
            or (name is Command.RESUME and engine.state is not RunState.SUSPENDED)
        ):
            return  # a second pause (or resume) crossed the first on the wire: not logged
        data = {k: str(args[k]) for k in _ARG_FIELDS if args.get(k) not in (None, "")}
        engine.log.emit(engine.t, "instructor_command", command=name.value, by=by, **data)
        if name is Command.PAUSE:
            engine.suspend(f"paused by {by}")
            self._paused = engine.state is RunState.SUSPENDED
        elif name is Command.RESUME:
            self._paused = False
            engine.resume()
        elif name is Command.ABORT:
            engine.abort(f"aborted by {by}")
        elif name is Command.RESTART:
            engine.abort(f"restarted by {by}")
            self.restart = True
        elif name is Command.BUTTON and engine.state is RunState.RUNNING:
            engine.instructor(data.get("button", ""))
        elif name is Command.MARK and engine.state is RunState.RUNNING:
            # The officer did say it: the subjects answer the mark as they answer speech heard
            # (its `speech:` transitions); a mark that is no act is logged, and nothing more.
            with contextlib.suppress(ValueError):
                engine.marked(data.get("act", ""))
        elif name is Command.SAY and self.say is not None:
            self.say(data.get("subject"), data.get("text", ""), list(engine.subjects))

    def finish(self, session: Session) -> None:
        """Publish the ended run's last state (the frame loop calls no control after it)."""
        self._publish(session)

    def _wait_paused(self, session: Session) -> None:
        """Block the frame loop while paused: the drill clock stays frozen, the state still goes
        out, and the next commands (resume, abort, a flag) apply at this same frame."""
        paused_at = self.clock()
        while self._paused and not session.engine.finished:
            try:
                command = self.commands.get(timeout=PAUSED_PUBLISH_S)
            except queue.Empty:
                self._publish(session)
                continue
            self.apply(session, command)
            self._publish(session)
        if self._start is not None:
            self._start += self.clock() - paused_at  # real time resumes where it stopped

    def _record(self, record: LogRecord) -> None:
        line = event_line(record)
        if line is not None:
            self._new.append(line)

    def _publish(self, session: Session) -> None:
        new, self._new = self._new, []
        state = lane_state(session.engine, session.hands.officer_xy, self.meta)
        # The impacts so far, read from the log incrementally (each record once), for the
        # console's map (`hits`, feet) and its live view (`impacts_m`).
        engine = session.engine
        self._effects.feed(engine.log.records, engine.t)
        impacts = self._effects.impacts
        if len(impacts) != len(self._impacts_m):
            self._hits = impact_rows(impacts)
            self._impacts_m = [impact_json(i) for i in impacts]
        state["hits"], state["impacts_m"] = self._hits, self._impacts_m
        # What each subject is doing (its animation), so the live view poses it.
        for subject in state["subjects"]:
            subject.update(clip_keys(session.animator.clip_now(subject["id"], engine.t)))
        self.publish(state, new)


def replay_control(records: Iterable[LogRecord]) -> Callable[[Session], None]:
    """A control that gives a saved run's instructor commands again at the frames they were
    given (by drill time), without pacing: the rerun with the same seed logs the same run."""
    pending = [r for r in records if r.kind == "instructor_command"]
    control = LiveControl(queue.Queue(), lambda state, events: None, {}, speed=None)
    control.skip_no_ops = False

    def replay(session: Session) -> None:
        engine = session.engine
        while pending and pending[0].t <= engine.t + engine.dt_s / 2:
            record = pending.pop(0)
            command = {
                "command": record.data["command"],
                "by": record.data["by"],
                "args": {k: record.data[k] for k in _ARG_FIELDS if k in record.data},
            }
            control.apply(session, command)
        control._paused = False  # a pause and its resume were given at one frame

    return replay


def start_config(args: dict[str, Any], control: LiveControl, runs_dir: Path | None) -> RunConfig:
    """The run a START command asks for: drill (built-in id or .toml path), officer script
    (default: the drill's expected response), seed (None: random), the officer's name."""
    source = read_drill_file(str(args.get("drill_file") or args["drill"]))
    if not args.get("script"):
        source.check_expected_officer()
    script = args.get("script") or source.expected_officer()
    if not script:
        raise ValueError(f"{source.drill.id} names no expected response: choose a script")
    seed = args.get("seed")
    return RunConfig(
        drill=source.drill,
        drill_file=source,
        officer=find_officer(str(script)),
        seed=int(seed) if seed not in (None, "") else secrets.randbelow(2**31),
        runs_dir=runs_dir,
        officer_name=str(args.get("officer") or args.get("badge") or "scripted"),
        on_frame=control,
    )


class LaneProcess:
    """One lane: a link thread to the console and the runs in the calling thread (`serve`)."""

    def __init__(
        self,
        name: str,
        console_url: str,
        key: str,
        runs_dir: Path | None,
        speed: float | None = 1.0,
        retry_s: float = 0.5,
        speech: str = "wav",
        replicas: ReplicaWatch | None = None,
    ) -> None:
        self.name = name
        # The lane's own replicas (range/console/replicas.py), shown in every state it sends.
        self.replicas = replicas
        self._running = False
        self.graph: dict[str, Any] | None = None  # the drill's phase graph (graph.py)
        self._graph_due = False
        # The next state frame is a new run's first: the console starts its event list afresh.
        self._new_run = False
        self.speech = speech
        self._voices: list[subprocess.Popen[bytes]] = []
        self.url = lane_url(console_url)
        self.key = key
        self.runs_dir = runs_dir
        self.speed = speed
        self.retry_s = retry_s
        self.commands: queue.Queue[CommandMessage] = queue.Queue()
        self.stop = threading.Event()
        self.state: dict[str, Any] = dict(IDLE)
        self.events: deque[dict[str, Any]] = deque(maxlen=200)
        self.finished: list[dict[str, Any]] = []
        # Runs the console could not record, by run_dir: (result, reason). Not offered again
        # until a `retry`; a `dismiss` forgets one (its folder stays on this lane's disk).
        self.unrecorded: dict[str, tuple[dict[str, Any], str]] = {}
        # finished and unrecorded, shared with the link; re-entrant because the hello is built
        # (unrecorded_rows) and a retry offered (_offer) while it is held
        self._runs_lock = threading.RLock()
        self.refused: str | None = None
        # This process's id in every hello: the console lets it take its name back from its
        # own stale link, never from another lane process given the same --name.
        self.instance = secrets.token_hex(8)
        self._ws: Any = None
        self._send_lock = threading.Lock()
        self._seq = 0
        # The run being played now, as the pending file keeps it (who started it, for which
        # badge, since when): a lane process killed mid-run leaves it there, and the next one
        # gives the cut-short run's folder that badge (`_find_cut_short`).
        self._current: dict[str, Any] | None = None
        # The last drill run's START, its seed as played: a RESTART after it ended plays it
        # again (`_start_for`).
        self._last_start: CommandMessage | None = None
        # What a lane process restarted finds again: the runs waiting for the console and the
        # runs it held unrecorded (`pending_path`, beside its runs), and the runs a killed
        # process cut short, offered as INCOMPLETE.
        self._load_pending()

    # -- runs (the calling thread) ------------------------------------------------------------

    def serve(self) -> None:
        if self.replicas is not None:
            self.replicas.on_change = self._replicas_changed
            self.replicas.between_runs = lambda: not self._running
            self.state = self._with_replicas(self.state)
        link = threading.Thread(target=self._link, name=f"lane-{self.name}-link", daemon=True)
        link.start()
        try:
            while not self.stop.is_set():
                try:
                    command = self.commands.get(timeout=0.2)
                except queue.Empty:
                    continue
                command = self._start_for(command) or command
                if command.get("command") == Command.START:
                    self._running = True
                    self._note_running(command)
                    try:
                        self._run(command)
                    finally:
                        self._running = False
                        self._note_running(None)
        finally:
            self.stop.set()
            ws = self._ws
            if ws is not None:
                ws.close()
            link.join(timeout=5)

    def _start_for(self, command: CommandMessage) -> CommandMessage | None:
        """A RESTART taken between runs (the drill run has ended): the last drill run's START
        again, with its seed (a random one as drawn), given by whoever restarted it; None for
        anything else, or when the lane has played no drill since it started (or a course
        last: a course is started again from the page)."""
        if command.get("command") != Command.RESTART or self._last_start is None:
            return None
        return {**self._last_start, "by": command.get("by")}

    def _run(self, command: CommandMessage) -> None:
        args = dict(command.get("args") or {})
        if args.get("course"):
            self._run_course(command, args)
            return
        while True:
            meta = {
                "drill": args.get("drill_file") or args.get("drill"),
                "officer_name": args.get("officer") or args.get("badge") or "scripted",
                "badge": args.get("badge"),
                "started_by": command.get("by"),
            }
            say = self._say if self.speech == "play" else None
            control = LiveControl(self.commands, self._publish, meta, self.speed, say=say)
            # Whatever goes wrong with one run (a bad drill file, a replica refused) is told to
            # the console in one line; the lane stays up for the next.
            begun: dict[str, str] = {}

            def on_begin(
                folder: Path | None,
                _sha: str,
                begun: dict[str, str] = begun,
                meta: dict[str, Any] = meta,
            ) -> None:
                # When the run started: the records date it so, not when it was offered or
                # recorded (nu20 #13).
                begun["started"] = mark_lane_run(folder, self.name)
                # The run's folder in the lane's state, as a course's (rc20 #7): the console
                # keeps it with an abort it sends, so a lane that dies before the abort ends
                # the run has it recorded ABORTED, not INCOMPLETE, when it offers it cut short.
                if folder is not None:
                    meta["run"] = folder.name

            try:
                config = replace(start_config(args, control, self.runs_dir), on_begin=on_begin)
                meta["seed"] = config.seed
                self._last_start = {**command, "args": {**args, "seed": str(config.seed)}}
                meta["title"] = config.drill.title
                meta["drill_id"] = config.drill.id  # `drill` may be a file's path
                # The drawn graph goes out once a run (and in every hello), not every frame.
                self.graph = phase_graph(config.drill)
                self._graph_due = True
                self.events.clear()
                self._new_run = True
                session = Session(config)
                result = session.run().as_json()
            except Exception as exc:
                message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
                self._send({"type": "error", "lane": self.name, "error": str(message)})
                self.state = self._with_replicas(dict(IDLE))
                self._send(
                    {
                        "type": "state",
                        "lane": self.name,
                        "sent_s": time.monotonic(),
                        "seq": self._seq,
                        "state": self.state,
                        "events": [],
                    }
                )
                return
            control.finish(session)
            result |= begun  # `started`
            result["badge"] = args.get("badge")
            result["started_by"] = command.get("by")
            result["lane"] = self.name
            if self.speech != "off" and result.get("run_dir"):
                self._write_speech(Path(result["run_dir"]))
            if result.get("run_dir"):
                result = with_files(result)
            self._offer(result)
            if not control.restart:
                return
            args["seed"] = config.seed

    def _run_course(self, command: CommandMessage, args: dict[str, Any]) -> None:
        """A qualification course (range/console/courselane.py): its strings stream as they
        are fired; the finished attempt goes to the console to be recorded for the badge."""
        meta = {
            "officer_name": args.get("officer") or args.get("badge") or "scripted",
            "badge": args.get("badge"),
            "started_by": command.get("by"),
        }
        self.graph = None
        self._last_start = None  # Restart is for drills: a course is started again
        begun: list[Path] = []  # the attempt's folder, once it is made
        dated: dict[str, str] = {}  # when it was fired: the records date it so (nu25 #3)

        def on_begin(folder: Path) -> None:
            begun.append(folder)
            dated["started"] = mark_lane_run(folder, self.name)
            # The attempt's folder in the lane's state: the console keeps it with an abort
            # it sends, so a lane that dies before it marks the folder aborted does not have
            # the attempt recorded INCOMPLETE when it offers it cut short (rc20 #7).
            meta["run"] = folder.name

        try:
            config = replace(course_config(args, self.runs_dir), on_begin=on_begin)
            meta["seed"] = config.seed
            meta["shooter"] = config.shooter.id
            control = CourseControl(config.course, self.commands, self._publish, meta, self.speed)
            self.events.clear()
            self._new_run = True
            result = run_course(config, on_record=control).as_json()
        except Exception as exc:  # one line to the console; the lane stays up for the next
            if isinstance(exc, CourseAbortedError):
                for folder in begun:
                    _mark_aborted(folder, exc.by, self.name)
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            self._send({"type": "error", "lane": self.name, "error": str(message)})
            self._publish(dict(IDLE), [])
            return
        self._publish(control.state(ended=True), [])
        if dated:  # dated when fired, not when the console records it (a Retry a day later)
            dated["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        result.update(
            dated,
            kind="course",
            badge=args.get("badge"),
            started_by=command.get("by"),
            lane=self.name,
        )
        if result.get("run_dir"):
            result = with_files(result)
        self._offer(result)

    def _offer(self, result: dict[str, Any]) -> None:
        """A finished run, kept until the console says it is recorded, and offered to it."""
        # Under the lock the link builds its hello with: a run that finishes while the link
        # is connecting is either in that hello or sent on the link it sets, never neither.
        with self._runs_lock:
            self.finished.append(result)
            self._save_pending()
            self._send({"type": "finished", "lane": self.name, "result": result})

    # -- runs kept across a restart of the lane process -------------------------------------------

    @property
    def pending_path(self) -> Path | None:
        """Where the lane keeps its finished runs not yet recorded (waiting for the console or
        held unrecorded), so a restarted lane process offers and shows them again: a JSON file
        in its runs folder (none without one)."""
        if self.runs_dir is None:
            return None
        return self.runs_dir / f".lane-{self.name}-pending.json"

    def _save_pending(self) -> None:
        """Write what is pending now (under `_runs_lock`): each run's result without its files
        (they are in its folder, bundled again when it is offered), and a held run's reason."""
        path = self.pending_path
        if path is None:
            return

        def bare(result: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in result.items() if k not in ("files", "speech_left_out")}

        data = {
            "version": PENDING_VERSION,
            "lane": self.name,
            "waiting": [bare(r) for r in self.finished],
            "held": [{"result": bare(r), "reason": why} for r, why in self.unrecorded.values()],
            "running": self._current,
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".part")
            part.write_text(json.dumps(data, indent=1), encoding="utf-8")
            part.replace(path)
        except OSError as exc:  # the runs go on; only a restart would forget them
            print(f"lane {self.name}: pending runs not saved to {path}: {exc}", file=sys.stderr)

    def _load_pending(self) -> None:
        """The runs a previous process of this lane left pending; a run whose folder is gone is
        dropped (said once), a file that cannot be read is named and left as it is."""
        path = self.pending_path
        if path is None or not path.is_file():
            self._find_cut_short(None)
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != PENDING_VERSION:
                raise ValueError(f"not a version {PENDING_VERSION} pending-runs file")
            waiting = [r for r in data.get("waiting", []) if isinstance(r, dict)]
            held = [
                h
                for h in data.get("held", [])
                if isinstance(h, dict) and isinstance(h.get("result"), dict)
            ]
            running = data.get("running") if isinstance(data.get("running"), dict) else None
        except (OSError, ValueError) as exc:
            print(f"lane {self.name}: {path}: {exc}; its runs are not offered", file=sys.stderr)
            return
        for result in waiting + [h["result"] for h in held]:
            folder = result.get("run_dir")
            if not isinstance(folder, str) or not Path(folder).is_dir():
                print(f"lane {self.name}: pending run {folder} has no folder: dropped", flush=True)
        with self._runs_lock:
            for result in waiting:
                if isinstance(result.get("run_dir"), str) and Path(result["run_dir"]).is_dir():
                    self.finished.append(with_files(result))
            for h in held:
                result = h["result"]
                if isinstance(result.get("run_dir"), str) and Path(result["run_dir"]).is_dir():
                    self.unrecorded[result["run_dir"]] = (result, str(h.get("reason") or "?"))
            self._save_pending()
        self._find_cut_short(running)

    def _note_running(self, command: CommandMessage | None) -> None:
        """Keep the run starting now (None: it ended) in the pending file."""
        if command is None:
            current = None
        else:
            args = command.get("args") or {}
            current = {
                "kind": "course" if args.get("course") else "drill",
                "badge": args.get("badge"),
                "started_by": command.get("by"),
                "since_unix": time.time(),
            }
        with self._runs_lock:
            self._current = current
            self._save_pending()

    def _find_cut_short(self, running: dict[str, Any] | None) -> None:
        """The runs a killed lane process cut short: a folder under the runs folder that a lane
        of this name made (LANE_MARK), whose log
        has no `run_ended` (a drill) or `attempt_ended` (a course) and no result.json, and
        whose writer is gone (a run another live process still writes holds its log's lock,
        `being_written`: it is left to that process). Each is
        rescored from its log as INCOMPLETE (`cut_short_result`), marked with CUT_SHORT_FILE so
        it is found once, and offered to the console like a finished run; the run that was
        being played when the process died (`running`, from the pending file) gives its
        badge and who started it."""
        if self.runs_dir is None or not self.runs_dir.is_dir():
            return
        with self._runs_lock:
            known = {str(r.get("run_dir")) for r in self.finished} | set(self.unrecorded)
        found = 0
        for folder in sorted(p for p in self.runs_dir.iterdir() if p.is_dir()):
            if str(folder) in known or not (folder / EVENTS).is_file():
                continue
            if made_by(folder) != self.name:
                continue  # not this lane's run: the command line's, or another lane's
            if any((folder / f).exists() for f in (RESULT, CUT_SHORT_FILE, ABORTED_FILE)):
                continue  # ended, offered once already, or aborted by an instructor
            if being_written(folder):
                continue  # another live process (same --name or --runs-dir) is playing it
            note = running or {}
            if folder.stat().st_mtime < float(note.get("since_unix") or 0) - 1:
                note = {}  # cut short before the run the pending file names
            try:
                result = cut_short_result(folder)
            except (OSError, ValueError) as exc:
                print(f"lane {self.name}: {folder}: {exc}; not offered", file=sys.stderr)
                continue
            if result is None:
                continue
            result.update(
                badge=note.get("badge"),
                started_by=note.get("started_by"),
                lane=self.name,
            )
            if (started := marked_start(folder)) is not None:
                result["started"] = started  # dated by its start in the records (nu20 #13)
                # An attempt ended when its log was last written (nu25 #3), not when offered.
                last = datetime.fromtimestamp((folder / EVENTS).stat().st_mtime, UTC)
                result["finished"] = max(started, last.isoformat(timespec="seconds"))
            try:
                (folder / CUT_SHORT_FILE).write_text(
                    json.dumps(result, indent=1) + "\n", encoding="utf-8"
                )
            except OSError as exc:  # offered all the same; a later restart may offer it again
                print(f"lane {self.name}: {folder}: {exc}", file=sys.stderr)
            with self._runs_lock:
                self.finished.append(with_files({**result, "run_dir": str(folder)}))
            found += 1
        if found:
            with self._runs_lock:
                self._save_pending()
            print(
                f"lane {self.name}: {found} run{'' if found == 1 else 's'} cut short by a stopped"
                " lane found: offered as INCOMPLETE",
                flush=True,
            )

    def _say(self, subject: str | None, text: str, subjects: list[str]) -> None:
        self._voices = [v for v in self._voices if v.poll() is None]
        process = speech.speak(text, speech.voice(subject, subjects))
        if process is not None:
            self._voices.append(process)

    def _write_speech(self, run_dir: Path) -> None:
        try:
            speech.write_speech(run_dir, read_events(run_dir))
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"lane {self.name}: the spoken lines were not saved: {exc}", file=sys.stderr)

    def _with_replicas(self, state: dict[str, Any]) -> dict[str, Any]:
        if self.replicas is None:
            return state
        return {**state, "replicas": self.replicas.rows}

    def _replicas_changed(self, rows: list[dict[str, Any]]) -> None:
        """From the replica watch's thread: between runs the change goes out at once (during
        a run, the next frame carries it)."""
        if not self._running:
            self._publish(self.state, [])

    def _publish(self, state: dict[str, Any], events: list[dict[str, Any]]) -> None:
        state = self._with_replicas(state)
        if self._graph_due and "phases" in state:
            state = {**state, "phase_graph": self.graph}
            self._graph_due = False
        self.state = state
        self.events.extend(events)
        self._seq += 1
        message = {
            "type": "state",
            "lane": self.name,
            "sent_s": time.monotonic(),
            # The wall clock too: a browser on this machine can only compare with that.
            "sent_unix_ms": time.time() * 1000,
            "seq": self._seq,
            "state": state,
            "events": events,
        }
        if self._new_run:
            message["new_run"] = True
            self._new_run = False
        self._send(message)

    # -- the link (its own thread) --------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            with self._send_lock:
                ws.send(json.dumps(message))
        except Exception:  # the link thread sees the closed connection and reconnects
            pass

    def _link(self) -> None:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        attached = lost = False  # said once each: attached, then lost until attached again
        while not self.stop.is_set():
            try:
                with connect(self.url, open_timeout=2, close_timeout=1, max_size=2**22) as ws:
                    with self._runs_lock:  # see _offer: no finished run falls between
                        hello = {
                            "type": "hello",
                            "lane": self.name,
                            "key": self.key,
                            "instance": self.instance,
                            "state": self.state,
                            "events": list(self.events),
                            "finished": list(self.finished),
                            "unrecorded": self.unrecorded_rows(),
                            "phase_graph": self.graph,
                        }
                        with self._send_lock:
                            ws.send(json.dumps(hello))
                        self._ws = ws
                        offered, kept = len(self.finished), len(self.unrecorded)
                    for raw in ws:
                        message = json.loads(raw)
                        if message.get("type") == "attached":
                            # Said once the console took the hello (a wrong key never is).
                            print(
                                f"lane {self.name}: {'reconnected' if attached else 'connected'}"
                                f" to the console; {offered} finished"
                                f" run{'' if offered == 1 else 's'} offered"
                                + (f", {kept} held not recorded" if kept else ""),
                                flush=True,
                            )
                            attached, lost = True, False
                        self._receive(message)
                        if self.refused or self.stop.is_set():
                            break
            except (OSError, TimeoutError, WebSocketException, ValueError):
                pass
            self._ws = None
            if self.refused:
                self.stop.set()
                return
            if not lost and not self.stop.is_set():
                lost = True
                print(
                    f"lane {self.name}: {'link to the console lost' if attached else 'no console'}"
                    f" at {self.url}; runs go on and are kept; retrying every {self.retry_s:g} s",
                    flush=True,
                )
            self.stop.wait(self.retry_s)

    def _receive(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "command":
            self.commands.put(message)
        elif kind == "recorded":
            with self._runs_lock:
                self.finished = [r for r in self.finished if r.get("run_dir") != message["run_dir"]]
                self._save_pending()
        elif kind == "unrecorded":
            self._hold(str(message.get("run_dir")), str(message.get("reason") or "refused"))
        elif kind == "retry":
            with self._runs_lock:
                held = self.unrecorded.pop(str(message.get("run_dir")), None)
            if held is not None:
                result = held[0]
                if "files" not in result and Path(str(result.get("run_dir"))).is_dir():
                    # Held by an earlier process of this lane: its files from its folder.
                    result = with_files(result)
                self._offer(result)
        elif kind == "dismiss":
            with self._runs_lock:
                held = self.unrecorded.pop(str(message.get("run_dir")), None)
                self._save_pending()
            if held is not None:
                print(
                    f"lane {self.name}: run {held[0].get('run_dir')} dismissed unrecorded by"
                    f" {message.get('by', '?')}; its folder stays",
                    flush=True,
                )
        elif kind == "refused":
            self.refused = str(message.get("reason", "refused"))

    def _hold(self, run_dir: str, reason: str) -> None:
        """The console could not record this run: keep it (and its folder) and offer it no
        more; the console shows the lane flagged with `reason` until a retry or a dismiss."""
        with self._runs_lock:
            held = [r for r in self.finished if r.get("run_dir") == run_dir]
            self.finished = [r for r in self.finished if r.get("run_dir") != run_dir]
            for result in held:
                self.unrecorded[run_dir] = (result, reason)
            self._save_pending()
        if held:
            print(
                f"lane {self.name}: run {run_dir} not recorded: {reason} (kept; a range master"
                " may retry or dismiss it on the console)",
                flush=True,
            )

    def unrecorded_rows(self) -> list[dict[str, Any]]:
        """The held runs as the console shows them (no files: a retry sends those)."""
        with self._runs_lock:
            held = list(self.unrecorded.values())
        return [unrecorded_row(result, reason) for result, reason in held]


def cut_short_result(folder: Path) -> dict[str, Any] | None:
    """The result of a run whose lane process died mid-run, from its log alone: INCOMPLETE
    (scored by the same scorers as a finished run; a log with no `run_ended` / `attempt_ended`
    scores INCOMPLETE, never a pass or a fail), with `cut_short` set. None when the log did
    end (only its result.json is missing: nothing was cut). Raises ValueError (EventLogError)
    for a log that cannot be read, OSError for a folder that cannot be."""
    from range.records.store import OFFICER
    from range.runs.policyfile import own_policy
    from range.runs.saved import saved_course, saved_drill_run
    from scoring.course import judged_attempt, rescore_attempt
    from scoring.score import score_run

    records = read_events(folder)
    if not records or any(r.kind in ("run_ended", "attempt_ended") for r in records):
        return None
    started = records[0].data
    end_t = max(r.t for r in records)
    if records[0].kind == "attempt_started":
        course = saved_course(folder, started)
        simulated = started.get("shooter", OFFICER) != OFFICER  # as result.json says it
        return {
            "openrange_version": started.get("openrange_version"),
            "kind": "course",
            "course": course.id,
            "shooter": started.get("shooter"),
            "officer_name": started.get("officer_name"),
            "seed": started.get("seed"),
            "devices": started.get("devices", []),
            "calibration": started.get("calibration", []),
            "score": judged_attempt(rescore_attempt(course, records), simulated),
            "simulated": simulated,
            "run_dir": str(folder),
            "cut_short": True,
        }
    records, _ = saved_drill_run(folder)
    policy, label = own_policy(folder, records)  # the policy the run was started under (nu24 #2)
    score = score_run(records, policy, label=label)
    return {
        "openrange_version": started.get("openrange_version"),
        "drill": started.get("drill"),
        "drill_sha256": started.get("drill_sha256", ""),
        "officer": started.get("officer"),
        "seed": started.get("seed"),
        "state": "incomplete",
        "end_reason": f"cut short at {end_t:.2f} s: the lane stopped mid-run (no run_ended)",
        "duration_s": round(end_t, 6),
        "complete": False,
        "devices": started.get("devices", []),
        "score": score.as_json(),
        "run_dir": str(folder),
        "cut_short": True,
    }


def lane_url(console: str) -> str:
    """The console's lane endpoint from what a range master types: host:port, http(s)://...,
    or ws(s)://... (the path /ws/lane is added when missing)."""
    url = console.rstrip("/")
    if "://" not in url:
        url = "ws://" + url
    url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    if not url.endswith("/ws/lane"):
        url += "/ws/lane"
    return url


def finite_speed(text: str) -> float | None:
    """--speed: a positive factor on real time, or 'max' (as fast as the machine runs)."""
    if text == "max":
        return None
    speed = float(text)
    if not math.isfinite(speed) or speed <= 0:
        raise ValueError(f"--speed {text!r}: a positive number, or max")
    return speed
