"""OpenRange benchmarks: each figure printed beside its target.

    .venv/bin/python bench/run.py [--json] [--runs N]

Figures are wall-clock on this machine; treat a single run as an order of magnitude.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
from console import console_figures  # bench/console.py: the instructor console (issue 18)

from drills.engine import DrillEngine
from drills.log import MemoryLog
from drills.officer import find_officer
from drills.schema import find_drill, parse_drill
from peripherals.driver import ReplicaLink
from peripherals.emulator import TaserEmulator
from peripherals.messages import Event, EventKind, Model, State, StateFlags
from peripherals.wire import FrameDecoder, encode_frame
from physics import _kernel
from physics.analysis import spread_study
from physics.ballistics import fly_bullet, g1_drag, load
from physics.body import Region, SubjectBody
from physics.bullet import p
from physics.flight import integrate
from physics.human import (
    HumanPose,
    Posed,
    Skeleton,
    forward_kinematics,
    matrices_to_quats,
    region_codes,
    rot_y,
    rot_z,
)
from physics.pose import Pose, look_rotation, look_rotations, matrix_to_quat
from physics.taser import (
    MAX_SUBJECT_SPEED_MPS,
    cartridge,
    flight_plan,
    fly_probes,
    laser_dots,
    laser_lit,
    launch_plan,
    probe_launch,
)
from physics.units import FT_M, IN_M
from physics.world import (
    _NOT_SUBJECTS,
    HULL_MARGIN_M,
    REGIONS,
    LaunchPlan,
    PathEnds,
    RangeWorld,
)
from range.clock import MonotonicClock
from range.runs.drill import RunConfig, run_drill
from scoring.policy import default_policy
from scoring.score import score_run

# A 90 Hz headset gives a frame 11.1 ms; the simulation tick should leave most of it to rendering.
FRAME_BUDGET_MS = 1000 / 90


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: float
    better: str  # "lower" or "higher"

    @property
    def ok(self) -> bool:
        return self.value <= self.target if self.better == "lower" else self.value >= self.target


def demo_ticks(runs: int) -> list[Figure]:
    times: list[float] = []
    for seed in range(runs):
        config = RunConfig(find_drill("knife-approach-v1"), find_officer("taser-first-v1"), seed)
        times.extend(run_drill(config).frame_times_s)
    ms = np.array(times) * 1e3
    return [
        Figure(
            "demo frame tick, median (pty barrier + physics + engine)",
            float(np.median(ms)),
            "ms",
            2.0,
            "lower",
        ),
        Figure(
            "demo frame tick, p99", float(np.percentile(ms, 99)), "ms", FRAME_BUDGET_MS / 2, "lower"
        ),
    ]


def _median_us(fn: Callable[[], object], repeat: int, batches: int = 5) -> float:
    """The median call time of the quietest of `batches` batches: a shared machine's neighbours
    inflate some batches, never deflate one."""
    medians = []
    for _ in range(batches):
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        medians.append(statistics.median(samples))
    return min(medians) * 1e6


def _median_cpu_us(fn: Callable[[], object], repeat: int, batches: int = 5) -> float:
    """`_median_us` in this process's CPU time (time.process_time: without the time other
    processes held the CPU; PyBullet and numpy run on this thread)."""
    medians = []
    for _ in range(batches):
        samples = []
        for _ in range(repeat):
            start = time.process_time()
            fn()
            samples.append(time.process_time() - start)
        medians.append(statistics.median(samples))
    return min(medians) * 1e6


def shot_costs() -> list[Figure]:
    rng = np.random.default_rng(0)
    with RangeWorld() as world:
        body = SubjectBody()
        for i, y in enumerate((-1.5, 0.0, 1.5)):
            world.add_subject(f"s{i}", body, (6.4, y, 0.0), np.pi)
        muzzle = np.array([0.0, 0.0, 1.4])
        target = np.array([6.4 - body.aim_point(Region.ABDOMEN)[0], 0.0, 1.1])
        pose = Pose(tuple(muzzle), look_rotation(target - muzzle))
        taser = _median_us(lambda: fly_probes(world, cartridge("taser7-cq"), pose, rng), 300)
        bullet = _median_us(lambda: fly_bullet(world, load("9mm-124"), pose, rng), 300)
    # Targets from the physics issue: 0.25 ms per deployment or shot against three subjects.
    return [
        Figure("TASER deployment (2 probes), 3 subjects, median", taser, "us", 250.0, "lower"),
        Figure("pistol shot, 3 subjects, median", bullet, "us", 250.0, "lower"),
    ]


def _paired_cpu_us(
    new: Callable[[], object], old: Callable[[], object], repeat: int, batches: int = 5
) -> tuple[float, float]:
    """`_median_cpu_us` of `new` and of `old` (the baseline), their batches taken alternately
    so that a neighbour's load falls on both alike."""
    medians: tuple[list[float], list[float]] = ([], [])
    for _ in range(batches):
        for fn, out in ((new, medians[0]), (old, medians[1])):
            out.append(_median_cpu_us(fn, repeat, 1))
    return min(medians[0]), min(medians[1])


def course_laser_check(calls: int = 300) -> list[Figure]:
    """What a course's TASER deployment asks at every trigger pull before it flies the probes:
    what the first laser lights (range/runs/course.py `_fly_cartridge`). Per deployment, warm
    (the world and the flight tables built; the same muzzle, on the subject at 15 ft), CPU
    time: `laser_lit` (the first beam only, cast as one ray) against, as its target, the call
    it replaced measured in the same run, `laser_dots(...)[0][0]` (every laser's beam worked
    out and each cast as a path)."""
    cart = cartridge("taser7-cq")
    body = SubjectBody()
    distance_m = 15 * FT_M
    with RangeWorld(lane_length_m=30.0) as world:
        world.add_subject("subject", body, (distance_m, 0.0, 0.0), np.pi)
        muzzle = np.array([0.0, 0.0, 1.4])
        target = np.array([distance_m - body.aim_point(Region.ABDOMEN)[0], 0.0, 1.1])
        pose = Pose(tuple(muzzle), look_rotation(target - muzzle))
        assert laser_lit(world, cart, pose) == laser_dots(world, cart, pose)[0][0] == "subject"
        new_us, old_us = _paired_cpu_us(
            lambda: laser_lit(world, cart, pose),
            lambda: laser_dots(world, cart, pose)[0][0],
            calls,
        )
    return [
        Figure(
            "course TASER deployment's laser check, per deployment, warm, median CPU: the first"
            " laser only, one ray (target: every laser cast as a path, this run)",
            new_us,
            "us",
            old_us,
            "lower",
        )
    ]


def _two_call_deployment(
    world: RangeWorld, pose: Pose, normals: np.ndarray, launch: LaunchPlan
) -> tuple[np.ndarray, np.ndarray]:
    """`RangeWorld.cast_deployment` as it was before it became one kernel call: the kernel
    called, PyBullet casting the chords it found, their answers made arrays, and the kernel
    called again to merge them (launching, flying and clipping the probes a second time).
    The baseline of `wall_deployment`; the same results."""
    scene, static = world._deploy_scene(), world._static_boxes()
    out_f = np.empty((launch.probes, 9))
    out_i = np.empty((launch.probes, 3), dtype=np.int64)
    cand_a, cand_b = world._cand_a, world._cand_b
    args = (
        pose.position_m,
        pose.orientation,
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
        static,
        world._floor,
    )
    tail = (world._cand_k, world._cand_n, cand_a, cand_b, out_f, out_i)
    count = _kernel.deploy(*args, None, *tail)
    if count:
        results = p.rayTestBatch(
            cand_a[:count],
            cand_b[:count],
            collisionFilterMask=_NOT_SUBJECTS,
            physicsClientId=world.client,
        )
        uid = np.array([r[0] for r in results], dtype=np.int64)
        frac = np.array([r[2] for r in results], dtype=np.float64)
        _kernel.deploy(*args, (uid, frac), *tail)
    return out_f, out_i


def wall_deployment(calls: int = 300) -> list[Figure]:
    """A TASER deployment whose probes PyBullet must cast for (a TASER 7 CQ pull at a crate
    of cover beside a subject: the kernel finds the chords that may meet it). Per deployment,
    warm, CPU time of `RangeWorld.cast_deployment` (fly_probes' kernel call; the impacts
    after it not timed): one kernel call that asks PyBullet from inside it, against, as its
    target, the two calls it replaced measured in the same run (`_two_call_deployment`)."""
    cart = cartridge("taser7-cq")
    launch = launch_plan(cart)
    normals = np.random.default_rng(5).normal(0.0, launch.sigma_rad, (launch.probes, 2))
    with RangeWorld(lane_length_m=10.0) as world:
        world.add_subject("s", SubjectBody(), (4.0, 0.0, 0.0), np.pi)
        world.add_cover("crate", (5.0, 1.8, 0.0), (0.6, 0.6, 1.0))
        muzzle = np.array([0.0, 0.0, 1.4])
        pose = Pose(tuple(muzzle), look_rotation(np.array([5.0, 1.8, 0.9]) - muzzle))
        one = world.cast_deployment(pose.position_m, pose.orientation, normals, launch)
        two = _two_call_deployment(world, pose, normals, launch)
        assert one[0].tobytes() == two[0].tobytes() and one[1].tobytes() == two[1].tobytes()
        assert world.targets[int(one[1][0, 0])] == "cover:crate"
        new_us, old_us = _paired_cpu_us(
            lambda: world.cast_deployment(pose.position_m, pose.orientation, normals, launch),
            lambda: _two_call_deployment(world, pose, normals, launch),
            calls,
        )
    return [
        Figure(
            "TASER deployment at cover (PyBullet's chords), per deployment, warm, median CPU of"
            " cast_deployment: one kernel call (target: the two calls before, this run)",
            new_us,
            "us",
            old_us,
            "lower",
        )
    ]


