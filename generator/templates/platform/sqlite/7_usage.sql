-- Usage analytics (`rookery::usage`): per tenant and UTC day, the API
-- requests it made, the members who made them and the rows of each model.
-- Requests and members are counted in each serving process and added here
-- about once a minute, one transaction per tenant; rows are counted by a
-- daily job in each tenant's transaction. Days are `YYYY-MM-DD`.
CREATE TABLE rookery_usage_days (
    tenant_id TEXT    NOT NULL CONSTRAINT rookery_usage_days_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       TEXT    NOT NULL,
    requests  INTEGER NOT NULL,
    CONSTRAINT rookery_usage_days_pkey PRIMARY KEY (tenant_id, day)
);

-- The members who made an authenticated request (with an access token)
-- that day, once each.
CREATE TABLE rookery_usage_members (
    tenant_id TEXT NOT NULL CONSTRAINT rookery_usage_members_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    CONSTRAINT rookery_usage_members_pkey PRIMARY KEY (tenant_id, day, user_id)
);

-- Rows per model (the model's name) when the day's count ran.
CREATE TABLE rookery_usage_rows (
    tenant_id TEXT    NOT NULL CONSTRAINT rookery_usage_rows_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    day       TEXT    NOT NULL,
    model     TEXT    NOT NULL,
    row_count INTEGER NOT NULL,
    CONSTRAINT rookery_usage_rows_pkey PRIMARY KEY (tenant_id, day, model)
);
