"""physics._kernel (the compiled posing and probe-flight loops) against the numpy forms it
replaced (tests/kernel_reference.py), on random poses, placements and probe paths near the
body: the same bits, or within 1e-12 where numpy's own summation order is not portable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from kernel_reference import BODIES, close, random_pose, reference_fk, reference_in_world
from kernel_reference import candidates as reference_candidates
from kernel_reference import cast_subject as reference_cast_subject
from kernel_reference import chords as reference_chords
from kernel_reference import deploy as reference_deploy
from kernel_reference import first_hits as reference_first_hits
from kernel_reference import gait as reference_gait
from kernel_reference import path_ends as reference_path_ends
from kernel_reference import rot_x as reference_rot_x
from kernel_reference import rot_y as reference_rot_y
from kernel_reference import rot_z as reference_rot_z
from kernel_reference import sub_chords as reference_sub_chords
from scipy.spatial.transform import Rotation

from physics import _kernel
from physics.animation import Clip, clip_pose
from physics.human import (
    JOINT_INDEX,
    JOINT_PARENTS,
    JOINTS,
    HumanPose,
    forward_kinematics,
    forward_kinematics_arrays,
    rot_x,
    rot_y,
    rot_z,
)
from physics.pose import look_rotation, quat_to_matrix, yaw_quat
from physics.taser import builtin_cartridges, launch_plan
from physics.units import IN_M
from physics.world import HULL_MARGIN_M, WINDOW, RangeWorld, _hull_planes, _spheres


def test_forward_kinematics_equals_numpy_on_random_poses_and_placements() -> None:
    rng = np.random.default_rng(11)
    for k in range(400):
        skeleton = BODIES[k % len(BODIES)].skeleton()
        pose = (
            random_pose(rng)
            if k % 2
            else clip_pose(skeleton, list(Clip)[k % len(Clip)], k * 0.031, k)
        )
        want = reference_fk(skeleton, pose)
        got = forward_kinematics(skeleton, pose)
        assert got.position.tobytes() == want.position.tobytes(), k
        assert got.rotation.tobytes() == want.rotation.tobytes(), k
        yaw = quat_to_matrix(yaw_quat(float(rng.uniform(-4.0, 4.0))))
        feet = (float(rng.normal()), float(rng.normal()), 0.0)
        world = reference_in_world(want, yaw, feet)
        pos, rot = forward_kinematics_arrays([skeleton], [pose], [(yaw, feet)])
        assert close(pos[0], world.position), k
        assert close(rot[0], world.rotation), k


def test_forward_kinematics_reads_strided_matrices_and_refuses_bad_input() -> None:
    skeleton = BODIES[0].skeleton()
    m = Rotation.from_rotvec([0.3, -0.2, 0.5]).as_matrix()
    transposed = HumanPose((0.0, 0.0, 0.0), np.eye(3), {"elbow_l": m.T})  # a strided view
    copied = HumanPose((0.0, 0.0, 0.0), np.eye(3), {"elbow_l": np.ascontiguousarray(m.T)})
    a, b = forward_kinematics(skeleton, transposed), forward_kinematics(skeleton, copied)
    assert a.position.tobytes() == b.position.tobytes()
    with pytest.raises(KeyError, match="elbow_x"):
        forward_kinematics(skeleton, HumanPose((0.0, 0.0, 0.0), np.eye(3), {"elbow_x": m}))
    with pytest.raises(ValueError, match="3x3"):
        forward_kinematics(skeleton, HumanPose((0.0, 0.0, 0.0), np.eye(3), {"elbow_l": m[:2]}))
    pos = np.empty((len(JOINTS), 3))
    with pytest.raises(ValueError, match="rot"):
        _kernel.forward_kinematics(
            (skeleton.rest,),
            ({},),
            (np.eye(3),),
            ((0.0, 0.0, 0.0),),
            None,
            JOINT_INDEX,
            JOINT_PARENTS,
            pos,
            np.empty((len(JOINTS), 3)),
        )


def _scene(seed: int) -> tuple[dict[str, np.ndarray], object]:
    """Random flights through, past and beside a subject that runs across their paths: the
    sub-chords cast_moving would hand the subject part, and a `pose_at` for the subject."""
    rng = np.random.default_rng(seed)
    skeleton = BODIES[seed % len(BODIES)].skeleton()
    m, n = 120, 8
    t = np.linspace(0.0, 0.12, m + 1)
    speed = float(rng.uniform(-4.0, 4.0))
    yaw = quat_to_matrix(yaw_quat(float(rng.uniform(-4.0, 4.0))))
    clip = [Clip.RUN, Clip.WALK, Clip.FALL][seed % 3]

    def pose_at(t_s: float) -> tuple[np.ndarray, np.ndarray]:
        pose = clip_pose(skeleton, clip, 1.0 + t_s, seed)
        pos, rot = forward_kinematics_arrays([skeleton], [pose], [(yaw, (4.0, speed * t_s, 0.0))])
        return pos[0], rot[0]

    # Aimed at a joint of the subject as it stands mid-flight, from the muzzle.
    pos0, _ = pose_at(0.06)
    aim = pos0[rng.integers(0, len(JOINTS), n)] + rng.normal(0.0, 0.12, (n, 3))
    muzzle = np.array([0.0, 0.0, 1.3]) + rng.normal(0.0, 0.05, (n, 3))
    s = (t / 0.06)[:, None, None]
    fine = muzzle[None] + (aim - muzzle)[None] * s
    starts = np.ascontiguousarray(fine[:-1])
    chord_d = fine[1:] - starts
    chord_d[:, 0] = 0.0  # a flight standing still: zero-length sub-chords
    stops = starts + chord_d
    chord = np.sqrt(np.einsum("mnk,mnk->mn", chord_d, chord_d))
    before = np.zeros((m + 1, n))
    np.cumsum(chord, axis=0, out=before[1:])
    centre, radius = _spheres(skeleton)
    normals, offsets = _hull_planes(skeleton)
    near = rng.random((m, n)) < 0.9
    near[: int(rng.integers(0, 40))] = False
    arrays = {
        "near": near,
        "starts": starts,
        "stops": stops,
        "chord_d": chord_d,
        "chord_dd": np.maximum(chord**2, 1e-30),
        "before": before,
        "mid_t": (t[:-1] + t[1:]) / 2,
        "centre": centre,
        "radius": radius,
        "rest": skeleton.rest,
        "normals": normals,
        "offsets": offsets,
    }
    return arrays, pose_at


def _run(cast, arrays, pose_at, first):  # type: ignore[no-untyped-def]
    m, n = arrays["near"].shape
    first = first.copy()
    hit_f, seg, rest = np.ones(n), np.full(n, -1, dtype=np.int64), np.zeros((n, 3))
    a = arrays
    if cast is reference_cast_subject:  # the numpy form took the sub-chords near it masked
        a = a | {"near": a["near"] & (np.arange(m)[:, None] < first[None, :])}
    poses = cast(
        pose_at,
        a["near"],
        a["starts"],
        a["stops"],
        a["chord_d"],
        a["chord_dd"],
        a["before"],
        a["mid_t"],
        8.0,
        WINDOW,
        a["centre"],
        a["radius"],
        a["rest"],
        a["normals"],
        a["offsets"],
        HULL_MARGIN_M,
        first,
        hit_f,
        seg,
        rest,
    )
    return poses, first, hit_f, seg, rest


def test_cast_subject_equals_numpy_on_random_flights_at_a_moving_subject() -> None:
    """The kernel's subject part of cast_moving against its numpy form on flights aimed at a
    running, walking or falling subject (some already hit by another subject earlier): the
    same poses asked for, the same first hits (sub-chord, segment), the same entry
    fractions and rest-frame points (to 1e-12)."""
    hits = poses = 0
    for seed in range(48):
        arrays, pose_at = _scene(seed)
        m, n = arrays["near"].shape
        first = np.full(n, m, dtype=np.int64)
        first[seed % n] = 50  # a flight another subject stops at sub-chord 50
        got = _run(_kernel.cast_subject, arrays, pose_at, first)
        want = _run(reference_cast_subject, arrays, pose_at, first)
        assert got[0] == want[0], seed
        assert np.array_equal(got[1], want[1]), seed
        assert np.array_equal(got[3], want[3]), seed
        assert close(got[2], want[2]), seed
        assert close(got[4], want[4]), seed
        hits += int((got[3] >= 0).sum())
        poses += got[0]
    assert hits > 100 and poses > 300  # the hit paths and the advancement both ran, often


def test_cast_subject_refuses_arrays_of_the_wrong_shape() -> None:
    arrays, pose_at = _scene(0)
    m, n = arrays["near"].shape
    first = np.full(n, m, dtype=np.int64)
    for key, bad, named in (
        ("near", arrays["near"].astype(np.int64), "in_box"),
        ("starts", arrays["starts"][:, :4], "starts"),
        ("before", arrays["before"][:-1], "before"),
        ("normals", arrays["normals"][:, :5], "normals"),
    ):
        with pytest.raises(ValueError, match=named):
            _run(_kernel.cast_subject, arrays | {key: bad}, pose_at, first)
    with pytest.raises(ValueError, match="first"):
        _run(_kernel.cast_subject, arrays, pose_at, first.astype(np.float64))
    with pytest.raises(TypeError, match="pose_at"):
        _run(_kernel.cast_subject, arrays, lambda t: None, first)
    with pytest.raises(ZeroDivisionError):  # the callback's own error comes through
        _run(_kernel.cast_subject, arrays, lambda t: 1 / 0, first)


def test_link_states_refuse_a_joint_that_is_not_one() -> None:
    skeleton = BODIES[0].skeleton()
    pose = HumanPose((0.0, 0.0, 0.0), np.eye(3), {"elbow_x": np.eye(3)})
    with pytest.raises(KeyError, match="elbow_x"):
        _kernel.link_states(
            [skeleton.rest], [((0.0, 0.0, 0.0), 0.0, pose)], JOINT_INDEX, len(JOINTS)
        )
    with pytest.raises(TypeError, match="placements"):
        _kernel.link_states([skeleton.rest], [((0.0, 0.0, 0.0), pose)], JOINT_INDEX, len(JOINTS))


def test_sub_chords_equal_numpy_on_random_flights() -> None:
    """The sub-chords of flights cut by a reach (a wire running out) or not, some ending on
    the world early, against three subjects' boxes: the same boxes met, the same lengths,
    paths and cuts (to 1e-12)."""
    met = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        m, n, s = int(rng.integers(1, 300)), int(rng.integers(1, 9)), 3
        fine = np.cumsum(rng.normal(0.0, 0.05, (m + 1, n, 3)), axis=0) + np.array([0, 0, 1.3])
        fine[:, :, 0] += np.linspace(0.0, 6.0, m + 1)[:, None]
        fine[m // 2, 0] = fine[m // 2 - 1, 0] if m > 2 else fine[m // 2, 0]  # a zero chord
        reach = float(rng.uniform(2.0, 8.0)) if seed % 2 else np.inf
        t_fine = np.linspace(0.0, 0.1, m + 1)
        end_s = rng.uniform(0.02, 0.2, n)
        centre = rng.uniform([2.0, -0.5, 0.5], [6.0, 0.5, 1.5], (s, 3))
        boxes = np.stack([centre - 0.3, centre + 0.3], axis=1)
        grow = np.linspace(0.0, 0.5, m) + 0.005
        out = [np.empty((m, n, 3)), np.empty((m, n, 3))]
        out += [np.empty((m, n)), np.empty((m, n)), np.empty((m + 1, n)), np.empty((m, n))]
        in_box = np.empty((s, m, n), dtype=bool)
        _kernel.sub_chords(fine, reach, t_fine, end_s, boxes, grow, *out, in_box)
        want = reference_sub_chords(fine, reach, t_fine, end_s, boxes, grow)
        for got, ref in zip(out, want[:6], strict=True):
            assert close(got, ref), seed
        assert np.array_equal(in_box, want[6]), seed
        met += int(in_box.sum())
    assert met > 1000


def test_chords_and_candidates_equal_numpy_on_random_flights() -> None:
    """cast_paths's chords (lengths, path before, reach cut, live) and the chords it casts
    (flight-major, live, within a flight's limit, their box meeting a body's box or the
    floor) against the numpy forms, with and without a reach and a limit."""
    cast = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        k, n, b = int(rng.integers(1, 40)), int(rng.integers(1, 30)), int(rng.integers(0, 6))
        points = np.cumsum(rng.normal(0.0, 0.4, (k + 1, n, 3)), axis=0) + np.array([0, 0, 1.0])
        points[k // 2, 0] = points[k // 2 - 1, 0] if k > 2 else points[k // 2, 0]
        reach = float(rng.uniform(1.0, 6.0)) if seed % 2 else np.inf
        out = [np.empty((k, n)), np.empty((k + 1, n)), np.empty((k, n)), np.empty((k, n, 3))]
        live = np.empty((k, n), dtype=bool)
        _kernel.chords(points, reach, *out, live)
        want = reference_chords(points, reach)
        for got, ref in zip(out, want[:4], strict=True):
            assert close(got, ref), seed
        assert np.array_equal(live, want[4]), seed
        centre = rng.normal(0.0, 1.5, (b, 3)) + np.array([0, 0, 1.0])
        boxes = np.stack([centre - 0.4, centre + 0.4], axis=1).reshape(b, 2, 3)
        limit = rng.integers(-1, k + 1, n) if seed % 3 else None
        ks, ns = np.empty(k * n, dtype=np.int64), np.empty(k * n, dtype=np.int64)
        count = _kernel.candidates(points[:-1], out[3], live, boxes, limit, ks, ns)
        want_ks, want_ns = reference_candidates(points[:-1], out[3], live, boxes, limit)
        assert np.array_equal(ks[:count], want_ks), seed
        assert np.array_equal(ns[:count], want_ns), seed
        cast += count
    assert cast > 1000


def test_flight_ends_equal_numpy_on_random_casts() -> None:
    """Each flight's end from its cast chords (the first that hit, in flight-major order, or
    where its reach ran out) and the time, speed and path there, against the numpy forms."""
    hit = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        k, n = int(rng.integers(1, 30)), int(rng.integers(1, 20))
        points = np.cumsum(rng.normal(0.0, 0.4, (k + 1, n, 3)), axis=0)
        reach = float(rng.uniform(1.0, 6.0)) if seed % 2 else np.inf
        chord, before, cut = np.empty((k, n)), np.empty((k + 1, n)), np.empty((k, n))
        ends, live = np.empty((k, n, 3)), np.empty((k, n), dtype=bool)
        _kernel.chords(points, reach, chord, before, cut, ends, live)
        cast = (rng.random((k, n)) < 0.5) & live
        ns, ks = (np.ascontiguousarray(x) for x in np.nonzero(cast.T))  # flight-major
        uid = np.where(rng.random(len(ks)) < 0.3, rng.integers(0, 9, len(ks)), -1)
        frac = rng.random(len(ks))
        picked, end_k = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        end_f, point, target = np.empty(n), np.empty((n, 3)), np.empty(n, dtype=np.int64)
        _kernel.first_hits(
            points[:-1], ends, live, cut, ks, ns, uid, frac, picked, end_k, end_f, point, target
        )
        want = reference_first_hits(points[:-1], ends, live, cut, ks, ns, uid, frac)
        assert np.array_equal(picked, want[0]), seed
        assert np.array_equal(end_k, want[1]), seed
        assert np.array_equal(target, want[4]), seed
        assert close(end_f, want[2]) and close(point, want[3]), seed
        times = np.linspace(0.0, 0.2, k + 1)
        speeds = rng.uniform(20.0, 60.0, (k + 1, n))
        got = np.empty(n), np.empty(n), np.empty(n)
        _kernel.path_ends(times, speeds, before, chord, end_k, end_f, *got)
        for g, w in zip(
            got, reference_path_ends(times, speeds, before, chord, end_k, end_f), strict=True
        ):
            assert close(g, w), seed
        hit += int((picked >= 0).sum())
    assert hit > 100


def test_deploy_equals_numpy_on_random_deployments() -> None:
    """One trigger pull in one kernel call (launch, flight, chords, the subjects' hulls, the
    floor, the zone map, the chords left for PyBullet and the merge of what it found there)
    against the numpy forms: every cartridge, dispersion drawn or not, three subjects of
    different builds re-posed at random between pulls (the world's cached scene refreshed),
    random boxes standing in for the static bodies and random PyBullet answers."""
    carts = list(builtin_cartridges().values())
    met = {"subject": 0, "floor": 0, "static": 0, "air": 0}
    with RangeWorld(lane_length_m=12.0) as world:
        for s, body in enumerate(BODIES[:3]):
            world.add_subject(f"s{s}", body, (3.0 + s, 0.0, 0.0), 0.0)
        skeletons = [body.skeleton() for body in BODIES[:3]]
        for seed in range(40):
            rng = np.random.default_rng(seed)
            for s in range(3):
                pose = random_pose(rng) if seed % 2 else BODIES[s].pose()
                feet = (float(rng.uniform(2.0, 6.0)), float(rng.uniform(-1.5, 1.5)), 0.0)
                world.pose_subject(f"s{s}", pose, feet, float(rng.uniform(-4.0, 4.0)))
            scene = world._deploy_scene()
            for s in range(3):
                frames = world.subject_frames(f"s{s}")
                assert np.array_equal(scene[1][s], frames.position), seed
            cart = carts[seed % len(carts)]
            launch = launch_plan(cart)
            for shot in range(4):
                muzzle = (0.0, float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.2, 2.0)))
                aim = scene[1][int(rng.integers(0, 3)), int(rng.integers(0, len(JOINTS)))]
                aim = aim + rng.normal(0.0, 0.3, 3)
                orientation = look_rotation(aim - np.array(muzzle))
                if shot == 3:  # any orientation, rolled and all
                    q = Rotation.random(random_state=rng).as_quat()
                    orientation = (float(q[0]), float(q[1]), float(q[2]), float(q[3]))
                normals = None
                if seed % 4:
                    normals = rng.normal(0.0, launch.sigma_rad + 0.02, (launch.probes, 2))
                centre = rng.uniform((1.0, -2.0, 0.0), (8.0, 2.0, 2.0), (int(seed % 4), 3))
                boxes = np.stack([centre - 0.8, centre + 0.8], axis=1).reshape(-1, 2, 3)
                room = 2 * 64
                ck, cn = np.empty(room, dtype=np.int64), np.empty(room, dtype=np.int64)
                ca, cb = np.empty((room, 3)), np.empty((room, 3))
                args = (
                    muzzle,
                    orientation,
                    normals,
                    launch.probes,
                    launch.cos_spread,
                    launch.sin_spread,
                    launch.separation_in,
                    IN_M,
                    launch.reach_m,
                    launch.elevation0_rad,
                    launch.elevation_step_rad,
                    launch.table,
                    launch.times_s,
                    scene,
                    boxes,
                    0,
                )
                out_f = np.empty((launch.probes, 9))
                out_i = np.empty((launch.probes, 3), dtype=np.int64)
                count = _kernel.deploy(*args, None, ck, cn, ca, cb, out_f, out_i)
                uid = np.where(rng.random(count) < 0.7, rng.integers(10, 19, count), -1)
                hits = (uid, rng.random(count))
                for given in (None, hits):
                    count = _kernel.deploy(*args, given, ck, cn, ca, cb, out_f, out_i)
                    want = reference_deploy(
                        cart, muzzle, orientation, normals, scene, skeletons, boxes, 0, given
                    )
                    assert np.array_equal(out_i, want[1]), (seed, shot)
                    assert np.array_equal(np.isnan(out_f), np.isnan(want[0])), (seed, shot)
                    assert close(np.nan_to_num(out_f), np.nan_to_num(want[0])), (seed, shot)
                    assert np.array_equal(ck[:count], want[2]), (seed, shot)
                    assert np.array_equal(cn[:count], want[3]), (seed, shot)
                for target in out_i[:, 0].tolist():
                    kind = "air" if target < 0 else "floor" if target == 0 else "static"
                    met["subject" if target in scene[0] else kind] += 1
    assert min(met.values()) > 15, met


def _deploy_args() -> tuple[Any, ...]:
    """`_kernel.deploy`'s arguments but the scene's, a TASER 7 CQ cartridge's two probes fired
    level along +x from 1.3 m: the head (muzzle, draws, ...), the launch plan, and the chord
    and output buffers (ck, cn, ca, cb, out_f, out_i)."""
    launch = launch_plan(builtin_cartridges()["taser7-cq"])
    head = ((0.0, 0.0, 1.3), (0.0, 0.0, 0.0, 1.0), None, 2, 1.0, 0.0, 1.0, IN_M, 7.6)
    plan = (launch.elevation0_rad, launch.elevation_step_rad, launch.table, launch.times_s)
    ck, cn = np.empty(16, dtype=np.int64), np.empty(16, dtype=np.int64)
    ca, cb = np.empty((16, 3)), np.empty((16, 3))
    out_f, out_i = np.empty((2, 9)), np.empty((2, 3), dtype=np.int64)
    return head, plan, ck, cn, ca, cb, out_f, out_i


def test_deploy_refuses_inconsistent_input() -> None:
    """Wrong shapes and an answer per chord that is not one are errors, not reads past the
    end of a buffer."""
    with RangeWorld() as world:
        world.add_subject("s", BODIES[0], (3.0, 2.5, 0.0), 0.0)  # beside the probes' path
        scene = world._deploy_scene()
        head, plan, ck, cn, ca, cb, out_f, out_i = _deploy_args()
        boxes = np.array([[[5.0, -1.0, 0.0], [6.0, 1.0, 2.0]]])
        tail = (ck, cn, ca, cb, out_f, out_i)
        count = _kernel.deploy(*head, *plan, scene, boxes, 0, None, *tail)
        assert count > 0
        with pytest.raises(ValueError, match="hits"):
            hits = (np.full(count + 1, -1, dtype=np.int64), np.ones(count + 1))
            _kernel.deploy(*head, *plan, scene, boxes, 0, hits, *tail)
        with pytest.raises(ValueError, match="cand_k"):
            _kernel.deploy(*head, *plan, scene, boxes, 0, None, ck[:3], cn, ca, cb, out_f, out_i)
        with pytest.raises(ValueError, match="out_f"):
            _kernel.deploy(*head, *plan, scene, boxes, 0, None, ck, cn, ca, cb, out_f[:1], out_i)
        with pytest.raises(ValueError, match="scene pos"):
            bad = (scene[0], scene[1][:, :3], *scene[2:])
            _kernel.deploy(*head, *plan, bad, boxes, 0, None, *tail)
        with pytest.raises(ValueError, match="zero quaternion"):
            zero = (head[0], (0.0, 0.0, 0.0, 0.0), *head[2:])
            _kernel.deploy(*zero, *plan, scene, boxes, 0, None, *tail)


def test_deploy_passes_any_static_uid_through() -> None:
    """A static body's uid from PyBullet comes back as given, whatever its value: the largest
    int64 once overflowed the kernel's `-2 - uid` encoding into a subject row and read far
    outside the scene's buffers."""
    with RangeWorld() as world:
        world.add_subject("s", BODIES[0], (3.0, 0.0, 0.0), 0.0)
        scene = world._deploy_scene()
        head, plan, ck, cn, ca, cb, out_f, out_i = _deploy_args()
        boxes = np.array([[[0.0, -1.0, 0.0], [2.0, 1.0, 2.0]]])  # the first chords cross it
        tail = (ck, cn, ca, cb, out_f, out_i)
        count = _kernel.deploy(*head, *plan, scene, boxes, 0, None, *tail)
        assert count > 0
        for uid in (2**63 - 1, 2**62, 1):
            hits = (np.full(count, uid, dtype=np.int64), np.zeros(count))
            _kernel.deploy(*head, *plan, scene, boxes, 0, hits, *tail)
            assert out_i.tolist() == [[uid, -1, -1]] * 2, uid


def _rays(
    uid: np.ndarray, frac: np.ndarray, asked: list[int]
) -> Callable[[int], list[tuple[object, ...]]]:
    """A cast that answers as rayTestBatch does (body id, link, fraction, point, normal) with
    `uid` and `frac`, noting each count it is asked for in `asked`."""

    def cast(count: int) -> list[tuple[object, ...]]:
        asked.append(count)
        zero = (0.0, 0.0, 0.0)
        return [(int(u), -1, float(f), zero, zero) for u, f in zip(uid, frac, strict=True)]

    return cast


def test_deploy_asks_pybullet_once_inside_its_one_call() -> None:
    """Speed (b): `hits` may be a callable that the kernel calls once, with the count of the
    chords it found may meet a static body, for rayTestBatch's answers, and merges them in the
    same call: the same ends, bit for bit, as those answers given to a second call; not called
    when no chord needs PyBullet; a wrong count or a raising cast is an error."""
    with RangeWorld() as world:
        world.add_subject("s", BODIES[0], (3.0, 0.4, 0.0), 0.0)
        scene = world._deploy_scene()
        head, plan, ck, cn, ca, cb, out_f, out_i = _deploy_args()
        tail = (ck, cn, ca, cb, out_f, out_i)
        rng = np.random.default_rng(2)
        boxes = np.array([[[1.0, -1.0, 0.0], [2.0, 1.0, 2.0]], [[5.0, -1.0, 0.0], [6.0, 1.0, 2.0]]])
        asked: list[int] = []
        for trial in range(20):
            count = _kernel.deploy(*head, *plan, scene, boxes, 0, None, *tail)
            assert count > 0
            uid = np.where(rng.random(count) < 0.5, rng.integers(10, 19, count), -1)
            frac = rng.random(count)
            _kernel.deploy(*head, *plan, scene, boxes, 0, (uid, frac), *tail)
            want = (out_f.copy(), out_i.copy(), ck[:count].copy())
            out_f.fill(np.nan)
            out_i.fill(-7)
            cast = _rays(uid, frac, asked)
            assert _kernel.deploy(*head, *plan, scene, boxes, 0, cast, *tail) == count
            assert asked == [count] * (trial + 1), trial
            assert out_f.tobytes() == want[0].tobytes() and np.array_equal(out_i, want[1])
            assert np.array_equal(ck[:count], want[2])
        assert _kernel.deploy(*head, *plan, scene, boxes[:0], 0, cast, *tail) == 0
        assert len(asked) == 20  # no chord to cast: not asked
        with pytest.raises(ValueError, match="hits"):
            _kernel.deploy(*head, *plan, scene, boxes, 0, _rays(uid[1:], frac[1:], []), *tail)
        with pytest.raises(ZeroDivisionError):
            _kernel.deploy(*head, *plan, scene, boxes, 0, lambda n: 1 / 0, *tail)


def test_single_rotations_are_numpy_bit_for_bit() -> None:
    """human.rot_x, rot_y and rot_z (built by the kernel, ~10 a subject a frame): the same
    bits as numpy's 9-tuple form, fresh writable (3, 3) arrays; a bad axis is refused."""
    angles = [0, 0.0, -0.0, 1e-300, -np.pi, 3.0, np.float64(0.4)]
    angles += [float(a) for a in np.random.default_rng(1).normal(0.0, 2.0, 200)]
    pairs = ((rot_x, reference_rot_x), (rot_y, reference_rot_y), (rot_z, reference_rot_z))
    for ours, numpy_form in pairs:
        for a in angles:
            got = ours(a)  # type: ignore[arg-type]
            assert got.shape == (3, 3) and got.flags.writeable and got.flags.c_contiguous
            assert got.tobytes() == numpy_form(float(a)).tobytes(), (ours.__name__, a)
    assert rot_y(0.1) is not rot_y(0.1)
    with pytest.raises(ValueError, match="axis"):
        _kernel.rotation(3, 0.1, np.empty((3, 3)))
    with pytest.raises(ValueError, match="out"):
        _kernel.rotation(1, 0.1, np.empty(4))


def test_gait_rotations_are_numpy_rot_y_bit_for_bit() -> None:
    """The walking and running clips' eight leg and arm rotations, built in one block by the
    kernel: the same bits as human.rot_y one joint at a time, straight joints (0.0 and -0.0)
    included."""
    from physics.animation import _gait

    angles = [0.0, -0.0, 1e-300, -np.pi, 3.0, *np.random.default_rng(0).normal(0.0, 2.0, 200)]
    out = np.empty((len(angles), 3, 3))
    _kernel.rot_y_many(angles, out)
    for a, m in zip(angles, out, strict=True):
        assert m.tobytes() == reference_rot_y(float(a)).tobytes(), a
    straight = 0
    for k in range(400):
        t, phase = k * 0.0137, (k % 7) / 7
        got, want = (
            _gait(t, phase, 0.7, 0.75, 1.7, 0.8),
            reference_gait(t, phase, 0.7, 0.75, 1.7, 0.8),
        )
        assert got.keys() == want.keys()
        for name, m in want.items():
            assert got[name].tobytes() == m.tobytes(), (k, name)
        straight += int(got["knee_l"][0, 2] == 0.0)
    assert straight > 100  # half of every stride the knee is straight


def test_an_unbuilt_kernel_says_how_to_build_it() -> None:
    """A checkout where setup.py never ran (a fresh worktree on an installed environment)
    fails at `import physics` with the command that builds the kernel, not a bare
    ModuleNotFoundError."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'physics._kernel':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import physics\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "setup.py build_ext --inplace" in done.stderr


def test_a_stale_kernel_says_how_to_rebuild_it() -> None:
    """A `.so` built before a kernel function was added (a checkout updated without
    rebuilding: `rotation` came with issue 14) fails at `import physics`, naming what is
    missing and the command, not with an AttributeError in the middle of a run."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    import physics

    # (every name is on the module: physics/__init__.py refuses to import otherwise)
    stub = (Path(physics.__file__).parent / "_kernel.pyi").read_text()
    assert set(re.findall(r"^def (\w+)", stub, re.M)) == set(physics.KERNEL_FUNCTIONS)
    code = (
        "import sys, types\n"
        "old = types.ModuleType('physics._kernel')\n"
        "old.rot_y_many = lambda angles, out: None\n"
        "sys.modules['physics._kernel'] = old\n"
        "import physics\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "no forward_kinematics" in done.stderr and "rotation" in done.stderr
    assert "setup.py build_ext --inplace" in done.stderr
