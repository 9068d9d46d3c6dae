"""A qualification course on a lane: the lane fires it (range/runs/course.py), each string
streams with its par time, rounds fired and points as it is fired, the totals add up to the
attempt's score, an abort stops it, and the console records the finished attempt for the
officer. Real lane and console processes on loopback for the end-to-end test."""

from __future__ import annotations

import json
import queue
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from console_support import (
    browser_login,
    chromium,
    console_range,
    rows_when_written,
    wait_for,
)

from drills.course import find_course, find_shooter
from range.console.courselane import CourseAbortedError, CourseControl, course_state
from range.console.protocol import Command
from range.console.store import ConsoleStore
from range.records.store import Records
from range.runs.course import CourseConfig, run_course

COURSE = "kansas-style-70-v1"
SEED = 4


def _fire(
    tmp_path: Path, commands: queue.Queue[dict[str, Any]] | None = None
) -> tuple[Any, list[tuple[dict[str, Any], list[dict[str, Any]]]]]:
    course = find_course(COURSE)
    sent: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    control = CourseControl(
        course, commands or queue.Queue(), lambda s, e: sent.append((s, e)), {"seed": SEED}, None
    )
    config = CourseConfig(course, find_shooter("qualified"), SEED, runs_dir=tmp_path)
    result = run_course(config, on_record=control)
    return result, sent


def test_each_string_streams_and_the_totals_are_the_attempts_score(tmp_path: Path) -> None:
    result, sent = _fire(tmp_path)
    course = find_course(COURSE)
    final, _ = sent[-1]
    assert final["kind"] == "course" and final["status"] == "ended"
    assert final["points"] == result.score.points == final["score"]["points"]
    assert final["hit_count"] == result.score.hits
    assert final["score"]["passed"] is result.score.passed
    strings = [s for stage in course.stages for s in stage.strings]
    assert len(final["strings"]) == len(strings)
    for row, string in zip(final["strings"], strings, strict=True):
        assert row["status"] == "done"
        assert row["par_time_s"] == string.par_time_s
        assert row["fired"] == string.rounds
        mine = [
            s for s in result.shots if (s.stage + 1, s.string + 1) == (row["stage"], row["string"])
        ]
        assert row["points"] == sum(s.points for s in mine)
    # Live: a frame where the first string fires and the others wait, then one per shot.
    firing = next(s for s, _ in sent if s["current"] == [1, 1])
    assert [r["status"] for r in firing["strings"]][:3] == ["firing", "waiting", "waiting"]
    shots = [e for _, events in sent for e in events if e["kind"] == "shot"]
    assert len(shots) == len(result.shots)
    assert shots[0]["text"].startswith("stage 1 string 1: ")
    assert [s for s, _ in sent if s["status"] == "ended"] == [final]


def test_course_state_before_any_record_has_every_string_waiting() -> None:
    course = find_course(COURSE)
    state = course_state(course, [], {})
    assert state["status"] == "running" and state["current"] is None and state["points"] == 0
    assert {r["status"] for r in state["strings"]} == {"waiting"}


def test_an_abort_stops_the_course_and_names_who(tmp_path: Path) -> None:
    commands: queue.Queue[dict[str, Any]] = queue.Queue()
    commands.put({"command": Command.ABORT.value, "by": "inst"})
    with pytest.raises(CourseAbortedError, match=f"course {COURSE} aborted by inst"):
        _fire(tmp_path, commands)


def test_a_course_on_a_lane_streams_live_and_is_recorded(tmp_path: Path) -> None:
    expected, _ = _fire(tmp_path / "here")  # the same course and seed, fired here
    with console_range(tmp_path) as rng:
        rng.lane("L1", "max")
        c = rng.client()
        c.login("boss")
        csrf = c.request("/").csrf
        with c.live(csrf) as ws:
            wait_for(ws, lambda m: m.get("lane") == "L1" and m.get("connected") is True)
            page = c.request("/lanes/L1").body
            assert f"<option>{COURSE}</option>" in page and 'id="start-course"' in page
            form = {
                "csrf": csrf,
                "command": "start",
                "course": COURSE,
                "badge": "B-101",
                "shooter": "qualified",
                "seed": str(SEED),
            }
            assert c.request("/lanes/L1/command", form).status == 303

            def course(m: dict[str, Any]) -> bool:
                return m.get("lane") == "L1" and m.get("state", {}).get("kind") == "course"

            first = wait_for(ws, course)["state"]
            assert first["course"] == COURSE and first["badge"] == "B-101"
            assert first["seed"] == SEED and first["started_by"] == "boss"
            ended = wait_for(ws, lambda m: course(m) and m["state"]["status"] == "ended", 60)
            assert ended["state"]["score"]["points"] == expected.score.points
            wait_for(ws, lambda m: m.get("type") == "finished" and m.get("lane") == "L1")
        rows = rows_when_written(lambda: _qualifications(rng.db_url, "B-101"))
        assert len(rows) == 1
        assert rows[0]["course"] == COURSE and rows[0]["seed"] == SEED
        assert rows[0]["points"] == expected.score.points
        assert rows[0]["hits"] == expected.score.hits
        detail = json.loads(rows[0]["detail"])
        # The scripted shooter's attempt is kept as the simulation it is, with every shot.
        assert detail["shooter"] == "qualified"
        assert len([x for x in detail["shots"] if x["kind"] == "shot"]) == len(expected.shots)
        with Records.open(rng.db_url) as records:
            assert records.verify() == []
        officer = c.request("/officers/B-101").body
        assert COURSE in officer
        assert f"{expected.score.points}" in officer
        assert "SIMULATED (scripted shooter qualified): not a qualification" in officer
        if shutil.which("chromium") and shutil.which("chromedriver"):
            _browser_sees_the_course(rng.port, expected)


