//! Webhook routes: a tenant's endpoints (create, list, get, update,
//! delete, rotate the secret, send a test event) and their delivery log
//! (list, get with every attempt, redeliver), under `/webhooks`.
//!
//! Every route needs the permission `webhooks.manage` and a plan with the
//! feature `webhooks` (in that order: 403 `forbidden`, then 403
//! `feature-not-in-plan`). Another tenant's endpoint or delivery answers
//! 404, like a missing one. An endpoint's signing secret is shown once,
//! in the answer of the create or the rotation, and stored sealed.
//!
//! The routes exist when the spec declares the feature `webhooks`.

mod deliveries;
mod endpoints;

pub(crate) use deliveries::{DEFAULT_LIMIT, MAX_LIMIT};

use axum::Router;
use axum::routing::{get, post};
use uuid::Uuid;

use crate::app_spec::AppSpec;
use crate::auth::Principal;
use crate::config::Config;
use crate::http::{ApiError, AppState};
use crate::webhooks::Webhooks;

/// The permission every webhook route needs (a platform permission roles
/// grant like any other).
pub(crate) const MANAGE: &str = "webhooks.manage";
/// The plan feature every webhook route needs, by this fixed name.
pub(crate) const FEATURE: &str = "webhooks";
/// Endpoints one tenant may have.
pub(crate) const MAX_ENDPOINTS: i64 = 20;
/// The longest endpoint URL accepted.
pub(crate) const MAX_URL_LEN: usize = 2048;
/// The longest description accepted.
pub(crate) const MAX_DESCRIPTION_LEN: usize = 200;
/// The type of the events `POST …/test` sends (no endpoint subscribes to it).
pub(crate) const TEST_EVENT: &str = "webhook.test";

/// Whether `spec` declares the `webhooks` feature, which turns the routes on.
pub(crate) fn declared(spec: &AppSpec) -> bool {
    spec.features.iter().any(|f| f.name == FEATURE)
}

/// What the routes need beyond the database.
#[derive(Debug)]
pub(crate) struct WebhookState {
    pub(crate) services: Webhooks,
    /// Every event type the app records, sorted: what endpoints may
    /// subscribe to.
    pub(crate) event_types: Vec<String>,
}

impl WebhookState {
    pub(crate) fn new(config: &Config, event_types: Vec<String>) -> Self {
        Self {
            services: Webhooks::new(config, None),
            event_types,
        }
    }
}

/// The routes, behind authentication.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/event-types", get(endpoints::event_types))
        .route("/webhooks/endpoints", get(endpoints::list).post(endpoints::create))
        .route(
            "/webhooks/endpoints/{id}",
            get(endpoints::read).patch(endpoints::update).delete(endpoints::remove),
        )
        .route("/webhooks/endpoints/{id}/rotate-secret", post(endpoints::rotate))
        .route("/webhooks/endpoints/{id}/test", post(endpoints::test))
        .route("/webhooks/endpoints/{id}/deliveries", get(deliveries::list))
        .route("/webhooks/endpoints/{id}/deliveries/{delivery}", get(deliveries::read))
        .route(
            "/webhooks/endpoints/{id}/deliveries/{delivery}/redeliver",
            post(deliveries::redeliver),
        )
}

/// The permission, then the feature; the state the routes share.
fn guard<'s>(state: &'s AppState, principal: &Principal) -> Result<&'s WebhookState, ApiError> {
    principal.require(MANAGE)?;
    principal.require_feature(FEATURE)?;
    state.webhooks().ok_or(ApiError::NotFound)
}

/// A path id: one that is no UUID names nothing (404).
fn path_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound)
}
