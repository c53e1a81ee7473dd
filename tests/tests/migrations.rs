//! Generated migrations applied to real databases (PostgreSQL and SQLite):
//! from scratch they build exactly the schema `migrations/rookery.snapshot.json`
//! describes, and an upgrade (new field, new model, renames) keeps every row.
//!
//! The comparison is data-driven: [`expected_schema`] turns the snapshot into
//! a sorted list of facts ("projects: column 03 name text not null …"),
//! [`actual_schema`] introspects the database into the same kind of list,
//! and [`assert_schema`] shows the facts only one side has.

/// The naming rule of constraints and indexes, as the generator and runtime
/// compile it.
#[allow(dead_code, unreachable_pub)]
#[path = "../../macros/core/src/naming.rs"]
mod naming;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, SqliteConnection};
use support::{Database, workspace};

/// Platform tables every app's first migration creates (not in the snapshot).
const PLATFORM_TABLES: &[&str] = &[
    "tenants",
    "users",
    "memberships",
    "api_keys",
    "refresh_tokens",
    "invitations",
    "audit_log",
    "rookery_jobs",
    "rookery_idempotency_keys",
    "rookery_mail",
    "rookery_events",
    "rookery_webhook_endpoints",
    "rookery_webhook_deliveries",
    "rookery_webhook_attempts",
    "rookery_platform_audit",
    "rookery_usage_days",
    "rookery_usage_members",
    "rookery_usage_rows",
    "rookery_quota_windows",
    "rookery_roles",
    "rookery_tenant_erasures",
];
/// The platform tables that hold tenant rows (RLS forced on PostgreSQL).
const PLATFORM_TENANT_TABLES: &[&str] = &[
    "memberships",
    "api_keys",
    "refresh_tokens",
    "invitations",
    "audit_log",
    "rookery_idempotency_keys",
    "rookery_events",
    "rookery_webhook_endpoints",
    "rookery_webhook_deliveries",
    "rookery_webhook_attempts",
    "rookery_usage_days",
    "rookery_usage_members",
    "rookery_usage_rows",
    "rookery_quota_windows",
    "rookery_roles",
];
/// Platform storage with a `tenant_id` whose row-level security is enabled
/// but not forced, so the owner's functions see every row: the job queue
/// (no policy at all) and mail (the tenant policy for the serving role).
const PLATFORM_UNFORCED_TABLES: &[(&str, bool)] = &[("rookery_jobs", false), ("rookery_mail", true)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    fn dir(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

// ---------------------------------------------------------------- projects

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn generate(dir: &Path, extra: &[&str]) -> Output {
    support::rookery_generate(dir, extra)
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "rookery generate failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The taskboard example's spec.
/// The example's spec, as an app made before uuid ids were the default:
/// its models say `id = "bigint"` (the rows below use integer ids).
fn taskboard_spec() -> String {
    let spec = std::fs::read_to_string(workspace().join("examples/taskboard/rookery.toml")).expect("taskboard spec");
    // The example as it was before projects had an owner and a budget:
    // the rows these tests write are of that version.
    let mut v1 = String::new();
    for line in spec.lines() {
        if line.starts_with("fields.owner =") || line.starts_with("fields.budget =") {
            continue;
        }
        v1.push_str(line);
        v1.push('\n');
    }
    v1.replace("\"projects.write:own\"", "\"projects.write\"")
        .replace(
            ", \"projects.write\", \"projects.delete\", \"projects.assign\", \"projects.budget\"",
            ", \"projects.delete\"",
        )
        .replace(", assign = \"projects.assign\"", "")
        .replace("[models.project]\n", "[models.project]\nid = \"bigint\"\n")
        .replace("[models.task]\n", "[models.task]\nid = \"bigint\"\n")
}

/// A temporary project holding `spec`, generated once.
fn project(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("rookery.toml"), spec).expect("write spec");
    if spec.contains("[jobs.") {
        // The job types the spec schedules, written by hand in the example.
        std::fs::create_dir_all(dir.path().join("src")).expect("src");
        std::fs::copy(
            workspace().join("examples/taskboard/src/jobs.rs"),
            dir.path().join("src/jobs.rs"),
        )
        .expect("copy the example's jobs");
    }
    assert_ok(&generate(dir.path(), &[]));
    dir
}

/// The project's migration files for `d`, in order.
fn migrations(dir: &Path, d: Dialect) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("migrations").join(d.dir()))
        .expect("migrations dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
}

fn snapshot(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("migrations/rookery.snapshot.json")).expect("snapshot");
    serde_json::from_str(&text).expect("snapshot is JSON")
}

/// v2 of the taskboard spec: `task` renamed to `todo` (`title` renamed to
/// `summary`), a new optional unique field `todo.code`, a new model `comment`
/// referencing `todo`.
fn v2_spec(v1: &str) -> String {
    let edits = [
        ("[models.task]\n", "[models.todo]\nrenamed_from = \"task\"\n"),
        (
            "fields.title = { type = \"string\", max_len = 200 }\n",
            "fields.summary = { type = \"string\", max_len = 200, renamed_from = \"title\" }\n",
        ),
        (
            "fields.assignee = { type = \"ref\", to = \"user\", optional = true }\n",
            "fields.assignee = { type = \"ref\", to = \"user\", optional = true }\nfields.code = { type = \"string\", max_len = 12, optional = true, unique = true }\n",
        ),
    ];
    let mut spec = v1.to_owned();
    for (from, to) in edits {
        assert_eq!(spec.matches(from).count(), 1, "the taskboard spec has `{from}` once");
        spec = spec.replace(from, to);
    }
    spec.push_str(
        "\n[models.comment]\nid = \"bigint\"\n\
         fields.todo = { type = \"ref\", to = \"todo\", on_delete = \"cascade\" }\n\
         fields.body = { type = \"text\", max_len = 2000 }\n\
         fields.author = { type = \"ref\", to = \"user\", optional = true }\n\
         fields.rating = { type = \"int\", optional = true, min = -5, max = 5, indexed = true }\n\
         permissions = { read = \"tasks.read\", write = \"tasks.write\" }\n",
    );
    spec
}

// --------------------------------------------------------------- databases

/// A fresh, empty database of one dialect, removed at the end.
enum TestDb {
    Postgres(Box<Database>),
    Sqlite(tempfile::TempDir),
}

impl TestDb {
    fn create(d: Dialect) -> Self {
        match d {
            Dialect::Postgres => Self::Postgres(Box::new(Database::create())),
            Dialect::Sqlite => Self::Sqlite(tempfile::tempdir().expect("temp dir")),
        }
    }

    /// Applies `files` (every migration so far, in order) with the app's
    /// own runner, as `taskboard migrate` does: on PostgreSQL as the
    /// non-superuser owner, granting `taskboard_app`.
    async fn migrate(&self, files: &[PathBuf]) {
        if let Err(e) = self.try_migrate(files).await {
            panic!("migrating {files:?}: {e}");
        }
    }

    /// [`Self::migrate`], returning the runner's error.
    async fn try_migrate(&self, files: &[PathBuf]) -> Result<(), rookery::db::DbError> {
        let url = match self {
            Self::Postgres(db) => db.owner_url.clone(),
            Self::Sqlite(dir) => format!("sqlite:{}", dir.path().join("app.db").display()),
        };
        support::try_migrate_files(&url, "taskboard", "taskboard_app", files).await
    }

    async fn connect(&self) -> Conn {
        match self {
            Self::Postgres(db) => Conn::Pg(PgConnection::connect(&db.url).await.expect("connect to PostgreSQL")),
            Self::Sqlite(dir) => {
                let opts = SqliteConnectOptions::new()
                    .filename(dir.path().join("app.db"))
                    .create_if_missing(true)
                    .foreign_keys(true);
                Conn::Sqlite(SqliteConnection::connect_with(&opts).await.expect("open SQLite"))
            }
        }
    }
}

