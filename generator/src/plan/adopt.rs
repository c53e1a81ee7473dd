//! Names of databases planned before names were explicit (snapshot format
//! 1): PostgreSQL chose the names of unnamed constraints (cutting past 63
//! bytes its own way) and cut the planner's long index names; SQLite kept
//! index names whole. [`super::Op::AdoptNames`] renames those objects to
//! the naming rule's names before any other change of the migration.

use super::Table;
use super::sql::{self, Dialect, ident};

/// A name of the old (format 1) scheme that the naming rule changes.
struct Legacy {
    /// `p`, `u`, `f`, `c` (constraint kinds of `pg_constraint`), `i` (index).
    kind: char,
    /// Columns of a constraint, comma-separated, in key order.
    columns: String,
    /// The whole default name, never cut (what SQLite index names were).
    full: String,
    /// The name of the naming rule.
    name: String,
}

/// The objects of `t` whose format 1 name may differ from the naming rule:
/// those whose whole name is longer than 63 bytes. PostgreSQL chose or cut
/// those names itself (`makeObjectName`, or a plain cut of an explicit name
/// the planner gave in an `ALTER`), so constraints are found by kind and
/// columns in the catalog, not by name.
fn legacy_names(t: &Table) -> Vec<Legacy> {
    let n = &t.name;
    let mut all = vec![
        ('p', "tenant_id,id".to_owned(), format!("{n}_pkey"), sql::pkey_name(n)),
        (
            'f',
            "tenant_id".to_owned(),
            format!("{n}_tenant_id_fkey"),
            sql::tenant_fkey_name(n),
        ),
        ('i', String::new(), format!("{n}_sort_idx"), sql::sort_index(t).name),
    ];
    for c in &t.columns {
        let col = &c.name;
        if sql::check_sql(Dialect::Postgres, c).is_some() {
            all.push(('c', col.clone(), format!("{n}_{col}_check"), sql::check_name(n, col)));
        }
        if c.unique {
            all.push((
                'u',
                format!("tenant_id,{col}"),
                format!("{n}_tenant_id_{col}_key"),
                sql::unique_name(n, col),
            ));
        }
        if c.references.is_some() {
            all.push((
                'f',
                format!("tenant_id,{col}"),
                format!("{n}_tenant_id_{col}_fkey"),
                sql::fkey_name(n, col),
            ));
        }
        if let Some(i) = sql::column_index(n, c) {
            all.push(('i', String::new(), format!("{n}_{col}_idx"), i.name));
        }
    }
    all.into_iter()
        .filter(|(_, _, full, name)| full != name)
        .map(|(kind, columns, full, name)| Legacy {
            kind,
            columns,
            full,
            name,
        })
        .collect()
}

/// PostgreSQL: indexes kept the planner's name cut at 63 bytes; constraints
/// are looked up by kind and columns and renamed.
pub(super) fn postgres(t: &Table) -> String {
    let legacy = legacy_names(t);
    let mut s = String::new();
    let rows: Vec<String> = legacy
        .iter()
        .filter(|l| l.kind != 'i')
        .map(|l| {
            format!(
                "        ('{}', {}, {})",
                l.kind,
                sql::string_lit(&l.columns),
                sql::string_lit(&l.name)
            )
        })
        .collect();
    if !rows.is_empty() {
        let (reg, lit) = (sql::string_lit(&ident(&t.name)), sql::string_lit(&t.name));
        let lines = [
            format!(
                "-- {}: constraints named by PostgreSQL (cut past 63 bytes) get the planner's names.",
                t.name
            ),
            "DO $$".to_owned(),
            "DECLARE".to_owned(),
            "    want record;".to_owned(),
            "    have name;".to_owned(),
            "BEGIN".to_owned(),
            "    FOR want IN SELECT * FROM (VALUES".to_owned(),
            rows.join(",\n"),
            "    ) AS w (kind, cols, name) LOOP".to_owned(),
            "        SELECT c.conname INTO have FROM pg_constraint c".to_owned(),
            format!("         WHERE c.conrelid = {reg}::regclass AND c.contype::text = want.kind"),
            "           AND (SELECT string_agg(a.attname::text, ',' ORDER BY k.i)".to_owned(),
            "                  FROM unnest(c.conkey) WITH ORDINALITY AS k (n, i)".to_owned(),
            "                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) = want.cols;"
                .to_owned(),
            "        IF have IS NOT NULL AND have <> want.name THEN".to_owned(),
            format!("            EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I', {lit}, have, want.name);"),
            "        END IF;".to_owned(),
            "    END LOOP;".to_owned(),
            "END".to_owned(),
            "$$;".to_owned(),
        ];
        for l in lines {
            s.push_str(&l);
            s.push('\n');
        }
    }
    for l in legacy.iter().filter(|l| l.kind == 'i') {
        let mut cut = l.full.clone();
        cut.truncate(crate::naming::MAX_SQL_NAME);
        s.push_str(&format!("ALTER INDEX IF EXISTS {cut} RENAME TO {};\n", l.name));
    }
    s
}

/// SQLite: index names were never cut; indexes are dropped and created
/// again under the rule's names (SQLite cannot rename an index; its
/// constraints have no names that anything refers to).
pub(super) fn sqlite(t: &Table) -> String {
    let legacy = legacy_names(t);
    let mut s = String::new();
    for i in sql::indexes(t) {
        if let Some(l) = legacy.iter().find(|l| l.kind == 'i' && l.name == i.name) {
            s.push_str(&format!("DROP INDEX IF EXISTS {};\n", l.full));
            s.push_str(&i.create(sql::Dialect::Sqlite));
        }
    }
    s
}

/// Whether `t` has any name to adopt.
pub(super) fn needed(t: &Table) -> bool {
    !legacy_names(t).is_empty()
}
