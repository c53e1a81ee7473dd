//! Authentication: who is calling, for which tenant, with which role.
//!
//! Every request under the API prefix (except sign-up, login, refresh and
//! accepting an invitation) passes [`authenticate`], in this order:
//! credentials (401) → tenant agreement (403) → rate limit (429). The
//! resulting [`Principal`] is what handlers check permissions against.

pub mod api_key;
pub mod password;
pub mod token;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::app_spec::{AuthMethod, Period, RoleDef};
use crate::db::{Bind, DbError};
use crate::http::{ApiError, AppState};
use crate::model::{FieldType, TenantId, UserId, Value};
use crate::tenant::{TenantInfo, TenantRef};

/// Who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Actor {
    /// A signed-in user.
    User(UserId),
    /// An API key (and the member who created it).
    ApiKey {
        /// The key's id.
        id: Uuid,
        /// The member who created it.
        created_by: UserId,
    },
}

impl Actor {
    /// `user` or `api_key`, as stored in the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::ApiKey { .. } => "api_key",
        }
    }

    /// The user id or key id, as stored in the audit log.
    pub fn id(&self) -> Uuid {
        match self {
            Self::User(user) => user.0,
            Self::ApiKey { id, .. } => *id,
        }
    }
}

/// An authenticated caller in a resolved tenant.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The tenant; every query of the request is scoped to it.
    pub tenant: TenantId,
    /// Who acts.
    pub actor: Actor,
    /// The role, with its flattened permissions.
    pub role: &'static RoleDef,
    /// Tenant facts (slug, plan).
    pub info: TenantInfo,
}

impl Principal {
    /// Whether the caller has `permission`.
    pub fn can(&self, permission: &str) -> bool {
        crate::rbac::allows(self.role, permission)
    }

    /// Refuses with 403 unless the caller has `permission`.
    pub fn require(&self, permission: &str) -> Result<(), ApiError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(permission.to_owned()))
        }
    }

    /// Refuses with 403 unless a signed-in user (not an API key) acts: keys
    /// may not mint keys or invitations that would outlive their revocation.
    pub fn require_user(&self) -> Result<(), ApiError> {
        match self.actor {
            Actor::User(_) => Ok(()),
            Actor::ApiKey { .. } => Err(ApiError::UserRequired),
        }
    }

    /// Whether the tenant's plan unlocks `feature` (from the spec's `[plans]`).
    pub fn has_feature(&self, feature: &str) -> bool {
        self.info.plan.features.contains(&feature)
    }

    /// The acting user: the signed-in user or the member who created the key.
    pub fn user(&self) -> UserId {
        match self.actor {
            Actor::User(user) | Actor::ApiKey { created_by: user, .. } => user,
        }
    }
}

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

