//! `rookery`: check a spec, generate an app from it, scaffold a new project.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rookery_generator::cli;

/// Rookery: a declarative SaaS backend generator.
#[derive(Debug, Parser)]
#[command(name = "rookery", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a spec file and report every error in it.
    Check(cli::check::Args),
    /// Generate code and migrations from the spec of the project in this directory.
    Generate(cli::generate::Args),
    /// Scaffold a new project.
    New(cli::new::Args),
    /// Print the JSON Schema of the spec.
    Schema(cli::schema::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => cli::check::run(&args),
        Command::Generate(args) => cli::generate::run(&args),
        Command::New(args) => cli::new::run(&args),
        Command::Schema(args) => cli::schema::run(&args),
    }
}