def decode_rate() -> Figure:
    event = encode_frame(Event.TYPE, 1, 123456789, Event(EventKind.SHOT_FIRED, value=3).pack())
    state = encode_frame(
        State.TYPE, 2, 123456789, State(StateFlags(5), 100, ((4, 2), (5, 2))).pack()
    )
    stream = (event + state) * 50_000
    rates = []
    for _ in range(3):
        decoder = FrameDecoder()
        start = time.perf_counter()
        for at in range(0, len(stream), 4096):  # as a USB CDC read hands them over
            decoder.feed(stream[at : at + 4096])
        rates.append(decoder.stats.frames / (time.perf_counter() - start))
    return Figure("decode, frames/s on one core (best of 3)", max(rates), "/s", 200_000, "higher")


def decoder_garbage_ratio() -> list[Figure]:
    """CPU per byte the frame decoder spends on noise against valid frames, both fed in 4096-byte
    reads in this run (issue 12, item 22: noise cost 5-6x as much). The best of 3 passes each."""
    event = encode_frame(Event.TYPE, 1, 123456789, Event(EventKind.SHOT_FIRED, value=3).pack())
    state = encode_frame(
        State.TYPE, 2, 123456789, State(StateFlags(5), 100, ((4, 2), (5, 2))).pack()
    )
    valid = (event + state) * 40_000
    rng = np.random.default_rng(12)
    noise = rng.bytes(len(valid))  # zeros about every 256 bytes: chunks a frame could end
    zero_free = noise.replace(b"\x00", b"\x01")  # one endless run with no delimiter

    def ns_per_byte(stream: bytes) -> float:
        best = float("inf")
        for _ in range(3):
            decoder = FrameDecoder()
            start = time.perf_counter()
            for at in range(0, len(stream), 4096):
                decoder.feed(stream[at : at + 4096])
            best = min(best, (time.perf_counter() - start) / len(stream) * 1e9)
        return best

    base = ns_per_byte(valid)
    random_ns, zero_free_ns = ns_per_byte(noise), ns_per_byte(zero_free)
    reads = "4096-byte reads"
    return [
        Figure(f"decoder, valid EVENT+STATE frames, {reads}: ns/byte, baseline (info)", base,
               "ns", 0.0, "lower"),
        Figure(f"decoder, random noise, {reads}: ns/byte (info)", random_ns, "ns", 0.0, "lower"),
        Figure(f"decoder, delimiter-less noise, {reads}: ns/byte (info)", zero_free_ns, "ns",
               0.0, "lower"),
        Figure("decoder CPU/byte, random noise / valid frames (same run)", random_ns / base,
               "x", 2.0, "lower"),
        Figure("decoder CPU/byte, delimiter-less noise / valid frames (same run)",
               zero_free_ns / base, "x", 2.0, "lower"),
    ]  # fmt: skip


def trigger_latency(samples: int = 1000) -> Figure:
    """Trigger press in the emulator to the event in the host's queue, over a real pty."""
    clock = MonotonicClock()
    latencies = []
    with TaserEmulator(Model.TASER_7, "BENCH-LAT", clock) as emulator:
        with ReplicaLink(emulator.port or "", clock) as link:
            for _ in range(samples):
                pressed = clock.now_s()
                emulator.event(EventKind.TRIGGER_PRESSED)
                event = link.wait_event(1.0)
                assert event is not None, "the trigger press never arrived"
                latencies.append(event.received_s - pressed)
                time.sleep(0.001)  # about 1 kHz, like a busy replica
    p99 = float(np.percentile(np.array(latencies) * 1e3, 99))
    return Figure("trigger press to host event over a pty, p99", p99, "ms", 2.0, "lower")


def clock_sync_error(trials: int = 3) -> Figure:
    """Device clock 100 ppm fast and 2.5 s off: the mapping's worst error over 50 readings after
    2 s of PINGs at 50 Hz; the median of `trials` trials."""
    worst = []
    for trial in range(trials):
        clock = MonotonicClock()
        emulator = TaserEmulator(
            Model.TASER_10, f"BENCH-SYNC-{trial}", clock, drift_ppm=100.0, clock_offset_s=2.5
        )
        with emulator, ReplicaLink(emulator.port or "", clock) as link:
            started = clock.now_s()
            while clock.now_s() - started < 2.0:
                link.ping()
                time.sleep(0.02)
            errors = []
            for _ in range(50):
                host = clock.now_s()  # one reading: the device's time at it is exact
                device_us = emulator.clock.at_us(host)
                errors.append(abs(link.sync.to_host(device_us) - host))
                time.sleep(0.002)
        worst.append(max(errors) * 1e3)
    return Figure(
        "clock-sync error after 2 s at 100 ppm drift (median of 3)",
        float(np.median(worst)),
        "ms",
        0.5,
        "lower",
    )


def monte_carlo_rate() -> Figure:
    cart = cartridge("taser7-cq")
    spread_study(cart, [15.0], 2000, np.random.default_rng(0))  # build the table first
    rates = []
    for seed in range(3):
        start = time.perf_counter()
        spread_study(
            cart,
            [5.0, 10.0, 15.0, 20.0, 25.0],
            10_000,
            np.random.default_rng(seed),
            aim_error_mrad=10.0,
        )
        rates.append(5 * 10_000 * 2 / (time.perf_counter() - start))
    return Figure(
        "Monte Carlo probe flights per second (best of 3)", max(rates), "/s", 100_000, "higher"
    )


def ccd_comparison(flights: int = 200) -> list[Figure]:
    """The same TASER 7 CQ deployments (`flights` trigger pulls, 2 probes each, at 15 ft with
    30 mrad of aim error) three ways: a fine-step reference (0.1 ms chords), ours (table and 8
    chords: a drill's deployment, `fly_probes`' one kernel call `RangeWorld.cast_deployment`),
    and PyBullet dynamic spheres with continuous collision detection at 240 Hz. Issue 16's
    figure is per deployment, as a drill fires one: ours is `fly_probes` called once per pull
    (launch, flight table, the subject's hulls, the floor, zone map, impacts: wall and thread
    CPU time), CCD steps a pull's two probes together until both have landed. Per flight in
    one batch of all the pulls (`RangeWorld.cast_paths`, PyBullet's rays) is kept beside it
    (info): a batch shares the fixed costs."""
    cart = cartridge("taser7-cq")
    rng = np.random.default_rng(7)
    distance_m = 15 * FT_M
    body = SubjectBody()
    muzzle = np.array([0.0, 0.0, 1.4])
    lx, ly, lz = body.aim_point(Region.ABDOMEN)
    base = look_rotations((np.array([distance_m - lx, -ly, lz]) - muzzle)[None, :])[0]
    error = np.tan(rng.normal(0.0, 0.03, size=(flights, 2)))
    rotations = look_rotations(base[:, 0] + error[:, :1] * base[:, 1] + error[:, 1:] * base[:, 2])
    # A deployment's muzzle is a Pose (a quaternion): the reference flies its matrix, so that
    # both launch the same probes, and the kernel is handed the normals probe_launch draws.
    poses = [Pose(tuple(muzzle), matrix_to_quat(rotations[n])) for n in range(flights)]
    rotations = np.array([pose.rotation() for pose in poses])
    drawn = np.random.Generator(np.random.PCG64())
    drawn.bit_generator.state = rng.bit_generator.state
    launch = launch_plan(cart)
    normals = drawn.normal(0.0, launch.sigma_rad, size=(2 * flights, 2))
    starts, directions = probe_launch(cart, np.tile(muzzle, (flights, 1)), rotations, rng)
    k = cart.drag_k()
    speed = cart.muzzle_velocity_mps
    duration = 1.3 * cart.reach_m / speed
    pulls = [np.array([n, flights + n]) for n in range(flights)]  # probe-major rows
    with RangeWorld(lane_length_m=10.0) as world:
        world.add_subject("s", body, (distance_m, 0.0, 0.0), np.pi)
        fine = integrate(starts, directions * speed, lambda v: np.full_like(v, k), 1e-4, duration)
        fine_speeds = np.linalg.norm(fine.velocities, axis=2)
        # The reference flights (0.1 ms chords) against the subject's drawn hulls, clipped
        # exactly (cast_moving's clipping, the subject still: what a drill's deployment hits),
        # and against PyBullet's hulls (inset 1 mm, plus Bullet's 1 mm margin, which rounds
        # their edges: what the CCD spheres collide with).
        reference = world.cast_moving(
            fine.points, fine.times_s, fine_speeds, lambda t, s: None, 0.0, cart.reach_m
        )
        bullet_reference = world.cast_paths(fine.points, fine.times_s, fine_speeds, cart.reach_m)
        plan = flight_plan(cart)
        start = time.perf_counter()
        points, speeds = plan.flights(starts, directions)
        batch = world.cast_paths(points, plan.times_s, speeds, cart.reach_m)
        batch_s = (time.perf_counter() - start) / len(starts)
        # Per deployment: the same launched probes a pull at a time through fly_probes' kernel
        # call (agreement), and a drill's call, fly_probes, timed once per pull from the same
        # muzzle orientations (wall and thread CPU time).
        ours = [(-1, -1)] * len(starts)
        for pose, rows in zip(poses, pulls, strict=True):
            _, hit = world.cast_deployment(pose.position_m, pose.orientation, normals[rows], launch)
            for i, row in enumerate(rows):
                ours[row] = (int(hit[i, 0]), int(hit[i, 1]))
        shot_rng = np.random.default_rng(8)
        samples, cpu = [], []
        for pose in poses:
            start_cpu = time.thread_time()
            start = time.perf_counter()
            fly_probes(world, cart, pose, shot_rng)
            samples.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
        ours_deploy_s = statistics.median(samples)
        frames = world.subject_frames("s")
        subject_uid = world.targets.index("s")
    # CCD in a world of its own: stepping the drill world's kinematic multibody (massless links
    # on joints) breaks every contact in it, the floor's too, so the subject's 17 hulls stand
    # there as static bodies at the same joint frames.
    with RangeWorld(lane_length_m=10.0) as ccd_world:
        segments = _static_segments(ccd_world, body, frames)
        ccd, ccd_deploy_s = _ccd_flights(
            ccd_world, segments, body, subject_uid, starts, directions * speed, duration, pulls
        )

    def agree(ends: PathEnds, got: list[tuple[int, int]]) -> float:
        truth = zip(ends.target.tolist(), ends.region.tolist(), strict=True)
        return float(np.mean([t == o for t, o in zip(truth, got, strict=True)]))

    batch_hits = list(zip(batch.target.tolist(), batch.region.tolist(), strict=True))
    agree_ours, agree_ours_bullet = agree(reference, ours), agree(bullet_reference, ours)
    agree_ccd, agree_ccd_drawn = agree(bullet_reference, ccd), agree(reference, ccd)
    agree_batch = agree(bullet_reference, batch_hits)
    return [
        Figure(
            "one TASER deployment (2 probes, static subject): CCD dynamic bodies at 240 Hz"
            " (median s per deployment) / ours (fly_probes, median per call), speed ratio",
            ccd_deploy_s / ours_deploy_s,
            "x",
            30.0,
            "higher",
        ),
        Figure(
            f"  ours per deployment, median fly_probes call ({flights} calls) (info)",
            ours_deploy_s * 1e3,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "  the same calls' thread CPU time, median (info)",
            statistics.median(cpu) * 1e3,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "  CCD dynamic bodies at 240 Hz per deployment, median (info)",
            ccd_deploy_s * 1e3,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "probe flight: ours (fly_probes' kernel call), a deployment at a time, agreement"
            " with 0.1 ms reference on the drawn hulls (target: CCD's on PyBullet's hulls)",
            100 * agree_ours,
            "%",
            100 * agree_ccd,
            "higher",
        ),
        Figure(
            "  ours against the 0.1 ms reference on PyBullet's hulls (info)",
            100 * agree_ours_bullet,
            "%",
            0.0,
            "higher",
        ),
        Figure(
            "probe flight: CCD bodies at 240 Hz, agreement with 0.1 ms reference on PyBullet's"
            " hulls, which it collides with (info)",
            100 * agree_ccd,
            "%",
            0.0,
            "higher",
        ),
        Figure(
            "  CCD against the 0.1 ms reference on the drawn hulls (info)",
            100 * agree_ccd_drawn,
            "%",
            0.0,
            "higher",
        ),
        Figure(
            f"probe flight: ours in one batch of {len(starts)} probes, per flight (info)",
            batch_s * 1e6,
            "us",
            0.0,
            "lower",
        ),
        Figure(
            "  the batch's agreement with the 0.1 ms reference on PyBullet's hulls (info)",
            100 * agree_batch,
            "%",
            0.0,
            "higher",
        ),
    ]


