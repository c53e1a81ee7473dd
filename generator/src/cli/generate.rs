//! `rookery generate` (placeholder until it lands).

use std::process::ExitCode;

/// Arguments of `rookery generate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: &Args) -> ExitCode {
    eprintln!("rookery generate: not built yet");
    ExitCode::from(2)
}
