//! One person, several tenants.
//!
//! - `POST /auth/login` naming no tenant (no `X-Tenant`, no tenant
//!   subdomain): the account signs in to the tenant it joined first among
//!   its active memberships, and the answer lists them all (`tenants`), so
//!   a client that does not know the tenant can offer the choice;
//! - `POST /auth/switch` `{"tenant": "<id or slug>"}`, with an access token
//!   of one tenant: tokens for another tenant the caller is an active member
//!   of (404 for any other tenant, existing or not: nobody learns which
//!   tenants exist); the first tenant's tokens stay as they are;
//! - `GET /me/tenants`: the caller's tenants, oldest membership first.
//!
//! Every token stays a token of one tenant. The memberships of one user in
//! every tenant are read in a platform transaction that names the user
//! (`PlatformTx::as_user`: PostgreSQL's `own_memberships` policy), with the
//! user taken from a verified password or token.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{JsonBody, TokenPair, issue_tokens, membership_role, text, uuid, uuid_bind, verify_account_password};
use crate::auth::Principal;
use crate::db::DbError;
use crate::http::{ApiError, AppState};
use crate::model::{TenantId, UserId};
use crate::tenant::TenantRef;

/// One of the caller's tenants.
#[derive(Debug, Clone, Serialize)]
pub(super) struct TenantOfMine {
    id: TenantId,
    slug: String,
    name: String,
    role: String,
}

/// Tokens for one tenant, which the answer names, and every tenant the
/// account may switch to.
#[derive(Serialize)]
pub(super) struct SignedInTo {
    tenant: TenantOfMine,
    tenants: Vec<TenantOfMine>,
    #[serde(flatten)]
    tokens: TokenPair,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Switch {
    tenant: String,
}

/// The active memberships of `user` in every tenant, oldest first.
async fn tenants_of(state: &AppState, user: UserId) -> Result<Vec<TenantOfMine>, DbError> {
    let mut tx = state.db().begin_platform_read().await?;
    tx.as_user(user).await?;
    let rows = tx
        .fetch_all(
            "SELECT t.id, t.slug, t.name, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
             WHERE m.user_id = $1 AND m.status = 'active' ORDER BY m.created_at, t.id"
                .into(),
            vec![uuid_bind(user.0)],
        )
        .await?;
    drop(tx);
    let mut tenants = Vec::with_capacity(rows.len());
    for row in &rows {
        let id = TenantId(uuid(row, 0)?);
        let mut role = text(row, 3)?;
        // A custom role is stored by its id: its name is the tenant's.
        if crate::rbac::custom_id(&role).is_some() {
            let named = Ok(crate::tenant::TenantRef::Id(id));
            if let Ok(info) = state.verifier().tenant(named).await {
                role = super::role_label(state.spec(), &info.roles, &role);
            }
        }
        tenants.push(TenantOfMine {
            id,
            slug: text(row, 1)?,
            name: text(row, 2)?,
            role,
        });
    }
    Ok(tenants)
}

/// Tokens for `user` in `to` (one of `tenants`), if they are still an
/// active member there with a role the spec has.
async fn sign_in_to(
    state: &AppState,
    user: UserId,
    to: TenantOfMine,
    tenants: Vec<TenantOfMine>,
) -> Result<Option<SignedInTo>, ApiError> {
    let mut tx = state.db().begin_write(to.id).await?;
    let Some(role) = membership_role(state.spec(), &mut tx, user).await? else {
        return Ok(None);
    };
    let tokens = issue_tokens(state, &mut tx, user, &role.key).await?;
    tx.commit().await?;
    Ok(Some(SignedInTo {
        tenant: TenantOfMine { role: role.name, ..to },
        tenants,
        tokens,
    }))
}

/// `POST /auth/login` for a request that names no tenant.
pub(super) async fn login(state: &AppState, email: &str, password: String) -> Result<Response, ApiError> {
    let email = email.trim().to_lowercase();
    let mut tx = state.db().begin_platform_read().await?;
    let found = super::accounts::sign_in_anywhere(&mut tx, &email).await?;
    drop(tx);
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    // One argon2 verification whatever was found, as for a tenant's login.
    let verified = verify_account_password(state, &email, password, hash).await?;
    let user = user
        .filter(|_| verified)
        .ok_or(ApiError::Unauthorized(super::session::BAD_LOGIN))?;
    let tenants = tenants_of(state, user).await?;
    let Some(first) = tenants.first().cloned() else {
        // The password was right, but the account belongs to no tenant
        // (it left them all): the same answer as a wrong password.
        return Err(ApiError::Unauthorized(super::session::BAD_LOGIN));
    };
    match sign_in_to(state, user, first, tenants).await? {
        Some(signed_in) => Ok(Json(signed_in).into_response()),
        None => Err(ApiError::Unauthorized(super::session::BAD_LOGIN)),
    }
}

/// `POST /auth/switch`.
pub(super) async fn switch(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<Switch>,
) -> Result<Json<SignedInTo>, ApiError> {
    principal.require_user()?;
    let user = principal.user();
    let tenants = tenants_of(&state, user).await?;
    let wanted = crate::tenant::parse_ref(&body.tenant);
    let to = tenants
        .iter()
        .find(|t| match &wanted {
            Some(TenantRef::Id(id)) => t.id == *id,
            Some(TenantRef::Slug(slug)) => t.slug == *slug,
            None => false,
        })
        .cloned()
        .ok_or(ApiError::NotFound)?;
    let signed_in = sign_in_to(&state, user, to, tenants).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(signed_in))
}

/// `GET /me/tenants`.
pub(super) async fn mine(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<TenantOfMine>>, ApiError> {
    principal.require_user()?;
    Ok(Json(tenants_of(&state, principal.user()).await?))
}
