//! JSON Schemas of the models: every field rule the server enforces that a
//! schema can state (types and formats, lengths, bounds, enum values,
//! required and nullable fields, no U+0000, no unknown fields).

use serde_json::{Map, Value, json};

use crate::model::{FieldDef, FieldType, KeyKind, ModelDef};

/// A string without U+0000, which PostgreSQL cannot store (the server
/// answers 422).
pub(crate) const NO_NUL: &str = "^[^\\u0000]*$";

/// A decimal as the server writes it: a JSON string of digits, optionally
/// a point and more digits. A request may send a JSON number too, read
/// from its text (no digit is lost).
pub(super) const DECIMAL: &str = "^-?[0-9]+(\\.[0-9]+)?$";

/// An absolute http or https URL without whitespace or control characters
/// (what `repo::formats::is_url` also parses).
pub(super) const URL: &str = concat!(
    "^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*(:[0-9]{1,4})?",
    "([/?#][^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)?$"
);

/// A plain string without U+0000.
pub(super) fn text() -> Value {
    json!({"type": "string", "pattern": NO_NUL})
}

pub(super) fn key_schema(kind: KeyKind) -> Value {
    match kind {
        KeyKind::BigInt => json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX}),
        KeyKind::Uuid => json!({"type": "string", "format": "uuid"}),
    }
}

/// `minimum` / `maximum`: the field's own bounds inside its type's range.
fn integer(format: &str, lo: i64, hi: i64, field: &FieldDef) -> Value {
    let min = field.min.map_or(lo, |m| m.max(lo));
    let max = field.max.map_or(hi, |m| m.min(hi));
    json!({"type": "integer", "format": format, "minimum": min, "maximum": max})
}

/// The schema of one field's value (`null` included when it is optional).
pub(crate) fn field_schema(field: &FieldDef) -> Value {
    let mut schema = match field.ty {
        FieldType::String | FieldType::Text => {
            let mut s = text();
            if let Some(max) = field.max_len {
                s["maxLength"] = json!(max);
            }
            if let Some(min) = field.min {
                s["minLength"] = json!(min.max(0));
            }
            s
        }
        FieldType::Int => integer("int32", i32::MIN.into(), i32::MAX.into(), field),
        FieldType::BigInt => integer("int64", i64::MIN, i64::MAX, field),
        FieldType::Decimal => {
            let mut s = json!({"type": "string", "format": "decimal", "pattern": DECIMAL});
            let mut rule =
                String::from("A decimal as a JSON string; at most 28 digits after the point, 96 bits in all");
            if let Some(min) = field.min {
                rule.push_str(&format!("; at least {min}"));
            }
            if let Some(max) = field.max {
                rule.push_str(&format!("; at most {max}"));
            }
            s["description"] = json!(rule + ".");
            s
        }
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Date => json!({"type": "string", "format": "date", "description": "Years 1 to 9999."}),
        FieldType::DateTime => json!({"type": "string", "format": "date-time", "description": "Years 1 to 9999."}),
        FieldType::Uuid => json!({"type": "string", "format": "uuid"}),
        FieldType::Json => json!({"description": "Any JSON value without U+0000 in its strings and keys."}),
        FieldType::Enum(values) => json!({"type": "string", "enum": values}),
        FieldType::Email => {
            let max = field.max_len.map_or(crate::repo::MAX_EMAIL_LEN, |m| {
                (m as usize).min(crate::repo::MAX_EMAIL_LEN)
            });
            json!({"type": "string", "maxLength": max,
                   "pattern": crate::http::identity::rules::EMAIL_FIELD_PATTERN,
                   "description": "An email address, as written; compared without regard to case."})
        }
        FieldType::Url => {
            let max = field
                .max_len
                .map_or(crate::repo::MAX_URL_LEN, |m| (m as usize).min(crate::repo::MAX_URL_LEN));
            json!({"type": "string", "maxLength": max, "pattern": URL,
                   "description": "An absolute http or https URL, as written."})
        }
        FieldType::Ref(target) => {
            let mut s = key_schema(target.key);
            s["description"] = json!(format!("id of a row of `{}` in the same tenant", target.table));
            s
        }
    };
    if field.optional {
        if let Some(Value::String(t)) = schema.get("type").cloned() {
            schema["type"] = json!([t, "null"]);
        }
        // An enum lists its values: null is one more.
        if let Some(Value::Array(values)) = schema.get_mut("enum") {
            values.push(Value::Null);
        }
    }
    schema
}

pub(crate) fn pascal(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `<Name>` (a stored row), `Create<Name>`, `Update<Name>` and `<Name>Page`.
pub(super) fn model_schemas(def: &ModelDef, schemas: &mut Map<String, Value>) {
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
        let mut schema = field_schema(field);
        if field.read_only {
            // The server's to set: shown, never accepted.
            schema["readOnly"] = Value::Bool(true);
            record_props.insert(field.name.into(), schema);
            continue;
        }
        record_props.insert(field.name.into(), schema.clone());
        let rule = match (field.owner, field.write, def.permissions.assign) {
            (true, _, Some(assign)) => Some(format!("Omitted: the caller. Naming another member needs `{assign}`.")),
            (true, _, None) => Some("Omitted: the caller; no one can name another member.".to_owned()),
            (false, Some(write), _) => Some(format!("Setting it needs `{write}`.")),
            (false, None, _) => None,
        };
        if let Some(rule) = rule {
            schema["description"] = Value::String(rule);
        }
        if field.ty == FieldType::Decimal {
            // A request may send a JSON number too (read from its text, exactly).
            let types = if field.optional {
                json!(["string", "number", "null"])
            } else {
                json!(["string", "number"])
            };
            schema["type"] = types;
            schema["description"] = json!(
                format!(
                    "{} A JSON number is read from its text, exactly; answers write a string.",
                    schema["description"].as_str().unwrap_or_default()
                )
                .trim()
                .to_owned()
            );
        }
        create_props.insert(field.name.into(), schema.clone());
        update_props.insert(field.name.into(), schema);
        if !field.optional && field.default.is_none() && !field.owner {
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
            "next_cursor": {"type": "string", "description": "Pass as `cursor` for the next page; absent on the last page"},
            "total": {"type": "integer", "minimum": 0, "description": "How many rows match the filters and search in all; only with `count=true`"}
        }}),
    );
}
