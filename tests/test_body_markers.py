"""Issue 14: hit markers follow the body. A hit on a subject is logged with the segment it
struck and its offset from that segment's joint (`segment`, `segment_offset_m`, typed in
drills/events.py), and the review renderer (`Playback`, the replay window and `replay --png`)
places the marker on the posed segment every frame, so it rides on a subject that walks and
falls; a log written before the fields keeps its marker at the logged point."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from drills.events import RecordError, check_record
from drills.log import LogRecord
from drills.schema import Drill
from physics.animation import Clip, clip_pose
from physics.ballistics import load
from physics.body import SubjectBody
from physics.human import SEGMENTS
from physics.penetration import fly_through
from physics.pose import Pose, look_rotation
from physics.taser import cartridge, fly_probes
from physics.units import FT_M
from physics.world import RangeWorld
from range.console.pages import state_at
from range.console.view import live_image, subject_placement
from range.review.effects import WIRE_RGB, on_posed_body
from range.review.mirror import Playback
from range.review.render import Renderer, view_projection
from range.xr.lane import LaneHeadset

W, H, FOV = 480, 360, 50.0
OFF = (1.8, 1.8, 1.0)


@pytest.fixture(scope="module")
def locked_up(taser_locks_him_up: tuple[Drill, list[LogRecord]]) -> tuple[Drill, list[LogRecord]]:
    """A subject walking in, hit by both probes and falling (conftest.py, seed 0)."""
    return taser_locks_him_up


def _yellow(image: np.ndarray) -> np.ndarray:
    """(N, 2) pixels (x, y) of a probe marker: yellow (1, 0.85, 0) however it is lit."""
    rgb = image.astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mask = (r > 60) & (g > 0.75 * r) & (g < 1.05 * r) & (b < 0.35 * r)
    ys, xs = np.nonzero(mask)
    return np.column_stack([xs, ys])


def _copper(image: np.ndarray) -> np.ndarray:
    """(N, 2) pixels of a wire (unlit WIRE_RGB)."""
    want = np.array([round(c * 255) for c in WIRE_RGB])
    ys, xs = np.nonzero(np.abs(image.astype(int) - want).max(axis=2) <= 3)
    return np.column_stack([xs, ys])


def _nearest(pixels: np.ndarray, at: tuple[float, float] | None) -> float:
    assert at is not None and len(pixels)
    return float(np.min(np.hypot(pixels[:, 0] - at[0], pixels[:, 1] - at[1])))


def _project(camera: Pose, point: list[float]) -> tuple[float, float]:
    """Pixel (x right, y down) of a world point (as Renderer.project, no context needed)."""
    clip = view_projection(camera, FOV, W / H) @ np.array([*point, 1.0])
    ndc = clip[:3] / clip[3]
    return ((ndc[0] + 1) / 2 * W, (1 - ndc[1]) / 2 * H)


def _on_body(renderer: Renderer, impact: dict[str, Any]) -> tuple[float, float, float]:
    bone = renderer.segment_frame(impact["target"], impact["segment"])
    x, y, z = bone[:3, :3] @ np.asarray(impact["segment_offset_m"]) + bone[:3, 3]
    return (float(x), float(y), float(z))


def _frames(
    drill: Drill, records: list[LogRecord], times: list[float], camera: Pose
) -> list[tuple[np.ndarray, list[tuple[float, float, float]], list[Any]]]:
    """Each time's image from `camera`, where each probe's segment carries its offset, and
    where that projects (one Playback, frame after frame)."""
    impacts = next(r for r in records if r.kind == "probe_impacts").data["impacts"]
    out = []
    with Renderer(W, H) as renderer:
        play = Playback(records, renderer, drill)
        for t in times:
            play.update(t)
            image = renderer.render(camera, FOV)
            points = [_on_body(renderer, i) for i in impacts if i.get("segment")]
            out.append((image, points, [renderer.project(camera, p, FOV) for p in points]))
    return out


def _side_camera(records: list[LogRecord]) -> Pose:
    """In front of the subject and to one side of where he went down, looking at him (both
    probes, on the front of his pelvis and thigh, stay in sight as he falls toward it)."""
    hit = next(r for r in records if r.kind == "probe_impacts").data["impacts"][0]["point"]
    eye = (hit[0] - OFF[0], hit[1] - OFF[1], OFF[2])
    return Pose(eye, look_rotation((OFF[0], OFF[1], 0.6 - OFF[2])))


def test_a_probe_hit_is_logged_on_its_segment(locked_up: tuple[Drill, list[LogRecord]]) -> None:
    _, records = locked_up
    record = next(r for r in records if r.kind == "probe_impacts")
    on_subject = [i for i in record.data["impacts"] if i["target"] == "subject"]
    assert len(on_subject) == 2
    for impact in on_subject:
        assert impact["segment"] in SEGMENTS and len(impact["segment_offset_m"]) == 3
    # The vocabulary types them: a segment the body does not have is refused by field.
    bad = dict(record.data, impacts=[dict(on_subject[0], segment="tail")])
    with pytest.raises(RecordError, match="segment"):
        check_record({"t": record.t, "kind": "probe_impacts", **bad})


def test_the_markers_ride_on_a_falling_subject(locked_up: tuple[Drill, list[LogRecord]]) -> None:
    drill, records = locked_up
    down = next(r.t for r in records if r.kind == "incapacitation_started")
    camera = _side_camera(records)
    (img1, pts1, px1), (img2, pts2, px2) = _frames(
        drill, records, [down + 0.05, down + 0.45], camera
    )
    yellow1, yellow2 = _yellow(img1), _yellow(img2)
    for k in range(len(pts1)):
        # The segment carried the hit well down and along: tens of pixels here ...
        moved = float(np.hypot(px2[k][0] - px1[k][0], px2[k][1] - px1[k][1]))
        assert np.linalg.norm(np.subtract(pts2[k], pts1[k])) > 0.1
        assert moved > 20, moved
        # ... and the marker is drawn there in both frames (it sticks out of the clothing).
        assert _nearest(yellow1, px1[k]) <= 4.0
        assert _nearest(yellow2, px2[k]) <= 4.0
        # The probe's wire runs to the marker where it is now.
        assert _nearest(_copper(img2), px2[k]) <= 6.0
    # Not left hanging where the probe struck the standing man.
    struck = next(r for r in records if r.kind == "probe_impacts").data["impacts"]
    for impact in struck:
        assert _nearest(yellow2, _project(camera, impact["point"])) > 6.0


def test_a_log_without_segments_keeps_the_marker_at_the_logged_point(
    locked_up: tuple[Drill, list[LogRecord]],
) -> None:
    drill, records = locked_up
    old = []
    for r in records:
        if r.kind == "probe_impacts":
            impacts = [
                {k: v for k, v in i.items() if k not in ("segment", "segment_offset_m")}
                for i in r.data["impacts"]
            ]
            r = replace(r, data={**r.data, "impacts": impacts})
        old.append(r)
    down = next(r.t for r in records if r.kind == "incapacitation_started")
    camera = _side_camera(records)
    with Renderer(W, H) as renderer:
        Playback(old, renderer, drill).update(down + 0.45)
        image = renderer.render(camera, FOV)
        struck = next(r for r in old if r.kind == "probe_impacts").data["impacts"]
        yellow = _yellow(image)
        for impact in struck:
            assert _nearest(yellow, renderer.project(camera, tuple(impact["point"]), FOV)) <= 4.0


def test_the_segment_and_offset_carry_back_to_the_hit_point() -> None:
    """A probe (frozen and moving subject) and a round: the joint frame of the segment named,
    as the subject stood when it struck, carries the offset to the world point of the hit."""
    body = SubjectBody()
    skeleton = body.skeleton()
    x_m = 12 * FT_M
    cart = cartridge("taser7-cq")
    with RangeWorld() as world:
        world.add_subject("s", body, (x_m, 0.0, 0.0), math.pi / 2)

        def motion(t: float, subjects: frozenset[str] = frozenset({"s"})) -> None:
            pose = clip_pose(skeleton, Clip.RUN, 1.0 + t, 5)
            world.pose_subject("s", pose, (x_m, 1.0 * t, 0.0), math.pi / 2)

        motion(0.0)
        muzzle = Pose((0.0, 0.0, 1.3), look_rotation((x_m, 0.0, 1.0 - 1.3)))
        checked = {False: 0, True: 0}
        for seed in range(6):
            rng = np.random.default_rng(seed)
            for moving in (False, True):
                impacts = fly_probes(world, cart, muzzle, rng, motion if moving else None)
                for impact in impacts:
                    if impact.target != "s":
                        assert impact.segment is None and impact.segment_offset_m is None
                        continue
                    assert impact.segment is not None and impact.segment_offset_m is not None
                    if moving:
                        motion(impact.time_of_flight_s)
                    frames = world.subject_frames("s")
                    j = SEGMENTS.index(impact.segment)
                    at = frames.position[j] + frames.rotation[j] @ impact.segment_offset_m
                    # Moving: posed at its sub-chord's middle, within the cast's 5 mm of motion.
                    tolerance_m = 0.005 if moving else 1e-6
                    assert np.allclose(at, impact.point, atol=tolerance_m), (impact, at)
                    motion(0.0)
                    checked[moving] += 1
        strikes = fly_through(world, load("9mm-124"), muzzle, np.random.default_rng(0))
        assert strikes and strikes[0].target == "s" and strikes[0].segment is not None
        assert strikes[0].segment_offset_m is not None
        frames = world.subject_frames("s")
        j = SEGMENTS.index(strikes[0].segment)
        at = frames.position[j] + frames.rotation[j] @ strikes[0].segment_offset_m
        assert np.allclose(at, strikes[0].point, atol=1e-6)
    assert checked[False] >= 3 and checked[True] >= 3, checked


def test_the_consoles_view_keeps_the_markers_on_the_falling_subject(
    locked_up: tuple[Drill, list[LogRecord]],
) -> None:
    """The console's view of a saved run (`state_at`, `live_image`) poses the subject as the
    replay does and draws each marker on the segment it struck."""
    drill, records = locked_up
    down = next(r.t for r in records if r.kind == "incapacitation_started")
    state = state_at(records, drill, down + 0.45)
    subject = state["subjects"][0]
    assert subject["clip"] == "fall"
    on_body = [i for i in state["impacts_m"] if i.get("segment")]
    assert len(on_body) == 2
    placed = subject_placement(state, subject)
    camera = _side_camera(records)
    with Renderer(W, H) as renderer:
        live_image(renderer, state, "officer")  # the view's own scene, seen from the side:
        image = renderer.render(camera, FOV)
        yellow = _yellow(image)
        for impact in on_body:
            at = on_posed_body(*placed, impact["segment"], tuple(impact["segment_offset_m"]))
            assert np.linalg.norm(np.subtract(at, impact["point_m"])) > 0.1  # he went down
            assert _nearest(yellow, renderer.project(camera, at, FOV)) <= 4.0
            assert _nearest(yellow, renderer.project(camera, impact["point_m"], FOV)) > 6.0


def test_the_headset_keeps_the_markers_on_the_posed_subject(
    locked_up: tuple[Drill, list[LogRecord]],
) -> None:
    """LaneHeadset's impact markers (its renderer of its own, no OpenXR runtime): a probe on
    a drawn subject's segment follows the subject as the headset poses it, frame to frame."""
    _, records = locked_up
    impacts = next(r for r in records if r.kind == "probe_impacts")
    body = SubjectBody()
    skeleton = body.skeleton()
    hit = impacts.data["impacts"][0]["point"]
    feet = (hit[0] + 0.25, hit[1], 0.0)  # about where he stood, facing the officer (-X)
    camera = _side_camera(records)
    with Renderer(W, H) as renderer:
        session = SimpleNamespace(renderer=renderer, make_current=lambda: None)
        headset = LaneHeadset(session)  # type: ignore[arg-type]
        engine = SimpleNamespace(log=SimpleNamespace(records=records), t=impacts.t + 0.01)
        renderer.add_subject("subject", body)
        seen = []
        for clip, t in ((Clip.IDLE, 0.0), (Clip.FALL, 0.45)):
            renderer.pose_subject("subject", feet, math.pi, clip_pose(skeleton, clip, t, 0))
            headset._add_impacts(SimpleNamespace(engine=engine))  # type: ignore[arg-type]
            image = renderer.render(camera, FOV)
            points = [_on_body(renderer, i) for i in impacts.data["impacts"] if i.get("segment")]
            for at in points:
                assert _nearest(_yellow(image), renderer.project(camera, at, FOV)) <= 4.0
            seen.append(points)
    assert headset._markers == 2  # each impact handled once
    moved = np.linalg.norm(np.subtract(seen[1], seen[0]), axis=1)
    assert (moved > 0.1).all(), moved
