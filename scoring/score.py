"""Judge one run from its event log: each subject's threat timeline, every use of force against
it, what the officer did to avoid force, and when force had to stop.

Every rule id, what it judges, its default and its source are rows of the policy file
(scoring/data/policy-default.toml) and of docs/scoring.md. The log is read in order, so every use
of force (a round, a TASER deployment, a re-energised cycle) is judged against the threat as the
officer faced it at that moment, before its own effect was known.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from drills.deescalation import CALMING_CATEGORIES, Deescalation
from drills.log import LogRecord
from drills.speech import ACT, PhraseBook, acts_in_text, builtin_phrasebook
from drills.threat import Behaviour, HeldObject, Threat, threat_of
from drills.wording import article
from physics.units import FT_M, m_to_ft
from scoring.corrections import (
    SUPERSEDED,
    Correction,
    apply_corrections,
    dumped,
    heard_acts,
    heard_as,
    unapplied,
    undone,
)
from scoring.policy import ForceOption, Judgement, Policy, Settings


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

    @property
    def overrides_score(self) -> bool:
        """Whether this finding fails a graded run whatever its points add up to: every
        critical one, and excessive force (FORCE-01 as a finding). The one place that decides
        it: the pass, `Score.overridden_by` and the sheet's `!` mark all ask here (rc24 #4)."""
        return self.kind is Kind.CRITICAL or (self.rule == "FORCE-01" and self.kind is Kind.FINDING)


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
    # The officer script that played the run ("" when an officer played it live): a scripted
    # run's decisions are never counted as the named officer's (scoring/detection.py).
    scripted_by: str = ""
    # The records' badge the run was kept under ("" when none): the across-runs table groups
    # by it (scoring/detection.py).
    badge: str = ""
    shoot_scenario: bool = False  # a subject posed a deadly threat: firing was called for
    # Rounds that struck a subject who posed no threat that called for them (DECISION-01): a
    # no-shoot target shot, a false alarm across runs (scoring/detection.py, facts.md §4).
    rounds_at_no_threat: int = 0
    # Beside the deadly threat, a subject (not a bystander) who never posed one and held no
    # weapon: a no-shoot target in the same scene, its own trial across runs.
    no_shoot_target: bool = False
    # Why the run is not a finished run ("" when it is): then `score` is what the findings so far
    # add up to, not a grade, and `passed` is False.
    incomplete: str = ""
    # Why less-lethal first did not apply, when it did not ("" when it did).
    less_lethal_na: str = ""
    # Per subject: the threat timeline (t, moment), reaction times, TASER cycles and exposure.
    subjects: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What this log lacks for the current rules (an older log): the rules it could not judge.
    not_judged: list[str] = field(default_factory=list)
    # What the officer said (issue 17): each act's count, questions and rapport statements,
    # and the seconds spoken (officer_spoke records; 0 in an older log).
    speech: dict[str, Any] = field(default_factory=dict)
    # The instructor's corrections of misheard acts applied (scoring/corrections.py), in order.
    corrections: list[dict[str, Any]] = field(default_factory=list)
    # Those that did not apply to this log (a stale or hand-edited file; its `index` in the
    # file and `why`): never applied, never listed as applied.
    corrections_not_applied: list[dict[str, Any]] = field(default_factory=list)
    # An empathy scene's debrief (docs/drills.md, "Empathy scenes"): each question's id, text,
    # answer and how it was given, in order. Empty for a use-of-force drill.
    debrief: list[dict[str, Any]] = field(default_factory=list)
    # A TASER fired in a log that logs cycles, with no cycle: why ("" otherwise).
    taser_cycles_note: str = ""
    # The issued weapons the run was played without, on the range master's `--without`
    # (run_started `weapons_left_out`): shown beside the score, so nobody reads a missing
    # TASER as the drill's own design (rc21 #5).
    weapons_left_out: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        if self.incomplete:
            return Outcome.INCOMPLETE
        return Outcome.PASS if self.passed else Outcome.FAIL

    def applied(self, corrections: Sequence[Correction]) -> list[Correction]:
        """Those of `corrections` (as given to `score_run`) that this score applied: each one
        listed in `corrections_not_applied` (superseded, a hand-edited typo, an added act that
        does not fit the log) left out. The report and the console show only these (rv21b #3)."""
        stale = {c["index"] for c in self.corrections_not_applied}
        return [c for index, c in enumerate(corrections) if index not in stale]

    @property
    def overridden_by(self) -> list[Finding]:
        """The findings that fail the run whatever its points add up to: every critical one,
        and excessive force."""
        return [f for f in self.findings if f.overrides_score]

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["findings"] = [asdict(f) | {"kind": f.kind.value} for f in self.findings]
        out["outcome"] = self.outcome.value
        if self.incomplete:  # a run cut short decided nothing (no `Decision:` line either)
            out["decision"] = None
        return out


GUNS = (HeldObject.HANDGUN, HeldObject.RIFLE)
# Within an arm's length plus a blade of the officer: the subject has reached him.
CONTACT_M = 1.0
_GAVE_UP = ("surrendered", "incapacitated", "compliant")
_FORCE = {"taser_fired": ForceOption.TASER, "firearm_fired": ForceOption.FIREARM}
# A cycle counts as longer than the standard one past this slack (one frame and rounding).
_CYCLE_SLACK_S = 0.05


@dataclass(slots=True)
class _Subject:
    name: str
    role: str = "subject"
    threat: Threat = Threat.NONE
    behaviour: str = "compliant"
    held: HeldObject = HeldObject.NONE
    peak: Threat = Threat.NONE
    attributes: dict[str, Any] | None = None
    phase_acting: bool | None = None  # the phase's `acting` (None: an older log)
    position: tuple[float, float] | None = None
    timeline: list[tuple[float, str]] = field(default_factory=list)
    # The current episode of acting (assaultive or deadly) and its answer.
    episode: bool = False
    # The officer's exposure to this subject's acting, in the open episode: when the current
    # exposed stretch began (from a phase change it is provisional until the next positions
    # record says where the officer stood), and the seconds of the stretches closed so far.
    exposed_since: float | None = None
    provisional: bool = False
    exposed_s: float = 0.0
    onset: float | None = None
    response: float | None = None
    reaction: float = 0.0  # exposed seconds before the response
    reactions: list[float] = field(default_factory=list)
    ended_at: float | None = None  # when the threat visibly ended
    uses_after: int = 0
    after_delays: list[float] = field(default_factory=list)  # s from the threat's end, per use
    last_taser: float | None = None
    transition: float | None = None  # s from the last TASER use to the first round after it
    forced: bool = False
    fired_on: bool = False
    ever_armed: bool = False
    warned_cew: bool = False
    # When the subject's present threat level (with a live weapon in hand or not) began, and
    # when it first acted at that level: a warning is feasible from the threat the force
    # answers, not from an earlier, lesser one (facts.md §5; nu19 #2).
    threat_since: float | None = None
    threat_level: tuple[Threat, bool] | None = None
    acted_at: float | None = None
    tasered: bool = False
    # The officer's cover and movement relative to this subject.
    protected: bool = False
    seen_protected: bool = False
    net_approach_m: float = 0.0
    flagged: set[str] = field(default_factory=set)
    # TASER cycles.
    cycles: int = 0
    exposure_s: float = 0.0
    cycles_after: int = 0
    drive_stun: int = 0
    last_cycle_end: float | None = None
    running: set[str] = field(default_factory=set)
    capped: set[int] = field(default_factory=set)  # cycles charged a CEW-04 (one each)
    # Flight straight from active resistance or more (nu26 #4): when the subject turned to run
    # and the threat he posed just before; force within max_reaction_s of the turn is weighed
    # against that threat, not against "flight alone" (Scorer.weighed).
    fled_at: float | None = None
    fled_from: Threat = Threat.NONE

    @property
    def acting(self) -> bool:
        """Acting on the threat (pointing, firing, attacking, charging): as the phase says, or
        by default an assaultive or deadly threat."""
        if self.threat is Threat.NONE:
            return False
        if self.phase_acting is not None:
            return self.phase_acting
        return self.threat >= Threat.ASSAULTIVE

    @property
    def armed_live(self) -> bool:
        """Holds a weapon and has not given up."""
        return self.held.is_weapon and self.behaviour not in _GAVE_UP

    def restricted(self, tokens: list[str]) -> list[str]:
        if self.attributes is None:
            return []
        out = []
        for token in tokens:
            name, _, value = token.partition("=")
            have = self.attributes.get(name)
            if (value and have == value) or (not value and have is True):
                out.append(token)
        return out


Box = dict[str, Any]  # a cover record: numbers in metres, name, material, role


def _segment_hits_box(a: tuple[float, float], b: tuple[float, float], box: Box) -> bool:
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


def _distance_to_box(p: tuple[float, float], box: Box) -> float:
    dx = max(abs(p[0] - box["x_m"]) - box["depth_m"] / 2, 0.0)
    dy = max(abs(p[1] - box["y_m"]) - box["width_m"] / 2, 0.0)
    return math.hypot(dx, dy)


def _box_points(box: Box, n: int = 5) -> list[tuple[float, float]]:
    xs = [box["x_m"] + box["depth_m"] * (i / (n - 1) - 0.5) for i in range(n)]
    ys = [box["y_m"] + box["width_m"] * (j / (n - 1) - 0.5) for j in range(n)]
    return [(x, y) for x in xs for y in ys]


def _forward(quaternion: list[float]) -> tuple[float, float]:
    """The plan-view bore direction of a muzzle orientation (x, y, z, w): its x axis."""
    x, y, z, w = quaternion
    fx, fy = 1 - 2 * (y * y + z * z), 2 * (x * y + z * w)
    norm = math.hypot(fx, fy) or 1.0
    return fx / norm, fy / norm


