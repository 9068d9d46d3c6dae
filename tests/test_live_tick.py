"""The live drill's tick (issue 16): a frame that fell behind catches up several engine steps
and poses its subjects once, after the last (the steps before it are seen by nobody), with
replicas running free on real ptys and the real clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from xr_sandbox import EmulatedReplicas

from drills.engine import RunState
from drills.schema import parse_drill
from physics.animation import FALL_S, Clip, _fall, _grounded, _prone, clip_pose
from physics.body import BODY_SIZES, SubjectBody
from physics.pose import Pose, look_rotation
from physics.world import RangeWorld
from range.clock import MonotonicClock
from range.runs.drill import LiveDrill, RunConfig, Session
from range.runs.poses import TrackedPoses

SUBJECTS = 3


def walking_drill(seconds: float) -> str:
    parts = [
        'id = "tick-walk-v1"',
        "version = 1",
        'title = "tick"',
        'rationale = "subjects walking"',
        'expected_response = "none"',
        f"time_limit_s = {seconds}",
    ]
    for i in range(SUBJECTS):
        parts += ["[[subjects]]", f'id = "s{i}"', f"start_distance_ft = {30.0 + 4 * i}"]
        parts += [f"lateral_ft = {-5.0 + 5.0 * i}", f'start_phase = "s{i}_walk"']
    for i in range(SUBJECTS):
        parts += ["[[phases]]", f'id = "s{i}_walk"', f'subject = "s{i}"']
        parts += ['behaviour = "active_resistance"', 'movement = "advance"', "speed_mps = 0.5"]
    parts += ["[[phases.transitions]]", 'to = "end"', f"after_s = {seconds - 0.02}"]
    parts += ["[[phases]]", 'id = "end"', f'subject = "s{SUBJECTS - 1}"']
    parts += ['behaviour = "compliant"', "ends_drill = true"]
    return "\n".join(parts) + "\n"


class StandingStill:
    """The officer's head and weapon, held still (the weapon stays holstered)."""

    def __init__(self, clock: MonotonicClock) -> None:
        self.clock = clock

    def pose(self, device: str, t: float) -> Pose:
        return Pose((0.0, 0.0, 1.7), look_rotation((1.0, 0.0, 0.0)), t)

    def update(self) -> dict[str, Pose]:
        now = self.clock.now_s()
        return {"aim": self.pose("weapon", now), "head": self.pose("head", now)}


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[EmulatedReplicas]:
    lane = EmulatedReplicas(MonotonicClock(), tmp_path / "ports")
    try:
        yield lane
    finally:
        lane.stop()


def test_a_frame_that_catches_up_poses_each_subject_once(
    replicas: EmulatedReplicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    posed: list[str] = []
    pose_subject = RangeWorld.pose_subject

    def counting(world: RangeWorld, subject_id: str, *args: Any, **kwargs: Any) -> None:
        posed.append(subject_id)
        pose_subject(world, subject_id, *args, **kwargs)

    monkeypatch.setattr(RangeWorld, "pose_subject", counting)
    frames: list[tuple[int, list[str]]] = []  # (engine steps, subjects posed) a frame
    steps = [0]

    def on_frame(session: Session) -> None:
        frames.append((session.engine.steps - steps[0], posed[:]))
        steps[0] = session.engine.steps
        posed.clear()
        if len(frames) % 8 == 0 and session.engine.state is RunState.RUNNING:
            time.sleep(4 * session.config.dt_s)  # a stall: the next frame catches up

    source = StandingStill(replicas.clock)

    def open_poses(stack: ExitStack) -> TrackedPoses:
        return source

    live = LiveDrill(replicas.ports, open_poses, replicas.clock, search=[replicas.folder])
    drill = parse_drill(walking_drill(1.2), "tick")
    config = RunConfig(drill, None, 3, override_by="test", live=live, on_frame=on_frame)
    session = Session(config)
    result = session.run()
    assert result.state is RunState.COMPLETED
    caught_up = [names for n, names in frames if n >= 3]
    assert len(caught_up) >= 3, [n for n, _ in frames]  # the stalls were caught up
    for n, names in frames[1:]:  # the first also holds the set-up's
        # Once each, however many steps the frame took (it was once a step).
        assert sorted(names) == ([f"s{i}" for i in range(SUBJECTS)] if n else []), n
    for subject in session.engine.subjects.values():
        (x, y, _), yaw, pose = session.world.subject_pose(subject.id)
        assert (x, y) == subject.position_m and yaw == subject.yaw_rad
        assert pose is session.human_poses[subject.id]
        want = session.animator.pose(subject.id, session.engine.t)
        assert all((want.joints[k] == v).all() for k, v in pose.joints.items())


@pytest.mark.parametrize(
    "body",
    [SubjectBody(), SubjectBody(size=BODY_SIZES["small"], child=True)],
    ids=["adult", "child"],
)
def test_a_fallen_subject_is_posed_once_and_the_world_sees_it_still(body: SubjectBody) -> None:
    """Once the fall is over the body lies still: every later step gives the same pose object
    (grounding it posed every hull, each step), with the bits the fall gives at that time, and
    the world, given it again, has nothing to move."""
    skeleton = body.skeleton()
    poses = [clip_pose(skeleton, Clip.FALL, t, 5) for t in (FALL_S, 1.0, 2.5, 30.0)]
    for t, pose in zip((FALL_S, 1.0, 2.5, 30.0), poses, strict=True):
        assert pose is poses[0]
        want = _grounded(skeleton, _fall(t, _prone(float(skeleton.rest[0][2]), skeleton)))
        assert pose.root_offset_m == want.root_offset_m
        assert pose.root_rotation.tobytes() == want.root_rotation.tobytes()
        assert pose.joints.keys() == want.joints.keys()
        assert all(pose.joints[k].tobytes() == want.joints[k].tobytes() for k in want.joints)
    with RangeWorld() as world:
        world.add_subject("down", body, (5.0, 0.0, 0.0), 3.0)
        world.pose_subject("down", clip_pose(skeleton, Clip.FALL, 1.5, 5), (5.0, 0.0, 0.0), 3.0)
        world.sync()
        world.pose_subject("down", clip_pose(skeleton, Clip.FALL, 1.6, 5), (5.0, 0.0, 0.0), 3.0)
        assert not world._unsynced
