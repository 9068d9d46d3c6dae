"""nu22 (range master, qualification day and web console): course-file messages (#8), console
query codes (#6), attempt sheets' stage numbers (#7) and wording (#9)."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import seed_accounts

from drills.course import parse_course
from drills.schema import parse_drill
from physics.datafiles import DataFileError
from range.console.app import SESSION_MAX_AGE_S, Console
from range.console.store import ConsoleStore
from range.records.store import Records

COURSES = Path(__file__).resolve().parent.parent / "drills" / "data" / "courses"
DRILLS = Path(__file__).resolve().parent.parent / "drills" / "data" / "drills"

COURSE = """\
id = "my-course-v1"
version = 1
title = "Mine"
source = "test"
pass_mark = { points = 1 }

[[stages]]
name = "7 yd"
strings = [
  { distance_yd = 7.0, start = "ready", rounds = 5, par_time_s = 10.0 },
]
"""
STRING = '{ distance_yd = 7.0, start = "ready", rounds = 5, par_time_s = 10.0 }'


def _refusal(string: str, text: str = COURSE) -> str:
    with pytest.raises(DataFileError) as caught:
        parse_course(text.replace(STRING, string), "c.toml")
    return str(caught.value)


# -- 8: course-file messages ---------------------------------------------------------------------


def test_no_rounds_in_a_pistol_string_says_rounds_not_cartridges() -> None:
    """It said "fires rounds (at least 1), not cartridges" of a file with no cartridges."""
    message = _refusal('{ distance_yd = 7.0, start = "ready", rounds = 0, par_time_s = 10.0 }')
    assert message == (
        "c.toml:9: stages[0].strings[0].rounds: 0 rounds: a pistol string fires at least 1:"
        " allowed 1 to 17, a magazine (or 34 with reload = true)"
    )


def test_too_many_rounds_names_the_magazines_not_a_bound_of_0_to_50() -> None:
    """`rounds = 99` said "allowed 0 <= rounds <= 50": 0 is refused, and the limit is the
    weapon's magazine (17, or 34 with a reload)."""
    one = _refusal('{ distance_yd = 7.0, start = "ready", rounds = 99, par_time_s = 10.0 }')
    assert one == (
        "c.toml:9: stages[0].strings[0].rounds: 99 rounds in one magazine: the pistol's holds"
        " 17: allowed 1 to 17 (reload = true splits the string in two)"
    )
    two = _refusal(
        '{ distance_yd = 7.0, start = "ready", rounds = 99, reload = true, par_time_s = 10.0 }'
    )
    assert two.endswith(
        "rounds: 99 rounds with one reload: the pistol's two magazines hold 34 (17 each):"
        " allowed 1 to 34"
    )
    rifle = _refusal(
        '{ weapon = "rifle", distance_yd = 7.0, start = "ready", rounds = 99, par_time_s = 9 }'
    )
    assert "the rifle's holds 30: allowed 1 to 30" in rifle
    assert "50" not in one + two + rifle


def test_cartridges_in_a_pistol_string_name_the_key() -> None:
    message = _refusal(
        '{ distance_yd = 7.0, start = "ready", rounds = 5, cartridges = 1, par_time_s = 10.0 }'
    )
    assert message == (
        "c.toml:9: stages[0].strings[0].cartridges: cartridges is for TASER strings: a pistol"
        " string fires rounds"
    )


def test_an_unknown_weapon_is_one_line_naming_every_weapon() -> None:
    """It was two lines with pydantic's union internals (`weapon.literal['pistol','rifle']`)."""
    message = _refusal(
        '{ weapon = "glock", distance_yd = 7.0, start = "ready", rounds = 5, par_time_s = 10.0 }'
    )
    assert message == (
        "c.toml:9: stages[0].strings[0].weapon: one of 'pistol', 'rifle', 'taser-x26p',"
        " 'taser-x2', 'taser-7' or 'taser-10' is needed, not the text 'glock'"
    )


@pytest.mark.parametrize(
    ("distance", "said"),
    [
        ("distance_yd = 30", "30 yd is beyond the lane"),
        ("distance_yd = 0", "0 yd is nearer than a target can stand"),
        ("distance_yd = -2", "-2 yd is nearer than a target can stand"),
    ],
)
def test_a_distance_out_of_the_lane_names_the_real_minimum(distance: str, said: str) -> None:
    """Beyond the lane it said "allowed 0 < distance", and 0 "allowed 0 < distance_yd <=
    lane_length_ft": the minimum is 0.5 yd."""
    message = _refusal(STRING.replace("distance_yd = 7.0", distance))
    assert message == (
        f"c.toml:9: stages[0].strings[0].distance_yd: {said}: allowed 0.5 yd (1.5 ft) <="
        " distance <= 25 yd (75 ft)"
    )


