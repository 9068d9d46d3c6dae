"""The PyBullet world of one drill: floor, backstop and posable subjects, for ray casts.

DIRECT mode, no gravity stepping: projectiles are integrated in numpy (physics.flight) and the
world answers the question "what does this chord of the path touch first?" (stack-notes.md:
chords through `rayTestBatch` are 60-90x faster than CCD bodies and do not tunnel).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from physics.body import Region, Stance, SubjectBody
from physics.bullet import p
from physics.human import (
    HumanPose,
    Posed,
    forward_kinematics,
    matrices_to_quats,
    region_codes,
)
from physics.pose import Vec3, quat_to_matrix, yaw_quat
from physics.targets import PaperTarget
from physics.units import IN_M

# rayTestBatch silently drops the last of exactly 16384 rays (stack-notes.md): cast in chunks.
_RAY_CHUNK = 16383
_ONE_ROUND = 256  # fewer candidate chords than this are cast in one call
BACKER_M = 0.005  # the thinnest shape on the range: a target's backer board
HULL_MARGIN_M = 0.001  # PyBullet's margin round a GEOM_MESH convex hull (measured)


REGIONS = list(Region)


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
        self._segments: dict[str, list[int]] = {}
        self._segment_of: dict[int, tuple[str, int]] = {}
        self._placement: dict[str, tuple[Vec3, float, HumanPose]] = {}
        self._frames: dict[str, Posed] = {}
        self._canonical: NDArray[np.int64] | None = None
        self._bodies: dict[str, SubjectBody] = {}
        self._targets: dict[str, tuple[PaperTarget, Vec3]] = {}

    def _require(self) -> int:
        if self.client is None:
            raise RuntimeError("the range world is closed")
        return self.client

    def add_subject(
        self, subject_id: str, body: SubjectBody, position: Vec3, yaw_rad: float
    ) -> None:
        """An articulated subject in its body's stance, feet at `position`, facing `yaw_rad`.

        One static body per segment (17), each a convex hull moved to its joint's frame by
        `pose_subject`: measured faster than one multibody with spherical joints (bench/run.py,
        docs/physics.md)."""
        c = self._require()
        skeleton = body.skeleton()
        uids = []
        for seg in skeleton.segments:
            # Bullet wraps a convex hull in a 1 mm collision margin: move each vertex 1 mm in
            # along its normal so that the hull plus margin is the drawn surface.
            used = np.unique(seg.faces)
            inset = seg.vertices - seg.vertex_normals * HULL_MARGIN_M
            local = inset[used] - skeleton.rest[seg.joint]
            shape = p.createCollisionShape(p.GEOM_MESH, vertices=local.tolist(), physicsClientId=c)
            uid = int(p.createMultiBody(0, shape, physicsClientId=c))
            self._names[uid] = subject_id
            uids.append(uid)
        self._subjects[subject_id] = uids[0]
        self._segments[subject_id] = uids
        for k, uid in enumerate(uids):
            self._segment_of[uid] = (subject_id, k)
        self._bodies[subject_id] = body
        self._canonical = None
        self.pose_subject(subject_id, body.pose(), position, yaw_rad)

    def pose_subject(
        self,
        subject_id: str,
        pose: HumanPose,
        position: Vec3 | None = None,
        yaw_rad: float | None = None,
    ) -> None:
        """Move every segment of a subject to `pose` (joint rotations), with its feet at
        `position` facing `yaw_rad` (both kept when None). Only transforms change."""
        c = self._require()
        body = self._bodies[subject_id]
        old = self._placement.get(subject_id)
        if position is None or yaw_rad is None:
            assert old is not None, "a new subject needs a position and a yaw"
            position = position if position is not None else old[0]
            yaw_rad = yaw_rad if yaw_rad is not None else old[1]
        posed = forward_kinematics(body.skeleton(), pose)
        yaw = quat_to_matrix(yaw_quat(yaw_rad))
        world_pos = np.asarray(position, dtype=float) + posed.position @ yaw.T
        world_rot = yaw @ posed.rotation
        quats = matrices_to_quats(world_rot)
        for uid, pos, q in zip(self._segments[subject_id], world_pos, quats, strict=True):
            p.resetBasePositionAndOrientation(uid, pos, q, physicsClientId=c)
        x, y, z = (float(v) for v in position)
        self._placement[subject_id] = ((x, y, z), float(yaw_rad), pose)
        self._frames[subject_id] = Posed(world_pos, world_rot)
        first = self._segments[subject_id][0]
        self._aabbs.pop(first, None)
        self._boxes = None

    def subject_frames(self, subject_id: str) -> Posed:
        """The subject's joint frames in the world: positions (J, 3) and rotations (J, 3, 3)."""
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

    def target_score(self, target_id: str, point: Vec3) -> tuple[str, int]:
        """Zone and points of a hit at a world point on target `target_id`."""
        target, (_, y, z) = self._targets[target_id]
        # Facing the shooter (-X): the shooter's right is world -Y.
        return target.score((y - point[1]) / IN_M, (point[2] - z) / IN_M)

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

    def _canonical_ids(self) -> NDArray[np.int64]:
        """Body id to the id `targets` names it by: a subject's segments all map to its
        first segment's id, which `targets.index(subject_id)` finds."""
        if self._canonical is None:
            table = np.arange(max(self._names) + 1, dtype=np.int64)
            for uids in self._segments.values():
                table[uids] = uids[0]
            self._canonical = table
        return self._canonical

    def _regions_of_hits(
        self, uid: NDArray[np.int64], point: NDArray[np.float64]
    ) -> NDArray[np.int64]:
        """Zone-map region (index into REGIONS) of hits at world `point` on bodies `uid`; -1
        where the body is not a subject."""
        out = np.full(len(uid), -1, dtype=np.int64)
        for subject_id, uids in self._segments.items():
            lookup = {u: k for k, u in enumerate(uids)}
            rows = np.nonzero(np.isin(uid, uids))[0]
            if not len(rows):
                continue
            seg = np.array([lookup[int(u)] for u in uid[rows]], dtype=np.int64)
            frames = self._frames[subject_id]
            skeleton = self._bodies[subject_id].skeleton()
            # Back through each segment's joint transform into the rest frame.
            local = np.einsum(
                "nji,nj->ni", frames.rotation[seg], point[rows] - frames.position[seg]
            )
            rest = skeleton.rest[seg] + local
            out[rows] = region_codes(skeleton, seg, rest)
        return out

    def _body_boxes(self) -> NDArray[np.float64]:
        """(B, 2, 3) axis-aligned boxes of every body but the floor, refreshed after a move."""
        if self._boxes is not None:
            return self._boxes
        c = self._require()
        for uid in self._names:
            if uid == self._floor or uid in self._aabbs:
                continue
            subject = self._segment_of.get(uid)
            if subject is not None:
                if subject[1]:
                    continue  # a subject is one box, kept under its first segment
                boxes = np.array(
                    [p.getAABB(u, -1, physicsClientId=c) for u in self._segments[subject[0]]]
                )
            else:
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
        target[flights] = self._canonical_ids()[uid[picked]]
        point[flights] = hit_at[picked]
        region[flights] = self._regions_of_hits(uid[picked], hit_at[picked])
        end_k[flights] = ks[picked]
        end_f[flights] = frac[picked] * cut[ks[picked], flights]
        time = times_s[end_k] + end_f * (times_s[end_k + 1] - times_s[end_k])
        speed = speeds[end_k, cols] + (speeds[end_k + 1, cols] - speeds[end_k, cols]) * end_f
        path = before[end_k, cols] + end_f * chord[end_k, cols]
        return PathEnds(target, region, point, time, speed, path)

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
