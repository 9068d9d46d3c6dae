"""The drill engine: a fixed-step state machine that plays a drill and logs every fact.

Inputs are officer actions (from replicas and poses, or from the scripted officer), physics
outcomes (probe deployments, bullet impacts) and instructor buttons; the output is the event log.
Given the same inputs and seed, two runs write the same log.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from drills.deescalation import Agitation, parse_agitation_trigger
from drills.events import probe_record
from drills.log import LOG_FORMAT, MemoryLog
from drills.schema import Drill, OfficerCue, Phase
from drills.speech import ACT, act_matches, officer_spoke, parse_speech_trigger
from drills.threat import Behaviour, HeldObject, Threat, threat_of
from drills.voicing import OFFICER, heard_from
from physics.ballistics import BulletImpact
from physics.body import Region, Stance
from physics.taser import Assessment, Effect, ProbeImpact
from physics.units import FT_M, m_to_ft

# facts.md §1: a cycle lasts 5 s per trigger pull; motor control returns 1.27 s after a 5 s
# exposure (Criscione & Kroll 2014).
TASER_CYCLE_S = 5.0
RECOVERY_S = 1.27
CONTACT_DISTANCE_M = 0.6
# The officer's arm and the device's length: a subject this close can be drive-stunned. A
# design value (no published figure); a subject who closes to contact stops at 0.6 m.
DRIVE_STUN_REACH_M = 0.9
POSITION_LOG_PERIOD_S = 0.1
AGITATION_LOG_PERIOD_S = 1.0


class RunState(StrEnum):
    READY = "ready"
    RUNNING = "running"
    SUSPENDED = "suspended"  # a device fault: outputs safe, the drill clock frozen
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAULTED = "faulted"


class OfficerAction(StrEnum):
    VERBAL_COMMAND = "verbal_command"
    TASER_DRAWN = "taser_drawn"
    FIREARM_DRAWN = "firearm_drawn"
    TASER_HOLSTERED = "taser_holstered"
    FIREARM_HOLSTERED = "firearm_holstered"
    TASER_FIRED = "taser_fired"
    FIREARM_FIRED = "firearm_fired"
    WEAPON_POINTED = "weapon_pointed"


class DrillStateError(RuntimeError):
    pass


@dataclass(slots=True)
class SubjectState:
    id: str
    role: str
    held_object: HeldObject
    position_m: tuple[float, float]
    yaw_rad: float
    phase: Phase
    phase_since_s: float
    incapacitated_until_s: float | None = None
    spent: set[int] = field(default_factory=set)
    stance: Stance = Stance.STANDING
    attributes: dict[str, Any] = field(default_factory=dict)
    cycles: int = 0  # TASER cycles received in the run
    agitation: Agitation | None = None  # the subject's de-escalation model, when it has one

    @property
    def behaviour(self) -> Behaviour:
        if self.incapacitated_until_s is not None:
            return Behaviour.INCAPACITATED
        return self.phase.behaviour

    @property
    def threat(self) -> Threat:
        return threat_of(self.behaviour, bool(self.attributes.get("danger_to_others")))

    @property
    def acting(self) -> bool:
        """Acting on the threat: the phase says so, or by default an assaultive or deadly one."""
        if self.threat is Threat.NONE:
            return False
        if self.phase.acting is not None:
            return self.phase.acting
        return self.threat >= Threat.ASSAULTIVE


@dataclass(slots=True)
class Circuit:
    """A TASER's probes still attached to a subject, and the cycle running through them."""

    subject: str
    effect: Effect
    mode: str = "probe"  # or "drive_stun": the front pressed to the body, no probes
    cycles: int = 0  # cycles of this deployment so far
    cycle_started_s: float | None = None  # None: no cycle running
    cycle: int = 0  # the subject's cycle number of the running cycle
    ends_s: float | None = None  # a scripted drive-stun's hold ends then (run s)


@dataclass(frozen=True, slots=True)
class SubjectView:
    id: str
    role: str
    stance: Stance
    phase: str
    behaviour: Behaviour
    threat: Threat
    held_object: HeldObject
    position_m: tuple[float, float]
    yaw_rad: float
    distance_m: float


@dataclass(frozen=True, slots=True)
class Observation:
    """What the scripted officer and the wiring may know of the scene at time t."""

    t: float
    state: RunState
    subjects: tuple[SubjectView, ...]

    def subject(self, subject_id: str | None = None) -> SubjectView:
        if subject_id is None:
            return self.subjects[0]
        return next(s for s in self.subjects if s.id == subject_id)


