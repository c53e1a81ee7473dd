//! The coordinator: for every job variant and worker count, each system in
//! turn (so both are measured minutes apart under the same machine load)
//! on a fresh database of the private cluster:
//!
//! 1. **Throughput.** `JOBS` jobs enqueued before any worker runs (over
//!    `TENANTS` tenants, 50 per transaction or `push_bulk`), then `W`
//!    worker processes started; jobs/s is the job count over the time from
//!    the first job's start to the last job's end, as the jobs recorded
//!    them.
//! 2. **Latency.** With the same workers idle, `LATENCY_JOBS` jobs
//!    enqueued one by one at `RATE` per second (open loop: each enqueue in
//!    its own task on a fixed schedule); enqueue-to-start is the job's
//!    recorded start minus the time taken just before its enqueue call.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cpu::{Snapshot, usage};
use crate::record::{Log, latency, throughput};
use crate::{Setup, System, Variant, apalis_side, rookery_side};

fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

struct Params {
    admin: String,
    postmaster: u32,
    jobs: u64,
    latency_jobs: u64,
    rate: f64,
    tenants: usize,
    concurrency: u32,
    out: PathBuf,
}

enum Enqueuer {
    Rookery(rookery_side::Enqueuer),
    Apalis(apalis_side::Enqueuer),
}

impl Enqueuer {
    async fn backlog(&self, first: u64, count: u64, variant: Variant) {
        match self {
            Self::Rookery(e) => e.backlog(first, count, 50, variant).await,
            Self::Apalis(e) => e.backlog(first, count, 50, variant).await,
        }
    }

    async fn one(&self, seq: u64, variant: Variant) {
        match self {
            Self::Rookery(e) => e.one(seq, variant).await,
            Self::Apalis(e) => e.one(seq, variant).await,
        }
    }
}

/// One line of the table.
struct Row {
    system: System,
    variant: Variant,
    workers: usize,
    jobs_per_s: f64,
    /// CPU ms per job of the workers and of PostgreSQL in the throughput phase.
    cpu_ms: (f64, f64),
    foreign: (f64, f64),
    latency: (f64, f64, f64),
    reruns: usize,
    /// Per job in the throughput phase: commits in the database, WAL
    /// flushes and WAL kilobytes of the cluster.
    pg: (f64, f64, f64),
}

/// PostgreSQL 15 flushes an idle backend's statistics within 10 s.
const STATS_SETTLE: Duration = Duration::from_secs(11);

/// The database's commits, and the cluster's WAL flushes and bytes.
async fn counters(admin: &str, database: &str) -> (f64, f64, f64) {
    let pool = sqlx::PgPool::connect(admin).await.expect("the private cluster");
    let row: (f64, f64, f64) = sqlx::query_as(
        "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = $1)::float8,
                wal_sync::float8, wal_bytes::float8 FROM pg_stat_wal",
    )
    .bind(database)
    .fetch_one(&pool)
    .await
    .expect("pg_stat_wal");
    pool.close().await;
    row
}

fn spawn_worker(p: &Params, system: System, setup: &Setup, log: &Path) -> Child {
    Command::new(std::env::current_exe().expect("this binary"))
        .args(["worker", "--system", system.name()])
        .env("DATABASE_URL", &setup.worker_url)
        .env("BENCH_LOG", log)
        .env("ROOKERY_JOBS_CONCURRENCY", p.concurrency.to_string())
        .env("BENCH_CONCURRENCY", p.concurrency.to_string())
        .env_remove("REDIS_URL")
        .spawn()
        .expect("start a worker")
}

