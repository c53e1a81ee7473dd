//! Taskboard: the example Rookery app.
//!
//! `cargo run -p taskboard` serves it on 127.0.0.1:3000 with an embedded
//! SQLite file; `DATABASE_URL=postgres://…` switches to PostgreSQL.

fn main() -> std::process::ExitCode {
    rookery::cli::main(taskboard::generated::app())
}
