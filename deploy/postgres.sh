#!/usr/bin/env bash
# deploy/postgres.sh - a throw-away local PostgreSQL server for certx development and tests.
#
# Usage: deploy/postgres.sh {install|start|stop|status|dsn|check}
#   install  install Debian's `postgresql` package if no server binaries are present (needs root)
#   start    install if needed, stop any server of ours, WIPE the data dir, initdb a fresh cluster,
#            start it and create the database `certx`. Last line of stdout is the DSN.
#            Every start therefore gives a clean, empty database (start doubles as "reset").
#   stop     pg_ctl stop -m fast (idempotent; no-op when nothing runs)
#   status   prints "running <DSN>" (exit 0) or "stopped" (exit 3)
#   dsn      prints the DSN (whether or not the server runs)
#   check    runs deploy/postgres_check.py against the running server
#
# Environment:
#   CERTX_PG_PORT   TCP port on 127.0.0.1 (default 54329)
#   CERTX_PG_DB     database name (default certx)
#   CERTX_PG_OSUSER OS user that runs the server when invoked as root (default postgres,
#                   created by the Debian package). When invoked as non-root, the server
#                   runs as the invoking user.
#   CERTX_PG_BASE   state dir (data/, postgres.log); default $ROOT/.cache/postgres, or
#                   /tmp/certx-postgres-$PORT if the OS user cannot reach $ROOT.
#
# The server listens on 127.0.0.1 only, trusts every connection from 127.0.0.1 (and the
# unix socket, which lives in a private mktemp dir under /tmp), superuser role `postgres`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${CERTX_PG_PORT:-54329}"
DB="${CERTX_PG_DB:-certx}"
SUPERUSER=postgres
DSN="postgresql://${SUPERUSER}@127.0.0.1:${PORT}/${DB}"

log() { echo "postgres.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- binaries / install
pg_bindir() {
    # bin dir of the highest installed server version; prints nothing if none is installed.
    local f
    # shellcheck disable=SC2012  # fixed, simple paths
    f="$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n1 || true)"
    if [[ -n "$f" && -x "$f" ]]; then dirname "$f"; fi
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root to run: $*"
    fi
}

cmd_install() {
    local bindir
    bindir="$(pg_bindir)"
    if [[ -n "$bindir" ]]; then
        log "server already installed: $bindir"
        return 0
    fi
    log "installing Debian package postgresql ..."
    # Do not let the package create (and try to start) its own 'main' cluster on port 5432:
    # we run our own cluster. Honoured by postgresql-common's postinst via createcluster.conf's
    # include_dir. (Debian-style containers also have a policy-rc.d that blocks service starts.)
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/certx.conf >/dev/null
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql)
    if ! as_root "${apt[@]}"; then
        log "apt-get install failed; running apt-get update and retrying"
        as_root apt-get update
        as_root "${apt[@]}"
    fi
    bindir="$(pg_bindir)"
    [[ -n "$bindir" ]] || die "postgresql installed but no server binaries under /usr/lib/postgresql/*/bin"
    log "installed: $bindir"
}

# ---------------------------------------------------------------- who runs it, where
if [[ $EUID -eq 0 ]]; then
    OSUSER="${CERTX_PG_OSUSER:-postgres}"
else
    OSUSER="$(id -un)"
fi

# Run a command as the server's OS user, from / (so a cwd it cannot read does not matter).
as_pg() {
    if [[ $EUID -eq 0 && "$OSUSER" != root ]]; then
        (cd / && runuser -u "$OSUSER" -- "$@")
    else
        (cd / && "$@")
    fi
}

ensure_osuser() {
    [[ $EUID -eq 0 ]] || return 0
    [[ "$OSUSER" != root ]] || die "CERTX_PG_OSUSER must not be root (postgres refuses to run as root)"
    if ! id -u "$OSUSER" >/dev/null 2>&1; then
        log "creating system user $OSUSER"
        useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$OSUSER"
    fi
}

# State dir: $ROOT/.cache/postgres when the OS user can traverse $ROOT, else /tmp/certx-postgres-$PORT.
choose_base() {
    if [[ -n "${CERTX_PG_BASE:-}" ]]; then echo "$CERTX_PG_BASE"; return; fi
    if id -u "$OSUSER" >/dev/null 2>&1 && as_pg test -x "$ROOT" 2>/dev/null &&
        { [[ $EUID -eq 0 ]] || { mkdir -p "$ROOT/.cache/postgres" 2>/dev/null && [[ -w "$ROOT/.cache/postgres" ]]; }; }; then
        echo "$ROOT/.cache/postgres"
    else
        echo "/tmp/certx-postgres-$PORT"
    fi
}

candidate_bases() {
    if [[ -n "${CERTX_PG_BASE:-}" ]]; then echo "$CERTX_PG_BASE"; return; fi
    echo "$ROOT/.cache/postgres"
    echo "/tmp/certx-postgres-$PORT"
}

