#!/usr/bin/env bash
# Run a real single-node Kafka 4.1.1 (KRaft, broker+controller) from Maven Central jars, with authentication
# (SASL/SCRAM-SHA-512 for clients, SASL/PLAIN on the controller listener) and the StandardAuthorizer: every
# client is a principal of deploy/principals.dev, and nothing is allowed that its ACLs do not grant.
#
#   deploy/kafka.sh fetch    download broker jars into .cache/kafka/libs (once; cached)
#   deploy/kafka.sh start    fetch if needed, format the log dir if it has never been formatted, start, wait
#   deploy/kafka.sh stop     stop the broker (TERM, then KILL after 30 s); the data stays
#   deploy/kafka.sh restart  stop, then start: the same log dir, every topic kept
#   deploy/kafka.sh access   create the topics, users and ACLs from the principals file, and write each
#                            principal's client properties to $CERTX_KAFKA_STATE/clients/ (alias: topics)
#   deploy/kafka.sh status   print running/stopped (exit 0 if running, 3 if not)
#   deploy/kafka.sh log [N]  print the last N (60) lines of the broker log
#   deploy/kafka.sh reset    stop, then DELETE the broker's data (every topic): the only command that does
#
# Env: CERTX_KAFKA_PORT (default 9092), CERTX_KAFKA_CONTROLLER_PORT (default 9093),
#      CERTX_KAFKA_STATE (the broker's state dir: config, log dir, pid, log; default .cache/kafka/run),
#      CERTX_PRINCIPALS (default deploy/principals.dev),
#      CERTX_KAFKA_START_TIMEOUT (seconds, default 120), CERTX_KAFKA_HEAP (default 512m),
#      CERTX_KAFKA_GC (the JVM's collector options; default G1 with a 20 ms pause goal).
# Jars come via Maven's default local repository (~/.m2, or whatever the user's
# settings say), then are copied to .cache/kafka/libs.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

KAFKA_VERSION=4.1.1
LOG4J_VERSION=2.24.3
CACHE="$ROOT/.cache/kafka"
LIBS="$CACHE/libs"
MARKER="$LIBS/.fetched-kafka_2.13-$KAFKA_VERSION-log4j-$LOG4J_VERSION"
RUN="${CERTX_KAFKA_STATE:-$CACHE/run}"
PRINCIPALS="${CERTX_PRINCIPALS:-$ROOT/deploy/principals.dev}"
PIDFILE="$RUN/kafka.pid"
LOGFILE="$RUN/kafka.out"
PORT="${CERTX_KAFKA_PORT:-9092}"
CPORT="${CERTX_KAFKA_CONTROLLER_PORT:-9093}"
START_TIMEOUT="${CERTX_KAFKA_START_TIMEOUT:-120}"
HEAP="${CERTX_KAFKA_HEAP:-512m}"
GC="${CERTX_KAFKA_GC:--XX:+UseG1GC -XX:MaxGCPauseMillis=20}"

log() { echo "kafka.sh: $*" >&2; }

port_open() { # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# A process that exists and is not a zombie (an orphaned broker is re-parented to
# pid 1, which may reap it late; a zombie holds no port and must count as dead).
proc_alive() { # pid
    kill -0 "$1" 2>/dev/null || return 1
    if [[ -r "/proc/$1/stat" ]]; then
        local stat
        stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
        stat="${stat##*) }"
        [[ "${stat%% *}" != Z ]]
    fi
}

# The pid is a live broker started by this script for this checkout (guards against
# a stale pid file whose pid was reused by another process).
is_our_broker() { # pid
    proc_alive "$1" || return 1
    if [[ -r "/proc/$1/cmdline" ]]; then
        local cmdline
        cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
        [[ "$cmdline" == *kafka.Kafka*"$RUN/server.properties"* ]]
    fi
}

pid_alive() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] && is_our_broker "$pid"
}

# Java 17 and Maven come with these machines; a machine without them gets them from Debian's packages.
ensure_tools() {
    if command -v java >/dev/null && command -v mvn >/dev/null; then
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        log "java and mvn are needed: apt-get install openjdk-17-jre-headless maven"
        exit 1
    fi
    log "installing java and maven from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends openjdk-17-jre-headless maven >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends openjdk-17-jre-headless maven >/dev/null; }
}

