"""Issue 12, fourth new-user pass (reports/nu12.md): each defect's reproduction, with the right
value, as a test."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
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
        assert (
            main(
                [*argv, "--resume", str(attempt), "--db", db, "--runs-dir", str(tmp_path / "runs")]
            )
            == 5
        )
        err = _err(capsys)
        assert f"in-progress attempt #{attempt} is being fired by another process" in err
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


FIRING = """
import sys, time
from range.records.store import Records
records = Records.open(sys.argv[1])
print(records.begin_attempt("4411", "taser7-practical-v1", 21, "0.1.0", [], []), flush=True)
time.sleep(60)
"""


def test_an_attempt_being_fired_cannot_be_resumed_or_closed_and_is_listed_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nu12e 1 and 2: the run that begins an attempt holds it as a resume does, so a `--resume`
    or a `records close` of an attempt still being fired is refused before anything happens."""
    import os
    import signal
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    firing = subprocess.Popen(
        [sys.executable, "-c", FIRING, db],
        stdout=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[1])},
    )
    try:
        assert firing.stdout is not None
        attempt = int(firing.stdout.readline())
        argv = ["course", "run", "taser7-practical-v1", "--badge", "4411", "--shooter", "expert"]
        assert (
            main(
                [*argv, "--resume", str(attempt), "--db", db, "--runs-dir", str(tmp_path / "runs")]
            )
            == 5
        )
        assert f"in-progress attempt #{attempt} is being fired by another process" in _err(capsys)
        close = ["records", "close", str(attempt), "--by", "Sgt", "--reason", "looked stuck"]
        assert main([*close, "--db", db]) == 5
        assert f"pid {firing.pid}" in _err(capsys)
        assert main(["records", "incomplete", "--db", db]) == 0
        assert "(being fired now: not crashed)" in capsys.readouterr().out
    finally:
        firing.send_signal(signal.SIGKILL)
        firing.wait()
    # The run died: the attempt is a crashed one now, to resume or close.
    with Records.open(db, create=False) as records:
        (listed,) = records.incomplete()
        assert listed["live"] is False
    assert main([*close, "--db", db]) == 0


