"""A live empathy scene in the headset: `openrange drill run empathy-child-domestic-v1 --live
--lane LANE` (the command's own code, `range.cli.drill.play_live`, in the Monado chroot with a
tap that reads each eye's swapchain image back) seen through the child's eyes, not the
officer's: the eye at the child's eye height where the child stands, gazing as a replay from the
child's eyes would (`Viewpoint.eye_at`, one function for both), with the wearer's head turn on
top (the test turns Monado's remote headset 30 degrees part-way through); the mother, a known
object, is drawn where the child sees her and not where the officer at the headset's stage pose
would; the others' lines are placed for the child's head as drawn at that moment; the debrief
follows. The scene is the built-in one with its clock five times faster: 6 s (a live run has no
voice here to move the father on). Root only, like every Monado test."""

from __future__ import annotations

import json
import math
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from xr_sandbox import MonadoSandbox, XRLane

from drills.schema import builtin_drill_files, read_drill_file
from drills.voicing import heard_from
from physics.body import Stance
from physics.pose import Pose, look_rotation
from range.review.replay import Viewpoint, eye_height_m
from range.runs.runlog import read_events

PROJECT = Path(__file__).resolve().parent.parent
WORK = PROJECT / ".cache" / "test-xr-live-empathy"  # inside the project: the chroot sees it
SCENE = "empathy-child-domestic-v1"
HEAD_M = (0.0, 0.0, 1.6)  # Monado's remote headset, where it starts (its reset pose)
TURN_DEG = 30.0

# The command with a tap: every frame of the running drill, the child's eye, the head the frame
# was drawn from and the listener's yaw; every 5th, where the mother's chest falls in the image
# as drawn and as the runtime's own stage view (the officer's eyes at the headset) would put it,
# with the colours the image holds there.
PLAY = r"""
import json, sys
import numpy as np
from drills.schema import read_drill_file
from range.cli.drill import play_live
from range.cli.main import build_parser

out_path = sys.argv[1]
argv = sys.argv[2:]
samples = []
count = [0]

def pixel(mvp, point, w, h):
    clip = mvp @ np.array([*point, 1.0])
    if clip[3] <= 0:
        return None
    ndc = clip[:3] / clip[3]
    col, row = int((ndc[0] + 1) / 2 * w), int((1 - ndc[1]) / 2 * h)
    return [col, row] if 0 <= col < w and 0 <= row < h else None

def tap(headset, eye, framebuffer, mvp):
    run = headset.run
    if eye != 0 or run is None or headset.placed_head is None:
        return
    if run.engine.state.value != "running":
        return
    count[0] += 1
    sample = {
        "t": run.engine.t,
        "placed": [list(headset.placed_head.position_m), list(headset.placed_head.orientation)],
        "eye": [list(headset.eye.position_m), list(headset.eye.orientation)],
        "listener_yaw": run.engine.listener_yaw_rad,
    }
    samples.append(sample)
    if count[0] % 5 != 1:
        return
    w, h = framebuffer.size
    image = np.frombuffer(framebuffer.read(components=3), dtype=np.uint8).reshape(h, w, 3)[::-1]
    mx, my = run.engine.subjects["mother"].position_m
    chest = (mx, my, 1.3)
    seen = pixel(mvp, chest, w, h)
    stage = pixel(headset.stage_mvp, chest, w, h)
    at = lambda p: None if p is None else image[p[1], p[0]].tolist()
    sample.update({
        "size": [w, h], "seen": seen, "seen_rgb": at(seen), "stage": stage, "stage_rgb": at(stage),
    })

args = build_parser().parse_args(argv)
try:
    rc = play_live(args, read_drill_file(args.drill), tap=tap)
finally:
    with open(out_path, "w") as f:
        json.dump(samples, f)
sys.exit(rc)
"""


def _faster(text: str, factor: float) -> str:
    """The scene with its clock `factor` times faster: its time limit and every timed
    transition divided by it (the view does not depend on when the lines come)."""
    assert text.count("time_limit_s = 30.0") == 1
    text = text.replace("time_limit_s = 30.0", f"time_limit_s = {30.0 / factor}")
    return re.sub(r"after_s = ([0-9.]+)", lambda m: f"after_s = {float(m[1]) / factor}", text)


def _bystander_clothing(rgb: list[int] | None) -> bool:
    """The bystanders' green (range/review/render.py COLOURS["bystander"]) by its hue, at any
    light: the scene is at dusk (its `lighting`), so only the ratio tells it from the grey room."""
    if rgb is None:
        return False
    others = max(rgb[0], rgb[2])
    return rgb[1] >= 1.3 * others and rgb[1] - others >= 8


def _toward(degrees: float) -> tuple[float, float, float]:
    return (math.cos(math.radians(degrees)), math.sin(math.radians(degrees)), 0.0)


def _turn(sample: dict[str, Any]) -> float:
    """How far the head drawn from is turned from the child's gaze (radians, left positive)."""
    turn = _yaw(sample["placed"][1]) - _yaw(sample["eye"][1])
    return (turn + math.pi) % (2 * math.pi) - math.pi


def _yaw(orientation: list[float]) -> float:
    forward = Pose((0.0, 0.0, 0.0), tuple(orientation)).forward()  # type: ignore[arg-type]
    return math.atan2(float(forward[1]), float(forward[0]))


