"""A live drive-stun: the officer's TASER 7 (an emulator on a real pty, running free on the real
clock) with its cartridges pulled out; an ARC press with the tracked front away from everyone
only arcs, and a press with the front held against the subject's thigh is a `drive_stun` at the
body part touched, its cycle held until the ARC is let go, scored as the scripted one is. The
TASER 10 has no drive-stun mode: the same contact only arcs. tests/test_xr_live_drive_stun.py
does it against Monado with the controller moved to the subject."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from xr_sandbox import TASER_SERIAL

from drills.schema import parse_drill_bytes
from peripherals.emulator import TaserEmulator
from peripherals.messages import Model
from physics.body import Region, SubjectBody
from physics.pose import Pose, look_rotation
from physics.units import FT_M
from range.clock import MonotonicClock
from range.runs.drill import LiveDrill, RunConfig, RunResult, Session
from range.runs.poses import TrackedPoses
from scoring.score import Kind

SUBJECT_FT = 2.5
HOLD_S = 0.6  # how long the officer holds the ARC with the front on the thigh
DRILL = f"""\
id = "live-drive-stun-v1"
version = 1
title = "Live drive-stun"
rationale = "A subject resists within arm's reach; the officer's TASER is out of cartridges."
expected_response = "Drive-stun the thigh only against an assaultive subject."
time_limit_s = 2.5
weapons = ["taser"]  # the lane holds the TASER alone (nu20 #5: a lane lacking one is refused)

[scene]
lane_length_ft = 40.0

[[subjects]]
id = "subject"
start_distance_ft = {SUBJECT_FT}
start_phase = "resisting"

[[phases]]
id = "resisting"
subject = "subject"
behaviour = "active_resistance"
[[phases.transitions]]
to = "gave_up"
instructor = "gave_up"

[[phases]]
id = "gave_up"
subject = "subject"
behaviour = "compliant"
ends_drill = true
""".encode()


def thigh() -> np.ndarray:
    """A point just inside the front of the subject's thigh, in the range's frame (the subject
    stands SUBJECT_FT downrange facing the officer: yaw pi)."""
    lx, ly, lz = SubjectBody().aim_point(Region.LEG)
    return np.array([SUBJECT_FT * FT_M - lx, -ly, lz])


@dataclass
class Hand:
    """The test's pose source: the TASER's front held low and off to the side, then, from host
    time `touching_from_s`, pressed 2 cm short of the thigh's surface, pointing at it."""

    clock: MonotonicClock
    touching_from_s: float = float("inf")

    def pose(self, device: str, t: float) -> Pose:
        if device == "head":
            return Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, 0.0)), t)
        if t >= self.touching_from_s:
            front = thigh() - np.array([0.02, 0.0, 0.0])
            return Pose(tuple(front), look_rotation((1.0, 0.0, 0.0)), t)
        return Pose((0.15, -0.35, 0.9), look_rotation((1.0, 0.0, 0.0)), t)

    def update(self) -> dict[str, Pose]:
        now = self.clock.now_s()
        return {"aim": self.pose("weapon", now), "head": self.pose("head", now)}


@dataclass
class Lane:
    """The officer's one TASER, emulated behind a real pty and running free on the real clock."""

    clock: MonotonicClock
    folder: Path
    taser: TaserEmulator
    port: str

    @classmethod
    @contextmanager
    def of(cls, model: Model, folder: Path) -> Iterator[Lane]:
        folder.mkdir(parents=True, exist_ok=True)
        clock = MonotonicClock()
        taser = TaserEmulator(model, TASER_SERIAL, clock, directory=folder)
        try:
            port = taser.start()
            taser.run_free()
            yield cls(clock, folder, taser, port)
        finally:
            taser.stop_free_running()
            taser.stop()


def _arc(taser: TaserEmulator, hold_s: float) -> None:
    taser.press_trigger()  # no cartridge: the press is the ARC
    time.sleep(hold_s)
    taser.release_trigger()


