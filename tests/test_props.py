"""Scene props from drill data (issue 14 item 6): a car, an apartment room, a doorway, a street
with a curb; cover and concealment marked; drawn exactly as they are hit; day, dusk, night."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from drills.schema import Scene as DrillScene
from physics.bullet import p
from physics.pose import Pose, look_rotation
from physics.props import PROP_KINDS, Role, prop_parts
from physics.world import RangeWorld
from range.review.render import LIGHTING, SKY, Renderer, Scene

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
SKY_RGB = np.array([round(c * 255) for c in SKY])
W, H, FOV = 128, 96, 50.0


def first_hit(
    world: RangeWorld, a: tuple[float, float, float], b: tuple[float, float, float]
) -> str:
    ends = world.cast_paths(
        np.array([[a], [b]], dtype=float), np.array([0.0, 1.0]), np.zeros((2, 1))
    )
    return world.targets[ends.target[0]] if ends.target[0] >= 0 else ""


@pytest.mark.parametrize("kind", PROP_KINDS)
def test_every_part_is_a_pybullet_box_where_the_prop_puts_it(kind: str) -> None:
    """Each part's PyBullet box spans the part's turned box (AABB within 1 mm), named by role."""
    parts = prop_parts(kind, "p", 6.0, 1.0, math.radians(30.0))  # type: ignore[arg-type]
    with RangeWorld() as world:
        world.add_prop(parts)
        names = world.targets
        for part in parts:
            uid = names.index(part.body_name)
            lo, hi = (np.array(v) for v in p.getAABB(uid, physicsClientId=world.client))
            corners = np.array(
                [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
            ) * np.array(part.half)
            turned = np.asarray(part.centre) + corners @ part.rotation().T
            assert np.allclose(lo, turned.min(axis=0), atol=0.06)  # Bullet pads AABBs
            assert np.allclose(hi, turned.max(axis=0), atol=0.06)
            assert part.body_name.startswith(f"{part.role.value}:p/")


def test_a_cars_doors_and_glass_are_concealment_its_engine_and_wheels_cover() -> None:
    """A car broadside 5 m down the lane (bonnet to the left): a round at door height stops in
    a door (concealment), one at window height in the glass, one at the front wheel's hub in
    the tyre (cover); the bonnet hides the engine block, which is cover."""
    with RangeWorld() as world:
        world.add_prop(prop_parts("car", "car", 5.0, 0.0, math.pi / 2))
        assert first_hit(world, (0.0, 0.0, 0.7), (10.0, 0.0, 0.7)).startswith(
            "concealment:car/door_"
        )
        assert first_hit(world, (0.0, 0.3, 1.15), (10.0, 0.3, 1.15)).startswith(
            "concealment:car/window_"
        )
        assert first_hit(world, (0.0, 1.45, 0.33), (10.0, 1.45, 0.33)) == "cover:car/wheel_fl"
    roles = {part.name: part.role for part in prop_parts("car", "car", 0.0, 0.0)}
    assert roles["engine_block"] is Role.COVER and roles["bonnet"] is Role.CONCEALMENT


def test_a_doorway_lets_a_probe_through_the_opening_and_stops_it_on_the_wall() -> None:
    with RangeWorld() as world:
        world.add_prop(prop_parts("doorway", "door", 4.0, 0.0))
        assert first_hit(world, (0.0, 0.0, 1.2), (8.0, -0.2, 1.2)) == ""
        assert first_hit(world, (0.0, 0.0, 1.2), (8.0, 2.0, 1.2)) == "concealment:door/wall_l"
        assert first_hit(world, (0.0, 0.0, 2.2), (8.0, 0.0, 2.2)) == "concealment:door/wall_header"


def test_a_curb_is_cover_for_someone_lying_behind_it() -> None:
    with RangeWorld() as world:
        world.add_prop(prop_parts("curb", "kerb", 5.0, 0.0, -math.pi / 2))  # across, road this side
        assert first_hit(world, (0.0, 0.0, 0.1), (10.0, 0.0, 0.1)) == "cover:kerb/curb"


def test_props_come_from_drill_data_and_a_bad_kind_names_the_field() -> None:
    scene = DrillScene.model_validate(
        {"lighting": "night", "props": [{"kind": "car", "name": "stopped", "x_ft": 20.0}]}
    )
    parts = scene.prop_parts()
    assert {part.prop for part in parts} == {"stopped"} and len(parts) == 19
    assert scene.lighting == "night"
    with pytest.raises(ValidationError, match=r"props\.0\.kind"):
        DrillScene.model_validate({"props": [{"kind": "bus", "name": "b", "x_ft": 1.0}]})


VIEWS = {
    "car": ((7.5, 0.5, math.radians(60.0)), (3.0, -2.5, 2.0)),
    "room": ((6.0, 0.0, 0.0), (0.5, -2.5, 5.5)),
    "doorway": ((5.0, 0.0, 0.0), (1.0, -1.5, 1.7)),
    "curb": ((5.0, 0.0, -math.pi / 2), (3.4, -1.6, 0.9)),
}


def render_prop(
    kind: str, lighting: str = "day", size: tuple[int, int] = (W, H)
) -> tuple[np.ndarray, Pose, list]:  # type: ignore[type-arg]
    (x, y, yaw), eye = VIEWS[kind]
    parts = prop_parts(kind, kind, x, y, yaw)  # type: ignore[arg-type]
    camera = Pose(eye, look_rotation(np.array([x, y, 0.6]) - np.asarray(eye)))
    scene = Scene()
    scene.prop(parts)
    with Renderer(*size) as renderer:
        renderer.lighting = LIGHTING[lighting]
        renderer.load(scene)
        image = renderer.render(camera, FOV)
    return image, camera, parts


@pytest.mark.parametrize("kind", PROP_KINDS)
def test_a_prop_is_drawn_where_it_is_hit(kind: str) -> None:
    """A ray through every pixel centre against the PyBullet prop: the pixels it hits are the
    pixels drawn (>= 99 % agreement), so cover seen is cover hit."""
    image, camera, parts = render_prop(kind)
    drawn = np.abs(image[:, :, :3].astype(int) - SKY_RGB).sum(axis=2) > 3
    rot = camera.rotation()
    forward, left, up = rot[:, 0], rot[:, 1], rot[:, 2]
    t = math.tan(math.radians(FOV) / 2)
    u = ((np.arange(W) + 0.5) / W * 2 - 1) * t * W / H
    v = (1 - (np.arange(H) + 0.5) / H * 2) * t
    uu, vv = np.meshgrid(u, v)
    d = (forward + uu[..., None] * -left + vv[..., None] * up).reshape(-1, 3)
    a = np.broadcast_to(np.asarray(camera.position_m), d.shape)
    with RangeWorld(lane_length_m=60.0, lane_width_m=60.0) as world:
        world.add_prop(parts)
        ends = world.cast_paths(
            np.stack([a, a + d * 40.0]), np.array([0.0, 1.0]), np.zeros((2, len(d)))
        )
        names = world.targets
        hit = np.array(
            [t >= 0 and names[t].startswith(("cover:", "concealment:")) for t in ends.target]
        ).reshape(H, W)
    union = drawn | hit
    assert union.sum() > 500
    agreement = 1 - (drawn ^ hit).sum() / union.sum()
    assert agreement >= 0.99, f"{kind}: {agreement:.4f}"


def test_pictures_of_the_props_by_day_dusk_and_night() -> None:
    """Each prop by day, dusk and night: its pixels darken from day to dusk to night (mean
    luminance each at most 2/3 of the one before). docs/img/props.png."""
    rows = []
    for kind in PROP_KINDS:
        images = {
            light: render_prop(kind, light, (2 * W, 2 * H))[0][:, :, :3]
            for light in ("day", "dusk", "night")
        }
        mask = np.abs(images["day"].astype(int) - SKY_RGB).sum(axis=2) > 3
        lum = {
            k: float((im.astype(float) @ np.array([0.2126, 0.7152, 0.0722]))[mask].mean())
            for k, im in images.items()
        }
        assert lum["dusk"] < 2 / 3 * lum["day"] and lum["night"] < 2 / 3 * lum["dusk"], lum
        rows.append(np.concatenate(list(images.values()), axis=1))
    import matplotlib.pyplot as plt

    IMG.mkdir(exist_ok=True)
    plt.imsave(IMG / "props.png", np.concatenate(rows, axis=0))
