"""New-user pass nu19 (defects 3, 4 and 12's debrief and times): each test fails without its
fix. In-process: the console's handlers called on a built request, the CLI's main() here, one
recorded run (a scripted talk-down, corrected and put back by two instructors) for them all."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from console_support import saved_run, seed_accounts
from test_nu18j import _call, _request

from drills.speech import span_text
from range.cli.corrections import chained_corrections
from range.cli.main import main
from range.console.app import Console
from range.console.pages import debrief, drill_run, recent_runs
from range.records.store import URL_ENV, Records
from range.runs.runlog import read_events

SCRIPT = "crisis-talk-down-correct-v1"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Console:
    tmp = tmp_path_factory.mktemp("nu19c")
    url = f"sqlite:///{tmp / 'records.sqlite'}"
    seed_accounts(url)
    return Console(url, secure_cookies=False, runs_dir=tmp / "console-runs")


@pytest.fixture(scope="module")
def run(console: Console, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A scripted talk-down recorded for B-101; its first act corrected to none by Sgt Lee,
    then put back to the act heard by Sgt Kay (`speech correct --db`: chained amendments)."""
    assert console.db_url is not None
    runs_dir = tmp_path_factory.mktemp("runs")
    number = saved_run(console.db_url, runs_dir, "B-101", "crisis-talk-down-v1", SCRIPT, 2)
    run_dir = next(runs_dir.glob("*/events.jsonl")).parent
    spoke = next(r for r in read_events(run_dir) if r.kind == "officer_spoke")
    start, end = float(spoke.data["start_s"]), float(spoke.data["end_s"])
    at = ["speech", "correct", str(run_dir), "--at", f"{(start + end) / 2:.3f}"]
    db = ["--db", console.db_url]
    assert main([*at, "--act", "none", "--by", "Sgt Lee", "--reason", "a cough", *db]) == 0
    assert main([*at, "--act", str(spoke.data["act"]), "--by", "Sgt Kay", *db]) == 0
    (fixes,) = run_dir.glob("speech-corrections-*.json")
    return {
        "id": number,
        "dir": run_dir,
        "act": str(spoke.data["act"]),
        # A scripted line has no length: one time, "1.00 s", not "1.00-1.00 s" (nu22 #9).
        "span": span_text(start, end),
        "fixes": fixes,
    }


def _get(console: Console, handler: Any, path: str, params: dict[str, Any]) -> str:
    status, body = _call(handler, _request(console, "boss", "GET", path, params, {}))
    assert status == 200, body
    return html.unescape(body)


# -- 3: a scripted officer's run is SIMULATED on the console, in `records show`'s words ---------


