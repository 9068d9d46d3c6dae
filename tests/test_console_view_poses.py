"""The console's view draws each subject doing what it does (its animation: walking in,
falling when the probes lock it up), not standing in its rest pose: a lane's state frames and a
saved run's state carry each subject's clip (`clip`, `clip_t_s`, `pose_seed`), the saved one
animated from the log as the replay is (`range.review.mirror.animate_log`)."""

from __future__ import annotations

import queue
from typing import Any

import numpy as np
import pytest

from drills.officer import find_officer
from drills.schema import find_drill
from range.console.lane import LiveControl
from range.console.pages import state_at
from range.console.view import live_image
from range.review.render import Renderer
from range.runs.drill import RunConfig, Session


def _navy_rows(image: np.ndarray) -> np.ndarray:
    """Rows holding the subject's (navy) clothing (the pale blue sky is not navy)."""
    rgb = image.astype(int)
    navy = (rgb[..., 2] > rgb[..., 0] + 70) & (rgb[..., 2] > rgb[..., 1] + 40)
    return np.flatnonzero(navy.sum(axis=1) > 1)


@pytest.fixture(scope="module")
def probes_lock_him_up(taser_locks_him_up: tuple[Any, list[Any]]) -> tuple[Any, list[Any]]:
    return taser_locks_him_up  # conftest.py: one run for the files that need it


def test_a_saved_runs_view_shows_the_subject_walking_then_down(
    probes_lock_him_up: tuple[Any, list[Any]],
) -> None:
    drill, records = probes_lock_him_up
    down = next(r.t for r in records if r.kind == "incapacitation_started")
    walking = state_at(records, drill, down - 0.6)["subjects"][0]
    assert walking["clip"] in ("walk", "run"), walking
    state = state_at(records, drill, down + 1.5)
    fallen = state["subjects"][0]
    # From the log's positions (every 0.1 s): the fall starts at the first after he went down.
    assert fallen["clip"] == "fall" and fallen["clip_t_s"] == pytest.approx(1.5, abs=0.11)
    rest = {**state, "subjects": [{k: v for k, v in fallen.items() if k != "clip"}]}
    with Renderer(480, 320) as renderer:
        top_down = _navy_rows(live_image(renderer, state, "officer"))
        top_up = _navy_rows(live_image(renderer, rest, "officer"))
    assert len(top_down) and len(top_up)
    # Down on the floor: his clothing spans far fewer rows, and starts lower, than standing.
    assert len(top_down) < 0.6 * len(top_up), (len(top_down), len(top_up))
    assert top_down.min() > top_up.min() + 20


def test_a_lanes_state_frames_carry_each_subjects_clip() -> None:
    states: list[dict[str, Any]] = []
    control = LiveControl(queue.Queue(), lambda s, e: states.append(s), {}, speed=None)
    drill = find_drill("knife-approach-v1")
    session = Session(RunConfig(drill, find_officer("taser-first-v1"), 0, on_frame=control))
    session.run()
    control.finish(session)
    clips = [s["subjects"][0].get("clip") for s in states]
    assert "walk" in clips and "fall" in clips, sorted({str(c) for c in clips})
    # The saved run's state, animated from the log's positions (every 0.1 s), plays the same
    # clips at those moments (a change may land a frame or a position record apart).
    records = list(session.engine.log.records)
    saved = [state_at(records, drill, s["t_s"])["subjects"][0].get("clip") for s in states[::9]]
    assert {"walk", "fall"} <= set(saved) <= set(clips)
    same = sum(a == b for a, b in zip(saved, clips[::9], strict=True))
    assert same >= 0.9 * len(saved), (same, len(saved))
