"""New-user pass nu19 (defects 2, 8 and 12 in part): each test fails without its fix.
Hand-built logs scored in-process (tests/test_rules.py's helpers), and the scripted officer's
own steps played on a drill engine with no physics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_rules import end, fire, phase, say, spoke, start, taser
from test_taser_cycles import DRILL, FULL, advance

from drills.engine import DrillEngine
from drills.log import LogRecord, MemoryLog
from drills.officer import find_officer
from drills.schema import find_drill, parse_drill
from drills.speech import acts_in_text, builtin_phrasebook
from range.runs.drill import RunConfig, run_drill
from scoring.policy import default_policy
from scoring.score import Finding, Kind, Score, score_run


def _found(score: Score, rule: str) -> list[tuple[Kind, str]]:
    return [(f.kind, f.message) for f in score.findings if f.rule == rule]


# --- 2. A deadly-force warning is feasible from the deadly threat, not an earlier, lesser one ---


def test_passive_resistance_before_the_draw_is_no_time_to_warn_of_deadly_force() -> None:
    # nu19 #2 (traffic-stop-handgun-v1, seed 1321169752): the driver resisted passively from
    # 0 to 2.0 s, then drew and pointed at 2.0 s; the round came at 2.41 s. VERBAL-02/03 said
    # "driver posed a deadly threat 2.0 s before acting on it" (-5 each): the 2.0 s were
    # passive resistance. facts.md §5 asks the warning "where safe and feasible" before deadly
    # force: the deadly threat left 0 s before acting on it.
    log = [
        *start(),
        phase(0, "passive_resistance", "none"),
        say(0.5, "Show me your hands!"),
        phase(2.0, "deadly_threat", "handgun", acting=True),
        fire(2.41),
        end(3),
    ]
    score = score_run(log, default_policy())
    for rule in ("VERBAL-02", "VERBAL-03"):
        ((kind, message),) = _found(score, rule)
        assert kind is Kind.INFO, message
        assert "the threat left no time (s a deadly threat from 2.00 s, acting on it at once)" in (
            message
        )
    assert score.score == 100.0


def test_an_assaultive_threat_before_the_deadly_one_does_not_count_for_the_warning() -> None:
    # nu19 #2 (knife-approach-v1, seed 7): assaultive and acting (charging) from 2.0 s, a
    # deadly threat only from 6.22 s, shot at 6.74 s: no time for a deadly-force warning.
    log = [
        *start(),
        phase(0, "active_resistance", "knife"),
        spoke(0.5, "identify"),
        phase(2.0, "assaultive", "knife", acting=True),
        phase(6.22, "deadly_threat", "knife", acting=True),
        fire(6.74),
        end(7),
    ]
    ((kind, message),) = _found(score_run(log, default_policy()), "VERBAL-02")
    assert kind is Kind.INFO
    assert "s a deadly threat from 6.22 s, acting on it at once" in message


def test_a_deadly_threat_held_long_enough_is_still_a_finding_with_its_own_time() -> None:
    # Passive for 3 s, then holding a pistol (a deadly threat, not yet acting) from 3.0 s,
    # pointing it at 5.0 s: 2.0 s of the deadly threat before acting on it; a warning was
    # feasible, and the finding counts from 3.0 s, not from 0 (it said 5.0 s).
    log = [
        *start(),
        phase(0, "passive_resistance", "none"),
        say(0.5, "Show me your hands!"),
        phase(3.0, "deadly_threat", "handgun", acting=False),
        phase(5.0, "deadly_threat", "handgun", acting=True),
        fire(5.3),
        end(6),
    ]
    score = score_run(log, default_policy())
    for rule in ("VERBAL-02", "VERBAL-03"):
        ((kind, message),) = _found(score, rule)
        assert kind is Kind.FINDING
        assert "s posed a deadly threat from 3.00 s, 2.0 s before acting on it" in message


def test_a_cew_warning_finding_names_the_threat_the_taser_answered_and_its_time() -> None:
    # CEW-02 said "when there was time" with no time: it now names the threat the TASER
    # answered (active resistance from 2.0 s, not the passive resistance before) and its time.
    log = [
        *start(),
        phase(0, "passive_resistance"),
        say(0.5, "Stop!"),
        phase(2.0, "active_resistance"),
        taser(3.0),
        end(4),
    ]
    ((kind, message),) = _found(score_run(log, default_policy()), "CEW-02")
    assert kind is Kind.FINDING
    assert message == (
        "no CEW warning to s: safe and feasible against active resistance from 2.00 s,"
        " 1.0 s before the TASER"
    )


# --- 8. The scripted officer holsters the TASER before the pistol's draw, in the log too ------


@pytest.fixture(scope="module")
def taser_then_pistol() -> list[LogRecord]:
    """knife-approach-v1, seed 7, the taser-first-v1 script as nu19 played it (before nu26 #6
    made it wait for the Close Quarter bay's range): both cartridges miss, then the officer
    draws the pistol (at 6.33 s) with the TASER drawn: the report's run."""
    drill = find_drill("knife-approach-v1")
    script = find_officer(str(Path(__file__).parent / "data/nu26/taser-first-hasty-v1.toml"))
    return list(run_drill(RunConfig(drill, script, 7)).records)


def test_the_taser_is_holstered_before_the_pistol_is_drawn_in_the_log(
    taser_then_pistol: list[LogRecord],
) -> None:
    # nu19 #8: at 6.333333 the log had the pistol's holster_out and firearm_drawn, then the
    # TASER's safety_on and holster_in and taser_holstered; docs/drills.md says draw_firearm
    # "holsters the other weapon first".
    drawn = next(r for r in taser_then_pistol if r.data.get("action") == "firearm_drawn")
    at_once = [r for r in taser_then_pistol if r.t == drawn.t and r.kind != "positions"]
    said = [r.data.get("event") or r.data.get("action") for r in at_once]
    assert said == [
        "safety_on",
        "cycle_ended",  # the device's own: it arced at nobody from 4.81 s
        "holster_in",
        "taser_holstered",
        "holster_out",
        "firearm_drawn",
    ]
    models = [r.data.get("model") for r in at_once if r.kind == "device_event"]
    assert models == ["taser-7", "taser-7", "taser-7", "pistol"]


def test_a_taser_cycle_end_is_logged_only_for_a_cycle_the_log_started(
    taser_then_pistol: list[LogRecord],
) -> None:
    # nu19 #8: `taser_cycle_ended {stopped_by_safety: true}` with no cycle started (the probes
    # missed: "no cycle: the probes did not connect").
    kinds = [r.kind for r in taser_then_pistol]
    assert "taser_cycle_started" not in kinds and "taser_cycle_ended" not in kinds
    # A device that only arced ends no cycle; one whose probes connected still does.
    e = DrillEngine(parse_drill(DRILL, "cycle-test-v1.toml"), np.random.default_rng(0), MemoryLog())
    e.start()
    e.cycle_ended(t=0.5, serial="T1", stopped_by_safety=True)
    assert [r.kind for r in e.log.records if r.kind.startswith("taser_")] == []
    advance(e, 1.0)
    e.probes([], FULL, "s", serial="T1", bay=0)
    advance(e, 2.0)
    e.cycle_ended(serial="T1", stopped_by_safety=True)
    ended = [r.data for r in e.log.records if r.kind == "taser_cycle_ended"]
    assert ended == [{"serial": "T1", "stopped_by_safety": True}]


# --- 12. DEESC-03 names the acts as the phrase book classes them, dated by the first one ------


def test_what_s_your_name_is_a_rapport_act_and_deesc_03_is_dated_by_it() -> None:
    # nu19 #12: "3 rapport statement(s), 0 question(s), 0.0 s talking" for a script whose
    # "What's your name?" is rapport.name (docs/speech.md's act classes), dated at the verbal
    # command (0.50 s), not at the first rapport act (1.5 s).
    assert [m.act for m in acts_in_text("What's your name?", builtin_phrasebook())] == [
        "rapport.name"
    ]

    def scripted(t: float, act: str, text: str) -> LogRecord:
        record = spoke(t, act, text)  # a scripted `speak` step: its words take no time
        return replace(record, data={**record.data, "start_s": t, "end_s": t})

    log = [
        *start(),
        phase(0, "active_resistance", "knife"),
        say(0.5, "Police! Drop the knife!"),
        scripted(1.5, "rapport.time", "Take your time."),
        scripted(2.5, "rapport.name", "What's your name?"),
        end(4),
    ]
    ((kind, message),) = [(f.kind, f.message) for f in _deesc(log)]
    assert kind is Kind.CREDIT
    assert message == "2 rapport act(s), 0 question act(s)"
    assert [f.t for f in _deesc(log)] == [1.5]


def _deesc(log: list[LogRecord]) -> list[Finding]:
    return [f for f in score_run(log, default_policy()).findings if f.rule == "DEESC-03"]
