//! Sessions: `POST /auth/login`, `/auth/refresh`, `/auth/logout`, and
//! `GET /me`.
//!
//! Refresh tokens rotate on every use. Presenting a token that was already
//! rotated or revoked means two parties hold it (one of them a thief), so
//! every refresh token of that user in that tenant is revoked and both must
//! sign in again.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    JsonBody, TokenPair, bytes_bind, issue_tokens, membership_role, opt_time, tenant_bind, time, time_bind, uuid,
    uuid_bind, verify_account_password,
};
use crate::audit::{self, PlatformActor};
use crate::auth::Principal;
use crate::auth::api_key::opaque_hash;
use crate::db::{DbError, TenantTx};
use crate::http::auth::request_tenant;
use crate::http::{ApiError, AppState};
use crate::model::{Actor, TenantId, UserId};

/// The one answer to a failed login, whatever failed.
pub(super) const BAD_LOGIN: &str = "invalid email or password";
/// The one answer to a refresh token that cannot be used.
const BAD_REFRESH: &str = "invalid or expired refresh token";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RefreshRequest {
    refresh_token: String,
}

/// `POST /auth/login`: tokens for a member of the request's tenant; for a
/// request that names none, of the account's first tenant
/// (`tenants::login`).
pub(super) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    super::require_method(&state, crate::app_spec::AuthMethod::Password)?;
    if !crate::http::auth::names_a_tenant(&state, &headers) {
        return super::tenants::login(&state, &body.email, body.password).await;
    }
    let info = request_tenant(&state, &headers).await?;
    let email = body.email.trim().to_lowercase();
    let mut tx = state.db().begin(info.id).await?;
    let found = super::accounts::sign_in_account(&mut tx, &email).await?;
    tx.finish_read();
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    // Always one argon2 verification: an unknown email takes as long as a
    // wrong password.
    let verified = verify_account_password(&state, &email, body.password, hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        sign_in_failed(&state, info.id, user).await?;
        return Err(ApiError::Unauthorized(BAD_LOGIN));
    };

    let mut tx = state.db().begin_write(info.id).await?;
    let role = membership_role(state.spec(), &mut tx, user)
        .await?
        .ok_or(ApiError::Unauthorized(BAD_LOGIN))?;
    let tokens = issue_tokens(&state, &mut tx, user, &role.key).await?;
    let facts = serde_json::json!({ "method": "password" });
    let target = ("member", user.to_string());
    audit::record_platform(
        &mut tx,
        PlatformActor::Actor(Actor::User(user)),
        "auth.sign_in",
        target,
        Some(facts),
    )
    .await?;
    tx.commit().await?;
    state.audit_pending().mark(info.id);
    Ok(Json(tokens).into_response())
}

/// Records a failed sign-in in the tenant's audit log: for a member of the
/// tenant (a wrong password) the member, for any other address nobody
/// (`anonymous`): the address typed is never stored (it may be a
/// password typed in the wrong box, or someone else's address), so the
/// log tells its readers nothing about who exists beyond the members they
/// can list anyway. The password never leaves the request.
async fn sign_in_failed(state: &AppState, tenant: TenantId, member: Option<UserId>) -> Result<(), ApiError> {
    let mut tx = state.db().begin_write(tenant).await?;
    let (actor, target, reason) = match member {
        Some(user) => (
            PlatformActor::Actor(Actor::User(user)),
            ("member", user.to_string()),
            "wrong_password",
        ),
        None => (
            PlatformActor::Anonymous,
            ("tenant", tenant.to_string()),
            "unknown_account",
        ),
    };
    let facts = serde_json::json!({ "method": "password", "reason": reason });
    audit::record_platform(&mut tx, actor, "auth.sign_in_failed", target, Some(facts)).await?;
    tx.commit().await?;
    state.audit_pending().mark(tenant);
    Ok(())
}

