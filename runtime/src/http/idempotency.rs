//! `Idempotency-Key` on unsafe requests (Stripe's contract): a retry with
//! the same key and the same request gets the first response again and
//! writes nothing more; the same key with another request is refused;
//! keys are per tenant and expire after 24 hours.
//!
//! The key is claimed before the handler runs (`db/idempotency.rs`), the
//! handler runs with the claim so that its writes mark the key in their
//! own transaction, and its response is stored afterwards. A retry finds:
//!
//! - the response stored: it is sent again, with `Idempotent-Replayed: true`;
//! - the first attempt still running (or its write committed a moment
//!   ago and its answer is not stored yet): 409 `idempotency-key-in-use`
//!   with `Retry-After`;
//! - the first attempt dead before it committed (its claim older than the
//!   request timeout): the retry takes the key over and runs; should the
//!   first attempt still try to commit, it commits nothing;
//! - the first attempt's write committed but its answer was lost (the
//!   process died in between): 409, saying so — nothing runs twice.
//!
//! A 5xx under which nothing committed lets the key go, so a retry runs
//! afresh. Requests without the header pay one header lookup.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use super::{ApiError, AppState};
use crate::db::idempotency::{self, Claim, Claimed, StoredResponse};
use crate::model::TenantId;

/// The request header.
pub(crate) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The header a replayed response carries.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Longest key accepted (Stripe's limit).
pub(crate) const MAX_KEY: usize = 255;

/// Largest request body read (axum's default limit) and response stored.
const MAX_BODY: usize = 2 * 1024 * 1024;

/// How long a key is kept.
pub(crate) const KEY_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

/// Whether `method` writes (and so honours the header).
pub(crate) fn is_unsafe(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
}

/// A key of 1 to 255 visible ASCII characters.
fn valid_key(value: &HeaderValue) -> Result<&str, ApiError> {
    value
        .to_str()
        .ok()
        .filter(|k| (1..=MAX_KEY).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::BadRequest(
                "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good key)".into(),
            )
        })
}

/// What makes two requests the same: method, path and query, body.
fn fingerprint(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update([0]);
    hash.update(uri.path_and_query().map_or("", |p| p.as_str()).as_bytes());
    hash.update([0]);
    hash.update(body);
    hash.finalize().to_vec()
}

/// Runs an unsafe request of `tenant` that carries `Idempotency-Key`.
pub(super) async fn run(state: &AppState, tenant: TenantId, request: Request, next: Next) -> Response {
    match guarded(state, tenant, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn guarded(state: &AppState, tenant: TenantId, request: Request, next: Next) -> Result<Response, Response> {
    let key = match request.headers().get(IDEMPOTENCY_KEY).map(valid_key) {
        Some(Ok(key)) => key.to_owned(),
        Some(Err(e)) => return Err(e.into_response()),
        None => return Ok(next.run(request).await),
    };
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::PayloadTooLarge.into_response())?;
    // The path as the client sent it (the API router is nested under its prefix).
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let print = fingerprint(&parts.method, uri, &body);
    let now = chrono::Utc::now();
    // An attempt older than the request timeout (and a margin for its
    // commit) can no longer commit unless its claim still holds.
    let stale = chrono::Duration::from_std(state.config().request_timeout).unwrap_or(chrono::Duration::MAX)
        + chrono::Duration::seconds(10);
    let claimed = state
        .db()
        .claim_key(tenant, &key, &print, now - KEY_LIFETIME, now - stale)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let attempt = match claimed {
        Claimed::Fresh { attempt } => attempt,
        Claimed::Existing(stored) => {
            if stored.fingerprint != print {
                return Err(ApiError::IdempotencyKeyReused.into_response());
            }
            return Err(match (stored.state.as_str(), stored.response) {
                ("done", Some(response)) => replay(response),
                ("committed", _) if stored.updated_at < now - stale => ApiError::IdempotencyKeyInUse(
                    "the first request with this Idempotency-Key committed its write, but its response was lost; read the resource to see its state",
                )
                .into_response(),
                _ => ApiError::IdempotencyKeyInUse(super::error::IN_USE).into_response(),
            });
        }
    };
    let request = Request::from_parts(parts, Body::from(body));
    let claim = Claim {
        tenant,
        key: key.as_str().into(),
        attempt,
    };
    let response = idempotency::scope(claim, next.run(request)).await;
    Ok(store(state, tenant, &key, attempt, response).await)
}

/// Stores the first response (or lets the key go after a 5xx under which
/// nothing committed) and returns the response.
async fn store(state: &AppState, tenant: TenantId, key: &str, attempt: i32, response: Response) -> Response {
    use axum::body::HttpBody as _;
    if response.body().size_hint().upper().is_none_or(|n| n > MAX_BODY as u64) {
        // Too large (or streamed) to keep: sent as it is, and the key stays
        // claimed, so a retry is told the first one ran.
        tracing::warn!(%tenant, "a response too large to keep for its Idempotency-Key");
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ApiError::internal(std::io::Error::other("a response body failed")).into_response();
    };
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        content_type: header_text(&parts.headers, &header::CONTENT_TYPE),
        location: header_text(&parts.headers, &header::LOCATION),
        body: body.to_vec(),
    };
    let db = state.db();
    let kept = if parts.status.is_server_error() {
        // Lets the key go if nothing committed, else keeps the answer.
        match db.finish_key(tenant, key, attempt, None).await {
            Ok(()) => db.finish_key(tenant, key, attempt, Some(&stored)).await,
            Err(e) => Err(e),
        }
    } else {
        db.finish_key(tenant, key, attempt, Some(&stored)).await
    };
    if let Err(e) = kept {
        // The key stays claimed: a retry waits, then learns what happened.
        tracing::error!(%tenant, error = %e, "could not store the response of an Idempotency-Key");
    }
    Response::from_parts(parts, Body::from(body))
}

fn header_text(headers: &axum::http::HeaderMap, name: &HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The stored first response, sent again.
fn replay(stored: StoredResponse) -> Response {
    let status = axum::http::StatusCode::from_u16(stored.status).unwrap_or(axum::http::StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
