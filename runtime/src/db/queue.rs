//! The job queue's storage: the `rookery_jobs` table (platform tables,
//! version 2) and the statements that enqueue, claim and finish jobs, per
//! dialect. The `jobs` module builds typed jobs and the worker on top.
//!
//! On PostgreSQL the serving role has no privilege on the table: it calls
//! the functions below, which run with the owner's rights (the table has
//! row-level security enabled and no policy, so nobody else sees a row).
//! `rookery_job_enqueue` refuses, inside a tenant's transaction, a job for
//! any other tenant; the platform scope (no tenant set) may enqueue for
//! any. Claims use `FOR UPDATE SKIP LOCKED`, so any number of workers on
//! any number of machines share one queue.
//!
//! **Fairness.** Jobs are claimed in `fair_at` order. A new job's
//! `fair_at` is the later of the queue's head (the smallest `fair_at`
//! waiting) and its tenant's last waiting job plus a spacing: tenants'
//! jobs interleave, so a tenant that enqueues ten thousand jobs does not
//! push another tenant's next job behind them. On top of that a claim
//! gives a tenant at most `tenant_cap` running jobs in the queue (counted
//! when the claim runs: claims that run at the same moment in several
//! processes can each give the tenant its cap), so one tenant's slow jobs
//! cannot take every worker. A claim looks at the head of the queue only
//! (eight times the jobs it wants), which keeps it cheap however long the
//! queue is.
//!
//! **Leases.** A claimed job is leased to its worker for `lease` seconds,
//! which the worker extends while the job runs. A worker that dies (even
//! by `SIGKILL`) stops extending; the next claim finds the lease run out
//! and makes the job ready again (or dead, out of attempts), so no job is
//! lost. Finishing checks the lease: a worker that lost its lease cannot
//! overwrite the outcome of the worker that took the job over.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use uuid::Uuid;

use super::bind::format_datetime;
use super::tx::Conn;
use super::{Db, DbError, PlatformTx, TenantTx, Writing};
use crate::model::TenantId;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub(crate) struct NewJob<'a> {
    pub(crate) queue: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) payload: &'a serde_json::Value,
    /// At most one job of this kind and tenant carries the key (while it
    /// is kept: done jobs are pruned after the retention).
    pub(crate) key: Option<&'a str>,
    /// Not before; `None`: now.
    pub(crate) run_at: Option<DateTime<Utc>>,
    pub(crate) max_attempts: u32,
}

/// How an enqueue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Enqueued {
    /// The job's id (the existing job's, for a key already taken).
    pub(crate) id: Uuid,
    /// `false` when a job with the same idempotency key already existed.
    pub(crate) created: bool,
}

/// A job a worker claimed.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub(crate) id: Uuid,
    pub(crate) tenant: Option<TenantId>,
    pub(crate) kind: String,
    pub(crate) payload: serde_json::Value,
    /// 1 for the first run.
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) run_at: DateTime<Utc>,
    pub(crate) created_at: DateTime<Utc>,
}

/// How a run ended, as the queue records it.
#[derive(Debug, Clone)]
pub(crate) enum Finish {
    Done,
    Retry { at: DateTime<Utc>, error: String },
    Dead { error: String },
}

/// How to claim.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimOptions<'a> {
    pub(crate) worker: &'a str,
    pub(crate) queue: &'a str,
    pub(crate) limit: u32,
    /// Running jobs per tenant in this queue past which a claim skips the
    /// tenant; 0: no bound.
    pub(crate) tenant_cap: u32,
    pub(crate) lease_seconds: u32,
}

/// Jobs in one state of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueStats {
    pub(crate) queue: String,
    pub(crate) state: String,
    pub(crate) jobs: i64,
    /// The oldest due `run_at` among ready jobs.
    pub(crate) oldest_due: Option<DateTime<Utc>>,
}

/// A job as the operator lists it.
#[derive(Debug, Clone)]
pub(crate) struct JobRow {
    pub(crate) id: Uuid,
    pub(crate) tenant: Option<TenantId>,
    pub(crate) queue: String,
    pub(crate) kind: String,
    pub(crate) state: String,
    pub(crate) attempts: i32,
    pub(crate) last_error: Option<String>,
    pub(crate) run_at: DateTime<Utc>,
}

