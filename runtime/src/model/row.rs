//! Stored rows as values: the model-independent form the repository core
//! and the CRUD routes work with, so their code is compiled once in the
//! runtime and not once per model. [`Record`] is the typed form
//! hand-written code sees; [`decode`] turns one into the other.

use super::{DecodeError, FieldValue, Id, Key, ModelDef, Record, TenantId, TenantModel, Value, ValueReader};

/// Columns before a model's own fields in every row: `tenant_id`, `id`,
/// `created_at`, `updated_at` (the select order of the repository).
pub(crate) const IMPLICIT: usize = 4;
/// Index of `tenant_id` in a row.
pub(crate) const TENANT: usize = 0;
/// Index of `id` in a row.
pub(crate) const ID: usize = 1;
/// Index of `created_at` in a row.
pub(crate) const CREATED: usize = 2;
/// Index of `updated_at` in a row.
pub(crate) const UPDATED: usize = 3;

/// The number of values in a row of `def`.
pub(crate) fn width(def: &ModelDef) -> usize {
    IMPLICIT + def.fields.len()
}

/// One stored row of model `def`: [`IMPLICIT`] columns, then the fields
/// in [`ModelDef::fields`] order.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) def: &'static ModelDef,
    pub(crate) values: Vec<Value>,
}

impl Row {
    /// The row's `id`.
    pub(crate) fn id(&self) -> &Value {
        &self.values[ID]
    }
}

/// Rows of one model in one allocation: row `i` is
/// `values[i * width .. (i + 1) * width]`.
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    pub(crate) def: &'static ModelDef,
    values: Vec<Value>,
}

impl Rows {
    /// The rows of `def` whose values, row after row, are `values`.
    pub(crate) fn new(def: &'static ModelDef, values: Vec<Value>) -> Self {
        Self { def, values }
    }

    /// How many rows there are.
    pub(crate) fn len(&self) -> usize {
        self.values.len() / width(self.def)
    }

    /// Keeps the first `rows` rows.
    pub(crate) fn truncate(&mut self, rows: usize) {
        self.values.truncate(rows * width(self.def));
    }

    /// Every row, in order.
    pub(crate) fn iter(&self) -> std::slice::Chunks<'_, Value> {
        self.values.chunks(width(self.def))
    }

    /// The rows as typed records of `M` (whose def `self.def` is).
    pub(crate) fn decode<M: TenantModel>(self) -> Result<Vec<Record<M>>, DecodeError> {
        let width = width(self.def);
        let mut values = self.values.into_iter();
        let mut out = Vec::with_capacity(values.len() / width);
        while values.len() >= width {
            out.push(decode(values.by_ref().take(width).collect())?);
        }
        Ok(out)
    }
}

/// The typed record of `M` of one row of `M`.
pub(crate) fn decode<M: TenantModel>(values: Vec<Value>) -> Result<Record<M>, DecodeError> {
    let mut values = values.into_iter();
    let mut next = || values.next().unwrap_or(Value::Null);
    let tenant = <uuid::Uuid as FieldValue>::from_value(next())?;
    let id = M::Key::from_value(next())?;
    let created_at = FieldValue::from_value(next())?;
    let updated_at = FieldValue::from_value(next())?;
    Ok(Record {
        tenant_id: TenantId(tenant),
        id: Id::new(id),
        created_at,
        updated_at,
        data: M::from_values(&mut ValueReader::over(values))?,
    })
}

/// The row of a typed record (the inverse of [`decode`]).
#[cfg(feature = "testing")]
pub(crate) fn encode<M: TenantModel>(record: &Record<M>) -> Row {
    let mut values = vec![
        Value::Uuid(record.tenant_id.0),
        record.id.key().to_value(),
        Value::DateTime(record.created_at),
        Value::DateTime(record.updated_at),
    ];
    values.extend(record.data.to_values());
    Row { def: M::def(), values }
}
