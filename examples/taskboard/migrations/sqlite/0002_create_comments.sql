CREATE TABLE comments (
    tenant_id  TEXT    NOT NULL CONSTRAINT comments_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT    NOT NULL,
    task_id    INTEGER NOT NULL,
    body       TEXT    NOT NULL CONSTRAINT comments_body_check CHECK (length(body) <= 2000),
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    CONSTRAINT comments_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT comments_tenant_id_task_id_fkey FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX comments_task_id_idx ON comments (tenant_id, task_id);
CREATE INDEX comments_sort_idx ON comments (tenant_id, created_at DESC, id DESC);
