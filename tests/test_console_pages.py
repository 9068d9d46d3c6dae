"""What the console's records and debrief pages compute: roster status with expiry warnings,
attempt sheets that add up, the certificate PDF, an officer's trend, the debrief's timeline,
and the per-browser feed that never builds a backlog."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import zlib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from console_support import DRILL, PROJECT, qualify, saved_run

from drills.officer import find_officer
from drills.schema import read_drill_file
from range.console.app import BrowserFeed
from range.console.auth import check_password
from range.console.pages import (
    VALID_DAYS,
    WARN_DAYS,
    attempt_sheet,
    course_status,
    debrief,
    drill_run,
    recent_runs,
    trend,
)
from range.console.protocol import bundle, unbundle
from range.console.store import ConsoleStore
from range.records.certificate import certificate_pdf
from range.records.store import Records
from range.runs.drill import RunConfig, run_drill


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("B-101", "Alex Officer", "Metro PD")
    return url


def test_course_status_warns_before_expiry(db_url: str) -> None:
    qualify(db_url, "B-101", points=70)  # a fail, then a pass
    qualify(db_url, "B-101")
    with Records.open(db_url) as records:
        passed = datetime.fromisoformat(records.qualifications("B-101")[-1]["finished"]).date()
        expires = passed + timedelta(days=VALID_DAYS)

        def status(today: date) -> str:
            return course_status(records, "B-101", today)[0].status

        assert status(passed) == "qualified"
        assert status(expires - timedelta(days=WARN_DAYS + 1)) == "qualified"
        assert status(expires - timedelta(days=WARN_DAYS)) == "expiring"
        assert status(expires + timedelta(days=1)) == "expired"
        assert course_status(records, "B-101", passed)[0].expires == expires.isoformat()


def test_attempt_sheet_adds_up_and_catches_a_mismatch(db_url: str) -> None:
    qid = qualify(db_url, "B-101", points=96)
    with Records.open(db_url) as records:
        row = records.qualification(qid)
    sheet = attempt_sheet(row)
    assert (sheet["stage_points"], sheet["stage_hits"]) == (96, row["hits"])
    assert sheet["adds_up"]
    assert not attempt_sheet({**row, "points": 95})["adds_up"]


def _pdf_text(pdf: bytes) -> str:
    """The text drawn on a matplotlib PDF: each text object's strings (kerned into pieces)
    joined, without spaces."""
    out = []
    for chunk in pdf.split(b"stream\n")[1:]:
        body = chunk.split(b"\nendstream")[0]
        try:
            content = zlib.decompress(body).decode("latin-1")
        except zlib.error:
            continue
        for block in re.findall(r"BT(.*?)ET", content, re.S):
            out.append("".join(re.findall(r"\((.*?)\)", block, re.S)))
    return "\n".join(out).replace(" ", "")


def test_trend_counts_a_correct_talk_down_as_a_correct_rejection(
    db_url: str, tmp_path: Path
) -> None:
    # Issue 18 (f18c #7): a deadly threat talked down (no force, the drill passed) was counted
    # a miss (a shoot trial with no shot): hit rate 0 for the right answer.
    saved_run(
        db_url, tmp_path / "a", "B-101", "talk-down-cover-v1", "talk-down-cover-correct-v1", 1
    )
    saved_run(
        db_url,
        tmp_path / "b",
        "B-101",
        "traffic-stop-handgun-v1",
        "traffic-stop-handgun-correct-v1",
        seed=2,
    )
    with Records.open(db_url) as records:
        rows, _ = trend(records, "B-101")
    assert rows[0]["decision"] == "talk-down: no force used"
    # One no-shoot trial held (no false alarm), no shoot trial yet: no hit rate to miss.
    assert rows[0]["hit_rate"] is None and rows[0]["false_alarm_rate"] == 0.0
    assert rows[1]["hit_rate"] == 1.0 and rows[1]["false_alarm_rate"] == 0.0
    # Hits (1 + 0.5) / 2 = 0.75, false alarms (0 + 0.5) / 2 = 0.25: d' = 2 z(0.75) = 1.349.
    assert rows[1]["d_prime"] == pytest.approx(1.3490, abs=1e-4)


def test_certificate_pdf_has_the_record_hash_and_signature_lines(db_url: str) -> None:
    qid = qualify(db_url, "B-101")
    with Records.open(db_url) as records:
        pdf = certificate_pdf(records, qid)
        row = records.qualification(qid)
    assert pdf.startswith(b"%PDF-")
    text = _pdf_text(pdf)
    for expected in (
        row["hash"],
        "Pass mark:",
        "Expires:",
        "P-0042",
        "2026-11-01",
        "Instructor:",
        "Range master:",
        "B-101",
    ):
        assert expected.replace(" ", "") in text, expected


LONG_TITLE = (
    "Combined Metropolitan and County Sheriff's Office Annual Handgun, Reduced-Light and"
    " Moving-Target Qualification Course for Uniformed Patrol, Plain-Clothes Investigators,"
    " Reserve Deputies and Supernumeraryofficerswithoutspacesinthisverylongcompoundword"
)


def _pdf_text_starts(pdf: bytes) -> list[tuple[float, float]]:
    """Where each text object of a matplotlib PDF starts: its `cm` translation (x, baseline y),
    in points from the page's lower left."""
    starts = []
    for chunk in pdf.split(b"stream\n")[1:]:
        try:
            content = zlib.decompress(chunk.split(b"\nendstream")[0]).decode("latin-1")
        except zlib.error:
            continue
        for x, y in re.findall(r"1 0 -?0 1 (-?[\d.]+) (-?[\d.]+) cm\s+BT", content):
            starts.append((float(x), float(y)))
    return starts


