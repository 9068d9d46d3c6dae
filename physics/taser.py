"""TASER probe flight against the range world, and the documented incapacitation model."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from physics.animation import SubjectAnimator
from physics.body import TASER_ZONE, Region, TaserZone
from physics.datafiles import NotFoundError, StrictModel, load_model
from physics.flight import (
    SampledFlights,
    TrajectoryTable,
    angular_scatter,
    chord_plan,
    scatter_draws,
)
from physics.human import MAX_CONNECT_GAP_IN as MAX_CONNECT_GAP_IN  # facts.md §1
from physics.pose import Pose, look_rotation
from physics.units import FT_M, IN_M, m_to_in
from physics.world import (
    MOVING_TOLERANCE_M,
    REGIONS,
    LaunchPlan,
    Motion,
    PathEnds,
    RangeWorld,
    sub_chord_plan,
)

# The package's own data, found beside this module and never through the import path: under
# `python -m`, a `physics/` folder in the current directory shadows the package's name.
DATA_DIR = Path(__file__).resolve().parent / "data"

AIR_DENSITY_KGM3 = 1.225  # ISA sea level (facts.md §2)
# facts.md §1: spreads under 12 in may reduce effectiveness.
EFFECTIVE_SPREAD_IN = 12.0

TaserModel = Literal["taser-x26p", "taser-x2", "taser-7", "taser-10"]


class Laser(StrictModel):
    """A laser of the device, marking where probe `probe` of the cartridge lands.

    The emitter sits `offset_in` (left, up) from the top probe's bore. It is aimed along its
    probe's bore (no distance given), at the probe's point `converges_at_ft` downrange (the
    path's drop included), or, with `zeroes_ft`, along the line through the probe's points at
    two distances: the emitter then lies where that line crosses the muzzle (the offset is
    derived, not given). Two zeroes chosen as the Chebyshev nodes of a distance band keep the
    dot on the probe's path within half the sag of the chord across the band
    (docs/physics.md, "Lasers")."""

    probe: Literal[0, 1] = 0
    colour: Literal["red", "green"] = "red"
    offset_in: tuple[float, float] = (0.0, 0.0)
    converges_at_ft: float | None = Field(default=None, gt=0.0)
    zeroes_ft: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _one_aim(self) -> Laser:
        if self.zeroes_ft is not None:
            near, far = self.zeroes_ft
            if not 0.0 < near < far:
                raise ValueError("zeroes_ft is two distances, the nearer first: [12.6, 39.4]")
            if self.converges_at_ft is not None:
                raise ValueError("give converges_at_ft or zeroes_ft, not both")
        return self


# The muzzle's height when a cartridge's range is rated (`Cartridge.reach_m`): an officer's
# arms-out aim at chest height, as `openrange analyze spread` aims (physics/analysis.py).
RATED_MUZZLE_HEIGHT_M = 1.4


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
        """How far along its path a probe flies before its wire runs out. `wire_length_ft` is
        the cartridge's rated range (facts.md §1: the X26P's 15, 21 and 25 ft cartridges, the
        TASER 7's 25 ft): a subject standing that far away can be hit. The wire pays out
        along the probe's path, and no length for it is published, so it is [D] as long as
        the path from a muzzle at chest height (RATED_MUZZLE_HEIGHT_M) to the feet of a subject
        at the rated range: a probe can land anywhere on him there. Before (l24b), the wire
        was the rated range itself: the X26P 21 ft cartridge's bottom probe, 8 deg below the
        top one, reaches a subject at 21 ft on his shins, 21.3 ft along its path, so it ran
        out of wire and 21 ft gave 0 % both-probe hits."""
        return math.hypot(self.wire_length_ft * FT_M, RATED_MUZZLE_HEIGHT_M)

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
    # The point on the subject's unposed body (PathEnds.rest_point): where the probe stays
    # while the subject moves, so spreads across trigger pulls are measured on the body.
    body_point: tuple[float, float, float] | None = None
    # The same point as the segment it lies on and its offset (metres) from that segment's
    # joint in the segment's frame (RangeWorld.hit_anchor): a review keeps the probe's
    # marker on the posed segment as the subject moves or falls.
    segment: str | None = None
    segment_offset_m: tuple[float, float, float] | None = None

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
        cos, sin = _spread(cartridge)
        dirs.append(forward * cos - up * sin)
        starts.append(origins - up * cartridge.bore_separation_in * IN_M)
        lefts.append(left)
        ups.append(up * cos + forward * sin)  # the bottom bore's own top, turned with it
    # concatenate, not vstack (the same rows; vstack's per-array checks cost more than the
    # join on a deployment's (1, 3) rows).
    directions = angular_scatter(
        np.concatenate(dirs),
        _sigma_rad(cartridge) if dispersion else 0.0,
        rng,
        (np.concatenate(lefts), np.concatenate(ups)),
    )
    return np.concatenate(starts), directions


def _spread(cartridge: Cartridge) -> tuple[float, float]:
    """The cosine and sine of the bottom probe's angle below the top one's (`spread_deg`):
    `probe_launch`'s, and LaunchPlan's for the kernel, which must agree."""
    spread = math.radians(cartridge.spread_deg)
    return math.cos(spread), math.sin(spread)


def _sigma_rad(cartridge: Cartridge) -> float:
    """The dispersion's standard deviation (radians): `probe_launch`'s and LaunchPlan's."""
    return math.radians(cartridge.dispersion_deg)


def flight_s(cartridge: Cartridge) -> float:
    """How long a probe of the cartridge is followed: its flight plan's last time."""
    return 1.3 * cartridge.reach_m / cartridge.muzzle_velocity_mps


@cache
def flight_table(cartridge: Cartridge) -> TrajectoryTable:
    """Every flight of the cartridge's probes; built on first use."""
    k = cartridge.drag_k()
    return TrajectoryTable(
        lambda s: np.full_like(s, k), cartridge.muzzle_velocity_mps, flight_s(cartridge)
    )


@cache
def flight_plan(cartridge: Cartridge) -> SampledFlights:
    """The cartridge's flights, sampled at its chord times."""
    return chord_plan(flight_table(cartridge), flight_s(cartridge), CHORDS)


# flight_plan by the cartridge object itself: @cache hashes a pydantic model field by field
# on every deployment (~10 us); a drill's cartridges are the same few objects.
_PLANS: dict[int, tuple[Cartridge, SampledFlights, LaunchPlan]] = {}


def _plan_of(cartridge: Cartridge) -> SampledFlights:
    return _known(cartridge)[1]


def launch_plan(cartridge: Cartridge) -> LaunchPlan:
    """What RangeWorld.cast_deployment needs of the cartridge (`probe_launch`'s constants and
    the flight plan), built with its plan."""
    return _known(cartridge)[2]


def _known(cartridge: Cartridge) -> tuple[Cartridge, SampledFlights, LaunchPlan]:
    known = _PLANS.get(id(cartridge))
    if known is not None and known[0] is cartridge:
        return known
    plan = flight_plan(cartridge)
    cos_spread, sin_spread = _spread(cartridge)
    elevations = plan.elevations
    launch = LaunchPlan(
        probes=cartridge.probes_per_pull,
        cos_spread=cos_spread,
        sin_spread=sin_spread,
        separation_in=cartridge.bore_separation_in,
        reach_m=cartridge.reach_m,
        sigma_rad=_sigma_rad(cartridge),
        elevation0_rad=float(elevations[0]),
        elevation_step_rad=float(elevations[1] - elevations[0]),
        table=plan.stacked,
        times_s=plan.times_s,
    )
    if len(_PLANS) > 64:  # a few cartridges a process; bound it anyway
        _PLANS.clear()
    entry = (cartridge, plan, launch)
    _PLANS[id(cartridge)] = entry  # the entry keeps the object, so its id
    return entry


def prepare(cartridge_ids: list[str], world: RangeWorld | None = None) -> None:
    """Build the trajectory tables of these cartridges now (before a drill starts), and their
    flights' sub-chord times for moving subjects (RangeWorld.cast_moving), so that the first
    deployment of each costs no more inside a frame than any other; the first call in a
    process also runs the flight code a few times (`_warm_flights`). With `world` (the drill's,
    its subjects placed): one throw-away deployment of each cartridge flown in it as well
    (`_warm_world`), so that what a world builds on its first cast is built now too."""
    global _WARMED
    for cartridge_id in cartridge_ids:
        cart = cartridge(cartridge_id)
        plan = _plan_of(cart)
        sub_chord_plan(plan.times_s, MAX_SUBJECT_SPEED_MPS, MOVING_TOLERANCE_M)
        if not _WARMED:
            _WARMED = True
            _warm_flights(cart)
        if world is not None:
            _warm_world(world, cart)


def _still(t: float, subjects: frozenset[str]) -> None:
    """A motion that leaves every subject as it is posed (`_warm_world`)."""


def _warm_world(world: RangeWorld, cart: Cartridge) -> None:
    """Fly one deployment of `cart` in `world` at its first subject (or down the lane), with
    the subjects still and through the moving-subject path with a motion that leaves them
    where they are, from a generator of its own: nothing is logged or kept, no subject is
    moved (PyBullet is synced to the poses recorded, as the next cast would), and the run's
    draws are untouched. What is left behind is what the world builds lazily on its first
    cast (the static bodies' boxes) and PyBullet's first cast in this world: the first
    deployment of the drill then costs what any other does (bench/run.py)."""
    rng = np.random.default_rng(0)
    names = world.subject_ids
    aim = np.array([5.0, 0.0, 1.0])
    if names:
        aim = world.subject_box(names[0]).mean(axis=0)
    muzzle_m = np.array([0.0, 0.0, 1.3])
    muzzle = Pose((0.0, 0.0, 1.3), look_rotation(aim - muzzle_m))
    fly_probes(world, cart, muzzle, rng)
    fly_probes(world, cart, muzzle, rng, _still)


_WARMED = False
WARM_DEPLOYMENTS = 8  # of each kind, still and moving subjects, once a process


def _warm_flights(cart: Cartridge) -> None:
    """Fly WARM_DEPLOYMENTS deployments of `cart` at a subject standing and as many at one
    running across, in a world of their own, with a generator of their own (a run's draws
    are untouched): Python specialises a function's bytecode only after it has run a few
    times, and numpy and PyBullet have first-call costs, so a drill's first deployment would
    otherwise pay for them inside its frame (bench/run.py, docs/physics.md)."""
    from physics.animation import Clip, clip_pose
    from physics.body import SubjectBody
    from physics.pose import look_rotation

    body = SubjectBody()
    skeleton = body.skeleton()
    rng = np.random.default_rng(0)
    x_m = 3.0
    with RangeWorld(lane_length_m=10.0) as world:
        world.add_subject("warm", body, (x_m, 0.0, 0.0), math.pi / 2)
        muzzle = Pose((0.0, 0.0, 1.3), look_rotation((x_m, 0.0, -0.2)))

        def motion(t: float, subjects: frozenset[str]) -> None:
            pose = clip_pose(skeleton, Clip.RUN, t, 0)
            world.pose_subject("warm", pose, (x_m, 3.5 * t, 0.0), math.pi / 2)

        for _ in range(WARM_DEPLOYMENTS):
            fly_probes(world, cart, muzzle, rng)
            fly_probes(world, cart, muzzle, rng, motion)


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
    clip_subjects: bool = False,
) -> Volley:
    """Fly the probes of N trigger pulls at once (the Monte Carlo path). With `motion`, the
    subjects move during the flight: `motion(t, subjects)` poses them `t` seconds after the
    trigger (RangeWorld.cast_moving). `clip_subjects`: still subjects clipped in numpy
    (RangeWorld.cast_paths; a big batch's fast path)."""
    starts, directions = probe_launch(cartridge, origins, rotations, rng)
    plan = _plan_of(cartridge)
    points, speeds = plan.flights(starts, directions)
    if motion is None:
        ends = world.cast_paths(
            points, plan.times_s, speeds, cartridge.reach_m, clip_subjects=clip_subjects
        )
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
    """One trigger pull's probes; `motion` as in `fly_volley`. Against still subjects (no
    `motion`) the whole deployment is one kernel call (RangeWorld.cast_deployment: launch,
    flight, the subjects' hulls clipped exactly, the floor, the zone map), the dispersion drawn
    from `rng` in one call as `probe_launch` draws it; PyBullet casts only the chords that can
    meet a wall, the backstop, a target, cover or a prop."""
    if motion is None:
        return _deploy(world, cartridge, muzzle, rng)
    return _deploy_moving(world, cartridge, muzzle, rng, motion)


