//! `rookery schema`: the JSON Schema of the spec, for editor completion.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::spec;

/// Arguments of `rookery schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the schema to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs the command: prints or writes the schema; exit 2 if it cannot be written.
pub fn run(args: &Args) -> ExitCode {
    let schema = spec::json_schema();
    match &args.output {
        None => {
            print!("{schema}");
            ExitCode::SUCCESS
        }
        Some(path) => match std::fs::write(path, schema) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: cannot write {}: {error}", path.display());
                ExitCode::from(2)
            }
        },
    }
}
