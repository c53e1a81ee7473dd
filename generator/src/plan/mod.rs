//! The migration planner: diff the previous [`Snapshot`] with the schema the
//! IR asks for, refuse what would lose data (unless allowed), and render the
//! next migration for PostgreSQL and SQLite.

mod adopt;
pub mod snapshot;
pub mod sql;

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;

pub use self::snapshot::{Column, Snapshot, Table};
use self::sql::{Dialect, Index, ident};
use crate::model::Kind;

/// One schema change.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a handful per migration; boxing buys nothing
pub enum Op {
    /// A new table.
    CreateTable(Table),
    /// `ALTER TABLE old RENAME TO to` (`old` is the table as it was).
    RenameTable {
        /// The table before the migration.
        old: Table,
        /// New name.
        to: String,
    },
    /// `ALTER TABLE t RENAME COLUMN`.
    RenameColumn {
        /// Table (new name).
        table: String,
        /// The column as it was.
        old: Column,
        /// New column name.
        to: String,
    },
    /// A new column on an existing table.
    AddColumn {
        /// Table.
        table: String,
        /// Column.
        column: Column,
    },
    /// A column's type, nullability, default or constraints change.
    AlterColumn {
        /// Table.
        table: String,
        /// The column as it was (already renamed).
        old: Column,
        /// The column as it will be.
        new: Column,
    },
    /// Destructive: a column goes away.
    DropColumn {
        /// Table.
        table: String,
        /// Column.
        column: Column,
    },
    /// Destructive: a table goes away.
    DropTable(Table),
    /// Renames the constraints and indexes of a table created before names
    /// were explicit (snapshot format 1) to the names of the naming rule.
    /// Only names longer than 63 bytes differ.
    AdoptNames(Table),
    /// A new index on an existing table.
    CreateIndex(Index),
    /// An index goes away.
    DropIndex(Index),
}

/// The result of diffing two schemas.
#[derive(Debug, Default)]
pub struct Diff {
    /// Changes, in execution order.
    pub ops: Vec<Op>,
    /// Changes that lose data; refused unless allowed.
    pub destructive: Vec<String>,
    /// Changes that cannot be made at all as asked.
    pub refused: Vec<String>,
    /// Changes that need no SQL (a column becoming or ceasing to be the
    /// owner), for the plan: the snapshot records them, with or without a
    /// migration.
    pub metadata: Vec<String>,
    /// `true` for the first migration.
    pub init: bool,
    /// The platform steps this migration applies (every step for the
    /// first migration; those newer than the snapshot's version after).
    pub platform: &'static [sql::PlatformStep],
    /// Tables kept from the previous snapshot, by new name, as they were.
    pub previous: HashMap<String, Table>,
    /// The previous snapshot's SQLite `set_null` triggers.
    pub old_triggers: Vec<sql::Trigger>,
}

