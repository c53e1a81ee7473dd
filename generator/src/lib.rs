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
/// Naming rules shared with the derive: the core crate's own module.
use rookery_macros_core::naming;
pub mod plan;
pub mod render;
pub mod spec;
pub mod write;
