"""A live drill: replicas on real ptys running free on the real clock, read by the live lane, a
pose source the test drives, the engine stepping at its fixed rate on the real clock; each
trigger event resolved at its own host time on the pose history (range/runs/drill.py, live
mode). tests/test_xr_course.py drives a course the same way from a real OpenXR runtime."""

from __future__ import annotations

import _thread
import hashlib
import itertools
import json
import math
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from drill_text import TASER_ENDS_IT
from xr_sandbox import IDENTITY_BORE, EmulatedReplicas, save_calibrated_profiles

from drills.engine import RunState
from drills.officer import find_officer
from drills.schema import parse_drill_bytes
from physics.body import Region, SubjectBody
from physics.pose import Pose, look_rotation
from physics.units import FT_M
from range.calibration.solver import CalibrationError
from range.cli.main import main
from range.clock import MonotonicClock
from range.runs.drill import STOPPED, LiveDrill, RunConfig, RunResult, Session
from range.runs.poses import TrackedPoses

SUBJECT_FT = 8.0
MUZZLE_M = (0.0, 0.0, 1.4)
SWAY_RAD = 0.004  # the officer's bore sways sideways by this much, once a second

LIVE_DRILL = f"""\
id = "live-taser-v1"
version = 1
title = "Live TASER check"
rationale = "A subject with a knife holds still; the officer deploys the TASER."
expected_response = "Deploy the TASER to the upper chest."
time_limit_s = 8.0

[scene]
lane_length_ft = 40.0
lighting = "day"

[[subjects]]
id = "subject"
start_distance_ft = {SUBJECT_FT}
held_object = "knife"
start_phase = "standoff"

{TASER_ENDS_IT}""".encode()


def _aim() -> np.ndarray:
    """From the muzzle to 10 cm above the subject's upper chest, facing the officer (yaw pi):
    at 8 ft both TASER 7 CQ probes land and spread for every sway of the bore and every physics
    seed tried (21 x 21), so the drill ends in custody rather than by chance."""
    lx, ly, lz = SubjectBody().aim_point(Region.UPPER_CHEST)
    direction: np.ndarray = np.subtract((SUBJECT_FT * FT_M - lx, -ly, lz + 0.1), MUZZLE_M)
    return direction


@dataclass
class Swaying:
    """The test's pose source: the bore on the subject's upper chest, swaying sideways with
    time, so a pose taken at the wrong time is told apart from the right one."""

    clock: MonotonicClock
    aim: np.ndarray = field(default_factory=_aim)
    opened: int = 0

    def orientation(self, t: float) -> tuple[float, float, float, float]:
        yaw = SWAY_RAD * math.sin(2 * math.pi * t)
        c, s = math.cos(yaw), math.sin(yaw)
        x, y, z = self.aim
        return look_rotation((c * x - s * y, s * x + c * y, z))

    def pose(self, device: str, t: float) -> Pose:
        if device == "head":
            return Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, 0.0)), t)
        return Pose(MUZZLE_M, self.orientation(t), t)

    def update(self) -> dict[str, Pose]:
        now = self.clock.now_s()
        return {"aim": self.pose("weapon", now), "head": self.pose("head", now)}


class Officer(EmulatedReplicas):
    """The officer's hand on the lane's replicas (tests/xr_sandbox.py `EmulatedReplicas`: an
    emulated TASER 7 and pistol on real ptys, running free on the real clock): draw the TASER,
    take the safety off, press the trigger once."""

    def __init__(self, clock: MonotonicClock, folder: Path) -> None:
        super().__init__(clock, folder)
        self.clock: MonotonicClock = clock
        self.pressed_at: float | None = None
        self.go = threading.Event()  # the drill's clock started

    def act(self) -> None:
        self.go.wait(timeout=30)
        time.sleep(0.3)
        self.taser.draw()
        self.taser.set_safety(False)
        time.sleep(0.4)
        self.pressed_at = self.clock.now_s()
        self.taser.press_trigger()
        time.sleep(0.05)
        self.taser.release_trigger()


