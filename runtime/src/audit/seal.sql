
-- The audit sealer's two calls (`rookery::audit::chain`): a group of
-- tenants is sealed in one transaction of two round trips, whatever its
-- size, instead of three statements per tenant. The chain's hashes are
-- computed by the caller between the two. Invoker's rights: each runs
-- with the caller's privileges (the serving role's `SELECT` and `UPDATE
-- (seq, hash)` on `audit_log`), under each tenant's own setting in turn
-- (row-level security on even for the owner's pool), and gives the
-- transaction its own tenant setting back before it returns. Their bodies
-- are checked when they are created (the grants around them switch that
-- off for functions over tables a later step creates).
SET LOCAL check_function_bodies = on;
--
-- `rookery_audit_unsealed`: for each tenant, in the order given (every
-- caller sorts them, so that two sealers never wait for each other in a
-- circle), takes the tenant's sealing lock for the rest of the
-- transaction and returns its chain's head (`head_seq`, `head_hash`, null
-- for an empty chain) beside each of up to `p_batch` of its unsealed rows
-- in the chain's order (`at`, then `id`), or beside one row of nulls when
-- none is unsealed.
CREATE OR REPLACE FUNCTION rookery_audit_unsealed(p_tenants uuid[], p_batch bigint)
RETURNS TABLE (id uuid, at timestamptz, actor_type text, actor_id uuid, action text, target_type text,
               target_id text, request_id text, metadata jsonb, changes jsonb, seq bigint,
               tenant uuid, head_seq bigint, head_hash bytea)
LANGUAGE plpgsql VOLATILE SET search_path = {schema}, pg_temp SET row_security = on AS $rookery$
#variable_conflict use_column
DECLARE
    t uuid;
    scope text := current_setting('app.tenant_id', true);
BEGIN
    FOREACH t IN ARRAY p_tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true),
                pg_advisory_xact_lock(hashtextextended('rookery:audit_seal:' || t::text, 0));
        RETURN QUERY
            SELECT u.id, u.at, u.actor_type, u.actor_id, u.action, u.target_type, u.target_id,
                   u.request_id, u.metadata, u.changes, u.seq, t, h.seq, h.hash
            FROM (SELECT 1) AS one
            LEFT JOIN LATERAL (SELECT a.seq, a.hash FROM audit_log AS a
                               WHERE a.tenant_id = t AND a.seq IS NOT NULL
                               ORDER BY a.seq DESC LIMIT 1) AS h ON true
            LEFT JOIN LATERAL (SELECT a.id, a.at, a.actor_type, a.actor_id, a.action, a.target_type,
                                      a.target_id, a.request_id, a.metadata, a.changes, a.seq
                               FROM audit_log AS a
                               WHERE a.tenant_id = t AND a.seq IS NULL
                               ORDER BY a.at, a.id LIMIT p_batch) AS u ON true
            ORDER BY u.at, u.id;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(scope, ''), true);
END
$rookery$;

-- `rookery_audit_seal`: sets `seq` and `hash` (hex) of each row of
-- `p_seals` (`{"<tenant>": [{"id", "seq", "hash"}, …], …}`) that has
-- none yet, each tenant under its own setting and sealing lock (held
-- already when `rookery_audit_unsealed` ran first in the transaction);
-- returns how many rows it sealed.
CREATE OR REPLACE FUNCTION rookery_audit_seal(p_seals jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = {schema}, pg_temp SET row_security = on AS $rookery$
DECLARE
    t uuid;
    batch jsonb;
    n bigint;
    sealed bigint := 0;
    scope text := current_setting('app.tenant_id', true);
BEGIN
    FOR t, batch IN SELECT e.key::uuid, e.value FROM jsonb_each(p_seals) AS e ORDER BY 1 LOOP
        PERFORM set_config('app.tenant_id', t::text, true),
                pg_advisory_xact_lock(hashtextextended('rookery:audit_seal:' || t::text, 0));
        UPDATE audit_log AS a SET seq = s.seq, hash = decode(s.hash, 'hex')
        FROM jsonb_to_recordset(batch) AS s(id uuid, seq bigint, hash text)
        WHERE a.tenant_id = t AND a.id = s.id AND a.seq IS NULL;
        GET DIAGNOSTICS n = ROW_COUNT;
        sealed := sealed + n;
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(scope, ''), true);
    RETURN sealed;
END
$rookery$;
REVOKE ALL ON FUNCTION rookery_audit_unsealed(uuid[], bigint), rookery_audit_seal(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_audit_unsealed(uuid[], bigint), rookery_audit_seal(jsonb) TO {role};
SET LOCAL check_function_bodies = off;
