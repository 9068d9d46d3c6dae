"""Run a qualification attempt: every string of a course, fired on a lane.

The range timer gives each string a start signal; the shooter (a scripted profile here, an
officer with real replicas on the range) draws and fires; each round or cartridge goes through
the replica, the serial link and PyBullet like a drill's. Shots after the par time are handled
as the course says. A string that a device fault interrupts is reshot once the device is back:
a peripheral fault is never scored as a failure. So is a string during which the officer takes
the headset off (the OpenXR session leaves FOCUSED, `LiveRange.focused`): the range timer stops,
the officer is told the string will be reshot, the lane holds until the headset is back on and
the string is fired again; between strings, the headset off holds the next string's start.

Live, with a headset, `LiveRange.draw` (range/xr/lane.py `LaneHeadset.course_frame`) is handed a
`CourseView` every frame of the range timer and the strings, and the headset is the pose source
(one graphics-bound session); without one (`--headless`), a pose-only session tracks the
replicas and nothing is drawn.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drills.course import DEFAULT_RIFLE_LOAD, FIREARMS, Course, CourseFile, CourseString, Shooter
from drills.events import EventLogError, probe_record
from drills.log import LogRecord, MemoryLog
from peripherals.clock import Clock, ManualClock
from peripherals.emulator import PistolEmulator, RifleEmulator, TaserEmulator, is_emulated
from peripherals.events import PeripheralEvent
from peripherals.messages import CartridgeCode, EventKind, Model, SetMagazine
from physics.animation import SubjectAnimator
from physics.ballistics import fly_bullet, load
from physics.body import Region
from physics.human import HumanPose
from physics.pose import Pose, look_rotation, quat_to_matrix
from physics.targets import TARGETS
from physics.taser import cartridge, fly_probes, laser_lit, prepare
from physics.units import FT_M, IN_M
from physics.world import RangeWorld
from range import __version__
from range.calibration.profiles import (
    CalibrationProfile,
    calibration_for_run,
    default_profiles_dir,
    load_profile,
)
from range.records.store import ATTEMPT_LOG, KEPT_KINDS, OFFICER, Records, attempt_folders
from range.runs.core import FaultPolicy, HeldCtrlC, LiveHands, Trigger, TriggerCollector, lane_frame
from range.runs.lane import Lane, LiveLane, Replica, Weapon
from range.runs.poses import TrackedPoses
from range.runs.runlog import RunWriteError, RunWriter, read_events
from range.runs.saved import (
    RESUMED_LINK,
    SHOOTER_COPY,
    ScriptFile,
    course_source,
    played_label,
    sha256,
)
from range.runs.seeding import RunRandom
from scoring.course import (
    TASER_SUBJECT,
    AttemptScore,
    Deployment,
    Shot,
    judge_deployment,
    judge_shot,
    judged_attempt,
    score_attempt,
)

DT_S = 1 / 90
MUZZLE_HEIGHT_M = 1.4
# A string stops this long after its par time, or when its last round is fired.
OVERTIME_S = 2.0
REPLUG_AFTER_S = 0.3  # the fault drill's cable is out this long
# Why a string was cut, as its `string_faulted` record says (a device fault's names its replicas).
HEADSET_OFF = "headset off (the OpenXR session is not focused)"
TRACKING_LOST = "tracking lost at the shot"
# A trigger's pose waits at most this long for a headset's pose stream to reach it (the stream
# moves on only as frames are drawn): past it, the shot is untracked.
POSE_WAIT_S = 0.5


@dataclass(frozen=True, slots=True)
class CourseConfig:
    course: Course
    shooter: Shooter
    seed: int
    officer_name: str = "scripted"
    firearm_load: str = "9mm-124"
    runs_dir: Path | None = None
    # Fault drill: unplug the replica during this (stage, string) and plug it back in.
    unplug_during: tuple[int, int] | None = None
    # As for drills: refuse replicas without a valid calibration profile unless a range master
    # overrides; what was used is recorded with the attempt.
    require_calibration: bool = False
    calibration_dir: Path | None = None
    override_by: str | None = None
    # The file the course was read from (drills.course.read_course_file): its exact bytes are
    # kept in the attempt's folder and hashed in its records. None: a built-in's file, or the
    # course's model as JSON (range.runs.saved.course_source).
    source: CourseFile | None = None
    # The file `shooter` was read from (`--shooter FILE`; None: a built-in shooter by id): its
    # bytes are kept in the attempt's folder (`shooter.toml`) and hashed into its log, and one
    # that keeps a built-in shooter's id but is not that shooter is named modified (nu24 #6).
    shooter_file: ScriptFile | None = None
    # Called with the attempt's folder as soon as it exists (a lane marks its runs there:
    # range/console/lane.py LANE_MARK).
    on_begin: Callable[[Path], None] | None = None

    @property
    def shooter_label(self) -> str:
        """The scripted shooter as the attempt names it (its log, result.json, the records):
        its id, or `qualified (modified, sha256 1a2b3c4d5e6f)` for a file that keeps a built-in
        shooter's id but is not that shooter."""
        from drills.course import builtin_shooters

        return played_label(self.shooter, self.shooter_file, builtin_shooters())


@dataclass(slots=True)
class AttemptResult:
    config: CourseConfig
    score: AttemptScore
    shots: list[Shot] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    reshot: list[tuple[int, int]] = field(default_factory=list)
    devices: list[dict[str, str]] = field(default_factory=list)
    calibration: list[dict[str, Any]] = field(default_factory=list)
    run_dir: Path | None = None
    qualification: int | None = None  # the record's id, when the attempt was recorded
    # A scripted shooter fired it (no live officer): a simulation, never a qualification.
    simulated: bool = True

    def as_json(self) -> dict[str, Any]:
        """result.json, and `course run --json`: `score` is scoring.course.judged_attempt's
        shape, the one `score --json` gives when the attempt is rescored."""
        return {
            "openrange_version": __version__,
            "course": self.config.course.id,
            "shooter": self.config.shooter_label,
            "officer_name": self.config.officer_name,
            "seed": self.config.seed,
            "devices": self.devices,
            "calibration": self.calibration,
            "reshot": [list(k) for k in self.reshot],
            "score": judged_attempt(self.score, self.simulated),
            "simulated": self.simulated,
            "run_dir": None if self.run_dir is None else str(self.run_dir),
            "qualification": self.qualification,
        }


