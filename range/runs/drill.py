"""One drill run, wired through the same path real hardware takes (the run core,
`range.runs.core`, shared with courses of fire).

Replicas (emulated behind real ptys, or real ones) -> pyserial -> host link -> peripheral events
stamped in host time -> weapon pose at that time -> PyBullet probe or bullet flight -> drill
engine -> event log -> scorer.

Two modes, one frame (`range.runs.core.lane_frame`) and one firing path:
- simulated (`RunConfig.live` None): a scripted officer on emulated replicas, lock-step. Time is
  steps x dt on a manual clock and each frame ends with a PING barrier on every link, so the run
  is deterministic from its seed.
- live (`LiveDrill`): an officer's replicas on serial ports, on the real clock. The engine steps
  at its fixed rate on that clock, however often frames come (a renderer's rate is its own), and
  nobody waits for a barrier; each trigger event is resolved at its own host time on the pose
  history. A faulted replica suspends the drill and freezes its clock.
"""

from __future__ import annotations

import functools
import gc
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from drills.engine import TASER_CYCLE_S, DrillEngine, OfficerAction, RunState, SubjectState
from drills.log import LogRecord, MemoryLog, run_started
from drills.officer import Act, Intent, OfficerScript, ScriptedOfficer, script_weapons
from drills.schema import Drill, DrillFile
from drills.speech import PHRASES_FILE, PhraseBook, acts_in_text, builtin_phrasebook
from drills.threat import Behaviour
from peripherals.clock import Clock, ManualClock
from peripherals.driver import DeviceInfo
from peripherals.emulator import TASER_SPECS, PistolEmulator, TaserEmulator, is_emulated
from peripherals.events import PeripheralEvent
from peripherals.messages import CartridgeCode, EventKind, Model, StateFlags
from physics.animation import FALL_S, SubjectAnimator
from physics.ballistics import BulletImpact, load
from physics.body import Region, SubjectBody
from physics.human import HumanPose, Skeleton
from physics.penetration import Strike, fly_through
from physics.pose import Pose
from physics.taser import (
    DRIVE_STUN_MODELS,
    Circuit,
    Effect,
    ProbeImpact,
    cartridge,
    circuit_for,
    deployment_motion,
    fly_probes,
    prepare,
)
from physics.units import FT_M
from physics.world import REGIONS, RangeWorld
from range import __version__
from range.calibration.profiles import (
    calibration_for_run,
    default_profiles_dir,
    load_profile,
)
from range.runs.core import (
    FAULT_AFTER_S,
    FaultPolicy,
    Hands,
    HeldCtrlC,
    LiveHands,
    Suspensions,
    Trigger,
    TriggerCollector,
    lane_frame,
    muzzle_record,
)
from range.runs.lane import Attached, Lane, LiveLane, LiveReplica, Replica, Weapon, weapon_of
from range.runs.policyfile import POLICY_COPY, PolicySource, policy_in_effect
from range.runs.poses import POSE_WAIT_S, ScriptedPoses, TrackedPoses
from range.runs.runlog import RunWriter, keep_file
from range.runs.saved import OFFICER_COPY, ScriptFile, drill_source, played_label, sha256
from range.runs.seeding import RunRandom
from range.runs.voice import VOICE_FILE, LiveVoice, TrackVoice
from range.voice.audio import Pcm
from scoring.policy import Policy
from scoring.score import Score, score_run

Progress = Callable[[float, float, str], None]
# How far down the bore a weapon counts as pointed at someone.
POINTING_RANGE_M = 30.0
# A brisk tactical walk to cover.
OFFICER_WALK_MPS = 1.5
# Probe wires are checked against the body only once the subject's feet are within this of
# the wire's reach from the device: no point of a body is farther than this from its feet.
SUBJECT_REACH_M = 2.0
DEVICE_HEIGHT_M = 1.0  # a holstered or lowered TASER, for the wire check
# A live run that fell behind (a long GC pause, a swapped-out process) catches up at most this
# many engine steps in one frame, then lets the rest go: subjects never teleport.
MAX_CATCH_UP_STEPS = 8
# A live drive-stun: the TASER's front touches a body when the body's surface is within this
# of the front along the bore (a design value: the electrodes pressed on, through clothing's
# give), looked for from this far behind the front (a front pushed into the body's surface).
DRIVE_STUN_CONTACT_M = 0.05
FRONT_BACK_M = 0.08
# A live run's log is written in time order (drills/log.py `MemoryLog.hold`): a record is held
# back until nothing earlier can still come, and a replica's event is read up to this long
# after the time it is stamped with (its device time mapped to host time; the serial link and
# the reader thread), a design bound: a few ms over USB, a frame or two on a loaded host.
EVENT_READ_LAG_S = 0.02
# ...and a run that sees a replica's event read later than that waits as long as the latest it
# has seen (a host loaded by other work: one late read, then the log stays in order), up to
# this: half of how far back a log may step before a reader takes it as edited
# (drills.events.T_BACKWARDS_TOLERANCE_S, 0.5 s).
EVENT_READ_LAG_MAX_S = 0.25
# Why a run a range master stopped with Ctrl-C ended: it is closed (run_ended, result.json) as
# ABORTED, never lost, never graded (docs/records.md).
STOPPED = "stopped by the range master with Ctrl-C"  # no brackets: said inside some


@dataclass(slots=True)
class LiveDrill:
    """An officer on the range with replicas on serial `ports` (real ones, or emulators running
    free on ptys), the pose source that tracks them, and the host clock both stamp on.

    `open_poses` opens the pose source (OpenXR, or a test's) once the replicas have passed the
    calibration check, entering it on the run's exit stack: a refused replica is named before
    anything is asked of the headset. `focused` says whether the officer has the headset on
    (the OpenXR session is FOCUSED): while it says no, the drill is suspended with its clock
    frozen. `on_start` is called as the drill's clock
    starts (the officer's GO)."""

    ports: list[str]
    open_poses: Callable[[ExitStack], TrackedPoses]
    clock: Clock
    search: list[Path] = field(default_factory=list)  # where replugged replicas may register
    focused: Callable[[], bool] | None = None
    on_start: Callable[[], None] | None = None  # the drill's clock starts now (the GO cue)
    # Tells the range master, one line each, when the drill is suspended and why, and when it
    # resumes (`range.runs.core.Suspensions`; the CLI's stderr). None: nobody is told.
    say: Callable[[str], None] | None = None
    # The officer's voice: opens the audio stream (the microphone; a test's paced recording),
    # heard through the Listener from the run's start and kept in the run folder; called once
    # the replicas and their calibration have passed. None, or a call that returns None or why
    # audio is off (a machine with no audio device, where the CLI says so in one line): the
    # officer is not heard, and run_started says so (`officer_unheard`, nu20 #1).
    voice: Callable[[], Iterable[Pcm] | str | None] | None = None
    # The issued weapons the range master runs the drill without (`--without taser`): each is
    # one the lane has no replica for. Any other issued weapon the lane lacks refuses the run,
    # so a TASER-failure drill is never played with no TASER unnoticed (nu20 #5); these are
    # logged (run_started `weapons_left_out`).
    without: tuple[str, ...] = ()


