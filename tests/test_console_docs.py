"""docs/console.md cannot drift from the command line: every `openrange ...` line on it (in its
code blocks and inline) is parsed by the real argument parser, its placeholders (HOST:PORT,
NAME, ...) replaced by sample values; every --option it names exists; its roles are the CLI's."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import time
from html import unescape
from pathlib import Path

import pytest
from console_support import (
    PASSWORD,
    PROJECT,
    Client,
    console_range,
    free_port,
    processes,
    start_console,
)

from range.cli.console import ROLES
from range.cli.main import build_parser
from range.console.auth import hash_password
from range.console.store import ConsoleStore, Role

DOC = PROJECT / "docs" / "console.md"
README = PROJECT / "README.md"

# What each placeholder written on the page stands for (a new placeholder needs a sample here).
SAMPLES = {
    "HOST": "127.0.0.1",
    "PORT": "8765",
    "HOST:PORT": "127.0.0.1:8765",
    "URL": "sqlite:////tmp/records.sqlite",
    "DIR": "runs",
    "NAME": "boss",
    "ROLE": "instructor",
    "BADGE": "4411",
    "AGENCY": "Metro PD",
    "FILE": "lane.key",
    "LANE1": "LANE1",
}
# A --replica PORT is a serial port, not a TCP one.
SERIAL_PORT = "/dev/ttyACM0"
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(:[A-Z]+)?$")


def command_lines(text: str) -> list[str]:
    """Every `openrange ...` command on a Markdown page: whole lines in its code blocks (a line
    ending in a backslash goes on), and inline code spans."""
    found: list[str] = []
    in_block = False
    pending = ""
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            stripped = line.strip()
            if pending:
                pending += " " + stripped.rstrip("\\")
                if not stripped.endswith("\\"):
                    found.append(pending)
                    pending = ""
            elif stripped.startswith("openrange "):
                if stripped.endswith("\\"):
                    pending = stripped.rstrip("\\")
                else:
                    found.append(stripped)
    for span in re.findall(r"`(openrange [^`]+)`", text):
        found.append(span)
    return found


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = build_parser()
    for token in argv:
        sub = _subcommands(parser)
        if token not in sub:
            break
        parser = sub[token]
    return parser


def argv_of(line: str, alternative: int = 0) -> list[str]:
    """The argument list a documented line stands for: optional groups taken, alternatives
    (1|max) by `alternative` (the last one past its count), repeat marks (...) dropped,
    placeholders replaced by samples, and the command's required options a partial inline
    mention leaves out added with samples."""
    tokens = shlex.split(line, comments=True)
    assert tokens[0] == "openrange", line
    argv: list[str] = []
    for raw in tokens[1:]:
        token = raw.strip("[]")
        if token in ("", "...", "…"):
            continue
        if "|" in token and not token.startswith("-"):
            choices = token.split("|")
            token = choices[min(alternative, len(choices) - 1)]
        if _PLACEHOLDER.match(token):
            assert token in SAMPLES, f"{line!r}: no sample for the placeholder {token}"
            token = SERIAL_PORT if argv and argv[-1] == "--replica" else SAMPLES[token]
        argv.append(token)
    parser = _command_parser(argv)
    for action in parser._actions:
        given = set(action.option_strings) & set(argv)
        if action.required and action.option_strings and not given:
            metavar = str(action.metavar or action.dest.upper())
            argv += [action.option_strings[0], SAMPLES.get(metavar, SAMPLES["NAME"])]
    return argv


def _parse(line: str, capsys: pytest.CaptureFixture[str]) -> argparse.Namespace:
    """The line parsed once per alternative it offers (1|max: both); the first's arguments."""
    widest = max([len(t.split("|")) for t in line.split() if not t.startswith("-")] + [1])
    parsed = []
    for alternative in range(widest):
        try:
            parsed.append(build_parser().parse_args(argv_of(line, alternative)))
        except SystemExit:
            err = capsys.readouterr().err.strip().splitlines()
            raise AssertionError(f"{line!r} does not parse: {err[-1] if err else '?'}") from None
    return parsed[0]


LINES = command_lines(DOC.read_text(encoding="utf-8"))
README_LINES = [
    line.split("  ")[0]
    for line in command_lines(README.read_text(encoding="utf-8"))
    if line.startswith(("openrange console", "openrange lane"))
]


def test_the_page_has_the_console_commands() -> None:
    firsts = {" ".join(line.split()[:3]) for line in LINES}
    for command in (
        "openrange console [--host",
        "openrange console adduser",
        "openrange console passwd",
        "openrange console lane-key",
        "openrange lane --console",
    ):
        assert command in firsts, command
    assert README_LINES, "README's tour names the console"


