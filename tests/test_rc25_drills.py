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


def test_phases_that_hand_over_to_each_other_at_once_are_refused_naming_them(
    tmp_path: Path,
) -> None:
    """Two phases that branch to each other on conditions true at once flip the subject every
    frame: refused naming the phases and each hand-over's line. Overlapping agitation levels
    count; levels that cannot hold together (a real hysteresis) do not."""
    path = DATA / "loop0.toml"
    with pytest.raises(DataFileError) as caught:
        load_drill(path)
    assert str(caught.value) == (
        f"{path}:21: phases[0].transitions[0].after_s: phases 'a' -> 'b' -> 'a' hand over to"
        " each other on triggers that hold at once (line 21: 'a' after_s = 0; line 33: 'b'"
        " after_s = 0): the subject would flip between them every frame and play none of them;"
        " give one a time (after_s > 0), an event to wait on, or triggers that cannot all hold"
        " together"
    )
    text = path.read_text(encoding="utf-8").replace(
        'id = "man"\nrole', 'id = "man"\ndeescalation = {}\nrole'
    )
    first, second = text.split("after_s = 0.0", 2)[:2], text.split("after_s = 0.0", 2)[2]

    def with_triggers(a: str, b: str) -> Path:
        out = tmp_path / "loop.toml"
        out.write_text(first[0] + a + first[1] + b + second, encoding="utf-8")
        return out

    overlap = with_triggers('on = "agitation_below:0.6"', 'on = "agitation_above:0.4"')
    with pytest.raises(DataFileError, match=r"'a' on = 'agitation_below:0.6'; line \d+: 'b'"):
        load_drill(overlap)
    load_drill(with_triggers('on = "agitation_below:0.4"', 'on = "agitation_above:0.6"'))
    load_drill(with_triggers("after_s = 0.5", "after_s = 0.0"))