/// Spacing between one tenant's consecutive jobs in `fair_at` order.
const SPACING_MS: i32 = 10;

impl TenantTx<Writing> {
    /// Enqueues a job for this transaction's tenant: it exists if and only
    /// if the transaction commits.
    pub(crate) async fn enqueue_job(&mut self, job: &NewJob<'_>) -> Result<Enqueued, DbError> {
        let tenant = Some(self.tenant());
        super::deadline::within(enqueue(self.conn(), tenant, job)).await
    }
}

impl PlatformTx {
    /// Enqueues a job for `tenant` (`None`: a platform job) from the
    /// platform scope (the scheduler's fan-out).
    pub(crate) async fn enqueue_job(
        &mut self,
        tenant: Option<TenantId>,
        job: &NewJob<'_>,
    ) -> Result<Enqueued, DbError> {
        enqueue(self.conn(), tenant, job).await
    }
}

pub(super) async fn enqueue(conn: Conn<'_>, tenant: Option<TenantId>, job: &NewJob<'_>) -> Result<Enqueued, DbError> {
    let id = Uuid::now_v7();
    let tenant = tenant.map(|t| t.0);
    let attempts = i32::try_from(job.max_attempts).unwrap_or(i32::MAX);
    match conn {
        Conn::Postgres(conn) => {
            let row =
                sqlx::query("SELECT job_id, created FROM rookery_job_enqueue($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(id)
                    .bind(tenant)
                    .bind(job.queue)
                    .bind(job.kind)
                    .bind(sqlx::types::Json(job.payload))
                    .bind(job.key)
                    .bind(job.run_at)
                    .bind(attempts)
                    .bind(SPACING_MS)
                    .fetch_one(conn)
                    .await?;
            Ok(Enqueued {
                id: row.try_get(0)?,
                created: row.try_get(1)?,
            })
        }
        Conn::Sqlite(conn) => {
            let now = Utc::now();
            let run_at = job.run_at.unwrap_or(now);
            let tenant_text = tenant.map(|t| t.hyphenated().to_string());
            let (head, last): (Option<String>, Option<String>) = sqlx::query_as(
                "SELECT (SELECT min(fair_at) FROM rookery_jobs WHERE queue = $1 AND state = 'ready'),
                        (SELECT max(fair_at) FROM rookery_jobs WHERE queue = $1 AND state = 'ready' AND tenant_id IS $2)",
            )
            .bind(job.queue)
            .bind(&tenant_text)
            .fetch_one(&mut *conn)
            .await?;
            let fair = fair_at(run_at, now, parse(head.as_deref())?, parse(last.as_deref())?);
            let inserted = sqlx::query(
                "INSERT INTO rookery_jobs (id, tenant_id, queue, kind, payload, idempotency_key, state, attempts,
                                           max_attempts, run_at, fair_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'ready', 0, $7, $8, $9, $10)
                 ON CONFLICT (coalesce(tenant_id, ''), kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
            )
            .bind(id.hyphenated().to_string())
            .bind(&tenant_text)
            .bind(job.queue)
            .bind(job.kind)
            .bind(job.payload.to_string())
            .bind(job.key)
            .bind(attempts)
            .bind(format_datetime(run_at))
            .bind(format_datetime(fair))
            .bind(format_datetime(now))
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(Enqueued { id, created: true });
            }
            let existing: String = sqlx::query_scalar(
                "SELECT id FROM rookery_jobs WHERE coalesce(tenant_id, '') = coalesce($1, '') AND kind = $2 AND idempotency_key = $3",
            )
            .bind(&tenant_text)
            .bind(job.kind)
            .bind(job.key)
            .fetch_one(&mut *conn)
            .await?;
            Ok(Enqueued {
                id: uuid(&existing)?,
                created: false,
            })
        }
    }
}

/// The `fair_at` of a job due at `run_at`: see the module documentation.
/// `head` is the queue's smallest waiting `fair_at`, `last` the tenant's
/// largest.
fn fair_at(
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
    head: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let base = if run_at > now { run_at } else { head.unwrap_or(run_at) };
    let after_own = last.map(|l| l + chrono::Duration::milliseconds(SPACING_MS.into()));
    after_own.map_or(base, |a| a.max(base))
}

