//! Tenant deletion's and personal-data erasure's storage (platform tables,
//! version 13): the request on the tenant's row, the erasure of every row
//! of a tenant whose grace period has passed, the record kept afterwards
//! (`rookery_tenant_erasures`) and an account's anonymisation.
//!
//! On PostgreSQL the serving role writes none of it itself. It asks and
//! cancels through the owner's `rookery_request_deletion` (the deadline
//! from the database's clock; a pending one is never moved) and
//! `rookery_cancel_deletion`, and the erasure runs in the owner's
//! `rookery_erase_tenant`, which reads the grace period itself
//! (`erase_after <= now()`, the row locked) and erases nothing otherwise:
//! no caller can erase a tenant before its deadline. The
//! account's anonymisation is the owner's `rookery_erase_user`, which
//! changes only the user the transaction names (`app.user_id`, set from a
//! verified credential).
//!
//! The erasure deletes the tables it is given children first (the app's
//! model tables in the order `erasure::tables` computes from their
//! references, then [`PLATFORM_TABLES`]), then any other table of the
//! schema with a `tenant_id` column (a table a later version or a
//! hand-written migration added), then the tenant's row, then the
//! accounts that were members of it and are members of no tenant now.
//! One transaction: all of it or nothing.

use chrono::{DateTime, Utc};

use super::bind::format_datetime;
use super::tx::Conn;
use super::{DbError, PlatformTx, quote_ident};
use crate::model::{TenantId, UserId};

/// The platform's tables with a `tenant_id`, children first: each is
/// deleted before any table it references.
pub(crate) const PLATFORM_TABLES: &[&str] = &[
    "rookery_webhook_attempts",
    "rookery_webhook_deliveries",
    "rookery_webhook_endpoints",
    "rookery_events",
    "rookery_usage_rows",
    "rookery_usage_members",
    "rookery_usage_days",
    "rookery_quota_windows",
    "rookery_idempotency_keys",
    "rookery_mail",
    "rookery_jobs",
    "api_keys",
    "refresh_tokens",
    "invitations",
    "audit_log",
    "memberships",
];

/// The serving role's privileges and the owner's functions (`migrate`
/// applies them once the step's columns exist).
pub(super) const FUNCTIONS: &str = r"
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
";

/// What an erasure left behind: the record kept of it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub(crate) struct Erased {
    /// When the deletion was asked for.
    pub(crate) requested_at: DateTime<Utc>,
    /// Rows deleted, by table (`users`: the accounts deleted with it).
    pub(crate) rows: serde_json::Map<String, serde_json::Value>,
}

/// The placeholder an erased account's email becomes: it names no one and
/// is unique (the account's own id), so the address is free again.
pub(crate) fn erased_email(user: UserId) -> String {
    format!("erased-{}@erased.invalid", user.0.simple())
}

impl PlatformTx {
    /// Erases every row of `tenant` if its deletion is due (`erase_after`
    /// passed), `tables` first in their order; `None` when it is not (no
    /// request, a cancelled one, a grace period still running, or erased
    /// already). The caller commits.
    pub(crate) async fn erase_tenant(&mut self, tenant: TenantId, tables: &[&str]) -> Result<Option<Erased>, DbError> {
        match self.conn() {
            Conn::Postgres(conn) => {
                // Read first: the serving role may not read the record the
                // function writes.
                let requested: Option<Option<DateTime<Utc>>> =
                    sqlx::query_scalar("SELECT deletion_requested_at FROM tenants WHERE id = $1")
                        .bind(tenant.0)
                        .fetch_optional(&mut *conn)
                        .await?;
                let counts: Option<sqlx::types::Json<serde_json::Value>> =
                    sqlx::query_scalar("SELECT rookery_erase_tenant($1, $2)")
                        .bind(tenant.0)
                        .bind(tables.join(","))
                        .fetch_one(&mut *conn)
                        .await?;
                let Some(counts) = counts else { return Ok(None) };
                let rows = match counts.0 {
                    serde_json::Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                };
                Ok(Some(Erased {
                    requested_at: requested.flatten().unwrap_or_else(Utc::now),
                    rows,
                }))
            }
            Conn::Sqlite(conn) => erase_sqlite(conn, tenant, tables).await,
        }
    }
}

