//! Outgoing webhooks, the delivery engine: Standard Webhooks signatures
//! (`signing`), an HTTP client that cannot be pointed at the platform's
//! own network (`client`, `address`), what an attempt came to (`outcome`)
//! and when to try again or give up (`schedule`).
//!
//! Plain Rust over `config`; no database, no HTTP server. The job that
//! delivers an event calls, per endpoint:
//!
//! ```ignore
//! let client = WebhookClient::new(&config.webhooks);           // once per process
//! let message = Message::new(&event_id, "project.created", occurred_at, &data)?;
//! let keys = SigningKeys::new(Secret::parse(&endpoint.secret)?);  // + with_retiring(..)
//! let outcome = client.deliver(&endpoint.url, &keys, &message).await;
//! match endpoint_health(endpoint.failing_since, &outcome, Utc::now()) { .. }
//! if !outcome.delivered() { next_retry(attempts, outcome.retry_after, rand::random()) }
//! ```
//!
//! **Invariant (no SSRF):** nothing is sent to an address that
//! `address::refusal` refuses. A literal IP is judged when the URL is
//! read; a host name is resolved once per attempt, every address it
//! resolved to is judged, and only those addresses are dialed — by this
//! module's own connector, never through a proxy — so a DNS answer that
//! changes between registration and delivery (rebinding) is judged
//! again. Redirects are failures, never followed. `https` is required
//! unless `ROOKERY_WEBHOOKS_ALLOW_LOOPBACK` is on, which also allows
//! loopback addresses and nothing else.

// Public under the `testing` feature (the runtime's tests deliver to a
// real receiver), crate-internal otherwise.
#![allow(unreachable_pub)]

mod address;
mod client;
mod deliver;
pub(crate) mod log;
mod outcome;
mod prune;
mod schedule;
mod seal;
mod signing;
pub(crate) mod store;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

pub use client::WebhookClient;
pub use outcome::{DeliveryOutcome, FailureKind};
pub use seal::SealingKey;
pub use signing::{ROTATION_GRACE, Secret, SigningKeys};
// The rest of the engine's surface, for the runtime's tests.
#[cfg(feature = "testing")]
pub use address::AddressClass;
#[cfg(feature = "testing")]
pub use outcome::{DeliveryError, READ_LIMIT, SNIPPET};
#[cfg(feature = "testing")]
pub use schedule::{
    DISABLE_AFTER, DisableReason, EndpointHealth, JITTER, RETRY_AFTER_CAP, SCHEDULE, endpoint_health, next_retry,
};
#[cfg(feature = "testing")]
pub use seal::Unsealable;
#[cfg(feature = "testing")]
pub use signing::SecretError;

pub(crate) use deliver::NOTIFY_DISABLED_JOB;

use crate::audit;
use crate::db::{DbError, TenantTx, Writes};

/// What delivering needs, built once per process from the configuration:
/// the client, the key that opens the endpoints' secrets, and the queue of
/// the job that tells an owner their endpoint was disabled, when the app
/// has one ([`NOTIFY_DISABLED_JOB`]).
#[derive(Debug, Clone)]
pub(crate) struct Webhooks {
    pub(crate) client: WebhookClient,
    pub(crate) key: SealingKey,
    pub(crate) notify_queue: Option<&'static str>,
}

impl Webhooks {
    /// The services `config` describes.
    pub(crate) fn new(config: &crate::config::Config, notify_queue: Option<&'static str>) -> Self {
        Self {
            client: WebhookClient::new(&config.webhooks),
            key: SealingKey::new(config.webhook_secret_key),
            notify_queue,
        }
    }
}

/// Registers the webhook jobs: the delivery attempt and the daily prune.
pub(crate) fn register(jobs: &mut crate::jobs::Registry) {
    jobs.add::<deliver::Deliver>();
    jobs.add::<prune::PruneEvents>();
    jobs.schedule(prune::schedule());
}

/// An audit row written by the platform itself (no user acted), about
/// endpoint `endpoint`.
pub(crate) async fn audit_system(
    tx: &mut TenantTx<impl Writes>,
    action: &str,
    endpoint: uuid::Uuid,
    metadata: serde_json::Value,
) -> Result<(), DbError> {
    let entry = audit::Entry {
        action,
        target_type: "webhook_endpoint",
        target_id: endpoint.to_string(),
        request_id: None,
        metadata: Some(metadata),
    };
    audit::record_system(tx, entry).await
}

