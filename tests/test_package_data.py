"""Package data is found from the package, never from the current directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_python_m_range_runs_in_a_folder_with_physics_drills_and_scoring_subfolders(
    tmp_path: Path,
) -> None:
    """`python -m range` puts the current directory first on the import path; a trainer's
    folder holding `physics/` (or `drills/`, `scoring/`) must not hide the package's data."""
    for name in ("physics", "drills", "scoring"):
        (tmp_path / name / "data").mkdir(parents=True)
    demo = subprocess.run(
        [sys.executable, "-m", "range", "demo", "--seed", "1", "--no-save", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert '"drill": "knife-approach-v1"' in demo.stdout
    courses = subprocess.run(
        [sys.executable, "-m", "range", "course", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert courses.returncode == 0, courses.stderr
    assert "fbi-pistol-2019-v1" in courses.stdout
