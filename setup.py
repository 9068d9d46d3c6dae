"""The compiled kernel of posing and probe flight (physics/_kernel.c); everything else about the
package is in pyproject.toml. `pip install -e .` builds it; in a checkout whose environment is
already installed, `python setup.py build_ext --inplace` rebuilds it."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "physics._kernel",
            ["physics/_kernel.c"],
            # The kernel fuses exactly the products numpy fuses (fma() in the source), no more.
            extra_compile_args=["-O2", "-ffp-contract=off", "-Wall"],
            libraries=["m"],
        )
    ]
)
