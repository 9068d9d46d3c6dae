"""nu17a's new-user pass on the voice features (issue 17), defects 1, 2, 6, 7, 8 and 10: a saved
run is always reviewable, an edited log is not amended into the records, the records show the
corrected findings, each act of an utterance has its own span, a correction can be put back to
what was heard, and corrections-file and phrase-book errors follow the project's style."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from speech_support import spoken_track

from drills.engine import DrillEngine
from drills.log import MemoryLog
from drills.schema import load_drill
from range.cli.main import main
from range.runs.runlog import EVENTS, read_events

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("no espeak-ng")
    from range.voice.audio import write_wav

    folder = tmp_path_factory.mktemp("voices")
    twice: npt.NDArray[np.int16] = spoken_track([(0.2, "drop the knife drop the knife")], 5.0, 0.3)
    conflict = [(0.2, "police"), (1.0, "get down"), (1.9, "step back"), (2.8, "stop right there")]
    return {
        "twice": write_wav(folder / "twice.wav", twice),
        "conflict": write_wav(folder / "conflict.wav", spoken_track(conflict, 8.0)),
    }


@pytest.fixture(scope="module")
def runs(voices: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two recordings run once each (knife-approach-v1, seed 7), for every test to copy."""
    folder = tmp_path_factory.mktemp("runs")
    out: dict[str, Path] = {}
    for name, wav in voices.items():
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            args = ["drill", "run", "knife-approach-v1", "--voice", str(wav), "--seed", "7"]
            assert main([*args, "--runs-dir", str(folder), "--json", "--progress", "never"]) == 0
        out[name] = Path(json.loads(buffer.getvalue())["run_dir"])
    return out


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def _unhashed(run: Path) -> None:
    """The run's result.json as written before it kept the log's sha256."""
    result = json.loads((run / "result.json").read_text())
    del result["log_sha256"]
    (run / "result.json").write_text(json.dumps(result))


def _spoke(run: Path) -> list[dict[str, Any]]:
    lines = (run / EVENTS).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "officer_spoke"]


# -- 1: a saved run is always reviewable ---------------------------------------------------------


