"""`openrange speech correct RUN_DIR --at T_S --act ACT --by NAME`: an instructor corrects a
misheard speech act in review. The log is never edited: the correction is kept beside it, in a
file named after the log's SHA-256 (scoring/corrections.py), and `openrange score` and
`openrange report` rescore with it. docs/scoring.md "Instructor corrections"."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from range.cli import util as cliutil
from range.deps import require

if TYPE_CHECKING:
    from drills.log import LogRecord
    from range.records.store import Records
    from scoring.corrections import Correction


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fix = verbs.add_parser(
        "correct",
        help="correct a misheard speech act in a saved run; the run rescores",
        description="Name the utterance by a time inside it (--at, run seconds, as the score "
        "and the report list them; an act the instructor marked live on the console by its "
        "time, where no utterance spans it) and give the act it should have been (--act; "
        "'none': it was not speech). The event log is never edited: the correction is kept in "
        "RUN_DIR/speech-corrections-<log sha256>.json, and `openrange score RUN_DIR` and "
        "`openrange report RUN_DIR` apply it and list it.",
        epilog="example:\n  openrange speech correct runs/20261130-101500-knife-v1 --at 3.4 "
        "--act command.drop_weapon --by 'Sgt Lee' --reason 'said drop it, heard stop'\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fix.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    fix.add_argument(
        "--at", type=cliutil.finite_nonneg_float, required=True, metavar="T_S", help="run time (s)"
    )
    fix.add_argument("--act", required=True, help="the right act (command.stop, ...) or none")
    fix.add_argument(
        "--by", type=cliutil.person, required=True, metavar="NAME", help="who corrects it"
    )
    fix.add_argument(
        "--reason", type=cliutil.free_text, default="", help="why (kept with the correction)"
    )
    fix.add_argument(
        "--was", default=None, metavar="ACT", help="the act it was heard as, when several match"
    )
    fix.add_argument(
        "--db",
        default=None,
        type=cliutil.database_url,
        metavar="URL",
        help="the records the run was kept in (default: $OPENRANGE_DATABASE_URL or the"
        " user's): its record is rescored too, by a chained amendment",
    )
    fix.add_argument(
        "--json",
        action="store_true",
        help="print the correction and the records rescored as one JSON object",
    )
    fix.set_defaults(handler=_correct)


def run_corrections(run_dir: Path) -> list[Correction]:
    """The corrections kept for the run's log as it is now ([] when none)."""
    from range.runs.runlog import EVENTS
    from scoring.corrections import log_sha256, read_corrections

    events = run_dir / EVENTS
    return read_corrections(run_dir, log_sha256(events)) if events.is_file() else []


def edited_log(run_dir: Path, records: Records | None) -> str | None:
    """Why the run's log is not the one written, in one line naming it, or None: it no longer
    matches the sha256 its result.json kept when the run ended, or that a drill run or a
    qualification record in `records` kept when it was recorded (`records verify` says the
    same; for a resumed attempt, every part's log). A log without either hash (an older run,
    a run cut short) is not judged. A drill run and an attempt are judged alike."""
    from range.records.store import RecordsError, attempt_log_checks, file_sha256, log_check
    from range.runs.runlog import EVENTS, LOG_SHA256, RESULT

    events = run_dir / EVENTS
    try:
        kept = json.loads((run_dir / RESULT).read_text(encoding="utf-8")).get(LOG_SHA256)
    except (OSError, ValueError, AttributeError):
        kept = None
    if isinstance(kept, str) and events.is_file():
        now = file_sha256(events)
        if now != kept:
            return (
                f"{events}: no longer matches the sha256 kept in {RESULT} when the run ended"
                f" ({kept[:12]}, now {now[:12]}): it was edited"
            )
    if records is not None:
        try:
            for number in records.drill_runs_at(run_dir):
                ok, why = log_check(records.drill_run(number))
                if ok is False:
                    return f"{events}: drill run {number} in the records: {why}"
            for number in records.qualifications_at(run_dir):
                for ok, why in attempt_log_checks(records.qualification(number)):
                    if ok is False:
                        return f"{events}: qualification record {number} in the records: {why}"
        except RecordsError as exc:
            return f"{events}: {exc}"
    return None


