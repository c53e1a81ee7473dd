//! The webhook routes in the document (`http/webhooks`), their schemas,
//! and the top-level `webhooks` object: one entry per event type, the
//! request the app sends (the Standard Webhooks envelope and headers).

use serde_json::{Map, Value, json};

use super::paths::{AUTHENTICATED, JSON_BODY, json_body, json_response, reference, responses};
use super::schema::pascal;
use crate::http::webhooks::{FEATURE, MANAGE, MAX_DESCRIPTION_LEN, MAX_URL_LEN, TEST_EVENT};
use crate::model::ModelDef;

fn needs(summary: &str) -> String {
    format!("{summary} (needs `{MANAGE}`, plan feature `{FEATURE}`)")
}

fn op(id: &str, summary: &str) -> Map<String, Value> {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(id));
    op.insert("tags".into(), json!(["webhooks"]));
    op.insert("summary".into(), json!(needs(summary)));
    op.insert("x-rookery-permission".into(), json!(MANAGE));
    op.insert("x-rookery-feature".into(), json!(FEATURE));
    op
}

fn with(mut op: Map<String, Value>, key: &str, value: Value) -> Map<String, Value> {
    op.insert(key.into(), value);
    op
}

fn uuid_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
}

/// The event types field: one or more of the app's, each once.
fn types_schema(event_types: &[String]) -> Value {
    let item = if event_types.is_empty() {
        json!({"type": "string"})
    } else {
        json!({"type": "string", "enum": event_types})
    };
    json!({"type": "array", "items": item, "minItems": 1, "uniqueItems": true,
           "description": "The event types delivered to the endpoint (`GET /webhooks/event-types` lists them)"})
}

