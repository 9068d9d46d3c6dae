"""Issue 13's leftovers: preferred and avoided CEW target zones as agency policy settings, and the
drive-stun as a scripted officer act the engine logs as its own record and the policy judges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_rules import cycle, end, phase, probes, rec, say, start, taser
from test_taser_cycles import DRILL, advance, kinds

from drills.engine import DrillEngine
from drills.log import LogRecord, MemoryLog
from drills.officer import OfficerScript
from drills.schema import parse_drill
from physics.body import Region
from physics.datafiles import DataFileError
from scoring.policy import Policy, default_policy, load_policy
from scoring.score import Kind, Score, score_run

POLICY = Path(__file__).parents[1] / "scoring" / "data" / "policy-default.toml"


def found(score: Score, rule: str) -> list[tuple[Kind, str]]:
    return [(f.kind, f.message) for f in score.findings if f.rule == rule]


def agency(tmp_path: Path, old: str, new: str) -> Policy:
    text = POLICY.read_text()
    assert text.count(old) == 1
    path = tmp_path / "agency.toml"
    path.write_text(text.replace(old, new))
    return load_policy(path)


def probe_log(region: str, logged_zone: str = "preferred", **attributes: object) -> list[LogRecord]:
    hit = probes(1.0, logged_zone)
    for impact in hit.data["impacts"]:
        impact["region"] = region
    return [
        *start(),
        phase(0, "active_resistance", **attributes),
        say(0.1, "Taser!"),
        taser(1),
        hit,
    ]


def test_the_policy_s_zones_judge_each_probe_by_its_region() -> None:
    # The physics wrote "preferred" but the probe is in the neck: the policy decides.
    neck = found(score_run(probe_log("neck"), default_policy()), "PLACE-01")
    assert neck == [(Kind.FINDING, f"probe {i} in a zone to avoid (neck)") for i in (0, 1)]
    leg = found(score_run(probe_log("leg", "avoid"), default_policy()), "PLACE-01")
    assert [k for k, _ in leg] == [Kind.CREDIT, Kind.CREDIT]
    arm = score_run(probe_log("arm"), default_policy())
    assert found(arm, "PLACE-01") == [] and arm.hits[0].zone == "allowed"


def test_an_agency_may_move_a_region_between_the_lists(tmp_path: Path) -> None:
    policy = agency(
        tmp_path,
        'words = ["head", "face", "neck", "upper_chest", "pelvis_groin"]',
        'words = ["head", "face", "neck", "pelvis_groin"]',
    )
    assert found(score_run(probe_log("upper_chest"), policy), "PLACE-01") == []
    assert [
        k for k, _ in found(score_run(probe_log("upper_chest"), default_policy()), "PLACE-01")
    ] == [
        Kind.FINDING,
        Kind.FINDING,
    ]


def test_a_pregnant_abdomen_is_avoided_whatever_the_lists_say() -> None:
    score = score_run(probe_log("abdomen", pregnant=True), default_policy())
    assert [k for k, _ in found(score, "PLACE-01")] == [Kind.FINDING, Kind.FINDING]
    assert [k for k, _ in found(score_run(probe_log("abdomen"), default_policy()), "PLACE-01")] == [
        Kind.CREDIT,
        Kind.CREDIT,
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"neck", "upper_chest", "pelvis_groin"]',
            '"neck", "chest", "pelvis_groin"]',
            "agency.toml: cew_avoid_zones: 'chest' is not one of head, face, neck,",
        ),
        (
            'words = ["abdomen", "pelvis", "buttocks", "leg", "upper_back", "lower_back"]',
            'words = ["abdomen", "pelvis", "buttocks", "leg", "upper_back", "neck"]',
            "cew_preferred_zones and cew_avoid_zones both name ['neck']",
        ),
        (
            'words = ["assaultive", "deadly"]',
            'words = ["violent"]',
            "drive_stun_threats: 'violent' is not one of none, passive, active, assaultive, deadly",
        ),
        (
            'words = ["command.get_down|command.stop", "command.get_down|command.step_back"]',
            'words = ["get down|stop"]',
            "conflicting_commands: 'get down|stop' is not two command acts joined by '|'",
        ),
    ],
)
def test_a_bad_zone_threat_or_command_pair_is_refused_by_name(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(DataFileError) as caught:
        agency(tmp_path, old, new)
    (problem,) = caught.value.problems
    assert message.removeprefix("agency.toml: ") in problem.message
    # the setting's own row, by its line (issue 12, nu12d item 5)
    assert (
        problem.line is not None
        and new in POLICY.read_text().replace(old, new).splitlines()[problem.line - 1]
    )


def stun(t: float, region: str | None, subject: str | None = "s", distance_m: float = 0.5):  # type: ignore[no-untyped-def]
    return rec(
        t,
        "drive_stun",
        subject=subject,
        serial="T1",
        region=region,
        distance_m=distance_m,
        duration_s=2.0,
    )


def test_a_drive_stun_record_is_judged_for_its_region_and_reach() -> None:
    def log(*records: LogRecord) -> Score:
        return score_run([*start(), phase(0, "assaultive"), *records, end(5)], default_policy())

    neck = log(stun(1.0, "neck"), cycle(1.0, 1, 1, mode="drive_stun"))
    assert found(neck, "PLACE-01") == [(Kind.FINDING, "drive-stun on s in a zone to avoid (neck)")]
    assert found(neck, "CEW-06") == []  # against an assaultive subject: allowed
    assert neck.subjects["s"]["drive_stuns"] == 1 and neck.subjects["s"]["taser_cycles"] == 1
    leg = log(stun(1.0, "leg"), cycle(1.0, 1, 1, mode="drive_stun"))
    assert found(leg, "PLACE-01") == [(Kind.CREDIT, "drive-stun on s in a preferred zone (leg)")]
    missed = log(stun(1.0, "leg", subject=None, distance_m=3.0))
    assert found(missed, "CEW-06") == [
        (Kind.INFO, "drive-stun pressed with nobody within reach (9.8 ft)")
    ]
    assert missed.subjects["s"]["drive_stuns"] == 0


def test_pain_compliance_follows_the_policy_s_drive_stun_threats(tmp_path: Path) -> None:
    log = [*start(), phase(0, "assaultive"), cycle(1.0, 1, 1, mode="drive_stun"), end(5)]
    assert found(score_run(log, default_policy()), "CEW-06") == []
    strict = agency(tmp_path, 'words = ["assaultive", "deadly"]', 'words = ["deadly"]')
    ((kind, message),) = found(score_run(log, strict), "CEW-06")
    assert kind is Kind.FINDING
    assert message == (
        "drive-stun on s (assaultive, threat assaultive): pain compliance (policy: only against"
        " deadly)"
    )


def test_the_engine_logs_a_drive_stun_and_runs_its_cycle_for_the_hold() -> None:
    drill = parse_drill(DRILL, "cycle-test-v1.toml")
    e = DrillEngine(drill, np.random.default_rng(0), MemoryLog(), dt_s=0.1)
    e.start()
    advance(e, 1.0)
    e.drive_stun(Region.LEG, 2.0, serial="T1")  # 10 ft away: out of reach
    assert kinds(e, "drive_stun") == [
        {
            "t": 1.0,
            "subject": None,
            "serial": "T1",
            "region": "leg",
            "distance_m": 3.048,
            "duration_s": 2.0,
        }
    ]
    assert kinds(e, "taser_cycle_started") == []
    e.subjects["s"].position_m = (0.5, 0.0)
    e.drive_stun(Region.LEG, 2.0, serial="T1")
    advance(e, 4.0)
    (started,) = kinds(e, "taser_cycle_started")
    assert (started["mode"], started["subject"], started["t"]) == ("drive_stun", "s", 1.0)
    (exposure,) = kinds(e, "taser_exposure")
    assert (exposure["duration_s"], exposure["ended_by"]) == (pytest.approx(2.0), "cycle_end")
    assert kinds(e, "incapacitation_started") == []  # pain, not incapacitation
    assert e.circuits == {}


def test_a_drive_stun_step_needs_a_region_and_only_it_takes_a_hold() -> None:
    def script(step: str) -> None:
        OfficerScript.model_validate(
            {"id": "x", "version": 1, "description": "d", "steps": [eval(step)]}
        )

    script('{"do": "drive_stun", "region": "leg", "duration_s": 2.0}')
    with pytest.raises(ValueError, match="a drive_stun step needs region"):
        script('{"do": "drive_stun"}')
    with pytest.raises(ValueError, match="duration_s belongs to drive_stun steps only"):
        script('{"do": "fire", "duration_s": 2.0}')


CONTACT_DRILL = """
id = "contact-test-v1"
version = 1
title = "t"
rationale = "r"
expected_response = "e"
time_limit_s = 6.0

