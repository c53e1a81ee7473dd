//! Background jobs on SQLite and on PostgreSQL (served by a member of the
//! app's group role, which has no privilege on the queue table): a job
//! exists iff its transaction committed, runs in its tenant's transaction
//! only, retries with its last error until it is dead, enqueues once per
//! idempotency key, waits until it is due, is claimed fairly across
//! tenants, survives a worker that stops mid-job, and schedules fire once
//! per occurrence.

#[macro_use]
mod support;

use std::sync::Mutex;
use std::time::Duration;

use rookery::jobs::{EnqueueOptions, Job, JobContext, JobError, Worker};
use rookery::{App, TenantId};
use serde::{Deserialize, Serialize};
use support::{Harness, TEST_SPEC};

on_both_backends!(
    a_job_exists_if_and_only_if_its_transaction_commits,
    a_job_runs_in_its_own_tenants_transaction_only,
    failures_are_retried_until_the_job_is_dead_with_its_last_error,
    an_idempotency_key_enqueues_once,
    a_job_for_later_waits_until_it_is_due,
    a_flooding_tenant_does_not_starve_another,
    one_tenant_cannot_take_every_slot,
    a_job_whose_worker_stopped_runs_again,
    a_stopping_worker_finishes_its_jobs_or_returns_them,
    schedules_fire_once_per_occurrence,
    the_specs_schedules_run_registered_jobs_by_name,
    the_daily_prune_removes_old_jobs_and_old_platform_audit_rows,
);

