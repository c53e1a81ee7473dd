//! The derive input as the macros see it: shape checked, attributes read.

use proc_macro2::Span;
use syn::{Attribute, Data, DeriveInput, Fields, Ident, Type, Visibility};

use crate::attr::{FieldAttrs, ModelAttrs, VariantAttrs, enum_container};
use crate::case::snake_case;
use crate::ctxt::Ctxt;
use crate::ty::{StoredType, recognise};

/// A struct deriving `TenantModel`, its `#[rookery(...)]` options read.
#[derive(Debug)]
#[non_exhaustive]
pub struct Model<'a> {
    /// The struct's name.
    pub ident: &'a Ident,
    /// The struct's visibility (the generated items get the same).
    pub vis: &'a Visibility,
    /// The struct's options.
    pub attrs: ModelAttrs,
    /// The named fields, in declaration order.
    pub fields: Vec<Field<'a>>,
}

/// One named field of a model.
#[derive(Debug)]
#[non_exhaustive]
pub struct Field<'a> {
    /// The field's name (possibly raw: `r#type`).
    pub ident: &'a Ident,
    /// The field's visibility.
    pub vis: &'a Visibility,
    /// The field's Rust type.
    pub ty: &'a Type,
    /// What the type is stored as ([`recognise`]); `None` only after an
    /// error, so always `Some` in a model that [`crate::read_model`] returns.
    pub stored: Option<StoredType>,
    /// The field's doc comments, copied onto the input structs.
    pub docs: Vec<&'a Attribute>,
    /// The field's options.
    pub attrs: FieldAttrs,
}

/// An enum deriving `ModelEnum`.
#[derive(Debug)]
#[non_exhaustive]
pub struct Enum<'a> {
    /// The enum's name.
    pub ident: &'a Ident,
    /// The variants, in declaration order.
    pub variants: Vec<Variant<'a>>,
}

/// One variant of a `ModelEnum` and its stored text.
#[derive(Debug)]
#[non_exhaustive]
pub struct Variant<'a> {
    /// The variant's name.
    pub ident: &'a Ident,
    /// The stored text: the `rename` literal, or the snake_case variant name.
    pub value: String,
    /// The `rename` literal, or the variant name.
    pub value_span: Span,
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
        let attrs = ModelAttrs::from_attrs(cx, &input.attrs);
        let fields = fields?
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                let stored = recognise(&field.ty).map_err(|err| cx.syn_error(err)).ok();
                Some(Field {
                    ident,
                    vis: &field.vis,
                    ty: &field.ty,
                    stored,
                    docs: field.attrs.iter().filter(|a| a.path().is_ident("doc")).collect(),
                    attrs: FieldAttrs::from_attrs(cx, &field.attrs),
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
        enum_container(cx, &input.attrs);
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
                let attrs = VariantAttrs::from_attrs(cx, &variant.attrs);
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
