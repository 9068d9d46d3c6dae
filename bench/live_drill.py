"""Live-drill figures (issue 16): the non-render tick in real-time mode with replicas on ptys,
for 3 and 30 subjects, and a trigger press to the decoded host event over a pty; each with its
baseline measured in the same run.

    .venv/bin/python bench/live_drill.py [--json] [--seconds S]

Also part of bench/run.py. Wall-clock figures on this machine; a shared machine's neighbours
show up in p99s, so each figure says what it times and the baseline beside it ran in the same
process, on the same machine, at the same time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

import numpy as np

from drills.officer import find_officer
from drills.schema import parse_drill
from peripherals.driver import ReplicaLink
from peripherals.emulator import PistolEmulator, TaserEmulator
from peripherals.messages import EventKind, Model
from physics.animation import BLEND_S
from physics.pose import Pose, look_rotation
from physics.units import FT_M
from range.clock import MonotonicClock
from range.runs.drill import LiveDrill, RunConfig, RunResult, Session, run_drill
from range.runs.poses import TrackedPoses

sys.path.insert(0, str(Path(__file__).parent))
from run import Figure

MUZZLE_M = (0.0, 0.0, 1.4)

BASELINE_OFFICER = """\
id = "bench-draw-and-cover-v1"
version = 1
description = "Draws the TASER and covers the first subject: a pointing cast every frame."
aim_error_mrad = 0.0

[[steps]]
at_s = 0.5
do = "draw_taser"

[[steps]]
after_s = 0.1
do = "aim"
region = "abdomen"
"""


# The crowd's speed in the tick figures: above the walk clip's threshold (physics.animation
# WALK_ENTER_MPS, 0.35 m/s), so the crowd really walks (at 0.3 m/s it stood idle).
CROWD_SPEED_MPS = 0.5


def crowd_drill(subjects: int, seconds: float, speed_mps: float = CROWD_SPEED_MPS) -> str:
    """`subjects` subjects advancing on the officer at `speed_mps`, spread over the lane, for
    `seconds` of drill time (the time limit ends it)."""
    parts = [
        f'id = "bench-{subjects}-subjects-v1"',
        "version = 1",
        'title = "bench"',
        'rationale = "a crowd moving"',
        'expected_response = "none"',
        f"time_limit_s = {seconds}",
        "[scene]",
        "lane_length_ft = 75.0",
    ]
    for i in range(subjects):
        lateral = -10.0 + 20.0 * i / max(subjects - 1, 1)
        parts += [
            "[[subjects]]",
            f'id = "s{i}"',
            f"start_distance_ft = {30.0 + (i % 5) * 4.0}",
            f"lateral_ft = {lateral:.2f}",
            f'start_phase = "s{i}_walk"',
        ]
    for i in range(subjects):
        parts += [
            "[[phases]]",
            f'id = "s{i}_walk"',
            f'subject = "s{i}"',
            'behaviour = "active_resistance"',
            'movement = "advance"',
            f"speed_mps = {speed_mps}",
        ]
    # A reachable ending (a drill must be able to end; one after the time limit is refused):
    # the last subject complies a frame before the time limit would end the drill.
    parts += ["[[phases.transitions]]", 'to = "end"', f"after_s = {seconds - 0.02}"]
    parts += ["[[phases]]", 'id = "end"', f'subject = "s{subjects - 1}"']
    parts += ['behaviour = "compliant"', "ends_drill = true"]
    return "\n".join(parts) + "\n"


def crowd_session(subjects: int, seconds: float, speed_mps: float) -> tuple[Session, RunResult]:
    """The crowd drill run simulated (lock-step, the bench's draw-and-cover officer)."""
    drill = parse_drill(crowd_drill(subjects, seconds, speed_mps), "bench")
    with tempfile.TemporaryDirectory(prefix="or-bench-") as folder:
        officer_file = Path(folder) / "officer.toml"
        officer_file.write_text(BASELINE_OFFICER)
        session = Session(RunConfig(drill, find_officer(str(officer_file)), 1))
        return session, session.run()


def crowd_blends(subjects: int, seconds: float, speed_mps: float) -> tuple[float, int]:
    """The crowd drill run simulated (`subjects` subjects at `speed_mps`, `seconds` of drill
    time): the mean
    number of subjects blending between two clips per frame, and the clip changes in all.
    A blend is the BLEND_S after a change (physics/animation.py), each frame of it costing
    two clip poses and a slerp per joint."""
    session, result = crowd_session(subjects, seconds, speed_mps)
    config = session.config
    frame_t_s = np.arange(1, len(result.frame_times_s) + 1) * config.dt_s
    blending = 0
    changes = 0
    for timeline in session.animator._changes.values():
        for start_s, _ in timeline[1:]:
            changes += 1
            blending += int(((frame_t_s >= start_s) & (frame_t_s < start_s + BLEND_S)).sum())
    return blending / max(len(frame_t_s), 1), changes


class HeldOnFirst:
    """A tracked weapon held on the first subject, and the head above the firing line."""

    def __init__(self, clock: MonotonicClock, distance_ft: float) -> None:
        self.clock = clock
        self.aim = look_rotation(np.subtract((distance_ft * FT_M, -10.0 * FT_M, 1.0), MUZZLE_M))

    def pose(self, device: str, t: float) -> Pose:
        if device == "head":
            return Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, 0.0)), t)
        return Pose(MUZZLE_M, self.aim, t)

    def update(self) -> dict[str, Pose]:
        now = self.clock.now_s()
        return {"aim": self.pose("weapon", now), "head": self.pose("head", now)}


