//! Error tracking (the `sentry` feature) against Kent, a fake Sentry
//! service from PyPI that stores every envelope it is sent
//! (`support/ops.py`): a handler's panic and a handler's internal error
//! each arrive as one event tagged with the request id, the tenant id and
//! the route template, and nothing of the request's headers or body
//! arrives with them. SQLite: nothing here depends on the database.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use support::ops::Kent;
use support::{Backend, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_and_500s_are_reported_with_request_and_tenant_and_nothing_secret() {
    let kent = tokio::task::spawn_blocking(Kent::start).await.expect("Kent");
    let mut config = rookery::config::Config::from_vars("testapp", &|_| None).expect("config");
    config.sentry_dsn = Some(kent.dsn());
    let reporting = rookery::report::init(&config).expect("reporting is on");
    run(Backend::Sqlite, move |h| async move {
        let owner = h.signup("acme", "owner@acme.test", "correct horse battery").await;
        let token = owner.str("access_token");
        let tenant = owner.body["tenant"]["id"].as_str().unwrap().to_owned();
        for (path, request_id) in [("/panics", "req-panics-1"), ("/fails", "req-fails-1")] {
            let request = Request::get(format!("/api/v1{path}"))
                .header("x-tenant", "acme")
                .header("authorization", format!("Bearer {token}"))
                .header("cookie", "session=cookie-secret-cookie")
                .header("x-request-id", request_id)
                .body(Body::from("body-secret-body"))
                .unwrap();
            let reply = h.send(request).await;
            reply.assert_problem(StatusCode::INTERNAL_SERVER_ERROR);
            assert!(
                !String::from_utf8_lossy(&reply.body).contains("fire"),
                "a 500 shows nothing"
            );
        }
        assert!(
            tokio::task::block_in_place(|| reporting.flush(Duration::from_secs(30))),
            "events sent"
        );
        let events: Vec<Value> = tokio::task::spawn_blocking(move || kent.events())
            .await
            .expect("Kent's events")
            .into_iter()
            .map(|e| e["payload"]["body"].clone())
            .collect();
        assert_eq!(events.len(), 2, "one event each: {events:#?}");
        let event = |request_id: &str| {
            events
                .iter()
                .find(|e| e["tags"]["request_id"] == request_id)
                .unwrap_or_else(|| panic!("no event for {request_id}: {events:#?}"))
        };
        let panicked = event("req-panics-1");
        let failed = event("req-fails-1");
        let trace = |e: &Value| e["contexts"]["trace"]["trace_id"].as_str().map(str::to_owned);
        assert!(
            trace(panicked).is_some() && trace(panicked) != trace(failed),
            "a trace per request"
        );
        for (event, route) in [(panicked, "/api/v1/panics"), (failed, "/api/v1/fails")] {
            assert_eq!(event["tags"]["tenant_id"], tenant.as_str(), "{event:#}");
            assert_eq!(event["tags"]["route"], route, "{event:#}");
            let text = event.to_string();
            for secret in [
                token.as_str(),
                "cookie-secret-cookie",
                "body-secret-body",
                "correct horse",
            ] {
                assert!(!text.contains(secret), "{secret} reported: {event:#}");
            }
            assert!(
                event.get("request").is_none() && event.get("user").is_none(),
                "{event:#}"
            );
            assert!(!text.to_lowercase().contains("authorization"), "{event:#}");
        }
        let values = |event: &Value| -> Vec<String> {
            event["exception"]["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v["value"].as_str().unwrap_or("").to_owned())
                .collect()
        };
        assert!(
            values(panicked).iter().any(|v| v.contains("the handler panicked")),
            "{panicked:#}"
        );
        let frames = &panicked["exception"]["values"][0]["stacktrace"]["frames"];
        assert!(
            frames.as_array().is_some_and(|f| !f.is_empty()),
            "the panic's stack: {panicked:#}"
        );
        assert!(
            values(failed).iter().any(|v| v.contains("the disk is on fire")),
            "{failed:#}"
        );
    })
    .await;
}
