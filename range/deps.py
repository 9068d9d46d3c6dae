"""Missing or broken dependencies become one line that says what to install."""

from __future__ import annotations

import importlib


class MissingDependencyError(RuntimeError):
    pass


# module -> (what it is for, how to get it)
DEPENDENCIES: dict[str, tuple[str, str]] = {
    "numpy": ("numerics", "pip install numpy"),
    "pydantic": ("data files", "pip install pydantic"),
    "serial": ("replica serial ports", "pip install pyserial"),
    "pybullet": (
        "probe and bullet physics",
        "pip install pybullet (wheels exist for CPython 3.11; newer Pythons build it from source)",
    ),
    "moderngl": (
        "rendering",
        "pip install moderngl; headless rendering also needs: apt-get install libegl1 libgl1",
    ),
    "xr": ("OpenXR tracking", "pip install pyopenxr"),
    "matplotlib": ("plots", "pip install matplotlib"),
    "glfw": ("the instructor's mirror window", "pip install glfw"),
    "pocketsphinx": ("offline speech recognition", "pip install pocketsphinx"),
    "soundfile": ("sound files", "pip install soundfile; apt-get install libsndfile1"),
}


# Imported through the module that owns them (physics.bullet keeps pybullet's banner quiet).
_IMPORT_AS = {"pybullet": "physics.bullet"}


def require(*modules: str) -> None:
    """Import each module now; the first that fails raises one readable line."""
    for name in modules:
        try:
            importlib.import_module(_IMPORT_AS.get(name, name))
        except Exception as exc:  # a broken install raises more than ImportError
            purpose, fix = DEPENDENCIES.get(name, ("OpenRange", f"pip install {name}"))
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MissingDependencyError(
                f"{name} is needed for {purpose} but failed to import ({reason}): {fix}"
            ) from None
