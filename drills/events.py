"""The event log's vocabulary: every record kind the engine and the runners write, typed.

A run's `events.jsonl` holds one JSON object per line: `t` (run time, s), `kind`, and the kind's
fields below. This module is the one place a kind is defined, as bluesky defines its event
documents: to add a kind, write one `Record` subclass with its `KIND` and fields here (it
registers itself), and document it in docs/drills.md, "Event log". The reader
(`range.runlog.read_events`) checks every record against its kind's model and names the file, the
line and the field of anything wrong; the writer (`drills.log.MemoryLog`) checks every record it
is given when `drills.log.CHECK_RECORDS` is on, as the tests turn it on, so a kind or a field
written but not defined here fails there, not in a reviewer's hands.

Records keep the JSON types they were written with: this module checks them, it does not convert
them, so scoring reads exactly what the file holds. A kind that is not defined here is refused
by name: a log from a newer OpenRange (or a hand-edited one) is not silently half-read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from drills.threat import AgeGroup, Behaviour, Crisis, HeldObject, Offence, Position, Threat
from drills.wording import article
from peripherals.messages import EventKind, Model
from physics.animation import Clip
from physics.body import Region, Stance
from physics.datafiles import error_message
from physics.human import MAX_CONNECT_GAP_IN, SEGMENTS

if TYPE_CHECKING:  # physics.taser brings PyBullet; reading a log must not need it
    from physics.taser import ProbeImpact

LOG_FORMAT = 1  # the `log_format` of `run_started`; a reader refuses a newer one by name


class RecordError(ValueError):
    """One record that does not match the vocabulary: its kind, the field and why."""

    def __init__(self, kind: str, field: str, message: str) -> None:
        self.kind = kind
        self.field = field
        self.message = message
        where = ".".join(p for p in (kind, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class EventLogError(ValueError):
    """An event log that cannot be read: the file, the line (1-based), the field and why."""

    def __init__(self, path: object, line: int, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        super().__init__(f"{path}:{line}: {problem}")


def _one_of(names: list[str]) -> AfterValidator:
    allowed = sorted(names)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return AfterValidator(check)


Seconds = Annotated[float, Field(ge=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Index = Annotated[int, Field(ge=0)]
XY = Annotated[list[float], Field(min_length=2, max_length=2)]  # (x downrange, y left) m
XYZ = Annotated[list[float], Field(min_length=3, max_length=3)]  # physics frame, m
Quaternion = Annotated[list[float], Field(min_length=4, max_length=4)]  # (x, y, z, w)
# A body segment a hit lies on (physics.human.SEGMENTS), and the hit's offset (m) from the
# segment's joint in the segment's own frame: where a review keeps the marker on the posed body.
SegmentName = Annotated[str, _one_of(list(SEGMENTS))]
ThreatName = Annotated[str, _one_of([t.name.lower() for t in Threat])]
DeviceEventName = Annotated[str, _one_of([k.name.lower() for k in EventKind])]
ModelSlug = Annotated[str, _one_of([m.slug for m in Model])]
# physics.taser.Effect's values (tests/test_errors.py keeps the two equal): importing it would
# import PyBullet, and reading a log needs no physics.
EffectName = Literal["full_incapacitation", "reduced_effect", "no_effect"]
OfficerActionName = Literal[
    "verbal_command",
    "taser_drawn",
    "firearm_drawn",
    "taser_holstered",
    "firearm_holstered",
    "taser_fired",
    "firearm_fired",
    "weapon_pointed",
]  # drills.engine.OfficerAction's values (tests/test_errors.py keeps the two equal)

KINDS: dict[str, type[Record]] = {}


class _Part(BaseModel):
    """A nested part of a record: strict JSON types, no unknown keys, finite numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Record(_Part):
    """Every record: `t` run time in seconds, `kind` one of KINDS."""

    KIND: ClassVar[str] = ""
    t: Seconds
    kind: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.KIND:
            if cls.KIND in KINDS:
                raise TypeError(f"record kind {cls.KIND!r} is defined twice")
            KINDS[cls.KIND] = cls


# -- parts ---------------------------------------------------------------------------------------


class SubjectStart(_Part):
    role: Literal["subject", "bystander"]
    held_object: HeldObject
    start_m: XY


