"""The instructor's mirror: a window that plays a run back from the officer's eyes.

It needs a display (X11 or Wayland through GLFW, OpenGL through GLX), so it runs in a process
of its own: EGL (headless images, the headset) and GLX must not meet in one process
(stack-notes.md). The same renderer draws it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from drills.log import LogRecord
from drills.schema import Drill
from physics.animation import SubjectAnimator
from physics.body import BODY_SIZES, Stance, SubjectBody
from physics.pose import Pose, look_rotation
from physics.units import FT_M
from range.review.render import COLOURS, LIGHTING, Renderer, RenderUnavailableError, Scene
from range.runs.runlog import read_events
from range.runs.saved import saved_drill

HEAD_HEIGHT_M = 1.7


class NoDisplayError(RenderUnavailableError):
    pass


def scene_at(records: list[LogRecord], t: float, drill: Drill) -> tuple[Scene, Pose]:
    """The range at run time t, and the officer's eyes looking at the first subject, in the
    drill the run played (`range.runs.saved.saved_drill`)."""
    positions = [r for r in records if r.kind == "positions" and r.t <= t + 1e-9][-1].data
    stance: dict[str, str] = {}
    held: dict[str, str] = {}
    for r in records:
        if r.kind == "phase_entered" and r.t <= t + 1e-9:
            stance[r.data["subject"]] = r.data["stance"]
            held[r.data["subject"]] = r.data["held_object"]
    scene = Scene()
    scene.lane(drill.scene.lane_length_ft * FT_M, drill.scene.lane_width_ft * FT_M)
    scene.prop(drill.scene.prop_parts())
    ox, oy = positions["officer"]
    for spec in drill.subjects:
        x, y = positions["subjects"][spec.id]
        yaw = math.atan2(oy - y, ox - x) + (math.pi if spec.facing == "away" else 0.0)
        body = SubjectBody(BODY_SIZES[spec.size], stance=Stance(stance.get(spec.id, "standing")))
        scene.subject(
            body, (x, y, 0.0), yaw, COLOURS["bystander" if spec.role == "bystander" else "subject"]
        )
        scene.held(body, (x, y, 0.0), yaw, held.get(spec.id, spec.held_object.value))
    for r in records:
        if r.t > t + 1e-9:
            break
        if r.kind == "probe_impacts":
            for impact in r.data["impacts"]:
                scene.marker(tuple(impact["point"]), COLOURS["probe"], 0.025)
        elif r.kind == "bullet_impact":
            scene.marker(tuple(r.data["point"]), COLOURS["bullet"], 0.025)
    first = positions["subjects"][drill.subjects[0].id]
    eye = (ox, oy, HEAD_HEIGHT_M)
    look = np.array([first[0] - ox, first[1] - oy, 1.2 - HEAD_HEIGHT_M])
    return scene, Pose(eye, look_rotation(look))


class Playback:
    """A run replayed into a renderer frame by frame: the lane and impacts are uploaded when
    they change (a new impact), the subjects are posed by transforms (animated from the
    logged states, as in the run) and re-uploaded only when what they hold changes."""

    def __init__(self, records: list[LogRecord], renderer: Renderer, drill: Drill) -> None:
        self.records = records
        self.renderer = renderer
        started = records[0].data
        self.drill = drill  # the drill the run played (`range.runs.saved.saved_drill`)
        self.animator = SubjectAnimator(int(started.get("seed", 0)))
        self._impacts = -1
        self._held: dict[str, str] = {}

    def update(self, t: float) -> Pose:
        """Pose everything at run time `t` (increasing from call to call); the officer's eyes."""
        drill, renderer = self.drill, self.renderer
        positions = [r for r in self.records if r.kind == "positions" and r.t <= t + 1e-9][-1].data
        state: dict[str, dict[str, str]] = {}
        down: dict[str, float] = {}
        impacts = []
        for r in self.records:
            if r.t > t + 1e-9:
                break
            if r.kind == "phase_entered":
                state[r.data["subject"]] = r.data
            elif r.kind == "incapacitation_started":
                down[r.data["subject"]] = float(r.data["until_s"])
            elif r.kind == "probe_impacts":
                impacts += [(tuple(i["point"]), COLOURS["probe"]) for i in r.data["impacts"]]
            elif r.kind == "bullet_impact":
                impacts.append((tuple(r.data["point"]), COLOURS["bullet"]))
        if len(impacts) != self._impacts:
            scene = Scene()
            scene.lane(drill.scene.lane_length_ft * FT_M, drill.scene.lane_width_ft * FT_M)
            scene.prop(drill.scene.prop_parts())
            renderer.lighting = LIGHTING[drill.scene.lighting]
            for point, colour in impacts:
                scene.marker(point, colour, 0.025)
            renderer.load(scene)
            self._impacts = len(impacts)
        ox, oy = positions["officer"]
        for spec in drill.subjects:
            x, y = positions["subjects"][spec.id]
            yaw = math.atan2(oy - y, ox - x) + (math.pi if spec.facing == "away" else 0.0)
            now = state.get(spec.id, {})
            stance = now.get("stance", "standing")
            body = SubjectBody(BODY_SIZES[spec.size], stance=Stance(stance))
            held = now.get("held_object", spec.held_object.value)
            if self._held.get(spec.id) != held:
                colour = COLOURS["bystander" if spec.role == "bystander" else "subject"]
                renderer.add_subject(spec.id, body, colour, held)
                self._held[spec.id] = held
            behaviour = now.get("behaviour", "compliant")
            if spec.id in down and t < down[spec.id]:
                behaviour = "incapacitated"
            pose = self.animator.update(
                spec.id, t, (x, y), yaw, behaviour, stance, held, body.skeleton()
            )
            renderer.pose_subject(spec.id, (x, y, 0.0), yaw, pose)
        first = positions["subjects"][drill.subjects[0].id]
        eye = (ox, oy, HEAD_HEIGHT_M)
        look = np.array([first[0] - ox, first[1] - oy, 1.2 - HEAD_HEIGHT_M])
        return Pose(eye, look_rotation(look))


