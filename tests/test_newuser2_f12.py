"""Issue 12, the second new user's pass: each defect they found, as a test that failed first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from range.cli.main import main


def _usage_err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


# -- item 2: free-text identities refuse control characters and bytes that are not UTF-8 --------

NOT_UTF8 = os.fsdecode(b"Ort\xffiz")  # how argv hands a non-UTF-8 byte to Python


@pytest.mark.parametrize("bad", ["Or\ntiz", "\x1b", NOT_UTF8])
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["calibrate", "boresight", "--emulate", "--device", "P-1", "--armorer"], "--armorer"),
        (["records", "officers", "--add", "4411", "--name"], "--name"),
        (["records", "officers", "--add", "4411", "--name", "A", "--agency"], "--agency"),
        (["records", "officers", "--add", "4411", "--name", "A", "--unit"], "--unit"),
        (["records", "close", "1", "--reason", "crash", "--by"], "--by"),
        (["records", "close", "1", "--by", "Lt. Hale", "--reason"], "--reason"),
        (["drill", "run", "phone-draw-v1", "--override"], "--override"),
        (["lane", "--console", "127.0.0.1:8765", "--name"], "--name"),
    ],
)
def test_every_free_text_identity_refuses_control_characters_and_bad_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], option: str, bad: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, bad])
    assert exit_.value.code == 2
    line = _usage_err(capsys)
    assert f"argument {option}: " in line
    assert (
        "control characters (newline, tab, escape) are not allowed" in line
        or "not valid UTF-8 text" in line
    )


def test_a_profile_name_with_quotes_and_accents_is_read_back(tmp_path: Path) -> None:
    from datetime import date

    import numpy as np

    from range.calibration.bench import BenchEmulator
    from range.calibration.profiles import load_profile, new_profile, save_profile
    from range.calibration.solver import solve_boresight

    bore = solve_boresight(BenchEmulator(np.random.default_rng(6)).session())
    name = 'Sgt. "Ace" O\\Núñez \U0001f600'
    save_profile(tmp_path, new_profile("P-1", "pistol", name, bore, 2.0, date(2026, 11, 1)))
    loaded = load_profile(tmp_path, "P-1")
    assert loaded is not None and loaded.armorer == name


def test_a_profile_edited_to_hold_a_control_character_is_refused_by_the_model() -> None:
    from range.calibration.profiles import CalibrationProfile

    with pytest.raises(ValueError, match="control characters"):
        CalibrationProfile.model_validate(
            {
                "version": 1,
                "serial": "P-0042",
                "model": "pistol",
                "armorer": "Or\ttiz",
                "calibrated": "2026-11-30",
                "expires": "2027-05-29",
                "bore_origin_m": (0.0, 0.0, 0.0),
                "bore_direction": (0.0, 0.0, -1.0),
                "residual_mrad": 0.5,
                "tolerance_mrad": 2.0,
                "samples": 12,
            }
        )
