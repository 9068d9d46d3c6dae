"""A firing lane's file: which serial ports its replicas are on, what tracks the weapon, its
calibration gate, and whether it draws in a headset and an instructor's mirror, so a range master
types them once (`openrange drill run ID --live --lane FILE`). Versioned TOML, validated (every
problem named by file, line and field), documented in docs/lanes.md. Options given on the command
line override the file's.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from physics.datafiles import (
    DataFileError,
    FieldError,
    Problem,
    StrictModel,
    key_lines,
    locate,
    parse_model,
    read_text,
)

Hand = Literal["left", "right", "tracker"]
# A lane's replicas: a firearm and a TASER at most, one port each.
MAX_PORTS = 2


def port_problems(ports: Sequence[str], *, exist: bool = True) -> list[tuple[int, str]]:
    """What is wrong with a lane's list of replica ports, as (index in `ports`, problem): more
    than MAX_PORTS; a port named twice, or the same device under two names (a by-id link and
    the device it points to); an empty one, a URL of another scheme or a network URL of the
    wrong form; and (`exist`) a device path that does not exist or is not a serial port (a
    folder, a file, /dev/null). One check for a lane file's `ports` and the command line's `--port`,
    so both are refused up front, before any port is opened."""
    from peripherals.driver import port_path_problem, port_url_problem
    from peripherals.registry import stale_problem

    problems: list[tuple[int, str]] = []
    if len(ports) > MAX_PORTS:
        problems.append(
            (
                MAX_PORTS,
                f"{len(ports)} ports: a lane has at most {MAX_PORTS} (a firearm and a TASER)",
            )
        )
    seen: dict[str, str] = {}  # the device a port resolves to -> the name it was first given
    for i, port in enumerate(ports):
        wrong = port_url_problem(port)
        if wrong is not None:
            problems.append((i, f"{port!r}: {wrong}"))
            continue
        device = port if "://" in port else os.path.realpath(port)
        first = seen.setdefault(device, port)
        if first == port and ports.index(port) < i:
            problems.append((i, f"{port!r}: a port is named twice"))
        elif first != port:
            problems.append((i, f"{port!r} is the same device as {first!r}: a port is named twice"))
        elif exist and "://" not in port and (stale := stale_problem(port)):
            problems.append((i, f"{port}: {stale}"))
        elif exist and "://" not in port and not Path(port).exists():
            problems.append(
                (i, f"{port} does not exist (is the replica plugged in? ls /dev/serial/by-id)")
            )
        elif exist and "://" not in port and (not_a_port := port_path_problem(port)):
            problems.append((i, not_a_port))
    return problems


def check_ports(ports: Sequence[str]) -> None:
    """The command line's `--port`s through the lane file's check (`port_problems`): a
    ValueError naming every problem, one line each, before anything is opened."""
    problems = port_problems(ports)
    if problems:
        raise ValueError("\n".join(f"--port: {message}" for _, message in problems))


class LaneCalibration(StrictModel):
    """The lane's calibration gate (docs/tracking.md)."""

    # Refuse a replica without a valid profile, unless a range master overrides. A lane is for
    # live runs, which are always gated (docs/tracking.md), so only `true` is taken: `false`
    # would read as turning the gate off and never could (nu20 #10).
    required: bool = True
    # Where the profiles are; relative to the lane file's folder. None: the user's data folder.
    profiles: str | None = None

    @model_validator(mode="after")
    def _always_gated(self) -> LaneCalibration:
        if not self.required:
            raise FieldError(
                ("required",),
                "false cannot turn the gate off: a live run always checks its replicas'"
                " calibration (docs/tracking.md); remove the key, and have a range master run"
                " an uncalibrated replica with --override NAME (recorded with the run)",
            )
        return self


class LaneFile(StrictModel):
    """One firing lane (docs/lanes.md)."""

    version: Literal[1]
    name: str = Field(min_length=1)
    # The replicas' serial ports, one a replica (a firearm and a TASER at most), best named by
    # /dev/serial/by-id so a replica keeps its name across replugs.
    # (How many, and each one once: `port_problems`, checked with the rest by `load_lane`.)
    ports: list[str] = Field(min_length=1)
    hand: Hand = "right"  # what tracks the weapon: a controller's aim pose, or a Vive tracker
    calibration: LaneCalibration = LaneCalibration()
    # Track the replicas with a pose-only OpenXR session and draw nothing (a bench without a
    # headset); false: the drill is drawn in the headset.
    headless: bool = False
    # Also show the run from the officer's eyes in a desktop window (the instructor's mirror).
    mirror: bool = False

    @model_validator(mode="after")
    def _mirror_needs_a_headset(self) -> LaneFile:
        if self.headless and self.mirror:
            raise FieldError(
                ("mirror",), "mirror draws what the headset shows: it needs headless = false"
            )
        return self

    def profiles_dir(self, lane_file: Path) -> Path | None:
        """The calibration folder, a relative one taken from the lane file's folder."""
        if self.calibration.profiles is None:
            return None
        folder = Path(self.calibration.profiles).expanduser()
        return folder if folder.is_absolute() else lane_file.parent / folder


