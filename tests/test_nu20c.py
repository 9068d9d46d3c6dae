"""nu20 (an armorer and an officer, live drills with emulated replicas): the live runs' results
and what the records show. Hand-built logs and in-process CLI calls where they suffice."""

from __future__ import annotations

from test_rules import end, phase, rec, start, taser

from scoring.policy import default_policy
from scoring.score import Kind, score_run


def _unheard(why: str | None) -> list:  # type: ignore[type-arg]
    started = start()[0]
    data = dict(started.data)
    if why is not None:
        data["officer_unheard"] = why
    return [
        rec(0.0, "run_started", **data),
        phase(0, "active_resistance", "knife"),
        taser(3.0),
        end(4),
    ]


def test_a_live_run_that_could_not_hear_the_officer_leaves_the_verbal_rules_not_judged() -> None:
    """nu20 #1: with audio off the log says the officer could not be heard, and why; the
    score then faults no missing words (VERBAL-01 -10 read as if the officer said nothing) and
    says what it could not judge. The same log without the field scores as it always did."""
    why = "audio is off: PortAudio is not installed"
    score = score_run(_unheard(why), default_policy())
    verbal = [f for f in score.findings if f.rule in ("VERBAL-01", "CEW-02")]
    assert verbal and all(f.kind is Kind.INFO and f.points == 0 for f in verbal)
    assert all(f.message.endswith("not judged, the officer could not be heard") for f in verbal)
    assert [line for line in score.not_judged if "could not be heard" in line] == [
        f"the officer could not be heard ({why}): verbal commands, warnings and identification"
        " (VERBAL-01, VERBAL-02, VERBAL-03, CEW-02) not judged as missing; only an instructor's"
        " marks are credited"
    ]
    assert any(f.rule == "RESCORE-01" and why in f.message for f in score.findings)
    # Rescoring an older log (no `officer_unheard`) is unchanged: the finding stands.
    old = score_run(_unheard(None), default_policy())
    assert [f.kind for f in old.findings if f.rule == "VERBAL-01"] == [Kind.FINDING]
    assert not any("could not be heard" in line for line in old.not_judged)
    assert old.score == score.score - 10 - 5