def deployment_motion(
    animator: SubjectAnimator, world: RangeWorld, cartridge: Cartridge, t0_s: float
) -> Motion | None:
    """What a drill hands `fly_probes` for a pull at drill time `t0_s`: None (the one kernel
    call against the subjects as they stand) when no animated subject moves over the
    cartridge's flight (`SubjectAnimator.still_over`: every one stands in a pose that does
    not change, as when all are down), else the animator's motion (the moving-subject path).
    Where nothing moves, both paths meet the same geometry and end the probes in the same
    places (tests/test_deployment.py)."""
    if animator.still_over(t0_s, flight_s(cartridge)):
        return None
    return animator.motion(world, t0_s)


def _deploy_moving(
    world: RangeWorld,
    cartridge: Cartridge,
    muzzle: Pose,
    rng: np.random.Generator,
    motion: Motion,
) -> list[ProbeImpact]:
    """`fly_probes` against moving subjects: the launch, the flight and the rest of the world
    in one kernel call (RangeWorld.cast_deployment with the subjects masked out, the flights
    written out), then the subjects through their motion (RangeWorld.cast_moving, handed that
    frozen part); `fly_volley`'s path for one pull, the same draws from `rng`."""
    launch = launch_plan(cartridge)
    normals = scatter_draws(launch.probes, launch.sigma_rad, rng)  # angular_scatter's draws
    samples = len(launch.times_s)
    points = np.empty((samples, launch.probes, 3))
    speeds = np.empty((samples, launch.probes))
    out_f, out_i = world.cast_deployment(
        muzzle.position_m, muzzle.orientation, normals, launch, False, (points, speeds)
    )
    # Views of the kernel's fresh outputs, which cast_moving writes its subjects' hits into;
    # the times copied, as its kernel (sub_chords) reads them as a C-contiguous array.
    frozen = PathEnds(
        out_i[:, 0], out_i[:, 1], out_f[:, :3], out_f[:, 3].copy(), out_f[:, 4], out_f[:, 5]
    )
    ends = world.cast_moving(
        points,
        launch.times_s,
        speeds,
        motion,
        MAX_SUBJECT_SPEED_MPS,
        cartridge.reach_m,
        frozen=frozen,
    )
    return volley_impacts(world, cartridge, Volley(1, ends))


