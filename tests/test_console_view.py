"""The lane's live view: rendered from a state frame (moderngl on EGL), the subject where the
frame says, bigger as it comes closer; and served by the console as PNG."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from console_support import DRILL, saved_run

from drills.engine import DrillEngine
from drills.log import MemoryLog
from drills.schema import read_drill_file
from range.console.pages import run_state_at
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
from range.records.store import Records
from range.review.render import Renderer
from range.runs.runlog import read_events


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


def _yellow(image: np.ndarray) -> int:
    rgb = image.astype(int)
    return int(((rgb[..., 0] > 150) & (rgb[..., 1] > 120) & (rgb[..., 2] < 60)).sum())


def test_a_saved_run_at_any_moment_with_its_probes(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db_url) as records:
        records.add_officer("B-101", "Alex Officer", "Metro PD")
    saved_run(
        db_url, tmp_path / "runs", "B-101", "knife-approach-v1", "taser-first-v1", seed=0
    )  # seed 0: both probes on the subject
    run_dir = next((tmp_path / "runs").glob("*/events.jsonl")).parent
    fired = next(r.t for r in read_events(run_dir) if r.kind == "probe_impacts")
    start = run_state_at(run_dir, 0.0)
    before = run_state_at(run_dir, fired - 0.05)
    after = run_state_at(run_dir, fired + 0.05)
    assert start["subjects"][0]["x_ft"] == pytest.approx(30.0, abs=0.01)
    assert before["subjects"][0]["x_ft"] < 30.0  # walked in
    assert before["impacts_m"] == [] and len(after["impacts_m"]) == 2
    assert after["subjects"][0]["held"] == "knife"
    with Renderer(VIEW_W, VIEW_H) as renderer:
        assert _yellow(live_image(renderer, before, "officer")) == 0
        # The two probes (about 19 pixels since taser-first-v1 fires from 15 ft, nu26 #6).
        assert _yellow(live_image(renderer, after, "officer")) > 10
        top = live_image(renderer, after, "top")
    assert np.abs(top.astype(int) - live_image_no_ctx(after)).mean() > 5


def live_image_no_ctx(state: dict[str, Any]) -> np.ndarray:
    with Renderer(VIEW_W, VIEW_H) as renderer:
        return live_image(renderer, state, "officer").astype(int)
