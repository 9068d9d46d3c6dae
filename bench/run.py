"""OpenRange benchmarks: each figure printed beside its target.

    .venv/bin/python bench/run.py [--json] [--runs N]

Figures are wall-clock on this machine; treat a single run as an order of magnitude.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from drills.officer import find_officer
from drills.schema import find_drill
from peripherals.driver import ReplicaLink
from peripherals.emulator import TaserEmulator
from peripherals.messages import Event, EventKind, Model, State, StateFlags
from peripherals.wire import FrameDecoder, encode_frame
from physics.ballistics import fly_bullet, load
from physics.body import Region, SubjectBody
from physics.pose import Pose, look_rotation
from physics.taser import cartridge, fly_probes
from physics.world import RangeWorld
from range.clock import MonotonicClock
from range.runner import RunConfig, run_drill

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


def _median_us(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


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


def decode_rate() -> Figure:
    event = encode_frame(Event.TYPE, 1, 123456789, Event(EventKind.SHOT_FIRED, value=3).pack())
    state = encode_frame(
        State.TYPE, 2, 123456789, State(StateFlags(5), 100, ((4, 2), (5, 2))).pack()
    )
    stream = (event + state) * 50_000
    decoder = FrameDecoder()
    start = time.perf_counter()
    for at in range(0, len(stream), 4096):  # as a USB CDC read hands them over
        decoder.feed(stream[at : at + 4096])
    rate = decoder.stats.frames / (time.perf_counter() - start)
    return Figure("decode, frames/s on one core", rate, "/s", 200_000, "higher")


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


def clock_sync_error() -> Figure:
    """Device clock 100 ppm fast and 2.5 s off: the mapping's error after 2 s of PINGs."""
    clock = MonotonicClock()
    with TaserEmulator(
        Model.TASER_10, "BENCH-SYNC", clock, drift_ppm=100.0, clock_offset_s=2.5
    ) as emulator:
        with ReplicaLink(emulator.port or "", clock) as link:
            started = clock.now_s()
            while clock.now_s() - started < 2.0:
                link.ping()
                time.sleep(0.02)
            errors = []
            for _ in range(50):
                device_us, host = emulator.clock.now_us(), clock.now_s()
                errors.append(abs(link.sync.to_host(device_us) - host))
                time.sleep(0.002)
    worst = max(errors) * 1e3
    return Figure("clock-sync error after 2 s at 100 ppm drift, worst", worst, "ms", 0.5, "lower")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--runs", type=int, default=3, help="demo runs to time (default 3)")
    args = parser.parse_args()
    figures = [
        *demo_ticks(args.runs),
        decode_rate(),
        trigger_latency(),
        clock_sync_error(),
        *shot_costs(),
    ]
    if args.json:
        print(json.dumps([asdict(f) | {"ok": f.ok} for f in figures], indent=2))
        return 0
    width = max(len(f.name) for f in figures)
    print(f"{'benchmark':<{width}}  {'figure':>10}  {'target':>12}  result")
    for f in figures:
        sign = "<=" if f.better == "lower" else ">="
        print(
            f"{f.name:<{width}}  {f.value:>7.3f} {f.unit:<2}  {sign} {f.target:>6.2f} {f.unit:<2}"
            f"  {'ok' if f.ok else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
