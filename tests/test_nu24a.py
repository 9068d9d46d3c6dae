"""nu24 (f24a): agency policy files: unknown cartridges and acts refused (#1), the policy applied
at run time (#2), a file from a newer OpenRange (#13), contradictory rows (#14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from physics.datafiles import DataFileError
from scoring.policy import load_policy

DEFAULT = Path(__file__).resolve().parents[1] / "scoring" / "data" / "policy-default.toml"


def policy_file(tmp_path: Path, old: str, new: str, name: str = "p.toml") -> Path:
    text = DEFAULT.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_unknown_cartridge_in_cartridge_range_ft_is_refused(tmp_path: Path) -> None:
    # nu24 #1: "taser7-qc" was a missing row: CEW-08 stopped judging the CQ cartridge unsaid.
    path = policy_file(tmp_path, '"taser7-cq" = [0.0, 16.0]', '"taser7-qc" = [0.0, 16.0]')
    with pytest.raises(DataFileError) as caught:
        load_policy(path)
    line = line_of(path, "taser7-qc")
    assert str(caught.value) == (
        f"{path}:{line}: settings[9].ranges_ft.taser7-qc: cartridge_range_ft: 'taser7-qc' is not"
        " a known cartridge (known: taser10, taser7-cq, taser7-standoff, x2-25ft, x26p-21ft,"
        " x26p-25ft)"
    )


def test_unknown_act_in_conflicting_commands_is_refused(tmp_path: Path) -> None:
    # nu24 #1: "command.get_dwn" is never heard, so VERBAL-04 never judged the pair.
    path = policy_file(
        tmp_path, '"command.get_down|command.stop"', '"command.get_down|command.get_dwn"'
    )
    with pytest.raises(DataFileError) as caught:
        load_policy(path)
    line = line_of(path, "command.get_dwn")
    assert str(caught.value) == (
        f"{path}:{line}: settings[16].words[0]: conflicting_commands: 'command.get_dwn' in"
        " 'command.get_down|command.get_dwn' is not a command act of the built-in phrase book"
        " (known: command.drop_weapon, command.get_down, command.show_hands, command.step_back,"
        " command.stop)"
    )
