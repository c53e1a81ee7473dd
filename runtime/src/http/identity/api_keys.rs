//! API keys of a tenant: `POST /api-keys` (the key is shown once),
//! `GET /api-keys` (never the key nor its hash), `DELETE /api-keys/{id}`.
//!
//! A key acts with a role no stronger than its creator's (`rbac::can_grant`);
//! the stored hash is HMAC-SHA256 under the server's pepper.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    JsonBody, bytes_bind, finish, known_role, opt_text, opt_time, require_covers, role_label, tenant_bind, text,
    text_bind, time, time_bind, uuid, uuid_bind,
};
use crate::audit::{self, Entry};
use crate::auth::api_key::LastUse;
use crate::auth::{Principal, api_key};
use crate::http::{ApiError, AppState, request_id};
use crate::model::{TenantId, UserId};
use crate::repo::FieldError;

const MANAGE: &str = "api_keys.manage";
pub(crate) const MAX_NAME_LEN: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateKey {
    name: String,
    role: String,
}

#[derive(Serialize)]
pub(super) struct CreatedKey {
    id: Uuid,
    name: String,
    role: String,
    prefix: String,
    /// The whole key: shown in this response only.
    key: String,
    created_at: DateTime<Utc>,
}

/// Records a use of key `id` from `ip` (its `last_used_at` and
/// `last_used_ip`) when `last` is stale ([`LastUse::stale`]): one statement
/// of its own, before the request's handler runs. A failure is logged and
/// the request goes on: the record is bookkeeping, not access control.
pub(crate) async fn record_use(state: &AppState, tenant: TenantId, id: Uuid, last: &LastUse, ip: &str) {
    let now = crate::db::now();
    if !last.stale(ip, now) {
        return;
    }
    let recorded = async {
        let mut tx = state.db().begin_write_one(tenant).await?;
        tx.execute(
            "UPDATE api_keys SET last_used_at = $3, last_used_ip = $4 WHERE tenant_id = $1 AND id = $2".into(),
            vec![tenant_bind(tenant), uuid_bind(id), time_bind(now), text_bind(ip)],
        )
        .await?;
        tx.commit().await
    };
    if let Err(err) = recorded.await {
        tracing::warn!(tenant = %tenant, key = %id, error = %err, "could not record an API key's last use");
    }
}

#[derive(Serialize)]
pub(super) struct KeyView {
    id: Uuid,
    name: String,
    role: String,
    prefix: String,
    created_by: UserId,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    /// The client's address at the last use (as `ROOKERY_TRUST_PROXY`
    /// reads it; recorded at most once a minute unless it changes).
    last_used_ip: Option<String>,
    revoked_at: Option<DateTime<Utc>>,
}

/// `POST /api-keys`.
pub(super) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    super::require_method(&state, crate::app_spec::AuthMethod::ApiKey)?;
    principal.require_user()?;
    if let Some(feature) = state.spec().gates.api_keys {
        principal.require_feature(feature)?;
    }
    principal.require(MANAGE)?;
    let mut errors = Vec::new();
    let name = body.name.trim().to_owned();
    if name.is_empty() {
        errors.push(FieldError {
            field: "name".into(),
            code: "required",
            message: "must not be empty".into(),
        });
    } else if body.name.chars().count() > MAX_NAME_LEN {
        errors.push(FieldError {
            field: "name".into(),
            code: "too_long",
            message: format!("must be at most {MAX_NAME_LEN} characters"),
        });
    }
    // Named among the roles as this instance knows them, with the other
    // field errors; then again under the lock.
    known_role(state.spec(), &principal.info.roles, "role", &body.role, &mut errors);
    finish(errors)?;
    // The role as the tenant has it now, and the caller's own, under the
    // members lock: a custom role deleted or narrowed meanwhile is seen.
    let (mut tx, locked) = super::members::begin(&state, &principal, Some(MANAGE)).await?;
    let mut errors = Vec::new();
    let role = known_role(state.spec(), &locked.roles, "role", &body.role, &mut errors);
    finish(errors)?;
    let role = role.ok_or_else(|| ApiError::Internal("role checked above".into()))?;
    require_covers(&locked.acting, &role)?;

    let new = api_key::generate(state.spec().name, &state.config().env);
    let hash = api_key::hash(&state.config().api_key_pepper, &new.key);
    let id = Uuid::now_v7();
    let now = crate::db::now();
    tx.execute(
        "INSERT INTO api_keys (tenant_id, id, name, prefix, key_hash, role, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            .into(),
        vec![
            tenant_bind(principal.tenant),
            uuid_bind(id),
            text_bind(&name),
            text_bind(&new.prefix),
            bytes_bind(hash),
            text_bind(role.key()),
            uuid_bind(principal.user().0),
            time_bind(now),
        ],
    )
    .await?;
    let entry = Entry {
        action: "api_key.create",
        target_type: "api_key",
        target_id: id.to_string(),
        request_id: request_id(&headers),
        metadata: Some(serde_json::json!({ "name": name, "role": role.name() })),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    tx.commit().await?;
    let created = CreatedKey {
        id,
        name,
        role: role.name().to_owned(),
        prefix: new.prefix,
        key: new.key,
        created_at: now,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api-keys`: every key of the tenant, whoever created it, revoked
/// ones included: a holder of `api_keys.manage` oversees (and may revoke)
/// them all, a former member's revoked keys among them.
pub(super) async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<KeyView>>, ApiError> {
    principal.require(MANAGE)?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let rows = tx
        .fetch_all(
            "SELECT id, name, role, prefix, created_by, created_at, last_used_at, revoked_at, last_used_ip \
             FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id"
                .into(),
            vec![tenant_bind(principal.tenant)],
        )
        .await?;
    tx.finish_read();
    let keys = rows
        .iter()
        .map(|row| {
            Ok(KeyView {
                id: uuid(row, 0)?,
                name: text(row, 1)?,
                role: role_label(state.spec(), &principal.info.roles, &text(row, 2)?),
                prefix: text(row, 3)?,
                created_by: UserId(uuid(row, 4)?),
                created_at: time(row, 5)?,
                last_used_at: opt_time(row, 6)?,
                last_used_ip: opt_text(row, 8)?,
                revoked_at: opt_time(row, 7)?,
            })
        })
        .collect::<Result<Vec<_>, crate::db::DbError>>()?;
    Ok(Json(keys))
}

/// `DELETE /api-keys/{id}`: revokes a key (204; again on a revoked key;
/// 404 for an unknown id or another tenant's key).
pub(super) async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(MANAGE)?;
    let id: Uuid = raw.parse().map_err(|_| ApiError::NotFound)?;
    let mut tx = state.db().begin_write(principal.tenant).await?;
    let revoked = tx
        .execute(
            "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL".into(),
            vec![tenant_bind(principal.tenant), uuid_bind(id), time_bind(Utc::now())],
        )
        .await?;
    if revoked == 0 {
        let exists = tx
            .fetch_optional(
                "SELECT id FROM api_keys WHERE tenant_id = $1 AND id = $2".into(),
                vec![tenant_bind(principal.tenant), uuid_bind(id)],
            )
            .await?
            .is_some();
        tx.commit().await?;
        return if exists {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(ApiError::NotFound)
        };
    }
    let entry = Entry {
        action: "api_key.revoke",
        target_type: "api_key",
        target_id: id.to_string(),
        request_id: request_id(&headers),
        metadata: None,
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
