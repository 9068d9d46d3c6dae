"""Where a drill happens is drawn the same everywhere (`Scene.setting`: the lane, its cover and
its props): the headset (`LaneHeadset`, whose renderer the live mirror shows) draws a traffic
stop's car and uses the drill's `lighting`; at dusk and night the officer's weapon light (a cone,
`ConeLight.on_weapon`) follows the replica's bore in the headset, and shines from the officer on
the first subject in a replay (`Playback`, which has no weapon pose between shots). The review
render (`scene_at`) draws cover boxes. Pixels are read back (moderngl on EGL); the headset's
renderer is a headless one here (no OpenXR runtime needed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from drills.officer import find_officer
from drills.schema import Drill, find_drill
from physics.pose import Pose, look_rotation
from physics.units import FT_M
from range.review.mirror import Playback, scene_at
from range.review.render import COLOURS, LIGHTING, MATERIALS, Renderer
from range.runs.drill import RunConfig, run_drill
from range.runs.lane import Weapon
from range.xr.lane import LaneHeadset

W, H, FOV = 320, 240, 60.0
TRAFFIC_STOP = "traffic-stop-handgun-v1"


def _traffic_stop(lighting: str = "day") -> Drill:
    drill = find_drill(TRAFFIC_STOP)
    if lighting == "day":
        return drill
    scene = drill.scene.model_copy(update={"lighting": lighting})
    return drill.model_copy(update={"scene": scene, "id": f"traffic-stop-handgun-{lighting}-v1"})


def _chroma(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=float)
    return rgb / max(float(rgb.sum()), 1e-9)


def _is_material(pixel: np.ndarray, colour: tuple[float, float, float], tol: float = 0.02) -> bool:
    """Lambert shading scales a colour by one factor: the chromaticity is the material's."""
    return bool(np.abs(_chroma(pixel) - _chroma(np.asarray(colour))).max() <= tol)


def _headset(renderer: Renderer, drill: Drill) -> tuple[LaneHeadset, Any]:
    session = SimpleNamespace(renderer=renderer, make_current=lambda: None)
    headset = LaneHeadset(session)  # type: ignore[arg-type]
    replica = SimpleNamespace(weapon=Weapon.FIREARM, serial="P1")
    run = SimpleNamespace(
        config=SimpleNamespace(drill=drill),
        lane=SimpleNamespace(replicas=[replica]),
        weapon_out=Weapon.FIREARM,
        hands=object(),
    )
    headset._attach(run)  # type: ignore[arg-type]
    return headset, run


def _eye_on(point: tuple[float, float, float]) -> Pose:
    eye = np.array([0.0, 0.0, 1.65])
    return Pose((0.0, 0.0, 1.65), look_rotation(np.asarray(point) - eye))


def _door() -> tuple[float, float, float]:
    part = next(p for p in find_drill(TRAFFIC_STOP).scene.prop_parts() if p.name == "door_fl")
    return part.centre


def test_the_headset_draws_the_traffic_stops_car_in_its_lighting() -> None:
    door = _door()
    camera = _eye_on(door)
    with Renderer(W, H) as renderer:
        _headset(renderer, _traffic_stop())
        assert renderer.lighting == LIGHTING["day"]
        image = renderer.render(camera, FOV)
        x, y = renderer.project(camera, door, FOV)  # type: ignore[misc]
        pixel = image[int(y), int(x)]
        # The driver's door (painted car body) where projection puts it, not the range behind.
        assert _is_material(pixel, MATERIALS["paint"]), pixel
        assert not _is_material(pixel, COLOURS["floor"]) and not _is_material(
            pixel, COLOURS["wall"]
        )
        day = float(pixel.mean())
        _headset(renderer, _traffic_stop("night"))
        assert renderer.lighting == LIGHTING["night"]
        night = float(renderer.render(camera, FOV)[int(y), int(x)].mean())
        assert night < day / 5, (day, night)


