//! The webhook routes on SQLite and PostgreSQL: tenants cannot see or
//! touch each other's endpoints and deliveries (404, as for a missing
//! one) and one tenant's events never reach another's endpoints; the
//! routes need `webhooks.manage` and a plan with the feature `webhooks`;
//! URLs deliveries may not reach are refused with a 400 naming the field;
//! the bodies are checked as the document states them.

#[path = "support/hooks.rs"]
mod hooks;
#[path = "support/receiver.rs"]
mod receiver;
#[macro_use]
mod support;

use axum::http::StatusCode;
use hooks::{deliveries, endpoint, id, note, nothing_else_arrived, tenant, worker};
use receiver::Receiver;
use serde_json::json;
use support::Harness;

on_both_backends!(
    tenants_cannot_reach_each_others_endpoints_deliveries_or_events,
    webhooks_need_the_permission_and_the_plan_feature,
    urls_deliveries_may_not_reach_are_refused_naming_the_field,
    bodies_are_checked_as_documented,
    deliveries_page_newest_first_with_a_cursor,
);

async fn tenants_cannot_reach_each_others_endpoints_deliveries_or_events(h: Harness) {
    let a = tenant(&h, "alpha").await;
    let b = tenant(&h, "bravo").await;
    let mut receiver = Receiver::start(&[]).await;
    let theirs = endpoint(&h, "alpha", &a, &mut receiver, "alpha", "/ok/alpha", &["note.created"]).await;
    let mine = endpoint(&h, "bravo", &b, &mut receiver, "bravo", "/ok/bravo", &["note.created"]).await;
    note(&h, "alpha", &a, "alpha's").await;
    worker(&h).drain().await.unwrap();
    let seen = receiver.next().await;
    assert_eq!(
        (seen["path"].as_str(), seen["verified"]["alpha"].as_bool()),
        (Some("/ok/alpha"), Some(true))
    );
    // Bravo's endpoint got nothing of alpha's event.
    nothing_else_arrived(&h, "bravo", &b, &mut receiver, &mine).await;
    assert_eq!(
        deliveries(&h, "bravo", &b, &mine).await.len(),
        1,
        "only its own test event"
    );
    let delivery = deliveries(&h, "alpha", &a, &theirs).await[0].clone();

    let one = format!("/webhooks/endpoints/{}", id(&theirs));
    let log = format!("{one}/deliveries/{}", id(&delivery));
    for (method, path, body) in [
        ("GET", one.clone(), None),
        ("PATCH", one.clone(), Some(json!({"enabled": false}))),
        ("DELETE", one.clone(), None),
        ("POST", format!("{one}/rotate-secret"), None),
        ("POST", format!("{one}/test"), None),
        ("GET", format!("{one}/deliveries"), None),
        ("GET", log.clone(), None),
        ("POST", format!("{log}/redeliver"), None),
        // Alpha's delivery under bravo's own endpoint is no delivery either.
        (
            "GET",
            format!("/webhooks/endpoints/{}/deliveries/{}", id(&mine), id(&delivery)),
            None,
        ),
    ] {
        let reply = h.call(method, &path, Some("bravo"), Some(&b), body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {reply:?}");
        assert_eq!(
            reply.body["type"], "https://rookery.dev/problems/not-found",
            "{reply:?}"
        );
    }
    let listed = hooks::get(&h, "bravo", &b, "/webhooks/endpoints").await;
    assert_eq!(listed.as_array().map(|l| l.len()), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], mine["id"]);
    // Alpha's endpoint is untouched.
    let still = hooks::get(&h, "alpha", &a, &one).await;
    assert_eq!(still["enabled"], true);
    assert_eq!(still["updated_at"], theirs["updated_at"]);
}

async fn webhooks_need_the_permission_and_the_plan_feature(h: Harness) {
    // A tenant on the free plan: its owner has the permission, not the feature.
    let free = h
        .signup("cheap", "owner@cheap.test", "correct horse battery")
        .await
        .str("access_token");
    for (method, path) in [("GET", "/webhooks/endpoints"), ("GET", "/webhooks/event-types")] {
        let reply = h.call(method, path, Some("cheap"), Some(&free), None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
        assert_eq!(
            reply.body["type"], "https://rookery.dev/problems/feature-not-in-plan",
            "{reply:?}"
        );
    }
    // A member's API key on the pro plan has the feature, not the permission.
    let owner = tenant(&h, "acme").await;
    let key = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&owner),
            Some(json!({"name": "ci", "role": "member"})),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    let member = key.str("key");
    let body = json!({"url": "http://127.0.0.1:9/x", "event_types": ["note.created"]});
    let refused = h
        .call("POST", "/webhooks/endpoints", Some("acme"), Some(&member), Some(body))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["type"], "https://rookery.dev/problems/forbidden");
    // The owner may, and sees the app's event types.
    let types = hooks::get(&h, "acme", &owner, "/webhooks/event-types").await;
    assert_eq!(
        types,
        json!([
            "gadget.created",
            "gadget.deleted",
            "gadget.updated",
            "note.created",
            "note.deleted",
            "note.shared",
            "note.updated"
        ])
    );
}

