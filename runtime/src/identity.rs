//! Identity routes: sign-up, login, refresh, API keys, invitations, members.

use axum::Router;

use crate::http::AppState;

/// Routes that need no bearer token (sign-up, login, refresh, accepting an invitation).
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new()
}

/// Routes behind authentication (API keys, invitations, members, `me`).
pub(crate) fn protected_routes() -> Router<AppState> {
    Router::new()
}
