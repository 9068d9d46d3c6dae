"""The console reads a client's WebSocket JSON only within bounds: a message nested 20,000 deep
or over the size limit is answered with an error, and the console and the lane's link go on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import Proc, free_port, processes, seed_accounts, start_console
from websockets.sync.client import connect

from range.console.protocol import (
    MAX_MESSAGE_DEPTH,
    MessageError,
    json_depth,
    parse_message,
)

DEEP = "[" * 20_000 + "]" * 20_000


def test_json_depth_counts_brackets_outside_strings() -> None:
    assert json_depth('{"a": [1, {"b": []}]}') == 4
    assert json_depth('"[[[[{{{"') == 0
    assert json_depth('{"a": "x\\"[[[", "b": [[]]}') == 3
    assert json_depth(DEEP) == 20_000


def test_a_20000_deep_message_is_an_error_not_a_recursion() -> None:
    with pytest.raises(MessageError, match="nested 20000 deep"):
        parse_message(DEEP)
    nested = "[" * MAX_MESSAGE_DEPTH + "]" * MAX_MESSAGE_DEPTH
    with pytest.raises(MessageError, match="not a JSON object"):
        parse_message(nested)  # at the limit: parsed, then refused for not being an object
    with pytest.raises(MessageError, match="at most 10"):
        parse_message('{"a": "' + "x" * 20 + '"}', max_chars=10)
    with pytest.raises(MessageError, match="not JSON"):
        parse_message("{")
    assert parse_message('{"type": "state", "events": [[1]]}') == {
        "type": "state",
        "events": [[1]],
    }


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[int, str, Proc]]:
    db_url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    key = seed_accounts(db_url)
    port = free_port()
    with processes() as procs:
        proc = start_console(port, db_url, tmp_path / "console.log")
        procs.append(proc)
        yield port, key, proc


def test_the_console_answers_a_deep_message_and_keeps_the_lane(
    console: tuple[int, str, Proc],
) -> None:
    port, key, proc = console
    url = f"ws://127.0.0.1:{port}/ws/lane"
    with connect(url) as ws:
        ws.send(DEEP)  # as the hello
        assert json.loads(ws.recv(timeout=10)) == {
            "type": "refused",
            "reason": "a message nested 20000 deep (at most 32)",
        }
    with connect(url) as ws:
        ws.send(json.dumps({"type": "hello", "lane": "L1", "key": key, "state": None}))
        assert json.loads(ws.recv(timeout=10))["type"] == "attached"
        ws.send(DEEP)
        assert json.loads(ws.recv(timeout=10)) == {
            "type": "error",
            "reason": "a message nested 20000 deep (at most 32)",
        }
        # The same link still carries the lane: a finished run without a folder is acknowledged
        # by a broadcast only, so a bad frame after it gets its error again, in order.
        ws.send("[1, 2]")
        assert json.loads(ws.recv(timeout=10)) == {
            "type": "error",
            "reason": "a message that is not a JSON object",
        }
    with connect(url) as ws:
        ws.send(json.dumps({"type": "hello", "key": key}))
        assert json.loads(ws.recv(timeout=10)) == {
            "type": "refused",
            "reason": "a hello with no lane",
        }
    with connect(url) as ws:
        # Frames of the wrong shape are skipped; the link stays and still answers.
        ws.send(json.dumps({"type": "hello", "lane": "L2", "key": key, "state": None}))
        assert json.loads(ws.recv(timeout=10))["type"] == "attached"
        ws.send(json.dumps({"type": "finished", "result": "x"}))
        ws.send(json.dumps({"type": "state", "state": {"status": "idle"}, "events": 5}))
        ws.send("{}}")
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "error" and reply["reason"].startswith("a message that is not JSON")
    assert proc.popen.poll() is None
    assert "Traceback" not in proc.log.read_text()


def test_a_second_lane_with_a_connected_name_is_refused(console: tuple[int, str, Proc]) -> None:
    # Issue 18 (nu18 #4): a second process under a connected lane's name took it over, and when
    # it went the real lane showed "not connected" though its link was open.
    port, key, proc = console
    url = f"ws://127.0.0.1:{port}/ws/lane"

    def hello(instance: str) -> str:
        return json.dumps(
            {"type": "hello", "lane": "L1", "key": key, "instance": instance, "state": None}
        )

    with connect(url) as first:
        first.send(hello("aaaa"))
        assert json.loads(first.recv(timeout=10)) == {"type": "attached", "lane": "L1"}
        with connect(url) as second:
            second.send(hello("bbbb"))
            assert json.loads(second.recv(timeout=10)) == {
                "type": "refused",
                "reason": "a lane named L1 is already connected: give this one another --name",
            }
        # The first still holds the lane: its frames are read (a bad one answered).
        first.send("[1]")
        assert json.loads(first.recv(timeout=10))["type"] == "error"
        # The same process coming back (its old link not yet seen gone) takes its name over.
        with connect(url) as again:
            again.send(hello("aaaa"))
            assert json.loads(again.recv(timeout=10))["type"] == "attached"
            again.send("[1]")
            assert json.loads(again.recv(timeout=10))["type"] == "error"
    assert proc.popen.poll() is None


def test_a_new_run_starts_the_lanes_event_list_afresh(console: tuple[int, str, Proc]) -> None:
    # Issue 18 (nu18 #9): the lane page's Events mixed the last run's (its run_ended too) with
    # the new one's.
    from console_support import Client, wait_for

    port, key, _ = console
    c = Client(f"http://127.0.0.1:{port}")
    c.login("inst")
    csrf = c.request("/").csrf

    def frame(events: list[str], new_run: bool = False) -> str:
        message: dict[str, object] = {
            "type": "state",
            "lane": "L1",
            "state": {"status": "running", "t_s": 0.0},
            "events": [{"t": 0.0, "kind": k, "text": "x"} for k in events],
        }
        if new_run:
            message["new_run"] = True
        return json.dumps(message)

    with c.live(csrf) as browser, connect(f"ws://127.0.0.1:{port}/ws/lane") as lane:
        lane.send(json.dumps({"type": "hello", "lane": "L1", "key": key, "state": None}))
        lane.send(frame(["first_run_event", "run_ended"]))
        wait_for(browser, lambda m: "run_ended" in json.dumps(m.get("events", [])), 10)
        lane.send(frame(["second_run_event"], new_run=True))
        fresh = wait_for(browser, lambda m: "second_run_event" in json.dumps(m.get("events", [])))
        assert fresh["full"] is True  # the browser replaces its list
        assert [e["kind"] for e in fresh["events"]] == ["second_run_event"]
        page = c.request("/lanes/L1").body
        assert "second_run_event" in page and "first_run_event" not in page


def test_a_lane_marks_a_new_run_s_first_frame_only() -> None:
    from range.console.lane import LaneProcess

    lane = LaneProcess("L1", "127.0.0.1:1", "k" * 43, None)
    sent: list[dict[str, object]] = []
    lane._send = sent.append  # type: ignore[method-assign]
    lane._new_run = True  # as _run and _run_course set it when a run begins
    lane._publish({"status": "running"}, [])
    lane._publish({"status": "running"}, [])
    assert [m.get("new_run") for m in sent] == [True, None]


DRILL_FILE = str(Path(__file__).parent / "data" / "console" / "branch.toml")


def test_a_drill_file_start_sends_and_audits_the_file_not_the_drop_down(
    console: tuple[int, str, Proc], tmp_path: Path
) -> None:
    # Issue 18 (nu18 #14): the audit named the drop-down's drill beside the drill file played.
    from console_support import Client

    port, key, _ = console
    c = Client(f"http://127.0.0.1:{port}")
    c.login("inst")
    csrf = c.request("/").csrf
    with connect(f"ws://127.0.0.1:{port}/ws/lane") as lane:
        lane.send(json.dumps({"type": "hello", "lane": "L1", "key": key, "state": None}))
        assert json.loads(lane.recv(timeout=10))["type"] == "attached"
        form = {
            "csrf": csrf,
            "command": "start",
            "drill": "knife-approach-v1",
            "drill_file": DRILL_FILE,
        }
        for _ in range(50):  # until the console has taken the hello
            reply = c.request("/lanes/L1/command", form)
            if reply.status != 409:
                break
        assert reply.status == 303
        sent = json.loads(lane.recv(timeout=10))
        assert sent["args"] == {"drill_file": DRILL_FILE}
    from range.console.store import ConsoleStore

    with ConsoleStore.open(f"sqlite:///{tmp_path / 'records.sqlite'}") as store:
        start = next(r for r in store.audit_rows() if r["action"] == "lane_start")
    assert json.loads(start["detail"]) == {"drill_file": DRILL_FILE, "lane": "L1"}


def test_a_lane_says_when_its_console_link_is_lost_and_back(tmp_path: Path) -> None:
    # Issue 18 (nu18 #17): a lane logged nothing after "connecting to": no lost, no re-attached.
    import time

    from console_support import start_lane

    db_url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    key = seed_accounts(db_url)
    port = free_port()
    log = tmp_path / "lane.log"

    def said(text: str, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in log.read_text():
                return True
            time.sleep(0.1)
        return False

    with processes() as procs:
        procs.append(start_lane(port, "L1", key, tmp_path / "runs", log))
        assert said(f"lane L1: no console at ws://127.0.0.1:{port}/ws/lane;")
        console = start_console(port, db_url, tmp_path / "console.log")
        procs.append(console)
        assert said("lane L1: connected to the console; 0 finished runs offered")
        console.stop()
        assert said("lane L1: link to the console lost at")
        procs.append(start_console(port, db_url, tmp_path / "console2.log"))
        assert said("lane L1: reconnected to the console; 0 finished runs offered")
    text = log.read_text()
    assert text.count("no console at") == 1  # said once, not every half second
    assert "Traceback" not in text


def test_lanes_is_the_lanes_page(console: tuple[int, str, Proc]) -> None:
    # Issue 18 (nu18 #19): /lanes was a 404, though every lane's page is /lanes/NAME.
    from console_support import Client

    port, _, _ = console
    c = Client(f"http://127.0.0.1:{port}")
    c.login("inst")
    reply = c.request("/lanes")
    assert (reply.status, reply.headers["location"]) == (303, "/")


def test_first_start_checks_the_name_before_the_passwords(tmp_path: Path) -> None:
    # Issue 18 (nu18 #19): a bad name with differing passwords was told only "the passwords
    # differ"; the name, asked first, is checked first.
    from console_support import Client

    port = free_port()
    with processes() as procs:
        procs.append(start_console(port, f"sqlite:///{tmp_path / 'r.sqlite'}", tmp_path / "c.log"))
        c = Client(f"http://127.0.0.1:{port}")
        page = c.request("/setup")
        form = {"csrf": page.csrf, "name": "no spaces", "password": "a" * 12, "again": "b" * 12}
        reply = c.request("/setup", form)
        assert "account name &#39;no spaces&#39;: use ASCII letters" in reply.body
        assert "The passwords differ" not in reply.body
