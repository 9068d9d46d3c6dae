"""The lane's live control: instructor commands land at frame boundaries, are logged with who
gave them, pause freezes the drill clock, and a saved run replays exactly from its log."""

from __future__ import annotations

import queue
import wave
from pathlib import Path
from typing import Any

import pytest

from drills.log import LogRecord
from drills.officer import find_officer
from drills.schema import read_drill_file
from range.console import speech
from range.console.lane import LiveControl, lane_url, replay_control
from range.console.protocol import lane_state
from range.runs.drill import RunConfig, Session, run_drill
from range.runs.runlog import read_events

DRILL = Path(__file__).parent / "data" / "console" / "branch.toml"


def _config(tmp_path: Path, control: Any, seed: int = 7) -> RunConfig:
    source = read_drill_file(str(DRILL))
    return RunConfig(
        drill=source.drill,
        drill_file=source,
        officer=find_officer("traffic-stop-compliant-correct-v1"),
        seed=seed,
        runs_dir=tmp_path,
        officer_name="B-101",
        on_frame=control,
    )


class Scripted:
    """Feeds commands into a LiveControl's queue when the drill reaches given times."""

    def __init__(self, at: list[tuple[float, dict[str, Any]]]) -> None:
        self.at = at
        self.commands: queue.Queue[dict[str, Any]] = queue.Queue()
        self.states: list[dict[str, Any]] = []
        self.live = LiveControl(
            self.commands, lambda s, e: self.states.append(s), {"drill": "x"}, speed=None
        )

    def __call__(self, session: Session) -> None:
        while self.at and self.at[0][0] <= session.engine.t + 1e-9:
            self.commands.put(self.at.pop(0)[1])
        self.live(session)


def _strip(records: list[LogRecord]) -> list[tuple[float, str, dict[str, Any]]]:
    return [(round(r.t, 6), r.kind, r.data) for r in records]


def test_commands_apply_at_frame_boundaries_and_replay_exactly(tmp_path: Path) -> None:
    script = Scripted(
        [
            (1.0, {"command": "pause", "by": "inst1"}),
            (1.0, {"command": "flag", "by": "inst1", "args": {"note": "hands hidden"}}),
            (1.0, {"command": "resume", "by": "inst1"}),
            (2.5, {"command": "button", "by": "inst1", "args": {"button": "stop"}}),
            (2.5, {"command": "say", "by": "inst1", "args": {"subject": "walker", "text": "ok"}}),
            (3.0, {"command": "mark", "by": "inst2", "args": {"act": "command", "text": "stop"}}),
        ]
    )
    session = Session(_config(tmp_path / "live", script))
    live = session.run()
    script.live.finish(session)
    records = read_events(live.run_dir) if live.run_dir else []
    commands = [r for r in records if r.kind == "instructor_command"]
    assert [(round(r.t, 3), r.data["command"], r.data["by"]) for r in commands] == [
        (1.0, "pause", "inst1"),
        (1.0, "flag", "inst1"),
        (1.0, "resume", "inst1"),
        (2.5, "button", "inst1"),
        (2.5, "say", "inst1"),
        (3.0, "mark", "inst2"),
    ]
    assert commands[1].data["note"] == "hands hidden"
    kinds = [(round(r.t, 3), r.kind) for r in records if 0.99 < r.t < 1.01]
    assert (1.0, "run_suspended") in kinds and (1.0, "run_resumed") in kinds
    suspended = next(r for r in records if r.kind == "run_suspended")
    assert suspended.data["reason"] == "paused by inst1"
    # The button took the branch at 2.5 s: halted, then the drill ends 2 s later.
    halted = next(r for r in records if r.kind == "phase_entered" and r.data["phase"] == "halted")
    assert round(halted.t, 3) == 2.5
    assert live.end_reason and round(live.duration_s, 2) == 4.5
    assert script.states[-1]["status"] == "ended"
    assert any(s["subjects"][0]["phase"] == "halted" for s in script.states)

    replayed = run_drill(_config(tmp_path / "replay", replay_control(records)))
    again = read_events(replayed.run_dir) if replayed.run_dir else []
    assert _strip(again) == _strip(records)


def test_abort_and_restart_end_the_run_with_who(tmp_path: Path) -> None:
    script = Scripted([(0.5, {"command": "abort", "by": "boss"})])
    result = run_drill(_config(tmp_path, script))
    assert result.state.value == "aborted"
    assert result.end_reason == "aborted by boss"
    assert round(result.duration_s, 2) == 0.5
    script = Scripted([(0.2, {"command": "restart", "by": "boss"})])
    result = run_drill(_config(tmp_path, script))
    assert result.end_reason == "restarted by boss" and script.live.restart


def test_state_is_in_feet_with_the_branch_buttons(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def grab(session: Session) -> None:
        if not seen:
            seen.append(lane_state(session.engine, session.hands.officer_xy, {"drill": "d"}))

    run_drill(_config(tmp_path, grab))
    state = seen[0]
    # The first state goes out after the first frame: one 1/90 s step of the walk from 30 ft.
    assert state["subjects"][0]["x_ft"] == pytest.approx(30.0, abs=0.1)  # start_distance_ft
    assert state["buttons"] == [{"name": "stop", "live": True}]
    assert state["lane_ft"] == [75.0, 26.0]
    assert state["status"] == "running"


def test_lane_url_forms() -> None:
    assert lane_url("127.0.0.1:8765") == "ws://127.0.0.1:8765/ws/lane"
    assert lane_url("http://range.local:80/") == "ws://range.local:80/ws/lane"
    assert lane_url("https://range.local") == "wss://range.local/ws/lane"
    assert lane_url("ws://h:1/ws/lane") == "ws://h:1/ws/lane"


@pytest.mark.skipif(speech.engine() is None, reason="needs espeak-ng (Debian package)")
def test_lines_said_as_a_subject_are_saved_as_speech(tmp_path: Path) -> None:
    evil = tmp_path / "evil.wav"
    script = Scripted(
        [
            (
                0.5,
                {
                    "command": "say",
                    "by": "inst1",
                    "args": {"subject": "walker", "text": "Leave me alone"},
                },
            ),
            (1.0, {"command": "say", "by": "inst1", "args": {"text": f"-w {evil} hello"}}),
        ]
    )
    heard: list[tuple[str | None, str, list[str]]] = []
    script.live.say = lambda subject, text, subjects: heard.append((subject, text, subjects))
    result = run_drill(_config(tmp_path, script))
    assert heard == [
        ("walker", "Leave me alone", ["walker"]),
        (None, f"-w {evil} hello", ["walker"]),
    ]
    assert result.run_dir is not None
    written = speech.write_speech(result.run_dir, read_events(result.run_dir))
    assert [p.name for p in written] == ["01.wav", "02.wav"]
    for path in written:
        with wave.open(str(path)) as w:
            assert w.getnframes() / w.getframerate() > 0.5  # seconds of speech
    assert not evil.exists()  # the line was spoken, not taken as an option
