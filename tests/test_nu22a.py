"""nu22 (a range master's qualification day and web console), defects 2 to 5: each test fails
without its fix. In-process: the console's handlers called directly on real SQLite, the
course fired by the runner in this process, the lane process built without a link."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.course import find_course, find_shooter
from range.cli.main import main
from range.records.store import Records
from range.runs.course import CourseConfig, run_course


def _cut_short(folder: Path, at_s: float) -> None:
    """What a lane process killed at `at_s` leaves: its log up to then, no `attempt_ended`,
    no result.json."""
    (folder / "result.json").unlink()
    log = folder / "events.jsonl"
    kept = [
        line
        for line in log.read_text().splitlines()
        if json.loads(line)["t"] <= at_s and json.loads(line)["kind"] != "attempt_ended"
    ]
    log.write_text("\n".join(kept) + "\n")


@pytest.fixture(scope="module")
def fired(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """taser7-practical-v1 fired whole on LANE1 (seed 5, the qualified shooter): its folder."""
    from range.console.lane import mark_lane_run

    runs = tmp_path_factory.mktemp("fired")
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
    return course.run_dir


@pytest.fixture
def lane_runs(fired: Path, tmp_path: Path) -> Iterator[Path]:
    """A lane's runs folder holding a copy of the fired course, cut short at 20 s."""
    runs = tmp_path / "lane-runs"
    runs.mkdir()
    copy = shutil.copytree(fired, runs / fired.name)
    _cut_short(copy, 20.0)
    yield runs


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4412", "K. Lee", "Metro PD")
    return url


def _offered(runs: Path) -> list[dict[str, Any]]:
    from range.console.lane import LaneProcess

    return list(LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs).finished)


def _recorded_by_console(db: str, tmp_path: Path, result: dict[str, Any]) -> int:
    from range.console.app import Console

    console = Console(db, runs_dir=tmp_path / "console-runs")
    console._course_finished("LANE1", {**result, "badge": "4412"})
    with Records.open(db) as records:
        (row,) = records.qualifications("4412")
    return int(row["id"])


