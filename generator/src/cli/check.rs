//! `rookery check FILE`: report every error in a spec.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::check::{self, LoadError};

/// Arguments of `rookery check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec file.
    #[arg(default_value = "rookery.toml")]
    pub file: PathBuf,
}

/// Runs the command: exit 0 when the spec is valid (warnings are printed to
/// stderr), 1 with spec errors (printed to stderr), 2 when the file or the
/// hand-written sources beside it (`src/`) cannot be read.
pub fn run(args: &Args) -> ExitCode {
    // Hand-written models beside the spec name permissions roles may grant.
    let project = args.file.parent().unwrap_or(std::path::Path::new(""));
    let project = if project.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        project
    };
    let handwritten = match crate::handwritten::read(project) {
        Ok(handwritten) => handwritten,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    };
    match check::load_file_with_warnings(&args.file, &handwritten) {
        Ok((spec, warnings)) => {
            if let Some(warnings) = warnings {
                eprint!("{}", render(&warnings));
            }
            println!(
                "{}: ok ({}, {}, {})",
                args.file.display(),
                count(spec.models.len(), "model"),
                count(spec.roles.len(), "role"),
                count(spec.plans.len(), "plan"),
            );
            ExitCode::SUCCESS
        }
        Err(LoadError::Spec(report)) => {
            eprint!("{}", render(&report));
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// In colour on a terminal (unless `NO_COLOR`), plain otherwise.
fn render(report: &check::Report) -> String {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        report.render_with(&GraphicalReportHandler::new_themed(GraphicalTheme::unicode()))
    } else {
        report.render()
    }
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
