#!/usr/bin/env bash
# Create (or reuse) .venv, install rhtann with its test extra, lint, run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/ruff check rhtann tests bench
.venv/bin/python -m pytest -q "$@"
