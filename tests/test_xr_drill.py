"""A drill played live through a real OpenXR runtime: `openrange drill run FILE --live` with an
officer's replicas on their serial ports (an emulated TASER 7 and pistol on real ptys, read
through pyserial like hardware) and the weapon tracked by Monado's remote-driver right
controller, which `RemoteRig` moves with the mount offset the armorer's profile describes.

The test is the officer: at GO it aims the TASER at the subject and pulls the trigger; the
deployment flies from the tracked bore through the calibration profile, and the run is scored
and saved. Root only, like every Monado test (tests/test_xr_course.py is the course's twin).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from drill_text import TASER_ENDS_IT
from xr_sandbox import MonadoSandbox, XRLane, bench_mount, save_calibrated_profiles

from physics.body import Region, SubjectBody
from physics.pose import Pose
from physics.units import FT_M
from range.records.store import Records

PROJECT = Path(__file__).resolve().parent.parent
WORK = PROJECT / ".cache" / "test-xr-drill"  # inside the project: the chroot sees it
SUBJECT_FT = 8.0
DRILL = f"""\
id = "xr-live-taser-v1"
version = 1
title = "Live TASER check through OpenXR"
rationale = "A subject with a knife holds still; the officer deploys the TASER."
expected_response = "Deploy the TASER to the upper chest."
time_limit_s = 6.0

[scene]
lane_length_ft = 40.0

[[subjects]]
id = "subject"
start_distance_ft = {SUBJECT_FT}
held_object = "knife"
start_phase = "standoff"

{TASER_ENDS_IT}"""


@pytest.fixture
def lane(monado_remote: MonadoSandbox, tmp_path: Path) -> Iterator[XRLane]:
    with XRLane(WORK, tmp_path) as lane:
        yield lane


@pytest.mark.parametrize("mode", [[], ["--headless"]], ids=["headset", "headless"])
def test_an_officer_plays_a_drill_live_on_tracked_replicas(
    monado_remote: MonadoSandbox,
    lane: XRLane,
    mode: list[str],
) -> None:
    """By default the lane's one headset session draws the run and tracks the replica;
    `--headless` tracks it with the pose-only session (a bench without a headset)."""
    rig, pistol, taser = lane.rig, lane.pistol, lane.taser
    drill_file = WORK / "xr-live-taser-v1.toml"
    drill_file.write_text(DRILL)
    mount = bench_mount()
    profiles = WORK / "profiles"
    save_calibrated_profiles(profiles)
    lx, ly, lz = SubjectBody().aim_point(Region.UPPER_CHEST)
    aim = (SUBJECT_FT * FT_M - lx, -ly, lz + 0.1)
    held = mount.aim(aim)
    rig.move("right", held.tracker)
    db = WORK / "records.db"
    with Records.open(f"sqlite:///{db}") as records:
        records.add_officer("4411", "J. Rivera", "Metro PD", "Patrol")
    process = monado_remote.openrange(
        "drill", "run", str(drill_file), "--live", "--officer", "J. Rivera",
        "--badge", "4411", "--db", f"sqlite:///{db}",
        "--port", str(taser.port), "--port", str(pistol.port),
        "--require-calibration", "--profiles", str(profiles),
        "--runs-dir", str(WORK / "runs"), "--json", "--seed", "3", *mode,
    )  # fmt: skip
    assert process.stderr is not None and process.stdout is not None
    said: list[str] = []
    for line in process.stderr:
        said.append(line.rstrip())
        if line.strip() != "GO":
            continue
        time.sleep(0.3)
        taser.draw()
        taser.set_safety(False)
        time.sleep(0.3)
        taser.press_trigger()
        time.sleep(0.1)
        taser.release_trigger()
    out = process.stdout.read()
    assert process.wait(timeout=30) == 0, "\n".join(said)
    assert "GO" in said
    result = json.loads(out)
    assert result["officer"] == "live" and result["state"] == "completed"
    assert {d["serial"] for d in result["devices"]} == {"P-0042", "T7-0007"}
    events = [
        json.loads(line)
        for line in next((WORK / "runs").glob("*/events.jsonl")).read_text().splitlines()
    ]
    started = events[0]
    assert all(c["reason"].startswith("calibrated until") for c in started["calibration"])
    fired = [e for e in events if e["kind"] == "officer_action" and e["action"] == "taser_fired"]
    assert len(fired) == 1 and fired[0]["muzzle"]["tracked"]
    # Flown from the tracked bore through the profile: it points where the officer aimed.
    muzzle = Pose(tuple(fired[0]["muzzle"]["position_m"]), tuple(fired[0]["muzzle"]["orientation"]))
    to_aim = np.subtract(aim, muzzle.position_m)
    off = math.acos(float(np.dot(muzzle.forward(), to_aim / np.linalg.norm(to_aim))))
    assert off < 0.01, f"the bore was {off * 1e3:.1f} mrad off the aim point"
    impacts = next(e for e in events if e["kind"] == "probe_impacts")
    assert any(i["target"] == "subject" for i in impacts["impacts"])
    assert result["score"]["outcome"] in ("PASS", "FAIL")
    assert result["record"] is not None  # kept in the records under the officer's badge
