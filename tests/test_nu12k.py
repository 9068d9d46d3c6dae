"""New-user pass nu12i (issue #12, task f12k): an edited qualification log, `--no-save` with
`--badge`, `--officer` against the badge's officer, a closed INCOMPLETE run's decision,
shooting a subject who posed no threat in the across-runs table, `replay --as` checked first,
and smaller points. Each a reproduction that failed before its fix, in process (real SQLite
and run folders)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from newuser_support import run_cli

from range.records.store import Records


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The user's records (as `score` finds them too), with officers 4411 and 4412."""
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
        records.add_officer("4412", "Ofc. Chen", "Metro PD")
    monkeypatch.setenv("OPENRANGE_DATABASE_URL", db)
    return db


# -- 1: an edited qualification log is flagged as a drill run's is -------------------------------


def test_an_edited_qualification_log_is_flagged_by_score_and_verify(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    argv = ["course", "run", "taser7-practical-v1", "--badge", "4411", "--seed", "1"]
    run_cli(capsys, [*argv, "--runs-dir", str(runs)])
    (folder,) = list(runs.iterdir())
    with Records.open(store, create=False) as records:
        (kept,) = [
            s
            for s in json.loads(records.qualification(1)["detail"])["shots"]
            if s.get("kind") == "attempt_log"
        ]
    log = folder / "events.jsonl"
    assert kept["log_sha256"] == json.loads((folder / "result.json").read_text())["log_sha256"]
    out, _ = run_cli(capsys, ["records", "verify"])
    assert out.startswith("chain intact")
    _, err = run_cli(capsys, ["score", str(folder)])
    assert "warning" not in err
    log.write_text(log.read_text().replace('"seed": 1', '"seed": 2', 1))
    for argv in (["score", str(folder)], ["score", str(folder), "--json"]):
        out, err = run_cli(capsys, argv)
        assert f"openrange: warning: {log}: no longer matches the sha256 kept in result.json" in err
    # rc12 A: a script reading the JSON, or a saved report, is told too (not stderr alone).
    assert json.loads(out)["log_edited"].startswith(f"{log}: no longer matches the sha256")
    _, err = run_cli(capsys, ["report", str(folder), "--out", str(tmp_path / "r.html")])
    assert f"openrange: warning: {log}: no longer matches the sha256 kept in result.json" in err
    page = (tmp_path / "r.html").read_text()
    assert "WARNING: " in page and "no longer matches the sha256 kept in result.json" in page
    # Without result.json the record's own hash finds it.
    (folder / "result.json").unlink()
    _, err = run_cli(capsys, ["score", str(folder)])
    assert f"warning: {log}: qualification record 1 in the records: its log {log} no longer" in err
    _, err = run_cli(capsys, ["records", "verify"], 1)
    assert f"record 1: its log {log} no longer matches the sha256 kept when it was recorded" in err
    out, _ = run_cli(capsys, ["records", "show", "1"])
    assert f"WARNING: its log {log} no longer matches the sha256 kept" in out
    out, _ = run_cli(capsys, ["records", "show", "1", "--json"])
    assert len(json.loads(out)["logs_edited"]) == 1


# -- 3: --no-save writes nothing anywhere: with --badge it is refused --------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["drill", "run", "phone-draw-v1", "--seed", "3"],
        ["course", "run", "taser7-practical-v1", "--seed", "1"],
    ],
)
def test_no_save_with_a_badge_is_refused_and_writes_nothing(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    runs = tmp_path / "runs"
    full = [*argv, "--badge", "4411", "--no-save", "--runs-dir", str(runs), "--db", store]
    _, err = run_cli(capsys, full, 2)
    assert err == (
        "openrange: --no-save with --badge: a recorded run keeps its event log; leave out"
        " --no-save (or --badge, for a run kept nowhere)\n"
    )
    assert not runs.exists()
    with Records.open(store, create=False) as records:
        assert records.counts()["drill_runs"] == 0 and records.count() == 0
        assert records.incomplete() == [] and records.incomplete_drill_runs() == []


# -- 2: --officer agrees with the badge's officer; the across-runs table groups by badge --------


def test_officer_must_be_the_badges_and_runs_are_grouped_by_badge(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    base = ["drill", "run", "phone-draw-v1", "--seed", "3", "--runs-dir", str(runs)]
    _, err = run_cli(capsys, [*base, "--badge", "4411", "--officer", "Ofc. Chen"], 2)
    assert err == (
        "openrange: --officer 'Ofc. Chen' is not badge 4411's officer ('Ofc. Rivera' in the"
        " records): leave out --officer to take the name from the records\n"
    )
    assert not runs.exists()
    run_cli(capsys, [*base, "--badge", "4411"])  # the name from the records
    run_cli(capsys, [*base, "--badge", "4411", "--officer", "4411"])  # the badge itself
    run_cli(capsys, [*base, "--badge", "4411", "--officer", "Ofc. Rivera"])
    run_cli(capsys, [*base, "--badge", "4411", "--officer", " ofc.  RIVERA"])  # case, spacing
    folders = sorted(runs.iterdir())
    for folder in folders:
        started = json.loads((folder / "events.jsonl").read_text().splitlines()[0])
        assert (started["officer_name"], started["badge"]) == ("Ofc. Rivera", "4411")
    out, _ = run_cli(capsys, ["score", *map(str, folders), "--json"])
    (row,) = json.loads(out)["officers"]
    assert row["officer"] == "Ofc. Rivera #4411 (SIMULATED)"
    assert row["shoot_runs"] + row["no_shoot_runs"] == 4


# -- 4: a closed INCOMPLETE run decided nothing; the close names both numbers apart ------------


def test_a_closed_incomplete_run_has_no_decision(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    run_cli(capsys, ["drill", "run", "crisis-talk-down-v1", "--seed", "3", "--runs-dir", str(runs)])
    (folder,) = list(runs.iterdir())
    log = folder / "events.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:40]))  # cut, as a kill
    (folder / "result.json").unlink()
    with Records.open(store, create=False) as records:
        records.add_drill_run(  # drill run 1 exists, so the two numbers differ
            "4412",
            {"drill": "phone-draw-v1", "seed": 1, "openrange_version": "0",
             "score": {"decision": "no force used", "score": 100.0, "passed": True}},
        )  # fmt: skip
        number = records.begin_drill_run("4411", "crisis-talk-down-v1", 3, "0", "x", "", folder)
    out, _ = run_cli(capsys, ["records", "close", "--drill-run", str(number), "--by", "RM Jones",
                           "--reason", "killed in test"])  # fmt: skip
    assert out.startswith(f"In-progress drill run #{number} closed as drill run 2, INCOMPLETE")
    out, _ = run_cli(capsys, ["records", "history", "4411", "--json"])
    (run,) = json.loads(out)["drill_runs"]
    assert run["decision"] is None and run["score"] is None
    out, _ = run_cli(capsys, ["records", "show", "--drill-run", "2", "--json"])
    shown = json.loads(out)
    assert shown["decision"] is None and shown["result"]["score"]["decision"] is None
    out, _ = run_cli(capsys, ["records", "show", "--drill-run", "2"])
    assert "no force used" not in out and "no decision (cut short); not graded" in out
    out, _ = run_cli(capsys, ["records", "history", "4411"])
    assert "no force used" not in out
    out, _ = run_cli(capsys, ["score", str(folder), "--json"], code=11)  # not graded
    assert json.loads(out)["decision"] is None
    out, _ = run_cli(capsys, ["score", str(folder)], code=11)  # rc12 E: its text neither
    assert "no force used" not in out and "Less-lethal first: n/a (cut short" in out


# -- 5: shooting a subject who posed no threat is a false alarm across runs (facts.md §4) -------


def test_shooting_the_unarmed_man_is_a_false_alarm_not_a_hit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    base = ["drill", "run", "two-subjects-one-armed-v1", "--seed", "1", "--runs-dir", str(runs)]
    run_cli(capsys, [*base, "--sim", "two-subjects-one-armed-wrong-man-v1"])
    (wrong,) = list(runs.iterdir())
    out, _ = run_cli(capsys, ["score", str(wrong), "--json"])
    assert "DECISION-01" in {f["rule"] for f in json.loads(out)["findings"]}
    run_cli(capsys, base)  # the expected response: the armed man
    (right,) = [f for f in runs.iterdir() if f != wrong]
    out, _ = run_cli(capsys, ["score", str(wrong), str(right), "--json"])
    (row,) = json.loads(out)["officers"]
    # Each run: a shoot trial (the armed man) and a no-shoot trial (the unarmed one).
    assert (row["shoot_runs"], row["hits"]) == (2, 1)
    assert (row["no_shoot_runs"], row["false_alarms"]) == (2, 1)


# -- 6: `replay --as X` is checked before any runtime is looked for ----------------------------


def test_replay_names_a_bad_as_before_looking_for_a_headset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    run_cli(capsys, ["drill", "run", "phone-draw-v1", "--seed", "3", "--runs-dir", str(runs)])
    (folder,) = list(runs.iterdir())
    monkeypatch.setenv("XR_RUNTIME_JSON", str(tmp_path / "no-runtime.json"))
    _, err = run_cli(capsys, ["replay", str(folder), "--as", "nobody"], 2)
    assert err.startswith("openrange: --as nobody: this run has no such person: choose officer")
    assert "OpenXR" not in err


# -- cosmetic: "1 point", not "1 points" ----------------------------------------------------------


def test_a_pass_mark_of_one_point_is_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builtin = Path(__file__).parents[1] / "drills" / "data" / "courses" / "fbi-pistol-2019-v1.toml"
    text = builtin.read_text(encoding="utf-8").replace(
        "pass_mark = { points = 90 }", "pass_mark = { percent = 1 }"
    )
    text = text.replace('id = "fbi-pistol-2019-v1"', 'id = "one-percent-v1"')
    course = tmp_path / "one.toml"
    course.write_text(text, encoding="utf-8")
    out, _ = run_cli(capsys, ["course", "show", str(course)])
    assert "pass 1 % (1 point)" in out and "1 points" not in out


# -- cosmetic: verify's headline counts its warnings, and its exit status says there were some ---


def test_verify_with_warnings_says_so_in_its_headline_and_status(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    argv = ["drill", "run", "phone-draw-v1", "--seed", "3", "--badge", "4411"]
    run_cli(capsys, [*argv, "--runs-dir", str(runs)])
    out, _ = run_cli(capsys, ["records", "verify"])
    assert out.startswith("chain intact: ")
    drill = next(runs.iterdir()) / "drill.toml"
    drill.write_text(drill.read_text() + "\n# edited\n")
    out, _ = run_cli(capsys, ["records", "verify"], 3)
    assert out.startswith("chain intact, 1 warning: 0 qualification records, 2 officers")


# -- nu12h #17 leftover: `records officers --add` says what it added -------------------------------


def test_adding_an_officer_says_what_was_added(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["records", "officers", "--add", "4413", "--name", "Ofc. Diaz", "--agency", "Metro PD"]
    out, err = run_cli(capsys, argv)
    assert err == "added badge 4413: Ofc. Diaz, Metro PD (chained)\n"
    assert "4413" in out  # the list follows, as before
    _, err = run_cli(capsys, [*argv[:3], "4414", *argv[4:], "--unit", "Patrol", "--json"])
    assert err == "added badge 4414: Ofc. Diaz, Metro PD, Patrol (chained)\n"


def test_each_part_of_a_resumed_attempt_keeps_its_log_hash(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    part1 = tmp_path / "20261201-112841-taser7-practical-v1"  # a crashed first part's folder
    part1.mkdir()
    (part1 / "events.jsonl").write_text('{"kind": "attempt_started", "t": 0.0}\n')
    with Records.open(store, create=False) as records:
        begun = [[{"model": "taser-7", "serial": "SIM-TASER-0001"}], []]
        # Begun when its folder's name says (rc24 #2: a resume holds the row to it).
        made = "2026-12-01T11:28:41+00:00"
        attempt = records.begin_attempt(
            "4412", "taser7-practical-v1", 31, "0.1.0", *begun, shooter="qualified", started=made
        )
        records.record_shot(attempt, {"kind": "attempt_log", "run_dir": str(part1)})
    argv = ["course", "run", "taser7-practical-v1", "--badge", "4412", "--resume", str(attempt)]
    run_cli(capsys, [*argv, "--runs-dir", str(tmp_path / "runs")])
    with Records.open(store, create=False) as records:
        detail = json.loads(records.qualification(1)["detail"])
    logs = [s for s in detail["shots"] if s.get("kind") == "attempt_log"]
    assert len(logs) == 2 and all(len(s["log_sha256"]) == 64 for s in logs)
    run_cli(capsys, ["records", "verify"])
    (part1 / "events.jsonl").write_text('{"kind": "attempt_started", "t": 0.5}\n')
    _, err = run_cli(capsys, ["records", "verify"], 1)
    assert f"record 1: its log {part1 / 'events.jsonl'} no longer matches" in err


def test_the_across_runs_table_keeps_its_columns_for_a_long_officer_row() -> None:
    # rc12 D: "Ofc. Rivera #4411 (SIMULATED)" is wider than the officer column was (24), so the
    # numbers no longer stood under their headings.
    from range.cli.summary import format_detection
    from scoring.detection import Detection

    rows = [
        Detection("Ofc. Rivera #4411 (SIMULATED)", 2, 1, 1, 0),
        Detection("Ofc. Li", 1, 1, 0, 0),
    ]
    header, *lines = format_detection(rows).splitlines()
    end = header.index("shoot runs") + len("shoot runs")
    assert all(line[end - 1].isdigit() and line[end] == " " for line in lines), lines
