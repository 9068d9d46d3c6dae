"""Issue 16, new user nu16: courses, replays and calibration (items 2, 3, 5, 6b, 11, 14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drills.course import find_course, find_shooter
from range.cli.main import main
from range.records.store import Records
from range.runs.course import CourseConfig, run_course

# -- item 2: a resume keeps every string finished before the crash ------------------------------


class _CrashError(Exception):
    """The power goes: raised out of the runner once the records hold what it had kept."""


def test_a_resume_keeps_a_string_finished_before_the_crash_and_reshoots_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu16 #2: the crash comes after a string was fired whole (all its shots) and before the
    next string's first shot. The resume keeps that string (it ended) and reshoots nothing; it
    took the last string with a shot as the one the crash cut, and voided its hits."""
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    record_shot = Records.record_shot
    ends = 0

    def record_then_crash(self: Records, attempt: int, shot: dict[str, Any]) -> None:
        nonlocal ends
        record_shot(self, attempt, shot)
        ends += shot.get("kind") == "string_ended"
        if ends == 3:
            raise _CrashError

    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        monkeypatch.setattr(Records, "record_shot", record_then_crash)
        config = CourseConfig(find_course("fbi-pistol-2019-v1"), find_shooter("expert"), 3)
        with pytest.raises(_CrashError):
            run_course(config, records=records, badge="4411")
        monkeypatch.setattr(Records, "record_shot", record_shot)
        ((listed),) = records.incomplete()
    argv = ["course", "run", "fbi-pistol-2019-v1", "--badge", "4411", "--db", db]
    argv += ["--resume", str(listed["id"]), "--runs-dir", str(tmp_path / "runs"), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reshot"] == [] and result["score"]["complete"]
    assert main(["records", "show", str(result["qualification"]), "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert not [line for line in shown["sheet"] if line["note"].startswith("string cut")]
    assert sum(line["points"] for line in shown["sheet"]) == shown["points"]


def test_a_string_left_by_a_second_fault_is_fired_again_not_called_cut_by_the_crash() -> None:
    """The crash came after string (0, 1) ended; string (0, 0) had been left for a reshoot by a
    second device fault. The resume keeps (0, 1), fires (0, 0) again and cuts nothing."""
    from range.runs.course import AttemptResult, _resumed

    shot = {"kind": "shot", "t_s": 1.0, "zone": "5", "points": 5}
    kept = [
        shot | {"stage": 0, "string": 0},
        {"kind": "string_faulted", "stage": 0, "string": 0, "reshoot": False},
        shot | {"stage": 0, "string": 1},
        {"kind": "string_ended", "stage": 0, "string": 1},
    ]
    result = AttemptResult.__new__(AttemptResult)
    result.shots, result.deployments = [], []
    done, cut = _resumed([(0, 0), (0, 1), (0, 2)], kept, result)
    assert (done, cut) == ({(0, 1)}, None)
    assert [(s.stage, s.string) for s in result.shots] == [(0, 1)]


# -- item 3: a bystander between the officer and the subject sees someone, not the floor -------


@pytest.fixture(scope="module")
def bystander_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """two-subjects-bystander-v1, seed 2 (nu16's), run once for the replay tests."""
    runs = tmp_path_factory.mktemp("runs")
    argv = ["drill", "run", "two-subjects-bystander-v1", "--seed", "2", "--runs-dir", str(runs)]
    assert main(argv) == 0
    (run_dir,) = runs.iterdir()
    return run_dir


def test_a_bystander_between_the_officer_and_the_subject_sees_a_person(
    bystander_run: Path, tmp_path: Path
) -> None:
    """nu16 #3: two-subjects-bystander-v1's bystander stands almost on the line from the
    officer to the subject, so "the middle of the encounter" was under its own eyes: every frame
    was floor. It looks at the nearest of them instead (never steeper than a natural gaze)."""
    import math

    import matplotlib.image

    from range.review.replay import BYSTANDER_MAX_PITCH_DEG, Viewpoint
    from range.runs.runlog import read_events
    from range.runs.saved import saved_drill

    run_dir = bystander_run
    records = read_events(run_dir)
    drill = saved_drill(run_dir, records[0].data)
    view = Viewpoint.parse("bystander", drill)
    for t in (0.0, max(r.t for r in records)):
        down = -float(view.eye(records, drill, t).forward()[2])
        assert down <= math.sin(math.radians(BYSTANDER_MAX_PITCH_DEG)) + 1e-9
    out = tmp_path / "png"
    argv = ["replay", str(run_dir), "--as", "bystander", "--png", str(out)]
    assert main([*argv, "--every", "100", "--size", "320x180"]) == 0
    frames = sorted(out.glob("frame_*.png"))
    assert frames
    for frame in frames:
        image = (matplotlib.image.imread(frame)[..., :3] * 255).astype(int)
        officer_px = ((image.max(axis=2) < 70) & (image[..., 2] >= image[..., 0])).sum()
        subject_px = (image[..., 2] > image[..., 0] + 50).sum()
        assert officer_px + subject_px > 200, f"{frame.name}: no person in view, only floor"


# -- item 5: a picture larger than the GL renders is refused in one line ------------------------


def test_a_replay_size_beyond_the_gl_limit_is_refused_naming_the_limit(
    bystander_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu16 #5: `--size 20000x20000` crashed in moderngl (framebuffer not complete, exit 70).
    Beyond the pixel bound it is refused as the option is read; a side beyond the context's
    GL_MAX_RENDERBUFFER_SIZE (16384 with Mesa) once the context is open, before a frame or the
    folder is written."""
    out = tmp_path / "png"
    argv = ["replay", str(bystander_run), "--png", str(out), "--as", "bystander"]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--size", "20000x20000"])
    assert exited.value.code == 2
    assert "at most 67,108,864 pixels a frame" in capsys.readouterr().err
    assert main([*argv, "--size", "40000x100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--size 40000x100: this OpenGL renders at most" in err and "GL_MAX_" in err
    assert not out.exists()


# -- item 11: emulated replicas and the calibration gate ----------------------------------------


def test_an_emulated_replica_is_told_to_take_an_emulator_profile_and_gets_its_own_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu16 #11: the refusal for a simulated drill's SIM-TASER-0001 named only `calibrate
    boresight`; `calibrate boresight --emulate --device SIM-TASER-0001` assumed a pistol, so the
    next gated run refused the profile by model. Now the hint says `--emulate` and the profile
    is the simulated TASER's model, so the gated run passes."""
    from range.calibration.profiles import load_profile

    profiles = ["--profiles", str(tmp_path)]
    gated = ["drill", "run", "knife-approach-v1", "--seed", "7", "--require-calibration"]
    assert main([*gated, *profiles, "--no-save"]) == 7
    err = capsys.readouterr().err
    assert (
        "SIM-TASER-0001: never calibrated: calibrate it (`openrange calibrate boresight"
        " --device SIM-TASER-0001 --emulate --model taser-7 --armorer NAME`" in err
    )
    bore = ["calibrate", "boresight", "--device", "SIM-TASER-0001", "--armorer", "Sgt. Ortiz"]
    assert main([*bore, "--emulate", *profiles]) == 0
    assert "model taser-7" in capsys.readouterr().err
    profile = load_profile(tmp_path, "SIM-TASER-0001")
    assert profile is not None and profile.model == "taser-7" and profile.emulated
    bore[3] = "SIM-PISTOL-0001"
    assert main([*bore, "--emulate", "--model", "taser-7", *profiles]) == 2
    assert "a simulated pistol" in capsys.readouterr().err
    assert main([*bore, "--emulate", *profiles]) == 0
    assert main([*gated, *profiles, "--no-save"]) == 0


def test_an_override_with_no_calibration_gate_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["drill", "run", "knife-approach-v1", "--seed", "7", "--no-save", "--override", "Lt. H"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--override Lt. H: no calibration is required" in err and "--require-calibration" in err


# -- item 6b: an emulator's cable pulled and plugged back, or the emulator restarted ------------


def _until(check: Callable[[], bool], limit_s: float) -> bool:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_an_emulators_cable_pulled_comes_back_and_a_restarted_one_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nu16 #6b: `peripherals emulate` offered only Ctrl-C, which powers the emulator off: one
    started again with the serial is a new replica (a new session), refused, and the drill said
    only "did not come back within 10 s". `--unplug-at`/`--replug-after` pull its cable and
    plug it back on a new pty with its session, and a live lane takes it back; a restarted one
    is refused, and the fault policy says why."""
    from peripherals.emulator import PistolEmulator
    from peripherals.ports import default_emulator_dir
    from range.clock import MonotonicClock
    from range.runs.core import FaultPolicy
    from range.runs.lane import LiveLane

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    argv = ["peripherals", "emulate", "pistol", "--serial", "EMU-P-16", "--duration", "4"]
    argv += ["--unplug-at", "0.5", "--replug-after", "0.5"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "range", *argv], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        clock = MonotonicClock()
        lane = LiveLane(clock, [port]).open()
        try:
            (replica,) = lane.replicas
            assert _until(lambda: bool(lane.barrier()), 2.0), "the cable was never pulled"
            faults = FaultPolicy(lane, limit_s=3.0)
            assert faults.wait_back([replica]), lane.problems
            assert replica.link is not None
            again = os.path.realpath(replica.link.url)  # found through the emulators' folder
            assert proc.stdout.readline().strip() == again  # a new pty (its number may be reused)
        finally:
            lane.close()
    finally:
        proc.terminate()
        proc.wait(5)
    emulator = PistolEmulator("EMU-P-16", MonotonicClock(), directory=default_emulator_dir())
    port = emulator.start()
    emulator.run_free()
    lane = LiveLane(MonotonicClock(), [port]).open()
    try:
        (replica,) = lane.replicas
        emulator.stop()  # Ctrl-C, and the emulator started again: a new session
        emulator = PistolEmulator("EMU-P-16", MonotonicClock(), directory=default_emulator_dir())
        emulator.start()
        emulator.run_free()
        assert _until(lambda: bool(lane.barrier()), 2.0)
        faults = FaultPolicy(lane, limit_s=1.0)
        assert not faults.wait_back([replica])
        assert "serial EMU-P-16 on" in faults.refusals([replica])
        assert "does not hold the session it was attached with" in faults.refusals([replica])
    finally:
        lane.close()
        emulator.stop()


# -- item 14: the smaller things ---------------------------------------------------------------


@pytest.fixture(scope="module")
def attempt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A simulated TASER 7 practical attempt, saved (its folder) and what `course run` said."""
    runs = tmp_path_factory.mktemp("attempts")
    import contextlib
    import io

    out = io.StringIO()  # capsys is for one test: the module's attempt is captured by hand
    with contextlib.redirect_stdout(out):
        argv = ["course", "run", "taser7-practical-v1", "--seed", "1", "--runs-dir", str(runs)]
        main(argv)
    (folder,) = runs.iterdir()
    return folder, out.getvalue()


def test_course_run_says_where_the_attempt_was_saved(attempt: tuple[Path, str]) -> None:
    folder, said = attempt
    assert f"Saved: {folder}/" in said.splitlines()


def test_a_missing_course_copy_is_named_with_the_fix(
    attempt: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "attempt"
    shutil.copytree(attempt[0], copy)
    (copy / "course.toml").unlink()
    assert main(["score", str(copy)]) == 2
    err = capsys.readouterr().err
    assert f"{copy / 'course.toml'}: missing" in err and "put it back there" in err
    assert "taser7-practical-v1.toml, if it is unchanged" in err


def test_a_probe_said_connected_through_3_in_of_clothing_is_named(
    attempt: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "attempt"
    shutil.copytree(attempt[0], copy)
    log = copy / "events.jsonl"
    lines = log.read_text().splitlines()
    at = next(
        n for n, line in enumerate(lines) if '"deployment"' in line and '"impacts": [{' in line
    )
    record = json.loads(lines[at])
    record["impacts"][0] |= {"connected": True, "clothing_gap_in": 3.0}
    lines[at] = json.dumps(record)
    log.write_text("\n".join(lines) + "\n")
    assert main(["score", str(copy)]) == 2
    err = capsys.readouterr().err
    assert f"events.jsonl:{at + 1}: deployment.impacts[0].connected" in err, err
    assert "true contradicts clothing_gap_in 3.0" in err


def test_replay_into_a_file_says_it_is_not_a_folder(
    bystander_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "passwd"
    a_file.write_text("root:x:0:0\n")
    assert main(["replay", str(bystander_run), "--png", str(a_file)]) == 2
    assert f"--png {a_file}: not a folder" in capsys.readouterr().err


def test_the_help_examples_and_the_spread_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`drill run --help`'s live example had a run of spaces where its line was joined;
    `analyze spread --help` said nothing of the preferred column; `--plot` at one distance drew
    no median-spread mark and never the preferred series."""
    import matplotlib.pyplot as plt

    with pytest.raises(SystemExit):
        main(["drill", "run", "--help"])
    assert "/dev/ttyACM1 \\\n      --officer 4411" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["analyze", "spread", "--help"])
    assert "preferred zones (preferred:" in " ".join(capsys.readouterr().out.split())
    drawn: list[Any] = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (drawn.append(fig), close(fig)))
    argv = ["analyze", "spread", "--cartridge", "taser7-cq", "--distance", "10ft"]
    assert main([*argv, "--trials", "200", "--plot", str(tmp_path / "s.png")]) == 0
    (fig,) = drawn
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    labels = {line.get_label(): line for line in lines}
    assert "both in preferred zones" in labels
    assert labels["median spread"].get_marker() not in ("None", "", None)
    assert "facing toward" in fig.axes[0].get_title()


def test_physics_md_quotes_the_standoff_figures_the_program_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["analyze", "spread", "--cartridge", "taser7-standoff", "--distance", "7,10ft"]
    assert main([*argv, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    avoid = " / ".join(f"{100 * r['p_avoid_zone']:.1f} %" for r in rows)
    preferred = " / ".join(f"{100 * r['p_preferred']:.1f} %" for r in rows)
    text = " ".join((Path(__file__).parents[1] / "docs" / "physics.md").read_text().split())
    assert f"avoid {avoid}, preferred {preferred}" in text
