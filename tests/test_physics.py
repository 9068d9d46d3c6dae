"""Physics: real PyBullet, geometry that a manual can check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from physics.ballistics import fly_bullet, load
from physics.body import Region, SubjectBody
from physics.pose import Pose, look_rotation, pose_from_openxr, quat_to_matrix, yaw_quat
from physics.taser import Effect, ProbeImpact, assess, cartridge, fly_probes
from physics.units import FT_M, m_to_in
from physics.world import RangeWorld

MUZZLE = np.array([0.0, 0.0, 1.3])


def aim_at(world_point: np.ndarray) -> Pose:
    return Pose(tuple(MUZZLE), look_rotation(world_point - MUZZLE))


def subject_point(body: SubjectBody, region: Region, x_m: float) -> np.ndarray:
    """World point of a region's aim point for a subject standing at x_m facing the officer."""
    lx, ly, lz = body.aim_point(region)
    return np.array([x_m - lx, -ly, lz])


@pytest.fixture
def world() -> RangeWorld:
    with RangeWorld() as w:
        yield w


@pytest.mark.parametrize(
    "region", [Region.ABDOMEN, Region.UPPER_CHEST, Region.FACE, Region.PELVIS_GROIN, Region.LEG]
)
def test_a_bullet_aimed_at_a_region_lands_in_it(world: RangeWorld, region: Region) -> None:
    body = SubjectBody()
    world.add_subject("s1", body, (7 * 0.9144, 0.0, 0.0), math.pi)
    target = subject_point(body, region, 7 * 0.9144)
    impact = fly_bullet(
        world,
        load("9mm-124").model_copy(update={"dispersion_moa": 0.0}),
        aim_at(target),
        np.random.default_rng(0),
    )
    assert impact.target == "s1"
    assert impact.region is region
    assert impact.velocity_mps < load("9mm-124").muzzle_velocity_mps


def test_a_missed_round_is_followed_to_the_backstop(world: RangeWorld) -> None:
    impact = fly_bullet(
        world, load("9mm-124"), aim_at(np.array([10.0, 0.5, 1.3])), np.random.default_rng(0)
    )
    assert impact.target == "backstop"
    assert impact.point[0] == pytest.approx(world.lane_length_m, abs=0.01)


@pytest.mark.parametrize("cartridge_id", ["x26p-25ft", "x2-25ft", "taser7-cq", "taser7-standoff"])
def test_lower_probe_spread_follows_the_cartridge_angle(cartridge_id: str) -> None:
    """Fired level at a backstop 15 ft away, the two probes land distance x tan(angle) plus the
    bore separation apart (facts.md §1, the [D] spread table)."""
    cart = cartridge(cartridge_id).model_copy(update={"dispersion_deg": 0.0})
    distance_m = 15 * FT_M
    wall = RangeWorld(lane_length_m=distance_m)
    try:
        impacts = fly_probes(wall, cart, Pose((0.0, 0.0, 1.5)), np.random.default_rng(0))
    finally:
        wall.close()
    assert [i.target for i in impacts] == ["backstop", "backstop"]
    drop_in = m_to_in(impacts[0].point[2] - impacts[1].point[2])
    expected = 15 * 12 * math.tan(math.radians(cart.spread_deg)) + cart.bore_separation_in
    assert drop_in == pytest.approx(expected, rel=0.10)


def test_a_probe_stops_where_its_wire_runs_out(world: RangeWorld) -> None:
    cart = cartridge("x26p-21ft").model_copy(update={"dispersion_deg": 0.0})
    impacts = fly_probes(world, cart, Pose((0.0, 0.0, 1.5)), np.random.default_rng(0))
    top = impacts[0]
    assert top.target is None
    assert math.dist(top.point, (0.0, 0.0, 1.5)) == pytest.approx(21 * FT_M, rel=0.01)


def impact(probe: int, region: Region | None, z: float, gap: float | None = 0.25) -> ProbeImpact:
    return ProbeImpact(
        probe, "s1" if region else None, region, (5.0, 0.0, z), 0.1, gap if region else None
    )


def test_assessment_follows_the_documented_model() -> None:
    full = assess([impact(0, Region.ABDOMEN, 1.1), impact(1, Region.LEG, 0.7)], "s1")
    assert full.effect is Effect.FULL and full.spread_in == pytest.approx(m_to_in(0.4))
    reduced = assess([impact(0, Region.ABDOMEN, 1.1), impact(1, Region.ABDOMEN, 1.0)], "s1")
    assert reduced.effect is Effect.REDUCED
    missed = assess([impact(0, Region.ABDOMEN, 1.1), impact(1, None, 0.0)], "s1")
    assert missed.effect is Effect.NONE and "missed" in missed.reason
    coat = assess([impact(0, Region.ABDOMEN, 1.1, gap=2.5), impact(1, Region.LEG, 0.6)], "s1")
    assert coat.effect is Effect.NONE and "clothing" in coat.reason
    chest = assess([impact(0, Region.UPPER_CHEST, 1.4), impact(1, Region.LEG, 0.6)], "s1")
    assert chest.effect is Effect.FULL and chest.avoid_zone == (0,)


def test_openxr_aim_forward_becomes_physics_forward() -> None:
    # Identity in OpenXR looks along -Z (into the screen) with +Y up.
    pose = pose_from_openxr((0.1, 1.6, -2.0), (0.0, 0.0, 0.0, 1.0), 1.0, valid=True, tracked=True)
    assert pose.position_m == pytest.approx((2.0, -0.1, 1.6))
    assert pose.forward() == pytest.approx((1.0, 0.0, 0.0))
    assert pose.up() == pytest.approx((0.0, 0.0, 1.0))
    # Turned 90 degrees left about OpenXR's +Y: now it looks along XR -X, physics +Y (left).
    half = math.radians(90) / 2
    turned = pose_from_openxr(
        (0, 0, 0), (0.0, math.sin(half), 0.0, math.cos(half)), 1.0, valid=True, tracked=True
    )
    assert turned.forward() == pytest.approx((0.0, 1.0, 0.0), abs=1e-9)


def test_look_rotation_and_yaw_agree() -> None:
    assert quat_to_matrix(look_rotation((0.0, 1.0, 0.0))) == pytest.approx(
        quat_to_matrix(yaw_quat(math.pi / 2)), abs=1e-9
    )
