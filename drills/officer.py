"""The scripted officer: a data file of actions on cues, with aim error.

It plays the officer for the demo, the tests and the benchmarks. It decides *what* to do; the
wiring in `range` turns each intent into what a real officer's hands would do to the replicas
(draw, safety off, trigger) and into the weapon pose, so the rest of the path is the real one.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from pydantic import Field, model_validator

from drills.engine import Observation
from drills.schema import MAX_LANE_LENGTH_FT as MAX_MOVE_FT  # a move_to's reach either way
from drills.speech import PhraseBook, acts_in_text, builtin_phrasebook
from drills.threat import Behaviour
from physics.body import Region
from physics.datafiles import (
    DataFileError,
    FieldError,
    Problem,
    StrictModel,
    Text,
    builtin_or_file,
    field_name,
    key_lines,
    load_model,
    locate,
    parse_model,
    read_text,
)
from physics.units import FT_M, m_to_ft

if TYPE_CHECKING:
    from drills.schema import Drill

# The package's own data, found beside this module and never through the import path: under
# `python -m`, a `drills/` folder in the current directory shadows the package's name.
DATA_DIR = Path(__file__).resolve().parent / "data"


class Act(StrEnum):
    VERBAL_COMMAND = "verbal_command"
    DRAW_TASER = "draw_taser"
    DRAW_FIREARM = "draw_firearm"
    HOLSTER = "holster"
    AIM = "aim"
    FIRE = "fire"
    MOVE_TO = "move_to"
    # Say `say` as heard speech: each phrase-book phrase in it is an `officer_spoke` act the
    # drill can branch on (`speech:...`), at `loudness_dbfs` (a shout is -6, say).
    SPEAK = "speak"
    # The TASER's front pressed to the subject at `region` for `duration_s` (issue 13): the
    # engine logs it (`drive_stun`) and runs its cycle; give `within_ft` to wait for contact.
    DRIVE_STUN = "drive_stun"


_CUES = ("at_s", "after_s", "within_ft", "on_phase")


class Step(StrictModel):
    """One action, taken once its cues are met: `at_s` run time, `after_s` since the previous
    step, `within_ft` of the subject, `on_phase` the subject entered that phase. `only_if` skips
    the step when the subject is not in that state."""

    do: Act
    at_s: float | None = Field(default=None, ge=0.0)
    after_s: float | None = Field(default=None, ge=0.0)
    within_ft: float | None = Field(default=None, gt=0.0)
    on_phase: Text | None = None
    # move_to: where the officer goes (downrange, to the left), within the longest lane a drill
    # may have (drills.schema Scene.lane_length_ft, at most 300 ft) either way: 1e6 ft was
    # taken and walked toward for the whole run (rc19 #9).
    x_ft: float | None = Field(default=None, ge=-MAX_MOVE_FT, le=MAX_MOVE_FT)
    y_ft: float | None = Field(default=None, ge=-MAX_MOVE_FT, le=MAX_MOVE_FT)
    only_if: Literal["subject_active", "subject_incapacitated"] | None = None
    region: Region | None = None
    subject: Text | None = None
    say: str = ""
    # speak: how loud the words are (dBFS; None: a normal voice, not measured).
    loudness_dbfs: float | None = Field(default=None, le=0.0)
    # drive_stun: the hold (s); none given, one standard 5 s cycle (facts.md §1)
    duration_s: float | None = Field(default=None, gt=0.0, le=30.0)

    @model_validator(mode="after")
    def _aim_needs_region(self) -> Step:
        cues = [k for k in _CUES if getattr(self, k) is not None]
        if len(cues) > 1:
            raise ValueError(
                f"a step waits on one cue, not {' and '.join(cues)} together: one of"
                f" {', '.join(_CUES)} (none: right after the step before)"
            )
        if self.do is Act.SPEAK and not self.say.strip():
            raise ValueError("a speak step needs say: the words, with a phrase of the phrase book")
        if self.do is not Act.SPEAK and self.loudness_dbfs is not None:
            raise ValueError("loudness_dbfs belongs to speak steps only")
        aims = self.do in (Act.AIM, Act.DRIVE_STUN)
        if aims and self.region is None:
            raise ValueError(f"a {self.do} step needs region")
        if not aims and self.region is not None:
            raise ValueError("region belongs to aim and drive_stun steps only")
        if self.duration_s is not None and self.do is not Act.DRIVE_STUN:
            raise ValueError("duration_s belongs to drive_stun steps only")
        if (self.do is Act.MOVE_TO) != (self.x_ft is not None and self.y_ft is not None):
            raise ValueError("a move_to step needs x_ft and y_ft, and only it takes them")
        return self


# The seed a script's `expect` is declared for (docs/drills.md): probe and aim dispersion draw
# from the seed, so another seed may rightly give another verdict.
EXPECT_SEED = 1


class Expect(StrictModel):
    """The verdict a shipped script declares for its drill (tests/test_drill_library.py runs
    every one): the outcome, and rule ids that must be among its findings or critical findings
    (for a PASS: rule ids that must be among its credits)."""

    outcome: Literal["PASS", "FAIL"]
    rules: list[str] = Field(default_factory=list)


class OfficerScript(StrictModel):
    id: Text
    version: Literal[1]
    description: Text
    # The drill this script plays, and the verdict it must get there (`drill show` lists it).
    drill: Text | None = None
    expect: Expect | None = None
    aim_error_mrad: float = Field(default=8.0, ge=0.0)
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _expect_needs_drill(self) -> OfficerScript:
        if self.expect is not None and self.drill is None:
            # Said on expect's own line, not the file's first (nu24 #12).
            raise FieldError(("expect",), "needs drill: the drill whose verdict it declares")
        return self


@dataclass(frozen=True, slots=True)
class Intent:
    act: Act
    t: float
    subject: str | None = None
    region: Region | None = None
    aim_error_rad: tuple[float, float] = (0.0, 0.0)
    say: str = ""
    destination_m: tuple[float, float] | None = None
    loudness_dbfs: float | None = None
    duration_s: float | None = None  # drive_stun: the hold (None: the device's cycle)


_PASSIVE = (Behaviour.INCAPACITATED, Behaviour.SURRENDERED, Behaviour.COMPLIANT)


class ScriptedOfficer:
    """Walks the script one step at a time against the engine's observations."""

    def __init__(self, script: OfficerScript, rng: np.random.Generator) -> None:
        self.script = script
        self.rng = rng
        self._next = 0
        self._last_step_s = 0.0

    @property
    def done(self) -> bool:
        return self._next >= len(self.script.steps)

    def decide(self, seen: Observation) -> list[Intent]:
        intents: list[Intent] = []
        while not self.done:
            step = self.script.steps[self._next]
            subject = seen.subject(step.subject)
            if step.at_s is not None and seen.t < step.at_s - 1e-9:
                break
            if step.after_s is not None and seen.t - self._last_step_s < step.after_s - 1e-9:
                break
            if step.within_ft is not None and m_to_ft(subject.distance_m) > step.within_ft:
                break
            if step.on_phase is not None and subject.phase != step.on_phase:
                break
            self._next += 1
            self._last_step_s = seen.t
            active = subject.behaviour not in _PASSIVE
            if (step.only_if == "subject_active" and not active) or (
                step.only_if == "subject_incapacitated"
                and subject.behaviour is not Behaviour.INCAPACITATED
            ):
                continue
            error = (0.0, 0.0)
            if step.do is Act.AIM:
                sigma = self.script.aim_error_mrad * 1e-3
                yaw, pitch = self.rng.normal(0.0, sigma, size=2)
                error = (float(yaw), float(pitch))
            destination = None
            if step.x_ft is not None and step.y_ft is not None:
                destination = (step.x_ft * FT_M, step.y_ft * FT_M)
            intents.append(
                Intent(
                    step.do,
                    seen.t,
                    subject.id,
                    step.region,
                    error,
                    step.say,
                    destination,
                    step.loudness_dbfs,
                    step.duration_s,
                )
            )
        return intents


