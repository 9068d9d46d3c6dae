"""The console over real HTTP and WebSockets on loopback, with real lane processes: who sees
what, CSRF, rate-limited login, cookie flags, no secrets, and lanes that survive the console."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import (
    DRILL,
    PASSWORD,
    Range,
    console_range,
    lane_page,
    rows_when_written,
    saved_run,
    start_console,
    start_lane,
    wait_for,
)
from pg_support import new_database
from websockets.exceptions import InvalidStatus

from range.console.auth import MAX_FAILURES
from range.console.store import ConsoleStore
from range.records.store import Records, RecordsError
from range.runs.runlog import read_events


@pytest.fixture
def rng(tmp_path: Path) -> Iterator[Range]:
    with console_range(tmp_path) as r:
        yield r


def _drill_runs(db_url: str, badge: str) -> list[dict[str, Any]]:
    with Records.open(db_url) as records:
        return records.drill_runs(badge)


def _saved_run(tmp_path: Path, db_url: str, badge: str) -> int:
    return saved_run(db_url, tmp_path / badge, badge)


def test_anonymous_gets_only_the_login_page(rng: Range) -> None:
    c = rng.client()
    for path in (
        "/",
        "/records",
        "/runs/1",
        "/officers/B-101",
        "/users",
        "/audit",
        "/lanes/LANE1",
        "/certificates/1.pdf",
        "/compare?a=1&b=2",
    ):
        reply = c.request(path)
        assert (reply.status, reply.headers["location"]) == (303, "/login"), path
    login = c.request("/login")
    assert login.status == 200 and 'id="login"' in login.body
    assert "Lanes" not in login.body
    with pytest.raises(InvalidStatus, match=r"HTTP 403"):
        with c.live(login.csrf) as ws:
            ws.recv(timeout=2)


def test_session_cookie_flags(rng: Range) -> None:
    c = rng.client()
    reply = c.login("boss")
    assert (reply.status, reply.headers["location"]) == (303, "/")
    flags = [f.strip().lower() for f in reply.headers["set-cookie"].split(";")]
    assert flags[0].startswith("openrange_session=")
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= set(flags)
    assert "max-age=28800" in flags
    page = c.request("/")
    assert page.status == 200 and "boss (range master)" in page.body
    for header in ("content-security-policy", "x-frame-options"):
        assert page.headers[header]


def test_csrf_missing_or_wrong_is_refused(rng: Range) -> None:
    c = rng.client()
    c.request("/login")
    assert c.request("/login", {"name": "boss", "password": PASSWORD}).status == 403
    assert c.login("boss").status == 303
    csrf = c.request("/").csrf
    for form in ({"command": "pause"}, {"command": "pause", "csrf": "x" + csrf}):
        assert c.request("/lanes/LANE1/command", form).status == 403
    assert c.request("/logout", {}).status == 403
    assert (
        c.request(
            "/users", {"name": "eve", "role": "range_master", "password": "a long password"}
        ).status
        == 403
    )
    with pytest.raises(InvalidStatus, match=r"HTTP 403"):
        with c.live("wrong") as ws:
            ws.recv(timeout=2)
    # The right token from the wrong origin is refused too (cross-site WebSocket hijacking).
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus, match=r"HTTP 403"):
        with connect(
            f"ws://127.0.0.1:{rng.port}/ws/live?csrf={csrf}",
            additional_headers={"Cookie": c.cookie, "Origin": "http://evil.example"},
            open_timeout=5,
        ) as ws:
            ws.recv(timeout=2)
    with c.live(csrf) as ws:  # and with both right, it opens
        ws.ping().wait(5)
    assert c.request("/logout", {"csrf": csrf}).status == 303
    assert c.request("/").status == 303


def test_wrong_password_n_times_is_rate_limited(rng: Range) -> None:
    c = rng.client()
    for _ in range(MAX_FAILURES):
        reply = c.login("boss", "not the password")
        assert reply.status == 401 and "Wrong name or password" in reply.body
    reply = c.login("boss")  # even the right password, now
    assert reply.status == 429 and "Too many failed logins" in reply.body
    with ConsoleStore.open(rng.db_url) as store:
        actions = [r["action"] for r in store.audit_rows()]
    assert actions.count("login_failed") == MAX_FAILURES
    assert "login_refused" in actions


def test_officer_sees_only_their_own_runs(rng: Range) -> None:
    own = _saved_run(rng.tmp, rng.db_url, "B-101")
    other = _saved_run(rng.tmp, rng.db_url, "B-202")
    alex = rng.client()
    alex.login("alex")
    assert alex.request("/").headers["location"] == "/officers/B-101"
    assert alex.request(f"/runs/{own}").status == 200
    assert alex.request(f"/runs/{other}").status == 403
    assert alex.request("/officers/B-202").status == 403
    assert alex.request(f"/compare?a={own}&b={other}").status == 403
    assert alex.request("/officers/B-101").status == 200
    for path in ("/records", "/users", "/audit", "/lanes/LANE1"):
        assert alex.request(path).status == 403, path
    inst = rng.client()
    inst.login("inst")
    assert inst.request(f"/runs/{other}").status == 200
    assert inst.request("/users").status == 403
    # The armorer reads everything and controls nothing.
    arm = rng.client()
    arm.login("arm")
    assert arm.request(f"/runs/{other}").status == 200
    assert arm.request("/records").status == 200
    csrf = arm.request("/").csrf
    assert arm.request("/lanes/LANE1/command", {"csrf": csrf, "command": "pause"}).status == 403
    assert arm.request("/audit").status == 403


def _lane_live(ws: object, lane: str, status: str) -> dict[str, object]:
    return wait_for(
        ws, lambda m: m.get("lane") == lane and m.get("state", {}).get("status") == status
    )


def test_two_lanes_survive_the_console_and_reappear(rng: Range) -> None:
    rng.lane("LANE1")
    rng.lane("LANE2")
    c = rng.client()
    c.login("inst")
    csrf = c.request("/").csrf
    with c.live(csrf) as ws:
        seen = {wait_for(ws, lambda m: m.get("lane") in ("LANE1", "LANE2"))["lane"]}
        while seen != {"LANE1", "LANE2"}:
            seen.add(wait_for(ws, lambda m: m.get("lane") in ("LANE1", "LANE2"))["lane"])
        page = c.request("/")
        assert "LANE1" in page.body and "LANE2" in page.body
        for lane, badge in (("LANE1", "B-101"), ("LANE2", "B-202")):
            reply = c.request(
                f"/lanes/{lane}/command",
                {
                    "csrf": csrf,
                    "command": "start",
                    "drill": "x",
                    "drill_file": str(DRILL),
                    "badge": badge,
                    "seed": "11",
                },
            )
            assert reply.status == 303
        _lane_live(ws, "LANE1", "running")
        _lane_live(ws, "LANE2", "running")
        # Each lane is controllable on its own: pause LANE2 only.
        assert c.request("/lanes/LANE2/command", {"csrf": csrf, "command": "pause"}).status == 303
        _lane_live(ws, "LANE2", "paused")
        running = _lane_live(ws, "LANE1", "running")
        assert running["state"]["t_s"] > 0  # type: ignore[index]
        assert c.request("/lanes/LANE2/command", {"csrf": csrf, "command": "resume"}).status == 303
        _lane_live(ws, "LANE2", "running")
    # The console dies mid-run (no goodbye).
    rng.procs[0].stop(signal.SIGKILL)
    time.sleep(1.0)
    runs = {}
    deadline = time.monotonic() + 40
    while len(runs) < 2 and time.monotonic() < deadline:
        for lane in ("LANE1", "LANE2"):
            found = list((rng.tmp / "runs" / lane).glob("*/result.json"))
            if found:
                runs[lane] = found[0].parent
        time.sleep(0.2)
    assert set(runs) == {"LANE1", "LANE2"}, "a run did not complete without the console"
    for lane, run_dir in runs.items():
        events = read_events(run_dir)
        assert events[0].kind == "run_started" and events[-1].kind == "run_ended"
        assert events[-1].data["state"] == "completed", lane
        result = json.loads((run_dir / "result.json").read_text())
        assert result["state"] == "completed"
    pauses = [r for r in read_events(runs["LANE2"]) if r.kind == "instructor_command"]
    assert [(p.data["command"], p.data["by"]) for p in pauses] == [
        ("pause", "inst"),
        ("resume", "inst"),
    ]
    # The console comes back: both lanes re-attach, and their finished runs are recorded.
    rng.console()
    c = rng.client()
    c.login("inst")
    csrf = c.request("/").csrf
    with c.live(csrf) as ws:
        seen = set()
        deadline = time.monotonic() + 20
        while seen != {"LANE1", "LANE2"} and time.monotonic() < deadline:
            m = wait_for(ws, lambda m: m.get("connected") is True)
            seen.add(str(m["lane"]))
    assert seen == {"LANE1", "LANE2"}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Records.open(rng.db_url) as records:
            recorded = {r["badge"] for r in records.query("SELECT badge FROM drill_runs")}
        if recorded == {"B-101", "B-202"}:
            break
        time.sleep(0.2)
    assert recorded == {"B-101", "B-202"}
    # The console keeps its own copy of each run folder (a lane may be another machine).
    with Records.open(rng.db_url) as records:
        copies = {
            r["badge"]: Path(r["run_dir"])
            for r in records.query("SELECT badge, run_dir FROM drill_runs")
        }
    for lane, badge in (("LANE1", "B-101"), ("LANE2", "B-202")):
        copy = copies[badge]
        assert copy.parent == rng.tmp / "console-runs"
        assert (copy / "events.jsonl").read_bytes() == (runs[lane] / "events.jsonl").read_bytes()
        assert (copy / "drill.toml").read_bytes() == (runs[lane] / "drill.toml").read_bytes()


def test_no_secret_in_any_page_or_log(rng: Range) -> None:
    own = _saved_run(rng.tmp, rng.db_url, "B-101")
    rng.lane("LANE1", speed="max")
    c = rng.client()
    c.login("boss")
    csrf = lane_page(c, "LANE1").csrf
    c.request(
        "/lanes/LANE1/command",
        {
            "csrf": csrf,
            "command": "start",
            "drill": "x",
            "drill_file": str(DRILL),
            "badge": "B-101",
        },
    )
    for path in (
        "/",
        "/records",
        f"/runs/{own}",
        "/officers/B-101",
        "/users",
        "/audit",
        "/lanes/LANE1",
        f"/compare?a={own}&b={own}",
    ):
        assert c.request(path).status == 200, path
    bad = rng.client()
    bad.login("boss", "a wrong guess here")
    time.sleep(1.0)
    with ConsoleStore.open(rng.db_url) as store:
        secrets = [store.secret("session_key"), rng.key, PASSWORD, "a wrong guess here"]
        audit = json.dumps(store.audit_rows(1000))
        hashes = [u.password_hash for u in store.users()]
    texts = [*c.seen, *bad.seen, audit, *(p.log.read_text() for p in rng.procs)]
    for text in texts:
        for secret in [*secrets, *hashes]:
            assert secret not in text


def test_a_bad_start_is_one_line_and_the_lane_stays_up(rng: Range) -> None:
    rng.lane("LANE1")
    c = rng.client()
    c.login("inst")
    csrf = c.request("/").csrf
    start = {"csrf": csrf, "command": "start", "drill": "no-such-drill-v1"}
    with c.live(csrf) as ws:
        wait_for(ws, lambda m: m.get("lane") == "LANE1" and m.get("connected") is True)
        # Refused by the console before it is sent (nu18g #5): the lane never sees it.
        bad_drill = c.request("/lanes/LANE1/command", start)
        assert bad_drill.status == 400
        assert bad_drill.body.startswith("Drill: 'no-such-drill-v1' is not a drill of this range")
        good = {**start, "drill_file": str(DRILL)}
        for seed in ("9" * 26, "-5", "abc"):  # refused before the lane sees it
            bad = c.request("/lanes/LANE1/command", {**good, "seed": seed})
            assert bad.status == 400 and "whole number" in bad.body, bad.body
        assert c.request("/lanes/LANE1/command", good).status == 303
        _lane_live(ws, "LANE1", "running")
        again = c.request("/lanes/LANE1/command", good)
        assert again.status == 409 and "abort it first" in again.body
        assert c.request("/lanes/LANE1/command", {"csrf": csrf, "command": "abort"}).status == 303
        ended = _lane_live(ws, "LANE1", "ended")
        assert ended["state"]["state"] == "aborted"  # type: ignore[index]
    assert c.request("/lanes/LANE1/command", {"csrf": csrf, "command": "pause"}).status == 409


def test_a_lane_with_the_wrong_key_is_refused(rng: Range) -> None:
    proc = start_lane(
        rng.port, "LANE9", "not-the-key-" + "x" * 32, rng.tmp / "runs", rng.tmp / "l9.log"
    )
    rng.procs.append(proc)
    assert proc.popen.wait(timeout=30) == 2
    assert proc.log.read_text().strip().splitlines()[-1] == (
        "openrange: the console refused lane LANE9: wrong lane key"
    )
    c = rng.client()
    c.login("boss")
    assert "LANE9" not in c.request("/").body


def test_the_console_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """Several machines share one PostgreSQL: the console, its accounts and audit live there."""
    db_url = new_database(postgres_url)
    with console_range(tmp_path, db_url) as r:
        r.lane("LANE1", speed="max")
        c = r.client()
        assert c.login("inst").status == 303
        csrf = c.request("/").csrf
        with c.live(csrf) as ws:
            wait_for(ws, lambda m: m.get("lane") == "LANE1" and m.get("connected") is True)
            start = {
                "csrf": csrf,
                "command": "start",
                "drill": "x",
                "drill_file": str(DRILL),
                "badge": "B-101",
            }
            assert c.request("/lanes/LANE1/command", start).status == 303
            wait_for(ws, lambda m: m.get("type") == "finished")
        runs = rows_when_written(lambda: _drill_runs(db_url, "B-101"))
        assert len(runs) == 1
        assert c.request(f"/runs/{runs[0]['id']}").status == 200
    with ConsoleStore.open(db_url) as store:
        assert store.verify_audit() == []
        actions = [row["action"] for row in store.audit_rows()]
    assert {"login", "lane_start", "run_recorded", "lane_attached"} <= set(actions)


def test_logout_password_role_and_disable_end_sessions(rng: Range) -> None:
    # Issue 18 (nu18 #5): a copied cookie stayed valid after logout and after a new password,
    # and no account could be disabled or given another role.
    c = rng.client()
    c.login("arm")
    kept = c.cookie  # the cookie as someone who copied it holds it
    csrf = c.request("/").csrf
    assert c.request("/logout", {"csrf": csrf}).status == 303
    c.cookie = kept
    assert (c.request("/records").status, c.request("/records").headers["location"]) == (
        303,
        "/login",
    )
    c.login("arm")
    assert c.request("/records").status == 200
    with ConsoleStore.open(rng.db_url) as store:
        store.set_password("arm", store.user("boss").password_hash)  # type: ignore[union-attr]
    assert c.request("/records").status == 303
    # A range master turns an account off (its session ends, it cannot log in) and on again,
    # and changes a role; each audited with who did it.
    c.login("arm")
    boss = rng.client()
    boss.login("boss")
    token = boss.request("/users").csrf
    assert boss.request("/users", {"csrf": token, "action": "disable", "name": "arm"}).status == 200
    assert c.request("/records").status == 303
    assert c.login("arm").status == 403
    page = boss.request("/users", {"csrf": token, "action": "enable", "name": "arm"})
    assert page.status == 200 and "disabled" not in page.body
    assert c.login("arm").status == 303
    form = {"csrf": token, "action": "role", "name": "arm", "role": "officer", "badge": "B-202"}
    assert boss.request("/users", form).status == 200
    assert c.request("/records").status == 303  # a new role: log in again
    c.login("arm")
    assert c.request("/records").status == 403  # an officer now
    assert c.request("/officers/B-202").status == 200
    # The range master cannot disable their own account (nor leave the range without one).
    page = boss.request("/users", {"csrf": token, "action": "disable", "name": "boss"})
    assert "cannot disable your own account" in page.body
    with ConsoleStore.open(rng.db_url) as store:
        actions = [r["action"] for r in store.audit_rows()]
        with pytest.raises(RecordsError, match="only range master"):
            store.set_disabled("boss", True)
    assert {"account_disabled", "account_enabled", "account_role", "logout"} <= set(actions)


def test_an_instructor_corrects_a_heard_act_in_the_debrief(rng: Range) -> None:
    # Issue 18 (nu18 #2): the debrief could not correct what the recogniser heard; only the
    # CLI could. Corrected here, it goes to the same file the CLI writes, audited.
    from range.cli.corrections import run_corrections

    run = saved_run(
        rng.db_url,
        rng.tmp / "crisis",
        "B-101",
        "crisis-talk-down-v1",
        "crisis-talk-down-correct-v1",
        seed=2,
    )
    with Records.open(rng.db_url) as records:
        run_dir = Path(records.drill_run(run)["run_dir"])
    spoke = [r for r in read_events(run_dir) if r.kind == "officer_spoke"]
    inst = rng.client()
    inst.login("inst")
    page = inst.request(f"/runs/{run}")
    assert page.status == 200
    for r in spoke:
        assert str(r.data["text"]).replace("'", "&#39;") in page.body
    assert 'class="correct-form"' in page.body and "command.drop_weapon" in page.body
    csrf = page.csrf
    form = {"csrf": csrf, "n": "1", "act": "none", "reason": "a cough"}
    assert inst.request(f"/runs/{run}/correct", form).status == 303
    [fixed] = run_corrections(run_dir)
    assert (fixed.utterance_t, fixed.was, fixed.act, fixed.by) == (
        spoke[0].t,
        spoke[0].data["act"],
        "none",
        "inst",
    )
    page = inst.request(f"/runs/{run}")
    assert "(corrected by inst)" in page.body
    with Records.open(rng.db_url) as records:  # the record rescored too: a chained amendment
        assert [c["by"] for c in records.drill_run(run)["corrected"]] == ["inst"]
        assert records.verify() == []
    bad = inst.request(f"/runs/{run}/correct", {"csrf": csrf, "n": "2", "act": "command.fly"})
    assert bad.status == 400 and "not an act of this run&#39;s phrase book" in bad.body
    assert (
        inst.request(f"/runs/{run}/correct", {"csrf": csrf, "n": "99", "act": "none"}).status == 404
    )
    assert inst.request(f"/runs/{run}/correct", {"n": "2", "act": "none"}).status == 403
    alex = rng.client()
    alex.login("alex")  # the officer reads the run, but corrects nothing
    own = alex.request(f"/runs/{run}")
    assert own.status == 200 and 'class="correct-form"' not in own.body
    assert (
        alex.request(f"/runs/{run}/correct", {"csrf": own.csrf, "n": "2", "act": "none"}).status
        == 403
    )
    with ConsoleStore.open(rng.db_url) as store:
        assert "speech_corrected" in [r["action"] for r in store.audit_rows()]


def test_secure_cookies_over_plain_http_on_a_lan_address_are_explained(rng: Range) -> None:
    # Issue 18 (nu18 #11): with --host 0.0.0.0 a login over the LAN address ended in "Not yours
    # to see." (the browser dropped the Secure cookie over http) with no word why.
    lan = {"Host": "10.0.0.5:8765"}
    c = rng.client()
    page = c.request("/login", headers=lan)
    assert page.status == 200 and "--plain-http-cookie" in page.body
    csrf = page.csrf
    c.cookie = ""  # as the browser did: the Secure cookie is not kept over http
    reply = c.request("/login", {"csrf": csrf, "name": "boss", "password": "x"}, headers=lan)
    assert reply.status == 403 and "keeps a Secure cookie only over HTTPS" in reply.body
    assert "Not yours to see" not in reply.body
    # On loopback nothing changes: no warning, and a forbidden page is just that.
    local = rng.client().request("/login")
    assert "--plain-http-cookie" not in local.body


def test_one_account_s_failures_do_not_lock_the_others_out(rng: Range) -> None:
    # Issue 18 (nu18 #18): five failures for one account locked every account (the range
    # master's too) out from that address.
    c = rng.client()
    for _ in range(MAX_FAILURES):
        assert c.login("arm", "not the password").status == 401
    assert c.login("arm").status == 429
    assert c.login("boss").status == 303  # another account, the same address


def test_the_login_limit_survives_a_console_restart(rng: Range) -> None:
    # Issue 18 (f18c #4): the failure counts lived in memory: restarting the console let a
    # guesser start afresh.
    c = rng.client()
    for _ in range(MAX_FAILURES):
        assert c.login("arm", "not the password").status == 401
    assert c.login("arm").status == 429
    rng.procs[0].stop()
    rng.procs.append(start_console(rng.port, rng.db_url, rng.tmp / "console2.log"))
    c = rng.client()
    assert c.login("arm").status == 429  # still locked, the right password unchecked
    assert c.login("boss").status == 303


def test_side_by_side_warns_when_the_drills_differ(rng: Range) -> None:
    # Issue 18 (nu18 #16): two different drills were compared with no word.
    a = _saved_run(rng.tmp, rng.db_url, "B-101")
    b = saved_run(
        rng.db_url, rng.tmp / "knife", "B-101", "knife-approach-v1", "taser-first-v1", seed=0
    )
    c = rng.client()
    c.login("inst")
    same = c.request(f"/compare?a={a}&b={a}")
    assert same.status == 200 and 'id="different-drills"' not in same.body
    other = c.request(f"/compare?a={a}&b={b}")
    assert other.status == 200 and 'id="different-drills"' in other.body
    assert "knife-approach-v1" in other.body
