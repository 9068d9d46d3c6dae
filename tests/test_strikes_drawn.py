"""What a round strikes after going through what it hit first (`bullet_strike`: a torso -> a
bystander, a car door -> the driver) is drawn everywhere an impact is (range/review/effects.py):
the review render (`scene_at`), the replay window and PNG replays (`Playback`), the headset
(`LaneHeadset`, whose renderer the live mirror shows), the console's live view (`live_scene`)
and its map (the lane's `hits`, the debrief's `impacts`). Pixels are read back (moderngl on EGL)
where projection says the strike and the round's onward path are."""

from __future__ import annotations

import queue
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from test_drill_penetration import BYSTANDER_1M_BEHIND, FIRE_AT, drill_text

from drills.log import LogRecord
from drills.officer import OfficerScript
from drills.schema import Drill, parse_drill
from physics.datafiles import parse_model
from physics.pose import Pose, look_rotation
from range.console.lane import LiveControl
from range.console.pages import debrief, state_at
from range.console.view import live_scene
from range.review.effects import STRIKE_RGB, EffectLog, Impact, impact_from_json, impacts_at
from range.review.mirror import Playback, scene_at
from range.review.render import Renderer
from range.runs.drill import RunConfig, Session, run_drill
from range.xr.lane import LaneHeadset

W, H, FOV = 480, 360, 50.0
SIDE_M = 1.5


def _drill() -> Drill:
    return parse_drill(drill_text("", BYSTANDER_1M_BEHIND), "penetration-test-v1.toml")


def _config(tmp_path: Path | None = None, on_frame: Any = None) -> RunConfig:
    officer = parse_model(FIRE_AT, OfficerScript, "fires-v1.toml")
    return RunConfig(_drill(), officer, 0, runs_dir=tmp_path, on_frame=on_frame)


@pytest.fixture(scope="module")
def through_run() -> list[LogRecord]:
    """A round through the gunman's torso strikes the bystander 1 m behind (seed 0)."""
    records = list(run_drill(_config()).records)
    assert any(r.kind == "bullet_strike" and r.data["target"] == "passer" for r in records)
    return records


def _strike(records: list[LogRecord]) -> tuple[LogRecord, LogRecord]:
    first = next(r for r in records if r.kind == "bullet_impact")
    strike = next(r for r in records if r.kind == "bullet_strike")
    return first, strike


def _side_camera(point: tuple[float, float, float]) -> Pose:
    eye = np.array([point[0], point[1] - SIDE_M, point[2]])
    return Pose(tuple(eye), look_rotation(np.asarray(point) - eye))


def _strike_pixels(image: np.ndarray) -> int:
    want = np.array([round(c * 255) for c in STRIKE_RGB])
    return int((np.abs(image.astype(int) - want).max(axis=2) <= 2).sum())


def _colour_near(image: np.ndarray, pixel: tuple[float, float] | None) -> bool:
    assert pixel is not None
    x, y = int(pixel[0]), int(pixel[1])
    return _strike_pixels(image[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2]) > 0


def _marker_rows(image: np.ndarray, pixel: tuple[float, float] | None, half_px: int = 12) -> int:
    """How many image rows within `half_px` of `pixel` hold the strike's colour: a marker (5 cm:
    ~17 px from 1.5 m, half of it in front of the body it struck) spans many; the path 2-3."""
    assert pixel is not None
    x, y = int(pixel[0]), int(pixel[1])
    patch = image[y - half_px : y + half_px + 1, x - half_px : x + half_px + 1].astype(int)
    want = np.array([round(c * 255) for c in STRIKE_RGB])
    return int((np.abs(patch - want).max(axis=2) <= 2).any(axis=1).sum())


def _look(renderer: Renderer, records: list[LogRecord]) -> None:
    """The strike's marker and its path from the first strike, where projection puts them; and
    not 3 cm above the path (the range behind)."""
    first, strike = _strike(records)
    a, b = np.asarray(first.data["point"]), np.asarray(strike.data["point"])
    point = tuple(float(c) for c in b)
    camera = _side_camera(point)  # type: ignore[arg-type]
    image = renderer.render(camera, FOV)
    # From the side the struck body's arm hides the marker's middle; its front half shows.
    assert _marker_rows(image, renderer.project(camera, point, FOV)) >= 10  # type: ignore[arg-type]
    middle = tuple(float(c) for c in a + (b - a) * 0.6)  # behind the gunman, before the passer
    camera = _side_camera(middle)  # type: ignore[arg-type]
    image = renderer.render(camera, FOV)
    assert _colour_near(image, renderer.project(camera, middle, FOV))  # type: ignore[arg-type]
    above = (middle[0], middle[1], middle[2] + 0.03)
    assert not _colour_near(image, renderer.project(camera, above, FOV))


def test_the_log_chains_each_strike_to_where_the_round_came_from(
    through_run: list[LogRecord],
) -> None:
    first, strike = _strike(through_run)
    assert impacts_at(through_run, first.t - 1e-3) == []
    bullet, struck = impacts_at(through_run, first.t)
    assert (bullet.kind, bullet.target) == ("bullet", "gunman")
    assert (struck.kind, struck.target) == ("strike", "passer")
    assert struck.came_from_m == tuple(first.data["point"])
    assert struck.point_m == tuple(strike.data["point"])
    # Read frame by frame (the headset, the lane): the same impacts.
    log = EffectLog()
    for t in np.arange(0.0, first.t + 0.1, 1 / 60):
        log.feed(through_run, float(t))
    assert log.impacts == [bullet, struck]


