"""Issue 12, fourth new-user pass (reports/nu12.md): each defect's reproduction, with the right
value, as a test."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from range.cli.main import main
from range.records.exports import roster
from range.records.store import DAMAGED, Records

SCORE = {"points": 80, "max_points": 100, "hits": 40, "passed": False}


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, f"one line, not: {err!r}"
    return err


# -- nu12 item 7: an edited record is never a certificate nor shown qualified ------------------


def test_an_edited_record_is_flagged_everywhere_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records.sqlite"
    db = f"sqlite:///{path}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
        attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 7, "0.1.0", [], [])
        records.record_shot(
            attempt, {"kind": "shot", "stage": 0, "string": 0, "t_s": 1.0, "points": 2}
        )
        records.finish_attempt(attempt, SCORE)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE qualifications SET passed = 1 WHERE id = 1")
    raw.commit()
    raw.close()
    html = tmp_path / "c.html"
    argv = ["records", "export", "--format", "html", "--attempt", "1", "--db", db]
    assert main([*argv, "--out", str(html)]) == 5
    assert "record 1: its contents no longer match its hash" in _err(capsys)
    assert not html.exists()
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["qualifications"][0]["outcome"] == DAMAGED
    assert [s["status"] for s in shown["standing"]] == [DAMAGED]
    assert main(["records", "show", "1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert DAMAGED in out and "WARNING: record 1: its contents no longer match" in out
    with Records.open(db, create=False) as records:
        (line,) = roster(records, datetime.now(UTC).date(), 365)
    assert line.status == DAMAGED


def test_a_record_whose_predecessor_was_deleted_is_no_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records.sqlite"
    db = f"sqlite:///{path}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
        for _ in range(2):
            attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 7, "0.1.0", [], [])
            records.finish_attempt(attempt, SCORE | {"points": 96, "passed": True})
    raw = sqlite3.connect(path)
    raw.execute("DELETE FROM qualifications WHERE id = 1")
    raw.commit()
    raw.close()
    assert main(["records", "export", "--format", "html", "--attempt", "2", "--db", db]) == 5
    assert "record 2: does not follow record 0" in _err(capsys)


# -- nu12 item 9: two resumes of one attempt: the second is refused before it fires ------------

HOLDER = """
import sys, time
from range.records.store import Records
records = Records.open(sys.argv[1])
records.claim_attempt(int(sys.argv[2]))
print("claimed", flush=True)
time.sleep(60)
"""


def test_a_second_resume_of_one_attempt_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from range.records.store import RecordsError

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
        attempt = records.begin_attempt("4411", "taser7-practical-v1", 21, "0.1.0", [], [])
        records.record_shot(attempt, {"kind": "shot", "stage": 0, "string": 0, "t_s": 1.0})
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db, str(attempt)],
        stdout=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[1])},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"claimed"
        argv = ["course", "run", "taser7-practical-v1", "--badge", "4411", "--shooter", "expert"]
        assert main([*argv, "--resume", str(attempt), "--db", db, "--no-save"]) == 5
        err = _err(capsys)
        assert f"attempt {attempt} is being resumed by another process" in err
        assert f"pid {holder.pid}" in err
        with Records.open(db, create=False) as records:
            (listed,) = records.incomplete()
            assert listed["shots"] == 1  # the refused resume fired nothing
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # a claim dies with its process: the attempt can be resumed (claimed) again
    with Records.open(db, create=False) as records:
        records.claim_attempt(attempt)
        with Records.open(db, create=False) as other, pytest.raises(RecordsError):
            other.claim_attempt(attempt)
