#!/usr/bin/env bash
# The whole test suite on real parts: installs the Python dependencies (from the lock), kcat, Chromium and the AsyncAPI
# parser (deploy/asyncapi.sh: @asyncapi/parser from npm, into .cache/asyncapi), fetches and
# starts a real Kafka broker (SASL/SCRAM and ACLs) and a real PostgreSQL (SCRAM, roles), runs pytest, and stops
# both whatever happens.
#   bash deploy/test.sh [pytest arguments...]
#
# The test servers are the test command's own: their own ports (Kafka 19092/19093, PostgreSQL 54339) and
# state under .cache/test/, which this command resets at the start, by name, so every run begins from empty
# servers and a development broker or database elsewhere is never touched.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source "$ROOT/deploy/venv.sh"

export CERTX_KAFKA_PORT="${CERTX_TEST_KAFKA_PORT:-19092}" CERTX_KAFKA_CONTROLLER_PORT="${CERTX_TEST_KAFKA_CONTROLLER_PORT:-19093}"
export CERTX_KAFKA_STATE="$ROOT/.cache/test/kafka"
export CERTX_PG_PORT="${CERTX_TEST_PG_PORT:-54339}" CERTX_PG_BASE="$ROOT/.cache/test/postgres"
mkdir -p "$ROOT/.cache/test"

# kcat, a client that is not Python, for the routing test (Debian's package).
if ! command -v kcat >/dev/null && [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kcat >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kcat >/dev/null 2>&1; } \
        || echo "test.sh: could not install kcat; its test will fail" >&2
fi
# Chromium and its chromedriver, for the test that opens the replay report in a real browser (Debian's packages).
if ! { command -v chromium && command -v chromedriver; } >/dev/null && [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1; } \
        || echo "test.sh: could not install chromium; the report's browser test will fail" >&2
fi

# The real AsyncAPI parser the contract test runs (npm, pinned by deploy/asyncapi/package-lock.json).
bash "$ROOT/deploy/asyncapi.sh"

stop() {
    bash "$ROOT/deploy/kafka.sh" stop >/dev/null 2>&1 || true
    bash "$ROOT/deploy/postgres.sh" stop >/dev/null 2>&1 || true
}
trap stop EXIT

# Empty test servers, then both start in parallel: they are independent and each takes a few seconds.
bash "$ROOT/deploy/kafka.sh" reset >/dev/null 2>&1
bash "$ROOT/deploy/postgres.sh" reset >/dev/null 2>&1
bash "$ROOT/deploy/kafka.sh" start > "$ROOT/.cache/test/kafka-start.log" 2>&1 &
kafka_pid=$!
dsn=$(bash "$ROOT/deploy/postgres.sh" start | tail -n 1)
if ! wait "$kafka_pid"; then
    cat "$ROOT/.cache/test/kafka-start.log" >&2
    exit 1
fi
bash "$ROOT/deploy/kafka.sh" access >/dev/null

export CERTX_KAFKA="127.0.0.1:$CERTX_KAFKA_PORT"
# The projector's DSN (the tests' read models), the reader's, and the superuser's for the tests' set-up only.
export CERTX_PG_DSN="$dsn"
CERTX_PG_READER_DSN="$(bash "$ROOT/deploy/postgres.sh" dsn reader)"
CERTX_PG_ADMIN_DSN="$(bash "$ROOT/deploy/postgres.sh" dsn admin)"
export CERTX_PG_READER_DSN CERTX_PG_ADMIN_DSN
# The integration tests fail, rather than skip, if a server (or the browser) is missing.
export CERTX_REQUIRE_KAFKA=1 CERTX_REQUIRE_PG=1 CERTX_REQUIRE_BROWSER=1
"$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
