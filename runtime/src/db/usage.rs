//! The usage tables' storage (platform tables, version 7): per tenant and
//! UTC day, `rookery_usage_days` (requests), `rookery_usage_members` (who
//! made them) and `rookery_usage_rows` (rows per model). The `usage`
//! module counts on top.
//!
//! Every write is a statement of the tenant's own transaction, `$1` its
//! tenant (row-level security forced on PostgreSQL). The operator's report
//! across tenants ([`Db::usage`]) is the owner's: on PostgreSQL a function
//! only the tables' owner may call, which reads each tenant under that
//! tenant's setting, since `FORCE` confines the owner too.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use sqlx::Row as _;
use uuid::Uuid;

use super::tx::{TenantTx, Writing};
use super::{Db, DbError, Dialect, quote_ident};
use crate::model::{ModelDef, TenantId, UserId};

/// Which usage [`Db::usage`] reads: the UTC days `from` to `to`, both
/// included, of every tenant or of one.
///
/// ```
/// let week = rookery::db::UsageQuery::last_days(7);
/// assert_eq!((week.to - week.from).num_days(), 6);
/// assert_eq!(week.tenant, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageQuery {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
    /// Only this tenant's usage; `None`: every tenant's.
    pub tenant: Option<TenantId>,
}

impl UsageQuery {
    /// Today (UTC) and the `days - 1` days before it, every tenant (at
    /// least today).
    pub fn last_days(days: u32) -> Self {
        let to = Utc::now().date_naive();
        let back = chrono::Days::new(u64::from(days.max(1) - 1));
        Self {
            from: to.checked_sub_days(back).unwrap_or(NaiveDate::MIN),
            to,
            tenant: None,
        }
    }

    /// The same days, of `tenant` only.
    pub fn tenant(self, tenant: TenantId) -> Self {
        Self {
            tenant: Some(tenant),
            ..self
        }
    }
}

/// One tenant's usage on one UTC day, as [`Db::usage`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UsageDay {
    /// The day (UTC).
    pub day: NaiveDate,
    /// The tenant.
    pub tenant: TenantId,
    /// Its slug.
    pub slug: String,
    /// API requests it made that day, authenticated and admitted by its
    /// rate limit; written about once a minute by each serving process.
    pub requests: u64,
    /// Members who made at least one of them with an access token.
    pub active_members: u64,
    /// Rows per model (by the model's name) when the day's count ran;
    /// empty until it has.
    pub rows: BTreeMap<String, u64>,
}

impl TenantTx<Writing> {
    /// Adds `requests` on `day` to this tenant's count and records
    /// `members` as active that day (once each, whatever was there).
    pub(crate) async fn add_usage(&mut self, day: NaiveDate, requests: u64, members: &[UserId]) -> Result<(), DbError> {
        self.sql(
            "INSERT INTO rookery_usage_days (tenant_id, day, requests) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, day) DO UPDATE SET requests = rookery_usage_days.requests + excluded.requests",
        )
        .bind(day)
        .bind(i64::try_from(requests).unwrap_or(i64::MAX))
        .execute()
        .await?;
        if members.is_empty() {
            return Ok(());
        }
        // One statement for every member, their ids as one JSON array.
        let ids: serde_json::Value = members.iter().map(|u| u.0.hyphenated().to_string()).collect();
        let sql = match self.dialect() {
            Dialect::Postgres => {
                "INSERT INTO rookery_usage_members (tenant_id, day, user_id) \
                 SELECT $1, $2, u.value::uuid FROM jsonb_array_elements_text($3) u WHERE true \
                 ON CONFLICT (tenant_id, day, user_id) DO NOTHING"
            }
            Dialect::Sqlite => {
                "INSERT INTO rookery_usage_members (tenant_id, day, user_id) \
                 SELECT $1, $2, u.value FROM json_each($3) u WHERE true \
                 ON CONFLICT (tenant_id, day, user_id) DO NOTHING"
            }
        };
        self.sql(sql).bind(day).bind(ids).execute().await?;
        Ok(())
    }

    /// Counts this tenant's rows of `model` and records the count as the
    /// one of `day`, replacing an earlier count of that day.
    pub(crate) async fn record_rows(&mut self, day: NaiveDate, model: &ModelDef) -> Result<(), DbError> {
        // The table's name comes from the static `ModelDef`, quoted.
        self.sql(format!(
            "INSERT INTO rookery_usage_rows (tenant_id, day, model, row_count) \
             SELECT $1, $2, $3, count(*) FROM {} WHERE tenant_id = $1 \
             ON CONFLICT (tenant_id, day, model) DO UPDATE SET row_count = excluded.row_count",
            quote_ident(model.table)
        ))
        .bind(day)
        .bind(model.name)
        .execute()
        .await?;
        Ok(())
    }

