#!/usr/bin/env bash
# The main job on the embedded default: install what is needed, then run `certx` (default: replay the
# shipped sample trade day, no broker).   bash deploy/run.sh [certx arguments...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/deploy/venv.sh" >&2
if [ $# -eq 0 ]; then
    set -- replay
fi
exec "$ROOT/.venv/bin/certx" "$@"
