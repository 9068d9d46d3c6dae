"""Issue 18, leftovers pass nu18g: each test fails without its fix. In-process where it can be
(the console's handlers called on a built request, the runner in this process); a real second
process where the question is another process."""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from console_support import seed_accounts

from drills.course import find_course
from drills.officer import OfficerScript, check_script, find_officer
from drills.schema import find_drill, parse_drill
from peripherals.messages import Model
from physics.datafiles import DataFileError
from range.cli.main import main
from range.console.app import SESSION_MAX_AGE_S, Console, LaneView
from range.console.store import ConsoleStore
from range.runs.drill import RunConfig, run_drill

DRILLS = Path(__file__).resolve().parent.parent / "drills" / "data" / "drills"


def _get(console: Console, user: str, path: str, params: dict[str, Any]) -> str:
    """GET `path` from the console's handler as `user` (a real session in the store)."""
    from starlette.requests import Request

    with ConsoleStore.open(console.db_url) as store:
        sid = store.new_session(user, SESSION_MAX_AGE_S)
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "path_params": params,
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "session": {"user": user, "sid": sid},
        "server": ("testserver", 80),
        "scheme": "http",
    }
    handler = console.lane
    response = asyncio.run(handler(Request(scope)))
    assert response.status_code == 200
    return bytes(response.body).decode()


# -- 1. a drill issues specific replicas -----------------------------------------------------


def test_the_lane_page_offers_each_drill_with_only_the_replicas_it_issues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nu18g #1: every drill was offered with both replicas, whatever it issues. No built-in
    # drill declares one weapon (the default is both: docs/drills.md "Issued weapons"), so the
    # library the page lists gets one that does, parsed from a real drill file.
    import drills.schema

    text, name = _with_weapons("repeated-cycles-v1", '["taser"]')
    one = parse_drill(text.replace('id = "repeated-cycles-v1"', 'id = "taser-only-v1"'), name)
    library = dict(drills.schema.builtin_drills()) | {one.id: one}
    monkeypatch.setattr(drills.schema, "builtin_drills", lambda: library)
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    seed_accounts(db)
    console = Console(db, runs_dir=tmp_path / "console-runs")
    console.hub.lanes["L1"] = LaneView("L1")
    page = _get(console, "inst", "/lanes/L1", {"name": "L1"})
    options = dict(re.findall(r'<option value="([a-z0-9-]+)" data-weapons="([a-z ]*)">', page))
    assert options["taser-only-v1"] == "taser"
    assert options["phone-draw-v1"] == "taser firearm"  # declares nothing: both
    assert ">taser-only-v1 (TASER)</option>" in page
    assert ">knife-approach-v1 (TASER, pistol)</option>" in page


def test_a_drill_run_opens_only_the_replicas_the_drill_issues(tmp_path: Path) -> None:
    # nu18g #1: the run opened the TASER and the pistol for every drill.
    drill = parse_drill(*_with_weapons("phone-draw-v1", '["firearm"]'))
    result = run_drill(
        RunConfig(drill, find_officer("phone-draw-correct-v1"), seed=3, runs_dir=tmp_path)
    ).as_json()
    started = (Path(result["run_dir"]) / "events.jsonl").read_text().splitlines()[0]
    assert '"weapons": ["firearm"]' in started
    assert [d["serial"] for d in result["devices"]] == ["SIM-PISTOL-0001"]


def _with_weapons(name: str, weapons: str) -> tuple[str, str]:
    text = (DRILLS / f"{name}.toml").read_text()
    head, _, rest = text.partition("\n[")
    return f"{head}\nweapons = {weapons}\n[{rest}", f"{name}.toml"


def test_declared_weapons_are_checked_against_the_drill_with_file_line_and_field() -> None:
    # nu18g #1: a declared issue that leaves out a weapon the stages wait on is refused where
    # it is wrong; an unknown weapon names the field.
    text, name = _with_weapons("repeated-cycles-v1", '["firearm"]')
    with pytest.raises(DataFileError) as caught:
        parse_drill(text, name)
    message = str(caught.value)
    assert name in message and "weapons" in message and "taser_model" in message
    assert re.search(r"phases\[\d+\]\.transitions\[\d+\]\.on", message)
    assert re.search(r":\d+", message)  # a line
    text, name = _with_weapons("knife-approach-v1", '["rifle"]')
    with pytest.raises(DataFileError) as caught:
        parse_drill(text, name)
    assert "weapons" in str(caught.value)
    text, name = _with_weapons("knife-approach-v1", '["taser"]')
    assert parse_drill(text, name).issued_weapons() == ("taser",)


