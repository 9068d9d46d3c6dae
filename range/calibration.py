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
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from peripherals.clock import Clock
from peripherals.events import PeripheralEvent
from peripherals.messages import EventKind
from physics.datafiles import StrictModel, load_model
from physics.pose import Pose, quat_to_matrix
from physics.units import FT_M, YD_M, m_to_in
from range.runs.lane import SYNC_EVERY_S
from range.runs.poses import TrackedPoses, weapon_pose_at

DEFAULT_TOLERANCE_MRAD = 2.0  # about half an inch at 7 yd
MIN_SAMPLES = 4
MIN_RANGE_SPREAD_M = 1.0  # aim points must differ this much in range to fix the direction
OUTLIER_FACTOR = 4.0  # x the median residual, and over tolerance: a jerked trigger


def default_profiles_dir() -> Path:
    """Where profiles live: the user's data directory, one TOML file per serial."""
    import os

    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "openrange" / "calibration"


class CalibrationError(ValueError):
    """A calibration refused, and why."""


class BenchPoint(StrictModel):
    name: str
    position_m: tuple[float, float, float]


class BenchTargets(StrictModel):
    """The armorer's bench: points at measured positions in the tracking space's physics frame
    (docs/tracking.md). The built-in one is `range/data/bench-targets.toml`."""

    version: Literal[1]
    description: str = ""
    points: list[BenchPoint] = Field(min_length=MIN_SAMPLES)


def bench_targets(path: Path | None = None) -> BenchTargets:
    if path is not None:
        return load_model(path, BenchTargets)
    return load_model(Path(__file__).resolve().parent / "data" / "bench-targets.toml", BenchTargets)


@dataclass(frozen=True, slots=True)
class AimSample:
    """One trigger pull at the armorer's bench: the tracker's pose and the point aimed at."""

    tracker: Pose
    target_m: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Boresight:
    origin_m: tuple[float, float, float]  # the bore's muzzle, in the tracker's frame
    direction: tuple[float, float, float]  # unit, in the tracker's frame
    residual_mrad: float  # RMS angle between the bore and the aimed points
    used: int
    rejected: tuple[int, ...]

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
        position = np.asarray(tracker.position_m) + rot @ np.asarray(self.origin_m)
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


def estimate_latency(
    trigger_times_s: Sequence[float], poses: Sequence[Pose], window_s: float = 0.25
) -> tuple[float, float]:
    """Trigger-to-pose latency: the armorer snaps the replica up as he pulls the trigger (as
    recoil would); the top of the snap in the pose stream shows where the same moment landed in
    it. Returns (median latency, spread) in seconds."""
    if len(trigger_times_s) < 3:
        raise CalibrationError("at least 3 trigger pulls with a snap are needed")
    times = np.array([p.time_s for p in poses])
    forwards = np.array([p.forward() for p in poses])
    lags = []
    for t in trigger_times_s:
        near = np.nonzero((times >= t - window_s) & (times <= t + window_s))[0]
        if len(near) < 3:
            raise CalibrationError(f"no pose stream around the trigger pull at {t:.3f} s")
        rest = forwards[near[0]]
        excursion = np.arccos(np.clip(forwards[near] @ rest, -1.0, 1.0))
        lags.append(float(times[near][np.argmax(excursion)] - t))
    return float(np.median(lags)), float(np.ptp(lags))


_SERIAL = re.compile(r"[^A-Za-z0-9_.-]")


class CalibrationProfile(StrictModel):
    """One device's calibration, stored per serial number (docs/tracking.md)."""

    version: Literal[1]
    serial: str
    model: str
    armorer: str
    calibrated: date
    expires: date
    bore_origin_m: tuple[float, float, float]
    bore_direction: tuple[float, float, float]
    residual_mrad: float = Field(ge=0.0)
    tolerance_mrad: float = Field(gt=0.0)
    samples: int = Field(ge=MIN_SAMPLES)
    trigger_latency_s: float = 0.0

    @property
    def boresight(self) -> Boresight:
        return Boresight(
            self.bore_origin_m, self.bore_direction, self.residual_mrad, self.samples, ()
        )

    def valid_on(self, day: date) -> bool:
        return self.calibrated <= day <= self.expires


def profile_path(folder: Path, serial: str) -> Path:
    return folder / f"{_SERIAL.sub('_', serial)}.toml"