def test_a_certificate_keeps_every_text_inside_the_margins(db_url: str) -> None:
    # Issue 18 (f18c #2): a long course title ran off the page, and the certificate was a
    # monospace data dump. Every text must sit inside the page's margins whatever its length:
    # measured with the PDF backend's own text metrics (RendererPdf) and the PDF's positions.
    import io

    from matplotlib.backends.backend_pdf import PdfFile, RendererPdf
    from matplotlib.text import Text

    from range.records.certificate import (
        MARGIN_PT,
        PAGE_H_PT,
        PAGE_W_PT,
        CertificateText,
        certificate_figure,
        certificate_pdf_bytes,
    )

    text = CertificateText(
        title="Qualification certificate",
        certificate=True,
        officer="Alexandra Katherine Montgomery-Fitzwilliam de la Cruz-Officer",
        badge="B-101",
        agency="Combined Metropolitan and County Sheriff's Office of the Northern District",
        course_title=LONG_TITLE,
        course_id="metro-handgun-annual-2026-v1",
        course_sha256="ab" * 32,
        result="QUALIFIED",
        score="96 of 100 points, 48 hits",
        pass_mark="80 points",
        date="2026-11-01",
        expires="2027-11-01",
        stages=[f"Stage {n}: 12 points, 6 hits" for n in range(1, 9)],
        devices=["pistol serial P-0042", "P-0042 calibrated 2026-11-01 by Lee"],
        record=12,
        record_hash="f" * 64,
    )
    fig = certificate_figure(text)
    renderer = RendererPdf(PdfFile(io.BytesIO()), 72, PAGE_H_PT, PAGE_W_PT)
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert len(texts) > 20
    drawn = {t.get_text() for t in texts}
    assert "Instructor:" in drawn and "Range master:" in drawn and "f" * 64 in drawn
    # The title was wrapped (and shrunk): its words are all there, over several lines.
    title_lines = [t for t in texts if t.get_text() and t.get_text() in LONG_TITLE]
    assert len(title_lines) >= 2
    assert " ".join(t.get_text() for t in title_lines).replace(" ", "") == LONG_TITLE.replace(
        " ", ""
    )
    for t in texts:
        box = t.get_window_extent(renderer)  # points: the figure is at 72 dpi
        assert box.x0 >= MARGIN_PT - 0.5, t.get_text()
        assert box.x1 <= PAGE_W_PT - MARGIN_PT + 0.5, (t.get_text(), box.x1)
        assert box.y0 >= MARGIN_PT - 0.5, t.get_text()
        assert box.y1 <= PAGE_H_PT - MARGIN_PT + 0.5, t.get_text()
    # The PDF itself: every text object starts inside the margins.
    starts = _pdf_text_starts(certificate_pdf_bytes(text))
    assert len(starts) == len(texts)
    for x, y in starts:
        assert MARGIN_PT - 0.5 <= x <= PAGE_W_PT - MARGIN_PT
        assert MARGIN_PT - 0.5 <= y <= PAGE_H_PT - MARGIN_PT


