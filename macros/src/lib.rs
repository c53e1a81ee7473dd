//! Derive macros for Rookery. Use them through the `rookery` crate, which
//! re-exports them; the generated code names runtime items through
//! `::rookery::__private`.
//!
//! This crate is the thin proc-macro shim. Reading the input — the
//! `#[rookery(...)]` grammar, field types, semantic checks, every error with
//! its span — is `rookery-macros-core`, the library the generator calls too,
//! so the derive and the generator cannot drift. Here: `expand` emits the
//! impls of a checked model; when there are errors, the derive emits them
//! together with the stub impls of `fallback`, so one mistake gives one
//! diagnostic.

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod expand;
mod fallback;

/// Derives `rookery::TenantModel` for a struct with named fields, plus
/// `<Name>Id`, `<Name>Record`, `Create<Name>`, `Update<Name>` and
/// `<Name>::router()`.
///
/// See the crate `rookery` and ARCHITECTURE.md for the `#[rookery(...)]`
/// attributes.
///
/// ```
/// use rookery::{ModelEnum, TenantModel};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, ModelEnum)]
/// pub enum Stage {
///     Lead,
///     Won,
/// }
///
/// /// A deal of a tenant; `rookery generate` writes its table.
/// #[derive(Debug, Clone, TenantModel)]
/// #[rookery(permissions(read = "deals.read", write = "deals.write"), audit)]
/// pub struct Deal {
///     #[rookery(max_len = 120)]
///     pub title: String,
///     #[rookery(default = "lead", indexed)]
///     pub stage: Stage,
///     pub owner: Option<rookery::UserId>,
/// }
///
/// assert_eq!(<Deal as rookery::TenantModel>::TABLE, "deals");
/// let input: Result<CreateDeal, _> = rookery::serde_json::from_value(rookery::serde_json::json!({"title": "Acme"}));
/// assert!(input.is_ok(), "stage has a default, owner is optional");
/// ```
#[proc_macro_derive(TenantModel, attributes(rookery))]
pub fn derive_tenant_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::tenant_model(&input).into()
}

/// Derives `rookery::model::ModelEnum` (plus `FieldValue`, serde,
/// `Display` and `FromStr`) for a fieldless enum stored as text.
#[proc_macro_derive(ModelEnum, attributes(rookery))]
pub fn derive_model_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::model_enum(&input).into()
}
