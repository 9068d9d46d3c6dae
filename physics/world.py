"""The PyBullet world of one drill: floor, backstop and posable subjects, for ray casts.

DIRECT mode, no gravity stepping: projectiles are integrated in numpy (physics.flight) and the
world answers the question "what does this chord of the path touch first?" (stack-notes.md:
chords through `rayTestBatch` are 60-90x faster than CCD bodies and do not tunnel).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from physics import _kernel
from physics.body import Region, Stance, SubjectBody
from physics.bullet import p
from physics.human import (
    JOINT_INDEX,
    JOINTS,
    PARENT,
    HumanPose,
    Posed,
    Skeleton,
    forward_kinematics_arrays,
    region_codes,
    zone_arrays,
)
from physics.pose import Quat, Vec3, quat_to_matrix, yaw_quat
from physics.props import PropPart, penetration_material
from physics.targets import GAUGE_9MM_IN, PaperTarget
from physics.units import IN_M

# rayTestBatch silently drops the last of exactly 16384 rays (stack-notes.md): cast in chunks.
_RAY_CHUNK = 16383
_ONE_ROUND = 256  # fewer candidate chords than this are cast in one call
_CLIP_BLOCK = 4096  # chords clipped in numpy at a time: (J, block, 3) temporaries of ~1.7 MB
BACKER_M = 0.005  # the thinnest shape on the range: a target's backer board
HULL_MARGIN_M = 0.001  # PyBullet's margin round a GEOM_MESH convex hull (measured)
_SEGMENT_LINK = 3  # a subject's link 3 + j carries segment j (links 0-2 slide the pelvis)
_LINKS = list(range(_SEGMENT_LINK + len(JOINTS)))
# Subjects' collision group: the frozen part of a moving cast masks them out of its rays.
_SUBJECT_GROUP = 1 << 6
_NOT_SUBJECTS = -1 & ~_SUBJECT_GROUP
# A cast's broad phase leaves this many subjects or fewer to sync: they are synced without
# their exact boxes (30-subject live tick, 4 candidates a frame: 0.41 ms thread CPU synced,
# 0.56 ms boxed first).
_SYNC_UNBOXED = 4
# Sub-chords after the one a moving cast poses a subject for, tested against that pose in the
# same batch (a look-ahead: those whose gap exceeds the subject's motion since need no pose).
WINDOW = 8


REGIONS = list(Region)

# The most chords of a flight cast_deployment takes (physics._kernel.deploy: 65 samples).
_MAX_CHORDS = 64

# cast_deployment's subjects as physics._kernel.deploy reads them: body ids (S,), joint
# positions (S, J, 3) and rotations (S, J, 3, 3) as posed, segment sphere centres in the world
# (S, J, 3), boxes (S, 2, 3), sphere radii (S, J), rest joints (S, J, 3), hull face planes in
# the rest frame (S, J, F, 3) and (S, J, F), zone thresholds (S, 6) and codes (S, 11 + J).
Scene = tuple[
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
]

# cast_deployment's scene with no subjects (`subjects=False`: cast_moving's frozen part).
_NO_SUBJECTS: Scene = (
    np.empty(0, dtype=np.int64),
    np.empty((0, 3)),
    np.empty((0, 9)),
    np.empty((0, 3)),
    np.empty((0, 2, 3)),
    np.empty(0),
    np.empty((0, 3)),
    np.empty((0, 3)),
    np.empty(0),
    np.empty((0, 6)),
    np.empty((0, 11), dtype=np.int64),
)


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """What `RangeWorld.cast_deployment` needs of a cartridge (physics.taser builds it once a
    cartridge): its probes a pull (1 or 2), the bottom probe's spread (cos, sin) and bore
    separation (inches; IN_M converts), the wire's reach, the dispersion (radians; 0: none),
    and its flight plan (`SampledFlights`): the first elevation and the step between two
    (radians), the stacked table (E, 3, K + 1) and the sample times (K + 1,)."""

    probes: int
    cos_spread: float
    sin_spread: float
    separation_in: float
    reach_m: float
    sigma_rad: float
    elevation0_rad: float
    elevation_step_rad: float
    table: NDArray[np.float64]
    times_s: NDArray[np.float64]


# Pose these subjects (ids) at this time (s) of a flight: RangeWorld.cast_moving.
Motion = Callable[[float, frozenset[str]], None]


@dataclass(frozen=True, slots=True)
class PathEnds:
    """Where each of N flights ended, as arrays: its first hit, or the end of its reach.

    `target` indexes `RangeWorld.targets` (-1: nothing was hit); `region` indexes `REGIONS`
    (-1: not a body region).
    """

    target: NDArray[np.int64]
    region: NDArray[np.int64]
    point: NDArray[np.float64]
    time_s: NDArray[np.float64]
    speed_mps: NDArray[np.float64]
    path_m: NDArray[np.float64]
    # Where a hit lies on the subject's unposed (rest) body, (N, 3) metres in its skeleton's
    # frame; NaN where the flight hit no subject. Two hits on one subject compare here as
    # points on the body, whatever the subject did between them (a TASER's spread).
    rest_point: NDArray[np.float64] | None = None
    # The segment hit (index into the skeleton's segments, the same as its joint), -1 where
    # the flight hit no subject: with `rest_point`, where the hit sits on the posed body
    # (`subject_anchor`), so a review can keep its marker on a subject that moves or falls.
    segment: NDArray[np.int64] | None = None


def _spheres(skeleton: Skeleton) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each segment's bounding sphere: centre (J, 3) relative to its joint in the rest frame,
    radius (J,) metres, with the hull's collision margin and a micrometre to spare."""
    centres, radii = [], []
    for seg in skeleton.segments:
        v = seg.vertices
        centre = (v.min(axis=0) + v.max(axis=0)) / 2
        centres.append(centre - skeleton.rest[seg.joint])
        radii.append(float(np.linalg.norm(v - centre, axis=1).max()) + HULL_MARGIN_M + 1e-6)
    return np.array(centres), np.array(radii)


def _reach_m(skeleton: Skeleton, spheres: tuple[NDArray[np.float64], NDArray[np.float64]]) -> float:
    """How far from the pelvis joint any part of the body can be, in any pose: the longest
    chain of bones from the pelvis to a joint, plus that segment's bounding sphere (its centre's
    offset from the joint and its radius, `spheres`: `_spheres(skeleton)`), and a micrometre to
    spare. Rotations keep lengths, so every posed segment sphere lies inside the ball of this
    radius round the posed pelvis joint: a box round it needs no forward kinematics (the broad
    phase of a cast)."""
    rest = skeleton.rest
    centre, radius = spheres
    chain = np.zeros(len(JOINTS))
    for j, name in enumerate(JOINTS):  # parents come before their children
        parent = PARENT[name]
        if parent is not None:
            k = JOINTS.index(parent)
            chain[j] = chain[k] + float(np.linalg.norm(rest[j] - rest[k]))
    return float((chain + np.linalg.norm(centre, axis=1) + radius).max()) + 1e-6


