//! `rookery schema` (placeholder until it lands).

use std::process::ExitCode;

/// Arguments of `rookery schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: &Args) -> ExitCode {
    eprintln!("rookery schema: not built yet");
    ExitCode::from(2)
}
