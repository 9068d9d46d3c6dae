"""Subject animations: each pose is a pure function of the drill time and the run's seed, so a
replay of a run poses every subject exactly as it was.

A clip gives the joint rotations of one action at a time into it (`clip_pose`); a `Timeline`
of (start time, clip) changes blends each clip in from the previous one (`pose_at`).
`clip_for` maps a drill subject's behaviour, stance, speed and held object to a clip.

Joint conventions (physics.human): a rotation about +Y by a positive angle swings a hanging limb
backward and tips the trunk forward; hip, shoulder and elbow flexion are negative angles, knee
flexion positive. Rates: walking stride about 1.1 s (cadence ~110 steps/min), running stride
0.7 s, breathing 12-17 breaths a minute at rest (chosen from common physiology ranges).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

import numpy as np

from physics import _kernel
from physics.human import (
    F64,
    JOINTS,
    HumanPose,
    Skeleton,
    forward_kinematics,
    posed_vertices,
    rot_x,
    rot_y,
    rot_z,
)
from physics.pose import quat_to_matrix

BLEND_S = 0.3  # a change of clip blends in over this long
# Speed thresholds with hysteresis (a modelling choice, docs/physics.md "Animations"): a subject
# starts walking above WALK_ENTER_MPS and stops below WALK_LEAVE_MPS (either side of the 0.3 m/s
# walk threshold), starts running above RUN_ENTER_MPS and drops to a walk below RUN_LEAVE_MPS
# (either side of 2.5 m/s). A speed held at a threshold, with frame-to-frame rounding noise,
# would otherwise flip the clip, and each flip is a visible 0.3 s blend.
WALK_ENTER_MPS, WALK_LEAVE_MPS = 0.35, 0.25
RUN_ENTER_MPS, RUN_LEAVE_MPS = 2.75, 2.25
FALL_S = 0.8  # an incapacitated subject goes down in this long, then locks up
RECOVER_S = 2.0  # prone to standing: on the knees half-way
REACH_CAR_TURN_RAD = 1.35  # reach_car: the body turns this far to its left, toward the car
HOLD_UP_SHOULDER_RAD = 1.0  # hold_up: the upper arm this far forward (the forearm 30 deg
# short of upright: the object at eye height, an arm's length ahead)
# show: the upper arm this far forward and the elbow this far bent (the object held out at
# chest height, below the chin: the face and the other hand stay in view).
SHOW_SHOULDER_RAD, SHOW_ELBOW_RAD = 1.05, 0.45


class Clip(StrEnum):
    IDLE = "idle"
    WALK = "walk"
    RUN = "run"
    TURN = "turn"
    ARMS_RAISED = "arms_raised"
    KNEEL = "kneel"
    PRONE = "prone"
    REACH_WAISTBAND = "reach_waistband"
    REACH_POCKET = "reach_pocket"
    DRAW_POINT = "draw_point"
    DROP = "drop"
    FALL = "fall"
    RECOVER = "recover"
    REACH_CAR = "reach_car"
    HOLD_UP = "hold_up"
    SHOW = "show"
    TO_HEAD = "to_head"
    TO_THROAT = "to_throat"
    TO_ARM = "to_arm"


@lru_cache(maxsize=256)
def _jitter(seed: int) -> tuple[float, float, float]:
    """Per-subject phases from the run's seed: gait phase, breathing period, sway phase."""
    rng = np.random.default_rng(seed)
    return float(rng.random()), 3.5 + 1.5 * float(rng.random()), float(rng.random())


