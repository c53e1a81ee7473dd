//! A tenant's custom roles end to end, through the router, on SQLite and
//! on PostgreSQL (row-level security on, the serving role's least
//! privilege): defined, assigned, enforced, changed under their holders'
//! live tokens, deleted only when nobody holds them; and every way to
//! reach further than one's own role refused.

#[macro_use]
mod support;

use axum::http::StatusCode;
use rookery::config::Config;
use serde_json::{Value, json};
use support::{Harness, Reply};

const PW: &str = "correct horse battery";

on_both_backends!(
    configure = configure;
    a_custom_role_is_defined_assigned_and_enforced,
    a_change_reaches_its_holders_next_request,
    nobody_defines_or_hands_out_more_than_they_hold,
    an_invitation_grants_only_what_its_sender_may_still_grant,
    system_roles_and_held_roles_stay,
    custom_roles_stay_in_their_tenant,
    an_api_key_with_a_custom_role_follows_it,
);

fn configure(config: &mut Config) {
    config.sign_in_rate = (10_000, 60);
}

/// A member of tenant `slug`: id, email, access token.
struct Member {
    id: String,
    access: String,
}

async fn owner(h: &Harness, slug: &str) -> Member {
    let reply = h.signup(slug, &format!("owner@{slug}.test"), PW).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    Member {
        id: reply.body["user"]["id"].as_str().expect("user id").to_owned(),
        access: reply.str("access_token"),
    }
}

async fn call(h: &Harness, method: &str, path: &str, bearer: &str, body: Option<Value>) -> Reply {
    h.call(method, path, Some("acme"), Some(bearer), body).await
}

/// `by` invites `email` to acme as `role`; the invitee accepts.
async fn join(h: &Harness, by: &Member, email: &str, role: &str) -> Member {
    let invited = call(
        h,
        "POST",
        "/invitations",
        &by.access,
        Some(json!({ "email": email, "role": role })),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let body = json!({ "token": invited.str("token"), "password": PW });
    let reply = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["role"], role, "{reply:?}");
    Member {
        id: reply.body["user"]["id"].as_str().expect("user id").to_owned(),
        access: reply.str("access_token"),
    }
}

async fn define(h: &Harness, by: &Member, body: Value) -> Reply {
    call(h, "POST", "/roles", &by.access, Some(body)).await
}

async fn note(h: &Harness, by: &Member) -> StatusCode {
    call(h, "POST", "/notes", &by.access, Some(json!({ "title": "n" })))
        .await
        .status
}

fn assert_problem(reply: &Reply, status: StatusCode, kind: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(
        reply.body["type"],
        format!("https://rookery.dev/problems/{kind}"),
        "{reply:?}"
    );
}

/// The names `GET /roles` lists, in order, and whether each is a system role.
async fn role_names(h: &Harness, by: &Member) -> Vec<(String, bool)> {
    let reply = call(h, "GET", "/roles", &by.access, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_owned(), r["system"].as_bool().unwrap()))
        .collect()
}

