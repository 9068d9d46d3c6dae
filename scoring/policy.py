"""Agency policy: which force option fits which threat, and what each rule is worth."""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from drills.threat import Threat
from physics.datafiles import StrictModel, load_model


class ForceOption(StrEnum):
    PRESENCE = "presence"
    VERBAL = "verbal"
    TASER = "taser"
    FIREARM = "firearm"


class Judgement(StrEnum):
    JUSTIFIED = "justified"
    EXCESSIVE = "excessive"
    INSUFFICIENT = "insufficient"


RULES = (
    "FORCE-01",
    "DECISION-01",
    "DECISION-02",
    "LLF-01",
    "LLF-02",
    "REACT-01",
    "REACT-02",
    "STOP-01",
    "VERBAL-01",
    "DIST-01",
    "DIST-02",
    "COVER-01",
    "PLACE-01",
    "PLACE-02",
    "HIT-01",
)


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


class Policy(StrictModel):
    id: str
    version: Literal[1]
    description: str
    pass_score: float = Field(ge=0.0, le=100.0)
    max_reaction_s: float = Field(gt=0.0)
    critical_reaction_s: float = Field(gt=0.0)
    matrix: Matrix
    points: dict[str, float]

    @model_validator(mode="after")
    def _every_rule_priced(self) -> Policy:
        unknown = set(self.points) - set(RULES)
        missing = set(RULES) - set(self.points)
        if unknown:
            raise ValueError(f"unknown rule ids in points: {', '.join(sorted(unknown))}")
        if missing:
            raise ValueError(f"points missing for: {', '.join(sorted(missing))}")
        return self

    @model_validator(mode="after")
    def _reaction_limits_ordered(self) -> Policy:
        # A critical finding is for a response slower than the (non-critical) limit.
        if self.critical_reaction_s < self.max_reaction_s:
            raise ValueError(
                f"critical_reaction_s ({self.critical_reaction_s:g} s) must be at least"
                f" max_reaction_s ({self.max_reaction_s:g} s)"
            )
        return self

    def judge(self, threat: Threat, option: ForceOption) -> Judgement:
        row: MatrixRow = getattr(self.matrix, threat.name.lower())
        return Judgement(getattr(row, option.value))


@cache
def default_policy() -> Policy:
    return load_model(Path(__file__).resolve().parent / "data" / "policy-default.toml", Policy)


def load_policy(path: Path | None) -> Policy:
    return default_policy() if path is None else load_model(path, Policy)