def test_a_course_file_given_as_a_drill_says_it_is_a_course() -> None:
    """A lane's Drill file that was a course said only "rationale: required key is missing"."""
    text = (COURSES / "texas-ltc-b27-v1.toml").read_text(encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        parse_drill(text, "good.toml")
    assert str(caught.value) == (
        "good.toml:1: this looks like a course file (it has [[stages]], and a drill has"
        " [[phases]]): fire it with `openrange course run FILE`, or Start course on a lane"
    )


def test_a_drill_file_given_as_a_course_says_it_is_a_drill() -> None:
    text = (DRILLS / "phone-draw-v1.toml").read_text(encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        parse_course(text, "d.toml")
    assert str(caught.value) == (
        "d.toml:1: this looks like a drill file (it has [[phases]], and a course has"
        " [[stages]]): run it with `openrange drill run FILE`, or Start drill on a lane"
    )


# -- console: in-process handlers over fresh records ---------------------------------------------


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A console over fresh records with the console_support accounts (no server: its handlers
    are called here, as tests/test_nu18j.py calls them)."""
    tmp = tmp_path_factory.mktemp("nu22b")
    url = f"sqlite:///{tmp / 'records.sqlite'}"
    seed_accounts(url)
    console = Console(url, secure_cookies=False, runs_dir=tmp / "console-runs")
    yield console
    console.views.close()


def _get(
    console: Console, user: str, handler: Any, params: dict[str, Any], query: str = ""
) -> tuple[int, str]:
    """GET through `handler` as `user` (a real session in the store) with `query`."""
    from starlette.requests import Request

    with ConsoleStore.open(console.db_url) as store:
        sid = store.new_session(user, SESSION_MAX_AGE_S)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "path_params": params,
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
        "session": {"user": user, "sid": sid, "csrf": "tok"},
        "server": ("testserver", 80),
        "scheme": "http",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    response = asyncio.run(handler(Request(scope, receive)))
    return int(response.status_code), html.unescape(bytes(response.body).decode())


@pytest.fixture(scope="module")
def run_id(console: Console, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A drill run's record (its folder empty: a view's query is judged before it is read;
    a played run, console_support.saved_run, costs seconds)."""
    assert console.db_url is not None
    result = {
        "drill": "traffic-stop-v1",
        "seed": 1,
        "openrange_version": "0.1.0",
        "score": {"decision": "appropriate", "score": 90.0, "passed": True},
        "run_dir": str(tmp_path_factory.mktemp("run")),
    }
    with Records.open(console.db_url) as records:
        return records.add_drill_run("B-101", result)


# -- 6: a bad query answers 400 ------------------------------------------------------------------


def test_a_run_view_with_an_unknown_eye_is_a_bad_query(console: Console, run_id: int) -> None:
    """`/runs/N/view.png?eye=bogus` answered 404; docs/console.md: a bad query answers 400."""
    status, body = _get(console, "inst", console.run_view, {"id": str(run_id)}, "t=1&eye=bogus")
    assert status == 400
    assert "eye=bogus: one of officer, subject, top" in body
    status, body = _get(console, "inst", console.run_video, {"id": str(run_id)}, "eye=top")
    assert (status, "eye=top: one of officer, subject" in body) == (400, True)


def test_a_live_view_with_an_unknown_eye_is_a_bad_query(console: Console) -> None:
    status, body = _get(console, "inst", console.view, {"name": "L9"}, "eye=bogus")
    assert (status, body) == (400, "eye=bogus: one of officer, subject, top")
    assert _get(console, "inst", console.view, {"name": "L9"})[0] == 404  # no such lane


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("a=1&b=zz", "b=zz is not a run's number"),
        ("a=1", "b is missing"),
        ("", "a is missing"),
        ("a=1.5&b=1", "a=1.5 is not a run's number"),
        ("a=1_0&b=1", "a=1_0 is not a run's number"),
    ],
)
def test_a_comparison_of_runs_that_are_not_numbers_is_a_bad_query(
    console: Console, query: str, said: str
) -> None:
    """`/compare?a=1&b=zz` answered 200 ("Choose two runs")."""
    status, body = _get(console, "inst", console.compare, {}, query)
    assert status == 400
    assert f"{said}: choose two runs (?a=ID&b=ID)" in body


def test_a_comparison_of_a_run_nothing_has_is_still_404(console: Console) -> None:
    status, body = _get(console, "inst", console.compare, {}, "a=999&b=99999999999999999999999")
    assert status == 404 and "no drill run 999" in body
    status, body = _get(console, "inst", console.compare, {}, "a=-1&b=1")
    assert status == 404 and "no drill run -1" in body


# -- 7: the console's attempt sheets number their stages as the CLI does -------------------------


