"""The armorer's calibration: the solver finds a hidden mount, and refuses bad sessions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from peripherals.emulator import PistolEmulator
from range.calibration.bench import BenchEmulator
from range.calibration.profiles import check_devices, load_profile, new_profile, save_profile
from range.calibration.solver import CalibrationError, angle_mrad, estimate_latency, solve_boresight
from range.clock import MonotonicClock


def test_the_solver_recovers_a_hidden_mount_offset() -> None:
    bench = BenchEmulator(np.random.default_rng(1))
    bore = solve_boresight(bench.session())
    assert angle_mrad(bore.direction, bench.direction) < 1.0
    # The muzzle along the bore is where the line passes nearest the tracker; compare the line.
    offset = np.asarray(bore.origin_m) - bench.origin_m
    across = offset - (offset @ bench.direction) * bench.direction
    assert np.linalg.norm(across) < 0.003  # metres off the true bore line
    assert bore.residual_mrad < 1.0 and bore.used == 8
    assert bore.residual_in_at_7yd == pytest.approx(bore.residual_in_at_21ft)


def test_a_jerked_trigger_is_rejected_as_an_outlier() -> None:
    bench = BenchEmulator(np.random.default_rng(2))
    bore = solve_boresight(bench.session(jerks={5: 25.0}))
    assert bore.rejected == (5,) and bore.used == 7
    assert angle_mrad(bore.direction, bench.direction) < 1.0


def test_a_bad_session_is_refused_with_a_reason() -> None:
    bench = BenchEmulator(np.random.default_rng(3))
    with pytest.raises(CalibrationError, match="at least 4"):
        solve_boresight(bench.session()[:3])
    near = [bench.aim((3.0, y, z)) for y, z in ((-0.3, 1.2), (0.3, 1.2), (0, 1.6), (0.2, 1.4))]
    with pytest.raises(CalibrationError, match="two distances"):
        solve_boresight(near)
    noisy = BenchEmulator(np.random.default_rng(4), aim_noise_mrad=6.0)
    with pytest.raises(CalibrationError, match="over the 2 mrad tolerance"):
        solve_boresight(noisy.session())


def test_latency_between_trigger_and_pose_stream_is_recovered() -> None:
    bench = BenchEmulator(np.random.default_rng(5))
    triggers, poses = bench.snaps(6, latency_s=0.032)
    latency, spread = estimate_latency(triggers, poses)
    assert latency == pytest.approx(0.032, abs=0.003) and spread < 0.01


def test_profiles_gate_devices_and_overrides_are_said(tmp_path: Path) -> None:
    bore = solve_boresight(BenchEmulator(np.random.default_rng(6)).session())
    save_profile(
        tmp_path,
        new_profile("P-1", "pistol", "Sgt. Ortiz", bore, 2.0, date(2026, 11, 1), valid_days=30),
    )
    assert load_profile(tmp_path, "P-1") is not None
    ok, expired, unknown = check_devices(tmp_path, ["P-1", "P-1", "T7-9"], date(2026, 11, 21))
    assert ok.allowed and "calibrated until 2026-12-01" in ok.reason
    late = check_devices(tmp_path, ["P-1"], date(2027, 1, 5))[0]
    assert not late.allowed and "expired 2026-12-01" in late.reason
    assert not unknown.allowed and "never calibrated" in unknown.reason
    overridden = check_devices(tmp_path, ["T7-9"], date(2026, 11, 21), override_by="Lt. Hale")
    assert overridden[0].allowed and "override of Lt. Hale" in overridden[0].reason
    del expired


def test_the_armorer_s_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from range.cli.main import main

    folder = ["--profiles", str(tmp_path)]
    assert (
        main(
            [
                "calibrate",
                "boresight",
                "--device",
                "P-42",
                "--armorer",
                "Sgt. Ortiz",
                "--model",
                "pistol",
                "--emulate",
                *folder,
            ]
        )
        == 0
    )
    assert "profile saved" in capsys.readouterr().out
    assert main(["calibrate", "latency", "--device", "P-42", "--emulate", *folder]) == 0
    assert (
        main(["calibrate", "verify", "--device", "P-42", "--emulate", "--seed", "7", *folder]) == 0
    )
    assert "PASS" in capsys.readouterr().out
    profile = load_profile(tmp_path, "P-42")
    assert profile is not None and profile.armorer == "Sgt. Ortiz"
    assert profile.trigger_latency_s > 0.0
    cert = tmp_path / "p42.html"
    assert main(["calibrate", "certificate", "--device", "P-42", "--out", str(cert), *folder]) == 0
    assert "Sgt. Ortiz" in cert.read_text()


def test_a_real_replica_s_calibration_checks_the_serial_and_the_runtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The replica on --port is a real pty; the OpenXR runtime is absent on this host (it runs
    in the chroot: tests/test_xr.py calibrates against it)."""
    from range.cli.main import main

    emulator = PistolEmulator("P-44", MonotonicClock(), directory=tmp_path / "ports")
    port = emulator.start()
    emulator.run_free()
    try:
        base = ["calibrate", "boresight", "--armorer", "x", "--port", port]
        assert main([*base, "--device", "P-43", "--profiles", str(tmp_path)]) == 2
        assert "answers as pistol P-44, not P-43" in capsys.readouterr().err
        assert main([*base, "--device", "P-44", "--profiles", str(tmp_path)]) == 6
        err = capsys.readouterr().err.strip()
        assert "OpenXR runtime" in err and len(err.splitlines()) == 1
    finally:
        emulator.stop_free_running()
        emulator.stop()
    with pytest.raises(SystemExit) as refused:  # neither --port nor --emulate
        main(["calibrate", "boresight", "--device", "P-44", "--armorer", "x"])
    assert refused.value.code == 2
    assert "one of the arguments --port --emulate is required" in capsys.readouterr().err


