"""Pose sources behind one interface, and the history that answers "where was it at t?".

A trigger event is stamped at host time t; the weapon pose at t, not at the frame that read the
event, is where the shot came from. `PoseHistory` keeps recent poses per tracked device and
interpolates (lerp for position, slerp for orientation).
"""

from __future__ import annotations

import bisect
import json
import math
import time
from collections import deque
from pathlib import Path
from typing import Protocol

import numpy as np

from physics.body import Region, SubjectBody
from physics.pose import DEVICE_TIME_TOLERANCE_S, Pose, Quat, look_rotation, quat_to_matrix


class PoseSource(Protocol):
    def pose(self, device: str, t: float) -> Pose:
        """The pose of `device` ("head", "taser", "firearm") at host time t."""
        ...


class TrackedPoses(PoseSource, Protocol):
    """A live pose source (`range.xr.OpenXRPoses`): read it each frame, ask it for time t."""

    def update(self) -> dict[str, Pose]: ...


# How long a live trigger pull or ARC press waits, in host time after its own stamp, for the
# pose stream to reach its time before it is judged from the poses located so far (untracked
# where they do not cover it). A headset's stream moves on only as the run's own thread renders
# frames (~2 display periods ahead of the host clock), so a drill never waits for it in the
# frame that read the pull: a later frame takes it (range/runs/core.py `LiveHands.covers`).
POSE_WAIT_S = 0.25


def weapon_pose_at(poses: TrackedPoses, t: float, limit_s: float = POSE_WAIT_S) -> Pose:
    """The weapon's pose at host time t from a live source, reading it until its stream has
    reached t (a trigger's time plus the pose stream's latency may lie just ahead of it), for
    at most `limit_s` of real time: a stream that does not move on as it is read (a headset's,
    which moves on only as frames are rendered) answers from the poses located so far, not
    tracked where they do not cover t, rather than hang the caller."""
    deadline = time.monotonic() + limit_s
    while _newest_aim_s(poses) < t and time.monotonic() < deadline:
        time.sleep(0.001)
    return poses.pose("weapon", t)


def _newest_aim_s(poses: TrackedPoses) -> float:
    aim = poses.update().get("aim")
    return -math.inf if aim is None else aim.time_s


def slerp(a: Quat, b: Quat, f: float) -> Quat:
    """Spherical interpolation, in plain floats: numpy's per-call cost on 4-vectors would be
    most of a pose lookup, which the frame loop makes for every trigger event."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    dot = ax * bx + ay * by + az * bz + aw * bw
    if dot < 0.0:
        bx, by, bz, bw, dot = -bx, -by, -bz, -bw, -dot
    if dot > 0.9995:
        wa, wb = 1.0 - f, f
    else:
        theta = math.acos(dot)
        s = math.sin(theta)
        wa, wb = math.sin((1.0 - f) * theta) / s, math.sin(f * theta) / s
    x, y, z, w = wa * ax + wb * bx, wa * ay + wb * by, wa * az + wb * bz, wa * aw + wb * bw
    n = math.sqrt(x * x + y * y + z * z + w * w)
    return (x / n, y / n, z / n, w / n)


class PoseHistory:
    """A ring buffer of one device's poses, in time order."""

    def __init__(self, capacity: int = 512) -> None:
        self._times: deque[float] = deque(maxlen=capacity)
        self._poses: deque[Pose] = deque(maxlen=capacity)

    def add(self, pose: Pose) -> None:
        if self._times and pose.time_s < self._times[-1]:
            raise ValueError("poses must arrive in time order")
        self._times.append(pose.time_s)
        self._poses.append(pose)

    def at(self, t: float) -> Pose:
        """Interpolated pose at host time t (seconds). Any t inside the buffer is answered by
        interpolation; a t within `DEVICE_TIME_TOLERANCE_S` outside either end (a trigger
        stamped in whole device microseconds in the newest frame) gets the nearest sample as it
        is; further out the stream did not cover t, so the nearest sample is marked not tracked.
        An empty history answers an invalid, untracked pose."""
        if not self._poses:
            return Pose((0.0, 0.0, 0.0), time_s=t, valid=False, tracked=False)
        i = bisect.bisect_right(self._times, t)
        if i == 0 or i == len(self._times):
            nearest = self._poses[0 if i == 0 else -1]
            # 1 ns of slack: host seconds near 1e5 carry ~1e-11 s of rounding, and a time
            # computed as "newest + tolerance" must not fall out by that.
            covered = abs(t - nearest.time_s) <= DEVICE_TIME_TOLERANCE_S + 1e-9
            return Pose(
                nearest.position_m,
                nearest.orientation,
                t,
                nearest.valid,
                nearest.tracked and covered,
            )
        a, b = self._poses[i - 1], self._poses[i]
        span = b.time_s - a.time_s
        f = 0.0 if span == 0 else (t - a.time_s) / span
        (ax, ay, az), (bx, by, bz) = a.position_m, b.position_m
        return Pose(
            (ax + f * (bx - ax), ay + f * (by - ay), az + f * (bz - az)),
            slerp(a.orientation, b.orientation, f),
            t,
            a.valid and b.valid,
            a.tracked and b.tracked,
        )


