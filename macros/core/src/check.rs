//! Semantic rules on the parsed input. Every violation is recorded with the
//! span of the offending token; rules that depend on a field's Rust type are
//! compile-time assertions in the expansion instead (see `expand::model`).

use std::collections::HashMap;

use proc_macro2::Span;
use syn::ext::IdentExt;

use crate::ast::{Enum, Model};
use crate::case::{is_sql_ident, suggest};
use crate::ctxt::Ctxt;
use crate::ty::Kind;

/// The columns every tenant table has besides its declared fields.
pub const IMPLICIT_COLUMNS: &[&str] = &["id", "tenant_id", "created_at", "updated_at"];

/// Implicit columns a list may be sorted by.
const IMPLICIT_SORT_KEYS: &[&str] = &["id", "created_at", "updated_at"];

pub(crate) fn model(cx: &Ctxt, model: &Model<'_>) {
    permissions(cx, model);
    if let Some(table) = &model.attrs.table
        && !is_sql_ident(&table.value)
    {
        cx.error_at(
            table.span,
            format_args!(
                "table name `{}` must be a lowercase SQL identifier: [a-z_][a-z0-9_]*, at most 63 bytes",
                table.value
            ),
        );
    }
    fields(cx, model);
    ownership(cx, model);
    sort(cx, model);
}

/// The owner field and the field rules: one owner at most, a required
/// `UserId`, not also read-only or guarded; `assign` only with an owner; a
/// read-only field the create can leave out.
fn ownership(cx: &Ctxt, model: &Model<'_>) {
    let mut owner: Option<String> = None;
    for field in &model.fields {
        let name = field.ident.unraw().to_string();
        let a = &field.attrs;
        if let Some(span) = a.owner {
            if let Some(first) = &owner {
                cx.error_at(
                    span,
                    format_args!("`owner` on `{name}`: `{first}` is the owner already; a model has one owner field"),
                );
            }
            owner.get_or_insert(name.clone());
            match &field.stored {
                Some(stored) if stored.kind == Kind::User && !stored.optional => {}
                Some(_) => cx.error_at(
                    span,
                    format_args!(
                        "`owner` on `{name}`: the owner is a member of the tenant, a required `UserId` \
                         (a create that omits it is owned by the caller)"
                    ),
                ),
                None => {}
            }
            for (other, set) in [
                ("read_only", a.read_only),
                ("default", a.default.as_ref().map(|d| d.span)),
            ] {
                if set.is_some() {
                    cx.error_at(
                        span,
                        format_args!(
                            "`owner` and `{other}` on `{name}`: the owner defaults to the caller, and giving the \
                             row to someone else needs the model's `permissions(assign = \"...\")`"
                        ),
                    );
                }
            }
            if let Some(write) = &a.write {
                cx.error_at(
                    write.span,
                    format_args!(
                        "`write` on the owner `{name}`: who may give a row away is \
                         `permissions(assign = \"...\")` on the model"
                    ),
                );
            }
        }
        if let Some(write) = &a.write {
            if write.value.trim().is_empty() {
                cx.error_at(write.span, "a permission cannot be empty");
            }
            if a.read_only.is_some() {
                cx.error_at(
                    write.span,
                    format_args!("`write` and `read_only` on `{name}`: a read-only field is set by the server only"),
                );
            }
        }
        if let Some(span) = a.read_only {
            let optional = field.stored.as_ref().is_some_and(|s| s.optional);
            if a.default.is_none() && !optional && field.stored.is_some() {
                cx.error_at(
                    span,
                    format_args!(
                        "`read_only` on `{name}`: a client cannot set it, so a create must be able to leave it \
                         out; make it optional or give it a `default`"
                    ),
                );
            }
        }
    }
    if owner.is_none()
        && let Some(perms) = &model.attrs.permissions
        && perms.value.assign.is_some()
    {
        cx.error_at(
            perms.span,
            "`assign` without an owner field: mark the field that names the row's owner with `#[rookery(owner)]`",
        );
    }
}

fn permissions(cx: &Ctxt, model: &Model<'_>) {
    let Some(perms) = &model.attrs.permissions else {
        if !model.attrs.incomplete {
            cx.error_spanned_by(
                model.ident,
                format_args!(
                    "`{}` needs `#[rookery(permissions(read = \"...\", write = \"...\"))]`: \
                     the permissions a role needs to use its routes (`delete` defaults to `write`)",
                    model.ident
                ),
            );
        }
        return;
    };
    let p = &perms.value;
    let missing: Vec<&str> = [("read", &p.read), ("write", &p.write)]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k)
        .collect();
    if !missing.is_empty() {
        cx.error_at(
            perms.span,
            format_args!(
                "`permissions` is missing `{}` (`delete` is optional and defaults to `write`)",
                missing.join("` and `")
            ),
        );
    }
    for value in [&p.read, &p.write, &p.delete, &p.assign].into_iter().flatten() {
        if value.trim().is_empty() {
            cx.error_at(perms.span, "a permission cannot be empty");
        }
    }
}