def test_at_night_the_weapon_light_follows_the_replicas_bore() -> None:
    door = _door()
    camera = _eye_on(door)
    muzzle_at = np.array([0.0, -0.2, 1.4])
    on_door = Pose(tuple(muzzle_at), look_rotation(np.asarray(door) - muzzle_at))  # type: ignore[arg-type]
    away = Pose(tuple(muzzle_at), look_rotation(np.array([-1.0, 0.0, 0.0])))  # type: ignore[arg-type]
    with Renderer(W, H) as renderer:
        x, y = (int(v) for v in renderer.project(camera, door, FOV))  # type: ignore[union-attr]

        def door_luminance(drill: Drill, muzzle: Pose | None) -> float:
            headset, run = _headset(renderer, drill)
            headset._pose_replica(run, muzzle)
            return float(renderer.render(camera, FOV)[y - 1 : y + 2, x - 1 : x + 2].mean())

        lit = door_luminance(_traffic_stop("night"), on_door)
        dark = door_luminance(_traffic_stop("night"), away)
        untracked = door_luminance(_traffic_stop("night"), None)
        assert lit > 5 * dark and dark == pytest.approx(untracked, abs=1.0), (lit, dark)
        headset, run = _headset(renderer, _traffic_stop("dusk"))
        headset._pose_replica(run, on_door)
        assert renderer.cone is not None
        headset, run = _headset(renderer, _traffic_stop("day"))
        headset._pose_replica(run, on_door)
        assert renderer.cone is None  # no weapon light by day


def _subject_luminance(drill: Drill) -> tuple[float, float]:
    """The driver's mean luminance in a replay from the officer's eyes, 1 s in: with the
    replay's officer light, and with it switched off."""
    result = run_drill(RunConfig(drill, find_officer("traffic-stop-handgun-correct-v1"), 0))
    records = list(result.records)
    with Renderer(W, H) as renderer:
        play = Playback(records, renderer, drill)
        eyes = play.update(1.0)
        where = next(r for r in records if r.kind == "positions").data["subjects"]["driver"]
        chest = (float(where[0]), float(where[1]), 1.3)
        x, y = (int(v) for v in renderer.project(eyes, chest, 70.0))  # type: ignore[union-attr]
        lit = float(renderer.render(eyes, 70.0)[y - 2 : y + 3, x - 2 : x + 3].mean())
        renderer.cone = None
        unlit = float(renderer.render(eyes, 70.0)[y - 2 : y + 3, x - 2 : x + 3].mean())
    return lit, unlit


def test_a_night_replay_shows_the_subject_in_the_officers_light() -> None:
    lit, unlit = _subject_luminance(_traffic_stop("night"))
    assert lit > 5 * unlit and lit > 15, (lit, unlit)
    day, same = _subject_luminance(_traffic_stop("day"))
    assert day == same  # no light by day


def test_the_review_render_draws_the_drills_cover() -> None:
    # A free-standing cover box (the traffic stop's concrete barrier; talk-down-cover's is now
    # inside its patrol car, under the bonnet, as the car's engine block is).
    drill = find_drill("traffic-stop-handgun-v1")
    records = list(
        run_drill(RunConfig(drill, find_officer("traffic-stop-handgun-correct-v1"), 0)).records
    )
    cover = drill.scene.cover[0]
    top = (cover.x_ft * FT_M, cover.y_ft * FT_M, cover.height_ft * FT_M)
    eye = np.array([top[0] - 1.0, top[1] - 0.6, top[2] + 1.2])
    camera = Pose(tuple(eye), look_rotation(np.asarray(top) - eye))  # type: ignore[arg-type]
    with Renderer(W, H) as renderer:
        renderer.load(scene_at(records, 0.5, drill)[0])
        image = renderer.render(camera, FOV)
        x, y = (int(v) for v in renderer.project(camera, top, FOV))  # type: ignore[union-attr]
        below = (int(x), int(y) + 3)  # just inside the box's top face, toward the camera
        pixel = image[below[1], below[0]]
    assert _is_material(pixel, COLOURS["cover"], 0.01), pixel


