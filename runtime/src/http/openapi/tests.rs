//! The document states every status and every rule: data-driven over a
//! model with every field type and option.

use serde_json::{Value, json};

use crate::app_spec::{AppSpec, AuthMethod, RoleDef};
use crate::model::{FieldDef, FieldType, KeyKind, ModelDef, Permissions, RefTarget, Sort};

static ROLES: [RoleDef; 2] = [
    RoleDef {
        name: "owner",
        permissions: &["things.read"],
        own: &[],
    },
    RoleDef {
        name: "viewer",
        permissions: &["things.read"],
        own: &[],
    },
];

static SPEC: AppSpec = AppSpec {
    name: "demo",
    title: "Demo",
    api_prefix: "/api/v1",
    resolvers: &[],
    auth_methods: &[AuthMethod::Password, AuthMethod::ApiKey],
    roles: &ROLES,
    permissions: &[],
    features: &[],
    plans: &[],
    gates: crate::app_spec::Gates::NONE,
    schedules: &[],
    postgres_migrations: &[],
    sqlite_migrations: &[],
};

static FIELDS: [FieldDef; 13] = [
    FieldDef {
        max_len: Some(20),
        min: Some(2),
        unique: true,
        ..FieldDef::new("name", "name", FieldType::String)
    },
    FieldDef {
        optional: true,
        ..FieldDef::new("notes", "notes", FieldType::Text)
    },
    FieldDef {
        min: Some(-5),
        max: Some(5),
        indexed: true,
        ..FieldDef::new("rank", "rank", FieldType::Int)
    },
    FieldDef {
        default: Some("0"),
        sortable: true,
        ..FieldDef::new("score", "score", FieldType::BigInt)
    },
    FieldDef {
        min: Some(0),
        max: Some(10),
        optional: true,
        ..FieldDef::new("price", "price", FieldType::Decimal)
    },
    FieldDef {
        default: Some("false"),
        ..FieldDef::new("done", "done", FieldType::Bool)
    },
    FieldDef {
        optional: true,
        ..FieldDef::new("due", "due", FieldType::Date)
    },
    FieldDef::new("at", "at", FieldType::DateTime),
    FieldDef::new("token", "token", FieldType::Uuid),
    FieldDef {
        optional: true,
        ..FieldDef::new("meta", "meta", FieldType::Json)
    },
    FieldDef {
        optional: true,
        indexed: true,
        ..FieldDef::new("color", "color", FieldType::Enum(&["red", "blue"]))
    },
    FieldDef::new(
        "parent",
        "parent_id",
        FieldType::Ref(RefTarget {
            table: "things",
            column: "id",
            key: KeyKind::BigInt,
        }),
    ),
    FieldDef {
        optional: true,
        ..FieldDef::new(
            "owner",
            "owner_id",
            FieldType::Ref(RefTarget {
                table: "memberships",
                column: "user_id",
                key: KeyKind::Uuid,
            }),
        )
    },
];

static THING: ModelDef = ModelDef {
    name: "thing",
    table: "things",
    path: "things",
    key: KeyKind::BigInt,
    fields: &FIELDS,
    permissions: Permissions {
        read: "things.read",
        write: "things.write",
        delete: "things.delete",
        assign: None,
    },
    quota: None,
    audit: false,
    events: crate::model::Events::NONE,
    default_sort: Sort {
        field: "created_at",
        descending: true,
    },
    feature: None,
};

fn document() -> Value {
    super::build(&SPEC, &[&THING], &[], &[])
}

/// `(field, the rules its schema must hold)`; `type` includes `null`
/// exactly for optional fields.
fn expected_rules() -> Vec<(&'static str, Value)> {
    let no_nul = super::schema::NO_NUL;
    vec![
        (
            "name",
            json!({"type": "string", "maxLength": 20, "minLength": 2, "pattern": no_nul}),
        ),
        ("notes", json!({"type": ["string", "null"], "pattern": no_nul})),
        (
            "rank",
            json!({"type": "integer", "format": "int32", "minimum": -5, "maximum": 5}),
        ),
        (
            "score",
            json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX}),
        ),
        (
            "price",
            json!({"type": ["string", "null"], "pattern": super::schema::DECIMAL}),
        ),
        ("done", json!({"type": "boolean"})),
        ("due", json!({"type": ["string", "null"], "format": "date"})),
        ("at", json!({"type": "string", "format": "date-time"})),
        ("token", json!({"type": "string", "format": "uuid"})),
        (
            "color",
            json!({"type": ["string", "null"], "enum": ["red", "blue", null]}),
        ),
        ("parent", json!({"type": "integer", "format": "int64"})),
        ("owner", json!({"type": ["string", "null"], "format": "uuid"})),
    ]
}

