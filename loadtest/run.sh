#!/usr/bin/env bash
# The benchmarks: the pure engine (loadtest.engine_bench), engine snapshots (loadtest.snapshot_bench), the
# matcher on the real Kafka broker (loadtest.kafka_bench), and settlement into the real PostgreSQL
# (loadtest.settlement_bench). Results go to loadtest/results/{engine,snapshot,kafka,settlement}.json.
#
#   loadtest/run.sh [kafka_bench options, e.g. --commands 300000 --latency-seconds 30 --rounds 3]
#
# Starts the broker (deploy/kafka.sh; each start is a clean broker) only if it is not running, and then
# stops it at the end; a broker that was already running is used and left running. The settlement benchmark
# does the same with PostgreSQL (deploy/postgres.sh).
# Env: ENGINE_BENCH_ARGS (default empty: engine_bench's own defaults).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=../deploy/venv.sh
source deploy/venv.sh
PY="$ROOT/.venv/bin/python"

started=0
stop_broker() {
    if [[ $started == 1 ]]; then
        bash deploy/kafka.sh stop || true
    fi
}
trap stop_broker EXIT
if ! bash deploy/kafka.sh status >/dev/null 2>&1; then
    started=1
    bash deploy/kafka.sh start
    bash deploy/kafka.sh topics >/dev/null
fi
export CERTX_KAFKA="${CERTX_KAFKA:-127.0.0.1:${CERTX_KAFKA_PORT:-9092}}"

echo "== engine benchmark"
# shellcheck disable=SC2086
"$PY" -m loadtest.engine_bench ${ENGINE_BENCH_ARGS:-}
echo "== snapshot benchmark"
"$PY" -m loadtest.snapshot_bench
echo "== Kafka benchmark"
"$PY" -m loadtest.kafka_bench --bootstrap "$CERTX_KAFKA" "$@"
echo "== settlement benchmark"
"$PY" -m loadtest.settlement_bench --bootstrap "$CERTX_KAFKA"
