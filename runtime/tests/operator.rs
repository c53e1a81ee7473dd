//! The platform operator's API (`/operator`), tried to break on both
//! dialects: it is apart from every tenant's authentication, a plan it sets
//! holds on the tenant's very next request (no cache wait, nothing called
//! by the test), and every change is audited in the tenant's log and the
//! platform's. Several instances: `instances.rs`.

#[macro_use]
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rookery::config::Config;
use serde_json::{Value, json};
use support::{Harness, RawReply};

const PW: &str = "correct horse battery";
const TOKEN: &str = "operator-token-operator-token-operator";

on_both_backends!(
    configure = configure;
    only_the_operators_token_opens_it,
    a_plan_change_holds_on_the_next_request_and_is_audited,
    bad_requests_change_nothing,
    a_feature_override_beats_the_plan_until_it_is_cleared,
    the_operator_asks_for_and_cancels_a_deletion,
);

fn configure(config: &mut Config) {
    config.operator_token = Some(TOKEN.as_bytes().to_vec());
}

async fn operator(h: &Harness, method: &str, path: &str, bearer: Option<&str>, body: Option<Value>) -> RawReply {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    h.send(request).await
}

async fn set_plan(h: &Harness, slug: &str, plan: &str) -> RawReply {
    let path = format!("/operator/tenants/{slug}/plan");
    operator(h, "PUT", &path, Some(TOKEN), Some(json!({ "plan": plan }))).await
}

/// The operator rows of the tenant's audit log: action, actor type, metadata.
async fn operator_audit(h: &Harness) -> Vec<Value> {
    h.audit_rows()
        .await
        .into_iter()
        .filter(|(action, _)| action == "tenant.plan_changed")
        .map(|(_, metadata)| serde_json::from_str(&metadata).expect("metadata"))
        .collect()
}

async fn only_the_operators_token_opens_it(h: Harness) {
    let owner = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    let path = "/operator/tenants/acme";
    let shown = operator(&h, "GET", path, Some(TOKEN), None).await;
    assert_eq!(shown.status, StatusCode::OK, "{shown:?}");
    assert_eq!(shown.json()["slug"], "acme");
    assert_eq!(shown.json()["plan"], "free");
    assert_eq!(shown.json()["features"], json!(["api_access"]));

    // No token, a wrong one, a tenant owner's own token: 401, nothing shown.
    let wrong = format!("{TOKEN}x");
    for bearer in [None, Some(wrong.as_str()), Some(owner.as_str()), Some("")] {
        let refused = operator(&h, "GET", path, bearer, None).await;
        refused.assert_problem(StatusCode::UNAUTHORIZED);
        let refused = set_plan_as(&h, bearer).await;
        refused.assert_problem(StatusCode::UNAUTHORIZED);
    }
    assert_eq!(h.count("SELECT COUNT(*) FROM tenants WHERE plan = 'free'").await, 1);
    // The tenant routes do not take the operator's token either.
    let me = h.call("GET", "/me", Some("acme"), Some(TOKEN), None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{me:?}");
}

async fn set_plan_as(h: &Harness, bearer: Option<&str>) -> RawReply {
    let body = json!({ "plan": "pro" });
    operator(h, "PUT", "/operator/tenants/acme/plan", bearer, Some(body)).await
}

async fn a_plan_change_holds_on_the_next_request_and_is_audited(h: Harness) {
    let owner = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    let deal = || {
        h.call(
            "POST",
            "/deals",
            Some("acme"),
            Some(&owner),
            Some(json!({ "title": "first" })),
        )
    };
    // Free has no `crm`: deals are refused, and the refusal is cached with
    // the tenant's facts (the plan was read for this very request).
    let refused = deal().await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["type"], "https://rookery.dev/problems/feature-not-in-plan");

    let changed = set_plan(&h, "acme", "basic").await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    let body = changed.json();
    assert_eq!(
        (&body["from"], &body["plan"], &body["changed"]),
        (&json!("free"), &json!("basic"), &json!(true))
    );
    assert_eq!(body["features"], json!(["crm"]));
    // The very next request: no wait, nothing else called.
    let created = deal().await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    // And back: `basic` allows 2 deals; `free` none at all.
    assert_eq!(set_plan(&h, "acme", "free").await.status, StatusCode::OK);
    assert_eq!(deal().await.status, StatusCode::FORBIDDEN);

    // The same plan again changes and records nothing.
    let same = set_plan(&h, "acme", "free").await;
    assert_eq!(same.status, StatusCode::OK, "{same:?}");
    assert_eq!(same.json()["changed"], false);
    assert_eq!(
        operator_audit(&h).await,
        [
            json!({ "from": "free", "to": "basic", "via": "api" }),
            json!({ "from": "basic", "to": "free", "via": "api" }),
        ]
    );
    assert_eq!(
        h.count("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.plan_changed' AND actor_type = 'operator' AND actor_id IS NULL")
            .await,
        2
    );
    let platform = h.owner_db().await.platform_audit(10).await.expect("platform audit");
    let changes: Vec<_> = platform
        .iter()
        .filter(|row| row.action == "tenant.plan_change")
        .map(|row| (row.actor.as_str(), row.detail["from"].clone(), row.detail["to"].clone()))
        .collect();
    assert_eq!(
        changes,
        [
            ("operator api", json!("basic"), json!("free")),
            ("operator api", json!("free"), json!("basic")),
        ],
        "newest first"
    );
    // Another tenant is untouched.
    h.signup("globex", "gus@example.com", PW).await;
    let other = operator(&h, "GET", "/operator/tenants/globex", Some(TOKEN), None).await;
    assert_eq!(other.json()["plan"], "free");
}

