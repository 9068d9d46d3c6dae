"""n24b: score sheet leftovers from rc24: "less-lethal first" is n/a for a drive-stun the policy
bars (#3), an excessive-force FORCE-01 that overrides the score carries the critical mark (#4), a
DAMAGED record's console sheet has no table (#5), and DEESC-04 fires when no command, warning,
rapport or question act was heard (its text)."""

from __future__ import annotations

from pathlib import Path

from test_nu26a import DS_ACTIVE, found, run
from test_rules import cycle, end, phase, say, start
from test_rules import taser as taser_at

from drills.officer import find_officer
from drills.schema import find_drill
from range.runs.drill import RunConfig, run_drill
from scoring.policy import default_policy
from scoring.score import Kind, score_run


def test_less_lethal_first_is_n_a_for_a_drive_stun_the_policy_bars(tmp_path: Path) -> None:
    """rc24 #3: the only force a drive-stun on an actively resisting man, which the same sheet
    calls pain compliance against policy (CEW-06; facts.md §5 drive-stun: not for pain
    compliance): "less-lethal first" did not arise, as for a probe deployment the policy barred;
    no LLF-01 credit."""
    score = run(
        tmp_path,
        DS_ACTIVE,
        '[[steps]]\nat_s = 0.2\ndo = "verbal_command"\nsay = "Stop or you\'ll be tased!"\n'
        '[[steps]]\nafter_s = 0.1\ndo = "draw_taser"\n'
        '[[steps]]\nat_s = 1.0\ndo = "drive_stun"\nregion = "leg"\nduration_s = 2.0\n',
    )
    assert [k for k, _ in found(score, "CEW-06")] == [Kind.FINDING]
    assert (score.less_lethal_first, score.less_lethal_na) == (
        None,
        "the CEW policy barred the drive-stun here: pain compliance",
    )
    assert found(score, "LLF-01") == []


def test_a_drive_stun_the_policy_allows_still_reads_less_lethal_first() -> None:
    """The rule bars only what CEW-06 bars: a drive-stun on an assaultive man is yes."""
    log = [
        *start(),
        phase(0, "assaultive"),
        say(0.2),
        cycle(1.0, 1, 1, mode="drive_stun"),
        end(3.0),
    ]
    score = score_run(log, default_policy())
    assert found(score, "CEW-06") == []
    assert score.less_lethal_first is True


def test_excessive_force_that_overrides_the_score_carries_the_critical_mark() -> None:
    """rc24 #4 (nu24 #5 leftover): the header says FORCE-01 overrides the score, so its line
    carries the `!` and "[critical: overrides the score]" mark other critical findings carry;
    one place (`Finding.overrides_score`) decides both."""
    from range.cli.summary import format_score

    log = [*start(), phase(0, "passive_resistance"), say(0.2), taser_at(1.0), end(3.0)]
    score = score_run(log, default_policy())
    excessive = [f for f in score.findings if f.rule == "FORCE-01"]
    assert [f.kind for f in excessive] == [Kind.FINDING]
    assert score.overridden_by == excessive and not score.passed
    text = format_score(score)
    assert "FORCE-01 overrides the score" in text
    line = next(line for line in text.splitlines() if "  FORCE-01  " in line)
    assert line.startswith("  !") and line.endswith("  [critical: overrides the score]")
    # A finding that does not override the score keeps its own mark.
    assert next(line for line in text.splitlines() if "  CEW-02  " in line).startswith("  -")
    # The report's and the console debrief's kind column say it in the same words.
    from range.cli.summary import finding_kind

    assert finding_kind(score, excessive[0]) == "critical: overrides the score"
    assert finding_kind(score, next(f for f in score.findings if f.rule == "CEW-02")) == "finding"


def test_an_officer_who_only_identifies_to_the_time_limit_is_not_talking_it_down(
    tmp_path: Path,
) -> None:
    """DEESC-04 says "no command, warning, rapport or question act" (as DEESC-02's talk-down
    needs one), but fired only where no act at all was heard: an officer who only says who he
    is and lets crisis-talk-down-v1 run to its time limit got the info line (m24's note). A
    real run: the finding, with what was said."""
    script = tmp_path / "officer.toml"
    script.write_text(
        'id = "n24b-identify-only-v1"\nversion = 1\ndescription = "d"\n'
        '[[steps]]\nat_s = 1.0\ndo = "speak"\nsay = "Police!"\n'
    )
    config = RunConfig(find_drill("crisis-talk-down-v1"), find_officer(str(script)), 3)
    score = run_drill(config).score
    assert score.speech["acts"] == {"identify": 1}
    (finding,) = [f for f in score.findings if f.rule == "DEESC-04"]
    assert (finding.kind, finding.points) == (Kind.FINDING, -10.0)
    assert finding.message == (
        "not talked down: the time limit came with person not surrendered (passive"
        " resistance), still holding the knife, and the officer said only identify x1 (no"
        " command, warning, rapport or question act)"
    )
    assert score.score == 90.0 and score.decision == "no force used; not talked down (time limit)"