def _line_of(text: str, index: int) -> int | None:
    """The line (1-based) of the `index`-th correction's `utterance_t` in a corrections file."""
    seen = -1
    for number, line in enumerate(text.splitlines(), start=1):
        if '"utterance_t"' in line:
            seen += 1
            if seen == index:
                return number
    return None


def _describe(c: Correction) -> str:
    return f"{c.utterance_t:g} s {c.text!r} {c.was} -> {c.act} by {c.by}"


def correction_notes(run_dir: Path, records: list[LogRecord]) -> list[str]:
    """One line for each correction kept in `run_dir` that is not applied to its log as it is
    now, naming the file, the line and the utterance's t: in the log's own file, one that names
    no utterance of the log, or one whose `was` is not what was heard, or that changes nothing
    (scoring.corrections.unapplied); in a file of an earlier log (the log was edited since, so
    its SHA-256 changed), every correction not made again for the log as it is now."""
    from range.runs.runlog import EVENTS
    from scoring.corrections import (
        Corrections,
        corrections_path,
        log_sha256,
        read_corrections,
        unapplied,
    )

    events = run_dir / EVENTS
    if not events.is_file():
        return []
    sha = log_sha256(events)
    current = corrections_path(run_dir, sha)
    kept = read_corrections(run_dir, sha)
    notes = []
    if kept:
        text = current.read_text(encoding="utf-8")
        for index, why in unapplied(records, kept):
            notes.append(
                f"{current}:{_line_of(text, index)}: corrections[{index}].utterance_t:"
                f" {_describe(kept[index])}: not applied: {why}"
            )
    redone = {(c.utterance_t, c.was, c.marked, c.n) for c in kept}
    for path in sorted(run_dir.glob("speech-corrections-*.json")):
        if path == current:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            old = Corrections.model_validate_json(text)
        except ValueError:
            notes.append(f"{path}: not a corrections file; not applied")
            continue
        for index, c in enumerate(old.corrections):
            if (c.utterance_t, c.was, c.marked, c.n) in redone:
                continue
            notes.append(
                f"{path}:{_line_of(text, index)}: corrections[{index}].utterance_t:"
                f" {_describe(c)}: not applied: it corrects an earlier {EVENTS} (sha256"
                f" {old.log_sha256[:16]}; now {sha[:16]}): the log was changed since; correct"
                " it again with openrange speech correct"
            )
    return notes


def cli_flag(name: str) -> str:
    """A correction's field as the command line names it (`--act`); the console's debrief
    names its form's fields instead (range/console/app.py)."""
    return f"--{name}"


def _check_act(run_dir: Path, act: str, field: Callable[[str], str] = cli_flag) -> None:
    """Refuse an act the run's phrase book does not have (a typo would be scored as a new
    act): the built-in book, with the agency's the run kept (`phrasebook.toml`) merged in."""
    import re

    from drills.speech import ACT, CATEGORIES, PHRASES_FILE, phrasebook
    from scoring.corrections import CorrectionError

    if not re.match(ACT, act):
        return  # not the shape of an act at all: said when the correction is made
    kept = run_dir / PHRASES_FILE
    known = phrasebook(kept if kept.is_file() else None).act_names()
    if act not in known:  # a bare category ("command") is not an act unless the book has it
        what = "a category, not an act" if act in CATEGORIES else "not an act"
        raise CorrectionError(
            f"{field('act')} {act}: {what} of this run's phrase book; its acts: {', '.join(known)}"
            " (or none: it was not speech)"
        )


