"""Scoring details a range master reads: numbering, counts that agree with the findings, what
applies and what overrides, and holes that cut a scoring line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from drills.course import find_course
from drills.log import LogRecord
from drills.officer import find_officer
from drills.schema import find_drill
from physics.targets import GAUGE_9MM_IN, TARGETS, Ellipse, Rect, TargetKind
from range.cli.summary import format_score
from range.runs.drill import RunConfig, run_drill
from scoring.course import Shot, score_attempt
from scoring.policy import default_policy
from scoring.score import score_run

ERRORS = Path(__file__).parent / "data" / "officers"
R = GAUGE_9MM_IN / 2


def rec(t: float, kind: str, **data: Any) -> LogRecord:
    return LogRecord(t, kind, data)


@pytest.fixture(scope="module")
def fired_on() -> Any:
    """The surrender drill with its classic error: two rounds after the gunman surrendered."""
    drill = find_drill("surrender-mid-engagement-v1")
    return run_drill(RunConfig(drill, find_officer(str(ERRORS / "surrender-error-v1.toml")), 1))


def test_rounds_after_the_surrender_are_counted_where_the_findings_are(fired_on: Any) -> None:
    """The summary said "0 after the threat ended" next to two findings for rounds fired at the
    surrendered gunman."""
    score = fired_on.score
    after = [f.rule for f in score.findings if f.rule in ("STOP-01", "STOP-02")]
    # 0.30 s after the surrender is inside the perception allowance, 0.60 s is not (0.56 s).
    assert after == ["STOP-01", "STOP-02"]
    assert score.rounds_after_threat == 2
    assert "(3 on target, 2 after the threat ended)" in format_score(score)


def test_less_lethal_first_is_not_applicable_to_a_deadly_threat(fired_on: Any) -> None:
    """The firearm first against a gunman is not a failure to go less-lethal first: n/a."""
    score = fired_on.score
    assert score.less_lethal_first is None
    text = format_score(score)
    assert "Less-lethal first: n/a (deadly threat" in text and "Less-lethal first: NO" not in text


def test_less_lethal_first_still_says_no_where_it_applied() -> None:
    log = [
        rec(0.0, "run_started", weapons=["taser", "firearm"]),
        rec(
            0.0,
            "phase_entered",
            subject="s",
            phase="p",
            behaviour="assaultive",
            threat="assaultive",
            held_object="knife",
        ),
        rec(1.0, "officer_action", action="firearm_fired", subject="s"),
        rec(5.0, "run_ended", state="completed", reason="time limit"),
    ]
    score = score_run(log, default_policy())
    assert score.less_lethal_first is False
    assert "Less-lethal first: NO" in format_score(score)


def test_a_critical_finding_that_overrides_the_score_says_so() -> None:
    """95 points, over the pass mark, but a critical finding: FAIL, and the verdict says why."""
    log = [
        rec(0.0, "run_started", weapons=["taser", "firearm"]),
        rec(
            0.0,
            "phase_entered",
            subject="s",
            phase="p",
            behaviour="deadly_threat",
            threat="deadly",
            held_object="handgun",
        ),
        rec(0.5, "officer_action", action="verbal_command"),
        rec(4.0, "officer_action", action="firearm_fired", subject="s"),
        rec(6.0, "run_ended", state="completed", reason="time limit"),
    ]
    score = score_run(log, default_policy())
    assert [f.rule for f in score.overridden_by] == ["REACT-01"]
    assert score.score >= default_policy().pass_score and not score.passed
    line = next(x for x in format_score(score).splitlines() if x.startswith("Score:"))
    assert "FAIL" in line and "REACT-01" in line and "overrides the score" in line


def test_reshoots_name_stages_and_strings_from_1() -> None:
    course = find_course("texas-ltc-b27-v1")
    attempt = score_attempt(course, [Shot(0, 0, 0.5, "x", 5)], faulted=[(1, 2)])
    assert any("stage 2 string 3" in r for r in attempt.reasons)


# -- holes that cut a scoring line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "edge", "inside", "outside"),
    [
        # The B-27's X ring (2 x 3 in at v = 2): a hole 0.15 in past its right edge cuts it.
        (TargetKind.B27, (2.0, 2.0), "x", "10"),
        (TargetKind.B27, (10.0, 2.0), "7", "silhouette"),
        (TargetKind.QIT99, (5.0, -4.0), "bottle", "miss"),
        (TargetKind.USPSA, (3.0, -1.0), "A", "C"),
        (TargetKind.USPSA, (9.0, -3.0), "D", "miss"),
    ],
)
def test_a_hole_that_cuts_a_scoring_line_scores_the_higher_zone(
    kind: TargetKind, edge: tuple[float, float], inside: str, outside: str
) -> None:
    target = TARGETS[kind]
    u, v = edge
    assert target.score(u + R - 0.01, v)[0] == inside
    assert target.score(u + R + 0.01, v)[0] == outside


def test_every_zone_of_every_target_takes_a_hole_touching_its_outline() -> None:
    """Around every shape of every zone, a hole whose edge just reaches the outline from outside
    scores at least that zone's points."""
    for target in TARGETS.values():
        for zone in target.zones:
            for shape in zone.shapes:
                for k in range(16):
                    a = 2 * math.pi * k / 16
                    if isinstance(shape, Ellipse):
                        # The outward normal of the ellipse at parameter a.
                        bu, bv = (
                            shape.cu + shape.ru * math.cos(a),
                            shape.cv + shape.rv * math.sin(a),
                        )
                        nu, nv = math.cos(a) / shape.ru, math.sin(a) / shape.rv
                    else:
                        assert isinstance(shape, Rect)
                        c, s = math.cos(a), math.sin(a)
                        scale = min(
                            shape.width / 2 / abs(c) if c else math.inf,
                            shape.height / 2 / abs(s) if s else math.inf,
                        )
                        bu, bv = shape.cu + c * scale, shape.cv + s * scale
                        nu, nv = (
                            (math.copysign(1, c), 0.0)
                            if abs(bu - shape.cu) >= shape.width / 2 - 1e-9
                            else (0.0, math.copysign(1, s))
                        )
                    n = math.hypot(nu, nv)
                    u, v = bu + (R - 0.005) * nu / n, bv + (R - 0.005) * nv / n
                    assert target.score(u, v)[1] >= zone.points, (target.kind, zone.name, k)


