-- Usage analytics (`rookery::usage`): per tenant and UTC day, the API
-- requests it made, the members who made them and the rows of each model.
-- Requests and members are counted in each serving process and added here
-- about once a minute, one transaction per tenant; rows are counted by a
-- daily job in each tenant's transaction. Tenant-owned, row-level security
-- forced: the operator's report (`<app> usage`, run as the tables' owner)
-- reads each tenant under that tenant's setting.
CREATE TABLE rookery_usage_days (
    tenant_id uuid   NOT NULL CONSTRAINT rookery_usage_days_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       date   NOT NULL,
    requests  bigint NOT NULL,
    CONSTRAINT rookery_usage_days_pkey PRIMARY KEY (tenant_id, day)
);

-- The members who made an authenticated request (with an access token)
-- that day, once each.
CREATE TABLE rookery_usage_members (
    tenant_id uuid NOT NULL CONSTRAINT rookery_usage_members_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       date NOT NULL,
    user_id   uuid NOT NULL,
    CONSTRAINT rookery_usage_members_pkey PRIMARY KEY (tenant_id, day, user_id)
);

-- Rows per model (the model's name) when the day's count ran.
CREATE TABLE rookery_usage_rows (
    tenant_id uuid   NOT NULL CONSTRAINT rookery_usage_rows_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       date   NOT NULL,
    model     text   NOT NULL,
    row_count bigint NOT NULL,
    CONSTRAINT rookery_usage_rows_pkey PRIMARY KEY (tenant_id, day, model)
);

ALTER TABLE rookery_usage_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_usage_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_usage_days
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE rookery_usage_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_usage_members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_usage_members
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
ALTER TABLE rookery_usage_rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_usage_rows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_usage_rows
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
