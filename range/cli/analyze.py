"""`openrange analyze ...`: what a cartridge or a load does, before anyone fires it."""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from range import outfile
from range.cli import util as cliutil
from range.cli.util import help_when_bare
from range.deps import require

if TYPE_CHECKING:
    from physics.body import Region

_UNITS = {"ft": 1.0, "yd": 3.0, "m": 1 / 0.3048, "in": 1 / 12}
# A number as written: a sign and an exponent allowed, so -5 or 1e308 is refused by its bounds
# (more than 0, at most MAX_DISTANCE_FT), not as unreadable.
_NUM = r"[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?"
_RANGE = re.compile(rf"^\s*({_NUM})\s*\.\.\s*({_NUM})\s*(ft|yd|m)?\s*$")
_LIST = re.compile(rf"^\s*({_NUM}(?:\s*,\s*{_NUM})*)\s*(ft|yd|m)?\s*$")
_ONE = re.compile(rf"^\s*({_NUM})\s*(ft|yd|m|in)?\s*$")


MAX_DISTANCE_FT = 3000.0  # 1,000 yd: past any pistol or TASER question a range master asks
MAX_DISTANCES = 1000  # rows in one analysis
MAX_TRIALS = 1_000_000  # deployments per distance: 100 times the default, minutes of work
# A 1-sigma aim error of 100 mrad is 2.1 ft at 21 ft: past any officer a study models.
MAX_AIM_ERROR_MRAD = 100.0
_BOUNDS = f"more than 0 and at most {MAX_DISTANCE_FT:g} ft ({MAX_DISTANCE_FT / 3:g} yd)"


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: {text.strip()!r} is not a number") from None


def _checked(values: list[float], text: str) -> list[float]:
    if len(values) > MAX_DISTANCES:
        raise ValueError(f"distance {text!r}: {len(values)} distances; at most {MAX_DISTANCES}")
    for value in values:
        if not 0.0 < value <= MAX_DISTANCE_FT:
            raise ValueError(f"distance {text!r}: each distance must be {_BOUNDS}")
    return values


def distances_ft(text: str, step: float = 1.0) -> list[float]:
    """'5..25ft' (every `step` units), '7,15,21ft' or '10yd', in feet; each more than 0 and at
    most MAX_DISTANCE_FT, at most MAX_DISTANCES of them (ValueError otherwise)."""
    if match := _RANGE.match(text):
        unit = match[3] or "ft"
        where = f"distance {text!r}"
        lo, hi = _number(match[1], where), _number(match[2], where)
        if hi < lo or step <= 0:
            raise ValueError(f"distance range {text!r} must run from low to high")
        count = round((hi - lo) / step) + 1
        if count > MAX_DISTANCES:
            raise ValueError(f"distance {text!r}: {count} distances; at most {MAX_DISTANCES}")
        return _checked([(lo + i * step) * _UNITS[unit] for i in range(count)], text)
    if match := _LIST.match(text):
        unit = match[2] or "ft"
        values = [_number(x, f"distance {text!r}") * _UNITS[unit] for x in match[1].split(",")]
        return _checked(values, text)
    raise ValueError(f"distance {text!r}: write 5..25ft, 7,15,21ft or 10yd")


