//! `/webhooks/endpoints/{id}/deliveries`: the delivery log of one endpoint
//! (newest first, a keyset cursor), one delivery with every attempt, and
//! redelivery.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{guard, path_id};
use crate::audit::{self, Entry};
use crate::auth::Principal;
use crate::http::{ApiError, AppState, request_id};
use crate::webhooks::log::{self, Attempt, Delivery};
use crate::webhooks::store;

/// Deliveries per page by default, and at most.
pub(crate) const DEFAULT_LIMIT: u32 = 20;
/// The most deliveries one page holds.
pub(crate) const MAX_LIMIT: u32 = 100;

/// One page of deliveries.
#[derive(Serialize)]
pub(super) struct DeliveryPage {
    data: Vec<Delivery>,
    /// The `cursor` of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// A delivery with every attempt, oldest first.
#[derive(Serialize)]
pub(super) struct DeliveryDetail {
    #[serde(flatten)]
    delivery: Delivery,
    history: Vec<Attempt>,
}

/// The cursor after `delivery`: its `created_at` (microseconds) and id.
fn cursor(delivery: &Delivery) -> String {
    let text = format!("{}.{}", delivery.created_at.timestamp_micros(), delivery.id.simple());
    URL_SAFE_NO_PAD.encode(text)
}

/// Where a page starts: after the delivery made at this time with this id.
type After = (DateTime<Utc>, Uuid);

fn parse_cursor(text: &str) -> Option<After> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let (micros, id) = raw.split_once('.')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, Uuid::try_parse(id).ok()?))
}

/// `limit` and `cursor`; anything else, or a value that does not parse, is 400.
fn page_query(query: Option<&str>) -> Result<(u32, Option<After>), ApiError> {
    let (mut limit, mut after) = (DEFAULT_LIMIT, None);
    let mut seen = (false, false);
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "limit" if !seen.0 => {
                seen.0 = true;
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| ApiError::BadRequest(format!("limit: must be an integer from 1 to {MAX_LIMIT}")))?;
            }
            "cursor" if !seen.1 => {
                seen.1 = true;
                after = Some(parse_cursor(&value).ok_or_else(|| {
                    ApiError::BadRequest("cursor: not the `next_cursor` of a page of this list".into())
                })?);
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown or repeated query parameter `{other}`"
                )));
            }
        }
    }
    Ok((limit, after))
}

/// `GET /webhooks/endpoints/{id}/deliveries?limit&cursor`.
pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<DeliveryPage>, ApiError> {
    guard(&state, &principal)?;
    let endpoint = path_id(&raw)?;
    let (limit, after) = page_query(query.as_deref())?;
    let mut tx = state.db().begin(principal.tenant).await?;
    if store::get(&mut tx, endpoint).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let mut data = log::list(&mut tx, endpoint, after, limit + 1).await?;
    tx.finish_read();
    let more = data.len() > limit as usize;
    data.truncate(limit as usize);
    let next_cursor = if more { data.last().map(cursor) } else { None };
    Ok(Json(DeliveryPage { data, next_cursor }))
}

/// `GET /webhooks/endpoints/{id}/deliveries/{delivery}`: with every attempt.
pub(super) async fn read(
    State(state): State<AppState>,
    principal: Principal,
    Path((raw, raw_delivery)): Path<(String, String)>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    guard(&state, &principal)?;
    let (endpoint, id) = (path_id(&raw)?, path_id(&raw_delivery)?);
    let mut tx = state.db().begin(principal.tenant).await?;
    let delivery = log::get(&mut tx, endpoint, id).await?.ok_or(ApiError::NotFound)?;
    let history = log::attempts(&mut tx, id).await?;
    tx.finish_read();
    Ok(Json(DeliveryDetail { delivery, history }))
}

/// `POST /webhooks/endpoints/{id}/deliveries/{delivery}/redeliver`: sends
/// a delivered or failed delivery again now, on a fresh retry schedule
/// (202); 409 while it is still pending or the endpoint is disabled.
pub(super) async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path((raw, raw_delivery)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    guard(&state, &principal)?;
    let (endpoint_id, id) = (path_id(&raw)?, path_id(&raw_delivery)?);
    let mut tx = state.db().begin_write(principal.tenant).await?;
    let endpoint = store::get(&mut tx, endpoint_id).await?.ok_or(ApiError::NotFound)?;
    let delivery = log::get(&mut tx, endpoint_id, id).await?.ok_or(ApiError::NotFound)?;
    if !endpoint.enabled {
        return Err(ApiError::Conflict("the endpoint is disabled: enable it first".into()));
    }
    let now = Utc::now();
    if !log::reopen(&mut tx, id, now).await? {
        return Err(ApiError::Conflict("the delivery is still being attempted".into()));
    }
    let attempt = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
    tx.enqueue_delivery(id, attempt, 1, None).await?;
    let view = log::get(&mut tx, endpoint_id, id).await?.ok_or(ApiError::NotFound)?;
    let entry = Entry {
        action: "webhook_delivery.redeliver",
        target_type: "webhook_delivery",
        target_id: id.to_string(),
        request_id: request_id(&headers),
        metadata: Some(serde_json::json!({ "endpoint": endpoint_id, "event": delivery.event_id })),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

#[cfg(test)]
mod tests {
    use super::{page_query, parse_cursor};

    #[test]
    fn cursors_and_limits_parse_or_are_refused() {
        assert_eq!(page_query(None).unwrap().0, super::DEFAULT_LIMIT);
        assert_eq!(page_query(Some("limit=5")).unwrap().0, 5);
        for bad in [
            "limit=0",
            "limit=101",
            "limit=x",
            "cursor=abc",
            "other=1",
            "limit=1&limit=2",
        ] {
            assert!(page_query(Some(bad)).is_err(), "{bad}");
        }
        assert!(parse_cursor("!!").is_none());
        let id = uuid::Uuid::now_v7();
        let text = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            format!("1700000000000000.{}", id.simple()),
        );
        assert_eq!(parse_cursor(&text).unwrap().1, id);
    }
}
