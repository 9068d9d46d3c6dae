"""Issue 17, speech in runs: the officer's voice heard through the one Listener pipeline, drills
branching on what was said, and a seeded de-escalation model per subject. The proof: a crisis
drill ended by the right words with no force, driven by espeak-ng audio through
`drill run --voice`; the same words shouted escalate it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from drills.deescalation import Agitation, Deescalation, parse_agitation_trigger
from drills.engine import DrillEngine, OfficerAction
from drills.events import RecordError, check_record
from drills.log import MemoryLog
from drills.schema import parse_drill
from physics.datafiles import DataFileError
from range.cli.main import main
from range.runs.voice import VOICE_FILE, TrackVoice, loudness_dbfs

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


# -- the model -----------------------------------------------------------------------------------


def _agitation(seed: int = 1, **model: float) -> Agitation:
    return Agitation(Deescalation.model_validate(model), np.random.default_rng(seed))


def test_responsiveness_is_drawn_from_the_seed_within_its_spread() -> None:
    a, b, c = _agitation(1), _agitation(1), _agitation(2)
    assert a.responsiveness == b.responsiveness != c.responsiveness
    expected = 1.0 + np.random.default_rng(1).uniform(-0.2, 0.2)
    assert a.responsiveness == pytest.approx(expected)
    assert _agitation(1, responsiveness_spread=0.0).responsiveness == 1.0


def test_calm_talk_lowers_agitation_and_a_shout_raises_it() -> None:
    a = _agitation(1, responsiveness_spread=0.0)
    assert a.level == 0.6
    assert a.heard("rapport.help", -20.5) == pytest.approx(-0.12)
    assert a.heard("question.wellbeing", None) == pytest.approx(-0.12)
    assert a.heard("command.drop_weapon", -30.0) == 0.0  # a calm command neither calms nor riles
    assert a.level == pytest.approx(0.36)
    # A shout (at or above shout_dbfs, -20 by default) raises it, whatever was said.
    assert a.heard("rapport.help", -20.0) == pytest.approx(0.2)
    assert a.level == pytest.approx(0.56)
    spread = _agitation(3)
    assert spread.heard("rapport.time", None) == pytest.approx(-0.12 * spread.responsiveness)


def test_time_at_a_distance_calms_crowding_and_a_pointed_weapon_rile() -> None:
    a = _agitation(1, responsiveness_spread=0.0)
    for _ in range(100):  # 10 s at 25 ft: 0.01 / s
        a.advance(0.1, 25.0)
    assert a.level == pytest.approx(0.5)
    for _ in range(100):  # 10 s at 12 ft: neither safe (15 ft) nor crowding (10 ft)
        a.advance(0.1, 12.0)
    assert a.level == pytest.approx(0.5)
    for _ in range(40):  # 4 s at 5 ft: 0.05 / s
        a.advance(0.1, 5.0)
    assert a.level == pytest.approx(0.7)
    assert a.weapon_pointed() == pytest.approx(0.15)
    for _ in range(50):  # 5 s pointed, at a distance: no calming, 0.02 / s
        a.advance(0.1, 25.0)
    assert a.level == pytest.approx(0.95)
    a.holstered()
    a.advance(1.0, 25.0)
    assert a.level == pytest.approx(0.94)
    a.heard("command.stop", 0.0)
    assert a.level == 1.0  # clamped
    assert a.crossed("above", 0.9) and not a.crossed("below", 0.2)


def test_agitation_triggers_are_parsed_and_bad_ones_named() -> None:
    assert parse_agitation_trigger("agitation_below:0.2") == ("below", 0.2)
    assert parse_agitation_trigger("agitation_above:0.99") == ("above", 0.99)
    assert parse_agitation_trigger("agitation_below:0.01") == ("below", 0.01)
    assert parse_agitation_trigger("hit") is None
    for bad in ("agitation_below:1.5", "agitation_under:0.2", "agitation_below:"):
        with pytest.raises(ValueError, match="agitation_below:X or agitation_above:X"):
            parse_agitation_trigger(bad)


# -- drill files ---------------------------------------------------------------------------------

DRILL = """id = "x-v1"
version = 1
title = "t"
rationale = "r"
expected_response = "e"

[[subjects]]
id = "p"
start_distance_ft = 20.0
start_phase = "a"
@DEESC@
[[phases]]
id = "a"
subject = "p"
behaviour = "passive_resistance"
[[phases.transitions]]
to = "b"
on = "@ON@"