def _acts(record: LogRecord, values: Settings, book: PhraseBook | None = None) -> list[str]:
    """The speech acts (phrase-book names: `identify`, `command.drop_weapon`, `warning.taser`,
    `rapport.help`, ...) in one record, in the order said.

    An `officer_spoke` record carries its act (after any instructor correction), and so does an
    instructor's live mark (`instructor_command` "mark": an act the recogniser missed, heard by
    the instructor; one that is not an act shape is no act). A `verbal_command` action (a
    scripted officer's line) carries the acts the run's phrase book found in its words
    (`acts`: the built-in book with any agency `--phrases` merged in, as a `speak` step hears
    them, nu24 #3); an older log's carries only its words, and `book` (the run's kept book;
    None: the built-in one) finds the acts in them, as it does in heard speech. Either way
    the `cew_warning_words` and `deadly_warning_words` settings add the warnings they name. A
    line in which none is found
    (or whose words the log did not keep) counts as a command (the bare category `command`),
    so old logs still score; one the book maps is those acts alone, so a rapport-only line
    ("I'm here to help. What's your name?") is rapport, never a command that could earn
    VERBAL-01 (nu21 #8)."""
    if record.kind == "officer_spoke":
        return [str(record.data["act"])]
    if record.kind == "instructor_command":  # a live mark: an act the recogniser missed
        act = str(record.data.get("act") or "")
        return [act] if re.match(ACT, act) else []
    say = str(record.data.get("say") or "")
    kept = record.data.get("acts")
    if isinstance(kept, list):
        acts = [str(act) for act in kept]
    else:
        acts = [m.act for m in acts_in_text(say, book or builtin_phrasebook())]
    low = say.lower()

    def names(words: list[str]) -> bool:
        return any(re.search(rf"\b{re.escape(w.lower())}", low) for w in words)

    if names(values.cew_warning_words) and "warning.taser" not in acts:
        acts.append("warning.taser")
    if names(values.deadly_warning_words) and "warning.deadly_force" not in acts:
        acts.append("warning.deadly_force")
    if not acts:
        acts.append("command")
    return acts


def _heard_entry(record: LogRecord, act: str) -> dict[str, Any]:
    """One act heard, for Score.speech["heard"]: who heard it (`source`)."""
    if record.kind == "instructor_command":
        return {
            "t": record.t,
            "act": act,
            "source": "instructor",
            "by": str(record.data.get("by") or ""),
            "text": str(record.data.get("text") or ""),
        }
    source = "recogniser" if record.kind == "officer_spoke" else "script"
    return {"t": record.t, "act": act, "source": source}


def said_at(record: LogRecord) -> float:
    """When a record happened for the rules: an `officer_spoke` act when its words ended
    (`end_s`; its `t` is when the recogniser decided it, up to a second later, or at the run's
    end for words still being said then), any other record at its `t`. facts.md §5 asks the
    identification and the warnings *before* the force: words ended before it were given
    before it, though decided after (nu17c #4)."""
    if record.kind == "officer_spoke" and "end_s" in record.data:
        return min(record.t, float(record.data["end_s"]))
    return record.t


def _category(act: str) -> str:
    return act.partition(".")[0]


# The rules that fault words the log does not hold: where nobody could hear the officer (a live
# run with audio off, run_started `officer_unheard`), their findings are information (nu20 #1).
UNHEARD_RULES = frozenset({"VERBAL-01", "VERBAL-02", "VERBAL-03", "CEW-02", "DEESC-04"})

# Acts that tell the subject what to do: VERBAL-01's "verbal command".
_COMMANDING = ("command", "warning")
# Acts that talk to the subject: DEESC-02's "talked to the subject", rapport and questions included
# (ICAT's de-escalation is communication, facts.md §4); `identify` alone is not (nu24 #17).
_TALKING = ("command", "warning", "rapport", "question")


