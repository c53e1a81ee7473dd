//! Taskboard: the example Rookery app, as a library so tests and benchmarks
//! can build its router. Everything under `generated/` comes from
//! `rookery.toml` via `rookery generate`.

// Generated code is formatted by the generator (prettyplease), not by rustfmt,
// so `rookery generate --check` stays byte-exact after `cargo fmt`.
#[rustfmt::skip]
pub mod generated;
