//! `rookery generate`: load and check the spec, read the hand-written
//! models, plan the next migration, render `src/generated/`, print the plan,
//! then write everything atomically.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::handwritten;
use crate::model::{self, App};
use crate::plan::sql::Dialect;
use crate::plan::{self, Op, Snapshot, snapshot};
use crate::render::{self, MigrationRef};
use crate::spec::Spec;
use crate::write::{self, FileChange};

/// Arguments of `rookery generate`.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// The project folder (the one holding `rookery.toml`); default: the current folder.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Print the plan and write nothing; exit 1 if anything would change.
    #[arg(long)]
    pub check: bool,
    /// Allow changes that lose data: dropping a column or table, narrowing a type.
    #[arg(long)]
    pub allow_destructive: bool,
}

/// Why a generation stopped.
#[derive(Debug)]
pub enum Failure {
    /// The spec has errors (already rendered as diagnostics).
    Spec(String),
    /// The change was refused (destructive, unsafe, or would overwrite a
    /// hand-written file).
    Refused(String),
    /// Anything else (I/O, a broken snapshot).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

/// What a successful run found.
#[derive(Debug)]
pub struct Outcome {
    /// The plan, as printed.
    pub plan: String,
    /// Files written (or that would be, with `--check`).
    pub changes: Vec<FileChange>,
}

/// Runs the command.
pub fn run(args: &Args) -> ExitCode {
    let project = args.project.clone().unwrap_or_else(|| PathBuf::from("."));
    match generate(&project, args) {
        Ok(outcome) => {
            print!("{}", outcome.plan);
            if outcome.changes.is_empty() {
                println!("Up to date: nothing to write.");
                ExitCode::SUCCESS
            } else if args.check {
                println!(
                    "{} file(s) would change (--check: nothing written).",
                    outcome.changes.len()
                );
                ExitCode::from(1)
            } else {
                println!("Wrote {} file(s).", outcome.changes.len());
                ExitCode::SUCCESS
            }
        }
        Err(Failure::Spec(report)) => {
            eprint!("{report}");
            eprintln!("Nothing was written.");
            ExitCode::from(1)
        }
        Err(Failure::Refused(msg)) => {
            eprintln!("error: {msg}");
            eprintln!("Nothing was written.");
            ExitCode::from(1)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            eprintln!("Nothing was written.");
            ExitCode::from(2)
        }
    }
}

/// Parses and checks the spec; errors come back rendered as diagnostics.
fn load_spec(name: &str, source: &str, hand: &handwritten::Handwritten) -> Result<Spec, String> {
    let render = |report: crate::check::Report| {
        let stderr = std::io::stderr();
        if stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            report.render_with(&miette::GraphicalReportHandler::new_themed(
                miette::GraphicalTheme::unicode(),
            ))
        } else {
            report.render()
        }
    };
    let (spec, warnings) = crate::check::load_with_warnings(name, source, hand).map_err(render)?;
    // Warnings do not stop generation, but the user sees them here too.
    if let Some(warnings) = warnings {
        eprint!("{}", render(warnings));
    }
    Ok(spec)
}

/// Generates the project in `project`; writes only without `--check`.
pub fn generate(project: &Path, args: &Args) -> Result<Outcome, Failure> {
    let spec_path = project.join("rookery.toml");
    let source = std::fs::read_to_string(&spec_path)
        .with_context(|| format!("reading {} (is this a Rookery project?)", spec_path.display()))?;
    let hand = handwritten::read(project).map_err(|e| Failure::Spec(format!("error: {e:#}\n")))?;
    let spec = load_spec("rookery.toml", &source, &hand).map_err(Failure::Spec)?;
    let snap_path = project.join(snapshot::PATH);
    let previous = match std::fs::read_to_string(&snap_path) {
        Ok(text) => Some(Snapshot::parse(&text).with_context(|| format!("reading {}", snapshot::PATH))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Failure::Other(
                anyhow::Error::new(e).context(format!("reading {}", snapshot::PATH)),
            ));
        }
    };
    // Existing tables keep their key type; new models get uuid v7 ids.
    let kept = previous
        .iter()
        .flat_map(|p| p.tables.iter().map(|t| (t.name.clone(), t.key)))
        .collect();
    let app = model::build(&spec, &hand, &kept).map_err(|e| Failure::Spec(format!("error: {e:#}\n")))?;

    // Plan the migration.
    let existing_pg = list_migrations(project, Dialect::Postgres)?;
    let existing_sqlite = list_migrations(project, Dialect::Sqlite)?;
    if previous.is_none() && (!existing_pg.is_empty() || !existing_sqlite.is_empty()) {
        return Err(Failure::Refused(format!(
            "migrations/ has migrations but no {}: restore it from version control",
            snapshot::PATH
        )));
    }
    let wanted = Snapshot::from_app(&app);
    let diff = plan::diff(previous.as_ref(), &wanted);
    if !diff.refused.is_empty() {
        return Err(Failure::Refused(format!(
            "cannot plan the migration:\n  - {}",
            diff.refused.join("\n  - ")
        )));
    }
    if !diff.destructive.is_empty() && !args.allow_destructive {
        return Err(Failure::Refused(format!(
            "these changes lose data and are refused without --allow-destructive:\n  - {}",
            diff.destructive.join("\n  - ")
        )));
    }

    let mut files: Vec<(String, String)> = Vec::new();
    let mut pg = existing_pg;
    let mut sqlite = existing_sqlite;
    let mut new_migration = None;
    if !diff.is_empty() {
        let next = pg.iter().chain(&sqlite).map(|m| m.version).max().unwrap_or(0) + 1;
        let name = plan::migration_name(&diff);
        for (dialect, list) in [(Dialect::Postgres, &mut pg), (Dialect::Sqlite, &mut sqlite)] {
            let sql = plan::render(dialect, &diff, &wanted).map_err(|e| Failure::Spec(format!("error: {e:#}\n")))?;
            let file = format!("{next:04}_{name}.sql");
            files.push((format!("migrations/{}/{file}", dialect.dir()), sql));
            list.push(MigrationRef {
                version: next,
                name: name.clone(),
                include: format!("../../migrations/{}/{file}", dialect.dir()),
            });
        }
        files.push((snapshot::PATH.to_owned(), wanted.to_text()));
        new_migration = Some(format!("{next:04}_{name}"));
    } else if !diff.metadata.is_empty() {
        // Only the snapshot's record of the schema changes, not the schema.
        files.push((snapshot::PATH.to_owned(), wanted.to_text()));
    }

    let rendered = render::render(&app, &pg, &sqlite)?;
    files.extend(rendered);
    let changes = write::changes(project, &files).map_err(|e| Failure::Refused(format!("{e:#}")))?;
    let plan_text = describe(&app, &diff, new_migration.as_deref(), previous.as_ref(), &changes);
    if !args.check {
        write::apply(project, &changes)?;
    }
    Ok(Outcome {
        plan: plan_text,
        changes,
    })
}

