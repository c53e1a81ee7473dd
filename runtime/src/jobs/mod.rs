//! Background jobs: typed jobs enqueued in the transaction of the write
//! that asks for them, run later by workers with retries, a dead-letter
//! state, idempotency keys, schedules and per-tenant fairness.
//!
//! A job is a serde type that implements [`Job`]. Enqueue it through a
//! writing tenant transaction ([`TenantTx::enqueue`]): the job exists if
//! and only if that transaction commits. It carries its tenant explicitly;
//! its [`Job::run`] gets a [`JobContext`] that opens transactions for that
//! tenant and no other. Platform jobs (no tenant) are enqueued with
//! [`Db::enqueue_platform`] and open platform transactions.
//!
//! Delivery is at least once: a job whose worker dies mid-run (even
//! killed with `SIGKILL`) runs again once its lease runs out, so a job's
//! effects should be idempotent. Writes the job makes in one transaction
//! with its own check (`SELECT … FOR UPDATE`, a unique key) are the usual
//! way.
//!
//! ```
//! use rookery::jobs::{Job, JobContext, JobError};
//! use rookery::serde_json::json;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct CountProjects;
//!
//! impl Job for CountProjects {
//!     const NAME: &'static str = "count_projects";
//!
//!     async fn run(self, ctx: JobContext) -> Result<(), JobError> {
//!         let mut tx = ctx.begin_write().await?; // this job's tenant, nothing else
//!         let (n,): (i64,) = tx.sql("SELECT count(*) FROM projects WHERE tenant_id = $1").fetch_one().await?;
//!         tx.sql("INSERT INTO audit_log (tenant_id, id, actor_type, action, metadata, at) VALUES ($1, $2, 'system', 'projects.counted', $3, $4)")
//!             .bind(rookery::uuid::Uuid::now_v7())
//!             .bind(json!({ "projects": n }))
//!             .bind(rookery::chrono::Utc::now())
//!             .execute()
//!             .await?;
//!         tx.commit().await?;
//!         Ok(())
//!     }
//! }
//! ```

mod context;
mod registry;
mod schedule;
mod worker;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub use context::{JobContext, JobError};
pub(crate) use registry::Registry;
pub use registry::{Schedule, ScheduleError};
pub use worker::{Drained, QueueOptions, Worker, WorkerOptions};

use crate::db::{Db, DbError, NewJob, TenantTx, Writing};

/// A background job: its payload (serde) and what running it does.
///
/// Register each job type with the app (`App::job::<J>()`); a worker
/// runs only the jobs it knows.
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// The job's name, stored with every job: unique in the app, and
    /// stable (jobs already enqueued keep it).
    const NAME: &'static str;
    /// The queue it waits in; each queue has its own workers and
    /// concurrency (`ROOKERY_JOBS_QUEUES`).
    const QUEUE: &'static str = "default";
    /// Runs before the job is dead (kept with its last error for the
    /// operator: `<app> jobs list --dead`, `<app> jobs retry ID`).
    const MAX_ATTEMPTS: u32 = 10;

    /// Runs the job. An `Err` is retried after [`Job::backoff`] until
    /// [`Job::MAX_ATTEMPTS`] runs, unless it is [`JobError::permanent`]; a
    /// panic counts as an error.
    fn run(self, ctx: JobContext) -> impl Future<Output = Result<(), JobError>> + Send;

    /// How long to wait before run `attempt + 1` after run `attempt`
    /// failed: exponential from 2 s, at most an hour, with ±25 % jitter
    /// so that jobs failing together do not retry together.
    fn backoff(attempt: u32) -> std::time::Duration {
        default_backoff(attempt)
    }
}

/// Registers the platform's own jobs and schedules.
pub(crate) fn register_platform(jobs: &mut Registry) {
    jobs.add::<schedule::FanOut>();
    jobs.add::<schedule::PruneJobs>();
    jobs.add::<schedule::PruneIdempotencyKeys>();
    jobs.add::<schedule::SealAudit>();
    for s in schedule::platform_schedules() {
        jobs.schedule(s);
    }
}

/// The default [`Job::backoff`].
pub(crate) fn default_backoff(attempt: u32) -> std::time::Duration {
    let base = 2f64 * 2f64.powi(i32::try_from(attempt.saturating_sub(1).min(20)).unwrap_or(20));
    let capped = base.min(3600.0);
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    std::time::Duration::from_secs_f64(capped * jitter)
}

/// When and how to enqueue a job ([`TenantTx::enqueue_with`]).
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    key: Option<String>,
    run_at: Option<DateTime<Utc>>,
}

impl EnqueueOptions {
    /// Enqueue now, without a key.
    pub fn new() -> Self {
        Self::default()
    }

