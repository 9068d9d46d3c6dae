"""The run core that drills (`range.runs.drill`) and courses of fire (`range.runs.course`)
share: who pulls the trigger (`Hands`), one frame of the lane (`lane_frame`), one firing path
(`triggers` -> `Hands.muzzle` at the trigger's own host time -> untracked, or flown), and one
fault policy (`FaultPolicy`). What differs between a drill and a course is only who the hands
are (a scripted officer or shooter, or a live officer) and what is judged (the drill engine and
scoring/score.py, or scoring/course.py).

Weapons are named by what they are on the range, one word each: "firearm" and "taser"
(`range.runs.lane.Weapon`). "pistol" is a replica *model* (`Model.PISTOL`), and the value a
course file's string gives for it, never a weapon name in a log, a lane or a hand.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from peripherals.events import PeripheralEvent
from peripherals.messages import CartridgeCode, EventKind
from physics.pose import Pose
from physics.taser import cartridge
from range.calibration.profiles import CalibrationProfile
from range.runs.lane import Attached, Weapon
from range.runs.poses import POSE_WAIT_S, TrackedPoses, weapon_pose_at

# How long a run waits for a silent replica to come back, found again by its serial number,
# before the drill is faulted or the course string given up (it is reshot later). A cable
# pulled and pushed back in by hand takes a few seconds; longer is a hardware problem for the
# range master, not something to wait out with a subject frozen mid-drill.
FAULT_AFTER_S = 10.0


@contextmanager
def swap_sigint(handler: Callable[[int, Any], None]) -> Iterator[Any]:
    """SIGINT taken by `handler` for the block, and the handler there was put back at its
    end (SIG_DFL for one set outside Python, which Python reads as None). Yields the handler
    there was. Outside the main thread (signals are not its to take) nothing is swapped and
    it yields None. The one swap behind `HeldCtrlC` and the CLI's `ctrl_c_once`."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield previous
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


class HeldCtrlC:
    """A SIGINT held across a step that must not be cut in two (rc19 #1, #5): a registration
    committed in the records but its number not yet known to the caller, or `run_started`
    logged but the run not yet where a Ctrl-C closes it (ABORTED). While held, a SIGINT is
    only noted; `deliver` (or the block's end) puts the handler there was back and, if one
    came, hands it to that handler at that point. Outside the main thread it does nothing."""

    def __init__(self) -> None:
        self.pending = False
        self._previous: Any = None
        self._swap = ExitStack()

    def __enter__(self) -> HeldCtrlC:
        self._previous = self._swap.enter_context(swap_sigint(self._note))
        return self

    def _note(self, signum: int, frame: object) -> None:
        self.pending = True

    def deliver(self) -> None:
        """The handler back; a SIGINT that came while held is handed to it now."""
        self._swap.close()  # once: a second close does nothing
        if self.pending:
            self.pending = False
            previous = self._previous
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is not None:  # failing already: the handler back, the failure goes on
            self.pending = False
        self.deliver()


class Hands(Protocol):
    """Who pulls the trigger. A scripted officer or shooter works the emulated replicas on its
    plan and knows where it aims; a live officer works real replicas, and the bore comes from
    the tracked pose through the replica's calibration profile."""

    def frame(self, t_s: float) -> None:
        """Act on the replicas for run time `t_s` (scripted), or read the tracker (live)."""
        ...

    def muzzle(self, event: PeripheralEvent) -> Pose:
        """The bore's pose at the trigger event's own host time (`event.host_time_s`)."""
        ...


