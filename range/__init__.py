"""OpenRange's composition root: clock, frame loop, poses, run records, CLI.

Import from it with `from range import ...`; `range` is also a builtin, so never `import range`.
The layers below (`drills`, `scoring`, `physics`, `peripherals`) never import this package.
"""

__version__ = "0.1.0"
