//! The daily job of usage analytics: each tenant's rows per model, and
//! the pruning of its old usage.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::jobs::{Job, JobContext, JobError, Registry, Schedule};
use crate::model::ModelDef;

/// How long usage is kept: a year and a month, so a day can be compared
/// with the same day a year before.
pub(crate) const RETENTION: chrono::Days = chrono::Days::new(400);

/// How long a rate quota's window is kept after it began: two months, so
/// last month's stays while this one's lasts.
const QUOTA_WINDOWS_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(62);

/// When the daily count runs (UTC): near the end of the day it is the
/// count of, so a day's rows are about the rows it ended with.
const CRON: &str = "55 23 * * *";

/// The app's models, which a worker lends its jobs
/// ([`Worker::provide`](crate::jobs::Worker)): the tables the count reads.
#[derive(Debug, Clone)]
pub(crate) struct Models(pub(crate) Arc<[&'static ModelDef]>);

/// Counts the job's tenant's rows of every model as the rows of the day
/// the job was due (UTC), replacing an earlier count of that day (a run
/// again writes the same rows), and deletes the tenant's usage older than
/// [`RETENTION`] and its rate quotas' windows that began more than
/// [`QUOTA_WINDOWS_KEPT`] before. One writing transaction of the tenant: a statement per
/// model, each binding the tenant.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CountUsage;

impl Job for CountUsage {
    const NAME: &'static str = "rookery.count_usage";
    const QUEUE: &'static str = "rookery";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let models = ctx
            .resource::<Models>()
            .ok_or_else(|| JobError::permanent("this worker was not given the app's models (use App::worker)"))?
            .clone();
        let day = ctx.due_at().date_naive();
        let mut tx = ctx.begin_write().await?;
        for model in models.0.iter() {
            tx.record_rows(day, model).await?;
        }
        let mut pruned = match day.checked_sub_days(RETENTION) {
            Some(before) => tx.prune_usage(before).await?,
            None => 0,
        };
        // Rate quotas' windows are read while they last only.
        pruned += tx.prune_quota_windows(ctx.due_at() - QUOTA_WINDOWS_KEPT).await?;
        tx.commit().await?;
        tracing::debug!(tenant = ?ctx.tenant(), %day, models = models.0.len(), pruned, "usage rows counted");
        Ok(())
    }
}

/// Registers the daily count, for every tenant.
pub(crate) fn register(jobs: &mut Registry) {
    jobs.add::<CountUsage>();
    jobs.schedule(Schedule::new::<CountUsage>(CRON, true).expect("a valid schedule"));
}