class CoverBox(_Part):
    name: str
    x_m: float
    y_m: float
    width_m: float
    depth_m: float
    # Cover the drill marks as the officer's to use (absent in older logs: taken as the officer's).
    officer_cover: bool | None = None
    # What it is made of (a physics.penetration material id) and what the drill calls it:
    # "cover" stops handgun rounds, "concealment" only hides (absent in older logs: cover).
    material: str | None = None
    role: Literal["cover", "concealment"] | None = None


class Zone(_Part):
    """A crowd or other zone people stand in (plan view box, metres)."""

    name: str
    x_m: float
    y_m: float
    width_m: float
    depth_m: float


class SubjectAttributes(_Part):
    """Who the subject is and where (drills.threat.ATTRIBUTE_DEFAULTS; docs/drills.md)."""

    age_group: AgeGroup
    pregnant: bool
    frail: bool
    crisis: Crisis
    impaired: bool
    offence: Offence
    danger_to_others: bool
    position: Position
    near_flammables: bool
    restrained: bool


class Device(_Part):
    model: ModelSlug
    serial: str
    firmware: str
    # A TASER's cartridge in each bay as the run started (None: an empty bay); absent for a
    # firearm, a live replica that sent no state, and in older logs (nu23 #4).
    cartridges: list[str | None] | None = None


class CalibrationUsed(_Part):
    """What a run keeps of a device's calibration profile (range/calibration.py,
    RECORDED_PROFILE_FIELDS)."""

    armorer: str
    calibrated: str  # ISO date
    expires: str  # ISO date
    residual_mrad: float
    tolerance_mrad: float
    trigger_latency_s: float
    # Made on the bench emulator (`calibrate --emulate`): it stood for an emulated replica;
    # logs from before have no such field (a bench calibration).
    emulated: bool = False


class CalibrationCheck(_Part):
    serial: str
    allowed: bool
    reason: str
    profile: CalibrationUsed | None = None


class Muzzle(_Part):
    position_m: XYZ
    orientation: Quaternion
    tracked: bool


class Probe(_Part):
    """One probe's impact (`probe_record` writes it from physics.taser.ProbeImpact)."""

    probe: Index
    target: str | None
    region: Region | None
    zone: str | None
    point: XYZ
    time_of_flight_s: float
    clothing_gap_in: float | None
    connected: bool
    # On a subject: the segment and the offset from its joint in the segment's frame (logs
    # written before these were kept have neither; a review then marks `point`).
    segment: SegmentName | None = None
    segment_offset_m: XYZ | None = None

    @field_validator("connected")
    @classmethod
    def _connected_as_its_gap_says(cls, connected: bool, info: ValidationInfo) -> bool:
        """A probe connects exactly when it lies within MAX_CONNECT_GAP_IN of the skin
        (physics.taser ProbeImpact.connected, as the record was written): a record that says
        otherwise was edited, and is named rather than rescored silently."""
        if "clothing_gap_in" not in info.data:
            return connected  # the gap itself is wrong: named on its own
        gap = info.data["clothing_gap_in"]
        if connected != (gap is not None and gap <= MAX_CONNECT_GAP_IN):
            raise ValueError(
                f"{str(connected).lower()} contradicts clothing_gap_in {gap}: a probe connects"
                f" only within {MAX_CONNECT_GAP_IN:g} in of the skin"
            )
        return connected


def probe_record(impact: ProbeImpact) -> dict[str, Any]:
    """A probe's impact as a `Probe` record: point and segment offset rounded to 0.1 mm,
    flight time to 10 us; the segment fields only on a subject."""
    on_body = {}
    if impact.segment is not None and impact.segment_offset_m is not None:
        on_body = {
            "segment": impact.segment,
            "segment_offset_m": [round(c, 4) for c in impact.segment_offset_m],
        }
    return {
        "probe": impact.probe,
        "target": impact.target,
        "region": None if impact.region is None else impact.region.value,
        "zone": None if impact.zone is None else impact.zone.value,
        "point": [round(c, 4) for c in impact.point],
        "time_of_flight_s": round(impact.time_of_flight_s, 5),
        "clothing_gap_in": impact.clothing_gap_in,
        "connected": impact.connected,
    } | on_body


# -- a drill run (drills/engine.py, range/runs/drill.py) -----------------------------------------


