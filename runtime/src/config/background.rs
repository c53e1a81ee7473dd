//! The background's configuration: job workers (`ROOKERY_JOBS_*`) and
//! outgoing webhooks (`ROOKERY_WEBHOOKS_*`).

use super::{ConfigError, Env};

/// How this process runs background jobs (`ROOKERY_JOBS_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsConfig {
    /// Whether `serve` runs workers too.
    pub in_serve: bool,
    /// Queues to work and their concurrency; empty: every queue of the app
    /// at [`JobsConfig::concurrency`].
    pub queues: Vec<(String, u32)>,
    /// Jobs at once per queue.
    pub concurrency: u32,
    /// Jobs of one tenant at once per queue; `None`: half the queue's
    /// concurrency, at least 1; `Some(0)`: no bound.
    pub tenant_cap: Option<u32>,
    /// Lease of a claimed job.
    pub lease: std::time::Duration,
    /// Poll interval of an idle queue.
    pub poll: std::time::Duration,
}

/// How outgoing webhooks are delivered (`ROOKERY_WEBHOOKS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// Loopback addresses (and plain `http`) are allowed: tests and
    /// development only. Private, link-local and other internal ranges
    /// are refused all the same.
    pub allow_loopback: bool,
    /// How long one delivery may take in all: resolving, connecting, TLS,
    /// sending and the response's status and headers.
    pub timeout: std::time::Duration,
    /// How long resolving the host and connecting may take.
    pub connect_timeout: std::time::Duration,
}

impl Default for WebhookConfig {
    /// No loopback, 10 seconds in all, 5 to connect.
    fn default() -> Self {
        Self {
            allow_loopback: false,
            timeout: std::time::Duration::from_secs(10),
            connect_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// `ROOKERY_JOBS_*`; `embedded`: the database is SQLite, where `serve`
/// runs the workers by default.
pub(super) fn jobs_from_env(env: &Env<'_>, embedded: bool) -> Result<JobsConfig, ConfigError> {
    Ok(JobsConfig {
        in_serve: env.parse("ROOKERY_JOBS_IN_SERVE", embedded)?,
        queues: queues(env.var("ROOKERY_JOBS_QUEUES").as_deref())?,
        concurrency: env.ranged("ROOKERY_JOBS_CONCURRENCY", 4, 1..=1000)?,
        tenant_cap: match env.var("ROOKERY_JOBS_TENANT_CAP") {
            None => None,
            Some(_) => Some(env.ranged("ROOKERY_JOBS_TENANT_CAP", 0, 0..=1000)?),
        },
        lease: std::time::Duration::from_secs(env.ranged("ROOKERY_JOBS_LEASE", 60, 5..=3600)?),
        poll: std::time::Duration::from_millis(env.ranged("ROOKERY_JOBS_POLL_MS", 1000, 10..=60_000)?),
    })
}

/// `ROOKERY_WEBHOOKS_*`, and the key that seals endpoints' secrets
/// (SHA-256 of `ROOKERY_WEBHOOKS_SECRET_KEY`, else an HMAC of `pepper`);
/// `live` refuses loopback.
pub(super) fn webhooks_from_env(
    env: &Env<'_>,
    live: bool,
    pepper: &[u8],
) -> Result<(WebhookConfig, [u8; 32]), ConfigError> {
    let webhooks = WebhookConfig {
        allow_loopback: env.parse("ROOKERY_WEBHOOKS_ALLOW_LOOPBACK", false)?,
        timeout: std::time::Duration::from_secs(env.ranged("ROOKERY_WEBHOOKS_TIMEOUT", 10, 1..=60)?),
        connect_timeout: std::time::Duration::from_secs(env.ranged("ROOKERY_WEBHOOKS_CONNECT_TIMEOUT", 5, 1..=60)?),
    };
    if live && webhooks.allow_loopback {
        return Err(ConfigError::Invalid {
            name: "ROOKERY_WEBHOOKS_ALLOW_LOOPBACK",
            message: "is for tests and development; ROOKERY_ENV=live refuses it".into(),
        });
    }
    let webhook_secret_key = match env.var("ROOKERY_WEBHOOKS_SECRET_KEY") {
        Some(k) if k.len() >= 32 => {
            use sha2::Digest as _;
            sha2::Sha256::digest(k.as_bytes()).into()
        }
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_WEBHOOKS_SECRET_KEY",
                message: "must be at least 32 bytes".into(),
            });
        }
        None => {
            use hmac::Mac as _;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(pepper).expect("HMAC takes any key length");
            mac.update(b"rookery webhooks secret key");
            mac.finalize().into_bytes().into()
        }
    };
    Ok((webhooks, webhook_secret_key))
}

/// `ROOKERY_JOBS_QUEUES`: `name[:concurrency]`, comma-separated.
fn queues(text: Option<&str>) -> Result<Vec<(String, u32)>, ConfigError> {
    let bad = |message: String| ConfigError::Invalid {
        name: "ROOKERY_JOBS_QUEUES",
        message,
    };
    let mut out: Vec<(String, u32)> = Vec::new();
    for entry in text.unwrap_or("").split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, n) = match entry.split_once(':') {
            Some((name, n)) => (
                name.trim(),
                n.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad(format!("`{entry}`: the concurrency must be an integer from 1 to 1000")))?,
            ),
            None => (entry, 0),
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(format!("`{name}` is not a queue name (letters, digits, `_`, `-`)")));
        }
        if out.iter().any(|(q, _)| q == name) {
            return Err(bad(format!("queue `{name}` is listed twice")));
        }
        out.push((name.to_owned(), n));
    }
    Ok(out)
}