class _Judge:
    """The scorer's state while it reads one log."""

    def __init__(
        self, policy: Policy, book: PhraseBook | None = None, label: str | None = None
    ) -> None:
        self.policy = policy
        self.label = label or policy.id  # how the score names its policy (`score_run`)
        self.book = book  # the run's phrase book, for an older log's scripted lines (`_acts`)
        self.values = policy.values
        self.subjects: dict[str, _Subject] = {}
        self.findings: list[Finding] = []
        self.at_hand: set[str] = set()
        # Each TASER's cartridge per bay as the run started (run_started `devices`; absent in
        # older logs) and the (serial, bay, cartridge) fired so far: CEW-08's advice names a
        # cartridge still loaded, never one already spent (nu23 #4).
        self.bays: dict[str, list[str | None]] = {}
        self.fired_bays: list[tuple[str, int, str]] = []
        self.verbal_at: float | None = None  # the first command or warning
        self.spoke_at: float | None = None  # the first act of any kind
        # The first act said to the subject (a command, warning, rapport or question act): a
        # talk-down's words (DEESC-02). Saying who the officer is tells the subject nothing to
        # do, so "Police!" alone is not talking a subject down (nu24 #17).
        self.talked_at: float | None = None
        # The first rapport or question act said in a normal voice, and the first shouted:
        # DEESC-03 is dated by them, not by the first command (nu19 #12).
        self.calming_at: float | None = None
        self.shouted_at: float | None = None
        self.identified_at: float | None = None
        self.identity_credited = False  # VERBAL-03 credited (at a TASER or the first round)
        self.deadly_warned = False
        self.commands: list[tuple[float, str]] = []  # (t, act), for VERBAL-04
        self.repeat: tuple[str, int, float] | None = None  # (act, times in a row, last t)
        self.repeat_finding: int | None = None  # index of this run of repeats' VERBAL-05
        self.acts: dict[str, int] = {}
        # Each act heard: t, act, source ("recogniser", "instructor" for a live mark, "script"
        # for an older log's verbal_command), and for a mark who made it and the words.
        self.heard: list[dict[str, Any]] = []
        # Rapport statements and questions said in a shout (officer_spoke loudness_dbfs at or
        # above the de-escalation model's shout_dbfs): they calm nobody, so earn no DEESC-03.
        self.shouted: dict[str, int] = {c: 0 for c in CALMING_CATEGORIES}
        self.talk: list[tuple[float, float]] = []  # officer_spoke (start_s, end_s)
        self.words_unknown = False
        self.unheard = ""  # why nobody could hear the officer (a live run with audio off)
        self.first_force: tuple[float, ForceOption] | None = None
        self.first_threat = Threat.NONE
        self.last_taser: float | None = None
        self.first_firearm: float | None = None
        self.rounds = self.on_target = self.after = 0
        self.deployments: list[dict[str, Any]] = []
        self.hits: list[Hit] = []
        self.contact = False
        self.closest: tuple[float, float, str] | None = None
        self.officer = ""
        self.scripted_by = ""
        self.badge = ""
        self.no_threat_rounds = 0
        self.cover: list[Box] = []
        self.crowds: list[Box] = []
        self.backstop_m: float | None = None
        self.gun_moments = self.covered_moments = 0
        self.round_struck = False  # the round being read has struck a person (bullet_strike)
        self.detached_why = "a probe detached"  # the last probe_detached, for the cycle it ends
        self.first_gun_t: float | None = None
        self.end_t = 0.0
        self.ended: dict[str, Any] | None = None
        self.officer_at: tuple[float, float] | None = None
        self.have_positions = False
        self.have_attributes = False
        self.have_cycles = False
        self.tasers_fired = 0
        self.started: dict[str, Any] = {}
        self.llf_na = ""

    # -- helpers ---------------------------------------------------------------------------------

    def add(self, rule: str, t: float, kind: Kind, message: str) -> None:
        if self.unheard and rule in UNHEARD_RULES and kind in (Kind.FINDING, Kind.CRITICAL):
            # Nobody could hear the officer (run_started `officer_unheard`): words missing from
            # the log were not said *as far as anyone knows*, so no points (nu20 #1).
            kind, message = Kind.INFO, f"{message}: not judged, the officer could not be heard"
        points = self.policy.points[rule] if kind in (Kind.FINDING, Kind.CRITICAL) else 0.0
        self.findings.append(Finding(rule, round(t, 4), kind, points, message))

    def breach(self, rule: str, t: float, message: str) -> None:
        """A breach of `rule`, as severe as the policy makes it."""
        severity = self.policy.rule(rule).severity
        kind = Kind.CRITICAL if severity == "critical" else Kind.FINDING
        if severity in ("credit", "info"):
            kind = Kind.INFO
        self.add(rule, t, kind, message)

    def subject(self, name: str | None) -> _Subject | None:
        return None if name is None else self.subjects.get(name)

    def officer_covers(self) -> list[Box]:
        """The objects the officer may take cover behind: the drill's own to use, and cover,
        not concealment (a car door hides the officer but stops no round; docs/scoring.md)."""
        return [
            c
            for c in self.cover
            if c.get("officer_cover") is not False and c.get("role") != "concealment"
        ]

    def protected_from(self, officer: tuple[float, float], p: tuple[float, float]) -> bool:
        reach = self.values.cover_reach_ft * FT_M
        return any(
            _segment_hits_box(officer, p, box) and _distance_to_box(officer, box) <= reach
            for box in self.officer_covers()
        )

    # -- records ---------------------------------------------------------------------------------

    def read(self, rec: LogRecord) -> None:
        d, t = rec.data, rec.t
        self.end_t = max(self.end_t, t)
        kind = rec.kind
        if kind == "run_ended":
            self.ended = d
        elif kind == "run_started":
            self.started = d
            self.unheard = str(d.get("officer_unheard") or "")
            self.at_hand = set(d.get("weapons") or [])
            self.bays = {
                str(dev["serial"]): list(dev["cartridges"])
                for dev in d.get("devices") or []
                if dev.get("cartridges") is not None
            }
            self.officer = str(d.get("officer_name") or d.get("officer") or "")
            self.badge = str(d.get("badge") or "")
            played_by = str(d.get("officer") or "")
            if played_by and played_by != "live":  # the script's id, also with --voice
                self.scripted_by = played_by.rpartition("actions scripted by ")[2]
            self.cover = list(d.get("cover") or [])
            self.crowds = list(d.get("crowds") or [])
            self.backstop_m = d.get("lane_length_m")
            for name, spec in (d.get("subjects") or {}).items():
                s = self.subjects.setdefault(name, _Subject(name))
                s.role = spec.get("role", "subject")
                s.position = tuple(spec["start_m"]) if "start_m" in spec else None
        elif kind in ("phase_entered", "incapacitation_started", "incapacitation_ended"):
            self.threat_moment(rec)
        elif (
            kind == "officer_spoke"
            or (kind == "officer_action" and d["action"] == "verbal_command")
            or (kind == "instructor_command" and d.get("command") == "mark")
        ):
            self.speech(rec)
        elif kind == "officer_action" and d["action"] in _FORCE:
            self.force_action(rec)
        elif kind == "taser_cycle_started":
            self.cycle_started(rec)
        elif kind == "taser_exposure":
            self.exposure(rec)
        elif kind == "probe_detached":
            d = rec.data
            self.detached_why = f"probe(s) {', '.join(map(str, d['probes']))} off: {d['reason']}"
            if not d["circuit_open"]:
                self.add(
                    "PLACE-02",
                    rec.t,
                    Kind.INFO,
                    f"{self.detached_why} on {d['subject']}; the others still close a circuit",
                )
        elif kind == "probe_impacts":
            self.probes(rec)
        elif kind in ("bullet_impact", "bullet_strike"):
            self.bullet(rec)
        elif kind == "drive_stun":
            self.drive_stun(rec)
        elif kind == "positions":
            self.positions(rec)

    def speech(self, rec: LogRecord) -> None:
        """What the officer said: each act in the order said (VERBAL-*, CEW-02, DEESC-*),
        judged when its words were said (`said_at`), not when the recogniser decided it."""
        t = said_at(rec)
        if rec.kind == "officer_spoke":
            self.talk.append((float(rec.data["start_s"]), float(rec.data["end_s"])))
        elif rec.kind == "officer_action" and not rec.data.get("say"):
            # An older log: a command, its words not kept. (A live mark is an act heard with
            # the words the instructor typed, in `text`: it never makes a log look older.)
            self.words_unknown = True
        loud = rec.data.get("loudness_dbfs") if rec.kind == "officer_spoke" else None
        shouted = loud is not None and float(loud) >= Deescalation().shout_dbfs
        for act in _acts(rec, self.values, self.book):
            self.acts[act] = self.acts.get(act, 0) + 1
            self.heard.append(_heard_entry(rec, act))
            category = _category(act)
            if shouted and category in self.shouted:
                self.shouted[category] += 1
                self.shouted_at = t if self.shouted_at is None else self.shouted_at
            elif category in self.shouted:
                self.calming_at = t if self.calming_at is None else self.calming_at
            self.spoke_at = t if self.spoke_at is None else self.spoke_at
            if category in _TALKING:
                self.talked_at = t if self.talked_at is None else self.talked_at
            if category in _COMMANDING:
                self.verbal_at = t if self.verbal_at is None else self.verbal_at
            if category == "identify":
                self.identified_at = t if self.identified_at is None else self.identified_at
            if act == "warning.taser":
                for s in self.subjects.values():
                    s.warned_cew = True
            if act == "warning.deadly_force":
                self.deadly_warned = True
            if category == "command" and act != "command":  # a bare `command`: words unknown
                self.command_given(t, act)

    def command_given(self, t: float, act: str) -> None:
        """VERBAL-04 (a command that conflicts with one just given) and VERBAL-05 (the same
        command again and again with no time to comply)."""
        values = self.values
        pairs = {frozenset(p.split("|")) for p in values.conflicting_commands}
        for before_t, before in self.commands:
            if t - before_t <= values.conflict_window_s + 1e-9 and {before, act} in pairs:
                self.breach(
                    "VERBAL-04",
                    t,
                    f"conflicting commands: {act} {t - before_t:.1f} s after {before}; the"
                    " subject cannot obey both",
                )
                break
        self.commands.append((t, act))
        last = self.repeat
        if last is not None and last[0] == act and t - last[2] < values.comply_time_s - 1e-9:
            times = last[1] + 1
        else:
            times = 1
        self.repeat = (act, times, t)
        if times == values.repeat_max + 1:
            self.breach("VERBAL-05", t, self.repeat_message(act, times))
            self.repeat_finding = len(self.findings) - 1
        elif times > values.repeat_max + 1 and self.repeat_finding is not None:
            # One finding per run of repeats, dated at the first one too many, counting them all
            # (nu17b #3: "given 4 times" beside "x5" read as a miscount).
            i = self.repeat_finding
            self.findings[i] = replace(self.findings[i], message=self.repeat_message(act, times))
        if times == 1:
            self.repeat_finding = None

    def repeat_message(self, act: str, times: int) -> str:
        values = self.values
        return (
            f"{act} given {times} times in a row (more than {values.repeat_max}), each within"
            f" {values.comply_time_s:g} s of the last: no time to comply"
        )

    def feasible(self, s: _Subject, t: float) -> float | None:
        """The seconds `s` posed its present threat before acting on it (or before `t`) when
        that is at least warning_feasible_s, so a warning or identification was feasible; else
        None. Counted from when the subject reached the threat level it has at `t` (a deadly
        threat for the first round against a gunman), never from an earlier, lesser level:
        facts.md §5 asks a deadly-force warning "where safe and feasible", so the time to give
        it is the time the deadly threat left, not the time the driver sat passively resisting
        before he drew (nu19 #2)."""
        if s.threat_since is None or self.words_unknown:
            return None  # no threat before, or the log does not say what was said
        before = min(t, s.acted_at if s.acted_at is not None else t) - s.threat_since
        return before if before >= self.values.warning_feasible_s - 1e-9 else None

    def threat_moment(self, rec: LogRecord) -> None:
        d, t = rec.data, rec.t
        s = self.subjects.setdefault(d["subject"], _Subject(d["subject"]))
        before, was_ended, was_acting = s.threat, s.ended_at is not None, s.acting
        was_fleeing = s.behaviour == "fleeing"
        if rec.kind == "incapacitation_started":
            s.behaviour, s.threat = "incapacitated", Threat.NONE
        else:
            s.behaviour = d["behaviour"]
            if d.get("attributes") is not None:
                s.attributes = dict(d["attributes"])
                self.have_attributes = True
            if "held_object" in d:
                s.held = HeldObject(d["held_object"])
            if rec.kind == "phase_entered":
                s.phase_acting = d.get("acting")
            # The threat follows from the behaviour and the attributes under today's rules, so
            # an older log rescores with them (its logged `threat` is what the engine thought).
            danger = bool((s.attributes or {}).get("danger_to_others"))
            s.threat = threat_of(Behaviour(s.behaviour), danger)
        s.ever_armed = s.ever_armed or s.held.is_weapon
        s.peak = max(s.peak, s.threat)
        if s.behaviour != "fleeing":
            s.fled_at = None
        elif not was_fleeing and before >= Threat.ACTIVE > s.threat:
            s.fled_at, s.fled_from = t, before  # turned from resistance to flight (nu26 #4)
        # The timeline: the moments a range master names.
        moment = ""
        if s.threat >= Threat.ACTIVE and was_ended:
            moment = "re-arm" if s.held.is_weapon else "resumed"
        elif s.acting and not was_acting:
            moment = "acting"
        elif s.threat > before and s.threat >= Threat.ASSAULTIVE:
            moment = "onset" if before < Threat.ASSAULTIVE else "escalation"
        elif s.behaviour == "surrendered" and before > Threat.NONE:
            moment = "surrender"
        elif s.behaviour == "incapacitated":
            moment = "incapacitation"
        elif rec.kind == "incapacitation_ended":
            moment = "recovery"
        elif s.behaviour == "fleeing" and not was_fleeing and s.threat < before:
            moment = "flight"  # running from what he did is not a de-escalation (nu26 #4)
        elif s.threat < before:
            moment = "de-escalation"
        if moment and (not s.timeline or s.timeline[-1][1] != moment):
            s.timeline.append((round(t, 4), moment))
        posing = s.threat > Threat.NONE or s.armed_live
        level = (s.threat, s.armed_live)
        if not posing:
            s.threat_since = s.acted_at = s.threat_level = None
        elif s.threat_level != level:
            s.threat_since, s.threat_level, s.acted_at = t, level, None
        if s.acting and s.acted_at is None and s.threat_since is not None:
            s.acted_at = t
        if s.threat >= Threat.ACTIVE:
            s.ended_at, s.uses_after = None, 0
        elif s.threat == Threat.NONE and s.peak >= Threat.ACTIVE and s.ended_at is None:
            s.ended_at = t
        if s.acting and not s.episode:
            s.episode, s.onset, s.response = True, None, None
            s.exposed_since, s.provisional, s.exposed_s = t, True, 0.0
        elif s.episode and not s.acting:
            # The episode ends when the subject stops acting: a new phase, or going down under
            # the TASER. One who gets up and fights on (`incapacitation_ended`) opens a new
            # episode the officer must answer (nu26 #2: the clock restarts with each new
            # episode; facts.md §1 recovery, §4 reaction, §5 "until the threat ends").
            self.close_episode(s, t, still_acting=False)

    def close_episode(self, s: _Subject, t: float, still_acting: bool) -> None:
        policy = self.policy
        if s.onset is not None and s.response is not None:
            reaction = s.reaction
            s.reactions.append(round(reaction, 4))
            kind = Kind.INFO
            if reaction > policy.critical_reaction_s:
                kind = Kind.CRITICAL
            elif reaction > policy.max_reaction_s:
                kind = Kind.FINDING
            self.add(
                "REACT-01",
                s.onset,
                kind,
                f"{reaction:.2f} s exposed to {s.name}'s threat before the first appropriate"
                f" response to {s.name} (policy {policy.max_reaction_s:.1f} s, critical past"
                f" {policy.critical_reaction_s:.1f} s)",
            )
        elif s.response is None and self.exposed_for(s, t) > 0.0:
            open_s = self.exposed_for(s, t)
            at = s.onset if s.onset is not None else t
            if open_s >= policy.critical_reaction_s - 1e-9 or (
                still_acting and open_s >= policy.max_reaction_s
            ):
                self.add(
                    "REACT-02",
                    at,
                    Kind.CRITICAL,
                    f"{s.name} acted for {open_s:.2f} s while the officer was exposed, and no"
                    " appropriate use of force answered it",
                )
            elif open_s > policy.max_reaction_s:
                self.add(
                    "REACT-01",
                    at,
                    Kind.FINDING,
                    f"{s.name} acted for {open_s:.2f} s while the officer was exposed with no"
                    f" response (policy {policy.max_reaction_s:.1f} s)",
                )
        s.episode, s.onset, s.response, s.exposed_since, s.exposed_s = False, None, None, None, 0.0

    def exposed_for(self, s: _Subject, t: float) -> float:
        """Seconds the officer has stood exposed to `s` acting in this episode, up to `t`; sets
        the episode's onset (its first exposed moment) when there is one."""
        total = s.exposed_s
        if s.exposed_since is not None:
            total += max(0.0, t - s.exposed_since)
            s.onset = s.exposed_since if s.onset is None else s.onset
        return total

    def exposed_now(self, s: _Subject, t: float, exposed: bool) -> None:
        """Follow the exposure stretches of an open, unanswered episode at a positions record."""
        if not s.episode or s.response is not None:
            return
        exposed = exposed and s.acting
        if exposed and s.exposed_since is None:
            s.exposed_since = t
        elif exposed:
            s.provisional = False
        elif s.exposed_since is not None:
            if not s.provisional:  # a provisional stretch was never confirmed: the officer was
                s.exposed_s += t - s.exposed_since  # already in cover when the subject acted
            s.exposed_since, s.provisional = None, False
        if s.exposed_since is not None and s.onset is None:
            s.onset = s.exposed_since

    # -- force -----------------------------------------------------------------------------------

    def weighed(self, s: _Subject, t: float) -> Threat:
        """The threat force on `s` at `t` answers: the present one, or, within max_reaction_s
        (Tueller ~1.5 s, facts.md §4: the officer's time to answer a threat) of a turn from
        active resistance or more to flight, the resistance just before it. Graham v. Connor
        weighs the crime, the threat and active resistance *or* flight together (facts.md §5),
        and fleeing "should not by itself justify a CEW": flight right after an assault on the
        officer is not flight by itself, and force begun as its answer is judged against it
        (nu26 #4). Past the window the flight is judged as it is."""
        if s.fled_at is not None and t - s.fled_at <= self.policy.max_reaction_s + 1e-9:
            return max(s.threat, s.fled_from)
        return s.threat

    def fled_note(self, s: _Subject, t: float) -> str:
        """Why force on a fleeing `s` was weighed against the resistance before the flight."""
        if self.weighed(s, t) == s.threat or s.fled_at is None:
            return ""
        return (
            f" (fled {t - s.fled_at:.2f} s before, within {self.policy.max_reaction_s:g} s of"
            f" {threat_words(s.fled_from)}: not flight alone)"
        )

    def force(self, t: float, option: ForceOption, name: str | None, what: str) -> None:
        """One use of force on `name`: judged against that subject's own timeline."""
        s = self.subject(name)
        if s is None:
            return
        s.forced = True
        values = self.values
        if option is ForceOption.TASER:
            s.last_taser = t
        elif s.last_taser is not None and s.transition is None:
            s.transition = round(t - s.last_taser, 4)
        if s.threat == Threat.NONE and s.ended_at is not None:
            self.after += option is ForceOption.FIREARM  # rounds; cycles are counted per subject
            s.uses_after += 1
            late = t - s.ended_at
            s.after_delays.append(round(late, 4))
            held = f", still holding the {s.held}" if s.held.is_weapon else ""
            # What ended, in the words of the subject's threat state at its peak: active
            # resistance is not "the threat" (threat_words).
            ended = "threat" if s.peak >= Threat.ASSAULTIVE or s.held.is_weapon else "resistance"
            if late <= values.perception_allowance_s + 1e-9 and (
                s.uses_after <= values.perception_allowance_uses
            ):
                self.add(
                    "STOP-01",
                    t,
                    Kind.INFO,
                    f"{what} {late:.2f} s after {s.name}'s {ended} ended ({s.behaviour}{held}):"
                    f" within the perception allowance ({values.perception_allowance_s:.2f} s,"
                    f" {values.perception_allowance_uses} uses)",
                )
            else:
                # Name the limit that was passed: the time, or (inside the time) the uses, so a
                # use 0.40 s after never reads "past the allowance (0.56 s ...)" (nu26 #8).
                if late > values.perception_allowance_s + 1e-9:
                    past = f"past the perception allowance ({values.perception_allowance_s:.2f} s)"
                else:
                    past = (
                        f"use {s.uses_after} within {values.perception_allowance_s:.2f} s: past"
                        f" the perception allowance of {values.perception_allowance_uses}"
                        f" use{'s' if values.perception_allowance_uses != 1 else ''}"
                    )
                self.breach(
                    "STOP-02",
                    t,
                    f"{what} {late:.2f} s after {s.name}'s {ended} ended ({s.behaviour}{held}),"
                    f" {past}",
                )
            return
        threat = self.weighed(s, t)
        judgement = self.policy.judge(threat, option)
        if _no_shoot(option, s):
            self.no_threat_rounds += option is ForceOption.FIREARM
            self.breach(
                "DECISION-01",
                t,
                f"{what} at {s.name}, who posed no threat that called for it"
                f" ({s.behaviour}, holding {s.held})",
            )
        elif (
            option is ForceOption.FIREARM
            and s.threat is Threat.DEADLY
            and not s.acting
            and not (s.attributes or {}).get("danger_to_others")
        ):
            self.breach(
                "FORCE-02",
                t,
                f"{what} at {s.name}, armed ({s.held}) but not acting on it and no danger to"
                " others: no immediate threat",
            )
        elif judgement is Judgement.EXCESSIVE:
            self.add(
                "FORCE-01",
                t,
                Kind.FINDING,
                f"{what} against {s.name}'s threat level {threat.name.lower()} is excessive"
                f" under {self.policy.id}{self.fled_note(s, t)}",
            )
        elif judgement is Judgement.JUSTIFIED:
            self.add(
                "FORCE-01",
                t,
                Kind.INFO,
                f"{what} against {s.name}'s threat level {threat.name.lower()}: justified"
                f"{self.fled_note(s, t)}",
            )
            if s.episode and s.response is None:
                s.response = t
                s.reaction = self.exposed_for(s, t)
        if option is ForceOption.TASER:
            self.cew_rules(t, s)

    def cew_barred(self, s: _Subject, t: float) -> tuple[str, str] | None:
        """(rule, why) when the CEW policy bars the TASER on `s` at `t`: flight alone (CEW-01;
        not flight straight from resistance, `weighed`), a restricted subject or position short
        of a deadly threat (CEW-05)."""
        danger = bool((s.attributes or {}).get("danger_to_others"))
        threat = self.weighed(s, t)
        if s.behaviour == "fleeing" and not danger and threat == s.threat:
            return "CEW-01", f"{s.name}'s only resistance was flight (no danger to others)"
        restricted = s.restricted(self.values.cew_restricted)
        if restricted and threat < Threat.DEADLY:
            return "CEW-05", (
                f"{s.name} is restricted ({', '.join(restricted)}): only where deadly force would"
                f" otherwise be justified (threat was {threat.name.lower()})"
            )
        return None

    def cew_rules(self, t: float, s: _Subject) -> None:
        barred = self.cew_barred(s, t)
        if barred is not None:
            self.breach(barred[0], t, f"TASER on {s.name}: {barred[1]}")

    def force_action(self, rec: LogRecord) -> None:
        d, t = rec.data, rec.t
        option = _FORCE[d["action"]]
        name = d.get("subject")
        s = self.subject(name)
        if option is ForceOption.FIREARM:
            self.rounds += 1
            self.first_firearm = t if self.first_firearm is None else self.first_firearm
            self.backdrop(rec)
            if s is not None:
                s.fired_on = True
        else:
            self.last_taser = t
            self.tasers_fired += 1
            self.cartridge_range(rec)
            self.fired_bays.append(
                (str(d.get("serial")), int(d.get("bay") or 0), str(d.get("cartridge")))
            )
            if s is not None:
                self.cew_warning(t, s)
        self.first_use(t, option, s)
        if option is ForceOption.FIREARM and self.rounds == 1:
            feasible = None if s is None else self.feasible(s, t)
            self.identification_before_deadly_force(t, s, feasible)
            if self.deadly_warned:
                self.add("VERBAL-02", t, Kind.CREDIT, "warned that deadly force may be used")
            elif s is not None and feasible is not None:
                self.breach(
                    "VERBAL-02",
                    t,
                    "no deadly-force warning before the first round, though"
                    f" {_had_time(s, feasible, 'being shot')}",
                )
            else:
                self.add(
                    "VERBAL-02",
                    t,
                    Kind.INFO,
                    "no deadly-force warning before the first round:"
                    f" {_no_time(s, t, 'being shot')}",
                )
        what = "round" if option is ForceOption.FIREARM else "TASER deployment"
        self.force(t, option, name, what)

    def cew_warning(self, t: float, s: _Subject) -> None:
        """CEW-02 at the first CEW use on `s`, a probe deployment or a drive-stun alike
        (docs/scoring.md: a drive-stun is judged like any use of force; nu26 #1)."""
        if s.tasered:
            return
        s.tasered = True
        threat = self.weighed(s, t)
        if s.warned_cew:
            self.add("CEW-02", t, Kind.CREDIT, f"CEW warning given to {s.name} first")
        elif threat.name.lower() in self.values.cew_warning_threats and not (
            threat == Threat.NONE and s.ended_at is not None
        ):
            self.breach("CEW-02", t, f"no CEW warning to {s.name}: {_cew_warnable(s, t)}")
        else:
            self.add(
                "CEW-02",
                t,
                Kind.INFO,
                f"no CEW warning to {s.name}: not feasible against {threat_words(threat)}"
                f"{self.fled_note(s, t)}",
            )

    def first_use(
        self, t: float, option: ForceOption, s: _Subject | None, drive_stun: bool = False
    ) -> None:
        """The run's first use of force, whatever it was (a round, a probe deployment or a
        drive-stun's cycle): VERBAL-01, less-lethal first, and no talk-down credit after it."""
        if self.first_force is None:
            self.first_force = (t, option)
            self.first_threat = self.weighed(s, t) if s is not None else Threat.NONE
            self.first_force_rules(t, option, s, drive_stun)

    def drive_stun_barred(self, s: _Subject) -> bool:
        """CEW-06: a drive-stun at a threat the policy does not list (`drive_stun_threats`) is
        pain compliance (facts.md §5 drive-stun: "not for pain compliance")."""
        return s.threat.name.lower() not in self.values.drive_stun_threats

    def identified_credit(self, t: float, identified_at: float) -> None:
        self.identity_credited = True
        self.add(
            "VERBAL-03",
            t,
            Kind.CREDIT,
            f"identified as police {t - identified_at:.1f} s before force",
        )

    def identification_before_deadly_force(
        self, t: float, s: _Subject | None, feasible: float | None
    ) -> None:
        """VERBAL-03 at the first round: identification as police where feasible (facts.md §5,
        identify and warn before deadly force; LASD 3-10/045.00, Tennessee v. Garner). Credited
        once: an identification already credited at a TASER deployment is not credited again."""
        if self.identified_at is not None:
            if not self.identity_credited:
                self.identified_credit(t, self.identified_at)
        elif s is not None and feasible is not None:
            self.breach(
                "VERBAL-03",
                t,
                "deadly force with no identification as police, though"
                f" {_had_time(s, feasible, 'the force')}",
            )
        else:
            self.add(
                "VERBAL-03",
                t,
                Kind.INFO,
                f"no identification before deadly force: {_no_time(s, t, 'the force')}",
            )

    def first_force_rules(
        self, t: float, option: ForceOption, s: _Subject | None, drive_stun: bool = False
    ) -> None:
        threat = self.weighed(s, t) if s is not None else Threat.NONE
        judged = self.policy.judge(threat, ForceOption.TASER)
        taser_fits = judged is Judgement.JUSTIFIED
        rule = None if s is None else (self.cew_barred(s, t) or ("", ""))[0]
        why = {"CEW-01": "flight alone", "CEW-05": "a restricted subject"}.get(rule or "", "")
        if s is not None and not why and judged is Judgement.EXCESSIVE:
            # One rule for when the TASER was permitted (nu26 #3): the matrix bars it for the
            # subject's state (facts.md §5 when a CEW fits: not against passive non-compliance)
            # as the CEW policy bars it for flight alone or a restricted subject.
            why = f"excessive against {threat_words(threat)}"
        what = "TASER"
        if s is not None and not why and drive_stun and self.drive_stun_barred(s):
            # The same rule for a drive-stun the policy bars at this threat (CEW-06; facts.md
            # §5 drive-stun: "not for pain compliance"): it was not the less-lethal option that
            # fit, so less-lethal first did not arise (rc24 #3).
            what, why = "drive-stun", "pain compliance"
        if why:
            taser_fits = False  # the CEW policy bars it: no less-lethal credit, no LLF-02
            self.llf_na = f"the CEW policy barred the {what} here: {why}"
        if option is ForceOption.TASER and taser_fits:
            self.add("LLF-01", t, Kind.CREDIT, "the less-lethal option came first")
        elif (
            option is ForceOption.FIREARM
            and taser_fits
            and "taser" in self.at_hand
            and threat < Threat.DEADLY
        ):
            self.add(
                "LLF-02",
                t,
                Kind.FINDING,
                "firearm first while the TASER was at hand and fit the threat",
            )
        if option is ForceOption.TASER:
            # VERBAL-03 judges identification before deadly force only (facts.md §5: "where
            # safe and feasible, identify as police and warn that deadly force may be used";
            # LASD 3-10/045.00). No source asks it before a CEW: credit when given, else info.
            if self.identified_at is not None:
                self.identified_credit(t, self.identified_at)
            else:
                self.add(
                    "VERBAL-03",
                    t,
                    Kind.INFO,
                    "no identification before the TASER: judged before deadly force only"
                    " (facts.md §5)",
                )
        if self.verbal_at is None and threat < Threat.DEADLY:
            self.add("VERBAL-01", t, Kind.FINDING, "force with no verbal command first")
        elif self.verbal_at is not None:
            self.add(
                "VERBAL-01",
                t,
                Kind.CREDIT,
                f"verbal command {t - self.verbal_at:.1f} s before force",
            )

    def cartridge_range(self, rec: LogRecord) -> None:
        d, t = rec.data, rec.t
        cartridge = d.get("cartridge")
        s = self.subject(d.get("subject"))
        ranges = self.values.cartridge_range_ft
        if cartridge not in ranges or s is None or s.position is None or self.officer_at is None:
            return
        distance_ft = m_to_ft(math.dist(s.position, self.officer_at))
        low, high = ranges[cartridge]
        if low <= distance_ft <= high:
            return
        family = cartridge.split("-")[0]
        fits = [
            c
            for c, (a, b) in ranges.items()
            if c != cartridge and c.split("-")[0] == family and a <= distance_ft <= b
        ]
        advice = self.cartridge_advice(d, fits)
        self.breach(
            "CEW-08",
            t,
            f"{cartridge} fired at {distance_ft:.1f} ft, outside its effective range"
            f" {low:g}-{high:g} ft{advice}",
        )

    def cartridge_advice(self, d: dict[str, Any], fits: list[str]) -> str:
        """CEW-08's advice from the log alone: a cartridge that fits the distance and was still
        loaded in another bay of the same TASER, else that none was left (nu23 #4: the demo's
        officer, with the Standoff bay already fired, was told to use it)."""
        if not fits:
            return ""
        serial, bay = str(d.get("serial")), int(d.get("bay") or 0)
        spent = {b for s, b, _ in self.fired_bays if s == serial}
        if serial in self.bays:
            loaded = [
                c for i, c in enumerate(self.bays[serial]) if i != bay and i not in spent and c
            ]
            better = [c for c in fits if c in loaded]
            if better:
                return f"; {' or '.join(better)}, still loaded, fits that distance"
            return f"; {' or '.join(fits)} fits that distance, but none was left loaded"
        # An older log names no loads: leave out what this TASER already fired.
        fired = {c for s, _, c in self.fired_bays if s == serial}
        better = [c for c in fits if c not in fired]
        if better:
            return f"; {' or '.join(better)} fits that distance"
        return f"; {' or '.join(fits)} fits that distance, but it was already fired"

    def backdrop(self, rec: LogRecord) -> None:
        """Bystanders and crowd zones in a cone around the line of fire, out to the backstop."""
        d, t = rec.data, rec.t
        o = self.officer_at
        target = self.subject(d.get("subject"))
        if o is None:
            muzzle = d.get("muzzle")
            if muzzle is None:
                return
            o = (muzzle["position_m"][0], muzzle["position_m"][1])
        if target is not None and target.position is not None:
            dx, dy = target.position[0] - o[0], target.position[1] - o[1]
            norm = math.hypot(dx, dy) or 1.0
            u = (dx / norm, dy / norm)
        elif d.get("muzzle") is not None:
            u = _forward(d["muzzle"]["orientation"])
        else:
            return
        values = self.values
        reach = self.backstop_m or values.default_backstop_ft * FT_M
        tan = math.tan(math.radians(values.backdrop_cone_deg))
        clearance = values.backdrop_clearance_ft * FT_M

        def inside(p: tuple[float, float]) -> bool:
            vx, vy = p[0] - o[0], p[1] - o[1]
            along = vx * u[0] + vy * u[1]
            lateral = abs(vx * u[1] - vy * u[0])
            return 0.0 < along <= reach and lateral <= along * tan + clearance

        at_risk = [
            s.name
            for s in self.subjects.values()
            if s.role == "bystander" and s.position is not None and inside(s.position)
        ]
        at_risk += [
            f"the crowd at {c.get('name', 'a zone')}"
            for c in self.crowds
            if any(inside(p) for p in _box_points(c))
        ]
        if at_risk:
            self.breach(
                "FIRE-01",
                t,
                f"round fired with {', '.join(at_risk)} in the line of fire"
                f" ({values.backdrop_cone_deg:g} deg cone out to {m_to_ft(reach):.0f} ft)",
            )

    def cycle_started(self, rec: LogRecord) -> None:
        d, t = rec.data, rec.t
        self.have_cycles = True
        s = self.subjects.setdefault(d["subject"], _Subject(d["subject"]))
        values = self.values
        s.cycles = max(s.cycles + 1, int(d["cycle"]))
        serial = str(d.get("serial"))
        if s.running - {serial}:
            self.breach(
                "CEW-07",
                t,
                f"a second CEW energised {s.name} while {', '.join(sorted(s.running))} did",
            )
        s.running.add(serial)
        if d["mode"] == "drive_stun":
            s.drive_stun += 1
            if self.drive_stun_barred(s):
                self.breach(
                    "CEW-06",
                    t,
                    f"drive-stun on {s.name} ({s.behaviour}, threat {s.threat.name.lower()}):"
                    " pain compliance (policy: only against"
                    f" {', '.join(values.drive_stun_threats)})",
                )
            # A drive-stun is a use of force like a probe deployment (docs/scoring.md; facts.md
            # §5 drive-stun, warning before CEW): the warning before it, the command before the
            # first force, less-lethal first, and no "no force used" (nu26 #1).
            self.cew_warning(t, s)
            self.first_use(t, ForceOption.TASER, s, drive_stun=True)
        if s.threat == Threat.NONE and s.ended_at is not None:
            s.cycles_after += 1
        if int(d["cycle_of_deployment"]) > 1 or d["mode"] == "drive_stun":
            gap = None if s.last_cycle_end is None else t - s.last_cycle_end
            if gap is not None and gap < values.cew_reassess_s - 1e-9:
                self.breach(
                    "CEW-03",
                    t,
                    f"cycle {s.cycles} on {s.name} {gap:.2f} s after the last: no pause to"
                    f" re-assess (policy {values.cew_reassess_s:.2f} s)",
                )
            # Named as the force it was: a drive-stun's line never reads as a probe cycle's.
            what = f"TASER cycle {s.cycles}"
            if d["mode"] == "drive_stun":
                what = f"drive-stun ({what})"
            self.force(t, ForceOption.TASER, s.name, what)
        # One cap, "no more than 3 cycles or 15 s cumulative" (facts.md §5 cycles): a cycle past
        # it, by its count or by exposure already at the cap, is one CEW-04 (nu26 #7).
        if s.cycles > values.cew_max_cycles or (s.exposure_s >= values.cew_max_exposure_s - 1e-9):
            s.capped.add(int(d["cycle"]))
            self.breach(
                "CEW-04",
                t,
                f"cycle {s.cycles} on {s.name}: past the cap of {self.cap_words()}"
                f" ({s.exposure_s:.1f} s of exposure before it)",
            )

    def exposure(self, rec: LogRecord) -> None:
        d, t = rec.data, rec.t
        s = self.subjects.setdefault(d["subject"], _Subject(d["subject"]))
        values = self.values
        before = s.exposure_s
        s.exposure_s += float(d["duration_s"])
        s.last_cycle_end = t
        s.running.discard(str(d.get("serial")))
        if d.get("ended_by") == "probe_detached":
            self.add(
                "PLACE-02",
                t,
                Kind.INFO,
                f"cycle {d['cycle']} on {s.name} ended after {d['duration_s']:.1f} s: the circuit"
                f" opened ({self.detached_why})",
            )
        if d["duration_s"] > values.cew_standard_cycle_s + _CYCLE_SLACK_S:
            self.breach(
                "CEW-03",
                t,
                f"cycle {d['cycle']} on {s.name} lasted {d['duration_s']:.1f} s, longer than one"
                f" standard {values.cew_standard_cycle_s:g} s cycle",
            )
        if before <= values.cew_max_exposure_s < s.exposure_s and int(d["cycle"]) not in s.capped:
            # This cycle took the exposure past the cap and was not charged at its start: its
            # one CEW-04 (a cycle past both the count and the time is charged once, nu26 #7).
            s.capped.add(int(d["cycle"]))
            self.breach(
                "CEW-04",
                t,
                f"cycle {d['cycle']} on {s.name}: {s.exposure_s:.1f} s of exposure, past the cap"
                f" of {self.cap_words()}",
            )

    def cap_words(self) -> str:
        """CEW-04's one cap, as a finding names it: "3 cycles or 15 s" (facts.md §5 cycles)."""
        values = self.values
        return f"{values.cew_max_cycles} cycles or {values.cew_max_exposure_s:g} s"

    def probes(self, rec: LogRecord) -> None:
        d, t = rec.data, rec.t
        if any(
            (self.subject(i["target"]) or _Subject("")).role == "bystander" for i in d["impacts"]
        ):
            self.add("DECISION-02", t, Kind.CRITICAL, "a TASER probe struck a bystander")
        self.deployments.append(
            {
                "t": t,
                "subject": d["subject"],
                "effect": d["effect"],
                "spread_in": d["spread_in"],
                "reason": d["reason"],
            }
        )
        for probe in d["impacts"]:
            zone = self.zone_of(probe["region"], self.subject(probe["target"]))
            if probe["region"] is not None:
                self.hits.append(Hit("taser", t, probe["target"], probe["region"], zone))
            self.placement(t, f"probe {probe['probe']}", probe["region"], zone)
        if d["effect"] == "reduced_effect":
            self.add("PLACE-02", t, Kind.FINDING, f"probe spread {d['spread_in']:.1f} in < 12 in")
        elif d["effect"] == "full_incapacitation":
            self.add("PLACE-02", t, Kind.CREDIT, f"probe spread {d['spread_in']:.1f} in: effective")
        else:
            self.add("PLACE-02", t, Kind.INFO, f"no incapacitation: {d['reason']}")

    def zone_of(self, region: str | None, s: _Subject | None) -> str | None:
        """A body region's CEW zone under this policy (cew_avoid_zones, cew_preferred_zones;
        else allowed), None for no region. A visibly pregnant abdomen is avoided whatever the
        lists say (facts.md §5 restricted subjects; physics.human does the same)."""
        if region is None:
            return None
        values = self.values
        pregnant = s is not None and bool((s.attributes or {}).get("pregnant"))
        if region in values.cew_avoid_zones or (region == "abdomen" and pregnant):
            return "avoid"
        return "preferred" if region in values.cew_preferred_zones else "allowed"

    def placement(self, t: float, what: str, region: str | None, zone: str | None) -> None:
        if zone == "avoid":
            self.add("PLACE-01", t, Kind.FINDING, f"{what} in a zone to avoid ({region})")
        elif zone == "preferred":
            self.add("PLACE-01", t, Kind.CREDIT, f"{what} in a preferred zone ({region})")

    def drive_stun(self, rec: LogRecord) -> None:
        """A drive-stun pressed (its cycle is judged at its `taser_cycle_started`): where on the
        body (PLACE-01), or that nobody was within reach."""
        d, t = rec.data, rec.t
        s = self.subject(d["subject"])
        if d["subject"] is None:
            self.add(
                "CEW-06",
                t,
                Kind.INFO,
                f"drive-stun pressed with nobody within reach ({m_to_ft(d['distance_m']):.1f} ft)",
            )
            return
        zone = self.zone_of(d["region"], s)
        self.placement(t, f"drive-stun on {d['subject']}", d["region"], zone)

    def bullet(self, rec: LogRecord) -> None:
        """A round's first strike (`bullet_impact`) or what it struck after going through
        (`bullet_strike`): a bystander struck either way is critical (DECISION-02); a round
        that struck no person is a miss where it stopped."""
        d, t = rec.data, rec.t
        if rec.kind == "bullet_impact":
            self.round_struck = False
        s = self.subject(d["target"])
        through = (d.get("exit_mps") or 0.0) > 0.0
        how = " after going through what it hit first" if rec.kind == "bullet_strike" else ""
        if s is not None and s.role == "bystander":
            self.round_struck = True
            self.add(
                "DECISION-02", t, Kind.CRITICAL, f"a round struck bystander {d['target']}{how}"
            )
        elif s is not None:
            self.round_struck = True
            self.on_target += 1
            self.hits.append(Hit("firearm", t, d["target"], d["region"]))
        elif through:
            self.add(
                "HIT-01",
                t,
                Kind.INFO,
                f"a round went through the {d['target']} ({d.get('material')},"
                f" {d.get('role') or 'object'}, left at {d['exit_mps']:.0f} m/s)",
            )
        elif not self.round_struck:
            self.add("HIT-01", t, Kind.FINDING, f"round missed, stopped by the {d['target']}")

    def positions(self, rec: LogRecord) -> None:
        d, t = rec.data, rec.t
        self.have_positions = True
        o = (float(d["officer"][0]), float(d["officer"][1]))
        last = self.officer_at
        self.officer_at = o
        tolerance = self.values.approach_tolerance_ft * FT_M
        covers = self.officer_covers()
        for name, xy in d["subjects"].items():
            s = self.subjects.setdefault(name, _Subject(name))
            p = (float(xy[0]), float(xy[1]))
            s.position = p
            if s.role == "bystander":
                continue
            protected = self.protected_from(o, p)
            self.exposed_now(s, t, exposed=not protected)
            if s.armed_live:
                if s.seen_protected and s.protected and not protected and "left" not in s.flagged:
                    s.flagged.add("left")
                    self.breach("COVER-02", t, f"left cover while {s.name} held {article(s.held)}")
                if protected and not s.protected and last is not None and "took" not in s.flagged:
                    s.flagged.add("took")
                    self.add("DEESC-01", t, Kind.CREDIT, f"moved into cover from {s.name}")
                if last is not None:
                    s.net_approach_m += math.dist(last, p) - math.dist(o, p)
                    if s.net_approach_m > tolerance and "closed" not in s.flagged:
                        s.flagged.add("closed")
                        self.breach(
                            "DIST-03",
                            t,
                            f"closed {m_to_ft(s.net_approach_m):.1f} ft on {s.name}, who held"
                            f" {article(s.held)} and had not given up",
                        )
                    if s.net_approach_m < -tolerance and "backed" not in s.flagged:
                        s.flagged.add("backed")
                        self.add(
                            "DEESC-01",
                            t,
                            Kind.CREDIT,
                            f"gained {m_to_ft(-s.net_approach_m):.1f} ft from {s.name}, who held"
                            f" {article(s.held)}",
                        )
            s.seen_protected = s.seen_protected or protected
            s.protected = protected
            if s.threat is Threat.DEADLY and s.held in GUNS and covers:
                self.gun_moments += 1
                self.first_gun_t = t if self.first_gun_t is None else self.first_gun_t
                if protected:
                    self.covered_moments += 1
            gap = math.dist(o, p)
            if s.threat >= Threat.ASSAULTIVE and (self.closest is None or gap < self.closest[0]):
                self.closest = (gap, t, name)
            if gap <= CONTACT_M and s.threat >= Threat.ASSAULTIVE and not self.contact:
                self.contact = True
                self.add("DIST-01", t, Kind.CRITICAL, f"{name} reached the officer")

    # -- the end ---------------------------------------------------------------------------------

    def finish(self) -> Score:
        policy = self.policy
        for s in self.subjects.values():
            if s.episode:
                self.close_episode(s, self.end_t, still_acting=s.acting)
        if self.closest is not None:
            self.add(
                "DIST-02",
                self.closest[1],
                Kind.INFO,
                f"closest approach of a threatening subject: {m_to_ft(self.closest[0]):.1f} ft"
                f" ({self.closest[2]})",
            )
        if self.gun_moments and self.first_gun_t is not None:
            share = self.covered_moments / self.gun_moments
            if self.covered_moments:
                self.add(
                    "COVER-01",
                    self.first_gun_t,
                    Kind.CREDIT,
                    f"behind the officer's own cover for {share:.0%} of the time a gun threatened",
                )
            else:
                self.breach(
                    "COVER-01",
                    self.first_gun_t,
                    "the officer's cover was at hand and unused while a gun threatened",
                )
        incomplete = _incomplete(self.ended, self.end_t)
        if not incomplete:  # credits for how the run ended: a cut run never ended
            self.deescalation_credits()
        not_judged = self.not_judged()
        for line in not_judged:
            self.add("RESCORE-01", 0.0, Kind.INFO, line)
        reactions = [r for s in self.subjects.values() for r in s.reactions]
        transition = None
        if (
            self.last_taser is not None
            and self.first_firearm is not None
            and self.first_firearm > self.last_taser
        ):
            transition = self.first_firearm - self.last_taser
        llf, llf_na = _less_lethal_first(self.first_force, self.first_threat, self.at_hand)
        if self.llf_na:
            llf, llf_na = None, self.llf_na
        elif incomplete and self.first_force is None:
            # The log stops before the drill ended: no force *seen*, not "no force used".
            llf_na = "cut short: no force before the log ends"
        findings = sorted(self.findings, key=lambda f: f.t)
        total = max(0.0, 100.0 + sum(f.points for f in findings))
        overridden = any(f.overrides_score for f in findings)
        decision = _decision(findings, self.first_force is not None)
        if not overridden and total < policy.pass_score:
            lost = sorted({f.rule for f in findings if f.points < 0})
            decision = f"below the pass mark ({', '.join(lost)})"
        return Score(
            decision=decision,
            score=round(total, 2),
            passed=not incomplete and not overridden and total >= policy.pass_score,
            less_lethal_first=llf,
            reaction_time_s=reactions[0] if reactions else None,
            transition_time_s=None if transition is None else round(transition, 4),
            rounds_fired=self.rounds,
            rounds_on_target=self.on_target,
            rounds_after_threat=self.after,
            deployments=self.deployments,
            hits=self.hits,
            findings=findings,
            policy=self.label,
            officer=self.officer,
            scripted_by=self.scripted_by,
            badge=self.badge,
            rounds_at_no_threat=self.no_threat_rounds,
            no_shoot_target=any(
                s.role == "subject" and s.peak < Threat.DEADLY and not s.held.is_weapon
                for s in self.subjects.values()
            ),
            shoot_scenario=any(s.peak is Threat.DEADLY for s in self.subjects.values()),
            incomplete=incomplete,
            less_lethal_na=llf_na,
            weapons_left_out=[str(w) for w in self.started.get("weapons_left_out") or []],
            subjects={
                s.name: {
                    "role": s.role,
                    "timeline": [list(m) for m in s.timeline],
                    "reaction_times_s": s.reactions,
                    "transition_s": s.transition,
                    "force_after_threat_s": s.after_delays,
                    "taser_cycles": s.cycles,
                    "taser_exposure_s": round(s.exposure_s, 3),
                    "taser_cycles_after_threat": s.cycles_after,
                    "drive_stuns": s.drive_stun,
                }
                for s in self.subjects.values()
            },
            not_judged=not_judged,
            speech={
                "acts": dict(sorted(self.acts.items())),
                "rapport": self.rapport()[0],
                "questions": self.rapport()[1],
                "shouted_calming": sum(self.shouted.values()),
                "talk_s": round(self.talk_s(), 3),
                "heard": self.heard,
                "marked": sum(1 for h in self.heard if h["source"] == "instructor"),
            },
            taser_cycles_note=self.taser_cycles_note(),
        )

    def deescalation_credits(self) -> None:
        ended = self.ended or {}
        used_force = self.first_force is not None
        for s in self.subjects.values():
            if s.role == "bystander":
                continue
            if not s.forced and s.peak < Threat.DEADLY:
                self.add(
                    "HOLD-01",
                    self.end_t,
                    Kind.CREDIT,
                    f"held fire on {s.name} ({s.behaviour}, holding {s.held}): no force on a"
                    " subject who posed no deadly threat",
                )
            if (
                not used_force
                and self.talked_at is not None
                and ended.get("state") == "completed"
                and ended.get("reason") != "time limit"
                and (s.peak >= Threat.ACTIVE or s.ever_armed)
                and s.behaviour in ("surrendered", "compliant")
            ):
                self.add(
                    "DEESC-02",
                    self.end_t,
                    Kind.CREDIT,
                    f"talk-down: {s.name} ended {s.behaviour} with no force used"
                    + (f" ({self.talking()})" if self.talking() else ""),
                )
        self.not_talked_down(ended, used_force)
        if self.talking():
            self.add("DEESC-03", self.calming_at or 0.0, Kind.CREDIT, self.talking())
        elif any(self.shouted.values()):
            self.add(
                "DEESC-03",
                self.shouted_at or 0.0,
                Kind.INFO,
                f"no rapport credited: {self.shouted['rapport']} rapport act(s) and"
                f" {self.shouted['question']} question act(s), all shouted: a shout calms"
                " nobody",
            )

    def not_talked_down(self, ended: dict[str, Any], used_force: bool) -> None:
        """DEESC-04 (nu21 #2): the drill ran to its time limit, not to an ending of its own,
        with a threatening or armed subject neither surrendered nor compliant, and no force
        used: the situation was not resolved. A finding where no command, warning, rapport or
        question act was heard (the force continuum's verbal step and ICAT's communication,
        facts.md §4: standing silent is not a talk-down, nor is only saying who the officer is,
        which tells the subject nothing to do: DEESC-02's `talked_at`, nu24 #17), information
        where the officer talked (time is ICAT's ally: a talk-down still under way when the
        drill's clock ran out is not a fault)."""
        if used_force or ended.get("state") != "completed" or ended.get("reason") != "time limit":
            return
        for s in self.subjects.values():
            if (
                s.role == "bystander"
                or not (s.peak >= Threat.ACTIVE or s.ever_armed)
                or s.behaviour in ("surrendered", "compliant", "incapacitated", "fleeing")
            ):
                continue
            holding = f", still holding the {s.held}" if s.held.is_weapon else ""
            state = f"{s.name} not surrendered ({s.behaviour.replace('_', ' ')}){holding}"
            if self.talked_at is None:
                # Only identifying (or no word at all) is not talking the subject down (m24).
                said = ", ".join(f"{act} x{n}" for act, n in self.acts.items())
                heard = (
                    "no word was heard from the officer"
                    if self.spoke_at is None
                    else f"the officer said only {said}"
                )
                self.breach(
                    "DEESC-04",
                    self.end_t,
                    f"not talked down: the time limit came with {state}, and {heard}"
                    " (no command, warning, rapport or question act)",
                )
            else:
                self.add(
                    "DEESC-04",
                    self.end_t,
                    Kind.INFO,
                    f"not talked down: the time limit came with {state}, no force used",
                )

    def rapport(self) -> tuple[int, int]:
        """(rapport acts, question acts) said in a normal voice (shouted ones calm nobody:
        drills/deescalation.py)."""
        count = {"rapport": 0, "question": 0}
        for act, n in self.acts.items():
            if _category(act) in count:
                count[_category(act)] += n
        return (
            count["rapport"] - self.shouted["rapport"],
            count["question"] - self.shouted["question"],
        )

    def talk_s(self) -> float:
        """Seconds the officer spoke (officer_spoke start_s to end_s, overlaps counted once)."""
        total, reach = 0.0, -math.inf
        for a, b in sorted(self.talk):
            if b > reach:
                total += b - max(a, reach)
                reach = b
        return total

    def talking(self) -> str:
        """The DEESC-03 line: rapport acts, question acts and time talking ("" for none).
        The phrase book's classes name them (docs/speech.md): "What's your name?" is
        `rapport.name`, a rapport act, so the line never calls it a statement or counts it as a
        question (nu19 #12). Time talking only where the log timed the words (a scripted
        `speak` step has none: its words take no time)."""
        rapport, questions = self.rapport()
        if not rapport and not questions:
            return ""
        line = f"{rapport} rapport act(s), {questions} question act(s)"
        # Rounded as Score.speech["talk_s"] is, so the summary's "Speech heard" and this line
        # give the same 3.75 s the same way (nu21 #7: "3.8 s" beside "3.7 s").
        if (talk := round(self.talk_s(), 3)) > 0.0:
            line += f", {talk:.1f} s talking"
        shouted = sum(self.shouted.values())
        if shouted:
            line += (
                f"; {shouted} more shouted ({self.shouted['rapport']} rapport,"
                f" {self.shouted['question']} question act(s)), not credited: a shout calms"
                " nobody"
            )
        return line

    @property
    def older_than_cycles(self) -> bool:
        """A log written before TASER cycles were logged. One written since carries `crowds`
        in run_started (the same format change; `log_format` stayed 1): there, no cycle means
        the probes never connected, which is judged (deployments), not a gap of an older log."""
        return "crowds" not in self.started

    def taser_cycles_note(self) -> str:
        if self.tasers_fired and not self.have_cycles and not self.older_than_cycles:
            return "no cycle: the probes did not connect"
        return ""

    def not_judged(self) -> list[str]:
        out: list[str] = []
        if not self.started:
            return out
        if not self.have_positions:
            out.append(
                "no positions in this log: cover, distance, de-escalation, cartridge range and"
                " backdrop not judged; the officer is taken as exposed throughout"
            )
        if any(s.role != "bystander" for s in self.subjects.values()) and not self.have_attributes:
            out.append(
                "no subject attributes in this log (older format): restricted subjects (CEW-05)"
                " and a fleeing subject's danger to others not judged"
            )
        if self.unheard:
            out.append(
                f"the officer could not be heard ({self.unheard}): verbal commands, warnings,"
                " identification and a silent talk-down"
                f" ({', '.join(sorted(UNHEARD_RULES))}) not judged as missing;"
                " only an instructor's marks are credited"
            )
        if self.words_unknown and self.first_force is not None:
            out.append(
                "verbal commands without their words in this log: identification (VERBAL-03)"
                " and the deadly-force warning (VERBAL-02) not judged as missing"
            )
        if self.tasers_fired and not self.have_cycles and self.older_than_cycles:
            out.append(
                "no TASER cycles in this log (older format): cycles, exposure and re-energising"
                " (CEW-03, CEW-04, CEW-07) not judged; deployments judged"
            )
        if self.rounds and self.have_positions and self.backstop_m is None:
            out.append(
                f"no backstop distance in this log: the backdrop check (FIRE-01) ran to"
                f" {self.values.default_backstop_ft:g} ft; crowd zones unknown"
            )
        return out