def _link_earlier_parts(earlier: list[str], attempt: int, folder: str) -> None:
    """Tell each earlier part's folder where the attempt was resumed, so that scoring it
    rescores the whole attempt; a folder gone or read-only since is left as it is (the
    resumed part still names it)."""
    text = json.dumps({"attempt": attempt, "resumed_in": folder}, indent=2) + "\n"
    for part in earlier:
        with contextlib.suppress(OSError):
            (Path(part) / RESUMED_LINK).write_text(text, encoding="utf-8")


def _keep_shot(records: Records, attempt: int, record: LogRecord) -> None:
    if record.kind in KEPT_KINDS:
        records.record_shot(attempt, {"kind": record.kind, **record.data})


def _reconciled(records: Records, attempt: int, kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An interrupted attempt's kept records, made whole from its last part's event log.

    Each record is written to the part's events.jsonl first and then to the records (the log
    is the run writer's, the first sink; `_keep_shot` the next), so the process dying between
    the two leaves the log a record ahead: a `string_ended` logged and not kept would have the
    resume reshoot a string that was finished. The log is authoritative for what was fired and
    ended: its records beyond the kept ones are kept now, before the resume works out what
    was done. (Writing the records' row first instead would leave, after such a crash, a shot
    or a string's end in the qualification record that the attempt's own log, the one rescored
    and replayed, never had.) Only the last part can be behind: an earlier one was made whole
    when the part after it began. A part whose log is gone or damaged, or that does not begin
    with what was kept, is left as the records have it."""
    parts = [n for n, row in enumerate(kept) if row.get("kind") == ATTEMPT_LOG]
    if not parts:
        return kept
    last = parts[-1]
    try:
        logged = [
            {"kind": r.kind, **r.data}
            for r in read_events(Path(str(kept[last]["run_dir"])))
            if r.kind in KEPT_KINDS
        ]
    except (OSError, EventLogError):
        return kept
    recorded = [row for row in kept[last + 1 :] if row.get("kind") in KEPT_KINDS]

    def key(row: dict[str, Any]) -> tuple[object, object, object]:
        return row.get("kind"), row.get("stage"), row.get("string")

    if len(logged) <= len(recorded) or [key(r) for r in logged[: len(recorded)]] != [
        key(r) for r in recorded
    ]:
        return kept
    for row in logged[len(recorded) :]:
        records.record_shot(attempt, row)
    return [*kept, *logged[len(recorded) :]]


def _resumed(
    strings: list[tuple[int, int]], kept: list[dict[str, Any]], result: AttemptResult
) -> tuple[set[tuple[int, int]], tuple[int, int] | None]:
    """From an incomplete attempt's kept records: the strings it finished (their shots go
    into `result`; not one a device fault left for a reshoot, fired again), and the string
    the crash cut (None: it came between strings, or before a shot). A string is finished when
    its `string_ended` is kept; one that fired and has none was cut. Attempts kept before
    strings' ends were (no `string_ended` at all) take the last string that fired as cut."""
    order = {key: n for n, key in enumerate(strings)}
    fired = [(r["stage"], r["string"]) for r in kept if r.get("kind") in ("shot", "deployment")]
    ended = {(int(r["stage"]), int(r["string"])) for r in kept if r.get("kind") == "string_ended"}
    if not fired and not ended:
        return set(), None
    # A string that a second device fault left for a reshoot is fired again now.
    left: set[tuple[int, int]] = set()
    for r in kept:
        if r.get("kind") not in KEPT_KINDS:
            continue  # where a part was logged (ATTEMPT_LOG)
        key = (int(r["stage"]), int(r["string"]))
        if r.get("kind") == "string_faulted" and not r.get("reshoot", True):
            left.add(key)
        elif r.get("kind") in ("shot", "deployment", "string_ended"):
            left.discard(key)
    cut: tuple[int, int] | None
    if ended:  # not one a second fault left: it was not cut by the crash, only fired again
        unfinished = [key for key in fired if key not in ended and key not in left]
        cut = max(unfinished, key=lambda key: order[key]) if unfinished else None
        done = {key for key in strings if key in ended and key not in left}
    else:
        last = max(fired, key=lambda key: order[key])
        cut = last
        done = {key for key in strings if order[key] < order[last] and key not in left}
    shots: list[Shot] = []
    deployments: list[Deployment] = []
    for r in kept:
        if r.get("kind") not in ("shot", "deployment", "string_faulted"):
            continue
        key = (int(r["stage"]), int(r["string"]))
        if r.get("kind") == "string_faulted":  # its shots before the fault were not scored
            shots = [s for s in shots if (s.stage, s.string) != key]
            deployments = [d for d in deployments if (d.stage, d.string) != key]
        elif key in done and r.get("kind") == "shot":
            shots.append(Shot(r["stage"], r["string"], r["t_s"], r["zone"], r["points"]))
        elif key in done and r.get("kind") == "deployment":
            deployments.append(
                Deployment(r["stage"], r["string"], r["t_s"], r["effective"], r["reason"])
            )
    result.shots.extend(shots)
    result.deployments.extend(deployments)
    return done, cut


STOPPAGE_CLEAR_S = 1.5  # tap, rack, back on target


def shooter_plan(string: CourseString, shooter: Shooter) -> list[tuple[float, str]]:
    """What the shooter does, and when, from the string's start signal: draw, press (the
    trigger), reload, induce (the instructor's stoppage), clear and switch (the pistol to the
    other hand, inside the string)."""
    plan = [(shooter.reaction_s, "draw")]
    t = shooter.reaction_s + getattr(shooter.draw_s, string.start)
    half = string.shots // 2 if string.reload else string.shots
    for i in range(string.shots):
        if string.reload and i == half:
            plan.append((t - shooter.split_s, "reload"))
            t += shooter.reload_s
        if string.switch_hand_after is not None and i == string.switch_hand_after:
            plan.append((t - shooter.split_s, "switch"))
            t += shooter.hand_switch_s
        if string.stoppage and i == 1:
            plan.append((t - shooter.split_s / 2, "induce"))
            plan.append((t, "press"))  # a click: the stoppage
            t += STOPPAGE_CLEAR_S
            plan.append((t - shooter.split_s, "clear"))
        plan.append((t, "press"))
        t += shooter.split_s
    return plan


