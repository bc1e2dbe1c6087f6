#!/usr/bin/env bash
# deploy/postgres.sh - a local PostgreSQL server for certx development and tests. It keeps its data:
# only `reset` deletes anything.
#
# Usage: deploy/postgres.sh {install|start|stop|restart|reset|status|dsn [ROLE]|check}
#   install  install Debian's `postgresql` package if no server binaries are present (needs root)
#   start    install if needed; initdb a cluster only when there is none, else start the existing one
#            (already running: says so). Then makes sure the roles and the database `certx` exist
#            (deploy/postgres_roles.sql: creates what is missing, changes nothing else).
#            The last line of stdout is the projector's DSN.
#   stop     pg_ctl stop -m fast (idempotent; no-op when nothing runs). The data is kept.
#   restart  stop, then start. The data is kept.
#   reset    stop, then DELETE the data dir: the one command that wipes. `start` then makes a new cluster.
#   status   prints "running <DSN>" (exit 0) or "stopped" (exit 3)
#   dsn [projector|reader|admin]
#            prints that role's DSN (default projector), whether or not the server runs
#   check    runs deploy/postgres_check.py against the running server, as the superuser
#
# Roles, each with a password (scram-sha-256) from deploy/postgres.dev.env (development only):
#   postgres         the superuser, for set-up only (initdb, the roles, the tests' schemas)
#   certx_projector  owns the database certx, so (PostgreSQL 15) its schema public: creates and writes the tables
#   certx_reader     read-only: CONNECT, USAGE on public, SELECT on its tables and sequences, present and future
#
# Environment:
#   CERTX_PG_PORT   TCP port on 127.0.0.1 (default 54329)
#   CERTX_PG_DB     database name (default certx)
#   CERTX_PG_ADMIN_PASSWORD, CERTX_PG_PROJECTOR_PASSWORD, CERTX_PG_READER_PASSWORD
#                   override deploy/postgres.dev.env; a password is set when its role is created (initdb
#                   for the superuser) and never changed by this script afterwards
#   CERTX_PG_OSUSER OS user that runs the server when invoked as root (default postgres,
#                   created by the Debian package). When invoked as non-root, the server
#                   runs as the invoking user.
#   CERTX_PG_BASE   state dir (data/, postgres.log); default $ROOT/.cache/postgres, or
#                   /tmp/certx-postgres-$PORT if the OS user cannot reach $ROOT.
#
# The server listens on 127.0.0.1 only and on a unix socket in a private mktemp dir under /tmp; both ask
# every role for its password (pg_hba: scram-sha-256, nothing trusted).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${CERTX_PG_PORT:-54329}"
DB="${CERTX_PG_DB:-certx}"
SUPERUSER=postgres

log() { echo "postgres.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- roles, passwords, DSNs
# The development passwords, unless the environment sets them: plain KEY=value lines, so compose reads the
# same file (--env-file).
while IFS='=' read -r key value; do
    [[ "$key" =~ ^CERTX_PG_[A-Z_]+$ ]] || continue
    [[ -n "${!key:-}" ]] || printf -v "$key" '%s' "$value"
done < "$ROOT/deploy/postgres.dev.env"
for key in CERTX_PG_ADMIN_PASSWORD CERTX_PG_PROJECTOR_PASSWORD CERTX_PG_READER_PASSWORD; do
    # They go into DSNs unencoded.
    [[ "${!key:-}" =~ ^[A-Za-z0-9._~-]+$ ]] || die "$key must be set and URL-safe (letters, digits, - . _ ~)"
done

dsn() {
    case "${1:-projector}" in
        projector) echo "postgresql://certx_projector:${CERTX_PG_PROJECTOR_PASSWORD}@127.0.0.1:${PORT}/${DB}" ;;
        reader)    echo "postgresql://certx_reader:${CERTX_PG_READER_PASSWORD}@127.0.0.1:${PORT}/${DB}" ;;
        admin)     echo "postgresql://${SUPERUSER}:${CERTX_PG_ADMIN_PASSWORD}@127.0.0.1:${PORT}/${DB}" ;;
        *) die "no role '$1': projector, reader or admin" ;;
    esac
}
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

# The base dir holding a cluster, if any: a cluster is started wherever it was made.
find_cluster() {
    local base
    while read -r base; do
        if [[ -f "$base/data/PG_VERSION" ]]; then echo "$base"; return 0; fi
    done < <(candidate_bases)
    return 1
}

# The base dir of the running server, if any.
running_base() {
    local base
    while read -r base; do
        if server_pid "$base/data" >/dev/null; then echo "$base"; return 0; fi
    done < <(candidate_bases)
    return 1
}

