"""Judge and score a qualification attempt: stage by stage, against the course's pass mark.

The course runner (range/runs/course.py) writes what physics found into the attempt's event
log: where each round holed the target (`shot.hole_in`), where the laser and each probe of a
cartridge fell (`deployment.laser_on`, `deployment.impacts`). Judging them (the zone and its
points; whether a deployment met the course's TASER criteria) is done here, from those records
alone, so `openrange score RUN_DIR` rescores an attempt from its log as it does a drill, and the
runner uses the same functions while it runs. A string interrupted by a device fault is never
scored as a failure: it is listed for a reshoot and the attempt stays incomplete until then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from drills.course import Course, TaserCriteria, stage_label
from drills.log import LogRecord
from drills.wording import count_of
from physics.body import TASER_ZONE, Region, TaserZone
from physics.pose import DEVICE_TIME_TOLERANCE_S
from physics.targets import TARGETS, PaperTarget
from physics.taser import ProbeImpact, assess
from scoring.score import Outcome

# The subject a TASER string's cartridge is fired at (range/runs/course.py places it).
TASER_SUBJECT = "subject"


@dataclass(frozen=True, slots=True)
class Shot:
    """One round of a pistol string: `t_s` after the start signal, the zone and its points."""

    stage: int
    string: int
    t_s: float
    zone: str
    points: int
    # Where it came from: its record's position in the log (or the kept records) judged, so a
    # review can put what it counted beside it; -1 for one fired now.
    record: int = field(default=-1, compare=False)


@dataclass(frozen=True, slots=True)
class Deployment:
    """One TASER cartridge of a string; `effective` when it met the course's TASER criteria."""

    stage: int
    string: int
    t_s: float
    effective: bool
    reason: str = ""
    record: int = field(default=-1, compare=False)  # as Shot.record


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
    # The attempt's log stops with no `attempt_ended` (a crash, a pulled plug) and no resumed
    # part finishes it: the strings after the cut were never fired.
    cut_short: bool = False

    @property
    def complete(self) -> bool:
        return not self.reshoot and not self.cut_short

    @property
    def outcome(self) -> Outcome:
        """INCOMPLETE while a string is still to be reshot (a device fault is never a failure)
        or when its log stops with no `attempt_ended` (a crash, a cut log)."""
        if not self.complete:
            return Outcome.INCOMPLETE
        return Outcome.PASS if self.passed else Outcome.FAIL

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        out["complete"] = self.complete
        out["outcome"] = self.outcome.value
        return out


def judged_attempt(score: AttemptScore, simulated: bool) -> dict[str, object]:
    """A judged qualification attempt as JSON: the one shape that result.json's `score`,
    `course run --json` (and `--resume`), `score --json` and the console's cut-short attempts
    all show, so a rescore compares equal to what was written when it was fired.

    `simulated` (a scripted shooter fired it, not the officer): `outcome` reads
    "SIMULATED (would be QUALIFIED)" / "SIMULATED (would be NOT QUALIFIED)" (or
    "INCOMPLETE (simulated)"), never PASS, and `passed` is null: no qualification either way.
    `would_pass` is what the score means against the pass mark, whoever fired it (for an
    officer's attempt it equals `passed`)."""
    out = score.as_json()
    out["simulated"] = simulated
    out["would_pass"] = score.passed
    out["outcome"] = judged_outcome(score.outcome, simulated)
    if simulated:
        out["passed"] = None
    return out


def judged_outcome(outcome: Outcome, simulated: bool) -> str:
    """An attempt's outcome as `judged_attempt` words it: PASS, FAIL or INCOMPLETE for an
    officer's; a scripted shooter's "SIMULATED (would be QUALIFIED)", "SIMULATED (would be NOT
    QUALIFIED)" or "INCOMPLETE (simulated)", never a pass or a fail of its own."""
    if not simulated:
        return outcome.value
    verdict = {Outcome.PASS: "QUALIFIED", Outcome.FAIL: "NOT QUALIFIED"}.get(outcome)
    return "INCOMPLETE (simulated)" if verdict is None else f"SIMULATED (would be {verdict})"


def late(t_s: float, par_time_s: float) -> bool:
    """After the par time by more than a device clock's tolerance: a round stamped in whole
    device microseconds on the par time itself is in time (physics.pose)."""
    return t_s > par_time_s + DEVICE_TIME_TOLERANCE_S


@dataclass(frozen=True, slots=True)
class Counted:
    """What one round or cartridge added to its stage's score (`count_fired`): `points` (0 for
    a late, void or extra one), whether it counts as a hit, whether it was late, and `note`,
    why it counts less than it scored ("" when it counts as fired)."""

    fired: Shot | Deployment
    points: int
    hit: bool
    late: bool
    note: str