    /// An idempotency key: while a job of this type and tenant with the
    /// same key is kept (done jobs for 7 days), enqueuing another returns
    /// the first one's id and adds nothing.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Not before `at`.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Not before `delay` from now.
    pub fn delay(self, delay: std::time::Duration) -> Self {
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        self.run_at(at)
    }
}

/// A job that was enqueued (or already was, under its idempotency key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enqueued {
    /// The job's id.
    pub id: Uuid,
    /// `false`: a job with the same idempotency key was already there; `id`
    /// is that job's, and nothing was added.
    pub created: bool,
}

/// A job could not be enqueued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// The job did not serialise to JSON (a map with non-string keys, a
    /// failing `Serialize`).
    #[error("job `{job}` did not serialise: {source}")]
    Payload {
        /// The job's name.
        job: &'static str,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The database refused or failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

fn payload<J: Job>(job: &J) -> Result<serde_json::Value, EnqueueError> {
    serde_json::to_value(job).map_err(|source| EnqueueError::Payload { job: J::NAME, source })
}

fn new_job<'a, J: Job>(payload: &'a serde_json::Value, options: &'a EnqueueOptions) -> NewJob<'a> {
    NewJob {
        queue: J::QUEUE,
        kind: J::NAME,
        payload,
        key: options.key.as_deref(),
        run_at: options.run_at,
        max_attempts: J::MAX_ATTEMPTS.max(1),
    }
}

impl TenantTx<Writing> {
    /// Enqueues `job` for this transaction's tenant, to run as soon as a
    /// worker is free. It exists if and only if the transaction commits.
    ///
    /// ```
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Welcome { email: String }
    /// # impl rookery::jobs::Job for Welcome { const NAME: &'static str = "welcome";
    /// #     async fn run(self, _: rookery::jobs::JobContext) -> Result<(), rookery::jobs::JobError> { Ok(()) } }
    /// # async fn f(db: &rookery::Db, tenant: rookery::TenantId) -> Result<(), rookery::ApiError> {
    /// let mut tx = db.begin_write(tenant).await?;
    /// // … the write that wants the job …
    /// tx.enqueue(&Welcome { email: "ada@example.com".into() }).await?;
    /// tx.commit().await?; // the job exists from here on
    /// # Ok(()) }
    /// ```
    pub async fn enqueue<J: Job>(&mut self, job: &J) -> Result<Enqueued, EnqueueError> {
        self.enqueue_with(job, EnqueueOptions::new()).await
    }

    /// [`TenantTx::enqueue`] with a key or a time ([`EnqueueOptions`]).
    pub async fn enqueue_with<J: Job>(&mut self, job: &J, options: EnqueueOptions) -> Result<Enqueued, EnqueueError> {
        let payload = payload(job)?;
        let done = self.enqueue_job(&new_job::<J>(&payload, &options)).await?;
        Ok(Enqueued {
            id: done.id,
            created: done.created,
        })
    }
}

impl TenantTx<Writing> {
    /// Enqueues a job by name, for a job type this code does not know (the
    /// app registers it: a hook such as the webhook module's notice).
    pub(crate) async fn enqueue_raw(
        &mut self,
        queue: &str,
        kind: &str,
        payload: &serde_json::Value,
        key: &str,
    ) -> Result<Enqueued, EnqueueError> {
        let job = NewJob {
            queue,
            kind,
            payload,
            key: Some(key),
            run_at: None,
            max_attempts: 10,
        };
        let done = self.enqueue_job(&job).await?;
        Ok(Enqueued {
            id: done.id,
            created: done.created,
        })
    }
}

impl Db {
    /// Enqueues a platform job (no tenant: its [`JobContext`] opens
    /// platform transactions only), committed at once.
    pub async fn enqueue_platform<J: Job>(&self, job: &J, options: EnqueueOptions) -> Result<Enqueued, EnqueueError> {
        let payload = payload(job)?;
        let mut tx = self.begin_platform().await?;
        let done = tx.enqueue_job(None, &new_job::<J>(&payload, &options)).await?;
        tx.commit().await?;
        Ok(Enqueued {
            id: done.id,
            created: done.created,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::default_backoff;

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_an_hour_with_jitter() {
        for (attempt, nominal) in [
            (1u32, 2.0f64),
            (2, 4.0),
            (3, 8.0),
            (10, 1024.0),
            (12, 3600.0),
            (40, 3600.0),
        ] {
            let d = default_backoff(attempt).as_secs_f64();
            assert!(d >= nominal * 0.75 && d <= nominal * 1.25, "attempt {attempt}: {d}");
        }
    }
}
