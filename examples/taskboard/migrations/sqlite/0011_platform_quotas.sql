-- Rate quotas (`api_calls = "1000/month"`, `rookery::quota`): per tenant,
-- quota and UTC calendar window (hour, day or month, by its start, RFC 3339
-- with microseconds), the calls reserved so far. Each serving process
-- reserves a block of calls with one conditional increment
-- (`used + n <= limit`) and spends it in memory, so `used` never passes
-- the limit; a process that stops without giving back its unspent calls
-- leaves them counted.
CREATE TABLE rookery_quota_windows (
    tenant_id    TEXT    NOT NULL CONSTRAINT rookery_quota_windows_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    quota        TEXT    NOT NULL,
    window_start TEXT    NOT NULL,
    used         INTEGER NOT NULL CONSTRAINT rookery_quota_windows_used_check CHECK (used >= 0),
    CONSTRAINT rookery_quota_windows_pkey PRIMARY KEY (tenant_id, quota, window_start)
);
