//! The derive input as the macros see it: shape checked, attributes read.

use proc_macro2::Span;
use syn::{Attribute, Data, DeriveInput, Fields, Ident, Type, Visibility};

use crate::attr;
use crate::case::snake_case;
use crate::ctxt::Ctxt;

/// A struct deriving `TenantModel`.
pub(crate) struct Model<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) attrs: attr::Container,
    pub(crate) fields: Vec<Field<'a>>,
}

/// One named field of a model.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) ty: &'a Type,
    /// The field's doc comments, copied onto the input structs.
    pub(crate) docs: Vec<&'a Attribute>,
    pub(crate) attrs: attr::Field,
}

/// An enum deriving `ModelEnum`.
pub(crate) struct Enum<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) variants: Vec<Variant<'a>>,
}

/// One variant of a `ModelEnum` and its stored text.
pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) value: String,
    /// The `rename` literal, or the variant name.
    pub(crate) value_span: Span,
}

impl<'a> Model<'a> {
    /// Reads a struct with named fields; reports any other shape and returns `None`.
    pub(crate) fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        const WHAT: &str = "`#[derive(TenantModel)]`";
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => Some(&named.named),
                Fields::Unnamed(unnamed) => {
                    cx.error_spanned_by(
                        unnamed,
                        format_args!(
                            "{WHAT} needs named fields (they become columns): `struct {} {{ name: String }}`",
                            input.ident
                        ),
                    );
                    None
                }
                Fields::Unit => {
                    cx.error_spanned_by(
                        &input.ident,
                        format_args!("{WHAT} needs a struct with named fields, not a unit struct"),
                    );
                    None
                }
            },
            Data::Enum(data) => {
                cx.error_at(
                    data.enum_token.span,
                    format_args!(
                        "{WHAT} needs a struct with named fields; for a closed set of values stored \
                         as text use `#[derive(ModelEnum)]`"
                    ),
                );
                None
            }
            Data::Union(data) => {
                cx.error_at(
                    data.union_token.span,
                    format_args!("{WHAT} needs a struct with named fields, not a union"),
                );
                None
            }
        };
        if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
            cx.error_spanned_by(
                &input.generics,
                format_args!("{WHAT} does not support generics: a model is one table with fixed columns"),
            );
            return None;
        }
        let attrs = attr::Container::from_attrs(cx, &input.attrs);
        let fields = fields?
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                Some(Field {
                    ident,
                    vis: &field.vis,
                    ty: &field.ty,
                    docs: field.attrs.iter().filter(|a| a.path().is_ident("doc")).collect(),
                    attrs: attr::Field::from_attrs(cx, &field.attrs),
                })
            })
            .collect();
        Some(Self {
            ident: &input.ident,
            vis: &input.vis,
            attrs,
            fields,
        })
    }
}

impl<'a> Enum<'a> {
    /// Reads a fieldless enum; reports any other shape and returns `None`.
    pub(crate) fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        const WHAT: &str = "`#[derive(ModelEnum)]`";
        let data = match &input.data {
            Data::Enum(data) => data,
            Data::Struct(data) => {
                cx.error_at(
                    data.struct_token.span,
                    format_args!("{WHAT} needs an enum whose variants have no fields"),
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_at(
                    data.union_token.span,
                    format_args!("{WHAT} needs an enum whose variants have no fields"),
                );
                return None;
            }
        };
        if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
            cx.error_spanned_by(&input.generics, format_args!("{WHAT} does not support generics"));
            return None;
        }
        if data.variants.is_empty() {
            cx.error_spanned_by(&input.ident, format_args!("{WHAT} needs at least one variant"));
        }
        attr::enum_container(cx, &input.attrs);
        let variants = data
            .variants
            .iter()
            .map(|variant| {
                if !matches!(variant.fields, Fields::Unit) {
                    cx.error_spanned_by(
                        &variant.fields,
                        format_args!(
                            "{WHAT} variants cannot carry data: `{}` is stored as a single text value",
                            variant.ident
                        ),
                    );
                }
                let attrs = attr::Variant::from_attrs(cx, &variant.attrs);
                let (value, value_span) = match attrs.rename {
                    Some(rename) => (rename.value, rename.span),
                    None => (snake_case(&variant.ident.to_string()), variant.ident.span()),
                };
                Variant {
                    ident: &variant.ident,
                    value,
                    value_span,
                }
            })
            .collect();
        Some(Self {
            ident: &input.ident,
            variants,
        })
    }
}
