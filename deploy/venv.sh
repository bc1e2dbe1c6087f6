#!/usr/bin/env bash
# Make sure .venv exists with certx and its test dependencies, installed from the lock
# (deploy/constraints.txt; refresh it with deploy/lock.sh). Sourced by run.sh and test.sh.
# Re-installs only when pyproject.toml or the lock changed since the last install.
set -euo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
PY="${CERTX_PYTHON:-python3}"
LOCK="$ROOT/deploy/constraints.txt"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
    "$PY" -m venv "$ROOT/.venv"
fi
stamp="$ROOT/.venv/.certx-installed"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$LOCK" -nt "$stamp" ]; then
    # PIP_CONSTRAINT reaches the isolated build environment too, so setuptools is pinned as well.
    export PIP_CONSTRAINT="$LOCK"
    "$ROOT/.venv/bin/python" -m pip install -q --disable-pip-version-check pip setuptools wheel
    "$ROOT/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[test]"
    touch "$stamp"
fi
