//! `impl TenantModel` (with its static `ModelDef`), `impl Serialize`, the
//! `<Name>Id` / `<Name>Record` aliases, `<Name>::router()`, and the
//! compile-time assertions about field types.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Type, Visibility};

use super::{Names, private};
use rookery_macros_core::{Field, IdKind, Kind, Model, OnDelete, StoredType, naming};

/// `pub type ProjectId = Id<Project>;` and `pub type ProjectRecord = Record<Project>;`.
pub(super) fn aliases(model: &Model<'_>, names: &Names) -> TokenStream {
    let p = private();
    let (ident, vis) = (model.ident, model.vis);
    let Names { id, record, .. } = names;
    let id_doc = format!(" The typed id of a [`{ident}`] row.");
    let record_doc =
        format!(" A stored [`{ident}`] row: `id`, `tenant_id`, `created_at`, `updated_at` and the model's fields.");
    quote! {
        #[doc = #id_doc]
        #vis type #id = #p::Id<#ident>;
        #[doc = #record_doc]
        #vis type #record = #p::Record<#ident>;
    }
}

/// `impl Project { pub fn router() -> Router<AppState> }`.
pub(super) fn router(model: &Model<'_>) -> TokenStream {
    let p = private();
    let (ident, vis) = (model.ident, model.vis);
    let doc =
        format!(" The CRUD routes of [`{ident}`] (list, get, create, update, delete), guarded by its permissions.");
    let allow = matches!(vis, Visibility::Inherited).then(|| quote!(#[allow(dead_code)]));
    quote! {
        impl #ident {
            #[doc = #doc]
            #allow
            #vis fn router() -> #p::axum::Router<#p::AppState> {
                #p::crud_router::<Self>()
            }
        }
    }
}

