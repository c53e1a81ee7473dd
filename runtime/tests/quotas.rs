//! Plan quotas on both dialects: the rate quota `api_calls` (`metered`: 5
//! a day, reserved one by one; `metered_big`: 200 a day, reserved in
//! blocks) enforced at exactly its limit with its headers, never passed by
//! concurrent calls of one instance or of two, kept across restarts, fresh
//! in a new window, changed with the plan; `GET /usage`; and count quotas
//! under concurrent creates.

#[macro_use]
mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use support::pair::{Pair, redis_url, run_pair};
use support::{BASIC_DEALS, Backend, FREE_MEMBERS, Harness, METERED_BIG_CALLS, METERED_CALLS, RawReply};

const PW: &str = "correct horse battery";
const EXHAUSTED: &str = "https://rookery.dev/problems/quota-exhausted";

on_both_backends!(
    a_rate_quota_allows_its_limit_and_refuses_the_next_call,
    only_the_tenants_admitted_api_calls_count,
    concurrent_calls_never_pass_the_limit,
    the_count_survives_a_restart,
    a_new_window_starts_fresh,
    a_plan_change_applies_within_the_window,
    usage_shows_count_quotas,
    concurrent_creates_never_pass_a_count_quota,
);

mod pair {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_two_instances_never_pass_the_limit_together() {
        run_pair(Backend::Sqlite, &redis_url(), |_| {}, two_instances).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_two_instances_never_pass_the_limit_together() {
        run_pair(Backend::Postgres, &redis_url(), |_| {}, two_instances).await;
    }
}

/// `GET path` under the API prefix as tenant `slug` with `token`, with
/// its headers.
async fn get(h: &Harness, path: &str, slug: &str, token: &str) -> RawReply {
    let request = Request::get(format!("/api/v1{path}"))
        .header("x-tenant", slug)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    h.send(request).await
}

fn header<'r>(reply: &'r RawReply, name: &str) -> &'r str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} in {reply:?}"))
}

/// A tenant `slug` on `plan`: its owner's access token.
async fn tenant_on(h: &Harness, slug: &str, plan: &str) -> String {
    let token = h
        .signup(slug, &format!("owner@{slug}.test"), PW)
        .await
        .str("access_token");
    h.set_plan(slug, plan).await;
    token
}

