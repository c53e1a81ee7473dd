//! What an app runs in the background: its job types and schedules, the
//! event types it records, the worker that runs both (webhook deliveries
//! and the daily usage count included), and the flush of the usage the
//! requests counted.

use std::sync::Arc;

use super::{App, AppState, webhooks};
use crate::config::Config;
use crate::db::Db;

impl App {
    /// Declares an event type that hand-written code records
    /// ([`TenantTx::emit`](crate::TenantTx::emit)), so webhook endpoints
    /// may subscribe to it; the models' own (`project.created`, …) need no
    /// declaration.
    ///
    /// # Panics
    ///
    /// When `name` is not 1 to 128 of `A-Z`, `a-z`, `0-9`, `_` and `.`.
    pub fn event_type(mut self, name: &str) -> Self {
        assert!(
            crate::db::is_event_type(name),
            "`{name}` is not an event type: 1 to 128 of A-Z, a-z, 0-9, `_` and `.`"
        );
        if !self.event_types.iter().any(|t| t == name) {
            self.event_types.push(name.to_owned());
        }
        self
    }

    /// Every event type the app records: its models' and those declared
    /// with [`App::event_type`], sorted.
    pub fn event_types(&self) -> Vec<String> {
        let mut types = self.event_types.clone();
        for def in &self.models {
            for (on, verb) in [
                (def.events.created, "created"),
                (def.events.updated, "updated"),
                (def.events.deleted, "deleted"),
            ] {
                if on {
                    types.push(format!("{}.{verb}", def.name));
                }
            }
        }
        types.sort();
        types.dedup();
        types
    }

    /// Whether the app delivers webhooks: its spec declares the `webhooks`
    /// feature, or it records events.
    fn delivers_webhooks(&self) -> bool {
        webhooks::declared(self.spec) || !self.event_types().is_empty()
    }

    /// Registers job type `J`: workers of this app run it
    /// ([`Job`](crate::jobs::Job)).
    ///
    /// # Panics
    ///
    /// When another job type has the same [`Job::NAME`](crate::jobs::Job::NAME).
    pub fn job<J: crate::jobs::Job>(mut self) -> Self {
        self.jobs.add::<J>();
        self
    }

    /// Registers job type `J` and runs it at every occurrence of `cron`
    /// ([`Schedule::new`](crate::jobs::Schedule::new)): once per
    /// occurrence as a platform job, or with `per_tenant` once for every
    /// tenant.
    ///
    /// # Panics
    ///
    /// When `cron` does not parse or `J` does not deserialise from `null`
    /// (a scheduled job is a unit struct), or as [`App::job`] does.
    pub fn schedule<J: crate::jobs::Job>(mut self, cron: &str, per_tenant: bool) -> Self {
        let schedule = crate::jobs::Schedule::new::<J>(cron, per_tenant).unwrap_or_else(|e| panic!("{e}"));
        self.jobs.add::<J>();
        self.jobs.schedule(schedule);
        self
    }

    /// A worker for this app's jobs on `db`, as `config` asks
    /// (`ROOKERY_JOBS_*`; webhook deliveries with `ROOKERY_WEBHOOKS_*`;
    /// mail with `SMTP_URL` and `MAIL_FROM`; the daily usage count with
    /// the app's models): `<app> worker` runs it, and
    /// `serve` too on the embedded default. Tests run its
    /// [`drain`](crate::jobs::Worker::drain).
    ///
    /// # Panics
    ///
    /// When the spec's `[jobs]` schedules a job no registered type is named
    /// after ([`App::job`]).
    pub fn worker(&self, db: Db, config: &Config) -> crate::jobs::Worker {
        let mut jobs = self.jobs.with_spec(self.spec).unwrap_or_else(|e| panic!("{e}"));
        if self.delivers_webhooks() {
            crate::webhooks::register(&mut jobs);
        }
        let notify = jobs.get(crate::webhooks::NOTIFY_DISABLED_JOB).map(|h| h.queue);
        let webhooks = crate::webhooks::Webhooks::new(config, notify);
        let queues = jobs.queues();
        crate::jobs::Worker::new(
            db,
            Arc::new(jobs),
            crate::jobs::WorkerOptions::from_config(&config.jobs, &queues),
        )
        .provide(webhooks)
        .provide(crate::usage::Models(self.models.clone().into()))
        .with_mailer(self.mailer(&config.mail))
    }
}