def run_acts(run_dir: Path | None) -> list[str]:
    """The acts an utterance of this run may be corrected to: its phrase book's acts (the
    agency's kept with the run merged in; the built-in book's for None), the bare categories,
    and `none` (not speech)."""
    from drills.speech import CATEGORIES, PHRASES_FILE, phrasebook
    from scoring.corrections import NONE

    kept = None if run_dir is None else run_dir / PHRASES_FILE
    known = phrasebook(kept if kept is not None and kept.is_file() else None).act_names()
    return [*known, *(c for c in CATEGORIES if c not in known), NONE]


# The longest reason for a correction (characters): as a flag's note on a live lane
# (range/console/protocol.py MAX_NOTE_CHARS), a sentence or two, not a document.
MAX_REASON_CHARS = 500


def correct_speech(
    run_dir: Path,
    at_s: float,
    act: str,
    by: str,
    reason: str = "",
    was: str | None = None,
    field: Callable[[str], str] = cli_flag,
    marked: bool | None = None,
) -> tuple[Correction, Path, LogRecord]:
    """Correct the utterance at `at_s` (heard as `was`, when several are) to `act`: the
    correction is appended to the run's corrections file (the log is never edited). The
    utterance is an `officer_spoke` record or an instructor's live mark (`marked`: True, marks
    only; False, utterances only; None, either). Striking
    an utterance as `none` (not speech) needs a reason. Raises CorrectionError in one line,
    naming the field as `field(name)` does ("act", "reason"): `openrange speech correct`'s
    flags, the console's debrief form's fields; both call it."""
    from range.runs.runlog import EVENTS, read_events
    from scoring.corrections import (
        MATCH_SLACK_S,
        NONE,
        Correction,
        CorrectionError,
        act_in_force,
        find_utterance,
        log_sha256,
        marks,
        not_spoken,
        read_corrections,
        span,
        utterances,
        write_corrections,
    )

    if len(reason) > MAX_REASON_CHARS:
        raise CorrectionError(
            f"{field('reason')}: a reason of {len(reason)} characters (at most {MAX_REASON_CHARS})"
        )
    records = read_events(run_dir)
    sha = log_sha256(run_dir / EVENTS)
    kept = read_corrections(run_dir, sha)
    if act != NONE:
        _check_act(run_dir, act, field)
    elif not reason.strip():
        raise CorrectionError(
            f"{field('reason')}: striking an utterance as none (not speech) needs a reason"
        )
    heard = find_utterance(records, at_s, was, marked)
    # Against the act in force after the corrections made so far: an act corrected wrongly
    # can be put back to what the recogniser heard (superseding the earlier corrections).
    in_force = act_in_force(heard, kept)
    if act == in_force:
        # Several acts alike at `at_s` (the same act logged again for one utterance, nu17c #1):
        # the same --at names the next of them not yet corrected to `act`, so each is named.
        alike = [
            r
            for r in (marks(records) if not_spoken(heard) else utterances(records))
            if r is not heard
            and r.data.get("act") == heard.data["act"]
            and span(r)[0] - MATCH_SLACK_S <= at_s <= max(span(r)[1], r.t) + MATCH_SLACK_S
            and act_in_force(r, kept) != act
        ]
        if alike:
            heard = min(alike, key=lambda r: (abs(sum(span(r)) / 2 - at_s), r.t))
            in_force = act_in_force(heard, kept)
    if act == in_force:
        start, end = span(heard)
        when = (
            f"mark at {start:.2f} s"
            if not_spoken(heard)
            else f"utterance at {start:.2f}-{end:.2f} s"
        )
        how = "heard as" if in_force == heard.data["act"] else "corrected to"
        raise CorrectionError(
            f"{field('act')} {act}: the {when} was {how} {act} already; nothing to correct"
        )
    try:
        correction = Correction(
            at_s=at_s,
            utterance_t=heard.t,
            text=str(heard.data.get("text") or ""),
            was=str(heard.data["act"]),
            act=act,
            by=by,
            reason=reason,
            made=datetime.now(UTC).isoformat(timespec="seconds"),
            marked=not_spoken(heard),
            n=heard.data.get("n") if isinstance(heard.data.get("n"), int) else None,
        )
    except ValueError as exc:  # pydantic's: the act's shape
        raise CorrectionError(f"{field('act')}: {act!r} is not a speech act or 'none'") from exc
    path = write_corrections(run_dir, sha, [*kept, correction])
    return correction, path, heard


