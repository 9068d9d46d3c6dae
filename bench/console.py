"""Instructor console benchmarks (issue 18), on loopback with a real console process.

    .venv/bin/python bench/console.py [--json]

1. Update latency: a real lane process runs a drill in real time and publishes its state after
   every engine frame, stamped with its monotonic clock; a browser's WebSocket client (logged in
   like a browser, same origin, CSRF token) receives it through the console and stamps it with
   the same clock. Timed: lane publish -> browser socket receive.
2. Eight lanes at 90 Hz: eight lane connections (threads here, each sending a real lane's state
   frame, re-stamped, 90 times a second) into one console with one browser watching; reported:
   the console process's CPU (user + system, /proc) as a percentage of one core, the rate the
   browser received, and the latency under that load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
DRILL = PROJECT / "tests" / "data" / "console" / "branch.toml"
PASSWORD = "bench password 123"
LANE_HZ = 90.0
LATENCY_TARGET_MS = 100.0  # issue 18: <= 100 ms p95 on loopback

Row = tuple[str, float, str, float, str]  # name, value, unit, target, "lower" | "higher"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Console:
    def __init__(self, folder: Path) -> None:
        from range.console.auth import hash_password
        from range.console.store import ConsoleStore, Role

        self.db = f"sqlite:///{folder / 'records.sqlite'}"
        with ConsoleStore.open(self.db) as store:
            store.add_user("bench", Role.INSTRUCTOR, hash_password(PASSWORD), None)
            self.key = store.secret("lane_key")
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (folder / "console.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "range",
                "console",
                "--port",
                str(self.port),
                "--db",
                self.db,
                "--runs-dir",
                str(folder / "console-runs"),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("the console did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def browser(self) -> Any:
        """A logged-in browser's live socket (session cookie, CSRF token, same origin)."""
        sys.path.insert(0, str(PROJECT / "tests"))
        from console_support import Client
        from websockets.sync.client import connect

        client = Client(self.base)
        client.login("bench", PASSWORD)
        csrf = client.request("/").csrf
        return client, connect(
            self.base.replace("http", "ws") + f"/ws/live?csrf={csrf}",
            additional_headers={"Cookie": client.cookie, "Origin": self.base},
            max_size=2**22,
        )


def _receive(ws: Any, until: float, latencies: list[float], count: list[int]) -> None:
    while time.monotonic() < until:
        try:
            raw = ws.recv(timeout=max(0.01, until - time.monotonic()))
        except TimeoutError:
            break
        now = time.monotonic()
        message = json.loads(raw)
        if message.get("type") == "state" and "sent_s" in message:
            latencies.append(now - message["sent_s"])
            count[0] += 1


def update_latency(console: _Console, folder: Path) -> list[Row]:
    """A real lane process, a real drill in real time: publish -> browser receive."""
    env = {**os.environ, "OPENRANGE_LANE_KEY": console.key}
    log = (folder / "lane.log").open("wb")
    lane = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "range",
            "lane",
            "--console",
            f"127.0.0.1:{console.port}",
            "--name",
            "BENCH1",
            "--runs-dir",
            str(folder / "runs"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=PROJECT,
        env=env,
    )
    latencies: list[float] = []
    count = [0]
    try:
        client, ws = console.browser()
        with ws:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                m = json.loads(ws.recv(timeout=20))
                if m.get("lane") == "BENCH1" and m.get("connected"):
                    break
            csrf = client.request("/lanes/BENCH1").csrf
            client.request(
                "/lanes/BENCH1/command",
                {
                    "csrf": csrf,
                    "command": "start",
                    "drill": "x",
                    "drill_file": str(DRILL),
                    "seed": "1",
                },
            )
            started = time.monotonic()
            _receive(ws, started + 7.0, latencies, count)
            elapsed = time.monotonic() - started
    finally:
        lane.send_signal(signal.SIGTERM)
        try:
            lane.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lane.kill()
            lane.wait()
        log.close()
    ms = np.array(latencies) * 1000
    rows: list[Row] = [
        (
            "console: lane frame -> browser, p95",
            float(np.percentile(ms, 95)),
            "ms",
            LATENCY_TARGET_MS,
            "lower",
        ),
        (
            "console: lane frame -> browser, p50 (info)",
            float(np.percentile(ms, 50)),
            "ms",
            0.0,
            "lower",
        ),
        ("console: frames received per s, 1 lane (info)", count[0] / elapsed, "Hz", 0.0, "higher"),
    ]
    return rows