def test_the_debrief_and_the_records_page_mark_a_scripted_run_simulated(
    console: Console, run: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert console.db_url is not None
    capsys.readouterr()
    assert main(["records", "show", "--drill-run", str(run["id"]), "--db", console.db_url]) == 0
    shown = capsys.readouterr().out
    marked = f"SIMULATED (scripted officer {SCRIPT})"
    note = f"played by the scripted officer {SCRIPT} (no --live): a simulation, never badge B-101"
    assert marked in shown and note in shown
    page = _get(console, console.run_page, f"/runs/{run['id']}", {"id": run["id"]})
    decided = f"{marked}: talk-down: no force used"
    assert decided in re.sub(r"<[^>]+>", "", page)
    assert f"P{note[1:]}'s own decisions." in page
    # The records page's and the officer page's recent runs: the decision marked the same way.
    for body in (
        _get(console, console.roster, "/records", {}),
        _get(console, console.officer, "/officers/B-101", {"badge": "B-101"}),
    ):
        (row,) = re.findall(rf'<tr><td><a href="/runs/{run["id"]}" class="run-link">[^\n]*', body)
        assert f"<td>{decided}</td>" in re.sub(r"<(?!/?td)[^>]+>", "", row), row
    with Records.open(console.db_url) as records:
        (listed,) = [r for r in recent_runs(records) if r["id"] == run["id"]]
    assert listed["simulated"] == f"scripted officer {SCRIPT}"


# -- 12: the debrief keeps the earlier correction; every listing gives the words' span ----------


def test_earlier_corrections_are_on_the_debrief_and_every_listing_times_the_words(
    console: Console,
    run: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert console.db_url is not None
    monkeypatch.setenv(URL_ENV, console.db_url)
    span, act = run["span"], run["act"]
    capsys.readouterr()
    assert main(["score", str(run["dir"])]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    lines = out.out.splitlines()
    head = lines.index("Earlier speech corrections (replaced by a later one of the same act):")
    assert lines[head + 1].lstrip().startswith(f"{span}  "), lines[head + 1]
    assert f"{act} -> none by Sgt Lee" in lines[head + 1]
    (kay,) = [line for line in lines if "by Sgt Kay" in line]
    assert kay.lstrip().startswith(f"{span}  "), kay
    assert main(["score", str(run["dir"]), "--json"]) == 0
    (earlier,) = json.loads(capsys.readouterr().out)["corrections_not_applied"]
    assert span_text(earlier["start_s"], earlier["end_s"]) == span
    # The console's debrief: the earlier correction listed, at the time its table gives it.
    page = _get(console, console.run_page, f"/runs/{run['id']}", {"id": run["id"]})
    assert "Earlier corrections (replaced by a later one of the same act)" in page
    (item,) = re.findall(r'<ul class="earlier-corrections"><li>([^<]*)</li>', page)
    assert item.startswith(f"{span} ") and f"{act} → none by Sgt Lee" in item, item
    assert f'<td class="time">{span}</td>' in page
    assert "WARNING" not in page  # the file is the records' own: nothing to warn of


# -- 4: a corrections file edited by hand is warned of, and the records' corrections applied ----


def test_an_edited_corrections_file_is_warned_of_and_the_records_version_applied(
    console: Console,
    run: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert console.db_url is not None
    monkeypatch.setenv(URL_ENV, console.db_url)
    path: Path = run["fixes"]
    kept = path.read_text(encoding="utf-8")
    forged = json.loads(kept)
    forged["corrections"][1]["act"] = "warning.deadly_force"  # Sgt Kay's, changed by hand
    try:
        path.write_text(json.dumps(forged, indent=2), encoding="utf-8")
        line = next(
            n
            for n, text in enumerate(path.read_text().splitlines(), 1)
            if '"warning.deadly_force"' in text
        )
        differs = (
            f"{path}:{line}: corrections[1].act: 'warning.deadly_force' in the file,"
            f" '{run['act']}' in the records (drill run {run['id']}'s correction by Sgt Kay"
        )
        capsys.readouterr()
        assert main(["score", str(run["dir"])]) == 0
        out = capsys.readouterr()
        assert f"openrange: warning: {path}: not the speech corrections drill run" in out.err
        assert differs in out.err, out.err
        # The records' act is applied (Sgt Kay put the act heard back), never the forged one.
        assert "put back to the act heard" in out.out and "warning.deadly_force" not in out.out
        assert main(["score", str(run["dir"]), "--json"]) == 0
        applied = json.loads(capsys.readouterr().out)["corrections"]
        assert [c["act"] for c in applied] == [run["act"]]
        # The report says it on the page and on stderr; the console's debrief on the page.
        report = path.parent / "nu19c.html"
        assert main(["report", str(run["dir"]), "--out", str(report)]) == 0
        assert differs in capsys.readouterr().err
        page = html.unescape(report.read_text())
        assert differs in page and "put back to the act heard" in page
        page = _get(console, console.run_page, f"/runs/{run['id']}", {"id": run["id"]})
        assert f"WARNING: {differs}" in re.sub(r"<[^>]+>", "", page)
        assert "WARNING: warning" not in re.sub(r"<[^>]+>", "", page)
        with Records.open(console.db_url) as records:
            recorded = chained_corrections(records, drill_run(records, run["id"]))
        d = debrief(run["dir"], False, recorded)
        assert [c["act"] for c in d["score"].corrections] == [run["act"]]
        # A correction deleted from the file: the records' is still applied, and said missing.
        path.write_text(json.dumps(forged | {"corrections": forged["corrections"][:1]}))
        assert main(["score", str(run["dir"])]) == 0
        out = capsys.readouterr()
        assert f"{path}: corrections[1] missing: the records keep" in out.err, out.err
        assert "put back to the act heard" in out.out
    finally:
        path.write_text(kept, encoding="utf-8")


def test_a_deleted_corrections_file_is_warned_of_and_the_records_version_applied(
    console: Console,
    run: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rc19 #4: a corrections file deleted is one emptied: the run stays scorable, the
    records' corrections applied with a warning (was exit 2, 'No such file or directory')."""
    assert console.db_url is not None
    monkeypatch.setenv(URL_ENV, console.db_url)
    path: Path = run["fixes"]
    kept = path.read_text(encoding="utf-8")
    try:
        path.unlink()
        capsys.readouterr()
        assert main(["score", str(run["dir"])]) == 0
        out = capsys.readouterr()
        assert f"openrange: warning: {path}: not the speech corrections drill run" in out.err
        assert f"{path}: corrections[0] missing: the records keep" in out.err, out.err
        assert "put back to the act heard" in out.out
        report = path.parent / "rc19b.html"
        assert main(["report", str(run["dir"]), "--out", str(report)]) == 0
        assert "corrections[0] missing" in capsys.readouterr().err
        page = _get(console, console.run_page, f"/runs/{run['id']}", {"id": run["id"]})
        assert "corrections[0] missing" in page
    finally:
        path.write_text(kept, encoding="utf-8")


# -- m20a (rvm19 leftover): the run page hashes the run's log once ---------------------------


def test_the_run_page_hashes_the_runs_log_once(
    console: Console, run: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The debrief's page checked the log against its recorded sha256 (`log_ok`), then
    `chained_corrections` hashed it again to decide whether the records' corrections apply."""
    import range.records.store as store

    hashed: list[Path] = []
    real = store.file_sha256

    def counted(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(store, "file_sha256", counted)
    page = _get(console, console.run_page, f"/runs/{run['id']}", {"id": run["id"]})
    assert "as recorded" in page
    assert hashed == [run["dir"] / "events.jsonl"]


def test_chained_corrections_reads_a_rows_log_ok_and_checks_the_log_where_it_has_none(
    console: Console, run: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """rv21a #5: `chained_corrections` takes the row's `log_ok` (the console's `drill_run`
    rows have it: the log is not hashed again), and hashes the log for a row without one."""
    import range.records.store as store

    assert console.db_url is not None
    hashed: list[Path] = []
    real = store.file_sha256

    def counted(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(store, "file_sha256", counted)
    with Records.open(console.db_url) as records:
        row = drill_run(records, run["id"])
        assert row["log_ok"] is True and hashed == [run["dir"] / "events.jsonl"]
        first = chained_corrections(records, row)
        assert hashed == [run["dir"] / "events.jsonl"]
        bare = {k: v for k, v in row.items() if k != "log_ok"}
        again = chained_corrections(records, bare)
        assert hashed == [run["dir"] / "events.jsonl"] * 2
        assert first is not None and again is not None
        assert [c.act for c in first.corrections] == [c.act for c in again.corrections]
        # A log edited since the row was read: the row's word is taken.
        assert chained_corrections(records, row | {"log_ok": False}) is None
