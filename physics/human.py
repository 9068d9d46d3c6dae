"""An articulated human: a skeleton of 17 joints carrying 17 convex segments, posed by joint
rotations; one posed skeleton gives the collision hulls (physics.world) and the drawn mesh
(range.review.render), so what is drawn is what is hit.

Subject frame: origin on the floor between the feet, +X the way the subject faces, +Y its left,
+Z up; metres. Segment proportions are fractions of stature after Drillis & Contini (1966), as
drawn in Winter, *Biomechanics and Motor Control of Human Movement* (4th ed., 2009), Fig. 4.1;
breadths, depths and circumferences are ANSUR II (Gordon et al. 2014) male means, rounded to the
centimetre (docs/physics.md lists every row). Each segment is a loft of elliptical rings with
rounded end caps: a convex polyhedron that PyBullet takes as a convex hull (GEOM_MESH) and the
renderer draws triangle for triangle.

The TASER zone of a hit is read from where it lands on the body surface (`region_at`), not from
which shape it hit: the back of the pelvis is the buttocks (preferred), its front the pelvic
triangle (preferred) around the groin (avoid), facts.md §1 and §5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from physics import _kernel

F64 = NDArray[np.float64]
AROUND = 12  # vertices per ring: a 12-gon under-fills a circle by 3.4 % of its radius at most


class Region(StrEnum):
    HEAD = "head"
    FACE = "face"
    NECK = "neck"
    UPPER_CHEST = "upper_chest"
    ABDOMEN = "abdomen"
    PELVIS_GROIN = "pelvis_groin"  # the groin itself (facts.md §5)
    UPPER_BACK = "upper_back"
    LOWER_BACK = "lower_back"
    ARM = "arm"
    LEG = "leg"
    PELVIS = "pelvis"  # the front pelvic triangle and the hips round the groin
    BUTTOCKS = "buttocks"


class TaserZone(StrEnum):
    PREFERRED = "preferred"
    ALLOWED = "allowed"
    AVOID = "avoid"


# facts.md §1 and §5: preferred are the back below the neck, the buttocks, the legs and the lower
# front torso below the chest (the pelvic triangle is the Bulletin 15 aim point); avoid the head,
# face, neck, chest/breast and the groin itself.
# facts.md §1: a probe more than 2 in from the skin does not connect (physics.taser uses it;
# kept here so that reading a log's probe records needs no PyBullet).
MAX_CONNECT_GAP_IN = 2.0

TASER_ZONE: dict[Region, TaserZone] = {
    Region.HEAD: TaserZone.AVOID,
    Region.FACE: TaserZone.AVOID,
    Region.NECK: TaserZone.AVOID,
    Region.UPPER_CHEST: TaserZone.AVOID,
    Region.PELVIS_GROIN: TaserZone.AVOID,
    Region.ABDOMEN: TaserZone.PREFERRED,
    Region.PELVIS: TaserZone.PREFERRED,
    Region.BUTTOCKS: TaserZone.PREFERRED,
    Region.LEG: TaserZone.PREFERRED,
    Region.UPPER_BACK: TaserZone.PREFERRED,
    Region.LOWER_BACK: TaserZone.PREFERRED,
    Region.ARM: TaserZone.ALLOWED,
}


class Stance(StrEnum):
    STANDING = "standing"
    ARMS_RAISED = "arms_raised"
    KNEELING = "kneeling"


@dataclass(frozen=True, slots=True)
class BodySize:
    """A scale on the medium adult: `height` scales stature, `girth` breadths and depths."""

    name: str
    height: float
    girth: float


MEDIUM_STATURE_M = 1.756  # ANSUR II male mean stature, 1756 mm (Gordon et al. 2014)
BODY_SIZES = {
    # ANSUR II female mean stature 1629 mm / 1756 = 0.928; slighter build.
    "small": BodySize("small", 0.928, 0.90),
    "medium": BodySize("medium", 1.0, 1.0),
    # About the ANSUR II male 95th percentile stature (1.86 m), heavy build.
    "large": BodySize("large", 1.06, 1.18),
}
CHILD_STATURE_M = 1.38  # CDC 2000 growth charts: 50th percentile stature at 10 years
ELDERLY_STATURE_LOSS_M = 0.05  # about 1 cm a decade after 40 (Sorkin et al. 1999, BLSA)
ELDERLY_STOOP_RAD = math.radians(15.0)  # thoracic kyphosis, a forward stoop (chosen)
PREGNANT_BELLY_M = 0.15  # third-trimester abdomen, forward of the non-pregnant wall (chosen)

# Inches between the outer clothing surface and the skin, per region: the segments are drawn and
# hit at the clothing surface, and a probe further than 2 in from the skin does not connect
# (facts.md §1, "clothing"). A T-shirt and jeans by default.
DEFAULT_CLOTHING_GAP_IN: dict[Region, float] = {region: 0.25 for region in Region}
DEFAULT_CLOTHING_GAP_IN |= {Region.HEAD: 0.0, Region.FACE: 0.0, Region.NECK: 0.0}
# Outfits (chosen thicknesses; docs/physics.md): the region's gap, in inches.
OUTFITS: dict[str, dict[Region, float]] = {
    "tshirt_jeans": DEFAULT_CLOTHING_GAP_IN,
    "hoodie": DEFAULT_CLOTHING_GAP_IN
    | {r: 0.6 for r in (Region.UPPER_CHEST, Region.ABDOMEN, Region.UPPER_BACK, Region.ARM)}
    | {Region.LOWER_BACK: 0.6},
    "winter_coat": DEFAULT_CLOTHING_GAP_IN
    | {
        r: 2.5
        for r in (
            Region.UPPER_CHEST,
            Region.ABDOMEN,
            Region.UPPER_BACK,
            Region.LOWER_BACK,
            Region.BUTTOCKS,
        )
    }
    | {Region.ARM: 1.5, Region.PELVIS: 2.5},
}

IN_M = 0.0254

JOINTS = (
    "pelvis",
    "lumbar",
    "thorax",
    "neck",
    "head",
    "shoulder_l",
    "elbow_l",
    "wrist_l",
    "shoulder_r",
    "elbow_r",
    "wrist_r",
    "hip_l",
    "knee_l",
    "ankle_l",
    "hip_r",
    "knee_r",
    "ankle_r",
)
PARENT: dict[str, str | None] = {
    "pelvis": None,
    "lumbar": "pelvis",
    "thorax": "lumbar",
    "neck": "thorax",
    "head": "neck",
    "shoulder_l": "thorax",
    "elbow_l": "shoulder_l",
    "wrist_l": "elbow_l",
    "shoulder_r": "thorax",
    "elbow_r": "shoulder_r",
    "wrist_r": "elbow_r",
    "hip_l": "pelvis",
    "knee_l": "hip_l",
    "ankle_l": "knee_l",
    "hip_r": "pelvis",
    "knee_r": "hip_r",
    "ankle_r": "knee_r",
}
# The segment each joint carries (the segment moves with that joint's frame).
SEGMENT_OF = {
    "pelvis": "pelvis",
    "lumbar": "abdomen",
    "thorax": "chest",
    "neck": "neck",
    "head": "head",
    "shoulder_l": "upper_arm_l",
    "elbow_l": "forearm_l",
    "wrist_l": "hand_l",
    "shoulder_r": "upper_arm_r",
    "elbow_r": "forearm_r",
    "wrist_r": "hand_r",
    "hip_l": "thigh_l",
    "knee_l": "shin_l",
    "ankle_l": "foot_l",
    "hip_r": "thigh_r",
    "knee_r": "shin_r",
    "ankle_r": "foot_r",
}
SEGMENTS = tuple(SEGMENT_OF[j] for j in JOINTS)  # segment i hangs on joint i


def _region_of_segment(segment: str) -> Region:
    """The clothing region a segment's surface belongs to (its zone map refines it)."""
    if segment.startswith(("upper_arm", "forearm", "hand")):
        return Region.ARM
    if segment.startswith(("thigh", "shin", "foot")):
        return Region.LEG
    return {
        "pelvis": Region.PELVIS,
        "abdomen": Region.ABDOMEN,
        "chest": Region.UPPER_CHEST,
        "neck": Region.NECK,
        "head": Region.HEAD,
    }[segment]


