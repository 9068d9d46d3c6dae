"""rc21 #4: a FIFO (or a device) named as a data file, or lying in a lane's profiles folder,
hung every reader in `open` (a FIFO blocks until a writer comes). physics.datafiles.read_bytes
reads only a regular file, and at most MAX_DATA_FILE_BYTES of it."""

from __future__ import annotations

import contextlib
import io
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from physics.datafiles import DataFileError, read_bytes
from range.cli.main import main
from range.runs.lanefile import load_lane


@contextlib.contextmanager
def _no_hang(seconds: int = 20) -> Iterator[None]:
    """A hang becomes a failure (the reader blocked in open), not a stuck suite."""

    def hung(signum: int, frame: object) -> None:
        raise AssertionError(f"still reading after {seconds} s: blocked on the FIFO")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize(
    "argv",
    [
        ["drill", "validate"],
        ["course", "validate"],
        ["drill", "show"],
        ["speech", "phrases", "--phrases"],
    ],
)
def test_a_fifo_named_as_a_data_file_is_refused_not_read(tmp_path: Path, argv: list[str]) -> None:
    fifo = tmp_path / "ff.toml"
    os.mkfifo(fifo)
    err = io.StringIO()
    with _no_hang(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main([*argv, str(fifo)])
    assert status in (1, 2)
    assert f"{fifo}: not a regular file (a FIFO (named pipe)): a data file is a TOML file" in (
        err.getvalue()
    )


def test_a_fifo_in_a_lanes_profiles_folder_is_refused_by_line(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    os.mkfifo(profiles / "T7-0007.toml")
    lane = tmp_path / "lane.toml"
    lane.write_text(
        'version = 1\nname = "Lane F"\nports = ["/dev/tty"]\n'
        f'[calibration]\nprofiles = "{profiles}"\n'
    )
    with _no_hang(), pytest.raises(DataFileError) as caught:
        load_lane(lane)
    assert "a profile is refused" in str(caught.value)
    assert "not a regular file (a FIFO (named pipe)): a profile is a TOML file" in str(caught.value)


def test_a_data_file_over_the_cap_is_not_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * 2048)
    assert read_bytes(big, max_bytes=4096) == b"#" * 2048
    with pytest.raises(DataFileError, match=r"too large \(2048 bytes; at most 1 KiB are read\)"):
        read_bytes(big, max_bytes=1024, what="a drill")
