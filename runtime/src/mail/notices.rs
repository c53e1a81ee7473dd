//! Notices the platform mails on its own: an outgoing webhook endpoint
//! was disabled (`webhook_disabled`), deleting the tenant was asked for or
//! cancelled (`tenant_deletion`, to the members whose role grants
//! `tenant.delete`: told by `erasure` the same way, by the job's name). The webhook delivery enqueues the
//! notice's job by name in the transaction that disables the endpoint
//! (`webhooks` sits below `mail` and does not name it); the job mails every
//! member whose role grants `webhooks.manage`, in one transaction, each
//! message's id derived from the job and the recipient, so a job that runs
//! twice mails each manager once. An endpoint enabled again (or deleted)
//! before the job runs is told about to nobody.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use uuid::Uuid;

use super::{Mail, MailError};
use crate::app_spec::AppSpec;
use crate::db::{Mode, TenantTx};
use crate::jobs::{Job, JobContext, JobError};

/// The permission whose holders manage, and hear about, webhook endpoints.
const MANAGE: &str = "webhooks.manage";

/// Tells the tenant's webhook managers that endpoint `endpoint` was
/// disabled. Its payload is what `webhooks::deliver` enqueues.
/// The URL is not in the payload (its query may carry the receiver's
/// token, and dead jobs are kept): the job reads the endpoint's row.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WebhookDisabled {
    endpoint: Uuid,
    /// `gone` (it answered 410) or `failing` (for days).
    reason: String,
    /// When the failures began (none for `gone`).
    since: Option<DateTime<Utc>>,
}

impl Job for WebhookDisabled {
    const NAME: &'static str = crate::webhooks::NOTIFY_DISABLED_JOB;
    const QUEUE: &'static str = "mail";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let mailer = ctx.mailer()?;
        let mut tx = ctx.begin_write().await?;
        let endpoint = match crate::webhooks::store::get(&mut tx, self.endpoint).await? {
            Some(e) if !e.enabled => e,
            _ => {
                tracing::info!(endpoint = %self.endpoint, "webhook endpoint enabled again or deleted: nobody told");
                return Ok(());
            }
        };
        let tenant = tenant_facts(&mut tx).await?;
        let managers = members(mailer.spec(), &mut tx, MANAGE).await?;
        // The host only: a URL's query may carry the receiver's token.
        let host = url::Url::parse(&endpoint.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "(no host)".into());
        let since = self.since.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
        let context = serde_json::json!({
            "tenant": tenant,
            "endpoint": self.endpoint,
            "host": host,
            "description": endpoint.description,
            "reason": self.reason,
            "since": since,
            "api_prefix": mailer.spec().api_prefix,
        });
        let mut told = 0;
        for (email, _) in &managers {
            let mail = Mail::new("webhook_disabled", email.as_str()).context(context.clone());
            match tx.send_mail_as(mailer, &mail, message_id(ctx.id(), email)).await {
                Ok(_) => told += 1,
                // One member's address a mail server would not take does
                // not keep the others from being told.
                Err(MailError::Address) => {
                    tracing::warn!(endpoint = %self.endpoint, "a webhook manager's address takes no mail: not told");
                }
                Err(e @ (MailError::Db(_) | MailError::Enqueue(_))) => return Err(JobError::retry(e)),
                // A template (the app's own) that does not render never will.
                Err(e) => return Err(JobError::permanent(e)),
            }
        }
        tx.commit().await?;
        tracing::info!(endpoint = %self.endpoint, told, "told the webhook managers their endpoint was disabled");
        Ok(())
    }
}

/// Tells the members who may delete the tenant that its deletion was
/// asked for (`requested`, while it is still pending) or cancelled
/// (`cancelled`, while none is pending): the payload `erasure` enqueues.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct TenantDeletion {
    /// `requested` or `cancelled`.
    state: String,
}

impl Job for TenantDeletion {
    const NAME: &'static str = crate::erasure::NOTIFY_JOB;
    const QUEUE: &'static str = crate::erasure::NOTIFY_QUEUE;

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let mailer = ctx.mailer()?;
        let mut tx = ctx.begin_write().await?;
        let Some((erase_after,)): Option<(Option<DateTime<Utc>>,)> = tx
            .sql("SELECT erase_after FROM tenants WHERE id = $1")
            .fetch_optional()
            .await?
        else {
            // Erased already (a grace period of 0): nobody to tell.
            return Ok(());
        };
        let requested = self.state == "requested";
        if requested != erase_after.is_some() {
            tracing::info!(state = %self.state, "the tenant's deletion changed again before its notice: nobody told");
            return Ok(());
        }
        let tenant = tenant_facts(&mut tx).await?;
        let members = members(mailer.spec(), &mut tx, crate::erasure::PERMISSION).await?;
        let context = serde_json::json!({
            "tenant": tenant,
            "state": self.state,
            "erase_after": erase_after.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            "api_prefix": mailer.spec().api_prefix,
        });
        let mut told = 0;
        for (email, role) in &members {
            let mail = Mail::new("tenant_deletion", email.as_str()).context(context.clone());
            match tx.send_mail_as(mailer, &mail, message_id(ctx.id(), email)).await {
                Ok(_) => told += 1,
                Err(MailError::Address) => {
                    tracing::warn!(role = %role, "a member's address takes no mail: not told of the deletion");
                }
                Err(e @ (MailError::Db(_) | MailError::Enqueue(_))) => return Err(JobError::retry(e)),
                Err(e) => return Err(JobError::permanent(e)),
            }
        }
        tx.commit().await?;
        tracing::info!(state = %self.state, told, "told the tenant's owners of its deletion");
        Ok(())
    }
}

/// The id of the notice of job `job` to `email`: the same on every run
/// (job ids are unique across kinds).
fn message_id(job: Uuid, email: &str) -> Uuid {
    let digest = sha2::Sha256::new()
        .chain_update(b"rookery.mail.webhook_disabled\0")
        .chain_update(job.as_bytes())
        .chain_update(email.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The tenant's `name` and `slug`.
async fn tenant_facts(tx: &mut TenantTx<impl Mode>) -> Result<serde_json::Value, JobError> {
    let (name, slug): (String, String) = tx
        .sql("SELECT name, slug FROM tenants WHERE id = $1")
        .fetch_optional()
        .await?
        .ok_or_else(|| JobError::permanent("the tenant is gone"))?;
    Ok(serde_json::json!({ "name": name, "slug": slug }))
}

/// Every active member's email and role whose role (the spec's or one of
/// the tenant's custom roles) grants `permission` (a former member is
/// mailed nothing).
async fn members(
    spec: &'static AppSpec,
    tx: &mut TenantTx<impl Mode>,
    permission: &str,
) -> Result<Vec<(String, String)>, JobError> {
    let members: Vec<(String, String)> = tx
        .sql(
            "SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.tenant_id = $1 AND m.status = 'active' ORDER BY m.created_at, m.user_id",
        )
        .fetch_all()
        .await?;
    let custom = crate::rbac::CustomRoles::read(tx, spec).await?;
    Ok(members
        .into_iter()
        .filter(|(_, role)| {
            crate::rbac::by_key(spec, &custom, role).is_some_and(|r| crate::rbac::allows(&r, permission))
        })
        .collect())
}
