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
    RESTART = "restart"  # abort and start again with the same drill, officer and seed
    BUTTON = "button"  # args: button
    SAY = "say"  # args: subject, text: a line spoken as that subject
    MARK = "mark"  # args: act, text: what the officer said, as the instructor heard it
    FLAG = "flag"  # args: note: a moment for the debrief


# Commands that act on a live run (all but START).
RUN_COMMANDS = frozenset(Command) - {Command.START}

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
        "cover": [
            {
                "name": c.name,
                "x_ft": c.x_ft,
                "y_ft": c.y_ft,
                "depth_ft": c.depth_ft,
                "width_ft": c.width_ft,
                "height_ft": c.height_ft,
            }
            for c in drill.scene.cover
        ],
        "props": place_props(drill.scene),
        "lighting": drill.scene.lighting,
        "officer": {"x_ft": _ft(officer_xy_m[0]), "y_ft": _ft(officer_xy_m[1])},
        "subjects": subjects,
        "buttons": buttons,
        "phases": [p.id for p in drill.phases],
    }


IDLE: dict[str, Any] = {"status": "idle"}

# A run folder travels to the console as {name: text} ("b64:" + base64 for binary files): the
# console keeps its own copy, so a debrief needs no access to the lane's disk.
_FILE_NAME = re.compile(r"^(speech/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")
MAX_BUNDLE_BYTES = 8 * 2**20


def bundle(run_dir: Path) -> dict[str, str]:
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
    return files


def unbundle(files: dict[str, str], run_dir: Path) -> None:
    """Write a bundled run folder; refuses names outside it and bundles over the size limit."""
    if sum(len(v) for v in files.values()) > MAX_BUNDLE_BYTES:
        raise ValueError(f"a run folder over {MAX_BUNDLE_BYTES} bytes")
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
