//! Rookery's side, through the public API only: a database set up as the
//! README says (`rookery::db::test_cluster`: migrated by a non-superuser
//! owner, served by a member of `taskboard_app`), jobs enqueued with
//! `TenantTx::enqueue` in a writing tenant transaction, and worker
//! processes running `App::worker(...).run`, as `taskboard worker` does.

use rookery::db::{Db, DbOptions};
use rookery::jobs::{Job, JobContext, JobError};
use rookery::{App, TenantId};
use serde::{Deserialize, Serialize};
use sqlx::Executor as _;

use crate::record::{now_us, record};
use crate::{Setup, Variant};

/// The bench job: records when it started, and in the `write` variant
/// inserts one row in its tenant's transaction first.
#[derive(Debug, Serialize, Deserialize)]
pub struct BenchJob {
    seq: u64,
    enqueued_us: i64,
    write: bool,
}

impl Job for BenchJob {
    const NAME: &'static str = "bench.job";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let started = now_us();
        if self.write {
            let mut tx = ctx.begin_write().await?;
            tx.sql("INSERT INTO bench_writes (tenant_id, seq, at) VALUES ($1, $2, $3)")
                .bind(i64::try_from(self.seq).unwrap_or(i64::MAX))
                .bind(rookery::chrono::Utc::now())
                .execute()
                .await?;
            tx.commit().await?;
        }
        record(self.seq, self.enqueued_us, started, now_us());
        Ok(())
    }
}

/// The example app with the bench job registered.
fn app() -> App {
    taskboard::app().job::<BenchJob>()
}

/// The group role `test_cluster` makes for the taskboard app.
const ROLE: &str = "taskboard_app";

/// The table the `write` variant writes: a tenant table like the app's
/// (RLS enabled and forced), owned by the owner, the group role may insert.
const BENCH_TABLE: &str = "
CREATE TABLE bench_writes (tenant_id uuid NOT NULL, seq bigint NOT NULL, at timestamptz NOT NULL,
                           PRIMARY KEY (tenant_id, seq));
ALTER TABLE bench_writes ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench_writes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bench_writes
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
GRANT INSERT ON bench_writes TO taskboard_app;";

/// The experiment `EXPERIMENT_ASYNC_COMMIT=1` (not what Rookery does):
/// the claim and finish functions replaced by copies whose transactions
/// commit without waiting for their WAL flush (`synchronous_commit = off`,
/// transaction-local), to see what the queue's own bookkeeping costs.
const ASYNC_QUEUE: &str = "
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT oid::regprocedure FROM pg_proc WHERE proname IN ('rookery_job_claim', 'rookery_job_finish') LOOP
        EXECUTE replace(pg_get_functiondef(f), E'BEGIN\n',
                        E'BEGIN\n    PERFORM set_config(''synchronous_commit'', ''off'', true);\n');
    END LOOP;
END
$$;";

/// A fresh database of the taskboard app on the private cluster at
/// `admin`, migrated, with `tenants` tenants. Returns the serving URL and
/// the tenants.
pub async fn setup(admin: &str, tenants: usize) -> Setup {
    let pg = rookery::db::test_cluster::create(admin, "taskboard").await;
    let owner = Db::connect(&pg.owner_url, &DbOptions::migrating())
        .await
        .expect("connect as the owner");
    owner.migrate(app().spec(), ROLE).await.expect("migrate");
    owner.close().await;
    let owner = sqlx::PgPool::connect(&pg.owner_url)
        .await
        .expect("connect as the owner");
    owner.execute(BENCH_TABLE).await.expect("the bench table");
    owner.close().await;
    let superuser = sqlx::PgPool::connect(&pg.superuser_url())
        .await
        .expect("connect as the superuser");
    let mut ids = Vec::new();
    for t in 0..tenants {
        let id = rookery::uuid::Uuid::now_v7();
        sqlx::query("INSERT INTO tenants (id, slug, name, plan, created_at) VALUES ($1, $2, $2, 'enterprise', now())")
            .bind(id)
            .bind(format!("bench-{t}"))
            .execute(&superuser)
            .await
            .expect("a tenant");
        ids.push(id);
    }
    if std::env::var("EXPERIMENT_ASYNC_COMMIT").is_ok_and(|v| v == "1") {
        superuser.execute(ASYNC_QUEUE).await.expect("the experiment");
    }
    superuser.close().await;
    Setup {
        name: pg.name.clone(),
        worker_url: pg.serving_url.clone(),
        tenants: ids,
    }
}

/// Enqueues jobs `seqs` as a request would: each in a writing transaction
/// of its tenant (tenants taken in turn), `batch` jobs per transaction.
pub struct Enqueuer {
    db: Db,
    tenants: Vec<TenantId>,
}

impl Enqueuer {
    pub async fn connect(setup: &Setup) -> Self {
        let db = Db::connect(&setup.worker_url, &DbOptions::serving(ROLE))
            .await
            .expect("connect as the serving role");
        Self {
            db,
            tenants: setup.tenants.iter().copied().map(TenantId).collect(),
        }
    }

    /// Jobs `first..first + count`, `batch` per transaction: job `s`
    /// belongs to tenant `s % tenants`, and the tenants take turns.
    pub async fn backlog(&self, first: u64, count: u64, batch: u64, variant: Variant) {
        let n = self.tenants.len() as u64;
        let seqs: Vec<u64> = (first..first + count).collect();
        for chunk in seqs.chunks((batch * n) as usize) {
            for (t, tenant) in self.tenants.iter().enumerate() {
                let mut tx = self.db.begin_write(*tenant).await.expect("begin");
                for &s in chunk.iter().filter(|s| *s % n == t as u64) {
                    let job = BenchJob {
                        seq: s,
                        enqueued_us: now_us(),
                        write: variant == Variant::Write,
                    };
                    tx.enqueue(&job).await.expect("enqueue");
                }
                tx.commit().await.expect("commit");
            }
        }
    }

    /// Job `seq`, alone in its transaction.
    pub async fn one(&self, seq: u64, variant: Variant) {
        let tenant = self.tenants[(seq as usize) % self.tenants.len()];
        let job = BenchJob {
            seq,
            enqueued_us: now_us(),
            write: variant == Variant::Write,
        };
        let mut tx = self.db.begin_write(tenant).await.expect("begin");
        tx.enqueue(&job).await.expect("enqueue");
        tx.commit().await.expect("commit");
    }
}

/// A worker process: `App::worker` with the configuration the environment
/// gives (`ROOKERY_JOBS_*`, as `taskboard worker` reads it) on
/// `DATABASE_URL`, until SIGTERM.
pub async fn work() {
    let config = rookery::config::Config::from_env("taskboard").expect("configuration");
    let db = Db::connect(&config.database_url, &DbOptions::serving(ROLE))
        .await
        .expect("connect as the serving role");
    app().worker(db.clone(), &config.jobs).run(crate::sigterm()).await;
    db.close().await;
}
