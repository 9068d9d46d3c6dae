"""Courses fire into the world drills have: cover and props on the lane (`scene`), and a TASER
string's subject that paces across the lane (`subject_speed_mps`), animated, with the probes
flown against its motion."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from drills.course import find_shooter, parse_course
from physics.body import SubjectBody
from physics.datafiles import DataFileError
from physics.world import RangeWorld
from range.runs.course import (
    PACE_HALF_WIDTH_M,
    TASER_SUBJECT,
    CourseConfig,
    PacingSubject,
    run_course,
)
from range.runs.runlog import read_events

HEAD = """
id = "agency-test-v1"
version = 1
title = "Test"
source = "tests"
pass_mark = { hits = 1 }
"""

MOVING = (
    HEAD
    + """
[[stages]]
name = "12 ft, a subject walking across"
[[stages.strings]]
weapon = "taser-7"
cartridge = "taser7-cq"
distance_ft = 12.0
cartridges = 1
par_time_s = 5.0
subject_speed_mps = 0.6
"""
)

CROWD = '{ name = "q", x_ft = 40.0, width_ft = 6.0, depth_ft = 3.0 }'
BARRICADE_COVER = (
    'cover = [{ name = "barricade", x_ft = 10.0, width_ft = 6.0, depth_ft = 1.0, height_ft = 8.0 }]'
)
BARRICADE = (
    HEAD
    + """
[scene]
"""
    + BARRICADE_COVER
    + """

[[stages]]
name = "7 yd through a barricade"
[[stages.strings]]
distance_yd = 7.0
rounds = 3
par_time_s = 8.0
"""
)


def test_a_pacing_subject_walks_across_and_back_facing_where_it_walks() -> None:
    speed, half = 1.5, PACE_HALF_WIDTH_M
    with RangeWorld() as world:
        world.add_subject(TASER_SUBJECT, SubjectBody(), (3.0, 0.0, 0.0), math.pi)
        mover = PacingSubject(world, 3.0, speed, 7)
        assert mover.place(0.0) == (pytest.approx(half), -math.pi / 2)
        assert mover.place(half / speed)[0] == pytest.approx(0.0)
        assert mover.place(2 * half / speed)[0] == pytest.approx(-half)
        assert mover.place(2 * half / speed + 0.5 / speed) == (
            pytest.approx(-half + 0.5),
            math.pi / 2,
        )
        aim = mover.step(half / speed / 2)  # halfway to the line: the aim follows it
        assert aim[1] == pytest.approx(half / 2)
        placed, yaw, _ = world.subject_pose(TASER_SUBJECT)
        assert placed[1] == pytest.approx(half / 2) and yaw == pytest.approx(-math.pi / 2)


def test_the_probes_hit_the_subject_where_it_had_walked_to(tmp_path: Path) -> None:
    course = parse_course(MOVING, "moving.toml")
    result = run_course(CourseConfig(course, find_shooter("expert"), 4, runs_dir=tmp_path))
    assert result.run_dir is not None
    (deployment,) = [r for r in read_events(result.run_dir) if r.kind == "deployment"]
    t_s = float(deployment.data["t_s"])
    with RangeWorld() as world:
        world.add_subject(TASER_SUBJECT, SubjectBody(), (3.0, 0.0, 0.0), math.pi)
        y_m, _ = PacingSubject(world, 3.0, 0.6, 4).place(t_s)
    assert abs(y_m) > 0.2  # off the firing line: a frozen subject there would not be hit
    hits = [i for i in deployment.data["impacts"] if i["target"] == TASER_SUBJECT]
    assert len(hits) == 2
    for impact in hits:
        assert impact["point"][1] == pytest.approx(y_m, abs=0.3)


def test_cover_on_a_course_s_lane_stops_the_rounds(tmp_path: Path) -> None:
    course = parse_course(BARRICADE, "barricade.toml")
    result = run_course(CourseConfig(course, find_shooter("expert"), 1, runs_dir=tmp_path))
    assert result.run_dir is not None
    shots = [r for r in read_events(result.run_dir) if r.kind == "shot"]
    assert len(shots) == 3
    assert all(s.data["stopped_by"] == "cover:barricade" and s.data["points"] == 0 for s in shots)
    # Without the barricade the same shooter holes the target.
    open_lane = parse_course(BARRICADE.replace(BARRICADE_COVER, ""), "open.toml")
    again = run_course(CourseConfig(open_lane, find_shooter("expert"), 1))
    assert again.score.points > 0


@pytest.mark.parametrize(
    ("text", "line", "named"),
    [
        (
            BARRICADE.replace("rounds = 3", "rounds = 3\nsubject_speed_mps = 1.0"),
            13,  # the string's table
            "subject_speed_mps is for TASER strings",
        ),
        (
            HEAD
            + '[scene]\ncrowds = [{ name = "q", x_ft = 40.0, width_ft = 6.0, depth_ft = 3.0 }]\n'
            + MOVING[len(HEAD) :],
            0,
            "scene.crowds are for drills",
        ),
    ],
)
def test_what_a_course_cannot_have_is_named(text: str, line: int, named: str) -> None:
    with pytest.raises(DataFileError) as err:
        parse_course(text, "agency.toml")
    message = str(err.value)
    assert named in message, message
    if line:
        assert f"agency.toml:{line}" in message, message