def ease(x: float) -> float:
    """Smoothstep: 0 -> 1 as x goes 0 -> 1, with no jolt at either end (clamped outside)."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _frozen(m: F64) -> F64:
    m.setflags(write=False)  # shared by every pose that uses it: nobody may write it
    return m


# Rotations the clips use unchanged every frame, built once (read-only, shared by poses as
# `joints["elbow_l"] = joints["elbow_r"]` already shares one): the same bits as building them.
_EYE3 = _frozen(np.eye(3))
_ELBOW_WALK, _ELBOW_RUN, _LEAN_RUN = (
    _frozen(rot_y(-0.3)),
    _frozen(rot_y(-1.4)),
    _frozen(rot_y(0.15)),
)


def _gait(
    t: float, phase: float, stride_s: float, hip: float, knee: float, arm: float
) -> dict[str, F64]:
    a = 2 * math.pi * (t / stride_s + phase)
    s = math.sin(a)
    swing = math.sin(a + 0.6)
    # The knee bends in the swing (thigh going forward), straight in the stance.
    angles = (
        -hip * s,
        hip * s,
        knee * max(0.0, swing),
        knee * max(0.0, -swing),
        -0.2 * knee * max(0.0, swing),
        -0.2 * knee * max(0.0, -swing),
        arm * s,
        -arm * s,
    )
    # The eight rot_y matrices in one block (physics._kernel, the same values): a frame
    # poses every walking and running subject, ~6 us of numpy array making each.
    block = np.empty((len(_GAIT_JOINTS), 3, 3))
    _kernel.rot_y_many(angles, block)
    return dict(zip(_GAIT_JOINTS, block, strict=True))


_GAIT_JOINTS = (
    "hip_l",
    "hip_r",
    "knee_l",
    "knee_r",
    "ankle_l",
    "ankle_r",
    "shoulder_l",
    "shoulder_r",
)


def clip_pose(skeleton: Skeleton, clip: Clip, t_s: float, seed: int) -> HumanPose:
    """The pose `t_s` seconds into `clip` for a subject whose phases come from `seed`."""
    gait_phase, breath_s, sway = _jitter(seed)
    knee_z = float(skeleton.rest[JOINTS.index("knee_l")][2])
    pelvis_z = float(skeleton.rest[0][2])
    breath = math.sin(2 * math.pi * (t_s / breath_s + sway))
    joints: dict[str, F64] = {"thorax": rot_y(0.015 * breath)}  # the chest rises and falls
    offset = (0.0, 0.0, 0.002 * breath)
    root = _EYE3
    if clip is Clip.WALK:
        joints |= _gait(t_s, gait_phase, 1.1, 0.42, 0.9, 0.35)
        joints["elbow_l"] = joints["elbow_r"] = _ELBOW_WALK
        offset = (0.0, 0.0, -0.01 + 0.01 * abs(math.cos(2 * math.pi * (t_s / 1.1 + gait_phase))))
    elif clip is Clip.RUN:
        joints |= _gait(t_s, gait_phase, 0.7, 0.75, 1.7, 0.8)
        joints["elbow_l"] = joints["elbow_r"] = _ELBOW_RUN
        joints["lumbar"] = _LEAN_RUN  # a forward lean
        offset = (0.0, 0.0, -0.03 + 0.03 * abs(math.cos(2 * math.pi * (t_s / 0.7 + gait_phase))))
    elif clip is Clip.TURN:
        # Small steps in place while the drill turns the subject's yaw.
        joints |= _gait(t_s, gait_phase, 0.8, 0.15, 0.5, 0.1)
    elif clip is Clip.ARMS_RAISED:
        joints["shoulder_l"] = rot_x(math.radians(165.0))
        joints["shoulder_r"] = rot_x(math.radians(-165.0))
        joints["elbow_l"] = joints["elbow_r"] = rot_y(-0.1 - 0.03 * breath)
    elif clip is Clip.FALL and t_s >= FALL_S:
        return _fallen(skeleton)
    elif clip in (Clip.KNEEL, Clip.PRONE, Clip.FALL, Clip.RECOVER):
        kneel = _kneel(knee_z - skeleton.knee_radius_m)
        prone = _prone(pelvis_z, skeleton)
        if clip is Clip.KNEEL:
            return _with(kneel, joints)
        if clip is Clip.PRONE:
            return prone
        if clip is Clip.FALL:
            return _grounded(skeleton, _fall(t_s, prone))
        return _grounded(skeleton, _recover(t_s, prone, kneel))
    elif clip is Clip.REACH_WAISTBAND:
        w = ease(t_s / 0.4)
        joints["shoulder_r"] = rot_y(0.15 * w) @ rot_x(0.3 * w)
        joints["elbow_r"] = rot_y(-1.3 * w)
    elif clip is Clip.REACH_POCKET:
        w = ease(t_s / 0.4)
        joints["shoulder_r"] = rot_y(0.2 * w) @ rot_x(-0.15 * w)
        joints["elbow_r"] = rot_y(-0.7 * w)
        joints["lumbar"] = rot_z(-0.15 * w)
    elif clip is Clip.DRAW_POINT:
        # From the waistband (0-0.25 s) up to the arm pointed level at the officer (0.6 s).
        w = ease((t_s - 0.25) / 0.35)
        d = ease(t_s / 0.25) * (1 - w)
        joints["shoulder_r"] = rot_y(0.15 * d - (math.pi / 2) * w) @ rot_x(0.3 * d)
        joints["elbow_r"] = rot_y(-1.3 * d)
        # The wrist bent so that what the hand grips points where the arm does: a handgun's
        # or a rifle's muzzle at the officer (straight, it pointed at the sky), a phone's
        # screen toward him.
        joints["wrist_r"] = rot_y((math.pi / 2) * w)
        joints["shoulder_l"] = rot_y(-1.2 * w) @ rot_x(-0.4 * w)  # a support hand
        joints["elbow_l"] = rot_y(-0.6 * w)
    elif clip is Clip.REACH_CAR:
        # A driver standing out at his open door, the car on his left: he turns a quarter
        # turn toward it (0-0.5 s), leans in and reaches the right hand forward and down
        # through the door's window into the cabin (by 0.6 s).
        w = ease(t_s / 0.5)
        r = ease((t_s - 0.1) / 0.5)
        root = rot_z(REACH_CAR_TURN_RAD * w)
        joints["lumbar"] = rot_y(0.35 * r)
        joints["shoulder_r"] = rot_y(-1.4 * r) @ rot_x(0.1 * r)
        joints["elbow_r"] = rot_y(-0.2 * r)
    elif clip is Clip.HOLD_UP:
        # What the right hand holds brought up in front of the face (0-0.45 s) and held
        # there, the upper arm forward and in, the forearm up: a phone held up to film (its
        # screen to the subject, its back to the officer), a wallet or a licence shown.
        w = ease(t_s / 0.45)
        joints["shoulder_r"] = rot_y(-HOLD_UP_SHOULDER_RAD * w) @ rot_x(0.8 * w)
        joints["elbow_r"] = rot_y(-(math.pi - HOLD_UP_SHOULDER_RAD - 0.5) * w)
        joints["wrist_r"] = rot_z(0.8 * w)  # the palm turned back to face the subject
    elif clip is Clip.SHOW:
        # What the right hand holds held out toward the one he faces at chest height (0-0.45 s)
        # and kept there: a wallet or a licence shown to an officer, who must still see the
        # face and the other hand (hold_up puts it in front of the face).
        w = ease(t_s / 0.45)
        joints["shoulder_r"] = rot_y(-SHOW_SHOULDER_RAD * w) @ rot_x(0.3 * w)
        joints["elbow_r"] = rot_y(-SHOW_ELBOW_RAD * w)
        joints["wrist_r"] = rot_z(0.8 * w)
    elif clip in (Clip.TO_HEAD, Clip.TO_THROAT, Clip.TO_ARM):
        # A threat to himself (0-0.5 s up, then held): a handgun's muzzle at his right temple,
        # a knife's blade across the front of his throat, or across his own left forearm held
        # out in front of him. Joint angles solved for the medium build (the object where it
        # must be, within 3 cm).
        w = ease(t_s / 0.5)
        flex, abduct, elbow, wrist_x, wrist_y = _SELF[clip]
        joints["shoulder_r"] = rot_y(flex * w) @ rot_x(abduct * w)
        joints["elbow_r"] = rot_y(elbow * w)
        joints["wrist_r"] = rot_x(wrist_x * w) @ rot_y(wrist_y * w)
        if clip is Clip.TO_ARM:
            joints["shoulder_l"] = rot_y(-0.35 * w) @ rot_x(-0.25 * w)
            joints["elbow_l"] = rot_y(-1.45 * w)
    elif clip is Clip.DROP:
        # The arm goes out and down-forward and opens (0-0.5 s), then hangs again (to 1 s).
        w = ease(t_s / 0.5) * (1 - ease((t_s - 0.5) / 0.5))
        joints["shoulder_r"] = rot_y(-0.6 * w) @ rot_x(-0.3 * w)
        joints["lumbar"] = rot_y(0.25 * w)
    return HumanPose(offset, root, joints)


# Each skeleton's pose once its fall is over (FALL_S on): it lies still, so the pose is its
# skeleton's alone, built once (grounding it poses every hull: 0.14 ms a subject a step) and
# the same object every step, which the world takes as not moved (RangeWorld.pose_subject).
_FALLEN: dict[int, tuple[Skeleton, HumanPose]] = {}


def _fallen(skeleton: Skeleton) -> HumanPose:
    """clip_pose(skeleton, FALL, t) for any t >= FALL_S: the same bits (the fall's blend has
    reached prone, w = 1, whatever t), one shared read-only pose."""
    kept = _FALLEN.get(id(skeleton))
    if kept is not None and kept[0] is skeleton:
        return kept[1]
    prone = _prone(float(skeleton.rest[0][2]), skeleton)
    pose = _grounded(skeleton, _fall(FALL_S, prone))
    for m in (pose.root_rotation, *pose.joints.values()):
        m.setflags(write=False)  # shared by every step and subject of this skeleton
    if len(_FALLEN) > 64:  # skeletons are few and cached by body; bound it anyway
        _FALLEN.clear()
    _FALLEN[id(skeleton)] = (skeleton, pose)
    return pose


# to_head / to_throat / to_arm: the right shoulder's flexion and abduction, elbow, wrist (rad).
_SELF = {
    Clip.TO_HEAD: (-0.9, -2.2, -2.45, -0.9, 0.9),
    Clip.TO_THROAT: (-0.9, -0.3, -2.6, 1.2, -0.3),
    Clip.TO_ARM: (0.0, 0.75, -2.1, 2.1, 0.9),
}


def _grounded(skeleton: Skeleton, pose: HumanPose) -> HumanPose:
    """The pose lifted so that no part of the body is below the floor (a body going down
    pivots on what touches the floor, not on its hips)."""
    verts = posed_vertices(skeleton, forward_kinematics(skeleton, pose))
    low = min(float(v[:, 2].min()) for v in verts)
    if low >= 0.0:
        return pose
    x, y, z = pose.root_offset_m
    return HumanPose((x, y, z - low), pose.root_rotation, pose.joints)


def _with(pose: HumanPose, extra: dict[str, F64]) -> HumanPose:
    return HumanPose(pose.root_offset_m, pose.root_rotation, pose.joints | extra)


def _kneel(drop_m: float) -> HumanPose:
    joints = {f"knee_{s}": rot_y(math.pi / 2) for s in "lr"}
    joints |= {f"ankle_{s}": rot_y(math.pi / 2) for s in "lr"}
    return HumanPose((0.0, 0.0, -drop_m), np.eye(3), joints)


def _prone(pelvis_z: float, skeleton: Skeleton) -> HumanPose:
    """Face down, arms out to the sides: the body turned forward a quarter turn about the hip
    joints, which come down to rest at the pelvis's half-depth above the floor."""
    half_depth = float(skeleton.segments[0].vertices[:, 0].max())
    joints = {
        "shoulder_l": rot_x(math.radians(80.0)),
        "shoulder_r": rot_x(math.radians(-80.0)),
        "ankle_l": rot_y(1.3),  # feet pointed, lying along the floor
        "ankle_r": rot_y(1.3),
        "neck": rot_y(-0.5),  # the head lifted from the floor
    }
    return HumanPose((0.0, 0.0, half_depth - pelvis_z), rot_y(math.pi / 2), joints)