async fn urls_deliveries_may_not_reach_are_refused_naming_the_field(h: Harness) {
    let token = tenant(&h, "acme").await;
    for url in [
        "https://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "https://[fc00::1]/",
        "http://0x0a000001/",
        "ftp://example.com/",
        "not a url",
        "https://user:pw@127.0.0.1/",
        "",
    ] {
        let body = json!({"url": url, "event_types": ["note.created"]});
        let reply = h
            .call("POST", "/webhooks/endpoints", Some("acme"), Some(&token), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{url}: {reply:?}");
        assert!(reply.str("detail").starts_with("url: "), "{url}: {reply:?}");
    }
    let too_long = format!("http://127.0.0.1/{}", "x".repeat(2048));
    let reply = h
        .call(
            "POST",
            "/webhooks/endpoints",
            Some("acme"),
            Some(&token),
            Some(json!({"url": too_long, "event_types": ["note.created"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    // An update is vetted the same way, and changes nothing when refused.
    let mut receiver = Receiver::start(&[]).await;
    let hook = endpoint(&h, "acme", &token, &mut receiver, "e", "/ok/e", &["note.created"]).await;
    let path = format!("/webhooks/endpoints/{}", id(&hook));
    let reply = h
        .call(
            "PATCH",
            &path,
            Some("acme"),
            Some(&token),
            Some(json!({"url": "https://192.168.1.1/"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(reply.str("detail").starts_with("url: "), "{reply:?}");
    assert_eq!(hooks::get(&h, "acme", &token, &path).await["url"], hook["url"]);
    assert_eq!(h.count("SELECT count(*) FROM rookery_webhook_endpoints").await, 1);
}

async fn bodies_are_checked_as_documented(h: Harness) {
    let token = tenant(&h, "acme").await;
    let create = |body: serde_json::Value| {
        let token = token.clone();
        let h = &h;
        async move {
            h.call("POST", "/webhooks/endpoints", Some("acme"), Some(&token), Some(body))
                .await
        }
    };
    let url = "http://127.0.0.1:9/hook";
    for (body, status) in [
        (json!({"url": url, "event_types": []}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"url": url, "event_types": ["note.created", "note.created"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"url": url, "event_types": ["note.archived"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"url": url, "event_types": ["webhook.test"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"url": url, "event_types": ["note.created"], "description": "x".repeat(201)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"url": url}), StatusCode::BAD_REQUEST),
        (
            json!({"url": url, "event_types": ["note.created"], "secret": "mine"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"url": 7, "event_types": ["note.created"]}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let reply = create(body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {reply:?}");
    }
    let made = create(json!({"url": url, "event_types": ["note.created"]})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let path = format!("/webhooks/endpoints/{}", made.str("id"));
    for body in [
        json!({"url": null}),
        json!({"enabled": null}),
        json!({"event_types": null}),
        json!({"enabled": "yes"}),
    ] {
        let reply = h
            .call("PATCH", &path, Some("acme"), Some(&token), Some(body.clone()))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {reply:?}");
    }
    let changed = h
        .call(
            "PATCH",
            &path,
            Some("acme"),
            Some(&token),
            Some(json!({"event_types": ["note.updated", "note.shared"], "description": "ops"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(changed.body["event_types"], json!(["note.updated", "note.shared"]));
    assert_eq!(changed.body["description"], "ops");
    for query in ["limit=0", "limit=101", "cursor=nope", "other=1"] {
        let reply = h
            .call(
                "GET",
                &format!("{path}/deliveries?{query}"),
                Some("acme"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}: {reply:?}");
    }
    for missing in [
        "/webhooks/endpoints/not-a-uuid",
        &format!("/webhooks/endpoints/{}", uuid::Uuid::now_v7()),
    ] {
        let reply = h.call("GET", missing, Some("acme"), Some(&token), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
    }
    let gone = h.call("DELETE", &path, Some("acme"), Some(&token), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(hooks::get(&h, "acme", &token, "/webhooks/endpoints").await, json!([]));
    let actions: Vec<String> = h.audit_rows().await.into_iter().map(|(a, _)| a).collect();
    for action in [
        "webhook_endpoint.create",
        "webhook_endpoint.update",
        "webhook_endpoint.delete",
    ] {
        assert!(actions.iter().any(|a| a == action), "{actions:?}");
    }
}

async fn deliveries_page_newest_first_with_a_cursor(h: Harness) {
    let token = tenant(&h, "acme").await;
    let body = json!({"url": "http://127.0.0.1:9/hook", "event_types": ["note.created"]});
    let hook = h
        .call("POST", "/webhooks/endpoints", Some("acme"), Some(&token), Some(body))
        .await
        .body;
    let mut notes = Vec::new();
    for title in ["one", "two", "three"] {
        notes.push(note(&h, "acme", &token, title).await);
    }
    let path = format!("/webhooks/endpoints/{}/deliveries", id(&hook));
    let first = hooks::get(&h, "acme", &token, &format!("{path}?limit=2")).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2, "{first}");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = hooks::get(&h, "acme", &token, &format!("{path}?limit=2&cursor={cursor}")).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1, "{second}");
    assert!(second["next_cursor"].is_null());
    let events: Vec<serde_json::Value> = h.events().await.into_iter().map(|(.., data)| data).collect();
    assert_eq!(events, notes);
    let ids: Vec<&serde_json::Value> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|d| &d["event_id"])
        .collect();
    let all = h
        .count("SELECT count(DISTINCT event_id) FROM rookery_webhook_deliveries")
        .await;
    assert_eq!((ids.len(), all), (3, 3), "every delivery once");
    let created: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|d| d["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(created, sorted, "newest first");
}
