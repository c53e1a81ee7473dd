//! SaaS benchmark: the shared benchmark's workload (`shared/bench/WORKLOAD.md`)
//! as a Rookery app, all of it generated from `rookery.toml` by `rookery
//! generate`: projects with a name, a description and an owner, every
//! create audited. `bench/rookery` serves it as its variant `workload`.

// Generated code is formatted by the generator (prettyplease), not by rustfmt,
// so `rookery generate --check` stays byte-exact after `cargo fmt`.
#[rustfmt::skip]
pub mod generated;
