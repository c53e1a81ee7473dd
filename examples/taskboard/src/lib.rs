//! Taskboard: the example Rookery app, as a library so tests and benchmarks
//! can build its router. Everything under `generated/` comes from
//! `rookery.toml` via `rookery generate`; the rest is written by hand: a
//! model of our own ([`comment`]), routes the generated CRUD cannot
//! express ([`routes`]), background jobs ([`jobs`]) and the invitation
//! mail's template (`src/mail/invitation.jinja`).

pub mod comment;
pub mod jobs;
pub mod routes;

// Generated code is formatted by the generator (prettyplease), not by rustfmt,
// so `rookery generate --check` stays byte-exact after `cargo fmt`.
#[rustfmt::skip]
pub mod generated;

/// The whole app: what `rookery.toml` generates (which registers
/// [`jobs::StaleTasksDigest`], the job its `[jobs]` schedules) plus the
/// hand-written routes, the job they enqueue, and Taskboard's own
/// invitation mail in place of the runtime's.
pub fn app() -> rookery::App {
    routes::register(generated::app())
        .job::<jobs::ArchiveSummary>()
        .mail_template("invitation", include_str!("mail/invitation.jinja"))
}
