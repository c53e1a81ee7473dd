//! Taskboard: the example Rookery app, as a library so tests and benchmarks
//! can build its router. Everything under `generated/` comes from
//! `rookery.toml` via `rookery generate`.

pub mod generated;
