#!/usr/bin/env bash
# A throwaway PostgreSQL server for the fleet-index tests, run as the postgres user from a data
# directory under $INGOT_TEST_TMP, listening on loopback only, trust authentication.
#
#   bash scripts/test-postgres.sh start   prints the URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   bash scripts/test-postgres.sh stop    stops it and removes the data directory
#
# scripts/test.sh starts one before the tests and exports INGOT_TEST_PG; a test run without it
# starts its own through this script. Needs the Debian package postgresql (scripts/setup.sh).
set -euo pipefail
base="${INGOT_TEST_TMP:-/var/tmp/ingot-tests}"
dir="$base/postgres"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "test-postgres: PostgreSQL is not installed (run scripts/setup.sh --peers)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-start}" in
  start)
    mkdir -p "$base"
    exec 9>"$base/postgres.lock"
    flock 9
    if [ -f "$dir/url" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      cat "$dir/url"
      exit 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 9>&- \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://postgres@127.0.0.1:$port/postgres" | tee "$dir/url.tmp" >/dev/null
    mv "$dir/url.tmp" "$dir/url"
    cat "$dir/url"
    ;;
  stop)
    if [ -d "$dir/data" ]; then as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