class RunStarted(Record):
    KIND = "run_started"
    log_format: Annotated[int, Field(ge=1, le=LOG_FORMAT)]
    drill: str
    dt_s: Annotated[float, Field(gt=0.0)]
    subjects: dict[str, SubjectStart]
    cover: list[CoverBox]
    # What the runner adds (`DrillEngine.start(**meta)`): absent in an engine-only log.
    seed: int | None = None
    officer: str | None = None
    policy: str | None = None
    officer_name: str | None = None
    # The records' badge the run is kept under (`drill run --badge`): runs are grouped by it.
    badge: str | None = None
    weapons: list[str] | None = None
    # The issued weapons a live run was played without, on the range master's `--without`
    # (the lane had no replica for them; absent when none was left out, and in older logs).
    weapons_left_out: list[str] | None = None
    devices: list[Device] | None = None
    openrange_version: str | None = None
    calibration: list[CalibrationCheck] | None = None
    calibration_override_by: str | None = None
    # The drill file's bytes as kept in the run folder (`drill.toml`), and where they were read.
    drill_sha256: str | None = None
    drill_file: str | None = None
    # The officer script given as a file (`--sim FILE`) as kept in the run folder
    # (`officer.toml`), its sha256, and where it was read (absent: a built-in script by id,
    # a live officer, and older logs) (nu24 #6).
    officer_sha256: str | None = None
    officer_file: str | None = None
    # Backdrop (issue 13): crowd zones and how far the backstop is (absent in older logs).
    crowds: list[Zone] | None = None
    lane_length_m: Annotated[float, Field(gt=0.0)] | None = None
    # The officer's voice kept with the run (issue 17): the file in the run folder and its
    # sha256 (a simulated run's `--voice` recording; absent when there is none).
    voice_file: str | None = None
    voice_sha256: str | None = None
    # The agency phrase book the officer was heard with (`--phrases`), kept in the run folder
    # as `phrasebook.toml`, and its sha256 (absent: the built-in book only).
    phrases_file: str | None = None
    phrases_sha256: str | None = None
    # The policy the run was judged by, kept in the run folder as `policy.toml`, its sha256 and
    # the file it was read from (`drill run --policy`, $OPENRANGE_POLICY; absent for the
    # built-in one), nu24 #2 (all absent in older logs: the built-in policy judged them).
    policy_file: str | None = None
    policy_sha256: str | None = None
    policy_source: str | None = None
    # A live run that could not hear the officer (no microphone: audio off), and why: what the
    # officer said is unknown, so scoring leaves the verbal rules not judged (nu20 #1; absent
    # when the microphone was open, in a simulated run and in older logs).
    officer_unheard: str | None = None
    # The drill's transitions that turn on what the officer says (`speech:ACT`, and
    # `agitation_below/above:X`, which his words move): a talk-down. With `officer_unheard`, the
    # run is not graded (rc21 #1; absent for a drill with none, and in older logs).
    speech_triggers: list[str] | None = None

    # An empathy scene (issue 17): the drill's kind and whose eyes and ears the officer takes
    # (absent for a use-of-force drill and in older logs).
    drill_kind: Literal["force", "empathy"] | None = None
    perspective: str | None = None
    # How many debrief questions the scene asks: a log killed at the debrief prompt holds no
    # answer records, and still says "0 of 3" (nu23 #7; absent in older logs).
    debrief_questions: Annotated[int, Field(ge=1)] | None = None


class RunSuspended(Record):
    KIND = "run_suspended"
    reason: str


class RunResumed(Record):
    KIND = "run_resumed"


class RunEnded(Record):
    KIND = "run_ended"
    state: Literal["completed", "aborted", "faulted"]
    reason: str


class PhaseEntered(Record):
    KIND = "phase_entered"
    subject: str
    phase: str
    behaviour: Behaviour
    threat: ThreatName
    held_object: HeldObject
    stance: Stance
    role: Literal["subject", "bystander"]
    distance_ft: NonNegative
    # The subject's attributes from this phase on (absent in older logs).
    attributes: SubjectAttributes | None = None
    # Whether the subject acts on the threat in this phase (drills.schema.Phase.acting; absent
    # in older logs, where an assaultive or deadly threat is taken as acting).
    acting: bool | None = None
    # The animation the drill's phase picks (drills.schema.Phase.animation; absent: the one its
    # state calls for).
    animation: Clip | None = None


