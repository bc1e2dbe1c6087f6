#!/usr/bin/env bash
# Make sure .venv exists with certx and its test dependencies, installed from the lock (deploy/requirements.lock;
# refresh it with deploy/lock.sh). Sourced by run.sh and test.sh.
# Every file is hash-checked (--require-hashes), nothing is resolved here (--no-deps: the lock holds every package
# pinned), and certx itself is built with the locked setuptools (--no-build-isolation), so nothing unpinned or
# unchecked is fetched. Re-installs only when pyproject.toml or the lock changed since the last install.
set -euo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
PY="${CERTX_PYTHON:-python3}"
LOCK="$ROOT/deploy/requirements.lock"
# A .venv without pip is one whose making was cut short (venv writes bin/python first and runs ensurepip last):
# making it again in place finishes it, where every run after would end in 'No module named pip'.
if ! "$ROOT/.venv/bin/python" -c 'import pip' 2>/dev/null; then
    "$PY" -m venv "$ROOT/.venv"
fi
# CERTX_PYTHON names the Python to run on: a .venv made with another version is said, not kept without a word.
if [ -n "${CERTX_PYTHON:-}" ]; then
    version='import sys; print("%d.%d" % sys.version_info[:2])'
    want="$("$PY" -c "$version")" have="$("$ROOT/.venv/bin/python" -c "$version")"
    if [ "$want" != "$have" ]; then
        echo "venv.sh: .venv is Python $have and CERTX_PYTHON ($PY) is $want: remove .venv to make it with $PY" >&2
        exit 1
    fi
fi
stamp="$ROOT/.venv/.certx-installed"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$LOCK" -nt "$stamp" ]; then
    pip=("$ROOT/.venv/bin/python" -m pip --disable-pip-version-check)
    "${pip[@]}" install -q --require-hashes --no-deps -r "$LOCK"
    "${pip[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
    "${pip[@]}" check >/dev/null || { "${pip[@]}" check; echo "venv.sh: the lock misses a dependency (deploy/lock.sh)" >&2; exit 1; }
    touch "$stamp"
fi
