"""A private X display for the tests that open a window (tests/test_live_mirror.py,
tests/test_render.py): Xvfb picks a free display itself and writes its number once it is
ready (-displayfd), since a fixed number would collide with another X server on the machine."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def xvfb(screen: str = "1280x800x24") -> Iterator[str]:
    """An Xvfb server with one `screen` (WIDTHxHEIGHTxDEPTH); yields its DISPLAY (":N") and
    stops it on exit. Skips the test when Xvfb is not installed."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (scripts/test.sh installs it as root)")
    ready_r, ready_w = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(ready_w), "-screen", "0", screen],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(ready_w,),
    )
    os.close(ready_w)
    try:
        with os.fdopen(ready_r) as ready:
            number = ready.readline().strip()
        assert number, "Xvfb did not start"
        yield ":" + number
    finally:
        server.terminate()
        server.wait(timeout=10)