# Where a scripted officer holds a weapon relative to the head: arms out, at chest height.
HEAD_HEIGHT_M = 1.70
MUZZLE_FROM_HEAD_M = (0.55, -0.05, -0.30)


class ScriptedPoses:
    """The simulated officer's head and weapon: the weapon aims at a subject's region, with the
    script's aim error, and follows the subject as it moves."""

    def __init__(
        self,
        officer_xy: tuple[float, float] = (0.0, 0.0),
        tracking_lost: tuple[float, float] | None = None,
    ) -> None:
        self.officer_xy = officer_xy
        # A window of run time in which the weapon's tracker is occluded (a fault drill).
        self.tracking_lost = tracking_lost
        self.history: dict[str, PoseHistory] = {"head": PoseHistory(), "weapon": PoseHistory()}
        self._aim: tuple[Region, tuple[float, float]] | None = None

    def aim(self, region: Region, error_rad: tuple[float, float]) -> None:
        self._aim = (region, error_rad)

    def update(
        self, t: float, subject_xy: tuple[float, float], subject_yaw: float, body: SubjectBody
    ) -> None:
        head = (self.officer_xy[0], self.officer_xy[1], HEAD_HEIGHT_M)
        muzzle = np.add(head, MUZZLE_FROM_HEAD_M)
        if self._aim is None:
            direction = np.array([1.0, 0.0, -0.6])  # low ready
        else:
            region, (yaw_err, pitch_err) = self._aim
            lx, ly, lz = body.aim_point(region)
            c, s = math.cos(subject_yaw), math.sin(subject_yaw)
            target = np.array(
                [subject_xy[0] + c * lx - s * ly, subject_xy[1] + s * lx + c * ly, lz]
            )
            direction = target - muzzle
            rot = quat_to_matrix(look_rotation(direction))
            direction = rot @ np.array([1.0, math.tan(yaw_err), math.tan(pitch_err)])
        head_pose = Pose(head, look_rotation((1.0, 0.0, 0.0)), t)
        self.history["head"].add(head_pose)
        lost = self.tracking_lost is not None and (
            self.tracking_lost[0] <= t <= self.tracking_lost[1]
        )
        self.history["weapon"].add(
            Pose(
                (float(muzzle[0]), float(muzzle[1]), float(muzzle[2])),
                look_rotation(direction),
                t,
                tracked=not lost,
            )
        )

    def pose(self, device: str, t: float) -> Pose:
        return self.history["head" if device == "head" else "weapon"].at(t)


class PoseRecorder:
    """Appends every pose a source produces to a JSONL file, flushed as it goes."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")

    def record(self, device: str, pose: Pose) -> None:
        self._file.write(
            json.dumps(
                {
                    "device": device,
                    "t": pose.time_s,
                    "position_m": list(pose.position_m),
                    "orientation": list(pose.orientation),
                    "valid": pose.valid,
                    "tracked": pose.tracked,
                }
            )
            + "\n"
        )
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class ReplayPoses:
    """A recorded pose stream played back: the same answers, at the same times, as when it was
    recorded (a disputed shot is re-flown from the pose it was fired from)."""

    def __init__(self, path: Path) -> None:
        self.history: dict[str, PoseHistory] = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                r = json.loads(line)
                pose = Pose(
                    tuple(r["position_m"]),
                    tuple(r["orientation"]),
                    float(r["t"]),
                    bool(r["valid"]),
                    bool(r["tracked"]),
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a pose record: {exc}") from None
            self.history.setdefault(r["device"], PoseHistory(capacity=1_000_000)).add(pose)

    def pose(self, device: str, t: float) -> Pose:
        if device not in self.history:
            return Pose((0.0, 0.0, 0.0), time_s=t, valid=False, tracked=False)
        return self.history[device].at(t)
