"""One TASER deployment against still subjects in one kernel call (`fly_probes` without a
motion: RangeWorld.cast_deployment, physics._kernel.deploy), against the paths it replaced:
the moving-subject path with the subjects still (the same exact clipping of the drawn hulls,
in numpy and the kernel's cast_subject) to the nanometre, and PyBullet's rays against its own
hulls (inset 1 mm plus Bullet's 1 mm margin) to the millimetre."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from physics.animation import BLEND_S, FALL_S, Clip, SubjectAnimator, Timeline, clip_pose
from physics.body import Region, SubjectBody
from physics.human import JOINT_INDEX, Stance
from physics.pose import Pose, look_rotation
from physics.props import prop_parts
from physics.taser import (
    ProbeImpact,
    Volley,
    _still,
    cartridge,
    deployment_motion,
    flight_plan,
    flight_s,
    fly_probes,
    fly_volley,
    launch_plan,
    probe_launch,
    volley_impacts,
)
from physics.world import PathEnds, RangeWorld

NM = 1e-9


def _lane() -> RangeWorld:
    """Three still subjects of different builds (one caught mid-stride), a car broadside
    beside them and a cover box: probes end on subjects, props, cover, the floor, the
    backstop and in the air."""
    world = RangeWorld(lane_length_m=7.0)
    runner = SubjectBody()
    world.add_subject("a", runner, (4.0, 0.0, 0.0), math.pi)
    world.add_subject("b", SubjectBody(pregnant=True), (6.0, 0.8, 0.0), math.pi * 0.8)
    world.add_subject("c", SubjectBody(child=True), (3.0, -1.2, 0.0), 0.3)
    world.pose_subject("a", clip_pose(runner.skeleton(), Clip.RUN, 0.3, 0))
    world.add_prop(prop_parts("car", "car", 5.5, -2.2, math.pi / 2))
    world.add_cover("crate", (5.0, 1.8, 0.0), (0.6, 0.6, 1.0))
    return world


def _same(new: ProbeImpact, old: ProbeImpact) -> bool:
    """The same body, region and segment, and every number within a nanometre (or second)."""
    if (new.target, new.region, new.segment, new.zone) != (
        old.target,
        old.region,
        old.segment,
        old.zone,
    ):
        return False
    if new.clothing_gap_in != old.clothing_gap_in:
        return False
    numbers = [(new.point, old.point), ((new.time_of_flight_s,), (old.time_of_flight_s,))]
    if new.body_point is not None or old.body_point is not None:
        if new.body_point is None or old.body_point is None:
            return False
        assert new.segment_offset_m is not None and old.segment_offset_m is not None
        numbers += [(new.body_point, old.body_point), (new.segment_offset_m, old.segment_offset_m)]
    return all(abs(x - y) <= NM for a, b in numbers for x, y in zip(a, b, strict=True))


def test_a_still_deployment_ends_where_the_moving_path_ends_to_the_nanometre() -> None:
    """300 deployments (600 probes) aimed about the lane: the one-call deployment and the
    moving-subject path with every subject still (cast_moving: PyBullet for the rest of the
    world, the drawn hulls clipped exactly) give the same impacts (body, region, segment,
    zone, clothing gap) within 1e-9 m and s, and draw the same numbers from the run's
    generator. Against PyBullet's rays (the previous still path): the rest of the world (floor,
    walls, backstop, cover, a car) stops each probe where it did, within 1e-9 m; on the
    subjects, PyBullet's hulls (the drawn ones inset 1 mm, grown by a 1 mm margin that rounds
    their edges) give the same body and region for >= 99 % and ends a millimetre or two apart
    but at grazes."""
    cart = cartridge("taser7-cq")
    rng = np.random.default_rng(3)
    kinds: dict[str, int] = {}
    agree, apart = 0, []
    with _lane() as world:
        for trial in range(300):
            name = "abc"[trial % 3]
            aim = world.subject_box(name).mean(axis=0) + rng.normal(0.0, 0.4, 3)
            muzzle_m = np.array([0.0, rng.uniform(-1.0, 1.0), rng.uniform(0.8, 1.8)])
            muzzle = Pose(tuple(muzzle_m.tolist()), look_rotation(aim - muzzle_m))
            seed = int(rng.integers(1 << 30))
            draws = [np.random.default_rng(seed) for _ in range(3)]
            new = fly_probes(world, cart, muzzle, draws[0])
            moving = fly_probes(world, cart, muzzle, draws[1], _still)
            origin, rotation = np.array([muzzle.position_m]), muzzle.rotation()[None]
            bullet = volley_impacts(
                world, cart, fly_volley(world, cart, origin, rotation, draws[2])
            )
            assert draws[0].random() == draws[1].random() == draws[2].random(), trial
            for n, m, b in zip(new, moving, bullet, strict=True):
                assert _same(n, m), (trial, n, m)
                kind = n.target.split(":")[0] if n.target else "air"
                kinds[kind] = kinds.get(kind, 0) + 1
                agree += (n.target, n.region) == (b.target, b.region)
                if n.on_subject or b.on_subject:
                    apart.append(math.dist(n.point, b.point))
                else:  # the rest of the world stops a probe where it did
                    assert n.target == b.target and math.dist(n.point, b.point) <= NM, trial
    assert kinds.keys() >= {"a", "b", "c", "floor", "backstop", "cover", "concealment"}, kinds
    assert agree >= 0.99 * 600, agree
    # On the subjects: PyBullet's rounded edges. Apart from grazes (a forearm's edge missed,
    # the abdomen behind it hit), within a millimetre or two.
    assert np.median(apart) < 5e-4 and np.percentile(apart, 95) < 2e-3, apart


def test_a_reposed_subject_is_hit_where_it_now_stands() -> None:
    """The deployment's subjects are kept as the kernel reads them, a pose at a time: a
    subject moved (or posed anew) is hit where it stands now, not where it stood at the last
    deployment."""
    cart = cartridge("taser7-cq").model_copy(update={"dispersion_deg": 0.0})
    body = SubjectBody()
    muzzle_m = np.array([0.0, 0.0, 1.2])

    def at(world: RangeWorld, point: np.ndarray) -> list[ProbeImpact]:
        muzzle = Pose(tuple(muzzle_m.tolist()), look_rotation(point - muzzle_m))
        return fly_probes(world, cart, muzzle, np.random.default_rng(0))

    with RangeWorld(lane_length_m=10.0) as world:
        world.add_subject("s", body, (4.0, 0.0, 0.0), math.pi)
        here = world.subject_box("s").mean(axis=0)
        assert at(world, here)[0].target == "s"
        world.place_subject("s", (4.0, 2.0, 0.0), math.pi)
        there = world.subject_box("s").mean(axis=0)
        assert at(world, here)[0].target != "s"  # it is gone from there
        top = at(world, there)[0]
        assert top.target == "s"
        assert top.point[1] > 1.8  # on the subject where it stands now
        # A new pose in place: a raised hand is hit where it is now, above the head.
        wrist = JOINT_INDEX["wrist_r"]
        before = world.subject_frames("s").position[wrist].copy()
        world.set_stance("s", Stance.ARMS_RAISED)
        hand = world.subject_frames("s").position[wrist]
        assert hand[2] > before[2] + 0.8
        hit = at(world, hand)[0]
        assert hit.target == "s" and hit.region is Region.ARM
        assert math.dist(hit.point, hand) < 0.15


def test_a_drill_deployment_takes_the_one_call_path_when_nothing_moves() -> None:
    """What a drill hands `fly_probes` (`deployment_motion`, from its animator): with every
    subject down (a finished fall: a pose that does not change over the flight) the one-call
    path, never cast_moving, and the impacts are the moving path's within 1e-9 m and s; with
    a subject walking, or standing and breathing, or still falling, the moving path."""
    cart = cartridge("taser7-cq")
    body = SubjectBody()
    skeleton = body.skeleton()
    animator = SubjectAnimator(seed=5)
    with RangeWorld(lane_length_m=8.0) as world:
        world.add_subject("down", body, (3.0, 0.0, 0.0), math.pi)
        world.add_subject("near", body, (4.5, 0.9, 0.0), math.pi)
        calls: list[int] = []
        moving_cast = world.cast_moving

        def counted(*args: Any, **kwargs: Any) -> PathEnds:
            calls.append(1)
            return moving_cast(*args, **kwargs)

        world.cast_moving = counted  # type: ignore[method-assign]

        def frame(t: float, y_near: float, near_behaviour: str) -> None:
            """A drill frame: each subject's state to the animator, the world posed from it."""
            for name, (x, y), behaviour in (
                ("down", (3.0, 0.0), "incapacitated"),
                ("near", (4.5, y_near), near_behaviour),
            ):
                animator.advance(name, t, (x, y), math.pi, behaviour, "standing", "none", skeleton)
                world.pose_subject(name, animator.pose(name, t), (x, y, 0.0), math.pi)

        for step in range(31):  # 1 s at 30 Hz: the fall over, the other subject down too
            frame(step / 30, 0.9, "incapacitated")
        t = 1.0
        assert animator.still_over(t, flight_s(cart))
        rng = np.random.default_rng(11)
        for trial in range(40):
            name = ("down", "near")[trial % 2]
            aim = world.subject_box(name).mean(axis=0) + rng.normal(0.0, 0.25, 3)
            muzzle_m = np.array([0.0, rng.uniform(-0.5, 0.5), rng.uniform(0.6, 1.6)])
            muzzle = Pose(tuple(muzzle_m.tolist()), look_rotation(aim - muzzle_m))
            seed = int(rng.integers(1 << 30))
            motion = deployment_motion(animator, world, cart, t)
            assert motion is None
            fast = fly_probes(world, cart, muzzle, np.random.default_rng(seed), motion)
            assert not calls, trial  # the one kernel call, not the moving path
            moving = fly_probes(
                world, cart, muzzle, np.random.default_rng(seed), animator.motion(world, t)
            )
            assert calls, trial
            calls.clear()
            assert all(_same(f, m) for f, m in zip(fast, moving, strict=True)), trial
        # The other subject gets up and walks: the moving path, the walker hit where it went.
        for step in range(31, 40):
            frame(step / 30, 0.9, "compliant")
        assert not animator.still_over(39 / 30, flight_s(cart))  # standing: it breathes
        for step in range(40, 80):
            frame(step / 30, 0.9 - 1.4 * (step - 40) / 30, "compliant")
        t = 79 / 30
        assert not animator.still_over(t, flight_s(cart))
        muzzle_m = np.array([0.0, 0.0, 1.2])
        aim = world.subject_box("near").mean(axis=0)
        muzzle = Pose(tuple(muzzle_m.tolist()), look_rotation(aim - muzzle_m))
        motion = deployment_motion(animator, world, cart, t)
        assert motion is not None
        fly_probes(world, cart, muzzle, np.random.default_rng(1), motion)
        assert calls == [1]


