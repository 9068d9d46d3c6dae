"""The PyBullet world of one drill: floor, backstop and posable subjects, for ray casts.

DIRECT mode, no gravity stepping: projectiles are integrated in numpy (physics.flight) and the
world answers the question "what does this chord of the path touch first?" (stack-notes.md:
chords through `rayTestBatch` are 60-90x faster than CCD bodies and do not tunnel).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from physics.body import Region, Stance, SubjectBody
from physics.bullet import p
from physics.human import (
    JOINTS,
    PARENT,
    HumanPose,
    Posed,
    forward_kinematics,
    matrices_to_quats,
    region_codes,
)
from physics.pose import Vec3, quat_to_matrix, yaw_quat
from physics.targets import GAUGE_9MM_IN, PaperTarget
from physics.units import IN_M

# rayTestBatch silently drops the last of exactly 16384 rays (stack-notes.md): cast in chunks.
_RAY_CHUNK = 16383
_ONE_ROUND = 256  # fewer candidate chords than this are cast in one call
BACKER_M = 0.005  # the thinnest shape on the range: a target's backer board
HULL_MARGIN_M = 0.001  # PyBullet's margin round a GEOM_MESH convex hull (measured)
_EYE = np.eye(3)
_LINKS = list(range(len(JOINTS) - 1))


REGIONS = list(Region)


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
        self._targets: dict[str, tuple[PaperTarget, Vec3]] = {}
        # What each solid object is made of and what a drill calls it (physics.penetration):
        # name -> (material id, "cover" | "concealment", (2, 3) box). Subjects are soft
        # tissue; the floor, walls, backstop and add_cover boxes stop everything.
        self._objects: dict[str, tuple[str, str, NDArray[np.float64]]] = {}

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

        links = range(1, len(JOINTS))
        parents = [JOINTS.index(PARENT[JOINTS[i]] or JOINTS[0]) for i in links]
        uid = int(
            p.createMultiBody(
                baseMass=0,
                baseCollisionShapeIndex=shape(0),
                linkMasses=[0] * len(links),
                linkCollisionShapeIndices=[shape(i) for i in links],
                linkVisualShapeIndices=[-1] * len(links),
                # Link l is joint l + 1; its parent link is the parent joint's index - 1
                # (-1 + 1 = 0: the base). Positions are offsets in the parent's rest frame.
                linkPositions=[
                    list(rest[i] - rest[j]) for i, j in zip(links, parents, strict=True)
                ],
                linkOrientations=[[0, 0, 0, 1]] * len(links),
                linkInertialFramePositions=[[0, 0, 0]] * len(links),
                linkInertialFrameOrientations=[[0, 0, 0, 1]] * len(links),
                linkParentIndices=parents,
                linkJointTypes=[p.JOINT_SPHERICAL] * len(links),
                linkJointAxis=[[0, 0, 1]] * len(links),
                physicsClientId=c,
            )
        )
        self._names[uid] = subject_id
        self._subjects[subject_id] = uid
        self._uid_subject[uid] = subject_id
        self._bodies[subject_id] = body
        self.pose_subject(subject_id, body.pose(), position, yaw_rad)

    def pose_subject(
        self,
        subject_id: str,
        pose: HumanPose,
        position: Vec3 | None = None,
        yaw_rad: float | None = None,
    ) -> None:
        """Move a subject's segments to `pose` (joint rotations), feet at `position` facing
        `yaw_rad` (both kept when None). Only transforms change: a base reset and one
        resetJointStatesMultiDof call."""
        c = self._require()
        old = self._placement.get(subject_id)
        if position is None or yaw_rad is None:
            if old is None:
                raise ValueError(f"subject {subject_id!r} needs a position and a yaw")
            position = position if position is not None else old[0]
            yaw_rad = yaw_rad if yaw_rad is not None else old[1]
        uid = self._subjects[subject_id]
        rest = self._bodies[subject_id].skeleton().rest
        yaw = quat_to_matrix(yaw_quat(yaw_rad))
        local = np.array([pose.joints.get(name, _EYE) for name in JOINTS])
        root = yaw @ pose.root_rotation @ local[0]
        base = np.asarray(position, dtype=float) + yaw @ (rest[0] + np.asarray(pose.root_offset_m))
        quats = matrices_to_quats(np.concatenate([root[None], local[1:]]))
        p.resetBasePositionAndOrientation(uid, base, quats[0], physicsClientId=c)
        p.resetJointStatesMultiDof(uid, _LINKS, quats[1:].tolist(), physicsClientId=c)
        x, y, z = (float(v) for v in position)
        self._placement[subject_id] = ((x, y, z), float(yaw_rad), pose)
        self._frames.pop(subject_id, None)
        self._aabbs.pop(uid, None)
        self._boxes = None

    def subject_frames(self, subject_id: str) -> Posed:
        """The subject's joint frames in the world: positions (J, 3), rotations (J, 3, 3)
        (numpy forward kinematics, the same transforms PyBullet applied; cached per pose)."""
        if subject_id not in self._frames:
            (x, y, z), yaw_rad, pose = self._placement[subject_id]
            posed = forward_kinematics(self._bodies[subject_id].skeleton(), pose)
            yaw = quat_to_matrix(yaw_quat(yaw_rad))
            self._frames[subject_id] = Posed(
                np.array([x, y, z]) + posed.position @ yaw.T, yaw @ posed.rotation
            )
        return self._frames[subject_id]

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
    def targets(self) -> list[str]:
        """Names by body id: what `PathEnds.target` indexes."""
        out = [""] * (max(self._names) + 1)
        for uid, name in self._names.items():
            out[uid] = name
        return out

    def _hits_on_bodies(
        self, uid: NDArray[np.int64], link: NDArray[np.int64], point: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Zone-map region (index into REGIONS) of hits at world `point` on bodies `uid`, links
        `link` (-1: the base), -1 where the body is not a subject; and each hit's point on the
        subject's rest body (N, 3; NaN off subjects)."""
        out = np.full(len(uid), -1, dtype=np.int64)
        rest_out = np.full((len(uid), 3), np.nan)
        for body_uid, subject_id in self._uid_subject.items():
            rows = np.nonzero(uid == body_uid)[0]
            if not len(rows):
                continue
            seg = link[rows] + 1  # link l carries segment l + 1; the base is the pelvis
            frames = self.subject_frames(subject_id)
            skeleton = self._bodies[subject_id].skeleton()
            # Back through each segment's joint transform into the rest frame.
            local = np.einsum(
                "nji,nj->ni", frames.rotation[seg], point[rows] - frames.position[seg]
            )
            rest = skeleton.rest[seg] + local
            out[rows] = region_codes(skeleton, seg, rest)
            rest_out[rows] = rest
        return out, rest_out

    def _body_boxes(self) -> NDArray[np.float64]:
        """(B, 2, 3) axis-aligned boxes of every body but the floor, refreshed after a move."""
        if self._boxes is not None:
            return self._boxes
        c = self._require()
        for uid in self._names:
            if uid == self._floor or uid in self._aabbs:
                continue
            links = range(-1, p.getNumJoints(uid, physicsClientId=c))
            boxes = np.array([p.getAABB(uid, link, physicsClientId=c) for link in links])
            self._aabbs[uid] = np.array([boxes[:, 0].min(axis=0), boxes[:, 1].max(axis=0)])
        self._boxes = np.array(list(self._aabbs.values()))
        return self._boxes

    def cast_paths(
        self,
        points: NDArray[np.float64],
        times_s: NDArray[np.float64],
        speeds: NDArray[np.float64],
        reach_m: float = np.inf,
    ) -> PathEnds:
        """First hit of each of N flights sampled at K+1 points, (K+1, N, 3), stopping after
        `reach_m` of path (a TASER wire runs out; a round is followed to the backstop).

        Every hit is PyBullet's. Only chords that can touch something are cast: those whose box
        overlaps a body's box, and those that reach the floor; the rest provably hit nothing.
        """
        self._require()
        starts, ends = points[:-1], points[1:]
        k_chords, n = starts.shape[0], starts.shape[1]
        chord = np.sqrt(((ends - starts) ** 2).sum(axis=2))  # (K, N)
        before = np.zeros((k_chords + 1, n))
        np.cumsum(chord, axis=0, out=before[1:])
        if np.isfinite(reach_m):
            live = before[:-1] < reach_m
            # minimum/maximum, not clip: clip costs several times more on arrays this small
            cut = np.minimum(
                np.maximum((reach_m - before[:-1]) / np.maximum(chord, 1e-12), 0.0), 1.0
            )
            ends = starts + (ends - starts) * cut[..., None]
        else:
            live = np.ones((k_chords, n), dtype=bool)
            cut = np.ones((k_chords, n))
        lo, hi = np.minimum(starts, ends), np.maximum(starts, ends)
        boxes = self._body_boxes()
        near = (
            (lo[..., None, :] <= boxes[:, 1]).all(-1) & (hi[..., None, :] >= boxes[:, 0]).all(-1)
        ).any(-1)
        near |= lo[..., 2] <= 1e-6  # the floor plane
        # Flight-major, chords in order within a flight: a flight's first hit comes first.
        candidates = (live & near).T
        ns, ks = np.nonzero(candidates)
        uid = np.full(len(ks), -1, dtype=np.int64)
        link = np.full(len(ks), -1, dtype=np.int64)
        frac = np.ones(len(ks))
        if len(ks) <= _ONE_ROUND:
            self._cast(starts, ends, ks, ns, np.arange(len(ks)), uid, link, frac)
        else:
            # In rounds: each flight's next candidate chord, for the flights still flying. Most
            # stop at their first, so a big batch casts about half the rays it would at once.
            rank = np.cumsum(candidates, axis=1)[ns, ks] - 1
            flying = np.ones(n, dtype=bool)
            for r in range(int(rank.max()) + 1):
                todo = np.nonzero((rank == r) & flying[ns])[0]
                if not len(todo):
                    break
                self._cast(starts, ends, ks, ns, todo, uid, link, frac)
                flying[ns[todo[uid[todo] >= 0]]] = False
        a, b = starts[ks, ns], ends[ks, ns]
        # PyBullet's hit position is exactly start + fraction * (end - start).
        hit_at = a + (b - a) * frac[:, None]
        hits = np.nonzero(uid >= 0)[0]
        hit_flights = ns[hits]  # sorted: flight-major
        first = np.ones(len(hits), dtype=bool)
        first[1:] = hit_flights[1:] != hit_flights[:-1]
        picked, flights = hits[first], hit_flights[first]

        # Flights that hit nothing end where their reach (or their samples) ran out.
        end_k = np.maximum(live.sum(axis=0) - 1, 0)
        cols = np.arange(n)
        end_f = cut[end_k, cols]
        point = ends[end_k, cols]
        target = np.full(n, -1, dtype=np.int64)
        region = np.full(n, -1, dtype=np.int64)
        rest_point = np.full((n, 3), np.nan)
        target[flights] = uid[picked]
        point[flights] = hit_at[picked]
        region[flights], rest_point[flights] = self._hits_on_bodies(
            uid[picked], link[picked], hit_at[picked]
        )
        end_k[flights] = ks[picked]
        end_f[flights] = frac[picked] * cut[ks[picked], flights]
        time = times_s[end_k] + end_f * (times_s[end_k + 1] - times_s[end_k])
        speed = speeds[end_k, cols] + (speeds[end_k + 1, cols] - speeds[end_k, cols]) * end_f
        path = before[end_k, cols] + end_f * chord[end_k, cols]
        return PathEnds(target, region, point, time, speed, path, rest_point)

    def cast_moving(
        self,
        points: NDArray[np.float64],
        times_s: NDArray[np.float64],
        speeds: NDArray[np.float64],
        motion: Motion,
        max_speed_mps: float,
        reach_m: float = np.inf,
        tolerance_m: float = 0.005,
    ) -> PathEnds:
        """`cast_paths` against subjects that move during the flight: `motion(t, subjects)`
        poses those subjects at time t (seconds on the flight's clock, `times_s`; the others
        may stay as they are), and no point of a subject's surface moves faster than
        `max_speed_mps` (a running subject's hands: about 8 m/s).

        Each chord is cut into sub-chords short enough in time that a subject moves at most
        `tolerance_m` during one, and each sub-chord that can reach a subject is cast with the
        subjects posed at its middle time. A sub-chord outside every subject's box grown by
        the whole flight's motion cannot touch a subject: those are cast together, once. The
        world is left posed at `times_s[0]`."""
        self._require()
        k_chords, n = points.shape[0] - 1, points.shape[1]
        dt = np.diff(times_s)
        subs = np.maximum(1, np.ceil(max_speed_mps * dt / tolerance_m)).astype(int)
        pts, ts, sp = [points[:1]], [times_s[:1]], [speeds[:1]]
        for k in range(k_chords):
            f = np.arange(1, subs[k] + 1) / subs[k]
            pts.append(points[k][None] + (points[k + 1] - points[k])[None] * f[:, None, None])
            ts.append(times_s[k] + dt[k] * f)
            sp.append(speeds[k][None] + (speeds[k + 1] - speeds[k])[None] * f[:, None])
        fine, t_fine, s_fine = np.concatenate(pts), np.concatenate(ts), np.concatenate(sp)
        starts, stops = fine[:-1], fine[1:]
        m_chords = len(starts)
        chord = np.sqrt(((stops - starts) ** 2).sum(axis=2))
        before = np.zeros((m_chords + 1, n))
        np.cumsum(chord, axis=0, out=before[1:])
        live = before[:-1] < reach_m
        cut = np.minimum(np.maximum((reach_m - before[:-1]) / np.maximum(chord, 1e-12), 0.0), 1.0)
        stops = starts + (stops - starts) * cut[..., None]
        # Where each subject can be during each original chord: its boxes at the chord's two
        # ends, grown by the distance a point can move in half the chord's time.
        chord_of = np.repeat(np.arange(k_chords), subs)  # sub-chord -> chord
        names = [self._uid_subject[u] for u in self._uid_subject]
        uids = list(self._uid_subject)
        everyone = frozenset(names)
        whole_lo, whole_hi = points.min(axis=1), points.max(axis=1)  # (K+1, 3) over flights
        chord_lo = np.minimum(whole_lo[:-1], whole_lo[1:])
        chord_hi = np.maximum(whole_hi[:-1], whole_hi[1:])
        # First a loose test: each subject's box now, grown by all the flight's motion; only
        # the chords it passes need the subject's boxes at their two ends (posing costs).
        motion(float(times_s[0]), everyone)
        grow_all = max_speed_mps * float(times_s[-1] - times_s[0]) + tolerance_m
        boxes = np.empty((len(names), k_chords, 2, 3))
        boxes[:, :, 0], boxes[:, :, 1] = np.inf, -np.inf  # touches nothing
        wanted: dict[int, set[int]] = {}  # chord end -> subjects to pose there
        for i, u in enumerate(uids):
            now = self._subject_box(u)
            reach_lo, reach_hi = now[0] - grow_all, now[1] + grow_all
            loose = (chord_lo <= reach_hi).all(-1) & (chord_hi >= reach_lo).all(-1)
            for c in np.nonzero(loose)[0].tolist():
                wanted.setdefault(c, set()).add(i)
                wanted.setdefault(c + 1, set()).add(i)
        corners: dict[tuple[int, int], NDArray[np.float64]] = {}
        for c in sorted(wanted):
            motion(float(times_s[c]), frozenset(names[i] for i in wanted[c]))
            for i in wanted[c]:
                corners[i, c] = self._subject_box(uids[i])
        for (i, c), box in corners.items():
            if c < k_chords and (i, c + 1) in corners:
                grow = max_speed_mps * float(dt[c]) / 2 + tolerance_m
                other = corners[i, c + 1]
                boxes[i, c, 0] = np.minimum(box[0], other[0]) - grow
                boxes[i, c, 1] = np.maximum(box[1], other[1]) + grow
        lo, hi = np.minimum(starts, stops), np.maximum(starts, stops)

        def overlaps(box: NDArray[np.float64], ms: Any, ns: Any) -> Any:
            """Whether sub-chords (ms, ns) overlap a (2, 3) box."""
            return (lo[ms, ns] <= box[1]).all(-1) & (hi[ms, ns] >= box[0]).all(-1)

        near_of = np.zeros((len(names), m_chords, n), dtype=bool)
        for i in range(len(names)):
            box = boxes[i, chord_of]  # (M, 2, 3)
            near_of[i] = (lo <= box[:, None, 1, :]).all(-1) & (hi >= box[:, None, 0, :]).all(-1)
        near = np.asarray(near_of.any(axis=0))
        motion(float(t_fine[0]), everyone)
        # Where each subject stands as posed now: a sub-chord cast must not meet a subject
        # left at another time's pose.
        current = [self._subject_box(u) for u in uids]
        for box in current:
            near |= overlaps(box, slice(None), slice(None))
        first = np.full(n, m_chords)
        uid = np.full(n, -1, dtype=np.int64)
        region = np.full(n, -1, dtype=np.int64)
        rest_point = np.full((n, 3), np.nan)
        frac = np.ones(n)

        def cast(ms: NDArray[np.int64], ns: NDArray[np.int64]) -> None:
            u = np.full(len(ms), -1, dtype=np.int64)
            link = np.full(len(ms), -1, dtype=np.int64)
            fr = np.ones(len(ms))
            self._cast(starts, stops, ms, ns, np.arange(len(ms)), u, link, fr)
            hit = u >= 0
            at = starts[ms, ns] + (stops[ms, ns] - starts[ms, ns]) * fr[:, None]
            codes, rests = self._hits_on_bodies(u[hit], link[hit], at[hit])
            for row, code, rest in zip(np.nonzero(hit)[0], codes, rests, strict=True):
                f_n, f_m = ns[row], ms[row]
                if f_m < first[f_n] or (f_m == first[f_n] and fr[row] < frac[f_n]):
                    first[f_n], uid[f_n], region[f_n], frac[f_n] = f_m, u[row], code, fr[row]
                    rest_point[f_n] = rest

        # Sub-chords that meet no subject's box over their chord nor any subject as posed now:
        # cast together, once.
        far_m, far_n = np.nonzero(live & ~near)
        if len(far_m):
            cast(far_m, far_n)
        for m in range(m_chords):
            rows = np.nonzero(live[m] & near[m] & (m < first))[0]
            if not len(rows):
                continue
            # Pose the subjects these sub-chords can reach now, and any other whose present
            # pose (from another time) stands in their way.
            need = [
                i
                for i in range(len(names))
                if near_of[i, m, rows].any() or overlaps(current[i], m, rows).any()
            ]
            motion(float((t_fine[m] + t_fine[m + 1]) / 2), frozenset(names[i] for i in need))
            for i in need:
                current[i] = self._subject_box(uids[i])
            cast(np.full(len(rows), m), rows)
        motion(float(t_fine[0]), everyone)

        cols = np.arange(n)
        hit = first < m_chords
        end_m = np.where(hit, first, np.maximum(live.sum(axis=0) - 1, 0))
        end_f = np.where(hit, frac * cut[np.minimum(end_m, m_chords - 1), cols], cut[end_m, cols])
        a = starts[end_m, cols]
        b = fine[1:][end_m, cols]
        point = a + (b - a) * end_f[:, None]
        time = t_fine[end_m] + end_f * (t_fine[end_m + 1] - t_fine[end_m])
        speed = s_fine[end_m, cols] + (s_fine[end_m + 1, cols] - s_fine[end_m, cols]) * end_f
        path = before[end_m, cols] + end_f * chord[end_m, cols]
        return PathEnds(
            uid,
            np.where(hit, region, -1),
            point,
            time,
            speed,
            path,
            np.where(hit[:, None], rest_point, np.nan),
        )

    def _subject_box(self, uid: int) -> NDArray[np.float64]:
        """(2, 3) box round every link of a subject as posed now."""
        c = self._require()
        links = range(-1, p.getNumJoints(uid, physicsClientId=c))
        boxes = np.array([p.getAABB(uid, link, physicsClientId=c) for link in links])
        return np.array([boxes[:, 0].min(axis=0), boxes[:, 1].max(axis=0)])

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
    ) -> None:
        """Cast chords `which` of the candidate list; fill in what each one hit."""
        c = self._require()
        a, b = starts[ks[which], ns[which]], ends[ks[which], ns[which]]
        for lo in range(0, len(which), _RAY_CHUNK):
            rows = which[lo : lo + _RAY_CHUNK]
            # numpy arrays straight in: half the cost of lists (stack-notes: chunks of 16383).
            results = p.rayTestBatch(
                a[lo : lo + _RAY_CHUNK], b[lo : lo + _RAY_CHUNK], physicsClientId=c
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
