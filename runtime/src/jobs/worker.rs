//! The worker: claims due jobs per queue, runs them with a lease it keeps
//! extending, records each outcome, keeps the schedules, and stops
//! gracefully.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::context::{Resources, Run};
use super::registry::Registry;
use super::schedule::enqueue_occurrence;
use super::{JobContext, JobError};
use crate::config::JobsConfig;
use crate::db::{ClaimOptions, Claimed, Db, DbError, Finish};

/// One queue a worker takes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueOptions {
    /// The queue's name.
    pub name: String,
    /// Jobs of this queue run at once in this process.
    pub concurrency: u32,
    /// Jobs of one tenant run at once in this queue (counted over every
    /// worker at claim time); 0: no bound.
    pub tenant_cap: u32,
}

/// How a [`Worker`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// The queues it takes.
    pub queues: Vec<QueueOptions>,
    /// A claimed job's lease, extended every third of it while the job runs.
    pub lease: Duration,
    /// How often an idle queue is polled.
    pub poll: Duration,
    /// How long a stopping worker waits for jobs in flight before it stops
    /// them and returns them to the queue.
    pub grace: Duration,
}

impl WorkerOptions {
    /// The options `config` asks for, over `queues` (every queue the app's
    /// jobs use) when the configuration names none.
    pub(crate) fn from_config(config: &JobsConfig, queues: &[&'static str]) -> Self {
        let queue = |name: &str, n: u32| {
            let concurrency = if n == 0 { config.concurrency } else { n };
            QueueOptions {
                name: name.to_owned(),
                concurrency,
                tenant_cap: config.tenant_cap.unwrap_or((concurrency / 2).max(1)),
            }
        };
        let queues = if config.queues.is_empty() {
            queues.iter().map(|q| queue(q, 0)).collect()
        } else {
            config.queues.iter().map(|(q, n)| queue(q, *n)).collect()
        };
        Self {
            queues,
            lease: config.lease,
            poll: config.poll,
            grace: Duration::from_secs(30),
        }
    }
}

/// What [`Worker::drain`] ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drained {
    /// Jobs that succeeded.
    pub done: u32,
    /// Jobs that failed and will run again later.
    pub retried: u32,
    /// Jobs that failed for the last time (dead).
    pub dead: u32,
}

/// Runs an app's jobs: `App::worker` makes one.
#[derive(Debug, Clone)]
pub struct Worker {
    db: Db,
    registry: Arc<Registry>,
    options: WorkerOptions,
    id: Arc<str>,
    /// Runs by queue and outcome (`rookery_job_runs`), when the process
    /// serves metrics.
    runs: Option<
        prometheus_client::metrics::family::Family<
            crate::metrics::Labels<2>,
            prometheus_client::metrics::counter::Counter,
        >,
    >,
    resources: Resources,
}

/// How one run ended.
enum Ran {
    Done,
    Retried,
    Dead,
}

impl Worker {
    pub(crate) fn new(db: Db, registry: Arc<Registry>, options: WorkerOptions) -> Self {
        let id = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        Self {
            db,
            registry,
            options,
            id: id.into(),
            runs: None,
            resources: Resources::default(),
        }
    }

