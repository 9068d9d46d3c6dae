"""The drill's phase graph drawn as SVG on the server: one box per phase, one arrow per
transition labelled with its trigger, the phases the subjects are in now filled.

The graph travels from the lane as plain JSON (`phase_graph`: in the first state frame of a run
and in every hello, not in every frame), so the console draws it without reading the drill file,
which may sit on another machine. Layout: one band of rows per
subject; a phase's column is its distance (in transitions) from the subject's start phase, so a
drill reads left to right; arrows back or within a column go around the boxes, through
the gaps between columns and rows, so no arrow crosses a box. Labels are measured in
the font the SVG names (DejaVu Sans, matplotlib's own copy) and placed so that none overlaps
another or a phase box: each is tried at points along its own arrow, the middle first, and
only when none is free moved straight below (or above), clear of both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from functools import lru_cache
from html import escape
from typing import Any

from drills.schema import Drill, Transition

NODE_H = 28
ROW_GAP = 22
COL_GAP = 70  # at least; wider when a label between two columns needs it
MARGIN = 16
FONT = "DejaVu Sans"  # named in the SVG, so the browser draws with the font measured here
FONT_PX = 12
LABEL_ASCENT, LABEL_DESCENT = 12.0, 3.0  # the font's at 12 px (PIL getmetrics)
LABEL_GAP = 2.0  # above and below a label, clear of what it must not touch
LABEL_GAP_X = 8.0  # beside it: two labels on one line must not read as one
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


@lru_cache(maxsize=1)
def _font() -> Any:
    from matplotlib import font_manager
    from PIL import ImageFont

    path = font_manager.findfont(font_manager.FontProperties(family=FONT))
    return ImageFont.truetype(path, FONT_PX)


@lru_cache(maxsize=1024)
def text_width(text: str) -> float:
    """`text`'s width in px at FONT_PX in FONT, as the browser draws the SVG's labels."""
    return float(_font().getlength(text))


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_box(x: float, y: float, text: str) -> Box:
    """The box of a label drawn centred on `x` with its baseline at `y`."""
    w = text_width(text)
    return (x - w / 2, y - LABEL_ASCENT, x + w / 2, y + LABEL_DESCENT)


def _place_label(
    spots: list[tuple[float, float]], text: str, taken: list[Box], x_min: float
) -> Box:
    """Where `text` goes: the first of `spots` (points along its arrow, the middle first) where
    it is clear of every box in `taken` (by LABEL_GAP_X beside, LABEL_GAP above and below),
    else the nearest spot straight below (then above) the first; never left of `x_min`."""
    w = text_width(text)
    g = LABEL_GAP

    def free(x: float, y: float) -> Box | None:
        box = label_box(max(x, x_min + w / 2), y, text)
        padded = (box[0] - LABEL_GAP_X, box[1] - g, box[2] + LABEL_GAP_X, box[3] + g)
        ok = box[1] >= 0 and not any(_overlaps(padded, t) for t in taken)
        return box if ok else None

    for x, y in spots:
        if (box := free(x, y)) is not None:
            return box
    x, y = spots[0]
    step = LABEL_ASCENT + LABEL_DESCENT + LABEL_GAP
    for k in range(1, 200):
        for dy in (k * step, -k * step):
            if (box := free(x, y + dy)) is not None:
                return box
    return label_box(max(x, x_min + w / 2), y, text)


# Where along its arrow a label is tried: the middle, then out towards either end.
ALONG = (0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8)


# How far into a gap between columns an arrow that goes around the boxes runs (the first;
# each later one through the same gap a step further, so they do not draw over each other).
AROUND_PX, AROUND_STEP_PX = 14.0, 8.0


def _around(
    start: tuple[int, int],
    start_xy: tuple[float, float],
    end: tuple[int, int],
    end_xy: tuple[float, float],
    width: float,
    col_gap: float,
    lanes: dict[int, int],
) -> list[tuple[float, float]]:
    """The corners of an arrow back or within a column, drawn only through the gaps between
    boxes (no phase's box lies in a gap), so it crosses none; `start` and `end` are (column,
    row), `*_xy` their boxes' top left corners:

    - within a column: out of the source's right side, down or up the gap right of the
      column, into the target's right side (a phase's arrow to itself: a small loop there);
    - back to an earlier column: out of the source's left side, through the gap left of its
      column to the row gap below the lower of the two rows, along it, and up or down the gap
      right of the target's column into the target's right side."""
    (c1, r1), (x1, y1) = start, start_xy
    (c2, r2), (x2, y2) = end, end_xy
    ya, yb = y1 + NODE_H / 2, y2 + NODE_H / 2

    def into(gap: int) -> float:
        """How far into the gap right of column `gap` this arrow runs."""
        n = lanes.get(gap, 0)
        lanes[gap] = n + 1
        return min(AROUND_PX + n * AROUND_STEP_PX, col_gap / 2 - 4)

    if c1 == c2:
        xr = x1 + width
        k = into(c1)
        if r1 == r2:
            ya, yb = ya - 6, ya + 6
        return [(xr, ya), (xr + k, ya), (xr + k, yb), (xr, yb)]
    gap_left = x1 - into(c1 - 1)  # the gap left of column c1 is the one right of c1 - 1
    gap_right = x2 + width + into(c2)
    channel = _row_gap_y(max(r1, r2))
    return [
        (x1, ya),
        (gap_left, ya),
        (gap_left, channel),
        (gap_right, channel),
        (gap_right, yb),
        (x2 + width, yb),
    ]


def _row_gap_y(row: int) -> float:
    """The middle of the gap below `row` (no box lies in it)."""
    return MARGIN + row * (NODE_H + ROW_GAP) + NODE_H + ROW_GAP / 2


def _spots_along(points: list[tuple[float, float]], text: str) -> list[tuple[float, float]]:
    """Label spots on an arrow around the boxes: along its longest horizontal run (in the row
    gap, where a label's height fits), else just right of its vertical run."""
    runs = list(itertools.pairwise(points))
    flat = [(a, b) for a, b in runs if abs(a[1] - b[1]) < 1e-6 and abs(a[0] - b[0]) > 1]
    if flat:
        a, b = max(flat, key=lambda r: abs(r[1][0] - r[0][0]))
        y = a[1] + (LABEL_ASCENT - LABEL_DESCENT) / 2
        return [(a[0] + f * (b[0] - a[0]), y) for f in ALONG]
    a, b = max(runs, key=lambda r: abs(r[1][1] - r[0][1]))
    x = a[0] + LABEL_GAP_X + text_width(text) / 2
    return [(x, a[1] + f * (b[1] - a[1]) + LABEL_ASCENT / 2) for f in ALONG]


def phase_graph_svg(graph: dict[str, Any], current: Iterable[str] = ()) -> str:
    """The graph as a standalone SVG document; each phase a `<g class="phase">` (`"phase now"`
    for those in `current`) with `data-phase`, each transition a `<g class="edge">`."""
    now = set(current)
    place = _layout(graph)
    width = max((text_width(p["id"]) + 20 for p in graph["phases"]), default=80.0)
    width = max(width, 80.0)
    drawn = [e for e in graph["edges"] if e["from"] in place and e["to"] in place]
    # Columns far enough apart for the widest label of an arrow between them.
    widest = max(
        (text_width(e["label"]) for e in drawn if place[e["to"]][0] > place[e["from"]][0]),
        default=0.0,
    )
    col_gap = max(float(COL_GAP), widest + 4 * LABEL_GAP + 10)

    def box(pid: str) -> tuple[float, float]:
        col, row = place[pid]
        return MARGIN + col * (width + col_gap), MARGIN + row * (NODE_H + ROW_GAP)

    cols = max((c for c, _ in place.values()), default=0) + 1
    rows = max((r for _, r in place.values()), default=0) + 1
    w_px = 2 * MARGIN + cols * width + (cols - 1) * col_gap
    h_px = 2.0 * MARGIN + rows * (NODE_H + ROW_GAP) + NODE_H  # room below for curved arrows
    # Every phase box is taken before any label is placed.
    taken: list[Box] = []
    for p in graph["phases"]:
        x, y = box(p["id"])
        taken.append((x, y, x + width, y + NODE_H))
    edges = []
    lanes: dict[int, int] = {}  # arrows already routed through the gap right of each column
    for e in drawn:
        (x1, y1), (x2, y2) = box(e["from"]), box(e["to"])
        if x2 > x1:
            ax, ay, bx, by = x1 + width, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
            d = f"M{ax:.1f} {ay:.1f}L{bx:.1f} {by:.1f}"
            spots = [(ax + f * (bx - ax), ay + f * (by - ay) - 4) for f in ALONG]
        else:  # back or within a column: around the boxes, through the gaps between them
            points = _around(
                place[e["from"]], (x1, y1), place[e["to"]], (x2, y2), width, col_gap, lanes
            )
            d = "M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in points)
            spots = _spots_along(points, e["label"])
            if place[e["from"]][0] == place[e["to"]][0]:
                # Within a column: first in the row gaps between the two boxes, under the
                # column's middle, where the arrow's own rows are.
                r1, r2 = sorted((place[e["from"]][1], place[e["to"]][1]))
                middle = x1 + width / 2
                spots = [
                    (middle, _row_gap_y(r) + (LABEL_ASCENT - LABEL_DESCENT) / 2)
                    for r in range(r1, r2)
                ] + spots
        placed = _place_label(spots, e["label"], taken, MARGIN / 2)
        taken.append(placed)
        w_px = max(w_px, placed[2] + MARGIN / 2)
        h_px = max(h_px, placed[3] + MARGIN / 2)
        edges.append((e, d, (placed[0] + placed[2]) / 2, placed[1] + LABEL_ASCENT))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="phase-graph" width="{w_px:.0f}"'
        f' height="{h_px:.0f}" viewBox="0 0 {w_px:.0f} {h_px:.0f}"'
        f' font-family="\'{FONT}\', sans-serif" font-size="{FONT_PX}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#444"/>'
        "</marker></defs>",
    ]
    for e, d, lx, ly in edges:
        label = escape(e["label"])
        # A white halo under the label: an arrow it sits on does not strike it through.
        out.append(
            f'<g class="edge" data-from="{escape(e["from"])}" data-to="{escape(e["to"])}">'
            f'<path d="{d}" fill="none" stroke="#444" marker-end="url(#arrow)"/>'
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="#333"'
            f' stroke="#fff" stroke-width="3" paint-order="stroke">{label}</text></g>'
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
