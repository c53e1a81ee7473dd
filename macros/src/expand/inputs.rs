//! `Create<Name>` and `Update<Name>`: the request bodies of a model, with
//! `CreateInput` / `UpdateInput`.
//!
//! Field types are never inspected. A create field with a `default` (or
//! the owner, which defaults to the caller) is `Option<T>` and may be
//! omitted; an `Option<U>` field may be omitted
//! because serde treats a missing `Option` as `None`. Every update field is
//! `Option<T>`, read with `__rookery_present` so an explicit `null` is
//! `Some(None)` on an `Option<U>` field (clears it) and an error on any other.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;

use super::{Names, private};
use rookery_macros_core::{Field, Model};

/// `checked`: the model had no errors. After errors the conversions are stubs
/// (the bodies never run; a field type the core refused would report again
/// where its `FieldValue` is used).
pub(super) fn expand(model: &Model<'_>, names: &Names, checked: bool) -> TokenStream {
    let p = private();
    let ident = model.ident;
    let vis = model.vis;
    let Names { create, update, .. } = names;
    let serde_crate = "::rookery::__private::serde";
    let create_present = format!("{create}::__rookery_present");
    let update_present = format!("{update}::__rookery_present");

    let create_fields = model.fields.iter().map(|field| {
        let Field { ident, vis, ty, .. } = field;
        if let Some(default) = &field.attrs.default {
            let note = format!(" Omitted: the default, `{}`.", default.value);
            let docs = docs(field, Some(&note));
            quote! {
                #docs
                #[serde(default, deserialize_with = #create_present)]
                #vis #ident: ::core::option::Option<#ty>
            }
        } else if field.attrs.owner.is_some() {
            let docs = docs(
                field,
                Some(" Omitted: the caller (who needs the model's `assign` to name anyone else)."),
            );
            quote! {
                #docs
                #[serde(default, deserialize_with = #create_present)]
                #vis #ident: ::core::option::Option<#ty>
            }
        } else {
            let docs = docs(field, None);
            quote!(#docs #vis #ident: #ty)
        }
    });
    let create_values = model.fields.iter().map(|field| {
        let ident = field.ident;
        if field.attrs.default.is_some() || field.attrs.owner.is_some() {
            quote!(::core::option::Option::map(self.#ident, |v| #p::FieldValue::to_value(&v)))
        } else {
            quote!(given(#p::FieldValue::to_value(&self.#ident)))
        }
    });
    let update_fields = model.fields.iter().map(|field| {
        let Field { ident, vis, ty, .. } = field;
        let docs = docs(field, Some(" Omitted: unchanged. `null` clears an optional field."));
        quote! {
            #docs
            #[serde(default, deserialize_with = #update_present)]
            #vis #ident: ::core::option::Option<#ty>
        }
    });
    let update_changes = model.fields.iter().enumerate().map(|(index, field)| {
        let ident = field.ident;
        quote!(::core::option::Option::map(self.#ident, |v| (#index, #p::FieldValue::to_value(&v))))
    });
    let len = model.fields.len();
    let any_default = model
        .fields
        .iter()
        .any(|f| f.attrs.default.is_some() || f.attrs.owner.is_some());
    let create_helper = any_default.then(|| present_helper(create));
    let update_helper = (len > 0).then(|| present_helper(update));
    let (into_values, into_changes) = if checked {
        (
            quote!(::std::vec![#(#create_values),*]),
            quote! {
                let changes: [::core::option::Option<(usize, #p::Value)>; #len] = [#(#update_changes),*];
                ::core::iter::Iterator::collect(::core::iter::Iterator::flatten(
                    ::core::iter::IntoIterator::into_iter(changes),
                ))
            },
        )
    } else {
        (quote!(::core::unreachable!()), quote!(::core::unreachable!()))
    };
    let create_doc = format!(" The body of a request creating a [`{ident}`].");
    let update_doc = format!(" The body of a request changing a [`{ident}`]; omitted fields are unchanged.");

    quote! {
        #[doc = #create_doc]
        #[derive(::core::fmt::Debug, #p::serde::Deserialize)]
        #[serde(crate = #serde_crate, deny_unknown_fields)]
        #vis struct #create {
            #(#create_fields,)*
        }

        #[doc = #update_doc]
        #[derive(::core::fmt::Debug, ::core::default::Default, #p::serde::Deserialize)]
        #[serde(crate = #serde_crate, deny_unknown_fields)]
        #vis struct #update {
            #(#update_fields,)*
        }

        const _: () = {
            #create_helper
            #update_helper

            /// `None` for a null value: an omitted (or null) optional field.
            #[allow(dead_code)]
            fn given(value: #p::Value) -> ::core::option::Option<#p::Value> {
                match value {
                    #p::Value::Null => ::core::option::Option::None,
                    value => ::core::option::Option::Some(value),
                }
            }

            #[automatically_derived]
            impl #p::CreateInput for #create {
                fn into_values(self) -> ::std::vec::Vec<::core::option::Option<#p::Value>> {
                    #into_values
                }
            }

            #[automatically_derived]
            impl #p::UpdateInput for #update {
                fn into_changes(self) -> ::std::vec::Vec<(usize, #p::Value)> {
                    #into_changes
                }
            }
        };
    }
}

/// The field's own doc comments (or its name), then `note` as a paragraph.
fn docs(field: &Field<'_>, note: Option<&str>) -> TokenStream {
    let own = if field.docs.is_empty() {
        let doc = format!(" `{}`.", field.ident.unraw());
        quote!(#[doc = #doc])
    } else {
        let docs = &field.docs;
        quote!(#(#docs)*)
    };
    match note {
        Some(note) => quote!(#own #[doc = ""] #[doc = #note]),
        None => own,
    }
}

/// `deserialize_with` target: a present value (even `null`) is `Some`.
fn present_helper(ty: &syn::Ident) -> TokenStream {
    let p = private();
    quote! {
        impl #ty {
            fn __rookery_present<'de, T, D>(deserializer: D) -> ::core::result::Result<::core::option::Option<T>, D::Error>
            where
                T: #p::serde::Deserialize<'de>,
                D: #p::serde::Deserializer<'de>,
            {
                <T as #p::serde::Deserialize<'de>>::deserialize(deserializer).map(::core::option::Option::Some)
            }
        }
    }
}
