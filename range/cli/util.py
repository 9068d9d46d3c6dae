"""What every command group of the CLI shares."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class Parser(argparse.ArgumentParser):
    """Every parser of the CLI: no abbreviated options (`--se` is not `--seed`), and an unknown
    option is refused by the (sub)command it was given to, with that command's usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)
        # A negative measure with its unit (`--distance -5ft`) is a value to refuse by its
        # bounds, not an unknown option that leaves --distance "expecting one argument".
        self._negative_number_matcher = re.compile(
            r"^-\d+$|^-\d*\.\d+$|^-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:ft|yd|m|in)$"
        )

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def help_when_bare(group: argparse.ArgumentParser) -> None:
    """A command group given no verb prints its help (exit status 2) instead of doing nothing."""

    def show(_args: argparse.Namespace) -> int:
        group.print_help()
        return 2

    group.set_defaults(handler=show)


def validate_files(
    paths: list[Path], load: Callable[[Path], T], describe: Callable[[T], str]
) -> int:
    """Check data files one by one: `FILE: ok (...)` on stdout, every problem (file, line,
    field) on stderr; exit status 1 if any file fails."""
    from physics.datafiles import NOT_A_FILE, DataFileError

    failed = 0
    for path in paths:
        try:
            loaded = load(path)
        except DataFileError as exc:
            failed += 1
            print(exc, file=sys.stderr)
        except OSError as exc:
            failed += 1
            why = NOT_A_FILE if isinstance(exc, IsADirectoryError) else exc.strerror
            print(f"{path}: {why}", file=sys.stderr)
        else:
            print(f"{path}: ok ({describe(loaded)})")
    return 1 if failed else 0


def add_calibration_options(run: argparse.ArgumentParser) -> None:
    """The range master's calibration gate, the same for drills and courses."""
    run.add_argument(
        "--require-calibration",
        action="store_true",
        help="refuse replicas without a valid calibration profile",
    )
    run.add_argument(
        "--override",
        default=None,
        type=person,
        metavar="RANGE_MASTER",
        help="with --require-calibration, a lane file requiring calibration or a live run"
        " (refused without a gate): let uncalibrated replicas through on this range master's"
        " authority (recorded in the run)",
    )
    run.add_argument(
        "--profiles",
        type=profiles_folder,
        default=None,
        help="calibration profile folder (default: the user's data directory); it must exist",
    )


