"""What the console's records and debrief pages show, built from the records and the run logs
(no HTML here: the templates draw it). Distances in feet, as the trainer thinks."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from drills.course import stage_label
from drills.log import LogRecord, run_started
from drills.speech import span_text
from physics.units import FT_M
from range.cli.corrections import (
    RecordedCorrections,
    chained_corrections,
    checked_fixes,
    checked_notes,
    corrected_score,
)
from range.cli.summary import earlier_corrections, finding_kind, finding_mark
from range.console.protocol import (
    body_keys,
    clip_keys,
    event_line,
    impact_rows,
    place_cover,
    place_props,
)
from range.console.speech import SPEECH_DIR, said
from range.records.exports import VALID_DAYS, roster
from range.records.store import (
    DAMAGED,
    LISTED_RUN_FIELDS,
    Records,
    RecordsError,
    course_label,
    damage,
    drill_label,
    drill_outcome,
    drill_run_edited,
    drill_run_incomplete,
    drill_run_no_decision,
    drill_run_script,
    drill_run_stopped,
    held_points,
    log_check,
    outcome,
    simulated_by,
    simulation_note,
)
from range.review.effects import impact_json, impacts_at
from range.review.mirror import animate_log
from range.review.render import Renderer, RenderUnavailableError
from range.review.replay import ReplayError
from range.review.report import shot_images
from range.runs.runlog import read_events
from range.runs.saved import saved_drill_run
from scoring.corrections import Correction, added_in_force, correction_of, marks, utterances
from scoring.detection import detection
from scoring.score import Score

WARN_DAYS = 30  # a qualification that expires within this many days is flagged on the roster


# What reading a recorded run's folder on the console's disk raises when it is missing or
# damaged (a folder moved away, a log cut short or edited): said in one line, never a 500.
FOLDER_ERRORS = (OSError, ReplayError, ValueError)  # drills.events.EventLogError: a ValueError


def folder_problem(row: dict[str, Any], exc: BaseException) -> str:
    """One line: a recorded run whose folder cannot be read, and why."""
    why = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else exc
    return f"run {row['id']}: its folder cannot be read ({why})"


def drill_run(records: Records, run_id: int) -> dict[str, Any]:
    row = records.drill_run_row(run_id)
    if row is None:
        raise RecordsError(f"no drill run {run_id}")
    # `phone-draw-v1 (modified, sha256 ...)` for an edited copy of a built-in drill; whether
    # its log on disk is still the one recorded (its kept sha256; none for an older record).
    log_ok, log_said = log_check(row)
    # A DAMAGED result names nobody who played it, as `records show` says (damaged_run).
    simulated = None if drill_outcome(row) == DAMAGED else simulated_by(row)
    return row | {
        "drill_label": drill_label(row),
        "aborted": drill_run_stopped(row),
        "log_ok": log_ok,
        "log_check": log_said,
        # Played by a scripted officer: SIMULATED, never the badge's own decisions, in the
        # words `records show` says it (nu19 #3). None for a live officer's run.
        "simulated": simulated,
        "simulation": simulation_note(drill_run_script(row), row["badge"]) if simulated else None,
    }


def recent_runs(
    records: Records, badge: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    raw = records.recent_drill_run_rows(badge, limit)
    # Judged edited or not as recorded; then shown as an instructor's correction left it
    # (its newest score and decision, and who corrected it), as the debrief and `records
    # history` show it.
    damaged = {int(r["id"]): _damaged(r) for r in raw}
    rows = records.amended_drill_runs(raw)
    # An edited copy of a built-in drill is shown as one: `id (modified, sha256 ...)`.
    return [
        {k: r[k] for k in LISTED_RUN_FIELDS}
        | {
            "drill": drill_label(r),
            "aborted": drill_run_stopped(r),
            # A run its lane was stopped in the middle of (no run_ended), or one otherwise
            # unfinished: never a decision of the officer's.
            "incomplete": drill_run_incomplete(r),
            # Its result no longer parses or matches its chained digest: DAMAGED, no score.
            "damaged": damaged[int(r["id"])],
            "corrected": r["corrected"][-1]["by"] if r.get("corrected") else None,
            # Played by a scripted officer: marked SIMULATED as `records show` marks it.
            "simulated": None if damaged[int(r["id"])] else simulated_by(r),
        }
        | ({"score": None, "passed": None, "decision": DAMAGED} if damaged[int(r["id"])] else {})
        for r in rows
    ]


def _damaged(row: dict[str, Any]) -> bool:
    """Whether a drill run's row (with its `chained` digest) was edited outside OpenRange."""
    return drill_run_edited(row) or drill_outcome(row) == DAMAGED


