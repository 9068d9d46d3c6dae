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
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

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
    "SIMULATED_ENABLE": "1",
    "SIMULATED_LEFT": "simple",
    "SIMULATED_RIGHT": "simple",
    "XRT_NO_STDIN": "1",
    "XDG_RUNTIME_DIR": RUNTIME_DIR,
}


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

    def __init__(self, root: Path, project: Path) -> None:
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
        for source in (Path("/proc"), Path("/dev"), self.prefix, self.project):
            self._bind(source)
        runtime = self.root / RUNTIME_DIR.lstrip("/")
        shutil.rmtree(runtime, ignore_errors=True)
        runtime.mkdir(mode=0o700, parents=True)
        env = " ".join(f"{k}={v}" for k, v in SERVICE_ENV.items())
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

    def python(
        self, code: str, *args: str, timeout_s: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the project's own Python (its venv) inside the chroot, next to the runtime."""
        venv_python = self.project / ".venv" / "bin" / "python"
        command = (
            f"cd {self.project} && exec env XDG_RUNTIME_DIR={RUNTIME_DIR}"
            " XR_LOADER_DEBUG=none PYOPENGL_PLATFORM=egl EGL_PLATFORM=surfaceless"
            f' {venv_python} "$@"'
        )
        return subprocess.run(
            ["chroot", str(self.root), "sh", "-c", command, "sh", "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
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
