"""A drill subject's attributes shape its one body: a child is shorter and slighter than the
adult the same drill would have, in physics (what rounds and probes hit), in the headset (the
run's bodies, as range/xr/lane.py draws them) and in the review render (range/review/mirror.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from drills.officer import find_officer
from drills.schema import Drill, find_drill
from physics.body import (
    FRAIL_GIRTH,
    JUVENILE_STATURE_M,
    SubjectBody,
    body_for,
)
from physics.human import CHILD_STATURE_M, MEDIUM_STATURE_M
from physics.pose import Pose, look_rotation
from range.review.mirror import scene_at
from range.review.render import Renderer, Scene
from range.runs.drill import RunConfig, Session, run_drill

W, H, FOV = 160, 320, 50.0
CAMERA_Y_M = -2.4  # beside the subject, inside the lane's walls


def _drill(age_group: str) -> Drill:
    drill = find_drill("phone-draw-v1")
    (man,) = drill.subjects
    attributes = man.attributes.model_copy(update={"age_group": age_group})
    subject = man.model_copy(update={"attributes": attributes})
    return drill.model_copy(update={"subjects": [subject]})


def _run(drill: Drill) -> tuple[dict[str, Any], list[Any], float]:
    """Run the drill and take, at its first frame, the subject's body, feet, yaw and pose and
    ray hits across it at 1.0 m and 1.55 m above the floor (over an adult's chin, under the top
    of a 10-year-old's head)."""
    seen: dict[str, Any] = {}

    def first(session: Session) -> None:
        if seen:
            return
        (subject,) = session.engine.subjects.values()
        x, y = subject.position_m
        seen.update(
            body=session.bodies[subject.id],
            feet=(x, y, 0.0),
            yaw=subject.yaw_rad,
            pose=session.human_poses.get(subject.id),
            t=session.engine.t,
        )
        heights = np.array([1.0, 1.55])
        a = np.stack([np.full(2, x), np.full(2, y - 2.0), heights], axis=1)
        b = a + np.array([0.0, 4.0, 0.0])
        ends = session.world.cast_paths(np.stack([a, b]), np.array([0.0, 1.0]), np.zeros((2, 2)))
        seen["hit"] = list(ends.target == session.world.targets.index(subject.id))

    result = run_drill(RunConfig(drill, find_officer("phone-draw-correct-v1"), 1, on_frame=first))
    return seen, result.records, seen["t"]


def _camera(feet: tuple[float, float, float]) -> Pose:
    eye = np.array([feet[0], CAMERA_Y_M, 1.0])
    return Pose(tuple(eye), look_rotation(np.array([feet[0], feet[1], 1.0]) - eye))


def _top_m(drawn: np.ndarray, renderer: Renderer, camera: Pose, feet: tuple[float, ...]) -> float:
    """Height of the highest drawn pixel, read off the projection of the subject's own plane."""
    rows = np.nonzero(drawn.any(axis=1))[0]
    assert len(rows) > 0, "the subject is not drawn"
    zs = np.linspace(0.0, 2.5, 251)
    ys = []
    for z in zs:
        pixel = renderer.project(camera, (feet[0], feet[1], float(z)), FOV)
        assert pixel is not None
        ys.append(pixel[1])
    # Image rows grow downward as height grows upward: interpolate on the reversed arrays.
    return float(np.interp(rows[0], ys[::-1], zs[::-1]))


def _headset_top_m(seen: dict[str, Any]) -> float:
    """What the headset draws: the run's body on its rig (range/xr/lane.py `_prepare`)."""
    camera = _camera(seen["feet"])
    with Renderer(W, H) as renderer:
        empty = renderer.render(camera, FOV)
        renderer.add_subject("s", seen["body"])
        renderer.pose_subject("s", seen["feet"], seen["yaw"], seen["pose"])
        image = renderer.render(camera, FOV)
        drawn = np.abs(image.astype(int) - empty.astype(int)).sum(axis=2) > 3
        return _top_m(drawn, renderer, camera, seen["feet"])


def _review_top_m(drill: Drill, records: list[Any], t: float, feet: tuple[float, ...]) -> float:
    """What the review render and the mirror draw (range/review/mirror.py `scene_at`)."""
    scene, _ = scene_at(records, t, drill)
    bare = Scene()
    bare.lane(drill.scene.lane_length_ft * 0.3048, drill.scene.lane_width_ft * 0.3048)
    bare.prop(drill.scene.prop_parts())
    camera = _camera(feet)
    with Renderer(W, H) as renderer:
        renderer.load(bare)
        empty = renderer.render(camera, FOV)
        renderer.load(scene)
        image = renderer.render(camera, FOV)
        drawn = np.abs(image.astype(int) - empty.astype(int)).sum(axis=2) > 3
        return _top_m(drawn, renderer, camera, feet)


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[Drill, dict[str, Any], list[Any], float]]:
    out = {}
    for age in ("adult", "child"):
        drill = _drill(age)
        seen, records, t = _run(drill)
        out[age] = (drill, seen, records, t)
    return out


