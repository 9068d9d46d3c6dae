"""The armorer's bench: measured aim points, a bench emulator, and a live bench session that
pairs serial trigger pulls with the tracker's pose.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import Field, field_validator, model_validator

from peripherals.clock import Clock
from peripherals.errors import PeripheralError, PeripheralIOError
from peripherals.events import PeripheralEvent
from peripherals.messages import EventKind
from physics.datafiles import FieldsError, StrictModel, load_model, parse_model, read_text
from physics.pose import Pose, quat_to_matrix
from range.calibration.solver import MIN_SAMPLES, AimSample, CalibrationError, MuzzleTouch
from range.runs.lane import SYNC_EVERY_S
from range.runs.poses import TrackedPoses, weapon_pose_at


class BenchPoint(StrictModel):
    name: str = Field(min_length=1, pattern=r"\S")
    position_m: tuple[float, float, float]

    @field_validator("position_m", mode="before")
    @classmethod
    def _three_numbers(cls, v: Any) -> Any:
        """A position of another size is said as such, not as a missing `[2]`."""
        if isinstance(v, list | tuple) and len(v) != 3:
            raise ValueError(f"3 numbers are needed (x, y, z in metres), not {len(v)}")
        return v


class BenchTargets(StrictModel):
    """The armorer's bench: points at measured positions in the tracking space's physics frame
    (docs/tracking.md). The built-in one is `range/data/bench-targets.toml`."""

    version: Literal[1]
    description: str = ""
    points: list[BenchPoint] = Field(min_length=MIN_SAMPLES)
    # The point the armorer touches the muzzle's centre to, so that where the muzzle sits
    # along the bore is measured (aiming cannot tell); without it the muzzle is not measured.
    muzzle_touch: BenchPoint | None = None

    @model_validator(mode="after")
    def _named_once_and_down_the_bench(self) -> BenchTargets:
        """Each point is named once (the prompts say the name: four "aim at a" cannot be told
        apart), each aim point lies down the bench (X > 0): one behind the armorer cannot
        be aimed at, and the aim points span two distances at least MIN_RANGE_SPREAD_M apart.
        Every such problem is said at once (`bench_problems`)."""
        problems = bench_problems(
            [(i, p.name, p.position_m) for i, p in enumerate(self.points)],
            None if self.muzzle_touch is None else self.muzzle_touch.name,
        )
        if problems:
            raise FieldsError(problems)
        return self


Loc = tuple[str | int, ...]


def bench_problems(
    points: list[tuple[int, str | None, tuple[float, float, float] | None]],
    muzzle_name: str | None,
) -> list[tuple[Loc, str]]:
    """The bench file's problems between points: a name given twice, an aim point not down the
    bench, aim points all at one distance. `points`: (index, name, position) of each point,
    a name or a position None where the file's own is malformed (said by the schema)."""
    from range.calibration.solver import MIN_RANGE_SPREAD_M

    problems: list[tuple[Loc, str]] = []
    first: dict[str, str] = {}
    named: list[tuple[Loc, str | None]] = [(("points", i, "name"), n) for i, n, _ in points]
    if muzzle_name is not None:
        named.append((("muzzle_touch", "name"), muzzle_name))
    for loc, name in named:
        if name is None:
            continue
        where = f"points[{loc[1]}]" if loc[0] == "points" else "muzzle_touch"
        if name in first:
            problems.append(
                (
                    loc,
                    f"{name!r} is also the name of {first[name]}: each point needs its own name"
                    " (the prompts say it)",
                )
            )
        else:
            first[name] = where
    for i, _, position in points:
        if position is None:
            continue
        if not position[0] > 0.0:
            problems.append(
                (
                    ("points", i, "position_m"),
                    f"x = {position[0]:g} m is not down the bench: an aim point lies in front of"
                    " the armorer, X > 0 (X down the bench, Y left, Z up)",
                )
            )
    # rc20 #9: said here by line, not by the solver after the whole session was aimed.
    down = [(p[0], i) for i, _, p in points if p is not None and p[0] > 0.0]
    if len(down) == len(points) and len(down) >= 2:
        (near, _), (far, i_far) = min(down), max(down)
        if far - near < MIN_RANGE_SPREAD_M:
            problems.append(
                (
                    ("points", i_far, "position_m"),
                    f"the aim points all lie within {far - near:.2g} m of one another down the"
                    f" bench (x from {near:g} to {far:g} m): place them at two distances at"
                    f" least {MIN_RANGE_SPREAD_M:g} m apart (say 3 m and 7 m), so the bore's"
                    " direction is fixed",
                )
            )
    return problems


