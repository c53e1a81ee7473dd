#!/usr/bin/env bash
# Rookery contender seed (contract v2, WORKLOAD.md §9): the generated
# app's own migrations (`taskboard migrate`, or `saasbench migrate` for the
# variant `workload`, app.sh; as the tables' owner
# `bench`), then the logical data (seed.sql), then $CONTENDER_OUT/ids.tsv.
# Run by run.sh on the emptied database with PGHOST/PGPORT/PGUSER/PGPASSWORD/
# PGDATABASE set for `bench` and CONTENDER_OUT as working directory.
#
# Cluster roles (roles.sql): rookery_app (the runtime's serving role; `bench`
# must be a member to SET ROLE to it) and rookery_bench_checker (BYPASSRLS
# owner of the check views) are created once through the local `postgres`
# account when missing, as axum-rls does for its roles.
#
# Migration 0001 runs `CREATE ROLE rookery_app` in a DO block that only
# catches duplicate_object; PostgreSQL checks CREATEROLE before it looks for
# an existing role, so for an owner without CREATEROLE the migration fails
# even when the role exists. Until the migration checks pg_roles first,
# `bench` is given CREATEROLE for the duration of `migrate` only (through the
# `postgres` account) and it is taken back right after (and on any exit).
set -euo pipefail
CONTENDER_SRC=${CONTENDER_SRC:-$(cd "$(dirname "$0")" && pwd)}
: "${CONTENDER_OUT:?set CONTENDER_OUT to a writable folder}"
: "${PGUSER:?}" "${PGHOST:?}" "${PGPORT:?}" "${PGDATABASE:?}" "${DATABASE_URL:?}"
TENANTS=${TENANTS:-1000} PROJECTS_PER_TENANT=${PROJECTS_PER_TENANT:-100}
. "$CONTENDER_SRC/app.sh"
BIN=$CONTENDER_OUT/target/release/$APP
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
as_pg_psql() {  # superuser SQL on stdin, over the local socket (peer auth), cwd /
  if [ "$(id -u)" != 0 ] && [ "$(id -un)" != postgres ]; then
    echo "rookery: needs the local postgres account (run as root), or run roles.sql as a superuser" >&2
    return 1
  fi
  local run=(runuser -u postgres --); [ "$(id -un)" = postgres ] && run=()
  (cd / && "${run[@]}" env -u PGHOST -u PGUSER -u PGPASSWORD -u PGDATABASE \
     psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" -d postgres "$@")
}

# ---- 1. roles (once per cluster)
roles_ok=$(q -Atc "SELECT pg_has_role('$PGUSER', 'rookery_app', 'MEMBER')
                      AND pg_has_role('$PGUSER', 'rookery_bench_checker', 'MEMBER')
                      AND (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'rookery_bench_checker')
                      AND NOT (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = 'rookery_app')" \
           2>/dev/null || echo f)
if [ "$roles_ok" != t ]; then
  echo "rookery: creating roles rookery_app, rookery_bench_checker (once per cluster, as postgres)" >&2
  as_pg_psql -v owner="$PGUSER" < "$CONTENDER_SRC/roles.sql"
fi

# ---- 2. the app's own migrations, as the owner
createrole=$(q -Atc "SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user")
restore() { :; }
if [ "$createrole" != t ]; then
  restore() { echo "ALTER ROLE \"$PGUSER\" NOCREATEROLE" | as_pg_psql; }
  trap restore EXIT
  echo "ALTER ROLE \"$PGUSER\" CREATEROLE" | as_pg_psql
fi
ROOKERY_DB_ROLE=rookery_app ROOKERY_MIGRATE_DATABASE_URL=$DATABASE_URL RUST_LOG=warn "$BIN" migrate
restore; trap - EXIT

# ---- 3. the logical data
q -v tenants="$TENANTS" -v projects="$PROJECTS_PER_TENANT" -f "$CONTENDER_SRC/seed.sql"

# ---- 4. ids.tsv (same expressions as seed.sql; the seed check compares
#         them with the rows)
q -v tenants="$TENANTS" -v projects="$PROJECTS_PER_TENANT" > "$CONTENDER_OUT/ids.tsv" <<'SQL'
COPY (
  SELECT 'tenant', t, md5('rookery-bench-tenant:' || t)::uuid::text
  FROM generate_series(1, :tenants) AS t
  UNION ALL
  SELECT 'user', u, md5('rookery-bench-user:' || u)::uuid::text
  FROM generate_series(1, :tenants * 5) AS u
  UNION ALL
  SELECT 'project', p, p::text
  FROM generate_series(1, :tenants * :projects) AS p
) TO STDOUT
SQL

# The bulk load above writes about a gigabyte of WAL, enough to start a
# checkpoint by WAL volume a minute later: in the middle of the measured
# load, whose writes then pay a full-page image for every page they touch
# first (the compare runs of 2026-12-02 put such runs at 0.67-0.71x against
# 0.85-0.94x for the others). A checkpoint now, as after any bulk load,
# moves that cost into the probes and the warm-up. Needs the superuser
# (the local postgres account) or pg_checkpoint; skipped otherwise.
if q -c CHECKPOINT 2>/dev/null || echo CHECKPOINT | as_pg_psql 2>/dev/null; then
  echo "rookery: checkpoint after the seed" >&2
else
  echo "rookery: no CHECKPOINT after the seed (needs the postgres account or pg_checkpoint)" >&2
fi
