"""Issue 12, the third new user's pass: each defect they found, as a test that failed first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from newuser_support import rivera_db

from range.cli.main import main


@pytest.fixture
def db(tmp_path: Path) -> str:
    return rivera_db(tmp_path)


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


# -- 4: a closed crashed attempt is INCOMPLETE, whoever fired it ---------------------------------


@pytest.mark.parametrize(("shooter", "tag"), [("expert", " (simulated"), (None, "")])
def test_a_closed_attempt_is_incomplete_scripted_or_not(
    db: str, capsys: pytest.CaptureFixture[str], shooter: str | None, tag: str
) -> None:
    from range.records.exports import certificate_fields
    from range.records.store import OFFICER, Records

    with Records.open(db) as records:
        attempt = records.begin_attempt(
            "4411", "fbi-pistol-2019-v1", 0, "0.1.0", [], [], shooter=shooter or OFFICER
        )
    assert (
        main(
            ["records", "close", str(attempt), "--by", "Lt. Hale", "--reason", "crash"]
            + ["--db", db]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["records", "show", "1", "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["outcome"].startswith("INCOMPLETE" + tag)
    assert "SIMULATED" not in shown["outcome"]
    assert main(["records", "history", "4411", "--db", db]) == 0
    assert f"INCOMPLETE{tag}" in capsys.readouterr().out
    with Records.open(db, create=False) as records:
        assert certificate_fields(records, 1)["result"].startswith("INCOMPLETE" + tag)
