//! The domain events of the repository's writes (`ModelDef::events`): on
//! PostgreSQL the event row is one more part of the write's own statement
//! (a data-modifying `WITH`, like the audit row), its data the written
//! row's JSON built by the database; elsewhere the event follows the write,
//! its data written from the returned row. Both are the JSON the model's
//! routes answer (`RecordJson`): `runtime/tests/webhook_events.rs` compares
//! them for every field type.
//!
//! A model without events pays nothing: every step here starts with
//! [`verb_on`], a field read of the static def.

use std::fmt::Write as _;

use chrono::Utc;

use super::quoted;
use crate::db::{Bind, EVENT_COLUMNS, SUBSCRIBED_PG};
use crate::model::{FieldType, ModelDef, RecordJson, Row, Value};

/// A write's verb, as its event type says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verb {
    Created,
    Updated,
    Deleted,
}

impl Verb {
    fn word(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }
}

/// Whether `def` records `verb`.
pub(super) fn verb_on(def: &ModelDef, verb: Verb) -> bool {
    match verb {
        Verb::Created => def.events.created,
        Verb::Updated => def.events.updated,
        Verb::Deleted => def.events.deleted,
    }
}

/// `<model>.<verb>`.
pub(super) fn event_type(def: &ModelDef, verb: Verb) -> String {
    format!("{}.{}", def.name, verb.word())
}

/// An instant as `RecordJson` writes it (`rfc3339`: seconds, then
/// milliseconds or microseconds when there are any, `Z`), from a
/// `timestamptz` expression. PostgreSQL keeps microseconds, so nanoseconds
/// never occur.
fn instant(expr: &str) -> String {
    let us = format!("(extract(microseconds FROM {expr} AT TIME ZONE 'UTC')::bigint % 1000000)");
    format!(
        "to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN {us} = 0 THEN '' \
         WHEN {us} % 1000 = 0 THEN '.' || lpad(({us} / 1000)::text, 3, '0') \
         ELSE '.' || lpad({us}::text, 6, '0') END || 'Z'"
    )
}

/// One value of the written row as its JSON writes it, over column `col`
/// of `written`.
pub(super) fn json_column(col: &str, ty: FieldType) -> String {
    match ty {
        FieldType::DateTime => instant(col),
        // rust_decimal writes a string with the stored scale: what `text` prints.
        FieldType::Decimal => format!("{col}::text"),
        _ => col.to_owned(),
    }
}

/// PostgreSQL: the `WITH` part that inserts the event of `verb` for the
/// row `written` returns, its values pushed onto `binds`:
/// `evented AS (INSERT INTO rookery_events … SELECT … FROM written WHERE
/// <subscribed>)`: only when an enabled endpoint of the tenant subscribes
/// to its type (`db::events::SUBSCRIBED_PG`), so a write nobody listens to
/// pays one index probe instead of the event's insert, its indexes, its
/// foreign key and its trigger (a third of a create's time in the
/// database).
pub(super) fn cte(def: &ModelDef, verb: Verb, tenant: &Value, binds: &mut Vec<Bind>) -> String {
    let mut param = |value: Value, ty: FieldType| {
        binds.push(Bind::new(value, ty));
        format!("${}", binds.len())
    };
    let tenant = param(tenant.clone(), FieldType::Uuid);
    let id = param(Value::Uuid(uuid::Uuid::now_v7()), FieldType::Uuid);
    let kind = param(Value::Text(event_type(def, verb)), FieldType::Text);
    let at = param(Value::DateTime(Utc::now()), FieldType::DateTime);
    let mut cols = format!(
        "w.id AS id, w.tenant_id AS tenant_id, {} AS created_at, {} AS updated_at",
        instant("w.created_at"),
        instant("w.updated_at")
    );
    for f in def.fields {
        let col = format!("w.{}", quoted(f.column));
        let _ = write!(cols, ", {} AS {}", json_column(&col, f.ty), quoted(f.name));
    }
    let subscribed = SUBSCRIBED_PG.replace("{tenant}", &tenant).replace("{type}", &kind);
    format!(
        "evented AS (INSERT INTO rookery_events ({EVENT_COLUMNS}) \
         SELECT {tenant}, {id}, {kind}, to_jsonb(r), {at} FROM (SELECT {cols} FROM written w) r \
         WHERE {subscribed})"
    )
}

/// The event's data where the runtime writes it: the row's JSON.
pub(super) fn data(row: &Row) -> serde_json::Value {
    serde_json::to_value(RecordJson::from(row)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::{instant, json_column};
    use crate::model::FieldType;

    #[test]
    fn the_database_writes_instants_and_decimals_as_the_routes_do() {
        let sql = instant("w.x");
        assert!(sql.starts_with("to_char(w.x AT TIME ZONE 'UTC'"), "{sql}");
        assert!(sql.ends_with("|| 'Z'"), "{sql}");
        assert_eq!(json_column("w.n", FieldType::Decimal), "w.n::text");
        assert_eq!(json_column("w.n", FieldType::BigInt), "w.n");
    }
}
