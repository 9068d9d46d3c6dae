"""Finding replicas: candidate ports, stable by-id names, and re-attaching by serial number.

Real USB replicas appear under /dev/serial/by-id/ (udev names them after their USB serial
number); emulators link themselves into a directory of the same kind, so the host finds both the
same way and a replica that comes back on a new port path is found again by its serial number.
"""

from __future__ import annotations

import contextlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serial.tools import list_ports

from peripherals.clock import Clock
from peripherals.driver import ReplicaLink
from peripherals.errors import PeripheralError
from peripherals.messages import Model

SYSTEM_BY_ID = Path("/dev/serial/by-id")


def default_emulator_dir() -> Path:
    """Where emulators started by `openrange peripherals emulate` register their ports."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/openrange-{os.getuid()}"
    return Path(runtime) / "openrange" / "by-id"


class PortDirectory:
    """A folder of symlinks `openrange-<model>-<serial>` -> the replica's tty."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _link(self, model: Model, serial: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", serial)
        return self.path / f"openrange-{model.slug}-{safe}"

    def register(self, model: Model, serial: str, port: str) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        link = self._link(model, serial)
        tmp = link.with_name(link.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(port)
        tmp.replace(link)  # atomic: a scanner never sees a half-made name
        return link

    def unregister(self, model: Model, serial: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._link(model, serial).unlink()

    def ports(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(str(p) for p in self.path.iterdir() if p.is_symlink() and p.exists())


def candidate_ports(extra_dirs: list[Path] | None = None) -> list[str]:
    """Every port that may be a replica: USB serial ports, /dev/serial/by-id, emulator dirs.
    Resolved and de-duplicated, so one device is not opened twice."""
    found: dict[str, str] = {}
    names = [info.device for info in list_ports.comports()]
    for directory in [SYSTEM_BY_ID, *(extra_dirs or [])]:
        names.extend(PortDirectory(directory).ports())
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
