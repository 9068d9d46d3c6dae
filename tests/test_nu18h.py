"""Issue 18, new-user pass nu18g (defects 1, 7, 2, 3, 4): each test fails without its fix.
In-process: drills run through the lane's own live control, the console's app through
Starlette's TestClient."""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

import pytest

from drills.log import LogRecord
from scoring.policy import default_policy
from scoring.score import Score, score_run

DROP_IT = {"act": "command.drop_weapon", "text": "Drop the knife!"}


def _knife_run(runs: Path, mark: dict[str, str] | None) -> list[LogRecord]:
    """knife-approach-v1, seed 3, the taser-first-v1 script (commands, no deadly-force
    warning, then the firearm), played through the lane's live control; `mark` is marked by
    the instructor at 1.0 s, as the console's Mark button sends it."""
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.console.lane import LiveControl
    from range.runs.drill import RunConfig, Session
    from range.runs.runlog import read_events

    commands: queue.Queue[dict[str, Any]] = queue.Queue()
    control = LiveControl(commands, lambda state, events: None, {}, speed=None)

    def on_frame(session: Session) -> None:
        if mark is not None and abs(session.engine.t - 1.0) < 1e-9:
            commands.put({"command": "mark", "by": "inst1", "args": mark})
        control(session)

    config = RunConfig(
        drill=find_drill("knife-approach-v1"),
        officer=find_officer("taser-first-v1"),
        seed=3,
        runs_dir=runs,
        officer_name="4411",
        on_frame=on_frame,
    )
    result = Session(config).run()
    assert result.run_dir is not None
    return read_events(result.run_dir)


@pytest.fixture(scope="module")
def knife_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[LogRecord]]:
    runs = tmp_path_factory.mktemp("knife")
    return {
        "plain": _knife_run(runs / "plain", None),
        "marked": _knife_run(runs / "marked", DROP_IT),
    }


def _findings(score: Score) -> list[tuple[str, str, float, str]]:
    return [(f.rule, f.kind.value, f.points, f.message) for f in score.findings]


def test_a_live_mark_only_adds_the_act_it_names_and_disables_no_rule(
    knife_runs: dict[str, list[LogRecord]],
) -> None:
    # nu18g #1: a mark made the scorer think the log was an older one whose verbal commands
    # had lost their words (RESCORE-01), so VERBAL-02 (no deadly-force warning) went unjudged
    # and the marked run scored 5 points more.
    plain = score_run(knife_runs["plain"], default_policy())
    marked = score_run(knife_runs["marked"], default_policy())
    assert [r.kind for r in knife_runs["marked"] if r.kind == "instructor_command"] == [
        "instructor_command"
    ]
    verbal_02 = [f for f in _findings(plain) if f[0] == "VERBAL-02"]
    assert [f[1] for f in verbal_02] == ["finding"]
    assert [f for f in _findings(marked) if f[0] == "VERBAL-02"] == verbal_02
    assert not marked.not_judged
    assert "RESCORE-01" not in {f.rule for f in marked.findings}
    assert _findings(marked) == _findings(plain)
    assert marked.score == plain.score
    # The mark adds its act, heard from the instructor, and nothing else.
    acts = dict(plain.speech["acts"])
    acts["command.drop_weapon"] = acts.get("command.drop_weapon", 0) + 1
    assert marked.speech["acts"] == acts
    assert marked.speech["marked"] == 1
    assert [h for h in marked.speech["heard"] if h["source"] == "instructor"] == [
        {"t": 1.0, "source": "instructor", "by": "inst1"} | DROP_IT
    ]
