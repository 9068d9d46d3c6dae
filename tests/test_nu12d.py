"""Issue 12, fifth new-user pass (the leftovers): each defect's reproduction, with the right
value a user should see, as a test that failed before its fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_nu12_fixes import _fill, _saved_profile, tiny_disk

from range.cli.main import main
from range.records.store import Records
from range.runs.runlog import RunWriter

__all__ = ["tiny_disk"]  # the fixture, shared with the fourth pass's full-disk tests


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, f"one line, not: {err!r}"
    return err.strip()


# -- 1: a complete run whose result.json meets a full disk is complete, as its log says ---------


def test_a_complete_run_whose_result_cannot_be_written_is_recorded_complete(
    tiny_disk: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    finish = RunWriter.finish

    def finish_on_a_full_disk(writer: RunWriter, result: dict[str, Any], outcome: Any) -> None:
        writer.close()  # the whole log is on disk (run_ended and all); then the disk fills
        _fill(tiny_disk)
        finish(writer, result, outcome)

    monkeypatch.setattr(RunWriter, "finish", finish_on_a_full_disk)
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "11", "--db", db]
    assert main([*argv, "--runs-dir", str(tiny_disk)]) == 9
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert err.strip() == (
        f"openrange: {tiny_disk}/{{run}}/result.json: cannot write (No space left on device):"
        " the run is complete (its event log is whole); the run and its record are kept"
    ).replace("{run}", next(p.name for p in tiny_disk.iterdir() if p.is_dir()))
    assert "Recorded as drill run 1 for badge 4411." in out
    (run_dir,) = (p for p in tiny_disk.iterdir() if p.is_dir())
    assert sorted(p.name for p in run_dir.iterdir()) == ["drill.toml", "events.jsonl"]
    assert '"kind": "run_ended"' in (run_dir / "events.jsonl").read_text()
    with Records.open(db, create=False) as records:
        (run,) = records.drill_runs("4411")
        assert run["outcome"] != "INCOMPLETE"


def test_a_complete_attempt_whose_result_cannot_be_written_is_kept_complete(
    tiny_disk: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same kind in the course runner: the attempt was recorded complete, then its
    result.json met a full disk; that is said in one line, after the attempt's summary."""
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    finish = RunWriter.finish

    def finish_on_a_full_disk(writer: RunWriter, result: dict[str, Any], outcome: Any) -> None:
        writer.close()
        _fill(tiny_disk)
        finish(writer, result, outcome)

    monkeypatch.setattr(RunWriter, "finish", finish_on_a_full_disk)
    argv = ["course", "run", "taser7-practical-v1", "--shooter", "expert", "--badge", "4411"]
    assert main([*argv, "--seed", "3", "--db", db, "--runs-dir", str(tiny_disk)]) == 9
    out, err = capsys.readouterr()
    (run_dir,) = (p for p in tiny_disk.iterdir() if p.is_dir())
    assert err.strip().splitlines()[-1] == (
        f"openrange: {run_dir}/result.json: cannot write (No space left on device): the attempt"
        " is complete (its event log is whole); the attempt and its record are kept"
    )
    assert "Traceback" not in err and "TASER 7 practical" in out
    assert "result.json" not in [p.name for p in run_dir.iterdir()]
    with Records.open(db, create=False) as records:
        assert len(records.qualifications("4411")) == 1
        assert records.incomplete() == []


# -- 2: a shooter file is bounded, in the documented layout, and every error has a line --------

SHOOTER = """\
version = 1
[[shooter]]
id = "slow"
description = "A shooter from a file."
reaction_s = 0.3
draw_s = { holster = 1.3, low_ready = 0.5, ready = 0.35 }
split_s = 0.35
reload_s = 2.4
aim_error_mrad = 5.0
"""


