//! Several instances of one app on one database and one Redis, as a team
//! runs Rookery on several machines: a tenant's rate limit and the sign-in
//! limits are shared, a change made on one instance (a revoked key, a
//! removed member, a new plan) holds on the next request to the other.
//! Each test has a Redis key prefix of its own (the outage is in
//! `redis_down.rs`).

mod support;

use axum::http::StatusCode;
use rookery::auth::invalidate::Invalidation;
use rookery::config::Config;
use support::pair::{Pair, counted, redis_url, run_pair};
use support::{Backend, Harness, RawReply};

/// A window that does not roll over while a test runs.
const FOREVER: u64 = 1_000_000_000;
const PW: &str = "correct horse battery staple";

fn five_per_window(config: &mut Config) {
    config.rate_limit_override = Some((5, FOREVER));
}

fn tight_sign_in(config: &mut Config) {
    config.sign_in_rate = (3, FOREVER);
    config.sign_in_account_rate = (1, FOREVER);
}

fn no_limit(_: &mut Config) {}

const OPERATOR: &str = "operator-token-operator-token-operator";

fn operated(config: &mut Config) {
    config.operator_token = Some(OPERATOR.as_bytes().to_vec());
}

async fn me(h: &Harness, tenant: &str, bearer: &str) -> RawReply {
    h.send_json("GET", "/me", tenant, Some(bearer), "").await
}

/// `r` of the `RateLimit` header: requests left in the window.
fn remaining(reply: &RawReply) -> u64 {
    let header = reply.headers.get("ratelimit").expect("RateLimit header");
    let text = header.to_str().unwrap();
    let r = text.split(';').find_map(|p| p.strip_prefix("r=")).expect("r=");
    r.parse().unwrap()
}

async fn a_tenants_budget_is_shared_and_other_tenants_are_unaffected(p: Pair) {
    let acme = p.tenant("acme", "free").await;
    let beta = p.tenant("beta", "free").await;
    let mut left = Vec::new();
    for h in [&p.a, &p.b, &p.a, &p.b, &p.a] {
        let reply = me(h, "acme", &acme.owner_token).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        left.push(remaining(&reply));
    }
    assert_eq!(left, [4, 3, 2, 1, 0], "one window for both instances");
    for h in [&p.a, &p.b] {
        let refused = me(h, "acme", &acme.member_token).await;
        refused.assert_problem(StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers.contains_key("retry-after"), "{refused:?}");
        let policy = refused.headers.get("ratelimit-policy").unwrap().to_str().unwrap();
        assert_eq!(policy, format!("\"tenant\";q=5;w={FOREVER}"));
    }
    let other = me(&p.b, "beta", &beta.owner_token).await;
    assert_eq!(other.status, StatusCode::OK, "{other:?}");
    assert_eq!(remaining(&other), 4, "another tenant has its own window");
    assert_eq!(counted(&redis_url(), &p.prefix, acme.id).await, 7);
}

async fn a_key_revoked_on_one_instance_is_refused_on_the_other_at_once(p: Pair) {
    let acme = p.tenant("acme", "free").await;
    let body = r#"{"name": "deploys", "role": "member"}"#;
    let created =
        p.a.send_json("POST", "/api-keys", "acme", Some(&acme.owner_token), body)
            .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let (key, id) = (
        created.json()["key"].as_str().unwrap().to_owned(),
        created.json()["id"].clone(),
    );
    assert_eq!(me(&p.b, "acme", &key).await.status, StatusCode::OK);
    let revoked =
        p.a.send_json(
            "DELETE",
            &format!("/api-keys/{}", id.as_str().unwrap()),
            "acme",
            Some(&acme.owner_token),
            "",
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:?}");
    me(&p.b, "acme", &key).await.assert_problem(StatusCode::UNAUTHORIZED);
    me(&p.a, "acme", &key).await.assert_problem(StatusCode::UNAUTHORIZED);
}

async fn a_member_removed_on_one_instance_is_refused_on_the_other_at_once(p: Pair) {
    let acme = p.tenant("acme", "free").await;
    let beta = p.tenant("beta", "free").await;
    for h in [&p.a, &p.b] {
        // Verified, so remembered, on both instances.
        assert_eq!(me(h, "acme", &acme.member_token).await.status, StatusCode::OK);
    }
    // The owner removes the member on instance A.
    let path = format!("/members/{}", acme.member);
    let removed =
        p.a.call("DELETE", &path, Some("acme"), Some(&acme.owner_token), None)
            .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{removed:?}");
    me(&p.b, "acme", &acme.member_token)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED);
    me(&p.a, "acme", &acme.member_token)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(&p.b, "acme", &acme.owner_token).await.status,
        StatusCode::OK,
        "another member"
    );
    assert_eq!(
        me(&p.b, "beta", &beta.member_token).await.status,
        StatusCode::OK,
        "another tenant"
    );
}

