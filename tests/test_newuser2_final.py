"""Issue 12, the second new user's pass, what was left: each example as a test that failed first."""

from __future__ import annotations

import hashlib
import html
import json
import os
import sqlite3
from pathlib import Path

import pytest
from newuser_support import rivera_db

from drills.schema import builtin_drill_files
from range.cli.main import main
from range.records.store import Records


@pytest.fixture
def db(tmp_path: Path) -> str:
    return rivera_db(tmp_path)


def _edited_drill(tmp_path: Path) -> Path:
    """phone-draw-v1 with its title changed: an edited file that keeps a built-in id."""
    text = builtin_drill_files()["phone-draw-v1"].read_text(encoding="utf-8")
    edited = tmp_path / "k60.toml"
    edited.write_text(text.replace('title = "', 'title = "Edited: ', 1), encoding="utf-8")
    assert edited.read_text(encoding="utf-8") != text
    return edited


def _record_edited_then_builtin(tmp_path: Path, db: str) -> str:
    """Badge 4411 runs the edited phone-draw-v1, then the built-in one, into `db`; the edited
    file's sha256 (hex)."""
    edited = _edited_drill(tmp_path)
    run = ["drill", "run", "--seed", "1", "--runs-dir", str(tmp_path / "runs"), "--badge", "4411"]
    run += ["--db", db]
    assert main([*run[:2], str(edited), *run[2:]]) == 0
    assert main([*run[:2], "phone-draw-v1", *run[2:]]) == 0
    return hashlib.sha256(edited.read_bytes()).hexdigest()


# -- item 4: an edited drill that keeps a built-in id is recorded as modified ---------------------