@dataclass(frozen=True, slots=True)
class CourseView:
    """What a live course's headset draws this frame (range/xr/lane.py
    `LaneHeadset.course_frame`): the course's range, the string's target (or TASER subject)
    downrange at its distance, the range timer's phase ("standby" before the start signal,
    "go" from it) and `t_rel` string time since it, the TASER subject's placement
    (x, y metres, yaw radians, skeleton pose; None for a firearm string), the attempt's log so
    far (its shots and deployments are drawn where physics put them), the replica that fires
    the string (`serial`) and the calibration profiles its muzzle is drawn through, and the
    host time `now_s`."""

    course: Course
    stage: int
    string: int
    spec: CourseString
    distance_m: float
    phase: str
    t_rel: float
    subject: tuple[float, float, float, HumanPose | None] | None
    records: Sequence[LogRecord]
    serial: str | None
    profiles: Mapping[str, CalibrationProfile | None]
    now_s: float


@dataclass(slots=True)
class LiveRange:
    """An officer on the range with real replicas: their serial ports, the pose source that
    tracks them (OpenXR), the host clock both stamp on, and the range timer's voice."""

    ports: list[str]
    poses: TrackedPoses | None  # None until `open_headset` fills it in
    clock: Clock
    say: Callable[[str], None]
    rng: np.random.Generator
    standby_s: tuple[float, float] = (1.0, 3.0)  # a range timer's random start delay
    search: list[Path] = field(default_factory=list)  # where replugged replicas may register
    # With a headset: draws each frame of the range timer and the strings (range/xr/lane.py
    # `LaneHeadset.course_frame`, which is then also `poses`); None: a pose-only session.
    draw: Callable[[CourseView], None] | None = None
    # Whether the officer has the headset on (the OpenXR session is FOCUSED), asked once a
    # frame: while it says no, a string under way is cut and reshot, and the next string's
    # start is held (`_hold_while_off`). None: never asked (a range with no headset session).
    focused: Callable[[], bool] | None = None
    # Opens the headset (filling in `poses`, `draw` and `focused`) once the replicas have passed
    # the calibration check, as a live drill does: an uncalibrated replica is refused before
    # an OpenXR runtime is looked for. None: `poses` is given already (a test's).
    open_headset: Callable[[], None] | None = None


