//! Role changes: `PATCH /members/{user_id}` and `POST /tenant/transfer`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{
    MANAGE, begin, invalidate, keep_an_owner, membership, owner_role, path_user, require_over, set_role, step_down_role,
};
use crate::audit::{self, Entry};
use crate::auth::Principal;
use crate::http::identity::{JsonBody, finish, known_role, require_covers};
use crate::http::{ApiError, AppState, request_id};
use crate::model::UserId;
use crate::repo::FieldError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::http::identity) struct ChangeRole {
    role: String,
}

#[derive(Serialize)]
pub(in crate::http::identity) struct RoleChanged {
    user_id: UserId,
    /// The role before.
    from: String,
    /// The role now.
    role: String,
}

/// `PATCH /members/{user_id}` `{"role": …}`: 200 with the member's old and
/// new role; 404 for no active member of that id; 403 when the caller
/// lacks a permission of the new role or of the member's current one; 409
/// `last-owner` when it would demote the tenant's last owner. The same
/// role again changes nothing (no audit row, tokens kept).
pub(in crate::http::identity) async fn change_role(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody<ChangeRole>,
) -> Result<Json<RoleChanged>, ApiError> {
    principal.require(MANAGE)?;
    let user = path_user(&raw)?;
    let mut errors = Vec::new();
    // Named among the roles as they are under the lock, below.
    if body.role.is_empty() {
        return Err(ApiError::Invalid(vec![FieldError {
            field: "role".into(),
            code: "required",
            message: "must not be empty".into(),
        }]));
    }
    let owner = owner_role(state.spec())?;

    let (mut tx, locked) = begin(&state, &principal, Some(MANAGE)).await?;
    let role = known_role(state.spec(), &locked.roles, "role", &body.role, &mut errors);
    finish(errors)?;
    let role = role.ok_or_else(|| ApiError::Internal("role checked above".into()))?;
    let target = membership(&locked.roles, state.spec(), &mut tx, user)
        .await?
        .filter(|m| m.active)
        .ok_or(ApiError::NotFound)?;
    require_over(&locked.acting, &target)?;
    require_covers(&locked.acting, &role)?;
    let changed = RoleChanged {
        user_id: user,
        from: target.role_name().to_owned(),
        role: role.name().to_owned(),
    };
    if target.role == role.key() {
        tx.commit().await?;
        return Ok(Json(changed));
    }
    if target.holds(&owner) {
        keep_an_owner(&mut tx, &owner, user).await?;
    }
    set_role(&mut tx, user, role.key(), Utc::now()).await?;
    let entry = Entry {
        action: "member.role_changed",
        target_type: "member",
        target_id: user.to_string(),
        request_id: request_id(&headers),
        metadata: Some(serde_json::json!({ "from": target.role_name(), "to": role.name() })),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    tx.commit().await?;
    invalidate(&state, &principal, user).await;
    Ok(Json(changed))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::http::identity) struct Transfer {
    to: String,
}

#[derive(Serialize)]
pub(in crate::http::identity) struct Transferred {
    /// The new owner.
    to: UserId,
    /// The owner role, which they hold now.
    role: String,
    /// The caller's role now.
    your_role: String,
}

/// `POST /tenant/transfer` `{"to": user_id}`: only an owner, signed in
/// (not an API key). The target, an active member other than the caller,
/// gets the owner role; the caller steps down to [`step_down_role`] (the
/// strongest role the owner role contains; with none, they stay owner).
pub(in crate::http::identity) async fn transfer(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Transfer>,
) -> Result<Json<Transferred>, ApiError> {
    principal.require_user()?;
    let owner = owner_role(state.spec())?;
    let me = principal.user();
    let field = |message: &str| {
        ApiError::Invalid(vec![FieldError {
            field: "to".into(),
            code: "invalid",
            message: message.into(),
        }])
    };
    let to = body
        .to
        .parse::<uuid::Uuid>()
        .map(UserId)
        .map_err(|_| field("must be a member's user id"))?;
    if to == me {
        return Err(field("must be another member than you"));
    }

    let (mut tx, locked) = begin(&state, &principal, None).await?;
    if locked.acting != owner {
        return Err(ApiError::RoleRequired(state.spec().roles[0].name));
    }
    let target = membership(&locked.roles, state.spec(), &mut tx, to)
        .await?
        .filter(|m| m.active)
        .ok_or_else(|| field("must be an active member of the tenant"))?;
    let your_role = step_down_role(state.spec()).unwrap_or_else(|| owner.clone());
    let now = Utc::now();
    if !target.holds(&owner) {
        set_role(&mut tx, to, owner.key(), now).await?;
    }
    if your_role != owner {
        set_role(&mut tx, me, your_role.key(), now).await?;
    }
    let entry = Entry {
        action: "tenant.ownership_transferred",
        target_type: "member",
        target_id: to.to_string(),
        request_id: request_id(&headers),
        metadata: Some(serde_json::json!({
            "from": me.to_string(),
            "to": to.to_string(),
            "to_previous_role": target.role_name(),
            "from_role": your_role.name(),
        })),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    tx.commit().await?;
    if !target.holds(&owner) {
        invalidate(&state, &principal, to).await;
    }
    if your_role != owner {
        invalidate(&state, &principal, me).await;
    }
    Ok(Json(Transferred {
        to,
        role: owner.name().to_owned(),
        your_role: your_role.name().to_owned(),
    }))
}
