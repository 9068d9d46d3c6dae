"""The lane's live view: rendered from a state frame (moderngl on EGL), the subject where the
frame says, bigger as it comes closer; and served by the console as PNG."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from console_support import DRILL

from drills.engine import DrillEngine
from drills.log import MemoryLog
from drills.schema import read_drill_file
from range.console.protocol import lane_state
from range.console.view import (
    VIEW_FOV_DEG,
    VIEW_H,
    VIEW_W,
    ViewThread,
    live_camera,
    live_image,
    live_scene,
)
from range.render import Renderer


def _state() -> dict[str, Any]:
    drill = read_drill_file(str(DRILL)).drill
    engine = DrillEngine(drill, np.random.default_rng(1), MemoryLog())
    engine.start()
    return lane_state(engine, (0.0, 0.0), {})


def _subject_pixels(renderer: Renderer, state: dict[str, Any]) -> int:
    """Pixels where the subject is: the view with it against the same view without it."""
    camera = live_camera(state, "officer")
    renderer.load(live_scene(state))
    with_subject = renderer.render(camera, VIEW_FOV_DEG).astype(int)
    empty = copy.deepcopy(state)
    empty["subjects"][0]["x_ft"] = 500.0  # far behind the backstop
    renderer.load(live_scene(empty))
    without = renderer.render(camera, VIEW_FOV_DEG).astype(int)
    return int((np.abs(with_subject - without).sum(axis=2) > 30).sum())


def test_the_subject_is_drawn_where_the_state_says() -> None:
    state = _state()
    assert state["subjects"][0]["x_ft"] == 30.0
    with Renderer(VIEW_W, VIEW_H) as renderer:
        far = _subject_pixels(renderer, state)
        near_state = copy.deepcopy(state)
        near_state["subjects"][0]["x_ft"] = 10.0
        near = _subject_pixels(renderer, near_state)
        # A third of the distance: about nine times the area on screen.
        assert far > 200
        assert 5 < near / far < 12
        officer = live_image(renderer, state, "officer")
        theirs = live_image(renderer, state, "subject")
    assert officer.shape == (VIEW_H, VIEW_W, 3)
    assert np.abs(officer.astype(int) - theirs.astype(int)).mean() > 5


def test_view_thread_returns_png_and_stops() -> None:
    views = ViewThread()
    try:
        png = views.render(_state(), "subject").result(timeout=60)
    finally:
        views.close()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