def test_a_timeline_is_fixed_only_where_its_pose_cannot_change() -> None:
    """`Timeline.fixed_over`: a finished fall and prone are fixed; a fall under way, a blend
    under way, a clip change inside the window and a breathing clip are not."""
    body = SubjectBody()
    skeleton = body.skeleton()
    fall = Timeline(((0.0, Clip.IDLE), (1.0, Clip.FALL)), 3)
    assert fall.fixed_over(1.0 + FALL_S, 3.0)
    assert not fall.fixed_over(1.5, 1.7)  # still going down
    assert not fall.fixed_over(0.5, 1.2)  # the fall starts inside the window
    assert not fall.fixed_over(0.2, 0.4)  # idle: breathing
    prone = Timeline(((0.0, Clip.IDLE), (1.0, Clip.PRONE)), 3)
    assert not prone.fixed_over(1.1, 1.2)  # blending in
    assert prone.fixed_over(1.0 + BLEND_S, 2.0)
    for timeline, a, b in ((fall, 1.0 + FALL_S, 3.0), (prone, 1.0 + BLEND_S, 2.0)):
        first = timeline.pose_at(skeleton, a)
        for t in np.linspace(a, b, 7).tolist():
            pose = timeline.pose_at(skeleton, t)
            assert pose.root_offset_m == first.root_offset_m
            assert np.array_equal(pose.root_rotation, first.root_rotation)
            assert pose.joints.keys() == first.joints.keys()
            assert all(np.array_equal(pose.joints[j], first.joints[j]) for j in pose.joints)


