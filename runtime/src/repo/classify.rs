//! Constraint violations as typed errors, by the exact constraint name.

use super::{FieldError, RepoError};
use crate::db::DbError;
use crate::model::{FieldDef, FieldType, ModelDef};

/// Maps constraint violations to typed errors by the exact name of the
/// violated constraint (`crate::naming`, the generator's rule); anything
/// else stays a database error. SQLite names no unique constraint: there
/// the exact column list of its message decides.
pub(super) fn classify(err: DbError, def: &ModelDef, deleting: bool) -> RepoError {
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
        ErrorKind::ForeignKeyViolation if deleting => RepoError::StillReferenced,
        ErrorKind::ForeignKeyViolation => RepoError::DanglingReference {
            // SQLite's message names no constraint.
            field: field(|f| matches!(f.ty, FieldType::Ref(_)), fkey_name)
                .unwrap_or("reference")
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
