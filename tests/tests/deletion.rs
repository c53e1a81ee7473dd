//! Tenant deletion and a person's erasure as the README says, on the
//! example app's binary and PostgreSQL (a non-superuser owner migrated,
//! the server is a member of the app's group role): an owner asks, the
//! server's own worker erases the tenant (grace period 0), and no table
//! with a `tenant_id` keeps a row of it, while the other tenant keeps all
//! of its; the operator's commands ask, show and cancel; `user erase`
//! refuses a tenant's only owner.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::{Database, Server, binary, call};

const PW: &str = "correct horse battery";

/// Rows of tenant `id` in every table of the schema with a `tenant_id`
/// (read from the catalogue), in one number.
fn rows_of(db: &Database, id: &str) -> i64 {
    db.scalar(&format!(
        "SELECT coalesce(sum((xpath('/row/n/text()', query_to_xml( \
             format('SELECT count(*) AS n FROM %I WHERE tenant_id = %L', c.table_name, '{id}'), false, true, '')))[1]::text::bigint), 0)::bigint \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'"
    ))
}

struct Tenant {
    id: String,
    bearer: String,
}

fn signup(server: &Server, slug: &str) -> Tenant {
    let body =
        json!({ "tenant_slug": slug, "tenant_name": slug, "email": format!("owner@{slug}.test"), "password": PW });
    let (status, body, _) = call(&server.base, "POST", "/api/v1/auth/signup", &[], Some(&body));
    assert_eq!(status, 201, "{body}");
    Tenant {
        id: body["tenant"]["id"].as_str().unwrap().to_owned(),
        bearer: format!("Bearer {}", body["access_token"].as_str().unwrap()),
    }
}

/// A project, a task assigned to the owner (a reference to the
/// membership that restricts), a comment on it.
fn fill(server: &Server, slug: &str, t: &Tenant) {
    let headers = [("authorization", t.bearer.as_str()), ("x-tenant", slug)];
    let post = |path: &str, body: Value| {
        let (status, body, _) = call(&server.base, "POST", path, &headers, Some(&body));
        assert_eq!(status, 201, "{path}: {body}");
        body
    };
    let (_, me, _) = call(&server.base, "GET", "/api/v1/me", &headers, None);
    let project = post("/api/v1/projects", json!({ "name": format!("{slug} project") }));
    let task = post(
        "/api/v1/tasks",
        json!({ "project": project["id"], "title": "t", "assignee": me["user_id"] }),
    );
    post("/api/v1/comments", json!({ "task": task["id"], "body": "c" }));
}

fn command(bin: &Path, env: &[(&str, &str)], args: &[&str], ok: bool) -> String {
    let out = Command::new(bin)
        .args(args)
        .env_remove("REDIS_URL")
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("run taskboard");
    assert_eq!(
        out.status.success(),
        ok,
        "taskboard {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(if ok { &out.stdout } else { &out.stderr }).into_owned()
}

#[test]
fn postgres_a_deleted_tenant_leaves_no_row_behind() {
    let bin = binary("taskboard");
    let db = Database::create();
    db.migrate_with(&bin);
    let env = [
        ("DATABASE_URL", db.serving_url.as_str()),
        ("ROOKERY_DELETION_GRACE_DAYS", "0"),
        ("ROOKERY_JOBS_IN_SERVE", "true"),
        ("ROOKERY_JOBS_POLL_MS", "50"),
    ];
    let mut server = Server::start(&bin, &env);
    let acme = signup(&server, "acme");
    let globex = signup(&server, "globex");
    fill(&server, "acme", &acme);
    fill(&server, "globex", &globex);
    let before = rows_of(&db, &acme.id);
    assert!(before >= 6, "acme has rows: {before}");

    let headers = [("authorization", acme.bearer.as_str()), ("x-tenant", "acme")];
    let (status, body, _) = call(
        &server.base,
        "POST",
        "/api/v1/tenant/deletion",
        &headers,
        Some(&json!({ "confirm": "acme" })),
    );
    assert_eq!(status, 202, "{body}");
    server.wait_for_log("tenant erased");
    assert_eq!(rows_of(&db, &acme.id), 0, "no row of acme is left");
    assert_eq!(db.scalar("SELECT count(*) FROM tenants WHERE slug = 'acme'"), 0);
    assert_eq!(
        db.scalar("SELECT count(*) FROM users WHERE email = 'owner@acme.test'"),
        0
    );
    assert_eq!(db.scalar("SELECT count(*) FROM rookery_tenant_erasures"), 1);
    let operator = [("DATABASE_URL", db.serving_url.as_str())];
    let kept = command(&bin, &operator, &["tenant", "erasure", &acme.id], true);
    assert!(kept.contains(&format!("tenant {} erased", acme.id)), "{kept}");
    assert!(kept.contains("\"projects\":1") && !kept.contains("acme"), "{kept}");
    // Globex lost nothing (its usage and jobs move on their own; its
    // data does not).
    for table in [
        "projects",
        "tasks",
        "comments",
        "memberships",
        "refresh_tokens",
        "audit_log",
    ] {
        let n = db.scalar(&format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = '{}'",
            globex.id
        ));
        assert!(n >= 1, "{table} of globex");
    }
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*) FROM projects WHERE tenant_id = '{}'",
            globex.id
        )),
        1
    );
    // Its credentials open nothing any more.
    let (status, _, _) = call(&server.base, "GET", "/api/v1/projects", &headers, None);
    assert!((400..500).contains(&status), "{status}");

    // The operator: asks, shows, cancels; a tenant's only owner is not erased.
    let operator = [
        ("DATABASE_URL", db.serving_url.as_str()),
        ("ROOKERY_DELETION_GRACE_DAYS", "30"),
    ];
    let out = command(&bin, &operator, &["tenant", "delete", "globex"], true);
    assert!(out.contains("deletion of `globex` requested"), "{out}");
    let shown = command(&bin, &operator, &["tenant", "show", "globex"], true);
    assert!(shown.contains("deletion:  requested"), "{shown}");
    let out = command(&bin, &operator, &["tenant", "cancel-deletion", "globex"], true);
    assert!(out.contains("cancelled"), "{out}");
    let shown = command(&bin, &operator, &["tenant", "show", "globex"], true);
    assert!(shown.contains("deletion:  none"), "{shown}");
    let refused = command(&bin, &operator, &["user", "erase", "owner@globex.test"], false);
    assert!(refused.contains("must keep an active `owner`"), "{refused}");
    assert_eq!(
        db.scalar("SELECT count(*) FROM audit_log WHERE action IN ('tenant.deletion_requested', 'tenant.deletion_cancelled') AND actor_type = 'operator'"),
        2
    );
    assert!(server.stop().success());
}
