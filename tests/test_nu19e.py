"""nu19 #10: drill and officer-script messages in the docs' words, officer scripts checked by
`drill validate`, and every problem of a `--sim` script said at once, each line `openrange:`."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.officer import OfficerScript
from drills.schema import parse_drill
from physics.datafiles import DataFileError, parse_model
from range.cli.main import main

DRILL = """\
id = "nu19-bat-walk-v1"
version = 1
title = "A man with a bat walks at the officer"
rationale = "Distance and the TASER against an impact weapon."
expected_response = "Commands, TASER at the lower torso."
time_limit_s = 20.0

[scene]
lane_length_ft = 60.0
lighting = "dusk"

[[subjects]]
id = "man"
start_distance_ft = 30.0
held_object = "bat"
start_phase = "yelling"

[[phases]]
id = "yelling"
subject = "man"
behaviour = "active_resistance"
say = "Get out of here!"
[[phases.transitions]]
to = "down"
after_s = 2.0

[[phases]]
id = "down"
subject = "man"
behaviour = "surrendered"
ends_drill = true
"""

SCRIPT = """\
id = "nu19-officer-v1"
version = 1
description = "Commands, then the TASER."
drill = "nu19-bat-walk-v1"

[[steps]]
at_s = 0.5
do = "verbal_command"
say = "Police! Drop the bat!"

[[steps]]
after_s = 0.5
do = "draw_taser"

