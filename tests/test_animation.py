"""Animations: pure functions of drill time and seed, blended, drawn as hit (docs/img)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from physics.animation import (
    BLEND_S,
    FALL_S,
    RECOVER_S,
    RUN_ENTER_MPS,
    RUN_LEAVE_MPS,
    WALK_ENTER_MPS,
    WALK_LEAVE_MPS,
    Clip,
    SubjectAnimator,
    Timeline,
    clip_for,
    clip_pose,
)
from physics.body import SubjectBody
from physics.human import JOINTS, HumanPose, forward_kinematics, posed_vertices
from physics.pose import Pose, look_rotation
from physics.world import RangeWorld
from range.review.render import SKY, Renderer, Scene

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from live_drill import CROWD_SPEED_MPS, crowd_blends, crowd_session

BODY = SubjectBody()
SKELETON = BODY.skeleton()
IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
KEY_S = {
    Clip.WALK: 0.3,
    Clip.RUN: 0.2,
    Clip.FALL: 0.4,
    Clip.RECOVER: 1.0,
    Clip.DRAW_POINT: 0.7,
    Clip.DROP: 0.5,
    Clip.REACH_WAISTBAND: 0.5,
    Clip.REACH_POCKET: 0.5,
}


def joints_of(pose: HumanPose) -> np.ndarray:
    posed = forward_kinematics(SKELETON, pose)
    return np.asarray(posed.position)


def at(pose: HumanPose, joint: str) -> np.ndarray:
    return joints_of(pose)[JOINTS.index(joint)]


def extent_z(pose: HumanPose) -> tuple[float, float]:
    verts = np.concatenate(posed_vertices(SKELETON, forward_kinematics(SKELETON, pose)))
    return float(verts[:, 2].min()), float(verts[:, 2].max())


def test_a_pose_is_a_pure_function_of_time_and_seed() -> None:
    a = joints_of(clip_pose(SKELETON, Clip.WALK, 0.73, seed=11))
    b = joints_of(clip_pose(SKELETON, Clip.WALK, 0.73, seed=11))
    c = joints_of(clip_pose(SKELETON, Clip.WALK, 0.73, seed=12))
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 0.01  # another run's subject walks in another phase


def test_a_change_of_clip_blends_without_a_jump() -> None:
    timeline = Timeline(((0.0, Clip.IDLE), (1.0, Clip.ARMS_RAISED)), seed=3)
    before = joints_of(timeline.pose_at(SKELETON, 1.0 - 1e-3))
    after = joints_of(timeline.pose_at(SKELETON, 1.0 + 1e-3))
    assert np.abs(after - before).max() < 0.005
    unblended = joints_of(clip_pose(SKELETON, Clip.ARMS_RAISED, 1e-3, 3))
    assert np.abs(unblended - before).max() > 0.5  # the hands would jump up a metre
    done = joints_of(timeline.pose_at(SKELETON, 1.0 + BLEND_S))
    assert np.allclose(done, joints_of(clip_pose(SKELETON, Clip.ARMS_RAISED, BLEND_S, 3)))


def test_key_frames_put_the_body_where_the_action_says() -> None:
    _, standing_top = extent_z(HumanPose())
    walk = [clip_pose(SKELETON, Clip.WALK, t, 0) for t in np.linspace(0, 1.1, 12)]
    assert max(abs(at(p, "ankle_l")[0] - at(p, "ankle_r")[0]) for p in walk) > 0.3
    run = [clip_pose(SKELETON, Clip.RUN, t, 0) for t in np.linspace(0, 0.7, 12)]
    assert max(abs(at(p, "ankle_l")[0] - at(p, "ankle_r")[0]) for p in run) > 0.6
    low, top = extent_z(clip_pose(SKELETON, Clip.PRONE, 0.0, 0))
    assert low > -0.01 and top < 0.45
    assert extent_z(clip_pose(SKELETON, Clip.FALL, FALL_S, 0))[1] < 0.45
    assert extent_z(clip_pose(SKELETON, Clip.RECOVER, RECOVER_S, 0))[1] == pytest.approx(
        standing_top, abs=0.01
    )
    kneel_top = extent_z(clip_pose(SKELETON, Clip.KNEEL, 0.0, 0))[1]
    assert standing_top - 0.5 < kneel_top < standing_top - 0.35
    raised = clip_pose(SKELETON, Clip.ARMS_RAISED, 0.0, 0)
    assert min(at(raised, "wrist_l")[2], at(raised, "wrist_r")[2]) > standing_top
    reach = clip_pose(SKELETON, Clip.REACH_WAISTBAND, 0.5, 0)
    assert at(reach, "wrist_r")[0] > 0.15 and 0.85 < at(reach, "wrist_r")[2] < 1.15
    point = clip_pose(SKELETON, Clip.DRAW_POINT, 0.7, 0)
    shoulder = at(point, "shoulder_r")
    assert at(point, "wrist_r")[0] > 0.45
    assert at(point, "wrist_r")[2] == pytest.approx(shoulder[2], abs=0.08)


@pytest.mark.parametrize(
    ("state", "clip"),
    [
        (("compliant", "standing", 0.0, "none"), Clip.IDLE),
        (("fleeing", "standing", 3.5, "none"), Clip.RUN),
        (("active_resistance", "standing", 1.2, "none"), Clip.WALK),
        (("surrendered", "standing", 0.0, "none"), Clip.ARMS_RAISED),
        (("compliant", "kneeling", 0.0, "none"), Clip.KNEEL),
        (("deadly_threat", "standing", 0.0, "handgun"), Clip.DRAW_POINT),
        (("passive_resistance", "standing", 0.0, "phone"), Clip.REACH_POCKET),
        (("assaultive", "standing", 0.0, "none"), Clip.REACH_WAISTBAND),
        (("incapacitated", "standing", 0.0, "knife"), Clip.FALL),
    ],
)
def test_drill_states_map_to_clips(state: tuple[str, str, float, str], clip: Clip) -> None:
    assert clip_for(*state) is clip


@pytest.mark.parametrize(
    ("behaviour", "speed_mps", "current", "clip"),
    [
        # Walking: entered above 0.35 m/s, left below 0.25 m/s (docs/physics.md).
        ("compliant", 0.3, Clip.IDLE, Clip.IDLE),
        ("compliant", 0.3, Clip.WALK, Clip.WALK),
        ("compliant", 0.36, Clip.IDLE, Clip.WALK),
        ("compliant", 0.24, Clip.WALK, Clip.IDLE),
        ("compliant", 0.3, None, Clip.IDLE),
        ("compliant", 0.3, Clip.RUN, Clip.WALK),
        # Running: entered above 2.75 m/s, left below 2.25 m/s.
        ("compliant", 2.5, Clip.WALK, Clip.WALK),
        ("compliant", 2.5, Clip.RUN, Clip.RUN),
        ("compliant", 2.8, Clip.WALK, Clip.RUN),
        ("compliant", 2.2, Clip.RUN, Clip.WALK),
        # A fleeing subject runs whenever it moves, with the walking margins.
        ("fleeing", 0.3, Clip.RUN, Clip.RUN),
        ("fleeing", 0.3, Clip.IDLE, Clip.IDLE),
        ("fleeing", 0.24, Clip.RUN, Clip.IDLE),
        # Leaving motion falls through to the behaviour's own clip.
        ("deadly_threat", 0.2, Clip.WALK, Clip.REACH_WAISTBAND),
        ("deadly_threat", 0.3, Clip.WALK, Clip.WALK),
    ],
)
def test_the_speed_thresholds_have_hysteresis(
    behaviour: str, speed_mps: float, current: Clip | None, clip: Clip
) -> None:
    assert (WALK_ENTER_MPS, WALK_LEAVE_MPS) == (0.35, 0.25)
    assert (RUN_ENTER_MPS, RUN_LEAVE_MPS) == (2.75, 2.25)
    assert clip_for(behaviour, "standing", speed_mps, "none", current=current) is clip


@pytest.mark.parametrize(("speed_mps", "settled"), [(0.3, Clip.IDLE), (2.5, Clip.WALK)])
def test_a_subject_at_a_threshold_with_noise_does_not_flip(speed_mps: float, settled: Clip) -> None:
    """A subject moving at a threshold speed, +-0.03 m/s of noise each frame at 90 Hz for 6 s:
    one clip throughout (after the first frame's standing start) and the same clips, poses
    and change times from a second animator fed the same states."""

    def play() -> tuple[list[tuple[float, Clip]], list[np.ndarray]]:
        rng = np.random.default_rng(5)
        animator = SubjectAnimator(11)
        x, poses = 0.0, []
        for frame in range(int(6.0 * 90)):
            x += (speed_mps + rng.uniform(-0.03, 0.03)) / 90
            pose = animator.update(
                "s1", frame / 90, (x, 0.0), 0.0, "compliant", "standing", "none", SKELETON
            )
            poses.append(joints_of(pose))
        return animator._changes["s1"], poses

    changes, poses = play()
    clips = [clip for _, clip in changes]
    assert clips in ([settled], [Clip.IDLE, settled])
    again, poses_again = play()
    assert again == changes
    assert all(np.array_equal(a, b) for a, b in zip(poses, poses_again, strict=True))


def test_the_bench_crowd_walking_at_the_threshold_no_longer_blends() -> None:
    """bench/live_drill.py's crowd drill (30 subjects advancing at 0.3 m/s, 6 s simulated):
    before the hysteresis 175 clip changes, 8.5 subjects blending a frame; now none."""
    blends_per_frame, changes = crowd_blends(30, 6.0, 0.3)
    assert changes == 0
    assert blends_per_frame == 0.0


def test_the_bench_crowd_of_the_tick_figures_really_walks() -> None:
    """bench/live_drill.py's tick figures time a crowd at CROWD_SPEED_MPS: every subject is in
    the walk clip, not idle (at 0.3 m/s, under the walk threshold, the crowd stood idle)."""
    assert CROWD_SPEED_MPS > WALK_ENTER_MPS
    session, _ = crowd_session(3, 1.0, CROWD_SPEED_MPS)
    assert {name: timeline[-1][1] for name, timeline in session.animator._changes.items()} == {
        f"s{i}": Clip.WALK for i in range(3)
    }
    slow, _ = crowd_session(3, 1.0, 0.3)
    assert all(timeline[-1][1] is Clip.IDLE for timeline in slow.animator._changes.values())


def test_a_subject_walking_from_its_start_is_in_the_walk_from_its_first_frame() -> None:
    """The first update has no velocity (the subject seems to stand): the second, with the
    same state, decides the first clip. A subject the drill walks from t=0 plays the walk
    from its first frame, never blending in from an idle it never had (before: [idle, walk]
    and BLEND_S of two clip poses and a slerp per joint, all 30 of the bench crowd at once);
    one that stands and then walks still blends; bench crowd: no subject blending."""
    animator = SubjectAnimator(3)
    t0, dt = 1 / 90, 1 / 90
    for frame in range(30):
        t = t0 + frame * dt
        pose = animator.update(
            "s1", t, (0.5 * t, 0.0), 0.0, "active_resistance", "standing", "none", SKELETON
        )
        walk = clip_pose(SKELETON, Clip.WALK, t - t0, animator._timeline("s1").seed)
        if frame >= 1:
            assert np.array_equal(joints_of(pose), joints_of(walk))
    assert animator._changes["s1"] == [(t0, Clip.WALK)]
    # Stands for a while, then walks: the change still blends in.
    later = SubjectAnimator(3)
    for frame in range(60):
        t = frame * dt
        x = 0.0 if t < 0.3 else 0.5 * (t - 0.3)
        later.update("s1", t, (x, 0.0), 0.0, "active_resistance", "standing", "none", SKELETON)
    assert [clip for _, clip in later._changes["s1"]] == [Clip.IDLE, Clip.WALK]
    blending, changes = crowd_blends(30, 1.0, CROWD_SPEED_MPS)
    assert (blending, changes) == (0.0, 0)


def test_every_key_frame_is_drawn_as_it_is_hit() -> None:
    """Each clip's key frame rendered side-on and cast pixel by pixel against the posed
    PyBullet body: >= 99 % agreement; the frames go to docs/img/animations.png."""
    w, h, fov = 80, 96, 45.0
    eye = np.array([2.2, 0.0, 1.0])
    camera = Pose((2.2, 0.0, 1.0), look_rotation(np.array([5.0, 0.0, 0.8]) - eye))
    rot = camera.rotation()
    t = math.tan(math.radians(fov) / 2)
    uu, vv = np.meshgrid(
        ((np.arange(w) + 0.5) / w * 2 - 1) * t * w / h, (1 - (np.arange(h) + 0.5) / h * 2) * t
    )
    d = (rot[:, 0] + uu[..., None] * -rot[:, 1] + vv[..., None] * rot[:, 2]).reshape(-1, 3)
    starts = np.broadcast_to(eye, d.shape)
    frames = []
    yaw = math.pi / 2 + 0.5
    with Renderer(w, h) as renderer, RangeWorld() as world:
        world.add_subject("s", BODY, (5.0, 0.0, 0.0), yaw)
        for clip in Clip:
            pose = clip_pose(SKELETON, clip, KEY_S.get(clip, 1.0), 7)
            scene = Scene()
            scene.subject(BODY, (5.0, 0.0, 0.0), yaw, pose=pose)
            renderer.load(scene)
            image = renderer.render(camera, fov)
            drawn = np.abs(image.astype(int) - np.array([round(c * 255) for c in SKY])).sum(2) > 3
            world.pose_subject("s", pose)
            ends = world.cast_paths(
                np.stack([starts, starts + d * 20]), np.array([0.0, 1.0]), np.zeros((2, len(d)))
            )
            hit = (ends.target == world.targets.index("s")).reshape(h, w)
            agreement = 1 - (drawn ^ hit).sum() / (drawn | hit).sum()
            assert agreement >= 0.99, f"{clip}: {agreement:.4f}"
            frames.append(image)
    import matplotlib.pyplot as plt

    IMG.mkdir(exist_ok=True)
    plt.imsave(IMG / "animations.png", np.concatenate(frames, axis=1))


def test_the_animator_follows_a_drill_subject_through_flight_fall_and_recovery() -> None:
    """States as the drill engine gives them, frame by frame at 90 Hz: running away, then
    incapacitated, then compliant again; two animators with the run's seed agree exactly."""

    def play(seed: int) -> list[tuple[str, np.ndarray]]:
        animator = SubjectAnimator(seed)
        out = []
        for frame in range(int(6.0 * 90)):
            t = frame / 90
            if t < 2.0:
                state, x = "fleeing", 5.0 + 3.0 * t
            elif t < 3.5:
                state, x = "incapacitated", 11.0
            else:
                state, x = "compliant", 11.0
            pose = animator.update("s1", t, (x, 0.0), 0.0, state, "standing", "none", SKELETON)
            clip = animator._changes["s1"][-1][1]
            out.append((clip.value, joints_of(pose)))
        return out

    a, b = play(42), play(42)
    assert all(ca == cb and np.array_equal(ja, jb) for (ca, ja), (cb, jb) in zip(a, b, strict=True))
    clips = [c for c, _ in a]
    assert clips[90] == "run" and clips[int(2.5 * 90)] == "fall"
    assert clips[int(4.0 * 90)] == "recover" and clips[-1] == "idle"
    run_feet = [
        abs(j[JOINTS.index("ankle_l")][0] - j[JOINTS.index("ankle_r")][0]) for _, j in a[:180]
    ]
    assert max(run_feet) > 0.6  # the legs swing while it flees
    assert extent_z_of(a[int(3.4 * 90)][1]) < 0.6  # down on the floor before the recovery
    assert a[-1][1][JOINTS.index("neck")][2] > 1.4  # standing again at the end
    c = play(43)
    assert any(not np.array_equal(ja, jc) for (_, ja), (_, jc) in zip(a[:90], c[:90], strict=True))


def extent_z_of(joints: np.ndarray) -> float:
    return float(joints[:, 2].max())
