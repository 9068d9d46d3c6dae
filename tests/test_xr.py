"""OpenXR through pyopenxr against a real runtime: Monado in a Debian trixie chroot.

The sandbox needs root (to mount the chroot) and builds the chroot once (about 80 s); CI runs as
root, so CI runs these tests. Elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from xr_sandbox import MonadoSandbox

PROJECT = Path(__file__).resolve().parent.parent

POSE_SOURCE = """
import json
from range.xr.runtime import OpenXRPoses
with OpenXRPoses() as source:
    focused = source.wait_for("FOCUSED", 10.0)
    poses = source.update()
    weapon = source.pose("weapon", poses["aim"].time_s)
    assert weapon.position_m == poses["aim"].position_m
    out = {
        "runtime": source.runtime_name, "system": source.system_name, "states": source.states,
        "focused": focused, "trigger": source.trigger(),
        "poses": {k: {"position": v.position_m, "forward": list(v.forward()), "valid": v.valid,
                      "tracked": v.tracked, "time_s": v.time_s} for k, v in poses.items()},
    }
print(json.dumps(out))
"""


def test_xr_check_reports_the_runtime(monado: MonadoSandbox) -> None:
    done = monado.python(
        "from range.cli.main import main; raise SystemExit(main())", "xr", "check", "--json"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["runtime"] == "Monado(XRT) by Collabora et al '25.0.0+dfsg-2'"
    assert "Simulated HMD" in report["system"]
    assert "XR_MND_headless" in report["extensions"] and report["headless"]
    assert "/interaction_profiles/valve/index_controller" in report["profiles"]


def test_the_pose_source_walks_the_session_and_locates_poses(monado: MonadoSandbox) -> None:
    done = monado.python(POSE_SOURCE)
    assert done.returncode == 0, done.stderr  # and the session shut down cleanly
    out = json.loads(done.stdout)
    assert out["states"][:5] == ["IDLE", "READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED"]
    aim = out["poses"]["aim"]
    assert aim["valid"] and aim["tracked"]
    # Monado's simulated right controller, in the physics frame: ahead, to the right, at chest
    # height, pointing downrange (OpenXR's -Z became +X).
    x, y, z = aim["position"]
    assert x > 0.2 and y < 0.0 and 1.0 < z < 1.6
    assert aim["forward"][0] == pytest.approx(1.0, abs=0.05)
    assert out["poses"]["head"]["valid"]
    assert out["trigger"] == 0.0  # simulated controllers never press anything


TRACKER = """
from range.xr.runtime import OpenXRPoses, XRUnavailableError
try:
    OpenXRPoses(hand="tracker").open()
except XRUnavailableError as exc:
    print(exc)
"""


def test_a_tracker_on_a_runtime_without_the_extension_is_refused_by_name(
    monado: MonadoSandbox,
) -> None:
    """Monado does not offer XR_HTCX_vive_tracker_interaction: the tracker path cannot run
    here, and asking for it says so and what to do instead."""
    done = monado.python(TRACKER)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "does not offer XR_HTCX_vive_tracker_interaction" in done.stdout
    assert "--hand left or right" in done.stdout


def test_with_no_runtime_xr_check_says_so_in_one_line(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        XR_RUNTIME_JSON=str(tmp_path / "none.json"),
        HOME=str(tmp_path),
        XDG_CONFIG_DIRS=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path),
    )
    done = subprocess.run(
        [sys.executable, "-m", "range", "xr", "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
    )
    assert done.returncode == 6
    assert done.stderr.count("\n") == 1 and "no OpenXR runtime" in done.stderr
    assert done.stdout == ""
    # --json: the same line, and an object on stdout a script can parse.
    done = subprocess.run(
        [sys.executable, "-m", "range", "xr", "check", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
    )
    assert done.returncode == 6
    assert done.stderr.count("\n") == 1 and "no OpenXR runtime" in done.stderr
    report = json.loads(done.stdout)
    assert report["runtime"] is None and "no OpenXR runtime" in report["error"]


HEADSET = """
import json, math
import numpy as np
from physics.body import SubjectBody
from range.xr.headset import run_headset
from range.review.render import SKY, Scene

scene = Scene()
scene.lane(20.0, 8.0)
scene.subject(SubjectBody(), (3.0, 0.0, 0.0), math.pi)
pixels = []

def look(eye, framebuffer, renderer):
    w, h = framebuffer.size
    image = np.frombuffer(framebuffer.read(components=3), dtype=np.uint8).reshape(h, w, 3)[::-1]
    pixels.append({"eye": eye, "top": image[2, w // 2].tolist(),
                   "bottom": image[h - 3, w // 2].tolist()})

run = run_headset(scene, 8, look)
print(json.dumps({"frames": run.frames, "views": run.views, "sizes": run.image_sizes,
                  "recommended": run.recommended_sizes, "pixels": pixels[-2:],
                  "sky": [round(c * 255) for c in SKY],
                  "eye_x": [e.position_m[1] for e in run.eyes[-2:]],
                  "aims": len(run.aims), "aim_valid": run.aims[-1].valid,
                  "aim_tracked": run.aims[-1].tracked, "aim_at": run.aims[-1].position_m}))
"""


def test_the_headset_gets_both_eyes_in_its_swapchain_images(monado: MonadoSandbox) -> None:
    """A graphics-bound session (OpenGL through EGL): the scene lands in each eye's swapchain
    image, at the runtime's recommended size, sky above and floor below; the same session
    locates the replica hand's aim pose through our action set."""
    done = monado.python(HEADSET)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["frames"] == 8 and out["views"] >= 2 * 6
    # Every eye's image is the size the runtime recommends for it.
    assert {tuple(s) for s in out["sizes"]} == {tuple(s) for s in out["recommended"]}
    for eye in out["pixels"]:
        assert max(abs(a - b) for a, b in zip(eye["top"], out["sky"], strict=True)) <= 2
        assert eye["bottom"] != eye["top"]  # the floor, not the sky
    left, right = out["eye_x"]
    assert left > right  # the left eye sits to the left (+Y in the physics frame)
    assert out["aims"] == out["frames"]
    assert out["aim_valid"] and out["aim_tracked"]
    assert out["aim_at"] != [0.0, 0.0, 0.0]