def length_ft(text: str, default_unit: str = "yd", zero_ok: bool = False) -> float:
    """'25yd', '0.8in' (a bare number in `default_unit`), in feet: more than 0 (or, with
    `zero_ok`, 0 or more) and at most MAX_DISTANCE_FT (ValueError otherwise)."""
    match = _ONE.match(text)
    if not match:
        raise ValueError(f"length {text!r}: write a number and a unit, such as 25yd or 0.8in")
    value = _number(match[1], f"length {text!r}") * _UNITS[match[2] or default_unit]
    if zero_ok and value == 0.0:
        return value
    if not 0.0 < value <= MAX_DISTANCE_FT:
        bounds = _BOUNDS.replace("more than 0", "0 or more") if zero_ok else _BOUNDS
        raise ValueError(f"length {text!r}: must be {bounds}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "analyze",
        help="probe spread and bullet trajectories, computed with the drills' own physics",
        description="Answer a range master's questions about a cartridge or a load with the "
        "same flight code a drill uses: how often both probes land and spread enough "
        "at each distance, and where a round goes when zeroed.",
        epilog="examples:\n"
        "  openrange analyze spread --cartridge taser7-cq --distance 5..25ft --trials 10000\n"
        "  openrange analyze spread --cartridge x26p-25ft --distance 7,15,21ft --plot s.png\n"
        "  openrange analyze trajectory --load 9mm-124 --zero 25yd --to 50yd\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
    )
    verbs = group.add_subparsers(title="analyses", metavar="ANALYSIS")

    spread = verbs.add_parser(
        "spread",
        epilog="examples:\n"
        "  openrange analyze spread --cartridge taser7-cq --distance 5..25ft --step 2.5\n"
        "  openrange analyze spread --cartridge x26p-25ft --distance 7,15,21ft --json\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
        help="Monte Carlo probe spread against a subject, per distance",
        description="Fire the cartridge TRIALS times at a subject facing the officer at each "
        "distance, aiming at a region with a normal aim error, and report the "
        "probability that both probes hit, the median spread, the probability of an "
        "effective deployment (both connect, spread >= 12 in), the probability of "
        "a probe in a zone to avoid (avoid zone) and the probability that both probes are "
        "on the subject in preferred zones (preferred: below the neck on the back, or the "
        "lower front torso and legs; facts.md §1).",
    )
    spread.add_argument("--cartridge", required=True, help="cartridge id (docs/physics.md)")
    spread.add_argument(
        "--distance", required=True, help="5..25ft (every --step), 7,15,21ft, or one distance"
    )
    spread.add_argument(
        "--step",
        type=cliutil.positive_float,
        default=1.0,
        help="step of a distance range, in its unit (5..25ft: feet; default 1)",
    )
    spread.add_argument(
        "--trials",
        type=cliutil.bounded_int(1, MAX_TRIALS, "a number of trials"),
        default=10_000,
        help=f"deployments per distance (default 10000, at most {MAX_TRIALS})",
    )
    spread.add_argument("--aim", default="abdomen", help="region aimed at (default abdomen)")
    spread.add_argument(
        "--aim2",
        default=None,
        help="TASER 10: the second pull's region (default leg); each pull fires one probe",
    )
    spread.add_argument(
        "--facing",
        choices=["toward", "away"],
        default="toward",
        help="the subject faces the officer or turns its back (an abdomen aim becomes the"
        " lower back)",
    )
    spread.add_argument(
        "--moving",
        type=_moving,
        default=None,
        metavar="SPEED,DIRECTION",
        help="the subject moves during the flight: m/s, and toward, away, left, right or"
        " degrees (0 away from the officer, 90 to the officer's left)",
    )
    spread.add_argument(
        "--aim-error-mrad",
        type=cliutil.float_within(0.0, MAX_AIM_ERROR_MRAD, "mrad"),
        default=0.0,
        help="1-sigma aim error per axis, milliradians, 0 to 100 (default 0)",
    )
    spread.add_argument("--seed", type=cliutil.seed, default=0, help="random seed (default 0)")
    spread.add_argument("--json", action="store_true", help="print the rows as JSON")
    spread.add_argument(
        "--plot",
        type=Path,
        default=None,
        help="also draw the result to a PNG (.pdf, .svg: by the suffix)",
    )
    spread.set_defaults(handler=_spread)

    trajectory = verbs.add_parser(
        "trajectory",
        epilog="examples:\n"
        "  openrange analyze trajectory --load 9mm-124 --zero 25yd --to 50yd\n"
        "  openrange analyze trajectory --load 9mm-124 --to 100yd --step 10 --json\n",
        formatter_class=cliutil.ExamplesHelpFormatter,
        help="path, velocity and time of flight per yard",
        description="Zero the load at --zero with the sights --sight-height above the bore and "
        "print, per yard, the path relative to the line of sight, the velocity and "
        "the time of flight (point mass, G1 drag, Army Standard Metro atmosphere).",
    )
    trajectory.add_argument("--load", required=True, help="load id (docs/physics.md)")
    trajectory.add_argument("--zero", default="25yd", help="zero distance (default 25yd)")
    trajectory.add_argument("--to", default="50yd", help="last distance (default 50yd)")
    trajectory.add_argument("--sight-height", default="0.8in", help="default 0.8in")
    trajectory.add_argument(
        "--step", type=cliutil.positive_float, default=1.0, help="yards between rows (default 1)"
    )
    trajectory.add_argument("--json", action="store_true", help="print the rows as JSON")
    trajectory.set_defaults(handler=_trajectory)

    help_when_bare(group)


