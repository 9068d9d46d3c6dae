"""The qualification certificate (or attempt record) as one A4 PDF page, laid out as a
certificate rather than a listing: a border, the heading, the officer, the course title (wrapped
and, if still too long, shrunk to fit), date, expiry and result, the stages, devices and their
calibration in small type, the instructor's and the range master's signature lines, and the
record hash to check with `openrange records verify`.

The one certificate writer: `openrange records export --format pdf --attempt N` writes it
(`write_certificate_pdf`) and the console serves it (`certificate_pdf`), so both issue the same
page from the same record; `records export --format html --attempt N` writes the same blocks
(`certificate_blocks`) as an HTML page (`certificate_html`).

Drawn with matplotlib's PDF backend. Every text is measured with the backend's own font metrics
before it is placed, so none runs past the margins whatever the course title or the officer's
name.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from range import outfile
from range.records.exports import VALID_DAYS, certificate_fields
from range.records.store import Records, stored_json

PAGE_W_PT, PAGE_H_PT = 595.0, 842.0  # A4 in points (matplotlib's figsize is in inches of 72 pt)
MARGIN_PT = 54.0  # 3/4 inch: nothing is drawn outside it but the border
BORDER_PT = 30.0  # the double border, inside the paper's edge and outside the margin
INK, FAINT = "#111111", "#555555"
SANS, MONO = "DejaVu Sans", "DejaVu Sans Mono"


@dataclass(frozen=True, slots=True)
class CertificateText:
    """What the page says; `title` is the heading (a certificate, or an attempt record that is
    not one), `course_title` the course's own title."""

    title: str
    certificate: bool  # QUALIFIED on the built-in course: "certifies"; otherwise "records"
    officer: str
    badge: str
    agency: str
    course_title: str
    course_id: str
    course_sha256: str
    result: str
    score: str
    pass_mark: str
    date: str
    expires: str | None
    stages: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    record: int = 0
    record_hash: str = ""


class _Page:
    """Text placed top-down on one page, each piece measured first (points: the figure is at
    72 dpi, so a display unit is a point)."""

    def __init__(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(PAGE_W_PT / 72, PAGE_H_PT / 72), dpi=72)
        self.renderer = self._renderer()
        self.y = PAGE_H_PT - MARGIN_PT  # the top of the next line
        self.width = PAGE_W_PT - 2 * MARGIN_PT

    def _renderer(self) -> Any:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        return FigureCanvasAgg(self.fig).get_renderer()  # type: ignore[no-untyped-call]

    def measure(self, text: str, size: float, family: str = SANS, weight: str = "normal") -> float:
        t = self.fig.text(0, 0, text, fontsize=size, family=family, weight=weight)
        width = float(t.get_window_extent(self.renderer).width)
        t.remove()
        return width

    def wrap(self, text: str, size: float, family: str, weight: str, width: float) -> list[str]:
        """Greedy word wrap to `width`; a word longer than a line is broken where it must."""
        lines: list[str] = []
        line = ""
        for word in text.split():
            while self.measure(word, size, family, weight) > width:  # one very long word
                cut = len(word) - 1
                while cut > 1 and self.measure(word[:cut], size, family, weight) > width:
                    cut -= 1
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cut])
                word = word[cut:]
            trial = f"{line} {word}" if line else word
            if self.measure(trial, size, family, weight) <= width:
                line = trial
            else:
                lines.append(line)
                line = word
        if line:
            lines.append(line)
        return lines or [""]

    def fit(
        self,
        text: str,
        size: float,
        min_size: float,
        max_lines: int,
        family: str = SANS,
        weight: str = "normal",
        width: float | None = None,
    ) -> tuple[list[str], float]:
        """`text` wrapped to the width in at most `max_lines` lines at the largest size from
        `size` down to `min_size`; at `min_size`, as many lines as it takes."""
        width = self.width if width is None else width
        s = size
        while True:
            lines = self.wrap(text, s, family, weight, width)
            if len(lines) <= max_lines or s <= min_size:
                return lines, s
            s = max(min_size, s - 1)

    def lines(
        self,
        text: str,
        size: float,
        min_size: float | None = None,
        max_lines: int = 1,
        family: str = SANS,
        weight: str = "normal",
        colour: str = INK,
        centre: bool = True,
        gap: float = 0.0,
    ) -> None:
        """Draw `text` fitted (see `fit`) below the last, centred or from the left margin."""
        wrapped, s = self.fit(text, size, min_size or size, max_lines, family, weight)
        self.y -= gap
        for line in wrapped:
            self.y -= s * 1.25
            x = PAGE_W_PT / 2 if centre else MARGIN_PT
            self.fig.text(
                x / PAGE_W_PT,
                self.y / PAGE_H_PT,
                line,
                fontsize=s,
                family=family,
                weight=weight,
                color=colour,
                ha="center" if centre else "left",
                va="baseline",
            )
        self.y -= s * 0.35

    def signature(self, label: str, x0: float, x1: float, y: float) -> None:
        """A line to sign on from x0 to x1 at height y, its caption under it."""
        from matplotlib.lines import Line2D

        self.fig.add_artist(
            Line2D(
                [x0 / PAGE_W_PT, x1 / PAGE_W_PT],
                [y / PAGE_H_PT, y / PAGE_H_PT],
                color=INK,
                linewidth=0.8,
            )
        )
        self.fig.text(
            x0 / PAGE_W_PT,
            (y - 12) / PAGE_H_PT,
            label,
            fontsize=9,
            family=SANS,
            color=FAINT,
            va="baseline",
        )

    def border(self) -> None:
        from matplotlib.patches import Rectangle

        for inset, lw in ((BORDER_PT, 2.0), (BORDER_PT + 5, 0.6)):
            self.fig.add_artist(
                Rectangle(
                    (inset / PAGE_W_PT, inset / PAGE_H_PT),
                    (PAGE_W_PT - 2 * inset) / PAGE_W_PT,
                    (PAGE_H_PT - 2 * inset) / PAGE_H_PT,
                    fill=False,
                    edgecolor="#1d2b3a",
                    linewidth=lw,
                )
            )


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of the certificate's text, in reading order, and its role (`STYLES`)."""

    role: str
    text: str


