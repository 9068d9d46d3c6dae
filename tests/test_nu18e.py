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
