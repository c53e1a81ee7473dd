//! Helpers of the webhook tests: a tenant on the plan with webhooks, an
//! endpoint registered through the API (its secret given to the real
//! receiver), the app's worker, and the side door that makes the next
//! attempt due (instead of waiting for it).

#![allow(dead_code, unreachable_pub)]

use axum::http::StatusCode;
use rookery::jobs::Worker;
use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::support::{self, Harness};

/// A tenant `slug` on the plan `pro` (which has the feature `webhooks`),
/// and its owner's access token.
pub async fn tenant(h: &Harness, slug: &str) -> String {
    let reply = h
        .signup(slug, &format!("owner@{slug}.test"), "correct horse battery")
        .await;
    h.set_plan(slug, "pro").await;
    reply.str("access_token")
}

/// Registers an endpoint for `types` at the receiver's `path` and gives
/// its secret to the receiver as `name`. Returns the created endpoint.
pub async fn endpoint(
    h: &Harness,
    slug: &str,
    token: &str,
    receiver: &mut Receiver,
    name: &str,
    path: &str,
    types: &[&str],
) -> Value {
    let body = json!({ "url": receiver.url(path), "event_types": types, "description": name });
    let reply = h
        .call("POST", "/webhooks/endpoints", Some(slug), Some(token), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    receiver.add_secret(name, &reply.str("secret")).await;
    reply.body
}

/// The app's worker (the routes' jobs, webhook deliveries included).
pub fn worker(h: &Harness) -> Worker {
    support::app().worker(h.db().clone(), h.config())
}

/// Makes every waiting job due now (the side door moves the jobs, not
/// the clock).
pub async fn make_due(h: &Harness) {
    h.exec(
        "UPDATE rookery_jobs SET run_at = now() - interval '1 second' WHERE state = 'ready'",
        "UPDATE rookery_jobs SET run_at = '2000-01-01T00:00:00.000000Z' WHERE state = 'ready'",
    )
    .await;
}

/// `GET` of `path` as `token` on `slug`, expecting 200.
pub async fn get(h: &Harness, slug: &str, token: &str, path: &str) -> Value {
    let reply = h.call("GET", path, Some(slug), Some(token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
    reply.body
}

/// The deliveries of `endpoint`, newest first.
pub async fn deliveries(h: &Harness, slug: &str, token: &str, endpoint: &Value) -> Vec<Value> {
    let path = format!("/webhooks/endpoints/{}/deliveries", id(endpoint));
    get(h, slug, token, &path).await["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// One delivery of `endpoint` with its attempts.
pub async fn delivery(h: &Harness, slug: &str, token: &str, endpoint: &Value, delivery: &Value) -> Value {
    let path = format!("/webhooks/endpoints/{}/deliveries/{}", id(endpoint), id(delivery));
    get(h, slug, token, &path).await
}

/// `value["id"]` as text.
pub fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

/// Creates a note through the API; returns it.
pub async fn note(h: &Harness, slug: &str, token: &str, title: &str) -> Value {
    let reply = h
        .call(
            "POST",
            "/notes",
            Some(slug),
            Some(token),
            Some(json!({ "title": title })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body
}

/// Sends a test event to `endpoint` and runs it: the receiver's next
/// request must be that one, so nothing else arrived before it.
pub async fn nothing_else_arrived(h: &Harness, slug: &str, token: &str, receiver: &mut Receiver, endpoint: &Value) {
    let path = format!("/webhooks/endpoints/{}/test", id(endpoint));
    let sent = h.call("POST", &path, Some(slug), Some(token), None).await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{sent:?}");
    worker(h).drain().await.unwrap();
    let seen = receiver.next().await;
    assert_eq!(
        seen["payload"]["type"], "webhook.test",
        "a request arrived that should not have: {seen}"
    );
    assert_eq!(seen["payload"]["data"]["endpoint_id"], id(endpoint).as_str(), "{seen}");
}
