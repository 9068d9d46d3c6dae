"""Weapons fidelity (issue 15): TASER circuits across trigger pulls, the lasers as published,
analyses for every model, penetration through cover and people, and the other duty loads."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

from physics.analysis import MUZZLE_HEIGHT_M, spread_study, trajectory
from physics.ballistics import Atmosphere, load
from physics.body import Region, SubjectBody
from physics.penetration import exit_speed_mps, fly_through, stops
from physics.pose import Pose, look_rotation, quat_to_matrix, yaw_quat
from physics.taser import (
    Cause,
    Circuit,
    Effect,
    ProbeImpact,
    assess,
    cartridge,
    flight_table,
    fly_probes,
    laser_dots,
)
from physics.units import FT_M, IN_M, YD_M
from physics.world import RangeWorld

MUZZLE = np.array([0.0, 0.0, MUZZLE_HEIGHT_M])


def taser10_pull(world: RangeWorld, region: Region, distance_m: float) -> list[ProbeImpact]:
    """One TASER 10 pull at a subject facing the officer, aimed on the probe's path."""
    cart = cartridge("taser10").model_copy(update={"dispersion_deg": 0.0})
    body = world.body("s")
    point = np.array([distance_m, 0.0, 0.0]) + quat_to_matrix(yaw_quat(math.pi)) @ np.array(
        body.aim_point(region)
    )
    aim = point + np.array([0.0, 0.0, -flight_table(cart).level(point[0])[0]])
    muzzle = Pose(tuple(MUZZLE), look_rotation(aim - MUZZLE))
    return fly_probes(world, cart, muzzle, np.random.default_rng(0))


def test_two_taser10_pulls_close_a_circuit_and_incapacitate() -> None:
    """facts.md §1: one probe per pull, the first carries no current, two make a circuit."""
    distance_m = 15 * FT_M
    with RangeWorld() as world:
        world.add_subject("s", SubjectBody(), (distance_m, 0.0, 0.0), math.pi)
        device = Circuit()
        first = device.add_pull(taser10_pull(world, Region.ABDOMEN, distance_m), "s")
        assert first.effect is Effect.NONE and first.cause is Cause.ONE_PROBE
        assert first.reason.startswith("one probe, no circuit")
        second_pull = taser10_pull(world, Region.LEG, distance_m)
        second = device.add_pull(second_pull, "s")
    assert second.effect is Effect.FULL, second.reason
    assert second.connected == (0, 1) and second.energised == (0, 1)
    assert second.spread_in is not None and second.spread_in >= 12.0
    # The circuit closes when the second probe lands, not at the trigger.
    assert second.onset_s == pytest.approx(second_pull[0].time_of_flight_s)
    # Judged alone (as every pull was before), the second pull does nothing.
    assert assess(second_pull, "s").cause is Cause.ONE_PROBE


def test_the_spread_study_judges_the_same_two_probes_as_the_circuit() -> None:
    """`analyze spread` for a TASER 10: two aim points, judged as one circuit. No dispersion,
    no aim error: every deployment is the circuit above, so 100 % effective at its spread."""
    cart = cartridge("taser10").model_copy(update={"dispersion_deg": 0.0})
    (row,) = spread_study(cart, [15.0], 10, np.random.default_rng(0))
    distance_m = 15 * FT_M
    with RangeWorld() as world:
        world.add_subject("s", SubjectBody(), (distance_m, 0.0, 0.0), math.pi)
        device = Circuit()
        device.add_pull(taser10_pull(world, Region.ABDOMEN, distance_m), "s")
        judged = device.add_pull(taser10_pull(world, Region.LEG, distance_m), "s")
    assert row.p_both_hit == 1.0 and row.p_effective == 1.0
    assert judged.spread_in is not None
    assert row.median_spread_in == pytest.approx(judged.spread_in, abs=0.01)


def impact(
    region: Region | None, z: float, gap: float = 0.25, target: str | None = "s"
) -> ProbeImpact:
    on = region is not None
    return ProbeImpact(0, target if on else None, region, (5.0, 0.0, z), 0.1, gap if on else None)


