"""New-user pass nu12h (issue #12), course, drill and scoring defects: each a reproduction
that failed before its fix, in process."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.course import parse_course, percent_points
from physics.datafiles import DataFileError

# The report's c1.toml: a 16-round, 32-point file course (two stages of 8 rounds).
C1 = """\
id = "agency-pistol-v1"
version = 1
title = "Agency pistol qualification"
source = "mine"
target = "qit99"
lane_length_ft = 75.0
late_shots = "miss"
pass_mark = { percent = 80 }

[[stages]]
name = "7 yd"
min_points = 0
[[stages.strings]]
weapon = "pistol"
distance_yd = 7.0
start = "holster"
hand = "both"
rounds = 8
par_time_s = 8.0
reload = true
note = "4, reload, 4"

[[stages]]
name = "20 yd"
[[stages.strings]]
weapon = "pistol"
distance_yd = 20.0
start = "holster"
hand = "strong"
switch_hand_after = 3
rounds = 8
par_time_s = 5
"""


def _c1(mark: str = "{ percent = 80 }", min_points: int = 0) -> str:
    return C1.replace("pass_mark = { percent = 80 }", f"pass_mark = {mark}").replace(
        "min_points = 0", f"min_points = {min_points}"
    )


def _refusal(text: str, name: str = "c.toml") -> str:
    with pytest.raises(DataFileError) as caught:
        parse_course(text, name)
    return str(caught.value)


# -- 1: a percent pass mark is rounded up, to at least 1 point ----------------------------------


@pytest.mark.parametrize(
    ("percent", "needed"), [(70, 23), (10, 4), (1, 1), (80, 26), (100, 32), (75, 24)]
)
def test_a_percent_mark_rounds_up_and_needs_a_point(percent: int, needed: int) -> None:
    """70 % of 32 points was 22 (68.75 %, below the mark, passed); 1 % was 0 points."""
    course = parse_course(_c1(f"{{ percent = {percent} }}"), "c70.toml")
    assert course.max_points == 32
    assert course.passing_points() == needed
    assert needed * 100 >= percent * 32  # never a score below the mark


def test_percent_points_has_no_float_noise() -> None:
    """An exact mark stays exact (90 % of 100 is 90, 70 % of 50 is 35), a fraction rounds up."""
    assert percent_points(100, 90) == 90
    assert percent_points(50, 70) == 35
    assert percent_points(4, 10) == 1  # a 4-cartridge TASER course at 10 %: 0.4 -> 1
    assert percent_points(1000, 70.1) == 701
    assert percent_points(3, 33.4) == 2  # 1.002 -> 2


def test_a_one_percent_mark_does_not_pass_an_attempt_that_hit_nothing() -> None:
    """`percent = 1` was 0 points: a 0/32, 0-hit attempt was "would be QUALIFIED"."""
    from scoring.course import score_attempt

    course = parse_course(_c1("{ percent = 1 }"), "c1p.toml")
    scored = score_attempt(course)
    assert scored.points == 0
    assert not scored.passed
    assert "0 points, 1 needed" in scored.reasons


def test_course_show_says_the_rounded_up_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main

    path = tmp_path / "c70.toml"
    path.write_text(_c1("{ percent = 70 }"), encoding="utf-8")
    assert main(["course", "show", str(path)]) == 0
    assert "pass 70 % (23 points)" in capsys.readouterr().out


# -- 2: a requirement that can never be met is refused ----------------------------------------


def test_a_stage_minimum_above_the_stage_maximum_is_refused() -> None:
    message = _refusal(_c1(min_points=40), "cp2.toml")
    assert (
        "cp2.toml:12: stages[0].min_points: 40 is more than the 16 points this stage can score"
        in message
    )
    parse_course(_c1(min_points=16), "ok.toml")  # the stage's own maximum is reachable


def test_course_validate_refuses_a_stage_minimum_it_can_never_meet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.cli.main import main

    path = tmp_path / "cp2.toml"
    path.write_text(_c1("{ percent = 80 }", min_points=40), encoding="utf-8")
    assert main(["course", "validate", str(path)]) != 0
    assert "stages[0].min_points: 40 is more than the 16" in capsys.readouterr().err


TASER_COURSE = """\
id = "t-v1"
version = 1
title = "T"
source = "mine"
pass_mark = { hits = 1 }
[taser]
min_spread_in = SPREAD