DIRECTIONS_DEG = {"away": 0.0, "left": 90.0, "toward": 180.0, "right": 270.0}


def _moving(text: str) -> tuple[float, float]:
    """`--moving SPEED,DIRECTION` as (m/s, degrees)."""
    speed, _, direction = text.partition(",")
    try:
        mps = float(speed)
        deg = DIRECTIONS_DEG[direction] if direction in DIRECTIONS_DEG else float(direction)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: SPEED,DIRECTION such as 1.5,toward or 2,90"
        ) from None
    if not (0.0 <= mps <= 12.0) or not math.isfinite(deg):
        raise argparse.ArgumentTypeError(f"{text!r}: a speed from 0 to 12 m/s is needed")
    return mps, deg


def _region(option: str, name: str) -> Region:
    from physics.body import Region

    try:
        return Region(name)
    except ValueError:
        raise ValueError(
            f"{option} {name!r}: one of {', '.join(r.value for r in Region)}"
        ) from None


def _rounded_row(row: dict[str, Any]) -> dict[str, Any]:
    """A spread row for --json without float32 noise (nu23 #9: `median_spread_in`
    39.721397399902344): spreads to 0.01 in, distances to 0.001 ft, rates to 1e-6 (exact for
    the at most 1,000,000 trials)."""
    places = {"median_spread_in": 2, "distance_ft": 3}
    return {k: round(v, places.get(k, 6)) if isinstance(v, float) else v for k, v in row.items()}


def _spread(args: argparse.Namespace) -> int:
    require("numpy", "pydantic", "pybullet")
    import numpy as np

    from physics.analysis import FIRST_AIM_AWAY, SECOND_AIM, spread_study
    from physics.taser import builtin_cartridges, cartridge
    from range.cli.progress import ProgressBar

    if args.trials < 1:
        raise ValueError("--trials must be at least 1")
    region = _region("--aim", args.aim)
    second = None if args.aim2 is None else _region("--aim2", args.aim2)
    cart = cartridge(args.cartridge)
    if second is not None and cart.probes_per_pull != 1:
        one_probe = [c.id for c in builtin_cartridges().values() if c.probes_per_pull == 1]
        raise ValueError(
            f"--aim2 is for a cartridge that fires one probe per pull ({', '.join(one_probe)});"
            f" {cart.id} fires {cart.probes_per_pull} probes per pull at --aim"
        )
    distances = distances_ft(args.distance, args.step)
    if args.plot is not None:
        _check_plot(args.plot)
    beyond = [d for d in distances if d > cart.wire_length_ft]
    if beyond:
        print(
            f"openrange: {cart.id} is rated to {cart.wire_length_ft:g} ft; past it (at "
            f"{', '.join(f'{d:g}' for d in beyond)} ft) a probe may run out of wire short of"
            " the subject",
            file=sys.stderr,
        )
    bar = ProgressBar(f"{cart.id} x {args.trials}") if sys.stderr.isatty() else None

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar(done, total, "distances")

    try:
        rows = spread_study(
            cart,
            distances,
            args.trials,
            np.random.default_rng(args.seed),
            aim_region=region,
            second_aim_region=second,
            facing=args.facing,
            moving=args.moving,
            aim_error_mrad=args.aim_error_mrad,
            progress=progress,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.plot is not None:
        seen = f"subject facing {args.facing}"
        if args.moving is not None:
            seen += f", moving {args.moving[0]:g} m/s at {args.moving[1]:g} deg"
        _plot_spread(rows, f"{cart.name} ({seen})", args.plot)
    if args.json:
        print(json.dumps([_rounded_row(asdict(r)) for r in rows], indent=2))
        return 0
    first = FIRST_AIM_AWAY if args.facing == "away" and region.value == "abdomen" else region
    then = (second or SECOND_AIM[args.facing]).value
    aims = first.value if cart.probes_per_pull == 2 else f"{first.value} then {then}"
    moving = (
        "" if args.moving is None else f", moving {args.moving[0]:g} m/s at {args.moving[1]:g} deg"
    )
    print(
        f"{cart.name}: {args.trials} deployments per distance, aimed at {aims},"
        f" facing {args.facing}{moving}, aim error {args.aim_error_mrad:g} mrad"
    )
    header = ("distance", "both hit", "median spread", "effective", "avoid zone", "preferred")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (9, 9, 14, 10, 11, 10), strict=True)))
    # To 0.1 ft, or 0.01 where that would round two distances of a --step 0.05 to one figure.
    digits = 1 if all(round(r.distance_ft, 1) == round(r.distance_ft, 6) for r in rows) else 2
    for r in rows:
        spread = "-" if r.median_spread_in is None else f"{r.median_spread_in:.1f} in"
        print(
            f"{r.distance_ft:7.{digits}f} ft {r.p_both_hit:9.1%} {spread:>14} {r.p_effective:10.1%}"
            f" {r.p_avoid_zone:11.1%} {r.p_preferred:10.1%}"
        )
    if args.plot is not None:
        print(f"plot: {args.plot}")
    return 0


