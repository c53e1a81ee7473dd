//! `examples/saasbench`, the app the benchmark's contender serves as its
//! variant `workload` (`bench/rookery`), answers the workload's requests
//! as `shared/bench/WORKLOAD.md` asks, on SQLite and on PostgreSQL: a
//! create without a description gets `""`, its owner is the creator, lists
//! are newest first and bounded, a bad body or limit is refused, and the
//! create's audit row is written with it.

mod support;

use serde_json::{Value, json};
use support::{Database, Server, binary, call};

/// The workload against `server`; returns the number of projects created.
fn workload(server: &Server) -> usize {
    let (status, body, _) = call(
        &server.base,
        "POST",
        "/api/v1/auth/signup",
        &[],
        Some(
            &json!({ "tenant_slug": "acme", "tenant_name": "Acme", "email": "owner@acme.test", "password": "correct horse battery" }),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let me = body["user"]["id"].clone();
    let auth = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let headers = [("authorization", auth.as_str()), ("x-tenant", "acme")];
    let create = |body: Value| call(&server.base, "POST", "/api/v1/projects", &headers, Some(&body));

    let (status, first, _) = create(json!({ "name": "first" }));
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["description"], "", "the workload's default description");
    assert_eq!(first["owner"], me, "the creator owns it");
    let (status, second, _) = create(json!({ "name": "second", "description": "created by the load generator" }));
    assert_eq!(status, 201, "{second}");

    for bad in [
        json!({ "name": "x".repeat(201) }),
        json!({ "description": "no name" }),
        json!({ "name": 7 }),
    ] {
        let (status, body, _) = create(bad.clone());
        assert!(status == 400 || status == 422, "{bad} -> {status} {body}");
    }

    let list = |query: &str| call(&server.base, "GET", &format!("/api/v1/projects{query}"), &headers, None);
    let (status, page, _) = list("?limit=1");
    assert_eq!(status, 200, "{page}");
    let rows = page["data"].as_array().expect("a list envelope");
    assert_eq!(rows.len(), 1, "{page}");
    assert_eq!(rows[0]["id"], second["id"], "the newest first");
    for limit in ["0", "101", "x"] {
        let (status, body, _) = list(&format!("?limit={limit}"));
        assert_eq!(status, 400, "limit={limit}: {body}");
    }
    // The workload's ids are bigints: a JSON number.
    let id = first["id"].as_i64().expect("a bigint id");
    let (status, got, _) = call(&server.base, "GET", &format!("/api/v1/projects/{id}"), &headers, None);
    assert_eq!((status, &got["name"]), (200, &json!("first")), "{got}");
    2
}

#[test]
fn the_workload_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("saasbench.sqlite").display());
    let server = Server::start(&binary("saasbench"), &[("DATABASE_URL", url.as_str())]);
    workload(&server);
    assert!(server.stop().success());
}

#[test]
fn the_workload_on_postgres_audits_each_create() {
    let bin = binary("saasbench");
    let db = Database::create_for("saasbench");
    db.migrate_with(&bin);
    let server = Server::start(&bin, &[("DATABASE_URL", db.serving_url.as_str())]);
    let created = workload(&server);
    assert!(server.stop().success());
    let audited = db.scalar("SELECT count(*) FROM audit_log WHERE action = 'project.create'");
    assert_eq!(audited, created as i64, "one audit row per create, written with it");
}
