"""nu20 (an armorer and an officer, live drills with emulated replicas): the live runs' results
and what the records show. Hand-built logs and in-process CLI calls where they suffice."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from test_rules import end, phase, rec, start, taser
from xr_sandbox import EmulatedReplicas

from drills.engine import RunState
from drills.schema import parse_drill_bytes
from physics.pose import Pose, look_rotation
from range.cli.main import main
from range.clock import MonotonicClock
from range.runs.drill import LiveDrill, RunConfig, RunResult, Session
from scoring.policy import default_policy
from scoring.score import Kind, score_run


def _unheard(why: str | None) -> list:  # type: ignore[type-arg]
    started = start()[0]
    data = dict(started.data)
    if why is not None:
        data["officer_unheard"] = why
    return [
        rec(0.0, "run_started", **data),
        phase(0, "active_resistance", "knife"),
        taser(3.0),
        end(4),
    ]


def test_a_live_run_that_could_not_hear_the_officer_leaves_the_verbal_rules_not_judged() -> None:
    """nu20 #1: with audio off the log says the officer could not be heard, and why; the
    score then faults no missing words (VERBAL-01 -10 read as if the officer said nothing) and
    says what it could not judge. The same log without the field scores as it always did."""
    why = "audio is off: PortAudio is not installed"
    score = score_run(_unheard(why), default_policy())
    verbal = [f for f in score.findings if f.rule in ("VERBAL-01", "CEW-02")]
    assert verbal and all(f.kind is Kind.INFO and f.points == 0 for f in verbal)
    assert all(f.message.endswith("not judged, the officer could not be heard") for f in verbal)
    assert [line for line in score.not_judged if "could not be heard" in line] == [
        f"the officer could not be heard ({why}): verbal commands, warnings, identification and a"
        " silent talk-down (CEW-02, DEESC-04, VERBAL-01, VERBAL-02, VERBAL-03) not judged as"
        " missing; only an instructor's marks are credited"
    ]
    assert any(f.rule == "RESCORE-01" and why in f.message for f in score.findings)
    # Rescoring an older log (no `officer_unheard`) is unchanged: the finding stands.
    old = score_run(_unheard(None), default_policy())
    assert [f.kind for f in old.findings if f.rule == "VERBAL-01"] == [Kind.FINDING]
    assert not any("could not be heard" in line for line in old.not_judged)
    assert old.score == score.score - 10 - 5


def test_a_talk_down_the_officer_could_not_be_heard_in_is_not_faulted_as_silent() -> None:
    """nu21 #2's DEESC-04 faults an officer who said nothing to the time limit; where nobody
    could hear the officer (nu20 #1's `officer_unheard`), silence is not known, so it is
    information, as the verbal rules are."""
    started = start()[0]
    talk_down = [phase(0, "passive_resistance", "knife"), end(30, "time limit")]
    heard = score_run([started, *talk_down], default_policy())
    assert [f.kind for f in heard.findings if f.rule == "DEESC-04"] == [Kind.FINDING]
    unheard = rec(0.0, "run_started", **{**started.data, "officer_unheard": "audio is off"})
    score = score_run([unheard, *talk_down], default_policy())
    ((found,),) = [[f for f in score.findings if f.rule == "DEESC-04"]]
    assert found.kind is Kind.INFO and found.points == 0
    assert found.message.endswith("not judged, the officer could not be heard")


STILL_DRILL = """\
id = "still-v1"
version = 1
title = "Still"
rationale = "A subject stands still."
expected_response = "none"
time_limit_s = 1.0

[[subjects]]
id = "s"
start_distance_ft = 20.0
start_phase = "stand"

[[phases]]
id = "stand"
subject = "s"
behaviour = "compliant"
[[phases.transitions]]
to = "done"
after_s = 0.3

[[phases]]
id = "done"
subject = "s"
behaviour = "compliant"
ends_drill = true
"""


class _Still:
    """The officer's head and weapon, held still."""

    def __init__(self, clock: MonotonicClock) -> None:
        self.clock = clock

    def pose(self, device: str, t: float) -> Pose:
        return Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, 0.0)), t)

    def update(self) -> dict[str, Pose]:
        now = self.clock.now_s()
        return {"aim": self.pose("weapon", now), "head": self.pose("head", now)}


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[EmulatedReplicas]:
    lane = EmulatedReplicas(MonotonicClock(), tmp_path / "ports")
    try:
        yield lane
    finally:
        lane.stop()


