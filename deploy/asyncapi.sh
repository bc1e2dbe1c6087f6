#!/usr/bin/env bash
# Install the AsyncAPI parser the tests validate schemas/asyncapi.json with: @asyncapi/parser from npm, at the
# version deploy/asyncapi/package-lock.json pins (npm ci), into .cache/asyncapi/. A no-op when the lock has not
# changed since the last install. Sourced or run by deploy/test.sh; prints nothing on success.
set -euo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
dest="$ROOT/.cache/asyncapi"
if [ -f "$dest/node_modules/.package-lock.json" ] && cmp -s "$ROOT/deploy/asyncapi/package-lock.json" "$dest/package-lock.json"; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "asyncapi.sh: npm is not installed (apt-get install nodejs npm); the AsyncAPI test will fail" >&2
    exit 0
fi
mkdir -p "$dest"
cp "$ROOT/deploy/asyncapi/package.json" "$ROOT/deploy/asyncapi/package-lock.json" "$dest/"
# --ignore-scripts: the parser needs no install script (one of its dependencies has a telemetry postinstall).
(cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
