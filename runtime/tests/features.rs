//! Plan features that gate by themselves, on both dialects: a model
//! (`deals` need `crm`), a permission (`deals.approve` needs `approvals`)
//! and API keys (`api_access`). The test spec's plans: `free` has
//! `api_access` only, `basic` has `crm` only, `pro` has everything.

#[macro_use]
mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::{Harness, Reply};

const PW: &str = "correct horse battery";
const NOT_IN_PLAN: &str = "https://rookery.dev/problems/feature-not-in-plan";

on_both_backends!(
    a_model_needs_its_feature,
    a_permission_needs_its_feature,
    api_keys_need_their_feature,
    a_downgrade_below_usage_keeps_rows_and_refuses_creates,
);

fn not_in_plan(reply: &Reply, feature: &str) {
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(reply.body["type"], NOT_IN_PLAN, "{reply:?}");
    assert!(reply.str("detail").contains(feature), "{reply:?}");
}

async fn a_model_needs_its_feature(h: Harness) {
    let owner = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    // The owner holds every deals permission, but the free plan has no `crm`:
    // every route refuses with the upsell, not with a missing permission.
    let list = h.call("GET", "/deals", Some("acme"), Some(&owner), None).await;
    not_in_plan(&list, "crm");
    let create = h
        .call(
            "POST",
            "/deals",
            Some("acme"),
            Some(&owner),
            Some(json!({ "title": "t" })),
        )
        .await;
    not_in_plan(&create, "crm");
    assert_eq!(h.count("SELECT COUNT(*) FROM deals").await, 0);
    let id = uuid::Uuid::now_v7();
    let get = h
        .call("GET", &format!("/deals/{id}"), Some("acme"), Some(&owner), None)
        .await;
    not_in_plan(&get, "crm");

    // The plan's change takes effect on the next request.
    h.set_plan("acme", "basic").await;
    let created = h
        .call(
            "POST",
            "/deals",
            Some("acme"),
            Some(&owner),
            Some(json!({ "title": "t" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    // Losing the feature keeps the rows but closes the routes again.
    h.set_plan("acme", "free").await;
    let path = format!("/deals/{}", created.str("id"));
    not_in_plan(&h.call("GET", &path, Some("acme"), Some(&owner), None).await, "crm");
    assert_eq!(h.count("SELECT COUNT(*) FROM deals").await, 1);

    // The OpenAPI document says which feature the routes need.
    let doc = support::app().openapi();
    let paths = doc["paths"].as_object().expect("paths");
    let (list, one) = (&paths["/api/v1/deals"], &paths["/api/v1/deals/{id}"]);
    assert_eq!(list["get"]["x-rookery-feature"], "crm", "{list}");
    assert_eq!(one["patch"]["x-rookery-feature"], "crm", "{one}");
    assert!(paths["/api/v1/notes"]["get"].get("x-rookery-feature").is_none());
}

async fn a_permission_needs_its_feature(h: Harness) {
    let owner = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    h.set_plan("acme", "basic").await;
    let id = h
        .call(
            "POST",
            "/deals",
            Some("acme"),
            Some(&owner),
            Some(json!({ "title": "t" })),
        )
        .await
        .str("id");
    let path = format!("/deals/{id}");
    // `approved` needs `deals.approve`, which needs `approvals`: the owner
    // holds the permission, the plan lacks the feature.
    let refused = h
        .call(
            "PATCH",
            &path,
            Some("acme"),
            Some(&owner),
            Some(json!({ "approved": true })),
        )
        .await;
    not_in_plan(&refused, "approvals");
    let by_hand = h
        .call("POST", &format!("{path}/approve"), Some("acme"), Some(&owner), None)
        .await;
    not_in_plan(&by_hand, "approvals");
    let now = h.call("GET", &path, Some("acme"), Some(&owner), None).await;
    assert_eq!(now.body["approved"], false);
    // Other fields are still written.
    let renamed = h
        .call(
            "PATCH",
            &path,
            Some("acme"),
            Some(&owner),
            Some(json!({ "title": "renamed" })),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{renamed:?}");

    h.set_plan("acme", "pro").await;
    let approved = h
        .call(
            "PATCH",
            &path,
            Some("acme"),
            Some(&owner),
            Some(json!({ "approved": true })),
        )
        .await;
    assert_eq!(approved.body["approved"], true, "{approved:?}");
}

async fn api_keys_need_their_feature(h: Harness) {
    let owner = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    let body = json!({ "name": "CI", "role": "member" });
    let created = h
        .call("POST", "/api-keys", Some("acme"), Some(&owner), Some(body.clone()))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let key = created.str("key");
    assert_eq!(
        h.call("GET", "/me", Some("acme"), Some(&key), None).await.status,
        StatusCode::OK
    );

    // On a plan without `api_access`: no new key, and the old one stops.
    h.set_plan("acme", "basic").await;
    let refused = h
        .call("POST", "/api-keys", Some("acme"), Some(&owner), Some(body))
        .await;
    not_in_plan(&refused, "api_access");
    not_in_plan(
        &h.call("GET", "/me", Some("acme"), Some(&key), None).await,
        "api_access",
    );
    // The owner still lists and revokes the keys there are.
    let keys = h.call("GET", "/api-keys", Some("acme"), Some(&owner), None).await;
    assert_eq!(keys.body.as_array().map(Vec::len), Some(1), "{keys:?}");

    // With the feature back, the key works again.
    h.set_plan("acme", "free").await;
    assert_eq!(
        h.call("GET", "/me", Some("acme"), Some(&key), None).await.status,
        StatusCode::OK
    );
}

/// `pro` has no deals quota, `basic` allows two: a tenant with three deals
/// moved to `basic` keeps all three (read, updated, deleted as before) and
/// creates none until it is under the limit again.
async fn a_downgrade_below_usage_keeps_rows_and_refuses_creates(h: Harness) {
    let owner = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    h.set_plan("acme", "pro").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let made = h
            .call(
                "POST",
                "/deals",
                Some("acme"),
                Some(&owner),
                Some(json!({ "title": format!("d{n}") })),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
        ids.push(made.str("id"));
    }
    h.set_plan("acme", "basic").await;
    const { assert!(support::BASIC_DEALS == 2) };
    let listed = h.call("GET", "/deals", Some("acme"), Some(&owner), None).await;
    assert_eq!(
        listed.body["data"].as_array().map(Vec::len),
        Some(3),
        "rows kept: {listed:?}"
    );
    let refused = h
        .call(
            "POST",
            "/deals",
            Some("acme"),
            Some(&owner),
            Some(json!({ "title": "one more" })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["type"], "https://rookery.dev/problems/quota-exceeded");
    assert_eq!(h.count("SELECT COUNT(*) FROM deals").await, 3);
    // Existing rows still change.
    let path = format!("/deals/{}", ids[0]);
    let renamed = h
        .call(
            "PATCH",
            &path,
            Some("acme"),
            Some(&owner),
            Some(json!({ "title": "renamed" })),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{renamed:?}");
    // At the limit (two left) still no create; under it (one left), one.
    let create = || async {
        h.call(
            "POST",
            "/deals",
            Some("acme"),
            Some(&owner),
            Some(json!({ "title": "again" })),
        )
        .await
        .status
    };
    let delete = |id: String| {
        let h = &h;
        let owner = &owner;
        async move {
            let gone = h
                .call("DELETE", &format!("/deals/{id}"), Some("acme"), Some(owner), None)
                .await;
            assert_eq!(gone.status, StatusCode::NO_CONTENT, "{gone:?}");
        }
    };
    delete(ids[0].clone()).await;
    assert_eq!(create().await, StatusCode::FORBIDDEN, "two deals, the limit");
    delete(ids[1].clone()).await;
    assert_eq!(create().await, StatusCode::CREATED, "one deal, under the limit");
    assert_eq!(h.count("SELECT COUNT(*) FROM deals").await, 2);
}
