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
