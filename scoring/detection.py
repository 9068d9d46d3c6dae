"""Shoot / don't-shoot across runs, as signal detection (facts.md §4, Blacker et al. 2021).

A run is a shoot trial when a subject posed a deadly threat that was not ended without force;
firing the firearm is a "yes", unless its rounds struck only a subject who posed no threat
(DECISION-01). Such a subject beside the threat (a no-shoot target in the same scene) is a
no-shoot trial of its own in that run: shooting it is a false alarm (facts.md §4). A deadly
threat the officer talked down (no force used, the run passed) is a trial where withholding
force was right: a correct rejection, not a miss.
The hit rate (yes in shoot scenarios) and the false-alarm rate (yes in the others) are kept
apart, and d' = z(hit rate) - z(false-alarm rate) measures discrimination. Rates of 0 or 1 are
corrected log-linearly (Hautus 1995): (count + 0.5) / (trials + 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

from scoring.score import Score


@dataclass(frozen=True, slots=True)
class Detection:
    officer: str
    shoot_runs: int
    hits: int
    no_shoot_runs: int
    false_alarms: int

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.shoot_runs if self.shoot_runs else None

    @property
    def false_alarm_rate(self) -> float | None:
        return self.false_alarms / self.no_shoot_runs if self.no_shoot_runs else None

    @property
    def d_prime(self) -> float | None:
        if not self.shoot_runs or not self.no_shoot_runs:
            return None
        z = NormalDist().inv_cdf
        hit = (self.hits + 0.5) / (self.shoot_runs + 1)
        fa = (self.false_alarms + 0.5) / (self.no_shoot_runs + 1)
        return z(hit) - z(fa)

    def as_json(self) -> dict[str, object]:
        return {
            "officer": self.officer,
            "shoot_runs": self.shoot_runs,
            "hits": self.hits,
            "no_shoot_runs": self.no_shoot_runs,
            "false_alarms": self.false_alarms,
            "hit_rate": self.hit_rate,
            "false_alarm_rate": self.false_alarm_rate,
            "d_prime": self.d_prime,
        }


def shoot_trial(score: Score) -> bool:
    """Whether firing was called for in this run: a subject posed a deadly threat and the run
    did not pass with force correctly withheld. A talk-down of a deadly threat (no round, no
    TASER, the run passed) counts as a no-shoot trial held: a correct rejection."""
    talked_down = score.passed and score.rounds_fired == 0 and not score.deployments
    return score.shoot_scenario and not talked_down


def trial_officer(score: Score) -> str:
    """Whose decisions a run's trial counts as: the officer's name for a live run; a run a
    scripted officer played (no --live) is kept apart, `Ofc. Rivera (SIMULATED)` (plain
    `scripted` runs stay `scripted`): a script's decisions are never the officer's."""
    if not score.scripted_by or score.officer in ("", "scripted", score.scripted_by):
        return score.officer
    return f"{score.officer} (SIMULATED)"


def trial_key(score: Score) -> str:
    """The row a run's trial is tallied in: a run kept under a badge (`drill run --badge`,
    logged in `run_started`) by its badge, whatever name its log holds, `Ofc. Rivera #4411`
    (scripted runs apart, `Ofc. Rivera #4411 (SIMULATED)`); a run without one by the
    officer's name (`trial_officer`)."""
    if not score.badge:
        return trial_officer(score)
    simulated = trial_officer(score) != score.officer
    return f"#{score.badge}" + (" (SIMULATED)" if simulated else "")


def detection(scores: Iterable[Score]) -> list[Detection]:
    """One row per officer, in the order officers first appear: by badge where the run was
    kept under one, else by name; scripted runs in a row of their own (`trial_key`). An
    incomplete run is no trial: it is left out."""
    tally: dict[str, list[int]] = {}
    names: dict[str, str] = {}  # a badge's row is named as its first run names the officer
    for score in scores:
        if score.incomplete:
            continue
        key = trial_key(score)
        if key not in names:
            # With a badge the key is `#4411[ (SIMULATED)]`, named after the officer.
            names[key] = f"{score.officer} {key}" if score.badge else trial_officer(score)
        row = tally.setdefault(key, [0, 0, 0, 0])
        if shoot_trial(score):
            # A hit is a round fired at the threat: one that struck a subject who posed no
            # threat (DECISION-01) is no hit, but a false alarm on the no-shoot target beside
            # the threat, which is a trial of its own (facts.md §4, Blacker et al. 2021:
            # shooting a no-shoot target is a false alarm).
            row[0] += 1
            row[1] += score.rounds_fired - score.rounds_at_no_threat > 0
            if score.no_shoot_target or score.rounds_at_no_threat:
                row[2] += 1
                row[3] += score.rounds_at_no_threat > 0
        else:
            row[2] += 1
            row[3] += score.rounds_fired > 0
    return [Detection(names[key], *row) for key, row in tally.items()]
