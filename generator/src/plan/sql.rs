//! SQL text for PostgreSQL and SQLite: table definitions, constraints,
//! indexes and literals. Every constraint and index is named explicitly by
//! the rule in `macros/core/src/naming.rs` (PostgreSQL's own default when it fits
//! in 63 bytes, cut + hash otherwise), so the planner can alter, rename and
//! drop them later and the runtime maps violations by exact name.

use anyhow::{Result, bail};

use super::snapshot::{Column, Table};
use crate::model::{Key, Kind, OnDelete};

/// An SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL (RLS, `timestamptz`, `jsonb`).
    Postgres,
    /// SQLite (`TEXT` uuids and timestamps, `INTEGER` booleans).
    Sqlite,
}

impl Dialect {
    /// Folder name under `migrations/`.
    pub fn dir(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// The platform tables, created first by every app's first migration.
pub fn platform(d: Dialect, step: &PlatformStep) -> &'static str {
    match d {
        Dialect::Postgres => step.postgres,
        Dialect::Sqlite => step.sqlite,
    }
}

/// One version of the platform tables. The first migration of an app
/// creates every step; an app whose snapshot is at an earlier version gets
/// the steps it lacks in its next migration (the snapshot's `platform`).
#[derive(Debug)]
pub struct PlatformStep {
    /// The version this step brings the platform tables to.
    pub version: u32,
    /// Its name, for the migration's name (`platform_jobs`).
    pub name: &'static str,
    /// What it adds, for the plan.
    pub summary: &'static str,
    postgres: &'static str,
    sqlite: &'static str,
}

/// Every version of the platform tables, in order.
pub const PLATFORM: &[PlatformStep] = &[
    PlatformStep {
        version: 1,
        name: "base",
        summary: "platform tables (tenants, users, memberships, api_keys, refresh_tokens, invitations, audit_log)",
        postgres: include_str!("../../templates/platform/postgres/1_base.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/1_base.sql"),
    },
    PlatformStep {
        version: 2,
        name: "jobs",
        summary: "platform table rookery_jobs (background jobs)",
        postgres: include_str!("../../templates/platform/postgres/2_jobs.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/2_jobs.sql"),
    },
    PlatformStep {
        version: 3,
        name: "idempotency",
        summary: "platform table rookery_idempotency_keys (safe retries)",
        postgres: include_str!("../../templates/platform/postgres/3_idempotency.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/3_idempotency.sql"),
    },
    PlatformStep {
        version: 4,
        name: "mail",
        summary: "platform table rookery_mail (mail: the outbox and the delivery log)",
        postgres: include_str!("../../templates/platform/postgres/4_mail.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/4_mail.sql"),
    },
    PlatformStep {
        version: 5,
        name: "webhooks",
        summary: "platform tables rookery_events, rookery_webhook_endpoints, rookery_webhook_deliveries, rookery_webhook_attempts (domain events, outgoing webhooks)",
        postgres: include_str!("../../templates/platform/postgres/5_webhooks.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/5_webhooks.sql"),
    },
    PlatformStep {
        version: 6,
        name: "audit",
        summary: "platform table rookery_platform_audit (the platform scope's cross-tenant work)",
        postgres: include_str!("../../templates/platform/postgres/6_platform_audit.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/6_platform_audit.sql"),
    },
    PlatformStep {
        version: 7,
        name: "usage",
        summary: "platform tables rookery_usage_days, rookery_usage_members, rookery_usage_rows (usage analytics)",
        postgres: include_str!("../../templates/platform/postgres/7_usage.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/7_usage.sql"),
    },
    PlatformStep {
        version: 8,
        name: "members",
        summary: "platform columns memberships.status, removed_at, removed_by and api_keys.last_used_ip (the member lifecycle)",
        postgres: include_str!("../../templates/platform/postgres/8_members.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/8_members.sql"),
    },
    PlatformStep {
        version: 9,
        name: "quotas",
        summary: "platform table rookery_quota_windows (rate quotas: calls per tenant and window)",
        postgres: include_str!("../../templates/platform/postgres/9_quotas.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/9_quotas.sql"),
    },
    PlatformStep {
        version: 10,
        name: "audit_chain",
        summary: "platform columns audit_log.changes, seq, hash (before and after values, the hash chain)",
        postgres: include_str!("../../templates/platform/postgres/10_audit.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/10_audit.sql"),
    },
    PlatformStep {
        version: 11,
        name: "overrides",
        summary: "platform column tenants.feature_overrides (the operator's per-tenant features)",
        postgres: include_str!("../../templates/platform/postgres/11_overrides.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/11_overrides.sql"),
    },
    PlatformStep {
        version: 12,
        name: "roles",
        summary: "platform table rookery_roles (a tenant's custom roles)",
        postgres: include_str!("../../templates/platform/postgres/12_roles.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/12_roles.sql"),
    },
    PlatformStep {
        version: 13,
        name: "deletion",
        summary: "platform table rookery_tenant_erasures, platform columns tenants.deletion_requested_at, deletion_requested_by, erase_after and users.erased_at (tenant deletion, personal-data erasure)",
        postgres: include_str!("../../templates/platform/postgres/13_deletion.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/13_deletion.sql"),
    },
    PlatformStep {
        version: 14,
        name: "audit_index",
        summary: "platform index audit_log_tenant_id_seq_key made partial (sealed rows only: one index entry less per audited write)",
        postgres: include_str!("../../templates/platform/postgres/14_audit_index.sql"),
        sqlite: include_str!("../../templates/platform/sqlite/14_audit_index.sql"),
    },
];

/// The platform version this generator writes.
pub const PLATFORM_VERSION: u32 = PLATFORM[PLATFORM.len() - 1].version;

/// An identifier, double-quoted when it is a reserved word.
pub fn ident(name: &str) -> String {
    if crate::keywords::SQL.contains(&name) || crate::keywords::SQL_QUOTED.contains(&name) {
        format!("\"{name}\"")
    } else {
        name.to_owned()
    }
}

/// A single-quoted SQL string literal.
pub fn string_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn key_type(d: Dialect, k: Key) -> &'static str {
    match (d, k) {
        (Dialect::Postgres, Key::Bigint) => "bigint",
        (Dialect::Postgres, Key::Uuid) => "uuid",
        (Dialect::Sqlite, Key::Bigint) => "INTEGER",
        (Dialect::Sqlite, Key::Uuid) => "TEXT",
    }
}