class Positions(Record):
    KIND = "positions"
    officer: XY
    subjects: dict[str, XY]


class OfficerActed(Record):
    KIND = "officer_action"
    action: OfficerActionName
    subject: str | None = None
    weapon: str | None = None
    say: str | None = None
    # A scripted `verbal_command` line's speech acts, as the run's phrase book (the built-in
    # one with any agency `--phrases` merged in) found them in `say`, in the order said ([]:
    # none; absent in older logs, whose lines scoring maps with the book itself) (nu24 #3).
    acts: list[str] | None = None
    serial: str | None = None
    bay: Index | None = None
    cartridge: str | None = None
    rounds_left: int | None = None
    muzzle: Muzzle | None = None

    @model_validator(mode="after")
    def _fired_from_somewhere(self) -> OfficerActed:
        # A round or a cartridge fired is reviewed from its muzzle pose (report, mirror).
        if self.action in ("taser_fired", "firearm_fired") and self.muzzle is None:
            raise ValueError(f"{article(self.action)} action needs its muzzle")
        return self


class OfficerSpoke(Record):
    """A speech act heard from the officer (drills/speech.py `officer_spoke`; docs/speech.md):
    `t` when it was decided, `start_s`/`end_s` when the words were said, all on the run clock."""

    KIND = "officer_spoke"
    text: str
    act: Annotated[
        str, Field(pattern=r"^(identify|command|warning|question|rapport)(\.[a-z][a-z0-9_]*)?$")
    ]
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    start_s: Seconds
    end_s: Seconds
    clip: str | None = None  # the kept audio, relative to the run folder
    # RMS level of the words (dBFS, <= 0): a shout is told from a normal voice by it. Absent
    # (None) where it was not measured: a scripted officer's words.
    loudness_dbfs: Annotated[float, Field(le=0.0)] | None = None
    # The record's number among the run's officer_spoke records (1, 2, ...): the same words
    # said twice at once (a scripted "Drop it! Drop it!") are two records, told apart by it.
    # Absent in logs written before it was (those may hold two identical lines).
    n: Annotated[int, Field(ge=1)] | None = None
    # The phrase-book phrase that made the act, of the words in `text` (review shows it, the
    # utterance beside it). Absent in logs written before it was.
    phrase: str | None = None


class Agitation(Record):
    """A subject's agitation (drills/deescalation.py) after a change: `cause` is what changed
    it (speech, weapon_pointed) or `time` for the once-a-second sample."""

    KIND = "agitation"
    subject: str
    level: Annotated[float, Field(ge=0.0, le=1.0)]
    cause: Literal["start", "time", "speech", "weapon_pointed"]


class ProbeImpacts(Record):
    KIND = "probe_impacts"
    subject: str | None
    impacts: list[Probe]
    effect: EffectName
    spread_in: float | None
    connected: list[Index]
    avoid_zone: list[Index]
    reason: str
    serial: str | None = None
    bay: Index | None = None


class IncapacitationStarted(Record):
    KIND = "incapacitation_started"
    subject: str
    until_s: Seconds
    # True on a model whose held trigger keeps the cycle going: recovery starts 1.27 s after
    # the device's own cycle end (`taser_cycle_ended`), not at `until_s`.
    open_cycle: bool | None = None


class IncapacitationEnded(Record):
    KIND = "incapacitation_ended"
    subject: str
    behaviour: Behaviour
    threat: ThreatName


class BulletImpact(Record):
    """Where a round first struck. With the penetration model (range/runs/drill.py): what the
    thing struck is made of (`material`, a physics.penetration id), the drill's `role` for an
    object ("cover" | "concealment"), the inches it crossed and the speed it left with
    (`exit_mps`, 0: it stopped there); `bullet_strike` records follow for what it struck next."""

    KIND = "bullet_impact"
    target: str | None
    region: Region | None
    point: XYZ
    velocity_mps: float
    serial: str | None = None
    material: str | None = None
    role: Literal["cover", "concealment"] | None = None
    thickness_in: Annotated[float, Field(ge=0.0)] | None = None
    exit_mps: Annotated[float, Field(ge=0.0)] | None = None
    segment: SegmentName | None = None  # on a subject: as in `Probe`
    segment_offset_m: XYZ | None = None


