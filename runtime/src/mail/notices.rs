//! Notices the platform mails on its own: an outgoing webhook endpoint
//! was disabled (`webhook_disabled`). The webhook delivery enqueues the
//! notice's job by name in the transaction that disables the endpoint
//! (`webhooks` sits below `mail` and does not name it); the job mails every
//! member whose role grants `webhooks.manage`, in one transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Mail;
use crate::db::{DbRow, Mode, TenantTx};
use crate::jobs::{Job, JobContext, JobError};
use crate::webhooks::store::{Read, tenant as tenant_bind};

/// The permission whose holders manage, and hear about, webhook endpoints.
const MANAGE: &str = "webhooks.manage";

/// Tells the tenant's webhook managers that endpoint `endpoint` was
/// disabled. Its payload is what `webhooks::deliver` enqueues.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WebhookDisabled {
    endpoint: Uuid,
    url: String,
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
        let roles: Vec<&str> = mailer
            .spec()
            .roles
            .iter()
            .filter(|r| r.permissions.contains(&MANAGE))
            .map(|r| r.name)
            .collect();
        let mut tx = ctx.begin_write().await?;
        let (tenant, managers) = (tenant_facts(&mut tx).await?, members(&mut tx).await?);
        let description = crate::webhooks::store::get(&mut tx, self.endpoint)
            .await?
            .map(|e| e.description)
            .unwrap_or_default();
        // The host only: a URL's query may carry the receiver's token.
        let host = url::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let since = self.since.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
        let context = serde_json::json!({
            "tenant": tenant,
            "endpoint": self.endpoint,
            "host": host,
            "description": description,
            "reason": self.reason,
            "since": since,
        });
        let mut told = 0;
        for (email, role) in &managers {
            if roles.contains(&role.as_str()) {
                let mail = Mail::new("webhook_disabled", email.as_str()).context(context.clone());
                tx.send_mail(mailer, &mail).await.map_err(JobError::retry)?;
                told += 1;
            }
        }
        tx.commit().await?;
        tracing::info!(endpoint = %self.endpoint, told, "told the webhook managers their endpoint was disabled");
        Ok(())
    }
}

/// The tenant's `name` and `slug`.
async fn tenant_facts(tx: &mut TenantTx<impl Mode>) -> Result<serde_json::Value, JobError> {
    let tenant = tx.tenant();
    let row = tx
        .fetch_optional(
            "SELECT name, slug FROM tenants WHERE id = $1".into(),
            vec![tenant_bind(tenant)],
        )
        .await?
        .ok_or_else(|| JobError::permanent("the tenant is gone"))?;
    let mut r = Read::new(&row, 0);
    Ok(serde_json::json!({ "name": r.text()?, "slug": r.text()? }))
}

/// Every member's email and role.
async fn members(tx: &mut TenantTx<impl Mode>) -> Result<Vec<(String, String)>, JobError> {
    let tenant = tx.tenant();
    let rows: Vec<DbRow> = tx
        .fetch_all(
            "SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.tenant_id = $1 ORDER BY m.created_at, m.user_id"
                .into(),
            vec![tenant_bind(tenant)],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = Read::new(row, 0);
            Ok((r.text()?, r.text()?))
        })
        .collect()
}
