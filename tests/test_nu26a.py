"""nu26 (use-of-force SME audit), the force judgements: a drive-stun is a use of force (#1), "less-
lethal first" is n/a where the CEW policy barred the TASER (#3), flight right after an assault is
not flight alone (#4), one CEW-04 per cycle past the cap (#7), and the perception allowance's
message names the limit that was passed (#8). Drills from nu26's files (/tmp/nu26-work/c/),
shortened; each judged from a real simulated run in-process, or from a hand-built log."""

from __future__ import annotations

from pathlib import Path

from test_rules import cycle, end, fire, phase, rec, say, start
from test_rules import taser as taser_at

from drills.log import LogRecord
from drills.officer import find_officer
from drills.schema import parse_drill
from range.runs.drill import RunConfig, run_drill
from scoring.policy import default_policy, load_policy
from scoring.score import Kind, Score, score_run


def found(score: Score, rule: str) -> list[tuple[Kind, str]]:
    return [(f.kind, f.message) for f in score.findings if f.rule == rule]


def run(tmp_path: Path, drill: str, script: str, seed: int = 1) -> Score:
    path = tmp_path / "officer.toml"
    path.write_text('id = "nu26-officer-v1"\nversion = 1\ndescription = "d"\n' + script)
    parsed = parse_drill(drill, f"{drill.split(chr(34))[1]}.toml")
    return run_drill(RunConfig(parsed, find_officer(str(path)), seed)).score


# ds-active-drill.toml, shortened: a man actively resisting at arm's length gives up at 4 s.
DS_ACTIVE = """
id = "nu26-ds-active-v1"
version = 1
title = "nu26: a man keeps fighting"
rationale = "r"
expected_response = "e"
time_limit_s = 6.0
taser_model = "taser-x26p"
taser_loads = ["x26p-25ft"]

[[subjects]]
id = "man"
start_distance_ft = 2.0
start_phase = "fights"

[[phases]]
id = "fights"
subject = "man"
behaviour = "active_resistance"
movement = "hold"
[[phases.transitions]]
to = "gives_up"
after_s = 4.0

[[phases]]
id = "gives_up"
subject = "man"
behaviour = "surrendered"
ends_drill = true
"""


def test_a_drive_stun_is_a_use_of_force_no_talk_down_and_judged_for_its_words(
    tmp_path: Path,
) -> None:
    """nu26 #1: a drive-stun with no word first on an actively resisting man who then gives up:
    VERBAL-01 and CEW-02 findings as for a probe deployment, no DEESC-02 talk-down credit, and
    the summary says force was used (docs/scoring.md: a drive-stun "is judged like any use of
    force")."""
    score = run(
        tmp_path,
        DS_ACTIVE,
        '[[steps]]\nat_s = 0.2\ndo = "draw_taser"\n'
        '[[steps]]\nat_s = 1.0\ndo = "drive_stun"\nregion = "leg"\nduration_s = 2.0\n',
    )
    assert score.subjects["man"]["drive_stuns"] == 1
    assert found(score, "DEESC-02") == []
    assert "no force used" not in score.decision
    assert score.less_lethal_na != "no force used"
    assert found(score, "VERBAL-01") == [(Kind.FINDING, "force with no verbal command first")]
    ((kind, message),) = found(score, "CEW-02")
    assert kind is Kind.FINDING and message.startswith("no CEW warning to man: safe and feasible")


def test_a_warned_drive_stun_earns_the_warning_credits_and_less_lethal_first() -> None:
    log = [
        *start(),
        phase(0, "assaultive"),
        say(0.2, "Stop or you'll be tased!"),
        rec(
            1.0,
            "drive_stun",
            subject="s",
            serial="T1",
            region="leg",
            distance_m=0.5,
            duration_s=2.0,
        ),
        cycle(1.0, 1, 1, mode="drive_stun"),
        phase(3.0, "surrendered"),
        end(4.0),
    ]
    score = score_run(log, default_policy())
    assert found(score, "CEW-02") == [(Kind.CREDIT, "CEW warning given to s first")]
    assert found(score, "VERBAL-01") == [(Kind.CREDIT, "verbal command 0.8 s before force")]
    assert score.less_lethal_first is True
    assert found(score, "DEESC-02") == []
    assert score.decision == "appropriate"