/// What jobs saw, per test (each test runs in its own process under
/// nextest; the tenant in each entry keeps tests apart otherwise).
static SEEN: Mutex<Vec<(&'static str, Option<TenantId>, u32)>> = Mutex::new(Vec::new());

fn seen(kind: &'static str) -> Vec<(Option<TenantId>, u32)> {
    SEEN.lock()
        .unwrap()
        .iter()
        .filter(|(k, ..)| *k == kind)
        .map(|(_, t, a)| (*t, *a))
        .collect()
}

fn record(kind: &'static str, ctx: &JobContext) {
    SEEN.lock().unwrap().push((kind, ctx.tenant(), ctx.attempt()));
}

/// Writes one note in its tenant's transaction.
#[derive(Debug, Serialize, Deserialize)]
struct WriteNote {
    title: String,
}

impl Job for WriteNote {
    const NAME: &'static str = "test.write_note";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        record(Self::NAME, &ctx);
        let mut tx = ctx.begin_write().await?;
        tx.sql("INSERT INTO notes (tenant_id, id, title, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(i64::from(rand::random::<u32>()))
            .bind(self.title.as_str())
            .bind(rookery::chrono::Utc::now())
            .execute()
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn worker(h: &Harness, app: App) -> Worker {
    app.worker(h.db().clone(), h.config())
}

fn app() -> App {
    App::new(&TEST_SPEC).model::<support::Note>().job::<WriteNote>()
}

async fn a_job_exists_if_and_only_if_its_transaction_commits(h: Harness) {
    let tenant = h.tenant("acme").await;
    let job = WriteNote {
        title: "from a job".into(),
    };
    // Rolled back: no job.
    let mut tx = h.db().begin_write(tenant).await.unwrap();
    tx.enqueue(&job).await.unwrap();
    drop(tx);
    assert!(h.job_rows().await.is_empty());
    // Committed: one job, which runs and writes in its tenant.
    let mut tx = h.db().begin_write(tenant).await.unwrap();
    let enqueued = tx.enqueue(&job).await.unwrap();
    assert!(enqueued.created);
    tx.commit().await.unwrap();
    let rows = h.job_rows().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "test.write_note");
    assert_eq!(rows[0].1, "ready");
    assert_eq!(rows[0].4.as_deref(), Some(tenant.to_string().as_str()));

    let drained = worker(&h, app()).drain().await.unwrap();
    assert_eq!((drained.done, drained.retried, drained.dead), (1, 0, 0));
    assert_eq!(
        h.count("SELECT count(*) FROM notes WHERE title = 'from a job'").await,
        1
    );
    assert_eq!(h.job_rows().await[0].1, "done");
    // Nothing left to run.
    assert_eq!(worker(&h, app()).drain().await.unwrap().done, 0);
}

/// Counts the notes its transaction can see, and tries the platform scope.
#[derive(Debug, Serialize, Deserialize)]
struct Peek;

static PEEKED: Mutex<Vec<(Option<TenantId>, i64, bool)>> = Mutex::new(Vec::new());

impl Job for Peek {
    const NAME: &'static str = "test.peek";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let mut tx = ctx.begin().await?;
        // No tenant filter in the SQL: on PostgreSQL row-level security
        // still confines it to the job's tenant.
        let (visible,): (i64,) = tx
            .sql("SELECT count(*) FROM notes WHERE $1::text IS NOT NULL")
            .fetch_one()
            .await?;
        tx.finish_read();
        let platform_refused = ctx.begin_platform().await.is_err_and(|e| e.is_permanent());
        PEEKED.lock().unwrap().push((ctx.tenant(), visible, platform_refused));
        Ok(())
    }
}

async fn a_job_runs_in_its_own_tenants_transaction_only(h: Harness) {
    let acme = h.tenant("acme").await;
    let globex = h.tenant("globex").await;
    for (tenant, title) in [(acme, "a1"), (acme, "a2"), (globex, "g1")] {
        let mut tx = h.db().begin_write(tenant).await.unwrap();
        tx.enqueue(&WriteNote { title: title.into() }).await.unwrap();
        tx.commit().await.unwrap();
    }
    let app = || app().job::<Peek>();
    assert_eq!(worker(&h, app()).drain().await.unwrap().done, 3);
    let mut tenants: Vec<_> = seen("test.write_note").into_iter().map(|(t, _)| t).collect();
    tenants.sort();
    let mut expected = vec![Some(acme), Some(acme), Some(globex)];
    expected.sort();
    assert_eq!(tenants, expected);

    let mut tx = h.db().begin_write(globex).await.unwrap();
    tx.enqueue(&Peek).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(worker(&h, app()).drain().await.unwrap().done, 1);
    let peeked = PEEKED.lock().unwrap().clone();
    let (tenant, visible, platform_refused) = peeked[0];
    assert_eq!(tenant, Some(globex));
    assert!(platform_refused, "a tenant's job opened the platform scope");
    if h.db().dialect() == rookery::db::Dialect::Postgres {
        assert_eq!(visible, 1, "RLS confines a job's SQL to its tenant");
        // The serving role cannot read the queue, nor enqueue for another
        // tenant from a tenant's transaction.
        let mut tx = h.db().begin_write(globex).await.unwrap();
        let read = tx
            .sql("SELECT count(*) FROM rookery_jobs WHERE $1::uuid IS NOT NULL")
            .fetch_one::<(i64,)>()
            .await;
        assert!(read.is_err(), "the serving role read the queue table");
        drop(tx);
        let mut tx = h.db().begin_write(globex).await.unwrap();
        let forged = tx
            .sql("SELECT job_id FROM rookery_job_enqueue($2, $3, 'default', 'test.peek', 'null', NULL, NULL, 1, 10) WHERE $1::uuid IS NOT NULL")
            .bind(rookery::uuid::Uuid::now_v7())
            .bind(acme.0)
            .fetch_optional::<(rookery::uuid::Uuid,)>()
            .await;
        assert!(forged.is_err(), "enqueued a job for another tenant: {forged:?}");
    }
}

/// Fails `fail_times` times (or always), permanently when asked, or panics.
#[derive(Debug, Serialize, Deserialize)]
struct Flaky {
    how: String,
}

impl Job for Flaky {
    const NAME: &'static str = "test.flaky";
    const MAX_ATTEMPTS: u32 = 3;

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        record(Self::NAME, &ctx);
        match self.how.as_str() {
            "once" if ctx.attempt() == 1 => Err(JobError::retry("the first run fails")),
            "once" => Ok(()),
            "always" => Err(JobError::retry(format!("run {} failed", ctx.attempt()))),
            "permanent" => Err(JobError::permanent("bad input")),
            _ => panic!("the job panicked on purpose"),
        }
    }

    fn backoff(_attempt: u32) -> Duration {
        Duration::ZERO
    }
}

