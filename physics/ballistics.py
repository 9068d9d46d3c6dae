"""Bullet flight: point mass with G1 drag in a standard atmosphere, followed to the backstop."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from physics.body import Region
from physics.datafiles import NotFoundError, StrictModel, load_model
from physics.flight import DragLaw, SampledFlights, TrajectoryTable, angular_scatter, chord_plan
from physics.pose import Pose
from physics.taser import MAX_SUBJECT_SPEED_MPS
from physics.units import FPS_MPS
from physics.world import REGIONS, Motion, PathEnds, RangeWorld

# The package's own data, found beside this module and never through the import path: under
# `python -m`, a `physics/` folder in the current directory shadows the package's name.
DATA_DIR = Path(__file__).resolve().parent / "data"

# The public G1 drag function (Mach -> Cd), as tabulated in py-ballisticcalc's drag_tables.py
# (facts.md §2).
G1_MACH = np.array(
    (
        0,
        0.05,
        0.1,
        0.15,
        0.2,
        0.25,
        0.3,
        0.35,
        0.4,
        0.45,
        0.5,
        0.55,
        0.6,
        0.7,
        0.725,
        0.75,
        0.775,
        0.8,
        0.825,
        0.85,
        0.875,
        0.9,
        0.925,
        0.95,
        0.975,
        1,
        1.025,
        1.05,
        1.075,
        1.1,
        1.125,
        1.15,
        1.2,
        1.25,
        1.3,
        1.35,
        1.4,
        1.45,
        1.5,
        1.55,
        1.6,
        1.65,
        1.7,
        1.75,
        1.8,
        1.85,
        1.9,
        1.95,
        2,
        2.05,
        2.1,
        2.15,
        2.2,
        2.25,
        2.3,
        2.35,
        2.4,
        2.45,
        2.5,
        2.6,
        2.7,
        2.8,
        2.9,
        3,
        3.1,
        3.2,
        3.3,
        3.4,
        3.5,
        3.6,
        3.7,
        3.8,
        3.9,
        4,
        4.2,
        4.4,
        4.6,
        4.8,
        5,
    )
)
G1_CD = np.array(
    (
        0.2629,
        0.2558,
        0.2487,
        0.2413,
        0.2344,
        0.2278,
        0.2214,
        0.2155,
        0.2104,
        0.2061,
        0.2032,
        0.202,
        0.2034,
        0.2165,
        0.223,
        0.2313,
        0.2417,
        0.2546,
        0.2706,
        0.2901,
        0.3136,
        0.3415,
        0.3734,
        0.4084,
        0.4448,
        0.4805,
        0.5136,
        0.5427,
        0.5677,
        0.5883,
        0.6053,
        0.6191,
        0.6393,
        0.6518,
        0.6589,
        0.6621,
        0.6625,
        0.6607,
        0.6573,
        0.6528,
        0.6474,
        0.6413,
        0.6347,
        0.628,
        0.621,
        0.6141,
        0.6072,
        0.6003,
        0.5934,
        0.5867,
        0.5804,
        0.5743,
        0.5685,
        0.563,
        0.5577,
        0.5527,
        0.5481,
        0.5438,
        0.5397,
        0.5325,
        0.5264,
        0.5211,
        0.5168,
        0.5133,
        0.5105,
        0.5084,
        0.5067,
        0.5054,
        0.504,
        0.503,
        0.5022,
        0.5016,
        0.501,
        0.5006,
        0.4998,
        0.4995,
        0.4992,
        0.499,
        0.4988,
    )
)

# (A/m) of the G1 standard projectile, m^2/kg (facts.md §2).
G1_STANDARD_AREA_PER_MASS = 1.11709e-3


@dataclass(frozen=True, slots=True)
class Atmosphere:
    density_kgm3: float
    speed_of_sound_mps: float


# Army Standard Metro, the atmosphere G1 tables refer to (facts.md §2): 0.0751 lb/ft^3 and
# 1,120.27 ft/s.
STANDARD_METRO = Atmosphere(density_kgm3=0.0751 * 16.018463, speed_of_sound_mps=1120.27 * 0.3048)
ISA_SEA_LEVEL = Atmosphere(density_kgm3=1.225, speed_of_sound_mps=340.294)


class Load(StrictModel):
    id: str
    name: str
    bullet_mass_gr: float = Field(gt=0.0)
    bullet_diameter_in: float = Field(gt=0.0)
    muzzle_velocity_fps: float = Field(gt=0.0)
    g1_bc: float = Field(gt=0.0)
    dispersion_moa: float = Field(default=0.0, ge=0.0)
    # Inches of bare 10 % gel the bullet penetrates at its muzzle velocity (FBI protocol, 10 ft):
    # what carries it through cover and people (physics.penetration).
    gel_penetration_in: float = Field(default=15.0, gt=0.0)

    @property
    def muzzle_velocity_mps(self) -> float:
        return self.muzzle_velocity_fps * FPS_MPS


class LoadFile(StrictModel):
    version: Literal[1]
    load: list[Load]


@cache
def builtin_loads() -> dict[str, Load]:
    parsed = load_model(DATA_DIR / "loads.toml", LoadFile)
    return {entry.id: entry for entry in parsed.load}


def load(load_id: str) -> Load:
    known = builtin_loads()
    if load_id not in known:
        raise NotFoundError(f"unknown load {load_id!r}; known: {', '.join(sorted(known))}")
    return known[load_id]


def g1_drag(bc: float, atmosphere: Atmosphere = STANDARD_METRO) -> DragLaw:
    """k(speed) such that a = -k |v| v: 1/2 rho Cd(M) (A/m)_std / BC (facts.md §2)."""
    scale = 0.5 * atmosphere.density_kgm3 * G1_STANDARD_AREA_PER_MASS / bc

    def k(speed: NDArray[np.float64]) -> NDArray[np.float64]:
        cd = np.interp(speed / atmosphere.speed_of_sound_mps, G1_MACH, G1_CD)
        return np.asarray(scale * cd, dtype=np.float64)

    return k


@dataclass(frozen=True, slots=True)
class BulletImpact:
    """Where a round ended: a subject's region, the backstop, the floor, or over the berm."""

    target: str | None
    region: Region | None
    point: tuple[float, float, float]
    time_of_flight_s: float
    velocity_mps: float


