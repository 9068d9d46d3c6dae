"""The drill's phase graph drawn as SVG on the server: one box per phase, one arrow per
transition labelled with its trigger, the phases the subjects are in now filled.

The graph travels from the lane as plain JSON (`phase_graph`: in the first state frame of a run
and in every hello, not in every frame), so the console draws it without reading the drill file,
which may sit on another machine. Layout: one band of rows per
subject; a phase's column is its distance (in transitions) from the subject's start phase, so a
drill reads left to right; arrows back or within a column curve below.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from drills.schema import Drill, Transition

NODE_H = 28
ROW_GAP = 22
COL_GAP = 70
MARGIN = 16
CHAR_W = 7.0  # an average glyph of the 12 px sans-serif below
FILL, FILL_NOW, FILL_END = "#eef", "#fc3", "#ddd"


def trigger_label(t: Transition) -> str:
    """What fires a transition, as an instructor reads it."""
    if t.instructor is not None:
        label = f"button {t.instructor}"
    elif t.after_s is not None:
        label = f"after {t.after_s:g} s"
    elif t.within_ft is not None:
        label = f"within {t.within_ft:g} ft"
    elif t.beyond_ft is not None:
        label = f"beyond {t.beyond_ft:g} ft"
    else:
        label = f"on {t.on}"
    if t.chance < 1.0:
        label += f" ({t.chance:.0%})"
    return label


def phase_graph(drill: Drill) -> dict[str, Any]:
    """The drill's phases and transitions as JSON: {"phases": [{"id", "subject", "ends"}],
    "edges": [{"from", "to", "label"}], "starts": {subject: phase}}."""
    return {
        "phases": [{"id": p.id, "subject": p.subject, "ends": p.ends_drill} for p in drill.phases],
        "edges": [
            {"from": p.id, "to": t.to, "label": trigger_label(t)}
            for p in drill.phases
            for t in p.transitions
        ],
        "starts": {s.id: s.start_phase for s in drill.subjects},
    }


def _layout(graph: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(column, row) of each phase: breadth first from each subject's start phase; phases no
    transition reaches go one column past the last."""
    edges: dict[str, list[str]] = {}
    for e in graph["edges"]:
        edges.setdefault(e["from"], []).append(e["to"])
    subjects: list[str] = []
    for p in graph["phases"]:
        if p["subject"] not in subjects:
            subjects.append(p["subject"])
    place: dict[str, tuple[int, int]] = {}
    row0 = 0
    for subject in subjects:
        mine = [p["id"] for p in graph["phases"] if p["subject"] == subject]
        column: dict[str, int] = {}
        start = graph["starts"].get(subject)
        frontier = [start] if start in mine else []
        if frontier:
            column[start] = 0
        while frontier:
            nxt = []
            for pid in frontier:
                for to in edges.get(pid, []):
                    if to in mine and to not in column:
                        column[to] = column[pid] + 1
                        nxt.append(to)
            frontier = nxt
        last = max(column.values(), default=-1)
        for pid in mine:
            column.setdefault(pid, last + 1)
        rows: dict[int, int] = {}
        for pid in mine:
            c = column[pid]
            place[pid] = (c, row0 + rows.get(c, 0))
            rows[c] = rows.get(c, 0) + 1
        row0 += max(rows.values(), default=0)
    return place


def phase_graph_svg(graph: dict[str, Any], current: Iterable[str] = ()) -> str:
    """The graph as a standalone SVG document; each phase a `<g class="phase">` (`"phase now"`
    for those in `current`) with `data-phase`, each transition a `<g class="edge">`."""
    now = set(current)
    place = _layout(graph)
    width = max((len(p["id"]) * CHAR_W + 20 for p in graph["phases"]), default=80.0)
    width = max(width, 80.0)

    def box(pid: str) -> tuple[float, float]:
        col, row = place[pid]
        return MARGIN + col * (width + COL_GAP), MARGIN + row * (NODE_H + ROW_GAP)

    cols = max((c for c, _ in place.values()), default=0) + 1
    rows = max((r for _, r in place.values()), default=0) + 1
    w_px = 2 * MARGIN + cols * width + (cols - 1) * COL_GAP
    h_px = 2 * MARGIN + rows * (NODE_H + ROW_GAP) + NODE_H  # room below for curved arrows
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="phase-graph" width="{w_px:.0f}"'
        f' height="{h_px:.0f}" viewBox="0 0 {w_px:.0f} {h_px:.0f}"'
        ' font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#444"/>'
        "</marker></defs>",
    ]
    for e in graph["edges"]:
        if e["from"] not in place or e["to"] not in place:
            continue
        (x1, y1), (x2, y2) = box(e["from"]), box(e["to"])
        label = escape(e["label"])
        if x2 > x1:
            ax, ay, bx, by = x1 + width, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
            d = f"M{ax:.1f} {ay:.1f}L{bx:.1f} {by:.1f}"
            lx, ly = (ax + bx) / 2, (ay + by) / 2 - 4
        else:  # back or within a column: a curve under the boxes
            ax, ay = x1 + width / 2, y1 + NODE_H
            bx, by = x2 + width / 2, y2 + NODE_H
            cy = max(ay, by) + NODE_H + ROW_GAP / 2
            d = f"M{ax:.1f} {ay:.1f}Q{(ax + bx) / 2:.1f} {cy:.1f} {bx:.1f} {by:.1f}"
            lx, ly = (ax + bx) / 2, cy - 2
        out.append(
            f'<g class="edge" data-from="{escape(e["from"])}" data-to="{escape(e["to"])}">'
            f'<path d="{d}" fill="none" stroke="#444" marker-end="url(#arrow)"/>'
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="#333">{label}</text></g>'
        )
    for p in graph["phases"]:
        x, y = box(p["id"])
        live = p["id"] in now
        fill = FILL_NOW if live else (FILL_END if p["ends"] else FILL)
        stroke = ' stroke-width="3"' if live else ""
        pid = escape(p["id"])
        out.append(
            f'<g class="phase{" now" if live else ""}" data-phase="{pid}"'
            f' data-subject="{escape(p["subject"])}">'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{NODE_H}" rx="6"'
            f' fill="{fill}" stroke="#224"{stroke}/>'
            f'<text x="{x + width / 2:.1f}" y="{y + NODE_H / 2 + 4:.1f}" text-anchor="middle">'
            f"{pid}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)
