//! Metrics: what `/metrics` shows Prometheus, kept in atomics and written
//! out in the text formats of the official client (`prometheus-client`).
//!
//! Level 0: no I/O, nothing of the database or HTTP; the modules that
//! count things hold a [`Metrics`] (the app's, `AppState::metrics`) and
//! call it. Requests by route are [`routes`]; every other metric is a
//! field declared in one line of the `families!` list below: its doc
//! comment is the `HELP` text, its labels a fixed-size array of
//! `(&'static str, &'static str)` pairs (so no runtime value, a tenant id
//! least of all, can become a label: the type refuses it), its value a
//! prometheus-client [`Counter`] or [`Gauge`]. A later metric is one more
//! line, and one call where it happens:
//!
//! ```ignore
//! /// Jobs that failed, by queue.
//! job_failures: Family<Labels<1>, Counter> = "rookery_job_failures";
//! // where a job fails:
//! metrics.job_failures.get_or_create(&[("queue", queue.name)]).inc();
//! ```
//!
//! A gauge read from elsewhere at scrape time (a queue's depth and oldest
//! age, like the pool's connections) is set in `http/metrics.rs`'s
//! `scrape`, beside the pool's, just before the text is written.
//!
//! **Invariant (bounded cardinality):** no label carries a tenant id, a
//! user id, a raw path or any other value a client chooses.

pub(crate) mod routes;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The label set of a family: `N` (name, value) pairs, both static.
pub(crate) type Labels<const N: usize> = [(&'static str, &'static str); N];

/// Declares the families: one line each, registered under their name with
/// their doc comment as the help text.
macro_rules! families {
    ($( #[doc = $help:literal] $field:ident : $ty:ty = $name:literal; )*) => {
        /// The app's metrics: one per app state, read by `/metrics`.
        #[derive(Debug)]
        pub(crate) struct Metrics {
            registry: Registry,
            /// Requests by method, route template and status, with latency.
            pub(crate) routes: std::sync::Arc<routes::Routes>,
            $( #[doc = $help] pub(crate) $field: $ty, )*
        }

        impl Default for Metrics {
            fn default() -> Self {
                let mut registry = Registry::default();
                let routes = std::sync::Arc::new(routes::Routes::default());
                registry.register_collector(Box::new(std::sync::Arc::clone(&routes)));
                $(
                    let $field = <$ty>::default();
                    registry.register($name, $help.trim(), $field.clone());
                )*
                Self { registry, routes, $($field,)* }
            }
        }
    };
}

families! {
    /// API requests refused by a rate limit, by limiter (`tenant`: the plan's rate; `quota`: a rate quota used up; `sign_in`: sign-in requests per client address; `account`: failed password checks per account).
    rate_limited: Family<Labels<1>, Counter> = "rookery_rate_limited_requests";
    /// Refused sign-ins and API requests, by reason (`credentials`: a bearer token or API key missing, malformed, invalid or expired; `tenant`: the request's tenant missing, unknown or not the credentials'; `password`: a wrong password at sign-in).
    auth_failures: Family<Labels<1>, Counter> = "rookery_auth_failures";
    /// Panics in API handlers (each answered 500).
    panics: Counter = "rookery_http_panics";
    /// Connections of the database pool, by state (`open`: in the pool, busy or idle; `idle`: idle in the pool; `kept`: kept between one-message reads; `max`: the pool's size).
    db_connections: Family<Labels<1>, Gauge> = "rookery_db_pool_connections";
    /// Tasks waiting for a database connection.
    db_waiting: Gauge = "rookery_db_pool_waiting";
    /// Background jobs in the queue (every process's), by queue and state (`ready`, `running`, `dead`; `done` jobs are kept 7 days), read at scrape time.
    jobs: Family<Labels<2>, Gauge> = "rookery_jobs";
    /// Seconds the oldest due job of a queue has waited to start, read at scrape time (0: none waiting).
    jobs_oldest_due_seconds: Family<Labels<1>, Gauge> = "rookery_jobs_oldest_due_seconds";
    /// Job runs in this process, by queue and outcome (`done`; `retried`: failed, will run again; `dead`: failed for the last time).
    job_runs: Family<Labels<2>, Counter> = "rookery_job_runs";
    /// Outgoing webhook delivery attempts in this process, by outcome (`delivered`; `retried`: failed, another attempt is scheduled; `failed`: failed for the last time) and error (`none`, or its kind: `timeout`, `connect`, `status`, `refused_address`, `redirect`, `dns`, `tls`, `protocol`, `invalid_url`, `secret`, `invalid_event`).
    webhook_attempts: Family<Labels<2>, Counter> = "rookery_webhook_attempts";
}

/// The webhook attempts' family, as the worker lends it to the delivery
/// jobs (by type: a plain `Family` would be any other counter family).
#[derive(Debug, Clone)]
pub(crate) struct WebhookAttempts(pub(crate) Family<Labels<2>, Counter>);

/// A label value from a bounded set of names known at run time (queue
/// names, from the app's job types and `ROOKERY_JOBS_QUEUES`): each
/// distinct name is kept once; past 64 of them, `other`.
pub(crate) fn name_label(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = names.get(name) {
        return known;
    }
    if names.len() >= 64 {
        return "other";
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// A text format Prometheus reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The Prometheus text format, version 0.0.4 (what Prometheus asks
    /// for by default, and what other scrapers read).
    Prometheus,
    /// OpenMetrics 1.0 text (asked for with
    /// `Accept: application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for.
    pub(crate) fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    /// The response's `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

impl Metrics {
    /// Every metric, written in `format`.
    pub(crate) fn encode(&self, format: Format) -> String {
        let mut text = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = match format {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry),
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut text, &self.registry),
        };
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_written_with_its_help() {
        let metrics = Metrics::default();
        metrics.rate_limited.get_or_create(&[("limiter", "tenant")]).inc();
        metrics.db_connections.get_or_create(&[("state", "idle")]).set(3);
        metrics
            .routes
            .get("GET", "/api/v1/notes/{id}")
            .record(200, std::time::Duration::from_millis(2));
        let text = metrics.encode(Format::Prometheus);
        assert!(
            text.contains("# HELP rookery_rate_limited_requests_total API requests refused by a rate limit"),
            "{text}"
        );
        assert!(
            text.contains("rookery_rate_limited_requests_total{limiter=\"tenant\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("rookery_db_pool_connections{state=\"idle\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "rookery_http_requests_total{method=\"GET\",route=\"/api/v1/notes/{id}\",status=\"200\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "rookery_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/notes/{id}\",le=\"0.0025\"} 1\n"
            ),
            "{text}"
        );
        let open = metrics.encode(Format::OpenMetrics);
        assert!(open.ends_with("# EOF\n"), "{open}");
    }

    #[test]
    fn the_format_follows_accept() {
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
    }
}
