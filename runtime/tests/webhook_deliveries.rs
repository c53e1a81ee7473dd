//! Webhook deliveries end to end, on SQLite and PostgreSQL, against a real
//! receiver that verifies every request with the official Standard
//! Webhooks library (`support/webhook_receiver.py`): an event is delivered
//! signed and verified; during a rotation both secrets verify, after the
//! grace only the new one; a 500 is retried and both attempts are listed;
//! an endpoint that never answers fails within the timeout and is retried;
//! a redelivery sends the same event again (disabled endpoints:
//! `webhook_health.rs`). Time moves by the side door (the next attempt made
//! due), never by waiting.

#[path = "support/hooks.rs"]
mod hooks;
#[path = "support/receiver.rs"]
mod receiver;
#[macro_use]
mod support;

use axum::http::StatusCode;
use hooks::{deliveries, delivery, endpoint, id, make_due, note, tenant, worker};
use receiver::Receiver;
use serde_json::json;
use support::Harness;

on_both_backends!(
    a_created_note_is_delivered_signed_and_verified,
    during_a_rotation_both_secrets_verify_and_after_it_the_new_one,
    a_500_is_retried_and_both_attempts_are_listed,
    an_endpoint_that_never_answers_fails_within_the_timeout_and_is_retried,
    a_redelivery_sends_the_same_event_again,
);

async fn a_created_note_is_delivered_signed_and_verified(h: Harness) {
    let token = tenant(&h, "acme").await;
    let mut receiver = Receiver::start(&[]).await;
    let hook = endpoint(
        &h,
        "acme",
        &token,
        &mut receiver,
        "endpoint",
        "/ok/acme",
        &["note.created"],
    )
    .await;
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    let shown = hooks::get(&h, "acme", &token, &format!("/webhooks/endpoints/{}", id(&hook))).await;
    assert!(shown.get("secret").is_none(), "the secret is shown once: {shown}");
    let created = note(&h, "acme", &token, "Apollo").await;

    let drained = worker(&h).drain().await.unwrap();
    assert_eq!((drained.done, drained.dead), (1, 0), "{drained:?}");
    let seen = receiver.next().await;
    assert_eq!(seen["path"], "/ok/acme");
    assert_eq!(seen["verified"], json!({"endpoint": true}), "{seen}");
    assert_eq!(seen["payload"]["type"], "note.created");
    assert_eq!(seen["payload"]["data"], created, "the note as the API answered it");
    let list = deliveries(&h, "acme", &token, &hook).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let one = &list[0];
    assert_eq!(
        seen["headers"]["webhook-id"], one["event_id"],
        "the webhook-id is the event's id"
    );
    assert_eq!(
        (one["status"].as_str(), one["attempts"].as_i64()),
        (Some("delivered"), Some(1))
    );
    assert_eq!(one["response_code"], 200);
    assert!(one["latency_ms"].as_i64().is_some_and(|ms| ms >= 0), "{one}");
    assert!(one["next_attempt_at"].is_null());
    let detail = delivery(&h, "acme", &token, &hook, one).await;
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0]["status"].as_str(), history[0]["response"].as_str()),
        (Some("delivered"), Some("ok"))
    );
    // Nothing secret reached the audit log.
    for (_, metadata) in h.audit_rows().await {
        assert!(!metadata.contains("whsec_"), "{metadata}");
    }
}

async fn during_a_rotation_both_secrets_verify_and_after_it_the_new_one(h: Harness) {
    let token = tenant(&h, "acme").await;
    let mut receiver = Receiver::start(&[]).await;
    let hook = endpoint(
        &h,
        "acme",
        &token,
        &mut receiver,
        "old",
        "/ok/rotation",
        &["note.created"],
    )
    .await;
    let path = format!("/webhooks/endpoints/{}/rotate-secret", id(&hook));
    let rotated = h.call("POST", &path, Some("acme"), Some(&token), None).await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    assert_ne!(rotated.str("secret"), hook["secret"].as_str().unwrap());
    assert!(rotated.body["previous_secret_until"].is_string(), "{rotated:?}");
    receiver.add_secret("new", &rotated.str("secret")).await;

    note(&h, "acme", &token, "during").await;
    worker(&h).drain().await.unwrap();
    let seen = receiver.next().await;
    assert_eq!(seen["verified"], json!({"old": true, "new": true}), "{seen}");

    // The grace window ends (the side door moves it into the past).
    h.exec(
        "UPDATE rookery_webhook_endpoints SET retiring_until = now() - interval '1 second'",
        "UPDATE rookery_webhook_endpoints SET retiring_until = '2000-01-01T00:00:00.000000Z'",
    )
    .await;
    note(&h, "acme", &token, "after").await;
    worker(&h).drain().await.unwrap();
    let seen = receiver.next().await;
    assert_eq!(seen["verified"], json!({"old": false, "new": true}), "{seen}");
    assert_eq!(seen["errors"]["old"], "No matching signature found");
}

