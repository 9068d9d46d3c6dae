"""Speech: the phrase book and its acts, offline recognition of generated speech, and sound out
through a real ALSA device and a file (docs/speech.md)."""

from __future__ import annotations

import ast
import json
import shutil
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import soundfile

from drills.speech import (
    act_matches,
    acts_in_text,
    builtin_phrasebook,
    officer_spoke,
    parse_speech_trigger,
    phrasebook,
    speech_trigger,
)
from physics.datafiles import DataFileError
from range.cli.main import main
from range.voice.audio import AudioUnavailableError, file_blocks, write_wav
from range.voice.recognize import Listener, Recognizer, listen

PROJECT = Path(__file__).resolve().parent.parent
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng missing (scripts/test.sh installs it)"
)


# --- phrase book and acts ---------------------------------------------------------------------


def test_the_builtin_phrase_book_has_every_act_the_issue_names() -> None:
    acts = set(builtin_phrasebook().act_names())
    assert {
        "identify",
        "command.drop_weapon",
        "command.show_hands",
        "command.stop",
        "command.get_down",
        "command.step_back",
        "warning.taser",
        "warning.deadly_force",
        "rapport.help",
        "rapport.name",
        "rapport.time",
    } <= acts
    assert any(a.startswith("question.") for a in acts)
    by_phrase = builtin_phrasebook().phrase_acts()
    assert by_phrase["police"] == "identify"
    assert by_phrase["i'm here to help"] == "rapport.help"
    assert by_phrase["what's your name"] == "rapport.name"
    assert by_phrase["take your time"] == "rapport.time"


def test_a_phrase_given_to_two_acts_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "agency.toml"
    bad.write_text(
        'version = 1\nlanguage = "en-us"\n\n[[acts]]\nact = "command.stop"\n'
        'phrases = ["halt"]\n\n[[acts]]\nact = "command.get_down"\nphrases = ["halt"]\n'
    )
    with pytest.raises(DataFileError) as error:
        phrasebook(bad)
    assert f"{bad}:10: acts[1].phrases[0]: 'halt' is already 'command.stop'" in str(error.value)


def test_an_unknown_key_and_a_bad_act_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "agency.toml"
    bad.write_text(
        'version = 1\nlanguage = "en-us"\ncolour = 1\n\n'
        '[[acts]]\nact = "shout"\nphrases = ["hey"]\n'
    )
    with pytest.raises(DataFileError) as error:
        phrasebook(bad)
    text = str(error.value)
    assert f"{bad}:3: colour: unknown key" in text
    assert f"{bad}:6: acts[0].act: 'shout': an act is a category (identify, command," in text


ACTS = '[[acts]]\nact = "command.stop"\nphrases = ["halt"]\n'


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            'version = 2\nlanguage = "en-us"\n' + ACTS,
            ":1: version: 2: this file is from a newer OpenRange: this OpenRange reads",
        ),
        ('version = 1\nlanguage = "English"\n' + ACTS, ":2: language: 'English': a language"),
        ('version = 1\nlanguage = "en-us"\nacts = []\n', ":3: acts: no acts: give at least"),
        (
            'version = 1\nlanguage = "en-us"\n[[acts]]\nact = "command.stop"\nphrases = []\n',
            ":5: acts[0].phrases: no phrases: give at least one phrase",
        ),
        (
            'version = 1\nlanguage = "en-us"\n[pronunciations]\nzor = "Z AO1 R"\n' + ACTS,
            ":4: pronunciations.zor: 'zor': stress digits are not used: write AO not AO1",
        ),
    ],
)
def test_phrase_book_errors_are_in_field_language(tmp_path: Path, body: str, where: str) -> None:
    bad = tmp_path / "agency.toml"
    bad.write_text(body)
    with pytest.raises(DataFileError) as error:
        phrasebook(bad)
    text = str(error.value)
    assert f"{bad}{where}" in text
    for pydantic in ("should", "Input", "pattern", "validation"):
        assert pydantic not in text


def test_an_agency_adds_its_own_language_and_phrases(tmp_path: Path) -> None:
    extra = tmp_path / "agency.toml"
    extra.write_text(
        'version = 1\nlanguage = "en-gb"\n\n[pronunciations]\nhalt = "HH AO L T"\n\n'
        '[[acts]]\nact = "command.stop"\nphrases = ["halt"]\n\n'
        '[[acts]]\nact = "rapport.reassure"\nphrases = ["you are safe now"]\n'
    )
    book = phrasebook(extra)
    assert book.language == "en-gb"
    assert book.phrase_acts()["halt"] == "command.stop"
    assert book.phrase_acts()["stop"] == "command.stop"  # the built-in phrases stay
    assert book.phrase_acts()["you are safe now"] == "rapport.reassure"
    assert book.pronunciations["halt"] == "HH AO L T"


