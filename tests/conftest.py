"""Fixtures shared by every test, and the leak check that runs around each one."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pybullet as p
import pytest


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
