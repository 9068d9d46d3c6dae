"""Issue 12, the second new user's pass: each defect they found, as a test that failed first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from newuser_support import GOOD_PROFILE, rivera_db

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
        CalibrationProfile.model_validate(GOOD_PROFILE | {"armorer": "Or\ttiz"})


# -- item 3: a scripted shooter's attempt is a simulation, never a qualification -----------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    return rivera_db(tmp_path)


SIMULATED = "SIMULATED (scripted shooter expert): not a qualification"


def test_a_scripted_shooters_attempt_is_flagged_and_never_qualifies(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.exports import certificate_fields, roster
    from range.records.store import Records

    argv = ["course", "run", "fbi-pistol-2019-v1", "--shooter", "expert", "--badge", "4411"]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED (would be QUALIFIED), not a qualification" in out
    assert "\nQUALIFIED" not in out
    with Records.open(db, create=False) as records:
        (row,) = records.qualifications("4411")
        assert row["passed"] == 0
        assert certificate_fields(records, row["id"])["title"] == (
            f"Qualification attempt record: {SIMULATED} (not a certificate)"
        )
        from datetime import UTC, datetime

        # As of today: the attempt was recorded today (a roster as of an earlier day leaves
        # it out, nu12h).
        (standing,) = roster(records, datetime.now(UTC).date(), 365, badge="4411")
        # A simulation counts toward no one's standing (nu18g #10): not "not qualified"; and
        # it is said as one (nu22 #9), as the console's roster says it.
        assert standing.status == "simulated only"
        assert records.verify() == []
    assert main(["records", "history", "4411", "--db", db]) == 0
    assert SIMULATED in capsys.readouterr().out
    assert main(["records", "show", "1", "--db", db]) == 0
    assert SIMULATED in capsys.readouterr().out
    csv = tmp_path / "all.csv"
    assert main(["records", "export", "--format", "csv", "--db", db, "--out", str(csv)]) == 0
    assert SIMULATED in csv.read_text()


def test_an_attempt_is_resumed_only_by_the_shooter_who_began_it(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import Records

    with Records.open(db) as records:
        attempt = records.begin_attempt(
            "4411", "fbi-pistol-2019-v1", 0, "0.1.0", [], [], shooter="qualified"
        )
    argv = ["course", "run", "fbi-pistol-2019-v1", "--shooter", "expert", "--badge", "4411"]
    assert (
        main([*argv, "--resume", str(attempt), "--runs-dir", str(tmp_path / "runs"), "--db", db])
        == 5
    )
    err = _usage_err(capsys)
    assert err.endswith(
        f"in-progress attempt #{attempt} was begun by scripted shooter qualified, not scripted"
        " shooter expert: resume it the same way"
    )


# -- item 5: adding never overwrites an officer; badges and names are checked --------------------


def test_adding_an_existing_badge_is_refused_and_update_says_what_changes(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import Records

    argv = ["records", "officers", "--db", db]
    assert main([*argv, "--add", "4411", "--name", "Other", "--agency", "X PD"]) == 5
    assert _usage_err(capsys).endswith(
        "badge 4411 is already J. Rivera (Metro PD): to change that officer give"
        " --update 4411 with the fields that change"
    )
    with Records.open(db, create=False) as records:
        assert records.officer("4411")["name"] == "J. Rivera"
    assert main([*argv, "--update", "4411", "--name", "J. Rivera-Hale"]) == 0
    err = capsys.readouterr().err
    assert "badge 4411: name 'J. Rivera' -> 'J. Rivera-Hale' (chained)" in err
    with Records.open(db, create=False) as records:
        assert records.officer("4411")["agency"] == "Metro PD"
        assert records.verify() == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--add", "", "--name", "A", "--agency", "B"], "argument --add: badge '': a badge is 1"),
        (["--add", "44 11", "--name", "A", "--agency", "B"], "A-Z a-z 0-9 . _ -"),
        (["--add", "4\n1", "--name", "A", "--agency", "B"], "argument --add: badge"),
        (["--add", "5", "--name", "A\nB", "--agency", "B"], "argument --name: 'A\\nB': control"),
        (["--name", "Other"], "--name needs --add BADGE or --update BADGE"),
        (["--update", "4411"], "--update needs what changes: --name, --agency or --unit"),
    ],
)
def test_officer_options_are_checked(
    db: str, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    try:
        code = main(["records", "officers", "--db", db, *extra])
    except SystemExit as exc:
        code = int(str(exc.code))
    assert code != 0
    assert message in _usage_err(capsys)


# -- item 10: an empty --db or $OPENRANGE_DATABASE_URL is refused by name ------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["records", "officers", "--db"],
        ["records", "history", "4411", "--db"],
        ["drill", "run", "phone-draw-v1", "--db"],
        ["course", "run", "fbi-pistol-2019-v1", "--db"],
        ["console", "--db"],
        ["console", "lane-key", "--db"],
    ],
)
def test_an_empty_db_is_refused_by_name(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, ""])
    assert exit_.value.code == 2
    assert _usage_err(capsys).endswith(
        "argument --db: an empty URL: give sqlite:///PATH or postgresql://..., or leave --db out"
    )


def test_an_empty_database_url_variable_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENRANGE_DATABASE_URL", "")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["records", "officers", "--add", "1", "--name", "A", "--agency", "B"]) == 5
    assert _usage_err(capsys).endswith(
        "$OPENRANGE_DATABASE_URL is set but empty: unset it or give a records URL"
    )
    assert list(tmp_path.iterdir()) == []


# -- item 6: lane options are checked before anything connects -----------------------------------

LANE = ["lane", "--name", "LANE1"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--console", "127.0.0.1:99999"],
            "--console: '127.0.0.1:99999': write HOST:PORT",
        ),
        (["--console", "nonsense"], "with a port from 1 to 65535"),
        (["--console", "h:1", "--speed", "1e308"], "argument --speed: 1e308: a factor on real"),
        (["--console", "h:1", "--speed", "0"], "from more than 0 to 1000, or max"),
    ],
)
def test_lane_arguments_are_range_checked(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*LANE, *extra])
    assert exit_.value.code == 2
    assert message in _usage_err(capsys)


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        ("k" * 43, 0o644, "readable by others (mode 644): chmod 600"),
        ("k", 0o600, "lane key: 1 characters is too short (at least 32)"),
        (b"\xff\xfe" * 20, 0o600, "not UTF-8 text (not a lane key)"),
    ],
)
def test_a_bad_key_file_is_named_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str | bytes,
    mode: int,
    message: str,
) -> None:
    monkeypatch.delenv("OPENRANGE_LANE_KEY", raising=False)
    key = tmp_path / "lane.key"
    if isinstance(content, bytes):
        key.write_bytes(content)
    else:
        key.write_text(content)
    key.chmod(mode)
    argv = [*LANE, "--console", "127.0.0.1:1", "--key-file", str(key), "--runs-dir", str(tmp_path)]
    assert main(argv) != 0
    assert message in _usage_err(capsys)


# -- item 7: a lane has real bounds; a transition that can never fire is refused -----------------

PHONE = Path(__file__).parents[1] / "drills" / "data" / "drills" / "phone-draw-v1.toml"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("time_limit_s = 10.0", "time_limit_s = 10.0\n[scene]\nlane_length_ft = 900000"),
            "900000 is out of range: allowed 3 <= lane_length_ft <= 300",
        ),
        (
            ("time_limit_s = 10.0", "time_limit_s = 10.0\n[scene]\nlane_length_ft = 1e-300"),
            "1e-300 is out of range: allowed 3 <= lane_length_ft <= 300",
        ),
        (
            ("time_limit_s = 10.0", "time_limit_s = 10.0\n[scene]\nlane_width_ft = 500"),
            "500 is out of range: allowed 3 <= lane_width_ft <= 200",
        ),
        (
            ("after_s = 2.0", "after_s = 500000"),
            "500000 s can never fire: the drill ends at its time_limit_s = 10; allowed 0 <="
            " after_s < 10",
        ),
    ],
)
def test_lane_bounds_and_transitions_that_never_fire(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    from drills.schema import load_drill
    from physics.datafiles import DataFileError

    text = PHONE.read_text(encoding="utf-8")
    assert edit[0] in text
    path = tmp_path / "edited.toml"
    path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        load_drill(path)
    assert message in str(err.value)


# -- minor: a byte-order mark is accepted; pydantic's "Value error, " never leaks ---------------


def test_a_byte_order_mark_is_accepted_and_value_error_prefix_is_stripped(tmp_path: Path) -> None:
    from drills.schema import load_drill
    from physics.datafiles import DataFileError

    text = PHONE.read_text(encoding="utf-8")
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_drill(bom).id == load_drill(PHONE).id
    bad = tmp_path / "bad.toml"
    edited = text.replace(
        "time_limit_s = 10.0", "time_limit_s = 10.0\n[scene]\nlane_width_ft = 1e9"
    )
    bad.write_text(edited, encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        load_drill(bad)
    assert "is out of range: allowed 3 <= lane_width_ft <= 200" in str(err.value)
    assert "Value error, " not in str(err.value)
