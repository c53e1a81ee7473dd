//! The OpenAPI 3.1 document of every route — generated and hand-registered
//! models alike, identity routes included — served at `/openapi.json`,
//! with a docs page at `/docs`.
//!
//! Built from the models' static descriptions, so it cannot drift from
//! what the routes do: every status each operation answers, and every
//! rule the server enforces that a JSON Schema can state. Built once, when
//! the router is; serving it copies nothing.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{AppState, Operation};
use crate::app_spec::AppSpec;
use crate::model::ModelDef;

mod paths;
mod roles;
mod schema;
mod webhooks;

pub(crate) use paths::{AUTHENTICATED, JSON_BODY};
pub(crate) use schema::pascal;

/// `/openapi.json` (the document of `spec`, `models` and the hand-written
/// `operations`, built and serialized here, once) and `/docs`.
pub(super) fn routes(
    spec: &AppSpec,
    models: &[&ModelDef],
    operations: &[Operation],
    event_types: &[String],
) -> Router<AppState> {
    let document = Bytes::from(serde_json::to_vec(&build(spec, models, operations, event_types)).unwrap_or_default());
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .route("/docs", get(docs))
}

/// The docs page: self-contained (its script renders `/openapi.json`), so
/// it works offline and loads nothing from elsewhere.
const DOCS_PAGE: &str = include_str!("../../../assets/docs.html");

async fn docs(State(state): State<AppState>) -> Html<String> {
    Html(DOCS_PAGE.replace("{title}", &html_escape(state.spec().title)))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The OpenAPI 3.1 document of an app with these models, hand-written
/// operations and event types ([`App::openapi`](super::App::openapi)
/// builds its own).
pub(crate) fn build(spec: &AppSpec, models: &[&ModelDef], operations: &[Operation], event_types: &[String]) -> Value {
    let prefix = spec.api_prefix.trim_end_matches('/');
    let mut paths = Map::new();
    let mut schemas = Map::new();
    paths::ops_paths(&mut paths);
    paths::identity_paths(spec, prefix, &mut paths);
    roles::paths(spec, prefix, &mut paths);
    roles::schemas(&mut schemas);
    paths::usage_paths(prefix, &mut paths);
    if super::audit_log::served(spec) {
        paths::audit_paths(prefix, &mut paths);
        paths::audit_schemas(&mut schemas);
    }
    for def in models {
        schema::model_schemas(def, &mut schemas);
        paths::model_paths(prefix, def, &mut paths);
    }
    for op in operations {
        let (path, document) = op.document(prefix, paths::problem);
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[op.method.as_str().to_ascii_lowercase()] = document;
    }
    paths::common_schemas(&mut schemas);
    let mut outgoing = Map::new();
    if super::webhooks::declared(spec) {
        webhooks::paths(prefix, event_types, &mut paths);
        webhooks::schemas(&mut schemas);
        webhooks::outgoing(models, event_types, &mut outgoing);
    }
    idempotent(&mut paths);
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {"title": spec.title, "version": env!("CARGO_PKG_VERSION"),
                 "description": "Every authenticated POST, PUT, PATCH and DELETE takes an `Idempotency-Key` header (`#/components/parameters/IdempotencyKey`): a retry with the same key and request gets the first response again (with `Idempotent-Replayed: true`) and writes nothing more."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An access token or an API key"}},
            "parameters": {
                "Tenant": {"name": "X-Tenant", "in": "header", "schema": {"type": "string"}, "description": "Tenant id or slug (or use the tenant's subdomain)"},
                "IdempotencyKey": {"name": "Idempotency-Key", "in": "header",
                    "schema": {"type": "string", "minLength": 1, "maxLength": crate::http::idempotency::MAX_KEY, "pattern": "^[!-~]+$"},
                    "description": "Makes a retry safe: a retry with the same key and request gets the first response again (with `Idempotent-Replayed: true`) and writes nothing more; the same key with another request is 422; while the first is still running, 409. Keys are per tenant and kept 24 hours."}
            }
        },
        "security": [{"bearer": []}]
    });
    if !outgoing.is_empty() {
        // OpenAPI 3.1's own place for the requests the app sends.
        document["webhooks"] = Value::Object(outgoing);
    }
    document
}

/// Every authenticated unsafe operation takes `Idempotency-Key`
/// (`http/idempotency.rs`, in the authentication middleware), and can
/// answer what a key can: 400 (a malformed key), 409 (in use) and 422
/// (reused for another request). The header is described once, in
/// `info` and as the reusable parameter `IdempotencyKey`, not listed on
/// each operation: whether a key was used before is state no schema can
/// express, so a fuzzer generating it per operation would reuse keys
/// across different bodies and read the 422 as a refused valid request.
fn idempotent(paths: &mut Map<String, Value>) {
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            // Open operations (`security: []`) are not behind authentication,
            // where the header is read.
            let open = op
                .get("security")
                .is_some_and(|s| s.as_array().is_some_and(Vec::is_empty));
            if !matches!(method.as_str(), "post" | "put" | "patch" | "delete") || open {
                continue;
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            if !responses.contains_key("401") {
                continue; // not authenticated: the header is not read
            }
            for status in [400u16, 409, 422] {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| paths::problem(status));
            }
        }
    }
}

#[cfg(test)]
mod docs_tests {
    #[test]
    fn the_docs_page_loads_nothing_from_elsewhere() {
        let page = super::DOCS_PAGE;
        assert!(
            page.contains("fetch(\"/openapi.json\")"),
            "it renders the app's own document"
        );
        for outside in ["http://", "https://", "//cdn", "src=\"//"] {
            assert!(!page.contains(outside), "the docs page refers to `{outside}`");
        }
        assert!(!page.contains("<script src"), "no external scripts");
        assert!(!page.contains("<link"), "no external stylesheets");
    }
}

#[cfg(test)]
mod tests;
