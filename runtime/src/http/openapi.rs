//! The OpenAPI 3.1 document of every route — generated and hand-registered
//! models alike, identity routes included — served at `/openapi.json`,
//! with a docs page at `/docs`.
//!
//! Built from the models' static descriptions, so it cannot drift from
//! what the routes do.

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::app_spec::AppSpec;
use crate::model::{FieldDef, FieldType, KeyKind, ModelDef};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(document))
        .route("/docs", get(docs))
}

async fn document(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(build(state.spec(), state.models()))
}

/// The docs page: self-contained (its script renders `/openapi.json`), so
/// it works offline and loads nothing from elsewhere.
const DOCS_PAGE: &str = include_str!("../../assets/docs.html");

async fn docs(State(state): State<AppState>) -> Html<String> {
    Html(DOCS_PAGE.replace("{title}", &html_escape(state.spec().title)))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn key_schema(kind: KeyKind) -> Value {
    match kind {
        KeyKind::BigInt => json!({"type": "integer", "format": "int64"}),
        KeyKind::Uuid => json!({"type": "string", "format": "uuid"}),
    }
}

fn field_schema(field: &FieldDef) -> Value {
    let mut schema = match field.ty {
        FieldType::String | FieldType::Text => json!({"type": "string"}),
        FieldType::Int => json!({"type": "integer", "format": "int32"}),
        FieldType::BigInt => json!({"type": "integer", "format": "int64"}),
        FieldType::Decimal => json!({"type": "string", "format": "decimal"}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::DateTime => json!({"type": "string", "format": "date-time"}),
        FieldType::Uuid => json!({"type": "string", "format": "uuid"}),
        FieldType::Json => json!({}),
        FieldType::Enum(values) => json!({"type": "string", "enum": values}),
        FieldType::Ref(target) => {
            let mut s = key_schema(target.key);
            s["description"] = json!(format!("id of a row of `{}` in the same tenant", target.table));
            s
        }
    };
    if let Some(max) = field.max_len {
        schema["maxLength"] = json!(max);
    }
    if let Some(min) = field.min {
        if matches!(field.ty, FieldType::String | FieldType::Text) {
            schema["minLength"] = json!(min);
        } else {
            schema["minimum"] = json!(min);
        }
    }
    if let Some(max) = field.max {
        schema["maximum"] = json!(max);
    }
    if field.optional {
        let ty = schema.get("type").cloned();
        if let Some(Value::String(t)) = ty {
            schema["type"] = json!([t, "null"]);
        }
    }
    schema
}

fn pascal(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn model_schemas(def: &ModelDef, schemas: &mut Map<String, Value>) {
    let name = pascal(def.name);
    let mut record_props = Map::new();
    record_props.insert("id".into(), key_schema(def.key));
    record_props.insert("tenant_id".into(), json!({"type": "string", "format": "uuid"}));
    record_props.insert("created_at".into(), json!({"type": "string", "format": "date-time"}));
    record_props.insert("updated_at".into(), json!({"type": "string", "format": "date-time"}));
    let mut create_props = Map::new();
    let mut update_props = Map::new();
    let mut required_create = Vec::new();
    for field in def.fields {
        let schema = field_schema(field);
        record_props.insert(field.name.into(), schema.clone());
        create_props.insert(field.name.into(), schema.clone());
        update_props.insert(field.name.into(), schema);
        if !field.optional && field.default.is_none() {
            required_create.push(field.name);
        }
    }
    let mut required_record = vec!["id", "tenant_id", "created_at", "updated_at"];
    required_record.extend(def.fields.iter().map(|f| f.name));
    schemas.insert(
        name.clone(),
        json!({"type": "object", "properties": record_props, "required": required_record}),
    );
    schemas.insert(
        format!("Create{name}"),
        json!({"type": "object", "properties": create_props, "required": required_create, "additionalProperties": false}),
    );
    schemas.insert(
        format!("Update{name}"),
        json!({"type": "object", "properties": update_props, "additionalProperties": false}),
    );
    schemas.insert(
        format!("{name}Page"),
        json!({"type": "object", "required": ["data"], "properties": {
            "data": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}},
            "next_cursor": {"type": "string"}
        }}),
    );
}

fn problem(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn standard_errors(responses: &mut Map<String, Value>) {
    responses.insert("401".into(), problem("Missing, invalid or expired credentials"));
    responses.insert(
        "403".into(),
        problem("Wrong tenant, missing permission or quota exhausted"),
    );
    responses.insert("429".into(), problem("The tenant's rate limit is used up"));
}

fn model_paths(prefix: &str, def: &ModelDef, paths: &mut Map<String, Value>) {
    let name = pascal(def.name);
    let schema = |s: String| json!({"$ref": format!("#/components/schemas/{s}")});
    let body = |s: String| json!({"required": true, "content": {"application/json": {"schema": schema(s)}}});
    let ok = |code: &str, desc: &str, s: String| {
        let mut r = Map::new();
        r.insert(
            code.into(),
            json!({"description": desc, "content": {"application/json": {"schema": schema(s)}}}),
        );
        standard_errors(&mut r);
        r
    };
    let tag = json!([def.name]);
    let mut list_params = vec![
        json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}),
        json!({"name": "cursor", "in": "query", "schema": {"type": "string"}}),
        json!({"name": "sort", "in": "query", "schema": {"type": "string"}, "description": "id, created_at, updated_at or a sortable field; prefix with - for descending"}),
    ];
    for f in def.fields.iter().filter(|f| f.indexed) {
        list_params.push(json!({"name": f.name, "in": "query", "schema": field_schema(f)}));
    }
    let mut list_responses = ok("200", "One page", format!("{name}Page"));
    list_responses.insert("400".into(), problem("Invalid query parameter"));
    let mut create_responses = ok("201", "Created", name.clone());
    create_responses.insert("400".into(), problem("Malformed body"));
    create_responses.insert("409".into(), problem("A unique field is taken"));
    create_responses.insert("422".into(), problem("Field rules broken"));
    paths.insert(
        format!("{prefix}/{}", def.path),
        json!({
            "get": {"operationId": format!("list_{}", def.path), "tags": tag, "summary": format!("List {} (needs `{}`)", def.path, def.permissions.read),
                    "parameters": list_params, "responses": list_responses},
            "post": {"operationId": format!("create_{}", def.name), "tags": tag, "summary": format!("Create a {} (needs `{}`)", def.name, def.permissions.write),
                     "requestBody": body(format!("Create{name}")), "responses": create_responses}
        }),
    );
    let id_param = json!([{"name": "id", "in": "path", "required": true, "schema": key_schema(def.key)}]);
    let mut get_responses = ok("200", "The row", name.clone());
    get_responses.insert("404".into(), problem("No such row in this tenant"));
    let mut patch_responses = get_responses.clone();
    patch_responses.insert("422".into(), problem("Field rules broken"));
    let mut delete_responses = Map::new();
    delete_responses.insert("204".into(), json!({"description": "Deleted"}));
    delete_responses.insert("404".into(), problem("No such row in this tenant"));
    delete_responses.insert("409".into(), problem("Still referenced"));
    standard_errors(&mut delete_responses);
    paths.insert(
        format!("{prefix}/{}/{{id}}", def.path),
        json!({
            "parameters": id_param,
            "get": {"operationId": format!("get_{}", def.name), "tags": tag, "summary": format!("Get a {} (needs `{}`)", def.name, def.permissions.read), "responses": get_responses},
            "patch": {"operationId": format!("update_{}", def.name), "tags": tag, "summary": format!("Update a {} (needs `{}`)", def.name, def.permissions.write),
                      "requestBody": body(format!("Update{name}")), "responses": patch_responses},
            "delete": {"operationId": format!("delete_{}", def.name), "tags": tag, "summary": format!("Delete a {} (needs `{}`)", def.name, def.permissions.delete), "responses": delete_responses}
        }),
    );
}

