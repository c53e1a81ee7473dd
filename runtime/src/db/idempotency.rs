//! Safe retries at the database level: the keys of `Idempotency-Key`
//! requests (`rookery_idempotency_keys`, platform tables version 3) and
//! the mark a request's write sets on its key in the write's own
//! transaction.
//!
//! The HTTP layer claims a key before the handler runs and runs the
//! handler inside [`scope`] with the claim ([`Claim`]). Every writing
//! transaction of that tenant the handler commits first marks the key
//! `committed` *in that transaction*, guarded by the claim's attempt: the
//! write commits if and only if its key says so. A retry that finds the
//! key `started` and stale (its first attempt died before committing)
//! takes it over with the next attempt number; a late commit of the first
//! attempt then marks nothing and rolls back
//! ([`DbError::IdempotencyTakenOver`]). So a key's writes commit once.
//!
//! A one-statement write ([`Db::begin_write_one`]) becomes an explicit
//! transaction inside a scope, so that it can carry the mark.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::bind::format_datetime;
use super::tx::Conn;
use super::{Db, DbError};
use crate::model::TenantId;

tokio::task_local! {
    static CLAIM: Claim;
}

/// A request's hold on its key: the attempt that may commit under it.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub(crate) tenant: TenantId,
    pub(crate) key: Arc<str>,
    pub(crate) attempt: i32,
}

/// Runs `f` (the handler) under `claim`.
pub(crate) async fn scope<F: Future>(claim: Claim, f: F) -> F::Output {
    CLAIM.scope(claim, f).await
}

/// The claim of the running request when it is for `tenant`.
pub(super) fn claim_for(tenant: TenantId) -> Option<Claim> {
    CLAIM
        .try_with(|c| (c.tenant == tenant).then(|| c.clone()))
        .ok()
        .flatten()
}

/// Marks the claim's key committed in the transaction on `conn` (about to
/// commit); refuses when another attempt took the key over.
pub(super) async fn mark(conn: Conn<'_>, claim: &Claim) -> Result<(), DbError> {
    let sql = "UPDATE rookery_idempotency_keys SET state = 'committed', updated_at = $4
               WHERE tenant_id = $1 AND key = $2 AND attempt = $3 AND state IN ('started', 'committed')";
    let now = Utc::now();
    let marked = match conn {
        Conn::Postgres(c) => sqlx::query(sql)
            .bind(claim.tenant.0)
            .bind(&*claim.key)
            .bind(claim.attempt)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected(),
        Conn::Sqlite(c) => sqlx::query(sql)
            .bind(claim.tenant.0.hyphenated().to_string())
            .bind(&*claim.key)
            .bind(claim.attempt)
            .bind(format_datetime(now))
            .execute(c)
            .await?
            .rows_affected(),
    };
    if marked == 1 {
        Ok(())
    } else {
        Err(DbError::IdempotencyTakenOver)
    }
}

/// A key as stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredKey {
    pub(crate) fingerprint: Vec<u8>,
    pub(crate) attempt: i32,
    /// `started`, `committed` or `done`.
    pub(crate) state: String,
    pub(crate) response: Option<StoredResponse>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// The first response of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredResponse {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// How a claim went.
#[derive(Debug, Clone)]
pub(crate) enum Claimed {
    /// The key is this request's, at `attempt`.
    Fresh { attempt: i32 },
    /// The key was there (and is locked until this transaction ends, on
    /// PostgreSQL): the caller decides, then [`Db::take_over_key`] or not.
    Existing(StoredKey),
}

const SELECT: &str = "SELECT fingerprint, attempt, state, response_status, response_type, response_location,
                             response_body, updated_at
                      FROM rookery_idempotency_keys WHERE tenant_id = $1 AND key = $2";