def _run(lane: Lane, tmp_path: Path) -> tuple[RunResult, Hand]:
    """The drill live: the officer pulls both cartridges, draws, presses ARC away from the
    subject, then holds the front on the thigh and presses ARC for HOLD_S."""
    clock, taser = lane.clock, lane.taser
    hand = Hand(clock)
    go = threading.Event()

    def officer() -> None:
        go.wait(timeout=30)
        taser.eject(0)
        taser.eject(1)
        taser.draw()
        taser.set_safety(False)
        time.sleep(0.2)
        _arc(taser, 0.1)  # nobody touched: an arc at the front
        time.sleep(0.3)
        hand.touching_from_s = clock.now_s()
        time.sleep(0.1)
        _arc(taser, HOLD_S)

    def open_poses(stack: ExitStack) -> TrackedPoses:
        return hand

    config = RunConfig(
        parse_drill_bytes(DRILL, tmp_path / "live-drive-stun-v1.toml"),
        None,
        5,
        runs_dir=None,
        officer_name="Ofc. Rivera #4411",
        override_by="Lt. Hale",
        live=LiveDrill([lane.port], open_poses, clock, search=[lane.folder], on_start=go.set),
    )
    thread = threading.Thread(target=officer)
    thread.start()
    try:
        return Session(config).run(), hand
    finally:
        thread.join(timeout=10)


def _of(result: RunResult, kind: str) -> list[dict[str, object]]:
    return [{"t": r.t, **r.data} for r in result.records if r.kind == kind]


def test_an_arc_press_with_the_front_on_the_thigh_is_a_drive_stun_held_as_long_as_the_press(
    tmp_path: Path,
) -> None:
    with Lane.of(Model.TASER_7, tmp_path / "ports") as lane:
        result, _ = _run(lane, tmp_path)
    arcs = [r for r in result.records if r.data.get("event") == "arc_switch"]
    assert len(arcs) == 2, [r.data for r in result.records if r.kind == "device_event"]
    stuns = _of(result, "drive_stun")
    # The first press touched nobody: no drive-stun, no cycle; the second touched the thigh.
    assert len(stuns) == 1, stuns
    stun = stuns[0]
    assert stun["subject"] == "subject" and stun["region"] == Region.LEG.value
    assert stun["serial"] == TASER_SERIAL and stun["t"] > arcs[0].t
    assert stun["distance_m"] == pytest.approx(SUBJECT_FT * FT_M, abs=0.01)
    started = _of(result, "taser_cycle_started")
    assert [(c["mode"], c["effect"], c["t"]) for c in started] == [
        ("drive_stun", "reduced_effect", stun["t"])
    ]
    # The hold: from the press to the ARC let go, on the replica's own clock.
    (exposure,) = _of(result, "taser_exposure")
    assert exposure["ended_by"] == "released" and exposure["mode"] == "drive_stun"
    assert exposure["duration_s"] == pytest.approx(HOLD_S, abs=0.05)
    # Scored as a scripted drive-stun: a preferred zone (PLACE-01 credit), counted, and pain
    # compliance against a subject who is only resisting (CEW-06).
    score = result.score
    place = [(f.kind, f.message) for f in score.findings if f.rule == "PLACE-01"]
    assert place == [(Kind.CREDIT, "drive-stun on subject in a preferred zone (leg)")]
    assert any(f.rule == "CEW-06" and f.kind is Kind.FINDING for f in score.findings)
    assert score.as_json()["subjects"]["subject"]["drive_stuns"] == 1


def test_a_taser_10_has_no_drive_stun_so_the_same_contact_only_arcs(tmp_path: Path) -> None:
    with Lane.of(Model.TASER_10, tmp_path / "ports") as lane:
        result, _ = _run(lane, tmp_path)
    arcs = [r for r in result.records if r.data.get("event") == "arc_switch"]
    assert len(arcs) == 2
    assert _of(result, "drive_stun") == [] and _of(result, "taser_cycle_started") == []
