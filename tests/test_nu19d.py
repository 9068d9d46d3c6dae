"""nu19's defects in the HTML report and the traffic stops (issue 19): the Timeline lists what
the officer said and "What was heard" explains a scripted officer's commands (#6); the map
draws every person, still or not, in the legend's colour, the car, and a legend entry for every
marker (#7); the traffic stops' words agree with their scene (#7, drill content)."""

from __future__ import annotations

import html
import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from test_rules import phase, rec, say, spoke
from test_speech_corrections import write_run

from drills.log import LogRecord
from drills.officer import builtin_officers
from drills.schema import builtin_drills
from physics.props import prop_parts
from range.cli.main import main

FT_M = 0.3048


def _started(drill: str, subjects: dict[str, tuple[float, float]]) -> LogRecord:
    return rec(
        0.0,
        "run_started",
        log_format=1,
        drill=drill,
        dt_s=0.1,
        subjects={
            name: {"role": "subject", "held_object": "none", "start_m": list(at)}
            for name, at in subjects.items()
        },
        cover=[],
        weapons=["taser", "firearm"],
    )


def _section(page: str, title: str) -> str:
    start = page.index(f"<h2>{title}</h2>")
    end = page.find("<h2>", start + 1)
    return page[start : end if end > 0 else len(page)]


def test_the_report_timeline_lists_the_officer_s_words_and_their_act(tmp_path: Path) -> None:
    # nu19 #6: a talk-down's Timeline listed the phase change at 5.34 s but not the officer's
    # words that caused it (the console's debrief lists them).
    from range.review.report import write_report

    records = [
        _started("crisis-talk-down-v1", {"person": (4.0, 0.0)}),
        phase(0.0, "passive_resistance", subject="person"),
        spoke(0.9, "rapport.time", "take your time"),
        spoke(2.2, "rapport.name", "what's your name"),
        phase(5.34, "passive_resistance", subject="person"),
        rec(30.0, "run_ended", state="completed", reason="time limit"),
    ]
    run = write_run(tmp_path / "run", records)
    argv = ["speech", "correct", str(run), "--at", "2.0", "--act", "rapport.help", "--by", "Lee"]
    assert main(argv) == 0
    timeline = _section(write_report(run).read_text(encoding="utf-8"), "Timeline")
    rows = re.findall(r"<tr><td>([\d.]+) s</td><td>(\w+)</td><td>([^<]*)</td></tr>", timeline)
    assert [(t, kind) for t, kind, _ in rows] == [
        ("0.00", "phase_entered"),
        ("0.90", "officer_spoke"),
        ("2.20", "officer_spoke"),
        ("5.34", "phase_entered"),
        ("30.00", "run_ended"),
    ]
    assert html.unescape(rows[1][2]) == "act=rapport.time, text=take your time"
    said = html.unescape(rows[2][2])
    assert said == "act=rapport.name, text=what's your name (corrected to rapport.help by Lee)"


def test_the_report_says_a_scripted_officer_s_commands_are_counted_not_recorded(
    tmp_path: Path,
) -> None:
    # nu19 #6: "What was heard" said "No speech was heard" while `score` counted the scripted
    # officer's command as identify and command.drop_weapon.
    from range.review.report import write_report

    records = [
        _started("knife-approach-v1", {"subject": (6.0, 0.0)}),
        phase(0.0, "active_resistance", subject="subject"),
        say(0.5, "Police! Drop the knife!"),
        rec(3.0, "run_ended", state="completed", reason="time limit"),
    ]
    heard = _section(
        write_report(write_run(tmp_path / "run", records)).read_text(), "What was heard"
    )
    assert "No speech was heard" not in heard
    row = "<tr><td>0.50 s</td><td>Police! Drop the knife!</td><td>identify, command.drop_weapon"
    assert row in heard and "<td>scripted officer</td>" in heard
    assert "not a recording" in heard and "nothing for <code>openrange speech correct" in heard


# The map: two subjects and an officer who never move, one who does, a car, every impact.
STILL = {"officer": (0.0, 0.0), "companion": (5.5, -1.2), "gunman": (5.5, 1.5)}
STRIKE = (15.0, 3.9, 1.0)


def _map_log() -> tuple[list[LogRecord], list[Any]]:
    records = [_started("two-subjects-one-armed-v1", {"companion": STILL["companion"]})]
    for k in range(5):
        subjects = {
            "companion": list(STILL["companion"]),
            "gunman": list(STILL["gunman"]),
            "runner": [8.0 + k, 2.5],
        }
        records.append(
            LogRecord(k * 0.1, "positions", {"officer": [0.0, 0.0], "subjects": subjects})
        )
    records += [
        LogRecord(1.0, "probe_impacts", {"impacts": [{"point": [5.5, -1.0, 1.2]}]}),
        LogRecord(1.5, "bullet_impact", {"point": [5.4, 1.5, 1.3]}),
        LogRecord(1.5, "bullet_strike", {"point": list(STRIKE)}),
    ]
    (car,) = builtin_drills()["traffic-stop-handgun-v1"].scene.props
    parts = prop_parts("car", car.name, car.x_ft * FT_M, car.y_ft * FT_M)
    return records, parts