def _shooter_refused(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], name: str = "me.toml"
) -> str:
    path = tmp_path / name
    path.write_text(text)
    argv = ["course", "run", "texas-ltc-b27-v1", "--shooter", str(path), "--no-save"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # Each line of a refusal starts "openrange: " (nu19 #10); the file's words follow it.
    lines = err.strip().splitlines()
    assert all(line.startswith("openrange: ") for line in lines), lines
    return "\n".join(line.removeprefix("openrange: ") for line in lines).replace(str(path), "FILE")


def test_a_shooter_file_in_the_documented_layout_is_the_shooter(tmp_path: Path) -> None:
    from drills.course import find_shooter

    path = tmp_path / "me.toml"
    path.write_text(SHOOTER)
    assert find_shooter(str(path)).id == "slow"


def test_a_shooter_time_beyond_its_bound_is_refused_by_file_line_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = _shooter_refused(
        tmp_path, SHOOTER.replace("reaction_s = 0.3", "reaction_s = 1e5"), capsys
    )
    assert (
        refused
        == "FILE:5: shooter[0].reaction_s: 100000 is out of range: allowed 0 < reaction_s <= 5"
    )
    refused = _shooter_refused(tmp_path, SHOOTER.replace("holster = 1.3", "holster = 600"), capsys)
    assert refused.startswith("FILE:6: shooter[0].draw_s.holster: ")


def test_a_shooter_file_without_its_table_shows_the_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = SHOOTER.replace("version = 1\n[[shooter]]\n", "")
    assert _shooter_refused(tmp_path, bare, capsys) == (
        "FILE:1: a shooter file holds `version = 1` and `[[shooter]]` tables (docs/courses.md,"
        " 'Scripted shooters'): start it with `version = 1`, then `[[shooter]]` above `id = ...`"
    )


def test_an_empty_shooter_file_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _shooter_refused(tmp_path, "", capsys).splitlines() == [
        "FILE:1: version: required key is missing",
        "FILE:1: shooter: required key is missing",
    ]


def test_a_shooter_file_with_two_shooters_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = SHOOTER.split("\n", 1)[1].replace('"slow"', '"quick"')
    assert _shooter_refused(tmp_path, SHOOTER + second, capsys) == (
        "FILE:10: shooter: holds 2 shooters (slow, quick): --shooter FILE takes a file with one"
        " `[[shooter]]`"
    )


# -- 5: a policy's pass mark, a credit's points and its times are bounded, by line ---------------

POLICY = Path(__file__).resolve().parent.parent / "scoring" / "data" / "policy-default.toml"


def _policy_refused(tmp_path: Path, old: str, new: str) -> list[tuple[int | None, str, str]]:
    from physics.datafiles import DataFileError
    from scoring.policy import load_policy

    text = POLICY.read_text()
    assert text.count(old) == 1
    path = tmp_path / "agency.toml"
    path.write_text(text.replace(old, new))
    with pytest.raises(DataFileError) as caught:
        load_policy(path)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def _line_of(text: str) -> int:
    return next(n for n, line in enumerate(POLICY.read_text().splitlines(), 1) if text in line)


def test_a_pass_mark_of_zero_is_refused(tmp_path: Path) -> None:
    ((line, field, message),) = _policy_refused(tmp_path, "pass_score = 70.0", "pass_score = 0")
    assert (line, field) == (_line_of("pass_score = 70.0"), "pass_score")
    assert message.startswith("0 is out of range: allowed 0 < pass_score")


def test_a_credit_that_costs_points_is_refused(tmp_path: Path) -> None:
    old = 'severity = "credit"\npoints = 0.0\ncitation = "facts.md §4 force continuum"'
    new = old.replace("points = 0.0", "points = -10.0")
    ((line, field, message),) = _policy_refused(tmp_path, old, new)
    assert (line, field) == (_line_of('id = "LLF-01"') + 3, "rules[4].points")
    assert message == (
        "a credit rule costs nothing: points must be 0, not -10 (only finding and critical"
        " rules take points, -100 to 0)"
    )


def test_a_policy_time_beyond_its_bound_is_refused(tmp_path: Path) -> None:
    old = "max_reaction_s = 1.5"
    ((line, field, message),) = _policy_refused(tmp_path, old, "max_reaction_s = 1e5")
    assert (line, field) == (_line_of(old), "max_reaction_s")
    assert message.startswith("100000 is out of range: allowed ")
    assert message.endswith("max_reaction_s <= 10")


# -- 3: a calibration profile's bore origin is bounded; a direction's problem is named ----------


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        (
            "bore_origin_m",
            "[5.0, 0.0, 0.0]",
            "bore_origin_m: 5 m from the tracker: a bore origin lies within 0.5 m of the tracker"
            " on the replica",
        ),
        (
            "bore_direction",
            "[1e308, 0.0, 0.0]",
            "bore_direction: a direction is a unit vector (the length of [1e+308, 0, 0] is 1e+308)",
        ),
        (
            "bore_direction",
            "[1.7e308, 1.7e308, 0.0]",
            "bore_direction: [1.7e+308, 1.7e+308, 0]: its length is not finite: a direction is a"
            " unit vector",
        ),
        (
            "bore_direction",
            "[nan, 0.0, 1.0]",
            "bore_direction: [nan, 0, 1] is not finite: a direction is a unit vector",
        ),
    ],
)
def test_a_profile_bore_out_of_reason_names_its_field_and_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: str, said: str
) -> None:
    import re

    folder = tmp_path / "profiles"
    path = _saved_profile(folder)
    text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", path.read_text())
    assert n == 1
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith(key))
    argv = ["calibrate", "certificate", "--device", "P-42", "--out", str(tmp_path / "c.html")]
    assert main([*argv, "--profiles", str(folder)]) == 2
    assert _err(capsys) == f"openrange: {path}:{line}: {said}"


