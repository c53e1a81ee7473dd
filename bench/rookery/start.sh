#!/usr/bin/env bash
# Serve the generated app (app.sh: taskboard, or saasbench for the variant
# `workload`; built by build.sh) on 127.0.0.1:$PORT
# with every check of the runtime on: HS256 JWT, tenant agreement (token tid
# vs X-Tenant), per-tenant fixed-window rate limit (RATE_LIMIT_MAX /
# RATE_LIMIT_WINDOW_SECS override the plan's rate), RBAC, row-level security
# (each pooled connection runs SET ROLE rookery_app, a non-owner role without
# BYPASSRLS; start-up refuses a role that bypasses RLS), one transaction per
# request beginning with set_config('app.tenant_id', ..., true), and the audit
# row in the same transaction as the write.
#
# The login role is the harness's `bench` (DATABASE_URL), which seed.sh made a
# member of rookery_app.
#
# Rate limiter (RATE_LIMIT_BACKEND, set by run.sh from the variant):
#   memory  the runtime's in-process window. REDIS_URL is unset: the harness
#           exports it for every contender, and the runtime would use it.
#   redis   variant `redis` (run.sh bench/rookery:redis): REDIS_URL (run.sh's
#           private redis-server) shares the window; every API request is one
#           EVALSHA that counts it and reads the tenant facts' version and the
#           revocations' generation (runtime/src/shared/). Deviation from
#           WORKLOAD.md §3: a Redis error fails open (the request is counted in
#           process) instead of 503; the benchmark never stops Redis.
set -euo pipefail
: "${CONTENDER_OUT:?}" "${DATABASE_URL:?}" "${PORT:?}" "${JWT_SECRET:?}"
case "${RATE_LIMIT_BACKEND:-memory}" in
  memory) unset REDIS_URL ;;
  redis) : "${REDIS_URL:?RATE_LIMIT_BACKEND=redis needs REDIS_URL}"; export REDIS_URL ROOKERY_REDIS_PREFIX=rookery-bench ;;
  *) echo "rookery: RATE_LIMIT_BACKEND=$RATE_LIMIT_BACKEND not supported (memory, redis)" >&2; exit 64 ;;
esac
# Variant `notls` (run as bench/rookery:notls): no TLS to PostgreSQL. The
# runtime's sqlx is built with rustls and its default is sslmode=prefer, so
# against a server with ssl = on (Debian's default) every connection is TLS,
# even on 127.0.0.1; axum-bare/axum-rls are built without TLS and talk
# plaintext. The default keeps the app's behaviour. Variants combine with
# `-` (`redis-notls`).
for word in $(printf '%s' "${VARIANT:-}" | tr '-' ' '); do
  case "$word" in
    notls) case "$DATABASE_URL" in *\?*) DATABASE_URL="$DATABASE_URL&sslmode=disable" ;;
                                     *) DATABASE_URL="$DATABASE_URL?sslmode=disable" ;; esac ;;
    redis) ;;  # RATE_LIMIT_BACKEND above
    workload) ;;  # app.sh
    *) echo "rookery: unknown variant word '$word' in '$VARIANT' (notls, redis, workload)" >&2; exit 64 ;;
  esac
done
export DATABASE_URL PORT JWT_SECRET
export ROOKERY_DB_ROLE=rookery_app
export ROOKERY_DB_POOL=${DB_POOL:-16}
export RATE_LIMIT_MAX=${RATE_LIMIT_MAX:-1000000} RATE_LIMIT_WINDOW_SECS=${RATE_LIMIT_WINDOW_SECS:-60}
# A fixed pepper: API keys are not used by the benchmark, this only avoids
# the "ephemeral secrets" start-up warning.
export ROOKERY_API_KEY_PEPPER=${ROOKERY_API_KEY_PEPPER:-saasbench-rookery-api-key-pepper-not-for-production}
export RUST_LOG=warn
. "$(dirname "$0")/app.sh"
exec "$CONTENDER_OUT/target/release/$APP" serve
