-- The serving role's privileges and the owner's functions of tenant
-- deletion and personal-data erasure (`db/erasure`), applied by `migrate`
-- once platform step 13 is: `{role}` and `{schema}` are replaced, quoted.
REVOKE ALL ON rookery_tenant_erasures FROM {role};
-- The record names no one: the operator's `tenant erasure ID` reads it.
GRANT SELECT ON rookery_tenant_erasures TO {role};

-- The request's columns only through these two: the serving role can
-- neither move a pending deadline nor set one in the past.
CREATE OR REPLACE FUNCTION rookery_request_deletion(p_tenant uuid, p_by uuid, p_grace_days integer)
RETURNS TABLE (o_requested_at timestamptz, o_requested_by uuid, o_erase_after timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
-- Asks for `p_tenant`'s deletion, erased `p_grace_days` from now by the
-- database's clock; a pending deletion keeps its deadline. Answers the
-- pending deletion (no row: no such tenant).
BEGIN
    IF p_grace_days IS NULL OR p_grace_days < 0 THEN
        RAISE EXCEPTION 'rookery_request_deletion: a grace period of days, 0 or more' USING ERRCODE = '22023';
    END IF;
    UPDATE tenants
    SET deletion_requested_at = now(), deletion_requested_by = p_by,
        erase_after = now() + make_interval(days => p_grace_days)
    WHERE id = p_tenant AND erase_after IS NULL;
    RETURN QUERY SELECT te.deletion_requested_at, te.deletion_requested_by, te.erase_after
                 FROM tenants te WHERE te.id = p_tenant;
END
$rookery$;
CREATE OR REPLACE FUNCTION rookery_cancel_deletion(p_tenant uuid)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    WITH cancelled AS (
        UPDATE tenants SET deletion_requested_at = NULL, deletion_requested_by = NULL, erase_after = NULL
        WHERE id = p_tenant AND erase_after IS NOT NULL RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM cancelled)
$rookery$;
REVOKE ALL ON FUNCTION rookery_request_deletion(uuid, uuid, integer), rookery_cancel_deletion(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_request_deletion(uuid, uuid, integer), rookery_cancel_deletion(uuid) TO {role};

CREATE OR REPLACE FUNCTION rookery_erase_tenant(p_tenant uuid, p_tables text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp SET row_security = on AS $rookery$
-- Erases every row of `p_tenant` once its grace period has passed, and
-- returns the rows each table lost; NULL (nothing erased) when no
-- deletion of it is due. `p_tables`: comma-separated tables to empty
-- first, in order (children first); every other table with a
-- `tenant_id` follows.
DECLARE
    requested timestamptz;
    t text;
    n bigint;
    done text[] := '{}';
    counts jsonb := '{}'::jsonb;
    members uuid[];
    u uuid;
    accounts bigint := 0;
BEGIN
    SELECT te.deletion_requested_at INTO requested FROM tenants te
    WHERE te.id = p_tenant AND te.erase_after IS NOT NULL AND te.erase_after <= now()
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- FORCE row-level security confines the owner too: to this tenant.
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    SELECT coalesce(array_agg(m.user_id), '{}') INTO members FROM memberships m WHERE m.tenant_id = p_tenant;
    FOR t IN
        SELECT x.name FROM unnest(string_to_array(p_tables, ',')) WITH ORDINALITY AS x(name, ord)
        WHERE EXISTS (SELECT 1 FROM information_schema.columns c
                      WHERE c.table_schema = current_schema() AND c.table_name = x.name AND c.column_name = 'tenant_id')
        ORDER BY x.ord
    LOOP
        CONTINUE WHEN t = ANY (done);
        EXECUTE format('DELETE FROM %I WHERE tenant_id = $1', t) USING p_tenant;
        GET DIAGNOSTICS n = ROW_COUNT;
        counts := counts || jsonb_build_object(t, n);
        done := done || t;
    END LOOP;
    FOR t IN
        SELECT c.table_name::text FROM information_schema.columns c
        JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' AND tb.table_type = 'BASE TABLE'
        ORDER BY c.table_name
    LOOP
        CONTINUE WHEN t = ANY (done);
        EXECUTE format('DELETE FROM %I WHERE tenant_id = $1', t) USING p_tenant;
        GET DIAGNOSTICS n = ROW_COUNT;
        counts := counts || jsonb_build_object(t, n);
        done := done || t;
    END LOOP;
    DELETE FROM tenants WHERE id = p_tenant;
    counts := counts || jsonb_build_object('tenants', 1);
    PERFORM set_config('app.tenant_id', '', true);
    -- An account that was a member here and is a member of no tenant now
    -- goes too: its email and password hash are personal data of a
    -- customer that is gone. (`own_memberships` shows the owner one
    -- user's memberships in every tenant.)
    FOREACH u IN ARRAY members LOOP
        PERFORM set_config('app.user_id', u::text, true);
        IF NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u) THEN
            DELETE FROM users WHERE id = u;
            accounts := accounts + 1;
        END IF;
    END LOOP;
    PERFORM set_config('app.user_id', '', true);
    counts := counts || jsonb_build_object('users', accounts);
    INSERT INTO rookery_tenant_erasures (erased_tenant_id, requested_at, erased_at, row_counts)
    VALUES (p_tenant, requested, now(), counts);
    RETURN counts;
END
$rookery$;
REVOKE ALL ON FUNCTION rookery_erase_tenant(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_erase_tenant(uuid, text) TO {role};

CREATE OR REPLACE FUNCTION rookery_erase_user(p_user uuid, p_email text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp SET row_security = on AS $rookery$
-- Erases the personal data of the account the transaction names
-- (`app.user_id`): the mail addressed to it and the invitations to its
-- address in every tenant are deleted, its email becomes `p_email` (a
-- placeholder) and its password hash goes. False when it was erased
-- already.
DECLARE
    old text;
    t uuid;
BEGIN
    IF p_user::text IS DISTINCT FROM nullif(current_setting('app.user_id', true), '') THEN
        RAISE EXCEPTION 'rookery_erase_user: the transaction does not name this user' USING ERRCODE = '42501';
    END IF;
    SELECT lower(u.email) INTO old FROM users u WHERE u.id = p_user AND u.erased_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- Mail's policy is not forced: the owner sees every tenant's.
    DELETE FROM rookery_mail WHERE lower(to_address) = old;
    -- Invitations' is: each tenant in turn.
    FOR t IN SELECT te.id FROM tenants te LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        DELETE FROM invitations WHERE tenant_id = t AND lower(email) = old;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
    UPDATE users SET email = p_email, password_hash = NULL, erased_at = now() WHERE id = p_user;
    RETURN true;
END
$rookery$;
REVOKE ALL ON FUNCTION rookery_erase_user(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_erase_user(uuid, text) TO {role};