/// One connection; every statement of a test runs on it.
enum Conn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

type Rows = Vec<Vec<Option<String>>>;

impl Conn {
    fn dialect(&self) -> Dialect {
        match self {
            Self::Pg(_) => Dialect::Postgres,
            Self::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Runs statements (no rows).
    async fn try_exec(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Self::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
            Self::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
        }
    }

    async fn exec(&mut self, sql: &str) {
        if let Err(e) = self.try_exec(sql).await {
            panic!("{sql}\n{e}");
        }
    }

    /// A query whose every column is text (or NULL).
    async fn rows(&mut self, sql: &str) -> Rows {
        fn cells<R: sqlx::Row>(r: &R, sql: &str) -> Vec<Option<String>>
        where
            for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            usize: sqlx::ColumnIndex<R>,
        {
            (0..r.len())
                .map(|i| {
                    r.try_get::<Option<String>, _>(i)
                        .unwrap_or_else(|e| panic!("{sql}: column {i}: {e}"))
                })
                .collect()
        }
        let q = AssertSqlSafe(sql.to_owned());
        match self {
            Self::Pg(c) => sqlx::query(q)
                .fetch_all(c)
                .await
                .unwrap_or_else(|e| panic!("{sql}\n{e}"))
                .iter()
                .map(|r| cells(r, sql))
                .collect(),
            Self::Sqlite(c) => sqlx::query(q)
                .fetch_all(c)
                .await
                .unwrap_or_else(|e| panic!("{sql}\n{e}"))
                .iter()
                .map(|r| cells(r, sql))
                .collect(),
        }
    }

    /// The first column of every row.
    async fn column(&mut self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .await
            .into_iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn cell(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("NULL")
}

// ----------------------------------------------------------- the snapshot

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("a string in the snapshot, got {v}"))
}

/// One column fact; `pos` is the position among the columns other than the
/// timestamps (`None` for `created_at` / `updated_at`, which an added column
/// follows physically, so their place is not compared).
fn column_fact(table: &str, pos: Option<usize>, name: &str, ty: &str, not_null: bool, default: Option<&str>) -> String {
    let null = if not_null { "not null" } else { "null" };
    let default = default.unwrap_or("-");
    match pos {
        Some(p) => format!("{table}: column {p:02} {name} {ty} {null} default {default}"),
        None => format!("{table}: timestamp column {name} {ty} {null} default {default}"),
    }
}

fn rls_facts(table: &str) -> [String; 2] {
    [
        format!("{table}: row level security enabled, forced"),
        format!(
            "{table}: policy tenant_isolation PERMISSIVE ALL to {{public}}: using and with check tenant_id = app.tenant_id"
        ),
    ]
}

/// `tenant_id, created_at DESC, id DESC`: the default sort index's columns.
fn sort_columns(t: &Value) -> String {
    let dir = if t["sort_descending"].as_bool().unwrap_or(false) {
        " DESC"
    } else {
        ""
    };
    match s(&t["sort_column"]) {
        "id" => format!("tenant_id, id{dir}"),
        col => format!("tenant_id, {col}{dir}, id{dir}"),
    }
}

/// The SQL type a snapshot column maps to (ARCHITECTURE.md, "Database shape").
fn column_type(d: Dialect, c: &Value) -> &'static str {
    let key_type = |key: &str| match (d, key) {
        (Dialect::Postgres, "bigint") => "bigint",
        (Dialect::Postgres, "uuid") => "uuid",
        (Dialect::Sqlite, "bigint") => "INTEGER",
        (Dialect::Sqlite, "uuid") => "TEXT",
        _ => panic!("unknown key type {key}"),
    };
    if let Some(r) = c.get("references") {
        return key_type(s(&r["key"]));
    }
    let kind = s(&c["type"]);
    match d {
        Dialect::Postgres => match kind {
            "string" | "text" | "enum" => "text",
            "int" => "integer",
            "bigint" => "bigint",
            "decimal" => "numeric",
            "bool" => "boolean",
            "date" => "date",
            "datetime" => "timestamp with time zone",
            "uuid" => "uuid",
            "json" => "jsonb",
            other => panic!("unknown type {other}"),
        },
        Dialect::Sqlite => match kind {
            "int" | "bigint" | "bool" => "INTEGER",
            _ => "TEXT",
        },
    }
}

/// The schema the snapshot asks for, as sorted facts.
fn expected_schema(snapshot: &Value, d: Dialect) -> Vec<String> {
    let pg = d == Dialect::Postgres;
    let named = |name: String| if pg { name } else { "-".to_owned() };
    let tables = snapshot["tables"].as_array().expect("snapshot tables");
    let mut facts = Vec::new();

    let mut all: Vec<&str> = PLATFORM_TABLES.to_vec();
    all.extend(tables.iter().map(|t| s(&t["name"])));
    all.sort_unstable();
    facts.push(format!("tables: {}", all.join(", ")));
    if pg {
        for t in PLATFORM_TENANT_TABLES {
            facts.extend(rls_facts(t));
        }
        for (t, policy) in PLATFORM_UNFORCED_TABLES {
            let [_, isolation] = rls_facts(t);
            facts.push(format!("{t}: row level security enabled, not forced"));
            facts.extend(policy.then_some(isolation));
        }
        // A sealed audit row is never updated again (platform step 10).
        facts.push(
            "audit_log: policy audit_log_sealed_once RESTRICTIVE UPDATE to {public}: using (seq IS NULL) with check true"
                .to_owned(),
        );
        // A transaction that names a user sees that user's memberships in
        // every tenant (`migrate` keeps it: one person, several tenants).
        facts.push(
            "memberships: policy own_memberships PERMISSIVE SELECT to {public}: using (user_id = ( SELECT (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid AS \"nullif\")) with check NULL"
                .to_owned(),
        );
    }

    for t in tables {
        let n = s(&t["name"]);
        let (uuid, ts) = if pg {
            ("uuid", "timestamp with time zone")
        } else {
            ("TEXT", "TEXT")
        };
        let id_type = match (d, s(&t["key"])) {
            (Dialect::Postgres, "bigint") => "bigint identity",
            (Dialect::Postgres, _) => "uuid",
            (Dialect::Sqlite, "bigint") => "INTEGER",
            (Dialect::Sqlite, _) => "TEXT",
        };
        facts.push(column_fact(n, Some(1), "tenant_id", uuid, true, None));
        facts.push(column_fact(n, Some(2), "id", id_type, true, None));
        let columns = t["columns"].as_array().expect("columns");
        for (i, c) in columns.iter().enumerate() {
            let col = s(&c["name"]);
            let kind = s(&c["type"]);
            let default = c.get("default").map(|v| match (kind, s(v), d) {
                ("bool", "true", Dialect::Sqlite) => "1".to_owned(),
                ("bool", "false", Dialect::Sqlite) => "0".to_owned(),
                (_, v, _) => v.to_owned(),
            });
            let optional = c.get("optional").and_then(Value::as_bool).unwrap_or(false);
            facts.push(column_fact(
                n,
                Some(i + 3),
                col,
                column_type(d, c),
                !optional,
                default.as_deref(),
            ));

            let mut check = Vec::new();
            if let Some(m) = c.get("max_len") {
                check.push(format!("max_len {m}"));
            }
            if let Some(m) = c.get("min") {
                check.push(format!("min {m}"));
            }
            if let Some(m) = c.get("max") {
                check.push(format!("max {m}"));
            }
            if kind == "enum" {
                let values: Vec<&str> = c["values"].as_array().expect("values").iter().map(s).collect();
                check.push(format!("values {}", values.join("|")));
            }
            if !check.is_empty() {
                facts.push(format!(
                    "{n}: check [{}] {col}: {}",
                    named(naming::check_name(n, col)),
                    check.join(", ")
                ));
            }
            let unique = c.get("unique").and_then(Value::as_bool).unwrap_or(false);
            if unique {
                facts.push(format!(
                    "{n}: unique [{}] (tenant_id, {col})",
                    named(naming::unique_name(n, col))
                ));
            }
            if let Some(r) = c.get("references") {
                // SQLite restricts and a trigger nulls the column first.
                let on_delete = match (c.get("on_delete").map_or("restrict", s), d) {
                    ("set_null", Dialect::Postgres) => "set null",
                    ("set_null", Dialect::Sqlite) => "restrict",
                    (other, _) => other,
                };
                facts.push(format!(
                    "{n}: foreign key [{}] (tenant_id, {col}) -> {} (tenant_id, {}) on delete {on_delete}",
                    named(naming::fkey_name(n, col)),
                    s(&r["table"]),
                    s(&r["column"])
                ));
            }
            let indexed = c.get("indexed").and_then(Value::as_bool).unwrap_or(false);
            if (indexed || c.get("references").is_some()) && !unique {
                facts.push(format!("{n}: index {} (tenant_id, {col})", naming::index_name(n, col)));
            }
            // The `q=` search's trigram index, PostgreSQL only.
            if pg && c.get("searchable").and_then(Value::as_bool).unwrap_or(false) {
                let name = naming::search_index_name(n, col);
                facts.push(format!(
                    "{n}: index {name} CREATE INDEX {name} ON public.{n} USING gin ({col} gin_trgm_ops)"
                ));
            }
        }
        for c in ["created_at", "updated_at"] {
            facts.push(column_fact(n, None, c, ts, true, None));
        }
        facts.push(format!(
            "{n}: primary key [{}] (tenant_id, id)",
            named(naming::pkey_name(n))
        ));
        facts.push(format!(
            "{n}: foreign key [{}] (tenant_id) -> tenants (id) on delete cascade",
            named(naming::tenant_fkey_name(n))
        ));
        facts.push(format!(
            "{n}: index {} ({})",
            naming::sort_index_name(n),
            sort_columns(t)
        ));
        if pg {
            facts.extend(rls_facts(n));
        }
    }
    facts.sort();
    facts
}