async fn a_plan_changed_on_one_instance_holds_on_the_other_at_once(p: Pair) {
    let acme = p.tenant("acme", "free").await;
    for h in [&p.a, &p.b] {
        assert_eq!(me(h, "acme", &acme.owner_token).await.json()["plan"], "free");
    }
    // Through the operator API of instance a; b hears of it through Redis.
    let request = axum::http::Request::builder()
        .method("PUT")
        .uri("/operator/tenants/acme/plan")
        .header("authorization", format!("Bearer {OPERATOR}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"plan": "pro"}"#))
        .unwrap();
    let changed = p.a.send(request).await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(me(&p.b, "acme", &acme.owner_token).await.json()["plan"], "pro");
    assert_eq!(me(&p.a, "acme", &acme.owner_token).await.json()["plan"], "pro");
}

async fn sign_in_limits_are_shared(p: Pair) {
    p.a.signup("acme", "ada@example.com", PW).await; // the address's first sign-in request
    let wrong = p.b.login("acme", "ada@example.com", "wrong").await; // second; the account's one failure
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
    let locked = p.a.login("acme", "ada@example.com", PW).await; // third: the account is locked everywhere
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{locked:?}");
    let address = p.b.login("acme", "bob@example.com", PW).await; // fourth from this address
    assert_eq!(address.status, StatusCode::TOO_MANY_REQUESTS, "{address:?}");
}

/// A custom role defined or changed on one instance holds on the other's
/// next request, and an API key holding it stays capped by its creator's
/// role there too (the other instance's facts were stale when the key's
/// request began).
async fn a_custom_role_changed_on_one_instance_holds_on_the_other_and_keys_stay_capped(p: Pair) {
    let acme = p.tenant("acme", "free").await;
    let owner = Some(acme.owner_token.as_str());
    // B knows acme's facts from before the role exists.
    assert_eq!(me(&p.b, "acme", &acme.owner_token).await.status, StatusCode::OK);
    let define = r#"{"name": "ops", "grants": ["projects.read"]}"#;
    let created = p.a.send_json("POST", "/roles", "acme", owner, define).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    // The member (no `projects.delete`) makes a key with it.
    let key =
        p.a.send_json(
            "POST",
            "/api-keys",
            "acme",
            Some(&acme.member_token),
            r#"{"name": "ops", "role": "ops"}"#,
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    let key = key.json()["key"].as_str().unwrap().to_owned();
    let note = r#"{"title": "n"}"#;
    assert_eq!(
        p.b.send_json("GET", "/notes", "acme", Some(&key), "").await.status,
        StatusCode::OK
    );
    assert_eq!(
        p.b.send_json("POST", "/notes", "acme", Some(&key), note).await.status,
        StatusCode::FORBIDDEN
    );
    // Widened past its creator on A: the key is refused on B at once.
    let widen = r#"{"grants": ["projects.read", "projects.write", "projects.delete"]}"#;
    let changed = p.a.send_json("PATCH", "/roles/ops", "acme", owner, widen).await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    for h in [&p.b, &p.a] {
        h.send_json("POST", "/notes", "acme", Some(&key), note)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED);
    }
    // Narrowed to what the creator holds: the key writes on B at once.
    let narrow = r#"{"grants": ["projects.read", "projects.write"]}"#;
    let changed = p.a.send_json("PATCH", "/roles/ops", "acme", owner, narrow).await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(
        p.b.send_json("POST", "/notes", "acme", Some(&key), note).await.status,
        StatusCode::CREATED
    );
}

macro_rules! on_both_backends {
    ($($configure:ident: $scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    crate::run_pair(crate::Backend::Sqlite, &crate::redis_url(), crate::$configure, crate::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    crate::run_pair(crate::Backend::Postgres, &crate::redis_url(), crate::$configure, crate::$scenario).await;
                }
            )*
        }
    };
}

on_both_backends! {
    five_per_window: a_tenants_budget_is_shared_and_other_tenants_are_unaffected,
    no_limit: a_key_revoked_on_one_instance_is_refused_on_the_other_at_once,
    no_limit: a_member_removed_on_one_instance_is_refused_on_the_other_at_once,
    operated: a_plan_changed_on_one_instance_holds_on_the_other_at_once,
    tight_sign_in: sign_in_limits_are_shared,
    no_limit: a_custom_role_changed_on_one_instance_holds_on_the_other_and_keys_stay_capped,
}

/// One instance without Redis: the same entry point refuses a removed
/// member's access token in process, remembered or not.
#[tokio::test]
async fn without_redis_a_removed_member_is_refused_in_process() {
    support::run(Backend::Sqlite, |h| async move {
        assert_eq!(h.state.test_redis_stats(), None);
        let token = h.signup("acme", "ada@example.com", PW).await.str("access_token");
        let other = h.signup("beta", "bob@example.com", PW).await.str("access_token");
        let me = h.call("GET", "/me", Some("acme"), Some(&token), None).await;
        let id = |key: &str| me.body[key].as_str().unwrap().parse::<uuid::Uuid>().unwrap();
        let change = Invalidation::Member {
            tenant: rookery::TenantId(id("tenant_id")),
            user: rookery::UserId(id("user_id")),
        };
        h.state.test_invalidate(change).await;
        let refused = h.call("GET", "/me", Some("acme"), Some(&token), None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{refused:?}");
        let unaffected = h.call("GET", "/me", Some("beta"), Some(&other), None).await;
        assert_eq!(unaffected.status, StatusCode::OK, "{unaffected:?}");
    })
    .await;
}
