//! The generic routes every tenant-scoped model gets.

use axum::Router;

use super::AppState;
use crate::model::TenantModel;

/// The list / get / create / update / delete routes of model `M`.
pub fn router<M: TenantModel>() -> Router<AppState> {
    Router::new()
}
