"""A lane's own replicas as the console shows them: opened on the lane's serial ports with the
live lane (range/runs/lane.py `LiveLane`), watched from a thread of their own, found again by
serial number after a pulled cable, and described in the lane's state frame
(`state["replicas"]`) so the range master sees which replica is connected, what it holds (TASER
cartridges per bay, rounds in the pistol's magazine), its faults, and which one is unplugged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from peripherals.clock import Clock
from peripherals.errors import PeripheralError, PeripheralIdentityError, PeripheralTimeoutError
from peripherals.messages import CartridgeCode, StateFlags
from peripherals.ports import find_by_serial
from range.runs.lane import LiveLane, LiveReplica, Weapon

# How often the replicas are looked at: a state row a fifth of a second old is news enough for
# a person, and re-finding an unplugged one scans the serial ports.
WATCH_EVERY_S = 0.2
# Below this the battery is shown as a fault: swap it before the next officer.
LOW_BATTERY_PCT = 20


def _cartridge(code: int) -> str:
    try:
        known = CartridgeCode(code)
    except ValueError:
        return f"unknown ({code})"
    return known.cartridge_id or "empty"


def describe(replica: LiveReplica, lost: PeripheralError | None = None) -> dict[str, Any]:
    """One replica as a row of the console's table: {"serial", "model", "weapon", "status"
    ("connected" | "unplugged" | "silent"), "problem", "safety", "holstered", "battery_pct",
    "loads", "faults"}. `loads`: per TASER bay {"bay", "cartridge", "probes"}; for the pistol
    {"magazine_in", "rounds", "chambered"}. `lost`: why a replica with no link lost it (a
    timeout is a hung, silent device; anything else a pulled cable)."""
    link = replica.link
    row: dict[str, Any] = {
        "serial": replica.serial,
        "model": replica.model.name.lower(),
        "weapon": replica.weapon.value,
        "status": "unplugged",
        "problem": "",
        "faults": [],
    }
    failure = lost if link is None else link.check_health()
    if link is None or failure is not None:
        if isinstance(failure, PeripheralTimeoutError):
            row["status"] = "silent"
        row["problem"] = f"{failure or 'link closed'}: looking for it by serial number"
        if isinstance(failure, PeripheralIdentityError):
            row["problem"] = str(failure)  # found, and refused: the line says what to do
        return row
    row["status"] = "connected"
    state = link.state
    if state is None:
        return row
    flags = StateFlags(state.flags)
    row["safety"] = "on" if flags & StateFlags.SAFETY_ON else "off"
    row["holstered"] = bool(flags & StateFlags.HOLSTERED)
    row["battery_pct"] = state.battery_pct
    if replica.weapon is Weapon.TASER:
        row["loads"] = [
            {"bay": bay, "cartridge": _cartridge(code), "probes": probes}
            for bay, (code, probes) in enumerate(state.loads)
        ]
    else:
        rounds = state.loads[0][1] if state.loads else 0
        row["loads"] = {
            "magazine_in": bool(flags & StateFlags.MAGAZINE_IN),
            "rounds": rounds,
            "chambered": bool(flags & StateFlags.CHAMBERED),
        }
    faults = []
    if flags & StateFlags.STOPPAGE:
        faults.append("stoppage")
    if flags & StateFlags.SLIDE_LOCKED:
        faults.append("slide locked back")
    if state.battery_pct < LOW_BATTERY_PCT:
        faults.append(f"battery {state.battery_pct}%")
    row["faults"] = faults
    return row


class ReplicaWatch:
    """The lane's replicas on `ports`, watched every WATCH_EVERY_S in a thread: `rows` is the
    newest description, and `on_change(rows)` is called when it changes (not when only the
    battery ticks). Opening refuses a port with no replica on it (PeripheralError)."""

    def __init__(
        self,
        ports: list[str],
        clock: Clock,
        search: list[Path] | None = None,
        on_change: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.lane = LiveLane(clock, ports, search)
        self.on_change = on_change
        # Whether no run is using the replicas now: then one that comes back with a session
        # it does not know (its emulator or firmware restarted, a power cycle) is taken back
        # with a new session, since nothing it sent can be lost; during a run it is refused,
        # in one line that says so. The lane sets this from whether it is running.
        self.between_runs: Callable[[], bool] = lambda: True
        self.rows: list[dict[str, Any]] = []
        self._lost: dict[str, PeripheralError] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> ReplicaWatch:
        self.lane.open()
        self.rows = [describe(r) for r in self.lane.replicas]
        self._thread = threading.Thread(target=self._watch, name="lane-replicas", daemon=True)
        self._thread.start()
        return self

    def look(self) -> list[dict[str, Any]]:
        """Keep the links in sync, look again for any replica whose cable is out, describe."""
        self.lane.service()
        for replica in self.lane.replicas:
            failure = None if replica.link is None else replica.link.check_health()
            if failure is not None:
                self._lost[replica.serial] = failure
            lost = replica.link is None or failure is not None
            if lost and self._take_back(replica):
                self._lost.pop(replica.serial, None)
        for replica in self.lane.replicas:
            if replica.link is not None:
                replica.link.poll()  # events are the run's business; here they only pile up
        return [describe(r, self._lost.get(r.serial)) for r in self.lane.replicas]

    def _take_back(self, replica: LiveReplica) -> bool:
        """Find a lost replica again by serial number: it proves its session (as a run's
        re-attach does), or, power-cycled and between runs, starts a new one. A refusal is
        kept as the row's problem, in one line with what to do."""
        if replica.link is not None:
            replica.link.close()
            replica.link = None
        found = find_by_serial(replica.serial, self.lane.clock, self.lane.ports(), 0.2)
        if found is None:
            time.sleep(self.lane.LOOK_AGAIN_S)  # real time passes while the cable is out
            return False
        try:
            found.resume(replica.session)
        except PeripheralIdentityError as exc:
            if not self.between_runs():
                found.close()
                self._lost[replica.serial] = PeripheralIdentityError(
                    f"{exc} during a run: it is taken back with a new session when the run"
                    " ends (or restart the lane)"
                )
                return False
            replica.session = found.start_session()  # restarted: nothing it kept is lost
        except PeripheralError as exc:
            found.close()
            self._lost[replica.serial] = exc
            return False
        replica.link = found
        return True

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_EVERY_S):
            rows = self.look()
            changed = _without_battery(rows) != _without_battery(self.rows)
            self.rows = rows
            if changed and self.on_change is not None:
                self.on_change(rows)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.lane.close()

    def __enter__(self) -> ReplicaWatch:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _without_battery(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "battery_pct"} for row in rows]
