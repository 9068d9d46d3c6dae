"""A firing lane's file: which serial ports its replicas are on, what tracks the weapon, its
calibration gate, and whether it draws in a headset and an instructor's mirror, so a range master
types them once (`openrange drill run ID --live --lane FILE`). Versioned TOML, validated (every
problem named by file, line and field), documented in docs/lanes.md. Options given on the command
line override the file's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from physics.datafiles import StrictModel, load_model

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
        if len(set(self.ports)) != len(self.ports):
            raise ValueError("a port is named twice")
        return self

    @model_validator(mode="after")
    def _mirror_needs_a_headset(self) -> LaneFile:
        if self.headless and self.mirror:
            raise ValueError("mirror draws what the headset shows: it needs headless = false")
        return self

    def profiles_dir(self, lane_file: Path) -> Path | None:
        """The calibration folder, a relative one taken from the lane file's folder."""
        if self.calibration.profiles is None:
            return None
        folder = Path(self.calibration.profiles).expanduser()
        return folder if folder.is_absolute() else lane_file.parent / folder


def load_lane(path: Path) -> LaneFile:
    """Read and validate a lane file. Raises physics.datafiles.DataFileError naming the file,
    the line and the field of the first problem; FileNotFoundError for a missing file."""
    return load_model(path, LaneFile)


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