def test_a_moving_deployment_flown_in_the_kernel_ends_where_fly_volley_ends() -> None:
    """One pull against moving subjects (`fly_probes` with a motion: the launch, flight and
    rest of the world in one kernel call, the flights written out for cast_moving) against
    `fly_volley`'s numpy launch, flights and PyBullet frozen cast for the same pull: the same
    impacts within 1e-9 m and s, the same draws from the run's generator; the flights the
    kernel writes out are SampledFlights.flights' to 1e-12 m."""
    cart = cartridge("taser7-cq")
    rng = np.random.default_rng(9)
    kinds: dict[str, int] = {}
    with _lane() as world:
        skeleton = world.body("a").skeleton()

        def motion(t: float, subjects: frozenset[str]) -> None:
            if "a" in subjects:  # running across the lane
                world.pose_subject(
                    "a", clip_pose(skeleton, Clip.RUN, 0.3 + t, 0), (4.0, 3.5 * t, 0.0)
                )

        for trial in range(120):
            name = "abc"[trial % 3]
            aim = world.subject_box(name).mean(axis=0) + rng.normal(0.0, 0.4, 3)
            muzzle_m = np.array([0.0, rng.uniform(-1.0, 1.0), rng.uniform(0.8, 1.8)])
            muzzle = Pose(tuple(muzzle_m.tolist()), look_rotation(aim - muzzle_m))
            seed = int(rng.integers(1 << 30))
            draws = [np.random.default_rng(seed) for _ in range(2)]
            new = fly_probes(world, cart, muzzle, draws[0], motion)
            origin, rotation = np.array([muzzle.position_m]), muzzle.rotation()[None]
            old = volley_impacts(
                world, cart, fly_volley(world, cart, origin, rotation, draws[1], motion)
            )
            assert draws[0].random() == draws[1].random(), trial
            for n, o in zip(new, old, strict=True):
                assert _same(n, o), (trial, n, o)
                kind = n.target.split(":")[0] if n.target else "air"
                kinds[kind] = kinds.get(kind, 0) + 1
            launch = launch_plan(cart)
            points = np.empty((len(launch.times_s), launch.probes, 3))
            speeds = np.empty((len(launch.times_s), launch.probes))
            draw = np.random.default_rng(seed)
            normals = draw.normal(0.0, launch.sigma_rad, size=(launch.probes, 2))
            world.cast_deployment(
                muzzle.position_m, muzzle.orientation, normals, launch, False, (points, speeds)
            )
            starts, directions = probe_launch(cart, origin, rotation, np.random.default_rng(seed))
            want_points, want_speeds = flight_plan(cart).flights(starts, directions)
            assert np.abs(points - want_points).max() < 1e-12, trial
            assert np.abs(speeds - want_speeds).max() < 1e-9, trial
    assert kinds.keys() >= {"a", "b", "c", "floor", "backstop"}, kinds


