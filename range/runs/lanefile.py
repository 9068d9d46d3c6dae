"""A firing lane's file: which serial ports its replicas are on, what tracks the weapon, and
its calibration gate, so a range master types them once (`openrange drill run ID --live --lane
FILE`). Versioned TOML, validated (every problem named by file, line and field), documented in
docs/lanes.md. Options given on the command line override the file's.
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

    @model_validator(mode="after")
    def _distinct_ports(self) -> LaneFile:
        if len(set(self.ports)) != len(self.ports):
            raise ValueError("a port is named twice")
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
