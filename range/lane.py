"""One firing lane's replicas on a lock-step clock: emulated devices behind ptys, their host
links, and the per-frame barrier that makes a simulated run deterministic.

Drills (`range.runner`) and courses of fire (`range.course_runner`) both play on a lane.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from peripherals.clock import ManualClock
from peripherals.driver import DeviceInfo, ReplicaLink
from peripherals.emulator import ReplicaEmulator
from peripherals.errors import PeripheralError
from peripherals.events import PeripheralEvent
from peripherals.messages import Laser
from peripherals.ports import PortDirectory, find_by_serial

# How long a lock-step frame waits for a replica before it counts as silent.
BARRIER_TIMEOUT_S = 0.5


class Replica:
    """One emulated replica with its host link, and what the shooter is doing with it."""

    def __init__(self, emulator: ReplicaEmulator, weapon: str) -> None:
        self.emulator = emulator
        self.weapon = weapon
        self.link: ReplicaLink | None = None
        self.release_next_frame = False


class Lane:
    """Replicas register in `port_dir`, as USB replicas do under /dev/serial/by-id, so one that
    is unplugged and comes back on a new port is found again by its serial number."""

    def __init__(self, clock: ManualClock, port_dir: Path) -> None:
        self.clock = clock
        self.port_dir = port_dir
        self.replicas: list[Replica] = []
        self._replugs: list[threading.Timer] = []

    def add(self, emulator: ReplicaEmulator, weapon: str) -> Replica:
        replica = Replica(emulator, weapon)
        self.replicas.append(replica)
        port = emulator.start()
        replica.link = ReplicaLink(port, self.clock)
        replica.link.open()
        return replica

    def devices(self) -> list[DeviceInfo]:
        return [r.link.info for r in self.replicas if r.link and r.link.info]

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
        return [
            replica
            for replica, token in zip(self.replicas, tokens, strict=True)
            if token is None
            or replica.link is None
            or not replica.link.await_pong(token, BARRIER_TIMEOUT_S)
        ]

    def poll(self) -> list[PeripheralEvent]:
        """Every replica's new events, in host time order."""
        events: list[PeripheralEvent] = []
        for replica in self.replicas:
            if replica.link is not None:
                events.extend(replica.link.poll())
        events.sort(key=lambda e: (e.host_time_s, e.serial, e.device_time_us))
        return events

    def make_safe(self, silent: list[Replica]) -> None:
        """Outputs safe while a run is suspended: lasers off on every replica still here."""
        for replica in self.replicas:
            if replica in silent or replica.link is None:
                continue
            with contextlib.suppress(PeripheralError):  # failing too: the next barrier says so
                replica.link.command(Laser(False))

    def reattach(self, replica: Replica) -> bool:
        """Look for the replica by serial number on whatever port it is on now."""
        if replica.link is not None:
            replica.link.close()
            replica.link = None
        ports = PortDirectory(self.port_dir).ports()
        found = find_by_serial(replica.emulator.serial, self.clock, ports, 0.2)
        if found is None:
            time.sleep(0.02)  # real time passes while the cable is out; do not spin
            return False
        replica.link = found
        return True

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
        for replica in self.replicas:
            if replica.link is not None:
                replica.link.close()
                replica.link = None
            replica.emulator.stop()
