//! Dynamically typed column values and the conversions between them and Rust
//! field types.
//!
//! The derive never names a column type: each field's Rust type implements
//! [`FieldValue`], which says how it is stored and converts to and from
//! [`Value`]. The database layer binds and decodes [`Value`]s per dialect.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::def::FieldType;

/// One column value, independent of the SQL dialect.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// Boolean.
    Bool(bool),
    /// 32-bit integer.
    Int(i32),
    /// 64-bit integer.
    BigInt(i64),
    /// Text (also enums).
    Text(String),
    /// Exact decimal.
    Decimal(Decimal),
    /// Calendar date.
    Date(NaiveDate),
    /// Instant (UTC).
    DateTime(DateTime<Utc>),
    /// UUID.
    Uuid(Uuid),
    /// JSON document.
    Json(serde_json::Value),
    /// Raw bytes (hashes of secrets; never a model field).
    Bytes(Vec<u8>),
}

impl Value {
    /// The spec type name of the value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::BigInt(_) => "bigint",
            Self::Text(_) => "text",
            Self::Decimal(_) => "decimal",
            Self::Date(_) => "date",
            Self::DateTime(_) => "datetime",
            Self::Uuid(_) => "uuid",
            Self::Json(_) => "json",
            Self::Bytes(_) => "bytes",
        }
    }
}

/// A stored value did not have the shape the Rust field expects.
#[derive(Debug, thiserror::Error)]
#[error("column value of kind `{found}` cannot be read as {expected}")]
pub struct DecodeError {
    /// What the Rust type expected.
    pub expected: &'static str,
    /// What was found.
    pub found: &'static str,
}

impl DecodeError {
    /// A mismatch between the expected Rust type and the value found.
    pub fn new(expected: &'static str, found: &Value) -> Self {
        Self {
            expected,
            found: found.kind(),
        }
    }
}

/// A Rust type that can be a model field.
///
/// Implemented for the supported scalar types, `Option<T>`, typed ids
/// ([`Id`](super::Id), [`UserId`](super::UserId)) and enums deriving
/// `ModelEnum`.
pub trait FieldValue: Sized {
    /// How the field is stored.
    const TYPE: FieldType;
    /// Whether the field may be null (true only for `Option<T>`).
    const OPTIONAL: bool = false;
    /// Converts the field into a column value.
    fn to_value(&self) -> Value;
    /// Reads the field back from a column value.
    fn from_value(value: Value) -> Result<Self, DecodeError>;
}

macro_rules! scalar {
    ($ty:ty, $field_type:expr, $variant:ident, $name:literal) => {
        impl FieldValue for $ty {
            const TYPE: FieldType = $field_type;
            fn to_value(&self) -> Value {
                Value::$variant(self.clone())
            }
            fn from_value(value: Value) -> Result<Self, DecodeError> {
                match value {
                    Value::$variant(v) => Ok(v),
                    other => Err(DecodeError::new($name, &other)),
                }
            }
        }
    };
}

scalar!(String, FieldType::String, Text, "string");
scalar!(i32, FieldType::Int, Int, "int");
scalar!(bool, FieldType::Bool, Bool, "bool");
scalar!(Decimal, FieldType::Decimal, Decimal, "decimal");
scalar!(NaiveDate, FieldType::Date, Date, "date");
scalar!(DateTime<Utc>, FieldType::DateTime, DateTime, "datetime");
scalar!(Uuid, FieldType::Uuid, Uuid, "uuid");
scalar!(serde_json::Value, FieldType::Json, Json, "json");

impl FieldValue for i64 {
    const TYPE: FieldType = FieldType::BigInt;
    fn to_value(&self) -> Value {
        Value::BigInt(*self)
    }
    fn from_value(value: Value) -> Result<Self, DecodeError> {
        match value {
            Value::BigInt(v) => Ok(v),
            Value::Int(v) => Ok(i64::from(v)),
            other => Err(DecodeError::new("bigint", &other)),
        }
    }
}

impl<T: FieldValue> FieldValue for Option<T> {
    const TYPE: FieldType = T::TYPE;
    const OPTIONAL: bool = true;
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
    fn from_value(value: Value) -> Result<Self, DecodeError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// Reads a model's fields, in declaration order, from decoded columns.
///
/// Used by the code `#[derive(TenantModel)]` emits.
#[derive(Debug)]
pub struct ValueReader {
    values: std::vec::IntoIter<Value>,
}

impl ValueReader {
    /// Wraps decoded column values.
    pub fn new(values: Vec<Value>) -> Self {
        Self {
            values: values.into_iter(),
        }
    }

    /// Reads from what is left of an iterator of decoded values.
    pub(crate) fn over(values: std::vec::IntoIter<Value>) -> Self {
        Self { values }
    }

    /// Reads the next field.
    pub fn read<T: FieldValue>(&mut self) -> Result<T, DecodeError> {
        T::from_value(self.values.next().unwrap_or(Value::Null))
    }
}