def _deploy(
    world: RangeWorld, cartridge: Cartridge, muzzle: Pose, rng: np.random.Generator
) -> list[ProbeImpact]:
    """`fly_probes` against still subjects: RangeWorld.cast_deployment, then the impacts."""
    launch = launch_plan(cartridge)
    normals = scatter_draws(launch.probes, launch.sigma_rad, rng)  # angular_scatter's draws
    out_f, out_i = world.cast_deployment(muzzle.position_m, muzzle.orientation, normals, launch)
    return _impacts(world, out_f.tolist(), out_i.tolist())


def volley_impacts(world: RangeWorld, cartridge: Cartridge, volley: Volley) -> list[ProbeImpact]:
    """The impacts of the first pull of `volley` (`fly_volley`), as `fly_probes` gives them."""
    ends = volley.ends
    n = cartridge.probes_per_pull
    rows = [volley.probe(0, i) for i in range(n)]
    rest = [[math.nan] * 3] * n if ends.rest_point is None else ends.rest_point[rows].tolist()
    floats = [
        [*point, time_s, 0.0, 0.0, *at]
        for point, time_s, at in zip(
            ends.point[rows].tolist(), ends.time_s[rows].tolist(), rest, strict=True
        )
    ]
    segment = [-1] * n if ends.segment is None else ends.segment[rows].tolist()
    ints = [
        list(row)
        for row in zip(ends.target[rows].tolist(), ends.region[rows].tolist(), segment, strict=True)
    ]
    return _impacts(world, floats, ints)


