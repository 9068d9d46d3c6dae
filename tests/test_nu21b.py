"""nu21 #2, #5, #6, #7, #8: the talk-down's score and review wording (a new user's voice runs).

#2: an officer silent to the time limit in crisis-talk-down-v1 scored 100 PASS like a real
talk-down; #5: a --voice run's sound.wav held none of the officer's words; #6: the report's
Timeline called an undo a correction; #7: times and spans said three ways; #8: a scripted
officer's rapport line counted as a command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drills.log import LogRecord
from range.cli.main import main
from range.cli.summary import format_score
from range.voice.audio import write_wav
from scoring.policy import default_policy
from scoring.score import Kind, score_run


def rec(t: float, kind: str, **data: object) -> LogRecord:
    return LogRecord(t, kind, dict(data))


def _voice_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], voice: Path) -> Path:
    argv = ["drill", "run", "crisis-talk-down-v1", "--voice", str(voice), "--seed", "3"]
    argv += ["--runs-dir", str(tmp_path / "runs"), "--json", "--progress", "never"]
    assert main([*argv, "--sound", "off"]) == 0
    return Path(json.loads(capsys.readouterr().out)["run_dir"])


# --- 2. silent to the time limit: not talked down ----------------------------------------------


def test_a_silent_officer_in_the_talk_down_is_not_scored_as_a_talk_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voice = write_wav(tmp_path / "silence.wav", np.zeros(2 * 16_000, dtype=np.int16))
    run = _voice_run(tmp_path, capsys, voice)
    result = json.loads((run / "result.json").read_text())
    assert result["score"]["score"] == 90.0
    assert result["score"]["decision"] == "no force used; not talked down (time limit)"
    (found,) = [f for f in result["score"]["findings"] if f["rule"] == "DEESC-04"]
    assert found["kind"] == Kind.FINDING.value and found["points"] == -10.0
    assert found["message"] == (
        "not talked down: the time limit came with person not surrendered (passive"
        " resistance), still holding the knife, and no word was heard from the officer (no"
        " command, warning, rapport or question act)"
    )
    assert not [f for f in result["score"]["findings"] if f["rule"] == "DEESC-02"]


def test_a_talk_down_still_under_way_at_the_time_limit_is_an_info_line() -> None:
    started = {"log_format": 1, "drill": "crisis-talk-down-v1", "dt_s": 0.01, "cover": []}
    subjects = {"person": {"role": "subject", "held_object": "knife", "start_m": [7.6, 0.0]}}
    log = [
        rec(0.0, "run_started", **started, subjects=subjects, weapons=["taser", "firearm"]),
        rec(
            0.0,
            "phase_entered",
            subject="person",
            phase="distressed",
            behaviour="passive_resistance",
            threat="passive",
            held_object="knife",
            stance="standing",
            role="subject",
            distance_ft=25.0,
        ),
        rec(
            2.0,
            "officer_spoke",
            text="take your time",
            act="rapport.time",
            confidence=0.9,
            start_s=1.0,
            end_s=2.0,
            clip=None,
        ),
        rec(30.0, "run_ended", state="completed", reason="time limit"),
    ]
    score = score_run(log, default_policy())
    (found,) = [f for f in score.findings if f.rule == "DEESC-04"]
    assert found.kind is Kind.INFO and score.score == 100.0 and score.passed
    assert "not talked down (time limit)" in format_score(score)

