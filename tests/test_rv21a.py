"""Review rv21a's mends (rvm21): each test fails without its mend. In process."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_nu19e import SCRIPT
from test_rules import end, rec, spoke, start

from drills.log import run_started
from drills.officer import OfficerScript
from physics.datafiles import load_model
from range.cli import drill as cli_drill
from range.cli.main import main
from range.records.store import Records
from scoring.corrections import heard_acts


class _Killed(BaseException):
    """Stands for kill -9 in process: nothing after it runs."""


# -- #1: `records close --drill-run` hashes the run's log once, when it is kept ----------------


def test_closing_a_drill_run_hashes_its_log_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close kept the log's sha256 (one hash); the CLI then hashed it again only to say
    whether the folder had a log, which the record already says (`closed.log_missing`)."""
    import range.records.store as store

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")

    def killed(registration: object, record: object, result: object) -> None:
        raise _Killed

    monkeypatch.setattr(cli_drill._Registration, "finish", killed)
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "1", "--db", db]
    with pytest.raises(_Killed):
        main([*argv, "--runs-dir", str(tmp_path / "runs")])
    monkeypatch.undo()
    (run_dir,) = (tmp_path / "runs").iterdir()
    hashed: list[Path] = []
    real = store.file_sha256

    def counted(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(store, "file_sha256", counted)
    capsys.readouterr()
    close = ["records", "close", "--drill-run", "1", "--by", "Sgt. Ortiz", "--reason", "kill"]
    assert main([*close, "--db", db]) == 0
    assert ", saved." in capsys.readouterr().out
    assert hashed == [run_dir.resolve() / "events.jsonl"]


# -- #2: one helper lists a log's heard acts (utterances, then live marks) ---------------------


def test_a_logs_heard_acts_are_its_utterances_then_its_live_marks() -> None:
    """Written out four times as `[*utterances(records), *marks(records)]`; now `heard_acts`,
    the list `heard_as` looks a correction's act up in."""
    mark = rec(0.8, "instructor_command", command="mark", by="inst", act="command.stop")
    said = spoke(1.2, "identify", "police", talk_s=0.3)
    other = rec(1.0, "instructor_command", command="pause", by="inst")
    log = [*start(), mark, other, said, end(2)]
    assert heard_acts(log) == [said, mark]
    assert heard_acts([]) == []


# -- #6: one helper reads a log's `run_started` (None: not a drill run's log) ------------------


def test_a_logs_run_started_is_its_first_records_data_or_none() -> None:
    """Three copies of `records[0].data if ... == "run_started" else ...`; now `run_started`."""
    log = [*start(), end(2)]
    assert run_started(log) is log[0].data
    assert run_started(log[1:]) is None  # an attempt's log: no run_started first
    assert run_started([]) is None


# -- #7: load_model takes a table the caller parsed already -------------------------------------


def test_load_model_validates_a_table_given_without_parsing_the_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`drill validate` wrote `parse_model(read_text(path), ..., data=table)` out again only to
    pass `data`; `load_model(path, model, data=)` does it, and parses nothing itself."""
    import tomllib

    path = tmp_path / "officer.toml"
    path.write_text(SCRIPT)
    table = tomllib.loads(SCRIPT)
    parsed: list[str] = []
    real = tomllib.loads

    def counted(source: str, **kwargs: object) -> dict[str, object]:
        parsed.append(source)
        return real(source)

    monkeypatch.setattr(tomllib, "loads", counted)
    given = load_model(path, OfficerScript, data=table)
    assert parsed == []
    assert load_model(path, OfficerScript) == given
    assert parsed == [SCRIPT]
