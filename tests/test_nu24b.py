"""nu24 (f24b): run-time wrong results. #3 an agency phrase in a scripted `verbal_command`
line; #6 officer scripts and shooter files kept and hashed with the run; #7 `--taser` over a
drill's own TASER."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from range.cli.main import main

DATA = Path(__file__).resolve().parent / "data" / "nu24"
DRILL = DATA / "metro-cew-edge-v1.toml"  # nu24's CEW bench: taser-7, CQ and standoff bays
BOOK = DATA / "metro-phrases.toml"  # "let me see both hands" is command.show_hands

QUIET = ["--progress", "never", "--sound", "off"]


@pytest.fixture(autouse=True)
def _data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def _script(tmp_path: Path, do: str, name: str = "edge-vc") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'id = "{name}-v1"\nversion = 1\ndescription = "an agency command, then the TASER"\n'
        f'[[steps]]\nat_s = 0.5\ndo = "{do}"\nsay = "Police! Let me see both hands!"\n'
        '[[steps]]\nafter_s = 0.5\ndo = "draw_taser"\n'
        '[[steps]]\nafter_s = 0.3\ndo = "aim"\nregion = "abdomen"\n'
        '[[steps]]\nafter_s = 1.5\ndo = "fire"\n'
    )
    return path


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    runs = tmp_path / "runs"
    assert main(["drill", "run", *argv, "--runs-dir", str(runs), "--json", *QUIET]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


# --- 3. an agency phrase in a scripted verbal_command line ------------------------------------


def test_an_agency_command_scores_alike_in_a_verbal_command_line_and_a_speak_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's merged book (built-in + --phrases) finds the line's acts and the log keeps
    them, so scoring reads them from the log; an older log without them (its line's words
    only) is mapped with the book the run kept, `phrasebook.toml`, not the built-in one."""
    argv = [str(DRILL), "--phrases", str(BOOK), "--seed", "2"]
    spoke = _run(tmp_path, capsys, *argv, "--sim", str(_script(tmp_path, "speak")))
    said = _run(tmp_path, capsys, *argv, "--sim", str(_script(tmp_path, "verbal_command")))

    def judged(result: dict[str, object]) -> tuple[object, object, list[object]]:
        score = result["score"]
        assert isinstance(score, dict)
        verbal = [(f["rule"], f["kind"]) for f in score["findings"] if f["rule"] == "VERBAL-01"]
        return score["score"], score["speech"]["acts"], verbal

    assert judged(said) == judged(spoke)
    assert judged(said)[1] == {"identify": 1, "command.show_hands": 1}
    assert judged(said)[2] == [("VERBAL-01", "credit")]
    run = Path(str(said["run_dir"]))
    events = (run / "events.jsonl").read_text().splitlines()
    line = next(e for e in map(json.loads, events) if e.get("action") == "verbal_command")
    assert line["acts"] == ["identify", "command.show_hands"]

    # An older log: the line's words alone. Rescored with the run's kept book.
    older = [json.dumps({k: v for k, v in json.loads(e).items() if k != "acts"}) for e in events]
    (run / "events.jsonl").write_text("\n".join(older) + "\n")
    assert main(["score", str(run), "--json"]) == 0
    rescored = json.loads(capsys.readouterr().out)
    assert rescored["speech"]["acts"] == {"identify": 1, "command.show_hands": 1}
    assert rescored["score"] == judged(spoke)[0]


# --- 6. officer scripts and shooter files kept, hashed, and held to --------------------------


