//! apalis 1.0 with apalis-postgres, used directly as its README shows:
//! `PostgresStorage::setup` on a database of its own, `push` (one task per
//! call, its own transaction) or `push_bulk` for the backlog, and worker
//! processes built with `WorkerBuilder` on `with_pubsub()` (LISTEN/NOTIFY
//! on insert) plus a 1 s interval poll (Rookery's `ROOKERY_JOBS_POLL_MS`
//! default), `concurrency(4)` (Rookery's `ROOKERY_JOBS_CONCURRENCY`
//! default). Everything else is apalis's default (`batch_size` 10, locking
//! and persisted results on). apalis has no tenants: the tenant is a
//! field of the payload, and the connection is the superuser's (apalis's
//! setup creates the `hstore` extension and has no role model), so no
//! row-level security applies to its write.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use serde::{Deserialize, Serialize};
use sqlx::{Executor as _, PgPool};

use crate::record::{now_us, record};
use crate::{Setup, Variant};

/// The bench job's payload, as Rookery's (plus the tenant, which apalis
/// does not know).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchArgs {
    seq: u64,
    enqueued_us: i64,
    write: bool,
    tenant: uuid::Uuid,
}

/// The queue (apalis's `job_type`).
const QUEUE: &str = "bench";

fn storage(pool: &PgPool) -> PostgresStorage<BenchArgs> {
    PostgresStorage::new(pool).with_config(Config::default().queue(QUEUE))
}

/// A fresh database on the private cluster at `admin` with apalis's
/// tables and the same `bench_writes` table (without a policy: the
/// superuser bypasses row-level security anyway).
pub async fn setup(admin: &str, tenants: usize) -> Setup {
    let name = format!("jobbench_apalis_{}", uuid::Uuid::new_v4().simple());
    let admin_pool = PgPool::connect(admin).await.expect("the private cluster");
    admin_pool
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create the database");
    admin_pool.close().await;
    let url = rookery::db::test_cluster::with_user_and_database(admin, "postgres", &name);
    let pool = PgPool::connect(&url).await.expect("connect");
    PostgresStorage::setup(&pool).await.expect("apalis setup");
    pool.execute(
        "CREATE TABLE bench_writes (tenant_id uuid NOT NULL, seq bigint NOT NULL, at timestamptz NOT NULL,
                                    PRIMARY KEY (tenant_id, seq))",
    )
    .await
    .expect("the bench table");
    pool.close().await;
    Setup {
        name,
        worker_url: url,
        tenants: (0..tenants).map(|_| uuid::Uuid::now_v7()).collect(),
    }
}

/// Pushes jobs.
pub struct Enqueuer {
    pool: PgPool,
    tenants: Vec<uuid::Uuid>,
}

impl Enqueuer {
    pub async fn connect(setup: &Setup) -> Self {
        Self {
            pool: PgPool::connect(&setup.worker_url).await.expect("connect"),
            tenants: setup.tenants.clone(),
        }
    }

    fn args(&self, seq: u64, variant: Variant) -> BenchArgs {
        BenchArgs {
            seq,
            enqueued_us: now_us(),
            write: variant == Variant::Write,
            tenant: self.tenants[(seq as usize) % self.tenants.len()],
        }
    }

    /// Jobs `first..first + count`, `batch` per `push_bulk` (one insert).
    pub async fn backlog(&self, first: u64, count: u64, batch: u64, variant: Variant) {
        let mut storage = storage(&self.pool);
        let seqs: Vec<u64> = (first..first + count).collect();
        for chunk in seqs.chunks(batch as usize) {
            let tasks = chunk.iter().map(|s| self.args(*s, variant)).collect();
            storage.push_bulk(tasks).await.expect("push_bulk");
        }
    }

    /// Job `seq`, alone: `push`.
    pub async fn one(&self, seq: u64, variant: Variant) {
        storage(&self.pool).push(self.args(seq, variant)).await.expect("push");
    }
}

#[derive(Clone)]
struct Ctx {
    pool: PgPool,
}

async fn run(args: BenchArgs, ctx: Data<Arc<Ctx>>) -> Result<(), BoxDynError> {
    let started = now_us();
    if args.write {
        let mut tx = ctx.pool.begin().await?;
        sqlx::query("INSERT INTO bench_writes (tenant_id, seq, at) VALUES ($1, $2, $3)")
            .bind(args.tenant)
            .bind(i64::try_from(args.seq).unwrap_or(i64::MAX))
            .bind(chrono::Utc::now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    record(args.seq, args.enqueued_us, started, now_us());
    Ok(())
}

/// A worker process on `DATABASE_URL` with `BENCH_CONCURRENCY` jobs at
/// once, until SIGTERM.
pub async fn work() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(4);
    let pool = PgPool::connect(&url).await.expect("connect");
    let backend = storage(&pool)
        .with_pubsub()
        .poll_with_strategy(Strategy::new().interval(Duration::from_secs(1)));
    let name = format!("jobbench-{}", std::process::id());
    let worker = WorkerBuilder::new(name.as_str())
        .backend(backend)
        .data(Arc::new(Ctx { pool: pool.clone() }))
        .concurrency(concurrency)
        .build(run);
    let stop = async {
        crate::sigterm().await;
        Ok::<(), std::io::Error>(())
    };
    worker.run_until(stop).await.expect("the apalis worker");
    pool.close().await;
}