def test_an_agency_cannot_move_a_builtin_phrase_to_another_act(tmp_path: Path) -> None:
    extra = tmp_path / "agency.toml"
    extra.write_text('version = 1\nlanguage = "en-us"\n[[acts]]\nact = "command.stop"\n')
    extra.write_text(extra.read_text() + 'phrases = ["get down"]\n')
    with pytest.raises(DataFileError, match=r"'get down' is 'command.get_down' in the built-in"):
        phrasebook(extra)


def test_speech_triggers_name_acts_for_drill_transitions() -> None:
    assert speech_trigger("command.drop_weapon") == "speech:command.drop_weapon"
    assert parse_speech_trigger("speech:command.drop_weapon") == "command.drop_weapon"
    assert parse_speech_trigger("verbal_command") is None
    with pytest.raises(ValueError, match="not a speech act"):
        parse_speech_trigger("speech:shouting")
    assert act_matches("command", "command.stop")
    assert act_matches("command.stop", "command.stop")
    assert not act_matches("command.stop", "command.step_back")
    assert not act_matches("command", "commander")


def test_acts_in_text_takes_the_longest_phrase_at_each_word() -> None:
    found = acts_in_text("Police! Drop the knife, drop it or I will shoot", builtin_phrasebook())
    assert [(m.phrase, m.act) for m in found] == [
        ("police", "identify"),
        ("drop the knife", "command.drop_weapon"),
        ("drop it or i will shoot", "warning.deadly_force"),
    ]


def test_officer_spoke_builds_the_log_record() -> None:
    record = officer_spoke(
        12.5,
        text="drop the knife",
        act="command.drop_weapon",
        confidence=0.8123,
        start_s=11.2,
        end_s=12.1,
        clip="speech/0001.wav",
    )
    assert record.as_json() == {
        "t": 12.5,
        "kind": "officer_spoke",
        "text": "drop the knife",
        "act": "command.drop_weapon",
        "confidence": 0.812,
        "start_s": 11.2,
        "end_s": 12.1,
        "clip": "speech/0001.wav",
    }
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        officer_spoke(1, text="x", act="identify", confidence=2, start_s=0, end_s=1, clip=None)
    with pytest.raises(ValueError, match="before it starts"):
        officer_spoke(1, text="x", act="identify", confidence=1, start_s=2, end_s=1, clip=None)


def test_lower_layers_do_not_import_the_voice_package() -> None:
    for package in ("physics", "peripherals", "drills", "scoring"):
        for source in (PROJECT / package).rglob("*.py"):
            tree = ast.parse(source.read_text())
            for node in ast.walk(tree):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                assert not any(n.startswith("range") for n in names), f"{source} imports {names}"


def test_speech_phrases_lists_the_book(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["speech", "phrases"]) == 0
    out = capsys.readouterr().out
    assert "speech:command.drop_weapon" in out
    assert "    drop the knife" in out


# --- hearing: generated speech through the microphone's pipeline ------------------------------


@cache
def _recognizer() -> Recognizer:
    return Recognizer(builtin_phrasebook())


def _clip(phrase: str, voice: str, snr_db: float, seed: int) -> np.ndarray:
    from range.voice.corpus import mix_at_snr, speech_16k

    return mix_at_snr(speech_16k(phrase, voice, 140), snr_db, np.random.default_rng(seed))


@needs_espeak
@pytest.mark.parametrize(
    ("phrase", "voice", "act"),
    [
        ("police", "en-us+m3", "identify"),
        ("show me your hands", "en-us", "command.show_hands"),
        ("get down", "en-us", "command.get_down"),
        ("taser taser taser", "en-us+m3", "warning.taser"),
        ("i'm here to help", "en-us+m3", "rapport.help"),
    ],
)
def test_a_spoken_command_in_range_noise_is_heard_as_its_act(
    phrase: str, voice: str, act: str
) -> None:
    heard = list(listen(file_blocks(_clip(phrase, voice, 20.0, 1)), Listener(_recognizer())))
    assert [h.act for h in heard] == [act]
    assert 0.9 < heard[0].start_s < heard[0].end_s < 1.0 + 3.0  # the speech starts after 1 s


@needs_espeak
def test_range_noise_alone_gives_no_act() -> None:
    from range.voice.corpus import noise_only

    pcm = noise_only(np.random.default_rng(3), 5.0)
    assert list(listen(file_blocks(pcm), Listener(_recognizer()))) == []


@needs_espeak
def test_speech_recognize_prints_json_for_a_wav_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = write_wav(tmp_path / "take.wav", _clip("show me your hands", "en-us", 20.0, 1))
    assert main(["speech", "recognize", str(wav), "--json"]) == 0
    heard = json.loads(capsys.readouterr().out)
    assert [h["act"] for h in heard] == ["command.show_hands"]
    assert set(heard[0]) >= {"text", "act", "confidence", "start_s", "end_s", "latency_s"}


