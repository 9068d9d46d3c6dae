"""The `openrange` command (also `python -m range`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from peripherals.errors import PeripheralError
from range import __version__
from range.calibration.solver import CalibrationError
from range.cli import analyze as cli_analyze
from range.cli import calibrate as cli_calibrate
from range.cli import console as cli_console
from range.cli import course as cli_course
from range.cli import drill as cli_drill
from range.cli import peripherals as cli_peripherals
from range.cli import policy as cli_policy
from range.cli import records as cli_records
from range.cli import replay as cli_replay
from range.cli import speech as cli_speech
from range.cli import util as cliutil
from range.cli import xr as cli_xr
from range.cli.sound import check_sound_options
from range.deps import MissingDependencyError, require
from range.records.store import RecordsError
from range.review.render import RenderUnavailableError
from range.xr.runtime import XRUnavailableError

if TYPE_CHECKING:
    from drills.log import LogRecord
    from range.cli.corrections import Fixes, RecordedCorrections
    from range.records.store import Records
    from scoring.score import Score

T = TypeVar("T")

DESCRIPTION = """\
OpenRange: an open VR use-of-force training range.

Officers run drills with replica TASERs and pistols; PyBullet flies every probe and round;
the drill engine scores decisions, less-lethal first, reaction time and hit placement.
Range masters keep the records; armorers calibrate the replicas.
"""

EPILOG = """\
examples:
  openrange demo                     run the built-in knife drill, no hardware needed
  openrange demo --seed 7 --json     the same run, reproducible, as JSON for scripts
  openrange drill list               the drill library; `drill run ID` plays one
  openrange score runs/<run>/        rescore a saved run from its event log
  openrange analyze spread --cartridge taser7-cq --distance 5..25ft
                                     probe spread odds per distance (--plot for a chart)
  openrange peripherals emulate taser-7
                                     an emulated replica on a real tty, for trying the stack

