"""TASER cycles in the simulation: a trigger or ARC press with probes still attached
re-energises them (a new cycle, a new incapacitation), each exposure is logged with its
duration, and subject attributes travel through the log, changing with the phase."""

from __future__ import annotations

import numpy as np
import pytest

from drills.engine import DrillEngine
from drills.events import SubjectAttributes
from drills.log import MemoryLog
from drills.officer import find_officer
from drills.schema import Attributes, builtin_drills, parse_drill
from drills.threat import ATTRIBUTE_DEFAULTS
from physics.taser import Assessment, Effect
from range.runs.drill import RunConfig, run_drill

DRILL = """
id = "cycle-test-v1"
version = 1
title = "t"
rationale = "r"
expected_response = "e"
time_limit_s = 30.0

[[subjects]]
id = "s"
start_distance_ft = 10.0
start_phase = "fights"
attributes = { position = "elevated" }

[[phases]]
id = "fights"
subject = "s"
behaviour = "active_resistance"
attributes = { position = "ground" }
[[phases.transitions]]
to = "end"
after_s = 25.0

[[phases]]
id = "end"
subject = "s"
behaviour = "surrendered"
ends_drill = true
"""

FULL = Assessment(Effect.FULL, 16.0, (0, 1), (), "spread 16 in")


def engine() -> DrillEngine:
    drill = parse_drill(DRILL, "cycle-test-v1.toml")
    e = DrillEngine(drill, np.random.default_rng(0), MemoryLog(), dt_s=0.1)
    e.start()
    return e


def advance(e: DrillEngine, t: float) -> None:
    while e.t < t - 1e-9:
        e.step()


def kinds(e: DrillEngine, kind: str) -> list[dict[str, object]]:
    return [{"t": r.t, **r.data} for r in e.log.records if r.kind == kind]


def test_an_arc_press_with_probes_attached_re_energises_and_each_exposure_has_its_duration() -> (
    None
):
    e = engine()
    advance(e, 1.0)
    e.probes([], FULL, "s", serial="T1", bay=0)
    assert e.subjects["s"].incapacitated_until_s == pytest.approx(1.0 + 5.0 + 1.27)
    advance(e, 6.0)
    e.cycle_ended(serial="T1", stopped_by_safety=False)
    advance(e, 8.0)  # recovered at 7.27 s
    e.arc(serial="T1")  # probes still attached: a second cycle
    advance(e, 9.5)
    e.arc(serial="T1")  # pressed again mid-cycle: that cycle ends, a third begins
    advance(e, 14.5)
    e.cycle_ended(serial="T1", stopped_by_safety=False)
    started = kinds(e, "taser_cycle_started")
    assert [(c["cycle"], c["cycle_of_deployment"]) for c in started] == [(1, 1), (2, 2), (3, 3)]
    exposures = kinds(e, "taser_exposure")
    assert [x["ended_by"] for x in exposures] == ["cycle_end", "new_pull", "cycle_end"]
    assert [x["duration_s"] for x in exposures] == pytest.approx([5.0, 1.5, 5.0])
    # The second cycle re-incapacitated him after he had recovered from the first.
    assert [r["t"] for r in kinds(e, "incapacitation_started")] == pytest.approx([1.0, 8.0])
    assert [r["t"] for r in kinds(e, "incapacitation_ended")] == pytest.approx([7.3])


def test_an_arc_press_with_no_probes_attached_is_no_cycle() -> None:
    e = engine()
    e.arc(t=1.0, serial="T1")
    none = Assessment(Effect.NONE, None, (0,), (), "1 probe(s) missed the subject")
    e.probes([], none, "s", t=2.0, serial="T1", bay=0)
    e.arc(t=3.0, serial="T1")
    assert kinds(e, "taser_cycle_started") == [] and kinds(e, "taser_exposure") == []


def test_a_cycle_still_running_at_the_end_of_the_run_is_logged_to_the_end() -> None:
    e = engine()
    advance(e, 1.0)
    e.probes([], FULL, "s", serial="T1", bay=0)
    advance(e, 3.0)
    e.abort("test")
    exposures = kinds(e, "taser_exposure")
    assert [x["ended_by"] for x in exposures] == ["run_end"]
    assert [x["duration_s"] for x in exposures] == pytest.approx([2.0])


def test_attributes_start_with_the_subject_and_change_with_the_phase() -> None:
    e = engine()
    entered = kinds(e, "phase_entered")
    assert entered[0]["attributes"]["position"] == "ground"  # type: ignore[index]
    assert entered[0]["attributes"]["age_group"] == "adult"  # type: ignore[index]


def test_the_attribute_vocabularies_agree() -> None:
    assert set(Attributes.model_fields) == set(ATTRIBUTE_DEFAULTS)
    assert set(SubjectAttributes.model_fields) == set(ATTRIBUTE_DEFAULTS)
    assert Attributes().model_dump() == ATTRIBUTE_DEFAULTS


