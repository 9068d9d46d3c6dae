"""Human subjects: the articulated human of physics.human behind the drills' SubjectBody.

A SubjectBody is a size, a clothing gap per region, a stance and the attributes a judgement
needs (child, elderly, visibly pregnant). Its skeleton and segments come from physics.human;
`pose()` gives the joint rotations of its stance, which the world and the renderer both use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from physics.human import (
    AIM,
    BODY_SIZES,
    DEFAULT_CLOTHING_GAP_IN,
    MEDIUM_STATURE_M,
    OUTFITS,
    TASER_ZONE,
    BodySize,
    HumanPose,
    Posed,
    Region,
    Skeleton,
    Stance,
    TaserZone,
    build_skeleton,
    forward_kinematics,
    stance_pose,
    surface_point,
    zone_map,
)

__all__ = [
    "BODY_SIZES",
    "DEFAULT_CLOTHING_GAP_IN",
    "OUTFITS",
    "TASER_ZONE",
    "BodySize",
    "HumanPose",
    "Region",
    "Stance",
    "SubjectBody",
    "TaserZone",
    "body_for",
]


@dataclass(frozen=True, slots=True)
class SubjectBody:
    """The shape of one subject and what each region of its surface means for a TASER probe."""

    size: BodySize = BODY_SIZES["medium"]
    clothing_gap_in: dict[Region, float] = field(
        default_factory=lambda: dict(DEFAULT_CLOTHING_GAP_IN)
    )
    stance: Stance = Stance.STANDING
    child: bool = False
    elderly: bool = False
    pregnant: bool = False

    def skeleton(self) -> Skeleton:
        """Rest skeleton and segments (cached per size, clothing and attributes)."""
        gaps = tuple(sorted(self.clothing_gap_in.items()))
        return build_skeleton(
            self.size.height, self.size.girth, gaps, self.child, self.elderly, self.pregnant
        )

    def pose(self) -> HumanPose:
        """The joint rotations of this body's stance."""
        return stance_pose(self.skeleton(), self.stance, self.elderly)

    def posed(self, pose: HumanPose | None = None) -> Posed:
        """Joint frames in the subject frame, for `pose` or this body's stance."""
        return forward_kinematics(self.skeleton(), pose or self.pose())

    @property
    def zones(self) -> dict[Region, TaserZone]:
        """Region to TASER zone for this subject (facts.md §1, §5)."""
        return zone_map(self.pregnant)

    def in_stance(self, stance: Stance) -> SubjectBody:
        return SubjectBody(
            self.size, self.clothing_gap_in, stance, self.child, self.elderly, self.pregnant
        )

    def aim_point(
        self, region: Region, pose: HumanPose | None = None
    ) -> tuple[float, float, float]:
        """A point 2 mm inside the surface of `region`, seen from the front for front regions
        and from behind for back regions, in the subject frame (posed in this body's stance)."""
        skeleton = self.skeleton()
        name, s, angle = AIM[region]
        seg = next(x for x in skeleton.segments if x.name == name)
        rest = surface_point(skeleton, name, s, angle)
        posed = self.posed(pose)
        i = seg.joint
        point = posed.position[i] + posed.rotation[i] @ (rest - skeleton.rest[i])
        return (float(point[0]), float(point[1]), float(point[2]))


# A juvenile (the drills' age group between child and adult) is drawn at 14 years: CDC 2000
# stature-for-age 50th percentile, boys 164 cm and girls 160 cm at 14.0 years; their mean.
JUVENILE_STATURE_M = 1.62
JUVENILE_GIRTH = 0.85  # breadths of a 14-year-old against an adult's (chosen)
FRAIL_GIRTH = 0.80  # "visibly frail or of low body mass" (facts.md §5): breadths (chosen)


def body_for(
    size: str = "medium",
    clothing_gap_in: float | None = None,
    *,
    child: bool = False,
    juvenile: bool = False,
    elderly: bool = False,
    pregnant: bool = False,
    frail: bool = False,
    outfit: str | None = None,
    stance: Stance = Stance.STANDING,
) -> SubjectBody:
    """The body a drill subject's attributes call for (the judgement issue's child / juvenile /
    elderly / visibly pregnant / frail / outfit fields): `size` a key of BODY_SIZES, `outfit` a
    key of OUTFITS (per-region clothing gaps), `clothing_gap_in` one gap for every clothed region
    instead (head, face and neck stay bare). A child is 1.38 m whatever its size (CDC, 10 years),
    a juvenile JUVENILE_STATURE_M with JUVENILE_GIRTH of the size's breadths, a frail subject
    FRAIL_GIRTH of them. Raises ValueError naming the known sizes or outfits."""
    if size not in BODY_SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(BODY_SIZES)}")
    if outfit is not None and outfit not in OUTFITS:
        raise ValueError(f"unknown outfit {outfit!r}; known: {', '.join(OUTFITS)}")
    gaps = dict(OUTFITS[outfit] if outfit is not None else DEFAULT_CLOTHING_GAP_IN)
    if clothing_gap_in is not None:
        gaps = {r: clothing_gap_in if gaps[r] > 0 else 0.0 for r in gaps}
    scale = BODY_SIZES[size]
    height, girth = scale.height, scale.girth
    if juvenile and not child:
        height, girth = JUVENILE_STATURE_M / MEDIUM_STATURE_M, girth * JUVENILE_GIRTH
    if frail:
        girth *= FRAIL_GIRTH
    if (height, girth) != (scale.height, scale.girth):
        scale = BodySize(f"{size}-{'juvenile' if juvenile else 'frail'}", height, girth)
    return SubjectBody(scale, gaps, stance, child, elderly, pregnant)
