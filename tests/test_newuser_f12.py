"""What a new user found after issue 12 (issues/issue-12-newuser.md): edited courses and
policies that pass as built-ins, refused runs that leave files behind, unbounded options,
crashes on odd logs, and the minor items."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from newuser_support import GOOD_PROFILE, rivera_db
from pg_support import new_database

from range.cli.main import main
from range.records.store import Records, course_label

FBI = (
    Path(__file__).resolve().parents[1] / "drills" / "data" / "courses" / "fbi-pistol-2019-v1.toml"
)


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, f"one line, not: {err!r}"
    return err


def _usage_err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return rivera_db(tmp_path)


def _easy(tmp_path: Path) -> Path:
    text = FBI.read_text(encoding="utf-8")
    assert "pass_mark = { points = 90 }" in text
    easy = tmp_path / "easy.toml"
    easy.write_text(text.replace("pass_mark = { points = 90 }", "pass_mark = { points = 10 }"))
    return easy


# -- 1: an edited course that keeps a built-in id -------------------------------------------------


def test_an_edited_builtin_course_is_flagged_and_never_the_builtin_qualification(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    easy = _easy(tmp_path)
    argv = ["course", "run", str(easy), "--shooter", "struggling", "--badge", "4411"]
    assert main([*argv, "--db", db, "--runs-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "fbi-pistol-2019-v1 (modified, sha256 " in out
    assert "QUALIFIED" in out
    with Records.open(db, create=False) as records:
        (row,) = records.qualifications("4411")
        assert row["course_origin"] == "modified"
        assert len(row["course_sha256"]) == 64
        assert not records.verify()
        # a simulation counts toward no one's standing (nu18g #10); its label is the one a
        # standing on this course would carry
        assert records.standing("4411") == []
    assert course_label(row) == f"fbi-pistol-2019-v1 (modified, sha256 {row['course_sha256'][:12]})"
    assert main(["records", "history", "4411", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "(modified, sha256 " in out
    assert "pistol " not in out  # no weapon standing from a modified course
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["by_weapon"] == []
    (q,) = shown["qualifications"]
    # a scripted shooter's attempt never counts as passed (second new user, item 3)
    assert q["course_modified"] is True and q["passed"] is None
    assert main(["records", "show", str(row["id"]), "--db", db]) == 0
    assert f"course file sha256 {row['course_sha256']} (modified)" in capsys.readouterr().out
    cert = tmp_path / "cert.html"
    argv = ["records", "export", "--format", "html", "--attempt", str(row["id"]), "--out"]
    assert main([*argv, str(cert), "--db", db]) == 0
    page = cert.read_text()
    assert "Qualification certificate" not in page
    assert "modified course" in page and row["course_sha256"] in page
    assert main(["records", "export", "--format", "csv", "--db", db]) == 0
    assert row["course_sha256"] in capsys.readouterr().out


def test_the_builtin_course_is_recorded_as_builtin_and_chained(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "course",
        "run",
        str(FBI),
        "--shooter",
        "expert",
        "--badge",
        "4411",
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert main([*argv, "--db", db]) == 0
    with Records.open(db, create=False) as records:
        (row,) = records.qualifications("4411")
        assert row["course_origin"] == "builtin"
        assert records.standing("4411") == []  # a simulation (nu18g #10)
    assert course_label(row) == "fbi-pistol-2019-v1"
    path = db.removeprefix("sqlite:///")
    con = sqlite3.connect(path)
    con.execute("UPDATE qualifications SET course_origin = '', course_sha256 = ''")
    con.commit()
    con.close()
    with Records.open(db, create=False) as records:
        problems = records.verify()
    assert [p.what for p in problems] == ["its contents no longer match its hash: it was edited"]


def test_a_version_2_store_migrates_and_keeps_its_chain(tmp_path: Path) -> None:
    from range.records import store

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    real = store._MIGRATIONS[:]
    try:
        store._MIGRATIONS[:] = real[:2]
        with Records.open(url) as records:
            records.add_officer("4411", "J. Rivera", "Metro PD")
    finally:
        store._MIGRATIONS[:] = real
    # A record as schema 2 kept it (no course hash), chained by schema 2's hash.
    row = {
        "id": 1,
        "badge": "4411",
        "course": "fbi-pistol-2019-v1",
        "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:10:00+00:00",
        "seed": 7,
        "software_version": "0.1.0",
        "devices": "[]",
        "calibration": "[]",
        "points": 96,
        "max_points": 100,
        "hits": 48,
        "passed": 1,
        "detail": json.dumps({"shots": [], "score": {}}),
        "prev_hash": store.GENESIS,
    }
    row["hash"] = store._digest([row[k] for k in store._HASHED])
    con = sqlite3.connect(tmp_path / "old.sqlite")
    con.execute(
        f"INSERT INTO qualifications ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        list(row.values()),
    )
    con.execute("UPDATE chain_head SET last_id = 1, last_hash = ? WHERE id = 1", (row["hash"],))
    con.commit()
    con.close()
    with Records.open(url, create=False) as records:
        assert records.schema_version == store.SCHEMA_VERSION
        assert not records.verify()
        (kept,) = records.qualifications("4411")
        assert (kept["course_sha256"], kept["course_origin"]) == ("", "")
        (standing,) = records.standing("4411")
        assert standing.course == "fbi-pistol-2019-v1"


def test_score_with_an_edited_policy_that_keeps_a_builtin_id_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.summary import DEFAULT_POLICY_FILE
    from range.runs.policyfile import policy_in_effect, read_policy

    edited = tmp_path / "policy.toml"
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    edited.write_text(text.replace("pass_score = 70.0", "pass_score = 1.0"))
    assert edited.read_text() != text
    from scoring.policy import load_policy

    label = read_policy(edited).label
    assert "(modified, sha256 " in label
    assert policy_in_effect(None, {}).label == load_policy(None).id


# -- 3 and 11: a refused course run leaves nothing; --resume keeps the attempt's seed -------------


def _crashed_attempt(db: str, seed: int = 5) -> int:
    with Records.open(db, create=False) as records:
        # begun by the default scripted shooter, as `course run --badge` without --port does
        return records.begin_attempt(
            "4411", "fbi-pistol-2019-v1", seed, "0.1.0", [], [], shooter="qualified"
        )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--badge", "9999"], "no officer with badge '9999'"),
        (["--badge", "4411", "--resume", "77"], "no in-progress attempt #77"),
        (["--resume", "1"], "--resume needs --badge"),
        (
            ["--badge", "4411", "--resume", "ATTEMPT", "--seed", "9"],
            "conflicts with in-progress attempt",
        ),
        (["--badge", "4411", "--resume", "ATTEMPT"], "is badge 4411's on fbi-pistol-2019-v1"),
    ],
)
def test_a_refused_course_run_leaves_no_run_directory(
    tmp_path: Path,
    db: str,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    attempt = _crashed_attempt(db)
    course = "texas-ltc-b27-v1" if "is badge" in message else "fbi-pistol-2019-v1"
    extra = [str(attempt) if e == "ATTEMPT" else e for e in extra]
    runs = tmp_path / "runs"
    argv = ["course", "run", course, "--db", db, "--runs-dir", str(runs), *extra]
    assert main(argv) != 0
    assert message in _err(capsys)
    assert not runs.exists() or not any(runs.iterdir())


def test_a_missing_database_refuses_a_course_run_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    argv = ["course", "run", "fbi-pistol-2019-v1", "--badge", "4411", "--runs-dir", str(runs)]
    assert main([*argv, "--db", f"sqlite:///{tmp_path / 'nope.sqlite'}"]) == 5
    assert "no records database at" in _err(capsys)
    assert not runs.exists()


def test_resume_without_seed_takes_the_attempts_seed_and_says_so(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    attempt = _crashed_attempt(db, seed=5)
    argv = ["course", "run", "fbi-pistol-2019-v1", "--badge", "4411", "--db", db]
    assert (
        main([*argv, "--resume", str(attempt), "--runs-dir", str(tmp_path / "runs"), "--json"]) == 0
    )
    captured = capsys.readouterr()
    assert f"Resuming in-progress attempt #{attempt} with its seed 5." in captured.err
    assert json.loads(captured.out)["seed"] == 5


# -- 6 and 7: huge numbers are argparse range errors ---------------------------------------------

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["records", "show", HUGE], "a record number from 1 to 9223372036854775807"),
        (["records", "close", HUGE, "--by", "x", "--reason", "y"], "a record number from 1"),
        (["records", "export", "--format", "csv", "--attempt", HUGE], "a record number from 1"),
        (["course", "run", "fbi-pistol-2019-v1", "--resume", HUGE], "a record number from 1"),
        (["records", "history", "4411", "--valid-days", "999999999999"], "from 1 to 36500"),
        (["records", "export", "--format", "csv", "--valid-days", "999999999999"], "1 to 36500"),
        (["records", "export", "--format", "csv", "--warn-days", "999999999999"], "1 to 36500"),
        (["calibrate", "boresight", "--valid-days", "999999999999"], "from 1 to 36500"),
        (["console", "--port", "70000"], "a TCP port from 1 to 65535"),
    ],
)
def test_huge_numbers_are_refused_with_the_allowed_range(
    argv: list[str], allowed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    line = _usage_err(capsys)
    assert allowed in line, line


# -- minor: abbreviations and the subcommand's usage ----------------------------------------------


@pytest.mark.parametrize("option", ["--sed", "--se", "--no"])
def test_a_mistyped_or_abbreviated_option_is_refused_by_its_subcommand(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["drill", "run", "knife-approach-v1", option, "3"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: openrange drill run"), err
    assert f"openrange drill run: error: unrecognized arguments: {option} 3" in err


def test_records_close_keeps_the_course_maximum(db: str) -> None:
    attempt = _crashed_attempt(db)
    with Records.open(db, create=False) as records:
        closed = records.close_attempt(attempt, "Sgt. Ortiz", "power cut")
        assert records.qualification(closed)["max_points"] == 100


def test_history_json_gives_booleans_and_null_for_a_scripted_run(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "course",
        "run",
        "fbi-pistol-2019-v1",
        "--badge",
        "4411",
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert main([*argv, "--db", db]) == 0
    capsys.readouterr()
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    (q,) = shown["qualifications"]
    # null, as in the judged-attempt JSON (scoring.course.judged_attempt): a scripted
    # shooter's attempt never passes or fails (its outcome says what it would have been)
    assert q["passed"] is None and q["outcome"].startswith("SIMULATED")
    argv = [
        "drill",
        "run",
        "phone-draw-v1",
        "--badge",
        "4411",
        "--seed",
        "1",
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert main([*argv, "--db", db]) == 0
    capsys.readouterr()
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["drill_runs"]
    assert run["outcome"].startswith("SIMULATED")  # a scripted officer played it
    assert run["passed"] is None


# -- 4, 5 and the event-log reader ----------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    root = tmp_path_factory.mktemp("runs")
    drill = find_drill("phone-draw-v1")
    assert drill.expected_officer is not None
    result = run_drill(RunConfig(drill, find_officer(drill.expected_officer), 1, runs_dir=root))
    assert result.run_dir is not None
    return result.run_dir


def _log(saved: Path, tmp_path: Path, lines: list[str]) -> Path:
    """A copy of the saved run with its log replaced by `lines`."""
    import shutil

    run = tmp_path / saved.name
    shutil.copytree(saved, run)
    (run / "result.json").unlink()
    (run / "events.jsonl").write_text("".join(line + "\n" for line in lines))
    return run


def _lines(saved: Path) -> list[str]:
    return (saved / "events.jsonl").read_text().splitlines()


def test_report_of_a_log_that_stops_after_run_started_is_incomplete(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _log(saved, tmp_path, _lines(saved)[:1])
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "INCOMPLETE" in page and "PASS" not in page
    assert "no positions recorded" not in page  # drawn into the map image, not the text
    assert "top-down map" in page


@pytest.mark.parametrize(
    "nested",
    [
        "[" * 20000 + "]" * 20000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        '{"t": 0.5, "kind": "run_ended", "x": ' + "[" * 40 + "]" * 40 + "}",
    ],
)
@pytest.mark.parametrize("command", ["score", "report"])
def test_deeply_nested_json_in_a_log_is_one_named_line(
    saved: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    nested: str,
    command: str,
) -> None:
    run = _log(saved, tmp_path, [*_lines(saved)[:2], nested])
    assert main([command, str(run)]) == 2
    assert f"{run / 'events.jsonl'}:3: nested too deeply (at most 32 levels)" in _err(capsys)


def test_the_log_reader_refuses_t_going_back_absurd_t_and_repeated_lines(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(saved)
    late = [json.loads(line) for line in lines]
    # A record moved more than T_BACKWARDS_TOLERANCE_S (0.5 s: a live run's device-time records
    # may trail a frame's) before a later one: refused.
    back = next(i for i, r in enumerate(late) if i > 1 and r["t"] > 0.5)
    ahead = next(i for i, r in enumerate(late) if i > back and r["t"] > late[back]["t"] + 1.0)
    swapped = [*lines[:back], lines[ahead], *lines[back:ahead], *lines[ahead + 1 :]]
    run = _log(saved, tmp_path / "a", swapped)
    assert main(["score", str(run)]) == 2
    assert f"events.jsonl:{back + 2}: t: t = " in _err(capsys)

    huge = dict(late[1], t=1e308)
    run = _log(saved, tmp_path / "b", [lines[0], json.dumps(huge)])
    assert main(["score", str(run)]) == 2
    assert "events.jsonl:2: t: t = 1e+308 s is beyond a day (86400 s)" in _err(capsys)

    run = _log(saved, tmp_path / "c", [lines[0], lines[1], lines[1], *lines[2:]])
    assert main(["score", str(run)]) == 2
    assert "events.jsonl:3: repeats the line before it exactly (a phase_entered twice)" in _err(
        capsys
    )


def test_report_of_a_missing_folder_says_it_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "nonexist")]) == 2
    assert f"{tmp_path / 'nonexist'} does not exist" in _err(capsys)


def test_score_json_of_an_incomplete_run_has_no_score(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _log(saved, tmp_path, _lines(saved)[:1])
    assert main(["score", str(run), "--json"]) == 11  # not graded
    scored = json.loads(capsys.readouterr().out)
    assert scored["outcome"] == "INCOMPLETE" and scored["score"] is None


# -- 8: identities in calibration ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--device", "", "--armorer", "Ortiz"], "device serial '': a serial is 1 to 64 of"),
        (["--device", "../../etc/x", "--armorer", "Ortiz"], "A-Z a-z 0-9 . _ -"),
        (["--device", "P-0042", "--armorer", ""], "argument --armorer: '': a name is needed"),
        (["--device", "P-0042", "--armorer", "   "], "a name is needed (not empty)"),
    ],
)
def test_calibration_refuses_empty_or_path_like_identities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["calibrate", "boresight", "--emulate", "--profiles", str(tmp_path), *extra]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in _usage_err(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_profile_with_an_empty_armorer_or_bad_serial_is_refused_by_the_model() -> None:
    from pydantic import ValidationError

    from range.calibration.profiles import CalibrationProfile

    good = GOOD_PROFILE
    CalibrationProfile.model_validate(good)
    for field, bad in (("armorer", ""), ("armorer", "  "), ("serial", ""), ("serial", "../x")):
        with pytest.raises(ValidationError):
            CalibrationProfile.model_validate(good | {field: bad})


# -- 9: the policy's reaction limits --------------------------------------------------------------


def test_a_policy_whose_critical_reaction_is_below_its_maximum_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], saved: Path
) -> None:
    from range.cli.summary import DEFAULT_POLICY_FILE

    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    assert "max_reaction_s = 1.5" in text
    bad = tmp_path / "policy.toml"
    bad.write_text(text.replace("max_reaction_s = 1.5", "max_reaction_s = 5.0"))
    assert main(["score", str(saved), "--policy", str(bad)]) == 2
    err = _err(capsys)
    assert "critical_reaction_s: 3 s must be at least max_reaction_s (5 s)" in err
    assert str(bad) in err


# -- 10: a course string's distance is bounded by the lane ----------------------------------------


def test_a_course_string_beyond_the_lane_is_refused_with_the_allowed_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = FBI.read_text(encoding="utf-8")
    assert "distance_yd = 25" in text
    far = tmp_path / "far.toml"
    far.write_text(text.replace("distance_yd = 25", "distance_yd = 900000", 1))
    line = text.splitlines().index(
        next(x for x in text.splitlines() if x.strip().startswith("distance_yd = 25"))
    )
    assert main(["course", "validate", str(far)]) == 1
    err = _err(capsys)
    assert f"{far}:{line + 1}:" in err
    assert (
        "900000 yd is beyond the lane: allowed 0.5 yd (1.5 ft) <= distance <= 25 yd (75 ft)" in err
    )
    assert main(["course", "validate", str(FBI)]) == 0


# -- minor: peripherals ----------------------------------------------------------------------------


def test_a_check_line_never_says_passed_when_it_failed() -> None:
    """The noisy emulator printed "FAIL resynchronises after garbage — answered a PING"."""
    from peripherals.conformance import check_peripheral
    from peripherals.emulator import LineFaults, emulator_for
    from peripherals.messages import Model
    from range.clock import MonotonicClock

    clock = MonotonicClock()
    faults = LineFaults(noise_rate=0.6, drop_rate=0.3, corrupt_rate=0.3, seed=3)
    with emulator_for(Model.PISTOL, "NOISY-2", clock, faults=faults) as emulator:
        emulator.run_free()
        checks = {c.name: c for c in check_peripheral(emulator.port or "", clock)}
    garbage = checks.get("resynchronises after garbage")
    assert garbage is not None
    if garbage.passed:
        assert garbage.detail.startswith("answered PING ")
    else:
        assert garbage.detail.startswith("none of 3 PINGs sent after 66 bytes of garbage")


def test_a_network_url_without_a_port_is_named_not_a_python_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["peripherals", "check", "rfc2217://x"]) == 1
    out = capsys.readouterr().out
    assert "not supported between" not in out
    assert (
        "FAIL  handshake                      cannot open rfc2217://x: a network port is"
        " rfc2217://HOST:PORT with a port from 1 to 65535"
    ) in out


def test_emulate_refuses_a_dir_others_may_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    argv = ["peripherals", "emulate", "pistol", "--dir", str(shared), "--duration", "0.1"]
    assert main(argv) == 4
    assert f"{shared}: writable by group or others (mode 777)" in _err(capsys)
    assert list(shared.iterdir()) == []
    from peripherals.messages import Model
    from peripherals.ports import PortDirectory, UnsafeRuntimeDirError

    with pytest.raises(UnsafeRuntimeDirError):
        PortDirectory(shared).register(Model.PISTOL, "P-1", "/dev/null")


# -- minor: course show, drill files, dates, times past the limit, verify --json -----------------


def test_course_show_says_the_stage_1_hands_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["course", "show", "fbi-pistol-2019-v1"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("3 yd  from holster   6 rd"))
    assert line.count("strong hand") == 1 and line.count("support hand") == 1, line
    assert line.endswith("(3 strong hand only, then 3 support hand only, one 6 s string)")
    reload = next(x for x in out.splitlines() if "slide-lock reload" in x)
    assert reload.count("reload") == 1, reload


@pytest.mark.parametrize("command", [["drill", "run"], ["course", "run"], ["drill", "show"]])
def test_a_directory_given_as_a_data_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    assert (
        main([*command, str(folder), "--no-save"] if "run" in command else [*command, str(folder)])
        == 2
    )
    assert _err(capsys) == f"openrange: {folder}: a directory, not a data file: give one file\n"


@pytest.mark.parametrize("command", [["drill", "validate"], ["course", "validate"]])
def test_validate_says_a_directory_in_the_same_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    assert main([*command, str(folder)]) == 1
    assert _err(capsys) == f"{folder}: a directory, not a data file: give one file\n"


def test_export_refuses_from_after_to(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["records", "export", "--format", "csv", "--from", "2027-01-01", "--to", "2026-01-01"]
    assert main([*argv, "--db", db]) == 2
    assert "--from 2027-01-01 is after --to 2026-01-01" in _err(capsys)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--unplug-at", "1000"],
            "--unplug-at 1000 s is past drill knife-approach-v1's time limit",
        ),
        (["--instructor", "999:comply"], "--instructor 999 s is past drill knife-approach-v1's"),
    ],
)
def test_a_time_past_the_drills_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["drill", "run", "knife-approach-v1", "--runs-dir", str(tmp_path / "runs"), *extra]
    assert main(argv) == 2
    err = _err(capsys)
    assert message in err and "allowed 0 to 30 s" in err
    assert not (tmp_path / "runs").exists()


def test_records_verify_json(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "verify", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "schema_version": 8,  # docs/records.md (nu19 #12; 7: m20a; 8: l24c)
        "records": 0,
        "officers": 1,
        "drill_runs": 0,
        "in_progress": 0,
        "drill_runs_in_progress": 0,
        "amendments": 0,
        "intact": True,
        "problems": [],
        "warnings": [],
        "unchecked_logs": [],  # docs/records.md (rc19 #1)
        "missing_tables": [],  # docs/records.md (nu25 #4)
    }
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    con.execute("UPDATE officers SET name = 'X'")
    con.commit()
    con.close()
    assert main(["records", "verify", "--db", db, "--json"]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["intact"] is False
    assert found["problems"] == [
        {
            "record": 0,
            "chain": "officer",
            "problem": "officer 4411 no longer matches its hash: it was edited",
        }
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.sqlite'}"
    return new_database(request.getfixturevalue("postgres_url"))


def test_course_origin_is_chained_and_sets_a_modified_course_apart_on_both_stores(
    any_url: str,
) -> None:
    import hashlib

    builtin = hashlib.sha256(FBI.read_bytes()).hexdigest()
    edited = "ab" * 32
    score = {"points": 96, "max_points": 100, "hits": 48, "passed": True}
    with Records.open(any_url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        for sha in (builtin, edited):
            attempt = records.begin_attempt(
                "4411", "fbi-pistol-2019-v1", 1, "0.1.0", [], [], course_sha256=sha
            )
            records.finish_attempt(attempt, score)
        origins = [(r["course_origin"], r["course_sha256"]) for r in records.qualifications()]
        assert origins == [("builtin", builtin), ("modified", edited)]
        assert [s.course for s in records.standing("4411")] == [
            "fbi-pistol-2019-v1",
            "fbi-pistol-2019-v1 (modified, sha256 abababababab)",
        ]
        assert records.verify() == []


def test_the_consoles_certificate_and_status_flag_a_modified_course(any_url: str) -> None:
    import zlib
    from datetime import date

    from range.console.pages import course_status
    from range.records.certificate import certificate_pdf

    score = {"points": 96, "max_points": 100, "hits": 48, "passed": True, "stages": []}
    with Records.open(any_url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        attempt = records.begin_attempt(
            "4411", "fbi-pistol-2019-v1", 1, "0.1.0", [], [], course_sha256="cd" * 32
        )
        qid = records.finish_attempt(attempt, score)
        (status,) = course_status(records, "4411", date.today())
        pdf = certificate_pdf(records, qid)
    assert status.course == "fbi-pistol-2019-v1 (modified, sha256 cdcdcdcdcdcd)"
    import re

    pieces = []  # the strings drawn, kerned into pieces: joined without spaces
    for chunk in pdf.split(b"stream\n")[1:]:
        try:
            content = zlib.decompress(chunk.split(b"\nendstream")[0]).decode("latin-1")
        except zlib.error:
            continue
        for block in re.findall(r"BT(.*?)ET", content, re.S):
            pieces.append("".join(re.findall(r"\((.*?)\)", block, re.S)))
    text = "\n".join(pieces).replace(" ", "")
    assert "Qualificationcertificate" not in text
    assert "Attemptrecordonamodi" in text  # "fi" is drawn as a ligature
    assert "sha256cdcdcdcdcdcd" in text and "Coursefilesha256:" + "cd" * 32 in text
