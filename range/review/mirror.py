"""The instructor's mirror: a window that plays a run back from the officer's eyes.

It needs a display (X11 or Wayland through GLFW, OpenGL through GLX), so it runs in a process
of its own: EGL (headless images, the headset) and GLX must not meet in one process
(stack-notes.md). The same renderer draws it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drills.log import LogRecord
from drills.schema import Drill
from physics.animation import SubjectAnimator
from physics.body import Stance, SubjectBody
from physics.human import Skeleton
from physics.pose import Pose, look_rotation
from range.review.effects import (
    BodyMarkers,
    EffectLog,
    EffectProps,
    draw_effects,
    draw_impacts,
    flashes_at,
    impacts_at,
    wires_at,
)
from range.review.officer import officer_hold, yaw_to
from range.review.render import (
    COLOURS,
    LIGHTING,
    OFFICER_LIGHT,
    OFFICER_LIGHT_HEIGHT_M,
    ConeLight,
    Renderer,
    RenderUnavailableError,
    Scene,
)
from range.runs.saved import saved_drill_run

HEAD_HEIGHT_M = 1.7
OFFICER = "officer"  # the renderer's key for the officer's body in a replay from other eyes


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
    scene.setting(drill.scene)
    ox, oy = positions["officer"]
    for spec in drill.subjects:
        x, y = positions["subjects"][spec.id]
        yaw = math.atan2(oy - y, ox - x) + (math.pi if spec.facing == "away" else 0.0)
        body = spec.body(Stance(stance.get(spec.id, "standing")))
        scene.subject(
            body, (x, y, 0.0), yaw, COLOURS["bystander" if spec.role == "bystander" else "subject"]
        )
        scene.held(body, (x, y, 0.0), yaw, held.get(spec.id, spec.held_object.value))
    draw_impacts(scene, impacts_at(records, t))
    draw_effects(scene, wires_at(records, t), flashes_at(records, t))
    first = positions["subjects"][drill.subjects[0].id]
    eye = (ox, oy, HEAD_HEIGHT_M)
    look = np.array([first[0] - ox, first[1] - oy, 1.2 - HEAD_HEIGHT_M])
    return scene, Pose(eye, look_rotation(look))


def animate_log(records: list[LogRecord], drill: Drill, t: float) -> SubjectAnimator:
    """The subjects animated from a saved run's log up to run time `t`, one step per logged
    `positions` record, from the states the log gives (as `Playback` does frame by frame):
    ask it `clip_now(subject, t)`."""
    animator = SubjectAnimator(int(records[0].data.get("seed", 0)))
    state: dict[str, dict[str, Any]] = {}
    down: dict[str, float] = {}
    specs = {spec.id: spec for spec in drill.subjects}
    skeletons: dict[tuple[str, str], Skeleton] = {}
    for r in records:
        if r.t > t + 1e-9:
            break
        if r.kind == "phase_entered":
            state[r.data["subject"]] = r.data
        elif r.kind == "incapacitation_started":
            down[r.data["subject"]] = float(r.data["until_s"])
        elif r.kind == "positions":
            ox, oy = r.data["officer"]
            for sid, (x, y) in r.data["subjects"].items():
                spec = specs.get(sid)
                if spec is None:
                    continue
                yaw = math.atan2(oy - y, ox - x) + (math.pi if spec.facing == "away" else 0.0)
                now = state.get(sid, {})
                stance = now.get("stance", "standing")
                behaviour = now.get("behaviour", "compliant")
                if sid in down and r.t < down[sid]:
                    behaviour = "incapacitated"
                held = now.get("held_object", spec.held_object.value)
                if (sid, stance) not in skeletons:
                    skeletons[sid, stance] = spec.body(Stance(stance)).skeleton()
                skeleton = skeletons[sid, stance]
                animator.advance(
                    sid, r.t, (x, y), yaw, behaviour, stance, held, skeleton, now.get("animation")
                )
    return animator


class Playback:
    """A run replayed into a renderer frame by frame: the lane and impacts are uploaded when
    they change (a new impact), the subjects are posed by transforms (animated from the
    logged states, as in the run) and re-uploaded only when what they hold changes."""

    def __init__(
        self,
        records: list[LogRecord],
        renderer: Renderer,
        drill: Drill,
        *,
        officer: bool = False,
        hidden: frozenset[str] = frozenset(),
    ) -> None:
        """`officer`: draw the officer's body too (for a replay from someone else's eyes);
        `hidden`: subjects not drawn (the one whose eyes the replay looks through)."""
        self.records = records
        self.officer = officer
        self.hidden = hidden
        self.renderer = renderer
        started = records[0].data
        self.drill = drill  # the drill the run played (`range.runs.saved.saved_drill`)
        self.animator = SubjectAnimator(int(started.get("seed", 0)))
        self._impacts = -1
        self._held: dict[str, str] = {}
        self.effects = EffectLog()
        self._effect_props = EffectProps(renderer)
        self.body_markers = BodyMarkers(renderer)
        self._on_bodies: frozenset[int] = frozenset()

    def update(self, t: float) -> Pose:
        """Pose everything at run time `t` (increasing from call to call); the officer's eyes."""
        drill, renderer = self.drill, self.renderer
        positions = [r for r in self.records if r.kind == "positions" and r.t <= t + 1e-9][-1].data
        state: dict[str, dict[str, str]] = {}
        down: dict[str, float] = {}
        for r in self.records:
            if r.t > t + 1e-9:
                break
            if r.kind == "phase_entered":
                state[r.data["subject"]] = r.data
            elif r.kind == "incapacitation_started":
                down[r.data["subject"]] = float(r.data["until_s"])
        self.effects.feed(self.records, t)
        impacts = self.effects.impacts
        ox, oy = positions["officer"]
        first = positions["subjects"][drill.subjects[0].id]
        renderer.cone = None
        if drill.scene.lighting in OFFICER_LIGHT:
            # The officer's weapon light on the first subject: the log keeps no weapon pose
            # between shots, so it shines from the officer's chest toward the subject's.
            at = (ox, oy, OFFICER_LIGHT_HEIGHT_M)
            aim = np.array([first[0] - ox, first[1] - oy, 0.0])
            renderer.cone = ConeLight.on_weapon(Pose(at, look_rotation(aim)))
        if self.officer:
            # The officer's drawn weapon in the hand, the arms at the ready or aimed.
            hold = officer_hold(self.records, t)
            if self._held.get(OFFICER) != hold.held:
                renderer.add_subject(OFFICER, SubjectBody(), COLOURS["officer"], hold.held)
                self._held[OFFICER] = hold.held
            at = positions["subjects"].get(hold.target or "", first)
            renderer.pose_subject(OFFICER, (ox, oy, 0.0), yaw_to((ox, oy), at), hold.pose)
        for spec in drill.subjects:
            if spec.id in self.hidden:
                continue
            x, y = positions["subjects"][spec.id]
            yaw = math.atan2(oy - y, ox - x) + (math.pi if spec.facing == "away" else 0.0)
            now = state.get(spec.id, {})
            stance = now.get("stance", "standing")
            body = spec.body(Stance(stance))
            held = now.get("held_object", spec.held_object.value)
            if self._held.get(spec.id) != held:
                colour = COLOURS["bystander" if spec.role == "bystander" else "subject"]
                renderer.add_subject(spec.id, body, colour, held)
                self._held[spec.id] = held
            behaviour = now.get("behaviour", "compliant")
            if spec.id in down and t < down[spec.id]:
                behaviour = "incapacitated"
            pose = self.animator.update(
                spec.id,
                t,
                (x, y),
                yaw,
                behaviour,
                stance,
                held,
                body.skeleton(),
                now.get("animation"),
            )
            renderer.pose_subject(spec.id, (x, y, 0.0), yaw, pose)
        # The lane and the impacts not on a drawn body, uploaded when they change; the markers
        # on bodies ride on their segments as posed this frame.
        on_bodies = self.body_markers.anchored(impacts)
        if len(impacts) != self._impacts or on_bodies != self._on_bodies:
            scene = Scene()
            scene.setting(drill.scene)
            renderer.lighting = LIGHTING[drill.scene.lighting]
            draw_impacts(scene, impacts, on_bodies=on_bodies)
            renderer.load(scene)
            self._impacts, self._on_bodies = len(impacts), on_bodies
        self.body_markers.update(impacts)
        wires = self.effects.wires(t, on_body=self.body_markers.point)
        self._effect_props.update(wires, self.effects.flashes(t))
        eye = (ox, oy, HEAD_HEIGHT_M)
        look = np.array([first[0] - ox, first[1] - oy, 1.2 - HEAD_HEIGHT_M])
        return Pose(eye, look_rotation(look))