def test_the_officer_page_numbers_each_stage_as_the_cli_does(console: Console) -> None:
    """Texas stages showed as "3 yd / 7 yd / 15 yd", unnumbered; FBI's "1: 3 yd" only because
    its names hold their number. The CLI says "stage 1: 3 yd" of both."""
    assert console.db_url is not None
    with Records.open(console.db_url) as records:
        attempt = records.begin_attempt(
            "B-202", "texas-ltc-b27-v1", 3, "0.1.0", [{"model": "pistol", "serial": "P-1"}], []
        )
        stages = [
            {"name": "3 yd", "points": 100, "hits": 20},
            {"name": "7 yd", "points": 100, "hits": 20},
            {"name": "3: 15 yd", "points": 50, "hits": 10},  # a name holding its number
        ]
        score = {"points": 250, "max_points": 250, "hits": 50, "passed": True, "stages": stages}
        records.finish_attempt(attempt, score)
    status, body = _get(console, "inst", console.officer, {"badge": "B-202"})
    assert status == 200, body
    cells = re.findall(r"<tr><td>(stage [^<]*)</td><td>(\d+)</td>", body)
    assert cells == [
        ("stage 1: 3 yd", "100"),
        ("stage 2: 7 yd", "100"),
        ("stage 3: 15 yd", "50"),
    ], body


# -- 9: wording ----------------------------------------------------------------------------------


def test_a_taser_course_s_hits_mark_says_effective_cartridges(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`course list` said "taser7-practical-v1 ... pass 3 hits"; docs/courses.md "3 effective"."""
    from drills.course import find_course
    from range.cli.main import main
    from scoring.course import score_attempt

    assert main(["course", "list"]) == 0
    listed = capsys.readouterr().out
    assert "(the subject, max 4, pass 3 effective cartridges)" in listed
    assert "(qit99, max 100, pass 35 hits)" in listed  # a firearm course still counts hits
    # An attempt short of the mark says what it counted in the same words.
    score = score_attempt(find_course("taser7-practical-v1"))
    assert "0 effective cartridges, 3 needed" in score.reasons


def _attempt(records: Records, badge: str, shooter: str) -> None:
    attempt = records.begin_attempt(
        badge,
        "taser7-practical-v1",
        5,
        "0.1.0",
        [{"model": "taser-7", "serial": "SIM-TASER-0001"}],
        [{"serial": "SIM-TASER-0001", "calibrated": "2026-11-01"}],
        shooter=shooter,
    )
    stage = {"name": "1", "points": 4, "hits": 4}
    score = {"points": 4, "max_points": 4, "hits": 4, "passed": True, "stages": [stage]}
    records.finish_attempt(attempt, score)


def test_the_cli_roster_says_simulated_only_as_the_console_does(tmp_path: Path) -> None:
    """The HTML roster said "no attempts" of an officer with only simulated attempts, where the
    console's roster says "simulated only" of that course."""
    from datetime import UTC, datetime

    from range.console.pages import roster_page
    from range.records.exports import roster, roster_html

    today = datetime.now(UTC).date()
    with Records.open(f"sqlite:///{tmp_path / 'r.sqlite'}") as records:
        records.add_officer("5522", "K. Lee", "Metro PD")
        records.add_officer("7", "N. Never", "Metro PD")
        _attempt(records, "5522", "expert")
        lines = roster(records, today, 365)
        page = roster_page(records, today)
    lee = [(r.course, r.status, r.weapons) for r in lines if r.badge == "5522"]
    assert lee == [("taser7-practical-v1", "simulated only", "")]
    assert [r.status for r in lines if r.badge == "7"] == ["no attempts"]
    row = re.search(r"<tr><td>5522</td>.*?</tr>", roster_html(lines, today, 365))
    assert row is not None
    assert "<td>taser7-practical-v1</td><td>-</td><td class='simulated'>simulated only</td>" in (
        row.group(0)
    )
    console = {r["line"].badge: [(c.course, c.status) for c in r["courses"]] for r in page}
    assert console["5522"] == [("taser7-practical-v1", "simulated only")]


def test_a_scripted_line_s_span_is_one_time_not_a_span_of_nothing() -> None:
    """The debrief showed a scripted officer's line (logged with its start as its end) as
    "1.00-1.00 s"."""
    from drills.log import LogRecord
    from drills.speech import span_text
    from range.console.pages import _said_when

    assert span_text(1.0, 1.0) == "1.00 s"
    assert span_text(1.001, 1.004) == "1.00 s"  # no span at the places shown
    assert span_text(1.38, 2.13) == "1.38-2.13 s"
    scripted = LogRecord(1.0, "officer_spoke", {"start_s": 1.0, "end_s": 1.0})
    assert _said_when(scripted) == "1.00 s"
