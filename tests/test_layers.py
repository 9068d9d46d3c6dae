"""The layer contract in pyproject.toml (import-linter): a lower package never imports a higher one.

`range` sits on top, then `scoring`, then `drills`, then `physics` and `peripherals`, which know
nothing of each other. The second test breaks the same contract on purpose in a throwaway copy of
the package layout, so a contract that had stopped checking anything would fail here too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(folder: Path) -> subprocess.CompletedProcess[str]:
    # lint-imports reads the contract from the folder's pyproject.toml and imports the packages
    # from the folder itself, never from the installed project.
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_project_keeps_its_layers() -> None:
    run = _lint(PROJECT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in ("range", "scoring", "drills", "physics", "peripherals"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "range" / "cli.py").write_text("from drills import engine\n")
    (tmp_path / "drills" / "engine.py").write_text("from physics import world\n")
    (tmp_path / "physics" / "world.py").write_text("")
    assert _lint(tmp_path).returncode == 0

    # physics reaching up into drills, and peripherals across into physics: both refused.
    (tmp_path / "physics" / "world.py").write_text("from drills import engine\n")
    (tmp_path / "peripherals" / "driver.py").write_text("from physics import world\n")
    run = _lint(tmp_path)
    assert run.returncode != 0
    assert "physics.world -> drills.engine" in run.stdout
    assert "peripherals.driver -> physics.world" in run.stdout
