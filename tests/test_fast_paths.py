"""Fast paths give the same results as the forms they replaced (seeded runs replay bit for
bit): the forward kinematics and link states of the compiled kernel (physics._kernel; to
1e-12 of numpy's, see `same`), and the plain-float quaternions of the pose blend (same bits)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from kernel_reference import BODIES, random_pose, reference_fk
from kernel_reference import close as same
from scipy.spatial.transform import Rotation

from physics.animation import Clip, _quat_floats, _slerp, clip_pose
from physics.body import SubjectBody
from physics.human import (
    JOINT_INDEX,
    JOINTS,
    forward_kinematics,
    matrices_to_quats,
    region_codes,
)
from physics.pose import quat_to_matrix


@pytest.mark.parametrize("body", BODIES, ids=["medium", "child", "elderly", "pregnant"])
def test_fast_fk_is_bit_identical_on_random_poses(body: SubjectBody) -> None:
    skeleton = body.skeleton()
    for seed in range(200):
        pose = random_pose(np.random.default_rng(seed))
        fast, old = forward_kinematics(skeleton, pose), reference_fk(skeleton, pose)
        assert same(fast.position, old.position), seed
        assert same(fast.rotation, old.rotation), seed


def test_fast_fk_is_bit_identical_on_animation_frames() -> None:
    skeleton = SubjectBody().skeleton()
    for clip in Clip:
        for k in range(40):
            pose = clip_pose(skeleton, clip, k * 0.037, k)
            fast, old = forward_kinematics(skeleton, pose), reference_fk(skeleton, pose)
            assert same(fast.position, old.position), (clip, k)
            assert same(fast.rotation, old.rotation), (clip, k)


def reference_slerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """animation._slerp as it was before the plain-float quaternions (commit c8a3ff5)."""
    qa, qb = matrices_to_quats(np.stack([a, b]))
    if qa @ qb < 0:
        qb = -qb
    dot = min(max(float(qa @ qb), -1.0), 1.0)
    angle = math.acos(dot)
    if angle < 1e-6:
        q = qa
    else:
        q = (math.sin((1 - w) * angle) * qa + math.sin(w * angle) * qb) / math.sin(angle)
    x, y, z, qw = (float(v) for v in q)
    return quat_to_matrix((x, y, z, qw))


def test_plain_float_quaternion_is_bit_identical() -> None:
    rng = np.random.default_rng(7)
    mats = Rotation.random(5000, random_state=rng).as_matrix()
    # Each branch of Shepperd's method (the largest diagonal term), the identity and half-turns.
    special = [np.eye(3), np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0])]
    special += [np.diag([-1.0, -1.0, 1.0])]
    every = np.concatenate([mats, np.array(special)])
    want = matrices_to_quats(every)
    for k, m in enumerate(every):
        assert np.array(_quat_floats(m)).tobytes() == want[k].tobytes(), k


def test_blend_slerp_is_bit_identical_on_many_seeds() -> None:
    eye = np.eye(3)
    flipped = 0
    for seed in range(600):
        rng = np.random.default_rng(seed)
        a, b = Rotation.random(2, random_state=rng).as_matrix()
        w = float(rng.random())
        # The shorter way round: qb negated.
        flipped += int(np.dot(_quat_floats(a), _quat_floats(b)) < 0)
        near = Rotation.from_rotvec(rng.normal(0.0, 1e-7, 3)).as_matrix() @ a
        for x, y in ((a, b), (a, eye), (eye, b), (a, a), (a, near)):
            assert _slerp(x, y, w).tobytes() == reference_slerp(x, y, w).tobytes(), seed
    assert 100 < flipped < 500


def test_batched_fk_is_bit_identical_to_one_at_a_time() -> None:
    from physics.human import forward_kinematics_batch

    for seed in range(40):
        rng = np.random.default_rng(seed)
        count = int(rng.integers(1, 31))
        skeletons = [BODIES[int(rng.integers(len(BODIES)))].skeleton() for _ in range(count)]
        if seed % 2:  # one body for all (its offsets broadcast)
            skeletons = [skeletons[0]] * count
        poses = [random_pose(rng) for _ in range(count)]
        for sk, pose, got in zip(
            skeletons, poses, forward_kinematics_batch(skeletons, poses), strict=True
        ):
            want = reference_fk(sk, pose)
            assert same(got.position, want.position), seed
            assert same(got.rotation, want.rotation), seed


def test_world_frames_batched_equal_one_at_a_time() -> None:
    from physics.world import RangeWorld

    skeleton = BODIES[0].skeleton()
    with RangeWorld(lane_length_m=40.0, lane_width_m=40.0) as world:
        for k in range(12):
            world.add_subject(f"s{k}", BODIES[k % len(BODIES)], (4.0 + k, k - 6.0, 0.0), 0.3 * k)
        for frame in range(5):
            for k in range(12):
                pose = clip_pose(skeleton, Clip.RUN, 0.05 * frame + k, k)
                world.pose_subject(f"s{k}", pose, (4.0 + k + 0.1 * frame, k - 6.0, 0.0), k)
            world._body_boxes()  # boxes every subject: frames in one batch
            for k in range(12):
                name = f"s{k}"
                got = world.subject_frames(name)
                want = world._frames_at(name, world.subject_pose(name))
                assert got.position.tobytes() == want.position.tobytes(), (frame, k)
                assert got.rotation.tobytes() == want.rotation.tobytes(), (frame, k)
                box = world._box_of(name, want)
                assert world.subject_box(name).tobytes() == box.tobytes(), (frame, k)


def test_the_deploy_scene_boxes_each_subject_as_subject_box_does() -> None:
    """rv20b #3: the kernel's scene takes each subject's box from subject_box (fed the sphere
    centres it has just worked out), so the two cannot differ: boxed first by either, the box
    is the one the pose gives, bit for bit."""
    from physics.world import RangeWorld

    skeleton = BODIES[0].skeleton()
    names = ("a", "b")
    with RangeWorld(lane_length_m=12.0) as world:
        for k, name in enumerate(names):
            world.add_subject(name, BODIES[k], (3.0 + k, 0.5 * k, 0.0), 0.4 * k)
        for frame in range(3):
            for k, name in enumerate(names):
                pose = clip_pose(skeleton, Clip.RUN, 0.1 * frame + k, k)
                world.pose_subject(name, pose, (3.0 + k + 0.1 * frame, 0.5 * k, 0.0), frame)
            if frame == 1:
                world.subject_box("a")  # boxed before the scene asks
            scene = world._deploy_scene()
            for k, name in enumerate(names):
                want = world._box_of(name, world._frames_at(name, world.subject_pose(name)))
                assert scene[4][k].tobytes() == want.tobytes(), (frame, name)
                assert world.subject_box(name).tobytes() == want.tobytes(), (frame, name)
                world._numpy_boxes.pop(name)
                got = world.subject_box(name, at=scene[3][k])
                assert got.tobytes() == want.tobytes(), (frame, name)


def test_subject_box_boxes_through_box_of_when_not_given_the_centres(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rv21a #8: without `at`, subject_box boxes the subject by `_box_of` (its pose's frames),
    not a copy of its body; with `at`, from the centres given. The box is the same either way."""
    from physics.world import RangeWorld

    with RangeWorld(lane_length_m=12.0) as world:
        world.add_subject("a", BODIES[0], (3.0, 0.0, 0.0), 0.4)
        pose = clip_pose(BODIES[0].skeleton(), Clip.RUN, 0.3, 0)
        world.pose_subject("a", pose, (3.2, 0.0, 0.0), 1)
        centres = world._centres_of("a", world.subject_frames("a"))
        real = RangeWorld._box_of
        boxed: list[str] = []

        def counted(self: RangeWorld, subject_id: str, frames: object) -> object:
            boxed.append(subject_id)
            return real(self, subject_id, frames)

        monkeypatch.setattr(RangeWorld, "_box_of", counted)
        world._numpy_boxes.pop("a", None)
        first = world.subject_box("a")
        assert boxed == ["a"]
        world._numpy_boxes.pop("a")
        assert world.subject_box("a", at=centres).tobytes() == first.tobytes()
        assert boxed == ["a"]