async fn failures_are_retried_until_the_job_is_dead_with_its_last_error(h: Harness) {
    let tenant = h.tenant("acme").await;
    for how in ["once", "always", "permanent", "panic"] {
        let mut tx = h.db().begin_write(tenant).await.unwrap();
        tx.enqueue(&Flaky { how: how.into() }).await.unwrap();
        tx.commit().await.unwrap();
    }
    let drained = worker(&h, app().job::<Flaky>()).drain().await.unwrap();
    // once: fails, then done; always and panic: three runs, dead; permanent: one run, dead.
    assert_eq!((drained.done, drained.dead), (1, 3), "{drained:?}");
    assert_eq!(seen("test.flaky").len(), 2 + 3 + 1 + 3);
    let rows = h.job_rows().await;
    let states: Vec<_> = rows.iter().map(|r| (r.1.as_str(), r.2, r.3.as_deref())).collect();
    assert_eq!(
        states,
        [
            ("done", 2, Some("the first run fails")),
            ("dead", 3, Some("run 3 failed")),
            ("dead", 1, Some("bad input")),
            ("dead", 3, Some("the job panicked: the job panicked on purpose")),
        ]
    );
}

async fn an_idempotency_key_enqueues_once(h: Harness) {
    let acme = h.tenant("acme").await;
    let globex = h.tenant("globex").await;
    let job = WriteNote { title: "once".into() };
    let mut ids = Vec::new();
    for tenant in [acme, acme, globex] {
        let mut tx = h.db().begin_write(tenant).await.unwrap();
        ids.push(
            tx.enqueue_with(&job, EnqueueOptions::new().key("order-42"))
                .await
                .unwrap(),
        );
        tx.commit().await.unwrap();
    }
    assert!(ids[0].created && !ids[1].created && ids[2].created, "{ids:?}");
    assert_eq!(ids[0].id, ids[1].id, "the second enqueue names the first job");
    assert_ne!(ids[0].id, ids[2].id, "keys are per tenant");
    assert_eq!(worker(&h, app()).drain().await.unwrap().done, 2);
    assert_eq!(h.count("SELECT count(*) FROM notes WHERE title = 'once'").await, 2);
}

async fn a_job_for_later_waits_until_it_is_due(h: Harness) {
    let tenant = h.tenant("acme").await;
    let mut tx = h.db().begin_write(tenant).await.unwrap();
    let later = EnqueueOptions::new().delay(Duration::from_secs(3600));
    tx.enqueue_with(&WriteNote { title: "later".into() }, later)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(worker(&h, app()).drain().await.unwrap().done, 0);
    // An hour passes (the side door moves the job instead of the clock).
    h.exec(
        "UPDATE rookery_jobs SET run_at = now() - interval '1 second'",
        "UPDATE rookery_jobs SET run_at = '2000-01-01T00:00:00.000000Z'",
    )
    .await;
    assert_eq!(worker(&h, app()).drain().await.unwrap().done, 1);
}

/// Records the order jobs start in.
#[derive(Debug, Serialize, Deserialize)]
struct Ordered;

static ORDER: Mutex<Vec<Option<TenantId>>> = Mutex::new(Vec::new());

impl Job for Ordered {
    const NAME: &'static str = "test.ordered";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        ORDER.lock().unwrap().push(ctx.tenant());
        Ok(())
    }
}

fn one_at_a_time(h: &Harness, app: App) -> Worker {
    let mut config = h.config().clone();
    config.jobs.queues = vec![("default".into(), 1)];
    app.worker(h.db().clone(), &config)
}