def test_a_drill_refuses_uncalibrated_replicas_unless_overridden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from range.cli.main import main

    base = [
        "drill",
        "run",
        "phone-draw-v1",
        "--seed",
        "1",
        "--require-calibration",
        "--profiles",
        str(tmp_path),
    ]
    assert main([*base, "--no-save"]) == 7
    err = capsys.readouterr().err
    assert "refused" in err and "SIM-TASER-0001: never calibrated" in err
    assert main([*base, "--override", "Lt. Hale", "--runs-dir", str(tmp_path / "runs")]) == 0
    capsys.readouterr()
    (run_dir,) = (tmp_path / "runs").iterdir()
    started = json.loads((run_dir / "events.jsonl").read_text().splitlines()[0])
    assert started["calibration_override_by"] == "Lt. Hale"
    assert all("override of Lt. Hale" in c["reason"] for c in started["calibration"])
    bore = solve_boresight(BenchEmulator(np.random.default_rng(8)).session())
    for serial, model in (("SIM-TASER-0001", "taser-7"), ("SIM-PISTOL-0001", "pistol")):
        save_profile(tmp_path, new_profile(serial, model, "Sgt. Ortiz", bore, 2.0, date.today()))
    assert main([*base, "--no-save"]) == 0


def test_a_course_attempt_records_the_calibration_it_was_fired_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import sqlite3

    from range.cli.main import main

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    profiles = tmp_path / "profiles"
    profiles.mkdir()  # a --profiles folder must exist (tests/test_nu12d.py); this one is empty
    officer = ["--add", "4411", "--name", "J. Rivera", "--agency", "Metro PD", "--db", db]
    assert main(["records", "officers", *officer]) == 0
    run = [
        "course",
        "run",
        "taser7-practical-v1",
        "--badge",
        "4411",
        "--db",
        db,
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    run += ["--require-calibration", "--profiles", str(profiles), "--json"]
    capsys.readouterr()
    assert main(run) == 7
    # The TASER course fires only the TASER: its calibration alone is asked for and kept.
    assert "SIM-TASER-0001: never calibrated" in capsys.readouterr().err
    bore = solve_boresight(BenchEmulator(np.random.default_rng(8)).session())
    for serial, model in (("SIM-TASER-0001", "taser-7"),):
        save_profile(profiles, new_profile(serial, model, "Sgt. Ortiz", bore, 2.0, date.today()))
    assert main(run) == 0
    attempt = json.loads(capsys.readouterr().out)
    assert main(["records", "show", str(attempt["qualification"]), "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    by_serial = {c["serial"]: c for c in shown["calibration"]}
    assert set(by_serial) == {"SIM-TASER-0001"}
    for entry in by_serial.values():
        assert entry["reason"].startswith("calibrated until")
        assert entry["profile"]["armorer"] == "Sgt. Ortiz"
        assert entry["profile"]["residual_mrad"] == pytest.approx(bore.residual_mrad, abs=1e-4)
    assert main(["records", "show", str(attempt["qualification"]), "--db", db]) == 0
    assert "device SIM-TASER-0001: calibrated until" in capsys.readouterr().out
    # The calibration is part of the hashed record: editing it breaks the chain.
    assert main(["records", "verify", "--db", db]) == 0
    with sqlite3.connect(tmp_path / "records.sqlite") as edit:
        edit.execute("UPDATE qualifications SET calibration = '[]'")
    assert main(["records", "verify", "--db", db]) != 0