# -- nu12 items 2, 3, 4, 18: a full disk is one line naming the file, and nothing is lost -----


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 200 KiB filesystem (tmpfs) to fill up: root only."""
    import os
    import shutil
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip(
            "a full disk needs a tmpfs mount: root only (test_outfile_* cover it in-process)"
        )
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)
            pytest.fail("a file on the full disk was left open")


def _fill(disk: Path, leave: int = 0) -> Path:
    """Take every free block of `disk` but about `leave` bytes."""
    import os

    filler = disk / "filler"
    free = os.statvfs(disk)
    room = free.f_bavail * free.f_frsize - leave
    with filler.open("wb", buffering=0) as f:
        try:
            f.write(b"\0" * max(room, 0))
            while not leave:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def _officer(db: str) -> None:
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")


def test_a_soundtrack_on_a_full_disk_is_one_line_after_the_run_is_recorded(
    tiny_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    _officer(db)
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "11", "--db", db]
    assert main([*argv, "--runs-dir", str(tiny_disk)]) == 9
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith(
            "sound.wav: No space left on device (not written): the soundtrack was not written;"
            " the run and its record are kept"
        )
    )
    assert "Recorded as drill run 1 for badge 4411." in out
    (run_dir,) = (p for p in tiny_disk.iterdir() if p.is_dir())
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "drill.toml",
        "events.jsonl",
        "result.json",
    ]
    with Records.open(db, create=False) as records:
        assert [r["drill"] for r in records.drill_runs("4411")] == ["phone-draw-v1"]


def test_an_out_file_on_a_full_disk_is_named_and_never_left_partial(
    tiny_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    _officer(db)
    with Records.open(db) as records:  # a certificate too: the PDF the console also issues
        attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 7, "0.1.0", [], [])
        records.finish_attempt(attempt, SCORE | {"points": 96, "passed": True})
    _fill(tiny_disk)
    for name, options in (
        ("roster.csv", ["--format", "csv"]),
        ("roster.html", ["--format", "html"]),
        ("roster.pdf", ["--format", "pdf"]),
        ("certificate.pdf", ["--format", "pdf", "--attempt", "1"]),
    ):
        out = tiny_disk / name
        assert main(["records", "export", *options, "--db", db, "--out", str(out)]) == 9
        assert _err(capsys).strip() == (f"openrange: {out}: No space left on device (not written)")
        assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]  # no 0-byte file


def test_a_drill_run_cut_by_a_full_disk_is_recorded_incomplete(
    tiny_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    _officer(db)
    _fill(tiny_disk, leave=8192)
    argv = ["drill", "run", "phone-draw-v1", "--badge", "4411", "--seed", "11", "--db", db]
    assert main([*argv, "--runs-dir", str(tiny_disk)]) == 9
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "Recorded as drill run 1 for badge 4411: INCOMPLETE (cut short)." in err
    assert "events.jsonl: cannot write (No space left on device)" in err.splitlines()[-1]
    with Records.open(db, create=False) as records:
        (run,) = records.drill_runs("4411")
        # A scripted officer's run: "INCOMPLETE (simulated: scripted officer ...)".
        assert run["outcome"].startswith("INCOMPLETE") and not run["passed"]
        assert records.verify() == []


def test_read_only_commands_work_on_a_full_disk(
    tiny_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tiny_disk / 'records.sqlite'}"
    _officer(db)
    _fill(tiny_disk)
    assert main(["records", "verify", "--db", db]) == 0
    assert "chain intact" in capsys.readouterr().out
    assert main(["records", "history", "4411", "--db", db]) == 0
    assert "Ofc. Rivera, badge 4411" in capsys.readouterr().out


def test_outfile_on_a_full_disk_keeps_the_old_file_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, for machines where a tmpfs cannot be mounted: ENOSPC injected at the one
    write boundary every --out file goes through (range/outfile.py)."""
    import errno

    from range import outfile

    target = tmp_path / "r.html"
    target.write_text("old report")
    real = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        real(self, data[: len(data) // 2])  # half of it lands, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError) as raised:
        outfile.write_text(target, "<html>new report</html>")
    assert raised.value.filename == str(target)
    assert raised.value.strerror == "No space left on device (left as it was)"
    assert target.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


# -- nu12 items 5, 6: a course log without attempt_ended, a drill log without its start -------


def _saved_run(tmp_path: Path, argv: list[str]) -> Path:
    runs = tmp_path / "runs"
    assert main([*argv, "--runs-dir", str(runs), "--sound", "off"]) == 0
    (run_dir,) = runs.iterdir()
    return run_dir


def test_a_course_log_without_attempt_ended_scores_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    run_dir = _saved_run(
        tmp_path, ["course", "run", "taser7-practical-v1", "--seed", "11", "--shooter", "expert"]
    )
    cut = tmp_path / "cut"
    cut.mkdir()
    for f in run_dir.iterdir():
        if f.name not in ("events.jsonl", "result.json"):
            shutil.copy(f, cut / f.name)
    lines = (run_dir / "events.jsonl").read_text().splitlines(keepends=True)
    (cut / "events.jsonl").write_text("".join(lines[:8]))
    capsys.readouterr()
    assert main(["score", str(cut), "--json"]) == 0
    score = json.loads(capsys.readouterr().out)
    # A scripted shooter fired it: INCOMPLETE and simulated, no qualification either way.
    assert (score["outcome"], score["complete"], score["passed"], score["would_pass"]) == (
        "INCOMPLETE (simulated)",
        False,
        None,
        False,
    )
    assert main(["score", str(cut)]) == 0
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "QUALIFIED" not in out.replace("NOT QUALIFIED", "")
    assert "no attempt_ended" in out


def test_a_drill_log_missing_its_first_line_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _saved_run(tmp_path, ["drill", "run", "phone-draw-v1", "--seed", "11"])
    log = run_dir / "events.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[1:]))
    capsys.readouterr()
    for argv in (["score", str(run_dir)], ["report", str(run_dir)], ["replay", str(run_dir)]):
        assert main(argv) == 2, argv
        err = _err(capsys)
        assert f"{log}:1: kind: a log opens with attempt_started or run_started" in err
        assert "its start is missing" in err


# -- nu12 item 10: a password with an unencoded '@' is hidden whole; schemes ignore case -------


def test_a_password_with_an_at_sign_is_hidden_whole(capsys: pytest.CaptureFixture[str]) -> None:
    from range.records.store import redact

    url = "postgresql://bob:Winter@2024@127.0.0.1:1/db"
    assert redact(url) == "postgresql://bob:***@127.0.0.1:1/db"
    assert redact("host '2024@127.0.0.1' unknown", url) == "host '***@127.0.0.1' unknown"
    assert main(["records", "verify", "--db", url]) == 5
    err = _err(capsys)
    assert "Winter" not in err and "2024" not in err
    assert "postgresql://bob:***@127.0.0.1:1/db" in err


def test_a_scheme_in_capitals_is_the_same_scheme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["records", "verify", "--db", "POSTGRESQL://bob:pw@127.0.0.1:1/db"]) == 5
    err = _err(capsys)
    assert "cannot reach the PostgreSQL server" in err and "pw@" not in err
    db = f"SQLite:///{tmp_path / 'r.sqlite'}"
    assert (
        main(["records", "officers", "--add", "1", "--name", "A", "--agency", "B", "--db", db]) == 0
    )
    assert (tmp_path / "r.sqlite").is_file()


# -- nu12 item 8: a damaged schema_version is refused by name, never migrated over ------------


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        ("UPDATE schema_version SET version = 'abc'", "schema_version is 'abc', not a version"),
        ("UPDATE schema_version SET version = -1", "schema_version is -1, not a version OpenRange"),
        ("UPDATE schema_version SET version = 0", "schema_version is 0, not a version OpenRange"),
        ("INSERT INTO schema_version (version) VALUES (9)", "schema_version holds 2 rows (8, 9)"),
        ("DELETE FROM schema_version", "schema_version is empty although the store holds tables"),
    ],
)
def test_a_damaged_schema_version_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper: str, said: str
) -> None:
    path = tmp_path / "records.sqlite"
    db = f"sqlite:///{path}"
    _officer(db)
    raw = sqlite3.connect(path)
    raw.execute(tamper)
    raw.commit()
    raw.close()
    before = path.read_bytes()
    add = ["records", "officers", "--add", "9", "--name", "B", "--agency", "C", "--db", db]
    for argv in (
        ["records", "verify", "--db", db],
        ["records", "history", "4411", "--db", db],
        add,
    ):
        assert main(argv) == 5, argv
        err = _err(capsys)
        assert said in err and "nothing was changed" in err, err
    assert path.read_bytes() == before