# -- roster and attempt sheets ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CourseStatus:
    course: str
    status: str  # qualified | expiring | expired | not qualified
    last_pass: str | None
    expires: str | None


def _simulated(row: dict[str, Any]) -> bool:
    """A scripted shooter's attempt (its detail names the `shooter`); a record whose detail no
    longer parses is shown as it is elsewhere (DAMAGED), never an error here."""
    try:
        detail = json.loads(row["detail"])
    except ValueError:
        return False
    return isinstance(detail, dict) and bool(detail.get("shooter"))


def course_status(records: Records, badge: str, today: date) -> list[CourseStatus]:
    """Each course's standing from the attempts the officer fired; a course with only a
    scripted shooter's attempts (simulations: never a qualification, nor a failure to qualify)
    is "simulated only"."""
    by_course: dict[str, list[dict[str, Any]]] = {}
    for row in records.qualifications(badge, until=today.isoformat()):  # as it stood then
        # An edited copy of a built-in course stands apart under its own label.
        by_course.setdefault(course_label(row), []).append(row)
    lines = []
    for course, every in sorted(by_course.items()):
        rows = [r for r in every if not _simulated(r)]
        if not rows:
            lines.append(CourseStatus(course, "simulated only", None, None))
            continue
        passes = [r for r in rows if r["passed"]]
        if not passes:
            lines.append(CourseStatus(course, "not qualified", None, None))
            continue
        last = datetime.fromisoformat(passes[-1]["finished"]).date()
        expires = last + timedelta(days=VALID_DAYS)
        status = (
            "expired"
            if expires < today
            else "expiring"
            if expires - today <= timedelta(days=WARN_DAYS)
            else "qualified"
        )
        lines.append(CourseStatus(course, status, last.isoformat(), expires.isoformat()))
    return lines


def roster_page(records: Records, today: date) -> list[dict[str, Any]]:
    return [
        {"line": line, "courses": course_status(records, line.badge, today)}
        for line in roster(records, today, VALID_DAYS)
    ]


def attempt_sheet(row: dict[str, Any]) -> dict[str, Any]:
    """One qualification attempt, stage by stage, with the sum checked against the total."""
    # QUALIFIED, NOT QUALIFIED, INCOMPLETE, or SIMULATED (a scripted shooter's attempt,
    # as a course fired from the console's lane page is): what the records say it is.
    said = outcome(row)
    held = held_points(row, said)  # none for a DAMAGED record: its numbers were edited
    damaged = said == DAMAGED
    stages: list[dict[str, Any]] = []
    if not damaged:  # a DAMAGED record's stages are edited numbers too: none shown (rc20 #2)
        try:  # a detail edited outside OpenRange is shown DAMAGED, with no stages, never a crash
            detail = json.loads(row["detail"])
            stages = detail["score"].get("stages", [])
        except (ValueError, TypeError, KeyError, AttributeError):
            stages = []
    stage_points = None if damaged else sum(int(s["points"]) for s in stages)
    stage_hits = None if damaged else sum(int(s["hits"]) for s in stages)
    return {
        "row": row,
        # Each stage numbered from 1 as the CLI says it ("stage 2: 7 yd", docs/courses.md;
        # nu22 #7: only names that held their own number showed one).
        "stages": [
            {**s, "label": stage_label(i, str(s.get("name", "")))} for i, s in enumerate(stages)
        ],
        "stage_points": stage_points,
        "stage_hits": stage_hits,
        "points": held["points"],
        "hits": held["hits"],
        "adds_up": not damaged and stage_points == held["points"] and stage_hits == held["hits"],
        "outcome": said,
        # No certificate or attempt record is issued for it (`certificate_text` refuses it).
        "damaged": damaged,
        # Why, said in place of its sums: none are shown, so none is said not to add up
        # (rc21 #7e).
        "damage": (damage(row) or "it cannot be read") if damaged else None,
    }


# -- debrief --------------------------------------------------------------------------------


def _ft(xy: list[float]) -> list[float]:
    return [round(xy[0] / FT_M, 2), round(xy[1] / FT_M, 2)]


