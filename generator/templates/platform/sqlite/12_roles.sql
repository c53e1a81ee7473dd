-- A tenant's custom roles (`GET|POST /roles`, `rookery::rbac`): a name,
-- optionally a role of the spec it inherits, and its grants (a JSON array
-- of permissions, `x.y` or `x.y:own`). Members, invitations and API keys
-- hold one by its id (`custom:<id>` in their `role`), so a rename touches
-- no other row.
CREATE TABLE rookery_roles (
    tenant_id  TEXT NOT NULL CONSTRAINT rookery_roles_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL CONSTRAINT rookery_roles_name_check CHECK (length(name) BETWEEN 1 AND 63 AND name GLOB '[a-z]*' AND name NOT GLOB '*[^a-z0-9_-]*'),
    inherits   TEXT,
    grants     TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT rookery_roles_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_roles_name_key UNIQUE (tenant_id, name)
);