fn parse(text: Option<&str>) -> Result<Option<DateTime<Utc>>, DbError> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| DbError::Sqlx(sqlx::Error::Decode(e.into())))
    })
    .transpose()
}

fn uuid(text: &str) -> Result<Uuid, DbError> {
    Uuid::parse_str(text).map_err(|e| DbError::Sqlx(sqlx::Error::Decode(e.into())))
}

fn tenant_of(text: Option<&str>) -> Result<Option<TenantId>, DbError> {
    text.map(|t| uuid(t).map(TenantId)).transpose()
}

impl Db {
    /// Claims up to `options.limit` due jobs of a queue, fairly, leasing
    /// them to `options.worker`; first returns jobs whose lease ran out to
    /// the queue.
    pub(crate) async fn claim_jobs(&self, options: ClaimOptions<'_>) -> Result<Vec<Claimed>, DbError> {
        let limit = i32::try_from(options.limit).unwrap_or(i32::MAX);
        let cap = i32::try_from(options.tenant_cap).unwrap_or(i32::MAX);
        let lease = i32::try_from(options.lease_seconds).unwrap_or(i32::MAX);
        if let Some(pool) = self.pg() {
            let rows = sqlx::query(
                "SELECT job_id, tenant_id, kind, payload, attempts, max_attempts, run_at, created_at
                 FROM rookery_job_claim($1, $2, $3, $4, $5)",
            )
            .bind(options.worker)
            .bind(options.queue)
            .bind(limit)
            .bind(cap)
            .bind(lease)
            .fetch_all(pool)
            .await?;
            return rows
                .iter()
                .map(|r| {
                    Ok(Claimed {
                        id: r.try_get(0)?,
                        tenant: r.try_get::<Option<Uuid>, _>(1)?.map(TenantId),
                        kind: r.try_get(2)?,
                        payload: r.try_get::<sqlx::types::Json<serde_json::Value>, _>(3)?.0,
                        attempt: u32::try_from(r.try_get::<i32, _>(4)?).unwrap_or(0),
                        max_attempts: u32::try_from(r.try_get::<i32, _>(5)?).unwrap_or(0),
                        run_at: r.try_get(6)?,
                        created_at: r.try_get(7)?,
                    })
                })
                .collect();
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let now = format_datetime(Utc::now());
        sqlx::query(
            "UPDATE rookery_jobs SET
                 state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'ready' END,
                 finished_at = CASE WHEN attempts >= max_attempts THEN $2 END,
                 last_error = $3, locked_by = NULL, locked_until = NULL
             WHERE state = 'running' AND queue = $1 AND locked_until < $2",
        )
        .bind(options.queue)
        .bind(&now)
        .bind(LEASE_EXPIRED)
        .execute(&mut *tx)
        .await?;
        let until = format_datetime(Utc::now() + chrono::Duration::seconds(lease.into()));
        let rows = sqlx::query(
            "UPDATE rookery_jobs SET state = 'running', attempts = attempts + 1, locked_by = $1,
                    locked_until = $5, started_at = $4
             WHERE id IN (
                 SELECT r.id FROM (
                     SELECT l.id, l.fair_at,
                            row_number() OVER (PARTITION BY l.tenant_id ORDER BY l.fair_at, l.id) AS nth,
                            (SELECT count(*) FROM rookery_jobs x
                             WHERE x.queue = $2 AND x.state = 'running' AND x.tenant_id IS l.tenant_id) AS busy
                     FROM (SELECT c.id, c.tenant_id, c.fair_at FROM rookery_jobs c
                           WHERE c.queue = $2 AND c.state = 'ready' AND c.run_at <= $4
                           ORDER BY c.fair_at, c.id LIMIT $3 * 8) l
                 ) r
                 WHERE $6 <= 0 OR r.busy + r.nth <= $6
                 ORDER BY r.fair_at, r.id LIMIT $3)
             RETURNING id, tenant_id, kind, payload, attempts, max_attempts, run_at, created_at",
        )
        .bind(options.worker)
        .bind(options.queue)
        .bind(limit)
        .bind(&now)
        .bind(until)
        .bind(cap)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut claimed = rows
            .iter()
            .map(|r| {
                let time = |i: usize| -> Result<DateTime<Utc>, DbError> {
                    parse(Some(&r.try_get::<String, _>(i)?))?.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))
                };
                Ok(Claimed {
                    id: uuid(&r.try_get::<String, _>(0)?)?,
                    tenant: tenant_of(r.try_get::<Option<String>, _>(1)?.as_deref())?,
                    kind: r.try_get(2)?,
                    payload: serde_json::from_str(&r.try_get::<String, _>(3)?)
                        .map_err(|e| DbError::Sqlx(sqlx::Error::Decode(e.into())))?,
                    attempt: u32::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
                    max_attempts: u32::try_from(r.try_get::<i64, _>(5)?).unwrap_or(0),
                    run_at: time(6)?,
                    created_at: time(7)?,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        // SQLite's RETURNING order is unspecified.
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Records how a run ended. `false`: the worker no longer held the
    /// job's lease (it ran out and another worker took the job), so
    /// nothing was recorded.
    pub(crate) async fn finish_job(&self, id: Uuid, worker: &str, finish: &Finish) -> Result<bool, DbError> {
        let (state, error, retry_at) = match finish {
            Finish::Done => ("done", None, None),
            Finish::Retry { at, error } => ("ready", Some(error.as_str()), Some(*at)),
            Finish::Dead { error } => ("dead", Some(error.as_str()), None),
        };
        let changed = if let Some(pool) = self.pg() {
            sqlx::query_scalar("SELECT rookery_job_finish($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(worker)
                .bind(state)
                .bind(error)
                .bind(retry_at)
                .fetch_one(pool)
                .await?
        } else {
            let pool = self.sqlite().expect("a Db always holds one pool");
            let now = format_datetime(Utc::now());
            let retry_at = retry_at.map(format_datetime);
            sqlx::query(
                "UPDATE rookery_jobs SET state = $3,
                     run_at = coalesce($5, run_at), fair_at = coalesce($5, fair_at),
                     finished_at = CASE WHEN $3 IN ('done', 'dead') THEN $6 END,
                     last_error = coalesce($4, last_error), locked_by = NULL, locked_until = NULL
                 WHERE id = $1 AND state = 'running' AND locked_by = $2",
            )
            .bind(id.hyphenated().to_string())
            .bind(worker)
            .bind(state)
            .bind(error)
            .bind(retry_at)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
                == 1
        };
        Ok(changed)
    }

    /// Extends the leases `worker` holds on `ids` by `lease_seconds` from now.
    pub(crate) async fn extend_leases(&self, worker: &str, ids: &[Uuid], lease_seconds: u32) -> Result<(), DbError> {
        if ids.is_empty() {
            return Ok(());
        }
        let lease = i32::try_from(lease_seconds).unwrap_or(i32::MAX);
        if let Some(pool) = self.pg() {
            sqlx::query("SELECT rookery_job_extend($1, $2, $3)")
                .bind(worker)
                .bind(ids)
                .bind(lease)
                .execute(pool)
                .await?;
            return Ok(());
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let until = format_datetime(Utc::now() + chrono::Duration::seconds(lease.into()));
        let ids: Vec<String> = ids.iter().map(|i| i.hyphenated().to_string()).collect();
        sqlx::query(
            "UPDATE rookery_jobs SET locked_until = $2
             WHERE locked_by = $1 AND state = 'running' AND id IN (SELECT value FROM json_each($3))",
        )
        .bind(worker)
        .bind(until)
        .bind(serde_json::to_string(&ids).unwrap_or_default())
        .execute(pool)
        .await?;
        Ok(())
    }

    /// Jobs per queue and state (the metrics and `jobs list`).
    pub(crate) async fn queue_stats(&self) -> Result<Vec<QueueStats>, DbError> {
        if let Some(pool) = self.pg() {
            let rows = sqlx::query("SELECT queue, state, jobs, oldest_due FROM rookery_job_stats()")
                .fetch_all(pool)
                .await?;
            return rows
                .iter()
                .map(|r| {
                    Ok(QueueStats {
                        queue: r.try_get(0)?,
                        state: r.try_get(1)?,
                        jobs: r.try_get(2)?,
                        oldest_due: r.try_get(3)?,
                    })
                })
                .collect();
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let rows = sqlx::query(
            "SELECT queue, state, count(*),
                    min(CASE WHEN state = 'ready' AND run_at <= $1 THEN run_at END)
             FROM rookery_jobs GROUP BY queue, state ORDER BY queue, state",
        )
        .bind(format_datetime(Utc::now()))
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QueueStats {
                    queue: r.try_get(0)?,
                    state: r.try_get(1)?,
                    jobs: r.try_get(2)?,
                    oldest_due: parse(r.try_get::<Option<String>, _>(3)?.as_deref())?,
                })
            })
            .collect()
    }

    /// Jobs in `state` (`None`: any), newest first, at most `limit`.
    pub(crate) async fn list_jobs(&self, state: Option<&str>, limit: u32) -> Result<Vec<JobRow>, DbError> {
        let limit = i64::from(limit);
        if let Some(pool) = self.pg() {
            let rows = sqlx::query(
                "SELECT job_id, tenant_id, queue, kind, state, attempts, last_error, run_at FROM rookery_job_list($1, $2)",
            )
            .bind(state)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            return rows
                .iter()
                .map(|r| {
                    Ok(JobRow {
                        id: r.try_get(0)?,
                        tenant: r.try_get::<Option<Uuid>, _>(1)?.map(TenantId),
                        queue: r.try_get(2)?,
                        kind: r.try_get(3)?,
                        state: r.try_get(4)?,
                        attempts: r.try_get(5)?,
                        last_error: r.try_get(6)?,
                        run_at: r.try_get(7)?,
                    })
                })
                .collect();
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let rows = sqlx::query(
            "SELECT id, tenant_id, queue, kind, state, attempts, last_error, run_at FROM rookery_jobs
             WHERE $1 IS NULL OR state = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(state)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobRow {
                    id: uuid(&r.try_get::<String, _>(0)?)?,
                    tenant: tenant_of(r.try_get::<Option<String>, _>(1)?.as_deref())?,
                    queue: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    state: r.try_get(4)?,
                    attempts: r.try_get::<i64, _>(5)?.try_into().unwrap_or(i32::MAX),
                    last_error: r.try_get(6)?,
                    run_at: parse(Some(&r.try_get::<String, _>(7)?))?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Makes a dead job ready again with fresh attempts. `false`: no dead
    /// job has that id.
    pub(crate) async fn retry_dead_job(&self, id: Uuid) -> Result<bool, DbError> {
        if let Some(pool) = self.pg() {
            return Ok(sqlx::query_scalar("SELECT rookery_job_retry($1)")
                .bind(id)
                .fetch_one(pool)
                .await?);
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let now = format_datetime(Utc::now());
        Ok(sqlx::query(
            "UPDATE rookery_jobs SET state = 'ready', attempts = 0, run_at = $2, fair_at = $2, finished_at = NULL
             WHERE id = $1 AND state = 'dead'",
        )
        .bind(id.hyphenated().to_string())
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Enqueues job `kind` once for every tenant (a schedule's fan-out),
    /// due at `at`, keyed by `key` per tenant so a repeated fan-out adds
    /// nothing; one statement however many tenants there are. Returns how
    /// many jobs were added. The platform's audit records it, by `actor`,
    /// in the same transaction.
    pub(crate) async fn fan_out(&self, job: &NewJob<'_>, key: &str, actor: &str) -> Result<u64, DbError> {
        let run_at = job.run_at.unwrap_or_else(Utc::now);
        let attempts = i32::try_from(job.max_attempts).unwrap_or(i32::MAX);
        let audit = |added: u64| serde_json::json!({ "job": job.kind, "key": key, "added": added });
        if let Some(pool) = self.pg() {
            let mut tx = pool.begin().await?;
            let n: i64 = sqlx::query_scalar("SELECT rookery_job_fan_out($1, $2, $3, $4, $5, $6)")
                .bind(job.queue)
                .bind(job.kind)
                .bind(sqlx::types::Json(job.payload))
                .bind(key)
                .bind(run_at)
                .bind(attempts)
                .fetch_one(&mut *tx)
                .await?;
            let added = u64::try_from(n).unwrap_or(0);
            super::platform_audit::record(Conn::Postgres(&mut tx), actor, "schedule.fan_out", &audit(added)).await?;
            tx.commit().await?;
            return Ok(added);
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let tenants: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        let now = format_datetime(Utc::now());
        let due = format_datetime(run_at);
        let payload = job.payload.to_string();
        let mut added = 0;
        for tenant in tenants {
            added += sqlx::query(
                "INSERT INTO rookery_jobs (id, tenant_id, queue, kind, payload, idempotency_key, state, attempts,
                                           max_attempts, run_at, fair_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'ready', 0, $7, $8, $8, $9)
                 ON CONFLICT (coalesce(tenant_id, ''), kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
            )
            .bind(Uuid::now_v7().hyphenated().to_string())
            .bind(tenant)
            .bind(job.queue)
            .bind(job.kind)
            .bind(&payload)
            .bind(key)
            .bind(attempts)
            .bind(&due)
            .bind(&now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        super::platform_audit::record(Conn::Sqlite(&mut tx), actor, "schedule.fan_out", &audit(added)).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Deletes done jobs finished before `before`; returns how many.
    pub(crate) async fn prune_jobs(&self, before: DateTime<Utc>) -> Result<u64, DbError> {
        if let Some(pool) = self.pg() {
            let n: i64 = sqlx::query_scalar("SELECT rookery_job_prune($1)")
                .bind(before)
                .fetch_one(pool)
                .await?;
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        Ok(
            sqlx::query("DELETE FROM rookery_jobs WHERE state = 'done' AND finished_at < $1")
                .bind(format_datetime(before))
                .execute(pool)
                .await?
                .rows_affected(),
        )
    }
}

/// The error a job whose worker stopped mid-run records.
const LEASE_EXPIRED: &str = "the worker stopped before the job finished (its lease ran out)";

/// The queue's functions on PostgreSQL (`{schema}` and `{role}` quoted),
/// created or replaced by every `migrate` after the migrations, when the
/// table exists. Owner's rights; the serving role may only execute them.
pub(super) const FUNCTIONS: &str = r"
REVOKE ALL ON rookery_jobs FROM {role};

CREATE OR REPLACE FUNCTION rookery_job_enqueue(
    p_id uuid, p_tenant uuid, p_queue text, p_kind text, p_payload jsonb, p_key text,
    p_run_at timestamptz, p_max_attempts integer, p_spacing_ms integer)
RETURNS TABLE (job_id uuid, created boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
#variable_conflict use_column
DECLARE
    scope text := nullif(current_setting('app.tenant_id', true), '');
    due timestamptz := coalesce(p_run_at, now());
    head timestamptz;
    last timestamptz;
    fair timestamptz;
BEGIN
    -- A tenant's transaction enqueues for its own tenant only.
    IF scope IS NOT NULL AND p_tenant IS DISTINCT FROM scope::uuid THEN
        RAISE EXCEPTION 'a job for another tenant cannot be enqueued in this tenant''s transaction'
            USING ERRCODE = '42501';
    END IF;
    SELECT min(j.fair_at) INTO head FROM rookery_jobs j WHERE j.queue = p_queue AND j.state = 'ready';
    SELECT max(j.fair_at) INTO last FROM rookery_jobs j
        WHERE j.queue = p_queue AND j.state = 'ready' AND j.tenant_id IS NOT DISTINCT FROM p_tenant;
    fair := CASE WHEN due > now() THEN due ELSE coalesce(head, due) END;
    IF last IS NOT NULL THEN
        fair := greatest(fair, last + p_spacing_ms * interval '1 millisecond');
    END IF;
    INSERT INTO rookery_jobs (id, tenant_id, queue, kind, payload, idempotency_key, state, attempts,
                              max_attempts, run_at, fair_at, created_at)
    VALUES (p_id, p_tenant, p_queue, p_kind, p_payload, p_key, 'ready', 0, p_max_attempts, due, fair, now())
    ON CONFLICT (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), kind, idempotency_key)
        WHERE idempotency_key IS NOT NULL DO NOTHING;
    IF FOUND THEN
        -- Wakes listening workers when the transaction commits.
        PERFORM pg_notify('rookery_jobs', p_queue);
        RETURN QUERY SELECT p_id, true;
    ELSE
        RETURN QUERY SELECT j.id, false FROM rookery_jobs j
            WHERE coalesce(j.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)
                  = coalesce(p_tenant, '00000000-0000-0000-0000-000000000000'::uuid)
              AND j.kind = p_kind AND j.idempotency_key = p_key;
    END IF;
END
$rookery$;

CREATE OR REPLACE FUNCTION rookery_job_claim(
    p_worker text, p_queue text, p_limit integer, p_tenant_cap integer, p_lease_seconds integer)
RETURNS TABLE (job_id uuid, tenant_id uuid, kind text, payload jsonb, attempts integer,
               max_attempts integer, run_at timestamptz, created_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
#variable_conflict use_column
BEGIN
    -- A lease that ran out: its worker stopped mid-job. The attempt
    -- counted; the job runs again or, out of attempts, is dead.
    UPDATE rookery_jobs j SET
        state = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'ready' END,
        finished_at = CASE WHEN j.attempts >= j.max_attempts THEN clock_timestamp() END,
        last_error = 'the worker stopped before the job finished (its lease ran out)',
        locked_by = NULL, locked_until = NULL
    WHERE j.id IN (SELECT e.id FROM rookery_jobs e
                   WHERE e.state = 'running' AND e.queue = p_queue AND e.locked_until < clock_timestamp()
                   FOR UPDATE SKIP LOCKED);
    RETURN QUERY
    UPDATE rookery_jobs j SET state = 'running', attempts = j.attempts + 1, locked_by = p_worker,
        locked_until = clock_timestamp() + make_interval(secs => p_lease_seconds), started_at = clock_timestamp()
    WHERE j.id IN (
        -- The head of the queue (a window of it, locked), each candidate
        -- numbered within its tenant: a tenant gets what its cap leaves.
        SELECT r.id FROM (
            SELECT l.id, l.fair_at,
                   row_number() OVER (PARTITION BY l.tenant_id ORDER BY l.fair_at, l.id) AS nth,
                   (SELECT count(*) FROM rookery_jobs x
                    WHERE x.queue = p_queue AND x.state = 'running'
                      AND x.tenant_id IS NOT DISTINCT FROM l.tenant_id) AS busy
            FROM (SELECT c.id, c.tenant_id, c.fair_at FROM rookery_jobs c
                  WHERE c.queue = p_queue AND c.state = 'ready' AND c.run_at <= clock_timestamp()
                  ORDER BY c.fair_at, c.id
                  LIMIT p_limit * 8
                  FOR UPDATE SKIP LOCKED) l
        ) r
        WHERE p_tenant_cap <= 0 OR r.busy + r.nth <= p_tenant_cap
        ORDER BY r.fair_at, r.id
        LIMIT p_limit)
    RETURNING j.id, j.tenant_id, j.kind, j.payload, j.attempts, j.max_attempts, j.run_at, j.created_at;
END
$rookery$;

CREATE OR REPLACE FUNCTION rookery_job_finish(
    p_id uuid, p_worker text, p_state text, p_error text, p_retry_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
BEGIN
    IF p_state NOT IN ('done', 'ready', 'dead') THEN
        RAISE EXCEPTION 'a job finishes done, ready or dead, not %', p_state USING ERRCODE = '22023';
    END IF;
    UPDATE rookery_jobs SET state = p_state,
        run_at = coalesce(p_retry_at, run_at), fair_at = coalesce(p_retry_at, fair_at),
        finished_at = CASE WHEN p_state IN ('done', 'dead') THEN clock_timestamp() END,
        last_error = coalesce(p_error, last_error), locked_by = NULL, locked_until = NULL
    WHERE id = p_id AND state = 'running' AND locked_by = p_worker;
    RETURN FOUND;
END
$rookery$;

CREATE OR REPLACE FUNCTION rookery_job_extend(p_worker text, p_ids uuid[], p_lease_seconds integer)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    UPDATE rookery_jobs SET locked_until = clock_timestamp() + make_interval(secs => p_lease_seconds)
    WHERE locked_by = p_worker AND state = 'running' AND id = ANY (p_ids)
$rookery$;

CREATE OR REPLACE FUNCTION rookery_job_stats()
RETURNS TABLE (queue text, state text, jobs bigint, oldest_due timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    SELECT queue, state, count(*), min(run_at) FILTER (WHERE state = 'ready' AND run_at <= now())
    FROM rookery_jobs GROUP BY queue, state ORDER BY queue, state
$rookery$;

CREATE OR REPLACE FUNCTION rookery_job_list(p_state text, p_limit bigint)
RETURNS TABLE (job_id uuid, tenant_id uuid, queue text, kind text, state text, attempts integer,
               last_error text, run_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    SELECT id, tenant_id, queue, kind, state, attempts, last_error, run_at FROM rookery_jobs
    WHERE p_state IS NULL OR state = p_state ORDER BY created_at DESC, id DESC LIMIT p_limit
$rookery$;

CREATE OR REPLACE FUNCTION rookery_job_retry(p_id uuid)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
BEGIN
    UPDATE rookery_jobs SET state = 'ready', attempts = 0, run_at = now(), fair_at = now(), finished_at = NULL
    WHERE id = p_id AND state = 'dead';
    RETURN FOUND;
END
$rookery$;

CREATE OR REPLACE FUNCTION rookery_job_fan_out(
    p_queue text, p_kind text, p_payload jsonb, p_key text, p_run_at timestamptz, p_max_attempts integer)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    WITH added AS (
        INSERT INTO rookery_jobs (id, tenant_id, queue, kind, payload, idempotency_key, state, attempts,
                                  max_attempts, run_at, fair_at, created_at)
        SELECT gen_random_uuid(), t.id, p_queue, p_kind, p_payload, p_key, 'ready', 0, p_max_attempts,
               p_run_at, p_run_at, now()
        FROM tenants t
        ON CONFLICT (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), kind, idempotency_key)
            WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING 1)
    SELECT count(*) FROM added
$rookery$;

CREATE OR REPLACE FUNCTION rookery_job_prune(p_before timestamptz)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    WITH gone AS (DELETE FROM rookery_jobs WHERE state = 'done' AND finished_at < p_before RETURNING 1)
    SELECT count(*) FROM gone
$rookery$;

REVOKE ALL ON FUNCTION rookery_job_enqueue(uuid, uuid, text, text, jsonb, text, timestamptz, integer, integer),
    rookery_job_claim(text, text, integer, integer, integer),
    rookery_job_finish(uuid, text, text, text, timestamptz),
    rookery_job_extend(text, uuid[], integer), rookery_job_stats(), rookery_job_list(text, bigint),
    rookery_job_retry(uuid), rookery_job_prune(timestamptz),
    rookery_job_fan_out(text, text, jsonb, text, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_job_enqueue(uuid, uuid, text, text, jsonb, text, timestamptz, integer, integer),
    rookery_job_claim(text, text, integer, integer, integer),
    rookery_job_finish(uuid, text, text, text, timestamptz),
    rookery_job_extend(text, uuid[], integer), rookery_job_stats(), rookery_job_list(text, bigint),
    rookery_job_retry(uuid), rookery_job_prune(timestamptz),
    rookery_job_fan_out(text, text, jsonb, text, timestamptz, integer) TO {role};
";

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).expect("in range")
    }

    #[test]
    fn a_tenants_new_job_goes_to_the_head_and_its_next_after_its_own() {
        let now = at(0);
        // A flood waits from `at(-5000)` on: a new tenant lands at the head.
        assert_eq!(fair_at(now, now, Some(at(-5000)), None), at(-5000));
        // The flooding tenant's next job goes after its own last one.
        assert_eq!(fair_at(now, now, Some(at(-5000)), Some(at(90_000))), at(90_010));
        // An empty queue: due now.
        assert_eq!(fair_at(now, now, None, None), now);
        // A job for later is ordered by when it is due.
        assert_eq!(fair_at(at(60_000), now, Some(at(-5000)), None), at(60_000));
    }
}
