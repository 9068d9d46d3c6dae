"""Agency policy: which force option fits which threat, every rule as a row (id, what it judges,
severity, points, citation), and the settings the rules read (perception allowance, CEW cycle
caps, restricted subjects, cartridge ranges, backdrop cone), each a row with its citation.

The file is `scoring/data/policy-default.toml`; an agency copies it and changes any default
(docs/scoring.md). `openrange policy show` prints it, `openrange policy validate FILE` checks it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from drills.speech import builtin_phrasebook
from drills.threat import Threat
from physics.body import Region
from physics.datafiles import (
    RULE_ID,
    FieldError,
    StrictModel,
    error_message,
    load_model,
    parse_model,
)
from physics.taser import builtin_cartridges


class ForceOption(StrEnum):
    PRESENCE = "presence"
    VERBAL = "verbal"
    TASER = "taser"
    FIREARM = "firearm"


class Judgement(StrEnum):
    JUSTIFIED = "justified"
    EXCESSIVE = "excessive"
    INSUFFICIENT = "insufficient"


# Every rule id the scorer writes (scoring/score.py); a policy must price each one.
RULES = (
    "FORCE-01",
    "FORCE-02",
    "DECISION-01",
    "DECISION-02",
    "LLF-01",
    "LLF-02",
    "REACT-01",
    "REACT-02",
    "STOP-01",
    "STOP-02",
    "VERBAL-01",
    "VERBAL-02",
    "VERBAL-03",
    "VERBAL-04",
    "VERBAL-05",
    "DIST-01",
    "DIST-02",
    "DIST-03",
    "COVER-01",
    "COVER-02",
    "DEESC-01",
    "DEESC-02",
    "DEESC-03",
    "DEESC-04",
    "HOLD-01",
    "PLACE-01",
    "PLACE-02",
    "HIT-01",
    "FIRE-01",
    "CEW-01",
    "CEW-02",
    "CEW-03",
    "CEW-04",
    "CEW-05",
    "CEW-06",
    "CEW-07",
    "CEW-08",
    "RESCORE-01",
)

# Attribute values that restrict the CEW (facts.md §5, "restricted subjects"): an attribute name
# alone means "true"; `name=value` a value of it.
RESTRICTABLE = (
    "age_group=child",
    "age_group=juvenile",
    "age_group=elderly",
    "pregnant",
    "frail",
    "restrained",
    "position=elevated",
    "position=stairs",
    "position=water",
    "position=vehicle",
    "near_flammables",
    "crisis=mental_health",
    "crisis=medical",
    "impaired",
)

Severity = Literal["credit", "info", "finding", "critical"]

# Bounds of a policy's times, counts and distances (docs/scoring.md): the default policy's values
# (a 1.5 s reaction, facts.md §4; a 5 s CEW cycle and 15 s exposure, facts.md §1) lie far inside
# them; beyond them a value is a typo that would silently switch a rule off.
MAX_REACTION_S = 10.0
MAX_SETTING_S = 30.0
MAX_EXPOSURE_S = 300.0
MAX_COUNT = 20
MAX_SETTING_FT = 50.0
MAX_BACKSTOP_FT = 1000.0


def command_acts() -> list[str]:
    """The command acts of the built-in phrase book (drills/data/speech), which
    `conflicting_commands` pairs."""
    return sorted({a.act for a in builtin_phrasebook().acts if a.act.startswith("command.")})


# The rule(s) that read each setting (scoring/score.py): a `[[settings]]` row's `rule` must name
# one of them, or `policy show` cites the setting under a rule that never reads it (nu24 #14).
SETTING_RULES: dict[str, tuple[str, ...]] = {
    "perception_allowance_s": ("STOP-01", "STOP-02"),
    "perception_allowance_uses": ("STOP-01", "STOP-02"),
    "cew_standard_cycle_s": ("CEW-03",),
    "cew_reassess_s": ("CEW-03",),
    "cew_max_cycles": ("CEW-04",),
    "cew_max_exposure_s": ("CEW-04",),
    "cew_restricted": ("CEW-05",),
    "cew_warning_words": ("CEW-02",),
    "deadly_warning_words": ("VERBAL-02",),
    "cartridge_range_ft": ("CEW-08",),
    "cover_reach_ft": ("COVER-01", "COVER-02"),
    "approach_tolerance_ft": ("DIST-03",),
    "backdrop_cone_deg": ("FIRE-01",),
    "backdrop_clearance_ft": ("FIRE-01",),
    "default_backstop_ft": ("FIRE-01",),
    "warning_feasible_s": ("VERBAL-02", "CEW-02"),
    "conflicting_commands": ("VERBAL-04",),
    "conflict_window_s": ("VERBAL-04",),
    "comply_time_s": ("VERBAL-05",),
    "repeat_max": ("VERBAL-05",),
    "cew_preferred_zones": ("PLACE-01",),
    "cew_avoid_zones": ("PLACE-01",),
    "drive_stun_threats": ("CEW-06",),
    "cew_warning_threats": ("CEW-02",),
}
# The force options from least to most (a matrix row is read in this order).
FORCE_ORDER = (ForceOption.PRESENCE, ForceOption.VERBAL, ForceOption.TASER, ForceOption.FIREARM)


class MatrixRow(StrictModel):
    presence: Judgement
    verbal: Judgement
    taser: Judgement
    firearm: Judgement


class Matrix(StrictModel):
    none: MatrixRow
    passive: MatrixRow
    active: MatrixRow
    assaultive: MatrixRow
    deadly: MatrixRow


class Rule(StrictModel):
    """One rule: what it judges, how severe a breach is (a critical one fails the run whatever
    its points), what it costs, and where it comes from."""

    id: str = Field(pattern=RULE_ID)
    judges: str
    severity: Severity
    points: float = Field(ge=-100.0, le=0.0)
    citation: str

    @model_validator(mode="after")
    def _credit_costs_nothing(self) -> Rule:
        # A credit (or a note) is never a penalty: only a finding or a critical costs points.
        if self.severity in ("credit", "info") and self.points != 0.0:
            raise FieldError(
                ("points",),
                f"a {self.severity} rule costs nothing: points must be 0, not {self.points:g}"
                " (only finding and critical rules take points, -100 to 0)",
            )
        return self


class Settings(StrictModel):
    """The values the rules read. Each comes from a `[[settings]]` row of the policy file."""

    perception_allowance_s: float = Field(ge=0.0, le=5.0)
    perception_allowance_uses: int = Field(ge=0, le=10)
    cew_standard_cycle_s: float = Field(gt=0.0, le=MAX_SETTING_S)
    cew_reassess_s: float = Field(ge=0.0, le=MAX_SETTING_S)
    cew_max_cycles: int = Field(ge=1, le=MAX_COUNT)
    cew_max_exposure_s: float = Field(gt=0.0, le=MAX_EXPOSURE_S)
    cew_restricted: list[str]
    cew_warning_words: list[str]
    deadly_warning_words: list[str]
    cartridge_range_ft: dict[str, list[float]]
    cover_reach_ft: float = Field(gt=0.0, le=MAX_SETTING_FT)
    approach_tolerance_ft: float = Field(gt=0.0, le=MAX_SETTING_FT)
    backdrop_cone_deg: float = Field(gt=0.0, lt=45.0)
    backdrop_clearance_ft: float = Field(ge=0.0, le=MAX_SETTING_FT)
    default_backstop_ft: float = Field(gt=0.0, le=MAX_BACKSTOP_FT)
    # Speech (issue 17): when a warning fits, which commands conflict, and repeats.
    warning_feasible_s: float = Field(ge=0.0, le=MAX_SETTING_S)
    conflicting_commands: list[str]
    conflict_window_s: float = Field(gt=0.0, le=MAX_SETTING_S)
    comply_time_s: float = Field(gt=0.0, le=MAX_SETTING_S)
    repeat_max: int = Field(ge=1, le=MAX_COUNT)
    # CEW target zones and drive-stun (issue 13).
    cew_preferred_zones: list[str]
    cew_avoid_zones: list[str]
    drive_stun_threats: list[str]
    cew_warning_threats: list[str]

    @model_validator(mode="after")
    def _known_values(self) -> Settings:
        unknown = [token for token in self.cew_restricted if token not in RESTRICTABLE]
        if unknown:  # every one named at once (nu24 #14)
            raise FieldError(
                ("cew_restricted",),
                f"cew_restricted: {', '.join(map(repr, unknown))}"
                f" {'is' if len(unknown) == 1 else 'are'} not one of {', '.join(RESTRICTABLE)}",
            )
        cartridges = sorted(builtin_cartridges())
        for name, span in self.cartridge_range_ft.items():
            # A misspelt cartridge is a missing row: CEW-08 would never judge that cartridge,
            # and nothing would say so (nu24 #1).
            if name not in cartridges:
                raise FieldError(
                    ("cartridge_range_ft", name),
                    f"cartridge_range_ft: {name!r} is not a known cartridge"
                    f" (known: {', '.join(cartridges)})",
                )
            if len(span) != 2 or not 0.0 <= span[0] < span[1]:
                raise FieldError(
                    ("cartridge_range_ft", name),
                    f"cartridge_range_ft.{name}: give [min_ft, max_ft], min < max",
                )
        known_acts = command_acts()
        for n, pair in enumerate(self.conflicting_commands):
            acts = pair.split("|")
            if len(acts) != 2 or not all(re.match(r"^command\.[a-z][a-z0-9_]*$", a) for a in acts):
                raise FieldError(
                    ("conflicting_commands", n),
                    f"conflicting_commands: {pair!r} is not two command acts joined by '|'"
                    " (command.get_down|command.stop)",
                )
            # An act no phrase book has is never heard: VERBAL-04 would quietly stop judging
            # the pair (nu24 #1). The built-in book's command acts are the ones a policy names.
            for act in acts:
                if act not in known_acts:
                    raise FieldError(
                        ("conflicting_commands", n),
                        f"conflicting_commands: {act!r} in {pair!r} is not a command act of the"
                        f" built-in phrase book (known: {', '.join(known_acts)})",
                    )
        regions = [r.value for r in Region]
        for name in ("cew_preferred_zones", "cew_avoid_zones"):
            for region in getattr(self, name):
                if region not in regions:
                    raise FieldError(
                        (name,), f"{name}: {region!r} is not one of {', '.join(regions)}"
                    )
        both = set(self.cew_preferred_zones) & set(self.cew_avoid_zones)
        if both:
            raise FieldError(
                ("cew_preferred_zones",),
                f"cew_preferred_zones and cew_avoid_zones both name {sorted(both)}",
            )
        threats = [t.name.lower() for t in Threat]
        for name in ("drive_stun_threats", "cew_warning_threats"):
            for threat in getattr(self, name):
                if threat not in threats:
                    raise FieldError(
                        (name,), f"{name}: {threat!r} is not one of {', '.join(threats)}"
                    )
        return self


class SettingRow(StrictModel):
    """One setting: exactly one of `number` (a measure), `count` (a whole number), `words` (a
    list) or `ranges_ft` (name -> [min_ft, max_ft]) holds its value."""

    id: str
    rule: str  # the rule that reads it
    number: float | None = None
    count: int | None = None
    words: list[str] | None = None
    ranges_ft: dict[str, list[float]] | None = None
    meaning: str
    citation: str

    @model_validator(mode="after")
    def _one_value(self) -> SettingRow:
        given = [v for v in (self.number, self.count, self.words, self.ranges_ft) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of number, count, words, ranges_ft")
        return self

    @property
    def value(self) -> float | int | list[str] | dict[str, list[float]]:
        for v in (self.number, self.count, self.words, self.ranges_ft):
            if v is not None:
                return v
        raise AssertionError("checked when read")


class Policy(StrictModel):
    id: str
    version: Literal[2]
    description: str
    # A pass mark of 0 passes every run: the lowest passing score is above 0.
    pass_score: float = Field(gt=0.0, le=100.0)
    max_reaction_s: float = Field(gt=0.0, le=MAX_REACTION_S)
    critical_reaction_s: float = Field(gt=0.0, le=MAX_REACTION_S)
    matrix: Matrix
    rules: list[Rule]
    settings: list[SettingRow]

    @model_validator(mode="before")
    @classmethod
    def _format_1(cls, data: object) -> object:
        if isinstance(data, dict) and "points" in data and "rules" not in data:
            raise ValueError(
                "this is a format-1 policy ([points]); format 2 gives every rule a [[rules]] row"
                " (id, judges, severity, points, citation) and every setting a [[settings]] row:"
                " start from scoring/data/policy-default.toml (docs/scoring.md)"
            )
        return data

    @model_validator(mode="after")
    def _every_rule_priced(self) -> Policy:
        # Each error names the row it is about (FieldError), so the file's line is named.
        ids = [r.id for r in self.rules]
        for n, rule_id in enumerate(ids):
            if rule_id not in RULES:
                raise FieldError(("rules", n, "id"), f"unknown rule id {rule_id!r}")
            if rule_id in ids[:n]:
                raise FieldError(("rules", n, "id"), f"rule id {rule_id!r} given twice")
        missing = set(RULES) - set(ids)
        if missing:
            # A rule added by a newer version (DEESC-04, say) is not priced by an agency's older
            # copy: refuse rather than guess its points, and say where its row is.
            raise ValueError(
                f"rules missing: {', '.join(sorted(missing))}: every rule needs a [[rules]] row;"
                " copy each missing row from scoring/data/policy-default.toml and set its points"
                " (docs/scoring.md)"
            )
        _check_setting_ids(self.settings)
        for n, row in enumerate(self.settings):
            if row.rule not in RULES:
                raise FieldError(("settings", n, "rule"), f"setting {row.id}: no rule {row.rule!r}")
            readers = SETTING_RULES.get(row.id)
            if readers is not None and row.rule not in readers:
                raise FieldError(
                    ("settings", n, "rule"),
                    f"setting {row.id} is read by {' and '.join(readers)}, not {row.rule}",
                )
            if isinstance(row.words, list):
                twice = sorted({w for i, w in enumerate(row.words) if w in row.words[:i]})
                if twice:
                    raise FieldError(
                        ("settings", n, "words"),
                        f"setting {row.id}: {', '.join(map(repr, twice))} given twice",
                    )
        self.values  # noqa: B018 (validates the settings' types now, not when first judged)
        return self

    @model_validator(mode="after")
    def _matrix_agrees_with_the_scorer(self) -> Policy:
        # The scorer's shoot / don't-shoot rule (DECISION-01, critical: facts.md §5, Graham v.
        # Connor) fails a TASER or a round against an unarmed subject who posed no threat, so a
        # matrix that calls either justified there says one thing while the score says another
        # (nu24 #14).
        for option in (ForceOption.TASER, ForceOption.FIREARM):
            if self.judge(Threat.NONE, option) is Judgement.JUSTIFIED:
                raise FieldError(
                    ("matrix", "none", option.value),
                    f"{option.value} cannot be justified against no threat: DECISION-01 (critical)"
                    " fails force on a subject who posed no threat whatever the matrix says"
                    " (facts.md §5); use 'excessive'",
                )
        return self

    def warnings(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Rows that are allowed but look like a slip (`policy validate` says each, with its
        line): a matrix row where a higher force option is justified but a lower one excessive,
        or a firearm not justified against a deadly threat (facts.md §5: deadly force answers a
        threat of death or serious injury; Tennessee v. Garner, Graham v. Connor)."""
        said: list[tuple[tuple[str | int, ...], str]] = []
        for threat in Threat:
            if threat is Threat.NONE or threat.name.lower() not in Matrix.model_fields:
                continue
            name = threat.name.lower()
            judged = [self.judge(threat, option) for option in FORCE_ORDER]
            for low, high in ((i, j) for i in range(4) for j in range(i + 1, 4)):
                if judged[low] is Judgement.EXCESSIVE and judged[high] is Judgement.JUSTIFIED:
                    lower, higher = FORCE_ORDER[low].value, FORCE_ORDER[high].value
                    said.append(
                        (
                            ("matrix", name, higher),
                            f"warning: {higher} is justified where the lesser {lower} is"
                            f" excessive (threat {name})",
                        )
                    )
        if self.judge(Threat.DEADLY, ForceOption.FIREARM) is not Judgement.JUSTIFIED:
            said.append(
                (
                    ("matrix", "deadly", "firearm"),
                    "warning: the firearm is not justified against a deadly threat (facts.md §5:"
                    " deadly force answers a threat of death or serious injury)",
                )
            )
        return said

    @model_validator(mode="after")
    def _reaction_limits_ordered(self) -> Policy:
        # A critical finding is for a response slower than the (non-critical) limit.
        if self.critical_reaction_s < self.max_reaction_s:
            raise FieldError(
                ("critical_reaction_s",),
                f"{self.critical_reaction_s:g} s must be at least max_reaction_s"
                f" ({self.max_reaction_s:g} s)",
            )
        return self

    @property
    def points(self) -> dict[str, float]:
        return {r.id: r.points for r in self.rules}

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    @property
    def values(self) -> Settings:
        data = {row.id: row.value for row in self.settings}
        try:
            return Settings.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            message = "missing" if error["type"] == "missing" else error_message(error)
            cause = (error.get("ctx") or {}).get("error")
            if not where:  # a check across settings (a model validator) names them itself
                if not isinstance(cause, FieldError):
                    raise ValueError(message) from None
                where = ".".join(str(p) for p in cause.loc)  # its row is named by its line
                setting = str(cause.loc[0])
            else:
                setting = str(error["loc"][0])
            rows = [n for n, row in enumerate(self.settings) if row.id == setting]
            if not rows or error["type"] == "missing":
                raise ValueError(f"setting {where}: {message}") from None
            row = self.settings[rows[0]]
            kinds = ("number", "count", "words", "ranges_ft")
            key = next(k for k in kinds if getattr(row, k) is not None)
            said = message if isinstance(cause, FieldError) else f"setting {where}: {message}"
            # Below the row's value: the table key or list item the cross-check named.
            inner = cause.loc[1:] if isinstance(cause, FieldError) else ()
            raise FieldError(("settings", rows[0], key, *inner), said) from None

    def judge(self, threat: Threat, option: ForceOption) -> Judgement:
        row: MatrixRow = getattr(self.matrix, threat.name.lower())
        return Judgement(getattr(row, option.value))


def _check_setting_ids(rows: list[SettingRow]) -> None:
    """A `[[settings]]` row whose id no setting has (a typo) is refused on its own row's line,
    with the nearest id: otherwise it is only the setting it meant that is said "missing", with
    no line (nu24 #12)."""
    import difflib

    known = list(Settings.model_fields)
    for n, row in enumerate(rows):
        if row.id not in known:
            near = difflib.get_close_matches(row.id, known, n=1, cutoff=0.8)
            hint = f" (did you mean {near[0]!r}?)" if near else f"; known: {', '.join(known)}"
            raise FieldError(("settings", n, "id"), f"no setting {row.id!r}{hint}")


@cache
def default_policy() -> Policy:
    return load_model(Path(__file__).resolve().parent / "data" / "policy-default.toml", Policy)


def parse_policy(text: str, path: Path | str) -> Policy:
    """A policy file's text (read from `path`, which errors name)."""
    return parse_model(text, Policy, path)


def load_policy(path: Path | None) -> Policy:
    return default_policy() if path is None else load_model(path, Policy)