fn bearer(parts: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    let value = parts
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

/// The tenant the request names, looked up; 403 when it names none or an
/// unknown one.
pub(crate) async fn request_tenant(state: &AppState, headers: &axum::http::HeaderMap) -> Result<TenantInfo, ApiError> {
    let named = crate::tenant::resolve(state.spec(), &state.config().base_domain, headers)
        .map_err(|e| ApiError::TenantMismatch(e.detail()))?;
    state
        .tenants()
        .lookup(state.db(), state.spec(), &named)
        .await?
        .ok_or(ApiError::TenantMismatch("unknown tenant"))
}

async fn authenticate_parts(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Principal, ApiError> {
    let token = bearer(headers)?;
    let spec = state.spec();
    if api_key::looks_like_key(spec.name, token) {
        if !spec.auth_methods.contains(&AuthMethod::ApiKey) {
            return Err(ApiError::Unauthorized("API keys are not enabled for this app"));
        }
        let prefix =
            api_key::parse(spec.name, &state.config().env, token).ok_or(ApiError::Unauthorized("invalid API key"))?;
        let info = request_tenant(state, headers).await?;
        let key = find_api_key(state, info.id, &prefix)
            .await?
            .ok_or(ApiError::Unauthorized("invalid API key"))?;
        if !api_key::verify(&state.config().api_key_pepper, token, &key.hash) || key.revoked {
            return Err(ApiError::Unauthorized("invalid API key"));
        }
        let role = spec
            .role(&key.role)
            .ok_or(ApiError::Unauthorized("the key's role no longer exists"))?;
        let creator = spec
            .role(&key.creator_role)
            .ok_or(ApiError::Unauthorized("invalid API key"))?;
        if !crate::rbac::can_grant(creator, role) {
            return Err(ApiError::Unauthorized("the key's creator no longer holds its role"));
        }
        return Ok(Principal {
            tenant: info.id,
            actor: Actor::ApiKey {
                id: key.id,
                created_by: key.created_by,
            },
            role,
            info,
        });
    }
    let claims = state
        .keys()
        .verify(token)
        .ok_or(ApiError::Unauthorized("invalid or expired token"))?;
    let verified = claims.parsed().ok_or(ApiError::Unauthorized("invalid token claims"))?;
    let role = spec
        .role(verified.role)
        .ok_or(ApiError::Unauthorized("invalid token claims"))?;
    // The token names its tenant; the request must name the same one.
    let named = crate::tenant::resolve(spec, &state.config().base_domain, headers)
        .map_err(|e| ApiError::TenantMismatch(e.detail()))?;
    if let TenantRef::Id(id) = &named
        && *id != verified.tenant
    {
        return Err(ApiError::TenantMismatch(
            "the request's tenant does not match the token",
        ));
    }
    let info = state
        .tenants()
        .lookup(state.db(), spec, &named)
        .await?
        .filter(|info| info.id == verified.tenant)
        .ok_or(ApiError::TenantMismatch(
            "the request's tenant does not match the token",
        ))?;
    Ok(Principal {
        tenant: info.id,
        actor: Actor::User(verified.user),
        role,
        info,
    })
}

struct StoredKey {
    id: Uuid,
    hash: Vec<u8>,
    role: String,
    creator_role: String,
    created_by: UserId,
    revoked: bool,
}

async fn find_api_key(state: &AppState, tenant: TenantId, prefix: &str) -> Result<Option<StoredKey>, DbError> {
    let mut tx = state.db().begin(tenant).await?;
    let row = tx
        .fetch_optional(
            // The creator's current role caps the key: a demoted member's keys
            // lose what the member lost.
            "SELECT k.id, k.key_hash, k.role, k.created_by, k.revoked_at, m.role \
             FROM api_keys k JOIN memberships m ON m.tenant_id = k.tenant_id AND m.user_id = k.created_by \
             WHERE k.tenant_id = $1 AND k.prefix = $2"
                .into(),
            vec![
                Bind::new(Value::Uuid(tenant.0), FieldType::Uuid),
                Bind::new(Value::Text(prefix.to_owned()), FieldType::Text),
            ],
        )
        .await?;
    tx.finish_read();
    let Some(row) = row else { return Ok(None) };
    let hash = crate::db::bytes(&row, 1)?;
    let (Value::Uuid(id), Value::Text(role), Value::Uuid(created_by), revoked, Value::Text(creator_role)) = (
        row.value(0, FieldType::Uuid)?,
        row.value(2, FieldType::Text)?,
        row.value(3, FieldType::Uuid)?,
        row.value(4, FieldType::DateTime)?,
        row.value(5, FieldType::Text)?,
    ) else {
        return Ok(None);
    };
    Ok(Some(StoredKey {
        id,
        hash,
        role,
        creator_role,
        created_by: UserId(created_by),
        revoked: revoked != Value::Null,
    }))
}

fn period_seconds(period: Period) -> u64 {
    period.seconds()
}

/// Middleware: authenticates the request, checks its tenant and counts it
/// against the tenant's rate limit; the [`Principal`] goes into the
/// request's extensions.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let principal = match authenticate_parts(&state, request.headers()).await {
        Ok(p) => p,
        Err(err) => return err.into_response(),
    };
    let limit = match state.config().rate_limit_override {
        Some((max, window)) => Some((max, window)),
        None => principal
            .info
            .plan
            .rate_limit
            .map(|r| (u64::from(r.requests), period_seconds(r.period))),
    };
    let decision = limit.map(|(max, window)| {
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        state.limiter().check(principal.tenant, max, window, now)
    });
    if let Some(d) = decision
        && !d.allowed
    {
        let mut response = ApiError::RateLimited { retry_after: d.reset }.into_response();
        rate_headers(&mut response, d);
        return response;
    }
    request.extensions_mut().insert(principal);
    let mut response = next.run(request).await;
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
/// (`ROOKERY_SIGN_IN_RATE`, default 30 per minute), so password guessing
/// and argon2 floods from one address are refused with 429 before any work.
pub async fn limit_sign_in(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (max, window) = state.config().sign_in_rate;
    let ip = client_ip(&request, state.config().trust_proxy);
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let decision = state.sign_in_limiter().check(ip, max, window, now);
    if !decision.allowed {
        let mut response = ApiError::RateLimited {
            retry_after: decision.reset,
        }
        .into_response();
        rate_headers(&mut response, decision);
        return response;
    }
    next.run(request).await
}

fn rate_headers(response: &mut Response, d: crate::ratelimit::RateDecision) {
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
    use crate::app_spec::PlanDef;

    static ROLE: RoleDef = RoleDef {
        name: "member",
        permissions: &["projects.read", "projects.write"],
    };
    static PLAN: PlanDef = PlanDef {
        name: "growth",
        features: &["api_access"],
        quotas: &[],
        rate_limit: None,
        monthly_price: None,
        trial_days: None,
    };

    fn principal() -> Principal {
        let tenant = TenantId::new_v7();
        Principal {
            tenant,
            actor: Actor::User(UserId::new_v7()),
            role: &ROLE,
            info: TenantInfo {
                id: tenant,
                slug: "acme".into(),
                plan: &PLAN,
            },
        }
    }

    #[test]
    fn permissions_come_from_the_role_and_features_from_the_plan() {
        let p = principal();
        assert!(p.can("projects.write"));
        assert!(!p.can("projects.delete"));
        assert!(matches!(p.require("projects.delete"), Err(ApiError::Forbidden(perm)) if perm == "projects.delete"));
        assert!(p.has_feature("api_access"));
        assert!(!p.has_feature("sso"));
    }

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
