"""One graphics-bound OpenXR session per lane: it renders the headset, owns the action set and
locates the poses, so nothing in the process needs a second session (two sessions in one
instance fail with LimitReachedError).

The session is OpenGL (`XR_KHR_opengl_enable`): through EGL with no display where the runtime
offers `XR_MNDX_egl_enable` (Monado), otherwise through GLX on the desktop's display (the Xlib
binding desktop runtimes offer), so nothing Monado-only is required. Poses are located at each
frame's predicted display time and stamped on the host's monotonic clock by converting that
display time with `XR_KHR_convert_timespec_time`, or with
`XR_KHR_win32_convert_performance_counter_time` where that is what the runtime offers. The
headless session (`range.xr.runtime.OpenXRPoses`) stays for calibration without a headset.

The caller's frame loop calls `frame()` once a render frame; the frame says the session state,
so a drill sees the headset being taken off (the session leaving FOCUSED) and pauses.
"""

from __future__ import annotations

import ctypes
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from physics.pose import Pose, pose_from_openxr
from range.clock import MonotonicClock
from range.review.render import Renderer, frustum, view_matrix
from range.runs.poses import PoseHistory
from range.xr.runtime import (
    NO_RUNTIME,
    TRACKER,
    TRACKER_EXTENSION,
    XRUnavailableError,
    _xr,
    create_hand_spaces,
    create_weapon_actions,
    locate,
    sync_actions,
)

EGL_BINDING = "XR_MNDX_egl_enable"
OPENGL = "XR_KHR_opengl_enable"
TIMESPEC = "XR_KHR_convert_timespec_time"
WIN32_TIME = "XR_KHR_win32_convert_performance_counter_time"
# States in which the application renders frames (OpenXR 1.0, "Session lifecycle").
RUNNING = ("READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED")

# draw(eye, framebuffer, mvp, eye_pose): draw one eye into the swapchain image's framebuffer;
# `mvp` takes the physics frame to clip space for that eye (its own asymmetric field of view).
Draw = Callable[[int, Any, NDArray[np.float64], Pose], None]


def missing_for_headset(extensions: set[str] | frozenset[str] | tuple[str, ...]) -> list[str]:
    """What a runtime offering `extensions` lacks for the headset session, one named line each
    (empty: it has all). `openrange xr check` prints these. Without `XR_MNDX_egl_enable` the
    session renders through GLX on the desktop's display (`binding="glx"`), so that is not a
    lack."""
    offered = set(extensions)
    missing = []
    if OPENGL not in offered:
        missing.append(f"no OpenGL graphics binding ({OPENGL}): the headset cannot be rendered")
    if TIMESPEC not in offered and WIN32_TIME not in offered:
        missing.append(
            f"no time conversion ({TIMESPEC} or {WIN32_TIME}): poses cannot be put on the"
            " clock the replicas' trigger events are stamped on"
        )
    return missing


class GLFWContextProvider:
    """An OpenGL context for the headset on the desktop's display (GLX through a hidden GLFW
    window): the binding every desktop runtime offers with `XR_KHR_opengl_enable`
    (`XrGraphicsBindingOpenGLXlibKHR`), where the runtime has no EGL binding."""

    def __init__(self) -> None:
        import glfw

        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise XRUnavailableError(
                f"the OpenXR runtime has no EGL binding ({EGL_BINDING}), and rendering through"
                " GLX needs a display (DISPLAY is not set)"
            )
        from range.review.mirror import acquire_glfw, release_glfw

        if not acquire_glfw():
            raise XRUnavailableError("GLFW could not reach the display for the headset context")
        glfw.default_window_hints()
        glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        self._window: Any = glfw.create_window(16, 16, "OpenRange headset", None, None)
        if not self._window:
            release_glfw()
            raise XRUnavailableError("the display refused an OpenGL 3.3 context for the headset")
        glfw.make_context_current(self._window)

    def make_current(self) -> None:
        import glfw

        glfw.make_context_current(self._window)

    def done_current(self) -> None:
        import glfw

        glfw.make_context_current(None)  # type: ignore[arg-type]

    def destroy(self) -> None:
        import glfw

        from range.review.mirror import release_glfw

        if self._window:
            glfw.destroy_window(self._window)
            self._window = None
            release_glfw()

    def __enter__(self) -> GLFWContextProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()


def skipped_periods(previous_ns: int, display_ns: int, period_ns: int) -> int:
    """Display periods skipped between two consecutive frames' predicted display times (ns):
    0 when each frame took the next period, 2 when it took the third, ... (a frame missed is
    a period in which the compositor had no new image)."""
    if period_ns <= 0:
        return 0
    return max(0, round((display_ns - previous_ns) / period_ns) - 1)


