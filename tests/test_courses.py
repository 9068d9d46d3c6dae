"""Courses of fire: the built-in courses, their validation, and scoring an attempt."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from live_pistol import fire_live, live_pistol

from drills.course import builtin_courses, find_course, find_shooter, parse_course
from peripherals.emulator import PistolEmulator
from physics.datafiles import DataFileError
from physics.pose import Pose
from physics.targets import TARGETS
from range.cli.main import main
from range.clock import MonotonicClock
from range.runs.course import (
    HEADSET_OFF,
    CourseConfig,
    CourseView,
    LiveRange,
    run_course,
)
from range.runs.runlog import read_events
from scoring.course import Deployment, Shot, rescore_attempt, score_attempt

MINIMAL = """\
id = "agency-test-v1"
version = 1
title = "t"
source = "s"
pass_mark = { points = 8 }

[[stages]]
name = "7 yd"
[[stages.strings]]
distance_yd = 7.0
rounds = 5
par_time_s = 5.0
"""


def test_the_built_in_courses_keep_their_published_totals() -> None:
    courses = builtin_courses()
    fbi, texas = courses["fbi-pistol-2019-v1"], courses["texas-ltc-b27-v1"]
    kansas, taser = courses["kansas-style-70-v1"], courses["taser7-practical-v1"]
    # facts.md §3: 50 rounds and 100 points (FBI); 50 rounds, 250 possible, 175 to pass (Texas);
    # 50 rounds, 35 hits (Kansas).
    assert (fbi.rounds, fbi.max_points, fbi.passing_points()) == (50, 100, 90)
    assert (texas.rounds, texas.max_points, texas.passing_points()) == (50, 250, 175)
    assert (kansas.rounds, kansas.pass_mark.hits) == (50, 35)
    distances = {s.distance_ft for stage in taser.stages for s in stage.strings}
    assert min(distances) == 7.0 and max(distances) == 21.0  # type: ignore[type-var]
    assert any(s.reload for stage in taser.stages for s in stage.strings)
    for course in courses.values():
        assert course.source.strip(), f"{course.id} must say where it comes from"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            ("par_time_s = 5.0", "par_time_s = -5.0"),
            "stages[0].strings[0].par_time_s",
            "-5 is out of range: allowed 0.5 <= par_time_s <= 600",
        ),
        (("rounds = 5", "rounds = 5\nbullets = 5"), "stages[0].strings[0].bullets", "unknown key"),
        (
            (
                "distance_yd = 7.0\nrounds = 5",
                'distance_ft = 30.0\nweapon = "taser-7"\ncartridge = "taser7-cq"\ncartridges = 1',
            ),
            "stages[0].strings[0].distance_ft",
            "beyond the taser7-cq cartridge's 25 ft",
        ),
    ],
)
def test_a_bad_course_names_file_line_and_field(
    change: tuple[str, str], field: str, message: str
) -> None:
    text = MINIMAL.replace(*change)
    if "taser" in change[1]:
        text = text.replace("pass_mark = { points = 8 }", "pass_mark = { hits = 1 }")
    with pytest.raises(DataFileError) as caught:
        parse_course(text, "agency.toml")
    problem = caught.value.problems[0]
    assert problem.field == field and message in problem.message
    key = field.rsplit(".", 1)[1]
    expected_line = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(key))
    assert problem.line == expected_line
    assert str(caught.value).startswith(f"agency.toml:{expected_line}: {field}")


def test_an_attempt_is_scored_string_by_string() -> None:
    course = find_course("fbi-pistol-2019-v1")
    shots = []
    for i, stage in enumerate(course.stages):
        for j, string in enumerate(stage.strings):
            for k in range(string.rounds):
                shots.append(Shot(i, j, 0.5 + 0.3 * k, "bottle", 2))
    clean = score_attempt(course, shots)
    assert (clean.points, clean.hits, clean.passed) == (100, 50, True)
    # Stage 2's last string (6 rounds, 4 s), 3 s slower: rounds at 4.1 to 5.0 s are misses.
    slow = [
        Shot(
            s.stage,
            s.string,
            s.t_s + (3.0 if (s.stage, s.string) == (1, 2) else 0.0),
            s.zone,
            s.points,
        )
        for s in shots
    ]
    late = score_attempt(course, slow)
    assert late.late == 4 and late.points == 92 and late.passed
    # Six misses fail it: 88 < 90.
    missed = score_attempt(course, [*shots[6:], *[Shot(0, 0, 0.5, "miss", 0)] * 6])
    assert (missed.points, missed.passed) == (
        88,
        False,
    ) and "88 points, 90 needed" in missed.reasons


def test_a_device_fault_means_a_reshoot_not_a_failure() -> None:
    course = find_course("fbi-pistol-2019-v1")
    shots = [Shot(0, 0, 0.5, "bottle", 2)]
    attempt = score_attempt(course, shots, faulted=[(0, 0)])
    assert attempt.reshoot == [(0, 0)] and not attempt.complete
    assert attempt.points == 0 and not attempt.passed
    assert any("reshoot" in r for r in attempt.reasons)


def test_taser_deployments_count_when_effective_and_in_time() -> None:
    course = find_course("taser7-practical-v1")
    deployments = [
        Deployment(0, 0, 3.0, True),
        Deployment(1, 0, 3.5, True),
        Deployment(2, 0, 4.0, False, "spread 9 in < 12 in"),
        Deployment(2, 0, 12.0, True),  # after the 10 s par: not scored ("void")
    ]
    attempt = score_attempt(course, deployments=deployments)
    assert (attempt.hits, attempt.late, attempt.passed) == (2, 1, False)


def test_course_commands(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["course", "list"]) == 0
    assert "texas-ltc-b27-v1" in capsys.readouterr().out
    assert main(["course", "show", "fbi-pistol-2019-v1"]) == 0
    shown = capsys.readouterr().out
    assert "slide-lock reload" in shown and "par 8 s" in shown
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace("par_time_s = 5.0", "par_time_s = -1.0"))
    assert main(["course", "validate", str(bad)]) == 1
    assert f"{bad}:" in capsys.readouterr().err


def test_shooters_of_different_skill_qualify_as_expected() -> None:
    from drills.course import find_shooter
    from range.runs.course import CourseConfig, run_course

    course = find_course("fbi-pistol-2019-v1")
    expert = run_course(CourseConfig(course, find_shooter("expert"), 1)).score
    recruit = run_course(CourseConfig(course, find_shooter("struggling"), 1)).score
    assert expert.passed
    assert not recruit.passed and recruit.points < expert.points
    assert recruit.late > 0, "the slow recruit fires after the par time somewhere"
    assert sum(s.hits for s in expert.stages) == expert.hits <= 50


def test_a_device_fault_during_a_string_is_reshot_not_failed() -> None:
    from drills.course import find_shooter
    from range.runs.course import CourseConfig, run_course

    course = find_course("kansas-style-70-v1")
    config = CourseConfig(course, find_shooter("expert"), 2, unplug_during=(1, 0))
    result = run_course(config)
    assert result.reshot == [(1, 0)]
    assert result.score.complete and result.score.passed
    fired = [s for s in result.shots if (s.stage, s.string) == (1, 0)]
    assert len(fired) == course.stages[1].strings[0].rounds  # the reshoot, not the cut string


def test_course_run_records_the_attempt_and_the_records_commands(
    tmp_path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    import json

    db = f"sqlite:///{tmp_path / 'records.sqlite'}"
    assert (
        main(
            [
                "records",
                "officers",
                "--db",
                db,
                "--add",
                "4411",
                "--name",
                "J. Rivera",
                "--agency",
                "Metro PD",
            ]
        )
        == 0
    )
    capsys.readouterr()  # the officer list it printed
    assert (
        main(
            [
                "course",
                "run",
                "taser7-practical-v1",
                "--badge",
                "4411",
                "--shooter",
                "expert",
                "--db",
                db,
                "--runs-dir",
                str(tmp_path / "runs"),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["qualification"] is not None and result["score"]["complete"]
    assert (
        main(
            [
                "drill",
                "run",
                "phone-draw-v1",
                "--badge",
                "4411",
                "--db",
                db,
                "--seed",
                "1",
                "--runs-dir",
                str(tmp_path / "runs"),
            ]
        )
        == 0
    )
    assert "Recorded as drill run 1 for badge 4411" in capsys.readouterr().out
    assert main(["records", "history", "4411", "--db", db, "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    (record,) = history["qualifications"]
    assert [d["drill"] for d in history["drill_runs"]] == ["phone-draw-v1"]
    assert record["course"] == "taser7-practical-v1"
    assert main(["records", "show", str(record["id"]), "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["kind"] for s in shown["detail"]["shots"]].count("deployment") == 4
    assert main(["records", "verify", "--db", db]) == 0
    assert "chain intact" in capsys.readouterr().out
    out = tmp_path / "cert.pdf"
    assert (
        main(
            [
                "records",
                "export",
                "--db",
                db,
                "--format",
                "pdf",
                "--attempt",
                str(record["id"]),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_bytes()[:5] == b"%PDF-"
    roster = tmp_path / "roster.html"
    assert main(["records", "export", "--db", db, "--format", "html", "--out", str(roster)]) == 0
    assert "J. Rivera" in roster.read_text()
    assert main(["records", "export", "--db", db, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("id,badge,name") and len(lines) == 2


LIVE_COURSE = """
id = "live-fault-v1"
version = 1
title = "Live fault check"
source = "tests/test_courses.py"
target = "qit99"
pass_mark = { hits = 3 }

