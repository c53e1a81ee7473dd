//! The served OpenAPI document is valid OpenAPI 3.1 and covers every route.
//!
//! `fixtures/openapi-3.1.schema.json` is the OpenAPI Initiative's schema for
//! 3.1 documents (Apache-2.0), as shipped by the `openapi-spec-validator`
//! package.

use serde_json::Value;

fn document() -> Value {
    let app = taskboard::app();
    app.openapi()
}

#[test]
fn taskboard_document_is_valid_openapi_3_1() {
    let schema: Value = serde_json::from_str(include_str!("../fixtures/openapi-3.1.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the OAS 3.1 schema compiles");
    let doc = document();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid OpenAPI document:\n{}", errors.join("\n"));
}

#[test]
fn every_route_is_documented() {
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/v1/auth/signup", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/api-keys", "get"),
        ("/api/v1/api-keys", "post"),
        ("/api/v1/api-keys/{id}", "delete"),
        ("/api/v1/invitations", "post"),
        ("/api/v1/invitations/accept", "post"),
        ("/api/v1/members", "get"),
        ("/api/v1/members/{user_id}", "patch"),
        ("/api/v1/members/{user_id}", "delete"),
        ("/api/v1/members/me/leave", "post"),
        ("/api/v1/tenant/transfer", "post"),
        ("/api/v1/projects", "get"),
        ("/api/v1/projects", "post"),
        ("/api/v1/projects/{id}", "get"),
        ("/api/v1/projects/{id}", "patch"),
        ("/api/v1/projects/{id}", "delete"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/tasks", "post"),
        ("/api/v1/tasks/{id}", "get"),
        ("/api/v1/tasks/{id}", "patch"),
        ("/api/v1/tasks/{id}", "delete"),
        ("/api/v1/webhooks/event-types", "get"),
        ("/api/v1/webhooks/endpoints", "get"),
        ("/api/v1/webhooks/endpoints", "post"),
        ("/api/v1/webhooks/endpoints/{id}", "get"),
        ("/api/v1/webhooks/endpoints/{id}", "patch"),
        ("/api/v1/webhooks/endpoints/{id}", "delete"),
        ("/api/v1/webhooks/endpoints/{id}/rotate-secret", "post"),
        ("/api/v1/webhooks/endpoints/{id}/test", "post"),
        ("/api/v1/webhooks/endpoints/{id}/deliveries", "get"),
        ("/api/v1/webhooks/endpoints/{id}/deliveries/{delivery}", "get"),
        (
            "/api/v1/webhooks/endpoints/{id}/deliveries/{delivery}/redeliver",
            "post",
        ),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let status = &doc["components"]["schemas"]["Project"]["properties"]["status"];
    assert_eq!(status["enum"], serde_json::json!(["active", "archived"]));
    // What endpoints may subscribe to, and what each event sends them.
    let types = &paths["/api/v1/webhooks/endpoints"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
        ["event_types"]["items"]["enum"];
    assert_eq!(
        types,
        &serde_json::json!([
            "project.archived",
            "project.created",
            "project.deleted",
            "project.updated"
        ])
    );
    let created = &doc["webhooks"]["project.created"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(created["properties"]["data"]["$ref"], "#/components/schemas/Project");
    let create = &doc["components"]["schemas"]["CreateTask"]["required"];
    assert_eq!(
        create,
        &serde_json::json!(["project", "title"]),
        "defaults and optional fields are not required"
    );
}

#[test]
fn the_validator_rejects_broken_documents() {
    let schema: Value = serde_json::from_str(include_str!("../fixtures/openapi-3.1.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut doc = document();
    doc.as_object_mut().unwrap().remove("info");
    assert!(!validator.is_valid(&doc), "a document without info is invalid");
    let mut doc = document();
    doc["paths"]["/api/v1/projects"]["get"]["parameters"][0]["in"] = Value::from("body");
    assert!(!validator.is_valid(&doc), "`in: body` is not OpenAPI 3.1");
}
