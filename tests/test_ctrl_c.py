"""Ctrl-C (KeyboardInterrupt) in a run or a long command: one line saying it was stopped, no
traceback, exit status 130; a drill run is closed where it stood (run_ended, result.json,
ABORTED). The live drill's own case: tests/test_live_drill.py."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from range.cli.main import main
from range.runs.drill import STOPPED, Session


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, calls: int) -> None:
    """`owner.name` runs as before, and the range master presses Ctrl-C during its call number
    `calls` (KeyboardInterrupt where the real SIGINT would land: in the middle of the work)."""
    real = getattr(owner, name)
    made = [0]

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        made[0] += 1
        if made[0] == calls:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted)


def test_ctrl_c_closes_a_drill_run_and_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _interrupt_after(monkeypatch, Session, "_simulated_frame", 90)
    runs = tmp_path / "runs"
    argv = ["drill", "run", "knife-approach-v1", "--seed", "1", "--runs-dir", str(runs)]
    assert main([*argv, "--sound", "off", "--progress", "never"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (run,) = runs.iterdir()
    assert (
        err.strip().splitlines()[-1]
        == f"{STOPPED} at 0.99 s: the run is closed, not graded; saved in {run}"
    )
    ended = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
    assert ended["kind"] == "run_ended" and ended["reason"] == STOPPED
    assert json.loads((run / "result.json").read_text())["state"] == "aborted"


def test_ctrl_c_in_a_course_attempt_says_the_attempt_is_not_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import range.runs.course as course

    _interrupt_after(monkeypatch, course, "_fire_string", 2)
    argv = ["course", "run", "taser7-practical-v1", "--runs-dir", str(tmp_path / "runs")]
    assert main([*argv, "--sound", "off"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [
        "openrange: stopped by the range master (Ctrl-C): the attempt is not finished"
    ]


def test_ctrl_c_in_analyze_spread_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import physics.analysis as analysis

    _interrupt_after(monkeypatch, analysis, "spread_study", 1)
    argv = ["analyze", "spread", "--cartridge", "taser7-cq", "--distance", "15ft"]
    assert main([*argv, "--trials", "1000"]) == 130
    assert capsys.readouterr().err == "openrange: stopped (Ctrl-C)\n"


def _sigint_during(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
    """`owner.name` runs as before, and the range master presses Ctrl-C as it starts: a real
    SIGINT to this process, taken by whatever handler the command has installed."""
    real = getattr(owner, name)

    def pressed(*args: Any, **kwargs: Any) -> Any:
        signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, pressed)


@pytest.fixture
def officer_db(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'records.db'}"
    officer = ["--add", "4411", "--name", "Ofc. Rivera", "--agency", "Metro PD"]
    assert main(["records", "officers", *officer, "--db", db]) == 0
    return db


@pytest.mark.parametrize("step", ["result.json", "record"])
def test_ctrl_c_while_an_ended_drill_run_is_recorded_finishes_and_says_so(
    step: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    officer_db: str,
) -> None:
    """nu19 #1: a SIGINT once the run had ended (run_ended logged) but before its result.json
    was written or its record closed left it in progress, skipped sound.wav and said only
    "stopped (Ctrl-C)"."""
    from range.records.store import Records
    from range.runs.runlog import RunWriter

    if step == "record":
        _sigint_during(monkeypatch, Records, "add_drill_run")
    else:
        _sigint_during(monkeypatch, RunWriter, "finish")
    runs = tmp_path / "runs"
    argv = ["drill", "run", "phone-draw-v1", "--seed", "1", "--runs-dir", str(runs)]
    assert main([*argv, "--badge", "4411", "--db", officer_db, "--progress", "never"]) == 130
    out, err = capsys.readouterr()
    (run,) = runs.iterdir()
    assert (run / "sound.wav").is_file()
    assert "Recorded as drill run 1 for badge 4411." in out
    assert err.strip().splitlines()[-1] == (
        "openrange: Ctrl-C came after the run had ended (completed at"
        f" {json.loads((run / 'result.json').read_text())['duration_s']:.2f} s): nothing was"
        f" cut; saved in {run} and recorded as drill run 1"
    )
    assert "stopped" not in err
    with Records.open(officer_db) as records:
        assert records.incomplete_drill_runs() == []
        assert records.drill_run(1)["outcome"].endswith(": PASS")


def test_ctrl_c_while_a_fired_course_attempt_is_recorded_finishes_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    officer_db: str,
) -> None:
    """nu19 #1's course: a SIGINT while the attempt's last string was done and its log ended
    (attempt_ended) left it in progress with a `--resume` that had nothing left to fire."""
    from range.records.store import Records

    _sigint_during(monkeypatch, Records, "finish_attempt")
    runs = tmp_path / "runs"
    argv = ["course", "run", "taser7-practical-v1", "--badge", "4411", "--db", officer_db]
    assert main([*argv, "--runs-dir", str(runs), "--sound", "off"]) == 130
    out, err = capsys.readouterr()
    (run,) = runs.iterdir()
    assert "Recorded as qualification record 1 for badge 4411." in out
    assert "--resume" not in err and "not finished" not in err
    assert err.strip().splitlines()[-1] == (
        "openrange: Ctrl-C came after the attempt's last string: it is complete, nothing was"
        f" cut; saved in {run} and recorded as qualification record 1"
    )
    with Records.open(officer_db) as records:
        assert records.incomplete() == []


def _sigint_after(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
    """`owner.name` runs as before, and the range master presses Ctrl-C just as it returns: a
    real SIGINT to this process, taken by whatever handler is installed then."""
    real = getattr(owner, name)

    def pressed(*args: Any, **kwargs: Any) -> Any:
        made = real(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return made

    monkeypatch.setattr(owner, name, pressed)


@pytest.mark.parametrize("after", ["registered", "started"])
def test_ctrl_c_as_a_badged_drill_run_starts_leaves_no_run_in_progress(
    after: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    officer_db: str,
) -> None:
    """rc19 #1: a SIGINT just after the run's registration was committed (its number not yet
    kept) left a drill run in progress for a folder deleted; one just after run_started, a
    run in progress whose log had no run_ended. Now: no record and no folder before the run
    started; after, the run closed ABORTED and recorded."""
    from drills.engine import DrillEngine
    from range.records.store import Records

    if after == "registered":
        _sigint_after(monkeypatch, Records, "begin_drill_run")
    else:
        _sigint_after(monkeypatch, DrillEngine, "start")
    runs = tmp_path / "runs"
    argv = ["drill", "run", "phone-draw-v1", "--seed", "1", "--runs-dir", str(runs)]
    assert main([*argv, "--badge", "4411", "--db", officer_db, "--progress", "never"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    with Records.open(officer_db) as records:
        assert records.incomplete_drill_runs() == []
        if after == "registered":
            assert not runs.exists() or list(runs.iterdir()) == []
            assert err.endswith("\nopenrange: stopped (Ctrl-C)\n")
            return
        (run,) = runs.iterdir()
        ended = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
        assert ended["kind"] == "run_ended" and ended["reason"] == STOPPED
        assert "ABORTED" in records.drill_run(1)["outcome"]


def test_ctrl_c_as_a_course_attempt_is_begun_gives_its_resume_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    officer_db: str,
) -> None:
    """rc19 #5: a SIGINT just after the attempt was begun in the records (its number not yet
    told to the command) left it in progress, and the line gave no `--resume`."""
    from range.records.store import Records

    _sigint_after(monkeypatch, Records, "begin_attempt")
    runs = tmp_path / "runs"
    argv = ["course", "run", "taser7-practical-v1", "--badge", "4411", "--db", officer_db]
    assert main([*argv, "--runs-dir", str(runs), "--sound", "off", "--seed", "2"]) == 130
    err = capsys.readouterr().err
    with Records.open(officer_db) as records:
        (attempt,) = records.incomplete()
    assert err.strip().splitlines()[-1].endswith(f"--resume {attempt['id']}` fires the rest")


def test_ctrl_c_inside_the_recogniser_still_closes_a_voice_run_aborted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc19 #2: a Ctrl-C that landed inside the recogniser as an utterance began left
    pocketsphinx with no utterance to end: the abort's end_utt raised RuntimeError ("Failed
    to stop utterance processing"), an internal error, and the run stayed without an end."""
    import shutil

    pytest.importorskip("pocketsphinx")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng missing (scripts/test.sh installs it)")
    from speech_support import spoken_track

    from range.voice.audio import write_wav
    from range.voice.recognize import Recognizer

    wav = write_wav(tmp_path / "said.wav", spoken_track([(0.5, "drop the knife")], 3.0))
    _interrupt_after(monkeypatch, Recognizer, "begin", 1)
    runs = tmp_path / "runs"
    argv = ["drill", "run", "knife-approach-v1", "--seed", "7", "--voice", str(wav)]
    assert main([*argv, "--runs-dir", str(runs), "--progress", "never", "--sound", "off"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    (run,) = runs.iterdir()
    ended = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
    assert ended["kind"] == "run_ended" and ended["reason"] == STOPPED
    assert json.loads((run / "result.json").read_text())["state"] == "aborted"


def test_closing_a_drill_run_whose_folder_is_gone_says_so_and_verify_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], officer_db: str
) -> None:
    """rc19 #1's aftermath: `records close --drill-run` said only "saved" for a run whose
    folder was deleted, and `verify` then said it was "recorded before log hashes were"
    (`--json` left it out)."""
    from range.records.store import NO_LOG_CLOSED, Records

    # Named as a run begun now is (rc24 #2: a close holds the row's start to the name).
    made = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    gone = tmp_path / "runs" / f"{made}-knife-approach-v1"
    with Records.open(officer_db) as records:
        begun = records.begin_drill_run("4411", "knife-approach-v1", 21, "0", "ofc", "", gone)
    capsys.readouterr()
    close = ["records", "close", "--drill-run", str(begun), "--by", "Sgt Lee", "--reason", "x"]
    assert main([*close, "--db", officer_db]) == 0
    said = capsys.readouterr().out.strip()
    assert said.endswith(
        f"saved in the records; its run folder {gone} has no log (moved or deleted?):"
        " nothing of the run was scored."
    )
    assert main(["records", "verify", "--db", officer_db]) == 0
    assert f"1 drill run with {NO_LOG_CLOSED}: 1" in capsys.readouterr().out
    assert main(["records", "verify", "--db", officer_db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unchecked_logs"] == [
        {"drill_run": 1, "why": NO_LOG_CLOSED}
    ]


def test_a_run_closed_by_a_version_that_kept_no_log_fact_is_not_said_to_have_had_no_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], officer_db: str
) -> None:
    """rv20a #1: `verify` guessed "its run folder had no log when it was closed" for every
    closed run without a log hash, though runs were closed (nu12f) before logs were hashed
    (nu18f). A record closed the old way (its `closed` without `log_missing`) is said to be
    unknown, and the chain still holds; one closed now keeps what the close saw."""
    from range.records.store import NO_LOG_UNKNOWN, Records

    folder = tmp_path / "runs" / "20250101-120000-knife-approach-v1"
    with Records.open(officer_db) as records:
        begun = records.begin_drill_run("4411", "knife-approach-v1", 3, "0", "ofc", "", folder)
        score = {"decision": None, "score": 0.0, "passed": False}
        old = {"drill": "knife-approach-v1", "seed": 3, "openrange_version": "0", "score": score}
        closed = {"closed_by": "Sgt Lee", "reason": "old", "closed": "2025-01-01T12:00:00Z"}
        kept = old | {"run_dir": str(folder), "closed": closed, "officer": "ofc"}
        records.add_drill_run("4411", kept, in_progress=begun)  # as nu12f..nu20 closed it
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("{}\n")  # it had a log: the old close did not hash it
    capsys.readouterr()
    assert main(["records", "verify", "--db", officer_db, "--json"]) == 0
    verified = json.loads(capsys.readouterr().out)
    assert verified["intact"] is True
    assert verified["unchecked_logs"] == [{"drill_run": 1, "why": NO_LOG_UNKNOWN}]
    assert "had no log" not in verified["unchecked_logs"][0]["why"]