/// The quota `name` in the tenant's `GET /usage`.
async fn usage_of(h: &Harness, slug: &str, token: &str, name: &str) -> Value {
    let reply = get(h, "/usage", slug, token).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let body = reply.json();
    body["quotas"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no quota {name} in {body}"))
}

fn used(quota: &Value) -> u64 {
    quota["used"].as_u64().unwrap_or_else(|| panic!("no used in {quota}"))
}

/// Checks a 429 of the `api_calls` quota of `limit` a day.
fn assert_exhausted(reply: &RawReply, limit: u64) {
    reply.assert_problem(StatusCode::TOO_MANY_REQUESTS);
    let body = reply.json();
    assert_eq!(body["type"], EXHAUSTED, "{body}");
    assert_eq!(body["quota"], "api_calls", "{body}");
    assert_eq!(body["limit"], limit, "{body}");
    assert_eq!(body["period"], "day", "{body}");
    let start: rookery::chrono::DateTime<rookery::chrono::Utc> = body["window_start"]
        .as_str()
        .expect("window_start")
        .parse()
        .expect("a time");
    let reset: rookery::chrono::DateTime<rookery::chrono::Utc> =
        body["resets_at"].as_str().expect("resets_at").parse().expect("a time");
    assert_eq!(reset - start, rookery::chrono::TimeDelta::days(1), "{body}");
    assert_eq!(
        start,
        start.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
        "a UTC day"
    );
    assert_eq!(
        header(reply, "ratelimit-policy"),
        format!("\"api_calls\";q={limit};w=86400")
    );
    let retry: u64 = header(reply, "retry-after").parse().expect("seconds");
    assert!((1..=86_400).contains(&retry), "{reply:?}");
    assert_eq!(header(reply, "ratelimit"), format!("\"api_calls\";r=0;t={retry}"));
}

async fn a_rate_quota_allows_its_limit_and_refuses_the_next_call(h: Harness) {
    let token = tenant_on(&h, "acme", "metered").await;
    for n in 0..METERED_CALLS {
        let reply = get(&h, "/me", "acme", &token).await;
        assert_eq!(reply.status, StatusCode::OK, "call {n}: {reply:?}");
    }
    let refused = get(&h, "/me", "acme", &token).await;
    assert_exhausted(&refused, METERED_CALLS);
    // Every API route, not only the one that used it up.
    assert_exhausted(&get(&h, "/members", "acme", &token).await, METERED_CALLS);
    // `/usage` still answers, and says so.
    let quota = usage_of(&h, "acme", &token, "api_calls").await;
    assert_eq!(quota["kind"], "rate");
    assert_eq!(
        (used(&quota), quota["limit"].as_u64()),
        (METERED_CALLS, Some(METERED_CALLS))
    );
    assert_eq!(quota["period"], "day");
    assert_eq!(quota["resets_at"], refused.json()["resets_at"]);
    // Another tenant on the same plan has its own count.
    let other = tenant_on(&h, "globex", "metered").await;
    assert_eq!(get(&h, "/me", "globex", &other).await.status, StatusCode::OK);
    assert_eq!(used(&usage_of(&h, "globex", &other, "api_calls").await), 1);
}

/// Health, the document, sign-in and refused credentials cost the tenant
/// nothing; `/usage` neither.
async fn only_the_tenants_admitted_api_calls_count(h: Harness) {
    let token = tenant_on(&h, "acme", "metered").await;
    for path in ["/healthz", "/openapi.json"] {
        let reply = h.send(Request::get(path).body(Body::empty()).expect("request")).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    let login = h.login("acme", "owner@acme.test", PW).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    assert_eq!(
        get(&h, "/me", "acme", "not-a-token").await.status,
        StatusCode::UNAUTHORIZED
    );
    let other = tenant_on(&h, "globex", "metered").await;
    // A token of another tenant, naming this one: refused, counted nowhere.
    assert_eq!(get(&h, "/me", "acme", &other).await.status, StatusCode::FORBIDDEN);
    for _ in 0..3 {
        usage_of(&h, "acme", &token, "api_calls").await;
    }
    assert_eq!(used(&usage_of(&h, "acme", &token, "api_calls").await), 0);
    assert_eq!(used(&usage_of(&h, "globex", &other, "api_calls").await), 0);
    // A request its handler refuses still counts: it was admitted.
    assert_eq!(
        get(&h, "/deals", "acme", &token).await.status,
        StatusCode::FORBIDDEN,
        "metered has no crm"
    );
    assert_eq!(used(&usage_of(&h, "acme", &token, "api_calls").await), 1);
}

/// 300 calls at once against 200: exactly 200 pass, and the window's count
/// is 200.
async fn concurrent_calls_never_pass_the_limit(h: Harness) {
    let token = tenant_on(&h, "acme", "metered_big").await;
    let h = Arc::new(h);
    let calls: Vec<_> = (0..300)
        .map(|_| {
            let (h, token) = (h.clone(), token.clone());
            tokio::spawn(async move { get(&h, "/me", "acme", &token).await.status })
        })
        .collect();
    let mut passed = 0;
    for call in calls {
        match call.await.expect("call") {
            StatusCode::OK => passed += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(passed, METERED_BIG_CALLS);
    assert_eq!(
        used(&usage_of(&h, "acme", &token, "api_calls").await),
        METERED_BIG_CALLS
    );
    assert_exhausted(&get(&h, "/me", "acme", &token).await, METERED_BIG_CALLS);
}

/// Two instances on one database: together they never pass the limit, and
/// once both gave back what they did not spend, the count is exactly the
/// calls they served.
async fn two_instances(pair: Pair) {
    let tenant = pair.tenant("acme", "metered_big").await;
    let (a, b) = (Arc::new(pair.a), Arc::new(pair.b));
    let calls: Vec<_> = (0..300)
        .map(|n| {
            let h = if n % 2 == 0 { a.clone() } else { b.clone() };
            let token = tenant.owner_token.clone();
            tokio::spawn(async move { get(&h, "/me", "acme", &token).await.status })
        })
        .collect();
    let mut passed = 0;
    for call in calls {
        match call.await.expect("call") {
            StatusCode::OK => passed += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!(passed <= METERED_BIG_CALLS, "{passed} calls passed");
    // Each instance holds at most one block of 6 (200 / 32) unspent.
    assert!(passed + 12 >= METERED_BIG_CALLS, "{passed} calls passed");
    a.state.release_quotas().await.expect("give back");
    b.state.release_quotas().await.expect("give back");
    let token = &tenant.owner_token;
    assert_eq!(used(&usage_of(&a, "acme", token, "api_calls").await), passed);
    assert_eq!(used(&usage_of(&b, "acme", token, "api_calls").await), passed);
}

async fn a_new_window_starts_fresh(h: Harness) {
    let token = tenant_on(&h, "acme", "metered").await;
    for _ in 0..METERED_CALLS {
        assert_eq!(get(&h, "/me", "acme", &token).await.status, StatusCode::OK);
    }
    assert_exhausted(&get(&h, "/me", "acme", &token).await, METERED_CALLS);
    let before = usage_of(&h, "acme", &token, "api_calls").await;
    h.state.test_shift_quota_clock(86_400);
    assert_eq!(get(&h, "/me", "acme", &token).await.status, StatusCode::OK, "a new day");
    let after = usage_of(&h, "acme", &token, "api_calls").await;
    assert_eq!(used(&after), 1);
    assert_eq!(after["window_start"], before["resets_at"]);
}

async fn the_count_survives_a_restart(h: Harness) {
    let token = tenant_on(&h, "acme", "metered_big").await;
    for _ in 0..10 {
        assert_eq!(get(&h, "/me", "acme", &token).await.status, StatusCode::OK);
    }
    // A graceful stop gives back the unspent part of the block: exact.
    h.state.release_quotas().await.expect("give back");
    let h = h.restarted().await;
    assert_eq!(used(&usage_of(&h, "acme", &token, "api_calls").await), 10);
    for _ in 0..20 {
        assert_eq!(get(&h, "/me", "acme", &token).await.status, StatusCode::OK);
    }
    // A crash keeps the block's unspent calls counted: never fewer.
    let h = h.restarted().await;
    let counted = used(&usage_of(&h, "acme", &token, "api_calls").await);
    assert!((30..=30 + 6).contains(&counted), "{counted}");
    let mut passed = counted;
    while get(&h, "/me", "acme", &token).await.status == StatusCode::OK {
        passed += 1;
        assert!(passed <= METERED_BIG_CALLS, "passed the limit");
    }
    assert_eq!(passed, METERED_BIG_CALLS);
    // Used up, it stays used up after a restart.
    let h = h.restarted().await;
    assert_exhausted(&get(&h, "/me", "acme", &token).await, METERED_BIG_CALLS);
    assert_eq!(
        used(&usage_of(&h, "acme", &token, "api_calls").await),
        METERED_BIG_CALLS
    );
}

/// An upgrade lifts the refusal at once and keeps the window's count; a
/// downgrade below it refuses the next call.
async fn a_plan_change_applies_within_the_window(h: Harness) {
    let token = tenant_on(&h, "acme", "metered").await;
    for _ in 0..METERED_CALLS {
        assert_eq!(get(&h, "/me", "acme", &token).await.status, StatusCode::OK);
    }
    assert_exhausted(&get(&h, "/me", "acme", &token).await, METERED_CALLS);
    h.set_plan("acme", "metered_big").await;
    assert_eq!(get(&h, "/me", "acme", &token).await.status, StatusCode::OK);
    let quota = usage_of(&h, "acme", &token, "api_calls").await;
    assert_eq!(
        (used(&quota), quota["limit"].as_u64()),
        (METERED_CALLS + 1, Some(METERED_BIG_CALLS))
    );
    h.set_plan("acme", "metered").await;
    assert_exhausted(&get(&h, "/me", "acme", &token).await, METERED_CALLS);
    let quota = usage_of(&h, "acme", &token, "api_calls").await;
    assert!(used(&quota) > METERED_CALLS, "{quota}");
}

async fn usage_shows_count_quotas(h: Harness) {
    let token = tenant_on(&h, "acme", "free").await;
    let reply = get(&h, "/usage", "acme", &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(
        reply.json(),
        json!({"plan": "free", "quotas": [{"name": "members", "kind": "count", "used": 1, "limit": FREE_MEMBERS}]})
    );
    h.set_plan("acme", "metered_big").await;
    for n in 0..2 {
        let made = h
            .call(
                "POST",
                "/deals",
                Some("acme"),
                Some(&token),
                Some(json!({ "title": format!("d{n}") })),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    }
    let deals = usage_of(&h, "acme", &token, "deals").await;
    assert_eq!(
        deals,
        json!({"name": "deals", "kind": "count", "used": 2, "limit": BASIC_DEALS})
    );
    // The two creates counted; the reads of `/usage` did not.
    assert_eq!(used(&usage_of(&h, "acme", &token, "api_calls").await), 2);
    // A member and an API key read it too (no permission needed).
    let key = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&token),
            Some(json!({"name": "ci", "role": "viewer"})),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    let quota = usage_of(&h, "acme", &key.str("key"), "deals").await;
    assert_eq!(used(&quota), 2);
}

/// 20 creates at once against a quota of 2 (`basic`'s deals): exactly 2.
async fn concurrent_creates_never_pass_a_count_quota(h: Harness) {
    let token = tenant_on(&h, "acme", "basic").await;
    let h = Arc::new(h);
    let creates: Vec<_> = (0..20)
        .map(|n| {
            let (h, token) = (h.clone(), token.clone());
            tokio::spawn(async move {
                let body = json!({ "title": format!("d{n}") });
                h.call("POST", "/deals", Some("acme"), Some(&token), Some(body)).await
            })
        })
        .collect();
    let mut made = 0;
    for create in creates {
        let reply = create.await.expect("create");
        match reply.status {
            StatusCode::CREATED => made += 1,
            StatusCode::FORBIDDEN => {
                assert_eq!(
                    reply.body["type"], "https://rookery.dev/problems/quota-exceeded",
                    "{reply:?}"
                );
            }
            other => panic!("unexpected {other}: {reply:?}"),
        }
    }
    assert_eq!(made, BASIC_DEALS);
    assert_eq!(
        h.count("SELECT COUNT(*) FROM deals").await,
        i64::try_from(BASIC_DEALS).expect("small")
    );
}
