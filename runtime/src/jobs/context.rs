//! What a running job gets: its tenant's transactions, its attempt, and
//! the error type a job returns.

use std::any::Any;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::EnqueueError;
use crate::db::{Db, DbError, PlatformTx, Reading, TenantTx, Writing};
use crate::model::TenantId;
use crate::webhooks::Webhooks;

/// A running job's view of the platform: transactions for the job's
/// tenant (or, for a platform job, the platform scope) and its attempt.
///
/// There is no ambient tenant: the tenant is the one the job was enqueued
/// for, read from the queue, and a tenant's job cannot open another
/// tenant's transaction or the platform scope.
#[derive(Debug, Clone)]
pub struct JobContext {
    db: Db,
    tenant: Option<TenantId>,
    kind: &'static str,
    id: Uuid,
    attempt: u32,
    max_attempts: u32,
    run_at: DateTime<Utc>,
    resources: Resources,
}

/// What a worker lends the jobs it runs, one value per type (the mailer):
/// a job asks for it by type, and gets nothing ambient.
#[derive(Clone, Default)]
pub(crate) struct Resources(Arc<Vec<Arc<dyn Any + Send + Sync>>>);

impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resources({})", self.0.len())
    }
}

impl Resources {
    /// These resources with `value`, replacing one of its type.
    pub(crate) fn with<T: Any + Send + Sync>(&self, value: T) -> Self {
        let mut values: Vec<_> = self.0.iter().filter(|v| !v.is::<T>()).cloned().collect();
        values.push(Arc::new(value));
        Self(Arc::new(values))
    }

    /// The value of type `T`, if the worker was given one.
    pub(crate) fn get<T: Any>(&self) -> Option<&T> {
        self.0.iter().find_map(|v| v.downcast_ref::<T>())
    }
}

/// Where a claimed job runs: its tenant, its id and attempts, when it was
/// due.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) tenant: Option<TenantId>,
    /// The job type's [`Job::NAME`](super::Job::NAME).
    pub(crate) kind: &'static str,
    pub(crate) id: Uuid,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) run_at: DateTime<Utc>,
}

impl JobContext {
    pub(crate) fn new(db: Db, run: Run, resources: Resources) -> Self {
        Self {
            db,
            tenant: run.tenant,
            kind: run.kind,
            id: run.id,
            attempt: run.attempt,
            max_attempts: run.max_attempts,
            run_at: run.run_at,
            resources,
        }
    }

    /// The worker's value of type `T` ([`Resources`]).
    pub(crate) fn resource<T: Any>(&self) -> Option<&T> {
        self.resources.get::<T>()
    }

    /// The job's id (stable across its attempts: a key for idempotent effects).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// This run's number, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Whether a failure of this run makes the job dead.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// The job's tenant; `None` for a platform job.
    pub fn tenant(&self) -> Option<TenantId> {
        self.tenant
    }

    /// When the job was due (a schedule's occurrence, for a scheduled job).
    pub fn due_at(&self) -> DateTime<Utc> {
        self.run_at
    }

    fn own_tenant(&self) -> Result<TenantId, JobError> {
        self.tenant
            .ok_or_else(|| JobError::permanent("a platform job has no tenant transaction: use begin_platform"))
    }

    /// A reading transaction of the job's tenant.
    pub async fn begin(&self) -> Result<TenantTx<Reading>, JobError> {
        Ok(self.db.begin(self.own_tenant()?).await?)
    }

    /// A writing transaction of the job's tenant.
    pub async fn begin_write(&self) -> Result<TenantTx<Writing>, JobError> {
        Ok(self.db.begin_write(self.own_tenant()?).await?)
    }

    /// A platform transaction, for platform jobs only (a tenant's job gets
    /// a permanent error).
    pub async fn begin_platform(&self) -> Result<PlatformTx, JobError> {
        if self.tenant.is_some() {
            return Err(JobError::permanent("a tenant's job cannot open the platform scope"));
        }
        tracing::info!(target: "rookery::platform", job = %self.id, "platform job opened the platform scope");
        let mut tx = self.db.begin_platform().await?;
        // In the transaction: the row exists if and only if the work committed.
        tx.audit_platform(&self.actor(), "platform_scope.open", &serde_json::json!({}))
            .await?;
        Ok(tx)
    }

    /// Who this run is in the platform's audit: `job <name> <id>`.
    pub(crate) fn actor(&self) -> String {
        format!("job {} {}", self.kind, self.id)
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// What the webhook delivery job needs (`None` in a worker built
    /// without the app's configuration).
    pub(crate) fn webhooks(&self) -> Option<&Webhooks> {
        self.resource::<Webhooks>()
    }
}

/// Why a run failed: retried (the default) or permanent (dead at once).
///
/// The message is kept with the job as its last error, for the operator;
/// put no secrets in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    message: String,
    permanent: bool,
}

impl JobError {
    /// A failure worth another run (after the job's backoff).
    pub fn retry(error: impl std::fmt::Display) -> Self {
        Self {
            message: error.to_string(),
            permanent: false,
        }
    }

    /// A failure no retry can fix (bad input): the job is dead at once.
    pub fn permanent(error: impl std::fmt::Display) -> Self {
        Self {
            message: error.to_string(),
            permanent: true,
        }
    }

    /// Whether the job is dead at once.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The message kept as the job's last error.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JobError {}

impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        Self::retry(e)
    }
}

impl From<EnqueueError> for JobError {
    fn from(e: EnqueueError) -> Self {
        match e {
            EnqueueError::Db(e) => Self::retry(e),
            other => Self::permanent(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Resources;

    #[test]
    fn resources_hold_one_value_per_type() {
        let none = Resources::default();
        assert_eq!(none.get::<String>(), None);
        let some = none.with(String::from("first")).with(7u32).with(String::from("second"));
        assert_eq!(
            some.get::<String>().map(String::as_str),
            Some("second"),
            "the later replaces"
        );
        assert_eq!(some.get::<u32>(), Some(&7));
        assert_eq!(none.get::<u32>(), None, "the original is unchanged");
    }
}