SCRUB_S = 2.0  # one arrow key moves a replay this much run time


def play(
    run_dir: Path,
    *,
    speed: float = 1.0,
    frames: int | None = None,
    screenshot: Path | None = None,
    size: tuple[int, int] = (960, 540),
    who: str = "officer",
) -> int:
    """Open the window and play the run as `who` saw it (`range.review.replay.Viewpoint`:
    officer, subject, a subject id, bystander); returns the frames shown. Space pauses, the
    left and right arrows scrub by SCRUB_S, Escape closes."""
    if screenshot is not None:
        from range import outfile

        outfile.check(screenshot)  # not a run's own file, not a device (nu23 #1)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NoDisplayError(
            "the mirror needs a display (DISPLAY is not set); for a review"
            " without one, use `openrange report`"
        )
    import glfw
    import moderngl

    from range.review.render import view_projection
    from range.review.replay import Replay

    records, drill = saved_drill_run(run_dir)
    if not glfw.init():
        raise NoDisplayError("GLFW could not reach the display")
    try:
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        window = glfw.create_window(
            size[0], size[1], f"OpenRange mirror: {run_dir.name} as {who}", None, None
        )
        if not window:
            raise NoDisplayError("the display refused an OpenGL 3.3 window")
        glfw.make_context_current(window)
        ctx = moderngl.create_context()
        renderer = Renderer(size[0], size[1], context=ctx)
        replay = Replay(records, renderer, drill, who)
        end = replay.end_s
        control = {"t": 0.0, "paused": False}

        def key(_w: object, k: int, _s: int, action: int, _m: int) -> None:
            if action not in (glfw.PRESS, glfw.REPEAT):
                return
            if k == glfw.KEY_SPACE:
                control["paused"] = not control["paused"]
            elif k in (glfw.KEY_LEFT, glfw.KEY_RIGHT):
                step = SCRUB_S if k == glfw.KEY_RIGHT else -SCRUB_S
                control["t"] = min(end, max(0.0, control["t"] + step))
            elif k == glfw.KEY_ESCAPE:
                glfw.set_window_should_close(window, True)

        glfw.set_key_callback(window, key)
        shown = 0
        last = glfw.get_time()
        while not glfw.window_should_close(window):
            now = glfw.get_time()
            if frames is not None:
                control["t"] = end * shown / max(frames - 1, 1)
            elif not control["paused"]:
                control["t"] = min(end, control["t"] + (now - last) * speed)
            last = now
            t = control["t"]
            eyes = replay.update(t)
            width, height = glfw.get_framebuffer_size(window)
            renderer.width, renderer.height = width, height
            renderer.draw(ctx.screen, view_projection(eyes, 70.0, width / height))
            shown += 1
            if frames is not None and shown >= frames:
                if screenshot is not None:
                    raw = ctx.screen.read(components=3)
                    image = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)[::-1]
                    import matplotlib.image

                    matplotlib.image.imsave(screenshot, image)
                break
            glfw.swap_buffers(window)
            glfw.poll_events()
            if t >= end and frames is None and not control["paused"]:
                glfw.set_window_should_close(window, True)
        renderer.close()
        glfw.destroy_window(window)
        return shown
    finally:
        glfw.terminate()


