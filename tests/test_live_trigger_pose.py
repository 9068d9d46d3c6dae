"""A live trigger pull never hangs the run (issue #16, "a trigger event is resolved at its own
device time on the pose history"; "safety of the run"). In a headset run the pose stream moves
on only as the run's own thread draws a frame, so the firing path must not wait on it: the pull
is queued and flown on a later frame once the stream covers its time, or after POSE_WAIT_S from
the poses located so far, untracked where they do not cover it (range/runs/drill.py
`_take_pending`). The replicas are emulators on real ptys running free on the real clock, as in
tests/test_live_drill.py; the pose stream is the test's, with no OpenXR runtime."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_live_drill import LIVE_DRILL, Officer, Swaying

from drills.engine import RunState
from drills.log import LogRecord
from drills.officer import find_officer
from drills.schema import parse_drill_bytes
from physics.pose import Pose
from range.clock import MonotonicClock
from range.runs.drill import LiveDrill, RunConfig, RunResult, Session
from range.runs.poses import POSE_WAIT_S, PoseHistory, TrackedPoses, weapon_pose_at

# The stream reaches a time this long after it (a tracker's latency): a pull is never covered
# by the frame that reads it, and is covered well before POSE_WAIT_S.
LAG_S = 0.1
# Reads of the stream with no frame drawn between them: the frame loop is blocked on it.
BLOCKED_READS = 200

# The same drill, short enough for a round that ends nothing (the run goes to its limit).
SHORT_DRILL = LIVE_DRILL.replace(b"time_limit_s = 8.0", b"time_limit_s = 2.0")


@dataclass
class Headset:
    """A headset's pose stream: poses are located only when the run's frame loop draws a frame
    (the run's `on_frame`, as `range.xr.lane.LaneHeadset.frame`), stamped LAG_S behind the
    host clock; `update()` answers the last frame's poses and locates nothing. From host time
    `freeze_at` on, frames locate nothing (the stream stops: the headset lost tracking).

    The guard: BLOCKED_READS reads with no frame between them mean the frame loop is spinning
    on the stream; that is recorded (`blocked`) and a frame is forced so a blocked firing path
    returns and the test fails by its assertion rather than hanging."""

    sway: Swaying
    freeze_at: float | None = None
    history: PoseHistory = field(default_factory=PoseHistory)
    last: dict[str, Pose] = field(default_factory=dict)
    frames: int = 0
    reads: int = 0
    blocked: bool = False
    # The frame number, and the host time, at which each record of interest was first logged.
    seen: dict[str, int] = field(default_factory=dict)
    seen_s: dict[str, float] = field(default_factory=dict)

    def draw(self, session: Session | None = None, force: bool = False) -> None:
        self.reads = 0
        self.frames += 1
        now = self.sway.clock.now_s()
        if session is not None:
            log = session.engine.log  # logged: written, or held back to keep time order
            for record in (*log.records, *log.held):
                key = _key(record)
                if key is not None and key not in self.seen:
                    self.seen[key], self.seen_s[key] = self.frames, now
        if self.freeze_at is not None and now >= self.freeze_at and not force:
            return
        t = now - LAG_S
        if "aim" in self.last and t <= self.last["aim"].time_s:
            return
        aim = self.sway.pose("weapon", t)
        self.history.add(aim)
        self.last = {"aim": aim, "head": self.sway.pose("head", t)}

    def update(self) -> dict[str, Pose]:
        self.reads += 1
        if self.reads > BLOCKED_READS:
            self.blocked = True
            time.sleep(LAG_S)
            self.draw(force=True)
        return dict(self.last)

    def pose(self, device: str, t: float) -> Pose:
        if device == "head":
            return self.sway.pose("head", t)
        return self.history.at(t)


def _key(record: LogRecord) -> str | None:
    """'read': the trigger's device event was logged; 'fired': its officer action was."""
    data = record.data
    if record.kind == "device_event" and data.get("event") in ("shot_fired", "probes_fired"):
        return "read"
    if record.kind == "officer_action" and data.get("action") in ("taser_fired", "firearm_fired"):
        return "fired"
    if record.kind == "untracked_shot":
        return "untracked"
    return None


@pytest.fixture
def officer(tmp_path: Path) -> Iterator[Officer]:
    hands = Officer(MonotonicClock(), tmp_path / "ports")
    try:
        yield hands
    finally:
        hands.stop()


def _run(officer: Officer, headset: Headset, tmp_path: Path, weapon: str) -> RunResult:
    """The officer draws `weapon` and pulls its trigger once (a TASER deployment ends the
    drill in custody; a round leaves it to run to its time limit)."""
    text = LIVE_DRILL if weapon == "taser" else SHORT_DRILL
    drill = parse_drill_bytes(text, tmp_path / "live-taser-v1.toml")

    def open_poses(stack: ExitStack) -> TrackedPoses:
        return headset

    def act() -> None:
        officer.go.wait(timeout=30)
        replica = officer.taser if weapon == "taser" else officer.pistol
        time.sleep(0.3)
        replica.draw()
        if weapon == "taser":
            officer.taser.set_safety(False)
        time.sleep(0.4)
        officer.pressed_at = officer.clock.now_s()
        replica.press_trigger()
        time.sleep(0.05)
        replica.release_trigger()

    officer.go.clear()
    live = LiveDrill(
        officer.ports, open_poses, officer.clock, search=[officer.folder], on_start=officer.go.set
    )
    config = RunConfig(
        drill,
        find_officer("taser-first-v1"),
        7,
        runs_dir=tmp_path / "runs",
        officer_name="Ofc. Rivera #4411",
        live=live,
        override_by="Lt. Hale",
        on_frame=headset.draw,
    )
    hand = threading.Thread(target=act)
    hand.start()
    try:
        return Session(config).run()
    finally:
        hand.join(timeout=10)


def _fired(result: RunResult) -> LogRecord:
    return next(r for r in result.records if _key(r) == "fired")


def _trigger_host_s(result: RunResult) -> float:
    read = next(r for r in result.records if _key(r) == "read")
    host_s = read.data["host_time_s"]
    assert isinstance(host_s, float)
    return host_s


@pytest.mark.parametrize("weapon", ["taser", "firearm"])
def test_a_pull_is_flown_on_a_later_frame_from_the_pose_at_its_own_time(
    officer: Officer, tmp_path: Path, weapon: str
) -> None:
    headset = Headset(Swaying(officer.clock))
    result = _run(officer, headset, tmp_path, weapon)
    # The frame loop never waited on the stream (the old firing path spun on it until the
    # guard forced a frame).
    assert not headset.blocked
    assert headset.seen["fired"] > headset.seen["read"]  # taken by a later frame
    host_s = _trigger_host_s(result)
    fired = _fired(result)
    assert fired.data["muzzle"]["tracked"] is True
    # The bore at the trigger's own host time on the stream's history (no frame was drawn at
    # it), and so the sway there, but for interpolating between frames that a loaded machine
    # may draw far apart (the sway moves up to ~1e-3 in these components over LAG_S).
    orientation = fired.data["muzzle"]["orientation"]
    assert orientation == pytest.approx(headset.history.at(host_s).orientation, abs=2e-8)
    assert orientation == pytest.approx(headset.sway.orientation(host_s), abs=5e-5)
    assert "untracked" not in headset.seen
    if weapon == "taser":
        assert result.state is RunState.COMPLETED
        assert result.end_reason == "subject reached in_custody"
        impacts = next(r for r in result.records if r.kind == "probe_impacts")
        assert impacts.data["subject"] == "subject"
    else:
        assert any(r.kind == "bullet_impact" for r in result.records)
        # The round was aimed at whom the tracked bore covered (as `weapon_pointed` names it),
        # so deadly force on a subject who posed no deadly threat is judged, as in a simulated
        # run (not "held fire", HOLD-01, as with no subject).
        assert fired.data["subject"] == "subject"
        rules = {f.rule for f in result.score.findings}
        assert "FORCE-01" in rules and "HOLD-01" not in rules
        assert result.score.decision == "excessive force"


def test_a_pull_the_stream_never_reaches_is_untracked_after_the_wait_and_the_run_goes_on(
    officer: Officer, tmp_path: Path
) -> None:
    """The headset stops locating poses just before the pull: the round is logged untracked
    POSE_WAIT_S after it, on a later frame, and the drill runs on to its time limit."""
    headset = Headset(Swaying(officer.clock))
    started = officer.clock.now_s()
    # The pull comes ~0.7 s after GO; GO comes after the lane's set-up. Freeze once GO is seen.
    officer_go = officer.go

    def freeze_at_go() -> None:
        officer_go.wait(timeout=30)
        headset.freeze_at = officer.clock.now_s() + 0.5

    watcher = threading.Thread(target=freeze_at_go)
    watcher.start()
    try:
        result = _run(officer, headset, tmp_path, "firearm")
    finally:
        watcher.join(timeout=10)
    assert not headset.blocked
    assert result.state is RunState.COMPLETED  # to its time limit: nothing hung
    assert officer.clock.now_s() - started < 20
    fired = _fired(result)
    assert fired.data["muzzle"]["tracked"] is False
    untracked = next(r for r in result.records if r.kind == "untracked_shot")
    assert untracked.data["weapon"] == "firearm"
    assert not any(r.kind == "bullet_impact" for r in result.records)
    assert headset.seen["untracked"] > headset.seen["read"]
    # The stream stopped before the pull, and the round was judged once POSE_WAIT_S had passed
    # (the time it had to cover it), within a few frames of that.
    host_s = _trigger_host_s(result)
    assert headset.freeze_at is not None and headset.freeze_at < host_s
    assert POSE_WAIT_S <= headset.seen_s["untracked"] - host_s < POSE_WAIT_S + 0.2


@dataclass
class Stream:
    """A pose stream read directly: `moves` says whether reading it locates a new pose (a
    headless session's) or answers the last one again (a headset's between frames)."""

    clock: MonotonicClock
    moves: bool
    history: PoseHistory = field(default_factory=PoseHistory)
    last: dict[str, Pose] = field(default_factory=dict)

    def locate(self) -> None:
        self.last = {"aim": Swaying(self.clock).pose("weapon", self.clock.now_s())}
        self.history.add(self.last["aim"])

    def update(self) -> dict[str, Pose]:
        if self.moves:
            self.locate()
        return dict(self.last)

    def pose(self, device: str, t: float) -> Pose:
        return self.history.at(t)


@pytest.mark.parametrize("moves", [True, False])
def test_weapon_pose_at_reads_a_moving_stream_to_the_time_and_gives_up_on_a_stopped_one(
    moves: bool,
) -> None:
    clock = MonotonicClock()
    stream = Stream(clock, moves)
    stream.locate()
    t = clock.now_s() + 0.02  # a trigger's time plus its latency: just ahead of the stream
    started = time.monotonic()
    pose = weapon_pose_at(stream, t, limit_s=0.1)
    waited_s = time.monotonic() - started
    assert pose.time_s == t
    if moves:
        assert pose.tracked and waited_s < 0.1
        assert stream.last["aim"].time_s >= t
    else:
        assert not pose.tracked  # the stream never reached t: untracked, not a hang
        assert 0.1 <= waited_s < 1.0
