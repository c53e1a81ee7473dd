//! Schedules: enqueuing each occurrence once, however many workers keep
//! the schedule, and the platform's own periodic jobs.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{EnqueueError, Job, JobContext, JobError, Schedule};
use crate::db::{Db, NewJob};

/// The idempotency key of a schedule's occurrence.
fn occurrence_key(at: DateTime<Utc>) -> String {
    format!("schedule:{}", at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Enqueues `schedule`'s occurrence at `at`: one platform job, or one
/// fan-out job that enqueues the job for every tenant. Every worker does
/// this at every occurrence; the key makes it once.
pub(super) async fn enqueue_occurrence(db: &Db, schedule: &Schedule, at: DateTime<Utc>) -> Result<bool, EnqueueError> {
    let key = occurrence_key(at);
    let added = if schedule.per_tenant {
        let fan_out = FanOut {
            job: schedule.job.to_owned(),
            queue: schedule.queue.to_owned(),
            max_attempts: schedule.max_attempts,
            at,
        };
        let payload = serde_json::to_value(&fan_out).map_err(|source| EnqueueError::Payload {
            job: FanOut::NAME,
            source,
        })?;
        let key = format!("{}:{key}", schedule.job);
        enqueue_platform(
            db,
            &new_job(FanOut::QUEUE, FanOut::NAME, &payload, &key, at, FanOut::MAX_ATTEMPTS),
        )
        .await?
    } else {
        let null = serde_json::Value::Null;
        enqueue_platform(
            db,
            &new_job(schedule.queue, schedule.job, &null, &key, at, schedule.max_attempts),
        )
        .await?
    };
    Ok(added)
}

fn new_job<'a>(
    queue: &'a str,
    kind: &'a str,
    payload: &'a serde_json::Value,
    key: &'a str,
    at: DateTime<Utc>,
    max_attempts: u32,
) -> NewJob<'a> {
    NewJob {
        queue,
        kind,
        payload,
        key: Some(key),
        run_at: Some(at),
        max_attempts,
    }
}

async fn enqueue_platform(db: &Db, job: &NewJob<'_>) -> Result<bool, EnqueueError> {
    let mut tx = db.begin_platform().await?;
    let done = tx.enqueue_job(None, job).await?;
    tx.commit().await?;
    Ok(done.created)
}

/// A per-tenant schedule's occurrence: enqueues the job for every tenant
/// (the audited platform scope), in one statement.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FanOut {
    job: String,
    queue: String,
    max_attempts: u32,
    at: DateTime<Utc>,
}

impl Job for FanOut {
    const NAME: &'static str = "rookery.fan_out";
    const QUEUE: &'static str = "rookery";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        if ctx.tenant().is_some() {
            return Err(JobError::permanent("a fan-out is a platform job"));
        }
        let null = serde_json::Value::Null;
        let key = occurrence_key(self.at);
        let job = new_job(&self.queue, &self.job, &null, &key, self.at, self.max_attempts);
        let added = ctx.db().fan_out(&job, &key, &ctx.actor()).await?;
        tracing::info!(target: "rookery::platform", job = %self.job, at = %self.at, added, "platform scope: schedule fanned out to every tenant");
        Ok(())
    }
}

/// Deletes done jobs a week after they finished (dead jobs stay until the
/// operator retries them), and the platform's audit rows after 400 days.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PruneJobs;

/// How long done jobs (and so their idempotency keys) are kept.
pub(crate) const DONE_RETENTION: chrono::Duration = chrono::Duration::days(7);

impl Job for PruneJobs {
    const NAME: &'static str = "rookery.prune_jobs";
    const QUEUE: &'static str = "rookery";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let pruned = ctx.db().prune_jobs(Utc::now() - DONE_RETENTION).await?;
        tracing::info!(pruned, "pruned done jobs");
        let audit = ctx.db().prune_platform_audit().await?;
        let detail = serde_json::json!({ "deleted": pruned, "platform_audit_deleted": audit });
        ctx.db().audit_platform(&ctx.actor(), "jobs.prune", &detail).await?;
        Ok(())
    }
}

/// Deletes a tenant's `Idempotency-Key`s past their lifetime (a retry
/// already treats them as absent; this keeps the table small).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PruneIdempotencyKeys;

impl Job for PruneIdempotencyKeys {
    const NAME: &'static str = "rookery.prune_idempotency_keys";
    const QUEUE: &'static str = "rookery";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let mut tx = ctx.begin_write().await?;
        tx.sql("DELETE FROM rookery_idempotency_keys WHERE tenant_id = $1 AND created_at < $2")
            .bind(Utc::now() - chrono::Duration::hours(24))
            .execute()
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Seals the tenant's audit rows (`rookery::audit::chain`): every hour,
/// for the rows a process wrote and did not seal before it stopped.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SealAudit;

impl Job for SealAudit {
    const NAME: &'static str = "rookery.audit_seal";
    const QUEUE: &'static str = "rookery";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let Some(tenant) = ctx.tenant() else {
            return Err(JobError::permanent("the audit seal is a tenant job"));
        };
        let sealed = crate::audit::chain::seal(ctx.db(), tenant).await?;
        if sealed > 0 {
            tracing::info!(tenant = %tenant, sealed, "sealed audit rows");
        }
        Ok(())
    }
}

/// The platform's own periodic jobs, registered with every app.
pub(crate) fn platform_schedules() -> Vec<Schedule> {
    vec![
        Schedule::new::<PruneJobs>("17 3 * * *", false).expect("a valid schedule"),
        Schedule::new::<PruneIdempotencyKeys>("41 * * * *", true).expect("a valid schedule"),
        Schedule::new::<SealAudit>("23 * * * *", true).expect("a valid schedule"),
    ]
}
