"""Issue 17, a new user's defects in the voice features (not recognition accuracy): bad phrase
books named in one line, the debrief's and sound's options checked at the boundary, speech
corrections that no longer apply said, times rounded, the run folder said in full."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from speech_support import unrecorded

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


def test_the_phone_set_is_the_en_us_model_s() -> None:
    """The phones a pronunciation may use (and the recogniser's garbage loop, which uses the same
    list) are exactly those of the en-us model's own dictionary."""
    pocketsphinx = pytest.importorskip("pocketsphinx")
    from pathlib import Path

    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    used: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        used.update(line.split()[1:])
    assert sorted(CMU_PHONES) == sorted(used)


@pytest.mark.parametrize("verb", ["phrases", "recognize"])
def test_a_word_not_in_the_dictionary_is_named_by_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    book = _agency(tmp_path, '\n[[acts]]\nact = "command.freeze"\nphrases = ["freeze zorblax"]\n')
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"")  # never read: the phrase book is refused first
    args = ["speech", verb, *([str(wav)] if verb == "recognize" else []), "--phrases", str(book)]
    line = _one_line_error(capsys, args)
    assert (
        f"{book}:6: acts[0].phrases[0]: 'zorblax' (in 'freeze zorblax') is not in the en-us" in line
    )


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