[[phases]]
id = "b"
subject = "p"
behaviour = "surrendered"
ends_drill = true
"""


def _drill(on: str, deescalation: str = "") -> str:
    return DRILL.replace("@ON@", on).replace("@DEESC@", deescalation)


@pytest.mark.parametrize(
    ("on", "message"),
    [
        ("speech:command.Drop", "'command.Drop' is not a speech act"),
        ("speech:shouting", "'shouting' is not a speech act"),
        ("agitation_below:1.5", "'agitation_below:1.5': an agitation trigger is agitation_below:X"),
        ("shouted", "'shouted': allowed an officer cue (verbal_command, taser_drawn,"),
        ("agitation_below:0.2", "agitation_below:0.2 needs subject 'p' to have a"),
    ],
)
def test_a_bad_trigger_is_named_by_file_line_and_field(on: str, message: str) -> None:
    with pytest.raises(DataFileError) as caught:
        parse_drill(_drill(on), "x.toml")
    assert str(caught.value).startswith(f"x.toml:18: phases[0].transitions[0].on: {message}")


def test_a_bad_deescalation_value_is_named() -> None:
    with pytest.raises(DataFileError, match=r"^x\.toml:11: .*deescalation.*start_agitation"):
        parse_drill(_drill("hit", "deescalation = { start_agitation = 1.5 }"), "x.toml")


def test_speech_and_agitation_triggers_load() -> None:
    for on in ("speech:command.drop_weapon", "speech:command", "speech:rapport"):
        assert parse_drill(_drill(on), "x.toml").phases[0].transitions[0].on == on
    drill = parse_drill(_drill("agitation_below:0.2", "deescalation = {}"), "x.toml")
    assert drill.subjects[0].deescalation == Deescalation()


# -- the engine ----------------------------------------------------------------------------------


def _engine(on: str, deescalation: str = "") -> DrillEngine:
    drill = parse_drill(_drill(on, deescalation), "x.toml")
    engine = DrillEngine(drill, np.random.default_rng(0), MemoryLog())
    engine.start()
    return engine


def _say(engine: DrillEngine, act: str, loudness_dbfs: float | None = None) -> None:
    t = engine.t
    engine.spoke(act, text=act, confidence=1.0, start_s=t, end_s=t, loudness_dbfs=loudness_dbfs)


def test_a_speech_trigger_fires_on_its_act_and_a_category_on_every_act_in_it() -> None:
    engine = _engine("speech:command.drop_weapon")
    _say(engine, "command.stop")
    assert engine.subjects["p"].phase.id == "a"
    _say(engine, "command.drop_weapon", -25.0)
    assert engine.subjects["p"].phase.id == "b"
    spoke = [r for r in engine.log.records if r.kind == "officer_spoke"]
    assert [r.data["act"] for r in spoke] == ["command.stop", "command.drop_weapon"]
    assert spoke[1].data["loudness_dbfs"] == -25.0 and "loudness_dbfs" not in spoke[0].data
    category = _engine("speech:command")
    _say(category, "rapport.help")
    assert category.subjects["p"].phase.id == "a"
    _say(category, "command.get_down")
    assert category.subjects["p"].phase.id == "b"


def test_any_act_heard_cues_a_verbal_command_transition() -> None:
    """Drills written for the scripted officer's verbal steps play with a live voice too."""
    engine = _engine("verbal_command")
    _say(engine, "rapport.name")
    assert engine.subjects["p"].phase.id == "b"


def test_agitation_moves_the_subject_and_is_logged_with_its_cause() -> None:
    engine = _engine(
        "agitation_below:0.4", "deescalation = { responsiveness_spread = 0.0, calm_per_s = 0.0 }"
    )
    _say(engine, "rapport.help")
    engine.step()
    assert engine.subjects["p"].phase.id == "a"  # 0.48
    # A live officer's pointing is logged at its cast's time, ahead of the engine's (rc16 #7):
    # the agitation it causes is logged with it, not before it.
    at = round(engine.t + 0.004, 6)  # as the log keeps times
    engine.officer_action(OfficerAction.WEAPON_POINTED, at, subject="p", weapon="firearm")
    assert [(r.t, r.kind) for r in engine.log.records[-2:]] == [
        (at, "officer_action"),
        (at, "agitation"),
    ]
    _say(engine, "rapport.time")
    assert engine.subjects["p"].phase.id == "a"  # thresholds are checked as time steps
    _say(engine, "rapport.time")
    engine.step()  # 0.48 + 0.15 - 0.24 = 0.39 (+ a step's 0.02 / s pointed): below 0.4
    levels = [
        (r.data["cause"], r.data["level"]) for r in engine.log.records if r.kind == "agitation"
    ]
    assert levels[:5] == [
        ("start", 0.6),
        ("speech", 0.48),
        ("weapon_pointed", 0.63),
        ("speech", 0.51),
        ("speech", 0.39),
    ]
    assert engine.subjects["p"].phase.id == "b"
    for record in engine.log.records:
        check_record(record.as_json())


