"""The armorer's calibration of a tracked replica, end to end against a real runtime.

The replica is an emulated pistol on a real pty, read through pyserial like hardware; its tracker
is Monado's remote-driver right controller, which the test moves with `RemoteRig` as the
armorer's hands would: mounted on the replica with a hidden offset and misalignment, tracked
with noise. `openrange calibrate` runs inside the chroot next to the runtime, prompts for each
point, and reads the tracker through OpenXR at each serial trigger pull. Root only, like every
Monado test (CI runs as root).
"""

from __future__ import annotations

import math
import re
import shutil
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import numpy as np
import pytest
from xr_sandbox import MonadoSandbox, RemoteRig

from peripherals.emulator import PistolEmulator
from physics.pose import Pose, look_rotation
from range.calibration.bench import BenchEmulator, BenchPoint
from range.calibration.profiles import load_profile
from range.calibration.solver import angle_mrad
from range.clock import MonotonicClock

PROJECT = Path(__file__).resolve().parent.parent
# Inside the project, so the chroot (which mounts the project) sees the same folder.
PROFILES = PROJECT / ".cache" / "test-xr-calibration"
SERIAL = "P-0042"
PROMPT = re.compile(r"^(\d+)/(\d+): ")
MUZZLE_PROMPT = re.compile(r"^muzzle (\d+)/(\d+): ")  # touch the muzzle to the reference
POINT = re.compile(r"\((-?[\d.]+), (-?[\d.]+), (-?[\d.]+)\) m")
SNAP_PEAK_S = 0.030  # the officer's snap tops out this long after the trigger breaks
STREAM_S = 0.002  # the rig's pose updates: 500 Hz, like a tracker


@pytest.fixture
def bench(
    monado_remote: MonadoSandbox, tmp_path: Path
) -> Iterator[tuple[RemoteRig, PistolEmulator]]:
    shutil.rmtree(PROFILES, ignore_errors=True)
    emulator = PistolEmulator(SERIAL, MonotonicClock(), directory=tmp_path)
    emulator.start()
    emulator.run_free()
    rig = RemoteRig().connect()
    try:
        yield rig, emulator
    finally:
        rig.close()
        emulator.stop_free_running()
        emulator.stop()
        shutil.rmtree(PROFILES, ignore_errors=True)


def armorer(
    sandbox: MonadoSandbox, args: list[str], act: Callable[[str], None]
) -> tuple[int, str, list[str]]:
    """Run `openrange ARGS` in the chroot; at each numbered prompt on stderr, do `act`."""
    process = sandbox.openrange(*args, "--profiles", str(PROFILES), "--timeout", "15")
    assert process.stderr is not None and process.stdout is not None
    said = []
    for line in process.stderr:
        said.append(line.rstrip())
        if PROMPT.match(line) or MUZZLE_PROMPT.match(line):
            act(line)
    out = process.stdout.read()
    return process.wait(timeout=30), out, said


def pull(emulator: PistolEmulator) -> None:
    emulator.press_trigger()
    time.sleep(0.05)
    emulator.release_trigger()


def aim_and_pull(
    rig: RemoteRig, emulator: PistolEmulator, mount: BenchEmulator, lost: Collection[int] = ()
) -> Callable[[str], None]:
    def act(prompt: str) -> None:
        match = POINT.search(prompt)
        assert match, prompt
        target = (float(match[1]), float(match[2]), float(match[3]))
        if MUZZLE_PROMPT.match(prompt):  # the muzzle held on the bench's reference point
            touch = mount.touch(BenchPoint(name="reference", position_m=target), 1)[0]
            rig.move("right", touch.tracker)
            time.sleep(0.15)
            pull(emulator)
            return
        sample = mount.aim(target)
        k = int(PROMPT.match(prompt)[1])  # type: ignore[index]
        rig.move("right", sample.tracker, tracked=k not in lost)
        time.sleep(0.15)  # settled on the point
        pull(emulator)
        rig.move("right", sample.tracker)

    return act


def snap_and_pull(rig: RemoteRig, emulator: PistolEmulator) -> Callable[[str], None]:
    rest = (0.0, 0.0, 1.4)

    def stream(seconds: float, lift: Callable[[float], float]) -> None:
        start = time.monotonic()
        while (t := time.monotonic() - start) < seconds:
            rig.move("right", Pose(rest, look_rotation((1.0, 0.0, math.tan(lift(t))))))
            time.sleep(STREAM_S)

    def act(prompt: str) -> None:
        stream(0.3, lambda t: 0.0)
        emulator.press_trigger()
        stream(0.4, lambda t: 0.15 * math.exp(-(((t - SNAP_PEAK_S) / 0.02) ** 2)))
        emulator.release_trigger()

    return act


def test_an_armorer_calibrates_a_tracked_replica_through_openxr(
    monado_remote: MonadoSandbox, bench: tuple[RemoteRig, PistolEmulator]
) -> None:
    rig, emulator = bench
    port = emulator.port
    assert port is not None
    mount = BenchEmulator(np.random.default_rng(11))
    rc, out, said = armorer(
        monado_remote,
        ["calibrate", "boresight", "--device", SERIAL, "--armorer", "Sgt. Ortiz", "--port", port],
        aim_and_pull(rig, emulator, mount, lost={3}),
    )
    assert rc == 0, "\n".join(said)
    assert any(f"{SERIAL} on {port}; tracker: Monado: Remote HMD" in line for line in said)
    assert sum(bool(PROMPT.match(line)) for line in said) == 8
    assert any("tracking was lost" in line for line in said)
    profile = load_profile(PROFILES, SERIAL)
    assert profile is not None and profile.samples == 7  # the untracked pull does not count
    assert angle_mrad(profile.bore_direction, mount.direction) < 1.0
    offset = np.asarray(profile.bore_origin_m) - mount.origin_m
    across = offset - (offset @ mount.direction) * mount.direction
    assert np.linalg.norm(across) < 0.003
    # Where the muzzle is along the bore, measured by touching it to the reference point.
    assert profile.muzzle_m is not None
    assert np.linalg.norm(np.asarray(profile.muzzle_m) - mount.origin_m) < 0.01
    assert f"residual {profile.residual_mrad:.2f} mrad" in out

    rc, out, said = armorer(
        monado_remote,
        ["calibrate", "latency", "--device", SERIAL, "--port", port],
        snap_and_pull(rig, emulator),
    )
    assert rc == 0, "\n".join(said)
    profile = load_profile(PROFILES, SERIAL)
    assert profile is not None
    assert profile.trigger_latency_s == pytest.approx(SNAP_PEAK_S, abs=0.012)

    verify = ["calibrate", "verify", "--device", SERIAL, "--port", port]
    rc, out, said = armorer(monado_remote, verify, aim_and_pull(rig, emulator, mount))
    assert rc == 0 and "PASS" in out, "\n".join(said)
    # The tracker knocked on its mount by half a degree: verify catches it.
    knocked = BenchEmulator(np.random.default_rng(12), misalignment_deg=(2.3, -2.6))
    rc, out, said = armorer(monado_remote, verify, aim_and_pull(rig, emulator, knocked))
    assert rc == 1 and "FAIL" in out, "\n".join(said)
