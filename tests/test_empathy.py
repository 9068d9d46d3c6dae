"""Empathy scenes (issue 17, build point 6): a drill kind with no force to score, heard and seen
from another person's place, followed by a debrief answered typed or by voice."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from speech_support import soundless_wavs

from drills.log import LogRecord
from drills.officer import find_officer
from drills.schema import builtin_drills, parse_drill
from physics.datafiles import DataFileError
from range.cli.main import main
from range.runs.drill import RunConfig, run_drill
from range.voice.speak import OUT_RATE_HZ
from scoring.policy import default_policy
from scoring.score import score_run

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
SCENES = ("empathy-child-domestic-v1", "empathy-crisis-voices-v1")

MINIMAL = """
id = "scene-v1"
version = 1
kind = "empathy"
title = "t"
rationale = "r"
expected_response = "e"

[empathy]
perspective = "kid"
[[empathy.debrief]]
id = "one"
question = "What did you hear?"

[[subjects]]
id = "kid"
role = "bystander"
start_distance_ft = 10.0
start_phase = "p"

[[phases]]
id = "p"
subject = "kid"
behaviour = "compliant"
ends_drill = true
"""


def test_an_empathy_scene_needs_its_section_a_real_perspective_and_unique_questions() -> None:
    assert parse_drill(MINIMAL, "s.toml").empathy is not None
    with pytest.raises(DataFileError, match=r"s.toml:10: empathy.perspective: no subject 'nobody'"):
        parse_drill(MINIMAL.replace('perspective = "kid"', 'perspective = "nobody"'), "s.toml")
    again = '[[empathy.debrief]]\nid = "one"\nquestion = "Again?"\n\n[[subjects]]'
    twice = MINIMAL.replace("[[subjects]]", again, 1)
    with pytest.raises(DataFileError, match=r"empathy.debrief\[1\].id: question id 'one' is used"):
        parse_drill(twice, "s.toml")
    with pytest.raises(DataFileError, match='goes with kind = "empathy"'):
        parse_drill(MINIMAL.replace('kind = "empathy"\n', ""), "s.toml")
    no_section = MINIMAL.split("[empathy]")[0] + "[[subjects]]" + MINIMAL.split("[[subjects]]")[1]
    with pytest.raises(DataFileError, match='goes with kind = "empathy"'):
        parse_drill(no_section, "s.toml")


def test_the_library_holds_two_scenes_with_their_sources() -> None:
    for scene_id in SCENES:
        drill = builtin_drills()[scene_id]
        assert drill.kind == "empathy" and drill.empathy is not None
        assert len(drill.empathy.debrief) >= 3
        assert "https://" in drill.rationale
    assert "antser.com" in builtin_drills()[SCENES[0]].rationale
    assert "axon.com" in builtin_drills()[SCENES[1]].rationale
    assert builtin_drills()[SCENES[1]].empathy.hears == "distorted"  # type: ignore[union-attr]


@pytest.mark.parametrize("scene_id", SCENES)
def test_a_scene_is_heard_from_its_perspective_and_scored_without_force(scene_id: str) -> None:
    drill = builtin_drills()[scene_id]
    assert drill.empathy is not None and drill.expected_officer is not None
    answers = [
        {"question": q.id, "text": q.question, "answer": f"answer {i}", "how": "typed"}
        for i, q in enumerate(drill.empathy.debrief)
    ]
    result = run_drill(
        RunConfig(drill, find_officer(drill.expected_officer), 1, debrief=lambda d: answers)
    )
    started = result.records[0].data
    assert started["drill_kind"] == "empathy"
    assert started["perspective"] == drill.empathy.perspective
    spoken = [r.data for r in result.records if r.kind == "subject_spoke"]
    assert spoken and all(s["listener"] == drill.empathy.perspective for s in spoken)
    own = [s for s in spoken if s["subject"] == drill.empathy.perspective]
    assert own and all(s["distance_m"] == 0.0 for s in own)  # one's own voice, at the head
    score = result.score
    assert score.passed and score.findings == [] and score.deployments == []
    n = len(drill.empathy.debrief)
    assert score.decision == f"empathy scene: completed; {n} of {n} debrief questions answered"
    assert [a["answer"] for a in score.debrief] == [f"answer {i}" for i in range(n)]
    logged = [r.data for r in result.records if r.kind == "debrief_answer"]
    assert logged == answers


def test_force_in_an_empathy_scene_is_not_judged_and_an_unfinished_one_does_not_pass() -> None:
    muzzle = {"position_m": [0.0, 0.0, 1.5], "orientation": [0.0, 0.0, 0.0, 1.0], "tracked": True}
    head = {"log_format": 1, "drill": "scene-v1", "dt_s": 0.01, "cover": []}
    started = LogRecord(
        0.0,
        "run_started",
        head
        | {
            "subjects": {"kid": {"role": "bystander", "held_object": "none", "start_m": [3, 0]}},
            "drill_kind": "empathy",
            "perspective": "kid",
        },
    )
    fired = LogRecord(1.0, "officer_action", {"action": "firearm_fired", "muzzle": muzzle})
    ended = LogRecord(2.0, "run_ended", {"state": "completed", "reason": "kid reached p"})
    answer = LogRecord(
        2.0, "debrief_answer", {"question": "one", "text": "Q?", "answer": "", "how": "skipped"}
    )
    policy = default_policy()
    done = score_run([started, fired, ended, answer], policy)
    # A scene whose debrief went unanswered is not done: INCOMPLETE, never 100 PASS.
    assert not done.passed and done.findings == [] and done.score == 0.0
    assert done.incomplete.startswith("no debrief question answered (0 of 1)")
    assert done.decision == "empathy scene: completed; 0 of 1 debrief questions answered"
    said = LogRecord(2.0, "debrief_answer", answer.data | {"answer": "a voice", "how": "typed"})
    answered = score_run([started, fired, ended, said], policy)
    assert answered.passed and answered.findings == [] and answered.score == 100.0
    assert score_run([started, fired, ended], policy).incomplete  # no debrief at all
    cut = score_run([started, fired], policy)
    assert not cut.passed and cut.incomplete and cut.decision.startswith("empathy scene: not")
    force = dict(head, subjects=started.data["subjects"])
    judged = score_run([LogRecord(0.0, "run_started", force), fired, ended], policy)
    assert not judged.decision.startswith("empathy")  # a force drill is judged as ever


def test_debrief_answers_typed_on_the_command_line_are_logged_and_rescored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    args = ["drill", "run", SCENES[1], "--seed", "1", "--runs-dir", str(runs), "--sound", "off"]
    assert main([*args, "--answer", "fear=his calm voice", "--answer", "got_through=his name"]) == 0
    out = capsys.readouterr()
    assert "Debrief:\n" in out.out and "    his calm voice" in out.out
    assert "Which of the officer's words got through the voices" in out.err  # asked
    (run,) = runs.iterdir()
    records = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    answers = {
        r["question"]: (r["answer"], r["how"]) for r in records if r["kind"] == "debrief_answer"
    }
    assert answers == {
        "got_through": ("his name", "typed"),
        "fear": ("his calm voice", "typed"),
        "next_time": ("", "skipped"),
    }
    assert main(["score", str(run), "--json"]) == 0
    rescored = json.loads(capsys.readouterr().out)
    assert rescored["decision"] == "empathy scene: completed; 2 of 3 debrief questions answered"
    from range.cli.replay import default_viewer
    from range.review.report import write_report

    assert default_viewer(run) == "man"
    page = write_report(run).read_text(encoding="utf-8")  # the review shows what was said
    assert "text=They keep talking. Make them stop talking." in page
    assert "answer=his calm voice" in page


def test_a_debrief_option_the_drill_cannot_take_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["drill", "run", "--runs-dir", str(tmp_path), "--sound", "off"]
    assert main([*base, SCENES[1], "--answer", "nosuch=x"]) == 2
    err = capsys.readouterr().err
    assert "--answer nosuch: empathy-crisis-voices-v1 has no debrief question 'nosuch'" in err
    assert main([*base, "talk-down-cover-v1", "--answer", "fear=x"]) == 2
    assert "--answer is for an empathy scene; talk-down-cover-v1 has no debrief" in (
        capsys.readouterr().err
    )
    bad = tmp_path / "answer.wav"
    bad.write_text("not audio")
    assert main([*base, SCENES[1], "--answer-wav", f"fear={bad}"]) == 2
    assert f"--answer-wav: {bad}: not a sound file" in capsys.readouterr().err
    assert main([*base, SCENES[1], "--answer-wav", f"fear={tmp_path / 'none.wav'}"]) == 2
    assert "none.wav: no such file" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["answer.wav"]  # no run was started


def test_an_empty_or_header_only_answer_wav_is_refused_before_the_scene(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu17c #3: a 0-sample answer crashed PocketSphinx after the scene had played, leaving the
    # run "in progress" and the typed answers given with it lost.
    from range.voice.dictation import transcribe

    empty, header = soundless_wavs(tmp_path)
    runs = tmp_path / "runs"
    base = ["drill", "run", SCENES[1], "--seed", "2", "--runs-dir", str(runs), "--sound", "off"]
    answers = ["--answer", "fear=stayed back", "--answer-wav", f"got_through={empty}"]
    assert main([*base, *answers]) == 2
    err = capsys.readouterr().err
    assert f"--answer-wav: {empty}: no sound in it (0 samples): record the answer again" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert main([*base, "--answer-wav", f"got_through={header}"]) == 2
    err = capsys.readouterr().err
    assert f"--answer-wav: {header}: the file is cut short" in err and err.count("\n") == 1
    assert not runs.exists()  # refused before the run: no folder, nothing in progress
    # The microphone can give no samples too: that is no answer, not a crash.
    assert transcribe(np.zeros(0, dtype=np.int16)) == ""


@needs_espeak
def test_a_spoken_debrief_answer_is_recognised_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.voice.speak import Voice, WavSink, place, synthesize

    spoken = tmp_path / "answer.wav"
    line = synthesize("the child was scared of the shouting", Voice("en-us", 140, 50))
    WavSink(spoken).play(place(line, 0.0, 1.0))
    runs = tmp_path / "runs"
    args = ["drill", "run", SCENES[0], "--seed", "2", "--runs-dir", str(runs)]
    assert main([*args, "--answer-wav", f"heard={spoken}"]) == 0
    capsys.readouterr()
    (run,) = runs.iterdir()
    records = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    (heard,) = [r for r in records if r["kind"] == "debrief_answer" and r["question"] == "heard"]
    assert heard["how"] == "voice" and "scared" in heard["answer"].split()
    # The answer's audio is kept with the run, named in its record, so a reviewer can listen.
    kept = run / heard["clip"]
    assert heard["clip"] == "debrief-heard.wav" and kept.read_bytes() == spoken.read_bytes()
    assert heard["clip_sha256"] == hashlib.sha256(spoken.read_bytes()).hexdigest()
    # The child's scene has its soundtrack: the child's own whisper at 3.5 s is centred.
    track, rate = soundfile.read(str(run / "sound.wav"))
    assert rate == OUT_RATE_HZ and track.shape[1] == 2


@needs_espeak
def test_a_distorted_hearing_warps_the_others_voices_not_ones_own() -> None:
    from range.voice.soundtrack import Soundtrack

    started = LogRecord(
        0.0,
        "run_started",
        {"subjects": {"man": {"start_m": [5.0, 0.0]}}, "perspective": "man"},
    )
    positions = LogRecord(0.0, "positions", {"officer": [0.0, 0.0], "subjects": {"man": [5, 0]}})
    officer = LogRecord(1.0, "officer_action", {"action": "verbal_command", "say": "hello sir"})
    own = LogRecord(
        2.0,
        "subject_spoke",
        {"subject": "man", "text": "hello sir", "voice": 0, "azimuth_deg": 0.0, "distance_m": 0.0},
    )
    lengths = {}
    for hears in ("clear", "distorted", "muffled"):
        track = Soundtrack(1, hears)  # type: ignore[arg-type]
        track.feed(started)
        track.feed(positions)
        ((_, heard),) = track.feed(officer)
        ((_, self_heard),) = track.feed(own)
        lengths[hears] = (heard, self_heard)
    clear, distorted = lengths["clear"][0], lengths["distorted"][0]
    # Echoes at 120 and 260 ms: the distorted line runs 0.26 s longer and still sounds there.
    assert len(distorted) - len(clear) == int(0.26 * OUT_RATE_HZ)
    last_word = int(np.nonzero(np.abs(clear).max(axis=1) > 0.01)[0][-1])
    echo = distorted[last_word + int(0.2 * OUT_RATE_HZ) :]
    assert np.abs(echo).max() > 0.01 and np.abs(clear[last_word + 200 :]).max() < 0.01

    # Through a door: the muffled line keeps under a fifth of the energy above 2 kHz.
    def high(x: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(x[:, 0])) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / OUT_RATE_HZ)
        return float(spectrum[freqs > 2000].sum() / spectrum.sum())

    assert high(lengths["muffled"][0]) < high(clear) / 5
    # His own voice is heard as he speaks it, whatever he hears of others.
    assert np.array_equal(lengths["distorted"][1], lengths["clear"][1])
    assert np.array_equal(lengths["muffled"][1], lengths["clear"][1])


def test_drill_show_lists_the_perspective_the_debrief_and_what_is_said(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["drill", "show", SCENES[1]]) == 0
    out = capsys.readouterr().out
    assert "Empathy scene: seen and heard as man (voices distorted); no force is scored." in out
    assert "  fear: What did the officer do that lowered his fear, and what raised it?" in out
    assert '  man.pacing: passive_resistance, hold\n      says "They keep talking.' in out


def test_the_debrief_is_typed_at_the_prompt_on_a_terminal(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "range", "drill", "run", SCENES[1], "--seed", "1"]
    command += ["--runs-dir", str(tmp_path), "--sound", "off", "--json"]
    master, slave = os.openpty()
    try:
        os.write(master, b"his name\n\ntalk slower\n")  # the terminal holds the lines
        done = subprocess.run(
            command,
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("  > ") == 3
    debrief = json.loads(done.stdout)["score"]["debrief"]
    assert [(a["question"], a["answer"], a["how"]) for a in debrief] == [
        ("got_through", "his name", "typed"),
        ("fear", "", "skipped"),
        ("next_time", "talk slower", "typed"),
    ]


def test_a_debrief_answer_spoken_into_the_microphone_is_kept_with_the_run(
    tmp_path: Path,
) -> None:
    from types import SimpleNamespace

    import numpy as np

    from range.runs.drill import DEBRIEF_AUDIO, _keep_answer_audio

    pcm = np.arange(-800, 800, dtype=np.int16)
    answer = {"question": "fear", "text": "?", "answer": "scared", "how": "voice"}
    writer = SimpleNamespace(path=tmp_path)
    fields = _keep_answer_audio(answer | {DEBRIEF_AUDIO: pcm}, writer)  # type: ignore[arg-type]
    kept = tmp_path / "debrief-fear.wav"
    assert fields == answer | {
        "clip": "debrief-fear.wav",
        "clip_sha256": hashlib.sha256(kept.read_bytes()).hexdigest(),
    }
    samples, rate = soundfile.read(str(kept), dtype="int16")
    assert rate == 16_000 and np.array_equal(samples, pcm)
    assert _keep_answer_audio(answer | {DEBRIEF_AUDIO: pcm}, None) == answer  # --no-save
