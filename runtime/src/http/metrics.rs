//! `/metrics`: the app's metrics for Prometheus (`crate::metrics`),
//! never open to the public by accident.
//!
//! Off unless configured. `ROOKERY_METRICS_BIND` serves it on a second
//! listener of its own (the address a scraper reaches inside the private
//! network; the API's listener then has no `/metrics` at all);
//! `ROOKERY_METRICS_TOKEN` requires `Authorization: Bearer <token>`,
//! compared in constant time, on whichever listener serves it. With a
//! token and no second listener, `/metrics` is served on the API's
//! listener, behind the token; with neither, it is not served anywhere.

use axum::Router;
use axum::extract::State;
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::{ApiError, AppState};
use crate::metrics::Format;

/// The path Prometheus scrapes.
pub(super) const PATH: &str = "/metrics";

/// `GET /metrics`, which answers only with the token when one is set.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(scrape))
}

/// Whether `/metrics` is served on the API's own listener: only behind a
/// token, and only when no listener of its own is configured.
pub(super) fn on_api_listener(state: &AppState) -> bool {
    state.config().metrics_token.is_some() && state.config().metrics_bind.is_none()
}

/// Whether `headers` carry the bearer token `expected` (always, when no
/// token is configured: that is the private listener's case). Both sides
/// are hashed first, so the comparison takes the same time whatever the
/// lengths.
pub(super) fn authorized(expected: Option<&[u8]>, headers: &HeaderMap) -> bool {
    let Some(expected) = expected else { return true };
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or_default();
    let given = sha2::Sha256::digest(given);
    let expected = sha2::Sha256::digest(expected);
    bool::from(given.ct_eq(&expected))
}

async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(state.config().metrics_token.as_deref(), &headers) {
        return ApiError::Unauthorized("missing or wrong metrics token").into_response();
    }
    let metrics = state.metrics();
    let pool = state.db().stats();
    for (name, value) in [
        ("open", i64::from(pool.open)),
        ("idle", pool.idle as i64),
        ("kept", pool.kept as i64),
        ("max", i64::from(pool.max)),
    ] {
        metrics.db_connections.get_or_create(&[("state", name)]).set(value);
    }
    metrics.db_waiting.set(pool.waiting as i64);
    // The queue is the database's: any instance reports it.
    match state.db().queue_stats().await {
        Ok(stats) => {
            let now = chrono::Utc::now();
            metrics.jobs.clear();
            metrics.jobs_oldest_due_seconds.clear();
            for s in stats {
                let queue = crate::metrics::name_label(&s.queue);
                let job_state = match s.state.as_str() {
                    "ready" => "ready",
                    "running" => "running",
                    "done" => "done",
                    _ => "dead",
                };
                metrics
                    .jobs
                    .get_or_create(&[("queue", queue), ("state", job_state)])
                    .set(s.jobs);
                if let Some(due) = s.oldest_due {
                    let waited = (now - due).num_seconds().max(0);
                    metrics
                        .jobs_oldest_due_seconds
                        .get_or_create(&[("queue", queue)])
                        .set(waited);
                }
            }
        }
        // An app generated before the job queue, or the database down: the
        // other metrics still answer.
        Err(e) => tracing::debug!(error = %e, "no job queue statistics for /metrics"),
    }
    let format = Format::from_accept(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
    let mut response = metrics.encode(format).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_let_in() {
        let token = b"scrape-me-scrape-me".as_slice();
        let mut headers = HeaderMap::new();
        assert!(authorized(None, &headers), "no token configured: the private listener");
        assert!(!authorized(Some(token), &headers));
        for wrong in [
            "Bearer scrape-me",
            "Bearer scrape-me-scrape-me!",
            "Basic scrape-me-scrape-me",
            "scrape-me-scrape-me",
        ] {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(wrong));
            assert!(!authorized(Some(token), &headers), "{wrong}");
        }
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer scrape-me-scrape-me"));
        assert!(authorized(Some(token), &headers));
    }
}
