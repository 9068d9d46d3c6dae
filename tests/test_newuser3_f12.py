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
        main(["records", "close", str(attempt), "--by", "Lt. Hale", "--reason", "x", "--db", db])
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


# -- 2: every review command on a course folder, a drill folder, an empty or garbage one ---------


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    runs = tmp_path_factory.mktemp("runs")
    assert main(["course", "run", "texas-ltc-b27-v1", "--runs-dir", str(runs / "c")]) == 0
    assert (
        main(["drill", "run", "phone-draw-v1", "--seed", "1", "--runs-dir", str(runs / "d")]) == 0
    )
    (empty := runs / "empty").mkdir()
    (blank := runs / "blank").mkdir()
    (blank / "events.jsonl").write_bytes(b"")
    (garbage := runs / "garbage").mkdir()
    (garbage / "events.jsonl").write_bytes(b"\x00\xffnot json\n")
    return {
        "course": next((runs / "c").iterdir()),
        "drill": next((runs / "d").iterdir()),
        "empty": empty,
        "blank": blank,
        "garbage": garbage,
        "missing": runs / "missing",
    }


REVIEWS = {
    "report": lambda d, out: ["report", str(d), "--out", str(out / "r.html")],
    "mirror": lambda d, out: ["mirror", str(d), "--frames", "2"],
    "score": lambda d, out: ["score", str(d)],
    "replay": lambda d, out: ["replay", str(d), "--png", str(out / "png"), "--every", "5"],
}


@pytest.mark.parametrize("folder", ["course", "drill", "empty", "blank", "garbage", "missing"])
@pytest.mark.parametrize("command", sorted(REVIEWS))
def test_every_review_command_works_or_says_one_line(
    folders: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    folder: str,
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    capsys.readouterr()
    code = main(REVIEWS[command](folders[folder], tmp_path))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err
    works = folder in ("course", "drill") and (folder, command) not in (
        ("course", "replay"),
        ("course", "mirror"),
    )
    if works and command != "mirror":
        assert code == 0, err
        return
    if (folder, command) == ("blank", "score"):  # a run cut before its first record
        assert code == 0 and "INCOMPLETE" in out
        return
    lines = [line for line in err.splitlines() if line.startswith("openrange: ")]
    assert code != 0 and len(lines) == 1, err
    if folder == "course":
        assert "is a qualification attempt" in lines[0] and "openrange report" in lines[0]
    elif folder in ("empty", "blank", "garbage", "missing"):
        assert str(folders[folder]) in lines[0]


@pytest.mark.parametrize("folder", ["course", "blank"])
def test_the_consoles_debrief_names_a_folder_that_is_not_a_drill_run(
    folders: dict[str, Path], folder: str
) -> None:
    from range.console.pages import debrief

    with pytest.raises(ValueError, match=str(folders[folder])):
        debrief(folders[folder])