def _fall(t_s: float, prone: HumanPose) -> HumanPose:
    """Locked up, rigid, going down forward: knees buckle first, then the body tips to prone."""
    w = ease(t_s / FALL_S)
    buckle = math.sin(math.pi * min(t_s / FALL_S, 1.0))
    stiff = {
        "knee_l": rot_y(1.0 * buckle),
        "knee_r": rot_y(1.0 * buckle),
        "hip_l": rot_y(-0.6 * buckle),
        "hip_r": rot_y(-0.6 * buckle),
        "elbow_l": rot_y(-1.2 * buckle),  # arms flexed, locked
        "elbow_r": rot_y(-1.2 * buckle),
    }
    pose = blend(HumanPose(joints=stiff), prone, w)
    return pose


def _recover(t_s: float, prone: HumanPose, kneel: HumanPose) -> HumanPose:
    half = RECOVER_S / 2
    if t_s < half:
        return blend(prone, kneel, ease(t_s / half))
    return blend(kneel, HumanPose(), ease((t_s - half) / half))


def _quat_floats(m: F64) -> list[float]:
    """One rotation matrix's unit quaternion (x, y, z, w), w >= 0: matrices_to_quats for a
    single matrix in plain floats, the same operations in the same order (so the same bits;
    tests/test_fast_paths.py), at a tenth of the cost of numpy on arrays this small."""
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = m.tolist()
    diag = (
        1 + m00 - m11 - m22,
        1 - m00 + m11 - m22,
        1 - m00 - m11 + m22,
        1 + m00 + m11 + m22,
    )
    best = 0
    for i in (1, 2, 3):  # np.argmax: the first of equal largest
        if diag[i] > diag[best]:
            best = i
    xy, xz, yz = m01 + m10, m02 + m20, m12 + m21
    wx, wy, wz = m21 - m12, m02 - m20, m10 - m01
    row = (
        (diag[0], xy, xz, wx),
        (xy, diag[1], yz, wy),
        (xz, yz, diag[2], wz),
        (wx, wy, wz, diag[3]),
    )[best]
    den = 2.0 * math.sqrt(max(diag[best], 1e-300))
    q = [v / den for v in row]
    if q[3] < 0:
        q = [v * -1 for v in q]
    return q


