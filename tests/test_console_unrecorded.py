"""A lane's finished run that the records refuse (an unknown badge, a store error) is answered
once: the lane holds it, folder and all, and offers it no more (it used to offer it every half
second for ever); the console shows the lane flagged with the reason in one line, and a range
master retries it (once the cause is fixed) or dismisses it."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from console_support import (
    DRILL,
    PASSWORD,
    PROJECT,
    Range,
    browser_login,
    chromium,
    console_range,
    rows_when_written,
    start_console,
    wait_for,
)
from PIL import Image
from websockets.sync.client import connect

from range.console.auth import hash_password
from range.console.lane import LaneProcess
from range.console.store import ConsoleStore, Role
from range.records.store import Records


def until(check: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    """`check()` again until it is true (an element not there yet counts as false)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # a page mid-load, an element not drawn yet
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"never happened: {check}")


UNKNOWN = "no officer with badge 'B-999': add them with `openrange records officers --add`"


@pytest.fixture
def rng(tmp_path: Path) -> Iterator[Range]:
    with console_range(tmp_path) as r:
        yield r


def _audit(db_url: str, action: str) -> list[dict[str, Any]]:
    with ConsoleStore.open(db_url) as store:
        return [r for r in store.audit_rows(1000) if r["action"] == action]


def _held(page: str) -> list[str]:
    """The lines of the page's 'Not recorded' list."""
    return [
        " ".join(unescape(m).split())
        for m in re.findall(r'<span class="reason">(.*?)</span>', page, re.S)
    ]


def test_the_lane_holds_a_refused_run_until_retry_or_dismiss() -> None:
    lane = LaneProcess("L1", "127.0.0.1:9", "k" * 43, None)
    sent: list[dict[str, Any]] = []
    lane._send = sent.append  # type: ignore[method-assign]
    result = {"run_dir": "/runs/r1", "drill": "d-v1", "badge": "B-999", "files": {}}
    lane._offer(result)
    assert lane.finished == [result] and sent[-1]["type"] == "finished"
    lane._receive({"type": "unrecorded", "run_dir": "/runs/r1", "reason": "no officer\n  B-999"})
    assert lane.finished == []  # offered no more, in no hello
    assert lane.unrecorded_rows() == [
        {
            "run_dir": "/runs/r1",
            "kind": "drill",
            "what": "d-v1",
            "badge": "B-999",
            "started_by": "",
            "reason": "no officer B-999",
        }
    ]
    lane._receive({"type": "retry", "run_dir": "/runs/r1", "by": "boss"})
    assert lane.finished == [result] and lane.unrecorded == {}
    assert sent[-1] == {"type": "finished", "lane": "L1", "result": result}
    lane._receive({"type": "unrecorded", "run_dir": "/runs/r1", "reason": "again"})
    count = len(sent)
    lane._receive({"type": "dismiss", "run_dir": "/runs/r1", "by": "boss"})
    assert lane.finished == [] and lane.unrecorded == {} and len(sent) == count
    # A retry or an answer about a run the lane does not hold changes nothing.
    lane._receive({"type": "retry", "run_dir": "/runs/none"})
    lane._receive({"type": "unrecorded", "run_dir": "/runs/none", "reason": "x"})
    assert lane.finished == [] and lane.unrecorded == {} and len(sent) == count