// ----------------------------------------------------------- the database

/// `'active'::text` -> `active`, `'#cc'` -> `#cc`, `false` -> `false`.
fn normalize_default(raw: Option<&str>) -> Option<String> {
    let raw = raw?.trim();
    if let Some(rest) = raw.strip_prefix('\'') {
        // A quoted literal, maybe followed by a cast.
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(ch) = chars.next() {
            if ch == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    break;
                }
            } else {
                out.push(ch);
            }
        }
        return Some(out);
    }
    let bare = raw.split("::").next().unwrap_or(raw);
    Some(bare.trim_matches(|c| c == '(' || c == ')').to_owned())
}

/// The single-quoted strings in `expr`.
fn quoted(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = expr.chars().peekable();
    while let Some(ch) = chars.next() {
        match (&mut cur, ch) {
            (None, '\'') => cur = Some(String::new()),
            (Some(buf), '\'') if chars.peek() == Some(&'\'') => {
                chars.next();
                buf.push('\'');
            }
            (Some(_), '\'') => out.push(cur.take().unwrap_or_default()),
            (Some(buf), c) => buf.push(c),
            (None, _) => {}
        }
    }
    out
}

/// `expr` without its quoted strings.
fn unquoted(expr: &str) -> String {
    let q = quoted(expr);
    let mut out = expr.to_owned();
    for v in q {
        out = out.replace(&format!("'{}'", v.replace('\'', "''")), "''");
    }
    out
}

/// The number after the first `op` (skipping spaces, parentheses, quotes).
fn number_after(expr: &str, op: &str) -> Option<String> {
    let i = expr.find(op)?;
    let rest = expr[i + op.len()..].trim_start_matches([' ', '(', '\'']);
    let n: String = rest
        .chars()
        .enumerate()
        .take_while(|(i, c)| c.is_ascii_digit() || *c == '.' || (*i == 0 && *c == '-'))
        .map(|(_, c)| c)
        .collect();
    (!n.is_empty()).then_some(n)
}

/// What a CHECK expression (as PostgreSQL or SQLite shows it) allows:
/// `max_len 120`, `min 0, max 100`, `values active|archived`; the raw text
/// when it is none of those.
fn check_facts(expr: &str) -> String {
    let bare = unquoted(expr).to_lowercase();
    let mut parts = Vec::new();
    if bare.contains("length(") {
        if let Some(n) = number_after(&bare, "<=") {
            parts.push(format!("max_len {n}"));
        }
    } else {
        // Keep the quotes: PostgreSQL shows a negative bound as `'-5'::integer`.
        let lower = expr.to_lowercase();
        if let Some(n) = number_after(&lower, ">=") {
            parts.push(format!("min {n}"));
        }
        if let Some(n) = number_after(&lower, "<=") {
            parts.push(format!("max {n}"));
        }
    }
    if bare.contains(" in (") || bare.contains("any (array[") {
        parts.push(format!("values {}", quoted(expr).join("|")));
    }
    if parts.is_empty() {
        format!("unrecognized {expr:?}")
    } else {
        parts.join(", ")
    }
}

/// The database's schema, as sorted facts (same shapes as [`expected_schema`]).
async fn actual_schema(conn: &mut Conn) -> Vec<String> {
    let mut facts = match conn.dialect() {
        Dialect::Postgres => postgres_schema(conn).await,
        Dialect::Sqlite => sqlite_schema(conn).await,
    };
    facts.sort();
    facts
}