fn fields(cx: &Ctxt, model: &Model<'_>) {
    // Column name → field that claims it, for duplicates among explicit names.
    let mut columns: HashMap<String, String> = HashMap::new();
    for field in &model.fields {
        let name = field.ident.unraw().to_string();
        if IMPLICIT_COLUMNS.contains(&name.as_str()) {
            cx.error_spanned_by(
                field.ident,
                format_args!(
                    "`{name}` is an implicit column of every model (id, tenant_id, created_at, updated_at) \
                     and cannot be declared; it is on `{}Record`",
                    model.ident
                ),
            );
        }
        let a = &field.attrs;
        let column = match &a.column {
            Some(column) => {
                if !is_sql_ident(&column.value) {
                    cx.error_at(
                        column.span,
                        format_args!(
                            "column name `{}` must be a lowercase SQL identifier: [a-z_][a-z0-9_]*",
                            column.value
                        ),
                    );
                } else if IMPLICIT_COLUMNS.contains(&column.value.as_str()) {
                    cx.error_at(
                        column.span,
                        format_args!("`{}` is an implicit column of every model", column.value),
                    );
                }
                column.value.clone()
            }
            None => name.clone(),
        };
        if let Some(other) = columns.insert(column.clone(), name.clone()) {
            cx.error_spanned_by(
                field.ident,
                format_args!("fields `{other}` and `{name}` both use column `{column}`"),
            );
        }
        text_options(cx, field, &name);
        if let (Some(min), Some(max)) = (&a.min, &a.max)
            && min.value > max.value
        {
            cx.error_at(
                max.span,
                format_args!("`max = {}` is below `min = {}`", max.value, min.value),
            );
        }
    }
}

/// `text`, `email` and `url` choose what a `String` holds (one of them at
/// most); `searchable` needs a `String`; an indexed field is not named like
/// a list parameter.
fn text_options(cx: &Ctxt, field: &crate::ast::Field<'_>, name: &str) {
    let a = &field.attrs;
    let is_string = field.stored.as_ref().map(|s| s.kind == Kind::String);
    let formats: Vec<(&str, Span)> = [("text", a.text), ("email", a.email), ("url", a.url)]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
    if let [(first, _), (second, span), ..] = formats.as_slice() {
        cx.error_at(
            *span,
            format_args!("`{first}` and `{second}` on `{name}`: a field holds one kind of text"),
        );
    }
    for (key, span) in formats.iter().filter(|(k, _)| *k != "text") {
        if is_string == Some(false) {
            cx.error_at(
                *span,
                format_args!("`{key}` on `{name}`: the field's type must be `String` or `Option<String>`"),
            );
        }
    }
    if let (Some(default), Some((key, _))) = (&a.default, formats.iter().find(|(k, _)| *k != "text")) {
        cx.error_at(
            default.span,
            format_args!(
                "`default` on `{name}`: {} field has no default (an address is each row's own)",
                if *key == "email" { "an email" } else { "a url" }
            ),
        );
    }
    if let Some(span) = a.searchable
        && is_string == Some(false)
    {
        cx.error_at(
            span,
            format_args!(
                "`searchable` on `{name}`: only text fields (`String`, with `text`, `email` or `url` or without) \
                 can be searched by `q=`"
            ),
        );
    }
    if let Some(span) = a.indexed
        && crate::LIST_PARAMETERS.contains(&name)
    {
        cx.error_at(
            span,
            format_args!(
                "`indexed` on `{name}`: the filter `?{name}=` would be the list's own parameter; rename the field \
                 (list parameters: {})",
                crate::LIST_PARAMETERS.join(", ")
            ),
        );
    }
}

fn sort(cx: &Ctxt, model: &Model<'_>) {
    let Some(sort) = &model.attrs.sort else {
        return;
    };
    let key = sort.value.strip_prefix('-').unwrap_or(&sort.value);
    if key.is_empty() {
        cx.error_at(
            sort.span,
            "`sort` needs a field name: `sort = \"name\"` or `sort = \"-created_at\"`",
        );
        return;
    }
    if IMPLICIT_SORT_KEYS.contains(&key) {
        return;
    }
    match model.fields.iter().find(|f| f.ident.unraw() == key) {
        Some(field) if field.attrs.sortable.is_some() => {}
        Some(_) => cx.error_at(
            sort.span,
            format_args!("cannot sort by `{key}`: the field is not sortable; add `#[rookery(sortable)]` to it"),
        ),
        None => {
            let names: Vec<String> = model.fields.iter().map(|f| f.ident.unraw().to_string()).collect();
            let mut candidates: Vec<&str> = names.iter().map(String::as_str).collect();
            candidates.extend(IMPLICIT_SORT_KEYS);
            let hint = match suggest(key, &candidates) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => "; sort by a sortable field, `id`, `created_at` or `updated_at`".to_owned(),
            };
            cx.error_at(sort.span, format_args!("cannot sort by `{key}`: no such field{hint}"));
        }
    }
}

pub(crate) fn model_enum(cx: &Ctxt, input: &Enum<'_>) {
    let mut seen: HashMap<&str, &syn::Ident> = HashMap::new();
    for variant in &input.variants {
        if variant.value.is_empty() {
            cx.error_at(variant.value_span, "an enum value cannot be empty");
        }
        if let Some(first) = seen.insert(&variant.value, variant.ident) {
            cx.error_at(
                variant.value_span,
                format_args!(
                    "duplicate enum value `{}`: variants `{first}` and `{}` would be stored as the same text",
                    variant.value, variant.ident
                ),
            );
        }
    }
}
