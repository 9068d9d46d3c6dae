"""A hand switch inside one string: the FBI 2019 stage 1 (facts.md §3)."""

from __future__ import annotations

import pytest

from drills.course import find_course, find_shooter, parse_course
from physics.datafiles import DataFileError
from range.runs.course import CourseConfig, aim_sigma_rad, run_course, shooter_plan

COURSE = """\
id = "agency-test-v1"
version = 1
title = "t"
source = "s"
pass_mark = { points = 8 }

[[stages]]
name = "3 yd"
[[stages.strings]]
distance_yd = 3.0
hand = "strong"
switch_hand_after = 3
rounds = 6
par_time_s = 6.0
"""


def test_fbi_stage_1_is_one_six_round_string_in_6_s_with_a_hand_switch() -> None:
    """facts.md §3: holster, 3 strong-hand only then 3 support-hand only, 6 s total."""
    stage = find_course("fbi-pistol-2019-v1").stages[0]
    (string,) = stage.strings
    assert (string.rounds, string.par_time_s, string.start) == (6, 6.0, "holster")
    assert [string.hand_for(k) for k in range(6)] == ["strong"] * 3 + ["support"] * 3
    assert string.hands_text == "3 strong hand, then 3 support hand"


def test_the_scripted_shooter_switches_hands_inside_the_string() -> None:
    string = find_course("fbi-pistol-2019-v1").stages[0].strings[0]
    shooter = find_shooter("expert")
    plan = shooter_plan(string, shooter)
    presses = [t for t, act in plan if act == "press"]
    assert len(presses) == 6
    acts = [act for _, act in plan]
    assert acts.index("switch") == acts.index("press") + 3  # after the third round
    assert presses[3] - presses[2] == pytest.approx(shooter.split_s + shooter.hand_switch_s)
    assert presses[-1] <= string.par_time_s
    strong, support = (aim_sigma_rad(string, shooter, k) for k in (2, 3))
    assert support == pytest.approx(strong * shooter.support_hand_factor)


def test_an_expert_fires_stage_1_as_one_string_inside_its_par_time() -> None:
    course = find_course("fbi-pistol-2019-v1")
    result = run_course(CourseConfig(course, find_shooter("expert"), 1))
    first = [s for s in result.shots if s.stage == 0]
    assert len(first) == 6 and {s.string for s in first} == {0}
    assert all(s.t_s <= 6.0 for s in first)
    assert result.score.stages[0].late == 0
    assert (course.rounds, course.max_points) == (50, 100)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('hand = "strong"', 'hand = "both"'), "one-handed"),
        (("switch_hand_after = 3", "switch_hand_after = 6"), "less than rounds (6)"),
    ],
)
def test_a_hand_switch_that_cannot_be_fired_is_refused_by_name(
    change: tuple[str, str], message: str
) -> None:
    with pytest.raises(DataFileError) as caught:
        parse_course(COURSE.replace(*change), "agency.toml")
    problem = caught.value.problems[0]
    assert problem.field.startswith("stages[0].strings[0]") and message in problem.message
