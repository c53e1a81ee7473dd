//! `/tenant/deletion`: an owner asks to delete the tenant, sees when it
//! will be erased, and cancels during the grace period
//! (`rookery::erasure`).
//!
//! - `GET` (any member or API key): the pending deletion, or
//!   `{"pending": false}`.
//! - `POST` `{"confirm": "<the tenant's slug>"}` (`tenant.delete`, signed
//!   in, not an API key): 202 with when the tenant will be erased. Asked
//!   again while one is pending, 202 with the pending one (its grace
//!   period is kept).
//! - `DELETE` (`tenant.delete`, signed in): cancels; 204, also when none
//!   was pending.
//!
//! During the grace period the tenant works as before, so its members can
//! export their data (`GET /tenant/export`) and change their minds.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body::JsonBody;
use super::{ApiError, AppState, request_id};
use crate::auth::Principal;
use crate::db::erasure::Pending;
use crate::erasure::{self, Requester};
use crate::model::UserId;
use crate::repo::FieldError;

use crate::erasure::PERMISSION;

/// `POST /tenant/deletion`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Confirm {
    confirm: String,
}

/// The tenant's deletion, as the routes answer it.
#[derive(Serialize)]
pub(super) struct Deletion {
    /// Whether a deletion is pending.
    pending: bool,
    /// When it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_at: Option<DateTime<Utc>>,
    /// Who asked (absent: the platform's operator).
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_by: Option<UserId>,
    /// When every row of the tenant will be erased (at the first run of
    /// the erasure job after it).
    #[serde(skip_serializing_if = "Option::is_none")]
    erase_after: Option<DateTime<Utc>>,
}

impl From<Option<Pending>> for Deletion {
    fn from(pending: Option<Pending>) -> Self {
        match pending {
            None => Self {
                pending: false,
                requested_at: None,
                requested_by: None,
                erase_after: None,
            },
            Some(p) => Self {
                pending: true,
                requested_at: Some(p.requested_at),
                requested_by: p.requested_by,
                erase_after: Some(p.erase_after),
            },
        }
    }
}

/// `GET /tenant/deletion`.
pub(super) async fn show(State(state): State<AppState>, principal: Principal) -> Result<Json<Deletion>, ApiError> {
    Ok(Json(erasure::pending(state.db(), principal.tenant).await?.into()))
}

/// `POST /tenant/deletion`.
pub(super) async fn request(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Confirm>,
) -> Result<(StatusCode, Json<Deletion>), ApiError> {
    principal.require(PERMISSION)?;
    principal.require_user()?;
    if body.confirm != principal.info.slug {
        return Err(ApiError::Invalid(vec![FieldError {
            field: "confirm".into(),
            code: "confirmation",
            message: "must be the tenant's slug, to confirm that every row of this tenant is to be erased".into(),
        }]));
    }
    let tenant = principal.tenant;
    let grace = state.config().deletion_grace_days;
    let requested = erasure::request(
        state.db(),
        tenant,
        Requester::User(principal.user()),
        grace,
        request_id(&headers),
    )
    .await?;
    if requested.new {
        state.audit_pending().mark(tenant);
    }
    Ok((StatusCode::ACCEPTED, Json(Some(requested.pending).into())))
}

/// `DELETE /tenant/deletion`.
pub(super) async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    principal.require(PERMISSION)?;
    principal.require_user()?;
    let tenant = principal.tenant;
    let cancelled = erasure::cancel(
        state.db(),
        tenant,
        Requester::User(principal.user()),
        request_id(&headers),
    )
    .await?;
    if cancelled {
        state.audit_pending().mark(tenant);
    }
    Ok(StatusCode::NO_CONTENT)
}

impl From<erasure::ErasureError> for ApiError {
    fn from(err: erasure::ErasureError) -> Self {
        match err {
            // Credentials of a tenant erased a moment ago: as for a token
            // of no tenant.
            erasure::ErasureError::UnknownTenant => Self::Unauthorized("the tenant no longer exists"),
            erasure::ErasureError::Db(db) => db.into(),
        }
    }
}
