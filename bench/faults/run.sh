#!/usr/bin/env bash
# The fault run: `taskboard serve` and two `taskboard worker` processes on a
# PRIVATE PostgreSQL cluster (../pgcluster.sh: initdb in a temporary folder,
# a free port) and a PRIVATE redis-server (a free port), under request load
# (load.py: creates and archives), while
#   (i)   PostgreSQL is stopped (fast) and started again,
#   (ii)  Redis is stopped and started again,
#   (iii) a worker is killed with SIGKILL while it holds jobs mid-run,
# then, once the queue has drained: every 2xx create in the database with
# its audit row, every 2xx archive with its audit row and its job's
# `project.archive_summary` row, and the time until the app served again
# after each recovery. The shared PostgreSQL (5432) and Redis (6379) are
# never touched.
#
# Usage: bench/faults/run.sh      (TASKBOARD=path/to/taskboard to use another
# build; default target/release/taskboard, built when missing)
# Environment: DOWN (seconds each service stays down, 5), THREADS (8).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
BIN=${TASKBOARD:-$root/target/release/taskboard}
[ -x "$BIN" ] || cargo build --release --manifest-path "$root/Cargo.toml" -p taskboard
DOWN=${DOWN:-5} THREADS=${THREADS:-8}
out="${XDG_CACHE_HOME:-$HOME/.cache}/rookery/faults-out/$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out"
. "$here/../pgcluster.sh"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null || true
  pg_stop
}
trap cleanup EXIT
mark() { echo "$(date +%s.%N) $*" >> "$out/marks"; echo "faults: $*" >&2; }
pg_start
sql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d taskboard "$@"; }
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres <<'SQL'
CREATE ROLE taskboard_owner LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS;
CREATE ROLE taskboard_app NOLOGIN;
CREATE ROLE taskboard_web LOGIN IN ROLE taskboard_app;
CREATE DATABASE taskboard OWNER taskboard_owner;
SQL
web_url="postgres://taskboard_web@127.0.0.1:$PG_PORT/taskboard"
ROOKERY_MIGRATE_DATABASE_URL="postgres://taskboard_owner@127.0.0.1:$PG_PORT/taskboard" DATABASE_URL="$web_url" \
  RUST_LOG=warn "$BIN" migrate

REDIS_PORT=$(free_port)
redis_start() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >> "$out/redis.log" 2>&1 &
  REDIS_PID=$!
  until redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1; do sleep 0.05; done
}
redis_start

APP_PORT=$(free_port)
base="http://127.0.0.1:$APP_PORT"
export DATABASE_URL="$web_url" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" ROOKERY_REDIS_PREFIX=faults
export ROOKERY_JWT_SECRET=faults-secret-faults-secret-faults-secret ROOKERY_API_KEY_PEPPER=faults-pepper-faults
export RATE_LIMIT_MAX=1000000 RATE_LIMIT_WINDOW_SECS=60 ROOKERY_JOBS_LEASE=5 ROOKERY_JOBS_POLL_MS=100
export RUST_LOG=info NO_COLOR=1
ROOKERY_BIND="127.0.0.1:$APP_PORT" "$BIN" serve >> "$out/serve.log" 2>&1 &
pids+=($!)
worker_start() { "$BIN" worker >> "$out/worker-$1.log" 2>&1 & pids+=($!); eval "W$1=$!"; }
worker_start 1
worker_start 2
until curl -fs "$base/healthz" > /dev/null; do sleep 0.05; done

python3 "$here/load.py" signup --base "$base" --tenants 4 > "$out/tenants.json"
# Past the free plan's three projects; before the tenants' facts are cached.
sql -c "UPDATE tenants SET plan = 'enterprise'"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 "$here/load.py" run --base "$base" --tenants-file "$out/tenants.json" --seconds 75 \
  --threads "$THREADS" --out "$out/events.json" &
load=$!
mark "load started"

# (i) PostgreSQL stopped, then started again on the same port.
sleep 10
mark "postgres down"; pg_halt; sleep "$DOWN"; pg_launch; mark "postgres back"

