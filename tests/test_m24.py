"""m24: leftovers from nu24 (#17, DEESC-02 for "Police!" alone) and helpers' notes (the kept
officer and shooter files checked against their logged hashes, a drive-stun's FORCE-01 line,
`records verify` and a sheet sealed with a damaged shot row). Each judged from a real run
in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.officer import find_officer
from drills.schema import parse_drill
from range.cli.main import main
from range.runs.drill import RunConfig, run_drill
from scoring.score import Kind, Score

# /tmp/nu24-bad/ts-btn.toml, shortened and in built-in words: the driver argues (active
# resistance) and the instructor's `comply` ends the drill.
TS_BTN = """
id = "m24-ts-btn-v1"
version = 1
title = "m24: the instructor decides"
rationale = "r"
expected_response = "e"
time_limit_s = 6.0

[[subjects]]
id = "driver"
start_distance_ft = 15.0
start_phase = "argues"

[[phases]]
id = "argues"
subject = "driver"
behaviour = "active_resistance"
movement = "hold"
[[phases.transitions]]
to = "complies"
instructor = "comply"

[[phases]]
id = "complies"
subject = "driver"
behaviour = "compliant"
stance = "arms_raised"
ends_drill = true
"""


def run_ts(tmp_path: Path, *lines: str) -> Score:
    steps = "".join(
        f'[[steps]]\nat_s = {0.3 + 0.2 * i:.1f}\ndo = "speak"\nsay = "{say}"\n'
        for i, say in enumerate(lines)
    )
    path = tmp_path / "officer.toml"
    path.write_text('id = "m24-officer-v1"\nversion = 1\ndescription = "d"\n' + steps)
    config = RunConfig(
        parse_drill(TS_BTN, "m24-ts-btn-v1.toml"),
        find_officer(str(path)),
        1,
        instructor=((1.5, "comply"),),
    )
    return run_drill(config).score


def deesc_02(score: Score) -> list[tuple[Kind, str]]:
    return [(f.kind, f.message) for f in score.findings if f.rule == "DEESC-02"]


def test_police_alone_then_an_instructor_comply_is_no_talk_down(tmp_path: Path) -> None:
    """nu24 #17: DEESC-02 asks that the officer talked to the subject (the rules table's
    "commands given"); "Police!" alone, with the instructor's button ending the drill, is
    "no force used", not a credited talk-down."""
    score = run_ts(tmp_path, "Police!")
    assert score.speech["acts"] == {"identify": 1}
    assert deesc_02(score) == []
    assert score.decision == "no force used"


def test_a_command_then_an_instructor_comply_is_a_talk_down(tmp_path: Path) -> None:
    """The same run with a command after "Police!" is still credited as a talk-down."""
    score = run_ts(tmp_path, "Police!", "Stop!")
    assert score.speech["acts"] == {"identify": 1, "command.stop": 1}
    assert deesc_02(score) == [
        (Kind.CREDIT, "talk-down: driver ended compliant with no force used")
    ]
    assert score.decision == "talk-down: no force used"


# --- the officer script and shooter file kept with a run, checked against their hashes -------

DATA = Path(__file__).resolve().parent / "data" / "nu24"
QUIET = ["--progress", "never", "--sound", "off"]


def _kept_and_edited(
    capsys: pytest.CaptureFixture[str], argv: list[str], copy_name: str
) -> tuple[Path, Path]:
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    run = Path(str(out["run_dir"]))
    copy = run / copy_name
    assert copy.is_file()
    # Nothing to say while the copy is the one played.
    assert main(["score", str(run)]) == 0
    assert capsys.readouterr().err == ""
    copy.write_text(copy.read_text() + "# edited after the run\n")
    return run, copy


def _warned(err: str, copy: Path, run: str) -> None:
    """One line names the edited copy, the hash its log holds and what was changed."""
    started = json.loads((copy.parent / "events.jsonl").read_text().splitlines()[0])
    digest = started["officer_sha256" if copy.name == "officer.toml" else "shooter_sha256"]
    what = "officer script" if copy.name == "officer.toml" else "shooter file"
    assert [line for line in err.splitlines() if str(copy) in line] == [
        f"openrange: warning: {copy} does not match the SHA-256 the {run} recorded"
        f" ({digest[:12]}...): the {what} was changed after the {run}; the {run} is read"
        " from its log"
    ]


def test_an_edited_kept_officer_script_is_said_by_score_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The officer.toml a run keeps is held to its log's officer_sha256 as drill.toml is to
    drill_sha256: an edited copy is said in one line (a warning: the score is the log's)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    script = tmp_path / "police-only.toml"
    script.write_text(
        'id = "police-only-v1"\nversion = 1\ndescription = "d"\n'
        '[[steps]]\nat_s = 0.5\ndo = "speak"\nsay = "Police!"\n'
    )
    argv = ["drill", "run", "phone-draw-v1", "--sim", str(script), "--seed", "1"]
    argv += ["--runs-dir", str(tmp_path / "runs"), *QUIET]
    run, copy = _kept_and_edited(capsys, argv, "officer.toml")
    assert main(["score", str(run)]) == 0
    _warned(capsys.readouterr().err, copy, "run")
    page = tmp_path / "report.html"
    assert main(["report", str(run), "--out", str(page)]) == 0
    _warned(capsys.readouterr().err, copy, "run")
    assert "the officer script was changed after the run" in page.read_text()
    copy.unlink()
    assert main(["score", str(run)]) == 0
    assert f"openrange: warning: {copy}: missing: the copy of the officer script" in (
        capsys.readouterr().err
    )


def test_an_edited_kept_shooter_file_is_said_by_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shooter.toml an attempt keeps, held to its log's shooter_sha256."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    argv = ["course", "run", str(DATA / "tiny-qual-v1.toml"), "--seed", "1"]
    argv += ["--shooter", str(DATA / "metro-rookie.toml"), "--sound", "off"]
    argv += ["--runs-dir", str(tmp_path / "runs")]
    run, copy = _kept_and_edited(capsys, argv, "shooter.toml")
    assert main(["score", str(run)]) == 0
    _warned(capsys.readouterr().err, copy, "attempt")


# --- a drive-stun's FORCE-01 line names the drive-stun ----------------------------------------

# /tmp/nu24-bad/ds2.toml, shortened: a passive, unarmed man 2 ft away.
DS_PASSIVE = """
id = "m24-ds-passive-v1"
version = 1
title = "m24: a drive-stun on a passive man"
rationale = "r"
expected_response = "e"
time_limit_s = 6.0
taser_model = "taser-7"
weapons = ["taser"]