async fn a_flooding_tenant_does_not_starve_another(h: Harness) {
    let flood = h.tenant("flood").await;
    let quiet = h.tenant("quiet").await;
    let mut tx = h.db().begin_write(flood).await.unwrap();
    for _ in 0..60 {
        tx.enqueue(&Ordered).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = h.db().begin_write(quiet).await.unwrap();
    tx.enqueue(&Ordered).await.unwrap();
    tx.commit().await.unwrap();
    let drained = one_at_a_time(&h, App::new(&TEST_SPEC).job::<Ordered>())
        .drain()
        .await
        .unwrap();
    assert_eq!(drained.done, 61);
    let order = ORDER.lock().unwrap().clone();
    let position = order
        .iter()
        .position(|t| *t == Some(quiet))
        .expect("the quiet tenant's job ran");
    assert!(
        position <= 1,
        "enqueued after 60 of another tenant's jobs, it ran {position}th"
    );
}

/// Blocks until released, to hold a slot.
#[derive(Debug, Serialize, Deserialize)]
struct Hold {
    name: String,
}

static STARTED: tokio::sync::Notify = tokio::sync::Notify::const_new();
static RELEASE: tokio::sync::Notify = tokio::sync::Notify::const_new();

impl Job for Hold {
    const NAME: &'static str = "test.hold";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        record(Self::NAME, &ctx);
        // Held on the first run only: a second run (after a worker stopped
        // mid-job) goes through.
        if self.name != "quick" && ctx.attempt() == 1 {
            STARTED.notify_one();
            RELEASE.notified().await;
        }
        let mut tx = ctx.begin_write().await?;
        tx.sql("INSERT INTO notes (tenant_id, id, title, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(i64::from(rand::random::<u32>()))
            .bind(self.name.as_str())
            .bind(rookery::chrono::Utc::now())
            .execute()
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn enqueue_hold(h: &Harness, tenant: TenantId, name: &str) {
    let mut tx = h.db().begin_write(tenant).await.unwrap();
    tx.enqueue(&Hold { name: name.into() }).await.unwrap();
    tx.commit().await.unwrap();
}

async fn one_tenant_cannot_take_every_slot(h: Harness) {
    let busy = h.tenant("busy").await;
    let other = h.tenant("other").await;
    enqueue_hold(&h, busy, "slow-1").await;
    enqueue_hold(&h, busy, "slow-2").await;
    // Two slots, one per tenant at most.
    let mut config = h.config().clone();
    config.jobs.queues = vec![("default".into(), 2)];
    config.jobs.tenant_cap = Some(1);
    config.jobs.poll = Duration::from_millis(20);
    let worker = App::new(&TEST_SPEC).job::<Hold>().worker(h.db().clone(), &config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    STARTED.notified().await;
    // `busy` holds one slot; the other slot is free but not for `busy`:
    // the other tenant's job gets it while `slow-1` still runs.
    enqueue_hold(&h, other, "quick").await;
    while h.count("SELECT count(*) FROM notes WHERE title = 'quick'").await == 0 {
        tokio::task::yield_now().await;
    }
    let holds = seen("test.hold");
    assert_eq!(holds.iter().filter(|(t, _)| *t == Some(busy)).count(), 1, "{holds:?}");
    RELEASE.notify_one();
    STARTED.notified().await;
    RELEASE.notify_one();
    while h.count("SELECT count(*) FROM notes").await < 3 {
        tokio::task::yield_now().await;
    }
    stop.send(()).unwrap();
    running.await.unwrap();
}

async fn a_job_whose_worker_stopped_runs_again(h: Harness) {
    let tenant = h.tenant("acme").await;
    enqueue_hold(&h, tenant, "held").await;
    let mut config = h.config().clone();
    config.jobs.lease = Duration::from_secs(5);
    let app = || App::new(&TEST_SPEC).job::<Hold>();
    let dying = tokio::spawn(app().worker(h.db().clone(), &config).run(std::future::pending()));
    STARTED.notified().await;
    // The worker dies mid-job: nothing of it runs any more, nothing is
    // recorded, its lease stops being extended.
    dying.abort();
    let _ = dying.await;
    let rows = h.job_rows().await;
    assert_eq!(rows[0].1, "running", "{rows:?}");
    // Its lease runs out (the side door ages it instead of waiting). The
    // dead worker's inner tasks stop at their next step after the abort, so
    // a heartbeat already under way may extend the lease once more: age it
    // again until another worker takes the job over.
    let mut drained = rookery::jobs::Drained::default();
    for _ in 0..100 {
        h.exec(
            "UPDATE rookery_jobs SET locked_until = now() - interval '1 second' WHERE state = 'running'",
            "UPDATE rookery_jobs SET locked_until = '2000-01-01T00:00:00.000000Z' WHERE state = 'running'",
        )
        .await;
        drained = app().worker(h.db().clone(), &config).drain().await.unwrap();
        if drained.done > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(drained.done, 1, "{drained:?}");
    let rows = h.job_rows().await;
    assert_eq!((rows[0].1.as_str(), rows[0].2), ("done", 2), "{rows:?}");
    assert_eq!(
        rows[0].3.as_deref(),
        Some("the worker stopped before the job finished (its lease ran out)")
    );
}

async fn a_stopping_worker_finishes_its_jobs_or_returns_them(h: Harness) {
    let tenant = h.tenant("acme").await;
    enqueue_hold(&h, tenant, "finishes").await;
    let app = || App::new(&TEST_SPEC).job::<Hold>();
    let config = h.config().clone();
    // A stop while a job runs: the job finishes, then the worker returns.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app().worker(h.db().clone(), &config).run(async {
        let _ = stopped.await;
    }));
    STARTED.notified().await;
    stop.send(()).unwrap();
    RELEASE.notify_one();
    running.await.unwrap();
    assert_eq!(h.job_rows().await[0].1, "done");
    assert_eq!(h.count("SELECT count(*) FROM notes WHERE title = 'finishes'").await, 1);

    // No grace left: the job is stopped and back in the queue at once.
    enqueue_hold(&h, tenant, "returned").await;
    let mut worker = app().worker(h.db().clone(), &config);
    worker = worker.with_grace(Duration::ZERO);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    STARTED.notified().await;
    stop.send(()).unwrap();
    running.await.unwrap();
    let rows = h.job_rows().await;
    assert_eq!(
        (rows[1].1.as_str(), rows[1].3.as_deref()),
        ("ready", Some("stopped by a worker shutdown")),
        "{rows:?}"
    );
    assert_eq!(app().worker(h.db().clone(), &config).drain().await.unwrap().done, 1);
}

/// A scheduled job: a unit struct.
#[derive(Debug, Serialize, Deserialize)]
struct Nightly;

impl Job for Nightly {
    const NAME: &'static str = "test.nightly";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        record(Self::NAME, &ctx);
        Ok(())
    }
}

/// A per-tenant scheduled job.
#[derive(Debug, Serialize, Deserialize)]
struct Digest;

impl Job for Digest {
    const NAME: &'static str = "test.digest";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        record(Self::NAME, &ctx);
        let _tx = ctx.begin().await?;
        Ok(())
    }
}

