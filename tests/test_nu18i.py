"""Issue 18, new-user pass nu18g (defects 5, 8, 9, 6, 11, 10): each test fails without its fix.
One console process on loopback for the module, with a stand-in lane (a WebSocket client here
that says what state it is in and receives the commands sent to it); pure functions called
in-process; the lane's own guard with a real drill run in this process."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from console_support import Client, Proc, free_port, processes, seed_accounts, start_console
from websockets.sync.client import ClientConnection, connect

from range.console.store import ConsoleStore

PROJECT = Path(__file__).resolve().parent.parent
BRANCH = PROJECT / "tests" / "data" / "console" / "branch.toml"


@dataclass
class Bench:
    """The console, its records, an instructor's client and a stand-in lane L1."""

    port: int
    db_url: str
    key: str
    proc: Proc
    client: Client
    csrf: str
    lane: ClientConnection
    got: list[dict[str, Any]] = field(default_factory=list)

    def post(self, **form: str) -> tuple[int, str]:
        reply = self.client.request(
            "/lanes/L1/command",
            {"csrf": self.csrf, **form},
            headers={"X-Requested-With": "fetch"},
        )
        return reply.status, reply.body

    def state(self, **state: Any) -> None:
        """The stand-in lane says it is in `state`; returns once the console has taken it (it
        reads a lane's messages in order: its answer to a bad frame sent next says so)."""
        self.lane.send(json.dumps({"type": "state", "lane": "L1", "state": state, "events": []}))
        self.lane.send("[1]")
        while (message := json.loads(self.lane.recv(timeout=10))).get("type") != "error":
            self.got.append(message)  # a command sent before: `sent` gives it

    def sent(self) -> list[dict[str, Any]]:
        """The commands the console sent the lane since the last call."""
        out, self.got = self.got, []
        while True:
            try:
                out.append(json.loads(self.lane.recv(timeout=0.3)))
            except TimeoutError:
                return out

    def audited(self, action: str) -> list[dict[str, Any]]:
        with ConsoleStore.open(self.db_url) as store:
            return [json.loads(r["detail"]) for r in store.audit_rows() if r["action"] == action]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    tmp = tmp_path_factory.mktemp("nu18i")
    db_url = f"sqlite:///{tmp / 'records.sqlite'}"
    key = seed_accounts(db_url)
    port = free_port()
    with processes() as procs:
        proc = start_console(port, db_url, tmp / "console.log")
        procs.append(proc)
        client = Client(f"http://127.0.0.1:{port}")
        client.login("boss")
        csrf = client.request("/").csrf
        with connect(f"ws://127.0.0.1:{port}/ws/lane") as lane:
            lane.send(json.dumps({"type": "hello", "lane": "L1", "key": key, "state": None}))
            assert json.loads(lane.recv(timeout=10))["type"] == "attached"
            b = Bench(port, db_url, key, proc, client, csrf, lane)
            b.sent()
            yield b
        assert "Traceback" not in proc.log.read_text()


# -- defect 5: a start is checked on the console before it is sent or audited -----------------


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({"drill": "nope-v1"}, "Drill: 'nope-v1' is not a drill of this range; its drills: "),
        ({"drill_file": "/nonexistent.toml"}, "Drill file: no file /nonexistent.toml"),
        ({"drill_file": "/etc/passwd"}, "Drill file: /etc/passwd is not a .toml file"),
        ({"drill_file": "/tmp"}, "Drill file: /tmp is a folder, not a drill file"),
        ({"drill": "knife-approach-v1", "script": "bogus-v1"}, "Script: 'bogus-v1' is not an"),
        ({"course": "nope"}, "Course: 'nope' is not a course of this range; its courses: "),
        (
            {"course": "taser7-practical-v1", "shooter": "god"},
            "Shooter: 'god' is not a scripted shooter of this range",
        ),
        ({"drill": "knife-approach-v1", "seed": "abc"}, "Seed: 'abc' is not a whole number"),
        ({"drill": "knife-approach-v1", "badge": "B-999"}, "Officer: no officer with badge"),
    ],
)
def test_a_start_the_lane_could_not_play_is_refused_and_not_audited(
    bench: Bench, form: dict[str, str], said: str
) -> None:
    # nu18g #5: each of these was answered 202 "sent" and audited as lane_start, and the lane
    # stayed idle; a missing file was answered with the list of built-in drill ids.
    bench.state(status="idle")
    before = len(bench.audited("lane_start"))
    status, body = bench.post(command="start", **form)
    assert (status, body[: len(said)]) == (400, said)
    assert "\n" not in body
    if "drill_file" in form and "no file" in said:
        assert "knife-approach-v1" not in body  # not the id list
    assert bench.sent() == []
    assert len(bench.audited("lane_start")) == before


