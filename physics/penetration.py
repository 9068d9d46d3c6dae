"""Rounds that carry on through what they hit: cover, concealment, and people.

The model (docs/physics.md, "Penetration, cover and concealment"): every material is measured
in inches of 10 % ordnance gelatin, the FBI's tissue simulant. A load penetrates
`gel_penetration_in` of bare gel at its muzzle velocity, and - resistance taken as constant,
so the depth grows with the energy - `gel_penetration_in x (v / v_muzzle)^2` at speed v. A
crossing that costs G inches of gel leaves the round at

    v_exit = v_in x sqrt(1 - G / P(v_in))     (stopped when G >= P(v_in))

turned by a normal angle of the material's `deflection_deg`. Between objects the round flies
on as any other (G1 drag, gravity), so a 9 mm round through a car door can reach the driver,
and a round through a torso can strike someone behind it when its exit speed allows.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from physics.ballistics import (
    G1_CD,
    G1_MACH,
    G1_STANDARD_AREA_PER_MASS,
    STANDARD_METRO,
    Atmosphere,
    Load,
    fly_rounds,
)
from physics.body import Region
from physics.datafiles import NotFoundError, StrictModel, load_model
from physics.flight import GRAVITY_MPS2, angular_scatter
from physics.pose import Pose
from physics.units import IN_M
from physics.world import REGIONS, Motion, RangeWorld

DATA_DIR = Path(__file__).resolve().parent / "data"

# After a crossing the round is integrated (RK2) at this step: chords of at most ~0.7 m at a
# pistol's exit speeds, 2 m for a rifle's, cast in PyBullet so nothing is skipped over.
AFTER_STEP_S = 0.002
EXIT_NUDGE_M = 0.002  # a new flight starts this far past the surface it left
MAX_CROSSINGS = 8


class Material(StrictModel):
    """A material in inches of 10 % gel: per inch crossed, and once per crossing."""

    id: str
    name: str
    gel_in_per_in: float = Field(default=0.0, ge=0.0)
    gel_in_fixed: float = Field(default=0.0, ge=0.0)
    deflection_deg: float = Field(default=0.0, ge=0.0, le=45.0)

    def gel_in(self, thickness_in: float) -> float:
        """Inches of gel a crossing of `thickness_in` costs."""
        return self.gel_in_fixed + self.gel_in_per_in * thickness_in


class MaterialFile(StrictModel):
    version: Literal[1]
    material: list[Material]


@cache
def builtin_materials() -> dict[str, Material]:
    parsed = load_model(DATA_DIR / "materials.toml", MaterialFile)
    return {m.id: m for m in parsed.material}


def material(material_id: str) -> Material:
    known = builtin_materials()
    if material_id not in known:
        raise NotFoundError(f"unknown material {material_id!r}; known: {', '.join(sorted(known))}")
    return known[material_id]


def capacity_in(load: Load, speed_mps: float) -> float:
    """Inches of gel the round can still cross at `speed_mps` (P(v) above)."""
    return load.gel_penetration_in * (speed_mps / load.muzzle_velocity_mps) ** 2


def exit_speed_mps(load: Load, speed_mps: float, gel_in: float) -> float:
    """Speed after a crossing that costs `gel_in` inches of gel; 0 when it stops the round."""
    left = 1.0 - gel_in / max(capacity_in(load, speed_mps), 1e-12)
    return speed_mps * math.sqrt(left) if left > 0.0 else 0.0


def stops(load: Load, material_id: str, thickness_in: float) -> bool:
    """Whether `thickness_in` of the material stops the load fired at the muzzle: what a
    drill's "cover" should do for its handgun loads."""
    gel = material(material_id).gel_in(thickness_in)
    return exit_speed_mps(load, load.muzzle_velocity_mps, gel) == 0.0


@dataclass(frozen=True, slots=True)
class Strike:
    """One thing a round struck, in order along its flight. `exit_mps` 0: it stopped there;
    `role` is the drill's "cover" or "concealment" for an object (None otherwise)."""

    target: str
    region: Region | None
    point: tuple[float, float, float]
    time_of_flight_s: float
    velocity_mps: float
    material: str | None
    exit_point: tuple[float, float, float] | None
    exit_mps: float
    thickness_in: float
    role: str | None = None
    # On a subject: the segment struck and the offset (metres) from its joint in the
    # segment's frame (RangeWorld.hit_anchor), so a review's marker follows the posed body.
    segment: str | None = None
    segment_offset_m: tuple[float, float, float] | None = None

    @property
    def stopped(self) -> bool:
        return self.exit_mps == 0.0


_MACH = [float(m) for m in G1_MACH]
_CD = [float(c) for c in G1_CD]


def _g1_cd(mach: float) -> float:
    """The G1 drag coefficient at `mach` (linear between the table's rows, as np.interp)."""
    i = bisect.bisect_right(_MACH, mach)
    if i <= 0:
        return _CD[0]
    if i >= len(_MACH):
        return _CD[-1]
    f = (mach - _MACH[i - 1]) / (_MACH[i] - _MACH[i - 1])
    return _CD[i - 1] + f * (_CD[i] - _CD[i - 1])