def _impacts(
    world: RangeWorld, floats: list[list[float]], ints: list[list[int]]
) -> list[ProbeImpact]:
    """The impacts of one pull's probes from their flights' ends, a row each as
    RangeWorld.cast_deployment lays them out: `floats` the point (3), time, speed, path and
    the point on the subject's rest body (3, NaN off subjects); `ints` the body (-1:
    nothing), the zone map region (-1: none) and the segment hit (-1 off subjects)."""
    names = world.targets
    impacts = []
    for i, (f, (uid, code, segment)) in enumerate(zip(floats, ints, strict=True)):
        target = names[uid] if uid >= 0 else None
        region = REGIONS[code] if code >= 0 else None
        gap = zone = body_point = anchor = None
        if target is not None and region is not None:
            body = world.body(target)
            gap, zone = body.clothing_gap_in[region], body.zones[region]
        if f[6] == f[6]:  # not NaN: a subject hit
            body_point = (f[6], f[7], f[8])
        if segment >= 0:
            anchor = world.subject_anchor(uid, segment, (f[6], f[7], f[8]))
        impacts.append(
            ProbeImpact(
                probe=i,
                target=target,
                region=region,
                point=(f[0], f[1], f[2]),
                time_of_flight_s=f[3],
                clothing_gap_in=gap,
                zone_of_subject=zone,
                body_point=body_point,
                segment=None if anchor is None else anchor[0],
                segment_offset_m=None if anchor is None else anchor[1],
            )
        )
    return impacts