    /// Deletes this tenant's usage of the days before `before`.
    pub(crate) async fn prune_usage(&mut self, before: NaiveDate) -> Result<u64, DbError> {
        let mut pruned = 0;
        for sql in [
            "DELETE FROM rookery_usage_days WHERE tenant_id = $1 AND day < $2",
            "DELETE FROM rookery_usage_members WHERE tenant_id = $1 AND day < $2",
            "DELETE FROM rookery_usage_rows WHERE tenant_id = $1 AND day < $2",
        ] {
            pruned += self.sql(sql).bind(before).execute().await?;
        }
        Ok(pruned)
    }
}

/// The report on SQLite, every tenant in one statement: a (tenant, day)
/// is there when requests or rows were recorded for it.
const SQLITE_REPORT: &str = "WITH keys AS (
    SELECT tenant_id, day FROM rookery_usage_days WHERE day BETWEEN $1 AND $2
    UNION SELECT tenant_id, day FROM rookery_usage_rows WHERE day BETWEEN $1 AND $2)
SELECT k.tenant_id, t.slug, k.day,
    COALESCE((SELECT d.requests FROM rookery_usage_days d WHERE d.tenant_id = k.tenant_id AND d.day = k.day), 0),
    (SELECT count(*) FROM rookery_usage_members m WHERE m.tenant_id = k.tenant_id AND m.day = k.day),
    (SELECT json_group_object(r.model, r.row_count) FROM rookery_usage_rows r
        WHERE r.tenant_id = k.tenant_id AND r.day = k.day)
FROM keys k JOIN tenants t ON t.id = k.tenant_id
WHERE $3 IS NULL OR k.tenant_id = $3
ORDER BY k.day, t.slug";

