"""Ctrl-C (KeyboardInterrupt) in a run or a long command: one line saying it was stopped, no
traceback, exit status 130; a drill run is closed where it stood (run_ended, result.json,
ABORTED). The live drill's own case: tests/test_live_drill.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from range.cli.main import main
from range.runs.drill import STOPPED, Session


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, calls: int) -> None:
    """`owner.name` runs as before, and the range master presses Ctrl-C during its call number
    `calls` (KeyboardInterrupt where the real SIGINT would land: in the middle of the work)."""
    real = getattr(owner, name)
    made = [0]

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        made[0] += 1
        if made[0] == calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted)


def test_ctrl_c_closes_a_drill_run_and_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _interrupt_after(monkeypatch, Session, "_simulated_frame", 90)
    runs = tmp_path / "runs"
    argv = ["drill", "run", "knife-approach-v1", "--seed", "1", "--runs-dir", str(runs)]
    assert main([*argv, "--sound", "off", "--progress", "never"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (run,) = runs.iterdir()
    assert (
        err.strip().splitlines()[-1]
        == f"{STOPPED} at 0.99 s: the run is closed, not graded; saved in {run}"
    )
    ended = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
    assert ended["kind"] == "run_ended" and ended["reason"] == STOPPED
    assert json.loads((run / "result.json").read_text())["state"] == "aborted"


def test_ctrl_c_in_a_course_attempt_says_the_attempt_is_not_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import range.runs.course as course

    _interrupt_after(monkeypatch, course, "_fire_string", 2)
    argv = ["course", "run", "taser7-practical-v1", "--runs-dir", str(tmp_path / "runs")]
    assert main([*argv, "--sound", "off"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [
        "openrange: stopped by the range master (Ctrl-C): the attempt is not finished"
    ]


def test_ctrl_c_in_analyze_spread_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import physics.analysis as analysis

    _interrupt_after(monkeypatch, analysis, "spread_study", 1)
    argv = ["analyze", "spread", "--cartridge", "taser7-cq", "--distance", "15ft"]
    assert main([*argv, "--trials", "1000"]) == 130
    assert capsys.readouterr().err == "openrange: stopped (Ctrl-C)\n"
