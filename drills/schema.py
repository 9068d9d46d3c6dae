"""Drill files: TOML, versioned ids (`knife-approach-v1`), documented in docs/drills.md."""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator

from drills.deescalation import Deescalation, parse_agitation_trigger
from drills.speech import PhraseBook, act_matches, builtin_phrasebook, parse_speech_trigger
from drills.threat import AgeGroup, Behaviour, Crisis, HeldObject, Offence, Position
from peripherals.messages import CartridgeCode, Model
from physics.animation import Clip
from physics.body import BODY_SIZES, Stance, SubjectBody, body_for
from physics.datafiles import (
    NOT_A_FILE,
    SNAKE_ID,
    VERSIONED_ID,
    CheckedAgainst,
    DataFileError,
    FieldError,
    NotFoundError,
    Problem,
    StrictModel,
    Text,
    builtin_or_file,
    decode,
    key_lines,
    locate,
    parse_model,
    read_bytes,
    read_text,
)
from physics.props import PropPart, prop_parts
from physics.units import FT_M

# The package's own data, found beside this module and never through the import path: under
# `python -m`, a `drills/` folder in the current directory shadows the package's name.
DATA_DIR = Path(__file__).resolve().parent / "data"

DRILL_ID = VERSIONED_ID  # lowercase words joined by '-', ending in -v<number>

OfficerCue = Literal[
    "verbal_command",
    "taser_drawn",
    "firearm_drawn",
    "weapon_pointed",
    "taser_fired",
    "firearm_fired",
    # Full incapacitation: both probes in, spread >= 12 in (a TASER that works; nu24 #9).
    "probes_connected",
    # Both probes in, whatever the spread: a full or a reduced effect (pain, no lock-up).
    "probes_attached",
    "hit",
]

# The replicas a drill may issue, in the order a lane opens them (range/runs/lane.py `Weapon`).
IssuedWeapon = Literal["taser", "firearm"]
WEAPONS: tuple[IssuedWeapon, ...] = ("taser", "firearm")
# The officer cues that only one weapon can give (a `hit` is either's).
CUE_WEAPON: dict[str, IssuedWeapon] = {
    "taser_drawn": "taser",
    "taser_fired": "taser",
    "probes_connected": "taser",
    "probes_attached": "taser",
    "firearm_drawn": "firearm",
    "firearm_fired": "firearm",
}


# The longest lane a drill may have (Scene.lane_length_ft), ft: docs/drills.md.
MAX_LANE_LENGTH_FT = 300.0


class Cover(StrictModel):
    """A solid object on the lane: a car's engine block, a wall, a concrete planter, a car door.

    `material` is a physics.penetration material id (physics/data/materials.toml): rounds go
    through it as that material allows (docs/physics.md, "Penetration, cover and
    concealment"). `role` is what the drill teaches it as: "cover" stops handgun rounds (checked:
    its material and depth must stop the 9 mm duty load), "concealment" only hides (a car door,
    drywall). The scorer credits cover only to an object with role "cover" (COVER-01)."""

    name: Text
    material: str = "concrete"
    role: Literal["cover", "concealment"] = "cover"
    x_ft: float = Field(gt=0.0)  # centre, downrange of the officer's start
    y_ft: float = 0.0  # centre, to the officer's left
    width_ft: float = Field(gt=0.0)  # across the lane
    depth_ft: float = Field(gt=0.0)  # along the lane
    height_ft: float = Field(gt=0.0)
    # Cover the officer may use. False for an object that is on the line but not the officer's
    # to use: the subject's own car, say. The scorer credits cover only to an officer standing
    # at an object marked true (docs/scoring.md, COVER-01).
    officer_cover: bool = True


class Crowd(StrictModel):
    """A zone where people stand (a queue, a crowd at a bus stop): the backdrop check (FIRE-01)
    treats it as bystanders."""

    name: Text
    x_ft: float = Field(gt=0.0)  # centre, downrange of the officer's start
    y_ft: float = 0.0
    width_ft: float = Field(gt=0.0)  # across the lane
    depth_ft: float = Field(gt=0.0)  # along the lane


class Prop(StrictModel):
    """A prop from physics.props (a car for a traffic stop, an apartment room, a doorway, a
    street's curb), its parts marked cover or concealment there; drawn and collided with."""

    kind: Literal["car", "room", "doorway", "curb"]
    name: Text
    x_ft: float  # its centre, downrange of the officer's start
    y_ft: float = 0.0  # to the officer's left
    yaw_deg: float = 0.0  # its front (a car's bonnet) turned this far from downrange, leftward
    length_ft: float = Field(default=60.0, gt=0.0)  # a curb's length


