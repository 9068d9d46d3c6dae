"""nu25 (an IT administrator and range master, records on SQLite and PostgreSQL): console
attempts dated when fired, the console while the store is down, what a run cut by the store
says, store URLs, `verify --json`, exit statuses. In-process calls on real stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_nu18j import asgi_request

from range.records.store import Records


def _officer(url: str, badge: str = "4411") -> None:
    with Records.open(url) as records:
        records.add_officer(badge, "J. Rivera", "Metro PD")


def test_a_console_attempt_is_dated_when_fired_and_a_late_retry_keeps_the_date(
    tmp_path: Path,
) -> None:
    """nu25 #3: a console attempt was dated when the console recorded it (started ==
    finished, the time of recording), so a Retry a day after an outage dated the
    qualification, and its 365-day expiry, on that day. The lane now carries when it was
    fired in its result, and the console records that."""
    from range.console.app import Console
    from range.console.lane import LaneProcess

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    _officer(url)
    lane = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, tmp_path / "lane-runs", speed=None)
    args = {"course": "taser7-practical-v1", "badge": "4411", "shooter": "qualified", "seed": "5"}
    lane._run_course({"by": "rm1"}, args)  # type: ignore[arg-type]
    (result,) = lane.finished
    assert result["started"].endswith("+00:00") and result["finished"] >= result["started"]
    # Held "Not recorded" while the store was down, and recorded by Retry a day later: the
    # record keeps when it was fired (shifted back a day here, as if fired yesterday).
    fired: dict[str, Any] = dict(result)
    fired.update(started="2026-12-01T01:34:03+00:00", finished="2026-12-01T01:34:17+00:00")
    Console(url, runs_dir=tmp_path / "console-runs")._course_finished("LANE1", fired)
    with Records.open(url) as records:
        (row,) = records.qualifications("4411")
        assert (row["started"], row["finished"]) == (fired["started"], fired["finished"])
        assert records.verify() == []
    # Cut short by a stopped lane: offered on the lane's restart, dated from its mark (start)
    # and its log's last write (end), not when offered.
    import json
    import os
    from datetime import UTC, datetime

    folder = Path(result["run_dir"])
    (folder / "result.json").unlink()
    log = folder / "events.jsonl"
    lines = [x for x in log.read_text().splitlines() if json.loads(x)["kind"] != "attempt_ended"]
    log.write_text("\n".join(lines) + "\n")
    last = datetime.fromisoformat(result["started"]).timestamp() + 12
    os.utime(log, (last, last))
    (tmp_path / "lane-runs" / ".lane-LANE1-pending.json").unlink()  # killed before it offered
    again = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, tmp_path / "lane-runs", speed=None)
    (cut,) = [r for r in again.finished if r.get("cut_short")]
    assert cut["started"] == result["started"]
    assert cut["finished"] == datetime.fromtimestamp(last, UTC).isoformat(timespec="seconds")


def _get(app: Any, path: str, cookie: str | None = None) -> tuple[int, str]:
    """One GET through the console's ASGI app, in process (as a browser's would come)."""
    headers = [(b"host", b"127.0.0.1:8765")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return asgi_request(app, path, headers, server=("127.0.0.1", 8765))


def test_console_pages_while_the_store_is_down_say_so_in_one_line(
    tmp_path: Path, capfd: Any
) -> None:
    """nu25 #5: with PostgreSQL stopped every console page was a bare 500 and the console's
    log a traceback. Now a 503 page of one line naming the store (its password hidden), and
    one line in the log."""
    import base64
    import json

    from console_support import free_port
    from itsdangerous import TimestampSigner

    from range.console.app import SESSION_COOKIE, create_app

    app = create_app(f"sqlite:///{tmp_path / 'records.sqlite'}", secure_cookies=False)
    console = app.state.console
    # The store stops: a PostgreSQL server no longer listening (its password never shown).
    console.db_url = f"postgresql://rm:Winter%402024@127.0.0.1:{free_port()}/orange"
    data = base64.b64encode(json.dumps({"user": "rm1", "sid": "s"}).encode())
    cookie = f"{SESSION_COOKIE}=" + TimestampSigner(console.session_key).sign(data).decode()
    for path in ("/login", "/", "/records", "/records/4411", "/audit", "/users", "/no-such"):
        status, page = _get(app, path, cookie)
        assert status == 503, (path, status, page)
        assert "The records store cannot be used right now: records postgresql://rm:***@" in page
        assert "cannot reach the PostgreSQL server" in page and "Winter" not in page
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Winter" not in out + err
    assert "console: /records: records postgresql://rm:***@" in out


def _said(text: str, start: str) -> str:
    """The one line of `text` that begins with `start`."""
    (line,) = [x for x in text.splitlines() if x.startswith(start)]
    return line


def test_a_run_cut_by_the_store_says_what_was_kept_and_how_to_recover_it(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    """nu25 #7: a course or drill run whose store failed under it (PostgreSQL stopped, a full
    disk) ended with the store's one line alone: no summary, no run folder, no attempt or drill
    run left in progress, no command to recover. Now each is said before that line, and the
    commands said recover the run. The store fails here as PostgreSQL stopping does: a
    RecordsError out of the write (what the store's own translation raises)."""
    import shlex

    from range.cli.main import main
    from range.records.store import Records, RecordsError

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    _officer(url)
    runs = tmp_path / "runs"
    down = RecordsError("records postgresql://rm:***@127.0.0.1:5432/orange: cannot reach it")
    keep = Records.record_shot
    kept: list[int] = []

    def cut_after_three(self: Records, attempt: int, shot: dict[str, Any]) -> None:
        if shot.get("kind") in ("shot", "deployment"):
            if len(kept) == 3:
                raise down
            kept.append(attempt)
        keep(self, attempt, shot)

    monkeypatch.setattr(Records, "record_shot", cut_after_three)
    course = ["course", "run", "taser7-practical-v1", "--badge", "4411"]
    where = ["--db", url, "--runs-dir", str(runs)]
    assert main([*course, "--seed", "5", *where]) == 5
    err = capsys.readouterr().err
    line = _said(err, "openrange: attempt #1 for badge 4411 is left in progress")
    (folder,) = runs.iterdir()
    assert f"(3 shots kept); its run folder: {folder};" in line
    assert err.splitlines()[-1] == f"openrange: {down}"
    resume = line.split("`")[1]
    assert resume == shlex.join(["openrange", *course, *where, "--resume", "1"])
    assert f"`openrange records close 1 --db {url} --by NAME --reason REASON`" in line
    monkeypatch.setattr(Records, "record_shot", keep)
    assert main(shlex.split(resume)[1:]) == 0  # the command said fires the rest
    capsys.readouterr()

    monkeypatch.setattr(Records, "add_drill_run", lambda *_a, **_k: (_ for _ in ()).throw(down))
    drill = ["drill", "run", "knife-approach-v1", "--badge", "4411", "--seed", "3", *where]
    assert main(drill) == 5
    out, err = capsys.readouterr()
    assert "knife-approach-v1" in out  # the run's summary, as a recorded run's
    line = _said(err, "openrange: the run was not recorded (its run folder ")
    assert "drill run in progress 1 for badge 4411" in line
    close = line.split("`")[1]
    assert close == f"openrange records close --drill-run 1 --db {url} --by NAME --reason REASON"
    monkeypatch.undo()
    assert main([*shlex.split(close)[1:-4], "--by", "RM Lee", "--reason", "store down"]) == 0
    with Records.open(url) as records:
        assert len(records.qualifications("4411")) == 1 and len(records.drill_runs("4411")) == 1


def test_a_sqlite_url_names_its_store_by_absolute_path_and_a_new_one_is_said(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    """nu25 #6: `sqlite:///tmp/x.sqlite` (meant absolute) silently made ./tmp/x.sqlite and
    `sqlite:///~/x.sqlite` a folder named `~`; "added badge" did not say where the new store
    was, and a plain path's refusal offered `sqlite:///PATH`, the relative form. Now `~` is the
    home, the store is named by its absolute path, its creation is said, and a plain path is
    answered with the four-slash URL for it."""
    import pytest

    from range.cli.main import main
    from range.records.store import RecordsError

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    add = ["records", "officers", "--add", "9001", "--name", "X", "--agency", "Y"]
    assert main([*add, "--db", "sqlite:///tmp/new.sqlite"]) == 0
    made = tmp_path / "tmp" / "new.sqlite"
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"created the records store sqlite:///{made}"
    assert main([*add[:3], "9002", *add[4:], "--db", f"sqlite:///{made}"]) == 0
    assert "created" not in capsys.readouterr().err  # an existing store: nothing said
    assert main([*add, "--db", "sqlite:///~/x.sqlite"]) == 0
    assert (tmp_path / "home" / "x.sqlite").is_file() and not (tmp_path / "~").exists()
    assert capsys.readouterr().err.endswith(f"sqlite:///{tmp_path / 'home' / 'x.sqlite'}\n")
    with pytest.raises(RecordsError) as refused:
        Records.open("/srv/or/records.sqlite", create=False)
    assert "sqlite:////ABSOLUTE/PATH.sqlite (four slashes)" in str(refused.value)
    assert str(refused.value).endswith("(for that file: sqlite:////srv/or/records.sqlite)")


def _a_store_with_history(url: str) -> int:
    """A store with an officer, a finished attempt and one in progress (two shots kept);
    returns the in-progress attempt's number."""
    _officer(url)
    with Records.open(url) as records:
        for in_progress in (False, True):
            attempt = records.begin_attempt(
                "4411", "fbi-pistol-2019-v1", 7, "0.1.0", [{"model": "pistol", "serial": "P"}], []
            )
            for seq in range(2):
                shot = {"kind": "shot", "stage": 0, "string": 0, "zone": "bottle", "points": seq}
                records.record_shot(attempt, shot)
            if not in_progress:
                score = {"points": 96, "max_points": 100, "hits": 48, "passed": True}
                records.finish_attempt(attempt, score)
    return attempt


def _is_whole_copy(url: str, attempt: int) -> None:
    """`url` holds the whole history: intact, the attempt in progress with its two shots, and
    a write to it chains on."""
    with Records.open(url) as records:
        assert records.verify() == []
        assert [(r["id"], r["shots"]) for r in records.incomplete()] == [(attempt, 2)]
        records.add_officer("4412", "K. Lee", "Metro PD")
        assert records.verify() == []


def test_the_documented_sqlite_backup_keeps_what_the_wal_holds(tmp_path: Path) -> None:
    """nu25 #8: docs/records.md, "Backup and restore": `sqlite3 records.sqlite ".backup
    copy.sqlite"` while the store is open (its newest writes still in the -wal file) gives a
    whole copy; copying the main file alone does not (the in-progress attempt is lost)."""
    import shutil
    import sqlite3
    import subprocess

    import pytest

    db = tmp_path / "records.sqlite"
    Records.open(f"sqlite:///{db}").close()
    held = sqlite3.connect(db)  # a console or lane keeps the store open: the WAL stays
    try:
        held.execute("SELECT COUNT(*) FROM schema_version").fetchone()
        attempt = _a_store_with_history(f"sqlite:///{db}")
        assert (tmp_path / "records.sqlite-wal").stat().st_size > 0
        shutil.copyfile(db, tmp_path / "file-alone.sqlite")
        if shutil.which("sqlite3") is None:
            pytest.skip("the sqlite3 command is not installed")
        backup = tmp_path / "backup.sqlite"
        subprocess.run(["sqlite3", str(db), f".backup {backup}"], check=True)
    finally:
        held.close()
    _is_whole_copy(f"sqlite:///{backup}", attempt)
    with Records.open(f"sqlite:///{tmp_path / 'file-alone.sqlite'}") as alone:
        assert alone.incomplete() == []  # what the docs warn of


def test_the_documented_postgresql_backup_is_a_whole_store(postgres_url: str) -> None:
    """nu25 #8: `pg_dump SOURCE | psql COPY` (docs/records.md) copies the store whole: the
    copy verifies, keeps the attempt in progress, and chains a write."""
    import shutil
    import subprocess
    import uuid

    import psycopg
    import pytest

    if shutil.which("pg_dump") is None or shutil.which("psql") is None:
        pytest.skip("pg_dump and psql are not installed")
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f"CREATE DATABASE {name}")
    source, copy = (postgres_url.rsplit("/", 1)[0] + f"/{name}" for name in names)
    attempt = _a_store_with_history(source)
    dump = subprocess.run(["pg_dump", "--no-owner", source], check=True, capture_output=True)
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", copy],
        input=dump.stdout,
        check=True,
        capture_output=True,
    )
    _is_whole_copy(copy, attempt)


