//! One person in several tenants, tried to break on both dialects: signing
//! in without naming a tenant, listing one's tenants, switching with a
//! token that holds for the new tenant only, and nothing of a tenant one
//! is not (or no longer) a member of.

#[macro_use]
mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Harness, Reply};

const PW: &str = "correct horse battery";

on_both_backends!(
    one_login_lists_every_tenant_and_a_switch_holds_for_one,
    nobody_switches_into_a_tenant_they_are_not_in,
    a_tenantless_login_fails_like_any_other,
);

/// Bob's globex invites Ada (who owns acme) as `role`; she accepts with
/// her password.
async fn join_globex(h: &Harness, bob: &str, role: &str) {
    let invited = h
        .call(
            "POST",
            "/invitations",
            Some("globex"),
            Some(bob),
            Some(json!({ "email": "ada@example.com", "role": role })),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let body = json!({ "token": invited.str("token"), "password": PW });
    let accepted = h
        .call("POST", "/invitations/accept", Some("globex"), None, Some(body))
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
}

async fn login_anywhere(h: &Harness, email: &str, password: &str) -> Reply {
    let body = json!({ "email": email, "password": password });
    h.call("POST", "/auth/login", None, None, Some(body)).await
}

fn slugs(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .expect("a list of tenants")
        .iter()
        .map(|t| {
            (
                t["slug"].as_str().unwrap().to_owned(),
                t["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Panics unless `reply` is a problem+json answer with `status`.
trait Problem {
    fn assert_problem(&self, status: StatusCode);
}

impl Problem for Reply {
    fn assert_problem(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["status"], status.as_u16(), "{self:?}");
    }
}

fn pair(slug: &str, role: &str) -> (String, String) {
    (slug.to_owned(), role.to_owned())
}

async fn me(h: &Harness, tenant: &str, token: &str) -> Reply {
    h.call("GET", "/me", Some(tenant), Some(token), None).await
}

async fn one_login_lists_every_tenant_and_a_switch_holds_for_one(h: Harness) {
    h.signup("acme", "ada@example.com", PW).await;
    let bob = h.signup("globex", "bob@example.com", PW).await.str("access_token");
    join_globex(&h, &bob, "member").await;
    // Bob's own third tenant, which Ada is no member of.
    h.signup("initech", "bob+i@example.com", PW).await;

    // No tenant named: Ada lands in the tenant she joined first.
    let signed_in = login_anywhere(&h, "Ada@Example.com ", PW).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{signed_in:?}");
    assert_eq!(signed_in.body["tenant"]["slug"], "acme");
    assert_eq!(
        slugs(&signed_in.body["tenants"]),
        [pair("acme", "owner"), pair("globex", "member")]
    );
    let acme = signed_in.str("access_token");
    assert_eq!(me(&h, "acme", &acme).await.body["role"], "owner");
    assert_eq!(
        me(&h, "globex", &acme).await.status,
        StatusCode::FORBIDDEN,
        "acme's token"
    );

    let mine = h.call("GET", "/me/tenants", Some("acme"), Some(&acme), None).await;
    assert_eq!(mine.status, StatusCode::OK, "{mine:?}");
    assert_eq!(slugs(&mine.body), [pair("acme", "owner"), pair("globex", "member")]);

    // Switch by slug (or id): a token for globex only.
    let switched = h
        .call(
            "POST",
            "/auth/switch",
            Some("acme"),
            Some(&acme),
            Some(json!({ "tenant": "globex" })),
        )
        .await;
    assert_eq!(switched.status, StatusCode::OK, "{switched:?}");
    assert_eq!(switched.body["tenant"]["role"], "member");
    let globex = switched.str("access_token");
    assert_eq!(me(&h, "globex", &globex).await.body["role"], "member");
    assert_eq!(me(&h, "acme", &globex).await.status, StatusCode::FORBIDDEN);
    // The acme token still holds; its refresh token too.
    assert_eq!(me(&h, "acme", &acme).await.status, StatusCode::OK);
    let refreshed = h
        .call(
            "POST",
            "/auth/refresh",
            Some("globex"),
            None,
            Some(json!({ "refresh_token": switched.str("refresh_token") })),
        )
        .await;
    assert_eq!(
        refreshed.status,
        StatusCode::OK,
        "globex's refresh token: {refreshed:?}"
    );
    let id = switched.body["tenant"]["id"].as_str().unwrap().to_owned();
    let by_id = h
        .call(
            "POST",
            "/auth/switch",
            Some("globex"),
            Some(&globex),
            Some(json!({ "tenant": id })),
        )
        .await;
    assert_eq!(by_id.status, StatusCode::OK, "{by_id:?}");

    // Removed from globex: gone from the list and the login, no switch.
    let ada_id = me(&h, "acme", &acme).await.str("user_id");
    let removed = h
        .call(
            "DELETE",
            &format!("/members/{ada_id}"),
            Some("globex"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{removed:?}");
    let mine = h.call("GET", "/me/tenants", Some("acme"), Some(&acme), None).await;
    assert_eq!(slugs(&mine.body), [pair("acme", "owner")]);
    assert_eq!(
        slugs(&login_anywhere(&h, "ada@example.com", PW).await.body["tenants"]),
        [pair("acme", "owner")]
    );
    let refused = h
        .call(
            "POST",
            "/auth/switch",
            Some("acme"),
            Some(&acme),
            Some(json!({ "tenant": "globex" })),
        )
        .await;
    refused.assert_problem(StatusCode::NOT_FOUND);
}

async fn nobody_switches_into_a_tenant_they_are_not_in(h: Harness) {
    let ada = h.signup("acme", "ada@example.com", PW).await.str("access_token");
    h.signup("globex", "bob@example.com", PW).await;
    let switch = |tenant: &str| {
        let body = json!({ "tenant": tenant });
        h.call("POST", "/auth/switch", Some("acme"), Some(&ada), Some(body))
    };
    // An existing tenant and a missing one answer alike.
    let existing = switch("globex").await;
    existing.assert_problem(StatusCode::NOT_FOUND);
    let missing = switch("nosuch").await;
    assert_eq!(existing.body, missing.body);
    switch(&uuid::Uuid::now_v7().to_string())
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    assert_eq!(switch("Not A Slug;").await.status, StatusCode::NOT_FOUND);
    // A token of acme used on globex, to switch or to list: refused.
    let listed = h.call("GET", "/me/tenants", Some("globex"), Some(&ada), None).await;
    listed.assert_problem(StatusCode::FORBIDDEN);
    // An API key acts for a tenant, not a person: no list, no switch.
    let key = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&ada),
            Some(json!({ "name": "ci", "role": "member" })),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    let key = key.str("key");
    let by_key = h.call("GET", "/me/tenants", Some("acme"), Some(&key), None).await;
    by_key.assert_problem(StatusCode::FORBIDDEN);
    let by_key = h
        .call(
            "POST",
            "/auth/switch",
            Some("acme"),
            Some(&key),
            Some(json!({ "tenant": "acme" })),
        )
        .await;
    by_key.assert_problem(StatusCode::FORBIDDEN);
}

async fn a_tenantless_login_fails_like_any_other(h: Harness) {
    h.signup("acme", "ada@example.com", PW).await;
    let wrong = login_anywhere(&h, "ada@example.com", "not the password").await;
    wrong.assert_problem(StatusCode::UNAUTHORIZED);
    let unknown = login_anywhere(&h, "nobody@example.com", PW).await;
    assert_eq!(unknown.body, wrong.body, "nobody learns which emails exist");
    assert!(wrong.body.get("access_token").is_none());
    // A request that names a tenant badly is not "no tenant".
    let garbled = h
        .call(
            "POST",
            "/auth/login",
            Some("Not A Slug;"),
            None,
            Some(json!({ "email": "ada@example.com", "password": PW })),
        )
        .await;
    assert!(garbled.status.is_client_error(), "{garbled:?}");
    assert!(garbled.body.get("access_token").is_none(), "{garbled:?}");
}
