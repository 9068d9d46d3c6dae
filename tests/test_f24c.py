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


@pytest.fixture(scope="module")
def a_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One saved run: the flagship demo, a scripted officer, seed 7."""
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    config = RunConfig(
        find_drill("knife-approach-v1"),
        find_officer("taser-first-v1"),
        7,
        runs_dir=tmp_path_factory.mktemp("runs"),
    )
    run_dir = run_drill(config).run_dir
    assert run_dir is not None
    return run_dir


def test_score_json_of_two_runs_one_not_scored_keeps_the_runs_shape(
    a_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu24 #8: two runs given, one of them not scoreable (its kept drill edited; a folder with
    no log): still `{"runs": [...], "officers": [...]}`, entry N argument N, exit status 1."""
    import json
    import shutil

    edited = tmp_path / "edited"
    shutil.copytree(a_run, edited)
    with (edited / "drill.toml").open("a", encoding="utf-8") as f:
        f.write("\n# edited\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad in (edited, empty):
        capsys.readouterr()
        assert main(["score", str(bad), str(a_run), "--json"]) == 1
        out = json.loads(capsys.readouterr().out)
        assert set(out) == {"runs", "officers"}
        first, second = out["runs"]
        assert first["run_dir"] == str(bad) and "not scored" in first["error"]
        assert "score" not in first
        assert second["run_dir"] == str(a_run) and second["drill"] == "knife-approach-v1"
        assert isinstance(second["score"], (int, float))
        # The text is the batch's table too, one row for the run scored.
        assert main(["score", str(bad), str(a_run)]) == 1
        text = capsys.readouterr().out
        assert str(a_run) in text and "Decision:" not in text


def test_a_relative_expected_officer_is_found_beside_the_drill_and_a_missing_one_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu24 #10: `expected_officer = "x.toml"` is looked for in the drill file's folder (the
    command runs from elsewhere: the repository root); a missing file is refused by `drill
    validate` and `drill run` alike, by file, line and field, before anything runs."""
    from drills.schema import drill_file

    folder = tmp_path / "agency"
    folder.mkdir()
    drill = folder / "walk.toml"
    drill.write_text(
        (DATA / "walk.toml").read_text(encoding="utf-8").replace("OFFICER", "walk-officer.toml"),
        encoding="utf-8",
    )
    source = drill_file(drill)
    assert source.expected_officer() == str(folder / "walk-officer.toml")
    with pytest.raises(DataFileError) as caught:
        source.check_expected_officer()
    why = (
        f"{drill}:6: expected_officer: no file 'walk-officer.toml' (looked for at"
        f" {folder / 'walk-officer.toml'}, beside the drill file): give a script file's path or"
        " a built-in script's id"
    )
    assert str(caught.value) == why
    assert main(["drill", "validate", str(drill)]) == 1
    assert capsys.readouterr().err.strip() == why
    assert main(["drill", "run", str(drill), "--seed", "1", "--runs-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"openrange: {why}"
    (folder / "walk-officer.toml").write_text("", encoding="utf-8")
    drill_file(drill).check_expected_officer()  # there now: no error


DOCS = Path(__file__).parent.parent / "docs"


def _toml_block(doc: str, opening: str) -> str:
    """The ```toml block of docs/`doc` whose first line starts with `opening`, as a reader
    copies it."""
    text = (DOCS / doc).read_text(encoding="utf-8")
    blocks = [b.split("\n```", 1)[0] for b in text.split("```toml\n")[1:]]
    found = [b for b in blocks if b.startswith(opening)]
    assert len(found) == 1, f"{doc}: {len(found)} toml blocks open with {opening!r}"
    return found[0]


def test_the_docs_example_course_drill_and_script_work_when_copied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu24 #11: the docs' "every key" course (it had hand = "both" with switch_hand_after,
    and a pass mark above its 16 points) validates; the example drill and its officer script
    validate together, and the script's declared `expect` holds at seed 1 (it said FAIL
    [CEW-02]: the run is a PASS, CEW-02 not feasible against an assaultive subject)."""
    import json

    course = tmp_path / "agency-pistol-v1.toml"
    course.write_text(_toml_block("courses.md", 'id = "agency-pistol-v1"'), encoding="utf-8")
    drill = tmp_path / "example-walk-v1.toml"
    drill.write_text(_toml_block("drills.md", 'id = "example-walk-v1"'), encoding="utf-8")
    officer = tmp_path / "example-officer-v1.toml"
    officer.write_text(_toml_block("drills.md", 'id = "example-officer-v1"'), encoding="utf-8")
    assert main(["course", "validate", str(course)]) == 0
    assert main(["drill", "validate", str(drill), str(officer)]) == 0
    out = capsys.readouterr().out
    assert "ok (example-walk-v1" in out and "checked against drill example-walk-v1" in out
    args = ["drill", "run", str(drill), "--sim", str(officer), "--seed", "1", "--no-save"]
    assert main([*args, "--json"]) == 0
    expect = json.loads(capsys.readouterr().out)["expect"]
    assert expect["checked"] and expect["met"], expect


def _one_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[str]:
    """The error lines of `openrange ARGV` (which must fail), without the `openrange: ` mark."""
    assert main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    return [line.removeprefix("openrange: ") for line in err]


def test_errors_name_the_field_and_line_at_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu24 #12: cover past the side wall blames y_ft with its bound (not x_ft); taser_loads
    without taser_model and expect without drill are said on their own lines (not line 1); a
    phrase-book clash names the phrase's index; a misspelt policy setting id is named on its
    row's line with the id it meant; a stress digit on its own is said as a stress digit."""
    bad = {name: str(DATA / name) for name in ("cv2.toml", "t2.toml", "o4.toml", "pb1.toml")}
    assert _one_error(capsys, ["drill", "validate", bad["cv2.toml"]]) == [
        f"{bad['cv2.toml']}:12: scene.cover[0].y_ft: cover 'wall' lies off the lane: 40 ft is"
        " past a side wall (scene.lane_width_ft = 30); allowed -15 to 15"
    ]
    assert _one_error(capsys, ["drill", "validate", bad["t2.toml"]]) == [
        f"{bad['t2.toml']}:8: taser_loads: needs taser_model: the model whose bays these"
        " cartridges load"
    ]
    assert _one_error(capsys, ["drill", "validate", bad["o4.toml"]]) == [
        f"{bad['o4.toml']}:4: expect: needs drill: the drill whose verdict it declares"
    ]
    said = _one_error(capsys, ["speech", "phrases", "--phrases", bad["pb1.toml"]])
    assert said[:2] == [
        f"{bad['pb1.toml']}:10: acts[0].phrases[2]: 'drop it' is 'command.drop_weapon' in the"
        " built-in phrase book",
        f"{bad['pb1.toml']}:22: acts[3].phrases[1]: 'kneel down' is already 'command.kneel';"
        " a phrase performs one act",
    ]
    assert said[2].startswith(f"{bad['pb1.toml']}:22: acts[3].phrases[2]: 'frobnicate'")
    stressed = tmp_path / "stress.toml"
    stressed.write_text(
        'version = 1\nlanguage = "en-us"\n[pronunciations]\nglorp = "G L AO R P 1"\n'
        '[[acts]]\nact = "command.glorp"\nphrases = ["glorp"]\n',
        encoding="utf-8",
    )
    assert _one_error(capsys, ["speech", "phrases", "--phrases", str(stressed)]) == [
        f"{stressed}:4: pronunciations.glorp: 'glorp': stress digits are not used: drop '1' (the"
        " en-us model's phones are stress-free)"
    ]
    default = Path(__file__).parent.parent / "scoring" / "data" / "policy-default.toml"
    text = default.read_text(encoding="utf-8")
    line = text[: text.index('id = "cew_max_cycles"')].count("\n") + 1
    policy = tmp_path / "policy.toml"
    policy.write_text(text.replace('id = "cew_max_cycles"', 'id = "cew_max_cycle"'), "utf-8")
    said = _one_error(capsys, ["policy", "validate", str(policy)])
    assert len(said) == 1 and said[0].startswith(f"{policy}:{line}: settings[")
    assert said[0].endswith(".id: no setting 'cew_max_cycle' (did you mean 'cew_max_cycles'?)")


def test_the_docs_list_every_region_a_script_may_aim_at() -> None:
    """nu24 #12: docs/drills.md's officer script listed no `pelvis` or `buttocks`, which the
    loader takes."""
    from physics.human import Region

    block = _toml_block("drills.md", 'id = "example-officer-v1"')
    listed = block[block.index('region = "abdomen"') :].split("subject = ", 1)[0]
    words = set(listed.replace("|", " ").replace("#", " ").split())
    assert {r.value for r in Region} <= words


def test_validation_gaps_a_step_past_the_end_a_walk_through_the_walls_a_50_inch_gap(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """nu24 #15: a script step at 25 s in a 20 s drill (never taken), a move_to through the
    lane's walls (the officer ended 70 m behind and 56 m left of the lane), and a 50 in
    clothing gap (centimetres typed as inches) are each refused by file, line and field."""
    drill, script = str(DATA / "metro-cew-edge-v1.toml"), str(DATA / "o10.toml")
    assert _one_error(capsys, ["drill", "validate", drill, script]) == [
        f"{script}:7: steps[0].at_s: 25 s is past drill metro-cew-edge-v1's time_limit_s = 20"
        " (the step would never be taken): allowed 0 <= at_s < 20"
    ]
    drill, script = str(DATA / "metro-crisis-v1.toml"), str(DATA / "mv.toml")
    assert _one_error(capsys, ["drill", "validate", drill, script]) == [
        f"{script}:8: steps[0].x_ft: -250 ft is off drill metro-crisis-v1's lane"
        " (scene.lane_length_ft = 50): allowed -50 to 50",
        f"{script}:9: steps[0].y_ft: 200 ft is past drill metro-crisis-v1's side walls"
        " (scene.lane_width_ft = 20): allowed -10 to 10",
    ]
    gap = str(DATA / "u4.toml")
    assert _one_error(capsys, ["drill", "validate", gap]) == [
        f"{gap}:17: subjects[0].clothing_gap_in: 50 is out of range: allowed 0 <="
        " clothing_gap_in <= 6"
    ]


def test_a_course_string_past_its_cartridges_effective_range_is_warned_of(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """nu24 #15: a TASER 7 CQ string at 24 ft (effective to 16 ft) validates, with a warning
    naming file, line and field; a built-in course gives none."""
    course = str(DATA / "cq24.toml")
    assert main(["course", "validate", course]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{course}: ok (metro-qual-v1")
    assert captured.err.strip() == (
        f"{course}:55: stages[3].strings[0].distance_ft: warning: taser7-cq fired at 24 ft,"
        " outside its effective range 0-16 ft (the default policy's CEW-08): both probes seldom"
        " land there; checked as written"
    )
    from drills.course import builtin_course_files, read_course_file
    from range.cli.course import range_warnings

    for name in builtin_course_files():
        assert range_warnings(read_course_file(name)) == [], name


def test_an_agency_phrase_book_past_the_size_limit_is_refused_with_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu24 #15: 3,000 agency phrases ran recognition 6x slower than real time and lost a
    built-in phrase; a book past MAX_AGENCY_PHRASES is refused on the first phrase past it."""
    from drills.speech import MAX_AGENCY_PHRASES

    def book(phrases: int) -> Path:
        words = ["stand", "there", "hands", "wait", "hold", "still", "move", "back", "now"]
        said = [f"{words[n % 9]} {words[n // 9 % 9]} {words[n // 81 % 9]}" for n in range(phrases)]
        path = tmp_path / f"pb{phrases}.toml"
        listed = ", ".join(f'"{p}"' for p in said)
        path.write_text(
            f'version = 1\nlanguage = "en-us"\n[[acts]]\nact = "command"\nphrases = ["stop now"]\n'
            f'[[acts]]\nact = "rapport.big"\nphrases = [{listed}]\n',
            encoding="utf-8",
        )
        return path

    assert main(["speech", "phrases", "--phrases", str(book(MAX_AGENCY_PHRASES - 1))]) == 0
    capsys.readouterr()
    big = book(MAX_AGENCY_PHRASES)
    assert _one_error(capsys, ["speech", "phrases", "--phrases", str(big)]) == [
        f"{big}:8: acts[1].phrases[{MAX_AGENCY_PHRASES - 1}]: {MAX_AGENCY_PHRASES + 1} phrases:"
        f" an agency phrase book holds at most {MAX_AGENCY_PHRASES} (this is phrase"
        f" {MAX_AGENCY_PHRASES + 1}): each phrase slows recognition and makes it miss more, past"
        " real time for a live run (docs/speech.md, Book size)"
    ]


_TASER_DRILL = """
id = "taser-branch-v1"
version = 1
title = "t"
rationale = "r"
expected_response = "e"
time_limit_s = 30.0

[[subjects]]
id = "s"
start_distance_ft = 10.0
start_phase = "attacks"

[[phases]]
id = "attacks"
subject = "s"
behaviour = "assaultive"
[[phases.transitions]]
to = "down"
on = "probes_connected"
[[phases.transitions]]
to = "hurt"
on = "probes_attached"
[[phases.transitions]]
to = "down"
after_s = 25.0

[[phases]]
id = "hurt"
subject = "s"
behaviour = "active_resistance"
[[phases.transitions]]
to = "down"
after_s = 1.0

[[phases]]
id = "down"
subject = "s"
behaviour = "surrendered"
ends_drill = true
"""


@pytest.mark.parametrize(
    ("effect", "spread_in", "connected", "phase"),
    [
        ("FULL", 16.0, (0, 1), "down"),  # incapacitated: probes_connected
        ("REDUCED", 9.6, (0, 1), "hurt"),  # both probes in, 9.6 in: probes_attached only
        ("NONE", None, (0,), "attacks"),  # one probe in: neither
    ],
)
def test_probes_connected_is_incapacitation_and_probes_attached_any_connection(
    effect: str, spread_in: float | None, connected: tuple[int, ...], phase: str
) -> None:
    """nu24 #9: the coordinator's `attacks -> down on probes_connected` never fired on a
    reduced effect (9.6 in, both probes in): that is incapacitation only, now documented; a
    reduced effect is `probes_attached`, which a full one also is (a phase waiting on both
    takes probes_connected's branch on a full connection)."""
    import numpy as np

    from drills.engine import DrillEngine
    from drills.log import MemoryLog
    from drills.schema import parse_drill
    from physics.taser import Assessment, Effect

    e = DrillEngine(
        parse_drill(_TASER_DRILL, "t.toml"), np.random.default_rng(0), MemoryLog(), dt_s=0.1
    )
    e.start()
    e.step()
    outcome = Assessment(Effect[effect], spread_in, connected, (), "test")
    e.probes([], outcome, "s", serial="T1", bay=0)
    for _ in range(3):
        e.step()
    phases = [r.data["phase"] for r in e.log.records if r.kind == "phase_entered"]
    assert phases[0] == "attacks" and phases[1:2] == ([] if phase == "attacks" else [phase])
