"""Replays from any eyes: a saved run rendered as the subject, a bystander or the officer saw
it, at their eye height and gaze, to PNG files with no display (EGL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drills.officer import find_officer
from drills.schema import find_drill
from range.cli.main import main
from range.review.render import view_projection
from range.review.replay import Viewpoint, frame_times
from range.runs.drill import RunConfig, RunResult, run_drill
from range.runs.runlog import read_events
from range.runs.saved import saved_drill

SIZE = (480, 270)
EVERY_S = 0.5


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    result = run_drill(
        RunConfig(
            find_drill("knife-approach-v1"),
            find_officer("taser-first-v1"),
            3,
            runs_dir=tmp_path_factory.mktemp("runs"),
        )
    )
    assert result.run_dir is not None
    return result


def _frames(run_dir: Path, who: str, out: Path) -> list[np.ndarray]:
    import matplotlib.image

    status = main(
        [
            "replay",
            str(run_dir),
            "--as",
            who,
            "--png",
            str(out),
            "--every",
            str(EVERY_S),
            "--size",
            f"{SIZE[0]}x{SIZE[1]}",
        ]
    )
    assert status == 0
    return [
        (matplotlib.image.imread(p)[..., :3] * 255).astype(int)
        for p in sorted(out.glob("frame_*.png"))
    ]


def _pixel(eye, point: tuple[float, float, float]) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    clip = view_projection(eye, 70.0, SIZE[0] / SIZE[1]) @ np.array([*point, 1.0])
    assert clip[3] > 0, "behind the camera"
    ndc = clip[:3] / clip[3]
    return int((ndc[0] + 1) / 2 * SIZE[0]), int((1 - ndc[1]) / 2 * SIZE[1])


def _officer_mask(image: np.ndarray) -> np.ndarray:
    # The officer's dark navy uniform: nothing else on the lane is that dark and blue.
    return (image.max(axis=2) < 70) & (image[..., 2] >= image[..., 0])


def test_a_replay_from_the_subject_s_eyes_shows_the_officer_where_the_log_put_him(
    run: RunResult, tmp_path: Path
) -> None:
    assert run.run_dir is not None
    records = read_events(run.run_dir)
    drill = saved_drill(run.run_dir, records[0].data)
    images = _frames(run.run_dir, "subject", tmp_path / "subject")
    end = max(r.t for r in records)
    times = frame_times(end, EVERY_S)
    assert len(images) == len(times) >= 3
    view = Viewpoint.parse("subject", drill)
    checked = 0
    for image, t in zip(images, times, strict=True):
        positions = [r for r in records if r.kind == "positions" and r.t <= t + 1e-9][-1].data
        ox, oy = positions["officer"]
        eye = view.eye(records, drill, t)
        # The subject's eyes are at its own place and head height, looking at the officer.
        sx, sy = positions["subjects"][view.who]
        assert eye.position_m[:2] == (sx, sy) and 1.4 < eye.position_m[2] < 1.9
        chest = _pixel(eye, (ox, oy, 1.3))
        feet = _pixel(eye, (ox, oy, 0.05))
        mask = _officer_mask(image)
        assert mask.sum() > 30, f"no officer drawn at t={t}"
        rows, cols = np.nonzero(mask)
        # The officer's pixels are centred on his logged place, and his chest pixel is his.
        assert abs(np.median(cols) - chest[0]) < 0.02 * SIZE[0] + 3, (t, chest, np.median(cols))
        assert mask[chest[1], chest[0]], (t, chest)
        assert abs(rows.max() - feet[1]) < 0.03 * SIZE[1] + 3, (t, feet, rows.max())
        checked += 1
    assert checked == len(times)


def test_the_officer_s_own_replay_does_not_draw_the_officer(run: RunResult, tmp_path: Path) -> None:
    assert run.run_dir is not None
    images = _frames(run.run_dir, "officer", tmp_path / "officer")
    assert all(_officer_mask(image).sum() < 5 for image in images)
    # The subject (blue) is there instead.
    blue = images[-1][..., 2] > images[-1][..., 0] + 50
    assert blue.sum() > 200


def test_a_bystander_sees_both_from_the_side(run: RunResult, tmp_path: Path) -> None:
    assert run.run_dir is not None
    images = _frames(run.run_dir, "bystander", tmp_path / "bystander")
    image = images[0]
    assert _officer_mask(image).sum() > 20
    assert (image[..., 2] > image[..., 0] + 50).sum() > 20


def test_an_unknown_person_is_refused_in_one_line(
    run: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run.run_dir is not None
    status = main(["replay", str(run.run_dir), "--as", "nobody", "--png", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "--as nobody: this run has no such person" in err


def test_frame_times_cover_the_run() -> None:
    assert frame_times(1.2, 0.5) == [0.0, 0.5, 1.0, 1.2]
    assert frame_times(1.0, 0.5) == [0.0, 0.5, 1.0]


def test_the_mirror_window_plays_the_replay_from_the_subject_s_eyes(
    run: RunResult, tmp_path: Path
) -> None:
    """A real window on a real (virtual) X display, in a process of its own (EGL and GLX
    never meet in one process)."""
    import os
    import shutil
    import subprocess
    import sys

    import matplotlib.image

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (scripts/test.sh installs it as root)")
    assert run.run_dir is not None
    ready_r, ready_w = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(ready_w), "-screen", "0", "1280x800x24"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(ready_w,),
    )
    os.close(ready_w)
    shot = tmp_path / "window.png"
    try:
        with os.fdopen(ready_r) as ready:
            display = ":" + ready.readline().strip()
        assert display != ":", "Xvfb did not start"
        env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "range",
                "replay",
                str(run.run_dir),
                "--as",
                "subject",
                "--window",
                "--frames",
                "4",
                "--screenshot",
                str(shot),
                "--size",
                "480x270",
            ],
            capture_output=True,
            text=True,
            env=dict(env, DISPLAY=display),
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "4 frames shown"
    finally:
        server.terminate()
        server.wait(timeout=10)
    image = (matplotlib.image.imread(shot)[..., :3] * 255).astype(int)
    assert _officer_mask(image).sum() > 30  # the officer, seen from the subject's place