def _slerp(a: F64, b: F64, w: float) -> F64:
    # Plain floats but for the dot product (numpy's, as before: its summation order is the
    # library's); negating qb negates that dot exactly, so it is taken once. Each step is the
    # same IEEE operation as the numpy form it replaced (tests/test_fast_paths.py: same bits).
    qa, qb = _quat_floats(a), _quat_floats(b)
    d = float(np.array(qa) @ np.array(qb))
    if d < 0:
        qb = [-v for v in qb]
        d = -d
    angle = math.acos(min(max(d, -1.0), 1.0))
    if angle < 1e-6:
        x, y, z, qw = qa
    else:
        sa, sb, s = math.sin((1 - w) * angle), math.sin(w * angle), math.sin(angle)
        x, y, z, qw = ((sa * u + sb * v) / s for u, v in zip(qa, qb, strict=True))
    return quat_to_matrix((x, y, z, qw))


def blend(a: HumanPose, b: HumanPose, w: float) -> HumanPose:
    """`a` at w = 0 to `b` at w = 1: joint rotations slerped, root offsets interpolated."""
    if w <= 0.0:
        return a
    if w >= 1.0:
        return b
    joints = {
        name: _slerp(a.joints.get(name, _EYE3), b.joints.get(name, _EYE3), w)
        for name in a.joints.keys() | b.joints.keys()
    }
    offset = tuple(
        float(x + (y - x) * w) for x, y in zip(a.root_offset_m, b.root_offset_m, strict=True)
    )
    return HumanPose(
        (offset[0], offset[1], offset[2]), _slerp(a.root_rotation, b.root_rotation, w), joints
    )


