"""rv24 (review of 53735f1..1267561): the mends that carry a test of their own."""

from __future__ import annotations

import shutil
from pathlib import Path

from drills.officer import builtin_officers
from drills.schema import builtin_drills
from range.cli.drill import _officer_for
from range.runs.saved import script_file

OFFICERS = Path(__file__).parents[1] / "drills" / "data" / "officers"


def test_an_officer_script_file_is_played_from_the_bytes_kept_and_hashed(tmp_path: Path) -> None:
    # rv24 #2: the file was read twice, once to play it and once to keep and hash it, so an
    # edit between the two kept other bytes than the ones played. Now it is read once.
    path = tmp_path / "mine.toml"
    shutil.copy(OFFICERS / "active-shooter-correct-v1.toml", path)
    kept = script_file(str(path), builtin_officers())
    assert kept is not None
    path.write_text(path.read_text().replace("aim_error_mrad = 6.0", "aim_error_mrad = 9.0"))
    drill = builtin_drills()["active-shooter-v1"]
    played = _officer_for(str(path), drill, None, kept)
    assert played.aim_error_mrad == 6.0  # the kept bytes, not the file's edit
    assert b"aim_error_mrad = 6.0" in kept.content
