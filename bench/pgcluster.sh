# Sourced by bench/jobs/run.sh and bench/faults/run.sh: a private PostgreSQL 15 cluster
# in a temporary folder on a free port, never the shared one on 5432.
#   pg_start   initdb + postgres in the background; sets PG_DIR, PG_PORT,
#              PG_ADMIN_URL (superuser postgres, trust) and PG_PID (the postmaster)
#   pg_stop    stops it (fast) and deletes the folder
#   pg_restart stops it (fast) and starts it again on the same folder and port
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
as_pg() {  # initdb and postgres refuse to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pg_launch() {
  as_pg "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" -k "$PG_DIR" -c listen_addresses=127.0.0.1 \
    > "$PG_DIR/postgres.log" 2>&1 &
  for _ in $(seq 1 300); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
      PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
      return 0
    fi
    sleep 0.1
  done
  echo "the private PostgreSQL did not start:" >&2; cat "$PG_DIR/postgres.log" >&2; return 1
}
pg_start() {
  PG_DIR=$(mktemp -d /tmp/rookery-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 > "$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  PG_PORT=$(free_port)
  PG_ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  pg_launch
}
pg_halt() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop > /dev/null 2>&1 || true
}
pg_restart() {
  pg_halt
  pg_launch
}
pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  pg_halt
  rm -rf "$PG_DIR"
  PG_DIR=
}
