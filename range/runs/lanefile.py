"""A firing lane's file: which serial ports its replicas are on, what tracks the weapon, its
calibration gate, and whether it draws in a headset and an instructor's mirror, so a range master
types them once (`openrange drill run ID --live --lane FILE`). Versioned TOML, validated (every
problem named by file, line and field), documented in docs/lanes.md. Options given on the command
line override the file's.
"""

from __future__ import annotations

import tomllib
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


class LaneCalibration(StrictModel):
    """The lane's calibration gate (docs/tracking.md)."""

    # Refuse a replica without a valid profile, unless a range master overrides.
    required: bool = True
    # Where the profiles are; relative to the lane file's folder. None: the user's data folder.
    profiles: str | None = None


class LaneFile(StrictModel):
    """One firing lane (docs/lanes.md)."""

    version: Literal[1]
    name: str = Field(min_length=1)
    # The replicas' serial ports, one a replica (a firearm and a TASER at most), best named by
    # /dev/serial/by-id so a replica keeps its name across replugs.
    ports: list[str] = Field(min_length=1, max_length=2)
    hand: Hand = "right"  # what tracks the weapon: a controller's aim pose, or a Vive tracker
    calibration: LaneCalibration = LaneCalibration()
    # Track the replicas with a pose-only OpenXR session and draw nothing (a bench without a
    # headset); false: the drill is drawn in the headset.
    headless: bool = False
    # Also show the run from the officer's eyes in a desktop window (the instructor's mirror).
    mirror: bool = False

    @model_validator(mode="after")
    def _distinct_ports(self) -> LaneFile:
        for i, port in enumerate(self.ports):
            if port in self.ports[:i]:
                raise FieldError(("ports", i), f"{port!r}: a port is named twice")
        return self

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
    from peripherals.driver import port_url_problem
    from range.calibration.profiles import CalibrationProfile

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
    for i, port in enumerate(port_list if ports else []):
        wrong = port_url_problem(port)
        if wrong is not None:
            problem(("ports", i), f"{port!r}: {wrong}")
        elif "://" not in port and not Path(port).exists():
            problem(
                ("ports", i),
                f"{port} does not exist (is the replica plugged in? ls /dev/serial/by-id)",
            )
    if folder is not None and not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        problem(("calibration", "profiles"), f"{folder} {what}")
    elif folder is not None:
        for profile in sorted(folder.glob("*.toml")):
            try:
                parse_model(read_text(profile), CalibrationProfile, profile)
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