# Built every frame (~10 a subject): numpy allocates, the kernel fills in one call (~0.25 us,
# where np.array of a 9-tuple and a reshape took ~0.6 us); the values are those of
# (1, 0, 0), (0, c, -s), (0, s, c) and so on with math.cos and math.sin (tests/test_kernel.py).
_SHAPE_3X3 = (3, 3)


def rot_x(a: float) -> F64:
    out = np.empty(_SHAPE_3X3)
    _kernel.rotation(0, a, out)
    return out


def rot_y(a: float) -> F64:
    out = np.empty(_SHAPE_3X3)
    _kernel.rotation(1, a, out)
    return out


def rot_z(a: float) -> F64:
    out = np.empty(_SHAPE_3X3)
    _kernel.rotation(2, a, out)
    return out


@dataclass(frozen=True, slots=True)
class Ring:
    """One elliptical cross-section of a loft: at `s` (fraction of the segment's axis from its
    start joint to its end point), half-widths `a` (lateral) and `b` (depth), centre moved `dw`
    metres along the depth direction."""

    s: float
    a: float
    b: float
    dw: float = 0.0


@dataclass(frozen=True, slots=True)
class Segment:
    """One convex segment: rest-frame vertices (V, 3) and outward triangles (F, 3)."""

    name: str
    joint: int
    region: Region
    vertices: F64
    faces: NDArray[np.int64]
    start: F64  # rest-frame axis ends
    end: F64
    depth_axis: F64  # unit: the loft's "b" direction (forward for torso and limbs)
    lateral_axis: F64

    @property
    def vertex_normals(self) -> F64:
        """(V, 3) unit outward normals: the mean of the faces round each vertex."""
        tri = self.vertices[self.faces]
        face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        face_n /= np.maximum(np.linalg.norm(face_n, axis=1, keepdims=True), 1e-12)
        out = np.zeros_like(self.vertices)
        for k in range(3):
            np.add.at(out, self.faces[:, k], face_n)
        return np.asarray(out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12))

    @property
    def hull_vertices(self) -> F64:
        """The vertices the hull's faces use (points inside or on a face left out)."""
        return np.asarray(self.vertices[np.unique(self.faces)])


