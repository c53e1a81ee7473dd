//! The hand-written half of the example app (`examples/taskboard/src/`:
//! the `Comment` model, the archive route with its custom permission and
//! audit row, the raw-SQL report), served by the committed `taskboard`
//! binary on SQLite and on PostgreSQL (migrated as a non-superuser owner,
//! served as a member of `taskboard_app`).

mod support;

use std::process::Command;

use rookery::db::{Db, DbOptions};
use serde_json::{Value, json};
use support::{Database, JWT_SECRET, Server, binary, call};

struct Caller {
    base: String,
    tenant: String,
    token: String,
}

impl Caller {
    fn req(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {}", self.token);
        let headers = [("authorization", auth.as_str()), ("x-tenant", self.tenant.as_str())];
        let (status, body, _) = call(&self.base, method, &format!("/api/v1{path}"), &headers, body.as_ref());
        (status, body)
    }

    fn as_role(&self, role: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(binary("taskboard"));
        cmd.args([
            "token",
            "--tenant",
            &self.tenant,
            "--user",
            &uuid::Uuid::now_v7().to_string(),
        ])
        .args(["--role", role])
        .env("ROOKERY_JWT_SECRET", JWT_SECRET);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Self {
            base: self.base.clone(),
            tenant: self.tenant.clone(),
            token: String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        }
    }
}

fn sign_up(base: &str, slug: &str) -> Caller {
    let body = json!({"tenant_slug": slug, "tenant_name": slug, "email": format!("owner@{slug}.test"), "password": "correct horse battery"});
    let (status, body, _) = call(base, "POST", "/api/v1/auth/signup", &[], Some(&body));
    assert_eq!(status, 201, "{body}");
    Caller {
        base: base.to_owned(),
        tenant: body["tenant"]["id"].as_str().unwrap().to_owned(),
        token: body["access_token"].as_str().unwrap().to_owned(),
    }
}

fn create(owner: &Caller, path: &str, body: Value) -> Value {
    let (status, row) = owner.req("POST", path, Some(body));
    assert_eq!(status, 201, "{path}: {row}");
    row
}

/// The audit rows of `tenant`, read with the runtime's public raw SQL.
fn audit(url: &str, role: &str, tenant: &str) -> Vec<(String, Option<Value>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = Db::connect(url, &DbOptions::serving(role)).await.unwrap();
        let mut tx = db.begin(tenant.parse().unwrap()).await.unwrap();
        let rows = tx
            .sql("SELECT action, metadata FROM audit_log WHERE tenant_id = $1 ORDER BY at, id")
            .fetch_all()
            .await
            .unwrap();
        tx.finish_read();
        rows
    })
}