class BulletStrike(Record):
    """Something a round struck after going through what it hit first (over-penetration): the
    `strike`-th thing along its flight (1: the second), at `velocity_mps` on arrival, leaving at
    `exit_mps` (0: it stopped there). Logged at the shot's time, after its `bullet_impact`."""

    KIND = "bullet_strike"
    target: str | None
    region: Region | None
    point: XYZ
    velocity_mps: float
    strike: Annotated[int, Field(ge=1)]
    material: str | None
    role: Literal["cover", "concealment"] | None
    thickness_in: Annotated[float, Field(ge=0.0)]
    exit_mps: Annotated[float, Field(ge=0.0)]
    serial: str | None = None
    segment: SegmentName | None = None  # on a subject: as in `Probe`
    segment_offset_m: XYZ | None = None


class TaserCycleEnded(Record):
    KIND = "taser_cycle_ended"
    serial: str | None = None
    stopped_by_safety: bool | None = None


class TaserCycleStarted(Record):
    """A TASER cycle began through a subject: the deployment's own first cycle
    (`cycle_of_deployment` 1), or a trigger / ARC press that re-energised probes still attached
    (2, 3, ...). `cycle` counts every cycle this subject has received in the run (1-based);
    `mode` is "probe" or "drive_stun"."""

    KIND = "taser_cycle_started"
    subject: str
    serial: str | None
    mode: Literal["probe", "drive_stun"]
    cycle: Annotated[int, Field(ge=1)]
    cycle_of_deployment: Annotated[int, Field(ge=1)]
    effect: EffectName


class TaserExposure(Record):
    """A cycle's end through a subject: how long the current flowed (s). Written at the cycle's
    end (its natural 5 s end, the safety, a new pull that restarts it, the run's end, or, for a
    live drive-stun, the ARC switch let go: "released", its duration the officer's hold)."""

    KIND = "taser_exposure"
    subject: str
    serial: str | None
    mode: Literal["probe", "drive_stun"]
    cycle: Annotated[int, Field(ge=1)]
    started_s: Seconds
    duration_s: Seconds
    ended_by: Literal["cycle_end", "safety", "new_pull", "run_end", "probe_detached", "released"]


class ProbeDetached(Record):
    """Probes of a TASER came off the subject (range/runs/drill.py checks every engine step):
    `reason` "the wire ran out" (the subject moved a probe farther from the device than its
    wire) or "pulled out in a fall" (physics.taser: FALL_DETACH_P). `circuit_open`: what is
    left of the device's probes no longer closes a circuit through the subject, so its cycle
    ends (`taser_exposure` ended_by "probe_detached") and nothing is left to re-energise."""

    KIND = "probe_detached"
    subject: str
    serial: str | None
    probes: list[Index]
    reason: str
    circuit_open: bool


class Instructor(Record):
    KIND = "instructor"
    button: str


class InstructorCommand(Record):
    """An instructor's live command from the console (range/console/lane.py), logged with who
    gave it before it takes effect, so a replay applies it at the same moment."""

    KIND = "instructor_command"
    command: Literal["pause", "resume", "abort", "restart", "button", "say", "mark", "flag"]
    by: str
    button: str | None = None
    subject: str | None = None
    text: str | None = None
    act: str | None = None
    note: str | None = None


class DriveStun(Record):
    """A drive-stun the officer pressed (issue 13): the device's front against `subject` (None:
    nobody within reach) at body `region`, `distance_m` from the officer, held for the
    scripted `duration_s` (None: the device's own cycle decides). The cycle it starts is its
    own `taser_cycle_started` / `taser_exposure` (mode drive_stun)."""

    KIND = "drive_stun"
    subject: str | None
    serial: str | None = None
    region: Region | None = None
    distance_m: NonNegative
    duration_s: Annotated[float, Field(gt=0.0)] | None = None


class SubjectSpoke(Record):
    """A subject's line (the phase's `say`), spoken as the phase is entered. `listener` is who
    hears it as the run's audio is made: "officer", or the subject whose eyes and ears an
    empathy scene takes; `azimuth_deg` (0 ahead, +90 right, -90 left) and `distance_m` are the
    speaker's direction and distance from the listener's head at that moment; `voice` the
    speaker's voice (its index in the drill's subject list)."""

    KIND = "subject_spoke"
    subject: str
    phase: str
    text: Annotated[str, Field(min_length=1)]
    listener: str
    azimuth_deg: Annotated[float, Field(ge=-180.0, le=180.0)]
    distance_m: NonNegative
    voice: Index


