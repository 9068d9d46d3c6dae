"""What is drawn is what is hit: the rendered subject against ray hits on its physics body from
the same camera, and pictures of the stances (docs/img)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from physics.body import BODY_SIZES, Stance, SubjectBody
from physics.pose import Pose, look_rotation
from physics.world import RangeWorld
from range.review.render import SKY, Renderer, Scene

W, H, FOV = 96, 128, 40.0
IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
SKY_RGB = np.array([round(c * 255) for c in SKY])


def pixel_rays(camera: Pose) -> tuple[np.ndarray, np.ndarray]:
    """World start and direction of the ray through each pixel centre, row 0 at the top: the
    inverse of range.render.view_projection's symmetric frustum."""
    rot = camera.rotation()
    forward, left, up = rot[:, 0], rot[:, 1], rot[:, 2]
    t = math.tan(math.radians(FOV) / 2)
    u = ((np.arange(W) + 0.5) / W * 2 - 1) * t * W / H
    v = (1 - (np.arange(H) + 0.5) / H * 2) * t
    uu, vv = np.meshgrid(u, v)
    d = forward + uu[..., None] * -left + vv[..., None] * up
    return np.broadcast_to(np.asarray(camera.position_m), d.shape), d


CASES = {
    "standing-front": (SubjectBody(), math.pi, (2.6, 0.0, 1.0)),
    "arms-raised-front": (SubjectBody(stance=Stance.ARMS_RAISED), math.pi, (2.2, 0.0, 1.1)),
    "kneeling-side": (SubjectBody(stance=Stance.KNEELING), math.pi / 2, (3.0, 0.0, 0.8)),
    "standing-back": (SubjectBody(BODY_SIZES["large"]), 0.0, (2.4, 0.0, 1.0)),
    "pregnant-side": (
        SubjectBody(BODY_SIZES["small"], pregnant=True),
        -math.pi / 2,
        (2.8, 0.3, 1.0),
    ),
    "child-front": (SubjectBody(child=True), math.pi + 0.4, (3.4, 0.2, 0.8)),
    "elderly-side": (SubjectBody(elderly=True), math.pi / 2, (2.6, 0.0, 1.2)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_drawn_silhouette_is_the_hit_silhouette(case: str) -> None:
    """Every pixel's ray cast against the PyBullet subject hits it exactly where the renderer
    drew the subject: agreement >= 99 % of the pixels either one calls subject."""
    body, yaw, eye = CASES[case]
    feet = (5.5, 0.0, 0.0)
    camera = Pose(eye, look_rotation(np.array([5.5, 0.0, 0.9]) - np.asarray(eye)))
    scene = Scene()
    scene.subject(body, feet, yaw)
    with Renderer(W, H) as renderer:
        renderer.load(scene)
        image = renderer.render(camera, FOV)
    drawn = np.abs(image.astype(int) - SKY_RGB).sum(axis=2) > 3
    start, direction = pixel_rays(camera)
    n = W * H
    a = start.reshape(n, 3)
    b = a + direction.reshape(n, 3) * 20.0
    with RangeWorld(lane_length_m=30.0) as world:
        world.add_subject("s", body, feet, yaw)
        ends = world.cast_paths(np.stack([a, b]), np.array([0.0, 1.0]), np.zeros((2, n)))
        hit = (ends.target == world.targets.index("s")).reshape(H, W)
    union = drawn | hit
    agreement = 1 - (drawn ^ hit).sum() / union.sum()
    assert union.sum() > 800  # the subject fills a good part of the frame
    assert agreement >= 0.99, f"{case}: {agreement:.4f}"
    IMG.mkdir(exist_ok=True)
    import matplotlib.pyplot as plt

    plt.imsave(IMG / f"human-{case}.png", image)