def test_a_script_that_draws_a_weapon_the_drill_does_not_issue_is_refused(
    tmp_path: Path,
) -> None:
    text, name = _with_weapons("knife-approach-v1", '["taser"]')
    drill = parse_drill(text, name)
    script = OfficerScript.model_validate(
        {
            "id": "shoots",
            "version": 1,
            "description": "draws the pistol",
            "steps": [{"do": "draw_firearm", "at_s": 0.5}, {"do": "fire", "after_s": 0.5}],
        }
    )
    with pytest.raises(DataFileError, match=r"steps\[0\]\.do.*firearm"):
        check_script(script, drill, "shoots.toml")
    runs = tmp_path / "runs"
    with pytest.raises(ValueError, match="does not issue"):
        run_drill(RunConfig(drill, script, seed=1, runs_dir=runs))
    assert not runs.exists()  # refused before any run folder is made
    with pytest.raises(ValueError, match="--taser: drill phone-draw-v1 issues no TASER"):
        run_drill(
            RunConfig(
                parse_drill(*_with_weapons("phone-draw-v1", '["firearm"]')),
                find_officer("phone-draw-correct-v1"),
                seed=1,
                runs_dir=runs,
                taser_model=Model.TASER_7,
            )
        )
    assert not runs.exists()


def test_drill_show_prints_the_issued_weapons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "show", "repeated-cycles-v1"]) == 0
    assert "Issued weapons (default: both): taser (taser-x26p), firearm" in (
        capsys.readouterr().out
    )


# -- 2. the cut-short scan leaves a run another live process still writes ----------------------

WRITER = """
import sys
from pathlib import Path
from drills.log import LogRecord
from range.runs.runlog import RunWriter
writer = RunWriter(Path(sys.argv[1]), "knife-approach-v1")
(writer.path / ".lane.json").write_text('{"lane": "LANE1"}')  # a lane's run (LANE_MARK)
writer.append(LogRecord(0.0, "run_started", {"log_format": 1, "drill": "knife-approach-v1",
    "dt_s": 0.01, "subjects": {}, "cover": []}))
print(writer.path, flush=True)
sys.stdin.readline()  # playing on until told
"""


def test_a_restarted_lane_leaves_a_run_another_live_process_is_still_writing(
    tmp_path: Path,
) -> None:
    # nu18g #2: a second lane process with the same --runs-dir offered a run the first one was
    # still playing as INCOMPLETE (cut short).
    import os
    import signal
    import subprocess
    import sys

    from range.console.lane import CUT_SHORT_FILE, LaneProcess

    runs = tmp_path / "runs"
    runs.mkdir()
    root = Path(__file__).resolve().parent.parent
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(runs)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert writer.stdout is not None
        folder = Path(writer.stdout.readline().strip())
        assert folder.is_dir()
        lane = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs)
        assert lane.finished == [] and not (folder / CUT_SHORT_FILE).exists()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    # Its writer gone (killed mid-run), the folder is a run cut short: offered once.
    again = LaneProcess("LANE1", "127.0.0.1:1", "k" * 32, runs)
    assert [r["run_dir"] for r in again.finished] == [str(folder)]
    assert again.finished[0]["cut_short"]


# -- 3. the live course table counts as the attempt sheet does ---------------------------------