class DebriefAnswer(Record):
    """An answer to an empathy scene's debrief question, after the run ends: `how` "typed" on
    the console, "voice" recognised from the officer's speech (with its `confidence`), or
    "skipped" (empty `answer`)."""

    KIND = "debrief_answer"
    question: str
    text: str
    answer: str
    how: Literal["typed", "voice", "skipped"]
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # A spoken answer's audio kept in the run folder (relative to it) and its sha256.
    clip: str | None = None
    clip_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class BranchNotTaken(Record):
    KIND = "branch_not_taken"
    subject: str
    to: str


class DeviceEvent(Record):
    """A replica's event as it came off the wire (peripherals/events.py `as_record`)."""

    KIND = "device_event"
    serial: str
    model: ModelSlug
    event: DeviceEventName
    host_time_s: float
    device_time_us: int
    bay: int | None
    probe: int | None
    value: int | None


class DeviceReattached(Record):
    KIND = "device_reattached"
    serial: str
    weapon: str


class UntrackedShot(Record):
    """A round or cartridge fired while tracking was lost: neither flown nor scored."""

    KIND = "untracked_shot"
    weapon: str | None = None
    serial: str | None = None
    stage: Index | None = None
    string: Index | None = None


# -- a qualification attempt (range/runs/course.py) --------------------------------------------


class AttemptStarted(Record):
    KIND = "attempt_started"
    course: str
    shooter: str
    officer_name: str | None
    seed: int
    devices: list[Device]
    calibration: list[CalibrationCheck]
    calibration_override_by: str | None
    openrange_version: str
    # The course file's bytes as kept in the attempt folder (`course.toml`; `course.json`, the
    # course's model, in attempts saved before), and the file they were read from.
    course_sha256: str | None = None
    course_file: str | None = None
    # The shooter given as a file (`--shooter FILE`) as kept in the attempt folder
    # (`shooter.toml`), its sha256, and where it was read (absent: a built-in shooter by id,
    # an officer, and older logs): a resume is held to it (nu24 #6).
    shooter_sha256: str | None = None
    shooter_file: str | None = None
    # The badge it is fired for the records under (`--badge`; absent: none, and older logs):
    # `records close` and a resume hold the in-progress row's badge to it (rc24 #2).
    badge: str | None = None


class AttemptRecorded(Record):
    """The attempt's record number in the records store, logged once it is known (after
    `attempt_started`, only with --badge). A resumed attempt's part also says which earlier
    folders hold its first parts, which strings it kept from them and which one a crash cut
    (reshot here): `openrange score` rescores the parts as one attempt."""

    KIND = "attempt_recorded"
    attempt: Annotated[int, Field(ge=1)]
    part: Annotated[int, Field(ge=1)]
    earlier_logs: list[str] = []
    kept_strings: list[Annotated[list[Index], Field(min_length=2, max_length=2)]] = []
    cut: Annotated[list[Index], Field(min_length=2, max_length=2)] | None = None


class StringStarted(Record):
    KIND = "string_started"
    stage: Index
    string: Index
    distance_ft: Annotated[float, Field(gt=0.0)]
    start: str
    par_time_s: Annotated[float, Field(gt=0.0)]


class Shot(Record):
    KIND = "shot"
    stage: Index
    string: Index
    t_s: float
    zone: str
    points: int
    stopped_by: str | None
    point: XYZ
    distance_m: float
    # Where the hole is on the target, (right, up) inches from its centre (None: it missed the
    # target), and the bullet's diameter: scoring/course.py judges `zone` and `points` from
    # them. Attempts saved before they were kept have neither; their zone stands as written.
    hole_in: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    bullet_diameter_in: Annotated[float, Field(gt=0.0)] | None = None


class Deployment(Record):
    KIND = "deployment"
    stage: Index
    string: Index
    t_s: float
    effective: bool
    reason: str
    # What the laser lit when the trigger was pulled and where each probe fell (none are flown
    # when the laser was off the subject): scoring/course.py judges `effective` from them.
    # Attempts saved before they were kept have neither; their judgement stands as written.
    laser_on: str | None = None
    impacts: list[Probe] | None = None