class DrillEngine:
    def __init__(
        self,
        drill: Drill,
        rng: np.random.Generator,
        log: MemoryLog,
        *,
        dt_s: float = 1 / 90,
        officer_position_m: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.drill = drill
        self.rng = rng
        self.log = log
        self.dt_s = dt_s
        self.steps = 0
        self.state = RunState.READY
        self.end_reason = ""
        self.officer_position_m = officer_position_m
        # The officer's head: facing downrange until a headset says otherwise (the live runner
        # sets it from the head pose); subjects' lines are placed by it (`subject_spoke`).
        self.officer_yaw_rad = 0.0
        # An empathy scene's listener head as a live headset turns it (range/xr/lane.py: the
        # perspective subject's gaze with the wearer's head turn added); None: the subject's own
        # heading.
        self.listener_yaw_rad: float | None = None
        self._last_positions_s = -math.inf
        self._spoken = 0  # officer_spoke records logged (each carries its number, `n`)
        # Called once as a running run ends, before `run_ended`: the runner logs what the
        # officer was still being heard saying (an utterance in progress is finished, its acts
        # `spoke`n; nu17c #4). Speech it logs is answered as any other.
        self.before_end: Callable[[], None] | None = None
        # Called once as the run ends, after `before_end` and before the end is logged: from
        # here on the run is over whatever comes (a caller holds a Ctrl-C from now on, so the
        # ended run is saved and recorded whole: range/cli/drill.py).
        self.on_end: Callable[[], None] | None = None
        self._ending = False
        self.subjects: dict[str, SubjectState] = {}
        for spec in drill.subjects:
            position = (spec.start_distance_ft * FT_M, spec.lateral_ft * FT_M)
            yaw = self._yaw_toward(position, officer_position_m)
            if spec.facing == "away":
                yaw += math.pi
            self.subjects[spec.id] = SubjectState(
                spec.id,
                spec.role,
                spec.held_object,
                position,
                yaw,
                drill.phase(spec.start_phase),
                0.0,
                attributes=spec.attributes.model_dump(mode="json"),
            )
            self._apply_phase(self.subjects[spec.id])
            if spec.deescalation is not None:
                self.subjects[spec.id].agitation = Agitation(spec.deescalation, self.rng)
        self._last_agitation_s = 0.0
        self.circuits: dict[str | None, Circuit] = {}  # by device serial
        # Serials of TASERs whose held trigger continues a cycle past 5 s (the runner fills it
        # from each replica's model, peripherals.messages.Model.held_trigger_extends_cycle).
        self.held_trigger_devices: set[str | None] = set()
        # Deployments in flight: (arrival run time, serial, subject, effect), connected by the
        # first step at or after their second probe's arrival (`probes`).
        self._arriving: list[tuple[float, str | None, str, Effect]] = []

    @property
    def t(self) -> float:
        return self.steps * self.dt_s

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, **meta: Any) -> None:
        if self.state is not RunState.READY:
            raise DrillStateError(f"cannot start a run that is {self.state}")
        self.state = RunState.RUNNING
        self.log.emit(
            0.0,
            "run_started",
            log_format=LOG_FORMAT,
            drill=self.drill.id,
            dt_s=self.dt_s,
            subjects={
                s.id: {
                    "role": s.role,
                    "held_object": s.held_object.value,
                    "start_m": list(s.position_m),
                }
                for s in self.subjects.values()
            },
            cover=[
                {
                    "name": c.name,
                    "x_m": c.x_ft * FT_M,
                    "y_m": c.y_ft * FT_M,
                    "width_m": c.width_ft * FT_M,
                    "depth_m": c.depth_ft * FT_M,
                    "officer_cover": c.officer_cover,
                    "material": c.material,
                    "role": c.role,
                }
                for c in self.drill.scene.cover
            ],
            crowds=[
                {
                    "name": c.name,
                    "x_m": c.x_ft * FT_M,
                    "y_m": c.y_ft * FT_M,
                    "width_m": c.width_ft * FT_M,
                    "depth_m": c.depth_ft * FT_M,
                }
                for c in self.drill.scene.crowds
            ],
            lane_length_m=self.drill.scene.lane_length_ft * FT_M,
            **self._empathy_meta(),
            **self._talk_down_meta(),
            **meta,
        )
        for subject in self.subjects.values():
            self._log_phase(subject)
            self._log_agitation(subject, "start")
        self._log_positions(force=True)

    def suspend(self, reason: str) -> None:
        if self.state is RunState.RUNNING:
            self.state = RunState.SUSPENDED
            self.log.emit(self.t, "run_suspended", reason=reason)

    def resume(self) -> None:
        if self.state is RunState.SUSPENDED:
            self.state = RunState.RUNNING
            self.log.emit(self.t, "run_resumed")

    def abort(self, reason: str) -> None:
        self._end(RunState.ABORTED, reason)

    def fault(self, reason: str) -> None:
        self._end(RunState.FAULTED, reason)

    @property
    def finished(self) -> bool:
        return self.state in (RunState.COMPLETED, RunState.ABORTED, RunState.FAULTED)

    def _end(self, state: RunState, reason: str) -> None:
        if self.finished or self._ending:
            return  # (an end while `before_end` runs: the first end stands)
        if self.before_end is not None and self.state is RunState.RUNNING:
            self._ending = True
            try:
                self.before_end()
            finally:
                self._ending = False
        if self.on_end is not None:
            self.on_end()
        self.state = state
        self.end_reason = reason
        for serial in list(self.circuits):
            self._end_exposure(serial, self.t, "run_end")
        self._log_positions(force=True)
        self.log.emit(self.t, "run_ended", state=state.value, reason=reason)

    # -- inputs ----------------------------------------------------------------------------------

    def officer_action(self, action: OfficerAction, t: float | None = None, **data: Any) -> None:
        """Record what the officer did at `t` (host-stamped; defaults to now)."""
        self._require_running()
        at = self.t if t is None else t
        self.log.emit(at, "officer_action", action=action.value, **data)
        cue: OfficerCue | None = {
            OfficerAction.VERBAL_COMMAND: "verbal_command",
            OfficerAction.TASER_DRAWN: "taser_drawn",
            OfficerAction.FIREARM_DRAWN: "firearm_drawn",
            OfficerAction.TASER_FIRED: "taser_fired",
            OfficerAction.FIREARM_FIRED: "firearm_fired",
            OfficerAction.WEAPON_POINTED: "weapon_pointed",
        }.get(action)  # type: ignore[assignment]
        for subject in self.subjects.values():
            if subject.agitation is None:
                continue
            if action is OfficerAction.WEAPON_POINTED and data.get("subject") == subject.id:
                subject.agitation.weapon_pointed()
                self._log_agitation(subject, "weapon_pointed", at)  # with what caused it
            elif action in (OfficerAction.TASER_HOLSTERED, OfficerAction.FIREARM_HOLSTERED):
                subject.agitation.holstered()
        if cue is not None:
            for subject in self.subjects.values():
                self._cue(subject, cue, at)

    def spoke(
        self,
        act: str,
        t: float | None = None,
        *,
        text: str,
        confidence: float,
        start_s: float,
        end_s: float,
        clip: str | None = None,
        loudness_dbfs: float | None = None,
        phrase: str | None = None,
    ) -> None:
        """The officer was heard saying speech act `act` (drills/speech.py), decided at run time
        `t` (defaults to now): logged as `officer_spoke`; each subject's agitation answers it
        (a shout at `loudness_dbfs` >= its model's `shout_dbfs` raises it); then each subject
        takes its first `speech:` transition the act matches (`speech:command` matches every
        command), else its first `verbal_command` one, so drills written for the scripted
        officer's verbal steps play with a live voice too. Raises ValueError for a malformed
        act, a confidence outside 0..1 or speech that ends before it starts."""
        self._require_running()
        self._spoken += 1
        record = officer_spoke(
            self.t if t is None else t,
            text=text,
            act=act,
            confidence=confidence,
            start_s=start_s,
            end_s=end_s,
            clip=clip,
            loudness_dbfs=loudness_dbfs,
            n=self._spoken,
            phrase=phrase,
        )
        self.log.append(record)
        self._answer_speech(act, loudness_dbfs, record.t)

    def marked(self, act: str) -> None:
        """An instructor marked the officer saying `act` live (the recogniser missed it; the
        caller logged the mark as an `instructor_command`): the subjects answer it as they
        answer `spoke`, since the officer did say it. Raises ValueError for a malformed act."""
        self._require_running()
        if not re.match(ACT, act):
            raise ValueError(f"{act!r} is not a speech act")
        self._answer_speech(act, None)

    def _answer_speech(
        self, act: str, loudness_dbfs: float | None, at: float | None = None
    ) -> None:
        """Each subject's answer to act `act` heard at run time `at` (now if None)."""
        when = self._reaction_t(at)
        for subject in self.subjects.values():
            if subject.agitation is not None and subject.agitation.heard(act, loudness_dbfs):
                self._log_agitation(subject, "speech", when)
        for subject in self.subjects.values():
            heard = [
                i
                for i, tr in enumerate(subject.phase.transitions)
                if tr.on is not None
                and (trigger := parse_speech_trigger(tr.on)) is not None
                and act_matches(trigger, act)
            ]
            if not any(self._take(subject, i, at) for i in heard):
                self._cue(subject, "verbal_command", at)

    def probes(
        self,
        impacts: list[ProbeImpact],
        outcome: Assessment,
        subject_id: str | None,
        t: float | None = None,
        **data: Any,
    ) -> None:
        """A TASER deployment's physics outcome against `subject_id` (None: nobody was hit),
        fired at run time `t`. The deployment is logged at `t`; the circuit closes when its
        second probe arrives (`outcome.onset_s` after `t`), so the cycle and incapacitation
        start at the first engine step at or after that moment (within one step, 11 ms at
        90 Hz), which keeps the log in time order."""
        self._require_running()
        when = self.t if t is None else t
        self.log.emit(
            when,
            "probe_impacts",
            subject=subject_id,
            impacts=[probe_record(i) for i in impacts],
            effect=outcome.effect.value,
            spread_in=None if outcome.spread_in is None else round(outcome.spread_in, 3),
            connected=list(outcome.connected),
            avoid_zone=list(outcome.avoid_zone),
            reason=outcome.reason,
            **data,
        )
        serial = data.get("serial")
        # A new cartridge from the same device ends the cycle through the old probes.
        self._end_exposure(serial, when, "new_pull")
        self.circuits.pop(serial, None)
        self._arriving = [a for a in self._arriving if a[1] != serial]
        if subject_id is None or outcome.effect is Effect.NONE:
            return
        arrives = when + (outcome.onset_s or 0.0)
        if arrives > self.t + 1e-9:
            self._arriving.append((arrives, serial, subject_id, outcome.effect))
        else:
            self._connect(serial, subject_id, outcome.effect, max(when, arrives))

    def _connect(self, serial: str | None, subject_id: str, effect: Effect, when: float) -> None:
        """The circuit closes: a cycle through the subject starts. Cues `probes_attached` on
        any connection (a reduced effect too) and `probes_connected` on a full one, the
        incapacitation the engine then plays (docs/drills.md; nu24 #9)."""
        self.circuits[serial] = Circuit(subject_id, effect)
        self._start_cycle(serial, when)
        subject = self.subjects[subject_id]
        # A phase that waits on both takes the full one's branch on a full connection.
        if not (effect is Effect.FULL and self._cue(subject, "probes_connected", when)):
            self._cue(subject, "probes_attached", when)

    def arc(
        self,
        t: float | None = None,
        serial: str | None = None,
        *,
        drive_stun: bool = False,
        touched: str | None = None,
    ) -> None:
        """A trigger or ARC press with no cartridge left to fire (the device's `arc_switch`): with
        probes still attached from this device it re-energises them, a new cycle through the
        subject (re-incapacitation when the connection is a full one). With none attached, on a
        model that can drive-stun (`drive_stun`), the subject the front `touched` (a live
        press: the runner found the contact), else a subject within DRIVE_STUN_REACH_M of the
        officer, takes a drive-stun cycle: pain, no incapacitation (the front's electrodes are
        too close together to lock the muscles). Otherwise it only arcs at the front."""
        self._require_running()
        when = self.t if t is None else t
        circuit = self.circuits.get(serial)
        if circuit is not None:
            self._end_exposure(serial, when, "new_pull")  # a drive-stun's circuit goes with it
        if serial not in self.circuits:
            if not drive_stun:
                return
            reach = [
                (self.distance_m(s), s.id)
                for s in self.subjects.values()
                if s.role == "subject" and self.distance_m(s) <= DRIVE_STUN_REACH_M
            ]
            if touched is not None:
                reach = [(0.0, touched)]
            if not reach:
                return
            self.circuits[serial] = Circuit(min(reach)[1], Effect.REDUCED, mode="drive_stun")
        self._start_cycle(serial, when)

    def drive_stun_contact(
        self, subject_id: str, region: Region | None, serial: str | None, t: float | None = None
    ) -> None:
        """A live ARC press with the TASER's front against `subject_id`'s body at `region` (the
        runner found the contact on the tracked front; the model has a drive-stun mode and no
        probes of this device are attached): logged as a `drive_stun` record, as the scripted
        step's, with `duration_s` null (the hold is the officer's: the press ends it,
        `arc_released`, and its `taser_exposure` says how long it was), then its cycle."""
        self._require_running()
        when = self.t if t is None else t
        self.log.emit(
            when,
            "drive_stun",
            subject=subject_id,
            serial=serial,
            region=None if region is None else region.value,
            distance_m=round(self.distance_m(self.subjects[subject_id]), 3),
            duration_s=None,
        )
        self.arc(when, serial, drive_stun=True, touched=subject_id)

    def arc_released(self, t: float | None = None, serial: str | None = None) -> None:
        """The live officer let go of the ARC switch (the TASER's `trigger_released`): a
        drive-stun's cycle through the front ends there (`taser_exposure` ended_by
        "released": the hold); probes' cycles run on as the device runs them."""
        self._require_running()
        circuit = self.circuits.get(serial)
        if circuit is not None and circuit.mode == "drive_stun":
            self._end_exposure(serial, self.t if t is None else t, "released")

    def drive_stun(
        self,
        region: Region | None,
        duration_s: float | None = None,
        serial: str | None = None,
        t: float | None = None,
    ) -> None:
        """The officer presses the TASER's front to the nearest subject at body `region`, for
        `duration_s` (None: until the device's cycle ends): logged as a `drive_stun` record
        (subject None when nobody is within DRIVE_STUN_REACH_M), then, within reach, a
        drive-stun cycle as `arc` runs it, ended after the hold at the first step at or after
        it. The caller checks that the model has a drive-stun mode (physics.taser)."""
        self._require_running()
        when = self.t if t is None else t
        near = min(
            ((self.distance_m(s), s.id) for s in self.subjects.values() if s.role == "subject"),
            default=None,
        )
        reached = near is not None and near[0] <= DRIVE_STUN_REACH_M
        self.log.emit(
            when,
            "drive_stun",
            subject=near[1] if reached and near is not None else None,
            serial=serial,
            region=None if region is None else region.value,
            distance_m=round(near[0], 3) if near is not None else 0.0,
            duration_s=duration_s,
        )
        if reached:
            self.arc(when, serial, drive_stun=True)
            circuit = self.circuits.get(serial)
            if circuit is not None and duration_s is not None:
                circuit.ends_s = when + duration_s

    def _start_cycle(self, serial: str | None, when: float) -> None:
        circuit = self.circuits[serial]
        subject = self.subjects[circuit.subject]
        subject.cycles += 1
        circuit.cycles += 1
        circuit.cycle = subject.cycles
        circuit.cycle_started_s = when
        # Logged before the cycle's own effect, so the cycle is judged against the threat the
        # officer faced when pulling.
        self.log.emit(
            when,
            "taser_cycle_started",
            subject=subject.id,
            serial=serial,
            mode=circuit.mode,
            cycle=subject.cycles,
            cycle_of_deployment=circuit.cycles,
            effect=circuit.effect.value,
        )
        if circuit.effect is not Effect.FULL:
            return
        until = when + TASER_CYCLE_S + RECOVERY_S
        # On a model whose held trigger keeps the cycle going (facts.md §1: the X26P), the
        # device's own cycle end decides when recovery starts; `until_s` is then the nominal 5 s.
        held = serial in self.held_trigger_devices
        if subject.incapacitated_until_s is None:
            subject.incapacitated_until_s = math.inf if held else until
            extra = {"open_cycle": True} if held else {}
            self.log.emit(
                when,
                "incapacitation_started",
                subject=subject.id,
                until_s=round(until, 6),
                **extra,
            )
        else:
            subject.incapacitated_until_s = max(
                subject.incapacitated_until_s, math.inf if held else until
            )

    def _end_exposure(self, serial: str | None, when: float, ended_by: str) -> None:
        circuit = self.circuits.get(serial)
        if circuit is None or circuit.cycle_started_s is None:
            return
        started, circuit.cycle_started_s = circuit.cycle_started_s, None
        self.log.emit(
            when,
            "taser_exposure",
            subject=circuit.subject,
            serial=serial,
            mode=circuit.mode,
            cycle=circuit.cycle,
            started_s=round(started, 6),
            duration_s=round(max(0.0, when - started), 6),
            ended_by=ended_by,
        )
        if circuit.mode == "drive_stun":  # nothing stays attached
            del self.circuits[serial]

    def probe_detached(
        self,
        serial: str | None,
        subject_id: str,
        probes: list[int],
        reason: str,
        circuit_open: bool,
        t: float | None = None,
    ) -> None:
        """Probes of device `serial` came off `subject_id` (the runner's per-step wire and fall
        checks, physics.taser.Circuit.check_wires / subject_fell): logged as `probe_detached`.
        When what is left no longer closes a circuit, the device's circuit through the subject
        ends: a running cycle ends there (`taser_exposure` ended_by "probe_detached"), recovery
        starts, and a later ARC press has nothing to re-energise."""
        self._require_running()
        when = self.t if t is None else t
        self.log.emit(
            when,
            "probe_detached",
            subject=subject_id,
            serial=serial,
            probes=probes,
            reason=reason,
            circuit_open=circuit_open,
        )
        if not circuit_open:
            return
        self._arriving = [a for a in self._arriving if a[1] != serial or a[2] != subject_id]
        circuit = self.circuits.get(serial)
        if circuit is None or circuit.subject != subject_id or circuit.mode != "probe":
            return
        self._end_exposure(serial, when, "probe_detached")
        del self.circuits[serial]
        subject = self.subjects[subject_id]
        until = subject.incapacitated_until_s
        if until is not None and until > when + RECOVERY_S:
            subject.incapacitated_until_s = when + RECOVERY_S

    def bullet(self, impact: BulletImpact, t: float | None = None, **data: Any) -> None:
        self._require_running()
        when = self.t if t is None else t
        self.log.emit(
            when,
            "bullet_impact",
            target=impact.target,
            region=None if impact.region is None else impact.region.value,
            point=[round(c, 4) for c in impact.point],
            velocity_mps=round(impact.velocity_mps, 2),
            **data,
        )
        if impact.target in self.subjects:
            self._cue(self.subjects[impact.target], "hit", when)

    def bullet_strike(
        self,
        target: str | None,
        region: Region | None,
        point: tuple[float, float, float],
        velocity_mps: float,
        t: float | None = None,
        **data: Any,
    ) -> None:
        """What a round struck after going through the first thing it hit (over-penetration,
        physics.penetration.fly_through): logged as a `bullet_strike`, and a subject struck is
        hit as by any round."""
        self._require_running()
        when = self.t if t is None else t
        self.log.emit(
            when,
            "bullet_strike",
            target=target,
            region=None if region is None else region.value,
            point=[round(c, 4) for c in point],
            velocity_mps=round(velocity_mps, 2),
            **data,
        )
        if target in self.subjects:
            self._cue(self.subjects[target], "hit", when)

    def cycle_ended(self, t: float | None = None, **data: Any) -> None:
        """The device's cycle ended (or the safety stopped it): recovery starts now, also after
        a cycle a held trigger kept going past 5 s (`held_trigger_devices`). Logged only when
        that cycle ran through a subject (a `taser_cycle_started` of this device, not yet
        ended): a device that only arced (its probes missed, or it was fired at nobody) ends
        no cycle the log has, and its own `cycle_ended` device event says so (nu19 #8: a
        "taser_cycle_ended, stopped_by_safety" beside "no cycle: the probes did not connect")."""
        self._require_running()
        when = self.t if t is None else t
        circuit = self.circuits.get(data.get("serial"))
        if circuit is None or circuit.cycle_started_s is None:
            return
        self.log.emit(when, "taser_cycle_ended", **data)
        self._end_exposure(
            data.get("serial"), when, "safety" if data.get("stopped_by_safety") else "cycle_end"
        )
        for subject in self.subjects.values():
            until = subject.incapacitated_until_s
            if until is not None and until > when + RECOVERY_S:
                subject.incapacitated_until_s = when + RECOVERY_S

    def instructor(self, button: str) -> None:
        self._require_running()
        self.log.emit(self.t, "instructor", button=button)
        for subject in self.subjects.values():
            for i, transition in enumerate(subject.phase.transitions):
                if transition.instructor == button and self._take(subject, i):
                    break

    def _require_running(self) -> None:
        if self.state is not RunState.RUNNING:
            raise DrillStateError(f"the run is {self.state}, not running")

    # -- time ------------------------------------------------------------------------------------

    def step(self, officer_position_m: tuple[float, float] | None = None) -> None:
        """Advance one fixed step. A suspended run keeps its clock frozen."""
        if self.state is not RunState.RUNNING:
            return
        if officer_position_m is not None:
            self.officer_position_m = officer_position_m
        self.steps += 1
        now = self.t
        arrived = [a for a in self._arriving if a[0] <= now + 1e-9]
        self._arriving = [a for a in self._arriving if a[0] > now + 1e-9]
        for _, serial, subject_id, effect in arrived:
            self._connect(serial, subject_id, effect, now)
        for serial, circuit in list(self.circuits.items()):  # a scripted drive-stun's hold
            if circuit.ends_s is not None and now >= circuit.ends_s - 1e-9:
                self._end_exposure(serial, now, "cycle_end")
        for subject in self.subjects.values():
            until = subject.incapacitated_until_s
            if until is not None and now >= until:
                subject.incapacitated_until_s = None
                self.log.emit(
                    now,
                    "incapacitation_ended",
                    subject=subject.id,
                    behaviour=subject.behaviour.value,
                    threat=subject.threat.name.lower(),
                )
            self._move(subject)
            if subject.agitation is not None:
                subject.agitation.advance(self.dt_s, m_to_ft(self.distance_m(subject)))
            self._timed_transitions(subject, now)
        if now - self._last_agitation_s >= AGITATION_LOG_PERIOD_S - 1e-9:
            self._last_agitation_s = now
            for subject in self.subjects.values():
                self._log_agitation(subject, "time")
        self._log_positions()
        ending = next((s for s in self.subjects.values() if s.phase.ends_drill), None)
        if ending is not None:
            self._end(RunState.COMPLETED, f"{ending.id} reached {ending.phase.id}")
        elif now >= self.drill.time_limit_s - 1e-9:
            self._end(RunState.COMPLETED, "time limit")

    def _move(self, subject: SubjectState) -> None:
        if subject.incapacitated_until_s is not None or subject.phase.movement == "hold":
            return
        ox, oy = self.officer_position_m
        x, y = subject.position_m
        dx, dy = ox - x, oy - y
        distance = math.hypot(dx, dy)
        step = subject.phase.speed_mps * self.dt_s
        if subject.phase.movement == "advance":
            step = min(step, max(0.0, distance - CONTACT_DISTANCE_M))
            sign = 1.0
        else:
            sign = -1.0
        if distance > 0:
            subject.position_m = (x + sign * dx / distance * step, y + sign * dy / distance * step)
        subject.yaw_rad = self._yaw_toward(subject.position_m, self.officer_position_m)
        if sign < 0:
            subject.yaw_rad += math.pi

    def _timed_transitions(self, subject: SubjectState, now: float) -> None:
        distance_ft = m_to_ft(self.distance_m(subject))
        in_phase = now - subject.phase_since_s
        for i, tr in enumerate(subject.phase.transitions):
            due = (
                (tr.after_s is not None and in_phase >= tr.after_s - 1e-9)
                or (tr.within_ft is not None and distance_ft <= tr.within_ft)
                or (tr.beyond_ft is not None and distance_ft >= tr.beyond_ft)
                or (tr.on is not None and self._agitation_due(subject, tr.on))
            )
            if due and self._take(subject, i):
                return

    @staticmethod
    def _agitation_due(subject: SubjectState, on: str) -> bool:
        """An `agitation_below:X` / `agitation_above:X` trigger met by the subject now."""
        threshold = parse_agitation_trigger(on)
        if threshold is None or subject.agitation is None:
            return False
        return subject.agitation.crossed(*threshold)

    def _log_agitation(self, subject: SubjectState, cause: str, t: float | None = None) -> None:
        """A subject's agitation as it now stands, logged at `t` (the engine's time if None)."""
        if subject.agitation is not None:
            self.log.emit(
                self.t if t is None else t,
                "agitation",
                subject=subject.id,
                level=round(subject.agitation.level, 4),
                cause=cause,
            )

    def _reaction_t(self, at: float | None) -> float:
        """When a reaction to a cause at run time `at` happens: not before the cause, nor before
        the engine's present. A live replica's event or a decided speech act is stamped with its
        own time, up to a frame past the engine's last step; a reaction logged at the engine's
        time would come before what caused it."""
        return self.t if at is None else max(self.t, at)

    def _cue(self, subject: SubjectState, cue: OfficerCue, at: float | None = None) -> bool:
        """`subject` answers officer cue `cue` made at run time `at` (now if None); whether a
        transition was taken."""
        for i, tr in enumerate(subject.phase.transitions):
            if tr.on == cue and self._take(subject, i, at):
                return True
        return False

    def _take(self, subject: SubjectState, index: int, at: float | None = None) -> bool:
        """Fire transition `index` once per visit to the phase; a `chance` draws from the seed.
        `at`: the run time of its cause (`_reaction_t`); the engine's time if None."""
        if index in subject.spent:
            return False
        subject.spent.add(index)
        transition = subject.phase.transitions[index]
        when = self._reaction_t(at)
        if transition.chance < 1.0 and self.rng.random() >= transition.chance:
            self.log.emit(when, "branch_not_taken", subject=subject.id, to=transition.to)
            return False
        subject.phase = self.drill.phase(transition.to)
        subject.phase_since_s = when
        subject.spent = set()
        self._apply_phase(subject)
        self._log_phase(subject, when)
        return True

    @staticmethod
    def _apply_phase(subject: SubjectState) -> None:
        if subject.phase.held_object is not None:
            subject.held_object = subject.phase.held_object
        if subject.phase.stance is not None:
            subject.stance = subject.phase.stance
        if subject.phase.attributes is not None:
            changes = subject.phase.attributes.model_dump(mode="json", exclude_none=True)
            subject.attributes = {**subject.attributes, **changes}

    # -- views -----------------------------------------------------------------------------------

    def distance_m(self, subject: SubjectState) -> float:
        return math.dist(subject.position_m, self.officer_position_m)

    def observe(self) -> Observation:
        return Observation(
            self.t,
            self.state,
            tuple(
                SubjectView(
                    s.id,
                    s.role,
                    s.stance,
                    s.phase.id,
                    s.behaviour,
                    s.threat,
                    s.held_object,
                    s.position_m,
                    s.yaw_rad,
                    self.distance_m(s),
                )
                for s in self.subjects.values()
            ),
        )

    def _log_phase(self, subject: SubjectState, t: float | None = None) -> None:
        """The phase `subject` is in, logged at `t` (the engine's time if None)."""
        self.log.emit(
            self.t if t is None else t,
            "phase_entered",
            subject=subject.id,
            phase=subject.phase.id,
            behaviour=subject.behaviour.value,
            threat=subject.threat.name.lower(),
            held_object=subject.held_object.value,
            stance=subject.stance.value,
            role=subject.role,
            distance_ft=round(m_to_ft(self.distance_m(subject)), 3),
            attributes=dict(subject.attributes),
            acting=subject.acting,
            **({} if subject.phase.animation is None else {"animation": subject.phase.animation}),
        )
        if subject.phase.say is not None:
            self._spoke(subject, subject.phase.say)

    def _talk_down_meta(self) -> dict[str, Any]:
        """A drill whose course turns on what the officer says (a transition on `speech:` or
        on the subject's agitation, which his words move): run_started `speech_triggers` lists
        them, so a run that could not hear the officer is not graded (rc21 #1)."""
        said = sorted(
            {
                t.on
                for phase in self.drill.phases
                for t in phase.transitions
                if t.on is not None and t.on.startswith(("speech:", "agitation_"))
            }
        )
        return {"speech_triggers": said} if said else {}

    def _empathy_meta(self) -> dict[str, Any]:
        empathy = self.drill.empathy
        if empathy is None:
            return {}
        return {
            "drill_kind": self.drill.kind,
            "perspective": empathy.perspective,
            "debrief_questions": len(empathy.debrief),
        }

    def listener(self) -> tuple[str, tuple[float, float], float]:
        """Whose ears the run's audio is made for: (id, position, head yaw). The officer, or in
        an empathy scene the subject whose eyes and ears the officer takes."""
        empathy = self.drill.empathy
        if empathy is None:
            return OFFICER, self.officer_position_m, self.officer_yaw_rad
        who = self.subjects[empathy.perspective]
        yaw = who.yaw_rad if self.listener_yaw_rad is None else self.listener_yaw_rad
        return who.id, who.position_m, yaw

    def _spoke(self, subject: SubjectState, text: str) -> None:
        listener, at, yaw = self.listener()
        azimuth, distance = heard_from(at, yaw, subject.position_m)
        self.log.emit(
            self.t,
            "subject_spoke",
            subject=subject.id,
            phase=subject.phase.id,
            text=text,
            listener=listener,
            azimuth_deg=round(azimuth, 3) + 0.0,  # + 0.0: never -0.0 in the log
            distance_m=round(distance, 4),
            voice=list(self.subjects).index(subject.id),
        )

    def _log_positions(self, force: bool = False) -> None:
        if not force and self.t - self._last_positions_s < POSITION_LOG_PERIOD_S - 1e-9:
            return
        self._last_positions_s = self.t
        self.log.emit(
            self.t,
            "positions",
            officer=[round(c, 4) for c in self.officer_position_m],
            subjects={s.id: [round(c, 4) for c in s.position_m] for s in self.subjects.values()},
        )

    @staticmethod
    def _yaw_toward(frm: tuple[float, float], to: tuple[float, float]) -> float:
        return math.atan2(to[1] - frm[1], to[0] - frm[0])
