#!/usr/bin/env bash
# Refresh the lock: resolve certx's dependencies afresh (the newest releases that pyproject.toml allows) in a
# throw-away virtual environment, and write every pinned version to deploy/constraints.txt, which
# deploy/venv.sh installs from. Run it on purpose, then run the test command before committing the result.
#   bash deploy/lock.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${CERTX_PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/certx-lock.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
# certx's own requirements, read from pyproject.toml (installing certx itself would build it in the tree)
"$work/venv/bin/python" - "$ROOT/pyproject.toml" > "$work/requirements.txt" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["test"]))
PY
"$work/venv/bin/python" -m pip install -q -r "$work/requirements.txt"
{
    echo "# certx's lock: every package the two commands install, pinned. Written by deploy/lock.sh on $(date -u +%F)"
    echo "# with $("$work/venv/bin/python" --version); do not edit by hand."
    "$work/venv/bin/python" -m pip freeze --all | LC_ALL=C sort -f
} > "$ROOT/deploy/constraints.txt"
echo "wrote $ROOT/deploy/constraints.txt ($(grep -vc '^#' "$ROOT/deploy/constraints.txt") packages)"