def load_lane(path: Path, *, ports: bool = True, profiles: bool = True) -> LaneFile:
    """Read and check a whole lane file up front, before any port or headset is opened:
    its schema, then (`ports`, `profiles`: unless the command line's `--port`, `--profiles`
    override the file's) that each port exists and that the profile folder exists and holds
    only valid profiles. Raises physics.datafiles.DataFileError naming the file, the line and
    the field of every problem at once; FileNotFoundError for a missing file."""
    from range.calibration.profiles import MAX_PROFILE_BYTES, CalibrationProfile

    text = read_text(path)
    lines = key_lines(text)
    problems: list[Problem] = []

    def problem(loc: tuple[str | int, ...], message: str) -> None:
        from physics.datafiles import field_name

        problems.append(Problem(locate(lines, loc) or 1, field_name(loc), message))

    # Every problem at once: the schema's, and what can still be checked of the rest (the
    # mirror clash, the ports, the profiles), not one stage per try.
    lane: LaneFile | None
    raw: dict[str, Any] = {}
    try:
        lane = parse_model(text, LaneFile, path)
    except DataFileError as exc:
        table = _raw(text)
        if table is None:  # not TOML at all: nothing else can be read
            raise
        raw = table
        problems += exc.problems
        lane = None
    if lane is not None:
        port_list, headless, mirror = lane.ports, lane.headless, lane.mirror
        folder = lane.profiles_dir(path) if profiles else None
    else:
        listed = raw.get("ports")
        port_list = [p for p in listed if isinstance(p, str)] if isinstance(listed, list) else []
        headless, mirror = raw.get("headless") is True, raw.get("mirror") is True
        calibration = raw.get("calibration")
        named = calibration.get("profiles") if isinstance(calibration, dict) else None
        folder = None
        if profiles and isinstance(named, str) and named:
            folder = Path(named).expanduser()
            folder = folder if folder.is_absolute() else path.parent / folder
        if headless and mirror and not any(p.field == "mirror" for p in problems):
            problem(("mirror",), "mirror draws what the headset shows: it needs headless = false")
    # The ports whether or not the schema passed (a bad key does not hide a port named twice);
    # that they exist only when the command line's --port does not replace them.
    for i, message in port_problems(port_list, exist=ports):
        problem(("ports", i), message)
    if folder is not None and not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        problem(("calibration", "profiles"), f"{folder} {what}")
    elif folder is not None:
        for profile in sorted(folder.glob("*.toml")):
            try:
                text = read_text(profile, MAX_PROFILE_BYTES, "a profile")  # never a FIFO's open
                parse_model(text, CalibrationProfile, profile)
            except DataFileError as exc:
                for line in str(exc).splitlines():
                    problem(("calibration", "profiles"), f"a profile is refused: {line}")
            except OSError as exc:
                problem(("calibration", "profiles"), f"{profile}: {exc.strerror or exc}")
    if problems or lane is None:
        raise DataFileError(path, problems)
    return lane


def _raw(text: str) -> dict[str, Any] | None:
    """The TOML table of a lane file whose schema failed, to check the rest of it; None when
    it is not TOML."""
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except (tomllib.TOMLDecodeError, RecursionError):
        return None


def display(lane: LaneFile | None, headless: bool | None, mirror: bool | None) -> tuple[bool, bool]:
    """(headless, mirror): the command line's `--[no-]headless` / `--[no-]mirror` (None: not
    given) over the lane file's keys (no file: neither). A flag given overrides the file's other
    key where they clash (`--headless` drops the file's mirror, `--mirror` its headless); both
    given on the command line is a ValueError."""
    if headless and mirror:
        raise ValueError("--mirror draws what the headset shows: leave out --headless")
    file_headless, file_mirror = (lane.headless, lane.mirror) if lane else (False, False)
    if headless is None:
        headless = file_headless and not mirror
    if mirror is None:
        mirror = file_mirror and not headless
    return headless, mirror
