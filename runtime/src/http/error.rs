//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Internals (SQL, driver messages) are logged with the request id and
//! never sent to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::{AccessError, AuthError, Denied};
use crate::db::DbError;
use crate::repo::{FieldError, ListQueryError, RepoError};

/// An error a handler returns; each variant maps to one status and
/// renders as an RFC 9457 problem (`application/problem+json`). `?`
/// converts the runtime's errors ([`DbError`], [`RepoError`], a refused
/// permission) into the right one.
///
/// ```
/// use rookery::{ApiError, Principal};
///
/// fn check(principal: &Principal, archived: bool) -> Result<(), ApiError> {
///     principal.require("projects.archive")?; // 403 `forbidden`
///     if archived {
///         return Err(ApiError::Conflict("the project is archived already".into())); // 409
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing, invalid or expired credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the caller lacks a permission.
    #[error("missing permission `{0}`")]
    Forbidden(String),
    /// 403: the caller may read the row, but their permission reaches
    /// their own rows only and this one is another member's.
    #[error("`{0}` reaches your own rows only; this one belongs to another member")]
    NotOwner(String),
    /// 403: the action needs a signed-in user; an API key cannot do it.
    #[error("API keys cannot do this; sign in as a user")]
    UserRequired,
    /// 403: the body sets fields the caller may not set (read-only, or
    /// guarded by a permission the caller lacks); each is listed, and
    /// nothing was written.
    #[error("the body sets fields you may not set; nothing was changed")]
    FieldNotWritable(Vec<FieldError>),
    /// 403: the tenant's plan does not include a feature the action needs
    /// (the fix is an upgrade, not a role).
    #[error("the plan `{plan}` does not include the feature `{feature}`")]
    FeatureNotInPlan {
        /// The feature.
        feature: String,
        /// The tenant's plan.
        plan: &'static str,
    },
    /// 403: the request's tenant is missing or disagrees with the credentials.
    #[error("{0}")]
    TenantMismatch(&'static str),
    /// 403: the plan's quota is used up.
    #[error("quota `{quota}` exhausted: the plan allows {limit}")]
    QuotaExceeded {
        /// The quota.
        quota: String,
        /// The plan's limit.
        limit: u64,
    },
    /// 403: only a member with this role may do it (the spec's first role,
    /// the one a tenant's creator gets, for a transfer of the tenant).
    #[error("only a member with the role `{0}` can do this")]
    RoleRequired(&'static str),
    /// 409: the change would leave the tenant without an active member of
    /// its owner role (the spec's first role): give another member that
    /// role first.
    #[error("the tenant must keep an active `{0}`: make another member `{0}` first")]
    LastOwner(&'static str),
    /// 409: the role is one of the spec's (a system role): no tenant can
    /// change or delete it.
    #[error("`{0}` is a system role (the app's); it cannot be changed or deleted: define a custom role instead")]
    SystemRole(&'static str),
    /// 409: the custom role still has holders (active members, pending
    /// invitations, API keys not revoked): give them another role first.
    #[error("{0}")]
    RoleInUse(String),
    /// 404: no such resource in this tenant.
    #[error("not found")]
    NotFound,
    /// 410: the resource existed but can no longer be used (an expired or
    /// already accepted invitation).
    #[error("{0}")]
    Gone(&'static str),
    /// 405: the route exists, but not for this method (the response's
    /// `Allow` header lists the methods it has).
    #[error("the route does not support this method; see the Allow header")]
    MethodNotAllowed,
    /// 413: the body is larger than the app accepts.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 415: the body is not declared as JSON.
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 409: the request conflicts with stored data.
    #[error("{0}")]
    Conflict(String),
    /// 422: the body broke field rules.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// 422: an `Idempotency-Key` already used for a request with another
    /// method, path or body.
    #[error("this Idempotency-Key was used for another request (method, path or body differ); use a new key")]
    IdempotencyKeyReused,
    /// 409: a request with this `Idempotency-Key` is still being processed
    /// (retry after `Retry-After`), or its write committed and its answer
    /// was lost.
    #[error("{0}")]
    IdempotencyKeyInUse(&'static str),
    /// 429: a rate quota of the tenant's plan (`api_calls = "1000/month"`)
    /// is used up for its window: the answer says which quota, its limit
    /// and window and when it resets (`RateLimit-Policy`, `RateLimit`,
    /// `Retry-After` and the body's `quota`, `limit`, `period`,
    /// `window_start`, `resets_at`). Unlike `quota-exceeded` (403, a count
    /// of rows or members, which waiting does not change), waiting for
    /// the next window or an upgrade lifts it.
    #[error(
        "quota `{quota}` exhausted: the plan allows {limit} per {} and this window's are used; it resets at {resets_at}",
        super::quotas::period_name(*period)
    )]
    QuotaExhausted {
        /// The quota.
        quota: String,
        /// Calls allowed per window.
        limit: u64,
        /// The window's period.
        period: crate::app_spec::Period,
        /// When the window began (UTC).
        window_start: chrono::DateTime<chrono::Utc>,
        /// When the next one begins (UTC).
        resets_at: chrono::DateTime<chrono::Utc>,
        /// Seconds until then.
        retry_after: u64,
    },
    /// 429: the tenant's rate limit is used up.
    #[error("rate limit exceeded")]
    RateLimited {
        /// Seconds until the window resets.
        retry_after: u64,
    },
    /// 503: a dependency is down.
    #[error("service unavailable")]
    Unavailable,
    /// 503: the request's database work passed `ROOKERY_REQUEST_TIMEOUT`;
    /// nothing it began was committed.
    #[error("the request took longer than ROOKERY_REQUEST_TIMEOUT allows; nothing it began was committed")]
    Timeout,
    /// 500: anything else (logged, not shown).
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The detail of a 409 for a key whose request is still running.
pub(crate) const IN_USE: &str =
    "a request with this Idempotency-Key is being processed; retry after the Retry-After seconds";

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    /// With `quota-exhausted`: the quota, its limit and window.
    #[serde(flatten)]
    quota: Option<QuotaDetail<'a>>,
}

/// The members a `quota-exhausted` problem adds.
#[derive(Serialize)]
struct QuotaDetail<'a> {
    quota: &'a str,
    limit: u64,
    period: &'static str,
    window_start: chrono::DateTime<chrono::Utc>,
    resets_at: chrono::DateTime<chrono::Utc>,
}

impl ApiError {
    /// Status and the problem type's slug and title.
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::UserRequired | Self::NotOwner(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::FieldNotWritable(_) => (StatusCode::FORBIDDEN, "field-not-writable", "Field not writable"),
            Self::FeatureNotInPlan { .. } => (StatusCode::FORBIDDEN, "feature-not-in-plan", "Feature not in plan"),
            Self::TenantMismatch(_) => (StatusCode::FORBIDDEN, "tenant-mismatch", "Tenant mismatch"),
            Self::QuotaExceeded { .. } => (StatusCode::FORBIDDEN, "quota-exceeded", "Quota exceeded"),
            Self::RoleRequired(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::LastOwner(_) => (StatusCode::CONFLICT, "last-owner", "Last owner"),
            Self::SystemRole(_) => (StatusCode::CONFLICT, "system-role", "System role"),
            Self::RoleInUse(_) => (StatusCode::CONFLICT, "role-in-use", "Role in use"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::Gone(_) => (StatusCode::GONE, "gone", "Gone"),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Content too large"),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", "Invalid input"),
            Self::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            ),
            Self::IdempotencyKeyInUse(_) => (StatusCode::CONFLICT, "idempotency-key-in-use", "Idempotency key in use"),
            Self::QuotaExhausted { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota-exhausted", "Quota exhausted"),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Self::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout", "Request timed out"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    /// Wraps an unexpected error.
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }
}

/// The problem type and title of an error response that no [`ApiError`]
/// made (axum's own rejections, a hand-written handler's status).
fn foreign_kind(status: StatusCode) -> (String, &'static str) {
    let slug = match status {
        StatusCode::BAD_REQUEST => "bad-request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::GONE => "gone",
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::TOO_MANY_REQUESTS => "rate-limited",
        StatusCode::INTERNAL_SERVER_ERROR => "internal",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        // RFC 9457 §4.2.1: no more than the status says.
        _ => return ("about:blank".into(), status.canonical_reason().unwrap_or("Error")),
    };
    (
        format!("https://rookery.dev/problems/{slug}"),
        status.canonical_reason().unwrap_or("Error"),
    )
}

/// Longest plain-text body of a foreign 4xx kept as the problem's detail.
const MAX_DETAIL: usize = 512;

/// Makes an error response with no body type or a plain-text one into a
/// problem, keeping its status and headers: axum's own answers (413, and
/// the 400/415/422 rejections of its `Path` and `Json` extractors in
/// hand-written handlers) and a hand-written handler's bare status. A 4xx's
/// short plain-text body, already in memory, becomes the detail; a 5xx's
/// body is never shown. Other responses pass with one comparison.
pub(crate) fn ensure_problem(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Problems pass, and so does any body a handler chose to type (a
    // hand-written route's own JSON error): only bare and plain-text
    // answers, axum's kind, are replaced.
    let content_type = response.headers().get(header::CONTENT_TYPE);
    let plain = content_type.is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if content_type.is_some() && !plain {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let detail = if plain && status.is_client_error() {
        // A body that is not ready at once (a stream) is not waited for.
        futures_util::FutureExt::now_or_never(axum::body::to_bytes(body, MAX_DETAIL))
            .and_then(Result::ok)
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
    } else {
        None
    };
    let (kind, title) = foreign_kind(status);
    let problem = Problem {
        kind,
        title,
        status: status.as_u16(),
        detail: detail.unwrap_or_else(|| title.to_owned()),
        errors: None,
        quota: None,
    };
    let bytes = serde_json::to_vec(&problem).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The error behind a 500 that an [`ApiError::Internal`] made, kept in
/// the response's extensions for error reporting (`report`).
#[cfg(feature = "sentry")]
#[derive(Clone)]
struct Failure(std::sync::Arc<dyn std::error::Error + Send + Sync>);

/// The error a 500 carries, if an [`ApiError::Internal`] made it.
#[cfg(feature = "sentry")]
pub(crate) fn failure(response: &Response) -> Option<&(dyn std::error::Error + 'static)> {
    let failure = response.extensions().get::<Failure>()?;
    Some(&*failure.0)
}

/// Without error reporting, nothing is kept.
#[cfg(not(feature = "sentry"))]
pub(crate) fn failure(_: &Response) -> Option<&(dyn std::error::Error + 'static)> {
    None
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        if let Self::Internal(err) = &self {
            tracing::error!(error = %err, "internal error");
        }
        let problem = Problem {
            kind: format!("https://rookery.dev/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            errors: match &self {
                Self::Invalid(errors) | Self::FieldNotWritable(errors) => Some(errors),
                _ => None,
            },
            quota: match &self {
                Self::QuotaExhausted {
                    quota,
                    limit,
                    period,
                    window_start,
                    resets_at,
                    ..
                } => Some(QuotaDetail {
                    quota,
                    limit: *limit,
                    period: super::quotas::period_name(*period),
                    window_start: *window_start,
                    resets_at: *resets_at,
                }),
                _ => None,
            },
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Self::RateLimited { retry_after } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        if let Self::QuotaExhausted {
            quota,
            limit,
            window_start,
            resets_at,
            retry_after,
            ..
        } = &self
        {
            // As the rate limit's (draft-ietf-httpapi-ratelimit-headers),
            // the policy named by the quota: `q` calls per `w` seconds.
            let window = (*resets_at - *window_start).num_seconds().max(0);
            let policy = format!("\"{quota}\";q={limit};w={window}");
            let left = format!("\"{quota}\";r=0;t={retry_after}");
            if let (Ok(policy), Ok(left)) = (HeaderValue::from_str(&policy), HeaderValue::from_str(&left)) {
                headers.insert(header::HeaderName::from_static("ratelimit-policy"), policy);
                headers.insert(header::HeaderName::from_static("ratelimit"), left);
            }
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if matches!(self, Self::IdempotencyKeyInUse(_)) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        if matches!(status, StatusCode::UNAUTHORIZED) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        #[cfg(feature = "sentry")]
        if let Self::Internal(err) = self {
            response.extensions_mut().insert(Failure(err.into()));
        }
        response
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Permission(permission) => Self::Forbidden(permission),
            Denied::UserRequired => Self::UserRequired,
            Denied::Fields(fields) => Self::FieldNotWritable(fields),
            Denied::Feature { feature, plan } => Self::FeatureNotInPlan { feature, plan },
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::Denied(denied) => denied.into(),
            AccessError::NotOwner(permission) => Self::NotOwner(permission),
            AccessError::Repo(repo) => repo.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unauthorized(detail) => Self::Unauthorized(detail),
            AuthError::TenantMismatch(detail) => Self::TenantMismatch(detail),
            AuthError::Feature { feature, plan } => Self::FeatureNotInPlan {
                feature: feature.to_owned(),
                plan,
            },
            AuthError::Db(db) => db.into(),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Timeout => Self::Timeout,
            DbError::IdempotencyTakenOver => Self::IdempotencyKeyInUse(IN_USE),
            DbError::Sqlx(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)) => {
                tracing::error!(error = %err, "database unavailable");
                Self::Unavailable
            }
            other => Self::internal(other),
        }
    }
}

impl From<RepoError> for ApiError {
    fn from(err: RepoError) -> Self {
        match err {
            RepoError::Invalid(errors) => Self::Invalid(errors),
            RepoError::Duplicate { field } => Self::Conflict(format!("a row with this {field} already exists")),
            RepoError::DanglingReference { field } => Self::Invalid(vec![FieldError {
                field,
                code: "not_found",
                message: "a referenced row does not exist in this tenant".into(),
            }]),
            RepoError::StillReferenced => Self::Conflict("the row is still referenced by other rows".into()),
            RepoError::Db(db) => db.into(),
        }
    }
}

impl From<crate::jobs::EnqueueError> for ApiError {
    fn from(err: crate::jobs::EnqueueError) -> Self {
        match err {
            crate::jobs::EnqueueError::Db(db) => db.into(),
            other => Self::internal(other),
        }
    }
}

impl From<crate::mail::MailError> for ApiError {
    fn from(err: crate::mail::MailError) -> Self {
        match err {
            crate::mail::MailError::Db(db) => db.into(),
            crate::mail::MailError::Enqueue(e) => e.into(),
            crate::mail::MailError::Address => Self::BadRequest(err.to_string()),
            other => Self::internal(other),
        }
    }
}

impl From<ListQueryError> for ApiError {
    fn from(err: ListQueryError) -> Self {
        Self::BadRequest(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn problem(err: impl Into<ApiError>) -> (StatusCode, serde_json::Value) {
        let response = err.into().into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_plan_refusal_is_not_a_missing_permission() {
        let (status, feature) = problem(Denied::Feature {
            feature: "sso".into(),
            plan: "free",
        })
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(feature["type"], "https://rookery.dev/problems/feature-not-in-plan");
        assert_eq!(feature["detail"], "the plan `free` does not include the feature `sso`");
        let (_, permission) = problem(Denied::Permission("deals.approve".into())).await;
        assert_eq!(permission["type"], "https://rookery.dev/problems/forbidden");
        assert_eq!(permission["detail"], "missing permission `deals.approve`");
    }

    #[tokio::test]
    async fn authentication_errors_keep_their_status() {
        let (status, body) = problem(AuthError::Unauthorized("invalid API key")).await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid API key"))
        );
        let (status, body) = problem(AuthError::TenantMismatch("unknown tenant")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["type"], "https://rookery.dev/problems/tenant-mismatch");
    }
}
