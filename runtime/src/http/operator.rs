//! The platform operator's API, `/operator`: a tenant's plan, apart from
//! every tenant's own authentication.
//!
//! Served only when `ROOKERY_OPERATOR_TOKEN` is set (otherwise every path
//! under `/operator` answers 404, as an unknown path), behind
//! `Authorization: Bearer <token>` compared in constant time; no tenant
//! token or API key opens it, and it names tenants by slug, not by the
//! request's host or `X-Tenant`. The changes themselves are
//! `crate::operator`'s; each is applied here and published to every other
//! instance (`AppState::invalidate`) before the answer, so the tenant's
//! next request anywhere sees it.
//!
//! - `GET /operator/tenants/{slug}`: id, slug, name, plan, features.
//! - `PUT /operator/tenants/{slug}/plan` `{"plan": "growth"}`: the same,
//!   with `from` and `changed`;
//! - `PUT /operator/tenants/{slug}/features/{feature}` `{"enabled": true}`:
//!   the feature on (or off) for this tenant whatever its plan says;
//!   `DELETE` on the same path: back to what the plan says.
//! - `GET`, `POST` and `DELETE /operator/tenants/{slug}/deletion`: the
//!   tenant's pending deletion, asking for it (202, erased after
//!   `ROOKERY_DELETION_GRACE_DAYS`) and cancelling it (204), as the
//!   tenant's owner would (`crate::erasure`, audited as the operator's).

use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use axum::http::StatusCode;

use super::body::JsonBody;
use super::deletion::Deletion;
use super::{ApiError, AppState};
use crate::auth::invalidate::Invalidation;
use crate::erasure::{self, Requester};
use crate::operator::{self, FeatureChange, OperatorError, PlanChange, TenantFacts, Via};
use crate::repo::FieldError;

/// The operator's routes, when a token is configured.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    if state.config().operator_token.is_none() {
        return Router::new();
    }
    Router::new()
        .route("/operator/tenants/{slug}", get(show))
        .route("/operator/tenants/{slug}/plan", put(set_plan))
        .route(
            "/operator/tenants/{slug}/features/{feature}",
            put(override_feature).delete(clear_feature),
        )
        .route(
            "/operator/tenants/{slug}/deletion",
            get(show_deletion).post(request_deletion).delete(cancel_deletion),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), operator_only))
}

/// 401 unless the request carries the operator's token.
async fn operator_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token = state.config().operator_token.as_deref();
    if token.is_none() || !super::metrics::authorized(token, request.headers()) {
        return ApiError::Unauthorized("missing or wrong operator token").into_response();
    }
    next.run(request).await
}

async fn show(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Json<TenantFacts>, ApiError> {
    Ok(Json(operator::tenant(state.db(), state.spec(), &slug).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetPlan {
    plan: String,
}

async fn set_plan(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<SetPlan>,
) -> Result<Json<PlanChange>, ApiError> {
    let change = operator::set_plan(state.db(), state.spec(), &slug, &body.plan, Via::Api).await?;
    if change.changed {
        state.invalidate(Invalidation::Tenant(change.tenant.id)).await;
    }
    Ok(Json(change))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetFeature {
    enabled: bool,
}

async fn override_feature(
    State(state): State<AppState>,
    Path((slug, feature)): Path<(String, String)>,
    JsonBody(body): JsonBody<SetFeature>,
) -> Result<Json<FeatureChange>, ApiError> {
    feature_change(&state, &slug, &feature, Some(body.enabled)).await
}

async fn clear_feature(
    State(state): State<AppState>,
    Path((slug, feature)): Path<(String, String)>,
) -> Result<Json<FeatureChange>, ApiError> {
    feature_change(&state, &slug, &feature, None).await
}

async fn feature_change(
    state: &AppState,
    slug: &str,
    feature: &str,
    enabled: Option<bool>,
) -> Result<Json<FeatureChange>, ApiError> {
    let change = operator::set_feature(state.db(), state.spec(), slug, feature, enabled, Via::Api).await?;
    if change.changed {
        state.invalidate(Invalidation::Tenant(change.tenant.id)).await;
    }
    Ok(Json(change))
}

/// Who the erasure's audits name for this API.
const OPERATOR_API: Requester = Requester::Operator("operator api");

async fn show_deletion(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Json<Deletion>, ApiError> {
    let tenant = operator::tenant(state.db(), state.spec(), &slug).await?;
    Ok(Json(erasure::pending(state.db(), tenant.id).await?.into()))
}

async fn request_deletion(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<(StatusCode, Json<Deletion>), ApiError> {
    let tenant = operator::tenant(state.db(), state.spec(), &slug).await?;
    let grace = state.config().deletion_grace_days;
    let requested = erasure::request(state.db(), tenant.id, OPERATOR_API, grace, None).await?;
    if requested.new {
        state.audit_pending().mark(tenant.id);
    }
    Ok((StatusCode::ACCEPTED, Json(Some(requested.pending).into())))
}

async fn cancel_deletion(State(state): State<AppState>, Path(slug): Path<String>) -> Result<StatusCode, ApiError> {
    let tenant = operator::tenant(state.db(), state.spec(), &slug).await?;
    if erasure::cancel(state.db(), tenant.id, OPERATOR_API, None).await? {
        state.audit_pending().mark(tenant.id);
    }
    Ok(StatusCode::NO_CONTENT)
}

impl From<OperatorError> for ApiError {
    fn from(err: OperatorError) -> Self {
        match err {
            OperatorError::UnknownTenant(_) => Self::NotFound,
            OperatorError::UnknownPlan { known, .. } => Self::Invalid(vec![FieldError {
                field: "plan".into(),
                code: "unknown",
                message: format!("is not a plan of this app (the plans are {known})"),
            }]),
            OperatorError::UnknownFeature { .. } => Self::NotFound,
            OperatorError::Db(db) => db.into(),
        }
    }
}
