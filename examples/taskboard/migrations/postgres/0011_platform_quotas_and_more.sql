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
-- The audit log users read and trust (`rookery::audit`): each row keeps
-- the values a write changed (`changes`: after for a create, before and
-- after of the changed fields for an update, before for a delete; fields
-- marked sensitive as `{"masked": true}`), and each tenant's rows are
-- chained by hash. Rows are inserted unchained, concurrently, as before;
-- the sealer (`rookery.audit_seal`, and `serve` a few seconds after a
-- write) gives them, in a stable order, the tenant's next sequence number
-- (`seq`) and `hash` = SHA-256 over the row's content and the previous
-- row's hash. `<app> audit verify` recomputes every chain. The serving
-- role may set `seq` and `hash` on a row that has none (the restrictive
-- policy below) and change nothing else: `migrate` grants it UPDATE of
-- these two columns only.
ALTER TABLE audit_log
    ADD COLUMN changes jsonb,
    ADD COLUMN seq bigint,
    ADD COLUMN hash bytea,
    ADD CONSTRAINT audit_log_sealed_check CHECK ((seq IS NULL) = (hash IS NULL));
CREATE UNIQUE INDEX audit_log_tenant_id_seq_key ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_unsealed_idx ON audit_log (tenant_id, at, id) WHERE seq IS NULL;
CREATE INDEX audit_log_target_idx ON audit_log (tenant_id, target_type, target_id, at);

-- A sealed row is never updated again, by anyone under row-level security
-- (the owner too: FORCE is on).
CREATE POLICY audit_log_sealed_once ON audit_log AS RESTRICTIVE FOR UPDATE
    USING (seq IS NULL) WITH CHECK (true);
-- The platform operator's per-tenant feature overrides, beside the plan
-- (`PUT /operator/tenants/{slug}/features/{feature}`, `<app> tenant
-- feature`): a JSON object of booleans, `{"sso": true, "webhooks": false}`.
-- A feature named here is on or off for the tenant whatever its plan says;
-- one not named follows the plan. `migrate` grants the serving role UPDATE
-- of this column (and `plan`) only.
ALTER TABLE tenants ADD COLUMN feature_overrides text NOT NULL DEFAULT '{}';

CREATE INDEX projects_budget_idx ON projects (tenant_id, budget);

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX projects_description_search ON projects USING gin (description gin_trgm_ops);

CREATE INDEX projects_name_search ON projects USING gin (name gin_trgm_ops);
