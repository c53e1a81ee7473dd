//! The taskboard app generated from the example's spec into a scratch
//! project (`support::generated_taskboard`), built, and started on PostgreSQL: two
//! tenants, every route with every role, then every attack we know,
//! each refused with the right status and nothing changed in the database.

mod support;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use support::{Database, Server, binary, call};

struct Tenant {
    id: String,
    slug: String,
    owner: String,
    admin: String,
    member: String,
    viewer: String,
}

fn h<'a>(token: &'a str, tenant: &'a str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Bearer {token}")),
        ("x-tenant", tenant.to_owned()),
    ]
}

fn req(base: &str, method: &str, path: &str, headers: &[(&'static str, String)], body: Option<Value>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body, _) = call(base, method, path, &headers, body.as_ref());
    (status, body)
}

fn signup(base: &str, db: &Database, slug: &str) -> Tenant {
    let (s, body) = req(
        base,
        "POST",
        "/api/v1/auth/signup",
        &[],
        Some(
            json!({"tenant_slug": slug, "tenant_name": slug, "email": format!("owner@{slug}.test"), "password": "correct horse battery"}),
        ),
    );
    assert_eq!(s, 201, "{body}");
    let id = body["tenant"]["id"].as_str().unwrap().to_owned();
    // A platform operator moves the tenant to the growth plan (quotas 100
    // projects, 50 members) before anyone uses it.
    db.scalar(&format!(
        "WITH u AS (UPDATE tenants SET plan = 'growth' WHERE id = '{id}' RETURNING 1) SELECT count(*) FROM u"
    ));
    let owner = body["access_token"].as_str().unwrap().to_owned();
    let mut invited = Vec::new();
    for role in ["admin", "member", "viewer"] {
        let (s, inv) = req(
            base,
            "POST",
            "/api/v1/invitations",
            &h(&owner, &id),
            Some(json!({"email": format!("{role}@{slug}.test"), "role": role})),
        );
        assert_eq!(s, 201, "{inv}");
        let (s, tokens) = req(
            base,
            "POST",
            "/api/v1/invitations/accept",
            &[("x-tenant", id.clone())],
            Some(json!({"token": inv["token"], "password": "another good password"})),
        );
        assert!(s == 200 || s == 201, "{s} {tokens}");
        invited.push(tokens["access_token"].as_str().unwrap().to_owned());
    }
    let [admin, member, viewer] = <[String; 3]>::try_from(invited).unwrap();
    Tenant {
        id,
        slug: slug.to_owned(),
        owner,
        admin,
        member,
        viewer,
    }
}

/// Rows per table, all tenants (the superuser sees through RLS).
fn snapshot(db: &Database) -> Vec<i64> {
    [
        "projects",
        "tasks",
        "audit_log",
        "api_keys",
        "memberships",
        "tenants",
        "users",
    ]
    .iter()
    .map(|t| db.scalar(&format!("SELECT count(*) FROM {t}")))
    .collect()
}

fn mint(env: &[(&str, &str)], tenant: &str, user: &str, role: &str) -> String {
    mint_with(env, &[], tenant, user, role)
}

fn mint_with(env: &[(&str, &str)], flags: &[&str], tenant: &str, user: &str, role: &str) -> String {
    let mut cmd = Command::new(support::generated_taskboard());
    cmd.args(["token", "--tenant", tenant, "--user", user, "--role", role]);
    cmd.args(flags);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn taskboard_on_postgres_every_route_every_role_every_attack() {
    let (db, server) = start_taskboard(&[
        ("RATE_LIMIT_MAX", "1000000"),
        ("RATE_LIMIT_WINDOW_SECS", "60"),
        // An endpoint on loopback (nothing runs the deliveries here).
        ("ROOKERY_WEBHOOKS_ALLOW_LOOPBACK", "true"),
    ]);
    let base = server.base.clone();
    let (s, _) = req(&base, "GET", "/readyz", &[], None);
    assert_eq!(s, 200);

    let a = signup(&base, &db, "alpha");
    let b = signup(&base, &db, "bravo");

    // Every route, every role. Projects: create = member and up, edit =
    // admin and up on any project, a member on their own only (the seed is
    // the owner's), delete = admin and up. Tasks: write and delete = member
    // and up. Read: everyone.
    let roles = [
        ("owner", &a.owner, true, true, true),
        ("admin", &a.admin, true, true, true),
        ("member", &a.member, true, false, false),
        ("viewer", &a.viewer, false, false, false),
    ];
    let (_, seed) = req(
        &base,
        "POST",
        "/api/v1/projects",
        &h(&a.owner, &a.id),
        Some(json!({"name": "Seed"})),
    );
    let seed_id = seed["id"].as_str().unwrap().to_owned();
    for (role, token, writes, edits_any, deletes_projects) in roles {
        let hd = h(token, &a.id);
        let (s, list) = req(&base, "GET", "/api/v1/projects", &hd, None);
        assert_eq!(s, 200, "{role} lists");
        assert!(
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["tenant_id"] == a.id.as_str())
        );
        let (s, _) = req(&base, "GET", &format!("/api/v1/projects/{seed_id}"), &hd, None);
        assert_eq!(s, 200, "{role} reads");
        let (s, p) = req(
            &base,
            "POST",
            "/api/v1/projects",
            &hd,
            Some(json!({"name": format!("by {role}")})),
        );
        assert_eq!(s, if writes { 201 } else { 403 }, "{role} creates a project: {p}");
        let (s, _) = req(
            &base,
            "PATCH",
            &format!("/api/v1/projects/{seed_id}"),
            &hd,
            Some(json!({"description": role})),
        );
        assert_eq!(
            s,
            if edits_any { 200 } else { 403 },
            "{role} updates the owner's project"
        );
        if writes {
            // Their own project: owned by them, editable, its budget an admin's.
            let own = p["id"].as_str().unwrap();
            let (_, me) = req(&base, "GET", "/api/v1/me", &hd, None);
            assert_eq!(p["owner"], me["user_id"], "{role} owns what they create");
            let (s, _) = req(
                &base,
                "PATCH",
                &format!("/api/v1/projects/{own}"),
                &hd,
                Some(json!({"description": "mine"})),
            );
            assert_eq!(s, 200, "{role} updates their own project");
            let (s, body) = req(
                &base,
                "PATCH",
                &format!("/api/v1/projects/{own}"),
                &hd,
                Some(json!({"budget": "1200.00"})),
            );
            let expected = if edits_any { 200 } else { 403 };
            assert_eq!(s, expected, "{role} sets a budget: {body}");
        }
        let (s, t) = req(
            &base,
            "POST",
            "/api/v1/tasks",
            &hd,
            Some(json!({"project": seed_id, "title": role})),
        );
        assert_eq!(s, if writes { 201 } else { 403 }, "{role} creates a task: {t}");
        if writes {
            let tid = t["id"].as_str().unwrap().to_owned();
            let (s, t2) = req(
                &base,
                "PATCH",
                &format!("/api/v1/tasks/{tid}"),
                &hd,
                Some(json!({"done": true})),
            );
            assert_eq!((s, t2["done"].as_bool()), (200, Some(true)));
            let (s, _) = req(&base, "GET", "/api/v1/tasks?limit=1&sort=-created_at", &hd, None);
            assert_eq!(s, 200);
            let (s, _) = req(&base, "DELETE", &format!("/api/v1/tasks/{tid}"), &hd, None);
            assert_eq!(s, 204, "{role} deletes a task");
        }
        let victim = p["id"].as_str().map_or_else(|| seed_id.clone(), str::to_owned);
        let (s, _) = req(&base, "DELETE", &format!("/api/v1/projects/{victim}"), &hd, None);
        let expected = if deletes_projects { 204 } else { 403 };
        assert_eq!(s, expected, "{role} deletes a project");
    }
    let (s, me) = req(&base, "GET", "/api/v1/me", &h(&a.viewer, &a.id), None);
    assert_eq!((s, me["role"].as_str()), (200, Some("viewer")));
    let (s, members) = req(&base, "GET", "/api/v1/members", &h(&a.admin, &a.id), None);
    assert_eq!((s, members.as_array().map(Vec::len)), (200, Some(4)));

    // An API key with the member role works on its own tenant.
    let (s, key) = req(
        &base,
        "POST",
        "/api/v1/api-keys",
        &h(&a.owner, &a.id),
        Some(json!({"name": "ci", "role": "member"})),
    );
    assert_eq!(s, 201, "{key}");
    let api_key = key["key"].as_str().unwrap().to_owned();
    let (s, _) = req(
        &base,
        "POST",
        "/api/v1/projects",
        &h(&api_key, &a.id),
        Some(json!({"name": "via key"})),
    );
    assert_eq!(s, 201);

    // A key cannot mint keys or invitations, and its creator's current role caps it.
    let (s, admin_key) = req(
        &base,
        "POST",
        "/api/v1/api-keys",
        &h(&a.admin, &a.id),
        Some(json!({"name": "ops", "role": "admin"})),
    );
    assert_eq!(s, 201, "{admin_key}");
    let admin_key = admin_key["key"].as_str().unwrap().to_owned();
    let (s, _) = req(
        &base,
        "POST",
        "/api/v1/api-keys",
        &h(&admin_key, &a.id),
        Some(json!({"name": "x", "role": "viewer"})),
    );
    assert_eq!(s, 403, "a key cannot mint keys");
    let (s, _) = req(
        &base,
        "POST",
        "/api/v1/invitations",
        &h(&admin_key, &a.id),
        Some(json!({"email": "x@alpha.test", "role": "viewer"})),
    );
    assert_eq!(s, 403, "a key cannot invite");
    let (s, _) = req(&base, "GET", "/api/v1/projects", &h(&admin_key, &a.id), None);
    assert_eq!(s, 200);
    let demote = format!(
        "WITH u AS (UPDATE memberships SET role = 'member' WHERE role = 'admin' AND tenant_id = '{}' RETURNING 1) \
         SELECT count(*) FROM u",
        a.id
    );
    assert_eq!(db.scalar(&demote), 1);
    let (s, _) = req(&base, "GET", "/api/v1/projects", &h(&admin_key, &a.id), None);
    assert_eq!(s, 401, "a demoted creator's admin key stops working");
    db.scalar("WITH u AS (UPDATE memberships SET role = 'admin' WHERE role = 'member' AND user_id IN (SELECT created_by FROM api_keys WHERE name = 'ops') RETURNING 1) SELECT count(*) FROM u");

    // A's data to attack.
    let (_, secret) = req(
        &base,
        "POST",
        "/api/v1/projects",
        &h(&a.owner, &a.id),
        Some(json!({"name": "Secret"})),
    );
    let secret_id = secret["id"].as_str().unwrap().to_owned();
    let (_, task) = req(
        &base,
        "POST",
        "/api/v1/tasks",
        &h(&a.owner, &a.id),
        Some(json!({"project": secret_id, "title": "t"})),
    );
    let task_id = task["id"].as_str().unwrap().to_owned();
    let (s, _) = req(
        &base,
        "DELETE",
        &format!("/api/v1/api-keys/{}", key["id"].as_str().unwrap()),
        &h(&a.owner, &a.id),
        None,
    );
    assert_eq!(s, 204, "revoke");

    let before = snapshot(&db);
    let owner_user = me_user(&base, &a);
    let forged = mint(
        &[("ROOKERY_JWT_SECRET", "forged-forged-forged-forged-forged-forged")],
        &a.id,
        &owner_user,
        "owner",
    );
    let expired = mint_with(
        &[("ROOKERY_JWT_SECRET", support::JWT_SECRET)],
        &["--ttl", "-30"],
        &a.id,
        &owner_user,
        "owner",
    );
    let alg_none = {
        let claims = a.owner.split('.').nth(1).unwrap();
        format!("{}.{claims}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#))
    };
    let alg_swapped = {
        let mut parts = a.owner.split('.');
        let (_, claims, sig) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        format!(
            "{}.{claims}.{sig}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#)
        )
    };
    let body_for = |m: &str, path: &str| match (m, path.contains("tasks")) {
        ("POST", true) => Some(json!({"project": secret_id, "title": "x"})),
        ("POST", false) | ("PATCH", false) => Some(json!({"name": "pwned"})),
        ("PATCH", true) => Some(json!({"title": "pwned"})),
        _ => None,
    };
    let routes: Vec<(&str, String)> = vec![
        ("GET", "/api/v1/projects".into()),
        ("POST", "/api/v1/projects".into()),
        ("GET", format!("/api/v1/projects/{secret_id}")),
        ("PATCH", format!("/api/v1/projects/{secret_id}")),
        ("DELETE", format!("/api/v1/projects/{secret_id}")),
        ("GET", "/api/v1/tasks".into()),
        ("POST", "/api/v1/tasks".into()),
        ("GET", format!("/api/v1/tasks/{task_id}")),
        ("PATCH", format!("/api/v1/tasks/{task_id}")),
        ("DELETE", format!("/api/v1/tasks/{task_id}")),
    ];
    for (m, path) in &routes {
        let on_a = |token: &str| h(token, &a.id);
        // Bad credentials on A's tenant: 401.
        for (what, token) in [
            ("forged", &forged),
            ("expired", &expired),
            ("alg none", &alg_none),
            ("alg swapped", &alg_swapped),
            ("revoked key", &api_key),
        ] {
            let (s, _) = req(&base, m, path, &on_a(token), body_for(m, path));
            assert_eq!(s, 401, "{what} on {m} {path}");
        }
        let (s, _) = req(&base, m, path, &[("x-tenant", a.id.clone())], body_for(m, path));
        assert_eq!(s, 401, "no token on {m} {path}");
        // A's token on B's header, B's subdomain, or no tenant: 403.
        let (s, _) = req(&base, m, path, &h(&a.owner, &b.id), body_for(m, path));
        assert_eq!(s, 403, "A's token with B's header on {m} {path}");
        let host = vec![
            ("authorization", format!("Bearer {}", a.owner)),
            ("host", format!("{}.localhost", b.slug)),
        ];
        let (s, _) = req(&base, m, path, &host, body_for(m, path));
        assert_eq!(s, 403, "A's token on B's subdomain on {m} {path}");
        let (s, _) = req(
            &base,
            m,
            path,
            &[("authorization", format!("Bearer {}", a.owner))],
            body_for(m, path),
        );
        assert_eq!(s, 403, "no tenant on {m} {path}");
        // A viewer writing: 403.
        if *m != "GET" {
            let (s, _) = req(&base, m, path, &h(&a.viewer, &a.id), body_for(m, path));
            assert_eq!(s, 403, "viewer on {m} {path}");
        }
        // B's token with A's ids: 404 on A's rows; B's own lists show nothing of A's.
        let (s, body) = req(&base, m, path, &h(&b.owner, &b.id), body_for(m, path));
        match (*m, path.ends_with("projects") || path.ends_with("tasks")) {
            ("GET", true) => assert!(body["data"].as_array().unwrap().is_empty(), "B sees none of A's rows"),
            ("POST", true) if path.ends_with("tasks") => assert_eq!(s, 422, "B's task cannot reference A's project"),
            ("POST", true) => {
                // B may create its own project: undo it so the snapshot holds.
                assert_eq!(s, 201);
                let (s, _) = req(
                    &base,
                    "DELETE",
                    &format!("/api/v1/projects/{}", body["id"].as_str().unwrap()),
                    &h(&b.owner, &b.id),
                    None,
                );
                assert_eq!(s, 204);
            }
            _ => assert_eq!(s, 404, "B on A's row: {m} {path}"),
        }
    }
    let after = snapshot(&db);
    // B's create + delete of its own project left two audit rows; nothing else moved.
    assert_eq!(before[..2], after[..2], "projects and tasks unchanged");
    assert_eq!(before[2] + 2, after[2], "only B's own create/delete were audited");
    assert_eq!(before[3..], after[3..], "keys, members, tenants and users unchanged");
    let (s, p) = req(
        &base,
        "GET",
        &format!("/api/v1/projects/{secret_id}"),
        &h(&a.owner, &a.id),
        None,
    );
    assert_eq!((s, p["name"].as_str()), (200, Some("Secret")));

    // The serving role cannot rewrite history or the migration bookkeeping.
    assert!(
        db.refused_as_serving_role("UPDATE audit_log SET action = 'forged'"),
        "audit log is append-only"
    );
    assert!(
        db.refused_as_serving_role("DELETE FROM audit_log"),
        "audit log is append-only"
    );
    assert!(
        db.refused_as_serving_role("DELETE FROM _sqlx_migrations"),
        "migrations are the owner's"
    );
    assert!(
        !db.refused_as_serving_role("SELECT count(*) FROM audit_log"),
        "but it may read its tenant's audit log"
    );

    // Quota overflow on the free plan (3 projects).
    let c = signup_free(&base, "charlie");
    for n in 0..3 {
        let (s, _) = req(
            &base,
            "POST",
            "/api/v1/projects",
            &h(&c.0, &c.1),
            Some(json!({"name": format!("p{n}")})),
        );
        assert_eq!(s, 201);
    }
    let (s, e) = req(
        &base,
        "POST",
        "/api/v1/projects",
        &h(&c.0, &c.1),
        Some(json!({"name": "one too many"})),
    );
    assert_eq!(
        (s, e["type"].as_str()),
        (403, Some("https://rookery.dev/problems/quota-exceeded"))
    );
    assert_eq!(
        db.scalar(&format!("SELECT count(*) FROM projects WHERE tenant_id = '{}'", c.1)),
        3
    );

    // Lists: `q` over the name and description (the trigram index the
    // migration made), a budget range (an owner sets budgets, here as a
    // JSON number), the total; never another tenant's rows.
    let (s, rocket) = req(
        &base,
        "POST",
        "/api/v1/projects",
        &h(&a.owner, &a.id),
        Some(json!({"name": "Moonshot", "description": "Launch the ROCKET", "budget": 1500})),
    );
    assert_eq!(s, 201, "{rocket}");
    assert_eq!(rocket["budget"], "1500", "answers write a string: {rocket}");
    let (s, page) = req(
        &base,
        "GET",
        "/api/v1/projects?q=rocket&count=true",
        &h(&a.viewer, &a.id),
        None,
    );
    assert_eq!((s, page["total"].as_i64()), (200, Some(1)), "{page}");
    assert_eq!(page["data"][0]["name"], "Moonshot", "{page}");
    let (s, page) = req(
        &base,
        "GET",
        "/api/v1/projects?q=moon%20rock",
        &h(&a.viewer, &a.id),
        None,
    );
    assert_eq!((s, page["data"].as_array().map(Vec::len)), (200, Some(1)), "{page}");
    let (s, page) = req(
        &base,
        "GET",
        "/api/v1/projects?budget%5Bgte%5D=1000",
        &h(&a.viewer, &a.id),
        None,
    );
    assert_eq!((s, page["data"].as_array().map(Vec::len)), (200, Some(1)), "{page}");
    let (s, page) = req(
        &base,
        "GET",
        "/api/v1/projects?budget%5Bgte%5D=lots",
        &h(&a.viewer, &a.id),
        None,
    );
    assert_eq!(s, 400, "{page}");
    let (s, page) = req(
        &base,
        "GET",
        "/api/v1/projects?q=rocket&count=true",
        &h(&b.owner, &b.id),
        None,
    );
    assert_eq!((s, page["total"].as_i64()), (200, Some(0)), "another tenant's: {page}");

    // Webhooks: `webhooks.manage` (admin and up), the growth plan's feature.
    let hook = json!({"url": "https://10.0.0.1/hooks", "event_types": ["project.created"]});
    let (s, e) = req(
        &base,
        "POST",
        "/api/v1/webhooks/endpoints",
        &h(&a.admin, &a.id),
        Some(hook),
    );
    assert_eq!(s, 400, "a private address is refused: {e}");
    assert!(e["detail"].as_str().unwrap().starts_with("url: "), "{e}");
    let hook = json!({"url": "http://127.0.0.1:9/hooks", "event_types": ["project.created", "project.deleted"]});
    let (s, created) = req(
        &base,
        "POST",
        "/api/v1/webhooks/endpoints",
        &h(&a.admin, &a.id),
        Some(hook),
    );
    assert_eq!(s, 201, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let one = format!("/api/v1/webhooks/endpoints/{}", created["id"].as_str().unwrap());
    for (role, token, allowed) in [
        ("owner", &a.owner, true),
        ("admin", &a.admin, true),
        ("member", &a.member, false),
        ("viewer", &a.viewer, false),
    ] {
        let (s, body) = req(&base, "GET", "/api/v1/webhooks/endpoints", &h(token, &a.id), None);
        assert_eq!(s, if allowed { 200 } else { 403 }, "{role}: {body}");
    }
    let (s, _) = req(&base, "GET", &one, &h(&b.owner, &b.id), None);
    assert_eq!(s, 404, "another tenant's endpoint is not found");
    let (s, e) = req(&base, "GET", "/api/v1/webhooks/endpoints", &h(&c.0, &c.1), None);
    assert_eq!(
        (s, e["type"].as_str()),
        (403, Some("https://rookery.dev/problems/feature-not-in-plan")),
        "the free plan has no webhooks"
    );
    // A project created in alpha is a delivery waiting for alpha's endpoint.
    let (s, _) = req(
        &base,
        "POST",
        "/api/v1/projects",
        &h(&a.owner, &a.id),
        Some(json!({"name": "Hooked"})),
    );
    assert_eq!(s, 201);
    let (s, page) = req(&base, "GET", &format!("{one}/deliveries"), &h(&a.owner, &a.id), None);
    assert_eq!(
        (s, page["data"][0]["event_type"].as_str()),
        (200, Some("project.created")),
        "{page}"
    );
    assert!(
        db.refused_as_serving_role("UPDATE rookery_events SET type = 'forged'"),
        "the event log is append-only"
    );

    let (s, doc) = req(&base, "GET", "/openapi.json", &[], None);
    assert_eq!((s, doc["openapi"].as_str()), (200, Some("3.1.0")));
    assert!(doc["paths"]["/api/v1/tasks/{id}"]["patch"].is_object());
    assert!(server.stop().success(), "graceful shutdown exits 0");
}

/// A fresh database, migrated by `taskboard migrate` as a non-superuser
/// owner, and `taskboard serve` on it with `env`, logged in as a member of
/// `taskboard_app` — the README's PostgreSQL commands.
fn start_taskboard(env: &[(&str, &str)]) -> (Database, Server) {
    let db = Database::create();
    let bin = support::generated_taskboard();
    db.migrate_with(&bin);
    let mut env = env.to_vec();
    env.push(("DATABASE_URL", &db.serving_url));
    let server = Server::start(&bin, &env);
    (db, server)
}

fn me_user(base: &str, t: &Tenant) -> String {
    let (_, me) = req(base, "GET", "/api/v1/me", &h(&t.owner, &t.id), None);
    me["user_id"].as_str().unwrap().to_owned()
}

fn signup_free(base: &str, slug: &str) -> (String, String) {
    let (s, body) = req(
        base,
        "POST",
        "/api/v1/auth/signup",
        &[],
        Some(
            json!({"tenant_slug": slug, "tenant_name": slug, "email": format!("owner@{slug}.test"), "password": "correct horse battery"}),
        ),
    );
    assert_eq!(s, 201, "{body}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["tenant"]["id"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn rate_limit_refuses_with_headers_per_tenant() {
    let (_db, server) = start_taskboard(&[("RATE_LIMIT_MAX", "3"), ("RATE_LIMIT_WINDOW_SECS", "3600")]);
    let (ta, a) = signup_free(&server.base, "alpha");
    let (tb, b) = signup_free(&server.base, "bravo");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let headers = [("authorization", format!("Bearer {ta}")), ("x-tenant", a.clone())];
        let hd: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, _, headers) = call(&server.base, "GET", "/api/v1/projects", &hd, None);
        if s == 429 {
            assert!(headers.iter().any(|(k, _)| k == "retry-after"), "Retry-After on 429");
        }
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "ratelimit-policy" && v.contains("q=3")),
            "{headers:?}"
        );
        statuses.push(s);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let (s, _) = req(&server.base, "GET", "/api/v1/projects", &h(&tb, &b), None);
    assert_eq!(s, 200, "another tenant has its own budget");
}

/// The free plan's `api_calls = "1000/month"`: counted per tenant,
/// shown by `GET /usage` with its UTC month, kept in the platform table
/// whose window and quota the serving role cannot move.
#[test]
fn the_free_plans_api_calls_are_counted_and_shown() {
    let (db, server) = start_taskboard(&[]);
    let (token, id) = signup_free(&server.base, "alpha");
    for _ in 0..4 {
        let (s, _) = req(&server.base, "GET", "/api/v1/projects", &h(&token, &id), None);
        assert_eq!(s, 200);
    }
    let (s, usage) = req(&server.base, "GET", "/api/v1/usage", &h(&token, &id), None);
    assert_eq!((s, usage["plan"].as_str()), (200, Some("free")), "{usage}");
    let quotas = usage["quotas"].as_array().expect("quotas");
    let calls = quotas.iter().find(|q| q["name"] == "api_calls").expect("api_calls");
    assert_eq!(
        (&calls["kind"], &calls["used"], &calls["limit"], &calls["period"]),
        (&json!("rate"), &json!(4), &json!(1000), &json!("month")),
        "{usage}"
    );
    assert!(
        calls["window_start"]
            .as_str()
            .is_some_and(|t| t.contains("-01T00:00:00")),
        "{usage}"
    );
    let projects = quotas.iter().find(|q| q["name"] == "projects").expect("projects");
    assert_eq!((&projects["kind"], &projects["used"]), (&json!("count"), &json!(0)));
    assert!(db.refused_as_serving_role("UPDATE rookery_quota_windows SET quota = 'forged'"));
    assert!(db.refused_as_serving_role("UPDATE rookery_quota_windows SET window_start = now()"));
    // The process reserved blocks (1, 2, 4 when the calls come quickly);
    // stopping gives back what it did not spend, so the next process
    // starts at 4.
    assert!(db.scalar("SELECT used FROM rookery_quota_windows") >= 4);
    assert!(server.stop().success(), "graceful shutdown exits 0");
    assert_eq!(db.scalar("SELECT used FROM rookery_quota_windows"), 4);
}

#[test]
fn sign_in_routes_are_limited_per_client_address() {
    let (_db, server) = start_taskboard(&[("ROOKERY_SIGN_IN_RATE", "3/h")]);
    let (_, tenant) = signup_free(&server.base, "alpha");
    let guess = json!({"email": "owner@alpha.test", "password": "a wrong guess"});
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (s, _) = req(
            &server.base,
            "POST",
            "/api/v1/auth/login",
            &[("x-tenant", tenant.clone())],
            Some(guess.clone()),
        );
        statuses.push(s);
    }
    // The sign-up counted too: 3 per hour from this address.
    assert_eq!(statuses, [401, 401, 429], "password guessing is cut off");
    let right = json!({"email": "owner@alpha.test", "password": "correct horse battery"});
    let (s, _) = req(
        &server.base,
        "POST",
        "/api/v1/auth/login",
        &[("x-tenant", tenant.clone())],
        Some(right),
    );
    assert_eq!(s, 429, "even the right password waits for the window");
}

#[test]
fn example_apps_are_fresh() {
    // Every committed example is exactly what the generator makes of its spec.
    let examples = support::workspace().join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("rookery.toml").exists() {
            continue;
        }
        let out = Command::new(binary("rookery"))
            .args(["generate", "--check", "--project"])
            .arg(&dir)
            .output()
            .unwrap();
        let name = dir.file_name().unwrap().to_string_lossy();
        assert!(
            out.status.success(),
            "examples/{name} is stale: run `cargo run -p rookery-generator -- generate --project examples/{name}`\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(
        checked >= 2,
        "found {checked} example apps under {}",
        examples.display()
    );
}

/// A command line the binary does not know gets the error, the synopsis
/// and where the rest is (exit 2), not the whole help; `--help` has it.
#[test]
fn a_bad_command_line_says_what_was_wrong_in_a_few_lines() {
    let bin = support::generated_taskboard();
    let out = Command::new(&bin).arg("servr").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: unknown command `servr`\n\nusage: taskboard ["),
        "{stderr}"
    );
    assert!(stderr.contains("`taskboard --help`"), "{stderr}");
    assert!(!stderr.contains("ROOKERY_BIND"), "{stderr}");
    let help = Command::new(&bin).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("ROOKERY_BIND"));
}

/// `serve` on a database behind its migrations refuses to start, saying
/// what to run; after `migrate` it serves.
#[test]
fn serve_refuses_a_database_behind_its_migrations() {
    let db = Database::create();
    let bin = support::generated_taskboard();
    let out = Command::new(&bin)
        .arg("serve")
        .env("DATABASE_URL", &db.serving_url)
        .env("ROOKERY_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // Before the first migration the group role may not exist yet, or the
    // database has no bookkeeping: either way the line names the fix.
    assert!(
        stderr.contains("taskboard migrate") && !stderr.contains("<app>"),
        "{stderr}"
    );
    let (_db, server) = start_taskboard(&[]);
    let (s, _) = req(&server.base, "GET", "/readyz", &[], None);
    assert_eq!(s, 200);
}
