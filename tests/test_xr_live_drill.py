"""A live drill drawn in the headset: `openrange drill run FILE --live` (the command's own code,
`range.cli.drill.play_live`, run inside the Monado chroot with a tap that reads each eye's
swapchain image back) on an emulated TASER 7 and pistol behind real ptys, with the weapon
tracked by Monado's remote-driver right controller, which the test moves as the officer.

One graphics-bound OpenXR session does it all: the subject advances (drawn where the engine
puts it, by transforms), the replica is drawn at the controller's pose through its profile, the
range timer's cue shows, and a second application taking the headset's focus (Monado moves our
session to VISIBLE, as a headset taken off does) suspends the drill with its clock frozen. Then
the test pulls the trigger: the deployment flies from the tracked bore, and the run is scored
and saved. Root only, like every Monado test.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from drill_text import TASER_ENDS_IT
from xr_sandbox import MonadoSandbox, XRLane, bench_mount, save_calibrated_profiles, with_display

from physics.body import Region, SubjectBody
from physics.pose import Pose
from physics.units import FT_M
from range.runs.runlog import RESULT

PROJECT = Path(__file__).resolve().parent.parent
WORK = PROJECT / ".cache" / "test-xr-live-drill"  # inside the project: the chroot sees it
START_FT = 13.0
HOLD_FT = 9.0  # the subject advances to here and holds
DRILL = f"""\
id = "xr-headset-taser-v1"
version = 1
title = "Live TASER drill drawn in the headset"
rationale = "A subject with a knife closes in and holds; the officer deploys the TASER."
expected_response = "Deploy the TASER to the upper chest."
time_limit_s = 12.0

[scene]
lane_length_ft = 40.0

[[subjects]]
id = "subject"
start_distance_ft = {START_FT}
held_object = "knife"
start_phase = "approach"

[[phases]]
id = "approach"
subject = "subject"
behaviour = "active_resistance"
movement = "advance"
speed_mps = 1.2
[[phases.transitions]]
to = "standoff"
within_ft = {HOLD_FT}

{TASER_ENDS_IT}"""

# The command, run by its own code with a tap on each eye's swapchain image: every 10th frame
# it notes the run's clock and state, how many pixels show the subject's clothing, whether the
# chest shows it, and the pixel where the test put the replica's slide.
PLAY = r"""
import json, sys, time
import numpy as np
from drills.schema import read_drill_file
from physics.pose import Pose
from range.cli.drill import play_live
from range.cli.main import build_parser

muzzle = Pose(*json.loads(sys.argv[1]))
out_path = sys.argv[2]
argv = sys.argv[3:]
samples = []

def pixel(image, mvp, point):
    clip = mvp @ np.array([*point, 1.0])
    ndc = clip[:3] / clip[3]
    h, w, _ = image.shape
    col, row = int((ndc[0] + 1) / 2 * w), int((1 - ndc[1]) / 2 * h)
    if not (0 <= col < w and 0 <= row < h):
        return None
    return image[row, col].tolist()

def clothing_of(image):
    img = image.astype(int)
    return int(np.count_nonzero((img[..., 0] < 110) & (img[..., 2] > img[..., 0] + 40)))

def wire_pixels(image):
    # The TASER wires are drawn unlit in WIRE_RGB (range/review/effects.py): exact colour.
    from range.review.effects import WIRE_RGB
    want = np.array([round(c * 255) for c in WIRE_RGB])
    return int(np.count_nonzero(np.abs(image.astype(int) - want).max(axis=2) <= 2))

count = [0]
seen_running = [False]
def tap(headset, eye, framebuffer, mvp):
    if eye != 0:
        return
    count[0] += 1
    run = headset.run
    # Every tenth frame, and the first with the clock running (where the subject starts: on a
    # loaded machine the tenth frame may come after it has closed in).
    running = run is not None and run.engine.state.value == "running"
    if count[0] % 10 and (seen_running[0] or not running):
        return
    seen_running[0] = seen_running[0] or running
    if run is None:
        return
    w, h = framebuffer.size
    image = np.frombuffer(framebuffer.read(components=3), dtype=np.uint8).reshape(h, w, 3)[::-1]
    clothing = clothing_of(image)
    mirror = headset.mirror
    subject = next(iter(run.engine.subjects.values()))
    x, y = subject.position_m
    slide = np.asarray(muzzle.position_m) - muzzle.forward() * 0.09
    samples.append({
        "wall_s": time.monotonic(), "t": run.engine.t, "state": run.engine.state.value,
        "x": x, "clothing": clothing, "chest": pixel(image, mvp, (x - 0.05, y, 1.3)),
        "wires": len(headset.effects.wires(run.engine.t)), "wire_pixels": wire_pixels(image),
        "slide": pixel(image, mvp, tuple(slide)), "cue": headset.cue,
        "focused": headset.session.state,
        "frames": headset.session.frames, "missed": headset.session.missed,
        "period_s": headset.session.display_period_s,
        "mirror_shown": mirror.shown if mirror else 0,
        "mirror_clothing": clothing_of(mirror.read()) if mirror else 0,
    })

