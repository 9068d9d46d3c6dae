"""What every command group of the CLI shares."""

from __future__ import annotations

import argparse


def help_when_bare(group: argparse.ArgumentParser) -> None:
    """A command group given no verb prints its help (exit status 2) instead of doing nothing."""

    def show(_args: argparse.Namespace) -> int:
        group.print_help()
        return 2

    group.set_defaults(handler=show)
