//! Jobs written by hand.
//!
//! - [`ArchiveSummary`]: a typed job that `POST /projects/{id}/archive`
//!   enqueues in its own transaction (so it exists only if the archive
//!   committed); it records the archived project's final task counts.
//! - [`StaleTasksDigest`]: the job `rookery.toml` schedules by name
//!   (`[jobs.stale_tasks_digest]`, Mondays 07:00 UTC, once per tenant); it
//!   counts each tenant's tasks open for more than a week.
//!
//! Both write an audit row, in the job's tenant's transaction.

use rookery::audit::{self, Entry};
use rookery::jobs::{Job, JobContext, JobError};
use rookery::serde_json::json;
use rookery::{Actor, UserId};
use serde::{Deserialize, Serialize};

use crate::generated::models::ProjectId;

/// Records an archived project's final task counts (audit row
/// `project.archive_summary`), on behalf of whoever archived it, once: a
/// second run finds the row and writes nothing.
#[derive(Debug, Serialize, Deserialize)]
pub struct ArchiveSummary {
    /// The archived project.
    pub project: ProjectId,
    /// Who archived it.
    pub by: UserId,
}

impl Job for ArchiveSummary {
    const NAME: &'static str = "project_archive_summary";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let mut tx = ctx.begin_write().await?;
        // Jobs run at least once: a run after a crash that came after this
        // job's commit finds its row and writes nothing more.
        let (written,): (i64,) = tx
            .sql("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'project.archive_summary' AND target_id = $2")
            .bind(self.project.to_string())
            .fetch_one()
            .await?;
        if written > 0 {
            return Ok(());
        }
        let (tasks, done): (i64, i64) = tx
            .sql("SELECT count(*), count(*) FILTER (WHERE done) FROM tasks WHERE tenant_id = $1 AND project_id = $2")
            .bind(self.project)
            .fetch_one()
            .await?;
        let entry = Entry {
            action: "project.archive_summary",
            target_type: "project",
            target_id: self.project.to_string(),
            request_id: None,
            metadata: Some(json!({ "tasks": tasks, "done": done, "job": ctx.id() })),
        };
        audit::record(&mut tx, Actor::User(self.by), entry).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Counts a tenant's tasks open for more than a week (audit row
/// `tasks.stale_digest`, naming the tenant's owner). Scheduled by
/// `rookery.toml`, so its payload is `null`: a unit struct.
#[derive(Debug, Serialize, Deserialize)]
pub struct StaleTasksDigest;

impl Job for StaleTasksDigest {
    const NAME: &'static str = "stale_tasks_digest";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let week_ago = ctx.due_at() - rookery::chrono::Duration::days(7);
        let mut tx = ctx.begin_write().await?;
        let (stale,): (i64,) = tx
            .sql("SELECT count(*) FROM tasks WHERE tenant_id = $1 AND NOT done AND created_at < $2")
            .bind(week_ago)
            .fetch_one()
            .await?;
        // The audit row names the tenant's first member (its owner).
        let owner: Option<(UserId,)> = tx
            .sql("SELECT user_id FROM memberships WHERE tenant_id = $1 ORDER BY created_at LIMIT 1")
            .fetch_optional()
            .await?;
        let Some((owner,)) = owner else {
            return Ok(());
        };
        let entry = Entry {
            action: "tasks.stale_digest",
            target_type: "tenant",
            target_id: ctx.tenant().map(|t| t.to_string()).unwrap_or_default(),
            request_id: None,
            metadata: Some(json!({ "stale_tasks": stale, "as_of": ctx.due_at() })),
        };
        audit::record(&mut tx, Actor::User(owner), entry).await?;
        tx.commit().await?;
        Ok(())
    }
}
