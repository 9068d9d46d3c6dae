"""`openrange speech correct RUN_DIR --at T_S --act ACT --by NAME`: an instructor corrects a
misheard speech act in review. The log is never edited: the correction is kept beside it, in a
file named after the log's SHA-256 (scoring/corrections.py), and `openrange score` and
`openrange report` rescore with it. docs/scoring.md "Instructor corrections"."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from range.cli import util as cliutil
from range.deps import require

if TYPE_CHECKING:
    from drills.log import LogRecord
    from drills.speech import PhraseBook
    from range.records.store import Records
    from scoring.corrections import Correction
    from scoring.policy import Policy
    from scoring.score import Score

    # The corrections kept for a run's log, and the acts of its phrase book they are checked
    # against (None where there are none: nothing to check).
    Fixes = tuple[list[Correction], list[str] | None]


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fix = verbs.add_parser(
        "correct",
        help="correct a misheard speech act in a saved run; the run rescores",
        description="Name the utterance by a time inside it (--at, run seconds, as the score "
        "and the report list them; an act the instructor marked live on the console by its "
        "time, where no utterance spans it) and give the act it should have been (--act; "
        "'none': it was not speech). Where the recogniser heard nothing, --add --from S --to E "
        "credits the act the officer's words there were (an act added in review, scored as a "
        "live mark at E). The event log is never edited: the correction is kept in "
        "RUN_DIR/speech-corrections-<log sha256>.json, and `openrange score RUN_DIR` and "
        "`openrange report RUN_DIR` apply it and list it.",
        epilog="examples:\n  openrange speech correct runs/20261130-101500-knife-v1 --at 3.4 "
        "--act command.drop_weapon --by 'Sgt Lee' --reason 'said drop it, heard stop'\n"
        "  openrange speech correct runs/20261130-101500-knife-v1 --add --from 1.0 --to 2.35 "
        "--act command.drop_weapon --by 'Sgt Lee' --reason 'not heard; audible in sound.wav'\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
    )
    fix.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    fix.add_argument(
        "--at",
        type=cliutil.finite_nonneg_float,
        default=None,
        metavar="T_S",
        help="run time (s) of the act to correct (or of an act added with --add)",
    )
    fix.add_argument(
        "--add",
        action="store_true",
        help="add an act the recogniser missed (it heard nothing there), over the officer's"
        " words from --from to --to; take it back with --at T_S --act none",
    )
    fix.add_argument(
        "--from",
        dest="from_s",
        type=cliutil.finite_nonneg_float,
        default=None,
        metavar="S",
        help="with --add: when the words began (run s)",
    )
    fix.add_argument(
        "--to",
        dest="to_s",
        type=cliutil.finite_nonneg_float,
        default=None,
        metavar="E",
        help="with --add: when the words ended (run s); the act counts from then",
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


def phrasebook_problem(run_dir: Path, records: list[LogRecord]) -> str | None:
    """Why the agency phrase book kept in the run folder (`phrasebook.toml`) is not the one the
    run was heard with, in one line naming it, or None: it no longer matches the sha256 its
    `run_started` keeps, it is missing though `run_started` names it, or it is there though
    the run was heard with the built-in book alone (nu17c #6). The book decides which acts an
    utterance may be corrected to, as the log decides what was heard."""
    from drills.log import run_started
    from drills.speech import PHRASES_FILE
    from range.records.store import sha256_mismatch

    started = run_started(records) or {}
    if not started:
        return None  # not a drill run's log (an attempt's): no phrase book is named
    book = run_dir / PHRASES_FILE
    kept = started.get("phrases_sha256")
    if not isinstance(kept, str) or not kept:
        if book.exists():
            return (
                f"{book}: not this run's: its run_started names no phrase book (it was heard"
                " with the built-in one alone)"
            )
        return None
    if not book.is_file():
        return f"{book}: missing: the run was heard with it (run_started's sha256 {kept[:12]})"
    why = sha256_mismatch(book, kept, "in run_started", "edited")
    return None if why is None else f"{book}: {why}"


class VoiceProblem(str):
    """`voice_problem`'s line, with its facts: the voice file (`path`) and whether it is
    `missing` (else changed), so the review marks its clips without reading the words."""

    path: Path
    missing: bool

    def __new__(cls, line: str, path: Path, missing: bool) -> VoiceProblem:
        problem = super().__new__(cls, line)
        problem.path, problem.missing = path, missing
        return problem


def voice_problem(run_dir: Path, records: list[LogRecord]) -> VoiceProblem | None:
    """Why the officer's voice kept with the run (`officer-voice.wav`, named in `run_started`
    or, for a live run, `result.json`) is not the one the run heard, in one line naming it, or
    None: it is missing, or no longer matches the `voice_sha256` kept (nu17c #9). The review's
    audio links play it, so a reviewer is told before listening to nothing or to another
    recording."""
    from drills.log import run_started
    from range.records.store import sha256_mismatch
    from range.runs.runlog import RESULT

    started = run_started(records) or {}
    try:
        result = json.loads((run_dir / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result = {}
    result = result if isinstance(result, dict) else {}
    name = started.get("voice_file") or result.get("voice_file")
    if not isinstance(name, str) or not name:
        return None
    voice = run_dir / name
    kept, where = started.get("voice_sha256"), "run_started"
    if not isinstance(kept, str) or not kept:
        kept, where = result.get("voice_sha256"), RESULT
    if not voice.is_file():
        return VoiceProblem(
            f"{voice}: missing: the officer's voice the run heard; its audio cannot be played",
            voice,
            missing=True,
        )
    if isinstance(kept, str) and kept:
        why = sha256_mismatch(voice, kept, f"in {where}", "replaced")
        if why is not None:
            return VoiceProblem(
                f"{voice}: {why}; its audio is not what the run heard", voice, missing=False
            )
    return None


def run_act_names(run_dir: Path | None, records: list[LogRecord] | None = None) -> list[str]:
    """The acts of the run's phrase book: the built-in book's, with the agency's the run kept
    (`phrasebook.toml`) merged in (None: the built-in book's alone). A correction to any other
    act is never applied.

    Given the run's log `records`, a kept book that is not the one the run was heard with
    (`phrasebook_problem`: edited, missing, or added since) is not trusted (rc17 #5): the
    acts are the built-in book's and those the log heard (the run's book had those), so a
    correction to an act only an edited book has is not applied."""
    from drills.speech import PHRASES_FILE, phrasebook
    from scoring.corrections import utterances

    if run_dir is not None and records is not None and phrasebook_problem(run_dir, records):
        builtin = phrasebook(None).act_names()
        heard = [str(r.data["act"]) for r in utterances(records)]
        return list(dict.fromkeys([*builtin, *heard]))
    kept = None if run_dir is None else run_dir / PHRASES_FILE
    return phrasebook(kept if kept is not None and kept.is_file() else None).act_names()


def run_corrections(run_dir: Path) -> list[Correction]:
    """The corrections kept for the run's log as it is now ([] when none)."""
    from range.runs.runlog import EVENTS
    from scoring.corrections import log_sha256, read_corrections

    events = run_dir / EVENTS
    return read_corrections(run_dir, log_sha256(events)) if events.is_file() else []


def run_fixes(run_dir: Path, records: list[LogRecord] | None = None) -> Fixes:
    """The corrections kept for the run's log as it is now and, where there are any, the acts
    of its phrase book (`run_act_names`, given the log's `records`): what `corrected_score` and
    `correction_notes` take, read once."""
    fixes = run_corrections(run_dir)
    return fixes, run_act_names(run_dir, records) if fixes else None


class RecordedCorrections(NamedTuple):
    """The corrections the records chained for a run folder's drill run (`amend_records`: an
    amendment each, `speech correct`'s or the console's), oldest first, with who made each and
    when its amendment was recorded (`made`, one (by, recorded) each)."""

    run: int
    corrections: list[Correction]
    made: list[tuple[str, str]]


def recorded_corrections(run_dir: Path, store: Records | None) -> RecordedCorrections | None:
    """The corrections the records `store` chained for the drill run kept with `run_dir` (the
    first whose log is the one recorded), or None where there is nothing to check a
    corrections file against: no store, no drill run kept there, or none `chained_corrections`
    finds for it."""
    from range.records.store import RecordsError, log_check

    if store is None:
        return None
    try:
        for number in store.drill_runs_at(run_dir):
            row = store.drill_run_row(number)
            if row is None or log_check(row)[0] is False:
                continue
            return _amended_corrections(store, number)
    except RecordsError:
        return None
    return None


def chained_corrections(store: Records, row: dict[str, Any]) -> RecordedCorrections | None:
    """The corrections the records `store` chained for the drill run `row` (its columns as
    recorded: `id`, `run_dir`, `result`), or None where there is nothing to check a
    corrections file against: a run whose log is no longer the one recorded (its corrections
    are of that log: `edited_log` says so), or none `_amended_corrections` reads. Whether the
    log is the one recorded: the row's `log_ok` where it has one (`log_check(row)[0]`, as the
    console's `drill_run` rows do: the log hashed once); else it is checked here."""
    from range.records.store import log_check

    ok = row["log_ok"] if "log_ok" in row else log_check(row)[0]
    if ok is False:
        return None
    return _amended_corrections(store, int(row["id"]))


def _amended_corrections(store: Records, number: int) -> RecordedCorrections | None:
    """The corrections the amendments of drill run `number` chained, or None for an older
    store (before schema 6, no amendments) or an amendment that cannot be read (edited:
    `records verify` names it)."""
    from range.records.store import RecordsError, stored_json
    from scoring.corrections import Correction

    try:
        amendments = store.drill_run_amendments(number)
        if amendments is None:
            return None
        kept, made = [], []
        for amendment in amendments:
            detail = stored_json(amendment, "detail", "drill run amendment")
            fix = detail.get("correction") if isinstance(detail, dict) else None
            if not isinstance(fix, dict):
                return None
            kept.append(Correction.model_validate(fix))
            made.append((str(amendment["by_whom"]), str(amendment["recorded"])))
    except (RecordsError, ValueError):
        return None
    return RecordedCorrections(number, kept, made)


# A correction's fields in the order a difference is said: what it names, then what it says.
_FIELDS = (
    *("utterance_t", "n", "marked", "added", "start_s", "end_s", "was", "text", "act"),
    *("by", "reason", "made", "at_s"),
)


def checked_fixes(
    run_dir: Path, records: list[LogRecord], recorded: RecordedCorrections | None
) -> tuple[Fixes, list[str]]:
    """`run_fixes`, checked against the corrections the records chained for the run
    (`recorded_corrections`; None: not kept there, nothing to check). Where the corrections
    file differs from them (a correction's act changed by hand, one added or deleted), the
    records' are the trusted ones: they are returned, and one line each says what differs,
    naming the file, the line and the field, after one saying the records' are applied."""
    from physics.datafiles import json_key_lines, locate
    from range.runs.runlog import EVENTS
    from scoring.corrections import corrections_path, heard_acts, log_sha256

    fixes = run_fixes(run_dir, records)
    if recorded is None:
        return fixes, _unrecorded_note(run_dir, records, fixes[0])
    kept, trusted = fixes[0], recorded.corrections
    if [c.model_dump() for c in kept] == [c.model_dump() for c in trusted]:
        return fixes, []
    path = corrections_path(run_dir, log_sha256(run_dir / EVENTS))
    lines = json_key_lines(path.read_text(encoding="utf-8")) if path.is_file() else {}
    run = f"drill run {recorded.run}"
    heard = heard_acts(records)
    notes = [
        f"warning: {path}: not the speech corrections {run} in the records chained (edited"
        f" outside OpenRange?): the records' are applied ({len(trusted)}), not the file's"
        f" ({len(kept)}); openrange records show --drill-run {recorded.run} lists them"
    ]
    for index in range(max(len(kept), len(trusted))):
        if index >= len(trusted):
            line = locate(lines, ["corrections", index])
            notes.append(
                f"{path}:{line}: corrections[{index}]: {_describe(kept[index], heard)}: not in"
                f" the records ({run} chained {len(trusted)}): not applied"
            )
            continue
        by, when = recorded.made[index]
        chained = f"{run}'s correction by {by}, chained {when}"
        if index >= len(kept):
            notes.append(
                f"{path}: corrections[{index}] missing: the records keep"
                f" {_describe(trusted[index], heard)} ({chained}): applied"
            )
            continue
        mine, theirs = kept[index].model_dump(), trusted[index].model_dump()
        for field in _FIELDS:
            if mine[field] != theirs[field]:
                line = locate(lines, ["corrections", index, field])
                notes.append(
                    f"{path}:{line}: corrections[{index}].{field}: {mine[field]!r} in the file,"
                    f" {theirs[field]!r} in the records ({chained}): the records' applied"
                )
    return (trusted, run_act_names(run_dir, records) if trusted else None), notes


def _unrecorded_note(run_dir: Path, records: list[LogRecord], kept: list[Correction]) -> list[str]:
    """The line that says a run played without a badge has corrections nothing checks (rc19
    #7): no records hold the run, so a corrections file edited by hand is applied as it is.
    [] for a run with none, or one played for the records (its checks are the records')."""
    from drills.log import run_started
    from range.runs.runlog import EVENTS
    from scoring.corrections import corrections_path, log_sha256

    started = run_started(records)
    if not kept or started is None or started.get("badge"):
        return []
    path = corrections_path(run_dir, log_sha256(run_dir / EVENTS))
    return [
        f"warning: {path}: not checked against the records: the run was played without a badge,"
        f" so no records hold it; its {len(kept)} correction(s) are applied as the file has them"
    ]


def checked_notes(
    run_dir: Path, records: list[LogRecord], recorded: RecordedCorrections | None
) -> tuple[Fixes, list[str]]:
    """`checked_fixes`, with `correction_notes` for the fixes it returns after its own lines:
    every line `score`, the report and the debrief say of the run's corrections."""
    fixes, differ = checked_fixes(run_dir, records, recorded)
    return fixes, [*differ, *correction_notes(run_dir, records, *fixes)]


def corrected_score(
    run_dir: Path,
    records: list[LogRecord],
    policy: Policy | None = None,
    fixes: Fixes | None = None,
) -> Score:
    """The score of the run's log `records` with the instructor's corrections kept for it
    applied: the one call behind score, report, the records' amendment and the console, so
    none forgets the phrase book's acts a hand-edited typo is checked against (nu17c #5).
    `policy`: None for the policy the run was judged by (its kept `policy.toml`, named in the
    score as the run named it: nu24 #2). `fixes`: `run_fixes(run_dir)` where the caller has
    read them (None: read here). Raises ValueError for a kept policy that was changed."""

    from range.runs.policyfile import run_policy
    from scoring.score import score_run

    corrections, acts = run_fixes(run_dir, records) if fixes is None else fixes
    book = run_book(run_dir, records)
    if policy is not None:
        return score_run(records, policy, corrections, acts, book)
    own, label = run_policy(run_dir, records)
    return score_run(records, own, corrections, acts, book, label)


def run_book(run_dir: Path, records: list[LogRecord]) -> PhraseBook | None:
    """The phrase book the run was heard with, for an older log whose scripted
    `verbal_command` lines do not carry their acts (nu24 #3): the agency book kept in the run
    folder (`phrasebook.toml`) merged over the built-in one, when `phrasebook_problem` finds
    it the run's own; None (the built-in book) when the log has no such line, the run kept
    no book, or the kept one is not the run's."""
    from drills.speech import PHRASES_FILE, phrasebook
    from physics.datafiles import DataFileError

    if not any(
        r.kind == "officer_action"
        and r.data.get("action") == "verbal_command"
        and r.data.get("acts") is None
        for r in records
    ):
        return None
    kept = run_dir / PHRASES_FILE
    if not kept.is_file() or phrasebook_problem(run_dir, records) is not None:
        return None
    try:
        return phrasebook(kept)
    except (OSError, DataFileError):
        return None


def edited_log(run_dir: Path, records: Records | None) -> str | None:
    """Why the run's log is not the one written, in one line naming it, or None: it no longer
    matches the sha256 its result.json kept when the run ended, or that a drill run or a
    qualification record in `records` kept when it was recorded (`records verify` says the
    same; for a resumed attempt, every part's log). A log without either hash (an older run,
    a run cut short) is not judged. A drill run and an attempt are judged alike."""
    from range.records.store import RecordsError, attempt_log_checks, log_check, sha256_mismatch
    from range.runs.runlog import EVENTS, LOG_SHA256, RESULT

    events = run_dir / EVENTS
    try:
        kept = json.loads((run_dir / RESULT).read_text(encoding="utf-8")).get(LOG_SHA256)
    except (OSError, ValueError, AttributeError):
        kept = None
    if isinstance(kept, str) and events.is_file():
        why = sha256_mismatch(events, kept, f"in {RESULT} when the run ended", "edited")
        if why is not None:
            return f"{events}: {why}"
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


def _describe(c: Correction, heard: Sequence[LogRecord] = ()) -> str:
    """A correction in one line: when the act was said (its words' span where the log names
    the act, a mark's moment, else its t, each to 0.01 s, as every listing gives it: nu21 #7),
    the act's own words (with the utterance beside them, where the log names the act and they
    differ, as score quotes them), the change, who. `heard`: the log's utterances and live
    marks (`scoring.corrections.heard_as`)."""
    from range.cli.summary import correction_change, correction_when, correction_words
    from scoring.corrections import heard_as

    found = heard_as(c, heard)
    words = correction_words({"text": c.text, "phrase": found.get("phrase"), "added": c.added})
    when = correction_when(c.model_dump() | found)
    if c.added:
        return f"{when} {words} {correction_change(c.model_dump())} by {c.by}"
    return f"{when} {words} {c.was} -> {c.act} by {c.by}"


def correction_notes(
    run_dir: Path,
    records: list[LogRecord],
    kept: list[Correction] | None = None,
    acts: list[str] | None = None,
) -> list[str]:
    """One line for each correction kept in `run_dir` that is not applied to its log as it is
    now, naming the file, the line and the utterance's t: in the log's own file, one that names
    no utterance of the log, or one whose `was` is not what was heard, or that changes nothing
    (scoring.corrections.unapplied); in a file of an earlier log (the log was edited since, so
    its SHA-256 changed), every correction not made again for the log as it is now. `kept`,
    `acts`: `run_fixes(run_dir)` where the caller has read them (None: read here)."""
    from physics.datafiles import json_key_lines, locate
    from range.runs.runlog import EVENTS
    from scoring.corrections import (
        NO_SUCH_ACT,
        SUPERSEDED,
        Corrections,
        corrections_path,
        heard_acts,
        log_sha256,
        read_corrections,
        unapplied,
    )

    events = run_dir / EVENTS
    if not events.is_file():
        return []
    sha = log_sha256(events)
    current = corrections_path(run_dir, sha)
    if kept is None:
        kept = read_corrections(run_dir, sha)
    notes = []
    if kept:
        book = phrasebook_problem(run_dir, records)
        if book is not None:  # the book kept is not the run's: not trusted for its acts
            notes.append(
                f"{book}; its corrections are checked against the built-in phrase book and the"
                " acts the log heard"
            )
        # The records' corrections, where the file was deleted (checked_fixes says so): no
        # line to name in it (rc19 #4).
        lines = json_key_lines(current.read_text(encoding="utf-8")) if current.is_file() else {}
        known = run_act_names(run_dir, records) if acts is None else acts
        heard = heard_acts(records)
        for index, why in unapplied(records, kept, known):
            if why.startswith(SUPERSEDED):
                continue  # replaced by a later correction: history, listed by score (rc17 #6)
            # A typo'd act is what is wrong: its own line; else the utterance it names.
            field = "act" if why.startswith(NO_SUCH_ACT) else "utterance_t"
            line = locate(lines, ["corrections", index, field])
            where = f"{current}{f':{line}' if line else ''}: corrections[{index}].{field}"
            notes.append(f"{where}: {_describe(kept[index], heard)}: not applied: {why}")
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
        lines = json_key_lines(text)
        for index, c in enumerate(old.corrections):
            if (c.utterance_t, c.was, c.marked, c.n) in redone:
                continue
            line = locate(lines, ["corrections", index, "utterance_t"])
            notes.append(
                f"{path}:{line}: corrections[{index}].utterance_t:"
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

    from drills.speech import ACT, CATEGORIES
    from scoring.corrections import CorrectionError

    if not re.match(ACT, act):
        return  # not the shape of an act at all: said when the correction is made
    known = run_act_names(run_dir)
    if act not in known:  # a bare category ("command") is not an act unless the book has it
        what = "a category, not an act" if act in CATEGORIES else "not an act"
        raise CorrectionError(
            f"{field('act')} {act}: {what} of this run's phrase book; its acts: {', '.join(known)}"
            " (or none: it was not speech)"
        )


def run_acts(run_dir: Path | None) -> list[str]:
    """The acts an utterance of this run may be corrected to, exactly those `_check_act`
    takes: its phrase book's acts (the agency's kept with the run merged in; the built-in
    book's for None) and `none` (not speech). A bare category ("command") is no act of a
    book, so it is not offered (nu17c #8: the console offered the categories, each refused)."""
    from scoring.corrections import NONE

    return [*run_act_names(run_dir), NONE]


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
    then: Callable[[Correction, list[Correction]], object] | None = None,
    row: int | None = None,
) -> tuple[Correction, Path, LogRecord]:
    """Correct the utterance at `at_s` (heard as `was`, when several are) to `act`: the
    correction is appended to the run's corrections file (the log is never edited). The
    utterance is an `officer_spoke` record or an instructor's live mark (`marked`: True, marks
    only; False, utterances only; None, either). Striking
    an utterance as `none` (not speech) needs a reason. Raises CorrectionError in one line,
    naming the field as `field(name)` does ("act", "reason"): `openrange speech correct`'s
    flags, the console's debrief form's fields; both call it.

    The corrections file is locked from the read of what it keeps to the write (and through
    `then(correction, kept_before)`: the records' amendment, computed from the corrections
    kept, with the corrections kept before this one), so corrections made at once are each
    kept and each amendment counts every correction made before it (nu17c #2).

    `row`: the heard act is named exactly, as the `row`-th (from 1) utterance of the log (or
    mark, when `marked`), not by a time: the console's debrief rows do so, since the acts of
    one breath share their decision time (rc17 #1); `at_s` is then only kept with it."""
    from range.runs.runlog import EVENTS, read_events
    from scoring.corrections import CorrectionError, corrections_lock, log_sha256

    if len(reason) > MAX_REASON_CHARS:
        raise CorrectionError(
            f"{field('reason')}: a reason of {len(reason)} characters (at most {MAX_REASON_CHARS})"
        )
    records = read_events(run_dir)
    book = phrasebook_problem(run_dir, records)
    if book is not None:  # it decides which acts are valid: refused as an edited log is
        raise CorrectionError(f"{book}; not corrected")
    sha = log_sha256(run_dir / EVENTS)
    with corrections_lock(run_dir):
        correction, path, heard = _correct_locked(
            run_dir, records, sha, at_s, act, by, reason, was, field, marked, then, row
        )
    return correction, path, heard


def _correct_locked(
    run_dir: Path,
    records: list[LogRecord],
    sha: str,
    at_s: float,
    act: str,
    by: str,
    reason: str,
    was: str | None,
    field: Callable[[str], str],
    marked: bool | None,
    then: Callable[[Correction, list[Correction]], object] | None,
    row: int | None = None,
) -> tuple[Correction, Path, LogRecord]:
    """correct_speech's work, with the corrections file locked."""
    from drills.speech import span_text
    from scoring.corrections import (
        MATCH_SLACK_S,
        NONE,
        Correction,
        CorrectionError,
        act_in_force,
        find_utterance,
        marks,
        not_spoken,
        read_corrections,
        span,
        utterances,
        write_corrections,
    )

    kept = read_corrections(run_dir, sha)
    named = row is None and marked is not True and was in (None, NONE)
    added = _added_at(kept, at_s) if named else None
    if added is not None:  # an act the instructor added: changed or taken back (act none)
        return _correct_added(run_dir, sha, kept, added, at_s, act, by, reason, field, then)
    if act != NONE:
        _check_act(run_dir, act, field)
    elif not reason.strip():
        raise CorrectionError(
            f"{field('reason')}: striking an utterance as none (not speech) needs a reason"
        )
    if row is None:
        heard = find_utterance(records, at_s, was, marked)
    else:
        group = marks(records) if marked else utterances(records)
        if not 1 <= row <= len(group):
            what = "mark" if marked else "utterance"
            raise CorrectionError(f"the log has no {what} {row} (it has {len(group)})")
        heard = group[row - 1]
    # Against the act in force after the corrections made so far: an act corrected wrongly
    # can be put back to what the recogniser heard (superseding the earlier corrections).
    in_force = act_in_force(heard, kept)
    if act == in_force and row is None:
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
            else f"utterance at {span_text(start, end)}"
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
    if then is not None:
        then(correction, kept)
    return correction, path, heard


def _added_at(kept: Sequence[Correction], at_s: float) -> Correction | None:
    """The act added in review (and not taken back) whose words' span holds `at_s`, or None.
    Its span holds no heard act (`add_act` refuses one that does), so `--at` inside it names
    it alone."""
    from scoring.corrections import added_in_force

    return next(
        (
            c
            for c in added_in_force(kept)
            if c.start_s is not None and c.start_s <= at_s <= c.utterance_t
        ),
        None,
    )


def _added_correction(
    at_s: float,
    start_s: float,
    end_s: float,
    act: str,
    by: str,
    reason: str,
    *,
    utterance_t: float | None = None,
) -> Correction:
    """An added act (`speech correct --add`), or a correction of one, made now: the words
    from `start_s` to `end_s`, which the recogniser heard as nothing, are `act`. Credited at
    `utterance_t`, the words' end unless given (a correction keeps the added act's own, so it
    supersedes that one exactly)."""
    from scoring.corrections import NONE, Correction

    return Correction(
        at_s=at_s,
        utterance_t=end_s if utterance_t is None else utterance_t,
        text="",
        was=NONE,
        act=act,
        by=by,
        reason=reason,
        made=datetime.now(UTC).isoformat(timespec="seconds"),
        added=True,
        start_s=start_s,
        end_s=end_s,
    )


def _correct_added(
    run_dir: Path,
    sha: str,
    kept: list[Correction],
    added: Correction,
    at_s: float,
    act: str,
    by: str,
    reason: str,
    field: Callable[[str], str],
    then: Callable[[Correction, list[Correction]], object] | None,
) -> tuple[Correction, Path, LogRecord]:
    """Change the act the instructor added over the words at `at_s` to `act`, or take it
    back (`none`: the words are left unheard, as the recogniser left them): a correction of
    the same words' span, which supersedes the one that added it. Under the corrections lock."""
    from drills.speech import span_text
    from scoring.corrections import NONE, CorrectionError, added_mark, write_corrections

    if act != NONE:
        _check_act(run_dir, act, field)
    assert added.start_s is not None
    span_s = span_text(added.start_s, added.utterance_t)
    if act == added.act:
        raise CorrectionError(
            f"{field('act')} {act}: the act added at {span_s} (by {added.by}) is {act} already;"
            " nothing to correct"
        )
    assert added.end_s is not None
    correction = _added_correction(
        at_s, added.start_s, added.end_s, act, by, reason, utterance_t=added.utterance_t
    )
    path = write_corrections(run_dir, sha, [*kept, correction])
    if then is not None:
        then(correction, kept)
    return correction, path, added_mark(added)


def add_act(
    run_dir: Path,
    start_s: float,
    end_s: float,
    act: str,
    by: str,
    reason: str = "",
    field: Callable[[str], str] = cli_flag,
    then: Callable[[Correction, list[Correction]], object] | None = None,
) -> tuple[Correction, Path]:
    """Credit an act the recogniser missed: the officer's words from `start_s` to `end_s` (run
    seconds) were `act`, where the log heard nothing. Kept in the corrections file as a
    correction with `added` (the log is never edited), scored as a live mark at `end_s`.
    Refused in one line naming the field (`field(name)`: "from", "to", "act"): a span that is
    empty or not inside the run, one that holds a heard act (that is corrected with --at) or
    an act added before (changed with --at), an act not in the run's phrase book, `none`.
    `then(correction, kept_before)` runs under the corrections lock, as `correct_speech`'s."""
    import re

    from drills.speech import ACT, span_text
    from range.runs.runlog import EVENTS, read_events
    from scoring.corrections import (
        NONE,
        CorrectionError,
        added_in_force,
        corrections_lock,
        log_sha256,
        overlaps,
        read_corrections,
        run_end_s,
        span,
        write_corrections,
    )

    if len(reason) > MAX_REASON_CHARS:
        raise CorrectionError(
            f"{field('reason')}: a reason of {len(reason)} characters (at most {MAX_REASON_CHARS})"
        )
    if act == NONE:
        raise CorrectionError(
            f"{field('act')} none: nothing to add (an added act is taken back with"
            f" {field('at')} T_S {field('act')} none)"
        )
    if not re.match(ACT, act):
        raise CorrectionError(f"{field('act')}: {act!r} is not a speech act (category[.name])")
    if end_s <= start_s:
        raise CorrectionError(
            f"{field('to')} {end_s:g}: the words must end after they begin ({field('from')}"
            f" {start_s:g})"
        )
    records = read_events(run_dir)
    book = phrasebook_problem(run_dir, records)
    if book is not None:
        raise CorrectionError(f"{book}; not corrected")
    end = run_end_s(records)
    if end_s > end:
        raise CorrectionError(
            f"{field('to')} {end_s:g}: after the run's end ({end:.2f} s): the words must be"
            " inside the run"
        )
    heard = overlaps(records, start_s, end_s)
    if heard is not None:
        lo, hi = span(heard)
        what = (
            f"a mark of {heard.data['act']} at {lo:.2f} s"
            if heard.kind != "officer_spoke"
            else f"{heard.data['act']} at {span_text(lo, hi)}"
        )
        raise CorrectionError(
            f"{field('from')} {start_s:g} {field('to')} {end_s:g}: the log heard {what} inside"
            f" these words: correct it with {field('at')} {(lo + hi) / 2:.2f} instead"
        )
    sha = log_sha256(run_dir / EVENTS)
    with corrections_lock(run_dir):
        kept = read_corrections(run_dir, sha)
        _check_act(run_dir, act, field)
        for c in added_in_force(kept):
            assert c.start_s is not None
            if c.start_s <= end_s and start_s <= c.utterance_t:
                raise CorrectionError(
                    f"{field('from')} {start_s:g} {field('to')} {end_s:g}: {c.act} was added"
                    f" at {span_text(c.start_s, c.utterance_t)} by {c.by}: change it with"
                    f" {field('at')} {(c.start_s + c.utterance_t) / 2:.2f} instead"
                )
        correction = _added_correction(start_s, start_s, end_s, act, by, reason)
        path = write_corrections(run_dir, sha, [*kept, correction])
        if then is not None:
            then(correction, kept)
    return correction, path


def amend_records(
    records: Records, run_dir: Path, correction: Correction, console_audit: str | None = None
) -> list[tuple[int, float | None, float | None]]:
    """Rescore every drill run the records keep with this run folder, with the corrections
    kept for its log: a chained amendment each (`Records.amend_drill_run`), never an edit of
    the run's record. (record, score before, score now) for each; None for a run that was
    never graded (ABORTED, INCOMPLETE: a correction grades it no more than its log did).
    `console_audit`: the console's audit head as it stands (a correction made there), kept in
    each amendment's chained detail (range/console/store.py MARK)."""
    from range.runs.runlog import read_events
    from scoring.corrections import dumped

    numbers = records.drill_runs_at(run_dir)
    if not numbers:
        return []
    score = corrected_score(run_dir, read_events(run_dir))  # by the policy that judged it
    why: dict[str, Any] = {"correction": dumped(correction)}
    if console_audit is not None:
        why["console_audit"] = console_audit
    amended = []
    for number in numbers:
        before = records.drill_run(number)["score"]
        records.amend_drill_run(number, correction.by, score.as_json(), why)
        now = records.drill_run(number)["score"]
        amended.append((number, before, now))
    return amended


def _correct(args: argparse.Namespace) -> int:
    require("pydantic")
    from drills.speech import span_text
    from range.records.store import Records, RecordsError
    from scoring.corrections import CorrectionError, added_mark, correction_of, span

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
        before: list[Correction] = []
        amended: list[tuple[int, float | None, float | None]] = []

        def amend(correction: Correction, kept: list[Correction]) -> None:
            # Under the corrections file's lock: from the corrections kept, this one last.
            before.extend(kept)
            if records is not None:
                amended.extend(amend_records(records, args.run_dir, correction))

        if args.add:
            if args.at is not None or args.was is not None:
                raise CorrectionError(
                    "--add names the words by --from and --to, not --at or --was (an act heard"
                    " there is corrected with --at, without --add)"
                )
            if args.from_s is None or args.to_s is None:
                raise CorrectionError("--add needs --from S and --to E: when the words were said")
            correction, path = add_act(
                args.run_dir, args.from_s, args.to_s, args.act, args.by, args.reason, then=amend
            )
            heard = added_mark(correction)
        else:
            if args.from_s is not None or args.to_s is not None:
                raise CorrectionError("--from and --to are --add's: give --add, or --at alone")
            if args.at is None:
                raise CorrectionError(
                    "give --at T_S (an act heard, or added, then), or --add --from S --to E"
                )
            try:
                correction, path, heard = correct_speech(
                    args.run_dir, args.at, args.act, args.by, args.reason, args.was, then=amend
                )
            except CorrectionError as exc:
                if not str(exc).startswith("no utterance"):
                    raise
                raise CorrectionError(
                    f"{exc}; an act the recogniser missed is credited with --add --from S --to E"
                ) from None
    finally:
        if records is not None:
            records.close()
    # The recording the instructor listened to before correcting: said as score and report
    # say it, when it is missing or not the one the run heard (rc17 #3).
    from range.runs.runlog import read_events

    log = read_events(args.run_dir)
    voice = voice_problem(args.run_dir, log)
    if voice is not None:
        print(f"openrange: warning: {voice}", file=sys.stderr)
    if correction.added:
        # Audio off in a live run (run_started `officer_unheard`): no recogniser ran (rc21 #7d).
        unheard = bool(log and log[0].kind == "run_started" and log[0].data.get("officer_unheard"))
        return _say_added(args, correction, before, path, amended, unheard=unheard)
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
            "rescored": _rescored(amended),
        }
        print(json.dumps(out, indent=2))
        return 0
    when = f"the mark at {start:.2f} s" if correction.marked else span_text(start, end)
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
    _say_amended(amended, f"corrected by {correction.by}")
    return 0


def _rescored(amended: list[tuple[int, float | None, float | None]]) -> list[dict[str, Any]]:
    """`--json`'s `rescored`: each record amended, its score before and after (None: ungraded)."""
    return [{"drill_run": number, "score_before": b, "score": now} for number, b, now in amended]


def _say_amended(amended: list[tuple[int, float | None, float | None]], why: str) -> None:
    """One line per record amended: rescored from -> to, or still not graded (ABORTED or
    INCOMPLETE: no score before or after). `why`: "corrected by NAME", "added by NAME"."""
    for number, b, now in amended:
        if b is None or now is None:
            print(
                f"drill run {number} in the records amended: still not graded"
                f" ({why}; chained amendment)"
            )
            continue
        print(
            f"drill run {number} in the records rescored: {b:g} -> {now:g}"
            f" ({why}; chained amendment)"
        )


def _say_added(
    args: argparse.Namespace,
    correction: Correction,
    before: list[Correction],
    path: Path,
    amended: list[tuple[int, float | None, float | None]],
    *,
    unheard: bool = False,
) -> int:
    """`speech correct`'s answer for an act added in review (--add), or one changed or taken
    back (--at inside its words): what it credits, and each record rescored. `unheard`: the
    run could not hear the officer (audio off), so no recogniser ran to hear nothing."""
    from drills.speech import span_text
    from scoring.corrections import NONE, added_in_force

    # The act added at these words as it stood before (None: none, or taken back).
    at = correction.utterance_t
    prior = next((c for c in added_in_force(before) if c.utterance_t == at), None)
    assert correction.start_s is not None
    when = span_text(correction.start_s, correction.utterance_t)
    if args.json:
        out = {
            "run_dir": str(args.run_dir),
            "added": True,
            "at_s": correction.at_s,
            "start_s": correction.start_s,
            "end_s": correction.end_s,
            "heard": None,
            "before": None if prior is None else prior.act,
            "before_by": None if prior is None else prior.by,
            "act": correction.act,
            "undo": prior is not None and correction.act == NONE,
            "by": correction.by,
            "reason": correction.reason,
            "kept_in": str(path),
            "rescored": _rescored(amended),
        }
        print(json.dumps(out, indent=2))
        return 0
    if prior is None:
        nothing = (
            "the officer could not be heard" if unheard else "the recogniser heard nothing there"
        )
        said = f"added {correction.act} at {when} ({nothing})"
    elif correction.act == NONE:
        said = f"took back {prior.act} (added by {prior.by}) at {when}"
    else:
        said = f"changed the act added at {when}: {prior.act} ({prior.by}'s) -> {correction.act}"
    print(f"{said} by {correction.by}; kept in {path}")
    _say_amended(amended, f"added by {correction.by}")
    return 0