def test_a_refused_run_is_answered_once_flagged_and_dismissed(rng: Range) -> None:
    url = f"ws://127.0.0.1:{rng.port}/ws/lane"
    boss, inst = rng.client(), rng.client()
    boss.login("boss")
    inst.login("inst")
    csrf = boss.request("/").csrf
    # A start for an officer the records do not know is refused before the lane runs it.
    start = {"csrf": csrf, "command": "start", "drill_file": str(DRILL), "badge": "B-999"}
    refused = boss.request("/lanes/L1/command", start)
    assert refused.status == 400 and unescape(refused.body) == f"Officer: {UNKNOWN}"
    drill = {"run_dir": "/lane/runs/r1", "drill": "x-v1", "badge": "B-999", "files": {}}
    course = {
        "kind": "course",
        "course": "fbi-pistol-2019-v1",
        "run_dir": "/lane/runs/c1",
        "badge": "B-101",
        "files": {},
        "score": {},
    }
    hello = {"type": "hello", "lane": "L1", "key": rng.key, "state": None}
    with connect(url) as ws:
        ws.send(json.dumps({**hello, "finished": [drill]}))
        assert json.loads(ws.recv(timeout=10))["type"] == "attached"
        assert json.loads(ws.recv(timeout=10)) == {
            "type": "unrecorded",
            "run_dir": "/lane/runs/r1",
            "reason": UNKNOWN,
        }
        # A course attempt the records cannot take (here: its folder came empty) is
        # answered the same way, never acknowledged as recorded.
        ws.send(json.dumps({"type": "finished", "lane": "L1", "result": course}))
        answer = json.loads(ws.recv(timeout=10))
        assert answer["type"] == "unrecorded" and answer["run_dir"] == "/lane/runs/c1"
        assert answer["reason"].endswith("L1-c1 does not exist")
        page = boss.request("/lanes/L1").body
        assert _held(page) == [
            f"drill x-v1 for B-999 (/lane/runs/r1) not recorded: {UNKNOWN}",
            "course fbi-pistol-2019-v1 for B-101 (/lane/runs/c1) not recorded: " + answer["reason"],
        ]
        assert page.count('class="retry"') == 2 and page.count('class="dismiss"') == 2
        assert "2 runs not recorded" in boss.request("/").body
        # An instructor sees the flag; only a range master answers it.
        page = inst.request("/lanes/L1").body
        assert len(_held(page)) == 2 and 'class="retry"' not in page
        dismiss = {"csrf": inst.request("/").csrf, "run_dir": "/lane/runs/r1", "answer": "dismiss"}
        assert inst.request("/lanes/L1/unrecorded", dismiss).status == 403
        dismiss["csrf"] = csrf
        if shutil.which("chromium") and shutil.which("chromedriver"):
            _browser_dismisses(rng, ws)  # the range master presses Dismiss in the page
        else:
            assert boss.request("/lanes/L1/unrecorded", dismiss).status == 303
            assert json.loads(ws.recv(timeout=10)) == {
                "type": "dismiss",
                "run_dir": "/lane/runs/r1",
                "by": "boss",
            }
        assert [r.split(" (")[0] for r in _held(boss.request("/lanes/L1").body)] == [
            "course fbi-pistol-2019-v1 for B-101"
        ]
        assert boss.request("/lanes/L1/unrecorded", dismiss).status == 404  # gone
        bad = {**dismiss, "run_dir": "/lane/runs/c1", "answer": "delete"}
        assert boss.request("/lanes/L1/unrecorded", bad).status == 400
    refusals = _audit(rng.db_url, "run_refused")
    assert len(refusals) == 2 and "B-999" in refusals[-1]["detail"]  # newest first
    assert len(_audit(rng.db_url, "run_dismiss")) == 1
    # A console that restarts learns what the lane holds from its hello.
    with connect(url) as ws:
        row = {"run_dir": "/lane/runs/c1", "kind": "course", "what": "c", "reason": "full\ndisk"}
        ws.send(json.dumps({**hello, "unrecorded": [row, "junk", {"reason": "no run_dir"}]}))
        time.sleep(0.5)
        assert _held(boss.request("/lanes/L1").body) == [
            "course c (/lane/runs/c1) not recorded: full disk"
        ]
    with Records.open(rng.db_url) as records:
        assert records.query("SELECT id FROM drill_runs") == []
    assert "Traceback" not in (rng.tmp / "console.log").read_text()


def _browser_dismisses(rng: Range, ws: Any) -> None:
    """In headless Chromium: the lanes page flags the lane, the lane page lists both runs, and
    Dismiss takes one off the list with no reload (the console's snapshot redraws it)."""
    from selenium.webdriver.common.by import By

    browser = chromium()
    try:
        browser_login(browser, rng.port, "boss")
        until(lambda: browser.find_element(By.CSS_SELECTOR, "#card-L1 .flag").is_displayed())
        assert browser.find_element(By.CSS_SELECTOR, "#card-L1 .flag").text == (
            "2 runs not recorded"
        )
        browser.get(f"http://127.0.0.1:{rng.port}/lanes/L1")

        def listed() -> list[list[str]]:
            # One script call: the page redraws the list whenever a snapshot arrives, so
            # elements found in one call can be gone (stale) by the next.
            return list(
                browser.execute_script(
                    "return [...document.querySelectorAll('#unrecorded li')]"
                    ".map(li => [li.dataset.run, li.textContent])"
                )
            )

        until(lambda: [run for run, _ in listed()] == ["/lane/runs/r1", "/lane/runs/c1"])
        assert UNKNOWN in listed()[0][1]
        if os.environ.get("OPENRANGE_SCREENSHOTS"):  # docs/console.md shows it
            browser.set_window_size(1100, 1000)
            image = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
            image.quantize(64).save(PROJECT / "docs/img/console-unrecorded.png", optimize=True)
        dismiss = '#unrecorded li[data-run="/lane/runs/r1"] button.dismiss'
        until(lambda: _clicked(browser, dismiss))
        assert json.loads(ws.recv(timeout=10)) == {
            "type": "dismiss",
            "run_dir": "/lane/runs/r1",
            "by": "boss",
        }
        until(lambda: [run for run, _ in listed()] == ["/lane/runs/c1"])
        retry = '#unrecorded li[data-run="/lane/runs/c1"] button.retry'
        until(lambda: browser.find_element(By.CSS_SELECTOR, retry).is_displayed())
    finally:
        browser.quit()