def run_course(
    config: CourseConfig,
    progress: Callable[[int, int], None] | None = None,
    records: Records | None = None,
    badge: str | None = None,
    live: LiveRange | None = None,
    resume: int | None = None,
    on_record: Callable[[LogRecord], None] | None = None,
    on_attempt: Callable[[int], None] | None = None,
    on_end: Callable[[], None] | None = None,
) -> AttemptResult:
    """Fire the whole course: the scripted shooter on emulated replicas, or with `live` an
    officer on real ones. With `records` and `badge`, the attempt is recorded as it goes:
    every shot is kept when it is fired, and the finished attempt joins the audit chain.
    With `resume` (an incomplete attempt's id), the strings it finished are kept and the rest
    fired, from the string a crash cut (reshot, as after a device fault). `on_record` sees
    every log record as it is written (the console's live lane, range/console/courselane.py);
    an exception it raises stops the attempt there. `on_attempt` is told the attempt's number
    in the records once it is begun or resumed (what a Ctrl-C's `--resume` names). `on_end`
    is called once every string has been fired, before the attempt is scored, its log ended
    and its record closed: the CLI holds a Ctrl-C from then on (range/cli/util.py CtrlC), so
    a finished attempt is never left in progress."""
    course = config.course
    random = RunRandom(config.seed)
    aim_rng, physics_rng = random.stream("shooter"), random.stream("physics")
    strings = [(i, j) for i, stage in enumerate(course.stages) for j in range(len(stage.strings))]
    result = AttemptResult(config, score_attempt(course), simulated=live is None)
    with ExitStack() as stack:
        lane: Lane | LiveLane
        if live is None:
            port_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="or-")))
            clock = ManualClock()
            lane = Lane(clock, port_dir)
            stack.callback(lane.close)
            # Only the replicas the course fires: a TASER course's records list no pistol.
            fired = {s.weapon for stage in course.stages for s in stage.strings}
            scripted: dict[str, Replica] = {}
            if "pistol" in fired:
                scripted["pistol"] = lane.add(
                    PistolEmulator("SIM-PISTOL-0001", clock, directory=port_dir), Weapon.FIREARM
                )
            if fired - set(FIREARMS):
                scripted["taser"] = lane.add(
                    TaserEmulator(Model.TASER_7, "SIM-TASER-0001", clock, directory=port_dir),
                    Weapon.TASER,
                )
            if "rifle" in fired:
                # The patrol-rifle replica (30-round magazine, selector), only where the course
                # fires it: a pistol course's lane and records stay as they were.
                scripted["rifle"] = lane.add(
                    RifleEmulator("SIM-RIFLE-0001", clock, directory=port_dir), Weapon.FIREARM
                )
        else:
            lane = LiveLane(live.clock, live.ports, live.search).open()
            stack.callback(lane.close)
            _check_weapons(course, lane)
            folder = config.calibration_dir or default_profiles_dir()
            profiles = {
                r.serial: load_profile(folder, r.serial, model=r.model.slug, emulated=r.emulated)
                for r in lane.replicas
            }
        result.devices = [
            {"model": d.model.slug, "serial": d.serial, "firmware": d.firmware}
            for d in lane.devices()
            if _fires(course, d.model)
        ]
        result.calibration = calibration_for_run(
            [d["serial"] for d in result.devices],
            required=config.require_calibration or live is not None,
            folder=config.calibration_dir,
            override_by=config.override_by,
            reported={
                d["serial"]: (d["model"], is_emulated(d["firmware"])) for d in result.devices
            },
        )
        if live is not None and live.open_headset is not None:
            live.open_headset()
        # The attempt's folder once its replicas have passed: a refused lane leaves none.
        copy_name, copy = course_source(course, config.source)
        writer = RunWriter(config.runs_dir, course.id) if config.runs_dir else None
        if writer is not None:
            stack.callback(writer.close)
            writer.keep(copy_name, copy)
            if config.shooter_file is not None and live is None:
                writer.keep(SHOOTER_COPY, config.shooter_file.content)
            if config.on_begin is not None:
                config.on_begin(writer.path)
        log = MemoryLog(writer) if writer is not None else MemoryLog()
        if on_record is not None:
            log.attach(on_record)
        log_t0 = 0.0 if live is None else live.clock.now_s()
        log.emit(
            log_t0,
            "attempt_started",
            course=course.id,
            course_sha256=sha256(copy),
            course_file=None if config.source is None else str(config.source.path),
            shooter=config.shooter_label if live is None else OFFICER,
            **(
                {
                    "shooter_sha256": config.shooter_file.sha256,
                    "shooter_file": str(config.shooter_file.path),
                }
                if config.shooter_file is not None and live is None
                else {}
            ),
            officer_name=config.officer_name,
            **({"badge": badge} if records is not None and badge is not None else {}),
            seed=config.seed,
            devices=result.devices,
            calibration=result.calibration,
            calibration_override_by=(
                config.override_by if config.require_calibration or live is not None else None
            ),
            openrange_version=__version__,
        )
        record_id = None
        # A scripted shooter's attempt is a simulation: recorded as such, never qualified.
        shooter_id = config.shooter_label if live is None else OFFICER
        done: set[tuple[int, int]] = set()
        if resume is not None and (records is None or badge is None):
            raise ValueError("resuming an attempt needs its records and --badge")
        if records is not None and badge is not None:
            earlier: list[str] = []
            cut: tuple[int, int] | None = None
            # A Ctrl-C waits until the attempt is begun and its number told (`on_attempt`): the
            # line it ends with then gives its `--resume`, never an attempt left unsaid (rc19 #5).
            held = stack.enter_context(HeldCtrlC())
            if resume is not None:
                kept = records.resume_attempt(
                    resume, badge, course.id, sha256(copy), shooter=shooter_id, fired=course
                )
                kept = _reconciled(records, resume, kept)
                done, cut = _resumed(strings, kept, result)
                earlier = attempt_folders(kept)
                started = resume
            else:
                started = records.begin_attempt(
                    badge,
                    course.id,
                    config.seed,
                    __version__,
                    result.devices,
                    calibration=result.calibration,
                    course_sha256=sha256(copy),
                    shooter=shooter_id,
                )
            record_id = started
            if on_attempt is not None:
                on_attempt(started)
            held.deliver()
            log.attach(lambda record: _keep_shot(records, started, record))
            if writer is not None:
                # Where this part's log is, kept with the attempt: a resume finds the earlier
                # parts from it, and the record says which folders hold the whole attempt.
                logged_in = str(writer.path.resolve())
                records.record_shot(started, {"kind": ATTEMPT_LOG, "run_dir": logged_in})
                log.emit(
                    log_t0,
                    "attempt_recorded",
                    attempt=started,
                    part=len(earlier) + 1,
                    earlier_logs=earlier,
                    kept_strings=[list(k) for k in strings if k in done],
                    cut=None if cut is None else list(cut),
                )
                _link_earlier_parts(earlier, started, logged_in)
            if cut is not None:
                log.emit(
                    log_t0,
                    "string_faulted",
                    stage=cut[0],
                    string=cut[1],
                    reshoot=True,
                    reason="attempt resumed after a crash",
                )
                result.reshot.append(cut)
        t0 = 0.0 if live is None else live.clock.now_s()
        faulted: list[tuple[int, int]] = []
        for n, (i, j) in enumerate(strings):
            if (i, j) in done:
                continue  # fired before the crash: kept in the records
            string = course.stages[i].strings[j]
            unplug = config.unplug_during == (i, j)
            for try_no in range(2):  # a faulted string is fired once more
                hands: ScriptedShooterHands | LiveShooter
                if isinstance(lane, Lane):
                    replica = scripted[string.weapon if string.weapon in FIREARMS else "taser"]
                    hands = ScriptedShooterHands(
                        config, string, replica, lane, aim_rng, unplug and try_no == 0
                    )
                else:
                    assert live is not None
                    assert live.poses is not None  # opened with the headset, before any string
                    hands = LiveShooter(string, live.poses, profiles)
                cut_by, t0 = _fire_string(
                    course, config, i, j, string, lane, hands, t0, log, result, physics_rng, live
                )
                if cut_by is None:
                    break
                log.emit(
                    t0, "string_faulted", stage=i, string=j, reshoot=try_no == 0, reason=cut_by
                )
                result.reshot.append((i, j))
                result.shots = [s for s in result.shots if (s.stage, s.string) != (i, j)]
                result.deployments = [
                    d for d in result.deployments if (d.stage, d.string) != (i, j)
                ]
            else:
                faulted.append((i, j))
            if progress is not None:
                progress(n + 1, len(strings))
        if on_end is not None:
            on_end()
        result.score = score_attempt(course, result.shots, result.deployments, faulted)
        failed: list[RunWriteError] = []

        def seal(qualification: int | None) -> None:
            """End the log (and write result.json), naming the record it is kept as. A log
            that cannot be written fails the run once the record is safe (`failed`)."""
            result.qualification = qualification
            log.emit(
                t0,
                "attempt_ended",
                points=result.score.points,
                hits=result.score.hits,
                passed=result.score.passed,
                complete=result.score.complete,
                qualification=result.qualification,
            )
            if writer is not None:
                result.run_dir = writer.path
                try:
                    writer.finish(result.as_json(), result)
                except RunWriteError as exc:
                    failed.append(exc)

        if records is not None and record_id is not None:
            # The record keeps the score in result.json's shape (judged_attempt), as the
            # console's lanes record it, and each part's log sha256 once `seal` ended it.
            judged = judged_attempt(result.score, result.simulated)
            records.finish_attempt(record_id, judged, course=course, seal=seal)
        else:
            seal(None)
        if failed:
            raise failed[0]
    return result