def test_records_export_pdf_writes_the_same_certificate_as_the_console(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 18 point 6: `records export --format pdf --attempt` wrote the old monospace dump
    # (no pass mark, expiry, devices nor signature lines) while the console issued a real
    # certificate. Both now draw range/records/certificate.py: same text, inside the margins.
    from range.cli.main import main
    from range.records.certificate import MARGIN_PT, PAGE_H_PT, PAGE_W_PT

    qid = qualify(db_url, "B-101")
    out = tmp_path / "certificate.pdf"
    argv = ["records", "export", "--format", "pdf", "--attempt", str(qid), "--db", db_url]
    assert main([*argv, "--out", str(out)]) == 0
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-")
    with Records.open(db_url) as records:
        row = records.qualification(qid)
        assert _pdf_text(pdf) == _pdf_text(certificate_pdf(records, qid))
    # Ligatures ("fi", "ffi") are drawn as glyph codes below 0x20: left out on both sides.
    text = re.sub(r"[\x00-\x1f]", "", _pdf_text(pdf))
    expires = (datetime.fromisoformat(row["finished"]).date() + timedelta(days=365)).isoformat()
    for expected in (
        "Qualification certificate",
        "Alex Officer",
        "badge B-101",
        "FBI pistol qualification",  # the course's title (parentheses are escaped in a PDF)
        "fbi-pistol-2019-v1",
        "QUALIFIED: 96 of 100 points, 48 hits",
        "Pass mark: 90 points",
        f"Expires: {expires}",
        "pistol serial P-0042",
        "P-0042 calibrated 2026-11-01",
        "Instructor:",
        "Range master:",
        row["hash"],
    ):
        assert re.sub(r"ffi|fi| ", "", expected) in text, expected
    starts = _pdf_text_starts(pdf)
    assert len(starts) > 20
    for x, y in starts:
        assert MARGIN_PT - 0.5 <= x <= PAGE_W_PT - MARGIN_PT
        assert MARGIN_PT - 0.5 <= y <= PAGE_H_PT - MARGIN_PT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["certificate.pdf", "records.sqlite"]

    # An edited record is refused as before, in one line naming it, and the certificate
    # already written is left as it was (nothing half-written beside it).
    with Records.open(db_url) as records:
        records.execute("UPDATE qualifications SET points = 100 WHERE id = ?", qid)
    capsys.readouterr()
    assert main([*argv, "--out", str(out)]) == 5
    err = capsys.readouterr().err
    assert f"record {qid}: its contents no longer match its hash" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == pdf
    assert sorted(p.name for p in tmp_path.iterdir()) == ["certificate.pdf", "records.sqlite"]


def test_trend_rates_and_dprime_across_runs(db_url: str, tmp_path: Path) -> None:
    # A no-shoot drill held correctly, a knife met with the TASER (no-shoot for firearms too),
    # then a shoot drill (a handgun drawn at a traffic stop) answered with a shot.
    saved_run(db_url, tmp_path / "a", "B-101")
    saved_run(db_url, tmp_path / "b", "B-101", "knife-approach-v1", "taser-first-v1", seed=2)
    saved_run(
        db_url,
        tmp_path / "c",
        "B-101",
        "traffic-stop-handgun-v1",
        "traffic-stop-handgun-correct-v1",
        seed=2,
    )
    with Records.open(db_url) as records:
        rows, _ = trend(records, "B-101")
    assert [r["drill"] for r in rows] == [
        "console-branch-v1",
        "knife-approach-v1",
        "traffic-stop-handgun-v1",
    ]
    assert rows[0]["false_alarm_rate"] == 0.0 and rows[0]["hit_rate"] is None
    assert rows[1]["less_lethal_first"] is True
    assert rows[2]["hit_rate"] == 1.0
    assert rows[2]["false_alarm_rate"] == 0.0
    # Log-linear corrected rates over the three runs: hits (1 + 0.5) / (1 + 1) = 0.75, false
    # alarms (0 + 0.5) / (2 + 1) = 1/6; d' = z(0.75) - z(1/6) = 0.6745 + 0.9674.
    assert rows[2]["d_prime"] == pytest.approx(1.6419, abs=1e-4)
    # The officer fired from cover: reaction time counts only seconds exposed to the subject's
    # threat (docs/scoring.md, REACT rules), none here.
    assert rows[2]["reaction_time_s"] is None


def test_debrief_puts_findings_at_their_moment_in_feet(db_url: str, tmp_path: Path) -> None:
    saved_run(
        db_url, tmp_path / "b", "B-101", "knife-approach-v1", "taser-first-v1", seed=0
    )  # seed 0: both probes land preferred
    run_dir = next((tmp_path / "b").glob("*/events.jsonl")).parent
    d = debrief(run_dir)
    times = [e["t"] for e in d["timeline"]]
    assert times == sorted(times)
    credit = next(e for e in d["timeline"] if e["kind"].startswith("LLF-01"))
    fired = next(e for e in d["timeline"] if "taser_fired" in e["text"])
    assert credit["t"] == fired["t"]
    assert d["track"][0]["subjects"]["subject"][0] == pytest.approx(30.0, abs=0.01)  # ft
    assert {h["zone"] for h in d["hits"]} == {"preferred"}
    assert d["impacts"] and all(0 < i["x_ft"] < 31 for i in d["impacts"])
    assert d["frames"][0]["officer"].startswith("data:image/png;base64,")


def test_browser_feed_merges_unsent_frames_of_a_lane() -> None:
    feed = BrowserFeed()

    def frame(lane: str, seq: int, events: list[str]) -> tuple[str, dict[str, object]]:
        m = {"type": "state", "lane": lane, "seq": seq, "state": {"t_s": seq}, "events": events}
        return json.dumps(m), m

    feed.put(*frame("L1", 1, ["a"]))
    feed.put(*frame("L2", 1, []))
    feed.put(*frame("L1", 2, ["b"]))
    done = {"type": "finished", "lane": "L1"}
    feed.put(json.dumps(done), done)
    feed.put(*frame("L1", 3, []))

    async def drain() -> list[dict[str, object]]:
        return [json.loads(await feed.get()) for _ in range(len(feed.items))]

    got = asyncio.run(drain())
    assert [(m["lane"], m.get("seq"), m.get("events")) for m in got] == [
        ("L1", 2, ["a", "b"]),
        ("L2", 1, []),
        ("L1", None, None),
        ("L1", 3, []),
    ]


def _openrange(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "range", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=60,
    )


def test_cli_adduser_and_lane_key(db_url: str) -> None:
    done = _openrange("console", "adduser", "chief", "--db", db_url, stdin="a long password\n")
    assert done.returncode == 0, done.stderr
    assert "a long password" not in done.stdout + done.stderr
    short = _openrange("console", "adduser", "x", "--db", db_url, stdin="short\n")
    assert (short.returncode, short.stderr.strip()) == (
        2,
        "openrange: a password needs at least 10 characters",
    )
    officer = _openrange(
        "console", "adduser", "o", "--role", "officer", "--db", db_url, stdin="a long password\n"
    )
    assert officer.returncode == 5 and "needs --badge" in officer.stderr
    reset = _openrange("console", "passwd", "chief", "--db", db_url, stdin="another password\n")
    assert reset.returncode == 0, reset.stderr
    nobody = _openrange("console", "passwd", "nobody", "--db", db_url, stdin="another password\n")
    assert (nobody.returncode, nobody.stderr.strip()) == (5, "openrange: no account 'nobody'")
    key = _openrange("console", "lane-key", "--db", db_url).stdout.strip()
    with ConsoleStore.open(db_url) as store:
        user = store.user("chief")
        assert user is not None and user.role.value == "range_master"
        assert key == store.secret("lane_key")
        assert user.password_hash and check_password(user.password_hash, "another password")
        assert [r["action"] for r in store.audit_rows()][:2] == ["password_set", "account_created"]


def test_cli_role_disable_and_enable(db_url: str) -> None:
    # Issue 18 (nu18 #5): no way to change an account's role or turn it off.
    for name in ("chief", "deputy"):
        made = _openrange("console", "adduser", name, "--db", db_url, stdin="a long password\n")
        assert made.returncode == 0, made.stderr
    with ConsoleStore.open(db_url) as store:
        sid = store.new_session("deputy", 3600)
        assert store.session_user(sid, "deputy") is not None
    done = _openrange("console", "role", "deputy", "officer", "--badge", "B-101", "--db", db_url)
    assert done.returncode == 0, done.stderr
    off = _openrange("console", "disable", "chief", "--db", db_url)
    assert (off.returncode, off.stderr.strip()) == (
        5,
        "openrange: account 'chief' is the only range master: make another one first",
    )
    assert _openrange("console", "disable", "deputy", "--db", db_url).returncode == 0
    with ConsoleStore.open(db_url) as store:
        deputy = store.user("deputy")
        assert deputy is not None and deputy.disabled and deputy.badge == "B-101"
        assert store.session_user(sid, "deputy") is None  # the role change ended it
    assert _openrange("console", "enable", "deputy", "--db", db_url).returncode == 0
    with ConsoleStore.open(db_url) as store:
        assert [r["action"] for r in store.audit_rows()][:3] == [
            "account_enabled",
            "account_disabled",
            "account_role",
        ]
        assert not store.user("deputy").disabled  # type: ignore[union-attr]


def test_lane_without_a_key_is_one_line(tmp_path: Path) -> None:
    done = _openrange("lane", "--console", "127.0.0.1:9", "--name", "L1")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("openrange: no lane key")
    assert DRILL.exists()


def test_run_folders_travel_whole_and_stay_inside(tmp_path: Path) -> None:
    run = tmp_path / "lane" / "run1"
    (run / "speech").mkdir(parents=True)
    (run / "events.jsonl").write_text('{"t": 0}\n')
    (run / "speech" / "01.wav").write_bytes(b"RIFF\x00\xff")
    files = bundle(run)
    assert files["events.jsonl"] == '{"t": 0}\n'
    assert files["speech/01.wav"].startswith("b64:")
    unbundle(files, tmp_path / "copy")
    assert (tmp_path / "copy" / "speech" / "01.wav").read_bytes() == b"RIFF\x00\xff"
    for bad in ("../escape.txt", "/etc/passwd", "speech/../../x", ".hidden"):
        with pytest.raises(ValueError, match="a run file named"):
            unbundle({bad: "x"}, tmp_path / "copy2")
    assert not (tmp_path / "escape.txt").exists()


def test_an_officers_page_says_what_each_attempt_is(db_url: str) -> None:
    """A course fired from a lane page is a scripted shooter's: its sheet says SIMULATED and
    links an attempt record, never 'NOT QUALIFIED ... certificate' (a new range master read a
    passed simulation that way); a real passed attempt is QUALIFIED with its certificate."""
    from starlette.templating import Jinja2Templates

    from range.console.app import HERE

    real = qualify(db_url, "B-101", points=96)
    with Records.open(db_url) as records:
        attempt = records.begin_attempt(
            "B-101", "fbi-pistol-2019-v1", 3, "0.1.0", [], [], shooter="qualified"
        )
        stages = [{"name": "1", "points": 96, "hits": 48}]
        score = {"points": 96, "max_points": 100, "hits": 48, "passed": True, "stages": stages}
        simulated = records.finish_attempt(attempt, score)
        sheets = [attempt_sheet(records.qualification(q)) for q in (real, simulated)]
    assert [s["outcome"] for s in sheets] == [
        "QUALIFIED",
        "SIMULATED (scripted shooter qualified): not a qualification",
    ]
    page = (
        Jinja2Templates(directory=str(HERE / "templates"))
        .env.get_template("officer.html")
        .render(
            user=None,
            csrf="x",
            lanes={},
            officer={"name": "A", "badge": "B-101"},
            sheets=sheets,
            runs=[],
            trend=[],
        )
    )
    captions = [
        " ".join(re.sub("<[^>]+>", "", c).split())
        for c in re.findall(r"<caption>(.*?)</caption>", page, re.S)
    ]
    assert [re.sub(r"^.*?\+00:00: ", "", c) for c in captions] == [
        "QUALIFIED; certificate (PDF)",
        "SIMULATED (scripted shooter qualified): not a qualification; attempt record (PDF)",
    ], captions


def test_debrief_shows_what_the_officer_said_at_its_moment(db_url: str, tmp_path: Path) -> None:
    # Issue 18 (nu18 #1): the officer's words were in the log but nowhere on the debrief.
    saved_run(
        db_url, tmp_path / "c", "B-101", "crisis-talk-down-v1", "crisis-talk-down-correct-v1", 2
    )
    run_dir = next((tmp_path / "c").glob("*/events.jsonl")).parent
    spoke = [
        json.loads(line)
        for line in (run_dir / "events.jsonl").read_text().splitlines()
        if '"officer_spoke"' in line
    ]
    assert spoke
    d = debrief(run_dir, render=False)
    said = d["officer_said"]
    assert [s["text"] for s in said] == [r["text"] for r in spoke]
    assert [s["act"] for s in said] == [r["act"] for r in spoke]
    assert all(s["corrected"] is None for s in said)
    # ... and in the timeline, where the live lane page shows them too (protocol.event_line).
    heard = [e for e in d["timeline"] if e["kind"] == "officer_spoke"]
    assert len(heard) == len(spoke)
    assert all(f"act={r['act']}" in e["text"] for e, r in zip(heard, spoke, strict=True))


def test_an_aborted_run_is_shown_aborted_and_kept_out_of_the_trend(
    db_url: str, tmp_path: Path
) -> None:
    # Issue 18 (nu18 #3): an aborted or restarted run was recorded "no force used (100 points)"
    # and counted in the officer's trend.
    saved_run(db_url, tmp_path / "a", "B-101")
    source = read_drill_file(str(DRILL))
    result = run_drill(
        RunConfig(
            source.drill,
            find_officer("traffic-stop-compliant-correct-v1"),
            seed=5,
            runs_dir=tmp_path / "b",
            drill_file=source,
            officer_name="B-101",
        )
    ).as_json()
    result |= {"state": "aborted", "end_reason": "restarted by inst1"}
    with Records.open(db_url) as records:
        stopped = records.add_drill_run("B-101", result)
        assert [r["id"] for r in trend(records, "B-101")[0]] == [stopped - 1]
        runs = {r["id"]: r for r in recent_runs(records, "B-101")}
        assert runs[stopped]["aborted"] == "restarted by inst1"
        assert runs[stopped - 1]["aborted"] is None
        assert drill_run(records, stopped)["aborted"] == "restarted by inst1"
        # Played by a scripted officer: SIMULATED, and stopped: ABORTED.
        script = "SIMULATED (scripted officer traffic-stop-compliant-correct-v1)"
        assert records.drill_run(stopped)["outcome"] == f"{script}: ABORTED"
        assert records.drill_run(stopped - 1)["outcome"] == f"{script}: PASS"


def test_records_verify_checks_the_console_audit_chain(db_url: str) -> None:
    # Issue 18 (nu18 #12): an audit row's actor edited was found by /audit, while
    # `records verify` said the chain was intact.
    with ConsoleStore.open(db_url) as store:
        store.audit("boss", "login", address="127.0.0.1")
        row = store.audit("boss", "lane_start", lane="LANE1")
    done = _openrange("records", "verify", "--db", db_url)
    assert done.returncode == 0, done.stderr
    assert "2 console audit rows" in done.stdout
    with Records.open(db_url) as records:
        records.execute("UPDATE console_audit SET actor = 'inst' WHERE id = ?", row)
    done = _openrange("records", "verify", "--db", db_url)
    assert done.returncode == 1
    # under the headline with the counts (tests/test_nu12j.py)
    assert done.stderr.splitlines()[1:] == [f"audit row {row}: edited after it was written"]


def test_an_attempt_record_pdf_has_no_expiry_and_says_its_calibration(db_url: str) -> None:
    # Issue 18 (nu18 #13): a simulated attempt's PDF gave an expiry, "calibrated ?" and
    # "1 points".
    from range.records.certificate import _calibration_line

    emulated = {"serial": "T7-1", "allowed": True, "reason": "calibration not required (emulated)"}
    assert _calibration_line(emulated) == "T7-1: calibration not required (emulated)"
    profiled = {
        "serial": "P-1",
        "allowed": True,
        "reason": "ok",
        "profile": {"calibrated": "2026-11-01", "armorer": "Lee", "expires": "2027-05-01"},
    }
    assert _calibration_line(profiled) == "P-1 calibrated 2026-11-01 by Lee, valid until 2027-05-01"
    # A failed attempt (not an edited record: that is refused outright) has no expiry.
    qid = qualify(db_url, "B-101", points=50)
    with Records.open(db_url) as records:
        assert records.qualification(qid)["passed"] == 0
        text = _pdf_text(certificate_pdf(records, qid))
    assert "Expires:" not in text and "NOTQUALIFIED" in text