def score_run(
    records: Iterable[LogRecord],
    policy: Policy,
    corrections: Sequence[Correction] = (),
    acts: Collection[str] | None = None,
    book: PhraseBook | None = None,
    label: str | None = None,
) -> Score:
    """The score of one run. Reads the log in order, so every use of force is judged against the
    threat as the officer faced it at that moment, before its own effect was known. A log that
    lacks what a rule needs (an older log) is scored on what it has; `Score.not_judged` (and a
    RESCORE-01 line) says what could not be judged. `corrections` (an instructor's, of misheard
    speech acts) are applied first and listed in `Score.corrections`; given the run's phrase
    book's `acts`, one whose act is in none of them is not applied (a hand-edited typo).
    `book`: the phrase book the run was heard with (its kept `phrasebook.toml` merged over the
    built-in one), for an older log whose scripted lines do not carry their acts (None: the
    built-in book). `label`: how `Score.policy` names the policy (default its id; a run's kept
    file: `default-continuum-v1 (modified, sha256 ...)`, range/runs/policyfile.py)."""
    judge = _Judge(policy, book, label)
    empathy, answers, asked = False, [], 0
    records = list(records)
    stale = dict(unapplied(records, corrections, acts)) if corrections else {}
    applied = [c for index, c in enumerate(corrections) if index not in stale]
    # In the order things happened: an act heard among the records of when its words ended.
    for rec in sorted(apply_corrections(records, applied) if applied else records, key=said_at):
        if rec.kind == "run_started" and rec.data.get("drill_kind") == "empathy":
            empathy = True
            asked = int(rec.data.get("debrief_questions") or 0)
        if rec.kind == "debrief_answer":
            answers.append(dict(rec.data))
        judge.read(rec)
    score = judge.finish()
    # Each as listed: an undo says what it undoes (`undoes`: that correction's act and who
    # made it), and an act heard inside a longer utterance its own words (`phrase`), as
    # `openrange speech correct` says them (nu17c #11).
    score.corrections = []
    heard = heard_acts(records)
    for index, c in enumerate(corrections):
        if index in stale:
            continue
        listed = dumped(c)
        if (prior := undone(corrections, index, acts)) is not None:
            listed["undoes"] = {"act": prior.act, "by": prior.by}
        listed |= heard_as(c, heard)
        score.corrections.append(listed)
    # Not applied, each with why: one superseded by a later correction of the same act is
    # history (`superseded`), listed apart from those that do not fit the log or the book;
    # each quotes the act's own words where the log names it, as the applied do (rc17 #6).
    score.corrections_not_applied = []
    for index, why in stale.items():
        c = corrections[index]
        listed = dumped(c) | {"index": index, "why": why}
        if why.startswith(SUPERSEDED):
            listed["superseded"] = True
        listed |= heard_as(c, heard)
        score.corrections_not_applied.append(listed)
    if empathy:
        return _empathy_score(score, answers, asked)
    started = next((r.data for r in records if r.kind == "run_started"), {})
    return _unheard_talk_down(score, started)


