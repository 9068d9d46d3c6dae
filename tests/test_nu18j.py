"""Issue 18, new-user pass nu18h (defects 1, 2, 4, 5, 6, 7, 8, 9): each test fails without its
fix. In-process: the console's handlers called on a built request, the CLI's main() here."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from console_support import saved_run, seed_accounts

from range.console.app import SESSION_MAX_AGE_S, Console, LaneView
from range.console.store import ConsoleStore


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Console:
    """A console over fresh records with the console_support accounts (no server: its
    handlers are called here)."""
    tmp = tmp_path_factory.mktemp("nu18j")
    url = f"sqlite:///{tmp / 'records.sqlite'}"
    seed_accounts(url)
    return Console(url, secure_cookies=False, runs_dir=tmp / "console-runs")


def _request(
    console: Console,
    user: str,
    method: str,
    path: str,
    params: dict[str, Any],
    form: dict[str, str],
) -> Any:
    """A request to `path` as `user` (a real session in the store), `form` posted with the
    session's CSRF token."""
    from starlette.requests import Request

    with ConsoleStore.open(console.db_url) as store:
        sid = store.new_session(user, SESSION_MAX_AGE_S)
    body = urlencode({"csrf": "tok", **form}).encode()
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "path_params": params,
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        "session": {"user": user, "sid": sid, "csrf": "tok"},
        "server": ("testserver", 80),
        "scheme": "http",
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def _call(handler: Any, request: Any) -> tuple[int, str]:
    response = asyncio.run(handler(request))
    return int(response.status_code), bytes(response.body).decode()


def _audit(console: Console) -> list[dict[str, Any]]:
    with ConsoleStore.open(console.db_url) as store:
        return store.audit_rows()


# -- 1. the commands to a lane are judged one after another -------------------------------------


class _Socket:
    """A lane's socket that keeps what the console sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))


def _command(console: Console, lane: str, **form: str) -> tuple[int, str]:
    path = f"/lanes/{lane}/command"
    request = _request(console, "inst", "POST", path, {"name": lane}, form)
    return _call(console.command, request)


def test_a_second_start_before_the_lane_s_next_frame_is_refused_and_not_audited(
    console: Console,
) -> None:
    socket = _Socket()
    console.hub.lanes["J1"] = LaneView("J1", socket=socket)  # type: ignore[arg-type]
    start = {"command": "start", "drill": "phone-draw-v1", "badge": "B-101"}
    before = len(_audit(console))
    assert _command(console, "J1", **start, seed="100")[0] == 303
    status, body = _command(console, "J1", **start, seed="101")
    assert status == 409
    assert body == "lane J1 is starting a run: start does not apply (abort it first)"
    assert _command(console, "J1", command="restart")[0] == 409
    # An abort right after the start is sent: the lane applies it to the run it starts.
    assert _command(console, "J1", command="abort")[0] == 303
    assert [m["command"] for m in socket.sent] == ["start", "abort"]
    assert [m["args"].get("seed") for m in socket.sent] == ["100", None]
    actions = [r["action"] for r in _audit(console)[: len(_audit(console)) - before]]
    assert actions == ["lane_abort", "lane_start"]
    # A second abort before the lane says the run has ended: refused, as after the end.
    assert _command(console, "J1", command="abort")[0] == 409
    # The lane's next frame is how it is again.
    console.hub.lanes["J1"].state = {"status": "running", "kind": "drill"}
    assert _command(console, "J1", **start, seed="102")[0] == 409
    assert _command(console, "J1", command="abort")[0] == 303


class _SlowSocket(_Socket):
    """A lane's socket whose send yields to the event loop, as a real WebSocket's does."""

    async def send_text(self, text: str) -> None:
        await asyncio.sleep(0.01)
        await super().send_text(text)


def test_pauses_pressed_at_once_are_one_pause_and_one_audit_row(console: Console) -> None:
    # rc18: five pauses at once: two were accepted and audited, because the command was taken
    # as done only after the send's await, where the other requests were judged.
    socket = _SlowSocket()
    console.hub.lanes["J2"] = LaneView("J2", socket=socket)  # type: ignore[arg-type]
    console.hub.lanes["J2"].state = {"status": "running", "kind": "drill"}
    before = len(_audit(console))
    path = "/lanes/J2/command"

    async def press_five() -> list[int]:
        requests = [
            _request(console, "inst", "POST", path, {"name": "J2"}, {"command": "pause"})
            for _ in range(5)
        ]
        replies = await asyncio.gather(*(console.command(r) for r in requests))
        return sorted(int(r.status_code) for r in replies)

    assert asyncio.run(press_five()) == [303, 409, 409, 409, 409]
    assert [m["command"] for m in socket.sent] == ["pause"]
    assert [r["action"] for r in _audit(console)[: len(_audit(console)) - before]] == ["lane_pause"]


# -- 2. every runs table shows the corrected score ----------------------------------------------


@pytest.fixture(scope="module")
def runs(console: Console, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """A run of B-101 recorded, then rescored by an instructor's correction (as the debrief
    amends it)."""
    from range.records.store import Records

    assert console.db_url is not None
    runs_dir = tmp_path_factory.mktemp("runs")
    scored = saved_run(console.db_url, runs_dir, "B-101")
    with Records.open(console.db_url) as records:
        recorded = records.drill_run(scored)
        new = {"decision": recorded["decision"], "score": 42.0, "passed": False}
        records.amend_drill_run(scored, "inst", new, {"why": "test"})
    return {"corrected": scored}


def _get(console: Console, user: str, handler: Any, path: str, params: dict[str, Any]) -> str:
    request = _request(console, user, "GET", path, params, {})
    status, body = _call(handler, request)
    assert status == 200, body
    return body


def test_every_runs_table_shows_the_corrected_score_and_who_corrected_it(
    console: Console, runs: dict[str, int]
) -> None:
    import html
    import re

    run = runs["corrected"]
    for page in (
        _get(console, "boss", console.roster, "/records", {}),
        _get(console, "inst", console.officer, "/officers/B-101", {"badge": "B-101"}),
    ):
        rows = re.findall(rf'<tr><td><a href="/runs/{run}" class="run-link">[^\n]*', page)
        assert len(rows) == 1, page
        cells = re.sub(r"<(?!/?td)[^>]+>", "", html.unescape(rows[0]))
        assert "<td>42 (corrected by inst)</td>" in cells, cells


# -- 4. an aborted run has no decision ----------------------------------------------------------


def _aborted_run(runs_dir: Path) -> dict[str, Any]:
    """The console's branch drill, aborted by inst at 1 s."""
    return _live_run(runs_dir, [{"command": "abort", "by": "inst", "args": {}}])


