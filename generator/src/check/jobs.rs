//! `[jobs]`: periodic jobs by name, and their schedules.

use std::str::FromStr as _;

use crate::handwritten::Handwritten;
use crate::spec::Spec;

use super::names::{self, IdentKind};
use super::report::Ctx;

pub(super) fn check(ctx: &mut Ctx, spec: &Spec, handwritten: &Handwritten) {
    for (name, job) in &spec.jobs {
        if names::ident(ctx, IdentKind::Job, name) {
            let types: Vec<&str> = handwritten
                .jobs
                .iter()
                .filter(|j| j.name == *name.get_ref())
                .map(|j| j.rust_path.as_str())
                .collect();
            match types.as_slice() {
                [_] => {}
                [] => {
                    let known: Vec<&str> = handwritten.jobs.iter().map(|j| j.name.as_str()).collect();
                    ctx.error(
                        "rookery::unknown_job",
                        name.span(),
                        format!("no job type is named `{}`", name.get_ref()),
                    )
                    .label("no `impl Job` with this NAME in src/")
                    .help_text(if known.is_empty() {
                        format!(
                            "write one in src/: `impl rookery::jobs::Job for YourJob {{ const NAME: &'static str = \"{}\"; … }}` (a unit struct: a scheduled job's payload is null)",
                            name.get_ref()
                        )
                    } else {
                        format!("the job types in src/ are named {}", known.join(", "))
                    });
                }
                many => {
                    ctx.error(
                        "rookery::duplicate",
                        name.span(),
                        format!("several job types are named `{}`: {}", name.get_ref(), many.join(", ")),
                    )
                    .label("ambiguous")
                    .help_text("job names are stored with each job: give each type its own NAME");
                }
            }
        }
        let schedule = job.schedule.get_ref();
        // The runtime parses the schedule with the same crate at start-up.
        if let Err(e) = croner::Cron::from_str(schedule) {
            ctx.error(
                "rookery::bad_schedule",
                job.schedule.span(),
                format!("`{schedule}` is not a cron schedule: {e}"),
            )
            .label("not a schedule")
            .help_text(
                "write five fields in UTC, minute hour day-of-month month day-of-week (`0 6 * * 1` is Mondays at 06:00), or @hourly, @daily, @weekly, @monthly",
            );
        }
    }
}
