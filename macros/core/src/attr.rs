//! `#[rookery(...)]` attributes, read into typed options.
//!
//! Parsing recovers after each bad key (the value is skipped and the next key
//! read), so one mistake is one diagnostic and later keys are still checked.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Lit, UnOp};

use crate::case::suggest;
use crate::ctxt::Ctxt;

/// A value together with the span of the literal it was read from.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

/// `id = "bigint" | "uuid"`; uuid (v7) by default: ids that reveal
/// nothing about other tenants (a bigint identity is one sequence for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdKind {
    /// `bigint`: an identity column.
    BigInt,
    /// `uuid`: a UUID v7, the default.
    #[default]
    Uuid,
}

/// `on_delete = "restrict" | "cascade" | "set_null"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// Refuse the delete (the default).
    Restrict,
    /// Delete the referencing rows too.
    Cascade,
    /// Null the reference (optional references only).
    SetNull,
}

/// `permissions(read = "...", write = "...", delete = "...")`.
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    /// `read = "..."`.
    pub read: Option<String>,
    /// `write = "..."`.
    pub write: Option<String>,
    /// `delete = "..."` (defaults to `write`).
    pub delete: Option<String>,
    /// `assign = "..."`: needed to give a row to another member (the
    /// model's `owner` field set to anyone but the caller).
    pub assign: Option<String>,
}

/// `events(created, updated, deleted)`: the domain events a model's
/// writes record. Each is the span of its word when listed.
#[derive(Debug, Clone, Default)]
pub struct Events {
    /// `created`.
    pub created: Option<Span>,
    /// `updated`.
    pub updated: Option<Span>,
    /// `deleted`.
    pub deleted: Option<Span>,
}

impl Events {
    /// The listed events' names, in the order `created`, `updated`, `deleted`.
    pub fn names(&self) -> Vec<&'static str> {
        [
            ("created", self.created),
            ("updated", self.updated),
            ("deleted", self.deleted),
        ]
        .into_iter()
        .filter_map(|(name, span)| span.map(|_| name))
        .collect()
    }
}

/// Options on the struct deriving `TenantModel`.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ModelAttrs {
    /// `table = "..."`; the default is [`crate::default_table`].
    pub table: Option<Spanned<String>>,
    /// `id = "bigint" | "uuid"`, when written (see [`ModelAttrs::id_kind`]).
    pub id: Option<Spanned<IdKind>>,
    /// The span of `permissions`, and what it set.
    pub permissions: Option<Spanned<Permissions>>,
    /// `quota = "..."`: the plan limit that counts this model's rows.
    pub quota: Option<String>,
    /// `audit`: writes get audit rows.
    pub audit: bool,
    /// `events(...)`: the domain events writes record.
    pub events: Events,
    /// `sort = "field" | "-field"`: the default list order.
    pub sort: Option<Spanned<String>>,
    /// `renamed_from = "..."`: the model's previous name (read by the planner).
    pub renamed_from: Option<Spanned<String>>,
    /// `feature = "..."`: the plan feature its routes need.
    pub feature: Option<Spanned<String>>,
    /// An attribute failed to parse: "missing ..." errors would be noise.
    pub(crate) incomplete: bool,
}

impl ModelAttrs {
    /// The id kind: the one written, else uuid.
    pub fn id_kind(&self) -> IdKind {
        self.id.as_ref().map(|id| id.value).unwrap_or_default()
    }
}