/// The column's SQL type.
pub fn column_type(d: Dialect, c: &Column) -> &'static str {
    if let Some(r) = &c.references {
        return key_type(d, r.key);
    }
    match d {
        Dialect::Postgres => match c.kind {
            Kind::String | Kind::Text | Kind::Enum | Kind::Email | Kind::Url => "text",
            Kind::Int => "integer",
            Kind::Bigint => "bigint",
            Kind::Decimal => "numeric",
            Kind::Bool => "boolean",
            Kind::Date => "date",
            Kind::Datetime => "timestamptz",
            Kind::Uuid => "uuid",
            Kind::Json => "jsonb",
            Kind::Ref => "bigint",
        },
        Dialect::Sqlite => match c.kind {
            Kind::Int | Kind::Bigint | Kind::Bool | Kind::Ref => "INTEGER",
            _ => "TEXT",
        },
    }
}

/// The SQL literal of the column's default.
pub fn default_sql(d: Dialect, table: &str, c: &Column) -> Result<Option<String>> {
    let Some(v) = &c.default else { return Ok(None) };
    let bad = |what: &str| -> Result<Option<String>> { bail!("`{table}.{}`: default {v:?} is not {what}", c.name) };
    let lit = match c.kind {
        Kind::Int | Kind::Bigint => match v.parse::<i64>() {
            Ok(n) => n.to_string(),
            Err(_) => return bad("an integer"),
        },
        Kind::Decimal => {
            let t = v.trim();
            let digits = t.strip_prefix('-').unwrap_or(t);
            let ok = !digits.is_empty()
                && digits.chars().all(|ch| ch.is_ascii_digit() || ch == '.')
                && digits.matches('.').count() <= 1
                && digits.chars().any(|ch| ch.is_ascii_digit());
            if !ok {
                return bad("a decimal number");
            }
            // SQLite would store a number literal as a float's text (9.50 → '9.5').
            match d {
                Dialect::Postgres => t.to_owned(),
                Dialect::Sqlite => string_lit(t),
            }
        }
        Kind::Bool => match (v.as_str(), d) {
            ("true", Dialect::Postgres) => "true".into(),
            ("false", Dialect::Postgres) => "false".into(),
            ("true", Dialect::Sqlite) => "1".into(),
            ("false", Dialect::Sqlite) => "0".into(),
            _ => return bad("true or false"),
        },
        Kind::Enum if !c.values.contains(v) => return bad("one of the enum's values"),
        Kind::Ref => return bad("allowed: a reference has no default"),
        _ => string_lit(v),
    };
    Ok(Some(lit))
}

