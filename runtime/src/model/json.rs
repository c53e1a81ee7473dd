//! The JSON of a stored row, written from its model's [`ModelDef`] and its
//! values: the same bytes [`Record`](super::Record)'s `Serialize` writes
//! (keys `id`, `tenant_id`, `created_at`, `updated_at`, then the fields in
//! declaration order; each value as its Rust field type writes it), with no
//! code per model. Values go straight to the serializer: no intermediate
//! `serde_json::Value`, no allocation per row.

use serde::ser::{Serialize, SerializeMap as _, Serializer};

use super::row::{CREATED, ID, IMPLICIT, Row, TENANT, UPDATED};
use super::{ModelDef, Value};

/// One row of `def` as its JSON object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordJson<'a> {
    def: &'a ModelDef,
    values: &'a [Value],
}

impl<'a> RecordJson<'a> {
    /// The row `values` of `def` ([`IMPLICIT`] columns, then the fields).
    pub(crate) fn new(def: &'a ModelDef, values: &'a [Value]) -> Self {
        Self { def, values }
    }
}

impl<'a> From<&'a Row> for RecordJson<'a> {
    fn from(row: &'a Row) -> Self {
        Self::new(row.def, &row.values)
    }
}

impl Serialize for RecordJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = |i: usize| ValueJson(self.values.get(i).unwrap_or(&Value::Null));
        let mut map = serializer.serialize_map(Some(IMPLICIT + self.def.fields.len()))?;
        map.serialize_entry("id", &value(ID))?;
        map.serialize_entry("tenant_id", &value(TENANT))?;
        map.serialize_entry("created_at", &value(CREATED))?;
        map.serialize_entry("updated_at", &value(UPDATED))?;
        for (i, field) in self.def.fields.iter().enumerate() {
            map.serialize_entry(field.name, &value(IMPLICIT + i))?;
        }
        map.end()
    }
}

/// A value as the Rust type it was read as writes it: `null` for a null
/// (`None`), numbers and booleans as such, text and enums as strings,
/// decimals, dates, instants and uuids by their own `Serialize`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueJson<'a>(pub(crate) &'a Value);

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => serializer.serialize_none(),
            Value::Bool(v) => serializer.serialize_bool(*v),
            Value::Int(v) => serializer.serialize_i32(*v),
            Value::BigInt(v) => serializer.serialize_i64(*v),
            Value::Text(v) => serializer.serialize_str(v),
            Value::Decimal(v) => Serialize::serialize(v, serializer),
            Value::Date(v) => Serialize::serialize(v, serializer),
            Value::DateTime(v) => super::record::rfc3339(v, serializer),
            Value::Uuid(v) => Serialize::serialize(v, serializer),
            Value::Json(v) => Serialize::serialize(v, serializer),
            Value::Bytes(v) => serializer.serialize_bytes(v),
        }
    }
}
