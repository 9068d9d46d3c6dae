"""Drill files and the engine: errors that point at the line, transitions, explicit states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from drill_text import GOOD

from drills.engine import DrillEngine, OfficerAction, RunState
from drills.log import MemoryLog
from drills.schema import builtin_drills, parse_drill
from drills.threat import Behaviour
from physics.datafiles import DataFileError


def test_builtin_drills_load() -> None:
    assert "knife-approach-v1" in builtin_drills()


def test_unknown_key_names_file_line_and_field() -> None:
    text = GOOD.replace('behaviour = "assaultive"', 'behaviour = "assaultive"\nspeeed_mps = 3.0')
    with pytest.raises(DataFileError) as caught:
        parse_drill(text, Path("drills/bad.toml"))
    line = text.splitlines().index("speeed_mps = 3.0") + 1
    assert str(caught.value) == (
        f"drills/bad.toml:{line}: phases[1].speeed_mps: unknown key (check the spelling against"
        " the documentation)"
    )


def test_transition_to_a_missing_phase_is_named() -> None:
    text = GOOD.replace('to = "stop"', 'to = "stpo"')
    with pytest.raises(DataFileError) as caught:
        parse_drill(text, "x.toml")
    line = text.splitlines().index('to = "stpo"') + 1
    assert f"x.toml:{line}: phases[1].transitions[0].to: no phase 'stpo'" in str(caught.value)


def test_unreachable_phase_is_named() -> None:
    text = GOOD + '\n[[phases]]\nid = "orphan"\nsubject = "s"\nbehaviour = "fleeing"\n'
    with pytest.raises(DataFileError) as caught:
        parse_drill(text, "x.toml")
    line = text.splitlines().index('id = "orphan"') + 1
    assert f"x.toml:{line}: phases[4].id: phase 'orphan' cannot be reached" in str(caught.value)


def test_a_bad_value_is_named_with_its_line() -> None:
    text = GOOD.replace('behaviour = "surrendered"', 'behaviour = "sleepy"')
    with pytest.raises(DataFileError) as caught:
        parse_drill(text, "x.toml")
    line = text.splitlines().index('behaviour = "sleepy"') + 1
    assert str(caught.value).startswith(f"x.toml:{line}: phases[2].behaviour: one of 'compliant',")
    assert str(caught.value).endswith("or 'incapacitated' is needed, not the text 'sleepy'")


def test_broken_toml_names_the_line() -> None:
    with pytest.raises(DataFileError, match=r"^x.toml:3: not valid TOML"):
        parse_drill('id = "a"\nversion = 1\ntitle = \n', "x.toml")


def engine(text: str = GOOD) -> DrillEngine:
    e = DrillEngine(parse_drill(text, "t.toml"), np.random.default_rng(0), MemoryLog(), dt_s=0.1)
    e.start(seed=0)
    return e


def test_time_and_distance_transitions_move_the_subject() -> None:
    e = engine()
    while not e.finished:
        e.step()
    phases = [r.data["phase"] for r in e.log.records if r.kind == "phase_entered"]
    assert phases == ["wait", "walk", "stop"]
    assert e.state is RunState.COMPLETED
    # 1 s waiting, then 10 ft at 2 m/s = 1.524 s, rounded up to the 0.1 s step.
    assert e.t == pytest.approx(2.6)
    assert e.observe().subject().behaviour is Behaviour.SURRENDERED


def test_an_officer_cue_takes_its_transition() -> None:
    e = engine()
    for _ in range(12):
        e.step()
    e.officer_action(OfficerAction.VERBAL_COMMAND)
    e.step()
    assert e.observe().subject().phase == "give_up" and e.finished


def test_a_reaction_is_logged_no_earlier_than_its_cause() -> None:
    # A live replica's event is stamped with its own time, up to a frame past the engine's
    # last step: the phase it cues must not be logged before it (nor before the engine's now).
    e = engine()
    for _ in range(12):
        e.step()
    cause_t = e.t + 0.05
    e.officer_action(OfficerAction.VERBAL_COMMAND, cause_t)
    spoke = next(r for r in e.log.records if r.kind == "officer_action")
    entered = [r for r in e.log.records if r.kind == "phase_entered"][-1]
    assert entered.data["phase"] == "give_up"
    assert entered.t == pytest.approx(cause_t) and entered.t >= spoke.t
    # A cause stamped before the engine's present (an event read late) is answered now.
    late = engine()
    for _ in range(12):
        late.step()
    late.officer_action(OfficerAction.VERBAL_COMMAND, late.t - 0.05)
    entered = [r for r in late.log.records if r.kind == "phase_entered"][-1]
    assert entered.t == pytest.approx(late.t)


def test_a_suspended_drill_freezes_its_clock_and_keeps_its_log() -> None:
    e = engine()
    e.step()
    e.suspend("taser unplugged")
    before = (e.t, len(e.log.records))
    for _ in range(5):
        e.step()
    assert (e.t, len(e.log.records)) == before
    e.resume()
    e.step()
    assert e.t > before[0]
    kinds = [r.kind for r in e.log.records]
    assert kinds.index("run_suspended") < kinds.index("run_resumed")


def test_a_chance_branch_draws_from_the_seed() -> None:
    text = GOOD.replace('to = "walk"\nafter_s = 1.0', 'to = "walk"\nafter_s = 1.0\nchance = 0.5')
    outcomes = set()
    for seed in range(12):
        e = DrillEngine(
            parse_drill(text, "t.toml"), np.random.default_rng(seed), MemoryLog(), dt_s=0.1
        )
        e.start()
        for _ in range(15):
            e.step()
        again = DrillEngine(
            parse_drill(text, "t.toml"), np.random.default_rng(seed), MemoryLog(), dt_s=0.1
        )
        again.start()
        for _ in range(15):
            again.step()
        assert e.observe().subject().phase == again.observe().subject().phase
        outcomes.add(e.observe().subject().phase)
    assert outcomes == {"wait", "walk"}


def test_the_documented_examples_are_valid_files(repo_root: Path) -> None:
    """docs/drills.md shows every key; its examples must load as they are."""
    from drills.officer import OfficerScript
    from physics.datafiles import parse_model

    text = (repo_root / "docs" / "drills.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```toml\n")[1:]]
    drill_text, officer_text, empathy_text = blocks
    assert parse_drill(drill_text, "docs/drills.md").id == "example-walk-v1"
    # The empathy scene's section, on the example drill (whose one subject is "subject").
    kind, section = empathy_text.split("\n", 1)
    scene = drill_text.replace("version = 1", f"version = 1\n{kind}", 1) + section
    empathy = parse_drill(scene.replace('"child"', '"subject"'), "docs/drills.md").empathy
    assert empathy is not None and empathy.hears == "muffled"
    steps = parse_model(officer_text, OfficerScript, "docs/drills.md").steps
    assert steps[-3].only_if == "subject_active"
    assert (steps[-2].do, steps[-2].on_phase) == ("move_to", "stop")
    assert (steps[-1].do, steps[-1].region, steps[-1].duration_s) == ("drive_stun", "leg", 2.0)
