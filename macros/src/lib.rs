//! Derive macros for Rookery. Use them through the `rookery` crate, which
//! re-exports them; the generated code names runtime items through
//! `::rookery::__private`.
//!
//! Each derive runs the same pipeline: [`ast`] (the input as the macro sees
//! it, attributes already read by [`attr`]) → [`check`] (semantic rules) →
//! [`expand`]. Every error is collected with its span in a [`ctxt::Ctxt`];
//! when there are errors the derive emits them together with the stub impls
//! of [`fallback`], so one mistake gives one diagnostic.

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod expand;
mod fallback;
#[allow(dead_code)] // the generator and runtime use the SQL names
mod naming;

/// Derives `rookery::TenantModel` for a struct with named fields, plus
/// `<Name>Id`, `<Name>Record`, `Create<Name>`, `Update<Name>` and
/// `<Name>::router()`.
///
/// See the crate `rookery` and ARCHITECTURE.md for the `#[rookery(...)]`
/// attributes.
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
