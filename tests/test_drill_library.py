"""The drill library documents and tests itself: every shipped officer script that declares the
drill it plays and the verdict it must get (`expect`) is run, and the verdict checked. Issue 13's
situations each have a drill with one correct script and at least two classic errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_library import answer_every_question

from drills.officer import EXPECT_SEED, builtin_officers, scripts_for
from drills.schema import builtin_drills
from range.runs.drill import RunConfig, run_drill
from range.runs.runlog import read_events
from scoring.score import unmet_expectation

SHIPPED = sorted(s.id for s in builtin_officers().values() if s.expect is not None)

# Issue 13's list: each situation has a drill of its own.
SITUATIONS = {
    "a talk-down behind cover": "talk-down-cover-v1",
    "a subject who surrenders and re-arms": "surrender-rearm-v1",
    "two subjects, one armed": "two-subjects-one-armed-v1",
    "force on a restricted-population subject": "restricted-pregnant-v1",
    "a fleeing subject, unarmed": "fleeing-shoplifter-v1",
    "a fleeing subject, armed and dangerous to others": "fleeing-armed-dangerous-v1",
    "repeated cycles": "repeated-cycles-v1",
    "a downed subject still holding a weapon": "downed-still-armed-v1",
    "a crowd in the backdrop": "crowd-backdrop-v1",
    "a close-quarter cartridge at long range": "cq-cartridge-long-range-v1",
    "a subject on an elevated surface": "elevated-subject-v1",
    "a handcuffed subject": "handcuffed-subject-v1",
}


def test_every_situation_has_a_drill_with_a_correct_script_and_two_classic_errors() -> None:
    assert len(SITUATIONS) >= 12
    for situation, drill_id in SITUATIONS.items():
        drill = builtin_drills()[drill_id]
        scripts = scripts_for(drill_id)
        outcomes = [s.expect.outcome for s in scripts if s.expect is not None]
        assert outcomes.count("PASS") == 1, situation
        assert outcomes.count("FAIL") >= 2, situation
        passing = next(s for s in scripts if s.expect is not None and s.expect.outcome == "PASS")
        assert drill.expected_officer == passing.id, situation


def test_every_script_names_a_drill_that_exists_and_rules_the_policy_knows() -> None:
    from scoring.policy import RULES

    assert len(SHIPPED) >= 36
    for script in builtin_officers().values():
        if script.drill is not None:
            assert script.drill in builtin_drills(), script.id
        if script.expect is not None:
            assert set(script.expect.rules) <= set(RULES), script.id


@pytest.mark.parametrize("script_id", SHIPPED)
def test_a_shipped_script_gets_the_verdict_it_declares(script_id: str, tmp_path: Path) -> None:
    script = builtin_officers()[script_id]
    assert script.expect is not None and script.drill is not None
    drill = builtin_drills()[script.drill]
    debrief = answer_every_question if drill.empathy is not None else None
    config = RunConfig(drill, script, EXPECT_SEED, debrief=debrief, runs_dir=tmp_path)
    result = run_drill(config)
    score = result.score
    # Its saved log reads back whole: no event line in it repeats another (nu19 #11).
    assert result.run_dir is not None and len(read_events(result.run_dir)) == len(result.records)
    # The one judgement `drill run --sim` makes of a script's expect (scoring.score).
    assert unmet_expectation(script.expect.outcome, script.expect.rules, score) is None


def test_drill_show_lists_the_scripts_and_drill_run_sim_plays_one(tmp_path: Path) -> None:
    import contextlib
    import io

    from range.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["drill", "show", "repeated-cycles-v1"]) == 0
    shown = out.getvalue()
    for script in scripts_for("repeated-cycles-v1"):
        assert script.id in shown
    assert "[expect FAIL: STOP-02, CEW-03, CEW-04]" in shown
    assert "position = elevated" not in shown and "position = ground" in shown
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "drill",
                "run",
                "repeated-cycles-v1",
                "--sim",
                "repeated-cycles-no-pause-v1",
                "--seed",
                "1",
                "--json",
                "--runs-dir",
                str(tmp_path),
            ]
        )
    result = json.loads(out.getvalue())
    assert result["score"]["outcome"] == "FAIL"
    rules = {f["rule"] for f in result["score"]["findings"] if f["kind"] == "critical"}
    assert "STOP-02" in rules and code == 0  # a run that fails its drill still ran


def test_issued_loads_must_fill_the_model_s_bays_and_crowds_lie_on_the_lane() -> None:
    from drills.schema import parse_drill
    from physics.datafiles import DataFileError

    base = (Path(__file__).parents[1] / "drills/data/drills/repeated-cycles-v1.toml").read_text()
    parse_drill(base, "ok.toml")
    two = base.replace('taser_loads = ["x26p-25ft"]', 'taser_loads = ["x26p-25ft", "x26p-21ft"]')
    with pytest.raises(DataFileError, match="taser-x26p has 1 bay"):
        parse_drill(two, "two.toml")
    far = (
        base + '\n[scene]\ncrowds = [{ name = "q", x_ft = 99.0, width_ft = 4.0, depth_ft = 4.0 }]\n'
    )

    with pytest.raises(DataFileError, match="crowd 'q' lies off the lane"):
        parse_drill(far, "far.toml")
