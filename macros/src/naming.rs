//! Naming rules shared by the derive and the generator. The generator
//! compiles this very file (`#[path]` in `generator/src/lib.rs`), so a spec
//! model and a hand-written one get their names from one rule: keep it free
//! of dependencies.

/// The table of a model: the English plural of its snake_case name
/// (`project` → `projects`, `category` → `categories`, `box` → `boxes`,
/// `status` → `statuses`), for spec and hand-written models alike.
pub(crate) fn plural(model: &str) -> String {
    let ends_with_consonant_y = model
        .strip_suffix('y')
        .is_some_and(|stem| stem.chars().last().is_some_and(|c| !"aeiou".contains(c)));
    if ends_with_consonant_y {
        format!("{}ies", &model[..model.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"].iter().any(|end| model.ends_with(end)) {
        format!("{model}es")
    } else {
        format!("{model}s")
    }
}

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
