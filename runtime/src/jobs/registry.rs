//! The jobs an app knows: each job type's erased runner, and schedules.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::str::FromStr as _;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Job, JobContext, JobError};
use crate::app_spec::AppSpec;

type Run = fn(JobContext, serde_json::Value) -> Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// One job type, erased: compiled once per job type, the rest of the
/// worker is not generic.
#[derive(Clone, Copy)]
pub(crate) struct Handler {
    pub(crate) name: &'static str,
    pub(crate) queue: &'static str,
    pub(crate) max_attempts: u32,
    pub(crate) run: Run,
    pub(crate) backoff: fn(u32) -> Duration,
    /// Whether the payload `null` decodes (a unit struct: schedulable).
    unit: fn() -> bool,
    /// The job type, to tell a second registration of it from another
    /// type with its name.
    type_id: std::any::TypeId,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

fn run<J: Job>(
    ctx: JobContext,
    payload: serde_json::Value,
) -> Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>> {
    Box::pin(async move {
        // A payload that does not decode never will: dead at once.
        let job: J = serde_json::from_value(payload)
            .map_err(|e| JobError::permanent(format!("the payload is not a `{}`: {e}", J::NAME)))?;
        job.run(ctx).await
    })
}

/// A job type that runs on a cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub(crate) job: &'static str,
    pub(crate) queue: &'static str,
    pub(crate) max_attempts: u32,
    pub(crate) expression: String,
    cron: croner::Cron,
    pub(crate) per_tenant: bool,
}

/// A schedule's cron expression did not parse.
#[derive(Debug, thiserror::Error)]
#[error("job `{job}`: `{expression}` is not a cron expression: {reason}")]
pub struct ScheduleError {
    job: &'static str,
    expression: String,
    reason: String,
}

impl Schedule {
    /// Job `J` at every occurrence of `cron` (five fields, minute first,
    /// UTC; `@hourly`, `@daily` and the like too). `per_tenant`: one job
    /// per tenant at each occurrence (enqueued by a platform fan-out);
    /// otherwise one platform job. Every worker process keeps the
    /// schedule, and each occurrence is enqueued once (its idempotency
    /// key is the occurrence's time). A scheduled job's payload is JSON
    /// `null`, so its type is a unit struct.
    pub fn new<J: Job>(cron: &str, per_tenant: bool) -> Result<Self, ScheduleError> {
        let mut jobs = Registry::default();
        jobs.add::<J>();
        let handler = jobs.get(J::NAME).copied().expect("just added");
        Self::of(J::NAME, &handler, cron, per_tenant)
    }

    fn of(job: &'static str, handler: &Handler, cron: &str, per_tenant: bool) -> Result<Self, ScheduleError> {
        let error = |reason: String| ScheduleError {
            job,
            expression: cron.to_owned(),
            reason,
        };
        let parsed = croner::Cron::from_str(cron).map_err(|e| error(e.to_string()))?;
        if !(handler.unit)() {
            return Err(error(
                "a scheduled job's type must deserialise from `null` (a unit struct)".into(),
            ));
        }
        Ok(Self {
            job,
            queue: handler.queue,
            max_attempts: handler.max_attempts,
            expression: cron.to_owned(),
            cron: parsed,
            per_tenant,
        })
    }

    /// The first occurrence strictly after `after`.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }

    /// Whether `at` is an occurrence.
    pub(crate) fn matches(&self, at: DateTime<Utc>) -> bool {
        self.cron.is_time_matching(&at).unwrap_or(false)
    }
}

/// Every job type an app registered, by name, and its schedules.
#[derive(Debug, Default, Clone)]
pub(crate) struct Registry {
    handlers: BTreeMap<&'static str, Handler>,
    schedules: Vec<Schedule>,
}

impl Registry {
    /// Registers job type `J` (again: nothing changes). Panics when another
    /// type took its name: two job types with one name would run each
    /// other's payloads.
    pub(crate) fn add<J: Job>(&mut self) {
        let handler = Handler {
            name: J::NAME,
            queue: J::QUEUE,
            max_attempts: J::MAX_ATTEMPTS.max(1),
            run: run::<J>,
            backoff: J::backoff,
            unit: || serde_json::from_value::<J>(serde_json::Value::Null).is_ok(),
            type_id: std::any::TypeId::of::<J>(),
        };
        if let Some(old) = self.handlers.insert(J::NAME, handler) {
            assert!(
                old.type_id == handler.type_id,
                "two job types are named `{}`: job names must be unique",
                J::NAME
            );
        }
    }

    pub(crate) fn schedule(&mut self, schedule: Schedule) {
        self.schedules.push(schedule);
    }

    pub(crate) fn get(&self, kind: &str) -> Option<&Handler> {
        self.handlers.get(kind)
    }

    /// Every queue some registered job waits in, sorted.
    pub(crate) fn queues(&self) -> Vec<&'static str> {
        let mut queues: Vec<&'static str> = self.handlers.values().map(|h| h.queue).collect();
        queues.sort_unstable();
        queues.dedup();
        queues
    }

    pub(crate) fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// These jobs with the spec's `[jobs]` schedules added: each names a
    /// registered job type, or the app cannot run.
    pub(crate) fn with_spec(&self, spec: &AppSpec) -> Result<Self, String> {
        let mut jobs = self.clone();
        for def in spec.schedules {
            let handler = self.get(def.job).copied().ok_or_else(|| {
                format!(
                    "rookery.toml schedules job `{0}` ([jobs.{0}]), but the app registers no job type with that name: \
                     add `.job::<YourJob>()` to the App, where YourJob implements rookery::jobs::Job with `const NAME: &str = \"{0}\"`",
                    def.job
                )
            })?;
            jobs.schedules
                .push(Schedule::of(def.job, &handler, def.cron, def.per_tenant).map_err(|e| e.to_string())?);
        }
        Ok(jobs)
    }
}
