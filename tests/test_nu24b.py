"""nu24 (f24b): run-time wrong results. #3 an agency phrase in a scripted `verbal_command`
line; #6 officer scripts and shooter files kept and hashed with the run; #7 `--taser` over a
drill's own TASER."""

from __future__ import annotations

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
