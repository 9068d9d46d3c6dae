"""Issue 14: `analyze spread` clips still subjects in numpy (RangeWorld.cast_paths with
`clip_subjects`, the drawn hulls' face planes, a chunk of flights at once) instead of casting
PyBullet rays at them: it must end each flight where PyBullet's rays do."""

from __future__ import annotations

import math

import numpy as np
import pytest

from physics.animation import Clip, clip_pose
from physics.body import SubjectBody
from physics.pose import look_rotations
from physics.taser import cartridge, flight_plan, probe_launch
from physics.units import FT_M
from physics.world import RangeWorld

# Three subjects in the lane, posed (limbs turned, so every segment's frame is rotated).
SUBJECTS = [
    ("arms", Clip.ARMS_RAISED, 9 * FT_M, 0.0, math.pi),
    ("walker", Clip.WALK, 13 * FT_M, 0.5, math.pi / 2),
    ("kneeler", Clip.KNEEL, 16 * FT_M, -0.4, 0.3),
]


def test_clipping_still_subjects_in_numpy_ends_flights_where_pybullet_does() -> None:
    body = SubjectBody()
    skeleton = body.skeleton()
    cart = cartridge("taser7-standoff")
    rng = np.random.default_rng(5)
    n = 3000
    with RangeWorld() as world:
        for name, clip, x_m, y_m, yaw in SUBJECTS:
            world.add_subject(name, body, (x_m, y_m, 0.0), yaw)
            world.pose_subject(name, clip_pose(skeleton, clip, 0.7, 2))
        # Aimed all over the three of them: hits, grazes, misses onto the floor and past.
        targets = np.array([[x_m, y_m, 0.9] for _, _, x_m, y_m, _ in SUBJECTS])
        muzzle = np.array([0.0, 0.0, 1.3])
        aim = targets[rng.integers(0, 3, n)] + rng.normal(0.0, [0.05, 0.35, 0.5], (n, 3))
        rotations = look_rotations(aim - muzzle)
        starts, directions = probe_launch(cart, np.tile(muzzle, (n, 1)), rotations, rng)
        plan = flight_plan(cart)
        points, speeds = plan.flights(starts, directions)
        ray = world.cast_paths(points, plan.times_s, speeds, cart.reach_m)
        ours = world.cast_paths(points, plan.times_s, speeds, cart.reach_m, clip_subjects=True)
        subjects = [world.targets.index(name) for name, *_ in SUBJECTS]
    on = np.isin(ray.target, subjects)
    assert 0.3 < on.mean() < 0.8  # a fair share of both
    assert (ray.target == world.targets.index("floor")).sum() > 100
    same = (ours.target == ray.target) & (ours.region == ray.region)
    assert same.mean() >= 0.995, same.mean()
    both = on & (ours.target == ray.target)
    apart = np.linalg.norm(ours.point[both] - ray.point[both], axis=1)
    # PyBullet's hull is the drawn one inset 1 mm plus its ~1 mm margin.
    assert np.median(apart) < 0.5e-3 and np.quantile(apart, 0.99) < 5e-3
    assert (ours.segment[both] == ray.segment[both]).mean() >= 0.99
    assert ours.rest_point is not None and ray.rest_point is not None
    on_body = np.linalg.norm(ours.rest_point[both] - ray.rest_point[both], axis=1)
    assert np.quantile(on_body, 0.99) < 5e-3  # (a graze may take the segment beside)
    # What is not a subject is PyBullet's in both: the same point.
    off = ~on & (ours.target == ray.target)
    assert np.allclose(ours.point[off], ray.point[off], atol=1e-9)
    assert np.quantile(np.abs(ours.time_s[both] - ray.time_s[both]), 0.99) < 1e-4
    assert (ours.segment[~np.isin(ours.target, subjects)] == -1).all()


def test_a_flight_that_meets_the_floor_first_stops_there() -> None:
    """A probe fired down into the floor just short of a subject's feet: PyBullet's floor hit
    comes before the subject on the same chord."""
    body = SubjectBody()
    cart = cartridge("taser7-cq")
    with RangeWorld() as world:
        world.add_subject("s", body, (3.0, 0.0, 0.0), math.pi)
        muzzle = np.array([[0.0, 0.0, 1.3]])
        for x_floor, expect in ((2.7, "floor"), (4.5, "s")):
            rotations = look_rotations(np.array([[x_floor, 0.0, 0.0]]) - muzzle[0])
            starts, directions = probe_launch(
                cart.model_copy(update={"probes_per_pull": 1}),
                muzzle,
                rotations,
                np.random.default_rng(0),
                dispersion=False,
            )
            plan = flight_plan(cart)
            points, speeds = plan.flights(starts, directions)
            ray = world.cast_paths(points, plan.times_s, speeds, cart.reach_m)
            ours = world.cast_paths(points, plan.times_s, speeds, cart.reach_m, clip_subjects=True)
            assert world.targets[int(ours.target[0])] == expect
            assert ours.target[0] == ray.target[0]
            # (a slanting hit: PyBullet's ~1 mm hull difference, a few mm along the path)
            assert ours.point[0] == pytest.approx(ray.point[0], abs=5e-3)