@contextmanager
def _setup_frozen() -> Iterator[None]:
    """The frame loop with everything built before it (drill, world, lane, imports) moved out
    of the garbage collector's sight (gc.freeze): a full collection then walks only what the
    frames made, instead of stalling a frame for 2-6 ms (measured: 30 subjects, this machine);
    unfrozen after, so a long-running process can still free a finished run."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass(frozen=True, slots=True)
class RunConfig:
    drill: Drill
    officer: OfficerScript | None  # the scripted officer; None for a live one (`live`)
    seed: int
    # The agency policy the run is judged by, kept with it (`--policy`, else $OPENRANGE_POLICY,
    # else the built-in one: range/runs/policyfile.py).
    policy_file: PolicySource = field(default_factory=policy_in_effect)
    dt_s: float = 1 / 90
    # None: the drill's issued TASER, or a TASER 7 (`--taser` sets it).
    taser_model: Model | None = None
    # The cartridges issued, one per bay (physics cartridge ids); None: the model's default.
    taser_cartridges: tuple[str, ...] | None = None
    firearm_load: str = "9mm-124"
    runs_dir: Path | None = None
    # Fault drill: pull the TASER's cable at this drill time and plug it back in after
    # `replug_after_s` of real time. The drill suspends meanwhile and resumes when it is back.
    unplug_taser_at_s: float | None = None
    replug_after_s: float = 0.3
    # The fault policy's limit (range/runs/core.py): a replica silent this long in real time
    # faults the drill.
    fault_after_s: float = FAULT_AFTER_S
    # The instructor's branch buttons: (drill time, button name), pressed in order.
    instructor: tuple[tuple[float, str], ...] = ()
    # Who the officer is, for the records and for hit / false-alarm rates across runs.
    officer_name: str = "scripted"
    # The records' badge the run is kept under (--badge), logged so that runs across the
    # table are grouped by badge, not by how the name was typed.
    badge: str | None = None
    # Fault drill: the weapon's tracker is occluded over this span of drill time.
    tracking_lost: tuple[float, float] | None = None
    # Refuse replicas without a valid calibration profile (real hardware); a range master's
    # override lets them through and is recorded in the run's log.
    require_calibration: bool = False
    calibration_dir: Path | None = None
    override_by: str | None = None
    # The file `drill` was read from (`drills.schema.read_drill_file`): its bytes are kept with
    # the run and hashed into its log. Without it, a built-in drill keeps its built-in file.
    drill_file: DrillFile | None = None
    # The file `officer` was read from (`--sim FILE`; None: a built-in script by id): its bytes
    # are kept with the run (`officer.toml`) and hashed into its log, and one that keeps a
    # built-in script's id but is not that script is named modified (nu24 #6).
    officer_file: ScriptFile | None = None
    # An officer with replicas, on the real clock; None: the scripted officer, simulated.
    live: LiveDrill | None = None
    # Called once a frame, after it, with the session, in both modes (a renderer, the
    # instructor's console's live control). It may act on the run (an instructor's button:
    # the engine's `instructor`; a pause: suspend, wait, resume before returning), so what it
    # applies lands on a frame boundary and replays exactly from the log; it never decides
    # when the engine steps.
    on_frame: Callable[[Session], None] | None = None
    # A simulated run's officer audio track (`--voice OFFICER.wav`), t = 0 at the run's start:
    # heard through the same Listener as a microphone, each act an `officer_spoke` the drill
    # can branch on; the file is kept in the run folder and hashed into its log.
    voice: Path | None = None
    # An agency phrase book (`--phrases AGENCY.toml`, docs/speech.md) merged over the built-in
    # one for hearing the officer (the recording or the microphone) and the script's words;
    # kept in the run folder as `phrasebook.toml` and hashed into its log. None: built-in only.
    phrases: Path | None = None
    # `phrases` as loaded by the caller, who has checked the script's speak steps against it
    # (range/cli/drill.py): one book for the whole run. None: loaded here from `phrases`.
    phrasebook: PhraseBook | None = None
    # An empathy scene's debrief (docs/drills.md): called once the scene has completed, it
    # returns each question's `debrief_answer` fields (question, text, answer, how,
    # confidence?), logged before the run is scored.
    debrief: Callable[[Drill], list[dict[str, Any]]] | None = None
    # Called as soon as the run folder exists (before the voice, the headset and run_started),
    # with the folder (None with no runs_dir) and the drill file's sha256: the records register
    # the run in progress (range/cli/drill.py), so a run killed from here on is listed by
    # `records incomplete`, never an orphaned folder.
    on_begin: Callable[[Path | None, str], None] | None = None
    # Called when the run is refused or fails after `on_begin` and before `run_started` (no
    # OpenXR runtime, a voice that cannot open): its folder is removed, and the records drop
    # the registration (nothing was played).
    on_abandon: Callable[[], None] | None = None
    # Called once as the run ends (the engine's `on_end`, before `run_ended` is logged): what
    # follows (the log's end, result.json, the records) saves a run that is over, so the CLI
    # holds a Ctrl-C from here on rather than cut it (range/cli/util.py CtrlC).
    on_end: Callable[[], None] | None = None

    @property
    def policy(self) -> Policy:
        return self.policy_file.policy

    @property
    def officer_id(self) -> str:
        """Who played the officer: the script's id, or "live"; with `--voice`, that the words
        came from the recording and only the actions from the script."""
        if self.live is not None or self.officer is None:
            return "live"
        from drills.officer import builtin_officers

        script = played_label(self.officer, self.officer_file, builtin_officers())
        if self.voice is not None:
            return f"officer's words from {self.voice.name}; actions scripted by {script}"
        return script


# The key of a spoken debrief answer's audio in what `RunConfig.debrief` returns: the
# recording's Path (`--answer-wav`) or the microphone's samples (`--debrief-voice`). The run
# keeps it in the run folder and logs the clip's name and sha256 in place of it.
DEBRIEF_AUDIO = "audio"


@dataclass(slots=True)
class RunResult:
    config: RunConfig
    state: RunState
    end_reason: str
    duration_s: float
    records: list[LogRecord]
    score: Score
    devices: list[DeviceInfo]
    run_dir: Path | None
    frame_times_s: list[float]
    drill_sha256: str = ""
    # Each frame's CPU time on the run's thread (time.thread_time): its cost without the time
    # other processes took the CPU, for benchmarks on a shared machine.
    frame_cpu_s: list[float] = field(default_factory=list)
    # The officer's audio kept in the run folder and its sha256 ("" when there is none).
    voice_file: str = ""
    voice_sha256: str = ""

    def as_json(self) -> dict[str, Any]:
        voice: dict[str, Any] = {}
        if self.voice_file:
            voice = {"voice_file": self.voice_file, "voice_sha256": self.voice_sha256}
        out = voice | {
            "openrange_version": __version__,
            "drill": self.config.drill.id,
            "drill_sha256": self.drill_sha256,
            "officer": self.config.officer_id,
            "seed": self.config.seed,
            "dt_s": self.config.dt_s,
            "state": self.state.value,
            "end_reason": self.end_reason,
            "duration_s": round(self.duration_s, 6),
            "devices": [
                {"model": d.model.slug, "serial": d.serial, "firmware": d.firmware}
                for d in self.devices
            ],
            "score": self.score.as_json(),
            "run_dir": None if self.run_dir is None else str(self.run_dir),
        }
        return out | self.calibration()

    def calibration(self) -> dict[str, Any]:
        """What a gated run's devices were checked against (run_started `calibration`, and the
        range master whose override let an uncalibrated one through), for result.json and the
        records, so a run on an uncalibrated replica never reads as a calibrated one (nu20
        #6); {} for a run with no gate (a simulated run without --require-calibration)."""
        from range.calibration.used import NOT_REQUIRED

        started = run_started(self.records) or {}
        checks = started.get("calibration")
        if not isinstance(checks, list) or all(
            isinstance(c, dict) and c.get("reason") == NOT_REQUIRED for c in checks
        ):
            return {}
        out: dict[str, Any] = {"calibration": checks}
        if started.get("calibration_override_by"):
            out["calibration_override_by"] = started["calibration_override_by"]
        return out


class OfficerHands(Hands, Protocol):
    """A drill's officer as the run sees them: the run core's hands (`Hands`), where they stand,
    who they aim at (a scripted officer knows; a live one is judged from the bore) and where
    the drawn weapon points at a host time."""

    @property
    def officer_xy(self) -> tuple[float, float]: ...

    @property
    def aimed_subject(self) -> str | None: ...

    def weapon_pose(self, host_time_s: float) -> Pose: ...

    def after_step(self, t_s: float) -> None:
        """The engine stepped to run time `t_s` (a scripted officer moves with it)."""
        ...


class ScriptedOfficerHands:
    """The scripted officer on emulated replicas: decides from what the engine shows, and draws,
    aims, walks and fires on its script; the weapon's pose follows the subject it aims at."""

    def __init__(self, session: Session, script: OfficerScript) -> None:
        self.session = session
        self.officer = ScriptedOfficer(script, session.random.stream("officer"))
        self.poses = ScriptedPoses(tracking_lost=session.config.tracking_lost)
        self.drawn: Replica | None = None
        self.aimed_subject: str | None = None
        self.officer_xy: tuple[float, float] = (0.0, 0.0)
        self.destination: tuple[float, float] | None = None
        self.taser, self.firearm = session.lane_replicas()

    def frame(self, t_s: float) -> None:
        for intent in self.officer.decide(self.session.engine.observe()):
            self._act(intent)

    def muzzle(self, event: PeripheralEvent) -> Pose:
        return self.poses.pose("weapon", event.host_time_s)

    def weapon_pose(self, host_time_s: float) -> Pose:
        return self.poses.pose("weapon", host_time_s)

    def walk(self, dt_s: float) -> None:
        """The officer walks toward the script's destination (to cover, say)."""
        if self.destination is None:
            return
        x, y = self.officer_xy
        dx, dy = self.destination[0] - x, self.destination[1] - y
        distance = math.hypot(dx, dy)
        step = OFFICER_WALK_MPS * dt_s
        if distance <= step:
            self.officer_xy, self.destination = self.destination, None
        else:
            self.officer_xy = (x + dx / distance * step, y + dy / distance * step)
        self.poses.officer_xy = self.officer_xy

    def after_step(self, t_s: float) -> None:
        engine, bodies = self.session.engine, self.session.bodies
        subject = next(iter(engine.subjects.values()))
        if self.aimed_subject is not None:
            subject = engine.subjects[self.aimed_subject]
        self.poses.update(t_s, subject.position_m, subject.yaw_rad, bodies[subject.id])

    def _act(self, intent: Intent) -> None:
        """Turn the scripted officer's intent into what hands do to the replicas."""
        engine = self.session.engine
        taser, firearm = self.taser, self.firearm
        if intent.act in (Act.VERBAL_COMMAND, Act.SPEAK) and self.session.voice is not None:
            return  # the officer's words are the recording's (`--voice`), not the script's
        if intent.act is Act.VERBAL_COMMAND:
            # Its acts as the run's book finds them, kept with the words: scoring reads them
            # from the log, so an agency phrase scores in a verbal_command line as it does in a
            # speak step (nu24 #3).
            acts = [match.act for match in acts_in_text(intent.say, self.session.phrasebook)]
            engine.officer_action(OfficerAction.VERBAL_COMMAND, say=intent.say, acts=acts)
        elif intent.act is Act.SPEAK:
            # Heard as a recogniser would hear the words, without the audio: sure, at once.
            for match in acts_in_text(intent.say, self.session.phrasebook):
                engine.spoke(
                    match.act,
                    text=intent.say,
                    confidence=1.0,
                    start_s=engine.t,
                    end_s=engine.t,
                    loudness_dbfs=intent.loudness_dbfs,
                    phrase=match.phrase,
                )
        elif intent.act in (Act.DRAW_TASER, Act.DRAW_FIREARM):
            wanted = taser if intent.act is Act.DRAW_TASER else firearm
            if wanted is None:  # not issued: refused before the run (Session._open_hands)
                return
            if self.drawn is not None and self.drawn is not wanted:
                self._holster(self.drawn)
            wanted.emulator.draw()
            if wanted is taser:
                wanted.emulator.set_safety(False)
            self.drawn = wanted
        elif intent.act is Act.HOLSTER and self.drawn is not None:
            self._holster(self.drawn)
            self.drawn = None
        elif intent.act is Act.AIM and intent.region is not None:
            self.aimed_subject = intent.subject
            self.poses.aim(intent.region, intent.aim_error_rad)
        elif intent.act is Act.MOVE_TO and intent.destination_m is not None:
            self.destination = intent.destination_m
        elif intent.act is Act.FIRE and self.drawn is not None:
            self.drawn.emulator.press_trigger()
            self.drawn.release_next_frame = True
        elif (
            intent.act is Act.DRIVE_STUN
            and taser is not None
            and self.drawn is taser
            and isinstance(taser.emulator, TaserEmulator)
            and taser.emulator.model.slug in DRIVE_STUN_MODELS  # a model with the mode
        ):
            hold_s = TASER_CYCLE_S if intent.duration_s is None else intent.duration_s
            engine.drive_stun(intent.region, hold_s, serial=taser.serial)

    def _holster(self, replica: Replica) -> None:
        if isinstance(replica.emulator, TaserEmulator):
            replica.emulator.set_safety(True)
        replica.emulator.holster()


class LiveOfficerHands(LiveHands):
    """A live officer in a drill: the run core's live hands (bore from the tracked pose through
    each replica's calibration profile), standing where the headset is. Whom they aim at is
    not known beforehand: the bore decides where each round or probe goes, and whom a round or
    cartridge was aimed at is the subject the bore covered at its trigger's own time
    (`Session._aimed_at`); `aimed_subject` is whom it covered at the last frame."""

    aimed_subject: str | None = None
    _head: Pose | None = None

    def frame(self, t_s: float) -> None:
        self._head = self.poses.update().get("head")

    @property
    def officer_xy(self) -> tuple[float, float]:
        """Where the officer stands: under the headset (the range's origin until it is seen)."""
        head = self._head
        if head is None or not head.valid:
            return (0.0, 0.0)
        return (head.position_m[0], head.position_m[1])

    def weapon_pose(self, host_time_s: float) -> Pose:
        return self.poses.pose("weapon", host_time_s)

    @property
    def head_yaw_rad(self) -> float:
        """Where the officer's head faces in plan view (0 downrange, leftward positive)."""
        return head_yaw_rad(self._head)

    def after_step(self, t_s: float) -> None:
        pass


def head_yaw_rad(head: Pose | None) -> float:
    """The plan-view yaw of a head pose's gaze (physics frame: 0 downrange, leftward positive);
    0 when the head is not seen or looks straight up or down."""
    if head is None or not head.valid:
        return 0.0
    gaze = head.forward()
    if math.hypot(gaze[0], gaze[1]) < 1e-6:
        return 0.0
    return math.atan2(float(gaze[1]), float(gaze[0]))


class Session:
    """One run of one drill. Build it, `run()` it; it cleans up its ports and world."""

    def __init__(self, config: RunConfig, progress: Progress | None = None) -> None:
        self.config = config
        self.progress = progress
        self.live = config.live
        self.clock: Clock = ManualClock() if self.live is None else self.live.clock
        self.random = RunRandom(config.seed)
        self.physics_rng = self.random.stream("physics")
        # A round's turn on leaving what it went through: its own stream, so the draws of
        # every shot and probe after it stay as they were before rounds carried on.
        self.penetration_rng = self.random.stream("penetration")
        # Probes pulled out in a fall: their own stream too.
        self.detach_rng = self.random.stream("detach")
        self._down: set[str] = set()  # subjects down (incapacitated) at the last step
        self._landing: dict[str, float] = {}  # a falling subject: when the body lands
        self.frame_times_s: list[float] = []
        self.frame_cpu_s: list[float] = []
        self._run_started = False  # run_started logged: the run is one to keep from then on
        self._stopped = False  # a Ctrl-C stopped the run (it may have landed in the listener)
        self.faults: FaultPolicy | None = None
        self._unplugged = False
        self._buttons = list(config.instructor)
        self._pointed_at: str | None = None
        # Weapons out of the holster (from the replicas' own holster events) and the one drawn
        # last: the weapon the officer holds.
        self._out: list[Weapon] = []
        # The run time each weapon out was drawn at (its holster event's own time): a weapon
        # is pointed at or after it (`_check_pointing`).
        self._drawn_t: dict[Weapon, float] = {}
        # Host time at run time 0, and the spans of host time the run was suspended (its clock
        # stands still meanwhile; an open span ends None): `run_time`. `offset_s` is host time
        # less run time, now.
        self._start_host_s = 0.0
        self._freezes: list[tuple[float, float | None]] = []
        self.offset_s = 0.0
        self._skeletons: dict[str, tuple[SubjectBody, Skeleton]] = {}
        # Each TASER's probes across its trigger pulls (a TASER 10 closes a circuit over two).
        self.circuits: dict[str, Circuit] = {}
        # A cartridge's probes read over two frames are one pull (range/runs/core.py).
        self._triggers = TriggerCollector()
        # ARC presses and TASER releases not yet taken, in order, with their run times.
        self._arc_queue: list[tuple[PeripheralEvent, float]] = []
        # The latest a live replica's event has been read after its own time, s (_written_to).
        self._read_lag_s = EVENT_READ_LAG_S
        # A live officer's trigger pulls (rounds and cartridges) not yet taken, in order: each
        # waits for the pose stream to cover its time (`_take_pending`).
        self._pulls: list[Trigger] = []
        # Subjects' limbs, a pure function of run time and the seed (physics/animation.py).
        self.animator = SubjectAnimator(config.seed)
        # Each subject's limbs as last animated (what a renderer poses its mesh by).
        self.human_poses: dict[str, HumanPose] = {}
        # A live frame's events held for the next (a cartridge's probes read across frames).
        # The officer's voice (a recording on the run clock, or a live stream), the name it has
        # in the run folder (None: not kept) and the host time its stream started.
        self.voice: TrackVoice | LiveVoice | None = None
        self._voice_clip: str | None = None
        self._voice_host_s = 0.0
        # The phrase book words are heard with: the built-in one, or with the agency's merged.
        self.phrasebook: PhraseBook = builtin_phrasebook()

    # -- set-up ---------------------------------------------------------------------------------

    def lane_replicas(self) -> tuple[Replica | None, Replica | None]:
        """The simulated lane's TASER and firearm replicas (None: the drill issues none)."""
        assert isinstance(self.lane, Lane)
        by_weapon = {r.weapon: r for r in self.lane.replicas}
        return by_weapon.get(Weapon.TASER), by_weapon.get(Weapon.FIREARM)

    @property
    def replicas(self) -> list[Any]:
        return list(self.lane.replicas)

    @property
    def weapon_out(self) -> Weapon | None:
        """The weapon the officer holds (the last drawn of those out of the holster)."""
        return self._out[-1] if self._out else None

    def _open_lane(self, stack: ExitStack) -> Lane | LiveLane:
        config = self.config
        if self.live is None:
            assert isinstance(self.clock, ManualClock)
            port_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="or-")))
            lane = Lane(self.clock, port_dir)
            self.lane: Lane | LiveLane = lane
            stack.callback(lane.close)
            # The TASER at hand: the drill's issued one where it fixes one (a --taser that
            # differs is refused: nu24 #7), else the command line's (--taser), else the TASER 7
            # with its default bays.
            issued_model, issued_loads = config.drill.issued_taser()
            _check_fixed_taser(config)
            taser_model = config.taser_model or issued_model or Model.TASER_7
            taser_loads = (
                _loads(config.taser_cartridges)
                if config.taser_cartridges is not None or issued_model is None
                else issued_loads
            )
            # Only the replicas the drill issues (docs/drills.md "Issued weapons").
            issued = config.drill.issued_weapons()
            # A script that draws a weapon the drill does not issue is refused here, before
            # any run folder is made.
            script = config.officer
            needs = sorted(script_weapons(script) - set(issued)) if script is not None else []
            if script is not None and needs:
                raise ValueError(
                    f"officer script {script.id} draws the {' and '.join(needs)}, which"
                    f" drill {config.drill.id} does not issue (its weapons: {', '.join(issued)})"
                )
            if config.taser_model is not None and "taser" not in issued:
                raise ValueError(
                    f"--taser: drill {config.drill.id} issues no TASER (its weapons:"
                    f" {', '.join(issued)})"
                )
            if "taser" in issued:
                lane.add(
                    TaserEmulator(
                        taser_model,
                        "SIM-TASER-0001",
                        self.clock,
                        loads=taser_loads,
                        directory=port_dir,
                    ),
                    Weapon.TASER,
                )
            if "firearm" in issued:
                lane.add(
                    PistolEmulator("SIM-PISTOL-0001", self.clock, directory=port_dir),
                    Weapon.FIREARM,
                )
            return lane
        live_lane = LiveLane(self.live.clock, self.live.ports, self.live.search).open()
        self.lane = live_lane
        stack.callback(live_lane.close)
        return live_lane

    def _check_issued(self, lane: Lane | LiveLane) -> list[str]:
        """A live lane holds a replica for each weapon the drill issues, or the range master has
        said to run without it (`LiveDrill.without`): the weapons left out, in the drill's
        order. Refused otherwise, naming the weapon and both ways on (nu20 #5)."""
        if self.live is None:
            return []
        drill = self.config.drill
        issued = drill.issued_weapons()
        on_lane = {str(r.weapon) for r in lane.replicas}
        for weapon in self.live.without:
            if weapon not in issued:
                raise ValueError(
                    f"--without {weapon}: drill {drill.id} issues no {weapon} (its weapons:"
                    f" {', '.join(issued)})"
                )
            if weapon in on_lane:
                raise ValueError(
                    f"--without {weapon}: the lane has a {weapon} replica"
                    f" ({', '.join(r.serial for r in lane.replicas if r.weapon == weapon)});"
                    f" unplug it or drop --without {weapon}"
                )
        missing = [w for w in issued if w not in on_lane and w not in self.live.without]
        if missing:
            have = ", ".join(f"{r.serial} ({r.weapon})" for r in lane.replicas) or "none"
            it, its = ("it", "its port") if len(missing) == 1 else ("them", "their ports")
            raise ValueError(
                f"drill {drill.id} issues the {' and the '.join(missing)}, but the lane has no"
                f" replica for {it} (the lane's replicas: {have}): add {its} (--port or the"
                f" lane file), or run the drill without {it}:"
                f" {' '.join('--without ' + w for w in missing)} (logged with the run)"
            )
        return [w for w in issued if w in self.live.without]

    def _open_hands(self, stack: ExitStack) -> OfficerHands:
        config = self.config
        if self.live is None:
            if config.officer is None:
                raise ValueError("a simulated drill needs an officer script")
            return ScriptedOfficerHands(self, config.officer)
        folder = config.calibration_dir or default_profiles_dir()
        profiles = {
            r.serial: load_profile(folder, r.serial, model=r.model.slug, emulated=r.emulated)
            for r in self.lane.replicas
        }
        return LiveOfficerHands(self.live.open_poses(stack), profiles)

    def run(self) -> RunResult:
        config = self.config
        drill = config.drill
        with ExitStack() as stack:
            world = stack.enter_context(
                RangeWorld(drill.scene.lane_length_ft * FT_M, drill.scene.lane_width_ft * FT_M)
            )
            self.world = world
            self.bodies = {}
            for spec in drill.subjects:
                self.bodies[spec.id] = spec.body()
            for cover in drill.scene.cover:
                # Rounds go through it as its material allows (physics.penetration).
                world.add_object(
                    cover.name,
                    (cover.x_ft * FT_M, cover.y_ft * FT_M, 0.0),
                    (cover.depth_ft * FT_M, cover.width_ft * FT_M, cover.height_ft * FT_M),
                    cover.material,
                    cover.role,
                )
            world.add_prop(drill.scene.prop_parts())
            # The replicas and their calibration first: a refused replica leaves no run behind.
            lane = self._open_lane(stack)
            left_out = self._check_issued(lane)
            # The issued TASER's cartridges' flight tables now, not inside the first
            # deployment's frame.
            cartridges = self._loaded_cartridges(lane)
            prepare(cartridges)
            self.faults = FaultPolicy(lane, config.fault_after_s)
            devices = lane.devices()
            loads = self._bay_loads(lane)
            calibration = self._check_calibration(devices)
            copy_name, copy, drill_path = drill_source(drill, config.drill_file)
            phrases_meta: dict[str, str] = {}
            if config.phrases is not None:  # a bad phrase book leaves no run behind
                from range.voice.lexicon import load_phrases

                self.phrasebook = config.phrasebook or load_phrases(config.phrases)
            writer = RunWriter(config.runs_dir, drill.id) if config.runs_dir else None
            if writer is not None:
                stack.callback(writer.close)
            # Registered at once: a kill from here on leaves a run `records incomplete` lists;
            # a refusal before run_started leaves neither a folder nor a registration.
            stack.callback(self._abandon_unstarted, writer)
            if config.on_begin is not None:
                with HeldCtrlC():  # registered and its number kept, or neither (rc19 #1)
                    config.on_begin(writer.path if writer is not None else None, sha256(copy))
            policy_meta: dict[str, str] = {}
            if writer is not None:
                writer.keep(copy_name, copy)
                # The policy that judges the run, kept and hashed as its drill is (nu24 #2).
                if config.policy_file.kept:
                    writer.keep(POLICY_COPY, config.policy_file.content)
                policy_meta = config.policy_file.run_started()
                if config.phrases is not None:
                    book = config.phrases.read_bytes()
                    writer.keep(PHRASES_FILE, book)
                    phrases_meta = {"phrases_file": PHRASES_FILE, "phrases_sha256": sha256(book)}
            # A scripted run's officer script file (only `play` gives one: a live run has no
            # script), hashed into its log even unsaved, kept with a saved run (nu24 #6).
            officer_meta: dict[str, str] = {}
            if config.officer_file is not None:
                if writer is not None:
                    writer.keep(OFFICER_COPY, config.officer_file.content)
                officer_meta = {
                    "officer_sha256": config.officer_file.sha256,
                    "officer_file": str(config.officer_file.path),
                }
            log = MemoryLog(writer) if writer is not None else MemoryLog()
            voice_meta = self._open_voice(stack, writer.path if writer is not None else None)
            engine = DrillEngine(drill, self.random.stream("drill"), log, dt_s=config.dt_s)
            engine.held_trigger_devices = {
                d.serial for d in devices if d.model.held_trigger_extends_cycle
            }
            self.engine = engine
            if self.voice is not None:
                engine.before_end = lambda: self._hear(ending=True)
            engine.on_end = config.on_end
            for subject in engine.subjects.values():
                self.bodies[subject.id] = self.bodies[subject.id].in_stance(subject.stance)
                world.add_subject(
                    subject.id, self.bodies[subject.id], (*subject.position_m, 0.0), subject.yaw_rad
                )
            # And one throw-away deployment of each in this world, its subjects placed.
            prepare(cartridges, world)
            hands = self.hands = self._open_hands(stack)
            # From run_started until the run is where a Ctrl-C closes it (ABORTED, run_ended),
            # a Ctrl-C waits: never a started run left without an end (rc19 #1).
            held = stack.enter_context(HeldCtrlC())
            engine.start(
                drill_sha256=sha256(copy),
                drill_file=drill_path,
                seed=config.seed,
                officer=config.officer_id,
                policy=config.policy.id,
                **policy_meta,
                officer_name=config.officer_name,
                **({"badge": config.badge} if config.badge else {}),
                weapons=[str(r.weapon) for r in lane.replicas],
                **({"weapons_left_out": left_out} if left_out else {}),
                devices=[
                    {
                        "model": d.model.slug,
                        "serial": d.serial,
                        "firmware": d.firmware,
                        **({"cartridges": loads[d.serial]} if d.serial in loads else {}),
                    }
                    for d in devices
                ],
                openrange_version=__version__,
                calibration=calibration,
                calibration_override_by=config.override_by if self._calibration_required else None,
                **voice_meta,
                **phrases_meta,
                **officer_meta,
            )
            self._run_started = True
            with _setup_frozen():
                try:
                    held.deliver()
                    hands.after_step(engine.t)
                    if self.live is None:
                        self._run_simulated()
                    else:
                        self._run_live(self.live)
                except KeyboardInterrupt:
                    self._stopped = True
                    engine.abort(STOPPED)  # closed where it stood: run_ended, then result.json
                finally:
                    log.release()  # a live run's records held back, in time order
            voice_file, voice_sha256 = self._keep_voice(voice_meta, writer)
            debrief = config.debrief if drill.empathy is not None else None
            if debrief is not None and engine.state is RunState.COMPLETED:
                for answer in debrief(drill):
                    log.emit(engine.t, "debrief_answer", **_keep_answer_audio(answer, writer))
            # Named as the range master must see it: an agency file by its path and hash.
            score = score_run(log.records, config.policy, label=config.policy_file.label)
            result = RunResult(
                config,
                engine.state,
                engine.end_reason,
                engine.t,
                log.records,
                score,
                devices,
                writer.path if writer else None,
                self.frame_times_s,
                sha256(copy),
                self.frame_cpu_s,
                voice_file,
                voice_sha256,
            )
            if writer is not None:
                writer.finish(result.as_json(), result)
            return result

    def _abandon_unstarted(self, writer: RunWriter | None) -> None:
        """At the run's end: a run that never logged `run_started` (refused or failed during
        setup) leaves no folder and no registration in progress behind."""
        if self._run_started:
            return
        if writer is not None:
            writer.discard()
        if self.config.on_abandon is not None:
            self.config.on_abandon()

    def _open_voice(self, stack: ExitStack, run_dir: Path | None) -> dict[str, str]:
        """The officer's voice, when the run has one: the Listener over the built-in phrase
        book, the recording copied into the run folder (its name and sha256 go into
        run_started). Returns run_started's voice fields."""
        config, live = self.config, self.live
        # Opened only now, once the replicas and their calibration have passed: None when
        # audio is off (the caller has said why, once).
        opened = live.voice() if live is not None and live.voice is not None else None
        stream = None if isinstance(opened, str) else opened
        if live is not None and stream is None:
            # Nobody could hear the officer: the log says so and why, so scoring (a rescore
            # too) tells "said nothing" from "not heard" (nu20 #1).
            why = opened if isinstance(opened, str) else "no microphone was opened for this run"
            return {"officer_unheard": f"audio is off: {why}"}
        if config.voice is None and stream is None:
            return {}
        from range.voice.audio import read_wav
        from range.voice.recognize import Listener, Recognizer

        listener = Listener(Recognizer(self.phrasebook))
        if stream is not None:
            live_voice = LiveVoice(stream, listener)
            stack.callback(live_voice.close)
            self.voice = live_voice
            self._voice_clip = VOICE_FILE if run_dir is not None else None
            return {} if run_dir is None else {"voice_file": VOICE_FILE}
        assert config.voice is not None
        self.voice = TrackVoice(read_wav(config.voice), listener)
        if run_dir is None:
            return {}
        content = config.voice.read_bytes()
        name = "officer-voice" + config.voice.suffix.lower()
        keep_file(run_dir / name, content)
        self._voice_clip = name
        return {"voice_file": name, "voice_sha256": sha256(content)}

    def _keep_voice(self, meta: dict[str, str], writer: RunWriter | None) -> tuple[str, str]:
        """The voice's file in the run folder and its sha256: a live stream is written now,
        with everything the microphone gave (the recording was copied at the start)."""
        if isinstance(self.voice, LiveVoice):
            self.voice.close()
            if writer is None:
                return "", ""
            from range.voice.audio import write_wav

            path = write_wav(writer.path / VOICE_FILE, self.voice.pcm())
            return VOICE_FILE, sha256(path.read_bytes())
        return meta.get("voice_file", ""), meta.get("voice_sha256", "")

    def _hear(self, ending: bool = False) -> None:
        """Acts the officer was heard saying since the last frame, to the engine: stamped on
        the run clock (a recording's time is run time; a live stream's is host time since it
        started). `ending`: the run is ending (DrillEngine.before_end), so an utterance still
        in progress is finished and its acts logged before `run_ended` (nu17c #4)."""
        voice, engine = self.voice, self.engine
        if voice is None or engine.state is not RunState.RUNNING:
            return  # a suspended run hears nothing: a live stream's acts wait in its queue
        track = isinstance(voice, TrackVoice)

        def run_s(stream_s: float) -> float:
            return stream_s if track else self.run_time(self._voice_host_s + stream_s)

        try:
            if isinstance(voice, TrackVoice):
                spoken = voice.finish(engine.t) if ending else voice.until(engine.t)
            else:
                spoken = voice.finish() if ending else voice.heard()
        except Exception:
            if not (ending and self._stopped):
                raise
            # A Ctrl-C that landed inside the recogniser (pocketsphinx) can leave it unable to
            # close its utterance ("Failed to stop utterance processing"): the words open at
            # the stop go unheard, and the run is closed ABORTED all the same (rc19 #2).
            spoken = []

        for said in spoken:
            heard = said.heard
            # Each act of an utterance ("get down, step back, stop right there") has its own
            # span: the listener times it from the decoder's word times (Listener._acts).
            lo, hi = heard.start_s, heard.end_s
            start_s = run_s(lo)
            engine.spoke(
                heard.act,
                engine.t,
                text=heard.text,
                confidence=heard.confidence,
                start_s=start_s,
                end_s=max(start_s, run_s(hi)),
                clip=self._voice_clip,
                loudness_dbfs=min(0.0, said.loudness_dbfs),
                phrase=heard.phrase,
            )

    @property
    def _calibration_required(self) -> bool:
        """Real replicas need a valid profile (unless a range master overrides); emulated ones
        in a simulated run have none to need."""
        return self.config.require_calibration or self.live is not None

    @staticmethod
    def _bay_loads(lane: Lane | LiveLane) -> dict[str, list[str | None]]:
        """Each TASER's cartridge per bay as the run starts, by serial (run_started's device
        `cartridges`): scoring tells from it which cartridge was still loaded (nu23 #4)."""
        known = {int(c): c.cartridge_id for c in CartridgeCode}
        loads: dict[str, list[str | None]] = {}
        for replica in lane.replicas:
            codes: list[int] | None = None
            if isinstance(replica, Replica):
                if isinstance(replica.emulator, TaserEmulator):
                    codes = [code for code, _ in replica.emulator.bays]
            elif isinstance(replica, LiveReplica) and replica.model.is_taser:
                state = replica.link.state if replica.link is not None else None
                if state is not None:
                    codes = [code for code, _ in state.loads]
            if codes is not None:
                loads[replica.serial] = [known.get(c) for c in codes]
        return loads

    @staticmethod
    def _loaded_cartridges(lane: Lane | LiveLane) -> list[str]:
        """Physics cartridge ids of what the lane's TASERs hold: an emulator's bays (the TASER
        issued or chosen), a real replica's last STATE, else its model's default loads."""
        codes: list[int] = []
        for replica in lane.replicas:
            if isinstance(replica, Replica):
                if isinstance(replica.emulator, TaserEmulator):
                    codes += [code for code, _ in replica.emulator.bays]
            elif isinstance(replica, LiveReplica) and replica.model.is_taser:
                state = replica.link.state if replica.link is not None else None
                if state is not None:
                    codes += [code for code, _ in state.loads]
                else:
                    codes += list(TASER_SPECS[replica.model].loads)
        known = {int(c): c.cartridge_id for c in CartridgeCode if c.cartridge_id}
        return sorted({known[c] for c in codes if c in known})

    def _check_calibration(self, devices: list[DeviceInfo]) -> list[dict[str, Any]]:
        config = self.config
        return calibration_for_run(
            [d.serial for d in devices],
            required=self._calibration_required,
            folder=config.calibration_dir,
            override_by=config.override_by,
            reported={d.serial: (d.model.slug, is_emulated(d.firmware)) for d in devices},
        )

    # -- the two clocks ---------------------------------------------------------------------------

    def _run_simulated(self) -> None:
        engine = self.engine
        while not engine.finished:
            started, cpu = time.perf_counter(), time.thread_time()
            self._simulated_frame()
            self.frame_times_s.append(time.perf_counter() - started)
            self.frame_cpu_s.append(time.thread_time() - cpu)
            if self.config.on_frame is not None:
                self.config.on_frame(self)
            self._report_progress()

    def _run_live(self, live: LiveDrill) -> None:
        """The real clock: the engine steps every dt of run time, catching up after a slow
        frame; frames come as fast as the lane is read (a renderer, `on_frame`, keeps its own
        rate). While the drill is suspended its run time stands still."""
        engine, clock, dt = self.engine, live.clock, self.config.dt_s
        # Records are learnt of late (a pull waits for its pose, an event is read after it
        # happened): held back until nothing earlier can come (`_written_to`), so the log is in
        # time order.
        engine.log.hold()
        self._already_drawn()
        if live.on_start is not None:
            live.on_start()
        self._start_host_s = clock.now_s()
        if isinstance(self.voice, LiveVoice):
            self._voice_host_s = clock.now_s()
            self.voice.start()
        notices = Suspensions(live.say) if live.say is not None else None
        while not engine.finished:
            now = clock.now_s()
            started, cpu = time.perf_counter(), time.thread_time()
            self._live_frame(self.run_time(now), now)
            self._track_freeze(now)
            engine.log.release(self._written_to(self.run_time(now)))
            suspended = engine.state is RunState.SUSPENDED
            if notices is not None and (suspended or notices.reason is not None):
                notices.update(*self._suspension())
            self.frame_times_s.append(time.perf_counter() - started)
            self.frame_cpu_s.append(time.thread_time() - cpu)
            self.offset_s = now - self.run_time(now)
            if self.config.on_frame is not None:
                self.config.on_frame(self)
            self._report_progress()
            if engine.state is RunState.SUSPENDED:
                time.sleep(dt)  # waiting for a replica or the headset: do not spin
                continue
            wait = self.offset_s + engine.t + dt - clock.now_s()
            if wait > 0 and engine.state is RunState.RUNNING:
                time.sleep(wait)

    def _already_drawn(self, wait_s: float = 0.3) -> None:
        """A weapon already out of its holster when the drill starts (the officer holds it at
        GO): its replica's first state report says so, and it is drawn at the start. Waits up
        to `wait_s` of real time for each replica's first report (they come at >= 10 Hz)."""
        deadline = time.monotonic() + wait_s
        replicas: list[Attached] = list(self.lane.replicas)
        while time.monotonic() < deadline and any(
            r.link is not None and r.link.state is None for r in replicas
        ):
            time.sleep(0.005)
        for replica in replicas:
            state = replica.link.state if replica.link is not None else None
            if state is None or state.flags & StateFlags.HOLSTERED:
                continue
            self._out.append(replica.weapon)
            self._drawn_t[replica.weapon] = 0.0
            self.engine.officer_action(
                OfficerAction(f"{replica.weapon}_drawn"), 0.0, serial=replica.serial
            )

    def _suspension(self) -> tuple[float, str | None]:
        """When the run was last suspended and why, or when it last resumed (None), from its
        last `run_suspended` or `run_resumed` record."""
        record = self.engine.log.last(("run_suspended", "run_resumed"))
        if record is None:
            return self.engine.t, None
        if record.kind == "run_suspended":
            return record.t, str(record.data.get("reason", ""))
        return record.t, None

    def _written_to(self, t_s: float) -> float:
        """The run time up to which a live run's log can be written at run time `t_s`: nothing
        earlier can still be logged. The engine logs at its own time and later; a pull, an ARC
        press or a cartridge's first probe not yet taken at its own time; an event not yet
        read at most EVENT_READ_LAG_S before now, or as long as the latest read in this run
        took (at most EVENT_READ_LAG_MAX_S)."""
        until = min(self.engine.t, t_s - self._read_lag_s)
        for pull in self._pulls:
            until = min(until, self.run_time(pull.host_time_s))
        if self._arc_queue:
            until = min(until, self._arc_queue[0][1])
        held = self._triggers.held_since_s
        if held is not None:
            until = min(until, self.run_time(held))
        return until - 1e-6  # below a pending record's own (rounded) time

    def _track_freeze(self, now: float) -> None:
        """Open a freeze of the run's clock when the drill is suspended at host time `now`,
        close it when it runs again."""
        suspended = self.engine.state is RunState.SUSPENDED
        frozen = bool(self._freezes) and self._freezes[-1][1] is None
        if suspended and not frozen:
            self._freezes.append((now, None))
        elif not suspended and frozen:
            self._freezes[-1] = (self._freezes[-1][0], now)

    def _report_progress(self) -> None:
        if self.progress is not None:
            seen = self.engine.observe()
            self.progress(self.engine.t, self.config.drill.time_limit_s, seen.subjects[0].phase)

    def run_time(self, host_time_s: float) -> float:
        """Run time (the log's `t`) of a host time: host time since the run started, less the
        time it was suspended before then (an event that came while the drill was suspended
        happened at the moment it was suspended; one from before the start, at the start). The
        same as host time in a simulated run."""
        frozen = 0.0
        for start, end in self._freezes:
            frozen += max(0.0, min(host_time_s, host_time_s if end is None else end) - start)
        # An event from before the start (a weapon drawn before GO) is logged at the start.
        return max(0.0, host_time_s - self._start_host_s - frozen)

    # -- one frame --------------------------------------------------------------------------------

    def _simulated_frame(self) -> None:
        engine, lane, hands = self.engine, self.lane, self.hands
        assert isinstance(lane, Lane) and isinstance(hands, ScriptedOfficerHands)
        lane.advance_to(engine.t)
        unplug_at = self.config.unplug_taser_at_s
        if unplug_at is not None and not self._unplugged and engine.t >= unplug_at:
            self._unplugged = True
            lane.pull_cable(lane.replicas[0], self.config.replug_after_s)
        self._press_buttons(engine.t)
        self._hear()
        frame = lane_frame(lane, hands, engine.t, act=engine.state is RunState.RUNNING)
        if not self._answered(frame.silent):
            return
        self._handle(frame.events)
        self._check_pointing(engine.t, engine.t)
        hands.walk(self.config.dt_s)
        self._step()

    def _live_frame(self, t_s: float, host_s: float) -> None:
        """One live frame at run time `t_s`, host time `host_s`."""
        engine = self.engine
        focused = self.live.focused if self.live is not None else None
        if focused is not None and not focused():
            engine.suspend("the headset is off (the OpenXR session is not focused)")
            return
        self._press_buttons(t_s)
        self._hear()
        frame = lane_frame(self.lane, self.hands, t_s, act=engine.state is RunState.RUNNING)
        if not self._answered(frame.silent):
            return
        # A cartridge read over two frames stays one pull (TriggerCollector, in `_handle`).
        self._handle(frame.events)
        self._check_pointing(host_s, t_s)
        stepped = False
        for _ in range(MAX_CATCH_UP_STEPS):
            if engine.state is not RunState.RUNNING or engine.t + self.config.dt_s > t_s + 1e-9:
                break
            # A frame that catches up several steps poses its subjects once, after the last:
            # the steps before it are seen by nobody (a renderer draws the frame).
            self._step(pose=False)
            stepped = True
        if stepped:
            self._pose_subjects()

    def _press_buttons(self, t_s: float) -> None:
        """The instructor's branch buttons due by run time `t_s`."""
        if self.engine.state is RunState.RUNNING:
            while self._buttons and self._buttons[0][0] <= t_s + 1e-9:
                self.engine.instructor(self._buttons.pop(0)[1])

    def _step(self, pose: bool = True) -> None:
        """One engine step, and the world and the hands brought to it. `pose=False` (a live
        frame's steps, `_live_frame`): the subjects' clips move on with their states, but only
        the subjects a probe's wire holds are posed now (the wire check reads their bodies);
        the frame poses every subject once, after its last step (`_pose_subjects`)."""
        engine = self.engine
        # Subjects' lines are placed by where the officer's head faces (a live headset's).
        engine.officer_yaw_rad = getattr(self.hands, "head_yaw_rad", 0.0)
        engine.step(self.hands.officer_xy)
        world, animator, t = self.world, self.animator, engine.t
        for subject in engine.subjects.values():
            name = subject.id
            if subject.stance is not world.body(name).stance:
                world.set_stance(name, subject.stance)
                self.bodies[name] = world.body(name)
            # The StrEnum members are the strings the animator compares with.
            animator.advance(
                name,
                t,
                subject.position_m,
                subject.yaw_rad,
                subject.behaviour,
                subject.stance,
                subject.held_object,
                self._skeleton(name),
                subject.phase.animation,
            )
            if pose or any(c.attached(name) for c in self.circuits.values()):
                self._pose_subject(subject, t)
        self._check_probes()
        self.hands.after_step(engine.t)

    def _pose_subject(self, subject: SubjectState, t_s: float) -> None:
        """The subject's limbs at run time `t_s` (its clips as last advanced), in the world
        where the engine has it (the world only records it: PyBullet is moved by a cast)."""
        pose = self.animator.pose(subject.id, t_s)
        x, y = subject.position_m
        self.world.pose_subject(subject.id, pose, (x, y, 0.0), subject.yaw_rad)
        self.human_poses[subject.id] = pose

    def _pose_subjects(self) -> None:
        """Every subject posed at the engine's time: after a live frame's steps."""
        for subject in self.engine.subjects.values():
            self._pose_subject(subject, self.engine.t)

    def _check_probes(self) -> None:
        """Each step, the probes still in a subject (every TASER's `Circuit`): a subject who
        has taken a probe farther from the device than its wire breaks that wire, and a
        subject who falls (goes down: incapacitated) may pull probes out as the body lands
        (FALL_DETACH_P, physics/taser.py; FALL_S after going down, physics/animation.py).
        What came off is logged; a circuit left open ends (the engine)."""
        engine = self.engine
        down = {s.id for s in engine.subjects.values() if s.behaviour is Behaviour.INCAPACITATED}
        # A subject who goes down lands FALL_S later (the animation's fall): the probes are
        # pulled, if at all, as the body meets the floor.
        for name in down - self._down:
            self._landing[name] = engine.t + FALL_S
        for name in self._down - down:
            self._landing.pop(name, None)
        self._down = down
        fell = {name for name, at in self._landing.items() if engine.t >= at - 1e-9}
        for name in fell:
            del self._landing[name]
        if engine.state is not RunState.RUNNING:
            return
        for serial, device in self.circuits.items():
            for subject in engine.subjects.values():
                attached = device.attached(subject.id)
                if not attached:
                    continue
                device_at = self._device_position(subject)
                far = math.dist(device_at[:2], subject.position_m) + SUBJECT_REACH_M
                gone: list[tuple[int, str]] = []
                if far > min(p.wire_m for p in attached):
                    where = functools.partial(self.world.body_to_world, subject.id)
                    wired = device.check_wires(subject.id, device_at, where)
                    gone += [(p, "the wire ran out") for p in wired]
                if subject.id in fell:
                    pulled = device.subject_fell(subject.id, self.detach_rng)
                    gone += [(p, "pulled out in a fall") for p in pulled]
                for why in dict.fromkeys(w for _, w in gone):
                    ids = [p for p, w in gone if w == why]
                    still = device.reenergise(subject.id)
                    engine.probe_detached(
                        serial, subject.id, ids, why, circuit_open=still.effect is Effect.NONE
                    )

    def _device_position(self, subject: SubjectState) -> tuple[float, float, float]:
        """Where the TASER is now: the drawn weapon's tracked bore, else at the officer's hip."""
        pose = self.hands.weapon_pose(self.offset_s + self.engine.t)
        if pose.usable:
            return pose.position_m
        x, y = self.hands.officer_xy
        return (x, y, DEVICE_HEIGHT_M)

    def _skeleton(self, subject_id: str) -> Skeleton:
        """The subject's body's skeleton, kept per body (a frame asks for every subject's)."""
        body = self.bodies[subject_id]
        kept = self._skeletons.get(subject_id)
        if kept is None or kept[0] is not body:
            kept = self._skeletons[subject_id] = (body, body.skeleton())
        return kept[1]

    def _answered(self, silent: Sequence[Attached]) -> bool:
        """The run core's fault policy: while a replica is silent the drill is suspended (timer
        frozen, outputs safe); it is looked for by serial number and the drill resumes when it
        is back, or is faulted when it has not come back within the policy's limit."""
        engine, faults = self.engine, self.faults
        assert faults is not None
        if not silent:
            engine.resume()
            faults.clear()
            return True
        names = ", ".join(f"{r.weapon} {r.serial}" for r in silent)
        if engine.state is RunState.RUNNING and isinstance(self.lane, Lane):
            self.lane.make_safe(silent)
        engine.suspend(f"no answer from {names}")
        for replica in faults.reattach(silent):
            engine.log.emit(
                engine.t, "device_reattached", serial=replica.serial, weapon=str(replica.weapon)
            )
        if faults.expired:
            refused = faults.refusals(silent)  # it answered, but not as the replica it was
            engine.fault(
                f"{names} did not come back within {faults.limit_s:g} s"
                + (f" ({refused})" if refused else "")
            )
        return False

    def _check_pointing(self, host_time_s: float, t_s: float) -> None:
        """Which subject the drawn weapon's bore covers, from its pose at host time
        `host_time_s` (as with hardware): a new one is an officer action the drill can branch
        on, logged at the cast's run time `t_s`, and never before the weapon's draw (a live
        frame's draw event can be stamped after the frame's own time: it was read after)."""
        if not self._out:
            self._pointed_at = None
            return
        covered = self._covered(self.hands.weapon_pose(host_time_s))
        if isinstance(self.hands, LiveOfficerHands):
            self.hands.aimed_subject = covered  # whom the live bore covers now
        if covered is not None and covered != self._pointed_at:
            weapon = self._out[-1]
            self.engine.officer_action(
                OfficerAction.WEAPON_POINTED,
                max(t_s, self._drawn_t.get(weapon, 0.0)),
                subject=covered,
                weapon=str(weapon),
            )
        self._pointed_at = covered

    def _covered(self, bore: Pose) -> str | None:
        """The subject a bore covers within POINTING_RANGE_M (the pointing cast), or None."""
        start = np.asarray(bore.position_m)
        target = self.world.ray_target(start, start + bore.forward() * POINTING_RANGE_M)
        return target if target in self.engine.subjects else None

    def _aimed_at(self, muzzle: Pose) -> str | None:
        """Whom a round or cartridge was aimed at: the scripted officer's chosen subject; a live
        officer's is the subject the tracked bore covered at the trigger's own time (the same
        cast as `weapon_pointed`), so scoring judges the force used on them as in a simulated
        run (None: nobody was covered, or the bore was not tracked)."""
        if isinstance(self.hands, LiveHands):
            return self._covered(muzzle) if muzzle.usable else None
        return self.hands.aimed_subject

    def _handle(self, events: list[PeripheralEvent]) -> None:
        """A frame's events: each logged as it came off the wire, holsters as officer actions,
        and every trigger pull down the one firing path."""
        engine = self.engine
        live = isinstance(self.hands, LiveHands)
        now_t = self.run_time(self.clock.now_s()) if live and events else 0.0
        for event in events:
            t = self.run_time(event.host_time_s)
            if live:  # read this long after its time: wait that long for the next (_written_to)
                self._read_lag_s = min(EVENT_READ_LAG_MAX_S, max(self._read_lag_s, now_t - t))
            engine.log.emit(t, "device_event", **event.as_record())
            weapon = weapon_of(event.model)
            if event.kind is EventKind.HOLSTER_OUT:
                if weapon in self._out:
                    self._out.remove(weapon)
                self._out.append(weapon)
                self._drawn_t[weapon] = t
                engine.officer_action(OfficerAction(f"{weapon}_drawn"), t, serial=event.serial)
            elif event.kind is EventKind.HOLSTER_IN:
                if weapon in self._out:
                    self._out.remove(weapon)
                engine.officer_action(OfficerAction(f"{weapon}_holstered"), t, serial=event.serial)
            elif event.kind is EventKind.SHOT_FIRED:
                self._pull(Trigger(Weapon.FIREARM, event.serial, event.host_time_s, (event,)))
            elif event.kind is EventKind.ARC_SWITCH or (
                # A live officer's hold on the ARC (a scripted press runs the device's cycle).
                event.kind is EventKind.TRIGGER_RELEASED
                and weapon is Weapon.TASER
                and self.live is not None
            ):
                self._arc_queue.append((event, t))
            elif event.kind is EventKind.CYCLE_ENDED:
                engine.cycle_ended(t, serial=event.serial, stopped_by_safety=bool(event.value))
        if not live:
            self._take_pending()  # a scripted frame: its ARC presses, then its cartridges
        for trigger in self._triggers.feed(events, self.clock.now_s()):
            if trigger.weapon is Weapon.TASER:
                self._pull(trigger)
        if live:
            self._take_pending()  # a live frame: every act in the order it was made

    def _pull(self, trigger: Trigger) -> None:
        """A trigger pull down the firing path: a scripted officer's at once (its poses are
        known for any time), a live officer's queued for `_take_pending`."""
        if isinstance(self.hands, LiveHands):
            self._pulls.append(trigger)
            self._pulls.sort(key=lambda pull: pull.host_time_s)  # stable: a frame's, in order
        elif trigger.weapon is Weapon.FIREARM:
            self._shot(trigger)
        else:
            self._deployment(trigger)

    def _ready(self, event: PeripheralEvent) -> bool:
        """Whether an event's pose can be judged now: always for a scripted officer; for a
        live one once the pose stream covers its time, or POSE_WAIT_S of host time after it
        (then from the poses located so far: untracked where they do not cover it). A
        headset's stream moves on only as this thread draws frames, so it is never waited for:
        a later frame takes the event."""
        hands = self.hands
        if not isinstance(hands, LiveHands):
            return True
        late = self.clock.now_s() - event.host_time_s > POSE_WAIT_S
        return late or hands.covers(event)

    def _take_pending(self) -> None:
        """Trigger pulls, ARC presses and TASER releases not yet taken, in host time order,
        each once its pose can be judged (`_ready`; the first not ready holds those after it):
        a pull is flown (`_shot`, `_deployment`); a press arcs, re-energises its probes or
        drive-stuns where the front touches (`_arc`); a release ends a drive-stun's hold after
        the press it follows. A suspended or finished run takes none."""
        engine = self.engine
        while engine.state is RunState.RUNNING and (self._pulls or self._arc_queue):
            pull = self._pulls[0] if self._pulls else None
            if pull is not None and (
                not self._arc_queue or pull.host_time_s <= self._arc_queue[0][0].host_time_s
            ):
                if not self._ready(pull.event):
                    return
                self._pulls.pop(0)
                if pull.weapon is Weapon.FIREARM:
                    self._shot(pull)
                else:
                    self._deployment(pull)
                continue
            event, t = self._arc_queue[0]
            if event.kind is EventKind.ARC_SWITCH:
                if not self._ready(event):
                    return
                self._arc(event, t)
            else:
                engine.arc_released(t, serial=event.serial)  # a live drive-stun's hold ends
            self._arc_queue.pop(0)

    def _arc(self, event: PeripheralEvent, t: float) -> None:
        """An ARC press (or a trigger pull with no live cartridge: spent or removed). It
        re-energises this TASER's probes still attached. Otherwise, on a model with a
        drive-stun mode (physics.taser.DRIVE_STUN_MODELS; not the TASER 10): a live officer's
        press with the tracked front against a subject's body (`front_contact`) is a
        drive-stun at the body part touched, held until the ARC is let go; with no contact it
        only arcs at the front (the headset shows the arc, nothing is logged but the device's
        event). A scripted officer's press drive-stuns a subject within DRIVE_STUN_REACH_M."""
        engine, serial = self.engine, event.serial
        can_stun = event.model.slug in DRIVE_STUN_MODELS
        if self.live is None or serial in engine.circuits:
            engine.arc(t, serial=serial, drive_stun=can_stun and self.live is None)
            return
        contact = self.front_contact(event) if can_stun else None
        if contact is None:
            engine.arc(t, serial=serial)
        else:
            engine.drive_stun_contact(contact[0], contact[1], serial, t)

    def front_contact(self, event: PeripheralEvent) -> tuple[str, Region | None] | None:
        """The subject and body region the TASER's front touches at the event's own time: the
        tracked front (the muzzle, through the replica's profile) within DRIVE_STUN_CONTACT_M of
        a body along the bore (cast from FRONT_BACK_M behind the front, so a front pressed a
        little into the body's surface still finds it). None: nothing touched, or the
        TASER is not tracked."""
        hands = self.hands
        front = hands.front(event) if isinstance(hands, LiveHands) else hands.muzzle(event)
        if not front.usable:
            return None
        start, forward = np.asarray(front.position_m), front.forward()
        back, ahead = start - forward * FRONT_BACK_M, start + forward * DRIVE_STUN_CONTACT_M
        points = np.array([back, ahead])[:, None, :]
        ends = self.world.cast_paths(points, np.array([0.0, 1.0]), np.zeros((2, 1)))
        if ends.target[0] < 0:
            return None
        target = self.world.targets[ends.target[0]]
        if target not in self.engine.subjects:
            return None
        region = REGIONS[ends.region[0]] if ends.region[0] >= 0 else None
        return target, region

    def _deployment(self, trigger: Trigger) -> None:
        code = CartridgeCode(trigger.value or 0)
        cartridge_id = code.cartridge_id
        if cartridge_id is None:
            return
        t = self.run_time(trigger.host_time_s)
        muzzle = self._muzzle(trigger.event)
        self.engine.officer_action(
            OfficerAction.TASER_FIRED,
            t,
            serial=trigger.serial,
            bay=trigger.bay,
            cartridge=cartridge_id,
            subject=self._aimed_at(muzzle),
            muzzle=muzzle_record(muzzle),
        )
        if not muzzle.usable:
            self._untracked(Weapon.TASER, trigger.serial, t)
            return
        cart = cartridge(cartridge_id)
        impacts: list[ProbeImpact] = fly_probes(
            self.world,
            cart,
            muzzle,
            self.physics_rng,
            # None when nothing moves during the flight: the one-call path (issue 16).
            deployment_motion(self.animator, self.world, cart, self.engine.t),
        )
        targets = [i.target for i in impacts if i.target in self.engine.subjects]
        subject = max(set(targets), key=targets.count) if targets else None
        device = self.circuits.setdefault(trigger.serial, circuit_for(cart))
        # One numbering for a device's probes in every output: the device's, over the run's
        # pulls (0, 1, then 2, 3 ...), as the circuit, its reasons and `probe_detached` name
        # them; never the index within a pull (docs/drills.md, `probe_impacts`).
        first = len(device.probes)
        impacts = [replace(i, probe=first + n) for n, i in enumerate(impacts)]
        outcome = device.add_pull(impacts, subject or "", cart.reach_m)
        # Logged at the trigger; incapacitation starts when the circuit closes (the second
        # probe's arrival, `outcome.onset_s` later): the engine waits for it.
        self.engine.probes(impacts, outcome, subject, t, serial=trigger.serial, bay=trigger.bay)

    def _muzzle(self, event: PeripheralEvent) -> Pose:
        """The bore at a pull's own time: a live officer's from the poses located so far
        (`_take_pending` took the pull once they cover its time, or gave up waiting: then not
        tracked), never waiting on the stream; a scripted officer's from its script."""
        hands = self.hands
        return hands.front(event) if isinstance(hands, LiveHands) else hands.muzzle(event)

    def _untracked(self, weapon: Weapon, serial: str, t: float) -> None:
        """Fired while tracking was lost: where it went is unknown, so it is recorded as
        untracked and neither flown nor scored as a miss."""
        self.engine.log.emit(t, "untracked_shot", weapon=str(weapon), serial=serial)

    def _shot(self, trigger: Trigger) -> None:
        t = self.run_time(trigger.host_time_s)
        muzzle = self._muzzle(trigger.event)
        self.engine.officer_action(
            OfficerAction.FIREARM_FIRED,
            t,
            serial=trigger.serial,
            rounds_left=trigger.value,
            subject=self._aimed_at(muzzle),
            muzzle=muzzle_record(muzzle),
        )
        if not muzzle.usable:
            self._untracked(Weapon.FIREARM, trigger.serial, t)
            return
        # The round goes on through what it strikes as the penetration model allows: through
        # concealment, through a torso, into whoever stands behind (docs/drills.md).
        strikes = fly_through(
            self.world,
            load(self.config.firearm_load),
            muzzle,
            self.physics_rng,
            motion=self.animator.motion(self.world, self.engine.t),
            after_rng=self.penetration_rng,
        )
        first = strikes[0] if strikes else None
        impact = BulletImpact(
            target=None if first is None else first.target,
            region=None if first is None else first.region,
            point=muzzle.position_m if first is None else first.point,
            time_of_flight_s=0.0 if first is None else first.time_of_flight_s,
            velocity_mps=0.0 if first is None else first.velocity_mps,
        )
        self.engine.bullet(impact, t, serial=trigger.serial, **_strike_fields(first))
        for n, strike in enumerate(strikes[1:], start=1):
            self.engine.bullet_strike(
                strike.target,
                strike.region,
                strike.point,
                strike.velocity_mps,
                t,
                serial=trigger.serial,
                strike=n,
                **_strike_fields(strike),
            )


