"""A live qualification course drawn in the headset: `openrange course run FILE --port ...` (the
command's own code, `range.cli.records._course_run`, run inside the Monado chroot with a tap
that reads each eye's swapchain image back) on an emulated pistol and TASER 7 behind real ptys,
the weapon tracked by Monado's remote-driver right controller, which the test moves as the
officer.

One graphics-bound OpenXR session (range/xr/lane.py `LaneHeadset.course_frame`) draws the
course's range and tracks the replicas: the paper target hangs at each string's distance (its
drawn edges are where the runtime's projection puts the target's edges at that distance, and
not where they would be at the other string's), the TASER string's subject stands at its
distance, the replica is drawn at the controller's pose through its profile, every hole and
probe gets a marker, and the range timer's cue is amber during STANDBY and turns green at the
start signal. Root only, like every Monado test.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from xr_sandbox import MonadoSandbox, XRLane, bench_mount, save_calibrated_profiles

from drills.course import Course, load_course
from physics.pose import Pose
from physics.targets import TARGETS
from physics.units import IN_M
from range.runs.course import HEADSET_OFF, target_point
from range.runs.runlog import read_events
from scoring.course import judged_attempt, rescore_attempt

PROJECT = Path(__file__).resolve().parent.parent
WORK = PROJECT / ".cache" / "test-xr-live-course"  # inside the project: the chroot sees it
NEAR_YD, FAR_YD, TASER_FT = 3.0, 7.0, 10.0
COURSE = f"""
id = "live-drawn-v1"
version = 1
title = "Live course drawn in the headset"
source = "tests/test_xr_live_course.py: a course fired live, drawn in the headset"
target = "qit99"
late_shots = "miss"
pass_mark = {{ hits = 3 }}

[[stages]]
name = "pistol"
strings = [
  {{ distance_yd = {NEAR_YD}, start = "ready", rounds = 2, par_time_s = 4.0 }},
  {{ distance_yd = {FAR_YD}, start = "ready", rounds = 2, par_time_s = 4.0 }},
]

[[stages]]
name = "TASER"
[[stages.strings]]
weapon = "taser-7"
cartridge = "taser7-cq"
distance_ft = {TASER_FT}
start = "ready"
cartridges = 1
par_time_s = 4.0
"""
CALLED = re.compile(r"^stage (\d+) string (\d+): ")
# The officer holds the replica 0.6 m ahead of the eyes, a little right and low (in view, clear
# of the target's top-left edges), aimed at the string's target.
HELD_AHEAD = np.array([0.6, -0.15, -0.08])

# The command, run by its own code with a tap on each eye's swapchain image: the first frames of
# each string's STANDBY and GO, and every 8th frame, note the string, the timer's phase and cue,
# the cue panel's pixel, the rows and columns of target-coloured pixels and where the runtime's
# projection puts the target's edges at the string's distance, the subject's clothing at its
# chest, and the pixel where the test put the replica's slide.
PLAY = r"""
import json, sys
import numpy as np
from physics.pose import Pose
from range.cli.main import build_parser
from range.cli.records import _course_run

muzzles = {k: Pose(*v) for k, v in json.loads(sys.argv[1]).items()}
out_path = sys.argv[2]
argv = sys.argv[3:]
samples = []

def pixel_at(mvp, point, shape):
    clip = mvp @ np.array([*point, 1.0])
    ndc = clip[:3] / clip[3]
    h, w = shape[:2]
    return int((ndc[0] + 1) / 2 * w), int((1 - ndc[1]) / 2 * h)

def pixel(image, mvp, point):
    col, row = pixel_at(mvp, point, image.shape)
    h, w, _ = image.shape
    if not (0 <= col < w and 0 <= row < h):
        return None
    return image[row, col].tolist()