[[steps]]
after_s = 0.3
do = "aim"
region = "abdomen"
subject = "man"
"""


def _refused(text: str) -> list[str]:
    with pytest.raises(DataFileError) as caught:
        parse_drill(text, "x.toml")
    return str(caught.value).splitlines()


def test_an_empty_say_is_refused_in_the_docs_words() -> None:
    said = _refused(DRILL.replace('say = "Get out of here!"', 'say = ""'))
    assert said == ["x.toml:22: phases[0].say: text is needed, not empty text ('')"]


def test_a_key_given_twice_names_the_key_and_where_it_was_first() -> None:
    said = _refused(DRILL.replace('lighting = "dusk"', 'lighting = "dusk"\nlighting = "day"'))
    assert said == [
        "x.toml:11: scene.lighting: not valid TOML: given twice (first at line 10); a key is"
        " set once"
    ]


def test_an_empty_subject_id_title_or_crowd_name_is_refused() -> None:
    text = (
        DRILL.replace('id = "man"', 'id = ""')
        .replace('subject = "man"', 'subject = ""')
        .replace('title = "A man with a bat walks at the officer"', 'title = "  "')
        .replace(
            'lighting = "dusk"',
            'lighting = "dusk"\ncrowds = [{ name = "", x_ft = 45.0, width_ft = 8.0,'
            " depth_ft = 6.0 }]",
        )
    )
    said = _refused(text)
    assert said == [
        "x.toml:3: title: text is needed, not only spaces ('  ')",
        "x.toml:11: scene.crowds[0].name: text is needed, not empty text ('')",
        "x.toml:14: subjects[0].id: text is needed, not empty text ('')",
        "x.toml:21: phases[0].subject: text is needed, not empty text ('')",
        "x.toml:30: phases[1].subject: text is needed, not empty text ('')",
    ]


def test_an_officer_script_with_an_empty_subject_or_no_steps_is_refused() -> None:
    with pytest.raises(DataFileError) as caught:
        parse_model(SCRIPT.replace('subject = "man"', 'subject = ""'), OfficerScript, "o.toml")
    assert str(caught.value) == "o.toml:19: steps[2].subject: text is needed, not empty text ('')"
    with pytest.raises(DataFileError) as caught:
        parse_model(SCRIPT.split("[[steps]]")[0] + "steps = []\n", OfficerScript, "o.toml")
    assert str(caught.value) == (
        "o.toml:6: steps: an empty list is not allowed: give at least 1 item(s)"
    )


def test_a_move_to_beyond_the_longest_lane_is_refused() -> None:
    # rc19 #9: `move_to x_ft = 1e6` on a 60 ft lane was taken, and walked toward all run.
    far = SCRIPT + '\n[[steps]]\nafter_s = 0.2\ndo = "move_to"\nx_ft = 1e6\ny_ft = 0.0\n'
    with pytest.raises(DataFileError) as caught:
        parse_model(far, OfficerScript, "o.toml")
    assert str(caught.value) == (
        "o.toml:24: steps[3].x_ft: 1e+06 is out of range: allowed -300 <= x_ft <= 300"
    )
    near = far.replace("x_ft = 1e6", "x_ft = 12.0")
    assert parse_model(near, OfficerScript, "o.toml").steps[3].x_ft == 12.0


def test_drill_validate_checks_a_script_against_the_drill_it_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drill, script = tmp_path / "bat.toml", tmp_path / "officer.toml"
    drill.write_text(DRILL)
    script.write_text(SCRIPT)
    assert main(["drill", "validate", str(drill), str(script)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        f"{script}: ok (officer script nu19-officer-v1, 3 step(s); checked against drill"
        " nu19-bat-walk-v1)"
    )
    # On its own, its drill not built in: checked as a script, and said what was not checked.
    assert main(["drill", "validate", str(script)]) == 0
    assert "not checked against drill nu19-bat-walk-v1" in capsys.readouterr().out
    # A built-in script by its id, against the drill whose expected response it is.
    assert main(["drill", "validate", "bystander-correct-v1"]) == 0
    assert capsys.readouterr().out.endswith(
        "checked against drill two-subjects-bystander-v1 (its expected response))\n"
    )
    script.write_text(SCRIPT.replace('subject = "man"', 'subject = "ghost"'))
    assert main(["drill", "validate", str(drill), str(script)]) == 1
    assert capsys.readouterr().err == (
        f"{script}:19: steps[2].subject: drill nu19-bat-walk-v1 has no subject 'ghost': one of"
        " man\n"
    )


def test_a_sim_script_s_problems_are_said_at_once_each_line_openrange(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drill, script = tmp_path / "bat.toml", tmp_path / "officer.toml"
    drill.write_text(DRILL)
    bad = (
        SCRIPT.replace('region = "abdomen"', 'region = "belly"').replace(
            'subject = "man"', 'subject = "ghost"'
        )
        + '\n[[steps]]\nafter_s = 1.0\ndo = "speak"\nsay = "Hello there."\nonly_if = "maybe"\n'
    )
    script.write_text(bad)
    argv = ["drill", "run", str(drill), "--sim", str(script), "--no-save"]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"openrange: {script}:18: steps[2].region: one of 'head', 'face', 'neck', 'upper_chest',"
        " 'abdomen', 'pelvis_groin', 'upper_back', 'lower_back', 'arm', 'leg', 'pelvis' or"
        " 'buttocks' is needed, not the text 'belly'",
        f"openrange: {script}:19: steps[2].subject: drill nu19-bat-walk-v1 has no subject"
        " 'ghost': one of man",
        f"openrange: {script}:24: steps[3].say: a speak step's say 'Hello there.' holds no"
        " phrase of the phrase book (openrange speech phrases)",
        f"openrange: {script}:25: steps[3].only_if: one of 'subject_active' or"
        " 'subject_incapacitated' is needed, not the text 'maybe'",
    ]


def test_drill_validate_checks_a_script_naming_another_drill_against_the_one_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # rc19 #6: a script naming knife-approach-v1 (subject "subject"), given beside the bat
    # drill, was said ok against knife-approach-v1; `drill run BAT --sim SCRIPT` refuses it.
    drill, script = tmp_path / "bat.toml", tmp_path / "officer.toml"
    drill.write_text(DRILL)
    named = SCRIPT.replace('drill = "nu19-bat-walk-v1"', 'drill = "knife-approach-v1"')
    script.write_text(named.replace('subject = "man"', 'subject = "subject"'))
    capsys.readouterr()
    assert main(["drill", "validate", str(drill), str(script)]) == 1
    assert capsys.readouterr().err == (
        f"{script}:19: steps[2].subject: drill nu19-bat-walk-v1 has no subject 'subject': one"
        " of man\n"
    )
    # One that fits the drill given: ok, and said which drill it names and which it was checked
    # against.
    script.write_text(named)
    assert main(["drill", "validate", str(drill), str(script)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        f"{script}: ok (officer script nu19-officer-v1, 3 step(s); it names drill"
        " knife-approach-v1, not nu19-bat-walk-v1 given with it: checked against"
        " nu19-bat-walk-v1, as drill run DRILL --sim plays it there)"
    )


@pytest.mark.parametrize("case", ["ok", "checked against the drill given", "alone", "refused"])
def test_drill_validate_parses_an_officer_script_once(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rv19 #4's leftover: `drill validate` read a script's table to know it was one, then
    `load_script_for` parsed the file again (and a third time to say every problem at once)."""
    import tomllib

    drill, script = tmp_path / "bat.toml", tmp_path / "officer.toml"
    drill.write_text(DRILL)
    text = {
        "ok": SCRIPT,
        "checked against the drill given": SCRIPT.replace("nu19-bat-walk-v1", "knife-approach-v1"),
        "alone": SCRIPT,
        "refused": SCRIPT.replace('"abdomen"', '"belly"').replace('"man"', '"ghost"'),
    }[case]
    script.write_text(text)
    parsed: list[str] = []
    real = tomllib.loads

    def counted(source: str, **kwargs: object) -> dict[str, object]:
        parsed.append(source)
        return real(source)

    monkeypatch.setattr(tomllib, "loads", counted)
    given = [] if case == "alone" else [str(drill)]
    assert main(["drill", "validate", *given, str(script)]) == (1 if case == "refused" else 0)
    said = capsys.readouterr()
    assert parsed.count(text) == 1, said


def test_a_number_below_or_far_above_a_one_sided_bound_is_said_in_one_wording() -> None:
    """rc19 nit: `at_s = -0.5` said "allowed at_s >= 0" while `1e300` said "allowed 0 <= at_s
    <= 1e+06": both now name the whole allowed range."""
    said = []
    for value in ("-0.5", "1e300"):
        with pytest.raises(DataFileError) as caught:
            parse_model(SCRIPT.replace("at_s = 0.5", f"at_s = {value}"), OfficerScript, "o.toml")
        said.append(str(caught.value).splitlines())
    assert said == [
        [f"o.toml:7: steps[0].at_s: {given} is out of range: allowed 0 <= at_s <= 1e+06"]
        for given in ("-0.5", "1e+300")
    ]