def _fly_one(
    origin: NDArray[np.float64],
    velocity: NDArray[np.float64],
    drag_scale: float,
    atmosphere: Atmosphere,
    duration_s: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One round after a crossing: midpoint RK2 at AFTER_STEP_S with G1 drag, as
    physics.flight.integrate does for many (a = g - k |v| v, k = drag_scale Cd(M)), in plain
    floats: one projectile is ~10x faster this way than as numpy arrays. Points (K, 3) and
    speeds (K,)."""
    h = AFTER_STEP_S
    sound = atmosphere.speed_of_sound_mps
    x, y, z = (float(c) for c in origin)
    vx, vy, vz = (float(c) for c in velocity)
    steps = max(1, math.ceil(duration_s / h))
    points = [(x, y, z)]
    speeds = [math.sqrt(vx * vx + vy * vy + vz * vz)]
    for _ in range(steps):
        speed = speeds[-1]
        k = drag_scale * _g1_cd(speed / sound) * speed
        mx, my, mz = vx - k * vx * h / 2, vy - k * vy * h / 2, vz - (k * vz + GRAVITY_MPS2) * h / 2
        mid = math.sqrt(mx * mx + my * my + mz * mz)
        km = drag_scale * _g1_cd(mid / sound) * mid
        x, y, z = x + mx * h, y + my * h, z + mz * h
        vx, vy, vz = vx - km * mx * h, vy - km * my * h, vz - (km * mz + GRAVITY_MPS2) * h
        points.append((x, y, z))
        speeds.append(math.sqrt(vx * vx + vy * vy + vz * vz))
    return np.array(points), np.array(speeds)


def _tuple(v: NDArray[np.float64]) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def fly_through(
    world: RangeWorld,
    load: Load,
    muzzle: Pose,
    rng: np.random.Generator,
    atmosphere: Atmosphere = STANDARD_METRO,
    *,
    dispersion: bool = True,
    motion: Motion | None = None,
    after_rng: np.random.Generator | None = None,
) -> list[Strike]:
    """Follow one round through everything it crosses until something stops it or it leaves
    the lane: the strikes in order (empty when it hit nothing). The first strike is where
    `physics.ballistics.fly_bullet` would end (with `motion`, subjects moving during that first
    flight, as there); the rest is what carries on. `after_rng` draws the turns on the way out
    of what it crossed (default `rng`): a drill keeps them on their own stream, so the draws
    of every later shot are those of a round that stopped."""
    bullet = load if dispersion else load.model_copy(update={"dispersion_moa": 0.0})
    origin = np.asarray(muzzle.position_m, dtype=float)
    # The first flight is a drill's own (trajectory table, the same dispersion draw); only what
    # carries on after a crossing is integrated, from the exit point at the exit speed.
    ends = fly_rounds(world, bullet, origin[None], muzzle.rotation()[None], rng, atmosphere, motion)
    turn_rng = rng if after_rng is None else after_rng
    flying = muzzle.forward()  # the direction of the flight under way
    drag_scale = 0.5 * atmosphere.density_kgm3 * G1_STANDARD_AREA_PER_MASS / load.g1_bc
    names = world.targets
    clock_s = 0.0
    strikes: list[Strike] = []
    far_x = world.lane_length_m + 5.0
    for _ in range(MAX_CROSSINGS):
        if ends.target[0] < 0:
            break
        name = names[ends.target[0]]
        hit = ends.point[0]
        t = float(ends.time_s[0])
        # The chord from where this flight started: its heading at the hit to well under a
        # degree over a lane (a pistol round drops ~0.1 deg in 25 yd).
        chord = float(np.linalg.norm(hit - origin))
        # A hit where the flight began (the next object touches the last one's far side, as
        # a car's window sits on its door): the flight's own direction.
        heading = (hit - origin) / chord if chord > 1e-6 else flying
        v_in = float(ends.speed_mps[0])
        region = REGIONS[ends.region[0]] if ends.region[0] >= 0 else None
        kind = world.material_of(name)
        if kind is None:  # paper: the round goes on as it was
            out, thickness_in, v_out, deflection = hit, 0.0, v_in, 0.0
        else:
            stuff = material(kind)
            out = world.exit_point(name, _tuple(hit), _tuple(heading))
            thickness_in = float(np.linalg.norm(out - hit)) / IN_M
            v_out = exit_speed_mps(load, v_in, stuff.gel_in(thickness_in))
            deflection = stuff.deflection_deg
        anchor = world.hit_anchor(ends, 0)
        strikes.append(
            Strike(
                target=name,
                region=region,
                point=_tuple(hit),
                time_of_flight_s=clock_s + t,
                velocity_mps=v_in,
                material=kind,
                exit_point=_tuple(out) if v_out > 0.0 else None,
                exit_mps=v_out,
                thickness_in=thickness_in,
                role=world.role_of(name),
                segment=None if anchor is None else anchor[0],
                segment_offset_m=None if anchor is None else anchor[1],
            )
        )
        if v_out <= 0.0:
            break
        clock_s += t
        turned = angular_scatter(heading[None], math.radians(deflection), turn_rng)[0]
        flying = turned
        origin = out + turned * EXIT_NUDGE_M
        remaining_m = max(far_x - float(origin[0]), 1.0) / max(abs(float(turned[0])), 0.2)
        duration = min(1.3 * remaining_m / v_out, 2.0)
        points, speeds = _fly_one(origin, turned * v_out, drag_scale, atmosphere, duration)
        times = np.arange(len(points), dtype=np.float64) * AFTER_STEP_S
        ends = world.cast_paths(points[:, None, :], times, speeds[:, None])
    return strikes
