"""New-user pass nu12h, calibration and records defects (issue #12, task f12j): damaged
in-progress rows, emulator-made profiles, re-calibration keeping what it did not measure,
profile models, damaged drill-run results, orphaned run folders, missing part folders, verify
of drill.toml / course.toml hashes, and `score runs/*`. Each a reproduction that failed before
its fix, in process where possible (real SQLite, files and ptys)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from newuser_support import run_cli

from peripherals.clock import ManualClock
from peripherals.driver import ReplicaLink
from peripherals.emulator import PistolEmulator, TaserEmulator
from peripherals.messages import Model
from range.records.store import Records

MADE = "2026-12-01T11:28:41+00:00"  # when the hand-made folders below were made


def _sql(db: str, sql: str, *args: Any) -> None:
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        conn.execute(sql, args)


# -- 9: a damaged in-progress row is named in one line, never sealed into the chain ---------------


def _open_attempt(tmp: Path) -> tuple[str, int]:
    """A store with officer 4412 and in-progress attempt holding two shots and its log folder."""
    db = f"sqlite:///{tmp / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4412", "Ofc. Chen", "Metro PD")
        attempt = records.begin_attempt(
            "4412",
            "texas-ltc-b27-v1",
            31,
            "0.1.0",
            [{"model": "pistol", "serial": "P-1"}],
            [],
            shooter="qualified",
        )
        records.record_shot(attempt, {"kind": "attempt_log", "run_dir": str(tmp / "part1")})
        for t in (1.0, 1.5):
            records.record_shot(attempt, {"kind": "shot", "t": t, "stage": 0, "string": 0})
    return db, attempt


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("UPDATE attempt_shots SET shot = '{not json' WHERE seq = 1", "shot 2 is not a JSON"),
        ("UPDATE attempt_shots SET shot = '{}'", "shot 1 is not a shot"),
        ("UPDATE attempt_shots SET shot = '[1]' WHERE seq = 2", "shot 3 is not a JSON record"),
        ("UPDATE attempts_in_progress SET devices = '[oops'", "devices is not a JSON list"),
        ("UPDATE attempts_in_progress SET calibration = '{}'", "calibration is not a JSON"),
    ],
)
def test_a_damaged_in_progress_row_is_named_and_never_sealed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, said: str
) -> None:
    db, attempt = _open_attempt(tmp_path)
    _sql(db, sql)
    _, err = run_cli(
        capsys, ["records", "close", str(attempt), "--by", "a", "--reason", "b", "--db", db], 5
    )
    assert f"in-progress attempt #{attempt}: {said}" in err and len(err.splitlines()) == 1
    with Records.open(db, create=False) as records:
        assert records.count() == 0  # nothing sealed
        assert [r["id"] for r in records.incomplete()] == [attempt]  # still there to repair
    if "attempt_shots" not in sql:
        return
    # A resume reads the same rows: refused the same way, before anything is fired.
    argv = ["course", "run", "texas-ltc-b27-v1", "--badge", "4412", "--resume", str(attempt)]
    _, err = run_cli(capsys, [*argv, "--db", db, "--runs-dir", str(tmp_path / "runs")], 5)
    assert f"in-progress attempt #{attempt}: {said}" in err and len(err.splitlines()) == 1


def test_a_console_sheet_of_a_damaged_detail_reads_damaged(tmp_path: Path) -> None:
    """The console's attempt sheet read the chained detail with a bare json.loads."""
    from range.console.pages import attempt_sheet
    from range.records.store import DAMAGED

    db, attempt = _open_attempt(tmp_path)
    with Records.open(db) as records:
        score = {"points": 0, "max_points": 250, "hits": 0, "passed": False}
        record = records.finish_attempt(attempt, score)
    _sql(db, "UPDATE qualifications SET detail = '{bad' WHERE id = ?", record)
    with Records.open(db, create=False) as records:
        sheet = attempt_sheet(records.qualification(record))
    assert sheet["outcome"] == DAMAGED and sheet["stages"] == []


# -- 6, 7, 8: calibration profiles --------------------------------------------------------------


def _calibrate(capsys: pytest.CaptureFixture[str], folder: Path, *argv: str, code: int = 0) -> str:
    out, err = run_cli(capsys, ["calibrate", *argv, "--profiles", str(folder)], code)
    return out + err


