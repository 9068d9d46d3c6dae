"""PyBullet world, human bodies with labelled regions, probe and bullet flight.

The bottom layer: it imports neither `drills`, `scoring` nor `range`. Time is steps x dt and every
random draw comes from a `numpy.random.Generator` handed in by the caller.
"""

try:
    from physics import _kernel  # the compiled kernel, physics/_kernel.c
except ImportError as error:  # a checkout where it was never built
    raise ImportError(
        "physics._kernel (physics/_kernel.c) is not built: `pip install -e .` builds it, or,"
        " where the environment is installed already, `python setup.py build_ext --inplace`"
    ) from error

# What this tree calls in the kernel: a `.so` built from an older physics/_kernel.c (a checkout
# updated without rebuilding) lacks some of them, and is refused here rather than mid-run.
KERNEL_FUNCTIONS = (
    "forward_kinematics",
    "link_states",
    "cast_subject",
    "sub_chords",
    "chords",
    "candidates",
    "first_hits",
    "path_ends",
    "deploy",
    "rot_y_many",
    "rotation",
)
_missing = [name for name in KERNEL_FUNCTIONS if not hasattr(_kernel, name)]
if _missing:
    raise ImportError(
        f"physics._kernel is older than physics/_kernel.c (no {', '.join(_missing)}): rebuild it"
        " with `python setup.py build_ext --inplace` (or `pip install -e .`)"
    )