def _near(pixel: np.ndarray[Any, Any], colour: str, tolerance: float = 0.08) -> bool:
    return bool(np.abs(pixel[:3] - np.array(to_rgb(colour))).max() <= tolerance)


def test_the_map_draws_every_person_the_car_and_explains_every_mark() -> None:
    # nu19 #7: an officer who never moved was not drawn, still subjects' dots took colours the
    # legend gave nobody, the car was missing and the pass-through strike's + unexplained.
    import matplotlib.pyplot as plt

    from range.review.report import PROP_COLOUR, _map, _map_figure

    records, parts = _map_log()
    fig = _map_figure(records, props=parts)
    ax = fig.axes[0]
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba(), dtype=float) / 255.0  # type: ignore[attr-defined]

    def pixel(x: float, y: float) -> np.ndarray[Any, Any]:
        px, py = ax.transData.transform((x, y))
        return image[image.shape[0] - round(py), round(px)]

    legend = ax.get_legend()
    assert legend is not None
    entries = {
        text.get_text(): handle
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True)
    }
    lines = {label: h for label, h in entries.items() if isinstance(h, Line2D)}
    colour = {label.split(" (")[0]: str(h.get_color()) for label, h in lines.items()}
    # Each still person a dot at his place, in his legend entry's colour, the legend saying so.
    for name, (x, y) in STILL.items():
        assert f"{name} (did not move)" in entries
        assert _near(pixel(x, y), colour[name]), (name, pixel(x, y), colour[name])
    assert len({colour[n] for n in ("companion", "gunman", "runner")}) == 3
    assert _near(pixel(12.0, 2.5), colour["runner"])  # where the runner ended
    # The car where its boxes are: its boot and its bonnet; the legend names it.
    assert _near(pixel(0.3, -2.4), PROP_COLOUR) and _near(pixel(4.2, -2.4), PROP_COLOUR)
    assert "stopped car" in entries
    # Every mark drawn has a legend entry with its symbol and colour.
    keyed = {(h.get_marker(), to_rgb(str(h.get_color()))) for h in lines.values()}
    drawn = {
        (line.get_marker(), to_rgb(str(line.get_color())))
        for line in ax.get_lines()
        if line.get_marker() not in ("None", None, "")
    }
    assert drawn <= keyed and ("+", to_rgb("red")) in drawn
    assert "round's strike after going through" in entries and "TASER probe" in entries
    # The strike on the side wall is inside the picture, not cut by its edge.
    assert ax.get_ylim()[1] > STRIKE[1] + 0.2
    plt.close(fig)
    # The page's picture itself holds the car's and each still subject's colour.
    import base64

    import matplotlib.image

    url = _map(records, props=parts)
    png = matplotlib.image.imread(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    for name in ("companion", "gunman"):
        assert np.sum(np.abs(png[..., :3] - to_rgb(colour[name])).max(axis=-1) < 0.05) > 20
    assert np.sum(np.abs(png[..., :3] - to_rgb(PROP_COLOUR)).max(axis=-1) < 0.05) > 2000


TRAFFIC_STOPS = ("traffic-stop-compliant-v1", "traffic-stop-wallet-v1", "traffic-stop-handgun-v1")


@pytest.mark.parametrize("drill_id", TRAFFIC_STOPS)
def test_a_traffic_stop_s_words_agree_with_its_scene(drill_id: str) -> None:
    # nu19 #7: the drills called the driver "seated" while he stands outside the car, and the
    # officer's "engine block" was a free box mid-lane, not the car's.
    drill = builtin_drills()[drill_id]
    (car,) = [p for p in drill.scene.props if p.kind == "car"]
    yaw = math.radians(car.yaw_deg)
    parts = {p.name: p for p in prop_parts("car", car.name, car.x_ft * FT_M, car.y_ft * FT_M, yaw)}

    def in_part(x: float, y: float, name: str) -> bool:
        part = parts[name]
        dx, dy = x - part.centre[0], y - part.centre[1]
        u = dx * math.cos(yaw) + dy * math.sin(yaw)
        v = -dx * math.sin(yaw) + dy * math.cos(yaw)
        return abs(u) <= part.half[0] and abs(v) <= part.half[1]

    (driver,) = drill.subjects
    x, y = driver.start_distance_ft * FT_M, driver.lateral_ft * FT_M
    in_cabin = abs(x - car.x_ft * FT_M) < 1.0 and abs(y - car.y_ft * FT_M) < 0.925
    seated = [p.id for p in drill.phases if "seat" in p.id]
    assert in_cabin or not seated, f"{drill_id}: a {seated} driver stands outside the car"
    # An "engine block" the officer is told of is the car's, where the car's engine block is.
    officer = builtin_officers()[drill.expected_officer or ""]
    words = " ".join([drill.rationale, drill.expected_response, officer.description]).lower()
    for cover in drill.scene.cover:
        if "engine" in cover.name.lower():
            assert in_part(cover.x_ft * FT_M, cover.y_ft * FT_M, "engine_block"), cover.name
    if "engine block" in words:
        assert any("engine" in c.name.lower() for c in drill.scene.cover), words
