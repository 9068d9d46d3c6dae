"""A drill's scene draws what its words name (m20c): talk-down-cover-v1 told the officer to
step behind "the patrol car's engine block", and its cover box of that name stood alone mid-lane
with no car drawn; the handcuffed man kicked at a patrol car door no scene had; a script asked a
woman to sit on a curb that was not there. Two rules, over every built-in drill and course and
docs/drills.md's example:

- a cover object named as a car or a car's part lies inside a car drawn in `props` (in plan,
  within the car's outline; in height, below its roof), and one named as an engine takes in that
  car's engine block;
- a drill whose words (title, rationale, expected response, subjects' lines, and the
  descriptions and lines of its built-in scripts and expected officer) name a car or a street
  draws a car or a curb.

Data only, no runs: the verdicts of the scripts are tests/test_drill_library.py's."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from drills.course import builtin_courses
from drills.officer import builtin_officers, scripts_for
from drills.schema import Cover, Drill, Prop, Scene, builtin_drills, parse_drill
from physics.props import prop_parts

FT_M = 0.3048

# A cover object's name that says it is a vehicle or part of one.
VEHICLE_PART = re.compile(
    r"\b(car|cars|vehicle|truck|van|engine|bonnet|hood|wheel|wheels|tyre|tire)\b", re.I
)
# Words that name a drawn prop kind, and the kind that must be in the scene.
NAMED_PROPS = {
    "car": re.compile(r"\b(car|cars|vehicle|patrol car)\b", re.I),
    "curb": re.compile(r"\b(curb|kerb|street)\b", re.I),
}


def _docs_example(repo_root: Path) -> Drill:
    text = (repo_root / "docs" / "drills.md").read_text()
    drill_text = text.split("```toml\n")[1].split("```", 1)[0]
    return parse_drill(drill_text, "docs/drills.md")


def _scenes(repo_root: Path) -> dict[str, Scene]:
    scenes = {drill_id: drill.scene for drill_id, drill in builtin_drills().items()}
    scenes.update({course_id: c.scene for course_id, c in builtin_courses().items()})
    scenes["docs/drills.md example"] = _docs_example(repo_root).scene
    return scenes


def _corners(
    x: float, y: float, half_u: float, half_v: float, yaw: float
) -> list[tuple[float, float]]:
    c, s = math.cos(yaw), math.sin(yaw)
    return [
        (x + c * u - s * v, y + s * u + c * v) for u in (-half_u, half_u) for v in (-half_v, half_v)
    ]


def _within(
    point: tuple[float, float], x: float, y: float, half: tuple[float, float], yaw: float
) -> bool:
    """Is `point` inside the rectangle centred at (x, y), `half` its half sides along its own
    axes turned `yaw`? (1 mm of slack for rounding.)"""
    dx, dy = point[0] - x, point[1] - y
    u = dx * math.cos(yaw) + dy * math.sin(yaw)
    v = -dx * math.sin(yaw) + dy * math.cos(yaw)
    return abs(u) <= half[0] + 1e-3 and abs(v) <= half[1] + 1e-3


def _overlaps(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    """Do two convex quadrilaterals (corner lists) overlap? Separating axes of both."""

    def axes(quad: list[tuple[float, float]]) -> list[tuple[float, float]]:
        ordered = [quad[0], quad[1], quad[3], quad[2]]
        return [
            (q[1] - p[1], p[0] - q[0])
            for p, q in zip(ordered, ordered[1:] + ordered[:1], strict=True)
        ]

    for ax in axes(a) + axes(b):
        pa = [ax[0] * p[0] + ax[1] * p[1] for p in a]
        pb = [ax[0] * p[0] + ax[1] * p[1] for p in b]
        if max(pa) < min(pb) or max(pb) < min(pa):
            return False
    return True


def _car_outline() -> tuple[tuple[float, float], float]:
    """The car prop's half length and half width (its own axes) and its roof height, m: the
    extent of its parts (physics.props), so the rule follows the prop as drawn."""
    parts = prop_parts("car", "c", 0.0, 0.0)
    half_u = max(abs(p.centre[0]) + p.half[0] for p in parts)
    half_v = max(abs(p.centre[1]) + p.half[1] for p in parts)
    return (half_u, half_v), max(p.centre[2] + p.half[2] for p in parts)


def _cover_fits_a_car(cover: Cover, cars: list[Prop]) -> str | None:
    """None if `cover` lies inside one of `cars` (and takes in its engine block if named as an
    engine), else why not."""
    if not cars:
        return f"cover {cover.name!r} is named as a car's part, and the scene draws no car"
    half, roof_m = _car_outline()
    x, y = cover.x_ft * FT_M, cover.y_ft * FT_M
    footprint = _corners(x, y, cover.depth_ft * FT_M / 2, cover.width_ft * FT_M / 2, 0.0)
    whys = []
    for car in cars:
        cx, cy, yaw = car.x_ft * FT_M, car.y_ft * FT_M, math.radians(car.yaw_deg)
        if not all(_within(p, cx, cy, half, yaw) for p in footprint):
            whys.append(f"{cover.name!r} is not inside car {car.name!r}'s outline")
            continue
        if cover.height_ft * FT_M > roof_m + 1e-3:
            whys.append(f"{cover.name!r} stands above car {car.name!r}'s roof")
            continue
        if re.search(r"\bengine\b", cover.name, re.I):
            (block,) = [
                p for p in prop_parts("car", car.name, cx, cy, yaw) if p.name == "engine_block"
            ]
            engine = _corners(block.centre[0], block.centre[1], *block.half[:2], block.yaw_rad)
            if not _overlaps(footprint, engine):
                whys.append(f"{cover.name!r} misses car {car.name!r}'s engine block")
                continue
        return None
    return "; ".join(whys)


def test_a_cover_named_as_a_car_part_lies_inside_a_drawn_car(repo_root: Path) -> None:
    checked, wrong = 0, []
    for where, scene in _scenes(repo_root).items():
        cars = [p for p in scene.props if p.kind == "car"]
        for cover in scene.cover:
            if VEHICLE_PART.search(cover.name):
                checked += 1
                why = _cover_fits_a_car(cover, cars)
                if why is not None:
                    wrong.append(f"{where}: {why}")
    assert not wrong, wrong
    assert checked >= 2  # talk-down-cover-v1's and the docs example's


def _words(drill: Drill) -> str:
    said = [p.say or "" for p in drill.phases]
    scripts = scripts_for(drill.id)
    expected = builtin_officers().get(drill.expected_officer or "")
    if expected is not None and expected not in scripts:
        scripts.append(expected)
    for script in scripts:
        said += [script.description, *(step.say or "" for step in script.steps)]
    return " ".join([drill.title, drill.rationale, drill.expected_response, *said])


@pytest.mark.parametrize("drill_id", sorted(builtin_drills()))
def test_a_drill_that_names_a_car_or_a_street_draws_one(drill_id: str) -> None:
    drill = builtin_drills()[drill_id]
    words = _words(drill)
    kinds = {p.kind for p in drill.scene.props}
    for kind, pattern in NAMED_PROPS.items():
        named = pattern.search(words)
        assert named is None or kind in kinds, (
            f"{drill_id} names a {named.group(0)!r} and its scene draws no {kind}"
        )


def test_the_rule_catches_the_old_talk_down_cover_scene() -> None:
    # talk-down-cover-v1 as it was before m20c: the cover alone, no car.
    drill = builtin_drills()["talk-down-cover-v1"]
    alone = drill.scene.model_copy(update={"props": []})
    cover = Cover(
        name="patrol car engine block",
        x_ft=4.0,
        y_ft=0.0,
        width_ft=6.0,
        depth_ft=2.0,
        height_ft=3.5,
    )
    assert _cover_fits_a_car(cover, list(alone.props)) is not None
    # And in the car, as it is now: inside it; moved out of it, not.
    (car,) = drill.scene.props
    (now,) = drill.scene.cover
    assert _cover_fits_a_car(now, [car]) is None
    beside = now.model_copy(update={"y_ft": now.y_ft + 6.0})
    assert "outline" in (_cover_fits_a_car(beside, [car]) or "")
    # rv21a #3: moved out along the car too (30 ft down the lane), and raised over its roof.
    assert "not inside" in str(
        _cover_fits_a_car(now.model_copy(update={"x_ft": now.x_ft + 30}), [car])
    )
    taller = now.model_copy(update={"height_ft": now.height_ft + 3.0})
    assert "stands above" in str(_cover_fits_a_car(taller, [car]))
