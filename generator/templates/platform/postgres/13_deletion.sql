-- Tenant deletion and personal-data erasure (`rookery::erasure`). An owner
-- asks to delete the tenant (`POST /tenant/deletion`): the request is kept
-- on the tenant's row with when its grace period ends (`erase_after`); it
-- can be cancelled until then (both NULL again). After it, the platform's
-- erasure job deletes every row of the tenant, its row here last, through
-- the owner's function `rookery_erase_tenant` (`migrate` installs it),
-- which refuses a tenant whose grace has not passed. What is kept is one
-- row of `rookery_tenant_erasures`: the tenant's id, when deletion was
-- asked and done, and how many rows each table lost; no slug, name, email
-- or other personal data. The serving role writes the request's columns
-- only through the owner's `rookery_request_deletion` and
-- `rookery_cancel_deletion` (the deadline by the database's clock, never
-- moved while pending).
ALTER TABLE tenants
    ADD COLUMN deletion_requested_at timestamptz,
    ADD COLUMN deletion_requested_by uuid,
    ADD COLUMN erase_after timestamptz,
    ADD CONSTRAINT tenants_deletion_check CHECK ((deletion_requested_at IS NULL) = (erase_after IS NULL));
CREATE INDEX tenants_erase_after_idx ON tenants (erase_after) WHERE erase_after IS NOT NULL;

-- An account whose personal data was erased on its owner's request
-- (`DELETE /me`, `<app> user erase`): its email is replaced by a
-- placeholder that names nothing, its password hash removed. The id stays,
-- so what names the user (rows of models, the audit log) keeps resolving
-- to a pseudonym.
ALTER TABLE users ADD COLUMN erased_at timestamptz;

-- One row per erased tenant, kept afterwards. `erased_tenant_id` is not a
-- `tenant_id`: no tenant owns the row (its tenant is gone).
CREATE TABLE rookery_tenant_erasures (
    erased_tenant_id uuid        NOT NULL,
    requested_at     timestamptz NOT NULL,
    erased_at        timestamptz NOT NULL,
    row_counts       jsonb       NOT NULL,
    CONSTRAINT rookery_tenant_erasures_pkey PRIMARY KEY (erased_tenant_id)
);
