"""Rounds in a drill go through what they hit (physics.penetration): through a torso into a
bystander behind, through a car door into the driver; the log keeps each strike's material and
residual speed, and the scorer keeps a bystander struck by a round through the subject
critical. A drill's scene objects carry a material and a role (cover | concealment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.log import LogRecord
from drills.officer import OfficerScript, find_officer
from drills.schema import builtin_drills, parse_drill
from physics.ballistics import load
from physics.datafiles import DataFileError, parse_model
from physics.penetration import exit_speed_mps, material
from range.runs.drill import RunConfig, RunResult, run_drill
from scoring.policy import default_policy
from scoring.score import score_run

FIRE_AT = """
id = "fires-v1"
version = 1
description = "draws and fires one round at the subject's belly"
[[steps]]
at_s = 0.2
do = "draw_firearm"
[[steps]]
after_s = 0.3
do = "aim"
subject = "gunman"
region = "abdomen"
[[steps]]
after_s = 0.3
do = "fire"
subject = "gunman"
"""

PHASES = """
[[phases]]
id = "threat"
subject = "gunman"
behaviour = "deadly_threat"
held_object = "handgun"
[[phases.transitions]]
to = "down"
on = "hit"
[[phases.transitions]]
to = "down"
after_s = 4.0

[[phases]]
id = "down"
subject = "gunman"
behaviour = "incapacitated"
ends_drill = true
"""


def drill_text(scene: str, subjects: str) -> str:
    return f"""
id = "penetration-test-v1"
version = 1
title = "t"
rationale = "r"
expected_response = "e"
time_limit_s = 5.0
{scene}
[[subjects]]
id = "gunman"
start_distance_ft = 15.0
start_phase = "threat"
{subjects}
{PHASES}
"""


def run(text: str, seed: int = 0, firearm_load: str = "9mm-124") -> RunResult:
    drill = parse_drill(text, "penetration-test-v1.toml")
    officer = parse_model(FIRE_AT, OfficerScript, "fires-v1.toml")
    return run_drill(RunConfig(drill, officer, seed, firearm_load=firearm_load))


def shots(result: RunResult) -> list[dict[str, object]]:
    return [
        {"kind": r.kind, **r.data}
        for r in result.records
        if r.kind in ("bullet_impact", "bullet_strike")
    ]


BYSTANDER_1M_BEHIND = """
[[subjects]]
id = "passer"
role = "bystander"
start_distance_ft = 18.28   # 1 m behind the gunman, on the line of fire
start_phase = "stands"
[[phases]]
id = "stands"
subject = "passer"
behaviour = "compliant"
"""


def test_a_round_through_the_subjects_torso_strikes_a_bystander_1_m_behind() -> None:
    result = run(drill_text("", BYSTANDER_1M_BEHIND))
    first, *after = shots(result)
    assert first["kind"] == "bullet_impact" and first["target"] == "gunman"
    assert first["material"] == "soft_tissue"
    # 124 gr at ~340 m/s carries 15 in of gel; the torso costs its thickness: it leaves at
    # v sqrt(1 - G/P(v)), as the penetration model says.
    bullet = load("9mm-124")
    v_in, crossed = float(first["velocity_mps"]), float(first["thickness_in"])  # type: ignore[arg-type]
    assert 6.0 < crossed < 14.0
    assert first["exit_mps"] == pytest.approx(
        exit_speed_mps(bullet, v_in, material("soft_tissue").gel_in(crossed)), abs=0.01
    )
    assert float(first["exit_mps"]) > 100.0  # type: ignore[arg-type]
    struck = [s for s in after if s["target"] == "passer"]
    assert struck, after
    assert struck[0]["kind"] == "bullet_strike" and struck[0]["strike"] == 1
    assert struck[0]["material"] == "soft_tissue"
    assert 0.0 < float(struck[0]["velocity_mps"]) < float(first["exit_mps"])  # type: ignore[arg-type]
    # The scorer: the gunman was hit, and a bystander struck through him is still critical.
    rules = {(f.rule, f.kind.value) for f in result.score.findings}
    assert ("DECISION-02", "critical") in rules
    assert not result.score.passed


def test_a_round_that_stops_in_the_torso_strikes_nobody_behind() -> None:
    # The same shot with a target 0.4 m thick of plywood in front: what is left of the round
    # stops in the torso (the exit energy does not allow the bystander strike).
    scene = """