def play(
    run_dir: Path,
    *,
    speed: float = 1.0,
    frames: int | None = None,
    screenshot: Path | None = None,
    size: tuple[int, int] = (960, 540),
) -> int:
    """Open the window and play the run; returns the frames shown."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NoDisplayError(
            "the mirror needs a display (DISPLAY is not set); for a review"
            " without one, use `openrange report`"
        )
    import glfw
    import moderngl

    records = read_events(run_dir)
    drill = saved_drill(run_dir, records[0].data)
    end = max(r.t for r in records)
    if not glfw.init():
        raise NoDisplayError("GLFW could not reach the display")
    try:
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        window = glfw.create_window(
            size[0], size[1], f"OpenRange mirror: {run_dir.name}", None, None
        )
        if not window:
            raise NoDisplayError("the display refused an OpenGL 3.3 window")
        glfw.make_context_current(window)
        ctx = moderngl.create_context()
        renderer = Renderer(size[0], size[1], context=ctx)
        playback = Playback(records, renderer, drill)
        shown = 0
        start = glfw.get_time()
        while not glfw.window_should_close(window):
            t = (
                min(end, (glfw.get_time() - start) * speed)
                if frames is None
                else (end * shown / max(frames - 1, 1))
            )
            eyes = playback.update(t)
            width, height = glfw.get_framebuffer_size(window)
            renderer.width, renderer.height = width, height
            from range.review.render import view_projection

            renderer.draw(ctx.screen, view_projection(eyes, 70.0, width / height))
            shown += 1
            if frames is not None and shown >= frames:
                if screenshot is not None:
                    raw = ctx.screen.read(components=3)
                    image = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)[::-1]
                    import matplotlib

                    matplotlib.use("Agg")
                    import matplotlib.pyplot as plt

                    plt.imsave(screenshot, image)
                break
            glfw.swap_buffers(window)
            glfw.poll_events()
            if t >= end and frames is None:
                glfw.set_window_should_close(window, True)
        renderer.close()
        glfw.destroy_window(window)
        return shown
    finally:
        glfw.terminate()