#[test]
fn every_field_rule_is_stated() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for (field, rules) in expected_rules() {
        for schema in ["Thing", "CreateThing", "UpdateThing"] {
            let actual = &schemas[schema]["properties"][field];
            for (key, value) in rules.as_object().unwrap() {
                // A request may send a decimal as a JSON number too.
                let value = match (field, schema, key.as_str()) {
                    ("price", "CreateThing" | "UpdateThing", "type") => &json!(["string", "number", "null"]),
                    _ => value,
                };
                assert_eq!(&actual[key], value, "{schema}.{field}.{key} in {actual}");
            }
        }
    }
    let price = &schemas["CreateThing"]["properties"]["price"]["description"];
    assert!(
        price.as_str().unwrap().contains("at least 0; at most 10"),
        "decimal bounds are described: {price}"
    );
    assert!(
        schemas["CreateThing"]["properties"]["meta"].get("type").is_none(),
        "JSON is any value"
    );
}

#[test]
fn required_and_unknown_fields() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let required: Vec<&str> = FIELDS
        .iter()
        .filter(|f| !f.optional && f.default.is_none())
        .map(|f| f.name)
        .collect();
    assert_eq!(schemas["CreateThing"]["required"], json!(required));
    assert_eq!(
        schemas["UpdateThing"].get("required"),
        None,
        "every update field is optional"
    );
    for schema in ["CreateThing", "UpdateThing"] {
        assert_eq!(schemas[schema]["additionalProperties"], json!(false), "{schema}");
    }
    let record_required = schemas["Thing"]["required"].as_array().unwrap().len();
    assert_eq!(record_required, 4 + FIELDS.len(), "a stored row has every field");
}

#[test]
fn list_parameters_are_typed_and_bounded() {
    let doc = document();
    let params = doc["paths"]["/api/v1/things"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .clone();
    let param = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))["schema"]
            .clone()
    };
    assert_eq!(
        param("limit"),
        json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 20})
    );
    assert_eq!(
        param("sort")["enum"],
        json!([
            "id",
            "-id",
            "created_at",
            "-created_at",
            "updated_at",
            "-updated_at",
            "score",
            "-score"
        ])
    );
    assert_eq!(param("rank")["minimum"], json!(-5));
    assert_eq!(
        param("color"),
        json!({"type": "string", "enum": ["red", "blue"]}),
        "a filter is never null"
    );
    assert!(params.iter().all(|p| p["name"] != "name"), "only indexed fields filter");
}

