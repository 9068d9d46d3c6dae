"""Held objects readable at distance, and day / dusk / night (docs/img)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from physics.animation import Clip, clip_pose
from physics.body import SubjectBody
from physics.human import JOINTS
from physics.pose import Pose, look_rotation
from physics.units import FT_M
from range.review.render import HELD_OBJECTS, LIGHTING, ConeLight, Renderer, Scene

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
# A headset's ~14 px per degree (1440 px over ~100 degrees) on a 192 px frame.
SIZE, FOV = 192, 192 / 14.4
EYE = (0.0, 0.0, 1.6)
BODY = SubjectBody()
OBJECTS = ["phone", "wallet", "keys", "knife", "bat", "handgun", "toy_gun", "rifle"]


def luminance(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb[..., :3].astype(float) @ np.array([0.2126, 0.7152, 0.0722]))


# Held at the side (idle: against the floor and backstop) and in front of the body (reaching
# to the waistband: against the clothing).
POSES = {
    "side": clip_pose(BODY.skeleton(), Clip.IDLE, 0.0, 0),
    "front": clip_pose(BODY.skeleton(), Clip.REACH_WAISTBAND, 0.5, 0),
}


def view(
    distance_ft: float, held: str | None, orange_tip: bool = True, where: str = "side"
) -> np.ndarray:
    x = distance_ft * FT_M
    scene = Scene()
    scene.lane(30.0, 8.0)
    scene.subject(BODY, (x, 0.0, 0.0), math.pi, pose=POSES[where])
    if held is not None:
        scene.held(BODY, (x, 0.0, 0.0), math.pi, held, POSES[where], orange_tip)
    posed = BODY.posed(POSES[where])
    wrist = posed.position[JOINTS.index("wrist_r")]
    # The subject faces the officer (yaw pi): its frame's (x, y) is the world's (-x, -y).
    target = np.array([x - wrist[0], -wrist[1], wrist[2] - 0.05])
    camera = Pose(EYE, look_rotation(target - np.asarray(EYE)))
    with Renderer(SIZE, SIZE) as renderer:
        renderer.load(scene)
        return renderer.render(camera, FOV)


@pytest.fixture(scope="module")
def measured() -> dict[tuple[str, float, str], tuple[int, float, np.ndarray]]:
    """(object, distance, where) -> pixel area, contrast of the object against what it hides
    (the larger of the Weber luminance contrast |Lo - Lb| / Lb and the RGB distance of the
    mean colours, 0-1 per channel: a brown wallet on a navy shirt differs in hue more than in
    luminance), and the image."""
    out = {}
    for where in POSES:
        for distance in (7.0, 21.0, 45.0):
            bare = view(distance, None, where=where)
            for name in OBJECTS:
                image = view(distance, name, where=where)
                mask = np.abs(image.astype(int) - bare.astype(int)).max(axis=2) > 2
                lo, lb = luminance(image)[mask].mean(), luminance(bare)[mask].mean()
                colour = np.linalg.norm(
                    image[mask].astype(float).mean(axis=0) - bare[mask].astype(float).mean(axis=0)
                )
                contrast = max(abs(lo - lb) / lb, colour / 255)
                out[name, distance, where] = (int(mask.sum()), contrast, image)
    return out


def test_every_held_object_is_true_scale_and_known() -> None:
    assert set(OBJECTS) <= set(HELD_OBJECTS)
    phone = HELD_OBJECTS["phone"][0][1]
    assert (2 * phone[1], 2 * phone[2]) == pytest.approx((0.072, 0.147))


@pytest.mark.parametrize("where", list(POSES))
@pytest.mark.parametrize("name", OBJECTS)
def test_a_held_object_stands_out_from_what_is_behind_it_at_7_21_and_45_ft(
    name: str, where: str, measured: dict[tuple[str, float, str], tuple[int, float, np.ndarray]]
) -> None:
    """Seen at a headset's 14 px a degree: some pixels at 45 ft, the area falling roughly as
    1/d^2, and a contrast >= 0.3 against what the object hides (floor, backstop or clothing)
    at every distance (the box phone was navy on a navy body)."""
    areas = [measured[name, d, where][0] for d in (7.0, 21.0, 45.0)]
    assert areas[0] > areas[1] > areas[2] > 0, areas
    if areas[1] >= 20:
        # (21 / 7)^2 = 9; the hand and the body hide different parts at each distance.
        assert 2.0 < areas[0] / areas[1] < 20.0
    for d in (7.0, 21.0, 45.0):
        assert measured[name, d, where][1] >= 0.3, (name, d, measured[name, d, where][:2])


def test_a_toy_guns_orange_tip_shows_when_the_drill_gives_it_one() -> None:
    for distance in (7.0, 21.0):
        tipped, plain = view(distance, "toy_gun"), view(distance, "toy_gun", orange_tip=False)
        r, g, b = (tipped[..., k].astype(int) for k in range(3))
        orange = (r > 150) & (g > 40) & (g < 140) & (b < 40)
        r, g, b = (plain[..., k].astype(int) for k in range(3))
        assert orange.sum() >= 1
        assert not ((r > 150) & (g > 40) & (g < 140) & (b < 40)).any()


def test_pictures_of_the_held_objects(
    measured: dict[tuple[str, float, str], tuple[int, float, np.ndarray]],
) -> None:
    import matplotlib.pyplot as plt

    rows = [
        np.concatenate([measured[name, d, where][2][::2, ::2] for name in OBJECTS], axis=1)
        for where in POSES
        for d in (7.0, 21.0, 45.0)
    ]
    IMG.mkdir(exist_ok=True)
    plt.imsave(IMG / "held-objects.png", np.concatenate(rows, axis=0)[:, :, :3])


def test_day_dusk_and_night_and_a_weapon_light_that_follows_the_aim() -> None:
    """A subject at 21 ft: its mean luminance falls from day to dusk to night; at night it is
    readable only in the cone of the weapon light, which lights what the bore points at."""
    x = 21 * FT_M
    eye = (0.0, 0.0, 1.6)
    camera = Pose(eye, look_rotation(np.array([x, 0.0, 1.0]) - np.asarray(eye)))

    def scene(with_subject: bool) -> Scene:
        s = Scene()
        s.lane(30.0, 8.0)
        if with_subject:
            s.subject(BODY, (x, 0.0, 0.0), math.pi)
        return s

    def muzzle_at(y: float) -> Pose:
        muzzle = np.array([0.3, -0.15, 1.35])
        return Pose(tuple(muzzle), look_rotation(np.array([x, y, 1.1]) - muzzle))

    images = {}
    with Renderer(160, 120) as renderer:
        renderer.load(scene(False))
        empty = renderer.render(camera, 40.0)
        renderer.load(scene(True))
        for name in ("day", "dusk", "night"):
            renderer.lighting = LIGHTING[name]
            images[name] = renderer.render(camera, 40.0)
        renderer.cone = ConeLight.on_weapon(muzzle_at(0.0))
        images["night, light on the subject"] = renderer.render(camera, 40.0)
        renderer.cone = ConeLight.on_weapon(muzzle_at(2.5))
        images["night, light aside"] = renderer.render(camera, 40.0)
    mask = np.abs(images["day"].astype(int) - empty.astype(int)).max(axis=2) > 2
    lum = {k: float(luminance(v)[mask].mean()) for k, v in images.items()}
    assert lum["day"] > 1.5 * lum["dusk"] > 1.5 * 1.5 * lum["night"]
    assert lum["night"] < 0.08 * lum["day"]
    assert lum["night, light on the subject"] > 0.4 * lum["day"]
    assert lum["night, light aside"] < 0.1 * lum["day"]
    # The sky and the far backstop stay dark at night, lit or not.
    assert luminance(images["night, light on the subject"])[:10].mean() < 10
    import matplotlib.pyplot as plt

    IMG.mkdir(exist_ok=True)
    plt.imsave(IMG / "lighting.png", np.concatenate(list(images.values()), axis=1))