def _static_segments(world: RangeWorld, body: SubjectBody, frames: Posed) -> dict[int, int]:
    """The subject's segment hulls (inset by the hull margin, as RangeWorld builds them) as one
    static body each at the joint frames `frames`: body id -> segment index."""
    c = world.client
    skeleton = body.skeleton()
    quats = matrices_to_quats(frames.rotation)
    out = {}
    for i, seg in enumerate(skeleton.segments):
        used = np.unique(seg.faces)
        inset = seg.vertices - seg.vertex_normals * HULL_MARGIN_M
        local = inset[used] - skeleton.rest[i]
        shape = p.createCollisionShape(p.GEOM_MESH, vertices=local.tolist(), physicsClientId=c)
        uid = p.createMultiBody(
            0,
            shape,
            basePosition=frames.position[i].tolist(),
            baseOrientation=quats[i].tolist(),
            physicsClientId=c,
        )
        out[int(uid)] = i
    return out


def _ccd_probe(c: int, sphere: int, start: np.ndarray, velocity: np.ndarray) -> int:
    """One probe as a 3 mm, 3 g dynamic sphere with continuous collision detection (swept
    sphere of its own radius, no damping) at `start`, flying at `velocity`: its body id."""
    uid = int(
        p.createMultiBody(
            0.003,
            sphere,
            basePosition=start.tolist(),
            useMaximalCoordinates=True,
            physicsClientId=c,
        )
    )
    p.changeDynamics(
        uid,
        -1,
        ccdSweptSphereRadius=0.003,
        linearDamping=0.0,
        angularDamping=0.0,
        physicsClientId=c,
    )
    p.resetBaseVelocity(uid, velocity.tolist(), physicsClientId=c)
    return uid


def _new_contacts(
    c: int, flying: Mapping[int, int], hits: Mapping[int, object]
) -> list[tuple[int, int, tuple[float, float, float]]]:
    """After a step: each flying probe not yet in `hits` that now touches something, as
    (probe body, the body it touches, the contact point on that body)."""
    out = []
    for uid in flying:
        if uid in hits:
            continue
        contacts = p.getContactPoints(bodyA=uid, physicsClientId=c)
        if contacts:
            out.append((uid, int(contacts[0][2]), tuple(contacts[0][6])))
    return out


def _rest_region(
    skeleton: Skeleton,
    j: int,
    rotation: np.ndarray,
    position: np.ndarray,
    at: tuple[float, float, float],
) -> int:
    """The region code of world point `at` on segment `j` posed at (`rotation`, `position`),
    found from where it lies on the rest body."""
    rest = skeleton.rest[j] + rotation.T @ (np.array(at) - position)
    return int(region_codes(skeleton, np.array([j]), rest[None])[0])


def _ccd_flights(
    world: RangeWorld,
    segments: dict[int, int],
    body: SubjectBody,
    subject_uid: int,
    starts: np.ndarray,
    velocities: np.ndarray,
    duration_s: float,
    groups: list[np.ndarray],
) -> tuple[list[tuple[int, int]], float]:
    """Each flight as a 3 mm sphere with CCD (maximal coordinates, no CCD penetration allowed:
    stack-notes.md), the flights of a group (a deployment's probes) in the world together,
    stepped at 240 Hz until each has its first contact. Drag is left out: it moves a probe by
    millimetres over these distances. Returns (body, region) per flight and the median
    seconds per group."""
    c = world.client
    p.setGravity(0, 0, -9.80665, physicsClientId=c)
    p.setTimeStep(1 / 240, physicsClientId=c)
    p.setPhysicsEngineParameter(allowedCcdPenetration=0.0, physicsClientId=c)
    sphere = p.createCollisionShape(p.GEOM_SPHERE, radius=0.003, physicsClientId=c)
    skeleton = body.skeleton()
    frames = {}
    for uid in segments:
        pos, quat = p.getBasePositionAndOrientation(uid, physicsClientId=c)
        frames[uid] = (np.array(pos), np.array(p.getMatrixFromQuaternion(quat)).reshape(3, 3))
    out: list[tuple[int, int]] = [(-1, -1)] * len(starts)
    samples = []
    for rows in groups:
        start = time.perf_counter()
        flying = {}
        for row in rows.tolist():
            uid = _ccd_probe(c, sphere, starts[row], velocities[row])
            flying[uid] = row
        hits: dict[int, tuple[int, tuple[float, float, float]]] = {}
        for _ in range(int(duration_s * 240) + 1):
            if len(hits) == len(flying):
                break
            p.stepSimulation(physicsClientId=c)
            for uid, other, at in _new_contacts(c, flying, hits):
                hits[uid] = (other, at)
        for uid in flying:
            p.removeBody(uid, physicsClientId=c)
        samples.append(time.perf_counter() - start)
        for uid, (other, at) in hits.items():
            out[flying[uid]] = (other, -1)
            if other in segments:  # on the subject: its region, from the rest frame
                j = segments[other]
                code = _rest_region(skeleton, j, frames[other][1], frames[other][0], at)
                out[flying[uid]] = (subject_uid, code)
    return out, statistics.median(samples)


