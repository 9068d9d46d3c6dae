"""The qualification certificate (or attempt record) as one A4 PDF page, laid out as a
certificate rather than a listing: a border, the heading, the officer, the course title (wrapped
and, if still too long, shrunk to fit), date, expiry and result, the stages, devices and their
calibration in small type, the instructor's and the range master's signature lines, and the
record hash to check with `openrange records verify`.

The one certificate writer: `openrange records export --format pdf --attempt N` writes it
(`write_certificate_pdf`) and the console serves it (`certificate_pdf`), so both issue the same
page from the same record.

Drawn with matplotlib's PDF backend. Every text is measured with the backend's own font metrics
before it is placed, so none runs past the margins whatever the course title or the officer's
name.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from range import outfile
from range.records.exports import VALID_DAYS, certificate_fields
from range.records.store import Records

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


def certificate_figure(c: CertificateText) -> Any:
    """The page as a matplotlib Figure (A4, 72 dpi: display units are points)."""
    page = _Page()
    page.border()
    if c.agency:
        page.lines(c.agency.upper(), 11, 8, 2, colour=FAINT, gap=8)
    page.lines(c.title, 26 if c.certificate else 18, 12, 3, weight="bold", gap=6)
    page.lines("This certifies that" if c.certificate else "This records that", 12, gap=16)
    page.lines(c.officer, 22, 11, 2, weight="bold", gap=4)
    page.lines(f"badge {c.badge}", 11, 8, 2, colour=FAINT)
    page.lines(
        "completed the qualification course" if c.certificate else "fired the course", 12, gap=10
    )
    # The course's title: as large as fits in three lines, wrapped at words, never past the
    # margins (a long title used to run off the page).
    page.lines(c.course_title, 20, 9, 3, weight="bold", gap=4)
    page.lines(f"({c.course_id})", 10, 7, 3, colour=FAINT)
    page.lines(f"{c.result}: {c.score}", 14, 9, 2, weight="bold", gap=12)
    page.lines(f"Pass mark: {c.pass_mark}", 11, 8, 2)
    dates = f"Date: {c.date}" + (f"     Expires: {c.expires}" if c.expires else "")
    page.lines(dates, 11, 8, 2)
    small = 8.0
    page.y -= 10
    for heading, rows in (("Stages", c.stages), ("Devices and calibration", c.devices)):
        page.lines(f"{heading}:", 9, weight="bold", centre=False, gap=4)
        for row in rows:
            page.lines(row, small, 6, 3, centre=False, colour=FAINT)
    if c.course_sha256:
        page.lines(f"Course file sha256: {c.course_sha256}", 7, 5, 2, MONO, centre=False)
    # Signature lines, side by side, each with a date line, kept above the record's hash.
    line_y = max(MARGIN_PT + 110, min(page.y - 40, 240.0))
    half = page.width / 2
    for n, who in enumerate(("Instructor:", "Range master:")):
        x0 = MARGIN_PT + n * (half + 12)
        page.signature(who, x0, x0 + half - 90, line_y)
        page.signature("Date:", x0 + half - 80, x0 + half - 12, line_y)
    page.y = MARGIN_PT + 58
    page.lines(f"Record {c.record}; record hash:", 8, centre=False, colour=FAINT)
    page.lines(c.record_hash, 8, 5, 2, MONO, centre=False)
    page.lines("Verify with `openrange records verify`.", 8, centre=False, colour=FAINT)
    return page.fig


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
            else f"{mark.hits} hits"
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
        ],
        devices=[
            f"{d.get('model', '?')} serial {d.get('serial', '?')}"
            for d in json.loads(row["devices"])
        ]
        + (
            [_calibration_line(c) for c in json.loads(row["calibration"])]
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
