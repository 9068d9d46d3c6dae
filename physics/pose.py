"""Poses in the physics frame, and the one conversion from OpenXR's frame.

Physics frame: right-handed, Z up, X downrange (from the officer's start toward the subject),
Y to the officer's left. Metres and seconds. Quaternions are (x, y, z, w), PyBullet's order.
A weapon's local frame has +X along the bore and +Z toward the top of the slide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]

IDENTITY: Quat = (0.0, 0.0, 0.0, 1.0)

# How far apart two host times may be and still name the same instant, when one of them came
# from a replica's clock. Replicas stamp events in whole microseconds (docs/protocol.md) and the
# link maps that onto the host clock, so a trigger pulled in the frame of the newest pose can
# land up to about a microsecond after it (or before the oldest). 20 us covers that with room,
# is under 0.2 % of a 90 Hz frame, and holding a pose that long moves a bore swung at a brisk
# 10 rad/s by 0.2 mrad. Past it, a pose stream has really stopped (docs/tracking.md).
DEVICE_TIME_TOLERANCE_S = 20e-6


@dataclass(frozen=True, slots=True)
class Pose:
    """Where a tracked thing was at `time_s` (host monotonic seconds) and whether to trust it.

    `valid` says the runtime produced a position and orientation at all; `tracked` says they come
    from live tracking rather than prediction. A shot from a pose that is not both is untracked.
    """

    position_m: Vec3
    orientation: Quat = IDENTITY
    time_s: float = 0.0
    valid: bool = True
    tracked: bool = True

    @property
    def usable(self) -> bool:
        return self.valid and self.tracked

    def rotation(self) -> NDArray[np.float64]:
        return quat_to_matrix(self.orientation)

    def forward(self) -> NDArray[np.float64]:
        """Unit vector of the local +X axis (the bore of a weapon, the gaze of a head)."""
        return np.asarray(self.rotation()[:, 0], dtype=np.float64)

    def up(self) -> NDArray[np.float64]:
        return np.asarray(self.rotation()[:, 2], dtype=np.float64)

    def transform_point(self, local: Vec3 | NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self.position_m, dtype=np.float64) + self.rotation() @ np.asarray(
            local, dtype=np.float64
        )


def quat_to_matrix(q: Quat) -> NDArray[np.float64]:
    x, y, z, w = q
    n = x * x + y * y + z * z + w * w
    if n == 0.0:
        raise ValueError("zero quaternion has no rotation")
    s = 2.0 / n
    return np.array(
        [
            [1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)],
            [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)],
            [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)],
        ]
    )


def matrix_to_quat(m: NDArray[np.float64]) -> Quat:
    """Rotation matrix to a unit quaternion with w >= 0 (Shepperd's method)."""
    trace = float(m[0, 0] + m[1, 1] + m[2, 2])
    if trace > 0:
        s = math.sqrt(trace + 1.0) * 2
        w, x = 0.25 * s, (m[2, 1] - m[1, 2]) / s
        y, z = (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        w, x = (m[2, 1] - m[1, 2]) / s, 0.25 * s
        y, z = (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        w, x = (m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s
        y, z = 0.25 * s, (m[1, 2] + m[2, 1]) / s
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        w, x = (m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s
        y, z = (m[1, 2] + m[2, 1]) / s, 0.25 * s
    q = (float(x), float(y), float(z), float(w))
    return q if q[3] >= 0 else (-q[0], -q[1], -q[2], -q[3])


def yaw_quat(yaw_rad: float) -> Quat:
    """Rotation about +Z: 0 faces downrange (+X), pi faces back toward the officer."""
    return (0.0, 0.0, math.sin(yaw_rad / 2), math.cos(yaw_rad / 2))


def _cross(
    a: tuple[float, float, float], b: tuple[float, float, float]
) -> tuple[float, float, float]:
    # Plain floats: numpy's cross costs ~50 us on 3-vectors, and this runs every frame.
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _unit(v: tuple[float, float, float]) -> tuple[float, float, float]:
    n = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return (v[0] / n, v[1] / n, v[2] / n)


def look_rotation(direction: Vec3 | NDArray[np.float64], up: Vec3 = (0.0, 0.0, 1.0)) -> Quat:
    """Orientation whose +X points along `direction` and whose +Z leans toward `up`."""
    d = (float(direction[0]), float(direction[1]), float(direction[2]))
    if d == (0.0, 0.0, 0.0):
        raise ValueError("cannot look along a zero vector")
    f = _unit(d)
    left = _cross((float(up[0]), float(up[1]), float(up[2])), f)
    if math.hypot(*left) < 1e-9:  # looking straight up or down: any left will do
        left = _cross((1.0, 0.0, 0.0), f)
    left = _unit(left)
    top = _cross(f, left)
    return matrix_to_quat(np.array([f, left, top]).T)


def look_rotations(directions: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, 3, 3) rotations whose +X columns point along each direction, +Z leaning up: the
    vectorised `look_rotation` for a Monte Carlo batch of muzzles (never straight up)."""
    f = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    left = np.column_stack((-f[:, 1], f[:, 0], np.zeros(len(f))))  # up x f, with up = +Z
    left /= np.linalg.norm(left, axis=1, keepdims=True)
    top = np.column_stack(
        (
            f[:, 1] * left[:, 2] - f[:, 2] * left[:, 1],
            f[:, 2] * left[:, 0] - f[:, 0] * left[:, 2],
            f[:, 0] * left[:, 1] - f[:, 1] * left[:, 0],
        )
    )
    return np.stack((f, left, top), axis=2)


# OpenXR: right-handed, Y up, -Z forward, X right. Physics: Z up, X forward, Y left.
# Each physics axis is an OpenXR axis: x_p = -z_xr, y_p = -x_xr, z_p = y_xr.
_XR_TO_PHYSICS = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def pose_from_openxr(
    position_xr: Vec3, orientation_xr: Quat, time_s: float, *, valid: bool, tracked: bool
) -> Pose:
    """Convert an OpenXR pose (stage space) into the physics frame.

    An OpenXR controller's aim pose points along its local -Z; the result points that along +X,
    the physics convention for a bore, so `forward()` is the aim ray in both worlds.
    """
    c = _XR_TO_PHYSICS
    position = c @ np.asarray(position_xr, dtype=float)
    # The OpenXR orientation maps local XR axes to XR world axes. Re-express both sides in the
    # physics convention: world via `c`, local via the same change of basis.
    rotation = c @ quat_to_matrix(orientation_xr) @ c.T
    return Pose(
        position_m=(float(position[0]), float(position[1]), float(position[2])),
        orientation=matrix_to_quat(rotation),
        time_s=time_s,
        valid=valid,
        tracked=tracked,
    )


def pose_to_openxr(pose: Pose) -> tuple[Vec3, Quat]:
    """The inverse of `pose_from_openxr`: a physics-frame pose as OpenXR stage position and
    orientation (what a runtime's driver is fed to put a controller there)."""
    c = _XR_TO_PHYSICS
    position = c.T @ np.asarray(pose.position_m, dtype=float)
    rotation = c.T @ quat_to_matrix(pose.orientation) @ c
    return (float(position[0]), float(position[1]), float(position[2])), matrix_to_quat(rotation)
