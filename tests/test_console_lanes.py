"""What a lane shows on the console beyond the map: the drill's phase graph drawn with the
current phase filled, and the lane's replicas (emulators on real ptys) with a pulled cable shown
live, from real lane processes."""

from __future__ import annotations

import re
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import (
    DRILL,
    Client,
    Range,
    browser_login,
    chromium,
    console_range,
    wait_for,
)
from test_console_replicas import Rack, until

from drills.schema import read_drill_file
from range.console.graph import phase_graph, phase_graph_svg
from range.runs.runlog import read_events

SVG = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]
NO_REPLICAS = (
    "None: this lane was started without --replica (its drills and courses use emulated replicas)."
)


@pytest.fixture
def rng(tmp_path: Path) -> Iterator[Range]:
    with console_range(tmp_path) as r:
        yield r


def _nodes(svg: str) -> dict[str, str]:
    """{phase: class} of every phase box in the SVG."""
    root = ET.fromstring(svg)
    return {
        g.attrib["data-phase"]: g.attrib["class"]
        for g in root.iter(f"{SVG}g")
        if g.attrib["class"].startswith("phase")
    }


def _edges(svg: str) -> list[tuple[str, str, str]]:
    root = ET.fromstring(svg)
    return [
        (g.attrib["data-from"], g.attrib["data-to"], "".join(g.itertext()))
        for g in root.iter(f"{SVG}g")
        if g.attrib["class"] == "edge"
    ]


def test_phase_graph_has_a_node_per_phase_and_an_arrow_per_transition() -> None:
    drill = read_drill_file(str(DRILL)).drill
    graph = phase_graph(drill)
    svg = phase_graph_svg(graph, ["approach"])
    assert _nodes(svg) == {"approach": "phase now", "halted": "phase", "done": "phase"}
    assert _edges(svg) == [
        ("approach", "halted", "button stop"),
        ("approach", "done", "after 8 s"),
        ("halted", "done", "after 2 s"),
    ]
    assert _nodes(phase_graph_svg(graph, ["halted"]))["halted"] == "phase now"
    assert "now" not in _nodes(phase_graph_svg(graph, ["halted"]))["approach"]


def test_phase_graph_of_every_builtin_drill_draws_every_phase() -> None:
    from drills.schema import builtin_drill_files

    for name in sorted(builtin_drill_files()):
        drill = read_drill_file(name).drill
        nodes = _nodes(phase_graph_svg(phase_graph(drill)))
        assert sorted(nodes) == sorted(p.id for p in drill.phases), name
        edges = _edges(phase_graph_svg(phase_graph(drill)))
        assert len(edges) == sum(len(p.transitions) for p in drill.phases), name


def _boxes(svg: str) -> tuple[dict[str, Box], list[tuple[str, Box]]]:
    """The phase boxes by phase, and each transition label's box, as drawn: each label measured
    in DejaVu Sans at the SVG's font size (the font the SVG names), centred on its x."""
    from matplotlib import font_manager
    from PIL import ImageFont

    root = ET.fromstring(svg)
    assert "DejaVu Sans" in root.attrib["font-family"]
    size = int(root.attrib["font-size"])
    font = ImageFont.truetype(
        font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans")), size
    )
    ascent, descent = font.getmetrics()
    nodes: dict[str, Box] = {}
    labels: list[tuple[str, Box]] = []
    for g in root.iter(f"{SVG}g"):
        if g.attrib["class"].startswith("phase"):
            r = g.find(f"{SVG}rect")
            assert r is not None
            x, y = float(r.attrib["x"]), float(r.attrib["y"])
            nodes[g.attrib["data-phase"]] = (
                x,
                y,
                x + float(r.attrib["width"]),
                y + float(r.attrib["height"]),
            )
        elif g.attrib["class"] == "edge":
            t = g.find(f"{SVG}text")
            assert t is not None and t.attrib["text-anchor"] == "middle" and t.text
            w = font.getlength(t.text)
            x, y = float(t.attrib["x"]), float(t.attrib["y"])
            labels.append((t.text, (x - w / 2, y - ascent, x + w / 2, y + descent)))
    return nodes, labels


def test_phase_graph_labels_collide_with_nothing_in_any_library_drill() -> None:
    # Issue 18 (f18c #1): on drills with several phases the transition labels were drawn on
    # top of one another (and of the phase boxes).
    from drills.schema import builtin_drill_files

    def overlap(a: Box, b: Box) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for name in sorted(builtin_drill_files()):
        svg = phase_graph_svg(phase_graph(read_drill_file(name).drill))
        nodes, labels = _boxes(svg)
        root = ET.fromstring(svg)
        width, height = float(root.attrib["width"]), float(root.attrib["height"])
        for i, (text, a) in enumerate(labels):
            assert a[0] >= 0 and a[1] >= 0 and a[2] <= width and a[3] <= height, (name, text)
            for other, b in labels[i + 1 :]:
                assert not overlap(a, b), (name, text, other)
            for phase, b in nodes.items():
                assert not overlap(a, b), (name, text, phase)