def _live_run(runs_dir: Path, at_1_s: list[dict[str, Any]]) -> dict[str, Any]:
    """The console's branch drill played through the lane's live control, the commands
    `at_1_s` given at 1 s, as the console sends them."""
    import queue

    from console_support import DRILL

    from drills.officer import find_officer
    from drills.schema import read_drill_file
    from range.console.lane import LiveControl
    from range.runs.drill import RunConfig, Session

    commands: queue.Queue[dict[str, Any]] = queue.Queue()
    control = LiveControl(commands, lambda state, events: None, {}, speed=None)

    def on_frame(session: Session) -> None:
        if abs(session.engine.t - 1.0) < 1e-9:
            for command in at_1_s:
                commands.put(command)
        control(session)

    source = read_drill_file(str(DRILL))
    config = RunConfig(
        source.drill,
        find_officer("traffic-stop-compliant-correct-v1"),
        seed=5,
        runs_dir=runs_dir,
        drill_file=source,
        officer_name="B-202",
        on_frame=on_frame,
    )
    return Session(config).run().as_json()


def test_records_history_gives_an_aborted_run_no_decision(
    console: Console, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main
    from range.records.store import Records

    assert console.db_url is not None
    result = _aborted_run(tmp_path_factory.mktemp("aborted"))
    assert result["state"] == "aborted"  # (its score may hold a decision: records show none)
    with Records.open(console.db_url) as records:
        run = records.add_drill_run("B-202", result)
    capsys.readouterr()
    assert main(["records", "history", "B-202", "--db", console.db_url]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if f"drill {run} " in x]
    assert line.endswith("ABORTED (aborted by inst)"), line
    assert main(["records", "show", "--drill-run", str(run), "--db", console.db_url]) == 0
    shown = capsys.readouterr().out
    assert "ABORTED: not graded; seed 5" in shown, shown


# -- 5. long said lines wrap at every width -----------------------------------------------------

_LONG = "a" * 500  # MAX_SAY_CHARS and MAX_NOTE_CHARS


@pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="needs Debian's chromium and chromium-driver (scripts/test.sh installs them)",
)
def test_a_500_character_line_wraps_in_the_debrief_at_1280_px(
    console: Console, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from console_support import chromium

    from range.records.store import Records

    assert console.db_url is not None
    by = {"by": "inst"}
    result = _live_run(
        tmp_path_factory.mktemp("long"),
        [
            {"command": "say", **by, "args": {"subject": "walker", "text": _LONG}},
            {"command": "mark", **by, "args": {"act": "command.stop", "text": _LONG}},
            {"command": "flag", **by, "args": {"note": _LONG}},
        ],
    )
    with Records.open(console.db_url) as records:
        run = records.add_drill_run("B-202", result)
    page = _get(console, "inst", console.run_page, f"/runs/{run}", {"id": str(run)})
    assert page.count(_LONG) >= 3
    # The page as the browser gets it, its stylesheet inline (no server here).
    css = (Path(__file__).resolve().parent.parent / "range/console/static/console.css").read_text()
    link = '<link rel="stylesheet" href="/static/console.css">'
    assert link in page
    shown = tmp_path_factory.mktemp("page") / "run.html"
    shown.write_text(page.replace(link, f"<style>{css}</style>"))
    browser = chromium()
    try:
        browser.set_window_size(1280, 900)
        browser.get(shown.as_uri())
        inner = browser.execute_script("return window.innerWidth")
        wide = browser.execute_script("return document.documentElement.scrollWidth")
        assert inner <= 1280
        assert wide <= inner, f"the page is {wide} px wide in a {inner} px window"
    finally:
        browser.quit()


# -- 6 and 7. the console checks its folder and its port before it says where it is -------------


@pytest.fixture
def busy_port() -> Any:
    """A port another process listens on (a console started on it would not stop: every
    case here is refused before it could serve)."""
    import socket

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def test_console_runs_dir_must_be_a_folder_it_can_write(
    console: Console,
    tmp_path: Path,
    busy_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from range.cli.main import main

    assert console.db_url is not None
    afile = tmp_path / "afile"
    afile.write_text("hi\n")
    for given, why in (
        (afile, f"--runs-dir {afile} is a file, not a folder"),
        (afile / "runs", f"--runs-dir {afile / 'runs'} cannot be made: Not a directory"),
    ):
        argv = ["console", "--port", str(busy_port), "--db", console.db_url]
        assert main([*argv, "--runs-dir", str(given)]) == 2
        out, err = capsys.readouterr()
        assert (out, err) == ("", f"openrange console: {why}\n")


def test_console_on_a_port_in_use_says_so_in_one_line_and_no_address(
    console: Console, tmp_path: Path, busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main

    assert console.db_url is not None
    argv = ["console", "--port", str(busy_port), "--db", console.db_url]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs")]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"openrange console: port {busy_port} on 127.0.0.1 is in use (another console?)\n"
    )


# -- 8. the Accounts page refuses a badge for another role than officer -------------------------


def test_the_accounts_page_refuses_a_badge_with_a_role_other_than_officer(
    console: Console,
) -> None:
    import html

    from console_support import PASSWORD

    def post(**form: str) -> str:
        status, body = _call(console.users, _request(console, "boss", "POST", "/users", {}, form))
        assert status == 200
        return html.unescape(body)

    new = {"name": "x3", "password": PASSWORD, "again": PASSWORD}
    page = post(action="add", role="instructor", badge="B-101", **new)
    assert "account 'x3': only an officer account has a badge (the Badge field)" in page
    page = post(action="role", name="inst", role="instructor", badge="B-101")
    assert "account 'inst': only an officer account has a badge (the Badge field)" in page
    page = post(action="role", name="arm", role="officer")
    assert "account 'arm': an officer account needs a badge (the Badge field)" in page
    with ConsoleStore.open(console.db_url) as store:
        assert store.user("x3") is None
        inst, arm = store.user("inst"), store.user("arm")
    assert inst is not None and inst.badge is None
    assert arm is not None and arm.role.value == "armorer"
    actions = [r["action"] for r in _audit(console)]
    assert "account_created" not in actions and "account_role" not in actions


# -- 9. the small items -------------------------------------------------------------------------


def test_a_bad_mark_number_is_named_as_the_row_names_it(
    console: Console, runs: dict[str, int]
) -> None:
    import html

    run = runs["corrected"]
    path = f"/runs/{run}/correct"
    request = _request(console, "inst", "POST", path, {"id": str(run)}, {"m": "abc"})
    status, body = _call(console.run_correct, request)
    assert status == 400
    assert "Mark: 'abc' is not a mark's number (the row's m field)" in html.unescape(body)


def test_a_lane_name_not_ascii_is_refused_saying_ascii() -> None:
    from range.console.protocol import check_lane_name

    with pytest.raises(ValueError, match=r"^lane name 'ÄLANE': use ASCII letters, digits"):
        check_lane_name("ÄLANE")


def test_an_attempt_record_is_served_under_its_own_name_not_a_certificate_s(
    console: Console,
) -> None:
    from console_support import qualify

    assert console.db_url is not None
    for points, name in ((96, "certificate"), (50, "attempt-record")):
        qid = qualify(console.db_url, "B-202", points)
        path = f"/certificates/{qid}.pdf"
        request = _request(console, "boss", "GET", path, {"id": qid}, {})
        response = asyncio.run(console.certificate(request))
        assert response.status_code == 200
        assert bytes(response.body).startswith(b"%PDF")
        disposition = response.headers["content-disposition"]
        assert disposition == f"inline; filename={name}-{qid}.pdf"


def _asgi_get(app: Any, path: str, query: bytes = b"", user: str | None = None) -> tuple[int, str]:
    """GET `path` through the whole app (routing, session, the 404 handler), signed in as
    `user` with a session cookie made as the session middleware makes it."""
    from base64 import b64encode

    from itsdangerous import TimestampSigner

    from range.console.app import SESSION_COOKIE

    console = app.state.console
    headers = [(b"host", b"testserver")]
    if user is not None:
        with ConsoleStore.open(console.db_url) as store:
            sid = store.new_session(user, SESSION_MAX_AGE_S)
        data = b64encode(json.dumps({"user": user, "sid": sid}).encode())
        cookie = TimestampSigner(str(console.session_key)).sign(data).decode()
        headers.append((b"cookie", f"{SESSION_COOKIE}={cookie}".encode()))
    return asgi_request(app, path, headers, query)


def asgi_request(
    app: Any,
    path: str,
    headers: list[tuple[bytes, bytes]],
    query: bytes = b"",
    server: tuple[str, int] = ("testserver", 80),
) -> tuple[int, str]:
    """One GET through an ASGI app, in process, as a browser's would come: its status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "server": server,
        "client": ("127.0.0.1", 50000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(status), body.decode("utf-8", "replace")


def test_a_path_no_page_has_is_the_one_line_error_page_and_t_takes_no_underscore(
    console: Console, runs: dict[str, int]
) -> None:
    from range.console.app import create_app

    assert console.db_url is not None
    app = create_app(console.db_url, secure_cookies=False, runs_dir=console.runs_dir)
    try:
        for path in ("/runs/-1", "/runs/abc"):
            status, body = _asgi_get(app, path, user="inst")
            assert status == 404
            assert f"<h1>No page at {path}.</h1>" in body, body
            assert _asgi_get(app, path) == (404, "Not Found")  # no session: nothing shown
        run = runs["corrected"]
        status, body = _asgi_get(app, f"/runs/{run}/view.png", b"t=1_0", user="inst")
        assert status == 400 and "t=1_0: a time in seconds, 0 or more" in body
    finally:
        app.state.console.views.close()


def test_the_lanes_page_lists_its_lanes_by_name(console: Console) -> None:
    import re

    for name in ("K2", "K1", "K3"):  # the order they connected
        console.hub.lanes[name] = LaneView(name)
    page = _get(console, "inst", console.home, "/", {})
    cards = [c for c in re.findall(r'id="card-([^"]+)"', page) if c.startswith("K")]
    assert cards == ["K1", "K2", "K3"]


def test_the_trend_shows_a_cell_that_does_not_apply_as_a_dash_as_the_others(
    console: Console, runs: dict[str, int]
) -> None:
    import re

    page = _get(console, "inst", console.officer, "/officers/B-101", {"badge": "B-101"})
    # The run played no force: no less-lethal first, no stop time, as every empty cell reads.
    row = re.search(rf'<tr><td><a href="/runs/{runs["corrected"]}">.*?</tr>', page, re.S)
    assert row, page
    assert "n/a" not in row.group(0)
    assert row.group(0).endswith("<td>-</td></tr>"), row.group(0)


def test_the_docs_name_phone_draw_with_the_replicas_the_lane_page_lists() -> None:
    from drills.schema import find_drill
    from range.console.app import WEAPON_NAMES

    issued = find_drill("phone-draw-v1").issued_weapons()
    label = f"phone-draw-v1 ({', '.join(WEAPON_NAMES[w] for w in issued)})"
    docs = (Path(__file__).resolve().parent.parent / "docs" / "console.md").read_text()
    assert f'"{label}"' in docs
    assert '"phone-draw-v1 (pistol)"' not in docs
