"""Who owns an emulator's by-id link: an owner file beside it, locked while the emulator runs.

An emulator registers `openrange-<model>-<serial>` -> its pty in the emulators' folder
(peripherals/ports.py). A link alone cannot say whether the emulator behind it still runs: one
killed with SIGKILL leaves it, and the OS then gives its pty (`/dev/pts/N`) to another program.
So the emulator keeps `<link>.owner` beside the link, holding an exclusive `flock` on it for as
long as its port is registered, with its pid and port written in it. The kernel drops the lock
when the process dies, however it dies: a link whose owner file is not locked, or is missing,
was left by an emulator that is no longer running (stale), and is never opened.

`flock` locks belong to one open file, not to a process, so two emulators in one process (a
test's lane) exclude each other as two processes do.

The lock, not the file's name, is the proof: an owner file deleted while its emulator runs (a
tmp cleaner, a hand) is still open and locked by it, and the kernel still lists it among the
emulator's open files (`/proc/PID/fd`, "... (deleted)"). A missing owner file is looked for
there before its link is called stale (`held_elsewhere`), so a scan never removes a running
emulator's link, nor does another emulator take its serial; the emulator then writes its owner
file again (`Claim.restore`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from peripherals.errors import PeripheralInitError

# The names emulators give their links (peripherals/ports.py `PortDirectory`): a link named so
# must have a running owner; udev's names under /dev/serial/by-id never start so.
LINK_PREFIX = "openrange-"
OWNER_SUFFIX = ".owner"
# How long a claim retries a lock held only for a moment (another process checking or
# cleaning the link) before it takes the holder for a running emulator.
CLAIM_TRIES = 20
CLAIM_RETRY_S = 0.01


class SerialTakenError(PeripheralInitError):
    """Another running emulator already registered this serial number in this folder."""


@dataclass(frozen=True, slots=True)
class Owner:
    """What an owner file says: the emulator's pid and the port its link points at."""

    pid: int | None
    port: str

    def said(self) -> str:
        pid = "pid ?" if self.pid is None else f"pid {self.pid}"
        return f"{pid}, on {self.port}" if self.port else pid


def owner_path(link: Path) -> Path:
    return link.with_name(link.name + OWNER_SUFFIX)


def is_emulator_link(path: str | Path) -> bool:
    """Whether `path` is a link an emulator made (a symlink named `openrange-...`)."""
    name = os.path.basename(path)
    return (
        name.startswith(LINK_PREFIX)
        and not name.endswith((OWNER_SUFFIX, ".tmp"))
        and os.path.islink(path)
    )


def _read_owner(fd: int) -> Owner:
    text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
    pid, _, port = text.partition(" ")
    return Owner(int(pid) if pid.isdigit() else None, port)


def owner_of(link: Path) -> Owner:
    """What `link`'s owner file says (its pid and port); unknown when it cannot be read."""
    try:
        fd = os.open(owner_path(link), os.O_RDONLY)
    except OSError:
        return Owner(None, "")
    try:
        return _read_owner(fd)
    finally:
        os.close(fd)


def held_elsewhere(owner: Path) -> Owner | None:
    """What a deleted owner file that a running emulator still holds locked says (None: no
    process holds it so). Linux lists a process's open files in /proc/PID/fd, a deleted one as
    "PATH (deleted)"; such a file is opened again there and tried for a shared lock, which a
    running emulator's exclusive lock refuses. Only this user's processes can be looked into,
    as only this user's emulators can register in its private folder."""
    deleted = f"{owner} (deleted)"
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        fds = f"/proc/{pid}/fd"
        try:
            names = os.listdir(fds)
        except OSError:
            continue  # another user's, or gone meanwhile
        for name in names:
            path = f"{fds}/{name}"
            try:
                if os.readlink(path) != deleted:
                    continue
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                if not _try_lock(fd, fcntl.LOCK_SH):
                    return _read_owner(fd)
            finally:
                os.close(fd)
    return None


