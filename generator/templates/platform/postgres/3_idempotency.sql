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
