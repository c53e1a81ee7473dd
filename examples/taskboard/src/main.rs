//! Taskboard: the example Rookery app.
//!
//! `cargo run -p taskboard` serves it on 127.0.0.1:3000 with an embedded
//! SQLite file; `DATABASE_URL=postgres://…` switches to PostgreSQL.

// mimalloc spends less CPU per request than the system allocator; delete
// these two lines to use the system's.
#[global_allocator]
static ALLOC: rookery::MiMalloc = rookery::MiMalloc;

fn main() -> std::process::ExitCode {
    rookery::cli::main(taskboard::app())
}