async fn bad_requests_change_nothing(h: Harness) {
    h.signup("acme", "olga@example.com", PW).await;
    let unknown = set_plan(&h, "acme", "platinum").await;
    unknown.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    let detail = unknown.json()["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("the plans are free, pro,"), "{unknown:?}");
    set_plan(&h, "nobody", "pro")
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    let garbled = operator(
        &h,
        "PUT",
        "/operator/tenants/acme/plan",
        Some(TOKEN),
        Some(json!({ "plan": "pro", "price": 0 })),
    )
    .await;
    assert!(garbled.status.is_client_error(), "{garbled:?}");
    assert_eq!(h.count("SELECT COUNT(*) FROM tenants WHERE plan = 'free'").await, 1);
    assert!(operator_audit(&h).await.is_empty());
}

async fn set_feature(h: &Harness, slug: &str, feature: &str, enabled: Option<bool>) -> RawReply {
    let path = format!("/operator/tenants/{slug}/features/{feature}");
    match enabled {
        Some(on) => operator(h, "PUT", &path, Some(TOKEN), Some(json!({ "enabled": on }))).await,
        None => operator(h, "DELETE", &path, Some(TOKEN), None).await,
    }
}

async fn a_feature_override_beats_the_plan_until_it_is_cleared(h: Harness) {
    let owner = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    let deal = || {
        h.call(
            "POST",
            "/deals",
            Some("acme"),
            Some(&owner),
            Some(json!({ "title": "one" })),
        )
    };
    assert_eq!(deal().await.status, StatusCode::FORBIDDEN, "free has no crm");

    // On for acme, whatever its plan says: the next request has it.
    let on = set_feature(&h, "acme", "crm", Some(true)).await;
    assert_eq!(on.status, StatusCode::OK, "{on:?}");
    assert_eq!(
        (&on.json()["plan"], &on.json()["changed"]),
        (&json!("free"), &json!(true))
    );
    assert_eq!(on.json()["features"], json!(["api_access", "crm"]));
    assert_eq!(on.json()["overrides"], json!({ "crm": true }));
    assert_eq!(deal().await.status, StatusCode::CREATED);
    // Again: nothing changes, nothing is recorded.
    assert_eq!(
        set_feature(&h, "acme", "crm", Some(true)).await.json()["changed"],
        false
    );

    // A plan change keeps the override; off beats a plan that has it.
    assert_eq!(
        set_plan(&h, "acme", "pro").await.json()["overrides"],
        json!({ "crm": true })
    );
    set_feature(&h, "acme", "crm", Some(false)).await;
    let refused = deal().await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["type"], "https://rookery.dev/problems/feature-not-in-plan");
    // Cleared: the plan's answer again.
    let cleared = set_feature(&h, "acme", "crm", None).await;
    assert_eq!(cleared.json()["overrides"], json!({}));
    assert_eq!(deal().await.status, StatusCode::CREATED);

    set_feature(&h, "acme", "nosuch", Some(true))
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    set_feature(&h, "nobody", "crm", Some(true))
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    let changes: Vec<Value> = h
        .audit_rows()
        .await
        .into_iter()
        .filter(|(action, _)| action == "tenant.feature_changed")
        .map(|(_, metadata)| serde_json::from_str(&metadata).expect("metadata"))
        .collect();
    assert_eq!(
        changes,
        [
            json!({ "feature": "crm", "from": null, "to": true, "via": "api" }),
            json!({ "feature": "crm", "from": true, "to": false, "via": "api" }),
            json!({ "feature": "crm", "from": false, "to": null, "via": "api" }),
        ]
    );
    // Another tenant on free is untouched.
    h.signup("globex", "gus@example.com", PW).await;
    let other = operator(&h, "GET", "/operator/tenants/globex", Some(TOKEN), None).await;
    assert_eq!(other.json()["features"], json!(["api_access"]));
}

async fn the_operator_asks_for_and_cancels_a_deletion(h: Harness) {
    let owner = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    let path = "/operator/tenants/acme/deletion";
    assert_eq!(
        operator(&h, "POST", path, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        operator(&h, "POST", path, Some(&owner), None).await.status,
        StatusCode::UNAUTHORIZED,
        "a tenant's token does not open it"
    );
    assert_eq!(
        operator(&h, "POST", "/operator/tenants/nobody/deletion", Some(TOKEN), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let asked = operator(&h, "POST", path, Some(TOKEN), None).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{asked:?}");
    let asked: Value = serde_json::from_slice(&asked.body).unwrap();
    assert_eq!(asked["pending"], true);
    assert!(
        asked.get("requested_by").is_none(),
        "the operator is nobody of the tenant: {asked}"
    );
    // The tenant sees it.
    let seen = h
        .call("GET", "/tenant/deletion", Some("acme"), Some(&owner), None)
        .await;
    assert_eq!(seen.body["erase_after"], asked["erase_after"]);
    let shown = operator(&h, "GET", path, Some(TOKEN), None).await;
    let shown: Value = serde_json::from_slice(&shown.body).unwrap();
    assert_eq!(shown["erase_after"], asked["erase_after"]);
    assert_eq!(
        operator(&h, "DELETE", path, Some(TOKEN), None).await.status,
        StatusCode::NO_CONTENT
    );
    let shown = operator(&h, "GET", path, Some(TOKEN), None).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&shown.body).unwrap(),
        json!({ "pending": false })
    );
    let rows: Vec<(String, String)> = h
        .audit_rows()
        .await
        .into_iter()
        .filter(|(action, _)| action.starts_with("tenant.deletion"))
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        h.count("SELECT count(*) FROM audit_log WHERE action LIKE 'tenant.deletion%' AND actor_type = 'operator'")
            .await,
        2
    );
}