@dataclass(frozen=True, slots=True)
class Timeline:
    """A subject's clips over a drill: `changes` are (start time s, clip), in time order."""

    changes: tuple[tuple[float, Clip], ...]
    seed: int

    def clip_at(self, t_s: float) -> tuple[int, float, Clip]:
        """Index, start time and clip active at `t_s` (the first clip before any change)."""
        index = 0
        for i, (start, _) in enumerate(self.changes):
            if start <= t_s:
                index = i
        start, clip = self.changes[index]
        return index, start, clip

    def fixed_over(self, t0_s: float, t1_s: float) -> bool:
        """Whether `pose_at` gives the same pose at every time in [t0_s, t1_s]: no clip change
        after t0_s up to t1_s, no blend under way at t0_s, and the clip one whose pose does not
        depend on the time (a fall once it is over, FALL_S on: `_fallen`; prone). Every other
        clip breathes."""
        index, start, clip = self.clip_at(t0_s)
        if any(t0_s < later <= t1_s for later, _ in self.changes[index + 1 :]):
            return False
        if index > 0 and t0_s - start < BLEND_S:
            return False
        return (clip is Clip.FALL and t0_s - start >= FALL_S) or clip is Clip.PRONE

    def pose_at(self, skeleton: Skeleton, t_s: float) -> HumanPose:
        """The pose at drill time `t_s`: the active clip, blended in from the one before over
        BLEND_S (a fall needs no blend: it starts from wherever the subject was)."""
        index, start, clip = self.clip_at(t_s)
        pose = clip_pose(skeleton, clip, t_s - start, self.seed)
        if index == 0 or t_s - start >= BLEND_S:
            return pose
        prev_start, prev_clip = self.changes[index - 1]
        before = clip_pose(skeleton, prev_clip, t_s - prev_start, self.seed)
        return blend(before, pose, ease((t_s - start) / BLEND_S))