def test_every_no_effect_names_its_true_cause() -> None:
    # A gap of exactly 2 in connects (facts.md §1: *more* than 2 in does not).
    at_limit = assess([impact(Region.ABDOMEN, 1.1, gap=2.0), impact(Region.LEG, 0.6)], "s")
    assert at_limit.effect is Effect.FULL
    coat = assess([impact(Region.ABDOMEN, 1.1, gap=2.5), impact(Region.LEG, 0.6)], "s")
    assert coat.cause is Cause.CLOTHING and coat.reason.startswith("clothing")
    missed = assess([impact(Region.ABDOMEN, 1.1), impact(None, 0.0)], "s")
    assert missed.cause is Cause.MISSED and missed.reason.startswith("missed")
    close = assess([impact(Region.ABDOMEN, 1.1), impact(Region.ABDOMEN, 1.0)], "s")
    assert close.effect is Effect.REDUCED and close.cause is Cause.SPREAD
    assert close.reason.startswith("spread under 12 in")
    # A TASER 10's second pull that misses: the cause is the miss, not the first probe.
    device = Circuit()
    device.add_pull([impact(Region.ABDOMEN, 1.1)], "s")
    assert device.add_pull([impact(None, 0.0)], "s").cause is Cause.MISSED


def test_the_device_energises_the_best_four_of_its_connections() -> None:
    device = Circuit()
    heights = [1.10, 1.08, 0.60, 0.95, 0.40, 1.00]
    for z in heights:
        last = device.add_pull([impact(Region.LEG, z)], "s")
    assert len(last.connected) == 6 and len(last.energised) == 4
    # The widest pair (1.10 and 0.40 m) first, then the probes farthest from those chosen.
    assert last.energised[:2] == (0, 4) and last.spread_in == pytest.approx(0.70 / IN_M)
    assert set(last.energised) == {0, 4, 2, 3}


def test_a_detached_probe_opens_the_circuit_and_is_named() -> None:
    device = Circuit()
    device.add_pull([impact(Region.ABDOMEN, 1.1)], "s")
    assert device.add_pull([impact(Region.LEG, 0.6)], "s").effect is Effect.FULL
    device.detach(1, "the wire ran out")
    again = device.assess("s")
    assert again.effect is Effect.NONE and again.cause is Cause.DETACHED
    assert "the wire ran out" in again.reason


# facts.md §1: the X2's lasers coincide with the probes at 15 ft, the TASER 10's dot marks the
# next probe's impact. Distances at which each is checked, and how far apart the dot and the
# probe may be (inches) at each; the 25 ft cartridges at 24.5 ft and the TASER 10 at 44.5 ft:
# a wire as long as the lane cannot reach its far wall.
LASER_CASES = {
    "x2-25ft": {7.0: 0.7, 15.0: 0.1, 24.5: 2.0},  # past 15 ft the probes drop below the dots
    "taser10": {7.0: 1.2, 15.0: 1.2, 25.0: 1.2, 44.5: 1.2},
}


@pytest.mark.parametrize("cartridge_id", list(LASER_CASES))
def test_each_laser_marks_its_probe_across_the_range(cartridge_id: str) -> None:
    cart = cartridge(cartridge_id).model_copy(update={"dispersion_deg": 0.0})
    muzzle = Pose((0.0, 0.0, 2.0))
    for distance_ft, within_in in LASER_CASES[cartridge_id].items():
        with RangeWorld(lane_length_m=distance_ft * FT_M) as wall:
            dots = laser_dots(wall, cart, muzzle)
            impacts = fly_probes(wall, cart, muzzle, np.random.default_rng(0))
        for laser, (lit, dot) in zip(cart.lasers, dots, strict=True):
            probe = impacts[laser.probe]
            assert lit == "backstop" and dot is not None and probe.target == "backstop"
            apart_in = math.dist(dot, probe.point) / IN_M
            assert apart_in <= within_in, f"{distance_ft} ft: {apart_in:.2f} in"


def test_the_x2_lasers_sit_side_by_side_an_inch_apart() -> None:
    """X2 manual p.40: two lasers side by side about 1 in apart; at 15 ft on the probes."""
    cart = cartridge("x2-25ft")
    assert [laser.offset_in for laser in cart.lasers] == [(0.5, -0.5), (-0.5, -0.5)]
    muzzle = Pose((0.0, 0.0, 2.0))
    with RangeWorld(lane_length_m=1 * FT_M) as wall:  # a wall at 1 ft: the dots barely apart
        (_, a), (_, b) = laser_dots(wall, cart, muzzle)
    assert a is not None and b is not None
    assert abs(a[1] - b[1]) / IN_M == pytest.approx(1.0, abs=0.1)  # side by side
    assert abs(a[2] - b[2]) / IN_M < 2.0  # the bottom laser turns down only 8 deg over 1 ft