def test_verify_json_answers_for_a_missing_chain_head_and_names_an_edited_one(
    tmp_path: Path, capsys: Any
) -> None:
    """nu25 #9: `records verify --json` with the chain-head row deleted printed nothing on
    stdout (one line on stderr, exit 5), though verify is documented to report it; a ledger
    head whose hash was changed was said to be a missing entry. Now the JSON says the head row
    is missing (not intact, exit 1), and an edited head is named as edited."""
    import json
    import sqlite3

    from range.cli.main import main

    db = tmp_path / "records.sqlite"
    url = f"sqlite:///{db}"
    _officer(url)
    verify = ["records", "verify", "--json", "--db", url]
    with sqlite3.connect(db) as con:
        con.execute("UPDATE chain_head SET last_hash = '00' WHERE id = 2")
    assert main(verify) == 1
    (problem,) = json.loads(capsys.readouterr().out)["problems"]
    assert problem["chain"] == "ledger" and "the chain head was edited" in problem["problem"]
    assert "missing" not in problem["problem"]
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM chain_head WHERE id = 1")
    assert main(verify) == 1
    said = json.loads(capsys.readouterr().out)
    assert said["intact"] is False
    assert {
        "record": 0,
        "chain": "store",
        "problem": (
            "the chain head row 1 (qualifications) is missing: the audit chain cannot be checked;"
            " restore it from a backup"
        ),
    } in said["problems"]


