"""Issue 12, new-user pass nu12f, the records side of drill runs: each defect's reproduction,
with the right value a user should see, as a test that failed before its fix (in process)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import new_database
from test_speech_corrections import misheard_warning, write_run

from range.cli import drill as cli_drill
from range.cli.main import main
from range.records.store import Records
from range.runs import drill as runs_drill
from range.runs.runlog import read_events
from scoring.policy import default_policy
from scoring.score import score_run

CLOSE = ["records", "close", "--drill-run", "1", "--by", "Sgt. Ortiz", "--reason"]
SCRIPTED = "SIMULATED (scripted officer phone-draw-correct-v1): PASS"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.sqlite'}"
        return
    yield new_database(request.getfixturevalue("postgres_url"))


def _store(url: str, name: str = "Ofc. Rivera", agency: str = "Metro PD") -> str:
    with Records.open(url) as records:
        records.add_officer("4411", name, agency)
    return url


def _out(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- 1: a scripted drill run kept under a badge is SIMULATED, never the officer's decisions -----


def test_a_scripted_drill_run_under_a_badge_is_simulated_in_history_show_and_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _store(f"sqlite:///{tmp_path / 'records.sqlite'}")
    runs = ["--runs-dir", str(tmp_path / "runs"), "--db", db]
    _out(capsys, ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "1", *runs])
    history = _out(capsys, ["records", "history", "4411", "--db", db])
    (line,) = [x for x in history.splitlines() if x.strip().startswith("drill 1")]
    assert SCRIPTED in line
    listed = json.loads(_out(capsys, ["records", "history", "4411", "--db", db, "--json"]))
    (run,) = listed["drill_runs"]
    assert (run["outcome"], run["officer"], run["officer_kind"]) == (
        SCRIPTED,
        "phone-draw-correct-v1",
        "scripted",
    )
    show = _out(capsys, ["records", "show", "--drill-run", "1", "--db", db])
    assert f"  {SCRIPTED}: no force used; score 100" in show
    assert "played by the scripted officer phone-draw-correct-v1 (no --live)" in show
    (row,) = _csv(
        _out(capsys, ["records", "export", "--format", "csv", "--drill-runs", "--db", db])
    )
    assert (row["outcome"], row["officer"], row["officer_kind"]) == (
        SCRIPTED,
        "phone-draw-correct-v1",
        "scripted",
    )


def test_scripted_runs_under_an_officer_s_name_are_kept_apart_in_detection_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """README's `drill run ... --officer "Ofc. Rivera"` is scripted: `score runs/*` no longer
    counts its decisions in Rivera's hit rate, false alarms and d'."""
    runs = tmp_path / "runs"
    argv = ["drill", "run", "phone-draw-v1", "--officer", "Ofc. Rivera", "--seed", "1"]
    _out(capsys, [*argv, "--runs-dir", str(runs)])
    (run_dir,) = runs.iterdir()
    live = _live_copy(run_dir, tmp_path / "live")
    out = json.loads(_out(capsys, ["score", str(run_dir), str(live), "--json"]))
    rows = {o["officer"]: o for o in out["officers"]}
    assert set(rows) == {"Ofc. Rivera (SIMULATED)", "Ofc. Rivera"}
    assert rows["Ofc. Rivera"]["no_shoot_runs"] == 1  # the live run only
    assert rows["Ofc. Rivera (SIMULATED)"]["no_shoot_runs"] == 1
    assert [r["scripted_by"] for r in out["runs"]] == ["phone-draw-correct-v1", ""]


def _live_copy(run_dir: Path, to: Path) -> Path:
    """The same run as a live officer's (its `run_started` says "live")."""
    shutil.copytree(run_dir, to)
    _as_live(to)
    return to


# -- 2: a drill run is registered when it starts; a killed one is INCOMPLETE, and closable ------


class _Killed(BaseException):
    """Stands for kill -9 in process: nothing after it runs (no recording, no cleanup)."""