@pytest.mark.parametrize("playback", [False, True], ids=["review", "playback"])
def test_a_strike_through_the_torso_is_drawn_where_projection_says(
    through_run: list[LogRecord], playback: bool
) -> None:
    drill = _drill()
    first, _ = _strike(through_run)
    with Renderer(W, H) as renderer:
        before = first.t - 0.05
        if playback:
            play = Playback(through_run, renderer, drill)
            play.update(before)
        else:
            renderer.load(scene_at(through_run, before, drill)[0])
        # Nothing magenta anywhere before the shot.
        assert _strike_pixels(renderer.render(_side_camera((5.0, 0.0, 1.2)), 90.0)) == 0
        t = first.t + 0.2
        if playback:
            play.update(t)
        else:
            renderer.load(scene_at(through_run, t, drill)[0])
        _look(renderer, through_run)


def test_the_headset_draws_the_strike_as_it_happens(through_run: list[LogRecord]) -> None:
    """LaneHeadset's impact props, in a renderer of its own (no OpenXR runtime needed)."""
    first, _ = _strike(through_run)
    with Renderer(W, H) as renderer:
        session = SimpleNamespace(renderer=renderer, make_current=lambda: None)
        headset = LaneHeadset(session)  # type: ignore[arg-type]
        engine = SimpleNamespace(log=SimpleNamespace(records=through_run), t=first.t - 0.05)
        headset._add_impacts(SimpleNamespace(engine=engine))  # type: ignore[arg-type]
        assert _strike_pixels(renderer.render(_side_camera((5.0, 0.0, 1.2)), 90.0)) == 0
        engine.t = first.t + 0.02
        headset._add_impacts(SimpleNamespace(engine=engine))  # type: ignore[arg-type]
        headset._add_impacts(SimpleNamespace(engine=engine))  # type: ignore[arg-type]
        assert headset._markers == 2  # the gunman's, the passer's: each uploaded once
        _look(renderer, through_run)


def test_the_console_view_and_map_show_the_strike(tmp_path: Path) -> None:
    result = run_drill(_config(tmp_path))
    assert result.run_dir is not None
    records = list(result.records)
    first, strike = _strike(records)
    # The debrief's map lists it (feet), as a strike through to the passer.
    impacts = debrief(result.run_dir, render=False)["impacts"]
    kinds = [(i["kind"], i["weapon"], i["target"]) for i in impacts]
    assert ("strike", "firearm", "passer") in kinds and ("bullet", "firearm", "gunman") in kinds
    row = next(i for i in impacts if i["kind"] == "strike")
    assert row["x_ft"] == pytest.approx(strike.data["point"][0] / 0.3048, abs=0.01)
    # The saved run's state at a moment, drawn by the console's live view.
    assert [i["kind"] for i in state_at(records, _drill(), first.t - 0.05)["impacts_m"]] == []
    state = state_at(records, _drill(), first.t + 0.1)
    assert [i["kind"] for i in state["impacts_m"]] == ["bullet", "strike"]
    assert isinstance(impact_from_json(state["impacts_m"][1]), Impact)
    with Renderer(W, H) as renderer:
        renderer.load(live_scene(state, "officer"))
        _look(renderer, records)


def test_the_lanes_live_state_carries_the_strike_for_the_map(tmp_path: Path) -> None:
    states: list[dict[str, Any]] = []
    control = LiveControl(queue.Queue(), lambda s, e: states.append(s), {}, speed=None)
    session = Session(_config(tmp_path, control))
    session.run()
    control.finish(session)
    shot = next(r.t for r in session.engine.log.records if r.kind == "bullet_impact")
    before = [s for s in states if s["t_s"] < shot - 1e-6]
    assert before and all(s["hits"] == [] and s["impacts_m"] == [] for s in before)
    hits = states[-1]["hits"]
    assert [(h["kind"], h["target"]) for h in hits] == [("bullet", "gunman"), ("strike", "passer")]
    assert hits[1]["x_ft"] > hits[0]["x_ft"] + 2.5  # 1 m further downrange
    assert [i["kind"] for i in states[-1]["impacts_m"]] == ["bullet", "strike"]


def test_picture_of_a_round_through_the_torso_into_a_bystander(
    through_run: list[LogRecord],
) -> None:
    """docs/img/strike.png: from the officer's left and behind, after the shot (review render)."""
    import matplotlib.pyplot as plt

    first, strike = _strike(through_run)
    at = (
        np.asarray(first.data["point"])
        + (np.asarray(strike.data["point"]) - first.data["point"]) / 2
    )
    eye = at + np.array([-1.6, 2.2, 0.5])
    camera = Pose(tuple(float(c) for c in eye), look_rotation(at - eye))  # type: ignore[arg-type]
    with Renderer(W, H) as renderer:
        renderer.load(scene_at(through_run, first.t + 0.2, _drill())[0])
        image = renderer.render(camera, 55.0)
    assert _strike_pixels(image) > 50
    plt.imsave(Path(__file__).resolve().parent.parent / "docs" / "img" / "strike.png", image)
