//! Operations as a deployment runs them: `taskboard serve` on PostgreSQL
//! with `ROOKERY_METRICS_BIND` and `ROOKERY_METRICS_TOKEN`, scraped over
//! TCP by prometheus_client's own parser (PyPI, `runtime/tests/support/
//! ops.py`): `/metrics` is on its own listener and nowhere else, refused
//! without the token, and counts the requests served by route template.

mod support;

#[path = "../../runtime/tests/support/ops.rs"]
#[allow(dead_code, unreachable_pub, missing_docs)]
mod ops;

use serde_json::json;
use support::{Database, Server, call};

const TOKEN: &str = "e2e-metrics-token-e2e-metrics";

#[test]
fn metrics_are_served_on_their_own_listener_behind_the_token() {
    let metrics_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let db = Database::create();
    let bin = support::generated_taskboard();
    db.migrate_with(&bin);
    let server = Server::start(
        &bin,
        &[
            ("DATABASE_URL", &db.serving_url),
            ("ROOKERY_METRICS_BIND", &metrics_bind),
            ("ROOKERY_METRICS_TOKEN", TOKEN),
        ],
    );
    let base = &server.base.clone();
    let signup = json!({"tenant_slug": "alpha", "tenant_name": "Alpha", "email": "owner@alpha.test", "password": "correct horse battery"});
    let (status, body, _) = call(base, "POST", "/api/v1/auth/signup", &[], Some(&signup));
    assert_eq!(status, 201, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let tenant = body["tenant"]["id"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("x-tenant", tenant.as_str())];
    let (status, project, _) = call(
        base,
        "POST",
        "/api/v1/projects",
        &headers,
        Some(&json!({"name": "Apollo"})),
    );
    assert_eq!(status, 201, "{project}");
    let id = project["id"]
        .as_str()
        .map_or_else(|| project["id"].to_string(), str::to_owned);
    let (status, _, _) = call(base, "GET", &format!("/api/v1/projects/{id}"), &headers, None);
    assert_eq!(status, 200);

    let (status, _, _) = call(
        base,
        "GET",
        "/metrics",
        &[("authorization", &format!("Bearer {TOKEN}"))],
        None,
    );
    assert_eq!(status, 404, "the API's listener has no /metrics");
    let url = format!("http://{metrics_bind}/metrics");
    assert_eq!(ops::scrape(&url, "", "prometheus").status, 401);
    assert_eq!(
        ops::scrape(&url, "not-the-token-not-the-token", "prometheus").status,
        401
    );
    for format in ["prometheus", "openmetrics"] {
        let s = ops::scrape(&url, TOKEN, format);
        assert_eq!(s.status, 200, "{}", s.text);
        let requests = |method: &str, route: &str, status: &str| {
            s.value(
                "rookery_http_requests_total",
                &[("method", method), ("route", route), ("status", status)],
            )
        };
        assert_eq!(requests("POST", "/api/v1/projects", "201"), 1.0);
        assert_eq!(requests("GET", "/api/v1/projects/{id}", "200"), 1.0);
        assert!(s.value("rookery_db_pool_connections", &[("state", "open")]) >= 1.0);
        assert!(!s.text.contains(&tenant), "no tenant id in the metrics");
    }
    assert!(
        server.stop().success(),
        "graceful shutdown with the metrics listener running"
    );
}