[[scene.cover]]
name = "crate"
x_ft = 13.0
width_ft = 3.0
depth_ft = 0.25
height_ft = 4.5
material = "wood"
role = "concealment"
"""
    result = run(drill_text(scene, BYSTANDER_1M_BEHIND))
    records = shots(result)
    assert records[0]["target"] == "crate" and float(records[0]["exit_mps"]) > 0.0  # type: ignore[arg-type]
    assert records[1]["target"] == "gunman" and records[1]["exit_mps"] == 0.0
    assert all(r["target"] != "passer" for r in records)
    assert "DECISION-02" not in {f.rule for f in result.score.findings}


CAR_DOOR = """
[[scene.cover]]
name = "driver door"
x_ft = 14.0
width_ft = 4.0
depth_ft = 0.33          # a 4 in door: two steel skins and trim
height_ft = 4.5
material = "car_door"
role = "concealment"
officer_cover = false
"""


def test_a_9mm_round_through_a_car_door_in_a_drill_hits_the_driver() -> None:
    result = run(drill_text(CAR_DOOR, ""))
    door, driver, *_ = shots(result)
    assert door["kind"] == "bullet_impact" and door["target"] == "driver door"
    assert door["material"] == "car_door" and door["role"] == "concealment"
    assert 0.0 < float(door["exit_mps"]) < float(door["velocity_mps"])  # type: ignore[arg-type]
    assert driver["kind"] == "bullet_strike" and driver["target"] == "gunman"
    assert driver["material"] == "soft_tissue"
    assert float(driver["velocity_mps"]) < float(door["exit_mps"])  # type: ignore[arg-type]
    # The hit counts as one (the drill ends on it), and the door is not called a miss.
    assert result.end_reason == "gunman reached down"
    findings = [f for f in result.score.findings if f.rule == "HIT-01"]
    assert findings and all(f.kind.value == "info" for f in findings)


def test_an_engine_block_marked_cover_stops_the_round() -> None:
    scene = CAR_DOOR.replace('"driver door"', '"engine"').replace("0.33", "1.5")
    scene = scene.replace('"car_door"', '"engine_block"').replace('"concealment"', '"cover"')
    result = run(drill_text(scene, ""))
    records = shots(result)
    assert len(records) == 1
    assert records[0]["target"] == "engine" and records[0]["exit_mps"] == 0.0
    assert records[0]["role"] == "cover"


def test_a_scene_object_marked_cover_must_stop_handgun_rounds() -> None:
    with pytest.raises(DataFileError) as caught:
        parse_drill(drill_text(CAR_DOOR.replace('"concealment"', '"cover"'), ""), "d.toml")
    text = str(caught.value)
    assert "scene.cover[0].role" in text and "mark it role = 'concealment'" in text
    assert "9mm-124" in text
    with pytest.raises(DataFileError) as caught:
        parse_drill(drill_text(CAR_DOOR.replace('"car_door"', '"cardboard"'), ""), "d.toml")
    assert "scene.cover[0].material" in str(caught.value) and "car_door" in str(caught.value)


def test_scoring_credits_cover_only_for_role_cover() -> None:
    drill = builtin_drills()["traffic-stop-handgun-v1"]
    result = run_drill(RunConfig(drill, find_officer("traffic-stop-handgun-correct-v1"), 0))
    credits = [f for f in result.score.findings if f.rule == "COVER-01"]
    assert credits and credits[0].kind.value == "credit"
    # The same log with the concrete barrier marked concealment: no cover credit is given.
    records = [
        LogRecord(
            r.t,
            r.kind,
            {**r.data, "cover": [{**c, "role": "concealment"} for c in r.data["cover"]]}
            if r.kind == "run_started"
            else r.data,
        )
        for r in result.records
    ]
    rescored = score_run(records, default_policy())
    assert not [f for f in rescored.findings if f.rule == "COVER-01" and f.kind.value == "credit"]


def test_built_in_drills_keep_their_cover_as_cover() -> None:
    for drill in builtin_drills().values():
        for cover in drill.scene.cover:
            # Concrete, or an engine block's own material (talk-down-cover-v1's patrol car, m20c).
            material = "engine_block" if "engine block" in cover.name else "concrete"
            assert cover.role == "cover" and cover.material == material, (drill.id, cover)


CAR_PROP = """
[scene]
# The car side-on to the officer (bonnet to his right): its front doors face him, the gunman
# stands in the cabin behind the driver's door.
props = [{ kind = "car", name = "car", x_ft = 16.0, y_ft = -2.0, yaw_deg = 90.0 }]
"""


def test_a_9mm_round_through_the_car_props_door_hits_the_man_inside() -> None:
    text = drill_text(CAR_PROP, "").replace("start_distance_ft = 15.0", "start_distance_ft = 14.7")
    drill = parse_drill(text, "car-door-v1.toml")
    officer = parse_model(FIRE_AT.replace('"abdomen"', '"leg"'), OfficerScript, "f.toml")
    result = run_drill(RunConfig(drill, officer, 0))
    door, man, *_ = shots(result)
    assert door["target"] == "concealment:car/door_fl" and door["material"] == "car_door"
    assert door["role"] == "concealment"
    # Two 20 ga skins 3.2 in apart cost 3 in of gel: 348 m/s in, 310 m/s out.
    assert float(door["thickness_in"]) == pytest.approx(3.2, abs=0.05)  # type: ignore[arg-type]
    bullet = load("9mm-124")
    v_in = float(door["velocity_mps"])  # type: ignore[arg-type]
    assert door["exit_mps"] == pytest.approx(
        exit_speed_mps(bullet, v_in, material("car_door").gel_in(3.2)), abs=0.5
    )
    assert man["kind"] == "bullet_strike" and man["target"] == "gunman"
    assert result.end_reason == "gunman reached down"


def test_a_prop_cars_engine_block_and_wheels_still_stop_rounds() -> None:
    from physics.props import penetration_material, prop_parts

    parts = {p.name: penetration_material(p) for p in prop_parts("car", "car", 0.0, 0.0)}
    assert parts["engine_block"] == parts["wheel_fl"] == parts["bonnet"] == "backstop"
    assert parts["door_fl"] == "car_door" and parts["windscreen"] == "glass"
    room = {p.name: penetration_material(p) for p in prop_parts("room", "r", 0.0, 0.0)}
    assert room["far_wall"] == "drywall"


def test_the_report_reviews_a_round_that_went_on_to_a_bystander(tmp_path: Path) -> None:
    from range.review.report import write_report

    drill = parse_drill(drill_text("", BYSTANDER_1M_BEHIND), "penetration-test-v1.toml")
    officer = parse_model(FIRE_AT, OfficerScript, "fires-v1.toml")
    result = run_drill(RunConfig(drill, officer, 0, runs_dir=tmp_path))
    assert result.run_dir is not None
    page = write_report(result.run_dir).read_text(encoding="utf-8")
    assert "DECISION-02" in page and "struck bystander passer" in page
