CREATE INDEX projects_budget_idx ON projects (tenant_id, budget);