@dataclass(frozen=True, slots=True)
class HeadsetFrame:
    """One pass of `HeadsetSession.frame`: the session state after the runtime's events,
    whether a frame was rendered (only in a running state, and only when the runtime says the
    frame should be), the poses located for it (empty when none was waited for) and the host
    time (s) of its predicted display."""

    state: str
    states: tuple[str, ...]  # the state changes seen by this pass, in order
    rendered: bool
    poses: dict[str, Pose]
    display_s: float | None
    views: int

    @property
    def focused(self) -> bool:
        """The officer has the headset on and the input: a drill runs only then."""
        return self.state == "FOCUSED"


@dataclass(slots=True)
class HeadsetSession:
    """The headset of one lane: renders the renderer's scene into each eye and locates the
    head, aim and grip poses (the `range.runs.poses.TrackedPoses` protocol: `update()`,
    `pose(device, t)`) on the host clock. Open it (`with`); `frame(draw)` each render frame.

    Errors: XRUnavailableError (one line) when there is no runtime, no headset, or the runtime
    lacks what `missing_for_headset` names."""

    hand: str = "right"
    # "egl" (XR_MNDX_egl_enable: no display needed), "glx" (the desktop's display), or "auto":
    # EGL where the runtime offers it, else GLX.
    binding: str = "auto"
    clock: MonotonicClock = field(default_factory=lambda: MonotonicClock(origin_ns=0))
    states: list[str] = field(default_factory=list)
    history: dict[str, PoseHistory] = field(default_factory=dict)
    runtime_name: str = ""
    system_name: str = ""
    time_extension: str = ""
    recommended_sizes: list[tuple[int, int]] = field(default_factory=list)
    frames: int = 0  # frames rendered
    missed: int = 0  # display periods skipped between consecutive rendered frames
    display_period_s: float = 0.0  # the runtime's predicted display period, last frame
    renderer: Renderer | None = None
    _h: dict[str, Any] = field(default_factory=dict)
    _last_display_ns: int | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def open(self) -> HeadsetSession:
        xr = _xr()
        try:
            available = {
                e.extension_name.decode() for e in xr.enumerate_instance_extension_properties()
            }
        except xr.exception.RuntimeUnavailableError:
            raise XRUnavailableError(NO_RUNTIME) from None
        missing = missing_for_headset(available)
        if missing:
            raise XRUnavailableError(f"the OpenXR runtime offers {missing[0]}")
        if self.hand == TRACKER and TRACKER_EXTENSION not in available:
            raise XRUnavailableError(
                f"this OpenXR runtime does not offer {TRACKER_EXTENSION}: track the replica"
                " with a controller (--hand left or right)"
            )
        if self.binding not in ("auto", "egl", "glx"):
            raise ValueError(f"binding {self.binding!r}: choose auto, egl or glx")
        if self.binding == "egl" and EGL_BINDING not in available:
            raise XRUnavailableError(f"the OpenXR runtime offers no EGL binding ({EGL_BINDING})")
        use_egl = self.binding == "egl" or (self.binding == "auto" and EGL_BINDING in available)
        self.binding = "egl" if use_egl else "glx"
        # PyOpenGL finds the current context through the platform it loads first.
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl" if use_egl else "glx")
        if use_egl:
            os.environ.setdefault("EGL_PLATFORM", "surfaceless")
        self.time_extension = TIMESPEC if TIMESPEC in available else WIN32_TIME
        wanted = [OPENGL, self.time_extension] + ([EGL_BINDING] if use_egl else [])
        if self.hand == TRACKER:
            wanted.append(TRACKER_EXTENSION)
        import moderngl
        from xr.utils.gl.context_object import ContextObject
        from xr.utils.gl.egl_util import EGLOffscreenContextProvider

        info = xr.InstanceCreateInfo(
            application_info=xr.ApplicationInfo(
                application_name="OpenRange",
                application_version=1,
                engine_name="openrange",
                engine_version=1,
                api_version=xr.Version(1, 0, 0),
            ),
            enabled_extension_names=wanted,
        )
        space = xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.STAGE)
        provider = EGLOffscreenContextProvider() if use_egl else GLFWContextProvider()
        context = ContextObject(
            context_provider=provider,
            instance_create_info=info,
            reference_space_create_info=space,
        )
        try:
            context.__enter__()
        except xr.exception.FormFactorUnavailableError:
            raise XRUnavailableError("the OpenXR runtime sees no headset") from None
        except xr.exception.RuntimeUnavailableError:
            raise XRUnavailableError(NO_RUNTIME) from None
        h = self._h
        h["context"] = context
        instance, session = context.instance, context.session
        props = xr.get_instance_properties(instance)
        self.runtime_name = props.runtime_name.decode()
        self.system_name = xr.get_system_properties(
            instance, context.system_id
        ).system_name.decode()
        self.recommended_sizes = [
            (v.recommended_image_rect_width, v.recommended_image_rect_height)
            for v in xr.enumerate_view_configuration_views(
                instance, context.system_id, xr.ViewConfigurationType.PRIMARY_STEREO
            )
        ]
        h["ctx"] = moderngl.create_context()
        self.renderer = Renderer(1, 1, context=h["ctx"])
        h.update(create_weapon_actions(instance, tracker=self.hand == TRACKER))
        # Attached with pyopenxr's default set, as its frame loop would.
        xr.attach_session_action_sets(
            session,
            xr.SessionActionSetsAttachInfo(
                action_sets=[context.default_action_set, h["action_set"]]
            ),
        )
        h.update(create_hand_spaces(session, h, self.hand))
        h["view"] = xr.create_reference_space(
            session,
            xr.ReferenceSpaceCreateInfo(
                reference_space_type=xr.ReferenceSpaceType.VIEW, pose_in_reference_space=xr.Posef()
            ),
        )
        self._time_functions(xr, instance)
        return self

    def _time_functions(self, xr: Any, instance: Any) -> None:
        h = self._h
        if self.time_extension == TIMESPEC:
            h["to_host"] = ctypes.cast(
                xr.get_instance_proc_addr(instance, "xrConvertTimeToTimespecTimeKHR"),
                xr.PFN_xrConvertTimeToTimespecTimeKHR,
            )
        else:  # Windows runtimes only; written to the extension's specification, not run here
            signature = ctypes.CFUNCTYPE(
                xr.Result, xr.Instance, xr.Time, ctypes.POINTER(ctypes.c_longlong)
            )
            h["to_host"] = ctypes.cast(
                xr.get_instance_proc_addr(instance, "xrConvertTimeToWin32PerformanceCounterKHR"),
                signature,
            )

    def close(self) -> None:
        h = self._h
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
        context = h.get("context")
        if context is not None:
            # Destroying a running session is allowed (xrEndSession is only for STOPPING).
            context.__exit__(None, None, None)
        h.clear()

    def __enter__(self) -> HeadsetSession:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def reset_counts(self) -> None:
        """Start counting frames rendered and missed afresh (e.g. once the session is
        focused, for a figure over a set time)."""
        self.frames, self.missed, self._last_display_ns = 0, 0, None

    def make_current(self) -> None:
        """Make the session's OpenGL context current (after another window drew, e.g. the
        instructor's mirror, `range.review.mirror.LiveMirror`)."""
        self._h["context"].graphics.make_current()

    # -- the runtime's events ---------------------------------------------------------------

    @property
    def state(self) -> str:
        return self.states[-1] if self.states else "IDLE"

    def poll(self) -> list[str]:
        """Handle the runtime's queued events; the session state changes among them, in order
        (the session is begun on READY and ended on STOPPING, as OpenXR's lifecycle asks)."""
        xr = _xr()
        context = self._h["context"]
        seen: list[str] = []
        while True:
            try:
                event = xr.poll_event(context.instance)
            except xr.exception.EventUnavailable:
                return seen
            kind = xr.StructureType(event.type)
            if kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                seen.append("LOSS_PENDING")
                self.states.append("LOSS_PENDING")
                continue
            if kind != xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                continue
            changed = ctypes.cast(
                ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)
            ).contents
            state = xr.SessionState(changed.state)
            context.session_state = state
            seen.append(state.name)
            self.states.append(state.name)
            if state == xr.SessionState.READY:
                xr.begin_session(
                    context.session,
                    xr.SessionBeginInfo(
                        primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO
                    ),
                )
                context.session_is_running = True
            elif state == xr.SessionState.STOPPING:
                context.session_is_running = False
                xr.end_session(context.session)

    # -- time -------------------------------------------------------------------------------

    def host_s(self, xr_time: int) -> float:
        """An OpenXR time on the host clock the serial links stamp events on (seconds)."""
        xr = _xr()
        h = self._h
        if self.time_extension == TIMESPEC:
            spec = xr.timespec()
            result = h["to_host"](h["context"].instance, xr.Time(xr_time), ctypes.byref(spec))
            if result != 0:
                raise XRUnavailableError(f"xrConvertTimeToTimespecTimeKHR failed ({result})")
            ns = int(spec.tv_sec) * 1_000_000_000 + int(spec.tv_nsec)
            return (ns - self.clock.monotonic_ns(0.0)) * 1e-9
        # Windows: the performance counter, in its own ticks per second.
        counter = ctypes.c_longlong()
        result = h["to_host"](h["context"].instance, xr.Time(xr_time), ctypes.byref(counter))
        if result != 0:
            raise XRUnavailableError(f"xrConvertTimeToWin32PerformanceCounterKHR failed ({result})")
        frequency = ctypes.c_longlong()
        ctypes.windll.kernel32.QueryPerformanceFrequency(ctypes.byref(frequency))  # type: ignore[attr-defined,unused-ignore]
        ns = counter.value * 1_000_000_000 // frequency.value
        return (ns - self.clock.monotonic_ns(0.0)) * 1e-9

    # -- a frame ----------------------------------------------------------------------------

    def draw_scene(self, eye: int, framebuffer: Any, mvp: NDArray[np.float64], pose: Pose) -> None:
        """The default draw: the renderer's scene (static geometry, subjects and props, each
        moved by its transform) into the eye's image."""
        assert self.renderer is not None
        self.renderer.draw(framebuffer, mvp)

    def frame(
        self,
        draw: Draw | None = None,
        prepare: Callable[[dict[str, Pose]], None] | None = None,
    ) -> HeadsetFrame:
        """One render frame: handle the runtime's events; in a running state wait for the
        frame, sync the actions, locate the head, aim and grip poses at the predicted display
        time (kept for `pose`), call `prepare(poses)` (where the caller moves the replica and
        the subjects by their transforms), and draw each eye (`draw`, by default `draw_scene`).
        Out of the running states nothing is waited for or drawn, and the frame says so: the
        caller keeps its drill paused until `focused` again."""
        xr = _xr()
        h = self._h
        context = h["context"]
        seen = self.poll()
        if not context.session_is_running or self.state not in RUNNING:
            return HeadsetFrame(self.state, tuple(seen), False, {}, None, 0)
        draw = draw or self.draw_scene
        frame_state = xr.wait_frame(context.session)
        xr.begin_frame(context.session)
        context.render_layers = []
        context.graphics.make_current()
        display = int(frame_state.predicted_display_time)
        period = int(frame_state.predicted_display_period)
        self.display_period_s = period * 1e-9
        if self._last_display_ns is not None:
            self.missed += skipped_periods(self._last_display_ns, display, period)
        self._last_display_ns = display
        sync_actions(context.session, h["action_set"])
        display_s = self.host_s(display)
        poses = {
            name: locate(h[space], context.space, frame_state.predicted_display_time, display_s)
            for name, space in (("head", "view"), ("aim", "aim_space"), ("grip", "grip_space"))
        }
        for name, pose in poses.items():
            self.history.setdefault(name, PoseHistory()).add(pose)
        if prepare is not None:
            prepare(poses)
        views = 0
        for eye, view in enumerate(context.view_loop(frame_state)):
            framebuffer = h["ctx"].detect_framebuffer()
            p, q = view.pose.position, view.pose.orientation
            camera = pose_from_openxr(
                (p.x, p.y, p.z), (q.x, q.y, q.z, q.w), display_s, valid=True, tracked=True
            )
            fov = view.fov
            # OpenXR's eye space is OpenGL's: its angles map straight onto the frustum.
            projection = frustum(
                math.tan(fov.angle_left),
                math.tan(fov.angle_right),
                math.tan(fov.angle_up),
                math.tan(fov.angle_down),
            )
            draw(eye, framebuffer, projection @ view_matrix(camera), camera)
            views += 1
        xr.end_frame(
            context.session,
            xr.FrameEndInfo(
                display_time=frame_state.predicted_display_time,
                environment_blend_mode=context.environment_blend_mode,
                layers=context.render_layers,
            ),
        )
        self.frames += 1
        return HeadsetFrame(self.state, tuple(seen), views > 0, poses, display_s, views)

    # -- TrackedPoses -----------------------------------------------------------------------

    def update(self) -> dict[str, Pose]:
        """One frame with the default draw; the poses located for it (empty while the session
        is not running)."""
        return self.frame().poses

    def pose(self, device: str, t: float) -> Pose:
        """`device` ("weapon" is the aim pose; "head", "aim", "grip") at host time `t`, from
        the poses located so far (invalid before the first)."""
        name = "aim" if device == "weapon" else device
        if name not in self.history:
            return Pose((0.0, 0.0, 0.0), time_s=t, valid=False, tracked=False)
        return self.history[name].at(t)

    def trigger(self) -> float:
        """The hand's trigger value as of the last frame's sync (0..1)."""
        xr = _xr()
        h = self._h
        state = xr.get_action_state_float(
            h["context"].session,
            xr.ActionStateGetInfo(action=h["trigger"], subaction_path=h["hands"][self.hand]),
        )
        return float(state.current_state)
