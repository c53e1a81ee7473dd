//! What every request passes: its request id (`set_request_id`, the
//! router's outermost step), and for API requests the request-timeout
//! middleware (`request_timeout`: the database deadline, problem+json for
//! foreign errors, panics answered 500, the route's metrics, the
//! request's reporting scope); `unmatched` answers and counts the rest.

use axum::http::HeaderValue;
use axum::middleware;
use tower_http::request_id::RequestId;

use super::{ApiError, AppState, REQUEST_ID, error, request_id};

/// What a path no route matches answers, counted as the route
/// `unmatched` (never the path itself).
pub(super) async fn unmatched(
    axum::extract::State(state): axum::extract::State<AppState>,
    method: axum::http::Method,
) -> ApiError {
    state.metrics().routes.get(method.as_str(), "unmatched").count(404);
    ApiError::NotFound
}

/// Longest client request id kept.
const MAX_REQUEST_ID: usize = 64;

/// Whether a client's `X-Request-Id` is kept: 1 to 64 characters of
/// `[A-Za-z0-9._:-]`. It goes into logs and audit rows verbatim.
fn fit_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Gives the request a request id: the client's `X-Request-Id` when it
/// is [`fit_request_id`] (and given once), else a new UUID in its place.
/// (tower-http's `SetRequestIdLayer` keeps any id the client sends.)
pub(super) fn set_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let headers = request.headers_mut();
    let mut ids = headers.get_all(REQUEST_ID).iter();
    let fit = match (ids.next(), ids.next()) {
        (Some(id), None) => fit_request_id(id.as_bytes()),
        _ => false,
    };
    if !fit {
        let mut buffer = uuid::Uuid::encode_buffer();
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
        headers.insert(REQUEST_ID, HeaderValue::from_str(id).expect("a UUID is a header value"));
    }
    // As tower-http's layer did, for handlers that read the extension.
    if let Some(id) = request.headers().get(REQUEST_ID).cloned() {
        request.extensions_mut().insert(RequestId::new(id));
    }
    request
}

/// Gives an API request `ROOKERY_REQUEST_TIMEOUT` for its database work
/// (`db::deadline`): a step that would pass it fails, the handler answers
/// 503 and its transaction rolls back. Nothing is cancelled from outside,
/// so a `COMMIT` that started always finishes and is reported. An error
/// response that is not a problem yet (axum's rejections) leaves as one.
///
/// Also, because every API request passes here anyway (each
/// `Router::layer` of its own would cost a boxed future per request): a
/// panic below answers 500 instead of dropping the connection; the answer
/// is counted by route template, method and status with its latency
/// (`metrics::routes`: a lookup without a lock, three atomic adds); and
/// with error reporting on, the request runs in its own reporting scope
/// and a 500 is reported (`report`).
pub(super) async fn request_timeout(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use std::task::Poll;
    let start = tokio::time::Instant::now();
    let deadline = start + state.config().request_timeout;
    let (stats, scope) = {
        let route = request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or("unmatched", axum::extract::MatchedPath::as_str);
        let stats = state.metrics().routes.get(request.method().as_str(), route);
        (
            stats,
            crate::report::Scope::start(|| request_id(request.headers()), route),
        )
    };
    let mut handler = std::pin::pin!(crate::db::deadline::scope(deadline, next.run(request)));
    let outcome = std::future::poll_fn(|cx| {
        let poll = || std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.as_mut().poll(cx)));
        match scope.run(poll) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(response)) => Poll::Ready(Ok(response)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    })
    .await;
    let response = match outcome {
        Ok(response) => {
            if response.status() == axum::http::StatusCode::INTERNAL_SERVER_ERROR {
                scope.server_error(error::failure(&response));
            }
            response
        }
        // The panic hook has printed it, and reported it when reporting is on.
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            tracing::error!(panic = message, "handler panicked; answered 500");
            state.metrics().panics.inc();
            axum::response::IntoResponse::into_response(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
        }
    };
    stats.record(response.status().as_u16(), start.elapsed());
    error::ensure_problem(response)
}
