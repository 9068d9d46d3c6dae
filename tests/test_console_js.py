"""The console page's pure text helpers (range/console/static/console.js), run under Node where
it is installed: the lane's status line for a drill and for a course."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent.parent / "range" / "console" / "static" / "console.js"
NODE = shutil.which("node")


def _call(function: str, *args: object) -> object:
    """`function(*args)` from console.js, its source cut out of the file (the page's other code
    needs a browser)."""
    source = JS.read_text(encoding="utf-8")
    found = re.search(rf"^function {function}\(.*?^\}}$", source, re.M | re.S)
    assert found, f"console.js has no function {function}"
    program = f"{found.group(0)}\nconsole.log(JSON.stringify({function}(...{json.dumps(args)})));"
    assert NODE is not None
    done = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


pytestmark = pytest.mark.skipif(NODE is None, reason="needs node")


def test_a_course_s_clock_has_no_undefined_limit() -> None:
    # Issue 18 (nu18 #8): "running 2.76 s of undefined s" for a course (no time limit).
    assert _call("clockText", {"status": "running", "t_s": 2.757, "kind": "course"}) == "2.76 s"
    assert _call("clockText", {"t_s": 1.5, "time_limit_s": 60}) == "1.50 s of 60 s"
    assert _call("clockText", {"status": "idle"}) == ""


def test_the_status_line_names_a_drill_file_s_drill_by_its_title() -> None:
    # Issue 18 (nu18 #14): a drill started from a file showed the file's path.
    state = {
        "drill": "/tmp/my-drills/knife.toml",
        "drill_id": "knife-approach-v1",
        "title": "Knife approach",
        "officer_name": "Alex",
        "seed": 3,
    }
    assert _call("runText", state) == "Knife approach (knife-approach-v1), officer Alex, seed 3"
    course = {"course": "fbi-pistol-2019-v1", "title": "FBI pistol", "officer_name": "A", "seed": 1}
    assert _call("runText", course) == "FBI pistol (fbi-pistol-2019-v1), officer A, seed 1"


def _run(functions: list[str], expression: str) -> object:
    """The JSON of `expression` evaluated with `functions` cut out of console.js."""
    source = JS.read_text(encoding="utf-8")
    parts = []
    for name in functions:
        found = re.search(rf"^function {name}\(.*?^\}}$", source, re.M | re.S)
        assert found, f"console.js has no function {name}"
        parts.append(found.group(0))
    program = "\n".join(parts) + f"\nconsole.log(JSON.stringify({expression}));"
    assert NODE is not None
    done = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_map_s_distance_labels_stay_inside_the_canvas() -> None:
    # Issue 18 (f18c #6): the "60 ft" label of a 60 ft lane ran off the map's right edge.
    char_px = 6.5  # about the canvas's 10 px sans-serif
    for width, height in ((520, 240), (320, 120)):
        k = min(width / (60 + 4), height / (20 + 2))  # drawMap's scale for a 60 x 20 ft lane
        labels = _run(
            ["insideX", "tickLabels"],
            f"tickLabels(60, {k}, {width}, {height}, (t) => t.length * {char_px})",
        )
        assert isinstance(labels, list)
        assert [t for t, _, _ in labels] == [f"{f} ft" for f in range(0, 70, 10)]
        for text, x, _ in labels:
            assert x >= 0 and x + len(text) * char_px <= width, (width, text, x)
    assert _run(["insideX"], "insideX(510, 30, 520)") == 489
    assert _run(["insideX"], "insideX(-4, 30, 520)") == 1
