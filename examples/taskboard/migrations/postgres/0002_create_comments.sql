CREATE TABLE comments (
    tenant_id  uuid        NOT NULL CONSTRAINT comments_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL,
    task_id    bigint      NOT NULL,
    body       text        NOT NULL CONSTRAINT comments_body_check CHECK (char_length(body) <= 2000),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT comments_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT comments_tenant_id_task_id_fkey FOREIGN KEY (tenant_id, task_id) REFERENCES tasks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX comments_task_id_idx ON comments (tenant_id, task_id);
CREATE INDEX comments_sort_idx ON comments (tenant_id, created_at DESC, id DESC);
ALTER TABLE comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE comments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON comments
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
