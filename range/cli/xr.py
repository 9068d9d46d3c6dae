"""`openrange xr check`: what the OpenXR runtime offers."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from range.cli.util import ExamplesHelpFormatter, help_when_bare
from range.deps import require


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "xr",
        help="the OpenXR runtime: headset, controllers, trackers",
        description="OpenRange reads the headset, controllers and replica trackers through "
        "OpenXR (pyopenxr).",
        epilog="examples:\n  openrange xr check\n  openrange xr check --json\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = group.add_subparsers(title="xr commands", metavar="VERB")
    check = verbs.add_parser(
        "check",
        epilog="examples:\n  openrange xr check\n  openrange xr check --json\n",
        formatter_class=ExamplesHelpFormatter,
        help="report the runtime, system, interaction profiles and extensions",
        description="Start a headless OpenXR session and report the runtime and its version, "
        "the system (headset), the interaction profiles OpenRange binds (simple, "
        "Index and Touch controllers; Vive trackers where the runtime offers them) "
        "and the runtime's extensions, then one line for each capability the runtime "
        "lacks (the headset's OpenGL binding, time conversion, a headless session). "
        "With no runtime installed it says so in one line.",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=_check)
    help_when_bare(group)


def _check(args: argparse.Namespace) -> int:
    from range.deps import MissingDependencyError

    try:
        require("xr")
        from range.xr.runtime import XRUnavailableError, check

        report = check()
    except (MissingDependencyError, XRUnavailableError) as exc:
        if args.json:  # a script still gets an object to parse; the line goes to stderr
            print(json.dumps({"runtime": None, "error": str(exc)}, indent=2))
        raise
    if args.json:
        print(json.dumps(asdict(report), indent=2))
        return 0
    print(f"runtime:    {report.runtime} {report.runtime_version}")
    print(f"system:     {report.system}")
    print(f"session:    {'headless (XR_MND_headless)' if report.headless else 'graphics'}")
    print("profiles:   " + "\n            ".join(report.profiles))
    tracker = "yes" if "XR_HTCX_vive_tracker_interaction" in report.extensions else "no"
    print(f"trackers:   {tracker} (XR_HTCX_vive_tracker_interaction)")
    print(f"extensions: {len(report.extensions)}")
    for line in report.missing:
        print(f"lacks:      {line}")
    return 0