class Lane(Protocol):
    """What a frame needs of a lane (`range.runs.lane.Lane` or `LiveLane`)."""

    def release_triggers(self) -> None: ...

    def service(self) -> None: ...

    def barrier(self) -> Sequence[Attached]: ...

    def poll(self) -> list[PeripheralEvent]: ...

    def reattach(self, replica: Attached) -> bool: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of the lane: the replicas that stayed silent, or the events they sent."""

    silent: Sequence[Attached]
    events: list[PeripheralEvent]


def lane_frame(lane: Lane, hands: Hands, t_s: float, act: bool = True) -> Frame:
    """One frame, in the one order both runners use: a trigger pressed last frame comes back
    up, the hands act (`act`: the run is live, not suspended), the links are serviced, the
    barrier (a PING every replica answers on an emulated lane; failed links on a live one), and
    then every event the replicas sent, in host time order."""
    lane.release_triggers()
    if act:
        hands.frame(t_s)
    lane.service()
    silent = lane.barrier()
    if silent:
        return Frame(silent, [])
    return Frame((), lane.poll())


# -- the firing path ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trigger:
    """One trigger pull as the host decoded it: a round (`SHOT_FIRED`) or a cartridge (all its
    probes' `PROBES_FIRED` events, one per probe, sharing a bay and a time)."""

    weapon: Weapon
    serial: str
    host_time_s: float
    events: tuple[PeripheralEvent, ...]

    @property
    def event(self) -> PeripheralEvent:
        return self.events[0]

    @property
    def bay(self) -> int | None:
        return self.event.bay

    @property
    def value(self) -> int | None:
        """Rounds left (a round), or the cartridge's code (a cartridge)."""
        return self.event.value


# A cartridge's probes leave within this of each other: a real (or free-running) replica stamps
# each probe's event on its own, microseconds apart; two trigger pulls are far further apart.
PROBES_TOGETHER_S = 0.005


def triggers(events: Iterable[PeripheralEvent]) -> list[Trigger]:
    """The trigger pulls among a frame's events, in the order of their first event. A
    cartridge's probes (same serial and bay, each probe once, within `PROBES_TOGETHER_S`) are
    one pull, stamped with its first probe's time."""
    out: list[Trigger] = []
    open_cartridges: dict[tuple[str, int | None], int] = {}  # (serial, bay) -> index in out
    for event in events:
        if event.kind is EventKind.SHOT_FIRED:
            out.append(Trigger(Weapon.FIREARM, event.serial, event.host_time_s, (event,)))
        elif event.kind is EventKind.PROBES_FIRED:
            key = (event.serial, event.bay)
            n = open_cartridges.get(key)
            if n is not None:
                pull = out[n]
                same = event.host_time_s - pull.host_time_s <= PROBES_TOGETHER_S
                if same and all(e.probe != event.probe for e in pull.events):
                    out[n] = Trigger(
                        pull.weapon, pull.serial, pull.host_time_s, (*pull.events, event)
                    )
                    continue
            open_cartridges[key] = len(out)
            out.append(Trigger(Weapon.TASER, event.serial, event.host_time_s, (event,)))
    return out


# How long a cartridge's first probe waits for the others when they straddle two frames (a
# live replica stamps each probe's event on its own; a loaded host may read them a frame apart).
PROBES_WAIT_S = 0.05


class TriggerCollector:
    """`triggers` across frames: a TASER pull whose cartridge has not yet shown all its probes
    (`probes_per_pull`) is held until they come or `PROBES_WAIT_S` of host time has passed, so
    a cartridge read over two frames is still one deployment. A lock-step frame delivers every
    probe at once, so a simulated run is unchanged."""

    def __init__(self) -> None:
        self._held: list[PeripheralEvent] = []

    @property
    def held_since_s(self) -> float | None:
        """The host time of the earliest probe event held for its cartridge's others."""
        return min((e.host_time_s for e in self._held), default=None)

    def feed(self, events: Iterable[PeripheralEvent], now_host_s: float) -> list[Trigger]:
        pulls = triggers([*self._held, *events])
        self._held = []
        ready: list[Trigger] = []
        for pull in pulls:
            waiting = now_host_s - pull.host_time_s <= PROBES_WAIT_S
            if pull.weapon is Weapon.TASER and waiting and not self._complete(pull):
                self._held.extend(pull.events)
                continue
            ready.append(pull)
        return ready

    @staticmethod
    def _complete(pull: Trigger) -> bool:
        cartridge_id = CartridgeCode(pull.value or 0).cartridge_id
        if cartridge_id is None:
            return True
        return len(pull.events) >= cartridge(cartridge_id).probes_per_pull


def muzzle_record(pose: Pose) -> dict[str, Any]:
    """A muzzle pose as the log keeps it (drills/events.py `Muzzle`)."""
    return {
        "position_m": [round(c, 6) for c in pose.position_m],
        "orientation": [round(c, 8) for c in pose.orientation],
        "tracked": pose.usable,
    }


# -- the fault policy ---------------------------------------------------------------------------


class FaultPolicy:
    """A silent replica suspends the run (the caller freezes its clock and makes the outputs
    safe), is looked for by serial number on whatever port it is on now, and the run is faulted
    when it has not come back within `limit_s` of real time. One policy for drills and courses.
    A live course also holds here while the headset is off (`wait_focused`); a live drill is
    suspended by its engine instead (range/runs/drill.py `LiveDrill.focused`).

    `monotonic` is the real clock the limit is measured on (the cable is out in real time, even
    in a simulated run whose own clock is frozen)."""

    def __init__(
        self,
        lane: Lane,
        limit_s: float = FAULT_AFTER_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lane = lane
        self.limit_s = limit_s
        self.monotonic = monotonic
        self.since: float | None = None

    def clear(self) -> None:
        """Every replica answered: the fault, if any, is over."""
        self.since = None

    def reattach(self, silent: Sequence[Attached]) -> list[Attached]:
        """One try to find each silent replica again; those found. Starts the fault's clock."""
        if self.since is None:
            self.since = self.monotonic()
        return [r for r in silent if self.lane.reattach(r)]

    def refusals(self, silent: Sequence[Attached]) -> str:
        """Why the lane refused these replicas when they answered again (a replica with their
        serial that does not hold their session: restarted or power-cycled, or another one),
        in words; empty when none answered."""
        said: list[str] = getattr(self.lane, "problems", [])
        return "; ".join(p for p in said if any(f"serial {r.serial} " in p for r in silent))

    @property
    def expired(self) -> bool:
        """The fault has lasted longer than the limit."""
        return self.since is not None and self.monotonic() - self.since > self.limit_s

    def wait_back(
        self, silent: Sequence[Attached], between: Callable[[], None] | None = None
    ) -> bool:
        """Keep looking for the silent replicas until all are back or the limit has passed
        (a course string is reshot once they are). True when all came back. `between` is
        called before each try (a live course's headset draws a frame: the runtime is never
        left without one while a cable is out)."""
        missing = list(silent)
        while missing and not self.expired:
            if between is not None:
                between()
            found = self.reattach(missing)
            missing = [r for r in missing if r not in found]
        self.clear()
        return not missing

    def wait_focused(self, focused: Callable[[], bool], between: Callable[[], None]) -> None:
        """The headset is off (the OpenXR session left FOCUSED): hold the run until the officer
        has it on again, however long that takes (taking it off is the officer's doing, not a
        hardware fault: there is no limit; a range master ends the attempt with Ctrl-C and
        resumes it later). A live course's string cut this way is reshot, as after a device
        fault. `between` is called before each look: it draws a frame (the runtime reports the
        session FOCUSED again only as frames are pumped), keeps the links alive, drains what
        the replicas send meanwhile and paces the loop."""
        while not focused():
            between()


class Suspensions:
    """What a live run's range master is told as it happens: one line when the run is
    suspended and why (the headset off, a replica silent), one when the reason changes, and
    one when it runs again. One place for a live drill's console (a course's strings say
    theirs as they are cut and reshot)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.reason: str | None = None

    def update(self, t_s: float, reason: str | None) -> None:
        """The run at run time `t_s` is suspended for `reason`, or running (None)."""
        if reason == self.reason:
            return
        if reason is None:
            self.say(f"resumed at {t_s:.2f} s")
        else:
            self.say(f"suspended at {t_s:.2f} s: {reason}")
        self.reason = reason


# -- live hands ---------------------------------------------------------------------------------


class LiveHands:
    """An officer with real replicas: nothing is scripted; each round or cartridge flies from
    the replica's bore at the trigger's own time, from the tracker's pose (OpenXR) through the
    calibration profile of the replica that fired (boresight and trigger latency), looked up by
    the event's serial number. A replica without a profile (a range master's override) flies
    from the tracker's pose as it is."""

    def __init__(
        self, poses: TrackedPoses, profiles: Mapping[str, CalibrationProfile | None]
    ) -> None:
        self.poses = poses
        self.profiles = dict(profiles)

    def frame(self, t_s: float) -> None:
        self.poses.update()

    def muzzle(self, event: PeripheralEvent) -> Pose:
        """The bore at the event's time, reading the stream until it gets there, for at most
        `POSE_WAIT_S` (a headless session's stream moves on as it is read; a headset's does
        not, which is why a drill takes its pulls with `covers` and `front` instead)."""
        profile = self.profiles.get(event.serial)
        latency_s = profile.trigger_latency_s if profile is not None else 0.0
        tracker = weapon_pose_at(self.poses, event.host_time_s + latency_s, POSE_WAIT_S)
        return profile.boresight.muzzle(tracker) if profile is not None else tracker

    def _event_time(self, event: PeripheralEvent) -> float:
        """The host time whose pose an event needs: its own, plus the replica's trigger latency."""
        profile = self.profiles.get(event.serial)
        return event.host_time_s + (profile.trigger_latency_s if profile is not None else 0.0)

    def covers(self, event: PeripheralEvent) -> bool:
        """Whether the pose stream has reached the event's time (without waiting for it: a
        headset's stream moves on only as the run's own thread renders frames)."""
        aim = self.poses.update().get("aim")
        return aim is not None and aim.time_s >= self._event_time(event)

    def front(self, event: PeripheralEvent) -> Pose:
        """The replica's front (its muzzle, through its profile) at the event's time, from the
        poses located so far, without waiting: not tracked where the stream does not cover it."""
        tracker = self.poses.pose("weapon", self._event_time(event))
        profile = self.profiles.get(event.serial)
        return profile.boresight.muzzle(tracker) if profile is not None else tracker