def count_fired(
    course: Course,
    shots: Iterable[Shot] = (),
    deployments: Iterable[Deployment] = (),
    faulted: Iterable[tuple[int, int]] = (),
) -> list[Counted]:
    """The one judge of what each round and cartridge counts (`score_attempt` sums it; the
    review and the records' score sheet show it): late ones as the course says (a miss or
    void), rounds beyond a string's count nothing, strings a device fault left for a reshoot
    (`faulted`) nothing. In the order judged: by stage, string and time, rounds first."""
    skip = set(faulted)
    out: list[Counted] = []
    fired: dict[tuple[int, int], int] = {}
    for shot in sorted(shots, key=lambda s: (s.stage, s.string, s.t_s)):
        key = (shot.stage, shot.string)
        if key in skip:
            out.append(Counted(shot, 0, False, False, "string left for a reshoot"))
            continue
        spec = course.stages[shot.stage].strings[shot.string]
        if fired.get(key, 0) >= spec.rounds:
            out.append(Counted(shot, 0, False, False, "beyond the string's count: not scored"))
            continue
        if late(shot.t_s, spec.par_time_s):
            if course.late_shots == "void":
                out.append(Counted(shot, 0, False, True, "late: void"))
                continue
            fired[key] = fired.get(key, 0) + 1
            out.append(Counted(shot, 0, False, True, "late: scored as a miss"))
            continue
        fired[key] = fired.get(key, 0) + 1
        out.append(Counted(shot, shot.points, shot.points > 0, False, ""))
    for dep in sorted(deployments, key=lambda d: (d.stage, d.string, d.t_s)):
        key = (dep.stage, dep.string)
        spec = course.stages[dep.stage].strings[dep.string]
        if key in skip:
            out.append(Counted(dep, 0, False, False, "string left for a reshoot"))
            continue
        if fired.get(key, 0) >= spec.cartridges:
            out.append(Counted(dep, 0, False, False, "beyond the string's count: not scored"))
            continue
        if late(dep.t_s, spec.par_time_s):
            if course.late_shots == "void":
                out.append(Counted(dep, 0, False, True, "late: void"))
                continue
            out.append(Counted(dep, 0, False, True, "late: scored as a miss"))
        else:
            note = "" if dep.effective else dep.reason
            out.append(Counted(dep, int(dep.effective), dep.effective, False, note))
        fired[key] = fired.get(key, 0) + 1
    return out