seen = set()
count = [0]
def tap(headset, eye, framebuffer, mvp):
    view = headset.course
    if eye != 0 or view is None:
        return
    count[0] += 1
    key = (view.stage, view.string, view.phase)
    if key in seen and count[0] % 8:
        return
    seen.add(key)
    w, h = framebuffer.size
    image = np.frombuffer(framebuffer.read(components=3), dtype=np.uint8).reshape(h, w, 3)[::-1]
    img = image.astype(int)
    # The paper under the day's light (about 174, 168, 149 where the floor is 100, 96, 86 and
    # the sky 158, 178, 199): bright, red over green a little, green well over blue.
    paper = (img[..., 0] > 140) & (img[..., 0] >= img[..., 1]) \
        & (img[..., 0] - img[..., 1] < 20) & (img[..., 1] > img[..., 2] + 10)
    rows, cols = np.nonzero(paper)
    d = view.distance_m
    from range.review.effects import WIRE_RGB
    want = np.array([round(c * 255) for c in WIRE_RGB])
    wires = int(np.count_nonzero(np.abs(img - want).max(axis=2) <= 2))
    sample = {
        "wire_pixels": wires,
        "stage": view.stage, "string": view.string, "phase": view.phase, "t_rel": view.t_rel,
        "cue": headset.cue, "distance_m": d, "markers": headset._markers,
        "state": headset.session.state, "now_s": view.now_s,
        "cue_rgb": pixel(image, mvp, headset.cue_at.position_m) if headset.cue_at else None,
        "paper_top": int(rows.min()) if rows.size else None,
        "paper_left": int(cols.min()) if cols.size else None,
        "paper_pixels": int(rows.size),
        "mvp": mvp.tolist(), "size": [w, h],
        "chest": pixel(image, mvp, (d, 0.0, 1.25)),
    }
    muzzle = muzzles.get(f"{view.stage},{view.string}")
    if muzzle is not None:
        slide = np.asarray(muzzle.position_m) - muzzle.forward() * 0.09
        sample["slide"] = pixel(image, mvp, tuple(slide))
        sample["slide_at"] = pixel_at(mvp, tuple(slide), image.shape)
        sample["muzzle_drawn"] = list(headset.muzzle.position_m) if headset.muzzle else None
        sample["muzzle_want"] = list(muzzle.position_m)
    samples.append(sample)

args = build_parser().parse_args(argv)
try:
    rc = _course_run(args, tap=tap)
finally:
    with open(out_path, "w") as f:
        json.dump(samples, f)
sys.exit(rc)
"""


def _edges(
    sample: dict[str, object], half_w_m: float, half_h_m: float, distance_m: float
) -> tuple[float, float]:
    """(top row, left column) where the sample's projection puts the paper target's top and
    left (the shooter's left: +Y) edges were it hung at `distance_m`."""
    mvp = np.asarray(sample["mvp"], dtype=float)
    w, h = sample["size"]  # type: ignore[misc]

    def project(point: tuple[float, float, float]) -> tuple[float, float]:
        clip = mvp @ np.array([*point, 1.0])
        ndc = clip[:3] / clip[3]
        return (ndc[0] + 1) / 2 * w, (1 - ndc[1]) / 2 * h

    top = project((distance_m, 0.0, 1.4 + half_h_m))[1]
    left = project((distance_m, half_w_m, 1.4))[0]
    return top, left


def _edge_error(sample: dict[str, object], half_w_m: float, half_h_m: float, d: float) -> float:
    """How far (pixels) the drawn paper's top-left pixel is from the edges projected at d: the
    first paper pixel's row and column hold the edge's pixel centre (edge + 0.5 at most)."""
    top, left = _edges(sample, half_w_m, half_h_m, d)
    row, col = sample["paper_top"], sample["paper_left"]
    return max(abs(float(row) + 0.5 - top), abs(float(col) + 0.5 - left))  # type: ignore[arg-type]


def _area(sample: dict[str, object], half_w_m: float, half_h_m: float, d: float) -> float:
    """The paper's area in pixels, projected by the sample's transform, were it hung at d."""
    mvp = np.asarray(sample["mvp"], dtype=float)
    w, h = sample["size"]  # type: ignore[misc]
    corners = []
    for y, z in ((1, 1), (-1, 1), (-1, -1), (1, -1)):
        clip = mvp @ np.array([d, y * half_w_m, 1.4 + z * half_h_m, 1.0])
        ndc = clip[:3] / clip[3]
        corners.append(((ndc[0] + 1) / 2 * w, (1 - ndc[1]) / 2 * h))
    xs, ys = np.array(corners).T
    return float(abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))) / 2)