class _StepView(Protocol):
    """What `check_script` reads of a step: a valid script's `Step`, or a `_RawStep` read
    from the raw table of a script the schema refused."""

    @property
    def do(self) -> Act | None: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def on_phase(self) -> str | None: ...
    @property
    def say(self) -> str: ...
    @property
    def at_s(self) -> float | None: ...
    @property
    def x_ft(self) -> float | None: ...
    @property
    def y_ft(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class _RawStep:
    """A step of a script the schema refused, as far as it can be read (a field of the wrong
    kind is None: the schema names it)."""

    do: Act | None
    subject: str | None
    on_phase: str | None
    say: str
    at_s: float | None = None
    x_ft: float | None = None
    y_ft: float | None = None


def _raw_views(data: object) -> tuple[list[_RawStep], list[str]]:
    """The steps and `expect.rules` of a script's TOML table as far as they can be read."""

    def text(table: dict[str, object], key: str) -> str | None:
        value = table.get(key)
        return value if isinstance(value, str) and value.strip() else None

    def number(table: dict[str, object], key: str) -> float | None:
        value = table.get(key)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok and math.isfinite(value) else None  # type: ignore[arg-type]

    table = data if isinstance(data, dict) else {}
    steps = table.get("steps")
    views: list[_RawStep] = []
    for step in steps if isinstance(steps, list) else []:
        step = step if isinstance(step, dict) else {}
        do = step.get("do")
        act = Act(do) if isinstance(do, str) and do in {a.value for a in Act} else None
        say = step.get("say")
        views.append(
            _RawStep(
                act,
                text(step, "subject"),
                text(step, "on_phase"),
                say if isinstance(say, str) else "",
                number(step, "at_s"),
                number(step, "x_ft"),
                number(step, "y_ft"),
            )
        )
    expect = table.get("expect")
    rules = expect.get("rules") if isinstance(expect, dict) else None
    named = [r for r in rules if isinstance(r, str)] if isinstance(rules, list) else []
    return views, named


def script_problems(
    steps: Sequence[_StepView],
    expect_rules: Sequence[str],
    drill: Drill,
    lines: dict[tuple[str | int, ...], int],
    rules: Collection[str] = (),
    book: PhraseBook | None = None,
) -> list[Problem]:
    """Every problem of a script's steps against the drill it plays (`check_script`)."""
    problems: list[Problem] = []

    def refuse(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(Problem(locate(lines, loc), field_name(loc), message))

    subjects = [s.id for s in drill.subjects]
    phases = [p.id for p in drill.phases]
    for n, step in enumerate(steps):
        if step.subject is not None and step.subject not in subjects:
            refuse(
                ("steps", n, "subject"),
                f"drill {drill.id} has no subject {step.subject!r}: one of {', '.join(subjects)}",
            )
        if step.on_phase is not None and step.on_phase not in phases:
            refuse(
                ("steps", n, "on_phase"),
                f"drill {drill.id} has no phase {step.on_phase!r} (the step would never be"
                f" taken): one of {', '.join(phases)}",
            )
    for n, step in enumerate(steps):
        # nu24 #15: a step timed past the drill's end never runs (as an unknown on_phase), and
        # a move_to past the lane's walls walked the officer through them.
        if step.at_s is not None and step.at_s >= drill.time_limit_s:
            refuse(
                ("steps", n, "at_s"),
                f"{step.at_s:g} s is past drill {drill.id}'s time_limit_s = {drill.time_limit_s:g}"
                f" (the step would never be taken): allowed 0 <= at_s < {drill.time_limit_s:g}",
            )
        if step.do is Act.MOVE_TO:
            scene = drill.scene
            if step.x_ft is not None and abs(step.x_ft) > scene.lane_length_ft:
                refuse(
                    ("steps", n, "x_ft"),
                    f"{step.x_ft:g} ft is off drill {drill.id}'s lane (scene.lane_length_ft ="
                    f" {scene.lane_length_ft:g}): allowed -{scene.lane_length_ft:g} to"
                    f" {scene.lane_length_ft:g}",
                )
            half = scene.lane_width_ft / 2
            if step.y_ft is not None and abs(step.y_ft) > half:
                refuse(
                    ("steps", n, "y_ft"),
                    f"{step.y_ft:g} ft is past drill {drill.id}'s side walls"
                    f" (scene.lane_width_ft = {scene.lane_width_ft:g}): allowed -{half:g} to"
                    f" {half:g}",
                )
    phrases = book if book is not None else builtin_phrasebook()
    for n, step in enumerate(steps):
        if step.do is Act.SPEAK and step.say.strip() and not acts_in_text(step.say, phrases):
            refuse(
                ("steps", n, "say"),
                f"a speak step's say {step.say!r} holds no phrase of the phrase book"
                " (openrange speech phrases)",
            )
    issued = drill.issued_weapons()
    for n, step in enumerate(steps):
        weapon = ACT_WEAPON.get(step.do) if step.do is not None else None
        if weapon is not None and weapon not in issued:
            refuse(
                ("steps", n, "do"),
                f"{step.do} needs the {weapon}, which drill {drill.id} does not issue"
                f" (its weapons: {', '.join(issued)})",
            )
    if rules:
        for n, rule in enumerate(expect_rules):
            if rule not in rules:
                refuse(
                    ("expect", "rules", n),
                    f"no rule {rule!r}: the scorer writes {', '.join(sorted(rules))}",
                )
    return problems


def check_script(
    script: OfficerScript,
    drill: Drill,
    where: Path | str,
    text: str = "",
    rules: Collection[str] = (),
    book: PhraseBook | None = None,
) -> None:
    """What a script's own schema cannot see, checked against the drill it plays before the
    run: a step's `subject` and `on_phase` must be the drill's (a ghost subject crashed the run;
    an unknown phase never fired), `expect.rules` must be rule ids the scorer writes
    (`rules`, given by the caller: scoring sits beside drills, not below), and a speak step's
    `say` must hold a phrase of the run's phrase book (`book`: the built-in one merged with an
    agency's; None: the built-in one). Raises DataFileError naming the file (`where`; `text` is
    its TOML, for the line), the line and the field."""
    lines = key_lines(text) if text else {}
    expect_rules = script.expect.rules if script.expect is not None else []
    problems = script_problems(script.steps, expect_rules, drill, lines, rules, book)
    if problems:
        raise DataFileError(where, problems)


def load_script_for(
    path: Path,
    drill: Drill,
    rules: Collection[str] = (),
    book: PhraseBook | None = None,
    table: dict[str, Any] | None = None,
    text: str | None = None,
) -> OfficerScript:
    """The officer script file at `path`, checked by its schema and against `drill` at once:
    every problem of both in one DataFileError, in file order (nu19 #10: a script's type
    errors hid its unknown subject until they were fixed). `table`: its TOML table where the
    caller parsed it already (`drill validate`); the file is parsed once either way. `text`:
    its text where the caller read it already (the bytes a run keeps and hashes)."""
    if text is None:
        text = read_text(path)
    data = table
    if data is None:
        try:
            data = tomllib.loads(text.removeprefix("\ufeff"))
        except (tomllib.TOMLDecodeError, RecursionError):
            data = None  # parse_model says why, naming the line
    try:
        script = parse_model(text, OfficerScript, path, data=data)
    except DataFileError as exc:
        if data is None:
            raise
        steps, expect_rules = _raw_views(data)
        fields = {p.field for p in exc.problems}
        more = [
            p
            for p in script_problems(steps, expect_rules, drill, key_lines(text), rules, book)
            if p.field not in fields
        ]
        if not more:
            raise
        merged = sorted([*exc.problems, *more], key=lambda p: p.line or 0)
        raise DataFileError(path, merged) from None
    check_script(script, drill, path, text, rules, book)
    return script


# The weapon each drawing act needs (drills/schema.py `WEAPONS`).
ACT_WEAPON = {Act.DRAW_TASER: "taser", Act.DRIVE_STUN: "taser", Act.DRAW_FIREARM: "firearm"}


def script_weapons(script: OfficerScript) -> set[str]:
    """The weapons a script's steps draw (or press to a subject, a drive stun)."""
    return {ACT_WEAPON[step.do] for step in script.steps if step.do in ACT_WEAPON}


def builtin_officer_dir() -> Path:
    return DATA_DIR / "officers"


@cache
def builtin_officers() -> dict[str, OfficerScript]:
    scripts = [load_model(p, OfficerScript) for p in sorted(builtin_officer_dir().glob("*.toml"))]
    return {s.id: s for s in scripts}


def scripts_for(drill_id: str) -> list[OfficerScript]:
    """The built-in officer scripts that declare they play `drill_id`, by id."""
    return sorted(
        (s for s in builtin_officers().values() if s.drill == drill_id), key=lambda s: s.id
    )


def find_officer(name: str) -> OfficerScript:
    """A built-in officer script by id, or a script file by path."""
    return builtin_or_file(
        name, builtin_officers(), lambda p: load_model(p, OfficerScript), "officer script"
    )
