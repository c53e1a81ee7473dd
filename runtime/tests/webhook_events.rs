//! Domain events on SQLite and PostgreSQL: a write of a model with events
//! records its event in the same transaction (on PostgreSQL in the same
//! statement), the event's data is the row's JSON as the routes answer it
//! for every field type, a write that rolls back leaves no event, no
//! delivery and no job, hand-written code records its own, each event
//! becomes exactly one delivery per enabled endpoint subscribed to it, and
//! an event no enabled endpoint of its tenant subscribes to is not stored.

#[macro_use]
mod support;

use axum::http::StatusCode;
use rookery::TenantModel as _;
use serde_json::{Value, json};
use support::{Harness, Note};

on_both_backends!(
    writes_record_their_events_with_the_rows_json,
    every_field_type_reaches_the_event_as_the_routes_write_it,
    a_rolled_back_write_leaves_no_event_delivery_or_job,
    hand_written_code_records_events_of_its_own,
    each_event_becomes_one_delivery_per_subscribed_endpoint,
    an_event_no_enabled_endpoint_subscribes_to_is_not_stored,
);

/// A tenant on the plan with webhooks, and its owner's token.
async fn tenant(h: &Harness, slug: &str) -> String {
    let reply = h
        .signup(slug, &format!("owner@{slug}.test"), "correct horse battery")
        .await;
    h.set_plan(slug, "pro").await;
    reply.str("access_token")
}