# r-passive.toml, shortened: a man passively resisting 10 ft away.
PASSIVE = """
id = "nu26-r-passive-v1"
version = 1
title = "nu26 passive"
rationale = "r"
expected_response = "e"
time_limit_s = 3.0

[[subjects]]
id = "man"
start_distance_ft = 10.0
start_phase = "p1"
facing = "officer"

[[phases]]
id = "p1"
subject = "man"
behaviour = "passive_resistance"
movement = "hold"
[[phases.transitions]]
to = "p2"
after_s = 2.5

[[phases]]
id = "p2"
subject = "man"
behaviour = "surrendered"
ends_drill = true
"""

# o-abdomen.toml: the warning, the TASER drawn and aimed at the abdomen, fired at 1.5 s.
O_ABDOMEN = (
    '[[steps]]\nat_s = 0.2\ndo = "verbal_command"\nsay = "Stop resisting or you\'ll be tased!"\n'
    '[[steps]]\nafter_s = 0.2\ndo = "draw_taser"\n'
    '[[steps]]\nafter_s = 0.3\ndo = "aim"\nregion = "abdomen"\n'
    '[[steps]]\nat_s = 1.5\ndo = "fire"\n'
)


def test_less_lethal_first_is_n_a_where_the_matrix_barred_the_taser(tmp_path: Path) -> None:
    """nu26 #3: a TASER on a passively resisting man is excessive (FORCE-01; facts.md §5 when a
    CEW fits: not against passive non-compliance), so "less-lethal first" did not arise: n/a,
    as for flight alone or a restricted subject, never "yes"."""
    score = run(tmp_path, PASSIVE, O_ABDOMEN)
    assert [k for k, _ in found(score, "FORCE-01")] == [Kind.FINDING]
    assert score.less_lethal_first is None
    assert score.less_lethal_na == (
        "the CEW policy barred the TASER here: excessive against passive resistance"
    )
    assert found(score, "LLF-01") == []


def test_less_lethal_first_is_n_a_for_any_force_the_taser_could_not_fit() -> None:
    """The same rule for a compliant man (DECISION-01) and for the firearm first at a passive
    man: the TASER was not permitted, so putting it first was not the question."""
    compliant = [*start(), phase(0, "compliant"), say(0.2), taser_at(1.0), end(3.0)]
    score = score_run(compliant, default_policy())
    assert [k for k, _ in found(score, "DECISION-01")] == [Kind.CRITICAL]
    assert (score.less_lethal_first, score.less_lethal_na) == (
        None,
        "the CEW policy barred the TASER here: excessive against no threat",
    )
    passive = [*start(), phase(0, "passive_resistance"), say(0.2), fire(1.0), end(3.0)]
    assert score_run(passive, default_policy()).less_lethal_first is None
    # Where the TASER fitted (active resistance), the question arose: yes.
    active = [*start(), phase(0, "active_resistance"), say(0.2), taser_at(1.0), end(3.0)]
    assert score_run(active, default_policy()).less_lethal_first is True


# hitrun-drill.toml: a man punches the officer for 1.2 s, then runs (a serious offence).
HITRUN = """
id = "nu26-hitrun-v1"
version = 1
title = "nu26: punches the officer, then runs"
rationale = "r"
expected_response = "e"
time_limit_s = 3.0

[[subjects]]
id = "man"
start_distance_ft = 6.0
start_phase = "punches"
facing = "officer"
attributes = { offence = "serious" }

[[phases]]
id = "punches"
subject = "man"
behaviour = "assaultive"
movement = "hold"
[[phases.transitions]]
to = "runs"
after_s = 1.2

[[phases]]
id = "runs"
subject = "man"
behaviour = "fleeing"
movement = "flee"
speed_mps = 2.5
[[phases.transitions]]
to = "away"
beyond_ft = 40.0

[[phases]]
id = "away"
subject = "man"
behaviour = "fleeing"
ends_drill = true
"""


