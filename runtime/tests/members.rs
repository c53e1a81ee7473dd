//! The member lifecycle end to end, through the router, on SQLite and on
//! PostgreSQL (row-level security on, the serving role's least privilege):
//! role changes, removal, leaving, transfer, the owner invariant under
//! concurrency, and every credential of a removed member refused on the
//! very next request. Each test tries to break one property.

#[macro_use]
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rookery::config::Config;
use serde_json::{Value, json};
use support::{Harness, Reply};

const PW: &str = "correct horse battery";

on_both_backends!(
    configure = configure;
    a_role_change_revokes_and_is_audited,
    nobody_escalates_or_touches_someone_stronger,
    a_removed_member_loses_every_credential_at_once,
    a_former_member_comes_back_through_an_invitation,
    the_last_owner_cannot_leave_or_step_down,
    ownership_is_handed_over,
    two_owners_demoting_each_other_leave_one,
    api_keys_record_their_last_use_and_are_overseen,
    a_demoted_senders_invitations_grant_no_more_than_they_may,
);

fn configure(config: &mut Config) {
    config.trust_proxy = true;
    config.sign_in_rate = (10_000, 60);
}

/// One member of the tenant under test: id, email, tokens.
struct Member {
    id: String,
    email: String,
    access: String,
    refresh: String,
}

/// Signs up `slug`; its owner.
async fn owner(h: &Harness, slug: &str) -> Member {
    let email = format!("owner@{slug}.test");
    let reply = h.signup(slug, &email, PW).await;
    Member {
        id: reply.body["user"]["id"].as_str().expect("user id").to_owned(),
        email,
        access: reply.str("access_token"),
        refresh: reply.str("refresh_token"),
    }
}

