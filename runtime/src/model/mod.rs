//! Tenant-scoped models: the contract between `#[derive(TenantModel)]` and
//! the runtime.
//!
//! A model is a plain struct of its declared fields. The runtime adds the
//! stored row around it ([`Record`]: `id`, `tenant_id`, `created_at`,
//! `updated_at`), and drives SQL, validation, routes and OpenAPI from its
//! [`ModelDef`].

mod actor;
mod def;
mod id;
mod json;
mod record;
pub(crate) mod row;
mod value;

pub use actor::Actor;
pub use def::{Events, FieldDef, FieldType, KeyKind, ModelDef, OnDelete, Permissions, RefTarget, Sort};
pub use id::{Id, Key, TenantId, UserId};
pub use record::Record;
pub use value::{DecodeError, FieldValue, Value, ValueReader};

pub(crate) use json::{RecordJson, ValueJson};
pub(crate) use row::{Row, Rows};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A struct whose rows belong to a tenant. Implement it with
/// `#[derive(TenantModel)]`, not by hand.
pub trait TenantModel: Sized + Serialize + Send + Sync + Unpin + 'static {
    /// Table name; also what references to this model point at.
    const TABLE: &'static str;
    /// Primary key type (`i64` or `uuid::Uuid`).
    type Key: Key;
    /// The create input (fields with a default or `Option` may be omitted).
    type Create: CreateInput + DeserializeOwned + Send + 'static;
    /// The partial update input (every field may be omitted).
    type Update: UpdateInput + DeserializeOwned + Send + 'static;

    /// The model's static description.
    fn def() -> &'static ModelDef;

    /// Builds the model from its columns, in [`ModelDef::fields`] order.
    fn from_values(reader: &mut ValueReader) -> Result<Self, DecodeError>;

    /// The model's columns, in [`ModelDef::fields`] order.
    fn to_values(&self) -> Vec<Value>;
}

/// The body of a create request.
pub trait CreateInput {
    /// One entry per field, in [`ModelDef::fields`] order; `None` where the
    /// request omitted the field (the runtime applies the default or null).
    fn into_values(self) -> Vec<Option<Value>>;
}

/// The body of a partial update request.
pub trait UpdateInput {
    /// The fields the request set, as `(index into ModelDef::fields, value)`;
    /// an explicit `null` on an optional field is [`Value::Null`].
    fn into_changes(self) -> Vec<(usize, Value)>;
}

/// A closed set of string values, stored as text. Implement it with
/// `#[derive(ModelEnum)]`.
pub trait ModelEnum: Sized + Copy + 'static {
    /// Every value, in declaration order.
    const VALUES: &'static [&'static str];
    /// The stored text of this value.
    fn as_str(&self) -> &'static str;
    /// The value whose stored text is `s`.
    fn from_str_value(s: &str) -> Option<Self>;
}

/// A string that is not one of a [`ModelEnum`]'s values (the `FromStr`
/// error of every `#[derive(ModelEnum)]` enum).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value `{found}`, expected one of: {}", .expected.join(", "))]
pub struct ParseEnumError {
    /// The text that was parsed.
    pub found: String,
    /// The enum's values.
    pub expected: &'static [&'static str],
}

/// Fixtures for the runtime's unit tests: a model with these fields and a
/// reference field.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Events, FieldDef, FieldType, KeyKind, ModelDef, OnDelete, Permissions, RefTarget, Sort};

    /// A `bigint` reference `column` to `table`, deleted as `on_delete` says.
    pub(crate) fn reference(column: &'static str, table: &'static str, on_delete: OnDelete) -> FieldDef {
        FieldDef {
            on_delete,
            ..FieldDef::new(
                column,
                column,
                FieldType::Ref(RefTarget {
                    table,
                    column: "id",
                    key: KeyKind::BigInt,
                }),
            )
        }
    }

    /// A model of `table` (its name and path too) with `fields`, leaked.
    pub(crate) fn model(table: &'static str, fields: Vec<FieldDef>) -> &'static ModelDef {
        Box::leak(Box::new(ModelDef {
            name: table,
            table,
            path: table,
            key: KeyKind::BigInt,
            fields: Box::leak(fields.into_boxed_slice()),
            permissions: Permissions {
                read: "r",
                write: "w",
                delete: "d",
                assign: None,
            },
            quota: None,
            audit: false,
            events: Events::NONE,
            default_sort: Sort {
                field: "created_at",
                descending: true,
            },
            feature: None,
        }))
    }
}