def test_the_live_course_table_counts_each_string_as_the_attempt_sheet_does() -> None:
    # nu18g #3: the table judged rounds with a copy of its own (late ones, the string's count)
    # instead of scoring/course.py count_fired: a string a device fault left for a later
    # reshoot showed its cartridge's point on the lane page and 0 on the attempt sheet.
    from drills.log import LogRecord
    from range.console.courselane import course_state
    from scoring.course import rescore_attempt

    course = find_course("taser7-practical-v1")
    par_s = course.stages[0].strings[0].par_time_s
    where = {"stage": 0, "string": 0}
    started = {**where, "distance_ft": 10.0, "start": "low ready", "par_time_s": par_s}
    hit = {**where, "t_s": 1.0, "effective": True, "reason": ""}
    records = [
        LogRecord(0.0, "string_started", started),
        LogRecord(1.0, "deployment", hit),
        LogRecord(1.5, "string_faulted", {**where, "reshoot": False}),
        LogRecord(2.0, "string_started", {**started, "stage": 1}),
        LogRecord(3.0, "deployment", {**hit, "stage": 1}),
    ]
    sheet = rescore_attempt(course, records)
    state = course_state(course, records, {})
    rows = state["strings"]
    assert [(r["points"], r["hits"]) for r in rows[:2]] == [
        (s.points, s.hits) for s in sheet.stages[:2]
    ]
    assert [r["points"] for r in rows[:2]] == [0, 1]
    assert rows[0]["fired"] == 1 and rows[0]["status"] == "faulted"
    assert state["points"] == sheet.points == 1


# -- 4. phase-graph arrows go around the boxes ------------------------------------------------

Point = tuple[float, float]


def _path_points(d: str) -> list[Point]:
    """An SVG path's points (M, L, and Q or C sampled finely), in absolute coordinates."""
    tokens = re.findall(r"[MLQC]|-?\d+(?:\.\d+)?", d)
    points: list[Point] = []
    i = 0
    while i < len(tokens):
        op = tokens[i]
        n = {"M": 1, "L": 1, "Q": 2, "C": 3}[op]
        xs = [float(t) for t in tokens[i + 1 : i + 1 + 2 * n]]
        ctrl = [(xs[2 * k], xs[2 * k + 1]) for k in range(n)]
        i += 1 + 2 * n
        if op in "ML":
            points.append(ctrl[0])
            continue
        p0 = points[-1]
        for s in range(1, 41):
            f = s / 40
            if op == "Q":
                (cx, cy), (bx, by) = ctrl
                x = (1 - f) ** 2 * p0[0] + 2 * f * (1 - f) * cx + f**2 * bx
                y = (1 - f) ** 2 * p0[1] + 2 * f * (1 - f) * cy + f**2 * by
            else:
                (c1x, c1y), (c2x, c2y), (bx, by) = ctrl
                x = (
                    (1 - f) ** 3 * p0[0]
                    + 3 * f * (1 - f) ** 2 * c1x
                    + 3 * f**2 * (1 - f) * c2x
                    + f**3 * bx
                )
                y = (
                    (1 - f) ** 3 * p0[1]
                    + 3 * f * (1 - f) ** 2 * c1y
                    + 3 * f**2 * (1 - f) * c2y
                    + f**3 * by
                )
            points.append((x, y))
    return points


def _crosses(a: Point, b: Point, box: tuple[float, float, float, float]) -> bool:
    """Whether segment a-b enters the open box (touching its edge, where an arrow starts or
    ends, is not crossing): Liang-Barsky clipping against the box shrunk by half a pixel."""
    x0, y0, x1, y1 = box[0] + 0.5, box[1] + 0.5, box[2] - 0.5, box[3] - 0.5
    dx, dy = b[0] - a[0], b[1] - a[1]
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
            continue
        r = q / p
        if p < 0:
            lo = max(lo, r)
        else:
            hi = min(hi, r)
    return lo < hi


def _arrows_through_boxes(svg: str) -> list[tuple[str, str, str]]:
    import xml.etree.ElementTree as ET

    ns = "{http://www.w3.org/2000/svg}"
    root = ET.fromstring(svg)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    paths: list[tuple[str, str, str]] = []
    for g in root.iter(f"{ns}g"):
        if g.attrib["class"].startswith("phase"):
            r = g.find(f"{ns}rect")
            assert r is not None
            x, y = float(r.attrib["x"]), float(r.attrib["y"])
            w, h = float(r.attrib["width"]), float(r.attrib["height"])
            boxes[g.attrib["data-phase"]] = (x, y, x + w, y + h)
        elif g.attrib["class"] == "edge":
            p = g.find(f"{ns}path")
            assert p is not None
            paths.append((g.attrib["data-from"], g.attrib["data-to"], p.attrib["d"]))
    crossed = []
    for start, end, d in paths:
        points = _path_points(d)
        for phase, box in boxes.items():
            if any(_crosses(a, b, box) for a, b in itertools.pairwise(points)):
                crossed.append((start, end, phase))
    return crossed