/// [`PlatformTx::erase_tenant`] on SQLite: the same steps as the
/// PostgreSQL function, in the caller's write transaction.
async fn erase_sqlite(
    conn: &mut sqlx::SqliteConnection,
    tenant: TenantId,
    tables: &[&str],
) -> Result<Option<Erased>, DbError> {
    let id = tenant.0.hyphenated().to_string();
    let now = format_datetime(Utc::now());
    let requested: Option<String> = sqlx::query_scalar(
        "SELECT deletion_requested_at FROM tenants WHERE id = $1 AND erase_after IS NOT NULL AND erase_after <= $2",
    )
    .bind(&id)
    .bind(&now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(requested) = requested else { return Ok(None) };
    let requested_at = DateTime::parse_from_rfc3339(&requested)
        .map_err(|e| DbError::Sqlx(sqlx::Error::Decode(e.into())))?
        .with_timezone(&Utc);
    let members: Vec<String> = sqlx::query_scalar("SELECT user_id FROM memberships WHERE tenant_id = $1")
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
    let with_tenant: Vec<String> = sqlx::query_scalar(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' \
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'tenant_id') ORDER BY m.name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let ordered = tables
        .iter()
        .map(|t| (*t).to_owned())
        .filter(|t| with_tenant.contains(t))
        .chain(with_tenant.iter().cloned());
    let mut rows = serde_json::Map::new();
    for table in ordered {
        if rows.contains_key(&table) {
            continue;
        }
        // A table name from the app's static definitions or the catalogue,
        // quoted; the tenant bound.
        let sql = format!("DELETE FROM {} WHERE tenant_id = $1", quote_ident(&table));
        let n = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        rows.insert(table, n.into());
    }
    sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    rows.insert("tenants".into(), 1.into());
    let mut accounts = 0u64;
    for user in &members {
        accounts += sqlx::query(
            "DELETE FROM users WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $1)",
        )
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    rows.insert("users".into(), accounts.into());
    sqlx::query(
        "INSERT INTO rookery_tenant_erasures (erased_tenant_id, requested_at, erased_at, row_counts) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(&requested)
    .bind(&now)
    .bind(serde_json::Value::Object(rows.clone()).to_string())
    .execute(&mut *conn)
    .await?;
    Ok(Some(Erased { requested_at, rows }))
}

/// The request's columns as PostgreSQL answers them.
type PgRequest = (Option<DateTime<Utc>>, Option<uuid::Uuid>, Option<DateTime<Utc>>);

/// A tenant's pending deletion, as its row keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct Pending {
    /// When it was asked for.
    pub(crate) requested_at: DateTime<Utc>,
    /// Who asked (a user's id).
    pub(crate) requested_by: Option<UserId>,
    /// When the grace period ends.
    pub(crate) erase_after: DateTime<Utc>,
}

impl PlatformTx {
    /// `tenant`'s pending deletion: `None` when no tenant has the id (it
    /// was erased), `Some(None)` when none is pending. `lock` locks its
    /// row (PostgreSQL; SQLite's write transaction holds the database).
    pub(crate) async fn pending_deletion(
        &mut self,
        tenant: TenantId,
        lock: bool,
    ) -> Result<Option<Option<Pending>>, DbError> {
        let row = match self.conn() {
            Conn::Postgres(conn) => {
                let sql = if lock {
                    "SELECT deletion_requested_at, deletion_requested_by, erase_after FROM tenants WHERE id = $1 FOR UPDATE"
                } else {
                    "SELECT deletion_requested_at, deletion_requested_by, erase_after FROM tenants WHERE id = $1"
                };
                let row: Option<PgRequest> = sqlx::query_as(sql).bind(tenant.0).fetch_optional(&mut *conn).await?;
                row.map(|(at, by, after)| at.zip(after).map(|(at, after)| (at, by, after)))
            }
            Conn::Sqlite(conn) => {
                let row: Option<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT deletion_requested_at, deletion_requested_by, erase_after FROM tenants WHERE id = $1",
                )
                .bind(tenant.0.hyphenated().to_string())
                .fetch_optional(&mut *conn)
                .await?;
                match row {
                    None => None,
                    Some((Some(at), by, Some(after))) => Some(Some((
                        parse_instant(&at)?,
                        by.and_then(|b| b.parse().ok()),
                        parse_instant(&after)?,
                    ))),
                    Some(_) => Some(None),
                }
            }
        };
        Ok(row.map(|pending| {
            pending.map(|(requested_at, by, erase_after)| Pending {
                requested_at,
                requested_by: by.map(UserId),
                erase_after,
            })
        }))
    }

    /// Records a deletion of `tenant` asked for by `by` (`None`: the
    /// operator), erased `grace_days` from now (PostgreSQL: by the
    /// database's clock); a pending deletion is kept as it is. The
    /// deletion now pending.
    pub(crate) async fn request_deletion(
        &mut self,
        tenant: TenantId,
        by: Option<UserId>,
        grace_days: u32,
    ) -> Result<Pending, DbError> {
        let days = i32::try_from(grace_days).unwrap_or(i32::MAX);
        match self.conn() {
            Conn::Postgres(conn) => {
                let row: PgRequest = sqlx::query_as(
                    "SELECT o_requested_at, o_requested_by, o_erase_after FROM rookery_request_deletion($1, $2, $3)",
                )
                .bind(tenant.0)
                .bind(by.map(|b| b.0))
                .bind(days)
                .fetch_one(conn)
                .await?;
                match row {
                    (Some(requested_at), requested_by, Some(erase_after)) => Ok(Pending {
                        requested_at,
                        requested_by: requested_by.map(UserId),
                        erase_after,
                    }),
                    _ => Err(DbError::Sqlx(sqlx::Error::RowNotFound)),
                }
            }
            Conn::Sqlite(conn) => {
                // Stored to the microsecond: answered as stored.
                let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
                let erase_after = now + chrono::Duration::days(i64::from(grace_days));
                sqlx::query(
                    "UPDATE tenants SET deletion_requested_at = $2, deletion_requested_by = $3, erase_after = $4 \
                     WHERE id = $1 AND erase_after IS NULL",
                )
                .bind(tenant.0.hyphenated().to_string())
                .bind(format_datetime(now))
                .bind(by.map(|b| b.0.hyphenated().to_string()))
                .bind(format_datetime(erase_after))
                .execute(conn)
                .await?;
                Ok(Pending {
                    requested_at: now,
                    requested_by: by,
                    erase_after,
                })
            }
        }
    }

    /// Clears `tenant`'s pending deletion; whether there was one.
    pub(crate) async fn cancel_deletion(&mut self, tenant: TenantId) -> Result<bool, DbError> {
        match self.conn() {
            Conn::Postgres(conn) => Ok(sqlx::query_scalar("SELECT rookery_cancel_deletion($1)")
                .bind(tenant.0)
                .fetch_one(conn)
                .await?),
            Conn::Sqlite(conn) => Ok(sqlx::query(
                "UPDATE tenants SET deletion_requested_at = NULL, deletion_requested_by = NULL, erase_after = NULL \
                 WHERE id = $1 AND erase_after IS NOT NULL",
            )
            .bind(tenant.0.hyphenated().to_string())
            .execute(conn)
            .await?
            .rows_affected()
                > 0),
        }
    }

    /// The tenants whose deletion is due at `now`, at most `limit`.
    pub(crate) async fn due_deletions(&mut self, now: DateTime<Utc>, limit: i64) -> Result<Vec<TenantId>, DbError> {
        let sql =
            "SELECT id FROM tenants WHERE erase_after IS NOT NULL AND erase_after <= $1 ORDER BY erase_after LIMIT $2";
        let ids: Vec<uuid::Uuid> = match self.conn() {
            Conn::Postgres(conn) => sqlx::query_scalar(sql).bind(now).bind(limit).fetch_all(conn).await?,
            Conn::Sqlite(conn) => {
                let rows: Vec<String> = sqlx::query_scalar(sql)
                    .bind(format_datetime(now))
                    .bind(limit)
                    .fetch_all(conn)
                    .await?;
                rows.iter().filter_map(|r| r.parse().ok()).collect()
            }
        };
        Ok(ids.into_iter().map(TenantId).collect())
    }

    /// Erases `user`'s personal data: the mail addressed to them and the
    /// invitations to their address (in every tenant) deleted, their email
    /// replaced by [`erased_email`], their password hash removed; whether
    /// the account was not erased already. On PostgreSQL the transaction
    /// must name the user first ([`PlatformTx::as_user`]).
    pub(crate) async fn erase_account(&mut self, user: UserId) -> Result<bool, DbError> {
        let email = erased_email(user);
        match self.conn() {
            Conn::Postgres(conn) => Ok(sqlx::query_scalar("SELECT rookery_erase_user($1, $2)")
                .bind(user.0)
                .bind(email)
                .fetch_one(conn)
                .await?),
            Conn::Sqlite(conn) => {
                let id = user.0.hyphenated().to_string();
                let old: Option<String> =
                    sqlx::query_scalar("SELECT lower(email) FROM users WHERE id = $1 AND erased_at IS NULL")
                        .bind(&id)
                        .fetch_optional(&mut *conn)
                        .await?;
                let Some(old) = old else { return Ok(false) };
                sqlx::query("DELETE FROM rookery_mail WHERE lower(to_address) = $1")
                    .bind(&old)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("DELETE FROM invitations WHERE lower(email) = $1")
                    .bind(&old)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("UPDATE users SET email = $2, password_hash = NULL, erased_at = $3 WHERE id = $1")
                    .bind(&id)
                    .bind(email)
                    .bind(format_datetime(Utc::now()))
                    .execute(&mut *conn)
                    .await?;
                Ok(true)
            }
        }
    }
}

/// The record an erasure kept.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub(crate) struct ErasureRecord {
    /// When the deletion was asked for.
    pub(crate) requested_at: DateTime<Utc>,
    /// When the tenant was erased.
    pub(crate) erased_at: DateTime<Utc>,
    /// Rows deleted, by table.
    pub(crate) rows: serde_json::Value,
}

impl super::Db {
    /// The record of erased tenant `tenant`, if it was erased.
    pub(crate) async fn erasure_record(&self, tenant: TenantId) -> Result<Option<ErasureRecord>, DbError> {
        let sql = "SELECT requested_at, erased_at, row_counts FROM rookery_tenant_erasures WHERE erased_tenant_id = $1";
        if let Some(pool) = self.pg() {
            let row: Option<(DateTime<Utc>, DateTime<Utc>, sqlx::types::Json<serde_json::Value>)> =
                sqlx::query_as(sql).bind(tenant.0).fetch_optional(pool).await?;
            return Ok(row.map(|(requested_at, erased_at, rows)| ErasureRecord {
                requested_at,
                erased_at,
                rows: rows.0,
            }));
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let row: Option<(String, String, String)> = sqlx::query_as(sql)
            .bind(tenant.0.hyphenated().to_string())
            .fetch_optional(pool)
            .await?;
        row.map(|(requested, erased, rows)| {
            Ok(ErasureRecord {
                requested_at: parse_instant(&requested)?,
                erased_at: parse_instant(&erased)?,
                rows: serde_json::from_str(&rows).map_err(|e| DbError::Sqlx(sqlx::Error::Decode(e.into())))?,
            })
        })
        .transpose()
    }
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, DbError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| DbError::Sqlx(sqlx::Error::Decode(e.into())))
}
