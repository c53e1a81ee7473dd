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
