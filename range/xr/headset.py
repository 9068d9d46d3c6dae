"""Headset output: the renderer's scene in each eye's OpenXR swapchain image (a fixed scene
for a number of frames; the lane's session itself is `range.xr.session.HeadsetSession`).

A graphics-bound OpenXR session (OpenGL through EGL, `XR_MNDX_egl_enable` on Monado; the
`XR_KHR_opengl_enable` binding on desktop runtimes) at the runtime's recommended image size.
Each frame, each eye's view is rendered from that eye's pose and its own (asymmetric) field of
view, straight into the swapchain image the runtime hands over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from physics.pose import Pose
from range.review.render import Renderer, Scene


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
    """Render `scene` to the headset for `frames` frames through the lane's one session
    (`range.xr.session.HeadsetSession`); `on_view(eye, framebuffer, renderer)` is called after
    each eye is drawn (tests read the image back there). The session locates `hand`'s aim pose
    each frame, at the frame's predicted display time."""
    from range.xr.session import HeadsetSession

    run = HeadsetRun()
    with HeadsetSession(hand=hand) as session:
        renderer = session.renderer
        assert renderer is not None
        run.recommended_sizes = list(session.recommended_sizes)
        renderer.load(scene)

        def draw(eye: int, framebuffer: Any, mvp: NDArray[np.float64], camera: Pose) -> None:
            assert renderer is not None
            renderer.draw(framebuffer, mvp)
            run.views += 1
            run.eyes.append(camera)
            width, height = framebuffer.size
            if (width, height) not in run.image_sizes:
                run.image_sizes.append((int(width), int(height)))
            if on_view is not None:
                on_view(eye, framebuffer, renderer)

        started = time.perf_counter()
        while run.frames < frames:
            frame = session.frame(draw)
            if not frame.rendered:
                if frame.state in ("STOPPING", "EXITING", "LOSS_PENDING"):
                    break
                time.sleep(0.005)  # not running yet: nothing to wait on but the runtime
                continue
            run.aims.append(frame.poses["aim"])
            run.frames += 1
            now = time.perf_counter()
            run.frame_times_s.append(now - started)
            started = now
    return run
