"""The range master's analyses: Monte Carlo probe spread, and bullet trajectories.

Both run on the same flight code as a drill (trajectory tables, chords cast in PyBullet), so what
the analysis says of a cartridge is what a drill will do with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from physics.ballistics import STANDARD_METRO, Atmosphere, Load, trajectory_table
from physics.body import Region, SubjectBody, TaserZone
from physics.pose import look_rotations, quat_to_matrix, yaw_quat
from physics.taser import (
    EFFECTIVE_SPREAD_IN,
    MAX_CONNECT_GAP_IN,
    MAX_SUBJECT_SPEED_MPS,
    RATED_MUZZLE_HEIGHT_M,
    Cartridge,
    flight_table,
    fly_volley,
)
from physics.units import FPS_MPS, FT_M, IN_M, YD_M
from physics.world import REGIONS, Motion, RangeWorld

# An officer's arms-out aim at chest height: the height a cartridge's range is rated from.
MUZZLE_HEIGHT_M = RATED_MUZZLE_HEIGHT_M


@dataclass(frozen=True, slots=True)
class SpreadRow:
    distance_ft: float
    trials: int
    p_both_hit: float  # both probes of a deployment on the subject
    median_spread_in: float | None  # of the deployments with both probes on the subject
    p_effective: float  # both connect (clothing gap <= 2 in) and spread >= 12 in
    p_avoid_zone: float  # at least one probe in a zone to avoid
    p_preferred: float = 0.0  # both probes on the subject, both in preferred zones


# Where each facing puts the subject's back or front to the officer (yaw of the subject).
FACING_YAW = {"toward": math.pi, "away": 0.0}
# The second aim point of a one-probe-per-pull cartridge (TASER 10) when none is given: the
# doctrine's lower torso and legs from the front, the back and buttocks from behind (facts.md
# §1, §5): the first pull's region stays the first aim point.
SECOND_AIM = {"toward": Region.LEG, "away": Region.LEG}
FIRST_AIM_AWAY = Region.LOWER_BACK


def _mover(
    world: RangeWorld, feet: NDArray[np.float64], yaw: float, speed_mps: float, heading_deg: float
) -> Motion:
    """A subject walking or running in a straight line from `feet` during a flight."""
    heading = math.radians(heading_deg)
    velocity = speed_mps * np.array([math.cos(heading), math.sin(heading), 0.0])

    def motion(t: float, subjects: frozenset[str]) -> None:
        x, y, z = (float(c) for c in feet + velocity * t)
        world.place_subject("subject", (x, y, z), yaw)

    return motion


def spread_study(
    cartridge: Cartridge,
    distances_ft: Sequence[float],
    trials: int,
    rng: np.random.Generator,
    *,
    aim_region: Region = Region.ABDOMEN,
    second_aim_region: Region | None = None,
    facing: Literal["toward", "away"] = "toward",
    moving: tuple[float, float] | None = None,
    aim_error_mrad: float = 0.0,
    body: SubjectBody | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 20_000,
    clip_subjects: bool = True,
) -> list[SpreadRow]:
    """Deploy `trials` times at a subject at each distance, aiming at `aim_region` with a
    normal aim error (1 sigma per axis, each pull its own).

    A one-probe-per-pull cartridge (TASER 10) fires two pulls per deployment, the second at
    `second_aim_region` (default SECOND_AIM), each aimed on its probe's own path (its laser
    marks that point within 1.2 in from 7 to 45 ft, tests/test_weapons.py). `facing` "away"
    turns the subject's back to the officer (an abdomen aim becomes the lower back).
    `moving` = (speed m/s, direction degrees: 0 away from the officer, 90 to the officer's left,
    180 toward) moves the subject at that velocity during each probe's flight. A deployment is
    judged as `physics.taser.Circuit` judges the same two probes: both connect (gap <= 2 in)
    and lie >= 12 in apart on the body. Trials fly `chunk` at a time: memory is bounded by
    the chunk (and 4 bytes a trial for the median spread). A still subject is clipped in
    numpy against its drawn hulls (`clip_subjects`, RangeWorld.cast_paths); False casts
    PyBullet rays at it instead (the bench's baseline)."""
    body = body or SubjectBody()
    zones = body.zones  # facts.md §1, §5; a pregnant abdomen is avoided
    zone_of = np.array([zones[r] is TaserZone.AVOID for r in REGIONS])
    preferred_of = np.array([zones[r] is TaserZone.PREFERRED for r in REGIONS])
    gap_of = np.array([body.clothing_gap_in[r] for r in REGIONS])
    one_probe = cartridge.probes_per_pull == 1
    pulls = 2 if one_probe else 1
    yaw = FACING_YAW[facing]
    first = aim_region
    if facing == "away" and aim_region is Region.ABDOMEN:
        first = FIRST_AIM_AWAY
    regions = [first] + ([second_aim_region or SECOND_AIM[facing]] if one_probe else [])
    rows = []
    for i, distance_ft in enumerate(distances_ft):
        distance_m = distance_ft * FT_M
        both = effective = in_avoid = preferred = 0
        spreads: list[NDArray[np.float32]] = []
        with RangeWorld(lane_length_m=max(distance_m + 3.0, 10.0)) as world:
            feet = np.array([distance_m, 0.0, 0.0])
            world.add_subject("subject", body, (distance_m, 0.0, 0.0), yaw)
            subject_uid = world.targets.index("subject")
            turn = quat_to_matrix(yaw_quat(yaw))
            muzzle = np.array([0.0, 0.0, MUZZLE_HEIGHT_M])
            bases = []
            for region in regions:
                aim = feet + turn @ np.array(body.aim_point(region))
                if one_probe:  # on the probe's own path: raised by its drop there
                    aim = aim + np.array([0.0, 0.0, -flight_table(cartridge).level(aim[0])[0]])
                bases.append(look_rotations((aim - muzzle)[None, :])[0])
            motion = None
            if moving is not None:
                motion = _mover(world, feet, yaw, *moving)
            # In chunks: memory stays bounded (a few tens of MB) however many trials.
            for lo in range(0, trials, chunk):
                n = min(chunk, trials - lo)
                per_pull = []
                for base in bases:
                    error = np.tan(rng.normal(0.0, aim_error_mrad * 1e-3, size=(n, 2)))
                    forward = base[:, 0] + error[:, :1] * base[:, 1] + error[:, 1:] * base[:, 2]
                    per_pull.append(look_rotations(forward))
                # Pull-interleaved: deployment j's pulls are rows 2j and 2j + 1.
                rotations = np.stack(per_pull, axis=1).reshape(n * pulls, 3, 3)
                ends = fly_volley(
                    world,
                    cartridge,
                    np.tile(muzzle, (n * pulls, 1)),
                    rotations,
                    rng,
                    motion,
                    # Every point of a subject sliding at `moving`'s speed moves at that speed.
                    max_speed_mps=MAX_SUBJECT_SPEED_MPS if moving is None else moving[0] + 0.1,
                    # A still subject: clipped against its drawn hulls in numpy, a chunk at once.
                    clip_subjects=clip_subjects,
                ).ends
                # Two probes per deployment: rows [a, b] of each.
                if pulls == 2:
                    a = np.arange(0, 2 * n, 2)
                    b = a + 1
                else:
                    a = np.arange(n)
                    b = a + n
                on = (ends.target[a] == subject_uid) & (ends.target[b] == subject_uid)
                ra, rb = ends.region[a], ends.region[b]
                connected = (
                    on & (gap_of[ra] <= MAX_CONNECT_GAP_IN) & (gap_of[rb] <= MAX_CONNECT_GAP_IN)
                )
                # On the body, as the circuit measures it (the subject may move in flight).
                rest = ends.rest_point if ends.rest_point is not None else ends.point
                apart = np.linalg.norm(rest[a] - rest[b], axis=1)
                spread_in = np.where(on, apart, 0.0) / IN_M
                avoid = ((ends.target[a] == subject_uid) & zone_of[ra]) | (
                    (ends.target[b] == subject_uid) & zone_of[rb]
                )
                both += int(on.sum())
                effective += int((connected & (spread_in >= EFFECTIVE_SPREAD_IN)).sum())
                in_avoid += int(avoid.sum())
                preferred += int((on & preferred_of[ra] & preferred_of[rb]).sum())
                spreads.append(spread_in[on].astype(np.float32))
        hits = np.concatenate(spreads) if spreads else np.zeros(0, dtype=np.float32)
        rows.append(
            SpreadRow(
                distance_ft=float(distance_ft),
                trials=trials,
                p_both_hit=both / trials,
                median_spread_in=float(np.median(hits)) if len(hits) else None,
                p_effective=effective / trials,
                p_avoid_zone=in_avoid / trials,
                p_preferred=preferred / trials,
            )
        )
        if progress is not None:
            progress(i + 1, len(distances_ft))
    return rows


@dataclass(frozen=True, slots=True)
class TrajectoryRow:
    distance_yd: float
    path_in: float  # relative to the line of sight; negative is below it
    velocity_fps: float
    time_s: float


def zero_elevation(
    load: Load, zero_m: float, sight_height_in: float, atmosphere: Atmosphere = STANDARD_METRO
) -> float:
    """The bore's elevation that puts the round on a level line of sight at `zero_m`."""
    table = trajectory_table(load, atmosphere)
    want = sight_height_in * IN_M
    lo, hi = -0.02, 0.02  # radians: +-1.1 degrees brackets any pistol zero
    for _ in range(60):  # bisection: the rise at the zero grows with the elevation
        mid = (lo + hi) / 2
        if table.along(mid, zero_m)[0] < want:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def trajectory(
    load: Load,
    zero_m: float,
    to_m: float,
    *,
    sight_height_in: float = 0.8,
    step_yd: float = 1.0,
    atmosphere: Atmosphere = STANDARD_METRO,
) -> list[TrajectoryRow]:
    """Path, velocity and time of flight per `step_yd`, sighted in at `zero_m`."""
    table = trajectory_table(load, atmosphere)
    elevation = zero_elevation(load, zero_m, sight_height_in, atmosphere)
    rows = [TrajectoryRow(0.0, -sight_height_in, load.muzzle_velocity_fps, 0.0)]
    yards = step_yd
    while yards <= to_m / YD_M + 1e-9:
        up, speed, time = table.along(elevation, yards * YD_M)
        rows.append(TrajectoryRow(yards, up / IN_M - sight_height_in, speed / FPS_MPS, time))
        yards += step_yd
    return rows
