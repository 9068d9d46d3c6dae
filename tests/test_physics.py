"""Physics: real PyBullet, geometry that a manual can check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from physics.analysis import trajectory
from physics.ballistics import (
    Atmosphere,
    fly_bullet,
    fly_rounds,
    g1_drag,
    load,
    trajectory_table,
)
from physics.body import Region, Stance, SubjectBody
from physics.flight import TrajectoryTable
from physics.pose import (
    Pose,
    look_rotation,
    pose_from_openxr,
    pose_to_openxr,
    quat_to_matrix,
    yaw_quat,
)
from physics.targets import TARGETS, TargetKind
from physics.taser import (
    Effect,
    ProbeImpact,
    assess,
    builtin_cartridges,
    cartridge,
    flight_table,
    fly_probes,
    fly_volley,
    laser_dots,
    laser_lit,
)
from physics.units import FT_M, IN_M, YD_M, m_to_in
from physics.world import REGIONS, RangeWorld

MUZZLE = np.array([0.0, 0.0, 1.3])


def aim_at(world_point: np.ndarray) -> Pose:
    return Pose(tuple(MUZZLE), look_rotation(world_point - MUZZLE))


def subject_point(body: SubjectBody, region: Region, x_m: float) -> np.ndarray:
    """World point of a region's aim point for a subject standing at x_m facing the officer."""
    lx, ly, lz = body.aim_point(region)
    return np.array([x_m - lx, -ly, lz])


@pytest.fixture
def world() -> RangeWorld:
    with RangeWorld() as w:
        yield w


@pytest.mark.parametrize(
    "region", [Region.ABDOMEN, Region.UPPER_CHEST, Region.FACE, Region.PELVIS_GROIN, Region.LEG]
)
def test_a_bullet_aimed_at_a_region_lands_in_it(world: RangeWorld, region: Region) -> None:
    body = SubjectBody()
    world.add_subject("s1", body, (7 * 0.9144, 0.0, 0.0), math.pi)
    target = subject_point(body, region, 7 * 0.9144)
    impact = fly_bullet(
        world,
        load("9mm-124").model_copy(update={"dispersion_moa": 0.0}),
        aim_at(target),
        np.random.default_rng(0),
    )
    assert impact.target == "s1"
    assert impact.region is region
    assert impact.velocity_mps < load("9mm-124").muzzle_velocity_mps


def test_a_missed_round_is_followed_to_the_backstop(world: RangeWorld) -> None:
    impact = fly_bullet(
        world, load("9mm-124"), aim_at(np.array([10.0, 0.5, 1.3])), np.random.default_rng(0)
    )
    assert impact.target == "backstop"
    assert impact.point[0] == pytest.approx(world.lane_length_m, abs=0.01)


TWO_PROBE_CARTRIDGES = ["x26p-21ft", "x26p-25ft", "x2-25ft", "taser7-cq", "taser7-standoff"]


@pytest.mark.parametrize("cartridge_id", TWO_PROBE_CARTRIDGES)
@pytest.mark.parametrize("distance_ft", [7.0, 15.0, 21.0])
def test_mean_lower_probe_spread_follows_the_cartridge_angle(
    cartridge_id: str, distance_ft: float
) -> None:
    """2,000 deployments fired level, dispersion on, at a backstop: the mean vertical distance
    between the probes is distance x tan(angle) plus the bore separation, within 10 %
    (facts.md §1, the [D] spread table)."""
    cart = cartridge(cartridge_id)
    trials = 2000
    with RangeWorld(lane_length_m=distance_ft * FT_M) as wall:
        volley = fly_volley(
            wall,
            cart,
            np.tile([0.0, 0.0, 2.5], (trials, 1)),
            np.repeat(np.eye(3)[None], trials, axis=0),
            np.random.default_rng(1),
        )
        backstop = wall.targets.index("backstop")
    ends = volley.ends
    if distance_ft * FT_M / math.cos(math.radians(cart.spread_deg)) > cart.reach_m:
        # The angled lower probe needs more wire than the cartridge holds: it stops short.
        # (Not at any rated range since l24b: the wire reaches a subject's feet there.)
        assert (ends.target[trials:] == -1).all()
        assert ends.path_m[trials:] == pytest.approx(cart.reach_m)
        return
    assert (ends.target == backstop).all()
    drop_in = (ends.point[:trials, 2] - ends.point[trials:, 2]).mean() / IN_M
    expected = distance_ft * 12 * math.tan(math.radians(cart.spread_deg)) + cart.bore_separation_in
    assert drop_in == pytest.approx(expected, rel=0.10)


