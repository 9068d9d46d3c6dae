"""rc21 #1: a talk-down the officer could not be heard in is not graded; a force drill or an
empathy scene with audio off still is. Simulated runs rescored as if audio had been off."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from drills.log import LogRecord
from drills.officer import find_officer
from drills.schema import builtin_drills
from range.cli.main import main
from range.cli.summary import format_score
from range.runs.drill import RunConfig, RunResult, run_drill
from scoring.policy import default_policy
from scoring.score import Outcome, score_run

WHY = "audio is off: PortAudio is not installed"


def _played(drill_id: str) -> RunResult:
    drill = builtin_drills()[drill_id]
    assert drill.expected_officer is not None
    return run_drill(RunConfig(drill, find_officer(drill.expected_officer), 1, debrief=None))


@pytest.fixture(scope="module")
def talk_down() -> RunResult:
    return _played("crisis-talk-down-v1")


def _unheard(records: list[LogRecord]) -> list[LogRecord]:
    started = records[0]
    assert started.kind == "run_started"
    data = {**started.data, "officer_unheard": WHY}
    return [dataclasses.replace(started, data=data), *records[1:]]


def test_rc21_1_a_talk_down_the_officer_could_not_be_heard_in_is_not_graded(
    talk_down: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = talk_down.records[0].data
    said = started["speech_triggers"]
    assert "speech:command.drop_weapon" in said and "agitation_below:0.35" in said
    assert all(t.startswith(("speech:", "agitation_")) for t in said)
    assert talk_down.score.outcome is Outcome.PASS  # heard: graded as before
    score = score_run(_unheard(talk_down.records), default_policy())
    assert score.outcome is Outcome.INCOMPLETE and not score.passed
    assert score.incomplete == (
        f"the officer could not be heard in a talk-down, a drill decided by what is said: {WHY}"
    )
    text = format_score(score)
    assert "not graded" in text and "Decision:" not in text
    assert score.as_json()["decision"] is None
    # The records keep it not graded, and say why.
    from range.records.store import Records

    unheard = dataclasses.replace(talk_down, records=_unheard(talk_down.records), score=score)
    # `drill run` exits 11 for it, as for any run that ended not graded (README).
    from range.cli.drill import NOT_GRADED_STATUS, graded_status

    assert graded_status(unheard) == NOT_GRADED_STATUS == 11
    assert graded_status(talk_down) == 0
    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        records.add_drill_run("4411", unheard.as_json())
    assert main(["records", "history", "4411", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "PASS" not in out
    assert "the officer could not be heard in a talk-down" in out
    assert main(["records", "show", "--drill-run", "1", "--db", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] is None


def test_rc21_1_a_force_drill_or_an_empathy_scene_with_audio_off_is_graded() -> None:
    force = _played("knife-approach-v1")
    assert "speech_triggers" not in force.records[0].data
    score = score_run(_unheard(force.records), default_policy())
    assert not score.incomplete and score.outcome is Outcome.PASS
    assert any("could not be heard" in line for line in score.not_judged)
    empathy = builtin_drills()["empathy-crisis-voices-v1"]
    assert empathy.empathy is not None and empathy.expected_officer is not None
    answers = [
        {"question": q.id, "text": q.question, "answer": "I heard them", "how": "typed"}
        for q in empathy.empathy.debrief
    ]
    played = run_drill(
        RunConfig(empathy, find_officer(empathy.expected_officer), 1, debrief=lambda d: answers)
    )
    assert played.score.outcome is Outcome.PASS
    # An empathy scene is decided by its completion and its debrief, not by what the officer
    # says in it (none waits on speech): graded with audio off, as a live one in the headset is.
    assert "speech_triggers" not in played.records[0].data
    score = score_run(_unheard(played.records), default_policy())
    assert not score.incomplete and score.outcome is Outcome.PASS
