"""What every command group of the CLI shares."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


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
    from physics.datafiles import DataFileError

    failed = 0
    for path in paths:
        try:
            loaded = load(path)
        except DataFileError as exc:
            failed += 1
            print(exc, file=sys.stderr)
        except OSError as exc:
            failed += 1
            print(f"{path}: {exc.strerror}", file=sys.stderr)
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
        metavar="RANGE_MASTER",
        help="with --require-calibration: let uncalibrated replicas through on this"
        " range master's authority (recorded in the run)",
    )
    run.add_argument(
        "--profiles",
        type=Path,
        default=None,
        help="calibration profile folder (default: the user's data directory)",
    )


def calibration_options(args: argparse.Namespace) -> dict[str, object]:
    return {
        "require_calibration": bool(getattr(args, "require_calibration", False)),
        "override_by": getattr(args, "override", None),
        "calibration_dir": getattr(args, "profiles", None),
    }


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