/// Polls the log until `seqs` have all run (a bench, not a test: polling
/// with a pause is fine here).
async fn wait_for(log: &Path, seqs: std::ops::Range<u64>) -> Log {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let read = Log::read(log);
        if read.done(seqs.clone()) == seqs.clone().count() {
            return read;
        }
        assert!(
            Instant::now() < deadline,
            "jobs {seqs:?} did not all run within 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn one(p: &Params, system: System, variant: Variant, workers: usize) -> Row {
    let setup = match system {
        System::Rookery => rookery_side::setup(&p.admin, p.tenants).await,
        System::Apalis => apalis_side::setup(&p.admin, p.tenants).await,
    };
    let enqueuer = Arc::new(match system {
        System::Rookery => Enqueuer::Rookery(rookery_side::Enqueuer::connect(&setup).await),
        System::Apalis => Enqueuer::Apalis(apalis_side::Enqueuer::connect(&setup).await),
    });
    let log = p
        .out
        .join(format!("{}-{}-{workers}.log", system.name(), variant.name()));
    let _ = std::fs::remove_file(&log);
    enqueuer.backlog(0, p.jobs, variant).await;
    tokio::time::sleep(STATS_SETTLE).await;
    let pg_before = counters(&p.admin, &setup.name).await;

    let before = Snapshot::take();
    let mut children: Vec<Child> = (0..workers).map(|_| spawn_worker(p, system, &setup, &log)).collect();
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    wait_for(&log, 0..p.jobs).await;
    let drained = usage(&before, &Snapshot::take(), &pids, p.postmaster);
    tokio::time::sleep(STATS_SETTLE).await;
    let pg_after = counters(&p.admin, &setup.name).await;
    let read = Log::read(&log);
    let jobs_per_s = throughput(&read.of(0..p.jobs));

    let before = Snapshot::take();
    let first = p.jobs;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / p.rate));
    let mut sent = tokio::task::JoinSet::new();
    for seq in first..first + p.latency_jobs {
        tick.tick().await;
        let enqueuer = enqueuer.clone();
        sent.spawn(async move { enqueuer.one(seq, variant).await });
    }
    while let Some(done) = sent.join_next().await {
        done.expect("an enqueue");
    }
    let read = wait_for(&log, first..first + p.latency_jobs).await;
    let trickle = usage(&before, &Snapshot::take(), &pids, p.postmaster);

    for child in &children {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    }
    for child in &mut children {
        let _ = child.wait();
    }
    drop(enqueuer);
    drop_database(&p.admin, &setup.name).await;
    let jobs = p.jobs as f64;
    Row {
        system,
        variant,
        workers,
        jobs_per_s,
        cpu_ms: (1000.0 * drained.workers_s / jobs, 1000.0 * drained.postgres_s / jobs),
        foreign: (drained.foreign_pct, trickle.foreign_pct),
        latency: latency(&read.of(first..first + p.latency_jobs)),
        reruns: read.lines - read.runs.len(),
        pg: (
            (pg_after.0 - pg_before.0) / jobs,
            (pg_after.1 - pg_before.1) / jobs,
            (pg_after.2 - pg_before.2) / jobs / 1024.0,
        ),
    }
}

async fn drop_database(admin: &str, name: &str) {
    let pool = sqlx::PgPool::connect(admin).await.expect("the private cluster");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await
    .expect("drop the database");
    pool.close().await;
}

pub async fn main() {
    let p = Params {
        admin: std::env::var("BENCH_ADMIN_URL").expect("BENCH_ADMIN_URL: the private cluster's superuser URL"),
        postmaster: var("BENCH_PG_PID", 0),
        jobs: var("JOBS", 5000),
        latency_jobs: var("LATENCY_JOBS", 1000),
        rate: var("RATE", 100.0),
        tenants: var("TENANTS", 8),
        concurrency: var("CONCURRENCY", 4),
        out: PathBuf::from(std::env::var("BENCH_OUT").unwrap_or_else(|_| ".".into())),
    };
    std::fs::create_dir_all(&p.out).expect("BENCH_OUT");
    let systems: Vec<System> = list("SYSTEMS", "rookery,apalis")
        .iter()
        .map(|s| System::parse(s))
        .collect();
    let variants: Vec<Variant> = list("VARIANTS", "trivial,write")
        .iter()
        .map(|s| Variant::parse(s))
        .collect();
    let workers: Vec<usize> = list("WORKERS", "1,4")
        .iter()
        .map(|w| w.parse().expect("a count"))
        .collect();
    println!(
        "{} jobs per throughput run; {} jobs at {}/s for latency; {} tenants; {} jobs at once per worker process",
        p.jobs, p.latency_jobs, p.rate, p.tenants, p.concurrency
    );
    let mut rows = Vec::new();
    for &variant in &variants {
        for &w in &workers {
            for &system in &systems {
                eprintln!("jobbench: {} {} x{w}", system.name(), variant.name());
                let row = one(&p, system, variant, w).await;
                eprintln!(
                    "jobbench:   {:.0} jobs/s, p50 {:.1} ms, p99 {:.1} ms",
                    row.jobs_per_s, row.latency.0, row.latency.1
                );
                rows.push(row);
            }
        }
    }
    println!();
    println!(
        "| system | job | worker processes | jobs/s | worker CPU ms/job | PG CPU ms/job | commits/job | WAL flushes/job | WAL KiB/job | enqueue-to-start p50 ms | p99 ms | max ms | jobs run twice | foreign CPU % (drain / trickle) |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {} | {:.1} / {:.1} |",
            r.system.name(),
            r.variant.name(),
            r.workers,
            r.jobs_per_s,
            r.cpu_ms.0,
            r.cpu_ms.1,
            r.pg.0,
            r.pg.1,
            r.pg.2,
            r.latency.0,
            r.latency.1,
            r.latency.2,
            r.reruns,
            r.foreign.0,
            r.foreign.1
        );
    }
}