def _start(c: Client, csrf: str, lane: str, **args: str) -> None:
    form = {"csrf": csrf, "command": "start", **args}
    assert c.request(f"/lanes/{lane}/command", form).status == 303


def _state(ws: Any, lane: str, want: Any, timeout_s: float = 30.0) -> dict[str, Any]:
    return wait_for(
        ws,
        lambda m: m.get("lane") == lane and m.get("type") == "state" and want(m["state"]),
        timeout_s,
    )


def test_the_drawn_graph_follows_the_live_phase(rng: Range) -> None:
    rng.lane("L1")
    c = rng.client()
    c.login("inst")
    csrf = c.request("/").csrf
    with c.live(csrf) as ws:
        wait_for(ws, lambda m: m.get("lane") == "L1" and m.get("connected") is True)
        assert c.request("/lanes/L1/phases.svg").status == 404  # no drill yet
        # A lane started without --replica says so in one line of its replica table.
        rows = re.findall(
            r"<tbody><tr class=\"no-replicas\"><td colspan=\"6\">([^<]+)</td>",
            c.request("/lanes/L1").body,
        )
        assert rows == [NO_REPLICAS]
        _start(c, csrf, "L1", drill="x", drill_file=str(DRILL), badge="B-101", seed="3")
        _state(ws, "L1", lambda s: s.get("status") == "running" and s["t_s"] > 0.5)
        svg = c.request("/lanes/L1/phases.svg")
        assert svg.status == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert _nodes(svg.body) == {"approach": "phase now", "halted": "phase", "done": "phase"}
        stop = {"csrf": csrf, "command": "button", "button": "stop"}
        assert c.request("/lanes/L1/command", stop).status == 303
        _state(ws, "L1", lambda s: s["subjects"][0]["phase"] == "halted")
        assert _nodes(c.request("/lanes/L1/phases.svg").body) == {
            "approach": "phase",
            "halted": "phase now",
            "done": "phase",
        }
        c.request("/lanes/L1/command", {"csrf": csrf, "command": "abort"})
        _state(ws, "L1", lambda s: s.get("status") == "ended")
    time.sleep(0.2)
    # An officer's account cannot see a lane's graph; an anonymous request is sent to log in.
    officer = rng.client()
    officer.login("alex")
    assert officer.request("/lanes/L1/phases.svg").status == 403
    assert rng.client().request("/lanes/L1/phases.svg").status == 303


def _statuses(state: dict[str, Any]) -> dict[str, str]:
    return {r["serial"]: r["status"] for r in state.get("replicas", [])}