def test_a_bad_drill_file_is_named_with_its_first_problem(bench: Bench, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 1\nnot toml [\n")
    bench.state(status="idle")
    status, body = bench.post(command="start", drill_file=str(bad))
    assert status == 400 and body.startswith(f"Drill file: {bad}") and "\n" not in body
    assert bench.sent() == []


def test_a_good_start_is_sent_and_audited_once(bench: Bench) -> None:
    bench.state(status="idle")
    before = len(bench.audited("lane_start"))
    status, _ = bench.post(command="start", drill_file=str(BRANCH), drill="x", shooter="god")
    assert status == 202
    [sent] = bench.sent()
    assert sent["args"] == {"drill_file": str(BRANCH)}  # the drop-down and a shooter: not sent
    assert len(bench.audited("lane_start")) == before + 1


# -- defect 8: restart after a run ended; what cannot apply is greyed and refused ------------

ENDED = {"status": "ended", "state": "completed", "drill": "knife-approach-v1", "seed": 3}


def test_restart_after_a_drill_ended_is_sent_and_what_cannot_apply_is_refused(
    bench: Bench,
) -> None:
    # nu18g #8: Restart after the run ended got 409 "lane LANE2 has no run" while the page
    # showed that run; Pause, Resume, Say, Mark and Flag stayed enabled on an idle lane.
    bench.state(**ENDED)
    assert bench.post(command="restart")[0] == 202
    assert [m["command"] for m in bench.sent()] == ["restart"]
    # nu18h #1: until the lane's next frame the restarted run is taken as starting.
    assert bench.post(command="restart")[0] == 409
    bench.state(**ENDED)
    for command in ("pause", "resume", "abort", "flag"):
        assert bench.post(command=command, note="x") == (
            409,
            f"lane L1: the run has ended: {command} does not apply (Start drill or Restart)",
        )
    bench.state(status="idle")
    assert bench.post(command="restart") == (
        409,
        "lane L1 has no run: restart does not apply (start one first)",
    )
    page = bench.client.request("/lanes/L1").body
    for button in ("pause", "resume", "abort", "restart", "say", "mark", "flag"):
        assert f'<button id="{button}" disabled>' in page
    assert '<button id="start">' in page
    bench.state(status="ended", kind="course", course="taser7-practical-v1")
    assert bench.post(command="restart")[0] == 409
    assert bench.sent() == []


def test_the_page_greys_exactly_what_the_server_refuses() -> None:
    from test_console_js import NODE, _call

    from range.console.protocol import Command, refusal

    if NODE is None:
        pytest.skip("needs node")
    states: list[dict[str, Any]] = [
        {"status": "idle"},
        {"status": "running", "drill": "d"},
        {"status": "paused", "drill": "d"},
        {"status": "ended", "drill": "d"},
        {"status": "running", "kind": "course"},
        {"status": "ended", "kind": "course"},
    ]
    for state in states:
        for connected in (True, False):
            on = _call("runButtons", state, connected)
            assert isinstance(on, dict)
            for command in Command:
                allowed = refusal(command, "L1", state, connected) is None
                assert on[command.value] is allowed, (state, connected, command)


def test_a_lane_restarts_its_ended_drill_with_the_same_seed(tmp_path: Path) -> None:
    from range.console.lane import LaneProcess, made_by

    lane = LaneProcess("L0", "127.0.0.1:9", "k" * 32, tmp_path, speed=None, speech="off")
    assert lane._start_for({"command": "restart", "by": "boss"}) is None  # nothing played yet
    lane._run({"command": "start", "by": "inst", "args": {"drill_file": str(BRANCH)}})
    again = lane._start_for({"command": "restart", "by": "boss"})
    assert again is not None and again["by"] == "boss" and again["command"] == "start"
    lane._run(again)
    first, second = lane.finished
    assert first["seed"] == second["seed"]  # a random seed as it was drawn
    assert (first["started_by"], second["started_by"]) == ("inst", "boss")
    assert lane._start_for({"command": "pause", "by": "boss"}) is None
    # rc19 #3: each run folder the lane made carries its mark (a restart offers only those).
    assert {made_by(Path(r["run_dir"])) for r in lane.finished} == {"L0"}


# -- defect 9: a repeated pause or resume, and a mark without words, are refused --------------


def test_a_second_pause_or_resume_is_refused_and_audited_once(bench: Bench) -> None:
    # nu18g #9: Pause twice then Resume twice: four 202s, each logged and audited.
    bench.state(status="running", drill="knife-approach-v1", subjects=[], buttons=[])
    pauses, resumes = len(bench.audited("lane_pause")), len(bench.audited("lane_resume"))
    assert bench.post(command="pause")[0] == 202
    assert bench.post(command="pause") == (409, "lane L1 is already paused")
    bench.state(status="paused", drill="knife-approach-v1", subjects=[], buttons=[])
    assert bench.post(command="pause") == (409, "lane L1 is already paused")
    assert bench.post(command="resume")[0] == 202
    assert bench.post(command="resume") == (409, "lane L1 is not paused")
    assert [m["command"] for m in bench.sent()] == ["pause", "resume"]
    assert len(bench.audited("lane_pause")) == pauses + 1
    assert len(bench.audited("lane_resume")) == resumes + 1


def test_a_mark_without_words_is_refused(bench: Bench) -> None:
    bench.state(status="running", drill="knife-approach-v1", subjects=[], buttons=[])
    for text in ("", "   "):
        assert bench.post(command="mark", text=text, act="command.stop") == (
            400,
            "Officer said: write the words you heard",
        )
    assert bench.sent() == []


def test_the_lane_logs_a_pause_or_resume_that_changes_nothing_not_at_all(tmp_path: Path) -> None:
    # The lane's own guard, for a second pause that crossed the first on the wire.
    import queue

    from drills.officer import find_officer
    from drills.schema import read_drill_file
    from range.console.lane import LiveControl
    from range.runs.drill import RunConfig, Session

    commands: queue.Queue[dict[str, Any]] = queue.Queue()
    control = LiveControl(commands, lambda state, events: None, {}, speed=None)
    given = {
        10: ["pause", "pause", "resume"],
        11: ["resume"],
    }
    frame = [0]

    def on_frame(session: Session) -> None:
        frame[0] += 1
        for name in given.get(frame[0], []):
            commands.put({"command": name, "by": "inst"})
        control(session)

    source = read_drill_file(str(BRANCH))
    config = RunConfig(
        drill=source.drill,
        drill_file=source,
        officer=find_officer("traffic-stop-compliant-correct-v1"),
        seed=3,
        runs_dir=None,
        officer_name="B-101",
        on_frame=on_frame,
    )
    session = Session(config)
    session.run()
    logged = [
        r.data["command"] for r in session.engine.log.records if r.kind == "instructor_command"
    ]
    assert logged == ["pause", "resume"]


# -- defect 6: lane names checked; lanes gone away removed; the audit table wraps --------------


@pytest.mark.parametrize("name", ["../escaped", "LANE 4", "L" * 33, "<img src=x>", ".hidden", ""])
def test_a_lane_name_that_could_not_be_opened_is_refused(bench: Bench, name: str) -> None:
    # nu18g #6: '../escaped' connected but its page was a 404; 'LANE 4', a 200-character name
    # and markup connected too.
    with connect(f"ws://127.0.0.1:{bench.port}/ws/lane") as ws:
        ws.send(json.dumps({"type": "hello", "lane": name, "key": bench.key, "state": None}))
        answer = json.loads(ws.recv(timeout=10))
    assert answer["type"] == "refused"
    if name:
        assert answer["reason"].startswith(("lane name ", "a lane name of "))
    assert name not in bench.client.request("/").body or not name


def test_openrange_lane_refuses_a_bad_name_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from range.cli import main as cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["lane", "--console", "127.0.0.1:9", "--name", "../escaped"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith(
        "argument --name: lane name '../escaped': use ASCII letters, digits, '.', '-' or '_',"
        " an ASCII letter or digit first"
    )


def test_a_range_master_removes_a_lane_gone_away(bench: Bench) -> None:
    with connect(f"ws://127.0.0.1:{bench.port}/ws/lane") as ws:
        ws.send(json.dumps({"type": "hello", "lane": "GONE1", "key": bench.key, "state": None}))
        assert json.loads(ws.recv(timeout=10))["type"] == "attached"
        page = bench.client.request("/").body
        assert 'id="remove-GONE1"' not in page  # connected: not offered
        refused = bench.client.request("/lanes/GONE1/remove", {"csrf": bench.csrf})
        assert refused.status == 409
    import time

    deadline = time.monotonic() + 10
    while 'id="remove-GONE1"' not in bench.client.request("/").body:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    inst = Client(f"http://127.0.0.1:{bench.port}")
    inst.login("inst")
    assert inst.request("/lanes/GONE1/remove", {"csrf": inst.request("/").csrf}).status == 403
    done = bench.client.request("/lanes/GONE1/remove", {"csrf": bench.csrf})
    assert done.status == 303
    assert "GONE1" not in bench.client.request("/").body
    assert bench.audited("lane_removed")[-1] == {"lane": "GONE1", "unrecorded": 0}


@pytest.fixture(scope="module")
def browser(bench: Bench) -> Iterator[Any]:
    """Headless Chromium 820 px wide (a tablet), logged in as the range master."""
    from console_support import browser_login, chromium

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs chromium")
    b = chromium()
    try:
        b.set_window_size(820, 900)
        browser_login(b, bench.port, "boss")
        yield b
    finally:
        b.quit()


def _fits(browser: Any) -> tuple[int, int]:
    width = browser.execute_script("return document.documentElement.scrollWidth")
    inner = browser.execute_script("return document.documentElement.clientWidth")
    return int(width), int(inner)


def test_the_audit_page_wraps_a_long_value_at_820_px(bench: Bench, browser: Any) -> None:
    with ConsoleStore.open(bench.db_url) as store:
        store.audit("boss", "lane_start", drill_file="/" + "d" * 300 + ".toml", lane="L1")
    browser.get(f"http://127.0.0.1:{bench.port}/audit")
    width, inner = _fits(browser)
    assert width <= inner, (width, inner)


# -- defect 11: the smaller messages and checks -----------------------------------------------


def test_the_accounts_page_names_its_fields_and_asks_twice(bench: Bench) -> None:
    # nu18g #11: "'wizard' is not a valid Role"; the add form defaulted to range master with one
    # password field; a badge stayed on an instructor's account.
    def add(**form: str) -> str:
        reply = bench.client.request("/users", {"csrf": bench.csrf, "action": "add", **form})
        found = re.search(r'<p class="error">(.*?)</p>', reply.body)
        return unescape(found.group(1)) if found else ""

    good = {"name": "inst2", "password": "a long password", "again": "a long password"}
    assert add(**{**good, "role": "wizard"}) == (
        "Role: 'wizard' is not a role; the roles: range_master, instructor, armorer, officer"
    )
    assert add(**{**good, "role": ""}) == "Role: choose a role"
    assert add(**{**good, "role": "instructor", "again": "a long passwrod"}) == (
        "The passwords differ."
    )
    page = bench.client.request("/users").body
    assert '<option value="" selected>(choose a role)</option>' in page
    assert 'name="again" type="password"' in page
    # nu18h #8: a badge with another role is refused as the command line refuses it.
    assert add(**{**good, "role": "instructor", "badge": "B-101"}) == (
        "account 'inst2': only an officer account has a badge (the Badge field)"
    )
    assert add(**{**good, "role": "instructor"}) == ""
    with ConsoleStore.open(bench.db_url) as store:
        made = store.user("inst2")
        assert made is not None and made.badge is None


def test_the_command_line_refuses_a_badge_for_any_role_but_officer(tmp_path: Path) -> None:
    from range.console.store import Role
    from range.records.store import RecordsError

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    seed_accounts(url)
    with ConsoleStore.open(url) as store:
        with pytest.raises(RecordsError, match=r"only an officer account has --badge"):
            store.add_user("inst2", Role.INSTRUCTOR, "x", "B-101")
        with pytest.raises(RecordsError, match=r"only an officer account has --badge"):
            store.set_role("boss", Role.RANGE_MASTER, "B-101")


@pytest.mark.parametrize("name", ["élève", "аdmin", "a b"])
def test_account_names_are_ascii(name: str) -> None:
    from range.console.store import check_name
    from range.records.store import RecordsError

    with pytest.raises(RecordsError, match=r"use ASCII letters \(A-Z, a-z\), digits"):
        check_name(name)


def test_a_say_names_its_subject(bench: Bench) -> None:
    bench.state(status="running", drill="d", subjects=[{"id": "person"}], buttons=[])
    assert bench.post(command="say", text="hello") == (
        400,
        "Say as: choose the subject who says it; its subjects: person",
    )
    assert bench.sent() == []
    page = bench.client.request("/lanes/L1").body
    assert '<select name="subject" id="say-subject" required><option>person</option>' in page


def test_a_login_form_without_its_token_has_expired(bench: Bench) -> None:
    c = Client(f"http://127.0.0.1:{bench.port}")
    reply = c.request("/login", {"name": "boss", "password": "x"})
    assert reply.status == 403
    assert "This login form has expired: log in again." in reply.body
    assert 'name="csrf"' in reply.body  # a fresh form to log in with


def test_a_correction_reason_is_capped_like_a_note(tmp_path: Path) -> None:
    # nu18g #11: a 5000-character reason was taken (live notes are capped at 500). Checked
    # before the run's folder is read: the debrief's form and `speech correct` alike.
    from range.cli.corrections import correct_speech
    from range.console.app import correct_field

    with pytest.raises(ValueError, match=r"^Why: a reason of 501 characters \(at most 500\)$"):
        correct_speech(tmp_path, 1.0, "none", "inst", "x" * 501, None, correct_field)


def test_a_debrief_fits_820_px_and_its_scrubber_says_play_at_the_end(
    bench: Bench, browser: Any, tmp_path: Path
) -> None:
    import time

    from console_support import saved_run

    # nu18g #11: /runs/9 was 825 px wide at 820 px: the run's officer_spoke rows, each with
    # its "Correct the act" form (the acts' drop-down as wide as its longest act), took the
    # table past the page.
    run_id = saved_run(
        bench.db_url,
        tmp_path / "runs",
        "B-101",
        drill="crisis-talk-down-v1",
        script="crisis-talk-down-correct-v1",
        seed=3,
    )
    browser.get(f"http://127.0.0.1:{bench.port}/runs/{run_id}")
    assert browser.find_elements("css selector", "form.correct-form")
    width, inner = _fits(browser)
    assert width <= inner, (width, inner)
    # A run that ends between two steps of the slider (0.05 s): Play stopped short of the end
    # and its button kept saying "Pause".
    end = browser.execute_script(
        "const box = document.querySelector('.scrubber');"
        "const data = JSON.parse(box.dataset.track); data.end_t = 0.33;"
        "const copy = box.cloneNode(true); copy.dataset.track = JSON.stringify(data);"
        "copy.querySelector('.scrub').max = '0.33'; copy.id = 'copy';"
        "box.after(copy); scrubber(copy); copy.querySelector('.play').click();"
        "return copy.querySelector('.play').textContent;"
    )
    assert end == "Pause"
    time.sleep(1.0)
    assert browser.execute_script("return document.querySelector('#copy .play').textContent") == (
        "Play"
    )


# -- defect 10: simulated course attempts count toward no one's standing ----------------------


def _attempt(records: Any, badge: str, shooter: str, points: int, passed: bool) -> int:
    attempt = records.begin_attempt(
        badge,
        "taser7-practical-v1",
        5,
        "0.1.0",
        [{"model": "taser-7", "serial": "SIM-TASER-0001"}],
        [{"serial": "SIM-TASER-0001", "calibrated": "2026-11-01"}],
        shooter=shooter,
    )
    stage = {"name": "1", "points": points, "hits": points}
    score = {"points": points, "max_points": 4, "hits": points, "passed": passed}
    return int(records.finish_attempt(attempt, {**score, "stages": [stage]}))


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_simulated_attempts_count_toward_no_one_s_standing(
    request: pytest.FixtureRequest, tmp_path: Path, db: str
) -> None:
    # nu18g #10: three scripted-shooter (expert) attempts, one a perfect 4 of 4, turned
    # K. Lee's "no attempts" into "not qualified" on the roster.
    from datetime import UTC, datetime

    from range.console.pages import roster_page
    from range.records.store import Records

    if db == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    else:
        from pg_support import new_database

        url = new_database(request.getfixturevalue("postgres_url"))
    today = datetime.now(UTC).date()
    with Records.open(url) as records:
        records.add_officer("5522", "K. Lee", "Metro PD")
        records.add_officer("4411", "J. Rivera", "Metro PD")
        for _ in range(3):
            _attempt(records, "5522", "expert", 4, True)
        _attempt(records, "4411", "expert", 4, True)
        _attempt(records, "4411", "officer", 1, False)
        page = {r["line"].badge: r for r in roster_page(records, today)}
    lee, rivera = page["5522"], page["4411"]
    # Not "not qualified", and since nu22 #9 not "no attempts" either: "simulated only", as the
    # course column says it.
    assert lee["line"].status == "simulated only"
    assert [(c.course, c.status) for c in lee["courses"]] == [
        ("taser7-practical-v1", "simulated only")
    ]
    # A real attempt stands on its own: the simulation beside it changes nothing.
    assert (rivera["line"].status, rivera["line"].attempts) == ("not qualified", 1)
    assert [c.status for c in rivera["courses"]] == ["not qualified"]
