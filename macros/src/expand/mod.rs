//! Code generation. Emitters only read the checked [`ast`](crate::ast)
//! model; they never parse.

mod inputs;
mod model;
mod model_enum;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{DeriveInput, Ident};

use crate::ast::{Enum, Model};
use crate::ctxt::Ctxt;
use crate::{check, fallback};

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
    let cx = Ctxt::new();
    let Some(model) = crate::ast::Model::from_input(&cx, input) else {
        return errors_only(cx);
    };
    check::model(&cx, &model);
    let names = Names::new(model.ident);
    match cx.check() {
        Ok(()) => emit_model(&model, &names, model::trait_impls(&model, &names)),
        Err(err) => {
            let mut out = err.into_compile_error();
            out.extend(emit_model(&model, &names, fallback::tenant_model(&model, &names)));
            out
        }
    }
}

/// Everything a model gets; `impls` is the trait impls (real or fallback).
fn emit_model(model: &Model<'_>, names: &Names, impls: TokenStream) -> TokenStream {
    let aliases = model::aliases(model, names);
    let inputs = inputs::expand(model, names);
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
    let cx = Ctxt::new();
    let Some(model_enum) = Enum::from_input(&cx, input) else {
        return errors_only(cx);
    };
    check::model_enum(&cx, &model_enum);
    match cx.check() {
        Ok(()) => model_enum::expand(&model_enum),
        Err(err) => {
            let mut out = err.into_compile_error();
            out.extend(fallback::model_enum(model_enum.ident));
            out
        }
    }
}

/// The input's shape is wrong: report, and emit no impls (they could not fit).
fn errors_only(cx: Ctxt) -> TokenStream {
    match cx.check() {
        Ok(()) => TokenStream::new(),
        Err(err) => err.into_compile_error(),
    }
}

#[cfg(test)]
mod tests;
