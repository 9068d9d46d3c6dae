"""A valid drill file for tests to edit one line at a time, and the writer they share
(tests/test_drills.py walks it; tests/test_errors.py breaks it)."""

from __future__ import annotations

from pathlib import Path

GOOD = """\
id = "test-walk-v1"
version = 1
title = "t"
rationale = "r"
expected_response = "e"
time_limit_s = 10.0

[[subjects]]
id = "s"
start_distance_ft = 30.0
start_phase = "wait"

[[phases]]
id = "wait"
subject = "s"
behaviour = "passive_resistance"
[[phases.transitions]]
to = "walk"
after_s = 1.0

[[phases]]
id = "walk"
subject = "s"
behaviour = "assaultive"
movement = "advance"
speed_mps = 2.0
[[phases.transitions]]
to = "stop"
within_ft = 20.0
[[phases.transitions]]
to = "give_up"
on = "verbal_command"

[[phases]]
id = "stop"
subject = "s"
behaviour = "surrendered"
ends_drill = true

[[phases]]
id = "give_up"
subject = "s"
behaviour = "compliant"
ends_drill = true
"""


def drill_file(tmp_path: Path, text: str = GOOD, name: str = "d.toml") -> Path:
    """`text` written to `tmp_path / name` (UTF-8); the path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# The live-drill tests' ending (tests/test_live_drill.py, test_xr_drill.py, test_xr_live_drill.py):
# subject "subject" in "standoff" until the TASER's probes connect, then incapacitated, in
# custody a second later, and the drill ends.
TASER_ENDS_IT = """\
[[phases]]
id = "standoff"
subject = "subject"
behaviour = "active_resistance"
[[phases.transitions]]
to = "controlled"
on = "probes_connected"

[[phases]]
id = "controlled"
subject = "subject"
behaviour = "incapacitated"
[[phases.transitions]]
to = "in_custody"
after_s = 1.0

[[phases]]
id = "in_custody"
subject = "subject"
behaviour = "surrendered"
ends_drill = true
"""
