//! The platform scope's audit: the `rookery_platform_audit` table
//! (platform tables, version 6). Every piece of cross-tenant work the
//! platform does leaves a row naming who did it (`job rookery.fan_out
//! <id>`), what (`schedule.fan_out`) and its facts (the job, the
//! occurrence, how many jobs it added): a schedule fanned out to every
//! tenant (in the fan-out's own transaction), a prune across tenants, and
//! each transaction a platform job opens in the platform scope (in that
//! transaction, so the row exists if and only if the work committed).
//!
//! No tenant owns a row, so there is no row-level security to lean on: on
//! PostgreSQL the serving role holds `INSERT` on the table and nothing
//! else, so the app can append and never read, change or delete the log.
//! The operator reads it as the tables' owner (`<app> platform-audit`);
//! rows are kept 400 days (the daily prune of done jobs removes older
//! ones, on PostgreSQL through the owner's function).

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use uuid::Uuid;

use super::bind::format_datetime;
use super::tx::Conn;
use super::{Db, DbError, PlatformTx};

/// One row of the platform's audit.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformAuditRow {
    /// When.
    pub at: DateTime<Utc>,
    /// Who: `job <name> <id>` for a job.
    pub actor: String,
    /// What: `schedule.fan_out`, `jobs.prune`, `platform_scope.open`, ….
    pub action: String,
    /// Its facts (counts, the job and the occurrence; never a tenant's data).
    pub detail: serde_json::Value,
}

/// The serving role's privileges on the table (`migrate` applies them
/// once the table exists): append only.
pub(super) const FUNCTIONS: &str = r"
REVOKE ALL ON rookery_platform_audit FROM {role};
GRANT INSERT ON rookery_platform_audit TO {role};

CREATE OR REPLACE FUNCTION rookery_platform_audit_prune(p_before timestamptz)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    WITH gone AS (DELETE FROM rookery_platform_audit WHERE at < p_before RETURNING 1)
    SELECT count(*) FROM gone
$rookery$;
REVOKE ALL ON FUNCTION rookery_platform_audit_prune(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_platform_audit_prune(timestamptz) TO {role};
";

/// How long the platform's audit keeps a row.
pub(crate) const RETENTION: chrono::Duration = chrono::Duration::days(400);

const INSERT: &str = "INSERT INTO rookery_platform_audit (id, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)";

pub(super) async fn record(
    conn: Conn<'_>,
    actor: &str,
    action: &str,
    detail: &serde_json::Value,
) -> Result<(), DbError> {
    let (id, at) = (Uuid::now_v7(), Utc::now());
    match conn {
        Conn::Postgres(conn) => {
            sqlx::query(INSERT)
                .bind(id)
                .bind(at)
                .bind(actor)
                .bind(action)
                .bind(sqlx::types::Json(detail))
                .execute(conn)
                .await?;
        }
        Conn::Sqlite(conn) => {
            sqlx::query(INSERT)
                .bind(id.hyphenated().to_string())
                .bind(format_datetime(at))
                .bind(actor)
                .bind(action)
                .bind(detail.to_string())
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

impl PlatformTx {
    /// Records `action` by `actor` in the platform's audit, in this
    /// transaction.
    pub(crate) async fn audit_platform(
        &mut self,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<(), DbError> {
        record(self.conn(), actor, action, detail).await
    }
}

impl Db {
    /// Records `action` by `actor` in the platform's audit, committed at once.
    pub(crate) async fn audit_platform(
        &self,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<(), DbError> {
        let mut tx = self.begin_platform().await?;
        tx.audit_platform(actor, action, detail).await?;
        tx.commit().await
    }

    /// Deletes the platform's audit rows older than [`RETENTION`] (the
    /// daily prune of done jobs calls it; on PostgreSQL through the owner's
    /// function: the serving role cannot delete a row itself). Returns how
    /// many.
    pub(crate) async fn prune_platform_audit(&self) -> Result<u64, DbError> {
        let before = Utc::now() - RETENTION;
        if let Some(pool) = self.pg() {
            let n: i64 = sqlx::query_scalar("SELECT rookery_platform_audit_prune($1)")
                .bind(before)
                .fetch_one(pool)
                .await?;
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        Ok(sqlx::query("DELETE FROM rookery_platform_audit WHERE at < $1")
            .bind(format_datetime(before))
            .execute(pool)
            .await?
            .rows_affected())
    }

    /// The platform's audit, newest first: the operator's view, on a pool
    /// of the tables' owner (the serving role may not read it).
    pub async fn platform_audit(&self, limit: u32) -> Result<Vec<PlatformAuditRow>, DbError> {
        let sql = "SELECT at, actor, action, detail FROM rookery_platform_audit ORDER BY at DESC, id DESC LIMIT $1";
        if let Some(pool) = self.pg() {
            let rows = sqlx::query(sql).bind(i64::from(limit)).fetch_all(pool).await?;
            return rows
                .iter()
                .map(|r| {
                    Ok(PlatformAuditRow {
                        at: r.try_get(0)?,
                        actor: r.try_get(1)?,
                        action: r.try_get(2)?,
                        detail: r.try_get::<sqlx::types::Json<serde_json::Value>, _>(3)?.0,
                    })
                })
                .collect();
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let rows = sqlx::query(sql).bind(i64::from(limit)).fetch_all(pool).await?;
        rows.iter()
            .map(|r| {
                let decode = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Sqlx(sqlx::Error::Decode(e));
                let at: String = r.try_get(0)?;
                let detail: String = r.try_get(3)?;
                Ok(PlatformAuditRow {
                    at: DateTime::parse_from_rfc3339(&at)
                        .map_err(|e| decode(e.into()))?
                        .with_timezone(&Utc),
                    actor: r.try_get(1)?,
                    action: r.try_get(2)?,
                    detail: serde_json::from_str(&detail).map_err(|e| decode(e.into()))?,
                })
            })
            .collect()
    }
}