def test_flight_right_after_an_assault_is_not_flight_alone(tmp_path: Path) -> None:
    """nu26 #4: the TASER 0.5 s after the man turned from punching the officer to running is
    weighed against the assault (within max_reaction_s, Tueller 1.5 s, facts.md §4; Graham
    weighs resistance and flight together, facts.md §5): no CEW-01 "only resistance was
    flight", FORCE-01 justified, and the turn is "flight" in the timeline, not "de-escalation"."""
    score = run(
        tmp_path,
        HITRUN,
        '[[steps]]\nat_s = 0.1\ndo = "verbal_command"\nsay = "Police! Stop or you\'ll be tased!"\n'
        '[[steps]]\nafter_s = 0.1\ndo = "draw_taser"\n'
        '[[steps]]\nafter_s = 0.2\ndo = "aim"\nregion = "lower_back"\n'
        '[[steps]]\nat_s = 1.7\ndo = "fire"\n',
    )
    assert found(score, "CEW-01") == []
    assert found(score, "FORCE-01") == [
        (
            Kind.INFO,
            "TASER deployment against man's threat level assaultive: justified (fled 0.50 s"
            " before, within 1.5 s of an assaultive threat: not flight alone)",
        )
    ]
    assert score.less_lethal_first is True
    assert [m for _, m in score.subjects["man"]["timeline"]] == ["acting", "flight"]


def test_flight_past_the_window_or_from_the_start_is_flight_alone() -> None:
    def judged(*records: object) -> Score:
        return score_run([*start(), *records, end(6.0)], default_policy())  # type: ignore[list-item]

    # The TASER 1.6 s after the turn: past the 1.5 s window, the flight is judged as it is.
    late = judged(phase(0, "assaultive"), say(0.1), phase(1.2, "fleeing"), taser_at(2.8))
    assert [k for k, _ in found(late, "CEW-01")] == [Kind.FINDING]
    assert [k for k, _ in found(late, "FORCE-01")] == [Kind.FINDING]
    # Inside it, the assault is weighed; a man who only ever ran is flight alone.
    soon = judged(phase(0, "assaultive"), say(0.1), phase(1.2, "fleeing"), taser_at(2.7))
    assert found(soon, "CEW-01") == [] and [k for k, _ in found(soon, "FORCE-01")] == [Kind.INFO]
    alone = judged(phase(0, "fleeing"), say(0.1), taser_at(0.5))
    assert [k for k, _ in found(alone, "CEW-01")] == [Kind.FINDING]
    # Passive resistance before the flight adds nothing: still flight alone.
    passive = judged(phase(0, "passive_resistance"), say(0.1), phase(1.2, "fleeing"), taser_at(1.5))
    assert [k for k, _ in found(passive, "CEW-01")] == [Kind.FINDING]


POLICY = Path(__file__).parents[1] / "scoring" / "data" / "policy-default.toml"


def cycles_log(*holds: float) -> list[LogRecord]:
    """An assaultive man given one drive-stun per hold (s), 2 s apart after each."""
    log = [*start(), phase(0, "assaultive"), say(0.1, "Stop or you'll be tased!")]
    t = 1.0
    for n, hold in enumerate(holds, 1):
        log += [
            rec(
                t,
                "drive_stun",
                subject="s",
                serial="T1",
                region="leg",
                distance_m=0.5,
                duration_s=hold,
            ),
            cycle(t, n, 1, mode="drive_stun"),
            rec(
                t + hold,
                "taser_exposure",
                subject="s",
                serial="T1",
                mode="drive_stun",
                cycle=n,
                started_s=t,
                duration_s=hold,
                ended_by="cycle_end",
            ),
        ]
        t += hold + 2.0
    return [*log, end(t)]


