#!/usr/bin/env bash
# One command for the default benchmark:
#   bash bench/run.sh [rhtann-bench options]
# Creates (or reuses) the virtual environment .venv in the repository, installs
# rhtann with its [bench] extra into it (again only when pyproject.toml
# changed), then runs the harness with the given options in the folder you
# started from: relative --config, --dataset and --out paths are relative to
# that folder. Results and plots go to ./results unless --out says otherwise.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PYTHON_BIN="${PYTHON:-python3}"
VENV="$REPO/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment $VENV with $("$PYTHON_BIN" --version 2>&1)"
    "$PYTHON_BIN" -m venv "$VENV"
fi
stamp="$VENV/.rhtann-bench-installed"
want="$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing rhtann and its [bench] extra into $VENV (quietly; takes a minute)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$REPO[bench]"
    echo "$want" > "$stamp"
fi
# the console command, not "python -m bench": a bench/ folder where you stand cannot shadow it
exec "$VENV/bin/rhtann-bench" "$@"
