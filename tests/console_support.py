"""Real console and lane processes on loopback for the console tests, an HTTP client that keeps
the session cookie (Secure cookies included: it is our own loopback server), and a headless
Chromium. Every process started here is stopped by the context managers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from drills.officer import find_officer
from drills.schema import read_drill_file
from range.console.auth import hash_password
from range.console.store import ConsoleStore, Role
from range.records.store import Records
from range.runs.drill import RunConfig, run_drill

PROJECT = Path(__file__).resolve().parent.parent
DRILL = PROJECT / "tests" / "data" / "console" / "branch.toml"
PASSWORD = "correct horse battery"  # every test account's password


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_accounts(db_url: str) -> str:
    """A range master, an instructor, an armorer and two officers (with records); returns the
    lane key."""
    with Records.open(db_url) as records:
        records.add_officer("B-101", "Alex Officer", "Metro PD")
        records.add_officer("B-202", "Sam Officer", "Metro PD")
    hashed = hash_password(PASSWORD)
    with ConsoleStore.open(db_url) as store:
        store.add_user("boss", Role.RANGE_MASTER, hashed, None)
        store.add_user("inst", Role.INSTRUCTOR, hashed, None)
        store.add_user("arm", Role.ARMORER, hashed, None)
        store.add_user("alex", Role.OFFICER, hashed, "B-101")
        store.add_user("sam", Role.OFFICER, hashed, "B-202")
        return store.secret("lane_key")


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def _spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    out = log.open("ab")
    popen = subprocess.Popen(
        [sys.executable, "-m", "range", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
    )
    out.close()
    return Proc(popen, log)


def start_console(port: int, db_url: str, log: Path) -> Proc:
    runs = log.parent / "console-runs"
    proc = _spawn(["console", "--port", str(port), "--db", db_url, "--runs-dir", str(runs)], log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.popen.poll() is not None:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.1)
    proc.stop()
    raise RuntimeError("the console did not start:\n" + log.read_text())


def start_lane(
    port: int,
    name: str,
    key: str,
    runs_dir: Path,
    log: Path,
    speed: str = "1",
    extra: tuple[str, ...] = (),
) -> Proc:
    return _spawn(
        [
            "lane",
            "--console",
            f"127.0.0.1:{port}",
            "--name",
            name,
            "--runs-dir",
            str(runs_dir),
            "--speed",
            speed,
            *extra,
        ],
        log,
        {"OPENRANGE_LANE_KEY": key},
    )


@contextmanager
def processes() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            proc.stop()


@dataclass
class Range:
    """A console on `port` over the records at `db_url`, and the lanes started for it (each
    with its runs and log under `tmp`); every process in `procs` is stopped with the range."""

    port: int
    db_url: str
    key: str
    tmp: Path
    procs: list[Proc]

    def client(self) -> Client:
        return Client(f"http://127.0.0.1:{self.port}")

    def console(self) -> Proc:
        proc = start_console(self.port, self.db_url, self.tmp / "console.log")
        self.procs.append(proc)
        return proc

    def lane(self, name: str, speed: str = "1", *extra: str) -> Proc:
        proc = start_lane(
            self.port,
            name,
            self.key,
            self.tmp / "runs" / name,
            self.tmp / f"{name}.log",
            speed,
            extra,
        )
        self.procs.append(proc)
        return proc


@contextmanager
def console_range(tmp_path: Path, db_url: str | None = None) -> Iterator[Range]:
    """A running console on a free port over `db_url` (default: a fresh SQLite file under
    `tmp_path`) seeded with seed_accounts(); it and its lanes are stopped on exit."""
    url = db_url or f"sqlite:///{tmp_path / 'records.sqlite'}"
    key = seed_accounts(url)
    with processes() as procs:
        r = Range(free_port(), url, key, tmp_path, procs)
        r.console()
        yield r


def rows_when_written(
    read: Callable[[], list[dict[str, Any]]], timeout_s: float = 10.0
) -> list[dict[str, Any]]:
    """`read()` again every 0.1 s until it returns rows or `timeout_s` pass; its last rows
    (empty when the console never wrote them)."""
    deadline = time.monotonic() + timeout_s
    rows: list[dict[str, Any]] = []
    while not rows and time.monotonic() < deadline:
        rows = read()
        time.sleep(0.1)
    return rows


def browser_login(browser: Any, port: int, name: str, timeout_s: float = 20.0) -> None:
    """Sign `name` in with PASSWORD on the login page of the console at `port` in a browser
    from chromium(); returns on the lanes page, TimeoutError after `timeout_s`."""
    from selenium.webdriver.common.by import By

    base = f"http://127.0.0.1:{port}"
    browser.get(base + "/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "submit").click()
    deadline = time.monotonic() + timeout_s
    while browser.current_url != base + "/":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} never reached the lanes page")
        time.sleep(0.05)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Reply:
    status: int
    headers: Any
    body: str

    @property
    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.body)
        assert found, self.body[:500]
        return found.group(1)


@dataclass
class Client:
    """A browser-like HTTP client: keeps the session cookie, never follows redirects."""

    base: str
    cookie: str = ""
    seen: list[str] = field(default_factory=list)  # every body and header, for secret checks

    def request(
        self, path: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        data = None if form is None else urlencode(form).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        if self.cookie:
            request.add_header("Cookie", self.cookie)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            response = opener.open(request, timeout=30)
        except urllib.error.HTTPError as exc:
            response = exc
        body = response.read().decode("utf-8", "replace")
        set_cookie = response.headers.get("set-cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";")[0]
        self.seen.append(str(response.headers) + body)
        return Reply(response.status, response.headers, body)

    def login(self, name: str, password: str = PASSWORD) -> Reply:
        csrf = self.request("/login").csrf
        return self.request("/login", {"csrf": csrf, "name": name, "password": password})

    def live(self, csrf: str) -> Any:
        from websockets.sync.client import connect

        return connect(
            self.base.replace("http", "ws") + f"/ws/live?csrf={csrf}",
            additional_headers={"Cookie": self.cookie, "Origin": self.base},
            open_timeout=5,
        )


def lane_page(client: Any, name: str, timeout_s: float = 30.0) -> Any:
    """The lane's page once the lane has connected (a lane process takes its time to start on
    a loaded machine: a fixed sleep raced it); fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        reply = client.request(f"/lanes/{name}")
        if reply.status == 200 or time.monotonic() > deadline:
            assert reply.status == 200, f"lane {name} never connected"
            return reply
        time.sleep(0.1)


