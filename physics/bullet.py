"""The one import of pybullet.

pybullet's C code prints its build time to standard error on import (stack-notes.md). That
line means nothing to an officer or a range master and clutters every command, so the import runs
with file descriptor 2 pointed at /dev/null.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType


def _import_quietly() -> ModuleType:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            import pybullet

            module: ModuleType = pybullet
            return module
    finally:
        os.dup2(saved, 2)
        os.close(saved)


p = _import_quietly()
