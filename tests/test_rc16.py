"""Issue 16, re-check rc16: its new defects (items 2, 3, 8; items 1 and 4-6 beside their
subjects' other tests)."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from drills.course import find_course, find_shooter
from range.cli.main import main
from range.records.store import Records
from range.runs.course import CourseConfig, run_course
from range.runs.drill import Session


def _db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
    return url


def _ctrl_c_in(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, calls: int = 1) -> None:
    """`owner.name` as before, and a real SIGINT (the range master's Ctrl-C) at the start of
    its call number `calls`: delivered to whatever handler the process has then."""
    real = getattr(owner, name)
    made = [0]

    def pressed(*args: Any, **kwargs: Any) -> Any:
        made[0] += 1
        if made[0] == calls:
            signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, pressed)


# -- item 2: a second Ctrl-C during the first one's cleanup ------------------------------------


def test_a_second_ctrl_c_while_the_first_closes_the_run_leaves_no_run_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #2: Ctrl-C mid-drill, and again while the run is being closed in the records: the
    second is ignored, the run is kept (ABORTED, not left in progress), the folder is said, and
    the handler there was before is back afterwards."""
    db = _db(tmp_path)
    _ctrl_c_in(monkeypatch, Session, "_simulated_frame", 90)
    _ctrl_c_in(monkeypatch, Records, "add_drill_run")
    before = signal.getsignal(signal.SIGINT)
    runs = tmp_path / "runs"
    argv = ["drill", "run", "knife-approach-v1", "--seed", "1", "--runs-dir", str(runs)]
    argv += ["--badge", "4411", "--db", db, "--sound", "off", "--progress", "never"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    (run,) = runs.iterdir()
    assert "Traceback" not in err and f"saved in {run}" in err, err
    assert signal.getsignal(signal.SIGINT) is before
    with Records.open(db) as records:
        assert records.incomplete_drill_runs() == []
    assert json.loads((run / "result.json").read_text())["state"] == "aborted"


def test_a_second_ctrl_c_in_a_course_attempt_still_says_how_to_resume_it_by_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #2 and #8: Ctrl-C in a recorded course attempt, and again while it is being
    closed: the second is ignored and the line says the attempt's own number to resume, in a
    command that works as typed (the same records database and runs folder)."""
    import shlex

    import range.cli.records as cli_records
    import range.runs.course as course

    db = _db(tmp_path)
    runs = tmp_path / "runs"
    _ctrl_c_in(monkeypatch, course, "_fire_string", 2)
    _ctrl_c_in(monkeypatch, cli_records, "say")
    argv = ["course", "run", "taser7-practical-v1", "--runs-dir", str(runs)]
    assert main([*argv, "--badge", "4411", "--db", db, "--sound", "off"]) == 130
    err = capsys.readouterr().err
    with Records.open(db) as records:
        ((listed),) = records.incomplete()
    command = (
        f"openrange course run taser7-practical-v1 --badge 4411 --db {db} --runs-dir {runs}"
        f" --resume {listed['id']}"
    )
    assert err.strip().splitlines() == [
        "openrange: stopped by the range master (Ctrl-C): the attempt is not finished; the"
        f" strings fired so far are kept in progress (`openrange records incomplete`): `{command}`"
        " fires the rest"
    ]
    monkeypatch.undo()
    assert main([*shlex.split(command)[1:], "--sound", "off"]) == 0
    with Records.open(db) as records:
        assert records.incomplete() == []


# -- item 3: a crash between a string's end in the log and in the records ---------------------


class _CrashError(Exception):
    """The power goes: after the log line, before the records' row."""


def test_a_string_ended_in_the_log_but_not_the_records_is_kept_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #3: the process dies with the first string's `string_ended` in its part's
    events.jsonl and not yet in the records. The resume takes it from the log: the finished
    string is kept, not cut and reshot."""
    db = _db(tmp_path)
    record_shot = Records.record_shot

    def crash_before_the_end(self: Records, attempt: int, shot: dict[str, Any]) -> None:
        if shot.get("kind") == "string_ended":
            raise _CrashError
        record_shot(self, attempt, shot)

    runs = tmp_path / "runs"
    with Records.open(db) as records:
        monkeypatch.setattr(Records, "record_shot", crash_before_the_end)
        config = CourseConfig(
            find_course("fbi-pistol-2019-v1"), find_shooter("expert"), 3, runs_dir=runs
        )
        with pytest.raises(_CrashError):
            run_course(config, records=records, badge="4411")
        monkeypatch.setattr(Records, "record_shot", record_shot)
        ((listed),) = records.incomplete()
    (part,) = runs.iterdir()
    last = json.loads((part / "events.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "string_ended"  # the log is a record ahead of the records
    argv = ["course", "run", "fbi-pistol-2019-v1", "--badge", "4411", "--db", db]
    argv += ["--resume", str(listed["id"]), "--runs-dir", str(runs), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reshot"] == [] and result["score"]["complete"]
    assert main(["records", "show", str(result["qualification"]), "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert not [line for line in shown["sheet"] if line["note"].startswith("string cut")]


# -- item 4: --trigger-at counts from a host's first session -----------------------------------


def test_emulate_trigger_at_counts_from_the_first_session_and_says_a_pull_with_no_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #4: `emulate --trigger-at 0.3`, and a host that attaches only 0.8 s after the
    emulator started (a run typed afterwards) still gets the pull, 0.3 s after its session
    opened; a second pull after the host has gone is said on stderr in one line."""
    import threading
    import time

    from peripherals.driver import ReplicaLink
    from peripherals.messages import EventKind
    from peripherals.ports import PortDirectory
    from range.clock import MonotonicClock

    got: list[tuple[float, EventKind]] = []
    attached: list[float] = []

    def host() -> None:
        time.sleep(0.8)  # past the first pull's time counted from the emulator's start
        (port,) = PortDirectory(tmp_path).ports()
        clock = MonotonicClock()
        link = ReplicaLink(port, clock)
        link.open()
        link.start_session()
        attached.append(clock.now_s())
        while clock.now_s() < attached[0] + 0.8:
            got.extend((e.received_s, e.kind) for e in link.poll())
            time.sleep(0.01)
        link.close()

    hand = threading.Thread(target=host)
    hand.start()
    argv = ["peripherals", "emulate", "pistol", "--serial", "P-RC16", "--dir", str(tmp_path)]
    try:
        assert main([*argv, "--trigger-at", "0.3", "--trigger-at", "2.2", "--duration", "3.4"]) == 0
    finally:
        hand.join(timeout=10)
    pressed = [t for t, kind in got if kind is EventKind.TRIGGER_PRESSED]
    assert len(pressed) == 1 and 0.2 < pressed[0] - attached[0] < 0.6, (got, attached)
    err = capsys.readouterr().err
    assert (
        "P-RC16: trigger pulled (--trigger-at 2.2) with no host attached (none has spoken for"
        " over 1 s): no run takes the shot"
    ) in err, err
    assert "--trigger-at 0.3" not in err


# -- item 5: calibrate --emulate takes a running emulator's model ------------------------------


def test_an_emulated_boresight_takes_the_running_emulators_model_or_asks_for_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #5: `peripherals emulate patrol-rifle --serial R-1` is running (registered where
    `scan` looks): `calibrate boresight --device R-1 --emulate` saves a patrol-rifle profile,
    not a pistol one; a serial nothing names needs --model (one line); SIM-TASER-0001 takes
    any TASER model and its refusal says so."""
    from peripherals.emulator import RifleEmulator
    from peripherals.ports import default_emulator_dir
    from range.calibration.profiles import load_profile
    from range.clock import MonotonicClock

    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    bore = ["calibrate", "boresight", "--armorer", "A", "--emulate", "--profiles", str(profiles)]
    with RifleEmulator("R-1", MonotonicClock(), directory=default_emulator_dir()):
        assert main([*bore, "--device", "R-1", "--model", "pistol"]) == 2
        assert "a running emulated patrol-rifle" in capsys.readouterr().err
        assert main([*bore, "--device", "R-1"]) == 0
    profile = load_profile(profiles, "R-1")
    assert profile is not None and profile.model == "patrol-rifle"
    capsys.readouterr()
    assert main([*bore, "--device", "P-9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "P-9: which model?" in err and "--model" in err, err
    assert main([*bore, "--device", "SIM-TASER-0001", "--model", "patrol-rifle"]) == 2
    assert "give a TASER model or leave --model out" in capsys.readouterr().err
    assert main([*bore, "--device", "SIM-TASER-0001", "--model", "taser-10"]) == 0


def _hinted(text: str, armorer: str, profiles: Path) -> list[str]:
    """The `openrange calibrate boresight ...` a refusal names, as argv, typed as it says with
    NAME filled in (and the test's profile folder)."""
    import shlex

    (command,) = [c for c in text.split("`") if c.startswith("openrange calibrate boresight")]
    argv = shlex.split(command)[1:]
    return [armorer if a == "NAME" else a for a in argv] + ["--profiles", str(profiles)]


def test_the_refusal_of_an_uncalibrated_or_other_model_emulated_replica_runs_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #11: a live run refusing an emulated patrol rifle (never calibrated, or with a
    pistol profile) names a boresight that works as typed: --armorer and the model the replica
    reported (the bench does not ask it, and its emulator may be registered where `scan` does
    not look: none is here). Falling back on the profile's model is said."""
    from datetime import date

    from physics.datafiles import DataFileError
    from range.calibration.profiles import check_devices, load_profile

    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # no running emulator anywhere
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    today = date.today()
    rifle = {"R-1": ("patrol-rifle", True), "R-2": ("patrol-rifle", True)}
    (refused,) = check_devices(profiles, ["R-1"], today, reported=rifle)
    assert not refused.allowed and "never calibrated" in refused.reason
    assert main(_hinted(refused.reason, "Sgt. Ortiz", profiles)) == 0, capsys.readouterr().err
    (passed,) = check_devices(profiles, ["R-1"], today, reported=rifle)
    assert passed.allowed and passed.profile is not None
    assert passed.profile.model == "patrol-rifle" and passed.profile.armorer == "Sgt. Ortiz"
    # A pistol profile made for R-2 (as rc16 saw, with the model assumed) is refused by its
    # model line, with the same working command.
    bore = ["calibrate", "boresight", "--device", "R-2", "--emulate", "--armorer", "A"]
    assert main([*bore, "--model", "pistol", "--profiles", str(profiles)]) == 0
    capsys.readouterr()
    assert main([*bore, "--profiles", str(profiles)]) == 0
    assert "R-2: model pistol, its profile's (no --model, and no running emulator" in (
        capsys.readouterr().err
    )
    with pytest.raises(DataFileError) as error:
        check_devices(profiles, ["R-2"], today, reported=rifle)
    assert "R-2.toml:" in str(error.value) and "--model patrol-rifle" in str(error.value)
    assert main(_hinted(str(error.value), "A", profiles)) == 0
    profile = load_profile(profiles, "R-2", today, model="patrol-rifle", emulated=True)
    assert profile is not None and profile.model == "patrol-rifle"


# -- item 6: the up-front port check -----------------------------------------------------------


def test_the_up_front_port_check_refuses_what_is_no_serial_port_and_says_errors_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #6: an empty port, a folder, a file, /dev/null, a URL of another scheme than
    socket:// and rfc2217://, and socket://h:1/x are refused before anything opens; a pty and
    an IPv6 socket:// pass; pySerial's text that repeats the port is said once."""
    import os

    from peripherals.driver import ReplicaLink
    from peripherals.errors import PeripheralNotFoundError
    from range.clock import MonotonicClock
    from range.runs.lanefile import port_problems

    afile = tmp_path / "f"
    afile.write_text("x")
    master, slave = os.openpty()
    try:
        pty = os.ttyname(slave)
        bad = ["", str(tmp_path), str(afile), "/dev/null", "loop://", "spy:///dev/pts/0"]
        bad += ["hwgrep://taser", "socket://h:1/x", "socket://[::1]", "rfc2217://h"]
        for port in bad:
            assert port_problems([port]), port
        for port in [pty, "socket://[::1]:5", "rfc2217://h:4000?logging=debug"]:
            assert port_problems([port]) == [], port
    finally:
        os.close(master)
        os.close(slave)
    assert "/dev/null is not a serial port" in port_problems(["/dev/null"])[0][1]
    assert "is a folder" in port_problems([str(tmp_path)])[0][1]
    argv = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411", "--no-save"]
    assert main([*argv, "--port", ""]) == 2
    assert "--port: '': an empty port" in capsys.readouterr().err
    with pytest.raises(PeripheralNotFoundError) as error:
        ReplicaLink("socket://127.0.0.1:1", MonotonicClock()).open()
    assert str(error.value).count("socket://127.0.0.1:1") == 1, str(error.value)


# -- item 8: small things ----------------------------------------------------------------------


def test_an_aborted_runs_summary_has_no_override_wording_and_no_nested_brackets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #8: a run stopped with Ctrl-C is not graded, so a critical finding in it does not
    "override the score" (it is marked critical, no more); its reason is said without
    brackets inside brackets."""
    from range.cli.summary import format_score
    from range.runs.drill import STOPPED
    from range.runs.runlog import read_events
    from scoring.policy import default_policy
    from scoring.score import Finding, Kind, score_run

    _ctrl_c_in(monkeypatch, Session, "_simulated_frame", 120)
    runs = tmp_path / "runs"
    argv = ["drill", "run", "knife-approach-v1", "--seed", "1", "--runs-dir", str(runs)]
    assert main([*argv, "--sound", "off", "--progress", "never"]) == 130
    out = capsys.readouterr().out
    assert "s: stopped by the range master with Ctrl-C\n" in out, out
    assert "((" not in out and "))" not in out and "(Ctrl-C)" not in out, out
    (run,) = runs.iterdir()
    score = score_run(read_events(run), default_policy())
    assert STOPPED in score.incomplete
    score.findings.append(Finding("REACT-02", 1.0, Kind.CRITICAL, -30, "too slow"))
    text = format_score(score)
    assert "REACT-02" in text and "[critical]" in text and "overrides" not in text, text


def test_speech_is_off_is_said_once_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #8: with no espeak-ng, "speech is off" is said once, before the run (a live one:
    before GO), not after it or its Ctrl-C, in the middle of the run's output."""
    import range.cli.util as cliutil
    import range.voice.speak as speak

    def missing() -> str:
        raise speak.SpeechUnavailableError("espeak-ng is not installed")

    said: list[str] = []
    say = cliutil.say

    def heard(line: str) -> None:
        said.append(line)
        say(line)

    monkeypatch.setattr(speak, "espeak_path", missing)
    monkeypatch.setattr(cliutil, "say", heard)
    frame = Session._simulated_frame
    before_the_run: list[str] = []

    def first_frame(self: Session, *args: Any, **kwargs: Any) -> Any:
        if not before_the_run:
            before_the_run.extend(said or ["(nothing)"])
        return frame(self, *args, **kwargs)

    monkeypatch.setattr(Session, "_simulated_frame", first_frame)
    _ctrl_c_in(monkeypatch, Session, "_simulated_frame", 120)
    runs = tmp_path / "runs"
    argv = ["drill", "run", "knife-approach-v1", "--seed", "1", "--runs-dir", str(runs)]
    assert main([*argv, "--sound", "wav", "--progress", "never"]) == 130
    assert [line for line in before_the_run if "speech is off" in line], before_the_run
    assert len([line for line in said if "speech is off" in line]) == 1, said
    capsys.readouterr()


def test_a_ctrl_c_while_the_finished_command_exits_is_ignored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #8: `report RUN` wrote its page and said its path, and a Ctrl-C during the
    interpreter's shutdown killed it by SIGINT with no word (exit -2). The command line's own
    `main()` ignores SIGINT once the command is done (Python leaves an ignored signal ignored
    through its shutdown); a caller's `main(argv)` keeps its handler."""
    import sys

    before = signal.getsignal(signal.SIGINT)
    try:
        assert main(["drill", "list"]) == 0
        assert signal.getsignal(signal.SIGINT) is before
        monkeypatch.setattr(sys, "argv", ["openrange", "drill", "list"])
        assert main() == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
    capsys.readouterr()


def test_latency_on_a_never_calibrated_emulated_device_says_how_with_emulate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc16 #8: `calibrate latency --emulate` on a device with no profile names the boresight
    that makes one as it was asked: with --emulate."""
    argv = ["calibrate", "latency", "--device", "NEWDEV", "--emulate", "--profiles", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "calibrate boresight --device NEWDEV --emulate --model MODEL --armorer NAME" in err, err
