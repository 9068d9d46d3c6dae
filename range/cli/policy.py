"""`openrange policy show / validate`: the agency policy the scorer judges by (docs/scoring.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from range.cli.util import examples, help_when_bare
from range.deps import require


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "policy",
        help="show and check the agency force policy the scorer judges by",
        description="The policy file holds the force matrix, every rule (id, what it judges, "
        "severity, points, source) and the settings the rules read (perception allowance, "
        "CEW cycle caps, restricted subjects, cartridge ranges, backdrop cone). An agency "
        "copies scoring/data/policy-default.toml, changes any row and runs drills by it with "
        "`drill run --policy FILE`, or for every run with OPENRANGE_POLICY=FILE; `score "
        "--policy FILE` rescores a saved run by it (docs/scoring.md).",
        epilog="examples:\n  openrange policy show\n  openrange policy show my-agency.toml --json\n"
        "  openrange policy validate my-agency.toml\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = group.add_subparsers(title="policy commands", metavar="VERB")
    show = verbs.add_parser(
        "show",
        **examples("openrange policy show", "openrange policy show my-agency.toml --json"),
        help="print a policy: matrix, rules and settings",
        description="Print the policy in effect: FILE, else the one $OPENRANGE_POLICY names "
        "(the agency's: docs/scoring.md), else the built-in one. Its force matrix, one row per "
        "rule and one per setting, each with its source.",
    )
    show.add_argument("file", metavar="FILE", nargs="?", type=Path, help="policy TOML")
    show.add_argument("--json", action="store_true", help="print the policy as JSON")
    show.set_defaults(handler=_show)
    validate = verbs.add_parser(
        "validate",
        **examples(
            "openrange policy validate my-agency.toml",
            "openrange policy validate policies/*.toml",
        ),
        help="check policy files",
        description="Check each policy file: every rule priced once, known rule ids, every "
        "setting present and of the right kind. The first problem is named by file, line and "
        "field.",
    )
    validate.add_argument("files", metavar="FILE", nargs="+", type=Path, help="policy TOML")
    validate.set_defaults(handler=_validate)
    help_when_bare(group)


def _show(args: argparse.Namespace) -> int:
    require("pydantic")
    from range.runs.policyfile import policy_in_effect

    # The file given, else the agency's ($OPENRANGE_POLICY), else the built-in one, as a run
    # picks it (rc25 #1: with no file it read None); read once: parsed, hashed and labelled.
    source = policy_in_effect(args.file)
    policy = source.policy
    # A file that keeps the built-in id but differs from it is flagged, as `score --policy` does.
    label = source.label
    if args.json:
        print(json.dumps(policy.model_dump(mode="json") | {"label": label}, indent=2))
        return 0
    print(f"{label}: {policy.description}")
    print(
        f"Pass mark {policy.pass_score:g}; reaction {policy.max_reaction_s:g} s"
        f" (critical past {policy.critical_reaction_s:g} s)"
    )
    print("Force matrix (threat: presence / verbal / taser / firearm):")
    for threat in ("none", "passive", "active", "assaultive", "deadly"):
        row = getattr(policy.matrix, threat)
        cells = " / ".join(
            getattr(row, o).value for o in ("presence", "verbal", "taser", "firearm")
        )
        print(f"  {threat:<10} {cells}")
    print("Rules (id, severity, points: what it judges [source]):")
    for rule in policy.rules:
        print(
            f"  {rule.id:<11} {rule.severity:<8} {rule.points:>6g}  {rule.judges} [{rule.citation}]"
        )
    print("Settings (id = value, read by rule: meaning [source]):")
    for row in policy.settings:
        print(f"  {row.id} = {json.dumps(row.value)}  ({row.rule}): {row.meaning} [{row.citation}]")
    return 0


def _validate(args: argparse.Namespace) -> int:
    require("pydantic")
    from physics.datafiles import decode, field_name, key_lines, locate
    from range.runs.policyfile import read_policy

    for path in args.files:
        # Read once: a problem is a DataFileError (file, line, field).
        source = read_policy(path)
        policy = source.policy
        # A file that keeps the built-in id but differs is flagged, as `policy show` and
        # `score --policy` flag it (nu24 #14).
        label = source.label
        print(f"{path}: ok ({label}: {len(policy.rules)} rules, {len(policy.settings)} settings)")
        lines = key_lines(decode(source.content, path))
        for loc, said in policy.warnings():  # allowed, but probably a slip: file, line, field
            line = locate(lines, loc)
            print(f"{path}:{line}: {field_name(loc)}: {said}", file=sys.stderr)
    return 0