def debrief(
    run_dir: Path, render: bool = True, recorded: RecordedCorrections | None = None
) -> dict[str, Any]:
    """Everything the debrief page shows for one saved drill run. `recorded`: the speech
    corrections the records chained for it (`chained_corrections`); where the run's
    corrections file differs from them, theirs are applied, and `correction_notes` says what
    differs, as `score` and `report` say it."""
    records, drill = saved_drill_run(run_dir)
    started = records[0].data
    fixes, notes = checked_notes(run_dir, records, recorded)
    corrections = fixes[0]
    score = corrected_score(run_dir, records, None, fixes)
    timeline: list[dict[str, Any]] = []
    for r in records:
        line = event_line(r)
        if line is not None:
            timeline.append({**line, "class": "event"})
    for f in score.findings:
        timeline.append(
            {
                "t": round(f.t, 3),
                "kind": f"{f.rule} ({finding_kind(score, f)})",
                "text": f"{f.points:+.0f}: {f.message}",
                "class": "critical" if finding_mark(score, f)[0] == "!" else str(f.kind),
            }
        )
    timeline.sort(key=lambda e: e["t"])
    track = [
        {
            "t": round(r.t, 3),
            "officer": _ft(r.data["officer"]),
            "subjects": {k: _ft(v) for k, v in r.data["subjects"].items()},
        }
        for r in records
        if r.kind == "positions"
    ]
    shots = [
        r
        for r in records
        if r.kind == "officer_action" and r.data["action"] in ("taser_fired", "firearm_fired")
    ]
    impacts = impact_rows(impacts_at(records, math.inf))
    spoken = [
        {
            "n": n,
            "t": round(r.t, 3),
            "subject": r.data.get("subject") or "",
            "by": r.data["by"],
            "text": r.data.get("text", ""),
            "audio": (run_dir / SPEECH_DIR / f"{n:02d}.wav").is_file(),
        }
        for n, r in enumerate(said(records), 1)
    ]
    # The acts added in review (`speech correct --add`) that the score applied.
    officer_said = officer_speech(
        records, run_dir, corrections, added_in_force(score.applied(corrections))
    )
    frames = _frames(records, shots, drill) if render else []
    end_t = max(r.t for r in records)
    return {
        "drill": drill,
        "started": started,
        "score": score,
        "timeline": timeline,
        "track": track,
        "end_t": end_t,
        "lane_ft": [drill.scene.lane_length_ft, drill.scene.lane_width_ft],
        "cover": [
            {"x_ft": c.x_ft, "y_ft": c.y_ft, "depth_ft": c.depth_ft, "width_ft": c.width_ft}
            for c in drill.scene.cover
        ],
        "hits": [
            {
                "t": round(h.t, 3),
                "weapon": h.weapon,
                "subject": h.subject,
                "region": h.region,
                "zone": h.zone,
            }
            for h in score.hits
        ],
        "impacts": impacts,
        "spoken": spoken,
        "officer_said": officer_said,
        # Each correction of the officer's words replaced by a later one of the same act: the
        # record of who changed what, as `score` and the report list it (nu19 #12).
        "earlier_corrections": earlier_corrections(score.corrections_not_applied),
        "correction_notes": [
            note.removeprefix("warning: ")  # the page heads each with WARNING
            for note in notes
        ],
        "flags": [r for r in records if r.kind == "instructor_command"],
        "frames": frames,
    }


def officer_clip(run_dir: Path, records: list[LogRecord], n: int) -> Path | None:
    """The kept audio of the officer's `n`th utterance (1-based), if it is in the run folder."""
    spoke = [r for r in records if r.kind == "officer_spoke"]
    if not 1 <= n <= len(spoke):
        return None
    clip = spoke[n - 1].data.get("clip")
    if not isinstance(clip, str) or not clip:
        return None
    path = (run_dir / clip).resolve()
    if not path.is_file() or not path.is_relative_to(run_dir.resolve()):
        return None
    return path


# Audio kept either side of an utterance's span in its clip (s): a word's edges as the decoder
# times them can cut a consonant short.
CLIP_PAD_S = 0.25


