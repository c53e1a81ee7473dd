-- A tenant's custom roles (`GET|POST /roles`, `rookery::rbac`): a name,
-- optionally a role of the spec it inherits, and its grants (a JSON array
-- of permissions, `x.y` or `x.y:own`). Members, invitations and API keys
-- hold one by its id (`custom:<id>` in their `role`), so a rename touches
-- no other row. Tenant-owned, row-level security forced; `migrate` grants
-- the serving role UPDATE of the name, what it inherits, its grants and
-- when it changed, nothing else.
CREATE TABLE rookery_roles (
    tenant_id  uuid        NOT NULL CONSTRAINT rookery_roles_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL,
    name       text        NOT NULL CONSTRAINT rookery_roles_name_check CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    inherits   text,
    grants     text        NOT NULL DEFAULT '[]',
    created_by uuid        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT rookery_roles_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_roles_name_key UNIQUE (tenant_id, name)
);

ALTER TABLE rookery_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_roles
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
