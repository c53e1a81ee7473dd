//! Naming rules shared by the derive and the generator. The generator
//! compiles this very file (`#[path]` in `generator/src/lib.rs`), so a spec
//! model and a hand-written one get their names from one rule: keep it free
//! of dependencies.

/// The column of a reference field: `project` → `project_id`; a name that
/// already ends in `_id` is the column itself (`owner_id` → `owner_id`,
/// never `owner_id_id`).
pub(crate) fn ref_column(field: &str) -> String {
    if field.ends_with("_id") {
        field.to_owned()
    } else {
        format!("{field}_id")
    }
}

#[cfg(test)]
mod tests {
    use super::ref_column;

    #[test]
    fn reference_columns() {
        for (field, column) in [
            ("project", "project_id"),
            ("user_id", "user_id"),
            ("owner_id", "owner_id"),
            ("idea", "idea_id"),
            ("paid", "paid_id"),
        ] {
            assert_eq!(ref_column(field), column, "{field}");
        }
    }
}
