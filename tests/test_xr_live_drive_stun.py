"""A live drive-stun against Monado: `openrange drill run FILE --live` in the chroot, the
TASER 7's front tracked by Monado's remote right controller, which the test moves as the officer's
hand (a profile whose tracker is the bore: the controller's aim pose is the front). With both
cartridges pulled out, an ARC press held away from the subject only arcs; the controller is then
moved onto the subject's thigh and ARC held for HOLD_S: a `drive_stun` at the leg, its cycle
ended by the release, scored as the scripted step is. Root only, like every Monado test."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_live_drive_stun import DRILL, HOLD_S, thigh
from xr_sandbox import IDENTITY_BORE, TASER_SERIAL, MonadoSandbox, XRLane, save_calibrated_profiles

from physics.body import Region
from physics.pose import Pose, look_rotation
from range.runs.runlog import read_events

PROJECT = Path(__file__).resolve().parent.parent
WORK = PROJECT / ".cache" / "test-xr-live-drive-stun"  # inside the project: the chroot sees it


def test_the_controller_on_the_thigh_and_arc_held_is_a_drive_stun_at_the_leg(
    monado_remote: MonadoSandbox, tmp_path: Path
) -> None:
    with XRLane(WORK, tmp_path) as lane:
        rig, taser = lane.rig, lane.taser
        drill_file = WORK / "live-drive-stun-v1.toml"
        drill_file.write_bytes(DRILL)
        profiles = WORK / "profiles"
        save_calibrated_profiles(profiles, IDENTITY_BORE)
        forward = look_rotation((1.0, 0.0, 0.0))
        rig.move("right", Pose((0.15, -0.35, 0.9), forward))  # low, off to the side
        process = monado_remote.openrange(
            "drill", "run", str(drill_file), "--live", "--officer", "J. Rivera",
            "--port", str(taser.port), "--port", str(lane.pistol.port),
            "--require-calibration", "--profiles", str(profiles),
            "--runs-dir", str(WORK / "runs"), "--json", "--seed", "5",
        )  # fmt: skip
        assert process.stderr is not None and process.stdout is not None
        # A run that hangs fails the test instead of holding the machine's one Monado.
        watchdog = threading.Timer(120.0, process.kill)
        watchdog.start()
        said: list[str] = []
        for line in process.stderr:
            said.append(line.rstrip())
            if line.strip() != "GO":
                continue
            taser.eject(0)
            taser.eject(1)
            taser.draw()
            taser.set_safety(False)
            time.sleep(0.2)
            taser.press_trigger()  # ARC, touching nobody
            time.sleep(0.1)
            taser.release_trigger()
            # The front onto the thigh, 2 cm short of its surface, pointing into it.
            rig.move("right", Pose(tuple(thigh() - np.array([0.02, 0.0, 0.0])), forward))
            time.sleep(0.4)
            taser.press_trigger()
            time.sleep(HOLD_S)
            taser.release_trigger()
        out = process.stdout.read()
        watchdog.cancel()
        assert process.wait(timeout=60) == 0, "\n".join(said[-40:])
        result = json.loads(out)
        records = read_events(next((WORK / "runs").glob("*/events.jsonl")).parent)
    assert result["state"] == "completed", result["end_reason"]
    arcs = [r for r in records if r.data.get("event") == "arc_switch"]
    assert len(arcs) == 2
    stuns = [r for r in records if r.kind == "drive_stun"]
    assert [(s.data["subject"], s.data["region"], s.data["serial"]) for s in stuns] == [
        ("subject", Region.LEG.value, TASER_SERIAL)
    ]
    assert stuns[0].t > arcs[0].t
    (exposure,) = [r.data for r in records if r.kind == "taser_exposure"]
    assert exposure["mode"] == "drive_stun" and exposure["ended_by"] == "released"
    assert exposure["duration_s"] == pytest.approx(HOLD_S, abs=0.1)
    findings = result["score"]["findings"]
    place = [(f["kind"], f["message"]) for f in findings if f["rule"] == "PLACE-01"]
    assert place == [("credit", "drive-stun on subject in a preferred zone (leg)")]
    assert any(f["rule"] == "CEW-06" for f in findings)
    assert result["score"]["subjects"]["subject"]["drive_stuns"] == 1
