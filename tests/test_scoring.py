"""Scoring from hand-made logs: each classic error is caught by its rule."""

from __future__ import annotations

from typing import Any

import pytest

from drills.log import LogRecord
from scoring.policy import default_policy
from scoring.score import Kind, score_run


def rec(t: float, kind: str, **data: Any) -> LogRecord:
    return LogRecord(t, kind, data)


def start(held: str, behaviour: str, threat: str) -> list[LogRecord]:
    return [
        rec(0.0, "run_started", weapons=["taser", "firearm"]),
        rec(
            0.0,
            "phase_entered",
            subject="s",
            phase="p0",
            behaviour=behaviour,
            threat=threat,
            held_object=held,
        ),
    ]


def rules(records: list[LogRecord]) -> dict[str, list[Kind]]:
    out: dict[str, list[Kind]] = {}
    for f in score_run(records, default_policy()).findings:
        out.setdefault(f.rule, []).append(f.kind)
    return out


def test_shooting_the_phone_is_a_critical_failure() -> None:
    log = [
        *start("phone", "compliant", "none"),
        rec(1.0, "officer_action", action="verbal_command"),
        rec(1.4, "officer_action", action="firearm_fired", subject="s"),
    ]
    score = score_run(log, default_policy())
    assert rules(log)["DECISION-01"] == [Kind.CRITICAL]
    assert not score.passed and score.decision.startswith("critical")


def test_firearm_first_against_an_advancing_knife_is_found() -> None:
    log = [
        *start("knife", "assaultive", "assaultive"),
        rec(0.5, "officer_action", action="verbal_command"),
        rec(1.0, "officer_action", action="firearm_fired", subject="s"),
    ]
    found = rules(log)
    assert found["LLF-02"] == [Kind.FINDING]
    assert found["FORCE-01"] == [Kind.FINDING]
    assert score_run(log, default_policy()).less_lethal_first is False


def test_firing_after_surrender_past_the_perception_allowance_is_critical() -> None:
    log = [
        *start("knife", "deadly_threat", "deadly"),
        rec(1.0, "officer_action", action="firearm_fired", subject="s"),
        rec(
            1.2,
            "phase_entered",
            subject="s",
            phase="p1",
            behaviour="surrendered",
            threat="none",
            held_object="knife",
        ),
        rec(1.5, "officer_action", action="firearm_fired", subject="s"),
        rec(2.0, "officer_action", action="firearm_fired", subject="s"),
    ]
    # 0.3 s after the surrender: inside the 0.56 s perception allowance (facts.md §4); 0.8 s: not.
    assert rules(log)["STOP-01"] == [Kind.INFO]
    assert rules(log)["STOP-02"] == [Kind.CRITICAL]


def test_rounds_after_incapacitation_are_counted() -> None:
    log = [
        *start("knife", "deadly_threat", "deadly"),
        rec(1.0, "officer_action", action="firearm_fired", subject="s"),
        rec(1.1, "incapacitation_started", subject="s", until_s=7.0),
        rec(1.4, "officer_action", action="firearm_fired", subject="s"),
    ]
    score = score_run(log, default_policy())
    assert score.rounds_after_threat == 1 and rules(log)["STOP-01"] == [Kind.INFO]
    assert "STOP-02" not in rules(log)


def test_taser_first_with_commands_earns_credit_and_a_reaction_time() -> None:
    log = [
        *start("knife", "active_resistance", "active"),
        rec(0.5, "officer_action", action="verbal_command"),
        rec(
            2.0,
            "phase_entered",
            subject="s",
            phase="p1",
            behaviour="assaultive",
            threat="assaultive",
            held_object="knife",
        ),
        rec(2.8, "officer_action", action="taser_fired", subject="s"),
        rec(6.0, "run_ended", state="completed", reason="time limit"),
    ]
    score = score_run(log, default_policy())
    assert score.less_lethal_first is True
    assert score.reaction_time_s == 0.8
    assert score.passed and score.score == 100.0


def test_d_prime_follows_hit_and_false_alarm_rates() -> None:
    from scoring.detection import Detection

    sharp = Detection("sharp", shoot_runs=10, hits=10, no_shoot_runs=10, false_alarms=0)
    # Log-linear correction: (10.5 / 11) and (0.5 / 11), z-scored.
    assert sharp.d_prime == pytest.approx(1.6906 * 2, abs=1e-3)
    trigger_happy = Detection("th", shoot_runs=10, hits=10, no_shoot_runs=10, false_alarms=10)
    assert trigger_happy.d_prime == pytest.approx(0.0)
    assert Detection("new", 0, 0, 3, 0).d_prime is None