def _qualifications(db_url: str, badge: str) -> list[dict[str, Any]]:
    with Records.open(db_url) as records:
        return records.qualifications(badge)


def _browser_sees_the_course(port: int, expected: Any) -> None:
    """The lane page in headless Chromium draws the course's strings and its score."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    browser = chromium()
    try:
        browser_login(browser, port, "boss")
        browser.get(f"http://127.0.0.1:{port}/lanes/L1")
        # A scripted shooter's: worded as the CLI words it, never PASSED (nu12h 4).
        verdict = f"SIMULATED (would be {'' if expected.score.passed else 'NOT '}QUALIFIED)"
        want = (
            f"{expected.score.points} points, {expected.score.hits} hits: {verdict}"
            " (scripted shooter qualified: recorded as a simulation, not a qualification)"
        )
        deadline = time.monotonic() + 20
        score = ""
        while score != want and time.monotonic() < deadline:
            try:
                score = browser.find_element(By.ID, "course-score").text
            except WebDriverException:
                score = ""
            time.sleep(0.1)
        assert score == want, browser.get_log("browser")
        rows = browser.find_elements(By.CSS_SELECTOR, "#course tbody tr")
        course = find_course(COURSE)
        assert len(rows) == sum(len(stage.strings) for stage in course.stages)
        assert {r.get_attribute("data-status") for r in rows} == {"done"}
        assert browser.find_element(By.ID, "course").is_displayed()
    finally:
        browser.quit()


def test_a_course_is_held_to_real_time_at_the_lanes_speed() -> None:
    from drills.log import LogRecord

    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 6))
        now[0] += s

    course = find_course(COURSE)
    control = CourseControl(
        course, queue.Queue(), lambda s, e: None, {}, 2.0, lambda: now[0], sleep
    )
    for t in (0.0, 1.0, 1.0, 5.0):
        control(LogRecord(t, "attempt_started" if t == 0 else "untracked_shot", {}))
    now[0] += 10.0  # the machine fell behind: no sleep, no catching up by skipping records
    control(LogRecord(6.0, "untracked_shot", {}))
    # Two log seconds per real second: 0.5 s, then 0, then 2 s.
    assert slept == [0.5, 2.0]
    assert len(control.records) == 5


def test_run_commands_other_than_abort_are_refused_on_a_course(tmp_path: Path) -> None:
    # Issue 18 (nu18 #7): pause, say and flag on a course were accepted (303) and audited as
    # done while the course fired on.
    with console_range(tmp_path) as rng:
        rng.lane("L1", "1")
        c = rng.client()
        c.login("inst")
        csrf = c.request("/").csrf
        with c.live(csrf) as ws:
            wait_for(ws, lambda m: m.get("lane") == "L1" and m.get("connected") is True)
            form = {"csrf": csrf, "command": "start", "course": COURSE, "seed": str(SEED)}
            assert c.request("/lanes/L1/command", form).status == 303
            wait_for(ws, lambda m: m.get("state", {}).get("kind") == "course")
            for command in ("pause", "say", "flag", "restart", "button"):
                reply = c.request(
                    "/lanes/L1/command", {"csrf": csrf, "command": command, "text": "x"}
                )
                assert reply.status == 409, command
                assert reply.body == (
                    f"lane L1 is firing a course: {command} does not apply (only abort)"
                )
            assert c.request("/lanes/L1/command", {"csrf": csrf, "command": "abort"}).status == 303
        with ConsoleStore.open(rng.db_url) as store:
            actions = [r["action"] for r in store.audit_rows()]
        assert "lane_abort" in actions and "lane_pause" not in actions


def test_the_live_timeline_says_what_cut_a_string() -> None:
    """A `string_faulted` line names its reason (the headset taken off, a device fault); one
    logged before reasons were kept reads as a device fault."""
    from drills.log import LogRecord
    from range.console.courselane import course_event
    from range.runs.course import HEADSET_OFF

    cut = {"stage": 0, "string": 1, "reshoot": True}
    line = course_event(LogRecord(3.0, "string_faulted", cut | {"reason": HEADSET_OFF}))
    assert line is not None and line["text"] == f"stage 1 string 2: {HEADSET_OFF}, reshot"
    old = course_event(LogRecord(3.0, "string_faulted", cut | {"reshoot": False}))
    assert old is not None and old["text"] == "stage 1 string 2: device fault, not reshot"
