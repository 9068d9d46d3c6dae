"""Issue 12, the third new user's pass: each defect they found, as a test that failed first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from newuser_support import rivera_db
from pg_support import new_database

from range.cli.main import main


@pytest.fixture
def db(tmp_path: Path) -> str:
    return rivera_db(tmp_path)


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


# -- 4: a closed crashed attempt is INCOMPLETE, whoever fired it ---------------------------------


@pytest.mark.parametrize(("shooter", "tag"), [("expert", " (simulated"), (None, "")])
def test_a_closed_attempt_is_incomplete_scripted_or_not(
    db: str, capsys: pytest.CaptureFixture[str], shooter: str | None, tag: str
) -> None:
    from range.records.exports import certificate_fields
    from range.records.store import OFFICER, Records

    with Records.open(db) as records:
        attempt = records.begin_attempt(
            "4411", "fbi-pistol-2019-v1", 0, "0.1.0", [], [], shooter=shooter or OFFICER
        )
    assert (
        main(["records", "close", str(attempt), "--by", "Lt. Hale", "--reason", "x", "--db", db])
        == 0
    )
    capsys.readouterr()
    assert main(["records", "show", "1", "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["outcome"].startswith("INCOMPLETE" + tag)
    assert "SIMULATED" not in shown["outcome"]
    assert main(["records", "history", "4411", "--db", db]) == 0
    assert f"INCOMPLETE{tag}" in capsys.readouterr().out
    with Records.open(db, create=False) as records:
        assert certificate_fields(records, 1)["result"].startswith("INCOMPLETE" + tag)


# -- 2: every review command on a course folder, a drill folder, an empty or garbage one ---------


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    runs = tmp_path_factory.mktemp("runs")
    assert main(["course", "run", "texas-ltc-b27-v1", "--runs-dir", str(runs / "c")]) == 0
    assert (
        main(["drill", "run", "phone-draw-v1", "--seed", "1", "--runs-dir", str(runs / "d")]) == 0
    )
    (empty := runs / "empty").mkdir()
    (blank := runs / "blank").mkdir()
    (blank / "events.jsonl").write_bytes(b"")
    (garbage := runs / "garbage").mkdir()
    (garbage / "events.jsonl").write_bytes(b"\x00\xffnot json\n")
    return {
        "course": next((runs / "c").iterdir()),
        "drill": next((runs / "d").iterdir()),
        "empty": empty,
        "blank": blank,
        "garbage": garbage,
        "missing": runs / "missing",
    }


REVIEWS = {
    "report": lambda d, out: ["report", str(d), "--out", str(out / "r.html")],
    "mirror": lambda d, out: ["mirror", str(d), "--frames", "2"],
    "score": lambda d, out: ["score", str(d)],
    "replay": lambda d, out: ["replay", str(d), "--png", str(out / "png"), "--every", "5"],
}


@pytest.mark.parametrize("folder", ["course", "drill", "empty", "blank", "garbage", "missing"])
@pytest.mark.parametrize("command", sorted(REVIEWS))
def test_every_review_command_works_or_says_one_line(
    folders: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    folder: str,
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    capsys.readouterr()
    code = main(REVIEWS[command](folders[folder], tmp_path))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err
    works = folder in ("course", "drill") and (folder, command) not in (
        ("course", "replay"),
        ("course", "mirror"),
    )
    if works and command != "mirror":
        assert code == 0, err
        return
    if (folder, command) == ("blank", "score"):  # a run cut before its first record
        assert code == 11 and "INCOMPLETE" in out  # not graded, as `drill run` exits
        return
    lines = [line for line in err.splitlines() if line.startswith("openrange: ")]
    assert code != 0 and len(lines) == 1, err
    if folder == "course":
        assert "is a qualification attempt" in lines[0] and "openrange report" in lines[0]
    elif folder in ("empty", "blank", "garbage", "missing"):
        assert str(folders[folder]) in lines[0]


@pytest.mark.parametrize("folder", ["course", "blank"])
def test_the_consoles_debrief_names_a_folder_that_is_not_a_drill_run(
    folders: dict[str, Path], folder: str
) -> None:
    from range.console.pages import debrief

    with pytest.raises(ValueError, match=str(folders[folder])):
        debrief(folders[folder])


# -- 3: an attempt keeps the course file's own bytes, and its hash is of those bytes -------------


def test_an_attempt_keeps_and_hashes_the_course_file_it_fired(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    from drills.course import builtin_course_files
    from range.records.store import Records

    text = builtin_course_files()["texas-ltc-b27-v1"].read_text(encoding="utf-8")
    text = text.replace('id = "texas-ltc-b27-v1"', 'id = "metro-ltc-v1"')
    assert 'id = "metro-ltc-v1"' in text
    mine = tmp_path / "metro.toml"
    mine.write_bytes(b"# Metro PD's copy, kept as written\n" + text.encode("utf-8"))
    digest = hashlib.sha256(mine.read_bytes()).hexdigest()
    runs = tmp_path / "runs"
    argv = ["course", "run", str(mine), "--badge", "4411", "--db", db, "--runs-dir", str(runs)]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    (folder,) = runs.iterdir()
    assert (folder / "course.toml").read_bytes() == mine.read_bytes()
    assert not (folder / "course.json").exists()
    started = json.loads((folder / "events.jsonl").read_text().splitlines()[0])
    assert started["course_sha256"] == digest and started["course_file"] == str(mine)
    with Records.open(db, create=False) as records:
        row = records.qualification(result["qualification"])
        assert (row["course_sha256"], row["course_origin"]) == (digest, "file")
    mine.write_text("edited since", encoding="utf-8")  # the folder's copy is what is rescored
    assert main(["score", str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["points"] == result["score"]["points"]


def test_an_attempt_folder_that_kept_course_json_is_still_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attempts saved before kept the course's model as JSON (and hashed that JSON)."""
    import hashlib

    from drills.course import find_course

    runs = tmp_path / "runs"
    assert main(["course", "run", "texas-ltc-b27-v1", "--runs-dir", str(runs), "--json"]) == 0
    points = json.loads(capsys.readouterr().out)["score"]["points"]
    (folder,) = runs.iterdir()
    (folder / "course.toml").unlink()
    old = find_course("texas-ltc-b27-v1").model_dump_json(indent=2).encode("utf-8")
    (folder / "course.json").write_bytes(old)
    lines = (folder / "events.jsonl").read_text().splitlines()
    started = json.loads(lines[0])
    started["course_sha256"] = hashlib.sha256(old).hexdigest()
    started.pop("course_file", None)
    lines[0] = json.dumps(started, sort_keys=True)
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["score", str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["points"] == points


# -- 1: a resumed attempt is rescored whole, from both parts' logs, whichever folder is given ----

CRASH_MID_COURSE = """
import os, sys
from pathlib import Path
from drills.course import find_course, find_shooter
from range.runs.course import CourseConfig, run_course
from range.records.store import Records

shots = 0
record_shot = Records.record_shot
last, before = int(sys.argv[3]), sys.argv[4] == "before"


def record_then_die(self, attempt, shot):
    global shots
    shots += shot.get("kind") == "shot"
    if shots == last and before:  # logged, never kept: the power goes between the two
        os.kill(os.getpid(), 9)
    record_shot(self, attempt, shot)
    if shots == last:
        os.kill(os.getpid(), 9)


Records.record_shot = record_then_die
records = Records.open(sys.argv[1])
config = CourseConfig(
    find_course("fbi-pistol-2019-v1"), find_shooter("expert"), 4, runs_dir=Path(sys.argv[2])
)
run_course(config, records=records, badge="4411")
"""


def _score(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["score", str(folder), "--json"]) == 0
    scored: dict[str, object] = json.loads(capsys.readouterr().out)
    return scored


@pytest.mark.parametrize(("last", "when"), [(8, "after"), (7, "before")])
def test_a_resumed_attempt_scores_the_same_from_either_folder_as_its_record(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str], last: int, when: str
) -> None:
    import signal
    import subprocess
    import sys

    from range.records.store import Records

    runs = tmp_path / "runs"
    args = [sys.executable, "-c", CRASH_MID_COURSE, db, str(runs), str(last), when]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    (first,) = runs.iterdir()
    assert main(["records", "incomplete", "--db", db, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["shots"] == (
        last if when == "after" else last - 1
    )  # where it was logged: no shot
    cut = _score(first, capsys)
    # The expert (a scripted shooter) fired it: simulated, never graded either way.
    assert (cut["outcome"], cut["complete"], cut["passed"]) == (
        "INCOMPLETE (simulated)",
        False,
        None,
    )
    argv = ["course", "run", "fbi-pistol-2019-v1", "--badge", "4411", "--shooter", "expert"]
    assert main([*argv, "--db", db, "--resume", "1", "--runs-dir", str(runs), "--json"]) == 0
    number = json.loads(capsys.readouterr().out)["qualification"]
    (resumed,) = [f for f in runs.iterdir() if f != first]
    with Records.open(db, create=False) as records:
        row = records.qualification(number)
    stored = json.loads(row["detail"])["score"]
    for folder in (first, resumed):
        scored = _score(folder, capsys)
        assert (scored["points"], scored["hits"]) == (row["points"], row["hits"]), folder
        # The record keeps the score in the shape `score --json` gives (judged_attempt).
        assert scored == stored
        assert scored["complete"] is True
        report = tmp_path / f"{folder.name}.html"
        assert main(["report", str(folder), "--out", str(report)]) == 0
        assert f"{row['points']} points" in report.read_text()
    assert main(["records", "show", str(number), "--db", db]) == 0
    shown = capsys.readouterr().out
    assert f"sheet total {row['points']} = recorded {row['points']} points" in shown
    assert str(first.resolve()) in shown and str(resumed.resolve()) in shown


def test_a_resumed_part_whose_first_part_is_gone_says_where_the_attempt_is(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil
    import subprocess
    import sys

    runs = tmp_path / "runs"
    args = [sys.executable, "-c", CRASH_MID_COURSE, db, str(runs), "8", "after"]
    subprocess.run(args, capture_output=True, text=True)
    (first,) = runs.iterdir()
    argv = ["course", "run", "fbi-pistol-2019-v1", "--badge", "4411", "--shooter", "expert"]
    assert main([*argv, "--db", db, "--resume", "1", "--runs-dir", str(runs)]) == 0
    (resumed,) = [f for f in runs.iterdir() if f != first]
    shutil.rmtree(first)
    capsys.readouterr()
    assert main(["score", str(resumed)]) == 2
    line = _err_line(capsys)
    assert str(first.resolve()) in line and "records show 1" in line


# -- 5: `records show` shows a drill run too, as text and JSON ----------------------------------


def test_records_show_shows_a_recorded_drill_run(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    argv = ["drill", "run", "phone-draw-v1", "--seed", "1", "--badge", "4411", "--db", db]
    assert main([*argv, "--runs-dir", str(runs), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert main(["records", "show", "--drill-run", "1", "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["id"], shown["badge"], shown["drill"]) == (1, "4411", "phone-draw-v1")
    verdict = "PASS" if result["score"]["passed"] else "FAIL"
    assert shown["outcome"] == f"SIMULATED (scripted officer {result['officer']}): {verdict}"
    assert shown["drill_sha256"] == result["drill_sha256"]
    assert shown["result"]["score"]["findings"] == result["score"]["findings"]
    assert main(["records", "show", "--drill-run", "1", "--db", db]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Drill run 1: badge 4411, phone-draw-v1, ")
    assert f"{shown['outcome']}: {result['score']['decision']}" in text
    for finding in result["score"]["findings"]:
        assert finding["message"] in text
    assert str(next(runs.iterdir())) in text


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--drill-run", "7"], "no drill run 7"),
        ([], "give a qualification record's number"),
        (["1", "--drill-run", "1"], "give a qualification record's number"),
    ],
)
def test_records_show_names_what_is_wrong_in_one_line(
    db: str, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    assert main(["records", "show", *argv, "--db", db]) != 0
    assert said in _err_line(capsys)


def test_records_show_help_teaches_both_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["records", "show", "--help"])
    out = capsys.readouterr().out
    assert "records show --drill-run 5" in out and "records history" in out


# -- the range master's flow: a resume keeps the attempt's scripted shooter, as it keeps its seed -


def test_a_resume_without_shooter_keeps_the_attempts_own(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import Records

    with Records.open(db) as records:
        attempt = records.begin_attempt(
            "4411", "texas-ltc-b27-v1", 3, "0.1.0", [], [], shooter="expert"
        )
    argv = [
        "course",
        "run",
        "texas-ltc-b27-v1",
        "--badge",
        "4411",
        "--db",
        db,
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert main([*argv, "--resume", str(attempt), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["shooter"] == "expert"
    assert (
        f"Resuming in-progress attempt #{attempt} with its scripted shooter expert." in captured.err
    )


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_where_a_part_was_logged_is_kept_but_is_no_shot(
    request: pytest.FixtureRequest, tmp_path: Path, dialect: str
) -> None:

    from range.records.store import ATTEMPT_LOG, Records

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    if dialect == "postgresql":
        url = new_database(request.getfixturevalue("postgres_url"))
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 0, "0.1.0", [], [])
        records.record_shot(attempt, {"kind": ATTEMPT_LOG, "run_dir": "/runs/a"})
        records.record_shot(attempt, {"kind": "shot", "stage": 0, "string": 0})
        (listed,) = records.incomplete()
        assert listed["shots"] == 1
        kept = records.resume_attempt(attempt, "4411", "fbi-pistol-2019-v1")
        assert kept[0] == {"kind": ATTEMPT_LOG, "run_dir": "/runs/a"}


def test_verify_counts_each_chain_and_names_attempts_in_progress(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import Records

    with Records.open(db) as records:
        records.begin_attempt("4411", "fbi-pistol-2019-v1", 0, "0.1.0", [], [])
    assert main(["records", "verify", "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "chain intact: 0 qualification records, 1 officer, 0 drill runs",
        "1 attempt in progress, not chained until finished or closed: see"
        " `openrange records incomplete`",
    ]
