"""Score a qualification attempt: stage by stage, against the course's pass mark.

Shots come from the course runner (or a real range's peripherals) with their time from the
string's start signal and the zone they hit. A string interrupted by a device fault is never
scored as a failure: it is listed for a reshoot and the attempt stays incomplete until then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from drills.course import Course
from physics.pose import DEVICE_TIME_TOLERANCE_S
from scoring.score import Outcome


@dataclass(frozen=True, slots=True)
class Shot:
    """One round of a pistol string: `t_s` after the start signal, the zone and its points."""

    stage: int
    string: int
    t_s: float
    zone: str
    points: int


@dataclass(frozen=True, slots=True)
class Deployment:
    """One TASER cartridge of a string; `effective` when it met the course's TASER criteria."""

    stage: int
    string: int
    t_s: float
    effective: bool
    reason: str = ""


@dataclass(slots=True)
class StageScore:
    name: str
    points: int = 0
    hits: int = 0
    late: int = 0
    min_points: int = 0

    @property
    def met(self) -> bool:
        return self.points >= self.min_points


@dataclass(slots=True)
class AttemptScore:
    course: str
    points: int
    max_points: int
    hits: int
    late: int
    stages: list[StageScore]
    reshoot: list[tuple[int, int]] = field(default_factory=list)  # (stage, string) to fire again
    reasons: list[str] = field(default_factory=list)
    passed: bool = False

    @property
    def complete(self) -> bool:
        return not self.reshoot

    @property
    def outcome(self) -> Outcome:
        """INCOMPLETE while a string is still to be reshot: a device fault is never a failure."""
        if not self.complete:
            return Outcome.INCOMPLETE
        return Outcome.PASS if self.passed else Outcome.FAIL

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        out["complete"] = self.complete
        out["outcome"] = self.outcome.value
        return out


def _late(t_s: float, par_time_s: float) -> bool:
    """After the par time by more than a device clock's tolerance: a round stamped in whole
    device microseconds on the par time itself is in time (physics.pose)."""
    return t_s > par_time_s + DEVICE_TIME_TOLERANCE_S


def score_attempt(
    course: Course,
    shots: Iterable[Shot] = (),
    deployments: Iterable[Deployment] = (),
    faulted: Iterable[tuple[int, int]] = (),
) -> AttemptScore:
    """Points and hits per stage; late shots as the course says; strings a device fault
    interrupted (`faulted`) are left out and listed for a reshoot."""
    reshoot = sorted(set(faulted))
    skip = set(reshoot)
    stages = [StageScore(s.name, min_points=s.min_points) for s in course.stages]
    fired: dict[tuple[int, int], int] = {}
    for shot in sorted(shots, key=lambda s: (s.stage, s.string, s.t_s)):
        key = (shot.stage, shot.string)
        if key in skip:
            continue
        spec = course.stages[shot.stage].strings[shot.string]
        if fired.get(key, 0) >= spec.rounds:
            continue  # rounds beyond the string's count are not scored
        stage = stages[shot.stage]
        if _late(shot.t_s, spec.par_time_s):
            stage.late += 1
            if course.late_shots == "void":
                continue
            fired[key] = fired.get(key, 0) + 1
            continue  # a late shot is a miss
        fired[key] = fired.get(key, 0) + 1
        stage.points += shot.points
        stage.hits += shot.points > 0
    for dep in sorted(deployments, key=lambda d: (d.stage, d.string, d.t_s)):
        key = (dep.stage, dep.string)
        spec = course.stages[dep.stage].strings[dep.string]
        if key in skip or fired.get(key, 0) >= spec.cartridges:
            continue
        stage = stages[dep.stage]
        if _late(dep.t_s, spec.par_time_s):
            stage.late += 1
            if course.late_shots == "void":
                continue
        elif dep.effective:
            stage.points += 1
            stage.hits += 1
        fired[key] = fired.get(key, 0) + 1
    points = sum(s.points for s in stages)
    hits = sum(s.hits for s in stages)
    reasons = []
    mark = course.pass_mark
    if mark.hits is not None and hits < mark.hits:
        reasons.append(f"{hits} hits, {mark.hits} needed")
    needed = course.passing_points()
    if needed is not None and points < needed:
        reasons.append(f"{points} points, {needed} needed")
    reasons += [
        f"stage {s.name}: {s.points} points, {s.min_points} needed" for s in stages if not s.met
    ]
    if reshoot:
        # Numbered from 1, as a range master counts them (the (stage, string) pairs are indices).
        which = ", ".join(f"stage {i + 1} string {j + 1}" for i, j in reshoot)
        reasons.append(f"to reshoot after a device fault: {which}")
    return AttemptScore(
        course=course.id,
        points=points,
        max_points=course.max_points,
        hits=hits,
        late=sum(s.late for s in stages),
        stages=stages,
        reshoot=reshoot,
        reasons=reasons,
        passed=not reasons,
    )
