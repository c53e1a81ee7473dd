//! The operations: every status each one can answer, with its schema.
//!
//! Statuses come in groups that follow the request's way through the
//! server (README, "What every generated route does"): every API route can
//! answer 503 (database down or `ROOKERY_REQUEST_TIMEOUT` passed); an
//! authenticated one 401, 403 and 429 before its handler; a route with a
//! JSON body 400, 413, 415 and 422 before its own work.

use serde_json::{Map, Value, json};

use super::schema::{field_schema, key_schema, pascal, text};
use crate::app_spec::AppSpec;
use crate::model::ModelDef;

/// The statuses of every authenticated route, before its handler runs.
pub(crate) const AUTHENTICATED: &[u16] = &[401, 403, 429, 503];
/// The statuses of reading a JSON body (`http::body` and the identity
/// routes' `JsonBody`).
pub(crate) const JSON_BODY: &[u16] = &[400, 413, 415, 422];

/// What an error status means, as the document says it.
fn meaning(status: u16) -> &'static str {
    match status {
        400 => {
            "Malformed request: a body that is not a JSON object, malformed JSON, an unknown field or a value of the wrong type, or a query parameter that does not parse"
        }
        401 => "Missing, invalid or expired credentials",
        403 => {
            "The request names no tenant or another one than its credentials, the caller lacks a permission, the plan lacks a feature, or the plan's quota is used up (the problem's `type` says which)"
        }
        404 => "No such resource in this tenant",
        409 => {
            "Conflicts with stored data (a unique value is taken, or the row is still referenced), the change would leave the tenant without an owner (`last-owner`), or a request with this `Idempotency-Key` is still running (`Retry-After`)"
        }
        410 => "The invitation was already used or has expired",
        413 => "The body is larger than the app accepts",
        415 => "The body is not declared as JSON (`Content-Type: application/json`)",
        422 => {
            "Field rules broken (each listed in `errors`), a referenced row does not exist in this tenant, or the `Idempotency-Key` was used for another request"
        }
        429 => {
            "The tenant's rate limit (`rate-limited`) or a rate quota of its plan (`quota-exhausted`, with the quota, its limit and window) is used up; `Retry-After` says when to try again, `RateLimit-Policy` and `RateLimit` which policy and when it resets"
        }
        503 => "The database is unavailable, or the request ran out of time (nothing it began was committed)",
        _ => "Error",
    }
}

pub(super) fn problem(status: u16) -> Value {
    let mut r = json!({"description": meaning(status), "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    if status == 429 || status == 409 {
        r["headers"] = json!({"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer", "minimum": 0}}});
    }
    if status == 429 {
        r["headers"]["RateLimit-Policy"] = json!({"description": "The policy used up: `\"<name>\";q=<requests>;w=<window seconds>` (`tenant` for the rate limit, the quota's name for a rate quota)", "schema": {"type": "string"}});
        r["headers"]["RateLimit"] = json!({"description": "What is left of it: `\"<name>\";r=<remaining>;t=<seconds until it resets>`", "schema": {"type": "string"}});
    }
    if status == 401 {
        r["headers"] = json!({"WWW-Authenticate": {"schema": {"type": "string"}}});
    }
    r
}

pub(super) fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

pub(super) fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The responses object: `success` answers, then a problem for each of
/// `errors` (in order, duplicates once).
pub(super) fn responses(success: &[(u16, Value)], errors: &[&[u16]]) -> Value {
    let mut r = Map::new();
    for (status, answer) in success {
        r.insert(status.to_string(), answer.clone());
    }
    let mut codes: Vec<u16> = errors.iter().flat_map(|group| group.iter().copied()).collect();
    codes.sort_unstable();
    codes.dedup();
    for code in codes {
        r.insert(code.to_string(), problem(code));
    }
    Value::Object(r)
}

pub(super) fn json_body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