def _strike_fields(strike: Strike | None) -> dict[str, Any]:
    """What a bullet record keeps of a strike beyond where it hit: the material, the drill's
    role for it, the inches crossed and the speed it left with (0: it stopped there)."""
    if strike is None:
        return {}
    on_body = {}
    if strike.segment is not None and strike.segment_offset_m is not None:
        on_body = {
            "segment": strike.segment,
            "segment_offset_m": [round(c, 4) for c in strike.segment_offset_m],
        }
    return {
        "material": strike.material,
        "role": strike.role,
        "thickness_in": round(strike.thickness_in, 3),
        "exit_mps": round(strike.exit_mps, 2),
    } | on_body


def _check_fixed_taser(config: RunConfig) -> None:
    """Refuse, in one line, a `--taser` that contradicts the TASER a drill fixes
    (`taser_model`, `taser_loads`): the device and its cartridges are part of the drill's
    scenario (a CQ cartridge's 16 ft edge, an X26P's cycle), what its runs are compared on
    and what its rules judge, so a run with another is not a run of that drill (nu24 #7). A
    `--taser` that names the drill's own TASER (and loads) is taken; one on a drill that fixes
    the model alone may choose the cartridges."""
    drill = config.drill
    if config.taser_model is None or drill.taser_model is None:
        return
    given = config.taser_model.slug
    loads = config.taser_cartridges
    same_loads = loads is None or drill.taser_loads is None or list(loads) == drill.taser_loads
    if given == drill.taser_model and same_loads:
        return
    fixed = drill.taser_model + (
        f" loaded {', '.join(drill.taser_loads)}" if drill.taser_loads is not None else ""
    )
    spec = given + (f":{','.join(loads)}" if loads is not None else "")
    raise ValueError(
        f"--taser {spec}: drill {drill.id} fixes its TASER ({fixed}): the device is part of"
        " its scenario, so a run with another is not a run of it; leave --taser out, or copy"
        " the drill and change its taser_model / taser_loads"
    )