def profiles_folder(text: str) -> Path:
    """A run's calibration profile folder, which must exist (a mistyped one would read every
    replica as never calibrated): refused before anything runs, as a lane file's is."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text}: {'not a folder' if path.exists() else 'no such folder'}"
        )
    return path


def check_override(override: str | None, required: bool) -> None:
    """`--override` lets uncalibrated replicas through a calibration gate: with none (no
    --require-calibration, not live: a live run, a lane file's too, is always gated) it would
    let nothing through and be recorded nowhere, so it is refused in one line."""
    if override is not None and not required:
        raise ValueError(
            f"--override {override}: no calibration is required, so there is nothing to"
            " override: add --require-calibration (or run live), or leave --override out"
        )


def calibration_options(args: argparse.Namespace, live: bool = False) -> dict[str, object]:
    """The run's calibration gate from the options (`--override` refused without a gate); a
    `live` run is always gated (real replicas are checked: range/runs), so it takes one."""
    required = live or bool(getattr(args, "require_calibration", False))
    check_override(getattr(args, "override", None), required)
    return {
        "require_calibration": required,
        "override_by": getattr(args, "override", None),
        "calibration_dir": getattr(args, "profiles", None),
    }


class CtrlC:
    """A run's Ctrl-C as `ctrl_c_once` takes it. Before the run has ended, the first SIGINT
    raises KeyboardInterrupt (`taken`: the run is closed where it stood). Once `hold` is
    called (the run has ended: its end is being logged, range/runs `on_end`), a SIGINT only
    notes itself (`late`) and says in a line that the run is being saved first: the run is
    saved and recorded as it ended, never left in progress, and the command then says so.
    Any further SIGINT is ignored."""

    def __init__(self) -> None:
        self.taken = False  # a Ctrl-C stopped the run (KeyboardInterrupt raised)
        self.ended = False  # the run has ended: a Ctrl-C from now on is held, not raised
        self.late = False  # a Ctrl-C came after the run had ended (held)

    def hold(self) -> None:
        """The run has ended: from now on a Ctrl-C is held until the command is done."""
        self.ended = True

    def signalled(self, signum: int, frame: object) -> None:
        if self.taken or self.late:
            return
        if self.ended:
            self.late = True
            # Written to the descriptor at once (not through sys.stderr, which the work the
            # signal landed in may be writing): the range master learns the key was heard.
            with contextlib.suppress(OSError):
                os.write(
                    sys.stderr.fileno(),
                    b"openrange: Ctrl-C: the run has ended; it is saved and recorded first\n",
                )
            return
        self.taken = True
        raise KeyboardInterrupt

    @staticmethod
    def late_line(what: str, run_dir: Path | None, recorded: str | None) -> str:
        """The line a command says when a Ctrl-C came only after `what` (what it came after,
        and that nothing was cut): where the run was saved (`run_dir`; None: not saved) and,
        where it was, what it was recorded as (`recorded`: `drill run 3`)."""
        where = [f"saved in {run_dir}" if run_dir is not None else "not saved"]
        if recorded is not None:
            where.append(f"recorded as {recorded}")
        return f"openrange: Ctrl-C came after {what}; {' and '.join(where)}"


@contextmanager
def ctrl_c_once() -> Iterator[CtrlC]:
    """A run's Ctrl-C (CtrlC): the first SIGINT raises KeyboardInterrupt, as ever (the run is
    closed where it stood); further ones are ignored until the block ends (the run closed in
    the records, result.json written), then the handler there was before is put back. A
    second Ctrl-C during the first one's cleanup would otherwise cut it and leave the run in
    progress in the records. A SIGINT after the run has ended (`CtrlC.hold`) is held, never
    raised: the ended run is saved and recorded whole, and the caller says so (`late`).
    Outside the main thread (signals are not its to take) it does nothing."""
    from range.runs.core import swap_sigint

    ctrl_c = CtrlC()
    with swap_sigint(ctrl_c.signalled):
        yield ctrl_c


def say(line: str) -> None:
    """A prompt or a call to the person at the range (the armorer, the officer): on stderr, so
    with --json stdout carries only the result."""
    print(line, file=sys.stderr, flush=True)


def add_hand_option(p: argparse.ArgumentParser) -> None:
    """What tracks the replica in OpenXR, the same for calibration and live courses."""
    p.add_argument(
        "--hand",
        choices=("left", "right", "tracker"),
        default="right",
        help="with --port: what tracks the replica in OpenXR: the left or right controller's"
        " aim pose (default right), or a Vive tracker in the handheld-object role where the"
        " runtime offers XR_HTCX_vive_tracker_interaction",
    )


# -- validating argument types -------------------------------------------------------------------
# Every numeric or structured option is parsed by one of these (`type=cliutil.seed`), so a bad
# value is refused before anything runs, in argparse's one line, with what is allowed:
# `openrange drill run: error: argument --seed: 9223372036854775808 is too large: ...`.

MAX_SEED = 2**63 - 1  # seeds are stored in the records as SQLite / PostgreSQL BIGINT


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: a finite number is needed")
    return value


def _integer(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def finite_float(text: str) -> float:
    """Any finite number (no inf, no nan)."""
    return _number(text)


def finite_nonneg_float(text: str) -> float:
    """A finite number >= 0 (a time into a run, a count of seconds)."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a duration, a speed, a tolerance)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be more than 0")
    return value


def bounded_float(high: float, unit: str) -> Callable[[str], float]:
    """An argument type for a finite number more than 0 and at most `high` (in `unit`); a value
    outside is refused in one line that names the allowed range."""

    def parse(text: str) -> float:
        value = _number(text)
        if not 0.0 < value <= high:
            raise argparse.ArgumentTypeError(
                f"{text}: more than 0 and at most {high:g} {unit} is needed"
            )
        return value

    parse.__name__ = f"number_of_{unit}"
    return parse


def float_within(low: float, high: float, unit: str) -> Callable[[str], float]:
    """An argument type for a finite number from `low` to `high` (in `unit`); a value outside
    is refused in one line that names the allowed range."""

    def parse(text: str) -> float:
        value = _number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text}: from {low:g} to {high:g} {unit} is needed")
        return value

    parse.__name__ = f"number_of_{unit}"
    return parse


def probability(text: str) -> float:
    """A chance from 0 to 1."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: a chance from 0 to 1 is needed")
    return value


def bounded_int(low: int, high: int, what: str = "a whole number") -> Callable[[str], int]:
    """An argument type for a whole number from `low` to `high`; a value outside is refused in
    one line that names the allowed range (never an OverflowError from the database later)."""

    def parse(text: str) -> int:
        value = _integer(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text}: {what} from {low} to {high} is needed")
        return value

    parse.__name__ = what.replace(" ", "_")  # argparse names the type in some messages
    return parse


# What SQLite and PostgreSQL can store in a BIGINT id column.
MAX_RECORD_ID = 2**63 - 1
# A validity or warning window: up to 100 years (dates stay far inside Python's year 9999).
MAX_DAYS = 36_500

record_id = bounded_int(1, MAX_RECORD_ID, "a record number")
days = bounded_int(1, MAX_DAYS, "a number of days")
positive_int = bounded_int(1, 2**31 - 1, "a whole number")
"""A whole number from 1 to 2^31 - 1 (a count)."""
tcp_port = bounded_int(1, 65_535, "a TCP port")
nonneg_int = bounded_int(0, 2**31 - 1, "a whole number")


def seed(text: str) -> int:
    """A run seed: a whole number from 0 to 2^63 - 1 (what the records can store)."""
    value = _integer(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text}: a seed is a whole number from 0 to 2^63 - 1")
    return value


def iso_date(text: str) -> str:
    """A calendar date written YYYY-MM-DD; returned as written, once it is known to be real."""
    try:
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: write YYYY-MM-DD, like 2026-11-30"
        ) from None
    if len(text) != 10:
        raise argparse.ArgumentTypeError(f"{text!r}: write YYYY-MM-DD, like 2026-11-30")
    return text


def instructor_press(text: str) -> tuple[float, str]:
    """`SECONDS:BUTTON`, like `4.5:comply`: a press of a drill's instructor button."""
    at, colon, button = text.partition(":")
    if not colon or not button:
        raise argparse.ArgumentTypeError(f"{text!r}: write SECONDS:BUTTON, like 4.5:comply")
    return finite_nonneg_float(at), button


