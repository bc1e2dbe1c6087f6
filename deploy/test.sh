#!/usr/bin/env bash
# The whole test suite on real parts: installs the Python dependencies, fetches and starts a real Kafka
# broker and a real PostgreSQL, runs pytest, and stops both whatever happens (PostgreSQL keeps its data;
# each test works in a schema of its own and drops it).
#   bash deploy/test.sh [pytest arguments...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source "$ROOT/deploy/venv.sh"

stop() {
    bash "$ROOT/deploy/kafka.sh" stop >/dev/null 2>&1 || true
    bash "$ROOT/deploy/postgres.sh" stop >/dev/null 2>&1 || true
}
trap stop EXIT

# Both servers start in parallel: they are independent and each takes a few seconds.
mkdir -p "$ROOT/.cache"
bash "$ROOT/deploy/kafka.sh" start > "$ROOT/.cache/kafka-start.log" 2>&1 &
kafka_pid=$!
dsn=$(bash "$ROOT/deploy/postgres.sh" start | tail -n 1)
if ! wait "$kafka_pid"; then
    cat "$ROOT/.cache/kafka-start.log" >&2
    exit 1
fi
bash "$ROOT/deploy/kafka.sh" topics >/dev/null

export CERTX_KAFKA="127.0.0.1:${CERTX_KAFKA_PORT:-9092}"
# The projector's DSN (the tests' read models), the reader's, and the superuser's for the tests' set-up only.
export CERTX_PG_DSN="$dsn"
CERTX_PG_READER_DSN="$(bash "$ROOT/deploy/postgres.sh" dsn reader)"
CERTX_PG_ADMIN_DSN="$(bash "$ROOT/deploy/postgres.sh" dsn admin)"
export CERTX_PG_READER_DSN CERTX_PG_ADMIN_DSN
# The integration tests fail, rather than skip, if a server is missing.
export CERTX_REQUIRE_KAFKA=1 CERTX_REQUIRE_PG=1
"$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
