"""rc25 #7 (nu24 #15 leftovers): drill validation refuses what a run can never play as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.schema import load_drill
from physics.datafiles import DataFileError

DATA = Path(__file__).parent / "data" / "rc25"


def test_a_safe_distance_past_the_lane_is_refused_by_line_and_field() -> None:
    """safe_distance_ft = 150 on a 50 ft lane: time calms the subject only that far away, which
    the officer can never be, so the tactical pause the drill teaches would never work."""
    path = DATA / "u3.toml"
    with pytest.raises(DataFileError) as caught:
        load_drill(path)
    assert str(caught.value) == (
        f"{path}:20: subjects[0].deescalation.safe_distance_ft: 150 ft can never be reached:"
        " it is past the lane (scene.lane_length_ft = 50), so time at a distance never calms"
        " the subject; allowed up to 50"
    )
