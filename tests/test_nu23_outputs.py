"""nu23: the report's and the replay's outputs. #1: a write the user names never replaces a
run's own file or a device; #2: the report's shot images pose the bodies as the replay does;
#8: `replay --png DIR` leaves no older frames in DIR; #6: a crowd is said to be a zone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from newuser_support import saved_knife_run

from drills.officer import find_officer
from drills.schema import find_drill
from range import outfile
from range.cli.main import main
from range.runs.drill import RunConfig, run_drill


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return saved_knife_run(tmp_path_factory.mktemp("runs"))


@pytest.mark.parametrize(
    "name",
    [
        "events.jsonl",
        "result.json",
        "drill.toml",
        "sound.wav",
        "officer-voice.wav",  # absent here: still the run's name, never written by --out
        "speech-corrections-0123456789abcdef.json",
    ],
)
def test_report_out_refuses_the_run_s_own_files(
    run_dir: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = run_dir / name
    before = target.read_bytes() if target.exists() else None
    assert main(["report", str(run_dir), "--out", str(target)]) == 2  # usage (rc21 #7f)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(target) in err, err
    assert "run's own files" in err
    assert (target.read_bytes() if target.exists() else None) == before
    assert main(["score", str(run_dir)]) == 0  # the log is whole


def test_a_device_or_fifo_is_never_renamed_over(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(outfile.RefusedTargetError, match="not a regular file"):
        outfile.write_text(fifo, "page")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    # Another command's --plot goes through the same check: the FIFO is still one.
    status = main(
        [
            *("analyze", "spread", "--cartridge", "taser7-cq", "--distance", "10ft"),
            *("--trials", "20", "--plot", str(fifo)),
        ]
    )
    assert status == 2 and stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_link_to_a_run_s_log_is_judged_by_what_it_points_at(
    run_dir: Path, tmp_path: Path
) -> None:
    link = tmp_path / "log.html"
    link.symlink_to(run_dir / "events.jsonl")
    with pytest.raises(outfile.RefusedTargetError, match="run's own files"):
        outfile.write_text(link, "page")
    # A report beside the run's files, or a new file there, is still written.
    outfile.write_text(run_dir / "copy.html", "page")
    outfile.write_text(run_dir / "export.csv", "a,b\n")
    outfile.write_text(run_dir / "copy.html", "page again")
    with pytest.raises(outfile.RefusedTargetError):
        outfile.write_text(run_dir / "export.csv", "replaced")


def test_the_report_s_shot_images_pose_the_officer_as_the_replay_does(run_dir: Path) -> None:
    import numpy as np

    from range.review.mirror import OFFICER
    from range.review.render import Renderer
    from range.review.report import IMAGE_H, IMAGE_W, shot_images
    from range.runs.runlog import read_events
    from range.runs.saved import saved_drill

    records = read_events(run_dir)
    drill = saved_drill(run_dir, records[0].data)
    shots = [
        r
        for r in records
        if r.kind == "officer_action" and r.data["action"] in ("taser_fired", "firearm_fired")
    ]
    assert {s.data["action"] for s in shots} == {"taser_fired", "firearm_fired"}
    with Renderer(IMAGE_W, IMAGE_H) as renderer:
        for shot in shots:
            officer_view, subject_view = shot_images(records, shot, drill, renderer)
            assert officer_view.startswith("data:image/png") and subject_view != officer_view
            # The officer is drawn, his gun hand up at the logged muzzle (not hanging at his
            # hip), the weapon fired in that hand, as `replay --as subject` draws him.
            assert OFFICER in renderer.subjects
            hand = renderer.segment_frame(OFFICER, "hand_r")[:3, 3]
            muzzle = np.asarray(shot.data["muzzle"]["position_m"])
            assert hand[2] > 1.2, (shot.t, hand)
            assert np.linalg.norm(hand - muzzle) < 0.35, (shot.t, hand, muzzle)
            weapon = "taser" if shot.data["action"] == "taser_fired" else "pistol"
            assert renderer._rigs[OFFICER].mesh[1] == f"officer_{weapon}"


def test_replay_png_leaves_only_this_replay_s_frames(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "frames"
    png = ["replay", str(run_dir), "--as", "subject", "--png", str(out), "--size", "16x8"]
    assert main([*png, "--every", "1"]) == 0
    first = sorted(p.name for p in out.glob("frame_*.png"))
    assert len(first) >= 5
    (out / "notes.txt").write_text("mine")
    (out / "frame_mine.png").write_bytes(b"not ours")
    capsys.readouterr()
    assert main([*png, "--every", "1e9"]) == 0
    said = capsys.readouterr().out
    assert f"2 frames written to {out} ({len(first)} older frames removed first)" in said
    # This replay's two frames alone; files not named as frames are kept.
    assert sorted(p.name for p in out.glob("frame_*.png")) == [
        "frame_0000.png",
        "frame_0001.png",
        "frame_mine.png",
    ]
    assert (out / "notes.txt").read_text() == "mine"


def test_the_report_says_a_crowd_is_a_zone_and_names_the_round_through_it(
    tmp_path: Path,
) -> None:
    import html

    from range.review.report import crowd_note, write_report
    from range.runs.runlog import read_events

    result = run_drill(
        RunConfig(
            find_drill("crowd-backdrop-v1"),
            find_officer("crowd-backdrop-fires-through-v1"),
            6,
            runs_dir=tmp_path,
        )
    )
    assert result.run_dir is not None
    records = read_events(result.run_dir)
    crowds = records[0].data["crowds"]
    note = html.unescape(crowd_note(records, crowds))
    assert "a scoring zone, not simulated bodies" in note
    fired = next(r for r in records if r.data.get("action") == "firearm_fired")
    assert f"the round fired at {fired.t:.2f} s crosses the crowd 'bus stop'" in note
    page = write_report(result.run_dir).read_text()
    assert "a scoring zone, not simulated bodies" in html.unescape(page)
    # A drill with no crowd says nothing of one.
    assert crowd_note(records, []) == ""


def test_the_report_s_subject_eye_is_at_its_stance_s_eye_height(run_dir: Path) -> None:
    import dataclasses

    from range.review.report import shot_subject_eye
    from range.runs.runlog import read_events
    from range.runs.saved import saved_drill

    records = read_events(run_dir)
    drill = saved_drill(run_dir, records[0].data)
    shot = next(r for r in records if r.data.get("action") == "firearm_fired")
    standing = shot_subject_eye(records, shot, drill).position_m[2]
    # The same log with the subject kneeling from its first phase on.
    kneeling_log = [
        dataclasses.replace(r, data={**r.data, "stance": "kneeling"})
        if r.kind == "phase_entered"
        else r
        for r in records
    ]
    kneeling = shot_subject_eye(kneeling_log, shot, drill).position_m[2]
    assert 1.45 < standing < 1.8, standing
    assert kneeling < standing - 0.3, (kneeling, standing)