def _loads(cartridge_ids: tuple[str, ...] | None) -> tuple[CartridgeCode, ...] | None:
    """Bay loads for the emulator from physics cartridge ids (None: the model's default)."""
    if cartridge_ids is None:
        return None
    codes = {code.cartridge_id: code for code in CartridgeCode if code.cartridge_id}
    unknown = [c for c in cartridge_ids if c not in codes]
    if unknown:
        raise ValueError(f"unknown cartridge(s) {', '.join(unknown)}; known: {', '.join(codes)}")
    return tuple(codes[c] for c in cartridge_ids)


def run_drill(config: RunConfig, progress: Progress | None = None) -> RunResult:
    return Session(config, progress).run()


def _keep_answer_audio(answer: dict[str, Any], writer: RunWriter | None) -> dict[str, Any]:
    """A debrief answer's fields for its `debrief_answer` record: a spoken answer's audio
    (DEBRIEF_AUDIO: the recording's Path, or the microphone's samples) kept in the
    run folder as `debrief-<question>.<ext>`, named by `clip` and `clip_sha256`, so a reviewer
    can listen to what was said (a run not saved keeps none)."""
    fields = dict(answer)
    audio = fields.pop(DEBRIEF_AUDIO, None)
    if audio is None or writer is None:
        return fields
    if isinstance(audio, Path):
        name = f"debrief-{fields['question']}{audio.suffix.lower() or '.wav'}"
        content = audio.read_bytes()  # the recording as given, byte for byte
        writer.keep(name, content)
    else:
        from range.voice.audio import write_wav

        name = f"debrief-{fields['question']}.wav"
        content = write_wav(writer.path / name, audio).read_bytes()
    return fields | {"clip": name, "clip_sha256": sha256(content)}