# The instructor's third-person camera: behind the officer's right shoulder and above, looking
# at the middle of the encounter.
THIRD_PERSON_BACK_M = 2.5
THIRD_PERSON_RIGHT_M = 1.0
THIRD_PERSON_UP_M = 2.6


def third_person(officer_eye: Pose, look_at: tuple[float, float, float]) -> Pose:
    """The instructor's camera for a live run: behind the officer's right shoulder and above
    (THIRD_PERSON_*), looking at `look_at` (the middle of the encounter)."""
    forward = np.asarray(officer_eye.rotation()[:, 0], dtype=float)
    forward[2] = 0.0
    norm = float(np.linalg.norm(forward))
    forward = forward / norm if norm > 1e-9 else np.array([1.0, 0.0, 0.0])
    right = np.array([forward[1], -forward[0], 0.0])
    x, y, _ = np.asarray(officer_eye.position_m, dtype=float)
    at = np.array([x, y, THIRD_PERSON_UP_M]) - forward * THIRD_PERSON_BACK_M
    at += right * THIRD_PERSON_RIGHT_M
    eye = (float(at[0]), float(at[1]), float(at[2]))
    return Pose(eye, look_rotation(np.asarray(look_at, dtype=float) - at))


_glfw_users = 0  # GLFW is process-wide: terminated only when its last user closes


def acquire_glfw() -> bool:
    """Initialise GLFW for one more user (the live mirror, a GLX headset context)."""
    global _glfw_users
    import glfw

    if _glfw_users == 0 and not glfw.init():
        return False
    _glfw_users += 1
    return True


def release_glfw() -> None:
    """One user is done with GLFW; the last one terminates it (destroying every window)."""
    global _glfw_users
    import glfw

    _glfw_users = max(0, _glfw_users - 1)
    if _glfw_users == 0:
        glfw.terminate()