def test_the_simulated_x26p_re_energises_through_its_attached_probes() -> None:
    """Through the emulated replica: the second trigger pull of a spent X26P is an `arc_switch`
    device event, and the engine re-energises the attached probes."""
    drill = builtin_drills()["repeated-cycles-v1"]
    # Seed 4: neither fall pulls a probe out (FALL_DETACH_P; seed 1 loses one in the second
    # fall, tests/test_probe_detach.py), so both cycles run their 5 s.
    result = run_drill(RunConfig(drill, find_officer("repeated-cycles-correct-v1"), 4))
    assert not [r for r in result.records if r.kind == "probe_detached"]
    events = [r.data["event"] for r in result.records if r.kind == "device_event"]
    assert "arc_switch" in events
    started = [r.data for r in result.records if r.kind == "taser_cycle_started"]
    exposures = [r.data for r in result.records if r.kind == "taser_exposure"]
    assert [c["cycle_of_deployment"] for c in started] == [1, 2]
    # The deployment's current flows from the second probe's arrival (the trigger + onset) to
    # the device's 5 s cycle end; the re-energised cycle, through probes already in, all 5 s.
    fired = next(
        r.t
        for r in result.records
        if r.kind == "officer_action" and r.data["action"] == "taser_fired"
    )
    onset = exposures[0]["started_s"] - fired
    assert 0.02 < onset < 0.2
    assert [x["duration_s"] for x in exposures] == [
        pytest.approx(5.0 - onset, abs=0.02),
        pytest.approx(5.0, abs=0.02),
    ]
    assert {r.data["model"] for r in result.records if r.kind == "device_event"} >= {"taser-x26p"}
    assert result.score.subjects["man"]["taser_cycles"] == 2


def test_an_arc_press_at_contact_with_no_probes_is_a_drive_stun_where_the_model_has_one() -> None:
    e = engine()
    e.arc(t=0.5, serial="T1", drive_stun=True)  # 10 ft away: out of reach, it only arcs
    e.subjects["s"].position_m = (0.5, 0.0)
    e.arc(t=1.0, serial="T10")  # a model with no drive-stun: arcs only
    e.arc(t=1.0, serial="T1", drive_stun=True)
    e.arc(t=2.0, serial="T1", drive_stun=True)  # pressed again: a second drive-stun cycle
    e.cycle_ended(t=7.0, serial="T1", stopped_by_safety=False)
    started = kinds(e, "taser_cycle_started")
    assert [(c["mode"], c["serial"], c["cycle"]) for c in started] == [
        ("drive_stun", "T1", 1),
        ("drive_stun", "T1", 2),
    ]
    assert [x["duration_s"] for x in kinds(e, "taser_exposure")] == pytest.approx([1.0, 5.0])
    assert kinds(e, "incapacitation_started") == []  # pain, not incapacitation
    assert e.circuits == {}  # nothing stays attached after a drive-stun


@pytest.mark.parametrize(("held", "recovered_at"), [(True, 9.27), (False, 7.27)])
def test_a_held_x26p_trigger_keeps_the_subject_incapacitated_until_the_cycle_ends(
    held: bool, recovered_at: float
) -> None:
    """facts.md §1: on an X26P a held trigger continues the cycle past 5 s, so recovery starts
    at the device's own cycle end (8.0 s here, 7 s of current); on the X2 and the TASER 7 the
    cycle stops at 5 s whatever the trigger does."""
    e = engine()
    if held:
        e.held_trigger_devices = {"T1"}
    advance(e, 1.0)
    e.probes([], FULL, "s", serial="T1", bay=0)
    started = kinds(e, "incapacitation_started")[-1]
    assert started["until_s"] == pytest.approx(7.27)  # the nominal 5 s cycle, logged
    assert started.get("open_cycle") is (True if held else None)
    advance(e, 7.5)
    # Held: still under current past 7.27 s; not held: recovered then.
    assert (e.subjects["s"].incapacitated_until_s is not None) is held
    advance(e, 8.0)
    if held:
        e.cycle_ended(serial="T1", stopped_by_safety=False)  # the officer let go at 8 s
    advance(e, 10.0)
    ended = kinds(e, "incapacitation_ended")
    assert ended and ended[0]["t"] == pytest.approx(recovered_at, abs=0.1)


def test_the_runner_marks_x26p_replicas_as_held_trigger_devices() -> None:
    from peripherals.messages import Model

    drill = builtin_drills()["knife-approach-v1"]
    for model, held in ((Model.TASER_X26P, True), (Model.TASER_7, False)):
        result = run_drill(RunConfig(drill, find_officer("taser-first-v1"), 1, taser_model=model))
        opened = [r for r in result.records if r.kind == "incapacitation_started"]
        assert all(bool(r.data.get("open_cycle")) is held for r in opened)
