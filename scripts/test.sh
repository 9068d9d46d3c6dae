#!/usr/bin/env bash
# Install OpenRange with its test tools into .venv and run every check: ruff, mypy, pytest.
# This is README.md's test command, and .ci/run calls it verbatim.
set -euo pipefail
cd "$(dirname "$0")/.."

# pybullet publishes wheels only up to CPython 3.11 (../shared/reference/stack-notes.md).
PYTHON=${PYTHON:-python3.11}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "scripts/test.sh: $PYTHON not found; install CPython 3.11 or set PYTHON=/path/to/python3.11" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# pip builds the physics kernel (physics/_kernel.c) with the system's C compiler.
if ! command -v "${CC:-cc}" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "== installing Debian's gcc for the physics kernel"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null
    else
        echo "scripts/test.sh: no C compiler (cc); install gcc (the physics kernel is C)" >&2
        exit 2
    fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

# The records tests run against a throwaway PostgreSQL cluster as well as SQLite.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "== installing Debian's postgresql for the records tests"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "scripts/test.sh: PostgreSQL is missing; the PostgreSQL records tests will be skipped" \
            "(run as root, or apt-get install postgresql)" >&2
    fi
fi

# Rendering tests draw on Mesa's headless EGL.
if [ "$(id -u)" = 0 ] && ! ldconfig -p | grep -q "libEGL.so.1"; then
    echo "== installing Mesa's EGL and GL for the rendering tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1 libgl1-mesa-dri >/dev/null
fi

# The instructor's mirror window is tested on a virtual X display.
if [ "$(id -u)" = 0 ] && ! command -v Xvfb >/dev/null 2>&1; then
    echo "== installing Xvfb for the mirror window tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb >/dev/null
fi

# The after-action report is checked in headless Chromium.
if [ "$(id -u)" = 0 ] && { ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; }; then
    echo "== installing Chromium and its driver for the report and console tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# Subjects speak with espeak-ng (the console's "say", the speech tests' phrases), sox measures,
# ALSA's null device plays (aplay); the microphone goes through PortAudio (docs/speech.md).
if [ "$(id -u)" = 0 ] && { ! command -v espeak-ng >/dev/null 2>&1 || ! command -v aplay >/dev/null 2>&1 \
        || ! ldconfig -p | grep -q "libportaudio.so.2"; }; then
    echo "== installing espeak-ng, PortAudio, sox and ALSA utilities for the speech tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng libportaudio2 sox alsa-utils >/dev/null
fi

# The OpenXR tests run the project's pose source against Monado in a Debian trixie chroot
# (tests/xr_sandbox.py builds it once into .cache/, about 80 s and 1 GB).
if [ "$(id -u)" = 0 ] && ! command -v debootstrap >/dev/null 2>&1; then
    echo "== installing debootstrap for the OpenXR runtime sandbox"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# Two workers (the CI machine has two cores); the Monado tests keep to one of them (conftest.py).
# PYTEST_WORKERS=0 runs everything in this process.
.venv/bin/pytest -n "${PYTEST_WORKERS:-2}" --dist loadgroup "$@"