def clip_for(
    behaviour: str,
    stance: str,
    speed_mps: float,
    held_object: str = "none",
    incapacitated: bool = False,
    current: Clip | None = None,
) -> Clip:
    """The clip a drill subject's state calls for (drills/threat.py behaviours, physics.body
    stances): a stance wins, then incapacitation, then motion, then the behaviour.

    `current` is the subject's clip now (its timeline's latest; None for a new subject). The
    speed thresholds have hysteresis: a subject in motion (WALK or RUN) keeps moving until its
    speed falls below WALK_LEAVE_MPS, one not in motion starts above WALK_ENTER_MPS; a running
    subject keeps running until below RUN_LEAVE_MPS, others start above RUN_ENTER_MPS. The
    result depends only on the arguments, so a replay of the same states gives the same clips.
    """
    if incapacitated or behaviour == "incapacitated":
        return Clip.FALL
    if stance == "kneeling":
        return Clip.KNEEL
    if stance == "arms_raised" or behaviour == "surrendered":
        return Clip.ARMS_RAISED
    walk_above_mps = WALK_LEAVE_MPS if current in (Clip.WALK, Clip.RUN) else WALK_ENTER_MPS
    run_above_mps = RUN_LEAVE_MPS if current is Clip.RUN else RUN_ENTER_MPS
    moving = speed_mps > walk_above_mps
    if speed_mps > run_above_mps or (behaviour == "fleeing" and moving):
        return Clip.RUN
    if moving:
        return Clip.WALK
    if behaviour == "deadly_threat" and held_object in ("handgun", "toy_gun", "rifle"):
        return Clip.DRAW_POINT
    if held_object in ("phone", "wallet") and behaviour != "compliant":
        return Clip.REACH_POCKET
    if behaviour in ("deadly_threat", "assaultive") and held_object in ("none", "knife"):
        return Clip.REACH_WAISTBAND
    return Clip.IDLE


