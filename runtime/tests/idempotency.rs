//! `Idempotency-Key` on SQLite and PostgreSQL: a retry gets the first
//! response and writes nothing more, another request under the same key
//! is refused, keys are per tenant, a request still running (or whose
//! answer was lost after its write committed) is not run again, a dead
//! first attempt is taken over, and reads ignore the header.

#[macro_use]
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use support::{Harness, RawReply};

on_both_backends!(
    a_retry_gets_the_first_response_and_writes_nothing_more,
    another_request_under_the_same_key_is_refused,
    keys_are_per_tenant,
    updates_and_deletes_are_kept_too,
    a_request_still_running_is_not_run_again,
    a_committed_request_whose_answer_was_lost_is_not_run_again,
    a_first_attempt_that_died_before_committing_is_taken_over,
    bad_keys_are_refused_and_reads_ignore_the_header,
);

async fn send(h: &Harness, method: &str, path: &str, token: &str, key: Option<&str>, body: Option<&Value>) -> RawReply {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("/api/v1{path}"))
        .header("x-tenant", "acme")
        .header("authorization", format!("Bearer {token}"));
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let request = match body {
        Some(b) => request
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => request.body(Body::empty()),
    };
    h.send(request.expect("request")).await
}

async fn owner(h: &Harness, slug: &str) -> String {
    h.signup(slug, &format!("owner@{slug}.test"), "correct horse battery")
        .await
        .str("access_token")
}

async fn a_retry_gets_the_first_response_and_writes_nothing_more(h: Harness) {
    let token = owner(&h, "acme").await;
    let body = json!({ "title": "once" });
    let first = send(&h, "POST", "/notes", &token, Some("key-1"), Some(&body)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert!(first.headers.get("idempotent-replayed").is_none());
    for _ in 0..3 {
        let again = send(&h, "POST", "/notes", &token, Some("key-1"), Some(&body)).await;
        assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
        assert_eq!(again.body, first.body, "the first response, byte for byte");
        assert_eq!(again.content_type(), first.content_type());
        assert_eq!(again.headers["idempotent-replayed"], "true");
    }
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 1);
    // Without a key, the same request writes again.
    let plain = send(&h, "POST", "/notes", &token, None, Some(&body)).await;
    assert_eq!(plain.status, StatusCode::CREATED);
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 2);
}

async fn another_request_under_the_same_key_is_refused(h: Harness) {
    let token = owner(&h, "acme").await;
    let first = send(&h, "POST", "/notes", &token, Some("k"), Some(&json!({ "title": "a" }))).await;
    assert_eq!(first.status, StatusCode::CREATED);
    for (method, path, body) in [
        ("POST", "/notes", json!({ "title": "b" })),
        ("POST", "/notes?x=1", json!({ "title": "a" })),
    ] {
        let other = send(&h, method, path, &token, Some("k"), Some(&body)).await;
        other.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            other.json()["type"]
                .as_str()
                .unwrap()
                .ends_with("/idempotency-key-reused")
        );
    }
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 1);
}

async fn keys_are_per_tenant(h: Harness) {
    let acme = owner(&h, "acme").await;
    let body = json!({ "title": "mine" });
    assert_eq!(
        send(&h, "POST", "/notes", &acme, Some("shared"), Some(&body))
            .await
            .status,
        StatusCode::CREATED
    );
    let globex = owner(&h, "globex").await;
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/notes")
        .header("x-tenant", "globex")
        .header("authorization", format!("Bearer {globex}"))
        .header("idempotency-key", "shared")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let other = h.send(request).await;
    assert_eq!(
        other.status,
        StatusCode::CREATED,
        "another tenant's key is another key: {other:?}"
    );
    assert!(other.headers.get("idempotent-replayed").is_none());
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 2);
}

async fn updates_and_deletes_are_kept_too(h: Harness) {
    let token = owner(&h, "acme").await;
    let created = send(&h, "POST", "/notes", &token, None, Some(&json!({ "title": "t" })))
        .await
        .json();
    let path = format!("/notes/{}", created["id"]);
    let patch = json!({ "title": "renamed" });
    let first = send(&h, "PATCH", &path, &token, Some("p"), Some(&patch)).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let again = send(&h, "PATCH", &path, &token, Some("p"), Some(&patch)).await;
    assert_eq!((again.status, again.body.clone()), (first.status, first.body.clone()));
    let gone = send(&h, "DELETE", &path, &token, Some("d"), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{gone:?}");
    // The retry of the delete says what the delete said, not 404.
    let again = send(&h, "DELETE", &path, &token, Some("d"), None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "{again:?}");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // The audit log has one update and one delete.
    let actions: Vec<String> = h.audit_rows().await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions.iter().filter(|a| a.ends_with(".update")).count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| a.ends_with(".delete")).count(),
        1,
        "{actions:?}"
    );
}

