"""l24b: the CLI's tables in terminal columns (nu23 #9), the report's threat chart drops to none
where the log says the subject went down (nu23 #9), the x26p-21ft cartridge hits at 21 ft, and
every subcommand's --help shows examples that parse."""

from __future__ import annotations

import argparse
import itertools
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from newuser_support import run_cli

from range.cli.columns import column_width, display_width, pad
from range.runs.drill import RunResult

WIDE_OFFICER = "Ofc. Zoë 李 🚓"


def _run(
    drill: str, officer: str, seed: int, runs_dir: Path, officer_name: str = "scripted"
) -> RunResult:
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    config = RunConfig(
        find_drill(drill),
        find_officer(officer),
        seed,
        runs_dir=runs_dir,
        officer_name=officer_name,
    )
    return run_drill(config)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    """Three real simulated runs: the knife drill's subject TASERed down (seed 1, played by an
    officer whose name holds a wide character and an emoji), shot down (seed 2), and a
    shoplifter shot in the back (a FAIL with the longest decision)."""
    runs_dir = tmp_path_factory.mktemp("runs")
    return {
        "tased": _run("knife-approach-v1", "taser-first-v1", 1, runs_dir, WIDE_OFFICER),
        "shot": _run("knife-approach-v1", "taser-first-v1", 2, runs_dir),
        "fail": _run("fleeing-shoplifter-v1", "fleeing-shoplifter-shoots-v1", 4, runs_dir),
    }


# --- 1. tables in terminal columns -------------------------------------------------------------


def test_display_width_counts_the_columns_a_terminal_draws() -> None:
    assert display_width("Ofc. Zoë") == 8
    assert display_width("Zoe\u0308") == 3  # a combining diaeresis takes no column
    assert display_width("李") == display_width("🚓") == display_width("Ａ") == 2
    assert display_width("👨\u200d👩\u200d👧") == 2  # one family picture, joined
    assert display_width("👍🏽") == 2  # a skin tone drawn into the hand
    assert display_width(WIDE_OFFICER) == 14  # 12 code points
    assert pad("李", 4) == "李  " and pad("李", 4, ">") == "  李"
    assert pad("longer than", 4) == "longer than"
    assert column_width(["李李", "abc"], 2) == 4


def _column_of(line: str, needle: str) -> int:
    """The display column where `needle` starts in `line`."""
    return display_width(line[: line.index(needle)])


def test_the_score_table_keeps_its_columns_with_wide_names_and_long_decisions(
    runs: dict[str, RunResult], capsys: pytest.CaptureFixture[str]
) -> None:
    # nu23 #9: the row of "Ofc. Zoë 李 🚓 (SIMULATED)" sat two columns right of the others, and
    # "critical failure: force on a subject who posed no threat" ran into the run's folder.
    dirs = [str(r.run_dir) for r in runs.values()]
    out, _ = run_cli(capsys, ["score", *dirs])
    lines = out.splitlines()
    scored = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    assert len(scored) == 3
    starts = {_column_of(line, "/") for line in scored}
    assert len(starts) == 1, scored  # every run folder starts in one column
    fail = next(line for line in scored if line.startswith("FAIL"))
    assert "posed no threat  /" in fail  # the decision ends before the folder, two spaces
    header = next(line for line in lines if line.startswith("officer"))
    rows = lines[lines.index(header) + 1 :]
    wide = next(line for line in rows if line.startswith(WIDE_OFFICER))
    other = next(line for line in rows if line.startswith("scripted"))
    end = display_width(header[: header.index("shoot runs") + len("shoot runs")])
    for row in (wide, other):  # the count ends under its heading's end, in display columns
        cut = next(i for i in range(len(row) + 1) if display_width(row[:i]) == end)
        assert row[cut - 1].isdigit() and row[cut] == " ", (header, row)


def test_the_officers_table_lines_up_wide_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from range.records.store import Records

    url = f"sqlite:///{tmp_path / 'records.sqlite'}"
    with Records.open(url) as records:
        records.add_officer("4411", "J. Rivera", "Metro PD")
        records.add_officer("4412", "李 小龍 🚓", "Metro PD")
    out, _ = run_cli(capsys, ["records", "officers", "--db", url])
    rows = [line for line in out.splitlines() if line.startswith("44")]
    assert len(rows) == 2 and len({_column_of(row, "Metro PD") for row in rows}) == 1, rows


# --- 2. the threat chart drops to none ---------------------------------------------------------


def _drop(result: RunResult) -> float:
    from range.review.report import threat_steps

    steps = threat_steps(result.records)["subject"]
    pairs = itertools.pairwise(steps)
    (t,) = [t for (_, before, _), (t, level, _) in pairs if before and not level]
    return t


