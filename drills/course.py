"""Qualification courses of fire: TOML files with versioned ids (`fbi-pistol-2019-v1`),
documented in docs/courses.md. A course is stages of strings; each string says the weapon, the
distance, where the shooter starts, how many rounds or cartridges, the par time and the target.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from drills.schema import (
    DRILL_ID,
    DRILL_NOT_COURSE,
    MAX_CLOTHING_GAP_IN,
    MIN_START_DISTANCE_FT,
    Scene,
)
from drills.threat import AgeGroup
from physics.ballistics import builtin_loads
from physics.body import BODY_SIZES, OUTFITS, SubjectBody, body_for
from physics.datafiles import (
    NOT_A_FILE,
    CheckedAgainst,
    DataFileError,
    FieldError,
    NotFoundError,
    Problem,
    StrictModel,
    builtin_or_file,
    decode,
    field_name,
    key_lines,
    load_model,
    locate,
    parse_model,
    read_bytes,
    read_text,
)
from physics.targets import TARGETS, TargetKind
from physics.taser import TaserModel, builtin_cartridges

# The package's own data, found beside this module and never through the import path: under
# `python -m`, a `drills/` folder in the current directory shadows the package's name.
DATA_DIR = Path(__file__).resolve().parent / "data"

# One Literal, not a union of two: a weapon no course knows is then one error naming every
# weapon it may be (nu22 #8), not one per half of the union in pydantic's own words.
Weapon = Literal["pistol", "rifle", TaserModel]
FIREARMS = ("pistol", "rifle")  # strings that fire rounds at the course's paper target
# The load a firearm string fires when it names none (physics/data/loads.toml): the pistol's is
# the run's own (`--load`, CourseConfig.firearm_load), the patrol rifle's its duty load.
DEFAULT_RIFLE_LOAD = "223-55"
# Rounds a replica's magazine holds (peripherals/emulator.py: PistolEmulator, RifleEmulator).
MAGAZINE_ROUNDS = {"pistol": 17, "rifle": 30}
Hand = Literal["both", "strong", "support"]
OTHER_HAND: dict[str, Hand] = {"strong": "support", "support": "strong"}


class CourseSubject(StrictModel):
    """A TASER string's subject (docs/courses.md): its size and clothing (`outfit`, or one
    `clothing_gap_in` for every clothed region) and the attributes that shape a body (drills:
    `age_group`, `pregnant`, `frail`), built as a drill subject's (physics.body.body_for), so
    the probes meet, and the zones judge, the body the course names."""

    size: str = "medium"
    outfit: str | None = None
    clothing_gap_in: float | None = Field(default=None, ge=0.0, le=MAX_CLOTHING_GAP_IN)
    age_group: AgeGroup = "adult"
    pregnant: bool = False
    frail: bool = False

    @model_validator(mode="after")
    def _known(self) -> CourseSubject:
        if self.size not in BODY_SIZES:
            raise ValueError(f"size must be one of {', '.join(BODY_SIZES)}")
        if self.outfit is not None and self.outfit not in OUTFITS:
            raise ValueError(f"outfit must be one of {', '.join(OUTFITS)}")
        return self

    def body(self) -> SubjectBody:
        return body_for(
            self.size,
            self.clothing_gap_in,
            child=self.age_group == "child",
            juvenile=self.age_group == "juvenile",
            elderly=self.age_group == "elderly",
            pregnant=self.pregnant,
            frail=self.frail,
            outfit=self.outfit,
        )


class CourseString(StrictModel):
    """One string of fire: from the start signal, `rounds` (or TASER `cartridges`) within
    `par_time_s`."""

    weapon: Weapon = "pistol"
    # A firearm string's load (physics/data/loads.toml id): None, the pistol's run load or the
    # rifle's DEFAULT_RIFLE_LOAD.
    load: str | None = None
    # From MIN_START_DISTANCE_FT up to the lane's length: both bounds are checked by the
    # course's cross-check (check_course), which names them with their values (nu22 #8: a
    # bound of 0 here was said as "allowed 0 < distance", below the real minimum).
    distance_yd: Annotated[float | None, CheckedAgainst("lane_length_ft")] = None
    distance_ft: Annotated[float | None, CheckedAgainst("lane_length_ft")] = None
    start: Literal["holster", "low_ready", "ready"] = "holster"
    hand: Hand = "both"
    # A hand switch inside the string (facts.md §3, FBI 2019 stage 1): after this many rounds
    # with `hand`, the rest are fired with the other hand, on the same clock and par time.
    switch_hand_after: int | None = Field(default=None, ge=1)
    # Firearm strings: from 1 to what the weapon's magazines hold (MAGAZINE_ROUNDS, two with
    # `reload`), checked by `_consistent`, which says the limit and why (nu22 #8).
    rounds: int = 0
    cartridges: int = Field(default=0, ge=0, le=2)
    cartridge: str | None = None  # TASER strings: the cartridge id (docs/physics.md)
    # From a half second (no string is shorter than a draw and one shot) to ten minutes (the
    # longest shipped par is a few tens of seconds).
    par_time_s: float = Field(ge=0.5, le=600.0)
    reload: bool = False  # a magazine change (or a second cartridge) inside the string
    stoppage: bool = False  # the instructor induces a stoppage to clear
    # TASER strings: the subject paces across the lane at this speed (0: it stands), walking
    # or running as a drill subject would, and the probes fly against its motion.
    subject_speed_mps: float = Field(default=0.0, ge=0.0, le=9.0)
    # TASER strings: who the subject is (default: a medium adult in a T-shirt and jeans).
    subject: CourseSubject = CourseSubject()
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> CourseString:
        if (self.distance_yd is None) == (self.distance_ft is None):
            raise ValueError("give exactly one of distance_yd and distance_ft")
        if self.weapon in FIREARMS:
            self._check_rounds()
        elif self.cartridges < 1 or self.rounds or self.cartridge is None:
            raise ValueError("a TASER string names its cartridge and fires 1 or 2 cartridges")
        elif self.load is not None:
            raise ValueError("load belongs to firearm strings (pistol, rifle)")
        if self.weapon == "rifle" and self.start == "holster":
            raise ValueError("a rifle string starts from low_ready or ready, not the holster")
        # Not "given": a saved course's JSON dump gives every string the default subject.
        if self.subject != CourseSubject() and self.weapon in FIREARMS:
            raise ValueError("subject is for TASER strings: a firearm string fires at paper")
        if self.subject_speed_mps and self.weapon in FIREARMS:
            raise ValueError(
                "subject_speed_mps is for TASER strings: a moving paper target is not modelled"
            )
        if self.switch_hand_after is not None:
            if self.weapon not in FIREARMS or self.hand == "both":
                raise ValueError(
                    "switch_hand_after needs a pistol string fired one-handed: hand = 'strong'"
                    " or 'support'"
                )
            if self.switch_hand_after >= self.rounds:
                raise ValueError(
                    f"switch_hand_after = {self.switch_hand_after} leaves no round for the"
                    f" other hand: it must be less than rounds ({self.rounds})"
                )
        return self

    def _check_rounds(self) -> None:
        """A firearm string's rounds: at least 1 and what its magazines hold (one, or two with
        `reload`), each refusal naming the real limit and why; cartridges are TASER strings'."""
        weapon = self.weapon
        for key, value in (("cartridges", self.cartridges), ("cartridge", self.cartridge)):
            if value:
                raise FieldError(
                    (key,), f"{key} is for TASER strings: a {weapon} string fires rounds"
                )
        holds = MAGAZINE_ROUNDS[weapon]
        limit = (
            f"{2 * holds} with this reload ({holds} a magazine)"
            if self.reload
            else f"{holds}, a magazine (or {2 * holds} with reload = true)"
        )
        if self.rounds < 1:
            raise FieldError(
                ("rounds",),
                f"{self.rounds} rounds: a {weapon} string fires at least 1: allowed 1 to {limit}",
            )
        per_magazine = (self.rounds + 1) // 2 if self.reload else self.rounds
        if per_magazine > holds and self.reload:
            raise FieldError(
                ("rounds",),
                f"{self.rounds} rounds with one reload: the {weapon}'s two magazines"
                f" hold {2 * holds} ({holds} each): allowed 1 to {2 * holds}",
            )
        if per_magazine > holds:
            raise FieldError(
                ("rounds",),
                f"{per_magazine} rounds in one magazine: the {weapon}'s holds"
                f" {holds}: allowed 1 to {holds} (reload = true splits the string in two)",
            )

    def hand_for(self, round_index: int) -> Hand:
        """The hand that fires round `round_index` (from 0) of the string."""
        after = self.switch_hand_after
        if after is not None and round_index >= after:
            return OTHER_HAND[self.hand]
        return self.hand

    @property
    def hands_text(self) -> str:
        """How a range officer calls the string's hands: "both hands", "strong hand only",
        "3 strong hand, then 3 support hand"."""
        if self.hand == "both":
            return "both hands"
        after = self.switch_hand_after
        if after is None:
            return f"{self.hand} hand only"
        return f"{after} {self.hand} hand, then {self.rounds - after} {OTHER_HAND[self.hand]} hand"

    @property
    def distance_ft_value(self) -> float:
        return self.distance_ft if self.distance_ft is not None else 3.0 * (self.distance_yd or 0)

    @property
    def shots(self) -> int:
        return self.rounds or self.cartridges