def test_the_taser7_lasers_are_green_on_top_and_red_below() -> None:
    cart = cartridge("taser7-cq").model_copy(update={"dispersion_deg": 0.0})
    assert [(laser.colour, laser.probe) for laser in cart.lasers] == [("green", 0), ("red", 1)]
    muzzle = Pose((0.0, 0.0, 2.0))
    with RangeWorld(lane_length_m=10 * FT_M) as wall:
        (_, green), (_, red) = laser_dots(wall, cart, muzzle)
        top, bottom = fly_probes(wall, cart, muzzle, np.random.default_rng(0))
    assert green is not None and red is not None and green[2] > red[2]
    # Each on its bore's line: above its probe by the probe's drop only (< 1 in at 10 ft).
    assert 0.0 < (green[2] - top.point[2]) / IN_M < 1.0
    assert 0.0 < (red[2] - bottom.point[2]) / IN_M < 1.0


def test_taser7_cartridges_disperse_more_than_the_x2() -> None:
    """UK Dstl: more dispersion for the TASER 7 than the X2 (facts.md §1)."""
    x2 = cartridge("x2-25ft").dispersion_deg
    assert cartridge("taser7-cq").dispersion_deg > x2
    assert cartridge("taser7-standoff").dispersion_deg > x2


def test_a_subject_facing_away_is_aimed_at_in_the_back() -> None:
    cart = cartridge("taser10").model_copy(update={"dispersion_deg": 0.0})
    (row,) = spread_study(cart, [10.0], 4, np.random.default_rng(0), facing="away")
    assert row.p_both_hit == 1.0 and row.p_preferred == 1.0 and row.p_effective == 1.0


def test_a_subject_running_at_the_officer_changes_where_the_probes_land() -> None:
    """--moving: the subject moves during each flight (RangeWorld.cast_moving). Running away
    at 8 m/s at 25 ft, the lower probe of a Close Quarter cartridge lands on a different part
    of the body than against a subject standing still."""
    cart = cartridge("x26p-25ft").model_copy(update={"dispersion_deg": 0.0})
    (still,) = spread_study(cart, [18.0], 2, np.random.default_rng(0))
    (running,) = spread_study(cart, [18.0], 2, np.random.default_rng(0), moving=(8.0, 0.0))
    assert still.median_spread_in is not None and running.median_spread_in is not None
    assert running.median_spread_in != pytest.approx(still.median_spread_in, abs=0.5)


# --- penetration, cover and concealment -------------------------------------------------------


def test_a_9mm_round_through_a_car_door_hits_the_driver() -> None:
    """A car door is concealment: a 9 mm duty round crosses it and strikes the driver."""
    with RangeWorld(lane_length_m=10.0) as world:
        world.add_object("door", (4.0, 0.0, 0.3), (0.1, 1.2, 0.9), "car_door", "concealment")
        world.add_subject("driver", SubjectBody(), (4.5, 0.0, 0.0), math.pi)
        strikes = fly_through(
            world, load("9mm-124"), Pose((0.0, 0.0, 1.0)), np.random.default_rng(0)
        )
    door, driver = strikes[0], strikes[1]
    assert door.target == "door" and door.role == "concealment" and not door.stopped
    assert driver.target == "driver" and driver.region is not None
    assert 0.0 < driver.velocity_mps < door.velocity_mps


def test_an_engine_block_is_cover() -> None:
    with RangeWorld(lane_length_m=10.0) as world:
        world.add_object("engine", (4.0, 0.0, 0.3), (0.6, 1.2, 0.9), "engine_block", "cover")
        world.add_subject("driver", SubjectBody(), (4.8, 0.0, 0.0), math.pi)
        for load_id in ("9mm-124", "40sw-180", "45acp-230", "223-55"):
            strikes = fly_through(
                world, load(load_id), Pose((0.0, 0.0, 1.0)), np.random.default_rng(0)
            )
            assert [s.target for s in strikes] == ["engine"] and strikes[0].stopped
    assert stops(load("9mm-124"), "engine_block", 12.0)
    assert not stops(load("9mm-124"), "car_door", 4.0)
    assert not stops(load("9mm-124"), "drywall", 4.5)