def _loft(
    start: F64, end: F64, rings: list[Ring], depth_hint: F64, cap0: float, cap1: float
) -> tuple[F64, NDArray[np.int64], F64, F64]:
    """Vertices and faces of a loft of `rings` from `start` to `end`, closed with elliptical caps
    `cap0` / `cap1` long (metres) beyond the first and last ring."""
    axis = end - start
    length = float(np.linalg.norm(axis))
    u = axis / length
    w = depth_hint - (depth_hint @ u) * u
    w /= np.linalg.norm(w)
    v = np.cross(u, w)
    theta = np.linspace(0.0, 2 * math.pi, AROUND, endpoint=False)
    cos, sin = np.cos(theta), np.sin(theta)

    def ring_points(centre: F64, a: float, b: float) -> F64:
        return np.asarray(centre + np.outer(b * cos, w) + np.outer(a * sin, v))

    layers: list[F64] = []
    first, last = rings[0], rings[-1]
    # Start cap: rings at 60 and 30 degrees of latitude, then the pole.
    for lat in (60.0, 30.0):
        k, d = math.cos(math.radians(lat)), math.sin(math.radians(lat))
        c = start + u * (first.s * length - cap0 * d) + w * first.dw
        layers.append(ring_points(c, first.a * k, first.b * k))
    for r in rings:
        layers.append(ring_points(start + u * r.s * length + w * r.dw, r.a, r.b))
    for lat in (30.0, 60.0):
        k, d = math.cos(math.radians(lat)), math.sin(math.radians(lat))
        c = start + u * (last.s * length + cap1 * d) + w * last.dw
        layers.append(ring_points(c, last.a * k, last.b * k))
    pole0 = start + u * (first.s * length - cap0) + w * first.dw
    pole1 = start + u * (last.s * length + cap1) + w * last.dw
    verts = np.vstack([pole0[None], *layers, pole1[None]])
    n_layers = len(layers)
    faces: list[tuple[int, int, int]] = []
    for i in range(AROUND):
        j = (i + 1) % AROUND
        faces.append((0, 1 + j, 1 + i))
        for layer in range(n_layers - 1):
            a0, b0 = 1 + layer * AROUND, 1 + (layer + 1) * AROUND
            faces.append((a0 + i, a0 + j, b0 + j))
            faces.append((a0 + i, b0 + j, b0 + i))
        top = 1 + (n_layers - 1) * AROUND
        faces.append((top + i, top + j, len(verts) - 1))
    del faces  # the loft's own triangles are not always convex: draw its hull instead
    return verts, convex_hull(verts), w, v