def test_a_live_lane_without_a_weapon_the_drill_issues_is_refused_unless_left_out(
    replicas: EmulatedReplicas, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu20 #5: a TASER-failure drill on a pistol-only lane ran with no TASER, its log quietly
    narrowed to the firearm. Now the run is refused, naming the weapon and both ways on; the
    range master's `--without taser` plays it and the log says the TASER was left out."""
    taser_port, pistol_port = replicas.ports
    args = ["drill", "run", "taser-failure-v1", "--live", "--officer", "4411", "--no-save"]
    assert main([*args, "--port", pistol_port]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "openrange: drill taser-failure-v1 issues the taser, but the lane has no replica for it"
        " (the lane's replicas: P-0042 (firearm)): add its port (--port or the lane file), or"
        " run the drill without it: --without taser (logged with the run)"
    )
    # --without names a weapon the lane lacks, never one plugged in; and only with --live.
    assert main([*args, "--port", taser_port, "--port", pistol_port, "--without", "taser"]) == 2
    assert "--without taser: the lane has a taser replica (T7-0007)" in capsys.readouterr().err
    assert main(["drill", "run", "taser-failure-v1", "--no-save", "--without", "taser"]) == 2
    assert "--without is for a live drill" in capsys.readouterr().err

    drill = parse_drill_bytes(STILL_DRILL.encode(), tmp_path / "still-v1.toml")
    source = _Still(replicas.clock)

    # rc21 #5: a weapon given twice to --without is refused, before anything is opened.
    twice = [*args, "--port", pistol_port, "--without", "taser", "--without", "taser"]
    assert main(twice) == 2
    assert "--without taser is given twice" in capsys.readouterr().err

    def run(without: tuple[str, ...]) -> RunResult:
        live = LiveDrill(
            [pistol_port],
            lambda stack: source,
            replicas.clock,
            search=[replicas.folder],
            without=without,
        )
        config = RunConfig(
            drill, None, 3, override_by="test", live=live, runs_dir=tmp_path / "runs"
        )
        return Session(config).run()

    with pytest.raises(ValueError, match="issues the taser, but the lane has no replica"):
        run(())
    result = run(("taser",))
    started = result.records[0].data
    assert started["weapons"] == ["firearm"] and started["weapons_left_out"] == ["taser"]
    # rc21 #5: and every reader of the score says so, not only the raw log.
    import json

    from range.cli.summary import format_summary
    from range.records.store import Records
    from range.review.report import write_report

    said = "Left out:          taser (--without, by the range master)"
    assert said in format_summary(result).splitlines()
    run_dir = result.run_dir
    assert run_dir is not None
    assert main(["score", str(run_dir)]) == 0
    assert said in capsys.readouterr().out.splitlines()
    assert main(["score", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weapons_left_out"] == ["taser"]
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "Left out: taser (--without, by the range master)" in page
    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        records.add_drill_run("4411", result.as_json())
    assert main(["records", "show", "--drill-run", "1", "--db", url]) == 0
    assert "  Left out: taser (--without, by the range master)\n" in capsys.readouterr().out
    assert main(["records", "show", "--drill-run", "1", "--db", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weapons_left_out"] == ["taser"]
    # l24 item 5: the drill-run CSV and history --json say it too.
    import csv

    csv_file = tmp_path / "runs.csv"
    export = ["records", "export", "--format", "csv", "--drill-runs", "--db", url]
    assert main([*export, "--out", str(csv_file)]) == 0
    (row,) = csv.DictReader(csv_file.open(encoding="utf-8"))
    assert row["weapons_left_out"] == "taser"
    assert row["uncalibrated"] == "P-0042: never calibrated; used on the override of test"
    assert main(["records", "history", "4411", "--db", url, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["drill_runs"]
    assert listed["weapons_left_out"] == ["taser"]


def test_a_lane_file_cannot_turn_the_calibration_gate_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu20 #10: `calibration.required = false` read as turning the gate off, but a lane is for
    live runs, which are always gated: it did nothing, silently. Now it is refused by file,
    line and field, saying how an uncalibrated replica may run; `true` is still taken."""
    lane = tmp_path / "laneU.toml"
    lane.write_text(
        'version = 1\nname = "Lane U"\nports = ["/dev/ttyACM0"]\n[calibration]\nrequired = false\n'
    )
    args = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411", "--no-save"]
    assert main([*args, "--lane", str(lane)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"openrange: {lane}:5: calibration.required: false cannot turn the gate")
    assert "--override NAME" in err.splitlines()[0] and "Traceback" not in err
    assert main(["course", "run", "fbi-pistol-2019-v1", "--lane", str(lane)]) == 2
    assert f"{lane}:5: calibration.required: false" in capsys.readouterr().err
    lane.write_text(lane.read_text().replace("false", "true"))
    assert main([*args, "--lane", str(lane)]) == 2
    assert "calibration.required" not in capsys.readouterr().err  # the missing port only


def test_a_run_that_ended_not_graded_has_its_own_exit_status(
    replicas: EmulatedReplicas, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu20 #12: a live run whose replica was lost for good (`Run: faulted ...`, `Score:
    INCOMPLETE ... not graded`) exited 0, as a graded run does. A run that ends with no grade
    now exits 11 (README "Exit statuses"); a graded one 0, Ctrl-C 130."""
    from range.cli.drill import NOT_GRADED_STATUS, graded_status

    drill = parse_drill_bytes(
        STILL_DRILL.replace("after_s = 0.3", "after_s = 3.0")
        .replace("time_limit_s = 1.0", "time_limit_s = 4.0")
        .encode(),
        tmp_path / "still.toml",
    )
    source = _Still(replicas.clock)
    live = LiveDrill(
        list(replicas.ports), lambda stack: source, replicas.clock, search=[replicas.folder]
    )
    config = RunConfig(drill, None, 3, override_by="test", live=live, fault_after_s=0.5)

    def pull_for_good(session: Session) -> None:
        if session.engine.t >= 0.2 and replicas.taser.port is not None:
            replicas.taser.stop_free_running()
            replicas.taser.stop()  # the cable out, and it never comes back

    faulted = Session(replace(config, on_frame=pull_for_good)).run()
    assert faulted.state is RunState.FAULTED and faulted.score.incomplete
    assert graded_status(faulted) == NOT_GRADED_STATUS == 11
    # The command line's own path: an empathy scene whose debrief went unanswered is not
    # graded either; one answered is graded, 0.
    argv = ["drill", "run", "empathy-crisis-voices-v1", "--seed", "1", "--no-save"]
    assert main([*argv, "--sound", "off"]) == 11
    assert "INCOMPLETE" in capsys.readouterr().out


def test_a_run_kept_in_no_record_says_so_and_the_officers_help_says_what_add_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu20 #14: `--officer 4411` looks like a badge but keeps no record, and the summary
    ended at its files with no word of that. Now it ends saying the run is not kept and how to
    keep one; `records officers --help` says --add needs --name and --agency."""
    args = ["drill", "run", "phone-draw-v1", "--seed", "1", "--runs-dir", str(tmp_path / "runs")]
    assert main([*args, "--officer", "4411"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == (
        "Not kept in the records (no --badge): keep an officer's runs with --badge BADGE"
        " (once: openrange records officers --add BADGE --name NAME --agency AGENCY)"
    )
    assert main(args) == 0  # a scripted officer's run: nothing to say of the records
    assert "Not kept in the records" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["records", "officers", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "add this badge number (a new one); needs --name and --agency" in text
    assert "the officer's agency (required with --add)" in text


def test_a_run_on_an_uncalibrated_replica_says_so_wherever_it_is_shown(
    replicas: EmulatedReplicas, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu20 #6: a drill run that used an uncalibrated replica on a range master's override
    looked exactly like a calibrated one everywhere but its log. Now its result, its summary,
    `score` (text and --json) and the report say so."""
    import json

    from range.cli.summary import format_summary
    from range.review.report import write_report

    drill = parse_drill_bytes(STILL_DRILL.encode(), tmp_path / "still-v1.toml")
    source = _Still(replicas.clock)
    (tmp_path / "profiles").mkdir()
    live = LiveDrill(
        list(replicas.ports), lambda stack: source, replicas.clock, search=[replicas.folder]
    )
    config = RunConfig(
        drill,
        None,
        3,
        override_by="RM Lee",
        calibration_dir=tmp_path / "profiles",
        runs_dir=tmp_path / "runs",
        live=live,
    )
    result = Session(config).run()
    run_dir = result.run_dir
    assert run_dir is not None
    said = [
        "T7-0007: never calibrated; used on the override of RM Lee",
        "P-0042: never calibrated; used on the override of RM Lee",
    ]
    kept = json.loads((run_dir / "result.json").read_text())
    assert kept["calibration_override_by"] == "RM Lee"
    assert [f"{c['serial']}: {c['reason']}" for c in kept["calibration"]] == said
    summary = format_summary(result).splitlines()
    assert [line for line in summary if line.startswith("UNCALIBRATED:")] == [
        f"UNCALIBRATED:      {s}" for s in said
    ]
    assert main(["score", str(run_dir)]) == 0
    assert f"UNCALIBRATED:      {said[0]}" in capsys.readouterr().out
    assert main(["score", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["uncalibrated"] == said
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert f"UNCALIBRATED: {said[0]}" in page
    # The records: show (text and --json), history and the drill-run CSV.
    from range.records.store import Records

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        records.add_drill_run("4411", result.as_json())
    assert main(["records", "show", "--drill-run", "1", "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"  UNCALIBRATED: {said[0]}\n  UNCALIBRATED: {said[1]}\n" in out
    assert main(["records", "show", "--drill-run", "1", "--db", url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["uncalibrated"] == said
    assert shown["result"]["calibration_override_by"] == "RM Lee"
    assert main(["records", "history", "4411", "--db", url]) == 0
    assert "(UNCALIBRATED replica, on an override)" in capsys.readouterr().out
    csv_file = tmp_path / "runs.csv"
    export = ["records", "export", "--format", "csv", "--drill-runs", "--db", url]
    assert main([*export, "--out", str(csv_file)]) == 0
    import csv

    (row,) = csv.DictReader(csv_file.open(encoding="utf-8"))
    assert row["uncalibrated"] == "; ".join(said)
    # Its log edited since it was recorded: `records show` says so, not only `verify`.
    log = run_dir / "events.jsonl"
    log.write_text(log.read_text().replace('"RM Lee"', '"RM Lea"'))
    assert main(["records", "show", "--drill-run", "1", "--db", url]) == 0
    assert f"  WARNING: its log {log} no longer matches the sha256" in capsys.readouterr().out
    assert main(["records", "show", "--drill-run", "1", "--db", url, "--json"]) == 0
    assert "no longer matches" in json.loads(capsys.readouterr().out)["log_edited"]


def test_every_drill_run_is_dated_when_it_started(tmp_path: Path) -> None:
    """nu20 #13: a drill run recorded as it ended was dated at its end, one closed after a
    crash at its start; docs/records.md says "dated when it started". Now a run registered as
    it starts is dated by that registration, and a console lane's run by the start its result
    carries (kept in the lane's mark of the folder, so a cut-short one too)."""
    import sqlite3

    from range.console.lane import mark_lane_run, marked_start
    from range.records.store import Records

    db = tmp_path / "records.sqlite"
    url = f"sqlite:///{db}"
    result = score_run(_unheard(None), default_policy()).as_json()
    kept = {"drill": "hand-built-v1", "seed": 1, "openrange_version": "x", "score": result}
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        number = records.begin_drill_run("4411", "hand-built-v1", 1, "x", "live")
    began = "2026-12-01T22:20:26+00:00"  # the run started 12 s before it faulted and was kept
    with sqlite3.connect(db) as con:
        con.execute("UPDATE drill_runs_in_progress SET started = ? WHERE id = ?", (began, number))
    with Records.open(url) as records:
        first = records.add_drill_run("4411", kept, in_progress=number)
        # A console lane's run: its result says when it started.
        second = records.add_drill_run("4411", kept | {"started": "2026-12-01T22:18:28+00:00"})
        # A start that is not UTC ISO is not taken: dated now.
        third = records.add_drill_run("4411", kept | {"started": "yesterday"})
        dates = [records.drill_run(n)["recorded"] for n in (first, second, third)]
    assert dates[:2] == [began, "2026-12-01T22:18:28+00:00"]
    assert dates[2] > began
    folder = tmp_path / "run"
    folder.mkdir()
    started = mark_lane_run(folder, "LANE1")
    assert marked_start(folder) == started and started.endswith("+00:00")
