"""A subject's agitation, and what the officer does to it: a seeded de-escalation model.

Agitation is a number from 0 (calm) to 1 (about to act). Doctrine gives the direction of each
effect, not its size: PERF's ICAT (facts.md §4) teaches that distance and cover buy time, that
time and talk calm a person in crisis, and that crowding, shouting and pointed weapons escalate.
Every size here is therefore a *modelling choice*, set per subject in the drill file
(`[subjects.deescalation]`, docs/drills.md "De-escalation") so an instructor can tune a scenario:

- time lowers agitation by `calm_per_s` each second while the officer keeps at least
  `safe_distance_ft` away and no weapon is pointed at the subject (the tactical pause);
- a rapport statement or a question (`rapport.*`, `question.*` acts) said at a normal voice lowers
  it by `rapport_step`;
- a shouted utterance (any act, `loudness_dbfs` at or above `shout_dbfs`) raises it by
  `shout_step`, and a shouted rapport statement calms nobody;
- crowding (the officer closer than `crowding_ft`) raises it by `crowding_per_s` each second;
- a weapon pointed at the subject raises it by `pointed_step` at once and by `pointed_per_s` each
  second until it is holstered.

How strongly a subject answers calming is drawn once per run from the run's seed: a factor in
`1 +- responsiveness_spread` multiplies every calming effect (people differ; the seed keeps a run
replayable bit for bit). Escalating effects are not scaled: they are what the officer controls.

Pure: no clock, no I/O; the engine calls it with run times and draws from its own generator.
"""

from __future__ import annotations

import re

import numpy as np
from pydantic import Field

from physics.datafiles import StrictModel

# `on = "agitation_below:0.2"`, `on = "agitation_above:0.9"`: a threshold in 0..1.
AGITATION_TRIGGER = r"^agitation_(below|above):(0(\.[0-9]+)?|1(\.0+)?)$"
CALMING_CATEGORIES = ("rapport", "question")
# The quietest `shout_dbfs` (RMS dBFS): the recogniser raises a whisper at -48 dBFS peak to its
# level and hears nothing quieter (range/voice/recognize.py MAX_GAIN_DB), and speech's RMS lies
# some 10 dB under its peak, so every utterance heard measures above -60 dBFS; a threshold at or
# below it would make every word a shout (nu17c #14: shout_dbfs = -200 was taken).
SHOUT_FLOOR_DBFS = -60.0


class Deescalation(StrictModel):
    """A subject's de-escalation model (docs/drills.md, "De-escalation"). Every default is a
    modelling choice (no published figure gives these sizes; facts.md §4 gives the directions)."""

    start_agitation: float = Field(default=0.6, ge=0.0, le=1.0)
    # Time: a tactical pause at a safe distance calms over about a minute (0.6 -> 0 in 60 s).
    calm_per_s: float = Field(default=0.01, ge=0.0, le=1.0)
    safe_distance_ft: float = Field(default=15.0, gt=0.0)
    # Talk: three or four calm statements take a subject from 0.6 to below 0.2.
    rapport_step: float = Field(default=0.12, ge=0.0, le=1.0)
    # Shouting: two shouted commands take a subject from 0.6 past 0.9.
    shout_step: float = Field(default=0.2, ge=0.0, le=1.0)
    # A shout is some 20-30 dB above conversational speech; the level depends on the microphone's
    # gain. On the tests' espeak-ng recordings a normal voice measures about -29 dBFS and a
    # near-full-scale one about -17 dBFS: -20 dBFS tells them apart (docs/drills.md).
    # At or below SHOUT_FLOOR_DBFS every word the recogniser can hear would be a shout.
    shout_dbfs: float = Field(default=-20.0, ge=SHOUT_FLOOR_DBFS, le=0.0)
    # Crowding: closer than this the subject feels cornered.
    crowding_ft: float = Field(default=10.0, gt=0.0)
    crowding_per_s: float = Field(default=0.05, ge=0.0, le=1.0)
    pointed_step: float = Field(default=0.15, ge=0.0, le=1.0)
    pointed_per_s: float = Field(default=0.02, ge=0.0, le=1.0)
    responsiveness_spread: float = Field(default=0.2, ge=0.0, lt=1.0)


def parse_agitation_trigger(on: str) -> tuple[str, float] | None:
    """`agitation_below:0.2` -> ("below", 0.2); None when `on` is not an agitation trigger.

    Raises ValueError for `agitation_...` that is not `agitation_below:X` or `agitation_above:X`
    with X in 0..1."""
    if not on.startswith("agitation_"):
        return None
    match = re.match(AGITATION_TRIGGER, on)
    if match is None:
        raise ValueError(
            f"{on!r}: an agitation trigger is agitation_below:X or agitation_above:X, X in 0..1"
        )
    direction, threshold = match.group(1), float(match.group(2))
    # Agitation is 0..1: it is never below 0 nor above 1 (nu17c #14: both were "ok").
    if (direction, threshold) in (("below", 0.0), ("above", 1.0)):
        edge = "below 0" if direction == "below" else "above 1"
        raise ValueError(
            f"{on!r} can never fire: agitation is 0..1, never {edge};"
            " X of agitation_below is more than 0, of agitation_above less than 1"
        )
    return direction, threshold


class Agitation:
    """One subject's agitation through a run. `level` is 0..1."""

    def __init__(self, model: Deescalation, rng: np.random.Generator) -> None:
        self.model = model
        spread = model.responsiveness_spread
        # Drawn once, here: the same seed gives the same subject.
        self.responsiveness = float(1.0 + rng.uniform(-spread, spread))
        self.level = model.start_agitation
        self.pointed = False  # a weapon is pointed at the subject (until holstered)

    def _add(self, change: float) -> float:
        before = self.level
        self.level = min(1.0, max(0.0, self.level + change))
        return self.level - before

    def advance(self, dt_s: float, distance_ft: float) -> float:
        """`dt_s` of run time pass with the officer `distance_ft` away; returns the change."""
        m = self.model
        change = 0.0
        if distance_ft < m.crowding_ft:
            change += m.crowding_per_s * dt_s
        if self.pointed:
            change += m.pointed_per_s * dt_s
        elif distance_ft >= m.safe_distance_ft:
            change -= m.calm_per_s * self.responsiveness * dt_s
        return self._add(change)

    def heard(self, act: str, loudness_dbfs: float | None) -> float:
        """The officer said `act` at `loudness_dbfs` (None: not measured, a normal voice);
        returns the change."""
        m = self.model
        if loudness_dbfs is not None and loudness_dbfs >= m.shout_dbfs:
            return self._add(m.shout_step)
        if act.split(".", 1)[0] in CALMING_CATEGORIES:
            return self._add(-m.rapport_step * self.responsiveness)
        return 0.0

    def weapon_pointed(self) -> float:
        """A weapon was pointed at the subject; returns the change."""
        self.pointed = True
        return self._add(self.model.pointed_step)

    def holstered(self) -> None:
        self.pointed = False

    def crossed(self, direction: str, threshold: float) -> bool:
        """Whether an `agitation_<direction>:<threshold>` trigger is met now."""
        if direction == "below":
            return self.level < threshold
        return self.level > threshold