@pytest.mark.parametrize(("gel_in", "reaches"), [(28.0, True), (9.0, False)])
def test_a_round_through_a_torso_hits_a_bystander_when_its_exit_energy_allows(
    gel_in: float, reaches: bool
) -> None:
    """A ball round (28 in of gel) crosses a ~10 in torso and strikes a bystander 1 m behind;
    a load that stops in 9 in of gel stays in the subject."""
    bullet = load("9mm-124").model_copy(update={"gel_penetration_in": gel_in})
    with RangeWorld(lane_length_m=12.0) as world:
        world.add_subject("subject", SubjectBody(), (5.0, 0.0, 0.0), math.pi)
        world.add_subject("bystander", SubjectBody(), (6.0, 0.0, 0.0), math.pi)
        strikes = fly_through(world, bullet, Pose((0.0, 0.0, 1.2)), np.random.default_rng(0))
    assert strikes[0].target == "subject"
    assert 8.0 < strikes[0].thickness_in < 13.0  # the torso, front to back
    hit = [s.target for s in strikes]
    assert ("bystander" in hit) is reaches
    if reaches:
        bystander = strikes[hit.index("bystander")]
        expected = exit_speed_mps(bullet, strikes[0].velocity_mps, strikes[0].thickness_in)
        assert bystander.velocity_mps == pytest.approx(expected, rel=0.02)


def test_exit_speed_follows_the_constant_resistance_model() -> None:
    bullet = load("9mm-124")
    v = bullet.muzzle_velocity_mps
    assert exit_speed_mps(bullet, v, 0.0) == pytest.approx(v)
    # Half the gel capacity spent: sqrt(1/2) of the speed (half the energy) left.
    half = bullet.gel_penetration_in / 2
    assert exit_speed_mps(bullet, v, half) == pytest.approx(v / math.sqrt(2))
    assert exit_speed_mps(bullet, v, bullet.gel_penetration_in) == 0.0


# --- more loads ---------------------------------------------------------------------------------

# (load, sight height in, zero yd, check yd): pistols zeroed at 25 yd with sights 0.8 in over
# the bore; the patrol rifle at 50 yd with an optic 2.6 in over it (a common 50/200 zero).
LOAD_CASES = [
    ("40sw-180", 0.8, 25, (25, 50)),
    ("45acp-230", 0.8, 25, (25, 50)),
    ("223-55", 2.6, 50, (100, 200)),
]


@pytest.mark.parametrize(("load_id", "sight_in", "zero_yd", "check_yd"), LOAD_CASES)
def test_each_new_load_agrees_with_py_ballisticcalc(
    load_id: str, sight_in: float, zero_yd: int, check_yd: tuple[int, int]
) -> None:
    """Within 0.5 % in velocity and 0.1 in in path (line of sight) at the check distances."""
    from py_ballisticcalc import Ammo, Atmo, Calculator, DragModel, Shot, TableG1, Unit, Weapon

    bullet = load(load_id)
    atmo = Atmo.icao()
    air = Atmosphere(atmo.density_metric, atmo.mach >> Unit.MPS)
    ours = {
        round(r.distance_yd): r
        for r in trajectory(
            bullet, zero_yd * YD_M, check_yd[1] * YD_M, sight_height_in=sight_in, atmosphere=air
        )
    }
    drag = DragModel(
        bullet.g1_bc,
        TableG1,
        Unit.Grain(bullet.bullet_mass_gr),
        Unit.Inch(bullet.bullet_diameter_in),
        Unit.Inch(0.6 if bullet.bullet_diameter_in > 0.3 else 0.75),
    )
    shot = Shot(
        weapon=Weapon(sight_height=Unit.Inch(sight_in)),
        ammo=Ammo(drag, Unit.FPS(bullet.muzzle_velocity_fps)),
        atmo=atmo,
    )
    calc = Calculator()
    calc.set_weapon_zero(shot, Unit.Yard(zero_yd))
    result = calc.fire(shot, trajectory_range=Unit.Yard(check_yd[1]), trajectory_step=Unit.Yard(1))
    reference = {round(r.distance >> Unit.Yard): r for r in result.samples}
    for yards in check_yd:
        ref, row = reference[yards], ours[yards]
        assert row.velocity_fps == pytest.approx(ref.velocity >> Unit.FPS, rel=0.005)
        assert row.path_in == pytest.approx(ref.height >> Unit.Inch, abs=0.1)