def _unheard_talk_down(score: Score, started: Mapping[str, Any]) -> Score:
    """A run that could not hear the officer (run_started `officer_unheard`) in a drill decided
    by what he says (its `speech_triggers`: a talk-down) is not graded: nothing the drill
    assesses was judged (rc21 #1; docs/scoring.md). A force drill with audio off is graded as
    before, its verbal rules not judged; so is an empathy scene, which its completion and its
    debrief (typed, or spoken and kept) decide, never the officer's words during it."""
    unheard = str(started.get("officer_unheard") or "")
    if not unheard or score.incomplete or not started.get("speech_triggers"):
        return score
    why = (
        f"the officer could not be heard in a talk-down, a drill decided by what is said: {unheard}"
    )
    return replace(score, incomplete=why, passed=False)


def _empathy_score(judged: Score, answers: list[dict[str, Any]], asked: int = 0) -> Score:
    """An empathy scene has no force to judge: its score is its completion and its debrief.
    Passed when the scene ran to its end and at least one debrief question was answered
    (answers are reported, not graded). A scene whose debrief went unanswered is INCOMPLETE,
    not graded: the debrief is what the scene is for (docs/scoring.md, "Empathy scenes")."""
    answered = sum(1 for a in answers if a.get("how") != "skipped" and a.get("answer"))
    # The questions the scene asks (run_started `debrief_questions`), not only those whose
    # answers reached the log: one killed at the debrief prompt logged none (nu23 #7).
    questions = max(asked, len(answers))
    done = "completed" if not judged.incomplete else "not completed"
    incomplete = judged.incomplete
    if not incomplete and answered == 0:
        incomplete = (
            f"no debrief question answered (0 of {questions}): an empathy scene is done"
            " when its debrief is"
        )
    return replace(
        judged,
        decision=f"empathy scene: {done}; {answered} of {questions} debrief questions answered",
        score=0.0 if incomplete else 100.0,
        passed=not incomplete,
        incomplete=incomplete,
        less_lethal_first=None,
        less_lethal_na="an empathy scene: no force to judge",
        reaction_time_s=None,
        transition_time_s=None,
        deployments=[],
        hits=[],
        findings=[],
        shoot_scenario=False,
        subjects={},
        not_judged=[],
        debrief=answers,
    )


