//! Rookery's runtime: the platform every generated app links.
//!
//! One module per concern: [`config`], [`db`] (pools, tenant-scoped
//! transactions, migrations), [`tenant`] (resolution), [`auth`] (passwords,
//! tokens, API keys), [`rbac`], [`ratelimit`], [`audit`],
//! [`model`] and [`repo`] (tenant-scoped models), and [`http`] (the app
//! builder, problem+json errors, health, OpenAPI).
//!
//! Generated code reaches the runtime through [`model`] and the hidden
//! `__private` module; hand-written code uses the public modules.

pub mod app_spec;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod http;
pub mod model;
/// Constraint names: the generator's rule, the same source file (compiled
/// here through `#[path]`, so the runtime does not depend on syn).
#[allow(dead_code, unreachable_pub)]
#[path = "../../macros/core/src/naming.rs"]
mod naming;
pub mod ratelimit;
pub mod rbac;
pub mod repo;
pub mod tenant;

pub use http::{App, AppState};
pub use model::{Id, Record, TenantId, TenantModel, UserId};
pub use rookery_macros::{ModelEnum, TenantModel};

/// The allocator generated apps install with `#[global_allocator]` in their
/// `main.rs` (mimalloc; off with `default-features = false`).
#[cfg(feature = "mimalloc")]
pub use mimalloc::MiMalloc;

/// The web framework the runtime serves with: hand-written handlers use
/// this copy (`rookery::axum::Json`, `rookery::axum::extract::Path`).
pub use axum;
pub use chrono;
pub use rust_decimal::Decimal;
pub use serde_json;
pub use uuid;

/// Items the derive macros name by absolute path. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use axum;
    pub use chrono;
    pub use rust_decimal;
    pub use serde;
    pub use serde_json;
    pub use uuid;

    pub use crate::http::AppState;
    pub use crate::http::crud::router as crud_router;
    pub use crate::model::{
        CreateInput, DecodeError, FieldDef, FieldType, FieldValue, Id, Key, KeyKind, ModelDef, ModelEnum, OnDelete,
        ParseEnumError, Permissions, Record, RefTarget, Sort, TenantModel, UpdateInput, UserId, Value, ValueReader,
    };
    pub use crate::patch::double_option;
}

mod patch {
    //! Deserialisation helpers for partial updates.

    use serde::{Deserialize, Deserializer};

    /// Distinguishes an absent field (`None`) from an explicit `null`
    /// (`Some(None)`) in a PATCH body. Use with `#[serde(default)]`.
    pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(de).map(Some)
    }
}
