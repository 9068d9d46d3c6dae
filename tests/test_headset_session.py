"""The lane's one graphics-bound OpenXR session against the real Monado runtime (its remote
driver, whose right controller the test moves with `RemoteRig`): it renders frames whose subject
moves between them by transforms, draws the replica at the controller's pose, locates poses on
the host clock, and reports the session leaving FOCUSED when another application takes the
headset's focus (what Monado does when a second application starts; a headset taken off does
the same on a device with a proximity sensor).

Needs root and the Monado chroot (tests/xr_sandbox.py); skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from xr_sandbox import MonadoSandbox, RemoteRig, with_display

from physics.pose import Pose, look_rotation

# The replica's muzzle: ahead of the remote driver's head (1.6 m up at the stage origin,
# looking downrange, +X in the physics frame), a little right and below eye level.
MUZZLE_A = (0.55, -0.10, 1.45)
MUZZLE_B = (0.55, 0.12, 1.40)

SESSION = r"""
import json, math, subprocess, sys, time
import numpy as np
from physics.body import SubjectBody
from physics.pose import Pose
from range.review.render import COLOURS, Scene
from range.xr.session import HeadsetSession

rig_at = json.loads(sys.argv[1])
out = {"frames": [], "states": []}
SUBJECT_A, SUBJECT_B = (4.0, 0.9, 0.0), (4.0, -0.9, 0.0)

def pixel(image, mvp, point):
    clip = mvp @ np.array([*point, 1.0])
    ndc = clip[:3] / clip[3]
    h, w, _ = image.shape
    col, row = int((ndc[0] + 1) / 2 * w), int((1 - ndc[1]) / 2 * h)
    return [col, row, image[row, col].tolist()]

