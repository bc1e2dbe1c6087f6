#!/usr/bin/env bash
# Make sure .venv exists with certx and its test dependencies installed. Sourced by run.sh and test.sh.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
PY="${CERTX_PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
    "$PY" -m venv "$ROOT/.venv"
fi
stamp="$ROOT/.venv/.certx-installed"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    "$ROOT/.venv/bin/python" -m pip install -q --upgrade pip
    "$ROOT/.venv/bin/python" -m pip install -q -e "$ROOT[test]"
    touch "$stamp"
fi