def _trackers(course: Course) -> dict[str, Pose]:
    """Where the officer holds the replica for each string ("stage,string"): aimed at its
    target from HELD_AHEAD, on the bench mount the profiles were calibrated on."""
    mount = bench_mount()
    trackers: dict[str, Pose] = {}
    for i, stage in enumerate(course.stages):
        for j, string in enumerate(stage.strings):
            aim = np.subtract(target_point(course, string), HELD_AHEAD)
            held = mount.aim((float(aim[0]), float(aim[1]), float(aim[2])))
            trackers[f"{i},{j}"] = Pose(
                tuple(np.add(held.tracker.position_m, HELD_AHEAD)), held.tracker.orientation
            )
    return trackers


@pytest.fixture
def lane(monado_remote: MonadoSandbox, tmp_path: Path) -> Iterator[XRLane]:
    with XRLane(WORK, tmp_path) as lane:
        yield lane


def test_a_live_course_is_drawn_in_the_headset(monado_remote: MonadoSandbox, lane: XRLane) -> None:
    rig, pistol, taser = lane.rig, lane.pistol, lane.taser
    course_file = WORK / "live-drawn-v1.toml"
    course_file.write_text(COURSE)
    course = load_course(course_file)
    profiles = WORK / "profiles"
    bore = save_calibrated_profiles(profiles)
    pistol.magazine_in, pistol.rounds, pistol.chambered = True, 9, True  # loaded and made ready
    trackers = _trackers(course)
    muzzles = {
        k: [list(bore.muzzle(p).position_m), list(bore.muzzle(p).orientation)]
        for k, p in trackers.items()
    }
    frames = WORK / "frames.json"
    command = monado_remote._in_chroot(
        "-c", PLAY, json.dumps(muzzles), str(frames),
        "course", "run", str(course_file), "--badge", "4411", "--db",
        f"sqlite:///{WORK / 'records.db'}",
        "--port", str(pistol.port), "--port", str(taser.port), "--profiles", str(profiles),
        "--runs-dir", str(WORK / "runs"), "--json", "--seed", "5",
    )  # fmt: skip
    from range.records.store import Records

    with Records.open(f"sqlite:///{WORK / 'records.db'}") as records:
        records.add_officer("4411", "J. Rivera", "Metro PD", "Patrol")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stderr is not None and process.stdout is not None
    said: list[str] = []
    called = (0, 0)
    for line in process.stderr:
        said.append(line.rstrip())
        if match := CALLED.match(line):
            called = (int(match[1]) - 1, int(match[2]) - 1)
            rig.move("right", trackers[f"{called[0]},{called[1]}"])  # up during STANDBY
        if line.strip() != "BEEP":
            continue
        string = course.stages[called[0]].strings[called[1]]
        time.sleep(0.3)
        replica = pistol if string.weapon == "pistol" else taser
        replica.draw()
        replica.set_safety(False)
        for _ in range(string.shots):
            replica.press_trigger()
            time.sleep(0.1)
            replica.release_trigger()
            time.sleep(0.2)
    out = process.stdout.read()
    assert process.wait(timeout=60) == 0, "\n".join(said[-40:])
    result = json.loads(out)
    assert sum(line == "BEEP" for line in said) == 3, "\n".join(said)
    samples = json.loads(frames.read_text())
    for s in samples:  # shown when the test fails
        print({k: v for k, v in s.items() if k != "mvp"})
    by_string = {
        key: [s for s in samples if (s["stage"], s["string"]) == key]
        for key in ((0, 0), (0, 1), (1, 0))
    }
    assert all(by_string.values()), [(s["stage"], s["string"]) for s in samples]
    # The paper target hangs at each pistol string's distance: its drawn top and left edges
    # are where the runtime's projection puts them at that distance (to 3 pixels), and its
    # image shrinks from 3 to 7 yards.
    target = TARGETS[course.target]
    half_w, half_h = target.width_in * IN_M / 2, target.height_in * IN_M / 2
    areas = []
    for key in ((0, 0), (0, 1)):
        s = next(s for s in by_string[key] if s["phase"] == "standby")
        assert s["paper_top"] is not None, s
        d = float(s["distance_m"])
        # Its drawn top-left edges at its distance, to a pixel; its drawn area (less its zones'
        # outlines) that of the paper at its distance, and not at 15 % nearer or farther (a
        # third more or a quarter less).
        error = _edge_error(s, half_w, half_h, d)
        ratios = [s["paper_pixels"] / _area(s, half_w, half_h, d * k) for k in (1.0, 0.85, 1.15)]
        assert error <= 1.0 and 0.85 < ratios[0] <= 1.02, (key, error, ratios)
        areas.append(s["paper_pixels"])
    assert areas[0] > 3 * areas[1], areas  # (7/3)^2 = 5.4 times the area at 3 yd
    # The TASER string: no paper target; its subject stands at 10 ft, its clothing at the chest.
    taser_samples = by_string[(1, 0)]
    assert all(s["paper_pixels"] < areas[1] / 4 for s in taser_samples), taser_samples
    chest = taser_samples[0]["chest"]
    assert chest is not None and chest[0] < 110 and chest[2] > chest[0] + 40, chest
    # The range timer's cue: amber during each STANDBY, green at each start signal.
    for key, seen in by_string.items():
        standby = next(s for s in seen if s["phase"] == "standby")
        go = next(s for s in seen if s["phase"] == "go")
        assert standby["cue"] == "STANDBY" and go["cue"] == "GO", (key, standby, go)
        r, g, b = standby["cue_rgb"]
        assert r > 200 and 110 < g < 200 and b < 60, (key, standby["cue_rgb"])
        r, g, b = go["cue_rgb"]
        assert g > 180 and r < 80 and b < 100, (key, go["cue_rgb"])
    # The replica is drawn at the controller's pose, through its profile: the pistol dark, the
    # TASER yellow, at the slide's pixel once the string is under way.
    for s in samples:
        if s["phase"] == "go" and s["muzzle_drawn"] is not None:
            off = np.subtract(s["muzzle_drawn"], s["muzzle_want"])
            assert np.linalg.norm(off) < 1e-3, (s["muzzle_drawn"], s["muzzle_want"])
    pistol_px = next(s["slide"] for s in by_string[(0, 0)] if s["phase"] == "go")
    assert pistol_px is not None and max(pistol_px) < 60, pistol_px
    taser_px = next(s["slide"] for s in by_string[(1, 0)] if s["phase"] == "go")
    assert taser_px is not None and taser_px[0] > 2 * taser_px[2], taser_px
    # No wire before the cartridge is fired; the wires from the replica to its probes after.
    assert all(s["wire_pixels"] == 0 for s in samples if s["markers"] <= 4), samples
    assert any(s["wire_pixels"] > 0 for s in taser_samples if s["markers"] > 4), taser_samples
    # Every round's hole and every probe got a marker.
    events = [
        json.loads(line)
        for line in next((WORK / "runs").glob("*/events.jsonl")).read_text().splitlines()
    ]
    shots = [e for e in events if e["kind"] == "shot"]
    probes = [i for e in events if e["kind"] == "deployment" for i in e["impacts"]]
    assert len(shots) == 4
    assert samples[-1]["markers"] == len(shots) + len(probes), samples[-1]
    assert result["qualification"] is not None