def ccd_moving_comparison(deployments: int = 60) -> list[Figure]:
    """One TASER 7 CQ deployment (2 probes) at 15 ft against the 3 subjects of
    `moving_deployment` moving during the flight (a runner crossing, two walkers, animated by
    clip_pose), aimed at each in turn with 30 mrad of aim error, at a different drill time
    each (so a different phase of each gait), three ways:

    - ours: `fly_probes` with the subjects' motion, once per deployment (RangeWorld.cast_moving:
      launch, flight table, frozen-world cast, the subjects posed where a sub-chord can reach
      them and clipped there), wall and thread CPU time, the motion callback's posing included;
    - CCD: PyBullet dynamic spheres with continuous collision detection at 240 Hz, the two
      probes of a deployment together, against each subject's 17 segment hulls as static
      bodies (`_static_segments`) moved to the animator's pose at every step: at each step's
      middle time each subject posed (clip_pose, forward kinematics) and its 17 bodies moved
      (resetBasePositionAndOrientation), then stepSimulation and the contact queries, until
      both probes have landed; the posing included in its time as in ours, the PyBullet part
      alone beside it (info);
    - the reference: the same launched probes integrated at 0.1 ms, cast against the moving
      drawn hulls (cast_moving: the subjects posed at each 0.1 ms chord's middle time that
      conservative advancement cannot skip, clipped exactly).

    Agreement is the share of probes that end on the same body and region as the reference."""
    from physics.animation import Clip, clip_pose
    from physics.taser import prepare

    body = SubjectBody()
    skeleton = body.skeleton()
    cart = cartridge("taser7-cq")
    x_m = 15 * FT_M
    speed = cart.muzzle_velocity_mps
    duration = 1.3 * cart.reach_m / speed
    k = cart.drag_k()
    specs = [
        ("runner", Clip.RUN, 3.5, 0.0),
        ("w1", Clip.WALK, 1.4, -1.5),
        ("w2", Clip.WALK, -1.2, 1.5),
    ]
    names = frozenset(name for name, *_ in specs)
    rng = np.random.default_rng(16)
    muzzle_m = np.array([0.0, 0.0, 1.3])
    lane = 30.0

    def motion_from(world: RangeWorld, base_s: float) -> Callable[[float, frozenset[str]], None]:
        def motion(t: float, subjects: frozenset[str]) -> None:
            for name, clip, v, y in specs:
                if name in subjects:
                    pose = clip_pose(skeleton, clip, base_s + t, 3)
                    world.pose_subject(name, pose, (x_m, y + v * t, 0.0), math.pi / 2)

        return motion

    ours_cpu, ours_wall = [], []
    jobs: list[tuple[float, Pose, int]] = []
    ours: list[tuple[int, int]] = []
    truth: list[tuple[int, int]] = []
    ccd_wall, ccd_bullet = [], []
    ccd: list[tuple[int, int]] = []
    with RangeWorld(lane_length_m=lane) as world, RangeWorld(lane_length_m=lane) as ccd_world:
        for name, _, _, y in specs:
            world.add_subject(name, body, (x_m, y, 0.0), math.pi / 2)
        prepare([cart.id], world)
        uids = {name: world.targets.index(name) for name, *_ in specs}
        # CCD's world: the same lane (the floor and backstop the same body ids), each subject's
        # 17 hulls as static bodies; PyBullet's dynamics as _ccd_flights sets them.
        motion_from(world, 2.0)(0.0, names)
        segments: dict[int, tuple[str, int]] = {}
        for name, *_ in specs:
            built = _static_segments(ccd_world, body, world.subject_frames(name))
            segments |= {uid: (name, j) for uid, j in built.items()}
        by_subject = {name: [u for u, (n, _) in segments.items() if n == name] for name in names}
        c = ccd_world.client
        p.setGravity(0, 0, -9.80665, physicsClientId=c)
        p.setTimeStep(1 / 240, physicsClientId=c)
        p.setPhysicsEngineParameter(allowedCcdPenetration=0.0, physicsClientId=c)
        sphere = p.createCollisionShape(p.GEOM_SPHERE, radius=0.003, physicsClientId=c)
        for n in range(deployments):
            base_s = 2.0 + 0.137 * n
            motion = motion_from(world, base_s)
            motion(0.0, names)  # the drill's frame at the trigger
            name = specs[n % 3][0]
            aim = world.subject_box(name).mean(axis=0) + np.tan(rng.normal(0.0, 0.03, 3)) * x_m
            muzzle = Pose(tuple(muzzle_m.tolist()), look_rotation(aim - muzzle_m))
            seed = int(rng.integers(1 << 30))
            starts, directions = probe_launch(
                cart, muzzle_m[None], muzzle.rotation()[None], np.random.default_rng(seed)
            )
            jobs.append((base_s, muzzle, seed))
            # fly_probes draws the same launch from the same seed.
            impacts = fly_probes(world, cart, muzzle, np.random.default_rng(seed), motion)
            regions = {r: i for i, r in enumerate(REGIONS)}
            for impact in impacts:
                uid = -1 if impact.target is None else world.targets.index(impact.target)
                ours.append((uid, -1 if impact.region is None else regions[impact.region]))
            fine = integrate(
                starts, directions * speed, lambda v: np.full_like(v, k), 1e-4, duration
            )
            fine_speeds = np.linalg.norm(fine.velocities, axis=2)
            reference = world.cast_moving(
                fine.points, fine.times_s, fine_speeds, motion, MAX_SUBJECT_SPEED_MPS, cart.reach_m
            )
            truth += list(zip(reference.target.tolist(), reference.region.tolist(), strict=True))
            # CCD: the deployment's two probes stepped together, the hulls posed every step.
            start = time.perf_counter()
            bullet_s = 0.0
            flying = {}
            for row in range(len(starts)):
                uid = _ccd_probe(c, sphere, starts[row], directions[row] * speed)
                flying[uid] = row
            hits: dict[int, tuple[int, int]] = {}
            frames = {}
            for step in range(int(duration * 240) + 1):
                if len(hits) == len(flying):
                    break
                motion((step + 0.5) / 240, names)
                for name in names:
                    frames[name] = world.subject_frames(name)
                at_bullet = time.perf_counter()
                for name in names:
                    quats = matrices_to_quats(frames[name].rotation)
                    position = frames[name].position
                    for uid in by_subject[name]:
                        j = segments[uid][1]
                        p.resetBasePositionAndOrientation(
                            uid, position[j].tolist(), quats[j].tolist(), physicsClientId=c
                        )
                p.stepSimulation(physicsClientId=c)
                for uid, other, at in _new_contacts(c, flying, hits):
                    hits[uid] = (other, -1)
                    if other in segments:
                        name, j = segments[other]
                        f = frames[name]
                        code = _rest_region(skeleton, j, f.rotation[j], f.position[j], at)
                        hits[uid] = (uids[name], code)
                bullet_s += time.perf_counter() - at_bullet
            for uid in flying:
                p.removeBody(uid, physicsClientId=c)
            ccd_wall.append(time.perf_counter() - start)
            ccd_bullet.append(bullet_s)
            ccd += [hits.get(uid, (-1, -1)) for uid in flying]
            motion(0.0, names)
        # Ours timed in a loop of its own over the same deployments (as ccd_comparison times
        # the still ones): each posed at its trigger as a drill's frame does (not timed),
        # then one fly_probes call with its motion, wall and thread CPU time.
        for base_s, muzzle, seed in jobs:
            motion = motion_from(world, base_s)
            motion(0.0, names)
            shot_rng = np.random.default_rng(seed)
            start_cpu, start = time.thread_time(), time.perf_counter()
            fly_probes(world, cart, muzzle, shot_rng, motion)
            ours_wall.append(time.perf_counter() - start)
            ours_cpu.append(time.thread_time() - start_cpu)
    ours_s, ccd_s = statistics.median(ours_wall), statistics.median(ccd_wall)

    def agree(got: list[tuple[int, int]]) -> float:
        return float(np.mean([t == o for t, o in zip(truth, got, strict=True)]))

    return [
        Figure(
            "one TASER deployment (2 probes), 3 moving subjects: CCD dynamic bodies at 240 Hz"
            " with the subjects' 51 segment bodies posed every step (median s per deployment)"
            " / ours (fly_probes with the motion, median per call), speed ratio",
            ccd_s / ours_s,
            "x",
            30.0,
            "higher",
        ),
        Figure(
            f"  ours per deployment, median fly_probes call with motion ({deployments} calls,"
            " a loop of their own; the motion callback's posing included) (info)",
            ours_s * 1e3,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "  the same calls' thread CPU time, median (info)",
            statistics.median(ours_cpu) * 1e3,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "  CCD per deployment, median: posing (clip_pose, forward kinematics) + moving the"
            " 51 bodies + stepping + contacts (info)",
            ccd_s * 1e3,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "  of which PyBullet (resetBasePositionAndOrientation, stepSimulation, contacts) with"
            " the poses' quaternions and the hit regions, median (info)",
            statistics.median(ccd_bullet) * 1e3,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "probe flight, moving subjects: ours, agreement with the 0.1 ms reference against"
            " the moving drawn hulls (target: CCD's)",
            100 * agree(ours),
            "%",
            100 * agree(ccd),
            "higher",
        ),
        Figure(
            "  CCD's agreement with the same reference (info)",
            100 * agree(ccd),
            "%",
            0.0,
            "higher",
        ),
    ]


def ballistics_vs_reference() -> list[Figure]:
    """Per 50 yd trajectory: ours in a batch of 1,000, py-ballisticcalc compiled RK4 one by one."""
    import logging
    import warnings

    bullet = load("9mm-124")
    n = 1000
    elevations = np.radians(np.linspace(-2.0, 2.0, n))
    launch = bullet.muzzle_velocity_mps * np.column_stack(
        (np.cos(elevations), np.zeros(n), np.sin(elevations))
    )
    drag = g1_drag(bullet.g1_bc)
    t50 = 0.14  # s: a 9 mm round's time to 50 yd
    start = time.perf_counter()
    integrate(np.zeros_like(launch), launch, drag, 0.0005, t50)
    ours_ms = (time.perf_counter() - start) / n * 1e3
    try:
        from py_ballisticcalc import Ammo, Atmo, Calculator, DragModel, Shot, TableG1, Unit, Weapon
    except ImportError:
        return [Figure("py-ballisticcalc not installed: pip install '.[test]'", 0, "", 0, "lower")]
    logging.getLogger("py_balcalc").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc = Calculator(engine="py_ballisticcalc_exts:CythonizedRK4IntegrationEngine")
        drag_model = DragModel(
            bullet.g1_bc,
            TableG1,
            Unit.Grain(bullet.bullet_mass_gr),
            Unit.Inch(bullet.bullet_diameter_in),
            Unit.Inch(0.6),
        )
        shot = Shot(
            weapon=Weapon(sight_height=Unit.Inch(0)),
            ammo=Ammo(drag_model, Unit.FPS(bullet.muzzle_velocity_fps)),
            atmo=Atmo.icao(),
        )
        calc.fire(shot, trajectory_range=Unit.Yard(50), trajectory_step=Unit.Yard(50))
        start = time.perf_counter()
        for _ in range(200):
            calc.fire(shot, trajectory_range=Unit.Yard(50), trajectory_step=Unit.Yard(50))
        theirs_ms = (time.perf_counter() - start) / 200 * 1e3
    return [
        Figure("50 yd trajectory, ours in a batch of 1,000", ours_ms, "ms", theirs_ms, "lower"),
        Figure(
            "50 yd trajectory, py-ballisticcalc compiled RK4 (info)", theirs_ms, "ms", 0.0, "lower"
        ),
    ]