@cache
def _table(load: Load, atmosphere: Atmosphere) -> TrajectoryTable:
    # 0.35 s: past 100 m for every 9 mm load, far beyond any lane's backstop.
    return TrajectoryTable(g1_drag(load.g1_bc, atmosphere), load.muzzle_velocity_mps, 0.35)


@cache
def _plan(load: Load, atmosphere: Atmosphere, reach_m: float) -> SampledFlights:
    duration = 1.3 * reach_m / load.muzzle_velocity_mps
    return chord_plan(_table(load, atmosphere), duration, BULLET_CHORDS)


def trajectory_table(load: Load, atmosphere: Atmosphere = STANDARD_METRO) -> TrajectoryTable:
    return _table(load, atmosphere)


BULLET_CHORDS = 12


def fly_rounds(
    world: RangeWorld,
    load: Load,
    origins: NDArray[np.float64],
    rotations: NDArray[np.float64],
    rng: np.random.Generator,
    atmosphere: Atmosphere = STANDARD_METRO,
    motion: Motion | None = None,
    max_speed_mps: float = MAX_SUBJECT_SPEED_MPS,
) -> PathEnds:
    """N rounds at once from muzzles with `rotations` (N, 3, 3), each followed until it hits
    something or leaves the lane. With `motion`, the subjects move during the flight:
    `motion(t, subjects)` poses them `t` seconds after the trigger, as for TASER probes
    (RangeWorld.cast_moving; no point of a subject faster than `max_speed_mps`)."""
    directions = angular_scatter(
        rotations[:, :, 0],
        math.radians(load.dispersion_moa / 60.0) / 2.0,
        rng,
        (rotations[:, :, 1], rotations[:, :, 2]),
    )
    plan = _plan(load, atmosphere, world.lane_length_m + 5.0)
    points, speeds = plan.flights(origins, directions)
    if motion is None:
        return world.cast_paths(points, plan.times_s, speeds)
    return world.cast_moving(points, plan.times_s, speeds, motion, max_speed_mps)


def fly_bullet(
    world: RangeWorld,
    load: Load,
    muzzle: Pose,
    rng: np.random.Generator,
    atmosphere: Atmosphere = STANDARD_METRO,
    motion: Motion | None = None,
) -> BulletImpact:
    """One round; `motion` as in `fly_rounds` (subjects moving during its flight)."""
    ends = fly_rounds(
        world, load, np.array([muzzle.position_m]), muzzle.rotation()[None], rng, atmosphere, motion
    )
    target = world.targets[ends.target[0]] if ends.target[0] >= 0 else None
    return BulletImpact(
        target=target,
        region=REGIONS[ends.region[0]] if ends.region[0] >= 0 else None,
        point=(float(ends.point[0, 0]), float(ends.point[0, 1]), float(ends.point[0, 2])),
        time_of_flight_s=float(ends.time_s[0]),
        velocity_mps=float(ends.speed_mps[0]),
    )