cmd_fetch() {
    if [[ -f "$MARKER" ]]; then
        return 0
    fi
    ensure_tools
    local work
    work="$(mktemp -d "${TMPDIR:-/tmp}/certx-kafka-fetch.XXXXXX")"
    trap 'rm -rf "$work"; trap - RETURN' RETURN
    cat >"$work/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>certx.deploy</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-api</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
    log "fetching kafka_2.13:$KAFKA_VERSION + log4j $LOG4J_VERSION into $LIBS"
    rm -rf "$LIBS"
    mkdir -p "$LIBS"
    mvn -B -q -Dstyle.color=never -f "$work/pom.xml" \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIBS" >"$work/mvn.log" 2>&1 \
        || { cat "$work/mvn.log" >&2; log "mvn copy-dependencies failed"; exit 1; }
    [[ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" && -f "$LIBS/log4j-slf4j-impl-$LOG4J_VERSION.jar" ]] \
        || { log "fetch finished but the kafka or log4j jars are missing from $LIBS"; exit 1; }
    date -u +%FT%TZ >"$MARKER"
    log "fetched $(find "$LIBS" -name "*.jar" | wc -l) jars ($(du -sh "$LIBS" | cut -f1))"
}

# The broker's super user, from the principals file: the only identity that exists before `access` runs.
admin_field() { # 1 = name, 3 = password
    awk -v f="$1" '$0 !~ /^[[:space:]]*#/ && $2 == "admin" { print $f; exit }' "$PRINCIPALS"
}

write_config() { # logdir
    local logdir="$1"
    bash "$SCRIPT_DIR/kafka-properties.sh" "$PRINCIPALS" "$logdir" "127.0.0.1:$CPORT" "127.0.0.1:$CPORT" \
        "SASL_PLAINTEXT=127.0.0.1:$PORT=127.0.0.1:$PORT" >"$RUN/server.properties"
    cat >"$RUN/log4j2.yaml" <<EOF
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: state.change.logger
        level: WARN
EOF
}

cmd_start() {
    if pid_alive && port_open 127.0.0.1 "$PORT"; then
        log "already running (pid $(cat "$PIDFILE"), 127.0.0.1:$PORT)"
        return 0
    fi
    if pid_alive; then
        log "pid $(cat "$PIDFILE") alive but port $PORT closed; restarting"
        cmd_stop
    fi
    rm -f "$PIDFILE"
    if port_open 127.0.0.1 "$PORT"; then
        log "port 127.0.0.1:$PORT is already in use by another process"
        exit 1
    fi
    if port_open 127.0.0.1 "$CPORT"; then
        log "controller port 127.0.0.1:$CPORT is already in use by another process"
        exit 1
    fi
    command -v java >/dev/null || { log "java not found (Java 17+ required)"; exit 1; }
    cmd_fetch
    mkdir -p "$RUN"
    local logdir="$RUN/data"
    mkdir -p "$logdir"
    write_config "$logdir"
    local cp="$LIBS/*" t0 cluster_id
    t0=$(date +%s.%N)
    # Format only a log dir that has never been formatted: a start never deletes data (reset does).
    if [[ ! -f "$logdir/meta.properties" ]]; then
        cluster_id="$(java -cp "$cp" -Dlog4j2.configurationFile="$RUN/log4j2.yaml" \
            kafka.tools.StorageTool random-uuid 2>"$RUN/format.out" | tail -n1)" \
            || { cat "$RUN/format.out" >&2; log "StorageTool random-uuid failed"; exit 1; }
        java -cp "$cp" -Dlog4j2.configurationFile="$RUN/log4j2.yaml" \
            kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$RUN/server.properties" \
            --add-scram "SCRAM-SHA-512=[name=$(admin_field 1),password=$(admin_field 3)]" \
            >"$RUN/format.out" 2>&1 || { cat "$RUN/format.out" >&2; log "storage format failed"; exit 1; }
        log "formatted a new log dir $logdir (cluster $cluster_id)"
    fi
    # shellcheck disable=SC2086 # GC is a list of options
    nohup java -Xms"$HEAP" -Xmx"$HEAP" $GC \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$RUN/log4j2.yaml" \
        -cp "$cp" kafka.Kafka "$RUN/server.properties" >"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    local pid deadline i
    pid="$(cat "$PIDFILE")"
    deadline=$(( $(date +%s) + START_TIMEOUT ))
    while :; do
        if ! proc_alive "$pid"; then
            log "broker exited during start-up; log tail:"
            tail -n 40 "$LOGFILE" >&2 || true
            rm -f "$PIDFILE"
            exit 1
        fi
        if port_open 127.0.0.1 "$PORT" && grep -q "Kafka Server started" "$LOGFILE" 2>/dev/null; then
            break
        fi
        if (( $(date +%s) >= deadline )); then
            log "broker not ready after ${START_TIMEOUT}s; log tail:"
            tail -n 40 "$LOGFILE" >&2 || true
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                proc_alive "$pid" || break
                sleep 0.1
            done
            rm -f "$PIDFILE"
            exit 1
        fi
        sleep 0.2
    done
    log "started (pid $pid, 127.0.0.1:$PORT, controller $CPORT) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s; log $LOGFILE"
}

cmd_stop() {
    if [[ ! -f "$PIDFILE" ]]; then
        log "not running"
        return 0
    fi
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    if [[ -z "$pid" ]] || ! is_our_broker "$pid"; then
        log "not running (stale pid file removed)"
        rm -f "$PIDFILE"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 300; i++)); do
        proc_alive "$pid" || break
        sleep 0.1
    done
    if proc_alive "$pid"; then
        log "broker did not stop after 30s; killing"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            proc_alive "$pid" || break
            sleep 0.1
        done
    fi
    rm -f "$PIDFILE"
    log "stopped (pid $pid)"
}

cmd_status() {
    if pid_alive && port_open 127.0.0.1 "$PORT"; then
        echo "running (pid $(cat "$PIDFILE"), 127.0.0.1:$PORT)"
        return 0
    elif pid_alive; then
        echo "starting or unhealthy (pid $(cat "$PIDFILE"), port $PORT closed)"
        return 3
    fi
    echo "stopped"
    return 3
}

venv_python() {
    if [[ -x "$ROOT/.venv/bin/python" ]]; then
        echo "$ROOT/.venv/bin/python"
    else
        echo python3
    fi
}

cmd_access() {
    CERTX_KAFKA="127.0.0.1:$PORT" "$(venv_python)" -m certx.kafka.access --principals "$PRINCIPALS" \
        --clients "$RUN/clients"
}

cmd_reset() {
    cmd_stop
    if [[ -d "$RUN/data" ]]; then
        rm -rf -- "$RUN/data"
        log "deleted the broker's data ($RUN/data)"
    fi
}

usage() {
    echo "usage: $0 {fetch|start|stop|restart|access|topics|status|log|reset}" >&2
    exit 2
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    access|topics) cmd_access ;;
    status) cmd_status ;;
    log) tail -n "${2:-60}" "$LOGFILE" ;;
    reset) cmd_reset ;;
    *) usage ;;
esac
