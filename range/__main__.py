"""`python -m range`: the `openrange` command.

`python -m` puts the current folder first on sys.path, so whatever that folder holds is found
before OpenRange's own packages: a `physics.py` (or `drills.py`, `scoring.py`, `peripherals.py`,
a `serial.py`...) would be imported in place of the package of that name, and a `range/` folder
(with no `__init__.py`) becomes the namespace package `range` ahead of an editable install's
finder, so `from range import ...` fails. This module still runs (found through that namespace's
path). Before anything else is imported it drops the current folder from sys.path (unless the
current folder is OpenRange's own source tree, where its packages are the ones meant), forgets a
namespace `range` and imports OpenRange's own. A `range/` folder that is a real package of its
own cannot be stepped over: then this module never runs at all, and `openrange` (the console
script) is the way in.
"""

import os
import sys


def _own_packages() -> None:
    """Make the project's packages, not the current folder's files, the ones imported."""
    here = os.path.realpath(os.getcwd())
    # This file is range/__main__.py in the tree that holds OpenRange's packages.
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    if here != root:
        sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != here]
    found = sys.modules.get("range")
    if found is None or getattr(found, "__file__", None) is not None:
        return  # OpenRange's own (a regular package has a file; a namespace package none)
    for name in [n for n in sys.modules if n == "range" or n.startswith("range.")]:
        del sys.modules[name]


_own_packages()

from range.cli.main import main  # noqa: E402  (after the current folder is dropped)

raise SystemExit(main())