async fn postgres_schema(conn: &mut Conn) -> Vec<String> {
    let mut facts = Vec::new();
    let tables = conn
        .column(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> '_sqlx_migrations' ORDER BY 1",
        )
        .await;
    facts.push(format!("tables: {}", tables.join(", ")));
    for t in &tables {
        let cols = conn
            .rows(&format!(
                "SELECT column_name::text, data_type::text, is_nullable::text, column_default::text, is_identity::text \
                 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{t}' \
                 ORDER BY ordinal_position"
            ))
            .await;
        if cols.iter().any(|c| cell(&c[0]) == "tenant_id") {
            let rls = conn
                .rows(&format!(
                    "SELECT relrowsecurity::text, relforcerowsecurity::text FROM pg_class WHERE oid = 'public.{t}'::regclass"
                ))
                .await;
            let on = |v: &Option<String>| cell(v) == "true";
            facts.push(format!(
                "{t}: row level security {}, {}",
                if on(&rls[0][0]) { "enabled" } else { "disabled" },
                if on(&rls[0][1]) { "forced" } else { "not forced" }
            ));
            let policies = conn
                .rows(&format!(
                    "SELECT policyname::text, permissive::text, roles::text, cmd::text, qual::text, with_check::text \
                     FROM pg_policies WHERE schemaname = 'public' AND tablename = '{t}'"
                ))
                .await;
            for p in policies {
                let (using, check) = (cell(&p[4]), cell(&p[5]));
                let isolates = |e: &str| {
                    let e: String = e.chars().filter(|c| !c.is_whitespace()).collect();
                    e.starts_with("(tenant_id=")
                        && e.contains("current_setting('app.tenant_id'::text,true)")
                        && e.contains("::uuid")
                };
                let cond = if using == check && isolates(using) {
                    "using and with check tenant_id = app.tenant_id".to_owned()
                } else {
                    format!("using {using} with check {check}")
                };
                facts.push(format!(
                    "{t}: policy {} {} {} to {}: {cond}",
                    cell(&p[0]),
                    cell(&p[1]),
                    cell(&p[3]),
                    cell(&p[2])
                ));
            }
        }
        if PLATFORM_TABLES.contains(&t.as_str()) {
            continue;
        }
        let mut pos = 0;
        for c in &cols {
            let name = cell(&c[0]);
            let mut ty = cell(&c[1]).to_owned();
            if cell(&c[4]) == "YES" {
                ty.push_str(" identity");
            }
            let default = normalize_default(c[3].as_deref());
            let p = if name == "created_at" || name == "updated_at" {
                None
            } else {
                pos += 1;
                Some(pos)
            };
            facts.push(column_fact(t, p, name, &ty, cell(&c[2]) == "NO", default.as_deref()));
        }
        let cons = conn
            .rows(&format!(
                "SELECT c.conname::text, c.contype::text, \
                   (SELECT string_agg(a.attname::text, ', ' ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord) \
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n), \
                   c.confrelid::regclass::text, \
                   (SELECT string_agg(a.attname::text, ', ' ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord) \
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n), \
                   c.confdeltype::text, pg_get_constraintdef(c.oid) \
                 FROM pg_constraint c WHERE c.conrelid = 'public.{t}'::regclass"
            ))
            .await;
        for c in cons {
            let (name, cols, def) = (cell(&c[0]), cell(&c[2]), cell(&c[6]));
            facts.push(match cell(&c[1]) {
                "p" => format!("{t}: primary key [{name}] ({cols})"),
                "u" => format!("{t}: unique [{name}] ({cols})"),
                "f" => {
                    let action = match cell(&c[5]) {
                        "a" => "no action",
                        "r" => "restrict",
                        "c" => "cascade",
                        "n" => "set null",
                        "d" => "set default",
                        other => other,
                    };
                    format!(
                        "{t}: foreign key [{name}] ({cols}) -> {} ({}) on delete {action}",
                        cell(&c[3]),
                        cell(&c[4])
                    )
                }
                "c" => format!("{t}: check [{name}] {cols}: {}", check_facts(def)),
                _ => format!("{t}: constraint [{name}] {def}"),
            });
        }
        let indexes = conn
            .rows(&format!(
                "SELECT i.relname::text, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                 WHERE x.indrelid = 'public.{t}'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                   WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u'))"
            ))
            .await;
        for i in indexes {
            let (name, def) = (cell(&i[0]), cell(&i[1]));
            let cols = def
                .starts_with("CREATE INDEX ")
                .then(|| {
                    def.split_once(" USING btree (")
                        .map(|(_, rest)| rest.trim_end_matches(')'))
                })
                .flatten();
            facts.push(match cols {
                Some(cols) => format!("{t}: index {name} ({cols})"),
                None => format!("{t}: index {name} {def}"),
            });
        }
    }
    facts
}