# How each role is drawn on the PDF page: size, smallest size, most lines, family, weight,
# colour, centred, gap above (points). The HTML page gives each role a class of the same name.
STYLES: dict[str, tuple[float, float, int, str, str, str, bool, float]] = {
    "agency": (11, 8, 2, SANS, "normal", FAINT, True, 8),
    "title": (26, 12, 3, SANS, "bold", INK, True, 6),
    "title-record": (18, 12, 3, SANS, "bold", INK, True, 6),
    "lead": (12, 12, 1, SANS, "normal", INK, True, 16),
    "officer": (22, 11, 2, SANS, "bold", INK, True, 4),
    "badge": (11, 8, 2, SANS, "normal", FAINT, True, 0),
    "lead-course": (12, 12, 1, SANS, "normal", INK, True, 10),
    "course": (20, 9, 3, SANS, "bold", INK, True, 4),
    "course-id": (10, 7, 3, SANS, "normal", FAINT, True, 0),
    "result": (14, 9, 2, SANS, "bold", INK, True, 12),
    "line": (11, 8, 2, SANS, "normal", INK, True, 0),
    "heading": (9, 9, 1, SANS, "bold", INK, False, 4),
    "small": (8, 6, 3, SANS, "normal", FAINT, False, 0),
    "hash": (7, 5, 2, MONO, "normal", INK, False, 0),
    "record-hash": (8, 5, 2, MONO, "normal", INK, False, 0),
    "foot": (8, 8, 1, SANS, "normal", FAINT, False, 0),
}
# The signature lines, each with a date line beside it.
SIGNATURES = ("Instructor:", "Range master:")


def certificate_blocks(c: CertificateText) -> list[Block]:
    """What the certificate says, top to bottom, above the signature lines: the one layout the
    PDF (`certificate_figure`) and the HTML page (`certificate_html`) both draw."""
    out = [Block("agency", c.agency.upper())] if c.agency else []
    out += [
        Block("title" if c.certificate else "title-record", c.title),
        Block("lead", "This certifies that" if c.certificate else "This records that"),
        Block("officer", c.officer),
        Block("badge", f"badge {c.badge}"),
        Block(
            "lead-course",
            "completed the qualification course" if c.certificate else "fired the course",
        ),
        # The course's title: as large as fits in three lines, wrapped at words, never past
        # the margins (a long title used to run off the page).
        Block("course", c.course_title),
        Block("course-id", f"({c.course_id})"),
        Block("result", f"{c.result}: {c.score}"),
        Block("line", f"Pass mark: {c.pass_mark}"),
        Block("line", f"Date: {c.date}" + (f"     Expires: {c.expires}" if c.expires else "")),
    ]
    for heading, rows in (("Stages", c.stages), ("Devices and calibration", c.devices)):
        out.append(Block("heading", f"{heading}:"))
        out += [Block("small", row) for row in rows]
    if c.course_sha256:
        out.append(Block("hash", f"Course file sha256: {c.course_sha256}"))
    return out


