"""nu21 #2, #5, #6, #7, #8: the talk-down's score and review wording (a new user's voice runs).

#2: an officer silent to the time limit in crisis-talk-down-v1 scored 100 PASS like a real
talk-down; #5: a --voice run's sound.wav held none of the officer's words; #6: the report's
Timeline called an undo a correction; #7: times and spans said three ways; #8: a scripted
officer's rapport line counted as a command."""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Callable
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


# --- 5. a --voice run's soundtrack holds the officer's words ------------------------------------


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
def test_a_voice_run_s_soundtrack_holds_the_officer_s_recorded_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import soundfile

    import range.voice.audio as audio
    from range.voice.corpus import speech_16k

    speech = speech_16k("take your time", "en-us", 140)
    track = np.zeros(3 * 16_000)
    track[16_000 : 16_000 + len(speech)] = speech / np.max(np.abs(speech)) * 0.25
    voice = write_wav(tmp_path / "calm.wav", np.asarray(track * 32767, dtype=np.int16))
    decoded: list[Path] = []
    real = audio.read_wav

    def counted(path: Path, warn: Callable[[str], None] | None = None) -> audio.Pcm:
        decoded.append(path)
        return real(path, warn)

    monkeypatch.setattr(audio, "read_wav", counted)
    argv = ["drill", "run", "crisis-talk-down-v1", "--voice", str(voice), "--seed", "3"]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--progress", "never"]) == 0
    # rv21b #9: decoded by the command (checked before the run) and by the run, and the
    # soundtrack mixes in the command's copy: no third decoding after the run.
    assert decoded == [voice, voice]
    out = capsys.readouterr().out
    saved = next(x for x in out.splitlines() if x.startswith("Saved:"))
    run = Path(saved.split(maxsplit=1)[1])
    sound, rate = soundfile.read(str(run / "sound.wav"), dtype="float32")

    def rms_db(lo_s: float, hi_s: float) -> float:
        part = sound[int(lo_s * rate) : int(hi_s * rate)]
        return float(10 * np.log10(np.mean(part**2) + 1e-24))

    said = (1.0, 1.0 + len(speech) / 16_000)
    assert rms_db(*said) > -35.0  # the words, centred (-3 dB a channel)
    assert rms_db(0.0, 0.9) < -200.0 and rms_db(said[1] + 0.2, 3.0) < -200.0
    line = next(x for x in out.splitlines() if x.strip().startswith("sound.wav"))
    assert "the officer's recorded words (centred)" in line


# --- 6. the report's Timeline says an undo as score and "What was heard" do ---------------------


def test_the_timeline_says_an_undo_in_the_words_of_the_score(tmp_path: Path) -> None:
    from test_nu19d import _section, _started
    from test_rules import phase, rec, spoke
    from test_speech_corrections import write_run

    from range.review.report import write_report

    records = [
        _started("crisis-talk-down-v1", {"person": (4.0, 0.0)}),
        phase(0.0, "passive_resistance", subject="person"),
        spoke(2.2, "command.stop", "don't move"),
        rec(30.0, "run_ended", state="completed", reason="time limit"),
    ]
    run = write_run(tmp_path / "run", records)
    correct = ["speech", "correct", str(run), "--at", "2.0"]
    assert main([*correct, "--act", "none", "--by", "Sgt Lee", "--reason", "a cough"]) == 0
    assert main([*correct, "--act", "command.stop", "--by", "Sgt Kay"]) == 0
    page = html.unescape(write_report(run).read_text(encoding="utf-8"))
    undo = "none (Sgt Lee's correction) -> put back to the act heard (command.stop) by Sgt Kay"
    assert undo in _section(page, "What was heard")
    timeline = _section(page, "Timeline")
    assert f"act=command.stop, text=don't move ({undo})" in timeline
    assert "corrected to" not in timeline


# --- 7. one way of giving times ------------------------------------------------------------------


def test_an_at_that_matches_nothing_lists_each_utterance_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_rules import end, phase, rec, start
    from test_speech_corrections import write_run

    def act(name: str, start_s: float, end_s: float) -> LogRecord:
        # Two acts of one utterance: one decision t, one text, each act its own words' span.
        return rec(
            5.5,
            "officer_spoke",
            text="police drop the knife",
            act=name,
            confidence=0.9,
            start_s=start_s,
            end_s=end_s,
            clip=None,
        )

    log = [*start(), phase(0, "active_resistance", "knife"), act("identify", 3.47, 4.29)]
    run = write_run(tmp_path / "run", [*log, act("command.drop_weapon", 4.46, 5.28), end(8)])
    argv = ["speech", "correct", str(run), "--at", "2.0", "--act", "identify", "--by", "Lee"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "openrange: no utterance at 2.00 s (utterances: 3.47-5.28 s);"
        " an act the recogniser missed is credited with --add --from S --to E\n"
    )


def test_time_talking_is_rounded_one_way_in_the_summary_and_deesc_03() -> None:
    from test_rules import end, phase, spoke, start

    log = [
        *start(),
        phase(0, "passive_resistance", "knife"),
        spoke(1.1, "rapport.time", "take your time", talk_s=1.0),  # 0.10-1.10 s
        spoke(2.15, "rapport.name", "what's your name", talk_s=0.05),  # 2.10-2.15 s
        end(5),
    ]
    text = format_score(score_run(log, default_policy()))  # 1.0499999999999998 s talking
    assert "Speech heard:      rapport.name x1, rapport.time x1; 1.1 s talking" in text
    assert "2 rapport act(s), 0 question act(s), 1.1 s talking" in text
    assert "1.0 s talking" not in text


# --- 8. a scripted line is the acts its words map to ----------------------------------------------


def test_a_scripted_rapport_line_is_not_a_command_and_earns_no_verbal_01() -> None:
    from test_rules import end, phase, say, start, taser

    def scored(words: str) -> tuple[dict[str, int], list[tuple[str, Kind]]]:
        log = [*start(), phase(0, "active_resistance"), say(0.5, words), taser(3.0), end(5)]
        score = score_run(log, default_policy())
        verbal = [(f.rule, f.kind) for f in score.findings if f.rule == "VERBAL-01"]
        return score.speech["acts"], verbal

    acts, verbal = scored("I'm here to help. What's your name?")
    assert acts == {"rapport.help": 1, "rapport.name": 1}  # as the same words heard
    assert verbal == [("VERBAL-01", Kind.FINDING)]
    acts, verbal = scored("Police! Drop the knife!")  # a command the book maps: credited
    assert acts == {"identify": 1, "command.drop_weapon": 1}
    assert verbal == [("VERBAL-01", Kind.CREDIT)]
    acts, verbal = scored("Stay down! Hands out!")  # no act the book knows: still a command
    assert acts == {"command": 1} and verbal == [("VERBAL-01", Kind.CREDIT)]
