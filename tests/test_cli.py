"""The command line: help that teaches, one-line errors for missing dependencies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from range.cli.analyze import distances_ft
from range.cli.main import main

COMMANDS = ["demo", "drill", "score", "peripherals", "analyze"]
PERIPHERAL_VERBS = ["scan", "monitor", "emulate", "check"]


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"\n    {command}" in out
    assert "examples:" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) > 6
    assert "--json" in out or "examples:" in out


@pytest.mark.parametrize("verb", PERIPHERAL_VERBS)
def test_every_peripherals_verb_explains_itself(
    verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["peripherals", verb, "--help"])
    assert exit_.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 5


def test_python_dash_m_range_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "range", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("openrange ")


def test_a_broken_dependency_is_one_line_that_says_what_to_install(tmp_path: Path) -> None:
    # A real broken install: a pybullet module that fails on import, first on the path.
    (tmp_path / "pybullet.py").write_text(
        "raise ImportError('libBulletCollision.so: cannot open')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "range", "demo", "--no-save"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "pybullet" in done.stderr and "pip install pybullet" in done.stderr


def test_an_unknown_drill_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--drill", "no-such-drill-v1", "--no-save"]) == 2
    assert "knife-approach-v1" in capsys.readouterr().err


def test_emulate_scan_monitor_and_check_work_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An armorer's session with no hardware: start an emulator in another process, find it,
    watch its trigger pull, and run the conformance suite on it."""
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "range",
            "peripherals",
            "emulate",
            "taser-x2",
            "--serial",
            "X2-CLI",
            "--trigger-at",
            "1.5",
            "--duration",
            "20",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        port = emulator.stdout.readline().strip()
        assert port.startswith("/dev/pts/")
        assert main(["peripherals", "scan", "--port", port, "--json"]) == 0
        found = json.loads(capsys.readouterr().out)
        assert {"model": "taser-x2", "serial": "X2-CLI"}.items() <= found[0].items()
        assert main(["peripherals", "monitor", port, "--json", "--duration", "2.5"]) == 0
        events = [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()]
        assert events[events.index("trigger_pressed") + 1] == "probes_fired"
        # The ping's 10 ms p99 would time this loaded machine, not the protocol (speed: bench/).
        assert main(["peripherals", "check", port, "--ping-limit-ms", "500"]) == 0
        report = capsys.readouterr().out
        assert report.count("PASS") == 10 and "FAIL" not in report  # with the session check
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        assert emulator.stdout is not None and emulator.stderr is not None
        emulator.stdout.close()
        emulator.stderr.close()
    assert list(tmp_path.iterdir()) == [], "the emulator left its by-id link behind"


def test_check_on_a_port_with_no_replica_fails_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["peripherals", "check", "/dev/no-such-replica"]) == 1
    assert "FAIL  handshake" in capsys.readouterr().out


@pytest.mark.parametrize("verb", ["spread", "trajectory"])
def test_every_analyze_verb_explains_itself(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", verb, "--help"])
    assert exit_.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 5


def test_distances_are_read_as_a_trainer_writes_them() -> None:
    assert distances_ft("5..8ft") == [5.0, 6.0, 7.0, 8.0]
    assert distances_ft("7,15,21") == [7.0, 15.0, 21.0]
    assert distances_ft("3..5yd") == [9.0, 12.0, 15.0]
    assert distances_ft("5..25ft", step=10) == [5.0, 15.0, 25.0]
    with pytest.raises(ValueError, match=r"write 5\.\.25ft"):
        distances_ft("far")


def test_analyze_spread_reports_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "spread.png"
    args = [
        "analyze",
        "spread",
        "--cartridge",
        "x26p-25ft",
        "--distance",
        "4,12ft",
        "--trials",
        "400",
        "--json",
        "--plot",
        str(plot),
    ]
    assert main(args) == 0
    near, far = json.loads(capsys.readouterr().out)
    # 8 degrees: under 12 in of spread at 4 ft, well over it at 12 ft (facts.md §1: 7.1 ft).
    assert near["p_effective"] < 0.2 < 0.6 < far["p_effective"]
    assert near["median_spread_in"] < 12.0 < far["median_spread_in"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_analyze_trajectory_prints_every_yard(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "analyze",
                "trajectory",
                "--load",
                "9mm-124",
                "--zero",
                "25yd",
                "--to",
                "50yd",
                "--json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["distance_yd"] for r in rows] == list(range(51))
    assert abs(rows[25]["path_in"]) < 0.01  # on the line of sight at the zero
    assert rows[0]["path_in"] == -0.8  # the bore sits 0.8 in under the sights


def test_a_bad_analysis_request_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "spread", "--cartridge", "taser99", "--distance", "7ft"]) == 2
    assert "taser7-cq" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["list", "show", "validate", "run"])
def test_every_drill_verb_explains_itself(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["drill", verb, "--help"])
    assert exit_.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) > 3


def test_drill_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "list", "--json"]) == 0
    ids = [d["id"] for d in json.loads(capsys.readouterr().out)]
    assert "phone-draw-v1" in ids and len(ids) >= 12
    assert main(["drill", "show", "phone-draw-v1"]) == 0
    shown = capsys.readouterr().out
    assert "Expected response:" in shown and "-> draws_phone on after_s 2.0" in shown


def test_drill_validate_names_file_line_and_field(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = repo_root / "drills" / "data" / "drills" / "phone-draw-v1.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('to = "films"', 'to = "flims"'))
    assert main(["drill", "validate", str(good), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert f"{good}: ok" in out
    line = bad.read_text().splitlines().index('to = "flims"') + 1
    assert f"{bad}:{line}: phases[1].transitions[0].to: no phase 'flims'" in err


def test_score_across_runs_reports_hit_and_false_alarm_rates(
    tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = repo_root / "tests" / "data" / "officers" / "phone-draw-error-v1.toml"
    runs = [
        ["drill", "run", "phone-draw-v1", "--officer", "A"],
        ["drill", "run", "active-shooter-v1", "--officer", "A"],
        ["drill", "run", "phone-draw-v1", "--sim", str(error), "--officer", "B"],
    ]
    for args in runs:
        assert main([*args, "--seed", "1", "--runs-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["score", *sorted(str(p) for p in tmp_path.iterdir()), "--json"]) == 0
    officers = {o["officer"]: o for o in json.loads(capsys.readouterr().out)["officers"]}
    # Scripted runs (no --live) under a name: kept apart from that officer's own decisions.
    assert set(officers) == {"A (SIMULATED)", "B (SIMULATED)"}
    a, b = officers["A (SIMULATED)"], officers["B (SIMULATED)"]
    assert (a["hit_rate"], a["false_alarm_rate"]) == (1.0, 0.0)
    assert b["false_alarm_rate"] == 1.0 and b["hit_rate"] is None


def test_emulate_in_process_gives_ctrl_c_back_when_it_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`peripherals emulate` (and `monitor`) stop on Ctrl-C by taking SIGINT over; run in a
    process that goes on (a test worker), they kept it, so a later Ctrl-C never raised
    KeyboardInterrupt (a live drill's Ctrl-C test then ran to its time limit)."""
    import signal

    from range.cli.main import main

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    argv = ["peripherals", "emulate", "pistol", "--duration", "0.2", "--dir", str(tmp_path)]
    assert main(argv) == 0
    capsys.readouterr()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
