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
