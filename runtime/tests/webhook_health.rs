//! Endpoints' health, on SQLite and PostgreSQL, against the real Standard
//! Webhooks receiver: a disabled endpoint gets nothing (not even what was
//! pending when it was disabled); an endpoint that answers `410 Gone` or
//! has failed every attempt for days is disabled, audited by the platform,
//! and its owner told through the app's `rookery.mail.webhook_disabled`
//! job; enabling it again starts afresh.

#[path = "support/hooks.rs"]
mod hooks;
#[path = "support/receiver.rs"]
mod receiver;
mod support;

use axum::http::StatusCode;
use hooks::{deliveries, endpoint, id, note, nothing_else_arrived, tenant, worker};
use receiver::Receiver;
use serde_json::{Value, json};
use support::{Backend, Harness};

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run(crate::Backend::Sqlite, crate::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run(crate::Backend::Postgres, crate::$scenario).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_disabled_endpoint_gets_nothing,
    an_endpoint_gone_or_failing_for_days_is_disabled_and_its_owner_told,
);

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

/// The owner's notice, as a mail integration would register it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Notice {
    endpoint: String,
    reason: String,
}

static NOTICES: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

impl rookery::jobs::Job for Notice {
    const NAME: &'static str = "rookery.mail.webhook_disabled";

    async fn run(self, _: rookery::jobs::JobContext) -> Result<(), rookery::jobs::JobError> {
        NOTICES.lock().unwrap().push((self.endpoint, self.reason));
        Ok(())
    }
}

async fn an_endpoint_gone_or_failing_for_days_is_disabled_and_its_owner_told(h: Harness) {
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
    note(&h, "acme", &token, "last straw").await;
    let app = support::app().job::<Notice>();
    app.worker(h.db().clone(), h.config()).drain().await.unwrap();
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
    let mut told: Vec<(String, String)> = NOTICES.lock().unwrap().clone();
    told.sort();
    let mut expected = vec![(id(&gone), "gone".to_owned()), (id(&failing), "failing".to_owned())];
    expected.sort();
    assert_eq!(told, expected, "the owner is told once per endpoint");
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
