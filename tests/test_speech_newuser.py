"""Issue 17, a new user's defects in the voice features (not recognition accuracy): bad phrase
books named in one line, the debrief's and sound's options checked at the boundary, speech
corrections that no longer apply said, times rounded, the run folder said in full."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drills.speech import CMU_PHONES, phrasebook
from physics.datafiles import DataFileError
from range.cli.main import main

pocketsphinx = pytest.importorskip("pocketsphinx")

AGENCY_HEAD = 'version = 1\nlanguage = "en-us"\n'


def _agency(tmp_path: Path, body: str | bytes) -> Path:
    path = tmp_path / "agency.toml"
    raw = body if isinstance(body, bytes) else body.encode()
    path.write_bytes(AGENCY_HEAD.encode() + raw)
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refuses an option's value by exiting
        code = exit_.code if isinstance(exit_.code, int) else 1
    assert code != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.strip().splitlines()
    if lines[0].startswith("usage:"):  # argparse's: the usage, then its one error line
        assert lines[-1].startswith("openrange") and ": error: " in lines[-1], err
        return lines[-1]
    assert len(lines) == 1, err
    return lines[0]


# --- 2. a bad phrase book: one named line (file, line, field), never a traceback -------------


def test_the_phone_set_is_the_recogniser_s_garbage_loop() -> None:
    from range.voice.recognize import GARBAGE_PHONES

    assert sorted(CMU_PHONES) == sorted(GARBAGE_PHONES)


@pytest.mark.parametrize("verb", ["phrases", "recognize"])
def test_a_word_not_in_the_dictionary_is_named_by_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    book = _agency(tmp_path, '\n[[acts]]\nact = "command.freeze"\nphrases = ["freeze zorblax"]\n')
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"")  # never read: the phrase book is refused first
    args = ["speech", verb, *([str(wav)] if verb == "recognize" else []), "--phrases", str(book)]
    line = _one_line_error(capsys, args)
    assert f"{book}:6: acts[0].phrases: 'zorblax' (in 'freeze zorblax') is not in the en-us" in line


def test_a_bad_phone_is_named_by_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = _agency(
        tmp_path,
        '\n[pronunciations]\nzorblax = "ZZ AO R B L AE K S"\n\n'
        '[[acts]]\nact = "command.freeze"\nphrases = ["freeze zorblax"]\n',
    )
    with pytest.raises(DataFileError, match=r":5: pronunciations.zorblax: not a phone .*'ZZ'"):
        phrasebook(book)
    line = _one_line_error(capsys, ["speech", "phrases", "--phrases", str(book)])
    assert f"{book}:5: pronunciations.zorblax: not a phone of the en-us model: 'ZZ'" in line


def test_a_phrase_book_that_is_not_utf8_is_named_by_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = _agency(tmp_path, b'\n[[acts]]\nact = "command.stop"\ndescription = "caf\xe9"\n')
    line = _one_line_error(capsys, ["speech", "phrases", "--phrases", str(book)])
    assert f"{book}:6: not UTF-8 text: byte 0xe9" in line


def test_a_known_agency_word_and_its_pronunciation_pass(tmp_path: Path) -> None:
    from range.voice.lexicon import load_phrases

    book = _agency(
        tmp_path,
        '\n[pronunciations]\nzorblax = "Z AO R B L AE K S"\n\n'
        '[[acts]]\nact = "command.freeze"\nphrases = ["freeze zorblax", "halt"]\n',
    )
    assert load_phrases(book).phrase_acts()["freeze zorblax"] == "command.freeze"


# --- 8. `speech recognize --json`: times rounded to the millisecond --------------------------


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
def test_recognize_json_rounds_times_to_the_millisecond(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from range.voice.audio import write_wav
    from range.voice.corpus import mix_at_snr, speech_16k

    pcm = mix_at_snr(speech_16k("show me your hands", "en-us", 140), 20.0, np.random.default_rng(1))
    wav = write_wav(tmp_path / "take.wav", pcm)
    assert main(["speech", "recognize", str(wav), "--json"]) == 0
    heard = json.loads(capsys.readouterr().out)
    assert heard, "nothing heard"
    for h in heard:
        for key in ("start_s", "end_s", "decided_s", "latency_s", "confidence"):
            assert h[key] == round(h[key], 3), (key, h[key])


# --- 4. the debrief's options are checked at the boundary, with what is allowed -------------

SCENE = "empathy-crisis-voices-v1"


def test_a_question_answered_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["drill", "run", SCENE, "--runs-dir", str(tmp_path), "--sound", "off"]
    line = _one_line_error(capsys, [*base, "--answer", "fear=one", "--answer", "fear=two"])
    assert "--answer fear: question 'fear' is answered twice (first by --answer)" in line
    wav = tmp_path / "a.wav"
    line = _one_line_error(capsys, [*base, "--answer", "fear=one", "--answer-wav", f"fear={wav}"])
    assert "--answer-wav fear: question 'fear' is answered twice" in line
    line = _one_line_error(capsys, [*base, "--answer", "fear="])
    assert "'fear=': give QUESTION_ID=ANSWER (both non-empty)" in line
    assert list(tmp_path.iterdir()) == []  # no run was started


@pytest.mark.parametrize("seconds", ["-5", "0", "inf", "nan", "1e9", "301"])
def test_debrief_seconds_outside_its_range_is_refused_with_the_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seconds: str
) -> None:
    argv = ["drill", "run", SCENE, "--runs-dir", str(tmp_path), "--sound", "off"]
    line = _one_line_error(capsys, [*argv, "--debrief-voice", f"--debrief-seconds={seconds}"])
    assert "argument --debrief-seconds" in line
    assert "more than 0 and at most 300 seconds" in line or "a finite number" in line


def test_debrief_seconds_without_debrief_voice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["drill", "run", SCENE, "--runs-dir", str(tmp_path), "--sound", "off"]
    line = _one_line_error(capsys, [*argv, "--debrief-seconds", "30"])
    assert "--debrief-seconds is for --debrief-voice" in line


# --- 5. --sound-device means --sound alsa -----------------------------------------------------


def test_sound_device_alone_implies_alsa_and_with_another_sound_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import build_parser
    from range.cli.sound import check_sound_options

    args = build_parser().parse_args(["drill", "run", "phone-draw-v1", "--sound-device", "null"])
    check_sound_options(args)
    assert (args.sound, args.sound_device) == ("alsa", "null")
    args = build_parser().parse_args(["drill", "run", "phone-draw-v1"])
    check_sound_options(args)
    assert (args.sound, args.sound_device) == ("wav", "default")
    args = build_parser().parse_args(["replay", "RUN", "--sound-device", "null"])
    check_sound_options(args)
    assert args.sound == "alsa"
    for sound in ("off", "wav", "device"):
        argv = ["drill", "run", "phone-draw-v1", "--runs-dir", str(tmp_path), "--sound", sound]
        line = _one_line_error(capsys, [*argv, "--sound-device", "null"])
        assert f"--sound-device null is for --sound alsa (an ALSA device); --sound {sound}" in line
    assert list(tmp_path.iterdir()) == []  # refused before the run