# -- nu12 item 19: verify reads the chain head's last_id too ------------------------------------


@pytest.mark.parametrize("last_id", ["3", "'abc'", "99"])
@pytest.mark.parametrize("chain", [1, 2])
def test_verify_finds_an_edited_chain_head_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], last_id: str, chain: int
) -> None:
    path = tmp_path / "records.sqlite"
    db = f"sqlite:///{path}"
    _officer(db)
    with Records.open(db) as records:
        for _ in range(2):
            attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 7, "0.1.0", [], [])
            records.finish_attempt(attempt, SCORE)
        assert records.verify() == []
    raw = sqlite3.connect(path)
    raw.execute(f"UPDATE chain_head SET last_id = {last_id} WHERE id = {chain}")
    raw.commit()
    raw.close()
    assert main(["records", "verify", "--db", db]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "chain head was edited" in err
    which = "record" if chain == 1 else "entry"
    assert f"chain head names {which} " in err and "as the newest" in err


# -- nu12 item 11: an officer script is checked against the drill it plays, before the run ----

SCRIPT = """id = "mine-v1"
version = 1
description = "a test script"
{head}
[[steps]]
at_s = 0.5
do = "draw_firearm"

[[steps]]
{cue}
do = "aim"
region = "upper_chest"
subject = "{subject}"
"""


@pytest.mark.parametrize(
    ("head", "cue", "subject", "said"),
    [
        ("", "after_s = 0.3", "ghost", ":13: steps[1].subject: drill phone-draw-v1 has no subject"),
        ("", 'on_phase = "nosuchphase"', "man", ":10: steps[1].on_phase: drill phone-draw-v1 has"),
        (
            "",
            'at_s = 1.0\nwithin_ft = 5.0\non_phase = "films"',
            "man",
            "steps[1]: a step waits on one cue, not at_s and within_ft and on_phase together",
        ),
        ("", "at_s = 1.0\nafter_s = 0.2", "man", "not at_s and after_s together"),
        (
            'drill = "phone-draw-v1"\nexpect = {outcome = "PASS", rules = ["NOPE-99"]}',
            "after_s = 0.3",
            "man",
            ":5: expect.rules[0]: no rule 'NOPE-99': the scorer writes",
        ),
    ],
)
def test_an_officer_script_that_does_not_fit_its_drill_is_refused_before_the_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    head: str,
    cue: str,
    subject: str,
    said: str,
) -> None:
    script = tmp_path / "mine.toml"
    script.write_text(SCRIPT.format(head=head, cue=cue, subject=subject))
    runs = tmp_path / "runs"
    argv = ["drill", "run", "phone-draw-v1", "--sim", str(script), "--seed", "1"]
    assert main([*argv, "--runs-dir", str(runs)]) == 2
    err = _err(capsys)
    assert err.startswith(f"openrange: {script}") and said in err, err
    assert not runs.exists()  # refused before anything ran