def test_an_emulated_boresight_is_marked_and_never_overwrites_a_real_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.calibration.profiles import load_profile, save_profile

    bore = ["boresight", "--device", "P-0042", "--armorer", "Sgt. Ortiz", "--emulate"]
    _calibrate(capsys, tmp_path, *bore, "--model", "pistol")
    profile = load_profile(tmp_path, "P-0042")
    assert profile is not None and profile.emulated
    shown = _calibrate(capsys, tmp_path, "show", "--device", "P-0042")
    assert "EMULATED" in shown
    assert shown.startswith("P-0042: pistol, calibrated by Sgt. Ortiz")  # text, not JSON (#17)
    cert = tmp_path / "cal.html"
    _calibrate(capsys, tmp_path, "certificate", "--device", "P-0042", "--out", str(cert))
    assert "(EMULATED)" in cert.read_text(encoding="utf-8")
    # The same profile as a real bench would have written it: --emulate refuses to replace it.
    path = save_profile(tmp_path, profile.model_copy(update={"emulated": False}))
    said = _calibrate(capsys, tmp_path, *bore[:4], "Bench Test", "--emulate", code=2)
    assert "measured on the real replica P-0042 by Sgt. Ortiz" in said and "--replace-real" in said
    assert "Sgt. Ortiz" in path.read_text()
    said = _calibrate(capsys, tmp_path, "latency", "--device", "P-0042", "--emulate", code=2)
    assert "--replace-real" in said
    said = _calibrate(capsys, tmp_path, *bore[:4], "Bench Test", "--emulate", "--replace-real")
    assert "replaced a real replica's profile by Sgt. Ortiz" in said


def test_a_new_boresight_keeps_the_measured_trigger_latency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.calibration.profiles import load_profile

    bore = ["boresight", "--device", "P-0042", "--armorer", "Sgt. Ortiz", "--emulate"]
    _calibrate(capsys, tmp_path, *bore, "--model", "pistol")
    _calibrate(capsys, tmp_path, "latency", "--device", "P-0042", "--emulate")
    profile = load_profile(tmp_path, "P-0042")
    assert profile is not None and profile.trigger_latency_s == 0.028  # no float noise
    said = _calibrate(capsys, tmp_path, *bore)
    assert "trigger latency 28.0 ms kept" in said
    profile = load_profile(tmp_path, "P-0042")
    assert profile is not None and profile.trigger_latency_s == 0.028
    # Another model's latency is not this one's: reset, and said.
    said = _calibrate(capsys, tmp_path, *bore, "--model", "taser-7")
    assert "trigger latency reset to 0" in said


def test_an_emulator_serial_gets_its_own_model_not_pistol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.calibration.profiles import load_profile

    bore = ["boresight", "--device", "EMU-taser-7", "--armorer", "Sgt. Ortiz", "--emulate"]
    _calibrate(capsys, tmp_path, *bore)
    profile = load_profile(tmp_path, "EMU-taser-7")
    assert profile is not None and profile.model == "taser-7"
    said = _calibrate(capsys, tmp_path, *bore, "--model", "pistol", code=2)
    assert "--model pistol conflicts with serial EMU-taser-7" in said


def _profile(folder: Path, serial: str, model: str, emulated: bool) -> None:
    from datetime import date

    from range.calibration.profiles import new_profile, save_profile
    from range.calibration.solver import Boresight

    bore = Boresight((0.0, -0.015, -0.04), (1.0, 0.0, 0.0), 0.5, 8, ())
    profile = new_profile(serial, model, "Sgt. Ortiz", bore, 2.0, date.today(), emulated=emulated)
    save_profile(folder, profile)