/// `POST /auth/refresh`: rotates a refresh token of the request's tenant.
pub(super) async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let info = request_tenant(&state, &headers).await?;
    let mut tx = state.db().begin_write(info.id).await?;
    let row = tx
        .fetch_optional(
            "SELECT id, user_id, expires_at, revoked_at FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2"
                .into(),
            vec![tenant_bind(info.id), bytes_bind(opaque_hash(&body.refresh_token))],
        )
        .await?
        .ok_or(ApiError::Unauthorized(BAD_REFRESH))?;
    let (id, user, expires_at, revoked_at) = (
        uuid(&row, 0)?,
        UserId(uuid(&row, 1)?),
        time(&row, 2)?,
        opt_time(&row, 3)?,
    );
    let now = crate::db::now();
    if revoked_at.is_some() {
        return Err(reuse_detected(tx, user, now).await);
    }
    if expires_at <= now {
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    }
    let rotated = tx
        .execute(
            "UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL".into(),
            vec![tenant_bind(info.id), uuid_bind(id), time_bind(now)],
        )
        .await?;
    if rotated != 1 {
        // A concurrent refresh rotated it first: the token was used twice.
        return Err(reuse_detected(tx, user, now).await);
    }
    let role = membership_role(state.spec(), &mut tx, user)
        .await?
        .ok_or(ApiError::Unauthorized(BAD_REFRESH))?;
    let tokens = issue_tokens(&state, &mut tx, user, &role.key).await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

/// Revokes every refresh token of `user` in the transaction's tenant and
/// commits; the answer is the same 401 as for any unusable token.
async fn reuse_detected(mut tx: TenantTx, user: UserId, now: DateTime<Utc>) -> ApiError {
    let tenant = tx.tenant();
    let revoked = revoke_all(&mut tx, tenant, user, now).await;
    let committed = match revoked {
        Ok(count) => tx.commit().await.map(|()| count),
        Err(err) => Err(err),
    };
    match committed {
        Ok(count) => {
            tracing::warn!(tenant = %tenant, user = %user, revoked = count, "refresh token reused; revoked the user's sessions in this tenant");
            ApiError::Unauthorized(BAD_REFRESH)
        }
        Err(err) => err.into(),
    }
}

/// Revokes every refresh token of `user` in `tenant` (theft detected, or
/// the member's role changed or their membership ended).
pub(super) async fn revoke_all(
    tx: &mut TenantTx,
    tenant: TenantId,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL".into(),
        vec![tenant_bind(tenant), uuid_bind(user.0), time_bind(now)],
    )
    .await
}

/// `POST /auth/logout`: revokes a refresh token of the request's tenant.
/// Answers 204 whether or not the token existed (logging out is idempotent
/// and tells nothing about tokens).
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    let info = request_tenant(&state, &headers).await?;
    let mut tx = state.db().begin_write(info.id).await?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL"
            .into(),
        vec![
            tenant_bind(info.id),
            bytes_bind(opaque_hash(&body.refresh_token)),
            time_bind(Utc::now()),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub(super) struct MeResponse {
    user_id: UserId,
    tenant_id: TenantId,
    tenant_slug: String,
    plan: &'static str,
    role: String,
    permissions: Vec<&'static str>,
    /// Permissions on own rows only (`deals.write:own` in the spec).
    own_permissions: Vec<&'static str>,
    /// `user` or `api_key`.
    via: &'static str,
}

/// `GET /me`: who the caller is in this tenant.
pub(super) async fn me(principal: Principal) -> Json<MeResponse> {
    let role = &principal.role;
    Json(MeResponse {
        user_id: principal.user(),
        tenant_id: principal.tenant,
        tenant_slug: principal.info.slug.clone(),
        plan: principal.info.plan.name,
        role: role.name().to_owned(),
        permissions: role.permissions().to_vec(),
        own_permissions: role.own().to_vec(),
        via: principal.actor.kind(),
    })
}