def test_no_phase_graph_arrow_crosses_a_phase_box() -> None:
    # nu18g #4: an arrow between two phases in one column (and an arrow back from a row
    # below) was a curve under the upper box that ran through the lower one.
    from drills.schema import builtin_drill_files
    from range.console.graph import phase_graph, phase_graph_svg

    same_column = {
        "phases": [
            {"id": "start", "subject": "s", "ends": False},
            {"id": "left", "subject": "s", "ends": False},
            {"id": "right", "subject": "s", "ends": False},
            {"id": "far", "subject": "s", "ends": True},
        ],
        "edges": [
            {"from": "start", "to": "left", "label": "after 1 s"},
            {"from": "start", "to": "right", "label": "after 2 s"},
            {"from": "left", "to": "right", "label": "button swap"},  # down one column
            {"from": "right", "to": "left", "label": "button back"},  # up it
            {"from": "right", "to": "far", "label": "within 5 ft"},
            {"from": "far", "to": "start", "label": "on hit"},  # back, from a lower row
            {"from": "left", "to": "left", "label": "on verbal_command"},  # to itself
        ],
        "starts": {"s": "start"},
    }
    assert _arrows_through_boxes(phase_graph_svg(same_column)) == []
    for name in sorted(builtin_drill_files()):
        svg = phase_graph_svg(phase_graph(find_drill(name)))
        assert _arrows_through_boxes(svg) == [], name


# -- 5. one certificate layout: the PDF's, the console's and the HTML export's ----------------


def test_the_html_certificate_is_the_pdf_certificate_s_layout(tmp_path: Path) -> None:
    # nu18g #5: `records export --format html --attempt` wrote an older layout (no course
    # title, pass mark, expiry, devices, calibration or signature lines).
    from html import unescape

    from console_support import qualify

    from range.records.certificate import certificate_figure, certificate_text
    from range.records.store import Records

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
    record = qualify(db, "4411", points=96)
    out = tmp_path / "certificate.html"
    argv = ["records", "export", "--format", "html", "--attempt", str(record), "--db", db]
    assert main([*argv, "--out", str(out)]) == 0
    page = " ".join(unescape(out.read_text()).split())  # as a browser shows it
    with Records.open(db) as records:
        text = certificate_text(records, record)
    drawn = [t.get_text() for t in certificate_figure(text).texts]
    # Every text of the PDF (and of the console's certificate: the same page) is on it.
    missing = [line for line in drawn if line not in page]
    assert missing == []
    course = find_course("fbi-pistol-2019-v1")
    assert text.course_title == course.title and course.title in page
    assert "Pass mark: " in page and f"Expires: {text.expires}" in page and text.expires
    assert "P-0042" in page and "calibrated 2026-11-01" in page
    assert '<div class="who">Instructor:</div>' in page
    assert '<div class="who">Range master:</div>' in page
    assert text.record_hash and text.record_hash in page


# -- 6. --valid-days with --attempt: refused, saying why, as the docs and --help say ----------


def test_valid_days_with_a_certificate_is_refused_saying_why_as_docs_and_help_say(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nu18g #6: "--valid-days is not used by --format pdf --attempt (one attempt's
    # certificate): it takes --attempt", with no reason, while --help said only "roster".
    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    argv = ["records", "export", "--format", "pdf", "--attempt", "1", "--valid-days", "30"]
    assert main([*argv, "--db", db, "--out", str(tmp_path / "c.pdf")]) != 0
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--valid-days is not used by a certificate (--attempt): it expires 365 days" in line
    assert not (tmp_path / "c.pdf").exists()
    with pytest.raises(SystemExit):
        main(["records", "export", "--help"])
    helped = " ".join(capsys.readouterr().out.split())
    assert "refused with --attempt: a certificate expires 365 days after its attempt" in helped
    docs = (Path(__file__).resolve().parent.parent / "docs" / "records.md").read_text()
    assert "A certificate's expiry is always 365 days after its attempt" in " ".join(docs.split())
