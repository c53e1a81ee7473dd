-- projects.owner_id: existing rows are owned by their tenant's first member; if a tenant with rows
-- has none, SET NOT NULL fails and the migration with it, changing nothing.
ALTER TABLE projects ADD COLUMN owner_id uuid;
UPDATE projects SET owner_id = (SELECT m.user_id FROM memberships m WHERE m.tenant_id = projects.tenant_id ORDER BY m.created_at, m.user_id LIMIT 1);
ALTER TABLE projects ALTER COLUMN owner_id SET NOT NULL;
ALTER TABLE projects ADD CONSTRAINT projects_tenant_id_owner_id_fkey FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id) ON DELETE RESTRICT;

ALTER TABLE projects ADD COLUMN budget numeric;

CREATE INDEX projects_owner_id_idx ON projects (tenant_id, owner_id);