def test_one_cew_04_per_cycle_past_the_single_cap(tmp_path: Path) -> None:
    """nu26 #7: "no more than 3 cycles or 15 s cumulative" (facts.md §5) is one cap: the 4th
    5 s cycle, past both the count and the 15 s, costs one CEW-04 (it cost two, -40); three
    cycles of 5 s (15.0 s) cost none; each cycle past the cap costs one."""
    policy = default_policy()
    four = found(score_run(cycles_log(5, 5, 5, 5), policy), "CEW-04")
    assert four == [
        (
            Kind.FINDING,
            "cycle 4 on s: past the cap of 3 cycles or 15 s (15.0 s of exposure before it)",
        )
    ]
    assert found(score_run(cycles_log(5, 5, 5), policy), "CEW-04") == []
    assert len(found(score_run(cycles_log(5, 5, 5, 5, 5), policy), "CEW-04")) == 2
    # Under the count, the cycle that takes the exposure past 15 s is charged once, and each
    # cycle after it (the exposure already at the cap) once.
    text = POLICY.read_text()
    old = 'id = "cew_max_cycles"\nrule = "CEW-04"\ncount = 3\n'
    assert text.count(old) == 1
    path = tmp_path / "agency.toml"
    path.write_text(text.replace(old, old.replace("count = 3", "count = 6")))
    held = found(score_run(cycles_log(8, 8, 2), load_policy(path)), "CEW-04")
    assert held == [
        (Kind.FINDING, "cycle 2 on s: 16.0 s of exposure, past the cap of 6 cycles or 15 s"),
        (
            Kind.FINDING,
            "cycle 3 on s: past the cap of 6 cycles or 15 s (16.0 s of exposure before it)",
        ),
    ]


# stop-drill.toml, shortened: a gunman 21 ft away surrenders at 3.0 s.
STOP = """
id = "nu26-stop-v1"
version = 1
title = "nu26: a gunman surrenders at 3 s"
rationale = "r"
expected_response = "e"
time_limit_s = 5.0

[[subjects]]
id = "gunman"
start_distance_ft = 21.0
start_phase = "aims"
held_object = "handgun"

[[phases]]
id = "aims"
subject = "gunman"
behaviour = "deadly_threat"
movement = "hold"
[[phases.transitions]]
to = "gives_up"
after_s = 3.0

[[phases]]
id = "gives_up"
subject = "gunman"
behaviour = "surrendered"
held_object = "none"
stance = "arms_raised"
[[phases.transitions]]
to = "done"
after_s = 1.0

[[phases]]
id = "done"
subject = "gunman"
behaviour = "surrendered"
ends_drill = true
"""


def test_the_perception_allowance_message_names_the_limit_passed(tmp_path: Path) -> None:
    """nu26 #8: the third round 0.40 s after the surrender is past the allowance's 2 uses
    (facts.md §4: mean ~2 rounds after a stop signal), not its 0.56 s: the message says so; the
    fourth, 0.70 s after, is past the time."""
    steps = "".join(f'[[steps]]\nat_s = {t}\ndo = "fire"\n' for t in (3.1, 3.25, 3.4, 3.7))
    score = run(
        tmp_path,
        STOP,
        '[[steps]]\nat_s = 0.1\ndo = "draw_firearm"\n'
        '[[steps]]\nafter_s = 0.1\ndo = "aim"\nregion = "leg"\n' + steps,
    )
    assert [k for k, _ in found(score, "STOP-01")] == [Kind.INFO, Kind.INFO]
    assert found(score, "STOP-02") == [
        (
            Kind.CRITICAL,
            "round 0.40 s after gunman's threat ended (surrendered), use 3 within 0.56 s: past"
            " the perception allowance of 2 uses",
        ),
        (
            Kind.CRITICAL,
            "round 0.70 s after gunman's threat ended (surrendered), past the perception"
            " allowance (0.56 s)",
        ),
    ]
