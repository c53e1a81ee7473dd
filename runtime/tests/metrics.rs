//! `/metrics`, scraped from a served app after real requests and read by
//! prometheus_client's own parsers (PyPI, through `support/ops.py`): the
//! counters move for the route template (never the raw path), refusals
//! and failures are counted by kind, no tenant id appears, the database
//! pool is shown, and the endpoint is refused without its token and
//! absent unless configured. SQLite and PostgreSQL.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use support::ops::{Scrape, scrape};
use support::{Backend, Harness, run, run_with};

const TOKEN: &str = "scrape-token-scrape-token";

fn configure(config: &mut rookery::config::Config) {
    config.metrics_token = Some(TOKEN.into());
    // Generous, but a burst at the end runs into it.
    config.rate_limit_override = Some((12, 86_400));
}

/// `GET url` as Prometheus would, off the async runtime.
async fn scrape_async(url: String, token: &'static str, format: &'static str) -> Scrape {
    tokio::task::spawn_blocking(move || scrape(&url, token, format))
        .await
        .expect("scrape")
}

async fn traffic(h: &Harness) -> (String, String) {
    let owner = h.signup("acme", "owner@acme.test", "correct horse battery").await;
    let token = owner.str("access_token");
    let tenant = owner.body["tenant"]["id"].as_str().unwrap().to_owned();
    let note = h
        .call(
            "POST",
            "/notes",
            Some("acme"),
            Some(&token),
            Some(json!({ "title": "first" })),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED, "{note:?}");
    let id = note.body["id"].to_string();
    for _ in 0..2 {
        let got = h
            .call("GET", &format!("/notes/{id}"), Some("acme"), Some(&token), None)
            .await;
        assert_eq!(got.status, StatusCode::OK);
    }
    let missing = h.call("GET", "/notes/999999", Some("acme"), Some(&token), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let anonymous = h.call("GET", "/notes", Some("acme"), None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let elsewhere = h.call("GET", "/notes", Some("globex"), Some(&token), None).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    let wrong = h.login("acme", "owner@acme.test", "wrong horse").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let nowhere = h
        .call("GET", &format!("/no-such-route/{tenant}"), None, None, None)
        .await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    let mut limited = false;
    for _ in 0..12 {
        let list = h.call("GET", "/notes", Some("acme"), Some(&token), None).await;
        limited |= list.status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "the burst ran into the rate limit");
    (tenant, id)
}

fn requests(s: &Scrape, method: &str, route: &str, status: &str) -> f64 {
    s.value(
        "rookery_http_requests_total",
        &[("method", method), ("route", route), ("status", status)],
    )
}

/// A job no worker runs here: it waits in the queue.
#[derive(serde::Serialize, serde::Deserialize)]
struct Waiting;

impl rookery::jobs::Job for Waiting {
    const NAME: &'static str = "test.waiting";

    async fn run(self, _: rookery::jobs::JobContext) -> Result<(), rookery::jobs::JobError> {
        Ok(())
    }
}

async fn counted_by_route_template(backend: Backend) {
    run_with(backend, configure, |h| async move {
        let (tenant, id) = traffic(&h).await;
        let mut tx = h.db().begin_write(tenant.parse().unwrap()).await.unwrap();
        tx.enqueue(&Waiting).await.unwrap();
        tx.enqueue(&Waiting).await.unwrap();
        tx.commit().await.unwrap();
        let (api, listener) = h.serve().await;
        for url in [format!("http://{api}/metrics"), format!("http://{listener}/metrics")] {
            let s = scrape_async(url.clone(), TOKEN, "prometheus").await;
            assert_eq!(s.status, 200, "{url}: {}", s.text);
            assert_eq!(s.content_type, "text/plain; version=0.0.4; charset=utf-8");
            assert_eq!(requests(&s, "GET", "/api/v1/notes/{id}", "200"), 2.0);
            assert_eq!(requests(&s, "GET", "/api/v1/notes/{id}", "404"), 1.0);
            assert_eq!(requests(&s, "POST", "/api/v1/notes", "201"), 1.0);
            assert_eq!(requests(&s, "POST", "/api/v1/auth/signup", "201"), 1.0);
            assert_eq!(requests(&s, "GET", "/api/v1/notes", "401"), 1.0);
            assert_eq!(requests(&s, "GET", "unmatched", "404"), 1.0);
            let latency = [("method", "GET"), ("route", "/api/v1/notes/{id}")];
            assert_eq!(s.value("rookery_http_request_duration_seconds_count", &latency), 3.0);
            let inf = [("method", "GET"), ("route", "/api/v1/notes/{id}"), ("le", "+Inf")];
            assert_eq!(
                s.value("rookery_http_request_duration_seconds_bucket", &inf),
                3.0,
                "{}",
                s.text
            );
            assert!(s.value("rookery_http_request_duration_seconds_sum", &latency) > 0.0);
            let failures = |reason| s.value("rookery_auth_failures_total", &[("reason", reason)]);
            assert_eq!(
                (failures("credentials"), failures("tenant"), failures("password")),
                (1.0, 1.0, 1.0)
            );
            assert!(s.value("rookery_rate_limited_requests_total", &[("limiter", "tenant")]) >= 1.0);
            let pool = |state| s.value("rookery_db_pool_connections", &[("state", state)]);
            assert!(pool("open") >= 1.0 && pool("max") >= pool("open"), "{}", s.text);
            assert_eq!(s.value("rookery_db_pool_waiting", &[]), 0.0);
            // The queue, read at scrape time: two jobs wait.
            let jobs = s.value("rookery_jobs", &[("queue", "default"), ("state", "ready")]);
            assert_eq!(jobs, 2.0, "{}", s.text);
            assert!(s.value("rookery_jobs_oldest_due_seconds", &[("queue", "default")]) >= 0.0);
            // Bounded cardinality: templates only, no tenant, no raw path.
            assert!(!s.text.contains(&tenant), "a tenant id in the metrics:\n{}", s.text);
            assert!(!s.text.contains(&format!("/notes/{id}")), "a raw path:\n{}", s.text);
            assert!(
                !s.text.contains("no-such-route") && !s.text.contains("999999"),
                "{}",
                s.text
            );
            let open = scrape_async(url, TOKEN, "openmetrics").await;
            assert_eq!(open.status, 200, "{}", open.text);
            assert!(open.content_type.starts_with("application/openmetrics-text"));
            assert_eq!(requests(&open, "GET", "/api/v1/notes/{id}", "200"), 2.0);
        }
    })
    .await;
}

#[tokio::test]
async fn requests_are_counted_by_route_template_sqlite() {
    counted_by_route_template(Backend::Sqlite).await;
}

#[tokio::test]
async fn requests_are_counted_by_route_template_postgres() {
    counted_by_route_template(Backend::Postgres).await;
}

#[tokio::test]
async fn a_scrape_without_the_token_is_refused() {
    run_with(Backend::Sqlite, configure, |h| async move {
        let (api, listener) = h.serve().await;
        for base in [api, listener] {
            for token in ["", "scrape-token-scrape-toke", "scrape-token-scrape-token-"] {
                let s = scrape_async(format!("http://{base}/metrics"), token, "prometheus").await;
                assert_eq!(s.status, 401, "{token:?}: {}", s.text);
                assert!(!s.text.contains("rookery_"), "{}", s.text);
            }
        }
        let reply = h
            .send(
                Request::get("/metrics")
                    .header("authorization", "Basic c2NyYXBlOg==")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        reply.assert_problem(StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn metrics_are_not_served_unless_configured() {
    run(Backend::Sqlite, |h| async move {
        let reply = h.send(Request::get("/metrics").body(Body::empty()).unwrap()).await;
        reply.assert_problem(StatusCode::NOT_FOUND);
        let with_token = Request::get("/metrics")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        h.send(with_token).await.assert_problem(StatusCode::NOT_FOUND);
    })
    .await;
}
