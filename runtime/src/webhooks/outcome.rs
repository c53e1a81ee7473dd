//! What one delivery attempt came to: the outcome the delivery log
//! records, and the typed reason of a failure.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::address::AddressClass;

/// Why a delivery attempt failed. Only a `2xx` answer is a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The endpoint is not an absolute `https://` URL with a host (and no
    /// credentials in it).
    #[error("not a webhook endpoint URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The endpoint is `http://`: deliveries need `https` unless the
    /// loopback switch (tests and development) is on.
    #[error("webhook endpoints must use https")]
    InsecureScheme,
    /// The host is, or resolved to, an address deliveries may not reach
    /// (loopback, private, link-local, …). Nothing was sent.
    #[error("{host} is {address}, a {class} address: webhooks are not delivered there")]
    RefusedAddress {
        /// The host as the URL names it.
        host: String,
        /// The address refused.
        address: IpAddr,
        /// Why it is refused.
        class: AddressClass,
    },
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Dns {
        /// The host.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// No connection could be opened in time (`ROOKERY_WEBHOOKS_CONNECT_TIMEOUT`).
    #[error("no connection within {}s", .after.as_secs_f32())]
    ConnectTimeout {
        /// The connect timeout.
        after: Duration,
    },
    /// The connection was refused or failed.
    #[error("cannot connect to {address}: {reason}")]
    Connect {
        /// The last address tried.
        address: SocketAddr,
        /// What the network said.
        reason: String,
    },
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS handshake failed: {reason}")]
    Tls {
        /// What rustls said.
        reason: String,
    },
    /// No response within the delivery's time (`ROOKERY_WEBHOOKS_TIMEOUT`).
    #[error("no response within {}s", .after.as_secs_f32())]
    Timeout {
        /// The delivery timeout.
        after: Duration,
    },
    /// The HTTP exchange failed: the connection closed before a response,
    /// or the response was not HTTP.
    #[error("HTTP exchange failed: {reason}")]
    Protocol {
        /// What hyper said.
        reason: String,
    },
    /// A `3xx` answer: redirects are never followed (update the endpoint's
    /// URL instead).
    #[error("the endpoint answered {status}, a redirect, which is not followed")]
    Redirect {
        /// The status.
        status: u16,
        /// Its `Location`, if any.
        location: Option<String>,
    },
    /// Any other non-`2xx` answer.
    #[error("the endpoint answered {status}")]
    Status {
        /// The status.
        status: u16,
    },
}

/// The kind of a failure, for the delivery log and metrics (a bounded
/// set of labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// [`DeliveryError::InvalidUrl`] or [`DeliveryError::InsecureScheme`].
    InvalidUrl,
    /// [`DeliveryError::RefusedAddress`].
    RefusedAddress,
    /// [`DeliveryError::Dns`].
    Dns,
    /// [`DeliveryError::Connect`] or [`DeliveryError::ConnectTimeout`].
    Connect,
    /// [`DeliveryError::Tls`].
    Tls,
    /// [`DeliveryError::Timeout`].
    Timeout,
    /// [`DeliveryError::Protocol`].
    Protocol,
    /// [`DeliveryError::Redirect`].
    Redirect,
    /// [`DeliveryError::Status`].
    Status,
}

impl FailureKind {
    /// A stable snake_case name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUrl => "invalid_url",
            Self::RefusedAddress => "refused_address",
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::Protocol => "protocol",
            Self::Redirect => "redirect",
            Self::Status => "status",
        }
    }
}

impl DeliveryError {
    /// Its kind.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::InvalidUrl { .. } | Self::InsecureScheme => FailureKind::InvalidUrl,
            Self::RefusedAddress { .. } => FailureKind::RefusedAddress,
            Self::Dns { .. } => FailureKind::Dns,
            Self::ConnectTimeout { .. } | Self::Connect { .. } => FailureKind::Connect,
            Self::Tls { .. } => FailureKind::Tls,
            Self::Timeout { .. } => FailureKind::Timeout,
            Self::Protocol { .. } => FailureKind::Protocol,
            Self::Redirect { .. } => FailureKind::Redirect,
            Self::Status { .. } => FailureKind::Status,
        }
    }

    /// Whether a later attempt could succeed. An endpoint URL that is not
    /// one never becomes one; everything else (a refused address too: DNS
    /// answers change) is retried on the schedule, and an endpoint that
    /// keeps failing is disabled ([`super::schedule::EndpointHealth`]).
    pub fn retryable(&self) -> bool {
        !matches!(self, Self::InvalidUrl { .. } | Self::InsecureScheme)
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryOutcome {
    /// The response's status, when one arrived (also for a redirect or an
    /// error status).
    pub status: Option<u16>,
    /// From the start of the attempt (resolving included) to the
    /// response's status, or to the failure.
    pub latency: Duration,
    /// Why it failed; `None` when it was delivered (`2xx`).
    pub error: Option<DeliveryError>,
    /// The start of the response body (at most [`SNIPPET`] bytes, lossy
    /// UTF-8), for the endpoint's owner to debug with.
    pub response: String,
    /// The response's `Retry-After` in seconds, if it gave one.
    pub retry_after: Option<Duration>,
}

/// Bytes of a response body kept in [`DeliveryOutcome::response`].
pub const SNIPPET: usize = 1024;
/// Bytes of a response body read at most; the rest is not waited for.
pub const READ_LIMIT: usize = 64 * 1024;

impl DeliveryOutcome {
    /// An attempt that failed before any response.
    pub(super) fn failed(error: DeliveryError, latency: Duration) -> Self {
        Self {
            status: None,
            latency,
            error: Some(error),
            response: String::new(),
            retry_after: None,
        }
    }

    /// Whether the endpoint answered `2xx`.
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }

    /// The failure's kind, `None` when delivered.
    pub fn kind(&self) -> Option<FailureKind> {
        self.error.as_ref().map(DeliveryError::kind)
    }

    /// The endpoint answered `410 Gone`: it wants no more deliveries (the
    /// Standard Webhooks spec: disable it).
    pub fn gone(&self) -> bool {
        self.status == Some(410)
    }
}

/// The first [`SNIPPET`] bytes of `body` as text (a character cut in two
/// at the end is dropped).
pub(super) fn snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(SNIPPET)];
    match std::str::from_utf8(cut) {
        Ok(text) => text.to_owned(),
        Err(e) if e.error_len().is_none() => String::from_utf8_lossy(&cut[..e.valid_up_to()]).into_owned(),
        Err(_) => String::from_utf8_lossy(cut).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_snippet_is_a_prefix_cut_at_a_character() {
        assert_eq!(super::snippet(b"ok"), "ok");
        let long = "é".repeat(super::SNIPPET);
        let cut = super::snippet(long.as_bytes());
        assert_eq!(cut.len(), super::SNIPPET, "512 two-byte characters");
        let odd = format!("x{long}");
        assert_eq!(
            super::snippet(odd.as_bytes()).len(),
            super::SNIPPET - 1,
            "the split one is dropped"
        );
        assert_eq!(super::snippet(b"\xff\xfeok"), "\u{fffd}\u{fffd}ok");
    }
}