def test_exit_statuses_agree_with_the_readme_table(tmp_path: Path, capsys: Any) -> None:
    """nu25 #10: `records export --out` into a folder that is not there exited 2 (as a missing
    input file), into a directory 9; README's table said 9 for a file that cannot be written,
    3 only for a missing dependency (verify's "intact with warnings" is 3 too), and 9 for a
    full disk (a full records store is 5). Now both --out failures are 9, and the table,
    the one list, says what 3, 5 and 9 cover."""
    import re

    from range.cli.main import main
    from range.cli.records import VERIFY_WARNED

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    _officer(url)
    export = ["records", "export", "--format", "csv", "--db", url, "--out"]
    assert main([*export, str(tmp_path / "nodir" / "x.csv")]) == 9
    assert capsys.readouterr().err.endswith("x.csv: No such file or directory (not written)\n")
    assert main([*export, str(tmp_path)]) == 9
    capsys.readouterr()
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d+) \| (.*) \|$", readme, re.MULTILINE))
    assert "`records verify`: the chains intact, with warnings" in rows[str(VERIFY_WARNED)]
    assert "its disk full" in rows["5"] and "a folder that is not there" in rows["9"]


def test_the_smaller_points(tmp_path: Path, capsys: Any) -> None:
    """nu25 #11: an unencoded @ in a PostgreSQL password gave only "failed to resolve host
    '***@127.0.0.1'", with no hint to write it %40; `course run --json` named its record
    `qualification` where `drill run --json` says `record`; a 5000-character --name was
    echoed whole in its refusal."""
    import json

    import pytest
    from console_support import free_port

    from range.cli.main import main
    from range.records.store import RecordsError

    port = free_port()
    with pytest.raises(RecordsError) as refused:
        Records.open(f"postgresql://rm:Winter@2024@127.0.0.1:{port}/orange")
    said = str(refused.value)
    assert said == (
        f"records postgresql://rm:***@127.0.0.1:{port}/orange: an @ in the password must be"
        " written %40 in the URL (libpq reads what follows the first @ as the host)"
    )
    assert "Winter" not in said and "2024" not in said
    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    _officer(url)
    course = ["course", "run", "taser7-practical-v1", "--badge", "4411", "--db", url]
    assert main([*course, "--runs-dir", str(tmp_path / "runs"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["record"] == shown["qualification"] == 1
    add = ["records", "officers", "--add", "9001", "--agency", "Y", "--db", url]
    with pytest.raises(SystemExit):
        main([*add, "--name", "A" * 5000])
    err = capsys.readouterr().err
    assert "'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'... (5000 characters): at most 200" in err
    assert len(err) < 1000
