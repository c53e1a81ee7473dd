//! The platform operator changes a tenant's plan as the README says, on
//! the example app's binary: `taskboard tenant plan SLUG PLAN` (as the
//! tables' owner, published through Redis to the running server) and the
//! operator API `PUT /operator/tenants/{slug}/plan` (behind
//! `ROOKERY_OPERATOR_TOKEN`); the tenant's next request has the plan's
//! features, with no wait.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::json;
use support::{Database, Server, binary, call};

const TOKEN: &str = "e2e-operator-token-e2e-operator-token";

/// Runs `taskboard tenant <args>` with `env`; its stdout, or its stderr
/// when `ok` is false (and then it must fail).
fn tenant_command(bin: &Path, env: &[(&str, &str)], args: &[&str], ok: bool) -> String {
    let out = Command::new(bin)
        .arg("tenant")
        .args(args)
        .env_remove("REDIS_URL")
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("run taskboard tenant");
    assert_eq!(
        out.status.success(),
        ok,
        "taskboard tenant {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(if ok { &out.stdout } else { &out.stderr }).into_owned()
}

/// Signs up `slug`; the owner's bearer header.
fn signup(server: &Server, slug: &str) -> String {
    let body = json!({ "tenant_slug": slug, "tenant_name": slug, "email": format!("owner@{slug}.test"), "password": "correct horse battery" });
    let (status, body, _) = call(&server.base, "POST", "/api/v1/auth/signup", &[], Some(&body));
    assert_eq!(status, 201, "{body}");
    format!("Bearer {}", body["access_token"].as_str().unwrap())
}

/// The status of listing the tenant's webhook endpoints, which needs the
/// plan feature `webhooks` (not on `free`).
fn webhooks(server: &Server, slug: &str, owner: &str) -> u16 {
    let headers = [("authorization", owner), ("x-tenant", slug)];
    call(&server.base, "GET", "/api/v1/webhooks/endpoints", &headers, None).0
}

#[test]
fn postgres_the_operator_changes_a_plan_and_the_next_request_has_it() {
    let bin = binary("taskboard");
    let db = Database::create();
    db.migrate_with(&bin);
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    let serving = [
        ("DATABASE_URL", db.serving_url.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("ROOKERY_REDIS_PREFIX", prefix.as_str()),
        ("ROOKERY_OPERATOR_TOKEN", TOKEN),
    ];
    let server = Server::start(&bin, &serving);
    let owner = signup(&server, "acme");
    assert_eq!(webhooks(&server, "acme", &owner), 403, "free has no webhooks");

    // The command, as the serving role, published through the same Redis.
    let operator = [
        ("DATABASE_URL", db.serving_url.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("ROOKERY_REDIS_PREFIX", prefix.as_str()),
    ];
    let out = tenant_command(&bin, &operator, &["plan", "acme", "growth"], true);
    assert!(out.contains("plan changed: free -> growth"), "{out}");
    assert!(
        out.contains("every serving instance sees it on its next request"),
        "{out}"
    );
    assert_eq!(webhooks(&server, "acme", &owner), 200, "the next request");
    let shown = tenant_command(&bin, &operator, &["show", "acme"], true);
    assert!(shown.contains("plan:      growth"), "{shown}");
    assert!(shown.contains("features:  api_access, webhooks"), "{shown}");
    let unknown = tenant_command(&bin, &operator, &["plan", "acme", "platinum"], false);
    assert!(
        unknown.contains("unknown plan `platinum`; the plans are free, growth, enterprise"),
        "{unknown}"
    );

    // The operator API of the running server, and back to free.
    let auth = format!("Bearer {TOKEN}");
    let (status, body, _) = call(
        &server.base,
        "PUT",
        "/operator/tenants/acme/plan",
        &[("authorization", &auth)],
        Some(&json!({ "plan": "free" })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["from"], &body["plan"]), (&json!("growth"), &json!("free")));
    assert_eq!(webhooks(&server, "acme", &owner), 403, "the next request");
    let (status, _, _) = call(
        &server.base,
        "GET",
        "/operator/tenants/acme",
        &[("authorization", &owner)],
        None,
    );
    assert_eq!(status, 401, "a tenant's token does not open the operator API");
    assert_eq!(
        db.scalar("SELECT count(*) FROM audit_log WHERE action = 'tenant.plan_changed' AND actor_type = 'operator'"),
        2
    );
    assert!(server.stop().success());
}

#[test]
fn sqlite_without_an_operator_token_there_is_no_operator_api() {
    let bin = binary("taskboard");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("taskboard.sqlite").display());
    let env = [("DATABASE_URL", url.as_str())];
    let server = Server::start(&bin, &env);
    signup(&server, "acme");
    let auth = format!("Bearer {TOKEN}");
    let (status, _, _) = call(
        &server.base,
        "GET",
        "/operator/tenants/acme",
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(status, 404);
    assert!(server.stop().success());
    // The command needs no server, and says how long a server without
    // Redis takes to see the change.
    let out = tenant_command(&bin, &env, &["plan", "acme", "enterprise"], true);
    assert!(
        out.contains("no REDIS_URL: serving instances see it within 30 s"),
        "{out}"
    );
    let shown = tenant_command(&bin, &env, &["show", "acme"], true);
    assert!(
        shown.contains("features:  sso, audit_log, api_access, webhooks"),
        "{shown}"
    );
    let missing = tenant_command(&bin, &env, &["show", "nosuch"], false);
    assert!(missing.contains("no tenant `nosuch`"), "{missing}");
}
