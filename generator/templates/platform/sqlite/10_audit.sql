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