/// The real trait impls of a checked model.
pub(crate) fn trait_impls(model: &Model<'_>, names: &Names) -> TokenStream {
    let p = private();
    let ident = model.ident;
    let Names { create, update, .. } = names;
    let attrs = &model.attrs;
    let name = model.name();
    let table = model.table();
    let (key_ty, key_kind) = match attrs.id_kind() {
        IdKind::BigInt => (quote!(i64), quote!(#p::KeyKind::BigInt)),
        IdKind::Uuid => (quote!(#p::uuid::Uuid), quote!(#p::KeyKind::Uuid)),
    };
    let perms = attrs.permissions.as_ref().map(|p| p.value.clone()).unwrap_or_default();
    let read = perms.read.unwrap_or_default();
    let write = perms.write.unwrap_or_default();
    let delete = perms.delete.unwrap_or_else(|| write.clone());
    let assign = match &perms.assign {
        Some(a) => quote!(::core::option::Option::Some(#a)),
        None => quote!(::core::option::Option::None),
    };
    let quota = match &attrs.quota {
        Some(q) => quote!(::core::option::Option::Some(#q)),
        None => quote!(::core::option::Option::None),
    };
    let audit = attrs.audit;
    let feature = match &attrs.feature {
        Some(f) => {
            let f = &f.value;
            quote!(::core::option::Option::Some(#f))
        }
        None => quote!(::core::option::Option::None),
    };
    let (created, updated, deleted) = (
        attrs.events.created.is_some(),
        attrs.events.updated.is_some(),
        attrs.events.deleted.is_some(),
    );
    let sort = attrs.sort.as_ref().map_or("-created_at", |s| s.value.as_str());
    let (sort_field, descending) = match sort.strip_prefix('-') {
        Some(field) => (field, true),
        None => (sort, false),
    };
    let field_defs = model.fields.iter().map(field_def);
    let field_idents: Vec<_> = model.fields.iter().map(|f| f.ident).collect();
    let field_names: Vec<_> = model.fields.iter().map(|f| f.ident.unraw().to_string()).collect();
    let field_tys: Vec<_> = model.fields.iter().map(|f| f.ty).collect();
    let struct_name = ident.unraw().to_string();
    let len = model.fields.len();
    let assertions = model.fields.iter().map(assertions);
    quote! {
        #(#assertions)*

        #[automatically_derived]
        impl #p::TenantModel for #ident {
            const TABLE: &'static str = #table;
            type Key = #key_ty;
            type Create = #create;
            type Update = #update;

            fn def() -> &'static #p::ModelDef {
                static DEF: #p::ModelDef = #p::ModelDef {
                    name: #name,
                    table: #table,
                    path: #table,
                    key: #key_kind,
                    fields: &[#(#field_defs),*],
                    permissions: #p::Permissions { read: #read, write: #write, delete: #delete, assign: #assign },
                    quota: #quota,
                    audit: #audit,
                    events: #p::Events { created: #created, updated: #updated, deleted: #deleted },
                    default_sort: #p::Sort { field: #sort_field, descending: #descending },
                    feature: #feature,
                };
                &DEF
            }

            fn from_values(
                reader: &mut #p::ValueReader,
            ) -> ::core::result::Result<Self, #p::DecodeError> {
                ::core::result::Result::Ok(Self {
                    #(#field_idents: reader.read::<#field_tys>()?,)*
                })
            }

            fn to_values(&self) -> ::std::vec::Vec<#p::Value> {
                ::std::vec![#(#p::FieldValue::to_value(&self.#field_idents)),*]
            }
        }

        #[automatically_derived]
        impl #p::serde::Serialize for #ident {
            fn serialize<__S>(&self, serializer: __S) -> ::core::result::Result<__S::Ok, __S::Error>
            where
                __S: #p::serde::Serializer,
            {
                let mut state = #p::serde::Serializer::serialize_struct(serializer, #struct_name, #len)?;
                #(#p::serde::ser::SerializeStruct::serialize_field(&mut state, #field_names, &self.#field_idents)?;)*
                #p::serde::ser::SerializeStruct::end(state)
            }
        }
    }
}

/// `FieldDef { <declared options>, ..FieldDef::new(name, column, ty) }`.
fn field_def(field: &Field<'_>) -> TokenStream {
    let p = private();
    let ty = field.ty;
    let a = &field.attrs;
    let name = field.ident.unraw().to_string();
    let column = match &a.column {
        Some(column) => {
            let column = &column.value;
            quote!(#column)
        }
        None => {
            // The generator names the column by the same recognised kind; the
            // agreement assertion below proves the compiler sees that kind too.
            let column = match field.stored.as_ref().map(|s| &s.kind) {
                Some(Kind::Ref { .. } | Kind::User) => naming::ref_column(&name),
                _ => name.clone(),
            };
            quote!(#column)
        }
    };
    let field_type = match (a.text, a.email, a.url) {
        (Some(_), _, _) => quote!(#p::FieldType::Text),
        (_, Some(_), _) => quote!(#p::FieldType::Email),
        (_, _, Some(_)) => quote!(#p::FieldType::Url),
        _ => quote!(<#ty as #p::FieldValue>::TYPE),
    };
    let some = |v: TokenStream| quote!(::core::option::Option::Some(#v));
    let mut options = vec![quote!(optional: <#ty as #p::FieldValue>::OPTIONAL)];
    if let Some(default) = &a.default {
        let value = some(lit(&default.value));
        options.push(quote!(default: #value));
    }
    for (key, set) in [
        ("unique", a.unique),
        ("indexed", a.indexed),
        ("sortable", a.sortable),
        ("searchable", a.searchable),
    ] {
        if set.is_some() {
            let key = syn::Ident::new(key, Span::call_site());
            options.push(quote!(#key: true));
        }
    }
    if let Some(max_len) = &a.max_len {
        let value = some(lit(&max_len.value));
        options.push(quote!(max_len: #value));
    }
    for (key, bound) in [("min", &a.min), ("max", &a.max)] {
        if let Some(bound) = bound {
            let key = syn::Ident::new(key, Span::call_site());
            let value = some(lit(&bound.value));
            options.push(quote!(#key: #value));
        }
    }
    for (key, set) in [
        ("owner", a.owner),
        ("read_only", a.read_only),
        ("sensitive", a.sensitive),
    ] {
        if set.is_some() {
            let key = syn::Ident::new(key, Span::call_site());
            options.push(quote!(#key: true));
        }
    }
    if let Some(write) = &a.write {
        let value = &write.value;
        options.push(quote!(write: ::core::option::Option::Some(#value)));
    }
    if let Some(on_delete) = &a.on_delete {
        let action = match on_delete.value {
            OnDelete::Restrict => quote!(Restrict),
            OnDelete::Cascade => quote!(Cascade),
            OnDelete::SetNull => quote!(SetNull),
        };
        options.push(quote!(on_delete: #p::OnDelete::#action));
    }
    quote! {
        #p::FieldDef {
            #(#options,)*
            ..#p::FieldDef::new(#name, #column, #field_type)
        }
    }
}

/// A literal token for `value` (unsuffixed for integers).
fn lit<T: LitValue>(value: &T) -> TokenStream {
    value.to_lit()
}

trait LitValue {
    fn to_lit(&self) -> TokenStream;
}

impl LitValue for String {
    fn to_lit(&self) -> TokenStream {
        quote!(#self)
    }
}

impl LitValue for u32 {
    fn to_lit(&self) -> TokenStream {
        let lit = proc_macro2::Literal::u32_unsuffixed(*self);
        quote!(#lit)
    }
}

impl LitValue for i64 {
    fn to_lit(&self) -> TokenStream {
        let lit = proc_macro2::Literal::i64_unsuffixed(*self);
        quote!(#lit)
    }
}

/// Compile-time checks of options that depend on how the field's type is
/// stored, which the macro cannot see: each fails the build with a message
/// spanned on the attribute.
fn assertions(field: &Field<'_>) -> TokenStream {
    let p = private();
    let ty = field.ty;
    let a = &field.attrs;
    let name = field.ident.unraw().to_string();
    let stored = quote!(<#ty as #p::FieldValue>::TYPE);
    let mut out = TokenStream::new();
    if let Some(stored) = &field.stored {
        out.extend(agreement(field, &name, stored));
    }
    let mut assert = |span: Span, pattern: TokenStream, msg: String| {
        out.extend(quote_spanned! {span=>
            const _: () = ::core::assert!(::core::matches!(#stored, #pattern), #msg);
        });
    };
    for (key, set) in [
        ("text", a.text),
        ("email", a.email),
        ("url", a.url),
        ("searchable", a.searchable),
    ] {
        if let Some(span) = set {
            assert(
                span,
                quote!(#p::FieldType::String),
                format!(
                    "`{key}` on field `{name}`: the field's type must be stored as a string (String or Option<String>)"
                ),
            );
        }
    }
    if let Some(max_len) = &a.max_len {
        assert(
            max_len.span,
            quote!(#p::FieldType::String),
            format!("`max_len` on field `{name}`: only string fields have a maximum length"),
        );
    }
    if let Some(min) = &a.min {
        assert(
            min.span,
            quote!(#p::FieldType::Int | #p::FieldType::BigInt | #p::FieldType::Decimal | #p::FieldType::String),
            format!(
                "`min` on field `{name}`: only number fields (a minimum value) and string fields (a minimum length) have a minimum"
            ),
        );
    }
    if let Some(max) = &a.max {
        assert(
            max.span,
            quote!(#p::FieldType::Int | #p::FieldType::BigInt | #p::FieldType::Decimal),
            format!("`max` on field `{name}`: only number fields have a maximum value (use `max_len` for strings)"),
        );
    }
    if let Some(on_delete) = &a.on_delete {
        assert(
            on_delete.span,
            quote!(#p::FieldType::Ref(_)),
            format!("`on_delete` on field `{name}`: only references (`<Model>Id`, `UserId`) have an on_delete action"),
        );
    }
    for (key, span) in [("unique", a.unique), ("indexed", a.indexed), ("sortable", a.sortable)] {
        if let Some(span) = span {
            let msg = format!("`{key}` on field `{name}`: a json field cannot be {key}");
            out.extend(quote_spanned! {span=>
                const _: () = ::core::assert!(!::core::matches!(#stored, #p::FieldType::Json), #msg);
            });
        }
    }
    if let Some(on_delete) = a.on_delete.as_ref().filter(|o| o.value == OnDelete::SetNull) {
        let msg = format!(
            "`on_delete = \"set_null\"` on field `{name}`: only an optional reference can be set null; make it \
             `Option<…>` or use \"restrict\" or \"cascade\""
        );
        let span = on_delete.span;
        out.extend(quote_spanned! {span=>
            const _: () = ::core::assert!(<#ty as #p::FieldValue>::OPTIONAL, #msg);
        });
    }
    if let Some(span) = a.sortable {
        let msg = format!(
            "`sortable` on field `{name}`: an optional field cannot be sortable (a list is paged by a cursor on the sort \
             key, which needs a value in every row); make the field required or remove `sortable`"
        );
        out.extend(quote_spanned! {span=>
            const _: () = ::core::assert!(!<#ty as #p::FieldValue>::OPTIONAL, #msg);
        });
    }
    if name == "tenant" && a.column.is_none() {
        let span = field.ident.span();
        out.extend(quote_spanned! {span=>
            const _: () = ::core::assert!(
                !::core::matches!(#stored, #p::FieldType::Ref(_)),
                "reference field `tenant` would be stored in column `tenant_id`, which every model already has; rename the field or set `#[rookery(column = \"...\")]`"
            );
        });
    }
    if let Some(default) = &a.default {
        out.extend(default_assertion(&name, ty, &default.value, default.span));
    }
    out
}

/// A default must fit the stored type (an enum value, `true`/`false`, a number).
fn default_assertion(name: &str, ty: &Type, value: &str, span: Span) -> TokenStream {
    let p = private();
    let msg = format!(
        "`default = \"{value}\"` on field `{name}` does not fit the field's type (an enum default must be one of its values, a bool default `true` or `false`, a number default a number)"
    );
    quote_spanned! {span=>
        const _: () = ::core::assert!(
            #p::FieldType::accepts_default(&<#ty as #p::FieldValue>::TYPE, #value),
            #msg
        );
    }
}

/// The type the core recognised (and the generator plans a column for) is the
/// type the compiler resolved: a `use` that shadows a known name, or a
/// `<Name>Id` alias of something else, fails the build here, spanned on the
/// type, instead of storing a different column than the migration made.
fn agreement(field: &Field<'_>, name: &str, stored: &StoredType) -> TokenStream {
    let p = private();
    let ty = field.ty;
    let pattern = match &stored.kind {
        Kind::String => quote!(#p::FieldType::String),
        Kind::Int => quote!(#p::FieldType::Int),
        Kind::BigInt => quote!(#p::FieldType::BigInt),
        Kind::Decimal => quote!(#p::FieldType::Decimal),
        Kind::Bool => quote!(#p::FieldType::Bool),
        Kind::Date => quote!(#p::FieldType::Date),
        Kind::DateTime => quote!(#p::FieldType::DateTime),
        Kind::Uuid => quote!(#p::FieldType::Uuid),
        Kind::Json => quote!(#p::FieldType::Json),
        Kind::User | Kind::Ref { .. } => quote!(#p::FieldType::Ref(_)),
        Kind::Enum { .. } => quote!(#p::FieldType::Enum(_)),
    };
    let optional = stored.optional;
    let what = match &stored.kind {
        Kind::String => "String",
        Kind::Int => "i32",
        Kind::BigInt => "i64",
        Kind::Decimal => "Decimal",
        Kind::Bool => "bool",
        Kind::Date => "NaiveDate",
        Kind::DateTime => "DateTime<Utc>",
        Kind::Uuid => "Uuid",
        Kind::Json => "serde_json::Value",
        Kind::User => "UserId",
        Kind::Ref { .. } => "a `<Model>Id` reference",
        Kind::Enum { .. } => "a `#[derive(ModelEnum)]` enum",
    };
    let what = if optional {
        format!("Option<{what}>")
    } else {
        what.to_owned()
    };
    let msg = format!(
        "field `{name}`: rookery reads this type by its name as {what} (and plans its column so), but it resolves to \
         another type; a `use` may shadow the name"
    );
    let span = syn::spanned::Spanned::span(ty);
    quote_spanned! {span=>
        const _: () = ::core::assert!(
            ::core::matches!(<#ty as #p::FieldValue>::TYPE, #pattern)
                && <#ty as #p::FieldValue>::OPTIONAL == #optional,
            #msg
        );
    }
}
