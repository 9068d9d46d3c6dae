"""An officer's pistol replica on a real pty for the live-course tests: the course file written
to the test's folder, the pistol loaded and running free on the real clock, and the aim from
the muzzle at the first string's target."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drills.course import Course, find_course, find_shooter
from peripherals.emulator import PistolEmulator
from physics.pose import Pose, look_rotation
from range.clock import MonotonicClock
from range.runs.course import (
    MUZZLE_HEIGHT_M,
    AttemptResult,
    CourseConfig,
    LiveRange,
    run_course,
    target_point,
)


@dataclass
class LivePistol:
    course: Course
    clock: MonotonicClock
    aim: Pose
    pistol: PistolEmulator
    port: str


def live_pistol(folder: Path, course_toml: str, name: str, serial: str, rounds: int) -> LivePistol:
    """Write `course_toml` as `folder/name.toml`, load it, and start pistol `serial` with a
    magazine of `rounds` and one chambered. The caller stops the pistol."""
    path = folder / f"{name}.toml"
    path.write_text(course_toml)
    course = find_course(str(path))
    string = course.stages[0].strings[0]
    clock = MonotonicClock()
    muzzle = np.array([0.0, 0.0, MUZZLE_HEIGHT_M])
    aim = Pose(tuple(muzzle), look_rotation(np.asarray(target_point(course, string)) - muzzle))
    pistol = PistolEmulator(serial, clock, directory=folder)
    pistol.magazine_in, pistol.rounds, pistol.chambered = True, rounds, True
    port = pistol.start()
    pistol.run_free()
    return LivePistol(course, clock, aim, pistol, port)


def fire_live(
    lane: LivePistol, live: LiveRange, hands: threading.Thread, folder: Path
) -> AttemptResult:
    """Fire the course on `live` (the `qualified` shooter's plan, seed 0, a range master's
    override) while `hands` pulls the trigger; then stop the hands and the pistol."""
    try:
        config = CourseConfig(
            lane.course, find_shooter("qualified"), 0, override_by="Lt. Hale", runs_dir=folder
        )
        return run_course(config, live=live)
    finally:
        hands.join(timeout=30)
        lane.pistol.stop_free_running()
        lane.pistol.stop()