def test_speech_recognize_of_a_missing_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["speech", "recognize", str(tmp_path / "none.wav")]) == 2
    assert capsys.readouterr().err.strip() == f"openrange: {tmp_path / 'none.wav'}: no such file"


def test_speech_listen_without_a_microphone_says_audio_is_off(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from range.voice.audio import audio_off_reason

    if audio_off_reason() is None:
        pytest.skip("this machine has a microphone")
    assert main(["speech", "listen", "--seconds", "1"]) == 9
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("openrange: audio is off: ")


# --- sound out ---------------------------------------------------------------------------------


def test_place_pans_by_direction_and_attenuates_by_distance() -> None:
    from range.voice.speak import beep, place

    tone = beep()
    right = place(tone, 90.0, 1.0)
    left = place(tone, -90.0, 1.0)
    ahead = place(tone, 0.0, 2.0)
    assert np.abs(right[:, 0]).max() < 1e-6 < np.abs(right[:, 1]).max()
    assert np.abs(left[:, 1]).max() < 1e-6 < np.abs(left[:, 0]).max()
    # Straight ahead at 2 m: both channels equal, each at 1/2 x cos(45°) of the source.
    assert np.allclose(ahead[:, 0], ahead[:, 1])
    assert np.abs(ahead[:, 0]).max() == pytest.approx(0.5 * 0.5 * np.sqrt(0.5), rel=1e-3)
    with pytest.raises(ValueError, match="must be positive"):
        place(tone, 0.0, 0.0)


@needs_espeak
def test_a_subject_line_written_to_a_file_is_louder_on_its_side(tmp_path: Path) -> None:
    from range.voice.speak import WavSink, say, voice_for_subject

    out = tmp_path / "line.wav"
    WavSink(out).play(say("leave me alone", voice_for_subject(1), -60.0, 3.0))
    samples, rate = soundfile.read(str(out))
    assert rate == 22_050 and samples.shape[1] == 2
    rms = np.sqrt(np.mean(samples**2, axis=0))
    assert rms[0] > 2 * rms[1] > 0  # to the left


@pytest.mark.skipif(shutil.which("aplay") is None, reason="alsa-utils missing")
def test_range_sounds_play_through_a_real_alsa_device() -> None:
    from range.voice.speak import AlsaSink, beep, gunshot, mix, place, taser_arc

    rng = np.random.default_rng(0)
    track = mix(
        [
            (0.0, place(beep(), 0.0, 1.0)),
            (0.4, place(gunshot(rng), 20.0, 2.0)),
            (0.6, place(taser_arc(rng, 0.5), -10.0, 4.0)),
        ]
    )
    assert track.shape[1] == 2 and np.abs(track).max() > 0.1
    AlsaSink("null").play(track)  # ALSA's null PCM: the whole path but the speaker
    with pytest.raises(AudioUnavailableError, match=r"^audio is off: ALSA device 'nosuch'"):
        AlsaSink("nosuch").play(track)


def test_the_dictionary_holds_only_the_phrase_books_words_and_garbage_phones() -> None:
    from range.voice.recognize import GARBAGE_PHONES, GARBAGE_PREFIX, dictionary

    book = builtin_phrasebook()
    entries = [line.split(" ", 1) for line in dictionary(book).splitlines()]
    words = {word.split("(")[0] for word, _ in entries}
    garbage = {GARBAGE_PREFIX + p.lower() for p in GARBAGE_PHONES}
    assert words == book.words() | garbage
    assert ["tased", "T EY Z D"] in entries  # the book's own pronunciation
    assert ["get(2)", "G IH T"] in entries  # the en-us dictionary's variants come along


@needs_espeak
def test_an_act_is_decided_well_within_a_second_of_the_speech_ending() -> None:
    from range.voice.corpus import speech_16k, speech_end_s

    speech = speech_16k("drop the knife", "en-us", 140)
    pcm = _clip("drop the knife", "en-us", 20.0, 1)
    # The work timed in CPU seconds: on the shared 2-core machine the wall clock times the
    # other helpers' load (2.2 s at load 12), not this code (docs/speech.md, "Bench").
    heard = list(listen(file_blocks(pcm), Listener(_recognizer(), clock=time.process_time)))
    assert [h.act for h in heard] == ["command.drop_weapon"]
    # Decided early: measured 0.06-0.07 s from the true end in CPU time.
    assert heard[0].end_s + heard[0].latency_s - speech_end_s(speech) < 0.5


def test_a_phrase_word_no_dictionary_knows_is_named() -> None:
    from drills.speech import parse_phrasebook
    from range.voice.recognize import dictionary

    book = parse_phrasebook(
        'version = 1\nlanguage = "en-us"\n[[acts]]\nact = "command.stop"\nphrases = ["zqxv"]\n',
        "agency.toml",
    )
    with pytest.raises(ValueError, match="'zqxv' is not in the en-us dictionary"):
        dictionary(book)
