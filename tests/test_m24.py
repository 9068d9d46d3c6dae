"""m24: leftovers from nu24 (#17, DEESC-02 for "Police!" alone) and helpers' notes (the kept
officer and shooter files checked against their logged hashes, a drive-stun's FORCE-01 line,
`records verify` and a sheet sealed with a damaged shot row). Each judged from a real run
in-process."""

from __future__ import annotations

from pathlib import Path

from drills.officer import find_officer
from drills.schema import parse_drill
from range.runs.drill import RunConfig, run_drill
from scoring.score import Kind, Score

# /tmp/nu24-bad/ts-btn.toml, shortened and in built-in words: the driver argues (active
# resistance) and the instructor's `comply` ends the drill.
TS_BTN = """
id = "m24-ts-btn-v1"
version = 1
title = "m24: the instructor decides"
rationale = "r"
expected_response = "e"
time_limit_s = 6.0

[[subjects]]
id = "driver"
start_distance_ft = 15.0
start_phase = "argues"

[[phases]]
id = "argues"
subject = "driver"
behaviour = "active_resistance"
movement = "hold"
[[phases.transitions]]
to = "complies"
instructor = "comply"

[[phases]]
id = "complies"
subject = "driver"
behaviour = "compliant"
stance = "arms_raised"
ends_drill = true
"""


def run_ts(tmp_path: Path, *lines: str) -> Score:
    steps = "".join(
        f'[[steps]]\nat_s = {0.3 + 0.2 * i:.1f}\ndo = "speak"\nsay = "{say}"\n'
        for i, say in enumerate(lines)
    )
    path = tmp_path / "officer.toml"
    path.write_text('id = "m24-officer-v1"\nversion = 1\ndescription = "d"\n' + steps)
    config = RunConfig(
        parse_drill(TS_BTN, "m24-ts-btn-v1.toml"),
        find_officer(str(path)),
        1,
        instructor=((1.5, "comply"),),
    )
    return run_drill(config).score


def deesc_02(score: Score) -> list[tuple[Kind, str]]:
    return [(f.kind, f.message) for f in score.findings if f.rule == "DEESC-02"]


def test_police_alone_then_an_instructor_comply_is_no_talk_down(tmp_path: Path) -> None:
    """nu24 #17: DEESC-02 asks that the officer talked to the subject (the rules table's
    "commands given"); "Police!" alone, with the instructor's button ending the drill, is
    "no force used", not a credited talk-down."""
    score = run_ts(tmp_path, "Police!")
    assert score.speech["acts"] == {"identify": 1}
    assert deesc_02(score) == []
    assert score.decision == "no force used"


def test_a_command_then_an_instructor_comply_is_a_talk_down(tmp_path: Path) -> None:
    """The same run with a command after "Police!" is still credited as a talk-down."""
    score = run_ts(tmp_path, "Police!", "Stop!")
    assert score.speech["acts"] == {"identify": 1, "command.stop": 1}
    assert deesc_02(score) == [
        (Kind.CREDIT, "talk-down: driver ended compliant with no force used")
    ]
    assert score.decision == "talk-down: no force used"