async fn schedules_fire_once_per_occurrence(h: Harness) {
    let acme = h.tenant("acme").await;
    let globex = h.tenant("globex").await;
    let app = || {
        App::new(&TEST_SPEC)
            .schedule::<Nightly>("0 3 * * *", false)
            .schedule::<Digest>("@hourly", true)
    };
    let worker = app().worker(h.db().clone(), h.config());
    let three = "2020-01-01T03:00:00Z".parse().unwrap();
    // Two workers keep the schedule and both fire: one job each.
    assert_eq!(worker.fire_schedules(three).await.unwrap(), 2);
    assert_eq!(
        app()
            .worker(h.db().clone(), h.config())
            .fire_schedules(three)
            .await
            .unwrap(),
        0
    );
    // Not an occurrence of either.
    assert_eq!(
        worker
            .fire_schedules("2020-01-01T03:30:00Z".parse().unwrap())
            .await
            .unwrap(),
        0
    );
    let drained = worker.drain().await.unwrap();
    // The nightly job, the digest's fan-out, and a digest per tenant.
    assert_eq!(drained.done, 4, "{drained:?}");
    assert_eq!(seen("test.nightly"), [(None, 1)]);
    let mut digests: Vec<_> = seen("test.digest").into_iter().map(|(t, _)| t).collect();
    digests.sort();
    let mut expected = vec![Some(acme), Some(globex)];
    expected.sort();
    assert_eq!(digests, expected);
    // A fan-out that runs again adds nothing.
    assert_eq!(worker.fire_schedules(three).await.unwrap(), 0);
    assert_eq!(worker.drain().await.unwrap().done, 0);
    // The fan-out went through the platform scope, so the platform's
    // audit has it, with what it did.
    assert_eq!(
        h.count(
            "SELECT count(*) FROM rookery_platform_audit WHERE action = 'schedule.fan_out' \
             AND actor LIKE 'job rookery.fan_out %'"
        )
        .await,
        1
    );
    let detail = audited(&h, "schedule.fan_out").await;
    assert_eq!(
        (detail["job"].as_str(), detail["added"].as_u64()),
        (Some("test.digest"), Some(2))
    );
    // The serving role appends to it and cannot read it (PostgreSQL); on
    // the embedded default the app is its database's owner.
    let read = h.db().platform_audit(10).await;
    match h.db().dialect() {
        rookery::db::Dialect::Sqlite => assert_eq!(read.unwrap().len(), 1),
        _ => assert!(read.is_err(), "the serving role read the platform's audit"),
    }
}

