"""The instructor's mirror of a live run: each frame the lane's renderer draws the scene as it
is now into a desktop window (GLFW through EGL, on a real virtual X display), from the
officer's eyes or a third-person camera."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from xvfb_support import xvfb

from physics.pose import Pose, look_rotation
from range.review.mirror import (
    THIRD_PERSON_BACK_M,
    THIRD_PERSON_RIGHT_M,
    THIRD_PERSON_UP_M,
    LiveMirror,
    NoDisplayError,
    third_person,
)

LIVE = r"""
import json, math
import numpy as np
from physics.body import SubjectBody
from physics.pose import Pose, look_rotation
from range.review.mirror import LiveMirror, third_person
from range.review.render import Renderer, Scene

size = (320, 180)
renderer = Renderer(*size)
lane = Scene()
lane.lane(10.0, 4.0)
renderer.load(lane)
renderer.add_subject("s1", SubjectBody())
eye = Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, -0.1)))
out = []
with LiveMirror(size) as mirror:
    for y in (0.8, -0.8):  # the subject moves between frames (a transform, no upload)
        renderer.pose_subject("s1", (4.0, y, 0.0), math.pi)
        shown = mirror.show(renderer, eye)
        window = mirror.read()
        blue = np.nonzero(window[..., 2] > window[..., 0] + 50)
        out.append({"cols": [int(blue[1].min()), int(blue[1].max())], "pixels": int(len(blue[0])),
                    "same": int(np.abs(window.astype(int) - shown).max()),
                    "chest": renderer.project(eye, (4.0, y, 1.2))})
    mirror.show(renderer, third_person(eye, (2.0, 0.0, 1.0)))
    window = mirror.read()
    out.append({"pixels": int((window[..., 2] > window[..., 0] + 50).sum()),
                "shown": mirror.shown})
renderer.close()
print(json.dumps(out))
"""


@pytest.fixture
def display() -> Iterator[str]:
    with xvfb() as name:
        yield name


def test_the_live_mirror_shows_the_scene_as_it_moves(display: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
    done = subprocess.run(
        [sys.executable, "-c", LIVE],
        capture_output=True,
        text=True,
        env=dict(env, DISPLAY=display),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    left, right, third = json.loads(done.stdout.strip().splitlines()[-1])
    for frame in (left, right):
        # The window holds exactly what the renderer drew, and the subject is where it stood.
        assert frame["same"] == 0
        assert frame["pixels"] > 100
        low, high = frame["cols"]
        assert low - 2 <= frame["chest"][0] <= high + 2
    assert right["cols"][0] > left["cols"][1]  # moved right across the view between frames
    assert third["pixels"] > 50 and third["shown"] == 3


def test_the_third_person_camera_is_behind_the_officer_s_right_shoulder() -> None:
    eye = Pose((1.0, 2.0, 1.7), look_rotation((1.0, 0.0, -0.2)))
    camera = third_person(eye, (5.0, 2.0, 1.0))
    x, y, z = camera.position_m
    assert x == pytest.approx(1.0 - THIRD_PERSON_BACK_M)
    assert y == pytest.approx(2.0 - THIRD_PERSON_RIGHT_M)  # right of a +X heading is -Y
    assert z == pytest.approx(THIRD_PERSON_UP_M)
    forward = camera.rotation()[:, 0]
    to_target = np.array([5.0 - x, 2.0 - y, 1.0 - z])
    assert np.allclose(forward, to_target / np.linalg.norm(to_target), atol=1e-6)


def test_no_display_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(NoDisplayError, match="needs a display"):
        LiveMirror().open()