/// The column's CHECK expression (length, range, enum values).
pub fn check_sql(d: Dialect, c: &Column) -> Option<String> {
    let col = ident(&c.name);
    let mut parts = Vec::new();
    if let Some(n) = c.max_len {
        let f = if d == Dialect::Postgres {
            "char_length"
        } else {
            "length"
        };
        parts.push(format!("{f}({col}) <= {n}"));
    }
    // SQLite stores decimals as text, which compares as text ('9.5' > '10'):
    // compare the number. A REAL is exact for the integer bounds the spec
    // allows and rounding keeps order, so an in-range value always passes;
    // the API's exact check refuses the rest before any SQL runs.
    let value = if d == Dialect::Sqlite && c.kind == Kind::Decimal {
        format!("CAST({col} AS REAL)")
    } else {
        col.clone()
    };
    if let Some(n) = c.min {
        parts.push(format!("{value} >= {n}"));
    }
    if let Some(n) = c.max {
        parts.push(format!("{value} <= {n}"));
    }
    if c.kind == Kind::Enum && !c.values.is_empty() {
        let vals: Vec<_> = c.values.iter().map(|v| string_lit(v)).collect();
        parts.push(format!("{col} IN ({})", vals.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

/// Everything after the type in a column definition.
pub fn column_rest(d: Dialect, table: &str, c: &Column) -> Result<String> {
    let mut rest = Vec::new();
    if !c.optional {
        rest.push("NOT NULL".to_owned());
    }
    if let Some(lit) = default_sql(d, table, c)? {
        rest.push(format!("DEFAULT {lit}"));
    }
    if let Some(check) = check_sql(d, c) {
        rest.push(format!("CONSTRAINT {} CHECK ({check})", check_name(table, &c.name)));
    }
    Ok(rest.join(" "))
}

/// `CONSTRAINT … FOREIGN KEY (tenant_id, x_id) REFERENCES t (tenant_id, id) ON DELETE …`.
///
/// `set_null` must keep `tenant_id`: PostgreSQL (15+) nulls only the listed
/// column; SQLite has no column list (its `SET NULL` would null `tenant_id`
/// too), so there the key restricts and [`set_null_triggers`] null the
/// reference first.
pub fn foreign_key(d: Dialect, table: &str, c: &Column) -> Option<String> {
    let r = c.references.as_ref()?;
    let action = match (c.on_delete.unwrap_or(OnDelete::Restrict), d) {
        (OnDelete::Restrict, _) | (OnDelete::SetNull, Dialect::Sqlite) => "RESTRICT".to_owned(),
        (OnDelete::Cascade, _) => "CASCADE".to_owned(),
        (OnDelete::SetNull, Dialect::Postgres) => format!("SET NULL ({})", ident(&c.name)),
    };
    Some(format!(
        "CONSTRAINT {} FOREIGN KEY (tenant_id, {}) REFERENCES {} (tenant_id, {}) ON DELETE {action}",
        fkey_name(table, &c.name),
        ident(&c.name),
        ident(&r.table),
        ident(&r.column)
    ))
}

/// The user id of the first member of the `table` row's tenant: the
/// earliest active membership (a former member owns nothing new; the
/// migration's platform steps, which come first, made `status`), ties
/// broken by user id. A new owner column gives
/// existing rows this owner; for a tenant with no member it is NULL, which
/// the column's `NOT NULL` then refuses. The same text on both dialects
/// (SQLite's RFC 3339 timestamps sort as text in time order).
pub fn first_member(table: &str) -> String {
    format!(
        "(SELECT m.user_id FROM memberships m WHERE m.tenant_id = {}.tenant_id AND m.status = 'active' ORDER BY m.created_at, m.user_id LIMIT 1)",
        ident(table)
    )
}

/// `CONSTRAINT … UNIQUE (tenant_id, col)`. An email is unique without
/// regard to case: a unique index on `(tenant_id, lower(col))` of the same
/// name instead ([`column_index`]).
pub fn unique(table: &str, c: &Column) -> Option<String> {
    (c.unique && c.kind != Kind::Email).then(|| {
        format!(
            "CONSTRAINT {} UNIQUE (tenant_id, {})",
            unique_name(table, &c.name),
            ident(&c.name)
        )
    })
}

pub(crate) use crate::naming::{check_name, fkey_name, pkey_name, tenant_fkey_name, unique_name};

/// An index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    /// Index name.
    pub name: String,
    /// Table.
    pub table: String,
    /// Column list, as SQL.
    pub columns: String,
    /// `CREATE UNIQUE INDEX` (an email's case-insensitive uniqueness).
    pub unique: bool,
    /// A trigram GIN index for the `q=` search: PostgreSQL only (SQLite's
    /// search is a `LIKE` scan of the tenant's rows).
    pub trigram: bool,
}

impl Index {
    /// `CREATE INDEX …;` (nothing for an index the dialect does not have).
    /// A trigram index first creates `pg_trgm` if it is missing: a trusted
    /// extension since PostgreSQL 13, so an owner with `CREATE` on the
    /// database may create it (and `IF NOT EXISTS` asks for nothing when a
    /// superuser already did).
    pub fn create(&self, d: Dialect) -> String {
        match (self.trigram, d) {
            (true, Dialect::Sqlite) => String::new(),
            (true, Dialect::Postgres) => format!(
                "CREATE EXTENSION IF NOT EXISTS pg_trgm;\nCREATE INDEX {} ON {} USING gin ({});\n",
                self.name,
                ident(&self.table),
                self.columns
            ),
            (false, _) => format!(
                "CREATE {}INDEX {} ON {} ({});\n",
                if self.unique { "UNIQUE " } else { "" },
                self.name,
                ident(&self.table),
                self.columns
            ),
        }
    }
    /// `DROP INDEX …;` (nothing for an index the dialect does not have).
    pub fn drop(&self, d: Dialect) -> String {
        if self.trigram && d == Dialect::Sqlite {
            return String::new();
        }
        format!("DROP INDEX {};\n", self.name)
    }
}

/// The column's own index: indexed and reference columns that are not
/// already covered by a unique constraint; an email's on `lower(col)` (its
/// filters compare without regard to case), and when unique, the unique
/// index that stands in for the constraint (same name).
pub fn column_index(table: &str, c: &Column) -> Option<Index> {
    let col = if c.kind == Kind::Email {
        format!("lower({})", ident(&c.name))
    } else {
        ident(&c.name)
    };
    if c.unique && c.kind == Kind::Email {
        return Some(Index {
            name: unique_name(table, &c.name),
            table: table.to_owned(),
            columns: format!("tenant_id, {col}"),
            unique: true,
            trigram: false,
        });
    }
    ((c.indexed || c.references.is_some()) && !c.unique).then(|| Index {
        name: crate::naming::index_name(table, &c.name),
        table: table.to_owned(),
        columns: format!("tenant_id, {col}"),
        unique: false,
        trigram: false,
    })
}

/// A searchable column's trigram index (PostgreSQL): `ILIKE '%word%'`, the
/// `q=` search, is served by it (`tenant_id` is the policy's and the
/// statement's other condition; a GIN index of `pg_trgm` cannot hold a uuid
/// without `btree_gin`).
pub fn search_index(table: &str, c: &Column) -> Option<Index> {
    c.searchable.then(|| Index {
        name: crate::naming::search_index_name(table, &c.name),
        table: table.to_owned(),
        columns: format!("{} gin_trgm_ops", ident(&c.name)),
        unique: false,
        trigram: true,
    })
}

/// The default sort index.
pub fn sort_index(t: &Table) -> Index {
    let dir = if t.sort_descending { " DESC" } else { "" };
    let columns = if t.sort_column == "id" {
        format!("tenant_id, id{dir}")
    } else {
        format!("tenant_id, {}{dir}, id{dir}", ident(&t.sort_column))
    };
    Index {
        name: crate::naming::sort_index_name(&t.name),
        table: t.name.clone(),
        columns,
        unique: false,
        trigram: false,
    }
}

/// Every index of a table.
pub fn indexes(t: &Table) -> Vec<Index> {
    let mut out: Vec<_> = t.columns.iter().filter_map(|c| column_index(&t.name, c)).collect();
    out.extend(t.columns.iter().filter_map(|c| search_index(&t.name, c)));
    out.push(sort_index(t));
    out
}

/// `CREATE TABLE` (named `as_name`), without indexes or policies.
pub fn create_table_as(d: Dialect, t: &Table, as_name: &str) -> Result<String> {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let (tenant_type, ts) = match d {
        Dialect::Postgres => ("uuid", "timestamptz"),
        Dialect::Sqlite => ("TEXT", "TEXT"),
    };
    rows.push((
        "tenant_id".into(),
        tenant_type.into(),
        format!(
            "NOT NULL CONSTRAINT {} REFERENCES tenants (id) ON DELETE CASCADE",
            tenant_fkey_name(&t.name)
        ),
    ));
    let id_rest = match (d, t.key) {
        (Dialect::Postgres, Key::Bigint) => "GENERATED BY DEFAULT AS IDENTITY",
        _ => "NOT NULL",
    };
    rows.push(("id".into(), key_type(d, t.key).into(), id_rest.into()));
    for c in &t.columns {
        rows.push((ident(&c.name), column_type(d, c).into(), column_rest(d, &t.name, c)?));
    }
    rows.push(("created_at".into(), ts.into(), "NOT NULL".into()));
    rows.push(("updated_at".into(), ts.into(), "NOT NULL".into()));
    let w_name = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w_type = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut lines: Vec<String> = rows
        .iter()
        .map(|(n, ty, rest)| format!("    {n:w_name$} {ty:w_type$} {rest}").trim_end().to_owned())
        .collect();
    lines.push(format!(
        "    CONSTRAINT {} PRIMARY KEY (tenant_id, id)",
        pkey_name(&t.name)
    ));
    for c in &t.columns {
        lines.extend(unique(&t.name, c).map(|u| format!("    {u}")));
    }
    for c in &t.columns {
        lines.extend(foreign_key(d, &t.name, c).map(|f| format!("    {f}")));
    }
    Ok(format!(
        "CREATE TABLE {} (\n{}\n);\n",
        ident(as_name),
        lines.join(",\n")
    ))
}

/// A SQLite trigger standing in for `ON DELETE SET NULL (x_id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// Trigger name.
    pub name: String,
    /// `CREATE TRIGGER …;`
    pub create: String,
}

/// SQLite: one `BEFORE DELETE` trigger on the referenced table per
/// `set_null` reference, nulling only that column in the same tenant's
/// referencing rows (the key then finds nothing to restrict).
pub fn set_null_triggers(tables: &[Table]) -> Vec<Trigger> {
    let mut out = Vec::new();
    for t in tables {
        for c in &t.columns {
            let Some(r) = c.references.as_ref().filter(|_| c.on_delete == Some(OnDelete::SetNull)) else {
                continue;
            };
            let name = crate::naming::set_null_trigger_name(&t.name, &c.name);
            let col = ident(&c.name);
            let create = format!(
                "CREATE TRIGGER {name} BEFORE DELETE ON {} FOR EACH ROW BEGIN\n    UPDATE {} SET {col} = NULL WHERE tenant_id = OLD.tenant_id AND {col} = OLD.{};\nEND;\n",
                ident(&r.table),
                ident(&t.name),
                ident(&r.column)
            );
            out.push(Trigger { name, create });
        }
    }
    out
}

/// Row-level security for a model table (PostgreSQL).
pub fn rls(table: &str) -> String {
    let t = ident(table);
    let cond = "tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)";
    format!(
        "ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\nALTER TABLE {t} FORCE ROW LEVEL SECURITY;\nCREATE POLICY tenant_isolation ON {t}\n    USING ({cond})\n    WITH CHECK ({cond});\n"
    )
}

/// A whole new table: definition, indexes and (PostgreSQL) policies.
pub fn create_table(d: Dialect, t: &Table) -> Result<String> {
    let mut out = create_table_as(d, t, &t.name)?;
    for i in indexes(t) {
        out.push_str(&i.create(d));
    }
    if d == Dialect::Postgres {
        out.push_str(&rls(&t.name));
    }
    Ok(out)
}
