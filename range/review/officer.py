"""The officer's weapon in a replay from other eyes (issue 14): what the officer holds and how
high the arms are at a run time, read from the log's `officer_action` records alone.

A draw puts the weapon in the right hand (the pistol's black shape or the TASER's yellow one,
the muzzle along the arm) and brings the arms from the sides to the low ready over DRAW_S; the
arms come up to aim over RAISE_S so that they are level when the bore first covers a subject
(`weapon_pointed`) or the weapon fires, whichever is first after the draw, and stay up until
it is holstered. A replay reads the whole log, so it knows when the aim will be needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drills.log import LogRecord
from physics.animation import blend, ease, weapon_hold_pose
from physics.human import HumanPose

DRAW_S = 0.3  # holster to the low ready (a design value: a fast duty draw)
RAISE_S = 0.3  # low ready to aimed
HELD = {"taser": "officer_taser", "firearm": "officer_pistol"}  # range.review.render.HELD_OBJECTS
_DRAWN = {"taser_drawn": "taser", "firearm_drawn": "firearm"}
_HOLSTERED = {"taser_holstered": "taser", "firearm_holstered": "firearm"}
_POINTS = ("weapon_pointed", "taser_fired", "firearm_fired")


@dataclass(frozen=True, slots=True)
class OfficerHold:
    """The officer at one run time: `held` (a HELD_OBJECTS key, or "none"), `pose` (arms
    as the weapon calls for) and `target` (the subject the weapon points at, or None)."""

    held: str
    pose: HumanPose
    target: str | None


def officer_hold(records: list[LogRecord], t: float) -> OfficerHold:
    """What the officer holds and how at run time `t`, from the log's officer actions."""
    actions = [r for r in records if r.kind == "officer_action"]
    weapon: str | None = None
    drawn_at = 0.0
    for r in actions:
        if r.t > t + 1e-9:
            break
        action = str(r.data["action"])
        if action in _DRAWN:
            weapon, drawn_at = _DRAWN[action], r.t
        elif _HOLSTERED.get(action) == weapon:
            weapon = None
    if weapon is None:
        return OfficerHold("none", HumanPose(), None)
    point_at: float | None = None
    target: str | None = None
    for r in actions:
        if r.t < drawn_at - 1e-9:
            continue
        action = str(r.data["action"])
        if r.t > drawn_at + 1e-9 and _HOLSTERED.get(action) == weapon:
            break  # put away before it was ever pointed
        if action in _POINTS:
            point_at = r.t
            subject = r.data.get("subject")
            target = str(subject) if subject is not None else None
            break
    aim = 0.0 if point_at is None else ease((t - point_at + RAISE_S) / RAISE_S)
    drawn = ease((t - drawn_at) / DRAW_S)
    pose = blend(HumanPose(), weapon_hold_pose(aim), drawn)
    return OfficerHold(HELD[weapon], pose, target)


def yaw_to(officer_xy: tuple[float, float], at_xy: tuple[float, float]) -> float:
    return math.atan2(at_xy[1] - officer_xy[1], at_xy[0] - officer_xy[0])