def certificate_footer(c: CertificateText) -> list[Block]:
    """The foot of the certificate, below the signature lines: the record and its hash."""
    return [
        Block("foot", f"Record {c.record}; record hash:"),
        Block("record-hash", c.record_hash),
        Block("foot", "Verify with `openrange records verify`."),
    ]


def _draw(page: _Page, block: Block) -> None:
    size, smallest, most, family, weight, colour, centre, gap = STYLES[block.role]
    page.lines(block.text, size, smallest, most, family, weight, colour, centre, gap)


def certificate_figure(c: CertificateText) -> Any:
    """The page as a matplotlib Figure (A4, 72 dpi: display units are points)."""
    page = _Page()
    page.border()
    for block in certificate_blocks(c):
        if block.role == "heading" and block.text == "Stages:":
            page.y -= 10  # the small print starts a little apart
        _draw(page, block)
    # Signature lines, side by side, each with a date line, kept above the record's hash.
    line_y = max(MARGIN_PT + 110, min(page.y - 40, 240.0))
    half = page.width / 2
    for n, who in enumerate(SIGNATURES):
        x0 = MARGIN_PT + n * (half + 12)
        page.signature(who, x0, x0 + half - 90, line_y)
        page.signature("Date:", x0 + half - 80, x0 + half - 12, line_y)
    page.y = MARGIN_PT + 58
    for block in certificate_footer(c):
        _draw(page, block)
    return page.fig


_HTML_STYLE = """body{font-family:'DejaVu Sans',sans-serif;color:#111;margin:0;background:#eee}
.page{max-width:595pt;min-height:842pt;margin:1em auto;padding:54pt;box-sizing:border-box;
background:#fff;border:2pt solid #1d2b3a;outline:0.6pt solid #1d2b3a;outline-offset:-7pt}
p{margin:0.2em 0;text-align:center}.agency,.badge,.course-id{color:#555}
.agency{font-size:11pt}.title{font-size:26pt;font-weight:bold}
.title-record{font-size:18pt;font-weight:bold}.lead,.lead-course{font-size:12pt;margin-top:1em}
.officer{font-size:22pt;font-weight:bold}.course{font-size:20pt;font-weight:bold}
.result{font-size:14pt;font-weight:bold;margin-top:0.8em}.line{font-size:11pt}
.heading,.small,.hash,.foot,.record-hash{text-align:left}
.heading{font-size:9pt;font-weight:bold;margin-top:0.6em}.small,.foot{font-size:8pt;color:#555}
.hash,.record-hash{font-family:'DejaVu Sans Mono',monospace;overflow-wrap:anywhere}
.hash{font-size:7pt}.record-hash{font-size:8pt}
.signatures{display:flex;gap:2em;margin:3em 0 2em}
.signatures div{flex:1;border-top:0.8pt solid #111;padding-top:2pt;font-size:9pt;color:#555}
.signatures .date{flex:0 0 20%}
@media print{body{background:#fff}.page{margin:0}}"""


def certificate_html(c: CertificateText) -> str:
    """The certificate as one HTML page: the same blocks, in the same order, as the PDF, with
    the same signature lines and record hash (`records export --format html --attempt N`)."""
    from html import escape

    def para(block: Block) -> str:
        return f'<p class="{block.role}">{escape(block.text)}</p>'

    signatures = "".join(
        f'<div class="who">{escape(who)}</div><div class="date">Date:</div>' for who in SIGNATURES
    )
    return (
        f"<!doctype html><meta charset='utf-8'><title>{escape(c.title)}</title>"
        f'<style>{_HTML_STYLE}</style><div class="page certificate">'
        + "".join(para(b) for b in certificate_blocks(c))
        + f'<div class="signatures">{signatures}</div>'
        + "".join(para(b) for b in certificate_footer(c))
        + "</div>\n"
    )