def save_profile(folder: Path, profile: CalibrationProfile) -> Path:
    """Write a profile as TOML (atomically: a half-written profile never exists)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = profile_path(folder, profile.serial)

    def value(v: object) -> str:
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, float):
            return repr(v)
        return str(v)

    lines = [
        "# OpenRange calibration profile (docs/tracking.md). Written by"
        " `openrange calibrate`; edit only to correct the armorer's name."
    ]
    lines += [f"{key} = {value(getattr(profile, key))}" for key in CalibrationProfile.model_fields]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_profile(folder: Path, serial: str) -> CalibrationProfile | None:
    path = profile_path(folder, serial)
    return load_model(path, CalibrationProfile) if path.exists() else None


def new_profile(
    serial: str,
    model: str,
    armorer: str,
    bore: Boresight,
    tolerance_mrad: float,
    today: date,
    valid_days: int = 180,
    latency_s: float = 0.0,
) -> CalibrationProfile:
    return CalibrationProfile(
        version=1,
        serial=serial,
        model=model,
        armorer=armorer,
        calibrated=today,
        expires=today + timedelta(days=valid_days),
        bore_origin_m=bore.origin_m,
        bore_direction=bore.direction,
        residual_mrad=round(bore.residual_mrad, 4),
        tolerance_mrad=tolerance_mrad,
        samples=bore.used,
        trigger_latency_s=latency_s,
    )


@dataclass(frozen=True, slots=True)
class DeviceCheck:
    serial: str
    allowed: bool
    reason: str
    profile: CalibrationProfile | None = None


def check_devices(
    folder: Path, serials: Sequence[str], today: date, *, override_by: str | None = None
) -> list[DeviceCheck]:
    """May these devices be used in a drill today? An uncalibrated or expired device is refused
    unless the range master overrides; the override is said, so the run records it."""
    out = []
    for serial in serials:
        profile = load_profile(folder, serial)
        if profile is not None and profile.valid_on(today):
            out.append(DeviceCheck(serial, True, f"calibrated until {profile.expires}", profile))
            continue
        why = "never calibrated" if profile is None else f"calibration expired {profile.expires}"
        if override_by:
            used = f"{why}; used on the override of {override_by}"
            out.append(DeviceCheck(serial, True, used, profile))
        else:
            out.append(
                DeviceCheck(
                    serial,
                    False,
                    f"{why}: calibrate it"
                    " (`openrange calibrate boresight`) or have a range master"
                    " override",
                )
            )
    return out


# What a run's record keeps of each device's profile.
RECORDED_PROFILE_FIELDS = {
    "armorer",
    "calibrated",
    "expires",
    "residual_mrad",
    "tolerance_mrad",
    "trigger_latency_s",
}


def calibration_for_run(
    serials: Sequence[str],
    *,
    required: bool,
    folder: Path | None = None,
    today: date | None = None,
    override_by: str | None = None,
) -> list[dict[str, Any]]:
    """What a drill or course attempt records about its devices' calibration: for each serial,
    whether it was allowed, why, and the profile it was used with (armorer, dates, residual,
    trigger latency). Raises CalibrationError naming every refused device."""
    if not required:
        return [
            {"serial": s, "allowed": True, "reason": "calibration not required (emulated replica)"}
            for s in serials
        ]
    checks = check_devices(
        folder or default_profiles_dir(), serials, today or date.today(), override_by=override_by
    )
    refused = [c for c in checks if not c.allowed]
    if refused:
        raise CalibrationError("; ".join(f"{c.serial}: {c.reason}" for c in refused))
    out: list[dict[str, Any]] = []
    for c in checks:
        entry: dict[str, Any] = {"serial": c.serial, "allowed": c.allowed, "reason": c.reason}
        if c.profile is not None:
            entry["profile"] = c.profile.model_dump(mode="json", include=RECORDED_PROFILE_FIELDS)
        out.append(entry)
    return out


def angle_mrad(
    a: Sequence[float] | NDArray[np.float64], b: Sequence[float] | NDArray[np.float64]
) -> float:
    va, vb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    c = float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
    return math.acos(max(-1.0, min(1.0, c))) * 1e3


class BenchEmulator:
    """A tracked replica at the armorer's bench, for tests and for trying the workflow with no
    hardware: the tracker sits on the replica with a hidden mount offset and misalignment, and
    the tracking is noisy. The armorer aims the true bore at each point; the tracker reports
    its own pose. The solver must recover the hidden mount from those poses alone."""

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        origin_m: tuple[float, float, float] = (0.11, -0.012, -0.045),
        misalignment_deg: tuple[float, float] = (1.8, -2.6),
        position_noise_m: float = 0.0005,
        angle_noise_mrad: float = 0.2,
        aim_noise_mrad: float = 0.3,
    ) -> None:
        from physics.pose import look_rotation

        self.rng = rng
        self.origin_m = np.asarray(origin_m)
        yaw, pitch = (math.radians(a) for a in misalignment_deg)
        self.direction = np.array(
            [math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)]
        )
        # The bore's frame relative to the tracker's: +X along the bore.
        self._mount = quat_to_matrix(look_rotation(self.direction))
        self.position_noise_m = position_noise_m
        self.angle_noise = angle_noise_mrad * 1e-3
        self.aim_noise = aim_noise_mrad * 1e-3

    def aim(
        self, target: tuple[float, float, float], time_s: float = 0.0, jerk_mrad: float = 0.0
    ) -> AimSample:
        from physics.pose import look_rotation, matrix_to_quat

        muzzle = np.array([0.0, 0.0, 1.4]) + self.rng.normal(0.0, 0.03, 3)
        error = self.aim_noise + jerk_mrad * 1e-3
        bore = quat_to_matrix(look_rotation(np.asarray(target) - muzzle))
        tilt = (
            np.tan(self.rng.normal(0.0, error, 2))
            if jerk_mrad == 0
            else np.array([jerk_mrad * 1e-3, 0.0])
        )
        bore = quat_to_matrix(look_rotation(bore @ np.array([1.0, tilt[0], tilt[1]])))
        tracker_rot = bore @ self._mount.T
        tracker_pos = muzzle - tracker_rot @ self.origin_m
        # Tracking noise on what the tracker reports.
        noise = self.rng.normal(0.0, self.angle_noise, 3)
        wobble = quat_to_matrix(look_rotation((1.0, noise[0], noise[1])))
        reported = tracker_rot @ wobble
        position = tracker_pos + self.rng.normal(0.0, self.position_noise_m, 3)
        return AimSample(
            Pose(
                (float(position[0]), float(position[1]), float(position[2])),
                matrix_to_quat(reported),
                time_s,
            ),
            target,
        )

    def session(
        self, targets: BenchTargets | None = None, jerks: dict[int, float] | None = None
    ) -> list[AimSample]:
        jerks = jerks or {}
        points = (targets or bench_targets()).points
        return [self.aim(p.position_m, float(i), jerks.get(i, 0.0)) for i, p in enumerate(points)]

    def snaps(
        self, pulls: int, latency_s: float = 0.028, rate_hz: float = 500.0
    ) -> tuple[list[float], list[Pose]]:
        """The latency drill: a trigger pull with a snap upward, `pulls` times; the pose stream
        runs `latency_s` behind the trigger's clock."""
        from physics.pose import look_rotation

        triggers = [0.5 + 1.0 * k for k in range(pulls)]
        poses = []
        for n in range(int((triggers[-1] + 1.0) * rate_hz)):
            t = n / rate_hz
            lift = sum(0.15 * math.exp(-((((t - latency_s) - tp) / 0.02) ** 2)) for tp in triggers)
            direction = (1.0, 0.0, math.tan(lift + self.rng.normal(0.0, self.angle_noise)))
            poses.append(Pose((0.0, 0.0, 1.4), look_rotation(direction), t))
        return triggers, poses