THREE_SUBJECTS = """
id = "bench-three-subjects-v1"
version = 1
title = "bench"
rationale = "three subjects moving and changing phase"
expected_response = "none"
time_limit_s = 20.0
[[subjects]]
id = "a"
start_distance_ft = 40.0
start_phase = "a_walk"
[[subjects]]
id = "b"
start_distance_ft = 30.0
lateral_ft = 6.0
held_object = "knife"
start_phase = "b_walk"
[[subjects]]
id = "c"
start_distance_ft = 35.0
lateral_ft = -6.0
start_phase = "c_flee"
[[phases]]
id = "a_walk"
subject = "a"
behaviour = "assaultive"
movement = "advance"
speed_mps = 1.0
[[phases.transitions]]
to = "a_charge"
within_ft = 12.0
[[phases]]
id = "a_charge"
subject = "a"
behaviour = "deadly_threat"
movement = "advance"
speed_mps = 2.0
[[phases]]
id = "b_walk"
subject = "b"
behaviour = "active_resistance"
movement = "advance"
speed_mps = 0.8
[[phases.transitions]]
to = "b_stop"
after_s = 8.0
[[phases]]
id = "b_stop"
subject = "b"
behaviour = "surrendered"
[[phases]]
id = "c_flee"
subject = "c"
behaviour = "fleeing"
movement = "flee"
speed_mps = 2.0
# A drill must be able to end (drills/schema.py); the bench never presses it, so the drill runs
# its whole time limit, as the figure needs.
[[phases.transitions]]
to = "c_gone"
instructor = "end"
[[phases]]
id = "c_gone"
subject = "c"
behaviour = "compliant"
ends_drill = true
"""


def engine_tick() -> list[Figure]:
    """The drill engine with three subjects at 90 Hz, and the scorer's cost spread over the
    run's ticks (it judges the whole log at the end, so a tick's share is total / ticks)."""
    drill = parse_drill(THREE_SUBJECTS, "bench")
    best_step, best_score = float("inf"), float("inf")
    for seed in range(5):
        log = MemoryLog()
        engine = DrillEngine(drill, np.random.default_rng(seed), log, dt_s=1 / 90)
        engine.start(seed=seed, weapons=["taser", "firearm"])
        steps = []
        while not engine.finished:
            start = time.perf_counter()
            engine.step()
            steps.append(time.perf_counter() - start)
        start = time.perf_counter()
        score_run(log.records, default_policy())
        best_score = min(best_score, (time.perf_counter() - start) / len(steps))
        best_step = min(best_step, statistics.median(steps))
    return [
        Figure(
            "engine + scoring per tick, 3 subjects at 90 Hz, median",
            (best_step + best_score) * 1e3,
            "ms",
            0.2,
            "lower",
        ),
    ]


def records_figures(attempts: int = 10_000) -> list[Figure]:
    """SQLite in WAL mode, as a range PC runs it: one chained qualification write, and a CSV
    export of `attempts` of them."""
    import tempfile

    from range.records.exports import export_csv
    from range.records.store import Records

    score = {
        "points": 96,
        "max_points": 100,
        "hits": 48,
        "passed": True,
        "stages": [{"name": "7 yd", "points": 36, "hits": 18}],
    }
    writes = []
    with tempfile.TemporaryDirectory() as tmp, Records.open(f"sqlite:///{tmp}/r.sqlite") as db:
        db.add_officer("4411", "J. Rivera", "Metro PD")
        for _ in range(attempts):
            attempt = db.begin_attempt("4411", "fbi-pistol-2019-v1", 1, "0.1.0", [], [])
            start = time.perf_counter()
            db.finish_attempt(attempt, score)
            writes.append(time.perf_counter() - start)
        start = time.perf_counter()
        export_csv(db, None, None)
        export_s = time.perf_counter() - start
    return [
        Figure(
            "records: one qualification write (SQLite WAL), median",
            statistics.median(writes) * 1e3,
            "ms",
            5.0,
            "lower",
        ),
        Figure(f"records: CSV export of {attempts:,} attempts", export_s, "s", 2.0, "lower"),
    ]


def _fill_records(db: object, officers: int, attempts: int) -> None:
    """`attempts` chained qualification records over `officers` officers and four courses,
    written in one transaction (the chain computed as finish_attempt does, so verify holds)."""
    from range.records.store import GENESIS, record_hash

    courses = (
        "fbi-pistol-2019-v1",
        "taser7-practical-v1",
        "texas-ltc-b27-v1",
        "kansas-style-70-v1",
    )
    raw = db._db  # type: ignore[attr-defined]
    raw.execute("BEGIN IMMEDIATE")
    raw.executemany(
        "INSERT INTO officers (badge, name, agency, unit) VALUES (?, ?, 'Metro PD', '')",
        [(f"{b:05d}", f"Officer {b}") for b in range(officers)],
    )
    previous, rows = GENESIS, []
    for n in range(1, attempts + 1):
        row = {
            "id": n,
            "badge": f"{n % officers:05d}",
            "course": courses[n % len(courses)],
            "started": f"2026-{1 + n % 11:02d}-{1 + n % 28:02d}T10:00:00+00:00",
            "finished": f"2026-{1 + n % 11:02d}-{1 + n % 28:02d}T10:20:00+00:00",
            "seed": n,
            "software_version": "0.1.0",
            "devices": "[]",
            "calibration": "[]",
            "points": 80 + n % 20,
            "max_points": 100,
            "hits": 48,
            "passed": int(n % 3 != 0),
            "detail": '{"score": {}, "shots": []}',
            "prev_hash": previous,
        }
        row["hash"] = previous = record_hash(row)
        rows.append(tuple(row.values()))
    raw.executemany(
        "INSERT INTO qualifications (id, badge, course, started, finished, seed,"
        " software_version, devices, calibration, points, max_points, hits, passed, detail,"
        " prev_hash, hash) VALUES (" + ", ".join("?" * 16) + ")",
        rows,
    )
    raw.execute(
        "UPDATE chain_head SET last_id = ?, last_hash = ? WHERE id = 1", (attempts, previous)
    )
    raw.execute("COMMIT")