class LiveMirror:
    """The instructor's mirror of a live run: a desktop window the frame loop updates each
    frame with `show(renderer, camera)`, drawn by the lane's own renderer (the headset's).

    The renderer draws the view into its own framebuffer in its own (EGL) context; the pixels
    are shown in a GLFW window whose context GLFW also makes through EGL, so EGL and GLX never
    meet in the process (stack-notes.md). Drawing makes the window's context current: the
    headset session makes its own current again at its next frame, and `show` makes the
    renderer's current before drawing. Errors: NoDisplayError (one line) with no display."""

    def __init__(self, size: tuple[int, int] = (960, 540), title: str = "OpenRange mirror"):
        self.size, self.title = size, title
        self._window: Any = None  # a GLFW window
        self._last_drawn: NDArray[np.uint8] = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        self._fbo: Any = None
        self._fbo_ctx: Any = None
        self.shown = 0

    def open(self) -> LiveMirror:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise NoDisplayError("the mirror needs a display (DISPLAY is not set)")
        # PyOpenGL draws the pixels in the window's context; it must find it through EGL.
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        import glfw

        if not acquire_glfw():
            raise NoDisplayError("GLFW could not reach the display")
        # The window's context through the same API as the process's others: EGL beside an
        # EGL headset session or headless renderer, GLX beside a GLX-bound headset session
        # (`HeadsetSession(binding="glx")` sets PyOpenGL's platform to glx first).
        glfw.default_window_hints()  # hints outlive windows: a GLX headset context set some
        if os.environ["PYOPENGL_PLATFORM"] == "egl":
            glfw.window_hint(glfw.CONTEXT_CREATION_API, glfw.EGL_CONTEXT_API)
        glfw.window_hint(glfw.RESIZABLE, glfw.FALSE)
        window = glfw.create_window(self.size[0], self.size[1], self.title, None, None)
        if not window:
            release_glfw()
            raise NoDisplayError("the display refused an OpenGL window")
        self._window = window
        glfw.make_context_current(window)
        glfw.swap_interval(0)  # the headset paces the loop, not the desktop's refresh
        return self

    @property
    def closed(self) -> bool:
        """The instructor closed the window (the run goes on without it)."""
        import glfw

        return self._window is None or bool(glfw.window_should_close(self._window))

    def show(
        self,
        renderer: Renderer,
        camera: Pose,
        fov_deg: float = 70.0,
        activate: Callable[[], None] | None = None,
    ) -> NDArray[np.uint8]:
        """Draw the renderer's scene as it is now from `camera` into the window; returns the
        image shown (height, width, 3), row 0 at the top, at the window's size whatever the
        renderer's own. `activate` makes the renderer's context current (the headset's:
        `HeadsetSession.make_current`); a renderer with a context of its own needs none."""
        import glfw
        from OpenGL import GL  # type: ignore[import-untyped]

        if activate is not None:
            activate()
            image = self._draw(renderer, camera, fov_deg)
        else:
            with renderer.ctx:  # its own (EGL) context current while it draws
                image = self._draw(renderer, camera, fov_deg)
        glfw.make_context_current(self._window)
        GL.glWindowPos2i(0, 0)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        bottom_up = np.ascontiguousarray(image[::-1])
        GL.glDrawPixels(self.size[0], self.size[1], GL.GL_RGB, GL.GL_UNSIGNED_BYTE, bottom_up)
        GL.glFinish()
        self._last_drawn = self._read_back()
        glfw.swap_buffers(self._window)
        glfw.poll_events()
        self.shown += 1
        return image

    def _draw(self, renderer: Renderer, camera: Pose, fov_deg: float) -> NDArray[np.uint8]:
        # An offscreen framebuffer of the window's size in the renderer's context (made once):
        # the renderer keeps its own size (the headset's renderer draws into swapchains).
        from range.review.render import view_projection

        width, height = self.size
        if self._fbo is None or self._fbo_ctx is not renderer.ctx:
            self._fbo = renderer.ctx.simple_framebuffer((width, height))
            self._fbo_ctx = renderer.ctx
        renderer.draw(self._fbo, view_projection(camera, fov_deg, width / height))
        raw = self._fbo.read(components=3)
        image = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
        return np.ascontiguousarray(image[::-1])

    def _read_back(self) -> NDArray[np.uint8]:
        from OpenGL import GL

        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        width, height = self.size
        raw = GL.glReadPixels(0, 0, width, height, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
        image = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
        return np.ascontiguousarray(image[::-1])

    def read(self) -> NDArray[np.uint8]:
        """The window's pixels as last drawn, read back from the window's own framebuffer
        before it was shown (height, width, 3), row 0 at the top."""
        return self._last_drawn

    def close(self) -> None:
        import glfw

        if self._window is not None:
            glfw.destroy_window(self._window)
            self._window = None
            release_glfw()

    def __enter__(self) -> LiveMirror:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