def wait_for(ws: Any, want: Any, timeout_s: float = 30.0) -> dict[str, Any]:
    """The first message from the live socket for which `want(message)` is true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if want(message):
            return dict(message)
    raise TimeoutError("no such message")


def chromium() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1100,900",
        "--disable-gpu",
    ):
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def qualify(db_url: str, badge: str, points: int = 96) -> int:
    """A finished qualification attempt with two stages that add up to `points`."""
    with Records.open(db_url) as records:
        attempt = records.begin_attempt(
            badge,
            "fbi-pistol-2019-v1",
            7,
            "0.1.0",
            [{"model": "pistol", "serial": "P-0042"}],
            [{"serial": "P-0042", "calibrated": "2026-11-01"}],
        )
        stages = [
            {"name": "1", "points": points - 40, "hits": (points - 40) // 2},
            {"name": "2", "points": 40, "hits": 20},
        ]
        score = {
            "points": points,
            "max_points": 100,
            "hits": sum(s["hits"] for s in stages),
            "passed": points >= 80,
            "stages": stages,
        }
        return records.finish_attempt(attempt, score)


def saved_run(
    db_url: str,
    runs_dir: Path,
    badge: str,
    drill: str = str(DRILL),
    script: str = "traffic-stop-compliant-correct-v1",
    seed: int = 5,
) -> int:
    """A drill run played here (emulated replicas, scripted officer) and recorded for `badge`."""
    source = read_drill_file(drill)
    result = run_drill(
        RunConfig(
            source.drill,
            find_officer(script),
            seed=seed,
            runs_dir=runs_dir,
            drill_file=source,
            officer_name=badge,
        )
    )
    with Records.open(db_url) as records:
        return records.add_drill_run(badge, result.as_json())
