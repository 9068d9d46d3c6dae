"""Issue 17, re-check rc17 (defects 1, 3, 4, 5, 6, 7): each test fails without its fix.
In-process: the CLI's main() here, the console's handlers called on a built request (as
tests/test_nu18j.py does), espeak-ng's words for the officer's voice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from console_support import seed_accounts
from speech_support import soundless_wavs, spoken_track, unrecorded
from test_nu18j import _call, _request

from range.cli.main import main
from range.console.app import Console
from range.runs.runlog import read_events
from scoring.corrections import utterances

needs_espeak = pytest.mark.skipif(
    __import__("shutil").which("espeak-ng") is None, reason="espeak-ng is not installed"
)


def _wav(path: Path, items: list[tuple[float, str]], seconds: float) -> Path:
    from range.voice.audio import write_wav

    return write_wav(path, spoken_track(items, seconds))


# -- 1. the console's Correct button corrects its own row's act ---------------------------------


@pytest.fixture(scope="module")
def breath(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """knife-approach-v1 seed 7 heard from "drop the knife" at 0.3 s and "police drop the knife
    drop the knife" in one breath at 4.9 s (rc17's idlate.wav): the last three acts share one
    decision time. Recorded for B-101 in a console's records."""
    tmp = tmp_path_factory.mktemp("rc17-breath")
    url = f"sqlite:///{tmp / 'records.sqlite'}"
    seed_accounts(url)
    said = [(0.3, "drop the knife"), (4.9, "police drop the knife drop the knife")]
    voice = _wav(tmp / "idlate.wav", said, 8)
    args = ["drill", "run", "knife-approach-v1", "--seed", "7", "--voice", str(voice)]
    code = main([*args, "--badge", "B-101", "--db", url, "--runs-dir", str(tmp / "runs")])
    assert code == 0
    (run_dir,) = (tmp / "runs").iterdir()
    console = Console(url, secure_cookies=False, runs_dir=tmp / "console-runs")
    return {"console": console, "run_dir": run_dir, "number": 1}


