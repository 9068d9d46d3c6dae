"""The console in a real headless Chromium (Debian's chromium and chromium-driver, Selenium):
first start, log in, start a drill on an emulated lane, watch the subject move on the map, press
a branch button, pause and resume, see the run end and open its debrief; an officer is refused
another officer's run and an anonymous browser gets the login page. Each page's screenshot goes
to docs/img/console-*.png when OPENRANGE_SCREENSHOTS=1 (docs/console.md shows them)."""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from console_support import (
    DRILL,
    PASSWORD,
    PROJECT,
    chromium,
    free_port,
    processes,
    qualify,
    saved_run,
    start_console,
    start_lane,
)
from PIL import Image

from range.console import speech
from range.console.store import ConsoleStore
from range.records.store import Records

pytestmark = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="needs Debian's chromium and chromium-driver (scripts/test.sh installs them)",
)


def until(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # an element not there yet, a page mid-load
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


def test_instructor_runs_a_lane_from_the_browser(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    shots = PROJECT / "docs" / "img" if os.environ.get("OPENRANGE_SCREENSHOTS") else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    # The test drill with a long approach and a long halt: on a loaded machine the branch
    # button is still pressed while the walker approaches, and Say and Flag are sent before
    # the halted walker's run ends (2 s of drill time was too short for them).
    drill = tmp_path / "branch.toml"
    text = DRILL.read_text()
    drill.write_text(
        text.replace("time_limit_s = 12.0", "time_limit_s = 60.0")
        .replace("after_s = 8.0", "after_s = 40.0")
        .replace("after_s = 2.0", "after_s = 12.0")
    )
    with Records.open(db_url) as records:
        records.add_officer("B-101", "Alex Officer", "Metro PD")
        records.add_officer("B-202", "Sam Officer", "Metro PD")
    qualification = qualify(db_url, "B-101")
    # A run with a TASER deployment: its debrief has rendered frames and hit zones.
    shots_run = saved_run(
        db_url, tmp_path / "saved", "B-101", "knife-approach-v1", "taser-first-v1", seed=2
    )
    # The same drill for another officer, to compare side by side.
    other_run = saved_run(
        db_url, tmp_path / "saved", "B-202", "knife-approach-v1", "taser-first-v1", seed=5
    )
    with ConsoleStore.open(db_url) as store:
        key = store.secret("lane_key")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with processes() as procs:
        procs.append(start_console(port, db_url, tmp_path / "console.log"))
        procs.append(start_lane(port, "LANE1", key, tmp_path / "runs", tmp_path / "lane.log"))
        browser = chromium()
        try:

            def shot(name: str) -> None:
                # A palette of 64 colours keeps each page's screenshot small for the docs.
                image = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
                image.quantize(64).save(shots / f"console-{name}.png", optimize=True)

            def text(css: str) -> str:
                return str(browser.find_element(By.CSS_SELECTOR, css).text)

            # First start: the range master's account, no default password.
            browser.get(base + "/")
            until(lambda: browser.current_url.endswith("/setup"), what="the setup page")
            shot("setup")
            # A typo in the second password: said so, the name kept.
            browser.find_element(By.ID, "name").send_keys("boss")
            browser.find_element(By.ID, "password").send_keys(PASSWORD)
            browser.find_element(By.ID, "again").send_keys(PASSWORD + "x")
            browser.find_element(By.ID, "submit").click()
            until(lambda: text("p.error") == "The passwords differ.", what="the typo")
            assert browser.find_element(By.ID, "name").get_attribute("value") == "boss"
            browser.find_element(By.ID, "password").send_keys(PASSWORD)
            browser.find_element(By.ID, "again").send_keys(PASSWORD)
            browser.find_element(By.ID, "submit").click()
            until(lambda: browser.current_url.endswith("/login?first=1"), what="the login page")
            assert text("#first").startswith("The range master's account is made: log in")
            shot("login")
            browser.find_element(By.ID, "name").send_keys("boss")
            browser.find_element(By.ID, "password").send_keys(PASSWORD)
            browser.find_element(By.ID, "submit").click()
            until(lambda: "boss (range master)" in text("#who"), what="logged in")
            until(lambda: text("#card-LANE1 .status") == "idle", what="LANE1 on the lanes page")
            shot("lanes")

            # Start the drill on LANE1 for officer B-101.
            browser.get(base + "/lanes/LANE1")
            # Idle, the page shows no broken images (no view, no phase graph) and says in one
            # line that the lane has no replicas of its own (redrawn from the live state).
            until(lambda: text("#status") == "idle", what="the idle lane")
            assert not browser.find_element(By.ID, "live-view").is_displayed()
            assert not browser.find_element(By.ID, "drill-phases").is_displayed()
            until(
                lambda: (
                    browser.execute_script(
                        "return document.querySelector('#replicas tbody').dataset.key"
                    )
                    == "[]"
                ),
                what="the replica table redrawn",
            )
            assert text("#replicas tbody").startswith("None: this lane was started without")
            browser.find_element(By.ID, "drill-file").send_keys(str(drill))
            Select(browser.find_element(By.ID, "badge")).select_by_value("B-101")
            browser.find_element(By.ID, "seed").send_keys("3")
            browser.find_element(By.ID, "start").click()
            until(lambda: text("#status") == "running", what="the run to start")
            until(lambda: browser.find_element(By.ID, "live-view").is_displayed(), what="view")
            subjects = browser.find_element(By.ID, "subjects")
            first_x = float(until(lambda: subjects.get_attribute("data-x"), what="a subject"))
            until(
                lambda: float(subjects.get_attribute("data-x") or first_x) < first_x - 2.0,
                what="the subject to walk 2 ft in on the map",
            )
            view = browser.find_element(By.ID, "view")
            until(
                lambda: browser.execute_script("return arguments[0].naturalWidth", view) == 480,
                what="the live officer's view",
            )
            until(
                lambda: (
                    "phase now" in browser.find_element(By.ID, "phases").get_attribute("innerHTML")
                ),
                what="the current phase",
            )
            until(lambda: text("#phases .now") == "approach", what="the phase, approach")
            browser.set_window_size(1100, 1150)
            shot("lane")
            browser.set_window_size(1100, 900)

            # Press the drill's branch button: the walker stops.
            until(lambda: browser.find_element(By.ID, "button-stop"), what="the branch button")
            browser.find_element(By.ID, "button-stop").click()
            until(lambda: "walker: halted" in subjects.text, what="the branch taken")
            until(lambda: "button=stop" in text("#events"), what="the button in the timeline")

            # Pause: the drill clock stops; resume: it goes on.
            browser.find_element(By.ID, "pause").click()
            until(lambda: text("#status") == "paused", what="paused")
            held = text("#clock")
            time.sleep(0.6)
            assert text("#clock") == held
            browser.find_element(By.ID, "resume").click()
            until(lambda: text("#status") == "running", what="resumed")
            browser.find_element(By.ID, "say-text").send_keys("Why are you stopping me?")
            browser.find_element(By.ID, "say").click()
            until(lambda: "text=Why are you stopping me?" in text("#events"), what="the line")
            browser.find_element(By.ID, "flag-note").send_keys("watch the hands")
            browser.find_element(By.ID, "flag").click()
            until(lambda: "note=watch the hands" in text("#events"), what="the flag")
            until(lambda: text("#status") == "ended", timeout_s=30, what="the run to end")

            # The run is in the records; open its debrief.
            def live_run_link() -> Any:
                browser.get(base + "/records")
                rows = browser.find_elements(By.CSS_SELECTOR, "table.runs tr")
                row = next(r for r in rows if "console-branch-v1" in r.text)
                return row.find_element(By.CSS_SELECTOR, "a.run-link")

            link = until(live_run_link, 30, what="the live run in the records")
            shot("records")
            link.click()
            until(lambda: "Debrief" in browser.title, what="the debrief")
            timeline = text("table.timeline")
            assert "instructor_command" in timeline and "button=stop" in timeline
            assert "paused by boss" in timeline and "note=watch the hands" in timeline
            assert "phase=halted" in timeline
            assert "by=boss" in timeline
            scrub = browser.find_element(By.CSS_SELECTOR, ".scrub")
            browser.execute_script(
                "arguments[0].value = 2; arguments[0].dispatchEvent(new Event('input'))", scrub
            )
            assert text(".scrub-t") == "2.00 s"
            if speech.engine() is not None:
                audio = browser.find_element(By.CSS_SELECTOR, "table.spoken audio")
                wav = browser.execute_async_script(
                    "fetch(arguments[0]).then(async r => arguments[1]([r.status,"
                    " r.headers.get('content-type'),"
                    " new TextDecoder().decode((await r.arrayBuffer()).slice(0, 4))]))",
                    audio.get_attribute("src"),
                )
                assert wav == [200, "audio/wav", "RIFF"]
            shot("debrief")
            run_url = browser.current_url
            browser.get(base + f"/runs/{shots_run}")
            frames = browser.find_elements(By.CSS_SELECTOR, "figure img")
            assert [f.get_attribute("alt") for f in frames[:2]] == [
                "officer's view, shot 1",
                "subject's view, shot 1",
            ]
            assert browser.execute_script("return arguments[0].naturalWidth", frames[0]) == 480
            hits = text("table.hits")
            assert "taser" in hits and "No hits." not in hits
            scrub = browser.find_element(By.CSS_SELECTOR, ".scrub")
            browser.execute_script(
                "arguments[0].value = 3.5; arguments[0].dispatchEvent(new Event('input'))", scrub
            )
            frame = browser.find_element(By.CSS_SELECTOR, "img.run-view")
            until(
                lambda: (
                    "t=3.50&eye=officer" in (frame.get_attribute("src") or "")
                    and browser.execute_script("return arguments[0].naturalWidth", frame) == 480
                ),
                what="the rendered frame at 3.5 s",
            )
            browser.find_element(By.CSS_SELECTOR, "input[value=top]").click()
            until(
                lambda: (
                    "eye=top" in (frame.get_attribute("src") or "")
                    and browser.execute_script("return arguments[0].complete", frame)
                ),
                what="the top-down frame",
            )
            browser.set_window_size(1100, 2300)
            shot("debrief-shots")
            browser.set_window_size(1100, 900)
            browser.get(base + f"/compare?a={shots_run}&b={other_run}")
            until(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".side")) == 2)
            sides = browser.find_elements(By.CSS_SELECTOR, ".side h2")
            assert [h.text for h in sides] == [f"Run {shots_run}: B-101", f"Run {other_run}: B-202"]
            shot("compare")
            # Issue 18 (f18c #3): at a tablet's 820 px the page ran off sideways, and the two
            # scrubbers moved apart. Now the sides stack inside the window and, linked (the
            # default), moving one scrubber takes the other to the same drill time.
            browser.set_window_size(820, 1000)
            width = browser.execute_script("return document.documentElement.clientWidth")
            assert browser.execute_script("return document.documentElement.scrollWidth") <= width
            boxes = browser.execute_script(
                "return [...document.querySelectorAll('.side')].map(s => {"
                " const r = s.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]})"
            )
            assert all(left >= 0 and right <= width for left, right, _, _ in boxes), boxes
            assert boxes[1][2] >= boxes[0][3], boxes  # one under the other, not overlapping
            scrubs = browser.find_elements(By.CSS_SELECTOR, ".scrub")
            move = (
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))"
            )
            browser.execute_script(move, scrubs[0], 2.5)
            assert scrubs[1].get_attribute("value") == "2.5"
            assert browser.find_elements(By.CSS_SELECTOR, ".scrub-t")[1].text == "2.50 s"
            browser.execute_script(move, scrubs[1], 1.5)  # either way
            assert scrubs[0].get_attribute("value") == "1.5"
            browser.find_element(By.ID, "link-scrubbers").click()  # unlinked: each on its own
            browser.execute_script(move, scrubs[0], 3)
            assert scrubs[1].get_attribute("value") == "1.5"
            browser.set_window_size(1100, 900)
            browser.get(base + "/officers/B-101")
            assert "Adds up." in text("table.sheet")
            assert until(lambda: browser.find_element(By.ID, "trend"))
            shot("officer")
            pdf = browser.execute_async_script(
                "const done = arguments[0];"
                f"fetch('/certificates/{qualification}.pdf').then(async r =>"
                " done([r.status, r.headers.get('content-type'),"
                " new TextDecoder().decode((await r.arrayBuffer()).slice(0, 5))]))"
            )
            assert pdf == [200, "application/pdf", "%PDF-"]

            # Accounts: the range master adds an officer account for B-202.
            browser.get(base + "/users")
            form = browser.find_element(By.ID, "add-user")
            form.find_element(By.NAME, "name").send_keys("sam")
            Select(form.find_element(By.NAME, "role")).select_by_value("officer")
            form.find_element(By.NAME, "badge").send_keys("B-202")
            form.find_element(By.NAME, "password").send_keys(PASSWORD)
            form.find_element(By.NAME, "again").send_keys(PASSWORD)
            form.find_element(By.TAG_NAME, "button").click()
            until(lambda: "sam" in text("#accounts"), what="the new account")
            shot("users")
            browser.get(base + "/audit")
            assert "The chain is intact." in text("#chain-ok")
            assert "lane_button" in text("#audit")
            shot("audit")
            browser.find_element(By.ID, "logout").click()
            until(lambda: browser.current_url.endswith("/login"), what="logged out")

            # Officer B-202 may not open B-101's run: HTTP 403.
            browser.find_element(By.ID, "name").send_keys("sam")
            browser.find_element(By.ID, "password").send_keys(PASSWORD)
            browser.find_element(By.ID, "submit").click()
            until(lambda: browser.current_url.endswith("/officers/B-202"), what="sam's records")
            status = browser.execute_async_script(
                f"fetch('{run_url}').then(r => arguments[0](r.status))"
            )
            assert status == 403
            browser.get(run_url)
            assert "Not yours to see." in text("h1")

            # Anonymous: the login page, whatever is asked for.
            browser.delete_all_cookies()
            browser.get(run_url)
            until(lambda: browser.current_url.endswith("/login"), what="the login page")
            assert browser.find_element(By.ID, "login")
        finally:
            browser.quit()
