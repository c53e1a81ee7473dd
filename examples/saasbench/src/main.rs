//! SaaS benchmark: `cargo run -p saasbench` serves it on 127.0.0.1:3000
//! with an embedded SQLite file; `DATABASE_URL=postgres://…` switches to
//! PostgreSQL.

// mimalloc spends less CPU per request than the system allocator.
#[global_allocator]
static ALLOC: rookery::MiMalloc = rookery::MiMalloc;

fn main() -> std::process::ExitCode {
    rookery::cli::main(saasbench::generated::app())
}