def _hull_planes(skeleton: Skeleton) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Outward face planes of each segment's drawn hull in the rest frame (inside where
    n . q <= d): unit normals (J, F, 3) and offsets d (J, F), padded with planes that bound
    nothing."""
    planes = []
    for seg in skeleton.segments:
        tri = seg.vertices[seg.faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        planes.append(np.column_stack([normal, (normal * tri[:, 0]).sum(axis=1)]))
    out = np.zeros((len(planes), max(len(x) for x in planes), 4))
    out[:, :, 3] = 1.0  # 0 . q <= 1: always inside
    for i, x in enumerate(planes):
        out[i, : len(x)] = x
    return np.ascontiguousarray(out[:, :, :3]), np.ascontiguousarray(out[:, :, 3])


def _enters(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    normal: NDArray[np.float32],
    offset: NDArray[np.float32],
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """`_clip` for P segments a -> b (rest frame) against one hull's F face planes (normal
    (F, 3), offset (F,)): (hit, fraction where each first enters). Cyrus-Beck in float32
    (sub-micrometre at these sizes), laid out (F, P) so that the reductions over the planes
    run down columns, with the fewest passes: a plane with both ends outside rules the hull
    out; one with the start outside gives an entry fraction, one with the end outside an
    exit, both sa / (sa - sb). (A (P, 3) @ (3, F) product is slower here than three
    broadcast products: BLAS with an inner size of 3.)"""
    a32, b32 = a.astype(np.float32).T, b.astype(np.float32).T  # (3, P)
    n0, n1, n2, d = normal[:, 0:1], normal[:, 1:2], normal[:, 2:3], offset[:, None]
    sa = n0 * a32[0] + n1 * a32[1] + n2 * a32[2] - d  # (F, P)
    sb = n0 * b32[0] + n1 * b32[1] + n2 * b32[2] - d
    out_a, out_b = sa > 0.0, sb > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):  # only where not read below
        t = sa / (sa - sb)
    enter = np.where(out_a, t, np.float32(0.0)).max(axis=0)
    leave = np.where(out_b, t, np.float32(1.0)).min(axis=0)
    hit = ~(out_a & out_b).any(axis=0) & (enter <= leave)
    return hit, enter


def _rest_boxes(skeleton: Skeleton) -> NDArray[np.float64]:
    """(J, 2, 3) each segment's drawn hull's box in the rest frame, a micrometre to spare."""
    return np.array(
        [
            [seg.vertices.min(axis=0) - 1e-6, seg.vertices.max(axis=0) + 1e-6]
            for seg in skeleton.segments
        ]
    )


@lru_cache(maxsize=1024)
def _yaw_matrix(yaw_rad: float) -> NDArray[np.float64]:
    """A subject's yaw as a matrix (read-only; a drill's subjects keep a few yaws)."""
    m = quat_to_matrix(yaw_quat(yaw_rad))
    m.setflags(write=False)
    return m


def _rays_cross_boxes(
    a: NDArray[np.float64], b: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """(S,) whether any segment a -> b (R, 3) meets each box (lo, hi) (S, 3) (slab test).
    Conservative: the boxes are grown by 1 mm, so rounding can only answer yes where the exact
    answer is no."""
    step_r = max(1, 100_000 // max(len(lo), 1))  # rays a pass: temporaries of ~100k x 3
    if len(a) > step_r:
        out = np.zeros(len(lo), dtype=bool)
        for k in range(0, len(a), step_r):
            out |= _rays_cross_boxes(a[k : k + step_r], b[k : k + step_r], lo, hi)
        return out
    lo, hi = lo[None] - 1e-3, hi[None] + 1e-3  # (1, S, 3)
    a, d = a[:, None], (b - a)[:, None]  # (R, 1, 3)
    flat = np.abs(d) < 1e-12  # parallel to that axis: inside its slab or never
    inside = (a >= lo) & (a <= hi)
    step = np.where(flat, 1.0, d)
    t1, t2 = (lo - a) / step, (hi - a) / step
    enter = np.where(flat, -np.inf, np.minimum(t1, t2)).max(axis=2)
    leave = np.where(flat, np.inf, np.maximum(t1, t2)).min(axis=2)
    meets = (flat <= inside).all(axis=2) & (np.maximum(enter, 0.0) <= np.minimum(leave, 1.0))
    return np.asarray(meets.any(axis=0))


# cast_moving's default: a subject moves at most this far during one sub-chord.
MOVING_TOLERANCE_M = 0.005
_SUB_CHORDS: dict[
    tuple[bytes, float, float],
    tuple[
        NDArray[np.int64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
    ],
] = {}


def sub_chord_plan(
    times_s: NDArray[np.float64], max_speed_mps: float, tolerance_m: float
) -> tuple[
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
]:
    """cast_moving's cut of a flight's chords into sub-chords, per flight plan (its sample
    times) and bound: each sub-chord's chord and fraction along it (M,), the sub-chords' end
    times (M + 1,), middle times (M,) and how far a subject may have moved since the first
    time by each one's end, plus the tolerance (M,), and the weights (M + 1, K + 1) that
    carry the K + 1 chord samples to the M + 1 sub-chord ends (a row per end: 1 - frac and
    frac on its chord's two samples), so that a flight's sub-chords are one matrix product.
    A drill's cartridge flies one plan, so this is computed once (a precomputed table, like
    the trajectory's) and kept."""
    key = (times_s.tobytes(), float(max_speed_mps), float(tolerance_m))
    cached = _SUB_CHORDS.get(key)
    if cached is not None:
        return cached
    dt = np.diff(times_s)
    subs = np.maximum(1, np.ceil(max_speed_mps * dt / tolerance_m)).astype(int)
    chord_of = np.repeat(np.arange(len(dt)), subs)
    frac = np.concatenate([np.arange(1, m + 1) / m for m in subs])
    t_fine = np.concatenate([times_s[:1], times_s[chord_of] + dt[chord_of] * frac])
    mid_t = (t_fine[:-1] + t_fine[1:]) / 2
    grow = max_speed_mps * (t_fine[1:] - float(times_s[0])) + tolerance_m
    weights = np.zeros((len(t_fine), len(times_s)))
    weights[0, 0] = 1.0
    ends = np.arange(1, len(t_fine))
    weights[ends, chord_of] = 1.0 - frac
    weights[ends, chord_of + 1] = frac
    if len(_SUB_CHORDS) > 64:  # a few cartridges and loads; bound it anyway
        _SUB_CHORDS.clear()
    for shared in (chord_of, frac, t_fine, mid_t, grow, weights):
        shared.setflags(write=False)  # handed to every cast of the plan
    _SUB_CHORDS[key] = (chord_of, frac, t_fine, mid_t, grow, weights)
    return _SUB_CHORDS[key]


class RangeWorld:
    """One lane of the range. Close it (or use it as a context manager) to free the client."""

    def __init__(self, lane_length_m: float = 30.0, lane_width_m: float = 8.0) -> None:
        self.lane_length_m = lane_length_m
        self.client: int | None = p.connect(p.DIRECT)
        c = self.client
        floor = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=c)
        self._floor = p.createMultiBody(0, floor, physicsClientId=c)
        backstop = p.createCollisionShape(
            p.GEOM_BOX, halfExtents=[0.5, lane_width_m / 2, 2.5], physicsClientId=c
        )
        self._backstop = p.createMultiBody(
            0, backstop, basePosition=[lane_length_m + 0.5, 0.0, 2.5], physicsClientId=c
        )
        self._names: dict[int, str] = {self._floor: "floor", self._backstop: "backstop"}
        self._names_list: tuple[int, list[str]] = (0, [])  # `targets` for so many names
        self._aabbs: dict[int, NDArray[np.float64]] = {}
        self._boxes: NDArray[np.float64] | None = None
        # Side walls, so that every round downrange ends somewhere accounted for.
        wall = p.createCollisionShape(
            p.GEOM_BOX, halfExtents=[lane_length_m / 2 + 1.0, 0.25, 2.5], physicsClientId=c
        )
        for side, name in ((1.0, "left_wall"), (-1.0, "right_wall")):
            uid = p.createMultiBody(
                0,
                wall,
                basePosition=[lane_length_m / 2, side * (lane_width_m / 2 + 0.25), 2.5],
                physicsClientId=c,
            )
            self._names[uid] = name
        self._subjects: dict[str, int] = {}
        self._uid_subject: dict[int, str] = {}
        self._placement: dict[str, tuple[Vec3, float, HumanPose]] = {}
        self._frames: dict[str, Posed] = {}
        self._bodies: dict[str, SubjectBody] = {}
        # Each subject's body's skeleton (SubjectBody.skeleton() builds a cache key each call).
        self._skeletons: dict[str, Skeleton] = {}
        self._targets: dict[str, tuple[PaperTarget, Vec3]] = {}
        # What each solid object is made of and what a drill calls it (physics.penetration):
        # name -> (material id, "cover" | "concealment", (2, 3) box). Subjects are soft
        # tissue; the floor, walls, backstop and add_cover boxes stop everything.
        self._objects: dict[str, tuple[str, str, NDArray[np.float64]]] = {}
        # Props' parts among them, turned: name -> (centre, rotation); their box above is
        # their half extents about that centre, in their own frame.
        self._turned: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        self._unsynced: set[str] = set()  # posed since PyBullet's links were last moved
        self._numpy_boxes: dict[str, NDArray[np.float64]] = {}  # per pose: subject_box
        # As PyBullet has each subject now: its placement, and that pose's box once known.
        self._synced: dict[str, tuple[tuple[Vec3, float, HumanPose], NDArray[np.float64] | None]]
        self._synced = {}
        self._spheres: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        self._planes: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        self._rest_boxes: dict[str, NDArray[np.float64]] = {}
        self._reach: dict[str, float] = {}  # per subject: `_reach_m`
        self._rest_rows: dict[str, list[tuple[float, float, float]]] = {}  # its rest joints
        # cast_deployment's subjects as the kernel reads them (`_deploy_scene`), the row of
        # each, and the subjects posed since their row was written.
        self._scene: Scene | None = None
        self._scene_row: dict[str, int] = {}
        self._scene_stale: set[str] = set()
        self._static: NDArray[np.float64] | None = None  # `_static_boxes`
        # cast_deployment's chords for PyBullet (a probe's chords at most, a deployment's two).
        self._cand_k = np.empty(2 * _MAX_CHORDS, dtype=np.int64)
        self._cand_n = np.empty(2 * _MAX_CHORDS, dtype=np.int64)
        self._cand_a = np.empty((2 * _MAX_CHORDS, 3))
        self._cand_b = np.empty((2 * _MAX_CHORDS, 3))

    def _require(self) -> int:
        if self.client is None:
            raise RuntimeError("the range world is closed")
        return self.client

    def add_subject(
        self, subject_id: str, body: SubjectBody, position: Vec3, yaw_rad: float
    ) -> None:
        """An articulated subject in its body's stance, feet at `position`, facing `yaw_rad`.

        One multibody per subject: the pelvis hull as its base, the 16 other segment hulls as
        links on spherical joints parented as the skeleton is, posed kinematically by
        `pose_subject`. Measured against one static body per segment (bench/run.py,
        docs/physics.md): 2.5 ms against 5.5 ms for 30 subjects a frame, pose included)."""
        c = self._require()
        skeleton = body.skeleton()
        rest = skeleton.rest

        def shape(i: int) -> int:
            seg = skeleton.segments[i]
            # Bullet wraps a convex hull in a 1 mm collision margin: move each vertex 1 mm in
            # along its normal so that the hull plus its margin is the drawn surface.
            used = np.unique(seg.faces)
            inset = seg.vertices - seg.vertex_normals * HULL_MARGIN_M
            local = inset[used] - rest[i]
            return int(
                p.createCollisionShape(p.GEOM_MESH, vertices=local.tolist(), physicsClientId=c)
            )

        # Links 0-2 slide the pelvis along X, Y and Z (no shapes); link 3 + j carries segment
        # j on a spherical joint. The base never moves: a pose is one
        # resetJointStatesMultiDof call, one pass of Bullet's forward kinematics and
        # broadphase (a base reset as well would move every collision object twice).
        slides = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
        # Parent indices count from 1 (0 is the base): joint j's link is 3 + j, so 4 + j.
        parents = [0, 1, 2, 3] + [4 + JOINTS.index(PARENT[n] or "") for n in JOINTS[1:]]
        offsets = [[0.0, 0.0, 0.0]] * 4 + [
            list(rest[i] - rest[JOINTS.index(PARENT[n] or "")])
            for i, n in enumerate(JOINTS)
            if i > 0
        ]
        count = len(parents)
        uid = int(
            p.createMultiBody(
                baseMass=0,
                linkMasses=[0] * count,
                linkCollisionShapeIndices=[-1, -1, -1] + [shape(i) for i in range(len(JOINTS))],
                linkVisualShapeIndices=[-1] * count,
                linkPositions=offsets,
                linkOrientations=[[0, 0, 0, 1]] * count,
                linkInertialFramePositions=[[0, 0, 0]] * count,
                linkInertialFrameOrientations=[[0, 0, 0, 1]] * count,
                linkParentIndices=parents,
                linkJointTypes=[p.JOINT_PRISMATIC] * 3 + [p.JOINT_SPHERICAL] * len(JOINTS),
                linkJointAxis=[*slides, *[[0, 0, 1]] * len(JOINTS)],
                physicsClientId=c,
            )
        )
        self._names[uid] = subject_id
        self._subjects[subject_id] = uid
        self._uid_subject[uid] = subject_id
        self._bodies[subject_id] = body
        self._skeletons[subject_id] = skeleton
        spheres = _spheres(skeleton)
        self._spheres[subject_id] = spheres
        self._reach[subject_id] = _reach_m(skeleton, spheres)
        self._scene = None  # cast_deployment's subjects: built again with this one
        self._rest_rows[subject_id] = [(float(x), float(y), float(z)) for x, y, z in rest]
        self._planes[subject_id] = _hull_planes(skeleton)
        self._rest_boxes[subject_id] = _rest_boxes(skeleton)
        for link in range(_SEGMENT_LINK, _SEGMENT_LINK + len(JOINTS)):
            p.setCollisionFilterGroupMask(uid, link, _SUBJECT_GROUP, -1, physicsClientId=c)
        self.pose_subject(subject_id, body.pose(), position, yaw_rad)

    def pose_subject(
        self,
        subject_id: str,
        pose: HumanPose,
        position: Vec3 | None = None,
        yaw_rad: float | None = None,
    ) -> None:
        """Move a subject's segments to `pose` (joint rotations), feet at `position` facing
        `yaw_rad` (both kept when None).

        Only the placement is recorded here; PyBullet's links are moved by `sync`, for every
        subject posed since the last one in one batch, when a cast or a box needs them. Posing
        a subject again as it already stands (the same pose object, place and yaw) is free."""
        old = self._placement.get(subject_id)
        if position is None or yaw_rad is None:
            if old is None:
                raise ValueError(f"subject {subject_id!r} needs a position and a yaw")
            position = position if position is not None else old[0]
            yaw_rad = yaw_rad if yaw_rad is not None else old[1]
        x, y, z = position
        placed = ((float(x), float(y), float(z)), float(yaw_rad), pose)
        if old is not None and old[2] is pose and old[0] == placed[0] and old[1] == placed[1]:
            return
        self._placement[subject_id] = placed
        self._unsynced.add(subject_id)
        self._scene_stale.add(subject_id)
        self._frames.pop(subject_id, None)
        self._numpy_boxes.pop(subject_id, None)
        self._boxes = None

    def sync(self, subjects: set[str] | None = None) -> None:
        """Move PyBullet's links of the subjects posed since the last sync (all of them, or
        those of `subjects`): joint matrices to quaternions in one kernel call, then one
        resetJointStatesMultiDof call a subject (each costs ~20 us: Bullet moves
        17 collision objects in its broadphase). Casts sync what their rays can meet; call it
        before reading PyBullet's state yourself."""
        ids = list(self._unsynced if subjects is None else self._unsynced & subjects)
        if not ids:
            return
        c = self._require()
        self._unsynced.difference_update(ids)
        targets = self._link_states(ids)
        for k, subject_id in enumerate(ids):
            p.resetJointStatesMultiDof(
                self._subjects[subject_id], _LINKS, targets[k], physicsClientId=c
            )
            self._synced[subject_id] = (
                self._placement[subject_id],
                self._numpy_boxes.get(subject_id),
            )

    def _link_states(self, ids: list[str]) -> list[list[list[float]]]:
        """What `sync` hands resetJointStatesMultiDof for each of subjects `ids`: the pelvis's
        place (the three slides, [x], [y], [z]) and each joint's quaternion (x, y, z, w), the
        subject's yaw and the pose's root folded into the pelvis's (physics._kernel: the same
        products as the numpy form, tests/test_fast_paths.py compares the bits)."""
        return _kernel.link_states(
            [self._skeletons[subject_id].rest for subject_id in ids],
            [self._placement[subject_id] for subject_id in ids],
            JOINT_INDEX,
            len(JOINTS),
        )

    def subject_box(
        self, subject_id: str, *, at: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """(2, 3) world box round the subject as last posed (numpy: each segment's bounding
        sphere carried by its joint frame; PyBullet is not asked, nor synced), kept until it
        is posed again. `at`: its spheres' centres in the world as last posed (J, 3), where the
        caller has worked them out (`_deploy_scene`); None: worked out here when needed."""
        box = self._numpy_boxes.get(subject_id)
        if box is None:
            box = self._numpy_boxes[subject_id] = (
                self._box_round(subject_id, at)
                if at is not None
                else self._box_of(subject_id, self.subject_frames(subject_id))
            )
        return box

    def _box_of(self, subject_id: str, frames: Posed) -> NDArray[np.float64]:
        return self._box_round(subject_id, self._centres_of(subject_id, frames))

    def _centres_of(self, subject_id: str, frames: Posed) -> NDArray[np.float64]:
        """Each segment's bounding-sphere centre in the world (J, 3), posed by `frames`."""
        centre = self._spheres[subject_id][0]
        at: NDArray[np.float64] = frames.position + np.einsum("jab,jb->ja", frames.rotation, centre)
        return at

    def _box_round(self, subject_id: str, at: NDArray[np.float64]) -> NDArray[np.float64]:
        """(2, 3) box round the subject's segment spheres centred at `at` (J, 3)."""
        radius = self._spheres[subject_id][1]
        return np.array([(at - radius[:, None]).min(axis=0), (at + radius[:, None]).max(axis=0)])

    def _sync_for(
        self,
        lo: NDArray[np.float64],
        hi: NDArray[np.float64],
        rays: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
        near: list[str] | None = None,
    ) -> None:
        """Sync the subjects that rays inside the box (lo, hi) can meet: those whose new pose
        or whose pose in PyBullet now reaches into it (a stale pose must not stop a ray). With
        `rays` (a, b: (R, 3), the rays themselves), only those whose box one of the rays
        crosses: a pointing ray down a lane full of subjects crosses the boxes of one or two
        of them, not every box inside the box round the ray (a sync costs ~20 us a subject).
        `near`: the subjects posed since their sync that the rays can meet, when the caller has
        found them (`_near_ray`); else those whose reach box a ray crosses."""
        if not self._unsynced:
            return
        ids = list(self._unsynced) if near is None else near
        if rays is not None:
            # Broad phase, no forward kinematics: only the subjects whose reach box (new pose
            # or PyBullet's) a ray crosses can need a sync; the exact boxes below are inside.
            if near is None:
                reach = self._reach_boxes(ids)
                crossed = _rays_cross_boxes(*rays, reach[:, 0], reach[:, 1]).tolist()
                ids = [subject_id for subject_id, c in zip(ids, crossed, strict=True) if c]
            if len(ids) <= _SYNC_UNBOXED:
                # A few (the subject aimed at, its neighbours): syncing them costs less than
                # their exact boxes (numpy forward kinematics) would.
                self.sync(set(ids))
                return
        self._frame_all(name for name in ids if name not in self._numpy_boxes)
        unions = np.empty((len(ids), 2, 3))
        for k, subject_id in enumerate(ids):
            new = self.subject_box(subject_id)
            placed, old_box = self._synced.get(subject_id, (None, new))
            if old_box is None and placed is not None:
                old_box = self._box_of(subject_id, self._frames_at(subject_id, placed))
                self._synced[subject_id] = (placed, old_box)
            old = new if old_box is None else old_box
            np.minimum(new[0], old[0], out=unions[k, 0])
            np.maximum(new[1], old[1], out=unions[k, 1])
        meets: NDArray[np.bool_] = np.asarray(
            (unions[:, 0] <= hi).all(axis=1) & (unions[:, 1] >= lo).all(axis=1)
        )
        if rays is not None and meets.any():
            meets[meets] = _rays_cross_boxes(*rays, unions[meets, 0], unions[meets, 1])
        need = {subject_id for subject_id, m in zip(ids, meets.tolist(), strict=True) if m}
        self.sync(need)

    def _pelvis_points(self, subject_id: str) -> list[tuple[float, float, float]]:
        """Where the subject's pelvis joint is as last posed and as PyBullet has it (its last
        sync; one point when never synced or posed since): placements only, plain floats."""
        rx, ry, rz = self._rest_rows[subject_id][0]  # joint 0: the pelvis
        now = self._placement[subject_id]
        synced = self._synced.get(subject_id)
        out = []
        for (x, y, z), yaw_rad, pose in (now,) if synced is None else (now, synced[0]):
            ox, oy, oz = pose.root_offset_m
            px, py = rx + ox, ry + oy
            cy, sy = math.cos(yaw_rad), math.sin(yaw_rad)
            out.append((x + cy * px - sy * py, y + sy * px + cy * py, z + rz + oz))
        return out

    def _reach_boxes(self, ids: list[str]) -> NDArray[np.float64]:
        """(S, 2, 3) boxes, one for each subject of `ids`, that hold it both as last posed and
        as PyBullet has it: the balls of `_reach_m` round its `_pelvis_points`. No forward
        kinematics (a cast's rays cross a few of a crowd's boxes)."""
        out = []
        for subject_id in ids:
            reach = self._reach[subject_id]
            xs, ys, zs = zip(*self._pelvis_points(subject_id), strict=True)
            out.append(
                (
                    (min(xs) - reach, min(ys) - reach, min(zs) - reach),
                    (max(xs) + reach, max(ys) + reach, max(zs) + reach),
                )
            )
        return np.array(out).reshape(len(ids), 2, 3)

    def _near_ray(self, a: Vec3, b: Vec3) -> list[str]:
        """The subjects posed since their last sync that the segment a -> b passes within
        reach of (`_reach_m` and a millimetre) as posed or as PyBullet has them: the only
        ones whose sync can change what the ray meets. Plain floats, a subject at a time."""
        ax, ay, az = a
        dx, dy, dz = b[0] - ax, b[1] - ay, b[2] - az
        dd = dx * dx + dy * dy + dz * dz
        out = []
        for subject_id in self._unsynced:
            reach = self._reach[subject_id] + 1e-3
            for px, py, pz in self._pelvis_points(subject_id):
                t = ((px - ax) * dx + (py - ay) * dy + (pz - az) * dz) / dd if dd > 0.0 else 0.0
                t = min(max(t, 0.0), 1.0)
                qx, qy, qz = ax + t * dx - px, ay + t * dy - py, az + t * dz - pz
                if qx * qx + qy * qy + qz * qz <= reach * reach:
                    out.append(subject_id)
                    break
        return out

    def ray_target(
        self, start: Vec3 | NDArray[np.float64], end: Vec3 | NDArray[np.float64]
    ) -> str | None:
        """The name of the body the segment `start` -> `end` meets first (PyBullet's ray test),
        None when it meets nothing: what `cast_paths` finds for a path of one chord, without
        its bookkeeping (time, speed, region, the boxes of every body), for a ray a frame (a
        drill's pointing cast). Only the subjects the ray passes within reach of are posed
        exactly and synced (`_near_ray`, `_sync_for`)."""
        c = self._require()
        a = np.array([start], dtype=np.float64)
        b = np.array([end], dtype=np.float64)
        ax, ay, az = a[0].tolist()
        bx, by, bz = b[0].tolist()
        near = self._near_ray((ax, ay, az), (bx, by, bz))
        if near:
            self._sync_for(np.minimum(a[0], b[0]), np.maximum(a[0], b[0]), (a, b), near)
        uid = int(p.rayTestBatch(a, b, physicsClientId=c)[0][0])
        return self._names.get(uid) if uid >= 0 else None

    def subject_frames(self, subject_id: str) -> Posed:
        """The subject's joint frames in the world: positions (J, 3), rotations (J, 3, 3)
        (numpy forward kinematics, the same transforms PyBullet applied; cached per pose)."""
        if subject_id not in self._frames:
            self._frames[subject_id] = self._frames_at(subject_id, self._placement[subject_id])
        return self._frames[subject_id]

    def _frames_at(self, subject_id: str, placed: tuple[Vec3, float, HumanPose]) -> Posed:
        (x, y, z), yaw_rad, pose = placed
        pos, rot = forward_kinematics_arrays(
            [self._skeletons[subject_id]], [pose], [(_yaw_matrix(yaw_rad), (x, y, z))]
        )
        return Posed(pos[0], rot[0])

    def _frame_all(self, subject_ids: Iterable[str]) -> None:
        """Cache the joint frames of those subjects posed since their frames were last
        computed: one batched forward kinematics for all of them (the same bits as one at a
        time), not one call each (a frame with 30 moving subjects boxes all 30)."""
        todo = [name for name in subject_ids if name not in self._frames]
        if len(todo) < 2:
            return  # subject_frames does one as cheaply
        placed = [self._placement[name] for name in todo]
        skeletons = [self._skeletons[name] for name in todo]
        # In the world, as _frames_at: the same kernel, the same products per subject.
        pos, rot = forward_kinematics_arrays(
            skeletons, [pl[2] for pl in placed], [(_yaw_matrix(pl[1]), pl[0]) for pl in placed]
        )
        centre = np.stack([self._spheres[name][0] for name in todo])
        radius = np.stack([self._spheres[name][1] for name in todo])[:, :, None]
        at = pos + np.einsum("sjab,sjb->sja", rot, centre)
        boxes = np.stack([(at - radius).min(axis=1), (at + radius).max(axis=1)], axis=1)
        for k, name in enumerate(todo):
            self._frames[name] = Posed(pos[k], rot[k])
            if name not in self._numpy_boxes:
                self._numpy_boxes[name] = boxes[k]

    def subject_pose(self, subject_id: str) -> tuple[Vec3, float, HumanPose]:
        """Feet position, yaw and pose of a subject as last placed."""
        return self._placement[subject_id]

    def add_target(
        self,
        target_id: str,
        target: PaperTarget,
        distance_m: float,
        centre_height_m: float = 1.3,
        lateral_m: float = 0.0,
    ) -> None:
        """A paper target facing the firing line, on a 5 mm backer board."""
        c = self._require()
        half = [BACKER_M / 2, target.width_in * IN_M / 2, target.height_in * IN_M / 2]
        shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        centre = (distance_m + BACKER_M / 2, lateral_m, centre_height_m)
        uid = p.createMultiBody(0, shape, basePosition=list(centre), physicsClientId=c)
        self._names[uid] = target_id
        self._targets[target_id] = (target, centre)
        self._boxes = None

    def add_cover(self, name: str, centre: Vec3, size: Vec3) -> None:
        """A solid box on the floor that stops rounds and probes: `centre` is its footprint's
        centre, `size` its extent along X, Y and Z (metres)."""
        c = self._require()
        half = [size[0] / 2, size[1] / 2, size[2] / 2]
        shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        uid = p.createMultiBody(
            0, shape, basePosition=[centre[0], centre[1], size[2] / 2], physicsClientId=c
        )
        self._names[uid] = f"cover:{name}"
        self._boxes = None

    def add_object(
        self, name: str, centre: Vec3, size: Vec3, material: str, role: str = "concealment"
    ) -> None:
        """A solid box of `material` (a physics.penetration material id) on the floor, as
        `add_cover` places one; `role` is what the drill calls it, "cover" (meant to stop
        handgun rounds) or "concealment" (hides, does not stop). Rounds pass through it as
        the material allows (physics.penetration.fly_through)."""
        if role not in ("cover", "concealment"):
            raise ValueError(f"object {name!r}: role must be cover or concealment, not {role!r}")
        c = self._require()
        half = [size[0] / 2, size[1] / 2, size[2] / 2]
        middle = [centre[0], centre[1], centre[2] + size[2] / 2]
        shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        uid = p.createMultiBody(0, shape, basePosition=middle, physicsClientId=c)
        self._names[uid] = name
        box = np.array([np.subtract(middle, half), np.add(middle, half)])
        self._objects[name] = (material, role, box)
        self._boxes = None

    def material_of(self, name: str) -> str | None:
        """The material of a thing a round can hit: an object's own, "soft_tissue" for a
        subject, None for a paper target (a round passes through paper), "backstop" (stops
        everything) for the floor, walls, backstop and `add_cover` boxes."""
        if name in self._objects:
            return self._objects[name][0]
        if name in self._subjects:
            return "soft_tissue"
        if name in self._targets:
            return None
        return "backstop"

    def role_of(self, name: str) -> str | None:
        """ "cover" or "concealment" for an object added with `add_object`, else None."""
        return self._objects[name][1] if name in self._objects else None

    def exit_point(self, name: str, point: Vec3, direction: Vec3) -> NDArray[np.float64]:
        """Where a straight line entering `name` at `point` along unit `direction` leaves it.

        A box object: the slab exit of its box. A subject: the last surface of the subject
        along the line inside its posed box, found by casting back from the box's far side
        (anything else in the way is stepped over); a gap between two of its parts (an arm
        in front of the torso) counts as crossed. Anything else: `point` itself."""
        c = self._require()
        a = np.asarray(point, dtype=float)
        d = np.asarray(direction, dtype=float)
        if name in self._turned:
            # A prop's part, turned about +Z: the slab exit in the part's own frame.
            centre, rotation = self._turned[name]
            a_local, d_local = rotation.T @ (a - centre), rotation.T @ d
            half = self._objects[name][2][1]
            with np.errstate(divide="ignore", invalid="ignore"):
                t1, t2 = (-half - a_local) / d_local, (half - a_local) / d_local
            out = np.where(np.isfinite(np.maximum(t1, t2)), np.maximum(t1, t2), np.inf)
            far_t = float(np.nanmin(out))
            return a + d * far_t if math.isfinite(far_t) and far_t > 0.0 else a
        if name in self._objects:
            box = self._objects[name][2]
        elif name in self._subjects:
            box = self._subject_box(self._subjects[name])
        else:
            return a
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (box[0] - a) / d, (box[1] - a) / d
        far = float(
            np.nanmin(np.where(np.isfinite(np.maximum(t1, t2)), np.maximum(t1, t2), np.inf))
        )
        far = max(far, 0.0) + 1e-4
        if name in self._objects:
            return a + d * (far - 1e-4)
        uid = self._subjects[name]
        # PyBullet is asked: the subjects it holds in this box must stand as last posed.
        self._sync_for(box[0], box[1])
        start = a + d * far
        for _ in range(8):
            hit = p.rayTest(start.tolist(), a.tolist(), physicsClientId=c)[0]
            if hit[0] < 0:
                return a
            at = np.asarray(hit[3], dtype=float)
            if hit[0] == uid:
                return at
            start = at - d * 1e-4  # another body inside the box: step past it
        return a

    def body_to_world(self, subject_id: str, rest_point: Vec3) -> NDArray[np.float64]:
        """Where a point of the subject's rest body (PathEnds.rest_point) is now: carried by
        the segment whose axis passes nearest it, posed as the subject stands now (a probe
        stuck in a thigh follows the thigh)."""
        skeleton = self._bodies[subject_id].skeleton()
        q = np.asarray(rest_point, dtype=float)
        best, seg_joint = np.inf, 0
        for seg in skeleton.segments:
            axis = seg.end - seg.start
            f = float(np.clip(np.dot(q - seg.start, axis) / max(float(axis @ axis), 1e-12), 0, 1))
            gap = float(np.linalg.norm(q - (seg.start + axis * f)))
            if gap < best:
                best, seg_joint = gap, seg.joint
        frames = self.subject_frames(subject_id)
        i = seg_joint
        return np.asarray(
            frames.position[i] + frames.rotation[i] @ (q - skeleton.rest[i]), dtype=np.float64
        )

    def add_prop(self, parts: list[PropPart]) -> None:
        """A scene prop (physics.props.prop_parts): one static box a part, named by its role,
        `cover:car/engine_block` or `concealment:car/door_fl`, in what a cast reports."""
        c = self._require()
        for part in parts:
            shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=part.half, physicsClientId=c)
            half_yaw = part.yaw_rad / 2
            uid = p.createMultiBody(
                0,
                shape,
                basePosition=part.centre,
                baseOrientation=(0.0, 0.0, math.sin(half_yaw), math.cos(half_yaw)),
                physicsClientId=c,
            )
            self._names[uid] = part.body_name
            # What rounds meet (physics.penetration): the part's material as a penetration
            # material, its role, and its half extents about its own centre and yaw.
            half = np.asarray(part.half, dtype=float)
            self._objects[part.body_name] = (
                penetration_material(part),
                part.role.value,
                np.array([-half, half]),
            )
            self._turned[part.body_name] = (
                np.asarray(part.centre, dtype=float),
                part.rotation(),
            )
        self._boxes = None

    def target_score(
        self, target_id: str, point: Vec3, bullet_diameter_in: float = GAUGE_9MM_IN
    ) -> tuple[str, int]:
        """Zone and points of a hole of `bullet_diameter_in` centred at a world point on target
        `target_id` (a hole cutting a line scores the higher zone)."""
        target, (_, y, z) = self._targets[target_id]
        # Facing the shooter (-X): the shooter's right is world -Y.
        return target.score((y - point[1]) / IN_M, (point[2] - z) / IN_M, bullet_diameter_in)

    def set_stance(self, subject_id: str, stance: Stance) -> None:
        """Kneel, raise the arms, stand: the subject is re-posed in place (no shapes rebuilt)."""
        body = self._bodies[subject_id]
        if body.stance is stance:
            return
        body = body.in_stance(stance)
        self._bodies[subject_id] = body
        self.pose_subject(subject_id, body.pose())

    def body(self, subject_id: str) -> SubjectBody:
        return self._bodies[subject_id]

    def place_subject(self, subject_id: str, position: Vec3, yaw_rad: float) -> None:
        """Move a subject in its current pose: `position` is the point on the floor between
        its feet."""
        pose = self._placement[subject_id][2]
        self.pose_subject(subject_id, pose, position, yaw_rad)

    @property
    def subject_ids(self) -> list[str]:
        """The subjects' names, in the order they were added."""
        return list(self._subjects)

    @property
    def targets(self) -> list[str]:
        """Names by body id: what `PathEnds.target` indexes (a copy of the list, built again
        once a body was added: bodies are only ever added, each with its own id)."""
        count, names = self._names_list
        if count != len(self._names):
            names = [""] * (max(self._names) + 1)
            for uid, name in self._names.items():
                names[uid] = name
            self._names_list = (len(self._names), names)
        return names.copy()

    def _hits_on_bodies(
        self, uid: NDArray[np.int64], link: NDArray[np.int64], point: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
        """Zone-map region (index into REGIONS) of hits at world `point` on bodies `uid`, links
        `link` (-1: the base), -1 where the body is not a subject; each hit's point on the
        subject's rest body (N, 3; NaN off subjects); and the segment hit (-1 off subjects)."""
        out = np.full(len(uid), -1, dtype=np.int64)
        rest_out = np.full((len(uid), 3), np.nan)
        seg_out = np.full(len(uid), -1, dtype=np.int64)
        # Only the subjects hit (a deployment hits one or none; a lane may hold 30).
        hit = set((uid if len(uid) <= 64 else np.unique(uid)).tolist())
        for body_uid in hit & self._uid_subject.keys():
            subject_id = self._uid_subject[body_uid]
            rows = np.nonzero(uid == body_uid)[0]
            seg = link[rows] - _SEGMENT_LINK
            frames = self.subject_frames(subject_id)
            skeleton = self._skeletons[subject_id]
            # Back through each segment's joint transform into the rest frame.
            local = np.einsum(
                "nji,nj->ni", frames.rotation[seg], point[rows] - frames.position[seg]
            )
            rest = skeleton.rest[seg] + local
            out[rows] = region_codes(skeleton, seg, rest)
            rest_out[rows] = rest
            seg_out[rows] = seg
        return out, rest_out, seg_out

    def hit_anchor(self, ends: PathEnds, row: int) -> tuple[str, tuple[float, float, float]] | None:
        """Flight `row`'s hit on a subject as (segment name, offset from its joint in the
        segment's frame, metres): `subject_anchor`; None when it hit no subject."""
        if ends.segment is None or ends.rest_point is None or ends.segment[row] < 0:
            return None
        x, y, z = ends.rest_point[row].tolist()
        return self.subject_anchor(int(ends.target[row]), int(ends.segment[row]), (x, y, z))

    def subject_anchor(
        self, uid: int, segment: int, rest_point: tuple[float, float, float]
    ) -> tuple[str, tuple[float, float, float]] | None:
        """A hit on segment `segment` of body `uid` at `rest_point` (its rest body,
        PathEnds.rest_point) as the segment's name and the offset (metres) from its joint in
        the segment's own frame: the point the posed joint frame (R, p) carries to
        p + R @ offset, as the renderer's bones do. None when the body is no subject."""
        name = self._uid_subject.get(uid)
        if name is None:
            return None
        seg = self._skeletons[name].segments[segment]
        rx, ry, rz = self._rest_rows[name][seg.joint]
        return seg.name, (rest_point[0] - rx, rest_point[1] - ry, rest_point[2] - rz)

    def _body_boxes(self) -> NDArray[np.float64]:
        """(B, 2, 3) axis-aligned boxes of every body but the floor, refreshed after a move:
        the static bodies' (`_static_boxes`), then the subjects'."""
        if self._boxes is not None:
            return self._boxes
        static = self._static_boxes()
        self._frame_all(name for name in self._subjects if name not in self._numpy_boxes)
        subjects = [self.subject_box(name) for name in self._subjects]
        self._boxes = np.concatenate([static, np.array(subjects).reshape(-1, 2, 3)])
        return self._boxes

    def _static_boxes(self) -> NDArray[np.float64]:
        """(B, 2, 3) PyBullet's boxes of the bodies that never move (backstop, walls, targets,
        cover, props: all but the floor and the subjects), each asked once."""
        count = len(self._names) - 1 - len(self._subjects)  # the floor is one of the names
        if self._static is not None and len(self._static) == count:
            return self._static
        c = self._require()
        for uid in self._names:
            if uid == self._floor or uid in self._aabbs or uid in self._uid_subject:
                continue
            links = range(-1, p.getNumJoints(uid, physicsClientId=c))
            boxes = np.array([p.getAABB(uid, link, physicsClientId=c) for link in links])
            self._aabbs[uid] = np.array([boxes[:, 0].min(axis=0), boxes[:, 1].max(axis=0)])
        self._static = np.array(list(self._aabbs.values())).reshape(-1, 2, 3)
        return self._static

    def _deploy_scene(self) -> Scene:
        """The subjects as `cast_deployment`'s kernel reads them (`Scene`). What a subject's
        body fixes (spheres, rest joints, hull planes padded to the longest hull with planes
        that bound nothing, zone map) is stacked once, when the subjects change; what its pose
        fixes (joint frames, sphere centres in the world, box) is written once a pose, for the
        subjects posed since (one batched forward kinematics for them), not once a call. The
        hull planes stay in the rest frame: a cast carries a chord's two ends into a segment's
        frame where its sphere meets the chord, which costs less than carrying every plane out
        at each pose."""
        names = list(self._subjects)
        if self._scene is None:
            j_count = len(JOINTS)
            f_count = max((len(self._planes[n][1][0]) for n in names), default=1)
            normals = np.zeros((len(names), j_count, f_count, 3))
            offsets = np.ones((len(names), j_count, f_count))  # 0 . q <= 1: always inside
            zone_f = np.empty((len(names), 6))
            zone_i = np.empty((len(names), 11 + j_count), dtype=np.int64)
            for s, name in enumerate(names):
                normal, offset = self._planes[name]
                normals[s, :, : offset.shape[1]] = normal
                offsets[s, :, : offset.shape[1]] = offset
                zone_f[s], zone_i[s] = zone_arrays(self._skeletons[name])
            self._scene = (
                np.array([self._subjects[n] for n in names], dtype=np.int64),
                np.empty((len(names), j_count, 3)),
                np.empty((len(names), j_count, 3, 3)),
                np.empty((len(names), j_count, 3)),
                np.empty((len(names), 2, 3)),
                np.array([self._spheres[n][1] for n in names]).reshape(len(names), j_count),
                np.array([self._skeletons[n].rest for n in names]).reshape(len(names), j_count, 3),
                normals,
                offsets,
                zone_f,
                zone_i,
            )
            self._scene_row = {name: s for s, name in enumerate(names)}
            self._scene_stale = set(names)
        if self._scene_stale:
            _, pos, rot, world_c, box = self._scene[:5]
            self._frame_all(self._scene_stale)
            for name in self._scene_stale:
                s = self._scene_row[name]
                frames = self.subject_frames(name)
                pos[s], rot[s] = frames.position, frames.rotation
                at = self._centres_of(name, frames)
                world_c[s] = at
                box[s] = self.subject_box(name, at=at)
            self._scene_stale = set()
        return self._scene

    def cast_deployment(
        self,
        position_m: Vec3,
        orientation: Quat,
        normals: NDArray[np.float64] | None,
        launch: LaunchPlan,
        subjects: bool = True,
        flights: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """One trigger pull's probes against the subjects as they stand, from the muzzle at
        `position_m` turned by `orientation` (columns of its matrix: bore, left, top), in one
        kernel call (physics._kernel.deploy): the launch (`normals` (P, 2): the dispersion's
        normal draws, None without dispersion; taser.probe_launch), the flight (the plan's
        table, SampledFlights.flights), the chords cut at the reach, and each probe's first
        hit: on a subject's drawn hulls (each segment's bounding sphere, then exact clipping
        by its face planes, as cast_moving clips), on the floor (the plane z = 0, as PyBullet
        finds it to 1 ulp), and on the rest of the world (walls, backstop, targets, cover,
        props): PyBullet casts only the chords whose box meets one of theirs, up to the first
        hit, subjects masked out, asked from inside the kernel's one call (`_cast_static`).

        Returns per probe (P, 9): the end point (3), time, speed and path there, and the hit's
        point on the subject's rest body (3; NaN off subjects); and (P, 3) the body id hit
        (-1: none; `targets`), the region (index into REGIONS, -1 off subjects) and the
        segment (-1 off subjects).

        `subjects=False`: the rays pass through every subject (cast_moving's frozen part, as
        cast_paths gives it). `flights`: (K + 1, P, 3) and (K + 1, P) arrays that the probes'
        flights are written to (the points and speeds SampledFlights.flights gives)."""
        self._require()
        scene = self._deploy_scene() if subjects else _NO_SUBJECTS
        static = self._static_boxes()
        out_f = np.empty((launch.probes, 9))
        out_i = np.empty((launch.probes, 3), dtype=np.int64)
        args = (
            position_m,
            orientation,
            normals,
            launch.probes,
            launch.cos_spread,
            launch.sin_spread,
            launch.separation_in,
            IN_M,
            launch.reach_m,
            launch.elevation0_rad,
            launch.elevation_step_rad,
            launch.table,
            launch.times_s,
            scene,
            static,
            self._floor,
        )
        tail = (self._cand_k, self._cand_n, self._cand_a, self._cand_b, out_f, out_i)
        points, speeds = (None, None) if flights is None else flights
        _kernel.deploy(*args, self._cast_static, *tail, points, speeds)
        return out_f, out_i

    def _cast_static(self, count: int) -> Sequence[tuple[object, ...]]:
        """PyBullet's rays for the first `count` chords `_kernel.deploy` found may meet the rest
        of the world (its cand_a -> cand_b), subjects masked out: the kernel calls this once,
        from inside cast_deployment's one call, and merges the answers itself."""
        return p.rayTestBatch(  # type: ignore[no-any-return]
            self._cand_a[:count],
            self._cand_b[:count],
            collisionFilterMask=_NOT_SUBJECTS,
            physicsClientId=self.client,
        )

    def cast_paths(
        self,
        points: NDArray[np.float64],
        times_s: NDArray[np.float64],
        speeds: NDArray[np.float64],
        reach_m: float = np.inf,
        subjects: bool = True,
        clip_subjects: bool = False,
    ) -> PathEnds:
        """First hit of each of N flights sampled at K+1 points, (K+1, N, 3), stopping after
        `reach_m` of path (a TASER wire runs out; a round is followed to the backstop).
        `subjects=False`: the rays pass through every subject (cast_moving's frozen part).

        Every hit is PyBullet's. Only chords that can touch something are cast: those whose box
        overlaps a body's box, and those that reach the floor; the rest provably hit nothing.

        `clip_subjects=True` (a Monte Carlo study: thousands of flights at still subjects):
        the subjects as they stand are clipped in numpy against their drawn hulls instead
        (`_clip_still`, the exact convex clipping cast_moving uses), and PyBullet casts the
        rest of the world, subjects masked out, only up to each flight's subject hit."""
        self._require()
        clip = clip_subjects and subjects and bool(self._subjects)
        mask = -1 if subjects and not clip else _NOT_SUBJECTS
        points = np.ascontiguousarray(points, dtype=np.float64)
        starts = points[:-1]
        k_chords, n = starts.shape[0], starts.shape[1]
        # Each chord's length, the path before it, the fraction of it the reach leaves (its
        # end moved there) and whether it starts within the reach (physics._kernel.chords).
        chord = np.empty((k_chords, n))
        before = np.empty((k_chords + 1, n))
        cut = np.empty((k_chords, n))
        ends = np.empty((k_chords, n, 3))
        live = np.empty((k_chords, n), dtype=bool)
        _kernel.chords(points, float(reach_m), chord, before, cut, ends, live)
        boxes = self._body_boxes()
        if not subjects or clip:
            boxes = boxes[: len(boxes) - len(self._subjects)]
        limit = None
        if clip:
            lo, hi = np.minimum(starts, ends), np.maximum(starts, ends)
            still = self._clip_still(starts, ends, lo, hi, live)
            limit = still[0]  # chords after a flight's subject hit need no cast
        # The live chords whose box overlaps a body's box or reaches the floor, flight-major,
        # chords in order within a flight: a flight's first hit comes first.
        ks = np.empty(k_chords * n, dtype=np.int64)
        ns = np.empty(k_chords * n, dtype=np.int64)
        count = _kernel.candidates(starts, ends, live, boxes, limit, ks, ns)
        ks, ns = ks[:count], ns[:count]
        uid = np.full(len(ks), -1, dtype=np.int64)
        link = np.full(len(ks), -1, dtype=np.int64)
        frac = np.ones(len(ks))
        if len(ks) <= _ONE_ROUND:
            self._cast(starts, ends, ks, ns, np.arange(len(ks)), uid, link, frac, mask)
        else:
            # In rounds: each flight's next candidate chord, for the flights still flying. Most
            # stop at their first, so a big batch casts about half the rays it would at once.
            first_of = np.searchsorted(ns, np.arange(n))  # each flight's first candidate
            rank = np.arange(len(ks)) - first_of[ns]
            flying = np.ones(n, dtype=bool)
            for r in range(int(rank.max()) + 1):
                todo = np.nonzero((rank == r) & flying[ns])[0]
                if not len(todo):
                    break
                self._cast(starts, ends, ks, ns, todo, uid, link, frac, mask)
                flying[ns[todo[uid[todo] >= 0]]] = False
        # Each flight's end: its first hit (the first of its cast chords, in order, that hit
        # something: where and when along it), or where its reach or samples ran out.
        picked = np.empty(n, dtype=np.int64)
        end_k = np.empty(n, dtype=np.int64)
        end_f = np.empty(n)
        point = np.empty((n, 3))
        target = np.empty(n, dtype=np.int64)
        _kernel.first_hits(
            starts, ends, live, cut, ks, ns, uid, frac, picked, end_k, end_f, point, target
        )
        region = np.full(n, -1, dtype=np.int64)
        rest_point = np.full((n, 3), np.nan)
        segment = np.full(n, -1, dtype=np.int64)
        flights = np.nonzero(picked >= 0)[0]
        # Zones only for the hits on subjects (a deployment hits one or none).
        if len(flights) <= 64:
            on_subject = np.array([u in self._uid_subject for u in target[flights].tolist()])
        else:
            on_subject = np.isin(target[flights], list(self._uid_subject))
        if on_subject.any():
            flights = flights[on_subject]
            region[flights], rest_point[flights], segment[flights] = self._hits_on_bodies(
                target[flights], link[picked[flights]], point[flights]
            )
        if clip:
            # A subject hit wins where it comes before the rest of the world's (or alone).
            s_k, s_f, s_uid, s_region, s_rest, s_seg = still
            hit = picked >= 0
            b_k = np.where(hit, end_k, k_chords)
            b_f = np.where(hit, frac[np.maximum(picked, 0)] if len(frac) else 1.0, 1.0)
            w = np.nonzero((s_k < k_chords) & ((s_k < b_k) | ((s_k == b_k) & (s_f < b_f))))[0]
            kw = s_k[w]
            a_w, b_w = starts[kw, w], ends[kw, w]
            point[w] = a_w + (b_w - a_w) * s_f[w, None]
            target[w], region[w], segment[w] = s_uid[w], s_region[w], s_seg[w]
            rest_point[w] = s_rest[w]
            end_k[w], end_f[w] = kw, s_f[w] * cut[kw, w]
        time, speed, path = np.empty(n), np.empty(n), np.empty(n)
        _kernel.path_ends(times_s, speeds, before, chord, end_k, end_f, time, speed, path)
        return PathEnds(target, region, point, time, speed, path, rest_point, segment)

    def _clip_still(
        self,
        starts: NDArray[np.float64],
        ends: NDArray[np.float64],
        lo: NDArray[np.float64],
        hi: NDArray[np.float64],
        live: NDArray[np.bool_],
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.float64],
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.float64],
        NDArray[np.int64],
    ]:
        """Each flight's first hit on a subject as it stands, in numpy: chords (K, N) starts ->
        ends (their boxes lo, hi; `live` ones only). Per flight: the chord (K: none), the
        fraction along it, the body id, the region, the point on the rest body and the
        segment. A chord in a subject's box is paired with the segments whose posed box its
        box overlaps, carried into those segments' rest frames (one batched product), kept
        where it crosses the hull's rest-frame box (a slab test) and clipped there by that
        hull's face planes (`_enters`, one product per segment); each flight's candidate
        chords in order, a round at a time for the flights not yet hit, in blocks of chords
        so that memory stays bounded."""
        k_chords, n = live.shape
        s_k = np.full(n, k_chords)
        s_f = np.ones(n)
        s_uid = np.full(n, -1, dtype=np.int64)
        s_region = np.full(n, -1, dtype=np.int64)
        s_rest = np.full((n, 3), np.nan)
        s_seg = np.full(n, -1, dtype=np.int64)
        for name, uid in self._subjects.items():
            box = self.subject_box(name)
            near = (live & (lo <= box[1]).all(-1) & (hi >= box[0]).all(-1)).T
            ns, ks = np.nonzero(near)  # flight-major: a flight's chords in order
            if not len(ks):
                continue
            frames = self.subject_frames(name)
            skeleton = self._skeletons[name]
            normals, offsets = self._planes[name]
            rest_box = self._rest_boxes[name]
            normals32, offsets32 = normals.astype(np.float32), offsets.astype(np.float32)
            # Each segment's box in the world as posed: the drawn hull's vertices carried there.
            placed = [
                frames.position[i] + (seg.vertices - skeleton.rest[i]) @ frames.rotation[i].T
                for i, seg in enumerate(skeleton.segments)
            ]
            box_lo = np.array([v.min(axis=0) for v in placed]) - 1e-3  # 1 mm to spare
            box_hi = np.array([v.max(axis=0) for v in placed]) + 1e-3
            found_c, found_t, found_j, found_q = [], [], [], []
            # In rounds: each flight's next candidate chord, for the flights not yet hit (most
            # stop at their first; a chord after the entry starts inside and is not needed).
            rank = np.cumsum(near, axis=1)[ns, ks] - 1
            done = np.zeros(n, dtype=bool)
            for r in range(int(rank.max()) + 1):
                todo = np.nonzero((rank == r) & ~done[ns])[0]
                for at in range(0, len(todo), _CLIP_BLOCK):
                    which = todo[at : at + _CLIP_BLOCK]
                    kb, nb = ks[which], ns[which]
                    # The segments whose world box the chord's box overlaps ...
                    c_lo, c_hi = lo[kb, nb], hi[kb, nb]
                    over = (c_lo[:, None] <= box_hi) & (c_hi[:, None] >= box_lo)
                    pc, pj = np.nonzero(over.all(axis=2))
                    # ... the chord carried into those segments' rest frames:
                    # rest_j + R_j^T (x - p_j) ...
                    rot, pos, rj = frames.rotation[pj], frames.position[pj], skeleton.rest[pj]
                    qa = rj + np.einsum("pji,pj->pi", rot, starts[kb[pc], nb[pc]] - pos)
                    qb = rj + np.einsum("pji,pj->pi", rot, ends[kb[pc], nb[pc]] - pos)
                    # ... kept where it crosses the hull's box there (a slab test) ...
                    lo_r, hi_r = rest_box[pj, 0], rest_box[pj, 1]
                    d = qb - qa
                    flat = np.abs(d) < 1e-12
                    step = np.where(flat, 1.0, d)
                    t1, t2 = (lo_r - qa) / step, (hi_r - qa) / step
                    enter = np.where(flat, -np.inf, np.minimum(t1, t2)).max(axis=1)
                    leave = np.where(flat, np.inf, np.maximum(t1, t2)).min(axis=1)
                    inside = ((qa >= lo_r) & (qa <= hi_r)) | ~flat
                    keep = inside.all(axis=1) & (np.maximum(enter, 0.0) <= np.minimum(leave, 1.0))
                    pc, pj, qa, qb = pc[keep], pj[keep], qa[keep], qb[keep]
                    # ... and clipped by that hull's face planes, a segment at a time.
                    for j in np.unique(pj).tolist():
                        rows = np.nonzero(pj == j)[0]
                        pa, pb = qa[rows], qb[rows]
                        hit, t_in = _enters(pa, pb, normals32[j], offsets32[j])
                        if hit.any():
                            rows, t_in = rows[hit], t_in[hit]
                            found_c.append(which[pc[rows]])
                            found_t.append(t_in)
                            found_j.append(np.full(len(rows), j, dtype=np.int64))
                            found_q.append(pa[hit] + (pb[hit] - pa[hit]) * t_in[:, None])
                            done[nb[pc[rows]]] = True
            if not found_c:
                continue
            c, t = np.concatenate(found_c), np.concatenate(found_t)
            seg, q = np.concatenate(found_j), np.concatenate(found_q)
            flight, chord = ns[c], ks[c]
            order = np.lexsort((t, chord, flight))  # per flight, its first entry first
            once = np.ones(len(order), dtype=bool)
            once[1:] = flight[order][1:] != flight[order][:-1]
            pick = order[once]
            fl, kf, tf = flight[pick], chord[pick], t[pick]
            better = (kf < s_k[fl]) | ((kf == s_k[fl]) & (tf < s_f[fl]))
            pick, fl = pick[better], fl[better]
            s_k[fl], s_f[fl], s_uid[fl], s_seg[fl] = chord[pick], t[pick], uid, seg[pick]
            s_rest[fl] = q[pick]
            s_region[fl] = region_codes(skeleton, seg[pick], q[pick])
        return s_k, s_f, s_uid, s_region, s_rest, s_seg

    def cast_moving(
        self,
        points: NDArray[np.float64],
        times_s: NDArray[np.float64],
        speeds: NDArray[np.float64],
        motion: Motion,
        max_speed_mps: float,
        reach_m: float = np.inf,
        tolerance_m: float = MOVING_TOLERANCE_M,
        frozen: PathEnds | None = None,
    ) -> PathEnds:
        """`cast_paths` against subjects that move during the flight: `motion(t, subjects)`
        poses those subjects at time t (seconds on the flight's clock, `times_s`; the others
        may stay as they are), and no point of a subject's surface moves faster than
        `max_speed_mps` (a running subject's hands: about 8 m/s).

        The rest of the world (floor, walls, targets, cover) is cast by PyBullet with the
        subjects masked out of the rays. For the subjects, each chord is cut into sub-chords
        short enough in time that a subject moves at most `tolerance_m` during one, and a
        sub-chord is tested against the drawn hulls of the subject posed at its middle time
        (numpy, exact convex clipping in each segment's rest frame). Only sub-chords that can
        reach a subject are posed: those inside its box at the trigger grown by its motion
        since, and of those only the ones a conservative advancement cannot rule out
        (`_cast_subject`); a flight stops at its first hit. The world is left posed at
        `times_s[0]`, without calling `motion` again. A subject hit's point on the rest body
        (`PathEnds.rest_point`) is where the sub-chord enters the hull, in that rest frame.

        `frozen`: the flights' ends against the rest of the world when the caller has them
        (cast_deployment with `subjects=False`, which flew them); taken over and written to."""
        self._require()
        n = points.shape[1]
        t0 = float(times_s[0])
        names = list(self._subjects)
        motion(t0, frozenset(names))
        if frozen is None:
            frozen = self.cast_paths(points, times_s, speeds, reach_m, subjects=False)
        _, _, t_fine, mid_t, grow, weights = sub_chord_plan(times_s, max_speed_mps, tolerance_m)
        # The sub-chord ends as one product of the plan's weights with the chord samples.
        fine = (weights @ points.reshape(len(times_s), -1)).reshape(len(t_fine), n, 3)
        starts = fine[:-1]
        m_chords = len(starts)
        # Each sub-chord's displacement (cut where the reach runs out), end, length and
        # squared length, the path before it, the fraction the reach leaves, and whether it
        # is in each subject's box at the trigger grown by its motion since (S, M, N): only
        # before the flight ends on the rest of the world (physics._kernel.sub_chords).
        chord_d = np.empty((m_chords, n, 3))
        stops = np.empty((m_chords, n, 3))
        chord = np.empty((m_chords, n))
        chord_dd = np.empty((m_chords, n))
        before = np.empty((m_chords + 1, n))
        cut = np.empty((m_chords, n))
        boxes = np.array([self.subject_box(name) for name in names])  # (S, 2, 3)
        in_box = np.empty((len(names), m_chords, n), dtype=bool)
        _kernel.sub_chords(
            fine,
            reach_m,
            t_fine,
            frozen.time_s,
            boxes,
            grow,
            chord_d,
            stops,
            chord,
            chord_dd,
            before,
            cut,
            in_box,
        )
        first = np.full(n, m_chords)  # the sub-chord of each flight's first subject hit
        hit_f = np.ones(n)
        hit_uid = np.full(n, -1, dtype=np.int64)
        hit_region = np.full(n, -1, dtype=np.int64)
        hit_rest = np.full((n, 3), np.nan)  # each first hit's point on the rest body
        hit_seg = np.full(n, -1, dtype=np.int64)  # and its segment
        saved = {}
        for s_index, name in enumerate(names):
            saved[name] = (self._placement[name], self.subject_frames(name), boxes[s_index])
            self._cast_subject(
                name,
                motion,
                in_box[s_index],
                starts,
                stops,
                chord_d,
                chord_dd,
                before,
                mid_t,
                max_speed_mps,
                first,
                hit_f,
                hit_uid,
                hit_region,
                hit_rest,
                hit_seg,
            )
        # Back to the trigger's poses without asking `motion` again.
        for name, (placed, frames, box) in saved.items():
            if self._placement[name] is not placed:
                self._placement[name] = placed
                self._frames[name], self._numpy_boxes[name] = frames, box
                self._unsynced.add(name)

        cols = np.nonzero(first < m_chords)[0]
        # The frozen cast's arrays are its own: its ends stand where no subject came first.
        point, time, speed, path = frozen.point, frozen.time_s, frozen.speed_mps, frozen.path_m
        target, region = frozen.target, frozen.region
        rest_point = np.full((n, 3), np.nan)  # the frozen part meets no subject
        segment = np.full(n, -1, dtype=np.int64)
        if len(cols):
            m = first[cols]
            s_fine = weights @ speeds  # the speeds at the sub-chords' ends
            end_f = hit_f[cols] * cut[m, cols]
            a, b = starts[m, cols], fine[1:][m, cols]
            point[cols] = a + (b - a) * end_f[:, None]
            time[cols] = t_fine[m] + end_f * (t_fine[m + 1] - t_fine[m])
            speed[cols] = s_fine[m, cols] + (s_fine[m + 1, cols] - s_fine[m, cols]) * end_f
            path[cols] = before[m, cols] + end_f * chord[m, cols]
            target[cols] = hit_uid[cols]
            region[cols] = hit_region[cols]
            rest_point[cols] = hit_rest[cols]
            segment[cols] = hit_seg[cols]
        return PathEnds(target, region, point, time, speed, path, rest_point, segment)

    def _cast_subject(
        self,
        name: str,
        motion: Motion,
        in_box: NDArray[np.bool_],
        starts: NDArray[np.float64],
        stops: NDArray[np.float64],
        chord_d: NDArray[np.float64],
        chord_dd: NDArray[np.float64],
        before: NDArray[np.float64],
        mid_t: NDArray[np.float64],
        max_speed_mps: float,
        first: NDArray[np.int64],
        hit_f: NDArray[np.float64],
        hit_uid: NDArray[np.int64],
        hit_region: NDArray[np.int64],
        hit_rest: NDArray[np.float64],
        hit_seg: NDArray[np.int64],
    ) -> None:
        """cast_moving's subject part for one subject (physics._kernel.cast_subject, which
        calls back `motion` and the forward kinematics for each pose): the sub-chords in its
        grown box `in_box` (M, N) before each flight's `first` hit, in time order, the
        subject posed at each evaluated sub-chord's middle time and tested there with the
        WINDOW sub-chords after it. Conservative advancement: where every flight still to
        test is a gap D from the subject's segment spheres, the sub-chords that cannot close
        it are skipped (the probe's path since that time plus the subject's motion, at most
        `max_speed_mps`, stays under D). Fills in `first`, `hit_f`, `hit_uid`, `hit_region`,
        `hit_seg` (the segment) and `hit_rest` (the hit on the rest body: the entry point
        found in the hit segment's rest frame, rest[j] + R_j^T (p - pos_j)) where a flight's
        first hit comes earlier than the one already there."""
        only = frozenset({name})
        centre, radius = self._spheres[name]
        skeleton = self._skeletons[name]
        normals, offsets = self._planes[name]

        def pose_at(t: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            motion(t, only)
            frames = self.subject_frames(name)
            return frames.position, frames.rotation

        n = starts.shape[1]
        seg = np.full(n, -1, dtype=np.int64)
        rest = np.empty((n, 3))
        _kernel.cast_subject(
            pose_at,
            in_box,
            starts,
            stops,
            chord_d,
            chord_dd,
            before,
            mid_t,
            max_speed_mps,
            WINDOW,
            centre,
            radius,
            skeleton.rest,
            normals,
            offsets,
            HULL_MARGIN_M,
            first,
            hit_f,
            seg,
            rest,
        )
        who = np.nonzero(seg >= 0)[0]
        if len(who):
            hit_uid[who] = self._subjects[name]
            hit_region[who] = region_codes(skeleton, seg[who], rest[who])
            hit_rest[who], hit_seg[who] = rest[who], seg[who]

    def _subject_box(self, uid: int) -> NDArray[np.float64]:
        """(2, 3) box round every segment of a subject as posed now."""
        return self.subject_box(self._uid_subject[uid])

    def _cast(
        self,
        starts: NDArray[np.float64],
        ends: NDArray[np.float64],
        ks: NDArray[np.int64],
        ns: NDArray[np.int64],
        which: NDArray[np.int64],
        uid: NDArray[np.int64],
        link: NDArray[np.int64],
        frac: NDArray[np.float64],
        mask: int = -1,
    ) -> None:
        """Cast chords `which` of the candidate list; fill in what each one hit (only bodies
        whose collision group is in `mask`)."""
        c = self._require()
        a, b = starts[ks[which], ns[which]], ends[ks[which], ns[which]]
        if len(a) and mask & _SUBJECT_GROUP:
            self._sync_for(np.minimum(a, b).min(axis=0), np.maximum(a, b).max(axis=0), (a, b))
        for lo in range(0, len(which), _RAY_CHUNK):
            rows = which[lo : lo + _RAY_CHUNK]
            # numpy arrays straight in: half the cost of lists (stack-notes: chunks of 16383).
            results = p.rayTestBatch(
                a[lo : lo + _RAY_CHUNK],
                b[lo : lo + _RAY_CHUNK],
                collisionFilterMask=mask,
                physicsClientId=c,
            )
            uid[rows] = [r[0] for r in results]
            link[rows] = [r[1] for r in results]
            frac[rows] = [r[2] for r in results]

    def close(self) -> None:
        if self.client is not None:
            p.disconnect(physicsClientId=self.client)
            self.client = None

    def __enter__(self) -> RangeWorld:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