class Stage(StrictModel):
    name: str  # not empty nor only blanks, and unique: check_course names the stage
    strings: list[CourseString] = Field(min_length=1)
    min_points: int = Field(default=0, ge=0)  # a per-stage minimum, where the course sets one


class TaserCriteria(StrictModel):
    """What a TASER deployment must do to count (facts.md §3, TASER qualification)."""

    both_probes_preferred: bool = True
    min_spread_in: float = Field(default=12.0, ge=0.0)
    laser_on_target: bool = True  # the laser was on the target before the trigger


class PassMark(StrictModel):
    # A pass mark of 0 would pass every attempt: at least 1 (at most what the course can
    # score, checked by check_course).
    points: int | None = Field(default=None, ge=1)
    percent: float | None = Field(default=None, gt=0.0, le=100.0)
    hits: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one(self) -> PassMark:
        if sum(v is not None for v in (self.points, self.percent, self.hits)) != 1:
            raise ValueError("the pass mark is exactly one of points, percent or hits")
        return self


class Course(StrictModel):
    id: str = Field(pattern=DRILL_ID)
    version: Literal[1]
    title: str
    source: str  # where the course comes from, and what was approximated
    target: TargetKind = TargetKind.QIT99
    # The range the course is fired on: its strings' distances are bounded by it, as a drill's
    # subjects are by its lane (3 to 300 ft, drills.schema.Scene); a patrol-rifle course's
    # 50 and 100 yd lines need a 150 or 300 ft range.
    lane_length_ft: float = Field(
        default=Scene.model_fields["lane_length_ft"].default, ge=3.0, le=300.0
    )
    # After the par time a shot is a "miss" (scored zero) or "void" (not fired at all).
    late_shots: Literal["miss", "void"] = "miss"
    pass_mark: PassMark
    taser: TaserCriteria = TaserCriteria()
    # Cover and props on the lane, as a drill's scene has them (drills.schema.Scene): rounds and
    # probes meet them on the way to the target. Its lane size and lighting are for drawing.
    scene: Scene = Scene()
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _not_a_drill(cls, data: object) -> object:
        """A drill file given where a course is wanted: said as such, in one line (nu22 #8)."""
        if isinstance(data, dict) and "phases" in data and "stages" not in data:
            raise ValueError(DRILL_NOT_COURSE)
        return data

    @model_validator(mode="after")
    def _no_crowds(self) -> Course:
        if self.scene.crowds:
            raise ValueError("scene.crowds are for drills: a course fires at a target alone")
        # One lane length, the course's own; a [scene] may give it instead, or repeat it, but
        # not contradict it. The scene then carries the same length, so a saved course (its
        # JSON dump, both fields set) reads back as it was written.
        length = self.lane_length_ft
        if "lane_length_ft" in self.scene.model_fields_set:
            if "lane_length_ft" not in self.model_fields_set:
                length = self.scene.lane_length_ft
            elif self.scene.lane_length_ft != self.lane_length_ft:
                raise ValueError(
                    f"scene.lane_length_ft {self.scene.lane_length_ft:g} contradicts the"
                    f" course's lane_length_ft {self.lane_length_ft:g}: give one"
                )
        if self.scene.lane_length_ft == length == self.lane_length_ft:
            return self
        scene = self.scene.model_copy(update={"lane_length_ft": length})
        return self.model_copy(update={"lane_length_ft": length, "scene": scene})

    @property
    def rounds(self) -> int:
        """Rounds fired by the firearm strings (pistol, rifle)."""
        return sum(s.rounds for stage in self.stages for s in stage.strings)

    @property
    def cartridges(self) -> int:
        """TASER cartridges deployed by the TASER strings."""
        return sum(s.cartridges for stage in self.stages for s in stage.strings)

    def fired(self) -> str:
        """What the course fires, as a summary says it: rounds for firearm strings,
        cartridges for TASER strings ("50 rounds", "4 cartridges", "30 rounds, 2 cartridges")."""
        counts = ((self.rounds, "round"), (self.cartridges, "cartridge"))
        parts = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts if n]
        return ", ".join(parts) or "nothing fired"

    def shot_at(self) -> str:
        """What the course's strings are fired at, as listings say it: its paper target for
        firearm strings, the subject for TASER strings ("qit99", "the subject", "qit99
        (firearm strings), the subject (TASER strings)")."""
        if not self.cartridges:
            return self.target
        if not self.rounds:
            return "the subject"
        return f"{self.target} (firearm strings), the subject (TASER strings)"

    @property
    def hit_noun(self) -> str:
        """What a `hits` pass mark counts, as docs/courses.md says it: on a course that fires
        only TASER cartridges an "effective cartridge" (nu22 #9: it was "pass 3 hits"), else a
        "hit" (an effective cartridge counts as one beside the rounds on paper)."""
        return "hit" if self.rounds else "effective cartridge"

    @property
    def max_points(self) -> int:
        return sum(self.stage_max_points(i) for i in range(len(self.stages)))

    def stage_max_points(self, index: int) -> int:
        """The most stage `index` can score: every round in the target's best zone, every
        cartridge effective."""
        best = max(zone.points for zone in TARGETS[self.target].zones)
        strings = self.stages[index].strings
        return sum(s.rounds for s in strings) * best + sum(s.cartridges for s in strings)

    def passing_points(self) -> int | None:
        """The points a pass needs. A percent mark is rounded UP (70 % of 32 points needs 23:
        22 is 68.75 %, below the mark) and needs at least 1 point (`percent_points`)."""
        if self.pass_mark.points is not None:
            return self.pass_mark.points
        if self.pass_mark.percent is not None:
            return percent_points(self.max_points, self.pass_mark.percent)
        return None