class StringEnded(Record):
    """A string fired whole: its par time passed or its shots were all fired (not logged for a
    string cut by a fault, `string_faulted`). A resumed attempt keeps every string that has
    one and reshoots only the string the crash cut (range/runs/course.py `_resumed`)."""

    KIND = "string_ended"
    stage: Index
    string: Index


class StringFaulted(Record):
    """A string cut before it was fired whole, never scored as a failure: what it fired is
    dropped and it is reshot (`reshoot`), or left for a reshoot after a second cut. `reason`
    says what cut it (range/runs/course.py): "device fault (SERIAL, ...)", "tracking lost at
    the shot", "headset off (the OpenXR session is not focused)", or in a resumed attempt
    "attempt resumed after a crash"; attempts logged before it was kept have none."""

    KIND = "string_faulted"
    stage: Index
    string: Index
    reshoot: bool
    reason: str | None = None


class AttemptEnded(Record):
    KIND = "attempt_ended"
    points: int
    hits: int
    passed: bool
    complete: bool
    # The qualification record the attempt became (with --badge): not `attempt_recorded`'s
    # number, which is the in-progress attempt's (docs/records.md "Two numbers, never mixed").
    qualification: Annotated[int, Field(ge=1)] | None = None


# -- checking ------------------------------------------------------------------------------------


# A run is minutes long; a `t` beyond a day is a corrupt or forged log, never a run.
MAX_RUN_T_S = 86_400.0
# Records are written in time order, but a live run logs each replica event at its own device
# time, which a loaded host may read a few frames after the records of that frame: up to this
# much back is a live log's normal order; more is a log edited or stitched by hand.
T_BACKWARDS_TOLERANCE_S = 0.5
# No record nests deeper than a few levels (a list of devices of fields); a JSON document nested
# deeper is refused before anything walks it recursively.
MAX_JSON_DEPTH = 32


def json_depth(data: Any) -> int:
    """How deeply `data` (parsed JSON) nests lists and objects, counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            return depth
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_order(t: float, previous_t: float | None) -> str | None:
    """Why a record's run time `t` cannot follow `previous_t` in one log (None when it can):
    beyond a day, or going back in time by more than T_BACKWARDS_TOLERANCE_S."""
    if t > MAX_RUN_T_S:
        return f"t = {t:g} s is beyond a day ({MAX_RUN_T_S:g} s): not a run's time"
    if previous_t is not None and t < previous_t - T_BACKWARDS_TOLERANCE_S:
        return f"t = {t:g} s goes back in time from the record before (t = {previous_t:g} s)"
    return None


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def check_record(record: Mapping[str, Any] | str) -> Record:
    """Check one record (a parsed JSON object, or its JSON text) against its kind's model.

    Raises RecordError naming the kind, the field and why: a kind not in KINDS (with the known
    ones), a missing or unknown field, a value of the wrong JSON type or out of range.
    """
    text = record if isinstance(record, str) else None
    data: Any = json.loads(record) if isinstance(record, str) else record
    if not isinstance(data, Mapping):
        raise RecordError("", "", f"a record is a JSON object, not {type(data).__name__}")
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise RecordError("", "kind", "required field is missing" if kind is None else "not text")
    model = KINDS.get(kind)
    if model is None:
        raise RecordError(
            "", "kind", f"unknown record kind {kind!r}; known: {', '.join(sorted(KINDS))}"
        )
    try:
        # JSON mode: a JSON string is accepted where an enum is expected, and nothing else is
        # converted (a string `t`, a boolean distance, a float count are all errors).
        return model.model_validate_json(text if text is not None else json.dumps(dict(data)))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(p for p in error["loc"] if isinstance(p, int | str))
        message = {
            "missing": "required field is missing",
            "extra_forbidden": f"unknown field for {article(kind)} record",
        }.get(error["type"], error_message(error))
        if loc == ("log_format",) and error["type"] == "less_than_equal":
            message = (
                f"log format {error['input']} was written by a newer OpenRange;"
                f" this one reads up to {LOG_FORMAT}"
            )
        if len(exc.errors()) > 1:
            message += f" (and {len(exc.errors()) - 1} more problem(s) in this record)"
        raise RecordError(kind, _field(loc), message) from None
