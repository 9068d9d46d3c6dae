"""Issue 17, re-check rc17 (defects 1, 3, 4, 5, 6, 7): each test fails without its fix.
In-process: the CLI's main() here, the console's handlers called on a built request (as
tests/test_nu18j.py does), espeak-ng's words for the officer's voice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from console_support import seed_accounts
from speech_support import spoken_track
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
    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros(0), 22050)
    header = tmp_path / "hdr.wav"
    soundfile.write(str(tmp_path / "ok.wav"), np.zeros(2205), 22050, subtype="PCM_16")
    header.write_bytes((tmp_path / "ok.wav").read_bytes()[:44])
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
