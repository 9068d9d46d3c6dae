"""Rendering on Mesa's headless EGL: what a person would see, checked in pixels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from xvfb_support import xvfb

from physics.body import Region, SubjectBody
from physics.pose import Pose, look_rotation
from range.review.render import (
    COLOURS,
    SKIN,
    SKY,
    Renderer,
    RenderUnavailableError,
    Scene,
    headless_context,
)

W, H, FOV = 320, 240, 60.0
SKY_RGB = tuple(round(c * 255) for c in SKY)


def pinhole(
    camera_xyz: tuple[float, float, float], point: tuple[float, float, float]
) -> tuple[float, float]:
    """An independent projection for a camera looking straight down +X: x right is -Y."""
    f = (H / 2) / math.tan(math.radians(FOV) / 2)
    dx, dy, dz = (p - c for p, c in zip(point, camera_xyz, strict=True))
    return (W / 2 - f * dy / dx, H / 2 - f * dz / dx)


def is_colour(pixel: np.ndarray, colour: tuple[float, float, float]) -> bool:
    """Shaded by Lambert between 55 % and 100 % of the base colour."""
    base = np.asarray(colour) * 255
    ratio = pixel.astype(float) / np.maximum(base, 1.0)
    bright = base > 40
    return bool(
        np.all((ratio[bright] > 0.5) & (ratio[bright] < 1.05))
        and np.allclose(ratio[bright], ratio[bright].mean(), atol=0.08)
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    with Renderer(W, H) as r:
        yield r


CAMERA_XYZ = (0.0, 0.0, 1.2)
CAMERA = Pose(CAMERA_XYZ, look_rotation((1.0, 0.0, 0.0)))


def test_the_subject_covers_the_pixels_its_body_projects_to(renderer: Renderer) -> None:
    body = SubjectBody()
    scene = Scene()
    scene.lane(20.0, 8.0)
    scene.subject(body, (5.0, 0.0, 0.0), math.pi)
    renderer.load(scene)
    image = renderer.render(CAMERA, FOV)
    subject = np.array([[is_colour(px, COLOURS["subject"]) for px in row] for row in image])
    # Every clothed region's aim point is subject-coloured where it projects ...
    for region in (Region.UPPER_CHEST, Region.ABDOMEN, Region.PELVIS, Region.LEG, Region.ARM):
        lx, ly, lz = body.aim_point(region)
        u, v = pinhole(CAMERA_XYZ, (5.0 - lx, -ly, lz))
        assert subject[round(v), round(u)], f"{region} not drawn at ({u:.0f}, {v:.0f})"
    # ... and the top of the head is where the skeleton's stature projects.
    skin = np.array([[is_colour(px, SKIN) for px in row[W // 2 - 3 : W // 2 + 3]] for row in image])
    rows = np.nonzero(skin.any(axis=1))[0]
    head_x = 5.0 - body.aim_point(Region.HEAD)[0]
    top = pinhole(CAMERA_XYZ, (head_x, 0.0, 1.756))[1]
    assert rows.min() == pytest.approx(top, abs=2.0)
    # Beside the subject: the backstop, not the subject.
    u, v = pinhole(CAMERA_XYZ, (5.0, 1.5, 1.2))
    assert not subject[round(v), round(u)]


def test_an_impact_marker_appears_within_2_px_of_its_projection(renderer: Renderer) -> None:
    body = SubjectBody()
    point = (5.0 - body.aim_point(Region.ABDOMEN)[0], 0.06, 1.05)
    scene = Scene()
    scene.lane(20.0, 8.0)
    scene.subject(body, (5.0, 0.0, 0.0), math.pi)
    scene.marker((point[0] - 0.04, point[1], point[2]), COLOURS["probe"], 0.04)
    renderer.load(scene)
    image = renderer.render(CAMERA, FOV)
    r, g, b = (image[..., k].astype(int) for k in range(3))
    yellow = (r > 120) & (g > 100) & (b < 40) & (r - b > 100)
    rows, cols = np.nonzero(yellow)
    assert len(rows) >= 4  # a 3x3 block at 5 m
    u, v = pinhole(CAMERA_XYZ, (point[0] - 0.08, point[1], point[2]))  # the marker's front
    assert abs(cols.mean() + 0.5 - u) <= 2.0 and abs(rows.mean() + 0.5 - v) <= 2.0
    front = (point[0] - 0.08, point[1], point[2])
    assert renderer.project(CAMERA, front, FOV) == pytest.approx((u, v), abs=1e-6)


def test_no_egl_is_one_line_that_says_what_to_install() -> None:
    with pytest.raises(RenderUnavailableError) as caught:
        headless_context(libegl="/nonexistent/libEGL.so.1")
    message = str(caught.value)
    assert "\n" not in message and "apt-get install libegl1 libgl1" in message


def test_stereo_eyes_see_the_disparity_their_separation_makes(renderer: Renderer) -> None:
    scene = Scene()
    scene.lane(20.0, 8.0)
    point = (2.0, 0.0, 1.2)
    scene.marker(point, COLOURS["probe"], 0.05)
    renderer.load(scene)
    ipd = 0.064
    left, right = renderer.render_stereo(CAMERA, ipd, FOV)

    def centre_col(image: np.ndarray) -> float:
        r, g, b = (image[..., k].astype(int) for k in range(3))
        return float(np.nonzero((r > 120) & (g > 100) & (b < 40))[1].mean())

    f = (H / 2) / math.tan(math.radians(FOV) / 2)
    disparity = centre_col(right) - centre_col(left)  # the left eye sees it further right
    assert -disparity == pytest.approx(f * ipd / (point[0] - 0.05), abs=1.0)


def test_the_after_action_report_shows_every_shot_from_both_sides(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import base64
    import io
    import re

    import matplotlib.pyplot as plt

    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.review.report import write_report
    from range.runs.drill import RunConfig, run_drill

    result = run_drill(
        RunConfig(
            find_drill("knife-approach-v1"), find_officer("taser-first-v1"), 3, runs_dir=tmp_path
        )
    )
    assert result.run_dir is not None
    shots = [
        r
        for r in result.records
        if r.kind == "officer_action" and r.data["action"] in ("taser_fired", "firearm_fired")
    ]
    page = write_report(result.run_dir).read_text()
    images = dict(re.findall(r"<img alt=.([^'\"]+). src=.data:image/png;base64,([^'\"]+)", page))
    assert {"threat over time", "top-down map"} <= set(images)
    for n in range(1, len(shots) + 1):
        assert f"officer view, shot {n}" in images and f"subject view, shot {n}" in images
    first = plt.imread(io.BytesIO(base64.b64decode(images["officer view, shot 1"])))[..., :3]
    blue = first[..., 2] > first[..., 0] + 0.2  # the subject, seen down the bore
    assert blue.sum() > 100
    for finding in result.score.findings:
        assert finding.rule in page


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1100,2600",
]


def open_in_chromium(page: Path, screenshot: Path, profile: Path) -> str:
    """Load a page in headless Chromium, screenshot it; returns its console's complaints."""
    import shutil
    import subprocess

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("Chromium is not installed (scripts/test.sh installs it as root)")
    done = subprocess.run(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={screenshot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "\n".join(
        line
        for line in done.stderr.splitlines()
        if "CONSOLE" in line and ("rror" in line or "Uncaught" in line)
    )


def test_the_report_opens_in_chromium_and_shows_the_shots(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.review.report import write_report
    from range.runs.drill import RunConfig, run_drill

    # The check can fail: a page that throws is caught.
    broken = tmp_path / "broken.html"
    broken.write_text("<!doctype html><script>throw new Error('broken on purpose')</script>")
    assert "broken on purpose" in open_in_chromium(broken, tmp_path / "b.png", tmp_path / "p1")

    result = run_drill(
        RunConfig(
            find_drill("knife-approach-v1"),
            find_officer("taser-first-v1"),
            3,
            runs_dir=tmp_path / "runs",
        )
    )
    assert result.run_dir is not None
    page = write_report(result.run_dir)
    shot = tmp_path / "report.png"
    assert open_in_chromium(page, shot, tmp_path / "p2") == ""
    pixels = (plt.imread(shot)[..., :3] * 255).astype(int)
    sky = np.abs(pixels - np.array(SKY_RGB)).max(axis=2) <= 3
    assert sky.sum() > 20_000, "the rendered shot images are not on the page"


def test_a_qualification_report_shows_each_stage_s_target_with_its_hits(tmp_path: Path) -> None:
    import base64
    import io
    import re

    import matplotlib.pyplot as plt

    from drills.course import find_course, find_shooter
    from range.review.report import write_report
    from range.runs.course import CourseConfig, run_course

    course = find_course("fbi-pistol-2019-v1")
    result = run_course(CourseConfig(course, find_shooter("qualified"), 1, runs_dir=tmp_path))
    assert result.run_dir is not None
    page = write_report(result.run_dir).read_text()
    images = dict(re.findall(r"<img alt=.([^'\"]+). src=.data:image/png;base64,([^'\"]+)", page))
    assert len(images) == len(course.stages)
    for stage, score in zip(course.stages, result.score.stages, strict=True):
        assert f"Stage {stage.name}: " in page and f"{score.points} points" in page
    image = plt.imread(
        io.BytesIO(base64.b64decode(images[f"target, stage {course.stages[2].name}"]))
    )
    red = (image[..., 0] > 0.6) & (image[..., 1] < 0.3) & (image[..., 2] < 0.3)
    assert red.sum() > 20  # the stage's hits are marked on the target


def test_the_instructor_mirror_plays_a_run_in_a_window(tmp_path: Path) -> None:
    """A real window on a real (virtual) X display, in a process of its own."""
    import os
    import subprocess
    import sys

    import matplotlib.pyplot as plt

    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    result = run_drill(
        RunConfig(
            find_drill("knife-approach-v1"), find_officer("taser-first-v1"), 3, runs_dir=tmp_path
        )
    )
    assert result.run_dir is not None
    command = [sys.executable, "-m", "range", "mirror", str(result.run_dir), "--frames", "12"]
    headless = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    refused = subprocess.run(command, capture_output=True, text=True, env=headless)
    assert refused.returncode == 8 and refused.stderr.count("\n") == 1
    assert "needs a display" in refused.stderr
    with xvfb() as display:
        shot = tmp_path / "mirror.png"
        done = subprocess.run(
            [*command, "--screenshot", str(shot)],
            capture_output=True,
            text=True,
            env=dict(headless, DISPLAY=display),
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "12 frames shown"
    image = (plt.imread(shot)[..., :3] * 255).astype(int)
    assert np.abs(image[3, image.shape[1] // 2] - np.array(SKY_RGB)).max() <= 3  # sky above
    blue = image[..., 2] > image[..., 0] + 50
    assert blue.sum() > 2000  # the subject, close after his charge
