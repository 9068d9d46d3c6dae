"""`openrange course ...`: qualification courses of fire for range masters."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from range.cli import records as cli_records
from range.cli import util as cliutil
from range.cli.columns import column_width, pad

if TYPE_CHECKING:
    from drills.course import CourseFile, CourseString
from range.cli.util import help_when_bare, validate_files
from range.deps import require


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "course",
        help="list, show, validate and run qualification courses of fire",
        description="Courses are versioned TOML files (docs/courses.md): stages of strings with "
        "distance, start position, rounds or TASER cartridges, par time and target, "
        "and a pass mark. Built in: the FBI 2019 pistol course, the Texas LTC "
        "course on a B-27, a Kansas-style 70 % course and a TASER 7 practical.",
        epilog="examples:\n  openrange course list\n  openrange course show fbi-pistol-2019-v1\n"
        "  openrange course validate my-agency-course.toml\n"
        "  openrange course run fbi-pistol-2019-v1 --badge 4411\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = group.add_subparsers(title="course commands", metavar="VERB")
    listing = verbs.add_parser(
        "list",
        **cliutil.examples("openrange course list", "openrange course list --json"),
        help="the built-in courses",
        description="List the built-in courses: rounds, points, pass mark.",
    )
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=_list)
    show = verbs.add_parser(
        "show",
        **cliutil.examples(
            "openrange course show fbi-pistol-2019-v1",
            "openrange course show my-agency-course.toml --json",
        ),
        help="one course, string by string",
        description="Show a course (built-in id or file): its source, what "
        "was approximated, and every string.",
    )
    show.add_argument("course", metavar="COURSE", help="built-in id or path to a .toml file")
    show.add_argument("--json", action="store_true", help="print the course as JSON")
    show.set_defaults(handler=_show)
    validate = verbs.add_parser(
        "validate",
        **cliutil.examples(
            "openrange course validate my-agency-course.toml",
            "openrange course validate courses/*.toml",
        ),
        help="check course files",
        description="Check course files: the schema, negative or missing par times, TASER "
        "strings beyond their cartridge's reach, pass marks above the maximum. Every "
        "problem is named by file, line and field; exit status 1 if any file fails.",
    )
    validate.add_argument("files", metavar="FILE", nargs="+", type=Path)
    validate.set_defaults(handler=_validate)
    cli_records.register_course_run(verbs)
    help_when_bare(group)


def _pass_mark(course: object) -> str:
    from drills.course import Course
    from drills.wording import count_of

    assert isinstance(course, Course)
    mark = course.pass_mark
    if mark.hits is not None:
        return count_of(mark.hits, course.hit_noun)
    needed = course.passing_points() or 0  # a points or percent mark: never None here
    if mark.percent is not None:
        return f"{mark.percent:g} % ({count_of(needed, 'point')})"
    return count_of(needed, "point")


def _list(args: argparse.Namespace) -> int:
    require("pydantic", "pybullet")
    from drills.course import builtin_courses

    courses = builtin_courses()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": c.id,
                        "title": c.title,
                        "rounds": c.rounds,
                        "cartridges": c.cartridges,
                        "max_points": c.max_points,
                        "pass": _pass_mark(c),
                    }
                    for c in courses.values()
                ],
                indent=2,
            )
        )
        return 0
    width = column_width(courses)
    for c in courses.values():
        print(
            f"{pad(c.id, width)}  {c.title}"
            f"  ({c.shot_at()}, max {c.max_points}, pass {_pass_mark(c)})"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    require("pydantic", "pybullet")
    from drills.course import FIREARMS, read_course_file, stage_label
    from range.records.store import content_label

    source = read_course_file(args.course)
    course = source.course
    if args.json:
        print(json.dumps(course.model_dump(mode="json"), indent=2))
        return 0
    label, note = content_label("course", course.id, source.sha256)
    print(f"{course.title} [{label}]")
    if note:
        print(f"  {note}")
    print(
        f"Target {course.shot_at()}, {course.max_points} points possible,"
        f" pass {_pass_mark(course)};"
        f" late shots are {'misses' if course.late_shots == 'miss' else 'not scored'}."
    )
    print("Source:\n  " + " ".join(course.source.split()))
    for i, stage in enumerate(course.stages):
        label = stage_label(i, stage.name)
        print(label[0].upper() + label[1:])
        for s in stage.strings:
            # A firearm string (pistol or rifle) fires rounds; a TASER string, cartridges.
            what = f"{s.rounds} rd" if s.weapon in FIREARMS else f"{s.cartridges} x {s.cartridge}"
            distance = (
                f"{s.distance_yd:g} yd" if s.distance_yd is not None else f"{s.distance_ft:g} ft"
            )
            print(
                f"  {distance:>6}  from {s.start:<9} {what:<22} par {s.par_time_s:g} s"
                + (f"  ({extras})" if (extras := _extras(s)) else "")
            )
    return 0


def _extras(s: CourseString) -> str:
    """What a string adds to its distance, rounds and par time: its reload, stoppage and hands,
    then its note; a field the note already says in words is not said twice."""
    note = s.note.lower()
    said = (
        ("reload" if s.reload else "", "reload"),
        ("stoppage" if s.stoppage else "", "stoppage"),
        (s.hands_text if s.hand != "both" else "", "hand"),
    )
    parts = [text for text, word in said if text and word not in note]
    return ", ".join([*parts, s.note] if s.note else parts)


def range_warnings(source: CourseFile) -> list[str]:
    """A warning (file, line, field) for each TASER string fired from past its cartridge's
    effective range in the default policy (CEW-08's `cartridge_range_ft`): allowed, since a
    course may test a deployment's edge, but said, since both probes almost never land there
    and a shooter scores nothing on it (nu24 #15: a CQ string at 24 ft validated in silence)."""
    from physics.datafiles import decode, key_lines, locate
    from scoring.policy import default_policy

    ranges = default_policy().values.cartridge_range_ft
    lines = key_lines(decode(source.content, source.path))
    warnings = []
    for i, stage in enumerate(source.course.stages):
        for j, string in enumerate(stage.strings):
            span = ranges.get(string.cartridge or "")
            distance_ft = string.distance_ft_value
            if span is None or span[0] <= distance_ft <= span[1]:
                continue
            key = "distance_ft" if string.distance_ft is not None else "distance_yd"
            loc = ("stages", i, "strings", j, key)
            line = locate(lines, loc)
            warnings.append(
                f"{source.path}{'' if line is None else f':{line}'}: stages[{i}].strings[{j}]"
                f".{key}: warning: {string.cartridge} fired at {distance_ft:g} ft, outside its"
                f" effective range {span[0]:g}-{span[1]:g} ft (the default policy's CEW-08):"
                " both probes seldom land there; checked as written"
            )
    return warnings


def _validate(args: argparse.Namespace) -> int:
    require("pydantic", "pybullet")
    from drills.course import course_file
    from range.records.store import content_label

    def load(path: Path) -> CourseFile:
        source = course_file(path)
        for warning in range_warnings(source):
            print(warning, file=sys.stderr)
        return source

    def describe(source: CourseFile) -> str:
        c = source.course
        label, note = content_label("course", c.id, source.sha256)
        return f"{label}, {c.fired()}, {c.max_points} points" + (f"; {note}" if note else "")

    return validate_files(args.files, load, describe)