def test_the_consoles_live_view_draws_the_car_and_lights_the_subject_at_night() -> None:
    from range.console.pages import state_at
    from range.console.view import VIEW_FOV_DEG, live_camera, live_image, live_scene

    door = _door()
    camera = _eye_on(door)
    officer = find_officer("traffic-stop-handgun-correct-v1")
    with Renderer(W, H) as renderer:
        shown = []
        for lighting in ("day", "night"):
            drill = _traffic_stop(lighting)
            records = list(run_drill(RunConfig(drill, officer, 0)).records)
            state = state_at(records, drill, 1.0)
            assert state["lighting"] == lighting and [p["kind"] for p in state["props"]] == ["car"]
            renderer.load(live_scene(state))
            renderer.lighting = LIGHTING["day"]
            image = renderer.render(camera, FOV)
            x, y = (int(v) for v in renderer.project(camera, door, FOV))  # type: ignore[union-attr]
            assert _is_material(image[y, x], MATERIALS["paint"]), image[y, x]
            # The view as the console serves it: the driver's chest in the officer's light.
            picture = live_image(renderer, state, "officer")
            eyes = live_camera(state, "officer")
            driver = state["subjects"][0]
            chest = (driver["x_ft"] * FT_M, driver["y_ft"] * FT_M, 1.3)
            px = renderer.project(eyes, chest, VIEW_FOV_DEG)
            assert px is not None
            shown.append(
                float(
                    picture[int(px[1]) - 2 : int(px[1]) + 3, int(px[0]) - 2 : int(px[0]) + 3].mean()
                )
            )
            renderer.cone = None
            dark = renderer.render(eyes, VIEW_FOV_DEG)
            if lighting == "night":
                patch = dark[int(px[1]) - 2 : int(px[1]) + 3, int(px[0]) - 2 : int(px[0]) + 3]
                assert shown[-1] > 5 * float(patch.mean()), (shown, float(patch.mean()))
        assert shown[1] > 15, shown


def _mean_luminance(data_url: str) -> float:
    import base64
    import io

    import matplotlib.image

    image = matplotlib.image.imread(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    return float(np.asarray(image)[..., :3].mean())


def test_a_night_reports_shot_picture_is_lit_by_the_weapon_light(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import range.review.report as report

    drill = _traffic_stop("night")
    records = list(
        run_drill(RunConfig(drill, find_officer("traffic-stop-handgun-correct-v1"), 0)).records
    )
    shot = next(
        r for r in records if r.kind == "officer_action" and r.data["action"] == "firearm_fired"
    )
    with Renderer(W, H) as renderer:
        lit = _mean_luminance(report.shot_images(records, shot, drill, renderer)[0])
        monkeypatch.setattr(report, "OFFICER_LIGHT", frozenset())
        dark = _mean_luminance(report.shot_images(records, shot, drill, renderer)[0])
    assert lit > 1.5 * dark, (lit, dark)


def test_picture_of_the_headsets_traffic_stop_by_day_and_night() -> None:
    """docs/img/headset-night.png: the headset's renderer from the officer's eyes: by day, at
    night with the replica aimed away, at night with its light on the driver's door."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    door = _door()
    eye = np.array([-2.5, 1.0, 2.0])  # behind the officer, to see the car and the light on it
    camera = Pose(tuple(eye), look_rotation(np.asarray(door) - eye))  # type: ignore[arg-type]
    muzzle_at = np.array([0.0, -0.2, 1.4])
    on_door = Pose(tuple(muzzle_at), look_rotation(np.asarray(door) - muzzle_at))  # type: ignore[arg-type]
    away = Pose(tuple(muzzle_at), look_rotation(np.array([-1.0, 0.0, 0.0])))  # type: ignore[arg-type]
    frames = []
    with Renderer(W, H) as renderer:
        for lighting, muzzle in (("day", on_door), ("night", away), ("night", on_door)):
            headset, run = _headset(renderer, _traffic_stop(lighting))
            headset._pose_replica(run, muzzle)
            frames.append(renderer.render(camera, FOV))
    means = [float(f.mean()) for f in frames]
    assert means[0] > means[2] > means[1], means
    plt.imsave(
        Path(__file__).resolve().parent.parent / "docs" / "img" / "headset-night.png",
        np.concatenate(frames, axis=1),
    )