[[stages]]
name = "5 yd"
strings = [{ distance_yd = 5.0, start = "ready", rounds = 3, par_time_s = 5.0 }]
"""


class HeldStill:
    """A pose source holding the replica's bore on one aim (the live runner's pose interface;
    tests/test_xr_course.py drives the same runner from a real OpenXR runtime)."""

    def __init__(self, clock: MonotonicClock, aim: Pose) -> None:
        self.clock, self.aim = clock, aim

    def update(self) -> dict[str, Pose]:
        return {"aim": self.pose("weapon", self.clock.now_s())}

    def pose(self, device: str, t: float) -> Pose:
        return Pose(self.aim.position_m, self.aim.orientation, t)


def test_a_live_string_cut_by_a_pulled_cable_is_reshot(tmp_path: Path) -> None:
    """An officer's replica on a real pty, the live lane and range timer on the real clock: the
    cable comes out after the first round; the string is reshot once the replica is back on a
    new port (found by serial), and only the reshoot's rounds are scored."""
    lane = live_pistol(tmp_path, LIVE_COURSE, "live-fault-v1", "P-0042", 9)
    course, clock, aim = lane.course, lane.clock, lane.aim
    pistol, port = lane.pistol, lane.port
    calls: queue.Queue[str] = queue.Queue()

    def officer() -> None:
        for attempt in range(2):
            while calls.get(timeout=20) != "BEEP":
                pass
            for _ in range(1 if attempt == 0 else 3):
                pistol.press_trigger()
                time.sleep(0.05)
                pistol.release_trigger()
                time.sleep(0.1)
            if attempt == 0:
                pistol.unplug()
                time.sleep(0.3)
                pistol.replug()

    hands = threading.Thread(target=officer)
    hands.start()
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        calls.put(line)

    # A headset's frames: the phase of each, and what the range had said when it was drawn.
    drawn: list[tuple[str, int, str]] = []

    def draw(view: CourseView) -> None:
        drawn.append((view.phase, view.string, said[-1] if said else ""))

    live = LiveRange(
        [port], HeldStill(clock, aim), clock, say, np.random.default_rng(0), (0.1, 0.2),
        search=[tmp_path], draw=draw,
    )  # fmt: skip
    result = fire_live(lane, live, hands, tmp_path)
    assert result.reshot == [(0, 0)]
    assert any("device fault (P-0042)" in line for line in said)
    # The log reads back in time order (the cut string's record is stamped when it was cut,
    # not a second ahead, before the reshoot's start signal), and says why it was cut.
    assert result.run_dir is not None
    faulted = [r.data for r in read_events(result.run_dir) if r.kind == "string_faulted"]
    assert faulted == [
        {"stage": 0, "string": 0, "reshoot": True, "reason": "device fault (P-0042)"}
    ]
    # Drawn throughout: STANDBY before each start signal, GO after it, and STANDBY frames while
    # the cable was out (the runtime is never left without a frame).
    phases = [phase for phase, _, _ in drawn]
    assert phases[0] == "standby" and "go" in phases
    assert any(p == "standby" and "device fault" in line for p, _, line in drawn), drawn[-5:]
    best = max(TARGETS[course.target].zones, key=lambda z: z.points).name
    assert [s.zone for s in result.shots] == [best] * 3  # the reshoot's, not the cut string's
    assert result.score.hits == 3 and result.score.passed
    assert result.calibration[0]["reason"].endswith("used on the override of Lt. Hale")