def certificate_pdf_bytes(c: CertificateText) -> bytes:
    fig = certificate_figure(c)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="pdf")
    return buffer.getvalue()


def certificate_text(
    records: Records, qualification: int, valid_days: int = VALID_DAYS
) -> CertificateText:
    """What the certificate of one record says: course title and pass mark (the built-in
    course's; a modified or unknown course shows its label and "as recorded"), date and expiry
    (a qualification's only), result and stages, devices and their calibration, and the record
    hash. An edited record, or one whose link to the record before it is broken, is refused
    (RecordsError, from `certificate_fields`): no certificate or attempt record is issued."""
    from drills.course import find_course
    from drills.wording import count_of

    fields = certificate_fields(records, qualification)
    row = records.qualification(qualification)
    try:
        if row["course_origin"] == "modified":  # not the built-in course of its id
            raise KeyError(row["course"])
        course = find_course(row["course"])
        title, mark = course.title, course.pass_mark
        pass_mark = (
            f"{mark.points} points"
            if mark.points is not None
            else f"{mark.percent:g} %"
            if mark.percent is not None
            else count_of(mark.hits or 0, course.hit_noun)
        )
    except (KeyError, ValueError, OSError):
        title, pass_mark = row["course"], "as recorded"
    finished = datetime.fromisoformat(row["finished"]).date()
    return CertificateText(
        title=fields["title"],
        certificate=fields["result"] == "QUALIFIED" and row["course_origin"] != "modified",
        officer=str(fields["officer"]),
        badge=str(fields["badge"]),
        agency=str(fields["agency"] or ""),
        course_title=str(title),
        course_id=str(fields["course"]),
        course_sha256=str(row["course_sha256"] or "(not recorded)"),
        result=str(fields["result"]),
        score=str(fields["score"]),
        pass_mark=pass_mark,
        date=finished.isoformat(),
        # Only a qualification expires: an attempt record of another outcome has no expiry.
        expires=(finished + timedelta(days=valid_days)).isoformat()
        if fields["result"] == "QUALIFIED"
        else None,
        stages=[
            f"{name}: {_count(points, 'point')}, {_count(hits, 'hit')}"
            for name, points, hits in fields["stages"]
        ]
        # An attempt closed INCOMPLETE is scored by no stage: said, not an empty heading.
        or [
            f"none scored: the attempt was not finished ({fields['result']}); `openrange records"
            f" show {fields['record']}` lists each shot kept"
            if str(fields["result"]).startswith("INCOMPLETE")
            else "none recorded"
        ],
        devices=[
            f"{d.get('model', '?')} serial {d.get('serial', '?')}"
            for d in stored_json(row, "devices")
        ]
        + (
            [_calibration_line(c) for c in stored_json(row, "calibration")]
            or ["calibration: none recorded (emulated replicas)"]
        ),
        record=int(fields["record"]),
        record_hash=str(fields["hash"]),
    )


def certificate_pdf(records: Records, qualification: int) -> bytes:
    """The certificate (or attempt record) of one record as the bytes of a PDF."""
    return certificate_pdf_bytes(certificate_text(records, qualification))


def write_certificate_pdf(path: Path, records: Records, qualification: int) -> None:
    """`path` holds the certificate of one record, whole, or is left as it was: drawn in
    memory first (an edited record is refused before anything is written), then written through
    range/outfile.py, so a full disk names the file and leaves no partial PDF."""
    outfile.write_bytes(path, certificate_pdf(records, qualification))


def _count(n: Any, what: str) -> str:
    return f"{n} {what}{'' if str(n) == '1' else 's'}"


def _calibration_line(c: dict[str, Any]) -> str:
    """One device's calibration as the attempt recorded it (range.calibration.profiles
    `calibration_for_run`): its profile's date and armorer, or why it had none."""
    # The profile's fields, or (an older or hand-made entry) the entry's own.
    profile = c.get("profile") if isinstance(c.get("profile"), dict) else c
    serial = c.get("serial", "?")
    if profile and profile.get("calibrated"):
        by = f" by {profile['armorer']}" if profile.get("armorer") else ""
        until = f", valid until {profile['expires']}" if profile.get("expires") else ""
        return f"{serial} calibrated {profile['calibrated']}{by}{until}"
    return f"{serial}: {c.get('reason') or 'no calibration recorded'}"