fn list_migrations(project: &Path, d: Dialect) -> Result<Vec<MigrationRef>> {
    let dir = project.join("migrations").join(d.dir());
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let file = entry?.file_name().to_string_lossy().into_owned();
        let Some(stem) = file.strip_suffix(".sql") else {
            continue;
        };
        let Some((num, name)) = stem.split_once('_') else {
            continue;
        };
        let Ok(version) = num.parse::<i64>() else {
            continue;
        };
        out.push(MigrationRef {
            version,
            name: name.to_owned(),
            include: format!("../../migrations/{}/{file}", d.dir()),
        });
    }
    out.sort_by_key(|m| m.version);
    Ok(out)
}

fn describe(
    app: &App,
    diff: &plan::Diff,
    migration: Option<&str>,
    previous: Option<&Snapshot>,
    changes: &[FileChange],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Plan for `{}` ({} model(s)):", app.name, app.models.len());
    let _ = writeln!(s, "\nSchema:");
    match diff.platform {
        // A new app gets them all at once: one line, not their history.
        [.., last] if diff.init => {
            let _ = writeln!(
                s,
                "  + platform tables, version {} (tenants, users, memberships, API keys, the audit log, jobs, idempotency keys, mail, webhooks, usage, quotas, custom roles, deletion)",
                last.version
            );
        }
        steps => {
            for step in steps {
                let _ = writeln!(s, "  + {}", step.summary);
            }
        }
    }
    if diff.is_empty() && diff.metadata.is_empty() {
        let _ = writeln!(s, "  (no changes)");
    }
    for op in &diff.ops {
        let _ = writeln!(s, "  {}", plan::describe(op).0);
        if let Op::CreateTable(t) = op {
            for c in &t.columns {
                let _ = writeln!(s, "      {} {}", c.name, plan::column_summary(c));
            }
        }
        if let Some(note) = plan::note(op) {
            let _ = writeln!(s, "      {note}");
        }
    }
    for m in &diff.metadata {
        let _ = writeln!(s, "  {m}");
    }
    for d in &diff.destructive {
        let _ = writeln!(s, "  ! destructive (allowed): {d}");
    }
    let _ = writeln!(s, "\nRoutes and permissions:");
    for m in &app.models {
        let sign = match previous {
            None => '+',
            Some(p) if p.table(&m.table).is_some() => ' ',
            Some(_)
                if diff
                    .ops
                    .iter()
                    .any(|op| matches!(op, Op::RenameTable { to, .. } if *to == m.table)) =>
            {
                '~'
            }
            Some(_) => '+',
        };
        let p = &m.permissions;
        let base = format!("{}/{}", app.api_prefix, m.path);
        let _ = writeln!(s, "  {sign} {} ({}, table {})", m.name, m.rust_path, m.table);
        let _ = writeln!(s, "      GET/POST {base}   read: {}, write: {}", p.read, p.write);
        let _ = writeln!(s, "      GET/PATCH/DELETE {base}/{{id}}   delete: {}", p.delete);
    }
    if let Some(prev) = previous {
        for t in &prev.tables {
            let gone = !app.models.iter().any(|m| m.table == t.name)
                && !diff
                    .ops
                    .iter()
                    .any(|op| matches!(op, Op::RenameTable { old, .. } if old.name == t.name));
            if gone {
                let _ = writeln!(s, "  - {} (table {}): routes removed", t.model, t.name);
            }
        }
    }
    let _ = writeln!(s, "\nRoles:");
    for r in &app.roles {
        let mut grants = r.permissions.clone();
        grants.extend(r.own.iter().map(|p| format!("{p} (own rows)")));
        grants.sort();
        let _ = writeln!(s, "  {}: {}", r.name, grants.join(", "));
    }
    let _ = writeln!(s, "\nMigration:");
    match migration {
        Some(m) => {
            let _ = writeln!(s, "  + {m} (postgres, sqlite)");
        }
        None => {
            let _ = writeln!(s, "  (none needed)");
        }
    }
    let _ = writeln!(s, "\nFiles:");
    if changes.is_empty() {
        let _ = writeln!(s, "  (all up to date)");
    }
    for c in changes {
        let _ = writeln!(s, "  {} {}", c.change.sign(), c.path);
    }
    s
}
