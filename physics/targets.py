"""Paper targets with scoring-zone maps.

A target is a thin board in the PyBullet world; where a round meets it, the zone map (in the
target's own inches, origin at its centre, u to the shooter's right, v up) says what it scored.
Published dimensions are in facts.md §3; where they are missing the shapes below are documented
approximations (docs/physics.md), each marked so.

A hole whose edge touches a scoring line takes the higher value (facts.md §5: NRA Precision
Pistol Rules 14.3, USPSA 9.5.2): a hit scores the best zone that comes within the bullet's radius
of its centre, on every target, the outermost outline included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# facts.md §5: the scoring gauge's plug is the bullet's diameter; 9 mm flange 0.355-0.359 in.
GAUGE_9MM_IN = 0.355


class TargetKind(StrEnum):
    B27 = "b27"
    QIT99 = "qit99"
    USPSA = "uspsa"


@dataclass(frozen=True, slots=True)
class Ellipse:
    cu: float
    cv: float
    ru: float
    rv: float

    def contains(self, u: float, v: float) -> bool:
        return ((u - self.cu) / self.ru) ** 2 + ((v - self.cv) / self.rv) ** 2 <= 1.0

    def distance(self, u: float, v: float) -> float:
        """Inches from (u, v) to the outline; 0 inside. The closest point is
        (a^2 x / (t + a^2), b^2 y / (t + b^2)) for the root t > 0 of
        (a x / (t + a^2))^2 + (b y / (t + b^2))^2 = 1 (Eberly, "Distance from a point to an
        ellipse"), found by bisection: a larger ellipse would be wrong off the axes."""
        if self.contains(u, v):
            return 0.0
        a, b = self.ru, self.rv
        x, y = abs(u - self.cu), abs(v - self.cv)
        lo, hi = 0.0, max(a, b) * math.hypot(x, y)
        for _ in range(100):
            t = (lo + hi) / 2
            if (a * x / (t + a * a)) ** 2 + (b * y / (t + b * b)) ** 2 > 1.0:
                lo = t
            else:
                hi = t
        t = (lo + hi) / 2
        return math.hypot(x - a * a * x / (t + a * a), y - b * b * y / (t + b * b))

    @property
    def area(self) -> float:
        return math.pi * self.ru * self.rv


@dataclass(frozen=True, slots=True)
class Rect:
    cu: float
    cv: float
    width: float
    height: float

    def contains(self, u: float, v: float) -> bool:
        return abs(u - self.cu) <= self.width / 2 and abs(v - self.cv) <= self.height / 2

    def distance(self, u: float, v: float) -> float:
        """Inches from (u, v) to the outline; 0 inside."""
        du = max(abs(u - self.cu) - self.width / 2, 0.0)
        dv = max(abs(v - self.cv) - self.height / 2, 0.0)
        return math.hypot(du, dv)

    @property
    def area(self) -> float:
        return self.width * self.height


Shape = Ellipse | Rect


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    points: int
    shapes: tuple[Shape, ...]

    def contains(self, u: float, v: float, radius_in: float = 0.0) -> bool:
        """Does a hole of `radius_in` centred at (u, v) touch the zone?"""
        if radius_in <= 0.0:
            return any(s.contains(u, v) for s in self.shapes)
        return any(s.distance(u, v) <= radius_in for s in self.shapes)


@dataclass(frozen=True, slots=True)
class PaperTarget:
    kind: TargetKind
    width_in: float
    height_in: float
    zones: tuple[Zone, ...]  # best first: a point scores the first zone that contains it
    source: str

    def score(
        self, u_in: float, v_in: float, bullet_diameter_in: float = GAUGE_9MM_IN
    ) -> tuple[str, int]:
        """(zone, points) of a hole centred (u, v) inches from the target's centre: the best
        zone its edge touches (a hole cutting a line scores the higher zone; facts.md §5)."""
        for zone in self.zones:
            if zone.contains(u_in, v_in, bullet_diameter_in / 2):
                return zone.name, zone.points
        return "miss", 0

    def zone(self, name: str) -> Zone:
        return next(z for z in self.zones if z.name == name)

    def aim_point(self, zone_name: str, margin_in: float = 1.0) -> tuple[float, float]:
        """A point that scores `zone_name` with `margin_in` to spare on every side: where a
        scripted shooter aims to score that zone. The point nearest the target's centre wins."""
        best: tuple[float, float, float] | None = None
        step = 0.25
        for i in range(int(self.width_in / step) + 1):
            u = -self.width_in / 2 + i * step
            for j in range(int(self.height_in / step) + 1):
                v = -self.height_in / 2 + j * step
                around = [
                    (u + du, v + dv)
                    for du in (-margin_in, 0, margin_in)
                    for dv in (-margin_in, 0, margin_in)
                ]
                if all(self.score(a, b, 0.0)[0] == zone_name for a, b in around):
                    d = u * u + v * v
                    if best is None or d < best[0]:
                        best = (d, u, v)
        if best is None:
            raise ValueError(f"zone {zone_name} has no point {margin_in} in inside it")
        return best[1], best[2]


def _b27() -> PaperTarget:
    # facts.md §3: 24 x 45 in; X/10/9/8 rings score 5, the 7 ring 4, the rest of the silhouette 3.
    # Ring and outline dimensions were not found: concentric ovals and a head-and-torso outline,
    # a documented approximation.
    rings = [("x", 2.0, 3.0), ("10", 4.0, 6.0), ("9", 6.0, 9.0), ("8", 8.0, 12.0)]
    zones = [Zone(name, 5, (Ellipse(0.0, 2.0, ru, rv),)) for name, ru, rv in rings]
    zones.append(Zone("7", 4, (Ellipse(0.0, 2.0, 10.0, 15.0),)))
    zones.append(Zone("silhouette", 3, (Rect(0.0, -4.0, 22.0, 36.0), Ellipse(0.0, 17.5, 4.5, 5.0))))
    return PaperTarget(
        TargetKind.B27, 24.0, 45.0, tuple(zones), "facts.md §3 (outline approximated)"
    )


def _qit99() -> PaperTarget:
    # facts.md §3: two points per hit inside the "bottle", whose scoring area is ~192 in^2; the
    # outline was not found. Approximation: a 10 x 15 in body, a 3 x 5 in neck and a 5.5 in head,
    # 188 in^2 in all.
    bottle = (
        Rect(0.0, -4.0, 10.0, 15.0),
        Rect(0.0, 6.0, 3.0, 5.0),
        Ellipse(0.0, 11.25, 2.75, 2.75),
    )
    return PaperTarget(
        TargetKind.QIT99,
        19.0,
        38.0,
        (Zone("bottle", 2, bottle),),
        "facts.md §3 (bottle outline approximated to ~192 in^2)",
    )


def _uspsa() -> PaperTarget:
    # facts.md §3: A = 5, C = 4 (major), D = 2 (major). Zone sizes follow the USPSA metric target
    # approximately: an 18 x 30 in board, head above the body.
    zones = (
        Zone("A", 5, (Rect(0.0, -1.0, 6.0, 11.0), Rect(0.0, 12.0, 4.0, 2.0))),
        Zone("C", 4, (Rect(0.0, -1.0, 12.0, 19.0), Rect(0.0, 12.0, 6.0, 5.0))),
        Zone("D", 2, (Rect(0.0, -3.0, 18.0, 24.0), Rect(0.0, 12.0, 6.0, 6.0))),
    )
    return PaperTarget(TargetKind.USPSA, 18.0, 30.0, zones, "facts.md §3 (zone sizes approximated)")


TARGETS: dict[TargetKind, PaperTarget] = {
    TargetKind.B27: _b27(),
    TargetKind.QIT99: _qit99(),
    TargetKind.USPSA: _uspsa(),
}
