"""nu26 (use-of-force SME audit), the f26b defects: a resumed assault is a new episode (#2),
shipped model-answer scripts that teach no doctrine error (#6), the empathy watch scripts' declared
verdicts (#9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.officer import find_officer, load_script_for
from drills.schema import builtin_drills, load_drill
from range.runs.drill import RunConfig, run_drill
from scoring.score import Kind, Score

DATA = Path(__file__).parent / "data" / "nu26"


def _run(drill_file: str, script_file: str, seed: int, tmp_path: Path) -> Score:
    drill = load_drill(DATA / drill_file)
    script = load_script_for(DATA / script_file, drill)
    return run_drill(RunConfig(drill, script, seed, runs_dir=tmp_path)).score


def test_an_assault_resumed_after_the_taser_wears_off_is_a_new_episode_to_answer(
    tmp_path: Path,
) -> None:
    # nu26 #2: one deployment drops him at 1.06 s; he gets up at 7.28 s and fights on, 10 ft
    # from an exposed officer who does nothing more. That is a new episode (docs/scoring.md:
    # "the clock restarts with each new episode"), unanswered for 4.7 s: REACT-02, critical.
    # Before the fix the first answer covered the whole run: 100 PASS "appropriate".
    score = _run("resumed-drill.toml", "once-officer.toml", 1, tmp_path)
    man = score.subjects["man"]
    assert [m for _, m in man["timeline"]] == ["acting", "incapacitation", "resumed", "surrender"]
    resumed_t = man["timeline"][2][0]
    react = [f for f in score.findings if f.rule == "REACT-02"]
    assert [(f.t, f.kind) for f in react] == [(resumed_t, Kind.CRITICAL)]
    assert "acted for 4.72 s" in react[0].message
    assert score.outcome == "FAIL" and score.decision.startswith("critical failure")
    assert man["reaction_times_s"] == [1.0]


def test_a_second_cycle_when_he_fights_on_answers_the_new_episode(tmp_path: Path) -> None:
    # The same run with a second cycle 0.22 s after he gets up: that episode is answered (its
    # own reaction time). The probes come out in his second fall, so the third episode, from
    # 9.59 s to his surrender at 12 s, goes unanswered for 2.41 s: a REACT-01 finding.
    score = _run("resumed-drill.toml", "again-officer.toml", 1, tmp_path)
    man = score.subjects["man"]
    assert man["reaction_times_s"] == [1.0, 0.2222]
    assert not [f for f in score.findings if f.rule == "REACT-02"]
    late = [f for f in score.findings if f.rule == "REACT-01" and f.kind is Kind.FINDING]
    assert len(late) == 1 and "acted for 2.41 s" in late[0].message
    assert late[0].t == man["timeline"][-2][0]  # the second "resumed"
    assert score.outcome == "PASS"


@pytest.mark.parametrize(
    ("drill_id", "script_id", "seed"),
    [
        # The demo's officer fired the Close Quarter bay at 18.1 ft (CEW-08) at seeds 1, 2, 3
        # and 5; it now waits for 15 ft. Seed 2: both bays miss, then the firearm at the charge.
        ("knife-approach-v1", "taser-first-v1", 2),
        # "Don't move! Get on the ground!" was VERBAL-04's own example of conflicting commands.
        ("surrender-rearm-v1", "surrender-rearm-correct-v1", 1),
        # No CEW warning (CEW-02), the upper back aimed at while the description said the lower,
        # and the standoff bay's 9 in spread at 12 ft (PLACE-02).
        ("subject-turned-away-v1", "turned-away-correct-v1", 1),
    ],
)
def test_a_model_answer_script_is_marked_down_for_nothing(
    drill_id: str, script_id: str, seed: int, tmp_path: Path
) -> None:
    # nu26 #6: a correct script is the model answer a trainee is shown (docs/drills.md).
    result = run_drill(
        RunConfig(builtin_drills()[drill_id], find_officer(script_id), seed, runs_dir=tmp_path)
    )
    marked = [
        f"{f.rule} {f.message}"
        for f in result.score.findings
        if f.kind in (Kind.FINDING, Kind.CRITICAL)
    ]
    assert marked == [] and result.score.score == 100.0
    assert result.score.decision == "appropriate"


def test_an_empathy_watch_script_run_with_its_debrief_unanswered_is_not_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # nu26 #9: the watch script declares the scene's verdict with its debrief answered (as
    # tests/test_drill_library.py answers it). Unanswered (no terminal, no --answer) the run is
    # not graded: exit 11, as any run not graded, and the expectation says it was not checked,
    # never "expected PASS, got INCOMPLETE" (a mismatch is a graded run's, exit 10).
    from range.cli.main import main

    argv = [
        *("drill", "run", "empathy-child-domestic-v1"),
        *("--sim", "empathy-child-domestic-watch-v1", "--seed", "1"),
        *("--no-save", "--sound", "off", "--json"),
    ]
    assert main(argv) == 11
    out = capsys.readouterr()
    expect = json.loads(out.out)["expect"]
    assert expect["checked"] is False and expect["met"] is None
    assert "got INCOMPLETE" not in out.err
    assert expect["message"] in out.err
    assert "not checked, the run was not graded" in expect["message"]
    assert "answer the debrief (--answer ID=TEXT) to check it" in expect["message"]


def test_the_seed_sweep_the_docs_describe_counts_the_scripts_that_declare_a_verdict() -> None:
    # nu26 #10: docs/drills.md described a sweep of "the 36 scripts" and verdicts that no
    # longer differed; the count at least must be today's (the sweep is re-run when it is not).
    import re

    from drills.officer import builtin_officers

    text = (Path(__file__).parents[1] / "docs" / "drills.md").read_text(encoding="utf-8")
    said = re.search(r"\((\d+) runs\s+of the (\d+) scripts that declare a verdict", text)
    assert said is not None
    declared = sum(s.expect is not None for s in builtin_officers().values())
    assert (int(said[1]), int(said[2])) == (5 * declared, declared)
