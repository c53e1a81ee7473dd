#!/usr/bin/env bash
# Job throughput and enqueue-to-start latency: Rookery's queue beside
# apalis 1.0 used directly, on a private PostgreSQL cluster (initdb in a
# temporary folder, a free port; the shared one on 5432 is never used),
# release build. Prints a Markdown table (README.md says what each column
# is). Usage: bench/jobs/run.sh
# Environment: BENCH_NICE (-10: CPU priority of everything measured, root
# only; 0 to leave it), JOBS (5000), LATENCY_JOBS (1000), RATE (100 per second),
# TENANTS (8), CONCURRENCY (4 per process), WORKERS (1,4),
# SYSTEMS (rookery,apalis), VARIANTS (trivial,write).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/rookery"
work="$cache/jobbench"
mkdir -p "$work"
# The crate is built from a copy of its manifest with absolute paths, so
# its lock file (seeded from the workspace's: the same versions) lives
# under ~/.cache and the workspace's Cargo.lock is never touched.
sed -e "s|path = \"../../|path = \"$root/|" "$here/Cargo.toml" > "$work/Cargo.toml"
ln -sfn "$here/src" "$work/src"
[ -f "$work/Cargo.lock" ] || cp "$root/Cargo.lock" "$work/Cargo.lock"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/jobbench-target}"
cargo build --release --manifest-path "$work/Cargo.toml" 2>&1 | tail -1
bin="$CARGO_TARGET_DIR/release/rookery-jobbench"

. "$here/../pgcluster.sh"
trap pg_stop EXIT
# On a shared machine, give the measured processes (this script and its
# children: the coordinator, the workers, the private PostgreSQL) a higher
# CPU priority than unrelated work, as shared/bench/run.sh does: nice value
# and autogroup nice. BENCH_NICE=0 disables; needs root.
BENCH_NICE=${BENCH_NICE:--10}
set_prio() {
  renice -n "$1" -p $$ > /dev/null 2>&1 || true
  [ -w /proc/$$/autogroup ] && echo "$1" > /proc/$$/autogroup 2> /dev/null || true
  if [ -n "${PG_PID:-}" ]; then
    renice -n "$1" -p "$PG_PID" $(pgrep -P "$PG_PID") > /dev/null 2>&1 || true
    [ -w "/proc/$PG_PID/autogroup" ] && echo "$1" > "/proc/$PG_PID/autogroup" 2> /dev/null || true
  fi
}
[ "$BENCH_NICE" != 0 ] && [ "$(id -u)" = 0 ] && set_prio "$BENCH_NICE"
pg_start
[ "$BENCH_NICE" != 0 ] && [ "$(id -u)" = 0 ] && set_prio "$BENCH_NICE"
echo "private PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT ($PG_DIR)" >&2
out="$cache/jobbench-out/$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
BENCH_ADMIN_URL="$PG_ADMIN_URL" BENCH_PG_PID="$PG_PID" BENCH_OUT="$out" "$bin" bench | tee "$out/table.md"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); job logs in $out" >&2
