"""Issue 18, new-user pass nu18f (defects 2, 5, 7, 8, 9, 10, 13, 15): each test fails without
its fix. In-process where it can be (the console's handlers called directly, the course runner
and the lane in this process); real ptys for the replica that comes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from drills.course import find_course, find_shooter
from drills.log import LogRecord
from range.console.courselane import course_state
from range.runs.course import CourseConfig, run_course

TEMPLATES = Path(__file__).resolve().parent.parent / "range" / "console" / "templates"


@pytest.fixture(scope="module")
def taser_attempt() -> tuple[dict[str, Any], list[LogRecord]]:
    """taser7-practical-v1, seed 5, the qualified shooter: its result and every record."""
    records: list[LogRecord] = []
    config = CourseConfig(find_course("taser7-practical-v1"), find_shooter("qualified"), 5)
    result = run_course(config, on_record=records.append).as_json()
    return result, records


def test_the_live_course_table_scores_taser_deployments_as_the_sheet_does(
    taser_attempt: tuple[dict[str, Any], list[LogRecord]],
) -> None:
    # nu18f #5: every TASER string showed 0 points on the lane page while the attempt sheet
    # gave each effective deployment 1 point and 1 hit.
    result, records = taser_attempt
    state = course_state(find_course("taser7-practical-v1"), records, {})
    by_stage: dict[int, list[int]] = {}
    for row in state["strings"]:
        points_hits = by_stage.setdefault(row["stage"], [0, 0])
        points_hits[0] += row["points"]
        points_hits[1] += row["hits"]
    sheet = result["score"]["stages"]
    assert [by_stage[i + 1] for i in range(len(sheet))] == [[s["points"], s["hits"]] for s in sheet]
    assert state["points"] == result["score"]["points"] > 0


def test_a_taser_course_lists_only_the_taser(
    taser_attempt: tuple[dict[str, Any], list[LogRecord]],
) -> None:
    # nu18f #13: the TASER 7 course's record listed "pistol serial SIM-PISTOL-0001" too.
    result, records = taser_attempt
    assert [d["serial"] for d in result["devices"]] == ["SIM-TASER-0001"]
    started = next(r for r in records if r.kind == "attempt_started")
    assert [d["serial"] for d in started.data["devices"]] == ["SIM-TASER-0001"]
    assert [c["serial"] for c in started.data["calibration"]] == ["SIM-TASER-0001"]


def test_the_runs_table_says_who_stopped_an_aborted_run() -> None:
    # nu18f #10: the runs tables showed "ABORTED" alone (who stopped it only in a tooltip).
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    row = {"id": 7, "badge": "4411", "drill": "knife-approach-v1", "seed": 5, "recorded": "x"}
    html = env.get_template("runs_table.html").render(runs=[row | {"aborted": "aborted by inst1"}])
    assert "ABORTED (aborted by inst1)" in html


def _console_answering(answer: dict[str, Any]) -> Any:
    """A stand-in console on loopback (websockets' own server in a thread) that answers every
    hello with `answer` and closes."""
    import json
    import threading

    from websockets.sync.server import serve

    def handler(ws: Any) -> None:
        ws.recv(timeout=10)
        ws.send(json.dumps(answer))
        if answer["type"] == "attached":
            ws.send(json.dumps({"type": "refused", "reason": "enough"}))

    server = serve(handler, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("accepted", [False, True])
def test_a_lane_says_it_is_connected_only_once_the_console_took_its_hello(
    accepted: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu18f #15: a wrong key printed "lane L0: connected to the console; 0 finished runs
    # offered" before "the console refused lane L0: wrong lane key".
    from range.console.lane import LaneProcess

    answer = {"type": "attached", "lane": "L0"} if accepted else {"type": "refused"}
    server = _console_answering(answer | ({} if accepted else {"reason": "wrong lane key"}))
    try:
        port = server.socket.getsockname()[1]
        lane = LaneProcess("L0", f"127.0.0.1:{port}", "k" * 32, None, retry_s=0.05)
        lane.serve()
    finally:
        server.shutdown()
    out = capsys.readouterr().out
    assert ("lane L0: connected to the console; 0 finished runs offered" in out) is accepted
    assert lane.refused == ("enough" if accepted else "wrong lane key")


def test_a_live_mark_acts_as_the_speech_did_and_is_listed_in_the_debrief(tmp_path: Path) -> None:
    # nu18f #7: a Mark was scored but missing from the debrief's "What the officer said", and
    # did not fire the drill's own "on speech:command.drop_weapon" transition.
    import queue

    from drills.officer import find_officer
    from drills.schema import read_drill_file
    from range.console.lane import LiveControl, replay_control
    from range.console.pages import debrief
    from range.runs.drill import RunConfig, Session, run_drill
    from range.runs.runlog import read_events

    text = (Path(__file__).parent / "data" / "console" / "branch.toml").read_text()
    drill = tmp_path / "spoken.toml"
    drill.write_text(text.replace('instructor = "stop"', 'on = "speech:command.drop_weapon"'))
    commands: queue.Queue[dict[str, Any]] = queue.Queue()
    control = LiveControl(commands, lambda state, events: None, {}, speed=None)
    mark = {"act": "command.drop_weapon", "text": "drop the knife"}

    def on_frame(session: Session) -> None:
        if abs(session.engine.t - 1.0) < 1e-9:
            commands.put({"command": "mark", "by": "inst1", "args": mark})
        control(session)

    def config(runs: Path, hook: Any) -> RunConfig:
        source = read_drill_file(str(drill))
        return RunConfig(
            drill=source.drill,
            drill_file=source,
            officer=find_officer("traffic-stop-compliant-correct-v1"),
            seed=3,
            runs_dir=runs,
            officer_name="B-101",
            on_frame=hook,
        )

    live = Session(config(tmp_path / "live", on_frame)).run()
    assert live.run_dir is not None
    records = read_events(live.run_dir)
    halted = [r for r in records if r.kind == "phase_entered" and r.data["phase"] == "halted"]
    assert [round(r.t, 3) for r in halted] == [1.0]  # the mark took the speech transition
    said = debrief(live.run_dir, render=False)["officer_said"]
    marked = [s for s in said if s["source"] != "recogniser"]
    assert marked == [
        {
            "n": None,
            "m": 1,
            "t": 1.0,
            "when": "1.00 s",  # a mark's moment, as score and the report give it (nu19 #12)
            "heard_t": 1.0,
            "text": "drop the knife",
            "phrase": None,
            "act": "command.drop_weapon",
            "confidence": None,
            "corrected": None,
            "corrected_by": None,
            "audio": False,
            "source": "instructor (inst1, marked live)",
        }
    ]
    # ... and a replay of the log gives the same run.
    again = run_drill(config(tmp_path / "replay", replay_control(records)))
    assert again.run_dir is not None
    strip = [(round(r.t, 6), r.kind, r.data) for r in records]
    assert [(round(r.t, 6), r.kind, r.data) for r in read_events(again.run_dir)] == strip


def test_an_edited_run_log_is_flagged_by_the_debrief_and_records_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu18f #9: a run log edited on the console's disk was rescored without a word, and
    # `records verify` said the chain was intact.
    import json

    from console_support import saved_run

    from range.cli.main import main
    from range.console.pages import drill_run
    from range.records.store import Records

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
    run = saved_run(db, tmp_path / "runs", "4411")
    with Records.open(db) as records:
        row = drill_run(records, run)
        assert row["log_ok"] is True
        kept = json.loads(row["result"])["log_sha256"]  # in the result the ledger chains
    log = Path(row["run_dir"]) / "events.jsonl"
    assert main(["records", "verify", "--db", db]) == 0
    assert capsys.readouterr().out.startswith("chain intact: 0 qualification records")
    text = log.read_text()
    assert '"t": 1.0}' in text
    log.write_text(text.replace('"t": 1.0}', '"t": 1.5}', 1))
    with Records.open(db) as records:
        row = drill_run(records, run)
    assert row["log_ok"] is False
    assert row["log_check"].startswith(
        f"its log {log} no longer matches the sha256 kept when it was recorded ({kept[:12]}, now "
    )
    assert row["log_check"].endswith("): it was edited")
    assert main(["records", "verify", "--db", db]) == 1
    # under the headline with the counts (tests/test_nu12j.py)
    assert capsys.readouterr().err.splitlines()[1:] == [f"drill run {run}: {row['log_check']}"]
    # A run recorded without its log's hash (as every run was before) is said to have none,
    # and is no problem for verify.
    log.write_text(text)
    result = {k: v for k, v in json.loads(row["result"]).items() if k != "log_sha256"}
    log.rename(log.with_suffix(".away"))
    with Records.open(db) as records:
        old = records.add_drill_run("4411", result)
    log.with_suffix(".away").rename(log)
    with Records.open(db) as records:
        assert drill_run(records, old)["log_check"] == (
            "no log hash kept (recorded before log hashes were)"
        )
    assert main(["records", "verify", "--db", db]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        f"1 drill run with no log hash kept (recorded before log hashes were): {old}"
    )


def _cut_short(folder: Path, ended: str, at_s: float) -> None:
    """What a lane process killed at `at_s` leaves: its append-only log up to then, no
    `ended` record, no result.json."""
    import json

    (folder / "result.json").unlink()
    log = folder / "events.jsonl"
    kept = [
        line
        for line in log.read_text().splitlines()
        if json.loads(line)["t"] <= at_s and json.loads(line)["kind"] != ended
    ]
    log.write_text("\n".join(kept) + "\n")


def test_a_restarted_lane_offers_runs_cut_short_as_incomplete_and_the_console_records_them(
    tmp_path: Path,
) -> None:
    # nu18f #2: a lane killed mid-run or mid-course left nothing in the records: the restarted
    # lane offered "0 finished runs", and the console never showed the cut-short run.
    import json
    import time

    from drills.officer import find_officer
    from drills.schema import read_drill_file
    from range.console.app import Console
    from range.console.lane import CUT_SHORT_FILE, LaneProcess, mark_lane_run
    from range.console.pages import recent_runs, trend
    from range.records.store import Records, outcome
    from range.runs.drill import RunConfig, run_drill

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
    runs = tmp_path / "lane-runs"
    since = time.time()
    source = read_drill_file("knife-approach-v1")
    # Made as the lane makes its runs: marked as LANE1's as the folder is made (rc19 #3).
    officer = find_officer(str(source.drill.expected_officer))
    drill = run_drill(
        RunConfig(
            source.drill,
            officer,
            5,
            runs_dir=runs,
            on_begin=lambda folder, _sha: mark_lane_run(folder, "LANE1"),
        )
    )
    assert drill.run_dir is not None
    _cut_short(drill.run_dir, "run_ended", 2.0)
    course = run_course(
        CourseConfig(
            find_course("taser7-practical-v1"),
            find_shooter("qualified"),
            5,
            runs_dir=runs,
            on_begin=lambda folder: mark_lane_run(folder, "LANE1"),
        )
    )
    assert course.run_dir is not None
    _cut_short(course.run_dir, "attempt_ended", 20.0)
    # rc19 #3: runs the command line cut short in the same runs folder (its records hold them,
    # or list them in progress), and one another lane made, are not this lane's to offer.
    import shutil

    cli = shutil.copytree(drill.run_dir, runs / "20000101-000000-knife-approach-v1")
    (cli / ".lane.json").unlink()
    other = shutil.copytree(drill.run_dir, runs / "20000101-000001-knife-approach-v1")
    mark_lane_run(other, "LANE2")
    # The killed process's pending file names the run it was playing (badge, who started it).
    running = {"kind": "drill", "badge": "4411", "started_by": "inst1", "since_unix": since}
    pending = runs / ".lane-LANE1-pending.json"
    pending.write_text(json.dumps({"version": 1, "waiting": [], "held": [], "running": running}))

    lane = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs)
    offered = {Path(r["run_dir"]).name: r for r in lane.finished}
    assert set(offered) == {drill.run_dir.name, course.run_dir.name}
    for result in offered.values():
        assert result["cut_short"] and result["badge"] == "4411" and result["files"]
    assert (drill.run_dir / CUT_SHORT_FILE).is_file()
    assert not (cli / CUT_SHORT_FILE).exists() and not (other / CUT_SHORT_FILE).exists()
    assert not json.loads(pending.read_text())["running"]
    # Found once: a lane restarted again offers what is still waiting, nothing new.
    again = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs)
    assert sorted(r["run_dir"] for r in again.finished) == sorted(
        offered[n]["run_dir"] for n in offered
    )

    console = Console(db, runs_dir=tmp_path / "console-runs")
    console._drill_finished("LANE1", dict(offered[drill.run_dir.name]))
    console._course_finished("LANE1", dict(offered[course.run_dir.name]))
    with Records.open(db) as records:
        (run,) = records.drill_runs("4411")
        assert run["outcome"].startswith("INCOMPLETE")
        shown = recent_runs(records, "4411")
        assert shown[0]["incomplete"] and trend(records, "4411")[0] == []
        (attempt,) = records.qualifications("4411")
        assert outcome(attempt).startswith("INCOMPLETE")


def test_a_replica_restarted_after_unplugging_is_taken_back_between_runs(tmp_path: Path) -> None:
    # nu18f #8: an emulator stopped (Ctrl-C, "unplugged") and started again with the same
    # serial stayed "unplugged" on the lane page until the lane was restarted: it does not
    # hold the session it was first attached with, and was refused without a word.
    import time

    from peripherals.emulator import TaserEmulator
    from peripherals.messages import Model
    from range.clock import MonotonicClock
    from range.console.replicas import ReplicaWatch

    folder = tmp_path / "ports"
    folder.mkdir()
    clock = MonotonicClock()

    def emulator() -> TaserEmulator:
        taser = TaserEmulator(Model.TASER_7, "EMU-taser-7", clock, directory=folder)
        return taser

    def until(check: Any, timeout_s: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if value := check():
                return value
            time.sleep(0.05)
        raise TimeoutError("never happened")

    first = emulator()
    port = first.start()
    first.run_free()
    running = [False]
    try:
        with ReplicaWatch([port], clock, [folder]) as watch:
            watch.between_runs = lambda: not running[0]
            status = lambda: watch.rows[0]["status"]  # noqa: E731
            until(lambda: status() == "connected")
            first.stop_free_running()
            first.stop()  # Ctrl-C on the emulator
            until(lambda: status() == "unplugged")
            # Back during a run: refused in one line that says what to do.
            running[0] = True
            second = emulator()
            second.start()
            second.run_free()
            try:
                until(lambda: "during a run" in watch.rows[0]["problem"])
                assert "taken back with a new session when the run ends" in watch.rows[0]["problem"]
                assert status() == "unplugged"
                running[0] = False  # the run ended: taken back
                until(lambda: status() == "connected")
                assert watch.rows[0]["problem"] == ""
            finally:
                second.stop_free_running()
                second.stop()
    finally:
        first.stop()