_DECISIONS = (
    ("DECISION-02", "critical failure: a bystander was struck"),
    ("DECISION-01", "critical failure: force on a subject who posed no threat"),
    ("STOP-02", "critical failure: force after the threat ended"),
    ("FORCE-02", "critical failure: deadly force with no immediate threat"),
    ("CEW-05", "critical failure: TASER on a restricted subject"),
    ("DIST-01", "critical failure: the subject reached the officer"),
    ("REACT-02", "critical failure: the threat went unanswered"),
    ("REACT-01", "critical failure: too slow against the threat"),
)


def _decision(findings: list[Finding], used_force: bool) -> str:
    critical = {f.rule for f in findings if f.kind is Kind.CRITICAL}
    for rule, words in _DECISIONS:
        if rule in critical:
            return words
    if critical:
        return f"critical failure: {sorted(critical)[0]}"
    if any(f.rule == "FORCE-01" and f.kind is Kind.FINDING for f in findings):
        return "excessive force"
    if not used_force:
        if any(f.rule == "DEESC-02" for f in findings):
            return "talk-down: no force used"
        if any(f.rule == "DEESC-04" for f in findings):
            return "no force used; not talked down (time limit)"
        return "no force used"
    return "appropriate"


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
        return f"the run {ended.get('state')}: {ended.get('reason')}"  # said in brackets
    return ""