@pytest.mark.parametrize(
    ("model", "firmware", "emulated", "field"),
    [
        # a pistol profile for the TASER 7 on the port (item 8)
        (Model.TASER_7, "openrange-emulator 0.1", True, "model: 'pistol' is not the replica's"),
        # an emulator-made profile for a real replica (item 6)
        (Model.PISTOL, "acme-replica 2.3", True, "emulated: made on the bench emulator"),
    ],
)
def test_the_calibration_gate_checks_the_replicas_own_model_and_kind(
    tmp_path: Path, model: Model, firmware: str, emulated: bool, field: str
) -> None:
    """On a real pty: what the replica reports in its HELLO is what its profile is held to,
    in the gate (drill run / course run --require-calibration, a lane) and the pose hands."""
    from peripherals.emulator import is_emulated
    from physics.datafiles import DataFileError
    from range.calibration.profiles import calibration_for_run, load_profile
    from range.runs.lane import LiveReplica

    clock = ManualClock(1.0)
    emu = (
        PistolEmulator("R-1", clock, firmware=firmware)
        if model is Model.PISTOL
        else TaserEmulator(model, "R-1", clock, firmware=firmware)
    )
    _profile(tmp_path, "R-1", "pistol", emulated)
    with emu, ReplicaLink(emu.port or "", clock) as link:
        replica = LiveReplica(link)
        assert link.info is not None
        reported = {"R-1": (link.info.model.slug, is_emulated(link.info.firmware))}
        with pytest.raises(DataFileError, match=field):
            calibration_for_run(["R-1"], required=True, folder=tmp_path, reported=reported)
        with pytest.raises(DataFileError, match=field):  # an override does not make it fit
            calibration_for_run(
                ["R-1"], required=True, folder=tmp_path, reported=reported, override_by="RM"
            )
        with pytest.raises(DataFileError, match=field):
            load_profile(tmp_path, "R-1", model=replica.model.slug, emulated=replica.emulated)
    # The same profile for what it was made for passes, and the record says it is emulated.
    _profile(tmp_path, "R-1", model.slug, emulated)
    kept = calibration_for_run(
        ["R-1"], required=True, folder=tmp_path, reported={"R-1": (model.slug, True)}
    )
    assert kept[0]["profile"]["emulated"] is emulated


# -- 10: a damaged drill-run result is DAMAGED everywhere, never a live officer's pass -----------


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE drill_runs SET result = '{bad' WHERE id = 1",
        # valid JSON, edited to read as the officer's own: no longer its chained digest
        "UPDATE drill_runs SET result = json_set(result, '$.officer', 'live') WHERE id = 1",
    ],
)
def test_a_damaged_drill_run_is_never_a_live_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    import csv
    import io
    import json

    from range.console.pages import recent_runs
    from range.records.store import DAMAGED

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
        result = {
            "drill": "phone-draw-v1",
            "seed": 1,
            "openrange_version": "0.1.0",
            "officer": "phone-draw-correct-v1",
            "score": {"decision": "held fire", "score": 100.0, "passed": True},
        }
        records.add_drill_run("4411", result)
    _sql(db, damage)
    out, _ = run_cli(capsys, ["records", "history", "4411", "--json", "--db", db])
    (run,) = json.loads(out)["drill_runs"]
    assert run["outcome"] == DAMAGED
    assert (run["officer"], run["officer_kind"], run["passed"], run["score"]) == (
        "unknown",
        "unknown",
        None,
        None,
    )
    out, _ = run_cli(capsys, ["records", "export", "--format", "csv", "--drill-runs", "--db", db])
    (row,) = csv.DictReader(io.StringIO(out))
    assert (row["outcome"], row["officer"], row["officer_kind"], row["score"]) == (
        DAMAGED,
        "unknown",
        "unknown",
        "",
    )
    out, _ = run_cli(capsys, ["records", "show", "--drill-run", "1", "--json", "--db", db])
    shown = json.loads(out)
    assert (shown["officer_kind"], shown["passed"], shown["score"]) == ("unknown", None, None)
    out, _ = run_cli(capsys, ["records", "show", "--drill-run", "1", "--db", db])
    assert f"{DAMAGED}:" in out and "not graded" in out and "played by" not in out
    with Records.open(db, create=False) as records:
        (listed,) = recent_runs(records)
    assert listed["damaged"] and listed["score"] is None and listed["passed"] is None


# -- 12: a run folder is registered as soon as it exists, and removed on a refusal in setup -------