def test_the_ellipse_gauge_is_the_distance_to_the_outline_not_a_bigger_ellipse() -> None:
    """Off the axes, past the B-27's 8 ring (8 x 12 in) along its normal: within the radius it
    is the 8 ring, beyond it the 7."""
    target = TARGETS[TargetKind.B27]
    a = math.radians(40)
    bu, bv = 8.0 * math.cos(a), 2.0 + 12.0 * math.sin(a)
    nu, nv = math.cos(a) / 8.0, math.sin(a) / 12.0
    n = math.hypot(nu, nv)
    assert target.score(bu + (R - 0.003) * nu / n, bv + (R - 0.003) * nv / n)[0] == "8"
    assert target.score(bu + (R + 0.003) * nu / n, bv + (R + 0.003) * nv / n)[0] == "7"


def test_records_show_numbers_stages_and_strings_from_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    add = ["records", "officers", "--db", db, "--add", "4411", "--name", "J. Rivera"]
    assert main([*add, "--agency", "Metro PD"]) == 0
    run = ["course", "run", "taser7-practical-v1", "--badge", "4411", "--shooter", "expert"]
    assert main([*run, "--db", db, "--runs-dir", str(tmp_path / "runs"), "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["records", "show", "1", "--db", db]) == 0
    out = capsys.readouterr().out
    course = find_course("taser7-practical-v1")
    last = len(course.stages)
    assert "stage 1 string 1" in out and f"stage {last} string 1" in out
    assert "stage 0" not in out and "string 0" not in out
