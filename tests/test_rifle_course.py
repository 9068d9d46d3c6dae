"""The course runner fires patrol-rifle strings: the rifle replica (selector, 30-round magazine)
on the lane, the 223-55 load, a range long enough for 50 and 100 yd lines; a scripted shooter's
attempt is scored as any other. The course used is a test fixture, not a published course
(tests/data/courses/patrol-rifle-structure-v1.toml says why)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.course import Course, find_course, find_shooter, load_course, parse_course
from physics.ballistics import load
from physics.datafiles import DataFileError
from range.cli.main import main
from range.runs.course import CourseConfig, aim_sigma_rad, run_course

RIFLE = Path(__file__).parent / "data" / "courses" / "patrol-rifle-structure-v1.toml"


def test_a_scripted_shooter_fires_the_rifle_course_and_is_scored(tmp_path: Path) -> None:
    course = find_course(str(RIFLE))
    assert course.rounds == 30 and course.max_points == 60 and course.passing_points() == 48
    result = run_course(CourseConfig(course, find_shooter("qualified"), 0, runs_dir=tmp_path))
    # Seed 0: one hit of five at 100 yd (2 mrad of aim error is 7 in at 91 m against a 12 in
    # wide bottle), 8 of 10 at 50 yd, every round at 25 and 7 yd: 48 points, the pass mark.
    assert [s.points for s in result.score.stages] == [2, 16, 20, 10]
    assert (result.score.points, result.score.hits) == (48, 24)
    assert result.score.passed
    assert ("patrol-rifle", "SIM-RIFLE-0001") in {(d["model"], d["serial"]) for d in result.devices}
    assert result.run_dir is not None
    records = [json.loads(x) for x in (result.run_dir / "events.jsonl").read_text().splitlines()]
    shots = [r for r in records if r["kind"] == "shot"]
    assert len(shots) == 30
    # Every round is the rifle's .223 (its diameter on the paper), fired by the rifle replica.
    assert {s["bullet_diameter_in"] for s in shots} == {load("223-55").bullet_diameter_in}
    # The same seed, the same attempt.
    again = run_course(CourseConfig(course, find_shooter("qualified"), 0))
    assert again.score.points == 48
    expert = run_course(CourseConfig(course, find_shooter("expert"), 0)).score
    struggling = run_course(CourseConfig(course, find_shooter("struggling"), 0)).score
    assert (expert.points, expert.passed) == (60, True)
    assert (struggling.points, struggling.passed) == (28, False)


def test_the_rifle_holds_aim_tighter_than_the_pistol() -> None:
    course = find_course(str(RIFLE))
    rifle = course.stages[0].strings[0]
    shooter = find_shooter("qualified")
    pistol = rifle.model_copy(update={"weapon": "pistol"})
    assert aim_sigma_rad(rifle, shooter, 0) == pytest.approx(
        0.4 * aim_sigma_rad(pistol, shooter, 0)
    )


def test_course_run_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["course", "run", str(RIFLE), "--shooter", "expert", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "patrol-rifle-structure-v1" in out and "60" in out


def _with(old: str, new: str) -> str:
    text = RIFLE.read_text()
    assert old in text
    return text.replace(old, new, 1)


def test_a_rifle_string_is_checked_against_its_magazine_its_start_and_the_lane() -> None:
    # 30 rounds in one magazine fit; 31 do not (reload = true splits them).
    thirty = _with("rounds = 5\npar_time_s = 30.0", "rounds = 30\npar_time_s = 30.0")
    assert parse_course(thirty, "r.toml").stages[0].strings[0].rounds == 30
    with pytest.raises(DataFileError, match="31 rounds in one magazine: the rifle's holds 30"):
        parse_course(
            _with("rounds = 5\npar_time_s = 30.0", "rounds = 31\npar_time_s = 30.0"), "r.toml"
        )
    with pytest.raises(DataFileError, match="not the holster"):
        parse_course(_with('start = "low_ready"', 'start = "holster"'), "r.toml")
    with pytest.raises(DataFileError, match=r"100 yd is beyond the lane.*25 yd \(75 ft\)"):
        parse_course(_with("lane_length_ft = 300.0\n", ""), "r.toml")
    with pytest.raises(DataFileError, match=r"strings\[0\]\.load.*no load '556-62'"):
        parse_course(_with("rounds = 5\n", 'rounds = 5\nload = "556-62"\n'), "r.toml")


def test_a_saved_rifle_course_reads_back_as_it_was_written() -> None:
    """The run folder keeps the course as its JSON dump (both lane lengths set): it must read
    back, its scene on the course's lane (a 300 ft course once came back "contradicting" the
    scene's default 75 ft and could not be rescored)."""
    course = load_course(RIFLE)
    again = Course.model_validate(json.loads(course.model_dump_json()))
    assert again == course
    assert again.lane_length_ft == again.scene.lane_length_ft == 300.0