def test_the_solver_refuses_a_bore_line_far_from_the_tracker() -> None:
    from physics.pose import Pose
    from range.calibration.solver import AimSample, CalibrationError, solve_boresight

    # The tracker at the origin, looking down -Z; the points aimed at lie on a line 2 m to its
    # side: no tracker is mounted 2 m from its replica's bore.
    samples = [
        AimSample(Pose((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)), (2.0, 0.0, -z))
        for z in (2.0, 3.0, 5.0, 7.0, 9.0)
    ]
    with pytest.raises(CalibrationError, match=r"passes 2\.00 m from the tracker"):
        solve_boresight(samples)


# -- 4: a lane file is checked whole, up front, every problem at once with its line -------------


def test_a_lane_file_s_ports_and_profiles_are_checked_up_front_all_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lane = tmp_path / "lane3.toml"
    lane.write_text(
        'version = 1\nname = "Lane 3"\nports = ["/dev/no-such-a", "/dev/no-such-b"]\n'
        'headless = true\n[calibration]\nrequired = true\nprofiles = "profiles"\n'
    )
    argv = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411", "--no-save"]
    assert main([*argv, "--lane", str(lane)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line.removeprefix("openrange: ") for line in err.strip().splitlines()] == [
        f"{lane}:3: ports[0]: /dev/no-such-a does not exist (is the replica plugged in? ls"
        " /dev/serial/by-id)",
        f"{lane}:3: ports[1]: /dev/no-such-b does not exist (is the replica plugged in? ls"
        " /dev/serial/by-id)",
        f"{lane}:7: calibration.profiles: {tmp_path / 'profiles'} does not exist",
    ]
    # A profile in the lane's folder that could not be used is named by its own file and line.
    (tmp_path / "profiles").mkdir()
    profile = _saved_profile(tmp_path / "profiles")
    profile.write_text(profile.read_text().replace('model = "pistol"', 'model = "banana"'))
    lane.write_text(lane.read_text().replace('"/dev/no-such-a", "/dev/no-such-b"', '"/dev/tty"'))
    assert main([*argv, "--lane", str(lane)]) == 2
    err = capsys.readouterr().err
    line = next(
        i for i, t in enumerate(profile.read_text().splitlines(), 1) if t.startswith("model")
    )
    refused = err.strip().removeprefix("openrange: ")
    assert refused.startswith(
        f"{lane}:7: calibration.profiles: a profile is refused: {profile}:{line}: model:"
        " unknown replica model 'banana'"
    )
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        ('ports = ["/dev/tty", "/dev/tty"]\n', "4: ports[1]: '/dev/tty': a port is named twice"),
        (
            'ports = ["/dev/tty"]\nheadless = true\nmirror = true\n',
            "6: mirror: mirror draws what the headset shows: it needs headless = false",
        ),
    ],
)
def test_every_lane_file_error_names_its_line(tmp_path: Path, keys: str, said: str) -> None:
    from physics.datafiles import DataFileError
    from range.runs.lanefile import load_lane

    lane = tmp_path / "lane3.toml"
    lane.write_text('version = 1\nname = "Lane 3"\n\n' + keys)
    with pytest.raises(DataFileError) as caught:
        load_lane(lane)
    assert str(caught.value) == f"{lane}:{said}"


