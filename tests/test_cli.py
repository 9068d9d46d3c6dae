"""The command line: help that teaches, one-line errors for missing dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from range.cli import main

COMMANDS = ["demo", "score"]


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"\n    {command}" in out
    assert "examples:" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) > 6 and "--json" in out


def test_python_dash_m_range_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "range", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("openrange ")


def test_a_broken_dependency_is_one_line_that_says_what_to_install(tmp_path: Path) -> None:
    # A real broken install: a pybullet module that fails on import, first on the path.
    (tmp_path / "pybullet.py").write_text(
        "raise ImportError('libBulletCollision.so: cannot open')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "range", "demo", "--no-save"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "pybullet" in done.stderr and "pip install pybullet" in done.stderr


def test_an_unknown_drill_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--drill", "no-such-drill-v1", "--no-save"]) == 2
    assert "knife-approach-v1" in capsys.readouterr().err
