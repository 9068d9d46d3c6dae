"""The shared vocabulary: the injected clock, seeded streams, pose history."""

from __future__ import annotations

import math

import numpy as np
import pytest

from peripherals.clock import ManualClock
from physics.pose import Pose, quat_to_matrix, yaw_quat
from range.clock import MonotonicClock
from range.runs.poses import PoseHistory
from range.runs.seeding import RunRandom


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(1.0)
    assert clock.advance(0.5) == 1.5
    clock.set(2.0)
    assert clock.now_s() == 2.0
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(1.0)


def test_monotonic_clock_advances() -> None:
    clock = MonotonicClock()
    first = clock.now_s()
    while clock.now_s() == first:
        pass
    assert clock.now_s() > first >= 0.0


def test_named_streams_are_reproducible_and_independent() -> None:
    a, b = RunRandom(42), RunRandom(42)
    assert a.stream("physics").normal() == b.stream("physics").normal()
    assert a.stream("physics").normal() != a.stream("officer").normal()
    assert RunRandom(43).stream("physics").normal() != a.stream("physics").normal()
    with pytest.raises(ValueError):
        RunRandom(-1)


def test_pose_history_interpolates_position_and_orientation() -> None:
    history = PoseHistory()
    history.add(Pose((0.0, 0.0, 1.0), yaw_quat(0.0), 1.0))
    history.add(Pose((1.0, 2.0, 1.0), yaw_quat(math.pi / 2), 2.0))
    mid = history.at(1.25)
    assert mid.position_m == pytest.approx((0.25, 0.5, 1.0))
    assert quat_to_matrix(mid.orientation) == pytest.approx(
        quat_to_matrix(yaw_quat(math.pi / 8)), abs=1e-9
    )
    assert mid.usable
    # Outside the buffer there is nothing to interpolate: the pose is not trusted as tracked.
    late = history.at(3.0)
    assert late.position_m == (1.0, 2.0, 1.0) and not late.tracked


def test_a_pose_lost_in_the_span_is_untracked() -> None:
    history = PoseHistory()
    history.add(Pose((0.0, 0.0, 0.0), time_s=0.0))
    history.add(Pose((1.0, 0.0, 0.0), time_s=1.0, tracked=False))
    assert not history.at(0.5).usable
    with pytest.raises(ValueError, match="time order"):
        history.add(Pose((0.0, 0.0, 0.0), time_s=0.5))


def test_pose_forward_follows_orientation() -> None:
    pose = Pose((0.0, 0.0, 0.0), yaw_quat(math.pi / 2))
    assert pose.forward() == pytest.approx(np.array([0.0, 1.0, 0.0]), abs=1e-12)


def test_a_recorded_pose_stream_replays_the_same_poses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from physics.body import Region, SubjectBody
    from range.runs.poses import PoseRecorder, ReplayPoses, ScriptedPoses

    live = ScriptedPoses()
    live.aim(Region.ABDOMEN, (0.01, -0.02))
    recorder = PoseRecorder(tmp_path / "poses.jsonl")
    for k in range(20):
        t = k / 90
        live.update(t, (6.0 - 0.02 * k, 0.0), math.pi, SubjectBody())
        for device in ("head", "weapon"):
            recorder.record(device, live.pose(device, t))
    recorder.close()
    replay = ReplayPoses(tmp_path / "poses.jsonl")
    for t in (0.0, 0.0555, 0.2):
        assert replay.pose("weapon", t) == live.pose("weapon", t)
    assert not replay.pose("tracker", 0.1).valid
