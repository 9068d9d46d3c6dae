"""A qualification attempt fired live: an officer's replicas on their serial ports, tracked
through a real OpenXR runtime, run by the same course runner as the scripted shooter.

The replicas are an emulated pistol and TASER 7 on real ptys, read through pyserial like
hardware; the tracker is Monado's remote-driver right controller, moved by `RemoteRig` with a
mount offset the armorer's calibration profile describes, through a pose-only (`--headless`)
session: a bench without a headset (tests/test_xr_live_course.py draws a course in the
headset). The test is the officer: it listens to the range timer on stderr and, at each start
signal, aims (at the target, or deliberately off it) and pulls the trigger. Root only, like
every Monado test (CI runs as root).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from xr_sandbox import MonadoSandbox, XRLane, bench_mount, save_calibrated_profiles

from drills.course import load_course
from physics.targets import TARGETS
from range.records.store import Records
from range.runs.course import target_point

PROJECT = Path(__file__).resolve().parent.parent
WORK = PROJECT / ".cache" / "test-xr-course"  # inside the project: the chroot sees it
COURSE = """
id = "live-check-v1"
version = 1
title = "Live range check"
source = "tests/test_xr_course.py: an officer's replicas tracked through a real OpenXR runtime"
target = "qit99"
late_shots = "miss"
pass_mark = { hits = 4 }

[[stages]]
name = "pistol"
strings = [
  { distance_yd = 5.0, start = "ready", rounds = 3, par_time_s = 6.0 },
  { distance_yd = 5.0, start = "ready", rounds = 2, par_time_s = 6.0 },
]

[[stages]]
name = "TASER"
[[stages.strings]]
weapon = "taser-7"
cartridge = "taser7-cq"
distance_ft = 10.0
start = "ready"
cartridges = 1
par_time_s = 6.0
"""
CALLED = re.compile(r"^stage (\d+) string (\d+): ")
OFF_TARGET_M = 1.0  # the second string is aimed this far right of the target: every round misses


@pytest.fixture
def lane(monado_remote: MonadoSandbox, tmp_path: Path) -> Iterator[XRLane]:
    with XRLane(WORK, tmp_path) as lane:
        yield lane


def test_an_officer_fires_a_course_live_on_tracked_replicas(
    monado_remote: MonadoSandbox, lane: XRLane
) -> None:
    rig, pistol, taser = lane.rig, lane.pistol, lane.taser
    course_file = WORK / "live-check-v1.toml"
    course_file.write_text(COURSE)
    course = load_course(course_file)
    # The armorer calibrated both replicas: the tracker sits on each with this mount.
    mount = bench_mount()
    profiles = WORK / "profiles"
    save_calibrated_profiles(profiles)
    pistol.magazine_in, pistol.rounds, pistol.chambered = True, 9, True  # loaded and made ready
    db = WORK / "records.db"
    with Records.open(f"sqlite:///{db}") as records:
        records.add_officer("4411", "J. Rivera", "Metro PD", "Patrol")
    process = monado_remote.openrange(
        "course", "run", str(course_file), "--badge", "4411", "--db", f"sqlite:///{db}",
        "--port", str(pistol.port), "--port", str(taser.port), "--profiles", str(profiles),
        "--runs-dir", str(WORK / "runs"), "--json", "--headless",
    )  # fmt: skip
    assert process.stderr is not None and process.stdout is not None
    said: list[str] = []
    called = (0, 0)
    for line in process.stderr:
        said.append(line.rstrip())
        if match := CALLED.match(line):
            called = (int(match[1]) - 1, int(match[2]) - 1)
        if line.strip() != "BEEP":
            continue
        string = course.stages[called[0]].strings[called[1]]
        aim = np.asarray(target_point(course, string))
        if called == (0, 1):
            aim[1] -= OFF_TARGET_M
        rig.move("right", mount.aim((float(aim[0]), float(aim[1]), float(aim[2]))).tracker)
        time.sleep(0.2)
        replica = pistol if string.weapon == "pistol" else taser
        replica.draw()
        replica.set_safety(False)
        for _ in range(string.shots):
            replica.press_trigger()
            time.sleep(0.1)
            replica.release_trigger()
            time.sleep(0.2)
    out = process.stdout.read()
    assert process.wait(timeout=30) == 0, "\n".join(said)
    result = json.loads(out)
    assert sum(line == "BEEP" for line in said) == 3, "\n".join(said)
    assert {d["serial"] for d in result["devices"]} == {"P-0042", "T7-0007"}
    assert all(c["reason"].startswith("calibrated until") for c in result["calibration"])
    best = max(zone.points for zone in TARGETS[course.target].zones)
    pistol_stage = result["score"]["stages"][0]
    assert pistol_stage["hits"] == 3 and pistol_stage["points"] == 3 * best
    events = [
        json.loads(line)
        for line in next((WORK / "runs").glob("*/events.jsonl")).read_text().splitlines()
    ]
    shots = [e for e in events if e["kind"] == "shot"]
    assert [s["zone"] for s in shots if s["string"] == 1] == ["miss", "miss"]
    deployments = [e for e in events if e["kind"] == "deployment"]
    assert len(deployments) == 1
    assert "laser was not on the subject" not in deployments[0]["reason"]
    assert result["qualification"] is not None
