"""The drill library: each drill's expected response passes; a classic error fails, and fails for
the right reasons (the rule ids a range master would cite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drills.officer import find_officer
from drills.schema import Drill, builtin_drills
from physics.body import Stance
from range.runs.drill import RunConfig, RunResult, Session, run_drill
from scoring.score import Kind

ERRORS = Path(__file__).parent / "data" / "officers"

# drill -> (classic error script, rule ids it must fail with)
CLASSIC_ERRORS = {
    "traffic-stop-compliant-v1": ("traffic-stop-compliant-error-v1", {"DECISION-01"}),
    "traffic-stop-wallet-v1": ("traffic-stop-wallet-error-v1", {"DECISION-01"}),
    "traffic-stop-handgun-v1": ("traffic-stop-handgun-error-v1", {"REACT-02"}),
    "domestic-knife-20ft-v1": ("domestic-knife-error-v1", {"LLF-02", "FORCE-01"}),
    "mental-health-self-harm-v1": ("mental-health-error-v1", {"FORCE-01"}),
    "phone-draw-v1": ("phone-draw-error-v1", {"DECISION-01"}),
    "active-shooter-v1": ("active-shooter-error-v1", {"REACT-01"}),
    "surrender-mid-engagement-v1": ("surrender-error-v1", {"STOP-02"}),
    "fleeing-unarmed-v1": ("fleeing-error-v1", {"DECISION-01"}),
    "taser-failure-v1": ("taser-failure-error-v1", {"DIST-01"}),
    "subject-turned-away-v1": ("turned-away-error-v1", {"FORCE-01", "LLF-02"}),
    "two-subjects-bystander-v1": ("bystander-error-v1", {"DECISION-02"}),
    "knife-approach-v1": ("domestic-knife-error-v1", {"LLF-02", "FORCE-01"}),
}


def answer_every_question(drill: Drill) -> list[dict[str, Any]]:
    """An empathy scene's debrief, every question answered (typed): a scene whose debrief goes
    unanswered is INCOMPLETE (docs/scoring.md), and the scripted officer has no words for it."""
    assert drill.empathy is not None
    return [
        {"question": q.id, "text": q.question, "answer": f"answer {i}", "how": "typed"}
        for i, q in enumerate(drill.empathy.debrief)
    ]


def play(drill_id: str, officer: str, seed: int = 1) -> RunResult:
    drill = builtin_drills()[drill_id]
    debrief = answer_every_question if drill.empathy is not None else None
    return run_drill(RunConfig(drill, find_officer(officer), seed, debrief=debrief))


def test_the_library_covers_the_classic_situations() -> None:
    assert len(builtin_drills()) >= 12
    # The drills before issue 13 keep their errors here; the later ones ship theirs
    # (tests/test_drill_library.py).
    assert set(CLASSIC_ERRORS) <= set(builtin_drills())
    for drill in builtin_drills().values():
        assert drill.rationale.strip() and drill.expected_response.strip()
        assert drill.expected_officer is not None


@pytest.mark.parametrize("drill_id", sorted(builtin_drills()))
def test_the_expected_response_passes(drill_id: str) -> None:
    drill = builtin_drills()[drill_id]
    assert drill.expected_officer is not None
    score = play(drill_id, drill.expected_officer).score
    failures = [(f.rule, f.message) for f in score.findings if f.kind is Kind.CRITICAL]
    assert score.passed, f"{score.decision}: {failures}"
    if drill.kind == "empathy":  # no force to judge: completion and the debrief
        assert score.decision.startswith("empathy scene: completed") and not score.findings
        return
    assert score.decision in ("appropriate", "no force used", "talk-down: no force used")


@pytest.mark.parametrize("drill_id", sorted(CLASSIC_ERRORS))
def test_a_classic_error_fails_with_the_right_rules(drill_id: str) -> None:
    script, rules = CLASSIC_ERRORS[drill_id]
    score = play(drill_id, str(ERRORS / f"{script}.toml")).score
    found = {f.rule for f in score.findings if f.kind in (Kind.FINDING, Kind.CRITICAL)}
    assert not score.passed
    assert rules <= found, f"expected {rules}, found {found}"


def test_cover_and_the_less_lethal_option_earn_credit() -> None:
    handgun = play("traffic-stop-handgun-v1", "traffic-stop-handgun-correct-v1").score
    assert [f.kind for f in handgun.findings if f.rule == "COVER-01"] == [Kind.CREDIT]
    knife = play("domestic-knife-20ft-v1", "domestic-knife-correct-v1").score
    assert knife.less_lethal_first is True
    assert [f.kind for f in knife.findings if f.rule == "LLF-01"] == [Kind.CREDIT]


def test_a_surrender_changes_the_subject_s_stance_in_the_world() -> None:
    drill = builtin_drills()["surrender-mid-engagement-v1"]
    session = Session(RunConfig(drill, find_officer("surrender-correct-v1"), 1))
    result = session.run()
    stances = [r.data["stance"] for r in result.records if r.kind == "phase_entered"]
    assert stances[-2:] == ["arms_raised", "kneeling"]
    assert session.bodies["gunman"].stance is Stance.KNEELING  # the collision shapes knelt too


def test_a_drawn_weapon_pointed_at_a_subject_is_an_officer_action() -> None:
    """Pointing comes from the weapon's pose, as it would from a tracked replica."""
    result = play("phone-draw-v1", "phone-draw-correct-v1")
    pointed = [
        r
        for r in result.records
        if r.kind == "officer_action" and r.data["action"] == "weapon_pointed"
    ]
    drawn = next(
        r
        for r in result.records
        if r.kind == "officer_action" and r.data["action"] == "firearm_drawn"
    )
    assert not pointed, "the correct response draws but never aims at the man"
    aimed = play("phone-draw-v1", str(ERRORS / "phone-draw-error-v1.toml"))
    pointed = [
        r
        for r in aimed.records
        if r.kind == "officer_action" and r.data["action"] == "weapon_pointed"
    ]
    assert [r.data["subject"] for r in pointed] == ["man"]
    assert pointed[0].t > drawn.t
