-- Rookery platform tables (runtime-owned).
CREATE TABLE tenants (
    id         TEXT NOT NULL PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    plan       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT NOT NULL PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT,
    created_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE api_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     BLOB NOT NULL,
    role         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, prefix),
    FOREIGN KEY (tenant_id, created_by) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE refresh_tokens (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE invitations (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  BLOB NOT NULL,
    invited_by  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    accepted_at TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, invited_by) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE audit_log (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_type TEXT,
    target_id   TEXT,
    request_id  TEXT,
    metadata    TEXT,
    at          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_tenant_at_idx ON audit_log (tenant_id, at);
-- Background jobs (`rookery::jobs`): the queue lives in the app's own
-- database, so a job enqueued by a request commits or rolls back with it.
-- `tenant_id` is the job's tenant (NULL for a platform job).
CREATE TABLE rookery_jobs (
    id              TEXT    NOT NULL PRIMARY KEY,
    tenant_id       TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    queue           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    idempotency_key TEXT,
    state           TEXT    NOT NULL DEFAULT 'ready',
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    run_at          TEXT    NOT NULL,
    fair_at         TEXT    NOT NULL,
    locked_by       TEXT,
    locked_until    TEXT,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    CONSTRAINT rookery_jobs_state_check CHECK (state IN ('ready', 'running', 'done', 'dead'))
);
CREATE INDEX rookery_jobs_ready_idx ON rookery_jobs (queue, fair_at, id) WHERE state = 'ready';
CREATE INDEX rookery_jobs_tenant_ready_idx ON rookery_jobs (queue, tenant_id, fair_at) WHERE state = 'ready';
CREATE INDEX rookery_jobs_running_idx ON rookery_jobs (queue, tenant_id) WHERE state = 'running';
CREATE INDEX rookery_jobs_lease_idx ON rookery_jobs (locked_until) WHERE state = 'running';
CREATE INDEX rookery_jobs_finished_idx ON rookery_jobs (finished_at) WHERE state = 'done';
CREATE UNIQUE INDEX rookery_jobs_idempotency_key ON rookery_jobs
    (coalesce(tenant_id, ''), kind, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Safe retries (`Idempotency-Key`): the first response of each key, per
-- tenant. The write a request makes marks its key in the write's own
-- transaction, so a retry can tell whether the first attempt committed.
CREATE TABLE rookery_idempotency_keys (
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key             TEXT    NOT NULL,
    fingerprint     BLOB    NOT NULL,
    attempt         INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    response_status INTEGER,
    response_type   TEXT,
    response_location TEXT,
    response_body   BLOB,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, key),
    CONSTRAINT rookery_idempotency_keys_state_check CHECK (state IN ('started', 'committed', 'done'))
);
CREATE INDEX rookery_idempotency_keys_created_idx ON rookery_idempotency_keys (created_at);
-- Mail (`rookery::mail`): every message the app sends, rendered and
-- queued in the transaction of the write that asks for it, sent by a job.
-- With no SMTP settings a message stays here as the outbox (`<app> mail
-- list`); a message sent over SMTP keeps its envelope and subject but not
-- its body, which may hold a token.
CREATE TABLE rookery_mail (
    tenant_id    TEXT NOT NULL CONSTRAINT rookery_mail_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    template     TEXT NOT NULL,
    to_address   TEXT NOT NULL,
    from_address TEXT NOT NULL,
    subject      TEXT NOT NULL,
    text_body    TEXT,
    html_body    TEXT,
    state        TEXT NOT NULL DEFAULT 'queued',
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    sent_at      TEXT,
    CONSTRAINT rookery_mail_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_mail_state_check CHECK (state IN ('queued', 'sent', 'outbox', 'failed'))
);
CREATE INDEX rookery_mail_created_at_idx ON rookery_mail (created_at);
-- Domain events and outgoing webhooks (`rookery::webhooks`). An event is
-- written in the transaction of the write it records; the runtime turns
-- it, in that same transaction, into one delivery per enabled endpoint of
-- the tenant subscribed to its type, each with its first delivery job.
-- Every table is the tenant's: `tenant_id`, composite keys.
CREATE TABLE rookery_events (
    tenant_id   TEXT NOT NULL CONSTRAINT rookery_events_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    data        TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    CONSTRAINT rookery_events_pkey PRIMARY KEY (tenant_id, id)
);
CREATE INDEX rookery_events_occurred_idx ON rookery_events (tenant_id, occurred_at);

-- `secret` and `retiring_secret` are sealed (ChaCha20-Poly1305 under
-- ROOKERY_WEBHOOKS_SECRET_KEY, bound to the tenant and the endpoint), never
-- the signing secret in clear. `event_types` is a JSON array of types.
CREATE TABLE rookery_webhook_endpoints (
    tenant_id       TEXT    NOT NULL CONSTRAINT rookery_webhook_endpoints_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    event_types     TEXT    NOT NULL,
    enabled         INTEGER NOT NULL,
    secret          TEXT    NOT NULL,
    retiring_secret TEXT,
    retiring_until  TEXT,
    failing_since   TEXT,
    disabled_reason TEXT,
    created_by      TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    CONSTRAINT rookery_webhook_endpoints_pkey PRIMARY KEY (tenant_id, id)
);

-- One delivery per endpoint and event (the unique key: a fan-out can never
-- make a second); `state` pending until delivered or given up (failed).
-- The last attempt's outcome is kept here for the list; every attempt is a
-- row of `rookery_webhook_attempts`.
CREATE TABLE rookery_webhook_deliveries (
    tenant_id       TEXT    NOT NULL CONSTRAINT rookery_webhook_deliveries_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    endpoint_id     TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT,
    last_attempt_at TEXT,
    last_status     INTEGER,
    last_latency_ms INTEGER,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    CONSTRAINT rookery_webhook_deliveries_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_webhook_deliveries_endpoint_event_key UNIQUE (tenant_id, endpoint_id, event_id),
    CONSTRAINT rookery_webhook_deliveries_state_check CHECK (state IN ('pending', 'delivered', 'failed')),
    CONSTRAINT rookery_webhook_deliveries_endpoint_fkey FOREIGN KEY (tenant_id, endpoint_id)
        REFERENCES rookery_webhook_endpoints (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT rookery_webhook_deliveries_event_fkey FOREIGN KEY (tenant_id, event_id)
        REFERENCES rookery_events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX rookery_webhook_deliveries_list_idx ON rookery_webhook_deliveries (tenant_id, endpoint_id, created_at, id);
CREATE INDEX rookery_webhook_deliveries_event_idx ON rookery_webhook_deliveries (tenant_id, event_id);

CREATE TABLE rookery_webhook_attempts (
    tenant_id   TEXT    NOT NULL CONSTRAINT rookery_webhook_attempts_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    delivery_id TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    status      INTEGER,
    latency_ms  INTEGER NOT NULL,
    error_kind  TEXT,
    error       TEXT,
    response    TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    CONSTRAINT rookery_webhook_attempts_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_webhook_attempts_delivery_attempt_key UNIQUE (tenant_id, delivery_id, attempt),
    CONSTRAINT rookery_webhook_attempts_delivery_fkey FOREIGN KEY (tenant_id, delivery_id)
        REFERENCES rookery_webhook_deliveries (tenant_id, id) ON DELETE CASCADE
);
-- The platform scope's audit (`rookery::db::platform_audit`): one row for
-- each piece of cross-tenant work the platform does (a schedule fanned out
-- to every tenant, a prune across tenants, a platform job's transaction),
-- written in that work's own transaction where it has one. No tenant
-- owns a row; the operator reads it with `<app> platform-audit`.
CREATE TABLE rookery_platform_audit (
    id     TEXT NOT NULL,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    CONSTRAINT rookery_platform_audit_pkey PRIMARY KEY (id)
);
CREATE INDEX rookery_platform_audit_at_idx ON rookery_platform_audit (at);
-- Usage analytics (`rookery::usage`): per tenant and UTC day, the API
-- requests it made, the members who made them and the rows of each model.
-- Requests and members are counted in each serving process and added here
-- about once a minute, one transaction per tenant; rows are counted by a
-- daily job in each tenant's transaction. Days are `YYYY-MM-DD`.
CREATE TABLE rookery_usage_days (
    tenant_id TEXT    NOT NULL CONSTRAINT rookery_usage_days_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       TEXT    NOT NULL,
    requests  INTEGER NOT NULL,
    CONSTRAINT rookery_usage_days_pkey PRIMARY KEY (tenant_id, day)
);

-- The members who made an authenticated request (with an access token)
-- that day, once each.
CREATE TABLE rookery_usage_members (
    tenant_id TEXT NOT NULL CONSTRAINT rookery_usage_members_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    CONSTRAINT rookery_usage_members_pkey PRIMARY KEY (tenant_id, day, user_id)
);

-- Rows per model (the model's name) when the day's count ran.
CREATE TABLE rookery_usage_rows (
    tenant_id TEXT    NOT NULL CONSTRAINT rookery_usage_rows_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       TEXT    NOT NULL,
    model     TEXT    NOT NULL,
    row_count INTEGER NOT NULL,
    CONSTRAINT rookery_usage_rows_pkey PRIMARY KEY (tenant_id, day, model)
);
-- The member lifecycle (`http/identity/members`): a membership is never
-- deleted. Removing a member (or their leaving) keeps the row as `former`,
-- with when and by whom, so rows that reference the member through
-- `memberships (tenant_id, user_id)` and the audit log keep naming them;
-- a new invitation makes them `active` again. Sign-in, refresh, API keys
-- and invitations read the status: a former membership is refused like
-- none.
ALTER TABLE memberships ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CONSTRAINT memberships_status_check CHECK (status IN ('active', 'former'));
ALTER TABLE memberships ADD COLUMN removed_at TEXT
    CONSTRAINT memberships_removed_at_check CHECK ((status = 'former') = (removed_at IS NOT NULL));
ALTER TABLE memberships ADD COLUMN removed_by TEXT;

-- Where an API key was last used from, beside when (`GET /api-keys`).
ALTER TABLE api_keys ADD COLUMN last_used_ip TEXT;
-- Rate quotas (`api_calls = "1000/month"`, `rookery::quota`): per tenant,
-- quota and UTC calendar window (hour, day or month, by its start, RFC 3339
-- with microseconds), the calls reserved so far. Each serving process
-- reserves a block of calls with one conditional increment
-- (`used + n <= limit`) and spends it in memory, so `used` never passes
-- the limit; a process that stops without giving back its unspent calls
-- leaves them counted.
CREATE TABLE rookery_quota_windows (
    tenant_id    TEXT    NOT NULL CONSTRAINT rookery_quota_windows_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    quota        TEXT    NOT NULL,
    window_start TEXT    NOT NULL,
    used         INTEGER NOT NULL CONSTRAINT rookery_quota_windows_used_check CHECK (used >= 0),
    CONSTRAINT rookery_quota_windows_pkey PRIMARY KEY (tenant_id, quota, window_start)
);
-- The audit log users read and trust (`rookery::audit`): each row keeps
-- the values a write changed (`changes`: after for a create, before and
-- after of the changed fields for an update, before for a delete; fields
-- marked sensitive as `{"masked": true}`), and each tenant's rows are
-- chained by hash: the sealer gives unchained rows, in a stable order,
-- the tenant's next sequence number (`seq`) and `hash` = SHA-256 over the
-- row's content and the previous row's hash. `<app> audit verify`
-- recomputes every chain.
ALTER TABLE audit_log ADD COLUMN changes TEXT;
ALTER TABLE audit_log ADD COLUMN seq INTEGER;
ALTER TABLE audit_log ADD COLUMN hash BLOB
    CONSTRAINT audit_log_sealed_check CHECK ((seq IS NULL) = (hash IS NULL));
CREATE UNIQUE INDEX audit_log_tenant_id_seq_key ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_unsealed_idx ON audit_log (tenant_id, at, id) WHERE seq IS NULL;
CREATE INDEX audit_log_target_idx ON audit_log (tenant_id, target_type, target_id, at);
-- The platform operator's per-tenant feature overrides, beside the plan
-- (`PUT /operator/tenants/{slug}/features/{feature}`, `<app> tenant
-- feature`): a JSON object of booleans, `{"sso": true, "webhooks": false}`.
-- A feature named here is on or off for the tenant whatever its plan says;
-- one not named follows the plan.
ALTER TABLE tenants ADD COLUMN feature_overrides TEXT NOT NULL DEFAULT '{}';
-- A tenant's custom roles (`GET|POST /roles`, `rookery::rbac`): a name,
-- optionally a role of the spec it inherits, and its grants (a JSON array
-- of permissions, `x.y` or `x.y:own`). Members, invitations and API keys
-- hold one by its id (`custom:<id>` in their `role`), so a rename touches
-- no other row.
CREATE TABLE rookery_roles (
    tenant_id  TEXT NOT NULL CONSTRAINT rookery_roles_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL CONSTRAINT rookery_roles_name_check CHECK (length(name) BETWEEN 1 AND 63 AND name GLOB '[a-z]*' AND name NOT GLOB '*[^a-z0-9_-]*'),
    inherits   TEXT,
    grants     TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT rookery_roles_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_roles_name_key UNIQUE (tenant_id, name)
);
-- Tenant deletion and personal-data erasure (`rookery::erasure`). An owner
-- asks to delete the tenant (`POST /tenant/deletion`): the request is kept
-- on the tenant's row with when its grace period ends (`erase_after`); it
-- can be cancelled until then (both NULL again). After it, the platform's
-- erasure job deletes every row of the tenant, its row here last, and
-- keeps one row of `rookery_tenant_erasures`: the tenant's id, when
-- deletion was asked and done, and how many rows each table lost; no
-- slug, name, email or other personal data.
ALTER TABLE tenants ADD COLUMN deletion_requested_at TEXT;
ALTER TABLE tenants ADD COLUMN deletion_requested_by TEXT;
ALTER TABLE tenants ADD COLUMN erase_after TEXT;
CREATE INDEX tenants_erase_after_idx ON tenants (erase_after) WHERE erase_after IS NOT NULL;

-- An account whose personal data was erased on its owner's request
-- (`DELETE /me`, `<app> user erase`): its email is replaced by a
-- placeholder that names nothing, its password hash removed. The id stays,
-- so what names the user (rows of models, the audit log) keeps resolving
-- to a pseudonym.
ALTER TABLE users ADD COLUMN erased_at TEXT;

-- One row per erased tenant, kept afterwards. `erased_tenant_id` is not a
-- `tenant_id`: no tenant owns the row (its tenant is gone).
CREATE TABLE rookery_tenant_erasures (
    erased_tenant_id TEXT NOT NULL,
    requested_at     TEXT NOT NULL,
    erased_at        TEXT NOT NULL,
    row_counts       TEXT NOT NULL,
    CONSTRAINT rookery_tenant_erasures_pkey PRIMARY KEY (erased_tenant_id)
);
-- An audit row is inserted unsealed (`seq` NULL) and sealed a few seconds
-- later; the unique index of the chain's sequence numbers needs no entry
-- for it until then. Partial, it costs the insert of every audited write
-- one index entry less. Every query of it (the chain's head, the
-- verifier's walk) names `seq IS NOT NULL` or `seq > $n`, which the planner
-- reads as that predicate.
DROP INDEX audit_log_tenant_id_seq_key;
CREATE UNIQUE INDEX audit_log_tenant_id_seq_key ON audit_log (tenant_id, seq) WHERE seq IS NOT NULL;

CREATE TABLE projects (
    tenant_id   TEXT    NOT NULL CONSTRAINT projects_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id          INTEGER NOT NULL,
    name        TEXT    NOT NULL CONSTRAINT projects_name_check CHECK (length(name) <= 200),
    description TEXT    DEFAULT '' CONSTRAINT projects_description_check CHECK (length(description) <= 2000),
    owner_id    TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    CONSTRAINT projects_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT projects_tenant_id_owner_id_fkey FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id) ON DELETE RESTRICT
);
CREATE INDEX projects_owner_id_idx ON projects (tenant_id, owner_id);
CREATE INDEX projects_sort_idx ON projects (tenant_id, created_at DESC, id DESC);