fn scenario(base: &str, env: &[(&str, &str)], url: &str) {
    let a = sign_up(base, "alpha");
    let b = sign_up(base, "beta");
    let apollo = create(&a, "/projects", json!({"name": "apollo"}));
    create(&a, "/projects", json!({"name": "gemini"}));
    let open = create(&a, "/tasks", json!({"project": apollo["id"], "title": "launch"}));
    create(
        &a,
        "/tasks",
        json!({"project": apollo["id"], "title": "land", "done": true}),
    );

    // The hand-written model has the generated routes, in its tenant only.
    let comment = create(&a, "/comments", json!({"task": open["id"], "body": "go for launch"}));
    assert_eq!(comment["task"], open["id"]);
    let (status, body) = a.req("GET", &format!("/comments/{}", comment["id"].as_str().unwrap()), None);
    assert_eq!((status, &body["body"]), (200, &json!("go for launch")));
    let (status, body) = b.req("GET", &format!("/comments/{}", comment["id"].as_str().unwrap()), None);
    assert_eq!(status, 404, "{body}");
    let (status, body) = b.req("POST", "/comments", Some(json!({"task": open["id"], "body": "hijack"})));
    assert_eq!(status, 422, "another tenant's task is not a task here: {body}");

    // The report: one statement with a join and aggregates, per tenant.
    let report = json!([
        {"project": apollo["id"], "name": "apollo", "status": "active", "tasks": 2, "open": 1},
        {"project": apollo["id"].as_i64().unwrap() + 1, "name": "gemini", "status": "active", "tasks": 0, "open": 0},
    ]);
    let (status, body) = a.req("GET", "/reports/projects", None);
    assert_eq!((status, &body), (200, &report));
    let (status, body) = b.req("GET", "/reports/projects", None);
    assert_eq!((status, body), (200, json!([])), "tenant B sees none of A's projects");

    // The custom permission: a member may not archive; an admin may.
    let archive = format!("/projects/{}/archive", apollo["id"]);
    let member = a.as_role("member", env);
    let (status, body) = member.req("POST", &archive, None);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["detail"], "missing permission `projects.archive`");
    let (status, body) = b.req("POST", &archive, None);
    assert_eq!(status, 404, "another tenant's project: {body}");
    let admin = a.as_role("admin", env);
    let (status, body) = admin.req("POST", &archive, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["id"], &body["status"]), (&apollo["id"], &json!("archived")));
    let (status, body) = admin.req("POST", &archive, None);
    assert_eq!(status, 409, "archived already: {body}");
    let (status, body) = admin.req("POST", "/projects/not-a-number/archive", None);
    assert_eq!(status, 404, "{body}");
    let (_, body) = a.req("GET", "/reports/projects", None);
    assert_eq!(
        (&body[0]["status"], &body[0]["open"]),
        (&json!("archived"), &json!(0)),
        "the archive closed the open task in the same transaction: {body}"
    );

    // Its audit row, beside the generated routes' rows.
    let rows = audit(url, "taskboard_app", &a.tenant);
    let archived: Vec<_> = rows.iter().filter(|(action, _)| action == "project.archive").collect();
    assert_eq!(archived.len(), 1, "{rows:?}");
    assert_eq!(archived[0].1, Some(json!({"tasks_closed": 1})));
    assert!(rows.iter().any(|(action, _)| action == "comment.create"), "{rows:?}");
    assert!(
        audit(url, "taskboard_app", &b.tenant)
            .iter()
            .all(|(action, _)| action != "project.archive")
    );

    // `/openapi.json` lists the hand-written routes with their permission.
    let (status, doc, _) = call(base, "GET", "/openapi.json", &[], None);
    assert_eq!(status, 200);
    let op = &doc["paths"]["/api/v1/projects/{id}/archive"]["post"];
    assert_eq!(op["x-rookery-permission"], "projects.archive", "{op}");
    assert!(
        op["responses"]["409"].is_object() && op["responses"]["404"].is_object(),
        "{op}"
    );
    assert_eq!(
        doc["paths"]["/api/v1/reports/projects"]["get"]["x-rookery-permission"],
        "reports.read"
    );
    assert!(doc["paths"]["/api/v1/comments"]["post"].is_object());
}

/// The free plan's 5 requests a second would answer most of these with 429.
const UNLIMITED: ((&str, &str), (&str, &str)) = (("RATE_LIMIT_MAX", "1000000"), ("RATE_LIMIT_WINDOW_SECS", "60"));

#[test]
fn handwritten_parts_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("taskboard.db").display());
    let server = Server::start(
        &binary("taskboard"),
        &[("DATABASE_URL", &url), UNLIMITED.0, UNLIMITED.1],
    );
    scenario(&server.base, &[], &url);
}

#[test]
fn handwritten_parts_on_postgres() {
    let db = Database::create();
    let bin = binary("taskboard");
    db.migrate_with(&bin);
    let server = Server::start(&bin, &[("DATABASE_URL", &db.serving_url), UNLIMITED.0, UNLIMITED.1]);
    scenario(&server.base, &[], &db.serving_url);
}
