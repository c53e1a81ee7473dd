#!/usr/bin/env bash
# Rounds of the shared benchmark with the contenders' order rotated, so no
# contender always runs first (a cold page cache, a neighbour's burst) or
# last: the first n rounds (n contenders) start each at the next
# contender, the next n do the same with the list backwards, and so on
# (three contenders: all six orders in six rounds). Each round is one `compare.sh` (its records in
# ~/.cache/saasbench/compare-<stamp>.jsonl, as always); this prints the
# RESULT lines, and at the end each contender's req/s ratio to axum-bare
# per round and their mean, median, minimum and maximum (axum-bare must be
# one of the contenders), each named as given on the command line.
#
#   bench/rotate.sh 6 axum-bare bench/rookery:workload axum-rls
#   BENCH_SHARED=/elsewhere/shared/bench bench/rotate.sh 4 axum-bare bench/rookery
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${BENCH_SHARED:-../shared/bench}
rounds=${1:?usage: bench/rotate.sh ROUNDS CONTENDER... (axum-bare among them)}
shift
contenders=("$@")
n=${#contenders[@]}
(( n >= 2 )) || { echo "rotate.sh: name at least two contenders, axum-bare among them" >&2; exit 64; }
printf '%s\n' "${contenders[@]}" | grep -qx axum-bare \
  || { echo "rotate.sh: axum-bare must be one of the contenders (ratios are to it)" >&2; exit 64; }
records=()
for ((r = 0; r < rounds; r++)); do
  order=()
  for ((i = 0; i < n; i++)); do order+=("${contenders[$(((i + r) % n))]}"); done
  if (((r / n) % 2 == 1)); then
    reversed=()
    for ((i = n - 1; i >= 0; i--)); do reversed+=("${order[$i]}"); done
    order=("${reversed[@]}")
  fi
  echo "=== round $((r + 1))/$rounds: ${order[*]}"
  out=$("$shared/compare.sh" "${order[@]}" 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
  printf '%s\n' "$out" | grep -E '^RESULT' || true
  record=$(printf '%s\n' "$out" | sed -n 's/^records: //p' | tail -1)
  [[ -n $record ]] || { echo "rotate.sh: compare.sh named no records file" >&2; exit 1; }
  # The round's records in the order they ran, named as given here: two
  # folders of one contender (an A/B) share the harness's name.
  records+=("$record" "${order[*]}")
done
python3 - "${records[@]}" <<'PY'
import json, statistics, sys
ratios = {}
args = sys.argv[1:]
for path, order in zip(args[::2], args[1::2]):
    with open(path) as f:
        runs = dict(zip(order.split(), (json.loads(line) for line in f)))
    bare = runs["axum-bare"]["rps"]
    for name, run in runs.items():
        if name != "axum-bare":
            ratios.setdefault(name, []).append(run["rps"] / bare)
for name, rs in ratios.items():
    print(f"{name}: {' '.join(f'{r:.3f}' for r in rs)}  mean {statistics.mean(rs):.3f}x "
          f"median {statistics.median(rs):.3f}x min {min(rs):.3f}x max {max(rs):.3f}x ({len(rs)} rounds)")
PY