def convex_hull(points: F64) -> NDArray[np.int64]:
    """Outward-wound triangles (F, 3) of the convex hull of a few hundred points (incremental
    construction), so that the drawn surface is exactly the hull PyBullet collides with."""
    n = len(points)
    scale = float(np.ptp(points, axis=0).max())
    eps = 1e-9 * scale
    # A first tetrahedron from four far-apart, non-coplanar points.
    i0 = int(np.argmin(points[:, 0]))
    i1 = int(np.argmax(np.linalg.norm(points - points[i0], axis=1)))
    line = points[i1] - points[i0]
    i2 = int(np.argmax(np.linalg.norm(np.cross(points - points[i0], line), axis=1)))
    normal = np.cross(line, points[i2] - points[i0])
    i3 = int(np.argmax(np.abs((points - points[i0]) @ normal)))
    faces = [(i0, i1, i2), (i0, i2, i3), (i0, i3, i1), (i1, i3, i2)]
    inside = points[[i0, i1, i2, i3]].mean(axis=0)

    def outward(f: tuple[int, int, int]) -> tuple[int, int, int]:
        a, b, c = points[list(f)]
        if np.cross(b - a, c - a) @ (a - inside) < 0:
            return (f[0], f[2], f[1])
        return f

    faces = [outward(f) for f in faces]
    for k in range(n):
        if k in (i0, i1, i2, i3):
            continue
        p = points[k]
        tri = points[np.asarray(faces)]
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        lengths = np.linalg.norm(normals, axis=1)
        visible = ((p - tri[:, 0]) * normals).sum(axis=1) > eps * lengths
        if not visible.any():
            continue
        edges = {
            (f[e], f[(e + 1) % 3])
            for f, vis in zip(faces, visible, strict=True)
            if vis
            for e in range(3)
        }
        horizon = [(a, b) for a, b in edges if (b, a) not in edges]
        faces = [f for f, vis in zip(faces, visible, strict=True) if not vis]
        faces += [(a, b, k) for a, b in horizon]
    return np.asarray(faces, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Skeleton:
    """A body's rest skeleton (standing, arms at the sides, feet together) and segments."""

    rest: F64  # (J, 3) joint positions in the subject frame
    segments: tuple[Segment, ...]
    stature_m: float
    pregnant: bool
    knee_radius_m: float  # what a kneeling subject rests on
    belly: tuple[float, float, float]  # abdomen centre x, half-depth, half-width at its widest


def _gap_m(gaps: dict[Region, float], region: Region) -> float:
    return gaps.get(region, 0.0) * IN_M


def build_skeleton(
    height: float,
    girth: float,
    gaps: tuple[tuple[Region, float], ...],
    child: bool = False,
    elderly: bool = False,
    pregnant: bool = False,
) -> Skeleton:
    return _build(height, girth, gaps, child, elderly, pregnant)


@lru_cache(maxsize=64)
def _build(
    height: float,
    girth: float,
    gaps_t: tuple[tuple[Region, float], ...],
    child: bool,
    elderly: bool,
    pregnant: bool,
) -> Skeleton:
    gaps = dict(gaps_t)
    stature = MEDIUM_STATURE_M * height
    g = girth
    if child:
        stature = CHILD_STATURE_M
        g *= 0.62  # a 10-year-old's breadths are about 60-65 % of an adult's (chosen)
    if elderly:
        stature -= ELDERLY_STATURE_LOSS_M
    h = stature
    j = {
        # Winter 2009 Fig. 4.1 fractions of stature (Drillis & Contini 1966).
        "pelvis": (0.0, 0.0, 0.530 * h),  # hip joint height (greater trochanter)
        "lumbar": (0.0, 0.0, 0.610 * h),
        "thorax": (0.0, 0.0, 0.690 * h),
        "neck": (0.0, 0.0, 0.818 * h),  # shoulder (acromion) height
        "head": (0.0, 0.0, 0.870 * h),  # chin
        "shoulder_l": (0.0, 0.108 * h * g, 0.800 * h),
        "elbow_l": (0.0, 0.118 * h * g, 0.630 * h),
        "wrist_l": (0.0, 0.118 * h * g, 0.485 * h),
        "hip_l": (0.0, 0.048 * h * g, 0.530 * h),
        "knee_l": (0.0, 0.036 * h * g, 0.285 * h),
        "ankle_l": (0.0, 0.021 * h * g, 0.039 * h),
    }
    for name in list(j):
        if name.endswith("_l"):
            x, y, z = j[name]
            j[name[:-2] + "_r"] = (x, -y, z)
    rest = np.array([j[name] for name in JOINTS], dtype=float)
    # Per-metre-of-stature breadths (ANSUR II male means / 1.756 m), times the girth scale.
    k = h / MEDIUM_STATURE_M * g
    cloth = {r: _gap_m(gaps, r) for r in Region}
    torso_c = cloth[Region.ABDOMEN]
    x_axis, z_axis = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    segs: list[Segment] = []

    def add(
        name: str,
        start: F64,
        end: F64,
        rings: list[Ring],
        depth_hint: F64,
        cap0: float,
        cap1: float,
        region: Region | None = None,
    ) -> None:
        verts, faces, w, v = _loft(start, end, rings, depth_hint, cap0, cap1)
        joint = JOINTS.index(next(jn for jn, s in SEGMENT_OF.items() if s == name))
        segs.append(
            Segment(name, joint, region or _region_of_segment(name), verts, faces, start, end, w, v)
        )

    def at(name: str) -> F64:
        return np.asarray(rest[JOINTS.index(name)])

    # Torso, bottom to top: (s, half-width, half-depth, forward offset). Hip breadth 35 cm,
    # buttock depth 25 cm, waist 31 x 24 cm, chest 33 x 26 cm; the segments overlap 2 cm.
    crotch_z = 0.470 * h
    pelvis_top = 0.625 * h
    tc = torso_c
    add(
        "pelvis",
        np.array([0.0, 0.0, crotch_z]),
        np.array([0.0, 0.0, pelvis_top]),
        [
            Ring(0.0, 0.12 * k + tc, 0.10 * k + tc),
            Ring(0.45, 0.175 * k + tc, 0.125 * k + tc),
            Ring(1.0, 0.160 * k + tc, 0.120 * k + tc),
        ],
        x_axis,
        0.035 * k,
        0.01,
    )
    belly_dw, belly_b = 0.0, 0.120 * k + tc
    if pregnant:
        belly_dw, belly_b = PREGNANT_BELLY_M / 2, 0.120 * k + PREGNANT_BELLY_M / 2 + tc
    abd0, abd1 = 0.605 * h, 0.705 * h
    add(
        "abdomen",
        np.array([0.0, 0.0, abd0]),
        np.array([0.0, 0.0, abd1]),
        [Ring(0.0, 0.160 * k + tc, 0.120 * k + tc)]
        + [
            # A rounded belly: the forward bulge grows as sin(pi s) over the segment.
            Ring(
                s,
                0.160 * k + tc,
                0.120 * k + tc + (belly_b - 0.120 * k - tc) * math.sin(math.pi * s),
                belly_dw * math.sin(math.pi * s),
            )
            for s in (0.2, 0.35, 0.5, 0.65, 0.8)
        ]
        + [Ring(1.0, 0.160 * k + tc, 0.125 * k + tc)],
        x_axis,
        0.01,
        0.01,
    )
    chest_c = cloth[Region.UPPER_CHEST]
    add(
        "chest",
        np.array([0.0, 0.0, 0.690 * h]),
        np.array([0.0, 0.0, 0.815 * h]),
        [
            Ring(0.0, 0.160 * k + chest_c, 0.125 * k + chest_c),
            Ring(0.4, 0.170 * k + chest_c, 0.130 * k + chest_c),
            Ring(1.0, 0.185 * k + chest_c, 0.105 * k + chest_c),
        ],
        x_axis,
        0.01,
        0.03 * k,
    )
    nr = 0.062 * k  # neck circumference 39 cm
    add(
        "neck",
        at("neck") - z_axis * 0.01 * h,
        at("head") + z_axis * 0.005 * h,
        [Ring(0.0, nr, nr), Ring(1.0, nr * 0.92, nr * 0.92)],
        x_axis,
        0.0,
        0.0,
    )
    head_k = k * (1.2 if child else 1.0)  # a child's head is large for its stature
    head_b = 0.1 * head_k  # head length 19.7 cm
    head_a = 0.078 * head_k  # head breadth 15.5 cm
    top = 1.0 * h
    add(
        "head",
        at("head") - z_axis * 0.004 * h,
        np.array([0.0, 0.0, top]) - z_axis * head_a * 0.6,
        [
            Ring(0.0, head_a * 0.75, head_b * 0.8, 0.012),
            Ring(0.5, head_a, head_b, 0.0),
            Ring(1.0, head_a * 0.95, head_b * 0.95, -0.005),
        ],
        x_axis,
        0.02 * head_k,
        head_a * 0.6,
    )
    arm_c = cloth[Region.ARM]
    leg_c = cloth[Region.LEG]
    for side in ("l", "r"):
        sh, el, wr = at(f"shoulder_{side}"), at(f"elbow_{side}"), at(f"wrist_{side}")
        ra = 0.054 * k + arm_c  # biceps circumference 34 cm
        add(
            f"upper_arm_{side}",
            sh,
            el,
            [Ring(0.0, ra * 1.05, ra * 1.05), Ring(0.5, ra, ra), Ring(1.0, ra * 0.85, ra * 0.85)],
            x_axis,
            ra * 0.9,
            ra * 0.5,
        )
        rf = 0.048 * k + arm_c  # forearm circumference 30 cm
        add(
            f"forearm_{side}",
            el,
            wr,
            [Ring(0.0, rf, rf), Ring(0.3, rf, rf), Ring(1.0, rf * 0.6, rf * 0.6)],
            x_axis,
            rf * 0.8,
            rf * 0.3,
        )
        tip = wr + (wr - el) / np.linalg.norm(wr - el) * 0.108 * h  # hand length 0.108 H
        hb, ht = 0.045 * k, 0.016 * k  # hand breadth 9 cm, thickness 3 cm
        add(
            f"hand_{side}",
            wr,
            tip,
            [Ring(0.0, ht, hb * 0.8), Ring(0.5, ht, hb), Ring(1.0, ht * 0.7, hb * 0.8)],
            x_axis,
            0.01,
            0.015,
        )
        hp, kn, an = at(f"hip_{side}"), at(f"knee_{side}"), at(f"ankle_{side}")
        rt = 0.095 * k + leg_c  # thigh circumference 62 cm (at the gluteal fold)
        rk = 0.060 * k + leg_c  # knee and calf circumference 39 cm
        ran = 0.040 * k + leg_c  # ankle 23 cm, plus a sock and shoe collar
        # The thigh starts at the crotch (joint at hip height) and ends at the knee.
        add(
            f"thigh_{side}",
            hp,
            kn,
            [Ring(0.0, rt, rt), Ring(0.25, rt * 0.95, rt * 0.95), Ring(1.0, rk, rk)],
            x_axis,
            rt * 0.5,
            rk * 0.6,
        )
        add(
            f"shin_{side}",
            kn,
            an,
            [Ring(0.0, rk, rk), Ring(0.3, rk, rk * 1.05), Ring(1.0, ran, ran)],
            x_axis,
            rk * 0.4,
            ran * 0.6,
        )
        foot_len = 0.152 * h  # foot length 0.152 H
        fw = 0.05 * k + 0.005  # foot breadth 10 cm, plus the shoe
        heel = np.array([-0.25 * foot_len, an[1], 0.035 * h * 0.5])
        toe = np.array([0.75 * foot_len, an[1], 0.035 * h * 0.5])
        add(
            f"foot_{side}",
            heel,
            toe,
            [Ring(0.0, fw * 0.8, 0.035 * h * 0.5), Ring(0.6, fw, 0.035 * h * 0.5)],
            z_axis,
            0.02,
            0.03,
        )
    order = {name: i for i, name in enumerate(SEGMENTS)}
    segs.sort(key=lambda s: order[s.name])
    belly_x = belly_dw
    return Skeleton(
        rest, tuple(segs), h, pregnant, 0.060 * k + leg_c, (belly_x, belly_b, 0.155 * k + tc)
    )


@dataclass(frozen=True, slots=True)
class HumanPose:
    """A pose: the pelvis moved by `root_offset_m` from its rest place and turned by
    `root_rotation`, and each joint turned in its parent's frame (absent joints: no turn)."""

    root_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    root_rotation: F64 = field(default_factory=lambda: np.eye(3))
    joints: dict[str, F64] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Posed:
    """Joint frames of a posed skeleton in the subject frame: positions (J, 3), rotations
    (J, 3, 3). A rest-frame point q of segment i is at
    `position[i] + rotation[i] @ (q - rest[i])`."""

    position: F64
    rotation: F64


JOINT_INDEX = {name: i for i, name in enumerate(JOINTS)}
# Each joint's parent's index (-1: the pelvis), parents before children (physics._kernel).
JOINT_PARENTS = tuple(JOINT_INDEX[PARENT[name] or ""] if PARENT[name] else -1 for name in JOINTS)


def forward_kinematics(skeleton: Skeleton, pose: HumanPose) -> Posed:
    """Joint frames of `skeleton` in `pose`, in the subject frame (physics._kernel: each joint's
    frame from its parent's, R_j = R_parent @ local_j, p_j = p_parent + R_parent @ (rest_j -
    rest_parent), the products numpy's matmul computes; tests/test_kernel.py)."""
    pos, rot = forward_kinematics_arrays([skeleton], [pose])
    return Posed(pos[0], rot[0])


def forward_kinematics_batch(skeletons: list[Skeleton], poses: list[HumanPose]) -> list[Posed]:
    """`forward_kinematics` of many subjects at once (skeletons[k] in poses[k]), in one kernel
    call; the same bits as one at a time (tests/test_fast_paths.py)."""
    if not poses:
        return []
    pos, rot = forward_kinematics_arrays(skeletons, poses)
    return [Posed(pos[k], rot[k]) for k in range(len(poses))]


def forward_kinematics_arrays(
    skeletons: list[Skeleton],
    poses: list[HumanPose],
    placements: list[tuple[F64, tuple[float, float, float]]] | None = None,
) -> tuple[F64, F64]:
    """forward_kinematics_batch as two arrays: positions (S, J, 3), rotations (S, J, 3, 3).
    With `placements` (a yaw matrix (3, 3) and the feet (x, y, z) metres per subject), the
    frames in the world: feet + yaw @ p, yaw @ R (RangeWorld's subjects)."""
    count = len(poses)
    pos = np.empty((count, len(JOINTS), 3))
    rot = np.empty((count, len(JOINTS), 3, 3))
    _kernel.forward_kinematics(
        [sk.rest for sk in skeletons],
        [pose.joints for pose in poses],
        [pose.root_rotation for pose in poses],
        [pose.root_offset_m for pose in poses],
        placements,
        JOINT_INDEX,
        JOINT_PARENTS,
        pos,
        rot,
    )
    return pos, rot


def posed_vertices(skeleton: Skeleton, posed: Posed) -> list[F64]:
    """Each segment's vertices in the subject frame."""
    out = []
    for seg in skeleton.segments:
        i = seg.joint
        out.append(posed.position[i] + (seg.vertices - skeleton.rest[i]) @ posed.rotation[i].T)
    return out


def stance_pose(skeleton: Skeleton, stance: Stance, elderly: bool = False) -> HumanPose:
    """The pose of a drill stance. Facing is not a stance: it is the subject's yaw."""
    joints: dict[str, F64] = {}
    offset = (0.0, 0.0, 0.0)
    if elderly:
        joints["thorax"] = rot_y(ELDERLY_STOOP_RAD)
        joints["neck"] = rot_y(-ELDERLY_STOOP_RAD * 0.7)
    if stance is Stance.ARMS_RAISED:
        # Arms straight up beside the head, a little out to the side, hands open.
        joints["shoulder_l"] = rot_x(math.radians(165.0))
        joints["shoulder_r"] = rot_x(math.radians(-165.0))
    elif stance is Stance.KNEELING:
        # Upright on both knees: thighs vertical, shins flat on the floor behind, feet flat.
        knee = skeleton.rest[JOINTS.index("knee_l")]
        offset = (0.0, 0.0, -(float(knee[2]) - skeleton.knee_radius_m))
        for side in ("l", "r"):
            joints[f"knee_{side}"] = rot_y(math.radians(90.0))
            joints[f"ankle_{side}"] = rot_y(math.radians(90.0))
    return HumanPose(offset, np.eye(3), joints)


def region_at(skeleton: Skeleton, segment: int, rest_point: F64) -> Region:
    """The surface region at a point given in the rest frame of segment `segment` (a hit
    point moved back through the segment's joint transform): the zone map."""
    return Region(REGION_VALUES[region_codes(skeleton, np.full(1, segment), rest_point[None])[0]])


REGION_LIST = list(Region)
REGION_VALUES = [r.value for r in REGION_LIST]


@dataclass(frozen=True, slots=True)
class _ZoneTable:
    """What `region_codes` needs of a skeleton, computed once: each segment's own region
    code, the segments the map splits, and its thresholds."""

    base: NDArray[np.int64]  # (S,) region code of each segment
    base_list: tuple[int, ...]
    head: int
    chest: int
    abdomen: int
    pelvis: int
    thigh_l: int
    thigh_r: int
    face_x: float
    face_z: float
    groin_half: float
    groin_z: float
    crotch_y: float
    crotch_z: float


_REGION_INDEX = {r: i for i, r in enumerate(Region)}
_FACE, _UPPER_BACK, _LOWER_BACK, _BUTTOCKS, _GROIN = (
    _REGION_INDEX[r]
    for r in (
        Region.FACE,
        Region.UPPER_BACK,
        Region.LOWER_BACK,
        Region.BUTTOCKS,
        Region.PELVIS_GROIN,
    )
)
_ZONE_TABLES: dict[int, tuple[Skeleton, _ZoneTable]] = {}


def _zone_table(skeleton: Skeleton) -> _ZoneTable:
    cached = _ZONE_TABLES.get(id(skeleton))
    if cached is not None and cached[0] is skeleton:
        return cached[1]
    at = {seg.name: i for i, seg in enumerate(skeleton.segments)}
    base = [_REGION_INDEX[seg.region] for seg in skeleton.segments]
    h = skeleton.stature_m
    table = _ZoneTable(
        np.array(base, dtype=np.int64),
        tuple(base),
        at["head"],
        at["chest"],
        at["abdomen"],
        at["pelvis"],
        at["thigh_l"],
        at["thigh_r"],
        0.03 * h / MEDIUM_STATURE_M,
        0.955 * h,
        0.06 * h / MEDIUM_STATURE_M,
        0.50 * h,
        0.02 * h / MEDIUM_STATURE_M,
        0.455 * h,
    )
    if len(_ZONE_TABLES) > 64:  # skeletons are few and cached by body; bound it anyway
        _ZONE_TABLES.clear()
    _ZONE_TABLES[id(skeleton)] = (skeleton, table)
    return table


def zone_arrays(skeleton: Skeleton) -> tuple[F64, NDArray[np.int64]]:
    """The zone map of `region_codes` as the deployment kernel reads it (physics._kernel.deploy):
    its thresholds (face_x, face_z, groin_half, groin_z, crotch_y, crotch_z) and its codes
    (the head, chest, abdomen, pelvis, thigh_l and thigh_r segments; the face, upper back,
    lower back, buttocks and groin regions; then each segment's own region)."""
    t = _zone_table(skeleton)
    thresholds = np.array([t.face_x, t.face_z, t.groin_half, t.groin_z, t.crotch_y, t.crotch_z])
    segments = (t.head, t.chest, t.abdomen, t.pelvis, t.thigh_l, t.thigh_r)
    regions = (_FACE, _UPPER_BACK, _LOWER_BACK, _BUTTOCKS, _GROIN)
    return thresholds, np.array([*segments, *regions, *t.base_list], dtype=np.int64)


def _region_code(t: _ZoneTable, segment: int, x: float, y: float, z: float) -> int:
    """`region_codes` of one point, in Python floats (the same comparisons)."""
    if segment == t.head:
        return _FACE if x > t.face_x and z < t.face_z else t.base_list[segment]
    if segment == t.chest:
        return _UPPER_BACK if x < 0.0 else t.base_list[segment]
    if segment == t.abdomen:
        return _LOWER_BACK if x < 0.0 else t.base_list[segment]
    if segment == t.pelvis:
        if x < 0.0:
            return _BUTTOCKS
        return _GROIN if abs(y) < t.groin_half and z < t.groin_z else t.base_list[segment]
    crotch = abs(y) < t.crotch_y and z > t.crotch_z and x >= -0.02
    if segment in (t.thigh_l, t.thigh_r) and crotch:
        return _GROIN
    return t.base_list[segment]


def region_codes(skeleton: Skeleton, segment: NDArray[np.int64], rest: F64) -> NDArray[np.int64]:
    """Vectorised zone map: indices into `list(Region)` of N rest-frame points on N segments.
    A few points (a deployment's hits) are mapped one by one in Python floats: the same
    comparisons, without a dozen numpy masks each."""
    t = _zone_table(skeleton)
    if len(segment) <= 4:
        return np.array(
            [
                _region_code(t, s, x, y, z)
                for s, (x, y, z) in zip(segment.tolist(), rest.tolist(), strict=True)
            ],
            dtype=np.int64,
        )
    out = t.base[segment]
    x, y, z = rest[:, 0], rest[:, 1], rest[:, 2]
    # Head: the face is the front of the head below the brow (facts.md §1: head, face, eyes).
    m = segment == t.head
    out[m & (x > t.face_x) & (z < t.face_z)] = _FACE
    # Chest: front is chest/breast (avoid), back is the upper back below the neck (preferred).
    m = segment == t.chest
    out[m & (x < 0.0)] = _UPPER_BACK
    m = segment == t.abdomen
    out[m & (x < 0.0)] = _LOWER_BACK
    # Pelvis: back = buttocks, front = pelvic triangle, except the groin itself: the front
    # within 6 cm of the midline below 0.50 H (about 5 cm above the crotch).
    m = segment == t.pelvis
    out[m & (x < 0.0)] = _BUTTOCKS
    out[m & (x >= 0.0) & (np.abs(y) < t.groin_half) & (z < t.groin_z)] = _GROIN
    # The crotch of the thighs' top inner faces is the groin too.
    m = (segment == t.thigh_l) | (segment == t.thigh_r)
    out[m & (np.abs(y) < t.crotch_y) & (z > t.crotch_z) & (x >= -0.02)] = _GROIN
    return out


def zone_map(pregnant: bool) -> dict[Region, TaserZone]:
    """facts.md §1/§5; a visibly pregnant subject's abdomen is a zone to avoid (facts.md §5,
    restricted subjects; issue 14)."""
    if pregnant:
        return TASER_ZONE | {Region.ABDOMEN: TaserZone.AVOID}
    return dict(TASER_ZONE)


# Where to aim at each region: segment, fraction along its axis, angle round it (0 = its
# depth axis, forward; pi = back), and a sideways step in metres.
AIM: dict[Region, tuple[str, float, float]] = {
    Region.HEAD: ("head", 0.9, 0.0),
    Region.FACE: ("head", 0.35, 0.0),
    Region.NECK: ("neck", 0.5, 0.0),
    Region.UPPER_CHEST: ("chest", 0.55, 0.0),
    Region.ABDOMEN: ("abdomen", 0.5, 0.0),
    Region.PELVIS_GROIN: ("pelvis", 0.12, 0.0),
    Region.PELVIS: ("pelvis", 0.55, 0.55),
    Region.BUTTOCKS: ("pelvis", 0.45, math.pi - 0.5),
    Region.UPPER_BACK: ("chest", 0.5, math.pi),
    Region.LOWER_BACK: ("abdomen", 0.5, math.pi),
    Region.ARM: ("upper_arm_r", 0.5, 0.0),
    Region.LEG: ("thigh_r", 0.55, 0.0),
}


def surface_point(skeleton: Skeleton, segment: str, s: float, angle: float) -> F64:
    """A rest-frame point on a segment's surface at axis fraction `s` between its rings, at
    `angle` round the axis from its depth direction toward its lateral one."""
    seg = next(x for x in skeleton.segments if x.name == segment)
    # Rings sit in layers of AROUND vertices after the pole; find the two that bracket s.
    layers = seg.vertices[1:-1].reshape(-1, AROUND, 3)
    axis = seg.end - seg.start
    length = float(np.linalg.norm(axis))
    u = axis / length
    centres = layers.mean(axis=1)
    pos = (centres - seg.start) @ u / length
    k = int(np.clip(np.searchsorted(pos, s) - 1, 0, len(pos) - 2))
    t = float(np.clip((s - pos[k]) / max(pos[k + 1] - pos[k], 1e-9), 0.0, 1.0))
    ring = layers[k] * (1 - t) + layers[k + 1] * t
    centre = ring.mean(axis=0)
    # The ring vertex nearest the angle, pulled 2 mm inside so a ray at it is not grazing.
    theta = np.linspace(0.0, 2 * math.pi, AROUND, endpoint=False)
    nearest = int(np.argmin(np.abs(np.angle(np.exp(1j * (theta - angle))))))
    point = ring[nearest]
    inward = centre - point
    return np.asarray(point + inward / np.linalg.norm(inward) * 0.002)


def matrices_to_quats(m: F64) -> F64:
    """(N, 3, 3) rotation matrices to (N, 4) unit quaternions (x, y, z, w) with w >= 0,
    vectorised Shepperd: the products 4 q_i q_j all come from sums and differences of the
    matrix entries; each row divides the row of its largest component (the best conditioned)
    by that component."""
    n = len(m)
    m00, m11, m22 = m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]
    prod = np.empty((n, 4, 4))  # 4 q_i q_j, (x, y, z, w)
    prod[:, 0, 0] = 1 + m00 - m11 - m22
    prod[:, 1, 1] = 1 - m00 + m11 - m22
    prod[:, 2, 2] = 1 - m00 - m11 + m22
    prod[:, 3, 3] = 1 + m00 + m11 + m22
    prod[:, 0, 1] = prod[:, 1, 0] = m[:, 0, 1] + m[:, 1, 0]
    prod[:, 0, 2] = prod[:, 2, 0] = m[:, 0, 2] + m[:, 2, 0]
    prod[:, 1, 2] = prod[:, 2, 1] = m[:, 1, 2] + m[:, 2, 1]
    prod[:, 0, 3] = prod[:, 3, 0] = m[:, 2, 1] - m[:, 1, 2]
    prod[:, 1, 3] = prod[:, 3, 1] = m[:, 0, 2] - m[:, 2, 0]
    prod[:, 2, 3] = prod[:, 3, 2] = m[:, 1, 0] - m[:, 0, 1]
    diag = prod[:, [0, 1, 2, 3], [0, 1, 2, 3]]
    best = np.argmax(diag, axis=1)
    rows = np.arange(n)
    q = prod[rows, best] / (2.0 * np.sqrt(np.maximum(diag[rows, best], 1e-300)))[:, None]
    q[q[:, 3] < 0] *= -1
    return np.asarray(q)
