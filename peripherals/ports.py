"""Finding replicas: candidate ports, stable by-id names, and re-attaching by serial number.

Real USB replicas appear under /dev/serial/by-id/ (udev names them after their USB serial
number); emulators link themselves into a directory of the same kind, so the host finds both the
same way and a replica that comes back on a new port path is found again by its serial number.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serial.tools import list_ports

from peripherals.clock import Clock
from peripherals.driver import ReplicaLink
from peripherals.errors import PeripheralError, PeripheralInitError
from peripherals.messages import Model
from peripherals.registry import (
    Claim,
    SerialTakenError,
    clean_if_stale,
    owner_of,
    stale_problem,
)

SYSTEM_BY_ID = Path("/dev/serial/by-id")


class UnsafeRuntimeDirError(PeripheralInitError):
    """The folder where replicas register could be written by someone else."""


# What to do about an unsafe folder: the default one comes from XDG_RUNTIME_DIR; a folder the
# user chose (--dir) is replaced by another one.
DEFAULT_DIR_REMEDY = "set XDG_RUNTIME_DIR to a private folder"
CHOSEN_DIR_REMEDY = "choose a private folder (mode 700, yours) instead"


def private_dir(path: Path, remedy: str = DEFAULT_DIR_REMEDY) -> Path:
    """`path`, made if missing with mode 0700, after checking that nobody else can plant a port
    in it: a real directory (not a symlink), owned by this user, not writable by group or
    others. Raises UnsafeRuntimeDirError naming the folder, what is wrong and `remedy` (what
    the user can do instead: the default folder's XDG_RUNTIME_DIR, a given folder's option)."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    try:
        info = path.lstat()
    except OSError as exc:
        raise UnsafeRuntimeDirError(f"{path}: {exc.strerror}") from exc
    problem = None
    if not stat.S_ISDIR(info.st_mode):
        problem = "not a directory (a symlink?)"
    elif info.st_uid != os.getuid():
        problem = f"owned by uid {info.st_uid}, not by this user (uid {os.getuid()})"
    elif info.st_mode & 0o022:
        problem = f"writable by group or others (mode {stat.S_IMODE(info.st_mode):o})"
    if problem is not None:
        raise UnsafeRuntimeDirError(
            f"{path}: {problem}; replicas registered there cannot be trusted. Remove it, or"
            f" {remedy}"
        )
    return path


