//! Erasing every row of a tenant whose deletion is due: the owner's
//! function on PostgreSQL (`functions.sql`), the same steps on SQLite.

use chrono::{DateTime, Utc};

use super::super::bind::format_datetime;
use super::super::tx::Conn;
use super::super::{DbError, PlatformTx, quote_ident};
use crate::model::TenantId;

/// What an erasure left behind: the record kept of it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub(crate) struct Erased {
    /// When the deletion was asked for.
    pub(crate) requested_at: DateTime<Utc>,
    /// Rows deleted, by table (`users`: the accounts deleted with it).
    pub(crate) rows: serde_json::Map<String, serde_json::Value>,
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
