"""A live drive-stun against Monado: `openrange drill run FILE --live` in the chroot, the
TASER 7's front tracked by Monado's remote right controller, which the test moves as the officer's
hand (a profile whose tracker is the bore: the controller's aim pose is the front). With both
cartridges pulled out, an ARC press held away from the subject only arcs; the controller is then
moved onto the subject's thigh and ARC held for HOLD_S: a `drive_stun` at the leg, its cycle
ended by the release, scored as the scripted step is. Root only, like every Monado test."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
from test_live_drive_stun import DRILL, HOLD_S, thigh
from xr_sandbox import IDENTITY_BORE, TASER_SERIAL, MonadoSandbox, XRLane, save_calibrated_profiles

from physics.body import Region
from physics.pose import Pose, look_rotation
from range.review.effects import ARC_RGB
from range.runs.runlog import read_events

AWAY_M = (0.4, -0.15, 1.35)
# The command with a tap: each frame of the left eye, where the headset draws the TASER's arc
# (None while it does not arc) and the image's colour at the spark's upper part.
PLAY = r"""
import json, sys
import numpy as np
from drills.schema import read_drill_file
from range.cli.drill import play_live
from range.cli.main import build_parser

out_path, argv, shown = sys.argv[1], sys.argv[2:], []

def tap(headset, eye, framebuffer, mvp):
    if eye != 0 or headset.run is None:
        return
    sample = {"arc_at": headset.arc_at, "rgb": None}
    if headset.arc_at is not None:
        # The spark's upper part: its middle is behind the replica's top from the eyes.
        clip = mvp @ np.array([*np.add(headset.arc_at, (0.0, 0.0, 0.02)), 1.0])
        w, h = framebuffer.size
        col = int((clip[0] / clip[3] + 1) / 2 * w)
        row = int((1 - clip[1] / clip[3]) / 2 * h)
        if clip[3] > 0 and 0 <= col < w and 0 <= row < h:
            image = np.frombuffer(framebuffer.read(components=3), dtype=np.uint8)
            sample["rgb"] = image.reshape(h, w, 3)[::-1][row, col].tolist()
    shown.append(sample)

args = build_parser().parse_args(argv)
try:
    rc = play_live(args, read_drill_file(args.drill), tap=tap)
finally:
    with open(out_path, "w") as f:
        json.dump(shown, f)
sys.exit(rc)
"""
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
        # Held in view, 40 cm ahead and 25 cm below the eyes, its front short of the subject.
        rig.move("right", Pose(AWAY_M, forward))
        sparks = WORK / "sparks.json"
        process = subprocess.Popen(
            monado_remote._in_chroot(
            "-c", PLAY, str(sparks),
            "drill", "run", str(drill_file), "--live", "--officer", "J. Rivera",
            "--port", str(taser.port), "--port", str(lane.pistol.port),
            "--require-calibration", "--profiles", str(profiles),
            "--runs-dir", str(WORK / "runs"), "--json", "--seed", "5",
            ),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
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
            # Long enough for frames to draw it on a loaded machine (0.1 s once drew none).
            time.sleep(0.5)
            taser.release_trigger()
            # The front onto the thigh, 2 cm short of its surface, pointing into it.
            rig.move("right", Pose(tuple(thigh() - np.array([0.02, 0.0, 0.0])), forward))
            time.sleep(0.4)
            pressed = time.monotonic()
            taser.press_trigger()
            time.sleep(HOLD_S)
            taser.release_trigger()
            held_s = time.monotonic() - pressed  # a loaded machine oversleeps the hold
        out = process.stdout.read()
        watchdog.cancel()
        assert process.wait(timeout=60) == 0, "\n".join(said[-40:])
        result = json.loads(out)
        records = read_events(next((WORK / "runs").glob("*/events.jsonl")).parent)
        shown = json.loads(sparks.read_text())
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
    assert HOLD_S - 0.1 <= exposure["duration_s"] <= held_s + 0.1
    findings = result["score"]["findings"]
    place = [(f["kind"], f["message"]) for f in findings if f["rule"] == "PLACE-01"]
    assert place == [("credit", "drive-stun on subject in a preferred zone (leg)")]
    assert any(f["rule"] == "CEW-06" for f in findings)
    assert result["score"]["subjects"]["subject"]["drive_stuns"] == 1
    # The arc is drawn at the front while the TASER arcs, both times: first where the test holds
    # it in view (its blue-white spark read back from the image there), then at the thigh.
    arcing = [s for s in shown if s["arc_at"] is not None]
    assert arcing and len(arcing) < len(shown), shown
    away = [s for s in arcing if s["arc_at"][0] < AWAY_M[0] + 0.05]
    assert away and all(_spark(s["rgb"]) for s in away), away
    assert any(s["arc_at"][0] > AWAY_M[0] + 0.1 for s in arcing), arcing


def _spark(rgb: list[int] | None) -> bool:
    """The arc's unlit blue-white (range/review/effects.py ARC_RGB)."""
    want = [round(c * 255) for c in ARC_RGB]
    return rgb is not None and max(abs(a - b) for a, b in zip(rgb, want, strict=True)) <= 3
