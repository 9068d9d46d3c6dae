"""Issue 17, a new user's pass nu17a (/work/wt/reports/nu17a.md), speech scoring and inputs:
repeated commands heard as repeated acts (#3), identification judged before deadly force only
(#11), text-to-speech that never takes text as an option (#4), one phrase book for the whole run
(#5), speech transitions no phrase book knows refused (#9), and the small items (#12).
Real espeak-ng audio throughout, in-process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from speech_support import spoken_track

from drills.speech import builtin_phrasebook
from range.cli.main import main

pocketsphinx = pytest.importorskip("pocketsphinx")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng missing (scripts/test.sh installs it)", allow_module_level=True)


def _wav(path: Path, items: list[tuple[float, str]], seconds: float) -> Path:
    from range.voice.audio import write_wav

    return write_wav(path, spoken_track(items, seconds))


def _run(capsys: pytest.CaptureFixture[str], args: list[str], runs: Path) -> dict[str, Any]:
    code = main([*args, "--runs-dir", str(runs), "--json", "--progress", "never"])
    out = capsys.readouterr()
    assert code == 0, out.err
    result: dict[str, Any] = json.loads(out.out)
    return result


def _events(result: dict[str, Any]) -> list[dict[str, Any]]:
    log = Path(result["run_dir"]) / "events.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


# --- 3. a command said again and again in one breath is heard each time ------------------------


def test_a_command_repeated_within_one_utterance_is_an_act_each_time() -> None:
    """Five "drop the knife" 1 s apart: the VAD joins the last four into one utterance, where
    the listener gave each act once. Every repeat is an act now, each with its own time."""
    from range.voice.recognize import Listener, Recognizer, listen

    pcm = spoken_track([(0.2 + i * 1.0, "drop the knife") for i in range(5)], 6.5)
    blocks = (pcm[i : i + 480] for i in range(0, len(pcm), 480))
    heard = list(listen(blocks, Listener(Recognizer(builtin_phrasebook()))))
    assert [h.act for h in heard] == ["command.drop_weapon"] * 5
    starts = [h.start_s for h in heard]
    assert starts == sorted(starts) and len(set(starts)) == 5
    for h, said_at in zip(heard, [0.2 + i * 1.0 for i in range(5)], strict=True):
        assert abs(h.start_s - said_at) < 0.25, (h, said_at)
        assert h.start_s < h.end_s


def test_a_command_said_four_times_in_a_row_is_judged_by_verbal_05(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/scoring.md: VERBAL-05 is the same command more than repeat_max (3) times in a row,
    each sooner than comply_time_s (2 s). Five commands 1 s apart through `drill run --voice`."""
    wav = _wav(tmp_path / "repeat.wav", [(0.2 + i * 1.0, "drop the knife") for i in range(5)], 8)
    args = ["drill", "run", "knife-approach-v1", "--seed", "7", "--voice", str(wav)]
    result = _run(capsys, args, tmp_path / "runs")
    spoke = [e for e in _events(result) if e["kind"] == "officer_spoke"]
    assert [e["act"] for e in spoke] == ["command.drop_weapon"] * 5
    found = [f for f in result["score"]["findings"] if f["rule"] == "VERBAL-05"]
    assert [f["kind"] for f in found] == ["finding"], found


# --- 11. VERBAL-03 follows facts.md §5: identify before deadly force, where feasible ------------


def _verbal_03(log: list[Any]) -> list[tuple[str, float]]:
    from scoring.policy import default_policy
    from scoring.score import score_run

    score = score_run(log, default_policy())
    return [(f.kind.value, f.points) for f in score.findings if f.rule == "VERBAL-03"]


def test_no_identification_before_a_taser_is_no_breach() -> None:
    """facts.md §5 asks identification before *deadly* force; nothing cited asks it before a
    CEW, so 3 s of a knife held and a TASER with no "police" is information, not -5."""
    from test_rules import end, phase, spoke, start, taser

    knife = [*start(), phase(0, "active_resistance", "knife"), spoke(0.5, "command.drop_weapon")]
    assert _verbal_03([*knife, taser(3.0), end(4)]) == [("info", 0.0)]
    said = [*knife, spoke(0.8, "identify"), taser(3.0), end(4)]
    assert _verbal_03(said) == [("credit", 0.0)]


