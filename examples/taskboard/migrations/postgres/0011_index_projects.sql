CREATE INDEX projects_budget_idx ON projects (tenant_id, budget);

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX projects_description_search ON projects USING gin (description gin_trgm_ops);

CREATE INDEX projects_name_search ON projects USING gin (name gin_trgm_ops);
