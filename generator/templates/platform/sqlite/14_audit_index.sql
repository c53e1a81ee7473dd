-- An audit row is inserted unsealed (`seq` NULL) and sealed a few seconds
-- later; the unique index of the chain's sequence numbers needs no entry
-- for it until then. Partial, it costs the insert of every audited write
-- one index entry less. Every query of it (the chain's head, the
-- verifier's walk) names `seq IS NOT NULL` or `seq > $n`, which the planner
-- reads as that predicate.
DROP INDEX audit_log_tenant_id_seq_key;
CREATE UNIQUE INDEX audit_log_tenant_id_seq_key ON audit_log (tenant_id, seq) WHERE seq IS NOT NULL;