def test_identification_is_judged_at_the_first_round_and_credited_once() -> None:
    from test_rules import end, fire, phase, spoke, start, taser

    held = [*start(), phase(0, "deadly_threat", "handgun", acting=False)]
    acting = phase(3.0, "deadly_threat", "handgun", acting=True)
    # A TASER, then deadly force with no identification though it was feasible: the finding.
    assert _verbal_03([*held, taser(1.0), acting, fire(3.2), end(4)]) == [
        ("info", 0.0),
        ("finding", -5.0),
    ]
    # "police" before the TASER: one credit, not one at the TASER and another at the round.
    named = [*held, spoke(0.5, "identify"), taser(1.0), acting, fire(3.2), end(4)]
    assert _verbal_03(named) == [("credit", 0.0)]


# --- 4. text handed to espeak-ng is never read as an option ------------------------------------

DASHED = ["-v", "-- Get away from me!", "--help"]


@pytest.mark.parametrize("text", DASHED)
def test_a_line_that_begins_with_a_dash_is_spoken(text: str) -> None:
    from range.voice.speak import OUT_RATE_HZ, synthesize

    assert len(synthesize(text)) > 0.2 * OUT_RATE_HZ  # words, not an option or an error


def test_speech_say_speaks_a_dashed_line_and_refuses_an_empty_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import soundfile

    out = tmp_path / "x.wav"
    assert main(["speech", "say", "--out", str(out), "--", "-v"]) == 0
    assert soundfile.info(str(out)).duration > 0.2
    capsys.readouterr()
    assert main(["speech", "say", "--out", str(tmp_path / "e.wav"), "  "]) == 2
    assert capsys.readouterr().err.strip() == "openrange: nothing to say: the text is empty"
    assert not (tmp_path / "e.wav").exists()


def _dashed_drill(tmp_path: Path) -> Path:
    library = Path(__file__).parents[1] / "drills" / "data" / "drills" / "talk-down-cover-v1.toml"
    text = library.read_text()
    said = 'say = "Stay back! Just leave me alone!"'
    assert said in text
    drill = tmp_path / "mine.toml"
    drill.write_text(text.replace(said, 'say = "-- Get away from me!"'))
    return drill


def test_a_drill_whose_subject_says_a_dashed_line_validates_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import soundfile

    drill = _dashed_drill(tmp_path)
    assert main(["drill", "validate", str(drill)]) == 0
    capsys.readouterr()
    result = _run(capsys, ["drill", "run", str(drill), "--seed", "1"], tmp_path / "runs")
    said = [e["text"] for e in _events(result) if e["kind"] == "subject_spoke"]
    assert "-- Get away from me!" in said
    assert soundfile.info(str(Path(result["run_dir"]) / "sound.wav")).duration > 1.0


def test_a_text_to_speech_failure_leaves_the_run_recorded_with_its_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An espeak-ng that fails (a real process on PATH that exits 1) after the run: the run is
    complete, recorded and summarised, and the soundtrack's failure is one line (rc 9)."""
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    officer = ["--add", "4411", "--name", "J. Rivera", "--agency", "Metro PD", "--db", db]
    assert main(["records", "officers", *officer]) == 0
    broken = tmp_path / "bin"
    broken.mkdir()
    (broken / "espeak-ng").write_text("#!/bin/sh\necho 'espeak-ng: broken voice' >&2\nexit 1\n")
    (broken / "espeak-ng").chmod(0o755)
    monkeypatch.setenv("PATH", f"{broken}:{__import__('os').environ['PATH']}")
    args = ["drill", "run", str(_dashed_drill(tmp_path)), "--seed", "1", "--badge", "4411"]
    capsys.readouterr()
    code = main([*args, "--db", db, "--runs-dir", str(tmp_path / "runs"), "--progress", "never"])
    out = capsys.readouterr()
    assert code == 9, out.err
    assert "Traceback" not in out.err and "internal error" not in out.err
    assert "Recorded as drill run 1 for badge 4411." in out.out
    assert "Score:" in out.out
    (line,) = [x for x in out.err.splitlines() if "espeak-ng" in x]
    assert "espeak-ng: broken voice" in line and "the soundtrack was not written" in line
    assert main(["records", "show", "--drill-run", "1", "--db", db]) == 0
    assert "INCOMPLETE" not in capsys.readouterr().out


