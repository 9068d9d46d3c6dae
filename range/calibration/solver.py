"""The armorer's calibration: boresight, trigger latency, and a profile per device serial.

Boresight: the armorer aims the replica at N >= 4 points at measured positions and pulls the
trigger at each. Moved into the tracker's own frame, every aimed point lies on the bore line,
whatever the mount, so a least-squares line fit through them gives the bore's origin and
direction relative to the tracker: the rigid transform from tracker to bore (its roll about the
bore is irrelevant to a shot). Samples far off the line (a jerked trigger) are rejected; a
calibration whose residual is over tolerance is refused, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from physics.pose import Pose, quat_to_matrix
from physics.units import FT_M, YD_M, m_to_in

DEFAULT_TOLERANCE_MRAD = 2.0  # about half an inch at 7 yd
MIN_SAMPLES = 4
MIN_RANGE_SPREAD_M = 1.0  # aim points must differ this much in range to fix the direction
OUTLIER_FACTOR = 4.0  # x the median residual, and over tolerance: a jerked trigger
# How far the bore line may pass from the tracker (docs/tracking.md): a tracker sits on the
# replica's frame, a few centimetres from the bore; 0.5 m is no mount at all (a sample error).
MAX_BORE_OFFSET_M = 0.5
# How far a touched muzzle may sit off the solved bore line: a muzzle held on the bench's
# reference point is on the line within a few millimetres; more is the muzzle's rim, not its
# centre, on the point, or a mount that moved between the aiming and the touch.
MAX_MUZZLE_OFF_LINE_M = 0.01


class CalibrationError(ValueError):
    """A calibration refused, and why."""


@dataclass(frozen=True, slots=True)
class AimSample:
    """One trigger pull at the armorer's bench: the tracker's pose and the point aimed at."""

    tracker: Pose
    target_m: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class MuzzleTouch:
    """The armorer holding the muzzle's centre on the bench's reference point: the tracker's
    pose then, and where that point is (measured, like the aim points)."""

    tracker: Pose
    reference_m: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Boresight:
    # A point of the bore line, in the tracker's frame: the line's point nearest the tracker.
    # Aiming fixes the line but not where along it the muzzle is (`locate_muzzle` measures it).
    origin_m: tuple[float, float, float]
    direction: tuple[float, float, float]  # unit, in the tracker's frame
    residual_mrad: float  # RMS angle between the bore and the aimed points
    used: int
    rejected: tuple[int, ...]
    # The muzzle, in the tracker's frame, measured by touching it to the bench's reference
    # point (on the bore line); None when it was not measured (profiles from before).
    muzzle_m: tuple[float, float, float] | None = None

    @property
    def front_m(self) -> tuple[float, float, float]:
        """Where a shot leaves and a drive-stun touches, in the tracker's frame: the measured
        muzzle, or without one the bore line's point nearest the tracker."""
        return self.muzzle_m if self.muzzle_m is not None else self.origin_m

    @property
    def residual_in_at_7yd(self) -> float:
        return m_to_in(self.residual_mrad * 1e-3 * 7 * YD_M)

    @property
    def residual_in_at_21ft(self) -> float:
        return m_to_in(self.residual_mrad * 1e-3 * 21 * FT_M)

    def muzzle(self, tracker: Pose) -> Pose:
        """The bore's pose in the world, from the tracker's: what a shot flies from."""
        from physics.pose import look_rotation

        rot = tracker.rotation()
        position = np.asarray(tracker.position_m) + rot @ np.asarray(self.front_m)
        direction = rot @ np.asarray(self.direction)
        up = rot @ np.array([0.0, 0.0, 1.0])
        return Pose(
            (float(position[0]), float(position[1]), float(position[2])),
            look_rotation(direction, (float(up[0]), float(up[1]), float(up[2]))),
            tracker.time_s,
            tracker.valid,
            tracker.tracked,
        )


def _in_tracker_frame(samples: Sequence[AimSample]) -> NDArray[np.float64]:
    points = []
    for s in samples:
        rot = quat_to_matrix(s.tracker.orientation)
        points.append(rot.T @ (np.asarray(s.target_m) - np.asarray(s.tracker.position_m)))
    return np.array(points)


