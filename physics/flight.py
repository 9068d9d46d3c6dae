"""Point-mass flight of many projectiles at once, and where each path first meets the world.

Paths are integrated in numpy (midpoint RK2, fixed step) and cut into chords that are cast with
one `rayTestBatch`; a chord spans one step, so nothing thinner than a step can be skipped over
the way a dynamic body tunnels (stack-notes.md, "PyBullet for projectiles").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from physics.world import RangeWorld, RayHit

GRAVITY_MPS2 = 9.80665

# k(speed) in a = -k |v| v: the drag of each projectile as a function of its speed (N,) -> (N,).
DragLaw = Callable[[NDArray[np.float64]], NDArray[np.float64]]


@dataclass(frozen=True, slots=True)
class Paths:
    """Sampled trajectories: points[i, n] is projectile n at times[i]."""

    times_s: NDArray[np.float64]
    points: NDArray[np.float64]
    velocities: NDArray[np.float64]


def integrate(
    origins: NDArray[np.float64],
    velocities: NDArray[np.float64],
    drag: DragLaw,
    step_s: float,
    duration_s: float,
) -> Paths:
    steps = int(np.ceil(duration_s / step_s))
    n = len(origins)
    points = np.empty((steps + 1, n, 3))
    vels = np.empty((steps + 1, n, 3))
    points[0], vels[0] = origins, velocities
    gravity = np.array([0.0, 0.0, -GRAVITY_MPS2])

    def accel(v: NDArray[np.float64]) -> NDArray[np.float64]:
        speed = np.linalg.norm(v, axis=1)
        return np.asarray(gravity - (drag(speed) * speed)[:, None] * v, dtype=np.float64)

    x, v = origins.astype(float), velocities.astype(float)
    for i in range(1, steps + 1):
        v_mid = v + accel(v) * (step_s / 2)
        x = x + v_mid * step_s
        v = v + accel(v_mid) * step_s
        points[i], vels[i] = x, v
    return Paths(np.arange(steps + 1, dtype=np.float64) * step_s, points, vels)


@dataclass(frozen=True, slots=True)
class PathEnd:
    """Where one projectile's path ended: its first hit, or where its reach ran out."""

    hit: RayHit | None
    point: tuple[float, float, float]
    time_s: float
    speed_mps: float
    path_length_m: float


def first_hits(world: RangeWorld, paths: Paths, reach_m: float = np.inf) -> list[PathEnd]:
    """Cast every chord of every path; each projectile stops at its first hit or after `reach_m`
    of path (a TASER wire runs out; a bullet is followed to the backstop)."""
    pts = paths.points
    chords = np.linalg.norm(np.diff(pts, axis=0), axis=2)  # (steps, n)
    before = np.vstack([np.zeros((1, pts.shape[1])), np.cumsum(chords, axis=0)])  # path at sample
    starts = pts[:-1].copy()
    ends = pts[1:].copy()
    # Shorten the chord in which the reach runs out, and drop the chords after it.
    over = before[1:] > reach_m
    inside = before[:-1] < reach_m
    cut = over & inside
    frac = np.where(cut, (reach_m - before[:-1]) / np.maximum(chords, 1e-12), 1.0)
    ends = starts + (ends - starts) * frac[..., None]
    live = inside
    n = live.shape[1]
    idx_step, idx_proj = np.nonzero(live)
    hits = world.cast(starts[idx_step, idx_proj], ends[idx_step, idx_proj])
    first: dict[int, tuple[int, RayHit]] = {}
    for k, hit in enumerate(hits):
        if hit is None:
            continue
        s, proj = int(idx_step[k]), int(idx_proj[k])
        if proj not in first or s < first[proj][0]:
            first[proj] = (s, hit)
    out: list[PathEnd] = []
    dt = float(paths.times_s[1] - paths.times_s[0]) if len(paths.times_s) > 1 else 0.0
    for proj in range(n):
        if proj in first:
            s, hit = first[proj]
            f = hit.fraction * float(frac[s, proj])
            t = float(paths.times_s[s]) + f * dt
            v = (
                paths.velocities[s, proj]
                + (paths.velocities[s + 1, proj] - paths.velocities[s, proj]) * f
            )
            length = float(before[s, proj] + f * chords[s, proj])
            out.append(PathEnd(hit, hit.point, t, float(np.linalg.norm(v)), length))
            continue
        last = int(np.max(np.nonzero(live[:, proj])[0])) if live[:, proj].any() else 0
        f = float(frac[last, proj])
        end = ends[last, proj]
        v = paths.velocities[last + 1, proj]
        out.append(
            PathEnd(
                None,
                (float(end[0]), float(end[1]), float(end[2])),
                float(paths.times_s[last]) + f * dt,
                float(np.linalg.norm(v)),
                float(min(before[last + 1, proj], reach_m)),
            )
        )
    return out


def angular_scatter(
    directions: NDArray[np.float64], sigma_rad: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Tilt each unit direction by a normal angle of `sigma_rad` on two perpendicular axes."""
    if sigma_rad == 0.0:
        return directions
    out = np.empty_like(directions)
    for i, d in enumerate(directions):
        helper = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        a = np.cross(d, helper)
        a /= np.linalg.norm(a)
        b = np.cross(d, a)
        ya, pb = rng.normal(0.0, sigma_rad, size=2)
        v = d + a * np.tan(ya) + b * np.tan(pb)
        out[i] = v / np.linalg.norm(v)
    return out