def records_scale(attempts: int = 100_000, officers: int = 2_000) -> list[Figure]:
    """Issue 12 item 16, SQLite as a range PC runs it (WAL, synchronous=FULL): the roster and one
    officer's history with `attempts` records, and recording shots as an attempt grows. Each
    figure is beside the same run's baseline: a plain one-row committed INSERT."""
    import tempfile
    from datetime import date

    from range.records.exports import roster
    from range.records.store import Records

    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/r.sqlite"
        with Records.open(url) as db:
            _fill_records(db, officers, attempts)
        start = time.perf_counter()
        with Records.open(url, create=False) as db:  # cold: a fresh process's first roster
            lines = roster(db, date(2026, 12, 1), 365)
        cold_s = time.perf_counter() - start
        assert len(lines) >= officers
        with Records.open(url, create=False) as db:
            scan_s = min(
                _timed(lambda: db._db.execute("SELECT * FROM qualifications").fetchall())
                for _ in range(3)
            )
            warm_s = min(_timed(lambda: roster(db, date(2026, 12, 1), 365)) for _ in range(3))
            badges = [f"{b:05d}" for b in range(0, officers, officers // 50)]
            history_ms = statistics.median(
                _timed(lambda b=b: (db.qualifications(b), db.drill_runs(b))) * 1e3  # type: ignore[misc]
                for b in badges
            )
        with Records.open(url) as db:
            db.add_officer("shots", "S. Shooter", "Metro PD")
            raw = db._db
            raw.execute("CREATE TABLE plain (n INTEGER)")
            plain_ms = statistics.median(
                _timed(lambda: _plain_insert(raw)) * 1e3 for _ in range(50)
            )
            raw.execute("PRAGMA synchronous=NORMAL")  # as a shot in progress is written
            plain_unsynced_ms = statistics.median(
                _timed(lambda: _plain_insert(raw)) * 1e3 for _ in range(200)
            )
            raw.execute("PRAGMA synchronous=FULL")
            per_shot: list[list[float]] = [[] for _ in range(50)]
            whole_ms, finish_ms = [], []
            shot = {
                "kind": "shot",
                "stage": 0,
                "string": 0,
                "t_s": 1.23,
                "zone": "bottle",
                "points": 5,
                "point": [0.1, 0.2, 1.3],
                "distance_m": 6.4,
            }
            for _ in range(10):
                start = time.perf_counter()
                attempt = db.begin_attempt("shots", "fbi-pistol-2019-v1", 1, "0.1.0", [], [])
                for k in range(50):
                    per_shot[k].append(_timed(lambda a=attempt: db.record_shot(a, shot)) * 1e3)  # type: ignore[misc]
                t = time.perf_counter()
                db.finish_attempt(
                    attempt, {"points": 96, "max_points": 100, "hits": 48, "passed": True}
                )
                finish_ms.append((time.perf_counter() - t) * 1e3)
                whole_ms.append((time.perf_counter() - start) * 1e3)
    first, fiftieth = statistics.median(per_shot[0]), statistics.median(per_shot[49])
    figures += [
        Figure(
            f"records: roster, {attempts:,} attempts, {officers:,} officers, cold"
            " (open + first query)",
            cold_s,
            "s",
            1.0,
            "lower",
        ),
        Figure(
            f"records: baseline, reading all {attempts:,} records once, warm (info)",
            scan_s,
            "s",
            0.0,
            "lower",
        ),
        Figure(
            f"records: roster, {attempts:,} attempts, warm (best of 3)", warm_s, "s", 1.0, "lower"
        ),
        Figure(
            f"records: one officer's history (qualifications + drill runs), {attempts:,}"
            " attempts, warm, median",
            history_ms,
            "ms",
            5.0,
            "lower",
        ),
        Figure(
            "records: baseline, one plain committed INSERT (fsynced, synchronous=FULL),"
            " median (info)",
            plain_ms,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "records: 1st shot of an attempt recorded (committed, not fsynced), median",
            first,
            "ms",
            2.0,
            "lower",
        ),
        Figure(
            "records: 50th shot of an attempt recorded (committed, not fsynced), median",
            fiftieth,
            "ms",
            2.0,
            "lower",
        ),
        Figure(
            "records: baseline, one plain committed INSERT (not fsynced), median (info)",
            plain_unsynced_ms,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "records: 50th shot / 1st shot of the same attempt (cost does not grow)",
            fiftieth / first,
            "x",
            1.5,
            "lower",
        ),
        Figure(
            "records: 50th shot / plain INSERT, both not fsynced (was 180x)",
            fiftieth / plain_unsynced_ms,
            "x",
            3.0,
            "lower",
        ),
        Figure(
            "records: finishing a 50-shot attempt (into the chain, fsynced), per attempt, median",
            statistics.median(finish_ms),
            "ms",
            2.0,
            "lower",
        ),
        Figure(
            "records: one 50-shot attempt written whole (begin + 50 committed shots +"
            " finish), per attempt, median",
            statistics.median(whole_ms),
            "ms",
            2.0,
            "lower",
        ),
    ]
    return figures


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _plain_insert(raw: object) -> None:
    raw.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
    raw.execute("INSERT INTO plain (n) VALUES (1)")  # type: ignore[attr-defined]
    raw.execute("COMMIT")  # type: ignore[attr-defined]


def pose_lookup() -> Figure:
    """A trigger event's weapon pose: a 512-pose history, interpolated at the event's time."""
    from physics.pose import yaw_quat
    from range.runs.poses import PoseHistory

    history = PoseHistory()
    for i in range(512):
        history.add(Pose((i * 0.01, 0.0, 1.4), yaw_quat(i * 0.001), i / 90))
    times = np.random.default_rng(0).uniform(0.0, 511 / 90, 2000)
    best = float("inf")
    for _ in range(5):
        samples = []
        for t in times:
            start = time.perf_counter()
            history.at(float(t))
            samples.append(time.perf_counter() - start)
        best = min(best, statistics.median(samples))
    return Figure("pose lookup with interpolation, median", best * 1e6, "us", 5.0, "lower")


XR_FRAME = """
import json, statistics, time
from range.xr.runtime import OpenXRPoses
with OpenXRPoses() as source:
    source.wait_for("FOCUSED", 10.0)
    samples = []
    for _ in range(500):
        start = time.perf_counter()
        source.update()
        samples.append(time.perf_counter() - start)
samples.sort()
print(json.dumps([statistics.median(samples), samples[int(0.99 * len(samples))]]))
"""


def xr_frame_cost() -> list[Figure]:
    """xrSyncActions and three xrLocateSpace calls a frame, against Monado in its sandbox (root
    only: the sandbox mounts a chroot). Reported; the issue sets no target yet."""
    import json as _json
    import os
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from xr_sandbox import MonadoSandbox, SandboxUnavailableError, default_root

    project = Path(__file__).resolve().parent.parent
    if os.geteuid() != 0:
        return [
            Figure(
                "OpenXR sync + locate per frame: needs root for the sandbox (info)",
                0.0,
                "",
                0.0,
                "lower",
            )
        ]
    try:
        with MonadoSandbox(default_root(project), project) as sandbox:
            done = sandbox.python(XR_FRAME)
    except SandboxUnavailableError as exc:
        return [Figure(f"OpenXR sync + locate per frame: {exc} (info)", 0.0, "", 0.0, "lower")]
    median, p99 = _json.loads(done.stdout)
    return [
        Figure(
            "OpenXR sync + locate per frame vs Monado, median (info)",
            median * 1e3,
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "OpenXR sync + locate per frame vs Monado, p99 (info)", p99 * 1e3, "ms", 0.0, "lower"
        ),
    ]


HEADSET_SECONDS = 10.0  # 60 s in the issue (--headset-seconds 60); 10 by default: 2 shared cores
HEADSET_FRAMES = """
import json, math, time
from physics.body import SubjectBody
from range.review.render import Scene
from range.xr.session import HeadsetSession

with HeadsetSession() as session:
    renderer = session.renderer
    lane = Scene()
    lane.lane(22.9, 7.9)
    renderer.load(lane)
    renderer.add_subject("s1", SubjectBody(), held_object="knife")
    while session.state != "FOCUSED":
        session.frame()
    session.reset_counts()
    start = time.monotonic()
    while time.monotonic() - start < SECONDS:
        k = session.frames
        def prepare(poses, k=k):
            renderer.pose_subject("s1", (6.0 - 0.01 * (k % 300), 0.0, 0.0), math.pi)
        frame = session.frame(prepare=prepare)
    name = renderer.ctx.info["GL_RENDERER"].split("(")[0].strip()
    print(json.dumps({"frames": session.frames, "missed": session.missed,
                      "sizes": session.recommended_sizes, "renderer": name,
                      "period_s": session.display_period_s,
                      "seconds": time.monotonic() - start}))
"""


def headset_frames_missed(seconds: float = HEADSET_SECONDS) -> list[Figure]:
    """The lane's headset session (`range.xr.session.HeadsetSession`) rendering a moving subject
    to Monado's null compositor for `seconds` of wall time: display periods skipped
    between consecutive frames (from the predicted display times), and the frames rendered.
    Root only (the sandbox mounts a chroot). Reported; the issue sets no target."""
    import json as _json
    import os
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from xr_sandbox import MonadoSandbox, SandboxUnavailableError, default_root

    issue = "" if seconds == 60 else " (issue: 60 s)"
    label = f"headset frames missed over {seconds:g} s{issue} vs Monado"
    project = Path(__file__).resolve().parent.parent
    if os.geteuid() != 0:
        return [Figure(f"{label}: needs root for the sandbox (info)", 0.0, "", 0.0, "lower")]
    try:
        with MonadoSandbox(default_root(project), project) as sandbox:
            code = HEADSET_FRAMES.replace("SECONDS", repr(seconds))
            done = sandbox.python(code, timeout_s=seconds + 60)
    except SandboxUnavailableError as exc:
        return [Figure(f"{label}: {exc} (info)", 0.0, "", 0.0, "lower")]
    if done.returncode != 0:
        return [Figure(f"{label}: failed, {done.stderr[-200:]} (info)", 0.0, "", 0.0, "lower")]
    out = _json.loads(done.stdout.strip().splitlines()[-1])
    size = "x".join(str(v) for v in out["sizes"][0])
    hz = 1.0 / out["period_s"] if out["period_s"] else 0.0
    return [
        Figure(
            f"{label}, 2x{size} on {out['renderer']} (info)",
            float(out["missed"]),
            "fr",
            0.0,
            "lower",
        ),
        Figure(
            f"headset frames rendered in those {out['seconds']:.1f} s (measured),"
            f" display at {hz:.0f} Hz (info)",
            float(out["frames"]),
            "fr",
            0.0,
            "higher",
        ),
    ]


def stereo_frame() -> list[Figure]:
    """Two 1440x1600 views of a drill scene (lane, subject, markers) on this machine's OpenGL:
    Mesa llvmpipe here. The 11.1 ms (90 Hz) goal is for a GPU; this figure is information."""
    from range.review.render import COLOURS, Renderer, RenderUnavailableError, Scene

    scene = Scene()
    scene.lane(22.9, 7.9)
    scene.subject(SubjectBody(), (6.4, 0.0, 0.0), np.pi)
    for k in range(8):
        scene.marker((6.28, 0.02 * k, 1.0 + 0.02 * k), COLOURS["probe"], 0.02)
    head = Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, -0.1)))
    try:
        with Renderer(1440, 1600) as renderer:
            renderer.load(scene)
            renderer.render_stereo(head)
            times = []
            for _ in range(5):
                start = time.perf_counter()
                renderer.render_stereo(head)
                times.append(time.perf_counter() - start)
            name = renderer.ctx.info["GL_RENDERER"]
    except RenderUnavailableError as exc:
        return [Figure(f"stereo frame: {exc} (info)", 0.0, "", 0.0, "lower")]
    return [
        Figure(
            f"stereo frame 2x1440x1600 on {name.split('(')[0].strip()}, median (info)",
            statistics.median(times) * 1e3,
            "ms",
            0.0,
            "lower",
        )
    ]


def _swing_pose(frame: int) -> HumanPose:
    """A walking-like pose that changes every frame: arms and legs swing, trunk turns."""
    a = 0.5 * math.sin(frame * 0.21)
    return HumanPose(
        (0.0, 0.0, 0.01 * math.sin(frame * 0.42)),
        rot_z(0.1 * a),
        {
            "shoulder_l": rot_y(a),
            "shoulder_r": rot_y(-a),
            "elbow_l": rot_y(-0.3 - 0.2 * a),
            "elbow_r": rot_y(-0.3 + 0.2 * a),
            "hip_l": rot_y(-a),
            "hip_r": rot_y(a),
            "knee_l": rot_y(max(0.0, a)),
            "knee_r": rot_y(max(0.0, -a)),
        },
    )