impl Db {
    /// Usage per tenant and day for the platform's operator, oldest day
    /// first, then by slug: what `<app> usage` prints.
    ///
    /// It reads across tenants, so on PostgreSQL only the tables' owner
    /// may: open the pool as `migrate` does
    /// ([`DbOptions::migrating`](super::DbOptions::migrating) on
    /// `ROOKERY_MIGRATE_DATABASE_URL`); the serving role is refused.
    ///
    /// ```no_run
    /// # async fn f(config: &rookery::config::Config) -> Result<(), rookery::DbError> {
    /// use rookery::db::{Db, DbOptions, UsageQuery};
    /// let owner = Db::connect(&config.migrate_database_url, &DbOptions::migrating()).await?;
    /// for day in owner.usage(&UsageQuery::last_days(7)).await? {
    ///     println!("{} {} {} requests, {} members", day.day, day.slug, day.requests, day.active_members);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageDay>, DbError> {
        let mut days = if let Some(pool) = self.pg() {
            let rows = sqlx::query("SELECT * FROM rookery_usage_report($1, $2, $3)")
                .bind(query.from)
                .bind(query.to)
                .bind(query.tenant.map(|t| t.0))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let rows: sqlx::types::Json<BTreeMap<String, i64>> = r.try_get(5)?;
                    Ok(usage_day(
                        r.try_get(2)?,
                        TenantId(r.try_get(0)?),
                        r.try_get(1)?,
                        (r.try_get(3)?, r.try_get(4)?),
                        rows.0,
                    ))
                })
                .collect::<Result<Vec<_>, DbError>>()?
        } else {
            let pool = self.sqlite().expect("a Db always holds one pool");
            let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
            let rows = sqlx::query(SQLITE_REPORT)
                .bind(day(query.from))
                .bind(day(query.to))
                .bind(query.tenant.map(|t| t.0.hyphenated().to_string()))
                .fetch_all(pool)
                .await?;
            rows.iter().map(sqlite_day).collect::<Result<Vec<_>, DbError>>()?
        };
        days.sort_by(|a, b| (a.day, &a.slug).cmp(&(b.day, &b.slug)));
        Ok(days)
    }

    /// The tenant whose slug is `slug` (the operator's `--tenant`).
    /// Every tenant's id and slug, by slug.
    pub(crate) async fn tenant_slugs(&self) -> Result<Vec<(TenantId, String)>, DbError> {
        const SQL: &str = "SELECT id, slug FROM tenants ORDER BY slug";
        if let Some(pool) = self.pg() {
            let rows: Vec<(Uuid, String)> = sqlx::query_as(SQL).fetch_all(pool).await?;
            return Ok(rows.into_iter().map(|(id, slug)| (TenantId(id), slug)).collect());
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let rows: Vec<(String, String)> = sqlx::query_as(SQL).fetch_all(pool).await?;
        rows.into_iter()
            .map(|(id, slug)| Ok((TenantId(Uuid::parse_str(&id).map_err(|e| decode(e.into()))?), slug)))
            .collect()
    }

    pub(crate) async fn tenant_by_slug(&self, slug: &str) -> Result<Option<TenantId>, DbError> {
        const SQL: &str = "SELECT id FROM tenants WHERE slug = $1";
        if let Some(pool) = self.pg() {
            let id: Option<Uuid> = sqlx::query_scalar(SQL).bind(slug).fetch_optional(pool).await?;
            return Ok(id.map(TenantId));
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let id: Option<String> = sqlx::query_scalar(SQL).bind(slug).fetch_optional(pool).await?;
        id.map(|id| Uuid::parse_str(&id).map(TenantId).map_err(|e| decode(e.into())))
            .transpose()
    }
}

fn decode(e: Box<dyn std::error::Error + Send + Sync>) -> DbError {
    DbError::Sqlx(sqlx::Error::Decode(e))
}

fn usage_day(
    day: NaiveDate,
    tenant: TenantId,
    slug: String,
    (requests, members): (i64, i64),
    rows: BTreeMap<String, i64>,
) -> UsageDay {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    UsageDay {
        day,
        tenant,
        slug,
        requests: count(requests),
        active_members: count(members),
        rows: rows.into_iter().map(|(model, n)| (model, count(n))).collect(),
    }
}

fn sqlite_day(r: &sqlx::sqlite::SqliteRow) -> Result<UsageDay, DbError> {
    let tenant = Uuid::parse_str(&r.try_get::<String, _>(0)?).map_err(|e| decode(e.into()))?;
    let day = NaiveDate::parse_from_str(&r.try_get::<String, _>(2)?, "%Y-%m-%d").map_err(|e| decode(e.into()))?;
    let rows: Option<String> = r.try_get(5)?;
    let rows: BTreeMap<String, i64> = match rows {
        Some(json) => serde_json::from_str(&json).map_err(|e| decode(e.into()))?,
        None => BTreeMap::new(),
    };
    Ok(usage_day(
        day,
        TenantId(tenant),
        r.try_get(1)?,
        (r.try_get(3)?, r.try_get(4)?),
        rows,
    ))
}

/// The usage tables' privileges and the operator's report on PostgreSQL
/// (`{schema}` and `{role}` quoted), applied by every `migrate` once the
/// tables exist. The serving role adds to its tenants' counts, replaces
/// their row counts and prunes them (row-level security confines each to
/// the transaction's tenant); it may not call the report.
///
/// The report runs as the owner, whom `FORCE` row-level security confines
/// to the transaction's tenant like everyone else: it sets each tenant in
/// turn (transaction-locally) and reads that tenant's rows only.
pub(super) const FUNCTIONS: &str = r"
REVOKE ALL ON rookery_usage_days, rookery_usage_members, rookery_usage_rows FROM {role};
GRANT SELECT, INSERT, DELETE ON rookery_usage_days, rookery_usage_members, rookery_usage_rows TO {role};
GRANT UPDATE (requests) ON rookery_usage_days TO {role};
GRANT UPDATE (row_count) ON rookery_usage_rows TO {role};

CREATE OR REPLACE FUNCTION rookery_usage_report(p_from date, p_to date, p_tenant uuid)
RETURNS TABLE (tenant_id uuid, slug text, day date, requests bigint, active_members bigint, row_counts jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp SET row_security = on AS $rookery$
#variable_conflict use_column
DECLARE
    t record;
BEGIN
    FOR t IN SELECT te.id, te.slug FROM tenants te WHERE p_tenant IS NULL OR te.id = p_tenant ORDER BY te.slug LOOP
        PERFORM set_config('app.tenant_id', t.id::text, true);
        RETURN QUERY
            WITH keys AS (
                SELECT d.day FROM rookery_usage_days d WHERE d.tenant_id = t.id AND d.day BETWEEN p_from AND p_to
                UNION SELECT r.day FROM rookery_usage_rows r WHERE r.tenant_id = t.id AND r.day BETWEEN p_from AND p_to)
            SELECT t.id, t.slug, k.day,
                COALESCE((SELECT d.requests FROM rookery_usage_days d WHERE d.tenant_id = t.id AND d.day = k.day), 0),
                (SELECT count(*) FROM rookery_usage_members m WHERE m.tenant_id = t.id AND m.day = k.day),
                COALESCE((SELECT jsonb_object_agg(r.model, r.row_count) FROM rookery_usage_rows r
                          WHERE r.tenant_id = t.id AND r.day = k.day), '{}'::jsonb)
            FROM keys k;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END
$rookery$;
REVOKE ALL ON FUNCTION rookery_usage_report(date, date, uuid) FROM PUBLIC;
";