@needs_espeak
def test_each_debrief_row_of_one_breath_corrects_its_own_act(
    breath: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # rc17 #1: the console named the row by its decision time, which the acts of one breath
    # share: the identify's row was refused ("... heard as command.drop_weapon; give one of
    # those"), and the first of two "drop the knife" rows corrected the second.
    from range.cli.corrections import run_corrections

    capsys.readouterr()
    console, run_dir = breath["console"], breath["run_dir"]
    heard = utterances(read_events(run_dir))
    rows = [(r.data["act"], r.data["start_s"]) for r in heard]
    assert [a for a, _ in rows] == [
        "command.drop_weapon",
        "identify",
        "command.drop_weapon",
        "command.drop_weapon",
    ]
    assert len({r.t for r in heard[1:]}) == 1  # one breath: one decision time

    def correct(n: int, act: str) -> tuple[int, str]:
        path = f"/runs/{breath['number']}/correct"
        form = {"n": str(n), "act": act, "reason": ""}
        request = _request(console, "inst", "POST", path, {"id": breath["number"]}, form)
        return _call(console.run_correct, request)

    assert correct(2, "command.stop")[0] == 303  # the identify's row
    assert correct(3, "command.stop")[0] == 303  # the first "drop the knife" of the breath
    kept = run_corrections(run_dir)
    assert [(c.was, c.n, c.act) for c in kept] == [
        ("identify", heard[1].data["n"], "command.stop"),
        ("command.drop_weapon", heard[2].data["n"], "command.stop"),
    ]
    for c, row in zip(kept, heard[1:3], strict=True):  # kept with a time in the act's own words
        assert row.data["start_s"] <= c.at_s <= row.data["end_s"]
    # The row already corrected to that act says so; it does not move on to the next row.
    status, body = correct(3, "command.stop")
    assert status == 400 and "was corrected to command.stop already" in body
    assert len(run_corrections(run_dir)) == 2


# -- 3. speech correct says the officer's voice is missing or replaced ---------------------------


@needs_espeak
def test_speech_correct_warns_of_a_missing_or_replaced_officer_voice(
    breath: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc17 #3: score and report warned (nu17c #9), the command used after listening did not.
    import shutil

    from range.cli.corrections import voice_problem

    run = tmp_path / "run"
    shutil.copytree(breath["run_dir"], run)
    for stale in run.glob("speech-corrections-*"):
        stale.unlink()
    voice = run / "officer-voice.wav"
    at = ["speech", "correct", str(run), "--at", "0.5", "--by", "Q"]
    capsys.readouterr()
    voice.unlink()
    assert main([*at, "--act", "command.get_down"]) == 0
    err = capsys.readouterr().err
    missing = voice_problem(run, read_events(run))
    assert missing is not None and err == f"openrange: warning: {missing}\n"
    assert "missing: the officer's voice the run heard" in err
    soundfile.write(str(voice), np.zeros(16_000), 16_000, subtype="PCM_16")  # silence instead
    assert main([*at, "--act", "command.stop"]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"openrange: warning: {voice}: no longer matches the sha256 kept")
    assert err.endswith("it was replaced; its audio is not what the run heard\n")


# -- 4. a --voice with no samples is refused before the run, as --answer-wav is -----------------


def test_an_empty_voice_recording_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc17 #4: a 0-sample --voice ran silently (rc 0, VERBAL-02, "officer-voice.wav: the clip
    # of every act heard"); a header-only one said "cut short" and ran.
    empty, header = soundless_wavs(tmp_path)
    runs = tmp_path / "runs"
    base = ["drill", "run", "knife-approach-v1", "--seed", "7", "--runs-dir", str(runs)]
    assert main([*base, "--voice", str(empty)]) == 2
    assert capsys.readouterr().err == (
        f"openrange: --voice {empty}: no sound in it (0 samples): nothing in it can be heard;"
        " record it again\n"
    )
    assert main([*base, "--voice", str(header)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"openrange: --voice {header}: the file is cut short")
    assert err.count("\n") == 1 and err.endswith(": nothing in it can be heard; record it again\n")
    assert not runs.exists()


# -- 7. --answer-wav's samples that are not numbers are said, as --voice's are -------------------


def test_an_answer_wav_with_nan_samples_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from drills.schema import find_drill
    from range.cli.debrief import check_debrief_options

    x = np.full(16_000, 0.1, dtype=np.float32)
    x[1000:2001] = np.nan
    path = tmp_path / "nan.wav"
    soundfile.write(str(path), x, 16_000, subtype="FLOAT")
    args = argparse.Namespace(answer=[], answer_wav=[("got_through", str(path))])
    capsys.readouterr()
    check_debrief_options(args, find_drill("empathy-crisis-voices-v1"))
    assert capsys.readouterr().err == (
        f"openrange: --answer-wav {path}: 1001 samples are not numbers (NaN or infinite):"
        " read as silence\n"
    )


# -- 5. a correction checked against an edited phrase book is not applied ------------------------


def _booked_run(tmp_path: Path) -> tuple[Path, Path]:
    """misheard_warning heard with an agency book of command.kneel (its sha256 in run_started)."""
    import hashlib

    from test_nu17c_corrections import KNEEL_BOOK
    from test_speech_corrections import misheard_warning, write_run

    from drills.log import LogRecord

    records = misheard_warning()
    sha = hashlib.sha256(KNEEL_BOOK.encode()).hexdigest()
    meta = {"phrases_file": "phrasebook.toml", "phrases_sha256": sha}
    records[0] = LogRecord(records[0].t, records[0].kind, {**records[0].data, **meta})
    run = write_run(tmp_path / "run", records)
    (run / "phrasebook.toml").write_text(KNEEL_BOOK)
    return run, run / "phrasebook.toml"


def test_a_correction_to_an_act_only_an_edited_book_has_is_not_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc17 #5: `correct` refused an edited book (nu17c #6), but score and report applied a
    # correction already in the file to an act only the edited book had; a missing book's
    # warning said its corrections were "checked against it as it is now" (there is none).
    run, book = _booked_run(tmp_path)
    at = ["speech", "correct", str(run), "--at", "0.9", "--by", "Lee"]
    assert main([*at, "--act", "command.kneel"]) == 0
    (kept,) = run.glob("speech-corrections-*.json")
    body = json.loads(kept.read_text())
    body["corrections"][0]["act"] = "command.sit"
    kept.write_text(json.dumps(body, indent=2) + "\n")
    book.write_text(book.read_text() + '\n[[acts]]\nact = "command.sit"\nphrases = ["sit down"]\n')
    capsys.readouterr()
    assert main(["score", str(run), "--json"]) == 0
    out = capsys.readouterr()
    score = json.loads(out.out)
    assert score["corrections"] == [] and "command.sit" not in score["speech"]["acts"]
    (stale,) = score["corrections_not_applied"]
    assert stale["why"] == "no act 'command.sit' in this run's phrase book"
    assert f"openrange: {book}: no longer matches the sha256 kept in run_started" in out.err
    checked = "its corrections are checked against the built-in phrase book and the acts the log"
    assert checked in out.err and "as it is now" not in out.err
    book.unlink()
    assert main(["score", str(run)]) == 0
    err = capsys.readouterr().err
    assert f"openrange: {book}: missing: the run was heard with it" in err
    assert checked in err and "as it is now" not in err
    # An act the log heard stays correctable-to whatever became of the book.
    body["corrections"][0]["act"] = "warning.taser"
    kept.write_text(json.dumps(body, indent=2) + "\n")
    assert main(["score", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["corrections_not_applied"] == []


# -- 6. a superseded correction is history, not a warning ----------------------------------------


def test_superseded_corrections_are_listed_as_history_not_warned_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc17 #6: each earlier correction of an act corrected again was said on stderr on every
    # score and report, under "not applied (they do not match this log)", quoting the
    # utterance where the applied ones quote the act's own words.
    from test_rules import end, phase, spoke, start
    from test_speech_corrections import write_run

    from drills.log import LogRecord

    said = spoke(1.2, "command.stop", "police stop", talk_s=0.9)
    said = LogRecord(said.t, said.kind, {**said.data, "phrase": "stop"})
    run = write_run(tmp_path / "run", [*start(), phase(0, "active_resistance"), said, end(3)])
    at = ["speech", "correct", str(run), "--at", "0.9"]
    assert main([*at, "--act", "warning.taser", "--by", "Lee"]) == 0
    assert main([*at, "--act", "command.stop", "--by", "Kay"]) == 0  # an undo: Lee's replaced
    capsys.readouterr()
    assert main(["score", str(run)]) == 0
    out = capsys.readouterr()
    (kept,) = run.glob("speech-corrections-*.json")
    assert unrecorded(out.err, kept, 2) == ""  # played without a badge: said once (rc19 #7)
    lines = out.out.splitlines()
    head = lines.index("Earlier speech corrections (replaced by a later one of the same act):")
    assert lines[head + 1].startswith(
        "    0.30-1.20 s  'stop' (in 'police stop'): command.stop -> warning.taser by Lee, "
    )
    assert "not applied" not in out.out
    assert "'stop' (in 'police stop'): warning.taser (Lee's correction) -> put back" in out.out
    assert main(["score", str(run), "--json"]) == 0
    (old,) = json.loads(capsys.readouterr().out)["corrections_not_applied"]
    assert old["superseded"] is True and old["phrase"] == "stop"
