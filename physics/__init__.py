"""PyBullet world, human bodies with labelled regions, probe and bullet flight.

The bottom layer: it imports neither `drills`, `scoring` nor `range`. Time is steps x dt and every
random draw comes from a `numpy.random.Generator` handed in by the caller.
"""

try:
    from physics import _kernel  # noqa: F401  (the compiled kernel, physics/_kernel.c)
except ImportError as error:  # a checkout where it was never built
    raise ImportError(
        "physics._kernel (physics/_kernel.c) is not built: `pip install -e .` builds it, or,"
        " where the environment is installed already, `python setup.py build_ext --inplace`"
    ) from error