# (ii) Redis stopped, then started again.
sleep 12
mark "redis down"; kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; sleep "$DOWN"
redis_start; mark "redis back"

# (iii) A worker killed mid-job. To be sure it holds jobs that have not
# committed: both workers stop gracefully (SIGTERM), archives queue up, a
# transaction of ours takes EXCLUSIVE on audit_log (the job's audit insert
# waits on it; so do the requests' audit inserts, for as long as it is held),
# a fresh worker claims the waiting jobs, and is killed while they wait.
sleep 12
kill -TERM "$W1" "$W2"; wait "$W1" "$W2" || true; mark "workers stopped (SIGTERM)"
sleep 2
mkfifo "$out/lock.fifo"
"$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d taskboard < "$out/lock.fifo" > /dev/null &
exec 7> "$out/lock.fifo"
echo "BEGIN; LOCK TABLE audit_log IN EXCLUSIVE MODE;" >&7
until [ "$(sql -c "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                   WHERE c.relname = 'audit_log' AND l.mode = 'ExclusiveLock' AND l.granted")" = 1 ]; do sleep 0.02; done
mark "audit_log locked"
worker_start 1
until [ "$(sql -c "SELECT count(*) FROM rookery_jobs WHERE state = 'running' AND locked_by LIKE '$W1-%'")" -gt 0 ]; do
  sleep 0.02
done
held=$(sql -c "SELECT string_agg(id::text, ',') FROM rookery_jobs WHERE state = 'running' AND locked_by LIKE '$W1-%'")
kill -9 "$W1"; mark "worker killed"
echo "COMMIT;" >&7; exec 7>&-; mark "audit_log released"
worker_start 1
worker_start 2
echo "$held" | tr ',' '\n' > "$out/killed-jobs"

wait "$load"; mark "load stopped"
# Drain: retries after the restart wait out their backoff; the killed
# worker's jobs wait out their lease.
for _ in $(seq 1 600); do
  [ "$(sql -c "SELECT count(*) FROM rookery_jobs WHERE state IN ('ready', 'running')")" = 0 ] && break
  sleep 0.2
done
mark "queue drained"
sql > "$out/db.json" <<'SQL'
SELECT json_build_object(
  'projects', (SELECT coalesce(json_agg(json_build_array(tenant_id::text, id::text)), '[]') FROM projects),
  'create_audit', (SELECT coalesce(json_agg(json_build_array(tenant_id::text, target_id)), '[]')
                   FROM audit_log WHERE action = 'project.create'),
  'archive_audit', (SELECT coalesce(json_agg(json_build_array(tenant_id::text, target_id)), '[]')
                    FROM audit_log WHERE action = 'project.archive'),
  'summaries', (SELECT coalesce(json_agg(json_build_array(tenant_id::text, target_id)), '[]')
                FROM audit_log WHERE action = 'project.archive_summary'),
  'jobs', (SELECT json_object_agg(state || ' (attempts ' || attempts || ')', n)
           FROM (SELECT state, attempts, count(*) AS n FROM rookery_jobs
                 WHERE kind = 'project_archive_summary' GROUP BY state, attempts) s))
SQL
python3 "$here/load.py" report --events "$out/events.json" --marks "$out/marks" --db "$out/db.json" | tee "$out/report.txt"
killed=$(grep -c . "$out/killed-jobs" || true)
ids=$(sed "s/.*/'&'/" "$out/killed-jobs" | paste -sd,)
echo "worker killed holding $killed job(s); after the kill they ran again: $(sql -c \
  "SELECT string_agg(state || ' attempt ' || attempts || ' ' || round(extract(epoch FROM finished_at)
                     - $(grep 'worker killed' "$out/marks" | cut -d' ' -f1), 2) || ' s after the kill', '; ')
   FROM rookery_jobs WHERE id IN (${ids:-NULL})")" | tee -a "$out/report.txt"
lines=$(grep -ciE "panicked|ERROR" "$out/serve.log" "$out"/worker-*.log || true)
echo "error lines in the app's logs: $(echo "$lines" | tr '\n' ' ')" | tee -a "$out/report.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); records in $out" >&2