/// `(path, method, every status it answers)`.
fn expected_statuses() -> Vec<(&'static str, &'static str, Vec<u16>)> {
    vec![
        ("/api/v1/things", "get", vec![200, 400, 401, 403, 429, 503]),
        (
            "/api/v1/things",
            "post",
            vec![201, 400, 401, 403, 409, 413, 415, 422, 429, 503],
        ),
        ("/api/v1/things/{id}", "get", vec![200, 401, 403, 404, 429, 503]),
        (
            "/api/v1/things/{id}",
            "patch",
            vec![200, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
        ),
        (
            "/api/v1/things/{id}",
            "delete",
            vec![204, 400, 401, 403, 404, 409, 422, 429, 503],
        ),
        (
            "/api/v1/auth/signup",
            "post",
            vec![201, 400, 404, 409, 413, 415, 422, 429, 503],
        ),
        (
            "/api/v1/auth/login",
            "post",
            vec![200, 400, 401, 403, 404, 413, 415, 422, 429, 503],
        ),
        (
            "/api/v1/auth/refresh",
            "post",
            vec![200, 400, 401, 403, 413, 415, 422, 429, 503],
        ),
        (
            "/api/v1/auth/logout",
            "post",
            vec![204, 400, 403, 413, 415, 422, 429, 503],
        ),
        ("/api/v1/me", "get", vec![200, 401, 403, 429, 503]),
        (
            "/api/v1/me",
            "delete",
            vec![204, 400, 401, 403, 409, 413, 415, 422, 429, 503],
        ),
        ("/api/v1/me/tenants", "get", vec![200, 401, 403, 429, 503]),
        (
            "/api/v1/auth/switch",
            "post",
            vec![200, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
        ),
        ("/api/v1/api-keys", "get", vec![200, 401, 403, 404, 429, 503]),
        (
            "/api/v1/api-keys",
            "post",
            vec![201, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
        ),
        (
            "/api/v1/api-keys/{id}",
            "delete",
            vec![204, 400, 401, 403, 404, 409, 422, 429, 503],
        ),
        (
            "/api/v1/invitations",
            "post",
            vec![201, 400, 401, 403, 409, 413, 415, 422, 429, 503],
        ),
        (
            "/api/v1/invitations/accept",
            "post",
            vec![200, 400, 401, 403, 409, 410, 413, 415, 422, 429, 503],
        ),
        ("/api/v1/members", "get", vec![200, 400, 401, 403, 429, 503]),
        (
            "/api/v1/members/{user_id}",
            "patch",
            vec![200, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
        ),
        (
            "/api/v1/members/{user_id}",
            "delete",
            vec![204, 400, 401, 403, 404, 409, 422, 429, 503],
        ),
        (
            "/api/v1/members/me/leave",
            "post",
            vec![204, 400, 401, 403, 409, 422, 429, 503],
        ),
        (
            "/api/v1/tenant/transfer",
            "post",
            vec![200, 400, 401, 403, 409, 413, 415, 422, 429, 503],
        ),
        ("/api/v1/roles", "get", vec![200, 401, 403, 429, 503]),
        (
            "/api/v1/roles",
            "post",
            vec![201, 400, 401, 403, 409, 413, 415, 422, 429, 503],
        ),
        ("/api/v1/roles/{name}", "get", vec![200, 401, 403, 404, 429, 503]),
        (
            "/api/v1/roles/{name}",
            "patch",
            vec![200, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
        ),
        (
            "/api/v1/roles/{name}",
            "delete",
            vec![204, 400, 401, 403, 404, 409, 422, 429, 503],
        ),
        ("/api/v1/permissions", "get", vec![200, 401, 403, 429, 503]),
        ("/api/v1/usage", "get", vec![200, 401, 403, 429, 503]),
        ("/api/v1/tenant/export", "get", vec![200, 401, 403, 429, 503]),
        ("/api/v1/tenant/deletion", "get", vec![200, 401, 403, 429, 503]),
        (
            "/api/v1/tenant/deletion",
            "post",
            vec![202, 400, 401, 403, 409, 413, 415, 422, 429, 503],
        ),
        (
            "/api/v1/tenant/deletion",
            "delete",
            vec![204, 400, 401, 403, 409, 422, 429, 503],
        ),
        ("/healthz", "get", vec![200]),
        ("/readyz", "get", vec![200, 503]),
    ]
}

#[test]
fn every_status_of_every_operation_is_stated() {
    let doc = document();
    for (path, method, statuses) in expected_statuses() {
        let responses = doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is not documented"));
        let actual: Vec<u16> = responses.keys().map(|k| k.parse().unwrap()).collect();
        assert_eq!(actual, statuses, "{method} {path}");
        for (status, response) in responses {
            if path.starts_with("/api/") && status.as_str() >= "400" {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    json!("#/components/schemas/Problem"),
                    "{method} {path} {status} is a problem"
                );
            }
        }
    }
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().keys().filter(|k| *k != "parameters").count())
        .sum();
    assert_eq!(operations, expected_statuses().len(), "every operation is in the table");
    let problem = &doc["components"]["schemas"]["Problem"];
    assert_eq!(problem["required"], json!(["type", "title", "status", "detail"]));
}

#[test]
fn identity_bodies_state_their_rules() {
    let doc = document();
    let body = |path: &str| doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"].clone();
    let signup = body("/api/v1/auth/signup");
    assert_eq!(signup["additionalProperties"], json!(false));
    assert_eq!(signup["properties"]["password"]["minLength"], json!(10));
    assert_eq!(signup["properties"]["password"]["maxLength"], json!(1024));
    assert_eq!(signup["properties"]["tenant_name"]["maxLength"], json!(200));
    assert_eq!(signup["properties"]["email"]["maxLength"], json!(254));
    assert_eq!(
        signup["properties"]["tenant_slug"]["pattern"],
        json!("^[a-z][a-z0-9-]{1,62}$")
    );
    let key = body("/api/v1/api-keys");
    // A role of the app, or a custom role of the tenant.
    assert_eq!(
        key["properties"]["role"]["anyOf"][0]["enum"],
        json!(["owner", "viewer"])
    );
    assert_eq!(
        key["properties"]["role"]["anyOf"][1]["pattern"],
        json!("^[a-z][a-z0-9_-]*$")
    );
    assert_eq!(key["properties"]["name"]["maxLength"], json!(100));
}