# -- nu12 item 12: drill validate refuses an unknown expected officer and a subject inside -----


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            'expected_officer = "phone-draw-correct-v1"',
            'expected_officer = "nosuch-officer-v1"',
            ":10: expected_officer: no built-in officer script 'nosuch-officer-v1'",
        ),
        (
            "start_distance_ft = 12.0",
            "start_distance_ft = 0.01",
            ":15: subjects[0].start_distance_ft: 0.01 ft would start the subject inside the"
            " officer: allowed 1.5 to 75",
        ),
    ],
)
def test_drill_validate_refuses_what_drill_run_could_not_play(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, said: str
) -> None:
    from drills.schema import builtin_drill_files

    text = builtin_drill_files()["phone-draw-v1"].read_text()
    assert old in text
    path = tmp_path / "mine.toml"
    path.write_text(text.replace(old, new))
    assert main(["drill", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{path}{said}" in err, err


# -- nu12 item 13: course files: a pass mark, par times and stage names that make sense --------


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            "pass_mark = { points = 90 }",
            "pass_mark = { hits = 51 }",
            "pass_mark.hits: 51 hits on a course that fires 50 rounds and cartridges: allowed 1"
            " to 50",
        ),
        ('name = "2: 5 yd"', 'name = "1: 3 yd"', "stages[1].name: stage name '1: 3 yd' is used"),
        ('name = "2: 5 yd"', 'name = "  "', "stages[1].name: a stage needs a name"),
    ],
)
def test_a_course_file_that_makes_no_sense_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, said: str
) -> None:
    from drills.course import builtin_course_files

    text = builtin_course_files()["fbi-pistol-2019-v1"].read_text()
    assert old in text
    path = tmp_path / "mine.toml"
    path.write_text(text.replace(old, new, 1))
    assert main(["course", "validate", str(path)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and said in err and f"{path}:" in err, err


# -- nu12 item 14: a calibration profile that could not have been measured is refused ---------


def _saved_profile(folder: Path, serial: str = "P-42") -> Path:
    from datetime import date

    from range.calibration.profiles import new_profile, save_profile
    from range.calibration.solver import Boresight

    bore = Boresight((0.0, 0.01, -0.02), (0.0, 0.0, -1.0), 0.8, 8, ())
    profile = new_profile(serial, "pistol", "A. Armorer", bore, 2.0, date(2026, 1, 5))
    return save_profile(folder, profile)


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("model", '"banana"', "model: unknown replica model 'banana'; known:"),
        ("bore_direction", "[0.0, 0.0, 0.0]", "bore_direction: [0, 0, 0] has zero length"),
        ("bore_direction", "[0.0, 0.0, -2.0]", "bore_direction: a direction is a unit vector"),
        ("residual_mrad", "50.0", "residual_mrad: 50 mrad is beyond the profile's tolerance"),
        ("serial", '"P-43"', "serial: 'P-43' is not device 'P-42'"),
        ("calibrated", "2099-01-01", "calibrated: 2099-01-01 is in the future"),
    ],
)
def test_a_calibration_profile_with_nonsense_is_refused_and_no_certificate_issued(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: str, said: str
) -> None:
    import re

    folder = tmp_path / "profiles"
    path = _saved_profile(folder)
    text = path.read_text()
    text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    assert n == 1
    if key == "calibrated":
        text = re.sub(r"(?m)^expires = .*$", "expires = 2099-06-01", text)
    # As a profile from before digests (nu20 #17) has it: each check still holds for those.
    text = re.sub(r"(?m)^digest = .*\n", "", text)
    path.write_text(text)
    cert = tmp_path / "c.html"
    argv = ["calibrate", "certificate", "--device", "P-42", "--out", str(cert)]
    assert main([*argv, "--profiles", str(folder)]) == 2
    err = _err(capsys)
    assert f"{path}:" in err and said in err, err
    assert not cert.exists()


