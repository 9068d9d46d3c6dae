"""nu22 (range master, qualification day and web console): course-file messages (#8), console
query codes (#6), attempt sheets' stage numbers (#7) and wording (#9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.course import parse_course
from drills.schema import parse_drill
from physics.datafiles import DataFileError

COURSES = Path(__file__).resolve().parent.parent / "drills" / "data" / "courses"
DRILLS = Path(__file__).resolve().parent.parent / "drills" / "data" / "drills"

COURSE = """\
id = "my-course-v1"
version = 1
title = "Mine"
source = "test"
pass_mark = { points = 1 }

[[stages]]
name = "7 yd"
strings = [
  { distance_yd = 7.0, start = "ready", rounds = 5, par_time_s = 10.0 },
]
"""
STRING = '{ distance_yd = 7.0, start = "ready", rounds = 5, par_time_s = 10.0 }'


def _refusal(string: str, text: str = COURSE) -> str:
    with pytest.raises(DataFileError) as caught:
        parse_course(text.replace(STRING, string), "c.toml")
    return str(caught.value)


# -- 8: course-file messages ---------------------------------------------------------------------


def test_no_rounds_in_a_pistol_string_says_rounds_not_cartridges() -> None:
    """It said "fires rounds (at least 1), not cartridges" of a file with no cartridges."""
    message = _refusal('{ distance_yd = 7.0, start = "ready", rounds = 0, par_time_s = 10.0 }')
    assert message == (
        "c.toml:9: stages[0].strings[0].rounds: 0 rounds: a pistol string fires at least 1:"
        " allowed 1 to 17, a magazine (or 34 with reload = true)"
    )


def test_too_many_rounds_names_the_magazines_not_a_bound_of_0_to_50() -> None:
    """`rounds = 99` said "allowed 0 <= rounds <= 50": 0 is refused, and the limit is the
    weapon's magazine (17, or 34 with a reload)."""
    one = _refusal('{ distance_yd = 7.0, start = "ready", rounds = 99, par_time_s = 10.0 }')
    assert one == (
        "c.toml:9: stages[0].strings[0].rounds: 99 rounds in one magazine: the pistol's holds"
        " 17: allowed 1 to 17 (reload = true splits the string in two)"
    )
    two = _refusal(
        '{ distance_yd = 7.0, start = "ready", rounds = 99, reload = true, par_time_s = 10.0 }'
    )
    assert two.endswith(
        "rounds: 99 rounds with one reload: the pistol's two magazines hold 34 (17 each):"
        " allowed 1 to 34"
    )
    rifle = _refusal(
        '{ weapon = "rifle", distance_yd = 7.0, start = "ready", rounds = 99, par_time_s = 9 }'
    )
    assert "the rifle's holds 30: allowed 1 to 30" in rifle
    assert "50" not in one + two + rifle


def test_cartridges_in_a_pistol_string_name_the_key() -> None:
    message = _refusal(
        '{ distance_yd = 7.0, start = "ready", rounds = 5, cartridges = 1, par_time_s = 10.0 }'
    )
    assert message == (
        "c.toml:9: stages[0].strings[0].cartridges: cartridges is for TASER strings: a pistol"
        " string fires rounds"
    )


def test_an_unknown_weapon_is_one_line_naming_every_weapon() -> None:
    """It was two lines with pydantic's union internals (`weapon.literal['pistol','rifle']`)."""
    message = _refusal(
        '{ weapon = "glock", distance_yd = 7.0, start = "ready", rounds = 5, par_time_s = 10.0 }'
    )
    assert message == (
        "c.toml:9: stages[0].strings[0].weapon: one of 'pistol', 'rifle', 'taser-x26p',"
        " 'taser-x2', 'taser-7' or 'taser-10' is needed, not the text 'glock'"
    )


@pytest.mark.parametrize(
    ("distance", "said"),
    [
        ("distance_yd = 30", "30 yd is beyond the lane"),
        ("distance_yd = 0", "0 yd is nearer than a target can stand"),
        ("distance_yd = -2", "-2 yd is nearer than a target can stand"),
    ],
)
def test_a_distance_out_of_the_lane_names_the_real_minimum(distance: str, said: str) -> None:
    """Beyond the lane it said "allowed 0 < distance", and 0 "allowed 0 < distance_yd <=
    lane_length_ft": the minimum is 0.5 yd."""
    message = _refusal(STRING.replace("distance_yd = 7.0", distance))
    assert message == (
        f"c.toml:9: stages[0].strings[0].distance_yd: {said}: allowed 0.5 yd (1.5 ft) <="
        " distance <= 25 yd (75 ft)"
    )


def test_a_course_file_given_as_a_drill_says_it_is_a_course() -> None:
    """A lane's Drill file that was a course said only "rationale: required key is missing"."""
    text = (COURSES / "texas-ltc-b27-v1.toml").read_text(encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        parse_drill(text, "good.toml")
    assert str(caught.value) == (
        "good.toml:1: this looks like a course file (it has [[stages]], and a drill has"
        " [[phases]]): fire it with `openrange course run FILE`, or Start course on a lane"
    )


def test_a_drill_file_given_as_a_course_says_it_is_a_drill() -> None:
    text = (DRILLS / "phone-draw-v1.toml").read_text(encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        parse_course(text, "d.toml")
    assert str(caught.value) == (
        "d.toml:1: this looks like a drill file (it has [[phases]], and a course has"
        " [[stages]]): run it with `openrange drill run FILE`, or Start drill on a lane"
    )
