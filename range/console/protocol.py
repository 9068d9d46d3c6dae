"""What a lane and the console say to each other over the lane's WebSocket (JSON text frames).

lane -> console:
  {"type": "hello", "lane": NAME, "key": KEY, "instance": ID, "state": STATE,
   "events": [EVENT...], "finished": [RESULT...], "unrecorded": [UNRECORDED...],
   "phase_graph": GRAPH or null}                  on every (re)connection; ID is the lane
                                                  process's (random): a hello for a NAME
                                                  connected under another ID is refused
  {"type": "state", "lane": NAME, "sent_s": T, "sent_unix_ms": MS, "seq": N, "state": STATE,
   "events": [EVENT...], "new_run": true?}
                                                  once per frame while a run is live;
                                                  `new_run` on a run's first frame: the
                                                  console drops the last run's events
  {"type": "finished", "lane": NAME, "result": RESULT}   RESULT["files"]: the run's folder (events,
                                                  result, drill copy as text; speech as base64)
console -> lane:
  {"type": "attached", "lane": NAME}              the hello was accepted (first, before any
                                                  other answer): only then does the lane say
                                                  it is connected
  {"type": "command", "command": COMMAND, "by": ACCOUNT, "args": {...}}
  {"type": "recorded", "run_dir": PATH}           a finished run is in the records; forget it
  {"type": "unrecorded", "run_dir": PATH, "reason": TEXT}
                                                  the records refused it (an unknown badge, a
                                                  store error): the lane holds it, folder and
                                                  all, and offers it no more
  {"type": "retry", "run_dir": PATH, "by": ACCOUNT}    offer that held run again (a `finished`)
  {"type": "dismiss", "run_dir": PATH, "by": ACCOUNT}  forget it (its folder stays on the lane)
  {"type": "refused", "reason": TEXT}             a bad key; the lane stops trying

GRAPH is the drill's phase graph (range/console/graph.py), also in the first state frame of a
run; a course's STATE is range/console/courselane.py's; STATE carries `replicas` when the lane
has its own (range/console/replicas.py). STATE is otherwise `lane_state` below: positions in
feet (the trainer's unit), the drill's branch buttons and the phase each subject is in; the
lane adds the impacts so far (`hits`: `impact_rows`, for the map; `impacts_m`: for the live
view), what a round struck after going through included (kind `strike`). EVENT is
{"t": s, "kind": str, "text": str}; UNRECORDED is `unrecorded_row` below (no files).
`sent_s` is the lane's monotonic clock when it sent the frame, `sent_unix_ms` its wall clock: on
one machine the benchmark compares them with its own clock and with the browser's
(bench/console.py).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from drills.engine import DrillEngine, RunState
from drills.log import LogRecord
from drills.schema import Scene as Place
from drills.schema import Subject
from physics.animation import Clip
from physics.units import FT_M
from range.review.effects import Impact


class Command(StrEnum):
    START = "start"  # args: drill (id or path), script, seed (int or None), officer, badge
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"
    # abort and start again with the same drill, officer and seed; after a drill run ended,
    # the lane plays that run again (LaneProcess._start_for)
    RESTART = "restart"
    BUTTON = "button"  # args: button
    SAY = "say"  # args: subject, text: a line spoken as that subject
    MARK = "mark"  # args: act, text: what the officer said, as the instructor heard it
    FLAG = "flag"  # args: note: a moment for the debrief


# Commands that act on a live run (all but START).
RUN_COMMANDS = frozenset(Command) - {Command.START}

# The longest line the instructor may speak as a subject (characters): a spoken line is a
# sentence or two; espeak-ng turns 20,000 characters into a 6 MB WAV that would not fit a run's
# folder (MAX_BUNDLE_BYTES).
MAX_SAY_CHARS = 500
# The longest flag note or marked line (characters).
MAX_NOTE_CHARS = 500


# A lane's name: letters, digits, '.', '-' or '_', a letter or digit first, at most 32 characters
# (as account names: it is in the lane's page address, the audit trail and every card), so no
# path parts ("../x"), spaces or markup.
MAX_LANE_NAME_CHARS = 32
_LANE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_lane_name(name: str) -> str:
    """`name` if it is a lane name (above); ValueError in one line otherwise."""
    if len(name) > MAX_LANE_NAME_CHARS:
        raise ValueError(f"a lane name of {len(name)} characters: at most {MAX_LANE_NAME_CHARS}")
    if not _LANE_NAME.fullmatch(name):
        raise ValueError(
            f"lane name {name!r}: use ASCII letters, digits, '.', '-' or '_',"
            " an ASCII letter or digit first"
        )
    return name


class CommandError(ValueError):
    """A live command the running drill cannot take; the text is one line naming the field."""


def check_command(
    command: Command, args: dict[str, str], state: dict[str, Any], acts: Iterable[str]
) -> None:
    """Refuse (CommandError) a live command the lane's running drill cannot take, before it is
    sent or logged: a line said as a subject the drill does not have, an empty or too long line,
    a branch button the drill does not have, a mark with an act that is not in `acts` (the
    phrase book's acts and categories), a flag without a note. `state` is the lane's newest
    state (`lane_state`: its `subjects` and `buttons`). The one place live commands are checked."""
    subjects = [str(s.get("id")) for s in state.get("subjects", []) if isinstance(s, dict)]
    buttons = [str(b.get("name")) for b in state.get("buttons", []) if isinstance(b, dict)]
    if command is Command.SAY:
        text = args.get("text", "").strip()
        if not text:
            raise CommandError("Say: the line to say is empty")
        if len(text) > MAX_SAY_CHARS:
            raise CommandError(
                f"Say: a line of {len(text)} characters (at most {MAX_SAY_CHARS}): say it in"
                " shorter lines"
            )
        subject = args.get("subject")
        if subject is None:
            ids = ", ".join(subjects) or "none"
            raise CommandError(f"Say as: choose the subject who says it; its subjects: {ids}")
        if subject not in subjects:
            raise CommandError(
                f"Say as: {subject!r} is not a subject of this drill; its subjects:"
                f" {', '.join(subjects) or 'none'}"
            )
    elif command is Command.BUTTON:
        button = args.get("button", "")
        if button not in buttons:
            raise CommandError(
                f"Button: {button!r} is not a branch button of this drill; its buttons:"
                f" {', '.join(buttons) or 'none'}"
            )
    elif command is Command.MARK:
        known = list(acts)
        act = args.get("act", "")
        if act not in known:
            raise CommandError(
                f"Act: {act!r} is not an act of the phrase book; its acts: {', '.join(known)}"
            )
        words = args.get("text", "").strip()
        if not words:
            raise CommandError("Officer said: write the words you heard")
        if len(words) > MAX_NOTE_CHARS:
            raise CommandError(f"Officer said: at most {MAX_NOTE_CHARS} characters")
    elif command is Command.FLAG:
        note = args.get("note", "").strip()
        if not note:
            raise CommandError("Note: say what the moment is for the debrief")
        if len(note) > MAX_NOTE_CHARS:
            raise CommandError(f"Note: a note of {len(note)} characters (at most {MAX_NOTE_CHARS})")


def check_start(args: dict[str, str]) -> None:
    """Refuse (CommandError, one line naming the form's field) a START the lane could not play,
    before it is sent or audited: a drill, officer script, course or scripted shooter this range
    does not have (the page's drop-downs offer only built-in ones), or a drill file that is not
    there, is a folder, is not a `.toml` file (the only data a drill file may be: never
    /etc/passwd or a device) or does not parse as a drill. `args` is the form's, with a course
    start's drill fields already dropped (and a drill start's shooter). A drill file is read on
    the console's disk: a lane on another machine needs it at the same path."""
    from drills.course import builtin_courses, builtin_shooters
    from drills.officer import builtin_officers
    from drills.schema import builtin_drill_files, read_drill_file

    def one_of(field: str, value: str, known: Iterable[str], what: str) -> None:
        names = sorted(known)
        if value not in names:
            raise CommandError(
                f"{field}: {value!r} is not {what} of this range; its {what.split()[-1]}s:"
                f" {', '.join(names)}"
            )

    if "course" in args:
        one_of("Course", args["course"], builtin_courses(), "a course")
        if "shooter" in args:
            one_of("Shooter", args["shooter"], builtin_shooters(), "a scripted shooter")
        return
    drill_file = args.get("drill_file")
    if drill_file is not None:
        path = Path(drill_file)
        if path.is_dir():
            raise CommandError(f"Drill file: {drill_file} is a folder, not a drill file")
        if not path.is_file():
            raise CommandError(f"Drill file: no file {drill_file}")
        if path.suffix != ".toml":
            raise CommandError(
                f"Drill file: {drill_file} is not a .toml file (a drill file is TOML, named .toml)"
            )
        try:
            drill = read_drill_file(drill_file).drill
        except (OSError, ValueError, KeyError) as exc:
            first = (str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)).splitlines()
            raise CommandError(f"Drill file: {first[0] if first else type(exc).__name__}") from None
    elif "drill" in args:
        one_of("Drill", args["drill"], builtin_drill_files(), "a drill")
        drill = read_drill_file(args["drill"]).drill
    else:
        raise CommandError("Drill: choose a drill or give a drill file")
    if "script" in args:
        one_of("Script", args["script"], builtin_officers(), "an officer script")
    elif not drill.expected_officer:
        raise CommandError(f"Script: {drill.id} names no expected response: choose a script")


def refusal(command: Command, lane: str, state: dict[str, Any], connected: bool) -> str | None:
    """Why `command` cannot apply to a lane in `state` now (None: it can), in one line: the one
    rule the console's server refuses by (HTTP 409, nothing sent or audited) and its page greys
    the buttons by (console.js `runButtons` follows it). A run paused can be resumed, aborted,
    restarted, spoken in, marked and flagged (its branch buttons wait for the resume); a drill
    run that has ended can be restarted (the lane plays the same drill, officer and seed again);
    a course takes only abort."""
    status = state.get("status")
    live = status in ("running", "paused")
    course = state.get("kind") == "course"
    if not connected:
        return f"lane {lane} is not connected"
    if command in (Command.START, Command.RESTART) and state.get("pending"):
        # Sent, not yet begun (pending_state): a double click or a second tablet.
        return f"lane {lane} is starting a run: {command.value} does not apply (abort it first)"
    if command is Command.START:
        what = "course" if course else "drill"
        return f"lane {lane} is running a {what}: abort it first" if live else None
    if course and live and command is not Command.ABORT:
        return f"lane {lane} is firing a course: {command.value} does not apply (only abort)"
    if command is Command.RESTART and status == "ended" and not course and state.get("drill"):
        return None
    if not live:
        if status == "ended":
            again = "Start course" if course else "Start drill or Restart"
            return f"lane {lane}: the run has ended: {command.value} does not apply ({again})"
        return f"lane {lane} has no run: {command.value} does not apply (start one first)"
    if command is Command.PAUSE and status == "paused":
        return f"lane {lane} is already paused"
    if command is Command.RESUME and status != "paused":
        return f"lane {lane} is not paused"
    if command is Command.BUTTON and status == "paused":
        return f"lane {lane} is paused: resume it before a branch button"
    return None


def pending_state(command: Command, state: dict[str, Any], args: dict[str, str]) -> dict[str, Any]:
    """The lane's state as the console takes it once `command` has been sent, until the lane's
    next frame replaces it: a start (or a restart) is a run starting, which a second start or
    restart waits for (`refusal`); an abort has ended the run; a pause or resume is done."""
    if command is Command.START:
        kind = "course" if args.get("course") else "drill"
        return {**state, "status": "running", "kind": kind, "pending": command.value}
    if command is Command.RESTART:
        return {**state, "status": "running", "pending": command.value}
    if command is Command.ABORT:
        return {**state, "status": "ended"}
    if command is Command.PAUSE:
        return {**state, "status": "paused"}
    if command is Command.RESUME:
        return {**state, "status": "running"}
    return state


# Log kinds shown in the live timeline, and the fields worth a line.
SHOWN = {
    "phase_entered": ("subject", "phase", "behaviour", "threat"),
    "officer_action": ("action", "subject", "say"),
    # What the officer said, as the recogniser heard it (drills/speech.py): the words, the act.
    "officer_spoke": ("text", "act", "confidence"),
    "instructor": ("button",),
    "instructor_command": ("command", "by", "button", "subject", "text", "act", "note"),
    "run_suspended": ("reason",),
    "run_resumed": (),
    "incapacitation_started": ("subject",),
    "probe_impacts": ("subject",),
    "bullet_impact": ("target", "region", "zone"),
    "bullet_strike": ("target", "region", "strike", "material"),
    "untracked_shot": ("weapon",),
    "run_ended": ("state", "reason"),
}


def event_line(record: LogRecord) -> dict[str, Any] | None:
    fields = SHOWN.get(record.kind)
    if fields is None:
        return None
    text = ", ".join(f"{k}={record.data[k]}" for k in fields if record.data.get(k) is not None)
    return {"t": round(record.t, 3), "kind": record.kind, "text": text}


def clip_keys(now: tuple[Clip, float, int] | None) -> dict[str, Any]:
    """A subject's animation now (physics.animation.SubjectAnimator.clip_now) as the console's
    view poses it: `clip`, `clip_t_s` (time into it) and `pose_seed`; none before it moves."""
    if now is None:
        return {}
    clip, t_s, seed = now
    return {"clip": clip.value, "clip_t_s": round(t_s, 3), "pose_seed": seed}


def place_props(place: Place) -> list[dict[str, Any]]:
    """A drill's props (a car, a room, a doorway, a curb: drills.schema.Prop) as the console's
    live view draws them (range/console/view.py), in feet and degrees."""
    return [p.model_dump() for p in place.props]


def place_cover(place: Place) -> list[dict[str, Any]]:
    """A drill's cover as the console's map draws it: each block's `name` and footprint and
    height, in feet."""
    return [
        {
            "name": c.name,
            "x_ft": c.x_ft,
            "y_ft": c.y_ft,
            "depth_ft": c.depth_ft,
            "width_ft": c.width_ft,
            "height_ft": c.height_ft,
        }
        for c in place.cover
    ]


def impact_rows(impacts: Iterable[Impact]) -> list[dict[str, Any]]:
    """Impacts as the console's map draws them, in feet: `weapon` (taser | firearm), `kind`
    (probe | bullet | strike: what a round struck after going through what it hit first)."""
    return [
        {
            "t": round(i.t, 3),
            "weapon": "taser" if i.kind == "probe" else "firearm",
            "kind": i.kind,
            "target": i.target,
            "x_ft": _ft(i.point_m[0]),
            "y_ft": _ft(i.point_m[1]),
        }
        for i in impacts
    ]


def _ft(metres: float) -> float:
    return round(metres / FT_M, 2)


def body_keys(spec: Subject) -> dict[str, Any]:
    """What the console's view needs to draw a subject's one body (drills.schema.Subject.body):
    its size, clothing and the starting attributes that shape it."""
    a = spec.attributes
    return {
        "size": spec.size,
        "clothing_gap_in": spec.clothing_gap_in,
        "age_group": a.age_group,
        "pregnant": a.pregnant,
        "frail": a.frail,
    }


def lane_state(
    engine: DrillEngine, officer_xy_m: tuple[float, float], meta: dict[str, Any]
) -> dict[str, Any]:
    """A live run as the console draws it; `meta` adds who and what (drill, officer, seed)."""
    drill = engine.drill
    subjects = []
    buttons: list[dict[str, Any]] = []
    seen: set[str] = set()
    bodies = {spec.id: body_keys(spec) for spec in drill.subjects}
    for s in engine.subjects.values():
        subjects.append(
            {
                "id": s.id,
                "role": s.role,
                "x_ft": _ft(s.position_m[0]),
                "y_ft": _ft(s.position_m[1]),
                "phase": s.phase.id,
                "behaviour": s.behaviour.value,
                "threat": s.threat.name.lower(),
                "stance": s.stance.value,
                "held": s.held_object.value,
                **bodies[s.id],
            }
        )
        for transition in s.phase.transitions:
            if transition.instructor and transition.instructor not in seen:
                seen.add(transition.instructor)
    for phase in drill.phases:
        for transition in phase.transitions:
            name = transition.instructor
            if name and not any(b["name"] == name for b in buttons):
                buttons.append({"name": name, "live": name in seen})
    paused = engine.state is RunState.SUSPENDED
    return {
        **meta,
        "status": "ended" if engine.finished else ("paused" if paused else "running"),
        "state": engine.state.value,
        "t_s": round(engine.t, 3),
        "time_limit_s": drill.time_limit_s,
        "lane_ft": [drill.scene.lane_length_ft, drill.scene.lane_width_ft],
        "cover": place_cover(drill.scene),
        "props": place_props(drill.scene),
        "lighting": drill.scene.lighting,
        "officer": {"x_ft": _ft(officer_xy_m[0]), "y_ft": _ft(officer_xy_m[1])},
        "subjects": subjects,
        "buttons": buttons,
        "phases": [p.id for p in drill.phases],
    }


IDLE: dict[str, Any] = {"status": "idle"}

# A run folder travels to the console as {name: text} ("b64:" + base64 for binary files): the
# console keeps its own copy, so a debrief needs no access to the lane's disk. The limit is on the
# folder's files as they are on disk (as `du` counts them), not on their base64 text.
_FILE_NAME = re.compile(r"^(speech/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")
MAX_BUNDLE_BYTES = 8 * 2**20


def _file_bytes(text: str) -> int:
    """The size on disk of one bundled file."""
    if text.startswith("b64:"):
        body = text[4:]
        return len(body) * 3 // 4 - body[-2:].count("=")
    return len(text.encode("utf-8"))


def folder_bytes(files: dict[str, str]) -> int:
    """The size on disk of a bundled run folder's files."""
    return sum(_file_bytes(v) for v in files.values())


def bundle(run_dir: Path) -> dict[str, str]:
    """The run folder's files to send. Spoken lines (speech/NN.wav) that would take the folder
    over MAX_BUNDLE_BYTES are left out: the console writes them again from the log
    (range/console/speech.py), so a run is never refused for its audio."""
    files: dict[str, str] = {}
    for path in sorted([*run_dir.glob("*"), *run_dir.glob("speech/*")]):
        name = path.relative_to(run_dir).as_posix()
        if not path.is_file() or not _FILE_NAME.match(name):
            continue
        data = path.read_bytes()
        try:
            files[name] = data.decode("utf-8") if path.suffix != ".wav" else ""
        except UnicodeDecodeError:
            files[name] = ""
        if not files[name]:
            files[name] = "b64:" + base64.b64encode(data).decode()
    if folder_bytes(files) > MAX_BUNDLE_BYTES:
        files = {k: v for k, v in files.items() if not k.startswith("speech/")}
    return files


def speech_left_out(run_dir: Path, files: dict[str, str]) -> bool:
    """Whether `bundle` left the run's spoken lines out (a finished run's RESULT says so as
    `speech_left_out`, and the console writes them again)."""
    has_speech = (run_dir / "speech").is_dir() and any((run_dir / "speech").iterdir())
    return has_speech and not any(name.startswith("speech/") for name in files)


def with_files(result: dict[str, Any]) -> dict[str, Any]:
    """A finished run's RESULT with its folder bundled (`files`), and `speech_left_out` when
    its spoken lines were left out of the bundle (the console writes them again)."""
    run_dir = Path(str(result["run_dir"]))
    files = bundle(run_dir)
    return {**result, "files": files, "speech_left_out": speech_left_out(run_dir, files)}


def unbundle(files: dict[str, str], run_dir: Path) -> None:
    """Write a bundled run folder; refuses names outside it and folders over the size limit."""
    size = folder_bytes(files)
    if size > MAX_BUNDLE_BYTES:
        raise ValueError(
            f"a run folder of {size / 2**20:.1f} MiB ({size} bytes; at most"
            f" {MAX_BUNDLE_BYTES // 2**20} MiB): it stays in the lane's runs folder, where"
            " openrange score and openrange report read it"
        )
    for name in files:
        if not _FILE_NAME.match(name):
            raise ValueError(f"a run file named {name!r}")
    for name, text in files.items():
        path = run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("b64:"):
            path.write_bytes(base64.b64decode(text[4:]))
        else:
            path.write_text(text, encoding="utf-8")


# What the console takes from a client's WebSocket. A state frame is a few kB nested 4 deep and a
# finished run's bundle at most MAX_BUNDLE_BYTES (plus JSON escaping); anything past these is
# refused before json.loads, whose recursion a deeply nested message would otherwise exhaust.
MAX_MESSAGE_DEPTH = 32
MAX_MESSAGE_CHARS = 2 * MAX_BUNDLE_BYTES
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class MessageError(ValueError):
    """A client's WebSocket message the console will not read: too long, too deep, not JSON or
    not an object. The text is one line for the client."""


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON `text` (brackets inside strings do not
    count); 0 for a scalar. Linear time, no recursion."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for c in brackets:
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_message(
    text: str, max_chars: int = MAX_MESSAGE_CHARS, max_depth: int = MAX_MESSAGE_DEPTH
) -> dict[str, Any]:
    """One client message as a dict; raises MessageError (never RecursionError or a crash)
    when it is over `max_chars` characters, nested past `max_depth`, not JSON or not an object."""
    if len(text) > max_chars:
        raise MessageError(f"a message of {len(text)} characters (at most {max_chars})")
    depth = json_depth(text)
    if depth > max_depth:
        raise MessageError(f"a message nested {depth} deep (at most {max_depth})")
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise MessageError(f"a message that is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise MessageError("a message that is not a JSON object")
    return message


def unrecorded_row(result: dict[str, Any], reason: str) -> dict[str, Any]:
    """A run the records refused, as the console lists it: its folder, what it was, for whom,
    and the reason in one line. Takes a finished run's RESULT, or such a row again (a hello's)."""
    return {
        "run_dir": str(result.get("run_dir")),
        "kind": "course" if result.get("kind") == "course" else "drill",
        "what": str(result.get("course") or result.get("drill") or result.get("what") or "?"),
        "badge": str(result.get("badge") or ""),
        "started_by": str(result.get("started_by") or ""),
        "reason": " ".join(reason.split()),
    }