def test_an_officer_spoke_record_is_checked() -> None:
    good = {"t": 1.0, "kind": "officer_spoke", "text": "drop it", "act": "command.drop_weapon"}
    good |= {"confidence": 1.0, "start_s": 0.2, "end_s": 0.8, "clip": None}
    check_record(good)
    check_record(good | {"loudness_dbfs": -18.5})
    with pytest.raises(RecordError, match=r"^officer_spoke\.loudness_dbfs: "):
        check_record(good | {"loudness_dbfs": 3.0})
    with pytest.raises(RecordError, match=r"^officer_spoke\.act: "):
        check_record(good | {"act": "shout"})


# -- audio ---------------------------------------------------------------------------------------


def test_loudness_is_the_rms_level_in_dbfs() -> None:
    full = np.full(1600, 32767, dtype=np.int16)
    assert loudness_dbfs(full) == pytest.approx(0.0, abs=1e-3)
    assert loudness_dbfs((full // 10).astype(np.int16)) == pytest.approx(-20.0, abs=0.01)
    assert loudness_dbfs(np.zeros(10, dtype=np.int16)) == -120.0


CALM = [(1.0, "take your time"), (3.0, "what's your name"), (5.0, "talk to me")]
CALM += [(7.5, "drop the knife")]


def _track(level: float, seconds: float = 12.0) -> npt.NDArray[np.int16]:
    """The officer's words spoken by espeak-ng (range/voice/corpus.py) at their times, peak
    `level` of full scale, over a faint noise floor."""
    from range.voice.corpus import speech_16k

    out = np.zeros(int(seconds * 16_000))
    for at_s, text in CALM:
        speech = speech_16k(text, "en-us", 140)
        speech = speech / np.max(np.abs(speech)) * level
        i = int(at_s * 16_000)
        if i < len(out):
            out[i : i + len(speech)] += speech[: len(out) - i]
    out += np.random.default_rng(0).normal(0.0, 0.002, len(out))
    return np.asarray(np.clip(out, -1, 1) * 32767, dtype=np.int16)


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("no espeak-ng")
    from range.voice.audio import write_wav

    folder = tmp_path_factory.mktemp("voices")
    # A normal voice peaks at a quarter of full scale (about -29 dBFS RMS); a shout near full
    # scale (about -17 dBFS), past the drill's shout_dbfs of -20.
    return {
        "calm": write_wav(folder / "calm.wav", _track(0.25)),
        "loud": write_wav(folder / "loud.wav", _track(0.95)),
    }


def _run(
    voice: Path, runs: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    args = ["drill", "run", "crisis-talk-down-v1", "--voice", str(voice), "--seed", "3"]
    assert main([*args, "--runs-dir", str(runs), "--json", "--progress", "never"]) == 0
    result = json.loads(capsys.readouterr().out)
    run_dir = Path(result["run_dir"])
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return result, events


def _phases(events: list[dict[str, Any]]) -> list[str]:
    return [e["phase"] for e in events if e["kind"] == "phase_entered"]


@needs_espeak
def test_the_right_words_end_the_crisis_with_no_force(
    voices: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result, events = _run(voices["calm"], tmp_path / "runs", capsys)
    assert result["state"] == "completed"
    assert result["end_reason"] == "person reached drops_knife"
    assert result["score"]["outcome"] == "PASS"
    assert not [e for e in events if e.get("action") in ("taser_fired", "firearm_fired")]
    assert _phases(events) == ["distressed", "calmer", "drops_knife"]
    spoke = [e for e in events if e["kind"] == "officer_spoke"]
    assert [(e["act"], e["text"]) for e in spoke] == [
        ("rapport.time", "take your time"),
        ("rapport.name", "what's your name"),
        ("rapport.time", "talk to me"),
        ("command.drop_weapon", "drop the knife"),
    ]
    for event, (said_at_s, _) in zip(spoke, CALM, strict=True):
        # On the run clock: the words start where the track has them and are decided after
        # they end (within the VAD's window and a frame).
        assert event["start_s"] == pytest.approx(said_at_s, abs=0.15)
        assert event["start_s"] < event["end_s"] < event["t"] < event["end_s"] + 0.5
        assert -32.0 < event["loudness_dbfs"] < -26.0
        assert event["confidence"] == 1.0 and event["clip"] == "officer-voice.wav"
    # The script's own speak steps are left out: the recording is the officer's voice.
    assert len(spoke) == len(CALM)
    run_dir = Path(result["run_dir"])
    kept = (run_dir / VOICE_FILE).read_bytes()
    digest = hashlib.sha256(voices["calm"].read_bytes()).hexdigest()
    assert kept == voices["calm"].read_bytes()
    assert events[0]["voice_file"] == result["voice_file"] == VOICE_FILE
    assert events[0]["voice_sha256"] == result["voice_sha256"] == digest
    levels = [e["level"] for e in events if e["kind"] == "agitation" and e["cause"] == "speech"]
    assert levels == sorted(levels, reverse=True) and levels[-1] < 0.35


@needs_espeak
def test_the_same_words_shouted_escalate_the_crisis(
    voices: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result, events = _run(voices["loud"], tmp_path / "runs", capsys)
    assert result["end_reason"] == "person reached stabs"
    assert result["score"]["outcome"] == "FAIL"
    assert _phases(events) == ["distressed", "agitated", "attacks", "stabs"]
    spoke = [e for e in events if e["kind"] == "officer_spoke"]
    assert spoke and all(-20.0 < e["loudness_dbfs"] < -14.0 for e in spoke)
    levels = [e["level"] for e in events if e["kind"] == "agitation" and e["cause"] == "speech"]
    assert levels[:2] == sorted(levels[:2]) and levels[1] > 0.9
    agitated = next(e for e in events if e.get("phase") == "agitated")
    assert agitated["t"] == pytest.approx(spoke[1]["t"], abs=0.02)  # the second shout did it


@needs_espeak
def test_a_recording_is_heard_on_the_run_clock_block_by_block() -> None:
    """TrackVoice feeds only audio that has been spoken by the run time asked for."""
    from drills.speech import builtin_phrasebook
    from range.voice.recognize import Listener, Recognizer

    voice = TrackVoice(_track(0.25, 5.0), Listener(Recognizer(builtin_phrasebook())))
    # "take your time" (1.0-2.1 s) is still being said at 1.8 s. (An early decision, docs/speech.md,
    # may come at 1.95 s, on the final nasal 12 dB under the vowels.)
    assert voice.until(1.8) == []
    heard = voice.until(3.0)
    assert [s.heard.act for s in heard] == ["rapport.time"]
    assert heard[0].heard.decided_s <= 3.0
    assert len(voice.pcm()) == 3.0 * 16_000


def test_drill_show_gives_the_model_and_the_speech_triggers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["drill", "show", "crisis-talk-down-v1"]) == 0
    out = capsys.readouterr().out
    assert "      de-escalation (docs/drills.md): start_agitation = 0.6, calm_per_s = 0.01," in out
    assert "      -> drops_knife on speech:command.drop_weapon\n" in out
    assert "      -> calmer on agitation_below:0.35\n" in out
    assert "      -> attacks on within_ft 6.0\n" in out


def test_a_voice_on_a_live_run_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411", "--port", "x"]
    assert main([*args, "--voice", str(tmp_path / "a.wav")]) == 2
    assert capsys.readouterr().err == (
        "openrange: --voice is for a simulated run: a live run hears the microphone\n"
    )


def test_a_missing_voice_file_is_one_named_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "none.wav"
    args = ["drill", "run", "crisis-talk-down-v1", "--no-save", "--voice", str(missing)]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert f"{missing}" in err and "Traceback" not in err and err.count("\n") == 1


def test_a_live_run_without_audio_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from range.cli.drill import microphone
    from range.voice.audio import audio_off_reason

    reason = audio_off_reason()
    if reason is None:
        pytest.skip("this machine has a microphone")
    opener = microphone()
    # Nothing said until the run opens it, past its replica and calibration checks (nu16 #14:
    # the line preceded every refusal).
    assert capsys.readouterr().err == ""
    # The reason goes into the log too (run_started `officer_unheard`, nu20 #1).
    assert opener() == reason
    assert capsys.readouterr().err == (
        f"audio is off: {reason}; the run goes on without the officer's voice (the verbal"
        " rules are not judged)\n"
    )