Every command has its own --help.
"""


# The demo's officer script when --officer is not given: the knife approach's expected response.
_DEMO_OFFICER = "taser-first-v1"


def _demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run a complete simulated drill end to end (no hardware)",
        description=(
            "Run one built-in drill end to end through the path real hardware takes: emulated "
            "TASER 7 and pistol replicas behind real pseudo-terminals, read through pyserial; a "
            "scripted officer who commands, draws, aims and fires; PyBullet probe and bullet "
            "flight against the subject's body; the drill engine and the scorer. Prints a scored "
            "summary and saves the run's event log (events.jsonl) and result (result.json) under "
            "RUNS_DIR/<time>-<drill>/."
        ),
        epilog=(
            "examples:\n"
            "  openrange demo --seed 7          the same seed replays the same run exactly\n"
            "  openrange demo --json | jq .score.decision\n"
            "  openrange demo --no-save         do not write a run directory\n"
            "  openrange demo --unplug-at 1.0   pull the TASER's cable mid-drill\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--drill",
        default="knife-approach-v1",
        help="built-in drill id or path to a drill file (default: %(default)s)",
    )
    p.add_argument(
        "--officer",
        help=(
            f"scripted officer id or file (default: {_DEMO_OFFICER}); a script you name has its"
            " declared `expect` checked (exit 10 when it does not hold)"
        ),
    )
    cli_drill.add_run_options(p)
    p.set_defaults(handler=_cmd_demo)


def _score_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "score",
        help="rescore saved runs; across runs, hit and false-alarm rates per officer",
        description=(
            "Read each RUN_DIR/events.jsonl and score it again, by the policy the run was "
            "judged by (kept with it), or rescore it by another with --policy. The score depends "
            "on the log alone, so the same log and policy always give the same score. With "
            "several runs, also report per officer the hit rate (fired the firearm when a "
            "subject posed a deadly threat), the false-alarm rate "
            "(fired when none did) and d-prime."
        ),
        epilog="examples:\n  openrange score runs/20261121-101500-phone-draw-v1\n"
        "  openrange score runs/*-phone-draw-v1 --json\n"
        "  openrange score runs/*-fbi-pistol-2019-v1\n"
        "drill runs and qualification attempts are scored in separate commands: a mix is\n"
        "refused, naming the attempts (`course run --runs-dir DIR` keeps them apart)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="directories under runs/"
    )
    p.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="rescore by this policy TOML, not the run's own; says the policy each run was"
        " judged by (docs/scoring.md)",
    )
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(handler=_cmd_score)


def _report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="an after-action review of a saved run, as one HTML file",
        description="Write a self-contained HTML after-action review of RUN_DIR: the threat "
        "over time with the officer's actions, a top-down map, for each shot a "
        "rendered image from the officer's viewpoint and one from the subject's, "
        "the score with every finding, and the timeline. Rendering needs OpenGL "
        "(EGL on a machine with no display).",
        epilog="examples:\n  openrange report runs/20261121-101500-knife-approach-v1\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a directory under runs/")
    p.add_argument("--out", type=Path, default=None, help="default: RUN_DIR/report.html")
    p.set_defaults(handler=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    require("numpy", "pydantic", "moderngl", "matplotlib")
    from range.review.report import write_report

    ((edited, recorded),) = _edited_and_recorded([args.run_dir])
    # The voice's and the corrections' warnings, as the report checked them for its page.
    said: list[str] = []
    path = write_report(args.run_dir, args.out, edited, said.append, recorded)
    if edited is not None:  # once it could be read: one that cannot is one line alone
        print(f"openrange: warning: {edited}; reviewed as it is now", file=sys.stderr)
    for line in said:
        print(f"openrange: {line}", file=sys.stderr)
    print(path)
    return 0


def _mirror_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mirror",
        help="the instructor's window: play a run back from the officer's eyes",
        description="Open a window on this machine's display and play RUN_DIR back as the "
        "officer saw it: the subjects moving, their stances and what they held, "
        "every impact as it lands. Needs a display; for a review without one, use "
        "`openrange report`.",
        epilog="examples:\n  openrange mirror runs/20261121-101500-knife-approach-v1 --speed 0.5\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a directory under runs/")
    p.add_argument(
        "--speed", type=cliutil.positive_float, default=1.0, help="playback speed (default 1)"
    )
    p.add_argument(
        "--frames",
        type=cliutil.positive_int,
        default=None,
        help="show this many frames spread over the run, then close",
    )
    p.add_argument(
        "--screenshot", type=Path, default=None, help="with --frames: save the last frame as a PNG"
    )
    p.set_defaults(handler=_cmd_mirror)


def _cmd_mirror(args: argparse.Namespace) -> int:
    require("numpy", "pydantic", "moderngl", "glfw")
    from range.review.mirror import play
    from range.runs.saved import drill_run_records

    # A missing, unreadable or empty log, or an attempt's, is named before any display check.
    drill_run_records(args.run_dir)
    shown = play(args.run_dir, speed=args.speed, frames=args.frames, screenshot=args.screenshot)
    print(f"{shown} frames shown")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = cliutil.Parser(
        prog="openrange",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"openrange {__version__}")
    # Every sub-parser is a cliutil.Parser too (argparse makes them of the parent's class).
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        title="commands", metavar="COMMAND"
    )  # type: ignore[assignment]
    _demo_parser(sub)
    cli_drill.register(sub)
    cli_course.register(sub)
    cli_records.register(sub)
    _score_parser(sub)
    _report_parser(sub)
    _mirror_parser(sub)
    cli_replay.register(sub)
    cli_analyze.register(sub)
    cli_calibrate.register(sub)
    cli_peripherals.register(sub)
    cli_policy.register(sub)
    cli_xr.register(sub)
    cli_console.register(sub)
    cli_speech.register(sub)
    return parser


# Exit statuses (README.md "Exit statuses"): 0 done; 1 a check failed (a data file, a
# verification); 2 a usage or data error (an output path `range.outfile.check` refuses too);
# 3 a missing dependency; 4 a peripheral; 5 the records; 6 OpenXR; 7 a calibration gate;
# 8 rendering; 9 storage (a full disk, a file that cannot be written); 10 an officer script's
# expectation unmet; 11 a drill run that ended not graded (faulted, aborted, an unanswered
# debrief, a talk-down with audio off), and `score` of only such runs; 130 Ctrl-C; 70 a bug in
# OpenRange.
_EXIT_BUG = 70


# The project root: this file is range/cli/main.py.
_PACKAGES = tuple(
    str(Path(__file__).resolve().parents[2] / name) + os.sep
    for name in ("range", "drills", "scoring", "physics", "peripherals")
)


def _raised_by_openrange(exc: BaseException) -> bool:
    """Whether the innermost Python frame of `exc`'s traceback is OpenRange's own code."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(_PACKAGES)