def probe_point(
    cartridge: Cartridge,
    origin: NDArray[np.float64],
    direction: NDArray[np.float64],
    horizontal_m: float,
) -> NDArray[np.float64]:
    """The world point (3,) of a probe launched from `origin` along unit `direction` once it
    has flown `horizontal_m` over the ground (drag and drop from its trajectory table)."""
    elevation = math.asin(max(-1.0, min(1.0, float(direction[2]))))
    up, _, _ = flight_table(cartridge).along(elevation, horizontal_m)
    flat = np.array([direction[0], direction[1], 0.0])
    flat /= np.linalg.norm(flat)
    return np.asarray(origin + flat * horizontal_m + np.array([0.0, 0.0, up]), dtype=np.float64)


def laser_lines(
    cartridge: Cartridge, muzzle: Pose, count: int | None = None
) -> list[tuple[Laser, NDArray[np.float64], NDArray[np.float64]]]:
    """Each laser of the cartridge as (laser, emitter point (3,), unit direction (3,)); the
    first `count` of them (None: every one)."""
    origins, directions = probe_launch(
        cartridge,
        np.array([muzzle.position_m]),
        muzzle.rotation()[None],
        np.random.default_rng(0),
        dispersion=False,
    )
    rot = muzzle.rotation()
    forward, left, up = rot[:, 0], rot[:, 1], rot[:, 2]
    lines = []
    for laser in cartridge.lasers[:count]:
        origin, direction = origins[laser.probe], directions[laser.probe]
        emitter = origins[0] + (left * laser.offset_in[0] + up * laser.offset_in[1]) * IN_M
        if laser.zeroes_ft is not None:
            near, far = (
                probe_point(cartridge, origin, direction, d * FT_M) for d in laser.zeroes_ft
            )
            direction = (far - near) / np.linalg.norm(far - near)
            # The emitter: where the line through both zeroes crosses the muzzle's plane.
            back = float(np.dot(origins[0] - near, forward)) / float(np.dot(direction, forward))
            emitter = near + direction * back
        elif laser.converges_at_ft is not None:
            target = probe_point(cartridge, origin, direction, laser.converges_at_ft * FT_M)
            direction = (target - emitter) / np.linalg.norm(target - emitter)
        lines.append((laser, emitter, direction))
    return lines


def laser_dots(
    world: RangeWorld, cartridge: Cartridge, muzzle: Pose, reach_m: float = 30.0
) -> list[tuple[str | None, tuple[float, float, float] | None]]:
    """Where each laser of the cartridge falls: (what it lights, the point), or (None, None),
    in the order of `cartridge.lasers` (their colours are there)."""
    names = world.targets
    dots: list[tuple[str | None, tuple[float, float, float] | None]] = []
    for _, emitter, direction in laser_lines(cartridge, muzzle):
        end = emitter + direction * reach_m
        points = np.array([emitter, end])[:, None, :]
        ends = world.cast_paths(points, np.array([0.0, 1.0]), np.zeros((2, 1)))
        if ends.target[0] < 0:
            dots.append((None, None))
        else:
            x, y, z = (float(v) for v in ends.point[0])
            dots.append((names[ends.target[0]], (x, y, z)))
    return dots


def laser_lit(
    world: RangeWorld, cartridge: Cartridge, muzzle: Pose, reach_m: float = 30.0
) -> str | None:
    """What the cartridge's first laser lights (the name `laser_dots` gives it first), or
    None: only its beam is worked out, and cast as one ray (`RangeWorld.ray_target`, what
    `cast_paths` finds for a path of one chord, without its point, time and speed). A
    course's deployment asks this at every trigger pull (range/runs/course.py)."""
    lines = laser_lines(cartridge, muzzle, 1)
    if not lines:
        return None
    _, emitter, direction = lines[0]
    return world.ray_target(emitter, emitter + direction * reach_m)


class Effect(StrEnum):
    FULL = "full_incapacitation"
    REDUCED = "reduced_effect"
    NONE = "no_effect"


