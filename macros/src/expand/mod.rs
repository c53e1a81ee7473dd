//! Code generation. Emitters only read the model `rookery-macros-core`
//! read and checked; they never parse.

mod inputs;
mod model;
mod model_enum;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{DeriveInput, Ident};

use rookery_macros_core::{Model, enum_with_errors, model_with_errors};

use crate::fallback;

/// The path generated code reaches the runtime through.
pub(crate) fn private() -> TokenStream {
    quote!(::rookery::__private)
}

/// The items generated beside a model, named after it.
pub(crate) struct Names {
    pub(crate) id: Ident,
    pub(crate) record: Ident,
    pub(crate) create: Ident,
    pub(crate) update: Ident,
}

impl Names {
    pub(crate) fn new(model: &Ident) -> Self {
        let span = model.span();
        Self {
            id: format_ident!("{}Id", model, span = span),
            record: format_ident!("{}Record", model, span = span),
            create: format_ident!("Create{}", model, span = span),
            update: format_ident!("Update{}", model, span = span),
        }
    }
}

/// `#[derive(TenantModel)]`.
pub(crate) fn tenant_model(input: &DeriveInput) -> TokenStream {
    let (model, errors) = model_with_errors(input);
    let Some(model) = model else {
        return errors_only(errors);
    };
    let names = Names::new(model.ident);
    match errors {
        None => emit_model(&model, &names, true, model::trait_impls(&model, &names)),
        Some(err) => {
            let mut out = err.into_compile_error();
            out.extend(emit_model(
                &model,
                &names,
                false,
                fallback::tenant_model(&model, &names),
            ));
            out
        }
    }
}

/// Everything a model gets; `impls` is the trait impls (real or fallback,
/// `checked` says which).
fn emit_model(model: &Model<'_>, names: &Names, checked: bool, impls: TokenStream) -> TokenStream {
    let aliases = model::aliases(model, names);
    let inputs = inputs::expand(model, names, checked);
    let router = model::router(model);
    quote! {
        #aliases
        #inputs
        #router
        const _: () = {
            #impls
        };
    }
}

/// `#[derive(ModelEnum)]`.
pub(crate) fn model_enum(input: &DeriveInput) -> TokenStream {
    let (model_enum, errors) = enum_with_errors(input);
    let Some(model_enum) = model_enum else {
        return errors_only(errors);
    };
    match errors {
        None => model_enum::expand(&model_enum),
        Some(err) => {
            let mut out = err.into_compile_error();
            out.extend(fallback::model_enum(model_enum.ident));
            out
        }
    }
}

/// The input's shape is wrong: report, and emit no impls (they could not fit).
fn errors_only(errors: Option<syn::Error>) -> TokenStream {
    errors.map(syn::Error::into_compile_error).unwrap_or_default()
}

#[cfg(test)]
mod tests;
