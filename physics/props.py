"""Scene props from drill data: a car for traffic stops, an apartment room, a doorway, a street
with a curb. Each prop is a set of boxes, and each box is marked cover (it stops handgun rounds
and probes: an engine block, wheels, a concrete curb) or concealment (it hides a person but
rounds go through it in life: doors, glass, drywall, furniture). The same boxes are the PyBullet
collision bodies (`physics.world.RangeWorld.add_prop`) and what the renderer draws
(`range.review.render.Scene.prop`), so what is drawn is what is hit.

Prop frame: origin on the floor at the prop's centre, +X the prop's front (a car's bonnet, a
wall's side away from the officer), +Y its left, +Z up; metres. Sizes are chosen from common
dimensions, named beside each: a mid-size sedan (4.9 x 1.85 x 1.45 m), US interior doors
(36 x 80 in, 2 x 4 stud walls with drywall, 8 ft ceilings), a 6 in kerb.

The cover/concealment split follows the common police-training distinction (cover stops
rounds, concealment only hides); which parts of a car are which is the usual teaching: the
engine block and the wheels are cover, the doors and the glass are not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
from numpy.typing import NDArray

PropKind = Literal["car", "room", "doorway", "curb"]
PROP_KINDS: tuple[PropKind, ...] = ("car", "room", "doorway", "curb")


class Role(StrEnum):
    COVER = "cover"
    CONCEALMENT = "concealment"


@dataclass(frozen=True, slots=True)
class PropPart:
    """One box of a prop, in the world: `centre` (m), half extents along the prop's own axes,
    the prop's yaw (rad, about +Z), its role and its material (what the renderer paints)."""

    prop: str
    name: str
    centre: tuple[float, float, float]
    half: tuple[float, float, float]
    yaw_rad: float
    role: Role
    material: str

    @property
    def body_name(self) -> str:
        """The name PyBullet hits report: `cover:car/engine_block`."""
        return f"{self.role.value}:{self.prop}/{self.name}"

    def rotation(self) -> NDArray[np.float64]:
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def penetration_material(part: PropPart) -> str:
    """What a round meets in `part` (a physics/data/materials.toml id): a car's doors are
    `car_door`, its glass `glass`, a room's walls `drywall`, a wooden door `wood`; every other
    part stops rounds (`backstop`): the engine block, wheels and curb are cover, and a car's
    bonnet, boot, sill and roof are drawn as solid boxes (the bonnet's holds the engine block),
    so a round is not let through them."""
    if part.material == "paint" and part.name.startswith("door_"):
        return "car_door"
    return {"glass": "glass", "drywall": "drywall", "wood": "wood"}.get(part.material, "backstop")


# (name, centre, half, role, material) in the prop frame.
_Box = tuple[str, tuple[float, float, float], tuple[float, float, float], Role, str]

C, K = Role.COVER, Role.CONCEALMENT
# A mid-size sedan, 4.9 m long, 1.85 m wide, 1.45 m high, bonnet forward (+X). The cabin is
# hollow (x -1.0 to 1.15 m, z 0.45 to 1.35 m): a driver sits in it.
_CAR: list[_Box] = [
    ("engine_block", (1.85, 0.0, 0.6), (0.4, 0.35, 0.25), C, "engine"),
    ("bonnet", (1.8, 0.0, 0.7), (0.65, 0.925, 0.25), K, "paint"),
    *[
        (f"wheel_{a}{b}", (x, y, 0.33), (0.33, 0.11, 0.33), C, "tyre")
        for a, x in (("f", 1.45), ("r", -1.45))
        for b, y in (("l", 0.81), ("r", -0.81))
    ],
    ("sill", (-0.6, 0.0, 0.375), (1.85, 0.925, 0.075), K, "paint"),
    ("boot", (-1.725, 0.0, 0.7), (0.725, 0.925, 0.25), K, "paint"),
    *[
        (f"door_{a}{b}", (x, y, 0.7), (hx, 0.04, 0.25), K, "paint")
        for a, x, hx in (("f", 0.6, 0.55), ("r", -0.475, 0.525))
        for b, y in (("l", 0.885), ("r", -0.885))
    ],
    *[
        (f"window_{a}{b}", (x, y, 1.15), (hx, 0.01, 0.2), K, "glass")
        for a, x, hx in (("f", 0.6, 0.55), ("r", -0.475, 0.525))
        for b, y in (("l", 0.89), ("r", -0.89))
    ],
    ("windscreen", (1.14, 0.0, 1.15), (0.01, 0.88, 0.2), K, "glass"),
    ("rear_window", (-0.99, 0.0, 1.15), (0.01, 0.88, 0.2), K, "glass"),
    ("roof", (0.075, 0.0, 1.4), (1.075, 0.925, 0.05), K, "paint"),
]

