//! `rookery new NAME`: scaffold a project (spec, Cargo.toml, a hand-written
//! `src/main.rs`), then generate it. Everything is built in a staging folder
//! beside the target and renamed into place only when generation succeeded.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use heck::ToUpperCamelCase as _;
use minijinja::{Environment, UndefinedBehavior, context};

use super::generate;

/// The JSON Schema of the spec, copied into each new project for editors.
const SCHEMA: &str = include_str!("../../../schemas/rookery.schema.json");

const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "rookery.toml",
        "new/rookery.toml.j2",
        include_str!("../../templates/new/rookery.toml.j2"),
    ),
    (
        "Cargo.toml",
        "new/Cargo.toml.j2",
        include_str!("../../templates/new/Cargo.toml.j2"),
    ),
    (
        "src/main.rs",
        "new/main.rs.j2",
        include_str!("../../templates/new/main.rs.j2"),
    ),
    (
        ".gitignore",
        "new/gitignore.j2",
        include_str!("../../templates/new/gitignore.j2"),
    ),
];

/// Arguments of `rookery new`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project (and crate) name: lowercase letters, digits and `_`, starting with a letter.
    pub name: String,
    /// Folder to create the project in (default: the current folder).
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Path of the `rookery` runtime crate for the project's Cargo.toml
    /// (default: the runtime next to this generator's sources).
    #[arg(long, value_name = "PATH")]
    pub rookery_path: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: &Args) -> ExitCode {
    match scaffold(args) {
        Ok((dir, plan)) => {
            print!("{plan}");
            println!("\nCreated {}.", dir.display());
            println!("Next: cd {} && cargo run", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !matches!(
            name,
            "self" | "super" | "crate" | "test" | "rookery" | "main" | "std" | "core"
        )
}

fn scaffold(args: &Args) -> Result<(PathBuf, String)> {
    let name = &args.name;
    if !valid_name(name) {
        bail!("`{name}` is not a valid project name: use lowercase letters, digits and `_`, starting with a letter");
    }
    let parent = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let runtime = match &args.rookery_path {
        Some(p) => p.clone(),
        None => {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("runtime");
            p.canonicalize().unwrap_or(p)
        }
    };
    // The lock file of the runtime's workspace: the project starts on the
    // dependency versions the runtime was tested with (cargo drops what the
    // project does not use on its first build).
    let lock = std::fs::read_to_string(runtime.join("..").join("Cargo.lock")).ok();
    let rookery_path = toml::Value::String(runtime.to_string_lossy().into_owned()).to_string();

    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    for (_, template, source) in TEMPLATES {
        env.add_template(template, source)?;
    }
    let enclosing = enclosing_workspace(&parent);
    let ctx = context! {
        name => name,
        title => name.to_upper_camel_case(),
        rookery_path => rookery_path,
        enclosing_workspace => enclosing.as_ref().map(|p| p.display().to_string()),
    };

    let staging = parent.join(format!(".{name}.rookery-new-{}", std::process::id()));
    let result = (|| -> Result<String> {
        for (path, template, _) in TEMPLATES {
            let text = env.get_template(template)?.render(&ctx)?;
            write(&staging.join(path), &text)?;
        }
        write(&staging.join(".rookery/rookery.schema.json"), SCHEMA)?;
        if let Some(lock) = &lock {
            write(&staging.join("Cargo.lock"), lock)?;
        }
        let outcome = generate::generate(&staging, &generate::Args::default()).map_err(|f| match f {
            generate::Failure::Spec(s) | generate::Failure::Refused(s) => {
                anyhow::anyhow!("{s}")
            }
            generate::Failure::Other(e) => e,
        })?;
        std::fs::rename(&staging, &dir).with_context(|| format!("moving the project to {}", dir.display()))?;
        Ok(outcome.plan)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok((dir, result?))
}

/// The root of the Cargo workspace `dir` lies in, if any: the nearest
/// ancestor whose `Cargo.toml` has a `[workspace]` table. Cargo refuses to
/// build a package inside a workspace that does not list it, so a project
/// made there declares a workspace of its own.
fn enclosing_workspace(dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(dir).ok()?;
    dir.ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .ok()
                .and_then(|text| text.parse::<toml::Table>().ok())
                .is_some_and(|t| t.contains_key("workspace"))
        })
        .map(Path::to_path_buf)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::create_dir_all(path.parent().expect("a file has a parent"))?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