def default_emulator_dir() -> Path:
    """Where emulators started by `openrange peripherals emulate` register their ports:
    `$XDG_RUNTIME_DIR/openrange/by-id`, or `/tmp/openrange-<uid>/openrange/by-id` without one.
    Each level is made private (0700) and checked: someone else's folder, or one that group or
    others may write, is refused (UnsafeRuntimeDirError), since a port planted there would be
    taken for a replica."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    root = private_dir(Path(runtime) if runtime else Path(f"/tmp/openrange-{os.getuid()}"))
    return private_dir(private_dir(root / "openrange") / "by-id")


class PortDirectory:
    """A folder of symlinks `openrange-<model>-<serial>` -> the replica's tty, each with the
    owner file of the emulator that made it (peripherals/registry.py): a link whose emulator
    is no longer running (killed with SIGKILL) is stale, never listed, and removed.

    `owned=False` for a folder whose links nobody here owns (udev's /dev/serial/by-id)."""

    def __init__(self, path: Path, *, owned: bool = True) -> None:
        self.path = path
        self.owned = owned
        self._claims: dict[str, Claim] = {}  # the links this object registered, by name

    def _link(self, model: Model, serial: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", serial)
        return self.path / f"openrange-{model.slug}-{safe}"

    def register(self, model: Model, serial: str, port: str) -> Path:
        """Register `port` here; the folder is checked as the default one is (private_dir):
        a folder others may write is refused (UnsafeRuntimeDirError), whoever chose it. A
        serial registered by another running emulator is refused (SerialTakenError, naming
        its pid and port): two replicas answering to one serial would be taken for each
        other by a lane that re-attaches by serial. A stale one (its emulator killed) is
        taken over."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_dir(self.path, CHOSEN_DIR_REMEDY)
        link = self._link(model, serial)
        claim = self._claims.get(link.name)
        if claim is None:
            claim = Claim.take(link)
            # Another model's running emulator with this serial (rc20 #5): a lane finds a
            # replica by serial alone, so it is refused as a same-model one is. Checked with
            # this link's claim held, so of two started at once one at least is refused.
            other = next((m for m in self.models_of(serial) if m is not model), None)
            if other is not None:
                claim.release()
                holder = self._link(other, serial)
                raise SerialTakenError(
                    f"serial {serial} is already registered by a running {other.slug} emulator"
                    f" ({holder}, {owner_of(holder).said()}): two replicas with one serial"
                    " would be taken for each other; power it off first (Ctrl-C), or give"
                    " this one another --serial"
                )
            self._claims[link.name] = claim
        claim.publish(port)
        return link

    def unregister(self, model: Model, serial: str) -> None:
        """Remove the link this object registered, only while it still points at its own
        port: never another emulator's link under the same name."""
        claim = self._claims.pop(self._link(model, serial).name, None)
        if claim is not None:
            claim.release()

    def restore(self) -> None:
        """Write again the owner file (and link) of each link this object registered whose
        owner file was deleted while its emulator runs (`Claim.restore`)."""
        for claim in list(self._claims.values()):
            with contextlib.suppress(OSError):
                claim.restore()

    def model_of(self, serial: str) -> Model | None:
        """The model of the emulator registered here with this serial (running, its port
        still there), or None: `calibrate --emulate` takes a running emulator's model from it.
        Of several (registered before one serial took one model), the first."""
        models = self.models_of(serial)
        return models[0] if models else None

    def models_of(self, serial: str) -> list[Model]:
        """The models of the running emulators registered here with this serial."""
        return [
            model
            for model in Model
            if (link := self._link(model, serial)).is_symlink()
            and link.exists()
            and stale_problem(link) is None
        ]

    def ports(self) -> list[str]:
        """The links here that lead to a port; an emulator's stale link is left out and
        removed (`clean_if_stale`), so no scan opens a pty its emulator no longer holds."""
        if not self.path.is_dir():
            return []
        found = []
        for p in self.path.iterdir():
            if not p.is_symlink() or p.name.endswith(".tmp"):
                continue
            if self.owned and stale_problem(p) is not None:
                clean_if_stale(p)
                continue
            if p.exists():
                found.append(str(p))
        return sorted(found)


def candidate_ports(extra_dirs: list[Path] | None = None) -> list[str]:
    """Every port that may be a replica: USB serial ports, /dev/serial/by-id, emulator dirs.
    Resolved and de-duplicated, so one device is not opened twice."""
    found: dict[str, str] = {}
    names = [info.device for info in list_ports.comports()]
    for directory in [SYSTEM_BY_ID, *(extra_dirs or [])]:
        names.extend(PortDirectory(directory, owned=directory != SYSTEM_BY_ID).ports())
    for name in names:
        found.setdefault(os.path.realpath(name), name)
    return sorted(found.values())


def probe(url: str, clock: Clock, timeout_s: float = 0.5) -> ReplicaLink | None:
    """Open `url` and handshake; the open link, or None if no replica answers there."""
    link = ReplicaLink(url, clock, handshake_timeout_s=timeout_s)
    try:
        link.open()
    except PeripheralError:
        return None
    return link


def scan(clock: Clock, ports: list[str], timeout_s: float = 0.5) -> list[ReplicaLink]:
    """Handshake every port at once; the open links of those that answered."""
    if not ports:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(ports))) as pool:
        links = list(pool.map(lambda port: probe(port, clock, timeout_s), ports))
    return [link for link in links if link is not None]


def find_by_serial(
    serial: str, clock: Clock, ports: list[str], timeout_s: float = 0.5
) -> ReplicaLink | None:
    """The replica with this serial number, opened, wherever it is plugged in now."""
    found = None
    for link in scan(clock, ports, timeout_s):
        if found is None and link.info is not None and link.info.serial == serial:
            found = link
        else:
            link.close()
    return found
