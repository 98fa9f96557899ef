#!/usr/bin/env bash
# A local PostgreSQL for the DuckLake catalog and the Dagster instance (docs/scale-out.md): one cluster in
# a project folder, listening on 127.0.0.1 only, with a trusted superuser `ctr` and the databases `ctr`
# (the lake's catalog) and `dagster`. Idempotent: `start` installs, initialises and starts only what is
# missing. In production both databases live on a managed PostgreSQL instead.
#
#   scripts/postgres.sh start|stop|status|env
#
# CTR_PG_DIR (default .postgres/ in the project) and CTR_PG_PORT (default 54329, beside a system
# cluster's 5432) move it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PGDIR="${CTR_PG_DIR:-$ROOT/.postgres}"
PORT="${CTR_PG_PORT:-54329}"
SUPERUSER=ctr
DATABASES=(ctr dagster)

say() { echo "postgres: $*" >&2; }

bindir() {
    # Debian keeps the server binaries out of PATH, one folder per major version: take the newest.
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
    dir="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
    if [ -x "$dir/initdb" ]; then echo "$dir"; fi
}

install_server() {
    [ -n "$(bindir)" ] && return
    local apt=(apt-get)
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            apt=(sudo apt-get)
        else
            say "the PostgreSQL server is not installed; as root: apt-get install postgresql"
            exit 1
        fi
    fi
    say "installing PostgreSQL (apt-get install postgresql)"
    "${apt[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq postgresql >/dev/null
    [ -n "$(bindir)" ] || { say "apt-get installed no initdb"; exit 1; }
}

# initdb refuses to run as root: as root, the cluster belongs to the `postgres` OS user (made by the
# Debian package), which must be able to reach the folder.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

resolve_dir() {
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$(dirname "$PGDIR")" 2>/dev/null; then
        # A clone under a private folder (/root/...): the postgres user cannot enter it.
        local fallback="${TMPDIR:-/tmp}/ctr-postgres-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
        say "the postgres user cannot reach $PGDIR; using $fallback"
        PGDIR="$fallback"
    fi
}

running() {
    [ -f "$PGDIR/data/PG_VERSION" ] && as_owner "$(bindir)/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1
}

psql_su() {
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -d postgres "$@"
}

start() {
    install_server
    resolve_dir
    local bin
    bin="$(bindir)"
    mkdir -p "$PGDIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDIR"; fi
    chmod 700 "$PGDIR"
    if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
        say "initialising a cluster in $PGDIR/data"
        # Trust on loopback only: a development cluster that nothing outside this machine can reach.
        as_owner "$bin/initdb" -D "$PGDIR/data" -U "$SUPERUSER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if running; then
        say "already running on 127.0.0.1:$PORT ($PGDIR)"
    else
        # No Unix socket: its path length limit would depend on where the project was cloned.
        as_owner "$bin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -t 60 start \
            -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories='' -c max_connections=200" \
            >/dev/null || { tail -n 20 "$PGDIR/postgres.log" >&2; exit 1; }
        say "started on 127.0.0.1:$PORT ($PGDIR; log: $PGDIR/postgres.log)"
    fi
    for db in "${DATABASES[@]}"; do
        if [ -z "$(psql_su -tAc "select 1 from pg_database where datname = '$db'")" ]; then
            psql_su -c "create database $db"
        fi
    done
}

stop() {
    resolve_dir
    if [ -n "$(bindir)" ] && running; then
        as_owner "$(bindir)/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null
        say "stopped ($PGDIR)"
    else
        say "not running"
    fi
}

status() {
    resolve_dir
    if [ -n "$(bindir)" ] && running; then
        say "running on 127.0.0.1:$PORT ($PGDIR)"
    else
        say "not running"
        return 3
    fi
}

# The settings that point the project at this cluster (docs/scale-out.md, "Settings").
env() {
    echo "export CTR_DUCKLAKE_CATALOG='postgres:dbname=ctr host=127.0.0.1 port=$PORT user=$SUPERUSER'"
    echo "export DAGSTER_PG_URL='postgresql+psycopg2://$SUPERUSER@127.0.0.1:$PORT/dagster'"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) env ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
