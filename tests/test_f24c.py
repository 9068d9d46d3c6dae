"""f24c (nu24): drill and course validation a training coordinator meets when authoring: a
subject started in another subject's phase, a relative expected_officer, the docs' own examples,
fields and lines named in errors, and validation gaps. In-process CLI calls and loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.schema import load_drill
from physics.datafiles import DataFileError
from range.cli.main import main

DATA = Path(__file__).parent / "data" / "f24c"


def test_a_subject_started_in_another_subjects_phase_is_refused_with_its_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """nu24 #4: the bystander 'kid' started in the suspect's phase 'agitated' would play the
    suspect's script; refused as a transition to another subject's phase is, on its line."""
    path = DATA / "start-in-other-phase.toml"
    with pytest.raises(DataFileError) as caught:
        load_drill(path)
    assert str(caught.value) == (
        f"{path}:26: subjects[1].start_phase: phase 'agitated' belongs to another subject"
        " ('man'): start 'kid' in a phase whose subject = 'kid'"
    )
    assert main(["drill", "validate", str(path)]) == 1
    assert "subjects[1].start_phase" in capsys.readouterr().err