impl Diff {
    /// Whether a migration is needed.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && !self.init && self.platform.is_empty()
    }

    /// The platform tables' SQL for `d`, every step this migration applies.
    fn platform_sql(&self, d: Dialect) -> String {
        let mut out = String::new();
        for step in self.platform {
            out.push_str(sql::platform(d, step));
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// Tables ordered so that referenced tables come first.
fn topo(tables: &[Table]) -> Vec<Table> {
    let mut out: Vec<Table> = Vec::new();
    let mut pending: Vec<Table> = tables.to_vec();
    while !pending.is_empty() {
        let before = pending.len();
        let names: BTreeSet<String> = pending.iter().map(|t| t.name.clone()).collect();
        let mut rest = Vec::new();
        for t in pending {
            let blocked = t.columns.iter().any(|c| {
                c.references
                    .as_ref()
                    .is_some_and(|r| r.table != t.name && names.contains(&r.table))
            });
            if blocked { rest.push(t) } else { out.push(t) }
        }
        if rest.len() == before {
            // A reference cycle: keep spec order (PostgreSQL needs the FK
            // added later; the checker refuses cycles between models).
            out.extend(rest);
            break;
        }
        pending = rest;
    }
    out
}

/// Diffs the previous snapshot (if any) with the wanted one.
pub fn diff(old: Option<&Snapshot>, new: &Snapshot) -> Diff {
    let Some(old) = old else {
        return Diff {
            ops: topo(&new.tables).into_iter().map(Op::CreateTable).collect(),
            init: true,
            platform: sql::PLATFORM,
            ..Diff::default()
        };
    };
    let mut d = Diff {
        old_triggers: sql::set_null_triggers(&old.tables),
        platform: &sql::PLATFORM[sql::PLATFORM.partition_point(|s| s.version <= old.platform)..],
        ..Diff::default()
    };
    let mut renames: Vec<Op> = Vec::new();
    let mut col_renames: Vec<Op> = Vec::new();
    let mut creates: Vec<Table> = Vec::new();
    let mut adds: Vec<Op> = Vec::new();
    let mut alters: Vec<Op> = Vec::new();
    let mut drop_cols: Vec<Op> = Vec::new();
    let mut drops: Vec<Table> = Vec::new();
    let mut key_drops: Vec<Table> = Vec::new();

    // Match tables: by name, then by the model's `renamed_from`.
    let mut matched: Vec<(Table, &Table)> = Vec::new(); // (old, renamed to new names), new
    let mut used_old: BTreeSet<String> = BTreeSet::new();
    let mut table_map: HashMap<String, String> = HashMap::new(); // old table name -> new
    let mut pending_new = Vec::new();
    for t in &new.tables {
        if let Some(o) = old.table(&t.name) {
            used_old.insert(o.name.clone());
            matched.push((o.clone(), t));
        } else {
            pending_new.push(t);
        }
    }
    for t in pending_new {
        let from = t.renamed_from.as_ref().and_then(|m| {
            old.tables
                .iter()
                .find(|o| &o.model == m && !used_old.contains(&o.name) && new.table(&o.name).is_none())
        });
        match from {
            Some(o) => {
                used_old.insert(o.name.clone());
                table_map.insert(o.name.clone(), t.name.clone());
                renames.push(Op::RenameTable {
                    old: o.clone(),
                    to: t.name.clone(),
                });
                let mut renamed = o.clone();
                renamed.name.clone_from(&t.name);
                renamed.model.clone_from(&t.model);
                matched.push((renamed, t));
            }
            None => creates.push(t.clone()),
        }
    }
    for o in &old.tables {
        if !used_old.contains(&o.name) {
            d.destructive.push(format!("drop table `{}` and all its rows", o.name));
            drops.push(o.clone());
        }
    }

    let map_ref = |c: &Column| -> Column {
        let mut c = c.clone();
        if let Some(r) = &mut c.references
            && let Some(n) = table_map.get(&r.table)
        {
            r.table.clone_from(n);
        }
        c.renamed_from = None;
        c
    };

    // Index state after renames (PostgreSQL renames indexes with their table
    // and columns; the SQLite renderer drops and recreates them instead).
    let mut old_indexes: BTreeSet<Index> = BTreeSet::new();
    let mut new_indexes: BTreeSet<Index> = BTreeSet::new();

    for (o, t) in &mut matched {
        if let Some(prev) = old
            .tables
            .iter()
            .find(|x| x.name == o.name || table_map.get(&x.name) == Some(&t.name))
        {
            d.previous.insert(t.name.clone(), prev.clone());
        }
        if o.key != t.key {
            d.destructive.push(format!(
                "change the key of `{}` from {:?} to {:?} (the table is dropped and created again)",
                t.name, o.key, t.key
            ));
            key_drops.push(o.clone());
            creates.push((*t).clone());
            continue;
        }
        let mut used_cols: BTreeSet<String> = BTreeSet::new();
        let mut renamed_cols: Vec<Column> = Vec::new();
        for c in &t.columns {
            let old_col = o
                .column(&c.name)
                .filter(|oc| !used_cols.contains(&oc.name))
                .cloned()
                .or_else(|| {
                    let from = c.renamed_from.as_ref()?;
                    let oc = o.columns.iter().find(|oc| {
                        &oc.field == from && !used_cols.contains(&oc.name) && t.column(&oc.name).is_none()
                    })?;
                    col_renames.push(Op::RenameColumn {
                        table: t.name.clone(),
                        old: oc.clone(),
                        to: c.name.clone(),
                    });
                    let mut r = oc.clone();
                    r.name.clone_from(&c.name);
                    r.field.clone_from(&c.field);
                    Some(r)
                });
            match old_col {
                Some(oc) => {
                    used_cols.insert(o.column(&oc.name).map_or_else(
                        || {
                            o.columns
                                .iter()
                                .find(|x| Some(&x.field) == c.renamed_from.as_ref())
                                .map(|x| x.name.clone())
                                .unwrap_or_default()
                        },
                        |x| x.name.clone(),
                    ));
                    let oc = map_ref(&oc);
                    let nc = map_ref(c);
                    renamed_cols.push(oc.clone());
                    if oc.owner != nc.owner {
                        let now = if nc.owner { "now" } else { "no longer" };
                        d.metadata.push(format!(
                            "~ column {}.{}: {now} the row's owner (no SQL)",
                            t.name, nc.name
                        ));
                    }
                    if !same_column(&oc, &nc) {
                        d.destructive.extend(narrowing(&t.name, &oc, &nc));
                        alters.push(Op::AlterColumn {
                            table: t.name.clone(),
                            old: oc,
                            new: nc,
                        });
                    }
                }
                None => {
                    // A new owner is filled with the tenant's first member.
                    if !c.optional && c.default.is_none() && !c.backfills_owner() {
                        d.refused.push(format!(
                            "new column `{}.{}` is required and has no default, so existing rows would have no value: give it a default or make it optional",
                            t.name, c.name
                        ));
                    }
                    adds.push(Op::AddColumn {
                        table: t.name.clone(),
                        column: map_ref(c),
                    });
                }
            }
        }
        for oc in &o.columns {
            if !used_cols.contains(&oc.name) {
                d.destructive
                    .push(format!("drop column `{}.{}` and its data", t.name, oc.name));
                drop_cols.push(Op::DropColumn {
                    table: t.name.clone(),
                    column: oc.clone(),
                });
            }
        }
        // The old table as PostgreSQL sees it after the renames.
        let mut renamed_old = o.clone();
        renamed_old.columns = renamed_cols;
        for c in &o.columns {
            if used_cols.contains(&c.name) {
                continue;
            }
            renamed_old.columns.push(c.clone()); // dropped later
        }
        if let Some(sc) = col_renames.iter().find_map(|op| match op {
            Op::RenameColumn { table, old, to } if table == &t.name && old.name == o.sort_column => Some(to.clone()),
            _ => None,
        }) {
            renamed_old.sort_column = sc;
        }
        old_indexes.extend(sql::indexes(&renamed_old));
        new_indexes.extend(sql::indexes(t));
    }

    let mut ops: Vec<Op> = Vec::new();
    if old.format < snapshot::FORMAT_NAMED {
        ops.extend(
            old.tables
                .iter()
                .filter(|t| used_old.contains(&t.name) && adopt::needed(t))
                .cloned()
                .map(Op::AdoptNames),
        );
    }
    ops.extend(renames);
    ops.extend(col_renames);
    ops.extend(old_indexes.difference(&new_indexes).cloned().map(Op::DropIndex));
    ops.extend(key_drops.into_iter().map(Op::DropTable));
    ops.extend(topo(&creates).into_iter().map(Op::CreateTable));
    ops.extend(adds);
    ops.extend(alters);
    ops.extend(drop_cols);
    let mut drops = topo(&drops);
    drops.reverse();
    ops.extend(drops.into_iter().map(Op::DropTable));
    ops.extend(new_indexes.difference(&old_indexes).cloned().map(Op::CreateIndex));
    d.ops = ops;
    d
}

/// Whether two columns have the same SQL: the field name and the owner
/// flag are not in the database, and the index flags (`indexed`,
/// `searchable`) are the index diff's, not the column's (SQLite needs no
/// rebuild for an index).
fn same_column(a: &Column, b: &Column) -> bool {
    let strip = |c: &Column| {
        let mut c = c.clone();
        c.field.clear();
        c.renamed_from = None;
        c.owner = false;
        c.indexed = false;
        c.searchable = false;
        c
    };
    strip(a) == strip(b)
}

/// Why a column change may lose data or fail on existing rows.
fn narrowing(table: &str, o: &Column, n: &Column) -> Vec<String> {
    let mut out = Vec::new();
    let col = format!("`{table}.{}`", n.name);
    let type_name = |c: &Column| match &c.references {
        Some(r) => format!("ref to {} ({:?})", r.table, r.key),
        None => c.kind.as_str().to_owned(),
    };
    let same_type = o.kind == n.kind
        || matches!(
            (o.kind, n.kind),
            (Kind::String, Kind::Text)
                | (Kind::Text, Kind::String)
                | (Kind::Int, Kind::Bigint)
                // Dropping a format's check keeps every value (both are text).
                | (Kind::Email | Kind::Url, Kind::String | Kind::Text)
        );
    let same_ref = match (&o.references, &n.references) {
        (Some(a), Some(b)) => a.table == b.table && a.key == b.key,
        (None, None) => true,
        _ => false,
    };
    if !same_type || !same_ref {
        out.push(format!(
            "change the type of {col} from {} to {}",
            type_name(o),
            type_name(n)
        ));
    }
    if let Some(m) = n.max_len
        && o.max_len.is_none_or(|om| m < om)
    {
        out.push(format!("narrow {col} to at most {m} characters"));
    }
    if let Some(m) = n.min
        && o.min.is_none_or(|om| m > om)
    {
        out.push(format!("raise the minimum of {col} to {m}"));
    }
    if let Some(m) = n.max
        && o.max.is_none_or(|om| m < om)
    {
        out.push(format!("lower the maximum of {col} to {m}"));
    }
    let removed: Vec<_> = o.values.iter().filter(|v| !n.values.contains(v)).cloned().collect();
    if n.kind == Kind::Enum && o.kind == Kind::Enum && !removed.is_empty() {
        out.push(format!("remove the values {} from {col}", removed.join(", ")));
    }
    // With a default, the migration fills the nulls first (an `UPDATE`, or
    // `COALESCE` in a SQLite rebuild): nothing fails, nothing is lost.
    if o.optional && !n.optional && n.default.is_none() {
        out.push(format!("make {col} required (rows holding null fail)"));
    }
    out
}

/// A short description, for the plan and the migration's name.
pub fn describe(op: &Op) -> (String, String) {
    match op {
        Op::CreateTable(t) => (format!("+ table {}", t.name), format!("create_{}", t.name)),
        Op::RenameTable { old, to } => (
            format!("~ table {} renamed to {to} (data kept)", old.name),
            format!("rename_{}_to_{to}", old.name),
        ),
        Op::RenameColumn { table, old, to } => (
            format!("~ column {table}.{} renamed to {to} (data kept)", old.name),
            format!("rename_{table}_{}_to_{to}", old.name),
        ),
        Op::AddColumn { table, column } => (
            format!("+ column {table}.{} {}", column.name, column_summary(column)),
            format!("add_{table}_{}", column.field),
        ),
        Op::AlterColumn { table, new, .. } => (
            format!("~ column {table}.{} now {}", new.name, column_summary(new)),
            format!("alter_{table}_{}", new.field),
        ),
        Op::DropColumn { table, column } => (
            format!("- column {table}.{}", column.name),
            format!("drop_{table}_{}", column.name),
        ),
        Op::DropTable(t) => (format!("- table {}", t.name), format!("drop_{}", t.name)),
        Op::CreateIndex(i) => (
            format!("+ index {} on {} ({})", i.name, i.table, i.columns),
            format!("index_{}", i.table),
        ),
        Op::DropIndex(i) => (format!("- index {}", i.name), format!("index_{}", i.table)),
        Op::AdoptNames(t) => (
            format!("~ table {}: constraints and indexes given explicit names", t.name),
            format!("name_{}_constraints", t.name),
        ),
    }
}

/// What a change does to the existing rows, when its summary does not say,
/// for the plan.
pub fn note(op: &Op) -> Option<String> {
    match op {
        Op::AddColumn { table, column } if column.backfills_owner() => Some(format!(
            "{table}.{}: existing rows are owned by their tenant's first member \
             (a tenant with rows and no member fails the migration, changing nothing)",
            column.name
        )),
        _ => None,
    }
}

/// `string, required, max_len 120, indexed` …: what the column's DDL says
/// (sorting is the routes' and not shown).
pub fn column_summary(c: &Column) -> String {
    let mut parts = vec![match &c.references {
        Some(r) => format!("ref {}", r.table),
        None => c.kind.as_str().to_owned(),
    }];
    parts.push(if c.optional {
        "optional".into()
    } else {
        "required".into()
    });
    if let Some(d) = &c.default {
        parts.push(format!("default {d:?}"));
    }
    if let Some(n) = c.max_len {
        parts.push(format!("max_len {n}"));
    }
    if let Some(n) = c.min {
        parts.push(format!("min {n}"));
    }
    if let Some(n) = c.max {
        parts.push(format!("max {n}"));
    }
    if c.unique {
        parts.push("unique".into());
    }
    if c.indexed {
        parts.push("indexed".into());
    }
    if c.searchable {
        parts.push("searchable".into());
    }
    if c.owner {
        parts.push("owner".into());
    }
    if !c.values.is_empty() {
        parts.push(format!("values {}", c.values.join("|")));
    }
    parts.join(", ")
}

/// The migration's name, derived from its changes.
pub fn migration_name(diff: &Diff) -> String {
    if diff.init {
        return "init".into();
    }
    let mut names: Vec<String> = diff.platform.iter().map(|s| format!("platform_{}", s.name)).collect();
    for op in &diff.ops {
        let n = describe(op).1;
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let schema: Vec<_> = names.iter().filter(|n| !n.starts_with("index_")).cloned().collect();
    let names = if schema.is_empty() { names } else { schema };
    let joined = names.join("_and_");
    if joined.len() <= 60 {
        return joined;
    }
    let first = names.first().cloned().unwrap_or_else(|| "update".into());
    let mut cut = first;
    cut.truncate(50);
    format!("{}_and_more", cut.trim_end_matches('_'))
}

/// Renders the migration for one dialect.
pub fn render(dialect: Dialect, diff: &Diff, new: &Snapshot) -> Result<String> {
    match dialect {
        Dialect::Postgres => render_postgres(diff),
        Dialect::Sqlite => render_sqlite(diff, new),
    }
}

fn section(out: &mut String, text: &str) {
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(text);
}

/// `text` with `pg_trgm`'s `CREATE EXTENSION` only where the first trigram
/// index needs it.
fn one_extension(text: String) -> String {
    const CREATE: &str = "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n";
    match text.find(CREATE) {
        Some(at) => {
            let end = at + CREATE.len();
            format!("{}{}", &text[..end], text[end..].replace(CREATE, ""))
        }
        None => text,
    }
}

fn render_postgres(diff: &Diff) -> Result<String> {
    let d = Dialect::Postgres;
    let mut out = String::new();
    out.push_str(&diff.platform_sql(d));
    for op in &diff.ops {
        let text = match op {
            Op::CreateTable(t) => sql::create_table(d, t)?,
            Op::RenameTable { old, to } => {
                let mut s = format!("ALTER TABLE {} RENAME TO {};\n", ident(&old.name), ident(to));
                let mut renamed = old.clone();
                renamed.name.clone_from(to);
                let t = ident(to);
                for (a, b) in [
                    (sql::pkey_name(&old.name), sql::pkey_name(to)),
                    (sql::tenant_fkey_name(&old.name), sql::tenant_fkey_name(to)),
                ] {
                    s.push_str(&format!("ALTER TABLE {t} RENAME CONSTRAINT {a} TO {b};\n"));
                }
                for c in &old.columns {
                    s.push_str(&rename_column_objects(&old.name, to, c, &c.name));
                }
                let (a, b) = (sql::sort_index(old), sql::sort_index(&renamed));
                s.push_str(&format!("ALTER INDEX {} RENAME TO {};\n", a.name, b.name));
                s
            }
            Op::RenameColumn { table, old, to } => {
                let mut s = format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {};\n",
                    ident(table),
                    ident(&old.name),
                    ident(to)
                );
                s.push_str(&rename_column_objects(table, table, old, to));
                s
            }
            Op::AddColumn { table, column } => {
                let t = ident(table);
                let mut s = if column.backfills_owner() {
                    add_owner_postgres(table, column)?
                } else {
                    add_column(d, table, column)?
                };
                if let Some(u) = sql::unique(table, column) {
                    s.push_str(&format!("ALTER TABLE {t} ADD {u};\n"));
                }
                if let Some(f) = sql::foreign_key(d, table, column) {
                    s.push_str(&format!("ALTER TABLE {t} ADD {f};\n"));
                }
                s
            }
            Op::AlterColumn { table, old, new } => alter_postgres(table, old, new)?,
            Op::DropColumn { table, column } => {
                format!("ALTER TABLE {} DROP COLUMN {};\n", ident(table), ident(&column.name))
            }
            Op::DropTable(t) => format!("DROP TABLE {};\n", ident(&t.name)),
            Op::CreateIndex(i) => i.create(d),
            Op::DropIndex(i) => i.drop(d),
            Op::AdoptNames(t) => adopt::postgres(t),
        };
        section(&mut out, &text);
    }
    Ok(one_extension(out))
}

/// Renames the constraints and index named after a column (PostgreSQL).
fn rename_column_objects(old_table: &str, new_table: &str, c: &Column, new_col: &str) -> String {
    let mut s = String::new();
    let t = ident(new_table);
    let mut rename = |kind: &str, a: String, b: String| {
        if a != b {
            if kind == "index" {
                s.push_str(&format!("ALTER INDEX {a} RENAME TO {b};\n"));
            } else {
                s.push_str(&format!("ALTER TABLE {t} RENAME CONSTRAINT {a} TO {b};\n"));
            }
        }
    };
    if sql::check_sql(Dialect::Postgres, c).is_some() {
        rename(
            "constraint",
            sql::check_name(old_table, &c.name),
            sql::check_name(new_table, new_col),
        );
    }
    if c.unique && c.kind != Kind::Email {
        rename(
            "constraint",
            sql::unique_name(old_table, &c.name),
            sql::unique_name(new_table, new_col),
        );
    }
    if c.searchable {
        rename(
            "index",
            crate::naming::search_index_name(old_table, &c.name),
            crate::naming::search_index_name(new_table, new_col),
        );
    }
    if c.references.is_some() {
        rename(
            "constraint",
            sql::fkey_name(old_table, &c.name),
            sql::fkey_name(new_table, new_col),
        );
    }
    if let Some(i) = sql::column_index(old_table, c) {
        let mut nc = c.clone();
        nc.name = new_col.to_owned();
        if let Some(j) = sql::column_index(new_table, &nc) {
            rename("index", i.name, j.name);
        }
    }
    s
}

fn alter_postgres(table: &str, o: &Column, n: &Column) -> Result<String> {
    let d = Dialect::Postgres;
    let t = ident(table);
    let col = ident(&n.name);
    let mut s = String::new();
    let (oc, nc) = (sql::check_sql(d, o), sql::check_sql(d, n));
    let (of, nf) = (sql::foreign_key(d, table, o), sql::foreign_key(d, table, n));
    let (ou, nu) = (sql::unique(table, o), sql::unique(table, n));
    if oc.is_some() && oc != nc {
        s.push_str(&format!(
            "ALTER TABLE {t} DROP CONSTRAINT {};\n",
            sql::check_name(table, &n.name)
        ));
    }
    if of.is_some() && of != nf {
        s.push_str(&format!(
            "ALTER TABLE {t} DROP CONSTRAINT {};\n",
            sql::fkey_name(table, &n.name)
        ));
    }
    if ou.is_some() && ou != nu {
        s.push_str(&format!(
            "ALTER TABLE {t} DROP CONSTRAINT {};\n",
            sql::unique_name(table, &n.name)
        ));
    }
    let (ot, nt) = (sql::column_type(d, o), sql::column_type(d, n));
    if ot != nt {
        s.push_str(&format!(
            "ALTER TABLE {t} ALTER COLUMN {col} TYPE {nt} USING {col}::{nt};\n"
        ));
    }
    let (od, nd) = (sql::default_sql(d, table, o)?, sql::default_sql(d, table, n)?);
    if od != nd || ot != nt {
        match &nd {
            Some(lit) => s.push_str(&format!("ALTER TABLE {t} ALTER COLUMN {col} SET DEFAULT {lit};\n")),
            None if od.is_some() => s.push_str(&format!("ALTER TABLE {t} ALTER COLUMN {col} DROP DEFAULT;\n")),
            None => {}
        }
    }
    if o.optional
        && !n.optional
        && let Some(lit) = &nd
    {
        s.push_str(&format!("UPDATE {t} SET {col} = {lit} WHERE {col} IS NULL;\n"));
    }
    if o.optional != n.optional {
        let what = if n.optional { "DROP" } else { "SET" };
        s.push_str(&format!("ALTER TABLE {t} ALTER COLUMN {col} {what} NOT NULL;\n"));
    }
    if let Some(c) = nc
        && oc.as_ref() != Some(&c)
    {
        s.push_str(&format!(
            "ALTER TABLE {t} ADD CONSTRAINT {} CHECK ({c});\n",
            sql::check_name(table, &n.name)
        ));
    }
    if let Some(u) = nu.filter(|u| ou.as_ref() != Some(u)) {
        s.push_str(&format!("ALTER TABLE {t} ADD {u};\n"));
    }
    if let Some(f) = nf.filter(|f| of.as_ref() != Some(f)) {
        s.push_str(&format!("ALTER TABLE {t} ADD {f};\n"));
    }
    if s.is_empty() {
        s = format!("-- {table}.{}: no DDL change (index or metadata only)\n", n.name);
    }
    Ok(s)
}

/// SQLite cannot alter constraints: a table whose columns change shape is
/// rebuilt (create `<t>__new`, copy, drop, rename). Renames use
/// `ALTER TABLE … RENAME`, keeping data. Indexes of renamed or rebuilt tables
/// are dropped first and created again at the end.
fn render_sqlite(diff: &Diff, new: &Snapshot) -> Result<String> {
    let d = Dialect::Sqlite;
    let mut out = String::new();
    out.push_str(&diff.platform_sql(d));
    let mut rebuild: BTreeSet<String> = BTreeSet::new();
    let mut reindex: BTreeSet<String> = BTreeSet::new();
    for op in &diff.ops {
        match op {
            Op::AlterColumn { table, .. } => {
                rebuild.insert(table.clone());
            }
            // An email's uniqueness is an index, which needs no rebuild.
            Op::AddColumn { table, column } | Op::DropColumn { table, column }
                if (column.unique && column.kind != Kind::Email) || column.references.is_some() =>
            {
                rebuild.insert(table.clone());
            }
            Op::RenameTable { to: table, .. } | Op::RenameColumn { table, .. } => {
                reindex.insert(table.clone());
            }
            _ => {}
        }
    }
    reindex.extend(rebuild.iter().cloned());

    // `set_null` triggers name columns and tables that any change may
    // rename, rebuild or drop: every migration drops the old ones first and
    // creates the wanted ones last.
    let mut pre: String = diff
        .old_triggers
        .iter()
        .map(|t| format!("DROP TRIGGER IF EXISTS {};\n", t.name))
        .collect();
    for op in &diff.ops {
        if let Op::AdoptNames(t) = op {
            pre.push_str(&adopt::sqlite(t));
        }
    }
    for t in &reindex {
        if let Some(old) = diff.previous.get(t) {
            for i in sql::indexes(old) {
                pre.push_str(&i.drop(d));
            }
        }
    }
    for op in &diff.ops {
        if let Op::DropIndex(i) = op
            && !reindex.contains(&i.table)
        {
            pre.push_str(&i.drop(d));
        }
    }
    if !pre.is_empty() {
        section(&mut out, &pre);
    }
    for op in &diff.ops {
        let text = match op {
            Op::RenameTable { old, to } => {
                format!("ALTER TABLE {} RENAME TO {};\n", ident(&old.name), ident(to))
            }
            Op::RenameColumn { table, old, to } => format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {};\n",
                ident(table),
                ident(&old.name),
                ident(to)
            ),
            Op::CreateTable(t) => sql::create_table(d, t)?,
            Op::AddColumn { table, column } if !rebuild.contains(table) => add_column(d, table, column)?,
            Op::DropColumn { table, column } if !rebuild.contains(table) => {
                format!("ALTER TABLE {} DROP COLUMN {};\n", ident(table), ident(&column.name))
            }
            Op::DropTable(t) => format!("DROP TABLE {};\n", ident(&t.name)),
            _ => continue,
        };
        section(&mut out, &text);
    }
    for t in &rebuild {
        let nt = new.table(t).expect("rebuilt tables exist in the new schema");
        section(&mut out, &rebuild_sqlite(diff, nt)?);
    }
    let mut idx = String::new();
    for t in &reindex {
        if let Some(nt) = new.table(t) {
            for i in sql::indexes(nt) {
                idx.push_str(&i.create(d));
            }
        }
    }
    for op in &diff.ops {
        if let Op::CreateIndex(i) = op
            && !reindex.contains(&i.table)
        {
            idx.push_str(&i.create(d));
        }
    }
    if !idx.is_empty() {
        section(&mut out, &idx);
    }
    let triggers: String = sql::set_null_triggers(&new.tables)
        .into_iter()
        .map(|t| t.create)
        .collect();
    if !triggers.is_empty() {
        section(&mut out, &triggers);
    }
    if rebuild.is_empty() {
        return Ok(out);
    }
    // Dropping a rebuilt table with foreign keys on would fire the ON DELETE
    // actions of the tables referencing it (deleting their rows). SQLite
    // allows turning foreign keys off only outside a transaction, so this
    // migration runs without one (sqlx's `-- no-transaction`) and opens its own.
    Ok(format!(
        "-- no-transaction\n-- Rebuilds tables: foreign keys are off while the data is copied.\nPRAGMA foreign_keys = OFF;\nBEGIN;\n\n{out}\nCOMMIT;\nPRAGMA foreign_keys = ON;\n"
    ))
}

fn add_column(d: Dialect, table: &str, column: &Column) -> Result<String> {
    let rest = sql::column_rest(d, table, column)?;
    let sep = if rest.is_empty() { "" } else { " " };
    Ok(format!(
        "ALTER TABLE {} ADD COLUMN {} {}{sep}{rest};\n",
        ident(table),
        ident(&column.name),
        sql::column_type(d, column)
    ))
}

/// A new owner on a table that may have rows: added nullable, filled with
/// each row's tenant's first member, then made required. `SET NOT NULL`
/// fails the whole migration if a tenant with rows has no member.
fn add_owner_postgres(table: &str, column: &Column) -> Result<String> {
    let (t, col) = (ident(table), ident(&column.name));
    let mut nullable = column.clone();
    nullable.optional = true;
    Ok(format!(
        "-- {table}.{}: existing rows are owned by their tenant's first member; if a tenant with rows\n-- has none, SET NOT NULL fails and the migration with it, changing nothing.\n{}UPDATE {t} SET {col} = {};\nALTER TABLE {t} ALTER COLUMN {col} SET NOT NULL;\n",
        column.name,
        add_column(Dialect::Postgres, table, &nullable)?,
        sql::first_member(table)
    ))
}

fn rebuild_sqlite(diff: &Diff, nt: &Table) -> Result<String> {
    let d = Dialect::Sqlite;
    let t = &nt.name;
    let mut added: BTreeSet<&str> = BTreeSet::new();
    let mut altered: HashMap<&str, &Column> = HashMap::new();
    for op in &diff.ops {
        match op {
            Op::AddColumn { table, column } if table == t => {
                added.insert(column.name.as_str());
            }
            Op::AlterColumn { table, old, new } if table == t => {
                altered.insert(new.name.as_str(), old);
            }
            _ => {}
        }
    }
    let tmp = format!("{t}__new");
    let mut cols = vec!["tenant_id".to_owned(), "id".to_owned()];
    let mut exprs = cols.clone();
    let mut notes = String::new();
    for c in &nt.columns {
        if added.contains(c.name.as_str()) {
            // A new owner is filled with the row's tenant's first member
            // (NULL, refused by NOT NULL, for a tenant without one); any
            // other new column takes its default.
            if c.backfills_owner() {
                notes.push_str(&format!(
                    "-- {t}.{}: existing rows are owned by their tenant's first member; if a tenant with rows\n-- has none, NOT NULL fails the copy and the migration with it, changing nothing.\n",
                    c.name
                ));
                cols.push(ident(&c.name));
                exprs.push(sql::first_member(t));
            }
            continue;
        }
        cols.push(ident(&c.name));
        let e = match (altered.get(c.name.as_str()), sql::default_sql(d, t, c)?) {
            (Some(o), Some(lit)) if o.optional && !c.optional => {
                format!("COALESCE({}, {lit})", ident(&c.name))
            }
            _ => ident(&c.name),
        };
        exprs.push(e);
    }
    for c in ["created_at", "updated_at"] {
        cols.push(c.to_owned());
        exprs.push(c.to_owned());
    }
    Ok(format!(
        "-- Rebuild {t}: SQLite cannot change a column's constraints in place.\n{notes}{}INSERT INTO {tmp} ({})\n    SELECT {} FROM {};\nDROP TABLE {};\nALTER TABLE {tmp} RENAME TO {};\n",
        sql::create_table_as(d, nt, &tmp)?,
        cols.join(", "),
        exprs.join(", "),
        ident(t),
        ident(t),
        ident(t)
    ))
}