def test_a_probe_stops_where_its_wire_runs_out(world: RangeWorld) -> None:
    # The wire along the path reaches from a chest-height muzzle to the feet of a subject at
    # the rated range, 21 ft (l24b): hypot(21 ft, 1.4 m) = 21.49 ft.
    cart = cartridge("x26p-21ft").model_copy(update={"dispersion_deg": 0.0})
    assert cart.reach_m == pytest.approx(math.hypot(21 * FT_M, 1.4))
    impacts = fly_probes(world, cart, Pose((0.0, 0.0, 1.5)), np.random.default_rng(0))
    top = impacts[0]
    assert top.target is None
    assert math.dist(top.point, (0.0, 0.0, 1.5)) == pytest.approx(cart.reach_m, rel=0.01)


def impact(probe: int, region: Region | None, z: float, gap: float | None = 0.25) -> ProbeImpact:
    return ProbeImpact(
        probe, "s1" if region else None, region, (5.0, 0.0, z), 0.1, gap if region else None
    )


def test_assessment_follows_the_documented_model() -> None:
    full = assess([impact(0, Region.ABDOMEN, 1.1), impact(1, Region.LEG, 0.7)], "s1")
    assert full.effect is Effect.FULL and full.spread_in == pytest.approx(m_to_in(0.4))
    reduced = assess([impact(0, Region.ABDOMEN, 1.1), impact(1, Region.ABDOMEN, 1.0)], "s1")
    assert reduced.effect is Effect.REDUCED
    missed = assess([impact(0, Region.ABDOMEN, 1.1), impact(1, None, 0.0)], "s1")
    assert missed.effect is Effect.NONE and "missed" in missed.reason
    coat = assess([impact(0, Region.ABDOMEN, 1.1, gap=2.5), impact(1, Region.LEG, 0.6)], "s1")
    assert coat.effect is Effect.NONE and "clothing" in coat.reason
    chest = assess([impact(0, Region.UPPER_CHEST, 1.4), impact(1, Region.LEG, 0.6)], "s1")
    assert chest.effect is Effect.FULL and chest.avoid_zone == (0,)


def test_openxr_aim_forward_becomes_physics_forward() -> None:
    # Identity in OpenXR looks along -Z (into the screen) with +Y up.
    pose = pose_from_openxr((0.1, 1.6, -2.0), (0.0, 0.0, 0.0, 1.0), 1.0, valid=True, tracked=True)
    assert pose.position_m == pytest.approx((2.0, -0.1, 1.6))
    assert pose.forward() == pytest.approx((1.0, 0.0, 0.0))
    assert pose.up() == pytest.approx((0.0, 0.0, 1.0))
    # Turned 90 degrees left about OpenXR's +Y: now it looks along XR -X, physics +Y (left).
    half = math.radians(90) / 2
    turned = pose_from_openxr(
        (0, 0, 0), (0.0, math.sin(half), 0.0, math.cos(half)), 1.0, valid=True, tracked=True
    )
    assert turned.forward() == pytest.approx((0.0, 1.0, 0.0), abs=1e-9)


def test_a_physics_pose_goes_to_openxr_and_back() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        direction = rng.normal(size=3)
        pose = Pose(tuple(rng.normal(size=3)), look_rotation(direction), 2.0)
        position, orientation = pose_to_openxr(pose)
        back = pose_from_openxr(position, orientation, 2.0, valid=True, tracked=True)
        assert back.position_m == pytest.approx(pose.position_m)
        assert quat_to_matrix(back.orientation) == pytest.approx(
            quat_to_matrix(pose.orientation), abs=1e-9
        )
    # A bore along physics +X is an OpenXR aim along -Z.
    _, q = pose_to_openxr(Pose((0.0, 0.0, 1.4)))
    assert quat_to_matrix(q) @ np.array([0.0, 0.0, -1.0]) == pytest.approx((0.0, 0.0, -1.0))