with HeadsetSession(hand="right") as session:
    renderer = session.renderer
    lane = Scene()
    lane.lane(10.0, 4.0)
    renderer.load(lane)
    renderer.add_subject("s1", SubjectBody())
    replica = Scene()
    replica.weapon(Pose((0.0, 0.0, 0.0)), "pistol")
    renderer.add_prop("replica", replica)
    n = 0
    while not session.state == "FOCUSED" and n < 400:
        session.frame()
        n += 1
    out["time_extension"] = session.time_extension
    where = {"subject": SUBJECT_A}

    def prepare(poses):
        renderer.pose_prop("replica", poses["aim"])
        x, y, z = where["subject"]
        renderer.pose_subject("s1", (x, y, z), math.pi)

    def read(record):
        def draw(eye, framebuffer, mvp, camera):
            renderer.draw(framebuffer, mvp)
            if eye != 0:
                return
            w, h = framebuffer.size
            image = np.frombuffer(framebuffer.read(components=3), dtype=np.uint8)
            image = image.reshape(h, w, 3)[::-1]
            record["size"] = [w, h]
            record["chest_a"] = pixel(image, mvp, (SUBJECT_A[0], SUBJECT_A[1], 1.3))
            record["chest_b"] = pixel(image, mvp, (SUBJECT_B[0], SUBJECT_B[1], 1.3))
            # The slide: 9 cm behind the muzzle along the bore (Scene.weapon).
            for name, muzzle in rig_at.items():
                slide = (muzzle[0] - 0.09, muzzle[1], muzzle[2])
                record[name] = pixel(image, mvp, slide)
        return draw

    # Frame 1: the subject at A, the controller where the test put it (A).
    for subject in (SUBJECT_A, SUBJECT_B):
        where["subject"] = subject
        record = {"subject": list(subject)}
        frame = session.frame(read(record), prepare)
        record["rendered"] = frame.rendered
        record["focused"] = frame.focused
        aim = frame.poses["aim"]
        record["aim"] = {"position": list(aim.position_m), "forward": list(aim.forward()),
                         "valid": aim.valid, "tracked": aim.tracked, "time_s": aim.time_s}
        record["display_s"] = frame.display_s
        record["host_now_s"] = session.clock.now_s()
        record["weapon_at_display"] = list(session.pose("weapon", frame.display_s).position_m)
        out["frames"].append(record)
    print("MOVE", flush=True)
    sys.stdin.readline()  # the test moved the controller to B
    for _ in range(6):  # the remote driver's packet reaches the runtime within a few frames
        record = {}
        session.frame(read(record), prepare)
    out["moved"] = record
    # Another application starts: Monado gives it the focus; ours must say it lost it.
    other = subprocess.Popen([sys.executable, "-c", sys.argv[2]], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20.0
    seen = []
    while time.monotonic() < deadline:
        frame = session.frame()
        seen += list(frame.states)
        if other.poll() is not None and "FOCUSED" in seen[seen.index("VISIBLE") + 1:] \
                if "VISIBLE" in seen else False:
            break
        if not frame.rendered:
            time.sleep(0.01)
    other.wait(timeout=30)
    out["while_other"] = seen
    out["other_rc"] = other.returncode
    out["states"] = session.states
    out["frames_rendered"] = session.frames
print(json.dumps(out))
"""

OTHER = r"""
from physics.body import SubjectBody
from range.review.render import Scene
from range.xr.headset import run_headset
scene = Scene()
scene.lane(10.0, 4.0)
run_headset(scene, 90)
"""


def _sky_like(rgb: list[int]) -> bool:
    from range.review.render import SKY

    return max(abs(a - round(b * 255)) for a, b in zip(rgb, SKY, strict=True)) <= 3


def test_one_session_renders_moving_subjects_the_replica_at_the_controller_and_focus_loss(
    monado_remote: MonadoSandbox,
) -> None:
    rig_at = {"replica_a": MUZZLE_A, "replica_b": MUZZLE_B}
    with RemoteRig().connect() as rig:
        rig.move("right", Pose(MUZZLE_A, look_rotation((1.0, 0.0, 0.0))))
        command = monado_remote._in_chroot("-c", SESSION, json.dumps(rig_at), OTHER)
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stdin is not None
        line = process.stdout.readline()
        assert line.strip() == "MOVE", process.stderr.read()[-3000:] if process.stderr else line
        rig.move("right", Pose(MUZZLE_B, look_rotation((1.0, 0.0, 0.0))))
        process.stdin.write("\n")
        process.stdin.flush()
        stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 0, stderr[-3000:]
    out = json.loads(stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=1), file=sys.stderr)
    first, second = out["frames"]
    assert first["rendered"] and first["focused"] and second["rendered"]
    # The subject moved between the frames, by its transform alone: its chest is drawn at A in
    # the first and at B in the second, and the other place shows what is behind it.
    assert first["chest_a"][2] != second["chest_a"][2]
    assert first["chest_b"][2] != second["chest_b"][2]
    assert not _sky_like(first["chest_a"][2]) and not _sky_like(second["chest_b"][2])
    # The aim pose located by the same session is where the rig put the controller, stamped on
    # the host clock at the frame's predicted display (a little ahead of now).
    aim = first["aim"]
    assert aim["valid"] and aim["tracked"]
    assert all(abs(a - b) < 0.01 for a, b in zip(aim["position"], MUZZLE_A, strict=True))
    assert aim["forward"][0] == pytest.approx(1.0, abs=0.02)
    assert aim["time_s"] == first["display_s"]
    assert -0.2 < first["display_s"] - first["host_now_s"] < 0.2
    assert first["weapon_at_display"] == aim["position"]
    # The replica is drawn at the controller's pose (the weapon's near-black), and follows it.
    weapon_dark = 40
    assert max(first["replica_a"][2]) < weapon_dark, first["replica_a"]
    assert max(first["replica_b"][2]) > weapon_dark, first["replica_b"]
    moved = out["moved"]
    assert max(moved["replica_b"][2]) < weapon_dark, moved["replica_b"]
    assert max(moved["replica_a"][2]) > weapon_dark, moved["replica_a"]
    # Another application took the focus and gave it back: our session reported leaving
    # FOCUSED (the drill pauses) and coming back.
    seen = out["while_other"]
    assert "VISIBLE" in seen, out["states"]
    assert "FOCUSED" in seen[seen.index("VISIBLE") :]
    assert math.isfinite(first["display_s"])


def test_what_a_runtime_lacks_is_one_named_line_each() -> None:
    from range.xr.runtime import missing_for_headless
    from range.xr.session import missing_for_headset

    # A desktop runtime on Windows: OpenGL and the performance-counter conversion, no EGL
    # binding (the session renders through the desktop's GL context): it lacks nothing.
    assert (
        missing_for_headset(
            ("XR_KHR_opengl_enable", "XR_KHR_win32_convert_performance_counter_time")
        )
        == []
    )
    lacks = missing_for_headset(("XR_MNDX_egl_enable",))
    assert len(lacks) == 2
    assert lacks[0].startswith("no OpenGL graphics binding (XR_KHR_opengl_enable)")
    assert lacks[1].startswith("no time conversion (XR_KHR_convert_timespec_time or")
    assert (
        missing_for_headset(
            ("XR_MNDX_egl_enable", "XR_KHR_opengl_enable", "XR_KHR_convert_timespec_time")
        )
        == []
    )
    assert [line.split(" (")[0] for line in missing_for_headless(())] == [
        "no XR_MND_headless",
        "no XR_KHR_convert_timespec_time",
    ]


def test_xr_check_says_monado_lacks_nothing(monado_remote: MonadoSandbox) -> None:
    done = monado_remote.python(
        "from range.cli.main import main; raise SystemExit(main())", "xr", "check"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "lacks:" not in done.stdout
    done = monado_remote.python(
        "from range.cli.main import main; raise SystemExit(main())", "xr", "check", "--json"
    )
    assert json.loads(done.stdout)["missing"] == []


HEADSET_REPLAY = r"""
import json, sys
from pathlib import Path
import numpy as np
from range.review.replay import play_headset
from range.runs.runlog import read_events

run_dir = Path(sys.argv[1])
records = read_events(run_dir)
seen = {}

def look(eye, framebuffer, mvp, t):
    if eye != 0:
        return
    w, h = framebuffer.size
    image = np.frombuffer(framebuffer.read(components=3), dtype=np.uint8).reshape(h, w, 3)[::-1]
    seen.update(image=image, mvp=mvp, t=t, size=[w, h])

play_headset(run_dir, "subject", frames=20, on_view=look)
t = seen["t"]
ox, oy = [r for r in records if r.kind == "positions" and r.t <= t + 1e-9][-1].data["officer"]
w, h = seen["size"]
clip = seen["mvp"] @ np.array([ox, oy, 1.3, 1.0])
col, row = int((clip[0] / clip[3] + 1) / 2 * w), int((1 - clip[1] / clip[3]) / 2 * h)
image = seen["image"].astype(int)
mask = (image.max(axis=2) < 70) & (image[..., 2] >= image[..., 0])
rows, cols = np.nonzero(mask)
print(json.dumps({"officer_pixels": int(mask.sum()), "chest": [col, row], "size": [w, h],
                  "chest_dark": bool(mask[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2].any()),
                  "median_col": float(np.median(cols)) if len(cols) else -1.0, "t": t}))
"""


def test_a_replay_plays_in_the_headset_from_the_subject_s_eyes(
    monado_remote: MonadoSandbox,
) -> None:
    """`openrange replay RUN --as subject` with a runtime present: the headset session
    renders the replay (the run lives in the project: the chroot sees only that)."""
    import shutil
    import uuid

    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    runs = monado_remote.project / ".cache" / f"replay-{uuid.uuid4().hex[:8]}"
    try:
        result = run_drill(
            RunConfig(
                find_drill("knife-approach-v1"), find_officer("taser-first-v1"), 3, runs_dir=runs
            )
        )
        assert result.run_dir is not None
        done = monado_remote.python(
            "from range.cli.main import main; raise SystemExit(main())",
            "replay",
            str(result.run_dir),
            "--as",
            "subject",
            "--frames",
            "20",
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "20 frames shown in the headset"
        # The left eye's image, read back from its swapchain image: the officer (his dark
        # uniform) where the log puts him at that run time.
        done = monado_remote.python(HEADSET_REPLAY, str(result.run_dir))
        assert done.returncode == 0, done.stderr[-2000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["officer_pixels"] > 10, out
        assert out["chest_dark"], out
        assert abs(out["median_col"] - out["chest"][0]) < 0.03 * out["size"][0] + 3, out
    finally:
        shutil.rmtree(runs, ignore_errors=True)


HEADSET_AND_MIRROR = r"""
import json, math
import numpy as np
from physics.body import SubjectBody
from physics.pose import Pose, look_rotation
from range.review.mirror import LiveMirror
from range.review.render import Scene, view_projection
from range.xr.session import HeadsetSession

def project(camera, point):
    clip = view_projection(camera, 70.0, 320 / 180) @ np.array([*point, 1.0])
    return [(clip[0] / clip[3] + 1) / 2 * 320, (1 - clip[1] / clip[3]) / 2 * 180]

out = []
with HeadsetSession(binding=BINDING) as session:
    renderer = session.renderer
    lane = Scene()
    lane.lane(10.0, 4.0)
    renderer.load(lane)
    renderer.add_subject("s1", SubjectBody())
    n = 0
    while session.state != "FOCUSED" and n < 400:
        session.frame()
        n += 1
    eye = Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, -0.1)))
    with LiveMirror((320, 180)) as mirror:
        for y in (0.8, -0.8):
            def prepare(poses, y=y):
                renderer.pose_subject("s1", (4.0, y, 0.0), math.pi)
            frame = session.frame(prepare=prepare)
            shown = mirror.show(renderer, eye, activate=session.make_current)
            window = mirror.read()
            blue = np.nonzero(window[..., 2] > window[..., 0] + 50)
            out.append({"rendered": frame.rendered,
                        "same": int(np.abs(window.astype(int) - shown).max()),
                        "cols": [int(blue[1].min()), int(blue[1].max())],
                        "chest": project(eye, (4.0, y, 1.2))})
        frame = session.frame()
        out.append({"rendered": frame.rendered, "views": frame.views})
