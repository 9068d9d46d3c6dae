"""nu23 (instructor review, scripting): CEW-08's advice, `score --json` over several runs,
interrupted empathy scenes' messages, help text."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import pytest
from test_rules import MUZZLE, phase, pos, rec, start

from drills.log import LogRecord
from drills.officer import find_officer
from drills.schema import builtin_drills, find_drill
from range.cli.main import main
from range.runs.drill import RunConfig, RunResult, run_drill
from scoring.policy import default_policy
from scoring.score import score_run


@pytest.fixture(scope="module")
def demo7(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The flagship demo at seed 7 as nu23 played it (before nu26 #6 made its officer wait for
    the Close Quarter bay's range): the Standoff bay misses, then the CQ bay fires at 18 ft."""
    config = RunConfig(
        find_drill("knife-approach-v1"),
        find_officer(str(Path(__file__).parent / "data/nu26/taser-first-hasty-v1.toml")),
        7,
        runs_dir=tmp_path_factory.mktemp("runs"),
    )
    return run_drill(config)


def _cew08(records: list[LogRecord]) -> list[str]:
    return [f.message for f in score_run(records, default_policy()).findings if f.rule == "CEW-08"]


def test_nu23_4_the_demo_is_not_told_to_use_the_cartridge_it_already_fired(
    demo7: RunResult,
) -> None:
    texts = _cew08(demo7.records)
    assert len(texts) == 1
    assert texts[0].endswith("taser7-standoff fits that distance, but none was left loaded")
    header = demo7.records[0].data
    taser = [d for d in header["devices"] if d["model"] == "taser-7"]
    assert taser[0]["cartridges"] == ["taser7-standoff", "taser7-cq"]


def _fired(t: float, bay: int, cartridge: str) -> LogRecord:
    return rec(
        t,
        "officer_action",
        action="taser_fired",
        subject="s",
        cartridge=cartridge,
        serial="T1",
        bay=bay,
        muzzle=MUZZLE,
    )


def _log(loads: list[str | None] | None, fired: list[LogRecord]) -> list[LogRecord]:
    head = start(subject_at=(6.1, 0.0))[0]
    device: dict[str, object] = {"model": "taser-7", "serial": "T1", "firmware": "x"}
    if loads is not None:
        device["cartridges"] = loads
    data = {k: v for k, v in head.data.items() if k not in ("t", "kind")}
    return [
        rec(0.0, "run_started", **data, devices=[device]),
        phase(0, "assaultive"),
        pos(0.0, (0.0, 0.0), s=(6.1, 0.0)),  # 20 ft
        *fired,
    ]


@pytest.mark.parametrize(
    ("loads", "fired", "advice"),
    [
        # The Standoff still in bay 0: named, as still loaded.
        (
            ["taser7-standoff", "taser7-cq"],
            [_fired(0.5, 1, "taser7-cq")],
            "; taser7-standoff, still loaded, fits that distance",
        ),
        # Both bays CQ: nothing that fits was ever loaded.
        (
            ["taser7-cq", "taser7-cq"],
            [_fired(0.5, 0, "taser7-cq")],
            "; taser7-standoff fits that distance, but none was left loaded",
        ),
        # An older log with no loads: what this TASER already fired is not offered.
        (
            None,
            [_fired(0.3, 0, "taser7-standoff"), _fired(0.5, 1, "taser7-cq")],
            "; taser7-standoff fits that distance, but it was already fired",
        ),
        (None, [_fired(0.5, 1, "taser7-cq")], "; taser7-standoff fits that distance"),
    ],
)
def test_nu23_4_cew08_names_only_a_cartridge_still_loaded(
    loads: list[str | None] | None, fired: list[LogRecord], advice: str
) -> None:
    texts = _cew08(_log(loads, fired))
    assert texts[-1].startswith("taser7-cq fired at 20.0 ft")
    assert texts[-1].endswith(advice)


def test_nu23_3_score_json_of_several_runs_names_each_and_keeps_the_order(
    demo7: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = demo7.run_dir
    assert run_dir is not None
    no_drill = tmp_path / "nodrill"
    shutil.copytree(run_dir, no_drill)
    (no_drill / "drill.toml").unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["score", str(run_dir), str(no_drill), str(empty), str(run_dir), "--json"]) == 1
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run_dir"] for r in runs] == [str(run_dir), str(no_drill), str(empty), str(run_dir)]
    assert [(r["drill"], r["seed"]) for r in runs] == [("knife-approach-v1", 7)] * 2 + [
        (None, None),
        ("knife-approach-v1", 7),
    ]
    assert "error" not in runs[0] and runs[0]["score"] == runs[3]["score"] is not None
    assert "drill.toml: missing" in runs[1]["error"] and "score" not in runs[1]
    assert "holds no events.jsonl" in runs[2]["error"]


def _cartridge_range_row() -> str:
    doc = (Path(__file__).parent.parent / "docs" / "scoring.md").read_text()
    (row,) = [line for line in doc.splitlines() if line.startswith("| cartridge_range_ft |")]
    return row