def test_look_rotation_and_yaw_agree() -> None:
    assert quat_to_matrix(look_rotation((0.0, 1.0, 0.0))) == pytest.approx(
        quat_to_matrix(yaw_quat(math.pi / 2)), abs=1e-9
    )


FACINGS = {"toward": math.pi, "away": 0.0, "side-on": math.pi / 2}
REGION_TEST_FT = 10.0


BACK_REGIONS = {Region.UPPER_BACK, Region.LOWER_BACK, Region.BUTTOCKS}


@pytest.mark.parametrize("stance", list(Stance))
@pytest.mark.parametrize("facing", list(FACINGS))
def test_a_probe_aimed_at_each_visible_region_lands_in_it(stance: Stance, facing: str) -> None:
    """Dispersion off, aim corrected for the probe's drop: every region whose aim point the
    officer can see (a straight line to it meets that region first) is where the probe lands."""
    cart = cartridge("taser10").model_copy(update={"dispersion_deg": 0.0})
    distance_m = REGION_TEST_FT * FT_M
    muzzle = np.array([0.0, 0.0, 1.3])
    drop_m = -flight_table(cart).level(distance_m)[0]
    yaw = FACINGS[facing]
    body = SubjectBody(stance=stance)
    checked = set()
    with RangeWorld() as world:
        world.add_subject("s", body, (distance_m, 0.0, 0.0), yaw)
        rot = quat_to_matrix(yaw_quat(yaw))
        for region in Region:
            point = np.array([distance_m, 0.0, 0.0]) + rot @ np.array(body.aim_point(region))
            line = np.stack([muzzle, muzzle + 1.2 * (point - muzzle)])[:, None, :]
            sight = world.cast_paths(line, np.array([0.0, 1.0]), np.zeros((2, 1)))
            if sight.region[0] != REGIONS.index(region):
                continue  # hidden behind another part from here
            aim = point + np.array([0.0, 0.0, drop_m])
            impact = fly_probes(
                world,
                cart,
                Pose(tuple(muzzle), look_rotation(aim - muzzle)),
                np.random.default_rng(0),
            )[0]
            assert impact.region is region, f"aimed at {region}, hit {impact.region}"
            checked.add(region)
    expected_front = {
        Region.FACE,
        Region.UPPER_CHEST,
        Region.ABDOMEN,
        Region.PELVIS,
        Region.PELVIS_GROIN,
        Region.LEG,
    }
    expected_back = {Region.UPPER_BACK, Region.LOWER_BACK, Region.BUTTOCKS}
    assert (
        checked
        >= {"toward": expected_front, "away": expected_back, "side-on": {Region.ARM}}[facing]
    )


def test_a_subject_kneels_and_stands_again() -> None:
    """Kneeling lowers the head by the knee's height less the kneecap the subject rests on."""
    with RangeWorld() as world:
        body = SubjectBody()
        world.add_subject("s", body, (5.0, 0.0, 0.0), math.pi)
        head_height = world._body_boxes()[-1][1][2]
        world.set_stance("s", Stance.KNEELING)
        skeleton = body.skeleton()
        drop = skeleton.rest[12][2] - skeleton.knee_radius_m  # knee_l
        assert world._body_boxes()[-1][1][2] == pytest.approx(head_height - drop, abs=0.005)
        world.set_stance("s", Stance.STANDING)
        assert world._body_boxes()[-1][1][2] == pytest.approx(head_height)


@pytest.mark.parametrize("kind", list(TargetKind))
def test_a_round_aimed_at_each_zone_scores_that_zone(kind: TargetKind) -> None:
    target = TARGETS[kind]
    ball = load("9mm-124").model_copy(update={"dispersion_moa": 0.0})
    distance_m = 7 * YD_M
    drop_m = -trajectory_table(ball).level(distance_m)[0]
    muzzle = np.array([0.0, 0.0, 1.3])
    with RangeWorld() as world:
        world.add_target("t", target, distance_m)
        for zone in target.zones:
            u, v = target.aim_point(zone.name, margin_in=0.5)
            aim = np.array([distance_m, -u * IN_M, 1.3 + v * IN_M + drop_m])
            impact = fly_bullet(
                world,
                ball,
                Pose(tuple(muzzle), look_rotation(aim - muzzle)),
                np.random.default_rng(0),
            )
            assert impact.target == "t"
            assert world.target_score("t", impact.point) == (zone.name, zone.points)


