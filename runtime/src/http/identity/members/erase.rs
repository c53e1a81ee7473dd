//! Erasing one person's personal data on their request (GDPR, article
//! 17): `DELETE /me` with their password, or the operator's `<app> user
//! erase EMAIL`.
//!
//! In every tenant the person is an active member of, their membership
//! ends as a removal does (`former`; refresh tokens and the API keys they
//! created revoked, pending invitations they sent deleted; their access
//! tokens stop at once) and the tenant's audit log records
//! `member.erased` naming them by id only. Then their account loses its
//! personal data: the email becomes `erased-<id>@erased.invalid`, the
//! password hash goes, the mail addressed to them and the invitations to
//! their address (in every tenant) are deleted.
//!
//! What is kept: the account's id, so rows of models that reference them
//! (an owner, an assignee), memberships (former) and audit rows keep
//! resolving, to a pseudonym; what models' own fields say about them is
//! the tenant's data, erased with the tenant or by its members. Refused
//! with 409 `last-owner`, before anything changes, while they are the
//! only active owner of a tenant: ownership goes to someone else first
//! (`POST /tenant/transfer`), or the tenant is deleted.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::Deserialize;

use super::remove::end_membership;
use super::{keep_an_owner, owner_role};
use crate::audit::{self, Entry};
use crate::auth::Principal;
use crate::auth::invalidate::Invalidation;
use crate::db::DbError;
use crate::http::body::JsonBody;
use crate::http::identity::{text, uuid, uuid_bind, verify_account_password};
use crate::http::{ApiError, AppState, request_id};
use crate::model::{Actor, TenantId, UserId};
use crate::repo::FieldError;

/// `DELETE /me`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::http::identity) struct EraseMe {
    password: String,
}

/// Who asked for an erasure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErasedBy {
    /// The person themselves.
    Themselves,
    /// The platform's operator (`<app> user erase`).
    Operator,
}

/// `DELETE /me` `{"password": …}`: signed in (not an API key); 204, 422
/// for a wrong password, 409 `last-owner` while the caller is a tenant's
/// only owner.
pub(in crate::http::identity) async fn erase_me(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<EraseMe>,
) -> Result<StatusCode, ApiError> {
    principal.require_user()?;
    let user = principal.user();
    let mut tx = state.db().begin(principal.tenant).await?;
    let email = tx
        .fetch_optional(
            "SELECT u.email FROM users u WHERE u.id = $2 \
             AND EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = $1 AND m.user_id = u.id)"
                .into(),
            vec![crate::http::identity::tenant_bind(principal.tenant), uuid_bind(user.0)],
        )
        .await?
        .map(|row| text(&row, 0))
        .transpose()?
        .ok_or(ApiError::Unauthorized("the account is gone"))?;
    tx.finish_read();
    let mut tx = state.db().begin_platform_read().await?;
    let found = super::super::accounts::sign_in_anywhere(&mut tx, &email.to_lowercase()).await?;
    drop(tx);
    let hash = found.filter(|(id, _)| *id == user).and_then(|(_, hash)| hash);
    if !verify_account_password(&state, &email, body.password, hash).await? {
        return Err(ApiError::Invalid(vec![FieldError {
            field: "password".into(),
            code: "password",
            message: "is not this account's password".into(),
        }]));
    }
    erase_user(&state, user, ErasedBy::Themselves, request_id(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The active memberships of `user`: tenant and role.
async fn memberships_of(state: &AppState, user: UserId) -> Result<Vec<(TenantId, String)>, DbError> {
    let mut tx = state.db().begin_platform_read().await?;
    tx.as_user(user).await?;
    let rows = tx
        .fetch_all(
            "SELECT tenant_id, role FROM memberships WHERE user_id = $1 AND status = 'active' ORDER BY created_at"
                .into(),
            vec![uuid_bind(user.0)],
        )
        .await?;
    drop(tx);
    rows.iter()
        .map(|row| Ok((TenantId(uuid(row, 0)?), text(row, 1)?)))
        .collect()
}

/// Erases `user`'s personal data (the module's steps); how many tenants'
/// memberships ended. Refused with [`ApiError::LastOwner`] before any
/// change while they are a tenant's only active owner.
pub(crate) async fn erase_user(
    state: &AppState,
    user: UserId,
    by: ErasedBy,
    request_id: Option<&str>,
) -> Result<usize, ApiError> {
    let owner = owner_role(state.spec())?;
    let memberships = memberships_of(state, user).await?;
    for (tenant, role) in &memberships {
        if role == owner.key() {
            let mut tx = state.db().begin_write(*tenant).await?;
            tx.lock_members().await?;
            keep_an_owner(&mut tx, &owner, user).await?;
        }
    }
    let now = Utc::now();
    for (tenant, role) in &memberships {
        let mut tx = state.db().begin_write(*tenant).await?;
        tx.lock_members().await?;
        // Again under the lock: another owner may have left meanwhile.
        if role == owner.key() {
            keep_an_owner(&mut tx, &owner, user).await?;
        }
        let ended = end_membership(&mut tx, user, user, now).await?;
        let entry = Entry {
            action: "member.erased",
            target_type: "member",
            target_id: user.to_string(),
            request_id,
            metadata: Some(ended.metadata(role)),
        };
        match by {
            ErasedBy::Themselves => audit::record(&mut tx, Actor::User(user), entry).await?,
            ErasedBy::Operator => audit::record_operator(&mut tx, entry).await?,
        }
        tx.commit().await?;
        state.audit_pending().mark(*tenant);
        state.invalidate(Invalidation::Member { tenant: *tenant, user }).await;
    }
    let mut tx = state.db().begin_platform().await?;
    tx.as_user(user).await?;
    tx.erase_account(user).await?;
    let actor = match by {
        ErasedBy::Themselves => format!("user {user}"),
        ErasedBy::Operator => "operator cli".to_owned(),
    };
    let detail = serde_json::json!({ "user": user, "memberships_ended": memberships.len() });
    tx.audit_platform(&actor, "user.erase", &detail).await?;
    tx.commit().await?;
    tracing::info!(user = %user, tenants = memberships.len(), "personal data erased");
    Ok(memberships.len())
}

/// [`erase_user`] for the account of `email`, by the operator; `None`
/// when no account has that email.
pub(crate) async fn erase_by_email(state: &AppState, email: &str) -> Result<Option<(UserId, usize)>, ApiError> {
    let mut tx = state.db().begin_platform_read().await?;
    let found = super::super::accounts::sign_in_anywhere(&mut tx, &email.trim().to_lowercase()).await?;
    drop(tx);
    let Some((user, _)) = found else { return Ok(None) };
    let tenants = erase_user(state, user, ErasedBy::Operator, None).await?;
    Ok(Some((user, tenants)))
}