def _known_error(exc: BaseException) -> tuple[int, str] | None:
    """The exit status and the one line for an error the user can act on, or None for a bug.

    Each layer translates what it knows once, at its boundary, into one of these types with
    `raise ... from` (a TOML error into DataFileError, a full disk into RunWriteError); here
    they are only printed. A bare KeyError, a TypeError, a RecursionError... is a bug: it is
    never printed as if it were the user's mistake."""
    from drills.events import EventLogError
    from physics.datafiles import DataFileError, NotFoundError
    from range.outfile import RefusedTargetError
    from range.runs.runlog import RunWriteError

    if isinstance(exc, RefusedTargetError):
        # A target the user named that `range.outfile.check` refuses (a run's own file, a
        # device): a usage error, not storage; what was asked for is never tried (rc21 #7f).
        return 2, f"{exc.filename}: {exc.strerror}"
    table: list[tuple[type[BaseException], int, str]] = [
        (MissingDependencyError, 3, ""),
        (PeripheralError, 4, ""),
        (RenderUnavailableError, 8, ""),
        (CalibrationError, 7, "refused: "),
        (XRUnavailableError, 6, ""),
        (RecordsError, 5, ""),
        (RunWriteError, 9, ""),
        (DataFileError, 2, ""),
        (EventLogError, 2, ""),
        (NotFoundError, 2, ""),
    ]
    for kind, status, prefix in table:
        if isinstance(exc, kind):
            return status, f"{prefix}{exc}"
    # The code's convention: a ValueError that OpenRange raises carries a refusal meant for the
    # user (a drill with no expected response, an unknown button, a cartridge a model cannot
    # fire). One raised inside a library (a JSON decoder, pydantic, numpy) was not translated
    # at its boundary: that is a bug, shown as one.
    if isinstance(exc, ValueError) and _raised_by_openrange(exc):
        return 2, str(exc)
    if isinstance(exc, FileNotFoundError):
        return 2, f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, ConnectionError):
        where = f"{exc.filename}: " if exc.filename else ""
        return 9, f"{where}{exc.strerror or exc}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """The `openrange` command: its exit status. Run as the process's own command line
    (`argv` None, in the main thread), a Ctrl-C once the command is done is ignored: its files
    are written and its lines said, and the interpreter's shutdown (a good part of a second
    after `report`, with a renderer to tear down) restores SIGINT's default first, so a Ctrl-C
    then killed the process by signal with no word. An in-process caller's handler is left."""
    status = _main(argv)
    if argv is None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return status


# Options whose value may begin with "-" and is not a plain number (`--instructor -3:A`):
# argparse takes such a word for an option and says only "expected one argument". Joined to
# their option, the value reaches the option's own check, which names the range (nu23 #9).
_DASH_VALUES = ("--instructor",)