def _no_shoot(option: ForceOption, s: _Subject) -> bool:
    """Shoot / don't-shoot (facts.md §5, Graham; Garner for the fleeing): a firearm against
    anyone short of a deadly threat who holds no weapon, or anyone who surrendered without ever
    posing a threat; a TASER against someone who never posed a threat and holds no weapon.
    Force after a threat *ended* is judged by STOP-01/02 before this, whatever is held."""
    if s.behaviour == "surrendered":
        return True
    if option is ForceOption.FIREARM:
        return s.threat < Threat.DEADLY and not s.held.is_weapon
    return s.threat == Threat.NONE and s.peak < Threat.ACTIVE and not s.held.is_weapon


# A subject's threat state in the words a score sheet uses: "the threat" only ever names a
# subject who posed one (assaultive, deadly, or holding a live weapon); resistance is not one.
_THREAT_WORDS = {
    Threat.NONE: "no threat",
    Threat.PASSIVE: "passive resistance",
    Threat.ACTIVE: "active resistance",
    Threat.ASSAULTIVE: "an assaultive threat",
    Threat.DEADLY: "a deadly threat",
}


def threat_words(threat: Threat) -> str:
    """`threat` as a finding says it: "no threat", "passive resistance", "a deadly threat"."""
    return _THREAT_WORDS[threat]