def test_calibrate_refuses_a_tolerance_beyond_what_a_profile_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from range.calibration.profiles import MAX_TOLERANCE_MRAD

    argv = ["calibrate", "boresight", "--device", "P-1", "--armorer", "A", "--emulate"]
    with pytest.raises(SystemExit):
        main([*argv, "--tolerance-mrad", str(MAX_TOLERANCE_MRAD * 100)])
    assert f"at most {MAX_TOLERANCE_MRAD:g} mrad" in capsys.readouterr().err


# -- nu12 item 20b: a --dir refused names --dir, not XDG_RUNTIME_DIR ---------------------------


def test_an_unsafe_emulator_dir_given_with_dir_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    argv = ["peripherals", "emulate", "pistol", "--dir", str(shared)]
    assert main(argv) == 4
    err = _err(capsys)
    assert f"{shared}: writable by group or others (mode 777)" in err
    assert "choose a private folder" in err
    assert "XDG_RUNTIME_DIR" not in err


def test_an_edited_drill_run_reads_damaged_in_history_and_the_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records.sqlite"
    db = f"sqlite:///{path}"
    failed = {"decision": "excessive", "score": 40.0, "passed": False}
    result = {"drill": "phone-draw-v1", "seed": 1, "openrange_version": "0.1.0", "score": failed}
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
        records.add_drill_run("4411", result)
        records.add_drill_run("4411", result)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE drill_runs SET passed = 1, score = 95 WHERE id = 2")
    raw.commit()
    raw.close()
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["drill_runs"]
    assert [r["outcome"] for r in runs] == ["FAIL", DAMAGED]
    out = tmp_path / "runs.csv"
    argv = ["records", "export", "--format", "csv", "--drill-runs", "--db", db]
    assert main([*argv, "--out", str(out)]) == 0
    assert out.read_text().count(DAMAGED) == 1


# -- nu12 item 8: commands that only read never migrate an older store --------------------------


