//! Authentication over HTTP: the bearer credential and the tenant a
//! request names, read from its headers and handed to
//! [`Verifier::authenticate`](crate::auth::Verifier::authenticate); the
//! middleware that runs it (credentials → tenant agreement → revocation
//! and rate limit) and the [`Principal`] extractor.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::auth::{Admitted, Principal, Verifier};
use crate::model::Actor;
use crate::ratelimit::RateDecision;
use crate::tenant::{Naming, ResolveError, TENANT_HEADER, TenantInfo, TenantRef};

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthorized("not authenticated"))
    }
}

impl AppState {
    /// What authentication reads, borrowed from the state.
    pub(crate) fn verifier(&self) -> Verifier<'_> {
        Verifier {
            spec: self.spec(),
            config: self.config(),
            db: self.db(),
            tenants: self.tenants(),
            keys: self.keys(),
            revocations: self.revocations(),
            limiter: self.limiter(),
            redis: self.redis(),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::Unauthorized("missing bearer token"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized("malformed authorization header"))
}

/// The tenant the request's headers name.
fn named(state: &AppState, headers: &HeaderMap) -> Result<TenantRef, ResolveError> {
    let naming = Naming {
        host: headers.get(HOST).map(HeaderValue::as_bytes),
        header: headers.get(TENANT_HEADER).map(HeaderValue::as_bytes),
    };
    crate::tenant::resolve(state.spec(), &state.config().base_domain, naming)
}

/// Whether the request names a tenant at all (rightly or not): a header or
/// a tenant subdomain; `false` only when it names none.
pub(crate) fn names_a_tenant(state: &AppState, headers: &HeaderMap) -> bool {
    !matches!(named(state, headers), Err(ResolveError::Missing))
}

/// The tenant the request names, looked up; 403 when it names none or an
/// unknown one.
pub(crate) async fn request_tenant(state: &AppState, headers: &HeaderMap) -> Result<TenantInfo, ApiError> {
    Ok(state.verifier().tenant(named(state, headers)).await?)
}

async fn authenticate_parts(state: &AppState, headers: &HeaderMap) -> Result<Admitted, ApiError> {
    let token = bearer(headers)?;
    let verifier = state.verifier();
    let authenticated = verifier.authenticate(token, named(state, headers)).await?;
    Ok(verifier.admit(authenticated).await?)
}

/// Middleware: authenticates the request, checks its tenant and counts it
/// against the tenant's rate limit and its plan's rate quotas (`quota`:
/// a call spent from this process's block, a reservation when the block
/// is empty), then in the tenant's usage (`usage`: one map update in
/// memory); the [`Principal`] goes into the request's extensions.
pub(super) async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    admit(state, request, next, true).await
}

/// [`authenticate`] without the rate quotas: for `GET /usage`, which a
/// tenant at its limit can still read.
pub(super) async fn authenticate_unmetered(State(state): State<AppState>, request: Request, next: Next) -> Response {
    admit(state, request, next, false).await
}

/// The rate quotas' verdict on one call: `Some` refusal, or `None`.
async fn metered(state: &AppState, principal: &crate::auth::Principal) -> Option<Response> {
    let quotas = state.quotas();
    let now = quotas.now();
    let full = match quotas.admit_now(principal.tenant, principal.info.plan, now) {
        crate::quota::Admission::Spent => return None,
        crate::quota::Admission::Full(full) => full,
        // Boxed: the reservation's future stays out of every request's.
        crate::quota::Admission::Refill(from) => {
            match Box::pin(quotas.admit_from(state.db(), principal.tenant, principal.info.plan, now, from)).await {
                Ok(None) => return None,
                Ok(Some(full)) => full,
                Err(err) => return Some(ApiError::from(err).into_response()),
            }
        }
    };
    state
        .metrics()
        .rate_limited
        .get_or_create(&[("limiter", "quota")])
        .inc();
    Some(ApiError::quota_exhausted(full, now).into_response())
}