# -- 6: score checks the drill file kept with a run, as report and replay do ---------------------


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    argv = ["drill", "run", "phone-draw-v1", "--seed", "11", "--sound", "off", "--json"]
    assert main([*argv, "--runs-dir", str(runs)]) == 0
    (run_dir,) = runs.iterdir()
    return run_dir


def test_score_refuses_a_run_whose_drill_file_was_changed(
    saved_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    run_dir = tmp_path / saved_run.name
    shutil.copytree(saved_run, run_dir)
    capsys.readouterr()
    assert main(["score", str(run_dir)]) == 0
    capsys.readouterr()
    copy = run_dir / "drill.toml"
    copy.write_text(copy.read_text() + "\n# edited after the run\n")
    for command in ("score", "report"):
        assert main([command, str(run_dir)]) == 2
        assert _err(capsys).startswith(
            f"openrange: {copy} does not match the SHA-256 the run recorded ("
        )
    copy.unlink()
    assert main(["score", str(run_dir)]) == 2
    assert _err(capsys).startswith(f"openrange: {copy}: missing; the run's log names drill")


# -- 7: `python -m range` beside a file named like one of its packages imports its own -----------


def test_python_m_range_never_imports_the_current_folder_s_physics_py(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    for name in ("physics", "drills", "scoring", "peripherals", "serial"):
        (tmp_path / f"{name}.py").write_text(f'raise SystemExit("hostile {name}.py imported")\n')
    project = Path(__file__).resolve().parent.parent
    env = os.environ | {"PYTHONPATH": str(project)}
    env.pop("PYTHONSAFEPATH", None)
    done = subprocess.run(
        [sys.executable, "-m", "range", "course", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "hostile" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0
    assert "fbi-pistol-2019-v1" in done.stdout


# -- 8: a refused --resume leaves no lock file behind --------------------------------------------


def test_a_refused_resume_leaves_no_lock_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records.sqlite"
    db = f"sqlite:///{path}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
        records.add_officer("4412", "Ofc. Chen", "Metro PD")
        attempt = records.begin_attempt("4411", "taser7-practical-v1", 21, "0.1.0", [], [])
        records.record_shot(attempt, {"kind": "shot", "stage": 0, "string": 0, "t_s": 1.0})
    for lock in tmp_path.glob("*.lock"):
        lock.unlink()  # as a run that ended without finishing it leaves it (none held)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [
        "course",
        "run",
        "taser7-practical-v1",
        "--db",
        db,
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    for refused in (
        ["--badge", "4411", "--resume", "99"],  # no such attempt
        ["--badge", "4412", "--resume", str(attempt)],  # another officer's
        ["--badge", "4411", "--resume", str(attempt), "--shooter", "expert"],  # an officer's
    ):
        assert main([*argv, *refused]) == 5
        _err(capsys)
        assert sorted(p.name for p in tmp_path.iterdir()) == before, refused
    close = ["records", "close", "99", "--by", "Sgt. Mora", "--reason", "stuck", "--db", db]
    assert main(close) == 5
    _err(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # Claimed by another store (a run firing it): refused, and its claim's file goes with it.
    with Records.open(db, create=False) as firing:
        firing.claim_attempt(attempt)
        assert main([*argv, "--badge", "4411", "--resume", str(attempt)]) == 5
        assert "is being fired by another process" in _err(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    with Records.open(db, create=False) as records:
        (listed,) = records.incomplete()
        assert listed["shots"] == 1 and listed["live"] is False


# -- 9: stage names that differ only in case are one name -----------------------------------------


def test_stage_names_differing_only_in_case_are_refused_as_one(tmp_path: Path) -> None:
    from drills.course import load_course
    from physics.datafiles import DataFileError

    fbi = Path(__file__).resolve().parent.parent / "drills/data/courses/fbi-pistol-2019-v1.toml"
    text = fbi.read_text(encoding="utf-8")
    assert 'name = "2: 5 yd"' in text
    path = tmp_path / "c.toml"
    path.write_text(text.replace('name = "2: 5 yd"', 'name = "1: 3 YD"', 1), encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_course(path)
    (problem,) = caught.value.problems
    assert problem.field == "stages[1].name"
    assert problem.line == path.read_text().splitlines().index('name = "1: 3 YD"') + 1
    assert problem.message == (
        "stage name '1: 3 YD' is used twice (stages[0] as '1: 3 yd': names are compared"
        " ignoring case and spacing)"
    )


# -- 10: a TASER course's summary counts cartridges, a firearm course's rounds -------------------


def test_course_validate_and_show_count_cartridges_and_rounds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = Path(__file__).resolve().parent.parent
    taser = project / "drills" / "data" / "courses" / "taser7-practical-v1.toml"
    rifle = project / "tests" / "data" / "courses" / "patrol-rifle-structure-v1.toml"
    assert main(["course", "validate", str(taser), str(rifle)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{taser}: ok (taser7-practical-v1, 4 cartridges, 4 points)",
        f"{rifle}: ok (patrol-rifle-structure-v1, 30 rounds, 60 points)",
    ]
    assert main(["course", "show", str(rifle)]) == 0  # a rifle string fires rounds too
    strings = [line for line in capsys.readouterr().out.splitlines() if "from low_ready" in line]
    assert strings and all(" rd " in line and " x " not in line for line in strings)


def test_a_mistyped_profiles_folder_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lane file's kind on the command line: a --profiles folder that does not exist is
    a typo, not a lane of never-calibrated replicas."""
    missing = tmp_path / "profiels"
    argv = ["drill", "run", "phone-draw-v1", "--require-calibration", "--no-save"]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--profiles", str(missing)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --profiles: {missing}: no such folder" in err


def test_scene_objects_of_one_name_are_refused(tmp_path: Path) -> None:
    """The same kind in drill scenes: the world keys what a round meets by name, so a second
    cover of one name took the first's material and place; a cover named as a subject took
    that subject's hits."""
    from drill_text import GOOD, drill_file

    from drills.schema import load_drill
    from physics.datafiles import DataFileError

    box = "x_ft = 10.0\ny_ft = {y}\nwidth_ft = 3.0\ndepth_ft = 4.0\nheight_ft = 4.0\n"
    scene = (
        '\n[scene]\n[[scene.cover]]\nname = "Jersey barrier"\n'
        + box.format(y=-5.0)
        + '[[scene.cover]]\nname = "jersey  barrier"\nmaterial = "drywall"\nrole = "concealment"\n'
        + box.format(y=5.0)
        + '[[scene.cover]]\nname = "S"\n'
        + box.format(y=0.0)
    )
    text = GOOD.replace("time_limit_s = 10.0\n", "time_limit_s = 10.0\n" + scene, 1)
    path = drill_file(tmp_path, text)
    with pytest.raises(DataFileError) as caught:
        load_drill(path)
    lines = text.splitlines()
    assert [(p.line, p.field, p.message) for p in caught.value.problems] == [
        (
            lines.index('name = "jersey  barrier"') + 1,
            "scene.cover[1].name",
            "name 'jersey  barrier' is used twice (scene.cover[0] too; names are compared"
            " ignoring case and spacing)",
        ),
        (
            lines.index('name = "S"') + 1,
            "scene.cover[2].name",
            "name 'S' is a subject's id: a round that hits either must say which",
        ),
    ]