pub(super) fn paths(prefix: &str, event_types: &[String], paths: &mut Map<String, Value>) {
    // No U+0000 in any text (the body reader refuses it, 422).
    let url = json!({"type": "string", "minLength": 1, "maxLength": MAX_URL_LEN, "pattern": "^[^\\u0000]*$",
                     "description": "Where deliveries are POSTed: https, and an address on the public internet (400 otherwise)"});
    let description = json!({"type": "string", "maxLength": MAX_DESCRIPTION_LEN, "pattern": "^[^\\u0000]*$"});
    let create = json!({"type": "object", "additionalProperties": false, "required": ["url", "event_types"],
        "properties": {"url": url, "event_types": types_schema(event_types), "description": description}});
    let update = json!({"type": "object", "additionalProperties": false,
        "properties": {"url": url, "event_types": types_schema(event_types), "description": description,
                       "enabled": {"type": "boolean", "description": "`true` re-enables an endpoint the platform disabled"}}});
    let endpoint = || json_response("The endpoint", reference("WebhookEndpoint"));
    let secret = |what: &str| json_response(what, reference("WebhookEndpointWithSecret"));
    let delivery = || json_response("The delivery, pending", reference("WebhookDelivery"));
    let base = format!("{prefix}/webhooks/endpoints");
    let one = format!("{base}/{{id}}");
    let mut add = |path: String, method: &str, op: Map<String, Value>| {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method] = Value::Object(op);
    };
    let list_types = op(
        "list_webhook_event_types",
        "List the event types endpoints may subscribe to",
    );
    let answer = json_response("Event types", json!({"type": "array", "items": {"type": "string"}}));
    add(
        format!("{prefix}/webhooks/event-types"),
        "get",
        with(list_types, "responses", responses(&[(200, answer)], &[AUTHENTICATED])),
    );
    let all = json_response(
        "Every endpoint, oldest first",
        json!({"type": "array", "items": reference("WebhookEndpoint")}),
    );
    add(
        base.clone(),
        "get",
        with(
            op("list_webhook_endpoints", "List webhook endpoints"),
            "responses",
            responses(&[(200, all)], &[AUTHENTICATED]),
        ),
    );
    let post = with(
        op(
            "create_webhook_endpoint",
            "Register a webhook endpoint; its secret is shown once",
        ),
        "requestBody",
        json_body(create),
    );
    add(
        base.clone(),
        "post",
        with(
            post,
            "responses",
            responses(
                &[(201, secret("The endpoint and its signing secret"))],
                &[AUTHENTICATED, JSON_BODY, &[409]],
            ),
        ),
    );
    let id = json!([uuid_param("id")]);
    let get = with(
        op("get_webhook_endpoint", "Get a webhook endpoint"),
        "parameters",
        id.clone(),
    );
    add(
        one.clone(),
        "get",
        with(
            get,
            "responses",
            responses(&[(200, endpoint())], &[AUTHENTICATED, &[404]]),
        ),
    );
    let patch = with(
        op("update_webhook_endpoint", "Update a webhook endpoint"),
        "parameters",
        id.clone(),
    );
    let patch = with(patch, "requestBody", json_body(update));
    add(
        one.clone(),
        "patch",
        with(
            patch,
            "responses",
            responses(&[(200, endpoint())], &[AUTHENTICATED, JSON_BODY, &[404]]),
        ),
    );
    let delete = with(
        op(
            "delete_webhook_endpoint",
            "Delete a webhook endpoint and its delivery log",
        ),
        "parameters",
        id.clone(),
    );
    add(
        one.clone(),
        "delete",
        with(
            delete,
            "responses",
            responses(&[(204, json!({"description": "Deleted"}))], &[AUTHENTICATED, &[404]]),
        ),
    );
    let rotate = with(
        op(
            "rotate_webhook_secret",
            "Rotate the signing secret, shown once; the old one keeps signing for 24 hours",
        ),
        "parameters",
        id.clone(),
    );
    add(
        format!("{one}/rotate-secret"),
        "post",
        with(
            rotate,
            "responses",
            responses(
                &[(200, secret("The endpoint and its new secret"))],
                &[AUTHENTICATED, &[404]],
            ),
        ),
    );
    let test = with(
        op("test_webhook_endpoint", "Send a `webhook.test` event to this endpoint"),
        "parameters",
        id.clone(),
    );
    add(
        format!("{one}/test"),
        "post",
        with(
            test,
            "responses",
            responses(&[(202, delivery())], &[AUTHENTICATED, &[404, 409]]),
        ),
    );
    let page_params = json!([uuid_param("id"),
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": crate::http::webhooks::MAX_LIMIT, "default": crate::http::webhooks::DEFAULT_LIMIT}},
        {"name": "cursor", "in": "query", "description": "`next_cursor` of the previous page; any other value is 400",
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}}]);
    let list = with(
        op("list_webhook_deliveries", "List an endpoint's deliveries, newest first"),
        "parameters",
        page_params,
    );
    let page = json_response("One page", reference("WebhookDeliveryPage"));
    add(
        format!("{one}/deliveries"),
        "get",
        with(
            list,
            "responses",
            responses(&[(200, page)], &[AUTHENTICATED, &[400, 404]]),
        ),
    );
    let both = json!([uuid_param("id"), uuid_param("delivery")]);
    let get = with(
        op("get_webhook_delivery", "Get a delivery with every attempt"),
        "parameters",
        both.clone(),
    );
    let detail = json_response("The delivery and its attempts", reference("WebhookDeliveryDetail"));
    add(
        format!("{one}/deliveries/{{delivery}}"),
        "get",
        with(get, "responses", responses(&[(200, detail)], &[AUTHENTICATED, &[404]])),
    );
    let again = with(
        op(
            "redeliver_webhook_delivery",
            "Send a delivered or failed delivery again",
        ),
        "parameters",
        both,
    );
    add(
        format!("{one}/deliveries/{{delivery}}/redeliver"),
        "post",
        with(
            again,
            "responses",
            responses(&[(202, delivery())], &[AUTHENTICATED, &[404, 409]]),
        ),
    );
}

