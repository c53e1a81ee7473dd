//! Endpoints' health, on SQLite and PostgreSQL, against the real Standard
//! Webhooks receiver: a disabled endpoint gets nothing (not even what was
//! pending when it was disabled); an endpoint that answers `410 Gone` or
//! has failed every attempt for days is disabled, audited by the platform,
//! and the tenant's webhook managers told by mail (`webhook_disabled`);
//! enabling it again starts afresh.

#[path = "support/hooks.rs"]
mod hooks;
#[path = "support/receiver.rs"]
mod receiver;
#[macro_use]
mod support;

use axum::http::StatusCode;
use hooks::{deliveries, endpoint, id, note, nothing_else_arrived, tenant, worker};
use receiver::Receiver;
use serde_json::{Value, json};
use support::Harness;

on_both_backends!(
    a_disabled_endpoint_gets_nothing,
    an_endpoint_gone_or_failing_for_days_is_disabled_and_its_managers_told,
);

/// Invites `email` into acme with `role` and accepts it.
async fn join(h: &Harness, owner: &str, email: &str, role: &str) {
    let body = json!({ "email": email, "role": role });
    let invited = h
        .call("POST", "/invitations", Some("acme"), Some(owner), Some(body))
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let body = json!({ "token": invited.str("token"), "password": "correct horse battery" });
    let accepted = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
}