@needs_espeak
def test_the_same_command_twice_in_one_breath_is_two_records_told_apart(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(runs["twice"], tmp_path / "run")
    spoke = _spoke(run)
    assert [r["act"] for r in spoke] == ["command.drop_weapon"] * 2
    assert [r["n"] for r in spoke] == [1, 2]
    # Each act has its own span: the second phrase starts where the first ends.
    assert spoke[0]["end_s"] <= spoke[1]["start_s"] < spoke[1]["end_s"]
    assert main(["score", str(run)]) == 0
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    capsys.readouterr()


@needs_espeak
def test_a_log_written_before_n_with_two_identical_officer_spoke_lines_is_still_reviewable(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As nu17a's run 4 was written: the same act twice, byte for byte (no n, one span).
    run = _copy(runs["twice"], tmp_path / "old")
    lines = (run / EVENTS).read_text().splitlines()
    spoke = [i for i, line in enumerate(lines) if '"officer_spoke"' in line]
    first = json.loads(lines[spoke[0]])
    del first["n"]
    lines[spoke[0]] = lines[spoke[1]] = json.dumps(first)
    (run / EVENTS).write_text("\n".join(lines) + "\n")
    _unhashed(run)  # its result.json kept no log hash either
    assert len(read_events(run)) == len(lines)
    assert main(["score", str(run)]) == 0
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    at = str(first["start_s"] + 0.1)
    fix = ["speech", "correct", str(run), "--at", at, "--act", "command.stop", "--by", "Lee"]
    assert main(fix) == 0
    capsys.readouterr()

    # A line written twice that carries its number is a duplicated write: still refused.
    again = _copy(runs["twice"], tmp_path / "again")
    lines = (again / EVENTS).read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if '"officer_spoke"' in line)
    (again / EVENTS).write_text("\n".join([*lines[: i + 1], *lines[i:]]) + "\n")
    assert main(["score", str(again)]) == 2
    assert f"events.jsonl:{i + 2}: repeats the line before it exactly (an officer_spoke twice)" in (
        capsys.readouterr().err
    )


def test_a_scripted_drop_it_drop_it_is_two_numbered_records() -> None:
    drill = load_drill(Path("drills/data/drills/knife-approach-v1.toml"))
    engine = DrillEngine(drill, np.random.default_rng(0), MemoryLog())
    engine.start()
    for _ in range(2):  # a speak step's "Drop it! Drop it!": two acts, the same words and t
        engine.spoke(
            "command.drop_weapon", text="Drop it! Drop it!", confidence=1.0, start_s=0.0, end_s=0.0
        )
    spoke = [r.data for r in engine.log.records if r.kind == "officer_spoke"]
    assert [d["n"] for d in spoke] == [1, 2]


# -- 2: an edited log is not corrected, nor amended into the records ----------------------------


def _recorded(run: Path, db: str) -> int:
    from range.records.store import Records

    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        result = json.loads((run / "result.json").read_text())
        return records.add_drill_run("4411", {**result, "run_dir": str(run)})


def _edit(run: Path) -> None:
    """The first act heard turned into a TASER warning, by hand."""
    text = (run / EVENTS).read_text()
    (run / EVENTS).write_text(text.replace('"command.drop_weapon"', '"warning.taser"', 1))


@needs_espeak
def test_speech_correct_refuses_a_log_edited_since_it_was_written_and_amends_no_record(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import Records

    run = _copy(runs["twice"], tmp_path / "run")
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    number = _recorded(run, db)
    assert main(["score", str(run)]) == 0
    assert "warning" not in capsys.readouterr().err  # as written: nothing to say
    _edit(run)
    at = str(_spoke(run)[1]["start_s"] + 0.05)
    fix = ["speech", "correct", str(run), "--at", at, "--act", "command.stop", "--by", "Lee"]
    assert main([*fix, "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"openrange: {run / EVENTS}: no longer matches the sha256 kept in")
    assert err.endswith("it was edited; not corrected (openrange records verify)\n")
    assert err.count("\n") == 1
    assert list(run.glob("speech-corrections-*")) == []
    with Records.open(db) as records:
        assert not records.drill_run(number).get("corrected")
    # The records' hash alone (a result.json from before it kept one) refuses it too.
    _unhashed(run)
    assert main([*fix, "--db", db]) == 2
    err = capsys.readouterr().err
    assert f"{run / EVENTS}: drill run {number} in the records: its log" in err
    assert "no longer matches the sha256 kept when it was recorded" in err


@needs_espeak
def test_score_of_an_edited_log_warns_naming_it(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(runs["twice"], tmp_path / "run")
    _edit(run)
    assert main(["score", str(run)]) == 0
    err = capsys.readouterr().err
    assert f"openrange: warning: {run / EVENTS}: no longer matches the sha256 kept in" in err
    assert "it was edited; scored as it is now" in err


# -- 6: records show after a correction ----------------------------------------------------------


@needs_espeak
def test_records_show_lists_the_corrected_findings_that_add_up_to_the_score_shown(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(runs["conflict"], tmp_path / "run")
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    number = _recorded(run, db)
    step_back = next(r for r in _spoke(run) if r["act"] == "command.step_back")
    at = str(step_back["start_s"] + 0.05)
    fix = ["speech", "correct", str(run), "--at", at, "--act", "command.get_down", "--by", "Lee"]
    assert main([*fix, "--was", "command.step_back", "--db", db]) == 0
    said = capsys.readouterr().out
    assert f"drill run {number} in the records rescored" in said
    assert main(["records", "show", "--drill-run", str(number), "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = float(next(x for x in lines if "; score " in x).split("; score ")[1].split(";")[0])
    top = lines.index(f"  findings as corrected (score {shown:g}):")
    bottom = next(i for i, x in enumerate(lines) if x.startswith("  findings as recorded (score"))
    recorded = float(lines[bottom].split("(score ")[1].rstrip("):"))
    assert recorded != shown

    def points(block: list[str]) -> float:
        return sum(float(x.split()[3]) for x in block if x.startswith("  ") and " s  " in x)

    assert 100 + points(lines[top + 1 : bottom]) == shown
    after = [x for x in lines[bottom + 1 :] if " s  " in x]
    assert 100 + points(after) == recorded


# -- 7: each act of an utterance is addressed by its own time ------------------------------------


def _acts(run: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    assert main(["score", str(run), "--json"]) == 0
    acts: dict[str, int] = json.loads(capsys.readouterr().out)["speech"]["acts"]
    return acts


@needs_espeak
def test_speech_correct_at_names_one_act_of_an_utterance_by_its_own_time(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.review.report import write_report

    run = _copy(runs["conflict"], tmp_path / "run")
    spoke = {r["act"]: r for r in _spoke(run)}
    # One utterance ("get down step back stop right there"): three acts, each its own span (all
    # three began at the utterance's start, 0.99 s, and the last ran to its end).
    got, back, stop = (spoke[a] for a in ("command.get_down", "command.step_back", "command.stop"))
    assert stop["text"] == "get down step back stop right there"
    assert got["end_s"] <= back["start_s"] < back["end_s"] <= stop["start_s"]
    fix = ["speech", "correct", str(run), "--act", "command.get_down", "--by", "Lee"]
    assert main([*fix, "--at", f"{(back['start_s'] + back['end_s']) / 2:.2f}"]) == 0
    assert "command.step_back -> command.get_down" in capsys.readouterr().out
    assert _acts(run, capsys) == {"identify": 1, "command.get_down": 2, "command.stop": 1}
    # The report's clip for "stop" plays its own words, not the whole utterance.
    page = write_report(run, tmp_path / "r.html").read_text()
    assert f"#t={stop['start_s']:g},{stop['end_s']:g}'>audio</a>" in page


@needs_espeak
def test_one_of_two_identical_acts_is_corrected_alone(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(runs["twice"], tmp_path / "run")
    second = _spoke(run)[1]
    at = f"{(second['start_s'] + second['end_s']) / 2:.2f}"
    fix = ["speech", "correct", str(run), "--at", at, "--act", "command.stop", "--by", "Lee"]
    assert main(fix) == 0
    capsys.readouterr()
    assert (
        json.loads(next(run.glob("speech-corrections-*")).read_text())["corrections"][0]["n"]
        == second["n"]
    )
    assert _acts(run, capsys) == {"command.drop_weapon": 1, "command.stop": 1}


# -- 8: a correction put back to what was heard --------------------------------------------------


@needs_espeak
def test_a_correction_can_be_put_back_to_the_act_heard(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(runs["conflict"], tmp_path / "run")
    back = next(r for r in _spoke(run) if r["act"] == "command.step_back")
    at = ["speech", "correct", str(run), "--at", f"{(back['start_s'] + back['end_s']) / 2:.2f}"]
    assert main([*at, "--act", "command.get_down", "--by", "Sgt Lee"]) == 0
    assert main([*at, "--act", "none", "--by", "Sgt Lee", "--reason", "a cough"]) == 0
    assert main([*at, "--act", "none", "--by", "Sgt Kay", "--reason", "again"]) == 2
    assert "was corrected to none already; nothing to correct" in capsys.readouterr().err
    assert _acts(run, capsys) == {"identify": 1, "command.get_down": 1, "command.stop": 1}
    back_again = [*at, "--act", "command.step_back", "--by", "Sgt Kay"]
    assert main([*back_again, "--was", "command.step_back"]) == 0
    capsys.readouterr()
    assert _acts(run, capsys) == {
        "identify": 1,
        "command.get_down": 1,
        "command.step_back": 1,
        "command.stop": 1,
    }
    assert main(["score", str(run), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert [c["index"] for c in scored["corrections_not_applied"]] == [0, 1]
    assert all(
        "superseded by corrections[2]" in c["why"] for c in scored["corrections_not_applied"]
    )
    # The act heard, with no correction before it, still changes nothing.
    stop = next(r for r in _spoke(run) if r["act"] == "command.stop")
    at[-1] = f"{(stop['start_s'] + stop['end_s']) / 2:.2f}"
    assert main([*at, "--act", "command.stop", "--by", "Lee"]) == 2
    assert "was heard as command.stop already; nothing to correct" in capsys.readouterr().err


# -- 10: corrections-file and phrase-book errors ------------------------------------------------


@needs_espeak
def test_a_bad_corrections_file_names_file_line_and_field_in_plain_words(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(runs["twice"], tmp_path / "run")
    first = _spoke(run)[0]
    at = f"{(first['start_s'] + first['end_s']) / 2:.2f}"
    fix = ["speech", "correct", str(run), "--at", at, "--act", "command.stop", "--by", "Lee"]
    assert main(fix) == 0
    capsys.readouterr()
    kept = next(run.glob("speech-corrections-*.json"))
    text = kept.read_text()
    lines = text.splitlines()
    by = next(i for i, line in enumerate(lines, 1) if '"by"' in line)
    made = next(i for i, line in enumerate(lines, 1) if '"made"' in line)
    bad = text.replace('"by": "Lee"', '"by": 42').replace('"made": ', '"made": true, "x": ')
    kept.write_text(bad)
    assert main(["score", str(run)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"openrange: {kept}:{by}: corrections[0].by: text is needed, not 42"
    assert f"openrange: {kept}:{made}: corrections[0].made: text is needed, not true" in err
    assert f"openrange: {kept}:{made}: corrections[0].x: unknown key" in err
    assert not any("Input should" in line for line in err)
    kept.write_text(text.replace('"by": "Lee",', '"by": "Lee"'))  # a comma left out
    assert main(["score", str(run)]) == 2
    assert f"{kept}:{by + 1}: not valid JSON: Expecting ',' delimiter" in capsys.readouterr().err


def _book(tmp_path: Path, body: str) -> str:
    from drills.speech import phrasebook
    from physics.datafiles import DataFileError

    path = tmp_path / "agency.toml"
    path.write_text('version = 1\nlanguage = "en-us"\n' + body)
    with pytest.raises(DataFileError) as caught:
        phrasebook(path)
    return str(caught.value).replace(str(path), "agency.toml")


def test_a_phrase_book_says_every_bad_phrase_and_pronunciation_one_line_each(
    tmp_path: Path,
) -> None:
    said = _book(
        tmp_path,
        '[[acts]]\nact = "command.stop"\nphrases = ["get  down", "", " stop", "halt!"]\n',
    )
    assert said.splitlines() == [
        f"agency.toml:5: acts[0].phrases[{i}]: {p!r}: a phrase is lower-case words separated"
        " by single spaces"
        for i, p in enumerate(["get  down", "", " stop", "halt!"])
    ]
    said = _book(
        tmp_path,
        '[pronunciations]\nzorb = "Z AO1 R B"\nblip = "XX Y"\n'
        '[[acts]]\nact = "command.stop"\nphrases = ["zorb", "blip"]\n',
    )
    assert said.splitlines()[0].startswith(
        "agency.toml:4: pronunciations.zorb: 'zorb': stress digits are not used"
    )
    assert said.splitlines()[1].startswith(
        "agency.toml:5: pronunciations.blip: not a phone of the en-us model: 'XX';"
    )


def test_a_toml_syntax_error_at_the_end_of_the_file_names_its_line(tmp_path: Path) -> None:
    said = _book(tmp_path, '[[acts]]\nact = "command.stop"\nphrases = ["halt"\n')
    assert said == "agency.toml:5: not valid TOML: Unclosed array (at the end of the file)"