def test_the_qit99_approximation_keeps_the_published_scoring_area() -> None:
    bottle = TARGETS[TargetKind.QIT99].zone("bottle")
    assert sum(s.area for s in bottle.shapes) == pytest.approx(192.0, rel=0.03)  # facts.md §3


def test_a_400_mps_round_never_tunnels_through_a_5_mm_board() -> None:
    """1,000 rounds at 400 m/s aimed over and past the edges of a target's 5 mm backer: every
    one whose straight line crosses the board hits it; none of the others do."""
    fast = load("9mm-124").model_copy(
        update={"muzzle_velocity_fps": 400 / 0.3048, "dispersion_moa": 0.0}
    )
    target = TARGETS[TargetKind.USPSA]
    distance_m = 20.0
    half_w, half_h = target.width_in * IN_M / 2, target.height_in * IN_M / 2
    rng = np.random.default_rng(5)
    u = rng.uniform(-1.3 * half_w, 1.3 * half_w, 1000)
    v = rng.uniform(-1.3 * half_h, 1.3 * half_h, 1000)
    muzzle = np.array([0.0, 0.0, 1.3])
    drop_m = -trajectory_table(fast).level(distance_m)[0]
    aims = np.column_stack([np.full(1000, distance_m), u, 1.3 + v + drop_m])
    rotations = np.array([quat_to_matrix(look_rotation(a - muzzle)) for a in aims])
    with RangeWorld() as world:
        world.add_target("t", target, distance_m)
        ends = fly_rounds(world, fast, np.tile(muzzle, (1000, 1)), rotations, rng)
        names = world.targets
    hit = np.array([names[i] == "t" if i >= 0 else False for i in ends.target])
    # 1 mm inside the edges must hit, 1 mm outside must not (the drop correction is exact only
    # at the centre line).
    inside = (np.abs(u) < half_w - 1e-3) & (np.abs(v) < half_h - 1e-3)
    outside = (np.abs(u) > half_w + 1e-3) | (np.abs(v) > half_h + 1e-3)
    assert hit[inside].all() and inside.sum() > 400
    assert not hit[outside].any()


# facts.md §2: 124 gr at 1,150 ft/s, G1 BC 0.15, sight height 0.8 in, 25 yd zero, cross-checked
# with py-ballisticcalc 3.1.1: (yards, path in, velocity ft/s, time s).
FACTS_TRAJECTORY = [
    (7, -0.40, 1133, 0.0184),
    (15, -0.11, 1116, 0.0398),
    (25, 0.00, 1095, 0.0669),
    (50, -1.01, 1049, 0.1369),
    (100, -9.11, 977, 0.2853),
]


def test_the_zeroed_trajectory_matches_the_reference_table() -> None:
    rows = {r.distance_yd: r for r in trajectory(load("9mm-124"), 25 * YD_M, 100 * YD_M)}
    for yards, path_in, fps, seconds in FACTS_TRAJECTORY:
        row = rows[float(yards)]
        assert row.path_in == pytest.approx(path_in, abs=0.03)
        assert row.velocity_fps == pytest.approx(fps, abs=1.5)
        assert row.time_s == pytest.approx(seconds, abs=0.0003)


