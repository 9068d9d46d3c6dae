"""Fast paths give the same bits as the forms they replaced (seeded runs replay bit for bit):
the depth-ordered forward kinematics, and the plain-float quaternions of the pose blend."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from physics.animation import Clip, _quat, _slerp, clip_pose
from physics.body import BODY_SIZES, SubjectBody
from physics.human import (
    _LEVELS,
    JOINT_INDEX,
    JOINTS,
    HumanPose,
    Posed,
    Skeleton,
    forward_kinematics,
    matrices_to_quats,
)
from physics.pose import quat_to_matrix

BODIES = [
    SubjectBody(),
    SubjectBody(size=BODY_SIZES["small"], child=True),
    SubjectBody(size=BODY_SIZES["large"], elderly=True),
    SubjectBody(pregnant=True),
]


def reference_fk(skeleton: Skeleton, pose: HumanPose) -> Posed:
    """forward_kinematics as it was before the depth-ordered rewrite (commit c8a3ff5)."""
    rest = skeleton.rest
    local = np.tile(np.eye(3), (len(JOINTS), 1, 1))
    for name, m in pose.joints.items():
        local[JOINT_INDEX[name]] = m
    pos = np.empty_like(rest)
    rot = np.empty((len(JOINTS), 3, 3))
    rot[0] = pose.root_rotation @ local[0]
    pos[0] = rest[0] + pose.root_offset_m
    for idx, par in _LEVELS:
        parent_rot = rot[par]
        rot[idx] = parent_rot @ local[idx]
        pos[idx] = pos[par] + (parent_rot @ (rest[idx] - rest[par])[:, :, None])[:, :, 0]
    return Posed(pos, rot)


def random_pose(rng: np.random.Generator) -> HumanPose:
    names = [n for n in JOINTS if rng.random() < 0.8]
    mats = Rotation.random(len(names) + 1, random_state=rng).as_matrix()
    offset = tuple(float(v) for v in rng.normal(0.0, 0.3, 3))
    return HumanPose(offset, mats[-1], dict(zip(names, mats[:-1], strict=True)))  # type: ignore[arg-type]


@pytest.mark.parametrize("body", BODIES, ids=["medium", "child", "elderly", "pregnant"])
def test_fast_fk_is_bit_identical_on_random_poses(body: SubjectBody) -> None:
    skeleton = body.skeleton()
    for seed in range(200):
        pose = random_pose(np.random.default_rng(seed))
        fast, old = forward_kinematics(skeleton, pose), reference_fk(skeleton, pose)
        assert fast.position.tobytes() == old.position.tobytes(), seed
        assert fast.rotation.tobytes() == old.rotation.tobytes(), seed


def test_fast_fk_is_bit_identical_on_animation_frames() -> None:
    skeleton = SubjectBody().skeleton()
    for clip in Clip:
        for k in range(40):
            pose = clip_pose(skeleton, clip, k * 0.037, k)
            fast, old = forward_kinematics(skeleton, pose), reference_fk(skeleton, pose)
            assert fast.position.tobytes() == old.position.tobytes(), (clip, k)
            assert fast.rotation.tobytes() == old.rotation.tobytes(), (clip, k)


def reference_slerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """animation._slerp as it was before the plain-float quaternions (commit c8a3ff5)."""
    qa, qb = matrices_to_quats(np.stack([a, b]))
    if qa @ qb < 0:
        qb = -qb
    dot = min(max(float(qa @ qb), -1.0), 1.0)
    angle = math.acos(dot)
    if angle < 1e-6:
        q = qa
    else:
        q = (math.sin((1 - w) * angle) * qa + math.sin(w * angle) * qb) / math.sin(angle)
    x, y, z, qw = (float(v) for v in q)
    return quat_to_matrix((x, y, z, qw))


def test_plain_float_quaternion_is_bit_identical() -> None:
    rng = np.random.default_rng(7)
    mats = Rotation.random(5000, random_state=rng).as_matrix()
    # Each branch of Shepperd's method (the largest diagonal term), the identity and half-turns.
    special = [np.eye(3), np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0])]
    special += [np.diag([-1.0, -1.0, 1.0])]
    every = np.concatenate([mats, np.array(special)])
    want = matrices_to_quats(every)
    for k, m in enumerate(every):
        assert _quat(m).tobytes() == want[k].tobytes(), k


def test_blend_slerp_is_bit_identical_on_many_seeds() -> None:
    eye = np.eye(3)
    for seed in range(300):
        rng = np.random.default_rng(seed)
        a, b = Rotation.random(2, random_state=rng).as_matrix()
        w = float(rng.random())
        for x, y in ((a, b), (a, eye), (eye, b), (a, a)):
            assert _slerp(x, y, w).tobytes() == reference_slerp(x, y, w).tobytes(), seed


def test_batched_fk_is_bit_identical_to_one_at_a_time() -> None:
    from physics.human import forward_kinematics_batch

    for seed in range(40):
        rng = np.random.default_rng(seed)
        count = int(rng.integers(1, 31))
        skeletons = [BODIES[int(rng.integers(len(BODIES)))].skeleton() for _ in range(count)]
        poses = [random_pose(rng) for _ in range(count)]
        for sk, pose, got in zip(
            skeletons, poses, forward_kinematics_batch(skeletons, poses), strict=True
        ):
            want = reference_fk(sk, pose)
            assert got.position.tobytes() == want.position.tobytes(), seed
            assert got.rotation.tobytes() == want.rotation.tobytes(), seed


def test_world_frames_batched_equal_one_at_a_time() -> None:
    from physics.world import RangeWorld

    skeleton = BODIES[0].skeleton()
    with RangeWorld(lane_length_m=40.0, lane_width_m=40.0) as world:
        for k in range(12):
            world.add_subject(f"s{k}", BODIES[k % len(BODIES)], (4.0 + k, k - 6.0, 0.0), 0.3 * k)
        for frame in range(5):
            for k in range(12):
                pose = clip_pose(skeleton, Clip.RUN, 0.05 * frame + k, k)
                world.pose_subject(f"s{k}", pose, (4.0 + k + 0.1 * frame, k - 6.0, 0.0), k)
            world._body_boxes()  # boxes every subject: frames in one batch
            for k in range(12):
                name = f"s{k}"
                got = world.subject_frames(name)
                want = world._frames_at(name, world.subject_pose(name))
                assert got.position.tobytes() == want.position.tobytes(), (frame, k)
                assert got.rotation.tobytes() == want.rotation.tobytes(), (frame, k)
