"""A real OpenXR runtime with no headset: Monado in a Debian trixie chroot.

Monado 25 is packaged in trixie and needs a newer glibc than this machine's bookworm, so it runs
in a chroot; the project's own Python and virtual environment run unchanged inside it when
bind-mounted at the same paths (stack-notes.md, "pyopenxr and Monado"). The chroot is built once
(about 80 s and 1 GB) and cached in `.cache/monado-trixie`. Root is needed to build and mount it.
Tests, the benchmarks and developers use it to exercise the OpenXR path for real.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from types import TracebackType

import numpy as np

from peripherals.clock import Clock
from peripherals.emulator import PistolEmulator, TaserEmulator
from peripherals.messages import CartridgeCode, Model
from physics.pose import Pose, pose_to_openxr
from range.calibration.bench import BenchEmulator
from range.calibration.profiles import new_profile, save_profile
from range.calibration.solver import Boresight, solve_boresight
from range.clock import MonotonicClock

PACKAGES = (
    "libopenxr1-monado,monado-service,python3,python3-pip,mesa-vulkan-drivers,ca-certificates"
)
# The headset test renders into the runtime's swapchains through EGL (PyOpenGL loads libEGL and
# libGL by name), so Mesa's GL stack must be in the chroot too.
GL_PACKAGES = ("libegl1", "libgl1", "libegl-mesa0", "libgl1-mesa-dri")
MIRROR = "http://deb.debian.org/debian"
RUNTIME_DIR = "/tmp/openrange-xr"  # inside the chroot: shared by the service and its clients
SERVICE_ENV = {
    "XRT_COMPOSITOR_NULL": "1",  # no display; still needs Vulkan (mesa-vulkan-drivers)
    "XRT_NO_STDIN": "1",
    "XDG_RUNTIME_DIR": RUNTIME_DIR,
}
# Which devices the runtime sees: still simulated controllers, or Monado's remote driver, whose
# HMD and two Index controllers go wherever a TCP client (`RemoteRig`) puts them.
DRIVERS = {
    "simulated": {"SIMULATED_ENABLE": "1", "SIMULATED_LEFT": "simple", "SIMULATED_RIGHT": "simple"},
    "remote": {"P_OVERRIDE_ACTIVE_CONFIG": "remote"},
}
REMOTE_PORT = 4242  # Monado's remote driver listens here


class SandboxUnavailableError(RuntimeError):
    pass


class SandboxBuildError(SandboxUnavailableError):
    """The chroot could not be built (the package mirror did not answer)."""


def default_root(project: Path) -> Path:
    return project / ".cache" / "monado-trixie"


def build(root: Path) -> None:
    """debootstrap the chroot if it is not there yet (or if it predates EGL in it)."""
    if (root / "usr" / "bin" / "monado-service").exists():
        if not _has_egl(root):
            subprocess.run(
                [
                    "chroot",
                    str(root),
                    "sh",
                    "-c",
                    "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                    + " ".join(GL_PACKAGES),
                ],
                check=True,
                capture_output=True,
            )
        return
    if os.geteuid() != 0:
        raise SandboxUnavailableError("building the Monado chroot needs root")
    if shutil.which("debootstrap") is None:
        raise SandboxUnavailableError("debootstrap is missing: apt-get install debootstrap")
    partial = root.with_name(root.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={PACKAGES},{','.join(GL_PACKAGES)}",
        "trixie",
        str(partial),
        MIRROR,
    ]
    for attempt in range(3):  # the mirror can hiccup; three tries before giving up
        shutil.rmtree(partial, ignore_errors=True)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0:
            break
        time.sleep(5 * (attempt + 1))
    else:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise SandboxBuildError(f"debootstrap of the Monado chroot failed 3 times: {tail}")
    # pip inside the chroot reaches the registry through the host's certificates.
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", partial / "etc/ssl/certs/")
    if not _has_egl(partial):
        raise SandboxBuildError(f"debootstrap left no libEGL.so.1 in {partial}")
    partial.rename(root)


def _has_egl(root: Path) -> bool:
    return bool(list((root / "usr" / "lib").glob("*/libEGL.so.1")))


class MonadoSandbox:
    """Mount the chroot, start monado-service in it, run the project's Python inside it."""

    def __init__(self, root: Path, project: Path, driver: str = "simulated") -> None:
        if driver not in DRIVERS:
            raise ValueError(f"unknown driver {driver!r}; known: {', '.join(DRIVERS)}")
        self.driver = driver
        self.root = root
        self.project = project.resolve()
        # The interpreter the venv links to, and the venv itself inside the project.
        self.prefix = Path(sys.base_prefix).resolve()
        self._mounts: list[Path] = []
        self._service: subprocess.Popen[bytes] | None = None

    def _bind(self, source: Path) -> None:
        target = self.root / str(source).lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
        self._mounts.append(target)

    def start(self, timeout_s: float = 20.0) -> MonadoSandbox:
        if os.geteuid() != 0:
            raise SandboxUnavailableError("the Monado sandbox needs root to mount its chroot")
        build(self.root)
        # /dev/pts too: the ptys of emulated replicas, which tests open from inside.
        for source in (Path("/proc"), Path("/dev"), Path("/dev/pts"), self.prefix, self.project):
            self._bind(source)
        runtime = self.root / RUNTIME_DIR.lstrip("/")
        shutil.rmtree(runtime, ignore_errors=True)
        runtime.mkdir(mode=0o700, parents=True)
        env = " ".join(f"{k}={v}" for k, v in (SERVICE_ENV | DRIVERS[self.driver]).items())
        self._service = subprocess.Popen(
            ["chroot", str(self.root), "sh", "-c", f"exec env {env} monado-service"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(runtime.glob("monado*")):
                return self
            if self._service.poll() is not None:
                output = self._service.stdout.read().decode() if self._service.stdout else ""
                self.stop()
                raise SandboxUnavailableError(f"monado-service exited: {output[-400:]}")
            time.sleep(0.1)
        self.stop()
        raise SandboxUnavailableError("monado-service did not open its socket in time")

    def _in_chroot(self, *args: str) -> list[str]:
        """The command line that runs the project's own Python (its venv) with `args` inside
        the chroot, next to the runtime."""
        venv_python = self.project / ".venv" / "bin" / "python"
        command = (
            f"cd {self.project} && exec env XDG_RUNTIME_DIR={RUNTIME_DIR}"
            " XR_LOADER_DEBUG=none PYOPENGL_PLATFORM=egl EGL_PLATFORM=surfaceless"
            f' {venv_python} "$@"'
        )
        return ["chroot", str(self.root), "sh", "-c", command, "sh", *args]

    def python(
        self, code: str, *args: str, timeout_s: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a Python snippet inside the chroot and wait for it."""
        return subprocess.run(
            self._in_chroot("-c", code, *args), capture_output=True, text=True, timeout=timeout_s
        )

    def openrange(self, *args: str) -> subprocess.Popen[str]:
        """Start `openrange ARGS` inside the chroot (stdout and stderr piped, line by line):
        a command an armorer or range master would type, against the runtime."""
        return subprocess.Popen(
            self._in_chroot("-m", "range", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def stop(self) -> None:
        if self._service is not None:
            self._service.terminate()
            try:
                self._service.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._service.kill()
                self._service.wait()
            if self._service.stdout is not None:
                self._service.stdout.close()
            self._service = None
        for target in reversed(self._mounts):
            subprocess.run(["umount", "-l", str(target)], check=False)
        self._mounts.clear()

    def __enter__(self) -> MonadoSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# Monado's remote driver packet (`struct r_remote_data`, header "mndrmt3", Monado 23 to 25):
# the head (two views and a centre pose) and two controllers, each a pose, velocities, finger
# curls, analogue inputs and sixteen bools. Poses are orientation (x, y, z, w) then position.
_VIEW = "4f7fI"
_CONTROLLER = "7f3f3f5f" + "fff2ff2f" + "16?"
_PACKET = struct.Struct("<8s" + _VIEW * 2 + "7f?3x" + _CONTROLLER * 2)
_HEADER = b"mndrmt3\0"
_HEAD_CENTRE = slice(1 + 24, 1 + 24 + 7)  # after the header and the two views
_LEFT = 1 + 24 + 8
_RIGHT = _LEFT + 42
_TRIGGER = 7 + 3 + 3 + 5  # the trigger value's place in a controller
_ACTIVE, _TRIGGER_CLICK = 26 + 1, 26 + 8  # hand_tracking_active comes first among the bools


class RemoteRigError(RuntimeError):
    pass


class RemoteRig:
    """Puts Monado's remote-driver controllers where a test wants them: the officer's hands for
    a replica's tracker, moved to aim poses in the physics frame, with the trigger's value.

    On connecting, the driver sends its reset and current state; they are read back and checked
    against the known reset values, so a Monado whose packet layout changed fails here, by name,
    rather than as controllers that never move."""

    def __init__(self, host: str = "127.0.0.1", port: int = REMOTE_PORT) -> None:
        self.host, self.port = host, port
        self._sock: socket.socket | None = None
        self._state: list[object] = []

    def connect(self, timeout_s: float = 10.0) -> RemoteRig:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._sock = socket.create_connection((self.host, self.port), timeout=2.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RemoteRigError(
                        f"Monado's remote driver does not answer on port {self.port}"
                    ) from None
                time.sleep(0.1)
        greeting = self._read(2 * _PACKET.size)
        self._sock.settimeout(0.2)
        try:
            extra = self._sock.recv(4096)
        except TimeoutError:
            extra = b""
        reset = list(_PACKET.unpack(greeting[: _PACKET.size]))
        left = reset[_LEFT + 4 : _LEFT + 7]
        centre_y = reset[_HEAD_CENTRE][5]
        if extra or [round(v, 3) for v in left] != [-0.2, 1.3, -0.5] or round(centre_y, 3) != 1.6:
            raise RemoteRigError(
                "Monado's remote driver speaks another packet layout than mndrmt3"
                f" ({len(greeting) + len(extra)} bytes of greeting)"
            )
        reset[0] = _HEADER
        self._state = reset
        self._sock.settimeout(2.0)
        return self

    def _read(self, size: int) -> bytes:
        assert self._sock is not None
        data = b""
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                raise RemoteRigError("Monado's remote driver closed the connection")
            data += chunk
        return data

    def move(self, hand: str, pose: Pose, trigger: float = 0.0, tracked: bool = True) -> None:
        """Put `hand`'s controller (its aim pose) at `pose` in the physics frame."""
        base = _LEFT if hand == "left" else _RIGHT
        position, orientation = pose_to_openxr(pose)
        self._state[base : base + 7] = [*orientation, *position]
        self._state[base + _TRIGGER] = trigger
        self._state[base + _ACTIVE] = tracked
        self._state[base + _TRIGGER_CLICK] = trigger > 0.5
        assert self._sock is not None
        self._sock.sendall(_PACKET.pack(*self._state))

    def move_head(self, pose: Pose) -> None:
        """Put the headset (its centre pose; the eyes follow) at `pose` in the physics frame."""
        position, orientation = pose_to_openxr(pose)
        self._state[_HEAD_CENTRE] = [*orientation, *position]
        assert self._sock is not None
        self._sock.sendall(_PACKET.pack(*self._state))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> RemoteRig:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- the live lane the live-drill and XR tests share ----------------------------------------------
#
# tests/test_live_drill.py, test_xr_drill.py, test_xr_live_drill.py and test_xr_course.py all play
# an officer on the same lane: an emulated TASER 7 (two close-quarter cartridges) and pistol on
# real ptys, running free on the real clock, with calibration profiles for both; the XR ones also
# move Monado's remote controller (`RemoteRig`). One set-up here, so the four stay the same lane.

PISTOL_SERIAL = "P-0042"
TASER_SERIAL = "T7-0007"
SERIALS = ((PISTOL_SERIAL, "pistol"), (TASER_SERIAL, "taser-7"))
ARMORER = "Sgt. Ortiz"
MOUNT_SEED = 21  # the bench emulator's tracker mount: the same for every test


class EmulatedReplicas:
    """The officer's replicas: an emulated pistol and TASER 7 (loaded with two TASER 7 CQ
    cartridges) on real ptys in `folder`, running free on `clock` (the live lane's real clock).
    `ports` lists the TASER's then the pistol's; `stop()` ends their threads, closes the ptys."""

    def __init__(self, clock: Clock, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.folder = folder
        self.pistol = PistolEmulator(PISTOL_SERIAL, clock, directory=folder)
        self.taser = TaserEmulator(
            Model.TASER_7,
            TASER_SERIAL,
            clock,
            loads=(CartridgeCode.TASER7_CQ, CartridgeCode.TASER7_CQ),
            directory=folder,
        )
        self.ports: list[str] = []
        try:
            for emulator in (self.taser, self.pistol):
                self.ports.append(emulator.start())
                emulator.run_free()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for emulator in (self.taser, self.pistol):
            emulator.stop_free_running()
            emulator.stop()


def bench_mount() -> BenchEmulator:
    """The armorer's bench with the tracker mount every test's replicas carry."""
    return BenchEmulator(np.random.default_rng(MOUNT_SEED))


# A tracker that is the bore itself: for pose sources that give the muzzle's pose directly.
IDENTITY_BORE = Boresight((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), 0.5, 12, ())


def save_calibrated_profiles(
    folder: Path, bore: Boresight | None = None, only: str | None = None
) -> Boresight:
    """Valid profiles (today, 2 mrad tolerance, `ARMORER`) for both replicas in `folder`, or
    for the one whose serial is `only`, with `bore` or, by default, `bench_mount()`'s mount
    solved from its own session. Returns the bore used."""
    if bore is None:
        bore = solve_boresight(bench_mount().session())
    for serial, model in SERIALS:
        if only is None or serial == only:
            save_profile(folder, new_profile(serial, model, ARMORER, bore, 2.0, date.today()))
    return bore


class XRLane:
    """A live lane on Monado's remote driver: `work` (a folder inside the project, which the
    chroot sees) made empty, Monado's remote controller connected first (a runtime that does
    not answer leaves nothing running), then the emulated replicas. `close()` undoes it all."""

    def __init__(self, work: Path, ports_folder: Path) -> None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.work = work
        self.rig = RemoteRig().connect()
        try:
            self.replicas = EmulatedReplicas(MonotonicClock(), ports_folder)
        except BaseException:
            self.rig.close()
            raise
        self.pistol, self.taser = self.replicas.pistol, self.replicas.taser

    def close(self) -> None:
        self.rig.close()
        self.replicas.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self) -> XRLane:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def with_display(sandbox: MonadoSandbox, code: str) -> subprocess.CompletedProcess[str]:
    """Run Python `code` in the chroot with an X display: Xvfb on this machine, reached over
    loopback TCP (the chroot has its own /tmp, so no X socket). Skips the test when Xvfb is not
    installed (scripts/test.sh installs it as root)."""
    import pytest  # bench/run.py imports this module too, where pytest need not be

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (scripts/test.sh installs it as root)")
    ready_r, ready_w = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(ready_w), "-listen", "tcp", "-ac", "-screen", "0", "640x480x24"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(ready_w,),
    )
    os.close(ready_w)
    try:
        with os.fdopen(ready_r) as ready:
            number = ready.readline().strip()
        assert number, "Xvfb did not start"
        command = sandbox._in_chroot("-c", code)
        command[4] = command[4].replace("exec env ", f"exec env DISPLAY=127.0.0.1:{number} ")
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=10)
