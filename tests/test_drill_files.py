"""`drill run FILE.toml` runs that file, and a saved run keeps the drill it ran."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from drills.schema import builtin_drill_dir
from range.cli.main import main
from range.runs.runlog import read_events

BUILTIN = builtin_drill_dir() / "phone-draw-v1.toml"


def _run(capsys: pytest.CaptureFixture[str], drill: str, runs: Path) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(["drill", "run", drill, "--seed", "1", "--runs-dir", str(runs), "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_a_drill_file_with_a_new_id_runs_and_its_hash_and_copy_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It failed with "no drill 'agency-phone-draw-v1'"."""
    mine = tmp_path / "agency.toml"
    mine.write_text(
        BUILTIN.read_text(encoding="utf-8").replace('"phone-draw-v1"', '"agency-phone-draw-v1"'),
        encoding="utf-8",
    )
    result = _run(capsys, str(mine), tmp_path / "runs")
    digest = hashlib.sha256(mine.read_bytes()).hexdigest()
    assert result["drill"] == "agency-phone-draw-v1" and result["drill_sha256"] == digest
    run = Path(result["run_dir"])
    started = read_events(run)[0]
    assert started.data["drill"] == "agency-phone-draw-v1"
    assert started.data["drill_sha256"] == digest
    assert started.data["drill_file"] == str(mine)
    assert (run / "drill.toml").read_bytes() == mine.read_bytes()


def test_a_drill_file_that_keeps_a_built_in_id_runs_the_file_not_the_built_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It silently ran the built-in: an edited start distance was ignored."""
    mine = tmp_path / "farther.toml"
    mine.write_text(
        BUILTIN.read_text(encoding="utf-8").replace(
            "start_distance_ft = 12.0", "start_distance_ft = 30.0"
        ),
        encoding="utf-8",
    )
    edited = _run(capsys, str(mine), tmp_path / "a")
    builtin = _run(capsys, "phone-draw-v1", tmp_path / "b")
    start = {
        name: read_events(Path(r["run_dir"]))[0].data["subjects"]["man"]["start_m"][0]
        for name, r in (("edited", edited), ("builtin", builtin))
    }
    assert start["edited"] == pytest.approx(30.0 * 0.3048)
    assert start["builtin"] == pytest.approx(12.0 * 0.3048)
    assert edited["drill_sha256"] != builtin["drill_sha256"]
    assert builtin["drill_sha256"] == hashlib.sha256(BUILTIN.read_bytes()).hexdigest()


def test_report_and_mirror_review_the_drill_that_ran_after_its_file_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.review.mirror import scene_at
    from range.review.report import write_report
    from range.runs.saved import saved_drill

    mine = tmp_path / "agency.toml"
    text = BUILTIN.read_text(encoding="utf-8").replace('"phone-draw-v1"', '"agency-phone-v1"')
    mine.write_text(text.replace("An agitated man", "Agency version: a man"), encoding="utf-8")
    run = Path(_run(capsys, str(mine), tmp_path / "runs")["run_dir"])
    mine.write_text(text.replace("An agitated man", "Edited since"), encoding="utf-8")
    drill = saved_drill(run)
    assert drill.title.startswith("Agency version")
    page = write_report(run).read_text(encoding="utf-8")
    assert "Agency version: a man" in page and "Edited since" not in page
    records = read_events(run)
    scene, _ = scene_at(records, 1.0, drill)
    assert scene is not None
    assert main(["score", str(run)]) == 0
    # A copy that no longer matches the hash the run recorded is refused by name.
    (run / "drill.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"drill\.toml does not match"):
        saved_drill(run)


def test_drill_validate_takes_a_built_in_id_like_drill_show(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["drill", "validate", "phone-draw-v1"]) == 0
    assert "ok (phone-draw-v1" in capsys.readouterr().out
    assert main(["drill", "validate", "no-such-drill-v1"]) == 1
    assert "no-such-drill-v1" in capsys.readouterr().err


def test_a_qualification_report_shows_the_course_that_was_fired(tmp_path: Path) -> None:
    """The course travels too: an attempt keeps its course (a built-in one byte for byte), and
    the report reads that copy, not the library by id."""
    from drills.course import builtin_course_files, find_course, find_shooter
    from range.review.report import write_report
    from range.runs.course import CourseConfig, run_course

    builtin = find_course("texas-ltc-b27-v1")
    result = run_course(CourseConfig(builtin, find_shooter("qualified"), 1, runs_dir=tmp_path))
    assert result.run_dir is not None
    started = read_events(result.run_dir)[0].data
    file = builtin_course_files()["texas-ltc-b27-v1"]
    assert started["course_sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    assert (result.run_dir / "course.toml").read_bytes() == file.read_bytes()
    agency = builtin.model_copy(update={"title": "Agency night course"})
    result = run_course(CourseConfig(agency, find_shooter("qualified"), 1, runs_dir=tmp_path))
    assert result.run_dir is not None
    assert "Agency night course" in write_report(result.run_dir).read_text(encoding="utf-8")