/// `webhook-id`: the event's id, the same on every attempt (receivers use
/// it as an idempotency key).
pub const HEADER_ID: &str = "webhook-id";
/// `webhook-timestamp`: the attempt's time, unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// `webhook-signature`: `v1,<base64>`, space-separated.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// A message id or event type that cannot be signed safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The id is empty, longer than 128, or has a character outside
    /// `[A-Za-z0-9_-]` (a `.` would make the signed text ambiguous).
    #[error("a webhook id is 1 to 128 of A-Z, a-z, 0-9, `_` and `-`")]
    Id,
    /// The event type is empty, longer than 128, or has a character
    /// outside `[A-Za-z0-9_.]`.
    #[error("an event type is 1 to 128 of A-Z, a-z, 0-9, `_` and `.`")]
    EventType,
}

/// One event as it is sent: its id and the body, the Standard Webhooks
/// envelope `{"type", "timestamp", "data"}`, serialised once so every
/// attempt and every endpoint sends the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    id: String,
    body: Vec<u8>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    r#type: &'a str,
    timestamp: String,
    data: &'a serde_json::Value,
}

fn is_token(text: &str, extra: char) -> bool {
    (1..=128).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == extra)
}

impl Message {
    /// The message for event `id` of `event_type` (`project.created`),
    /// which happened at `occurred_at`, carrying `data`.
    pub fn new(
        id: &str,
        event_type: &str,
        occurred_at: DateTime<Utc>,
        data: &serde_json::Value,
    ) -> Result<Self, MessageError> {
        if !is_token(id, '-') {
            return Err(MessageError::Id);
        }
        if !is_token(event_type, '.') {
            return Err(MessageError::EventType);
        }
        let envelope = Envelope {
            r#type: event_type,
            timestamp: occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            data,
        };
        let body = serde_json::to_vec(&envelope).expect("a JSON value always serialises");
        Ok(Self {
            id: id.to_owned(),
            body,
        })
    }

    /// The `webhook-id`.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bytes sent and signed.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The three Standard Webhooks headers of an attempt at `now`.
    pub fn headers(&self, keys: &SigningKeys, now: DateTime<Utc>) -> [(&'static str, String); 3] {
        let timestamp = now.timestamp();
        [
            (HEADER_ID, self.id.clone()),
            (HEADER_TIMESTAMP, timestamp.to_string()),
            (
                HEADER_SIGNATURE,
                keys.signature_header(&self.id, timestamp, &self.body, now),
            ),
        ]
    }
}

impl WebhookClient {
    /// Delivers `message` to `url` once, signed with `keys` at this
    /// moment, and says how it went. Never panics and never retries: the
    /// caller records the outcome and asks [`next_retry`] when to call
    /// again.
    pub async fn deliver(&self, url: &str, keys: &SigningKeys, message: &Message) -> DeliveryOutcome {
        let headers = message.headers(keys, Utc::now());
        self.post(url, &headers, message.body.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};
    use serde_json::json;

    use super::{Message, MessageError, Secret, SigningKeys};

    #[test]
    fn the_body_is_the_standard_envelope_and_the_headers_sign_it() {
        let at = Utc.timestamp_opt(1_674_087_231, 344_522_000).unwrap();
        let message = Message::new(
            "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
            "contact.created",
            at,
            &json!({"id": 1}),
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(message.body()).unwrap(),
            r#"{"type":"contact.created","timestamp":"2023-01-19T00:13:51.344522Z","data":{"id":1}}"#
        );
        let secret = Secret::generate();
        let [id, ts, sig] = message.headers(&SigningKeys::new(secret.clone()), at);
        assert_eq!(id, ("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W".to_owned()));
        assert_eq!(ts, ("webhook-timestamp", "1674087231".to_owned()));
        assert_eq!(sig.1, secret.sign(message.id(), 1_674_087_231, message.body()));
    }

    #[test]
    fn ids_and_types_that_could_confuse_the_signed_text_are_refused() {
        let at = Utc::now();
        let data = json!(null);
        assert_eq!(Message::new("msg.1", "a.b", at, &data), Err(MessageError::Id));
        assert_eq!(Message::new("", "a.b", at, &data), Err(MessageError::Id));
        assert_eq!(Message::new("msg_1", "a b", at, &data), Err(MessageError::EventType));
        assert_eq!(
            Message::new("msg_1", &"x".repeat(129), at, &data),
            Err(MessageError::EventType)
        );
        assert!(Message::new("msg_01J-x", "project.created", at, &data).is_ok());
    }
}