def test_a_script_file_reusing_a_built_in_id_is_kept_hashed_and_named_modified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import simulated_by

    # phone-draw-correct-v1's id, but it fires the TASER at the man holding a phone.
    fake = tmp_path / "fake-correct.toml"
    fake.write_text(
        'id = "phone-draw-correct-v1"\nversion = 1\ndescription = "not the built-in one"\n'
        '[[steps]]\nat_s = 0.3\ndo = "draw_taser"\n[[steps]]\nafter_s = 0.3\ndo = "aim"\n'
        'region = "abdomen"\n[[steps]]\nafter_s = 0.5\ndo = "fire"\n'
    )
    digest = hashlib.sha256(fake.read_bytes()).hexdigest()
    label = f"phone-draw-correct-v1 (modified, sha256 {digest[:12]})"
    result = _run(tmp_path, capsys, "phone-draw-v1", "--sim", str(fake), "--seed", "1")
    run = Path(str(result["run_dir"]))
    assert result["officer"] == label
    started = json.loads((run / "events.jsonl").read_text().splitlines()[0])
    assert started["officer"] == label
    assert started["officer_sha256"] == digest and started["officer_file"] == str(fake)
    assert (run / "officer.toml").read_bytes() == fake.read_bytes()
    # The records' outcome says which script: SIMULATED (scripted officer LABEL): FAIL.
    assert simulated_by({"result": json.dumps(result)}) == f"scripted officer {label}"
    # The built-in script by its id keeps no copy and is not marked.
    result = _run(
        tmp_path, capsys, "phone-draw-v1", "--sim", "phone-draw-correct-v1", "--seed", "1"
    )
    run = Path(str(result["run_dir"]))
    assert result["officer"] == "phone-draw-correct-v1" and not (run / "officer.toml").exists()
    assert "officer_sha256" not in json.loads((run / "events.jsonl").read_text().splitlines()[0])


def test_a_resume_is_held_to_the_shooter_file_the_attempt_began_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from newuser_support import rivera_db

    from range.records.store import Records

    db = rivera_db(tmp_path)
    rookie = DATA / "metro-rookie.toml"
    other = tmp_path / "s9.toml"  # another metro-rookie: no aim error
    other.write_text(rookie.read_text().replace("aim_error_mrad = 9.0", "aim_error_mrad = 0.0"))
    argv = ["course", "run", str(DATA / "tiny-qual-v1.toml"), "--badge", "4411", "--db", db]
    argv += ["--runs-dir", str(tmp_path / "runs"), "--seed", "1", "--sound", "off"]
    record_shot, kept = Records.record_shot, []

    def cut_after_the_first_string(self: Records, attempt: int, shot: dict[str, object]) -> None:
        record_shot(self, attempt, shot)
        kept.append(shot.get("kind"))
        if kept.count("shot") == 2:
            raise KeyboardInterrupt  # the range master stops it after the first string

    monkeypatch.setattr(Records, "record_shot", cut_after_the_first_string)
    assert main([*argv, "--shooter", str(rookie)]) == 130
    monkeypatch.undo()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (first,) = (tmp_path / "runs").iterdir()
    assert (first / "shooter.toml").read_bytes() == rookie.read_bytes()
    capsys.readouterr()

    assert main([*argv, "--shooter", str(other), "--resume", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"began with shooter file {rookie}" in err and str(other) in err
    # Without --shooter: the copy its first part kept, not "no shooter 'metro-rookie'".
    assert main([*argv, "--resume", "1", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["shooter"] == "metro-rookie" and done["qualification"] is not None


# --- 7. --taser over a drill that fixes its TASER ----------------------------------------------


@pytest.mark.parametrize("spec", ["taser-10", "taser-7:taser7-standoff,taser7-standoff"])
def test_a_taser_option_that_contradicts_the_drill_s_own_taser_is_refused(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = str(_script(tmp_path, "speak"))
    argv = ["drill", "run", str(DRILL), "--sim", sim, "--seed", "1", "--taser", spec, *QUIET]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"openrange: --taser {spec}: drill metro-cew-edge-v1 fixes its TASER (taser-7 loaded"
        " taser7-cq, taser7-standoff): the device is part of its scenario, so a run with another"
        " is not a run of it; leave --taser out, or copy the drill and change its taser_model /"
        " taser_loads"
    )
    assert not (tmp_path / "runs").exists()


def test_a_taser_option_naming_the_drill_s_own_taser_keeps_its_cartridges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = str(_script(tmp_path, "speak"))
    result = _run(tmp_path, capsys, str(DRILL), "--sim", sim, "--seed", "1", "--taser", "taser-7")
    events = (Path(str(result["run_dir"])) / "events.jsonl").read_text().splitlines()
    (taser,) = json.loads(events[0])["devices"]
    assert taser["model"] == "taser-7"
    assert taser["cartridges"] == ["taser7-cq", "taser7-standoff"]  # not the model's default
    assert main(["drill", "show", str(DRILL)]) == 0
    assert (
        "  The drill fixes its TASER: taser-7 loaded taser7-cq, taser7-standoff; --taser cannot"
        " replace it"
    ) in capsys.readouterr().out