async fn admit(state: AppState, mut request: Request, next: Next, quotas: bool) -> Response {
    let Admitted {
        principal,
        decision,
        last_use,
    } = match authenticate_parts(&state, request.headers()).await {
        Ok(admitted) => admitted,
        Err(err) => {
            let reason = match err {
                ApiError::Unauthorized(_) => Some("credentials"),
                ApiError::TenantMismatch(_) => Some("tenant"),
                _ => None,
            };
            if let Some(reason) = reason {
                state.metrics().auth_failures.get_or_create(&[("reason", reason)]).inc();
            }
            return err.into_response();
        }
    };
    crate::report::tenant(principal.tenant);
    if let Some(d) = decision
        && !d.allowed
    {
        state
            .metrics()
            .rate_limited
            .get_or_create(&[("limiter", "tenant")])
            .inc();
        let mut response = ApiError::RateLimited { retry_after: d.reset }.into_response();
        rate_headers(&mut response, d);
        return response;
    }
    if quotas && let Some(refused) = metered(&state, &principal).await {
        return refused;
    }
    let tenant = principal.tenant;
    if let (Actor::ApiKey { id, .. }, Some(last_use)) = (principal.actor, last_use) {
        let ip = client_ip(&request, state.config().trust_proxy).to_string();
        super::identity::record_key_use(&state, tenant, id, &last_use, &ip).await;
    }
    let member = match principal.actor {
        Actor::User(user) => Some(user),
        _ => None,
    };
    state.usage().count(tenant, member);
    if super::idempotency::is_unsafe(request.method()) {
        // It may write audit rows: seal them soon.
        state.audit_pending().mark(tenant);
    }
    request.extensions_mut().insert(principal);
    let mut response = if super::idempotency::is_unsafe(request.method())
        && request.headers().contains_key(super::idempotency::IDEMPOTENCY_KEY)
    {
        super::idempotency::run(&state, tenant, request, next).await
    } else {
        next.run(request).await
    };
    if let Some(d) = decision {
        rate_headers(&mut response, d);
    }
    response
}

/// The client's address: the connection's peer, or the first
/// `X-Forwarded-For` hop when `ROOKERY_TRUST_PROXY` says a proxy sets it.
fn client_ip(request: &Request, trust_proxy: bool) -> std::net::IpAddr {
    let forwarded = trust_proxy
        .then(|| request.headers().get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|ip| ip.trim().parse().ok());
    forwarded
        .or_else(|| {
            request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// Middleware of the sign-in routes (sign-up, login, refresh, logout,
/// accepting an invitation): a fixed window per client address
/// (`ROOKERY_SIGN_IN_RATE`, default 30 per minute; shared by every
/// instance with Redis), so password guessing and argon2 floods from one
/// address are refused with 429 before any work.
pub(super) async fn limit_sign_in(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (max, window) = state.config().sign_in_rate;
    let ip = client_ip(&request, state.config().trust_proxy);
    let decision = state.sign_in_limiter().count(state.redis(), ip, max, window).await;
    if !decision.allowed {
        state
            .metrics()
            .rate_limited
            .get_or_create(&[("limiter", "sign_in")])
            .inc();
        let mut response = ApiError::RateLimited {
            retry_after: decision.reset,
        }
        .into_response();
        rate_headers(&mut response, decision);
        return response;
    }
    next.run(request).await
}

fn rate_headers(response: &mut Response, d: RateDecision) {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("\"tenant\";q={};w={}", d.limit, d.window)) {
        headers.insert(HeaderName::from_static("ratelimit-policy"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"tenant\";r={};t={}", d.remaining, d.reset)) {
        headers.insert(HeaderName::from_static("ratelimit"), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        let mut headers = axum::http::HeaderMap::new();
        assert!(bearer(&headers).is_err());
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(bearer(&headers).is_err());
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer   "));
        assert!(bearer(&headers).is_err());
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc.def"));
        assert_eq!(bearer(&headers).unwrap(), "abc.def");
    }
}
