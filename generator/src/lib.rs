//! Rookery's generator: spec model, checks, templates and migration planner.
//!
//! Pipeline: [`spec`] (serde types with spans) → `check` (diagnostics) →
//! `model` (resolved names) → `render` (minijinja) → `write` (plan, then
//! atomic write).

pub mod check;
pub mod cli;
pub mod handwritten;
mod keywords;
pub mod model;
pub mod plan;
pub mod render;
pub mod spec;
pub mod write;