def test_an_edited_drill_with_a_builtin_id_is_recorded_as_modified(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = _record_edited_then_builtin(tmp_path, db)
    capsys.readouterr()
    assert main(["records", "history", "4411", "--db", db]) == 0
    text = capsys.readouterr().out
    (modified_line,) = [line for line in text.splitlines() if "drill 1 " in line]
    assert f"phone-draw-v1 (modified, sha256 {digest[:12]})" in modified_line
    (builtin_line,) = [line for line in text.splitlines() if "drill 2 " in line]
    assert "modified" not in builtin_line and "phone-draw-v1" in builtin_line
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    first, second = json.loads(capsys.readouterr().out)["drill_runs"]
    assert first["drill"] == f"phone-draw-v1 (modified, sha256 {digest[:12]})"
    assert first["drill_id"] == "phone-draw-v1"
    assert first["drill_modified"] is True
    assert first["drill_sha256"] == digest
    assert first["drill_origin"] == "modified"
    assert second["drill"] == "phone-draw-v1"
    assert second["drill_modified"] is False
    assert second["drill_origin"] == "builtin"


def test_a_drill_runs_origin_and_hash_are_chained(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = _edited_drill(tmp_path)
    argv = [
        "drill",
        "run",
        str(edited),
        "--seed",
        "1",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--badge",
        "4411",
    ]
    assert main([*argv, "--db", db]) == 0
    assert main(["records", "verify", "--db", db]) == 0
    capsys.readouterr()
    path = db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as con:  # pass the edited run off as the built-in drill
        con.execute("UPDATE drill_runs SET drill_origin = 'builtin'")
    assert main(["records", "verify", "--db", db]) == 1
    assert "drill run 1 no longer matches its hash: it was edited" in capsys.readouterr().err


def test_drill_runs_kept_before_schema_5_keep_their_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from range.records import store

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    latest = store.SCHEMA_VERSION
    monkeypatch.setattr(store, "_MIGRATIONS", store._MIGRATIONS[:4])
    monkeypatch.setattr(store, "SCHEMA_VERSION", 4)
    with Records.open(url) as records:  # a store as schema 4 kept it, with one drill run
        records.add_officer("4411", "J. Rivera", "Metro PD")
        old = {
            "badge": "4411",
            "drill": "phone-draw-v1",
            "seed": 1,
            "recorded": "2026-01-01T00:00:00+00:00",
            "software_version": "0.1",
            "decision": "appropriate",
            "score": 90.0,
            "passed": 1,
            "run_dir": None,
            "result": "{}",
        }
        with records.transaction(exclusive=True):
            records.execute(
                f"INSERT INTO drill_runs ({', '.join(old)}) VALUES ({', '.join('?' * len(old))})",
                *old.values(),
            )
            records._append("drill_run", "1", store.drill_run_digest({"id": 1, **old}))
    monkeypatch.undo()
    with Records.open(url) as records:
        assert records.schema_version == latest
        assert records.verify() == []
        (run,) = records.drill_runs("4411")
        assert store.drill_label(run) == "phone-draw-v1"


def test_a_modified_drill_run_says_so_on_the_console(tmp_path: Path, db: str) -> None:
    from range.console.pages import recent_runs

    edited = _edited_drill(tmp_path)
    argv = [
        "drill",
        "run",
        str(edited),
        "--seed",
        "1",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--badge",
        "4411",
    ]
    assert main([*argv, "--db", db]) == 0
    with Records.open(db) as records:
        (row,) = recent_runs(records, "4411")
    assert row["drill"].startswith("phone-draw-v1 (modified, sha256 ")


# -- a scripted shooter's attempt is a simulation in `score` and the report, and in --json ------


@pytest.fixture(scope="module")
def simulated_attempt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    import contextlib
    import io

    root = tmp_path_factory.mktemp("attempts")
    argv = ["course", "run", "fbi-pistol-2019-v1", "--shooter", "expert", "--seed", "1"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--runs-dir", str(root), "--json"]) == 0
    shown = json.loads(out.getvalue())
    return Path(str(shown["run_dir"])), shown


def test_course_run_json_says_simulated(simulated_attempt: tuple[Path, dict[str, object]]) -> None:
    _, shown = simulated_attempt
    assert shown["simulated"] is True
    score = shown["score"]
    assert isinstance(score, dict)
    # the shooter did pass, but it is no qualification (issue #12, nu12g)
    assert (score["outcome"], score["passed"], score["would_pass"]) == (
        "SIMULATED (would be QUALIFIED)",
        None,
        True,
    )


def test_score_of_a_scripted_attempt_says_simulated(
    simulated_attempt: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = simulated_attempt
    assert main(["score", str(run_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if line.startswith("QUALIFIED")]
    (verdict,) = [line for line in lines if line.startswith("SIMULATED")]
    assert verdict.startswith("SIMULATED (would be QUALIFIED), not a qualification: ")
    assert main(["score", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["simulated"] is True


def test_the_report_of_a_scripted_attempt_says_simulated(
    simulated_attempt: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    from range.review.report import write_report

    run_dir, _ = simulated_attempt
    page = write_report(run_dir, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<b>QUALIFIED</b>" not in page
    assert (
        "<b>SIMULATED</b> (scripted shooter expert): not a qualification (would be QUALIFIED)"
        in page
    )


# -- item 9: a fresh run whose TASER never connected says so, not "older format" ----------------


@pytest.fixture(scope="module")
def no_connection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh run of taser-failure-v1: the parka defeats both cartridges, no cycle."""
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    drill = find_drill("taser-failure-v1")
    assert drill.expected_officer is not None
    officer = find_officer(drill.expected_officer)
    root = tmp_path_factory.mktemp("runs")
    result = run_drill(RunConfig(drill, officer, 1, runs_dir=root))
    assert result.run_dir is not None
    return result.run_dir


def test_a_fresh_run_whose_probes_never_connected_says_so(
    no_connection: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["score", str(no_connection)]) == 0
    out = capsys.readouterr().out
    assert "TASER cycles:      no cycle: the probes did not connect" in out
    assert "older format" not in out and "RESCORE-01" not in out
    assert main(["score", str(no_connection), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["taser_cycles_note"] == "no cycle: the probes did not connect"
    assert shown["not_judged"] == []


def test_an_older_log_without_cycles_is_still_named_older(
    no_connection: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    old = tmp_path / "old"
    shutil.copytree(no_connection, old)
    lines = (old / "events.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    del first["crowds"]  # as logs written before TASER cycles were logged
    lines[0] = json.dumps(first)
    (old / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["score", str(old)]) == 0
    out = capsys.readouterr().out
    assert "no TASER cycles in this log (older format)" in out
    assert "probes did not connect" not in out


# -- item 8: `python -m range` in a folder that holds a range/ folder -----------------------------


@pytest.mark.parametrize("how", ["module", "script"])
def test_python_m_range_works_beside_a_range_folder(tmp_path: Path, how: str) -> None:
    import subprocess
    import sys

    (tmp_path / "range").mkdir()  # an empty folder: Python would take it for a namespace package
    bindir = Path(sys.executable).parent
    argv = [sys.executable, "-m", "range"] if how == "module" else [str(bindir / "openrange")]
    if not Path(argv[0]).exists():
        pytest.skip(f"no {argv[0]}: OpenRange is not installed beside this Python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    done = subprocess.run(
        [*argv, "demo", "--seed", "1", "--no-save"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert "knife-approach-v1" in done.stdout.splitlines()[0]


# -- minor: a policy's cross-checks name their line ------------------------------------------------

POLICY = Path(__file__).resolve().parent.parent / "scoring" / "data" / "policy-default.toml"


def _policy_line(text: str, needle: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[: text.index(needle, start)].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "after", "expected"),
    [
        (
            "critical_reaction_s = 3.0",
            "critical_reaction_s = 0.5",
            "",
            "critical_reaction_s: 0.5 s must be at least max_reaction_s (1.5 s)",
        ),
        ('id = "HOLD-01"', 'id = "HOLD-99"', "", "rules[{n}].id: unknown rule id 'HOLD-99'"),
        (
            'rule = "COVER-01"',
            'rule = "NOPE-09"',
            'id = "cover_reach_ft"',
            "settings[{n}].rule: setting cover_reach_ft: no rule 'NOPE-09'",
        ),
        (
            "number = 2.0",
            "number = -3.0",
            'id = "cover_reach_ft"',
            "settings[{n}].number: setting cover_reach_ft: -3 is out of range:"
            " allowed 0 < cover_reach_ft <= 50",
        ),
    ],
    ids=["reaction-order", "unknown-rule", "setting-rule", "setting-value"],
)
def test_a_policy_cross_check_names_its_line(
    tmp_path: Path, old: str, new: str, after: str, expected: str
) -> None:
    import tomllib

    from physics.datafiles import DataFileError
    from scoring.policy import load_policy

    text = POLICY.read_text(encoding="utf-8")
    start = text.index(after) if after else 0
    at = text.index(old, start)
    edited = text[:at] + new + text[at + len(old) :]
    path = tmp_path / "p.toml"
    path.write_text(edited, encoding="utf-8")
    line = _policy_line(edited, new, after)
    data = tomllib.loads(edited)
    section = "rules" if "rules[" in expected else "settings"
    rows = data[section]
    wanted = "HOLD-99" if section == "rules" else "cover_reach_ft"
    n = next(i for i, row in enumerate(rows) if row["id"] == wanted)
    with pytest.raises(DataFileError) as caught:
        load_policy(path)
    assert str(caught.value) == f"{path}:{line}: {expected.format(n=n)}"


# -- minor: a course's distance errors speak the field's own unit, without float noise ----------

COURSES = Path(__file__).resolve().parent.parent / "drills" / "data" / "courses"


@pytest.mark.parametrize(
    ("course", "old", "new", "expected"),
    [
        (
            "fbi-pistol-2019-v1",
            "distance_yd = 3.0",
            "distance_yd = 33.4",
            "distance_yd: 33.4 yd is beyond the lane: allowed 0.5 yd (1.5 ft) <= distance"
            " <= 25 yd (75 ft)",
        ),
        (
            "fbi-pistol-2019-v1",
            "distance_yd = 3.0",
            "distance_yd = 25.000001",
            "distance_yd: 25.000001 yd is beyond the lane: allowed 0.5 yd (1.5 ft) <="
            " distance <= 25 yd (75 ft)",
        ),
        (
            "fbi-pistol-2019-v1",
            "distance_yd = 3.0",
            "distance_ft = 80.1",
            "distance_ft: 80.1 ft is beyond the lane: allowed 1.5 ft <= distance <= 75 ft",
        ),
        (
            "taser7-practical-v1",
            "distance_ft = 7.0",
            "distance_yd = 9.1",
            "distance_yd: 9.1 yd is beyond the taser7-cq cartridge's 8.333 yd (25 ft) of wire",
        ),
    ],
)
def test_course_distance_errors_use_the_fields_unit(
    tmp_path: Path, course: str, old: str, new: str, expected: str
) -> None:
    from drills.course import load_course
    from physics.datafiles import DataFileError

    text = (COURSES / f"{course}.toml").read_text(encoding="utf-8")
    path = tmp_path / "c.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_course(path)
    line = text[: text.index(old)].count("\n") + 1
    assert str(caught.value) == f"{path}:{line}: stages[0].strings[0].{expected}"


# -- minor: grammar: "an assaultive threat", "an officer_action record" ---------------------------


def test_an_assaultive_threat_takes_an(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "run", "taser-failure-v1", "--seed", "1", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "not feasible against an assaultive threat" in out
    assert " a assaultive" not in out


def test_an_officer_action_record_takes_an(no_connection: Path) -> None:
    from drills.events import RecordError, check_record

    lines = (no_connection / "events.jsonl").read_text(encoding="utf-8").splitlines()
    action = next(json.loads(x) for x in lines if json.loads(x)["kind"] == "officer_action")
    with pytest.raises(RecordError) as caught:
        check_record({**action, "colour": "red"})
    assert "unknown field for an officer_action record" in str(caught.value)


@pytest.mark.parametrize(
    ("noun", "said"),
    [
        ("knife", "a knife"),
        ("assaultive", "an assaultive"),
        ("officer_action", "an officer_action"),
    ],
)
def test_the_article_fits_the_word(noun: str, said: str) -> None:
    from drills.wording import article

    assert article(noun) == said


# -- minor: a modified policy is flagged on the Score: line and by `policy show` ----------------


def _modified_policy(tmp_path: Path) -> tuple[Path, str]:
    text = POLICY.read_text(encoding="utf-8")
    path = tmp_path / "agency.toml"
    path.write_text(text.replace("pass_score = 70.0", "pass_score = 80.0"), encoding="utf-8")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_score_with_a_modified_policy_flags_it_on_the_score_line(
    no_connection: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, digest = _modified_policy(tmp_path)
    assert main(["score", str(no_connection), "--policy", str(path)]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("Score:")]
    assert line.endswith(f"(policy default-continuum-v1 (modified, sha256 {digest}))")


def test_policy_show_flags_a_modified_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, digest = _modified_policy(tmp_path)
    assert main(["policy", "show", str(path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"default-continuum-v1 (modified, sha256 {digest}): ")
    assert main(["policy", "show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["label"] == f"default-continuum-v1 (modified, sha256 {digest})"
    assert main(["policy", "show", str(POLICY)]) == 0
    assert capsys.readouterr().out.startswith("default-continuum-v1: ")


# -- minor: an INCOMPLETE log prints no verdict lines -------------------------------------------


def test_an_incomplete_log_prints_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    drill = find_drill("phone-draw-v1")  # the officer holds fire: HOLD-01 at the end
    assert drill.expected_officer is not None
    officer = find_officer(drill.expected_officer)
    cut = run_drill(RunConfig(drill, officer, 1, runs_dir=tmp_path)).run_dir
    assert cut is not None
    assert main(["score", str(cut)]) == 0
    assert "HOLD-01" in capsys.readouterr().out
    lines = (cut / "events.jsonl").read_text(encoding="utf-8").splitlines()
    kept = [x for x in lines if json.loads(x)["kind"] != "run_ended"]
    assert len(kept) == len(lines) - 1
    (cut / "events.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    assert main(["score", str(cut)]) == 11  # not graded (README's exit statuses)
    out = capsys.readouterr().out
    assert "Score:             INCOMPLETE" in out
    assert "Decision:" not in out
    assert "HOLD-01" not in out and "DEESC-02" not in out
    assert main(["score", str(cut), "--json"]) == 11
    shown = json.loads(capsys.readouterr().out)
    assert (shown["outcome"], shown["score"]) == ("INCOMPLETE", None)
    from range.review.report import write_report

    page = write_report(cut, tmp_path / "r.html").read_text(encoding="utf-8")
    assert shown["decision"] is None  # a run cut short decided nothing (task f12k, nu12i 4)
    from range.runs.runlog import read_events
    from scoring.policy import load_policy
    from scoring.score import score_run

    decided = score_run(read_events(cut), load_policy(None)).decision  # what it would say
    assert decided and f"<b>{html.escape(decided)}</b>" not in page
    assert "INCOMPLETE  (the log stops at" in page and "HOLD-01" not in page
    assert not [f for f in shown["findings"] if f["rule"] in ("HOLD-01", "DEESC-02")]


# -- minor: `mirror /nonexist` names the path before any display complaint ------------------------


def test_mirror_names_a_missing_run_before_the_display(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    missing = tmp_path / "nonexist"
    assert main(["mirror", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"openrange: {missing} does not exist"]


# -- minor: analyze and calibrate arguments are bounded -------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["analyze", "spread", "--cartridge", "taser7-cq", "--distance", "-5ft"],
            "openrange: distance '-5ft': each distance must be more than 0 and at most 3000 ft"
            " (1000 yd)",
        ),
        (
            ["analyze", "trajectory", "--load", "9mm-124", "--to", "1e308yd"],
            "openrange: length '1e308yd': must be more than 0 and at most 3000 ft (1000 yd)",
        ),
        (
            ["analyze", "trajectory", "--load", "9mm-124", "--zero", "0yd"],
            "openrange: length '0yd': must be more than 0 and at most 3000 ft (1000 yd)",
        ),
        (
            ["analyze", "spread", "--cartridge", "taser7-cq", "--distance", "5", "--trials"],
            "openrange analyze spread: error: argument --trials: 1000001: a number of trials"
            " from 1 to 1000000 is needed",
        ),
        (
            [
                *["calibrate", "boresight", "--emulate", "--device", "P-1"],
                *["--armorer", "A. Smith", "--timeout", "1e308"],
            ],
            "openrange calibrate boresight: error: argument --timeout: 1e308: more than 0 and at"
            " most 3600 s is needed",
        ),
    ],
    ids=["distance", "to", "zero", "trials", "timeout"],
)
def test_analyze_and_calibrate_arguments_are_bounded(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if argv[-1] == "--trials":
        argv = [*argv, "1000001"]
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(str(exc.code))
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == expected


# -- minor: `course show` cites what is in the repository ------------------------------------------


@pytest.mark.parametrize(
    "course",
    ["fbi-pistol-2019-v1", "kansas-style-70-v1", "taser7-practical-v1", "texas-ltc-b27-v1"],
)
def test_course_show_cites_nothing_outside_the_repository(
    course: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["course", "show", course]) == 0
    out = capsys.readouterr().out
    source = out.split("Source:\n", 1)[1].splitlines()[0]
    assert "shared/reference" not in out and "facts.md" not in source
    assert source.strip().startswith("docs/courses.md")


def test_the_drill_run_csv_flags_a_modified_drill(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import io

    digest = _record_edited_then_builtin(tmp_path, db)
    capsys.readouterr()
    assert main(["records", "export", "--format", "csv", "--drill-runs", "--db", db]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["drill"] for r in rows] == [
        f"phone-draw-v1 (modified, sha256 {digest[:12]})",
        "phone-draw-v1",
    ]
    assert rows[0]["drill_sha256"] == digest and rows[0]["drill_origin"] == "modified"
    assert rows[1]["drill_origin"] == "builtin"
    assert rows[0]["name"] == "J. Rivera"
    assert rows[0]["outcome"] == "SIMULATED (scripted officer phone-draw-correct-v1): PASS"


def test_the_console_run_page_names_a_modified_drill(tmp_path: Path, db: str) -> None:
    import jinja2

    from range.console.pages import drill_run

    edited = _edited_drill(tmp_path)
    argv = ["drill", "run", str(edited), "--seed", "1", "--badge", "4411"]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--db", db]) == 0
    with Records.open(db) as records:
        row = drill_run(records, 1)
    assert row["drill_label"].startswith("phone-draw-v1 (modified, sha256 ")
    templates = Path(__file__).resolve().parent.parent / "range" / "console" / "templates"
    body = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), autoescape=True)
    d = {"drill": {"id": "phone-draw-v1"}, "started": {"seed": 1, "officer_name": "A"}}
    d["score"] = {"decision": "no force used", "score": 100.0}
    page = body.get_template("debrief_body.html").render(row=row, d=d, track="[]")
    assert "Drill phone-draw-v1 (modified, sha256 " in page
