"""The PyBullet world of one drill: floor, backstop and posable subjects, for ray casts.

DIRECT mode, no gravity stepping: projectiles are integrated in numpy (physics.flight) and the
world answers the question "what does this chord of the path touch first?" (stack-notes.md:
chords through `rayTestBatch` are 60-90x faster than CCD bodies and do not tunnel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from physics.body import Part, Region, SubjectBody
from physics.bullet import p
from physics.pose import Vec3, yaw_quat

# rayTestBatch silently drops the last of exactly 16384 rays (stack-notes.md): cast in chunks.
_RAY_CHUNK = 16383


@dataclass(frozen=True, slots=True)
class RayHit:
    """What a chord touched: a subject's region, the floor, the backstop, or nothing."""

    ray: int
    target: str  # subject id, "floor", "backstop", "left_wall", "right_wall"
    region: Region | None
    fraction: float
    point: Vec3
    normal: Vec3


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
        self._regions: dict[int, list[Region]] = {}
        self._subjects: dict[str, int] = {}
        self._bodies: dict[str, SubjectBody] = {}
        self._base_offsets: dict[str, NDArray[np.float64]] = {}

    def _require(self) -> int:
        if self.client is None:
            raise RuntimeError("the range world is closed")
        return self.client

    def add_subject(
        self, subject_id: str, body: SubjectBody, position: Vec3, yaw_rad: float
    ) -> None:
        c = self._require()
        parts = body.parts()
        base, links = parts[0], parts[1:]

        def shape(part: Part) -> int:
            return int(
                p.createCollisionShape(
                    p.GEOM_BOX, halfExtents=list(part.half_extents), physicsClientId=c
                )
            )

        base_centre = np.asarray(base.centre)
        uid = p.createMultiBody(
            baseMass=0,
            baseCollisionShapeIndex=shape(base),
            baseInertialFramePosition=[0, 0, 0],
            linkMasses=[0] * len(links),
            linkCollisionShapeIndices=[shape(part) for part in links],
            linkVisualShapeIndices=[-1] * len(links),
            linkPositions=[list(np.asarray(part.centre) - base_centre) for part in links],
            linkOrientations=[[0, 0, 0, 1]] * len(links),
            linkInertialFramePositions=[[0, 0, 0]] * len(links),
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * len(links),
            linkParentIndices=[0] * len(links),
            linkJointTypes=[p.JOINT_FIXED] * len(links),
            linkJointAxis=[[0, 0, 1]] * len(links),
            physicsClientId=c,
        )
        self._names[uid] = subject_id
        # rayTest reports link -1 for the base, 0.. for the links.
        self._regions[uid] = [part.region for part in links] + [base.region]
        self._subjects[subject_id] = uid
        self._bodies[subject_id] = body
        self._base_offsets[subject_id] = base_centre
        self.place_subject(subject_id, position, yaw_rad)

    def body(self, subject_id: str) -> SubjectBody:
        return self._bodies[subject_id]

    def place_subject(self, subject_id: str, position: Vec3, yaw_rad: float) -> None:
        """Move a subject: `position` is the point on the floor between its feet."""
        c = self._require()
        uid = self._subjects[subject_id]
        cos, sin = math.cos(yaw_rad), math.sin(yaw_rad)
        ox, oy, oz = self._base_offsets[subject_id]
        base = (
            position[0] + cos * ox - sin * oy,
            position[1] + sin * ox + cos * oy,
            position[2] + oz,
        )
        p.resetBasePositionAndOrientation(uid, base, yaw_quat(yaw_rad), physicsClientId=c)

    def cast(self, starts: NDArray[np.float64], ends: NDArray[np.float64]) -> list[RayHit | None]:
        """Cast the chords starts[i] -> ends[i]; one answer per chord, None where nothing is hit."""
        c = self._require()
        out: list[RayHit | None] = []
        for lo in range(0, len(starts), _RAY_CHUNK):
            results = p.rayTestBatch(
                starts[lo : lo + _RAY_CHUNK].tolist(),
                ends[lo : lo + _RAY_CHUNK].tolist(),
                physicsClientId=c,
            )
            for i, (uid, link, fraction, point, normal) in enumerate(results):
                if uid < 0:
                    out.append(None)
                    continue
                regions = self._regions.get(uid)
                out.append(
                    RayHit(
                        ray=lo + i,
                        target=self._names[uid],
                        region=regions[link] if regions is not None else None,
                        fraction=float(fraction),
                        point=(float(point[0]), float(point[1]), float(point[2])),
                        normal=(float(normal[0]), float(normal[1]), float(normal[2])),
                    )
                )
        return out

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
