"""rc20 (re-check of the nu20 to nu22 fixes), new defects 2, 3 and 7: each test fails without
its fix. In-process: the console's handlers called directly on real SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from range.console.app import Console
from range.console.auth import hash_password
from range.console.store import ConsoleStore, Role
from range.records.store import Records


@pytest.fixture(scope="module")
def hashed() -> str:
    return hash_password("correct horse battery")


def _console(tmp_path: Path, hashed: str) -> tuple[Console, dict[str, str]]:
    """A console on a fresh database with a range master `boss` logged in: its session."""
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "R. Diaz", "Metro PD")
    with ConsoleStore.open(db) as store:
        store.add_user("boss", Role.RANGE_MASTER, hashed, None)
        sid = store.new_session("boss", 3600)
    return Console(db, runs_dir=tmp_path / "console-runs"), {"user": "boss", "sid": sid}


def _get(console: Console, handler: Any, session: dict[str, str], **params: Any) -> Any:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [],
        "path_params": params,
        "session": dict(session),
        "app": None,
    }
    return asyncio.run(handler(Request(scope)))


def _qualified(db: str) -> int:
    with Records.open(db) as records:
        attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 2, "0.1.0", [], [])
        stages = [{"name": "1", "points": 88, "hits": 44}]
        score = {"points": 88, "max_points": 100, "hits": 44, "passed": True, "stages": stages}
        return records.finish_attempt(attempt, score)


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ("points = 99", "its contents no longer match its hash"),
        ("detail = '{not json'", "detail is not valid JSON"),
    ],
)
def test_a_damaged_record_s_pdf_is_a_one_line_page_and_not_linked(
    tmp_path: Path, hashed: str, edit: str, said: str
) -> None:
    # rc20 #2: /certificates/N.pdf of a DAMAGED qualification answered 500 (RecordsError
    # uncaught); the officer page linked it and showed the edited "Stages together 88 44".
    console, session = _console(tmp_path, hashed)
    qid = _qualified(console.db_url or "")
    good = _get(console, console.certificate, session, id=qid)
    assert (good.status_code, good.media_type) == (200, "application/pdf")
    with Records.open(console.db_url) as records:
        records.execute(f"UPDATE qualifications SET {edit} WHERE id = ?", qid)
    reply = _get(console, console.certificate, session, id=qid)
    assert reply.status_code == 409
    body = reply.body.decode()
    assert f"record {qid}: {said}" in body
    page = _get(console, console.officer, session, badge="4411").body.decode()
    assert "DAMAGED" in page
    assert f"/certificates/{qid}.pdf" not in page
    # No sums at all (l24 item 3, rc21 #7e): it says why it is damaged, not "- -".
    sheet = page.split('<div class="sheet damaged">')[1].split("</div>")[0]
    assert "Stages together" not in sheet and "add up" not in sheet
    assert "Record damaged: " in sheet and "88" not in sheet


def test_a_deleted_audit_head_is_reported_and_never_made_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc20 #3: deleting the newest audit row and the audit_head together went unnoticed: the
    # next audited action chained onto the newest row left and wrote a new head (ids 4 -> 6).
    from range.cli.main import main

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with ConsoleStore.open(db) as store:
        assert store.verify_audit() == []  # a brand-new trail, no rows
        ids = [store.audit("boss", "login"), store.audit("boss", "logout")]
        head = store.records.query("SELECT value FROM console_settings WHERE key = 'audit_head'")
        assert head[0]["value"].startswith(f"{ids[1]}:")  # a new database starts a head
        store.records.execute("DELETE FROM console_audit WHERE id = ?", ids[1])
        store.records.execute("DELETE FROM console_settings WHERE key = 'audit_head'")
        missing = (
            "audit: the chain head (console_settings 'audit_head') is missing ({} rows left, ids"
            " given up to {}): rows deleted at the end cannot be found; restore it from a backup"
        )
        assert store.verify_audit() == [missing.format(1, ids[1])]
        later = store.audit("boss", "login")  # audited still, but no head made up
        assert (
            store.records.query("SELECT value FROM console_settings WHERE key = 'audit_head'") == []
        )
        assert store.verify_audit() == [missing.format(2, later)]
        capsys.readouterr()
        assert main(["records", "verify", "--db", db]) == 1
        assert missing.format(2, later) in capsys.readouterr().err
        # Every row and the head deleted: not an empty, intact trail.
        store.records.execute("DELETE FROM console_audit")
        assert store.verify_audit() == [missing.format(0, later)]


def _post(console: Console, session: dict[str, str], form: dict[str, str], **params: Any) -> Any:
    from urllib.parse import urlencode

    body = urlencode({**form, "csrf": "t" * 32}).encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"x-requested-with", b"fetch"),
        ],
        "path_params": params,
        "session": {**session, "csrf": "t" * 32},
        "app": None,
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return asyncio.run(console.command(Request(scope, receive)))


def test_a_course_aborted_just_before_the_lane_dies_is_not_recorded(
    tmp_path: Path, hashed: str
) -> None:
    # rc20 #7: Abort pressed, then the lane killed before it marked the folder aborted: the
    # restarted lane offered the attempt cut short and the console recorded it INCOMPLETE,
    # though it had audited the abort.
    from range.console.app import LaneView
    from range.console.lane import ABORTED_FILE, LaneProcess
    from range.console.protocol import Command

    console, session = _console(tmp_path, hashed)
    runs = tmp_path / "lane-runs"
    runs.mkdir()
    lane = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs, speed=None)
    states: list[dict[str, Any]] = []
    shots = 0

    def publish(state: dict[str, Any], events: list[dict[str, Any]]) -> None:
        nonlocal shots
        states.append(state)
        shots += sum(e["kind"] == "deployment" for e in events)
        if shots == 2:  # two deployments in, the lane's state is what the console holds
            lane.commands.put({"command": Command.ABORT, "by": "boss"})

    lane._publish = publish  # type: ignore[method-assign]
    start = {"command": Command.START, "by": "boss"}
    args = {"course": "taser7-practical-v1", "badge": "4411", "seed": 5}
    lane._run_course(start, args)  # type: ignore[arg-type]
    (folder,) = [p for p in runs.iterdir() if p.is_dir()]
    running = [s for s in states if s.get("status") == "running"]
    assert running and running[-1]["run"] == folder.name
    # The console sends the abort for that state (as the lane page's Abort button does) ...
    sent: list[str] = []

    class Socket:
        async def send_text(self, text: str) -> None:
            sent.append(text)

    view = LaneView("LANE1")
    view.socket = Socket()  # type: ignore[assignment]
    view.state = running[-1]
    console.hub.lanes["LANE1"] = view
    reply = _post(console, session, {"command": "abort"}, name="LANE1")
    assert (reply.status_code, len(sent)) == (202, 1)
    # ... and the lane dies before it marks the folder aborted: the restart offers it cut short.
    (folder / ABORTED_FILE).unlink()
    (result,) = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs).finished
    assert result["cut_short"]
    # Killed mid-run, the lane's pending file still named the running attempt's badge (this
    # lane ended the run, so cleared it).
    result.update(badge="4411", started_by="boss")
    console._course_finished("LANE1", result)
    with Records.open(console.db_url) as records:
        assert records.qualifications("4411") == []
    with ConsoleStore.open(console.db_url) as store:
        (said,) = [r for r in store.audit_rows() if r["action"] == "course_not_recorded"]
    assert "aborted by boss" in said["detail"]


def _aborted_drill(tmp_path: Path, hashed: str) -> tuple[Console, Path, list[str]]:
    """A drill run on a lane whose Abort the console sent for the running state (rc20 #7's
    race, for drills): the console, the lane's run folder, and the log's lines as played."""
    from range.console.app import LaneView
    from range.console.lane import LaneProcess
    from range.console.protocol import Command

    console, session = _console(tmp_path, hashed)
    runs = tmp_path / "lane-runs"
    runs.mkdir()
    lane = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs, speed=None)
    running: list[dict[str, Any]] = []

    def publish(state: dict[str, Any], events: list[dict[str, Any]]) -> None:
        if state.get("status") == "running":
            running.append(state)
        if len(running) == 20:  # twenty frames in, the lane's state is what the console holds
            lane.commands.put({"command": Command.ABORT, "by": "boss"})

    lane._publish = publish  # type: ignore[method-assign]
    start = {"command": Command.START, "by": "boss"}
    lane._run({**start, "args": {"drill": "phone-draw-v1", "badge": "4411", "seed": 5}})  # type: ignore[arg-type]
    (folder,) = [p for p in runs.iterdir() if p.is_dir()]
    assert running[-1]["run"] == folder.name  # the state names the run's folder
    sent: list[str] = []

    class Socket:
        async def send_text(self, text: str) -> None:
            sent.append(text)

    view = LaneView("LANE1")
    view.socket = Socket()  # type: ignore[assignment]
    view.state = running[-1]
    console.hub.lanes["LANE1"] = view
    reply = _post(console, session, {"command": "abort"}, name="LANE1")
    assert (reply.status_code, len(sent)) == (202, 1)
    lines = (folder / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    return console, folder, lines


def test_a_drill_aborted_just_before_the_lane_dies_is_recorded_aborted(
    tmp_path: Path, hashed: str
) -> None:
    # l24 item 6: the course fix (above) for drill runs. The lane dies after the console sent
    # the abort and before it ended the run: its restart offers the run cut short, and the
    # console recorded it INCOMPLETE though it had audited the abort.
    import json

    from range.console.lane import LaneProcess
    from range.records.store import drill_run_stopped

    console, folder, lines = _aborted_drill(tmp_path, hashed)
    cut = next(i for i, x in enumerate(lines) if json.loads(x)["kind"] == "instructor_command")
    (folder / "events.jsonl").write_text("".join(lines[:cut]), encoding="utf-8")
    (folder / "result.json").unlink()
    (folder.parent / ".lane-LANE1-pending.json").unlink()  # it died before offering the run
    (result,) = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, folder.parent).finished
    assert result["cut_short"]
    result.update(badge="4411", started_by="boss")
    console._drill_finished("LANE1", result)
    with Records.open(console.db_url) as records:
        (row,) = records.drill_run_rows("4411")
        outcome = records.drill_run(int(row["id"]))["outcome"]
        stopped = drill_run_stopped(row)
    assert outcome == "SIMULATED (scripted officer phone-draw-correct-v1): ABORTED", outcome
    assert stopped is not None and stopped.startswith("aborted by boss; cut short at "), stopped


def test_a_drill_that_ended_before_the_abort_reached_it_is_recorded_as_it_ended(
    tmp_path: Path, hashed: str
) -> None:
    # The abort crossed the run's end: the lane's run had ended (completed) when it arrived,
    # so it was not applied. Recorded as it ended, and the audit trail says the abort came too
    # late, so the trail and the record never disagree unsaid.
    import json

    console, folder, lines = _aborted_drill(tmp_path, hashed)
    kinds = [json.loads(x)["kind"] for x in lines]
    assert kinds[-1] == "run_ended"
    result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    result |= {"state": "completed", "badge": "4411", "started_by": "boss", "lane": "LANE1"}
    result["run_dir"] = str(folder)
    console._drill_finished("LANE1", result)
    console._drill_finished("LANE1", dict(result))  # offered again: recorded and said once
    with ConsoleStore.open(console.db_url) as store:
        late = [r for r in store.audit_rows() if r["action"] == "abort_too_late"]
    assert len(late) == 1 and "before the abort of boss reached the lane" in late[0]["detail"]
