//! The values an audited write records (`audit_log.changes`): a create the
//! fields after, an update the before and after of each field whose value
//! changed, a delete the fields before. A sensitive field is recorded as
//! `{"masked": true}` in place of its values. Values are written as the
//! routes write them (instants in UTC with `Z`, decimals as strings).
//!
//! On PostgreSQL the object is built in the write's own statement
//! ([`sql`], over the `written` row `w` and the `old` row `o`); elsewhere
//! from the rows the write read and returned ([`json`]).

use std::fmt::Write as _;

use serde_json::{Map, Value as Json, json};

use super::events::json_column;
use super::quoted;
use crate::db::Bind;
use crate::model::row::IMPLICIT;
use crate::model::{FieldDef, FieldType, ModelDef, Row, Value, ValueJson};

/// What a write recorded of one field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape<'a> {
    /// A create: every field after.
    Created,
    /// An update of these fields: before and after of those that changed.
    Updated(&'a [&'static FieldDef]),
    /// A delete: every field before.
    Deleted,
}

/// The marker a sensitive field's values are replaced by.
fn masked() -> Json {
    json!({ "masked": true })
}

fn value_of(row: &Row, index: usize) -> Json {
    serde_json::to_value(ValueJson(row.values.get(IMPLICIT + index).unwrap_or(&Value::Null))).unwrap_or(Json::Null)
}

/// The changes of a write computed from its rows: `after` for a create,
/// `before` and `after` for an update, `before` for a delete.
pub(crate) fn json(def: &ModelDef, shape: Shape<'_>, before: Option<&Row>, after: Option<&Row>) -> Json {
    let mut out = Map::new();
    for (i, field) in def.fields.iter().enumerate() {
        let entry = match shape {
            Shape::Created => after
                .map(|row| ("after", value_of(row, i)))
                .map(|(k, v)| json!({ k: v })),
            Shape::Deleted => before
                .map(|row| ("before", value_of(row, i)))
                .map(|(k, v)| json!({ k: v })),
            Shape::Updated(fields) => {
                if !fields.iter().any(|f| f.name == field.name) {
                    continue;
                }
                let (Some(before), Some(after)) = (before, after) else {
                    continue;
                };
                let (b, a) = (value_of(before, i), value_of(after, i));
                (b != a).then(|| json!({ "before": b, "after": a }))
            }
        };
        if let Some(entry) = entry {
            let entry = if field.sensitive { masked() } else { entry };
            out.insert(field.name.to_owned(), entry);
        }
    }
    Json::Object(out)
}

/// PostgreSQL: the `changes` expression of a write over its `written` row
/// `w` (and, for an update, its `old` row `o`), field names pushed onto
/// `binds`.
pub(crate) fn sql(def: &ModelDef, shape: Shape<'_>, binds: &mut Vec<Bind>) -> String {
    let mut out = String::from("'{}'::jsonb");
    for field in def.fields {
        let updated = match shape {
            Shape::Updated(fields) => {
                if !fields.iter().any(|f| f.name == field.name) {
                    continue;
                }
                true
            }
            Shape::Created | Shape::Deleted => false,
        };
        binds.push(Bind::new(Value::Text(field.name.to_owned()), FieldType::Text));
        let key = format!("${}::text", binds.len());
        let col = quoted(field.column);
        let (w, o) = (format!("w.{col}"), format!("o.{col}"));
        let entry = if field.sensitive {
            "'{\"masked\": true}'::jsonb".to_owned()
        } else {
            match shape {
                Shape::Created => format!("jsonb_build_object('after', to_jsonb({}))", json_column(&w, field.ty)),
                Shape::Deleted => format!("jsonb_build_object('before', to_jsonb({}))", json_column(&w, field.ty)),
                Shape::Updated(_) => format!(
                    "jsonb_build_object('before', to_jsonb({}), 'after', to_jsonb({}))",
                    json_column(&o, field.ty),
                    json_column(&w, field.ty)
                ),
            }
        };
        if updated {
            let _ = write!(
                out,
                " || CASE WHEN {o} IS DISTINCT FROM {w} THEN jsonb_build_object({key}, {entry}) ELSE '{{}}'::jsonb END"
            );
        } else {
            let _ = write!(out, " || jsonb_build_object({key}, {entry})");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Shape, json};
    use crate::model::{FieldDef, FieldType, KeyKind, ModelDef, Row, Value};

    static FIELDS: [FieldDef; 2] = [
        FieldDef::new("name", "name", FieldType::String),
        FieldDef {
            sensitive: true,
            ..FieldDef::new("salary", "salary", FieldType::BigInt)
        },
    ];
    static DEF: ModelDef = ModelDef {
        name: "person",
        table: "people",
        path: "people",
        key: KeyKind::BigInt,
        fields: &FIELDS,
        permissions: crate::model::Permissions {
            read: "r",
            write: "w",
            delete: "d",
            assign: None,
        },
        quota: None,
        audit: true,
        events: crate::model::Events::NONE,
        default_sort: crate::model::Sort {
            field: "created_at",
            descending: true,
        },
        feature: None,
    };

    fn row(name: &str, salary: i64) -> Row {
        let mut values = vec![Value::Null; 4];
        values.extend([Value::Text(name.into()), Value::BigInt(salary)]);
        Row { def: &DEF, values }
    }

    #[test]
    fn changed_fields_only_and_sensitive_ones_masked() {
        let (a, b) = (row("ann", 10), row("bea", 10));
        let fields: Vec<&'static FieldDef> = FIELDS.iter().collect();
        let update = json(&DEF, Shape::Updated(&fields), Some(&a), Some(&b));
        assert_eq!(
            update,
            serde_json::json!({ "name": { "before": "ann", "after": "bea" } })
        );
        let raise = json(&DEF, Shape::Updated(&fields), Some(&a), Some(&row("ann", 20)));
        assert_eq!(raise, serde_json::json!({ "salary": { "masked": true } }));
        let create = json(&DEF, Shape::Created, None, Some(&a));
        assert_eq!(
            create,
            serde_json::json!({ "name": { "after": "ann" }, "salary": { "masked": true } })
        );
        let delete = json(&DEF, Shape::Deleted, Some(&a), None);
        assert_eq!(
            delete,
            serde_json::json!({ "name": { "before": "ann" }, "salary": { "masked": true } })
        );
    }
}
