//! `#[derive(ModelEnum)]`: `ModelEnum`, `FieldValue` (stored as text),
//! serde as the string, `Display` and `FromStr`.

use proc_macro2::TokenStream;
use quote::quote;

use super::private;
use rookery_macros_core::Enum;

pub(super) fn expand(input: &Enum<'_>) -> TokenStream {
    let p = private();
    let ident = input.ident;
    let variants: Vec<_> = input.variants.iter().map(|v| v.ident).collect();
    let values: Vec<_> = input.variants.iter().map(|v| v.value.as_str()).collect();
    let expected = format!(
        "one of {}",
        values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
    );
    let decode_expected = format!("{ident} ({expected})");
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #p::ModelEnum for #ident {
                const VALUES: &'static [&'static str] = &[#(#values),*];

                fn as_str(&self) -> &'static str {
                    match self {
                        #(Self::#variants => #values,)*
                    }
                }

                fn from_str_value(s: &str) -> ::core::option::Option<Self> {
                    match s {
                        #(#values => ::core::option::Option::Some(Self::#variants),)*
                        _ => ::core::option::Option::None,
                    }
                }
            }

            #[automatically_derived]
            impl #p::FieldValue for #ident {
                const TYPE: #p::FieldType = #p::FieldType::Enum(<Self as #p::ModelEnum>::VALUES);

                fn to_value(&self) -> #p::Value {
                    #p::Value::Text(::std::string::ToString::to_string(#p::ModelEnum::as_str(self)))
                }

                fn from_value(value: #p::Value) -> ::core::result::Result<Self, #p::DecodeError> {
                    if let #p::Value::Text(text) = &value {
                        if let ::core::option::Option::Some(v) = <Self as #p::ModelEnum>::from_str_value(text) {
                            return ::core::result::Result::Ok(v);
                        }
                    }
                    ::core::result::Result::Err(#p::DecodeError::new(#decode_expected, &value))
                }
            }

            #[automatically_derived]
            impl #p::serde::Serialize for #ident {
                fn serialize<__S>(&self, serializer: __S) -> ::core::result::Result<__S::Ok, __S::Error>
                where
                    __S: #p::serde::Serializer,
                {
                    serializer.serialize_str(#p::ModelEnum::as_str(self))
                }
            }

            #[automatically_derived]
            impl<'de> #p::serde::Deserialize<'de> for #ident {
                fn deserialize<__D>(deserializer: __D) -> ::core::result::Result<Self, __D::Error>
                where
                    __D: #p::serde::Deserializer<'de>,
                {
                    let text = <::std::string::String as #p::serde::Deserialize<'de>>::deserialize(deserializer)?;
                    <Self as #p::ModelEnum>::from_str_value(&text).ok_or_else(|| {
                        <__D::Error as #p::serde::de::Error>::invalid_value(
                            #p::serde::de::Unexpected::Str(&text),
                            &#expected,
                        )
                    })
                }
            }

            #[automatically_derived]
            impl ::core::fmt::Display for #ident {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.pad(#p::ModelEnum::as_str(self))
                }
            }

            #[automatically_derived]
            impl ::core::str::FromStr for #ident {
                type Err = ::rookery::__private::ParseEnumError;

                fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                    <Self as #p::ModelEnum>::from_str_value(s).ok_or_else(|| ::rookery::__private::ParseEnumError {
                        found: ::std::string::ToString::to_string(s),
                        expected: <Self as #p::ModelEnum>::VALUES,
                    })
                }
            }
        };
    }
}