async fn a_500_is_retried_and_both_attempts_are_listed(h: Harness) {
    let token = tenant(&h, "acme").await;
    let mut receiver = Receiver::start(&[]).await;
    let hook = endpoint(
        &h,
        "acme",
        &token,
        &mut receiver,
        "endpoint",
        "/fail/1/acme",
        &["note.created"],
    )
    .await;
    note(&h, "acme", &token, "flaky").await;
    let drained = worker(&h).with_metrics_of(&h.state).drain().await.unwrap();
    assert_eq!(
        drained.done, 1,
        "the attempt's job succeeded; the delivery did not: {drained:?}"
    );
    let first = receiver.next().await;
    assert_eq!(first["verified"]["endpoint"], true);
    let pending = &deliveries(&h, "acme", &token, &hook).await[0];
    assert_eq!(
        (pending["status"].as_str(), pending["attempts"].as_i64()),
        (Some("pending"), Some(1))
    );
    assert_eq!(
        (pending["response_code"].as_i64(), pending["error"].as_str()),
        (Some(500), Some("status"))
    );
    assert!(pending["next_attempt_at"].is_string(), "{pending}");
    assert_eq!(
        worker(&h).drain().await.unwrap().done,
        0,
        "the retry waits for its time"
    );

    make_due(&h).await;
    assert_eq!(worker(&h).with_metrics_of(&h.state).drain().await.unwrap().done, 1);
    let second = receiver.next().await;
    // Each attempt is counted by its outcome, with no tenant in sight.
    let metrics = h.metrics_text().await;
    for line in [
        "rookery_webhook_attempts_total{outcome=\"retried\",error=\"status\"} 1",
        "rookery_webhook_attempts_total{outcome=\"delivered\",error=\"none\"} 1",
        "rookery_job_runs_total{queue=\"webhooks\",outcome=\"done\"} 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    assert_eq!(
        second["headers"]["webhook-id"], first["headers"]["webhook-id"],
        "the same event"
    );
    let done = &deliveries(&h, "acme", &token, &hook).await[0];
    assert_eq!(
        (done["status"].as_str(), done["attempts"].as_i64()),
        (Some("delivered"), Some(2))
    );
    let history = delivery(&h, "acme", &token, &hook, done).await["history"].clone();
    let summary: Vec<(i64, &str, i64, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["status"].as_str().unwrap(),
                a["response_code"].as_i64().unwrap(),
                a["response"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [(1, "failed", 500, "failure 1"), (2, "delivered", 200, "ok")]);
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["latency_ms"].as_i64().is_some())
    );
}

async fn an_endpoint_that_never_answers_fails_within_the_timeout_and_is_retried(h: Harness) {
    let token = tenant(&h, "acme").await;
    let mut receiver = Receiver::start(&[]).await;
    let hook = endpoint(
        &h,
        "acme",
        &token,
        &mut receiver,
        "endpoint",
        "/hang",
        &["note.created"],
    )
    .await;
    note(&h, "acme", &token, "silence").await;
    worker(&h).drain().await.unwrap();
    assert_eq!(receiver.next().await["path"], "/hang", "it was sent");
    let pending = &deliveries(&h, "acme", &token, &hook).await[0];
    assert_eq!(
        (pending["status"].as_str(), pending["error"].as_str()),
        (Some("pending"), Some("timeout"))
    );
    assert!(pending["response_code"].is_null());
    make_due(&h).await;
    worker(&h).drain().await.unwrap();
    assert_eq!(receiver.next().await["path"], "/hang", "and sent again");
    let detail = delivery(&h, "acme", &token, &hook, pending).await;
    let errors: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["error"].as_str().unwrap())
        .collect();
    assert_eq!(errors, ["timeout", "timeout"]);
    assert_eq!(detail["status"], "pending", "the schedule goes on");
}

async fn a_redelivery_sends_the_same_event_again(h: Harness) {
    let token = tenant(&h, "acme").await;
    let mut receiver = Receiver::start(&[]).await;
    let hook = endpoint(
        &h,
        "acme",
        &token,
        &mut receiver,
        "endpoint",
        "/ok/again",
        &["note.created"],
    )
    .await;
    note(&h, "acme", &token, "twice").await;
    worker(&h).drain().await.unwrap();
    let first = receiver.next().await;
    let done = &deliveries(&h, "acme", &token, &hook).await[0];
    let path = format!("/webhooks/endpoints/{}/deliveries/{}/redeliver", id(&hook), id(done));
    let queued = h.call("POST", &path, Some("acme"), Some(&token), None).await;
    assert_eq!(
        (queued.status, queued.body["status"].as_str()),
        (StatusCode::ACCEPTED, Some("pending"))
    );
    let twice = h.call("POST", &path, Some("acme"), Some(&token), None).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "still pending: {twice:?}");
    worker(&h).drain().await.unwrap();
    let second = receiver.next().await;
    assert_eq!(second["headers"]["webhook-id"], first["headers"]["webhook-id"]);
    assert_eq!(second["verified"]["endpoint"], true);
    let after = delivery(&h, "acme", &token, &hook, done).await;
    assert_eq!(
        (after["status"].as_str(), after["attempts"].as_i64()),
        (Some("delivered"), Some(2))
    );
    assert_eq!(after["history"].as_array().unwrap().len(), 2);
}
