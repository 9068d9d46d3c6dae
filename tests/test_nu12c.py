"""Issue 12, fourth new-user pass (reports/nu12.md), items 11-17 and 20b: each test holds the
right value a user should see, and failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from drill_text import GOOD, drill_file

from drills.course import load_course
from drills.schema import load_drill
from physics.datafiles import DataFileError
from scoring.policy import load_policy

PROJECT = Path(__file__).resolve().parent.parent
POLICY = PROJECT / "scoring" / "data" / "policy-default.toml"
FBI = PROJECT / "drills" / "data" / "courses" / "fbi-pistol-2019-v1.toml"


def refused_drill(tmp_path: Path, text: str) -> str:
    with pytest.raises(DataFileError) as caught:
        load_drill(drill_file(tmp_path, text))
    return str(caught.value)


# -- 17: a number out of any sane size names the field's own allowed range ---------------------


def test_a_subnormal_time_limit_names_the_time_limit_range(tmp_path: Path) -> None:
    message = refused_drill(tmp_path, GOOD.replace("time_limit_s = 10.0", "time_limit_s = 1e-320"))
    assert message == (
        f"{tmp_path / 'd.toml'}:6: time_limit_s: 1e-320 is out of range:"
        " allowed 1 <= time_limit_s <= 3600"
    )


def test_a_subject_a_billion_feet_away_names_the_lane(tmp_path: Path) -> None:
    text = GOOD.replace("start_distance_ft = 30.0", "start_distance_ft = 1e9")
    message = refused_drill(tmp_path, text)
    assert message == (
        f"{tmp_path / 'd.toml'}:10: subjects[0].start_distance_ft: 1e+09 ft is beyond the lane"
        " (scene.lane_length_ft = 75): allowed 1.5 to 75"
    )


def test_a_billion_point_rule_names_the_points_range(tmp_path: Path) -> None:
    text = POLICY.read_text(encoding="utf-8").replace("points = -20.0", "points = 1e9", 1)
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_policy(path)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s == "points = 1e9")
    assert str(caught.value).startswith(f"{path}:{line}: rules[")
    assert str(caught.value).endswith(
        "].points: 1e+09 is out of range: allowed -100 <= points <= 0"  # nu12d: -100 to 0
    )


def test_a_course_string_a_billion_yards_away_names_the_lane(tmp_path: Path) -> None:
    text = FBI.read_text(encoding="utf-8").replace("distance_yd = 3.0", "distance_yd = 1e9", 1)
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_course(path)
    assert str(caught.value) == (
        f"{path}:20: stages[0].strings[0].distance_yd: 1000000000 yd is beyond the lane:"
        " allowed 0.5 yd (1.5 ft) <= distance <= 25 yd (75 ft)"
    )


def test_a_number_without_bounds_still_names_the_sane_range(tmp_path: Path) -> None:
    text = GOOD.replace("start_distance_ft = 30.0", "start_distance_ft = 30.0\nlateral_ft = 1e9")
    assert "out of any sane range" in refused_drill(tmp_path, text)


# -- 16: conformance fails a device clock that runs fast, and does not blame the STATE rate ----


@pytest.mark.parametrize("drift_ppm", [1e9, 5e5, 0.0])
def test_conformance_times_the_device_clock_rate(drift_ppm: float) -> None:
    from peripherals.conformance import check_peripheral
    from peripherals.emulator import emulator_for
    from peripherals.messages import Model
    from range.clock import MonotonicClock

    clock = MonotonicClock()
    with emulator_for(Model.PISTOL, "CLOCK-1", clock, drift_ppm=drift_ppm) as emulator:
        emulator.run_free()
        checks = {c.name: c for c in check_peripheral(emulator.port or "", clock)}
    device_clock, state_rate = checks["device clock"], checks["state rate"]
    assert state_rate.passed, state_rate.detail
    if drift_ppm == 0.0:
        assert device_clock.passed, device_clock.detail
        assert device_clock.detail.endswith("ppm against the host clock (limit +-200 ppm)")
    else:
        assert not device_clock.passed
        assert device_clock.detail.startswith("runs at "), device_clock.detail
        rate = float(device_clock.detail.removeprefix("runs at ").split("x ")[0])
        assert rate == pytest.approx(1 + drift_ppm * 1e-6, rel=0.01)
        assert "x the host's rate: between +" in device_clock.detail
        assert device_clock.detail.endswith("(limit +-200 ppm)")
        assert "corrected by its measured clock rate" in state_rate.detail


# -- 15: command-line values that were accepted although wrong ---------------------------------


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line a refused command prints (stderr), after checking it refused."""
    from range.cli.main import main

    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "taser-10:x26p-21ft",
            "openrange: --taser taser-10:x26p-21ft: x26p-21ft is a taser-x26p cartridge; taser-10"
            " takes 1 cartridge(s), one per bay, each one of taser10 (or give taser-10 alone for"
            " its default loads)",
        ),
        (
            "taser-7:",
            "openrange: --taser taser-7:: taser-7 takes 2 cartridge(s), one per bay, each one of"
            " taser7-cq, taser7-standoff (or give taser-7 alone for its default loads)",
        ),
    ],
)
def test_a_taser_with_the_wrong_loads_is_refused_before_the_run(
    spec: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["drill", "run", "knife-approach-v1", "--seed", "1", "--taser", spec]
    assert _refused([*argv, "--runs-dir", str(tmp_path)], capsys) == expected
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["", "Ofc.\x1b[2J Rivera"])
def test_an_officer_name_that_is_empty_or_holds_a_control_character_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main

    argv = ["drill", "run", "knife-approach-v1", "--officer", name, "--runs-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --officer:" in err
    assert "\x1b" not in err
    assert not any(tmp_path.iterdir())


def _export(tmp_path: Path, *options: str) -> list[str]:
    from newuser_support import rivera_db

    return ["records", "export", *options, "--db", rivera_db(tmp_path)]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["--format", "csv", "--attempt", "1"],
            "--attempt is not used by --format csv (records from/to a date): it takes --from, --to",
        ),
        (
            ["--format", "csv", "--valid-days", "10"],
            "--valid-days is not used by --format csv (records from/to a date): it takes --from,"
            " --to",
        ),
        (
            ["--format", "html", "--attempt", "1", "--from", "2026-01-01"],
            "--from is not used by --format html --attempt (one attempt's certificate): it takes"
            " --attempt",
        ),
        (
            ["--format", "html", "--from", "2026-01-01"],
            "--from is not used by --format html (a roster as of --to): it takes --to,"
            " --valid-days, --warn-days",
        ),
        (
            ["--format", "html", "--warn-days", "400", "--valid-days", "10"],
            "--warn-days 400 is longer than a qualification stays valid (--valid-days 10):"
            " allowed 1 to 10",
        ),
    ],
)
def test_an_export_option_the_export_would_ignore_is_refused(
    options: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _refused(_export(tmp_path, *options), capsys) == f"openrange: {expected}"


def test_the_roster_export_still_takes_its_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main

    assert main(_export(tmp_path, "--format", "html")) == 0
    assert "valid 365 days" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            [
                "analyze",
                "spread",
                "--cartridge",
                "taser7-cq",
                "--distance",
                "7ft",
                "--aim-error-mrad",
                "1e9",
            ],
            "argument --aim-error-mrad: 1e9: from 0 to 100 mrad is needed",
        ),
        (
            ["peripherals", "emulate", "taser-7", "--drift-ppm", "1e9"],
            "argument --drift-ppm: 1e9: from -500000 to 500000 ppm is needed",
        ),
        (["peripherals", "emulate", "taser-7", "--serial", ""], "argument --serial: device serial"),
        (
            ["peripherals", "emulate", "taser-7", "--serial", "A" * 80],
            "a serial is 1 to 64 of A-Z a-z 0-9 . _ -",
        ),
    ],
)
def test_an_option_out_of_its_range_is_refused_by_argparse(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main

    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert needle in capsys.readouterr().err


def test_a_second_aim_is_refused_for_a_two_probe_cartridge(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["analyze", "spread", "--cartridge", "taser7-cq", "--distance", "7ft", "--aim2", "leg"]
    assert _refused(argv, capsys) == (
        "openrange: --aim2 is for a cartridge that fires one probe per pull (taser10);"
        " taser7-cq fires 2 probes per pull at --aim"
    )


# -- 12: a drill naming an officer script that does not exist, a subject inside the officer ----


def test_a_drill_whose_expected_officer_does_not_exist_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        "time_limit_s = 10.0", 'time_limit_s = 10.0\nexpected_officer = "nosuch-officer-v1"'
    )
    message = refused_drill(tmp_path, text)
    assert message.startswith(
        f"{tmp_path / 'd.toml'}:7: expected_officer: no built-in officer script"
        " 'nosuch-officer-v1': one of the "
    )
    assert message.endswith(" built-in ids, or a script file's path (.toml)")


def test_a_subject_inside_the_officer_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("start_distance_ft = 30.0", "start_distance_ft = 0.01")
    assert refused_drill(tmp_path, text) == (
        f"{tmp_path / 'd.toml'}:10: subjects[0].start_distance_ft: 0.01 ft would start the"
        " subject inside the officer: allowed 1.5 to 75"
    )


# -- 13: course files: pass marks, par times and stage names out of range ----------------------


def _course_refused(tmp_path: Path, old: str, new: str) -> str:
    text = FBI.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "c.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_course(path)
    return str(caught.value)


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (
            "pass_mark = { hits = 51 }",
            "pass_mark.hits: 51 hits on a course that fires 50 rounds and cartridges:"
            " allowed 1 to 50",
        ),
        (
            "pass_mark = { points = 0 }",
            "pass_mark.points: 0 is out of range: allowed 1 <= points <= 1e+06",
        ),
        (
            "pass_mark = { points = 501 }",
            "pass_mark.points: 501 is more than the 100 points possible: allowed 1 to 100",
        ),
    ],
)
def test_a_course_pass_mark_out_of_range_is_refused(
    new: str, expected: str, tmp_path: Path
) -> None:
    assert _course_refused(tmp_path, "pass_mark = { points = 90 }", new).endswith(expected)