[[stages]]
name = "7 ft"
[[stages.strings]]
weapon = "taser-7"
distance_ft = 7.0
start = "holster"
cartridges = 1
cartridge = "taser7-cq"
par_time_s = 5.0
"""


def test_a_taser_spread_no_subject_can_hold_is_refused() -> None:
    """Both probes land on the one subject: a 100 in minimum spread fails every cartridge."""
    message = _refusal(TASER_COURSE.replace("SPREAD", "100.0"), "tc.toml")
    assert "tc.toml:7: taser.min_spread_in: 100 in is more than the 69 in stature" in message
    parse_course(TASER_COURSE.replace("SPREAD", "12.0"), "ok.toml")


# -- 5: a cartridge of another model is refused, in drills, courses and the emulator ----------

DRILLS = Path(__file__).resolve().parent.parent / "drills" / "data" / "drills"


def test_a_drill_refuses_another_models_cartridge() -> None:
    """taser_loads = ["x26p-21ft", "taser10"] on a TASER 7 was played and scored."""
    from drills.schema import parse_drill

    text = (DRILLS / "cq-cartridge-long-range-v1.toml").read_text(encoding="utf-8")
    wrong = text.replace('["taser7-cq", "taser7-standoff"]', '["x26p-21ft", "taser10"]')
    with pytest.raises(DataFileError) as caught:
        parse_drill(wrong, "dx.toml")
    message = str(caught.value)
    assert "dx.toml:15: taser_loads[0]: x26p-21ft does not fit a taser-7" in message
    assert "taser_loads[1]: taser10 does not fit a taser-7" in message
    parse_drill(text, "ok.toml")


def test_a_course_refuses_another_models_cartridge() -> None:
    message = _refusal(
        TASER_COURSE.replace("SPREAD", "12.0").replace("taser7-cq", "x26p-21ft"), "tc.toml"
    )
    assert "tc.toml:16: stages[0].strings[0].cartridge: x26p-21ft does not fit a taser-7" in (
        message
    )


def test_the_emulator_refuses_another_models_cartridge() -> None:
    """Its bays take only its own model's cartridges: at build and when the instructor loads."""
    from peripherals.clock import ManualClock
    from peripherals.emulator import TaserEmulator
    from peripherals.messages import CartridgeCode, Model, SetCartridge

    with pytest.raises(ValueError, match="x26p-21ft does not fit a taser-7"):
        TaserEmulator(
            Model.TASER_7,
            "T7",
            ManualClock(),
            loads=(CartridgeCode.X26P_21FT, CartridgeCode.TASER7_CQ),
        )
    taser = TaserEmulator(Model.TASER_7, "T7", ManualClock())
    before = list(taser.bays)
    assert not taser._on_command(SetCartridge(0, CartridgeCode.TASER10, 1))
    assert taser.bays == before
    assert taser._on_command(SetCartridge(0, CartridgeCode.TASER7_CQ, 2))


def test_each_cartridge_code_fits_the_model_physics_gives_it() -> None:
    from peripherals.messages import CartridgeCode
    from physics.taser import builtin_cartridges

    for code in CartridgeCode:
        if code.cartridge_id is None:
            assert code.model is None
            continue
        assert code.model is not None
        assert code.model.slug == builtin_cartridges()[code.cartridge_id].model


# -- 4: an edited copy of a built-in course or drill is "modified" wherever it is named ----------

COURSES = Path(__file__).resolve().parent.parent / "drills" / "data" / "courses"
MODIFIED_COURSE = "(modified, sha256 "
NOT_COUNTED = "never counts as the built-in course's qualification"


