//! Bad input at the HTTP boundary, on SQLite and on PostgreSQL: U+0000 in
//! values and query parameters, bodies that are not JSON objects, audit
//! rows that name exactly the fields written, problem+json for every
//! error status, bounded request ids and decimals beyond what is stored
//! exactly.

#[macro_use]
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};
use support::{Backend, Harness, RawReply};

const PW: &str = "correct horse battery";

on_both_backends!(
    nul_in_model_values_is_refused_naming_the_field,
    nul_in_identity_bodies_is_refused_naming_the_field,
    nul_in_query_parameters_is_a_bad_request,
    bodies_must_be_json_objects,
    audit_rows_list_exactly_the_fields_written,
    every_error_is_a_problem,
    client_request_ids_are_bounded,
    decimals_beyond_what_is_stored_exactly_are_refused,
);

/// Signs up tenant `acme` and returns its owner's access token.
async fn owner(h: &Harness) -> String {
    h.signup("acme", "ada@example.com", PW).await.str("access_token")
}

/// The fields named by a 422's `errors`.
fn invalid_fields(reply: &RawReply) -> Vec<String> {
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    reply.json()["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {reply:?}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn nul_in_model_values_is_refused_naming_the_field(h: Harness) {
    let token = owner(&h).await;
    let t = Some(token.as_str());
    // JSON carries U+0000 only as the escape `\u0000`.
    for (body, field) in [
        (r#"{"title": "a\u0000b"}"#, "title"),
        (r#"{"title": "a", "body": "\u0000"}"#, "body"),
        (r#"{"title": "a", "meta": {"k": ["x", {"y": "z\u0000"}]}}"#, "meta"),
        (r#"{"title": "a", "meta": {"k\u0000": 1}}"#, "meta"),
    ] {
        let reply = h.send_json("POST", "/notes", "acme", t, body).await;
        assert_eq!(invalid_fields(&reply), [field], "{body}");
    }
    assert_eq!(h.count("SELECT COUNT(*) FROM notes").await, 0);

    // An escaped backslash before `u0000` is text, not U+0000.
    let reply = h
        .send_json(
            "POST",
            "/notes",
            "acme",
            t,
            r#"{"title": "a\\u0000", "meta": {"\\u0000": 1}}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.json()["title"], "a\\u0000");
    let id = reply.json()["id"].clone();

    for (body, field) in [(r#"{"title": "\u0000"}"#, "title"), (r#"{"meta": "\u0000"}"#, "meta")] {
        let reply = h.send_json("PATCH", &format!("/notes/{id}"), "acme", t, body).await;
        assert_eq!(invalid_fields(&reply), [field], "{body}");
    }
}

async fn nul_in_identity_bodies_is_refused_naming_the_field(h: Harness) {
    let signup = |field: &str| {
        let mut body =
            json!({ "tenant_slug": "acme", "tenant_name": "Acme", "email": "ada@example.com", "password": PW });
        body[field] = json!(format!("{}\u{0}", body[field].as_str().unwrap()));
        body.to_string()
    };
    for field in ["tenant_slug", "tenant_name", "email", "password"] {
        let reply = h.send_json("POST", "/auth/signup", "acme", None, &signup(field)).await;
        assert_eq!(invalid_fields(&reply), [field]);
    }
    assert_eq!(h.count("SELECT COUNT(*) FROM tenants").await, 0);

    let token = owner(&h).await;
    let t = Some(token.as_str());
    let cases = [
        (
            "/auth/login",
            None,
            json!({ "email": "ada@example.com\u{0}", "password": PW }),
            "email",
        ),
        (
            "/auth/refresh",
            None,
            json!({ "refresh_token": "x\u{0}" }),
            "refresh_token",
        ),
        ("/api-keys", t, json!({ "name": "ci\u{0}", "role": "member" }), "name"),
        (
            "/invitations",
            t,
            json!({ "email": "bo\u{0}@example.com", "role": "member" }),
            "email",
        ),
        (
            "/invitations/accept",
            None,
            json!({ "token": "t", "password": "pass\u{0}word-long" }),
            "password",
        ),
    ];
    for (path, bearer, body, field) in cases {
        let reply = h.send_json("POST", path, "acme", bearer, &body.to_string()).await;
        assert_eq!(invalid_fields(&reply), [field], "{path}");
    }
    assert_eq!(h.count("SELECT COUNT(*) FROM api_keys").await, 0);
    assert_eq!(h.count("SELECT COUNT(*) FROM invitations").await, 0);
}

async fn nul_in_query_parameters_is_a_bad_request(h: Harness) {
    let token = owner(&h).await;
    let t = Some(token.as_str());
    let cursor = |payload: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
    let queries = [
        "title=a%00b".to_owned(),
        "sort=title%00".to_owned(),
        "limit=1%00".to_owned(),
        format!("sort=title&cursor={}", cursor(json!(["title", "a\u{0}", "1"]))),
        format!(
            "cursor={}",
            cursor(json!(["-created_at", "2026-01-01T00:00:00Z", "1\u{0}"]))
        ),
    ];
    for query in queries {
        let reply = h.send_json("GET", &format!("/notes?{query}"), "acme", t, "").await;
        reply.assert_problem(StatusCode::BAD_REQUEST);
    }
    let reply = h.send_json("GET", "/notes?title=a", "acme", t, "").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

async fn bodies_must_be_json_objects(h: Harness) {
    let token = owner(&h).await;
    let t = Some(token.as_str());
    let created = h.send_json("POST", "/notes", "acme", t, r#"{"title": "a"}"#).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let path = format!("/notes/{}", created.json()["id"]);
    for body in [
        r#"["b", null, null, null]"#,
        r#" ["b"]"#,
        r#""b""#,
        "1",
        "null",
        "true",
        "",
    ] {
        h.send_json("POST", "/notes", "acme", t, body)
            .await
            .assert_problem(StatusCode::BAD_REQUEST);
        h.send_json("PATCH", &path, "acme", t, body)
            .await
            .assert_problem(StatusCode::BAD_REQUEST);
        h.send_json("POST", "/api-keys", "acme", t, body)
            .await
            .assert_problem(StatusCode::BAD_REQUEST);
    }
    h.send_json(
        "POST",
        "/auth/signup",
        "x",
        None,
        r#"["beta", "Beta", "bo@example.com", "a long password"]"#,
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(h.count("SELECT COUNT(*) FROM notes").await, 1);
    assert_eq!(h.count("SELECT COUNT(*) FROM tenants").await, 1);
    let note = h.send_json("GET", &path, "acme", t, "").await.json();
    assert_eq!(note["title"], "a", "unchanged: {note}");
}

async fn audit_rows_list_exactly_the_fields_written(h: Harness) {
    let token = owner(&h).await;
    let t = Some(token.as_str());
    let created = h.send_json("POST", "/notes", "acme", t, r#"{"title": "a"}"#).await;
    let path = format!("/notes/{}", created.json()["id"]);
    for body in [r#"{"title": "b", "amount": null}"#, "{}", r#"{"meta": {"fields": 1}}"#] {
        let reply = h.send_json("PATCH", &path, "acme", t, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
    let fields: Vec<Value> = h
        .audit_rows()
        .await
        .into_iter()
        .filter(|(action, _)| action == "note.update")
        .map(|(_, metadata)| serde_json::from_str::<Value>(&metadata).unwrap()["fields"].clone())
        .collect();
    assert_eq!(fields, [json!(["title", "amount"]), json!([]), json!(["meta"])]);
}

fn request(method: &str, uri: &str, token: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("x-tenant", "acme")
        .header("authorization", format!("Bearer {token}"))
}

async fn every_error_is_a_problem(h: Harness) {
    let token = owner(&h).await;
    let t = Some(token.as_str());
    let send = |builder: axum::http::request::Builder, body: Body| h.send(builder.body(body).unwrap());

    for uri in ["/nowhere", "/api/v1/nowhere", "/api/v1/notes/1/more"] {
        send(request("GET", uri, &token), Body::empty())
            .await
            .assert_problem(StatusCode::NOT_FOUND);
    }

    for (method, uri, allowed) in [
        ("DELETE", "/api/v1/notes", "POST"),
        ("GET", "/api/v1/auth/login", "POST"),
        ("PUT", "/api/v1/notes/1", "PATCH"),
        ("POST", "/api/v1/echo/", ""),
        ("POST", "/healthz", "GET"),
        ("DELETE", "/openapi.json", "GET"),
    ] {
        let reply = send(request(method, uri, &token), Body::empty()).await;
        if allowed.is_empty() {
            reply.assert_problem(StatusCode::NOT_FOUND);
            continue;
        }
        reply.assert_problem(StatusCode::METHOD_NOT_ALLOWED);
        let allow = reply.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(allow.contains(allowed), "{uri}: Allow {allow:?}");
    }
    // A path that is not UTF-8 once decoded: axum's `Path` rejection.
    send(request("GET", "/api/v1/notes/%FF", &token), Body::empty())
        .await
        .assert_problem(StatusCode::BAD_REQUEST);

    // Past axum's default body limit (2 MB).
    let big = format!(r#"{{"title": "{}"}}"#, "x".repeat(3 << 20));
    for uri in ["/api/v1/notes", "/api/v1/auth/signup", "/api/v1/echo"] {
        let builder = request("POST", uri, &token).header("content-type", "application/json");
        send(builder, Body::from(big.clone()))
            .await
            .assert_problem(StatusCode::PAYLOAD_TOO_LARGE);
    }

    for uri in ["/api/v1/notes", "/api/v1/auth/signup", "/api/v1/echo"] {
        let builder = request("POST", uri, &token).header("content-type", "text/plain");
        send(builder, Body::from(r#"{"title": "a"}"#))
            .await
            .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        send(request("POST", uri, &token), Body::from(r#"{"title": "a"}"#))
            .await
            .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        h.send_json("POST", &uri["/api/v1".len()..], "acme", t, r#"{"title": "#)
            .await
            .assert_problem(StatusCode::BAD_REQUEST);
    }

    let long = json!({ "title": "x".repeat(201) }).to_string();
    let reply = h.send_json("POST", "/notes", "acme", t, &long).await;
    assert_eq!(invalid_fields(&reply), ["title"]);
    // axum's `Json` extractor in a hand-written route: its 422 keeps its message.
    let reply = h.send_json("POST", "/echo", "acme", t, r#"{"wort": "a"}"#).await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.json()["detail"].as_str().unwrap().contains("word"), "{reply:?}");
    let reply = h.send_json("POST", "/echo", "acme", t, r#"{"word": "a"}"#).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    // A hand-written route's bare status becomes a problem; a body it typed
    // itself is its own.
    send(request("GET", "/api/v1/bare-conflict", &token), Body::empty())
        .await
        .assert_problem(StatusCode::CONFLICT);
    let reply = send(request("GET", "/api/v1/own-conflict", &token), Body::empty()).await;
    assert_eq!(
        (reply.status, reply.content_type()),
        (StatusCode::CONFLICT, "application/json")
    );
    assert_eq!(reply.json(), json!({ "mine": true }));
    // No token: 401, with its challenge.
    let reply = h.send_json("GET", "/notes", "acme", None, "").await;
    reply.assert_problem(StatusCode::UNAUTHORIZED);
    assert!(reply.headers.contains_key("www-authenticate"));
}

async fn client_request_ids_are_bounded(h: Harness) {
    let token = owner(&h).await;
    let long = "a".repeat(10_000);
    let longest = "b".repeat(64);
    let ids = [
        "req-1.a_b:c",
        long.as_str(),
        "has space",
        "tab\there",
        "\u{e9}t\u{e9}",
        longest.as_str(),
        &longest[1..],
    ];
    for id in ids {
        let builder = request("POST", "/api/v1/notes", &token)
            .header("content-type", "application/json")
            .header(
                "x-request-id",
                axum::http::HeaderValue::from_bytes(id.as_bytes()).unwrap(),
            );
        let reply = h.send(builder.body(Body::from(r#"{"title": "a"}"#)).unwrap()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }
    let stored: Vec<String> = h
        .audit_request_ids()
        .await
        .into_iter()
        .filter(|(action, _)| action == "note.create")
        .map(|(_, id)| id.expect("every write has a request id"))
        .collect();
    assert_eq!(stored.len(), ids.len());
    for (id, stored) in ids.iter().zip(&stored) {
        let kept = ["req-1.a_b:c", &longest[1..]].contains(id) || *id == longest;
        if kept {
            assert_eq!(stored, id);
        } else {
            assert_ne!(stored, id);
            assert!(uuid::Uuid::parse_str(stored).is_ok(), "a generated id, not {stored:?}");
        }
    }
}

async fn decimals_beyond_what_is_stored_exactly_are_refused(h: Harness) {
    let token = owner(&h).await;
    let t = Some(token.as_str());
    let exact = format!("0.{}", "1234567".repeat(4));
    let created = h
        .send_json(
            "POST",
            "/notes",
            "acme",
            t,
            &format!(r#"{{"title": "a", "amount": "{exact}"}}"#),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.json()["amount"], exact.as_str(), "28 places are kept");
    let path = format!("/notes/{}", created.json()["id"]);
    let read = h.send_json("GET", &path, "acme", t, "").await.json();
    assert_eq!(read["amount"], exact.as_str(), "and read back exactly");

    let too_precise = [
        format!(r#""{exact}9""#),
        format!(r#""{}""#, "9".repeat(29)),
        format!(r#""-{}.5""#, "9".repeat(28)),
        format!("{exact}9"),
        "1e-29".to_owned(),
    ];
    for amount in &too_precise {
        let body = format!(r#"{{"title": "b", "amount": {amount}}}"#);
        let reply = h.send_json("POST", "/notes", "acme", t, &body).await;
        assert_eq!(invalid_fields(&reply), ["amount"], "{amount}");
        assert_eq!(reply.json()["errors"][0]["code"], "too_precise", "{amount}");
        let reply = h
            .send_json("PATCH", &path, "acme", t, &format!(r#"{{"amount": {amount}}}"#))
            .await;
        assert_eq!(invalid_fields(&reply), ["amount"], "{amount}");
    }
    // A JSON number is read from its text, never as a binary float.
    let reply = h
        .send_json(
            "POST",
            "/notes",
            "acme",
            t,
            &format!(r#"{{"title": "c", "amount": {exact}}}"#),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.json()["amount"], exact.as_str(), "28 places from a JSON number");
    assert_eq!(h.count("SELECT COUNT(*) FROM notes").await, 2);
    let read = h.send_json("GET", &path, "acme", t, "").await.json();
    assert_eq!(read["amount"], exact.as_str(), "unchanged");
}

fn one_sign_in(config: &mut rookery::config::Config) {
    config.sign_in_rate = (1, 3600);
}

async fn rate_limited_sign_ins_are_problems(h: Harness) {
    h.signup("acme", "ada@example.com", PW).await;
    let body = json!({ "email": "ada@example.com", "password": PW }).to_string();
    let reply = h.send_json("POST", "/auth/login", "acme", None, &body).await;
    reply.assert_problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers.contains_key("retry-after"), "{reply:?}");
}

fn no_time(config: &mut rookery::config::Config) {
    config.request_timeout = std::time::Duration::ZERO;
}

async fn timed_out_requests_are_problems(h: Harness) {
    let body = json!({ "email": "ada@example.com", "password": PW }).to_string();
    h.send_json("POST", "/auth/login", "acme", None, &body)
        .await
        .assert_problem(StatusCode::SERVICE_UNAVAILABLE);
}

macro_rules! on_both_backends_with {
    ($($configure:ident: $scenario:ident),* $(,)?) => {
        mod configured_sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    crate::support::run_with(crate::Backend::Sqlite, crate::$configure, crate::$scenario).await;
                }
            )*
        }
        mod configured_postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    crate::support::run_with(crate::Backend::Postgres, crate::$configure, crate::$scenario).await;
                }
            )*
        }
    };
}

on_both_backends_with!(
    one_sign_in: rate_limited_sign_ins_are_problems,
    no_time: timed_out_requests_are_problems,
);