@pytest.mark.parametrize(
    ("par", "expected"),
    [
        ("1e-300", "par_time_s: 1e-300 is out of range: allowed 0.5 <= par_time_s <= 600"),
        ("86401", "par_time_s: 86401 is out of range: allowed 0.5 <= par_time_s <= 600"),
    ],
)
def test_a_course_par_time_out_of_range_is_refused(par: str, expected: str, tmp_path: Path) -> None:
    assert _course_refused(tmp_path, "par_time_s = 3.0", f"par_time_s = {par}").endswith(expected)


def test_a_course_stage_name_empty_or_twice_is_refused(tmp_path: Path) -> None:
    assert "stages[0].name: a stage needs a name" in _course_refused(
        tmp_path, 'name = "1: 3 yd"', 'name = ""'
    )
    assert _course_refused(tmp_path, 'name = "2: 5 yd"', 'name = "1: 3 yd"').endswith(
        "stages[1].name: stage name '1: 3 yd' is used twice (stages[0] too)"
    )


# -- 20b: a --dir refused as unsafe is not answered with "set XDG_RUNTIME_DIR" -----------------


def test_an_unsafe_dir_given_with_dir_is_not_blamed_on_xdg_runtime_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    argv = ["peripherals", "emulate", "pistol", "--dir", str(shared), "--duration", "0.1"]
    assert main(argv) == 4
    err = capsys.readouterr().err
    assert "XDG_RUNTIME_DIR" not in err
    assert err.strip().endswith(
        "replicas registered there cannot be trusted. Remove it, or choose a private folder"
        " (mode 700, yours) instead"
    )