def score_attempt(
    course: Course,
    shots: Iterable[Shot] = (),
    deployments: Iterable[Deployment] = (),
    faulted: Iterable[tuple[int, int]] = (),
) -> AttemptScore:
    """Points and hits per stage (`count_fired`); strings a device fault interrupted
    (`faulted`) are left out and listed for a reshoot."""
    reshoot = sorted(set(faulted))
    stages = [StageScore(s.name, min_points=s.min_points) for s in course.stages]
    for counted in count_fired(course, shots, deployments, reshoot):
        stage = stages[counted.fired.stage]
        stage.points += counted.points
        stage.hits += counted.hit
        stage.late += counted.late
    points = sum(s.points for s in stages)
    hits = sum(s.hits for s in stages)
    reasons = []
    mark = course.pass_mark
    if mark.hits is not None and hits < mark.hits:
        reasons.append(f"{count_of(hits, course.hit_noun)}, {mark.hits} needed")
    needed = course.passing_points()
    if needed is not None and points < needed:
        reasons.append(f"{points} points, {needed} needed")
    reasons += [
        f"{stage_label(i, s.name)}: {s.points} points, {s.min_points} needed"
        for i, s in enumerate(stages)
        if not s.met
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


# -- judging one round or cartridge from its record ----------------------------------------------


def judge_shot(
    target: PaperTarget, hole_in: Sequence[float] | None, bullet_diameter_in: float
) -> tuple[str, int]:
    """(zone, points) of one round: its hole centred `hole_in` = (right, up) inches from the
    target's centre, or ("miss", 0) when it did not reach the target (`hole_in` None)."""
    if hole_in is None:
        return "miss", 0
    return target.score(float(hole_in[0]), float(hole_in[1]), bullet_diameter_in)


def probe_impact(record: Mapping[str, Any]) -> ProbeImpact:
    """A probe's impact back from its log record (drills/events.py `Probe`)."""
    region = record.get("region")
    x, y, z = record["point"]
    return ProbeImpact(
        probe=int(record["probe"]),
        target=record.get("target"),
        region=None if region is None else Region(region),
        point=(float(x), float(y), float(z)),
        time_of_flight_s=float(record["time_of_flight_s"]),
        clothing_gap_in=record.get("clothing_gap_in"),
    )


def judge_deployment(
    criteria: TaserCriteria, laser_on: str | None, impacts: Sequence[Mapping[str, Any]]
) -> tuple[bool, str]:
    """Whether one cartridge met the course's TASER criteria (facts.md §3), and why not:
    `laser_on` is what its laser lit when the trigger was pulled, `impacts` its probes' records.
    """
    if criteria.laser_on_target and laser_on != TASER_SUBJECT:
        return False, "the laser was not on the subject when the trigger was pulled"
    probes = [probe_impact(i) for i in impacts]
    outcome = assess(probes, TASER_SUBJECT)
    if len(outcome.connected) < 2:
        return False, outcome.reason
    if criteria.both_probes_preferred and any(
        i.region is None or TASER_ZONE[i.region] is not TaserZone.PREFERRED for i in probes
    ):
        regions = ", ".join(str(i.region) for i in probes)
        return False, f"not both probes in a preferred zone ({regions})"
    if outcome.spread_in is None or outcome.spread_in < criteria.min_spread_in:
        return False, f"spread {outcome.spread_in or 0:.1f} in < {criteria.min_spread_in:g} in"
    return True, f"spread {outcome.spread_in:.1f} in, both probes in preferred zones"


# -- an attempt from its log -----------------------------------------------------------------------


@dataclass(slots=True)
class AttemptLog:
    """What an attempt's log says was fired and judged (`attempt_from_log`)."""

    shots: list[Shot] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    faulted: list[tuple[int, int]] = field(default_factory=list)  # never fired to the end
    reshot: list[tuple[int, int]] = field(default_factory=list)


def judge_fired(
    course: Course, target: PaperTarget, kind: str, d: Mapping[str, Any], record: int = -1
) -> Shot | Deployment:
    """One `shot` or `deployment` record judged again: a shot that holds its hole (`hole_in`)
    gets its zone from the course's target, a deployment that holds its laser and probes gets
    the course's TASER criteria; records from before attempts kept them keep the zone and
    judgement they were written with."""
    if kind == "shot":
        zone, points = str(d.get("zone", "")), int(d["points"])
        if "hole_in" in d:
            zone, points = judge_shot(target, d["hole_in"], float(d["bullet_diameter_in"]))
        return Shot(int(d["stage"]), int(d["string"]), float(d["t_s"]), zone, points, record)
    effective, reason = bool(d.get("effective")), str(d.get("reason", ""))
    if "impacts" in d:
        effective, reason = judge_deployment(course.taser, d["laser_on"], d["impacts"])
    return Deployment(int(d["stage"]), int(d["string"]), float(d["t_s"]), effective, reason, record)


def attempt_from_log(course: Course, records: Iterable[LogRecord]) -> AttemptLog:
    """Every round and cartridge of an attempt, judged again from its records: a shot that
    holds its hole (`hole_in`) gets its zone from the course's target, a deployment that holds
    its laser and probes gets the course's TASER criteria; records from before attempts kept
    them keep the zone and judgement they were written with. A `string_faulted` drops what its
    string fired before the fault (it is reshot), or, when no reshoot follows, leaves the
    string to reshoot later."""
    target = TARGETS[course.target]
    out = AttemptLog()
    for n, rec in enumerate(records):
        d = rec.data
        if rec.kind in ("shot", "deployment"):
            fired = judge_fired(course, target, rec.kind, d, n)
            if isinstance(fired, Shot):
                out.shots.append(fired)
            else:
                out.deployments.append(fired)
        elif rec.kind == "string_started":
            # Fired again (a resumed attempt reshoots a string left for a reshoot).
            key = (int(d["stage"]), int(d["string"]))
            out.faulted = [k for k in out.faulted if k != key]
        elif rec.kind == "string_faulted":
            key = (int(d["stage"]), int(d["string"]))
            out.shots = [s for s in out.shots if (s.stage, s.string) != key]
            out.deployments = [x for x in out.deployments if (x.stage, x.string) != key]
            out.reshot.append(key)
            if not d["reshoot"]:
                out.faulted.append(key)
    return out


CUT_SHORT = "the log stops with no attempt_ended: the attempt was cut short and is not graded"


def rescore_attempt(course: Course, records: Iterable[LogRecord]) -> AttemptScore:
    """The score of a saved attempt from its event log alone (`attempt_from_log`); a log with
    no `attempt_ended` (cut short by a crash) is INCOMPLETE, never a pass or a fail. A resumed
    attempt is rescored from all its parts' records together (range.runs.saved.attempt_log)."""
    records = list(records)
    fired = attempt_from_log(course, records)
    score = score_attempt(course, fired.shots, fired.deployments, fired.faulted)
    if not any(r.kind == "attempt_ended" for r in records):
        # Not graded: what the pass mark needs is beside the point until the rest is fired.
        score.cut_short, score.passed = True, False
        score.reasons = [CUT_SHORT, *(r for r in score.reasons if r.startswith("to reshoot"))]
    return score


def is_attempt(records: Sequence[LogRecord]) -> bool:
    """Whether a log is a qualification attempt's (it opens with `attempt_started`)."""
    return bool(records) and records[0].kind == "attempt_started"
