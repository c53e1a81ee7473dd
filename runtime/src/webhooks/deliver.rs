//! The delivery job: one attempt of one delivery, in the delivery's
//! tenant. It reads the delivery, sends it (no transaction open while it
//! waits for the endpoint), then in one transaction records the attempt,
//! settles the delivery, enqueues the next attempt on the retry schedule
//! (`next_retry`, hours long: each attempt is a job of its own, due when
//! the schedule says) and keeps the endpoint's health, disabling it and
//! having the tenant's webhook managers told when `endpoint_health` says so.
//!
//! Idempotent: the job of attempt `n` does nothing once the delivery has
//! `n` attempts or is no longer pending, and the attempt's row is unique,
//! so a job that runs twice (its worker lost its lease) records once.
//! Like every job it is at least once: a worker that dies after sending
//! and before recording sends again, with the same `webhook-id`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::log::{self, Due, Outcome};
use super::schedule::{DisableReason, EndpointHealth, endpoint_health, next_retry};
use super::{DeliveryOutcome, Message, SigningKeys, Webhooks, store};
use crate::db::{DELIVER_JOB, DELIVER_QUEUE, TenantTx, Writing};
use crate::jobs::{EnqueueOptions, Job, JobContext, JobError};
use crate::metrics::{Labels, WebhookAttempts};

/// One attempt of one delivery (the fan-out enqueues attempt 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Deliver {
    delivery: Uuid,
    /// The attempt's number over the delivery's life.
    attempt: u32,
    /// Its place in the retry schedule (1 after a fan-out or a redelivery).
    step: u32,
}

impl Job for Deliver {
    const NAME: &'static str = DELIVER_JOB;
    const QUEUE: &'static str = DELIVER_QUEUE;
    const MAX_ATTEMPTS: u32 = crate::db::DELIVER_MAX_ATTEMPTS;

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let Some(webhooks) = ctx.webhooks() else {
            return Err(JobError::retry("this worker has no webhook configuration"));
        };
        let mut tx = ctx.begin().await?;
        let due = log::due(&mut tx, self.delivery).await?;
        tx.finish_read();
        let Some(due) = due else { return Ok(()) };
        if due.state != "pending" || u32::try_from(due.attempts).unwrap_or(u32::MAX) >= self.attempt {
            return Ok(());
        }
        if !due.endpoint.enabled {
            let mut tx = ctx.begin_write().await?;
            log::abandon(&mut tx, self.delivery, "endpoint_disabled").await?;
            tx.commit().await?;
            return Ok(());
        }
        let tenant = ctx
            .tenant()
            .ok_or_else(|| JobError::permanent("a delivery has a tenant"))?;
        let sent = match prepare(webhooks, tenant, &due) {
            Ok((keys, message)) => {
                let outcome = webhooks.client.deliver(&due.endpoint.url, &keys, &message).await;
                Sent::Attempted(outcome)
            }
            Err(refusal) => Sent::Refused(refusal),
        };
        let mut tx = ctx.begin_write().await?;
        let counted = self.record(&mut tx, webhooks, &due, sent).await?;
        tx.commit().await?;
        if let (Some(labels), Some(attempts)) = (counted, ctx.resource::<WebhookAttempts>()) {
            attempts.0.get_or_create(&labels).inc();
        }
        Ok(())
    }
}

/// What became of the attempt.
enum Sent {
    /// It was made.
    Attempted(DeliveryOutcome),
    /// It could not be made (the secret does not open, the event cannot be
    /// signed): the delivery fails at once, the endpoint's health untouched.
    Refused(Outcome),
}

/// The keys and the message, or why they cannot be had.
fn prepare(webhooks: &Webhooks, tenant: crate::TenantId, due: &Due) -> Result<(SigningKeys, Message), Outcome> {
    let refused = |kind: &'static str, error: String| Outcome {
        status: None,
        latency_ms: 0,
        error_kind: Some(kind),
        error: Some(error),
        response: String::new(),
    };
    let endpoint = &due.endpoint;
    let current = webhooks
        .key
        .open(tenant, endpoint.id, &endpoint.secret)
        .map_err(|e| refused("secret", e.to_string()))?;
    let mut keys = SigningKeys::new(current);
    if let (Some(old), Some(until)) = (&endpoint.retiring_secret, endpoint.previous_secret_until)
        && until > Utc::now()
        && let Ok(old) = webhooks.key.open(tenant, endpoint.id, old)
    {
        keys = keys.with_retiring(old, until);
    }
    let id = due.event_id.hyphenated().to_string();
    let message = Message::new(&id, &due.event_type, due.occurred_at, &due.data)
        .map_err(|e| refused("invalid_event", e.to_string()))?;
    Ok((keys, message))
}