def chromium_latency(console: _Console, folder: Path) -> list[Row]:
    """The same lane frames into a real headless Chromium on the lane's page: from the lane's
    publish to the page's handler having drawn the map (wall clock on both sides; one machine)."""
    import shutil

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return []
    sys.path.insert(0, str(PROJECT / "tests"))
    from console_support import Client, chromium
    from selenium.webdriver.common.by import By

    env = {**os.environ, "OPENRANGE_LANE_KEY": console.key}
    log = (folder / "lane2.log").open("wb")
    lane = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "range",
            "lane",
            "--console",
            f"127.0.0.1:{console.port}",
            "--name",
            "BENCH2",
            "--runs-dir",
            str(folder / "runs2"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=PROJECT,
        env=env,
    )
    browser = chromium()
    try:
        browser.get(console.base + "/login")
        browser.find_element(By.ID, "name").send_keys("bench")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "submit").click()
        deadline = time.monotonic() + 20
        while "BENCH2" not in browser.page_source and time.monotonic() < deadline:
            browser.get(console.base + "/")
            time.sleep(0.3)
        browser.get(console.base + "/lanes/BENCH2")
        browser.execute_script(
            "window.lat = []; window.openrangeProbe = (m) =>"
            " window.lat.push(Date.now() - m.sent_unix_ms);"
        )
        client = Client(console.base)
        client.login("bench", PASSWORD)
        csrf = client.request("/lanes/BENCH2").csrf
        client.request(
            "/lanes/BENCH2/command",
            {"csrf": csrf, "command": "start", "drill": "x", "drill_file": str(DRILL), "seed": "1"},
        )
        time.sleep(7.0)
        ms = np.array(browser.execute_script("return window.lat"), dtype=float)
    finally:
        browser.quit()
        lane.send_signal(signal.SIGTERM)
        try:
            lane.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lane.kill()
            lane.wait()
        log.close()
    return [
        (
            "console: lane frame -> Chromium page drawn, p95",
            float(np.percentile(ms, 95)),
            "ms",
            LATENCY_TARGET_MS,
            "lower",
        ),
        ("console: frames drawn per s in Chromium (info)", len(ms) / 7.0, "Hz", 0.0, "higher"),
    ]


def eight_lanes(console: _Console, seconds: float = 8.0, lanes: int = 8) -> list[Row]:
    """Eight lane connections at 90 Hz into one console; its CPU, the browser's rate and
    latency under load."""
    from drills.engine import DrillEngine
    from drills.log import MemoryLog
    from drills.schema import read_drill_file
    from range.console.protocol import lane_state

    drill = read_drill_file(str(DRILL)).drill
    engine = DrillEngine(drill, np.random.default_rng(1), MemoryLog())
    engine.start()
    state = lane_state(engine, (0.0, 0.0), {"drill": drill.id, "officer_name": "B-1", "seed": 1})
    # The lanes run in a process of their own, so the browser here does not share their GIL.
    stop = multiprocessing.Event()
    senders = multiprocessing.Process(
        target=_senders, args=(console.port, console.key, state, lanes, stop), daemon=True
    )
    _, ws = console.browser()
    latencies: list[float] = []
    count = [0]
    with ws:
        senders.start()
        _receive(ws, time.monotonic() + 1.0, [], [0])  # connected and steady (read, dropped)
        cpu0, wall0 = _cpu_s(console.proc.pid), time.monotonic()
        _receive(ws, wall0 + seconds, latencies, count)
        cpu1, wall1 = _cpu_s(console.proc.pid), time.monotonic()
        stop.set()
    senders.join(timeout=10)
    ms = np.array(latencies) * 1000
    return [
        (
            f"console CPU, {lanes} lanes x {LANE_HZ:.0f} Hz, 1 browser (info)",
            100 * (cpu1 - cpu0) / (wall1 - wall0),
            "%",
            0.0,
            "lower",
        ),
        (
            f"console: frames to the browser per s, {lanes} lanes (info)",
            count[0] / (wall1 - wall0),
            "Hz",
            0.0,
            "higher",
        ),
        (
            f"console: lane frame -> browser p95, {lanes} lanes",
            float(np.percentile(ms, 95)),
            "ms",
            LATENCY_TARGET_MS,
            "lower",
        ),
    ]


def _senders(port: int, key: str, state: dict[str, Any], lanes: int, stop: Any) -> None:
    from websockets.sync.client import connect

    def lane(n: int) -> None:
        with connect(f"ws://127.0.0.1:{port}/ws/lane") as ws:
            hello = {
                "type": "hello",
                "lane": f"L{n}",
                "key": key,
                "state": state,
                "events": [],
                "finished": [],
            }
            ws.send(json.dumps(hello))
            seq = 0
            next_s = time.monotonic()
            while not stop.is_set():
                seq += 1
                frame = {
                    "type": "state",
                    "lane": f"L{n}",
                    "sent_s": time.monotonic(),
                    "seq": seq,
                    "state": state,
                    "events": [],
                }
                ws.send(json.dumps(frame))
                next_s += 1 / LANE_HZ
                pause = next_s - time.monotonic()
                if pause > 0:
                    time.sleep(pause)

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(lanes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def console_figures() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="or-bench-console-") as name:
        folder = Path(name)
        console = _Console(folder)
        try:
            rows = update_latency(console, folder)
            rows += chromium_latency(console, folder)
            rows += eight_lanes(console)
        finally:
            console.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = console_figures()
    if args.json:
        print(
            json.dumps(
                [
                    dict(zip(("name", "value", "unit", "target", "better"), r, strict=True))
                    for r in rows
                ],
                indent=2,
            )
        )
        return 0
    for name, value, unit, target, better in rows:
        if name.endswith("(info)"):
            print(f"{name:<58} {value:>9.2f} {unit}")
        else:
            ok = value <= target if better == "lower" else value >= target
            print(
                f"{name:<58} {value:>9.2f} {unit}  <= {target:.0f} {unit}  "
                f"{'ok' if ok else 'MISSED'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
