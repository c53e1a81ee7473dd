//! Derive macros for Rookery. Use them through the `rookery` crate.

use proc_macro::TokenStream;

/// Derives `rookery::TenantModel` (placeholder until the expansion lands).
#[proc_macro_derive(TenantModel, attributes(rookery))]
pub fn derive_tenant_model(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}

/// Derives `rookery::model::ModelEnum` (placeholder until the expansion lands).
#[proc_macro_derive(ModelEnum, attributes(rookery))]
pub fn derive_model_enum(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