args = build_parser().parse_args(argv)
try:
    rc = play_live(args, read_drill_file(args.drill), tap=tap)
finally:
    with open(out_path, "w") as f:
        json.dump(samples, f)
sys.exit(rc)
"""

# A second application: Monado gives it the focus while it runs (ours goes to VISIBLE).
OTHER = r"""
from range.review.render import Scene
from range.xr.headset import run_headset
scene = Scene()
scene.lane(10.0, 4.0)
run_headset(scene, 90)
"""


def _clothing(rgb: list[int] | None) -> bool:
    return rgb is not None and rgb[0] < 110 and rgb[2] > rgb[0] + 40


@pytest.fixture
def lane(monado_remote: MonadoSandbox, tmp_path: Path) -> Iterator[XRLane]:
    with XRLane(WORK, tmp_path) as lane:
        yield lane


def test_a_live_drill_is_drawn_in_the_headset_and_pauses_when_it_loses_focus(
    monado_remote: MonadoSandbox, lane: XRLane
) -> None:
    rig, pistol, taser = lane.rig, lane.pistol, lane.taser
    drill_file = WORK / "xr-headset-taser-v1.toml"
    drill_file.write_text(DRILL)
    mount = bench_mount()
    profiles = WORK / "profiles"
    bore = save_calibrated_profiles(profiles)
    # The officer aims at the chest of the subject where it will hold, holding the replica
    # 0.6 m ahead of the eyes (in view): the tracker is where the mount puts it for that aim.
    lx, ly, lz = SubjectBody().aim_point(Region.UPPER_CHEST)
    aim = (HOLD_FT * FT_M - lx, -ly, lz + 0.1)
    ahead = np.array([0.6, 0.0, 0.05])
    held = mount.aim(tuple(np.subtract(aim, ahead)))
    tracker = Pose(tuple(np.add(held.tracker.position_m, ahead)), held.tracker.orientation)
    muzzle = bore.muzzle(tracker)
    rig.move("right", tracker)
    frames = WORK / "frames.json"
    command = monado_remote._in_chroot(
        "-c", PLAY, json.dumps([list(muzzle.position_m), list(muzzle.orientation)]), str(frames),
        "drill", "run", str(drill_file), "--live", "--officer", "J. Rivera",
        "--port", str(taser.port), "--port", str(pistol.port),
        "--require-calibration", "--profiles", str(profiles),
        "--runs-dir", str(WORK / "runs"), "--json", "--seed", "3",
    )  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stderr is not None and process.stdout is not None
    said: list[str] = []
    other_rc = None
    for line in process.stderr:
        said.append(line.rstrip())
        if line.strip() != "GO":
            continue
        time.sleep(1.6)  # the subject closes in to where it holds
        # Another application takes the headset's focus and gives it back when it ends.
        other = monado_remote.python(OTHER, timeout_s=60)
        other_rc = other.returncode
        time.sleep(0.3)
        taser.draw()
        taser.set_safety(False)
        time.sleep(0.3)
        taser.press_trigger()
        time.sleep(0.1)
        taser.release_trigger()
    out = process.stdout.read()
    assert process.wait(timeout=60) == 0, "\n".join(said[-40:])
    assert other_rc == 0
    result = json.loads(out)
    assert result["state"] == "completed", result["end_reason"]
    samples = json.loads(frames.read_text())
    for s in samples:  # shown when the test fails
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items()})
    # The subject moved between frames, drawn where the engine put it: its silhouette grew as
    # it closed from 13 ft to 9 ft, and its chest shows its clothing in both.
    first = next(s for s in samples if s["state"] == "running")
    closer = next(s for s in samples if s["x"] < HOLD_FT * FT_M + 0.05)
    assert first["x"] - closer["x"] > 0.5, (first, closer)
    assert _clothing(first["chest"]) and _clothing(closer["chest"]), (first, closer)
    assert closer["clothing"] > 1.4 * first["clothing"], (first, closer)
    # The cue: GO as the clock starts, gone once the drill is under way.
    assert first["cue"] == "GO" and samples[-1]["cue"] in ("", "STANDBY")
    # The replica (a TASER, yellow) is drawn at the controller's pose, through its profile.
    slide = first["slide"]
    assert slide is not None and slide[0] > 2 * slide[2] and slide[1] > 2 * slide[2], slide
    # Focus lost: the drill was suspended, its clock frozen, the cue back to STANDBY.
    events = [
        json.loads(line)
        for line in next((WORK / "runs").glob("*/events.jsonl")).read_text().splitlines()
    ]
    suspended = [e for e in events if e["kind"] == "run_suspended"]
    resumed = [e for e in events if e["kind"] == "run_resumed"]
    assert suspended and resumed, [e["kind"] for e in events]
    assert "headset" in suspended[0]["reason"]
    assert suspended[0]["t"] == resumed[0]["t"]
    # The range master was told on the console as it happened.
    at = f"{suspended[0]['t']:.2f} s"
    assert f"suspended at {at}: {suspended[0]['reason']}" in said, said
    assert f"resumed at {at}" in said, said
    # The log is written in time order, though the pull waited for its pose and the replica's
    # events were read after the engine had stepped.
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    # Meanwhile the runtime asks for no frames; the frames drawn either side of the pause are
    # seconds apart on the wall but one sampling period apart on the drill's clock.
    gaps = [(b["wall_s"] - a["wall_s"], b["t"] - a["t"]) for a, b in pairwise(samples)]
    wall_s, drill_s = max(gaps)
    assert wall_s > 2.0 and drill_s < 0.7, gaps
    # The trigger: the deployment flew from the tracked bore toward where the officer aimed,
    # hit the subject, and the run was scored and saved.
    fired = [e for e in events if e["kind"] == "officer_action" and e["action"] == "taser_fired"]
    assert len(fired) == 1 and fired[0]["muzzle"]["tracked"]
    assert fired[0]["subject"] == "subject"  # whom the tracked bore covered: judged as such
    flown = Pose(tuple(fired[0]["muzzle"]["position_m"]), tuple(fired[0]["muzzle"]["orientation"]))
    to_aim = np.subtract(aim, flown.position_m)
    off = math.acos(float(np.dot(flown.forward(), to_aim / np.linalg.norm(to_aim))))
    assert off < 0.01, f"the bore was {off * 1e3:.1f} mrad off the aim point"
    impacts = next(e for e in events if e["kind"] == "probe_impacts")
    assert any(i["target"] == "subject" for i in impacts["impacts"])
    # The wires are drawn from the replica to the probes once they fly, and not before.
    assert all(s["wire_pixels"] == 0 for s in samples if s["wires"] == 0), samples
    wired = [s for s in samples if s["wires"] == 2]
    assert wired and all(s["wire_pixels"] > 0 for s in wired), samples
    assert result["score"]["outcome"] in ("PASS", "FAIL")
    saved = next((WORK / "runs").glob(f"*/{RESULT}"))
    assert json.loads(saved.read_text())["score"] == result["score"]


def test_the_instructor_s_mirror_shows_the_live_drill(
    monado_remote: MonadoSandbox,
    lane: XRLane,
) -> None:
    """`--mirror`: the instructor's window (GLFW on an Xvfb display) beside the headset in the
    drill's process shows the run from the officer's eyes, frame after frame."""
    pistol, taser = lane.pistol, lane.taser
    drill_file = WORK / "xr-mirror-v1.toml"
    drill_file.write_text(DRILL.replace("time_limit_s = 12.0", "time_limit_s = 2.0"))
    profiles = WORK / "profiles"
    save_calibrated_profiles(profiles)
    frames = WORK / "frames.json"
    argv = [
        "play", json.dumps([[0.6, 0.0, 1.4], [0.0, 0.0, 0.0, 1.0]]), str(frames),
        "drill", "run", str(drill_file), "--live", "--mirror", "--officer", "J. Rivera",
        "--port", str(taser.port), "--port", str(pistol.port), "--profiles", str(profiles),
        "--no-save", "--json", "--seed", "3",
    ]  # fmt: skip
    done = with_display(monado_remote, f"import sys; sys.argv = {argv!r}\n" + PLAY)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["state"] == "completed"
    samples = json.loads(frames.read_text())
    assert len(samples) >= 3
    shown = [s["mirror_shown"] for s in samples]
    assert shown == sorted(shown) and shown[-1] > shown[0] > 0  # a window frame per frame
    # The window shows the subject (its clothing) as the headset does.
    assert all(s["mirror_clothing"] > 100 for s in samples[1:]), samples