# ---------------------------------------------------------------- lifecycle
# True if $1 is a live (not zombie) process. PID 1 here may be slow to reap orphans, so a
# killed postmaster can linger as a zombie, which kill -0 / pg_ctl status would count as running.
pid_alive() {
    local st
    st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1 || true)"
    [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

# Prints the postmaster PID of a live server using data dir $1; fails if none.
server_pid() {
    local pid
    pid="$(head -n1 "$1/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && pid_alive "$pid" && echo "$pid"
}

stop_one() {
    local bindir="$1" base="$2" data="$2/data" pid i
    if pid="$(server_pid "$data")"; then
        log "stopping server in $data (pid $pid)"
        if ! as_pg "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 30 >/dev/null 2>&1 && pid_alive "$pid"; then
            log "fast shutdown failed; using immediate"
            as_pg "$bindir/pg_ctl" stop -D "$data" -m immediate -w -t 10 >/dev/null 2>&1 || true
        fi
        # pg_ctl returns once postmaster.pid is gone; wait for the process itself to exit too.
        for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.05; done
        pid_alive "$pid" && die "postmaster $pid in $data did not exit"
    fi
    # A crashed server leaves a stale postmaster.pid behind; drop it.
    if [[ -f "$data/postmaster.pid" ]]; then rm -f -- "$data/postmaster.pid"; fi
    # Remove the private socket dir of the last start, if any.
    if [[ -f "$base/socket_dir" ]]; then
        local sock
        sock="$(cat "$base/socket_dir")"
        if [[ "$sock" == /tmp/certx-pg-sock.* ]]; then rm -rf -- "$sock"; fi
        rm -f -- "$base/socket_dir"
    fi
}

cmd_stop() {
    local bindir base
    bindir="$(pg_bindir)"
    [[ -n "$bindir" ]] || { log "no server installed; nothing to stop"; return 0; }
    while read -r base; do
        if [[ -d "$base" ]]; then stop_one "$bindir" "$base"; fi
    done < <(candidate_bases)
    return 0
}

cmd_start() {
    cmd_install
    ensure_osuser
    local bindir base data sock
    bindir="$(pg_bindir)"
    cmd_stop

    base="$(choose_base)"
    data="$base/data"
    log "state dir: $base (server runs as OS user $OSUSER)"
    # Wipe and recreate: every start is a clean, empty cluster.
    rm -rf -- "$data" "$base/postgres.log"
    mkdir -p -- "$base"
    [[ $EUID -eq 0 ]] && chown "$OSUSER:" "$base"
    chmod 700 "$base"
    as_pg test -w "$base" || die "OS user $OSUSER cannot write $base (set CERTX_PG_BASE)"

    sock="$(mktemp -d /tmp/certx-pg-sock.XXXXXX)"
    [[ $EUID -eq 0 ]] && chown "$OSUSER:" "$sock"
    echo "$sock" > "$base/socket_dir"

    # --no-sync only skips initdb's final flush of the new files (throw-away cluster);
    # the running server keeps PostgreSQL's default fsync settings.
    as_pg "$bindir/initdb" -D "$data" -U "$SUPERUSER" --auth=trust -E UTF8 --locale=C.UTF-8 \
        --no-sync --no-instructions >/dev/null

    cat > "$data/pg_hba.conf" <<EOF
# certx throw-away cluster: trust on the private unix socket and on 127.0.0.1 only.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
EOF
    cat >> "$data/postgresql.conf" <<EOF

# ---- certx (deploy/postgres.sh) ----
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$sock'
EOF
    [[ $EUID -eq 0 ]] && chown "$OSUSER:" "$data/pg_hba.conf" "$data/postgresql.conf"

    if ! as_pg "$bindir/pg_ctl" start -D "$data" -l "$base/postgres.log" -w -t 60 >/dev/null; then
        log "server failed to start; last lines of $base/postgres.log:"
        tail -n 20 "$base/postgres.log" >&2 || true
        as_pg "$bindir/pg_ctl" stop -D "$data" -m immediate >/dev/null 2>&1 || true
        stop_one "$bindir" "$base"
        exit 1
    fi
    as_pg "$bindir/createdb" -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" "$DB"
    log "started; log: $base/postgres.log"
    echo "$DSN"
}

cmd_status() {
    local bindir base pid
    bindir="$(pg_bindir)"
    if [[ -n "$bindir" ]]; then
        while read -r base; do
            if pid="$(server_pid "$base/data")"; then
                echo "running $DSN (pid $pid, data: $base/data)"; return 0
            fi
        done < <(candidate_bases)
    fi
    echo "stopped"
    return 3
}

cmd_check() {
    local py="$ROOT/.venv/bin/python"
    [[ -x "$py" ]] || py=python3
    "$py" "$ROOT/deploy/postgres_check.py" "$DSN"
}

case "${1:-}" in
    install) cmd_install ;;
    start)   cmd_start ;;
    stop)    cmd_stop ;;
    status)  cmd_status ;;
    dsn)     echo "$DSN" ;;
    check)   cmd_check ;;
    *) echo "usage: $0 {install|start|stop|status|dsn|check}" >&2; exit 2 ;;
esac
