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
-- The audit log users read and trust (`rookery::audit`): each row keeps
-- the values a write changed (`changes`: after for a create, before and
-- after of the changed fields for an update, before for a delete; fields
-- marked sensitive as `{"masked": true}`), and each tenant's rows are
-- chained by hash: the sealer gives unchained rows, in a stable order,
-- the tenant's next sequence number (`seq`) and `hash` = SHA-256 over the
-- row's content and the previous row's hash. `<app> audit verify`
-- recomputes every chain.
ALTER TABLE audit_log ADD COLUMN changes TEXT;
ALTER TABLE audit_log ADD COLUMN seq INTEGER;
ALTER TABLE audit_log ADD COLUMN hash BLOB
    CONSTRAINT audit_log_sealed_check CHECK ((seq IS NULL) = (hash IS NULL));
CREATE UNIQUE INDEX audit_log_tenant_id_seq_key ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_unsealed_idx ON audit_log (tenant_id, at, id) WHERE seq IS NULL;
CREATE INDEX audit_log_target_idx ON audit_log (tenant_id, target_type, target_id, at);
-- The platform operator's per-tenant feature overrides, beside the plan
-- (`PUT /operator/tenants/{slug}/features/{feature}`, `<app> tenant
-- feature`): a JSON object of booleans, `{"sso": true, "webhooks": false}`.
-- A feature named here is on or off for the tenant whatever its plan says;
-- one not named follows the plan.
ALTER TABLE tenants ADD COLUMN feature_overrides TEXT NOT NULL DEFAULT '{}';

CREATE INDEX projects_budget_idx ON projects (tenant_id, budget);
