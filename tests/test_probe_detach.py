"""Drill hooks for TASER wires: every engine step the runner checks each probe still in a
subject against its wire's length (and pulls some out when the subject falls); a probe that
comes off is logged as `probe_detached`, a circuit left open ends its cycle there, and the
scorer says why the cycle ended."""

from __future__ import annotations

import math

import pytest

from drills.officer import OfficerScript, find_officer
from drills.schema import builtin_drills, parse_drill
from physics.datafiles import parse_model
from physics.taser import cartridge
from physics.units import FT_M
from range.runs.drill import RunConfig, run_drill

RUNS_OFF = """
id = "runs-off-v1"
version = 1
title = "t"
rationale = "r"
expected_response = "e"
time_limit_s = 8.0
taser_model = "taser-x26p"

[[subjects]]
id = "runner"
start_distance_ft = 4.0
start_phase = "stands"

[[phases]]
id = "stands"
subject = "runner"
behaviour = "active_resistance"
[[phases.transitions]]
to = "runs"
on = "taser_fired"

[[phases]]
id = "runs"
subject = "runner"
behaviour = "active_resistance"
movement = "flee"
speed_mps = 5.0
[[phases.transitions]]
to = "gone"
beyond_ft = 60.0

[[phases]]
id = "gone"
subject = "runner"
behaviour = "compliant"
ends_drill = true
"""

FIRES = """
id = "fires-taser-v1"
version = 1
description = "one X26P cartridge at 4 ft: spread under 12 in, pain but no lock-up"
[[steps]]
at_s = 0.2
do = "draw_taser"
[[steps]]
after_s = 0.3
do = "aim"
region = "abdomen"
[[steps]]
after_s = 0.2
do = "fire"
"""


def test_a_subject_running_away_past_the_wire_length_detaches_and_the_cycle_ends() -> None:
    drill = parse_drill(RUNS_OFF, "runs-off-v1.toml")
    officer = parse_model(FIRES, OfficerScript, "fires-taser-v1.toml")
    result = run_drill(RunConfig(drill, officer, 0))
    records = result.records
    hit = next(r for r in records if r.kind == "probe_impacts")
    assert hit.data["effect"] == "reduced_effect"  # 4 ft: the runner keeps running
    assert hit.data["connected"] == [0, 1]
    detached = [r for r in records if r.kind == "probe_detached"]
    assert len(detached) == 1
    off = detached[0]
    assert off.data["reason"] == "the wire ran out" and off.data["circuit_open"] is True
    assert off.data["subject"] == "runner" and off.data["probes"]
    # It came off when the runner had taken a probe past the cartridge's 25 ft of wire: his
    # feet are then about that far from the officer (the probe in his belly, the device at the
    # officer's hand), and not a step before.
    wire_m = cartridge("x26p-25ft").wire_length_ft * FT_M
    positions = [r for r in records if r.kind == "positions" and r.t <= off.t + 1e-9]
    x, y = positions[-1].data["subjects"]["runner"]
    assert math.hypot(x, y) == pytest.approx(wire_m, abs=0.6)
    before = [r for r in records if r.kind == "positions" and r.t <= off.t - 0.3][-1]
    assert math.hypot(*before.data["subjects"]["runner"]) < wire_m
    # The cycle running through the probes ends there, and says why.
    exposure = next(r for r in records if r.kind == "taser_exposure")
    assert exposure.data["ended_by"] == "probe_detached" and exposure.t == off.t
    assert exposure.data["duration_s"] < 5.0
    why = [f.message for f in result.score.findings if f.rule == "PLACE-02"]
    assert any("ended after" in m and "the wire ran out" in m for m in why), why


def test_a_fall_can_pull_probes_out_as_the_subject_lands() -> None:
    """repeated-cycles-v1 with seed 1: the X26P's second cycle drops the man again, and a probe
    pulled out as he lands ends that cycle 0.8 s (the fall) after it began."""
    drill = builtin_drills()["repeated-cycles-v1"]
    result = run_drill(RunConfig(drill, find_officer("repeated-cycles-correct-v1"), 1))
    off = [r for r in result.records if r.kind == "probe_detached"]
    assert [r.data["reason"] for r in off] == ["pulled out in a fall"]
    exposures = [r.data for r in result.records if r.kind == "taser_exposure"]
    assert [x["ended_by"] for x in exposures] == ["cycle_end", "probe_detached"]
    assert exposures[1]["duration_s"] == pytest.approx(0.8, abs=0.02)
