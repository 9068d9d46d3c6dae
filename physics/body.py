"""Human subjects as boxes with labelled regions, each knowing its TASER zone and clothing.

Dimensions are a documented approximation of an adult (1.78 m for the medium size), chosen so
that the regions a TASER manual names (facts.md §1, "target zones" and "zones to avoid") are
separate collision shapes. The subject's local frame has its origin on the floor between the
feet, +X the way the subject faces, +Z up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Region(StrEnum):
    HEAD = "head"
    FACE = "face"
    NECK = "neck"
    UPPER_CHEST = "upper_chest"
    ABDOMEN = "abdomen"
    PELVIS_GROIN = "pelvis_groin"
    UPPER_BACK = "upper_back"
    LOWER_BACK = "lower_back"
    ARM = "arm"
    LEG = "leg"


class TaserZone(StrEnum):
    PREFERRED = "preferred"
    ALLOWED = "allowed"
    AVOID = "avoid"


# ../shared/reference/facts.md §1: preferred front zones are the lower torso and legs, the back is
# preferred when the subject faces away; head, face, neck, chest and groin are to be avoided.
TASER_ZONE: dict[Region, TaserZone] = {
    Region.HEAD: TaserZone.AVOID,
    Region.FACE: TaserZone.AVOID,
    Region.NECK: TaserZone.AVOID,
    Region.UPPER_CHEST: TaserZone.AVOID,
    Region.PELVIS_GROIN: TaserZone.AVOID,
    Region.ABDOMEN: TaserZone.PREFERRED,
    Region.LEG: TaserZone.PREFERRED,
    Region.UPPER_BACK: TaserZone.PREFERRED,
    Region.LOWER_BACK: TaserZone.PREFERRED,
    Region.ARM: TaserZone.ALLOWED,
}


@dataclass(frozen=True, slots=True)
class Part:
    """One collision box: its region and its extent in the subject frame (metres)."""

    region: Region
    x: tuple[float, float]
    y: tuple[float, float]
    z: tuple[float, float]

    @property
    def centre(self) -> tuple[float, float, float]:
        return (sum(self.x) / 2, sum(self.y) / 2, sum(self.z) / 2)

    @property
    def half_extents(self) -> tuple[float, float, float]:
        return (
            (self.x[1] - self.x[0]) / 2,
            (self.y[1] - self.y[0]) / 2,
            (self.z[1] - self.z[0]) / 2,
        )


class Stance(StrEnum):
    STANDING = "standing"
    ARMS_RAISED = "arms_raised"
    KNEELING = "kneeling"


def _standing_medium() -> tuple[Part, ...]:
    r = Region
    parts = [
        Part(r.PELVIS_GROIN, (-0.11, 0.11), (-0.17, 0.17), (0.84, 1.00)),
        Part(r.ABDOMEN, (0.0, 0.12), (-0.16, 0.16), (1.00, 1.22)),
        Part(r.LOWER_BACK, (-0.11, 0.0), (-0.16, 0.16), (1.00, 1.22)),
        Part(r.UPPER_CHEST, (0.0, 0.12), (-0.19, 0.19), (1.22, 1.48)),
        Part(r.UPPER_BACK, (-0.11, 0.0), (-0.19, 0.19), (1.22, 1.48)),
        Part(r.NECK, (-0.06, 0.06), (-0.06, 0.06), (1.48, 1.58)),
        Part(r.HEAD, (-0.10, 0.02), (-0.08, 0.08), (1.58, 1.78)),
        Part(r.FACE, (0.02, 0.11), (-0.075, 0.075), (1.58, 1.76)),
    ]
    for side in (-1.0, 1.0):
        # Thighs touch at the top; shins stand apart.
        inner, outer = sorted((side * 0.005, side * 0.17))
        parts.append(Part(r.LEG, (-0.08, 0.08), (inner, outer), (0.45, 0.84)))
        inner, outer = sorted((side * 0.04, side * 0.15))
        parts.append(Part(r.LEG, (-0.06, 0.06), (inner, outer), (0.0, 0.45)))
        inner, outer = sorted((side * 0.20, side * 0.29))
        parts.append(Part(r.ARM, (-0.05, 0.05), (inner, outer), (0.80, 1.46)))
    return tuple(parts)


STANDING_MEDIUM = _standing_medium()
KNEEL_DROP_M = 0.40  # a kneeling adult's hips sit about a shin's length lower


def _posed(stance: Stance) -> tuple[Part, ...]:
    """The medium adult in a stance. Facing (toward the officer, away, side-on) is not a stance:
    it is the subject's yaw in the world."""
    if stance is Stance.STANDING:
        return STANDING_MEDIUM
    parts = []
    for part in STANDING_MEDIUM:
        if stance is Stance.ARMS_RAISED and part.region is Region.ARM:
            # Upper arm and forearm straight up beside the head, hands open.
            parts.append(Part(part.region, part.x, part.y, (1.40, 2.06)))
        elif stance is Stance.KNEELING and part.region is Region.LEG:
            if part.z[0] > 0.0:  # thigh: upright, knee on the floor
                parts.append(Part(part.region, part.x, part.y, (0.04, 0.44)))
            else:  # shin: flat on the floor behind the knee
                parts.append(Part(part.region, (-0.46, -0.04), part.y, (0.0, 0.11)))
        elif stance is Stance.KNEELING:
            parts.append(
                Part(
                    part.region,
                    part.x,
                    part.y,
                    (part.z[0] - KNEEL_DROP_M, part.z[1] - KNEEL_DROP_M),
                )
            )
        else:
            parts.append(part)
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class BodySize:
    """A scale on the medium adult: `height` scales Z, `girth` scales X and Y."""

    name: str
    height: float
    girth: float


BODY_SIZES = {
    "small": BodySize("small", 0.92, 0.90),
    "medium": BodySize("medium", 1.0, 1.0),
    "large": BodySize("large", 1.06, 1.18),
}

# Inches between the outer clothing surface and the skin, per region. A probe further than 2 in
# from the skin does not connect (facts.md §1, "clothing"). A T-shirt and jeans by default.
DEFAULT_CLOTHING_GAP_IN: dict[Region, float] = {region: 0.25 for region in Region}
DEFAULT_CLOTHING_GAP_IN |= {Region.HEAD: 0.0, Region.FACE: 0.0, Region.NECK: 0.0}


@dataclass(frozen=True, slots=True)
class SubjectBody:
    """The collision geometry of one subject and what each region means for a TASER probe."""

    size: BodySize = BODY_SIZES["medium"]
    clothing_gap_in: dict[Region, float] = field(
        default_factory=lambda: dict(DEFAULT_CLOTHING_GAP_IN)
    )
    stance: Stance = Stance.STANDING

    def parts(self) -> tuple[Part, ...]:
        h, g = self.size.height, self.size.girth
        return tuple(
            Part(
                p.region,
                (p.x[0] * g, p.x[1] * g),
                (p.y[0] * g, p.y[1] * g),
                (p.z[0] * h, p.z[1] * h),
            )
            for p in _posed(self.stance)
        )

    def in_stance(self, stance: Stance) -> SubjectBody:
        return SubjectBody(self.size, self.clothing_gap_in, stance)

    def aim_point(self, region: Region) -> tuple[float, float, float]:
        """Centre of the front face of the first part of `region`, in the subject frame."""
        part = next(p for p in self.parts() if p.region is region)
        _, cy, cz = part.centre
        return (part.x[1], cy, cz)