    /// Counts this worker's runs in `metrics` (`/metrics` of its process).
    pub(crate) fn with_metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.runs = Some(metrics.job_runs.clone());
        self.provide(crate::metrics::WebhookAttempts(metrics.webhook_attempts.clone()))
    }

    /// This worker lending `value` to its jobs ([`JobContext`]'s resources).
    pub(crate) fn provide<T: std::any::Any + Send + Sync>(mut self, value: T) -> Self {
        self.resources = self.resources.with(value);
        self
    }

    /// This worker with grace period `grace` ([`WorkerOptions::grace`]).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.options.grace = grace;
        self
    }

    /// This worker's id, as the queue records it (`locked_by`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs every queue and every schedule until `shutdown` completes, then
    /// stops claiming, lets jobs in flight finish for
    /// [`WorkerOptions::grace`], and returns the rest to the queue (a job
    /// is never lost: one cut off by a crash instead runs again when its
    /// lease runs out).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let (stop_tx, stop) = watch::channel(false);
        let (cancel_tx, cancel) = watch::channel(false);
        let wakes: Vec<(String, Arc<Notify>)> = self
            .options
            .queues
            .iter()
            .map(|q| (q.name.clone(), Arc::new(Notify::new())))
            .collect();
        let mut tasks = JoinSet::new();
        if let Some(pool) = self.db.pg() {
            tasks.spawn(listen(pool.clone(), wakes.clone(), stop.clone()));
        }
        for (queue, (_, wake)) in self.options.queues.iter().zip(&wakes) {
            let worker = self.clone();
            tasks.spawn(worker.work_queue(queue.clone(), wake.clone(), stop.clone(), cancel.clone()));
        }
        for schedule in self.registry.schedules().to_vec() {
            tracing::info!(job = schedule.job, cron = %schedule.expression, per_tenant = schedule.per_tenant, "schedule kept");
            let db = self.db.clone();
            let mut stop = stop.clone();
            tasks.spawn(async move {
                let mut after = Utc::now();
                while let Some(next) = schedule.next_after(after) {
                    let wait = (next - Utc::now()).to_std().unwrap_or_default();
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => return,
                    }
                    // The database may be down at that moment: try again,
                    // doubling the wait, until the next occurrence is due
                    // (the key makes a late or repeated enqueue harmless).
                    let mut retry = Duration::from_secs(1);
                    while let Err(e) = enqueue_occurrence(&db, &schedule, next).await {
                        let until = schedule.next_after(next);
                        if until.is_none_or(|n| Utc::now() + retry >= n) {
                            tracing::error!(job = schedule.job, error = %e, at = %next, "could not enqueue a scheduled job: this occurrence is skipped");
                            break;
                        }
                        tracing::warn!(job = schedule.job, error = %e, at = %next, "could not enqueue a scheduled job: trying again");
                        tokio::select! {
                            () = tokio::time::sleep(retry) => {}
                            _ = stop.changed() => return,
                        }
                        retry = (retry * 2).min(Duration::from_secs(60));
                    }
                    after = next;
                }
            });
        }
        tracing::info!(worker = %self.id, queues = ?self.options.queues.iter().map(|q| &q.name).collect::<Vec<_>>(), "job worker started");
        shutdown.await;
        tracing::info!(worker = %self.id, "job worker stopping: finishing jobs in flight");
        let _ = stop_tx.send(true);
        let drained =
            tokio::time::timeout(self.options.grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(worker = %self.id, "grace period over: returning unfinished jobs to the queue");
            let _ = cancel_tx.send(true);
            while tasks.join_next().await.is_some() {}
        }
        tracing::info!(worker = %self.id, "job worker stopped");
    }

    async fn work_queue(
        self,
        queue: QueueOptions,
        wake: Arc<Notify>,
        mut stop: watch::Receiver<bool>,
        cancel: watch::Receiver<bool>,
    ) {
        let slots = Arc::new(Semaphore::new(queue.concurrency as usize));
        let mut running = JoinSet::new();
        let mut failing = false;
        while !*stop.borrow() {
            while running.try_join_next().is_some() {}
            let free = slots.available_permits();
            let mut more = false;
            if free > 0 {
                match self.claim(&queue, u32::try_from(free).unwrap_or(u32::MAX)).await {
                    Ok(jobs) => {
                        failing = false;
                        more = jobs.len() == free;
                        for job in jobs {
                            let Ok(slot) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            let worker = self.clone();
                            let cancel = cancel.clone();
                            let wake = wake.clone();
                            running.spawn(async move {
                                worker.run_one(job, cancel).await;
                                drop(slot);
                                wake.notify_one();
                            });
                        }
                    }
                    Err(e) => {
                        if !failing {
                            tracing::error!(queue = %queue.name, error = %e, "claiming jobs failed; retrying every poll interval");
                        }
                        failing = true;
                    }
                }
            }
            if more {
                continue;
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(self.options.poll) => {}
                _ = stop.changed() => {}
            }
        }
        while running.join_next().await.is_some() {}
    }

    async fn claim(&self, queue: &QueueOptions, limit: u32) -> Result<Vec<Claimed>, DbError> {
        self.db
            .claim_jobs(ClaimOptions {
                worker: &self.id,
                queue: &queue.name,
                limit,
                tenant_cap: queue.tenant_cap,
                lease_seconds: u32::try_from(self.options.lease.as_secs()).unwrap_or(u32::MAX).max(1),
            })
            .await
    }

    /// Runs one claimed job to its recorded outcome.
    async fn run_one(&self, job: Claimed, mut cancel: watch::Receiver<bool>) -> Ran {
        let Some(handler) = self.registry.get(&job.kind).copied() else {
            let error = format!("no job type `{}` in this build (a newer deploy enqueued it?)", job.kind);
            return self
                .record(&job, "unknown", Err(JobError::retry(error)), super::default_backoff)
                .await;
        };
        let waited = (Utc::now() - job.run_at.max(job.created_at)).num_milliseconds();
        tracing::debug!(job = %job.id, kind = %job.kind, attempt = job.attempt, waited_ms = waited, "job started");
        let run = Run {
            tenant: job.tenant,
            kind: handler.name,
            id: job.id,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            run_at: job.run_at,
        };
        let ctx = JobContext::new(self.db.clone(), run, self.resources.clone());
        let mut task = tokio::spawn((handler.run)(ctx, job.payload.clone()));
        // A worker whose future is dropped stops its jobs with it.
        let _abort = AbortOnDrop(task.abort_handle());
        let mut beat = tokio::time::interval(self.options.lease / 3);
        beat.tick().await;
        let outcome = loop {
            tokio::select! {
                joined = &mut task => break match joined {
                    Ok(result) => result,
                    Err(e) if e.is_panic() => Err(JobError::retry(format!("the job panicked: {}", panic_message(e.into_panic())))),
                    Err(_) => Err(JobError::retry("the job was cancelled")),
                },
                _ = beat.tick() => {
                    if let Err(e) = self.db.extend_leases(&self.id, &[job.id], u32::try_from(self.options.lease.as_secs()).unwrap_or(u32::MAX)).await {
                        tracing::warn!(job = %job.id, error = %e, "could not extend a job's lease");
                    }
                }
                changed = cancel.changed() => {
                    task.abort();
                    let _ = (&mut task).await;
                    // The worker's own future was dropped (aborted, as a
                    // crash would): record nothing, as a crash would not;
                    // the lease runs out and another worker takes it over.
                    if changed.is_err() {
                        return Ran::Retried;
                    }
                    // Not the job's fault: back to the queue at once.
                    let finish = Finish::Retry { at: Utc::now(), error: "stopped by a worker shutdown".into() };
                    self.finish(&job, &finish).await;
                    return Ran::Retried;
                }
            }
        };
        self.record(&job, handler.queue, outcome, handler.backoff).await
    }

    async fn record(
        &self,
        job: &Claimed,
        queue: &'static str,
        outcome: Result<(), JobError>,
        backoff: fn(u32) -> Duration,
    ) -> Ran {
        let (finish, ran) = match outcome {
            Ok(()) => (Finish::Done, Ran::Done),
            Err(e) if !e.is_permanent() && job.attempt < job.max_attempts => {
                let wait = chrono::Duration::from_std(backoff(job.attempt)).unwrap_or(chrono::Duration::hours(1));
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempt, error = %e, "job failed; will retry");
                let finish = Finish::Retry {
                    at: Utc::now() + wait,
                    error: e.message().to_owned(),
                };
                (finish, Ran::Retried)
            }
            Err(e) => {
                tracing::error!(job = %job.id, kind = %job.kind, attempt = job.attempt, error = %e, "job is dead");
                (
                    Finish::Dead {
                        error: e.message().to_owned(),
                    },
                    Ran::Dead,
                )
            }
        };
        self.finish(job, &finish).await;
        if let Some(runs) = &self.runs {
            let outcome = match ran {
                Ran::Done => "done",
                Ran::Retried => "retried",
                Ran::Dead => "dead",
            };
            runs.get_or_create(&[("queue", queue), ("outcome", outcome)]).inc();
        }
        ran
    }

    async fn finish(&self, job: &Claimed, finish: &Finish) {
        match self.db.finish_job(job.id, &self.id, finish).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job = %job.id, "the job's lease ran out before it finished: another worker runs it again")
            }
            // The lease runs out and the job runs again: at least once.
            Err(e) => tracing::error!(job = %job.id, error = %e, "could not record a job's outcome; it will run again"),
        }
    }

    /// Runs every due job of every queue until none is due, and returns
    /// what ran (jobs retried later are not due again yet). For tests and
    /// one-off runs; [`Worker::run`] is the long-running worker.
    pub async fn drain(&self) -> Result<Drained, DbError> {
        let (_cancel_tx, cancel) = watch::channel(false);
        let mut drained = Drained::default();
        loop {
            let mut ran = JoinSet::new();
            for queue in &self.options.queues {
                for job in self.claim(queue, queue.concurrency).await? {
                    let worker = self.clone();
                    let cancel = cancel.clone();
                    ran.spawn(async move { worker.run_one(job, cancel).await });
                }
            }
            if ran.is_empty() {
                return Ok(drained);
            }
            while let Some(done) = ran.join_next().await {
                match done.unwrap_or(Ran::Retried) {
                    Ran::Done => drained.done += 1,
                    Ran::Retried => drained.retried += 1,
                    Ran::Dead => drained.dead += 1,
                }
            }
        }
    }

    /// Enqueues the occurrence at `at` of every schedule `at` is an
    /// occurrence of, as a running worker does when the time comes (each
    /// occurrence once, however often this is called). Returns how many
    /// were added. For tests.
    pub async fn fire_schedules(&self, at: chrono::DateTime<Utc>) -> Result<u32, super::EnqueueError> {
        let mut added = 0;
        for schedule in self.registry.schedules() {
            if schedule.matches(at) && enqueue_occurrence(&self.db, schedule, at).await? {
                added += 1;
            }
        }
        Ok(added)
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Wakes a queue's worker when a job is enqueued in it (PostgreSQL's
/// `NOTIFY`, sent when the enqueuing transaction commits). Without it the
/// workers still poll.
async fn listen(pool: sqlx::PgPool, wakes: Vec<(String, Arc<Notify>)>, mut stop: watch::Receiver<bool>) {
    let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for new jobs; polling only");
            return;
        }
    };
    if let Err(e) = listener.listen("rookery_jobs").await {
        tracing::warn!(error = %e, "cannot listen for new jobs; polling only");
        return;
    }
    loop {
        tokio::select! {
            note = listener.recv() => match note {
                Ok(note) => {
                    if let Some((_, wake)) = wakes.iter().find(|(q, _)| q == note.payload()) {
                        wake.notify_one();
                    }
                }
                // sqlx reconnects on the next recv; wake everyone meanwhile
                // (they poll the database and find out whether it is back).
                Err(_) => {
                    wakes.iter().for_each(|(_, w)| w.notify_one());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}