# A new cluster in $2/data: the superuser's password goes through a file only the OS user can read (so it is
# on no command line); scram-sha-256 for every connection.
init_cluster() {
    local bindir="$1" base="$2" pwfile="$2/initdb.pw"
    log "no cluster yet: initdb in $base/data"
    (umask 077 && printf '%s\n' "$CERTX_PG_ADMIN_PASSWORD" > "$pwfile")
    [[ $EUID -eq 0 ]] && chown "$OSUSER:" "$pwfile"
    # --no-sync only skips initdb's final flush of the new files; the running server keeps PostgreSQL's
    # default fsync settings.
    if ! as_pg "$bindir/initdb" -D "$base/data" -U "$SUPERUSER" --pwfile="$pwfile" --auth=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions >/dev/null; then
        rm -f -- "$pwfile"
        die "initdb failed"
    fi
    rm -f -- "$pwfile"
}

# Written on every start, so that a cluster made by an older version of this script trusts nobody either.
write_hba() {
    local data="$1"
    cat > "$data/pg_hba.conf" <<CONF
# certx (deploy/postgres.sh writes this on every start): a password for every role, on the private unix
# socket and on 127.0.0.1 only. Nothing is trusted.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
CONF
    if [[ $EUID -eq 0 ]]; then chown "$OSUSER:" "$data/pg_hba.conf"; fi
}

# The roles and the database (deploy/postgres_roles.sql), as the superuser over TCP.
ensure_roles() {
    local bindir="$1"
    as_pg env PGPASSWORD="$CERTX_PG_ADMIN_PASSWORD" CERTX_PG_DB="$DB" \
        CERTX_PG_PROJECTOR_PASSWORD="$CERTX_PG_PROJECTOR_PASSWORD" CERTX_PG_READER_PASSWORD="$CERTX_PG_READER_PASSWORD" \
        "$bindir/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -d postgres -f - \
        < "$ROOT/deploy/postgres_roles.sql" >&2 ||
        die "could not set up the roles as $SUPERUSER (a cluster made before passwords has none:" \
            "\`deploy/postgres.sh reset\` deletes it and its data, then \`start\` makes a new one)"
}

cmd_start() {
    cmd_install
    ensure_osuser
    local bindir base data sock
    bindir="$(pg_bindir)"

    if base="$(running_base)"; then
        log "already running in $base/data"
        ensure_roles "$bindir"
        dsn projector
        return 0
    fi
    if ! base="$(find_cluster)"; then
        base="$(choose_base)"
        mkdir -p -- "$base"
        [[ $EUID -eq 0 ]] && chown "$OSUSER:" "$base"
        chmod 700 "$base"
        as_pg test -w "$base" || die "OS user $OSUSER cannot write $base (set CERTX_PG_BASE)"
        init_cluster "$bindir" "$base"
    fi
    data="$base/data"
    log "state dir: $base (server runs as OS user $OSUSER)"
    stop_one "$bindir" "$base"      # only clears what a crash left: a stale postmaster.pid, the socket dir
    write_hba "$data"

    sock="$(mktemp -d /tmp/certx-pg-sock.XXXXXX)"
    [[ $EUID -eq 0 ]] && chown "$OSUSER:" "$sock"
    echo "$sock" > "$base/socket_dir"
    # Where it listens is given at each start, not written into postgresql.conf: the socket dir is new each
    # time, and the port is whatever CERTX_PG_PORT says now.
    if ! as_pg "$bindir/pg_ctl" start -D "$data" -l "$base/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$sock" >/dev/null; then
        log "server failed to start; last lines of $base/postgres.log:"
        tail -n 20 "$base/postgres.log" >&2 || true
        as_pg "$bindir/pg_ctl" stop -D "$data" -m immediate >/dev/null 2>&1 || true
        stop_one "$bindir" "$base"
        exit 1
    fi
    ensure_roles "$bindir"
    log "started; log: $base/postgres.log"
    dsn projector
}

cmd_reset() {
    local base
    cmd_stop
    while read -r base; do
        if [[ -d "$base/data" ]]; then
            log "deleting $base/data and its log"
            rm -rf -- "$base/data" "$base/postgres.log"
        fi
    done < <(candidate_bases)
    log "reset: no cluster left; \`start\` makes a new one"
}

cmd_status() {
    local base pid
    if [[ -n "$(pg_bindir)" ]] && base="$(running_base)" && pid="$(server_pid "$base/data")"; then
        echo "running $(dsn projector) (pid $pid, data: $base/data)"
        return 0
    fi
    echo "stopped"
    return 3
}

cmd_check() {
    local py="$ROOT/.venv/bin/python"
    [[ -x "$py" ]] || py=python3
    "$py" "$ROOT/deploy/postgres_check.py" "$(dsn admin)"
}

case "${1:-}" in
    install) cmd_install ;;
    start)   cmd_start ;;
    stop)    cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    reset)   cmd_reset ;;
    status)  cmd_status ;;
    dsn)     dsn "${2:-projector}" ;;
    check)   cmd_check ;;
    *) echo "usage: $0 {install|start|stop|restart|reset|status|dsn [projector|reader|admin]|check}" >&2; exit 2 ;;
esac
