"""What the new-user tests share (tests/test_newuser_f12.py, test_newuser2_f12.py,
test_newuser2_final.py, test_nu12j.py, test_nu12k.py): running the CLI in process, a records
database holding one officer, a valid calibration profile to break one field at a time, and a
saved scripted run of the knife drill (test_nu23_outputs.py, test_rc21_small.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from range.cli.main import main
from range.records.store import Records

# A valid pistol calibration profile (range/calibration/profiles.py), as its TOML loads.
GOOD_PROFILE: dict[str, Any] = {
    "version": 1,
    "serial": "P-0042",
    "model": "pistol",
    "armorer": "Ortiz",
    "calibrated": "2026-11-30",
    "expires": "2027-05-29",
    "bore_origin_m": (0.0, 0.0, 0.0),
    "bore_direction": (0.0, 0.0, -1.0),
    "residual_mrad": 0.5,
    "tolerance_mrad": 2.0,
    "samples": 12,
}


def rivera_db(tmp_path: Path) -> str:
    """A fresh SQLite records URL under `tmp_path` holding officer 4411 (J. Rivera, Metro PD)."""
    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
    return url


def run_cli(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> tuple[str, str]:
    """`openrange ARGV` in process: its exit status must be `code` and it never prints a
    traceback; (stdout, stderr)."""
    capsys.readouterr()
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out, captured.err


def saved_knife_run(runs_dir: Path, seed: int = 7) -> Path:
    """knife-approach-v1 played by the demo officer's script as it was before nu26 #6
    (tests/data/nu26/taser-first-hasty-v1.toml: the Close Quarter cartridge fired from 18 ft,
    so at seed 7 the TASER fails and the pistol fires, which the report's pictures and the
    speech timings test), saved under `runs_dir`: the run folder."""
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    hasty = find_officer(str(Path(__file__).parent / "data/nu26/taser-first-hasty-v1.toml"))
    config = RunConfig(find_drill("knife-approach-v1"), hasty, seed, runs_dir=runs_dir)
    result = run_drill(config)
    assert result.run_dir is not None
    return result.run_dir