def test_a_read_only_command_never_migrates_an_older_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import _MIGRATIONS, GENESIS

    path = tmp_path / "records.sqlite"
    db = f"sqlite:///{path}"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    raw.execute("INSERT INTO schema_version (version) VALUES (1)")
    auto = "INTEGER PRIMARY KEY AUTOINCREMENT"
    for statement in _MIGRATIONS[0].format(auto=auto, genesis=GENESIS).split(";"):
        if statement.strip():
            raw.execute(statement)
    raw.execute("INSERT INTO officers (badge, name, agency, unit) VALUES ('5', 'E. Old', 'PD', '')")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    for argv in (
        ["records", "verify"],
        ["records", "history", "5"],
        ["records", "officers"],
        ["records", "incomplete"],
        ["records", "export", "--format", "csv"],
    ):
        assert main([*argv, "--db", db]) == 5, argv
        err = _err(capsys)
        assert "schema version 1 is older than this OpenRange's" in err
        assert "never migrates it (nothing was changed)" in err
    assert path.read_bytes() == before
    with Records.open(db, create=False) as records:  # a command that writes migrates it
        assert records.schema_version == len(_MIGRATIONS)
    assert main(["records", "verify", "--db", db]) == 0


def test_report_plot_and_certificate_on_a_full_disk_name_the_file(
    tiny_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _saved_run(tmp_path, ["drill", "run", "phone-draw-v1", "--seed", "11"])
    folder = tmp_path / "profiles"
    _saved_profile(folder)
    _fill(tiny_disk)
    capsys.readouterr()
    report, plot, cert = tiny_disk / "r.html", tiny_disk / "s.png", tiny_disk / "c.html"
    profiles = ["--profiles", str(folder)]
    spread = ["analyze", "spread", "--cartridge", "x26p-25ft", "--distance", "7,15ft"]
    spread += ["--trials", "20"]
    for argv, out in (
        (["report", str(run_dir), "--out", str(report)], report),
        (
            [
                "analyze",
                "spread",
                "--cartridge",
                "x26p-25ft",
                "--distance",
                "7,15ft",
                "--trials",
                "20",
                "--plot",
                str(plot),
            ],
            plot,
        ),
        (["calibrate", "certificate", "--device", "P-42", "--out", str(cert), *profiles], cert),
    ):
        assert main(argv) == 9, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1] == (
            f"openrange: {out}: No space left on device (not written)"
        )
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]


def test_boresight_on_a_full_disk_prints_the_session_profile(
    tiny_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tiny_disk / "profiles"
    folder.mkdir()
    _fill(tiny_disk)
    argv = ["calibrate", "boresight", "--device", "P-7", "--armorer", "Sgt. Ortiz", "--emulate"]
    assert main([*argv, "--model", "pistol", "--profiles", str(folder)]) == 9
    out, err = capsys.readouterr()
    assert 'serial = "P-7"' in out and "bore_direction = [" in out
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"openrange: {folder / 'P-7.toml'}: No space left on device (not written): the session's"
        f" profile is printed above; save it as {folder / 'P-7.toml'} once there is room"
    )
    assert list(folder.iterdir()) == []


def test_a_finished_attempt_lets_go_of_its_claim(tmp_path: Path) -> None:
    """A store that begins and finishes many attempts (a lane, the bench's 10,000) holds no lock
    file nor descriptor for any of them once finished: only attempts in flight are claimed."""
    import os

    path = tmp_path / "records.sqlite"
    with Records.open(f"sqlite:///{path}") as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
        score = {"points": 96, "max_points": 100, "hits": 48, "passed": True}
        open_before = len(os.listdir("/proc/self/fd"))
        for _ in range(20):
            attempt = records.begin_attempt("4411", "fbi-pistol-2019-v1", 1, "0.1.0", [], [])
            assert Path(f"{path}.attempt-{attempt}.lock").exists()  # claimed while in flight
            records.finish_attempt(attempt, score)
            assert not Path(f"{path}.attempt-{attempt}.lock").exists()
        assert len(os.listdir("/proc/self/fd")) == open_before
