-- Rate quotas (`api_calls = "1000/month"`, `rookery::quota`): per tenant,
-- quota and UTC calendar window (hour, day or month, by its start), the
-- calls reserved so far. Each serving process reserves a block of calls
-- with one conditional increment (`used + n <= limit`) and spends it in
-- memory, so `used` never passes the limit; a process that stops without
-- giving back its unspent calls leaves them counted. Tenant-owned,
-- row-level security forced.
CREATE TABLE rookery_quota_windows (
    tenant_id    uuid        NOT NULL CONSTRAINT rookery_quota_windows_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    quota        text        NOT NULL,
    window_start timestamptz NOT NULL,
    used         bigint      NOT NULL CONSTRAINT rookery_quota_windows_used_check CHECK (used >= 0),
    CONSTRAINT rookery_quota_windows_pkey PRIMARY KEY (tenant_id, quota, window_start)
);

ALTER TABLE rookery_quota_windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE rookery_quota_windows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_quota_windows
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
