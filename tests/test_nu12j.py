"""New-user pass nu12h, calibration and records defects (issue #12, task f12j): damaged
in-progress rows, emulator-made profiles, re-calibration keeping what it did not measure,
profile models, damaged drill-run results, orphaned run folders, missing part folders, verify
of drill.toml / course.toml hashes, and `score runs/*`. Each a reproduction that failed before
its fix, in process where possible (real SQLite, files and ptys)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from range.cli.main import main
from range.records.store import Records


def _run(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> tuple[str, str]:
    """`openrange ARGV` in process: its exit status must be `code` and it never prints a
    traceback; (stdout, stderr)."""
    capsys.readouterr()
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out, captured.err


def _sql(db: str, sql: str, *args: Any) -> None:
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        conn.execute(sql, args)


# -- 9: a damaged in-progress row is named in one line, never sealed into the chain ---------------


def _open_attempt(tmp: Path) -> tuple[str, int]:
    """A store with officer 4412 and in-progress attempt holding two shots and its log folder."""
    db = f"sqlite:///{tmp / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4412", "Ofc. Chen", "Metro PD")
        attempt = records.begin_attempt(
            "4412",
            "texas-ltc-b27-v1",
            31,
            "0.1.0",
            [{"model": "pistol", "serial": "P-1"}],
            [],
            shooter="qualified",
        )
        records.record_shot(attempt, {"kind": "attempt_log", "run_dir": str(tmp / "part1")})
        for t in (1.0, 1.5):
            records.record_shot(attempt, {"kind": "shot", "t": t, "stage": 0, "string": 0})
    return db, attempt


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("UPDATE attempt_shots SET shot = '{not json' WHERE seq = 1", "shot 2 is not a JSON"),
        ("UPDATE attempt_shots SET shot = '{}'", "shot 1 is not a shot"),
        ("UPDATE attempt_shots SET shot = '[1]' WHERE seq = 2", "shot 3 is not a JSON record"),
        ("UPDATE attempts_in_progress SET devices = '[oops'", "devices is not a JSON list"),
        ("UPDATE attempts_in_progress SET calibration = '{}'", "calibration is not a JSON"),
    ],
)
def test_a_damaged_in_progress_row_is_named_and_never_sealed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str, said: str
) -> None:
    db, attempt = _open_attempt(tmp_path)
    _sql(db, sql)
    _, err = _run(
        capsys, ["records", "close", str(attempt), "--by", "a", "--reason", "b", "--db", db], 5
    )
    assert f"in-progress attempt #{attempt}: {said}" in err and len(err.splitlines()) == 1
    with Records.open(db, create=False) as records:
        assert records.count() == 0  # nothing sealed
        assert [r["id"] for r in records.incomplete()] == [attempt]  # still there to repair
    if "attempt_shots" not in sql:
        return
    # A resume reads the same rows: refused the same way, before anything is fired.
    argv = ["course", "run", "texas-ltc-b27-v1", "--badge", "4412", "--resume", str(attempt)]
    _, err = _run(capsys, [*argv, "--db", db, "--no-save"], 5)
    assert f"in-progress attempt #{attempt}: {said}" in err and len(err.splitlines()) == 1


def test_a_console_sheet_of_a_damaged_detail_reads_damaged(tmp_path: Path) -> None:
    """The console's attempt sheet read the chained detail with a bare json.loads."""
    from range.console.pages import attempt_sheet
    from range.records.store import DAMAGED

    db, attempt = _open_attempt(tmp_path)
    with Records.open(db) as records:
        score = {"points": 0, "max_points": 250, "hits": 0, "passed": False}
        record = records.finish_attempt(attempt, score)
    _sql(db, "UPDATE qualifications SET detail = '{bad' WHERE id = ?", record)
    with Records.open(db, create=False) as records:
        sheet = attempt_sheet(records.qualification(record))
    assert sheet["outcome"] == DAMAGED and sheet["stages"] == []