fn identity_paths(prefix: &str, paths: &mut Map<String, Value>) {
    let obj = |props: Value, required: Value| json!({"type": "object", "properties": props, "required": required});
    let body = |schema: Value| json!({"required": true, "content": {"application/json": {"schema": schema}}});
    let tokens = json!({"description": "Tokens", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Tokens"}}}});
    let open = json!([]);
    let s = json!({"type": "string"});
    let mut add = |path: &str, method: &str, op: Value| {
        let entry = paths.entry(format!("{prefix}{path}")).or_insert_with(|| json!({}));
        entry[method] = op;
    };
    add(
        "/auth/signup",
        "post",
        json!({"operationId": "signup", "tags": ["auth"], "security": open, "summary": "Create a tenant and its owner",
        "requestBody": body(obj(json!({"tenant_slug": s, "tenant_name": s, "email": s, "password": s}), json!(["tenant_slug", "tenant_name", "email", "password"]))),
        "responses": {"201": tokens, "409": problem("Slug or account taken"), "422": problem("Invalid input")}}),
    );
    add(
        "/auth/login",
        "post",
        json!({"operationId": "login", "tags": ["auth"], "security": open, "summary": "Sign in to the request's tenant",
        "parameters": [{"$ref": "#/components/parameters/Tenant"}],
        "requestBody": body(obj(json!({"email": s, "password": s}), json!(["email", "password"]))),
        "responses": {"200": tokens, "401": problem("Wrong credentials"), "403": problem("No or unknown tenant")}}),
    );
    add(
        "/auth/refresh",
        "post",
        json!({"operationId": "refresh", "tags": ["auth"], "security": open, "summary": "Rotate a refresh token",
        "parameters": [{"$ref": "#/components/parameters/Tenant"}],
        "requestBody": body(obj(json!({"refresh_token": s}), json!(["refresh_token"]))),
        "responses": {"200": tokens, "401": problem("Invalid refresh token")}}),
    );
    add(
        "/auth/logout",
        "post",
        json!({"operationId": "logout", "tags": ["auth"], "security": open, "summary": "Revoke a refresh token",
        "parameters": [{"$ref": "#/components/parameters/Tenant"}],
        "requestBody": body(obj(json!({"refresh_token": s}), json!(["refresh_token"]))),
        "responses": {"204": {"description": "Revoked"}}}),
    );
    add(
        "/me",
        "get",
        json!({"operationId": "me", "tags": ["auth"], "summary": "The caller",
        "responses": {"200": {"description": "The caller", "content": {"application/json": {"schema": {"type": "object"}}}}, "401": problem("Unauthenticated")}}),
    );
    add(
        "/api-keys",
        "get",
        json!({"operationId": "list_api_keys", "tags": ["api keys"], "summary": "List API keys (needs `api_keys.manage`)",
        "responses": {"200": {"description": "Keys, without secrets", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}}}),
    );
    add(
        "/api-keys",
        "post",
        json!({"operationId": "create_api_key", "tags": ["api keys"], "summary": "Create an API key, shown once (needs `api_keys.manage`)",
        "requestBody": body(obj(json!({"name": s, "role": s}), json!(["name", "role"]))),
        "responses": {"201": {"description": "The key", "content": {"application/json": {"schema": {"type": "object"}}}}, "403": problem("Missing permission")}}),
    );
    add(
        "/api-keys/{id}",
        "delete",
        json!({"operationId": "revoke_api_key", "tags": ["api keys"], "summary": "Revoke an API key",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "responses": {"204": {"description": "Revoked"}, "404": problem("No such key")}}),
    );
    add(
        "/invitations",
        "post",
        json!({"operationId": "invite", "tags": ["members"], "summary": "Invite a member (needs `members.manage`)",
        "requestBody": body(obj(json!({"email": s, "role": s}), json!(["email", "role"]))),
        "responses": {"201": {"description": "The invitation, with its token shown once", "content": {"application/json": {"schema": {"type": "object"}}}}, "403": problem("Missing permission or quota")}}),
    );
    add(
        "/invitations/accept",
        "post",
        json!({"operationId": "accept_invitation", "tags": ["members"], "security": open, "summary": "Accept an invitation",
        "parameters": [{"$ref": "#/components/parameters/Tenant"}],
        "requestBody": body(obj(json!({"token": s, "password": s}), json!(["token", "password"]))),
        "responses": {"200": tokens, "401": problem("Invalid invitation")}}),
    );
    add(
        "/members",
        "get",
        json!({"operationId": "list_members", "tags": ["members"], "summary": "List members (needs `members.read`)",
        "responses": {"200": {"description": "Members", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}}}),
    );
}

/// The OpenAPI 3.1 document of an app with these models.
pub fn build(spec: &AppSpec, models: &[&ModelDef]) -> Value {
    let prefix = spec.api_prefix.trim_end_matches('/');
    let mut paths = Map::new();
    let mut schemas = Map::new();
    paths.insert("/healthz".into(), json!({"get": {"operationId": "healthz", "tags": ["ops"], "security": [], "summary": "Liveness", "responses": {"200": {"description": "Up"}}}}));
    paths.insert("/readyz".into(), json!({"get": {"operationId": "readyz", "tags": ["ops"], "security": [], "summary": "Readiness (database reachable)", "responses": {"200": {"description": "Ready"}, "503": {"description": "Database unavailable"}}}}));
    identity_paths(prefix, &mut paths);
    for def in models {
        model_schemas(def, &mut schemas);
        model_paths(prefix, def, &mut paths);
    }
    schemas.insert(
        "Problem".into(),
        json!({"type": "object", "description": "RFC 9457 problem details", "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}
        }}),
    );
    schemas.insert(
        "Tokens".into(),
        json!({"type": "object", "required": ["access_token", "token_type", "expires_in", "refresh_token"], "properties": {
            "access_token": {"type": "string"}, "token_type": {"type": "string"}, "expires_in": {"type": "integer"}, "refresh_token": {"type": "string"}
        }}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": spec.title, "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An access token or an API key"}},
            "parameters": {"Tenant": {"name": "X-Tenant", "in": "header", "schema": {"type": "string"}, "description": "Tenant id or slug (or use the tenant's subdomain)"}}
        },
        "security": [{"bearer": []}]
    })
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