def _check_plot(path: Path) -> None:
    """Refuse, before the study runs, a --plot that cannot be written (rc21 #3): a suffix
    matplotlib cannot draw (`out.txt`, once a traceback after the study) in one line, and a
    target `outfile.check` refuses (a run's own file, a FIFO). No suffix draws a PNG."""
    outfile.check(path)
    require("matplotlib")
    from matplotlib.backend_bases import FigureCanvasBase

    kind = path.suffix.lstrip(".").lower()
    kinds = FigureCanvasBase.get_supported_filetypes()
    if kind and kind not in kinds:
        raise ValueError(
            f"--plot {path}: a .{kind} file cannot be drawn; name a .png"
            f" (or one of {', '.join('.' + k for k in sorted(kinds) if k != 'png')})"
        )


def _plot_spread(rows: list, title: str, path: Path) -> None:  # type: ignore[type-arg]
    require("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = [r.distance_ft for r in rows]
    fig, left = plt.subplots(figsize=(8, 4.5), dpi=110)
    left.plot(d, [100 * r.p_both_hit for r in rows], "o-", label="both probes hit")
    left.plot(d, [100 * r.p_effective for r in rows], "s-", label="effective (spread >= 12 in)")
    left.plot(d, [100 * r.p_avoid_zone for r in rows], "^-", label="a probe in a zone to avoid")
    left.plot(d, [100 * r.p_preferred for r in rows], "D-", label="both in preferred zones")
    left.set_xlabel("distance (ft)")
    left.set_ylabel("deployments (%)")
    left.set_ylim(0, 100)
    right = left.twinx()
    right.plot(
        d,
        [r.median_spread_in if r.median_spread_in is not None else float("nan") for r in rows],
        "kx--",  # marked: a single distance is a point, which a line alone never draws
        label="median spread",
    )
    right.axhline(12.0, color="grey", lw=0.8, ls=":", label="12 in: effective spread")
    spreads = [r.median_spread_in for r in rows if r.median_spread_in is not None]
    right.set_ylim(0, 1.15 * max([12.0, *spreads]))
    right.set_ylabel("median spread (in)")
    lines = left.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    left.legend(
        lines[0] + more[0],
        lines[1] + more[1],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    left.set_title(title)
    fig.tight_layout()
    buffer = io.BytesIO()  # drawn in memory, then written whole: a full disk names the file
    try:
        fig.savefig(buffer, format=path.suffix.lstrip(".").lower() or "png")
    finally:
        plt.close(fig)
    outfile.write_bytes(path, buffer.getvalue())


def _trajectory(args: argparse.Namespace) -> int:
    require("numpy", "pydantic")
    from physics.analysis import trajectory
    from physics.ballistics import load
    from physics.units import FT_M

    rows = trajectory(
        load(args.load),
        length_ft(args.zero) * FT_M,
        length_ft(args.to) * FT_M,
        sight_height_in=length_ft(args.sight_height, "in", zero_ok=True) * 12,
        step_yd=args.step,
    )
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    print(f"{args.load} zeroed at {args.zero}, sights {args.sight_height} above the bore")
    print(f"{'yards':>6} {'path (in)':>10} {'velocity (ft/s)':>16} {'time (s)':>9}")
    for r in rows:
        print(f"{r.distance_yd:6.0f} {r.path_in:10.2f} {r.velocity_fps:16.0f} {r.time_s:9.4f}")
    return 0
