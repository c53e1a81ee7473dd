//! Every environment variable the app reads, with its default and
//! meaning: the table `Config::from_vars` reads and `--help` prints (a
//! test in `tests.rs` checks the two agree).

/// One environment variable the app reads.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    /// Its name.
    pub name: &'static str,
    /// Its default, as text (`<app>` stands for the app's name).
    pub default: &'static str,
    /// What it does and the values it accepts.
    pub meaning: &'static str,
}

const fn v(name: &'static str, default: &'static str, meaning: &'static str) -> Variable {
    Variable { name, default, meaning }
}

/// Every variable [`Config::from_env`](super::Config::from_env) reads.
pub const VARIABLES: &[Variable] = &[
    v(
        "DATABASE_URL",
        "sqlite:<app>.sqlite",
        "postgres://… or sqlite:…, picked at start-up",
    ),
    v(
        "ROOKERY_MIGRATE_DATABASE_URL",
        "DATABASE_URL",
        "URL `migrate` connects with (the tables' owner)",
    ),
    v(
        "ROOKERY_DB_ROLE",
        "<app>_app",
        "PostgreSQL group role `serve` switches to and `migrate` grants (a lowercase SQL name)",
    ),
    v("ROOKERY_DB_POOL", "16", "pool size, 1-1000"),
    v("ROOKERY_BIND", "127.0.0.1:3000", "listen address, host:port"),
    v(
        "PORT",
        "3000",
        "listen port on 127.0.0.1 when ROOKERY_BIND is unset, 1-65535",
    ),
    v(
        "ROOKERY_BASE_DOMAIN",
        "localhost",
        "`acme.<base domain>` resolves tenant `acme`",
    ),
    v(
        "ROOKERY_JWT_SECRET",
        "random per process",
        "HS256 signing key, at least 32 bytes (also JWT_SECRET)",
    ),
    v("JWT_SECRET", "none", "read when ROOKERY_JWT_SECRET is unset"),
    v(
        "ROOKERY_JWT_PREVIOUS_SECRETS",
        "none",
        "comma-separated old signing keys still accepted, each at least 32 bytes",
    ),
    v(
        "ROOKERY_ACCESS_TOKEN_TTL",
        "900",
        "access token lifetime, seconds, 60-86400",
    ),
    v(
        "ROOKERY_API_KEY_PEPPER",
        "random per process",
        "secret API key hashes are keyed with, at least 16 bytes",
    ),
    v(
        "ROOKERY_ENV",
        "test",
        "`live` or `test`: the <env> part of API keys; `live` needs both secrets set",
    ),
    v(
        "RATE_LIMIT_MAX",
        "the plan's rate_limit",
        "requests per window for every tenant, overriding the plans, 1 or more",
    ),
    v(
        "RATE_LIMIT_WINDOW_SECS",
        "60",
        "window of RATE_LIMIT_MAX, seconds, 1-86400",
    ),
    v(
        "ROOKERY_SIGN_IN_RATE",
        "30/m",
        "sign-in requests per client address, <n>/s, /m or /h",
    ),
    v(
        "ROOKERY_SIGN_IN_ACCOUNT_RATE",
        "10/h",
        "failed password checks per account, from any address, <n>/s, /m or /h",
    ),
    v(
        "ROOKERY_REQUEST_TIMEOUT",
        "30",
        "seconds an API request's database work may take, 1-3600; then 503",
    ),
    v(
        "ROOKERY_TRUST_PROXY",
        "false",
        "`true`: take the client address from the first X-Forwarded-For hop",
    ),
    v(
        "ROOKERY_METRICS_BIND",
        "none (no listener)",
        "host:port of a second listener serving only /metrics; keep it off the public network",
    ),
    v(
        "ROOKERY_METRICS_TOKEN",
        "none",
        "bearer token /metrics requires, at least 16 bytes; without ROOKERY_METRICS_BIND, /metrics is then served on ROOKERY_BIND",
    ),
    v(
        "ROOKERY_OPERATOR_TOKEN",
        "none (no operator API)",
        "bearer token of the platform operator's API under /operator (a tenant's plan and features), at least 32 bytes; without it /operator answers 404",
    ),
    v(
        "ROOKERY_DELETION_GRACE_DAYS",
        "30",
        "days between an owner's request to delete the tenant and its erasure, 0-365 (it can be cancelled until then)",
    ),
    v(
        "SENTRY_DSN",
        "none (off)",
        "Sentry-compatible DSN panics and 500s are reported to (needs the `sentry` feature)",
    ),
    v("SENTRY_ENVIRONMENT", "ROOKERY_ENV", "environment name events carry"),
    v("SENTRY_RELEASE", "none", "release name events carry"),
    v(
        "ROOKERY_JOBS_IN_SERVE",
        "true on SQLite, false on PostgreSQL",
        "`true`: `serve` runs the job workers in its own process (else run `<app> worker`)",
    ),
    v(
        "ROOKERY_JOBS_QUEUES",
        "every queue, ROOKERY_JOBS_CONCURRENCY each",
        "queues a worker takes, comma-separated, each optionally `name:concurrency` (`default:8,mail:2`)",
    ),
    v(
        "ROOKERY_JOBS_CONCURRENCY",
        "4",
        "jobs run at once per queue and process, 1-1000",
    ),
    v(
        "ROOKERY_JOBS_TENANT_CAP",
        "half the queue's concurrency, at least 1",
        "jobs of one tenant run at once per queue (per claiming process), 0 for no bound, 0-1000",
    ),
    v(
        "ROOKERY_JOBS_LEASE",
        "60",
        "seconds a claimed job stays leased without a heartbeat (a killed worker's jobs run again after it), 5-3600",
    ),
    v(
        "ROOKERY_JOBS_POLL_MS",
        "1000",
        "milliseconds between polls of an idle queue (PostgreSQL also wakes workers on enqueue), 10-60000",
    ),
    v(
        "ROOKERY_WEBHOOKS_ALLOW_LOOPBACK",
        "false",
        "`true`: webhooks may be delivered to loopback addresses, over plain http too (tests and development only; private ranges stay refused; refused with ROOKERY_ENV=live)",
    ),
    v(
        "ROOKERY_WEBHOOKS_TIMEOUT",
        "10",
        "seconds one webhook delivery may take in all, 1-60",
    ),
    v(
        "ROOKERY_WEBHOOKS_SECRET_KEY",
        "derived from ROOKERY_API_KEY_PEPPER",
        "key that seals webhook endpoints' signing secrets at rest, at least 32 bytes; changing it makes the stored secrets unreadable (rotate them)",
    ),
    v(
        "ROOKERY_WEBHOOKS_CONNECT_TIMEOUT",
        "5",
        "seconds a webhook delivery may take to resolve and connect, 1-60",
    ),
    v(
        "REDIS_URL",
        "none: limits and caches per process",
        "redis://[:password@]host[:port][/db]: rate limits, sign-in limits and cache invalidation shared by every instance",
    ),
    v(
        "ROOKERY_REDIS_PREFIX",
        "<app>",
        "prefix of every Redis key, 1-64 of A-Z a-z 0-9 . _ : -",
    ),
    v(
        "SMTP_URL",
        "none: mail stays in the outbox table (`<app> mail list`)",
        "smtp://[user:password@]host[:port][?tls=required|opportunistic|none] (STARTTLS required unless `tls=` says otherwise; port 587) or smtps://… (TLS from the start; port 465); user and password percent-encoded; with ROOKERY_ENV=live, plain text only to this machine",
    ),
    v(
        "MAIL_FROM",
        "<app> <no-reply@localhost>",
        "the From of every message, `Name <address>` or an address; ROOKERY_ENV=live with SMTP_URL needs it set",
    ),
    v(
        "ROOKERY_PUBLIC_URL",
        "http://localhost:<port>",
        "base URL of the app's web front end, which links in mail start with (invitations: `<url>/invitations/accept?tenant=…&token=…`)",
    ),
];