fn recorded(outcome: &DeliveryOutcome) -> Outcome {
    Outcome {
        status: outcome.status,
        latency_ms: i64::try_from(outcome.latency.as_millis()).unwrap_or(i64::MAX),
        error_kind: outcome.kind().map(super::FailureKind::as_str),
        error: outcome.error.as_ref().map(ToString::to_string),
        response: outcome.response.clone(),
    }
}

impl Deliver {
    async fn record(
        &self,
        tx: &mut TenantTx<Writing>,
        webhooks: &Webhooks,
        due: &Due,
        sent: Sent,
    ) -> Result<Option<Labels<2>>, JobError> {
        let now = Utc::now();
        let (outcome, attempted) = match sent {
            Sent::Attempted(outcome) => (recorded(&outcome), Some(outcome)),
            Sent::Refused(outcome) => (outcome, None),
        };
        if !log::record_attempt(tx, self.delivery, self.attempt, &outcome, now).await? {
            return Ok(None);
        }
        let error = outcome.error_kind.unwrap_or("none");
        let Some(attempted) = attempted else {
            log::settle(tx, self.delivery, self.attempt, "failed", None, &outcome, now).await?;
            return Ok(Some([("outcome", "failed"), ("error", error)]));
        };
        let endpoint = due.endpoint.id;
        let health = endpoint_health(due.endpoint.failing_since, &attempted, now);
        let next = match (&attempted.error, health) {
            (None, _) | (_, EndpointHealth::Disable { .. }) => None,
            (Some(error), _) if !error.retryable() => None,
            (Some(_), _) => next_retry(self.step, attempted.retry_after, rand::random()),
        };
        let counted = match (&next, attempted.delivered()) {
            (_, true) => "delivered",
            (Some(_), false) => "retried",
            (None, false) => "failed",
        };
        match next {
            Some(wait) => {
                let at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(10));
                log::settle(tx, self.delivery, self.attempt, "pending", Some(at), &outcome, now).await?;
                let next = Deliver {
                    delivery: self.delivery,
                    attempt: self.attempt + 1,
                    step: self.step + 1,
                };
                tx.enqueue_with(&next, EnqueueOptions::new().run_at(at).key(next.key()))
                    .await?;
            }
            None => {
                let state = if attempted.delivered() { "delivered" } else { "failed" };
                log::settle(tx, self.delivery, self.attempt, state, None, &outcome, now).await?;
            }
        }
        match health {
            EndpointHealth::Healthy => store::set_failing(tx, endpoint, None).await?,
            EndpointHealth::Failing { since } => store::set_failing(tx, endpoint, Some(since)).await?,
            EndpointHealth::Disable { reason } => disable(tx, webhooks, &due.endpoint, reason, now).await?,
        }
        Ok(Some([("outcome", counted), ("error", error)]))
    }

    /// The idempotency key of this attempt's job (the fan-out's rule).
    fn key(&self) -> String {
        crate::db::delivery_job(self.delivery, self.attempt, self.step).1
    }
}

/// The job that tells an endpoint's managers it was disabled (payload:
/// `endpoint`, `reason`, `since`): `mail` registers it with every app (a
/// level above, so it is named here, not imported); the audit row
/// `webhook_endpoint.disable` is written in the same transaction.
pub(crate) const NOTIFY_DISABLED_JOB: &str = "rookery.mail.webhook_disabled";

/// Disables the endpoint for `reason`: the endpoint row, an audit row by
/// the platform, and the managers' notice.
async fn disable(
    tx: &mut TenantTx<Writing>,
    webhooks: &Webhooks,
    endpoint: &store::Endpoint,
    reason: DisableReason,
    now: DateTime<Utc>,
) -> Result<(), JobError> {
    let (word, since) = match reason {
        DisableReason::Gone => ("gone", None),
        DisableReason::FailingSince { since } => ("failing", Some(since)),
    };
    if !store::disable(tx, endpoint.id, word, now).await? {
        return Ok(());
    }
    tracing::warn!(endpoint = %endpoint.id, tenant = %tx.tenant(), reason = word, "webhook endpoint disabled");
    // The audit row names the host only: a URL's query may carry a token.
    let host = url::Url::parse(&endpoint.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    let facts = serde_json::json!({ "host": host, "reason": word, "since": since });
    super::audit_system(tx, "webhook_endpoint.disable", endpoint.id, facts).await?;
    if let Some(queue) = webhooks.notify_queue {
        let notice = serde_json::json!({ "endpoint": endpoint.id, "reason": word, "since": since });
        let key = format!("disabled:{}:{}", endpoint.id, now.timestamp_micros());
        tx.enqueue_raw(queue, NOTIFY_DISABLED_JOB, &notice, &key).await?;
    }
    Ok(())
}
