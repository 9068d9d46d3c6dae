"""Scoring from what the officer said (issue 17 point 5): speech acts in `officer_spoke` records,
and older logs' `verbal_command` words through the phrase book. Hand-built logs, no simulation;
each record is checked against the log vocabulary (tests/test_rules.py's helpers)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from test_rules import end, fire, phase, say, spoke, start, taser

from drills.log import LogRecord
from scoring.policy import default_policy, load_policy
from scoring.score import Kind, Score, score_run

POLICY = Path(__file__).parents[1] / "scoring" / "data" / "policy-default.toml"


def found(score: Score, rule: str) -> list[tuple[Kind, str]]:
    return [(f.kind, f.message) for f in score.findings if f.rule == rule]


def test_an_older_log_s_words_give_their_acts_through_the_phrase_book() -> None:
    log = [
        *start(),
        phase(0, "active_resistance", "knife"),
        say(0.5, "Police! Drop the knife! I'm here to help."),
        taser(3.0),
        end(4),
    ]
    score = score_run(log, default_policy())
    assert score.speech["acts"] == {
        "command.drop_weapon": 1,
        "identify": 1,
        "rapport.help": 1,
    }
    assert [k for k, _ in found(score, "VERBAL-03")] == [Kind.CREDIT]
    assert [k for k, _ in found(score, "VERBAL-01")] == [Kind.CREDIT]


def test_identify_alone_is_not_a_command() -> None:
    log = [*start(), phase(0, "active_resistance"), spoke(0.5, "identify"), taser(1.0), end(2)]
    score = score_run(log, default_policy())
    assert [k for k, _ in found(score, "VERBAL-01")] == [Kind.FINDING]
    assert [k for k, _ in found(score, "VERBAL-03")] == [Kind.CREDIT]


def test_a_deadly_force_warning_is_a_finding_only_where_it_was_feasible() -> None:
    # 4 s holding a pistol before pointing it: a warning was feasible.
    slow = [
        *start(),
        phase(0, "deadly_threat", "handgun", acting=False),
        spoke(1.0, "identify"),
        spoke(1.5, "command.drop_weapon"),
        phase(4.0, "deadly_threat", "handgun", acting=True),
        fire(4.3),
        end(5),
    ]
    score = score_run(slow, default_policy())
    ((kind, message),) = found(score, "VERBAL-02")
    assert kind is Kind.FINDING and "4.0 s before acting" in message
    assert score.score == 95.0
    # The same with "stop or I will shoot" said first: a credit.
    warned = [*slow[:4], spoke(2.5, "warning.deadly_force"), *slow[4:]]
    assert [k for k, _ in found(score_run(warned, default_policy()), "VERBAL-02")] == [Kind.CREDIT]
    # A gunman who draws and points at once: no time, information.
    fast = [*start(), phase(0, "deadly_threat", "handgun"), fire(0.4), end(1)]
    fast_score = score_run(fast, default_policy())
    assert [k for k, _ in found(fast_score, "VERBAL-02")] == [Kind.INFO]
    assert [k for k, _ in found(fast_score, "VERBAL-03")] == [Kind.INFO]


def test_the_feasibility_threshold_is_the_policy_setting() -> None:
    log = [
        *start(),
        phase(0, "deadly_threat", "handgun", acting=False),
        spoke(0.5, "command.drop_weapon"),
        fire(1.2),
        end(2),
    ]
    assert [k for k, _ in found(score_run(log, default_policy()), "VERBAL-03")] == [Kind.INFO]
    policy = default_policy().model_copy(deep=True)
    row = next(r for r in policy.settings if r.id == "warning_feasible_s")
    object.__setattr__(row, "number", 1.0)
    assert [k for k, _ in found(score_run(log, policy), "VERBAL-03")] == [Kind.FINDING]


def test_conflicting_commands_in_either_order_and_only_within_the_window() -> None:
    def verdict(a: str, b: str, gap_s: float) -> list[Kind]:
        log = [*start(), phase(0, "active_resistance"), spoke(1.0, a), spoke(1.0 + gap_s, b)]
        return [k for k, _ in found(score_run([*log, end(9)], default_policy()), "VERBAL-04")]

    assert verdict("command.stop", "command.get_down", 2.9) == [Kind.FINDING]
    assert verdict("command.get_down", "command.step_back", 0.5) == [Kind.FINDING]
    assert verdict("command.get_down", "command.stop", 3.5) == []
    assert verdict("command.drop_weapon", "command.show_hands", 0.5) == []


def test_one_finding_per_run_of_repeats_and_a_new_command_resets_it() -> None:
    drop = [spoke(1.0 + 0.5 * k, "command.drop_weapon") for k in range(6)]
    log = [*start(), phase(0, "active_resistance", "knife"), *drop, end(9)]
    ((kind, message),) = found(score_run(log, default_policy()), "VERBAL-05")
    assert kind is Kind.FINDING and "6 times in a row" in message
    broken = [
        *start(),
        phase(0, "active_resistance", "knife"),
        *drop[:3],
        spoke(2.2, "command.show_hands"),
        *[spoke(2.4 + 0.5 * k, "command.drop_weapon") for k in range(3)],
        end(9),
    ]
    assert found(score_run(broken, default_policy()), "VERBAL-05") == []


def test_rapport_and_time_talking_are_in_the_de_escalation_credit() -> None:
    log = [
        *start(),
        phase(0, "active_resistance", "knife"),
        spoke(2.0, "rapport.help", "i'm here to help", talk_s=1.0),
        spoke(2.5, "rapport.name", "what's your name", talk_s=1.0),  # overlaps the first
        spoke(6.0, "question.wellbeing", "are you okay", talk_s=0.5),
        phase(8.0, "surrendered"),
        end(8.0, "s reached in_custody"),
    ]
    score = score_run(log, default_policy())
    line = "2 rapport act(s), 1 question act(s), 2.0 s talking"
    assert found(score, "DEESC-03") == [(Kind.CREDIT, line)]
    ((kind, message),) = found(score, "DEESC-02")
    assert kind is Kind.CREDIT and line in message  # a talk-down with no command at all
    assert score.speech["talk_s"] == 2.0
    assert (score.speech["rapport"], score.speech["questions"]) == (2, 1)
    assert score.decision == "talk-down: no force used"


def test_shouted_rapport_is_not_credited_and_the_finding_says_how_many_were_shouted() -> None:
    def loud(t: float, act: str, dbfs: float) -> LogRecord:
        record = spoke(t, act, "i'm here to help", talk_s=0.5)
        return replace(record, data={**record.data, "loudness_dbfs": dbfs})

    calm, shout = -29.0, -17.0  # docs/drills.md: a normal voice and a shout on the tests' audio
    log = [
        *start(),
        phase(0, "active_resistance", "knife"),
        loud(1.0, "rapport.help", shout),
        loud(2.0, "rapport.help", shout),
        loud(3.0, "rapport.time", calm),
        end(8.0),
    ]
    score = score_run(log, default_policy())
    assert found(score, "DEESC-03") == [
        (
            Kind.CREDIT,
            "1 rapport act(s), 0 question act(s), 1.5 s talking; 2 more shouted (2 rapport,"
            " 0 question act(s)), not credited: a shout calms nobody",
        )
    ]
    assert (score.speech["rapport"], score.speech["shouted_calming"]) == (1, 2)
    all_shouted = [*log[:3], loud(3.0, "rapport.time", shout), end(8.0)]
    ((kind, message),) = found(score_run(all_shouted, default_policy()), "DEESC-03")
    assert kind is Kind.INFO and message.startswith("no rapport credited: 2 rapport")


def test_commands_alone_earn_no_rapport_credit() -> None:
    log = [*start(), phase(0, "passive_resistance"), spoke(1.0, "command.stop"), end(3)]
    assert found(score_run(log, default_policy()), "DEESC-03") == []


def test_an_older_log_without_words_is_not_faulted_for_what_it_did_not_keep() -> None:
    from drills.log import LogRecord

    bare = LogRecord(0.2, "officer_action", {"action": "verbal_command"})
    log = [*start(), phase(0, "active_resistance", "knife"), bare, taser(3.0), end(4)]
    score = score_run(log, default_policy())
    assert [k for k, _ in found(score, "VERBAL-03")] == [Kind.INFO]
    assert any("VERBAL-03" in line for line in score.not_judged)


def test_when_a_taser_warning_is_feasible_is_the_policy_s_setting(tmp_path: Path) -> None:
    log = [*start(), phase(0, "assaultive"), spoke(0.5, "command.stop"), taser(3.0), end(4)]
    assert [k for k, _ in found(score_run(log, default_policy()), "CEW-02")] == [Kind.INFO]
    text = POLICY.read_text()
    old = 'words = ["none", "passive", "active"]'
    path = tmp_path / "agency.toml"
    path.write_text(text.replace(old, 'words = ["none", "passive", "active", "assaultive"]'))
    assert [k for k, _ in found(score_run(log, load_policy(path)), "CEW-02")] == [Kind.FINDING]
    warned = [*log[:3], spoke(1.0, "warning.taser"), *log[3:]]
    assert [k for k, _ in found(score_run(warned, load_policy(path)), "CEW-02")] == [Kind.CREDIT]
