"""One firing lane's replicas, behind one base (`LaneBase`: the replicas, their events, finding
one again by serial number). `Lane`: emulated devices behind ptys on a lock-step clock, with
the per-frame PING barrier that makes a simulated run deterministic. `LiveLane`: replicas on
serial ports (an officer's real ones, or emulators running free on ptys), on the real clock,
where nobody waits for a barrier.

Drills (`range.runs.drill`) and courses of fire (`range.runs.course`) both play on a lane
through the run core (`range.runs.core`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from peripherals.clock import Clock, ManualClock
from peripherals.driver import DeviceInfo, LinkSession, ReplicaLink
from peripherals.emulator import ReplicaEmulator, is_emulated
from peripherals.errors import PeripheralError
from peripherals.events import PeripheralEvent
from peripherals.messages import EventKind, Laser, Model
from peripherals.ports import PortDirectory, candidate_ports, default_emulator_dir, find_by_serial

# How long a lock-step frame waits for a replica before it counts as silent. A pulled cable fails
# the PING at once, so this only bounds a replica that is there but slow: generous, so that a
# loaded machine never turns a simulated run's log into a fault drill.
BARRIER_TIMEOUT_S = 2.0
# A live lane's clock-sync pings, so trigger times map onto the host clock as devices drift.
SYNC_EVERY_S = 0.25


class Weapon(StrEnum):
    """A lane's weapons, one word each (a replica's model says which make: `Model`)."""

    FIREARM = "firearm"
    TASER = "taser"


def weapon_of(model: Model) -> Weapon:
    """The weapon a replica model is: a TASER, or (the pistol replica) a firearm."""
    return Weapon.TASER if model.is_taser else Weapon.FIREARM


class Attached(Protocol):
    """A replica as the lane sees it: a serial number, the session it was attached with (its
    nonce proves a re-attached device is the same one) and, while plugged in, a link."""

    link: ReplicaLink | None
    session: LinkSession

    @property
    def serial(self) -> str: ...

    @property
    def weapon(self) -> Weapon: ...


class Replica:
    """One emulated replica with its host link, and what the shooter is doing with it."""

    def __init__(self, emulator: ReplicaEmulator, weapon: Weapon) -> None:
        self.emulator = emulator
        self.weapon = weapon
        self.link: ReplicaLink | None = None
        self.session = LinkSession()
        self.release_next_frame = False

    @property
    def serial(self) -> str:
        return self.emulator.serial

    @property
    def model(self) -> Model:
        return self.emulator.model

    @property
    def emulated(self) -> bool:
        """An emulator, always (LiveReplica tells it from its firmware)."""
        return True


class LiveReplica:
    """A real replica: its serial number, its host link, and which weapon it is."""

    def __init__(self, link: ReplicaLink) -> None:
        assert link.info is not None
        self.serial = link.info.serial
        self.model = link.info.model
        # A replica emulator on a port (`peripherals emulate`), not a real replica: only an
        # emulator-made calibration profile may stand for it, and only for it.
        self.emulated = is_emulated(link.info.firmware)
        self.weapon = weapon_of(link.info.model)
        self.link: ReplicaLink | None = link
        self.session = link.start_session()


def unhealthy(replicas: Sequence[Attached]) -> list[Attached]:
    """The replicas whose link failed, or whose device went quiet: no STATE for too long, or
    PINGs unanswered (`ReplicaLink.check_health`). A hung replica is a fault like a pulled
    cable: the drill suspends and a course string is reshot."""
    return [r for r in replicas if r.link is None or r.link.check_health() is not None]


def reattach_by_serial(
    replica: Attached, clock: Clock, ports: list[str], problems: list[str]
) -> bool:
    """Find the replica by serial number on whatever port it is on now, and have it prove it is
    the one first attached (its session nonce) before anything it sends counts. Then the events
    it kept while the cable was out arrive, each once."""
    if replica.link is not None:
        replica.link.close()
        replica.link = None
    found = find_by_serial(replica.serial, clock, ports, 0.2)
    if found is None:
        return False
    try:
        found.resume(replica.session)
    except PeripheralError as exc:
        found.close()
        if str(exc) not in problems:
            problems.append(str(exc))
        return False
    replica.link = found
    return True


def poll_links(replicas: Sequence[Attached]) -> list[PeripheralEvent]:
    """Every replica's new events, in host time order. Events of two replicas at one host time
    (an emulated lane's hands act within one instant) keep each replica's own order, and a
    replica put back in its holster then comes before one drawn: a hand holsters one weapon
    before it draws the other (docs/drills.md, `draw_firearm`; nu19 #8: the pistol's draw was
    logged before the TASER's safety and holster)."""
    events: list[PeripheralEvent] = []
    for replica in replicas:
        if replica.link is not None:
            events.extend(replica.link.poll())
    holstered = {(e.serial, e.host_time_s) for e in events if e.kind is EventKind.HOLSTER_IN}
    drawn = {(e.serial, e.host_time_s) for e in events if e.kind is EventKind.HOLSTER_OUT}
    put_away = holstered - drawn

    def order(e: PeripheralEvent) -> tuple[float, int, str, int]:
        first = 0 if (e.serial, e.host_time_s) in put_away else 1
        return (e.host_time_s, first, e.serial, e.device_time_us)

    events.sort(key=order)
    return events


class LaneBase:
    """What every lane does the same way: list its devices, read its replicas' events in host
    time order, find a replica that went silent again by serial number on whatever port it is
    on now, and close its links."""

    # Real time waited between two looks for a replica whose cable is out: do not spin.
    LOOK_AGAIN_S = 0.02

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.replicas: Sequence[Attached] = []
        self.problems: list[str] = []  # devices refused on re-attach, in words

    def ports(self) -> list[str]:
        """Where a replica that comes back may be now."""
        raise NotImplementedError

    def devices(self) -> list[DeviceInfo]:
        return [r.link.info for r in self.replicas if r.link and r.link.info]

    def poll(self) -> list[PeripheralEvent]:
        return poll_links(self.replicas)

    def reattach(self, replica: Attached) -> bool:
        """Look for the replica by serial number on whatever port it is on now; it must prove
        its session before it counts (`reattach_by_serial`, refusals kept in `problems`)."""
        if not reattach_by_serial(replica, self.clock, self.ports(), self.problems):
            time.sleep(self.LOOK_AGAIN_S)  # real time passes while the cable is out
            return False
        return True

    def close_links(self) -> None:
        for replica in self.replicas:
            if replica.link is not None:
                replica.link.close()
                replica.link = None


class Lane(LaneBase):
    """Emulated replicas on ptys, lock-step. Replicas register in `port_dir`, as USB replicas
    do under /dev/serial/by-id, so one that is unplugged and comes back on a new port is found
    again by its serial number."""

    def __init__(self, clock: ManualClock, port_dir: Path) -> None:
        super().__init__(clock)
        self.clock: ManualClock = clock
        self.port_dir = port_dir
        self.replicas: list[Replica] = []
        self._replugs: list[threading.Timer] = []

    def ports(self) -> list[str]:
        return PortDirectory(self.port_dir).ports()

    def add(self, emulator: ReplicaEmulator, weapon: Weapon) -> Replica:
        replica = Replica(emulator, weapon)
        self.replicas.append(replica)
        port = emulator.start()
        replica.link = ReplicaLink(port, self.clock)
        replica.link.open()
        replica.session = replica.link.start_session()
        return replica

    def release_triggers(self) -> None:
        """A trigger pressed last frame comes back up this frame."""
        for replica in self.replicas:
            if replica.release_next_frame:
                replica.emulator.release_trigger()
                replica.release_next_frame = False

    def service(self) -> None:
        for replica in self.replicas:
            replica.emulator.service()

    def barrier(self) -> list[Replica]:
        """PING every replica at once and wait for each PONG: once answered, a replica has
        delivered everything it sent before. Returns the replicas that stayed silent."""
        tokens: list[int | None] = []
        for replica in self.replicas:
            try:
                tokens.append(None if replica.link is None else replica.link.send_ping())
            except PeripheralError:
                tokens.append(None)
        silent = [
            replica
            for replica, token in zip(self.replicas, tokens, strict=True)
            if token is None
            or replica.link is None
            or not replica.link.await_pong(token, BARRIER_TIMEOUT_S)
        ]
        # Answering PINGs is not enough: a replica whose STATE stream stopped is stalled.
        return [r for r in self.replicas if r in silent or r in unhealthy([r])]

    def advance_to(self, t: float) -> None:
        self.clock.set(t)

    def make_safe(self, silent: Sequence[Attached]) -> None:
        """Outputs safe while a run is suspended: lasers off on every replica still here."""
        for replica in self.replicas:
            if replica in silent or replica.link is None:
                continue
            with contextlib.suppress(PeripheralError):  # failing too: the next barrier says so
                replica.link.command(Laser(False))

    def pull_cable(self, replica: Replica, replug_after_s: float) -> None:
        """The fault drill: unplug the replica now and plug it back in after `replug_after_s`
        of real time, as an officer's cable would be."""
        replica.emulator.unplug()
        timer = threading.Timer(replug_after_s, replica.emulator.replug)
        timer.start()
        self._replugs.append(timer)

    def close(self) -> None:
        for timer in self._replugs:
            timer.cancel()
            timer.join()
        self.close_links()
        for replica in self.replicas:
            replica.emulator.stop()


class LiveLane(LaneBase):
    """Replicas opened on serial `ports`, on the real clock. A replica whose link fails (a
    pulled cable) is found again by serial number on whatever port it comes back."""

    LOOK_AGAIN_S = 0.05

    def __init__(self, clock: Clock, ports: list[str], search: list[Path] | None = None) -> None:
        super().__init__(clock)
        self.given_ports = ports
        # Where a replica that comes back may register, besides the system's serial ports.
        self.search = [default_emulator_dir(), *(search or [])]
        self.replicas: list[LiveReplica] = []
        self._synced_s = -1e9

    def ports(self) -> list[str]:
        return candidate_ports(self.search) + self.given_ports

    def open(self) -> LiveLane:
        for port in self.given_ports:
            link = ReplicaLink(port, self.clock)
            try:
                link.open()
                self.replicas.append(LiveReplica(link))  # starts its session
            except PeripheralError:
                link.close()
                self.close()
                raise
        return self

    def replica(self, weapon: Weapon) -> LiveReplica | None:
        return next((r for r in self.replicas if r.weapon == weapon), None)

    def release_triggers(self) -> None:
        """The officer's finger does that on a real replica."""

    def service(self) -> None:
        now = self.clock.now_s()
        if now - self._synced_s < SYNC_EVERY_S:
            return
        self._synced_s = now
        for replica in self.replicas:
            if replica.link is not None:
                with contextlib.suppress(PeripheralError):  # failing: barrier() says so
                    replica.link.send_ping()

    def barrier(self) -> list[LiveReplica]:
        """The replicas whose link has failed or whose device stalled or hung (the live lane
        waits for no one: `service()` keeps PINGs going, `unhealthy` judges them)."""
        bad = unhealthy(self.replicas)
        return [r for r in self.replicas if r in bad]

    def advance_to(self, t: float) -> None:
        """Wait for the real clock to reach `t`."""
        wait = t - self.clock.now_s()
        if wait > 0:
            time.sleep(wait)

    def close(self) -> None:
        self.close_links()