class Scene(StrictModel):
    # A lane is a room-scale VR range: from 3 ft up to 300 ft (100 yd, the longest qualification
    # distance of any course) long, and 3 to 200 ft wide (docs/drills.md); beyond that a
    # subject's distance stops meaning anything an officer could train.
    lane_length_ft: float = Field(default=75.0, ge=3.0, le=MAX_LANE_LENGTH_FT)
    lane_width_ft: float = Field(default=26.0, ge=3.0, le=200.0)
    lighting: Literal["day", "dusk", "night"] = "day"
    cover: list[Cover] = Field(default_factory=list)
    crowds: list[Crowd] = Field(default_factory=list)
    props: list[Prop] = Field(default_factory=list)

    def prop_parts(self) -> list[PropPart]:
        """Every prop's boxes in the world frame (metres)."""
        return [
            part
            for prop in self.props
            for part in prop_parts(
                prop.kind,
                prop.name,
                prop.x_ft * FT_M,
                prop.y_ft * FT_M,
                math.radians(prop.yaw_deg),
                prop.length_ft * FT_M,
            )
        ]


class Attributes(StrictModel):
    """Who the subject is and where (docs/drills.md, "Subject attributes"): what Graham v.
    Connor and the CEW guidelines weigh beside behaviour (facts.md §5)."""

    age_group: AgeGroup = "adult"
    pregnant: bool = False  # visibly pregnant
    frail: bool = False  # visibly frail or of low body mass
    crisis: Crisis = "none"  # in a mental-health or medical crisis
    impaired: bool = False
    offence: Offence = "none"  # the severity of the crime at issue
    danger_to_others: bool = False  # a danger to others, not only to the officer
    position: Position = "standing"
    near_flammables: bool = False
    restrained: bool = False  # handcuffed


class AttributeChanges(StrictModel):
    """A phase's changes to the subject's attributes; a field left out keeps its value."""

    age_group: AgeGroup | None = None
    pregnant: bool | None = None
    frail: bool | None = None
    crisis: Crisis | None = None
    impaired: bool | None = None
    offence: Offence | None = None
    danger_to_others: bool | None = None
    position: Position | None = None
    near_flammables: bool | None = None
    restrained: bool | None = None


# The thickest clothing a subject may wear, inches from its surface to the skin (a design value:
# more than twice the winter coat's 2.5 in, physics.human OUTFITS; any gap past 2 in already
# keeps every probe from connecting, facts.md §1). 50 in is centimetres typed as inches (nu24 #15).
MAX_CLOTHING_GAP_IN = 6.0


class Subject(StrictModel):
    id: Text
    role: Literal["subject", "bystander"] = "subject"  # a bystander is never a target
    # Up to the lane's length, which the drill's cross-check names with its value.
    start_distance_ft: Annotated[float, CheckedAgainst("scene.lane_length_ft")] = Field(gt=0.0)
    lateral_ft: float = 0.0
    facing: Literal["officer", "away"] = "officer"
    held_object: HeldObject = HeldObject.NONE
    size: str = "medium"
    clothing_gap_in: float = Field(default=0.25, ge=0.0, le=MAX_CLOTHING_GAP_IN)
    start_phase: Text
    attributes: Attributes = Attributes()
    # The subject's agitation model (drills/deescalation.py); None: no agitation, and no
    # `agitation_below` / `agitation_above` transitions.
    deescalation: Deescalation | None = None

    @model_validator(mode="after")
    def _known_size(self) -> Subject:
        if self.size not in BODY_SIZES:
            raise ValueError(f"size must be one of {', '.join(BODY_SIZES)}")
        return self

    def body(self, stance: Stance = Stance.STANDING) -> SubjectBody:
        """The body its size, clothing and starting attributes give it (child, juvenile,
        elderly, visibly pregnant, frail): the one body drawn and hit (physics.body.body_for)."""
        a = self.attributes
        return body_for(
            self.size,
            self.clothing_gap_in,
            child=a.age_group == "child",
            juvenile=a.age_group == "juvenile",
            elderly=a.age_group == "elderly",
            pregnant=a.pregnant,
            frail=a.frail,
            stance=stance,
        )