async fn a_custom_role_is_defined_assigned_and_enforced(h: Harness) {
    let ada = owner(&h, "acme").await;
    let created = define(
        &h,
        &ada,
        json!({ "name": "editor", "inherits": "viewer", "grants": ["projects.write", "deals.write:own", "projects.write"] }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["system"], false);
    assert_eq!(created.body["inherits"], "viewer");
    assert_eq!(
        created.body["grants"],
        json!(["projects.write", "deals.write:own"]),
        "duplicates are dropped"
    );
    let permissions = created.body["permissions"].as_array().unwrap();
    for p in ["members.read", "projects.read", "projects.write"] {
        assert!(permissions.contains(&json!(p)), "{p} in {permissions:?}");
    }
    // The viewer's own-rows read stays own-rows; the new write is own-rows.
    assert_eq!(created.body["own_permissions"], json!(["deals.read", "deals.write"]));
    assert_eq!(
        role_names(&h, &ada).await,
        [
            ("owner", true),
            ("admin", true),
            ("member", true),
            ("viewer", true),
            ("editor", false)
        ]
        .map(|(n, s)| (n.to_owned(), s))
    );

    let bob = join(&h, &ada, "bob@acme.test", "editor").await;
    let me = call(&h, "GET", "/me", &bob.access, None).await;
    assert_eq!(me.body["role"], "editor", "{me:?}");
    let written = call(&h, "POST", "/notes", &bob.access, Some(json!({ "title": "n" }))).await;
    assert_eq!(written.status, StatusCode::CREATED, "editor writes notes: {written:?}");
    let path = format!("/notes/{}", written.body["id"]);
    let deleted = call(&h, "DELETE", &path, &bob.access, None).await;
    assert_eq!(deleted.status, StatusCode::FORBIDDEN, "but deletes none: {deleted:?}");
    let members = call(&h, "GET", "/members", &bob.access, None).await;
    let roles: Vec<&str> = members
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["owner", "editor"], "members show the role's name");

    // A viewer made editor through a role change, then signed in again.
    let cy = join(&h, &ada, "cy@acme.test", "viewer").await;
    assert_eq!(note(&h, &cy).await, StatusCode::FORBIDDEN);
    let changed = call(
        &h,
        "PATCH",
        &format!("/members/{}", cy.id),
        &ada.access,
        Some(json!({ "role": "editor" })),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(changed.body["from"], "viewer");
    assert_eq!(changed.body["role"], "editor");
    let login = h.login("acme", "cy@acme.test", PW).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let cy = Member {
        id: cy.id,
        access: login.str("access_token"),
    };
    assert_eq!(note(&h, &cy).await, StatusCode::CREATED);
    // The refresh token's new access token carries the role too.
    let refreshed = h
        .call(
            "POST",
            "/auth/refresh",
            Some("acme"),
            None,
            Some(json!({ "refresh_token": login.str("refresh_token") })),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");

    let audited: Vec<String> = h.audit_rows().await.into_iter().map(|(a, _)| a).collect();
    assert!(audited.contains(&"role.created".to_owned()), "{audited:?}");
}

async fn a_change_reaches_its_holders_next_request(h: Harness) {
    let ada = owner(&h, "acme").await;
    let created = define(
        &h,
        &ada,
        json!({ "name": "editor", "inherits": "viewer", "grants": ["projects.write"] }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let bob = join(&h, &ada, "bob@acme.test", "editor").await;
    assert_eq!(note(&h, &bob).await, StatusCode::CREATED);

    // Renamed and narrowed: the same token, the next request.
    let changed = call(
        &h,
        "PATCH",
        "/roles/editor",
        &ada.access,
        Some(json!({ "name": "reader", "grants": [] })),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(changed.body["name"], "reader");
    assert_eq!(changed.body["inherits"], "viewer", "left out, kept");
    assert_eq!(note(&h, &bob).await, StatusCode::FORBIDDEN, "the grant is gone at once");
    let me = call(&h, "GET", "/me", &bob.access, None).await;
    assert_eq!(me.status, StatusCode::OK, "no new sign-in: {me:?}");
    assert_eq!(me.body["role"], "reader");
    let gone = call(&h, "GET", "/roles/editor", &ada.access, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{gone:?}");

    // Widened again, inheriting nothing: the inherited reads go.
    let changed = call(
        &h,
        "PATCH",
        "/roles/reader",
        &ada.access,
        Some(json!({ "inherits": null, "grants": ["projects.write", "projects.read"] })),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(note(&h, &bob).await, StatusCode::CREATED);
    let members = call(&h, "GET", "/members", &bob.access, None).await;
    assert_eq!(
        members.status,
        StatusCode::FORBIDDEN,
        "members.read went with viewer: {members:?}"
    );

    let updates: Vec<Value> = h
        .audit_rows()
        .await
        .into_iter()
        .filter(|(a, _)| a == "role.updated")
        .map(|(_, m)| serde_json::from_str(&m).unwrap())
        .collect();
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(updates[0]["before"]["name"], "editor");
    assert_eq!(updates[0]["name"], "reader");
}

async fn nobody_defines_or_hands_out_more_than_they_hold(h: Harness) {
    let ada = owner(&h, "acme").await;
    h.set_plan("acme", "pro").await; // no members quota
    let alan = join(&h, &ada, "alan@acme.test", "admin").await;
    let vic = join(&h, &ada, "vic@acme.test", "viewer").await;

    // Without `roles.manage`.
    let refused = define(&h, &vic, json!({ "name": "x", "grants": [] })).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    // An admin defines nothing an admin lacks: a grant, or an inherited role.
    let refused = define(&h, &alan, json!({ "name": "boss", "grants": ["tenant.delete"] })).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        refused.body["detail"].as_str().unwrap().contains("tenant.delete"),
        "{refused:?}"
    );
    let refused = define(&h, &alan, json!({ "name": "boss", "inherits": "owner" })).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    // Nor on every row what they hold on own rows only: a member-level
    // manager who holds `deals.write:own` cannot grant `deals.write`.
    let manager = define(
        &h,
        &ada,
        json!({ "name": "manager", "inherits": "member", "grants": ["roles.manage", "members.manage"] }),
    )
    .await;
    assert_eq!(manager.status, StatusCode::CREATED, "{manager:?}");
    let meg = join(&h, &ada, "meg@acme.test", "manager").await;
    let refused = define(&h, &meg, json!({ "name": "closer", "grants": ["deals.write"] })).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    let own = define(&h, &meg, json!({ "name": "closer", "grants": ["deals.write:own"] })).await;
    assert_eq!(own.status, StatusCode::CREATED, "own rows, as held: {own:?}");
    // …nor widen the role they hold themselves.
    let refused = call(
        &h,
        "PATCH",
        "/roles/manager",
        &meg.access,
        Some(json!({ "grants": ["roles.manage", "members.manage", "projects.delete"] })),
    )
    .await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    let unchanged = call(&h, "GET", "/roles/manager", &ada.access, None).await;
    assert_eq!(
        unchanged.body["grants"],
        json!(["roles.manage", "members.manage"]),
        "{unchanged:?}"
    );

    // A role stronger than the caller: not changed, deleted or handed out.
    let strong = define(&h, &ada, json!({ "name": "treasurer", "grants": ["billing.manage"] })).await;
    assert_eq!(strong.status, StatusCode::CREATED, "{strong:?}");
    let refused = call(
        &h,
        "PATCH",
        "/roles/treasurer",
        &alan.access,
        Some(json!({ "grants": [] })),
    )
    .await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    let refused = call(&h, "DELETE", "/roles/treasurer", &alan.access, None).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    let refused = call(
        &h,
        "POST",
        "/invitations",
        &alan.access,
        Some(json!({ "email": "t@acme.test", "role": "treasurer" })),
    )
    .await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    let refused = call(
        &h,
        "PATCH",
        &format!("/members/{}", vic.id),
        &alan.access,
        Some(json!({ "role": "treasurer" })),
    )
    .await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    let refused = call(
        &h,
        "POST",
        "/api-keys",
        &alan.access,
        Some(json!({ "name": "k", "role": "treasurer" })),
    )
    .await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "forbidden");

    // Grants the app does not have, or own rows where there is no owner.
    let refused = define(
        &h,
        &ada,
        json!({ "name": "odd", "grants": ["deals.fly", "projects.write:own", "deals.assign:own"] }),
    )
    .await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let fields: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["grants[0]", "grants[1]", "grants[2]"], "{refused:?}");
    let listed = role_names(&h, &ada).await;
    assert!(!listed.iter().any(|(n, _)| n == "boss" || n == "odd"), "{listed:?}");
}

async fn system_roles_and_held_roles_stay(h: Harness) {
    let ada = owner(&h, "acme").await;
    for (method, body) in [("PATCH", Some(json!({ "name": "boss" }))), ("DELETE", None)] {
        let refused = call(&h, method, "/roles/admin", &ada.access, body).await;
        assert_problem(&refused, StatusCode::CONFLICT, "system-role");
    }
    let refused = define(&h, &ada, json!({ "name": "admin" })).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    // A name no role may have is no role (a NUL is refused by PostgreSQL).
    for path in ["/roles/a%00b", "/roles/Sales"] {
        assert_eq!(
            call(&h, "GET", path, &ada.access, None).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&h, "DELETE", path, &ada.access, None).await.status,
            StatusCode::NOT_FOUND
        );
    }
    for bad in ["Sales", "a b", "custom:x", ""] {
        let refused = define(&h, &ada, json!({ "name": bad })).await;
        assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    }
    let created = define(&h, &ada, json!({ "name": "sales", "inherits": "viewer" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let taken = define(&h, &ada, json!({ "name": "sales" })).await;
    assert_problem(&taken, StatusCode::CONFLICT, "conflict");
    define(&h, &ada, json!({ "name": "spare" })).await;
    let taken = call(
        &h,
        "PATCH",
        "/roles/spare",
        &ada.access,
        Some(json!({ "name": "sales" })),
    )
    .await;
    assert_problem(&taken, StatusCode::CONFLICT, "conflict");

    // Held by a member: not deleted, until the member has another role.
    let bob = join(&h, &ada, "bob@acme.test", "sales").await;
    let refused = call(&h, "DELETE", "/roles/sales", &ada.access, None).await;
    assert_problem(&refused, StatusCode::CONFLICT, "role-in-use");
    assert!(
        refused.body["detail"].as_str().unwrap().contains("1 active member"),
        "{refused:?}"
    );
    let moved = call(
        &h,
        "PATCH",
        &format!("/members/{}", bob.id),
        &ada.access,
        Some(json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{moved:?}");
    // A pending invitation holds it too.
    let invited = call(
        &h,
        "POST",
        "/invitations",
        &ada.access,
        Some(json!({ "email": "cy@acme.test", "role": "sales" })),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let refused = call(&h, "DELETE", "/roles/sales", &ada.access, None).await;
    assert_problem(&refused, StatusCode::CONFLICT, "role-in-use");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("1 pending invitation"),
        "{refused:?}"
    );
    let deleted = call(&h, "DELETE", "/roles/spare", &ada.access, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
    assert_eq!(
        call(&h, "GET", "/roles/spare", &ada.access, None).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn custom_roles_stay_in_their_tenant(h: Harness) {
    let ada = owner(&h, "acme").await;
    let created = define(&h, &ada, json!({ "name": "sales", "inherits": "viewer" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let zed = owner(&h, "zeta").await;
    let in_zeta = async |method: &str, path: &str, body: Option<Value>| {
        h.call(method, path, Some("zeta"), Some(&zed.access), body).await
    };
    assert_eq!(in_zeta("GET", "/roles/sales", None).await.status, StatusCode::NOT_FOUND);
    let listed = in_zeta("GET", "/roles", None).await;
    assert!(
        !listed.body.as_array().unwrap().iter().any(|r| r["name"] == "sales"),
        "{listed:?}"
    );
    let refused = in_zeta(
        "POST",
        "/invitations",
        Some(json!({ "email": "x@zeta.test", "role": "sales" })),
    )
    .await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(
        in_zeta("PATCH", "/roles/sales", Some(json!({ "grants": [] })))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The same name is free in another tenant.
    let own = in_zeta("POST", "/roles", Some(json!({ "name": "sales" }))).await;
    assert_eq!(own.status, StatusCode::CREATED, "{own:?}");
    let acme = call(&h, "GET", "/roles/sales", &ada.access, None).await;
    assert_eq!(acme.body["inherits"], "viewer", "acme's role untouched: {acme:?}");
}

async fn an_api_key_with_a_custom_role_follows_it(h: Harness) {
    let ada = owner(&h, "acme").await;
    define(
        &h,
        &ada,
        json!({ "name": "bot", "grants": ["projects.read", "projects.write"] }),
    )
    .await;
    let created = call(
        &h,
        "POST",
        "/api-keys",
        &ada.access,
        Some(json!({ "name": "ci", "role": "bot" })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["role"], "bot");
    let key = Member {
        id: String::new(),
        access: created.str("key"),
    };
    assert_eq!(note(&h, &key).await, StatusCode::CREATED);
    let changed = call(
        &h,
        "PATCH",
        "/roles/bot",
        &ada.access,
        Some(json!({ "grants": ["projects.read"] })),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(
        note(&h, &key).await,
        StatusCode::FORBIDDEN,
        "the key lost the write with its role"
    );
    let listed = call(&h, "GET", "/api-keys", &ada.access, None).await;
    assert_eq!(listed.body[0]["role"], "bot", "{listed:?}");
    let refused = call(&h, "DELETE", "/roles/bot", &ada.access, None).await;
    assert_problem(&refused, StatusCode::CONFLICT, "role-in-use");
    let id = created.str("id");
    let revoked = call(&h, "DELETE", &format!("/api-keys/{id}"), &ada.access, None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:?}");
    let deleted = call(&h, "DELETE", "/roles/bot", &ada.access, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
}

async fn an_invitation_grants_only_what_its_sender_may_still_grant(h: Harness) {
    let ada = owner(&h, "acme").await;
    h.set_plan("acme", "pro").await; // no members quota
    let lead = json!({ "name": "lead", "inherits": "viewer", "grants": ["members.manage", "projects.write"] });
    assert_eq!(define(&h, &ada, lead).await.status, StatusCode::CREATED);
    let writer = json!({ "name": "writer", "grants": ["projects.write"] });
    assert_eq!(define(&h, &ada, writer).await.status, StatusCode::CREATED);
    let bob = join(&h, &ada, "bob@acme.test", "lead").await;
    let invited = call(
        &h,
        "POST",
        "/invitations",
        &bob.access,
        Some(json!({ "email": "cy@acme.test", "role": "writer" })),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    // Bob's role loses the write: his invitation cannot give it any more.
    let narrowed = call(
        &h,
        "PATCH",
        "/roles/lead",
        &ada.access,
        Some(json!({ "grants": ["members.manage"] })),
    )
    .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{narrowed:?}");
    let body = json!({ "token": invited.str("token"), "password": PW });
    let refused = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await;
    assert_problem(&refused, StatusCode::GONE, "gone");
    let login = h.login("acme", "cy@acme.test", PW).await;
    assert_eq!(
        login.status,
        StatusCode::UNAUTHORIZED,
        "no account, no membership: {login:?}"
    );
}