# One pistol string, its par long enough for another application to start during it.
HEADSET_OFF_COURSE = f"""
id = "live-headset-off-v1"
version = 1
title = "Live course: the headset taken off during a string"
source = "tests/test_xr_live_course.py: the headset off during a live string"
target = "qit99"
pass_mark = {{ hits = 2 }}

[[stages]]
name = "pistol"
strings = [{{ distance_yd = {NEAR_YD}, start = "ready", rounds = 2, par_time_s = 10.0 }}]
"""
# A second application: Monado gives it the focus while it runs, and ours leaves FOCUSED (what
# taking the headset off does), as tests/test_xr_live_drill.py's drill pause test does it.
OTHER = r"""
from range.review.render import Scene
from range.xr.headset import run_headset
scene = Scene()
scene.lane(10.0, 4.0)
run_headset(scene, 90)
"""


def test_a_live_string_is_reshot_when_the_headset_comes_off(
    monado_remote: MonadoSandbox, lane: XRLane
) -> None:
    """Issue 16: the session leaving FOCUSED during a live string cuts it like a device fault:
    the officer is told it will be reshot, the range timer stops (STANDBY drawn while the
    focus is away, a round fired meanwhile not counted), the lane waits until FOCUSED again and
    the string is reshot once; the log says why, and rescoring it gives the attempt's score."""
    rig, pistol = lane.rig, lane.pistol
    course_file = WORK / "live-headset-off-v1.toml"
    course_file.write_text(HEADSET_OFF_COURSE)
    course = load_course(course_file)
    profiles = WORK / "profiles"
    save_calibrated_profiles(profiles)
    pistol.magazine_in, pistol.rounds, pistol.chambered = True, 9, True
    rig.move("right", _trackers(course)["0,0"])
    frames = WORK / "frames.json"
    command = monado_remote._in_chroot(
        "-c", PLAY, "{}", str(frames),
        "course", "run", str(course_file), "--port", str(pistol.port),
        "--profiles", str(profiles), "--runs-dir", str(WORK / "runs"), "--json",
        "--seed", "3",  # the range timer's STANDBY: 1.2 s, then 1.5 s
    )  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stderr is not None and process.stdout is not None
    said: list[str] = []
    other: subprocess.Popen[str] | None = None

    def fire(rounds: int) -> None:
        for _ in range(rounds):
            pistol.press_trigger()
            time.sleep(0.1)
            pistol.release_trigger()
            time.sleep(0.2)

    try:
        for line in process.stderr:
            said.append(line.rstrip())
            if line.strip() == "BEEP" and other is None:
                time.sleep(0.3)
                pistol.draw()
                pistol.set_safety(False)
                fire(1)
                # The headset comes off: another application takes the focus for a while.
                other = subprocess.Popen(
                    monado_remote._in_chroot("-c", OTHER),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                )  # fmt: skip
            elif line.startswith("headset off: stage 1 string 1"):
                fire(1)  # with the headset off: not counted
            elif line.strip() == "BEEP":
                time.sleep(0.3)
                fire(2)  # the reshoot
        out = process.stdout.read()
        assert process.wait(timeout=60) == 0, "\n".join(said[-40:])
    finally:
        if process.poll() is None:
            process.kill()
        if other is not None:
            other.wait(timeout=60)
    assert other is not None and other.returncode == 0, other.stderr and other.stderr.read()
    result = json.loads(out)
    at = said.index("headset off: stage 1 string 1 will be reshot")
    assert "shot while the headset is off: not counted" in said[at:], said
    assert "headset on" in said[at:] and sum(line == "BEEP" for line in said) == 2, said
    # Meanwhile the runtime shows our session nothing (it asks for no frames); the frames drawn
    # either side of the pause are seconds apart: the cut string's GO before, STANDBY (amber)
    # after, as the headset goes back on (the cut string is not timed on).
    samples = json.loads(frames.read_text())
    before, after = max(pairwise(samples), key=lambda pair: pair[1]["now_s"] - pair[0]["now_s"])
    gap = after["now_s"] - before["now_s"]
    shown = [before["phase"], after["phase"], after["cue"]]
    assert gap > 1.0 and shown == ["go", "standby", "STANDBY"], (gap, before, after)
    # The log: the cut string's round, the string_faulted saying why (stamped once the focus was
    # back), and the reshoot's two rounds; only those two are scored, and a rescore agrees.
    run_dir = next((WORK / "runs").glob("*/events.jsonl")).parent
    records = read_events(run_dir)
    kinds = [r.kind for r in records if r.kind in ("string_started", "shot", "string_faulted")]
    assert kinds == [
        "string_started", "shot", "string_faulted", "string_started", "shot", "shot",
    ], kinds  # fmt: skip
    faulted = next(r for r in records if r.kind == "string_faulted")
    assert faulted.data == {"stage": 0, "string": 0, "reshoot": True, "reason": HEADSET_OFF}
    cut = next(r for r in records if r.kind == "shot")
    assert faulted.t - cut.t > 1.0  # held while the other application had the focus
    assert result["reshot"] == [[0, 0]] and result["score"]["hits"] == 2, result
    rescored = judged_attempt(rescore_attempt(course, records), simulated=False)  # an officer's
    assert json.loads(json.dumps(rescored)) == result["score"]