@pytest.mark.parametrize("verb", ["phrases", "recognize"])
def test_a_phrase_book_that_is_a_directory_is_refused_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    """nu21 #4: a directory named as the phrase book exited 9 (`Is a directory`), the status
    scripts read as "audio is off"; it is a bad argument, status 2, said as --voice says it."""
    book = tmp_path / "x.toml"
    book.mkdir()
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"")  # never read: the phrase book is refused first
    args = ["speech", verb, *([str(wav)] if verb == "recognize" else []), "--phrases", str(book)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"openrange: {book}: a directory, not a data file: give one file", err


def test_every_problem_of_a_phrase_book_that_parses_is_named_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu21 #3: a word not in the dictionary, a built-in phrase given to another act and a
    phrase under two acts took three runs to see, one stage each; now one run, in file order."""
    book = _agency(
        tmp_path,
        '[[acts]]\nact = "command.kneel"\nphrases = ["kneel down", "frobnicate now"]\n'
        '[[acts]]\nact = "rapport.time"\nphrases = ["drop the knife"]\n'
        '[[acts]]\nact = "command.sit"\nphrases = ["kneel down"]\n',
    )
    assert main(["speech", "phrases", "--phrases", str(book)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(": ", 3)[1:3] for line in err] == [
        [f"{book}:5", "acts[0].phrases[1]"],
        [f"{book}:8", "acts[1].phrases[0]"],
        [f"{book}:11", "acts[2].phrases[0]"],
    ], err
    assert "'frobnicate' (in 'frobnicate now') is not in the en-us dictionary" in err[0]
    assert "'drop the knife' is 'command.drop_weapon' in the built-in" in err[1]
    assert "'kneel down' is already 'command.kneel'" in err[2]


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


# --- 1. corrections that do not apply are said, never listed as applied, never dropped -------


def _correct(run: Path, at: str, act: str, *more: str) -> list[str]:
    return ["speech", "correct", str(run), "--at", at, "--act", act, "--by", "Sgt Lee", *more]


def test_a_hand_edited_correction_naming_no_utterance_is_not_applied_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_speech_corrections import misheard_warning, rules, score_json, write_run

    run = write_run(tmp_path / "run", misheard_warning())
    assert main(_correct(run, "0.9", "warning.taser")) == 0
    capsys.readouterr()
    (kept,) = run.glob("speech-corrections-*.json")
    body = json.loads(kept.read_text())
    body["corrections"][0]["utterance_t"] = 7.5  # hand-edited: names no utterance
    kept.write_text(json.dumps(body, indent=2) + "\n")
    line = next(n for n, t in enumerate(kept.read_text().splitlines(), 1) if "utterance_t" in t)

    score = score_json(run, capsys)
    assert score["corrections"] == []  # never listed as applied
    (stale,) = score["corrections_not_applied"]  # type: ignore[misc]
    assert stale["index"] == 0 and "no officer_spoke at t = 7.5 s" in stale["why"]
    assert rules(score, "CEW-02") == ["finding"]  # scored as heard
    assert main(["score", str(run)]) == 0
    out = capsys.readouterr()
    assert unrecorded(out.err, kept, 1).strip().splitlines() == [
        f"openrange: {kept}:{line}: corrections[0].utterance_t: 7.50 s 'stop' command.stop ->"
        " warning.taser by Sgt Lee: not applied: the log has no officer_spoke at t = 7.5 s"
        " (its officer_spoke t: 0.5, 1.2)"
    ]
    assert "Speech corrections not applied (each says why):" in out.out
    assert "Speech corrections (rescored" not in out.out


def test_corrections_of_a_log_edited_since_are_said_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_rules import end
    from test_speech_corrections import misheard_warning, score_json, write_run

    from range.runs.runlog import EVENTS

    run = write_run(tmp_path / "run", misheard_warning())
    assert main(_correct(run, "0.9", "warning.taser")) == 0
    assert main(_correct(run, "0.3", "none", "--reason", "a cough")) == 0
    capsys.readouterr()
    (old,) = run.glob("speech-corrections-*.json")
    edited = [*misheard_warning()[:-1], end(4)]  # the log edited after the corrections
    (run / EVENTS).write_text("".join(json.dumps(r.as_json()) + "\n" for r in edited))
    score = score_json(run, capsys)
    assert score["corrections"] == [] and score["corrections_not_applied"] == []
    assert main(["score", str(run)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert err[0].startswith(f"openrange: {old}:")
    assert "corrections[0].utterance_t: 1.20 s 'stop' command.stop -> warning.taser" in err[0]
    assert "corrections[1].utterance_t: 0.50 s 'police' identify -> none" in err[1]
    assert all("the log was changed since; correct it again" in e for e in err)
    assert main(_correct(run, "0.9", "warning.taser")) == 0  # made again for the log as it is
    capsys.readouterr()
    assert main(["score", str(run)]) == 0
    (new,) = set(run.glob("speech-corrections-*.json")) - {old}
    (left,) = unrecorded(capsys.readouterr().err, new, 1).strip().splitlines()
    assert "corrections[1].utterance_t: 0.50 s 'police'" in left


def test_a_no_op_correction_and_a_wrong_was_are_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_speech_corrections import misheard_warning, write_run

    run = write_run(tmp_path / "run", misheard_warning())
    line = _one_line_error(capsys, _correct(run, "0.9", "command.stop"))
    assert line == (
        "openrange: --act command.stop: the utterance at 0.70-1.20 s was heard as command.stop"
        " already; nothing to correct"
    )
    line = _one_line_error(capsys, _correct(run, "0.9", "warning.taser", "--was", "identify"))
    assert line == (
        "openrange: --was identify: what was said at 0.90 s was heard as command.stop; give one"
        " of those, or leave --was out"
    )
    assert list(run.glob("speech-corrections-*")) == []


def test_a_no_op_or_wrong_was_correction_in_a_file_is_not_applied() -> None:
    from test_speech_corrections import misheard_warning

    from scoring.corrections import Correction, unapplied

    def fix(was: str, act: str) -> Correction:
        return Correction(
            at_s=1.0, utterance_t=1.2, text="stop", was=was, act=act, by="Lee", made="2026-12-01"
        )

    records = misheard_warning()
    found = unapplied(records, [fix("command.stop", "command.stop"), fix("identify", "none")])
    assert found == [
        (0, "a no-op: command.stop is the act heard"),
        (1, "the officer_spoke at t = 1.2 s was heard as command.stop, not identify"),
    ]
    assert unapplied(records, [fix("command.stop", "warning.taser")]) == []


# --- 6. `drill run --phrases`: the agency's phrase book hears the officer, kept with the run --


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
def test_drill_run_hears_the_officer_with_the_agency_phrase_book(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    import numpy as np

    from range.voice.audio import write_wav
    from range.voice.corpus import speech_16k

    speech = speech_16k("you are safe with me", "en-us", 140)
    track = np.zeros(4 * 16_000)
    track[16_000 : 16_000 + len(speech)] = speech / np.max(np.abs(speech)) * 0.25
    track += np.random.default_rng(0).normal(0.0, 0.002, len(track))
    voice = write_wav(tmp_path / "officer.wav", np.asarray(track * 32767, dtype=np.int16))
    book = _agency(
        tmp_path, '\n[[acts]]\nact = "rapport.reassure"\nphrases = ["you are safe with me"]\n'
    )
    argv = ["drill", "run", "crisis-talk-down-v1", "--voice", str(voice), "--seed", "3"]
    argv += [
        "--runs-dir",
        str(tmp_path / "runs"),
        "--json",
        "--progress",
        "never",
        "--sound",
        "off",
    ]

    def heard(extra: list[str]) -> tuple[list[str], dict[str, object], Path]:
        assert main([*argv, *extra]) == 0
        run = Path(json.loads(capsys.readouterr().out)["run_dir"])
        events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
        return [e["act"] for e in events if e["kind"] == "officer_spoke"], events[0], run

    acts, started, run = heard(["--phrases", str(book)])
    assert acts == ["rapport.reassure"]
    script = "crisis-talk-down-correct-v1"  # the drill's expected officer: its actions only
    said = f"officer's words from officer.wav; actions scripted by {script}"
    assert started["officer"] == said
    assert json.loads((run / "result.json").read_text())["officer"] == said
    assert (run / "phrasebook.toml").read_bytes() == book.read_bytes()
    assert started["phrases_file"] == "phrasebook.toml"
    assert started["phrases_sha256"] == hashlib.sha256(book.read_bytes()).hexdigest()
    acts, started, run = heard([])  # the built-in book alone does not know the words
    assert acts == [] and "phrases_file" not in started
    assert not (run / "phrasebook.toml").exists()


def test_a_voice_run_s_summary_says_the_words_came_from_the_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from range.voice.audio import write_wav

    quiet = np.random.default_rng(1).normal(0.0, 60.0, 2 * 16_000)
    voice = write_wav(tmp_path / "officer-voice.wav", np.asarray(quiet, dtype=np.int16))
    argv = ["drill", "run", "crisis-talk-down-v1", "--voice", str(voice), "--seed", "3"]
    assert main([*argv, "--no-save", "--progress", "never", "--sound", "off"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.endswith(
        "[crisis-talk-down-v1], officer's words from officer-voice.wav; actions scripted by"
        " crisis-talk-down-correct-v1, seed 3"
    )


def test_drill_run_refuses_a_bad_phrase_book_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = _agency(tmp_path, '\n[[acts]]\nact = "command.freeze"\nphrases = ["freeze zorblax"]\n')
    runs = tmp_path / "runs"
    argv = ["drill", "run", "crisis-talk-down-v1", "--runs-dir", str(runs), "--phrases", str(book)]
    line = _one_line_error(capsys, argv)
    assert f"{book}:6: acts[0].phrases[0]: 'zorblax'" in line
    assert not runs.exists()


# --- 7. after a run: every file in its folder and what it is for; --voice DIR ----------------


def test_the_saved_lines_list_the_run_folder_and_how_to_review_and_correct(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["drill", "run", "talk-down-cover-v1", "--seed", "1", "--progress", "never"]
    assert main([*argv, "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (run,) = tmp_path.iterdir()
    saved = out[out.index("Saved:") :].splitlines()
    assert saved[0] == f"Saved:             {run}/"
    listed = [line.split()[0] for line in saved[1:] if line.startswith("  ")]
    assert listed == sorted(p.name for p in run.iterdir())  # the folder as it is, sound too
    assert "sound.wav" in listed and "drill.toml" in listed
    assert "  sound.wav              the run's soundtrack" in out
    assert f"Review with:       openrange report {run}" in out
    assert f"Rescore with:      openrange score {run}" in out
    assert "Correct an act:" not in out  # nothing was heard: nothing to correct

    from test_rules import spoke

    from range.cli.summary import saved_lines

    heard = saved_lines(run, [spoke(1.0, "command.stop", "stop")])
    command = f"openrange speech correct {run} --at T_S --act ACT --by NAME"
    assert f"Correct an act:    {command}" in heard


def test_a_voice_that_is_a_folder_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["drill", "run", "crisis-talk-down-v1", "--no-save", "--voice", str(tmp_path)]
    line = _one_line_error(capsys, argv)
    assert line == (
        f"openrange: --voice {tmp_path}: a directory, not a sound file: give one recording"
        " (WAV, FLAC or OGG)"
    )


# --- 9. one probe numbering in every output: the device's, over the run's pulls -------------


def test_a_second_pull_s_probes_are_numbered_alike_in_the_log_the_reason_and_the_score() -> None:
    import re

    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    drill = find_drill("knife-approach-v1")
    result = run_drill(RunConfig(drill, find_officer("taser-first-v1"), 1))
    pulls = [r for r in result.records if r.kind == "probe_impacts"]
    assert len(pulls) == 2
    assert [i["probe"] for r in pulls for i in r.data["impacts"]] == [0, 1, 2, 3]
    second = pulls[1]
    logged = {i["probe"] for i in second.data["impacts"]}
    named = {int(n) for n in re.findall(r"probes? (\d+)", second.data["reason"])}
    assert named and named <= logged, (second.data["reason"], logged)
    placed = [
        int(re.match(r"probe (\d+)", f.message).group(1))  # type: ignore[union-attr]
        for f in result.score.findings
        if f.rule == "PLACE-01" and abs(f.t - second.t) < 1e-3
    ]
    assert placed and set(placed) <= logged


# --- 10. the README's numbers and the default policy's header say what is true --------------

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_drill_count_is_drill_list_s(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    assert main(["drill", "list"]) == 0
    listed = len(capsys.readouterr().out.strip().splitlines())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    counts = re.findall(r"the drill library \((\d+) drills\)", readme)
    assert counts == [str(listed)], f"README says {counts}, `openrange drill list` lists {listed}"


def test_the_default_policy_header_cites_what_exists(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    policy = ROOT / "scoring" / "data" / "policy-default.toml"
    text = policy.read_text(encoding="utf-8")
    header = " ".join(
        line.lstrip("# ").strip() for line in text[: text.index("\nid = ")].split("\n")
    )
    assert "scoring.policy.Policy" in header
    from scoring import policy as policy_module

    assert hasattr(policy_module, "Policy")
    assert "docs/scoring.md" in header and "rule id | what it judges | default | source" in header
    scoring_doc = (ROOT / "docs" / "scoring.md").read_text(encoding="utf-8")
    assert "| rule id | what it judges | default | source |" in scoring_doc
    assert "openrange policy validate FILE" in header
    assert main(["policy", "validate", str(policy)]) == 0  # the command it names, on itself
    capsys.readouterr()
    facts = (Path("/work/shared/reference/facts.md"), ROOT / "docs" / "facts.md")
    known = next((f for f in facts if f.is_file()), None)
    if known is None:
        pytest.skip("facts.md is not on this machine")
    sections = set(re.findall(r"^## (\d+)\.", known.read_text(encoding="utf-8"), re.MULTILINE))
    cited = set(re.findall(r"facts\.md §(\d+)", text))
    assert cited and cited <= sections, (cited, sections)


def test_an_unanswerable_debrief_says_how_to_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["drill", "run", SCENE, "--seed", "1", "--no-save", "--sound", "off", "--json"]
    assert main([*argv, "--answer", "fear=his calm voice"]) == 0
    out = capsys.readouterr()
    assert "(no terminal to type on: got_through, next_time left unanswered; answer with" in out.err
    assert json.loads(out.out)["score"]["outcome"] == "PASS"  # one answer given
    assert main(argv) == 11  # not graded: its own exit status (nu20 #12)
    out = capsys.readouterr()
    assert "got_through, fear, next_time left unanswered" in out.err
    score = json.loads(out.out)["score"]
    assert score["outcome"] == "INCOMPLETE" and score["passed"] is False


def test_an_act_the_run_s_phrase_book_lacks_is_refused_and_a_superseded_one_not_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_speech_corrections import misheard_warning, score_json, write_run

    run = write_run(tmp_path / "run", misheard_warning())
    line = _one_line_error(capsys, _correct(run, "0.9", "warning.tazer"))
    assert line.startswith(
        "openrange: --act warning.tazer: not an act of this run's phrase book; its acts: identify,"
    )
    line = _one_line_error(capsys, _correct(run, "0.9", "command"))  # a bare category
    assert line.startswith(
        "openrange: --act command: a category, not an act of this run's phrase book; its acts:"
    )
    assert "command.drop_weapon" in line
    book = run / "phrasebook.toml"
    book.write_text(  # the agency book the run was heard with
        AGENCY_HEAD + '[[acts]]\nact = "warning.tazer"\nphrases = ["tazer tazer"]\n'
    )
    # ... named in its run_started with its sha256, as `drill run --phrases` keeps it (a book
    # the log does not name is not the run's: nu17c #6).
    import hashlib

    from drills.log import LogRecord

    records = misheard_warning()
    meta = {
        "phrases_file": book.name,
        "phrases_sha256": hashlib.sha256(book.read_bytes()).hexdigest(),
    }
    records[0] = LogRecord(records[0].t, records[0].kind, {**records[0].data, **meta})
    (run / "events.jsonl").write_text("".join(json.dumps(r.as_json()) + "\n" for r in records))
    assert main(_correct(run, "0.9", "warning.tazer")) == 0
    assert main(_correct(run, "0.9", "warning.taser")) == 0  # corrected again: the latest wins
    capsys.readouterr()
    score = score_json(run, capsys)
    assert [c["act"] for c in score["corrections"]] == ["warning.taser"]  # type: ignore[union-attr]
    (old,) = score["corrections_not_applied"]  # type: ignore[misc]
    assert (old["act"], old["why"]) == (
        "warning.tazer",
        "superseded by corrections[1] of the same utterance",
    )


def test_speech_say_with_no_audio_device_says_so_on_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from range.voice import speak
    from range.voice.audio import AudioUnavailableError

    def no_device(self: object, track: object) -> None:
        raise AudioUnavailableError("audio is off: no ALSA device here")

    monkeypatch.setattr(speak.AlsaSink, "play", no_device)
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng missing")
    assert main(["speech", "say", "leave me alone", "--device", "null"]) == 9
    out = capsys.readouterr()
    assert out.out == "" and out.err == "openrange: audio is off: no ALSA device here\n"


def test_an_utterance_is_named_by_the_time_its_act_was_decided_too() -> None:
    from drills.speech import officer_spoke
    from scoring.corrections import CorrectionError, find_utterance

    late = officer_spoke(
        3.0, text="stop", act="command.stop", confidence=1.0, start_s=1.0, end_s=2.0, clip=None
    )
    assert find_utterance([late], 3.0, None) is late  # the t the score lists for it
    assert find_utterance([late], 1.5, None) is late
    with pytest.raises(CorrectionError):
        find_utterance([late], 3.5, None)


def test_speech_phrases_lists_an_agency_act_without_trailing_blanks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = _agency(tmp_path, '\n[[acts]]\nact = "rapport.reassure"\nphrases = ["you are safe"]\n')
    assert main(["speech", "phrases", "--phrases", str(book)]) == 0
    out = capsys.readouterr().out
    assert "\nspeech:rapport.reassure\n    you are safe\n" in out
    assert all(line == line.rstrip() for line in out.splitlines())


# --- the phrase book's language selects the recogniser's model -------------------------------


def test_a_language_with_no_installed_model_is_refused_naming_the_installed_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "agency.toml"
    book.write_text('version = 1\nlanguage = "de"\n\n[[acts]]\nact = "command.stop"\n')
    book.write_text(book.read_text() + 'phrases = ["halt"]\n')
    for argv in (["speech", "phrases"], ["speech", "recognize", str(tmp_path / "x.wav")]):
        line = _one_line_error(capsys, [*argv, "--phrases", str(book)])
        assert f"{book}:2: language: 'de': no recognition model for it is installed" in line
        assert "(installed: en-us)" in line


def test_the_language_selects_the_model_and_its_dictionary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second language laid out as PocketSphinx lays out en-us (here en-gb: en-us's acoustic
    model, a dictionary with one word more) is used for a book in that language only."""
    from range.voice.lexicon import installed_languages, load_phrases, model_words
    from range.voice.recognize import Recognizer

    real = Path(pocketsphinx.get_model_path())
    models = tmp_path / "model"
    (models / "en-gb").mkdir(parents=True)
    (models / "en-us").symlink_to(real / "en-us")
    (models / "en-gb" / "en-gb").symlink_to(real / "en-us" / "en-us")
    words = (real / "en-us" / "cmudict-en-us.dict").read_text(encoding="utf-8")
    (models / "en-gb" / "cmudict-en-gb.dict").write_text(words + "zorblax Z AO R B L AE K S\n")
    monkeypatch.setattr(pocketsphinx, "get_model_path", lambda *sub: str(models.joinpath(*sub)))
    for cached in (installed_languages, model_words):
        cached.cache_clear()
    try:
        assert installed_languages() == ("en-gb", "en-us")
        acts = '\n[[acts]]\nact = "command.freeze"\nphrases = ["freeze zorblax"]\n'
        gb = tmp_path / "gb.toml"
        gb.write_text('version = 1\nlanguage = "en-gb"\n' + acts)
        book = load_phrases(gb)
        assert book.language == "en-gb"
        Recognizer(book)  # its dictionary has the word
        us = _agency(tmp_path, acts)  # the same words in en-us: not in its dictionary
        with pytest.raises(DataFileError, match=r"'zorblax' .* is not in the en-us dictionary"):
            load_phrases(us)
    finally:
        for cached in (installed_languages, model_words):
            cached.cache_clear()