@pytest.fixture
def officer(tmp_path: Path) -> Iterator[Officer]:
    hands = Officer(MonotonicClock(), tmp_path / "ports")
    try:
        yield hands
    finally:
        hands.stop()


def _profile(folder: Path, serial: str) -> None:
    """A valid profile for one replica whose tracker is its bore (Swaying gives the muzzle)."""
    save_calibrated_profiles(folder, IDENTITY_BORE, only=serial)


def _live_run(
    officer: Officer,
    source: Swaying,
    tmp_path: Path,
    act: Callable[[], None] | None = None,
    focused: Callable[[], bool] | None = None,
    said: list[str] | None = None,
    **calibration: object,
) -> tuple[RunResult, Session]:
    drill = parse_drill_bytes(LIVE_DRILL, tmp_path / "live-taser-v1.toml")

    def open_poses(stack: ExitStack) -> TrackedPoses:
        source.opened += 1
        return source

    officer.go.clear()
    live = LiveDrill(
        officer.ports,
        open_poses,
        officer.clock,
        search=[officer.folder],
        focused=focused,
        on_start=officer.go.set,
        say=None if said is None else said.append,
    )
    config = RunConfig(
        drill,
        find_officer("taser-first-v1"),
        7,
        runs_dir=tmp_path / "runs",
        officer_name="Ofc. Rivera #4411",
        live=live,
        **calibration,  # type: ignore[arg-type]
    )
    session = Session(config)
    hand = threading.Thread(target=act or officer.act)
    hand.start()
    try:
        return session.run(), session
    finally:
        hand.join(timeout=10)


def test_a_live_drill_flies_the_deployment_from_the_pose_at_the_trigger_s_own_time(
    officer: Officer, tmp_path: Path
) -> None:
    source = Swaying(officer.clock)
    result, session = _live_run(officer, source, tmp_path, override_by="Lt. Hale")
    assert result.state is RunState.COMPLETED
    assert result.end_reason == "subject reached in_custody"
    kinds = [r.kind for r in result.records]
    fired = next(
        r
        for r in result.records
        if r.kind == "officer_action" and r.data["action"] == "taser_fired"
    )
    probes = next(
        r
        for r in result.records
        if r.kind == "device_event" and r.data["event"] == "probes_fired" and r.data["probe"] == 0
    )
    host_s = probes.data["host_time_s"]
    # The log's time is run time: host time less the moment the run started.
    assert fired.t == pytest.approx(host_s - session.offset_s, abs=2e-6)
    assert officer.pressed_at is not None and abs(host_s - officer.pressed_at) < 0.05
    # The bore at the trigger's own host time, not at the frame that read the event.
    assert fired.data["muzzle"]["orientation"] == pytest.approx(
        source.orientation(host_s), abs=2e-8
    )
    assert fired.data["muzzle"]["tracked"] is True
    # Aimed at whom the tracked bore covered at the trigger's time (as `weapon_pointed` names
    # it), so the force used is judged as in a simulated run: no CEW warning was given.
    assert fired.data["subject"] == "subject"
    assert "CEW-02" in {f.rule for f in result.score.findings}
    # No microphone was given to this run: the log says the officer could not be heard, so
    # the missing warning is information, not points (nu20 #1).
    assert result.records[0].data["officer_unheard"] == (
        "audio is off: no microphone was opened for this run"
    )
    assert all(
        f.points == 0 for f in result.score.findings if f.rule.startswith(("VERBAL", "CEW-02"))
    )
    assert any("could not be heard" in line for line in result.score.not_judged)
    # Written in time order (scoring and replay read it so), though the pull was taken once the
    # pose stream covered it and the drawn TASER's events were read after the engine stepped.
    assert result.run_dir is not None
    written = [json.loads(line) for line in (result.run_dir / "events.jsonl").open()]
    assert [r["t"] for r in written] == sorted(r["t"] for r in written)
    assert written == [r.as_json() for r in result.records]
    impacts = next(r for r in result.records if r.kind == "probe_impacts")
    assert impacts.data["subject"] == "subject" and impacts.data["effect"] == "full_incapacitation"
    # rc16 #7: the bore covered the subject from the draw on, and a weapon is pointed no
    # sooner than it is drawn: the pointing cast is logged at its frame's time, never before
    # the draw event's own time (the frame read that event after its own time was taken).
    actions = [r.data.get("action") for r in result.records]
    drawn = result.records[actions.index("taser_drawn")]
    pointed = result.records[actions.index("weapon_pointed")]
    assert pointed.t >= drawn.t and actions.index("weapon_pointed") > actions.index("taser_drawn")
    # One pull: one `taser_fired`, and one `probes_fired` per probe that left the cartridge
    # (the protocol's EVENT is per probe, docs/protocol.md; the TASER 7 fires two a pull).
    probe_events = [
        (r.data["bay"], r.data["probe"])
        for r in result.records
        if r.kind == "device_event" and r.data["event"] == "probes_fired"
    ]
    assert probe_events == [(0, 0), (0, 1)] and actions.count("taser_fired") == 1
    assert kinds.index("probe_impacts") < kinds.index("run_ended")
    # Real time: the drill ran about as long as its clock says (1 s custody after the probes).
    assert 1.0 < result.duration_s < 3.0
    started = result.records[0].data
    assert started["officer"] == "live" and started["officer_name"] == "Ofc. Rivera #4411"
    assert {d["serial"] for d in started["devices"]} == {"T7-0007", "P-0042"}
    assert all("override of Lt. Hale" in c["reason"] for c in started["calibration"])
    assert result.run_dir is not None and (result.run_dir / "events.jsonl").is_file()
    # The engine stepped at its fixed rate on the real clock, not once a frame.
    assert session.engine.steps == pytest.approx(result.duration_s / result.config.dt_s, abs=2)


