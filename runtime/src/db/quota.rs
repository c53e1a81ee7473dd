//! The rate quotas' storage (platform tables, version 9):
//! `rookery_quota_windows`, per tenant, quota and window (its start), the
//! calls reserved so far. The `quota` module reserves and spends on top.
//!
//! Every statement is one statement of the tenant's own transaction, `$1`
//! its tenant (row-level security forced on PostgreSQL): a reservation is
//! one conditional increment, committed on its own (never inside a
//! request's transaction, so no request waits on another's row lock for
//! longer than that statement).

use chrono::{DateTime, Utc};

use super::tx::{Mode, TenantTx, Writes};
use super::{Db, DbError};
use crate::model::TenantId;

/// Adds `$4` calls to the window's count, unless that would pass the
/// limit `$5`: the new count, or no row (nothing changed). The caller
/// never asks for more than the limit, so the first reservation of a
/// window (the insert) cannot pass it either.
const RESERVE: &str = "INSERT INTO rookery_quota_windows (tenant_id, quota, window_start, used) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (tenant_id, quota, window_start) DO UPDATE SET used = rookery_quota_windows.used + excluded.used \
     WHERE rookery_quota_windows.used + excluded.used <= $5 \
     RETURNING used";

/// Gives back `$4` reserved calls that were not spent.
const RELEASE: &str = "UPDATE rookery_quota_windows SET used = used - $4 \
     WHERE tenant_id = $1 AND quota = $2 AND window_start = $3 AND used >= $4";

/// The window's count (no row: nothing reserved yet).
const USED: &str = "SELECT used FROM rookery_quota_windows WHERE tenant_id = $1 AND quota = $2 AND window_start = $3";

/// Windows that started before `$2`.
const PRUNE: &str = "DELETE FROM rookery_quota_windows WHERE tenant_id = $1 AND window_start < $2";

/// The serving role's privileges (PostgreSQL): read, reserve, give back and
/// prune; never rename a window or move it to another quota.
pub(super) const GRANTS: &str = "
REVOKE ALL ON rookery_quota_windows FROM {role};
GRANT SELECT, INSERT, DELETE ON rookery_quota_windows TO {role};
GRANT UPDATE (used) ON rookery_quota_windows TO {role};
";

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Db {
    /// Reserves `calls` (at least 1, at most `limit`) of `tenant`'s quota
    /// `quota` in the window starting at `window`, in one statement that
    /// commits on its own: the window's count after it, or `None` when
    /// the reservation would pass `limit` (nothing reserved).
    pub(crate) async fn reserve_quota(
        &self,
        tenant: TenantId,
        quota: &str,
        window: DateTime<Utc>,
        calls: u64,
        limit: u64,
    ) -> Result<Option<u64>, DbError> {
        let mut tx = self.begin_write_one(tenant).await?;
        let used: Option<(i64,)> = tx
            .sql(RESERVE)
            .bind(quota)
            .bind(window)
            .bind(count(calls))
            .bind(count(limit))
            .fetch_optional()
            .await?;
        tx.commit().await?;
        Ok(used.map(|(n,)| u64::try_from(n).unwrap_or(0)))
    }

    /// Gives back `calls` reserved calls of the window starting at
    /// `window` that were not spent.
    pub(crate) async fn release_quota(
        &self,
        tenant: TenantId,
        quota: &str,
        window: DateTime<Utc>,
        calls: u64,
    ) -> Result<(), DbError> {
        let mut tx = self.begin_write_one(tenant).await?;
        tx.sql(RELEASE)
            .bind(quota)
            .bind(window)
            .bind(count(calls))
            .execute()
            .await?;
        tx.commit().await
    }
}

impl<M: Mode> TenantTx<M> {
    /// The calls reserved so far in this tenant's window of `quota`
    /// starting at `window` (0 before the first).
    pub(crate) async fn quota_used(&mut self, quota: &str, window: DateTime<Utc>) -> Result<u64, DbError> {
        let used: Option<(i64,)> = self.sql(USED).bind(quota).bind(window).fetch_optional().await?;
        Ok(used.map_or(0, |(n,)| u64::try_from(n).unwrap_or(0)))
    }
}

impl<M: Writes> TenantTx<M> {
    /// Deletes this tenant's quota windows that started before `before`.
    pub(crate) async fn prune_quota_windows(&mut self, before: DateTime<Utc>) -> Result<u64, DbError> {
        self.sql(PRUNE).bind(before).execute().await
    }
}