/// `by` invites `email` as `role`; the token.
async fn invite(h: &Harness, by: &Member, email: &str, role: &str) -> String {
    let reply = call(
        h,
        "POST",
        "/invitations",
        &by.access,
        Some(json!({ "email": email, "role": role })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.str("token")
}

async fn accept(h: &Harness, token: &str) -> Reply {
    let body = json!({ "token": token, "password": PW });
    h.call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await
}

/// `by` invites `email` as `role` and the invitee accepts (a new account).
async fn join(h: &Harness, by: &Member, email: &str, role: &str) -> Member {
    let token = invite(h, by, email, role).await;
    let reply = accept(h, &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    Member {
        id: reply.body["user"]["id"].as_str().expect("user id").to_owned(),
        email: email.to_owned(),
        access: reply.str("access_token"),
        refresh: reply.str("refresh_token"),
    }
}

/// Signs `m` in again (their tokens were revoked).
async fn sign_in(h: &Harness, m: &mut Member) {
    let reply = h.login("acme", &m.email, PW).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    m.access = reply.str("access_token");
    m.refresh = reply.str("refresh_token");
}

/// `method path` on tenant acme as `bearer`.
async fn call(h: &Harness, method: &str, path: &str, bearer: &str, body: Option<Value>) -> Reply {
    h.call(method, path, Some("acme"), Some(bearer), body).await
}

async fn me(h: &Harness, bearer: &str) -> Reply {
    call(h, "GET", "/me", bearer, None).await
}

async fn refresh(h: &Harness, token: &str) -> StatusCode {
    let body = json!({ "refresh_token": token });
    h.call("POST", "/auth/refresh", Some("acme"), None, Some(body))
        .await
        .status
}

async fn set_role(h: &Harness, by: &Member, user: &Member, role: &str) -> Reply {
    let path = format!("/members/{}", user.id);
    call(h, "PATCH", &path, &by.access, Some(json!({ "role": role }))).await
}

async fn remove(h: &Harness, by: &Member, user: &str) -> Reply {
    call(h, "DELETE", &format!("/members/{user}"), &by.access, None).await
}

/// The emails of `GET /members` (with `query`), oldest first.
async fn emails(h: &Harness, by: &Member, query: &str) -> Vec<String> {
    let reply = call(h, "GET", &format!("/members{query}"), &by.access, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["email"].as_str().unwrap().to_owned())
        .collect()
}

/// The metadata of the audit rows of `action`, oldest first.
async fn audited(h: &Harness, action: &str) -> Vec<Value> {
    h.audit_rows()
        .await
        .into_iter()
        .filter(|(a, _)| a == action)
        .map(|(_, m)| serde_json::from_str(&m).expect("metadata"))
        .collect()
}

fn assert_problem(reply: &Reply, status: StatusCode, kind: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(
        reply.body["type"],
        format!("https://rookery.dev/problems/{kind}"),
        "{reply:?}"
    );
}

async fn a_role_change_revokes_and_is_audited(h: Harness) {
    let ada = owner(&h, "acme").await;
    let mut meg = join(&h, &ada, "meg@example.com", "member").await;
    let changed = set_role(&h, &ada, &meg, "admin").await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(
        (changed.body["from"].as_str(), changed.body["role"].as_str()),
        (Some("member"), Some("admin"))
    );
    // The very next request with the old token, and the old refresh token.
    assert_eq!(me(&h, &meg.access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&h, &meg.refresh).await, StatusCode::UNAUTHORIZED);
    sign_in(&h, &mut meg).await;
    assert_eq!(me(&h, &meg.access).await.body["role"], "admin");
    assert_eq!(
        audited(&h, "member.role_changed").await,
        [json!({ "from": "member", "to": "admin" })]
    );
    // The same role again changes nothing: no audit row, the tokens stay.
    assert_eq!(set_role(&h, &ada, &meg, "admin").await.status, StatusCode::OK);
    assert_eq!(me(&h, &meg.access).await.status, StatusCode::OK);
    assert_eq!(audited(&h, "member.role_changed").await.len(), 1);
    // Unknown roles are field errors; unknown members and other tenants' 404.
    assert_eq!(
        set_role(&h, &ada, &meg, "root").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let bob = owner(&h, "globex").await;
    let other = call(
        &h,
        "PATCH",
        &format!("/members/{}", bob.id),
        &ada.access,
        Some(json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{other:?}");
    let path = "/members/not-a-uuid";
    assert_eq!(
        call(&h, "PATCH", path, &ada.access, Some(json!({ "role": "viewer" })))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        me(&h, &bob.access).await.status,
        StatusCode::FORBIDDEN,
        "bob's token names globex"
    );
}

async fn nobody_escalates_or_touches_someone_stronger(h: Harness) {
    let ada = owner(&h, "acme").await;
    h.set_plan("acme", "pro").await;
    let mut alan = join(&h, &ada, "alan@example.com", "admin").await;
    let ann = join(&h, &ada, "ann@example.com", "admin").await;
    let meg = join(&h, &ada, "meg@example.com", "member").await;
    // An admin cannot give the owner role, not even to themselves.
    for target in [&meg, &alan] {
        let reply = set_role(&h, &alan, target, "owner").await;
        assert_problem(&reply, StatusCode::FORBIDDEN, "forbidden");
    }
    // Nor demote or remove the owner, who holds permissions they lack.
    assert_problem(
        &set_role(&h, &alan, &ada, "viewer").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(&remove(&h, &alan, &ada.id).await, StatusCode::FORBIDDEN, "forbidden");
    // A member lacks members.manage altogether.
    assert_problem(
        &set_role(&h, &meg, &meg, "admin").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(&remove(&h, &meg, &ann.id).await, StatusCode::FORBIDDEN, "forbidden");
    // An admin manages their equals and below.
    assert_eq!(set_role(&h, &alan, &meg, "viewer").await.status, StatusCode::OK);
    assert_eq!(set_role(&h, &alan, &ann, "member").await.status, StatusCode::OK);
    // Demoted, an admin's old token stops at once and the new one changes
    // nobody.
    assert_eq!(set_role(&h, &ada, &alan, "member").await.status, StatusCode::OK);
    let old = alan.access.clone();
    assert_problem(
        &set_role(&h, &alan, &ann, "viewer").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    sign_in(&h, &mut alan).await;
    assert_eq!(me(&h, &old).await.status, StatusCode::UNAUTHORIZED);
    assert_problem(
        &set_role(&h, &alan, &ann, "viewer").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // An API key acts with its own role, never above its creator's.
    let key = call(
        &h,
        "POST",
        "/api-keys",
        &ada.access,
        Some(json!({ "name": "ops", "role": "admin" })),
    )
    .await
    .str("key");
    assert_problem(
        &call(
            &h,
            "PATCH",
            &format!("/members/{}", ada.id),
            &key,
            Some(json!({ "role": "viewer" })),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let by_key = call(
        &h,
        "PATCH",
        &format!("/members/{}", meg.id),
        &key,
        Some(json!({ "role": "member" })),
    )
    .await;
    assert_eq!(by_key.status, StatusCode::OK, "{by_key:?}");
    let roles: Vec<(String, String)> = call(&h, "GET", "/members", &ada.access, None)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("owner@acme.test", "owner"),
        ("alan@example.com", "member"),
        ("ann@example.com", "member"),
        ("meg@example.com", "member"),
    ];
    assert_eq!(roles, expected.map(|(e, r)| (e.to_owned(), r.to_owned())));
}

async fn a_removed_member_loses_every_credential_at_once(h: Harness) {
    let ada = owner(&h, "acme").await;
    h.set_plan("acme", "pro").await;
    // Meg was invited twice; the second invitation is still pending when
    // she is removed.
    let second = invite(&h, &ada, "meg@example.com", "viewer").await;
    let meg = join(&h, &ada, "meg@example.com", "admin").await;
    let key = call(
        &h,
        "POST",
        "/api-keys",
        &meg.access,
        Some(json!({ "name": "ci", "role": "member" })),
    )
    .await
    .str("key");
    assert_eq!(me(&h, &key).await.status, StatusCode::OK);
    let sent = invite(&h, &meg, "vic@example.com", "viewer").await;
    let gadget = call(
        &h,
        "POST",
        "/gadgets",
        &ada.access,
        Some(json!({ "count": 1, "flag": true, "kind": "small", "owner": meg.id })),
    )
    .await;
    assert_eq!(gadget.status, StatusCode::CREATED, "{gadget:?}");

    assert_eq!(remove(&h, &ada, &meg.id).await.status, StatusCode::NO_CONTENT);
    // Every credential, on the very next request.
    assert_eq!(
        me(&h, &meg.access).await.status,
        StatusCode::UNAUTHORIZED,
        "access token"
    );
    assert_eq!(
        refresh(&h, &meg.refresh).await,
        StatusCode::UNAUTHORIZED,
        "refresh token"
    );
    assert_eq!(me(&h, &key).await.status, StatusCode::UNAUTHORIZED, "API key");
    assert_eq!(
        h.login("acme", &meg.email, PW).await.status,
        StatusCode::UNAUTHORIZED,
        "login"
    );
    assert_eq!(
        accept(&h, &sent).await.status,
        StatusCode::UNAUTHORIZED,
        "an invitation she sent"
    );
    assert_eq!(
        accept(&h, &second).await.status,
        StatusCode::UNAUTHORIZED,
        "an old invitation for her"
    );
    // Her key stays listed, revoked.
    let keys = call(&h, "GET", "/api-keys", &ada.access, None).await;
    assert!(keys.body[0]["revoked_at"].is_string(), "{keys:?}");
    // Her key is refused because she is a former member, not only because
    // it was revoked.
    h.exec(
        "UPDATE api_keys SET revoked_at = NULL",
        "UPDATE api_keys SET revoked_at = NULL",
    )
    .await;
    assert_eq!(
        me(&h, &key).await.status,
        StatusCode::UNAUTHORIZED,
        "a former creator's key"
    );

    // Kept as a former member; what names her still reads.
    assert_eq!(emails(&h, &ada, "").await, ["owner@acme.test"]);
    assert_eq!(emails(&h, &ada, "?status=active").await, ["owner@acme.test"]);
    let former = call(&h, "GET", "/members?status=former", &ada.access, None).await;
    let row = &former.body[0];
    assert_eq!(
        (row["email"].as_str(), row["status"].as_str(), row["role"].as_str()),
        (Some("meg@example.com"), Some("former"), Some("admin"))
    );
    assert_eq!(row["removed_by"], ada.id.as_str());
    assert!(row["removed_at"].is_string(), "{former:?}");
    assert_eq!(
        call(&h, "GET", "/members?status=gone", &ada.access, None).await.status,
        StatusCode::BAD_REQUEST
    );
    let path = format!("/gadgets/{}", gadget.str("id"));
    let read = call(&h, "GET", &path, &ada.access, None).await;
    assert_eq!(
        (read.status, read.body["owner"].as_str()),
        (StatusCode::OK, Some(meg.id.as_str()))
    );
    assert_eq!(h.count("SELECT COUNT(*) FROM memberships").await, 2);
    assert_eq!(
        h.count("SELECT COUNT(*) FROM invitations WHERE accepted_at IS NULL")
            .await,
        0
    );

    // Again: 204, nothing more. Nobody: 404.
    assert_eq!(remove(&h, &ada, &meg.id).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        remove(&h, &ada, &uuid::Uuid::now_v7().to_string()).await.status,
        StatusCode::NOT_FOUND
    );
    let audit = audited(&h, "member.removed").await;
    assert_eq!(
        audit,
        [json!({ "role": "admin", "api_keys_revoked": 1, "invitations_deleted": 2 })]
    );
}

async fn a_former_member_comes_back_through_an_invitation(h: Harness) {
    let ada = owner(&h, "acme").await;
    let meg = join(&h, &ada, "meg@example.com", "admin").await;
    assert_eq!(remove(&h, &ada, &meg.id).await.status, StatusCode::NO_CONTENT);
    // Not "already a member": she is invited again, and proves her
    // password (her account exists).
    let token = invite(&h, &ada, "meg@example.com", "viewer").await;
    let wrong = h
        .call(
            "POST",
            "/invitations/accept",
            Some("acme"),
            None,
            Some(json!({ "token": token, "password": "not her password" })),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
    let back = accept(&h, &token).await;
    assert_eq!(back.status, StatusCode::OK, "{back:?}");
    assert_eq!(
        (back.body["role"].as_str(), back.body["user"]["id"].as_str()),
        (Some("viewer"), Some(meg.id.as_str()))
    );
    assert_eq!(me(&h, &back.str("access_token")).await.body["role"], "viewer");
    assert_eq!(emails(&h, &ada, "").await, ["owner@acme.test", "meg@example.com"]);
    assert!(emails(&h, &ada, "?status=former").await.is_empty());
    let row = &call(&h, "GET", "/members", &ada.access, None).await.body[1];
    assert!(row["removed_at"].is_null() && row["removed_by"].is_null(), "{row}");
    assert_eq!(
        h.count("SELECT COUNT(*) FROM memberships").await,
        2,
        "the same row again"
    );
    assert_eq!(h.login("acme", "meg@example.com", PW).await.status, StatusCode::OK);
    // A former member does not count against the members quota (3).
    let vic = join(&h, &ada, "vic@example.com", "viewer").await;
    assert_eq!(remove(&h, &ada, &vic.id).await.status, StatusCode::NO_CONTENT);
    invite(&h, &ada, "val@example.com", "viewer").await;
}

async fn the_last_owner_cannot_leave_or_step_down(h: Harness) {
    let mut ada = owner(&h, "acme").await;
    let meg = join(&h, &ada, "meg@example.com", "member").await;
    let leave = call(&h, "POST", "/members/me/leave", &ada.access, None).await;
    assert_problem(&leave, StatusCode::CONFLICT, "last-owner");
    assert!(leave.body["detail"].as_str().unwrap().contains("`owner`"), "{leave:?}");
    assert_problem(
        &set_role(&h, &ada, &ada, "admin").await,
        StatusCode::CONFLICT,
        "last-owner",
    );
    assert_problem(&remove(&h, &ada, &ada.id).await, StatusCode::CONFLICT, "last-owner");
    assert_eq!(me(&h, &ada.access).await.body["role"], "owner", "nothing changed");

    // A member leaves: their token stops, they are former.
    assert_eq!(
        call(&h, "POST", "/members/me/leave", &meg.access, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(&h, &meg.access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&h, &meg.refresh).await, StatusCode::UNAUTHORIZED);
    assert_eq!(emails(&h, &ada, "?status=former").await, ["meg@example.com"]);
    let left = audited(&h, "member.left").await;
    assert_eq!(
        left,
        [json!({ "role": "member", "api_keys_revoked": 0, "invitations_deleted": 0 })]
    );

    // With a second owner, the first may step down, then leave is refused
    // to the second.
    let olga = join(&h, &ada, "olga@example.com", "owner").await;
    assert_eq!(set_role(&h, &ada, &ada, "admin").await.status, StatusCode::OK);
    sign_in(&h, &mut ada).await;
    assert_problem(
        &call(&h, "POST", "/members/me/leave", &olga.access, None).await,
        StatusCode::CONFLICT,
        "last-owner",
    );
    // An API key cannot leave for its creator.
    let key = call(
        &h,
        "POST",
        "/api-keys",
        &olga.access,
        Some(json!({ "name": "k", "role": "viewer" })),
    )
    .await
    .str("key");
    assert_eq!(
        call(&h, "POST", "/members/me/leave", &key, None).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn ownership_is_handed_over(h: Harness) {
    let mut ada = owner(&h, "acme").await;
    let mut meg = join(&h, &ada, "meg@example.com", "member").await;
    let alan = join(&h, &ada, "alan@example.com", "admin").await;
    let transfer = |by: String, to: Value| {
        let h = &h;
        async move { call(h, "POST", "/tenant/transfer", &by, Some(json!({ "to": to }))).await }
    };
    // Only the owner; only to another active member.
    assert_problem(
        &transfer(alan.access.clone(), json!(ada.id)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &transfer(alan.access.clone(), json!(meg.id)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    for to in [json!(ada.id), json!(uuid::Uuid::now_v7()), json!("nobody")] {
        assert_eq!(
            transfer(ada.access.clone(), to).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(remove(&h, &ada, &alan.id).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        transfer(ada.access.clone(), json!(alan.id)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a former member"
    );

    let done = transfer(ada.access.clone(), json!(meg.id)).await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    assert_eq!(
        done.body,
        json!({ "to": meg.id, "role": "owner", "your_role": "admin" })
    );
    for m in [&ada, &meg] {
        assert_eq!(
            me(&h, &m.access).await.status,
            StatusCode::UNAUTHORIZED,
            "{}: tokens of the old role",
            m.email
        );
    }
    sign_in(&h, &mut ada).await;
    sign_in(&h, &mut meg).await;
    assert_eq!(me(&h, &ada.access).await.body["role"], "admin");
    assert_eq!(me(&h, &meg.access).await.body["role"], "owner");
    let audit = audited(&h, "tenant.ownership_transferred").await;
    assert_eq!(
        audit,
        [json!({ "from": ada.id, "to": meg.id, "to_previous_role": "member", "from_role": "admin" })]
    );
    // The new owner is the last one now.
    assert_problem(
        &call(&h, "POST", "/members/me/leave", &meg.access, None).await,
        StatusCode::CONFLICT,
        "last-owner",
    );
    // An API key cannot hand the tenant over.
    let key = call(
        &h,
        "POST",
        "/api-keys",
        &meg.access,
        Some(json!({ "name": "k", "role": "owner" })),
    )
    .await
    .str("key");
    assert_eq!(transfer(key, json!(ada.id)).await.status, StatusCode::FORBIDDEN);
}

async fn two_owners_demoting_each_other_leave_one(h: Harness) {
    let mut ada = owner(&h, "acme").await;
    let mut olga = join(&h, &ada, "olga@example.com", "owner").await;
    for round in 0..20 {
        let (a, b) = tokio::join!(set_role(&h, &ada, &olga, "admin"), set_role(&h, &olga, &ada, "admin"));
        let owners = h
            .count("SELECT COUNT(*) FROM memberships WHERE role = 'owner' AND status = 'active'")
            .await;
        assert_eq!(owners, 1, "round {round}: {a:?} {b:?}");
        let mut statuses = [a.status, b.status];
        statuses.sort();
        // One wins; the other's token was revoked before it was checked
        // (401), or it finds itself demoted under the lock (403), or the
        // winner the last owner (409).
        assert_eq!(statuses[0], StatusCode::OK, "round {round}: {a:?} {b:?}");
        assert!(
            matches!(
                statuses[1],
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::CONFLICT
            ),
            "round {round}: {a:?} {b:?}"
        );
        // Both owners again, beside the app, and fresh tokens.
        h.exec(
            "UPDATE memberships SET role = 'owner'",
            "UPDATE memberships SET role = 'owner'",
        )
        .await;
        sign_in(&h, &mut ada).await;
        sign_in(&h, &mut olga).await;
    }
}

async fn api_keys_record_their_last_use_and_are_overseen(h: Harness) {
    let ada = owner(&h, "acme").await;
    let meg = join(&h, &ada, "meg@example.com", "member").await;
    let created = call(
        &h,
        "POST",
        "/api-keys",
        &meg.access,
        Some(json!({ "name": "ci", "role": "member" })),
    )
    .await;
    let key = created.str("key");
    let keys = call(&h, "GET", "/api-keys", &ada.access, None).await;
    assert_eq!(keys.body[0]["last_used_at"], Value::Null);
    assert_eq!(keys.body[0]["last_used_ip"], Value::Null);
    // The answer shows the instant as it was stored, to the microsecond.
    assert_eq!(
        keys.body[0]["created_at"], created.body["created_at"],
        "{}",
        created.body
    );
    let from = |ip: &str| {
        Request::get("/api/v1/me")
            .header("x-tenant", "acme")
            .header("authorization", format!("Bearer {key}"))
            .header("x-forwarded-for", format!("{ip}, 10.0.0.1"))
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(h.send(from("203.0.113.7")).await.status, StatusCode::OK);
    // The owner sees every key of the tenant, the member's too, and where
    // it was used from.
    let keys = call(&h, "GET", "/api-keys", &ada.access, None).await;
    assert_eq!(keys.body.as_array().unwrap().len(), 1);
    assert_eq!(keys.body[0]["created_by"], meg.id.as_str());
    assert_eq!(keys.body[0]["last_used_ip"], "203.0.113.7");
    assert!(keys.body[0]["last_used_at"].is_string(), "{keys:?}");
    // Another address is recorded at once.
    assert_eq!(h.send(from("2001:db8::1")).await.status, StatusCode::OK);
    let keys = call(&h, "GET", "/api-keys", &meg.access, None).await;
    assert_eq!(keys.body[0]["last_used_ip"], "2001:db8::1");
    // ... and the owner revokes it.
    let path = format!("/api-keys/{}", created.str("id"));
    assert_eq!(
        call(&h, "DELETE", &path, &ada.access, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(h.send(from("203.0.113.7")).await.status, StatusCode::UNAUTHORIZED);
}

async fn a_demoted_senders_invitations_grant_no_more_than_they_may(h: Harness) {
    let ada = owner(&h, "acme").await;
    h.set_plan("acme", "pro").await; // no members quota
    let meg = join(&h, &ada, "meg@example.com", "admin").await;
    let as_member = invite(&h, &meg, "mo@example.com", "member").await;
    let as_viewer = invite(&h, &meg, "vi@example.com", "viewer").await;
    // Meg becomes a viewer: she may no longer grant `member`.
    assert_eq!(set_role(&h, &ada, &meg, "viewer").await.status, StatusCode::OK);
    let refused = accept(&h, &as_member).await;
    assert_eq!(refused.status, StatusCode::GONE, "{refused:?}");
    assert_eq!(
        h.count("SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'mo@example.com'")
            .await,
        0,
        "nobody joined"
    );
    // What she still may grant, her invitation still grants.
    let joined = accept(&h, &as_viewer).await;
    assert_eq!(joined.status, StatusCode::OK, "{joined:?}");
    assert_eq!(joined.body["role"], "viewer");
}