def _segment_bodies(world: RangeWorld, body: SubjectBody) -> list[int]:
    """The alternative: one static body per segment hull (17 per subject)."""
    c = world.client
    skeleton = body.skeleton()
    uids = []
    for i, seg in enumerate(skeleton.segments):
        local = seg.vertices[np.unique(seg.faces)] - skeleton.rest[i]
        shape = p.createCollisionShape(p.GEOM_MESH, vertices=local.tolist(), physicsClientId=c)
        uids.append(int(p.createMultiBody(0, shape, physicsClientId=c)))
    return uids


def human_posing() -> list[Figure]:
    """A new pose for every subject every frame, and its PyBullet shapes moved: ours (one
    multibody per subject on spherical joints: poses recorded, then `RangeWorld.sync` turns
    every joint matrix into a quaternion in one numpy batch and makes a base reset and one
    resetJointStatesMultiDof call a subject), the same with the poses built beforehand,
    against one static body per segment (numpy forward kinematics and 17 base resets), and the
    old box body's single base reset (no limbs) as the baseline, in the same run. Building the
    pose (8 joint rotations per subject per frame) is inside the first and third figures."""
    return [*_posing_figures(3, 0.1), *_posing_figures(30, 1.0)]


def _posing_figures(count: int, target_ms: float) -> list[Figure]:
    body = SubjectBody()
    skeleton = body.skeleton()
    with RangeWorld(lane_length_m=40.0, lane_width_m=40.0) as world:
        c = world.client
        for k in range(count):
            world.add_subject(f"s{k}", body, (5.0 + k, 0.0, 0.0), math.pi)
        frame = [0]

        def ours() -> None:
            frame[0] += 1
            for k in range(count):
                world.pose_subject(f"s{k}", _swing_pose(frame[0] + k))
            world.sync()

        ours_us = _median_us(ours, 50)
        prebuilt = [_swing_pose(k) for k in range(97)]

        def applied() -> None:
            frame[0] += 1
            for k in range(count):
                world.pose_subject(f"s{k}", prebuilt[(frame[0] + k) % 97])
            world.sync()

        applied_us = _median_us(applied, 50)

        def recorded() -> None:
            frame[0] += 1
            for k in range(count):
                world.pose_subject(f"s{k}", prebuilt[(frame[0] + k) % 97])

        recorded_us = _median_us(recorded, 50)
        world.sync()
        segments = [_segment_bodies(world, body) for _ in range(count)]

        def per_segment() -> None:
            frame[0] += 1
            for k, uids in enumerate(segments):
                posed = forward_kinematics(skeleton, _swing_pose(frame[0] + k))
                quats = matrices_to_quats(posed.rotation)
                for uid, pos, q in zip(uids, posed.position, quats, strict=True):
                    p.resetBasePositionAndOrientation(uid, pos, q, physicsClientId=c)

        segment_us = _median_us(per_segment, 50)
        first = [world.targets.index(f"s{k}") for k in range(count)]

        def boxes() -> None:
            for k, uid in enumerate(first):
                p.resetBasePositionAndOrientation(
                    uid, (5.0 + k, 0.0, 0.93), (0, 0, 1, 0), physicsClientId=c
                )

        box_us = _median_us(boxes, 50)
    return [
        Figure(
            f"{count} subjects: build a new pose each, record it, sync PyBullet's links (ours)",
            ours_us / 1000,
            "ms",
            target_ms,
            "lower",
        ),
        Figure(
            f"{count} subjects: record a prebuilt new pose each, sync PyBullet's links",
            applied_us / 1000,
            "ms",
            target_ms,
            "lower",
        ),
        Figure(
            f"{count} subjects: record a prebuilt new pose each, PyBullet synced later (info)",
            recorded_us / 1000,
            "ms",
            target_ms,
            "lower",
        ),
        Figure(
            f"pose + PyBullet update, {count} subjects, a body per segment (info)",
            segment_us / 1000,
            "ms",
            target_ms,
            "lower",
        ),
        Figure(
            f"baseline: one base reset per subject, no limbs, {count} subjects (info)",
            box_us / 1000,
            "ms",
            target_ms,
            "lower",
        ),
    ]


def moving_deployment() -> list[Figure]:
    """One TASER 7 CQ deployment (2 probes) at 15 ft against 3 subjects that move during the
    flight (a runner crossing, two walkers; animated), RangeWorld.cast_moving: the first
    deployment of the cartridge in this process (taser.prepare before the 'drill' builds its
    table, once a process runs the flight code a few times in a world of its own, and flies
    one throw-away deployment in the drill's world; the subjects animated at the trigger as a
    drill's frames do), the median of the next ones,
    and the same deployment against the frozen subjects (cast_paths) as the baseline, in the
    same run. The first is one sample a run: on a loaded machine, repeat the run."""
    from physics.animation import Clip, clip_pose
    from physics.taser import prepare

    body = SubjectBody()
    skeleton = body.skeleton()
    cart = cartridge("taser7-cq")
    x_m = 15 * FT_M
    with RangeWorld() as world:
        specs = [
            ("runner", Clip.RUN, 3.5, 0.0),
            ("w1", Clip.WALK, 1.4, -1.5),
            ("w2", Clip.WALK, -1.2, 1.5),
        ]
        for name, _, _, y in specs:
            world.add_subject(name, body, (x_m, y, 0.0), math.pi / 2)

        calls = [0]

        def motion(t: float, subjects: frozenset[str]) -> None:
            calls[0] += 1
            for name, clip, speed, y in specs:
                if name not in subjects:
                    continue
                world.pose_subject(
                    name,
                    clip_pose(skeleton, clip, 2.0 + t, 3),
                    (x_m, y + speed * t, 0.0),
                    math.pi / 2,
                )

        muzzle = Pose((0.0, 0.0, 1.3), look_rotation((x_m, 0.0, 1.1 - 1.3)))
        rng = np.random.default_rng(0)
        # As a drill does once its subjects are placed: the tables, and one throw-away
        # deployment in this world.
        prepare([cart.id], world)
        # The drill's frames before the trigger animate the subjects (range/runs/drill.py poses
        # each one every step): the animation's first call is not the deployment's.
        motion(0.0, frozenset(name for name, *_ in specs))
        start = time.perf_counter()
        fly_probes(world, cart, muzzle, rng, motion)
        first_ms = (time.perf_counter() - start) * 1000
        moving_us = _median_us(lambda: fly_probes(world, cart, muzzle, rng, motion), 20)
        calls[0] = 0
        moving_cpu_us = _median_cpu_us(lambda: fly_probes(world, cart, muzzle, rng, motion), 20)
        per_deployment = calls[0] / (20 * 5)
        frozen_us = _median_us(lambda: fly_probes(world, cart, muzzle, rng), 200)
    return [
        Figure(
            "TASER deployment, 3 moving subjects, first of its cartridge",
            first_ms,
            "ms",
            0.5,
            "lower",
        ),
        Figure(
            "TASER deployment, 3 moving subjects, median (wall round one fly_probes call with"
            " the subjects' motion: launch, flight tables, the world posed at the trigger,"
            " frozen-world cast, the subject sub-chords clipped at each pose; the motion"
            " callback's clip_pose and pose_subject included)",
            moving_us / 1000,
            "ms",
            0.5,
            "lower",
        ),
        Figure(
            "  motion calls (poses of the subjects) per deployment (info)",
            per_deployment,
            "",
            0.0,
            "lower",
        ),
        Figure(
            "  the same deployments' CPU time (process_time), median (info)",
            moving_cpu_us / 1000,
            "ms",
            0.5,
            "lower",
        ),
        Figure(
            "baseline: the same deployment, subjects frozen (info)",
            frozen_us / 1000,
            "ms",
            0.5,
            "lower",
        ),
    ]


def render_by_transforms() -> list[Figure]:
    """The renderer's per-frame cost with subjects posed by bone matrices (ours) against the
    scene rebuilt and uploaded every frame (the mirror before: the baseline, same run); and a
    stereo frame of 2 x 1440 x 1600 with 3 animated subjects, drawn without read-back
    (ctx.finish() waits for the GPU), naming the OpenGL renderer it ran on."""
    from physics.animation import Clip, clip_pose
    from range.review.render import (
        Renderer,
        RenderUnavailableError,
        Scene,
        eye_poses,
        view_projection,
    )

    body = SubjectBody()
    skeleton = body.skeleton()
    head = Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, -0.1)))
    figures = []
    try:
        with Renderer(480, 270) as renderer:
            name = renderer.ctx.info["GL_RENDERER"].split("(")[0].strip()
            lane = Scene()
            lane.lane(22.9, 7.9)
            renderer.load(lane)
            count = 30
            spots = [(4.0 + 0.5 * k, -3.0 + 0.2 * k, 0.0) for k in range(count)]
            for k in range(count):
                renderer.add_subject(f"s{k}", body, held_object="phone")
            frame = [0]
            mvp = view_projection(head, 70.0, 480 / 270)

            def ours() -> None:
                frame[0] += 1
                for k, feet in enumerate(spots):
                    pose = clip_pose(skeleton, Clip.WALK, frame[0] / 90 + k, 0)
                    renderer.pose_subject(f"s{k}", feet, np.pi, pose)
                renderer.draw(renderer.fbo, mvp)
                renderer.ctx.finish()

            ours_ms = _median_us(ours, 10, batches=3) / 1000
            for k in range(count):
                renderer.remove_subject(f"s{k}")

            def rebuilt() -> None:
                frame[0] += 1
                scene = Scene()
                scene.lane(22.9, 7.9)
                for k, feet in enumerate(spots):
                    pose = clip_pose(skeleton, Clip.WALK, frame[0] / 90 + k, 0)
                    scene.subject(body, feet, np.pi, pose=pose)
                    scene.held(body, feet, np.pi, "phone", pose)
                renderer.load(scene)
                renderer.draw(renderer.fbo, mvp)
                renderer.ctx.finish()

            rebuilt_ms = _median_us(rebuilt, 5, batches=3) / 1000
        figures += [
            Figure(
                f"mirror frame 480x270, 30 walking subjects, posed by transforms on {name}",
                ours_ms,
                "ms",
                FRAME_BUDGET_MS,
                "lower",
            ),
            Figure(
                "baseline: the same frame, scene rebuilt and uploaded (info)",
                rebuilt_ms,
                "ms",
                FRAME_BUDGET_MS,
                "lower",
            ),
        ]
        with Renderer(1440, 1600) as renderer:
            lane = Scene()
            lane.lane(22.9, 7.9)
            renderer.load(lane)
            for k in range(3):
                renderer.add_subject(f"s{k}", body, held_object="handgun")
            left, right = eye_poses(head, 0.063)

            def stereo() -> None:
                frame[0] += 1
                for k in range(3):
                    pose = clip_pose(skeleton, Clip.RUN, frame[0] / 90 + k, 0)
                    renderer.pose_subject(f"s{k}", (6.0 + k, -1.0 + k, 0.0), np.pi, pose)
                for eye in (left, right):
                    renderer.draw(renderer.fbo, view_projection(eye, 90.0, 1440 / 1600))
                renderer.ctx.finish()

            stereo_ms = _median_us(stereo, 5, batches=3) / 1000
        figures.append(
            Figure(
                f"stereo frame 2x1440x1600, 3 animated subjects, no read-back, on {name}"
                + (" (info: software renderer)" if "llvmpipe" in name else ""),
                stereo_ms,
                "ms",
                5.0,
                "lower",
            )
        )
    except RenderUnavailableError as exc:
        figures.append(Figure(f"render by transforms: {exc} (info)", 0.0, "", 0.0, "lower"))
    return figures