def _posed_threat(s: _Subject) -> bool:
    """Whether `s` posed a threat (assaultive or deadly, or a live weapon in hand), as opposed
    to resistance or nothing: the words of VERBAL-02/03 and CEW-02 follow it."""
    return s.threat >= Threat.ASSAULTIVE or s.armed_live


def _posed_words(s: _Subject) -> str:
    """The threat `s` posed, as a finding names it: "a deadly threat", "a threat (knife)"."""
    return threat_words(s.threat) if s.threat >= Threat.ASSAULTIVE else f"a threat ({s.held})"


def _had_time(s: _Subject, feasible: float, until: str) -> str:
    """Why a warning was feasible, in words that fit the subject's threat state and count from
    when that threat began (`_Scorer.feasible`): "man posed a deadly threat from 0.00 s, 4.0 s
    before acting on it", or for a subject short of a threat "there was time: 2.0 s before
    being shot, with man offering passive resistance from 0.00 s"."""
    since = s.threat_since if s.threat_since is not None else 0.0
    if _posed_threat(s):
        acted = "acting on it" if s.acted_at is not None else until
        return (
            f"{s.name} posed {_posed_words(s)} from {since:.2f} s, {feasible:.1f} s before {acted}"
        )
    state = "posing no threat" if s.threat is Threat.NONE else f"offering {threat_words(s.threat)}"
    return (
        f"there was time: {feasible:.1f} s before {until}, with {s.name} {state} from {since:.2f} s"
    )


def _cew_warnable(s: _Subject, t: float) -> str:
    """Why a CEW warning was safe and feasible (CEW-02): the threat the TASER answered, as the
    log has it, and since when ("safe and feasible against active resistance, offered from
    0.00 s, 1.0 s before the TASER"); never an earlier or later level (nu19 #2)."""
    if s.threat is Threat.NONE and not s.armed_live:
        return f"safe and feasible, {s.name} posing no threat"
    words = threat_words(s.threat) if s.threat > Threat.NONE else f"a threat ({s.held})"
    since = s.threat_since if s.threat_since is not None else t
    return (
        f"safe and feasible against {words} from {since:.2f} s, {t - since:.1f} s before the TASER"
    )


def _no_time(s: _Subject | None, t: float, until: str) -> str:
    """Why no warning was called for: the threat left no time (naming the threat the log has
    and when it began: "driver a deadly threat from 2.00 s, acting on it at once"), or (a
    subject who posed none) the subject's state ("man posed no threat", "man offered only
    passive resistance"), never "the threat"."""
    if s is None or _posed_threat(s):
        if s is None or s.threat_since is None:
            return "the threat left no time"
        since, acted = s.threat_since, s.acted_at
        if acted is not None and acted <= t + 1e-9:
            lag = "at once" if acted - since < 0.005 else f"{acted - since:.2f} s later"
            then = f"acting on it {lag}"
        else:
            then = f"{t - since:.2f} s before {until}"
        return f"the threat left no time ({s.name} {_posed_words(s)} from {since:.2f} s, {then})"
    if s.threat is Threat.NONE:
        return f"{s.name} posed no threat"
    return f"{s.name} offered only {threat_words(s.threat)}"


def unmet_expectation(outcome: str, rules: Sequence[str], score: Score) -> str | None:
    """What an officer script's `expect` (drills.officer.Expect: `outcome`, `rules`) says
    that the run's score does not, as one line ("expected FAIL [CEW-02], got PASS"); None when
    it holds. A FAIL must carry each rule among its findings or critical findings, a PASS
    among its credits, with no critical finding (tests/test_drill_library.py checks every
    shipped script this way; `drill run --sim` checks the script it plays)."""
    expected = f"expected {outcome}" + (f" [{', '.join(rules)}]" if rules else "")
    against = {f.rule for f in score.findings if f.kind in (Kind.FINDING, Kind.CRITICAL)}
    credits = {f.rule for f in score.findings if f.kind is Kind.CREDIT}
    got = score.outcome.value
    if got != outcome:
        return f"{expected}, got {got} ({score.decision})"
    if outcome == "PASS":
        critical = sorted({f.rule for f in score.findings if f.kind is Kind.CRITICAL})
        if critical:
            return f"{expected}, got PASS with critical findings {', '.join(critical)}"
        missing = [r for r in rules if r not in credits]
        if missing:
            return f"{expected}, got PASS without the credit(s) {', '.join(missing)}"
    else:
        missing = [r for r in rules if r not in against]
        if missing:
            return f"{expected}, got FAIL without the finding(s) {', '.join(missing)}"
    return None
