"""rc21's small wrong results and wording: #3 `analyze spread --plot out.txt` is refused in one
line before the study; #2 `score` counts a run given twice once; #7 wording."""

from __future__ import annotations

from pathlib import Path

import pytest
from newuser_support import saved_knife_run

from range.cli.main import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return saved_knife_run(tmp_path_factory.mktemp("runs"))


SPREAD = ("analyze", "spread", "--cartridge", "taser7-cq", "--distance", "7ft", "--trials", "20")


def test_plot_to_a_suffix_matplotlib_cannot_draw_is_refused_first(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.txt"
    assert main([*SPREAD, "--plot", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert "out.txt" in err and ".txt file cannot be drawn" in err and ".png" in err
    assert not target.exists()
    # A run's own file is refused before the study too (the run-folder check is reached).
    drill = run_dir / "drill.toml"
    before = drill.read_bytes()
    assert main([*SPREAD, "--plot", str(drill)]) == 2  # usage, not storage (rc21 #7f)
    out, err = capsys.readouterr()
    assert out == "" and "run's own files" in err and drill.read_bytes() == before
    # A suffix it can draw still works.
    assert main([*SPREAD, "--plot", str(tmp_path / "out.svg")]) == 0
    assert (tmp_path / "out.svg").read_text().lstrip().startswith("<?xml")


def test_score_counts_a_run_given_twice_once(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import shutil

    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    again = Path(f"{run_dir}/../{run_dir.name}/")  # the same folder, spelled another way
    assert main(["score", str(run_dir), str(run_dir), "--json"]) == 0
    (officer,) = json.loads(capsys.readouterr().out)["officers"]
    assert officer["shoot_runs"] + officer["no_shoot_runs"] == 1, officer
    assert main(["score", str(run_dir), str(again), str(copy), "--json"]) == 0
    out, err = capsys.readouterr()
    batch = json.loads(out)
    assert len(batch["runs"]) == 3  # every run given is still listed
    (officer,) = batch["officers"]
    assert officer["shoot_runs"] + officer["no_shoot_runs"] == 1, officer
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert f"{again} is the same run as {run_dir} (the same folder)" in lines[0]
    assert f"{copy} is the same run as {run_dir} (a copy of its folder)" in lines[1]
    assert all("counted once in the officer's rates" in line for line in lines)


def test_an_earlier_export_in_a_run_folder_is_refused_saying_why(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = run_dir / "export.csv"
    mine.write_text("an earlier export\n")
    try:
        assert main(["report", str(run_dir), "--out", str(mine)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and str(mine) in err, err
        assert "only a report (*.html) may be replaced there" in err
        assert "one of the run's own files" not in err  # it is the user's, not the run's
        assert mine.read_text() == "an earlier export\n"
    finally:
        mine.unlink()


def test_replay_png_into_the_run_s_own_folder_is_refused(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.replay import frames_line

    before = sorted(p.name for p in run_dir.iterdir())
    png = ["replay", str(run_dir), "--as", "subject", "--png", str(run_dir), "--size", "16x8"]
    assert main(png) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "a run's own folder" in err, err
    assert sorted(p.name for p in run_dir.iterdir()) == before  # no frame written there
    assert frames_line(2, Path("out"), 1) == "2 frames written to out (1 older frame removed first)"
    assert frames_line(1, Path("out"), 0) == "1 frame written to out"


def test_records_history_says_a_faulted_run_faulted(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from range.records.store import Records

    result = json.loads((run_dir / "result.json").read_text())
    why = "T7-0042 did not come back within 2 s"
    result |= {"state": "faulted", "end_reason": why, "run_dir": None}
    result["score"] |= {"outcome": "INCOMPLETE", "complete": False, "decision": "INCOMPLETE"}
    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        number = records.add_drill_run("4411", result)
    assert main(["records", "history", "4411", "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"  no decision (faulted): {why}" in out and "cut short" not in out, out
    assert main(["records", "show", "--drill-run", str(number), "--db", url]) == 0
    out = capsys.readouterr().out
    assert f": no decision (faulted): {why}; not graded" in out, out
    assert main(["records", "history", "4411", "--db", url, "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["drill_runs"]
    assert shown["faulted"] == why and shown["decision"] is None


def test_an_act_added_where_the_officer_could_not_be_heard_says_so(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib
    import json
    import shutil

    def added(run: Path) -> str:
        capsys.readouterr()
        argv = ["speech", "correct", str(run), "--by", "Sgt Lee", "--add"]
        argv += ["--from", "1.0", "--to", "2.35", "--act", "command.drop_weapon"]
        assert main(argv) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    # The same run, its log saying audio was off (run_started `officer_unheard`, nu20 #1).
    run = tmp_path / "unheard"
    shutil.copytree(run_dir, run)
    lines = (run / "events.jsonl").read_text().splitlines(keepends=True)
    first = json.loads(lines[0])
    first["officer_unheard"] = "audio is off: PortAudio is not installed"
    lines[0] = json.dumps(first) + "\n"
    (run / "events.jsonl").write_text("".join(lines))
    result = json.loads((run / "result.json").read_text())
    if "log_sha256" in result:
        result["log_sha256"] = hashlib.sha256((run / "events.jsonl").read_bytes()).hexdigest()
    (run / "result.json").write_text(json.dumps(result))
    said = added(run)
    assert "(the officer could not be heard)" in said and "recogniser" not in said, said
    heard = tmp_path / "heard"
    shutil.copytree(run_dir, heard)
    assert "(the recogniser heard nothing there)" in added(heard)