def _fires(course: Course, model: Model) -> bool:
    """Whether the course fires this replica's model: its record lists only those (a live lane
    may hold a pistol beside the TASER a TASER course fires)."""
    fired = {s.weapon for stage in course.stages for s in stage.strings}
    if model is Model.PISTOL:
        return "pistol" in fired
    if model is Model.PATROL_RIFLE:
        return "rifle" in fired
    return bool(fired - set(FIREARMS))


def _lane_weapon(string: CourseString) -> Weapon:
    """Which of the lane's weapons fires a string: the firearm (the course file names the
    pistol replica) or the TASER (it names the TASER's model)."""
    return Weapon.FIREARM if string.weapon in FIREARMS else Weapon.TASER


def string_load(string: CourseString, pistol_load: str) -> str:
    """The load a firearm string fires: its own, else the run's pistol load for a pistol
    string or the patrol rifle's duty load (DEFAULT_RIFLE_LOAD) for a rifle string."""
    if string.load is not None:
        return string.load
    return DEFAULT_RIFLE_LOAD if string.weapon == "rifle" else pistol_load


def _check_weapons(course: Course, lane: LiveLane) -> None:
    """Every weapon the course fires must be on the lane before the first string."""
    needed = {_lane_weapon(s): s.weapon for stage in course.stages for s in stage.strings}
    rifle = any(s.weapon == "rifle" for stage in course.stages for s in stage.strings)
    if rifle and not any(r.model is Model.PATROL_RIFLE for r in lane.replicas):
        needed[Weapon.FIREARM] = "rifle"
    for weapon, named in sorted(needed.items()):
        have = lane.replica(weapon) is not None
        if named == "rifle":
            have = any(r.model is Model.PATROL_RIFLE for r in lane.replicas)
        if not have:
            found = ", ".join(f"{r.model.slug} {r.serial}" for r in lane.replicas) or "none"
            raise ValueError(
                f"{course.id} has {named} strings but no such replica is on the given ports"
                f" (found: {found}): add its --port"
            )


