#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the tests marked `postgres`.
#
#   eval "$(.ci/postgres.sh)"     # starts (or reuses) the server, exports the URL
#   .ci/postgres.sh stop          # stops it
#
# Installs the Debian package when PostgreSQL is missing, keeps its data under
# $PROMOBOT_PG_DIR (default /tmp/promobot-postgres), listens on 127.0.0.1 only, on
# $PROMOBOT_PG_PORT or else a free high port, and prints
# `export PROMOBOT_TEST_POSTGRES_URL=postgresql+psycopg://...` on stdout (progress goes to stderr).
# Running it again reuses the running server. Authentication is `trust`: this server is
# for tests only, bound to loopback, and must never hold real data.
set -euo pipefail

DATA_ROOT="${PROMOBOT_PG_DIR:-/tmp/promobot-postgres}"
DATA="$DATA_ROOT/data"
DATABASE="${PROMOBOT_PG_DATABASE:-promobot_test}"
log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then echo "$dir"; fi
}

BINDIR="$(find_bindir)"
if [[ -z "$BINDIR" ]]; then
    log "PostgreSQL not found; installing the Debian package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BINDIR="$(find_bindir)"
    [[ -n "$BINDIR" ]] || { log "apt-get installed postgresql but no initdb was found"; exit 1; }
fi

# The server refuses to run as root: run its tools as the `postgres` user when we are root.
as_postgres() {
    if [[ "$(id -u)" == "0" ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [[ "${1:-}" == "stop" ]]; then
    if [[ -f "$DATA/postmaster.pid" ]]; then
        as_postgres "$BINDIR/pg_ctl" -D "$DATA" -m fast stop >&2 9>&-
    else
        log "no server running under $DATA"
    fi
    exit 0
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

mkdir -p "$DATA_ROOT"
if [[ "$(id -u)" == "0" ]]; then chown postgres "$DATA_ROOT"; fi

# One caller at a time: parallel test runs may call this script together.
exec 9>"$DATA_ROOT/.lock"
flock 9

if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "creating a cluster in $DATA"
    as_postgres "$BINDIR/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
        --no-instructions >/dev/null
fi

PORT_FILE="$DATA_ROOT/port"
if as_postgres "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    PORT="$(cat "$PORT_FILE")"
    log "reusing the server on 127.0.0.1:$PORT"
else
    PORT="${PROMOBOT_PG_PORT:-$(free_port)}"
    echo "$PORT" >"$PORT_FILE"
    log "starting the server on 127.0.0.1:$PORT"
    # `9>&-`: the server must not inherit the lock, or the next caller waits forever.
    as_postgres "$BINDIR/pg_ctl" -D "$DATA" -l "$DATA_ROOT/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DATA_ROOT \
            -c max_connections=200" >&2 9>&-
fi

if ! as_postgres "$BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
    as_postgres "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DATABASE"
fi

URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/$DATABASE"
echo "export PROMOBOT_TEST_POSTGRES_URL=$URL" >"$DATA_ROOT/env"
export PROMOBOT_TEST_POSTGRES_URL="$URL"
echo "export PROMOBOT_TEST_POSTGRES_URL=$URL"