/// The fingerprint the runtime keeps (method, path and query, body).
fn fingerprint(method: &str, path: &str, body: &Value) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update([0]);
    hash.update(path.as_bytes());
    hash.update([0]);
    hash.update(body.to_string().as_bytes());
    hash.finalize().to_vec()
}

/// Puts a key of tenant `acme` in `state`, last touched `age` ago, for a
/// POST /notes with `body` (the side door plays the first attempt).
async fn plant(h: &Harness, state: &str, age_seconds: i64, body: &Value) {
    let print = hex(&fingerprint("POST", "/api/v1/notes", body));
    let pg = format!(
        "INSERT INTO rookery_idempotency_keys (tenant_id, key, fingerprint, attempt, state, created_at, updated_at)
         SELECT id, 'planted', '\\x{print}'::bytea, 1, '{state}', now(), now() - interval '{age_seconds} seconds'
         FROM tenants WHERE slug = 'acme'"
    );
    let sqlite = format!(
        "INSERT INTO rookery_idempotency_keys (tenant_id, key, fingerprint, attempt, state, created_at, updated_at)
         SELECT id, 'planted', X'{print}', 1, '{state}', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{age_seconds} seconds')
         FROM tenants WHERE slug = 'acme'"
    );
    h.exec(Box::leak(pg.into_boxed_str()), Box::leak(sqlite.into_boxed_str()))
        .await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn a_request_still_running_is_not_run_again(h: Harness) {
    let token = owner(&h, "acme").await;
    let body = json!({ "title": "slow" });
    plant(&h, "started", 0, &body).await;
    let retry = send(&h, "POST", "/notes", &token, Some("planted"), Some(&body)).await;
    retry.assert_problem(StatusCode::CONFLICT);
    assert!(
        retry.json()["type"]
            .as_str()
            .unwrap()
            .ends_with("/idempotency-key-in-use")
    );
    assert_eq!(retry.headers["retry-after"], "1");
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 0);
}

async fn a_committed_request_whose_answer_was_lost_is_not_run_again(h: Harness) {
    let token = owner(&h, "acme").await;
    let body = json!({ "title": "lost" });
    plant(&h, "committed", 3600, &body).await;
    let retry = send(&h, "POST", "/notes", &token, Some("planted"), Some(&body)).await;
    retry.assert_problem(StatusCode::CONFLICT);
    assert!(
        retry.json()["detail"].as_str().unwrap().contains("committed"),
        "{retry:?}"
    );
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 0);
}

async fn a_first_attempt_that_died_before_committing_is_taken_over(h: Harness) {
    let token = owner(&h, "acme").await;
    let body = json!({ "title": "again" });
    plant(&h, "started", 3600, &body).await;
    let retry = send(&h, "POST", "/notes", &token, Some("planted"), Some(&body)).await;
    assert_eq!(retry.status, StatusCode::CREATED, "{retry:?}");
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 1);
    assert_eq!(
        h.count("SELECT count(*) FROM rookery_idempotency_keys WHERE attempt = 2 AND state = 'done'")
            .await,
        1
    );
    let replay = send(&h, "POST", "/notes", &token, Some("planted"), Some(&body)).await;
    assert_eq!((replay.status, replay.body), (retry.status, retry.body));
}

async fn bad_keys_are_refused_and_reads_ignore_the_header(h: Harness) {
    let token = owner(&h, "acme").await;
    let body = json!({ "title": "x" });
    for key in ["", &"k".repeat(256), "with space"] {
        let reply = send(&h, "POST", "/notes", &token, Some(key), Some(&body)).await;
        reply.assert_problem(StatusCode::BAD_REQUEST);
    }
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 0);
    let list = send(&h, "GET", "/notes", &token, Some("read-1"), None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.headers.get("idempotent-replayed").is_none());
    assert_eq!(h.count("SELECT count(*) FROM rookery_idempotency_keys").await, 0);
}
