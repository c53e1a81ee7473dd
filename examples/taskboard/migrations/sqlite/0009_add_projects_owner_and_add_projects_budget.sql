-- no-transaction
-- Rebuilds tables: foreign keys are off while the data is copied.
PRAGMA foreign_keys = OFF;
BEGIN;

DROP INDEX projects_sort_idx;

-- Rebuild projects: SQLite cannot change a column's constraints in place.
-- projects.owner_id: existing rows are owned by their tenant's first member; if a tenant with rows
-- has none, NOT NULL fails the copy and the migration with it, changing nothing.
CREATE TABLE projects__new (
    tenant_id   TEXT    NOT NULL CONSTRAINT projects_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id          INTEGER NOT NULL,
    name        TEXT    NOT NULL CONSTRAINT projects_name_check CHECK (length(name) <= 120),
    description TEXT    DEFAULT '',
    status      TEXT    NOT NULL DEFAULT 'active' CONSTRAINT projects_status_check CHECK (status IN ('active', 'archived')),
    owner_id    TEXT    NOT NULL,
    budget      TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    CONSTRAINT projects_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT projects_tenant_id_owner_id_fkey FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id) ON DELETE RESTRICT
);
INSERT INTO projects__new (tenant_id, id, name, description, status, owner_id, created_at, updated_at)
    SELECT tenant_id, id, name, description, status, (SELECT m.user_id FROM memberships m WHERE m.tenant_id = projects.tenant_id ORDER BY m.created_at, m.user_id LIMIT 1), created_at, updated_at FROM projects;
DROP TABLE projects;
ALTER TABLE projects__new RENAME TO projects;

CREATE INDEX projects_owner_id_idx ON projects (tenant_id, owner_id);
CREATE INDEX projects_sort_idx ON projects (tenant_id, created_at DESC, id DESC);

COMMIT;
PRAGMA foreign_keys = ON;