/// Every `CHECK (...)` in a `CREATE TABLE` statement, without the wrapper.
fn sqlite_checks(create: &str) -> Vec<String> {
    let mut out = Vec::new();
    let upper = create.to_uppercase();
    let mut from = 0;
    while let Some(i) = upper[from..].find("CHECK") {
        let start = from + i + "CHECK".len();
        from = start;
        let rest = &create[start..];
        let Some(open) = rest.find('(') else { break };
        if !rest[..open].trim().is_empty() {
            continue;
        }
        let mut depth = 0;
        let mut in_str = false;
        for (j, ch) in rest[open..].char_indices() {
            match ch {
                '\'' => in_str = !in_str,
                '(' if !in_str => depth += 1,
                ')' if !in_str => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(rest[open + 1..open + j].to_owned());
                        from = start + open + j;
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

async fn sqlite_schema(conn: &mut Conn) -> Vec<String> {
    let mut facts = Vec::new();
    let tables = conn
        .column(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations' ORDER BY name",
        )
        .await;
    facts.push(format!("tables: {}", tables.join(", ")));
    for t in &tables {
        if PLATFORM_TABLES.contains(&t.as_str()) {
            continue;
        }
        let cols = conn
            .rows(&format!(
                "SELECT name, type, CAST(\"notnull\" AS TEXT), dflt_value, CAST(pk AS TEXT) \
                 FROM pragma_table_info('{t}') ORDER BY cid"
            ))
            .await;
        let mut pos = 0;
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &cols {
            let name = cell(&c[0]);
            let p = if name == "created_at" || name == "updated_at" {
                None
            } else {
                pos += 1;
                Some(pos)
            };
            let default = normalize_default(c[3].as_deref());
            facts.push(column_fact(
                t,
                p,
                name,
                cell(&c[1]),
                cell(&c[2]) == "1",
                default.as_deref(),
            ));
            let k: i64 = cell(&c[4]).parse().expect("pk position");
            if k > 0 {
                pk.push((k, name.to_owned()));
            }
        }
        pk.sort();
        let pk: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
        facts.push(format!("{t}: primary key [-] ({})", pk.join(", ")));

        let fks = conn
            .rows(&format!(
                "SELECT CAST(id AS TEXT), \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list('{t}') ORDER BY id, seq"
            ))
            .await;
        let mut grouped: BTreeMap<String, (String, Vec<String>, Vec<String>, String)> = BTreeMap::new();
        for f in fks {
            let e = grouped.entry(cell(&f[0]).to_owned()).or_insert_with(|| {
                (
                    cell(&f[1]).to_owned(),
                    Vec::new(),
                    Vec::new(),
                    cell(&f[4]).to_lowercase(),
                )
            });
            e.1.push(cell(&f[2]).to_owned());
            e.2.push(cell(&f[3]).to_owned());
        }
        for (table, from, to, action) in grouped.into_values() {
            facts.push(format!(
                "{t}: foreign key [-] ({}) -> {table} ({}) on delete {action}",
                from.join(", "),
                to.join(", ")
            ));
        }

        let indexes = conn
            .rows(&format!(
                "SELECT name, origin, CAST(\"unique\" AS TEXT) FROM pragma_index_list('{t}')"
            ))
            .await;
        for i in indexes {
            let (name, origin, unique) = (cell(&i[0]), cell(&i[1]), cell(&i[2]) == "1");
            let cols: Vec<String> = conn
                .rows(&format!(
                    "SELECT name, CAST(\"desc\" AS TEXT) FROM pragma_index_xinfo('{name}') WHERE key = 1 ORDER BY seqno"
                ))
                .await
                .into_iter()
                .map(|c| {
                    let col = c[0].clone().unwrap_or_else(|| "<expression>".into());
                    if cell(&c[1]) == "1" { format!("{col} DESC") } else { col }
                })
                .collect();
            let cols = cols.join(", ");
            match (origin, unique) {
                ("pk", _) => {}
                ("u", _) => facts.push(format!("{t}: unique [-] ({cols})")),
                (_, true) => facts.push(format!("{t}: unique index {name} ({cols})")),
                (_, false) => facts.push(format!("{t}: index {name} ({cols})")),
            }
        }

        let create = conn
            .column(&format!(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{t}'"
            ))
            .await;
        let names: Vec<&str> = cols.iter().map(|c| cell(&c[0])).collect();
        for expr in sqlite_checks(&create[0]) {
            // The column is the one the expression names (outside strings).
            let bare = unquoted(&expr).replace('"', "");
            let col = names
                .iter()
                .find(|n| {
                    bare.match_indices(**n).any(|(i, _)| {
                        let before = bare[..i].chars().next_back();
                        let after = bare[i + n.len()..].chars().next();
                        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                        !word(before) && !word(after)
                    })
                })
                .copied()
                .unwrap_or("?");
            facts.push(format!("{t}: check [-] {col}: {}", check_facts(&expr)));
        }
    }
    facts
}

/// Compares the facts, listing those only one side has.
#[track_caller]
fn assert_schema(d: Dialect, expected: &[String], actual: &[String]) {
    let mut diff = String::new();
    for f in expected.iter().filter(|f| !actual.contains(f)) {
        diff.push_str(&format!("- {f}\n"));
    }
    for f in actual.iter().filter(|f| !expected.contains(f)) {
        diff.push_str(&format!("+ {f}\n"));
    }
    assert_eq!(
        actual.join("\n"),
        expected.join("\n"),
        "{d:?}: the migrated database differs from rookery.snapshot.json \
         (- only in the snapshot, + only in the database):\n{diff}"
    );
}

// ------------------------------------------------------------------ tests

fn migrations_from_scratch_match_the_snapshot(d: Dialect) {
    let dir = project(&taskboard_spec());
    let files = migrations(dir.path(), d);
    assert!(!files.is_empty(), "no migrations for {d:?}");
    let expected = expected_schema(&snapshot(dir.path()), d);
    let db = TestDb::create(d);
    runtime().block_on(async {
        db.migrate(&files).await;
        let mut conn = db.connect().await;
        let actual = actual_schema(&mut conn).await;
        assert_schema(d, &expected, &actual);
    });
}

#[test]
fn postgres_migrations_from_scratch_match_the_snapshot() {
    migrations_from_scratch_match_the_snapshot(Dialect::Postgres);
}

#[test]
fn sqlite_migrations_from_scratch_match_the_snapshot() {
    migrations_from_scratch_match_the_snapshot(Dialect::Sqlite);
}

const TENANT_A: &str = "0190a000-0000-7000-8000-00000000000a";
const TENANT_B: &str = "0190a000-0000-7000-8000-00000000000b";
const USER_1: &str = "0190a000-0000-7000-8000-000000000001";
const USER_2: &str = "0190a000-0000-7000-8000-000000000002";

/// v1 rows, written directly: two tenants (ids overlap across tenants),
/// projects and tasks with and without their optional fields.
fn seed_sql() -> String {
    format!(
        "INSERT INTO tenants (id, slug, name, plan, created_at) VALUES
            ('{TENANT_A}', 'acme', 'Acme', 'free', '2024-01-01T00:00:00Z'),
            ('{TENANT_B}', 'globex', 'Globex', 'growth', '2024-01-01T00:00:01Z');
         INSERT INTO users (id, email, password_hash, created_at) VALUES
            ('{USER_1}', 'one@acme.test', 'hash-1', '2024-01-01T00:00:02Z'),
            ('{USER_2}', 'two@acme.test', NULL, '2024-01-01T00:00:03Z');
         INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES
            ('{TENANT_A}', '{USER_1}', 'owner', '2024-01-01T00:00:04Z'),
            ('{TENANT_A}', '{USER_2}', 'member', '2024-01-01T00:00:05Z'),
            ('{TENANT_B}', '{USER_2}', 'owner', '2024-01-01T00:00:06Z');
         INSERT INTO projects (tenant_id, id, name, description, status, created_at, updated_at) VALUES
            ('{TENANT_A}', 1, 'Alpha', 'The first project', 'active', '2024-02-01T10:00:00Z', '2024-02-01T10:00:00Z'),
            ('{TENANT_A}', 2, 'Beta', NULL, 'archived', '2024-02-02T10:00:00Z', '2024-02-03T11:30:00Z'),
            ('{TENANT_A}', 3, 'Gamma O''Brien', 'unicode ✓ and ''quotes''', 'active', '2024-02-04T10:00:00Z', '2024-02-04T10:00:00Z'),
            ('{TENANT_B}', 1, 'Other tenant', NULL, 'active', '2024-02-05T10:00:00Z', '2024-02-05T10:00:00Z');
         INSERT INTO tasks (tenant_id, id, project_id, title, done, assignee_id, created_at, updated_at) VALUES
            ('{TENANT_A}', 1, 1, 'Write the spec', TRUE, '{USER_1}', '2024-03-01T09:00:00Z', '2024-03-02T09:00:00Z'),
            ('{TENANT_A}', 2, 1, 'Review it', FALSE, NULL, '2024-03-01T09:01:00Z', '2024-03-01T09:01:00Z'),
            ('{TENANT_A}', 3, 2, 'Archive', FALSE, '{USER_2}', '2024-03-01T09:02:00Z', '2024-03-01T09:02:00Z'),
            ('{TENANT_A}', 7, 3, 'Ship', TRUE, '{USER_2}', '2024-03-01T09:03:00Z', '2024-03-01T09:03:00Z'),
            ('{TENANT_B}', 1, 1, 'Globex task', FALSE, '{USER_2}', '2024-03-01T09:04:00Z', '2024-03-01T09:04:00Z');"
    )
}

/// Every row of `table`, each column cast to text, in key order.
async fn dump(conn: &mut Conn, table: &str, columns: &[&str]) -> Rows {
    let cols: Vec<String> = columns.iter().map(|c| format!("CAST({c} AS TEXT)")).collect();
    conn.rows(&format!(
        "SELECT {} FROM {table} ORDER BY tenant_id, id",
        cols.join(", ")
    ))
    .await
}

const PROJECT_COLUMNS: &[&str] = &[
    "tenant_id",
    "id",
    "name",
    "description",
    "status",
    "created_at",
    "updated_at",
];
const TASK_COLUMNS: &[&str] = &[
    "tenant_id",
    "id",
    "project_id",
    "title",
    "done",
    "assignee_id",
    "created_at",
    "updated_at",
];
/// [`TASK_COLUMNS`] under their v2 names.
const TODO_COLUMNS: &[&str] = &[
    "tenant_id",
    "id",
    "project_id",
    "summary",
    "done",
    "assignee_id",
    "created_at",
    "updated_at",
];

fn an_upgrade_keeps_every_row(d: Dialect) {
    let v1 = taskboard_spec();
    let dir = project(&v1);
    let db = TestDb::create(d);
    let rt = runtime();
    let mut conn = rt.block_on(db.connect());

    // v1: migrate, then write rows.
    let v1_files = migrations(dir.path(), d);
    let (projects_before, tasks_before) = rt.block_on(async {
        db.migrate(&v1_files).await;
        conn.exec(&seed_sql()).await;
        (
            dump(&mut conn, "projects", PROJECT_COLUMNS).await,
            dump(&mut conn, "tasks", TASK_COLUMNS).await,
        )
    });
    assert_eq!(projects_before.len(), 4);
    assert_eq!(tasks_before.len(), 5);

    // v2: rename, add an optional field, add a model referencing the renamed one.
    std::fs::write(dir.path().join("rookery.toml"), v2_spec(&v1)).expect("write v2");
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    let plan = text(&out.stdout);
    assert!(
        !plan.to_lowercase().contains("destructive"),
        "v2 planned a destructive change:\n{plan}"
    );
    let all = migrations(dir.path(), d);
    let new: Vec<&PathBuf> = all.iter().filter(|p| !v1_files.contains(p)).collect();
    assert_eq!(new.len(), 1, "one new {d:?} migration, got {new:?}\n{plan}");
    assert_eq!(all.len(), v1_files.len() + 1, "the v1 migrations are kept: {all:?}");
    let sql = std::fs::read_to_string(new[0]).expect("new migration");
    assert!(
        !sql.contains("DROP COLUMN") && !sql.contains("DELETE FROM"),
        "{}:\n{sql}",
        new[0].display()
    );
    // A table is dropped only when SQLite rebuilds it: copied to `<t>__new` first.
    for line in sql.lines().filter(|l| l.contains("DROP TABLE")) {
        let t = line.trim().trim_start_matches("DROP TABLE ").trim_end_matches(';');
        assert!(
            sql.contains(&format!("INSERT INTO {t}__new "))
                && sql.contains(&format!("ALTER TABLE {t}__new RENAME TO {t};")),
            "{}: `{line}` is not part of a rebuild:\n{sql}",
            new[0].display()
        );
    }

    rt.block_on(async {
        db.migrate(&all).await;

        // Every old row, same values, under the new names.
        assert_eq!(dump(&mut conn, "projects", PROJECT_COLUMNS).await, projects_before);
        let todos = dump(&mut conn, "todos", TODO_COLUMNS).await;
        assert_eq!(todos, tasks_before, "tasks -> todos (title -> summary) kept every row");
        let summaries: Vec<&str> = todos.iter().map(|r| cell(&r[3])).collect();
        assert_eq!(summaries, ["Write the spec", "Review it", "Archive", "Ship", "Globex task"]);
        let descriptions: Vec<&str> = projects_before.iter().map(|r| cell(&r[3])).collect();
        assert_eq!(descriptions, ["The first project", "NULL", "unicode ✓ and 'quotes'", "NULL"]);

        // The new column is NULL on every old row.
        let codes = dump(&mut conn, "todos", &["code"]).await;
        assert_eq!(codes, vec![vec![None]; 5], "todos.code on old rows");

        // The old table name is gone, the new table takes a row referencing an old one.
        assert!(conn.try_exec("SELECT 1 FROM tasks").await.is_err(), "tasks still exists");
        conn.exec(&format!(
            "INSERT INTO comments (tenant_id, id, todo_id, body, author_id, rating, created_at, updated_at) VALUES
                ('{TENANT_A}', 1, 7, 'Shipped!', '{USER_2}', -5, '2024-04-01T00:00:00Z', '2024-04-01T00:00:00Z'),
                ('{TENANT_B}', 1, 1, 'Other tenant', NULL, NULL, '2024-04-01T00:00:01Z', '2024-04-01T00:00:01Z')"
        ))
        .await;
        let joined = conn
            .rows(
                "SELECT c.body, t.summary FROM comments c JOIN todos t ON t.tenant_id = c.tenant_id AND t.id = c.todo_id \
                 ORDER BY c.tenant_id, c.id",
            )
            .await;
        assert_eq!(
            joined,
            vec![
                vec![Some("Shipped!".to_owned()), Some("Ship".to_owned())],
                vec![Some("Other tenant".to_owned()), Some("Globex task".to_owned())],
            ]
        );
        // The composite key points at todos of the same tenant: todo 7 is tenant A's.
        let cross = conn
            .try_exec(&format!(
                "INSERT INTO comments (tenant_id, id, todo_id, body, created_at, updated_at) VALUES
                    ('{TENANT_B}', 2, 7, 'cross-tenant', '2024-04-01T00:00:02Z', '2024-04-01T00:00:02Z')"
            ))
            .await;
        let err = cross.expect_err("a comment on another tenant's todo is refused").to_string();
        assert!(err.to_lowercase().contains("foreign key"), "{err}");

        // The new unique field is unique within a tenant only.
        conn.exec(&format!(
            "UPDATE todos SET code = 'T-1' WHERE id = 1 AND tenant_id IN ('{TENANT_A}', '{TENANT_B}')"
        ))
        .await;
        let dup = conn
            .try_exec(&format!("UPDATE todos SET code = 'T-1' WHERE tenant_id = '{TENANT_A}' AND id = 2"))
            .await;
        let err = dup.expect_err("a duplicate code within a tenant is refused").to_string();
        assert!(err.to_lowercase().contains("unique"), "{err}");

        // The schema still matches the (v2) snapshot.
        let expected = expected_schema(&snapshot(dir.path()), d);
        let actual = actual_schema(&mut conn).await;
        assert_schema(d, &expected, &actual);
    });

    // v2b makes an optional field required: the data step fills the NULLs
    // of every tenant (on PostgreSQL the owner migrates, and RLS is forced
    // on it: the runner lifts FORCE for the migration's transaction).
    let v2b = v2_spec(&v1).replace(
        "fields.description = { type = \"text\", optional = true, default = \"\", searchable = true }",
        "fields.description = { type = \"text\", default = \"none yet\", searchable = true }",
    );
    assert_ne!(v2b, v2_spec(&v1), "v2b changes projects.description");
    std::fs::write(dir.path().join("rookery.toml"), &v2b).expect("write v2b");
    assert_ok(&generate(dir.path(), &[]));
    let all = migrations(dir.path(), d);
    rt.block_on(async {
        db.migrate(&all).await;
        let after = dump(&mut conn, "projects", PROJECT_COLUMNS).await;
        assert_eq!(after.len(), projects_before.len(), "every project kept");
        let descriptions: Vec<&str> = after.iter().map(|r| cell(&r[3])).collect();
        assert_eq!(
            descriptions,
            ["The first project", "none yet", "unicode ✓ and 'quotes'", "none yet"],
            "NULLs filled in both tenants"
        );
        let expected = expected_schema(&snapshot(dir.path()), d);
        let actual = actual_schema(&mut conn).await;
        assert_schema(d, &expected, &actual);
    });
    drop(conn);
    drop(rt);

    // v3 drops a field: refused without --allow-destructive, nothing written.
    let v3: String = v2_spec(&v1)
        .lines()
        .filter(|line| !line.starts_with("fields.description ="))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(v3, v2_spec(&v1), "v3 drops projects.description");
    std::fs::write(dir.path().join("rookery.toml"), &v3).expect("write v3");
    let before = tree(dir.path());
    let out = generate(dir.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    assert!(err.contains("projects.description"), "{err}");
    assert!(tree(dir.path()) == before, "a refused generate wrote files");
    drop(db);
}

#[test]
fn postgres_an_upgrade_keeps_every_row() {
    an_upgrade_keeps_every_row(Dialect::Postgres);
}

#[test]
fn sqlite_an_upgrade_keeps_every_row() {
    an_upgrade_keeps_every_row(Dialect::Sqlite);
}

// ------------------------------------------------- names at the length limit

/// The planner's scenario `generator/tests/generate/long_names/v<n>.toml`.
fn long_names_spec(step: u32) -> String {
    std::fs::read_to_string(workspace().join(format!("generator/tests/generate/long_names/v{step}.toml")))
        .expect("long_names spec")
}

const LONG_OLD: &str = "customer_subscription_invoice_adjustment_requests";
const LONG_NEW: &str = "customer_subscription_invoice_correction_requests";

/// A row of the long-named table, in tenant A, referencing project 1.
fn long_row(table: &str, name_column: &str, id: u32, name: &str) -> String {
    format!(
        "INSERT INTO {table} (tenant_id, id, {name_column}, number_of_reminder_emails_sent_before_suspension, \
         account_manager_responsible_for_this_adjustments_id, created_at, updated_at) \
         VALUES ('{TENANT_A}', {id}, '{name}', 1, 1, '2024-04-01T00:00:00Z', '2024-04-01T00:00:00Z')"
    )
}

/// Model and field names at the checker's limit, so every constraint and
/// index name passes 63 bytes: create (unique, index, ref, check), drop the
/// unique, rename model and field, drop the index. Each step is applied by
/// the app's own runner and the database then holds exactly the snapshot's
/// schema, names included.
fn long_names_survive_every_change(d: Dialect) {
    let dir = project(&long_names_spec(1));
    let db = TestDb::create(d);
    let rt = runtime();
    let u1 = "primary_billing_contact_display_name_for_invoice";
    rt.block_on(async {
        db.migrate(&migrations(dir.path(), d)).await;
        let mut conn = db.connect().await;
        assert_schema(
            d,
            &expected_schema(&snapshot(dir.path()), d),
            &actual_schema(&mut conn).await,
        );
        conn.exec(&seed_sql()).await;
        conn.exec(&long_row(LONG_OLD, u1, 1, "Same")).await;
        assert!(
            conn.try_exec(&long_row(LONG_OLD, u1, 2, "Same")).await.is_err(),
            "{d:?}: the unique constraint holds"
        );
    });
    for step in 2..=4 {
        std::fs::write(dir.path().join("rookery.toml"), long_names_spec(step)).expect("write spec");
        assert_ok(&generate(dir.path(), &[]));
        rt.block_on(async {
            db.migrate(&migrations(dir.path(), d)).await;
            let mut conn = db.connect().await;
            assert_schema(
                d,
                &expected_schema(&snapshot(dir.path()), d),
                &actual_schema(&mut conn).await,
            );
            if step == 2 {
                conn.exec(&long_row(LONG_OLD, u1, 2, "Same")).await;
            }
        });
    }
    rt.block_on(async {
        let mut conn = db.connect().await;
        let rows = conn
            .column(&format!("SELECT CAST(id AS TEXT) FROM {LONG_NEW} ORDER BY id"))
            .await;
        assert_eq!(rows, ["1", "2"], "{d:?}: every row kept through the renames");
    });
}

#[test]
fn postgres_long_names_survive_every_change() {
    long_names_survive_every_change(Dialect::Postgres);
}

#[test]
fn sqlite_long_names_survive_every_change() {
    long_names_survive_every_change(Dialect::Sqlite);
}

/// The first migration as Rookery wrote it before names were explicit:
/// constraints unnamed (PostgreSQL chooses, cutting past 63 bytes its own
/// way) and index names never cut (PostgreSQL cuts them at 63 bytes, SQLite
/// keeps them whole).
fn legacy_sql(sql: &str, table: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(i) = rest.find("CONSTRAINT ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "CONSTRAINT ".len()..];
        let end = after.find(' ').expect("a name, then the constraint");
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    for col in [
        "number_of_reminder_emails_sent_before_suspension",
        "account_manager_responsible_for_this_adjustments_id",
    ] {
        out = out.replace(&naming::index_name(table, col), &format!("{table}_{col}_idx"));
    }
    out
}

/// An app migrated before names were explicit (snapshot format 1) plans its
/// next migration: the long names PostgreSQL chose are found and renamed to
/// the rule's, and dropping the unique constraint then works.
fn a_format_1_database_adopts_the_names(d: Dialect) {
    let dir = project(&long_names_spec(1));
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let file = &migrations(dir.path(), dialect)[0];
        let sql = std::fs::read_to_string(file).expect("init");
        let legacy = legacy_sql(&sql, LONG_OLD);
        assert!(!legacy.contains("CONSTRAINT "), "{legacy}");
        std::fs::write(file, legacy).expect("write legacy init");
    }
    let snap = dir.path().join("migrations/rookery.snapshot.json");
    let text1 = std::fs::read_to_string(&snap).expect("snapshot");
    std::fs::write(&snap, text1.replace("\"format\": 2", "\"format\": 1")).expect("format 1");
    let db = TestDb::create(d);
    let rt = runtime();
    rt.block_on(db.migrate(&migrations(dir.path(), d)));
    if d == Dialect::Postgres {
        // PostgreSQL's own names differ from the rule's: the fixture is legacy.
        let mut conn = rt.block_on(db.connect());
        let actual = rt.block_on(actual_schema(&mut conn));
        let expected = expected_schema(&snapshot(dir.path()), d);
        assert!(expected.iter().any(|f| !actual.contains(f)), "the legacy names differ");
    }
    std::fs::write(dir.path().join("rookery.toml"), long_names_spec(2)).expect("write spec");
    assert_ok(&generate(dir.path(), &[]));
    rt.block_on(async {
        db.migrate(&migrations(dir.path(), d)).await;
        let mut conn = db.connect().await;
        assert_schema(
            d,
            &expected_schema(&snapshot(dir.path()), d),
            &actual_schema(&mut conn).await,
        );
    });
}

#[test]
fn postgres_a_format_1_database_adopts_the_names() {
    a_format_1_database_adopts_the_names(Dialect::Postgres);
}

#[test]
fn sqlite_a_format_1_database_adopts_the_names() {
    a_format_1_database_adopts_the_names(Dialect::Sqlite);
}

// ------------------------------------------------------- on_delete set_null

/// The taskboard spec with a model `note` whose optional `project` is
/// `on_delete` = `action`.
fn notes_spec(action: &str) -> String {
    format!(
        "{}\n[models.note]\nid = \"bigint\"\n\
         fields.project = {{ type = \"ref\", to = \"project\", optional = true, on_delete = \"{action}\" }}\n\
         fields.body = {{ type = \"text\" }}\n\
         permissions = {{ read = \"projects.read\", write = \"projects.write\" }}\n",
        taskboard_spec()
    )
}

/// `on_delete = "set_null"` (planned as a change from `restrict`, so both
/// the altered key and the rebuilt SQLite table are exercised): deleting a
/// project nulls its notes' `project_id` and keeps the notes and their
/// `tenant_id`; the other tenant's project 1 and its notes are untouched.
fn set_null_keeps_the_rows_and_their_tenant(d: Dialect) {
    let dir = project(&notes_spec("restrict"));
    let db = TestDb::create(d);
    let rt = runtime();
    std::fs::write(dir.path().join("rookery.toml"), notes_spec("set_null")).expect("write spec");
    rt.block_on(db.migrate(&migrations(dir.path(), d)));
    rt.block_on(async {
        let mut conn = db.connect().await;
        conn.exec(&seed_sql()).await;
        conn.exec(&format!(
            "INSERT INTO notes (tenant_id, id, project_id, body, created_at, updated_at) VALUES
                ('{TENANT_A}', 1, 1, 'a on 1', '2024-05-01T00:00:00Z', '2024-05-01T00:00:00Z'),
                ('{TENANT_A}', 2, 2, 'a on 2', '2024-05-01T00:00:00Z', '2024-05-01T00:00:00Z'),
                ('{TENANT_B}', 1, 1, 'b on 1', '2024-05-01T00:00:00Z', '2024-05-01T00:00:00Z')"
        ))
        .await;
        // Refused while the key restricts.
        assert!(
            conn.try_exec(&format!(
                "DELETE FROM projects WHERE tenant_id = '{TENANT_A}' AND id = 1"
            ))
            .await
            .is_err(),
            "{d:?}: v1 restricts"
        );
    });
    assert_ok(&generate(dir.path(), &[]));
    rt.block_on(async {
        db.migrate(&migrations(dir.path(), d)).await;
        let mut conn = db.connect().await;
        assert_schema(
            d,
            &expected_schema(&snapshot(dir.path()), d),
            &actual_schema(&mut conn).await,
        );
        conn.exec(&format!(
            "DELETE FROM projects WHERE tenant_id = '{TENANT_A}' AND id = 1"
        ))
        .await;
        let notes = dump(&mut conn, "notes", &["tenant_id", "id", "project_id", "body"]).await;
        let row = |t: &str, id: &str, p: Option<&str>, body: &str| {
            vec![
                Some(t.to_owned()),
                Some(id.to_owned()),
                p.map(str::to_owned),
                Some(body.to_owned()),
            ]
        };
        assert_eq!(
            notes,
            [
                row(TENANT_A, "1", None, "a on 1"),
                row(TENANT_A, "2", Some("2"), "a on 2"),
                row(TENANT_B, "1", Some("1"), "b on 1"),
            ],
            "{d:?}: only tenant A's note on project 1 lost its project"
        );
        let projects = conn
            .column(&format!(
                "SELECT CAST(id AS TEXT) FROM projects WHERE tenant_id = '{TENANT_B}'"
            ))
            .await;
        assert_eq!(projects, ["1"], "{d:?}: tenant B's project 1 is kept");
    });
}

#[test]
fn postgres_set_null_keeps_the_rows_and_their_tenant() {
    set_null_keeps_the_rows_and_their_tenant(Dialect::Postgres);
}

#[test]
fn sqlite_set_null_keeps_the_rows_and_their_tenant() {
    set_null_keeps_the_rows_and_their_tenant(Dialect::Sqlite);
}

// ------------------------------------------------------- a new owner field

const TENANT_C: &str = "0190a000-0000-7000-8000-00000000000c";
const TENANT_D: &str = "0190a000-0000-7000-8000-00000000000d";

/// The taskboard spec with `project` given an owner, its last field
/// (PostgreSQL adds a column after the others, SQLite's rebuild puts it
/// where the spec does: last, they agree with the snapshot's order).
fn owned_spec(v1: &str) -> String {
    let last = "fields.status = { type = \"enum\", values = [\"active\", \"archived\"], default = \"active\" }\n";
    assert_eq!(v1.matches(last).count(), 1, "the taskboard spec has `{last}` once");
    v1.replace(
        last,
        &format!("{last}fields.owner = {{ type = \"ref\", to = \"user\", owner = true }}\n"),
    )
}

/// `project` gets a new owner on a database with projects in four tenants:
/// every row is kept and owned by its tenant's first member (the earliest
/// membership, ties by user id), and the owner is then required and a
/// member of the row's tenant. Before that, a tenant with projects and no
/// member makes the migration fail with nothing changed. On PostgreSQL the
/// non-superuser owner migrates under `FORCE ROW LEVEL SECURITY`: the
/// backfill must still see every tenant's rows.
fn a_new_owner_is_the_first_member_of_each_rows_tenant(d: Dialect) {
    let v1 = taskboard_spec();
    let dir = project(&v1);
    let db = TestDb::create(d);
    let rt = runtime();
    let mut conn = rt.block_on(db.connect());
    let v1_files = migrations(dir.path(), d);
    let v1_snapshot = snapshot(dir.path());
    let projects_before = rt.block_on(async {
        db.migrate(&v1_files).await;
        conn.exec(&seed_sql()).await;
        // Tenant A: user 1 joined first. B: users 1 and 2 joined at the same
        // instant (user 1 wins the tie). C: user 2 joined before user 1.
        // D: projects, no member yet.
        conn.exec(&format!(
            "INSERT INTO tenants (id, slug, name, plan, created_at) VALUES
                ('{TENANT_C}', 'initech', 'Initech', 'free', '2024-01-01T00:00:07Z'),
                ('{TENANT_D}', 'hooli', 'Hooli', 'free', '2024-01-01T00:00:08Z');
             INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES
                ('{TENANT_B}', '{USER_1}', 'member', '2024-01-01T00:00:06Z'),
                ('{TENANT_C}', '{USER_2}', 'owner', '2024-01-01T00:00:09Z'),
                ('{TENANT_C}', '{USER_1}', 'member', '2024-01-01T00:00:10Z');
             INSERT INTO projects (tenant_id, id, name, description, status, created_at, updated_at) VALUES
                ('{TENANT_C}', 1, 'Initech', NULL, 'active', '2024-02-06T10:00:00Z', '2024-02-06T10:00:00Z'),
                ('{TENANT_D}', 1, 'Hooli', NULL, 'active', '2024-02-07T10:00:00Z', '2024-02-07T10:00:00Z'),
                ('{TENANT_D}', 2, 'Hooli XYZ', NULL, 'archived', '2024-02-08T10:00:00Z', '2024-02-08T10:00:00Z')"
        ))
        .await;
        dump(&mut conn, "projects", PROJECT_COLUMNS).await
    });
    assert_eq!(projects_before.len(), 7);

    std::fs::write(dir.path().join("rookery.toml"), owned_spec(&v1)).expect("write the owned spec");
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    let plan = text(&out.stdout);
    assert!(
        plan.contains("projects.owner_id: existing rows are owned by their tenant's first member"),
        "{plan}"
    );
    assert!(!plan.to_lowercase().contains("destructive"), "{plan}");
    let all = migrations(dir.path(), d);
    assert_eq!(all.len(), v1_files.len() + 1, "one new migration: {all:?}");

    rt.block_on(async {
        // Tenant D has projects and no member: refused, nothing changed.
        let err = db
            .try_migrate(&all)
            .await
            .expect_err("a tenant with projects and no member fails the migration")
            .to_string();
        assert!(err.contains("owner_id"), "{d:?}: {err}");
        assert_eq!(dump(&mut conn, "projects", PROJECT_COLUMNS).await, projects_before);
        assert!(
            conn.try_exec("SELECT owner_id FROM projects").await.is_err(),
            "{d:?}: the failed migration left owner_id"
        );
        assert_schema(d, &expected_schema(&v1_snapshot, d), &actual_schema(&mut conn).await);
        let applied = conn.column("SELECT CAST(count(*) AS TEXT) FROM _sqlx_migrations").await;
        assert_eq!(applied, [v1_files.len().to_string()], "{d:?}: recorded as applied");

        // D gets a member: the same migration now runs.
        conn.exec(&format!(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES
                ('{TENANT_D}', '{USER_2}', 'owner', '2024-01-01T00:00:11Z')"
        ))
        .await;
        db.migrate(&all).await;
        assert_eq!(
            dump(&mut conn, "projects", PROJECT_COLUMNS).await,
            projects_before,
            "{d:?}: every project kept, unchanged"
        );
        let owners = conn
            .rows(
                "SELECT CAST(tenant_id AS TEXT), CAST(id AS TEXT), CAST(owner_id AS TEXT) FROM projects \
                 ORDER BY tenant_id, id",
            )
            .await;
        let row =
            |t: &str, id: &str, owner: &str| vec![Some(t.to_owned()), Some(id.to_owned()), Some(owner.to_owned())];
        assert_eq!(
            owners,
            [
                row(TENANT_A, "1", USER_1),
                row(TENANT_A, "2", USER_1),
                row(TENANT_A, "3", USER_1),
                row(TENANT_B, "1", USER_1),
                row(TENANT_C, "1", USER_2),
                row(TENANT_D, "1", USER_2),
                row(TENANT_D, "2", USER_2),
            ],
            "{d:?}: each row owned by its tenant's first member"
        );
        assert_schema(
            d,
            &expected_schema(&snapshot(dir.path()), d),
            &actual_schema(&mut conn).await,
        );
        // The owner is now required and must be a member of the row's tenant.
        let missing = conn
            .try_exec(&format!(
                "INSERT INTO projects (tenant_id, id, name, status, created_at, updated_at) VALUES
                    ('{TENANT_A}', 9, 'No owner', 'active', '2024-03-01T00:00:00Z', '2024-03-01T00:00:00Z')"
            ))
            .await;
        let err = missing.expect_err("a project without an owner is refused").to_string();
        assert!(err.to_lowercase().contains("null"), "{d:?}: {err}");
        let stranger = conn
            .try_exec(&format!(
                "UPDATE projects SET owner_id = '{USER_1}' WHERE tenant_id = '{TENANT_D}' AND id = 1"
            ))
            .await;
        let err = stranger
            .expect_err("an owner from outside the tenant is refused")
            .to_string();
        assert!(err.to_lowercase().contains("foreign key"), "{d:?}: {err}");
    });
    drop(conn);
}

#[test]
fn postgres_a_new_owner_is_the_first_member_of_each_rows_tenant() {
    a_new_owner_is_the_first_member_of_each_rows_tenant(Dialect::Postgres);
}

#[test]
fn sqlite_a_new_owner_is_the_first_member_of_each_rows_tenant() {
    a_new_owner_is_the_first_member_of_each_rows_tenant(Dialect::Sqlite);
}