# -- 14: a calibration profile holding nonsense is refused at load, by file, line and field -----


def _profile(tmp_path: Path, **changes: str) -> tuple[Path, str]:
    text = "\n".join(
        [
            "version = 1",
            'serial = "EMU-taser-7"',
            'model = "taser-7"',
            'armorer = "J. Smith"',
            "calibrated = 2026-11-01",
            "expires = 2027-04-30",
            "bore_origin_m = [0.0, 0.0, 0.0]",
            "bore_direction = [0.0, 0.0, -1.0]",
            "residual_mrad = 0.5",
            "tolerance_mrad = 2.0",
            "samples = 8",
            "trigger_latency_s = 0.01",
        ]
    )
    for key, value in changes.items():
        lines = [f"{key} = {value}" if t.startswith(f"{key} =") else t for t in text.splitlines()]
        text = "\n".join(lines)
    path = tmp_path / "EMU-taser-7.toml"
    path.write_text(text + "\n", encoding="utf-8")
    return path, text


def test_a_sound_profile_loads(tmp_path: Path) -> None:
    from range.calibration.profiles import load_profile

    _profile(tmp_path)
    profile = load_profile(tmp_path, "EMU-taser-7")
    assert profile is not None and profile.model == "taser-7"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"trigger_latency_s": "1e6"}, ":12: trigger_latency_s: 1e+06 is out of range: allowed 0"),
        ({"trigger_latency_s": "5.0"}, ":12: trigger_latency_s: 5 is out of range: allowed 0 <="),
        ({"tolerance_mrad": "1000.0"}, ":10: tolerance_mrad: 1000 is out of range: allowed 0 <"),
    ],
)
def test_a_profile_holding_nonsense_is_refused(
    changes: dict[str, str], expected: str, tmp_path: Path
) -> None:
    from range.calibration.profiles import load_profile

    path, _ = _profile(tmp_path, **changes)
    with pytest.raises(DataFileError) as caught:
        load_profile(tmp_path, "EMU-taser-7")
    assert str(caught.value).startswith(f"{path}{expected}"), str(caught.value)
