"""The demo end to end: emulated replicas on ptys, PyBullet, engine, scorer, files on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.officer import find_officer
from drills.schema import find_drill
from physics.body import Region
from physics.taser import ProbeImpact, assess
from range.cli.main import main
from range.runs.drill import RunConfig, RunResult, Session, run_drill
from range.runs.runlog import read_events
from scoring.policy import default_policy
from scoring.score import score_run


def demo(seed: int, runs_dir: Path) -> RunResult:
    config = RunConfig(
        find_drill("knife-approach-v1"), find_officer("taser-first-v1"), seed, runs_dir=runs_dir
    )
    return run_drill(config)


def _incapacitated(result: RunResult) -> bool:
    return any(r.kind == "incapacitation_started" for r in result.records)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, RunResult]:
    """The first seed whose TASER incapacitates and the first whose TASER fails: the demo for
    both branches, whatever physics changes move each seed's probes."""
    root = tmp_path_factory.mktemp("runs")
    found: dict[bool, RunResult] = {}
    for seed in range(1, 30):
        result = demo(seed, root)
        found.setdefault(_incapacitated(result), result)
        if len(found) == 2:
            return {r.config.seed: r for r in found.values()}
    raise AssertionError(f"30 seeds all ended the same way: incapacitated={list(found)}")


def probe_impact(record: dict) -> ProbeImpact:
    return ProbeImpact(
        record["probe"],
        record["target"],
        None if record["region"] is None else Region(record["region"]),
        tuple(record["point"]),
        record["time_of_flight_s"],
        record["clothing_gap_in"],
    )


@pytest.mark.parametrize("branch", [0, 1])
def test_outcome_follows_from_the_physics(runs: dict[int, RunResult], branch: int) -> None:
    result = list(runs.values())[branch]
    records = result.records
    deployments = [r for r in records if r.kind == "probe_impacts"]
    assert deployments, "the officer fired no TASER"
    full = False
    for d in deployments:
        impacts = [probe_impact(i) for i in d.data["impacts"]]
        again = assess(impacts, d.data["subject"] or "")
        assert again.effect.value == d.data["effect"]
        full = full or again.effect.value == "full_incapacitation"
    incapacitated = any(r.kind == "incapacitation_started" for r in records)
    assert incapacitated == full
    phases = [r.data["phase"] for r in records if r.kind == "phase_entered"]
    shots_on_subject = [
        r for r in records if r.kind == "bullet_impact" and r.data["target"] == "subject"
    ]
    if full:
        assert "controlled" in phases and phases[-1] == "in_custody"
        assert result.score.rounds_fired == 0
    else:
        assert "charge" in phases, "the TASER failed, so the subject charges"
        assert result.score.rounds_fired >= 1
        assert (phases[-1] == "down") == bool(shots_on_subject)
    # The scorer's account matches the log it was given.
    fired = [
        r for r in records if r.kind == "officer_action" and r.data["action"].endswith("_fired")
    ]
    assert result.score.less_lethal_first == (fired[0].data["action"] == "taser_fired")
    assert result.score.rounds_fired == sum(r.data["action"] == "firearm_fired" for r in fired)
    hit_regions = sorted(h.region for h in result.score.hits if h.weapon == "taser")
    logged = sorted(i["region"] for d in deployments for i in d.data["impacts"] if i["region"])
    assert hit_regions == logged


def test_the_same_seed_writes_an_identical_event_log(
    runs: dict[int, RunResult], tmp_path: Path
) -> None:
    first = next(iter(runs.values()))
    again = demo(first.config.seed, tmp_path)
    assert first.run_dir is not None and again.run_dir is not None
    assert (again.run_dir / "events.jsonl").read_bytes() == (
        first.run_dir / "events.jsonl"
    ).read_bytes()


@pytest.mark.parametrize("branch", [0, 1])
def test_rescoring_the_saved_log_reproduces_the_score(
    runs: dict[int, RunResult], branch: int
) -> None:
    run_dir = list(runs.values())[branch].run_dir
    assert run_dir is not None
    saved = json.loads((run_dir / "result.json").read_text())
    rescored = score_run(read_events(run_dir), default_policy())
    assert rescored.as_json() == saved["score"]


