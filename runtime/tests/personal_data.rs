//! One person's personal data erased on their request (`DELETE /me`),
//! tried to break on both dialects: no email or password hash of theirs
//! is left anywhere the platform keeps accounts, mail or invitations,
//! every credential of theirs stops, what referenced them still does (to
//! a pseudonym), each tenant's audit log says so, and a tenant's only
//! owner is refused before anything changes.

#[macro_use]
mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Harness, Reply};

const PW: &str = "correct horse battery";

on_both_backends!(
    a_persons_erasure_leaves_no_email_or_password_hash,
    a_tenants_only_owner_is_not_erased,
);

struct Owner {
    access: String,
}

async fn owner(h: &Harness, slug: &str, email: &str) -> Owner {
    let reply = h.signup(slug, email, PW).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    h.set_plan(slug, "pro").await;
    Owner {
        access: reply.str("access_token"),
    }
}

async fn ok(reply: Reply, status: StatusCode) -> Value {
    assert_eq!(reply.status, status, "{reply:?}");
    reply.body
}

/// `slug`'s owner invites `email` as `role`, who accepts; their access
/// token.
async fn join(h: &Harness, slug: &str, by: &Owner, email: &str, role: &str) -> String {
    let invite = ok(
        h.call(
            "POST",
            "/invitations",
            Some(slug),
            Some(&by.access),
            Some(json!({ "email": email, "role": role })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let joined = ok(
        h.call(
            "POST",
            "/invitations/accept",
            Some(slug),
            None,
            Some(json!({ "token": invite["token"], "password": PW, "email": email })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    joined["access_token"].as_str().unwrap().to_owned()
}

async fn erase_me(h: &Harness, slug: &str, token: &str, password: &str) -> Reply {
    h.call(
        "DELETE",
        "/me",
        Some(slug),
        Some(token),
        Some(json!({ "password": password })),
    )
    .await
}

async fn a_persons_erasure_leaves_no_email_or_password_hash(h: Harness) {
    let acme = owner(&h, "acme", "olga@example.com").await;
    let globex = owner(&h, "globex", "gus@example.com").await;
    let initech = owner(&h, "initech", "ida@example.com").await;
    let ann = join(&h, "acme", &acme, "ann@example.com", "admin").await;
    let ann_globex = join(&h, "globex", &globex, "ann@example.com", "viewer").await;
    // A deal Ann owns, a key she made, an invitation to her waiting elsewhere.
    let deal = ok(
        h.call(
            "POST",
            "/deals",
            Some("acme"),
            Some(&ann),
            Some(json!({ "title": "Ann's deal" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let key = ok(
        h.call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&ann),
            Some(json!({ "name": "ann's", "role": "admin" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let key = key["key"].as_str().unwrap().to_owned();
    ok(
        h.call(
            "POST",
            "/invitations",
            Some("initech"),
            Some(&initech.access),
            Some(json!({ "email": "ANN@example.com", "role": "viewer" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let me = ok(
        h.call("GET", "/me", Some("acme"), Some(&ann), None).await,
        StatusCode::OK,
    )
    .await;
    let ann_id = me["user_id"].as_str().unwrap().to_owned();

    let wrong = erase_me(&h, "acme", &ann, "not my password").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{wrong:?}");
    assert_eq!(erase_me(&h, "acme", &key, PW).await.status, StatusCode::FORBIDDEN);
    let erased = erase_me(&h, "acme", &ann, PW).await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{erased:?}");

    // No email or hash of Ann's anywhere the platform keeps accounts.
    for table in [
        "users",
        "invitations",
        "rookery_mail",
        "audit_log",
        "rookery_platform_audit",
        "memberships",
    ] {
        for row in h.rows_as_text(table).await {
            assert!(!row.to_lowercase().contains("ann@"), "{table}: {row}");
        }
    }
    let account: Vec<String> = h
        .rows_as_text("users")
        .await
        .into_iter()
        .filter(|r| r.contains(&ann_id))
        .collect();
    assert_eq!(account.len(), 1, "the id stays: {account:?}");
    let account: Value = serde_json::from_str(&account[0]).unwrap();
    assert_eq!(account["password_hash"], Value::Null, "{account}");
    assert!(
        account["email"].as_str().unwrap().ends_with("@erased.invalid"),
        "{account}"
    );
    assert!(!account["erased_at"].is_null(), "{account}");
    // Every credential stops: sign-in, access tokens in both tenants, the key.
    assert_ne!(h.login("acme", "ann@example.com", PW).await.status, StatusCode::OK);
    assert_eq!(
        h.call("GET", "/me", Some("acme"), Some(&ann), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call("GET", "/me", Some("globex"), Some(&ann_globex), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call("GET", "/deals", Some("acme"), Some(&key), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // What referenced her still does: her deal, and her former memberships.
    let kept = ok(
        h.call(
            "GET",
            &format!("/deals/{}", deal["id"].as_str().unwrap()),
            Some("acme"),
            Some(&acme.access),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kept["owner"], json!(ann_id));
    let former = ok(
        h.call("GET", "/members?status=former", Some("acme"), Some(&acme.access), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(former[0]["user_id"], json!(ann_id), "{former}");
    let erased_rows: Vec<(String, String)> = h
        .audit_rows()
        .await
        .into_iter()
        .filter(|(action, _)| action == "member.erased")
        .collect();
    assert_eq!(erased_rows.len(), 2, "audited in acme and globex: {erased_rows:?}");
    // The address is free again: a new invitation makes a new account.
    let again = join(&h, "acme", &acme, "ann@example.com", "viewer").await;
    let me = ok(
        h.call("GET", "/me", Some("acme"), Some(&again), None).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        !me.to_string().contains(&ann_id),
        "a new account, not the erased one: {me}"
    );
}

async fn a_tenants_only_owner_is_not_erased(h: Harness) {
    let acme = owner(&h, "acme", "olga@example.com").await;
    let ann = join(&h, "acme", &acme, "ann@example.com", "admin").await;
    let refused = erase_me(&h, "acme", &acme.access, PW).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert_eq!(
        refused.body["type"], "https://rookery.dev/problems/last-owner",
        "{refused:?}"
    );
    assert_eq!(
        h.count("SELECT count(*) FROM users WHERE email = 'olga@example.com' AND password_hash IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        h.count("SELECT count(*) FROM memberships WHERE status = 'active'")
            .await,
        2,
        "nothing changed"
    );
    // Once someone else owns the tenant, she may go.
    let me = ok(
        h.call("GET", "/me", Some("acme"), Some(&ann), None).await,
        StatusCode::OK,
    )
    .await;
    let ann_id = me["user_id"].as_str().unwrap().to_owned();
    ok(
        h.call(
            "POST",
            "/tenant/transfer",
            Some("acme"),
            Some(&acme.access),
            Some(json!({ "to": ann_id })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let login = ok(h.login("acme", "olga@example.com", PW).await, StatusCode::OK).await;
    let olga = login["access_token"].as_str().unwrap();
    let erased = erase_me(&h, "acme", olga, PW).await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{erased:?}");
    assert_eq!(
        h.count("SELECT count(*) FROM users WHERE email = 'olga@example.com'")
            .await,
        0
    );
}
