#!/usr/bin/env bash
# The benchmarks: the pure engine (loadtest.engine_bench), the same listing flow through certx and
# matching-engine from PyPI under Python 3.12 (loadtest.peer_bench, its own venv in .cache/peer-venv), the
# official days built and replayed embedded (loadtest.days_bench), engine snapshots (loadtest.snapshot_bench), certx on
# the real Kafka broker (loadtest.kafka_bench: the matcher alone, the raw pipe, through the gateway, latency,
# hostile records), recovery after kill -9 (loadtest.recovery_bench), a gateway's start on a day of millions of
# orders (loadtest.recall_bench) and settlement into the real PostgreSQL
# (loadtest.settlement_bench), the GEC book (loadtest.gec_bench), the 24/7 allocation (loadtest.allocation_bench),
# real days through the whole stack (loadtest.replay_bench: the CEA history, the ceiling speed-up on December
# 2021, the stress day), and the market page at 2,000 commands/s in headless Chromium (loadtest.web_bench).
# Results go to loadtest/results/{engine,peer,gec,allocation,days,snapshot,kafka,surrender,recovery,recall,
# settlement,replay,web}.json.
#
#   loadtest/run.sh [kafka_bench options, e.g. --commands 300000 --latency-seconds 30 --rounds 3]
#
# Starts the broker (deploy/kafka.sh start, then access: users, ACLs, client files) and PostgreSQL
# (deploy/postgres.sh start) only if they are not running, and stops at the end what it started; a server that
# was already running is used and left running. Both keep their data; every benchmark works in topics, ACLs and
# schemas of its own and drops them. The servers' ports and state dirs follow deploy/*.sh's environment
# (CERTX_KAFKA_PORT, CERTX_KAFKA_CONTROLLER_PORT, CERTX_KAFKA_STATE, CERTX_PG_PORT, CERTX_PG_BASE).
# Env: ENGINE_BENCH_ARGS, PEER_BENCH_ARGS, GEC_BENCH_ARGS, ALLOCATION_BENCH_ARGS, DAYS_BENCH_ARGS,
#      SNAPSHOT_BENCH_ARGS, RECOVERY_BENCH_ARGS (e.g. "--commands 2000000"), RECALL_BENCH_ARGS, SETTLEMENT_BENCH_ARGS,
#      REPLAY_BENCH_ARGS, WEB_BENCH_ARGS: each benchmark's options (default: its own defaults).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=../deploy/venv.sh
source deploy/venv.sh
PY="$ROOT/.venv/bin/python"

started_kafka=0
started_pg=0
stop_started() {
    if [[ $started_pg == 1 ]]; then
        bash deploy/postgres.sh stop || true
    fi
    if [[ $started_kafka == 1 ]]; then
        bash deploy/kafka.sh stop || true
    fi
}
trap stop_started EXIT
if ! bash deploy/kafka.sh status >/dev/null 2>&1; then
    started_kafka=1
    bash deploy/kafka.sh start
    bash deploy/kafka.sh access
fi
if ! bash deploy/postgres.sh status >/dev/null 2>&1; then
    started_pg=1
    bash deploy/postgres.sh start >/dev/null
fi
export CERTX_KAFKA="127.0.0.1:${CERTX_KAFKA_PORT:-9092}"

# shellcheck disable=SC2086  # the *_ARGS are word lists
{
    echo "== engine benchmark"
    "$PY" -m loadtest.engine_bench ${ENGINE_BENCH_ARGS:-}
    echo "== peer benchmark"
    "$PY" -m loadtest.peer_bench ${PEER_BENCH_ARGS:-}
    echo "== GEC book benchmark"
    "$PY" -m loadtest.gec_bench ${GEC_BENCH_ARGS:-}
    echo "== 24/7 allocation benchmark"
    "$PY" -m loadtest.allocation_bench ${ALLOCATION_BENCH_ARGS:-}
    echo "== real days benchmark"
    "$PY" -m loadtest.days_bench ${DAYS_BENCH_ARGS:-}
    echo "== snapshot benchmark"
    "$PY" -m loadtest.snapshot_bench ${SNAPSHOT_BENCH_ARGS:-}
    echo "== Kafka benchmark"
    "$PY" -m loadtest.kafka_bench "$@"
    echo "== surrender benchmark"
    "$PY" -m loadtest.surrender_bench ${SURRENDER_BENCH_ARGS:-}
    echo "== recovery benchmark"
    "$PY" -m loadtest.recovery_bench ${RECOVERY_BENCH_ARGS:-}
    echo "== a gateway's start on a long day"
    "$PY" -m loadtest.recall_bench ${RECALL_BENCH_ARGS:-}
    echo "== settlement benchmark"
    "$PY" -m loadtest.settlement_bench ${SETTLEMENT_BENCH_ARGS:-}
    echo "== real days through the stack"
    "$PY" -m loadtest.replay_bench ${REPLAY_BENCH_ARGS:-}
    echo "== the market page"
    "$PY" -m loadtest.web_bench ${WEB_BENCH_ARGS:-}
}