TWO_STRINGS = LIVE_COURSE.replace(
    "par_time_s = 5.0 }]",
    'par_time_s = 5.0 },\n  { distance_yd = 5.0, start = "ready", rounds = 3, par_time_s = 5.0 }]',
)


def test_a_live_string_cut_by_the_headset_coming_off_is_reshot(tmp_path: Path) -> None:
    """Issue 16: taking the headset off (the OpenXR session leaves FOCUSED: here a fake
    `focused`) during a string stops the range timer like a device fault: the officer is told
    the string will be reshot, a round fired meanwhile is not counted, the lane holds until the
    headset is back on, and the string is reshot once; the log says why, so a rescore of it
    agrees. Off during the next string's STANDBY, it only holds that string's start."""
    lane = live_pistol(tmp_path, TWO_STRINGS, "live-headset-v1", "P-0044", 12)
    course, clock, aim = lane.course, lane.clock, lane.aim
    pistol, port = lane.pistol, lane.port
    calls: queue.Queue[str] = queue.Queue()
    said: list[str] = []
    off = {"mid-string": False, "standby": False}  # why the headset is off now
    looks_off = [0]  # frames that found it off, between strings

    def fire(rounds: int) -> None:
        for _ in range(rounds):
            pistol.press_trigger()
            time.sleep(0.05)
            pistol.release_trigger()
            time.sleep(0.1)

    def officer() -> None:
        # The first string: one round, the headset off, one round while it is off; the
        # reshoot, and the second string (its start held once): three rounds each.
        for rounds in (1, 3, 3):
            while calls.get(timeout=20) != "BEEP":
                pass
            fire(rounds)
            if rounds == 1:
                while not calls.get(timeout=20).startswith("headset off: stage 1 string 1"):
                    pass
                fire(1)

    def say(line: str) -> None:
        said.append(line)
        calls.put(line)
        if line == "shot while the headset is off: not counted":
            off["mid-string"] = False  # back on once that round was heard
        if line == "STANDBY" and said[-2].startswith("stage 1 string 2") and not looks_off[0]:
            off["standby"] = True

    drawn_off: list[str] = []  # the phase of each frame drawn with the headset off

    def draw(view: CourseView) -> None:
        if any(off.values()):
            drawn_off.append(view.phase)
        # Off after the first string's first round has been scored, once.
        fired = [r for r in view.records if r.kind == "shot" and r.data["string"] == 0]
        if (
            view.phase == "go"
            and fired
            and not any(r.kind == "string_faulted" for r in view.records)
        ):
            off["mid-string"] = True

    def focused() -> bool:
        if off["standby"]:
            looks_off[0] += 1
            off["standby"] = looks_off[0] < 10
        return not any(off.values())

    hands = threading.Thread(target=officer)
    hands.start()
    live = LiveRange(
        [port], HeldStill(clock, aim), clock, say, np.random.default_rng(0), (0.1, 0.2),
        search=[tmp_path], draw=draw, focused=focused,
    )  # fmt: skip
    result = fire_live(lane, live, hands, tmp_path)
    assert result.reshot == [(0, 0)], said
    assert "headset off: stage 1 string 1 will be reshot" in said
    assert "headset off: the next string starts once it is back on" in said
    assert sum(line == "BEEP" for line in said) == 3, said
    assert sum(line.startswith("stage 1 string 2") for line in said) == 2, said
    # The range timer stood while the headset was off: STANDBY drawn throughout, never GO.
    assert drawn_off and set(drawn_off) == {"standby"}, drawn_off
    best = max(TARGETS[course.target].zones, key=lambda z: z.points).name
    # The reshoot's rounds and the second string's: not the cut string's, nor the one fired
    # with the headset off.
    assert [(s.string, s.zone) for s in result.shots] == [(0, best)] * 3 + [(1, best)] * 3
    assert result.score.complete and result.score.hits == 6
    # The log says why the string was cut; rescored from it, the attempt scores the same.
    assert result.run_dir is not None
    records = read_events(result.run_dir)
    faulted = [r.data for r in records if r.kind == "string_faulted"]
    assert faulted == [
        {"stage": 0, "string": 0, "reshoot": True, "reason": HEADSET_OFF},
    ]
    assert rescore_attempt(course, records).as_json() == result.score.as_json()