static SCHEDULED_SPEC: std::sync::LazyLock<rookery::app_spec::AppSpec> =
    std::sync::LazyLock::new(|| rookery::app_spec::AppSpec {
        schedules: &[rookery::app_spec::ScheduleDef {
            job: "test.nightly",
            cron: "0 3 * * *",
            per_tenant: false,
        }],
        ..TEST_SPEC
    });

async fn the_specs_schedules_run_registered_jobs_by_name(h: Harness) {
    let spec: &'static rookery::app_spec::AppSpec = &SCHEDULED_SPEC;
    // Registered by name: the spec's schedule is kept.
    let worker = App::new(spec).job::<Nightly>().worker(h.db().clone(), h.config());
    assert_eq!(
        worker
            .fire_schedules("2020-01-01T03:00:00Z".parse().unwrap())
            .await
            .unwrap(),
        1
    );
    assert_eq!(worker.drain().await.unwrap().done, 1);
    assert_eq!(seen("test.nightly"), [(None, 1)]);
    // Not registered: the app refuses to run, naming the job and the fix.
    let (db, config) = (h.db().clone(), h.config().clone());
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| App::new(spec).worker(db, &config)));
    let message = refused.expect_err("an unregistered scheduled job");
    let message = message.downcast_ref::<String>().expect("a message");
    assert!(
        message.contains("[jobs.test.nightly]") && message.contains(".job::<"),
        "{message}"
    );
}

async fn the_daily_prune_removes_old_jobs_and_old_platform_audit_rows(h: Harness) {
    h.exec(
        "INSERT INTO rookery_jobs (id, queue, kind, payload, state, attempts, max_attempts, run_at, fair_at, \
         created_at, finished_at) VALUES (gen_random_uuid(), 'default', 'test.old', 'null', 'done', 1, 1, \
         '2000-01-01Z', '2000-01-01Z', '2000-01-01Z', '2000-01-01Z')",
        "INSERT INTO rookery_jobs (id, queue, kind, payload, state, attempts, max_attempts, run_at, fair_at, \
         created_at, finished_at) VALUES ('00000000-0000-4000-8000-000000000001', 'default', 'test.old', 'null', \
         'done', 1, 1, '2000-01-01T00:00:00.000000Z', '2000-01-01T00:00:00.000000Z', \
         '2000-01-01T00:00:00.000000Z', '2000-01-01T00:00:00.000000Z')",
    )
    .await;
    h.exec(
        "INSERT INTO rookery_platform_audit (id, at, actor, action, detail) \
         VALUES (gen_random_uuid(), '2000-01-01Z', 'test', 'test.old', '{}')",
        "INSERT INTO rookery_platform_audit (id, at, actor, action, detail) \
         VALUES ('00000000-0000-4000-8000-000000000002', '2000-01-01T00:00:00.000000Z', 'test', 'test.old', '{}')",
    )
    .await;
    let worker = App::new(&TEST_SPEC).worker(h.db().clone(), h.config());
    // The platform's prune of done jobs is due at 03:17 UTC.
    assert_eq!(
        worker
            .fire_schedules("2020-01-01T03:17:00Z".parse().unwrap())
            .await
            .unwrap(),
        1
    );
    assert_eq!(worker.drain().await.unwrap().done, 1);
    assert_eq!(
        h.count("SELECT count(*) FROM rookery_jobs WHERE kind = 'test.old'")
            .await,
        0
    );
    assert_eq!(
        h.count("SELECT count(*) FROM rookery_platform_audit WHERE action = 'test.old'")
            .await,
        0
    );
    // The prune itself is in the platform's audit, with what it removed.
    let detail = audited(&h, "jobs.prune").await;
    assert_eq!(detail["platform_audit_deleted"], 1, "{detail}");
    assert!(detail["deleted"].as_u64().unwrap() >= 1, "{detail}");
}

/// The facts of the one `action` in the platform's audit, read as the
/// operator reads them (the tables' owner).
async fn audited(h: &Harness, action: &str) -> serde_json::Value {
    let owner = h.owner_db().await;
    let rows = owner
        .platform_audit(50)
        .await
        .expect("the owner reads the platform audit");
    owner.close().await;
    let mut found = rows.into_iter().filter(|r| r.action == action);
    let row = found
        .next()
        .unwrap_or_else(|| panic!("no {action} in the platform audit"));
    assert!(found.next().is_none(), "{action} recorded twice");
    row.detail
}