impl crate::jobs::Worker {
    /// Lets this worker's jobs publish what they change through `state`
    /// (`serve` and `worker` do so): a tenant the erasure job erased is
    /// forgotten at once by this process and every instance that shares
    /// Redis, so its credentials stop working on their next request.
    pub fn with_invalidations_of(self, state: &super::AppState) -> Self {
        let state = state.clone();
        self.provide(crate::erasure::Forget(Arc::new(move |tenant| {
            let state = state.clone();
            Box::pin(async move {
                state
                    .invalidate(crate::auth::invalidate::Invalidation::Tenant(tenant))
                    .await;
            })
        })))
    }

    /// Counts this worker's job runs and webhook attempts in the
    /// `/metrics` of `state` (`rookery_job_runs`, `rookery_webhook_attempts`):
    /// `serve` and `worker` do so; a binary of your own can too.
    pub fn with_metrics_of(self, state: &super::AppState) -> Self {
        self.with_metrics(state.metrics())
    }
}

impl AppState {
    /// Requests and active members counted since the last flush.
    pub(crate) fn usage(&self) -> &Arc<crate::usage::Tally> {
        &self.inner.usage
    }

    /// Writes the usage this process counted since the last flush (API
    /// requests and active members per tenant and UTC day) into the usage
    /// tables, adding to what is there, one transaction per tenant.
    /// `serve` does it every minute and when it stops; a binary of your
    /// own that serves [`App::router`] calls it the same way (until then
    /// the counts stay in memory, an entry per tenant, day and member). A
    /// tenant's counts that could not be written stay counted for the next
    /// flush, and the last error is returned.
    ///
    /// ```no_run
    /// # async fn stopped(state: rookery::AppState) {
    /// // The server has stopped: write what its last requests counted.
    /// if let Err(e) = state.flush_usage().await {
    ///     eprintln!("usage counts not written: {e}");
    /// }
    /// # }
    /// ```
    pub async fn flush_usage(&self) -> Result<(), crate::db::DbError> {
        self.inner.usage.flush(&self.inner.db).await
    }

    /// The tenants that wrote since `serve`'s last audit seal.
    pub(crate) fn audit_pending(&self) -> &Arc<crate::audit::chain::Pending> {
        &self.inner.audit_pending
    }

    /// Seals the audit rows of the tenants that wrote through this state
    /// since the last seal (`serve` does every
    /// [`SEAL_INTERVAL`](crate::audit::chain::SEAL_INTERVAL); a binary of
    /// your own that serves [`App::router`] calls it the same way, or
    /// leaves it to the hourly job). A tenant whose seal failed stays
    /// pending, and the last error is returned.
    pub async fn seal_audit(&self) -> Result<(), crate::db::DbError> {
        self.inner.audit_pending.seal(&self.inner.db).await
    }

    /// [`AppState::flush_usage`] into another pool (a closed one, to see
    /// that a failed flush keeps its counts).
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub async fn test_flush_usage_into(&self, db: &Db) -> Result<(), crate::db::DbError> {
        self.inner.usage.flush(db).await
    }
}

/// The platform's own jobs, which every app runs.
pub(super) fn platform_jobs() -> crate::jobs::Registry {
    let mut jobs = crate::jobs::Registry::default();
    crate::jobs::register_platform(&mut jobs);
    crate::mail::register(&mut jobs);
    crate::usage::register(&mut jobs);
    crate::erasure::register(&mut jobs);
    jobs
}