pub(super) fn schemas(schemas: &mut Map<String, Value>) {
    let s = json!({"type": "string"});
    let uuid = json!({"type": "string", "format": "uuid"});
    let at = json!({"type": "string", "format": "date-time"});
    let maybe_at = json!({"type": ["string", "null"], "format": "date-time"});
    let maybe_int = json!({"type": ["integer", "null"]});
    let endpoint = json!({
        "id": uuid, "url": s, "description": s, "event_types": {"type": "array", "items": s},
        "enabled": {"type": "boolean"},
        "disabled_reason": {"type": ["string", "null"], "enum": ["gone", "failing", null],
                            "description": "Why the platform disabled it: it answered 410, or failed every attempt for 5 days"},
        "failing_since": maybe_at, "previous_secret_until": maybe_at, "created_at": at, "updated_at": at
    });
    let keys: Vec<String> = endpoint
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    schemas.insert(
        "WebhookEndpoint".into(),
        json!({"type": "object", "required": keys, "properties": endpoint}),
    );
    let mut with_secret = endpoint.as_object().cloned().unwrap_or_default();
    with_secret.insert(
        "secret".into(),
        json!({"type": "string", "pattern": "^whsec_", "description": "Shown in this answer only"}),
    );
    let mut required = keys.clone();
    required.push("secret".into());
    schemas.insert(
        "WebhookEndpointWithSecret".into(),
        json!({"type": "object", "required": required, "properties": with_secret}),
    );
    let delivery = json!({
        "id": uuid, "endpoint_id": uuid, "event_id": uuid, "event_type": s,
        "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "attempts": {"type": "integer", "minimum": 0}, "response_code": maybe_int, "latency_ms": maybe_int,
        "error": {"type": ["string", "null"], "description": "The last attempt's failure: `status`, `timeout`, `connect`, …"},
        "last_attempt_at": maybe_at, "next_attempt_at": maybe_at, "created_at": at
    });
    let keys: Vec<String> = delivery
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    schemas.insert(
        "WebhookDelivery".into(),
        json!({"type": "object", "required": keys, "properties": delivery}),
    );
    schemas.insert("WebhookDeliveryPage".into(), json!({"type": "object", "required": ["data", "next_cursor"], "properties": {
        "data": {"type": "array", "items": reference("WebhookDelivery")}, "next_cursor": {"type": ["string", "null"]}}}));
    let attempt = json!({
        "attempt": {"type": "integer", "minimum": 1}, "status": {"type": "string", "enum": ["delivered", "failed"]},
        "response_code": maybe_int, "latency_ms": {"type": "integer", "minimum": 0},
        "error": {"type": ["string", "null"]}, "error_detail": {"type": ["string", "null"]},
        "response": {"type": "string", "description": "The start of the response body (at most 1 KiB)"}, "at": at
    });
    let attempt_keys: Vec<String> = attempt
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    schemas.insert(
        "WebhookAttempt".into(),
        json!({"type": "object", "required": attempt_keys, "properties": attempt}),
    );
    let mut detail = delivery.as_object().cloned().unwrap_or_default();
    detail.insert(
        "history".into(),
        json!({"type": "array", "items": reference("WebhookAttempt")}),
    );
    let mut required = keys;
    required.push("history".into());
    schemas.insert(
        "WebhookDeliveryDetail".into(),
        json!({"type": "object", "required": required, "properties": detail}),
    );
}

/// The top-level `webhooks`: per event type, the POST an endpoint receives.
pub(super) fn outgoing(models: &[&ModelDef], event_types: &[String], out: &mut Map<String, Value>) {
    let header = |name: &str, description: &str| json!({"name": name, "in": "header", "required": true, "schema": {"type": "string"}, "description": description});
    let headers = json!([
        header(
            "webhook-id",
            "The event's id: the same on every attempt and every endpoint (deduplicate by it)"
        ),
        header("webhook-timestamp", "The attempt's time, unix seconds"),
        header(
            "webhook-signature",
            "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated during a rotation"
        ),
    ]);
    let mut types: Vec<&str> = event_types.iter().map(String::as_str).collect();
    types.push(TEST_EVENT);
    for event in types {
        let model = event
            .rsplit_once('.')
            .and_then(|(m, _)| models.iter().find(|d| d.name == m));
        let data = model.map_or_else(|| json!({"type": "object"}), |d| reference(&pascal(d.name)));
        let body = json!({"type": "object", "required": ["type", "timestamp", "data"], "properties": {
            "type": {"const": event}, "timestamp": {"type": "string", "format": "date-time"}, "data": data}});
        out.insert(
            event.to_owned(),
            json!({"post": {
            "summary": format!("`{event}`, signed per Standard Webhooks"),
            "parameters": headers, "requestBody": json_body(body),
            "responses": {"2XX": {"description": "Received; anything else is retried (410 disables the endpoint)"}}}}),
        );
    }
}
