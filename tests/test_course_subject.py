"""A course's TASER string names its subject (`subject`: size, outfit or clothing gap, age
group, visibly pregnant, frail), built as a drill subject's body: the probes meet and the zones
judge the body the course names; the scripted shooter aims at the thigh of a visibly pregnant
subject (the abdomen is a zone to avoid); a firearm string with a subject, or an unknown size,
is refused by line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drills.course import find_shooter, parse_course
from physics.body import Region, SubjectBody, body_for
from physics.datafiles import DataFileError
from range.runs.course import TASER_SUBJECT, CourseConfig, run_course, target_point
from range.runs.runlog import read_events

COURSE = """
id = "agency-subject-v1"
version = 1
title = "Test"
source = "tests"
pass_mark = { hits = 1 }

[[stages]]
name = "10 ft"
[[stages.strings]]
weapon = "taser-7"
cartridge = "taser7-cq"
distance_ft = 10.0
cartridges = 1
par_time_s = 5.0
SUBJECT
"""


def _course(subject: str = "") -> Any:
    return parse_course(COURSE.replace("SUBJECT", subject), "subject.toml")


def _deployment(tmp_path: Path, subject: str, seed: int = 3) -> dict[str, Any]:
    result = run_course(
        CourseConfig(_course(subject), find_shooter("expert"), seed, runs_dir=tmp_path)
    )
    assert result.run_dir is not None
    (deployment,) = [r for r in read_events(result.run_dir) if r.kind == "deployment"]
    return dict(deployment.data)


def test_the_string_s_subject_is_the_body_the_probes_meet(tmp_path: Path) -> None:
    course = _course('subject = { age_group = "child", outfit = "winter_coat" }')
    string = course.stages[0].strings[0]
    child = body_for(child=True, outfit="winter_coat")
    assert string.subject.body() == child
    # Aimed at the child's abdomen, far below an adult's.
    assert (
        target_point(course, string)[2]
        < target_point(_course(), _course().stages[0].strings[0])[2] - 0.2
    )
    adult = _deployment(tmp_path / "adult", "")
    small = _deployment(tmp_path / "child", 'subject = { age_group = "child" }')
    on = [i for i in small["impacts"] if i["target"] == TASER_SUBJECT]
    assert on and max(i["point"][2] for i in on) < child.aim_point(Region.HEAD)[2]
    assert min(i["point"][2] for i in on) < min(i["point"][2] for i in adult["impacts"])
    # A winter coat keeps the probes from connecting (2.5 in over the torso: facts.md §1).
    coat = _deployment(tmp_path / "coat", 'subject = { outfit = "winter_coat" }')
    assert not coat["effective"]
    assert adult["effective"]


def test_a_pregnant_subject_is_aimed_at_the_thigh_and_judged_by_its_zones(
    tmp_path: Path,
) -> None:
    course = _course("subject = { pregnant = true }")
    string = course.stages[0].strings[0]
    assert (
        target_point(course, string)[2]
        < target_point(_course(), _course().stages[0].strings[0])[2] - 0.3
    )
    data = _deployment(tmp_path, "subject = { pregnant = true }")
    zones = {i["region"]: i["zone"] for i in data["impacts"] if i["target"] == TASER_SUBJECT}
    assert "abdomen" not in zones or zones["abdomen"] == "avoid"
    assert set(zones) & {"leg", "pelvis"}, zones


@pytest.mark.parametrize(
    ("subject", "named"),
    [
        ('subject = { size = "huge" }', "size must be one of"),
        ('subject = { outfit = "kilt" }', "outfit must be one of"),
    ],
)
def test_a_bad_subject_is_named_by_line_and_field(subject: str, named: str) -> None:
    with pytest.raises(DataFileError) as err:
        _course(subject)
    assert named in str(err.value) and "subject.toml:" in str(err.value), str(err.value)


def test_a_firearm_string_has_no_subject() -> None:
    text = COURSE.replace('weapon = "taser-7"\ncartridge = "taser7-cq"\n', "").replace(
        "cartridges = 1", "rounds = 1"
    )
    with pytest.raises(DataFileError) as err:
        parse_course(text.replace("SUBJECT", 'subject = { size = "small" }'), "f.toml")
    assert "subject is for TASER strings" in str(err.value)
    assert SubjectBody() == _course().stages[0].strings[0].subject.body()


def test_a_saved_course_reads_back_with_its_subjects() -> None:
    from drills.course import Course

    course = _course('subject = { size = "small", pregnant = true, clothing_gap_in = 0.5 }')
    assert Course.model_validate_json(course.model_dump_json()) == course
    firearm = parse_course(
        COURSE.replace('weapon = "taser-7"\ncartridge = "taser7-cq"\n', "")
        .replace("cartridges = 1", "rounds = 1")
        .replace("SUBJECT", ""),
        "f.toml",
    )
    assert Course.model_validate_json(firearm.model_dump_json()) == firearm