def _clicked(browser: Any, selector: str) -> bool:
    """Click the element, or say False when a redraw replaced it between finding and clicking."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        browser.find_element(By.CSS_SELECTOR, selector).click()
    except StaleElementReferenceException:
        return False
    return True


def _second_store(url: str, key: str) -> None:
    """Another records database for the same range: its lane key and accounts, but no
    officers (a console moved to a new store, the officers not yet copied)."""
    hashed = hash_password(PASSWORD)
    with ConsoleStore.open(url) as store:
        store.records.execute(
            "INSERT INTO console_settings (key, value) VALUES (?, ?)", "lane_key", key
        )
        store.add_user("boss", Role.RANGE_MASTER, hashed, None)
        store.add_user("inst", Role.INSTRUCTOR, hashed, None)


def test_a_real_lane_stops_offering_a_refused_run_and_a_retry_records_it(
    rng: Range,
) -> None:
    second = f"sqlite:///{rng.tmp / 'second.sqlite'}"
    _second_store(second, rng.key)
    rng.lane("LANE1")
    c = rng.client()
    c.login("inst")
    csrf = c.request("/").csrf
    with c.live(csrf) as ws:
        wait_for(ws, lambda m: m.get("lane") == "LANE1" and m.get("connected") is True)
        start = {"csrf": csrf, "command": "start", "drill_file": str(DRILL), "badge": "B-101"}
        assert c.request("/lanes/LANE1/command", {**start, "seed": "3"}).status == 303
        running = wait_for(ws, lambda m: m.get("state", {}).get("status") == "running")
        # The run goes under the officer's name from the records, with their badge.
        assert running["state"]["officer_name"] == "Alex Officer"
        assert running["state"]["badge"] == "B-101"
    # Mid-run the console is replaced by one over a store that does not know B-101.
    rng.procs[0].stop(signal.SIGKILL)
    rng.procs.append(start_console(rng.port, second, rng.tmp / "console2.log"))
    refused = rows_when_written(lambda: _audit(second, "run_refused"), 40)
    assert len(refused) == 1 and "no officer with badge 'B-101'" in refused[0]["detail"]
    attached = len(_audit(second, "lane_attached"))
    time.sleep(2.0)  # four of the lane's old retry periods: no new offer, no reconnection
    assert len(_audit(second, "run_refused")) == 1
    assert len(_audit(second, "lane_attached")) == attached
    # The lane keeps the run's folder and says so in its log.
    (run_dir,) = [p.parent for p in (rng.tmp / "runs" / "LANE1").glob("*/result.json")]
    assert (run_dir / "events.jsonl").is_file()
    assert (
        f"run {run_dir} not recorded: no officer with badge 'B-101'"
        in (rng.tmp / "LANE1.log").read_text()
    )
    boss = rng.client()
    boss.login("boss")
    page = boss.request("/lanes/LANE1").body
    (line,) = _held(page)
    assert line.startswith("drill console-branch-v1 for B-101 (")
    assert line.endswith(
        "not recorded: no officer with badge 'B-101': add them with"
        " `openrange records officers --add`"
    )
    assert "1 run not recorded" in boss.request("/").body
    # The cause fixed, the range master retries: the run is recorded and the flag goes.
    with Records.open(second) as records:
        records.add_officer("B-101", "Alex Officer", "Metro PD")
    (held,) = re.findall(r'data-run="([^"]+)"', page)
    retry = {"csrf": boss.request("/").csrf, "run_dir": unescape(held), "answer": "retry"}
    assert boss.request("/lanes/LANE1/unrecorded", retry).status == 303
    with Records.open(second) as records:
        runs = rows_when_written(lambda: records.drill_runs("B-101"))
    assert len(runs) == 1 and runs[0]["drill"] == "console-branch-v1"
    debrief = unescape(boss.request(f"/runs/{runs[0]['id']}").body)
    assert "seed 3, officer Alex Officer (badge B-101);" in debrief
    deadline = time.monotonic() + 10
    while _held(boss.request("/lanes/LANE1").body) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _held(boss.request("/lanes/LANE1").body) == []
    assert [r["actor"] for r in _audit(second, "run_retry")] == ["boss"]
    assert len(_audit(second, "run_refused")) == 1
    for log in ("console2.log", "LANE1.log"):
        assert "Traceback" not in (rng.tmp / log).read_text()


def test_a_restarted_lane_offers_and_holds_its_pending_runs_again(tmp_path: Path) -> None:
    # Issue 18 (f18c #5): a lane kept its runs waiting for the console and those held
    # unrecorded in memory only: restarted, it offered none and the console showed none.
    runs = tmp_path / "runs"
    folders = {}
    for name in ("r1", "r2"):
        folders[name] = runs / name
        folders[name].mkdir(parents=True)
        (folders[name] / "events.jsonl").write_text(f'{{"run": "{name}"}}\n')
    lane = LaneProcess("L1", "127.0.0.1:9", "k" * 43, runs)
    sent: list[dict[str, Any]] = []
    lane._send = sent.append  # type: ignore[method-assign]
    waiting = {"run_dir": str(folders["r1"]), "drill": "d-v1", "badge": "B-101", "files": {}}
    refused = {"run_dir": str(folders["r2"]), "drill": "d-v1", "badge": "B-999", "files": {}}
    lane._offer(waiting)
    lane._offer(refused)
    lane._receive({"type": "unrecorded", "run_dir": str(folders["r2"]), "reason": UNKNOWN})
    assert lane.pending_path is not None and lane.pending_path.is_file()
    # The lane process is restarted: a new one over the same runs folder.
    again = LaneProcess("L1", "127.0.0.1:9", "k" * 43, runs)
    assert [r["run_dir"] for r in again.finished] == [str(folders["r1"])]
    # Its files come from its folder again, to travel with the offer.
    assert again.finished[0]["files"] == {"events.jsonl": '{"run": "r1"}\n'}
    assert again.unrecorded_rows() == lane.unrecorded_rows()
    assert again.unrecorded_rows()[0]["reason"] == UNKNOWN
    # A retry of a run held by the earlier process sends its folder with it.
    sent.clear()
    again._send = sent.append  # type: ignore[method-assign]
    again._receive({"type": "retry", "run_dir": str(folders["r2"]), "by": "boss"})
    assert sent[-1]["result"]["files"] == {"events.jsonl": '{"run": "r2"}\n'}
    # Recorded, both are gone for good: a third process has nothing pending.
    again._receive({"type": "recorded", "run_dir": str(folders["r1"])})
    again._receive({"type": "recorded", "run_dir": str(folders["r2"])})
    third = LaneProcess("L1", "127.0.0.1:9", "k" * 43, runs)
    assert third.finished == [] and third.unrecorded == {}
    # Another lane's name in the same folder keeps its own file.
    assert LaneProcess("L2", "127.0.0.1:9", "k" * 43, runs).finished == []


def test_a_restarted_console_still_flags_a_lane_s_unrecorded_runs(rng: Range) -> None:
    # Issue 18 (f18c #5): after a console restart the runs a lane held were forgotten until
    # it re-attached, and the Lanes page said "0 runs not recorded".
    url = f"ws://127.0.0.1:{rng.port}/ws/lane"
    boss = rng.client()
    boss.login("boss")
    row = {"run_dir": "/lane/runs/c1", "kind": "course", "what": "c", "reason": "full disk"}
    hello = {"type": "hello", "lane": "L1", "key": rng.key, "state": None}
    with connect(url) as ws:
        ws.send(json.dumps({**hello, "unrecorded": [row]}))
        until(lambda: "1 run not recorded" in boss.request("/").body)
    with connect(url) as ws:  # a second lane with none: never "0 runs not recorded"
        ws.send(json.dumps({**hello, "lane": "L2", "unrecorded": []}))
        until(lambda: 'id="card-L2"' in boss.request("/").body)
    assert "0 runs not recorded" not in boss.request("/").body
    rng.procs[0].stop()
    rng.procs.append(start_console(rng.port, rng.db_url, rng.tmp / "console2.log"))
    boss = rng.client()
    boss.login("boss")
    page = boss.request("/").body
    assert 'id="card-L1"' in page and "1 run not recorded" in page
    assert "0 runs not recorded" not in page
    assert _held(boss.request("/lanes/L1").body) == [
        "course c (/lane/runs/c1) not recorded: full disk"
    ]
    # The lane re-attaches holding nothing (a range master dismissed it meanwhile): the flag goes.
    with connect(url) as ws:
        ws.send(json.dumps({**hello, "unrecorded": []}))
        until(lambda: "not recorded" not in boss.request("/").body.split('id="card-L1"')[1])
    with ConsoleStore.open(rng.db_url) as store:
        assert store.unrecorded() == {}