@pytest.mark.parametrize("line", LINES + README_LINES)
def test_each_documented_command_line_parses(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(line, capsys)
    assert callable(args.handler), line


def test_a_line_that_has_drifted_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    for wrong in (
        "openrange lane --console HOST:PORT --name LANE1 --sped 2",  # a misspelt option
        "openrange lane --console http://HOST --name LANE1",  # no port
        "openrange console adduser NAME --role range-master",  # not a role's CLI value
        "openrange console --bind HOST",
        "openrange lane --console HOST:PORT --name LANE1 --speed 1|fast",  # the second choice
    ):
        with pytest.raises(AssertionError, match="does not parse"):
            _parse(wrong, capsys)
    with pytest.raises(AssertionError, match="no sample for the placeholder CONSOLE"):
        argv_of("openrange lane --console CONSOLE --name LANE1")


def test_every_option_named_on_the_page_exists() -> None:
    known: set[str] = set()
    stack = [build_parser()]
    while stack:
        parser = stack.pop()
        for action in parser._actions:
            known.update(action.option_strings)
        stack.extend(_subcommands(parser).values())
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", DOC.read_text(encoding="utf-8")))
    assert named and named <= known, sorted(named - known)


def test_the_roles_table_is_the_cli_roles() -> None:
    rows = re.findall(r"^\| ([a-z ]+) \| `([a-z_]+)` \|", DOC.read_text(), re.M)
    assert [cli for _, cli in rows] == list(ROLES) == [r.value for r in Role]
    # The pages write a role with a space: the table's first column is what they show.
    assert [page for page, _ in rows] == [r.replace("_", " ") for r in ROLES]


@pytest.mark.parametrize("verb", [["adduser", "boss"], ["passwd", "boss"], ["lane-key"]])
def test_an_account_verbs_db_goes_before_or_after_the_verb(verb: list[str]) -> None:
    url = "sqlite:////tmp/elsewhere.sqlite"
    before = build_parser().parse_args(["console", "--db", url, *verb])
    after = build_parser().parse_args(["console", *verb, "--db", url])
    neither = build_parser().parse_args(["console", *verb])
    assert before.db == after.db == url and neither.db is None


def test_lane_console_address_forms(capsys: pytest.CaptureFixture[str]) -> None:
    for address in ("127.0.0.1:8765", "http://127.0.0.1:8765/", "ws://range.local:8765"):
        assert _parse(f"openrange lane --console {address} --name LANE1", capsys).console == address


def test_samples_are_used(tmp_path: Path) -> None:
    # Every sample stands for a placeholder the page (or README) writes: none is left over.
    text = DOC.read_text(encoding="utf-8") + README.read_text(encoding="utf-8")
    for placeholder in SAMPLES:
        assert re.search(rf"(?<![A-Za-z]){re.escape(placeholder)}(?![A-Za-z])", text), placeholder


def test_the_empty_lanes_page_gives_a_lane_command_that_parses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with console_range(tmp_path) as rng:
        c = rng.client()
        c.login("boss")
        page = c.request("/").body
    commands = [" ".join(unescape(m).split()) for m in re.findall(r"<code>(.*?)</code>", page)]
    lane = f"openrange lane --console 127.0.0.1:{rng.port} --name LANE1"
    assert commands == [lane, "OPENRANGE_LANE_KEY", "openrange console lane-key"]
    assert _parse(lane, capsys).console == f"127.0.0.1:{rng.port}"
    assert callable(_parse(commands[2], capsys).handler)


def test_with_no_officers_the_pages_say_how_to_add_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from websockets.sync.client import connect

    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with ConsoleStore.open(url) as store:
        store.add_user("boss", Role.RANGE_MASTER, hash_password(PASSWORD), None)
        key = store.secret("lane_key")
    port = free_port()
    with processes() as procs:
        procs.append(start_console(port, url, tmp_path / "console.log"))
        c = Client(f"http://127.0.0.1:{port}")
        c.login("boss")
        with connect(f"ws://127.0.0.1:{port}/ws/lane") as ws:
            ws.send(json.dumps({"type": "hello", "lane": "L1", "key": key, "state": None}))
            time.sleep(0.5)
            pages = [c.request("/records").body, c.request("/lanes/L1").body]
    for page in pages:
        (note,) = re.findall(r'<p class="note no-officers">(.*?)</p>', page, re.S)
        command = unescape(re.findall(r"<code>(.*?)</code>", note)[0])
        assert command == "openrange records officers --add BADGE --name NAME --agency AGENCY"
        assert command in LINES  # documented, so parsed above too
        assert _parse(command, capsys).add == SAMPLES["BADGE"]