def test_rays_cross_box_against_dense_points() -> None:
    from physics.world import _rays_cross_boxes

    rng = np.random.default_rng(3)
    lo, hi = np.array([1.0, -0.5, 0.0]), np.array([1.6, 0.5, 1.9])
    crossed = 0
    for _ in range(400):
        a = rng.uniform(-1.0, 3.0, (1, 3))
        b = rng.uniform(-1.0, 3.0, (1, 3))
        if rng.random() < 0.2:  # parallel to an axis
            b[0, int(rng.integers(3))] = a[0, int(rng.integers(3))]
        s = np.linspace(0.0, 1.0, 4001)[:, None]
        dense = a + (b - a) * s
        inside = ((dense >= lo) & (dense <= hi)).all(axis=1).any()
        got = bool(_rays_cross_boxes(a, b, lo[None], hi[None])[0])
        assert got or not inside  # never says no where a point of the ray is in the box
        crossed += int(inside)
    assert 40 < crossed < 360  # both answers were exercised


def test_casts_syncing_only_crossed_subjects_match_syncing_all() -> None:
    """The lazy sync (only the subjects whose box a ray crosses) gives the same hits as
    PyBullet with every subject moved to its pose first."""
    from physics.world import RangeWorld

    skeleton = BODIES[0].skeleton()
    rng = np.random.default_rng(11)
    with RangeWorld(lane_length_m=30.0, lane_width_m=12.0) as world:
        spots = [(6.0 + 1.3 * (k % 6), -4.0 + 1.6 * (k // 6), 0.0) for k in range(30)]
        for k, spot in enumerate(spots):
            world.add_subject(f"s{k}", BODIES[k % len(BODIES)], spot, 0.2 * k)
        world.sync()
        for frame in range(30):
            for k, (x, y, z) in enumerate(spots):
                pose = clip_pose(skeleton, Clip.RUN, 0.07 * frame + k, k)
                world.pose_subject(f"s{k}", pose, (x + 0.05 * frame, y, z), 0.2 * k + frame)
            aim = rng.uniform([6.0, -4.5, 0.2], [14.0, 4.5, 1.9], (5, 3))
            start = np.tile([0.0, 0.0, 1.4], (5, 1))
            points = np.stack([start, start + (aim - start) * 3.0])
            times = np.array([0.0, 0.1])
            speeds = np.full((2, 5), 50.0)
            lazy = world.cast_paths(points, times, speeds)
            world.sync()
            full = world.cast_paths(points, times, speeds)
            assert lazy.target.tolist() == full.target.tolist(), frame
            assert lazy.point.tobytes() == full.point.tobytes(), frame
            assert lazy.region.tolist() == full.region.tolist(), frame


def reference_link_states(
    world: object, ids: list[str]
) -> tuple[list[list[float]], list[list[list[float]]]]:
    """RangeWorld.sync's per-subject loop as it was before the batch (commit c8a3ff5)."""
    placement, bodies = world._placement, world._bodies  # type: ignore[attr-defined]
    local = np.tile(np.eye(3), (len(ids), len(JOINTS), 1, 1))
    bases = np.empty((len(ids), 3))
    for k, subject_id in enumerate(ids):
        (x, y, z), yaw_rad, pose = placement[subject_id]
        for name, m in pose.joints.items():
            local[k, JOINT_INDEX[name]] = m
        cy, sy = math.cos(yaw_rad), math.sin(yaw_rad)
        yaw = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
        rest0 = bodies[subject_id].skeleton().rest[0]
        bases[k] = (x, y, z) + yaw @ (rest0 + pose.root_offset_m)
        local[k, 0] = yaw @ pose.root_rotation @ local[k, 0]
    quats = matrices_to_quats(local.reshape(-1, 3, 3)).reshape(len(ids), len(JOINTS), 4)
    return bases.tolist(), quats.tolist()


def test_batched_link_states_are_bit_identical() -> None:
    from physics.world import RangeWorld

    with RangeWorld(lane_length_m=40.0, lane_width_m=40.0) as world:
        names = [f"s{k}" for k in range(30)]
        for k, name in enumerate(names):
            world.add_subject(name, BODIES[k % len(BODIES)], (5.0, 0.0, 0.0), 0.0)
        for seed in range(100):
            rng = np.random.default_rng(seed)
            ids = [n for n in names if rng.random() < 0.5] or names[:1]
            for name in ids:
                x, y, z = (float(v) for v in rng.uniform(-10.0, 10.0, 3))
                world.pose_subject(name, random_pose(rng), (x, y, z), float(rng.uniform(-7, 7)))
            got = world._link_states(ids)
            bases, quats = reference_link_states(world, ids)
            # Per subject: the pelvis's slides [x], [y], [z], then a quaternion a joint.
            assert same(np.array([row[:3] for row in got])[..., 0], np.array(bases)), seed
            assert same(np.array([row[3:] for row in got]), np.array(quats)), seed


def test_rays_cross_boxes_in_passes_equals_ray_by_ray() -> None:
    from physics.world import _rays_cross_boxes

    rng = np.random.default_rng(5)
    lo = rng.uniform(0.0, 5.0, (40, 3))
    hi = lo + rng.uniform(0.05, 0.5, (40, 3))
    a, b = rng.uniform(-1.0, 6.0, (3000, 3)), rng.uniform(-1.0, 6.0, (3000, 3))
    whole = _rays_cross_boxes(a, b, lo, hi)  # 3000 x 40 rays and boxes: in passes
    one = np.zeros(40, dtype=bool)
    for k in range(0, 3000, 100):
        one |= _rays_cross_boxes(a[k : k + 100], b[k : k + 100], lo, hi)
    assert whole.tolist() == one.tolist()
    assert 0 < whole.sum() < 40 or whole.all()


def test_the_frame_loop_runs_with_the_setup_frozen_and_unfreezes_after() -> None:
    """What was built before the first frame is out of the collector's sight during the frames
    (no multi-millisecond full collections mid-run), and given back after the run."""
    import gc

    from drills.officer import find_officer
    from drills.schema import builtin_drills
    from range.runs.drill import RunConfig, run_drill

    drill = builtin_drills()["phone-draw-v1"]
    frozen: list[int] = []
    config = RunConfig(
        drill,
        find_officer(drill.expected_officer or ""),
        1,
        on_frame=lambda run: frozen.append(gc.get_freeze_count()),
    )
    assert gc.get_freeze_count() == 0
    run_drill(config)
    assert frozen and min(frozen) > 1000  # the drill, world, lane and modules: frozen
    assert gc.get_freeze_count() == 0


def test_kept_timelines_follow_every_clip_change() -> None:
    from physics.animation import SubjectAnimator, Timeline, _subject_seed

    skeleton = BODIES[0].skeleton()
    animator = SubjectAnimator(9)
    rng = np.random.default_rng(9)
    x = 0.0
    for frame in range(400):
        t = frame / 90
        x += float(rng.choice([0.0, 0.3, 1.0, 4.0])) / 90  # idle, walk, run: clips change
        pose = animator.update(
            "s1", t, (x, 0.0), 0.0, "active_resistance", "standing", "none", skeleton
        )
        fresh = Timeline(tuple(animator._changes["s1"]), _subject_seed(9, "s1"))
        assert animator._timeline("s1") == fresh, frame
        want = fresh.pose_at(skeleton, t)
        for name, m in want.joints.items():
            assert pose.joints[name].tobytes() == m.tobytes(), frame
    assert len(animator._changes["s1"]) > 10


@pytest.mark.parametrize("body", BODIES)
def test_zone_map_one_point_at_a_time_equals_the_vectorised_map(body: SubjectBody) -> None:
    """region_codes maps up to 4 points (a deployment's hits) in Python floats, more with
    numpy masks: the same region for every point, on every segment, in particular near the
    map's splits (the face, the groin, the crotch, front and back at x = 0)."""
    skeleton = body.skeleton()
    rng = np.random.default_rng(11)
    n = 20_000
    segment = rng.integers(0, len(skeleton.segments), n)
    h = skeleton.stature_m
    # Points spread over the body, and points crowded near each split's threshold.
    rest = np.column_stack(
        [rng.normal(0.0, 0.05, n), rng.normal(0.0, 0.05, n), rng.uniform(0.4 * h, h, n)]
    )
    rest[::4, 0] = rng.choice([0.0, -0.02, 0.03 * h / 1.756], n // 4 + (n % 4 > 0))
    whole = region_codes(skeleton, segment, rest)
    assert len(set(whole.tolist())) >= 8  # the map's regions are all exercised
    one_by_one = np.concatenate(
        [region_codes(skeleton, segment[k : k + 3], rest[k : k + 3]) for k in range(0, n, 3)]
    )
    assert np.array_equal(whole, one_by_one)


def test_flights_from_the_stacked_table_are_bit_identical() -> None:
    """SampledFlights.flights gathers forward, up and speed in one (E, 3, K) table: the same
    bits as interpolating the three tables one by one (the form it replaced), for flights
    in every direction, straight up and down included."""
    from physics.taser import cartridge, flight_plan

    plan = flight_plan(cartridge("taser7-cq"))
    rng = np.random.default_rng(4)
    directions = rng.normal(size=(300, 3))
    directions[:2] = [[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    origins = rng.normal(size=(300, 3))
    points, speeds = plan.flights(origins, directions)

    horizontal = np.hypot(directions[:, 0], directions[:, 1])
    flat = horizontal < 1e-12
    safe = np.where(flat, 1.0, horizontal)
    az_x = np.where(flat, 1.0, directions[:, 0] / safe)
    az_y = np.where(flat, 0.0, directions[:, 1] / safe)
    e0, de = plan.elevations[0], plan.elevations[1] - plan.elevations[0]
    at = (np.arctan2(directions[:, 2], horizontal) - e0) / de
    at = np.minimum(np.maximum(at, 0.0), len(plan.elevations) - 1.000001)
    row = at.astype(np.int64)
    f = (at - row)[:, None]
    g = 1.0 - f
    forward = (plan.forward[row] * g + plan.forward[row + 1] * f).T
    up = (plan.up[row] * g + plan.up[row + 1] * f).T
    speed = (plan.speed[row] * g + plan.speed[row + 1] * f).T
    want = np.empty_like(points)
    want[..., 0] = origins[:, 0] + forward * az_x
    want[..., 1] = origins[:, 1] + forward * az_y
    want[..., 2] = origins[:, 2] + up
    assert points.tobytes() == want.tobytes()
    assert speeds.tobytes() == np.ascontiguousarray(speed).tobytes()


def test_sub_chord_weights_give_the_sub_chords() -> None:
    """cast_moving's sub-chords are one product of the plan's weights with the chord
    samples: the chord samples themselves at the chords' ends (exactly), and each sub-chord
    end on its chord at its fraction, as `points[c] + (points[c + 1] - points[c]) * frac`."""
    from physics.taser import MAX_SUBJECT_SPEED_MPS, cartridge, flight_plan, probe_launch
    from physics.world import MOVING_TOLERANCE_M, sub_chord_plan

    cart = cartridge("x26p-21ft")
    plan = flight_plan(cart)
    rotations = np.tile(np.eye(3), (5, 1, 1))
    origins = np.tile([0.0, 0.0, 1.3], (5, 1))
    points, speeds = plan.flights(*probe_launch(cart, origins, rotations, np.random.default_rng(0)))
    chord_of, frac, t_fine, _, _, weights = sub_chord_plan(
        plan.times_s, MAX_SUBJECT_SPEED_MPS, MOVING_TOLERANCE_M
    )
    k, n = points.shape[:2]
    fine = (weights @ points.reshape(k, -1)).reshape(len(t_fine), n, 3)
    want = points[chord_of] + (points[chord_of + 1] - points[chord_of]) * frac[:, None, None]
    assert fine[0].tobytes() == points[0].tobytes()
    ends = np.nonzero(frac == 1.0)[0]  # the last sub-chord of each chord ends on its sample
    assert fine[1:][ends].tobytes() == points[chord_of[ends] + 1].tobytes()
    assert np.abs(fine[1:] - want).max() < 1e-12
    s_fine = weights @ speeds
    want_s = speeds[chord_of] + (speeds[chord_of + 1] - speeds[chord_of]) * frac[:, None]
    assert np.abs(s_fine[1:] - want_s).max() < 1e-9


def test_clipping_by_face_planes_matches_the_plane_by_plane_form() -> None:
    """The clipping (one division where one end is outside; physics._kernel's, whose numpy
    form tests/kernel_reference.py keeps) against the Cyrus-Beck form it
    replaced (entering and leaving planes by the sign of sb - sa): the same hits, and for
    each hit the same entry fraction to the bit, on segments starting inside, outside,
    grazing faces and lying in them."""
    from kernel_reference import clip as _clip

    from physics.world import _hull_planes

    skeleton = SubjectBody().skeleton()
    normals, offsets = _hull_planes(skeleton)
    rng = np.random.default_rng(6)
    p = 4000
    seg = rng.integers(0, len(skeleton.segments), p)
    centre = np.array([s.vertices.mean(axis=0) for s in skeleton.segments])[seg]
    a = centre + rng.normal(0.0, 0.12, (p, 3))
    b = centre + rng.normal(0.0, 0.12, (p, 3))
    b[::5] = a[::5] + rng.normal(0.0, 1e-3, (len(a[::5]), 3))  # short ones, near a face
    hit, t_in, bound = _clip(normals[seg], offsets[seg], a, b)

    sa = np.einsum("pfk,pk->pf", normals[seg], a) - offsets[seg]
    sb = np.einsum("pfk,pk->pf", normals[seg], b) - offsets[seg]
    denom = sb - sa
    entering, leaving = denom < -1e-15, denom > 1e-15
    ratio = -sa / np.where(entering | leaving, denom, 1.0)
    enter = np.where(entering, ratio, -np.inf).max(axis=1)
    leave = np.where(leaving, ratio, np.inf).min(axis=1)
    outside = (~entering & ~leaving & (sa > 0.0)).any(axis=1)
    want_t = np.maximum(enter, 0.0)
    want_hit = ~outside & (want_t <= np.minimum(leave, 1.0))
    assert 0.2 < want_hit.mean() < 0.8  # both kinds, plenty of each
    assert np.array_equal(hit, want_hit)
    assert t_in[hit].tobytes() == want_t[hit].tobytes()
    assert bound.tobytes() == np.minimum(sa, sb).max(axis=1).tobytes()


def test_prepare_runs_the_flight_code_once_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """taser.prepare (before a drill's first frame) flies WARM_DEPLOYMENTS deployments at a
    still subject and as many at a moving one, in a world of its own, the first time in a
    process only: the drill's first deployment does not run the flight code cold."""
    from physics import taser

    monkeypatch.setattr(taser, "_WARMED", False)
    flown: list[bool] = []
    real = taser.fly_probes

    def counting(*args: object, **kwargs: object) -> object:
        flown.append(len(args) > 4 and args[4] is not None)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(taser, "fly_probes", counting)
    taser.prepare(["taser7-cq"])
    assert len(flown) == 2 * taser.WARM_DEPLOYMENTS
    assert sum(flown) == taser.WARM_DEPLOYMENTS  # half of them against a moving subject
    taser.prepare(["x26p-21ft", "taser7-cq"])
    assert len(flown) == 2 * taser.WARM_DEPLOYMENTS  # once a process


def test_prepare_flies_a_throw_away_deployment_in_the_drill_world(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """taser.prepare with the drill's world (its subjects placed, as range/runs/drill.py calls
    it before run_started) flies one deployment of each cartridge in it, still and moving, so
    the world's lazily built static boxes and PyBullet's first cast in it are not paid inside
    the first deployment's frame (bench/run.py: first of its cartridge 0.61 -> ~0.5 ms). It
    moves no subject and leaves the drill's deployments bit for bit as without it."""
    from physics import taser
    from physics.pose import Pose, look_rotation
    from physics.world import RangeWorld

    body = SubjectBody()
    skeleton = body.skeleton()
    cart = taser.cartridge("taser7-cq")
    muzzle = Pose((0.0, 0.0, 1.3), look_rotation((4.5, 0.0, -0.2)))

    def deployments(warm: bool) -> tuple[bool, list[object]]:
        with RangeWorld() as world:
            world.add_object("car", (6.0, 2.0, 0.0), (2.0, 4.5, 1.4), "steel", "cover")
            for k, y in enumerate((0.0, -1.5, 1.5)):
                world.add_subject(f"s{k}", body, (4.5, y, 0.0), math.pi / 2)
            before = [world.subject_pose(f"s{k}") for k in range(3)]
            if warm:
                taser.prepare([cart.id], world)
            built = bool(world._aabbs)
            assert [world.subject_pose(f"s{k}") for k in range(3)] == before

            def motion(t: float, subjects: frozenset[str]) -> None:
                for k, y in enumerate((0.0, -1.5, 1.5)):
                    if f"s{k}" in subjects:
                        pose = clip_pose(skeleton, Clip.RUN, 1.0 + t, 3)
                        world.pose_subject(f"s{k}", pose, (4.5, y + 3.0 * t, 0.0), math.pi / 2)

            rng = np.random.default_rng(9)
            out: list[object] = []
            for _ in range(3):
                out += taser.fly_probes(world, cart, muzzle, rng, motion)
                out += taser.fly_probes(world, cart, muzzle, rng)
            return built, out

    warmed, cold = deployments(True), deployments(False)
    assert warmed == (True, cold[1]) and cold[0] is False
    assert any(impact.target for impact in cold[1])  # type: ignore[attr-defined]

    # The drill runner hands prepare its world once the subjects stand in it.
    seen: list[list[str]] = []
    real = taser._warm_world
    monkeypatch.setattr(
        taser, "_warm_world", lambda w, c: (seen.append(w.subject_ids), real(w, c))[1]
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from live_drill import crowd_session

    crowd_session(2, 1.0, 0.5)
    assert seen and all(ids == ["s0", "s1"] for ids in seen)
