//! Rookery's runtime: the platform every generated app links.
//!
//! Most of an app is generated; this page is for the other half, the code
//! you write beside it. What a handler needs is re-exported here:
//!
//! | you want | use |
//! | --- | --- |
//! | build and serve the app | [`App`] ([`App::operation`] for a route of your own, documented as an [`Operation`]), [`cli::main`] |
//! | the caller | [`Principal`] (`require`, `require_feature`, `user`), [`Actor`], [`Role`] (a spec role or a tenant's custom role) |
//! | the database | [`AppState::db`] → [`Db`]: `begin` gives a [`TenantTx`]`<`[`Reading`]`>`, `begin_write` a [`TenantTx`]`<`[`Writing`]`>` |
//! | a model's rows | [`TenantTx::repo`] → [`Repo`] (`get`, [`ListQuery`] → [`Page`], `create`, `update`, `delete`, `*_audited`), [`Record`], [`Id`] |
//! | SQL of your own | [`TenantTx::sql`] → [`Sql`] (`bind`, `fetch_all`, `execute`), rows as tuples or [`FromRow`] via [`RowReader`] |
//! | work later (a job) | a [`jobs::Job`] type, registered with [`App::job`] (or [`App::schedule`] for cron); [`TenantTx::enqueue`] in the write's transaction; it runs with a [`jobs::JobContext`] |
//! | mail | a [`mail::Mail`] (a template, a recipient, values), [`TenantTx::send_mail`] with [`AppState::mailer`] in the write's transaction; templates of your own with [`App::mail_template`] |
//! | an audit row | [`audit::record`] with an [`audit::Entry`] (its request id: [`http::request_id`]); the repository's `*_audited` writes take an [`audit::Stamp`] |
//! | errors | [`ApiError`] (problem+json), [`DbError`], [`RepoError`] |
//! | ids | [`TenantId`], [`UserId`], [`Id`] |
//! | your own models | `#[derive(`[`TenantModel`]`)]`, `#[derive(`[`ModelEnum`]`)]` |
//! | operations | `/metrics` and error reporting are configured from the environment (README, "Operations"); for a binary of your own: [`App::metrics_router`], [`report::init`], [`AppState::flush_usage`], [`AppState::release_quotas`] |
//! | usage per tenant (the operator's) | [`Db::usage`] with a [`db::UsageQuery`] → [`db::UsageDay`]s, on the tables' owner's pool |
//! | the libraries | [`axum`](https://docs.rs/axum/0.8), [`chrono`], [`serde_json`], [`uuid`](https://docs.rs/uuid/1), [`Decimal`] — the runtime's own copies |
//!
//! A hand-written route with a permission, a report in SQL and an audit row:
//!
//! ```
//! use rookery::axum::Json;
//! use rookery::axum::extract::{Path, State};
//! use rookery::axum::http::HeaderMap;
//! use rookery::{ApiError, App, AppState, Operation, Principal, audit};
//!
//! // `Operation::permission` below refuses callers without `tasks.close`
//! // before this runs.
//! async fn close_all(
//!     State(state): State<AppState>,
//!     principal: Principal,
//!     Path(project): Path<rookery::uuid::Uuid>,
//!     headers: HeaderMap,
//! ) -> Result<Json<u64>, ApiError> {
//!     let mut tx = state.db().begin_write(principal.tenant).await?;
//!     let closed = tx
//!         .sql("UPDATE tasks SET done = true, updated_at = $3 WHERE tenant_id = $1 AND project_id = $2 AND NOT done")
//!         .bind(project)
//!         .bind(rookery::chrono::Utc::now())
//!         .execute()
//!         .await?;
//!     let entry = audit::Entry {
//!         action: "project.close_all",
//!         target_type: "project",
//!         target_id: project.to_string(),
//!         request_id: rookery::http::request_id(&headers),
//!         metadata: Some(rookery::serde_json::json!({ "closed": closed })),
//!     };
//!     audit::record(&mut tx, principal.actor, entry).await?;
//!     tx.commit().await?;
//!     Ok(Json(closed))
//! }
//!
//! async fn open_counts(
//!     State(state): State<AppState>,
//!     principal: Principal,
//! ) -> Result<Json<Vec<(rookery::uuid::Uuid, i64)>>, ApiError> {
//!     let mut tx = state.db().begin(principal.tenant).await?;
//!     let counts = tx
//!         .sql("SELECT project_id, count(*) FROM tasks WHERE tenant_id = $1 AND NOT done GROUP BY project_id")
//!         .fetch_all()
//!         .await?;
//!     tx.finish_read();
//!     Ok(Json(counts))
//! }
//!
//! fn app(generated: App) -> App {
//!     generated
//!         .operation(
//!             Operation::post("/projects/{id}/close-all").permission("tasks.close"),
//!             close_all,
//!         )
//!         .operation(Operation::get("/reports/open").permission("tasks.read"), open_counts)
//! }
//! ```
//!
//! Generated code reaches the runtime through [`model`], [`app_spec`] and
//! the hidden `__private` module. `runtime/public-api.txt` lists the whole
//! public surface; a test fails when it changes unannounced.

pub mod app_spec;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
mod erasure;
pub mod http;
pub mod jobs;
pub mod mail;
mod metrics;
pub mod model;
/// Constraint names: the generator's rule, the same source file (compiled
/// here through `#[path]`, so the runtime does not depend on syn).
#[allow(dead_code, unreachable_pub)]
#[path = "../../macros/core/src/naming.rs"]
mod naming;
mod operator;
mod quota;
mod ratelimit;
mod rbac;
pub mod repo;
pub mod report;
mod shared;
mod tenant;
mod usage;
/// Outgoing webhooks: the delivery engine and the jobs that deliver
/// events. Public to the runtime's own tests only.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod webhooks;
#[cfg(not(feature = "testing"))]
mod webhooks;

pub use auth::{AccessError, Guarded, Principal, Scope};
pub use db::{Db, DbError, FromRow, Reading, RowReader, Sql, TenantTx, Writing};
pub use http::{ApiError, App, AppState, Operation};
pub use model::{Actor, Id, Record, TenantId, TenantModel, UserId};
pub use rbac::Role;
pub use repo::{ListQuery, Page, Repo, RepoError};
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
        CreateInput, DecodeError, Events, FieldDef, FieldType, FieldValue, Id, Key, KeyKind, ModelDef, ModelEnum,
        OnDelete, ParseEnumError, Permissions, Record, RefTarget, Sort, TenantModel, UpdateInput, UserId, Value,
        ValueReader,
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
