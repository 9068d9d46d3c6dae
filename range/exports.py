"""Exports of the records: CSV for spreadsheets, a roster for a POST compliance report, and a
qualification certificate for one attempt, as HTML or PDF."""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from range.records import Records

CSV_FIELDS = (
    "id",
    "badge",
    "name",
    "agency",
    "course",
    "finished",
    "points",
    "max_points",
    "hits",
    "passed",
    "hash",
)


def export_csv(records: Records, since: str | None, until: str | None) -> str:
    officers = {o["badge"]: o for o in records.officers()}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for row in records.qualifications(since=since, until=until):
        officer = officers.get(row["badge"], {})
        writer.writerow(
            [
                row["id"],
                row["badge"],
                officer.get("name", ""),
                officer.get("agency", ""),
                row["course"],
                row["finished"],
                row["points"],
                row["max_points"],
                row["hits"],
                "yes" if row["passed"] else "no",
                row["hash"],
            ]
        )
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class RosterLine:
    badge: str
    name: str
    agency: str
    status: str  # qualified | expired | not qualified
    last_pass: str | None
    expires: str | None


def roster(records: Records, as_of: date, valid_days: int) -> list[RosterLine]:
    lines = []
    for officer in records.officers():
        passes = [r for r in records.qualifications(officer["badge"]) if r["passed"]]
        if not passes:
            lines.append(
                RosterLine(
                    officer["badge"],
                    officer["name"],
                    officer["agency"],
                    "not qualified",
                    None,
                    None,
                )
            )
            continue
        last = datetime.fromisoformat(passes[-1]["finished"]).date()
        expires = last + timedelta(days=valid_days)
        status = "qualified" if expires >= as_of else "expired"
        lines.append(
            RosterLine(
                officer["badge"],
                officer["name"],
                officer["agency"],
                status,
                last.isoformat(),
                expires.isoformat(),
            )
        )
    return lines


_STYLE = """body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:4px 10px;text-align:left}.qualified{color:#060}
.expired,.not{color:#a00}.hash{font-family:monospace;font-size:80%}"""


def roster_html(lines: list[RosterLine], as_of: date, valid_days: int) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(line.badge)}</td><td>{html.escape(line.name)}</td>"
        f"<td>{html.escape(line.agency)}</td><td class='{line.status.split()[0]}'>"
        f"{line.status}</td><td>{line.last_pass or '-'}</td><td>{line.expires or '-'}</td></tr>"
        for line in lines
    )
    return (
        f"<!doctype html><meta charset='utf-8'><title>Qualification roster</title>"
        f"<style>{_STYLE}</style><h1>Qualification roster</h1>"
        f"<p>As of {as_of.isoformat()}; a qualification is valid {valid_days} days.</p>"
        "<table><tr><th>Badge</th><th>Name</th><th>Agency</th><th>Status</th>"
        f"<th>Last qualified</th><th>Expires</th></tr>{rows}</table>\n"
    )


def certificate_fields(records: Records, qualification: int) -> dict[str, Any]:
    row = records.qualification(qualification)
    officer = records.officer(row["badge"])
    detail = json.loads(row["detail"])
    return {
        "record": row["id"],
        "officer": officer["name"],
        "badge": row["badge"],
        "agency": officer["agency"],
        "course": row["course"],
        "date": row["finished"],
        "result": "QUALIFIED" if row["passed"] else "NOT QUALIFIED",
        "score": f"{row['points']} of {row['max_points']} points, {row['hits']} hits",
        "stages": [(s["name"], s["points"], s["hits"]) for s in detail["score"].get("stages", [])],
        "hash": row["hash"],
        "prev_hash": row["prev_hash"],
    }


def certificate_html(fields: dict[str, Any]) -> str:
    stages = "".join(
        f"<tr><td>{html.escape(str(n))}</td><td>{p}</td><td>{h}</td></tr>"
        for n, p, h in fields["stages"]
    )
    return (
        f"<!doctype html><meta charset='utf-8'><title>Qualification certificate</title>"
        f"<style>{_STYLE}</style><h1>Qualification certificate</h1>"
        f"<p><b>{html.escape(fields['officer'])}</b>, badge {html.escape(fields['badge'])},"
        f" {html.escape(fields['agency'])}</p>"
        f"<p>Course {html.escape(fields['course'])}, {fields['date']}: "
        f"<b>{fields['result']}</b> ({fields['score']})</p>"
        f"<table><tr><th>Stage</th><th>Points</th><th>Hits</th></tr>{stages}</table>"
        f"<p>Record {fields['record']}; audit hash <span class='hash'>{fields['hash']}</span>"
        f" follows <span class='hash'>{fields['prev_hash']}</span>"
        " (check with <code>openrange records verify</code>).</p>\n"
    )


def write_pdf(path: Path, title: str, lines: list[str]) -> None:
    """A plain A4 page of text, drawn with matplotlib's PDF backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_page = 48
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        for start in range(0, max(len(lines), 1), per_page):
            fig = plt.figure(figsize=(8.27, 11.69))
            fig.text(0.08, 0.95, title, fontsize=16, weight="bold")
            for k, line in enumerate(lines[start : start + per_page]):
                fig.text(0.08, 0.91 - k * 0.018, line, fontsize=9, family="monospace")
            pdf.savefig(fig)
            plt.close(fig)
