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