class ScriptedShooterHands:
    """The scripted shooter profile on emulated replicas: loads them as the range officer
    would, draws, presses and reloads on its plan, and aims with its profile's error."""

    def __init__(
        self,
        config: CourseConfig,
        string: CourseString,
        replica: Replica,
        lane: Lane,
        aim_rng: np.random.Generator,
        unplug: bool,
    ) -> None:
        self.string, self.replica, self.lane = string, replica, lane
        self.emulator = replica.emulator
        self.plan = shooter_plan(string, config.shooter)
        self.last_press = max(at for at, act in self.plan if act == "press")
        self.end_s = max(self.last_press, string.par_time_s) + OVERTIME_S
        self.shooter = config.shooter
        self.aim_rng = aim_rng
        self.unplug = unplug
        self.step = 0
        self.pulled = 0
        self.flown = 0  # rounds whose muzzle was asked for: the next one's hand
        self.aim = np.zeros(3)

    def ready(self, aim: np.ndarray) -> None:
        self.aim = aim
        emulator, string = self.emulator, self.string
        if isinstance(emulator, PistolEmulator):
            per_magazine = (string.rounds + 1) // 2 if string.reload else string.rounds
            # The range officer hands over a loaded pistol: a round chambered, the rest in the
            # magazine (the instructor's SET_MAGAZINE on a real replica).
            emulator.magazine_in, emulator.rounds, emulator.chambered = True, per_magazine - 1, True
            emulator.slide_locked = emulator.stoppage = False
        elif isinstance(emulator, TaserEmulator):
            code = CartridgeCode[str(string.cartridge).upper().replace("-", "_")]
            emulator.bays = [(code, 2)] * emulator.spec.bays

    def frame(self, t_rel: float) -> None:
        emulator, plan = self.emulator, self.plan
        while self.step < len(plan) and t_rel >= plan[self.step][0] - 1e-9:
            act = plan[self.step][1]
            self.step += 1
            if act == "draw":
                emulator.draw()
                if isinstance(emulator, (TaserEmulator, RifleEmulator)):
                    emulator.set_safety(False)  # the TASER's safety, the rifle's selector
            elif act == "press":
                emulator.press_trigger()
                self.replica.release_next_frame = True
                self.pulled += 1
            elif act == "reload" and isinstance(emulator, PistolEmulator):
                emulator.reload(self.string.rounds // 2)
            elif (
                act == "induce"
                and isinstance(emulator, PistolEmulator)
                and self.replica.link is not None
            ):
                self.replica.link.command(SetMagazine(True, emulator.rounds, True, stoppage=True))
            elif act == "clear" and isinstance(emulator, PistolEmulator):
                emulator.clear_stoppage()
        if self.unplug and self.pulled == 1:
            self.unplug = False
            self.lane.pull_cable(self.replica, REPLUG_AFTER_S)

    def next_act_s(self) -> float | None:
        """When the plan's next act is due (string time), None when all are done."""
        return self.plan[self.step][0] if self.step < len(self.plan) else None

    def muzzle(self, event: PeripheralEvent) -> Pose:
        sigma = aim_sigma_rad(self.string, self.shooter, self.flown)
        self.flown += 1
        return _aimed(self.aim, sigma, self.aim_rng)

    def done(self, t_rel: float, fired: int) -> bool:
        return self.step == len(self.plan) and t_rel > self.last_press + 0.2

    def finish(self) -> None:
        if isinstance(self.emulator, (TaserEmulator, RifleEmulator)):
            self.emulator.set_safety(True)
        self.emulator.holster()


class LiveShooter(LiveHands):
    """An officer firing a string with real replicas (`LiveHands`): the string ends half a
    second after its last round or cartridge, or `OVERTIME_S` after its par time."""

    def __init__(
        self,
        string: CourseString,
        poses: TrackedPoses,
        profiles: dict[str, CalibrationProfile | None],
    ) -> None:
        super().__init__(poses, profiles)
        self.string = string
        self.end_s = string.par_time_s + OVERTIME_S
        self.last_fired: float | None = None
        # With a headset: draws one frame (its pose stream moves on only as frames are drawn).
        self.draw: Callable[[], None] | None = None

    def muzzle(self, event: PeripheralEvent) -> Pose:
        """As `LiveHands.muzzle`; with a headset, frames are drawn until its pose stream
        reaches the trigger's time (POSE_WAIT_S at most: then the shot is untracked)."""
        if self.draw is None:
            return super().muzzle(event)
        deadline = time.monotonic() + POSE_WAIT_S
        while not self.covers(event) and time.monotonic() < deadline:
            self.draw()
        return self.front(event)

    def ready(self, aim: np.ndarray) -> None:
        self.poses.update()

    def done(self, t_rel: float, fired: int) -> bool:
        if fired >= self.string.shots and self.last_fired is None:
            self.last_fired = t_rel
        return self.last_fired is not None and t_rel > self.last_fired + 0.5

    def finish(self) -> None:
        pass


def aim_sigma_rad(string: CourseString, shooter: Shooter, round_index: int) -> float:
    """The scripted shooter's aim error (1 sigma per axis, radians) for round `round_index` of a
    string: larger when the round is fired with the support hand alone."""
    sigma = shooter.aim_error_mrad * 1e-3
    if string.weapon == "rifle":
        sigma *= shooter.rifle_aim_factor
    if string.hand_for(round_index) == "support":
        sigma *= shooter.support_hand_factor
    return sigma


FIRED = (EventKind.SHOT_FIRED, EventKind.PROBES_FIRED)


def _range_timer(
    live: LiveRange,
    lane: LiveLane,
    faults: FaultPolicy,
    i: int,
    j: int,
    string: CourseString,
    show: Callable[[str, float], None],
) -> float:
    """Call the string, STANDBY for a random moment, then the start signal. Shots before it
    are not the string's: they are drained and said. While the headset is off, before the call
    or during STANDBY, the start is held; once it is back on, the string is called again."""
    firearm = string.weapon in FIREARMS
    what = f"{string.rounds} rounds" if firearm else f"{string.cartridges} x {string.cartridge}"
    held = "headset off: the next string starts once it is back on"
    while True:
        _hold_while_off(live, lane, faults, show, live.clock.now_s(), held)
        live.say(
            f"stage {i + 1} string {j + 1}: {string.weapon}, {string.distance_ft_value:g} ft,"
            f" from {string.start.replace('_', ' ')}, {string.hands_text}, {what}, par"
            f" {string.par_time_s:g} s"
        )
        live.say("STANDBY")
        t0 = live.clock.now_s() + float(live.rng.uniform(*live.standby_s))
        while live.clock.now_s() < t0:
            if any(e.kind in FIRED for e in lane.poll()):
                live.say("shot before the start signal: not counted")
            lane.service()
            show("standby", t0)
            if _headset_off(live):
                break  # held above, then called again
            lane.advance_to(min(t0, live.clock.now_s() + DT_S))
        else:
            live.say("BEEP")
            return t0


def _after_cut(live: LiveRange | None, t: float) -> float:
    """When a cut string's `string_faulted` is logged: a simulated run's string time a second
    on (the next string starts then); a live one's host time now, after the wait (the reshoot's
    start signal follows it: a second ahead, a short hold would log it before that)."""
    return t + 1.0 if live is None else live.clock.now_s()


def _headset_off(live: LiveRange | None) -> bool:
    """The officer has taken the headset off: the last frame found the session not FOCUSED."""
    return live is not None and live.focused is not None and not live.focused()


def _hold_while_off(
    live: LiveRange | None,
    lane: Lane | LiveLane,
    faults: FaultPolicy,
    show: Callable[[str, float], None],
    t0: float,
    said: str,
) -> bool:
    """While the headset is off: say `said` once, then hold the lane (the fault policy's
    `wait_focused`) until it is back on, drawing STANDBY frames (string time from t0), keeping
    the links alive, and draining what the replicas send (a shot fired meanwhile is said and
    not counted). True if it held; False at once when the headset is on."""
    if live is None or live.focused is None or not _headset_off(live):
        return False
    clock = live.clock

    def between() -> None:
        show("standby", t0)
        lane.service()
        if any(e.kind in FIRED for e in lane.poll()):
            live.say("shot while the headset is off: not counted")
        lane.advance_to(clock.now_s() + DT_S)

    live.say(said)
    faults.wait_focused(live.focused, between)
    live.say("headset on")
    return True


def _fire_string(
    course: Course,
    config: CourseConfig,
    i: int,
    j: int,
    string: CourseString,
    lane: Lane | LiveLane,
    hands: ScriptedShooterHands | LiveShooter,
    t0: float,
    log: MemoryLog,
    result: AttemptResult,
    physics_rng: np.random.Generator,
    live: LiveRange | None,
) -> tuple[str | None, float]:
    """Fire one string from its start signal at host time t0 (on a live range, the range
    timer's). None when it was fired whole; else what cut it (a device fault such as a pulled
    cable, lost tracking, the headset taken off), and it is reshot: every interruption takes
    this one path and the one fault policy (range/runs/core.py `FaultPolicy`)."""
    distance_m = string.distance_ft_value * FT_M
    with RangeWorld(lane_length_m=max(distance_m + 5.0, 30.0)) as world:
        _add_scene(world, course)
        aim = _set_up_target(world, course, string, distance_m)
        mover = None
        if string.weapon != "pistol" and string.subject_speed_mps > 0:
            mover = PacingSubject(
                world, distance_m, string.subject_speed_mps, config.seed, taser_aim_region(string)
            )
            aim = mover.step(0.0)
        if string.cartridge is not None and string.weapon not in FIREARMS:
            # The cartridge's flight tables and one throw-away deployment in this world (its
            # subject placed) now, before the start signal, not inside the first pull's frame.
            prepare([str(string.cartridge)], world)
        hands.ready(aim)
        show = _viewer(course, i, j, string, distance_m, lane, hands, mover, log, live)
        if isinstance(hands, LiveShooter) and live is not None and live.draw is not None:
            hands.draw = lambda: show("go", t0)
        faults = FaultPolicy(lane)
        if live is not None and isinstance(lane, LiveLane):
            t0 = _range_timer(live, lane, faults, i, j, string, show)
        log.emit(
            t0,
            "string_started",
            stage=i,
            string=j,
            distance_ft=string.distance_ft_value,
            start=string.start,
            par_time_s=string.par_time_s,
        )

        def score(trigger: Trigger, muzzle: Pose) -> None:
            """Fly one round or cartridge from `muzzle`, log what physics found, and judge it
            from that record as a rescore of the log will (scoring/course.py)."""
            local_event = round(trigger.host_time_s - t0, 6)
            if trigger.weapon is Weapon.FIREARM:
                cartridge_load = load(string_load(string, config.firearm_load))
                impact = fly_bullet(world, cartridge_load, muzzle, physics_rng)
                hole = _hole_in(impact.point) if impact.target == "target" else None
                diameter = cartridge_load.bullet_diameter_in
                zone, points = judge_shot(TARGETS[course.target], hole, diameter)
                result.shots.append(Shot(i, j, local_event, zone, points))
                log.emit(
                    trigger.host_time_s,
                    "shot",
                    stage=i,
                    string=j,
                    t_s=local_event,
                    zone=zone,
                    points=points,
                    stopped_by=impact.target,
                    point=[round(v, 5) for v in impact.point],
                    distance_m=round(distance_m, 4),
                    hole_in=hole,
                    bullet_diameter_in=diameter,
                )
                return
            motion = mover.motion(trigger.host_time_s - t0) if mover is not None else None
            laser_on, impacts = _fly_cartridge(course, string, world, muzzle, physics_rng, motion)
            effective, reason = judge_deployment(course.taser, laser_on, impacts)
            result.deployments.append(Deployment(i, j, local_event, effective, reason))
            log.emit(
                trigger.host_time_s,
                "deployment",
                stage=i,
                string=j,
                t_s=local_event,
                effective=effective,
                reason=reason,
                laser_on=laser_on,
                impacts=impacts,
            )

        end = t0 + hands.end_s
        fired = 0
        t, step = t0, 0
        reshoot = f"headset off: stage {i + 1} string {j + 1} will be reshot"
        collector = TriggerCollector()  # a cartridge's probes read over two frames: one pull
        while t <= end:
            if mover is not None:
                aim = mover.step(t - t0)
                if isinstance(hands, ScriptedShooterHands):
                    hands.aim = aim  # the scripted shooter tracks the subject
            show("go", t0)
            # The headset taken off stops the range timer here: held until it is back on.
            if _hold_while_off(live, lane, faults, show, t0, reshoot):
                return HEADSET_OFF, _after_cut(live, t)
            lane.advance_to(t)
            frame = lane_frame(lane, hands, t - t0)
            if frame.silent:
                names = ", ".join(r.serial for r in frame.silent)
                if live is not None:
                    live.say(f"device fault ({names}): the string will be reshot")
                faults.wait_back(frame.silent, lambda: show("standby", t0))
                lane.poll()  # what a re-attached replica sends again belongs to the cut string
                return f"device fault ({names})", _after_cut(live, t)
            for trigger in collector.feed(frame.events, lane.clock.now_s()):
                if trigger.weapon is Weapon.TASER and trigger.event.probe != 0:
                    continue  # a TASER 10's second pull: the cartridge's other probe
                fired += 1
                muzzle = hands.muzzle(trigger.event)
                if not muzzle.usable:
                    log.emit(trigger.host_time_s, "untracked_shot", stage=i, string=j)
                    if live is not None:
                        live.say(f"{TRACKING_LOST}: the string will be reshot")
                    return TRACKING_LOST, _after_cut(live, t)
                score(trigger, muzzle)
            if hands.done(t - t0, fired):
                break
            step, t = _next_frame(t0, step, t, hands)
        hands.finish()
        log.emit(t, "string_ended", stage=i, string=j)
    return None, t + 1.0  # a second between strings


def _next_frame(
    t0: float, step: int, t: float, hands: ScriptedShooterHands | LiveShooter
) -> tuple[int, float]:
    """The string's next frame after the one at host time `t` (`step` engine steps from the
    start signal t0): the next step, counted from t0 rather than summed (a sum drifts), or a
    scripted shooter's next planned act when it falls between the two, so that a round planned
    at the par time is fired, and logged, at the par time, not a step after it."""
    grid = round(t0 + (step + 1) * DT_S, 9)
    planned = hands.next_act_s() if isinstance(hands, ScriptedShooterHands) else None
    if planned is not None and t + 1e-9 < t0 + planned < grid - 1e-9:
        return step, t0 + planned
    return step + 1, grid


def _viewer(
    course: Course,
    i: int,
    j: int,
    string: CourseString,
    distance_m: float,
    lane: Lane | LiveLane,
    hands: ScriptedShooterHands | LiveShooter,
    mover: PacingSubject | None,
    log: MemoryLog,
    live: LiveRange | None,
) -> Callable[[str, float], None]:
    """`show(phase, t0)`: draw the string as it is now in a live range's headset (a frame of
    `LiveRange.draw`, string time from the start signal at host time t0); without a headset,
    nothing."""
    if live is None or live.draw is None or not isinstance(lane, LiveLane):
        return lambda phase, t0: None
    draw, clock = live.draw, live.clock
    replica = lane.replica(_lane_weapon(string))
    serial = replica.serial if replica is not None else None
    profiles = hands.profiles if isinstance(hands, LiveShooter) else {}

    def show(phase: str, t0: float) -> None:
        subject: tuple[float, float, float, HumanPose | None] | None = None
        if string.weapon not in FIREARMS:
            subject = mover.placed if mover is not None else (distance_m, 0.0, math.pi, None)
        now = clock.now_s()
        view = CourseView(
            course, i, j, string, distance_m, phase, now - t0, subject, log.records, serial,
            profiles, now,
        )  # fmt: skip
        draw(view)

    return show


def target_point(course: Course, string: CourseString) -> tuple[float, float, float]:
    """Where a string's shooter aims, in the lane's physics frame (the firing line at the
    origin): the best zone of the course's target, or for a TASER the abdomen of the string's
    subject (its thigh if visibly pregnant)."""
    distance_m = string.distance_ft_value * FT_M
    if string.weapon in FIREARMS:
        target = TARGETS[course.target]
        best = max(target.zones, key=lambda z: z.points)
        u, v = target.aim_point(best.name)
        return (distance_m, -u * IN_M, MUZZLE_HEIGHT_M + v * IN_M)
    lx, ly, lz = string.subject.body().aim_point(taser_aim_region(string))
    return (distance_m - lx, -ly, lz)


def taser_aim_region(string: CourseString) -> Region:
    """Where a TASER string's shooter aims on its subject: the abdomen; a visibly pregnant
    subject's abdomen is a zone to avoid (facts.md §5), so the thigh instead."""
    return Region.LEG if string.subject.pregnant else Region.ABDOMEN


def _set_up_target(
    world: RangeWorld, course: Course, string: CourseString, distance_m: float
) -> np.ndarray:
    """Put the string's target (or the TASER's subject) downrange; the aim from the muzzle."""
    if string.weapon in FIREARMS:
        world.add_target("target", TARGETS[course.target], distance_m, MUZZLE_HEIGHT_M)
    else:
        world.add_subject(TASER_SUBJECT, string.subject.body(), (distance_m, 0.0, 0.0), math.pi)
    aim: np.ndarray = np.subtract(target_point(course, string), (0.0, 0.0, MUZZLE_HEIGHT_M))
    return aim


def _add_scene(world: RangeWorld, course: Course) -> None:
    """The course's cover and props on the lane, as a drill's (range/runs/drill.py)."""
    for cover in course.scene.cover:
        world.add_cover(
            cover.name,
            (cover.x_ft * FT_M, cover.y_ft * FT_M, 0.0),
            (cover.depth_ft * FT_M, cover.width_ft * FT_M, cover.height_ft * FT_M),
        )
    world.add_prop(course.scene.prop_parts())


PACE_HALF_WIDTH_M = 1.5  # a pacing subject turns 1.5 m either side of the firing line (chosen)


class PacingSubject:
    """A TASER string's subject pacing across the lane at `speed_mps` at `distance_m`: from the
    shooter's left (+Y) to the right and back, PACE_HALF_WIDTH_M either side of the line,
    facing where it walks, animated as a drill subject is (physics.animation) from the
    course's seed. `step(t)` moves it to string time t and gives the aim at its abdomen from
    the muzzle; `motion(t)` its motion over a probe's flight (RangeWorld.cast_moving)."""

    def __init__(
        self,
        world: RangeWorld,
        distance_m: float,
        speed_mps: float,
        seed: int,
        aim: Region = Region.ABDOMEN,
    ) -> None:
        self.world, self.x_m, self.speed_mps = world, distance_m, speed_mps
        self.animator = SubjectAnimator(seed)
        body = world.body(TASER_SUBJECT)
        self.skeleton = body.skeleton()
        self.aim_z_m = body.aim_point(aim)[2]  # the height aimed at, on its midline
        # Where it is now, as a headset draws it: x, y metres, yaw radians, skeleton pose.
        self.placed: tuple[float, float, float, HumanPose | None] = (
            distance_m, PACE_HALF_WIDTH_M, -math.pi / 2, None,
        )  # fmt: skip

    def place(self, t_rel: float) -> tuple[float, float]:
        """(lateral y metres, yaw radians) at string time `t_rel`."""
        half = PACE_HALF_WIDTH_M
        s = (self.speed_mps * max(t_rel, 0.0)) % (4 * half)
        if s < 2 * half:
            return half - s, -math.pi / 2  # walking to the shooter's right (-Y)
        return s - 3 * half, math.pi / 2

    def step(self, t_rel: float) -> np.ndarray:
        y, yaw = self.place(t_rel)
        pose = self.animator.update(
            TASER_SUBJECT,
            t_rel,
            (self.x_m, y),
            yaw,
            "active_resistance",
            "standing",
            "none",
            self.skeleton,
        )
        self.world.pose_subject(TASER_SUBJECT, pose, (self.x_m, y, 0.0), yaw)
        self.placed = (self.x_m, y, yaw, pose)
        aim: np.ndarray = np.array([self.x_m, y, self.aim_z_m - MUZZLE_HEIGHT_M])
        return aim

    def motion(self, t_rel: float) -> Callable[[float, frozenset[str]], None]:
        return self.animator.motion(self.world, t_rel)


def _aimed(direction: np.ndarray, sigma_rad: float, rng: np.random.Generator) -> Pose:
    rot = quat_to_matrix(look_rotation(direction))
    yaw, pitch = np.tan(rng.normal(0.0, sigma_rad, size=2))
    aimed = rot @ np.array([1.0, yaw, pitch])
    return Pose((0.0, 0.0, MUZZLE_HEIGHT_M), look_rotation(aimed))


def _hole_in(point: tuple[float, float, float]) -> list[float]:
    """Where a round holed the string's target, (right, up) inches from its centre: the target
    faces the firing line at lateral 0 and muzzle height (`_set_up_target`); the shooter's
    right is world -Y."""
    return [round(-point[1] / IN_M, 4), round((point[2] - MUZZLE_HEIGHT_M) / IN_M, 4)]


def _fly_cartridge(
    course: Course,
    string: CourseString,
    world: RangeWorld,
    muzzle: Pose,
    rng: np.random.Generator,
    motion: Callable[[float, frozenset[str]], None] | None = None,
) -> tuple[str | None, list[dict[str, Any]]]:
    """What one cartridge's laser lit at the trigger, and its probes' impact records (none
    flown when the course needs the laser on the subject and it was not)."""
    cart = cartridge(str(string.cartridge))
    laser_on = laser_lit(world, cart, muzzle)
    if course.taser.laser_on_target and laser_on != TASER_SUBJECT:
        return laser_on, []
    return laser_on, [probe_record(i) for i in fly_probes(world, cart, muzzle, rng, motion)]
