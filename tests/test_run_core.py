"""The run core (range/runs/core.py) that drills and courses share: the firing path's trigger
pulls and the fault policy's limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.engine import RunState
from drills.officer import find_officer
from drills.schema import find_drill
from peripherals.events import PeripheralEvent
from peripherals.messages import EventKind, Model
from range.runs.core import PROBES_WAIT_S, TriggerCollector, triggers
from range.runs.drill import RunConfig, run_drill
from range.runs.lane import Weapon


def _event(kind: EventKind, t: float, probe: int = 0, bay: int = 0) -> PeripheralEvent:
    model = Model.PISTOL if kind is EventKind.SHOT_FIRED else Model.TASER_7
    serial = "P-1" if model is Model.PISTOL else "T-1"
    return PeripheralEvent(serial, model, kind, t, round(t * 1e6), bay, probe, 4, t)


def test_a_cartridge_s_probes_stamped_apart_are_one_pull_and_two_pulls_are_two() -> None:
    pulls = triggers(
        [
            _event(EventKind.PROBES_FIRED, 1.000000, probe=0),
            _event(EventKind.SHOT_FIRED, 1.000010),
            _event(EventKind.PROBES_FIRED, 1.000017, probe=1),  # the same cartridge, 17 us on
            _event(EventKind.PROBES_FIRED, 1.400000, probe=0, bay=1),  # the next bay, next pull
        ]
    )
    assert [(p.weapon, p.host_time_s, len(p.events)) for p in pulls] == [
        (Weapon.TASER, 1.0, 2),
        (Weapon.FIREARM, 1.00001, 1),
        (Weapon.TASER, 1.4, 1),
    ]


def test_a_replica_that_does_not_come_back_within_the_limit_faults_the_drill() -> None:
    config = RunConfig(
        find_drill("knife-approach-v1"),
        find_officer("taser-first-v1"),
        3,
        unplug_taser_at_s=1.0,
        replug_after_s=3.0,
        fault_after_s=0.5,
    )
    result = run_drill(config)
    assert result.state is RunState.FAULTED
    assert result.end_reason == "taser SIM-TASER-0001 did not come back within 0.5 s"
    kinds = [r.kind for r in result.records]
    assert "run_suspended" in kinds and "run_resumed" not in kinds


def test_the_per_frame_callback_sees_every_frame_of_a_simulated_drill() -> None:
    seen: list[float] = []
    config = RunConfig(
        find_drill("phone-draw-v1"),
        find_officer("phone-draw-correct-v1"),
        1,
        on_frame=lambda session: seen.append(session.engine.t),
    )
    result = run_drill(config)
    assert len(seen) == len(result.frame_times_s) and seen[-1] == result.duration_s


def test_a_refused_lane_leaves_no_run_folder_behind(tmp_path: Path) -> None:
    from drills.course import find_course, find_shooter
    from range.calibration.solver import CalibrationError
    from range.runs.course import CourseConfig, run_course

    runs = tmp_path / "runs"
    profiles = tmp_path / "profiles"  # empty: nothing is calibrated
    course = CourseConfig(
        find_course("kansas-style-70-v1"),
        find_shooter("expert"),
        1,
        runs_dir=runs,
        require_calibration=True,
        calibration_dir=profiles,
    )
    with pytest.raises(CalibrationError, match="SIM-PISTOL-0001"):
        run_course(course)
    drill = RunConfig(
        find_drill("phone-draw-v1"),
        find_officer("phone-draw-correct-v1"),
        1,
        runs_dir=runs,
        require_calibration=True,
        calibration_dir=profiles,
    )
    with pytest.raises(CalibrationError, match="SIM-TASER-0001"):
        run_drill(drill)
    assert not runs.exists()


def test_a_cartridge_read_over_two_frames_is_one_pull() -> None:
    """A loaded host may read a live replica's two probe events a frame apart (CI saw one
    cartridge flown as two deployments): the first probe waits for the second."""
    collector = TriggerCollector()
    first = _event(EventKind.PROBES_FIRED, 1.000000, probe=0)
    second = _event(EventKind.PROBES_FIRED, 1.000004, probe=1)
    assert collector.feed([first], now_host_s=1.011) == []  # held: one probe of two
    (pull,) = collector.feed([second], now_host_s=1.022)
    assert pull.weapon is Weapon.TASER and len(pull.events) == 2
    assert pull.host_time_s == 1.0  # stamped with its first probe
    # A probe whose partner never comes is flown alone once the wait is over, never lost.
    lone = _event(EventKind.PROBES_FIRED, 2.0, probe=0)
    assert collector.feed([lone], now_host_s=2.0 + PROBES_WAIT_S / 2) == []
    (alone,) = collector.feed([], now_host_s=2.0 + 2 * PROBES_WAIT_S)
    assert len(alone.events) == 1
    # Rounds are never held.
    (shot,) = collector.feed([_event(EventKind.SHOT_FIRED, 3.0)], now_host_s=3.0)
    assert shot.weapon is Weapon.FIREARM
