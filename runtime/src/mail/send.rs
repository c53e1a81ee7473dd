//! The jobs of mail: sending one message (to the SMTP server, or into the
//! outbox), and pruning old messages.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::smtp::SendError;
use crate::db::MailOutcome;
use crate::jobs::{Job, JobContext, JobError, Registry, Schedule};

/// How long messages are kept after they were queued (sent ones without
/// their body): the outbox and the delivery log.
const RETENTION: chrono::Duration = chrono::Duration::days(7);

/// Sends stored message `mail` of the job's tenant.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SendMail {
    pub(super) mail: Uuid,
}

impl Job for SendMail {
    const NAME: &'static str = "rookery.send_mail";
    const QUEUE: &'static str = "mail";
    /// With the default backoff (2 s doubling, at most an hour), about
    /// five hours of attempts: long enough for greylisting and a
    /// provider's outage.
    const MAX_ATTEMPTS: u32 = 16;

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let mailer = ctx.mailer()?;
        let mut tx = ctx.begin().await?;
        let stored = tx.load_mail(self.mail).await?;
        tx.finish_read();
        // Pruned, or its tenant deleted: nothing left to send.
        let Some(stored) = stored else { return Ok(()) };
        // An earlier run delivered it, and then could not finish its job.
        if matches!(stored.state.as_str(), "sent" | "outbox") {
            return Ok(());
        }
        let app = mailer.inner.spec.name;
        let ran = match &mailer.inner.smtp {
            None => {
                tracing::info!(mail = %stored.id, template = %stored.template,
                    "mail kept in the outbox (no SMTP_URL); read it with `{app} mail show {}`", stored.id);
                Ran::Outbox
            }
            Some(smtp) => match smtp.send(&stored).await {
                Ok(()) => {
                    tracing::info!(mail = %stored.id, template = %stored.template, server = smtp.server(), "mail sent");
                    Ran::Sent
                }
                Err(SendError::Permanent(error)) => {
                    tracing::warn!(mail = %stored.id, %error, "the SMTP server refused the mail for good");
                    Ran::Failed { error, permanent: true }
                }
                Err(SendError::Transient(error)) if ctx.is_last_attempt() => Ran::Failed {
                    error,
                    permanent: false,
                },
                Err(SendError::Transient(error)) => Ran::Deferred(error),
            },
        };
        let outcome = match &ran {
            Ran::Outbox => MailOutcome::Outbox,
            Ran::Sent => MailOutcome::Sent,
            Ran::Failed { error, .. } => MailOutcome::Failed { error },
            Ran::Deferred(error) => MailOutcome::Deferred { error },
        };
        let mut tx = ctx.begin_write().await?;
        tx.mark_mail(stored.id, outcome).await?;
        tx.commit().await?;
        match ran {
            Ran::Outbox | Ran::Sent => Ok(()),
            Ran::Failed { error, permanent: true } => Err(JobError::permanent(error)),
            Ran::Failed { error, .. } | Ran::Deferred(error) => Err(JobError::retry(error)),
        }
    }
}

/// How a send attempt went.
enum Ran {
    Outbox,
    Sent,
    /// The message is failed: refused for good, or out of attempts.
    Failed {
        error: String,
        permanent: bool,
    },
    /// Another attempt follows.
    Deferred(String),
}

/// Deletes messages (sent, failed, or in the outbox) a week after they
/// were queued.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PruneMail;

impl Job for PruneMail {
    const NAME: &'static str = "rookery.prune_mail";
    const QUEUE: &'static str = "rookery";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let pruned = ctx.db().prune_mail(Utc::now() - RETENTION).await?;
        tracing::info!(pruned, "pruned old mail");
        let detail = serde_json::json!({ "deleted": pruned });
        ctx.db().audit_platform(&ctx.actor(), "mail.prune", &detail).await?;
        Ok(())
    }
}

/// Registers the mail jobs and their schedule with an app.
pub(crate) fn register(jobs: &mut Registry) {
    jobs.add::<SendMail>();
    jobs.add::<PruneMail>();
    jobs.add::<super::notices::WebhookDisabled>();
    jobs.add::<super::notices::TenantDeletion>();
    jobs.schedule(Schedule::new::<PruneMail>("29 3 * * *", false).expect("a valid schedule"));
}
