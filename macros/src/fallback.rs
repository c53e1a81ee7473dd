//! Stub impls emitted next to errors (after thiserror's `fallback.rs`): the
//! traits still exist, so code using the type reports nothing more and one
//! mistake gives one diagnostic. The bodies never run: the crate does not
//! compile.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use crate::expand::{Names, private};
use rookery_macros_core::Model;

/// `TenantModel` and `Serialize` for a model whose attributes had errors.
pub(crate) fn tenant_model(model: &Model<'_>, names: &Names) -> TokenStream {
    let p = private();
    let ident = model.ident;
    let Names { create, update, .. } = names;
    quote! {
        #[automatically_derived]
        impl #p::TenantModel for #ident {
            const TABLE: &'static str = "";
            type Key = i64;
            type Create = #create;
            type Update = #update;

            fn def() -> &'static #p::ModelDef {
                ::core::unreachable!()
            }

            fn from_values(
                _: &mut #p::ValueReader,
            ) -> ::core::result::Result<Self, #p::DecodeError> {
                ::core::unreachable!()
            }

            fn to_values(&self) -> ::std::vec::Vec<#p::Value> {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl #p::serde::Serialize for #ident {
            fn serialize<__S>(&self, _: __S) -> ::core::result::Result<__S::Ok, __S::Error>
            where
                __S: #p::serde::Serializer,
            {
                ::core::unreachable!()
            }
        }
    }
}

/// Every impl `#[derive(ModelEnum)]` provides, for an enum with errors.
pub(crate) fn model_enum(ident: &Ident) -> TokenStream {
    let p = private();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #p::ModelEnum for #ident {
                const VALUES: &'static [&'static str] = &[];
                fn as_str(&self) -> &'static str {
                    ::core::unreachable!()
                }
                fn from_str_value(_: &str) -> ::core::option::Option<Self> {
                    ::core::unreachable!()
                }
            }

            #[automatically_derived]
            impl #p::FieldValue for #ident {
                const TYPE: #p::FieldType = #p::FieldType::Enum(&[]);
                fn to_value(&self) -> #p::Value {
                    ::core::unreachable!()
                }
                fn from_value(_: #p::Value) -> ::core::result::Result<Self, #p::DecodeError> {
                    ::core::unreachable!()
                }
            }

            #[automatically_derived]
            impl #p::serde::Serialize for #ident {
                fn serialize<__S>(&self, _: __S) -> ::core::result::Result<__S::Ok, __S::Error>
                where
                    __S: #p::serde::Serializer,
                {
                    ::core::unreachable!()
                }
            }

            #[automatically_derived]
            impl<'de> #p::serde::Deserialize<'de> for #ident {
                fn deserialize<__D>(_: __D) -> ::core::result::Result<Self, __D::Error>
                where
                    __D: #p::serde::Deserializer<'de>,
                {
                    ::core::unreachable!()
                }
            }

            #[automatically_derived]
            impl ::core::fmt::Display for #ident {
                fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    ::core::unreachable!()
                }
            }

            #[automatically_derived]
            impl ::core::str::FromStr for #ident {
                type Err = ::rookery::__private::ParseEnumError;
                fn from_str(_: &str) -> ::core::result::Result<Self, Self::Err> {
                    ::core::unreachable!()
                }
            }
        };
    }
}
