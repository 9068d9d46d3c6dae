"""A lane's replicas on the console: emulators on real ptys running free on the real clock,
watched by the lane (range/console/replicas.py), shown connected with what they hold, and
unplugged when a cable is pulled; found again by serial number when it is back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from peripherals.emulator import PistolEmulator, TaserEmulator
from peripherals.messages import CartridgeCode, Model
from range.clock import MonotonicClock
from range.console.replicas import ReplicaWatch


@dataclass
class Rack:
    """A TASER 7 and a pistol replica on ptys, registered in `folder` as USB replicas are."""

    folder: Path
    clock: MonotonicClock = field(default_factory=MonotonicClock)
    ports: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.taser = TaserEmulator(Model.TASER_7, "T7-0007", self.clock, directory=self.folder)
        self.taser.bays = [(CartridgeCode.TASER7_CQ, 2), (CartridgeCode.TASER7_STANDOFF, 1)]
        self.pistol = PistolEmulator("P-0042", self.clock, directory=self.folder)
        self.ports = [self.taser.start(), self.pistol.start()]
        self.taser.run_free()
        self.pistol.run_free()

    def stop(self) -> None:
        for emulator in (self.taser, self.pistol):
            emulator.stop_free_running()
            emulator.stop()


@pytest.fixture
def rack(tmp_path: Path) -> Iterator[Rack]:
    r = Rack(tmp_path / "ports")
    try:
        yield r
    finally:
        r.stop()


def until(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("never happened")


def _by_serial(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["serial"]: row for row in rows}


def test_replicas_are_shown_with_what_they_hold_and_unplugged_when_pulled(rack: Rack) -> None:
    changes: list[list[dict[str, Any]]] = []
    with ReplicaWatch(rack.ports, rack.clock, [rack.folder], changes.append) as watch:
        # Each row gets what the replica holds with its first STATE.
        rows = until(
            lambda: _by_serial(watch.rows) if all("loads" in r for r in watch.rows) else None
        )
        taser, pistol = rows["T7-0007"], rows["P-0042"]
        assert taser["status"] == "connected" and taser["weapon"] == "taser"
        assert taser["model"] == "taser_7"
        assert taser["loads"] == [
            {"bay": 0, "cartridge": "taser7-cq", "probes": 2},
            {"bay": 1, "cartridge": "taser7-standoff", "probes": 1},
        ]
        assert pistol["status"] == "connected" and pistol["weapon"] == "firearm"
        assert pistol["loads"]["magazine_in"] is True
        assert pistol["loads"]["rounds"] == rack.pistol.rounds
        assert taser["faults"] == [] and pistol["faults"] == []

        rack.pistol.unplug()
        gone = until(lambda: _by_serial(watch.rows)["P-0042"]["status"] == "unplugged")
        assert gone
        row = _by_serial(watch.rows)["P-0042"]
        assert "looking for it by serial number" in row["problem"]
        assert _by_serial(watch.rows)["T7-0007"]["status"] == "connected"
        assert any(_by_serial(c)["P-0042"]["status"] == "unplugged" for c in changes)

        rack.pistol.replug()  # a new port path, the same serial number
        until(lambda: _by_serial(watch.rows)["P-0042"]["status"] == "connected")

        # Faults the armorer should see: a stoppage, and a TASER battery running down.
        rack.pistol.stoppage = True
        rack.taser.battery_pct = 12
        until(lambda: _by_serial(watch.rows)["P-0042"]["faults"] == ["stoppage"])
        until(lambda: _by_serial(watch.rows)["T7-0007"]["faults"] == ["battery 12%"])
        rack.pistol.stoppage = False
        until(lambda: _by_serial(watch.rows)["P-0042"]["faults"] == [])

        # A hung replica (no STATE, no PONG) is silent, not unplugged; it counts again once it
        # answers and proves its session.
        rack.taser.hang()
        until(lambda: _by_serial(watch.rows)["T7-0007"]["status"] == "silent")
        assert _by_serial(watch.rows)["P-0042"]["status"] == "connected"
        rack.taser.recover()
        until(lambda: _by_serial(watch.rows)["T7-0007"]["status"] == "connected")


def test_a_lane_with_no_replica_on_a_port_says_so_in_one_line(tmp_path: Path) -> None:
    from console_support import free_port, start_lane

    missing = str(tmp_path / "ttyNONE")
    proc = start_lane(
        free_port(),
        "L7",
        "k" * 40,
        tmp_path / "runs",
        tmp_path / "l7.log",
        extra=("--replica", missing),
    )
    assert proc.popen.wait(timeout=60) == 2
    lines = proc.log.read_text().strip().splitlines()
    assert lines[-1].startswith(f"openrange: lane L7: a replica: cannot open {missing}: ")
    assert "Traceback" not in proc.log.read_text()
