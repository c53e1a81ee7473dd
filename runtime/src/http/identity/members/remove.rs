//! Ending a membership: `DELETE /members/{user_id}` and
//! `POST /members/me/leave`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};

use super::{MANAGE, begin, invalidate, keep_an_owner, membership, owner_role, path_user, require_over};
use crate::audit::{self, Entry};
use crate::auth::Principal;
use crate::db::{DbError, TenantTx, Writing};
use crate::http::identity::{tenant_bind, time_bind, uuid_bind};
use crate::http::{ApiError, AppState, request_id};
use crate::model::UserId;

/// `DELETE /members/{user_id}`: 204, again for a former member; 404 for
/// none; 403 for a member with a permission the caller lacks; 409
/// `last-owner` for the tenant's last owner.
pub(in crate::http::identity) async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(MANAGE)?;
    let user = path_user(&raw)?;
    let owner = owner_role(state.spec())?;
    let (mut tx, locked) = begin(&state, &principal, Some(MANAGE)).await?;
    let target = membership(&locked.roles, state.spec(), &mut tx, user)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !target.active {
        tx.commit().await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    require_over(&locked.acting, &target)?;
    if target.holds(&owner) {
        keep_an_owner(&mut tx, &owner, user).await?;
    }
    let ended = end_membership(&mut tx, user, principal.user(), Utc::now()).await?;
    let entry = Entry {
        action: "member.removed",
        target_type: "member",
        target_id: user.to_string(),
        request_id: request_id(&headers),
        metadata: Some(ended.metadata(target.role_name())),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    tx.commit().await?;
    invalidate(&state, &principal, user).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /members/me/leave`: any member, signed in (not an API key); 204,
/// or 409 `last-owner` for the tenant's last owner.
pub(in crate::http::identity) async fn leave(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    principal.require_user()?;
    let me = principal.user();
    let owner = owner_role(state.spec())?;
    let (mut tx, locked) = begin(&state, &principal, None).await?;
    if locked.acting == owner {
        keep_an_owner(&mut tx, &owner, me).await?;
    }
    let ended = end_membership(&mut tx, me, me, Utc::now()).await?;
    let entry = Entry {
        action: "member.left",
        target_type: "member",
        target_id: me.to_string(),
        request_id: request_id(&headers),
        metadata: Some(ended.metadata(locked.acting.name())),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    tx.commit().await?;
    invalidate(&state, &principal, me).await;
    Ok(StatusCode::NO_CONTENT)
}

/// What ending a membership took with it.
pub(super) struct Ended {
    api_keys: u64,
    invitations: u64,
}

impl Ended {
    pub(super) fn metadata(&self, role: &str) -> serde_json::Value {
        serde_json::json!({
            "role": role,
            "api_keys_revoked": self.api_keys,
            "invitations_deleted": self.invitations,
        })
    }
}

/// Marks `user`'s membership `former` (removed by `by`) and, in the same
/// transaction, revokes their refresh tokens and the API keys they created
/// and deletes the pending invitations they sent or that are addressed to
/// them (an old link must not bring them back).
pub(super) async fn end_membership(
    tx: &mut TenantTx<Writing>,
    user: UserId,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<Ended, DbError> {
    let tenant = tx.tenant();
    tx.execute(
        "UPDATE memberships SET status = 'former', removed_at = $3, removed_by = $4 \
         WHERE tenant_id = $1 AND user_id = $2 AND status = 'active'"
            .into(),
        vec![tenant_bind(tenant), uuid_bind(user.0), time_bind(now), uuid_bind(by.0)],
    )
    .await?;
    crate::http::identity::session::revoke_all(tx, tenant, user, now).await?;
    let invitations = tx
        .execute(
            "DELETE FROM invitations WHERE tenant_id = $1 AND accepted_at IS NULL \
             AND (invited_by = $2 OR lower(email) = (SELECT lower(u.email) FROM users u WHERE u.id = $2))"
                .into(),
            vec![tenant_bind(tenant), uuid_bind(user.0)],
        )
        .await?;
    let api_keys = tx
        .execute(
            "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND created_by = $2 AND revoked_at IS NULL"
                .into(),
            vec![tenant_bind(tenant), uuid_bind(user.0), time_bind(now)],
        )
        .await?;
    Ok(Ended { api_keys, invitations })
}
