//! Keeping the event log bounded: every day, in every tenant, events older
//! than [`EVENT_RETENTION`] are deleted with their deliveries and attempts
//! (the foreign keys cascade). The retry schedule ends long before.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::jobs::{Job, JobContext, JobError, Schedule};

/// How long events, and so the delivery log, are kept.
pub(crate) const EVENT_RETENTION: chrono::Duration = chrono::Duration::days(30);

/// Deletes the tenant's events older than [`EVENT_RETENTION`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PruneEvents;

impl Job for PruneEvents {
    const NAME: &'static str = "rookery.webhooks.prune_events";
    const QUEUE: &'static str = "rookery";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let mut tx = ctx.begin_write().await?;
        let pruned = tx
            .sql("DELETE FROM rookery_events WHERE tenant_id = $1 AND occurred_at < $2")
            .bind(Utc::now() - EVENT_RETENTION)
            .execute()
            .await?;
        tx.commit().await?;
        if pruned > 0 {
            tracing::info!(tenant = ?ctx.tenant(), pruned, "pruned old events");
        }
        Ok(())
    }
}

/// Every tenant's prune, daily.
pub(crate) fn schedule() -> Schedule {
    Schedule::new::<PruneEvents>("41 3 * * *", true).expect("a valid schedule")
}