async fn endpoint(h: &Harness, slug: &str, token: &str, path: &str, types: &[&str]) -> Value {
    let body = json!({ "url": format!("http://127.0.0.1:9{path}"), "event_types": types });
    let reply = h
        .call("POST", "/webhooks/endpoints", Some(slug), Some(token), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body
}

async fn tenant_id(h: &Harness, slug: &str, token: &str) -> rookery::TenantId {
    let me = h.call("GET", "/me", Some(slug), Some(token), None).await;
    me.str("tenant_id").parse().expect("a tenant id")
}

async fn disable(h: &Harness, slug: &str, token: &str, endpoint: &Value) {
    let path = format!("/webhooks/endpoints/{}", endpoint["id"].as_str().unwrap());
    let body = json!({"enabled": false});
    let disabled = h.call("PATCH", &path, Some(slug), Some(token), Some(body)).await;
    assert_eq!(disabled.status, StatusCode::OK, "{disabled:?}");
}

fn types(h: &[(String, String, Value)]) -> Vec<&str> {
    h.iter().map(|(_, t, _)| t.as_str()).collect()
}

async fn writes_record_their_events_with_the_rows_json(h: Harness) {
    let token = tenant(&h, "acme").await;
    endpoint(
        &h,
        "acme",
        &token,
        "/ok/notes",
        &["note.created", "note.updated", "note.deleted"],
    )
    .await;
    let created = h
        .call(
            "POST",
            "/notes",
            Some("acme"),
            Some(&token),
            Some(json!({"title": "Apollo", "amount": "12.50"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let id = created.body["id"].clone();
    let path = format!("/notes/{id}");
    let updated = h
        .call(
            "PATCH",
            &path,
            Some("acme"),
            Some(&token),
            Some(json!({"body": "to the moon"})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{updated:?}");
    let deleted = h.call("DELETE", &path, Some("acme"), Some(&token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    // A write of a missing row records nothing.
    let missing = h
        .call(
            "PATCH",
            "/notes/999999",
            Some("acme"),
            Some(&token),
            Some(json!({"body": "x"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let events = h.events().await;
    assert_eq!(types(&events), ["note.created", "note.updated", "note.deleted"]);
    assert_eq!(events[0].2, created.body, "the created row, as the route answered it");
    assert_eq!(events[1].2, updated.body, "the updated row");
    assert_eq!(events[2].2, updated.body, "the row as it was deleted");
    let tenant = created.body["tenant_id"].as_str().unwrap();
    assert!(events.iter().all(|(t, ..)| t == tenant));
    // The audit rows are still there, beside the events.
    let actions: Vec<String> = h.audit_rows().await.into_iter().map(|(a, _)| a).collect();
    for action in ["note.create", "note.update", "note.delete"] {
        assert!(actions.iter().any(|a| a == action), "{actions:?}");
    }
}

async fn every_field_type_reaches_the_event_as_the_routes_write_it(h: Harness) {
    let token = tenant(&h, "acme").await;
    endpoint(&h, "acme", &token, "/ok/gadgets", &["gadget.created"]).await;
    let note = h
        .call(
            "POST",
            "/notes",
            Some("acme"),
            Some(&token),
            Some(json!({"title": "n"})),
        )
        .await;
    let me = h.call("GET", "/me", Some("acme"), Some(&token), None).await;
    let bodies = [
        json!({"count": 1, "flag": true, "kind": "small"}),
        json!({"count": -7, "big": 9_007_199_254_740_993_i64, "flag": false, "day": "2024-02-29",
               "at": "2026-11-26T15:53:53Z", "code": "0191f3a4-1111-7222-8333-444455556666", "kind": "large",
               "price": "1234.5600", "doc": {"b": [1, 2.5, null], "a": {"nested": "é\"\\"}}, "note": note.body["id"],
               "owner": me.body["user_id"]}),
        json!({"count": 2, "flag": true, "kind": "small", "at": "2026-11-26T15:53:53.120Z", "price": "0"}),
        json!({"count": 3, "flag": true, "kind": "small", "at": "2026-11-26T15:53:53.000123Z", "price": "-0.001"}),
    ];
    let mut rows = Vec::new();
    for body in bodies {
        let created = h.call("POST", "/gadgets", Some("acme"), Some(&token), Some(body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        let read = h
            .call(
                "GET",
                &format!("/gadgets/{}", created.str("id")),
                Some("acme"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(read.body, created.body);
        rows.push(read.body);
    }
    let gadgets: Vec<Value> = h
        .events()
        .await
        .into_iter()
        .filter(|(_, t, _)| t == "gadget.created")
        .map(|(.., data)| data)
        .collect();
    assert_eq!(gadgets, rows, "each event's data is the row's JSON");
}

async fn a_rolled_back_write_leaves_no_event_delivery_or_job(h: Harness) {
    let token = tenant(&h, "acme").await;
    endpoint(&h, "acme", &token, "/ok/a", &["note.created", "note.shared"]).await;
    let jobs_before = h.job_rows().await.len();
    let tenant_id = tenant_id(&h, "acme", &token).await;
    // The repository's write, then a rollback.
    let mut tx = h.db().begin_write(tenant_id).await.unwrap();
    let input: <Note as rookery::TenantModel>::Create = serde_json::from_value(json!({"title": "never"})).unwrap();
    tx.repo::<Note>().create(input).await.unwrap();
    tx.emit("note.shared", &json!({"note": 1})).await.unwrap();
    drop(tx);
    // A write the database refuses: its statement records nothing either.
    let refused = h
        .call(
            "POST",
            "/notes",
            Some("acme"),
            Some(&token),
            Some(json!({"title": "x".repeat(201)})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(h.events().await.is_empty(), "{:?}", h.events().await);
    assert_eq!(h.count("SELECT count(*) FROM rookery_webhook_deliveries").await, 0);
    assert_eq!(h.job_rows().await.len(), jobs_before, "no delivery job");
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 0);
    let _ = Note::def();
}

async fn hand_written_code_records_events_of_its_own(h: Harness) {
    let token = tenant(&h, "acme").await;
    endpoint(&h, "acme", &token, "/ok/shared", &["note.shared"]).await;
    let tenant_id = tenant_id(&h, "acme", &token).await;
    let mut tx = h.db().begin_write(tenant_id).await.unwrap();
    let id = tx
        .emit("note.shared", &json!({"note": 7, "with": "bob"}))
        .await
        .unwrap();
    let refused = tx.emit("note shared", &json!(null)).await;
    assert!(matches!(refused, Err(rookery::DbError::EventType(_))), "{refused:?}");
    tx.commit().await.unwrap();
    let events = h.events().await;
    assert_eq!(types(&events), ["note.shared"]);
    assert_eq!(events[0].2, json!({"note": 7, "with": "bob"}));
    assert_eq!(h.count("SELECT count(*) FROM rookery_webhook_deliveries").await, 1);
    let jobs = h.job_rows().await;
    let delivering: Vec<_> = jobs.iter().filter(|j| j.0 == "rookery.webhooks.deliver").collect();
    assert_eq!(delivering.len(), 1, "{jobs:?}");
    assert_eq!(delivering[0].4.as_deref(), Some(tenant_id.to_string().as_str()));
    let _ = id;
}

async fn each_event_becomes_one_delivery_per_subscribed_endpoint(h: Harness) {
    let token = tenant(&h, "acme").await;
    let created = endpoint(&h, "acme", &token, "/ok/created", &["note.created"]).await;
    let both = endpoint(&h, "acme", &token, "/ok/both", &["note.created", "note.updated"]).await;
    endpoint(&h, "acme", &token, "/ok/updated", &["note.updated"]).await;
    let off = endpoint(&h, "acme", &token, "/ok/off", &["note.created"]).await;
    disable(&h, "acme", &token, &off).await;
    // Another tenant's endpoint for the same type sees nothing of acme's.
    let other = tenant(&h, "globex").await;
    let theirs = endpoint(&h, "globex", &other, "/ok/globex", &["note.created"]).await;

    let note = h
        .call(
            "POST",
            "/notes",
            Some("acme"),
            Some(&token),
            Some(json!({"title": "one"})),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED);
    let listed = |id: &Value| {
        let path = format!("/webhooks/endpoints/{}/deliveries", id.as_str().unwrap());
        let token = token.clone();
        let h = &h;
        async move { h.call("GET", &path, Some("acme"), Some(&token), None).await.body }
    };
    for (endpoint, expected) in [(&created["id"], 1), (&both["id"], 1), (&off["id"], 0)] {
        let page = listed(endpoint).await;
        assert_eq!(page["data"].as_array().unwrap().len(), expected, "{page}");
    }
    let page = listed(&created["id"]).await;
    assert_eq!(page["data"][0]["event_type"], "note.created");
    assert_eq!(page["data"][0]["status"], "pending");
    assert_eq!(page["data"][0]["attempts"], 0);
    assert_eq!(h.count("SELECT count(*) FROM rookery_webhook_deliveries").await, 2);
    let path = format!("/webhooks/endpoints/{}/deliveries", theirs["id"].as_str().unwrap());
    let page = h.call("GET", &path, Some("globex"), Some(&other), None).await;
    assert_eq!(
        page.body["data"],
        json!([]),
        "another tenant's event never fans out to them"
    );
}

async fn an_event_no_enabled_endpoint_subscribes_to_is_not_stored(h: Harness) {
    let token = tenant(&h, "acme").await;
    let note = |title: &'static str| {
        let token = token.clone();
        let h = &h;
        async move {
            let reply = h
                .call(
                    "POST",
                    "/notes",
                    Some("acme"),
                    Some(&token),
                    Some(json!({"title": title})),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        }
    };
    note("nobody listens").await;
    // Subscribed to another type, or to this one but disabled, or another
    // tenant's endpoint: still nobody of acme's receives `note.created`.
    endpoint(&h, "acme", &token, "/ok/updated", &["note.updated"]).await;
    let off = endpoint(&h, "acme", &token, "/ok/off", &["note.created"]).await;
    disable(&h, "acme", &token, &off).await;
    let other = tenant(&h, "globex").await;
    endpoint(&h, "globex", &other, "/ok/globex", &["note.created", "note.shared"]).await;
    note("still nobody").await;
    let tenant_id = tenant_id(&h, "acme", &token).await;
    let mut tx = h.db().begin_write(tenant_id).await.unwrap();
    tx.emit("note.shared", &json!({"note": 1})).await.unwrap();
    tx.commit().await.unwrap();
    assert!(h.events().await.is_empty(), "{:?}", h.events().await);
    assert_eq!(h.count("SELECT count(*) FROM rookery_webhook_deliveries").await, 0);

    // Once an endpoint listens, the next write is stored and delivered.
    endpoint(&h, "acme", &token, "/ok/created", &["note.created"]).await;
    note("heard").await;
    let events = h.events().await;
    assert_eq!(types(&events), ["note.created"]);
    assert_eq!(events[0].2["title"], "heard");
    assert_eq!(h.count("SELECT count(*) FROM rookery_webhook_deliveries").await, 1);
}