@pytest.fixture
def badge_store(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    return db


def test_a_drill_run_is_in_progress_before_its_setup(
    tmp_path: Path,
    badge_store: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kill during setup (the voice, the headset, run_started) leaves a folder that
    `records incomplete` lists: what the records hold when run_started is about to be logged."""
    from drills.engine import DrillEngine

    seen: list[list[dict[str, Any]]] = []
    start = DrillEngine.start

    def looked(engine: DrillEngine, **meta: Any) -> None:
        with Records.open(badge_store, create=False) as records:
            seen.append(records.incomplete_drill_runs())
        start(engine, **meta)

    monkeypatch.setattr(DrillEngine, "start", looked)
    runs = tmp_path / "runs"
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "3"]
    run_cli(capsys, [*argv, "--db", badge_store, "--runs-dir", str(runs)])
    ((registered,),) = seen
    (folder,) = runs.iterdir()
    assert registered["run_dir"] == str(folder.resolve())


def test_a_drill_run_refused_in_setup_leaves_no_folder_and_no_registration(
    tmp_path: Path,
    badge_store: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a live run with no OpenXR runtime is refused (exit 6) once its folder exists."""
    from range.runs.drill import Session
    from range.xr.runtime import XRUnavailableError

    def refused(*_: object) -> None:
        raise XRUnavailableError("no OpenXR runtime")

    monkeypatch.setattr(Session, "_open_hands", refused)
    runs = tmp_path / "runs"
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "3"]
    run_cli(capsys, [*argv, "--db", badge_store, "--runs-dir", str(runs)], 6)
    assert not runs.exists() or list(runs.iterdir()) == []
    with Records.open(badge_store, create=False) as records:
        assert records.incomplete_drill_runs() == []


# -- 13: show and resume say when a part's folder is missing --------------------------------------


def test_show_and_resume_say_a_parts_folder_is_missing(
    tmp_path: Path, badge_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    gone = tmp_path / "20261201-112841-texas-ltc-b27-v1"  # moved away: never there
    with Records.open(badge_store) as records:
        records.add_officer("4412", "Ofc. Chen", "Metro PD")
        begun = [[{"model": "pistol", "serial": "SIM-PISTOL-0001"}], []]
        # Begun when its folder's name says (rc24 #2: a close holds the row to it).
        attempt = records.begin_attempt(
            "4412", "taser7-practical-v1", 31, "0.1.0", *begun, shooter="qualified", started=MADE
        )
        records.record_shot(attempt, {"kind": "attempt_log", "run_dir": str(gone)})
        other = records.begin_attempt("4412", "texas-ltc-b27-v1", 32, "0.1.0", *begun, started=MADE)
        records.record_shot(other, {"kind": "attempt_log", "run_dir": str(gone)})
        record = records.close_attempt(other, "RM Jones", "test")
    out, _ = run_cli(capsys, ["records", "show", str(record), "--db", badge_store])
    assert f"event log in {gone} (missing)" in out
    out, _ = run_cli(capsys, ["records", "show", str(record), "--db", badge_store, "--json"])
    assert json.loads(out)["logs_missing"] == [str(gone)]
    # rc12 B: a folder still there whose event log was moved away is missing too.
    gone.mkdir()
    out, _ = run_cli(capsys, ["records", "show", str(record), "--db", badge_store])
    assert f"event log in {gone} (missing)" in out
    (gone / "events.jsonl").write_text("")
    out, _ = run_cli(capsys, ["records", "show", str(record), "--db", badge_store])
    assert f"event log in {gone} (missing)" not in out
    gone.joinpath("events.jsonl").unlink()
    gone.rmdir()
    argv = ["course", "run", "taser7-practical-v1", "--badge", "4412", "--resume", str(attempt)]
    _, err = run_cli(capsys, [*argv, "--db", badge_store, "--runs-dir", str(tmp_path / "runs")])
    assert f"in-progress attempt #{attempt}: part 1's folder {gone} is missing" in err
    from range.cli.records import run_folder

    assert run_folder(str(gone)) == f"{gone} (missing: moved or deleted since)"


# -- 14, 17: verify checks each kept run's drill/course file, and gives its counts on a problem ----


def test_verify_warns_of_a_kept_run_that_can_no_longer_be_rescored(
    tmp_path: Path, badge_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    runs = tmp_path / "runs"
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "3"]
    run_cli(capsys, [*argv, "--db", badge_store, "--runs-dir", str(runs)])
    argv = ["course", "run", "taser7-practical-v1", "--badge", "4411", "--seed", "1"]
    run_cli(capsys, [*argv, "--db", badge_store, "--runs-dir", str(runs)])
    out, _ = run_cli(capsys, ["records", "verify", "--db", badge_store])
    assert out.startswith("chain intact") and "WARNING" not in out
    drill = next(runs.glob("*phone-draw-v1")) / "drill.toml"
    drill.write_text(drill.read_text() + "\n# edited\n")
    course = next(runs.glob("*taser7-practical-v1")) / "course.toml"
    course.unlink()
    out, _ = run_cli(capsys, ["records", "verify", "--db", badge_store], 3)
    assert out.startswith("chain intact, 2 warnings: 1 qualification record, 1 officer, 1 drill")
    assert f"WARNING: drill run 1: {drill} no longer matches the sha256 the run recorded" in out
    assert f"WARNING: record 1: {course} is missing: the run can no longer be rescored" in out
    out, _ = run_cli(capsys, ["records", "verify", "--db", badge_store, "--json"], 3)
    shown = json.loads(out)
    assert shown["intact"] and [w["record"] for w in shown["warnings"]] == [1, 1]
    # A problem: the counts are given all the same, under a NOT intact headline.
    _sql(badge_store, "UPDATE qualifications SET points = points + 1")
    _, err = run_cli(capsys, ["records", "verify", "--db", badge_store], 1)
    assert err.startswith(
        "chain NOT intact: 1 problem in 1 qualification record, 1 officer, 1 drill run checked"
    )
    assert "record 1: its contents no longer match its hash" in err


def test_the_docs_give_the_stores_current_schema_version() -> None:
    import re

    from range.records.store import _MIGRATIONS

    text = (Path(__file__).parents[1] / "docs" / "records.md").read_text(encoding="utf-8")
    said = re.search(r"schema carries its version \(now (\d+)", text)
    assert said is not None and int(said.group(1)) == len(_MIGRATIONS)


# -- 11: README's score examples work on a range that has run drills and courses -------------


def test_the_readme_score_examples_work_on_a_mixed_runs_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    monkeypatch.chdir(tmp_path)  # runs/ as the README's commands see it
    run_cli(capsys, ["drill", "run", "phone-draw-v1", "--seed", "3"])
    run_cli(capsys, ["course", "run", "fbi-pistol-2019-v1", "--seed", "1"])
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"^openrange score (runs/\S*\*\S*)", readme, re.MULTILINE)
    assert examples  # the tour shows scoring a batch of saved runs
    for pattern in examples:
        found = sorted(str(p) for p in Path().glob(pattern))
        assert found, pattern
        run_cli(capsys, ["score", *found])


def test_a_damaged_roster_row_is_not_listed_as_expiring() -> None:
    from datetime import date

    from range.records.exports import RosterLine, roster_html
    from range.records.store import DAMAGED

    edited = "the record of the last pass was edited: run records verify"
    lines = [
        RosterLine(
            "4411",
            "Ofc. Rivera",
            "Metro PD",
            "fbi-pistol-2019-v1",
            "pistol",
            DAMAGED,
            None,
            None,
            1,
            edited,
        ),
        RosterLine(
            "4412",
            "Ofc. Chen",
            "Metro PD",
            "fbi-pistol-2019-v1",
            "pistol",
            "expires soon",
            "2026-01-01",
            "2026-12-20",
            1,
            "expires in 19 days",
        ),
    ]
    page = roster_html(lines, date(2026, 12, 1), 365)
    expiring = page.split("<b>Expiring or expired:</b>")[1].split("</p>")[0]
    assert "Ofc. Chen" in expiring and "Ofc. Rivera" not in expiring
    damaged = page.split("<b>Damaged records (edited? run records verify):</b>")[1]
    assert damaged.split("</p>")[0].count("Ofc. Rivera") == 1


def test_a_schema_version_set_back_says_so(
    badge_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _sql(badge_store, "UPDATE schema_version SET version = 4")
    argv = ["records", "officers", "--add", "4412", "--name", "Ofc. Chen", "--agency", "Metro PD"]
    _, err = run_cli(capsys, [*argv, "--db", badge_store], 5)
    assert "its schema_version says 4, but the store already holds what schema 5 adds" in err
    assert "the schema_version table was edited; nothing was migrated" in err
