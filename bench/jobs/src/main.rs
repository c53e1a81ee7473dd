//! Job throughput and enqueue-to-start latency on PostgreSQL, Rookery's
//! queue beside apalis used directly (`README.md`).
//!
//! `rookery-jobbench bench` runs every configuration and prints a table;
//! it starts `rookery-jobbench worker --system S` processes itself.

mod apalis_side;
mod bench;
mod cpu;
mod record;
mod rookery_side;

/// Which queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Rookery,
    Apalis,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            Self::Rookery => "rookery",
            Self::Apalis => "apalis",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "rookery" => Self::Rookery,
            "apalis" => Self::Apalis,
            other => panic!("unknown system `{other}` (rookery, apalis)"),
        }
    }
}

/// Which job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Records its start and returns.
    Trivial,
    /// Inserts one row in a transaction first.
    Write,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Self::Trivial => "trivial",
            Self::Write => "write",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "trivial" => Self::Trivial,
            "write" => Self::Write,
            other => panic!("unknown variant `{other}` (trivial, write)"),
        }
    }
}

/// A database ready for one configuration.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The database's name (dropped at the end).
    pub name: String,
    /// What workers and enqueuers connect to.
    pub worker_url: String,
    pub tenants: Vec<uuid::Uuid>,
}

/// Completes on SIGTERM.
pub async fn sigterm() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a SIGTERM handler");
    term.recv().await;
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["bench"] => runtime.block_on(bench::main()),
        ["worker", "--system", system] => {
            record::open_log(std::path::Path::new(&std::env::var("BENCH_LOG").expect("BENCH_LOG")));
            match System::parse(system) {
                System::Rookery => runtime.block_on(rookery_side::work()),
                System::Apalis => runtime.block_on(apalis_side::work()),
            }
        }
        _ => {
            eprintln!("usage: rookery-jobbench bench | worker --system rookery|apalis (see README.md)");
            std::process::exit(2);
        }
    }
}
