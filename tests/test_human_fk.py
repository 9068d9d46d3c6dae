"""The fast forward kinematics (depth-ordered, in place) gives the same bits as the plain
per-level form it replaced, for every body and many random poses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from physics.animation import Clip, clip_pose
from physics.body import BODY_SIZES, SubjectBody
from physics.human import (
    _LEVELS,
    JOINT_INDEX,
    JOINTS,
    HumanPose,
    Posed,
    Skeleton,
    forward_kinematics,
)

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