def _raw_problems(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """`bench_problems` of a file's table as parsed, before the schema: the points' names and
    positions that are well formed, so that a malformed one elsewhere does not hide them."""

    def name(v: Any) -> str | None:
        return v if isinstance(v, str) and v.strip() else None

    def position(v: Any) -> tuple[float, float, float] | None:
        if not isinstance(v, list) or len(v) != 3:
            return None
        if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in v):
            return None
        if not all(math.isfinite(c) for c in v):
            return None
        return (float(v[0]), float(v[1]), float(v[2]))

    raw = data.get("points")
    points = []
    for i, p in enumerate(raw if isinstance(raw, list) else []):
        if isinstance(p, dict):
            points.append((i, name(p.get("name")), position(p.get("position_m"))))
        else:
            points.append((i, None, None))
    touch = data.get("muzzle_touch")
    return bench_problems(points, name(touch.get("name")) if isinstance(touch, dict) else None)


MUZZLE_TOUCHES = 3  # touches of the reference point, averaged


def bench_targets(path: Path | None = None) -> BenchTargets:
    """The bench file `path` (else the built-in one). Every problem is said at once: those
    between points (`bench_problems`) with those of each field, which stop the schema before
    it compares points (rc20 #9)."""
    if path is not None:
        import tomllib

        from physics.datafiles import DataFileError, Problem, field_name, key_lines, locate

        text = read_text(path)
        try:
            return parse_model(text, BenchTargets, path)
        except DataFileError as exc:
            try:
                data = tomllib.loads(text.removeprefix("\ufeff"))
            except (tomllib.TOMLDecodeError, RecursionError):  # said by parse_model
                raise exc from None
            lines = key_lines(text)
            seen = {(p.line, p.field, p.message) for p in exc.problems}
            for loc, said in _raw_problems(data):
                extra = Problem(locate(lines, list(loc)) or 1, field_name(list(loc)), said)
                if (extra.line, extra.field, extra.message) not in seen:
                    exc.problems.append(extra)
            raise DataFileError(path, exc.problems) from None
    # range/data/, found beside the package and never through the import path.
    return load_model(
        Path(__file__).resolve().parents[1] / "data" / "bench-targets.toml", BenchTargets
    )


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

    def touch(self, point: BenchPoint, touches: int = MUZZLE_TOUCHES) -> list[MuzzleTouch]:
        """The armorer holds the muzzle's centre on `point` (to within a couple of millimetres),
        the replica at a different angle each time; the tracker reports its own pose."""
        from physics.pose import look_rotation, matrix_to_quat

        out = []
        for _ in range(touches):
            held = np.asarray(point.position_m) + self.rng.normal(0.0, 0.002, 3)
            bore = quat_to_matrix(look_rotation((1.0, *self.rng.normal(0.0, 0.3, 2))))
            tracker_rot = bore @ self._mount.T
            position = held - tracker_rot @ self.origin_m
            position = position + self.rng.normal(0.0, self.position_noise_m, 3)
            out.append(
                MuzzleTouch(
                    Pose(
                        (float(position[0]), float(position[1]), float(position[2])),
                        matrix_to_quat(tracker_rot),
                    ),
                    point.position_m,
                )
            )
        return out

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

    def start_session(self, nonce: int | None = None) -> object: ...

    @property
    def failure(self) -> PeripheralError | None: ...


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
    # The replica as the armorer knows it ("pistol P-0042 on /dev/ttyACM0"), for what is said.
    replica: str = "the replica"
    _attached: bool = False
    _step: str = "the start"  # the prompt being answered, for what is said if the cable goes
    _taken: int = 0  # trigger pulls taken so far in this command
    _pulls: list[float] = field(default_factory=list)
    _stream: list[Pose] = field(default_factory=list)
    _synced_s: float = -math.inf

    def _attach(self) -> None:
        """Open the calibration's session on the replica, once, as a drill's run does at its
        start (SESSION_SET): only then does the replica count what it sends as this run's (an
        emulator's `--trigger-at` counts from it, docs/protocol.md)."""
        if not self._attached:
            self.link.start_session()
            self._attached = True

    def _unplugged(self, exc: PeripheralError) -> PeripheralIOError:
        """The replica went away mid-calibration (its cable, or its power): said with the
        prompt it went at, that nothing was saved, and what to do. A calibration is not
        resumed as a drill is: a replica that comes back may have been power-cycled or
        swapped, and its mount knocked, so the bench starts over from its first prompt."""
        return PeripheralIOError(
            f"{self.replica} was unplugged (or lost power) at {self._step}, after"
            f" {self._taken} trigger pull{'s' * (self._taken != 1)}; nothing was saved (the"
            " profile is as it was): plug it back in and run the same command again, which"
            " starts over from its first prompt"
        )

    def _frame(self) -> None:
        now = self.clock.now_s()
        try:
            if now - self._synced_s > SYNC_EVERY_S:
                self.link.send_ping()
                self._synced_s = now
            events = self.link.poll()
        except PeripheralIOError as exc:
            raise self._unplugged(exc) from exc
        self._stream.append(self.poses.update()["aim"])
        self._pulls += [e.host_time_s for e in events if e.kind is EventKind.TRIGGER_PRESSED]
        if self.link.failure is not None and not self._pulls:
            raise self._unplugged(self.link.failure) from self.link.failure
        time.sleep(self.frame_s)

    def _next_pull(self) -> float:
        deadline = self.clock.now_s() + self.timeout_s
        while not self._pulls:
            if self.clock.now_s() > deadline:
                raise CalibrationError(
                    f"no trigger pull within {self.timeout_s:g} s from {self.replica}, which"
                    " answers on its port: squeeze the trigger at each prompt (safety off), or"
                    " give a longer --timeout; nothing was saved"
                )
            self._frame()
        self._taken += 1
        return self._pulls.pop(0)

    def session(self, targets: BenchTargets | None = None) -> list[AimSample]:
        """Prompt for each point in turn; the next trigger pull is the sample for it."""
        self._attach()
        points = (targets or bench_targets()).points
        self._pulls.clear()
        samples = []
        for k, point in enumerate(points, 1):
            x, y, z = point.position_m
            self._step = f"point {k}/{len(points)} ({point.name})"
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

    def touch(self, point: BenchPoint, touches: int = MUZZLE_TOUCHES) -> list[MuzzleTouch]:
        """Prompt the armorer to hold the muzzle's centre on the reference point and pull the
        (unloaded) trigger, `touches` times; the tracker's pose at each pull is a touch."""
        self._attach()
        self._pulls.clear()
        out = []
        x, y, z = point.position_m
        for k in range(1, touches + 1):
            self._step = f"muzzle touch {k}/{touches}"
            self.say(
                f"muzzle {k}/{touches}: hold the centre of the muzzle on {point.name}"
                f" ({x:.2f}, {y:.2f}, {z:.2f}) m and squeeze the trigger"
            )
            tracker = weapon_pose_at(self.poses, self._next_pull() + self.latency_s)
            out.append(MuzzleTouch(tracker, point.position_m))
            self._stream.clear()
            if not tracker.usable:
                self.say("   tracking was lost at the pull; it will not count")
        return out

    def snaps(self, pulls: int) -> tuple[list[float], list[Pose]]:
        """The latency drill: `pulls` trigger pulls, each with a snap of the muzzle upward."""
        self._attach()
        self._pulls.clear()
        self._stream.clear()
        triggers = []
        for k in range(1, pulls + 1):
            self._step = f"latency pull {k}/{pulls}"
            self.say(f"{k}/{pulls}: hold still, then pull the trigger and snap the muzzle up")
            triggers.append(self._next_pull())
        end = triggers[-1] + SETTLE_S
        while not self._stream or self._stream[-1].time_s < end:
            self._frame()
        return triggers, list(self._stream)