class TriggerLink(Protocol):
    """The replica's serial link (`peripherals.driver.ReplicaLink`)."""

    def poll(self) -> list[PeripheralEvent]: ...

    def send_ping(self) -> int: ...


Say = Callable[[str], None]
SETTLE_S = 0.3  # after the last snap, how long the pose stream is still read


@dataclass(slots=True)
class LiveBench:
    """A tracked replica at the armorer's bench: each trigger pull comes from its serial link,
    stamped in host time; the tracker's pose at that time comes from the pose source's history,
    both on one host clock. `latency_s` (from a profile) is how far the pose stream lags."""

    link: TriggerLink
    poses: TrackedPoses
    clock: Clock
    say: Say
    latency_s: float = 0.0
    timeout_s: float = 60.0
    frame_s: float = 0.002
    _pulls: list[float] = field(default_factory=list)
    _stream: list[Pose] = field(default_factory=list)
    _synced_s: float = -math.inf

    def _frame(self) -> None:
        now = self.clock.now_s()
        if now - self._synced_s > SYNC_EVERY_S:
            self.link.send_ping()
            self._synced_s = now
        self._stream.append(self.poses.update()["aim"])
        self._pulls += [
            e.host_time_s for e in self.link.poll() if e.kind is EventKind.TRIGGER_PRESSED
        ]
        time.sleep(self.frame_s)

    def _next_pull(self) -> float:
        deadline = self.clock.now_s() + self.timeout_s
        while not self._pulls:
            if self.clock.now_s() > deadline:
                raise CalibrationError(
                    f"no trigger pull within {self.timeout_s:g} s: is the replica on this port?"
                )
            self._frame()
        return self._pulls.pop(0)

    def session(self, targets: BenchTargets | None = None) -> list[AimSample]:
        """Prompt for each point in turn; the next trigger pull is the sample for it."""
        points = (targets or bench_targets()).points
        self._pulls.clear()
        samples = []
        for k, point in enumerate(points, 1):
            x, y, z = point.position_m
            self.say(
                f"{k}/{len(points)}: aim at {point.name} ({x:.2f}, {y:.2f}, {z:.2f}) m"
                " and squeeze the trigger"
            )
            tracker = weapon_pose_at(self.poses, self._next_pull() + self.latency_s)
            samples.append(AimSample(tracker, point.position_m))
            self._stream.clear()
            if not tracker.usable:
                self.say(f"   {point.name}: tracking was lost at the pull; it will not count")
        return samples

    def snaps(self, pulls: int) -> tuple[list[float], list[Pose]]:
        """The latency drill: `pulls` trigger pulls, each with a snap of the muzzle upward."""
        self._pulls.clear()
        self._stream.clear()
        triggers = []
        for k in range(1, pulls + 1):
            self.say(f"{k}/{pulls}: hold still, then pull the trigger and snap the muzzle up")
            triggers.append(self._next_pull())
        end = triggers[-1] + SETTLE_S
        while not self._stream or self._stream[-1].time_s < end:
            self._frame()
        return triggers, list(self._stream)