/// Options on one field of a `TenantModel` struct. A flag is the span of
/// its key when set.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct FieldAttrs {
    /// `text`: long text (a `String` field).
    pub text: Option<Span>,
    /// `email`: an email address (a `String` field), validated on write,
    /// compared and unique without regard to case.
    pub email: Option<Span>,
    /// `url`: an absolute http or https URL (a `String` field).
    pub url: Option<Span>,
    /// `searchable`: matched by the list's text search `q=` (text fields).
    pub searchable: Option<Span>,
    /// `max_len = N` (positive).
    pub max_len: Option<Spanned<u32>>,
    /// `min = N`: a minimum value, or a string's minimum length.
    pub min: Option<Spanned<i64>>,
    /// `max = N`: a maximum value.
    pub max: Option<Spanned<i64>>,
    /// `unique` (per tenant).
    pub unique: Option<Span>,
    /// `indexed`.
    pub indexed: Option<Span>,
    /// `sortable`.
    pub sortable: Option<Span>,
    /// `default = <literal>`, as the literal's text (`"active"` → `active`, `-1.5`).
    pub default: Option<Spanned<String>>,
    /// `on_delete = "restrict" | "cascade" | "set_null"`.
    pub on_delete: Option<Spanned<OnDelete>>,
    /// `column = "..."`.
    pub column: Option<Spanned<String>>,
    /// `renamed_from = "..."`: the field's previous name (read by the planner).
    pub renamed_from: Option<Spanned<String>>,
    /// `owner`: the row's owner (a `UserId`); defaults to the caller.
    pub owner: Option<Span>,
    /// `write = "..."`: the permission a client needs to set the field.
    pub write: Option<Spanned<String>>,
    /// `read_only`: clients cannot set the field; the server does.
    pub read_only: Option<Span>,
    /// `sensitive`: its values are masked in the audit log.
    pub sensitive: Option<Span>,
}

/// Options on a variant of a `ModelEnum` enum.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct VariantAttrs {
    /// `rename = "..."`: the stored text instead of the snake_case name.
    pub rename: Option<Spanned<String>>,
}

const CONTAINER_KEYS: &[&str] = &[
    "table",
    "id",
    "permissions",
    "quota",
    "audit",
    "events",
    "sort",
    "renamed_from",
    "feature",
];
const FIELD_KEYS: &[&str] = &[
    "text",
    "email",
    "url",
    "searchable",
    "max_len",
    "min",
    "max",
    "unique",
    "indexed",
    "sortable",
    "default",
    "on_delete",
    "column",
    "renamed_from",
    "owner",
    "write",
    "read_only",
    "sensitive",
];
const VARIANT_KEYS: &[&str] = &["rename"];
const PERMISSION_KEYS: &[&str] = &["read", "write", "delete", "assign"];
const EVENT_KEYS: &[&str] = &["created", "updated", "deleted"];

/// Where an attribute sits, for messages about keys used in the wrong place.
#[derive(Clone, Copy)]
enum Level {
    Container,
    Field,
    Variant,
    EnumContainer,
}

impl Level {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Container => CONTAINER_KEYS,
            Self::Field => FIELD_KEYS,
            Self::Variant => VARIANT_KEYS,
            Self::EnumContainer => &[],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Container => "struct",
            Self::Field => "field",
            Self::Variant => "variant",
            Self::EnumContainer => "enum",
        }
    }
}

impl ModelAttrs {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Self::default();
        let complete = for_each_key(cx, attrs, Level::Container, |meta, key| {
            match key {
                "table" => out.table = lit_str(cx, meta, key)?,
                "id" => {
                    if let Some(v) = lit_str(cx, meta, key)? {
                        let value = match v.value.as_str() {
                            "bigint" => Some(IdKind::BigInt),
                            "uuid" => Some(IdKind::Uuid),
                            other => {
                                cx.error_at(
                                    v.span,
                                    format_args!(
                                        "unknown id type `{other}`; expected \"uuid\" (the default) or \"bigint\""
                                    ),
                                );
                                None
                            }
                        };
                        out.id = value.map(|value| Spanned { value, span: v.span });
                    }
                }
                "permissions" => {
                    let span = meta.path.segments[0].ident.span();
                    let mut perms = Permissions::default();
                    if meta.input.peek(syn::token::Paren) {
                        let mut seen = Vec::new();
                        meta.parse_nested_meta(|inner| {
                            let Some(key) = key_of(cx, &inner, &mut seen) else {
                                return skip_value(&inner);
                            };
                            let slot = match key.as_str() {
                                "read" => &mut perms.read,
                                "write" => &mut perms.write,
                                "delete" => &mut perms.delete,
                                "assign" => &mut perms.assign,
                                _ => {
                                    unknown_key(cx, &inner, &key, PERMISSION_KEYS, "permissions");
                                    return skip_value(&inner);
                                }
                            };
                            *slot = lit_str(cx, &inner, &key)?.map(|v| v.value);
                            Ok(())
                        })?;
                    } else {
                        cx.error_at(
                            span,
                            "expected `permissions(read = \"...\", write = \"...\", delete = \"...\")`",
                        );
                        skip_value(meta)?;
                    }
                    out.permissions = Some(Spanned { value: perms, span });
                }
                "quota" => out.quota = lit_str(cx, meta, key)?.map(|v| v.value),
                "audit" => out.audit = flag(cx, meta, key)?.is_some(),
                "events" => out.events = events(cx, meta)?,
                "sort" => out.sort = lit_str(cx, meta, key)?,
                "renamed_from" => out.renamed_from = lit_str(cx, meta, key)?,
                "feature" => out.feature = lit_str(cx, meta, key)?,
                _ => return Ok(false),
            }
            Ok(true)
        });
        out.incomplete = !complete;
        out
    }
}