def live_tick(subjects: int, seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame times (ms) of the drill with `subjects` subjects: live (real clock, replicas free
    running on ptys, no barrier), the same frames' CPU time on the run's thread, and, as the
    baseline, simulated (lock-step, PING barrier) wall times."""
    drill = parse_drill(crowd_drill(subjects, seconds), "bench")
    with tempfile.TemporaryDirectory(prefix="or-bench-") as folder:
        officer_file = Path(folder) / "officer.toml"
        officer_file.write_text(BASELINE_OFFICER)
        officer = find_officer(str(officer_file))
        simulated = run_drill(RunConfig(drill, officer, 1)).frame_times_s
        clock = MonotonicClock()
        ports_dir = Path(folder) / "ports"
        ports_dir.mkdir()
        taser = TaserEmulator(Model.TASER_7, "BENCH-T7", clock, directory=ports_dir)
        pistol = PistolEmulator("BENCH-P", clock, directory=ports_dir)
        ports = [taser.start(), pistol.start()]
        taser.run_free()
        pistol.run_free()
        source = HeldOnFirst(clock, 30.0)

        def open_poses(stack: ExitStack) -> TrackedPoses:
            return source

        def draw() -> None:
            time.sleep(0.5)
            taser.draw()

        hand = threading.Thread(target=draw)
        hand.start()
        try:
            live = LiveDrill(ports, open_poses, clock, search=[ports_dir])
            config = RunConfig(drill, None, 1, override_by="bench", live=live)
            live_result = run_drill(config)
            frames, cpu = live_result.frame_times_s, live_result.frame_cpu_s
        finally:
            hand.join()
            for emulator in (taser, pistol):
                emulator.stop_free_running()
                emulator.stop()
    return np.array(frames) * 1e3, np.array(cpu) * 1e3, np.array(simulated) * 1e3


def tick_figures(seconds: float) -> list[Figure]:
    figures = []
    for subjects, target in ((3, 1.0), (30, 2.0)):
        live, cpu, simulated = live_tick(subjects, seconds)
        what = (
            f"live drill non-render tick, {subjects} subjects walking at {CROWD_SPEED_MPS} m/s"
            " (walk clip), p99 (real clock, 2 replicas free"
            " running on ptys: read + decode events, pointing cast, engine step(s), world update;"
            " no sleep, no rendering)"
        )
        figures.append(Figure(what, float(np.percentile(live, 99)), "ms", target, "lower"))
        figures.append(
            Figure(
                f"  median of the same ({len(live)} frames) (info)",
                float(np.median(live)),
                "ms",
                0.0,
                "lower",
            )
        )
        figures.append(
            Figure(
                "  the same frames' CPU time on the run's thread (time.thread_time: without the"
                " time other processes held the CPU), p99 (info)",
                float(np.percentile(cpu, 99)),
                "ms",
                0.0,
                "lower",
            )
        )
        figures.append(
            Figure(
                f"  baseline: simulated lock-step tick with the PING barrier, same drill, p99"
                f" ({len(simulated)} frames) (info)",
                float(np.percentile(simulated, 99)),
                "ms",
                0.0,
                "lower",
            )
        )
    return figures


def blend_figures(seconds: float) -> list[Figure]:
    """Clip blends in the 30-subject crowd drill (simulated) slowed to 0.3 m/s, the walk
    threshold; without hysteresis they flipped clips on rounding noise."""
    per_frame, changes = crowd_blends(30, seconds, 0.3)
    return [
        Figure(
            f"crowd drill, 30 subjects at 0.3 m/s: subjects blending clips per frame ({changes}"
            " clip changes in the run) (info)",
            per_frame,
            "",
            0.0,
            "lower",
        )
    ]


def trigger_to_decoded(samples: int = 1000) -> list[Figure]:
    """A pistol replica's trigger pressed (the emulator's `press_trigger`, as the hand does) to
    the decoded `PeripheralEvent` handed to the host's thread by `ReplicaLink.wait_event`, over
    a real pty. The baseline, in the same run: the same bytes' trip through a bare pty (write,
    select, read), with no framing, decoding or link thread."""
    import os
    import select

    clock = MonotonicClock()
    latencies = []
    with PistolEmulator("BENCH-LAT", clock) as pistol:
        pistol.magazine_in, pistol.chambered = True, True
        pistol.draw()
        with ReplicaLink(pistol.port or "", clock) as link:
            for _ in range(samples):
                pistol.rounds = 200  # a round-count byte on the wire; keep it topped up
                pistol.chambered = True
                pressed = time.perf_counter()
                pistol.press_trigger()
                while True:
                    event = link.wait_event(1.0)
                    assert event is not None, "the trigger press never arrived"
                    if event.kind is EventKind.TRIGGER_PRESSED:
                        break
                latencies.append(time.perf_counter() - pressed)
                pistol.release_trigger()
                while link.wait_event(0.005) is not None:
                    pass  # the shot and the release
                time.sleep(0.001)
    master, slave = os.openpty()
    floor = []
    try:
        payload = b"\x7e" + bytes(14) + b"\x7e"
        for _ in range(samples):
            start = time.perf_counter()
            os.write(slave, payload)
            got = b""
            while len(got) < len(payload):
                select.select([master], [], [], 1.0)
                got += os.read(master, 64)
            floor.append(time.perf_counter() - start)
    finally:
        os.close(master)
        os.close(slave)
    return [
        Figure(
            "trigger press (emulator press_trigger) to the decoded host event returned by"
            " ReplicaLink.wait_event, over a pty, p99",
            float(np.percentile(np.array(latencies) * 1e3, 99)),
            "ms",
            2.0,
            "lower",
        ),
        Figure(
            f"  median of the same ({samples} presses) (info)",
            float(np.median(np.array(latencies) * 1e3)),
            "ms",
            0.0,
            "lower",
        ),
        Figure(
            "  baseline: the same 16 bytes through a bare pty (write, select, read), p99 (info)",
            float(np.percentile(np.array(floor) * 1e3, 99)),
            "ms",
            0.0,
            "lower",
        ),
    ]


def figures(seconds: float = 10.0) -> list[Figure]:
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    return [
        Figure(
            f"machine load while measuring: 1-min load average on {cores} cores (info)",
            load,
            "",
            0.0,
            "lower",
        ),
        *tick_figures(seconds),
        *blend_figures(seconds),
        *trigger_to_decoded(),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="drill time per tick figure (default 10)"
    )
    args = parser.parse_args()
    out = figures(args.seconds)
    if args.json:
        print(json.dumps([asdict(f) | {"ok": f.ok} for f in out], indent=2))
        return 0
    for f in out:
        if f.name.endswith("(info)"):
            print(f"{f.name}: {f.value:.3f} {f.unit}")
        else:
            verdict = "ok" if f.ok else "MISSED"
            print(f"{f.name}: {f.value:.3f} {f.unit} (target <= {f.target:g}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