[[subjects]]
id = "s"
start_distance_ft = 2.5
start_phase = "grapples"

[[phases]]
id = "grapples"
subject = "s"
behaviour = "assaultive"
[[phases.transitions]]
to = "gives_up"
after_s = 5.0

[[phases]]
id = "gives_up"
subject = "s"
behaviour = "surrendered"
ends_drill = true
"""


def test_a_scripted_drive_stun_runs_through_the_whole_path(tmp_path: Path) -> None:
    """A subject grappling at arm's length (2.5 ft); the scripted officer draws the lane's
    TASER (a model with the mode) and drive-stuns his leg for 2 s: the record, one drive-stun
    cycle of 2 s, and the score counts and places it."""
    from drills.officer import find_officer
    from range.runs.drill import RunConfig, run_drill

    path = tmp_path / "stun.toml"
    path.write_text(
        'id = "stun-test-v1"\nversion = 1\ndescription = "d"\naim_error_mrad = 0.0\n'
        '[[steps]]\nat_s = 0.2\ndo = "draw_taser"\n'
        '[[steps]]\nat_s = 0.5\ndo = "drive_stun"\nregion = "leg"\nduration_s = 2.0\n'
    )
    drill = parse_drill(CONTACT_DRILL, "contact-test-v1.toml")
    result = run_drill(RunConfig(drill, find_officer(str(path)), 3))
    (pressed,) = [r for r in result.records if r.kind == "drive_stun"]
    assert (pressed.data["subject"], pressed.data["region"]) == ("s", "leg")
    assert pressed.data["distance_m"] == pytest.approx(2.5 * 0.3048, abs=1e-3)
    exposures = [r.data for r in result.records if r.kind == "taser_exposure"]
    assert [(x["mode"], x["duration_s"]) for x in exposures] == [
        ("drive_stun", pytest.approx(2.0, abs=0.02))
    ]
    subject = result.score.subjects["s"]
    assert (subject["drive_stuns"], subject["taser_cycles"]) == (1, 1)
    assert subject["taser_exposure_s"] == pytest.approx(2.0, abs=0.02)
    placed = [(f.kind, f.message) for f in result.score.findings if f.rule == "PLACE-01"]
    assert placed == [(Kind.CREDIT, "drive-stun on s in a preferred zone (leg)")]
    assert not [f for f in result.score.findings if f.rule == "CEW-06"]
