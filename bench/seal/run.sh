#!/usr/bin/env bash
# What one `serve` sealing round costs PostgreSQL: every tenant of a
# database the shared benchmark left behind (`compare.sh … bench/rookery:workload`
# leaves `saasbench`, 1,000 tenants) gets ROWS unsealed audit rows (copies of
# its first row), then the sealer's statements run as the serving role, 32
# tenants to a transaction like `serve`'s rounds, from psql: `BEGIN`, the
# transaction's tenant, `rookery_audit_unsealed`, `rookery_audit_seal`
# (hashes computed here, as the runtime would), `COMMIT`. Prints the time of
# each kind of statement summed over the round (psql's \timing: server time
# plus a local round trip), ROUNDS times; the copies are unsealed again
# before each round and deleted at the end.
#
#   bench/seal/run.sh                      # saasbench on 127.0.0.1, 3 rows a tenant, 3 rounds
#   DB=mydb ROWS=10 ROUNDS=5 bench/seal/run.sh
set -euo pipefail
DB=${DB:-saasbench}
ROWS=${ROWS:-3}
ROUNDS=${ROUNDS:-3}
PSQL=(psql -h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}" -d "$DB" -v ON_ERROR_STOP=1 -q)
ROLE=${ROLE:-rookery_app}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
MARK="rookery-bench-seal"
"${PSQL[@]}" -c "DELETE FROM audit_log WHERE request_id = '$MARK'" \
  -c "INSERT INTO audit_log (tenant_id, id, actor_type, actor_id, action, target_type, target_id, request_id, metadata, at, changes)
      SELECT a.tenant_id, gen_random_uuid(), a.actor_type, a.actor_id, a.action, a.target_type, a.target_id, '$MARK',
             a.metadata, now() + g * interval '1 ms', a.changes
      FROM (SELECT DISTINCT ON (tenant_id) * FROM audit_log ORDER BY tenant_id, at) AS a, generate_series(1, $ROWS) AS g"
"${PSQL[@]}" -At -c "SELECT id FROM tenants ORDER BY id" > "$work/tenants"
# The seals: each copy after its tenant's sealed rows (the head of a chain
# is its highest seq), in the chain's order.
"${PSQL[@]}" -AtF '|' -c "SELECT a.tenant_id, a.id,
    coalesce((SELECT max(h.seq) FROM audit_log h WHERE h.tenant_id = a.tenant_id AND h.request_id IS DISTINCT FROM '$MARK'), 0)
      + row_number() OVER (PARTITION BY a.tenant_id ORDER BY a.at, a.id),
    encode(sha256(a.id::text::bytea), 'hex')
  FROM audit_log a WHERE a.request_id = '$MARK' ORDER BY a.tenant_id, a.at, a.id" > "$work/rows"
python3 - "$work" "$ROLE" <<'PY'
import collections, json, sys
work, role = sys.argv[1], sys.argv[2]
rows = collections.defaultdict(list)
for line in open(f"{work}/rows"):
    t, i, s, h = line.strip().split("|")
    rows[t].append({"id": i, "seq": int(s), "hash": h})
tenants = open(f"{work}/tenants").read().split()
out = [f"SET ROLE {role};", "\\timing on", "\\o /dev/null"]
for k in range(0, len(tenants), 32):
    group = tenants[k:k + 32]
    seals = json.dumps({t: rows[t] for t in group if t in rows}).replace("'", "''")
    out += ["BEGIN;", f"SELECT set_config('app.tenant_id', '{group[0]}', true);",
            "SELECT * FROM rookery_audit_unsealed('{" + ",".join(group) + "}'::uuid[], 500);",
            f"SELECT rookery_audit_seal('{seals}'::jsonb);", "COMMIT;"]
open(f"{work}/round.sql", "w").write("\n".join(out) + "\n")
PY
echo "database $DB: $(wc -l < "$work/tenants") tenants, $ROWS rows each, as $ROLE"
for ((r = 1; r <= ROUNDS; r++)); do
  "${PSQL[@]}" -c "UPDATE audit_log SET seq = NULL, hash = NULL WHERE request_id = '$MARK'"
  "${PSQL[@]}" -f "$work/round.sql" > "$work/out" 2>&1
  grep -o 'Time: [0-9.]*' "$work/out" | awk -v r="$r" '{ s[(NR - 1) % 5] += $2; t += $2 }
    END { printf "round %d: %.0f ms (begin %.0f, tenant %.0f, rookery_audit_unsealed %.0f, rookery_audit_seal %.0f, commit %.0f)\n", r, t, s[0], s[1], s[2], s[3], s[4] }'
  left=$("${PSQL[@]}" -At -c "SELECT count(*) FROM audit_log WHERE request_id = '$MARK' AND seq IS NULL")
  [ "$left" = 0 ] || { echo "round $r left $left rows unsealed" >&2; exit 1; }
done
"${PSQL[@]}" -c "DELETE FROM audit_log WHERE request_id = '$MARK'"
