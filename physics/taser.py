"""TASER probe flight against the range world, and the documented incapacitation model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from physics.body import TASER_ZONE, Region, TaserZone
from physics.datafiles import NotFoundError, StrictModel, load_model
from physics.flight import SampledFlights, TrajectoryTable, angular_scatter, chord_plan
from physics.pose import Pose
from physics.units import FT_M, IN_M, m_to_in
from physics.world import REGIONS, Motion, PathEnds, RangeWorld

# The package's own data, found beside this module and never through the import path: under
# `python -m`, a `physics/` folder in the current directory shadows the package's name.
DATA_DIR = Path(__file__).resolve().parent / "data"

AIR_DENSITY_KGM3 = 1.225  # ISA sea level (facts.md §2)
# facts.md §1: a probe more than 2 in from the skin does not connect.
MAX_CONNECT_GAP_IN = 2.0
# facts.md §1: spreads under 12 in may reduce effectiveness.
EFFECTIVE_SPREAD_IN = 12.0

TaserModel = Literal["taser-x26p", "taser-x2", "taser-7", "taser-10"]


class Laser(StrictModel):
    """A laser beside probe `probe`'s bore, aimed where that probe lands at `converges_at_ft`
    (the path's drop included), or along the bore when that is not given."""

    probe: Literal[0, 1] = 0
    converges_at_ft: float | None = Field(default=None, gt=0.0)


class Cartridge(StrictModel):
    id: str
    model: TaserModel
    name: str
    spread_deg: float = Field(ge=0.0, lt=45.0)
    bore_separation_in: float = Field(ge=0.0, le=3.0)
    wire_length_ft: float = Field(gt=0.0, le=60.0)
    probes_per_pull: Literal[1, 2] = 2
    muzzle_velocity_mps: float = Field(default=55.0, gt=0.0)
    probe_mass_g: float = Field(default=3.0, gt=0.0)
    probe_drag_area_cm2: float = Field(default=0.25, ge=0.0)
    dispersion_deg: float = Field(default=0.5, ge=0.0)
    lasers: tuple[Laser, ...] = (Laser(),)

    @property
    def reach_m(self) -> float:
        return self.wire_length_ft * FT_M

    def drag_k(self) -> float:
        """k in a = -k |v| v, per metre."""
        return 0.5 * AIR_DENSITY_KGM3 * self.probe_drag_area_cm2 * 1e-4 / (self.probe_mass_g * 1e-3)


class CartridgeFile(StrictModel):
    version: Literal[1]
    cartridge: list[Cartridge]


@cache
def builtin_cartridges() -> dict[str, Cartridge]:
    parsed = load_model(DATA_DIR / "cartridges.toml", CartridgeFile)
    return {c.id: c for c in parsed.cartridge}


def cartridge(cartridge_id: str) -> Cartridge:
    known = builtin_cartridges()
    if cartridge_id not in known:
        raise NotFoundError(
            f"unknown cartridge {cartridge_id!r}; known: {', '.join(sorted(known))}"
        )
    return known[cartridge_id]


@dataclass(frozen=True, slots=True)
class ProbeImpact:
    """Where one probe ended: on a subject's region, the floor, the backstop, or in the air when
    its wire ran out. `connected` is whether it closes a circuit through the subject's skin."""

    probe: int
    target: str | None
    region: Region | None
    point: tuple[float, float, float]
    time_of_flight_s: float
    clothing_gap_in: float | None
    zone_of_subject: TaserZone | None = None  # the subject's own map (a pregnant abdomen)

    @property
    def on_subject(self) -> bool:
        return self.region is not None

    @property
    def connected(self) -> bool:
        return self.clothing_gap_in is not None and self.clothing_gap_in <= MAX_CONNECT_GAP_IN

    @property
    def zone(self) -> TaserZone | None:
        if self.zone_of_subject is not None:
            return self.zone_of_subject
        return TASER_ZONE[self.region] if self.region is not None else None


def probe_launch(
    cartridge: Cartridge,
    origins: NDArray[np.float64],
    rotations: NDArray[np.float64],
    rng: np.random.Generator,
    dispersion: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Origins and unit directions of the probes of N trigger pulls, probe-major: (P*N, 3).

    `rotations` (N, 3, 3) are muzzle orientations (columns: bore, left, top). The top probe flies
    along the bore (the laser line); the bottom one leaves its own bore, `bore_separation_in`
    lower, angled `spread_deg` further down (facts.md §1, X26 manual p.16).
    """
    forward, left, up = rotations[:, :, 0], rotations[:, :, 1], rotations[:, :, 2]
    dirs, starts, lefts, ups = [forward], [origins], [left], [up]
    if cartridge.probes_per_pull == 2:
        cos, sin = (
            math.cos(math.radians(cartridge.spread_deg)),
            math.sin(math.radians(cartridge.spread_deg)),
        )
        dirs.append(forward * cos - up * sin)
        starts.append(origins - up * cartridge.bore_separation_in * IN_M)
        lefts.append(left)
        ups.append(up * cos + forward * sin)  # the bottom bore's own top, turned with it
    directions = angular_scatter(
        np.vstack(dirs),
        math.radians(cartridge.dispersion_deg) if dispersion else 0.0,
        rng,
        (np.vstack(lefts), np.vstack(ups)),
    )
    return np.vstack(starts), directions


def _flight_s(cartridge: Cartridge) -> float:
    return 1.3 * cartridge.reach_m / cartridge.muzzle_velocity_mps


@cache
def flight_table(cartridge: Cartridge) -> TrajectoryTable:
    """Every flight of the cartridge's probes; built on first use."""
    k = cartridge.drag_k()
    return TrajectoryTable(
        lambda s: np.full_like(s, k), cartridge.muzzle_velocity_mps, _flight_s(cartridge)
    )


@cache
def flight_plan(cartridge: Cartridge) -> SampledFlights:
    """The cartridge's flights, sampled at its chord times."""
    return chord_plan(flight_table(cartridge), _flight_s(cartridge), CHORDS)


def prepare(cartridge_ids: list[str]) -> None:
    """Build the trajectory tables of these cartridges now (before a drill starts), so that
    the first deployment of each costs no more inside a frame than any other."""
    for cartridge_id in cartridge_ids:
        flight_plan(cartridge(cartridge_id))


CHORDS = 8  # per probe flight: at 55 m/s a chord bows at most ~0.4 mm from the true path


@dataclass(frozen=True, slots=True)
class Volley:
    """N trigger pulls' probes as arrays, probe-major: probe p of pull n is row p * N + n."""

    pulls: int
    ends: PathEnds

    def probe(self, pull: int, probe: int) -> int:
        return probe * self.pulls + pull


# The fastest a point of a running subject moves: a foot in the swing at 3.5 m/s of running
# (physics.animation RUN: 7.2 m/s measured, tests/test_moving.py), with a margin.
MAX_SUBJECT_SPEED_MPS = 8.0


def fly_volley(
    world: RangeWorld,
    cartridge: Cartridge,
    origins: NDArray[np.float64],
    rotations: NDArray[np.float64],
    rng: np.random.Generator,
    motion: Motion | None = None,
    max_speed_mps: float = MAX_SUBJECT_SPEED_MPS,
) -> Volley:
    """Fly the probes of N trigger pulls at once (the Monte Carlo path). With `motion`, the
    subjects move during the flight: `motion(t, subjects)` poses them `t` seconds after the
    trigger (RangeWorld.cast_moving)."""
    starts, directions = probe_launch(cartridge, origins, rotations, rng)
    plan = flight_plan(cartridge)
    points, speeds = plan.flights(starts, directions)
    if motion is None:
        ends = world.cast_paths(points, plan.times_s, speeds, cartridge.reach_m)
    else:
        ends = world.cast_moving(
            points, plan.times_s, speeds, motion, max_speed_mps, cartridge.reach_m
        )
    return Volley(len(origins), ends)


def fly_probes(
    world: RangeWorld,
    cartridge: Cartridge,
    muzzle: Pose,
    rng: np.random.Generator,
    motion: Motion | None = None,
) -> list[ProbeImpact]:
    """One trigger pull's probes; `motion` as in `fly_volley`."""
    volley = fly_volley(
        world, cartridge, np.array([muzzle.position_m]), muzzle.rotation()[None], rng, motion
    )
    names = world.targets
    impacts = []
    for i in range(cartridge.probes_per_pull):
        row = volley.probe(0, i)
        ends = volley.ends
        target = names[ends.target[row]] if ends.target[row] >= 0 else None
        region = REGIONS[ends.region[row]] if ends.region[row] >= 0 else None
        gap = world.body(target).clothing_gap_in[region] if target and region else None
        zone = world.body(target).zones[region] if target and region else None
        impacts.append(
            ProbeImpact(
                probe=i,
                target=target,
                region=region,
                point=(
                    float(ends.point[row, 0]),
                    float(ends.point[row, 1]),
                    float(ends.point[row, 2]),
                ),
                time_of_flight_s=float(ends.time_s[row]),
                clothing_gap_in=gap,
                zone_of_subject=zone,
            )
        )
    return impacts


def laser_dots(
    world: RangeWorld, cartridge: Cartridge, muzzle: Pose, reach_m: float = 30.0
) -> list[tuple[str | None, tuple[float, float, float] | None]]:
    """Where each laser of the cartridge falls: (what it lights, the point), or (None, None)."""
    origins, directions = probe_launch(
        cartridge,
        np.array([muzzle.position_m]),
        muzzle.rotation()[None],
        np.random.default_rng(0),
        dispersion=False,
    )
    names = world.targets
    dots: list[tuple[str | None, tuple[float, float, float] | None]] = []
    for laser in cartridge.lasers:
        origin, direction = origins[laser.probe], directions[laser.probe]
        if laser.converges_at_ft is not None:
            # Aim at the probe's own point at the convergence distance, drop included.
            horizontal = laser.converges_at_ft * FT_M
            elevation = math.asin(max(-1.0, min(1.0, float(direction[2]))))
            up, _, _ = flight_table(cartridge).along(elevation, horizontal)
            flat = np.array([direction[0], direction[1], 0.0])
            flat /= np.linalg.norm(flat)
            target = origin + flat * horizontal + np.array([0.0, 0.0, up])
            direction = (target - origin) / np.linalg.norm(target - origin)
        end = origin + direction * reach_m
        points = np.array([origin, end])[:, None, :]
        ends = world.cast_paths(points, np.array([0.0, 1.0]), np.zeros((2, 1)))
        if ends.target[0] < 0:
            dots.append((None, None))
        else:
            x, y, z = (float(v) for v in ends.point[0])
            dots.append((names[ends.target[0]], (x, y, z)))
    return dots


class Effect(StrEnum):
    FULL = "full_incapacitation"
    REDUCED = "reduced_effect"
    NONE = "no_effect"


@dataclass(frozen=True, slots=True)
class Assessment:
    effect: Effect
    spread_in: float | None
    connected: tuple[int, ...]
    avoid_zone: tuple[int, ...]
    reason: str
    # Seconds after the trigger when the circuit closes: the second connected probe's arrival
    # (None: it never closes). Incapacitation starts then, not at the trigger.
    onset_s: float | None = None


def assess(impacts: list[ProbeImpact], subject_id: str) -> Assessment:
    """The documented incapacitation model (docs/physics.md).

    Full neuro-muscular incapacitation when at least two probes connect on the subject (clothing
    gap <= 2 in) with a spread >= 12 in; a reduced effect with a smaller spread; none when fewer
    than two probes connect (open circuit). TASER 10 energises the best pair of its connections.
    """
    on = [i for i in impacts if i.target == subject_id]
    connected = [i for i in on if i.connected]
    avoid = tuple(i.probe for i in on if i.zone is TaserZone.AVOID)
    if len(connected) < 2:
        missed = len(impacts) - len(on)
        why = (
            f"{missed} probe(s) missed the subject"
            if missed
            else "a probe stopped in clothing more than 2 in from the skin"
        )
        if not impacts:
            why = "no probes"
        return Assessment(Effect.NONE, None, tuple(i.probe for i in connected), avoid, why)
    spread_m = max(
        float(np.linalg.norm(np.subtract(a.point, b.point))) for a, b in combinations(connected, 2)
    )
    spread_in = m_to_in(spread_m)
    ids = tuple(i.probe for i in connected)
    onset = sorted(i.time_of_flight_s for i in connected)[1]
    if spread_in >= EFFECTIVE_SPREAD_IN:
        why = f"spread {spread_in:.1f} in >= 12 in"
        return Assessment(Effect.FULL, spread_in, ids, avoid, why, onset)
    return Assessment(
        Effect.REDUCED,
        spread_in,
        ids,
        avoid,
        f"spread {spread_in:.1f} in < 12 in: pain, no lock-up",
        onset,
    )
