"""Lane files' `headless` and `mirror` keys (docs/lanes.md): validated, and overridden by the
command line's `--[no-]headless` / `--[no-]mirror`."""

from __future__ import annotations

from pathlib import Path

import pytest

from physics.datafiles import DataFileError
from range.cli.main import main
from range.runs.lanefile import display, load_lane

# A port that exists: a lane file's ports are checked up front (tests/test_nu12d.py).
HEAD = 'version = 1\nname = "Lane 3"\nports = ["/dev/tty"]\n'


def _lane(tmp_path: Path, keys: str) -> Path:
    path = tmp_path / "lane3.toml"
    path.write_text(HEAD + keys)
    return path


def test_the_keys_default_to_a_headset_without_a_mirror(tmp_path: Path) -> None:
    lane = load_lane(_lane(tmp_path, ""))
    assert (lane.headless, lane.mirror) == (False, False)
    assert display(lane, None, None) == (False, False)
    assert display(None, None, None) == (False, False)


@pytest.mark.parametrize(
    ("keys", "want"),
    [
        ("headless = true\n", (True, False)),
        ("mirror = true\n", (False, True)),
        ("headless = false\nmirror = false\n", (False, False)),
    ],
)
def test_the_file_s_keys_are_read(tmp_path: Path, keys: str, want: tuple[bool, bool]) -> None:
    lane = load_lane(_lane(tmp_path, keys))
    assert (lane.headless, lane.mirror) == want
    assert display(lane, None, None) == want


@pytest.mark.parametrize(
    ("keys", "headless", "mirror", "want"),
    [
        ("headless = true\n", False, None, (False, False)),  # --no-headless: drawn
        ("headless = true\n", None, True, (False, True)),  # --mirror drops the file's headless
        ("mirror = true\n", True, None, (True, False)),  # --headless drops the file's mirror
        ("mirror = true\n", None, False, (False, False)),  # --no-mirror
        ("", True, None, (True, False)),
        ("", None, True, (False, True)),
    ],
)
def test_command_line_flags_override_the_file(
    tmp_path: Path,
    keys: str,
    headless: bool | None,
    mirror: bool | None,
    want: tuple[bool, bool],
) -> None:
    assert display(load_lane(_lane(tmp_path, keys)), headless, mirror) == want


def test_both_flags_on_the_command_line_are_refused() -> None:
    with pytest.raises(ValueError, match="leave out --headless"):
        display(None, True, True)


@pytest.mark.parametrize(
    ("keys", "line", "named"),
    [
        ('headless = "yes"\n', 4, "headless"),
        ("mirror = 1\nheadless = false\n", 4, "mirror"),
        ("headless = true\nmirror = true\n", 5, "mirror: mirror draws what the headset shows"),
    ],
)
def test_bad_keys_are_named_by_file_line_and_field(
    tmp_path: Path, keys: str, line: int, named: str
) -> None:
    path = _lane(tmp_path, keys)
    with pytest.raises(DataFileError) as err:
        load_lane(path)
    message = str(err.value)
    assert str(path) in message and named in message
    assert f"{path}:{line}" in message


def test_a_lane_file_asking_for_a_mirror_without_a_headset_is_one_named_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _lane(tmp_path, "headless = true\nmirror = true\n")
    args = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411", "--no-save"]
    assert main([*args, "--lane", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "mirror" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_schema_error_does_not_hide_a_port_named_twice(tmp_path: Path) -> None:
    path = tmp_path / "lane.toml"
    path.write_text(
        'version = 1\nname = "Lane 1"\nports = ["/dev/tty", "/dev/tty", "/dev/ptmx"]\n'
        'hand = "middle"\n'
    )
    with pytest.raises(DataFileError) as err:
        load_lane(path)
    lines = str(err.value).splitlines()
    assert any(f"{path}:4: hand" in line for line in lines)
    assert f"{path}:3: ports[1]: '/dev/tty': a port is named twice" in lines
    assert f"{path}:3: ports[2]: 3 ports: a lane has at most 2 (a firearm and a TASER)" in lines


def test_bad_ports_on_the_command_line_are_refused_up_front_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "by-id-replica"
    link.symlink_to("/dev/tty")
    argv = ["drill", "run", "knife-approach-v1", "--live", "--officer", "4411", "--no-save"]
    cases = [
        (["/dev/tty", "/dev/tty"], "--port: '/dev/tty': a port is named twice"),
        (
            [str(link), "/dev/tty"],
            f"--port: '/dev/tty' is the same device as '{link}': a port is named twice",
        ),
        (
            ["/dev/tty", "/dev/ptmx", "/dev/console"],
            "--port: 3 ports: a lane has at most 2 (a firearm and a TASER)",
        ),
        (
            ["/dev/ttyNOPE"],
            "--port: /dev/ttyNOPE does not exist (is the replica plugged in? ls /dev/serial/by-id)",
        ),
    ]
    for ports, said in cases:
        assert main([*argv, *(a for p in ports for a in ("--port", p))]) == 2
        err = capsys.readouterr().err
        assert err.strip().removeprefix("openrange: ").splitlines() == [said]