# --- 5. one phrase book for the whole run: the script's speak steps too -------------------------

KNEEL_BOOK = (
    'version = 1\nlanguage = "en-us"\n\n[[acts]]\nact = "command.kneel"\n'
    'phrases = ["kneel down", "get on your knees"]\n'
)
KNEEL_SCRIPT = (
    'id = "kneel-off"\nversion = 1\ndescription = "says kneel down"\n\n'
    '[[steps]]\nat_s = 0.5\ndo = "speak"\nsay = "Kneel down."\n'
)


def test_the_agency_book_hears_the_script_s_speak_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book, script = tmp_path / "good.toml", tmp_path / "off.toml"
    book.write_text(KNEEL_BOOK)
    script.write_text(KNEEL_SCRIPT)
    args = ["drill", "run", "knife-approach-v1", "--sim", str(script), "--seed", "1"]
    args += ["--sound", "off"]
    result = _run(capsys, [*args, "--phrases", str(book)], tmp_path / "runs")
    spoke = [(e["act"], e["text"]) for e in _events(result) if e["kind"] == "officer_spoke"]
    assert spoke == [("command.kneel", "Kneel down.")]
    # Without the agency book the words are no phrase: refused before the run, named.
    assert main([*args, "--runs-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"openrange: {script}:8: steps[0].say: a speak step's say 'Kneel down.' holds no phrase"
        " of the phrase book (openrange speech phrases)"
    )
    assert not (tmp_path / "none").exists()


def test_a_voice_run_with_the_agency_book_is_not_blocked_by_the_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book, script = tmp_path / "good.toml", tmp_path / "off.toml"
    book.write_text(KNEEL_BOOK)
    script.write_text(KNEEL_SCRIPT)
    wav = _wav(tmp_path / "kneel.wav", [(0.3, "kneel down")], 3.0)
    args = ["drill", "run", "knife-approach-v1", "--sim", str(script), "--seed", "1"]
    args += ["--sound", "off", "--phrases", str(book), "--voice", str(wav)]
    result = _run(capsys, args, tmp_path / "runs")
    spoke = [(e["act"], e["text"]) for e in _events(result) if e["kind"] == "officer_spoke"]
    assert spoke == [("command.kneel", "kneel down")]  # heard from the recording


# --- 9. a speech transition no phrase book in effect knows is refused -------------------------


def _talk_down(tmp_path: Path, act: str) -> Path:
    library = Path(__file__).parents[1] / "drills" / "data" / "drills" / "crisis-talk-down-v1.toml"
    text = library.read_text()
    assert text.count('on = "speech:command.drop_weapon"') == 1
    drill = tmp_path / f"{act}.toml"
    drill.write_text(text.replace('on = "speech:command.drop_weapon"', f'on = "speech:{act}"'))
    return drill


def _on_line(drill: Path) -> int:
    return next(n for n, line in enumerate(drill.read_text().splitlines(), 1) if "speech:" in line)


def test_drill_validate_refuses_a_speech_act_no_book_knows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = _talk_down(tmp_path, "command.drop_wepon")
    assert main(["drill", "validate", str(typo)]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"{typo}:{_on_line(typo)}: phases[1].transitions[0].on: ")
    assert "'speech:command.drop_wepon' can never fire" in line
    assert "did you mean 'command.drop_weapon'?" in line
    # An agency's act: refused without its book, valid with it; the typo stays refused.
    kneel = _talk_down(tmp_path, "command.kneel")
    book = tmp_path / "good.toml"
    book.write_text(KNEEL_BOOK)
    assert main(["drill", "validate", str(kneel)]) == 1
    assert "--phrases AGENCY.toml" in capsys.readouterr().err
    assert main(["drill", "validate", str(kneel), "--phrases", str(book)]) == 0
    assert main(["drill", "validate", str(typo), "--phrases", str(book)]) == 1
    assert f"the built-in phrase book with {book} has no act" in capsys.readouterr().err
    # A whole category still names acts the book has.
    assert main(["drill", "validate", str(_talk_down(tmp_path, "rapport"))]) == 0


def test_drill_run_refuses_a_speech_act_the_run_s_book_lacks_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = _talk_down(tmp_path, "command.drop_wepon")
    book = tmp_path / "good.toml"
    book.write_text(KNEEL_BOOK)
    args = ["drill", "run", str(typo), "--seed", "1", "--runs-dir", str(tmp_path / "runs")]
    assert main([*args, "--phrases", str(book)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"openrange: {typo}:{_on_line(typo)}: phases[1].transitions[0].on: ")
    assert not (tmp_path / "runs").exists()


# --- 12. the small items --------------------------------------------------------------------


def test_speech_say_refuses_an_azimuth_outside_minus_180_to_180(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["speech", "say", "x", "--azimuth", "400", "--out", str(tmp_path / "a.wav")])
    assert "--azimuth: 400: from -180 to 180 degrees is needed" in capsys.readouterr().err
    assert not (tmp_path / "a.wav").exists()
    assert main(["speech", "say", "x", "--azimuth", "-180", "--out", str(tmp_path / "b.wav")]) == 0


def test_a_subject_straight_ahead_is_logged_at_0_not_minus_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["drill", "run", "talk-down-cover-v1", "--seed", "1", "--sound", "off"]
    result = _run(capsys, args, tmp_path / "runs")
    log = (Path(result["run_dir"]) / "events.jsonl").read_text()
    assert '"azimuth_deg": 0.0' in log
    assert "-0.0," not in log and "-0.0}" not in log


def test_the_summary_says_what_a_debrief_answer_file_is(tmp_path: Path) -> None:
    from range.cli.summary import saved_lines

    (tmp_path / "debrief-next_time.wav").write_bytes(b"")
    lines = saved_lines(tmp_path, [])
    (line,) = [x for x in lines if "debrief-next_time.wav" in x]
    assert line.split("debrief-next_time.wav", 1)[1].strip() == (
        "the officer's spoken answer to debrief question next_time"
    )


def test_a_voice_run_is_not_called_a_scripted_officer_s_in_the_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    officer = ["--add", "4411", "--name", "J. Rivera", "--agency", "Metro PD", "--db", db]
    assert main(["records", "officers", *officer]) == 0
    capsys.readouterr()
    wav = _wav(tmp_path / "officer.wav", [(0.3, "drop the knife")], 3.0)
    args = ["drill", "run", "knife-approach-v1", "--seed", "7", "--voice", str(wav)]
    _run(capsys, [*args, "--sound", "off", "--badge", "4411", "--db", db], tmp_path / "runs")
    assert main(["records", "history", "4411", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED (officer's words from officer.wav; actions by scripted officer" in out
    assert "SIMULATED (scripted officer" not in out


def test_a_truncated_wav_says_it_is_cut_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.voice.audio import cut_short

    whole = _wav(tmp_path / "whole.wav", [(0.2, "drop the knife")], 2.0)
    assert cut_short(whole) is None
    short = tmp_path / "short.wav"
    short.write_bytes(whole.read_bytes()[:1000])
    assert main(["speech", "recognize", str(short)]) == 0
    err = capsys.readouterr().err.strip()
    assert err == (
        f"openrange: {short}: the file is cut short: its header promises 64000 bytes of sound"
        " and 956 are there (only those are heard)"
    )