def _main_out(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> str:
    from range.cli.main import main

    capsys.readouterr()
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out + captured.err


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An edited TASER 7 course (a lower pass mark) fired once, and an edited phone-draw drill
    run once with its expected script: the files and their run folders."""
    import contextlib
    import io

    from range.cli.main import main

    tmp = tmp_path_factory.mktemp("nu12i-modified")
    course = tmp / "t7-mod.toml"
    text = (COURSES / "taser7-practical-v1.toml").read_text(encoding="utf-8")
    marked = text.replace("pass_mark = { hits = 3 }", "pass_mark = { hits = 1 }")
    assert marked != text
    course.write_text(marked, encoding="utf-8")
    drill = tmp / "pd-mod.toml"
    text = (DRILLS / "phone-draw-v1.toml").read_text(encoding="utf-8")
    changed = text.replace("after_s = 2.0", "after_s = 2.5", 1)
    assert changed != text
    drill.write_text(changed, encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):
        argv = ["course", "run", str(course), "--seed", "1", "--runs-dir", str(tmp / "c")]
        assert main(argv) == 0
        assert main(["drill", "run", str(drill), "--seed", "1", "--runs-dir", str(tmp / "d")]) == 0
    ((course_run,), (drill_run,)) = (list((tmp / "c").iterdir()), list((tmp / "d").iterdir()))
    return {"course": course, "drill": drill, "course_run": course_run, "drill_run": drill_run}


def test_course_show_and_validate_flag_a_modified_builtin(
    edited: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    course = str(edited["course"])
    shown = _main_out(capsys, ["course", "show", course])
    assert f"[taser7-practical-v1 {MODIFIED_COURSE}" in shown.splitlines()[0]
    assert NOT_COUNTED in shown
    checked = _main_out(
        capsys, ["course", "validate", course, str(COURSES / "taser7-practical-v1.toml")]
    )
    first, second = checked.splitlines()
    assert f"ok (taser7-practical-v1 {MODIFIED_COURSE}" in first and NOT_COUNTED in first
    assert "ok (taser7-practical-v1, " in second and "modified" not in second
    assert "modified" not in _main_out(capsys, ["course", "show", "taser7-practical-v1"])


def test_score_and_report_flag_an_attempt_at_a_modified_builtin(
    edited: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = str(edited["course_run"])
    scored = _main_out(capsys, ["score", run])
    assert f"[taser7-practical-v1 {MODIFIED_COURSE}" in scored and NOT_COUNTED in scored
    _main_out(capsys, ["report", run, "--out", str(tmp_path / "r.html")])
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"Course taser7-practical-v1 {MODIFIED_COURSE}" in page
    assert "never counts as the built-in course&#x27;s qualification" in page


def test_drill_show_validate_and_report_flag_a_modified_builtin(
    edited: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    drill = str(edited["drill"])
    shown = _main_out(capsys, ["drill", "show", drill])
    assert "[phone-draw-v1 (modified, sha256 " in shown.splitlines()[0]
    checked = _main_out(capsys, ["drill", "validate", drill, "phone-draw-v1"])
    first, second = checked.splitlines()
    assert "ok (phone-draw-v1 (modified, sha256 " in first
    assert "ok (phone-draw-v1, 4 phases)" in second
    _main_out(capsys, ["report", str(edited["drill_run"]), "--out", str(tmp_path / "d.html")])
    page = (tmp_path / "d.html").read_text(encoding="utf-8")
    # The label with its sha, and the script that played it (it read "officer scripted").
    assert "Drill phone-draw-v1 (modified, sha256 " in page
    assert "officer phone-draw-correct-v1" in page


# -- 3: a resumed attempt's missing first part names its record, not the in-progress number -----


def _edit_log(run_dir: Path, kind: str, **changes: object) -> None:
    import json

    log = run_dir / "events.jsonl"
    lines = []
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["kind"] == kind:
            record.update(changes)
            for key in [k for k, v in changes.items() if v is None]:
                record.pop(key)
        lines.append(json.dumps(record, sort_keys=True))
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_missing_first_part_names_the_record_the_attempt_became(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-progress attempt #2 became qualification record 1 (one crashed attempt is left
    open): its folder said "`records show 2` holds the whole attempt", another record."""
    import json

    from range.records.store import Records

    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4412", "Ofc. Chen", "Metro PD")
        assert records.begin_attempt("4412", "texas-ltc-b27-v1", 31, "0", [], []) == 1
    argv = ["course", "run", "taser7-practical-v1", "--badge", "4412", "--seed", "1"]
    out = _main_out(capsys, [*argv, "--db", db, "--runs-dir", str(tmp_path / "runs"), "--json"])
    assert json.loads(out)["qualification"] == 1
    (folder,) = (tmp_path / "runs").iterdir()
    recorded = next(
        json.loads(line)
        for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
        if '"attempt_recorded"' in line
    )
    assert recorded["attempt"] == 2  # the in-progress number, not the record's
    # As a resume's part logs it: its first strings were fired in a folder now moved away.
    gone = str(tmp_path / "moved-away")
    _edit_log(folder, "attempt_recorded", part=2, earlier_logs=[gone], kept_strings=[[0, 0]])
    said = _main_out(capsys, ["score", str(folder)], code=2)
    assert "resumes in-progress attempt #2" in said
    assert "`openrange records show 1` holds the whole attempt" in said
    assert "records show 2" not in said
    # A log that does not say its record: the in-progress number, named as such only.
    _edit_log(folder, "attempt_ended", qualification=None)
    said = _main_out(capsys, ["score", str(folder)], code=2)
    assert "in-progress attempt #2 (`openrange records incomplete`)" in said
    assert "records show 2" not in said and "not record 2" in said


# -- 15: a subject who posed no threat is never "the threat" ------------------------------------

SHOOTS_THE_PHONE = """\
id = "phone-shoot-v1"
version = 1
description = "Shoots the phone."
drill = "phone-draw-v1"
expect = { outcome = "FAIL", rules = ["DECISION-01"] }
aim_error_mrad = 5.0
[[steps]]
at_s = 0.5
do = "draw_firearm"
[[steps]]
after_s = 0.3
do = "aim"
region = "upper_chest"
subject = "man"
[[steps]]
on_phase = "draws_phone"
do = "fire"
[[steps]]
after_s = 0.3
do = "fire"
"""


def test_a_harmless_subject_is_not_called_the_threat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The man with the phone 'posed the threat 2.0 s before acting on it' beside DECISION-01
    'posed no threat that called for it': the words now follow his threat state."""
    script = tmp_path / "o2.toml"
    script.write_text(SHOOTS_THE_PHONE, encoding="utf-8")
    argv = ["drill", "run", "phone-draw-v1", "--sim", str(script), "--seed", "4", "--no-save"]
    out = _main_out(capsys, argv)
    verbal = [line for line in out.splitlines() if "VERBAL-02" in line or "VERBAL-03" in line]
    assert len(verbal) == 2, out
    for line in verbal:
        assert "posed the threat" not in line and "the threat" not in line
        assert "there was time: 2.0 s before" in line
        assert "with man offering passive resistance" in line
    assert "who posed no threat that called for it" in out


def test_threat_words_follow_the_threat_state() -> None:
    from drills.threat import Threat
    from scoring.score import threat_words

    assert threat_words(Threat.NONE) == "no threat"
    assert threat_words(Threat.PASSIVE) == "passive resistance"
    assert threat_words(Threat.ASSAULTIVE) == "an assaultive threat"
    assert threat_words(Threat.DEADLY) == "a deadly threat"


# -- 16: drill run --sim checks the script's declared expect ------------------------------------


def _run_sim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], script: str, seed: int
) -> tuple[int, str, str]:
    import contextlib
    import io

    from range.cli.main import main

    path = tmp_path / "script.toml"
    path.write_text(script, encoding="utf-8")
    argv = ["drill", "run", "phone-draw-v1", "--sim", str(path), "--seed", str(seed)]
    capsys.readouterr()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main([*argv, "--no-save", "--json"])
    return code, out.getvalue(), capsys.readouterr().err


def test_drill_run_sim_says_when_the_script_does_not_get_its_expected_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A script declaring PASS that gets FAIL ran '0/100 FAIL', exit 0, with no word."""
    import json

    from range.cli.drill import EXPECT_UNMET

    wrong = SHOOTS_THE_PHONE.replace(
        'expect = { outcome = "FAIL", rules = ["DECISION-01"] }',
        'expect = { outcome = "PASS", rules = [] }',
    )
    code, out, err = _run_sim(tmp_path, capsys, wrong, 1)
    assert code == EXPECT_UNMET == 10
    assert "officer script phone-shoot-v1: expected PASS, got FAIL" in err
    assert json.loads(out)["expect"] == {
        "outcome": "PASS",
        "rules": [],
        "checked": True,
        "met": False,
        "message": err.strip().splitlines()[-1],
    }
    # A FAIL that lacks a declared rule is unmet too.
    missing = SHOOTS_THE_PHONE.replace('["DECISION-01"]', '["DECISION-01", "CEW-02"]')
    code, _, err = _run_sim(tmp_path, capsys, missing, 1)
    assert code == 10 and "got FAIL without the finding(s) CEW-02" in err


def test_drill_run_sim_with_a_met_or_unchecked_expect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    code, out, err = _run_sim(tmp_path, capsys, SHOOTS_THE_PHONE, 1)
    assert code == 0 and "expected" not in err
    assert json.loads(out)["expect"]["met"] is True
    # `expect` is declared for seed 1: at another seed the verdict is not checked, and says so.
    wrong = SHOOTS_THE_PHONE.replace('outcome = "FAIL"', 'outcome = "PASS"')
    code, out, err = _run_sim(tmp_path, capsys, wrong, 4)
    assert code == 0
    assert "phone-shoot-v1 expects PASS [DECISION-01] at seed 1: not checked at seed 4" in err
    assert json.loads(out)["expect"]["checked"] is False


# -- 17: stage numbers, shot-line columns, whole numbers, reloads, distances -------------------

TEN_STRINGS = (
    """\
id = "ten-strings-v1"
version = 1
title = "Ten strings"
source = "mine"
pass_mark = { points = 1 }

[[stages]]
name = "3 yd"
"""
    + "".join(
        """[[stages.strings]]
distance_yd = 3.0
rounds = 1
par_time_s = 3.0
"""
        for _ in range(10)
    )
    + """
[[stages]]
name = "7 yd"
min_points = 2
[[stages.strings]]
distance_yd = 7.0
rounds = 1
par_time_s = 3.0
"""
)


def test_stages_are_numbered_from_1_where_a_range_master_reads_them() -> None:
    from drills.course import stage_label

    assert stage_label(0, "3 yd") == "stage 1: 3 yd"
    assert stage_label(1, "7 ft, close quarter") == "stage 2: 7 ft, close quarter"
    # The FBI course's names begin with their number: not numbered twice.
    assert stage_label(0, "1: 3 yd") == "stage 1: 3 yd"
    assert stage_label(0, "15 yd") == "stage 1: 15 yd"  # 15 is not stage 1's number


def test_course_show_run_and_a_stage_minimum_number_the_stages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scoring.course import score_attempt

    shown = _main_out(capsys, ["course", "show", "kansas-style-70-v1"])
    assert [line for line in shown.splitlines() if line.startswith("Stage")] == [
        "Stage 1: 3 yd",
        "Stage 2: 7 yd",
        "Stage 3: 15 yd",
        "Stage 4: 25 yd",
    ]
    course = parse_course(TEN_STRINGS, "ten.toml")
    assert "stage 2: 7 yd: 0 points, 2 needed" in score_attempt(course).reasons
    path = tmp_path / "ten.toml"
    path.write_text(TEN_STRINGS, encoding="utf-8")
    ran = _main_out(capsys, ["course", "run", str(path), "--seed", "1", "--no-save"])
    assert "\n  stage 1: 3 yd " in ran and "\n  stage 2: 7 yd " in ran


def test_records_show_keeps_its_shot_columns_from_string_10_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`stage 1 string 10    0.60 s` lost the time column's alignment."""
    import re

    from range.records.store import Records

    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with Records.open(db) as records:
        records.add_officer("4411", "Ofc. Rivera", "Metro PD")
    path = tmp_path / "ten.toml"
    path.write_text(TEN_STRINGS, encoding="utf-8")
    argv = ["course", "run", str(path), "--badge", "4411", "--seed", "1", "--db", db]
    _main_out(capsys, [*argv, "--runs-dir", str(tmp_path / "runs")])
    shown = _main_out(capsys, ["records", "show", "1", "--db", db])
    lines = [line for line in shown.splitlines() if re.search(r"stage \d+ string \d+", line)]
    assert len(lines) == 11, shown
    times = {re.search(r"\d+\.\d\d s", line).start() for line in lines}  # type: ignore[union-attr]
    assert len(times) == 1, lines


def test_an_integer_field_refuses_a_float_the_same_way_everywhere() -> None:
    """`version = 1.0` was accepted (drills and courses) while `rounds = 8.0` was refused."""
    from drills.schema import parse_drill

    version = _refusal(_c1().replace("version = 1\n", "version = 1.0\n"), "cv.toml")
    rounds = _refusal(_c1().replace("rounds = 8\n", "rounds = 8.0\n", 1), "cr.toml")
    assert "cv.toml:2: version: a whole number is needed, not 1.0" in version
    assert "rounds: a whole number is needed, not 8.0" in rounds
    text = (DRILLS / "phone-draw-v1.toml").read_text(encoding="utf-8")
    assert "\nversion = 1\n" in text
    with pytest.raises(DataFileError, match=r"version: a whole number is needed, not 1\.0"):
        parse_drill(text.replace("\nversion = 1\n", "\nversion = 1.0\n"), "dv.toml")


def test_a_reload_string_too_long_for_two_magazines_says_two() -> None:
    """It said '35 rounds in one magazine ... (reload = true splits the string in two)' of a
    string that had reload = true already."""
    message = _refusal(_c1().replace("rounds = 8\n", "rounds = 35\n", 1), "c.toml")
    assert "35 rounds with one reload: the pistol's two magazines hold 34 (17 each)" in message


def test_a_course_string_nearer_than_a_subject_may_stand_is_refused() -> None:
    message = _refusal(_c1().replace("distance_yd = 7.0", "distance_yd = 0.1"), "c.toml")
    assert "c.toml:15: stages[0].strings[0].distance_yd: 0.1 yd is nearer than a target" in (
        message
    )
    assert "allowed 0.5 yd (1.5 ft) <= distance" in message


def test_force_after_resistance_ended_does_not_call_it_a_threat() -> None:
    """STOP-02 said "s's threat ended" of a subject who only ever resisted actively."""
    from test_rules import end, phase, say, start, taser

    from scoring.policy import default_policy
    from scoring.score import score_run

    log = [
        *start(),
        phase(0, "active_resistance"),
        say(0.5),
        taser(1.0),
        phase(1.5, "compliant"),
        taser(5.0),
        end(6),
    ]
    stops = [
        f.message for f in score_run(log, default_policy()).findings if f.rule.startswith("STOP-")
    ]
    assert stops and all("s's resistance ended (compliant)" in m for m in stops), stops
    assert not any("threat" in m for m in stops)


def test_a_run_summary_says_it_was_suspended_and_resumed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`demo --unplug-at` suspends and resumes; only the log said so, not the summary."""
    out = _main_out(capsys, ["demo", "--seed", "7", "--unplug-at", "3.0", "--no-save"])
    assert (
        "Suspended:         at 3.00 s (no answer from taser SIM-TASER-0001), resumed once taser"
        " SIM-TASER-0001 was re-attached" in out
    )
    assert "Suspended:" not in _main_out(capsys, ["demo", "--seed", "7", "--no-save"])


def test_a_suspension_never_resumed_is_said() -> None:
    from drills.log import LogRecord
    from range.cli.summary import suspension_lines

    records = [LogRecord(2.5, "run_suspended", {"reason": "no answer from pistol P-1"})]
    assert suspension_lines(records) == [
        "Suspended:         at 2.50 s (no answer from pistol P-1), never resumed"
    ]


def test_replay_as_nobody_names_the_choices_plainly() -> None:
    """It said "choose officer, subject, bystander or one of subject"."""
    from drills.schema import builtin_drills
    from range.review.replay import ReplayError, Viewpoint

    drills = builtin_drills()
    lone = next(d for d in drills.values() if [s.id for s in d.subjects] == ["subject"])
    with pytest.raises(ReplayError) as caught:
        Viewpoint.parse("nobody", lone)
    assert str(caught.value).endswith("no such person: choose officer, subject or bystander")
    with pytest.raises(ReplayError) as caught:
        Viewpoint.parse("nobody", drills["phone-draw-v1"])
    assert "choose officer, subject, bystander, or a subject's id (man)" in str(caught.value)


def test_demo_checks_the_expect_of_an_officer_script_it_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`demo --officer SCRIPT` ran a script whose `expect` did not hold and exited 0; the
    demo's own default script is not checked (it runs at a random seed)."""
    import contextlib
    import io
    import json

    from range.cli.main import main

    wrong = SHOOTS_THE_PHONE.replace(
        'expect = { outcome = "FAIL", rules = ["DECISION-01"] }',
        'expect = { outcome = "PASS", rules = [] }',
    )
    path = tmp_path / "script.toml"
    path.write_text(wrong, encoding="utf-8")
    argv = ["demo", "--drill", "phone-draw-v1", "--officer", str(path), "--seed", "1"]
    capsys.readouterr()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main([*argv, "--no-save", "--json"])
    assert code == 10, capsys.readouterr().err
    assert json.loads(out.getvalue())["expect"]["met"] is False
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(["demo", "--seed", "1", "--no-save", "--json"])
    assert code == 0 and "expect" not in json.loads(out.getvalue())