def officer_span(records: list[LogRecord], n: int) -> tuple[float, float] | None:
    """Where the officer's `n`th utterance (1-based) lies in its recording (s), padded by
    CLIP_PAD_S; None when the recording's time is not the run's: a live microphone's stream
    started before the run, by an offset the log does not keep (its clip is served whole)."""
    spoke = [r for r in records if r.kind == "officer_spoke"]
    started = run_started(records) or {}
    if not 1 <= n <= len(spoke) or started.get("officer") == "live":
        return None
    data = spoke[n - 1].data
    try:
        start_s, end_s = float(data["start_s"]), float(data["end_s"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(start_s) and math.isfinite(end_s)) or end_s < start_s:
        return None
    return max(0.0, start_s - CLIP_PAD_S), end_s + CLIP_PAD_S


def clip_wav(path: Path, span: tuple[float, float] | None) -> bytes:
    """The recording at `path` as WAV bytes: only `span` (s) of it when one is given (one
    utterance, not the whole run's audio from 0 s), its own sample rate and channels kept."""
    import io

    import soundfile

    if span is None and path.suffix.lower() == ".wav":
        return path.read_bytes()
    with soundfile.SoundFile(path) as audio:
        rate = int(audio.samplerate)
        first = 0 if span is None else min(int(span[0] * rate), audio.frames)
        last = audio.frames if span is None else min(math.ceil(span[1] * rate), audio.frames)
        audio.seek(first)
        samples = audio.read(max(0, last - first), dtype="int16", always_2d=True)
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def officer_speech(
    records: list[LogRecord],
    run_dir: Path,
    corrections: list[Correction],
    added: Sequence[Correction] = (),
) -> list[dict[str, Any]]:
    """What the officer said (each `officer_spoke` record, `n` its number), at the time the
    words began, with the act heard, the instructor's correction if one is kept, and whether its
    audio is; and each act an instructor marked live (`m` its number among the marks; `source`
    says who heard it), which is corrected the same way."""

    out: list[dict[str, Any]] = []
    for n, r in enumerate(utterances(records), 1):
        fixed = correction_of(r, corrections)
        out.append(
            {
                "n": n,
                "m": None,
                "t": round(float(r.data.get("start_s", r.t)), 3),
                # When its words were said, as `speech correct`, score and the report say it.
                "when": _said_when(r),
                "heard_t": round(r.t, 3),
                "text": str(r.data.get("text", "")),
                # The phrase that made the act, of the utterance's words (None: an older log).
                "phrase": r.data.get("phrase"),
                "act": str(r.data.get("act", "")),
                "confidence": float(r.data.get("confidence", 0.0)),
                "corrected": None if fixed is None else fixed.act,
                "corrected_by": None if fixed is None else fixed.by,
                "audio": officer_clip(run_dir, records, n) is not None,
                "source": "recogniser",
            }
        )
    # An instructor's live mark (an act the recogniser missed) is scored as heard
    # (scoring/score.py), so it is listed here too, by who marked it.
    for m, r in enumerate(marks(records), 1):
        fixed = correction_of(r, corrections)
        out.append(
            {
                "n": None,
                "m": m,
                "t": round(r.t, 3),
                "when": f"{r.t:.2f} s",
                "heard_t": round(r.t, 3),
                "text": str(r.data.get("text", "")),
                "phrase": None,
                "act": str(r.data.get("act", "")),
                "confidence": None,
                "corrected": None if fixed is None else fixed.act,
                "corrected_by": None if fixed is None else fixed.by,
                "audio": False,
                "source": f"instructor ({r.data.get('by', '?')}, marked live)",
            }
        )
    # An act the recogniser missed, added in review (`speech correct --add`): scored as a
    # live mark is, listed by who added it; changed or taken back with `speech correct --at`.
    for fix in added:
        out.append(
            {
                "n": None,
                "m": None,
                "t": round(float(fix.start_s or 0.0), 3),
                "when": span_text(fix.start_s or 0.0, fix.utterance_t),
                "heard_t": round(fix.utterance_t, 3),
                "text": "(not heard by the recogniser)",
                "phrase": None,
                "act": fix.act,
                "confidence": None,
                "corrected": None,
                "corrected_by": None,
                "audio": False,
                "source": f"instructor (added by {fix.by}, in review)",
            }
        )
    out.sort(key=lambda line: float(line["t"]))
    return out


def _said_when(record: LogRecord) -> str:
    """An utterance's words' span (`1.38-2.13 s`); its start alone in an older log's."""
    start = float(record.data.get("start_s", record.t))
    end = record.data.get("end_s")
    return f"{start:.2f} s" if end is None else span_text(start, float(end))


def state_at(records: list[LogRecord], drill: Any, t: float) -> dict[str, Any]:
    """A saved run at drill time `t`, as a lane's state frame (range.console.protocol), so the
    live view's renderer draws it: positions (the latest logged at or before t), each subject's
    stance and what it holds, and the impacts so far (`impacts_m`, in metres:
    range.review.effects.impact_json; what a round struck after going through included)."""
    positions = next(
        (r for r in reversed(records) if r.kind == "positions" and r.t <= t + 1e-9),
        next(r for r in records if r.kind == "positions"),
    )
    phase: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.t > t + 1e-9:
            break
        if r.kind == "phase_entered":
            phase[r.data["subject"]] = r.data
    impacts = [impact_json(i) for i in impacts_at(records, t)]
    animator = animate_log(records, drill, t)
    subjects = []
    for spec in drill.subjects:
        x_m, y_m = positions.data["subjects"][spec.id]
        seen = phase.get(spec.id, {})
        subjects.append(
            {
                "id": spec.id,
                "role": spec.role,
                "x_ft": x_m / FT_M,
                "y_ft": y_m / FT_M,
                "stance": seen.get("stance", "standing"),
                "held": seen.get("held_object", spec.held_object.value),
                **body_keys(spec),
                **clip_keys(animator.clip_now(spec.id, t)),
                "phase": seen.get("phase", spec.start_phase),
            }
        )
    officer = positions.data["officer"]
    return {
        "lane_ft": [drill.scene.lane_length_ft, drill.scene.lane_width_ft],
        "props": place_props(drill.scene),
        "lighting": drill.scene.lighting,
        "cover": place_cover(drill.scene),
        "officer": {"x_ft": officer[0] / FT_M, "y_ft": officer[1] / FT_M},
        "subjects": subjects,
        "impacts_m": impacts,
        "t_s": t,
    }


def run_state_at(run_dir: Path, t: float) -> dict[str, Any]:
    records, drill = saved_drill_run(run_dir)
    return state_at(records, drill, t)


def scrubber_json(data: dict[str, Any]) -> str:
    """What the debrief's scrubber draws (positions, cover, impacts in feet), as JSON."""
    keys = ("track", "lane_ft", "cover", "impacts", "end_t")
    return json.dumps({k: data[k] for k in keys})


def _frames(records: list[LogRecord], shots: list[LogRecord], drill: Any) -> list[dict[str, Any]]:
    """The officer's and the subject's view at each shot, from the report's renderer."""
    frames = []
    try:
        with Renderer(480, 320) as renderer:
            for n, shot in enumerate(shots, 1):
                mine, theirs = shot_images(records, shot, drill, renderer)
                frames.append(
                    {
                        "n": n,
                        "t": round(shot.t, 2),
                        "action": shot.data["action"],
                        "officer": mine,
                        "subject": theirs,
                    }
                )
    except RenderUnavailableError as exc:
        return [{"error": str(exc)}]
    return frames


def trend(records: Records, badge: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The officer's runs in order (aborted and restarted runs left out), each with the
    running hit rate, false-alarm rate and d' (scoring.detection) over the runs so far, and
    that run's reaction and stop times. Runs a scripted officer played (`simulated`) are a
    series of their own: their decisions never count in the officer's own rates. With it, each
    run left out (`id`, `why` in one line, `unread`: its folder could not be read), so the page
    names every run its figures are not over: one damaged or missing folder never costs the
    rest of the trend, nor changes its figures unsaid."""
    rows = records.drill_run_rows(badge)
    series: dict[bool, list[Score]] = {False: [], True: []}  # the officer's; simulated
    out = []
    left_out: list[dict[str, Any]] = []

    def leave_out(row: dict[str, Any], why: str, unread: bool = False) -> None:
        left_out.append({"id": row["id"], "why": why, "unread": unread})

    for row in rows:
        if drill_run_stopped(row):  # stopped by an instructor: no decision of the officer's
            leave_out(
                row, f"run {row['id']}: {drill_run_stopped(row)}: no decision of the officer's"
            )
            continue
        if drill_run_incomplete(row):
            # Why it decided nothing, as `records history` says it: faulted where its log
            # says it faulted, never "cut short" for a run that ran to its end (rc21 #7c).
            leave_out(row, f"run {row['id']}: INCOMPLETE, {drill_run_no_decision(row)}")
            continue
        if not row["run_dir"]:
            leave_out(row, f"run {row['id']}: no folder was recorded for it", True)
            continue
        run = Path(row["run_dir"])
        try:
            log = read_events(run)
            fixes, _ = checked_fixes(run, log, chained_corrections(records, row))
            score = corrected_score(run, log, None, fixes)
        except FOLDER_ERRORS as exc:
            leave_out(row, folder_problem(row, exc), True)
            continue
        simulated = bool(score.scripted_by)
        score.officer = badge  # one officer across names; scripted runs in their own series
        score.scripted_by = ""
        scores = series[simulated]
        scores.append(score)
        so_far = detection(scores)
        d = so_far[0] if so_far else None
        out.append(
            {
                "id": row["id"],
                "drill": row["drill"],
                "recorded": row["recorded"],
                "simulated": simulated,
                "decision": score.decision,
                "hit_rate": None if d is None else d.hit_rate,
                "false_alarm_rate": None if d is None else d.false_alarm_rate,
                "d_prime": None if d is None else d.d_prime,
                "reaction_time_s": score.reaction_time_s,
                "stop_time_s": score.transition_time_s,
                "rounds_after_threat": score.rounds_after_threat,
                "less_lethal_first": score.less_lethal_first,
            }
        )
    return out, left_out
