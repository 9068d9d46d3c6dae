"""l24a: records and console items earlier sessions left alone: `score` exits 11 for a run
not graded; a faulted run is said faulted wherever the records show it (rc21 #7c); ..."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from newuser_support import saved_knife_run

from range.cli.main import main
from range.records.store import Records

FAULT = "T7-0042 did not come back within 2 s"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return saved_knife_run(tmp_path_factory.mktemp("runs"))


def _faulted_result(run_dir: Path) -> dict[str, Any]:
    """The run's result.json as a live run that faulted keeps it (range/runs/drill.py)."""
    result = json.loads((run_dir / "result.json").read_text())
    result |= {"state": "faulted", "end_reason": FAULT}
    result["score"] |= {"outcome": "INCOMPLETE", "complete": False, "decision": "INCOMPLETE"}
    return dict(result)


def _faulted_folder(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of the run whose log ends as a faulted run's does (run_ended state faulted)."""
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    (copy / "result.json").unlink()
    lines = (copy / "events.jsonl").read_text(encoding="utf-8").splitlines()
    ended = json.loads(lines[-1])
    assert ended["kind"] == "run_ended"
    ended |= {"state": "faulted", "reason": FAULT}
    lines[-1] = json.dumps(ended)
    (copy / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copy


def test_score_of_a_lone_faulted_run_exits_not_graded(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faulted = _faulted_folder(run_dir, tmp_path)
    assert main(["score", str(faulted)]) == 11  # README: 11, a drill run not graded
    out = capsys.readouterr().out
    assert f"INCOMPLETE  (the run faulted: {FAULT}; not graded" in out, out
    assert main(["score", str(faulted), "--json"]) == 11
    capsys.readouterr()
    # With a graded run beside it, the batch reports rates: 0.
    assert main(["score", str(run_dir), str(faulted)]) == 0


def test_the_console_trend_says_a_faulted_run_faulted(run_dir: Path, tmp_path: Path) -> None:
    from range.console.pages import trend

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        number = records.add_drill_run("4411", _faulted_result(run_dir))
        rows, left_out = trend(records, "4411")
    assert rows == []
    (why,) = [entry["why"] for entry in left_out]
    assert why == f"run {number}: INCOMPLETE, no decision (faulted): {FAULT}", why
    assert "cut short" not in why


def _sheet_text(sheets: list[dict[str, Any]]) -> str:
    """The officer page's qualification tables as text, rendered by the console's template."""
    import re

    from starlette.templating import Jinja2Templates

    from range.console.app import HERE

    page = (
        Jinja2Templates(directory=str(HERE / "templates"))
        .env.get_template("officer.html")
        .render(
            user=None,
            csrf="x",
            lanes={},
            officer={"name": "A", "badge": "4411"},
            sheets=sheets,
            runs=[],
            trend=[],
        )
    )
    # A DAMAGED record's sheet is no table (rc24 #5): a caption line and why.
    tables = re.findall(r'<(table|div) class="sheet[^"]*">(.*?)</\1>', page, re.S)
    return "\n".join(" ".join(re.sub("<[^>]+>", " ", t).split()) for _, t in tables)


def test_a_damaged_qualification_sheet_says_why_and_shows_no_sums(tmp_path: Path) -> None:
    """rc21 #7e: it read `Stages together - -`, `Recorded total (of 4) - -`, `Does NOT add up.`"""
    from range.console.pages import attempt_sheet

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        stages = [{"name": "1", "points": 40, "hits": 8}]
        score = {"points": 40, "max_points": 100, "hits": 8, "passed": False, "stages": stages}
        ids = []
        for _ in range(3):
            attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 3, "0.1.0", [], [])
            ids.append(records.finish_attempt(attempt, score))
        _, edited, unreadable = ids
        records.execute("UPDATE qualifications SET points = 95 WHERE id = ?", edited)
        records.execute("UPDATE qualifications SET detail = '{bad' WHERE id = ?", unreadable)
        sheets = [attempt_sheet(records.qualification(q)) for q in ids]
    text = _sheet_text(sheets)
    good, *damaged = text.split("\n")
    assert "Stage Points Hits" in good
    assert "Stages together 40 8" in good and "Adds up." in good
    assert [s["damage"] for s in sheets] == [
        None,
        "its contents no longer match its hash: it was edited outside OpenRange",
        "its contents no longer match its hash: it was edited outside OpenRange",
    ]
    for said in damaged:
        assert "Record damaged: its contents no longer match its hash" in said, said
        assert "Its points and hits are not shown" in said and "run records verify" in said
        assert "add up" not in said and "Stages together" not in said
        assert "Recorded total" not in said
        assert "Stage" not in said, said  # no table header over no rows (rc24 #5)


def test_a_refused_output_path_is_a_usage_error(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rc21 #7f: `range.outfile.check`'s refusals exited 9 (storage); nothing was tried on the
    disk: they are usage errors (2). rc21 #7a: a re-export there says what may be written."""
    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
    export = ["records", "export", "--format", "csv", "--db", url, "--out"]
    log = run_dir / "events.jsonl"
    before = log.read_bytes()
    assert main([*export, str(log)]) == 2
    assert capsys.readouterr().err == (
        f"openrange: {log}: one of the run's own files (its folder holds events.jsonl): refused,"
        " name another file (left as it was)\n"
    )
    assert log.read_bytes() == before
    mine = run_dir / "l24a-export.csv"
    try:
        assert main([*export, str(mine)]) == 0  # a new file beside the run's
        capsys.readouterr()
        assert main([*export, str(mine)]) == 2  # named again: refused, saying what may be
        err = capsys.readouterr().err
        assert "only a report (*.html) may be replaced there" in err, err
        assert "name a new file" in err and len(err.strip().splitlines()) == 1
    finally:
        mine.unlink()
