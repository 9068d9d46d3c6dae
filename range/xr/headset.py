"""Headset output: the renderer's scene in each eye's OpenXR swapchain image.

A graphics-bound OpenXR session (OpenGL through EGL, `XR_MNDX_egl_enable` on Monado; the
`XR_KHR_opengl_enable` binding on desktop runtimes) at the runtime's recommended image size.
Each frame, each eye's view is rendered from that eye's pose and its own (asymmetric) field of
view, straight into the swapchain image the runtime hands over.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from physics.pose import Pose, pose_from_openxr
from range.review.render import Renderer, Scene, frustum, view_matrix


@dataclass(slots=True)
class HeadsetRun:
    frames: int = 0
    views: int = 0
    image_sizes: list[tuple[int, int]] = field(default_factory=list)
    recommended_sizes: list[tuple[int, int]] = field(default_factory=list)
    frame_times_s: list[float] = field(default_factory=list)
    eyes: list[Pose] = field(default_factory=list)
    # The replica hand's aim pose at each frame's predicted display time.
    aims: list[Pose] = field(default_factory=list)


def run_headset(
    scene: Scene,
    frames: int,
    on_view: Callable[[int, Any, Renderer], None] | None = None,
    hand: str = "right",
) -> HeadsetRun:
    """Render `scene` to the headset for `frames` frames; `on_view(eye, framebuffer, renderer)`
    is called after each eye is drawn (tests read the image back there). The session carries
    the same action set as the headless pose source, and locates `hand`'s aim pose each frame."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    import moderngl
    import xr
    from xr.utils.gl.context_object import ContextObject
    from xr.utils.gl.egl_util import EGLOffscreenContextProvider

    from range.xr.runtime import (
        XRUnavailableError,
        create_hand_spaces,
        create_weapon_actions,
        locate,
        sync_actions,
    )

    available = {e.extension_name.decode() for e in xr.enumerate_instance_extension_properties()}
    binding = "XR_MNDX_egl_enable" if "XR_MNDX_egl_enable" in available else None
    if binding is None or "XR_KHR_opengl_enable" not in available:
        raise XRUnavailableError("the OpenXR runtime offers no OpenGL binding for EGL")
    run = HeadsetRun()
    provider = EGLOffscreenContextProvider()
    info = xr.InstanceCreateInfo(enabled_extension_names=[binding, "XR_KHR_opengl_enable"])
    space = xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.STAGE)
    with ContextObject(
        context_provider=provider, instance_create_info=info, reference_space_create_info=space
    ) as context:
        ctx = moderngl.create_context()
        run.recommended_sizes = [
            (v.recommended_image_rect_width, v.recommended_image_rect_height)
            for v in xr.enumerate_view_configuration_views(
                context.instance, context.system_id, xr.ViewConfigurationType.PRIMARY_STEREO
            )
        ]
        renderer = Renderer(1, 1, context=ctx)
        renderer.load(scene)
        # Bindings are suggested before the frame loop attaches the action sets.
        actions = create_weapon_actions(context.instance)
        context.action_sets.append(actions["action_set"])
        spaces = create_hand_spaces(context.session, actions, hand)
        started = time.perf_counter()
        for frame_state in context.frame_loop():
            sync_actions(context.session, actions["action_set"])
            run.aims.append(
                locate(
                    spaces["aim_space"],
                    context.space,
                    frame_state.predicted_display_time,
                    time.monotonic(),
                )
            )
            for eye, view in enumerate(context.view_loop(frame_state)):
                framebuffer = ctx.detect_framebuffer()
                p, q = view.pose.position, view.pose.orientation
                camera = pose_from_openxr(
                    (p.x, p.y, p.z), (q.x, q.y, q.z, q.w), 0.0, valid=True, tracked=True
                )
                fov = view.fov
                # OpenXR's eye space is OpenGL's: its angles map straight onto the frustum.
                projection = frustum(
                    math.tan(fov.angle_left),
                    math.tan(fov.angle_right),
                    math.tan(fov.angle_up),
                    math.tan(fov.angle_down),
                )
                renderer.draw(framebuffer, projection @ view_matrix(camera))
                run.views += 1
                run.eyes.append(camera)
                width, height = framebuffer.size
                if (width, height) not in run.image_sizes:
                    run.image_sizes.append((int(width), int(height)))
                if on_view is not None:
                    on_view(eye, framebuffer, renderer)
            run.frames += 1
            now = time.perf_counter()
            run.frame_times_s.append(now - started)
            started = now
            if run.frames >= frames:
                break
        renderer.close()
    return run