def instanced_subjects() -> list[Figure]:
    """Subjects that share a mesh (one build holding a phone, walking) drawn in one instanced
    call (bones and tints in a texture) against one call per subject with its bones in a
    uniform array (the renderer before, `Renderer(instanced=False)`), same run, same context,
    3 and 30 subjects. Timed: `Renderer.draw` of one 480x270 view (clear, the lane, the
    subjects' bone upload and draw calls) then `ctx.finish()`, no read-back; the poses are set
    before the timing. Named with the OpenGL renderer it ran on (on llvmpipe the rasterising
    runs on the CPU inside `finish`; instancing saves the per-call submission)."""
    from physics.animation import Clip, clip_pose
    from range.review.render import Renderer, RenderUnavailableError, Scene, view_projection

    body = SubjectBody()
    skeleton = body.skeleton()
    head = Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, -0.1)))
    mvp = view_projection(head, 70.0, 480 / 270)
    figures = []
    try:
        with Renderer(480, 270) as renderer:
            name = renderer.ctx.info["GL_RENDERER"].split("(")[0].strip()
            lane = Scene()
            lane.lane(22.9, 7.9)
            renderer.load(lane)
            for count in (3, 30):
                for key in renderer.subjects:
                    renderer.remove_subject(key)
                for k in range(count):
                    renderer.add_subject(f"s{k}", body, held_object="phone")
                    pose = clip_pose(skeleton, Clip.WALK, 0.1 * k, 0)
                    renderer.pose_subject(
                        f"s{k}", (4.0 + 0.5 * k, -3.0 + 0.2 * k, 0.0), np.pi, pose
                    )

                def frame() -> None:
                    renderer.draw(renderer.fbo, mvp)
                    renderer.ctx.finish()

                # Batches of each path in turn (a loaded machine's neighbours hit both), the
                # quietest batch's median of each.
                batches: dict[bool, list[float]] = {True: [], False: []}
                cpu: dict[bool, list[float]] = {True: [], False: []}
                for _ in range(4):
                    for instanced in (True, False):
                        renderer.instanced = instanced
                        frame()  # the first draw of a path compiles and uploads
                        batches[instanced].append(_median_us(frame, 15, batches=1) / 1000)
                        cpu[instanced].append(_median_cpu_us(frame, 15, batches=1) / 1000)
                renderer.instanced = True
                timed = {path: min(medians) for path, medians in batches.items()}
                cpu_ms = {path: min(medians) for path, medians in cpu.items()}
                what = f"draw() + ctx.finish(), 480x270, {count} subjects sharing one mesh"
                figures += [
                    Figure(
                        f"{what}, instanced (1 draw call for them) on {name}",
                        timed[True],
                        "ms",
                        FRAME_BUDGET_MS,
                        "lower",
                    ),
                    Figure(
                        f"{what}, one draw call per subject (baseline, same run) (info)",
                        timed[False],
                        "ms",
                        FRAME_BUDGET_MS,
                        "lower",
                    ),
                    Figure(
                        f"the same, this process's CPU time (llvmpipe's threads included),"
                        f" instanced / per subject: {cpu_ms[True]:.2f} / {cpu_ms[False]:.2f} ms"
                        " (info)",
                        cpu_ms[True] / cpu_ms[False],
                        "x",
                        1.0,
                        "lower",
                    ),
                ]
    except RenderUnavailableError as exc:
        figures.append(Figure(f"instanced subjects: {exc} (info)", 0.0, "", 0.0, "lower"))
    return figures


def spread_million() -> list[Figure]:
    """`analyze spread` at 1,000,000 deployments at one distance (TASER 7 CQ, 15 ft, aim error
    10 mrad, chunks of 20,000; the subject still, so clipped in numpy against its drawn
    hulls): probe flights a second, untraced, timed round the whole `spread_study` call
    (launch, flight tables, the cast, the judging); the same study of 100,000 deployments
    with PyBullet rays cast at the subject (`clip_subjects=False`, the code before) as the
    baseline in the same run; then the peak memory tracemalloc sees over 200,000
    deployments (the chunk bounds it, not the trial count)."""
    import tracemalloc

    cart = cartridge("taser7-cq")
    spread_study(cart, [15.0], 100, np.random.default_rng(0))
    start, cpu = time.perf_counter(), time.process_time()
    spread_study(cart, [15.0], 1_000_000, np.random.default_rng(1), aim_error_mrad=10.0)
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    spread_study(
        cart, [15.0], 100_000, np.random.default_rng(1), aim_error_mrad=10.0, clip_subjects=False
    )
    rays_s = time.perf_counter() - start
    tracemalloc.start()
    spread_study(cart, [15.0], 200_000, np.random.default_rng(1), aim_error_mrad=10.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return [
        Figure(
            "analyze spread, 1e6 deployments (wall round spread_study): probe flights a second",
            2e6 / seconds,
            "/s",
            100_000,
            "higher",
        ),
        Figure(
            "  the same in CPU time (process_time) (info)",
            2e6 / cpu_s,
            "/s",
            100_000,
            "higher",
        ),
        Figure(
            "  baseline, same run: 1e5 deployments with PyBullet rays at the subject"
            " (clip_subjects=False), flights a second (info)",
            2e5 / rays_s,
            "/s",
            100_000,
            "higher",
        ),
        Figure(
            "analyze spread, 2e5 deployments in chunks: peak traced memory",
            peak / 1e6,
            "MB",
            100.0,
            "lower",
        ),
    ]


def speech() -> list[Figure]:
    """Speech-act accuracy per SNR, false acts, latency (bench/speech.py, docs/speech.md)."""
    import shutil

    if shutil.which("espeak-ng") is None:
        return [Figure("speech: espeak-ng missing (info)", 0.0, "", 0.0, "lower")]
    from speech import speech_figures  # bench/speech.py, beside this file

    return [Figure(*row) for row in speech_figures()]


def live_drill_figures() -> list[Figure]:
    """Issue 16's live-drill figures (bench/live_drill.py)."""
    from live_drill import figures

    return figures()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--runs", type=int, default=3, help="demo runs to time (default 3)")
    parser.add_argument(
        "--headset-seconds",
        type=float,
        default=HEADSET_SECONDS,
        metavar="S",
        help=f"how long the headset renders to Monado for the frames-missed report (default"
        f" {HEADSET_SECONDS:g}; issue 16 asks 60)",
    )
    args = parser.parse_args()
    figures = [
        *demo_ticks(args.runs),
        *engine_tick(),
        decode_rate(),
        *decoder_garbage_ratio(),
        trigger_latency(),
        clock_sync_error(),
        *shot_costs(),
        *course_laser_check(),
        *wall_deployment(),
        monte_carlo_rate(),
        *ccd_comparison(),
        *ccd_moving_comparison(),
        *ballistics_vs_reference(),
        *records_figures(),
        *records_scale(),
        pose_lookup(),
        *xr_frame_cost(),
        *headset_frames_missed(args.headset_seconds),
        *stereo_frame(),
        *human_posing(),
        *moving_deployment(),
        *render_by_transforms(),
        *instanced_subjects(),
        *spread_million(),
        *[Figure(*row) for row in console_figures()],
        *speech(),
        *live_drill_figures(),
    ]
    if args.json:
        print(json.dumps([asdict(f) | {"ok": f.ok} for f in figures], indent=2))
        return 0
    width = max(len(f.name) for f in figures)
    print(f"{'benchmark':<{width}}  {'figure':>13}  {'target':>13}  result")
    for f in figures:
        if f.name.endswith("(info)"):
            print(f"{f.name:<{width}}  {f.value:>10.3f} {f.unit:<2}")
            continue
        sign = "<=" if f.better == "lower" else ">="
        print(
            f"{f.name:<{width}}  {f.value:>7.3f} {f.unit:<2}  {sign} {f.target:>6.2f} {f.unit:<2}"
            f"  {'ok' if f.ok else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