class Transition(StrictModel):
    """Leave the phase for `to` when its trigger fires; with `chance`, only that often (drawn
    from the run's seed). Exactly one trigger: after_s, within_ft, beyond_ft, on, instructor.

    `on` is an officer cue (OfficerCue), a speech act heard (`speech:command.drop_weapon`, or a
    whole category, `speech:command`; drills/speech.py) or an agitation threshold
    (`agitation_below:0.2`, `agitation_above:0.9`; drills/deescalation.py)."""

    to: Text
    after_s: float | None = Field(default=None, ge=0.0)
    within_ft: float | None = Field(default=None, gt=0.0)
    beyond_ft: float | None = Field(default=None, gt=0.0)
    on: OfficerCue | str | None = None
    instructor: Text | None = None
    chance: float = Field(default=1.0, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_trigger(self) -> Transition:
        triggers = [self.after_s, self.within_ft, self.beyond_ft, self.on, self.instructor]
        if sum(t is not None for t in triggers) != 1:
            raise ValueError("needs exactly one of after_s, within_ft, beyond_ft, on, instructor")
        return self

    @field_validator("on")
    @classmethod
    def _known_trigger(cls, on: str | None) -> str | None:
        if (
            on is not None
            and on not in get_args(OfficerCue)
            and parse_speech_trigger(on) is None
            and parse_agitation_trigger(on) is None
        ):
            raise ValueError(
                f"{on!r}: allowed an officer cue ({', '.join(get_args(OfficerCue))}),"
                " speech:<act> (docs/speech.md) or agitation_below:X / agitation_above:X"
            )
        return on


class Phase(StrictModel):
    id: Text
    subject: Text
    behaviour: Behaviour
    speed_mps: float = Field(default=0.0, ge=0.0, le=9.0)
    movement: Literal["hold", "advance", "flee"] = "hold"
    held_object: HeldObject | None = None  # what the subject holds from now on (None: no change)
    stance: Stance | None = None  # standing, arms_raised or kneeling from now on
    # The animation played in this phase (physics.animation.Clip: reach_pocket, draw_point,
    # drop, ...), instead of the one the behaviour, stance, motion and held object call for
    # (None: that one). Incapacitation still makes the subject fall.
    animation: Clip | None = None
    ends_drill: bool = False
    # Whether the subject acts on the threat in this phase (points or fires the gun, attacks,
    # charges, runs at others). Default: an assaultive or deadly threat acts. A man holding a
    # gun to his own head is a deadly threat that has not acted: `acting = false`.
    acting: bool | None = None
    attributes: AttributeChanges | None = None  # what changes from now on (None: nothing)
    # A line the subject speaks on entering the phase (docs/drills.md, "Subjects speak"): heard
    # in the subject's voice from where the subject stands, and logged as `subject_spoke`.
    say: Text | None = Field(default=None, min_length=1, max_length=400)
    transitions: list[Transition] = Field(default_factory=list)


class DebriefQuestion(StrictModel):
    """A question asked after an empathy scene; the officer answers by voice or typing."""

    id: str = Field(pattern=SNAKE_ID)
    question: Text = Field(min_length=1, max_length=400)


class Empathy(StrictModel):
    """An empathy scene's point of view (docs/drills.md, "Empathy scenes"): whose eyes and ears
    the officer takes (`perspective`, a subject id), how that person hears the others' voices,
    and the debrief that follows."""

    perspective: Text
    # clear: as spoken; distorted: a person in crisis hearing voices (ring-modulated, echoed,
    # with a whispering under-layer); muffled: through a door or a wall (low-passed, quieter).
    hears: Literal["clear", "distorted", "muffled"] = "clear"
    debrief: list[DebriefQuestion] = Field(min_length=1, max_length=20)


# A course file (drills/course.py: `[[stages]]`, no phases) where a drill is wanted, and a drill
# file (phases, no stages) where a course is wanted: each said as the other kind of file, with
# the command that takes it (docs/courses.md, docs/drills.md).
COURSE_NOT_DRILL = (
    "this looks like a course file (it has [[stages]], and a drill has [[phases]]): fire it"
    " with `openrange course run FILE`, or Start course on a lane"
)
DRILL_NOT_COURSE = (
    "this looks like a drill file (it has [[phases]], and a course has [[stages]]): run it"
    " with `openrange drill run FILE`, or Start drill on a lane"
)


class Drill(StrictModel):
    id: str = Field(pattern=DRILL_ID)
    version: Literal[1]
    # force: a use-of-force drill, scored by policy. empathy: a scene seen through another
    # person's eyes, with no force to score; it needs `empathy` (docs/drills.md).
    kind: Literal["force", "empathy"] = "force"
    empathy: Empathy | None = None
    title: Text
    rationale: Text
    expected_response: Text
    # The built-in officer script that plays the expected response (`openrange drill run`).
    expected_officer: Text | None = None
    # A drill shorter than a second cannot hold a decision; one longer than an hour is a typo.
    time_limit_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    scene: Scene = Scene()
    # The TASER issued for this drill and its cartridges, one per bay (None: the run's own).
    taser_model: Literal["taser-x26p", "taser-x2", "taser-7", "taser-10"] | None = None
    taser_loads: list[str] | None = None
    # The replicas issued for this drill (None: both, the duty belt; `issued_weapons`).
    weapons: list[IssuedWeapon] | None = Field(default=None, min_length=1)
    subjects: list[Subject] = Field(min_length=1)
    phases: list[Phase] = Field(min_length=1)

    def phase(self, phase_id: str) -> Phase:
        return next(p for p in self.phases if p.id == phase_id)

    @model_validator(mode="before")
    @classmethod
    def _not_a_course(cls, data: object) -> object:
        """A course file given where a drill is wanted (`drill run`, a lane's Drill file): said
        as such, with the command that fires it, in one line rather than one error per drill key
        it lacks (nu22 #8: "rationale: required key is missing")."""
        if isinstance(data, dict) and "stages" in data and "phases" not in data:
            raise ValueError(COURSE_NOT_DRILL)
        return data

    @model_validator(mode="after")
    def _empathy_section(self) -> Drill:
        if (self.kind == "empathy") != (self.empathy is not None):
            raise ValueError('an [empathy] section goes with kind = "empathy", and only there')
        return self

    @model_validator(mode="after")
    def _issued_loads(self) -> Drill:
        if self.taser_loads is None:
            return self
        if self.taser_model is None:  # said on taser_loads' own line (nu24 #12)
            raise FieldError(
                ("taser_loads",), "needs taser_model: the model whose bays these cartridges load"
            )
        known = {c.cartridge_id: c for c in CartridgeCode if c.cartridge_id}
        for load in self.taser_loads:
            if load not in known:
                raise ValueError(f"taser_loads: no cartridge {load!r}; known: {', '.join(known)}")
        return self

    def issued_taser(self) -> tuple[Model | None, tuple[CartridgeCode, ...] | None]:
        """The TASER model and bay loads the drill fixes (None where it leaves them to the run)."""
        model = None if self.taser_model is None else Model.from_slug(self.taser_model)
        loads = None
        if self.taser_loads is not None:
            codes = {c.cartridge_id: c for c in CartridgeCode if c.cartridge_id}
            loads = tuple(codes[x] for x in self.taser_loads)
        return model, loads

    def cued_weapons(self) -> dict[IssuedWeapon, tuple[int, int]]:
        """The weapons the drill's transitions wait on (`on = "taser_fired"`, ...), each with
        the first (phase, transition) index that names it."""
        cued: dict[IssuedWeapon, tuple[int, int]] = {}
        for i, phase in enumerate(self.phases):
            for j, transition in enumerate(phase.transitions):
                weapon = CUE_WEAPON.get(transition.on or "")
                if weapon is not None:
                    cued.setdefault(weapon, (i, j))
        return cued

    def issued_weapons(self) -> tuple[IssuedWeapon, ...]:
        """The replicas a run of this drill opens (docs/drills.md "Issued weapons"): the
        declared `weapons`; else both, the TASER and the pistol: an officer on patrol carries
        both, and whether the less-lethal option was at hand (LLF-02) must not depend on which
        weapon the drill's scripts happen to draw."""
        if self.weapons is not None:
            return tuple(w for w in WEAPONS if w in self.weapons)
        return WEAPONS


# Two torsos apart (about 0.45 m): a subject nearer than this starts inside the officer. Contact
# range (a drive stun's 2.5 ft) is still allowed.
MIN_START_DISTANCE_FT = 1.5


def _names_script_file(name: str) -> bool:
    """An `expected_officer` that names a script file (by path) rather than a built-in id."""
    return name.endswith(".toml") or "/" in name


def _check_expected_officer(
    drill: Drill, problem: Callable[[tuple[str | int, ...], str], None]
) -> None:
    """A drill's expected_officer names a built-in officer script (or a script file)."""
    name = drill.expected_officer
    if name is None or _names_script_file(name):
        return  # a file: looked for beside the drill file (DrillFile.check_expected_officer)
    from drills.officer import builtin_officers

    known = builtin_officers()
    if name not in known:
        playing = sorted(s.id for s in known.values() if s.drill == drill.id)
        which = f"one of {', '.join(playing)}" if playing else f"one of the {len(known)} built-in"
        problem(
            ("expected_officer",),
            f"no built-in officer script {name!r}: {which} ids, or a script file's path (.toml)",
        )


def _check_scene_names(drill: Drill, problem: Callable[[tuple[str | int, ...], str], None]) -> None:
    """A scene's cover, crowds and props each named once, and no cover named as a subject:
    the world keys what a round meets by name, so a second object of one name would take the
    first's material and place (and a cover named as a subject, the subject's hits). Names are
    compared ignoring case and spacing, as they read in findings and on the review."""

    def key(name: str) -> str:
        return " ".join(name.casefold().split())

    subjects = {key(subject.id) for subject in drill.subjects}
    scene = drill.scene
    groups: tuple[tuple[str, Sequence[Cover | Crowd | Prop]], ...] = (
        ("cover", scene.cover),
        ("crowds", scene.crowds),
        ("props", scene.props),
    )
    for group, things in groups:
        seen: dict[str, int] = {}
        for n, thing in enumerate(things):
            name = key(thing.name)
            if name in seen:
                problem(
                    ("scene", group, n, "name"),
                    f"name {thing.name!r} is used twice (scene.{group}[{seen[name]}] too; names"
                    " are compared ignoring case and spacing)",
                )
            elif group == "cover" and name in subjects:
                problem(
                    ("scene", group, n, "name"),
                    f"name {thing.name!r} is a subject's id: a round that hits either must say"
                    " which",
                )
            seen.setdefault(name, n)


def _check_on_lane(
    scene: Scene,
    loc: tuple[str | int, ...],
    what: str,
    thing: Cover | Crowd,
    problem: Callable[[tuple[str | int, ...], str], None],
) -> None:
    """Cover or a crowd whose centre lies off the lane, blamed on the coordinate at fault with
    its allowed range, as a subject's `lateral_ft` is (nu24 #12: a y_ft past the side wall was
    said as x_ft, with no bound)."""
    if thing.x_ft > scene.lane_length_ft:
        problem(
            (*loc, "x_ft"),
            f"{what} {thing.name!r} lies off the lane: {thing.x_ft:g} ft is beyond"
            f" scene.lane_length_ft = {scene.lane_length_ft:g}; allowed up to"
            f" {scene.lane_length_ft:g}",
        )
    half = scene.lane_width_ft / 2
    if abs(thing.y_ft) > half:
        problem(
            (*loc, "y_ft"),
            f"{what} {thing.name!r} lies off the lane: {thing.y_ft:g} ft is past a side wall"
            f" (scene.lane_width_ft = {scene.lane_width_ft:g}); allowed -{half:g} to {half:g}",
        )


def check_graph(drill: Drill, text: str, path: Path | str) -> None:
    """Errors a schema cannot see: duplicate ids, dangling references, unreachable phases."""
    lines = key_lines(text)
    problems: list[Problem] = []

    def problem(loc: tuple[str | int, ...], message: str) -> None:
        field = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
        problems.append(Problem(locate(lines, loc), field, message))

    subjects: set[str] = set()
    for k, subject in enumerate(drill.subjects):
        if subject.id in subjects:
            problem(("subjects", k, "id"), f"subject id {subject.id!r} is used twice")
        subjects.add(subject.id)
        scene = drill.scene
        if subject.start_distance_ft > scene.lane_length_ft:
            problem(
                ("subjects", k, "start_distance_ft"),
                f"{subject.start_distance_ft:g} ft is beyond the lane"
                f" (scene.lane_length_ft = {scene.lane_length_ft:g}): allowed"
                f" {MIN_START_DISTANCE_FT:g} to {scene.lane_length_ft:g}",
            )
        elif subject.start_distance_ft < MIN_START_DISTANCE_FT:
            problem(
                ("subjects", k, "start_distance_ft"),
                f"{subject.start_distance_ft:g} ft would start the subject inside the officer:"
                f" allowed {MIN_START_DISTANCE_FT:g} to {scene.lane_length_ft:g}",
            )
        talk = subject.deescalation
        if talk is not None and talk.safe_distance_ft > scene.lane_length_ft:
            # Time calms a subject only at safe_distance_ft or more: past the lane's length the
            # officer can never give that much space, so the tactical pause never works (rc25 #7).
            given = "" if "safe_distance_ft" in talk.model_fields_set else " (the default)"
            problem(
                ("subjects", k, "deescalation", "safe_distance_ft"),
                f"{talk.safe_distance_ft:g} ft{given} can never be reached: it is past the lane"
                f" (scene.lane_length_ft = {scene.lane_length_ft:g}), so time at a distance"
                f" never calms the subject; allowed up to {scene.lane_length_ft:g}",
            )
        if abs(subject.lateral_ft) > scene.lane_width_ft / 2:
            problem(
                ("subjects", k, "lateral_ft"),
                f"{subject.lateral_ft:g} ft is off the lane (scene.lane_width_ft ="
                f" {scene.lane_width_ft:g}): allowed -{scene.lane_width_ft / 2:g} to"
                f" {scene.lane_width_ft / 2:g}",
            )
    _check_expected_officer(drill, problem)
    _check_scene_names(drill, problem)
    for c, cover in enumerate(drill.scene.cover):
        _check_on_lane(drill.scene, ("scene", "cover", c), "cover", cover, problem)
        problem_text = _cover_problem(cover)
        if problem_text is not None:
            field = "material" if problem_text.startswith("no material") else "role"
            problem(("scene", "cover", c, field), problem_text)
    for c, crowd in enumerate(drill.scene.crowds):
        _check_on_lane(drill.scene, ("scene", "crowds", c), "crowd", crowd, problem)
    if drill.empathy is not None:
        if drill.empathy.perspective not in subjects:
            problem(
                ("empathy", "perspective"),
                f"no subject {drill.empathy.perspective!r}; subjects: {', '.join(subjects)}",
            )
        asked: set[str] = set()
        for q, question in enumerate(drill.empathy.debrief):
            if question.id in asked:
                where = ("empathy", "debrief", q, "id")
                problem(where, f"question id {question.id!r} is used twice")
            asked.add(question.id)
    if drill.weapons is not None:
        if len(set(drill.weapons)) != len(drill.weapons):
            problem(("weapons",), f"a weapon is named twice: {', '.join(drill.weapons)}")
        if drill.taser_model is not None and "taser" not in drill.weapons:
            problem(
                ("weapons",),
                f'taser_model {drill.taser_model!r} issues a TASER: add "taser" to weapons'
                " (or drop taser_model)",
            )
        for weapon, (i, j) in drill.cued_weapons().items():
            if weapon not in drill.weapons:
                on = drill.phases[i].transitions[j].on
                problem(
                    ("phases", i, "transitions", j, "on"),
                    f"waits on {on!r}, but the drill issues no {weapon} (weapons ="
                    f" {list(drill.weapons)}): add {weapon!r} to weapons",
                )
    model, loads = drill.issued_taser()
    if model is not None and loads is not None:
        from peripherals.emulator import TASER_SPECS  # the bays a model has

        bays = TASER_SPECS[model].bays
        if len(loads) != bays:
            problem(
                ("taser_loads",),
                f"{drill.taser_model} has {bays} bay(s): give {bays} cartridge(s), not"
                f" {len(loads)}",
            )
        # A cartridge fits its own model's bays only, as a course string's does (check_course).
        for k, code in enumerate(loads):
            if code.model is not model:
                problem(
                    ("taser_loads", k),
                    f"{code.cartridge_id} does not fit a {drill.taser_model}: it is a"
                    f" {code.model.slug if code.model else 'no'} cartridge",
                )
    phase_ids: dict[str, int] = {}
    for i, phase in enumerate(drill.phases):
        if phase.id in phase_ids:
            problem(("phases", i, "id"), f"phase id {phase.id!r} is used twice")
        phase_ids[phase.id] = i
        if phase.subject not in subjects:
            problem(("phases", i, "subject"), f"no subject {phase.subject!r} in this drill")
    for i, phase in enumerate(drill.phases):
        for j, transition in enumerate(phase.transitions):
            if transition.after_s is not None and transition.after_s >= drill.time_limit_s:
                problem(
                    ("phases", i, "transitions", j, "after_s"),
                    f"{transition.after_s:g} s can never fire: the drill ends at its"
                    f" time_limit_s = {drill.time_limit_s:g}; allowed 0 <= after_s <"
                    f" {drill.time_limit_s:g}",
                )
            on = transition.on or ""
            spec = next((s for s in drill.subjects if s.id == phase.subject), None)
            if on.startswith("agitation_") and spec is not None and spec.deescalation is None:
                problem(
                    ("phases", i, "transitions", j, "on"),
                    f"{on} needs subject {phase.subject!r} to have a [subjects.deescalation]"
                    " table (docs/drills.md, De-escalation)",
                )
            if transition.to not in phase_ids:
                problem(("phases", i, "transitions", j, "to"), f"no phase {transition.to!r}")
            elif drill.phases[phase_ids[transition.to]].subject != phase.subject:
                problem(
                    ("phases", i, "transitions", j, "to"),
                    f"phase {transition.to!r} belongs to another subject",
                )
    reachable: set[str] = set()
    for k, subject in enumerate(drill.subjects):
        if subject.start_phase not in phase_ids:
            problem(("subjects", k, "start_phase"), f"no phase {subject.start_phase!r}")
            continue
        owner = drill.phases[phase_ids[subject.start_phase]].subject
        if owner != subject.id:
            # The engine plays a subject from its start phase on: one started in another's
            # phase would act out that subject's script (nu24 #4).
            problem(
                ("subjects", k, "start_phase"),
                f"phase {subject.start_phase!r} belongs to another subject ({owner!r}):"
                f" start {subject.id!r} in a phase whose subject = {subject.id!r}",
            )
            continue
        todo = [subject.start_phase]
        while todo:
            current = todo.pop()
            if current in reachable or current not in phase_ids:
                continue
            reachable.add(current)
            todo.extend(t.to for t in drill.phases[phase_ids[current]].transitions)
    for i, phase in enumerate(drill.phases):
        if phase.id not in reachable and phase.subject in subjects:
            problem(("phases", i, "id"), f"phase {phase.id!r} cannot be reached from a start phase")
    if reachable and not any(drill.phases[phase_ids[p]].ends_drill for p in reachable):
        problem(
            ("phases",),
            "no phase with ends_drill = true can be reached from a start phase: the drill"
            " could only ever run out of time",
        )
    _check_zero_time_cycles(drill, lines, phase_ids, problem)
    if problems:
        raise DataFileError(path, problems)


# A standing trigger's room: (distance low, distance high, agitation above, agitation below);
# `within_ft` holds at distance <= it, `beyond_ft` at >= it, `agitation_above:X` at agitation
# > X, `agitation_below:X` at < X, and `after_s = 0` at once, on entering the phase.
_Room = tuple[float, float, float, float]
_ANYWHERE: _Room = (0.0, math.inf, -math.inf, math.inf)


def _standing(transition: Transition) -> tuple[str, str, _Room] | None:
    """A trigger that holds as a state (not an event heard or a button pressed), as the field
    it is set in, the condition in words and its room; None for any other."""
    lo, hi, above, below = _ANYWHERE
    if transition.after_s is not None:
        if transition.after_s > 0:
            return None  # time passes before it fires: no flip within one frame
        return "after_s", "after_s = 0", _ANYWHERE
    if transition.within_ft is not None:
        return (
            "within_ft",
            f"within_ft = {transition.within_ft:g}",
            (lo, transition.within_ft, above, below),
        )
    if transition.beyond_ft is not None:
        return (
            "beyond_ft",
            f"beyond_ft = {transition.beyond_ft:g}",
            (transition.beyond_ft, hi, above, below),
        )
    agitation = parse_agitation_trigger(transition.on) if transition.on else None
    if agitation is None:
        return None
    direction, level = agitation
    room = (lo, hi, level, below) if direction == "above" else (lo, hi, above, level)
    return "on", f"on = {transition.on!r}", room


def _meet(a: _Room, b: _Room) -> _Room | None:
    """Where both rooms hold at once (agitation runs 0 to 1), or None where they never do."""
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    above, below = max(a[2], b[2]), min(a[3], b[3])
    if lo > hi or above >= below or above >= 1.0 or below <= 0.0:
        return None
    return lo, hi, above, below


# At most this many zero-time cycles are named: a handful tells the author what to mend.
MAX_CYCLES_NAMED = 5


def _check_zero_time_cycles(
    drill: Drill,
    lines: dict[tuple[str | int, ...], int],
    phase_ids: dict[str, int],
    problem: Callable[[tuple[str | int, ...], str], None],
) -> None:
    """rc25 #7: phases that hand over to each other on triggers that can all hold at once
    (`after_s = 0`, distances and agitation levels that overlap) flip the subject between them
    every frame while they hold: the drill never plays any of them. Only certain hand-overs count
    (chance 1, not pre-empted by an earlier `after_s = 0` of the same phase); a cycle through a
    heard act, a cue or an instructor button waits on an event and is fine."""
    edges: dict[int, list[tuple[int, int, str, str, _Room]]] = {}
    for i, phase in enumerate(drill.phases):
        if phase.ends_drill:
            continue
        for j, transition in enumerate(phase.transitions):
            standing = _standing(transition)
            target = phase_ids.get(transition.to)
            certain = standing is not None and transition.chance >= 1.0
            if certain and target is not None and drill.phases[target].subject == phase.subject:
                assert standing is not None
                edges.setdefault(i, []).append((j, target, *standing))
            if transition.after_s == 0 and transition.chance >= 1.0:
                break  # fires on entering the phase: no later transition is ever reached
    found: list[list[tuple[int, int, str, str]]] = []

    def walk(start: int, at: int, room: _Room, path: list[tuple[int, int, str, str]]) -> None:
        for j, target, field, said, edge_room in edges.get(at, []):
            if len(found) >= MAX_CYCLES_NAMED or target < start:
                continue
            both = _meet(room, edge_room)
            if both is None:
                continue
            step = [*path, (at, j, field, said)]
            if target == start:
                found.append(step)
            elif all(target != p[0] for p in step):
                walk(start, target, both, step)

    for start in sorted(edges):
        walk(start, start, _ANYWHERE, [])
    for cycle in found:
        names = " -> ".join(repr(drill.phases[i].id) for i, *_ in cycle)
        names += f" -> {drill.phases[cycle[0][0]].id!r}"
        where = "; ".join(
            f"line {locate(lines, ('phases', i, 'transitions', j, field))}:"
            f" {drill.phases[i].id!r} {said}"
            for i, j, field, said in cycle
        )
        i, j, field, _ = cycle[0]
        problem(
            ("phases", i, "transitions", j, field),
            f"phases {names} hand over to each other on triggers that hold at once ({where}):"
            " the subject would flip between them every frame and play none of them; give one"
            " a time (after_s > 0), an event to wait on, or triggers that cannot all hold together",
        )


# What a drill's "cover" must stop, fired at the muzzle straight through its depth: every
# handgun duty load (physics/data/loads.toml). The patrol rifle's round is not asked of it.
HANDGUN_LOADS = ("9mm-124", "9mm-147", "40sw-180", "45acp-230")


def _cover_problem(cover: Cover) -> str | None:
    """Why a scene object's material or role is wrong: an unknown material, or one marked
    cover that a handgun duty load goes through across its depth (mark it concealment)."""
    # Imported here: physics.penetration brings PyBullet, which validating a file needs only
    # when the drill has scene objects.
    from physics.ballistics import load
    from physics.penetration import builtin_materials, stops

    known = builtin_materials()
    if cover.material not in known:
        return f"no material {cover.material!r}; known: {', '.join(sorted(known))}"
    if cover.role != "cover":
        return None
    depth_in = cover.depth_ft * 12.0
    through = [x for x in HANDGUN_LOADS if not stops(load(x), cover.material, depth_in)]
    if through:
        return (
            f"{cover.name!r} is marked cover but {depth_in:g} in of {cover.material} does not"
            f" stop {', '.join(through)} (physics.penetration): mark it role = 'concealment'"
        )
    return None


def instructor_buttons(drill: Drill) -> list[str]:
    """The instructor buttons the drill's transitions listen for, sorted."""
    return sorted(
        {t.instructor for p in drill.phases for t in p.transitions if t.instructor is not None}
    )


def check_instructor_buttons(drill: Drill, pressed: list[str]) -> None:
    """Raise ValueError for a pressed button no transition of `drill` listens for, with the
    buttons it has: a press nobody hears would silently change nothing."""
    known = instructor_buttons(drill)
    for button in pressed:
        if button not in known:
            allowed = ", ".join(known) if known else "none: it has no instructor branches"
            raise ValueError(
                f"drill {drill.id} has no instructor button {button!r}; its buttons: {allowed}"
            )


def parse_drill(text: str, path: Path | str) -> Drill:
    return parse_model(text, Drill, path, check_graph)


def load_drill(path: Path) -> Drill:
    return parse_drill(read_text(path), path)


def builtin_drill_dir() -> Path:
    return DATA_DIR / "drills"


@cache
def builtin_drills() -> dict[str, Drill]:
    drills = [load_drill(p) for p in sorted(builtin_drill_dir().glob("*.toml"))]
    return {d.id: d for d in drills}


def find_drill(name: str) -> Drill:
    """A built-in drill by id, or a drill file by path."""
    return builtin_or_file(name, builtin_drills(), load_drill, "drill")


@cache
def builtin_drill_files() -> dict[str, Path]:
    """Each built-in drill's file, by the drill's id."""
    return {load_drill(p).id: p for p in sorted(builtin_drill_dir().glob("*.toml"))}


@dataclass(frozen=True, slots=True)
class DrillFile:
    """A drill as read from its file: the validated drill, the file's exact bytes (kept with a
    run, so the run can be reviewed and rescored after the file changes) and where it was."""

    drill: Drill
    content: bytes
    path: Path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def expected_officer(self) -> str | None:
        """The drill's `expected_officer` as a run looks it up: a built-in script's id as
        written; a script file's path (`.toml`, or with a `/`) from the drill file's own folder
        when relative, as a drill author writes it beside the drill, whatever the folder the
        command runs in (nu24 #10)."""
        name = self.drill.expected_officer
        if name is None or not _names_script_file(name):
            return name
        path = Path(name).expanduser()
        return str(path if path.is_absolute() else self.path.parent / path)

    def check_expected_officer(self) -> None:
        """A script file named by `expected_officer` must be there (`drill validate`, and
        `drill run` before it plays the drill's expected response): refused by file, line and
        field, with the path it was looked for at. Not a load check: a drill kept with a run
        is read without its script beside it. Raises DataFileError."""
        name, found = self.drill.expected_officer, self.expected_officer()
        if name is None or found is None or not _names_script_file(name):
            return  # none, or a built-in id (checked on load)
        if Path(found).is_file():
            return
        text = decode(self.content, self.path)
        where = "" if found == name else f" (looked for at {found}, beside the drill file)"
        problem = f"no file {name!r}{where}: give a script file's path or a built-in script's id"
        raise DataFileError(
            self.path,
            [Problem(locate(key_lines(text), ("expected_officer",)), "expected_officer", problem)],
        )


def check_speech_triggers(
    drill: Drill, text: str, path: Path | str, book: PhraseBook | None = None, books: str = ""
) -> None:
    """A transition `on = "speech:ACT"` that no act of the phrase book in effect performs can
    never fire: refused, by file, line and field (the schema cannot see it: which book is in
    effect is the run's, `book`, the built-in one merged with an agency's; None: the built-in
    one). `books` names the agency file(s) for the message. Raises DataFileError."""
    phrases = book if book is not None else builtin_phrasebook()
    acts = phrases.act_names()
    lines = key_lines(text)
    problems: list[Problem] = []
    for i, phase in enumerate(drill.phases):
        for j, transition in enumerate(phase.transitions):
            act = parse_speech_trigger(transition.on or "")
            if act is None or any(act_matches(act, heard) for heard in acts):
                continue
            near = difflib.get_close_matches(act, acts, n=1, cutoff=0.85)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            has = f"the built-in phrase book with {books}" if books else "the built-in phrase book"
            more = "" if books else "; an agency's act needs its book: --phrases AGENCY.toml"
            loc: tuple[str | int, ...] = ("phases", i, "transitions", j, "on")
            problems.append(
                Problem(
                    locate(lines, loc),
                    f"phases[{i}].transitions[{j}].on",
                    f"{transition.on!r} can never fire: {has} has no act {act!r}{hint}{more}",
                )
            )
    if problems:
        raise DataFileError(path, problems)


def parse_drill_bytes(content: bytes, path: Path | str) -> Drill:
    """A drill from a file's bytes. Raises DataFileError (file, line, field) if they are not UTF-8
    or the drill is not valid."""
    return parse_drill(decode(content, path), path)


def drill_file(path: Path) -> DrillFile:
    """The drill file at `path` with its bytes (read once), as `load_drill` reads it."""
    content = read_bytes(path)  # a missing file is the OSError that names it
    return DrillFile(parse_drill_bytes(content, path), content, path)


def read_drill_file(name: str) -> DrillFile:
    """A built-in drill by id, or a drill file by path, with the bytes it was read from (read
    once: the drill that runs is the one hashed). Raises NotFoundError (a KeyError) for
    neither."""
    path = builtin_drill_files().get(name) or Path(name)
    if name not in builtin_drill_files() and path.is_dir():
        raise NotFoundError(f"{path}: {NOT_A_FILE}")
    # A missing .toml is the OSError that names it (as `drill show`, `course run` say it).
    if name not in builtin_drill_files() and not path.is_file() and path.suffix != ".toml":
        known = ", ".join(sorted(builtin_drill_files()))
        raise NotFoundError(f"no drill {name!r}; built-in: {known}")
    content = read_bytes(path)
    if path.suffix != ".toml" and name not in builtin_drill_files():
        # A file that is there but not named .toml (a typo'd path, /etc/passwd): read as a
        # drill all the same, and if it is not one, said so with the line that fails.
        try:
            return DrillFile(parse_drill_bytes(content, path), content, path)
        except DataFileError as exc:
            first = str(exc).splitlines()[0]
            raise DataFileError(path, [Problem(None, "", f"not a drill file ({first})")]) from None
    return DrillFile(parse_drill_bytes(content, path), content, path)