class SubjectAnimator:
    """Clip timelines built from a drill's subject states frame by frame, and the subjects'
    motion over a projectile's flight. Deterministic: the states come from the seeded drill,
    and each subject's phases from the run's seed and its id."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        # Appended to; edited only at a subject's second update (`advance`: its first clip).
        self._changes: dict[str, list[tuple[float, Clip]]] = {}
        # A subject's state at its first update, until its second (the first clip's velocity).
        self._first: dict[str, tuple[str, str, str, str | None]] = {}
        self._timelines: dict[str, Timeline] = {}
        self._last: dict[str, tuple[float, float, float, float]] = {}  # t, x, y, yaw
        self._velocity: dict[str, tuple[float, float]] = {}
        self._skeletons: dict[str, Skeleton] = {}

    def _timeline(self, subject_id: str) -> Timeline:
        # Kept until the subject's clip changes: every frame asks for every subject's.
        changes = self._changes[subject_id]
        kept = self._timelines.get(subject_id)
        if kept is None or len(kept.changes) != len(changes):
            kept = Timeline(tuple(changes), _subject_seed(self.seed, subject_id))
            self._timelines[subject_id] = kept
        return kept

    def update(
        self,
        subject_id: str,
        t_s: float,
        position_m: tuple[float, float],
        yaw_rad: float,
        behaviour: str,
        stance: str,
        held_object: str,
        skeleton: Skeleton,
        animation: str | None = None,
    ) -> HumanPose:
        """The subject's pose at drill time `t_s` given its state now; `animation` (a Clip
        value: a drill phase's pick) replaces the clip the state calls for, except a fall."""
        self.advance(
            subject_id,
            t_s,
            position_m,
            yaw_rad,
            behaviour,
            stance,
            held_object,
            skeleton,
            animation,
        )
        return self.pose(subject_id, t_s)

    def advance(
        self,
        subject_id: str,
        t_s: float,
        position_m: tuple[float, float],
        yaw_rad: float,
        behaviour: str,
        stance: str,
        held_object: str,
        skeleton: Skeleton,
        animation: str | None = None,
    ) -> None:
        """`update` without building the pose: the clips follow the state (what a picture of
        a later moment needs, `clip_now`)."""
        last = self._last.get(subject_id)
        vx = vy = 0.0
        if last is not None and t_s > last[0]:
            vx = (position_m[0] - last[1]) / (t_s - last[0])
            vy = (position_m[1] - last[2]) / (t_s - last[0])
        self._last[subject_id] = (t_s, position_m[0], position_m[1], yaw_rad)
        self._velocity[subject_id] = (vx, vy)
        self._skeletons[subject_id] = skeleton
        # The clip now is the timeline's latest: the hysteresis state is part of the timeline.
        changes = self._changes.get(subject_id)
        now = None if changes is None else changes[-1][1]
        clip = clip_for(behaviour, stance, math.hypot(vx, vy), held_object, current=now)
        if animation is not None and clip is not Clip.FALL:
            clip = Clip(animation)
        if changes is None:
            changes = self._changes[subject_id] = [(t_s, clip)]
            self._first[subject_id] = (behaviour, stance, held_object, animation)
            return
        # A subject's first update has no velocity yet (it stands): its first clip is decided
        # by the second, when the same state moves it. A subject the drill has walking from
        # its start is in the walk from its first frame, not blending in from a standstill it
        # never had (30 such subjects blended in the same frames: the crowd's slowest 0.3 s).
        first = self._first.get(subject_id)
        if first is not None and t_s <= changes[0][0]:
            return  # the first update again: still no velocity
        self._first.pop(subject_id, None)
        if first == (behaviour, stance, held_object, animation) and len(changes) == 1:
            if clip is not changes[0][1]:
                changes[0] = (changes[0][0], clip)
                self._timelines.pop(subject_id, None)
            return
        start, current = changes[-1]
        if current is Clip.FALL and clip is not Clip.FALL:
            clip = Clip.RECOVER  # from the floor, whatever comes next
        if current is Clip.RECOVER and t_s - start < RECOVER_S:
            clip = Clip.RECOVER
        if clip is not current:
            changes.append((t_s, clip))

    def pose(self, subject_id: str, t_s: float) -> HumanPose:
        """The subject's pose at drill time `t_s` from its clips as `advance` last left them:
        `update` is `advance` then this (a live frame that catches up several steps poses
        its subjects once, after the last)."""
        return self._timeline(subject_id).pose_at(self._skeletons[subject_id], t_s)

    def clip_now(self, subject_id: str, t_s: float) -> tuple[Clip, float, int] | None:
        """The clip `subject_id` plays at drill time `t_s`, the time into it and the subject's
        seed (None: not animated yet): enough to pose it for a picture with `clip_pose`
        (without the blend from the clip before)."""
        if subject_id not in self._changes:
            return None
        timeline = self._timeline(subject_id)
        _, start, clip = timeline.clip_at(t_s)
        return clip, max(0.0, t_s - start), timeline.seed

    def still_over(self, t0_s: float, duration_s: float) -> bool:
        """Whether `motion(world, t0_s)` leaves every animated subject where and as it is posed
        at `t0_s` for the next `duration_s` (a probe's flight): each one stands (no velocity)
        in a clip whose pose does not change with time over the window, no blend or clip
        change in it (`Timeline.fixed_over`). Poses are a pure function of the drill time and
        the seed, so this is decided from the timelines alone, deterministically. A subject
        that breathes (every clip but a finished fall and prone) moves: by millimetres, but
        not by nothing."""
        for subject_id in self._last:
            if self._velocity[subject_id] != (0.0, 0.0):
                return False
            if not self._timeline(subject_id).fixed_over(t0_s, t0_s + duration_s):
                return False
        return True

    def motion(self, world: _Poser, t0_s: float) -> Callable[[float, frozenset[str]], None]:
        """`motion(t, subjects)`: those animated subjects posed `t` seconds after `t0_s`, moved
        on at their last velocity, their clips carrying on (RangeWorld.cast_moving)."""

        def move(t: float, subjects: frozenset[str]) -> None:
            for subject_id, (_, x, y, yaw) in self._last.items():
                if subject_id not in subjects:
                    continue
                vx, vy = self._velocity[subject_id]
                pose = self._timeline(subject_id).pose_at(self._skeletons[subject_id], t0_s + t)
                world.pose_subject(subject_id, pose, (x + vx * t, y + vy * t, 0.0), yaw)

        return move


class _Poser(Protocol):
    def pose_subject(
        self,
        subject_id: str,
        pose: HumanPose,
        position: tuple[float, float, float] | None = None,
        yaw_rad: float | None = None,
    ) -> None: ...


def _subject_seed(seed: int, subject_id: str) -> int:
    # crc32, not hash(): Python salts string hashes per process, and a replay must match.
    return (seed * 1_000_003 + zlib.crc32(subject_id.encode())) % 2**32


def weapon_hold_pose(aim: float) -> HumanPose:
    """An officer's two-handed hold of a drawn weapon in the right hand: `aim` 0 is the low
    ready (the arms angled down, the muzzle toward the floor ahead), 1 the weapon aimed (the
    gun arm level ahead, the support hand beside it); between, the arms come up."""
    a = min(max(aim, 0.0), 1.0)
    lift = 0.75 + (math.pi / 2 - 0.75) * a
    return HumanPose(
        joints={
            "shoulder_r": rot_y(-lift) @ rot_x(0.12),
            "shoulder_l": rot_y(-(lift - 0.25)) @ rot_x(-0.45),
            "elbow_l": rot_y(-0.45),
        }
    )