pub(super) fn model_paths(prefix: &str, def: &ModelDef, paths: &mut Map<String, Value>) {
    let name = pascal(def.name);
    let tag = json!([def.name]);
    let mut sortable = vec!["id".to_owned(), "created_at".to_owned(), "updated_at".to_owned()];
    sortable.extend(def.fields.iter().filter(|f| f.sortable).map(|f| f.name.to_owned()));
    let sorts: Vec<String> = sortable.iter().flat_map(|s| [s.clone(), format!("-{s}")]).collect();
    let mut list_params = vec![
        json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": crate::repo::MAX_LIMIT, "default": crate::repo::DEFAULT_LIMIT}}),
        json!({"name": "cursor", "in": "query", "description": "`next_cursor` of the previous page, with the same `sort`; any other value is 400",
               "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}}),
        json!({"name": "sort", "in": "query", "description": "`-` before a key sorts descending", "schema": {"type": "string", "enum": sorts, "default": "-created_at"}}),
    ];
    list_params.push(json!({"name": "count", "in": "query",
        "description": "`true`: the page says in `total` how many rows match the filters and search in all (one more statement)",
        "schema": {"type": "boolean", "default": false}}));
    let searchable: Vec<&str> = def.fields.iter().filter(|f| f.searchable).map(|f| f.name).collect();
    if !searchable.is_empty() {
        list_params.push(json!({"name": "q", "in": "query",
            "description": format!(
                "Text search: only rows where each word (split at whitespace; at most {}) is found in {}, ignoring case. `%` and `_` are plain characters.",
                crate::repo::MAX_SEARCH_WORDS,
                searchable.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or ")
            ),
            "schema": {"type": "string", "maxLength": crate::repo::MAX_SEARCH_LEN, "pattern": super::schema::NO_NUL}}));
    }
    for f in def.fields.iter().filter(|f| f.indexed) {
        let mut s = field_schema(f);
        // A query string has no null: an optional field's filter is its type.
        if let Some(Value::Array(types)) = s.get("type").cloned() {
            s["type"] = types[0].clone();
        }
        if let Some(Value::Array(values)) = s.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
        list_params
            .push(json!({"name": f.name, "in": "query", "description": "Only rows with this value", "schema": s}));
        list_params.push(json!({"name": format!("{}[in]", f.name), "in": "query",
            "description": format!("Only rows whose value is one of these (comma-separated, at most {})", crate::repo::MAX_IN_VALUES),
            "style": "form", "explode": false,
            "schema": {"type": "array", "items": s, "minItems": 1, "maxItems": crate::repo::MAX_IN_VALUES}}));
        if f.ty.is_ordered() {
            for (op, meaning) in [
                ("gt", "greater than"),
                ("gte", "at least"),
                ("lt", "less than"),
                ("lte", "at most"),
            ] {
                list_params.push(json!({"name": format!("{}[{op}]", f.name), "in": "query",
                    "description": format!("Only rows whose value is {meaning} this"), "schema": s}));
            }
        }
    }
    let row = || json_response("The row", reference(&name));
    paths.insert(
        format!("{prefix}/{}", def.path),
        json!({
            "get": {"operationId": format!("list_{}", def.path), "tags": tag, "summary": format!("List {} (needs `{}`)", def.path, def.permissions.read),
                    "parameters": list_params,
                    "responses": responses(&[(200, json_response("One page", reference(&format!("{name}Page"))))], &[AUTHENTICATED, &[400]])},
            "post": {"operationId": format!("create_{}", def.name), "tags": tag, "summary": format!("Create a {} (needs `{}`)", def.name, def.permissions.write),
                     "requestBody": json_body(reference(&format!("Create{name}"))),
                     "responses": responses(&[(201, json!({"description": "Created", "headers": {"Location": {"description": "The new row's URL", "schema": {"type": "string"}}},
                                                             "content": {"application/json": {"schema": reference(&name)}}}))],
                                            &[AUTHENTICATED, JSON_BODY, &[409]])}
        }),
    );
    paths.insert(
        format!("{prefix}/{}/{{id}}", def.path),
        json!({
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": key_schema(def.key)}],
            "get": {"operationId": format!("get_{}", def.name), "tags": tag, "summary": format!("Get a {} (needs `{}`)", def.name, def.permissions.read),
                    "responses": responses(&[(200, row())], &[AUTHENTICATED, &[404]])},
            "patch": {"operationId": format!("update_{}", def.name), "tags": tag, "summary": format!("Update a {} (needs `{}`)", def.name, def.permissions.write),
                      "requestBody": json_body(reference(&format!("Update{name}"))),
                      "responses": responses(&[(200, row())], &[AUTHENTICATED, JSON_BODY, &[404, 409]])},
            "delete": {"operationId": format!("delete_{}", def.name), "tags": tag, "summary": format!("Delete a {} (needs `{}`)", def.name, def.permissions.delete),
                       "responses": responses(&[(204, json!({"description": "Deleted"}))], &[AUTHENTICATED, &[404, 409]])}
        }),
    );
    if let Some(feature) = def.feature {
        // Every operation of the model needs the feature (403
        // `feature-not-in-plan` before its permission is asked).
        for path in [
            format!("{prefix}/{}", def.path),
            format!("{prefix}/{}/{{id}}", def.path),
        ] {
            if let Some(Value::Object(item)) = paths.get_mut(&path) {
                for op in item.values_mut().filter_map(Value::as_object_mut) {
                    if op.contains_key("responses") {
                        op.insert("x-rookery-feature".into(), json!(feature));
                    }
                }
            }
        }
    }
}

/// An object schema of string properties that refuses unknown fields.
pub(super) fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

fn with(mut schema: Value, rules: Value) -> Value {
    if let (Some(s), Value::Object(rules)) = (schema.as_object_mut(), rules) {
        s.extend(rules);
    }
    schema
}

pub(super) fn identity_paths(spec: &AppSpec, prefix: &str, paths: &mut Map<String, Value>) {
    use crate::http::identity::rules;
    let tokens = || json_response("Tokens", reference("Tokens"));
    let open = json!([]);
    let tenant = json!([{"$ref": "#/components/parameters/Tenant"}]);
    let any_object = || json!({"type": "object"});
    let role = super::roles::role_name(spec);
    let email = json!({"type": "string", "maxLength": rules::MAX_EMAIL_LEN, "pattern": rules::EMAIL_PATTERN, "description": "An email address"});
    let new_password = with(
        text(),
        json!({"minLength": rules::MIN_PASSWORD_LEN, "maxLength": rules::MAX_PASSWORD_LEN}),
    );
    // Not only whitespace (names are trimmed), within the length.
    let name = |max: usize| {
        json!({"type": "string", "minLength": 1, "maxLength": max,
               "pattern": format!("^[^\\u0000]*{}[^\\u0000]*$", rules::NOT_SPACE)})
    };
    let public = [429, 503];
    let mut add = |path: &str, method: &str, op: Value| {
        let entry = paths.entry(format!("{prefix}{path}")).or_insert_with(|| json!({}));
        entry[method] = op;
    };
    add(
        "/auth/signup",
        "post",
        json!({"operationId": "signup", "tags": ["auth"], "security": open, "summary": "Create a tenant and its owner",
        "requestBody": json_body(object(json!({"tenant_slug": rules::slug_schema(), "tenant_name": name(rules::MAX_TENANT_NAME_LEN), "email": email, "password": new_password}),
                                        &["tenant_slug", "tenant_name", "email", "password"])),
        "responses": responses(&[(201, json_response("The tenant, its owner and their tokens", reference("SignedUp")))], &[&public, JSON_BODY, &[404, 409]])}),
    );
    add(
        "/auth/login",
        "post",
        json!({"operationId": "login", "tags": ["auth"], "security": open, "summary": "Sign in to the request's tenant, or to the account's first",
        "description": "With a tenant (`X-Tenant` or the tenant's subdomain): tokens for it (`Tokens`). Naming none: tokens for the tenant the account joined first, \
            which the answer names, and every tenant of the account (`SignedInTo`); `POST /auth/switch` then gives tokens for another.",
        "parameters": tenant,
        "requestBody": json_body(object(json!({"email": text(), "password": text()}), &["email", "password"])),
        "responses": responses(&[(200, json_response("Tokens", json!({"oneOf": [reference("Tokens"), reference("SignedInTo")]})))], &[&public, JSON_BODY, &[401, 403, 404]])}),
    );
    add(
        "/auth/refresh",
        "post",
        json!({"operationId": "refresh", "tags": ["auth"], "security": open, "summary": "Rotate a refresh token",
        "parameters": tenant,
        "requestBody": json_body(object(json!({"refresh_token": text()}), &["refresh_token"])),
        "responses": responses(&[(200, tokens())], &[&public, JSON_BODY, &[401, 403]])}),
    );
    add(
        "/auth/logout",
        "post",
        json!({"operationId": "logout", "tags": ["auth"], "security": open, "summary": "Revoke a refresh token",
        "parameters": tenant,
        "requestBody": json_body(object(json!({"refresh_token": text()}), &["refresh_token"])),
        "responses": responses(&[(204, json!({"description": "Revoked"}))], &[&public, JSON_BODY, &[403]])}),
    );
    add(
        "/me",
        "get",
        json!({"operationId": "me", "tags": ["auth"], "summary": "The caller",
        "responses": responses(&[(200, json_response("The caller", reference("Me")))], &[AUTHENTICATED])}),
    );
    add(
        "/me",
        "delete",
        json!({"operationId": "erase_me", "tags": ["auth"], "summary": "Erase my personal data (signed in, not with an API key)",
        "description": format!("The account's password confirms it (422 otherwise). In every tenant the caller is an active member of, the membership ends as a removal does \
            (refresh tokens and the API keys they created revoked, their pending invitations deleted, access tokens stopped at once), audited as `member.erased`. \
            Then the account's email becomes a placeholder, its password hash goes, and the mail addressed to it and the invitations to its address are deleted. \
            Its id stays, so what references the caller (rows, former memberships, the audit log) keeps resolving, to a pseudonym. \
            409 `last-owner`, before anything changes, while the caller is a tenant's only active `{}`: hand it over or delete the tenant first.",
            spec.roles.first().map_or("owner", |r| r.name)),
        "requestBody": json_body(object(json!({"password": text()}), &["password"])),
        "responses": responses(&[(204, json!({"description": "Erased"}))], &[AUTHENTICATED, JSON_BODY, &[409]])}),
    );
    add(
        "/me/tenants",
        "get",
        json!({"operationId": "my_tenants", "tags": ["auth"], "summary": "The caller's tenants",
        "description": "Every tenant the signed-in person is an active member of, with their role there, oldest membership first. Not for API keys (403).",
        "responses": responses(&[(200, json_response("Tenants", json!({"type": "array", "items": reference("TenantOfMine")})))], &[AUTHENTICATED])}),
    );
    add(
        "/auth/switch",
        "post",
        json!({"operationId": "switch_tenant", "tags": ["auth"], "summary": "Tokens for another of the caller's tenants",
        "description": "The tokens hold for the tenant named in the body only; the caller's other tokens stay as they are. A tenant the caller is not an active member of answers 404, whether it exists or not. Not for API keys (403).",
        "requestBody": json_body(object(json!({"tenant": {"type": "string", "pattern": "^[^\\u0000]*$", "description": "The tenant's id or slug"}}), &["tenant"])),
        "responses": responses(&[(200, json_response("Tokens for that tenant", reference("SignedInTo")))], &[AUTHENTICATED, JSON_BODY, &[404]])}),
    );
    add(
        "/api-keys",
        "get",
        json!({"operationId": "list_api_keys", "tags": ["api keys"], "summary": "List API keys (needs `api_keys.manage`)",
        "description": "Every key of the tenant, whoever created it (revoked ones too), with when and from which address (`last_used_at`, `last_used_ip`) it was last used: a use is recorded at most once a minute unless its address changes.",
        "responses": responses(&[(200, json_response("Keys, without secrets", json!({"type": "array", "items": any_object()})))], &[AUTHENTICATED, &[404]])}),
    );
    add(
        "/api-keys",
        "post",
        json!({"operationId": "create_api_key", "tags": ["api keys"], "summary": "Create an API key, shown once (needs `api_keys.manage`)",
        "requestBody": json_body(object(json!({"name": name(rules::MAX_KEY_NAME_LEN), "role": role}), &["name", "role"])),
        "responses": responses(&[(201, json_response("The key", any_object()))], &[AUTHENTICATED, JSON_BODY, &[404]])}),
    );
    add(
        "/api-keys/{id}",
        "delete",
        json!({"operationId": "revoke_api_key", "tags": ["api keys"], "summary": "Revoke an API key (needs `api_keys.manage`)",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "responses": responses(&[(204, json!({"description": "Revoked"}))], &[AUTHENTICATED, &[404]])}),
    );
    add(
        "/invitations",
        "post",
        json!({"operationId": "invite", "tags": ["members"], "summary": "Invite a member (needs `members.manage`)",
        "description": "Mails the invitee a link with the invitation's token (and shows the token once in the answer). \
            An address that matches the pattern but that no mail server takes (a domain label that starts or ends with `-`, \
            a local part over 64 bytes, `(` or `,` outside quotes, dots at its ends or doubled) answers 422.",
        "requestBody": json_body(object(json!({"email": email, "role": role}), &["email", "role"])),
        "responses": responses(&[(201, json_response("The invitation, with its token shown once", any_object()))], &[AUTHENTICATED, JSON_BODY, &[409]])}),
    );
    add(
        "/invitations/accept",
        "post",
        json!({"operationId": "accept_invitation", "tags": ["members"], "security": open, "summary": "Accept an invitation",
        "parameters": tenant,
        "requestBody": json_body(object(json!({"token": text(), "password": new_password, "email": email}), &["token", "password"])),
        "responses": responses(&[(200, tokens())], &[&public, JSON_BODY, &[401, 403, 409, 410]])}),
    );
    add(
        "/members",
        "get",
        json!({"operationId": "list_members", "tags": ["members"], "summary": "List members (needs `members.read`)",
        "description": "Active members by default; `status=former` lists the members who were removed or left (their rows are kept, so what names them still resolves).",
        "parameters": [{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["active", "former"], "default": "active"}}],
        "responses": responses(&[(200, json_response("Members, oldest first", json!({"type": "array", "items": reference("Member")})))], &[AUTHENTICATED, &[400]])}),
    );
    let user_id =
        json!([{"name": "user_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}]);
    let last_owner = format!(
        "409 `last-owner` when it would leave the tenant without an active `{}` (the role a tenant's creator gets).",
        spec.roles.first().map_or("owner", |r| r.name)
    );
    add(
        "/members/{user_id}",
        "patch",
        json!({"operationId": "change_member_role", "tags": ["members"], "summary": "Change a member's role (needs `members.manage`)",
        "description": format!("The caller gives only a role whose every permission they hold, and changes only a member whose every permission they hold (403 otherwise). \
            The member's access tokens stop at once and their refresh tokens are revoked: they sign in again. {last_owner}"),
        "parameters": user_id,
        "requestBody": json_body(object(json!({"role": role}), &["role"])),
        "responses": responses(&[(200, json_response("The member's role before and now", reference("RoleChanged")))], &[AUTHENTICATED, JSON_BODY, &[404, 409]])}),
    );
    add(
        "/members/{user_id}",
        "delete",
        json!({"operationId": "remove_member", "tags": ["members"], "summary": "Remove a member (needs `members.manage`)",
        "description": format!("The membership is kept as `former`. In the same transaction the member's refresh tokens and the API keys they created are revoked \
            and their pending invitations deleted; their access tokens stop at once. A member with a permission the caller lacks answers 403; a former member 204 again. {last_owner}"),
        "parameters": user_id,
        "responses": responses(&[(204, json!({"description": "Removed"}))], &[AUTHENTICATED, &[404, 409]])}),
    );
    add(
        "/members/me/leave",
        "post",
        json!({"operationId": "leave_tenant", "tags": ["members"], "summary": "Leave the tenant (signed in, not with an API key)",
        "description": format!("As a removal, for the caller. {last_owner}"),
        "responses": responses(&[(204, json!({"description": "Left"}))], &[AUTHENTICATED, &[409]])}),
    );
    add(
        "/tenant/transfer",
        "post",
        json!({"operationId": "transfer_tenant", "tags": ["members"], "summary": format!("Hand the tenant over (only a `{}`, signed in)", spec.roles.first().map_or("owner", |r| r.name)),
        "description": "The member `to` (active, not the caller) gets the owner role; the caller steps down to the strongest role the owner role contains. Both sign in again.",
        "requestBody": json_body(object(json!({"to": {"type": "string", "format": "uuid", "description": "The new owner's user id"}}), &["to"])),
        "responses": responses(&[(200, json_response("The new owner and the caller's role now", reference("Transferred")))], &[AUTHENTICATED, JSON_BODY])}),
    );
    add(
        "/tenant/export",
        "get",
        json!({"operationId": "export_tenant", "tags": ["members"], "summary": "Download every row of the tenant (needs `tenant.export`, signed in)",
        "description": "A tar archive, streamed a page at a time: `models/<table>/<n>.jsonl` (each model's rows as the API answers them), `members/<n>.jsonl`, `roles/<n>.jsonl` (custom roles), `audit_log/<n>.jsonl`, then `manifest.json` (the tenant, when, how many rows of each). \
            An archive without `manifest.json` was cut short. The request is audited (`tenant.export`).",
        "responses": responses(&[(200, json!({"description": "The archive", "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}}}))], &[AUTHENTICATED])}),
    );
    let deletion = || json_response("The tenant's deletion", reference("TenantDeletion"));
    add(
        "/tenant/deletion",
        "get",
        json!({"operationId": "show_tenant_deletion", "tags": ["members"], "summary": "Whether the tenant is to be deleted, and when (any member or API key)",
        "responses": responses(&[(200, deletion())], &[AUTHENTICATED])}),
    );
    add(
        "/tenant/deletion",
        "post",
        json!({"operationId": "delete_tenant", "tags": ["members"], "summary": "Ask to delete the tenant (needs `tenant.delete`, signed in)",
        "description": "`confirm` must be the tenant's slug (422 otherwise). After the grace period (`erase_after`; `ROOKERY_DELETION_GRACE_DAYS`, 30 days by default) \
            every row of the tenant is erased: its models' rows, members, API keys, invitations, audit log, webhooks, jobs, mail and usage, then the tenant itself, \
            and the accounts of its members who are members of no other tenant. Until then the tenant works as before (export it with `GET /tenant/export`) \
            and the deletion can be cancelled (`DELETE`). Asked again while one is pending, the pending one is answered and its grace period kept. \
            What is kept afterwards: the tenant's id, when deletion was asked and done, and how many rows each table lost; no name, slug or email. \
            The request is audited (`tenant.deletion_requested`).",
        "requestBody": json_body(object(json!({"confirm": {"type": "string", "description": "The tenant's slug"}}), &["confirm"])),
        "responses": responses(&[(202, deletion())], &[AUTHENTICATED, JSON_BODY])}),
    );
    add(
        "/tenant/deletion",
        "delete",
        json!({"operationId": "cancel_tenant_deletion", "tags": ["members"], "summary": "Cancel the tenant's pending deletion (needs `tenant.delete`, signed in)",
        "description": "204, also when none was pending. Audited (`tenant.deletion_cancelled`).",
        "responses": responses(&[(204, json!({"description": "No deletion is pending"}))], &[AUTHENTICATED])}),
    );
}

/// `GET /usage` (`http/quotas.rs`).
pub(super) fn usage_paths(prefix: &str, paths: &mut Map<String, Value>) {
    paths.insert(
        format!("{prefix}/usage"),
        json!({"get": {"operationId": "usage", "tags": ["plan"], "summary": "The plan's quotas and what the tenant used of each (any member or API key)",
            "description": "Each quota of the tenant's plan. A rate quota (`kind: rate`, such as `api_calls = \"1000/month\"`) counts the tenant's authenticated API requests in UTC calendar windows (hour, day or month): `used` in the window from `window_start` to `resets_at`, calls reserved by other instances included. \
                A count quota (`kind: count`) is what exists now: the rows of its model, or for `members` the active members and pending invitations; `used` may pass `limit` after a downgrade. \
                This request is not counted against the rate quotas and is answered when they are used up.",
            "responses": responses(&[(200, json_response("The plan and its quotas", reference("Usage")))], &[AUTHENTICATED])}}),
    );
}

/// `GET /audit-log` (when some role grants `audit.read`).
pub(super) fn audit_paths(prefix: &str, paths: &mut Map<String, Value>) {
    let string = |name: &str, description: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}, "description": description});
    let instant = |name: &str, description: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "format": "date-time"}, "description": description});
    let parameters = json!([
        {"name": "actor", "in": "query", "schema": {"type": "string", "format": "uuid"}, "description": "Rows of this actor (a user's or an API key's id)"},
        string("action", "This action exactly (`project.update`, `auth.sign_in_failed`, `api_key.revoke`, …)"),
        string("model", "This target type (a model's name, `api_key`, `member`, `invitation`, `tenant`, …)"),
        string("record", "This target id (with `model`, one record's history)"),
        instant("from", "At or after this instant (RFC 3339)"),
        instant("to", "Before this instant (RFC 3339)"),
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": crate::repo::MAX_LIMIT, "default": crate::repo::DEFAULT_LIMIT}},
        {"name": "cursor", "in": "query", "description": "`next_cursor` of the previous page; any other value is 400",
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}}
    ]);
    let page = json!({"type": "object", "required": ["data"], "properties": {
        "data": {"type": "array", "items": reference("AuditRow")},
        "next_cursor": {"type": "string", "description": "The next page's cursor; absent on the last page"}}});
    paths.insert(
        format!("{prefix}/audit-log"),
        json!({"get": {"operationId": "list_audit_log", "tags": ["audit"], "summary": "Read the audit log (needs `audit.read`)",
            "description": "The tenant's audit rows, newest first (`at`, then `id`): every write of an audited model with the values it changed \
                (`changes`: `after` for a create, `before` and `after` of the changed fields for an update, `before` for a delete; a sensitive field is \
                `{\"masked\": true}`), and the platform's events (sign-ins and failed sign-ins, API keys, members, invitations). \
                Rows are sealed into the tenant's hash chain (`seq`) within seconds; `<app> audit verify` checks it.",
            "x-rookery-permission": "audit.read",
            "parameters": parameters,
            "responses": responses(&[(200, json_response("One page of the audit log", page))], &[AUTHENTICATED, &[400]])}}),
    );
}

/// The schema of one audit row.
pub(super) fn audit_schemas(schemas: &mut Map<String, Value>) {
    let opt = |ty: &str| json!({"type": [ty, "null"]});
    schemas.insert(
        "AuditRow".into(),
        json!({"type": "object",
            "required": ["id", "at", "actor_type", "actor_id", "action", "target_type", "target_id", "request_id", "metadata", "changes", "seq"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "at": {"type": "string", "format": "date-time"},
                "actor_type": {"type": "string", "enum": ["user", "api_key", "system", "anonymous"]},
                "actor_id": {"type": ["string", "null"], "format": "uuid"},
                "action": {"type": "string"},
                "target_type": opt("string"),
                "target_id": opt("string"),
                "request_id": opt("string"),
                "metadata": {"description": "Facts beside the action (never secrets)"},
                "changes": {"type": ["object", "null"], "description": "Per field: `before` and/or `after`, or `masked: true` for a sensitive field",
                    "additionalProperties": {"type": "object", "properties": {"before": {}, "after": {}, "masked": {"const": true}}}},
                "seq": {"type": ["integer", "null"], "description": "Its place in the tenant's hash chain; null until sealed"}
            }}),
    );
}

pub(super) fn ops_paths(paths: &mut Map<String, Value>) {
    let plain = |description: &str| json!({"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}});
    paths.insert(
        "/healthz".into(),
        json!({"get": {"operationId": "healthz", "tags": ["ops"], "security": [], "summary": "Liveness", "responses": {"200": plain("Up")}}}),
    );
    paths.insert(
        "/readyz".into(),
        json!({"get": {"operationId": "readyz", "tags": ["ops"], "security": [], "summary": "Readiness (database reachable and migrated)",
                       "responses": {"200": plain("Ready"), "503": plain("Database unavailable or behind its migrations")}}}),
    );
}

/// The shared schemas: problems and the identity answers.
pub(super) fn common_schemas(schemas: &mut Map<String, Value>) {
    let s = json!({"type": "string"});
    let uuid = json!({"type": "string", "format": "uuid"});
    schemas.insert(
        "Problem".into(),
        json!({"type": "object", "description": "RFC 9457 problem details", "required": ["type", "title", "status", "detail"], "properties": {
            "type": s, "title": s, "status": {"type": "integer", "minimum": 400, "maximum": 599}, "detail": s,
            "errors": {"type": "array", "description": "With 422: every broken field rule", "items": {"type": "object", "required": ["field", "code", "message"], "properties": {"field": s, "code": s, "message": s}}},
            "quota": {"type": "string", "description": "With `quota-exhausted`: the rate quota"},
            "limit": {"type": "integer", "minimum": 0, "description": "With `quota-exhausted`: calls allowed per window"},
            "period": {"type": "string", "enum": ["hour", "day", "month"], "description": "With `quota-exhausted`: the window's period"},
            "window_start": {"type": "string", "format": "date-time", "description": "With `quota-exhausted`: when the window began (UTC)"},
            "resets_at": {"type": "string", "format": "date-time", "description": "With `quota-exhausted`: when the next one begins (UTC)"}
        }}),
    );
    let token_props = json!({"access_token": s, "token_type": {"type": "string", "enum": ["Bearer"]}, "expires_in": {"type": "integer"}, "refresh_token": s});
    let token_required = json!(["access_token", "token_type", "expires_in", "refresh_token"]);
    schemas.insert(
        "Tokens".into(),
        json!({"type": "object", "required": token_required, "properties": token_props}),
    );
    let mut signed_up = token_props.as_object().cloned().unwrap_or_default();
    signed_up.insert("tenant".into(), json!({"type": "object", "required": ["id", "slug", "name", "plan"], "properties": {"id": uuid, "slug": s, "name": s, "plan": s}}));
    signed_up.insert(
        "user".into(),
        json!({"type": "object", "required": ["id", "email"], "properties": {"id": uuid, "email": s}}),
    );
    schemas.insert(
        "SignedUp".into(),
        json!({"type": "object", "required": ["tenant", "user", "access_token", "token_type", "expires_in", "refresh_token"], "properties": signed_up}),
    );
    schemas.insert(
        "TenantOfMine".into(),
        json!({"type": "object", "required": ["id", "slug", "name", "role"], "properties": {"id": uuid, "slug": s, "name": s, "role": s}}),
    );
    let mut signed_in = token_props.as_object().cloned().unwrap_or_default();
    signed_in.insert("tenant".into(), reference("TenantOfMine"));
    signed_in.insert(
        "tenants".into(),
        json!({"type": "array", "items": reference("TenantOfMine"), "description": "Every tenant the account is an active member of, oldest membership first"}),
    );
    schemas.insert(
        "SignedInTo".into(),
        json!({"type": "object", "required": ["tenant", "tenants", "access_token", "token_type", "expires_in", "refresh_token"], "properties": signed_in}),
    );
    let time = json!({"type": "string", "format": "date-time"});
    let nullable = |t: &str, format: &str| json!({"type": [t, "null"], "format": format});
    schemas.insert(
        "Member".into(),
        json!({"type": "object", "required": ["user_id", "email", "role", "status", "created_at", "removed_at", "removed_by"], "properties": {
            "user_id": uuid, "email": s, "role": s, "status": {"type": "string", "enum": ["active", "former"]}, "created_at": time,
            "removed_at": nullable("string", "date-time"), "removed_by": nullable("string", "uuid")
        }}),
    );
    schemas.insert(
        "RoleChanged".into(),
        json!({"type": "object", "required": ["user_id", "from", "role"], "properties": {"user_id": uuid, "from": s, "role": s}}),
    );
    schemas.insert(
        "TenantDeletion".into(),
        json!({"type": "object", "required": ["pending"], "properties": {
            "pending": {"type": "boolean", "description": "Whether a deletion is pending"},
            "requested_at": {"type": "string", "format": "date-time", "description": "When it was asked for"},
            "requested_by": {"type": "string", "format": "uuid", "description": "Who asked (absent: the platform's operator)"},
            "erase_after": {"type": "string", "format": "date-time", "description": "When the grace period ends: the tenant is erased at the erasure job's first run after it"}
        }}),
    );
    schemas.insert(
        "Transferred".into(),
        json!({"type": "object", "required": ["to", "role", "your_role"], "properties": {"to": uuid, "role": s, "your_role": s}}),
    );
    let count = json!({"type": "integer", "minimum": 0});
    schemas.insert(
        "Usage".into(),
        json!({"type": "object", "required": ["plan", "quotas"], "properties": {
            "plan": s,
            "quotas": {"type": "array", "items": {"type": "object", "required": ["name", "kind", "used", "limit"], "properties": {
                "name": s, "kind": {"type": "string", "enum": ["rate", "count"]}, "used": count, "limit": count,
                "period": {"type": "string", "enum": ["hour", "day", "month"], "description": "Rate quotas: the window's period"},
                "window_start": {"type": "string", "format": "date-time", "description": "Rate quotas: when this window began (UTC)"},
                "resets_at": {"type": "string", "format": "date-time", "description": "Rate quotas: when the next one begins (UTC)"}
            }}}
        }}),
    );
    schemas.insert(
        "Me".into(),
        json!({"type": "object", "required": ["user_id", "tenant_id", "tenant_slug", "plan", "role", "permissions", "own_permissions", "via"], "properties": {
            "user_id": uuid, "tenant_id": uuid, "tenant_slug": s, "plan": s, "role": s,
            "permissions": {"type": "array", "items": s, "description": "Permissions on every row"},
            "own_permissions": {"type": "array", "items": s, "description": "Permissions on the caller's own rows only"}, "via": {"type": "string", "enum": ["user", "api_key"]}
        }}),
    );
}