def test_a_drill_run_killed_mid_run_is_listed_incomplete_verified_and_closable(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _store(url)
    seen: list[bool] = []

    def killed(session: runs_drill.Session) -> None:
        # Being played now: another process sees it as live, not crashed.
        with Records.open(db, create=False) as other:
            seen.extend(r["live"] for r in other.incomplete_drill_runs())
        raise _Killed

    monkeypatch.setattr(runs_drill.Session, "_run_simulated", killed)
    argv = ["drill", "run", "active-shooter-v1", "--badge", "4411", "--seed", "1", "--db", db]
    with pytest.raises(_Killed):
        main([*argv, "--runs-dir", str(tmp_path / "runs")])
    assert seen == [True]
    (run_dir,) = (tmp_path / "runs").iterdir()
    listed = json.loads(_out(capsys, ["records", "incomplete", "--db", db, "--json"]))
    assert [(r["kind"], r["id"], r["badge"], r["live"]) for r in listed] == [
        ("drill_run", 1, "4411", False)
    ]
    assert listed[0]["run_dir"] == str(run_dir.resolve())
    said = _out(capsys, ["records", "incomplete", "--db", db])
    assert "drill run in progress 1     badge 4411" in said
    verify = _out(capsys, ["records", "verify", "--db", db])
    assert "1 drill run in progress" in verify
    closed = _out(
        capsys,
        [*CLOSE, "killed", "--db", db],
    )
    assert closed.startswith("In-progress drill run #1 closed as drill run 1, INCOMPLETE")
    assert json.loads(_out(capsys, ["records", "incomplete", "--db", db, "--json"])) == []
    verify = json.loads(_out(capsys, ["records", "verify", "--db", db, "--json"]))
    assert (verify["intact"], verify["drill_runs"], verify["drill_runs_in_progress"]) == (
        True,
        1,
        0,
    )
    show = _out(capsys, ["records", "show", "--drill-run", "1", "--db", db])
    assert "INCOMPLETE (simulated: scripted officer active-shooter-correct-v1)" in show
    assert "closed by Sgt. Ortiz" in show and "not graded" in show


def test_a_run_killed_after_it_ended_but_before_it_was_recorded_keeps_its_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's case: events.jsonl whole (run_ended and all) and result.json written, no
    record: closing it keeps what its log scores, not INCOMPLETE."""
    db = _store(f"sqlite:///{tmp_path / 'records.sqlite'}")

    def killed(registration: object, record: object, result: object) -> None:
        raise _Killed

    monkeypatch.setattr(cli_drill._Registration, "finish", killed)
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "1", "--db", db]
    with pytest.raises(_Killed):
        main([*argv, "--runs-dir", str(tmp_path / "runs")])
    monkeypatch.undo()
    argv = ["records", "close", "--drill-run", "1", "--by", "Sgt. Ortiz", "--reason", "kill -9"]
    assert f"drill run 1, {SCRIPTED}, saved" in _out(capsys, [*argv, "--db", db])
    with Records.open(db, create=False) as records:
        assert records.verify() == []
        assert records.drill_run(1)["score"] == 100


# -- 5: speech correct rescores the record too, by a chained amendment ---------------------------


def test_speech_correct_amends_the_kept_record_and_history_says_who_corrected_it(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _store(url)
    run = write_run(tmp_path / "run", misheard_warning())
    score = score_run(read_events(run), default_policy())
    result = {
        "openrange_version": "0.1.0",
        "drill": "knife-approach-v1",
        "officer": "live",
        "seed": 7,
        "score": score.as_json(),
        "run_dir": str(run),
    }
    with Records.open(db, create=False) as records:
        number = records.add_drill_run("4411", result)
    argv = ["speech", "correct", str(run), "--at", "0.9", "--act", "warning.taser"]
    said = _out(capsys, [*argv, "--by", "Sgt Lee", "--db", db])
    with Records.open(db, create=False) as records:
        row = records.drill_run(number)
        assert row["score"] > score.score  # the CEW-02 finding became a credit
        assert row["recorded_score"] == score.score  # the record itself is unchanged
        assert [c["by"] for c in row["corrected"]] == ["Sgt Lee"]
        assert records.verify() == []
    assert (
        f"drill run {number} in the records rescored: {score.score:g} -> {row['score']:g}" in said
    )
    history = _out(capsys, ["records", "history", "4411", "--db", db])
    assert "(corrected by Sgt Lee)" in history
    show = _out(capsys, ["records", "show", "--drill-run", str(number), "--db", db])
    assert f"score {row['score']:g}" in show and "corrected by Sgt Lee" in show


def test_an_amendment_edited_in_the_database_breaks_verify(tmp_path: Path) -> None:
    db = _store(f"sqlite:///{tmp_path / 'records.sqlite'}")
    score = score_run(misheard_warning(), default_policy()).as_json()
    with Records.open(db) as records:
        number = records.add_drill_run(
            "4411", {"openrange_version": "0", "drill": "d-v1", "seed": 1, "score": score}
        )
        records.amend_drill_run(number, "Sgt Lee", score | {"score": 100.0}, {})
    with sqlite3.connect(tmp_path / "records.sqlite") as raw:
        raw.execute("UPDATE drill_run_amendments SET score = 10")
    with Records.open(db) as records:
        (problem,) = records.verify()
        assert problem.what == "drill run amendment 1 no longer matches its hash: it was edited"


# -- 8: run folders are kept absolute; an old relative one is said as such ----------------------


def test_a_drill_run_started_in_another_folder_keeps_an_absolute_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _store(f"sqlite:///{tmp_path / 'records.sqlite'}")
    (tmp_path / "x").mkdir()
    monkeypatch.chdir(tmp_path / "x")
    _out(capsys, ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "1", "--db", db])
    (run_dir,) = (tmp_path / "x" / "runs").iterdir()
    monkeypatch.chdir(tmp_path)
    show = _out(capsys, ["records", "show", "--drill-run", "1", "--db", db])
    assert f"run folder {run_dir} (`openrange score`" in show
    with Records.open(db) as records:
        assert records.drill_run(1)["run_dir"] == str(run_dir)
        # One kept relative by an older OpenRange: said as such, not passed off as a folder.
        records.add_drill_run(
            "4411",
            {
                "openrange_version": "0",
                "drill": "d-v1",
                "seed": 1,
                "score": _score(),
                "run_dir": None,
            },
        )
    with sqlite3.connect(tmp_path / "records.sqlite") as raw:
        raw.execute("UPDATE drill_runs SET run_dir = 'runs/gone' WHERE id = 2")
    show = _out(capsys, ["records", "show", "--drill-run", "2", "--db", db])
    assert "run folder runs/gone (kept relative to the folder the run was started in" in show


def _score() -> dict[str, object]:
    return score_run(misheard_warning(), default_policy()).as_json()


# -- 9: CSV cells a spreadsheet would run as formulas are neutralised --------------------------


def test_csv_exports_neutralise_formula_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _store(
        f"sqlite:///{tmp_path / 'records.sqlite'}", '=HYPERLINK("http://x","y")', "+cmd|calc"
    )
    with Records.open(db) as records:
        records.add_drill_run(
            "4411", {"openrange_version": "0", "drill": "d-v1", "seed": 1, "score": _score()}
        )
        attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 1, "0", [], [])
        records.finish_attempt(attempt, {"points": 0, "max_points": 100, "hits": 0, "passed": 0})
    for kind in ([], ["--drill-runs"]):
        (row,) = _csv(_out(capsys, ["records", "export", "--format", "csv", *kind, "--db", db]))
        assert (row["name"], row["agency"]) == ('\'=HYPERLINK("http://x","y")', "'+cmd|calc")


# -- 10 d: an update that changes nothing writes nothing ----------------------------------------


def test_an_officer_update_that_changes_nothing_adds_no_ledger_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _store(f"sqlite:///{tmp_path / 'records.sqlite'}")
    argv = ["records", "officers", "--update", "4411", "--name", "Ofc. Rivera", "--db", db]
    assert main(argv) == 0
    assert "badge 4411: nothing changed: nothing recorded" in capsys.readouterr().err
    with sqlite3.connect(tmp_path / "records.sqlite") as raw:
        assert raw.execute("SELECT COUNT(*) FROM ledger").fetchone() == (1,)


# -- 10 e, f: the run summary and score name the run, an edited built-in drill flagged ----------


def test_an_edited_built_in_drill_is_flagged_in_the_summary_and_score_names_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    builtin = repo_root / "drills" / "data" / "drills" / "phone-draw-v1.toml"
    edited = tmp_path / "phone-draw-v1.toml"
    edited.write_bytes(builtin.read_bytes() + b"\n# edited\n")
    argv = ["drill", "run", str(edited), "--seed", "1", "--runs-dir", str(tmp_path / "runs")]
    first = _out(capsys, argv).splitlines()[0]
    assert "[phone-draw-v1 (modified, sha256 " in first
    (run_dir,) = (tmp_path / "runs").iterdir()
    head = _out(capsys, ["score", str(run_dir)]).splitlines()[0]
    assert head.startswith(f"Run {run_dir}: phone-draw-v1 (modified, sha256 ")
    assert head.endswith(", officer phone-draw-correct-v1, seed 1")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "events.jsonl").write_text("")
    head = _out(capsys, ["score", str(empty)], code=11).splitlines()[0]  # not graded
    assert head == (
        f"Run {empty}: its event log is empty: its drill, seed and officer are not known"
    )


# -- 10 g: one edited run in a batch is named; the others are scored ----------------------------


def test_score_of_a_batch_scores_the_others_when_one_run_s_drill_copy_was_edited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    for seed in ("1", "2"):
        _out(capsys, ["drill", "run", "phone-draw-v1", "--seed", seed, "--runs-dir", str(runs)])
    good, bad = sorted(runs.iterdir())
    with (bad / "drill.toml").open("a") as copy:
        copy.write("# edited\n")
    assert main(["score", str(good), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert str(good) in out and str(bad) not in out
    assert err.strip() == (
        f"openrange: {bad / 'drill.toml'} does not match the SHA-256 the run recorded"
        f" ({_recorded(bad)[:12]}...): it was changed after the run: not scored"
    )


def _recorded(run_dir: Path) -> str:
    return str(read_events(run_dir)[0].data["drill_sha256"])


# -- 10 h: a bad id is said in the documented words, not as a regular expression ----------------


def test_an_invalid_drill_id_is_said_in_the_documented_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    builtin = repo_root / "drills" / "data" / "drills" / "phone-draw-v1.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text(builtin.read_text().replace('id = "phone-draw-v1"', 'id = "Phone_Draw"', 1))
    assert main(["drill", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert (
        "id: 'Phone_Draw' is not lowercase words joined by '-', ending in -v<number>"
        " (knife-approach-v1)"
    ) in err
    assert "^[a-z" not in err


def test_the_console_trend_keeps_scripted_runs_out_of_the_officer_s_own_rates(
    tmp_path: Path, repo_root: Path
) -> None:
    """The console's per-officer trend counted every run kept under a badge, scripted ones
    too, as the officer's decisions: a scripted run is now a series of its own."""
    from console_support import saved_run

    from range.console.pages import trend

    db = _store(f"sqlite:///{tmp_path / 'records.sqlite'}")
    shoot = ("traffic-stop-handgun-v1", "traffic-stop-handgun-correct-v1")
    saved_run(db, tmp_path / "a", "4411", *shoot, seed=2)  # scripted: a hit
    error = str(repo_root / "tests" / "data" / "officers" / "phone-draw-error-v1.toml")
    live = saved_run(db, tmp_path / "b", "4411", "phone-draw-v1", error, seed=1)
    with Records.open(db) as records:
        (run_dir,) = (tmp_path / "b").iterdir()
        _as_live(run_dir)
        rows, _ = trend(records, "4411")
    assert [(r["simulated"], r["hit_rate"]) for r in rows] == [(True, 1.0), (False, None)]
    assert rows[1]["id"] == live and rows[1]["false_alarm_rate"] == 1.0


def _as_live(run_dir: Path) -> None:
    """Rewrite a saved run's log as a live officer's (its `run_started` says "live")."""
    lines = []
    for record in read_events(run_dir):
        line = record.as_json()
        if record.kind == "run_started":
            line["officer"] = "live"
        lines.append(json.dumps(line))
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