def test_show_says_who_closed_an_attempt_a_lane_cut_short(
    db: str, lane_runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu22 #2: `records show N` raised KeyError 'closed' for an attempt a killed lane's restart
    # offered: the console wrote its `incomplete` without the date `records close` writes.
    (result,) = _offered(lane_runs)
    qid = _recorded_by_console(db, tmp_path, result)
    capsys.readouterr()
    assert main(["records", "show", str(qid), "--db", db]) == 0
    (line,) = [s for s in capsys.readouterr().out.splitlines() if "closed by" in s]
    assert line.startswith("  closed by lane:LANE1 on 20")
    assert line.endswith(": cut short: the lane stopped")


def test_show_reads_a_lane_closed_record_chained_without_its_date(
    db: str, lane_runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu22 #2: such records are already in the chain: they are shown, not rewritten.
    from range.console.courselane import record_attempt

    (result,) = _offered(lane_runs)
    old = {"closed_by": "lane:LANE1", "reason": "cut short: the lane stopped"}
    with Records.open(db) as records:
        qid = record_attempt(records, "4412", Path(result["run_dir"]), result["score"], old)
    capsys.readouterr()
    assert main(["records", "show", str(qid), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "  closed by lane:LANE1: cut short: the lane stopped\n" in out
    assert main(["records", "verify", "--db", db]) == 0


def test_a_damaged_qualification_shows_no_points(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu22 #3: a record edited to 95 points and a pass said DAMAGED but still printed "95/100"
    # in history and show, 95 in the CSV and the console's sheet, "points": 95 in --json.
    from range.console.pages import attempt_sheet
    from range.records.exports import export_csv

    with Records.open(db) as records:
        attempt = records.begin_attempt("4412", "fbi-pistol-2019-v1", 3, "0.1.0", [], [])
        score = {"points": 40, "max_points": 100, "hits": 8, "passed": False, "complete": True}
        qid = records.finish_attempt(attempt, score)
        records.execute("UPDATE qualifications SET points = 95, passed = 1 WHERE id = ?", qid)
        (csv_row,) = export_csv(records, None, None).splitlines()[1:]
        sheet = attempt_sheet(records.qualification(qid))
    assert csv_row.split(",")[6:10] == ["", "100", "", "DAMAGED (edited? run records verify)"]
    assert (sheet["points"], sheet["hits"], sheet["adds_up"]) == (None, None, False)
    capsys.readouterr()
    assert main(["records", "history", "4412", "--db", db, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["qualifications"]
    assert (listed["points"], listed["hits"], listed["passed"]) == (None, None, None)
    assert main(["records", "history", "4412", "--db", db]) == 0
    (line,) = [s for s in capsys.readouterr().out.splitlines() if s.startswith("  record ")]
    assert line.endswith("   -/100  DAMAGED (edited? run records verify)")
    assert main(["records", "show", str(qid), "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["points"], shown["hits"], shown["passed"]) == (None, None, None)
    assert main(["records", "show", str(qid), "--db", db]) == 0
    (said,) = [s for s in capsys.readouterr().out.splitlines() if " points, " in s]
    assert said.startswith("  -/100 points, - hits, DAMAGED (edited? run records verify); seed 3")


def test_a_course_aborted_from_the_console_is_not_offered_as_cut_short(tmp_path: Path) -> None:
    # nu22 #4: an instructor's Abort left the course's folder as a killed lane leaves one (no
    # attempt_ended, no result.json): the next lane process offered it "cut short by a
    # stopped lane" as INCOMPLETE, though the abort said "not recorded".
    from range.console.lane import ABORTED_FILE, LaneProcess
    from range.console.protocol import Command

    runs = tmp_path / "lane-runs"
    runs.mkdir()
    lane = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs, speed=None)
    shots = 0

    def publish(state: dict[str, Any], events: list[dict[str, Any]]) -> None:
        nonlocal shots
        shots += sum(e["kind"] == "deployment" for e in events)
        if shots == 2:  # two deployments in, the instructor presses Abort
            lane.commands.put({"command": Command.ABORT, "by": "inst1"})

    lane._publish = publish  # type: ignore[method-assign]
    start = {"command": Command.START, "by": "inst1"}
    args = {"course": "taser7-practical-v1", "badge": "4412", "seed": 5}
    lane._run_course(start, args)  # type: ignore[arg-type]
    assert lane.finished == []
    (folder,) = [p for p in runs.iterdir() if p.is_dir()]
    assert json.loads((folder / ABORTED_FILE).read_text())["aborted_by"] == "inst1"
    assert not (folder / "result.json").exists()
    assert LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs).finished == []


def test_a_lane_s_cut_short_attempt_records_what_records_close_gives(
    db: str, lane_runs: Path, tmp_path: Path
) -> None:
    # nu22 #5: an attempt a killed lane's restart offered was recorded with its part score
    # (stage rows filled in), one closed by `records close` with 0 points, as docs/records.md
    # says: one rule now, 0 of the course's maximum, every shot kept with what it counted.
    from range.console.pages import attempt_sheet
    from range.records.exports import score_sheet

    (result,) = _offered(lane_runs)
    assert result["score"]["points"] > 0  # the part score the lane found
    qid = _recorded_by_console(db, tmp_path, result)
    with Records.open(db) as records:
        row = records.qualification(qid)
        attempt = records.begin_attempt("4412", "taser7-practical-v1", 5, "0.1.0", [], [])
        closed = records.qualification(records.close_attempt(attempt, "RM Lee", "power cut"))
    for kept in (row, closed):
        assert (kept["points"], kept["hits"], kept["passed"]) == (0, 0, 0)
        assert kept["max_points"] == result["score"]["max_points"]
        score = json.loads(kept["detail"])["score"]
        assert score == {
            "points": 0,
            "max_points": kept["max_points"],
            "hits": 0,
            "passed": False,
            "complete": False,
        }
    sheet = attempt_sheet(row)
    assert (sheet["stages"], sheet["adds_up"]) == ([], True)
    lines, _ = score_sheet(row)
    assert lines, "every shot fired before the lane stopped is kept"
