"""`python -m range`: the `openrange` command.

`python -m` puts the current folder first on sys.path, so a `range/` folder there (with no
`__init__.py`) becomes the namespace package `range` ahead of an editable install's finder, and
`from range import ...` then fails. This module still runs (found through that namespace's
path); it drops the current folder from sys.path, forgets the namespace package and imports
OpenRange's own. A `range/` folder that is a real package of its own cannot be stepped over:
then this module never runs at all, and `openrange` (the console script) is the way in.
"""

import os
import sys


def _own_range_package() -> None:
    """Make `range` OpenRange's package again when the current folder's `range/` shadowed it."""
    found = sys.modules.get("range")
    if found is None or getattr(found, "__file__", None) is not None:
        return  # OpenRange's own (a regular package has a file; a namespace package none)
    here = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != here]
    for name in [n for n in sys.modules if n == "range" or n.startswith("range.")]:
        del sys.modules[name]


_own_range_package()

from range.cli.main import main  # noqa: E402  (after the shadow is undone)

raise SystemExit(main())
