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
