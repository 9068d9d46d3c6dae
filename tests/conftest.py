"""Fixtures shared by every test, and the leak check that runs around each one."""

from __future__ import annotations

import atexit
import fcntl
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pybullet as p
import pytest
from xr_sandbox import (
    MonadoSandbox,
    SandboxBuildError,
    SandboxUnavailableError,
    default_root,
)

import drills.log

PROJECT = Path(__file__).resolve().parent.parent

# Emulated replicas register their ports in the runtime folder (peripherals.ports
# default_emulator_dir), and a live lane or `peripherals scan` probes every port there, holding
# its exclusive lock through the handshake. Shared with other test processes (xdist's other
# worker, another checkout's suite, a user's `peripherals emulate`), a probe could take the lock
# of a port another test was about to open ("in use by another program", seen at load 7): each
# test process gets a private one, which the commands the tests start inherit.
os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="openrange-runtime-")
atexit.register(shutil.rmtree, os.environ["XDG_RUNTIME_DIR"], ignore_errors=True)

# Every record the engine and the runners write is checked against the vocabulary
# (drills/events.py), here and in the commands the tests start.
os.environ["OPENRANGE_CHECK_EVENTS"] = "1"
drills.log.CHECK_RECORDS = True


def _open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def _bullet_connected() -> list[int]:
    return [c for c in range(16) if p.isConnected(physicsClientId=c)]


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail any test that leaves a port open, a Bullet client connected or a thread running."""
    threads = set(threading.enumerate())
    fds = _open_fds()
    clients = _bullet_connected()
    yield
    for thread in set(threading.enumerate()) - threads:
        thread.join(timeout=2.0)
    left = [t.name for t in set(threading.enumerate()) - threads if t.is_alive()]
    assert not left, f"threads left running: {left}"
    assert _bullet_connected() == clients, "a PyBullet client was left connected"
    leaked = [fd for fd in _open_fds() - fds if _is_tty(fd)]
    assert not leaked, f"ttys left open: {leaked}"


def _is_tty(fd: int) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith(("/dev/pts", "/dev/ptmx"))
    except OSError:
        return False


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def taser_locks_him_up() -> tuple[Any, list[Any]]:
    """knife-approach-v1 with the taser-first officer, seed 0: the subject walks in, both
    probes connect and he falls (one run shared by the tests that look at a falling
    subject; read it, do not change it)."""
    from drills.officer import find_officer
    from drills.schema import find_drill
    from range.runs.drill import RunConfig, run_drill

    drill = find_drill("knife-approach-v1")
    result = run_drill(RunConfig(drill, find_officer("taser-first-v1"), 0))
    return drill, list(result.records)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster: initdb and pg_ctl in a temporary directory, on a free
    loopback port, stopped at the end. scripts/test.sh installs Debian's postgresql package
    when it is missing; PostgreSQL refuses to run as root, so as root it runs as `postgres`."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs it as root)")
    root = tempfile.mkdtemp(prefix="or-pg-")
    data = os.path.join(root, "data")
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*as_user, initdb, "-D", data, "-U", "openrange", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_user,
            pg_ctl,
            "-D",
            data,
            "-o",
            options,
            "-l",
            os.path.join(root, "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://openrange@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


MONADO_FIXTURES = frozenset({"monado", "monado_remote"})
# One Monado at a time on this machine, whichever pytest started it (a second suite in another
# checkout, or a second worker): they share the chroot's runtime socket and the remote port.
MONADO_LOCK = "/tmp/openrange-monado.lock"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that starts Monado runs on one xdist worker (`--dist loadgroup`, see
    scripts/test.sh), so the other worker never waits on the Monado lock below."""
    for item in items:
        if MONADO_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("monado"))


def _monado(driver: str) -> Iterator[MonadoSandbox]:
    # Module scope, and each module uses one of the two drivers.
    if os.geteuid() != 0:
        pytest.skip("the Monado sandbox mounts a chroot: root only (CI runs as root)")
    with open(MONADO_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held for the module; released when the file closes
        sandbox = MonadoSandbox(default_root(PROJECT), PROJECT, driver)
        try:
            sandbox.start()
        except SandboxBuildError as exc:
            # Only a mirror that stays unreachable skips: a runtime that is there must work.
            pytest.skip(f"could not build the Monado chroot: {exc}")
        except SandboxUnavailableError as exc:
            pytest.fail(f"the Monado sandbox did not start: {exc}")
        yield sandbox
        sandbox.stop()


@pytest.fixture(scope="module")
def monado() -> Iterator[MonadoSandbox]:
    """Monado with two still, simulated controllers."""
    yield from _monado("simulated")


@pytest.fixture(scope="module")
def monado_remote() -> Iterator[MonadoSandbox]:
    """Monado with its remote driver: `RemoteRig` moves the controllers."""
    yield from _monado("remote")