@pytest.mark.parametrize("which", ["tased", "shot"])
def test_the_threat_chart_shows_the_drop_to_none(runs: dict[str, RunResult], which: str) -> None:
    # nu23 #9: a subject shot down ends the run one frame later, so the drop to none was the
    # chart's last instant, drawn under the firearm's red line: the line seemed to end at deadly.
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb

    from range.review.report import _threat_figure

    result = runs[which]
    kinds = {r.kind for r in result.records}
    # TASERed: an incapacitation record; shot: a phase whose behaviour is incapacitated.
    assert ("incapacitation_started" in kinds) == (which == "tased")
    t = _drop(result)
    if which == "shot":  # shot down: the run ends one frame after the drop
        assert t == pytest.approx(result.duration_s, abs=0.05)
    fig = _threat_figure(result.records)
    try:
        ax = fig.axes[0]
        (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "subject"]
        labels = [a.get_text() for a in ax.texts]
        assert f"incapacitated {t:.2f} s" in labels
        # The drop, halfway down its vertical, is drawn in the subject's colour on top.
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())[:, :, :3] / 255
        x, y = ax.transData.transform((t, 2.0))  # pixels from the bottom left
        row = pixels.shape[0] - round(y)
        col = round(x)
        near = pixels[row, col - 1 : col + 2]
        colour = np.array(to_rgb(line.get_color()))
        assert min(np.abs(near - colour).max(axis=1)) < 0.1, near
    finally:
        plt.close(fig)


# --- 3. a cartridge reaches its rated range ----------------------------------------------------


def test_the_21_ft_cartridge_hits_at_21_ft_and_not_past_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # l24b: `analyze spread --cartridge x26p-21ft --distance 21ft` gave 0 % both-probe hits:
    # the wire was 21 ft of path, and the bottom probe, 8 deg below the top one, reaches a
    # subject at 21 ft on his shins 21.3 ft along its path. The default policy rates the
    # cartridge to 21 ft (CEW-08, docs/scoring.md); a hit there is now possible, and a
    # subject well past it is out of the wire's reach.
    from physics.analysis import spread_study
    from physics.taser import cartridge
    from scoring.policy import default_policy

    low, high = default_policy().values.cartridge_range_ft["x26p-21ft"]
    assert (low, high) == (0, 21)
    near, rated, past = spread_study(
        cartridge("x26p-21ft"), [20.0, high, high + 1], 1000, np.random.default_rng(0)
    )
    assert near.p_both_hit > 0.85
    assert rated.p_both_hit > 0.8 * near.p_both_hit  # was 0.0
    assert past.p_both_hit == 0.0
    # The CLI warns past the rated range only.
    out, err = run_cli(
        capsys,
        [
            "analyze",
            "spread",
            "--cartridge",
            "x26p-21ft",
            "--distance",
            "21,22ft",
            "--trials",
            "50",
        ],
    )
    assert err == (
        "openrange: x26p-21ft is rated to 21 ft; past it (at 22 ft) a probe may run out of wire"
        " short of the subject\n"
    )
    assert "   21.0 ft" in out and "   22.0 ft      0.0%" in out


def test_spread_distances_keep_their_hundredths(capsys: pytest.CaptureFixture[str]) -> None:
    # --step 0.05 printed 20.55 and 20.6 both as "20.6 ft".
    argv = ["analyze", "spread", "--cartridge", "x26p-21ft", "--distance", "20.5..20.6ft"]
    out, _ = run_cli(capsys, [*argv, "--step", "0.05", "--trials", "10"])
    assert [line.split(" ft")[0].strip() for line in out.splitlines()[2:]] == [
        "20.50",
        "20.55",
        "20.60",
    ]


# --- 4. every command's help shows examples that parse ------------------------------------------


def _parsers() -> list[tuple[list[str], argparse.ArgumentParser]]:
    """Every command and subcommand's parser, by its words after `openrange` (an alias once)."""
    from range.cli.main import build_parser

    found: list[tuple[list[str], argparse.ArgumentParser]] = []
    seen: set[int] = set()

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        if id(parser) in seen:
            return
        seen.add(id(parser))
        found.append((words, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*words, name])

    walk(build_parser(), [])
    return found


def _examples(parser: argparse.ArgumentParser) -> list[str]:
    """The example commands of a parser's epilog: each line that starts `openrange`, joined to
    the next where it ends in a backslash, without what follows two spaces (its gloss) or a
    pipe."""
    text = parser.epilog or ""
    assert text.startswith(("example:", "examples:")), text[:40]
    commands: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip().startswith("openrange "):
            continue
        while line.endswith("\\"):
            line = line[:-1] + next(lines).strip()
        command = re.split(r"\s{2,}|\s\|\s", line.strip())[0]
        commands.append(command)
    return commands


def test_every_command_has_help_examples_that_parse() -> None:
    # l24b: 25 commands and subcommands had no examples in --help (course list/show/validate,
    # the console's user commands, speech recognize/listen/phrases/say, ...).
    from range.cli.main import build_parser

    parsers = _parsers()
    parse = build_parser().parse_args  # one parser: parsing leaves it as it was
    assert len(parsers) >= 58
    without = [" ".join(words) for words, parser in parsers if not parser.epilog]
    assert without == [], f"no examples in --help: {without}"
    problems = []
    for words, parser in parsers:
        assert "examples:" in parser.format_help() or "example:" in parser.format_help()
        examples = _examples(parser)
        if not examples:
            problems.append(f"{' '.join(words)}: no `openrange ...` example")
        for example in examples:
            argv = shlex.split(example)
            if argv[: len(words) + 1] != ["openrange", *words]:
                problems.append(f"{' '.join(words)}: {example!r} is another command's")
                continue
            try:
                parse(argv[1:])
            except SystemExit:
                problems.append(f"{' '.join(words)}: {example!r} does not parse")
    assert problems == []