def _try_lock(fd: int, how: int) -> bool:
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
            return False
        raise
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the open file `fd` (not unlinked or replaced meanwhile)."""
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    there = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def stale_problem(path: str | Path) -> str | None:
    """Why the emulator link `path` must not be opened, or None: not an emulator's link (a
    device, udev's /dev/serial/by-id name, a network URL), or one whose emulator runs and
    still owns the port it points at. A stale link points at a pty that is nobody's now, or
    another program's: opening it would write IDENTIFY frames into a stranger's terminal."""
    if not is_emulator_link(path):
        return None
    link = Path(path)
    try:
        fd = os.open(owner_path(link), os.O_RDONLY)
    except FileNotFoundError:
        held = held_elsewhere(owner_path(link))
        if held is None:
            return (
                "left by an emulator that is no longer running (no owner file beside it);"
                " not opened"
            )
        return _moved(link, held)
    except OSError as exc:
        return f"its owner file cannot be read ({exc.strerror}); not opened"
    try:
        owner = _read_owner(fd)
        if _try_lock(fd, fcntl.LOCK_SH):
            return (
                f"left by an emulator that is no longer running ({owner.said()}, killed?);"
                " not opened: start the emulator again"
            )
        return _moved(link, owner)
    finally:
        os.close(fd)  # drops a shared lock taken above


def _moved(link: Path, owner: Owner) -> str | None:
    """Why `link`, whose emulator runs, must not be opened all the same (it points elsewhere
    than the emulator's port), or None."""
    with contextlib.suppress(OSError):
        target = os.readlink(link)
        if owner.port and target != owner.port:
            return f"points at {target}, but its emulator ({owner.said()}) is not there"
    return None


def clean_if_stale(link: Path) -> bool:
    """Remove the link `link` and its owner file when no running emulator owns them; True if
    removed. Done under the owner file's lock, so an emulator registering the serial at the
    same moment (it takes the lock before it replaces the link) never loses its new link."""
    if not is_emulator_link(link):
        return False
    owner = owner_path(link)
    if not owner.exists() and held_elsewhere(owner) is not None:
        return False  # its owner file deleted, but its emulator runs (and writes it again)
    try:
        fd = os.open(owner, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        if not _try_lock(fd, fcntl.LOCK_EX) or not _same_file(fd, owner):
            return False
        if os.path.islink(link):
            link.unlink()
        owner.unlink()
        return True
    finally:
        os.close(fd)


class Claim:
    """A running emulator's hold on one link: its owner file, locked, with its pid and port."""

    def __init__(self, link: Path, fd: int) -> None:
        self.link = link
        self.fd = fd
        self.port = ""
        # `restore` runs on the emulator's serving thread, `release` on the one unplugging it.
        self._guard = threading.Lock()

    @classmethod
    def take(cls, link: Path) -> Claim:
        """Lock `link`'s owner file for this emulator. Raises SerialTakenError naming the running
        emulator that holds it (its pid and port)."""
        owner = owner_path(link)
        holder = Owner(None, "")
        for _ in range(CLAIM_TRIES):
            if not owner.exists():
                running = held_elsewhere(owner)  # its owner file deleted while it runs
                if running is not None:
                    holder = running
                    break
            fd = os.open(owner, os.O_RDWR | os.O_CREAT, 0o600)
            if _try_lock(fd, fcntl.LOCK_EX):
                if _same_file(fd, owner):  # not removed by a cleaner between open and lock
                    return cls(link, fd)
                os.close(fd)
                continue
            holder = _read_owner(fd)
            os.close(fd)
            time.sleep(CLAIM_RETRY_S)
        raise SerialTakenError(
            f"{link}: already registered by a running emulator ({holder.said()}): power it"
            " off first (Ctrl-C), or give this one another --serial"
        )

    def publish(self, port: str) -> None:
        """Write who owns the link, then point it at `port` (atomically: a scanner never sees a
        half-made name)."""
        self.port = port
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()} {port}\n".encode(), 0)
        self._point(port)

    def _point(self, port: str) -> None:
        tmp = self.link.with_name(self.link.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(port)
        tmp.replace(self.link)

    def restore(self) -> bool:
        """Write the owner file again, locked, if it was deleted while this emulator runs (its
        old one stays locked until the new one is in place: there is no moment without one),
        and the link too if it went with it; True if anything was written. A link that now
        leads elsewhere (another emulator's) is left alone."""
        owner = owner_path(self.link)
        with self._guard:
            if self.fd < 0 or not self.port or _same_file(self.fd, owner):
                return False
            tmp = owner.with_name(owner.name + ".tmp")
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            if not _try_lock(fd, fcntl.LOCK_EX):
                os.close(fd)
                return False
            os.pwrite(fd, f"{os.getpid()} {self.port}\n".encode(), 0)
            os.replace(tmp, owner)
            os.close(self.fd)
            self.fd = fd
            if not os.path.lexists(self.link):
                self._point(self.port)
            return True

    def release(self) -> None:
        """Remove the link if it still points at this emulator's port (never one that points at
        another emulator's), then the owner file, then let go of the lock."""
        with self._guard:
            with contextlib.suppress(OSError):
                if os.readlink(self.link) == self.port:
                    self.link.unlink()
            if _same_file(self.fd, owner_path(self.link)):
                with contextlib.suppress(FileNotFoundError):
                    owner_path(self.link).unlink()
            os.close(self.fd)
            self.fd = -1
