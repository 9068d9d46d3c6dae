"""Device times against host times: a shot stamped by a replica's microsecond clock is tracked
whenever the pose stream covers it, give or take the clock's documented tolerance."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.course import parse_course
from drills.officer import find_officer
from drills.schema import find_drill
from physics.pose import DEVICE_TIME_TOLERANCE_S, Pose
from range.runs.drill import RunConfig, run_drill
from range.runs.poses import PoseHistory
from scoring.course import Shot, score_attempt


def _history(times: list[float], tracked: bool = True) -> PoseHistory:
    history = PoseHistory(capacity=max(len(times), 1))
    for k, t in enumerate(times):
        history.add(Pose((float(k), 0.0, 0.0), time_s=t, tracked=tracked))
    return history


def test_a_trigger_rounded_to_the_device_microsecond_past_the_newest_pose_is_tracked() -> None:
    """The issue's minimal input: poses at n/90 s, n = 160..167; the trigger in the last frame,
    stamped in whole microseconds, lands 0.44 us after the newest pose."""
    history = _history([n / 90 for n in range(160, 168)])
    t = round(167 / 90 * 1e6) / 1e6
    assert t > 167 / 90
    pose = history.at(t)
    assert pose.tracked and pose.usable
    assert pose.position_m == (7.0, 0.0, 0.0)  # held at the newest sample


def test_past_the_tolerance_the_stream_has_stopped_and_the_pose_is_untracked() -> None:
    history = _history([n / 90 for n in range(160, 168)])
    newest = 167 / 90
    assert not history.at(newest + 2 * DEVICE_TIME_TOLERANCE_S).tracked
    assert not history.at(160 / 90 - 2 * DEVICE_TIME_TOLERANCE_S).tracked
    assert history.at(160 / 90 - DEVICE_TIME_TOLERANCE_S / 2).tracked


def test_tracking_lost_at_the_newest_sample_stays_lost_within_the_tolerance() -> None:
    history = _history([0.0, 1 / 90])
    history.add(Pose((0.0, 0.0, 0.0), time_s=2 / 90, tracked=False))
    assert not history.at(2 / 90 + DEVICE_TIME_TOLERANCE_S / 2).tracked


@given(
    start=st.floats(0.0, 1e5),
    gaps=st.lists(st.floats(0.0, 0.1), min_size=0, max_size=40),
    where=st.floats(0.0, 1.0),
    past=st.floats(-1.0, 1.0),
)
def test_any_time_inside_the_buffer_or_within_the_tolerance_of_it_is_tracked(
    start: float, gaps: list[float], where: float, past: float
) -> None:
    """Random sample times (gaps may be zero), a random query time inside the buffer or up to
    the tolerance outside either end: always tracked when no loss was injected."""
    times = [start]
    for gap in gaps:
        times.append(times[-1] + gap)
    history = _history(times)
    inside = times[0] + where * (times[-1] - times[0])
    assert history.at(inside).tracked
    edge = times[-1] if past >= 0 else times[0]
    assert history.at(edge + past * DEVICE_TIME_TOLERANCE_S).tracked


@pytest.mark.parametrize(
    ("drill", "seed"),
    [
        ("surrender-mid-engagement-v1", 1),
        ("taser-failure-v1", 1),
        ("taser-failure-v1", 2),
        ("taser-failure-v1", 11),
    ],
)
def test_every_shot_of_a_clean_simulated_drill_flies(drill: str, seed: int) -> None:
    """The issue's examples: each logged `untracked_shot` though tracking was never lost."""
    spec = find_drill(drill)
    assert spec.expected_officer is not None
    result = run_drill(RunConfig(spec, find_officer(spec.expected_officer), seed))
    fired = [
        r
        for r in result.records
        if r.kind == "officer_action" and r.data["action"] in ("firearm_fired", "taser_fired")
    ]
    flown = [r for r in result.records if r.kind in ("bullet_impact", "probe_impacts")]
    assert fired
    assert not [r for r in result.records if r.kind == "untracked_shot"]
    assert all(r.data["muzzle"]["tracked"] for r in fired)
    assert len(flown) == len(fired)


def test_a_round_on_the_par_time_stamped_a_device_microsecond_later_is_not_late() -> None:
    """Par times meet device times too: a shot stamped within the tolerance of the par time
    is in time; one a hundredth of a second later is late."""
    course = parse_course(
        """\
id = "agency-test-v1"
version = 1
title = "t"
source = "s"
pass_mark = { points = 4 }

[[stages]]
name = "7 yd"
[[stages.strings]]
distance_yd = 7.0
rounds = 2
par_time_s = 3.0
""",
        "agency.toml",
    )
    on_par = 3.000001  # the par time, one device microsecond on
    attempt = score_attempt(course, [Shot(0, 0, 1.0, "bottle", 2), Shot(0, 0, on_par, "bottle", 2)])
    assert (attempt.points, attempt.late) == (4, 0)
    late = score_attempt(course, [Shot(0, 0, 1.0, "bottle", 2), Shot(0, 0, 3.01, "bottle", 2)])
    assert (late.points, late.late) == (2, 1)