print(json.dumps(out))
"""


GLX = r"""
import json
import numpy as np
from range.review.render import SKY, Scene
from range.xr.session import HeadsetSession

out = {"eyes": {}}
with HeadsetSession(binding="glx") as session:
    lane = Scene()
    lane.lane(10.0, 4.0)
    session.renderer.load(lane)
    n = 0
    while session.state != "FOCUSED" and n < 400:
        session.frame()
        n += 1

    def draw(eye, framebuffer, mvp, camera):
        session.renderer.draw(framebuffer, mvp)
        w, h = framebuffer.size
        image = np.frombuffer(framebuffer.read(components=3), dtype=np.uint8).reshape(h, w, 3)
        image = image[::-1]
        out["eyes"][eye] = {"top": image[2, w // 2].tolist(),
                            "bottom": image[h - 3, w // 2].tolist()}

    frame = session.frame(draw)
    out.update(rendered=frame.rendered, focused=frame.focused, binding=session.binding,
               aim_valid=frame.poses["aim"].valid, sky=[round(c * 255) for c in SKY])
print(json.dumps(out))
"""


def test_without_the_egl_binding_the_headset_renders_through_the_desktop_s_glx(
    monado_remote: MonadoSandbox,
) -> None:
    """The binding every desktop runtime offers (`XrGraphicsBindingOpenGLXlibKHR` with
    XR_KHR_opengl_enable), forced here with `binding="glx"`: nothing Monado-only is needed."""
    done = with_display(monado_remote, GLX)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["binding"] == "glx" and out["rendered"] and out["focused"] and out["aim_valid"]
    assert set(out["eyes"]) == {"0", "1"}
    for eye in out["eyes"].values():
        assert max(abs(a - b) for a, b in zip(eye["top"], out["sky"], strict=True)) <= 2
        assert eye["bottom"] != eye["top"]  # the floor


@pytest.mark.parametrize("binding", ["egl", "glx"])
def test_the_live_mirror_shares_the_process_with_the_headset_session(
    monado_remote: MonadoSandbox, binding: str
) -> None:
    """The instructor's window (GLFW, on an Xvfb display reached over TCP from the chroot) and
    the headset's session in one process, both through EGL or both through GLX: the window
    shows the frame's scene as the frame loop moved it, and the headset keeps rendering after
    the window drew."""

    done = with_display(monado_remote, HEADSET_AND_MIRROR.replace("BINDING", repr(binding)))
    assert done.returncode == 0, done.stderr[-3000:]
    left, right, after = json.loads(done.stdout.strip().splitlines()[-1])
    for frame in (left, right):
        assert frame["rendered"] and frame["same"] == 0
        assert frame["cols"][0] - 2 <= frame["chest"][0] <= frame["cols"][1] + 2
    assert right["cols"][0] > left["cols"][1]
    assert after["rendered"] and after["views"] == 2
    assert "XR_ERROR" not in done.stderr  # the session closed as OpenXR allows


def test_frames_missed_are_display_periods_skipped() -> None:
    from range.xr.session import skipped_periods

    period = 11_111_111  # 90 Hz
    assert skipped_periods(0, period, period) == 0
    assert skipped_periods(0, period + 2_000_000, period) == 0  # runtime jitter, not a miss
    assert skipped_periods(0, 3 * period, period) == 2
    assert skipped_periods(0, period, 0) == 0  # no period reported: nothing to count against


def test_a_headset_replay_starts_the_wearer_at_the_viewer_s_eyes() -> None:
    from range.review.replay import place_in_run

    head = Pose((0.3, -0.2, 1.65), look_rotation((0.0, 1.0, 0.0)))  # stage: facing +Y
    viewer = Pose((9.0, 0.5, 1.55), look_rotation((-1.0, 0.0, -0.2)))  # the run: facing -X
    placed = place_in_run(head, head, viewer)
    assert placed.position_m == pytest.approx(viewer.position_m)
    forward = placed.rotation()[:, 0]
    assert forward == pytest.approx([-1.0, 0.0, 0.0], abs=1e-9)  # the viewer's heading
    # A step 0.5 m forward in the stage is 0.5 m along the viewer's heading in the run.
    step = Pose((0.3, 0.3, 1.65), head.orientation)
    moved = place_in_run(step, head, viewer)
    assert moved.position_m == pytest.approx((8.5, 0.5, 1.55))
