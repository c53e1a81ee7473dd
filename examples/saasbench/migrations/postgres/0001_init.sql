-- Rookery platform tables (runtime-owned).
-- The app's serving group role and its privileges are not named here: the
-- runtime's migration runner (`<app> migrate`) creates the role and grants
-- it after every run (ROOKERY_DB_ROLE, default `<app>_app`).

CREATE TABLE tenants (
    id         uuid        PRIMARY KEY,
    slug       text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{1,62}$'),
    name       text        NOT NULL,
    plan       text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL,
    password_hash text,
    created_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE api_keys (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    key_hash     bytea       NOT NULL,
    role         text        NOT NULL,
    created_by   uuid        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, prefix),
    FOREIGN KEY (tenant_id, created_by) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE refresh_tokens (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    token_hash bytea       NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE invitations (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    email       text        NOT NULL,
    role        text        NOT NULL,
    token_hash  bytea       NOT NULL,
    invited_by  uuid        NOT NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, invited_by) REFERENCES memberships (tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE audit_log (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    actor_type  text        NOT NULL,
    actor_id    uuid,
    action      text        NOT NULL,
    target_type text,
    target_id   text,
    request_id  text,
    metadata    jsonb,
    at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_tenant_at_idx ON audit_log (tenant_id, at);

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refresh_tokens
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
-- Background jobs (`rookery::jobs`): the queue lives in the app's own
-- database, so a job enqueued by a request commits or rolls back with it.
-- `tenant_id` is the job's tenant (NULL for a platform job). The serving
-- role has no privilege on the table: it enqueues, claims and finishes
-- jobs only through the runtime's functions (granted by `migrate`).
CREATE TABLE rookery_jobs (
    id              uuid        NOT NULL PRIMARY KEY,
    tenant_id       uuid        REFERENCES tenants (id) ON DELETE CASCADE,
    queue           text        NOT NULL,
    kind            text        NOT NULL,
    payload         jsonb       NOT NULL,
    idempotency_key text,
    state           text        NOT NULL DEFAULT 'ready',
    attempts        integer     NOT NULL DEFAULT 0,
    max_attempts    integer     NOT NULL,
    run_at          timestamptz NOT NULL,
    fair_at         timestamptz NOT NULL,
    locked_by       text,
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    finished_at     timestamptz,
    CONSTRAINT rookery_jobs_state_check CHECK (state IN ('ready', 'running', 'done', 'dead'))
);
CREATE INDEX rookery_jobs_ready_idx ON rookery_jobs (queue, fair_at, id) WHERE state = 'ready';
CREATE INDEX rookery_jobs_tenant_ready_idx ON rookery_jobs (queue, tenant_id, fair_at) WHERE state = 'ready';
CREATE INDEX rookery_jobs_running_idx ON rookery_jobs (queue, tenant_id) WHERE state = 'running';
CREATE INDEX rookery_jobs_lease_idx ON rookery_jobs (locked_until) WHERE state = 'running';
CREATE INDEX rookery_jobs_finished_idx ON rookery_jobs (finished_at) WHERE state = 'done';
CREATE UNIQUE INDEX rookery_jobs_idempotency_key ON rookery_jobs
    (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), kind, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- No policy: no role but the owner (whose functions the runtime calls)
-- sees a row.
ALTER TABLE rookery_jobs ENABLE ROW LEVEL SECURITY;
-- Safe retries (`Idempotency-Key`): the first response of each key, per
-- tenant. The write a request makes marks its key in the write's own
-- transaction, so a retry can tell whether the first attempt committed.
CREATE TABLE rookery_idempotency_keys (
    tenant_id       uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key             text        NOT NULL,
    fingerprint     bytea       NOT NULL,
    attempt         integer     NOT NULL,
    state           text        NOT NULL,
    response_status integer,
    response_type   text,
    response_location text,
    response_body   bytea,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key),
    CONSTRAINT rookery_idempotency_keys_state_check CHECK (state IN ('started', 'committed', 'done'))
);
CREATE INDEX rookery_idempotency_keys_created_idx ON rookery_idempotency_keys (created_at);
ALTER TABLE rookery_idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_idempotency_keys
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
-- Mail (`rookery::mail`): every message the app sends, rendered and
-- queued in the transaction of the write that asks for it, sent by a job.
-- With no SMTP settings a message stays here as the outbox (`<app> mail
-- list`); a message sent over SMTP keeps its envelope and subject but not
-- its body, which may hold a token. The tenant policy confines the serving
-- role; not forced, so the owner's functions (`migrate` installs them: the
-- operator's list, pruning) see every tenant's mail.
CREATE TABLE rookery_mail (
    tenant_id    uuid        NOT NULL CONSTRAINT rookery_mail_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    template     text        NOT NULL,
    to_address   text        NOT NULL,
    from_address text        NOT NULL,
    subject      text        NOT NULL,
    text_body    text,
    html_body    text,
    state        text        NOT NULL DEFAULT 'queued',
    last_error   text,
    created_at   timestamptz NOT NULL,
    sent_at      timestamptz,
    CONSTRAINT rookery_mail_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_mail_state_check CHECK (state IN ('queued', 'sent', 'outbox', 'failed'))
);
CREATE INDEX rookery_mail_created_at_idx ON rookery_mail (created_at);
ALTER TABLE rookery_mail ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_mail
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
-- Domain events and outgoing webhooks (`rookery::webhooks`). An event is
-- written in the transaction of the write it records; a trigger (installed
-- by `migrate`, `rookery_event_fan_out`) turns it, in that same
-- transaction, into one delivery per enabled endpoint of the tenant
-- subscribed to its type, each with its first delivery job. Every table
-- is the tenant's: `tenant_id`, composite keys, row-level security.
CREATE TABLE rookery_events (
    tenant_id   uuid        NOT NULL CONSTRAINT rookery_events_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    type        text        NOT NULL,
    data        jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL,
    CONSTRAINT rookery_events_pkey PRIMARY KEY (tenant_id, id)
);
CREATE INDEX rookery_events_occurred_idx ON rookery_events (tenant_id, occurred_at);

-- `secret` and `retiring_secret` are sealed (ChaCha20-Poly1305 under
-- ROOKERY_WEBHOOKS_SECRET_KEY, bound to the tenant and the endpoint), never
-- the signing secret in clear. `event_types` is a JSON array of types.
CREATE TABLE rookery_webhook_endpoints (
    tenant_id       uuid        NOT NULL CONSTRAINT rookery_webhook_endpoints_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    url             text        NOT NULL,
    description     text        NOT NULL,
    event_types     jsonb       NOT NULL,
    enabled         boolean     NOT NULL,
    secret          text        NOT NULL,
    retiring_secret text,
    retiring_until  timestamptz,
    failing_since   timestamptz,
    disabled_reason text,
    created_by      uuid        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT rookery_webhook_endpoints_pkey PRIMARY KEY (tenant_id, id)
);

-- One delivery per endpoint and event (the unique key: a fan-out can never
-- make a second); `state` pending until delivered or given up (failed).
-- The last attempt's outcome is kept here for the list; every attempt is a
-- row of `rookery_webhook_attempts`.
CREATE TABLE rookery_webhook_deliveries (
    tenant_id       uuid        NOT NULL CONSTRAINT rookery_webhook_deliveries_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    endpoint_id     uuid        NOT NULL,
    event_id        uuid        NOT NULL,
    state           text        NOT NULL,
    attempts        integer     NOT NULL,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    last_status     integer,
    last_latency_ms integer,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
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
    tenant_id   uuid        NOT NULL CONSTRAINT rookery_webhook_attempts_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    delivery_id uuid        NOT NULL,
    attempt     integer     NOT NULL,
    status      integer,
    latency_ms  integer     NOT NULL,
    error_kind  text,
    error       text,
    response    text        NOT NULL,
    at          timestamptz NOT NULL,
    CONSTRAINT rookery_webhook_attempts_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_webhook_attempts_delivery_attempt_key UNIQUE (tenant_id, delivery_id, attempt),
    CONSTRAINT rookery_webhook_attempts_delivery_fkey FOREIGN KEY (tenant_id, delivery_id)
        REFERENCES rookery_webhook_deliveries (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE rookery_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_events
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE rookery_webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_webhook_endpoints
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE rookery_webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_webhook_deliveries
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE rookery_webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_webhook_attempts
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
-- The platform scope's audit (`rookery::db::platform_audit`): one row for
-- each piece of cross-tenant work the platform does (a schedule fanned out
-- to every tenant, a prune across tenants, a platform job's transaction),
-- written in that work's own transaction where it has one. No tenant
-- owns a row. The serving role may only append (`migrate` grants INSERT
-- and nothing else); the operator reads it as the tables' owner
-- (`<app> platform-audit`).
CREATE TABLE rookery_platform_audit (
    id     uuid        NOT NULL,
    at     timestamptz NOT NULL,
    actor  text        NOT NULL,
    action text        NOT NULL,
    detail jsonb       NOT NULL,
    CONSTRAINT rookery_platform_audit_pkey PRIMARY KEY (id)
);
CREATE INDEX rookery_platform_audit_at_idx ON rookery_platform_audit (at);
-- Usage analytics (`rookery::usage`): per tenant and UTC day, the API
-- requests it made, the members who made them and the rows of each model.
-- Requests and members are counted in each serving process and added here
-- about once a minute, one transaction per tenant; rows are counted by a
-- daily job in each tenant's transaction. Tenant-owned, row-level security
-- forced: the operator's report (`<app> usage`, run as the tables' owner)
-- reads each tenant under that tenant's setting.
CREATE TABLE rookery_usage_days (
    tenant_id uuid   NOT NULL CONSTRAINT rookery_usage_days_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       date   NOT NULL,
    requests  bigint NOT NULL,
    CONSTRAINT rookery_usage_days_pkey PRIMARY KEY (tenant_id, day)
);

-- The members who made an authenticated request (with an access token)
-- that day, once each.
CREATE TABLE rookery_usage_members (
    tenant_id uuid NOT NULL CONSTRAINT rookery_usage_members_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       date NOT NULL,
    user_id   uuid NOT NULL,
    CONSTRAINT rookery_usage_members_pkey PRIMARY KEY (tenant_id, day, user_id)
);

-- Rows per model (the model's name) when the day's count ran.
CREATE TABLE rookery_usage_rows (
    tenant_id uuid   NOT NULL CONSTRAINT rookery_usage_rows_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       date   NOT NULL,
    model     text   NOT NULL,
    row_count bigint NOT NULL,
    CONSTRAINT rookery_usage_rows_pkey PRIMARY KEY (tenant_id, day, model)
);

ALTER TABLE rookery_usage_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_usage_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_usage_days
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE rookery_usage_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_usage_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_usage_members
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE rookery_usage_rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_usage_rows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_usage_rows
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
-- The member lifecycle (`http/identity/members`): a membership is never
-- deleted. Removing a member (or their leaving) keeps the row as `former`,
-- with when and by whom, so rows that reference the member through
-- `memberships (tenant_id, user_id)` and the audit log keep naming them;
-- a new invitation makes them `active` again. Sign-in, refresh, API keys
-- and invitations read the status: a former membership is refused like
-- none. `migrate` grants the serving role UPDATE of these columns (and
-- `role`) only.
ALTER TABLE memberships
    ADD COLUMN status text NOT NULL DEFAULT 'active'
        CONSTRAINT memberships_status_check CHECK (status IN ('active', 'former')),
    ADD COLUMN removed_at timestamptz,
    ADD COLUMN removed_by uuid,
    ADD CONSTRAINT memberships_removed_at_check CHECK ((status = 'former') = (removed_at IS NOT NULL));

-- Where an API key was last used from, beside when (`GET /api-keys`).
ALTER TABLE api_keys ADD COLUMN last_used_ip text;
-- Rate quotas (`api_calls = "1000/month"`, `rookery::quota`): per tenant,
-- quota and UTC calendar window (hour, day or month, by its start), the
-- calls reserved so far. Each serving process reserves a block of calls
-- with one conditional increment (`used + n <= limit`) and spends it in
-- memory, so `used` never passes the limit; a process that stops without
-- giving back its unspent calls leaves them counted. Tenant-owned,
-- row-level security forced.
CREATE TABLE rookery_quota_windows (
    tenant_id    uuid        NOT NULL CONSTRAINT rookery_quota_windows_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    quota        text        NOT NULL,
    window_start timestamptz NOT NULL,
    used         bigint      NOT NULL CONSTRAINT rookery_quota_windows_used_check CHECK (used >= 0),
    CONSTRAINT rookery_quota_windows_pkey PRIMARY KEY (tenant_id, quota, window_start)
);

ALTER TABLE rookery_quota_windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_quota_windows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_quota_windows
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
-- The audit log users read and trust (`rookery::audit`): each row keeps
-- the values a write changed (`changes`: after for a create, before and
-- after of the changed fields for an update, before for a delete; fields
-- marked sensitive as `{"masked": true}`), and each tenant's rows are
-- chained by hash. Rows are inserted unchained, concurrently, as before;
-- the sealer (`rookery.audit_seal`, and `serve` a few seconds after a
-- write) gives them, in a stable order, the tenant's next sequence number
-- (`seq`) and `hash` = SHA-256 over the row's content and the previous
-- row's hash. `<app> audit verify` recomputes every chain. The serving
-- role may set `seq` and `hash` on a row that has none (the restrictive
-- policy below) and change nothing else: `migrate` grants it UPDATE of
-- these two columns only.
ALTER TABLE audit_log
    ADD COLUMN changes jsonb,
    ADD COLUMN seq bigint,
    ADD COLUMN hash bytea,
    ADD CONSTRAINT audit_log_sealed_check CHECK ((seq IS NULL) = (hash IS NULL));
CREATE UNIQUE INDEX audit_log_tenant_id_seq_key ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_unsealed_idx ON audit_log (tenant_id, at, id) WHERE seq IS NULL;
CREATE INDEX audit_log_target_idx ON audit_log (tenant_id, target_type, target_id, at);

-- A sealed row is never updated again, by anyone under row-level security
-- (the owner too: FORCE is on).
CREATE POLICY audit_log_sealed_once ON audit_log AS RESTRICTIVE FOR UPDATE
    USING (seq IS NULL) WITH CHECK (true);
-- The platform operator's per-tenant feature overrides, beside the plan
-- (`PUT /operator/tenants/{slug}/features/{feature}`, `<app> tenant
-- feature`): a JSON object of booleans, `{"sso": true, "webhooks": false}`.
-- A feature named here is on or off for the tenant whatever its plan says;
-- one not named follows the plan. `migrate` grants the serving role UPDATE
-- of this column (and `plan`) only.
ALTER TABLE tenants ADD COLUMN feature_overrides text NOT NULL DEFAULT '{}';
-- A tenant's custom roles (`GET|POST /roles`, `rookery::rbac`): a name,
-- optionally a role of the spec it inherits, and its grants (a JSON array
-- of permissions, `x.y` or `x.y:own`). Members, invitations and API keys
-- hold one by its id (`custom:<id>` in their `role`), so a rename touches
-- no other row. Tenant-owned, row-level security forced; `migrate` grants
-- the serving role UPDATE of the name, what it inherits, its grants and
-- when it changed, nothing else.
CREATE TABLE rookery_roles (
    tenant_id  uuid        NOT NULL CONSTRAINT rookery_roles_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL,
    name       text        NOT NULL CONSTRAINT rookery_roles_name_check CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    inherits   text,
    grants     text        NOT NULL DEFAULT '[]',
    created_by uuid        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT rookery_roles_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_roles_name_key UNIQUE (tenant_id, name)
);

ALTER TABLE rookery_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_roles
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
-- Tenant deletion and personal-data erasure (`rookery::erasure`). An owner
-- asks to delete the tenant (`POST /tenant/deletion`): the request is kept
-- on the tenant's row with when its grace period ends (`erase_after`); it
-- can be cancelled until then (both NULL again). After it, the platform's
-- erasure job deletes every row of the tenant, its row here last, through
-- the owner's function `rookery_erase_tenant` (`migrate` installs it),
-- which refuses a tenant whose grace has not passed. What is kept is one
-- row of `rookery_tenant_erasures`: the tenant's id, when deletion was
-- asked and done, and how many rows each table lost; no slug, name, email
-- or other personal data. The serving role writes the request's columns
-- only through the owner's `rookery_request_deletion` and
-- `rookery_cancel_deletion` (the deadline by the database's clock, never
-- moved while pending).
ALTER TABLE tenants
    ADD COLUMN deletion_requested_at timestamptz,
    ADD COLUMN deletion_requested_by uuid,
    ADD COLUMN erase_after timestamptz,
    ADD CONSTRAINT tenants_deletion_check CHECK ((deletion_requested_at IS NULL) = (erase_after IS NULL));
CREATE INDEX tenants_erase_after_idx ON tenants (erase_after) WHERE erase_after IS NOT NULL;

-- An account whose personal data was erased on its owner's request
-- (`DELETE /me`, `<app> user erase`): its email is replaced by a
-- placeholder that names nothing, its password hash removed. The id stays,
-- so what names the user (rows of models, the audit log) keeps resolving
-- to a pseudonym.
ALTER TABLE users ADD COLUMN erased_at timestamptz;

-- One row per erased tenant, kept afterwards. `erased_tenant_id` is not a
-- `tenant_id`: no tenant owns the row (its tenant is gone).
CREATE TABLE rookery_tenant_erasures (
    erased_tenant_id uuid        NOT NULL,
    requested_at     timestamptz NOT NULL,
    erased_at        timestamptz NOT NULL,
    row_counts       jsonb       NOT NULL,
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
    tenant_id   uuid        NOT NULL CONSTRAINT projects_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id          bigint      GENERATED BY DEFAULT AS IDENTITY,
    name        text        NOT NULL CONSTRAINT projects_name_check CHECK (char_length(name) <= 200),
    description text        DEFAULT '' CONSTRAINT projects_description_check CHECK (char_length(description) <= 2000),
    owner_id    uuid        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT projects_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT projects_tenant_id_owner_id_fkey FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id) ON DELETE RESTRICT
);
CREATE INDEX projects_owner_id_idx ON projects (tenant_id, owner_id);
CREATE INDEX projects_sort_idx ON projects (tenant_id, created_at DESC, id DESC);
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON projects
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
