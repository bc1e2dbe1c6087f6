#!/usr/bin/env bash
# Refresh the lock, deploy/requirements.lock, which deploy/venv.sh installs from with --require-hashes: every
# package the two commands install, pinned, with the sha256 of each file the index serves for that version.
#   bash deploy/lock.sh                    resolve afresh (the newest releases pyproject.toml allows) in a
#                                          throw-away virtual environment, then read their hashes
#   bash deploy/lock.sh --same-versions    keep the lock's versions, read their hashes again
# Run it on purpose, then run the test command before committing the result.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${CERTX_PYTHON:-python3}"
LOCK="$ROOT/deploy/requirements.lock"
work="$(mktemp -d "${TMPDIR:-/tmp}/certx-lock.XXXXXX")"
trap 'rm -rf "$work"' EXIT
case "${1:-}" in
--same-versions)
    { grep '^#' "$LOCK"; grep -v '^#' "$LOCK"; } > "$work/pins" ;;
"")
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
        echo "# certx's lock: every package the two commands install, pinned, with the sha256 of each file of it."
        echo "# Resolved by deploy/lock.sh on $(date -u +%F) with $("$work/venv/bin/python" --version); do not edit by hand."
        "$work/venv/bin/python" -m pip freeze --all | LC_ALL=C sort -f
    } > "$work/pins" ;;
*)
    echo "usage: bash deploy/lock.sh [--same-versions]" >&2; exit 64 ;;
esac
"$PY" "$ROOT/deploy/hashes.py" "$work/pins" > "$work/lock"
mv "$work/lock" "$LOCK"
echo "wrote $LOCK ($(grep -c '^[A-Za-z]' "$LOCK") packages, $(grep -c -- '--hash=' "$LOCK") hashes)"