@pytest.mark.parametrize(
    ("cartridge", "distances", "quoted"),
    [
        ("taser7-cq", "15..21ft", {15: "81.4", 16: "61.0", 17: "29.4", 18: "8.8", 19: "1.2"}),
        # Re-measured for l24b: the wire reaches a subject's feet at the rated range.
        ("x26p-25ft", "22..25ft", {22: "81.9", 23: "66.2", 24: "42.5", 25: "20.3"}),
        ("x2-25ft", "22..25ft", {22: "82.8", 23: "68.2", 24: "44.9", 25: "22.4"}),
        # l24b: 0.0 % at 21 ft before, the cartridge's own rated range.
        ("x26p-21ft", "19..22ft", {19: "95.3", 20: "92.8", 21: "88.8", 22: "0.0"}),
    ],
)
def test_nu23_5_the_docs_spread_figures_are_the_tools(
    cartridge: str, distances: str, quoted: dict[int, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/scoring.md quotes `analyze spread` (10,000 trials, seed 0): the figures must be what
    the tool prints, and the settings the 'half its best' rule derives from them."""
    row = _cartridge_range_row()
    argv = ["analyze", "spread", "--cartridge", cartridge, "--distance", distances, "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    measured = {round(r["distance_ft"]): f"{100 * r['p_both_hit']:.1f}" for r in rows}
    assert {d: measured[d] for d in quoted} == quoted  # the rows a sequence of draws gives
    for distance, pct in quoted.items():
        assert f"{pct} % at {distance} ft" in row
    assert f"--cartridge {cartridge} --distance {distances}" in row
    best = max(float(p) for p in measured.values())
    setting = max(d for d, p in measured.items() if float(p) >= 50.0)  # half of 100 % up close
    assert best < 100.0 and f"{cartridge} 0-{setting} ft" in row


@pytest.fixture(scope="module")
def unanswered() -> RunResult:
    """An empathy scene run to its end with its debrief left unanswered (stdin not a terminal)."""
    drill = builtin_drills()["empathy-crisis-voices-v1"]
    assert drill.expected_officer is not None
    return run_drill(RunConfig(drill, find_officer(drill.expected_officer), 1, debrief=None))


def test_nu23_7_an_unanswered_or_killed_debrief_counts_the_scenes_questions(
    unanswered: RunResult,
) -> None:
    assert unanswered.records[0].data["debrief_questions"] == 3
    said = "no debrief question answered (0 of 3)"
    assert unanswered.score.incomplete.startswith(said)
    # Killed at the debrief prompt: the log ends at run_ended, with no answer records.
    killed = [r for r in unanswered.records if r.kind != "debrief_answer"]
    assert killed[-1].kind == "run_ended"
    score = score_run(killed, default_policy())
    assert score.incomplete.startswith(said)
    assert score.decision == "empathy scene: completed; 0 of 3 debrief questions answered"


def test_nu23_7_records_say_the_debrief_went_unanswered_not_cut_short(
    unanswered: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import Records

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        records.add_drill_run("4411", unanswered.as_json())
    assert main(["records", "history", "4411", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "no decision: no debrief question answered (0 of 3)" in out
    assert "cut short" not in out
    assert main(["records", "show", "--drill-run", "1", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "no decision: no debrief question answered (0 of 3); not graded" in out
    assert main(["records", "history", "4411", "--db", url, "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["drill_runs"]
    assert run["not_decided"] == "no debrief question answered (0 of 3)"


def test_nu23_7_showing_a_drill_run_in_progress_says_what_it_is_and_how_to_close_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import Records

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        number = records.begin_drill_run("4411", "knife-approach-v1", 1, "x", "live")
    assert main(["records", "show", "--drill-run", str(number), "--db", url]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"#{number} is a drill run in progress (badge 4411, knife-approach-v1)" in err
    assert f"`openrange records close --drill-run {number} --by NAME --reason TEXT`" in err
    assert main(["records", "show", "--drill-run", "9", "--db", url]) != 0
    assert (
        capsys.readouterr()
        .err.rstrip()
        .endswith("lists an officer's drill runs with their numbers")
    )


def _subparser(path: list[str]) -> argparse.ArgumentParser:
    from range.cli.main import build_parser

    parser = build_parser()
    for name in path:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize(
    "path",
    [
        "drill list",
        "drill show",
        "drill validate",
        "analyze spread",
        "analyze trajectory",
        "records history",
        "records verify",
        "records incomplete",
        "records close",
        "records export",
        "policy show",
        "speech correct",
        "calibrate list",
        "xr check",
    ],
)
def test_nu23_9_each_subcommand_help_has_an_example_and_a_wrapped_description(path: str) -> None:
    text = _subparser(path.split()).format_help()
    assert re.search(rf"^examples?:\n  openrange {path}\b", text, re.M), text
    described = text.split("\nexample")[0]  # example lines are kept as written
    assert max(len(line) for line in described.splitlines()) <= 100


def test_nu23_9_help_gives_units_defaults_and_ranges() -> None:
    def option(path: str, flag: str) -> str:
        (action,) = [a for a in _subparser(path.split())._actions if flag in a.option_strings]
        return str(action.help)

    assert "default 960x540" in option("replay", "--size")
    assert "in its unit" in option("analyze spread", "--step")
    assert "default 1" in option("analyze spread", "--step")
    assert "default 1" in option("analyze trajectory", "--step")
    assert "0 to 2^63 - 1" in option("drill run", "--seed")


def test_nu23_9_a_negative_instructor_time_gets_its_own_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["drill", "run", "knife-approach-v1", "--no-save", "--instructor", "-3:A"])
    err = capsys.readouterr().err
    assert "argument --instructor: -3: must be 0 or more" in err
    assert "expected one argument" not in err


def test_nu23_9_the_progress_bar_ends_saying_done(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["drill", "run", "active-shooter-v1", "--seed", "1", "--no-save", "--progress", "always"]
    main(argv)
    last = capsys.readouterr().err.split("\r")[-1]
    assert "[" + "#" * 30 + "]" in last and "/12 s  done: completed, " in last


def test_nu23_9_spread_json_has_no_float32_noise(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["analyze", "spread", "--cartridge", "taser7-cq", "--distance", "15ft", "--json"]
    assert main([*argv, "--trials", "200"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["median_spread_in"] == round(row["median_spread_in"], 2)
