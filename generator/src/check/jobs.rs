//! `[jobs]`: periodic jobs by name, and their schedules.

use std::str::FromStr as _;

use crate::spec::Spec;

use super::names::{self, IdentKind};
use super::report::Ctx;

pub(super) fn check(ctx: &mut Ctx, spec: &Spec) {
    for (name, job) in &spec.jobs {
        names::ident(ctx, IdentKind::Job, name);
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