def percent_points(max_points: int, percent: float) -> int:
    """The points `percent` % of `max_points` needs: rounded up, so no score below the mark
    passes, and at least 1, so a small percent never passes an attempt that scored nothing.
    Worked on the percent as written (70.1, not its binary float), so no float noise rounds an
    exact mark (90 % of 100 is 90) up by one."""
    exact = Fraction(max_points) * Fraction(repr(float(percent))) / 100
    return max(1, math.ceil(exact))


def stage_label(index: int, name: str) -> str:
    """A stage as a range master reads it, numbered from 1 (docs/courses.md): "stage 2: 7 yd";
    a name that already starts with its own number (the FBI course's "1: 3 yd") is not numbered
    twice ("stage 1: 3 yd")."""
    number = str(index + 1)
    rest = name[len(number) :]
    if name.startswith(number) and (not rest or not rest[0].isalnum()):
        return f"stage {name}"
    return f"stage {number}: {name}"


# A string's par time: from a fast single shot from the ready (0.5 s) to ten minutes.
PAR_TIME_S = (0.5, 600.0)


def _mark_and_stage_problems(
    course: Course, lines: dict[tuple[str | int, ...], int]
) -> list[Problem]:
    """A pass mark that passes everyone (0) or no one (more hits than rounds fired), par times
    out of any string's reach, and stage names that are empty or used twice (a range master
    tells stages apart by name on the sheet)."""
    problems = []

    def refuse(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(Problem(locate(lines, loc), field_name(loc), message))

    fired = sum(s.rounds + s.cartridges for stage in course.stages for s in stage.strings)
    mark = course.pass_mark
    if mark.points is not None and mark.points < 1:
        refuse(
            ("pass_mark", "points"),
            f"{mark.points} passes every attempt: allowed 1 to {course.max_points}",
        )
    if mark.hits is not None and not 1 <= mark.hits <= fired:
        refuse(
            ("pass_mark", "hits"),
            f"{mark.hits} hits on a course that fires {fired} rounds and cartridges:"
            f" allowed 1 to {fired}",
        )
    low, high = PAR_TIME_S
    names: dict[str, int] = {}
    for i, stage in enumerate(course.stages):
        # A stage minimum above what the stage can score fails every attempt, the best too.
        most = course.stage_max_points(i)
        if stage.min_points > most:
            refuse(
                ("stages", i, "min_points"),
                f"{stage.min_points} is more than the {most} points this stage can score:"
                f" allowed 0 to {most}",
            )
        # Names that differ only in case or spacing read as one on a score sheet.
        key = " ".join(stage.name.casefold().split())
        if not key:
            refuse(("stages", i, "name"), "a stage needs a name (the score sheet shows it)")
        elif key in names:
            first = course.stages[names[key]].name
            same = (
                f"(stages[{names[key]}] too)"
                if first == stage.name
                else f"(stages[{names[key]}] as {first!r}: names are compared ignoring case"
                " and spacing)"
            )
            refuse(("stages", i, "name"), f"stage name {stage.name!r} is used twice {same}")
        names.setdefault(key, i)
        for j, string in enumerate(stage.strings):
            if not low <= string.par_time_s <= high:
                refuse(
                    ("stages", i, "strings", j, "par_time_s"),
                    f"{string.par_time_s:g} s: allowed {low:g} to {high:g} s",
                )
    return problems


def _distance_given(string: CourseString) -> str:
    """A string's distance as its file gives it, in the field's own unit, as written (the
    shortest form of the number: no float noise from a conversion)."""
    if string.distance_ft is not None:
        return f"{string.distance_ft:.15g} ft"
    return f"{string.distance_yd:.15g} yd"


def _distance_limit(string: CourseString, limit_ft: float) -> str:
    """A limit in feet, said in the unit of the string's distance field (feet beside yards)."""
    if string.distance_ft is not None:
        return f"{limit_ft:g} ft"
    return f"{limit_ft / 3.0:.4g} yd ({limit_ft:g} ft)"


def check_course(course: Course, text: str, path: Path | str) -> None:
    """What the schema cannot see: a TASER string beyond its cartridge's reach, an unknown
    cartridge, a pass mark above what the course can score."""
    lines = key_lines(text)
    problems = []
    known = builtin_cartridges()
    for i, stage in enumerate(course.stages):
        for j, string in enumerate(stage.strings):
            loc: tuple[str | int, ...] = ("stages", i, "strings", j)
            lane_ft = course.lane_length_ft
            field = "distance_ft" if string.distance_ft is not None else "distance_yd"
            given = _distance_given(string)
            allowed = (
                f"allowed {_distance_limit(string, MIN_START_DISTANCE_FT)} <= distance <="
                f" {_distance_limit(string, lane_ft)}"
            )
            # `not >=`: a negative or zero distance too (the field has no bound of its own).
            if not string.distance_ft_value >= MIN_START_DISTANCE_FT:
                # As near as a drill subject may start (drills.schema), no nearer: 0.1 yd
                # (3.6 in) puts the target inside the shooter.
                problems.append(
                    Problem(
                        locate(lines, (*loc, field)),
                        f"stages[{i}].strings[{j}].{field}",
                        f"{given} is nearer than a target can stand: {allowed}",
                    )
                )
                continue
            if string.distance_ft_value > lane_ft:
                problems.append(
                    Problem(
                        locate(lines, (*loc, field)),
                        f"stages[{i}].strings[{j}].{field}",
                        f"{given} is beyond the lane: {allowed}",
                    )
                )
                continue
            if string.load is not None and string.load not in builtin_loads():
                problems.append(
                    Problem(
                        locate(lines, (*loc, "load")),
                        f"stages[{i}].strings[{j}].load",
                        f"no load {string.load!r}; known: " + ", ".join(sorted(builtin_loads())),
                    )
                )
            if string.cartridge is None:
                continue
            cart = known.get(string.cartridge)
            if cart is None:
                problems.append(
                    Problem(
                        locate(lines, (*loc, "cartridge")),
                        f"stages[{i}].strings[{j}].cartridge",
                        f"no cartridge {string.cartridge!r}; known: " + ", ".join(sorted(known)),
                    )
                )
                continue
            if cart.model != string.weapon:
                problems.append(
                    Problem(
                        locate(lines, (*loc, "cartridge")),
                        f"stages[{i}].strings[{j}].cartridge",
                        f"{cart.id} does not fit a {string.weapon}",
                    )
                )
            if string.distance_ft_value > cart.wire_length_ft:
                problems.append(
                    Problem(
                        locate(lines, (*loc, field)),
                        f"stages[{i}].strings[{j}].{field}",
                        f"{given} is beyond the {cart.id} cartridge's"
                        f" {_distance_limit(string, cart.wire_length_ft)} of wire",
                    )
                )
    points = course.pass_mark.points
    if points is not None and points > course.max_points:
        problems.append(
            Problem(
                locate(lines, ("pass_mark", "points")),
                "pass_mark.points",
                f"{points} is more than the {course.max_points} points possible: allowed 1 to"
                f" {course.max_points}",
            )
        )
    problems += _mark_and_stage_problems(course, lines)
    problems += _spread_problems(course, lines)
    if problems:
        raise DataFileError(path, problems)


IN_PER_M = 1.0 / 0.0254


def _spread_problems(course: Course, lines: dict[tuple[str | int, ...], int]) -> list[Problem]:
    """A TASER spread no deployment can reach: both probes land on the one subject, so they
    are never further apart than its stature (standing, arms at its sides); a `min_spread_in`
    above the tallest TASER string subject's fails every cartridge."""
    subjects = [s.subject for stage in course.stages for s in stage.strings if s.cartridges]
    if not subjects:
        return []
    tallest_in = max(subject.body().skeleton().stature_m for subject in subjects) * IN_PER_M
    spread = course.taser.min_spread_in
    if spread <= tallest_in:
        return []
    loc: tuple[str | int, ...] = ("taser", "min_spread_in")
    return [
        Problem(
            locate(lines, loc),
            field_name(loc),
            f"{spread:g} in is more than the {tallest_in:.0f} in stature of the tallest subject"
            " the TASER strings fire at: both probes land on that subject, so no cartridge"
            " can spread that far",
        )
    ]


# A course is fired on the same lane a drill's scene has by default (drills.schema.Scene): a
# string's distance is bounded by it, as a drill subject's is.
LANE_LENGTH_FT: float = Scene.model_fields["lane_length_ft"].default


def parse_course(text: str, path: Path | str) -> Course:
    return parse_model(text, Course, path, check_course)


def load_course(path: Path) -> Course:
    return parse_course(read_text(path), path)


@dataclass(frozen=True, slots=True)
class CourseFile:
    """A course as read from its file: the validated course, the file's exact bytes (kept with
    an attempt, so it can be rescored after the file changes) and where it was."""

    course: Course
    content: bytes
    path: Path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def parse_course_bytes(content: bytes, path: Path | str) -> Course:
    """A course from a file's bytes; DataFileError (file, line, field) if they are not UTF-8
    or the course is not valid."""
    return parse_course(decode(content, path), path)


def course_file(path: Path) -> CourseFile:
    """The course file at `path` with its bytes (read once), as `load_course` reads it."""
    content = read_bytes(path)  # a missing file is the OSError that names it
    return CourseFile(parse_course_bytes(content, path), content, path)


def read_course_file(name: str) -> CourseFile:
    """A built-in course by id, or a course file by path, with the bytes it was read from (read
    once: the course that is fired is the one hashed), as `find_course` looks it up."""
    builtin = builtin_course_files()
    path = builtin.get(name) or Path(name)
    if name not in builtin and path.is_dir():
        raise NotFoundError(f"{path}: {NOT_A_FILE}")
    if name not in builtin and path.suffix != ".toml":
        raise NotFoundError(f"no course {name!r}; built-in: {', '.join(sorted(builtin))}")
    content = read_bytes(path)  # a missing file is the OSError that names it
    return CourseFile(parse_course_bytes(content, path), content, path)


@cache
def builtin_courses() -> dict[str, Course]:
    folder = DATA_DIR / "courses"
    courses = [load_course(p) for p in sorted(folder.glob("*.toml"))]
    return {c.id: c for c in courses}


@cache
def builtin_course_files() -> dict[str, Path]:
    """Each built-in course's file, by the course's id."""
    return {load_course(p).id: p for p in sorted((DATA_DIR / "courses").glob("*.toml"))}


def find_course(name: str) -> Course:
    """A built-in course by id, or a course file by path."""
    return builtin_or_file(name, builtin_courses(), load_course, "course")


# A scripted shooter's times and aim, bounded (docs/courses.md, "Scripted shooters"): the
# slowest built-in recruit (facts.md §4: a ~1.5 s draw and first round, ~0.25 s reaction) is far
# inside them; beyond them a value is a typo (`reaction_s = 1e5` would hold a string for a day).
MAX_REACTION_S = 5.0
MAX_DRAW_S = 10.0
MAX_SPLIT_S = 5.0
MAX_RELOAD_S = 30.0
MAX_HAND_SWITCH_S = 10.0
MAX_AIM_ERROR_MRAD = 100.0
MAX_SUPPORT_HAND_FACTOR = 5.0


class DrawTimes(StrictModel):
    holster: float = Field(gt=0.0, le=MAX_DRAW_S)
    low_ready: float = Field(gt=0.0, le=MAX_DRAW_S)
    ready: float = Field(gt=0.0, le=MAX_DRAW_S)


class Shooter(StrictModel):
    """A scripted shooter for courses: how fast, how accurate."""

    id: str
    description: str
    reaction_s: float = Field(gt=0.0, le=MAX_REACTION_S)  # start signal to first movement
    draw_s: DrawTimes  # from each start position to the first round
    split_s: float = Field(gt=0.0, le=MAX_SPLIT_S)  # between rounds
    reload_s: float = Field(gt=0.0, le=MAX_RELOAD_S)
    aim_error_mrad: float = Field(ge=0.0, le=MAX_AIM_ERROR_MRAD)  # 1 sigma per axis
    # aim error, support hand only
    support_hand_factor: float = Field(default=1.5, ge=1.0, le=MAX_SUPPORT_HAND_FACTOR)
    # A hand switch inside a string: hand the pistol over and find the sights again. Chosen, not
    # measured (docs/courses.md).
    hand_switch_s: float = Field(default=1.0, gt=0.0, le=MAX_HAND_SWITCH_S)
    # The patrol rifle's aim error as a share of the pistol's: shouldered, with an optic, it
    # holds tighter. Chosen, not measured (docs/courses.md).
    rifle_aim_factor: float = Field(default=0.4, gt=0.0, le=1.0)


SHOOTER_LAYOUT = (
    "a shooter file holds `version = 1` and `[[shooter]]` tables (docs/courses.md, 'Scripted"
    " shooters'): start it with `version = 1`, then `[[shooter]]` above `id = ...`"
)


class ShooterFile(StrictModel):
    version: Literal[1]
    shooter: list[Shooter] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _layout(cls, data: object) -> object:
        """A shooter's keys at the top of the file (no `[[shooter]]` table): the layout the
        docs show, in one line, rather than one error per key."""
        bare = isinstance(data, dict) and set(data) & set(Shooter.model_fields)
        if bare and isinstance(data, dict) and "shooter" not in data:
            raise ValueError(SHOOTER_LAYOUT)
        return data

    @model_validator(mode="after")
    def _unique_ids(self) -> ShooterFile:
        seen: set[str] = set()
        for i, shooter in enumerate(self.shooter):
            if shooter.id in seen:
                raise FieldError(("shooter", i, "id"), f"{shooter.id!r} is given twice")
            seen.add(shooter.id)
        return self


@cache
def builtin_shooters() -> dict[str, Shooter]:
    parsed = load_model(DATA_DIR / "shooters.toml", ShooterFile)
    return {s.id: s for s in parsed.shooter}


def load_shooter(path: Path, text: str | None = None) -> Shooter:
    """The one shooter of a shooter file in the documented layout (`version = 1`, one
    `[[shooter]]` table: the layout of drills/data/shooters.toml); a file holding several is
    refused with their ids, file and line. `text`: its text where the caller read it already
    (the bytes an attempt keeps and hashes)."""
    if text is None:
        text = read_text(path)
    parsed = parse_model(text, ShooterFile, path)
    if len(parsed.shooter) > 1:
        ids = ", ".join(s.id for s in parsed.shooter)
        raise DataFileError(
            path,
            [
                Problem(
                    locate(key_lines(text), ("shooter", 1)) or 1,
                    "shooter",
                    f"holds {len(parsed.shooter)} shooters ({ids}): --shooter FILE takes a file"
                    " with one `[[shooter]]`",
                )
            ],
        )
    return parsed.shooter[0]


def find_shooter(name: str) -> Shooter:
    """A built-in shooter by id, or a shooter file (load_shooter) by path."""
    return builtin_or_file(name, builtin_shooters(), load_shooter, "shooter")
