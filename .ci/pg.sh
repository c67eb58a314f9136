#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, from Debian's package.
# usage (bash): source .ci/pg.sh; pg_start; trap pg_stop EXIT
#   -> exports QI_TEST_POSTGRES_URL (a superuser URL; each test creates its own database)
# The server runs as the `postgres` user when we are root (initdb refuses root), listens
# on 127.0.0.1 only, on a free port, keeps everything in a temporary folder, and trusts
# local connections: it exists for the length of one test run.
pg_start() {
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PGTMP=$(mktemp -d -t qi-pg.XXXXXX)
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PGTMP"
    as=(runuser -u postgres --)
  fi
  PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
    >"$PGTMP/initdb.log" 2>&1 || { cat "$PGTMP/initdb.log"; return 1; }
  "${as[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGTMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { cat "$PGTMP/server.log"; return 1; }
  export PGBIN PGTMP PGPORT
  export QI_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"
}

pg_stop() {
  [ -n "${PGTMP:-}" ] && [ -d "$PGTMP/data" ] || return 0
  local as=()
  [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null || true
  rm -rf "$PGTMP"
}