def test_a_live_course_needing_a_taser_is_refused_without_one(tmp_path: Path) -> None:
    course = find_course("taser7-practical-v1")
    clock = MonotonicClock()
    pistol = PistolEmulator("P-0042", clock, directory=tmp_path)
    port = pistol.start()
    pistol.run_free()
    live = LiveRange([port], HeldStill(clock, Pose((0.0, 0.0, 1.4))), clock, print,
                     np.random.default_rng(0))  # fmt: skip
    try:
        config = CourseConfig(course, find_shooter("qualified"), 0, override_by="Lt. Hale")
        with pytest.raises(ValueError, match="taser-7 strings but no such replica") as refused:
            run_course(config, live=live)
        assert "found: pistol P-0042" in str(refused.value)
    finally:
        pistol.stop_free_running()
        pistol.stop()


def test_a_taser_string_prepares_its_cartridge_in_its_world_before_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each TASER string's cartridge has its tables built and one throw-away deployment flown
    in the string's own world, its subject placed, before the start signal (taser.prepare):
    a course's first pull of a cartridge built its tables inside the frame (33-115 ms)."""
    from drills.log import MemoryLog
    from physics import taser
    from range.runs.course import TASER_SUBJECT

    seen: list[tuple[str, list[str]]] = []
    order: list[str] = []  # "warm" and "start", in the order they happened
    real = taser._warm_world
    emit = MemoryLog.emit

    def warm(world: object, cart: taser.Cartridge) -> None:
        seen.append((cart.id, world.subject_ids))  # type: ignore[attr-defined]
        order.append("warm")
        real(world, cart)  # type: ignore[arg-type]

    def emitted(log: MemoryLog, t: float, kind: str, **fields: object) -> None:
        if kind == "string_started":
            order.append("start")
        return emit(log, t, kind, **fields)

    monkeypatch.setattr(taser, "_warm_world", warm)
    monkeypatch.setattr(MemoryLog, "emit", emitted)
    course = find_course("taser7-practical-v1")
    run_course(CourseConfig(course, find_shooter("expert"), 1))
    strings = [s for stage in course.stages for s in stage.strings]
    assert seen == [(str(s.cartridge), [TASER_SUBJECT]) for s in strings]
    # Each string's warm-up comes before its own start signal, not after it.
    assert order == ["warm", "start"] * len(strings)