def test_a_live_empathy_scene_is_seen_and_heard_through_the_child_s_eyes(
    monado_remote: MonadoSandbox, tmp_path: Path
) -> None:
    with XRLane(WORK, tmp_path) as lane:
        scene = WORK / f"{SCENE}.toml"
        text = builtin_drill_files()[SCENE].read_text()
        scene.write_text(_faster(text, 5.0))
        # The lane as a range master names it once: its replicas' ports (no profiles here: the
        # range master's override lets them through).
        lane_file = WORK / "lane.toml"
        lane_file.write_text(
            f'version = 1\nname = "Lane 2"\nports = ["{lane.taser.port}", "{lane.pistol.port}"]\n'
        )
        frames = WORK / "frames.json"
        argv = [
            str(frames), "drill", "run", str(scene), "--live", "--officer", "J. Rivera",
            "--lane", str(lane_file),
            "--override", "Lt. Hale", "--answer", "heard=shouting, and my mum crying",
            "--runs-dir", str(WORK / "runs"), "--json", "--seed", "3",
        ]  # fmt: skip
        process = subprocess.Popen(
            monado_remote._in_chroot("-c", PLAY, *argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert process.stderr is not None and process.stdout is not None
        watchdog = threading.Timer(120.0, process.kill)  # a hung run fails, never holds Monado
        watchdog.start()
        said: list[str] = []
        for line in process.stderr:
            said.append(line.rstrip())
            if line.strip() == "GO":
                time.sleep(1.0)
                # The wearer turns their head TURN_DEG to the left, where they stand.
                lane.rig.move_head(Pose(HEAD_M, look_rotation(_toward(TURN_DEG))))
        out = process.stdout.read()
        watchdog.cancel()
        assert process.wait(timeout=60) == 0, "\n".join(said[-40:])
        result = json.loads(out)
        samples = json.loads(frames.read_text())
        run_dir = next((WORK / "runs").glob("*/events.jsonl")).parent
        records = read_events(run_dir)
    for s in samples:  # shown when the test fails
        if "size" in s:
            print(s)
    assert result["state"] == "completed"
    drill = read_drill_file(SCENE).drill
    child = next(s for s in drill.subjects if s.id == "child")
    child_eye_m = eye_height_m(child.body(Stance.STANDING))
    assert abs(child_eye_m - HEAD_M[2]) > 0.2
    view = Viewpoint.parse("child", drill)
    turn = math.radians(TURN_DEG)
    turned = [s for s in samples if abs(_turn(s)) > 1e-3]
    ahead = [s for s in samples if s["t"] < turned[0]["t"]] if turned else samples
    # The head turned part-way through, and stayed turned.
    assert turned and ahead and all(_turn(s) == pytest.approx(turn, abs=0.01) for s in turned)
    for s in samples:
        # Eye height and place: the child's, not the officer's 1.6 m at the headset; the gaze
        # the child's (the same eye a replay of the saved run takes from its log) with the
        # wearer's head turn on top.
        placed = Pose(tuple(s["placed"][0]), tuple(s["placed"][1]))
        assert placed.position_m[2] == pytest.approx(child_eye_m, abs=0.01)
        logged = view.eye(records, drill, s["t"])
        assert placed.position_m == pytest.approx(logged.position_m, abs=0.02)
        assert _yaw(s["eye"][1]) == pytest.approx(_yaw(list(logged.orientation)), abs=0.02)
        # The subjects' lines are placed for the child's head as drawn.
        assert s["listener_yaw"] == pytest.approx(_yaw(s["placed"][1]), abs=1e-9)
    imaged = [s for s in ahead if "size" in s]
    assert len(imaged) >= 2
    for s in imaged:
        # The mother, a known object: drawn where the child sees her, not where the officer's
        # eyes at the headset would have her.
        assert s["seen"] is not None and _bystander_clothing(s["seen_rgb"]), s
        assert not _bystander_clothing(s["stage_rgb"]), s
        assert s["stage"] is not None and math.dist(s["seen"], s["stage"]) > 0.1 * s["size"][1]
        # Her chest (1.3 m) is level with the child's eyes, below the officer's: the child sees
        # it higher in the image (a smaller row) than the officer's view would.
        assert s["seen"][1] < s["stage"][1], s
    # Every line the others speak is heard from the child's head as it was at that moment (the
    # yaw the last frame before it placed): ahead at first, turned later.
    lines = [r for r in records if r.kind == "subject_spoke" and r.data["subject"] != "child"]
    heard_turned = 0
    for line in lines:
        assert line.data["listener"] == "child"
        before = [s for s in samples if s["t"] < line.t - 1e-9]
        if not before:
            continue  # said at the start, before any frame: the child's own heading
        yaw = before[-1]["listener_yaw"]
        heard_turned += abs(yaw - _yaw(before[-1]["eye"][1])) > 1e-3
        at = [r for r in records if r.kind == "positions" and r.t <= line.t + 1e-9][-1].data
        azimuth, distance = heard_from(
            tuple(at["subjects"]["child"]), yaw, tuple(at["subjects"][line.data["subject"]])
        )
        assert line.data["azimuth_deg"] == pytest.approx(azimuth, abs=0.5)
        assert line.data["distance_m"] == pytest.approx(distance, abs=0.01)
    assert heard_turned >= 1, [(r.t, r.data["subject"]) for r in lines]
    # The debrief follows the scene.
    answers = [r.data for r in records if r.kind == "debrief_answer"]
    assert [a["question"] for a in answers] == ["heard", "needed", "next_time"]
    assert answers[0]["answer"] == "shouting, and my mum crying" and answers[0]["how"] == "typed"
