//! The one `#[rookery(...)]` grammar: reads a `#[derive(TenantModel)]`
//! struct or a `#[derive(ModelEnum)]` enum into a typed, checked model. The
//! derive macros (`rookery-macros`) and the generator (which reads users'
//! hand-written models to plan their migrations) both call it, so the two
//! cannot disagree about what a model means (after sqlx-macros over
//! sqlx-macros-core).
//!
//! Pipeline: `ast` (the input's shape, attributes read by `attr`, field types
//! by [`recognise`]) → `check` (semantic rules). Every error is collected with
//! its span and reported together.
//!
//! ```
//! let input: syn::DeriveInput = syn::parse_quote! {
//!     #[rookery(permissions(read = "a.read", write = "a.write"))]
//!     pub struct Activity {
//!         #[rookery(max_len = 80)]
//!         pub title: String,
//!     }
//! };
//! let model = rookery_macros_core::read_model(&input).unwrap();
//! assert_eq!(model.table(), "activities");
//! assert_eq!(model.fields[0].attrs.max_len.as_ref().map(|m| m.value), Some(80));
//! ```

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
pub mod naming;
mod ty;

use syn::DeriveInput;
use syn::ext::IdentExt as _;

pub use ast::{Enum, Field, Model, Variant};
pub use attr::{Events, FieldAttrs, IdKind, ModelAttrs, OnDelete, Permissions, Spanned, VariantAttrs};
pub use case::snake_case;
pub use check::IMPLICIT_COLUMNS;

/// The list route's own query parameters: no indexed field (whose filter
/// is `?<field>=`) may be named like one. The runtime's
/// `rookery::repo::RESERVED_PARAMETERS` is the same list.
pub const LIST_PARAMETERS: &[&str] = &["limit", "cursor", "sort", "q", "count"];
pub use ty::{Kind, StoredType, recognise};

use ctxt::Ctxt;

/// Reads and checks a `#[derive(TenantModel)]` input.
///
/// # Errors
///
/// Every diagnostic, combined (`syn::Error::combine`), each spanned on the
/// offending token.
pub fn read_model(input: &DeriveInput) -> Result<Model<'_>, syn::Error> {
    match model_with_errors(input) {
        (Some(model), None) => Ok(model),
        (_, Some(err)) => Err(err),
        (None, None) => Err(syn::Error::new_spanned(&input.ident, "not a model")),
    }
}

/// Reads and checks a `#[derive(ModelEnum)]` input.
///
/// # Errors
///
/// Every diagnostic, combined, as [`read_model`].
pub fn read_enum(input: &DeriveInput) -> Result<Enum<'_>, syn::Error> {
    match enum_with_errors(input) {
        (Some(input), None) => Ok(input),
        (_, Some(err)) => Err(err),
        (None, None) => Err(syn::Error::new_spanned(&input.ident, "not an enum")),
    }
}

/// [`read_model`] for the derive, which emits stub impls after errors: the
/// model as far as it could be read (`None` when its shape is wrong) and the
/// combined errors, if any.
pub fn model_with_errors(input: &DeriveInput) -> (Option<Model<'_>>, Option<syn::Error>) {
    let cx = Ctxt::new();
    let model = Model::from_input(&cx, input);
    if let Some(model) = &model {
        check::model(&cx, model);
    }
    (model, cx.check().err())
}

/// [`read_enum`] for the derive: the enum as far as it could be read and
/// the combined errors, if any.
pub fn enum_with_errors(input: &DeriveInput) -> (Option<Enum<'_>>, Option<syn::Error>) {
    let cx = Ctxt::new();
    let read = Enum::from_input(&cx, input);
    if let Some(read) = &read {
        check::model_enum(&cx, read);
    }
    (read, cx.check().err())
}

impl Model<'_> {
    /// The model's name: snake_case of the struct (`ApiKey` → `api_key`).
    pub fn name(&self) -> String {
        snake_case(&self.ident.unraw().to_string())
    }

    /// The model's table: `table = "..."`, else [`default_table`].
    pub fn table(&self) -> String {
        match &self.attrs.table {
            Some(table) => table.value.clone(),
            None => default_table(&self.ident.unraw().to_string()),
        }
    }
}

/// The table of a model without `table = "..."`: the English plural of the
/// snake_case struct name (`Activity` → `activities`), the spec's rule.
pub fn default_table(struct_name: &str) -> String {
    naming::plural(&snake_case(struct_name))
}
