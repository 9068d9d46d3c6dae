"""The live view of a lane: the officer's or a subject's eyes, rendered from the lane's state
frame with the range's renderer (range/review/render.py: moderngl on EGL), as PNG for the console.

One thread owns the OpenGL context (EGL contexts are current on one thread); requests queue to
it and wait on a future.
"""

from __future__ import annotations

import io
import math
import queue
import threading
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from physics.animation import Clip, clip_pose
from physics.body import Stance, SubjectBody, body_for
from physics.human import HumanPose
from physics.pose import Pose, look_rotation
from physics.props import prop_parts
from physics.units import FT_M
from range.review.effects import XYZ, draw_impact, impact_from_json, on_posed_body
from range.review.render import (
    COLOURS,
    LIGHTING,
    OFFICER_LIGHT,
    OFFICER_LIGHT_HEIGHT_M,
    ConeLight,
    Renderer,
    Scene,
)

VIEW_W, VIEW_H, VIEW_FOV_DEG = 480, 320, 70.0
IMPACT_MARKER_M = 0.05  # drawn larger than the headset's: the view is 480 x 320
EYE_HEIGHT_M = 1.65  # an adult's eyes, standing
CHEST_HEIGHT_M = 1.3
EYES = ("officer", "subject", "top")
# The top-down camera: above the middle of the officer and the subject, high enough to hold both,
# tilted a little (from behind the officer) so bodies show their height.
TOP_MIN_HEIGHT_M = 6.0
TOP_HEIGHT_PER_M = 1.4
TOP_BACK_FRACTION = 0.35


def _m(ft: float) -> float:
    return ft * FT_M


def subject_placement(
    state: dict[str, Any], s: dict[str, Any]
) -> tuple[SubjectBody, HumanPose | None, XYZ, float]:
    """A state's subject as the view draws it: body, pose (what it is doing now; None: its
    stance), feet and yaw (facing the officer)."""
    ox, oy = _m(state["officer"]["x_ft"]), _m(state["officer"]["y_ft"])
    x, y = _m(s["x_ft"]), _m(s["y_ft"])
    age = s.get("age_group", "adult")
    body = body_for(
        s.get("size", "medium"),
        s.get("clothing_gap_in"),
        child=age == "child",
        juvenile=age == "juvenile",
        elderly=age == "elderly",
        pregnant=bool(s.get("pregnant")),
        frail=bool(s.get("frail")),
        stance=Stance(s.get("stance", "standing")),
    )
    yaw = math.atan2(oy - y, ox - x)
    pose = None
    if s.get("clip") is not None:  # what it is doing now (range.console.protocol.clip_keys)
        pose = clip_pose(body.skeleton(), Clip(s["clip"]), s["clip_t_s"], s["pose_seed"])
    return body, pose, (x, y, 0.0), yaw


def live_scene(state: dict[str, Any], eye: str = "officer") -> Scene:
    """Lane, cover, props (a car, a room...), subjects (posed, holding what they hold), the
    impacts so far (with what a round struck after going through: range.review.effects) and,
    seen from a subject's eyes, the officer (from the officer's own eyes the body would only
    hide the view), in metres."""
    scene = Scene()
    length_ft, width_ft = state["lane_ft"]
    scene.lane(_m(length_ft), _m(width_ft))
    for c in state.get("cover", []):
        height_ft = c.get("height_ft", 3.0)
        scene.box(
            (_m(c["x_ft"]), _m(c["y_ft"]), _m(height_ft) / 2),
            (_m(c["depth_ft"]) / 2, _m(c["width_ft"]) / 2, _m(height_ft) / 2),
            COLOURS["cover"],
        )
    for p in state.get("props", []):
        scene.prop(
            prop_parts(
                p["kind"],
                p["name"],
                _m(p["x_ft"]),
                _m(p.get("y_ft", 0.0)),
                math.radians(p.get("yaw_deg", 0.0)),
                _m(p.get("length_ft", 60.0)),
            )
        )
    ox, oy = _m(state["officer"]["x_ft"]), _m(state["officer"]["y_ft"])
    subjects = state.get("subjects", [])
    if subjects and eye != "officer":
        first = subjects[0]
        facing = math.atan2(_m(first["y_ft"]) - oy, _m(first["x_ft"]) - ox)
        scene.subject(SubjectBody(), (ox, oy, 0.0), facing, COLOURS["officer"])
    drawn: dict[str, tuple[SubjectBody, HumanPose | None, XYZ, float]] = {}
    for s in subjects:
        body, pose, feet, yaw = subject_placement(state, s)
        scene.held(body, feet, yaw, s.get("held", "none"), pose)
        colour = COLOURS["bystander" if s.get("role") == "bystander" else "subject"]
        scene.subject(body, feet, yaw, colour, pose)
        if s.get("id") is not None:
            drawn[str(s["id"])] = (body, pose, feet, yaw)
    for row in state.get("impacts_m", []):
        impact = impact_from_json(row)
        if impact.target in drawn and impact.segment and impact.segment_offset_m:
            # A hit logged on a segment: the marker on that segment as the subject is posed.
            at = on_posed_body(*drawn[impact.target], impact.segment, impact.segment_offset_m)
            impact = replace(impact, point_m=at)
        draw_impact(scene, impact, IMPACT_MARKER_M)
    return scene


