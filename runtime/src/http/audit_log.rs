//! `GET /audit-log`: the tenant's audit log, newest first, for holders of
//! `audit.read` ([`crate::audit::list`]). The route exists when some role
//! of the spec grants `audit.read`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::routing::get;

use super::{ApiError, AppState};
use crate::app_spec::AppSpec;
use crate::audit::{AuditPage, AuditQuery};
use crate::auth::Principal;

/// The permission that reads the audit log.
pub(crate) const READ: &str = "audit.read";

/// Whether the app serves the audit log: some role grants [`READ`].
pub(crate) fn served(spec: &AppSpec) -> bool {
    spec.roles
        .iter()
        .any(|r| r.permissions.contains(&READ) || r.own.contains(&READ))
}

pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/audit-log", get(list))
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    principal.require(READ)?;
    let pairs: Vec<_> = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()).collect();
    let query = AuditQuery::parse(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let page = crate::audit::list(&mut tx, &query).await?;
    tx.finish_read();
    Ok(Json(page))
}
