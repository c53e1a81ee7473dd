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