def replica_model(text: str) -> str:
    """A replica model's name (peripherals.messages.Model): taser-x26p, ..., pistol."""
    from peripherals.messages import Model

    known = [m.slug for m in Model]
    if text not in known:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a replica model; one of {', '.join(known)}"
        )
    return text


def device_serial(text: str) -> str:
    """A replica's serial, as its calibration profile is named (range.calibration.profiles)."""
    from range.calibration.profiles import check_serial

    try:
        return check_serial(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def refuse_unsaved_record(args: argparse.Namespace) -> None:
    """`--no-save` writes nothing anywhere: with `--badge` (a record kept in the records, which
    must keep its log to be rescored, reported or replayed) it is refused in one line, before
    anything is created (`drill run`, `course run`)."""
    if getattr(args, "no_save", False) and getattr(args, "badge", None):
        raise ValueError(
            "--no-save with --badge: a recorded run keeps its event log; leave out --no-save"
            " (or --badge, for a run kept nowhere)"
        )


def badge(text: str) -> str:
    """An officer's badge number: 1 to 64 of A-Z a-z 0-9 . _ - (as a device serial), so it
    can name files and never hides a control character."""
    import re

    from range.calibration.profiles import SERIAL_PATTERN, SERIAL_RULE

    if not re.fullmatch(SERIAL_PATTERN, text):
        raise argparse.ArgumentTypeError(f"badge {text!r}: a badge is {SERIAL_RULE}")
    return text


def person(text: str) -> str:
    """Who did something (an armorer, a range master, an officer, an agency): a name, not empty
    nor only spaces, without control characters or bytes that are not UTF-8 (every free-text
    identity option is parsed by this one type)."""
    from range.calibration.profiles import check_name

    try:
        return check_name(text, "")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def free_text(text: str) -> str:
    """Free text a record keeps (a unit, a reason): may be empty, but no control characters
    nor bytes that are not UTF-8."""
    from range.calibration.profiles import check_text

    try:
        return check_text(text, "")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def database_url(text: str) -> str:
    """A records database URL (--db): not empty, which would silently mean the default store."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "an empty URL: give sqlite:///PATH or postgresql://..., or leave --db out"
        )
    return text


MAX_SPEED = 1000.0  # drill time per real second: beyond this, use 'max' (no pacing at all)


def lane_speed(text: str) -> str:
    """--speed: a factor on real time from more than 0 to MAX_SPEED, or 'max'."""
    if text == "max":
        return text
    value = _number(text)
    if not 0 < value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(
            f"{text}: a factor on real time from more than 0 to {MAX_SPEED:g}, or max"
        )
    return text


def console_address(text: str) -> str:
    """The instructor console: HOST:PORT, or the address it prints (http://HOST:PORT/; https://,
    ws:// and wss:// too), port 1 to 65535."""
    rest = text
    for scheme in ("ws://", "wss://", "http://", "https://"):
        rest = rest.removeprefix(scheme)
    host, colon, port = rest.rstrip("/").rpartition(":")
    if not colon or not host or "/" in host or not port.isdigit() or not 1 <= int(port) <= 65_535:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write HOST:PORT (or the address the console prints,"
            " http://HOST:PORT/), with a port from 1 to 65535"
        )
    return text


class ExamplesHelpFormatter(argparse.HelpFormatter):
    """Wraps the description as argparse does, each paragraph (split by a blank line) on its
    own, and keeps an `examples:` epilog's lines as written (RawDescriptionHelpFormatter would
    leave a one-string description unwrapped: nu23 #9)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(("example:", "examples:")):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        paragraphs = text.split("\n\n")
        fill = super()._fill_text  # bound here: a bare super() cannot run inside the genexpr
        return "\n\n".join(fill(p, width, indent) for p in paragraphs)


def examples(*commands: str) -> dict[str, Any]:
    """`add_parser` keywords for an `examples:` epilog of these commands, one a line, as
    written (each a real `openrange ...` line: tests/test_l24b.py parses every one)."""
    head = "example:" if len(commands) == 1 else "examples:"
    return {
        "epilog": head + "\n" + "".join(f"  {c}\n" for c in commands),
        "formatter_class": ExamplesHelpFormatter,
    }