def _row(page: str, serial: str) -> str:
    found = re.search(f'<tr data-serial="{serial}" data-status="([a-z]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def test_a_lane_shows_its_replicas_and_a_pulled_cable_live(rng: Range) -> None:
    rack = Rack(rng.tmp / "ports")
    try:
        args = ["--replica-dir", str(rack.folder)]
        for port in rack.ports:
            args += ["--replica", port]
        rng.lane("L1", "max", *args)
        c = rng.client()
        c.login("inst")
        csrf = c.request("/").csrf
        with c.live(csrf) as ws:
            state = _state(
                ws, "L1", lambda s: all("loads" in r for r in s.get("replicas") or [{}])
            )["state"]
            assert _statuses(state) == {"T7-0007": "connected", "P-0042": "connected"}
            page = c.request("/lanes/L1").body
            assert _row(page, "P-0042") == "connected" and "no-replicas" not in page
            assert "bay 0: taser7-cq (2 probes)" in page

            rack.pistol.unplug()
            state = _state(ws, "L1", lambda s: _statuses(s).get("P-0042") == "unplugged")["state"]
            assert _statuses(state)["T7-0007"] == "connected"
            page = c.request("/lanes/L1").body
            assert _row(page, "P-0042") == "unplugged" and _row(page, "T7-0007") == "connected"
            assert "looking for it by serial number" in page

            # A run's frames carry the replicas too.
            _start(c, csrf, "L1", drill="x", drill_file=str(DRILL), seed="2")
            running = _state(ws, "L1", lambda s: s.get("status") == "running")["state"]
            assert _statuses(running)["P-0042"] == "unplugged"
            _state(ws, "L1", lambda s: s.get("status") == "ended", 60)
            rack.pistol.replug()
            _state(ws, "L1", lambda s: _statuses(s).get("P-0042") == "connected")
            assert _row(c.request("/lanes/L1").body, "P-0042") == "connected"
        if shutil.which("chromium") and shutil.which("chromedriver"):
            _browser_sees_the_unplug(rng, rack)
    finally:
        rack.stop()


def _browser_sees_the_unplug(rng: Range, rack: Rack) -> None:
    """In headless Chromium the replica table changes with no reload."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    browser = chromium()
    try:
        base = f"http://127.0.0.1:{rng.port}"
        browser_login(browser, rng.port, "inst")
        browser.get(base + "/lanes/L1")

        def status() -> str:
            """The pistol's status cell, "" while its row is being rebuilt."""
            try:
                cell = browser.find_element(
                    By.CSS_SELECTOR, '#replicas tr[data-serial="P-0042"] .replica-status'
                )
                return str(cell.text)
            except WebDriverException:
                return ""

        until(lambda: status() == "connected", 20)
        rack.pistol.unplug()
        until(lambda: status().startswith("unplugged ("), 20)
        rack.pistol.replug()
        until(lambda: status() == "connected", 20)
    finally:
        browser.quit()


def test_the_console_keeps_a_lanes_graph_until_a_state_without_phases() -> None:
    from range.console.app import LaneView

    lane = LaneView("L1")
    graph = phase_graph(read_drill_file(str(DRILL)).drill)
    lane.take_graph({"phases": ["approach"], "phase_graph": graph})
    lane.take_graph({"phases": ["approach"]})  # later frames of the run carry no graph
    assert lane.graph == graph
    lane.take_graph({"kind": "course", "status": "running"})
    assert lane.graph is None


@pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="needs Debian's chromium and chromium-driver (scripts/test.sh installs them)",
)
def test_the_browser_redraws_the_graph_when_the_phase_changes(rng: Range) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    # A long approach: the browser is up before the walker would stop on its own.
    drill = rng.tmp / "branch.toml"
    drill.write_text(
        DRILL.read_text()
        .replace("time_limit_s = 12.0", "time_limit_s = 60.0")
        .replace("after_s = 8.0", "after_s = 40.0")
    )
    rng.lane("L1")
    c = rng.client()
    c.login("inst")
    csrf = c.request("/").csrf
    browser = chromium()
    try:
        base = f"http://127.0.0.1:{rng.port}"
        browser_login(browser, rng.port, "inst")
        with c.live(csrf) as ws:
            wait_for(ws, lambda m: m.get("lane") == "L1" and m.get("connected") is True)
            _start(c, csrf, "L1", drill="x", drill_file=str(drill), seed="3")
            _state(ws, "L1", lambda s: s.get("status") == "running")
            browser.get(base + "/lanes/L1")

            def drawn(phase: str) -> bool:
                """The graph image loaded, asked for with `phase` as the current one."""
                try:
                    img = browser.find_element(By.ID, "phase-graph")
                    src = str(img.get_attribute("src"))
                    width = browser.execute_script("return arguments[0].naturalWidth", img)
                except WebDriverException:
                    return False
                return src.endswith("%7C" + phase) and bool(width)

            until(lambda: drawn("approach"), 20)
            stop = {"csrf": csrf, "command": "button", "button": "stop"}
            assert c.request("/lanes/L1/command", stop).status == 303
            until(lambda: drawn("halted"), 20)
            c.request("/lanes/L1/command", {"csrf": csrf, "command": "abort"})
            _state(ws, "L1", lambda s: s.get("status") == "ended")
    finally:
        browser.quit()


@pytest.mark.parametrize(
    ("drill", "presses", "phases"),
    [
        ("crisis-talk-down-v1", ((0.5, "escalates"),), ["distressed", "agitated"]),
        (
            "crisis-talk-down-v1",
            ((0.5, "calms"), (0.8, "relapses")),
            ["distressed", "calmer", "distressed"],
        ),
        ("domestic-knife-20ft-v1", ((2.0, "gives_up"),), ["shouting", "advance", "in_custody"]),
        ("domestic-knife-20ft-v1", ((2.0, "charges"),), ["shouting", "advance", "charge"]),
    ],
)
def test_library_drills_have_branch_buttons_that_steer_them(
    drill: str, presses: tuple[tuple[float, str], ...], phases: list[str], tmp_path: Path
) -> None:
    # Issue 18 (nu18 #6): no built-in drill had a branch button for the console to press.
    from drills.officer import find_officer
    from drills.schema import instructor_buttons, read_drill_file
    from range.runs.drill import RunConfig, run_drill

    source = read_drill_file(drill)
    assert {name for _, name in presses} <= set(instructor_buttons(source.drill))
    result = run_drill(
        RunConfig(
            source.drill,
            find_officer(source.drill.expected_officer or ""),
            seed=1,
            runs_dir=tmp_path,
            drill_file=source,
            instructor=presses,
        )
    )
    assert result.run_dir is not None
    entered = [r.data["phase"] for r in read_events(result.run_dir) if r.kind == "phase_entered"]
    assert entered[: len(phases)] == phases
