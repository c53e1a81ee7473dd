//! `/webhooks/endpoints`: a tenant's endpoints. The URL is vetted when it
//! is saved (`WebhookClient::vet`: the address rules every delivery
//! checks again); the secret is generated here, shown once, stored sealed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MAX_DESCRIPTION_LEN, MAX_ENDPOINTS, MAX_URL_LEN, TEST_EVENT, WebhookState, guard, path_id};
use crate::audit::{self, Entry};
use crate::auth::Principal;
use crate::db::Store;
use crate::http::body::JsonBody;
use crate::http::{ApiError, AppState, request_id};
use crate::repo::FieldError;
use crate::webhooks::store::{self, Changes, Endpoint, NewEndpoint};
use crate::webhooks::{ROTATION_GRACE, Secret, SigningKeys, log};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    url: String,
    event_types: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateBody {
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    enabled: Option<Option<bool>>,
}

/// An endpoint with its secret: the answer of a create and a rotation.
#[derive(Serialize)]
pub(super) struct WithSecret {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// `whsec_…`: shown in this answer only.
    secret: String,
}

/// 400 naming `field`, for a value a schema allows and the server does not
/// (an address deliveries may not reach), or a `null` where a value is needed.
fn bad(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("{field}: {why}"))
}

/// A field of an update: absent (kept) or a value; `null` is refused.
fn present<T>(field: &str, value: Option<Option<T>>) -> Result<Option<T>, ApiError> {
    match value {
        Some(None) => Err(bad(field, "must not be null; leave it out to keep it")),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

/// The URL's rules: 1 to [`MAX_URL_LEN`] characters, then what deliveries
/// check (absolute, https unless loopback is allowed, a public address).
async fn vet_url(hooks: &WebhookState, url: &str) -> Result<(), ApiError> {
    if url.is_empty() || url.chars().count() > MAX_URL_LEN {
        return Err(bad("url", format_args!("must be 1 to {MAX_URL_LEN} characters")));
    }
    hooks.services.client.vet(url).await.map_err(|e| bad("url", e))
}

/// The subscribed types: one or more of the app's, each once.
fn check_types(hooks: &WebhookState, types: &[String], errors: &mut Vec<FieldError>) {
    if types.is_empty() {
        errors.push(FieldError::new(
            "event_types",
            "required",
            "list at least one event type",
        ));
    }
    for (i, t) in types.iter().enumerate() {
        if !hooks.event_types.contains(t) {
            let known = hooks.event_types.join(", ");
            errors.push(FieldError::new(
                "event_types",
                "invalid",
                format!("unknown event type `{t}`; one of: {known}"),
            ));
        } else if types[..i].contains(t) {
            errors.push(FieldError::new(
                "event_types",
                "invalid",
                format!("`{t}` is listed twice"),
            ));
        }
    }
}

fn description(text: &str, errors: &mut Vec<FieldError>) {
    if text.chars().count() > MAX_DESCRIPTION_LEN {
        errors.push(FieldError::new(
            "description",
            "too_long",
            format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
}

fn finish(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// The audit entry of an endpoint's `action` (its host, never its URL,
/// whose query may carry a token).
fn entry<'a>(action: &'a str, endpoint: &Endpoint, headers: &'a HeaderMap, extra: serde_json::Value) -> Entry<'a> {
    let host = url::Url::parse(&endpoint.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    let mut metadata = serde_json::json!({ "host": host, "event_types": endpoint.event_types });
    if let (Some(m), serde_json::Value::Object(extra)) = (metadata.as_object_mut(), extra) {
        m.extend(extra);
    }
    Entry {
        action,
        target_type: "webhook_endpoint",
        target_id: endpoint.id.to_string(),
        request_id: request_id(headers),
        metadata: Some(metadata),
    }
}

/// `GET /webhooks/event-types`: what endpoints may subscribe to.
pub(super) async fn event_types(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(guard(&state, &principal)?.event_types.clone()))
}

/// `POST /webhooks/endpoints`: 201 with the secret, shown once.
pub(super) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<WithSecret>), ApiError> {
    let hooks = guard(&state, &principal)?;
    let mut errors = Vec::new();
    check_types(hooks, &body.event_types, &mut errors);
    let text = body.description.unwrap_or_default();
    description(&text, &mut errors);
    finish(errors)?;
    vet_url(hooks, &body.url).await?;
    let id = Uuid::now_v7();
    let secret = Secret::generate();
    let now = Utc::now();
    let mut tx = state.db().begin_write(principal.tenant).await?;
    tx.lock_quota("webhook_endpoints").await?;
    if store::count(&mut tx).await? >= MAX_ENDPOINTS {
        return Err(ApiError::Conflict(format!(
            "a tenant has at most {MAX_ENDPOINTS} webhook endpoints"
        )));
    }
    let new = NewEndpoint {
        id,
        url: &body.url,
        description: &text,
        event_types: &body.event_types,
        secret: hooks.services.key.seal(principal.tenant, id, &secret),
        created_by: principal.user().0,
        at: now,
    };
    store::insert(&mut tx, &new).await?;
    let endpoint = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    audit::record(
        &mut tx,
        principal.actor,
        entry("webhook_endpoint.create", &endpoint, &headers, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    let secret = secret.expose();
    Ok((StatusCode::CREATED, Json(WithSecret { endpoint, secret })))
}

/// `GET /webhooks/endpoints`: every endpoint of the tenant, oldest first.
pub(super) async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<Endpoint>>, ApiError> {
    guard(&state, &principal)?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let endpoints = store::list(&mut tx).await?;
    tx.finish_read();
    Ok(Json(endpoints))
}

/// `GET /webhooks/endpoints/{id}`.
pub(super) async fn read(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    guard(&state, &principal)?;
    let id = path_id(&raw)?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let endpoint = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.finish_read();
    Ok(Json(endpoint))
}

/// `PATCH /webhooks/endpoints/{id}`: the URL, the types, the description,
/// `enabled` (enabling one the platform disabled starts it afresh).
pub(super) async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<Endpoint>, ApiError> {
    let hooks = guard(&state, &principal)?;
    let id = path_id(&raw)?;
    let url: Option<String> = present("url", body.url)?;
    let types: Option<Vec<String>> = present("event_types", body.event_types)?;
    let text: Option<String> = present("description", body.description)?;
    let enabled: Option<bool> = present("enabled", body.enabled)?;
    let mut errors = Vec::new();
    if let Some(types) = &types {
        check_types(hooks, types, &mut errors);
    }
    if let Some(text) = &text {
        description(text, &mut errors);
    }
    finish(errors)?;
    if let Some(url) = &url {
        vet_url(hooks, url).await?;
    }
    let changes = Changes {
        url: url.as_deref(),
        description: text.as_deref(),
        event_types: types.as_deref(),
        enabled,
    };
    let mut tx = state.db().begin_write(principal.tenant).await?;
    if !store::update(&mut tx, id, &changes, Utc::now()).await? {
        return Err(ApiError::NotFound);
    }
    let endpoint = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let fields: Vec<&str> = [
        changes.url.map(|_| "url"),
        changes.event_types.map(|_| "event_types"),
        changes.description.map(|_| "description"),
        changes.enabled.map(|_| "enabled"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let facts = serde_json::json!({ "fields": fields });
    audit::record(
        &mut tx,
        principal.actor,
        entry("webhook_endpoint.update", &endpoint, &headers, facts),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(endpoint))
}

/// `DELETE /webhooks/endpoints/{id}`: the endpoint and its delivery log.
pub(super) async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    guard(&state, &principal)?;
    let id = path_id(&raw)?;
    let mut tx = state.db().begin_write(principal.tenant).await?;
    let endpoint = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    store::delete(&mut tx, id).await?;
    audit::record(
        &mut tx,
        principal.actor,
        entry("webhook_endpoint.delete", &endpoint, &headers, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /webhooks/endpoints/{id}/rotate-secret`: a new secret, shown
/// once; the one it replaces keeps signing for [`ROTATION_GRACE`], so the
/// receiver can switch without a delivery failing.
pub(super) async fn rotate(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<WithSecret>, ApiError> {
    let hooks = guard(&state, &principal)?;
    let id = path_id(&raw)?;
    let key = &hooks.services.key;
    let mut tx = state.db().begin_write(principal.tenant).await?;
    let endpoint = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let now = Utc::now();
    let secret = Secret::generate();
    // A secret that no longer opens (the sealing key changed) just ends;
    // one still retiring from an earlier rotation ends now too (one slot).
    let retiring = match key.open(principal.tenant, id, &endpoint.secret) {
        Ok(old) => {
            let keys = SigningKeys::new(old).rotate(secret.clone(), now, ROTATION_GRACE);
            debug_assert_eq!(keys.current(), &secret);
            keys.retiring()
                .last()
                .map(|(old, until)| (key.seal(principal.tenant, id, old), *until))
        }
        Err(_) => None,
    };
    store::set_secrets(&mut tx, id, key.seal(principal.tenant, id, &secret), retiring, now).await?;
    let endpoint = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    audit::record(
        &mut tx,
        principal.actor,
        entry(
            "webhook_endpoint.rotate_secret",
            &endpoint,
            &headers,
            serde_json::json!({}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(WithSecret {
        endpoint,
        secret: secret.expose(),
    }))
}

/// `POST /webhooks/endpoints/{id}/test`: a `webhook.test` event delivered
/// to this endpoint only, like any other (202 with its delivery).
pub(super) async fn test(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<log::Delivery>), ApiError> {
    guard(&state, &principal)?;
    let id = path_id(&raw)?;
    let mut tx = state.db().begin_write(principal.tenant).await?;
    let endpoint = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    if !endpoint.enabled {
        return Err(ApiError::Conflict("the endpoint is disabled: enable it first".into()));
    }
    let now = Utc::now();
    let data = serde_json::json!({
        "endpoint_id": id,
        "message": format!("A test event from {}", state.spec().title),
    });
    let event = Uuid::now_v7();
    tx.record_event(event, TEST_EVENT, data, now, Store::Always).await?;
    let delivery = log::insert(&mut tx, id, event, now).await?;
    tx.enqueue_delivery(delivery, 1, 1, None).await?;
    let view = log::get(&mut tx, id, delivery).await?.ok_or(ApiError::NotFound)?;
    audit::record(
        &mut tx,
        principal.actor,
        entry(
            "webhook_endpoint.test",
            &endpoint,
            &headers,
            serde_json::json!({ "event": event }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}