def test_a_child_subject_s_physics_body_is_shorter_and_slighter(runs: dict[str, Any]) -> None:
    adult: SubjectBody = runs["adult"][1]["body"]
    child: SubjectBody = runs["child"][1]["body"]
    assert adult.skeleton().stature_m == pytest.approx(MEDIUM_STATURE_M)
    assert child.skeleton().stature_m == pytest.approx(CHILD_STATURE_M)  # CDC, 10 years
    assert child.child and not adult.child
    # Slighter: the hips' half-width (joint spacing scales with stature and girth).
    width = {k: float(np.ptp(b.skeleton().rest[:, 1])) for k, b in (("a", adult), ("c", child))}
    assert width["c"] < 0.6 * width["a"]


def test_a_ray_over_a_child_s_head_hits_the_adult_and_misses_the_child(
    runs: dict[str, Any],
) -> None:
    """At 1.0 m both are hit; at 1.55 m (an adult's head, over a 1.38 m child) only the adult."""
    assert runs["adult"][1]["hit"] == [True, True]
    assert runs["child"][1]["hit"] == [True, False]


def test_the_headset_draws_the_child_at_its_height(runs: dict[str, Any]) -> None:
    adult, child = _headset_top_m(runs["adult"][1]), _headset_top_m(runs["child"][1])
    assert adult == pytest.approx(MEDIUM_STATURE_M, abs=0.04)
    assert child == pytest.approx(CHILD_STATURE_M, abs=0.04)


def test_the_review_render_draws_the_child_at_its_height(runs: dict[str, Any]) -> None:
    tops = {}
    for age in ("adult", "child"):
        drill, seen, records, t = runs[age]
        tops[age] = _review_top_m(drill, records, t, seen["feet"])
    assert tops["adult"] == pytest.approx(MEDIUM_STATURE_M, abs=0.04)
    assert tops["child"] == pytest.approx(CHILD_STATURE_M, abs=0.04)


def test_juvenile_and_frail_subjects_change_stature_and_breadth() -> None:
    medium = body_for().skeleton()
    juvenile = body_for(juvenile=True).skeleton()
    frail = body_for(frail=True).skeleton()
    assert juvenile.stature_m == pytest.approx(JUVENILE_STATURE_M)
    assert frail.stature_m == pytest.approx(MEDIUM_STATURE_M)
    # The shoulders' spread (joint y) scales with girth: a frail adult's by FRAIL_GIRTH.
    spread = float(np.ptp(medium.rest[:, 1]))
    assert float(np.ptp(frail.rest[:, 1])) == pytest.approx(spread * FRAIL_GIRTH, rel=1e-9)
    assert math.isclose(body_for(child=True, juvenile=True).skeleton().stature_m, CHILD_STATURE_M)


def test_the_drill_s_attributes_pick_the_body() -> None:
    drill = find_drill("restricted-pregnant-v1")
    pregnant = next(s for s in drill.subjects if s.attributes.pregnant)
    assert pregnant.body().pregnant
    (man,) = _drill("elderly").subjects
    assert man.body().elderly
    assert man.body().skeleton().stature_m < MEDIUM_STATURE_M


def test_the_console_view_draws_the_child_at_its_height() -> None:
    """The instructor's console (range/console/view.py) draws from the lane state, which
    carries the body's keys (range.console.protocol.body_keys)."""
    import numpy as np

    from drills.engine import DrillEngine
    from drills.log import MemoryLog
    from range.console.protocol import lane_state
    from range.console.view import live_scene

    tops = {}
    for age in ("adult", "child"):
        engine = DrillEngine(_drill(age), np.random.default_rng(1), MemoryLog())
        engine.start()
        state = lane_state(engine, (0.0, 0.0), {})
        (subject,) = state["subjects"]
        assert subject["age_group"] == age and subject["size"] == "medium"
        feet = (subject["x_ft"] * 0.3048, subject["y_ft"] * 0.3048, 0.0)
        gone = {**state, "subjects": []}
        camera = _camera(feet)
        with Renderer(W, H) as renderer:
            renderer.load(live_scene(gone))
            empty = renderer.render(camera, FOV)
            renderer.load(live_scene(state))
            image = renderer.render(camera, FOV)
            drawn = np.abs(image.astype(int) - empty.astype(int)).sum(axis=2) > 3
            tops[age] = _top_m(drawn, renderer, camera, feet)
    assert tops["adult"] == pytest.approx(MEDIUM_STATURE_M, abs=0.04)
    assert tops["child"] == pytest.approx(CHILD_STATURE_M, abs=0.04)
