#!/usr/bin/env bash
# One command for the default benchmark:
#   bash bench/run.sh [python -m bench options]
# Creates (or reuses) the virtual environment .venv in the repository, installs
# rhtann with its [bench] extras into it (again only when pyproject.toml
# changed), then runs `python -m bench` with the given options. Results and
# plots go to results/ unless --out says otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON_BIN="${PYTHON:-python3}"
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment $VENV with $("$PYTHON_BIN" --version 2>&1)"
    "$PYTHON_BIN" -m venv "$VENV"
fi
stamp="$VENV/.rhtann-bench-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing rhtann and its [bench] extras into $VENV (quietly; takes a minute)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[bench]"
    echo "$want" > "$stamp"
fi
exec "$VENV/bin/python" -m bench "$@"
