"""TASER wires and muzzle flashes (range/review/effects.py): read from the log, and drawn where
projection says they are in the review render (`scene_at`) and in the prop-based renderers (the
replay window's `Playback`, the same `EffectProps` the headset uses), moderngl on EGL."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from drills.log import LogRecord
from drills.officer import find_officer
from drills.schema import Drill, find_drill
from physics.pose import Pose, look_rotation
from range.review.effects import (
    FLASH_RGB,
    FLASH_S,
    WIRE_RGB,
    EffectLog,
    flash_point,
    flashes_at,
    wires_at,
)
from range.review.mirror import Playback, scene_at
from range.review.render import Renderer
from range.runs.drill import RunConfig, run_drill

W, H, FOV = 480, 360, 50.0
SIDE_M = 1.5  # the camera beside what it looks at
MUZZLE = {"position_m": [0.0, 0.0, 1.4], "orientation": [0.0, 0.0, 0.0, 1.0], "tracked": True}


def _probe(probe: int, point: list[float], target: str | None = "s") -> dict[str, Any]:
    return {
        "probe": probe,
        "target": target,
        "region": None,
        "zone": None,
        "point": point,
        "time_of_flight_s": 0.05,
        "clothing_gap_in": 0.25,
        "connected": True,
    }


def _impacts(t: float, probes: list[dict[str, Any]]) -> LogRecord:
    data = {"subject": "s", "impacts": probes, "serial": "T7", "bay": 0}
    return LogRecord(t, "probe_impacts", data)


def _fired(t: float, action: str, muzzle: dict[str, Any] = MUZZLE) -> LogRecord:
    return LogRecord(
        t, "officer_action", {"action": action, "serial": "T7", "bay": 0, "muzzle": muzzle}
    )


RECORDS = [
    LogRecord(0.9, "positions", {"officer": [0.0, 0.0], "subjects": {"s": [3.2, 0.0]}}),
    _fired(1.0, "taser_fired"),
    _impacts(1.0, [_probe(0, [3.0, 0.1, 1.0]), _probe(1, [3.0, -0.1, 0.6])]),
    LogRecord(2.0, "positions", {"officer": [0.0, 0.0], "subjects": {"s": [3.7, 0.0]}}),
    _fired(3.0, "taser_fired"),
    _impacts(3.0, [_probe(0, [4.0, 0.0, 1.1], None), _probe(1, [4.0, 0.0, 0.2], None)]),
    _fired(4.0, "firearm_fired"),
]


def test_a_wire_pays_out_with_its_probe_then_runs_from_the_cartridge_to_it() -> None:
    half = wires_at(RECORDS, 1.025)  # half of the 0.05 s flight
    assert [w.probe for w in half] == [0, 1]
    assert half[0].cartridge_m == (0.0, 0.0, 1.4)
    assert half[0].probe_m == pytest.approx((1.5, 0.05, 1.2))
    whole = wires_at(RECORDS, 1.5)
    assert [w.probe_m for w in whole] == [(3.0, 0.1, 1.0), (3.0, -0.1, 0.6)]


def test_a_probe_in_a_subject_follows_it_and_a_new_cartridge_ends_the_old_wires() -> None:
    moved = wires_at(RECORDS, 2.5)  # the subject moved 0.5 m down the lane since the impact
    assert [w.probe_m for w in moved] == [
        pytest.approx((3.5, 0.1, 1.0)),
        pytest.approx((3.5, -0.1, 0.6)),
    ]
    # The same device's next deployment: only its wires (probes in nothing stay put).
    after = wires_at(RECORDS, 3.5)
    assert [w.probe_m for w in after] == [(4.0, 0.0, 1.1), (4.0, 0.0, 0.2)]
    # The headset hangs the wires from where the replica is now.
    now = wires_at(RECORDS, 3.5, cartridges_now={"T7": (0.2, 0.3, 1.2)})
    assert {w.cartridge_m for w in now} == {(0.2, 0.3, 1.2)}


def test_a_muzzle_flash_shows_for_flash_s_after_each_shot() -> None:
    assert flashes_at(RECORDS, 3.99) == []
    (flash,) = flashes_at(RECORDS, 4.0 + FLASH_S / 2)
    assert flash.position_m == (0.0, 0.0, 1.4)
    assert flashes_at(RECORDS, 4.0 + FLASH_S + 1e-3) == []
    # Read incrementally, frame by frame, as the headset does: the same answers.
    log, seen = EffectLog(), []
    for t in np.arange(0.0, 4.2, 1 / 90):
        log.feed(RECORDS, float(t))
        seen.append((float(t), len(log.wires(float(t))), len(log.flashes(float(t)))))
    assert all(n == len(wires_at(RECORDS, t)) for t, n, _ in seen)
    assert sum(f for _, _, f in seen) == 5  # the frames 0, 1, 2, 3 and 4 x 1/90 s after it


def _device(t: float, event: str, serial: str = "T7") -> LogRecord:
    return LogRecord(t, "device_event", {"serial": serial, "event": event})


def test_a_taser_arcs_at_its_front_from_the_arc_press_until_it_is_let_go_or_the_cycle_ends() -> (
    None
):
    records = [
        _device(1.0, "arc_switch"),
        _device(1.2, "arc_switch", "X2"),
        _device(1.5, "trigger_released"),
        _device(2.0, "arc_switch"),
        _device(7.0, "cycle_ended"),
    ]
    log, arcing = EffectLog(), []
    for t in (0.5, 1.0, 1.4, 1.5, 1.9, 2.0, 6.9, 7.0):
        log.feed(records, t)
        arcing.append((t, log.arcing("T7"), log.arcing("X2")))
    assert arcing == [
        (0.5, False, False),
        (1.0, True, False),
        (1.4, True, True),
        (1.5, False, True),  # let go
        (1.9, False, True),
        (2.0, True, True),
        (6.9, True, True),
        (7.0, False, True),  # the device's cycle ended
    ]


def _side_camera(point: tuple[float, float, float]) -> Pose:
    eye = np.array([point[0], point[1] - SIDE_M, point[2]])
    return Pose(tuple(eye), look_rotation(np.asarray(point) - eye))


def _colour_near(
    image: np.ndarray, pixel: tuple[float, float] | None, rgb: tuple[float, ...]
) -> bool:
    """Whether a pixel within 1 of `pixel` has colour `rgb` (unlit: exact up to rounding)."""
    assert pixel is not None
    x, y = int(pixel[0]), int(pixel[1])
    patch = image[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].astype(int)
    want = np.array([round(c * 255) for c in rgb])
    return bool((np.abs(patch - want).max(axis=2) <= 2).any())


@pytest.fixture(scope="module")
def taser_run() -> tuple[Drill, list[LogRecord]]:
    drill = find_drill("knife-approach-v1")
    result = run_drill(RunConfig(drill, find_officer("taser-first-v1"), 3))
    return drill, list(result.records)


@pytest.fixture(scope="module")
def firearm_run() -> tuple[Drill, list[LogRecord]]:
    drill = find_drill("cq-cartridge-long-range-v1")
    officer = find_officer("cq-cartridge-long-range-firearm-v1")
    result = run_drill(RunConfig(drill, officer, 3))
    return drill, list(result.records)


def _wire_frame(drill: Drill, records: list[LogRecord], playback: bool) -> None:
    impact = next(r for r in records if r.kind == "probe_impacts")
    t = impact.t + 0.2
    wires = wires_at(records, t)
    assert len(wires) == 2
    with Renderer(W, H) as renderer:
        if playback:
            play = Playback(records, renderer, drill)
            play.update(t)
            # A probe logged on a segment: its wire ends on the posed body's marker.
            wires = play.effects.wires(t, on_body=play.body_markers.point)
        else:
            renderer.load(scene_at(records, t, drill)[0])
        for wire in wires:
            a, b = np.asarray(wire.cartridge_m), np.asarray(wire.probe_m)
            for f in (0.3, 0.5):  # along the wire, clear of the subject
                point = tuple(float(c) for c in a + (b - a) * f)
                camera = _side_camera(point)
                image = renderer.render(camera, FOV)
                assert _colour_near(image, renderer.project(camera, point, FOV), WIRE_RGB)
                # And not beside it: 3 cm above the wire is the range behind.
                above = (point[0], point[1], point[2] + 0.03)
                assert not _colour_near(image, renderer.project(camera, above, FOV), WIRE_RGB)


def _flash_frame(drill: Drill, records: list[LogRecord], playback: bool) -> None:
    shot = next(
        r for r in records if r.kind == "officer_action" and r.data["action"] == "firearm_fired"
    )
    for dt, shown in ((0.01, True), (FLASH_S + 0.02, False)):
        t = shot.t + dt
        muzzle = Pose(
            tuple(shot.data["muzzle"]["position_m"]), tuple(shot.data["muzzle"]["orientation"])
        )
        point = flash_point(muzzle)
        with Renderer(W, H) as renderer:
            if playback:
                Playback(records, renderer, drill).update(t)
            else:
                renderer.load(scene_at(records, t, drill)[0])
            camera = _side_camera(point)
            image = renderer.render(camera, FOV)
            found = _colour_near(image, renderer.project(camera, point, FOV), FLASH_RGB)
            assert found is shown, f"{dt} s after the shot"


@pytest.mark.parametrize("playback", [False, True], ids=["review", "playback"])
def test_the_wires_are_drawn_where_projection_says(
    taser_run: tuple[Drill, list[LogRecord]], playback: bool
) -> None:
    _wire_frame(*taser_run, playback)


@pytest.mark.parametrize("playback", [False, True], ids=["review", "playback"])
def test_the_muzzle_flash_is_drawn_where_projection_says(
    firearm_run: tuple[Drill, list[LogRecord]], playback: bool
) -> None:
    _flash_frame(*firearm_run, playback)
