"""nu20 #2, #3, #15: emulators' by-id links (docs/protocol.md, "Finding a replica").

#2: an emulator's exit removed the link of another emulator with the same serial; #3: a link
left by a `kill -9`'d emulator pointed at a pty the OS gives to another program, and was opened;
#15: `emulate --unplug-at` counted from the emulator's start, `--trigger-at` from a host's first
session."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from peripherals.driver import ReplicaLink
from peripherals.emulator import PistolEmulator, TaserEmulator
from peripherals.errors import PeripheralNotFoundError
from peripherals.messages import Model
from peripherals.ports import PortDirectory, candidate_ports, default_emulator_dir
from peripherals.registry import SerialTakenError
from physics.datafiles import DataFileError
from range.cli import peripherals as cli_peripherals
from range.cli.main import main
from range.clock import MonotonicClock
from range.runs.lane import LiveLane
from range.runs.lanefile import load_lane

ROOT = Path(__file__).parents[1]


def _until(check: Callable[[], bool], limit_s: float) -> bool:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR, for this process and the emulators it starts."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    yield tmp_path / "run"


def _emulate(*argv: str, stderr: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "range", "peripherals", "emulate", *argv],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
    )


def test_a_second_emulator_waits_for_the_serial_and_the_first_s_exit_keeps_its_link(
    runtime: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """nu20 #2, the report's power cycle: emulator B with A's serial, started while A still
    runs, took A's link without a word, and A's exit then removed B's link. Now B says that A
    holds the serial, waits for A to power off and registers then; A's exit removes only its
    own link. Left running, A makes B refuse after the wait, naming A's pid and port."""
    first = PistolEmulator("DUP-1", MonotonicClock(), directory=default_emulator_dir())
    port_a = first.start()
    link = default_emulator_dir() / "openrange-pistol-DUP-1"
    try:
        with pytest.raises(SerialTakenError, match=f"pid {os.getpid()}, on {port_a}"):
            PistolEmulator("DUP-1", MonotonicClock(), directory=default_emulator_dir()).start()
        monkeypatch.setattr(cli_peripherals, "SERIAL_RELEASE_WAIT_S", 0.3)
        argv = ["peripherals", "emulate", "pistol", "--serial", "DUP-1", "--duration", "1"]
        assert main(argv) == 4
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1] == (
            f"openrange: {link}: already registered by a running emulator (pid {os.getpid()},"
            f" on {port_a}): power it off first (Ctrl-C), or give this one another --serial"
            " (waited 0.3 s)"
        )
        assert os.readlink(link) == port_a  # A's link untouched by B's attempts
        second = _emulate("pistol", "--serial", "DUP-1", "--duration", "5", stderr=subprocess.PIPE)
        try:
            assert second.stderr is not None and second.stdout is not None
            assert "already registered by a running emulator" in second.stderr.readline()
        finally:
            first.stop()  # Ctrl-C on A while B waits
        try:
            port_b = second.stdout.readline().strip()
            assert port_b.startswith("/dev/pts/")
            time.sleep(0.2)  # A is gone: its exit must not have taken B's link with it
            assert os.readlink(link) == port_b
            assert candidate_ports([default_emulator_dir()]).count(str(link)) == 1
        finally:
            second.send_signal(signal.SIGINT)
            second.wait(5)
    finally:
        first.stop()
    assert not link.exists()  # B removed its own link on its way out


def test_unregister_leaves_a_link_that_points_at_another_port(tmp_path: Path) -> None:
    """nu20 #2: `unregister()` unlinked the name whatever it pointed at."""
    emulator = TaserEmulator(Model.TASER_7, "T7-0007", MonotonicClock(), directory=tmp_path)
    emulator.start()
    link = tmp_path / "openrange-taser-7-T7-0007"
    other = tmp_path / "elsewhere"
    other.symlink_to("/dev/tty")
    other.replace(link)  # the name now leads to another device
    emulator.stop()
    assert os.readlink(link) == "/dev/tty"


def test_a_killed_emulator_s_link_is_never_opened_and_is_cleaned_up(runtime: Path) -> None:
    """nu20 #3: `kill -9` left the link, and the OS gave its pty to another program: scan, a
    lane file, `--port` and a re-attach by serial would open that program's terminal and write
    IDENTIFY frames into it. The link's owner file is no longer locked: the link is refused by
    name, left out of the candidates and removed, and the next emulator takes the serial."""
    proc = _emulate("taser-7", "--serial", "K9")
    assert proc.stdout is not None
    dead_port = proc.stdout.readline().strip()
    proc.kill()
    proc.wait(5)
    folder = default_emulator_dir()
    link = folder / "openrange-taser-7-K9"
    assert os.readlink(link) == dead_port  # left behind
    master, slave = os.openpty()  # a stranger's terminal: the OS may give it the same number
    try:
        stranger = os.ttyname(slave)
        moved = folder / "moved"
        moved.symlink_to(stranger)
        moved.replace(link)  # as if it had: the link now leads to the stranger's pty
        lane = runtime.parent / "lane3.toml"
        lane.write_text(f'version = 1\nname = "Lane 3"\nports = ["{link}"]\n')
        with pytest.raises(DataFileError) as err:
            load_lane(lane)
        assert str(err.value) == (
            f"{lane}:3: ports[0]: {link}: left by an emulator that is no longer running"
            f" (pid {proc.pid}, on {dead_port}, killed?); not opened: start the emulator again"
        )
        with pytest.raises(PeripheralNotFoundError, match="no longer running"):
            ReplicaLink(str(link), MonotonicClock()).open()
        assert str(link) not in candidate_ports([folder])  # scan and re-attach by serial
        assert not link.is_symlink()
        assert not (folder / "openrange-taser-7-K9.owner").exists()
        assert select.select([master], [], [], 0.2)[0] == []  # nothing written to the stranger
    finally:
        os.close(master)
        os.close(slave)
    # Killed again, and the next `emulate` of the serial takes it over.
    proc = _emulate("taser-7", "--serial", "K9")
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.kill()
    proc.wait(5)
    with TaserEmulator(Model.TASER_7, "K9", MonotonicClock(), directory=folder) as again:
        assert os.readlink(link) == again.port
        assert PortDirectory(folder).model_of("K9") is Model.TASER_7
        assert PortDirectory(folder).ports() == [str(link)]


def test_unplug_at_counts_from_the_host_s_first_session_as_trigger_at_does(runtime: Path) -> None:
    """nu20 #15: `--unplug-at 3` pulled the cable 3 s after the emulator started, with no host
    attached; `--trigger-at` counts from a host's first session. Both count from it now."""
    proc = _emulate(
        "pistol", "--serial", "UNP-1", "--unplug-at", "0.3", "--replug-after", "0.3",
        "--duration", "6",
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        port = proc.stdout.readline().strip()
        time.sleep(0.8)  # well past 0.3 s from the start: no host yet, the cable stays in
        link = default_emulator_dir() / "openrange-pistol-UNP-1"
        assert os.readlink(link) == port
        lane = LiveLane(MonotonicClock(), [port]).open()
        try:
            assert _until(lambda: bool(lane.barrier()), 2.0), "the cable was never pulled"
            assert proc.stdout.readline().strip().startswith("/dev/pts/")  # plugged back in
        finally:
            lane.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(5)