# --- the patrol rifle replica ------------------------------------------------------------------


def test_the_patrol_rifle_replica_has_a_selector_thirty_rounds_and_a_bolt_hold_open() -> None:
    """Over a real pty: the selector on SAFE blocks the trigger; 30 rounds (29 + 1 chambered
    at the start), then the bolt locks back; a fresh magazine and the bolt catch send it home."""
    from peripherals.clock import ManualClock
    from peripherals.driver import ReplicaLink
    from peripherals.emulator import RifleEmulator, emulator_for
    from peripherals.messages import EventKind, Model

    clock = ManualClock()
    assert isinstance(emulator_for(Model.PATROL_RIFLE, "R-0", clock), RifleEmulator)
    with (
        RifleEmulator("R-1", clock) as emu,
        ReplicaLink(emu.port or "", clock) as link,
    ):
        assert link.info is not None and link.info.model is Model.PATROL_RIFLE
        assert link.info.magazine_capacity == 30 and Model.PATROL_RIFLE.is_firearm
        emu.press_trigger()
        emu.release_trigger()  # on SAFE: nothing fires
        emu.set_safety(False)
        for _ in range(31):
            emu.press_trigger()
            emu.release_trigger()
        emu.reload()
        emu.press_trigger()
        assert link.ping()
        kinds = [
            e.kind
            for e in link.poll()
            if e.kind not in (EventKind.TRIGGER_PRESSED, EventKind.TRIGGER_RELEASED)
        ]
    assert kinds[0] is EventKind.SAFETY_OFF
    assert kinds[1:31] == [EventKind.SHOT_FIRED] * 30
    assert kinds[31:] == [
        EventKind.SLIDE_LOCKED,  # the bolt held open on the last round
        EventKind.MAGAZINE_EMPTY,
        EventKind.MAGAZINE_REMOVED,
        EventKind.MAGAZINE_INSERTED,
        EventKind.SLIDE_RELEASED,
        EventKind.SHOT_FIRED,
    ]


# --- re-energising, wires and detachment -------------------------------------------------------


def test_a_subject_who_runs_past_the_wire_pulls_the_probes_out() -> None:
    """x26p-21ft at 15 ft: the probes hold while the subject stays within 21 ft of the device,
    and the wire breaks when it runs to 24 ft; a re-energise then does nothing, and says why."""
    cart = cartridge("x26p-21ft").model_copy(update={"dispersion_deg": 0.0})
    with RangeWorld() as world:
        world.add_subject("s", SubjectBody(), (15 * FT_M, 0.0, 0.0), math.pi)
        aim = np.array([15 * FT_M, 0.0, 1.05])
        muzzle = Pose(tuple(MUZZLE), look_rotation(aim - MUZZLE))
        impacts = fly_probes(world, cart, muzzle, np.random.default_rng(0))
        device = Circuit(across_pulls=False)
        assert device.add_pull(impacts, "s", cart.reach_m).effect is Effect.FULL
        assert device.reenergise("s").effect is Effect.FULL
        where = lambda rest: world.body_to_world("s", rest)  # noqa: E731
        assert device.check_wires("s", _tuple(MUZZLE), where) == []
        world.place_subject("s", (18 * FT_M, 0.0, 0.0), 0.0)  # turned and running away
        assert device.check_wires("s", _tuple(MUZZLE), where) == []
        world.place_subject("s", (24 * FT_M, 0.0, 0.0), 0.0)
        assert sorted(device.check_wires("s", _tuple(MUZZLE), where)) == [0, 1]
    again = device.reenergise("s")
    assert again.effect is Effect.NONE and again.cause is Cause.DETACHED
    assert "the wire ran out" in again.reason


def _tuple(v: np.ndarray) -> tuple[float, float, float]:  # type: ignore[type-arg]
    return (float(v[0]), float(v[1]), float(v[2]))


def test_a_fall_can_pull_probes_out() -> None:
    device = Circuit()
    device.add_pull([impact(Region.ABDOMEN, 1.1)], "s")
    device.add_pull([impact(Region.LEG, 0.6)], "s")
    assert device.subject_fell("s", np.random.default_rng(0), p_detach=0.0) == []
    assert device.reenergise("s").effect is Effect.FULL
    assert device.subject_fell("s", np.random.default_rng(0), p_detach=1.0) == [0, 1]
    assert device.reenergise("s").cause is Cause.DETACHED


