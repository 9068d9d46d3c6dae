"""The frame loop: one drill run, wired through the same path real hardware takes.

Replicas (emulated behind real ptys, or real ones) -> pyserial -> host link -> peripheral events
stamped in host time -> weapon pose at that time -> PyBullet probe or bullet flight -> drill
engine -> event log -> scorer. A simulated run is lock-step: time is steps x dt on a manual clock,
and each frame ends with a PING barrier on every link, so the run is deterministic from its seed.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drills.engine import DrillEngine, OfficerAction, RunState
from drills.log import LogRecord, MemoryLog
from drills.officer import Act, Intent, OfficerScript, ScriptedOfficer
from drills.schema import Drill, DrillFile
from peripherals.clock import ManualClock
from peripherals.driver import DeviceInfo
from peripherals.emulator import TASER_SPECS, PistolEmulator, TaserEmulator
from peripherals.events import PeripheralEvent
from peripherals.messages import CartridgeCode, EventKind, Model
from physics.animation import SubjectAnimator
from physics.ballistics import fly_bullet, load
from physics.body import BODY_SIZES, DEFAULT_CLOTHING_GAP_IN, Region, SubjectBody
from physics.pose import Pose
from physics.taser import ProbeImpact, assess, cartridge, fly_probes, prepare
from physics.units import FT_M
from physics.world import RangeWorld
from range import __version__
from range.calibration.profiles import calibration_for_run
from range.runs.lane import Lane, Replica
from range.runs.poses import ScriptedPoses
from range.runs.runlog import RunWriter
from range.runs.saved import drill_source, sha256
from range.runs.seeding import RunRandom
from scoring.policy import Policy, default_policy
from scoring.score import Score, score_run

Progress = Callable[[float, float, str], None]
# How far down the bore a weapon counts as pointed at someone.
POINTING_RANGE_M = 30.0
# A brisk tactical walk to cover.
OFFICER_WALK_MPS = 1.5
# How long a suspended drill waits for its replica to come back before it is faulted.
FAULT_AFTER_S = 10.0


@dataclass(frozen=True, slots=True)
class RunConfig:
    drill: Drill
    officer: OfficerScript
    seed: int
    policy: Policy = field(default_factory=default_policy)
    dt_s: float = 1 / 90
    taser_model: Model = Model.TASER_7
    pistol_load: str = "9mm-124"
    runs_dir: Path | None = None
    # Fault drill: pull the TASER's cable at this drill time and plug it back in after
    # `replug_after_s` of real time. The drill suspends meanwhile and resumes when it is back.
    unplug_taser_at_s: float | None = None
    replug_after_s: float = 0.3
    # The instructor's branch buttons: (drill time, button name), pressed in order.
    instructor: tuple[tuple[float, str], ...] = ()
    # Who the officer is, for the records and for hit / false-alarm rates across runs.
    officer_name: str = "scripted"
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

    def as_json(self) -> dict[str, Any]:
        return {
            "openrange_version": __version__,
            "drill": self.config.drill.id,
            "drill_sha256": self.drill_sha256,
            "officer": self.config.officer.id,
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


class Session:
    """One run of one drill. Build it, `run()` it; it cleans up its ports and world."""

    def __init__(self, config: RunConfig, progress: Progress | None = None) -> None:
        self.config = config
        self.progress = progress
        self.clock = ManualClock()
        self.random = RunRandom(config.seed)
        self.physics_rng = self.random.stream("physics")
        self.poses = ScriptedPoses(tracking_lost=config.tracking_lost)
        self.drawn: Replica | None = None
        self.aimed_subject: str | None = None
        self.frame_times_s: list[float] = []
        self._suspended_since: float | None = None
        self._unplugged = False
        self.officer_xy: tuple[float, float] = (0.0, 0.0)
        self.destination: tuple[float, float] | None = None
        self._buttons = list(config.instructor)
        self._pointed_at: str | None = None

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
                gap = dict(DEFAULT_CLOTHING_GAP_IN)
                gap.update({r: spec.clothing_gap_in for r in Region if gap[r] > 0})
                self.bodies[spec.id] = SubjectBody(BODY_SIZES[spec.size], gap)
            for cover in drill.scene.cover:
                world.add_cover(
                    cover.name,
                    (cover.x_ft * FT_M, cover.y_ft * FT_M, 0.0),
                    (cover.depth_ft * FT_M, cover.width_ft * FT_M, cover.height_ft * FT_M),
                )
            world.add_prop(drill.scene.prop_parts())
            port_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="or-")))
            self.lane = Lane(self.clock, port_dir)
            stack.callback(self._close)
            self.lane.add(
                TaserEmulator(config.taser_model, "SIM-TASER-0001", self.clock, directory=port_dir),
                "taser",
            )
            self.lane.add(
                PistolEmulator("SIM-PISTOL-0001", self.clock, directory=port_dir), "firearm"
            )
            self.replicas = self.lane.replicas
            copy_name, copy, drill_path = drill_source(drill, config.drill_file)
            writer = RunWriter(config.runs_dir, drill.id) if config.runs_dir else None
            if writer is not None:
                stack.callback(writer.close)
                (writer.path / copy_name).write_bytes(copy)
            log = MemoryLog(writer) if writer is not None else MemoryLog()
            engine = DrillEngine(drill, self.random.stream("drill"), log, dt_s=config.dt_s)
            self.engine = engine
            self.animator = SubjectAnimator(config.seed)
            for subject in engine.subjects.values():
                self.bodies[subject.id] = self.bodies[subject.id].in_stance(subject.stance)
                world.add_subject(
                    subject.id, self.bodies[subject.id], (*subject.position_m, 0.0), subject.yaw_rad
                )
            officer = ScriptedOfficer(config.officer, self.random.stream("officer"))
            devices = self.lane.devices()
            calibration = self._check_calibration(devices)
            engine.start(
                drill_sha256=sha256(copy),
                drill_file=drill_path,
                seed=config.seed,
                officer=config.officer.id,
                policy=config.policy.id,
                officer_name=config.officer_name,
                weapons=[r.weapon for r in self.replicas],
                devices=[
                    {"model": d.model.slug, "serial": d.serial, "firmware": d.firmware}
                    for d in devices
                ],
                openrange_version=__version__,
                calibration=calibration,
                calibration_override_by=config.override_by if config.require_calibration else None,
            )
            prepare(
                [c.cartridge_id for c in TASER_SPECS[config.taser_model].loads if c.cartridge_id]
            )
            self._update_poses()
            while not engine.finished:
                started = time.perf_counter()
                self._frame(officer)
                self.frame_times_s.append(time.perf_counter() - started)
                if self.progress is not None:
                    seen = engine.observe()
                    self.progress(engine.t, drill.time_limit_s, seen.subjects[0].phase)
            score = score_run(log.records, config.policy)
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
            )
            if writer is not None:
                writer.finish(result.as_json())
            return result

    # -- one frame -------------------------------------------------------------------------------

    def _check_calibration(self, devices: list[DeviceInfo]) -> list[dict[str, Any]]:
        config = self.config
        return calibration_for_run(
            [d.serial for d in devices],
            required=config.require_calibration,
            folder=config.calibration_dir,
            override_by=config.override_by,
        )

    def _close(self) -> None:
        self.lane.close()

    def _frame(self, officer: ScriptedOfficer) -> None:
        engine = self.engine
        self.clock.set(engine.t)
        unplug_at = self.config.unplug_taser_at_s
        if unplug_at is not None and not self._unplugged and engine.t >= unplug_at:
            self._unplugged = True
            self.lane.pull_cable(self.replicas[0], self.config.replug_after_s)
        self.lane.release_triggers()
        if engine.state is RunState.RUNNING:
            while self._buttons and self._buttons[0][0] <= engine.t + 1e-9:
                engine.instructor(self._buttons.pop(0)[1])
            for intent in officer.decide(engine.observe()):
                self._act(intent)
        self.lane.service()
        if not self._barrier():
            return
        self._handle(self.lane.poll())
        self._check_pointing()
        self._walk()
        engine.step(self.officer_xy)
        for subject in engine.subjects.values():
            if subject.stance is not self.world.body(subject.id).stance:
                self.world.set_stance(subject.id, subject.stance)
                self.bodies[subject.id] = self.world.body(subject.id)
            self.world.place_subject(subject.id, (*subject.position_m, 0.0), subject.yaw_rad)
            pose = self.animator.update(
                subject.id,
                engine.t,
                subject.position_m,
                subject.yaw_rad,
                subject.behaviour.value,
                subject.stance.value,
                subject.held_object.value,
                self.bodies[subject.id].skeleton(),
            )
            self.world.pose_subject(subject.id, pose)
        self._update_poses()

    def _barrier(self) -> bool:
        """Wait until every replica has delivered what it sent this frame; suspend the drill
        (timer frozen, outputs safe) while one does not answer, re-attach it by serial number
        when it comes back, and fault the drill if it never does."""
        engine = self.engine
        silent = self.lane.barrier()
        if not silent:
            engine.resume()
            self._suspended_since = None
            return True
        names = ", ".join(f"{r.weapon} {r.emulator.serial}" for r in silent)
        if engine.state is RunState.RUNNING:
            self.lane.make_safe(silent)
        engine.suspend(f"no answer from {names}")
        if self._suspended_since is None:
            self._suspended_since = time.monotonic()
        for replica in silent:
            if self.lane.reattach(replica):
                engine.log.emit(
                    engine.t,
                    "device_reattached",
                    serial=replica.emulator.serial,
                    weapon=replica.weapon,
                )
        if time.monotonic() - self._suspended_since > FAULT_AFTER_S:
            engine.fault(f"{names} did not come back within {FAULT_AFTER_S:.0f} s")
        return False

    def _check_pointing(self) -> None:
        """Which subject the drawn weapon's bore covers, from its pose (as with hardware): a new
        one is an officer action the drill can branch on."""
        if self.drawn is None:
            self._pointed_at = None
            return
        muzzle = self.poses.pose("weapon", self.engine.t)
        start = np.asarray(muzzle.position_m)
        points = np.array([start, start + muzzle.forward() * POINTING_RANGE_M])[:, None, :]
        ends = self.world.cast_paths(points, np.array([0.0, 1.0]), np.zeros((2, 1)))
        target = self.world.targets[ends.target[0]] if ends.target[0] >= 0 else None
        covered = target if target in self.engine.subjects else None
        if covered is not None and covered != self._pointed_at:
            self.engine.officer_action(
                OfficerAction.WEAPON_POINTED, subject=covered, weapon=self.drawn.weapon
            )
        self._pointed_at = covered

    def _walk(self) -> None:
        """The officer walks toward the script's destination (to cover, say)."""
        if self.destination is None:
            return
        x, y = self.officer_xy
        dx, dy = self.destination[0] - x, self.destination[1] - y
        distance = math.hypot(dx, dy)
        step = OFFICER_WALK_MPS * self.config.dt_s
        if distance <= step:
            self.officer_xy, self.destination = self.destination, None
        else:
            self.officer_xy = (x + dx / distance * step, y + dy / distance * step)
        self.poses.officer_xy = self.officer_xy

    def _update_poses(self) -> None:
        subject = next(iter(self.engine.subjects.values()))
        if self.aimed_subject is not None:
            subject = self.engine.subjects[self.aimed_subject]
        self.poses.update(
            self.engine.t, subject.position_m, subject.yaw_rad, self.bodies[subject.id]
        )

    def _act(self, intent: Intent) -> None:
        """Turn the scripted officer's intent into what hands do to the replicas."""
        taser, pistol = self.replicas
        if intent.act is Act.VERBAL_COMMAND:
            self.engine.officer_action(OfficerAction.VERBAL_COMMAND, say=intent.say)
        elif intent.act in (Act.DRAW_TASER, Act.DRAW_FIREARM):
            wanted = taser if intent.act is Act.DRAW_TASER else pistol
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

    def _holster(self, replica: Replica) -> None:
        if isinstance(replica.emulator, TaserEmulator):
            replica.emulator.set_safety(True)
        replica.emulator.holster()

    def _handle(self, events: list[PeripheralEvent]) -> None:
        engine = self.engine
        fired: dict[tuple[str, int, float], list[PeripheralEvent]] = {}
        for event in events:
            engine.log.emit(event.host_time_s, "device_event", **event.as_record())
            weapon = "taser" if event.model.is_taser else "firearm"
            t = event.host_time_s
            if event.kind is EventKind.HOLSTER_OUT:
                engine.officer_action(OfficerAction(f"{weapon}_drawn"), t, serial=event.serial)
            elif event.kind is EventKind.HOLSTER_IN:
                engine.officer_action(OfficerAction(f"{weapon}_holstered"), t, serial=event.serial)
            elif event.kind is EventKind.PROBES_FIRED:
                fired.setdefault((event.serial, event.bay, t), []).append(event)
            elif event.kind is EventKind.SHOT_FIRED:
                self._shot(event)
            elif event.kind is EventKind.CYCLE_ENDED:
                engine.cycle_ended(t, serial=event.serial, stopped_by_safety=bool(event.value))
        for (serial, bay, t), probes in fired.items():
            self._deployment(serial, bay, t, probes)

    def _muzzle(self, t: float) -> tuple[Pose, dict[str, Any]]:
        pose = self.poses.pose("weapon", t)
        record = {
            "position_m": [round(c, 6) for c in pose.position_m],
            "orientation": [round(c, 8) for c in pose.orientation],
            "tracked": pose.usable,
        }
        return pose, record

    def _deployment(self, serial: str, bay: int, t: float, probes: list[PeripheralEvent]) -> None:
        code = CartridgeCode(probes[0].value)
        cartridge_id = code.cartridge_id
        if cartridge_id is None:
            return
        muzzle, record = self._muzzle(t)
        self.engine.officer_action(
            OfficerAction.TASER_FIRED,
            t,
            serial=serial,
            bay=bay,
            cartridge=cartridge_id,
            subject=self.aimed_subject,
            muzzle=record,
        )
        if not muzzle.usable:
            self._untracked("taser", serial, t)
            return
        impacts: list[ProbeImpact] = fly_probes(
            self.world,
            cartridge(cartridge_id),
            muzzle,
            self.physics_rng,
            self.animator.motion(self.world, self.engine.t),
        )
        targets = [i.target for i in impacts if i.target in self.engine.subjects]
        subject = max(set(targets), key=targets.count) if targets else None
        outcome = assess(impacts, subject or "")
        self.engine.probes(
            impacts, outcome, subject, t + (outcome.onset_s or 0.0), serial=serial, bay=bay
        )

    def _untracked(self, weapon: str, serial: str, t: float) -> None:
        """Fired while tracking was lost: where it went is unknown, so it is recorded as
        untracked and neither flown nor scored as a miss."""
        self.engine.log.emit(t, "untracked_shot", weapon=weapon, serial=serial)

    def _shot(self, event: PeripheralEvent) -> None:
        muzzle, record = self._muzzle(event.host_time_s)
        self.engine.officer_action(
            OfficerAction.FIREARM_FIRED,
            event.host_time_s,
            serial=event.serial,
            rounds_left=event.value,
            subject=self.aimed_subject,
            muzzle=record,
        )
        if not muzzle.usable:
            self._untracked("firearm", event.serial, event.host_time_s)
            return
        impact = fly_bullet(self.world, load(self.config.pistol_load), muzzle, self.physics_rng)
        self.engine.bullet(impact, event.host_time_s, serial=event.serial)


def run_drill(config: RunConfig, progress: Progress | None = None) -> RunResult:
    return Session(config, progress).run()
