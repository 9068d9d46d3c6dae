"""Issue 18, new-user pass nu18f (console): a Say line's length and the run folder's size limit
told as the user sees it (#1), a run's folder missing or damaged on the console's disk (#3), a
view at t=inf or nan (#4), live commands the running drill cannot take (#6), unknown ids (#11),
account names' length (#12), striking an utterance as none with no reason (#14), pages naming
form fields, not command-line flags (#16), a file that is not a drill (#17), times that wrap
(#18), the favicon (#19).

One console process on loopback for the module (a fake lane over its WebSocket, drill runs
played here and recorded); every check is an HTTP request to it."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import DRILL, PROJECT, Client, Range, console_range, saved_run
from websockets.sync.client import ClientConnection, connect

from drills.schema import read_drill_file
from physics.datafiles import DataFileError
from range.cli.corrections import correct_speech
from range.console.protocol import (
    MAX_BUNDLE_BYTES,
    MAX_SAY_CHARS,
    bundle,
    folder_bytes,
    speech_left_out,
    unbundle,
)
from range.console.speech import SPEECH_DIR
from range.console.store import MAX_NAME_CHARS, ConsoleStore, check_name
from range.records.store import Records, RecordsError
from range.runs.runlog import EVENTS, read_events
from scoring.corrections import CorrectionError

# What the fake lane's running drill has: one subject, one branch button.
STATE = {
    "status": "running",
    "drill": "console-branch-v1",
    "subjects": [{"id": "person", "x_ft": 0.0, "y_ft": 20.0}],
    "buttons": [{"name": "stop", "live": True}],
    "phases": ["walk"],
}


@pytest.fixture(scope="module")
def rng(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Range]:
    with console_range(tmp_path_factory.mktemp("nu18d")) as r:
        yield r


@pytest.fixture(scope="module")
def runs(rng: Range) -> dict[str, int]:
    """Three recorded runs of the crisis drill (it has utterances): one kept whole, one whose
    folder goes missing, one whose log is damaged."""
    ids = {
        name: saved_run(
            rng.db_url,
            rng.tmp / "runs-here" / name,
            "B-101",
            "crisis-talk-down-v1",
            "crisis-talk-down-correct-v1",
            seed=2,
        )
        for name in ("whole", "missing", "damaged")
    }
    with Records.open(rng.db_url) as records:
        missing = Path(records.drill_run(ids["missing"])["run_dir"])
        damaged = Path(records.drill_run(ids["damaged"])["run_dir"])
    missing.rename(missing.with_name(missing.name + "-moved"))
    with (damaged / EVENTS).open("a") as log:
        log.write("{bad json\n")
    return ids


@pytest.fixture(scope="module")
def inst(rng: Range) -> Client:
    client = rng.client()
    assert client.login("inst").status == 303
    return client


@pytest.fixture(scope="module")
def lane(rng: Range) -> Iterator[ClientConnection]:
    """A lane L1 running a drill with subject `person` and button `stop`, as the console sees
    it: the commands the console sends it come back on this socket."""
    with connect(f"ws://127.0.0.1:{rng.port}/ws/lane") as ws:
        hello = {"type": "hello", "lane": "L1", "key": rng.key, "instance": "t", "state": STATE}
        ws.send(json.dumps(hello))
        assert json.loads(ws.recv(timeout=10))["type"] == "attached"
        yield ws


def _page_text(body: str) -> str:
    return html.unescape(body)


# -- 1: a Say line's length; the run folder's size as the user sees it --------------------------


def test_a_folder_under_the_limit_on_disk_is_taken_though_its_base64_is_over(
    tmp_path: Path,
) -> None:
    # It was refused: "a run folder over 8388608 bytes" for a 6.4 MiB folder (the limit was
    # applied to the base64 text, a third bigger than the files).
    wav = bytes(range(256)) * (7 * 2**20 // 256)  # 7 MiB on disk, 9.3 MiB as base64
    files = {"events.jsonl": "{}\n", "speech/01.wav": "b64:" + base64.b64encode(wav).decode()}
    assert sum(len(v) for v in files.values()) > MAX_BUNDLE_BYTES
    assert folder_bytes(files) == len(wav) + 3
    unbundle(files, tmp_path / "run")
    assert (tmp_path / "run" / "speech" / "01.wav").read_bytes() == wav


def test_a_folder_over_the_limit_is_refused_with_its_true_size(tmp_path: Path) -> None:
    text = "x" * (9 * 2**20)
    with pytest.raises(ValueError) as caught:
        unbundle({"events.jsonl": text}, tmp_path / "run")
    message = str(caught.value)
    assert message.startswith(f"a run folder of 9.0 MiB ({9 * 2**20} bytes; at most 8 MiB)")
    assert message.endswith("where openrange score and openrange report read it")


def test_spoken_lines_that_would_overflow_the_bundle_are_left_out(tmp_path: Path) -> None:
    # A run is never refused for its audio: the console writes the lines again from the log.
    run = tmp_path / "run"
    (run / SPEECH_DIR).mkdir(parents=True)
    (run / "events.jsonl").write_text("{}\n")
    (run / SPEECH_DIR / "01.wav").write_bytes(b"\0" * (MAX_BUNDLE_BYTES + 1))
    assert sorted(bundle(run)) == ["events.jsonl"]
    assert speech_left_out(run, bundle(run))
    (run / SPEECH_DIR / "01.wav").write_bytes(b"\0" * 1000)
    assert sorted(bundle(run)) == ["events.jsonl", "speech/01.wav"]
    assert not speech_left_out(run, bundle(run))


def test_a_say_line_over_the_limit_is_refused_naming_it(
    rng: Range, inst: Client, lane: ClientConnection
) -> None:
    csrf = inst.request("/lanes/L1").csrf
    form = {"csrf": csrf, "command": "say", "subject": "person", "text": "a" * 20_000}
    reply = inst.request("/lanes/L1/command", form)
    assert reply.status == 400
    assert reply.body == (
        f"Say: a line of 20000 characters (at most {MAX_SAY_CHARS}): say it in shorter lines"
    )
    page = inst.request("/lanes/L1").body
    assert f'id="say-text" placeholder="a line" maxlength="{MAX_SAY_CHARS}"' in page


# -- 6: live commands checked against the running drill -----------------------------------------


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        (
            {"command": "say", "subject": "S1", "text": "hello"},
            "Say as: 'S1' is not a subject of this drill; its subjects: person",
        ),
        ({"command": "say", "subject": "person", "text": "  "}, "Say: the line to say is empty"),
        ({"command": "mark", "act": "bogus", "text": "drop it"}, "Act: 'bogus' is not an act"),
        (
            {"command": "button", "button": "explode"},
            "Button: 'explode' is not a branch button of this drill; its buttons: stop",
        ),
        ({"command": "flag", "note": ""}, "Note: say what the moment is for the debrief"),
    ],
)
def test_a_live_command_the_drill_cannot_take_is_refused(
    rng: Range, inst: Client, lane: ClientConnection, form: dict[str, str], reason: str
) -> None:
    # They were all accepted (303), logged as instructor_command, and the button fed to the
    # engine.
    csrf = inst.request("/lanes/L1").csrf
    reply = inst.request(
        "/lanes/L1/command", {"csrf": csrf, **form}, headers={"X-Requested-With": "fetch"}
    )
    assert reply.status == 400
    assert reply.body.startswith(reason)
    with ConsoleStore.open(rng.db_url) as store:
        sent = [r for r in store.audit_rows() if r["action"] == f"lane_{form['command']}"]
    assert sent == []


def test_a_live_command_the_drill_can_take_goes_to_the_lane(
    inst: Client, lane: ClientConnection
) -> None:
    csrf = inst.request("/lanes/L1").csrf
    for form in (
        {"command": "say", "subject": "person", "text": "leave me alone"},
        {"command": "button", "button": "stop"},
        {"command": "mark", "act": "command.drop_weapon", "text": "drop it"},
        {"command": "flag", "note": "hands"},
    ):
        assert inst.request("/lanes/L1/command", {"csrf": csrf, **form}).status == 303
        sent = json.loads(lane.recv(timeout=10))
        assert sent["command"] == form["command"] and sent["by"] == "inst"


# -- 3, 4, 11: error pages ----------------------------------------------------------------------


def test_a_missing_or_damaged_run_folder_is_a_one_line_page(
    rng: Range, inst: Client, runs: dict[str, int]
) -> None:
    # They were HTTP 500 with a traceback in the console's log.
    missing, damaged = runs["missing"], runs["damaged"]
    for path in (
        f"/runs/{missing}",
        f"/runs/{missing}/view.png?t=1",
        f"/runs/{damaged}",
        f"/runs/{damaged}/view.png?t=1",
        f"/compare?a={missing}&b={damaged}",
        f"/runs/{missing}/said/1.wav",
    ):
        reply = inst.request(path)
        assert reply.status == 503, path
        assert "its folder cannot be read" in reply.body, path
    assert "does not exist" in inst.request(f"/runs/{missing}").body
    assert "Traceback" not in (rng.tmp / "console.log").read_text()


@pytest.mark.parametrize("t", ["inf", "nan", "-1", "abc"])
def test_a_view_at_a_time_that_is_not_one_is_refused(
    inst: Client, runs: dict[str, int], t: str
) -> None:
    # inf was HTTP 500 (math domain error); nan drew silently; abc was 404.
    reply = inst.request(f"/runs/{runs['whole']}/view.png?t={t}&eye=top")
    assert reply.status == 400
    assert f"t={t}: a time in seconds, 0 or more" in reply.body


@pytest.mark.parametrize(
    ("path", "form", "reason"),
    [
        ("/runs/999", None, "no drill run 999"),
        ("/officers/9999", None, "9999"),
        ("/certificates/2.pdf", None, "no qualification record 2"),
        ("/runs/999/view.png?t=1", None, "no drill run 999"),
        ("/compare?a=999&b=998", None, "no drill run 999"),
        ("/runs/{whole}/correct", {"n": "0", "act": "none"}, "has no utterance 0"),
        ("/runs/{whole}/correct", {"n": "99", "act": "none"}, "has no utterance 99"),
    ],
)
def test_an_unknown_id_is_a_404_page_with_the_reason(
    inst: Client,
    runs: dict[str, int],
    path: str,
    form: dict[str, str] | None,
    reason: str,
) -> None:
    # They answered 200 (a page, empty tables, HTML for a PDF) or 404 with an empty body.
    page = inst.request("/records")
    if form is not None:
        form = {"csrf": page.csrf, **form}
    reply = inst.request(path.format(whole=runs["whole"]), form)
    assert reply.status == 404
    assert "<h1>" in reply.body and reason in reply.body


# -- 12: account names --------------------------------------------------------------------------


def test_an_account_name_over_the_limit_is_refused(rng: Range) -> None:
    # 500 characters were accepted, and overflowed the header and the Accounts table.
    boss = rng.client()
    boss.login("boss")
    csrf = boss.request("/users").csrf
    name = "a" * 500
    form = {"csrf": csrf, "action": "add", "name": name, "role": "instructor"}
    password = "a long enough password"
    reply = boss.request("/users", {**form, "password": password, "again": password})
    assert f"account name of 500 characters: at most {MAX_NAME_CHARS}" in reply.body
    assert f'<input name="name" maxlength="{MAX_NAME_CHARS}" required>' in reply.body
    with ConsoleStore.open(rng.db_url) as store:
        assert store.user(name) is None
    check_name("a" * MAX_NAME_CHARS)
    with pytest.raises(RecordsError):
        check_name("a" * (MAX_NAME_CHARS + 1))


# -- 14, 16: corrections and account forms name the form's fields --------------------------------


def _whole_dir(rng: Range, runs: dict[str, int]) -> Path:
    with Records.open(rng.db_url) as records:
        return Path(records.drill_run(runs["whole"])["run_dir"])


def test_striking_an_utterance_as_none_needs_a_reason(
    rng: Range, inst: Client, runs: dict[str, int]
) -> None:
    # An empty reason was accepted (docs: "not speech, with a reason").
    run_dir = _whole_dir(rng, runs)
    heard = next(r for r in read_events(run_dir) if r.kind == "officer_spoke")
    with pytest.raises(CorrectionError, match=r"^--reason: striking an utterance as none"):
        correct_speech(run_dir, heard.t, "none", "Sgt Lee", "  ")
    csrf = inst.request(f"/runs/{runs['whole']}").csrf
    form = {"csrf": csrf, "n": "1", "act": "none", "reason": ""}
    reply = inst.request(f"/runs/{runs['whole']}/correct", form)
    assert reply.status == 400
    assert "Why: striking an utterance as none (not speech) needs a reason" in reply.body
    assert not list(run_dir.glob("speech-corrections-*.json"))


def test_pages_name_form_fields_not_command_line_flags(
    rng: Range, inst: Client, runs: dict[str, int]
) -> None:
    csrf = inst.request(f"/runs/{runs['whole']}").csrf
    form = {"csrf": csrf, "n": "1", "act": "bogus.act", "reason": "x"}
    reply = inst.request(f"/runs/{runs['whole']}/correct", form)
    assert reply.status == 400
    assert "Act: 'bogus.act' is not a speech act or 'none'" in _page_text(reply.body)
    assert "--act" not in reply.body
    boss = rng.client()
    boss.login("boss")
    csrf = boss.request("/users").csrf
    form = {"csrf": csrf, "action": "add", "name": "offnobadge", "role": "officer"}
    password = "a long enough password"
    reply = boss.request("/users", {**form, "password": password, "again": password})
    assert "an officer account needs a badge (the Badge field)" in _page_text(reply.body)
    assert "--badge" not in reply.body


# -- 17: a file that is not a drill -------------------------------------------------------------


def test_a_file_that_is_not_a_drill_is_said_so_with_its_parse_error(tmp_path: Path) -> None:
    # It was "no drill '/etc/passwd'; built-in: ..." and 28 ids.
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(DataFileError) as caught:
        read_drill_file(str(path))
    assert str(caught.value) == (
        f"{path}: not a drill file ({path}:1: not valid TOML: Expected '=' after a key in a"
        " key/value pair)"
    )


# -- 18, 19: the stylesheet and the icon --------------------------------------------------------


def test_times_stay_on_one_line_and_the_icon_is_served(inst: Client, runs: dict[str, int]) -> None:
    css = (PROJECT / "range" / "console" / "static" / "console.css").read_text()
    assert "td.time{white-space:nowrap}" in css
    page = inst.request(f"/runs/{runs['whole']}").body
    assert '<td class="time">' in page and '<td class="time">' in page.split('class="timeline"')[1]
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    anonymous = Client(inst.base)
    for path in ("/favicon.ico", "/static/favicon.svg"):
        reply = anonymous.request(path)
        assert reply.status == 200, path
        assert reply.headers["content-type"].startswith("image/svg+xml")
        assert reply.body.startswith("<svg")


def test_spoken_lines_left_out_are_written_again_by_the_console(rng: Range) -> None:
    # The other half of "a run is never unrecordable for its audio": a bundle without its
    # speech/ (protocol.bundle left it out) is recorded, and the console says the lines again.
    from drills.log import LogRecord
    from drills.officer import find_officer
    from range.console.app import Console
    from range.console.lane import replay_control
    from range.runs.drill import RunConfig, run_drill

    said = LogRecord(
        0.5,
        "instructor_command",
        {"command": "say", "by": "inst", "subject": "walker", "text": "what do you want"},
    )
    source = read_drill_file(str(DRILL))
    result = run_drill(
        RunConfig(
            source.drill,
            find_officer("traffic-stop-compliant-correct-v1"),
            seed=5,
            runs_dir=rng.tmp / "runs-said",
            drill_file=source,
            officer_name="B-101",
            on_frame=replay_control([said]),
        )
    ).as_json()
    run_dir = Path(result["run_dir"])
    assert not (run_dir / SPEECH_DIR).exists()
    result.update(badge="B-101", files=bundle(run_dir), speech_left_out=True)
    console = Console(rng.db_url, runs_dir=rng.tmp / "console-in-process")
    console._drill_finished("L9", result)
    (kept,) = (rng.tmp / "console-in-process").iterdir()
    assert (kept / SPEECH_DIR / "01.wav").read_bytes()[:4] == b"RIFF"
