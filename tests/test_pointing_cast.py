"""The drill's pointing cast (issue 16, the live tick): `RangeWorld.ray_target` finds what
`cast_paths` finds for one chord, and its broad phase (each subject's reach box, from its
placement alone) poses exactly and syncs only the subjects the ray can meet."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_reference import BODIES, random_pose

from physics.animation import Clip, clip_pose
from physics.body import SubjectBody
from physics.world import RangeWorld

CLIPS = list(Clip)


def crowd(world: RangeWorld, count: int = 30) -> list[tuple[float, float, float]]:
    spots = [(6.0 + 1.3 * (k % 6), -4.0 + 1.6 * (k // 6), 0.0) for k in range(count)]
    for k, spot in enumerate(spots):
        world.add_subject(f"s{k}", BODIES[k % len(BODIES)], spot, 0.2 * k)
    world.sync()
    return spots


def pose_crowd(world: RangeWorld, spots: list[tuple[float, float, float]], frame: int) -> None:
    skeleton = BODIES[0].skeleton()
    for k, (x, y, z) in enumerate(spots):
        pose = clip_pose(skeleton, CLIPS[(k + frame) % len(CLIPS)], 0.07 * frame + k, k)
        world.pose_subject(f"s{k}", pose, (x + 0.05 * frame, y, z), 0.2 * k + frame)


@pytest.mark.parametrize("body", BODIES, ids=["medium", "child", "elderly", "pregnant"])
def test_reach_box_holds_the_exact_box_of_any_pose(body: SubjectBody) -> None:
    rng = np.random.default_rng(7)
    with RangeWorld(lane_length_m=40.0, lane_width_m=40.0) as world:
        world.add_subject("s", body, (5.0, 0.0, 0.0), 0.0)
        skeleton = body.skeleton()
        for k in range(300):
            pose = random_pose(rng) if k % 2 else clip_pose(skeleton, CLIPS[k % 13], k * 0.1, k)
            x, y = (float(v) for v in rng.uniform(-10.0, 10.0, 2))
            world.pose_subject("s", pose, (x, y, 0.0), float(rng.uniform(-7.0, 7.0)))
            old = world.subject_box("s")
            if k % 3 == 0:
                world.sync()  # PyBullet has this pose: the next reach box holds it too
            reach = world._reach_boxes(["s"])[0]
            assert (reach[0] <= old[0]).all() and (old[1] <= reach[1]).all(), k
            synced = world._synced.get("s")
            if synced is not None and synced[1] is not None:
                stale = synced[1]
                assert (reach[0] <= stale[0]).all() and (stale[1] <= reach[1]).all(), k


def test_ray_target_finds_what_cast_paths_finds_with_every_subject_synced() -> None:
    rng = np.random.default_rng(11)
    hits = 0
    with RangeWorld(lane_length_m=30.0, lane_width_m=12.0) as world:
        world.add_object("crate", (9.0, 2.0, 0.5), (0.6, 0.6, 1.0), "plywood", "cover")
        spots = crowd(world)
        for frame in range(30):
            pose_crowd(world, spots, frame)
            aim = rng.uniform([6.0, -4.5, 0.0], [14.0, 4.5, 1.9], (6, 3))
            start = np.array([0.0, 0.0, 1.4])
            names = [world.ray_target(start, start + (a - start) * 3.0) for a in aim]
            world.sync()
            points = np.stack([np.tile(start, (6, 1)), start + (aim - start) * 3.0])
            full = world.cast_paths(points, np.array([0.0, 1.0]), np.zeros((2, 6)))
            want = [world.targets[t] if t >= 0 else None for t in full.target.tolist()]
            assert names == want, frame
            hits += sum(name is not None and name.startswith("s") for name in names)
    assert hits > 60  # most rays meet a subject of the crowd


def test_the_pointing_ray_poses_and_syncs_only_the_subjects_it_can_meet() -> None:
    """A ray at the crowd's nearest subject, past the rest: the others are neither posed in
    numpy (forward kinematics) nor moved in PyBullet; a second ray through the whole crowd
    syncs what it crosses."""
    with RangeWorld(lane_length_m=30.0, lane_width_m=12.0) as world:
        spots = crowd(world)
        pose_crowd(world, spots, 1)
        first = spots[0]
        start = np.array([0.0, 0.0, 1.2])
        end = start + (np.array([first[0] + 0.05, first[1], 1.2]) - start) * 0.98
        assert world.ray_target(start, end) == "s0"
        assert "s0" not in world._unsynced
        # Nobody else moved in PyBullet but a neighbour the ray passes within reach of ...
        assert len(spots) - len(world._unsynced) <= 2
        assert len(world._frames) <= 2  # ... nor posed in numpy
        across = world.ray_target(np.array([4.0, -0.8, 1.2]), np.array([20.0, -0.8, 1.2]))
        assert across == "s12"
        assert 0 < len(spots) - len(world._unsynced) < 10


def test_rays_grazing_the_bodies_find_what_they_find_with_every_subject_synced() -> None:
    """Rays at points of the subjects' drawn surfaces (a hull's vertices, a few millimetres
    either way), where a broad phase that was not conservative would miss: the same body as
    PyBullet with every subject moved to its pose first."""
    rng = np.random.default_rng(5)
    with RangeWorld(lane_length_m=30.0, lane_width_m=12.0) as world:
        spots = crowd(world, 12)
        for frame in range(20):
            pose_crowd(world, spots, frame)
            aims = []
            for k in rng.choice(len(spots), 4, replace=False).tolist():
                name = f"s{k}"
                frames = world.subject_frames(name)
                skeleton = world._skeletons[name]
                seg = skeleton.segments[int(rng.integers(len(skeleton.segments)))]
                v = seg.vertices[int(rng.integers(len(seg.vertices)))]
                i = seg.joint
                at = frames.position[i] + frames.rotation[i] @ (v - skeleton.rest[i])
                aims += [at + rng.normal(0.0, 0.002, 3) for _ in range(3)]
            world._frames.clear()  # as a new frame finds them: not posed in numpy
            world._numpy_boxes.clear()
            start = np.array([0.0, 0.0, 1.4])
            names = [world.ray_target(start, start + (a - start) * 1.5) for a in aims]
            world.sync()
            for a, name in zip(aims, names, strict=True):
                points = np.stack([start, start + (a - start) * 1.5])[:, None, :]
                full = world.cast_paths(points, np.array([0.0, 1.0]), np.zeros((2, 1)))
                want = world.targets[full.target[0]] if full.target[0] >= 0 else None
                assert name == want, frame