def _fit_line(q: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    centroid = q.mean(axis=0)
    _, _, vt = np.linalg.svd(q - centroid)
    direction = vt[0]
    if direction @ (centroid) < 0:  # point it away from the tracker, toward the targets
        direction = -direction
    # The muzzle: the point of the line nearest the tracker (the bore starts at the replica).
    origin = centroid - direction * (centroid @ direction)
    return origin, direction


def _residuals_mrad(
    q: NDArray[np.float64], origin: NDArray[np.float64], direction: NDArray[np.float64]
) -> NDArray[np.float64]:
    rel = q - origin
    along = rel @ direction
    perp = np.linalg.norm(rel - np.outer(along, direction), axis=1)
    return np.asarray(np.arctan2(perp, np.maximum(along, 1e-9)) * 1e3)


def solve_boresight(
    samples: Sequence[AimSample], tolerance_mrad: float = DEFAULT_TOLERANCE_MRAD
) -> Boresight:
    """The bore line relative to the tracker, or CalibrationError saying why not."""
    usable = [i for i, s in enumerate(samples) if s.tracker.usable]
    lost = len(samples) - len(usable)
    if len(usable) < MIN_SAMPLES:
        raise CalibrationError(
            f"{len(usable)} tracked samples ({lost} with tracking lost); at least {MIN_SAMPLES}"
            " are needed: aim at each point again"
        )
    q = _in_tracker_frame([samples[i] for i in usable])
    origin, direction = _fit_line(q)
    along = (q - origin) @ direction
    if np.ptp(along) < MIN_RANGE_SPREAD_M:
        raise CalibrationError(
            f"the aimed points lie within {np.ptp(along):.2f} m of one another in range; place"
            f" them at two distances at least {MIN_RANGE_SPREAD_M:.0f} m apart so the bore's"
            " direction is fixed"
        )
    residual = _residuals_mrad(q, origin, direction)
    median = float(np.median(residual))
    bad = (residual > OUTLIER_FACTOR * max(median, 0.1)) & (residual > tolerance_mrad)
    keep = ~bad
    if keep.sum() < MIN_SAMPLES:
        raise CalibrationError(
            f"{int(bad.sum())} of {len(q)} samples are far off the bore line (jerked triggers?);"
            f" fewer than {MIN_SAMPLES} agree: aim again, squeezing the trigger"
        )
    if bad.any():
        origin, direction = _fit_line(q[keep])
        residual = _residuals_mrad(q[keep], origin, direction)
    rms = float(np.sqrt(np.mean(residual**2)))
    offset = float(np.linalg.norm(origin))
    if offset > MAX_BORE_OFFSET_M:
        raise CalibrationError(
            f"the bore line passes {offset:.2f} m from the tracker; a mounted tracker is within"
            f" {MAX_BORE_OFFSET_M:g} m of it: check the mount and the target positions, then aim"
            " again"
        )
    rejected = tuple(usable[i] for i in np.nonzero(bad)[0])
    if rms > tolerance_mrad:
        raise CalibrationError(
            f"residual {rms:.2f} mrad ({m_to_in(rms * 1e-3 * 7 * YD_M):.2f} in at 7 yd) is over"
            f" the {tolerance_mrad:g} mrad tolerance: check the mount and the target positions,"
            " then aim again"
        )
    return Boresight(
        tuple(float(v) for v in origin),  # type: ignore[arg-type]
        tuple(float(v) for v in direction),  # type: ignore[arg-type]
        rms,
        int(keep.sum()),
        rejected,
    )


def locate_muzzle(bore: Boresight, touches: Sequence[MuzzleTouch]) -> Boresight:
    """`bore` with its muzzle measured: at each touch the reference point is at the muzzle, so
    moved into the tracker's frame it is where the muzzle sits on the replica. Their mean must
    lie on the bore line (within MAX_MUZZLE_OFF_LINE_M); the line's point nearest it is kept,
    so a shot still flies along the solved line. Touches taken while tracking was lost do not
    count. Raises CalibrationError saying why not."""
    usable = [t for t in touches if t.tracker.usable]
    if not usable:
        raise CalibrationError(
            f"tracking was lost at every muzzle touch ({len(touches)}): touch the muzzle to"
            " the reference point again"
        )
    q = np.mean(
        [
            quat_to_matrix(t.tracker.orientation).T
            @ (np.asarray(t.reference_m) - np.asarray(t.tracker.position_m))
            for t in usable
        ],
        axis=0,
    )
    origin, direction = np.asarray(bore.origin_m), np.asarray(bore.direction)
    on_line = origin + direction * float((q - origin) @ direction)
    off = float(np.linalg.norm(q - on_line))
    if off > MAX_MUZZLE_OFF_LINE_M:
        raise CalibrationError(
            f"the touched muzzle is {off * 100:.1f} cm off the bore line (at most"
            f" {MAX_MUZZLE_OFF_LINE_M * 100:g} cm): hold the centre of the muzzle on the"
            " reference point, check the mount, then calibrate again"
        )
    if float(np.linalg.norm(on_line)) > MAX_BORE_OFFSET_M:
        raise CalibrationError(
            f"the touched muzzle is {float(np.linalg.norm(on_line)):.2f} m from the tracker;"
            f" a mounted tracker is within {MAX_BORE_OFFSET_M:g} m of it: check the reference"
            " point's position"
        )
    return replace(bore, muzzle_m=(float(on_line[0]), float(on_line[1]), float(on_line[2])))


def verify_boresight(bore: Boresight, samples: Sequence[AimSample]) -> float:
    """How far fresh samples sit off a stored bore line: their RMS residual, in mrad. Samples
    taken while tracking was lost do not count."""
    usable = [s for s in samples if s.tracker.usable]
    if len(usable) < MIN_SAMPLES:
        raise CalibrationError(
            f"{len(usable)} tracked samples; at least {MIN_SAMPLES} are needed to verify"
        )
    residual = _residuals_mrad(
        _in_tracker_frame(usable), np.asarray(bore.origin_m), np.asarray(bore.direction)
    )
    return float(np.sqrt(np.mean(residual**2)))


# The least snap a latency pull must show in the pose stream (a snap is a flick of some
# 100 mrad; a replica held still moves a fraction of one).
MIN_SNAP_MRAD = 20.0


def estimate_latency(
    trigger_times_s: Sequence[float], poses: Sequence[Pose], window_s: float = 0.25
) -> tuple[float, float]:
    """Trigger-to-pose latency: the armorer snaps the replica up as he pulls the trigger (as
    recoil would); the top of the snap in the pose stream shows where the same moment landed in
    it. Returns (median latency, spread) in seconds. A pull with no snap in the stream (the
    muzzle moved less than MIN_SNAP_MRAD: a replica held still, a tracker that lost it) is
    refused: the top of no snap is noise, and its "latency" could be anything (rc20 #1)."""
    if len(trigger_times_s) < 3:
        raise CalibrationError("at least 3 trigger pulls with a snap are needed")
    times = np.array([p.time_s for p in poses])
    forwards = np.array([p.forward() for p in poses])
    lags: list[float] = []
    for t in trigger_times_s:
        near = np.nonzero((times >= t - window_s) & (times <= t + window_s))[0]
        if len(near) < 3:
            raise CalibrationError(f"no pose stream around the trigger pull at {t:.3f} s")
        rest = forwards[near[0]]
        excursion = np.arccos(np.clip(forwards[near] @ rest, -1.0, 1.0))
        if float(np.max(excursion)) * 1e3 < MIN_SNAP_MRAD:
            raise CalibrationError(
                f"pull {len(lags) + 1}/{len(trigger_times_s)}: no snap seen in the pose stream"
                f" (the muzzle moved {float(np.max(excursion)) * 1e3:.1f} mrad, under"
                f" {MIN_SNAP_MRAD:g}): snap the muzzle up as you pull the trigger, with the"
                " tracker in view; nothing was saved"
            )
        lags.append(float(times[near][np.argmax(excursion)] - t))
    return float(np.median(lags)), float(np.ptp(lags))


def angle_mrad(
    a: Sequence[float] | NDArray[np.float64], b: Sequence[float] | NDArray[np.float64]
) -> float:
    va, vb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    c = float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
    return math.acos(max(-1.0, min(1.0, c))) * 1e3
