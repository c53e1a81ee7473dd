//! Constraint violations as typed errors, by the exact constraint name.

use super::{FieldError, RepoError};
use crate::db::DbError;
use crate::model::{FieldDef, FieldType, ModelDef, Value};

/// Which references of the model a write set to a row (not null), by
/// field index: what names the field of a dangling reference where the
/// database does not (SQLite's `FOREIGN KEY constraint failed` names no
/// constraint). Fields past the 63rd are not tracked; their references
/// are named `reference`, as when several were set.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RefsWritten {
    mask: u64,
    deleting: bool,
}

impl RefsWritten {
    /// A delete: a foreign-key violation means the row is still referenced.
    pub(super) const DELETING: Self = Self {
        mask: 0,
        deleting: true,
    };

    /// Notes that the write sets `field` of `def` to `value`.
    pub(super) fn note(&mut self, def: &ModelDef, field: &FieldDef, value: &Value) {
        if matches!(field.ty, FieldType::Ref(_)) && !matches!(value, Value::Null) {
            let index = def.fields.iter().position(|f| std::ptr::eq(f, field));
            if let Some(bit) = index.filter(|i| *i < 64) {
                self.mask |= 1 << bit;
            }
        }
    }

    /// The field a dangling reference is reported on: the one reference
    /// written, else `reference`.
    pub(super) fn name(self, def: &ModelDef) -> &'static str {
        if self.mask.count_ones() == 1 {
            def.fields[self.mask.trailing_zeros() as usize].name
        } else {
            "reference"
        }
    }
}

/// Maps constraint violations to typed errors by the exact name of the
/// violated constraint (`crate::naming`, the generator's rule); anything
/// else stays a database error. SQLite names no unique constraint: there
/// the exact column list of its message decides; nor a foreign key: there
/// the reference the write set names it (`refs`).
pub(super) fn classify(err: DbError, def: &ModelDef, refs: RefsWritten) -> RepoError {
    use crate::naming::{check_name, fkey_name, unique_name};
    use sqlx::error::ErrorKind;
    let DbError::Sqlx(sqlx::Error::Database(db)) = &err else {
        return RepoError::Db(err);
    };
    let (constraint, message) = (db.constraint(), db.message());
    let field = |candidate: fn(&FieldDef) -> bool, name: fn(&str, &str) -> String| {
        def.fields
            .iter()
            .filter(|f| candidate(f))
            .find(|f| {
                let name = name(def.table, f.column);
                match constraint {
                    Some(c) => c == name,
                    // SQLite: `CHECK constraint failed: <name>`.
                    None => message.strip_prefix("CHECK constraint failed: ") == Some(name.as_str()),
                }
            })
            .map(|f| f.name)
    };
    match db.kind() {
        ErrorKind::UniqueViolation => {
            let sqlite = message.strip_prefix("UNIQUE constraint failed: ");
            let field = match (constraint, sqlite) {
                // An email's unique index on `lower(col)`: `index '<name>'`.
                (None, Some(columns)) if columns.starts_with("index '") => def
                    .fields
                    .iter()
                    .filter(|f| f.unique)
                    .find(|f| columns == format!("index '{}'", unique_name(def.table, f.column)))
                    .map(|f| f.name),
                (None, Some(columns)) => def
                    .fields
                    .iter()
                    .filter(|f| f.unique)
                    .find(|f| columns == format!("{t}.tenant_id, {t}.{c}", t = def.table, c = f.column))
                    .map(|f| f.name),
                _ => field(|f| f.unique, unique_name),
            };
            RepoError::Duplicate {
                field: field.unwrap_or("row").to_owned(),
            }
        }
        ErrorKind::ForeignKeyViolation if refs.deleting => RepoError::StillReferenced,
        ErrorKind::ForeignKeyViolation => RepoError::DanglingReference {
            field: match constraint {
                // Not a field's (the tenant's, deleted meanwhile): no field.
                Some(_) => field(|f| matches!(f.ty, FieldType::Ref(_)), fkey_name).unwrap_or("reference"),
                // SQLite's message names no constraint.
                None => refs.name(def),
            }
            .to_owned(),
        },
        ErrorKind::CheckViolation => match field(|_| true, check_name) {
            Some(f) => RepoError::Invalid(vec![FieldError::new(
                f,
                "invalid",
                "the value breaks the field's rules",
            )]),
            None => RepoError::Db(err),
        },
        _ => RepoError::Db(err),
    }
}