class Cause(StrEnum):
    """Why a deployment had no full effect: the words every log reason starts with."""

    NO_PROBES = "no probes"
    MISSED = "missed"
    CLOTHING = "clothing"
    ONE_PROBE = "one probe, no circuit"
    DETACHED = "probe detached"
    SPREAD = "spread under 12 in"


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the device did to one subject after a trigger pull (or a re-energise).

    `connected` and `avoid_zone` number probes across the device's pulls (Circuit): the TASER 10's
    probe k is its k-th pull's; a two-probe cartridge's probes of pull n are 2n and 2n + 1.
    `energised` are the probes the device put current through (2-4 on a TASER 10). `cause`
    names why the effect is not full (None when it is)."""

    effect: Effect
    spread_in: float | None
    connected: tuple[int, ...]
    avoid_zone: tuple[int, ...]
    reason: str
    # Seconds after the trigger when the circuit closes: the second connected probe's arrival
    # (None: it never closes). Incapacitation starts then, not at the trigger.
    onset_s: float | None = None
    cause: Cause | None = None
    energised: tuple[int, ...] = ()


def _apart(x: AttachedProbe, y: AttachedProbe) -> float:
    """Metres between two probes on one subject: on its body where both points are known
    (the subject may have moved between the pulls), else where they landed."""
    a, b = x.impact.body_point, y.impact.body_point
    if a is not None and b is not None:
        return math.dist(a, b)
    return math.dist(x.impact.point, y.impact.point)


# facts.md §1: the TASER 10 energises the best 2-4 of its connections.
MAX_ENERGISED_PROBES = 4


# Probe detachment (docs/physics.md, "Re-energising and detachment"). Not found in a public
# source: the chance that a fall pulls out each probe stuck in the subject. A parameter.
FALL_DETACH_P = 0.25
# Drive-stun: the device's front electrodes pressed on the subject. facts.md §1 gives the X26
# family and the TASER 7 a drive-stun mode; the TASER 10 is reported (trade press, not read
# here) to have none. Electrode spacing not found: 1.5 in, well under 12 in, so a drive-stun
# alone is pain only; with a probe attached it closes a circuit at the probe's spread.
DRIVE_STUN_MODELS: frozenset[str] = frozenset({"taser-x26p", "taser-x2", "taser-7"})
DRIVE_STUN_ELECTRODES_IN = 1.5


@dataclass(slots=True)
class AttachedProbe:
    """One probe the device has fired, as the circuit sees it. `wire_m` is its wire's length:
    a subject who moves it farther than that from the device breaks the wire."""

    id: int  # device-level number (Assessment.connected)
    pull: int
    impact: ProbeImpact
    detached: str | None = None  # why it no longer conducts (a wire ran out, a fall)
    wire_m: float = math.inf

    @property
    def conducting(self) -> bool:
        return self.impact.connected and self.detached is None


class Circuit:
    """A TASER's probes across its trigger pulls, and the circuits they close (facts.md §1).

    Every probe fired stays where it landed until it detaches. Any two conducting probes on one
    subject close a circuit, whichever pulls fired them: a TASER 10's first probe carries no
    current alone, its second closes the circuit. The device energises the best connections:
    the widest-spread pair, then (up to MAX_ENERGISED_PROBES) each probe that lies farthest from
    those already chosen. The effect follows the documented model (docs/physics.md): full
    incapacitation with an energised spread >= 12 in, a reduced one below it, none with fewer
    than two conducting probes, and the cause named."""

    def __init__(
        self, max_energised: int = MAX_ENERGISED_PROBES, *, across_pulls: bool = True
    ) -> None:
        self.max_energised = max_energised
        # False: a two-probe cartridge's pull is its own circuit (the older models fire one
        # cartridge's pair at a time); the latest pull's probes are the ones energised.
        self.across_pulls = across_pulls
        self.probes: list[AttachedProbe] = []
        self.pulls = 0

    def add_pull(
        self, impacts: list[ProbeImpact], subject_id: str, wire_m: float = math.inf
    ) -> Assessment:
        """Record one trigger pull's probes (each on a wire of `wire_m`) and judge the device's
        circuit on `subject_id`."""
        pull = self.pulls
        self.pulls += 1
        first = len(self.probes)
        for i, impact in enumerate(impacts):
            self.probes.append(AttachedProbe(first + i, pull, impact, wire_m=wire_m))
        return self.assess(subject_id, pull)

    def reenergise(self, subject_id: str) -> Assessment:
        """The ARC switch or a new trigger pull with no probe to fire: current again through
        the probes still attached, from the start of the cycle (onset 0)."""
        return self.assess(subject_id)

    def attached(self, subject_id: str) -> list[AttachedProbe]:
        """The probes on `subject_id` that have not detached (conducting or not)."""
        return [p for p in self.probes if p.impact.target == subject_id and p.detached is None]

    def check_wires(
        self,
        subject_id: str,
        muzzle_m: tuple[float, float, float],
        where: Callable[[tuple[float, float, float]], NDArray[np.float64]],
    ) -> list[int]:
        """Break the wire of every probe on `subject_id` now farther from the device at
        `muzzle_m` than its wire reaches (the subject ran past the wire). `where` maps a
        probe's rest-body point to where it is now (RangeWorld.body_to_world). Returns the
        probes that detached."""
        gone = []
        for probe in self.attached(subject_id):
            point = probe.impact.body_point
            now = where(point) if point is not None else np.asarray(probe.impact.point)
            if math.dist(muzzle_m, (float(now[0]), float(now[1]), float(now[2]))) > probe.wire_m:
                self.detach(probe.id, "the wire ran out")
                gone.append(probe.id)
        return gone

    def subject_fell(
        self, subject_id: str, rng: np.random.Generator, p_detach: float = FALL_DETACH_P
    ) -> list[int]:
        """A fall: each probe on `subject_id` pulls out with probability `p_detach`. Returns
        the probes that detached."""
        gone = []
        for probe in self.attached(subject_id):
            if rng.random() < p_detach:
                self.detach(probe.id, "pulled out in a fall")
                gone.append(probe.id)
        return gone

    def drive_stun(self, model: str, contact: ProbeImpact, subject_id: str) -> Assessment:
        """The device's front pressed on the subject at `contact` (its region and clothing gap
        as a probe's): pain only on its own (the electrodes are DRIVE_STUN_ELECTRODES_IN
        apart), a circuit with the farthest conducting probe still attached. A model without
        a drive-stun mode (TASER 10) does nothing."""
        if model not in DRIVE_STUN_MODELS:
            why = f"{Cause.NO_PROBES}: the {model} has no drive-stun mode"
            return Assessment(Effect.NONE, None, (), (), why, None, Cause.NO_PROBES)
        if contact.target != subject_id or not contact.connected:
            cause = Cause.CLOTHING if contact.target == subject_id else Cause.MISSED
            return Assessment(
                Effect.NONE,
                None,
                (),
                (),
                f"{cause}: drive-stun contact does not conduct",
                None,
                cause,
            )
        stun = AttachedProbe(-1, self.pulls, contact)
        partners = [p for p in self.attached(subject_id) if p.conducting]
        if not partners:
            why = (
                f"{Cause.SPREAD}: drive-stun alone, electrodes {DRIVE_STUN_ELECTRODES_IN:.1f} in"
                " apart: pain, no lock-up"
            )
            return Assessment(
                Effect.REDUCED, DRIVE_STUN_ELECTRODES_IN, (), (), why, 0.0, Cause.SPREAD, (-1,)
            )
        far = max(partners, key=lambda p: _apart(p, stun))
        spread_in = m_to_in(_apart(far, stun))
        ids = (far.id, -1)
        if spread_in >= EFFECTIVE_SPREAD_IN:
            why = f"circuit of probe {far.id} and a drive-stun: spread {spread_in:.1f} in >= 12 in"
            return Assessment(Effect.FULL, spread_in, ids, (), why, 0.0, None, ids)
        why = f"{Cause.SPREAD}: probe {far.id} and a drive-stun {spread_in:.1f} in apart"
        return Assessment(Effect.REDUCED, spread_in, ids, (), why, 0.0, Cause.SPREAD, ids)

    def detach(self, probe_id: int, why: str) -> None:
        """Probe `probe_id` no longer conducts (its wire broke, it was pulled out in a fall)."""
        probe = self.probes[probe_id]
        if probe.detached is None:
            probe.detached = why

    def assess(self, subject_id: str, pull: int | None = None) -> Assessment:
        """The device's effect on `subject_id` if energised now; `pull` is the trigger pull
        just fired (its probes' flight times set the onset; None: a re-energise through the
        probes already attached)."""
        this = [p for p in self.probes if pull is None or p.pull == pull]
        live = self.probes
        if not self.across_pulls:
            latest = self.pulls - 1 if pull is None else pull
            live = this = [p for p in self.probes if p.pull == latest]
        on = [p for p in live if p.impact.target == subject_id]
        conducting = [p for p in on if p.conducting]
        avoid = tuple(p.id for p in on if p.impact.zone is TaserZone.AVOID and p.detached is None)
        ids = tuple(p.id for p in conducting)
        if len(conducting) < 2:
            cause, why = self._open_circuit(this, on, conducting, subject_id)
            return Assessment(Effect.NONE, None, ids, avoid, f"{cause}: {why}", None, cause)
        energised = self._energise(conducting)
        spread_in, a, b = max(
            ((m_to_in(_apart(x, y)), x, y) for x, y in combinations(energised, 2)),
            key=lambda row: row[0],
        )
        onset = max(p.impact.time_of_flight_s if p.pull == pull else 0.0 for p in (a, b))
        chosen = tuple(p.id for p in energised)
        pair = f"probes {a.id} and {b.id}"
        if spread_in >= EFFECTIVE_SPREAD_IN:
            why = f"circuit of {pair}: spread {spread_in:.1f} in >= 12 in"
            return Assessment(Effect.FULL, spread_in, ids, avoid, why, onset, None, chosen)
        why = f"{Cause.SPREAD}: {pair} {spread_in:.1f} in apart: pain, no lock-up"
        return Assessment(Effect.REDUCED, spread_in, ids, avoid, why, onset, Cause.SPREAD, chosen)

    def _energise(self, conducting: list[AttachedProbe]) -> list[AttachedProbe]:
        apart = _apart
        a, b = max(combinations(conducting, 2), key=lambda pair: apart(*pair))
        chosen = [a, b]
        rest = [p for p in conducting if p is not a and p is not b]
        while rest and len(chosen) < self.max_energised:
            best = max(rest, key=lambda p: min(apart(p, c) for c in chosen))
            chosen.append(best)
            rest.remove(best)
        return chosen

    @staticmethod
    def _open_circuit(
        this: list[AttachedProbe],
        on: list[AttachedProbe],
        conducting: list[AttachedProbe],
        subject_id: str,
    ) -> tuple[Cause, str]:
        """The true cause of an open circuit: the pull's own probes first (a miss, a gap over
        2 in), then a probe that detached, then a lone conducting probe."""
        if not this and not on:
            return Cause.NO_PROBES, "no probes"
        missed = [p for p in this if p.impact.target != subject_id]
        if missed:
            return Cause.MISSED, f"{len(missed)} probe(s) missed the subject"
        coat = [
            p
            for p in on
            if p.detached is None
            and p.impact.clothing_gap_in is not None
            and p.impact.clothing_gap_in > MAX_CONNECT_GAP_IN
        ]
        if coat:
            gap = max(p.impact.clothing_gap_in or 0.0 for p in coat)
            return Cause.CLOTHING, (
                f"a probe stopped in clothing {gap:.2f} in from the skin (> 2 in)"
            )
        gone = [p for p in on if p.detached is not None]
        if gone:
            return Cause.DETACHED, f"probe {gone[0].id} detached ({gone[0].detached})"
        if len(conducting) == 1:
            return Cause.ONE_PROBE, f"only probe {conducting[0].id} connects"
        return Cause.MISSED, "no probe reached the subject"


def circuit_for(cartridge: Cartridge) -> Circuit:
    """The device-level circuit of a TASER loaded with `cartridge`: a one-probe-per-pull
    cartridge (TASER 10) closes circuits across pulls; a two-probe cartridge's pull is its own."""
    return Circuit(across_pulls=cartridge.probes_per_pull == 1)


def assess(impacts: list[ProbeImpact], subject_id: str) -> Assessment:
    """One trigger pull judged alone (a fresh device): `Circuit.add_pull` on a new Circuit.

    Full neuro-muscular incapacitation when at least two probes connect on the subject (clothing
    gap <= 2 in) with a spread >= 12 in; a reduced effect with a smaller spread; none when fewer
    than two probes connect (open circuit), with the cause named (docs/physics.md)."""
    if not impacts:
        return Assessment(
            Effect.NONE, None, (), (), f"{Cause.NO_PROBES}: no probes", None, Cause.NO_PROBES
        )
    return Circuit().add_pull(impacts, subject_id)
