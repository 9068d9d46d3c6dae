"""`openrange course run` on a lane file: the file's ports, hand, calibration gate and display,
under the options given (range/cli/records.py `_lane_options`), without a runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from range.cli.main import build_parser, main
from range.cli.records import _lane_options

LANE = """version = 1
name = "Lane 3"
ports = ["/dev/tty", "/dev/ptmx"]
hand = "left"
headless = true
[calibration]
required = true
profiles = "profiles"
"""


def _args(*argv: str) -> object:
    args = build_parser().parse_args(["course", "run", "fbi-pistol-2019-v1", *argv])
    _lane_options(args)
    return args


def test_the_lane_file_gives_ports_hand_calibration_and_display(tmp_path: Path) -> None:
    lane = tmp_path / "lane3.toml"
    lane.write_text(LANE)  # its ports and profile folder exist: a lane file is checked up front
    (tmp_path / "profiles").mkdir()
    args = _args("--lane", str(lane))
    assert args.port == ["/dev/tty", "/dev/ptmx"]  # type: ignore[attr-defined]
    assert args.hand == "left" and args.headless and not args.mirror  # type: ignore[attr-defined]
    assert args.require_calibration  # type: ignore[attr-defined]
    assert args.profiles == tmp_path / "profiles"  # type: ignore[attr-defined]
    # Options given override the file's: a port, the hand, and drawing in the headset.
    args = _args("--lane", str(lane), "--port", "/dev/ttyUSB9", "--hand", "tracker", "--mirror")
    assert args.port == ["/dev/ttyUSB9"] and args.hand == "tracker"  # type: ignore[attr-defined]
    assert not args.headless and args.mirror  # type: ignore[attr-defined]


def test_without_a_lane_file_a_live_course_draws_in_the_headset() -> None:
    args = _args("--port", "/dev/ttyACM0")
    assert not args.headless and not args.mirror and args.hand == "right"  # type: ignore[attr-defined]
    assert _args("--port", "/dev/ttyACM0", "--headless").headless  # type: ignore[attr-defined]
    assert _args().port == [] and not _args().headless  # type: ignore[attr-defined]


def test_display_options_without_a_live_attempt_are_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["course", "run", "fbi-pistol-2019-v1", "--headless", "--no-save"]) == 2
    err = capsys.readouterr().err
    assert "--headless and --mirror are for a live attempt" in err and "Traceback" not in err
    assert (
        main(["course", "run", "fbi-pistol-2019-v1", "--port", "x", "--headless", "--mirror"]) == 2
    )
    err = capsys.readouterr().err
    assert "leave out --headless" in err and "Traceback" not in err
