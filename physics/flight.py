"""Point-mass flight of many projectiles at once.

Flights are integrated once per projectile, speed and atmosphere, over a fan of elevation angles
(`TrajectoryTable`); any flight after that is a table lookup, a rotation about the vertical and a
translation, vectorised over thousands of flights. `RangeWorld.cast_paths` then casts each
flight's chords against the PyBullet world; a chord is one piece of the path, so nothing is
skipped over the way a dynamic body tunnels (stack-notes.md, "PyBullet for projectiles").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

GRAVITY_MPS2 = 9.80665

# k(speed) in a = -k |v| v: the drag of each projectile as a function of its speed (N,) -> (N,).
DragLaw = Callable[[NDArray[np.float64]], NDArray[np.float64]]
F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Paths:
    """Sampled trajectories: points[i, n] is projectile n at times[i]."""

    times_s: F64
    points: F64
    velocities: F64


def integrate(
    origins: F64, velocities: F64, drag: DragLaw, step_s: float, duration_s: float
) -> Paths:
    """Midpoint RK2 at a fixed step: the reference integrator, and the one tables are built with."""
    steps = int(np.ceil(duration_s / step_s))
    n = len(origins)
    points = np.empty((steps + 1, n, 3))
    vels = np.empty((steps + 1, n, 3))
    points[0], vels[0] = origins, velocities
    gravity = np.array([0.0, 0.0, -GRAVITY_MPS2])

    def accel(v: F64) -> F64:
        speed = np.linalg.norm(v, axis=1)
        return np.asarray(gravity - (drag(speed) * speed)[:, None] * v, dtype=np.float64)

    x, v = origins.astype(float), velocities.astype(float)
    for i in range(1, steps + 1):
        v_mid = v + accel(v) * (step_s / 2)
        x = x + v_mid * step_s
        v = v + accel(v_mid) * step_s
        points[i], vels[i] = x, v
    return Paths(np.arange(steps + 1, dtype=np.float64) * step_s, points, vels)


class TrajectoryTable:
    """Every flight of one projectile at one muzzle speed, for elevations from -89 to +89 degrees
    every 0.25 degree, sampled every `step_s`. Interpolating between two neighbouring elevations
    errs by about 0.1 mm at 50 m."""

    def __init__(
        self,
        drag: DragLaw,
        speed_mps: float,
        duration_s: float,
        step_s: float = 0.0005,
        elevation_step_deg: float = 0.25,
    ) -> None:
        self.speed_mps = speed_mps
        self.step_s = step_s
        self.elevations = np.radians(np.arange(-89.0, 89.0 + 1e-9, elevation_step_deg))
        self._e0 = float(self.elevations[0])
        self._de = float(self.elevations[1] - self.elevations[0])
        launch = speed_mps * np.column_stack(
            (np.cos(self.elevations), np.zeros_like(self.elevations), np.sin(self.elevations))
        )
        paths = integrate(np.zeros_like(launch), launch, drag, step_s, duration_s)
        # Elevation-major, so one flight's row is contiguous.
        self.forward = np.ascontiguousarray(paths.points[:, :, 0].T)
        self.up = np.ascontiguousarray(paths.points[:, :, 2].T)
        self.speed = np.ascontiguousarray(np.linalg.norm(paths.velocities, axis=2).T)
        self.duration_s = float(paths.times_s[-1])

    def at(self, times_s: F64) -> SampledFlights:
        """The table at fixed times (multiples of the step): what each flight is read from."""
        idx = np.clip(np.rint(times_s / self.step_s).astype(np.int64), 0, self.forward.shape[1] - 1)
        return SampledFlights(
            self.elevations,
            (idx * self.step_s).astype(np.float64),
            np.ascontiguousarray(self.forward[:, idx]),
            np.ascontiguousarray(self.up[:, idx]),
            np.ascontiguousarray(self.speed[:, idx]),
        )

    def along(self, elevation_rad: float, distance_m: float) -> tuple[float, float, float]:
        """Fired at `elevation_rad`: (height change, speed, time) `distance_m` downrange."""
        at = (elevation_rad - self._e0) / self._de
        row = int(np.clip(np.floor(at), 0, len(self.elevations) - 2))
        f = at - row
        out = []
        for r in (row, row + 1):
            forward = self.forward[r]
            if distance_m > forward[-1]:
                raise ValueError(f"the table reaches {forward[-1]:.1f} m, not {distance_m:.1f} m")
            t = np.arange(len(forward)) * self.step_s
            out.append(
                (
                    np.interp(distance_m, forward, self.up[r]),
                    np.interp(distance_m, forward, self.speed[r]),
                    np.interp(distance_m, forward, t),
                )
            )
        (u0, s0, t0), (u1, s1, t1) = out
        return (float(u0 + f * (u1 - u0)), float(s0 + f * (s1 - s0)), float(t0 + f * (t1 - t0)))

    def level(self, distance_m: float) -> tuple[float, float, float]:
        """Fired level: (height change, speed, time of flight) at `distance_m` downrange."""
        return self.along(0.0, distance_m)


@dataclass(frozen=True, slots=True)
class SampledFlights:
    """A trajectory table read at K fixed times: N flights are a row gather, a rotation about
    the vertical and a translation."""

    elevations: F64
    times_s: F64
    forward: F64  # (E, K)
    up: F64
    speed: F64
    # forward, up and speed side by side, (E, 3, K): a flight's rows are one gather.
    stacked: F64 = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        stacked = np.ascontiguousarray(np.stack([self.forward, self.up, self.speed], axis=1))
        object.__setattr__(self, "stacked", stacked)

    def flights(self, origins: F64, directions: F64) -> tuple[F64, F64]:
        """Points (K, N, 3) and speeds (K, N) of N flights from `origins` along `directions`."""
        horizontal = np.hypot(directions[:, 0], directions[:, 1])
        flat = horizontal < 1e-12
        if flat.any():  # straight up or down: any azimuth
            safe = np.where(flat, 1.0, horizontal)
            az_x = np.where(flat, 1.0, directions[:, 0] / safe)
            az_y = np.where(flat, 0.0, directions[:, 1] / safe)
        else:
            az_x = directions[:, 0] / horizontal
            az_y = directions[:, 1] / horizontal
        e0, de = self.elevations[0], self.elevations[1] - self.elevations[0]
        at = (np.arctan2(directions[:, 2], horizontal) - e0) / de
        at = np.minimum(np.maximum(at, 0.0), len(self.elevations) - 1.000001)
        row = at.astype(np.int64)
        f = (at - row)[:, None, None]
        # (N, 3, K): forward, up and speed of each flight, the same products per element as
        # interpolating the three tables one by one.
        table = self.stacked
        rows = table[row] * (1.0 - f) + table[row + 1] * f
        forward, up = rows[:, 0].T, rows[:, 1].T
        points = np.empty((len(self.times_s), len(origins), 3))
        points[..., 0] = origins[:, 0] + forward * az_x
        points[..., 1] = origins[:, 1] + forward * az_y
        points[..., 2] = origins[:, 2] + up
        return points, np.ascontiguousarray(rows[:, 2].T)


def _cross(a: F64, b: F64) -> F64:
    # Column arithmetic: numpy.cross costs ~25 us a call, and every trigger pull makes two.
    return np.column_stack(
        (
            a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
            a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0],
        )
    )


def scatter_draws(n: int, sigma_rad: float, rng: np.random.Generator) -> F64 | None:
    """The normal angles (n, 2), radians, that `angular_scatter` tilts n directions by, drawn
    from `rng` in one call; None, with nothing drawn, when `sigma_rad` is 0."""
    if sigma_rad == 0.0:
        return None
    return rng.normal(0.0, sigma_rad, size=(n, 2))


def angular_scatter(
    directions: F64,
    sigma_rad: float,
    rng: np.random.Generator,
    basis: tuple[F64, F64] | None = None,
) -> F64:
    """Tilt each unit direction by a normal angle of `sigma_rad` on two perpendicular axes.

    `basis` gives those axes (each (N, 3), perpendicular to the directions), as a muzzle's
    rotation already does; without it they are constructed. The angles are `scatter_draws`'.
    """
    draws = scatter_draws(len(directions), sigma_rad, rng)
    if draws is None:
        return directions
    if basis is None:
        helper = np.zeros_like(directions)
        steep = np.abs(directions[:, 2]) >= 0.9
        helper[~steep, 2] = 1.0
        helper[steep, 0] = 1.0
        a = _cross(directions, helper)
        a /= np.sqrt(np.einsum("ij,ij->i", a, a))[:, None]
        b = _cross(directions, a)
    else:
        a, b = basis
    tilt = np.tan(draws)
    out = directions + a * tilt[:, :1] + b * tilt[:, 1:]
    return np.asarray(out / np.sqrt(np.einsum("ij,ij->i", out, out))[:, None], dtype=np.float64)


def chord_plan(table: TrajectoryTable, duration_s: float, chords: int) -> SampledFlights:
    """The table read at `chords` + 1 evenly spaced times over `duration_s`."""
    duration = min(duration_s, table.duration_s)
    return table.at(np.linspace(0.0, duration, chords + 1))
