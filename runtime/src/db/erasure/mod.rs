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

mod account;
mod erase;

use chrono::{DateTime, Utc};

pub(crate) use erase::Erased;

use super::bind::format_datetime;
use super::tx::Conn;
use super::{DbError, PlatformTx};
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
    "rookery_roles",
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
pub(in crate::db) const FUNCTIONS: &str = include_str!("functions.sql");

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
                let now = crate::db::now();
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