def test_drive_stun_is_pain_alone_and_closes_a_circuit_with_a_probe() -> None:
    contact = impact(Region.UPPER_BACK, 1.35)
    alone = Circuit().drive_stun("taser-7", contact, "s")
    assert alone.effect is Effect.REDUCED and alone.cause is Cause.SPREAD
    device = Circuit(across_pulls=False)
    device.add_pull([impact(Region.LEG, 0.6), impact(None, 0.0)], "s")  # one probe missed
    assert device.reenergise("s").cause is Cause.MISSED  # the open circuit is the miss
    closed = device.drive_stun("taser-7", contact, "s")
    assert closed.effect is Effect.FULL and closed.spread_in == pytest.approx(0.75 / IN_M)
    assert Circuit().drive_stun("taser-10", contact, "s").effect is Effect.NONE


# --- the renderer draws the dots the officer sees ---------------------------------------------

IMG = __import__("pathlib").Path(__file__).resolve().parent.parent / "docs" / "img"
LAYOUTS = {"x2": ("x2-25ft", 15.0), "taser7": ("taser7-cq", 10.0), "taser10": ("taser10", 25.0)}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_renderer_draws_each_laser_layout_where_its_beams_land(layout: str) -> None:
    """The officer's view of a subject with the device aimed at its abdomen: every laser's dot
    is drawn in its colour where the beam meets the subject (docs/img/lasers-*.png, with the
    probes' impact points in yellow for comparison)."""
    from range.review.render import COLOURS, LASER_RGB, Renderer, Scene, draw_laser_dots

    cartridge_id, distance_ft = LAYOUTS[layout]
    cart = cartridge(cartridge_id).model_copy(update={"dispersion_deg": 0.0})
    x = distance_ft * FT_M
    body = SubjectBody()
    aim = np.array([x - 0.12, 0.0, 1.05])
    muzzle = Pose(tuple(MUZZLE), look_rotation(aim - MUZZLE))
    eye = (-0.45, 0.0, 1.62)
    with RangeWorld() as world:
        world.add_subject("s", body, (x, 0.0, 0.0), math.pi)
        dots = laser_dots(world, cart, muzzle)
        probes = fly_probes(world, cart, muzzle, np.random.default_rng(0))
    coloured = [(laser.colour, point) for laser, (_, point) in zip(cart.lasers, dots, strict=True)]
    scene = Scene()
    scene.lane(30.0, 8.0)
    scene.subject(body, (x, 0.0, 0.0), math.pi)
    for probe in probes:
        if probe.target == "s":
            scene.marker(probe.point, COLOURS["probe"], 0.008)
    draw_laser_dots(scene, coloured, eye, size_m=0.016)
    camera = Pose(eye, look_rotation(np.array([x, 0.0, 0.95]) - np.asarray(eye)))
    fov = 2 * math.degrees(math.atan(0.7 / x))  # a man-high view at any distance
    with Renderer(330, 440) as renderer:
        renderer.load(scene)
        image = renderer.render(camera, fov)
        for colour, point in coloured:
            assert point is not None, f"{layout}: a laser lights nothing"
            px = renderer.project(camera, point, fov)
            assert px is not None
            u, v = int(px[0]), int(px[1])
            patch = image[max(v - 3, 0) : v + 4, max(u - 3, 0) : u + 4].astype(int)
            want = np.array(LASER_RGB[colour]) * 255
            assert (np.abs(patch - want).max(axis=2) < 40).any(), f"{layout}: no {colour} dot"
    import matplotlib.pyplot as plt

    IMG.mkdir(exist_ok=True)
    plt.imsave(IMG / f"lasers-{layout}.png", image)


# --- in a drill --------------------------------------------------------------------------------