@pytest.mark.parametrize("load_id", ["9mm-124", "9mm-147"])
def test_bullet_flight_agrees_with_py_ballisticcalc(load_id: str) -> None:
    """Drop below the bore, velocity and time of flight within 0.5 % of py-ballisticcalc, fired
    level in the same atmosphere, from 7 to 50 yd."""
    from py_ballisticcalc import Ammo, Atmo, Calculator, DragModel, Shot, TableG1, Unit, Weapon

    bullet = load(load_id)
    atmo = Atmo.icao()
    ours = TrajectoryTable(
        g1_drag(bullet.g1_bc, Atmosphere(atmo.density_metric, atmo.mach >> Unit.MPS)),
        bullet.muzzle_velocity_mps,
        0.2,
    )
    drag = DragModel(
        bullet.g1_bc,
        TableG1,
        Unit.Grain(bullet.bullet_mass_gr),
        Unit.Inch(bullet.bullet_diameter_in),
        Unit.Inch(0.6),
    )
    shot = Shot(
        weapon=Weapon(sight_height=Unit.Inch(0)),
        ammo=Ammo(drag, Unit.FPS(bullet.muzzle_velocity_fps)),
        atmo=atmo,
    )
    result = Calculator().fire(shot, trajectory_range=Unit.Yard(50), trajectory_step=Unit.Yard(1))
    reference = {round(r.distance >> Unit.Yard): r for r in result.samples}
    for yards in (7, 10, 15, 20, 25, 30, 40, 50):
        ref = reference[yards]
        up, speed, time = ours.level(yards * YD_M)
        assert up == pytest.approx(ref.height >> Unit.Meter, rel=0.005)
        assert speed == pytest.approx(ref.velocity >> Unit.MPS, rel=0.005)
        assert time == pytest.approx(ref.time, rel=0.005)


def test_x2_lasers_meet_their_probes_at_15_ft_and_not_before() -> None:
    """X2 manual p.40: two lasers that coincide with the probes at 15 ft (facts.md §1)."""
    cart = cartridge("x2-25ft").model_copy(update={"dispersion_deg": 0.0})
    muzzle = Pose((0.0, 0.0, 2.0))
    for distance_ft, close in ((15.0, True), (7.0, False)):
        with RangeWorld(lane_length_m=distance_ft * FT_M) as wall:
            dots = laser_dots(wall, cart, muzzle)
            impacts = fly_probes(wall, cart, muzzle, np.random.default_rng(0))
        for (lit, dot), impact in zip(dots, impacts, strict=True):
            assert lit == "backstop" and dot is not None
            apart_in = math.dist(dot, impact.point) / IN_M
            assert (apart_in < 0.25) is close, f"{distance_ft} ft: {apart_in:.2f} in apart"


def test_the_first_laser_lit_is_what_laser_dots_names_first() -> None:
    """A course asks at every trigger pull what the first laser lights: `laser_lit` works out
    only that beam and casts it as one ray, and names what `laser_dots` (every beam, each
    cast as a path) names first: the subject, cover, a wall, the floor, the backstop or
    nothing, for every cartridge (a converging or zeroed laser too)."""
    rng = np.random.default_rng(4)
    seen = set()
    with RangeWorld(lane_length_m=12.0) as world:
        world.add_subject("s", SubjectBody(), (4.6, 0.0, 0.0), math.pi)
        world.add_cover("crate", (3.0, 1.2, 0.0), (0.5, 0.5, 1.0))
        for cart in builtin_cartridges().values():
            for _ in range(25):
                aim = np.array([4.6, 0.0, -0.4]) + rng.normal(0.0, (0.5, 1.5, 0.8))
                muzzle = Pose((0.0, 0.0, 1.4), look_rotation(aim))
                first = laser_dots(world, cart, muzzle)[0][0]
                assert laser_lit(world, cart, muzzle) == first
                seen.add(first)
    assert seen >= {"s", "cover:crate", "floor", "backstop", None}, seen
    assert any(name is not None and "wall" in name for name in seen), seen


def test_a_bore_line_laser_sits_above_the_probe_by_its_drop() -> None:
    cart = cartridge("taser7-standoff").model_copy(update={"dispersion_deg": 0.0})
    muzzle = Pose((0.0, 0.0, 2.0))
    with RangeWorld(lane_length_m=21 * FT_M) as wall:
        (lit, dot), _ = laser_dots(wall, cart, muzzle)  # the green (top) laser
        top = fly_probes(wall, cart, muzzle, np.random.default_rng(0))[0]
    assert lit == "backstop" and dot is not None
    drop_in = (dot[2] - top.point[2]) / IN_M
    # facts.md §1 [D]: gravity alone drops a 55 m/s probe 2.6 in at 21 ft; drag adds a little.
    assert 2.6 <= drop_in < 3.2