def test_targets_names_every_body_added_since() -> None:
    """`RangeWorld.targets` (kept between calls: every deployment reads it) names a body added
    after it was read, and what it hands out is the caller's own list."""
    with RangeWorld(lane_length_m=7.0) as world:
        before = world.targets
        before.append("scribbled")
        world.add_subject("a", SubjectBody(), (4.0, 0.0, 0.0), math.pi)
        world.add_cover("crate", (5.0, 1.8, 0.0), (0.6, 0.6, 1.0))
        names = world.targets
        assert names[: len(before) - 1] == before[:-1]
        assert "a" in names and "cover:crate" in names and "scribbled" not in names


class _PullMajor(Volley):
    """A volley laid out pull-major (probe p of pull n at row n * P + p), not as fly_volley
    lays it out: volley_impacts must read the rows its `probe` names."""

    __slots__ = ()

    def probe(self, pull: int, probe: int) -> int:
        return pull * 2 + probe


def test_volley_impacts_reads_the_rows_volley_probe_names() -> None:
    """rv20b #2: Volley.probe owns the row layout; volley_impacts asks it for the first pull's
    probes (it wrote the layout again, as a slice, and would read pull 1's probe 0 here)."""
    cart = cartridge("taser7-cq")
    assert cart.probes_per_pull == 2
    rows = 4  # two pulls of two probes, each row's time its own row number
    ends = PathEnds(
        target=np.full(rows, -1, dtype=np.int64),
        region=np.full(rows, -1, dtype=np.int64),
        point=np.zeros((rows, 3)),
        time_s=np.arange(rows, dtype=np.float64),
        speed_mps=np.zeros(rows),
        path_m=np.zeros(rows),
    )
    world = RangeWorld(lane_length_m=7.0)
    try:
        times = [i.time_of_flight_s for i in volley_impacts(world, cart, _PullMajor(2, ends))]
        assert times == [0.0, 1.0]
        times = [i.time_of_flight_s for i in volley_impacts(world, cart, Volley(2, ends))]
        assert times == [0.0, 2.0]  # fly_volley's probe-major layout
    finally:
        world.close()


def test_a_deployment_at_a_wall_is_one_kernel_call(monkeypatch: Any) -> None:
    """Speed (b): a deployment whose probes PyBullet must cast for (at cover, the backstop) is
    one call of the kernel, which asks PyBullet from inside it, once; it was two (the second
    to merge PyBullet's answer), each launching, flying and clipping the probes again."""
    from physics import _kernel

    calls: list[object] = []
    real = _kernel.deploy

    def deploy(*args: Any) -> int:
        calls.append(args[16])  # `hits`
        return int(real(*args))

    monkeypatch.setattr(_kernel, "deploy", deploy)
    cart = cartridge("taser7-cq").model_copy(update={"dispersion_deg": 0.0})
    with _lane() as world:
        for aim, want in (((5.0, 1.8, 0.5), "cover:crate"), ((7.0, -0.6, 1.4), "backstop")):
            muzzle_m = np.array([0.0, 0.0, 1.4])
            muzzle = Pose(tuple(muzzle_m.tolist()), look_rotation(np.array(aim) - muzzle_m))
            calls.clear()
            impacts = fly_probes(world, cart, muzzle, np.random.default_rng(0))
            assert impacts[0].target == want, [i.target for i in impacts]
            assert len(calls) == 1 and callable(calls[0]), calls