def test_a_taser10_in_a_drill_incapacitates_over_two_pulls_and_logs_each_cause() -> None:
    """knife-approach-v1 with the TASER 10 (`drill run --taser taser-10`), the officer aiming
    the first pull at the abdomen and the second at the leg, without aim error: the first pull
    logs "one probe, no circuit", the second closes the circuit and incapacitates."""
    from drills.officer import find_officer
    from drills.schema import find_drill
    from peripherals.messages import Model
    from range.runs.drill import RunConfig, run_drill

    script = find_officer("taser-first-v1")
    steps = list(script.steps)
    second_aim = next(i for i, s in enumerate(steps) if s.do == "aim" and i > 2)
    steps[second_aim] = steps[second_aim].model_copy(update={"region": Region.LEG})
    officer = script.model_copy(update={"steps": tuple(steps), "aim_error_mrad": 0.0})
    config = RunConfig(find_drill("knife-approach-v1"), officer, seed=0, taser_model=Model.TASER_10)
    result = run_drill(config)
    pulls = [r.data for r in result.records if r.kind == "probe_impacts"]
    assert len(pulls) == 2
    assert pulls[0]["effect"] == "no_effect"
    assert pulls[0]["reason"].startswith("one probe, no circuit")
    assert pulls[1]["effect"] == "full_incapacitation", pulls[1]["reason"]
    assert pulls[1]["connected"] == [0, 1] and pulls[1]["spread_in"] >= 12.0
    assert any(r.kind == "incapacitation_started" for r in result.records)


def test_drill_run_takes_the_taser_model_and_its_cartridges() -> None:
    from range.cli.drill import _taser_options

    assert _taser_options(None) == {}
    options = _taser_options("taser-7:taser7-cq,taser7-cq")
    assert options["taser_cartridges"] == ("taser7-cq", "taser7-cq")
    with pytest.raises(ValueError, match="not a TASER"):
        _taser_options("pistol")


def test_analyze_spread_takes_two_aim_points_a_facing_and_a_motion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from range.cli.main import main

    argv = ["analyze", "spread", "--cartridge", "taser10", "--distance", "10ft", "--trials", "20"]
    assert main([*argv, "--aim2", "leg", "--facing", "away", "--moving", "1.5,toward"]) == 0
    out = capsys.readouterr().out
    assert "aimed at lower_back then leg, facing away, moving 1.5 m/s at 180 deg" in out
    assert main([*argv, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["p_effective"] > 0.9  # two aim points: no longer 0 % at every distance
    with pytest.raises(SystemExit):
        main([*argv, "--moving", "fast"])
    assert "SPEED,DIRECTION" in capsys.readouterr().err


def test_a_laser_with_bad_zeroes_is_refused_with_its_line(tmp_path: pathlib.Path) -> None:
    from physics.datafiles import DataFileError, load_model
    from physics.taser import CartridgeFile

    bad = tmp_path / "c.toml"
    bad.write_text(
        'version = 1\n[[cartridge]]\nid = "t"\nmodel = "taser-10"\nname = "t"\n'
        "spread_deg = 0.0\nbore_separation_in = 0.0\nwire_length_ft = 45.0\n"
        "probes_per_pull = 1\nlasers = [{ zeroes_ft = [40.0, 12.0] }]\n"
    )
    with pytest.raises(DataFileError, match=r"c\.toml:10: cartridge\[0\]\.lasers.*nearer first"):
        load_model(bad, CartridgeFile)


def test_the_flight_after_a_crossing_matches_the_reference_integrator() -> None:
    """penetration._fly_one (plain floats, 2 ms steps) against physics.flight.integrate
    (arrays, 0.5 ms steps): within 1 mm and 0.05 m/s over 0.1 s of a 300 m/s exit."""
    from physics.ballistics import G1_STANDARD_AREA_PER_MASS, STANDARD_METRO, g1_drag
    from physics.flight import integrate
    from physics.penetration import AFTER_STEP_S, _fly_one

    bullet = load("9mm-124")
    origin, velocity = np.array([0.0, 0.0, 1.0]), np.array([300.0, 10.0, 5.0])
    scale = 0.5 * STANDARD_METRO.density_kgm3 * G1_STANDARD_AREA_PER_MASS / bullet.g1_bc
    points, speeds = _fly_one(origin, velocity, scale, STANDARD_METRO, 0.1)
    ref = integrate(origin[None], velocity[None], g1_drag(bullet.g1_bc), 0.0005, 0.1)
    every = round(AFTER_STEP_S / 0.0005)
    assert np.abs(points - ref.points[::every, 0]).max() < 1e-3
    ref_speed = np.linalg.norm(ref.velocities[::every, 0], axis=1)
    assert np.abs(speeds - ref_speed).max() < 0.05