def _joined_dash_values(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word in _DASH_VALUES:
            value = next(words, None)
            if value is not None and value.startswith("-") and value != "--":
                out.append(f"{word}={value}")
                continue
            out.append(word)
            if value is not None:
                out.append(value)
            continue
        out.append(word)
    return out


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(_joined_dash_values(sys.argv[1:] if argv is None else argv))
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        check_sound_options(args)  # --sound-device means --sound alsa (one line otherwise)
        return int(args.handler(args))
    except KeyboardInterrupt:
        # Ctrl-C outside a run that closes itself (a drill, a course attempt): one line, no
        # traceback, the shell's status for SIGINT.
        print("openrange: stopped (Ctrl-C)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `openrange ... | head`: the reader has gone; leave quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        known = _known_error(exc)
        if known is None:
            # A bug: show everything, say so, and never dress it up as the user's mistake.
            traceback.print_exc()
            print(
                f"openrange: internal error ({type(exc).__name__}): this is a bug in"
                " OpenRange; please report it with the lines above",
                file=sys.stderr,
            )
            return _EXIT_BUG
        status, line = known
        # Several problems (a data file's, one per line): each line says whose it is.
        for each in line.splitlines() or [line]:
            print(f"openrange: {each}", file=sys.stderr)
        return status


def _cmd_demo(args: argparse.Namespace) -> int:
    require("numpy", "pydantic", "serial", "pybullet")
    from drills.schema import read_drill_file

    script = args.officer or _DEMO_OFFICER
    source = read_drill_file(args.drill)
    return cli_drill.play(args, source, script, "scripted", check_expect=args.officer is not None)


def _cmd_score(args: argparse.Namespace) -> int:
    require("numpy", "pydantic")
    from range.cli.summary import format_detection, format_score
    from range.runs.policyfile import read_policy
    from range.runs.runlog import read_events
    from scoring.detection import detection
    from scoring.policy import Policy, default_policy

    # --policy rescores by another policy; without it each run is judged by the policy it was
    # run under, kept in its folder (nu24 #2).
    given_policy = read_policy(args.policy) if args.policy is not None else None  # read once
    policy = given_policy.policy if given_policy is not None else None
    label = given_policy.label if given_policy is not None else ""
    failed = 0
    # A batch's `--json` lists every run given, in the order given: a run left out is listed
    # with its error, so entry N is argument N (nu23 #3).
    given = list(args.run_dirs)
    skipped: dict[Path, dict[str, object]] = {}
    if len(args.run_dirs) == 1:  # one run: its error is the answer
        logs = [read_events(args.run_dirs[0])]
    else:  # a batch: a run that cannot be read is named, the others are scored
        logs, args.run_dirs, skipped = _readable(args.run_dirs)
        failed = len(skipped)
    # A qualification attempt's log opens with `attempt_started` (scoring.course.is_attempt;
    # not imported here: drill runs are rescored without PyBullet).
    if any(log and log[0].kind == "attempt_started" for log in logs):
        require("pybullet")
        return _score_attempts(args, logs)
    from range.calibration.used import uncalibrated
    from range.cli.corrections import checked_notes, corrected_score, voice_problem
    from range.cli.summary import calibration_lines, run_header, suspension_lines
    from range.runs.policyfile import saved_policy
    from range.runs.saved import kept_script_problems, verified_drill_copy

    # The drill file kept with each run must be the one it played, as report and replay check.
    # In a batch, a run whose copy was changed is named on stderr and left out; the others are
    # scored, and the exit status says one was left out.
    # An instructor's corrections of misheard speech, kept beside each log (never in it); any
    # that no longer applies (a stale or hand-edited file, an edited log) is said on stderr.
    # A corrections file that cannot be read is refused as a changed drill copy is: in a
    # batch, that run alone is left out (nu17c #16).
    # A run the user's records keep: its corrections file is checked against the corrections
    # they chained; where it differs, theirs are applied, and each difference is said.
    # A log edited since it was written (its result.json's sha256, or the records' where the
    # user's store keeps the run) is scored as it is now, with a warning naming it.
    checks = _edited_and_recorded(args.run_dirs)
    kept: list[tuple[Path, list[LogRecord], Fixes, list[str], str | None]] = []
    judged: dict[Path, tuple[Policy, str]] = {}  # the policy each run was judged by
    for run_dir, log, (why, chained) in zip(args.run_dirs, logs, checks, strict=True):
        try:
            unkept: list[str] = []
            if log and log[0].kind == "run_started":
                verified_drill_copy(run_dir, log[0].data)
                try:
                    judged[run_dir] = saved_policy(run_dir, log[0].data)
                except ValueError as exc:
                    if policy is None:
                        raise  # judged by its own policy: that copy is the one trusted
                    # Rescored by another (--policy): the kept copy would only name the policy
                    # that judged it, so a missing or edited one is said, not refused (rc25 #5).
                    named = str(log[0].data.get("policy") or "unknown")
                    judged[run_dir] = (default_policy(), f"{named} (its kept copy unchecked)")
                    unkept.append(f"warning: {exc}; rescored by --policy, which does not read it")
            fixes, notes = checked_notes(run_dir, log, chained)
            notes[:0] = unkept
            if (voice := voice_problem(run_dir, log)) is not None:
                notes.insert(0, f"warning: {voice}")
            if log:  # the officer script kept with the run, checked as the drill's copy is
                notes[:0] = [f"warning: {p}" for p in kept_script_problems(run_dir, log[0].data)]
        except ValueError as exc:
            if len(args.run_dirs) == 1:
                raise
            print(f"openrange: {exc}: not scored".replace("\n", "\nopenrange: "), file=sys.stderr)
            started = log[0].data if log and log[0].kind == "run_started" else {}
            skipped[run_dir] = {
                "drill": started.get("drill"),
                "seed": started.get("seed"),
                "error": f"{exc}: not scored",
            }
            failed += 1
            continue
        kept.append((run_dir, log, fixes, notes, why))
    if not kept:
        if args.json and len(given) > 1:
            _print_batch_json(given, {}, skipped, [])
        return 1
    args.run_dirs, logs = [k[0] for k in kept], [k[1] for k in kept]
    scores = []
    edited = _say_edited([k[4] for k in kept])
    rescored: dict[Path, str] = {}  # a run rescored by another policy: the one that judged it
    for run_dir, log, fixes, notes, _ in kept:
        for note in notes:
            print(f"openrange: {note}", file=sys.stderr)
        own, own_label = judged.get(run_dir) or (default_policy(), default_policy().id)
        if policy is not None and own_label != label:
            rescored[run_dir] = own_label
        score = corrected_score(run_dir, log, policy or own, fixes)
        scores.append(dataclasses.replace(score, policy=label or own_label))

    def as_json(
        score: Score, log_edited: str | None, log: list[LogRecord], run_dir: Path
    ) -> dict[str, object]:
        out = score.as_json()
        if run_dir in rescored:  # rescored by --policy: the policy the run was judged by
            out["judged_by"] = rescored[run_dir]
        if log_edited is not None:  # why the log is not the one written (absent: it is)
            out["log_edited"] = log_edited
        if overrides := uncalibrated(log):
            # Devices used without a valid calibration, on whose override (nu20 #6).
            out["uncalibrated"] = overrides
        if score.incomplete:  # not graded: no score at all, never a number
            out["score"] = None
        if args.policy is not None:
            out["policy_file"] = label
        return out

    if args.policy is not None and not args.json:
        print(f"Policy: {label}")
        for run_dir, was in rescored.items():
            # Rescored, not as judged: the run's own result and records name the other one.
            print(f"  rescored: {run_dir} was judged by {was}")
    # The shape follows the runs given, not those that could be scored: two runs given, one
    # left out, is still a batch (`runs` entry N is argument N; nu24 #8).
    if len(given) == 1:
        if args.json:
            print(
                json.dumps(
                    as_json(scores[0], edited[0], logs[0], args.run_dirs[0]),
                    indent=2,
                    sort_keys=True,
                )
            )
        else:
            # Which run this is (drill, seed, who played it), then the score; the Score: line
            # names the policy as the label does (a modified file flagged).
            print(run_header(args.run_dirs[0], logs[0]))
            for line in [*calibration_lines(logs[0]), *suspension_lines(logs[0])]:
                print(line)
            print(format_score(scores[0]))
        return _score_status(failed, scores)
    once = _counted_once(args.run_dirs)
    rows = detection([score for score, first in zip(scores, once, strict=True) if first])
    if args.json:
        scored: dict[Path, dict[str, object]] = {}
        for run_dir, score, log_edited, log in zip(
            args.run_dirs, scores, edited, logs, strict=True
        ):
            started = log[0].data if log and log[0].kind == "run_started" else {}
            scored[run_dir] = {
                "run_dir": str(run_dir),
                "drill": started.get("drill"),
                "seed": started.get("seed"),
                **as_json(score, log_edited, log, run_dir),
            }
        _print_batch_json(given, scored, skipped, [r.as_json() for r in rows])
        return _score_status(failed, scores)
    from range.cli.columns import column_width, pad

    # The decision column as wide as its longest decision: "critical failure: force on a
    # subject who posed no threat" ran into the run's folder with one space (nu23 #9).
    width = column_width((score.decision for score in scores), 48)
    for run_dir, score, log in zip(args.run_dirs, scores, logs, strict=True):
        points = "    -" if score.incomplete else f"{score.score:5.0f}"
        flag = "  (UNCALIBRATED replica, on an override)" if uncalibrated(log) else ""
        print(f"{score.outcome.value:<10}  {points}  {pad(score.decision, width)}  {run_dir}{flag}")
    print()
    print(format_detection(rows))
    return _score_status(failed, scores)


def _score_status(failed: int, scores: list[Score]) -> int:
    """`score`'s exit status for drill runs: 1 when a run was left out (a check failed);
    else `drill run`'s not-graded status (11) when no run given was graded (a lone run cut
    short, faulted or aborted; a batch of only such runs: nothing to grade or rate), as the
    run itself exited; else 0 (a batch with a graded run reports its rates; the runs not
    graded are listed as such)."""
    if failed:
        return 1
    if scores and all(score.incomplete for score in scores):
        return cli_drill.NOT_GRADED_STATUS
    return 0


def _counted_once(run_dirs: list[Path]) -> list[bool]:
    """For each run of a batch, whether it counts in the officer's rates: a run given twice
    (the same folder once resolved: `runs/X` and `./runs/X/` or a link to it; or a copy of the
    folder: the same events.jsonl, by sha256, saved as the same run, its result.json's
    `run_dir`) counts once, at its first mention, and each repeat is said in one line on
    stderr (rc21 #2: `score R R` counted two hits from one run). Runs whose logs are the same
    but that were saved as runs of their own (a scripted officer's, same drill and seed) are
    each counted."""
    import hashlib

    first: dict[tuple[object, ...], Path] = {}
    once: list[bool] = []
    for run_dir in run_dirs:
        folder = run_dir.resolve()
        keys: list[tuple[object, ...]] = [("folder", folder)]
        try:
            log = hashlib.sha256((folder / "events.jsonl").read_bytes()).hexdigest()
        except OSError:
            log = None  # read a moment ago; if not now, the folder alone decides
        try:
            saved = json.loads((folder / "result.json").read_text(encoding="utf-8"))
            saved_as = saved.get("run_dir") if isinstance(saved, dict) else None
        except (OSError, ValueError):
            saved_as = None  # no result (a run cut short): the folder alone decides
        if log is not None and saved_as is not None:  # a copy says which run it was saved as
            keys.append(("log", log, saved_as))
        same = next((first[k] for k in keys if k in first), None)
        if same is not None:
            why = "the same folder" if same.resolve() == folder else "a copy of its folder"
            print(
                f"openrange: {run_dir} is the same run as {same} ({why}):"
                " counted once in the officer's rates",
                file=sys.stderr,
            )
        once.append(same is None)
        for key in keys:
            first.setdefault(key, run_dir)
    return once


def _readable(
    run_dirs: list[Path],
) -> tuple[list[list[LogRecord]], list[Path], dict[Path, dict[str, object]]]:
    """The logs of a batch of runs that can be read, their folders, and the error of each that
    could not (each named on stderr in one line)."""
    from range.runs.runlog import read_events

    logs: list[list[LogRecord]] = []
    kept: list[Path] = []
    skipped: dict[Path, dict[str, object]] = {}
    for run_dir in run_dirs:
        try:
            logs.append(read_events(run_dir))
        except (OSError, ValueError) as exc:
            print(f"openrange: {exc}: not scored", file=sys.stderr)
            skipped[run_dir] = {"drill": None, "seed": None, "error": f"{exc}: not scored"}
            continue
        kept.append(run_dir)
    return logs, kept, skipped


def _print_batch_json(
    given: list[Path],
    scored: dict[Path, dict[str, object]],
    skipped: dict[Path, dict[str, object]],
    officers: list[dict[str, object]],
) -> None:
    """`score --json` of several runs: `runs` has one entry per run given, in order, each
    naming its `run_dir`, `drill` and `seed`; a run left out has `error` and no score."""
    runs: list[dict[str, object]] = []
    for run_dir in given:
        if run_dir in scored:
            runs.append(scored[run_dir])
        else:
            why = skipped.get(run_dir, {"drill": None, "seed": None, "error": "not scored"})
            runs.append({"run_dir": str(run_dir), **why})
    out = {"runs": runs, "officers": officers}
    print(json.dumps(out, indent=2, sort_keys=True))


def _with_records(run_dirs: list[Path], check: Callable[[Path, Records | None], T]) -> list[T]:
    """`check(run_dir, the user's records)` for each saved run, the records opened once for
    the batch (None where there are none)."""
    from range.records.store import Records, RecordsError

    try:
        stored: Records | None = Records.open(None, create=False, migrate=False)
    except RecordsError:
        stored = None
    try:
        return [check(run_dir, stored) for run_dir in run_dirs]
    finally:
        if stored is not None:
            stored.close()


def _edited(run_dirs: list[Path]) -> list[str | None]:
    """For each saved run, why its log (a drill run's or an attempt's) is not the one written,
    naming the file (range.cli.corrections.edited_log, against the user's records where they
    keep it, opened once for the batch), or None."""
    from range.cli.corrections import edited_log

    return _with_records(run_dirs, edited_log)


def _edited_and_recorded(
    run_dirs: list[Path],
) -> list[tuple[str | None, RecordedCorrections | None]]:
    """For each saved run, `_edited`'s line and the speech corrections the user's records
    chained for it (range.cli.corrections.recorded_corrections; None where they keep none to
    check), the records opened once for both."""
    from range.cli.corrections import edited_log, recorded_corrections

    return _with_records(
        run_dirs,
        lambda run_dir, store: (edited_log(run_dir, store), recorded_corrections(run_dir, store)),
    )


def _warn_edited(run_dirs: list[Path]) -> list[str | None]:
    """`_edited`, each said on stderr (the run is read as it is now); returned for `--json`."""
    return _say_edited(_edited(run_dirs))


def _say_edited(edited: list[str | None]) -> list[str | None]:
    """Each of `_edited`'s lines said on stderr (the run is read as it is now); returned for
    `--json`."""
    for why in edited:
        if why is not None:
            print(f"openrange: warning: {why}; scored as it is now", file=sys.stderr)
    return edited


def _score_attempts(args: argparse.Namespace, logs: list[list[LogRecord]]) -> int:
    """Rescore qualification attempts from their logs (scoring/course.py), each against the
    course it fired as kept in its folder. Drill runs and attempts are not mixed."""
    from range.cli.summary import format_attempt
    from range.records.store import OFFICER
    from range.runs.saved import attempt_log, kept_script_problems, saved_course
    from scoring.course import is_attempt, judged_attempt, rescore_attempt

    if not all(is_attempt(log) for log in logs):
        # Name them, so that the user can pick them out of runs/* (two kinds, two tables).
        attempts = [str(r) for r, log in zip(args.run_dirs, logs, strict=True) if is_attempt(log)]
        others = len(logs) - len(attempts)
        raise ValueError(
            "score drill runs and qualification attempts separately:"
            f" qualification attempt{'s' if len(attempts) != 1 else ''} {', '.join(attempts)}"
            f" among {others} drill run{'s' if others != 1 else ''}: `openrange score` the"
            " attempts' folders on their own, then the drill runs'"
        )
    scores = []
    edited = _warn_edited(args.run_dirs)  # as a drill run's: result.json's and the record's
    for run_dir, log in zip(args.run_dirs, logs, strict=True):
        course = saved_course(run_dir, log[0].data)
        # The shooter file kept with the attempt, checked as the course's copy is (nu24 #6).
        for problem in kept_script_problems(run_dir, log[0].data):
            print(f"openrange: warning: {problem}", file=sys.stderr)
        # A resumed attempt is scored whole, from every part's log, whichever part is given.
        scores.append((run_dir, course, rescore_attempt(course, attempt_log(run_dir))))
    # Fired by a scripted shooter (its `attempt_started` names one, not "officer"): a
    # simulation, never a qualification, however well it scored.
    simulated = [log[0].data.get("shooter", OFFICER) != OFFICER for log in logs]
    if args.json:
        pairs = zip(scores, simulated, strict=True)
        # The shape of the attempt's result.json `score` (one builder: judged_attempt).
        # With `log_edited` where the log is not the one written (absent: it is, and the
        # object is result.json's `score` exactly).
        out = [
            judged_attempt(s, sim) | ({"log_edited": e} if e is not None else {})
            for ((_, _, s), sim), e in zip(pairs, edited, strict=True)
        ]
        print(json.dumps(out[0] if len(out) == 1 else out, indent=2, sort_keys=True))
        return 0
    from range.records.store import content_label

    for (run_dir, course, score), sim, log in zip(scores, simulated, logs, strict=True):
        # An edited copy of a built-in course is flagged, as the records flag it.
        digest = str(log[0].data.get("course_sha256") or "")
        label, note = content_label("course", course.id, digest)
        print(f"{course.title} [{label}]: {run_dir}")
        if note:
            print(f"  {note}")
        print(format_attempt(score, simulated=sim))
    return 0