def amend_records(
    records: Records, run_dir: Path, correction: Correction
) -> list[tuple[int, float, float]]:
    """Rescore every drill run the records keep with this run folder, with the corrections
    kept for its log: a chained amendment each (`Records.amend_drill_run`), never an edit of
    the run's record. (record, score before, score now) for each."""
    from range.runs.runlog import read_events
    from scoring.policy import load_policy
    from scoring.score import score_run

    numbers = records.drill_runs_at(run_dir)
    if not numbers:
        return []
    score = score_run(read_events(run_dir), load_policy(None), run_corrections(run_dir))
    why = {"correction": correction.model_dump(mode="json")}
    amended = []
    for number in numbers:
        before = float(records.drill_run(number)["score"])
        records.amend_drill_run(number, correction.by, score.as_json(), why)
        amended.append((number, before, float(score.score)))
    return amended


def _correct(args: argparse.Namespace) -> int:
    require("pydantic")
    from range.records.store import Records, RecordsError
    from scoring.corrections import CorrectionError, correction_of, span

    # The records first (an explicit --db that cannot be opened is refused before anything
    # is written); the user's default store, when there is none, keeps no record to amend.
    records = None
    try:
        records = Records.open(args.db, create=False)
    except RecordsError:
        if args.db is not None:
            raise
    try:
        # A log edited since it was written is corrected no more (and no record is amended
        # from it): the correction would rescore words the officer may never have said.
        edited = edited_log(args.run_dir, records)
        if edited is not None:
            raise CorrectionError(f"{edited}; not corrected (openrange records verify)")
        before = run_corrections(args.run_dir)
        correction, path, heard = correct_speech(
            args.run_dir, args.at, args.act, args.by, args.reason, args.was
        )
        amended = [] if records is None else amend_records(records, args.run_dir, correction)
    finally:
        if records is not None:
            records.close()
    start, end = span(heard)
    # The act in force before this correction: an earlier correction's, or the act heard.
    prior = correction_of(heard, before)
    was = correction.was if prior is None else prior.act
    undo = prior is not None and correction.act == correction.was
    phrase = str(heard.data.get("phrase") or "")
    if args.json:
        out = {
            "run_dir": str(args.run_dir),
            "at_s": correction.at_s,
            "start_s": round(start, 4),
            "end_s": round(end, 4),
            "marked": correction.marked,
            "text": correction.text,
            "phrase": phrase or None,
            "heard": correction.was,
            "before": was,
            "before_by": None if prior is None else prior.by,
            "act": correction.act,
            "undo": undo,
            "by": correction.by,
            "reason": correction.reason,
            "kept_in": str(path),
            "rescored": [
                {"drill_run": number, "score_before": b, "score": now} for number, b, now in amended
            ],
        }
        print(json.dumps(out, indent=2))
        return 0
    when = f"the mark at {start:.2f} s" if correction.marked else f"{start:.2f}-{end:.2f} s"
    words = repr(correction.text)
    if phrase and phrase != correction.text:
        words = f"{phrase!r} (in {correction.text!r})"
    if prior is None:
        change = f"{correction.was} -> {correction.act}"
    elif undo:
        change = f"{was} ({prior.by}'s correction) -> put back to the act heard ({correction.was})"
    else:
        change = f"{was} ({prior.by}'s correction; heard as {correction.was}) -> {correction.act}"
    print(f"corrected {when} {words}: {change} by {correction.by}; kept in {path}")
    for number, b, now in amended:
        print(
            f"drill run {number} in the records rescored: {b:g} -> {now:g}"
            f" (corrected by {correction.by}; chained amendment)"
        )
    return 0