async fn a_disabled_endpoint_gets_nothing(h: Harness) {
    let token = tenant(&h, "acme").await;
    let mut receiver = Receiver::start(&[]).await;
    let on = endpoint(&h, "acme", &token, &mut receiver, "on", "/ok/on", &["note.created"]).await;
    let off = endpoint(&h, "acme", &token, &mut receiver, "off", "/ok/off", &["note.created"]).await;
    // A delivery that was pending when the endpoint was disabled is not sent.
    note(&h, "acme", &token, "before").await;
    let path = format!("/webhooks/endpoints/{}", id(&off));
    let disabled = h
        .call(
            "PATCH",
            &path,
            Some("acme"),
            Some(&token),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(
        (disabled.status, disabled.body["enabled"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    note(&h, "acme", &token, "after").await;
    worker(&h).drain().await.unwrap();
    let mut paths = vec![
        receiver.next().await["path"].clone(),
        receiver.next().await["path"].clone(),
    ];
    paths.sort_by_key(ToString::to_string);
    assert_eq!(paths, [json!("/ok/on"), json!("/ok/on")]);
    nothing_else_arrived(&h, "acme", &token, &mut receiver, &on).await;
    let skipped = deliveries(&h, "acme", &token, &off).await;
    assert_eq!(
        skipped.len(),
        1,
        "only the event from before it was disabled: {skipped:?}"
    );
    assert_eq!(
        (skipped[0]["status"].as_str(), skipped[0]["error"].as_str()),
        (Some("failed"), Some("endpoint_disabled"))
    );
    assert_eq!(skipped[0]["attempts"], 0);
    let test = h
        .call("POST", &format!("{path}/test"), Some("acme"), Some(&token), None)
        .await;
    assert_eq!(test.status, StatusCode::CONFLICT, "{test:?}");
}

async fn an_endpoint_gone_or_failing_for_days_is_disabled_and_its_managers_told(h: Harness) {
    let token = tenant(&h, "acme").await;
    let mut receiver = Receiver::start(&[]).await;
    let gone = endpoint(
        &h,
        "acme",
        &token,
        &mut receiver,
        "gone",
        "/status/410",
        &["note.created"],
    )
    .await;
    let failing = endpoint(
        &h,
        "acme",
        &token,
        &mut receiver,
        "failing",
        "/status/500",
        &["note.created"],
    )
    .await;
    // It has failed every attempt for six days (the side door says so).
    h.exec(
        "UPDATE rookery_webhook_endpoints SET failing_since = now() - interval '6 days' WHERE url LIKE '%/status/500'",
        "UPDATE rookery_webhook_endpoints SET failing_since = '2000-01-01T00:00:00.000000Z' WHERE url LIKE '%/status/500'",
    )
    .await;
    // A viewer cannot manage webhooks, so is not told; an admin is.
    join(&h, &token, "viewer@acme.test", "viewer").await;
    join(&h, &token, "admin@acme.test", "admin").await;
    note(&h, "acme", &token, "last straw").await;
    worker(&h).drain().await.unwrap();
    receiver.next().await;
    receiver.next().await;
    for (hook, reason) in [(&gone, "gone"), (&failing, "failing")] {
        let shown = hooks::get(&h, "acme", &token, &format!("/webhooks/endpoints/{}", id(hook))).await;
        assert_eq!(
            (shown["enabled"].as_bool(), shown["disabled_reason"].as_str()),
            (Some(false), Some(reason))
        );
        let last = &deliveries(&h, "acme", &token, hook).await[0];
        assert_eq!(last["status"], "failed", "no retry to a disabled endpoint: {last}");
        assert!(last["next_attempt_at"].is_null());
    }
    let disables: Vec<String> = h
        .audit_rows()
        .await
        .into_iter()
        .filter(|(a, _)| a == "webhook_endpoint.disable")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(disables.len(), 2, "{disables:?}");
    assert!(
        disables.iter().all(|m| !m.contains("/status/")),
        "the host only, never the URL: {disables:?}"
    );
    // Each manager is told once per endpoint, by mail (kept in the outbox:
    // the tests configure no SMTP server), naming the host, not the URL.
    let mut told: Vec<(String, String, bool)> = h
        .mail_rows()
        .await
        .into_iter()
        .filter(|m| m.subject.contains("was disabled"))
        .map(|m| {
            assert_eq!(m.state, "outbox", "{m:?}");
            let text = m.text.unwrap_or_default();
            assert!(!text.contains("/status/"), "the host only: {text}");
            (m.to, m.subject, text.contains("410 Gone"))
        })
        .collect();
    told.sort();
    let subject = "Webhook endpoint 127.0.0.1 was disabled".to_owned();
    let mut expected = Vec::new();
    for to in ["admin@acme.test", "owner@acme.test"] {
        expected.push((to.to_owned(), subject.clone(), true));
        expected.push((to.to_owned(), subject.clone(), false));
    }
    expected.sort();
    assert_eq!(told, expected, "each manager told once per endpoint");
    assert!(
        h.mail_rows().await.iter().any(|m| m
            .text
            .as_deref()
            .is_some_and(|t| t.contains("PATCH /api/v1/webhooks/endpoints/"))),
        "the notice names the route to enable it again"
    );
    // A notice job that runs again (its worker lost the lease after its
    // commit) mails nobody twice.
    let notices = h
        .count("SELECT count(*) FROM rookery_mail WHERE template = 'webhook_disabled'")
        .await;
    h.exec(
        "UPDATE rookery_jobs SET state = 'ready', locked_by = NULL, locked_until = NULL \
         WHERE kind = 'rookery.mail.webhook_disabled'",
        "UPDATE rookery_jobs SET state = 'ready', locked_by = NULL, locked_until = NULL \
         WHERE kind = 'rookery.mail.webhook_disabled'",
    )
    .await;
    h.make_jobs_due().await;
    assert_eq!(worker(&h).drain().await.unwrap().done, 2, "both notices ran again");
    assert_eq!(
        h.count("SELECT count(*) FROM rookery_mail WHERE template = 'webhook_disabled'")
            .await,
        notices
    );
    // Enabling it again starts afresh.
    let path = format!("/webhooks/endpoints/{}", id(&failing));
    let again = h
        .call(
            "PATCH",
            &path,
            Some("acme"),
            Some(&token),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(again.body["disabled_reason"], Value::Null, "{again:?}");
    assert_eq!(again.body["failing_since"], Value::Null);
}