impl FieldAttrs {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Self::default();
        for_each_key(cx, attrs, Level::Field, |meta, key| {
            match key {
                "text" => out.text = flag(cx, meta, key)?,
                "email" => out.email = flag(cx, meta, key)?,
                "url" => out.url = flag(cx, meta, key)?,
                "searchable" => out.searchable = flag(cx, meta, key)?,
                "max_len" => {
                    out.max_len = int(cx, meta, key)?.and_then(|v| match u32::try_from(v.value) {
                        Ok(n) if n > 0 => Some(Spanned { value: n, span: v.span }),
                        _ => {
                            cx.error_at(v.span, "`max_len` must be a positive integer");
                            None
                        }
                    });
                }
                "min" => out.min = int(cx, meta, key)?,
                "max" => out.max = int(cx, meta, key)?,
                "unique" => out.unique = flag(cx, meta, key)?,
                "indexed" => out.indexed = flag(cx, meta, key)?,
                "sortable" => out.sortable = flag(cx, meta, key)?,
                "default" => out.default = default_literal(cx, meta)?,
                "on_delete" => {
                    if let Some(v) = lit_str(cx, meta, key)? {
                        let value = match v.value.as_str() {
                            "restrict" => Some(OnDelete::Restrict),
                            "cascade" => Some(OnDelete::Cascade),
                            "set_null" => Some(OnDelete::SetNull),
                            "set_default" => {
                                cx.error_at(
                                    v.span,
                                    "`on_delete = \"set_default\"` is not supported: references are composite \
                                     `(tenant_id, x_id)` keys, and SET DEFAULT would also reset `tenant_id`; use \
                                     \"restrict\", \"cascade\" or \"set_null\" (optional references)",
                                );
                                None
                            }
                            other => {
                                cx.error_at(
                                    v.span,
                                    format_args!(
                                        "unknown on_delete action `{other}`; expected \"restrict\" (the default), \"cascade\" or \"set_null\""
                                    ),
                                );
                                None
                            }
                        };
                        out.on_delete = value.map(|value| Spanned { value, span: v.span });
                    }
                }
                "column" => out.column = lit_str(cx, meta, key)?,
                "renamed_from" => out.renamed_from = lit_str(cx, meta, key)?,
                "owner" => out.owner = flag(cx, meta, key)?,
                "write" => out.write = lit_str(cx, meta, key)?,
                "read_only" => out.read_only = flag(cx, meta, key)?,
                "sensitive" => out.sensitive = flag(cx, meta, key)?,
                _ => return Ok(false),
            }
            Ok(true)
        });
        out
    }
}

impl VariantAttrs {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Self::default();
        for_each_key(cx, attrs, Level::Variant, |meta, key| {
            match key {
                "rename" => out.rename = lit_str(cx, meta, key)?,
                _ => return Ok(false),
            }
            Ok(true)
        });
        out
    }
}