impl Db {
    /// Claims `key` of `tenant` for a request with `fingerprint`, or reads
    /// the key as it is. Keys older than `expired_before` count as absent
    /// (and are replaced).
    pub(crate) async fn claim_key(
        &self,
        tenant: TenantId,
        key: &str,
        fingerprint: &[u8],
        expired_before: DateTime<Utc>,
        take_over_before: DateTime<Utc>,
    ) -> Result<Claimed, DbError> {
        let mut tx = self.begin_write(tenant).await?;
        let now = Utc::now();
        let claimed = match tx.conn() {
            Conn::Postgres(c) => {
                let t = tenant.0;
                sqlx::query(
                    "DELETE FROM rookery_idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at < $3",
                )
                .bind(t)
                .bind(key)
                .bind(expired_before)
                .execute(&mut *c)
                .await?;
                let inserted = sqlx::query(
                    "INSERT INTO rookery_idempotency_keys (tenant_id, key, fingerprint, attempt, state, created_at, updated_at)
                     VALUES ($1, $2, $3, 1, 'started', $4, $4) ON CONFLICT (tenant_id, key) DO NOTHING",
                )
                .bind(t)
                .bind(key)
                .bind(fingerprint)
                .bind(now)
                .execute(&mut *c)
                .await?
                .rows_affected();
                if inserted == 1 {
                    Claimed::Fresh { attempt: 1 }
                } else {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} FOR UPDATE")))
                        .bind(t)
                        .bind(key)
                        .fetch_one(&mut *c)
                        .await?;
                    let stored = StoredKey {
                        fingerprint: row.try_get(0)?,
                        attempt: row.try_get(1)?,
                        state: row.try_get(2)?,
                        response: stored_response(
                            row.try_get::<Option<i32>, _>(3)?.map(i64::from),
                            row.try_get(4)?,
                            row.try_get(5)?,
                            row.try_get(6)?,
                        ),
                        updated_at: row.try_get(7)?,
                    };
                    take_over_or_keep(
                        &mut Conn::Postgres(c),
                        tenant,
                        key,
                        fingerprint,
                        stored,
                        take_over_before,
                    )
                    .await?
                }
            }
            Conn::Sqlite(c) => {
                let t = tenant.0.hyphenated().to_string();
                sqlx::query(
                    "DELETE FROM rookery_idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at < $3",
                )
                .bind(&t)
                .bind(key)
                .bind(format_datetime(expired_before))
                .execute(&mut *c)
                .await?;
                let inserted = sqlx::query(
                    "INSERT INTO rookery_idempotency_keys (tenant_id, key, fingerprint, attempt, state, created_at, updated_at)
                     VALUES ($1, $2, $3, 1, 'started', $4, $4) ON CONFLICT (tenant_id, key) DO NOTHING",
                )
                .bind(&t)
                .bind(key)
                .bind(fingerprint)
                .bind(format_datetime(now))
                .execute(&mut *c)
                .await?
                .rows_affected();
                if inserted == 1 {
                    Claimed::Fresh { attempt: 1 }
                } else {
                    let row = sqlx::query(SELECT).bind(&t).bind(key).fetch_one(&mut *c).await?;
                    let updated: String = row.try_get(7)?;
                    let stored = StoredKey {
                        fingerprint: row.try_get(0)?,
                        attempt: row.try_get(1)?,
                        state: row.try_get(2)?,
                        response: stored_response(row.try_get(3)?, row.try_get(4)?, row.try_get(5)?, row.try_get(6)?),
                        updated_at: DateTime::parse_from_rfc3339(&updated)
                            .map(|d| d.with_timezone(&Utc))
                            .map_err(|e| DbError::Sqlx(sqlx::Error::Decode(e.into())))?,
                    };
                    take_over_or_keep(&mut Conn::Sqlite(c), tenant, key, fingerprint, stored, take_over_before).await?
                }
            }
        };
        tx.commit().await?;
        Ok(claimed)
    }

    /// Stores the first response of `key` (attempt `attempt`), or, with
    /// `None`, lets the key go when nothing committed under it (a failure
    /// worth retrying from scratch).
    pub(crate) async fn finish_key(
        &self,
        tenant: TenantId,
        key: &str,
        attempt: i32,
        response: Option<&StoredResponse>,
    ) -> Result<(), DbError> {
        let mut tx = self.begin_write(tenant).await?;
        let now = Utc::now();
        macro_rules! run {
            ($c:expr, $t:expr, $now:expr) => {
                match response {
                    Some(r) => sqlx::query(
                        "UPDATE rookery_idempotency_keys SET state = 'done', response_status = $4, response_type = $5,
                             response_location = $6, response_body = $7, updated_at = $8
                         WHERE tenant_id = $1 AND key = $2 AND attempt = $3",
                    )
                    .bind($t)
                    .bind(key)
                    .bind(attempt)
                    .bind(i32::from(r.status))
                    .bind(r.content_type.as_deref())
                    .bind(r.location.as_deref())
                    .bind(&r.body)
                    .bind($now)
                    .execute($c)
                    .await?
                    .rows_affected(),
                    None => sqlx::query(
                        "DELETE FROM rookery_idempotency_keys WHERE tenant_id = $1 AND key = $2 AND attempt = $3 AND state = 'started'",
                    )
                    .bind($t)
                    .bind(key)
                    .bind(attempt)
                    .execute($c)
                    .await?
                    .rows_affected(),
                }
            };
        }
        match tx.conn() {
            Conn::Postgres(c) => run!(c, tenant.0, now),
            Conn::Sqlite(c) => run!(c, tenant.0.hyphenated().to_string(), format_datetime(now)),
        };
        tx.commit().await
    }
}

