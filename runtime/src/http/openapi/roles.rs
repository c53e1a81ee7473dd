//! The OpenAPI document of the roles routes (`http/identity/roles.rs`).

use serde_json::{Map, Value, json};

use super::paths::{AUTHENTICATED, JSON_BODY, json_body, json_response, object, reference, responses};
use crate::app_spec::AppSpec;
use crate::rbac::{MAX_ROLE_NAME_LEN, ROLE_NAME_PATTERN};

/// A role's name in a request: one of the spec's, or a custom role of the
/// tenant (which no schema can list).
pub(super) fn role_name(spec: &AppSpec) -> Value {
    let system: Vec<&str> = spec.roles.iter().map(|r| r.name).collect();
    json!({"anyOf": [
        {"type": "string", "enum": system, "description": "A role of the app (a system role)"},
        custom_name()
    ]})
}

fn custom_name() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_ROLE_NAME_LEN, "pattern": ROLE_NAME_PATTERN,
           "description": "A custom role of the tenant (`GET /roles`)"})
}

/// `GET|POST /roles`, `GET|PATCH|DELETE /roles/{name}`, `GET /permissions`.
pub(super) fn paths(spec: &AppSpec, prefix: &str, paths: &mut Map<String, Value>) {
    let system: Vec<&str> = spec.roles.iter().map(|r| r.name).collect();
    let grants = json!({"type": "array", "maxItems": crate::http::identity::rules::MAX_GRANTS, "items": {"type": "string", "minLength": 1},
        "description": "Permissions of `GET /permissions`, each on any row (`projects.write`) or on own rows only (`projects.write:own`, where the permission is `ownable`)"});
    let inherits = json!({"type": ["string", "null"], "enum": system.iter().map(|s| json!(s)).chain([Value::Null]).collect::<Vec<_>>(),
        "description": "A role of the app whose permissions the role has too"});
    let name_param =
        json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}}]);
    let rules = "Nobody defines, changes or deletes a role with a permission they lack (403 naming it). \
        Members keep a custom role by its id: a rename or new grants reach its holders' next request, without signing in again.";
    let mut add = |path: &str, method: &str, op: Value| {
        let entry = paths.entry(format!("{prefix}{path}")).or_insert_with(|| json!({}));
        entry[method] = op;
    };
    add(
        "/roles",
        "get",
        json!({"operationId": "list_roles", "tags": ["roles"], "summary": "List the roles (needs `members.read`)",
        "description": "The app's roles (`system: true`, in the spec's order), then the tenant's custom roles by name.",
        "responses": responses(&[(200, json_response("Roles", json!({"type": "array", "items": reference("Role")})))], &[AUTHENTICATED])}),
    );
    add(
        "/roles",
        "post",
        json!({"operationId": "create_role", "tags": ["roles"], "summary": "Define a custom role (needs `roles.manage`)",
        "description": format!("A name (not one of the app's roles), optionally a role of the app it inherits, and grants. {rules} 409 when the tenant has a role of that name. 422 for a grant that is not a permission of the app (`GET /permissions`), or `:own` on one that is not `ownable`."),
        "requestBody": json_body(object(json!({"name": custom_name(), "inherits": inherits, "grants": grants}), &["name"])),
        "responses": responses(&[(201, json_response("The role", reference("Role")))], &[AUTHENTICATED, JSON_BODY, &[409]])}),
    );
    add(
        "/roles/{name}",
        "get",
        json!({"operationId": "show_role", "tags": ["roles"], "summary": "Show a role (needs `members.read`)",
        "parameters": name_param,
        "responses": responses(&[(200, json_response("The role", reference("Role")))], &[AUTHENTICATED, &[404]])}),
    );
    add(
        "/roles/{name}",
        "patch",
        json!({"operationId": "update_role", "tags": ["roles"], "summary": "Rename a custom role or change what it grants (needs `roles.manage`)",
        "description": format!("Fields left out keep their value; `inherits: null` inherits nothing any more. {rules} 409 `system-role` for a role of the app."),
        "parameters": name_param,
        "requestBody": json_body(object(json!({"name": custom_name(), "inherits": inherits, "grants": grants}), &[])),
        "responses": responses(&[(200, json_response("The role now", reference("Role")))], &[AUTHENTICATED, JSON_BODY, &[404, 409]])}),
    );
    add(
        "/roles/{name}",
        "delete",
        json!({"operationId": "delete_role", "tags": ["roles"], "summary": "Delete a custom role (needs `roles.manage`)",
        "description": "409 `system-role` for a role of the app; 409 `role-in-use` while an active member, a pending invitation or an API key not revoked holds it (the answer counts them).",
        "parameters": name_param,
        "responses": responses(&[(204, json!({"description": "Deleted"}))], &[AUTHENTICATED, &[404, 409]])}),
    );
    add(
        "/permissions",
        "get",
        json!({"operationId": "list_permissions", "tags": ["roles"], "summary": "What a role may grant (needs `members.read`)",
        "responses": responses(&[(200, json_response("Every permission of the app", json!({"type": "array", "items": reference("Permission")})))], &[AUTHENTICATED])}),
    );
}

/// `Role` and `Permission`.
pub(super) fn schemas(schemas: &mut Map<String, Value>) {
    let s = json!({"type": "string"});
    let list = json!({"type": "array", "items": {"type": "string"}});
    let nullable_time = json!({"type": ["string", "null"], "format": "date-time"});
    schemas.insert(
        "Role".into(),
        json!({"type": "object", "required": ["name", "system", "inherits", "grants", "permissions", "own_permissions", "created_at", "updated_at"], "properties": {
            "name": s, "system": {"type": "boolean", "description": "A role of the app: it cannot be changed or deleted"},
            "inherits": {"type": ["string", "null"]},
            "grants": {"type": "array", "items": {"type": "string"}, "description": "A custom role's own grants"},
            "permissions": {"type": "array", "items": {"type": "string"}, "description": "Every permission on any row, inherited ones included"},
            "own_permissions": list, "created_at": nullable_time, "updated_at": nullable_time
        }}),
    );
    schemas.insert(
        "Permission".into(),
        json!({"type": "object", "required": ["name", "description", "ownable", "feature"], "properties": {
            "name": s, "description": {"type": ["string", "null"]},
            "ownable": {"type": "boolean", "description": "May be granted on own rows only (`<name>:own`)"},
            "feature": {"type": ["string", "null"], "description": "The plan feature it needs"}
        }}),
    );
}