/// `events(created, updated, deleted)`: bare words, each at most once.
fn events(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Events> {
    let span = meta.path.segments[0].ident.span();
    let mut out = Events::default();
    if !meta.input.peek(syn::token::Paren) {
        cx.error_at(span, "expected `events(created, updated, deleted)` (any of the three)");
        skip_value(meta)?;
        return Ok(out);
    }
    let fork = meta.input.fork();
    let inside;
    syn::parenthesized!(inside in fork);
    if inside.is_empty() {
        let _empty;
        syn::parenthesized!(_empty in meta.input);
        cx.error_at(
            span,
            "`events()` lists no event: write `events(created, updated, deleted)` (any of the three) or leave it out",
        );
        return Ok(out);
    }
    let mut seen = Vec::new();
    meta.parse_nested_meta(|inner| {
        let Some(key) = key_of(cx, &inner, &mut seen) else {
            return skip_value(&inner);
        };
        let slot = match key.as_str() {
            "created" => &mut out.created,
            "updated" => &mut out.updated,
            "deleted" => &mut out.deleted,
            _ => {
                let hint = suggest(&key, EVENT_KEYS).map_or_else(String::new, |c| format!("did you mean `{c}`? "));
                cx.error_spanned_by(
                    &inner.path,
                    format_args!("unknown event `{key}`; {hint}a model's events are created, updated and deleted"),
                );
                return skip_value(&inner);
            }
        };
        *slot = flag(cx, &inner, &key)?;
        Ok(())
    })?;
    Ok(out)
}

/// Checks that an enum deriving `ModelEnum` has no container attributes.
pub(crate) fn enum_container(cx: &Ctxt, attrs: &[Attribute]) {
    for_each_key(cx, attrs, Level::EnumContainer, |_, _| Ok(false));
}

/// Runs `handle` on every key of every `#[rookery(...)]` attribute.
/// `handle` returns `Ok(false)` for a key it does not know. Returns whether
/// every attribute parsed.
fn for_each_key(
    cx: &Ctxt,
    attrs: &[Attribute],
    level: Level,
    mut handle: impl FnMut(&ParseNestedMeta<'_>, &str) -> syn::Result<bool>,
) -> bool {
    let mut complete = true;
    let mut seen = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("rookery")) {
        if let syn::Meta::Path(path) = &attr.meta {
            cx.error_spanned_by(path, "expected `#[rookery(...)]` with at least one option");
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            let Some(key) = key_of(cx, &meta, &mut seen) else {
                return skip_value(&meta);
            };
            if !handle(&meta, &key)? {
                unknown_key(cx, &meta, &key, level.keys(), level.describe());
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(err) = result {
            cx.syn_error(err);
            complete = false;
        }
    }
    complete
}

/// The key of a nested meta as a string; reports non-ident paths and
/// duplicates (returning `None` so the caller skips the value).
fn key_of(cx: &Ctxt, meta: &ParseNestedMeta<'_>, seen: &mut Vec<String>) -> Option<String> {
    let Some(ident) = meta.path.get_ident() else {
        cx.error_spanned_by(&meta.path, "expected an option name such as `table`, not a path");
        return None;
    };
    let key = ident.to_string();
    if seen.contains(&key) {
        cx.error_spanned_by(ident, format_args!("duplicate rookery attribute `{key}`"));
        return None;
    }
    seen.push(key.clone());
    Some(key)
}

fn unknown_key(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: &str, known: &[&str], level: &str) {
    let elsewhere = [
        ("struct", CONTAINER_KEYS),
        ("field", FIELD_KEYS),
        ("variant", VARIANT_KEYS),
    ]
    .into_iter()
    .find(|(name, keys)| *name != level && keys.contains(&key));
    let msg = if level == "enum" {
        format!(
            "unknown rookery attribute `{key}`: `#[derive(ModelEnum)]` takes no attributes on the enum; \
             use `#[rookery(rename = \"...\")]` on a variant"
        )
    } else if let Some((place, _)) = elsewhere.filter(|_| level != "permissions") {
        format!("`{key}` is a {place} attribute and cannot be used on a {level}")
    } else if let Some(close) = suggest(key, known) {
        format!("unknown rookery {level} attribute `{key}`; did you mean `{close}`?")
    } else {
        format!(
            "unknown rookery {level} attribute `{key}`; expected one of: {}",
            known.join(", ")
        )
    };
    cx.error_spanned_by(&meta.path, msg);
}

/// Consumes whatever follows a key (`= expr` or `(...)`), to recover after an error.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.input.parse::<syn::Token![=]>()?;
        meta.input.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

/// `key` with no value; returns the key's span.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<Option<Span>> {
    let msg = format!("`{key}` is a flag and takes no value: write `{key}`");
    if meta.input.peek(syn::Token![=]) {
        meta.input.parse::<syn::Token![=]>()?;
        let value: Expr = meta.input.parse()?;
        cx.error_spanned_by(value, msg);
        return Ok(None);
    }
    if meta.input.peek(syn::token::Paren) {
        let group: proc_macro2::Group = meta.input.parse()?;
        cx.error_at(group.span(), msg);
        return Ok(None);
    }
    Ok(Some(meta.path.segments[0].ident.span()))
}

/// `key = <expr>`: the expression, or `None` with an error when `=` is missing.
fn value_expr(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<Option<Expr>> {
    if !meta.input.peek(syn::Token![=]) {
        cx.error_spanned_by(&meta.path, format_args!("expected a value: `{key} = {example}`"));
        skip_value(meta)?;
        return Ok(None);
    }
    meta.input.parse::<syn::Token![=]>()?;
    meta.input.parse::<Expr>().map(Some)
}

/// `key = "string"`.
fn lit_str(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<Option<Spanned<String>>> {
    let Some(expr) = value_expr(cx, meta, key, "\"...\"")? else {
        return Ok(None);
    };
    match &expr {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(Some(Spanned {
            value: s.value(),
            span: s.span(),
        })),
        other => {
            cx.error_spanned_by(
                other,
                format_args!("expected a string literal for `{key}`: `{key} = \"...\"`"),
            );
            Ok(None)
        }
    }
}

/// `key = 42` or `key = -42`.
fn int(cx: &Ctxt, meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<Option<Spanned<i64>>> {
    let Some(expr) = value_expr(cx, meta, key, "<integer>")? else {
        return Ok(None);
    };
    let lit = match &expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(("", lit)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(ExprLit { lit, .. }) => Some(("-", lit)),
            _ => None,
        },
        _ => None,
    };
    match lit {
        Some((sign, Lit::Int(int))) => match format!("{sign}{}", int.base10_digits()).parse() {
            Ok(value) => Ok(Some(Spanned {
                value,
                span: int.span(),
            })),
            Err(_) => {
                cx.error_spanned_by(&expr, format_args!("`{key}` is out of range for a 64-bit integer"));
                Ok(None)
            }
        },
        Some((_, Lit::Str(s))) if s.value().trim().parse::<i64>().is_ok() => {
            cx.error_spanned_by(
                &expr,
                format_args!(
                    "expected an integer literal for `{key}`, found a string: write `{key} = {}` without quotes",
                    s.value().trim()
                ),
            );
            Ok(None)
        }
        _ => {
            cx.error_spanned_by(
                &expr,
                format_args!("expected an integer literal for `{key}`: `{key} = 42`"),
            );
            Ok(None)
        }
    }
}

/// `default = "text" | true | 0 | -1.5`: kept as the literal's text.
fn default_literal(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Spanned<String>>> {
    let Some(expr) = value_expr(cx, meta, "default", "\"...\"")? else {
        return Ok(None);
    };
    let (sign, lit) = match &expr {
        Expr::Lit(ExprLit { lit, .. }) => ("", Some(lit)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(ExprLit {
                lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                ..
            }) => ("-", Some(lit)),
            _ => ("", None),
        },
        _ => ("", None),
    };
    let value = match lit {
        Some(Lit::Str(s)) => Some(s.value()),
        Some(Lit::Bool(b)) => Some(b.value.to_string()),
        Some(Lit::Int(i)) if i.suffix().is_empty() => Some(format!("{sign}{}", i.base10_digits())),
        Some(Lit::Float(f)) if f.suffix().is_empty() => Some(format!("{sign}{}", f.base10_digits())),
        _ => None,
    };
    match value {
        Some(value) => Ok(Some(Spanned {
            value,
            span: syn::spanned::Spanned::span(&expr),
        })),
        None => {
            cx.error_spanned_by(
                &expr,
                "expected a literal for `default`: a string, `true`/`false` or a number",
            );
            Ok(None)
        }
    }
}