def test_the_sigint_swap_puts_back_the_handler_there_was_and_leaves_other_threads_alone() -> None:
    """rv20a #2: `HeldCtrlC` and `ctrl_c_once` share one SIGINT swap (`swap_sigint`): the
    handler there was is back after the block (even when the block fails), and a thread that
    is not the main one swaps nothing."""
    import threading

    from range.cli.util import ctrl_c_once
    from range.runs.core import HeldCtrlC, swap_sigint

    def mine(signum: int, frame: object) -> None:
        pass

    before = signal.getsignal(signal.SIGINT)
    with swap_sigint(mine) as previous:
        assert previous is before and signal.getsignal(signal.SIGINT) is mine
        with pytest.raises(KeyError), swap_sigint(signal.default_int_handler):
            raise KeyError
        assert signal.getsignal(signal.SIGINT) is mine
        with ctrl_c_once():
            assert signal.getsignal(signal.SIGINT) is not mine
        with HeldCtrlC():
            assert signal.getsignal(signal.SIGINT) is not mine
        assert signal.getsignal(signal.SIGINT) is mine
    assert signal.getsignal(signal.SIGINT) is before
    seen: list[object] = []

    def elsewhere() -> None:
        with swap_sigint(mine) as previous:
            seen.append((previous, signal.getsignal(signal.SIGINT)))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen == [(None, before)]
