"""`openrange records ...` and `openrange course run`: qualification records for range masters."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from range import outfile
from range.cli import sound
from range.cli import util as cliutil
from range.cli.columns import column_width, pad
from range.cli.sound import add_sound_options
from range.cli.util import (
    add_calibration_options,
    add_hand_option,
    calibration_options,
    help_when_bare,
    say,
)
from range.deps import require

if TYPE_CHECKING:
    from drills.course import CourseFile, Shooter
    from range.records.store import Records
    from range.runs.course import AttemptResult, CourseConfig
    from range.runs.runlog import RunWriteError
    from range.runs.saved import ScriptFile
    from range.xr.lane import Tap


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        default=None,
        type=cliutil.database_url,
        metavar="URL",
        help="records database: sqlite:////ABSOLUTE/PATH (four slashes), sqlite:///RELATIVE/PATH"
        " or postgresql://... (default:"
        " $OPENRANGE_DATABASE_URL, else a file in the user's data directory)",
    )


def register_course_run(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = verbs.add_parser(
        "run",
        help="fire a course (scripted shooter or an officer on real replicas), record it",
        description="Run a qualification attempt: every string from its start signal, through "
        "the replicas, the serial link and PyBullet, scored stage by stage. With "
        "--badge, the attempt is recorded shot by shot and joins the audit chain.",
        epilog="examples:\n  openrange course run fbi-pistol-2019-v1 --shooter qualified\n"
        "  openrange course run texas-ltc-b27-v1 --badge 4411 --seed 3\n"
        "  openrange course run texas-ltc-b27-v1 --badge 4411 --port /dev/ttyACM0\n"
        "  openrange course run texas-ltc-b27-v1 --badge 4411 --resume 17\n"
        "      (an attempt a crash cut: `records incomplete` lists them; its seed and shooter"
        " are kept)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("course", metavar="COURSE", help="built-in id or path to a .toml file")
    run.add_argument(
        "--shooter",
        default=None,
        help="scripted shooter: expert, qualified (the default), struggling, or a file; with"
        " --resume, the attempt's own shooter",
    )
    run.add_argument(
        "--badge", default=None, type=cliutil.badge, help="record the attempt for this officer"
    )
    run.add_argument(
        "--resume",
        type=cliutil.record_id,
        default=None,
        metavar="ATTEMPT",
        help="with --badge: continue this in-progress attempt (its #number in `records"
        " incomplete`, not a qualification record's): the strings it finished are kept, the"
        " one a crash cut is reshot, the rest fired",
    )
    run.add_argument(
        "--seed",
        type=cliutil.seed,
        default=None,
        help="run seed (default 0; with --resume, the attempt's own seed)",
    )
    run.add_argument("--runs-dir", type=Path, default=Path("runs"), help="default ./runs")
    run.add_argument(
        "--no-save",
        action="store_true",
        help="write nothing: no run folder, no record (refused with --badge)",
    )
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="PORT",
        help="an officer's real replica on this serial port (repeat for a pistol and a TASER):"
        " the attempt is fired live, the range timer calls each string on stderr, and each"
        " shot flies from the replica's tracked bore (OpenXR and its calibration profile)",
    )
    run.add_argument(
        "--lane",
        type=Path,
        default=None,
        metavar="FILE",
        help="the lane file naming its ports, hand, calibration and display (docs/lanes.md):"
        " the attempt is fired live; options given here override the file's",
    )
    run.add_argument(
        "--headless",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="live: track the replicas with a pose-only OpenXR session and draw nothing (a"
        " bench without a headset); by default the range, the string's target or subject,"
        " the replica, what was fired and the timer's cue are drawn in the headset;"
        " overrides the lane file's `headless`",
    )
    run.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="live: also show the attempt from the officer's eyes in a desktop window (the"
        " instructor's mirror); overrides the lane file's `mirror`",
    )
    add_hand_option(run)
    add_calibration_options(run)
    add_sound_options(run)
    _db_option(run)
    # The lane file's hand unless --hand is given (add_hand_option's help says the default).
    run.set_defaults(handler=_course_run, hand=None)


def _resume_options(args: argparse.Namespace) -> list[str]:
    """`course run` as given, less --resume: what fires the rest of a stopped attempt as typed
    (the same course, badge, records, runs folder, and for a live attempt its lane or ports,
    hand and profiles; its seed and shooter are the attempt's own). A database URL that holds
    a password is said as URL, not echoed."""
    from urllib.parse import urlsplit

    argv = ["openrange", "course", "run", args.course, "--badge", str(args.badge)]
    if args.lane is not None:
        argv += ["--lane", str(args.lane)]
    for port in args.port:
        argv += ["--port", port]
    if args.hand is not None:
        argv += ["--hand", args.hand]
    if getattr(args, "profiles", None) is not None:
        argv += ["--profiles", str(args.profiles)]
    if args.db is not None:
        argv += ["--db", "URL" if urlsplit(args.db).password else args.db]
    if args.runs_dir != Path("runs"):
        argv += ["--runs-dir", str(args.runs_dir)]
    return argv


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "records",
        help="officers, qualification history, certificates, rosters and the audit check",
        description="Qualification records live in SQLite by default, or PostgreSQL when "
        "OPENRANGE_DATABASE_URL names one. Each record carries the hash of the one "
        "before it; `verify` finds an edited or deleted record.",
        epilog="examples:\n  openrange records officers --add 4411 --name 'J. Rivera' "
        "--agency 'Metro PD'\n  openrange records history 4411\n"
        "  openrange records show 12\n  openrange records show --drill-run 5\n"
        "  openrange records export --format pdf --attempt 12 --out cert.pdf\n"
        "  openrange records export --format html --out roster.html\n"
        "  openrange records verify\n"
        "  openrange records incomplete\n"
        "  openrange records close 17 --by 'Sgt. Ortiz' --reason 'power cut'\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = group.add_subparsers(title="records commands", metavar="VERB")
    officers = verbs.add_parser(
        "officers",
        **cliutil.examples(
            "openrange records officers",
            "openrange records officers --add 4411 --name 'J. Rivera' --agency 'Metro PD'",
            "openrange records officers --update 4411 --unit 'Traffic' --json",
        ),
        help="list officers, or add one",
        description="List the officers, or add (or update) one. Adding one needs all three:"
        " --add BADGE --name NAME --agency AGENCY.",
    )
    change = officers.add_mutually_exclusive_group()
    change.add_argument(
        "--add",
        metavar="BADGE",
        type=cliutil.badge,
        help="add this badge number (a new one); needs --name and --agency",
    )
    change.add_argument(
        "--update",
        metavar="BADGE",
        type=cliutil.badge,
        help="change this officer's --name, --agency or --unit (chained in the ledger)",
    )
    officers.add_argument(
        "--name", type=cliutil.person, help="the officer's name (required with --add)"
    )
    officers.add_argument(
        "--agency", type=cliutil.person, help="the officer's agency (required with --add)"
    )
    officers.add_argument("--unit", default=None, type=cliutil.free_text, help="the unit")
    officers.add_argument("--json", action="store_true", help="print as JSON")
    _db_option(officers)
    officers.set_defaults(handler=_officers)
    history = verbs.add_parser(
        "history",
        epilog="examples:\n"
        "  openrange records history 4411\n"
        "  openrange records history 4411 --json\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
        help="one officer's qualifications and drill runs",
        description="One officer's standing per course (status and expiry), then every "
        "qualification attempt and drill run.",
    )
    history.add_argument("badge", metavar="BADGE", type=cliutil.badge)
    history.add_argument(
        "--valid-days",
        type=cliutil.days,
        default=365,
        help="how long a qualification stays valid, per course (default 365)",
    )
    history.add_argument("--json", action="store_true", help="print as JSON")
    _db_option(history)
    history.set_defaults(handler=_history)
    show = verbs.add_parser(
        "show",
        help="one qualification record shot by shot, or one drill run",
        description="One qualification record: score, stages, every shot with the points it"
        " counted,\nthe folders its event logs are in. With --drill-run, one recorded drill"
        " run instead:\nits drill (and the drill file's sha256), outcome, decision, score,"
        " every finding,\nand its run folder. The numbers are the ones `records history"
        " BADGE` lists:\n`record 12` is qualification record 12, `drill 5` is drill run 5."
        " An in-progress\nattempt (#N in `records incomplete`) has a number of its own and"
        " is not a record.",
        epilog="examples:\n  openrange records show 12\n  openrange records show 12 --json\n"
        "  openrange records show --drill-run 5\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument(
        "attempt",
        metavar="RECORD",
        nargs="?",
        type=cliutil.record_id,
        help="the qualification record's number",
    )
    show.add_argument(
        "--drill-run",
        metavar="RUN",
        type=cliutil.record_id,
        default=None,
        help="show this recorded drill run instead of an attempt",
    )
    show.add_argument("--json", action="store_true", help="print as JSON")
    _db_option(show)
    show.set_defaults(handler=_show)
    verify = verbs.add_parser(
        "verify",
        epilog="examples:\n  openrange records verify\n  openrange records verify --json\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
        help="check the audit chain",
        description="Walk the hash chains (qualification records, officers, drill runs) and "
        "each recorded run's log, and report every edited or deleted record or log; exit 1 if "
        "any. A kept run's drill or course file edited since is a WARNING (the chain holds, but "
        "the run can no longer be rescored): exit 3 when that is all.",
    )
    verify.add_argument("--json", action="store_true", help="print the findings as JSON")
    _db_option(verify)
    verify.set_defaults(handler=_verify)
    incomplete = verbs.add_parser(
        "incomplete",
        epilog="examples:\n  openrange records incomplete\n  openrange records incomplete --json\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
        help="attempts begun and never finished (a crash, a pulled plug)",
        description="List the attempts in progress that never finished: badge, course, seed, "
        "start time and how many shots were kept. Resume one with `course run COURSE "
        "--badge BADGE --resume ID` (finished strings kept, the cut one reshot), or close it "
        "with `records close`.",
    )
    incomplete.add_argument("--json", action="store_true", help="print as JSON")
    _db_option(incomplete)
    incomplete.set_defaults(handler=_incomplete)
    close = verbs.add_parser(
        "close",
        help="close a crashed attempt: recorded as INCOMPLETE, never pass or fail",
        description="Close an attempt that never finished. It joins the audit chain as "
        "INCOMPLETE with every shot kept, who closed it and why; it never counts as a pass "
        "or a fail.",
        epilog="example:\n  openrange records close 17 --by 'Sgt. Ortiz' --reason 'power cut'\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
    )
    close.add_argument(
        "attempt",
        metavar="ATTEMPT",
        type=cliutil.record_id,
        nargs="?",
        default=None,
        help="the in-progress attempt's #number in `records incomplete` (not a record number)",
    )
    close.add_argument(
        "--drill-run",
        type=cliutil.record_id,
        default=None,
        metavar="ID",
        help="close a drill run in progress instead (from `records incomplete`)",
    )
    close.add_argument(
        "--by", required=True, type=cliutil.person, help="the range master closing it"
    )
    close.add_argument("--reason", required=True, type=cliutil.person, help="why it did not finish")
    _db_option(close)
    close.set_defaults(handler=_close)
    export = verbs.add_parser(
        "export",
        epilog="examples:\n"
        "  openrange records export --format csv --from 2026-01-01 --out records.csv\n"
        "  openrange records export --format pdf --warn-days 30 --out roster.pdf\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
        help="CSV, or a roster or certificate as HTML or PDF",
        description="csv: every qualification record (from/to by date). html or pdf: a roster "
        "with each officer's status per course and expiry, warning of expiries within "
        "--warn-days (a POST compliance report), or with --attempt, that attempt's "
        "certificate (a record of the attempt, not a certificate, when it did not qualify).",
    )
    export.add_argument("--format", choices=["csv", "html", "pdf"], required=True)
    export.add_argument(
        "--from",
        dest="since",
        type=cliutil.iso_date,
        metavar="DATE",
        help="YYYY-MM-DD, inclusive (the whole day, UTC)",
    )
    export.add_argument(
        "--to",
        dest="until",
        type=cliutil.iso_date,
        metavar="DATE",
        help="YYYY-MM-DD, inclusive (the whole day, UTC); for a roster, its as-of day",
    )
    export.add_argument(
        "--attempt", type=cliutil.record_id, default=None, help="a certificate for this record"
    )
    export.add_argument(
        "--drill-runs",
        action="store_true",
        help="with --format csv: the drill runs (drill label, file sha256 and origin), not the"
        " qualifications",
    )
    export.add_argument(
        "--valid-days",
        type=cliutil.days,
        default=None,
        help="roster: how long a qualification stays valid (default 365); refused with"
        " --attempt: a certificate expires 365 days after its attempt, as the console's copy"
        " of it says",
    )
    export.add_argument(
        "--warn-days",
        type=cliutil.days,
        default=None,
        help="roster: flag qualifications expiring within this many days (default 30, at most"
        " --valid-days)",
    )
    export.add_argument(
        "--out", type=Path, default=None, help="output file (default: stdout for csv and html)"
    )
    _db_option(export)
    export.set_defaults(handler=_export)
    help_when_bare(group)


def _open(args: argparse.Namespace, create: bool = False, read_only: bool = False) -> Records:
    """The store named by --db; only commands that add something may create it, and a command
    that only reads (`read_only`) never migrates an older store."""
    from range.records.store import Records

    return Records.open(args.db, create=create, migrate=not read_only)


def _answer(
    args: argparse.Namespace,
    data: Callable[[], object],
    text: Callable[[], Iterable[str]],
    code: int = 0,
    to: TextIO | None = None,
    **dumps: Any,
) -> int:
    """Every records command's reply, one shape: with --json what `data` gives, as JSON
    (`dumps`: more json.dumps options), else the lines `text` gives (on `to`, default stdout);
    each is built only when it is printed (a damaged column the other reads is no matter).
    Returns `code` either way."""
    if getattr(args, "json", False):
        print(json.dumps(data(), indent=2, **dumps))
    else:
        for line in text():
            print(line, file=to or sys.stdout)
    return code


def _course_run(args: argparse.Namespace, tap: Tap | None = None) -> int:
    """`openrange course run`; `tap` (live with a headset) is called after each eye is drawn
    (range/xr/lane.py: a test reads the swapchain image back)."""
    require("numpy", "pydantic", "serial", "pybullet")
    from dataclasses import replace

    from drills.course import builtin_shooters, find_shooter, load_shooter, read_course_file
    from physics.datafiles import decode
    from range.records.store import OFFICER, RecordsError
    from range.runs.course import CourseConfig, run_course
    from range.runs.lanefile import check_ports
    from range.runs.runlog import RunWriteError
    from range.runs.saved import played_label, script_file

    given = list(args.port)  # the command line's, before a lane file's fill in
    resume_with = _resume_options(args)
    _lane_options(args)
    if given:  # as a lane file's are: how many, each once, each there
        check_ports(given)

    cliutil.refuse_unsaved_record(args)
    source = read_course_file(args.course)  # the bytes fired are the bytes kept and hashed
    course = source.course
    from range.cli.course import range_warnings

    for warning in range_warnings(source):  # a string past its cartridge's range (nu24 #15)
        cliutil.say(f"openrange: {warning}")
    # A shooter file's bytes: kept with the attempt and hashed into its log (nu24 #6), and
    # the ones parsed: read once (rv24 #2).
    shooter_file = script_file(args.shooter or "qualified", builtin_shooters())
    shooter = (
        find_shooter(args.shooter or "qualified")
        if shooter_file is None
        else load_shooter(shooter_file.path, decode(shooter_file.content, shooter_file.path))
    )
    # Everything is checked before anything is created (a run directory, an attempt): a
    # refused run leaves nothing behind, as `drill run --badge` does.
    if args.resume is not None and not args.badge:
        raise ValueError("--resume needs --badge: the officer whose attempt it is")
    records = _open(args) if args.badge else None
    try:
        seed = 0 if args.seed is None else args.seed
        officer_name = "scripted"
        if records is not None:
            officer_name = str(records.officer(args.badge)["name"])  # the name, not the badge
            if args.resume is not None:
                began = records.attempt_in_progress(args.resume).get("shooter", OFFICER)
                if args.shooter is None and began != OFFICER and not args.port:
                    # A resume keeps the attempt's shooter: a file's, the copy its first part
                    # kept (the id alone would name the built-in one, or none).
                    shooter, shooter_file = _began_shooter(records, args, source, str(began))
                label = played_label(shooter, shooter_file, builtin_shooters())
                seed = _resumable(records, args, source, label, shooter_file)
        config = CourseConfig(
            course,
            shooter,
            seed,
            shooter_file=shooter_file,
            officer_name=officer_name,
            runs_dir=None if args.no_save else args.runs_dir,
            source=source,
            **calibration_options(args, live=bool(args.port)),  # type: ignore[arg-type]
        )
        folders: list[Path] = []  # the attempt's run folder, once it is made
        config = replace(config, on_begin=folders.append)
        unwritten = None
        begun: list[int] = [args.resume] if args.resume is not None else []
        # A second Ctrl-C is ignored until the first one's cleanup has closed the attempt's
        # log part and records (what was fired stays in progress, whole); one after the last
        # string is held: the attempt is scored, ended and recorded whole, then said so.
        with cliutil.ctrl_c_once() as ctrl_c:
            try:
                if args.port:
                    result = _live(args, config, records, tap, begun.append, ctrl_c.hold)
                else:
                    result = run_course(
                        config,
                        records=records,
                        badge=args.badge,
                        resume=args.resume,
                        on_attempt=begun.append,
                        on_end=ctrl_c.hold,
                    )
            except RunWriteError as exc:
                if exc.result is None:
                    if records is not None and begun:  # the log cut by a full runs folder
                        say(_left_in_progress(args, begun[-1], folders, resume_with))
                    raise
                result, unwritten = exc.result, exc  # only result.json: the attempt is complete
            except RecordsError:
                # The store cut the attempt (PostgreSQL stopped, its disk full): what it kept
                # stays in progress; said with how to go on before the store's one line (nu25 #7).
                if begun:
                    say(_left_in_progress(args, begun[-1], folders, resume_with))
                raise
            except KeyboardInterrupt:
                # docs/courses.md: Ctrl-C ends the attempt; what was fired stays in progress.
                # The attempt's own number: the command that fires the rest, as typed.
                rest = (
                    f"; the strings fired so far are kept in progress (`openrange records"
                    f" incomplete`): `{shlex.join([*resume_with, '--resume', str(begun[-1])])}`"
                    " fires the rest"
                    if records is not None and begun
                    else ""
                )
                say(
                    "openrange: stopped by the range master (Ctrl-C): the attempt is not"
                    f" finished{rest}"
                )
                return 130
            return _attempt_done(args, config, result, unwritten, ctrl_c)
    finally:
        if records is not None:
            records.close()


def db_words(db: str | None) -> list[str]:
    """`--db` as a command to type says it: a URL that holds a password as URL, not echoed
    (OPENRANGE_DATABASE_URL, or --db, names it again)."""
    from urllib.parse import urlsplit

    if db is None:
        return []
    return ["--db", "URL" if urlsplit(db).password else db]


def kept_shots(db: str | None, attempt: int) -> int | None:
    """How many shots the records keep for in-progress `attempt`, read afresh; None when the
    store cannot say (it is still down)."""
    from range.records.store import Records, RecordsError

    try:
        with Records.open(db, create=False) as records:
            found = [r for r in records.incomplete() if int(r["id"]) == attempt]
    except (RecordsError, OSError):
        return None
    return int(found[0]["shots"]) if found else None


def _left_in_progress(
    args: argparse.Namespace, attempt: int, folders: list[Path], resume_with: list[str]
) -> str:
    """What a course run cut by the store or the disk left (nu25 #7): the attempt in progress,
    the shots it kept, its run folder, and the two commands that recover it."""
    kept = kept_shots(args.db, attempt)
    shots = (
        f"{kept} shot{'' if kept == 1 else 's'} kept"
        if kept is not None
        else "the shots kept before the failure: `openrange records incomplete` counts them"
    )
    where = f"; its run folder: {folders[-1]}" if folders else ""
    resume = shlex.join([*resume_with, "--resume", str(attempt)])
    close = (
        shlex.join(["openrange", "records", "close", str(attempt), *db_words(args.db)])
        + " --by NAME --reason REASON"
    )
    return (
        f"openrange: attempt #{attempt} for badge {args.badge} is left in progress ({shots})"
        f"{where}; once the store is back (or the disk has room): `{resume}` fires the rest,"
        f" or `{close}` closes it INCOMPLETE"
    )


def _attempt_done(
    args: argparse.Namespace,
    config: CourseConfig,
    result: AttemptResult,
    unwritten: RunWriteError | None,
    ctrl_c: cliutil.CtrlC,
) -> int:
    """A fired attempt's soundtrack, summary and exit status (a Ctrl-C after its last string
    held till now: the attempt is complete and recorded, and one line says so)."""
    failed = None
    recorded = result.qualification is not None
    kept = "the attempt and its record are kept" if recorded else "the attempt is kept"
    if unwritten is not None:  # the soundtrack is not tried on the disk that just filled
        why = unwritten.cause.strerror or unwritten.cause
        failed = (
            f"openrange: {unwritten.path}: cannot write ({why}): the attempt is complete (its"
            f" event log is whole); {kept}"
        )
    else:
        try:  # after the attempt is recorded: a soundtrack that cannot be written loses nothing
            sound.after_course(args, result.run_dir, config.seed)
        except OSError as exc:
            failed = sound.write_failed(exc, kept)
    # A scripted shooter fired it (no --port): a simulation, never a qualification.
    # Its score reads SIMULATED, as the text does (scoring.course.judged_attempt: the shape of
    # result.json and of `score --json` too).
    # `record`: the record's number under the key `drill run --json` gives it too (nu25 #11);
    # `qualification`, result.json's, stays for the scripts that read it.
    shown = result.as_json() | {"badge": args.badge, "record": result.qualification}
    code = _answer(
        args, lambda: shown, lambda: _attempt_lines(args, config, result), sort_keys=True
    )
    if failed is not None:
        say(failed)
        return 9
    if ctrl_c.late:
        say(
            ctrl_c.late_line(
                "the attempt's last string: it is complete, nothing was cut",
                result.run_dir,
                f"qualification record {result.qualification}" if recorded else None,
            )
        )
        return 130
    return code


def _attempt_lines(
    args: argparse.Namespace, config: CourseConfig, result: AttemptResult
) -> Iterator[str]:
    from range.cli.summary import format_attempt
    from range.records.store import content_label
    from range.runs.saved import course_source, sha256

    course = config.course
    digest = sha256(course_source(course, config.source)[1])
    label, note = content_label("course", course.id, digest)
    yield f"{course.title} [{label}], shooter {config.shooter_label}, seed {config.seed}"
    if note:
        yield f"  {note}"
    if not args.port:
        yield (
            f"  SIMULATED: scripted shooter {config.shooter_label}, not the officer: never a"
            " qualification"
        )
    yield format_attempt(result.score, simulated=not args.port)
    if result.qualification is not None:
        yield f"Recorded as qualification record {result.qualification} for badge {args.badge}."
    if result.run_dir is not None:  # as a drill run's summary says where it is
        yield f"Saved: {result.run_dir}/"


def _began_with(kept: list[dict[str, Any]]) -> tuple[Path | None, dict[str, Any]]:
    """The folder of an in-progress attempt's first part and its `attempt_started` record's
    fields, from its kept records as `Records.resume_attempt` checked and returned them
    ((None, {}) when no part's log can be read: nothing to hold the resume to)."""
    from range.records.store import attempt_folders
    from range.runs.runlog import EVENTS

    for folder in map(Path, attempt_folders(kept)):
        try:
            with (folder / EVENTS).open(encoding="utf-8") as log:
                first = json.loads(log.readline())
        except (OSError, ValueError):
            continue
        if isinstance(first, dict) and first.get("kind") == "attempt_started":
            return folder, first
    return None, {}


def _began_shooter(
    records: Records, args: argparse.Namespace, source: CourseFile, began: str
) -> tuple[Shooter, ScriptFile | None]:
    """The scripted shooter an in-progress attempt began with, for a resume without --shooter:
    a shooter file's copy kept in its first part's folder (`shooter.toml`, checked against
    the sha256 its log kept), else the built-in shooter of that id (nu24 #6)."""
    from drills.course import find_shooter, load_shooter
    from physics.datafiles import decode
    from range.runs.saved import SHOOTER_COPY, ScriptFile

    # The shooter is known only from here, so its id is not yet checked: `_resumable`'s full
    # check follows, once the label it began with is known.
    folder, started = _began_with(records.resume_attempt(args.resume, args.badge, source.course.id))
    kept = started.get("shooter_sha256")
    if folder is None or not isinstance(kept, str) or not kept:
        return find_shooter(began), None
    copy = folder / SHOOTER_COPY
    try:
        file = ScriptFile(copy, copy.read_bytes())
    except OSError as exc:
        raise ValueError(
            f"in-progress attempt #{args.resume} began with shooter file"
            f" {started.get('shooter_file')}, and its copy {copy} cannot be read"
            f" ({exc.strerror or exc}): resume it with --shooter and that file"
        ) from None
    if file.sha256 != kept:
        raise ValueError(
            f"{copy}: edited since the attempt began (sha256 {file.sha256[:12]}, its log"
            f" {kept[:12]}): resume it with --shooter and the file it began with"
        )
    return load_shooter(copy, decode(file.content, copy)), file


def _resumable(
    records: Records,
    args: argparse.Namespace,
    source: CourseFile,
    shooter_id: str,
    shooter_file: ScriptFile | None = None,
) -> int:
    """The seed to resume `args.resume` with, once the attempt is known to be this officer's
    on this course file, with the shooter it began with (a shooter file held to the sha256
    its first part logged: nu24 #6); a --seed that differs from the attempt's is refused."""
    from range.records.store import OFFICER, attempt_folders
    from range.runs.saved import course_source, sha256

    records.claim_attempt(args.resume)  # before anything runs: a second resume is refused now
    progress = records.attempt_in_progress(args.resume)
    kept_records = records.resume_attempt(
        args.resume,
        args.badge,
        source.course.id,
        sha256(course_source(source.course, source)[1]),
        shooter=OFFICER if args.port else shooter_id,
        fired=source.course,
    )
    for n, folder in enumerate(attempt_folders(kept_records), 1):
        if not Path(folder).is_dir():
            say(
                f"in-progress attempt #{args.resume}: part {n}'s folder {folder} is missing:"
                " its shots are kept in the records (the record lists the folder as missing),"
                " but no resumed.json can be left in it"
            )
    if not args.port:
        _same_shooter_file(kept_records, args, shooter_file)
    kept = int(progress["seed"])
    if args.seed is not None and args.seed != kept:
        raise ValueError(
            f"--seed {args.seed} conflicts with in-progress attempt #{args.resume}'s seed {kept}:"
            f" leave --seed out (a resumed attempt keeps its seed) or give --seed {kept}"
        )
    if args.seed is None:
        say(f"Resuming in-progress attempt #{args.resume} with its seed {kept}.")
    if args.shooter is None and not args.port and shooter_id != "qualified":
        say(f"Resuming in-progress attempt #{args.resume} with its scripted shooter {shooter_id}.")
    return kept


def _same_shooter_file(
    kept_records: list[dict[str, Any]], args: argparse.Namespace, now: ScriptFile | None
) -> None:
    """Refuse, in one line, a resume whose shooter file is not the one the attempt began with
    (another file, or the built-in shooter, under the same id): the records keep the id, its
    first part's log the file's sha256. `kept_records`: what `_resumable` just checked."""
    from drills.course import builtin_shooters

    _, started = _began_with(kept_records)
    kept = started.get("shooter_sha256")
    kept = kept if isinstance(kept, str) and kept else None
    if kept == (None if now is None else now.sha256):
        return
    if kept is None and started.get("shooter") not in builtin_shooters():
        return  # no log read, or one from before files were hashed: nothing to hold it to
    began = (
        f"shooter file {started.get('shooter_file')} (sha256 {kept[:12]})"
        if kept is not None
        else f"the built-in shooter {started.get('shooter')}"
    )
    given = "the built-in shooter" if now is None else f"{now.path} (sha256 {now.sha256[:12]})"
    raise ValueError(
        f"in-progress attempt #{args.resume} began with {began}, not {given}: resume it with"
        " that file, or leave --shooter out to use the copy its first part kept"
    )


def _lane_options(args: argparse.Namespace) -> None:
    """The lane file's ports, hand, calibration gate and display under the options given
    (an option given overrides the file's); `args.headless` and `args.mirror` become what the
    live attempt does (range.runs.lanefile.display). Without --port or --lane, --headless and
    --mirror are refused: they are for a live attempt."""
    from range.runs.lanefile import display, load_lane

    lane = None
    if args.lane is not None:  # the whole file, ports and profiles too, before anything opens
        lane = load_lane(args.lane, ports=not args.port, profiles=args.profiles is None)
    if lane is None and not args.port and (args.headless or args.mirror):
        raise ValueError("--headless and --mirror are for a live attempt: add --port or --lane")
    args.headless, args.mirror = display(lane, args.headless, args.mirror)
    if lane is not None:
        args.port = list(args.port) or list(lane.ports)
        args.hand = args.hand or lane.hand
        args.require_calibration = args.require_calibration or lane.calibration.required
        if args.profiles is None:
            args.profiles = lane.profiles_dir(args.lane)
    args.hand = args.hand or "right"


def _live(
    args: argparse.Namespace,
    config: CourseConfig,
    records: Records | None,
    tap: Tap | None = None,
    on_attempt: Callable[[int], None] | None = None,
    on_end: Callable[[], None] | None = None,
) -> AttemptResult:
    """The attempt fired by an officer on real replicas, tracked through OpenXR: with a
    headset, its one graphics-bound session draws every frame and tracks the replicas
    (range/xr/lane.py `LaneHeadset.course_frame`); `--headless`, a pose-only session."""
    import numpy as np

    from range.clock import MonotonicClock
    from range.runs.course import LiveRange, run_course

    clock = MonotonicClock()
    player = sound.live_player(args, None, config.seed)  # the timer's beep, heard
    try:
        with ExitStack() as stack:
            timer = np.random.default_rng(args.seed)
            voice = sound.timer_voice(say, player)
            # The headset taken off cuts the string under way (reshot) and holds the next one.
            live = LiveRange(args.port, None, clock, voice, timer)

            def open_headset() -> None:
                """Once the replicas have passed the calibration check (run_course calls it),
                as a live drill opens its headset: an uncalibrated replica is refused first."""
                require("xr")
                if args.headless:
                    from range.xr.runtime import OpenXRPoses

                    poses = stack.enter_context(OpenXRPoses(hand=args.hand, clock=clock))
                    poses.focused()
                    live.poses = poses

                    def focused() -> bool:  # as a live drill asks a pose-only session
                        return poses.pump(0.0) == "FOCUSED"

                    live.focused = focused
                    return
                from range.xr.lane import LaneHeadset
                from range.xr.session import HeadsetSession

                session = stack.enter_context(HeadsetSession(hand=args.hand, clock=clock))
                window = None
                if args.mirror:
                    from range.review.mirror import LiveMirror

                    window = stack.enter_context(LiveMirror())
                    session.make_current()
                headset = LaneHeadset(session, tap=tap, mirror=window).wait_focused()
                live.poses, live.draw, live.focused = headset, headset.course_frame, headset.focused

            live.open_headset = open_headset
            return run_course(
                config,
                records=records,
                badge=args.badge,
                live=live,
                resume=args.resume,
                on_attempt=on_attempt,
                on_end=on_end,
            )
    finally:
        if player is not None:
            player.close()
            if player.error is not None:
                say(f"openrange: {player.error}")


def _officers(args: argparse.Namespace) -> int:
    fields = {"name": args.name, "agency": args.agency, "unit": args.unit}
    given = [f"--{k}" for k, v in fields.items() if v is not None]
    if given and args.add is None and args.update is None:
        raise ValueError(f"{', '.join(given)} needs --add BADGE or --update BADGE")
    if args.add is not None and (not args.name or not args.agency):
        raise ValueError("--add needs --name and --agency")
    if args.update is not None and not given:
        raise ValueError("--update needs what changes: --name, --agency or --unit")
    listing = args.add is None and args.update is None
    with _open(args, create=args.add is not None, read_only=listing) as records:
        if args.add is not None:
            records.add_officer(args.add, args.name, args.agency, args.unit or "", replace=False)
            unit = f", {args.unit}" if args.unit else ""
            say(f"added badge {args.add}: {args.name}, {args.agency}{unit} (chained)")
            if records.created:  # a store made by this command: said where it is (nu25 #6)
                say(f"created the records store {records.where}")
        elif args.update is not None:
            old = records.officer(args.update)
            new = {k: (old[k] if v is None else v) for k, v in fields.items()}
            written = records.add_officer(args.update, new["name"], new["agency"], new["unit"])
            changed = [f"{k} {old[k]!r} -> {new[k]!r}" for k in fields if old[k] != new[k]]
            if written:
                say(f"badge {args.update}: {'; '.join(changed)} (chained)")
            else:
                say(f"badge {args.update}: nothing changed: nothing recorded")
        rows = records.officers()

    def text() -> Iterator[str]:
        # Names and agencies as wide as the longest, in terminal columns (nu23 #9).
        name = column_width((o["name"] for o in rows), 28)
        agency = column_width((o["agency"] for o in rows), 24)
        for o in rows:
            yield (
                f"{pad(o['badge'], 10)} {pad(o['name'], name)} {pad(o['agency'], agency)}"
                f" {o['unit']}".rstrip()
            )

    return _answer(args, lambda: rows, text)


def _passed(outcome_: str, passed: object) -> dict[str, bool | None]:
    """`passed` beside a record's outcome, as the judged-attempt JSON has it (`scoring.course.
    judged_attempt`): null for a scripted run (SIMULATED, or INCOMPLETE (simulated ...)), where
    nobody's own decision or shooting was judged: its outcome says what it would have been;
    null for a DAMAGED record too (edited outside OpenRange: no pass to trust)."""
    from range.records.store import DAMAGED

    if outcome_.startswith(("SIMULATED", DAMAGED)) or "(simulated" in outcome_:
        return {"passed": None}
    return {"passed": bool(passed)}


def _history(args: argparse.Namespace) -> int:
    from range.records.exports import by_weapon, roster
    from range.records.store import (
        DAMAGED,
        course_label,
        drill_label,
        held_points,
        no_decision,
        outcome,
    )

    with _open(args, read_only=True) as records:
        officer = records.officer(args.badge)
        edited = records.officer_problem(officer)
        rows = records.qualifications(args.badge)
        drills = records.drill_runs(args.badge)
        today = datetime.now(UTC).date()
        standing = [
            s for s in roster(records, today, args.valid_days, badge=args.badge) if s.course
        ]
    fields = ("id", "finished", "points", "max_points", "hits", "course_sha256")
    out = {
        "officer_problem": edited,
        "qualifications": [
            {k: r[k] for k in fields}
            | {
                "course": course_label(r),
                "course_id": r["course"],
                "course_modified": r["course_origin"] == "modified",
                "outcome": outcome(r),
            }
            | _passed(outcome(r), r["passed"])
            | held_points(r, outcome(r))
            for r in rows
        ],
        "drill_runs": [
            d
            | {
                "drill": drill_label(d),
                "drill_id": d["drill"],
                "drill_modified": d["drill_origin"] == "modified",
            }
            | _passed(d["outcome"], d["passed"])
            for d in drills
        ],
        "standing": [
            {
                "course": s.course,
                "weapons": s.weapons,
                "status": s.status,
                "last_pass": s.last_pass,
                "expires": s.expires,
                "warning": s.warning,
            }
            for s in standing
        ],
        "by_weapon": [
            {"weapon": w.weapons, "status": w.status, "course": w.course, "expires": w.expires}
            for w in by_weapon(standing)
        ],
    }

    def text() -> Iterator[str]:
        yield f"{officer['name']}, badge {officer['badge']}, {officer['agency']}" + (
            f"  {DAMAGED}" if edited else ""
        )
        if edited:
            yield f"  WARNING: {edited}: run records verify"
        for w in by_weapon(standing):
            yield f"  {w.weapons:<10} {w.status:<13} expires {w.expires or '-':<10} (by {w.course})"
        course = column_width((s.course for s in standing), 24)
        for s in standing:
            yield (
                f"  {pad(s.course, course)} {s.weapons or '-':<14} {s.status:<13}"
                f" expires {s.expires or '-':<10} {s.warning}"
            )
        label = column_width((course_label(r) for r in rows), 24)
        for r in rows:
            points = held_points(r, outcome(r))["points"]  # none for a DAMAGED record
            yield (
                f"  record {r['id']:<5} {r['finished']}  {pad(course_label(r), label)}"
                f" {'-' if points is None else points:>4}/{r['max_points']:<4} {outcome(r)}"
            )
        label = column_width((drill_label(d) for d in drills), 28)
        for d in drills:
            corrected = d["corrected"]
            by = f"  (corrected by {corrected[-1]['by']})" if corrected else ""
            # An aborted or incomplete run was not graded: no decision (who stopped it, if one).
            said = f"  {d['decision']}" if d["decision"] else ""
            # INCOMPLETE: the debrief unanswered, a replica lost (faulted) or cut short.
            if not said and d["outcome"].startswith("INCOMPLETE"):
                said = f"  {no_decision(d.get('not_decided'), d.get('faulted'))}"
            # DAMAGED (edited outside OpenRange): said alone, no decision to trust.
            stopped = f" ({d['stopped']})" if d.get("stopped") else ""
            # A replica used uncalibrated on a range master's override (nu20 #6).
            flag = "  (UNCALIBRATED replica, on an override)" if d.get("uncalibrated") else ""
            yield (
                f"  drill {d['id']:<5} {d['recorded']}  {pad(drill_label(d), label)} {d['outcome']}"
                f"{stopped}{said}{by}{flag}"
            )

    return _answer(args, lambda: out, text)


def _show_drill_run(args: argparse.Namespace) -> int:
    from range.cli.summary import left_out
    from range.records.store import (
        RecordsError,
        damaged_run,
        drill_label,
        drill_outcome,
        drill_run_no_decision,
        drill_run_script,
        drill_run_uncalibrated,
        graded,
        log_check,
        simulation_note,
        stored_json,
    )

    with _open(args, read_only=True) as records:
        row = records.drill_run(args.drill_run)
    script = drill_run_script(row)
    # Devices used uncalibrated on a range master's override (nothing read from a DAMAGED one).
    uncalibrated = [] if row.get("problem") else drill_run_uncalibrated(row)
    # Its log on disk, edited or moved since it was recorded, is said here too, not only by
    # `records verify` (nu20 #6).
    log_ok, log_why = (None, "") if row.get("problem") else log_check(row)
    try:
        result = stored_json(row, "result", "drill run")
    except RecordsError:  # shown DAMAGED (its outcome), with nothing read from it
        result = None
    score = result.get("score", {}) if isinstance(result, dict) else {}

    def data() -> dict[str, Any]:
        shown = {k: v for k, v in row.items() if k != "result"}
        shown |= _passed(drill_outcome(row), row["passed"])
        if not graded(row["outcome"]):
            shown["score"] = None  # never graded (INCOMPLETE, ABORTED): no score
        shown["drill_label"] = drill_label(row)
        shown["officer"] = script or "live"
        shown["officer_kind"] = "scripted" if script else "live"
        shown |= damaged_run(row["outcome"])
        shown["corrected"] = row.get("corrected", [])
        shown["uncalibrated"] = uncalibrated
        shown["weapons_left_out"] = list(score.get("weapons_left_out") or [])
        if log_ok is False:
            shown["log_edited"] = log_why
        shown["result"] = result
        return shown

    def findings(scored: dict[str, Any]) -> Iterator[str]:
        for finding in scored.get("findings", []):
            yield (
                f"  {finding['t']:7.2f} s  {finding['rule']:<10} {finding['points']:+6.1f}"
                f"  {finding['message']}"
            )

    def text() -> Iterator[str]:
        yield (
            f"Drill run {row['id']}: badge {row['badge']}, {drill_label(row)}, {row['recorded']}"
        )
        if row["drill_sha256"]:
            yield f"  drill file sha256 {row['drill_sha256']} ({row['drill_origin']})"
        points = f"score {row['score']:g}" if graded(row["outcome"]) else "not graded"
        # None when not graded: an ABORTED run says who stopped it below, an INCOMPLETE one
        # decided nothing.
        said = f"{row['decision']}; " if graded(row["outcome"]) else ""
        if not said and row["outcome"].startswith("INCOMPLETE"):
            said = f"{drill_run_no_decision(row)}; "  # debrief unanswered, faulted, cut short
        yield (
            f"  {row['outcome']}: {said}{points}; seed {row['seed']},"
            f" OpenRange {row['software_version']}"
        )
        if score.get("policy"):  # the policy that judged the run (nu24 #2)
            yield f"  judged by policy {score['policy']}"
        if row.get("problem"):
            yield f"  WARNING: {row['problem']}: run records verify"
        if log_ok is False:
            yield f"  WARNING: {log_why}: run records verify"
        for device in uncalibrated:
            yield f"  UNCALIBRATED: {device}"
        if left := score.get("weapons_left_out"):  # the range master's --without (rc21 #5)
            yield f"  Left out: {left_out(left)}"
        if script:
            yield f"  {simulation_note(script, row['badge'])}"
        for c in row.get("corrected", []):
            if row.get("recorded_score") is None or c["score"] is None:
                # Never graded (ABORTED, INCOMPLETE): a correction gives it no score either.
                yield (
                    f"  corrected by {c['by']} on {c['recorded']} (speech correct): still not"
                    " graded"
                )
                continue
            yield (
                f"  corrected by {c['by']} on {c['recorded']} (speech correct): score"
                f" {row['recorded_score']:g} as recorded -> {c['score']:g}"
            )
        closed = result.get("closed") if isinstance(result, dict) else None
        if isinstance(closed, dict):
            yield f"  closed by {closed['closed_by']} on {closed['closed']}: {closed['reason']}"
        corrected = row.get("corrected_score")

        def graded_as(score: Any) -> str:
            return "not graded" if score is None else f"score {score:g}"

        if isinstance(corrected, dict):
            # The findings the score shown comes from, then those of the score as recorded.
            yield f"  findings as corrected ({graded_as(row['score'])}):"
            yield from findings(corrected)
            yield f"  findings as recorded ({graded_as(row['recorded_score'])}):"
        elif row.get("corrected"):
            yield f"  findings as recorded ({graded_as(row['recorded_score'])}; the corrected"
            yield "  findings were not kept: run records verify):"
        yield from findings(score)
        if row["run_dir"]:
            yield f"  run folder {run_folder(row['run_dir'])}"

    return _answer(args, data, text, default=str)


def run_folder(kept: str) -> str:
    """A drill run's kept run folder as `records show` says it: an absolute one as it is; a
    relative one (kept by an older OpenRange, relative to the folder the run was started in,
    which was not recorded) found from here when it is, else said so."""
    path = Path(kept)
    if path.is_absolute():
        if not path.is_dir():
            return f"{path} (missing: moved or deleted since)"
        return f"{path} (`openrange score` or `report` it)"
    if path.is_dir():
        return f"{path.resolve()} (`openrange score` or `report` it)"
    return (
        f"{kept} (kept relative to the folder the run was started in, which was not recorded:"
        " run `openrange score` from that folder)"
    )


def _show(args: argparse.Namespace) -> int:
    if (args.attempt is None) == (args.drill_run is None):
        raise ValueError(
            "give a qualification record's number (`records show 12`) or a drill run's"
            " (`records show --drill-run 5`): the numbers `records history BADGE` lists"
        )
    if args.drill_run is not None:
        return _show_drill_run(args)
    from range.records.exports import NOT_KEPT, score_sheet
    from range.records.store import (
        DAMAGED,
        RecordsError,
        attempt_folders,
        attempt_log_checks,
        course_label,
        held_points,
        outcome,
        stored_json,
    )
    from range.runs.runlog import EVENTS

    with _open(args, read_only=True) as records:
        # In-progress attempts are numbered apart: one of this number is named, never shown.
        other = next((r for r in records.incomplete() if r["id"] == args.attempt), None)
        try:
            row = records.qualification(args.attempt)
        except RecordsError as exc:
            if other is None:
                raise
            raise RecordsError(
                f"{exc}; in-progress attempt #{args.attempt} (badge {other['badge']},"
                f" {other['course']}) is not a record until it is finished or closed:"
                " `records incomplete`"
            ) from None
        wrong = records.check_record(row)
    detail = stored_json(row, "detail")
    calibration = stored_json(row, "calibration")
    try:
        lines, total = score_sheet(row)
        unsheeted = None
    except RecordsError as exc:  # a shot sealed damaged: the rest of the record is shown
        lines, total, unsheeted = [], None, str(exc)
    # The folders its event logs were saved in: two or more for an attempt resumed after a
    # crash (`openrange score` on any of them rescores the whole attempt).
    logs = attempt_folders(detail.get("shots", []))
    # A part whose folder, or the event log in it, is not there (as `verify` says).
    missing = [folder for folder in logs if not (Path(folder) / EVENTS).is_file()]
    # A log edited since the record kept its sha256 (as `verify`, `score` and `report` say).
    edited_logs = [why for ok, why in attempt_log_checks(row) if ok is False and "edited" in why]

    def data() -> dict[str, Any]:
        shown = {**row, "detail": detail, "calibration": calibration, "outcome": outcome(row)}
        shown |= _passed(shown["outcome"], row["passed"])
        shown |= held_points(row, shown["outcome"])
        shown["problem"] = wrong
        if unsheeted is not None:
            shown["sheet_problem"] = unsheeted
        shown["course_label"] = course_label(row)
        shown["devices"] = stored_json(row, "devices")
        shown["logs"] = logs
        shown["logs_missing"] = missing  # folders named in the record that are not there
        shown["logs_edited"] = edited_logs
        shown["sheet"] = [
            {
                "kind": line.kind,
                "stage": line.stage,
                "string": line.string,
                "t_s": line.t_s,
                "where": line.where,
                "points": line.points,
                "note": line.note,
            }
            for line in lines
        ]
        return shown

    def text() -> Iterator[str]:
        yield (
            f"Qualification {row['id']}: badge {row['badge']}, {course_label(row)},"
            f" {row['finished']}"
        )
        if row["course_sha256"]:
            yield f"  course file sha256 {row['course_sha256']} ({row['course_origin']})"
        said = outcome(row)
        held = held_points(row, said)  # none for a DAMAGED record: its numbers were edited
        points, hits = ("-", "-") if held["points"] is None else (held["points"], held["hits"])
        yield (
            f"  {points}/{row['max_points']} points, {hits} hits, {said}; seed {row['seed']},"
            f" OpenRange {row['software_version']}"
        )
        for n, folder in enumerate(logs, 1):
            part = f" (part {n} of {len(logs)})" if len(logs) > 1 else ""
            gone = " (missing)" if folder in missing else ""
            yield f"  event log in {folder}{part}{gone}"
        for why in edited_logs:
            # The edit may or may not change the score: the record is not from this log.
            yield f"  WARNING: {why}: the record was not made from the log as it is now"
        if wrong is not None:
            yield f"  WARNING: {wrong}: run records verify"
        closed = detail.get("incomplete")
        if closed:
            was = f" (was in-progress attempt #{closed['attempt']})" if "attempt" in closed else ""
            # Not dated by lanes before nu22 #2 (`closed_entry`): those records are chained.
            on = f" on {closed['closed']}" if "closed" in closed else ""
            yield f"  closed by {closed['closed_by']}{on}: {closed['reason']}{was}"
        if other is not None:
            yield (
                f"  (in-progress attempt #{other['id']} is another attempt, not this record:"
                " `records incomplete`)"
            )
        for device in calibration:
            profile = device.get("profile")
            by = f", by {profile['armorer']} on {profile['calibrated']}" if profile else ""
            yield f"  device {device['serial']}: {device['reason']}{by}"
        # Aligned on the widest "stage N string M": string 10 and on keep the columns.
        where = [f"stage {line.stage} string {line.string}" for line in lines]
        width = max((len(w) for w in where), default=0)
        for line, at in zip(lines, where, strict=True):
            t = "" if line.t_s is None else f"{line.t_s:6.2f} s"
            yield (
                f"  {line.kind:<11} {at:<{width}}  {t}"
                f"  {line.where:<14} {'-' if line.points is None else line.points:>3}"
                + (f"  ({line.note})" if line.note else "")
            )
        if unsheeted is not None:
            yield f"  WARNING: {unsheeted}"
        elif total is None and lines:
            yield f"  ({NOT_KEPT}; recorded total {row['points']} points)"
        elif said == DAMAGED:
            yield f"  sheet total {total}: the record is DAMAGED, no recorded total to trust"
        elif closed is None:
            mark = "=" if total == row["points"] else "DIFFERS FROM"
            yield f"  sheet total {total} {mark} recorded {row['points']} points"
        yield f"  hash {row['hash']}"

    return _answer(args, data, text, default=str)


def _verify(args: argparse.Namespace) -> int:
    from range.console.store import audit_count, has_audit, head_set_at_upgrade, verify_audit
    from range.records.store import WALKED_TABLES, Problem

    def fmt(ids: list[int]) -> str:
        shown = ", ".join(str(i) for i in ids[:10])
        return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")

    with _open(args, read_only=True) as records, records.snapshot():
        # Everything in one snapshot: the chains, the counts and the console's audit trail
        # agree with one another even while a lane or the console writes (PostgreSQL).
        problems = records.verify()
        missing = records.missing_tables()  # said in one of the problems too
        counts = records.counts()
        schema = records.schema_version  # what a too-new store's refusal names too
        # Kept runs whose drill/course file copy no longer matches its record: warnings.
        warnings = records.rescore_warnings()
        # Records sealed with a shot whose sheet cannot be drawn (`records show` warns of
        # them too): warnings naming record, shot and field, not chain breaks.
        if "qualifications" not in missing:  # dropped: said among the problems
            warnings += records.sheet_warnings()
        # Drill runs whose log cannot be checked, by why: recorded before their log's hash was
        # kept, or closed when their folder had no log.
        unhashed: dict[str, list[int]] = {}
        for run, ok, why in records.drill_run_log_checks():
            if ok is None:
                unhashed.setdefault(why, []).append(run)
        # The console's audit trail (who did what on the range), hash-chained beside the
        # records when a console has used this database: checked with them.
        if has_audit(records):
            counts["audit_rows"] = audit_count(records)
        # Run without a trail too: a record the console wrote names the trail it saw.
        problems += [Problem(0, what, "console audit") for what in verify_audit(records)]
        # A head the schema 8 migration set for a trail kept before heads: said, not a problem.
        upgraded = head_set_at_upgrade(records)
    found = [{"record": p.qualification, "chain": p.kind, "problem": p.what} for p in problems]

    def plural(n: int, what: str) -> str:
        return f"{n} {what}{'' if n == 1 else 's'}"

    def text() -> Iterator[str]:
        checked = (
            f"{plural(counts['records'], 'qualification record')},"
            f" {plural(counts['officers'], 'officer')},"
            f" {plural(counts['drill_runs'], 'drill run')}"
            + (
                f" ({plural(counts['amendments'], 'correction')})"
                if counts.get("amendments")
                else ""
            )
            + (
                f", {plural(counts['audit_rows'], 'console audit row')}"
                if "audit_rows" in counts
                else ""
            )
        )
        if problems:
            # A table the chains are in dropped: nothing was walked, only counted.
            done = "kept, not walked" if WALKED_TABLES.intersection(missing) else "checked"
            yield f"chain NOT intact: {plural(len(problems), 'problem')} in {checked} {done}"
        elif warnings:  # the chain holds, but a kept run or a record's sheet is not whole
            yield f"chain intact, {plural(len(warnings), 'warning')}: {checked}"
        else:
            yield f"chain intact: {checked}"
        if counts["in_progress"]:
            yield (
                f"{plural(counts['in_progress'], 'attempt')} in progress, not chained until"
                " finished or closed: see `openrange records incomplete`"
            )
        if counts.get("drill_runs_in_progress"):
            yield (
                f"{plural(counts['drill_runs_in_progress'], 'drill run')} in progress (begun"
                " and never finished: killed, or playing now), not chained until finished or"
                " closed: see `openrange records incomplete`"
            )
        for why, runs in unhashed.items():
            yield f"{plural(len(runs), 'drill run')} with {why}: {fmt(runs)}"
        if upgraded is not None:
            yield upgraded
        for warning in warnings:
            yield f"WARNING: {warning.what}"
        for problem in problems:
            if problem.kind == "qualification":
                yield f"record {problem.qualification}: {problem.what}"
            else:
                yield problem.what

    warned = [{"record": w.qualification, "problem": w.what} for w in warnings]
    return _answer(
        args,
        lambda: (
            {"schema_version": schema}
            | counts
            | {"intact": not problems, "missing_tables": missing}
            | {"problems": found, "warnings": warned}
            | ({} if upgraded is None else {"audit_head_set_at_upgrade": upgraded})
            | {
                "unchecked_logs": [
                    {"drill_run": r, "why": w} for w, rs in unhashed.items() for r in rs
                ]
            }
        ),
        text,
        code=1 if problems else VERIFY_WARNED if warnings else 0,
        to=sys.stderr if problems else sys.stdout,
    )


# `records verify`'s exit status when the chain holds but a kept run's drill or course file no
# longer matches its record (docs/records.md): a script learns a run can no longer be rescored.
VERIFY_WARNED = 3


def _incomplete(args: argparse.Namespace) -> int:
    with _open(args, read_only=True) as records:
        rows = records.incomplete()
        drills = records.incomplete_drill_runs()

    def text() -> Iterator[str]:
        if not rows:
            yield "no incomplete attempts"
        else:
            # In-progress attempts are numbered apart from qualification records: "#N".
            yield "resume: openrange course run COURSE --badge BADGE --resume N  (N of #N)"
            yield "close:  openrange records close N --by NAME --reason TEXT"
        badge = column_width((r["badge"] for r in [*rows, *drills]), 8)
        course = column_width((r["course"] for r in rows), 24)
        for r in rows:
            yield (
                f"  in-progress attempt #{r['id']:<5} badge {pad(r['badge'], badge)}"
                f" {pad(r['course'], course)}"
                f" seed {r['seed']:<6} started {r['started']}  {r['shots']} shots kept"
                + ("  (being fired now: not crashed)" if r["live"] else "")
            )
        if drills:
            yield "drill runs begun and never finished (INCOMPLETE until closed):"
            yield "close:  openrange records close --drill-run ID --by NAME --reason TEXT"
        drill = column_width((d["drill"] for d in drills), 24)
        for d in drills:
            yield (
                f"  drill run in progress {d['id']:<5} badge {pad(d['badge'], badge)}"
                f" {pad(d['drill'], drill)}"
                f" seed {d['seed']:<6} started {d['started']}  run folder {d['run_dir'] or '-'}"
                + ("  (being played now: not crashed)" if d["live"] else "")
            )

    # One list, each entry saying which kind it is (an attempt or a drill run).
    listed = [r | {"kind": "attempt"} for r in rows] + [d | {"kind": "drill_run"} for d in drills]
    return _answer(args, lambda: listed, text)


def _close(args: argparse.Namespace) -> int:
    if (args.attempt is None) == (args.drill_run is None):
        raise ValueError(
            "give an attempt's number (`records close 17`) or a drill run's (`records close"
            " --drill-run 5`): the numbers `records incomplete` lists"
        )
    if args.drill_run is not None:
        return _close_drill_run(args)
    with _open(args) as records:
        record = records.close_attempt(args.attempt, args.by, args.reason)
    said = (
        f"In-progress attempt #{args.attempt} closed as INCOMPLETE: saved as qualification"
        f" record {record} (`records show {record}`)."
    )
    return _answer(args, lambda: {"attempt": args.attempt, "record": record}, lambda: [said])


def _close_drill_run(args: argparse.Namespace) -> int:
    """A drill run begun and never finished, kept in the records from what its run folder's
    log holds (scored from it: INCOMPLETE without `run_ended`; a log that did end, as when the
    process died just after the run, keeps its result), with who closed it and why."""
    from range.cli.drill import result_from_log
    from range.records.store import stored_json

    with _open(args) as records:
        progress = records.drill_run_in_progress(args.drill_run)
        folder = progress["run_dir"]
        result = result_from_log(
            Path(folder) if folder else None,
            drill=progress["drill"],
            digest=progress["drill_sha256"],
            officer=progress["officer"],
            seed=int(progress["seed"]),
            why="killed before it was recorded",
        )
        record = records.close_drill_run(args.drill_run, args.by, args.reason, result)
        row = records.drill_run(record)
    # A folder gone (moved or deleted): nothing of the run was there to score (rc19 #1), as the
    # close kept it in the record (rv20a #1: decided once, by the store); read back from the
    # record, not by hashing the log a second time (rv21a #1).
    closed = (stored_json(row, "result", "drill run") or {}).get("closed", {})
    missing = closed.get("log_missing") is True
    kept = (
        f"saved in the records; its run folder {folder} has no log (moved or deleted?):"
        " nothing of the run was scored"
        if missing
        else "saved"
    )
    # Two numbers, never mixed: the in-progress one is `#N`, as attempts' are.
    said = (
        f"In-progress drill run #{args.drill_run} closed as drill run {record},"
        f" {row['outcome']}, {kept}."
    )
    out = {
        "drill_run_in_progress": args.drill_run,
        "drill_run": record,
        "outcome": row["outcome"],
        "log_missing": missing,
    }
    return _answer(args, lambda: out, lambda: [said])


def _export(args: argparse.Namespace) -> int:
    from range.records import exports

    if args.since is not None and args.until is not None and args.since > args.until:
        raise ValueError(f"--from {args.since} is after --to {args.until}: nothing lies between")
    _check_export_options(args)
    args.valid_days = 365 if args.valid_days is None else args.valid_days
    args.warn_days = 30 if args.warn_days is None else args.warn_days
    with _open(args, read_only=True) as records:
        if args.format == "csv":
            csv_of = exports.export_drill_runs_csv if args.drill_runs else exports.export_csv
            return _emit(args, csv_of(records, args.since, args.until))
        if args.drill_runs:
            raise ValueError("--drill-runs is for --format csv")
        if args.attempt is not None:
            if args.format == "html":
                # The one certificate layout, the PDF's and the console's (certificate.py).
                from range.records.certificate import certificate_html, certificate_text

                return _emit(args, certificate_html(certificate_text(records, args.attempt)))
            return _certificate_pdf(args, records)
        today = datetime.now(UTC).date() if args.until is None else date.fromisoformat(args.until)
        lines_ = exports.roster(records, today, args.valid_days, args.warn_days)
    if args.format == "html":
        return _emit(args, exports.roster_html(lines_, today, args.valid_days))
    page = [f"As of {today}; valid {args.valid_days} days, per course.", ""]
    badge = column_width((r.badge for r in lines_), 8)
    name = column_width((r.name for r in lines_), 20)
    course = column_width((r.course or "-" for r in lines_), 22)
    page += [
        f"{pad(r.badge, badge)} {pad(r.name, name)} {pad(r.course or '-', course)} {r.status:<13}"
        f" last {r.last_pass or '-':<10} expires {r.expires or '-':<10} {r.warning}"
        for r in lines_
    ]
    return _pdf(args, "Qualification roster", page)


def _check_export_options(args: argparse.Namespace) -> None:
    """Refuse an option the export asked for would ignore (an option given is never dropped
    silently): csv lists records, a certificate is one attempt's, a roster is as of --to."""
    given = {
        "--attempt": args.attempt is not None,
        "--from": args.since is not None,
        "--to": args.until is not None,
        "--valid-days": args.valid_days is not None,
        "--warn-days": args.warn_days is not None,
    }
    if args.format == "csv":
        what, used = "--format csv (records from/to a date)", {"--from", "--to"}
    elif args.attempt is not None:
        what, used = f"--format {args.format} --attempt (one attempt's certificate)", {"--attempt"}
    else:
        what = f"--format {args.format} (a roster as of --to)"
        used = {"--to", "--valid-days", "--warn-days"}
    unused = [option for option, on in given.items() if on and option not in used]
    if args.attempt is not None and args.format != "csv" and "--valid-days" in unused:
        from range.records.exports import VALID_DAYS

        # One certificate, one expiry: the console issues the same page for the same record.
        raise ValueError(
            f"--valid-days is not used by a certificate (--attempt): it expires {VALID_DAYS}"
            " days after its attempt, as the console's copy of the same certificate says;"
            " --valid-days sets a roster's expiry"
        )
    if unused:
        raise ValueError(
            f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used by {what}:"
            f" it takes {', '.join(sorted(used))}"
        )
    valid = 365 if args.valid_days is None else args.valid_days
    if args.warn_days is not None and args.warn_days > valid:
        raise ValueError(
            f"--warn-days {args.warn_days} is longer than a qualification stays valid"
            f" (--valid-days {valid}): allowed 1 to {valid}"
        )


def _emit(args: argparse.Namespace, text: str) -> int:
    if args.out is None:
        sys.stdout.write(text)
    else:
        outfile.write_text(args.out, text)  # whole or absent; a full disk names the file
    return 0


def _certificate_pdf(args: argparse.Namespace, records: Records) -> int:
    """The attempt's certificate (or attempt record) as the console issues it: the one layout
    in range/records/certificate.py, written whole or not at all (range/outfile.py)."""
    require("matplotlib")
    from range.records.certificate import write_certificate_pdf

    if args.out is None:
        raise ValueError("a PDF needs --out FILE")
    write_certificate_pdf(args.out, records, args.attempt)
    return 0


def _pdf(args: argparse.Namespace, title: str, lines: list[str]) -> int:
    require("matplotlib")
    from range.records.exports import write_pdf

    if args.out is None:
        raise ValueError("a PDF needs --out FILE")
    write_pdf(args.out, title, lines)
    return 0
