#!/usr/bin/env bash
# Serve the generated taskboard app (built by build.sh) on 127.0.0.1:$PORT
# with every check of the runtime on: HS256 JWT, tenant agreement (token tid
# vs X-Tenant), per-tenant fixed-window rate limit (RATE_LIMIT_MAX /
# RATE_LIMIT_WINDOW_SECS override the plan's rate), RBAC, row-level security
# (each pooled connection runs SET ROLE rookery_app, a non-owner role without
# BYPASSRLS; start-up refuses a role that bypasses RLS), one transaction per
# request beginning with set_config('app.tenant_id', ..., true), and the audit
# row in the same transaction as the write.
#
# The login role is the harness's `bench` (DATABASE_URL), which seed.sh made a
# member of rookery_app. Only the in-process rate limiter exists: a redis
# variant is refused.
set -euo pipefail
: "${CONTENDER_OUT:?}" "${DATABASE_URL:?}" "${PORT:?}" "${JWT_SECRET:?}"
if [ "${RATE_LIMIT_BACKEND:-memory}" != memory ]; then
  echo "rookery: RATE_LIMIT_BACKEND=$RATE_LIMIT_BACKEND not supported (in-process limiter only)" >&2
  exit 64
fi
# Variant `notls` (run as bench/rookery:notls): no TLS to PostgreSQL. The
# runtime's sqlx is built with rustls and its default is sslmode=prefer, so
# against a server with ssl = on (Debian's default) every connection is TLS,
# even on 127.0.0.1; axum-bare/axum-rls are built without TLS and talk
# plaintext. The default keeps the app's behaviour.
case "${VARIANT:-}" in
  *notls*) case "$DATABASE_URL" in *\?*) DATABASE_URL="$DATABASE_URL&sslmode=disable" ;;
                                     *) DATABASE_URL="$DATABASE_URL?sslmode=disable" ;; esac ;;
  "") ;;
  *) echo "rookery: unknown variant '$VARIANT' (notls)" >&2; exit 64 ;;
esac
export DATABASE_URL PORT JWT_SECRET
export ROOKERY_DB_ROLE=rookery_app
export ROOKERY_DB_POOL=${DB_POOL:-16}
export RATE_LIMIT_MAX=${RATE_LIMIT_MAX:-1000000} RATE_LIMIT_WINDOW_SECS=${RATE_LIMIT_WINDOW_SECS:-60}
# A fixed pepper: API keys are not used by the benchmark, this only avoids
# the "ephemeral secrets" start-up warning.
export ROOKERY_API_KEY_PEPPER=${ROOKERY_API_KEY_PEPPER:-saasbench-rookery-api-key-pepper-not-for-production}
export RUST_LOG=warn
exec "$CONTENDER_OUT/target/release/taskboard" serve