fn stored_response(
    status: Option<i64>,
    content_type: Option<String>,
    location: Option<String>,
    body: Option<Vec<u8>>,
) -> Option<StoredResponse> {
    Some(StoredResponse {
        status: u16::try_from(status?).ok()?,
        content_type,
        location,
        body: body.unwrap_or_default(),
    })
}

/// A `started` key whose last attempt is older than `take_over_before`
/// died before it committed: the next attempt of the same request takes
/// it over.
async fn take_over_or_keep(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    key: &str,
    fingerprint: &[u8],
    stored: StoredKey,
    take_over_before: DateTime<Utc>,
) -> Result<Claimed, DbError> {
    if stored.state != "started" || stored.updated_at >= take_over_before || stored.fingerprint != fingerprint {
        return Ok(Claimed::Existing(stored));
    }
    let attempt = stored.attempt + 1;
    let sql = "UPDATE rookery_idempotency_keys SET attempt = $3, updated_at = $4 WHERE tenant_id = $1 AND key = $2";
    let now = Utc::now();
    match conn {
        Conn::Postgres(c) => {
            sqlx::query(sql)
                .bind(tenant.0)
                .bind(key)
                .bind(attempt)
                .bind(now)
                .execute(&mut **c)
                .await?;
        }
        Conn::Sqlite(c) => {
            sqlx::query(sql)
                .bind(tenant.0.hyphenated().to_string())
                .bind(key)
                .bind(attempt)
                .bind(format_datetime(now))
                .execute(&mut **c)
                .await?;
        }
    }
    Ok(Claimed::Fresh { attempt })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::DbOptions;

    const PLATFORM: [&str; 2] = [
        include_str!("../../../generator/templates/platform/sqlite/1_base.sql"),
        include_str!("../../../generator/templates/platform/sqlite/3_idempotency.sql"),
    ];

    async fn write_under(db: &Db, tenant: TenantId, attempt: i32) -> Result<(), DbError> {
        let claim = Claim {
            tenant,
            key: "k".into(),
            attempt,
        };
        scope(claim, async {
            let mut tx = db.begin_write(tenant).await?;
            tx.sql("INSERT INTO audit_log (tenant_id, id, actor_type, action, at) VALUES ($1, $2, 'user', 'x', $3)")
                .bind(uuid::Uuid::now_v7())
                .bind(Utc::now())
                .execute()
                .await?;
            tx.commit().await
        })
        .await
    }

    #[tokio::test]
    async fn a_late_commit_of_an_attempt_taken_over_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.sqlite").display());
        let db = Db::connect(&url, &DbOptions::serving("unused")).await.unwrap();
        let pool = db.sqlite().unwrap().clone();
        for sql in PLATFORM {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        let tenant = TenantId(uuid::Uuid::now_v7());
        sqlx::query("INSERT INTO tenants (id, slug, name, plan, created_at) VALUES ($1, 'acme', 'Acme', 'free', '2026-01-01T00:00:00Z')")
            .bind(tenant.0.hyphenated().to_string())
            .execute(&pool)
            .await
            .unwrap();
        let long_ago = Utc::now() - chrono::Duration::days(1);
        let first = db.claim_key(tenant, "k", b"print", long_ago, long_ago).await.unwrap();
        assert!(matches!(first, Claimed::Fresh { attempt: 1 }), "{first:?}");
        // Attempt 1 looks dead: a retry of the same request takes the key over.
        let retry = db
            .claim_key(
                tenant,
                "k",
                b"print",
                long_ago,
                Utc::now() + chrono::Duration::seconds(1),
            )
            .await
            .unwrap();
        assert!(matches!(retry, Claimed::Fresh { attempt: 2 }), "{retry:?}");
        // Attempt 1 was alive after all and commits late: nothing commits.
        let late = write_under(&db, tenant, 1).await;
        assert!(matches!(late, Err(DbError::IdempotencyTakenOver)), "{late:?}");
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_log")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        assert_eq!(count().await, 0);
        // Attempt 2 commits, once.
        write_under(&db, tenant, 2).await.unwrap();
        assert_eq!(count().await, 1);
        let state: String = sqlx::query_scalar("SELECT state FROM rookery_idempotency_keys")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(state, "committed");
        // Another request under the key is not taken over, however old.
        let other = db
            .claim_key(
                tenant,
                "k",
                b"other",
                long_ago,
                Utc::now() + chrono::Duration::seconds(1),
            )
            .await
            .unwrap();
        assert!(matches!(other, Claimed::Existing(_)), "{other:?}");
    }
}