def test_cli_demo_prints_a_scored_summary_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--seed", "2", "--runs-dir", str(tmp_path), "--progress", "always"]) == 0
    out, err = capsys.readouterr()
    assert "Decision:" in out and "Less-lethal first:" in out and "Reaction time:" in out
    assert "knife-approach-v1 seed 2 [" in err  # the progress bar
    assert main(["demo", "--seed", "2", "--no-save", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seed"] == 2 and result["drill"] == "knife-approach-v1"
    (run_dir,) = tmp_path.iterdir()
    assert json.loads((run_dir / "result.json").read_text())["score"] == result["score"]
    assert main(["score", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == result["score"]


def test_a_crash_cut_last_line_is_dropped_not_fatal(
    runs: dict[int, RunResult], tmp_path: Path
) -> None:
    run_dir = next(iter(runs.values())).run_dir
    assert run_dir is not None
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    (tmp_path / "events.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    assert len(read_events(tmp_path)) == len(lines) - 1


FAULT_KINDS = ("run_suspended", "run_resumed", "device_reattached")


def test_an_unplugged_taser_suspends_the_drill_and_loses_nothing(
    runs: dict[int, RunResult], tmp_path: Path
) -> None:
    """Pull the TASER's cable 1 s into the drill and plug it back in: the drill suspends with its
    clock frozen, finds the replica again by serial number, resumes, and ends with the very log
    of the run that was never interrupted, plus the records of the fault."""
    reference = next(r for r in runs.values() if _incapacitated(r))
    config = RunConfig(
        find_drill("knife-approach-v1"),
        find_officer("taser-first-v1"),
        reference.config.seed,
        runs_dir=tmp_path,
        unplug_taser_at_s=1.0,
        replug_after_s=0.3,
    )
    session = Session(config)
    faulted = session.run()
    kinds = [r.kind for r in faulted.records]
    assert (
        kinds.index("run_suspended") < kinds.index("device_reattached") < kinds.index("run_resumed")
    )
    suspended = next(r for r in faulted.records if r.kind == "run_suspended")
    assert suspended.t == 1.0 and "SIM-TASER-0001" in suspended.data["reason"]
    # Outputs safe while suspended: the replica still connected was told to turn its laser off.
    assert session.replicas[1].emulator.commands_received["LASER"] == 1
    clean = [r for r in faulted.records if r.kind not in FAULT_KINDS]
    assert clean == reference.records
    assert faulted.score.as_json() == reference.score.as_json()


def test_a_shot_fired_while_tracking_is_lost_is_untracked_not_a_miss(tmp_path: Path) -> None:
    """The weapon's tracker is occluded for the whole drill: every trigger pull is recorded,
    none is flown, and none is scored as a miss or a hit."""
    config = RunConfig(
        find_drill("active-shooter-v1"),
        find_officer("active-shooter-correct-v1"),
        1,
        tracking_lost=(0.0, 60.0),
    )
    result = run_drill(config)
    fired = [
        r
        for r in result.records
        if r.kind == "officer_action" and r.data["action"] == "firearm_fired"
    ]
    untracked = [r for r in result.records if r.kind == "untracked_shot"]
    assert fired and len(untracked) == len(fired)
    assert all(not r.data["muzzle"]["tracked"] for r in fired)
    assert not any(r.kind == "bullet_impact" for r in result.records)
    assert not any(f.rule == "HIT-01" for f in result.score.findings)


def test_incapacitation_starts_when_the_second_probe_arrives(runs: dict[int, RunResult]) -> None:
    """Issue 14 item 4: not at the trigger. The lock-up starts the second connected probe's
    time of flight after the TASER fired."""
    records = next(r for r in runs.values() if _incapacitated(r)).records
    started = next(r for r in records if r.kind == "incapacitation_started")
    fired = [
        r
        for r in records
        if r.kind == "officer_action" and r.data["action"] == "taser_fired" and r.t <= started.t
    ][-1]
    deployment = next(
        r
        for r in records
        if r.kind == "probe_impacts" and r.data["effect"] == "full_incapacitation"
    )
    impacts = [probe_impact(i) for i in deployment.data["impacts"]]
    onset = assess(impacts, deployment.data["subject"]).onset_s
    assert onset is not None and onset > 0.02
    # It starts at the first engine step at or after the arrival (the log stays in time order):
    # no earlier than the arrival (10 us of rounding), and within one step of it.
    dt = records[0].data["dt_s"]
    assert fired.t + onset - 1e-5 <= started.t < fired.t + onset + dt + 1e-6
    assert deployment.t == pytest.approx(fired.t)  # the deployment itself: at the trigger