def live_camera(state: dict[str, Any], eye: str) -> Pose:
    """The officer's eyes on the first subject, the first subject's eyes on the officer, or
    from above the lane ("top")."""
    ox, oy = _m(state["officer"]["x_ft"]), _m(state["officer"]["y_ft"])
    subjects = state.get("subjects") or [{"x_ft": 10.0, "y_ft": 0.0}]
    sx, sy = _m(subjects[0]["x_ft"]), _m(subjects[0]["y_ft"])
    if eye == "top":
        mx, my = (ox + sx) / 2, (oy + sy) / 2
        height = max(TOP_MIN_HEIGHT_M, TOP_HEIGHT_PER_M * math.hypot(sx - ox, sy - oy))
        eye_at = (mx - TOP_BACK_FRACTION * height, my, height)
        target = (mx, my, 0.0)
    elif eye == "subject":
        away = math.hypot(ox - sx, oy - sy) or 1.0
        # From just in front of the subject's face, so its own head does not fill the view.
        eye_at = (sx + 0.3 * (ox - sx) / away, sy + 0.3 * (oy - sy) / away, EYE_HEIGHT_M)
        target = (ox, oy, CHEST_HEIGHT_M)
    else:
        eye_at = (ox, oy, EYE_HEIGHT_M)
        target = (sx, sy, CHEST_HEIGHT_M)
    return Pose(eye_at, look_rotation(np.asarray(target) - np.asarray(eye_at)))


def live_image(renderer: Renderer, state: dict[str, Any], eye: str) -> NDArray[np.uint8]:
    renderer.load(live_scene(state, eye))
    lighting = state.get("lighting", "day")
    renderer.lighting = LIGHTING[lighting]
    renderer.cone = None
    subjects = state.get("subjects") or []
    if lighting in OFFICER_LIGHT and subjects:
        # The officer's weapon light on the first subject, as a replay draws it (the state
        # carries no weapon pose).
        ox, oy = _m(state["officer"]["x_ft"]), _m(state["officer"]["y_ft"])
        aim = np.array([_m(subjects[0]["x_ft"]) - ox, _m(subjects[0]["y_ft"]) - oy, 0.0])
        at = (ox, oy, OFFICER_LIGHT_HEIGHT_M)
        renderer.cone = ConeLight.on_weapon(Pose(at, look_rotation(aim)))
    return renderer.render(live_camera(state, eye), VIEW_FOV_DEG)


def png(image: NDArray[np.uint8]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    plt.imsave(buffer, image, format="png")
    return buffer.getvalue()


class ViewThread:
    """One rendering thread for the console; `render(state, eye)` returns a future of PNG
    bytes. The renderer is made on first use (no EGL needed until someone looks)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[dict[str, Any], str, Future[bytes]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def render(self, state: dict[str, Any], eye: str) -> Future[bytes]:
        future: Future[bytes] = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="console-view", daemon=True)
                self._thread.start()
        self._jobs.put((state, eye, future))
        return future

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._jobs.put(None)
                self._thread.join(timeout=10)
                self._thread = None

    def _run(self) -> None:
        renderer: Renderer | None = None
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                state, eye, future = job
                try:
                    if renderer is None:
                        renderer = Renderer(VIEW_W, VIEW_H)
                    future.set_result(png(live_image(renderer, state, eye)))
                except Exception as exc:  # handed to the request that asked
                    future.set_exception(exc)
        finally:
            if renderer is not None:
                renderer.close()