def test_require_calibration_passes_a_calibrated_lane_and_refuses_an_uncalibrated_replica(
    officer: Officer, tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles"
    _profile(profiles, "T7-0007")
    refused = Swaying(officer.clock)
    with pytest.raises(CalibrationError, match="P-0042: never calibrated") as error:
        # No hand acts in a run refused before GO (one waiting for GO held the test 10 s).
        _live_run(
            officer,
            refused,
            tmp_path,
            act=lambda: None,
            require_calibration=True,
            calibration_dir=profiles,
        )
    assert "T7-0007" not in str(error.value)
    assert refused.opened == 0, "the headset is not asked for before the replicas pass"
    assert not (tmp_path / "runs").exists(), "a refused lane leaves no run behind"

    _profile(profiles, "P-0042")
    source = Swaying(officer.clock)
    result, _ = _live_run(
        officer, source, tmp_path, require_calibration=True, calibration_dir=profiles
    )
    assert result.state is RunState.COMPLETED
    checks = result.records[0].data["calibration"]
    assert all(c["allowed"] and c["profile"]["armorer"] == "Sgt. Ortiz" for c in checks)


def test_drill_run_live_on_the_command_line_refuses_an_uncalibrated_replica_by_serial(
    officer: Officer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = tmp_path / "profiles"
    _profile(profiles, "T7-0007")
    args = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411"]
    for port in officer.ports:
        args += ["--port", port]
    status = main([*args, "--require-calibration", "--profiles", str(profiles), "--no-save"])
    err = capsys.readouterr().err
    assert status != 0 and "P-0042: never calibrated" in err and "Traceback" not in err


def test_a_lane_file_names_the_ports_and_the_calibration_gate_once(
    officer: Officer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _profile(tmp_path / "profiles", "P-0042")
    lane = tmp_path / "lane3.toml"
    lane.write_text(
        f'version = 1\nname = "Lane 3"\nports = {officer.ports!r}\n'.replace("'", '"')
        + 'hand = "left"\n[calibration]\nrequired = true\nprofiles = "profiles"\n'
    )
    args = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411", "--no-save"]
    assert main([*args, "--lane", str(lane)]) != 0
    err = capsys.readouterr().err
    # The file's relative profile folder was used: the pistol passed, the TASER was refused.
    assert "T7-0007: never calibrated" in err and "P-0042" not in err


def test_a_bad_lane_file_is_named_by_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lane = tmp_path / "lane3.toml"
    lane.write_text('version = 1\nname = "Lane 3"\nports = ["/dev/ttyACM0"]\nhand = "elbow"\n')
    args = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411", "--no-save"]
    assert main([*args, "--lane", str(lane)]) == 2
    err = capsys.readouterr().err
    assert f"{lane}:4" in err and "hand" in err and "Traceback" not in err


def test_a_pulled_cable_suspends_the_live_drill_and_its_clock_until_the_replica_is_back(
    officer: Officer, tmp_path: Path
) -> None:
    """The one fault policy, live: the pistol's cable comes out before the TASER is fired; the
    drill suspends with its clock frozen, finds the pistol again by serial number on its new
    port, resumes, and the deployment still flies."""
    out_s = 0.6

    def act() -> None:
        officer.go.wait(timeout=30)
        time.sleep(0.2)
        officer.pistol.unplug()
        time.sleep(out_s)
        officer.pistol.replug()
        officer.act()

    started = time.monotonic()
    said: list[str] = []
    result, _ = _live_run(
        officer, Swaying(officer.clock), tmp_path, act, said=said, override_by="Lt. Hale"
    )
    wall_s = time.monotonic() - started
    kinds = [r.kind for r in result.records]
    assert (
        kinds.index("run_suspended") < kinds.index("device_reattached") < kinds.index("run_resumed")
    )
    suspended = next(r for r in result.records if r.kind == "run_suspended")
    assert "P-0042" in suspended.data["reason"]
    back = next(r for r in result.records if r.kind == "device_reattached")
    assert back.data == {"serial": "P-0042", "weapon": "firearm"}
    assert result.end_reason == "subject reached in_custody"
    # The drill's clock stood still while the cable was out.
    assert result.duration_s < wall_s - out_s + 0.3
    # The range master was told, once each, as it happened.
    assert said == [
        f"suspended at {suspended.t:.2f} s: no answer from firearm P-0042",
        f"resumed at {suspended.t:.2f} s",
    ]


def test_taking_the_headset_off_suspends_the_live_drill(officer: Officer, tmp_path: Path) -> None:
    off = (0.1, 0.6)  # seconds of real time after GO: the TASER is drawn meanwhile
    go_at: list[float] = []

    def focused() -> bool:
        if not officer.go.is_set():
            return True
        if not go_at:
            go_at.append(time.monotonic())
        return not off[0] <= time.monotonic() - go_at[0] <= off[1]

    said: list[str] = []
    result, _ = _live_run(
        officer, Swaying(officer.clock), tmp_path, None, focused, said, override_by="x"
    )
    suspended = next(r for r in result.records if r.kind == "run_suspended")
    assert "headset is off" in suspended.data["reason"]
    assert said == [
        f"suspended at {suspended.t:.2f} s: the headset is off (the OpenXR session is not focused)",
        f"resumed at {suspended.t:.2f} s",
    ]
    resumed = next(r for r in result.records if r.kind == "run_resumed")
    # Frozen: the drill's clock did not move while the headset was off.
    assert resumed.t - suspended.t < 0.05
    fired = next(r for r in result.records if r.kind == "probe_impacts")
    assert fired.t > resumed.t


def test_a_weapon_drawn_before_go_is_logged_at_the_start(officer: Officer, tmp_path: Path) -> None:
    def act() -> None:
        officer.taser.draw()  # the officer already holds the TASER when the drill starts
        officer.act()

    result, _ = _live_run(officer, Swaying(officer.clock), tmp_path, act, override_by="x")
    drawn = next(
        r
        for r in result.records
        if r.kind == "officer_action" and r.data["action"] == "taser_drawn"
    )
    assert drawn.t == 0.0
    assert all(r.t >= 0.0 for r in result.records)
    assert result.end_reason == "subject reached in_custody"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--mirror"], "--mirror and --headless are for a live drill"),
        (["--headless"], "--mirror and --headless are for a live drill"),
        (["--live", "--port", "/dev/tty", "--headless", "--mirror"], "leave out --headless"),
    ],
)
def test_headset_options_out_of_place_are_one_named_line(
    extra: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["drill", "run", "knife-approach-v1", "--officer", "4411", *extra, "--no-save"])
    err = capsys.readouterr().err
    assert status != 0 and named in err and "Traceback" not in err


LIVE_VOICE_DRILL = b"""\
id = "live-voice-v1"
version = 1
title = "Live voice check"
rationale = "A subject with a knife holds still until told to drop it."
expected_response = "Tell him to drop the knife."
time_limit_s = 8.0

[[subjects]]
id = "subject"
start_distance_ft = 20.0
held_object = "knife"
start_phase = "standoff"

[[phases]]
id = "standoff"
subject = "subject"
behaviour = "passive_resistance"
[[phases.transitions]]
to = "drops"
on = "speech:command.drop_weapon"

[[phases]]
id = "drops"
subject = "subject"
behaviour = "surrendered"
held_object = "none"
ends_drill = true
"""


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")
def test_a_live_drill_hears_the_officer_through_the_same_listener(
    officer: Officer, tmp_path: Path
) -> None:
    """A recording played at its own pace stands in for the microphone (the same LiveVoice
    path): the words are heard on the worker thread, stamped on the run clock, branch the
    drill, and everything the stream gave is kept in the run folder."""
    from range.runs.voice import VOICE_FILE, paced_blocks
    from range.voice.audio import read_wav
    from range.voice.corpus import speech_16k

    said = speech_16k("drop the knife", "en-us", 140)
    track = np.zeros(4 * 16_000)
    track[8_000 : 8_000 + len(said)] = said / np.max(np.abs(said)) * 0.25
    track += np.random.default_rng(0).normal(0.0, 0.002, len(track))
    pcm = np.asarray(np.clip(track, -1, 1) * 32767, dtype=np.int16)
    source = Swaying(officer.clock)
    live = LiveDrill(
        officer.ports,
        lambda stack: source,
        officer.clock,
        search=[officer.folder],
        on_start=officer.go.set,
        voice=lambda: paced_blocks(pcm),
    )
    drill = parse_drill_bytes(LIVE_VOICE_DRILL, tmp_path / "live-voice-v1.toml")
    config = RunConfig(
        drill, None, 7, runs_dir=tmp_path / "runs", live=live, override_by="Lt. Hale"
    )
    result = Session(config).run()
    assert result.end_reason == "subject reached drops"
    spoke = [r for r in result.records if r.kind == "officer_spoke"]
    assert [(r.data["act"], r.data["text"]) for r in spoke] == [
        ("command.drop_weapon", "drop the knife")
    ]
    heard = spoke[0]
    # The words start 0.5 s into the stream, which starts with the run's clock.
    assert heard.data["start_s"] == pytest.approx(0.5, abs=0.2)
    assert heard.data["start_s"] < heard.data["end_s"] < heard.t < heard.data["end_s"] + 1.5
    assert -32.0 < heard.data["loudness_dbfs"] < -26.0
    assert heard.data["clip"] == VOICE_FILE
    assert result.duration_s < 4.0
    assert result.run_dir is not None and result.records[0].data["voice_file"] == VOICE_FILE
    kept = result.run_dir / VOICE_FILE
    assert result.voice_sha256 == hashlib.sha256(kept.read_bytes()).hexdigest()
    # What the microphone gave up to the run's end, the words included.
    assert heard.data["end_s"] * 16_000 < len(read_wav(kept)) <= len(pcm)
    assert all(t.name != "officer-voice" for t in threading.enumerate())  # joined


def test_ctrl_c_closes_a_live_drill_as_stopped_by_the_range_master(
    officer: Officer, tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT: KeyboardInterrupt in the run's thread) mid-drill: the run is closed where
    it stood, `run_ended` with the reason and result.json, not left without an end."""

    def act() -> None:
        officer.go.wait(timeout=30)
        time.sleep(0.3)
        _thread.interrupt_main()

    result, _ = _live_run(officer, Swaying(officer.clock), tmp_path, act, override_by="x")
    assert result.state is RunState.ABORTED and result.end_reason == STOPPED
    assert result.records[-1].kind == "run_ended"
    assert result.records[-1].data == {"state": "aborted", "reason": STOPPED}
    assert result.run_dir is not None
    kept = json.loads((result.run_dir / "result.json").read_text())
    assert kept["state"] == "aborted" and kept["end_reason"] == STOPPED
    last = (result.run_dir / "events.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["kind"] == "run_ended"


def test_a_live_run_is_gated_so_a_range_master_override_is_taken_and_checked_before_openxr(
    officer: Officer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rc16 #1: a live drill or course refuses an uncalibrated replica and says a range master
    may override; `--override NAME` (no --require-calibration) is then taken, not refused as
    "nothing to override". A live course, as a live drill, refuses the replica before it
    looks for an OpenXR runtime (here: none, so getting that far shows the gate was passed)."""
    monkeypatch.setenv("XR_RUNTIME_JSON", str(tmp_path / "no-runtime.json"))
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    ports: list[str] = []
    for port in officer.ports:
        ports += ["--port", port]
    where = ["--profiles", str(profiles), "--no-save", "--headless"]
    drill = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411", *ports, *where]
    course = ["course", "run", "taser7-practical-v1", *ports, *where]
    for args in (drill, course):
        assert main(args) == 7
        err = capsys.readouterr().err
        assert "never calibrated" in err and "range master override" in err, err
        assert "OpenXR" not in err, err
        assert main([*args, "--override", "Sgt O"]) != 0
        err = capsys.readouterr().err
        assert "nothing to override" not in err and "never calibrated" not in err, err
        assert "no OpenXR runtime" in err and "Traceback" not in err, err


def test_a_replica_event_read_late_keeps_the_rest_of_the_log_in_order(
    officer: Officer, tmp_path: Path
) -> None:
    # A host loaded by other work reads a replica's events later than EVENT_READ_LAG_S after
    # their own time (seen here at load 8: 0.711111 written before 0.710547). Here every event
    # reaches the run 60 ms after its time, as a starved reader thread would hand it over:
    # after the first late read (the draw, 0.3 s, with no record in the 60 ms after it) the
    # run waits as long before writing, so the trigger's events later come in order (before,
    # the cartridge's last event was written after the phase it caused, 4 ms later).
    from peripherals.events import PeripheralEvent

    late: list[PeripheralEvent] = []
    clock = officer.clock

    def on_frame(session: Session) -> None:
        lane = session.lane
        if getattr(lane, "_late_wrapped", False):
            return
        poll = lane.poll

        def late_poll() -> list[PeripheralEvent]:
            late.extend(poll())
            now = clock.now_s()
            due = [e for e in late if e.host_time_s <= now - 0.06]
            late[:] = [e for e in late if e.host_time_s > now - 0.06]
            return due

        lane.poll = late_poll  # type: ignore[method-assign]
        lane._late_wrapped = True  # type: ignore[union-attr]

    result, _ = _live_run(
        officer, Swaying(officer.clock), tmp_path, override_by="Lt. Hale", on_frame=on_frame
    )
    assert result.state is RunState.COMPLETED
    assert result.run_dir is not None
    written = [json.loads(line)["t"] for line in (result.run_dir / "events.jsonl").open()]
    device = sum(1 for r in result.records if r.kind == "device_event")
    assert device >= 4
    back = sum(1 for a, b in itertools.pairwise(written) if b < a)
    assert back == 0, (back, device)