[[subjects]]
id = "man"
start_distance_ft = 2.0
start_phase = "threatens"

[[phases]]
id = "threatens"
subject = "man"
behaviour = "passive_resistance"
[[phases.transitions]]
to = "down"
after_s = 4.0

[[phases]]
id = "down"
subject = "man"
behaviour = "compliant"
ends_drill = true
"""


def test_a_drive_stun_s_force_01_line_names_the_drive_stun(tmp_path: Path) -> None:
    """A drive-stun's FORCE-01 line says "drive-stun", not a bare "TASER cycle 1" that reads
    as a probe deployment's cycle (nu24 #5's run: ds-officer.toml on ds2.toml)."""
    path = tmp_path / "officer.toml"
    path.write_text(
        'id = "ds-officer-v1"\nversion = 1\ndescription = "d"\n'
        '[[steps]]\nat_s = 0.3\ndo = "speak"\nsay = "Police! Stop or you will be tased"\n'
        '[[steps]]\nafter_s = 0.3\ndo = "draw_taser"\n'
        '[[steps]]\nafter_s = 0.5\ndo = "drive_stun"\nregion = "leg"\nduration_s = 2.0\n'
    )
    config = RunConfig(
        parse_drill(DS_PASSIVE, "m24-ds-passive-v1.toml"), find_officer(str(path)), 1
    )
    score = run_drill(config).score
    assert score.subjects["man"]["drive_stuns"] == 1
    ((kind, message),) = [(f.kind, f.message) for f in score.findings if f.rule == "FORCE-01"]
    assert kind is Kind.FINDING
    assert message.startswith(
        "drive-stun (TASER cycle 1) against man's threat level passive is excessive"
    ), message


# --- records verify names a record sealed with a damaged shot row ------------------------------


def test_verify_warns_of_a_record_sealed_with_a_damaged_shot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record sealed (before nu25 #2's check) with a shot missing its string: `records show`
    warns; `records verify` now says it too, as a warning naming record, shot and field, with
    the chain still intact (it is: the record's hash matches what was sealed)."""
    from test_nu25a import _close, _hand_made, _sql

    from range.cli.records import VERIFY_WARNED
    from range.records.store import Records

    db, path = _hand_made(tmp_path)
    assert main(["records", "verify", "--db", db]) == 0  # an attempt in progress: no record
    _sql(path, 'UPDATE attempt_shots SET shot = \'{"kind": "shot", "stage": 1}\'')
    with monkeypatch.context() as mp:  # sealed as an older OpenRange sealed it
        mp.setattr(Records, "_check_kept", lambda *args, **kwargs: None)
        assert main(_close(db)) == 0
    capsys.readouterr()
    assert main(["records", "verify", "--db", db]) == VERIFY_WARNED
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("chain intact, 1 warning: 1 qualification record")
    (warning,) = [line for line in out if line.startswith("WARNING:")]
    assert warning.startswith(
        "WARNING: record 1: shot 1 (shot): string: required field is missing: damaged"
    ), warning
    assert "run records verify" not in warning
    assert main(["records", "verify", "--json", "--db", db]) == VERIFY_WARNED
    shown = json.loads(capsys.readouterr().out)
    assert shown["intact"] is True and shown["problems"] == []
    ((record, problem),) = [(w["record"], w["problem"]) for w in shown["warnings"]]
    assert record == 1 and "shot 1 (shot): string: required field is missing" in problem
