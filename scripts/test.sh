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
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest "$@"
