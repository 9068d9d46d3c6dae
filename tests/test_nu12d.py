"""Issue 12, fifth new-user pass (the leftovers): each defect's reproduction, with the right
value a user should see, as a test that failed before its fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_nu12_fixes import _fill, tiny_disk

from range.cli.main import main
from range.records.store import Records
from range.runs.runlog import RunWriter

__all__ = ["tiny_disk"]  # the fixture, shared with the fourth pass's full-disk tests


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, f"one line, not: {err!r}"
    return err.strip()


# -- 1: a complete run whose result.json meets a full disk is complete, as its log says ---------


def test_a_complete_run_whose_result_cannot_be_written_is_recorded_complete(
    tiny_disk: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    finish = RunWriter.finish

    def finish_on_a_full_disk(writer: RunWriter, result: dict[str, Any]) -> None:
        writer.close()  # the whole log is on disk (run_ended and all); then the disk fills
        _fill(tiny_disk)
        finish(writer, result)

    monkeypatch.setattr(RunWriter, "finish", finish_on_a_full_disk)
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "11", "--db", db]
    assert main([*argv, "--runs-dir", str(tiny_disk)]) == 9
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert err.strip() == (
        f"openrange: {tiny_disk}/{{run}}/result.json: cannot write (No space left on device):"
        " the run is complete (its event log is whole); the run and its record are kept"
    ).replace("{run}", next(p.name for p in tiny_disk.iterdir() if p.is_dir()))
    assert "Recorded as drill run 1 for badge 4411." in out
    (run_dir,) = (p for p in tiny_disk.iterdir() if p.is_dir())
    assert sorted(p.name for p in run_dir.iterdir()) == ["drill.toml", "events.jsonl"]
    assert '"kind": "run_ended"' in (run_dir / "events.jsonl").read_text()
    with Records.open(db, create=False) as records:
        (run,) = records.drill_runs("4411")
        assert run["outcome"] != "INCOMPLETE"
