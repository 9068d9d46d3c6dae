"""Judge one run from its event log: decisions, less-lethal first, reaction, placement."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from drills.log import LogRecord
from drills.threat import HeldObject, Threat
from physics.units import m_to_ft
from scoring.policy import ForceOption, Judgement, Policy


class Kind(StrEnum):
    CREDIT = "credit"
    INFO = "info"
    FINDING = "finding"
    CRITICAL = "critical"


class Outcome(StrEnum):
    """What a run (or an attempt) came to. INCOMPLETE is its own outcome, never a pass or a
    fail: the log never reached its end (a crash, a kill, a power cut: no `run_ended`), or the
    run ended faulted or aborted. Records and exports use the same words."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCOMPLETE = "INCOMPLETE"


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    t: float
    kind: Kind
    points: float
    message: str


@dataclass(frozen=True, slots=True)
class Hit:
    weapon: str
    t: float
    subject: str | None
    region: str | None
    zone: str | None = None


@dataclass(slots=True)
class Score:
    decision: str
    score: float
    passed: bool
    less_lethal_first: bool | None  # None: it did not apply (see less_lethal_na)
    reaction_time_s: float | None
    transition_time_s: float | None
    rounds_fired: int
    rounds_on_target: int
    rounds_after_threat: int
    deployments: list[dict[str, Any]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    policy: str = ""
    officer: str = ""
    shoot_scenario: bool = False  # a subject posed a deadly threat: firing was called for
    # Why the run is not a finished run ("" when it is): then `score` is what the findings so far
    # add up to, not a grade, and `passed` is False.
    incomplete: str = ""
    # Why less-lethal first did not apply, when it did not ("" when it did).
    less_lethal_na: str = ""

    @property
    def outcome(self) -> Outcome:
        if self.incomplete:
            return Outcome.INCOMPLETE
        return Outcome.PASS if self.passed else Outcome.FAIL

    @property
    def overridden_by(self) -> list[Finding]:
        """The findings that fail the run whatever its points add up to: every critical one,
        and excessive force."""
        return [
            f
            for f in self.findings
            if f.kind is Kind.CRITICAL or (f.rule == "FORCE-01" and f.kind is Kind.FINDING)
        ]

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["findings"] = [asdict(f) | {"kind": f.kind.value} for f in self.findings]
        out["outcome"] = self.outcome.value
        return out


@dataclass(slots=True)
class _Subject:
    threat: Threat = Threat.NONE
    behaviour: str = "compliant"
    held: HeldObject = HeldObject.NONE
    peak: Threat = Threat.NONE
    role: str = "subject"


GUNS = (HeldObject.HANDGUN, HeldObject.RIFLE)
# Within an arm's length plus a blade of the officer: the subject has reached him.
CONTACT_M = 1.0


def _segment_hits_box(
    a: tuple[float, float], b: tuple[float, float], box: dict[str, float]
) -> bool:
    """Does the line of fire from a to b (plan view) pass through a cover box?"""
    lo = (box["x_m"] - box["depth_m"] / 2, box["y_m"] - box["width_m"] / 2)
    hi = (box["x_m"] + box["depth_m"] / 2, box["y_m"] + box["width_m"] / 2)
    t0, t1 = 0.0, 1.0
    for axis in (0, 1):
        d = b[axis] - a[axis]
        if abs(d) < 1e-12:
            if not lo[axis] <= a[axis] <= hi[axis]:
                return False
            continue
        u0, u1 = (lo[axis] - a[axis]) / d, (hi[axis] - a[axis]) / d
        t0, t1 = max(t0, min(u0, u1)), min(t1, max(u0, u1))
    return t0 <= t1


_FORCE = {"taser_fired": ForceOption.TASER, "firearm_fired": ForceOption.FIREARM}


def score_run(records: Iterable[LogRecord], policy: Policy) -> Score:
    """The score of one run. Reads the log in order, so every use of force is judged against the
    threat as the officer faced it at that moment, before its own effect was known."""
    subjects: dict[str, _Subject] = {}
    findings: list[Finding] = []
    at_hand: set[str] = set()
    verbal_at: float | None = None
    first_force: tuple[float, ForceOption] | None = None
    first_threat = Threat.NONE  # the threat the first use of force met
    onset: float | None = None
    response: float | None = None
    last_taser: float | None = None
    first_firearm: float | None = None
    threat_ended: dict[str, float] = {}
    rounds = on_target = after = 0
    deployments: list[dict[str, Any]] = []
    hits: list[Hit] = []
    contact = False
    closest: tuple[float, float, str] | None = None  # (metres, time, subject)
    officer = ""
    cover: list[dict[str, float]] = []
    gun_moments = covered_moments = 0
    first_gun_t: float | None = None
    end_t = 0.0
    ended: dict[str, Any] | None = None

    def add(rule: str, t: float, kind: Kind, message: str) -> None:
        points = policy.points[rule] if kind in (Kind.FINDING, Kind.CRITICAL) else 0.0
        findings.append(Finding(rule, round(t, 4), kind, points, message))

    for rec in records:
        d, t = rec.data, rec.t
        end_t = max(end_t, t)
        if rec.kind == "run_ended":
            ended = d
        elif rec.kind == "run_started":
            at_hand = set(d.get("weapons", []))
            officer = str(d.get("officer_name", d.get("officer", "")))
            cover = list(d.get("cover", []))
            for name, spec in d.get("subjects", {}).items():
                subjects.setdefault(name, _Subject()).role = spec.get("role", "subject")
        elif rec.kind in ("phase_entered", "incapacitation_started", "incapacitation_ended"):
            s = subjects.setdefault(d["subject"], _Subject())
            if rec.kind == "incapacitation_started":
                s.threat, s.behaviour = Threat.NONE, "incapacitated"
            else:
                s.threat, s.behaviour = Threat[d["threat"].upper()], d["behaviour"]
            if "held_object" in d:
                s.held = HeldObject(d["held_object"])
            s.peak = max(s.peak, s.threat)
            if s.threat >= Threat.ASSAULTIVE and onset is None:
                onset = t
            if s.threat == Threat.NONE and s.peak >= Threat.ACTIVE:
                threat_ended.setdefault(d["subject"], t)
        elif rec.kind == "officer_action" and d["action"] == "verbal_command":
            verbal_at = t if verbal_at is None else verbal_at
        elif rec.kind == "officer_action" and d["action"] in _FORCE:
            option = _FORCE[d["action"]]
            name = d.get("subject")
            s = subjects.get(name or "", _Subject())
            judgement = policy.judge(s.threat, option)
            if option is ForceOption.FIREARM:
                rounds += 1
                first_firearm = t if first_firearm is None else first_firearm
            else:
                last_taser = t
            if first_force is None:
                first_force = (t, option)
                first_threat = s.threat
                _first_force_rules(add, t, option, s, policy, at_hand, verbal_at)
            if s.threat == Threat.NONE and name in threat_ended:
                after += 1  # counted whichever finding the round draws below
            if _no_shoot(option, s):
                add(
                    "DECISION-01",
                    t,
                    Kind.CRITICAL,
                    f"{option} fired at {name}, who posed no threat that called for it"
                    f" ({s.behaviour}, holding {s.held})",
                )
            elif s.threat == Threat.NONE and name in threat_ended:
                add(
                    "STOP-01",
                    t,
                    Kind.FINDING,
                    f"{option} fired {t - threat_ended[name]:.2f} s after {name}'s threat ended",
                )
            elif judgement is Judgement.EXCESSIVE:
                add(
                    "FORCE-01",
                    t,
                    Kind.FINDING,
                    f"{option} against threat level {s.threat.name.lower()} is excessive under"
                    f" {policy.id}",
                )
            elif judgement is Judgement.JUSTIFIED:
                add(
                    "FORCE-01",
                    t,
                    Kind.INFO,
                    f"{option} against threat level {s.threat.name.lower()}: justified",
                )
                if onset is not None and response is None and t >= onset:
                    response = t
        elif rec.kind == "probe_impacts" and any(
            subjects.get(i["target"] or "", _Subject()).role == "bystander" for i in d["impacts"]
        ):
            add("DECISION-02", t, Kind.CRITICAL, "a TASER probe struck a bystander")
        if rec.kind == "probe_impacts":
            deployments.append(
                {
                    "t": t,
                    "subject": d["subject"],
                    "effect": d["effect"],
                    "spread_in": d["spread_in"],
                    "reason": d["reason"],
                }
            )
            for probe in d["impacts"]:
                if probe["region"] is not None:
                    hits.append(Hit("taser", t, probe["target"], probe["region"], probe["zone"]))
                if probe["zone"] == "avoid":
                    add(
                        "PLACE-01",
                        t,
                        Kind.FINDING,
                        f"probe {probe['probe']} in a zone to avoid ({probe['region']})",
                    )
                elif probe["zone"] == "preferred":
                    add(
                        "PLACE-01",
                        t,
                        Kind.CREDIT,
                        f"probe {probe['probe']} in a preferred zone ({probe['region']})",
                    )
            if d["effect"] == "reduced_effect":
                add("PLACE-02", t, Kind.FINDING, f"probe spread {d['spread_in']:.1f} in < 12 in")
            elif d["effect"] == "full_incapacitation":
                add("PLACE-02", t, Kind.CREDIT, f"probe spread {d['spread_in']:.1f} in: effective")
            else:
                add("PLACE-02", t, Kind.INFO, f"no incapacitation: {d['reason']}")
        elif rec.kind == "bullet_impact":
            if subjects.get(d["target"] or "", _Subject()).role == "bystander":
                add("DECISION-02", t, Kind.CRITICAL, f"a round struck bystander {d['target']}")
            elif d["target"] in subjects:
                on_target += 1
                hits.append(Hit("firearm", t, d["target"], d["region"]))
            else:
                add("HIT-01", t, Kind.FINDING, f"round missed, stopped by the {d['target']}")
        elif rec.kind == "positions":
            ox, oy = d["officer"]
            for name, (x, y) in d["subjects"].items():
                s = subjects.get(name, _Subject())
                if s.threat is Threat.DEADLY and s.held in GUNS:
                    gun_moments += 1
                    first_gun_t = t if first_gun_t is None else first_gun_t
                    if any(_segment_hits_box((ox, oy), (x, y), box) for box in cover):
                        covered_moments += 1
                gap = ((x - ox) ** 2 + (y - oy) ** 2) ** 0.5
                if s.threat >= Threat.ASSAULTIVE and (closest is None or gap < closest[0]):
                    closest = (gap, t, name)
                near = gap <= CONTACT_M
                if near and s.threat >= Threat.ASSAULTIVE and not contact:
                    contact = True
                    add("DIST-01", t, Kind.CRITICAL, f"{name} reached the officer")

    if closest is not None:
        add(
            "DIST-02",
            closest[1],
            Kind.INFO,
            f"closest approach of a threatening subject: {m_to_ft(closest[0]):.1f} ft"
            f" ({closest[2]})",
        )
    if cover and gun_moments and first_gun_t is not None:
        share = covered_moments / gun_moments
        if covered_moments:
            add(
                "COVER-01",
                first_gun_t,
                Kind.CREDIT,
                f"behind cover for {share:.0%} of the time a gun was pointed at the officer",
            )
        else:
            add(
                "COVER-01",
                first_gun_t,
                Kind.FINDING,
                "cover was at hand and unused while a gun was pointed at the officer",
            )
    reaction = None if onset is None or response is None else response - onset
    if onset is not None and response is None:
        add("REACT-02", onset, Kind.CRITICAL, "no appropriate use of force answered the threat")
    elif reaction is not None and onset is not None:
        kind = Kind.INFO
        if reaction > policy.critical_reaction_s:
            kind = Kind.CRITICAL
        elif reaction > policy.max_reaction_s:
            kind = Kind.FINDING
        add(
            "REACT-01",
            onset,
            kind,
            f"{reaction:.2f} s from threat onset to the first appropriate response (policy"
            f" {policy.max_reaction_s:.1f} s, critical past {policy.critical_reaction_s:.1f} s)",
        )
    transition = None
    if last_taser is not None and first_firearm is not None and first_firearm > last_taser:
        transition = first_firearm - last_taser
    llf, llf_na = _less_lethal_first(first_force, first_threat, at_hand)
    total = max(0.0, 100.0 + sum(f.points for f in findings))
    critical = any(f.kind is Kind.CRITICAL for f in findings)
    excessive = any(f.rule == "FORCE-01" and f.kind is Kind.FINDING for f in findings)
    if any(f.rule == "DECISION-02" for f in findings):
        decision = "critical failure: a bystander was struck"
    elif any(f.rule == "DECISION-01" and f.kind is Kind.CRITICAL for f in findings):
        decision = "critical failure: force on a subject who posed no threat"
    elif any(f.rule == "DIST-01" for f in findings):
        decision = "critical failure: the subject reached the officer"
    elif any(f.rule == "REACT-02" for f in findings):
        decision = "critical failure: the threat went unanswered"
    elif any(f.rule == "REACT-01" and f.kind is Kind.CRITICAL for f in findings):
        decision = "critical failure: too slow against the threat"
    elif excessive:
        decision = "excessive force"
    elif first_force is None:
        decision = "no force used"
    else:
        decision = "appropriate"
    incomplete = _incomplete(ended, end_t)
    findings.sort(key=lambda f: f.t)
    return Score(
        decision=decision,
        score=round(total, 2),
        passed=not incomplete and not critical and not excessive and total >= policy.pass_score,
        less_lethal_first=llf,
        reaction_time_s=None if reaction is None else round(reaction, 4),
        transition_time_s=None if transition is None else round(transition, 4),
        rounds_fired=rounds,
        rounds_on_target=on_target,
        rounds_after_threat=after,
        deployments=deployments,
        hits=hits,
        findings=findings,
        policy=policy.id,
        officer=officer,
        shoot_scenario=any(s.peak is Threat.DEADLY for s in subjects.values()),
        incomplete=incomplete,
        less_lethal_na=llf_na,
    )


def _less_lethal_first(
    first: tuple[float, ForceOption] | None, threat: Threat, at_hand: set[str]
) -> tuple[bool | None, str]:
    """Whether the less-lethal option came first, or (None, why) where the question did not
    arise: no force, a deadly threat met with the firearm (LLF-02 asks it only short of deadly),
    or no TASER at hand."""
    if first is None:
        return None, "no force used"
    if first[1] is ForceOption.TASER:
        return True, ""
    if threat >= Threat.DEADLY:
        return None, "deadly threat: the firearm was the option that fit"
    if "taser" not in at_hand:
        return None, "no TASER at hand"
    return False, ""


def _incomplete(ended: dict[str, Any] | None, end_t: float) -> str:
    """Why a log is not a finished run, or "" when it is one."""
    if ended is None:
        return f"the log stops at {end_t:.2f} s with no run_ended: the run was cut short"
    if ended.get("state") != "completed":
        return f"the run {ended.get('state')} ({ended.get('reason')})"
    return ""


def _no_shoot(option: ForceOption, s: _Subject) -> bool:
    """Shoot / don't-shoot (facts.md §4, Graham; Garner for the fleeing): a firearm against
    anyone short of a deadly threat who holds no weapon, or who surrendered; a TASER against
    someone who poses no threat at all and holds no weapon, or who surrendered."""
    if s.behaviour == "surrendered":
        return True
    if option is ForceOption.FIREARM:
        return s.threat < Threat.DEADLY and not s.held.is_weapon
    return s.threat == Threat.NONE and s.peak < Threat.ACTIVE and not s.held.is_weapon


def _first_force_rules(
    add: Callable[[str, float, Kind, str], None],
    t: float,
    option: ForceOption,
    s: _Subject,
    policy: Policy,
    at_hand: set[str],
    verbal_at: float | None,
) -> None:
    taser_fits = policy.judge(s.threat, ForceOption.TASER) is Judgement.JUSTIFIED
    if option is ForceOption.TASER and taser_fits:
        add("LLF-01", t, Kind.CREDIT, "the less-lethal option came first")
    elif (
        option is ForceOption.FIREARM
        and taser_fits
        and "taser" in at_hand
        and (s.threat < Threat.DEADLY)
    ):
        add(
            "LLF-02",
            t,
            Kind.FINDING,
            "firearm first while the TASER was at hand and fit the threat",
        )
    if verbal_at is None and s.threat < Threat.DEADLY:
        add("VERBAL-01", t, Kind.FINDING, "force with no verbal command first")
    elif verbal_at is not None:
        add("VERBAL-01", t, Kind.CREDIT, f"verbal command {t - verbal_at:.1f} s before force")
