//! `rookery generate` and `rookery new`, run as the built binary on copies of
//! the fixtures in `tests/generate/<case>/`. Every output file is one insta
//! snapshot, named `<case>@<path>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rookery");

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generate").join(case)
}

/// A temporary project holding a copy of fixture `case`.
fn project(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture(case), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("fixture exists") {
        let path = entry.expect("entry").path();
        let dest = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).expect("copy");
        }
    }
}

fn rookery(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--project")
        .arg(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run rookery")
}

fn generate(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["generate"];
    args.extend_from_slice(extra);
    rookery(dir, &args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "rookery failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

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

fn snapshot_outputs(case: &str, dir: &Path, filter: impl Fn(&str) -> bool) {
    for (path, contents) in tree(dir) {
        if !(path.starts_with("src/generated/") || path.starts_with("migrations/")) || !filter(&path) {
            continue;
        }
        insta::assert_snapshot!(format!("{case}@{}", path.replace('/', "__")), text(&contents));
    }
}

#[test]
fn taskboard() {
    let dir = project("taskboard");
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    insta::assert_snapshot!("taskboard@plan", text(&out.stdout));
    snapshot_outputs("taskboard", dir.path(), |_| true);
}

#[test]
fn handwritten_models_get_migrations_and_registration() {
    let dir = project("handwritten");
    let before = std::fs::read(dir.path().join("src/notes.rs")).expect("fixture");
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    insta::assert_snapshot!("handwritten@plan", text(&out.stdout));
    snapshot_outputs("handwritten", dir.path(), |_| true);
    let app = std::fs::read_to_string(dir.path().join("src/generated/mod.rs")).expect("mod.rs");
    assert!(app.contains(".model::<crate::notes::Note>()"), "{app}");
    assert_eq!(std::fs::read(dir.path().join("src/notes.rs")).expect("kept"), before);
}

#[test]
fn upgrade_adds_and_renames_keeping_data() {
    let dir = project("upgrade");
    std::fs::copy(dir.path().join("v1.toml"), dir.path().join("rookery.toml")).expect("v1");
    assert_ok(&generate(dir.path(), &[]));
    std::fs::copy(dir.path().join("v2.toml"), dir.path().join("rookery.toml")).expect("v2");
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    let plan = text(&out.stdout);
    insta::assert_snapshot!("upgrade@plan", plan);
    assert!(!plan.contains("destructive"), "{plan}");
    let files = tree(dir.path());
    let second: Vec<_> = files.keys().filter(|p| p.contains("/0002_")).cloned().collect();
    assert_eq!(second.len(), 2, "{second:?}");
    for path in &second {
        let sql = text(&files[path]);
        assert!(
            !sql.contains("DROP TABLE") && !sql.contains("DROP COLUMN"),
            "{path}:\n{sql}"
        );
        assert!(
            sql.contains("RENAME TO todos") && sql.contains("RENAME COLUMN title TO summary"),
            "{path}:\n{sql}"
        );
    }
    snapshot_outputs("upgrade", dir.path(), |p| {
        p.contains("/0002_") || p.ends_with("snapshot.json") || p.starts_with("src/generated/models/")
    });
    // The task module is gone, the todo module is there.
    assert!(!files.contains_key("src/generated/models/task.rs"));
    assert!(files.contains_key("src/generated/models/todo.rs"));
}

#[test]
fn an_app_on_older_platform_tables_gets_the_missing_steps_once() {
    // (the snapshot's platform version, or none before there was one; the
    // first step it lacks; the next migration's name; its tables)
    let cases: [(Option<u32>, &str, &str, &[&str]); 13] = [
        (
            None,
            "-- Background jobs",
            "0002_platform_jobs_and_more",
            &[
                "rookery_jobs",
                "rookery_idempotency_keys",
                "rookery_mail",
                "rookery_events",
                "rookery_platform_audit",
                "rookery_usage_days",
                "rookery_quota_windows",
                "rookery_roles",
                "rookery_tenant_erasures",
            ],
        ),
        (
            Some(2),
            "-- Safe retries",
            "0002_platform_idempotency_and_more",
            &[
                "rookery_idempotency_keys",
                "rookery_mail",
                "rookery_events",
                "rookery_platform_audit",
                "rookery_usage_days",
                "rookery_quota_windows",
                "rookery_roles",
                "rookery_tenant_erasures",
            ],
        ),
        (
            Some(3),
            "-- Mail",
            "0002_platform_mail_and_more",
            &[
                "rookery_mail",
                "rookery_events",
                "rookery_platform_audit",
                "rookery_usage_days",
                "rookery_quota_windows",
                "rookery_roles",
                "rookery_tenant_erasures",
            ],
        ),
        (
            Some(4),
            "-- Domain events and outgoing webhooks",
            "0002_platform_webhooks_and_more",
            &[
                "rookery_events",
                "rookery_platform_audit",
                "rookery_usage_days",
                "rookery_quota_windows",
                "rookery_roles",
                "rookery_tenant_erasures",
            ],
        ),
        (
            Some(5),
            "-- The platform scope's audit",
            "0002_platform_audit_and_more",
            &[
                "rookery_platform_audit",
                "rookery_usage_days",
                "rookery_quota_windows",
                "rookery_roles",
                "rookery_tenant_erasures",
            ],
        ),
        (
            Some(6),
            "-- Usage analytics",
            "0002_platform_usage_and_more",
            &[
                "rookery_usage_days",
                "rookery_quota_windows",
                "rookery_roles",
                "rookery_tenant_erasures",
            ],
        ),
        (
            Some(7),
            "-- The member lifecycle",
            "0002_platform_members_and_more",
            &["rookery_quota_windows", "rookery_roles", "rookery_tenant_erasures"],
        ),
        (
            Some(8),
            "-- Rate quotas",
            "0002_platform_quotas_and_more",
            &["rookery_quota_windows", "rookery_roles", "rookery_tenant_erasures"],
        ),
        (
            Some(9),
            "-- The audit log users read",
            "0002_platform_audit_chain_and_more",
            &["rookery_roles", "rookery_tenant_erasures"],
        ),
        (
            Some(10),
            "-- The platform operator's per-tenant feature overrides",
            "0002_platform_overrides_and_more",
            &["rookery_roles", "rookery_tenant_erasures"],
        ),
        (
            Some(11),
            "-- A tenant's custom roles",
            "0002_platform_roles_and_more",
            &["rookery_roles", "rookery_tenant_erasures"],
        ),
        (
            Some(12),
            "-- Tenant deletion and personal-data erasure",
            "0002_platform_deletion_and_platform_audit_index",
            &["rookery_tenant_erasures"],
        ),
        (
            Some(13),
            "-- An audit row is inserted unsealed",
            "0002_platform_audit_index",
            &[],
        ),
    ];
    for (version, first_missing, migration, tables) in cases {
        let dir = project("upgrade");
        std::fs::copy(dir.path().join("v1.toml"), dir.path().join("rookery.toml")).expect("v1");
        assert_ok(&generate(dir.path(), &[]));
        // Make the project look generated by an older rookery: its snapshot
        // at that platform version and its first migration without the
        // steps since.
        let snap = dir.path().join("migrations/rookery.snapshot.json");
        let current = text(&std::fs::read(&snap).expect("snapshot"));
        assert!(current.contains("  \"platform\": 14,\n"), "{current}");
        let old = current.replace(
            "  \"platform\": 14,\n",
            &version.map_or(String::new(), |v| format!("  \"platform\": {v},\n")),
        );
        std::fs::write(&snap, old).expect("write snapshot");
        for d in ["postgres", "sqlite"] {
            let init = dir.path().join(format!("migrations/{d}/0001_init.sql"));
            let sql = text(&std::fs::read(&init).expect("init"));
            let cut = sql.find(first_missing).expect("the step in the first migration");
            let end = sql[cut..].find("CREATE TABLE projects").map_or(sql.len(), |i| cut + i);
            std::fs::write(&init, format!("{}{}", &sql[..cut], &sql[end..])).expect("write init");
        }
        let out = generate(dir.path(), &[]);
        assert_ok(&out);
        let plan = text(&out.stdout);
        for table in tables {
            assert!(
                plan.lines()
                    .any(|l| l.contains("+ platform table") && l.contains(table)),
                "{table}: {plan}"
            );
        }
        let files = tree(dir.path());
        for d in ["postgres", "sqlite"] {
            let path = format!("migrations/{d}/{migration}.sql");
            let sql = text(
                files
                    .get(&path)
                    .unwrap_or_else(|| panic!("{path} in {:?}", files.keys())),
            );
            for table in [
                "rookery_jobs",
                "rookery_idempotency_keys",
                "rookery_mail",
                "rookery_events",
                "rookery_platform_audit",
                "rookery_usage_days",
                "rookery_quota_windows",
                "rookery_roles",
                "rookery_tenant_erasures",
            ] {
                assert_eq!(
                    sql.contains(&format!("CREATE TABLE {table}")),
                    tables.contains(&table),
                    "{table} in {path}: {sql}"
                );
            }
            assert!(!sql.contains("CREATE TABLE tenants"), "{sql}");
            // Every case lacks the partial sequence index; those before 13
            // the deletion's columns, before 12 the custom roles, before 11
            // the feature overrides, before 8 the member lifecycle's
            // columns, before 10 the audit chain's.
            assert!(
                sql.contains("ON audit_log (tenant_id, seq) WHERE seq IS NOT NULL"),
                "{path}: {sql}"
            );
            assert_eq!(
                sql.contains("ADD COLUMN erase_after"),
                version.is_none_or(|v| v < 13),
                "{path}: {sql}"
            );
            assert_eq!(
                sql.contains("ADD COLUMN feature_overrides"),
                version.is_none_or(|v| v < 11),
                "{path}: {sql}"
            );
            assert_eq!(
                sql.contains("memberships_status_check"),
                version.is_none_or(|v| v < 8),
                "{path}: {sql}"
            );
            assert_eq!(
                sql.contains("audit_log_sealed_check"),
                version.is_none_or(|v| v < 10),
                "{path}: {sql}"
            );
        }
        assert_eq!(
            plan.lines()
                .any(|l| l.contains("+ platform column") && l.contains("tenants.feature_overrides")),
            version.is_none_or(|v| v < 11),
            "{plan}"
        );
        assert_eq!(
            plan.lines()
                .any(|l| l.contains("platform columns") && l.contains("tenants.deletion_requested_at")),
            version.is_none_or(|v| v < 13),
            "{plan}"
        );
        assert!(text(&files["migrations/rookery.snapshot.json"]).contains("\"platform\": 14"));
        // A second run has nothing left to do.
        let again = generate(dir.path(), &[]);
        assert_ok(&again);
        assert_eq!(tree(dir.path()), files, "{}", text(&again.stdout));
    }
}

#[test]
fn destructive_changes_need_the_flag() {
    let dir = project("taskboard");
    assert_ok(&generate(dir.path(), &[]));
    std::fs::copy(fixture("destructive/v2.toml"), dir.path().join("rookery.toml")).expect("v2");
    let before = tree(dir.path());
    let out = generate(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("destructive@refused", text(&out.stderr));
    assert_eq!(tree(dir.path()), before, "a refused generate writes nothing");

    let out = generate(dir.path(), &["--allow-destructive"]);
    assert_ok(&out);
    let files = tree(dir.path());
    let pg = files
        .iter()
        .find(|(p, _)| p.starts_with("migrations/postgres/0002_"))
        .expect("second migration");
    insta::assert_snapshot!("destructive@postgres", text(pg.1));
    let sqlite = files
        .iter()
        .find(|(p, _)| p.starts_with("migrations/sqlite/0002_"))
        .expect("second migration");
    insta::assert_snapshot!("destructive@sqlite", text(sqlite.1));
}

#[test]
fn a_required_column_without_default_is_refused() {
    let dir = project("taskboard");
    assert_ok(&generate(dir.path(), &[]));
    let spec = std::fs::read_to_string(dir.path().join("rookery.toml")).expect("spec");
    let spec = spec.replace(
        "fields.done = { type = \"bool\", default = false }",
        "fields.done = { type = \"bool\", default = false }\nfields.estimate = { type = \"int\" }",
    );
    std::fs::write(dir.path().join("rookery.toml"), spec).expect("edit");
    let before = tree(dir.path());
    let out = generate(dir.path(), &["--allow-destructive"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("tasks.estimate") && err.contains("give it a default or make it optional"),
        "{err}"
    );
    assert_eq!(tree(dir.path()), before);
}

/// A new owner on a table with rows is planned, not refused: added
/// nullable, filled with each row's tenant's first member, then required
/// (SQLite: the rebuild selects the first member). Marking an existing
/// required ref to user as the owner, or unmarking it, needs no SQL: the
/// snapshot records it, no migration is written.
#[test]
fn a_new_owner_is_filled_with_the_first_member_and_the_flag_alone_needs_no_sql() {
    let dir = project("owner");
    std::fs::copy(dir.path().join("v1.toml"), dir.path().join("rookery.toml")).expect("v1");
    assert_ok(&generate(dir.path(), &[]));
    std::fs::copy(dir.path().join("v2.toml"), dir.path().join("rookery.toml")).expect("v2");
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    let plan = text(&out.stdout);
    insta::assert_snapshot!("owner@plan", plan);
    assert!(
        plan.contains("projects.owner_id: existing rows are owned by their tenant's first member"),
        "{plan}"
    );
    assert!(
        plan.contains("~ column tasks.reporter_id: now the row's owner (no SQL)"),
        "{plan}"
    );
    let files = tree(dir.path());
    let second: Vec<_> = files.keys().filter(|p| p.contains("/0002_")).cloned().collect();
    assert_eq!(
        second,
        [
            "migrations/postgres/0002_add_projects_owner.sql",
            "migrations/sqlite/0002_add_projects_owner.sql"
        ]
    );
    let pg = text(&files["migrations/postgres/0002_add_projects_owner.sql"]);
    let fill = "UPDATE projects SET owner_id = (SELECT m.user_id FROM memberships m \
                WHERE m.tenant_id = projects.tenant_id AND m.status = 'active' ORDER BY m.created_at, m.user_id LIMIT 1);";
    let steps = [
        "ALTER TABLE projects ADD COLUMN owner_id uuid;",
        fill,
        "ALTER TABLE projects ALTER COLUMN owner_id SET NOT NULL;",
        "ALTER TABLE projects ADD CONSTRAINT projects_tenant_id_owner_id_fkey",
        "CREATE INDEX projects_owner_id_idx ON projects (tenant_id, owner_id);",
    ];
    let at: Vec<usize> = steps
        .iter()
        .map(|step| pg.find(step).unwrap_or_else(|| panic!("`{step}` in:\n{pg}")))
        .collect();
    assert!(at.is_sorted(), "steps out of order:\n{pg}");
    assert!(!pg.contains("tasks"), "the owner flag alone needs no SQL:\n{pg}");
    let sqlite = text(&files["migrations/sqlite/0002_add_projects_owner.sql"]);
    assert!(
        sqlite.contains(
            "SELECT tenant_id, id, name, (SELECT m.user_id FROM memberships m WHERE m.tenant_id = projects.tenant_id \
             AND m.status = 'active' ORDER BY m.created_at, m.user_id LIMIT 1), created_at, updated_at FROM projects;"
        ),
        "{sqlite}"
    );
    assert!(
        !sqlite.contains("tasks__new"),
        "the owner flag alone rebuilds nothing:\n{sqlite}"
    );
    snapshot_outputs("owner", dir.path(), |p| {
        p.contains("/0002_") || p.ends_with("snapshot.json")
    });

    // v3 unmarks the reporter: the snapshot changes, no migration.
    std::fs::copy(dir.path().join("v3.toml"), dir.path().join("rookery.toml")).expect("v3");
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    let plan = text(&out.stdout);
    assert!(
        plan.contains("~ column tasks.reporter_id: no longer the row's owner (no SQL)")
            && plan.contains("Migration:\n  (none needed)")
            && plan.contains("~ migrations/rookery.snapshot.json"),
        "{plan}"
    );
    let after = tree(dir.path());
    let changed: Vec<_> = after
        .keys()
        .filter(|p| p.starts_with("migrations/") && files.get(*p) != after.get(*p))
        .cloned()
        .collect();
    assert_eq!(changed, ["migrations/rookery.snapshot.json"]);
    let snap: serde_json::Value =
        serde_json::from_slice(&after["migrations/rookery.snapshot.json"]).expect("snapshot JSON");
    let owners: Vec<String> = snap["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .flat_map(|t| {
            let table = t["name"].as_str().expect("name").to_owned();
            t["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .filter(|c| c["owner"] == true)
                .map(move |c| format!("{table}.{}", c["name"].as_str().expect("name")))
        })
        .collect();
    assert_eq!(owners, ["projects.owner_id"]);
    let again = generate(dir.path(), &[]);
    assert_ok(&again);
    assert_eq!(tree(dir.path()), after, "{}", text(&again.stdout));
}

#[test]
fn searchable_fields_get_trigram_indexes_and_emails_a_unique_lower_index() {
    let dir = project("lists");
    std::fs::copy(dir.path().join("v1.toml"), dir.path().join("rookery.toml")).expect("v1");
    assert_ok(&generate(dir.path(), &[]));
    std::fs::copy(dir.path().join("v2.toml"), dir.path().join("rookery.toml")).expect("v2");
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    let files = tree(dir.path());
    let second: Vec<_> = files.keys().filter(|p| p.contains("/0002_")).cloned().collect();
    assert_eq!(second.len(), 2, "{second:?}");
    let pg = text(&files[&second[0]]);
    for line in [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
        "CREATE INDEX leads_name_search ON leads USING gin (name gin_trgm_ops);",
        "CREATE INDEX leads_notes_search ON leads USING gin (notes gin_trgm_ops);",
        "CREATE UNIQUE INDEX leads_tenant_id_contact_key ON leads (tenant_id, lower(contact));",
    ] {
        assert!(pg.contains(line), "`{line}` in:\n{pg}");
    }
    assert_eq!(pg.matches("CREATE EXTENSION").count(), 1, "{pg}");
    assert!(
        pg.find("CREATE EXTENSION") < pg.find("USING gin"),
        "the extension before its first index:\n{pg}"
    );
    let sqlite = text(&files[&second[1]]);
    assert!(!sqlite.contains("gin"), "no trigram index on SQLite:\n{sqlite}");
    assert!(
        sqlite.contains("CREATE UNIQUE INDEX leads_tenant_id_contact_key ON leads (tenant_id, lower(contact));"),
        "{sqlite}"
    );
    snapshot_outputs("lists", dir.path(), |p| {
        p.contains("/0002_") || p.ends_with("models/lead.rs")
    });
    let again = generate(dir.path(), &[]);
    assert_ok(&again);
    assert_eq!(tree(dir.path()), files, "{}", text(&again.stdout));
}

#[test]
fn generate_is_idempotent_and_check_reports_pending_changes() {
    let dir = project("taskboard");
    assert_ok(&generate(dir.path(), &[]));
    let first = tree(dir.path());
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    assert!(text(&out.stdout).contains("Up to date"), "{}", text(&out.stdout));
    assert_eq!(tree(dir.path()), first, "the second run changes nothing");
    assert_eq!(generate(dir.path(), &["--check"]).status.code(), Some(0));

    let spec = std::fs::read_to_string(dir.path().join("rookery.toml")).expect("spec");
    std::fs::write(
        dir.path().join("rookery.toml"),
        spec.replace("max_len = 200", "max_len = 250"),
    )
    .expect("edit");
    let edited = tree(dir.path());
    let out = generate(dir.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("0002_alter_tasks_title"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(tree(dir.path()), edited, "--check writes nothing");
}

#[test]
fn a_spec_error_writes_nothing() {
    let dir = project("bad_spec");
    let before = tree(dir.path());
    let out = generate(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("bad_spec@stderr", text(&out.stderr));
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn hand_written_files_in_generated_are_never_overwritten() {
    let dir = project("taskboard");
    std::fs::create_dir_all(dir.path().join("src/generated/models")).expect("mkdir");
    std::fs::write(dir.path().join("src/generated/models/task.rs"), "// mine\n").expect("write");
    let before = tree(dir.path());
    let out = generate(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("src/generated/models/task.rs"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn stale_generated_files_are_deleted_and_others_kept() {
    let dir = project("taskboard");
    assert_ok(&generate(dir.path(), &[]));
    std::fs::write(dir.path().join("src/generated/notes.txt"), "mine\n").expect("write");
    let spec = std::fs::read_to_string(dir.path().join("rookery.toml")).expect("spec");
    let cut = spec.find("[models.task]").expect("task model");
    let spec = spec[..cut]
        .replace(", \"tasks.write\"", "")
        .replace(", \"tasks.read\"", "");
    std::fs::write(dir.path().join("rookery.toml"), spec).expect("edit");
    let out = generate(dir.path(), &["--allow-destructive"]);
    assert_ok(&out);
    let files = tree(dir.path());
    assert!(!files.contains_key("src/generated/models/task.rs"));
    assert!(files.contains_key("src/generated/notes.txt"));
    assert!(
        text(&out.stdout).contains("- src/generated/models/task.rs"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn new_scaffolds_and_generates() {
    let parent = tempfile::tempdir().expect("temp dir");
    let run = |name: &str| {
        Command::new(BIN)
            .args(["new", name, "--path"])
            .arg(parent.path())
            .args(["--rookery-path", "/opt/rookery/runtime"])
            .output()
            .expect("run rookery")
    };
    let out = run("acme");
    assert_ok(&out);
    let files = tree(&parent.path().join("acme"));
    let names: Vec<_> = files.keys().cloned().collect();
    insta::assert_snapshot!("new@files", names.join("\n"));
    insta::assert_snapshot!("new@rookery.toml", text(&files["rookery.toml"]));
    insta::assert_snapshot!("new@Cargo.toml", text(&files["Cargo.toml"]));
    insta::assert_snapshot!("new@main.rs", text(&files["src/main.rs"]));
    assert!(text(&files["rookery.toml"]).starts_with("#:schema .rookery/rookery.schema.json"));
    // The project is up to date and a second `new` is refused.
    assert_eq!(
        generate(&parent.path().join("acme"), &["--check"]).status.code(),
        Some(0)
    );
    assert_eq!(run("acme").status.code(), Some(2));
    assert_eq!(run("Not-Valid").status.code(), Some(2));
    assert_eq!(tree(parent.path()).len(), files.len(), "nothing else was created");
}

#[test]
fn new_inside_another_workspace_makes_a_project_cargo_accepts() {
    let outer = tempfile::tempdir().expect("temp dir");
    std::fs::write(outer.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let inside = outer.path().join("apps");
    std::fs::create_dir(&inside).unwrap();
    let out = Command::new(BIN)
        .args(["new", "acme", "--path"])
        .arg(&inside)
        .output()
        .expect("run rookery");
    assert_ok(&out);
    let manifest = inside.join("acme/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("\n[workspace]\n"), "{text}");
    // It starts on the versions this checkout's runtime is tested with.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    assert_eq!(
        std::fs::read_to_string(inside.join("acme/Cargo.lock")).unwrap(),
        std::fs::read_to_string(lock).unwrap()
    );
    // Cargo loads it as a package of its own (it refuses a package inside a
    // workspace that does not list it).
    let metadata = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("run cargo metadata");
    assert!(
        metadata.status.success(),
        "{}",
        String::from_utf8_lossy(&metadata.stderr)
    );

    // Outside any workspace the manifest stays plain.
    let alone = tempfile::tempdir().expect("temp dir");
    let out = Command::new(BIN)
        .args(["new", "solo", "--path"])
        .arg(alone.path())
        .output()
        .expect("run rookery");
    assert_ok(&out);
    let text = std::fs::read_to_string(alone.path().join("solo/Cargo.toml")).unwrap();
    assert!(!text.contains("[workspace]"), "{text}");
}

/// Every field type with every option it allows (`tests/tests/all_options.rs`
/// builds and serves the same spec).
#[test]
fn all_options() {
    let dir = project("all_options");
    assert_ok(&generate(dir.path(), &[]));
    snapshot_outputs("all_options", dir.path(), |p| {
        p.starts_with("migrations/") || p.starts_with("src/generated/models/product")
    });
}

/// New models get uuid v7 ids (a bigint identity is one sequence across
/// tenants: ids would tell each tenant how busy the others are); a table
/// the last migration left keeps its key when the spec does not say `id`;
/// a hand-written model on a bigint table must say so.
#[test]
fn new_models_get_uuid_ids_and_existing_tables_keep_theirs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let v1 = "[app]\nname = \"keys\"\n\n[roles]\nowner = { grants = [\"notes.read\", \"notes.write\", \"members.manage\", \"api_keys.manage\"] }\n\n[plans.free]\n\n[models.note]\nid = \"bigint\"\nfields.body = { type = \"text\" }\npermissions = { read = \"notes.read\", write = \"notes.write\" }\n";
    std::fs::write(dir.path().join("rookery.toml"), v1).unwrap();
    assert_ok(&generate(dir.path(), &[]));
    let key_of = |table: &str| -> String {
        let snap: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("migrations/rookery.snapshot.json")).unwrap())
                .unwrap();
        let t = snap["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == table)
            .unwrap()
            .clone();
        t["key"].as_str().unwrap().to_owned()
    };
    assert_eq!(key_of("notes"), "bigint");
    // v2 drops `id = "bigint"` and adds a model: notes keep bigint, no
    // migration touches them; the new model gets uuid.
    let v2 = v1.replace("id = \"bigint\"\n", "")
        + "\n[models.tag]\nfields.label = { type = \"string\", max_len = 40 }\npermissions = { read = \"notes.read\", write = \"notes.write\" }\n";
    std::fs::write(dir.path().join("rookery.toml"), &v2).unwrap();
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    assert_eq!(key_of("notes"), "bigint", "an existing table keeps its key");
    assert_eq!(key_of("tags"), "uuid", "a new model gets uuid v7 ids");
    let migration = std::fs::read_to_string(dir.path().join("migrations/postgres/0002_create_tags.sql")).unwrap();
    assert!(!migration.contains("notes"), "{migration}");
    assert!(migration.contains("id         uuid        NOT NULL"), "{migration}");

    // A hand-written model on a bigint table without `id` is refused,
    // naming the fix; with `id = "bigint"` it is fine.
    let hand = |id: &str| {
        format!(
            "#[derive(Debug, Clone, rookery::TenantModel)]\n#[rookery({id}permissions(read = \"notes.read\", write = \"notes.write\"))]\npub struct Memo {{\n    pub body: String,\n}}\n"
        )
    };
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/memo.rs"), hand("id = \"bigint\", ")).unwrap();
    assert_ok(&generate(dir.path(), &[]));
    assert_eq!(key_of("memos"), "bigint");
    std::fs::write(dir.path().join("src/memo.rs"), hand("")).unwrap();
    let out = generate(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("table `memos` has bigint ids") && err.contains("id = \"bigint\""),
        "{err}"
    );
}

/// Spec and hand-written models get their tables by one plural rule; a
/// hand-written table made under the old `<name>s` rule must be named.
#[test]
fn handwritten_tables_follow_the_english_plural() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = "[app]\nname = \"shop\"\n\n[roles]\nowner = { grants = [\"c.read\", \"c.write\", \"members.manage\", \"api_keys.manage\"] }\n\n[plans.free]\n";
    std::fs::write(dir.path().join("rookery.toml"), spec).unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    let category = |table: &str| {
        format!(
            "#[derive(Debug, Clone, rookery::TenantModel)]\n#[rookery({table}permissions(read = \"c.read\", write = \"c.write\"))]\npub struct Category {{\n    pub label: String,\n}}\n"
        )
    };
    // A table made when the derive said `categorys`.
    std::fs::write(dir.path().join("src/category.rs"), category("table = \"categorys\", ")).unwrap();
    assert_ok(&generate(dir.path(), &[]));
    std::fs::write(dir.path().join("src/category.rs"), category("")).unwrap();
    let out = generate(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("`categories`") && err.contains("table = \"categorys\""),
        "{err}"
    );

    // A new project: the derive's default is the English plural.
    let fresh = tempfile::tempdir().expect("temp dir");
    std::fs::write(fresh.path().join("rookery.toml"), spec).unwrap();
    std::fs::create_dir_all(fresh.path().join("src")).unwrap();
    std::fs::write(fresh.path().join("src/category.rs"), category("")).unwrap();
    assert_ok(&generate(fresh.path(), &[]));
    let sql = std::fs::read_to_string(fresh.path().join("migrations/postgres/0001_init.sql")).unwrap();
    assert!(sql.contains("CREATE TABLE categories"), "{sql}");
}

/// Every migration `0002_…` onwards, in order, as `path` → text.
fn later_migrations(dir: &Path) -> Vec<(String, String)> {
    tree(dir)
        .into_iter()
        .filter(|(p, _)| p.starts_with("migrations/") && p.ends_with(".sql") && !p.contains("/0001_"))
        .map(|(p, b)| (p, text(&b)))
        .collect()
}

#[test]
fn long_names_are_named_within_63_bytes_and_kept_through_changes() {
    // Model and field names at the checker's limit: create (unique, index,
    // ref, check), drop unique, rename model and field, drop index.
    let dir = tempfile::tempdir().expect("temp dir");
    for step in ["v1", "v2", "v3", "v4"] {
        std::fs::copy(
            fixture("long_names").join(format!("{step}.toml")),
            dir.path().join("rookery.toml"),
        )
        .expect("spec");
        assert_ok(&generate(dir.path(), &[]));
    }
    let files = tree(dir.path());
    for (path, sql) in files.iter().filter(|(p, _)| p.ends_with(".sql")) {
        let sql = text(sql);
        for word in sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            assert!(word.len() <= 63, "{path}: `{word}` is {} bytes", word.len());
        }
    }
    for (path, sql) in later_migrations(dir.path()) {
        insta::assert_snapshot!(format!("long_names@{}", path.replace('/', "__")), sql);
    }
}

#[test]
fn a_format_1_snapshot_gets_its_long_names_adopted_once() {
    // A project planned before names were explicit: PostgreSQL chose the
    // names of its constraints. The next migration renames them first.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(fixture("long_names/v1.toml"), dir.path().join("rookery.toml")).expect("spec");
    assert_ok(&generate(dir.path(), &[]));
    let snap = dir.path().join("migrations/rookery.snapshot.json");
    let text1 = std::fs::read_to_string(&snap)
        .expect("snapshot")
        .replace("\"format\": 2", "\"format\": 1");
    std::fs::write(&snap, text1).expect("write snapshot");
    std::fs::copy(fixture("long_names/v2.toml"), dir.path().join("rookery.toml")).expect("spec");
    let out = generate(dir.path(), &[]);
    assert_ok(&out);
    assert!(
        text(&out.stdout).contains("given explicit names"),
        "{}",
        text(&out.stdout)
    );
    for (path, sql) in later_migrations(dir.path()) {
        insta::assert_snapshot!(format!("adopt_names@{}", path.replace('/', "__")), sql);
    }
    let snap = std::fs::read_to_string(&snap).expect("snapshot");
    assert!(snap.contains("\"format\": 2"), "{snap}");
    // The short-named tables need nothing: only the long one is adopted.
    assert_eq!(text(&out.stdout).matches("given explicit names").count(), 1);
}