WALL_M = 0.12  # 2 x 4 studs (3.5 in) and two layers of 1/2 in drywall
CEILING_M = 2.44  # 8 ft
DOOR_W_M, DOOR_H_M = 0.914, 2.032  # a 36 x 80 in door


def _wall_with_door(name: str, x: float, span_m: float, role: Role, material: str) -> list[_Box]:
    """A wall across +Y at `x`, `span_m` wide, with a door opening at y = 0."""
    side = (span_m - DOOR_W_M) / 2
    h = WALL_M / 2
    return [
        (
            f"{name}_l",
            (x, DOOR_W_M / 2 + side / 2, CEILING_M / 2),
            (h, side / 2, CEILING_M / 2),
            role,
            material,
        ),
        (
            f"{name}_r",
            (x, -DOOR_W_M / 2 - side / 2, CEILING_M / 2),
            (h, side / 2, CEILING_M / 2),
            role,
            material,
        ),
        (
            f"{name}_header",
            (x, 0.0, (CEILING_M + DOOR_H_M) / 2),
            (h, DOOR_W_M / 2, (CEILING_M - DOOR_H_M) / 2),
            role,
            material,
        ),
    ]


# An apartment room 5 m deep (+X) and 4 m wide, entered through a door in its near wall
# (x = -2.5 m); a couch against the far wall. Drywall is concealment.
_ROOM: list[_Box] = [
    *_wall_with_door("near_wall", -2.5, 4.0 + 2 * WALL_M, K, "drywall"),
    (
        "far_wall",
        (2.5, 0.0, CEILING_M / 2),
        (WALL_M / 2, 2.0 + WALL_M, CEILING_M / 2),
        K,
        "drywall",
    ),
    ("left_wall", (0.0, 2.0, CEILING_M / 2), (2.5, WALL_M / 2, CEILING_M / 2), K, "drywall"),
    ("right_wall", (0.0, -2.0, CEILING_M / 2), (2.5, WALL_M / 2, CEILING_M / 2), K, "drywall"),
    ("couch", (2.0, 0.0, 0.4), (0.45, 1.0, 0.4), K, "fabric"),
]

# A doorway: a 4 m wall with a door opening, the door open 90 degrees away from the officer.
_DOORWAY: list[_Box] = [
    *_wall_with_door("wall", 0.0, 4.0, K, "drywall"),
    (
        "door",
        (WALL_M / 2 + DOOR_W_M / 2, DOOR_W_M / 2 - 0.0225, DOOR_H_M / 2),
        (DOOR_W_M / 2, 0.0225, DOOR_H_M / 2),
        K,
        "wood",
    ),
]

CURB_M = 0.152  # a 6 in kerb


def _curb(length_m: float) -> list[_Box]:
    """A street's kerb along +X at y = 0 (the road on its -Y side), and a 2 m pavement
    behind it. Concrete: cover for a person lying behind it."""
    h = CURB_M / 2
    return [
        ("curb", (0.0, 0.0, h), (length_m / 2, h, h), C, "concrete"),
        ("pavement", (0.0, CURB_M / 2 + 1.0, h), (length_m / 2, 1.0, h), C, "pavement"),
    ]


def prop_parts(
    kind: PropKind,
    name: str,
    x_m: float,
    y_m: float,
    yaw_rad: float = 0.0,
    length_m: float = 20.0,
) -> list[PropPart]:
    """The boxes of prop `kind` named `name`, its origin at (x_m, y_m) on the floor, turned
    `yaw_rad` about +Z (`length_m`: a curb's length). Raises ValueError for an unknown kind."""
    boxes = {"car": _CAR, "room": _ROOM, "doorway": _DOORWAY}.get(kind)
    if kind == "curb":
        boxes = _curb(length_m)
    if boxes is None:
        raise ValueError(f"unknown prop kind {kind!r}; known: {', '.join(PROP_KINDS)}")
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    out = []
    for part, (px, py, pz), half, role, material in boxes:
        centre = (x_m + c * px - s * py, y_m + s * px + c * py, pz)
        out.append(PropPart(name, part, centre, half, yaw_rad, role, material))
    return out
