//! Naming rules shared by the derive, the generator and the runtime: a spec
//! model and a hand-written one get their names from one rule. The derive and
//! the generator use it from this crate; the runtime and the e2e tests compile
//! this very file through `#[path]` (the runtime does not depend on syn), so
//! keep it free of dependencies.

/// The table of a model: the English plural of its snake_case name
/// (`project` → `projects`, `category` → `categories`, `box` → `boxes`,
/// `status` → `statuses`), for spec and hand-written models alike.
pub fn plural(model: &str) -> String {
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
pub fn ref_column(field: &str) -> String {
    if field.ends_with("_id") {
        field.to_owned()
    } else {
        format!("{field}_id")
    }
}

/// PostgreSQL's limit on identifiers, in bytes (`NAMEDATALEN - 1`); longer
/// names are cut silently, which would break every later rename or drop.
pub const MAX_SQL_NAME: usize = 63;

/// The name of a constraint or index: `<table>_<middle>_<suffix>`, the name
/// PostgreSQL itself would choose when that fits in [`MAX_SQL_NAME`] bytes.
/// A longer name is cut and given an 8-hex-digit hash (FNV-1a) of the whole
/// name before the suffix, so it stays unique, deterministic and within the
/// limit: `<cut>_<hash>_<suffix>`. Names are ASCII (snake_case identifiers).
pub fn sql_name(table: &str, middle: &str, suffix: &str) -> String {
    let full = if middle.is_empty() {
        format!("{table}_{suffix}")
    } else {
        format!("{table}_{middle}_{suffix}")
    };
    if full.len() <= MAX_SQL_NAME {
        return full;
    }
    let mut hash: u32 = 0x811c_9dc5;
    for b in full.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let keep = MAX_SQL_NAME - suffix.len() - 10; // `_` + 8 hex digits + `_`
    let mut cut = &full[..full.len() - suffix.len() - 1];
    while cut.len() > keep || !cut.is_char_boundary(cut.len()) {
        cut = &cut[..cut.len() - 1];
    }
    format!("{}_{hash:08x}_{suffix}", cut.trim_end_matches('_'))
}

/// `PRIMARY KEY (tenant_id, id)`.
pub fn pkey_name(table: &str) -> String {
    sql_name(table, "", "pkey")
}
/// `FOREIGN KEY (tenant_id) REFERENCES tenants (id)`.
pub fn tenant_fkey_name(table: &str) -> String {
    sql_name(table, "tenant_id", "fkey")
}
/// `UNIQUE (tenant_id, <column>)`.
pub fn unique_name(table: &str, column: &str) -> String {
    sql_name(table, &format!("tenant_id_{column}"), "key")
}
/// `FOREIGN KEY (tenant_id, <column>) REFERENCES …`.
pub fn fkey_name(table: &str, column: &str) -> String {
    sql_name(table, &format!("tenant_id_{column}"), "fkey")
}
/// The column's `CHECK` (length, range, enum values).
pub fn check_name(table: &str, column: &str) -> String {
    sql_name(table, column, "check")
}
/// The column's own index (`(tenant_id, <column>)`).
pub fn index_name(table: &str, column: &str) -> String {
    sql_name(table, column, "idx")
}
/// The column's trigram index for the list's `q=` search (PostgreSQL).
pub fn search_index_name(table: &str, column: &str) -> String {
    sql_name(table, column, "search")
}
/// The SQLite trigger that nulls `<table>.<column>` when its target goes
/// (`on_delete = "set_null"`).
pub fn set_null_trigger_name(table: &str, column: &str) -> String {
    sql_name(table, column, "set_null")
}
/// The default sort index.
pub fn sort_index_name(table: &str) -> String {
    sql_name(table, "sort", "idx")
}

#[cfg(test)]
mod tests {
    use super::{MAX_SQL_NAME, ref_column, sql_name, unique_name};

    #[test]
    fn sql_names_fit_and_stay_apart() {
        // Short names are PostgreSQL's own defaults.
        assert_eq!(unique_name("projects", "name"), "projects_tenant_id_name_key");
        let table = "a".repeat(49);
        let a = unique_name(&table, &"b".repeat(48));
        let b = unique_name(&table, &format!("{}c", "b".repeat(47)));
        assert!(a.len() <= MAX_SQL_NAME && a.len() >= MAX_SQL_NAME - 1, "{a}");
        assert!(a.ends_with("_key"), "{a}");
        assert_ne!(a, b, "names differing only past the cut differ");
        assert_eq!(a, unique_name(&table, &"b".repeat(48)), "deterministic");
        let exact = format!("{}_x", "t".repeat(MAX_SQL_NAME - 6));
        assert_eq!(sql_name(&exact, "", "idx").len(), MAX_SQL_NAME);
        assert!(
            sql_name(&exact, "", "idx").starts_with(&exact),
            "a name of 63 bytes is kept"
        );
    }

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
