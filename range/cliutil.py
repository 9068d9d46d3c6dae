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
