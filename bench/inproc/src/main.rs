//! Requests through the runtime's router in process: sign up once on
//! SQLite, then time `GET /api/v1/ping` (authenticated: JWT, tenant
//! agreement, rate limit, the request-timeout middleware, a handler that
//! touches no database) and an unauthenticated 401, on one task and on
//! two tasks of a two-thread runtime. Prints ns per request per round.
//! With `MODE=ping` or `MODE=401`, sends `REQUESTS` of that kind on one
//! task and prints nothing: run it under `valgrind --tool=callgrind` at two
//! counts, and the difference of the totals over the difference of the
//! counts is the instructions per request, free of the machine's noise.
//! With `QUOTA=1`, the tenant's plan has the rate quota `api_calls`
//! (10^12 a month): every ping also spends a call of its block, and one
//! in 64 reserves the next block in SQLite.

use std::time::Instant;

use rookery::app_spec::{AppSpec, AuthMethod, Migration, Period, PlanDef, QuotaDef, QuotaLimit, RoleDef, TenantResolver};
use rookery::axum::body::Body;
use rookery::axum::http::Request;
use rookery::db::{Db, DbOptions};
use rookery::{App, Principal};
use tower::ServiceExt as _;

#[global_allocator]
static ALLOCATOR: rookery::MiMalloc = rookery::MiMalloc;

const BASE: AppSpec = AppSpec {
    name: "inproc",
    title: "In process",
    api_prefix: "/api/v1",
    resolvers: &[TenantResolver::Header],
    auth_methods: &[AuthMethod::Password],
    roles: &[RoleDef {
        name: "owner",
        permissions: &["members.read", "members.manage", "api_keys.manage"],
        own: &[],
    }],
    features: &[],
    plans: &[PlanDef {
        name: "free",
        features: &[],
        quotas: &[],
        rate_limit: None,
        monthly_price: Some(0),
        trial_days: None,
    }],
    gates: rookery::app_spec::Gates::NONE,
    schedules: &[],
    postgres_migrations: &[],
    sqlite_migrations: &[Migration {
        version: 1,
        name: "platform",
        sql: concat!(
            include_str!("../../../generator/templates/platform/sqlite/1_base.sql"),
            include_str!("../../../generator/templates/platform/sqlite/2_jobs.sql"),
            include_str!("../../../generator/templates/platform/sqlite/3_idempotency.sql"),
            include_str!("../../../generator/templates/platform/sqlite/4_mail.sql"),
            include_str!("../../../generator/templates/platform/sqlite/5_webhooks.sql"),
            include_str!("../../../generator/templates/platform/sqlite/6_platform_audit.sql"),
            include_str!("../../../generator/templates/platform/sqlite/7_usage.sql"),
            include_str!("../../../generator/templates/platform/sqlite/8_members.sql"),
            include_str!("../../../generator/templates/platform/sqlite/9_quotas.sql"),
            include_str!("../../../generator/templates/platform/sqlite/10_audit.sql"),
            include_str!("../../../generator/templates/platform/sqlite/11_overrides.sql"),
            include_str!("../../../generator/templates/platform/sqlite/12_roles.sql"),
            include_str!("../../../generator/templates/platform/sqlite/13_deletion.sql"),
            include_str!("../../../generator/templates/platform/sqlite/14_audit_index.sql")
        ),
    }],
};

static SPEC: AppSpec = BASE;

/// `BASE` with `api_calls` on its plan.
static METERED: AppSpec = AppSpec {
    plans: &[PlanDef {
        name: "free",
        features: &[],
        quotas: &[QuotaDef {
            name: "api_calls",
            limit: QuotaLimit::PerPeriod(1_000_000_000_000, Period::Month),
        }],
        rate_limit: None,
        monthly_price: Some(0),
        trial_days: None,
    }],
    ..BASE
};

async fn ping(_: Principal) -> &'static str {
    "pong"
}

fn request(token: Option<&str>) -> Request<Body> {
    let mut request = Request::get("/api/v1/ping").header("x-tenant", "acme");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

async fn loop_requests(router: rookery::axum::Router, token: Option<String>, n: u32) {
    for _ in 0..n {
        let response = router.clone().oneshot(request(token.as_deref())).await.unwrap();
        std::hint::black_box(response);
    }
}

fn main() {
    let rounds: u32 = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let n: u32 = std::env::var("REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("inproc.sqlite").display());
        let db = Db::connect(&url, &DbOptions::serving("unused")).await.unwrap();
        let spec: &'static AppSpec = if std::env::var("QUOTA").is_ok_and(|v| v == "1") {
            &METERED
        } else {
            &SPEC
        };
        db.migrate(spec, "unused").await.unwrap();
        let mut config = rookery::config::Config::from_vars("inproc", &|_| None).unwrap();
        config.database_url = url;
        config.rate_limit_override = Some((u64::MAX, 60));
        let app = App::new(spec).operation(rookery::Operation::get("/ping"), ping);
        let router = app.router(app.state(config, db));
        let body = r#"{"tenant_slug":"acme","tenant_name":"Acme","email":"o@acme.test","password":"correct horse battery"}"#;
        let signup = Request::post("/api/v1/auth/signup")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = router.clone().oneshot(signup).await.unwrap();
        let bytes = rookery::axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let token = json["access_token"].as_str().expect("signed up").to_owned();
        let check = router.clone().oneshot(request(Some(&token))).await.unwrap();
        assert_eq!(check.status(), 200);
        loop_requests(router.clone(), Some(token.clone()), 10_000).await;
        if let Ok(mode) = std::env::var("MODE") {
            // One path only, one task: for instruction counts (valgrind).
            let token = (mode == "ping").then_some(token);
            loop_requests(router.clone(), token, n).await;
            return;
        }
        for round in 1..=rounds {
            let t = Instant::now();
            loop_requests(router.clone(), Some(token.clone()), n).await;
            let one = t.elapsed().as_nanos() as f64 / f64::from(n);
            let t = Instant::now();
            let a = tokio::spawn(loop_requests(router.clone(), Some(token.clone()), n / 2));
            let b = tokio::spawn(loop_requests(router.clone(), Some(token.clone()), n / 2));
            a.await.unwrap();
            b.await.unwrap();
            let two = t.elapsed().as_nanos() as f64 / f64::from(n);
            let t = Instant::now();
            loop_requests(router.clone(), None, n).await;
            let anonymous = t.elapsed().as_nanos() as f64 / f64::from(n);
            println!("round {round}: ping {one:.0} ns/req (1 task), {two:.0} ns/req (2 tasks, wall), 401 {anonymous:.0} ns/req");
        }
    });
}
