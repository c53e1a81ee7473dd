//! Fields: names and columns, the options each type allows, references
//! and defaults.

use std::cmp::Ordering;

use indexmap::IndexMap;
use toml::{Spanned, Value};

use crate::check::names::{self, IMPLICIT_COLUMNS, IdentKind, PLATFORM_MODELS};
use crate::check::report::Ctx;
use crate::check::roles::duplicates;
use crate::check::values;
use crate::spec::{FieldKind, FieldSpec, ModelSpec, Spec};

pub(super) fn check(ctx: &mut Ctx, spec: &Spec, model: &ModelSpec) {
    for (name, field) in &model.fields {
        check_name(ctx, name);
        check_ref(ctx, spec, field);
        check_enum(ctx, field);
        check_bounds(ctx, name, field);
        check_default(ctx, name, field);
        if let Some(old) = &field.renamed_from {
            super::renamed_from(ctx, "field", name, old);
        }
    }
    check_columns(ctx, model);
}

fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::String => "string",
        FieldKind::Text => "text",
        FieldKind::Int => "int",
        FieldKind::Bigint => "bigint",
        FieldKind::Decimal => "decimal",
        FieldKind::Bool => "bool",
        FieldKind::Date => "date",
        FieldKind::Datetime => "datetime",
        FieldKind::Uuid => "uuid",
        FieldKind::Enum => "enum",
        FieldKind::Json => "json",
        FieldKind::Ref => "ref",
        FieldKind::Email => "email",
        FieldKind::Url => "url",
    }
}

fn check_name(ctx: &mut Ctx, name: &Spanned<String>) {
    if !names::shape(ctx, "field name", name) {
        return;
    }
    let text = name.get_ref().as_str();
    if IMPLICIT_COLUMNS.contains(&text) {
        ctx.error(
            "rookery::implicit_column",
            name.span(),
            format!("`{text}` is an implicit column"),
        )
        .label("set by rookery")
        .help_text(format!(
            "every table already has {}, filled in automatically; remove this field or rename it",
            super::list(IMPLICIT_COLUMNS)
        ));
        return;
    }
    names::ident(ctx, IdentKind::Field, name);
}

/// A ref field `x` is stored in column `x_id` (`x_id` in `x_id`); no two
/// fields may share a column.
fn check_columns(ctx: &mut Ctx, model: &ModelSpec) {
    let mut columns: IndexMap<String, &str> = IndexMap::new();
    for (name, field) in &model.fields {
        let text = name.get_ref().as_str();
        let is_ref = *field.kind.get_ref() == FieldKind::Ref;
        let column = if is_ref {
            crate::naming::ref_column(text)
        } else {
            text.to_owned()
        };
        if is_ref && IMPLICIT_COLUMNS.contains(&column.as_str()) {
            ctx.error(
                "rookery::column_clash",
                name.span(),
                format!("ref field `{text}` would be stored in column `{column}`"),
            )
            .label("column taken")
            .help_text(format!(
                "`{column}` is an implicit column of every table; rename the field"
            ));
            continue;
        }
        if let Some(other) = columns.get(&column) {
            ctx.error(
                "rookery::column_clash",
                name.span(),
                format!("fields `{other}` and `{text}` would both be stored in column `{column}`"),
            )
            .label("same column")
            .help_text("a ref field `x` is stored in column `x_id` (`x_id` stays `x_id`); rename one of them");
            continue;
        }
        columns.insert(column, text);
    }
}

/// `to` and `on_delete`: required or allowed only on refs, and valid there.
fn check_ref(ctx: &mut Ctx, spec: &Spec, field: &FieldSpec) {
    let kind = *field.kind.get_ref();
    if kind != FieldKind::Ref {
        for (option, value) in [("to", &field.to), ("on_delete", &field.on_delete)] {
            if let Some(value) = value {
                only_for(ctx, option, value.span(), kind, "ref");
            }
        }
        return;
    }
    match &field.to {
        None => {
            ctx.error("rookery::missing_to", field.kind.span(), "a ref field needs `to`")
                .label("ref to what?")
                .help_text(
                    "name the referenced model with `to = \"<model>\"`, or `to = \"user\"` for a member of the tenant",
                );
        }
        Some(to) => {
            let target = to.get_ref().as_str();
            if target != "user" && !spec.models.contains_key(target) {
                if PLATFORM_MODELS.contains(&target) {
                    ctx.error("rookery::unknown_model", to.span(), format!("platform model `{target}` cannot be referenced"))
                        .label("not referenceable")
                        .help_text("among the platform's models only `user` can be referenced; the tenant is implicit in every row");
                } else {
                    let candidates: Vec<&str> = spec
                        .models
                        .keys()
                        .map(|k| k.get_ref().as_str())
                        .chain(["user"])
                        .collect();
                    ctx.error("rookery::unknown_model", to.span(), format!("unknown model `{target}`"))
                        .label("no such model")
                        .suggest(
                            target,
                            candidates.iter().copied(),
                            Some(format!(
                                "`to` names a model of this spec or `user`: {}",
                                super::list(candidates.iter().copied())
                            )),
                        );
                }
            }
        }
    }
    if let Some(on_delete) = &field.on_delete {
        let text = on_delete.get_ref().as_str();
        match text {
            "restrict" | "cascade" => {}
            "set_null" if !field.optional => {
                ctx.error(
                    "rookery::bad_on_delete",
                    on_delete.span(),
                    "`on_delete = \"set_null\"` needs an optional reference",
                )
                .label("the field is required")
                .help_text(
                    "deleting the referenced row would leave this required field null; add `optional = true`, or use \
                     `restrict` (refuse the delete) or `cascade` (delete these rows too)",
                );
            }
            "set_null" => {}
            "set_default" => {
                ctx.error(
                    "rookery::bad_on_delete",
                    on_delete.span(),
                    "`on_delete = \"set_default\"` is not supported",
                )
                .label("would reset the tenant id")
                .help_text(
                    "every key between tenant tables is composite (tenant_id, x_id), so SET DEFAULT would reset \
                         tenant_id too; use `restrict`, `cascade` or `set_null` (optional references)",
                );
            }
            _ => {
                ctx.error(
                    "rookery::bad_on_delete",
                    on_delete.span(),
                    format!("unknown `on_delete` action `{text}`"),
                )
                .label("not an action")
                .suggest(
                    text,
                    ["restrict", "cascade", "set_null"],
                    Some("use `restrict`, `cascade` or `set_null`".to_owned()),
                );
            }
        }
    }
}

fn only_for(ctx: &mut Ctx, option: &str, span: std::ops::Range<usize>, kind: FieldKind, allowed: &str) {
    ctx.error(
        "rookery::misplaced_option",
        span,
        format!("`{option}` is only for {allowed} fields"),
    )
    .label(format!("on {} field", with_article(kind_name(kind))))
    .help_text(format!("remove `{option}`, or change the field's type"));
}

/// `values`: required, non-empty and unique on enums; only there.
fn check_enum(ctx: &mut Ctx, field: &FieldSpec) {
    let kind = *field.kind.get_ref();
    let Some(values) = &field.values else {
        if kind == FieldKind::Enum {
            ctx.error(
                "rookery::missing_values",
                field.kind.span(),
                "an enum field needs `values`",
            )
            .label("enum of what?")
            .help_text("list the allowed values: `values = [\"active\", \"archived\"]`");
        }
        return;
    };
    if kind != FieldKind::Enum {
        only_for(ctx, "values", values.span(), kind, "enum");
        return;
    }
    if values.get_ref().is_empty() {
        ctx.error("rookery::missing_values", values.span(), "`values` is empty")
            .label("no values")
            .help_text("an enum needs at least one value");
    }
    for value in values.get_ref() {
        names::ident(ctx, IdentKind::EnumValue, value);
    }
    for duplicate in duplicates(values.get_ref()) {
        ctx.error(
            "rookery::duplicate",
            duplicate.span(),
            format!("value `{}` is listed twice", duplicate.get_ref()),
        )
        .label("duplicate")
        .help_text("remove this entry");
    }
    // Distinct values whose Rust variants would be one.
    let mut variants: IndexMap<String, &str> = IndexMap::new();
    for value in values.get_ref() {
        let text = value.get_ref().as_str();
        let variant = crate::model::variant_name(text);
        match variants.get(&variant) {
            Some(other) if *other != text => {
                ctx.error(
                    "rookery::duplicate",
                    value.span(),
                    format!("values `{other}` and `{text}` would both be the Rust variant `{variant}`"),
                )
                .label("same variant")
                .help_text("rename one of them");
            }
            Some(_) => {}
            None => {
                variants.insert(variant, text);
            }
        }
    }
}

/// `max_len`, `min`, `max`, and the index flags.
fn check_bounds(ctx: &mut Ctx, name: &Spanned<String>, field: &FieldSpec) {
    let kind = *field.kind.get_ref();
    if let Some(max_len) = &field.max_len {
        if !matches!(
            kind,
            FieldKind::String | FieldKind::Text | FieldKind::Email | FieldKind::Url
        ) {
            only_for(ctx, "max_len", max_len.span(), kind, "string, text, email and url");
        } else if *max_len.get_ref() < 1 {
            ctx.error("rookery::bad_bound", max_len.span(), "`max_len` must be at least 1")
                .label("too small")
                .help_text("`max_len` is the longest value accepted, in characters");
        }
    }
    let numeric = matches!(kind, FieldKind::Int | FieldKind::Bigint | FieldKind::Decimal);
    for (option, bound) in [("min", &field.min), ("max", &field.max)] {
        let Some(bound) = bound else { continue };
        if !numeric {
            only_for(ctx, option, bound.span(), kind, "int, bigint and decimal");
        } else if kind == FieldKind::Int && i32::try_from(*bound.get_ref()).is_err() {
            ctx.error(
                "rookery::bad_bound",
                bound.span(),
                format!("`{option}` does not fit an int"),
            )
            .label("out of range")
            .help_text("an int is 32 bits (-2147483648 to 2147483647); use `bigint` for larger numbers");
        } else if kind == FieldKind::Decimal && bound.get_ref().unsigned_abs() > values::DECIMAL_BOUND_LIMIT {
            ctx.error(
                "rookery::bad_bound",
                bound.span(),
                format!("`{option}` of a decimal is too large"),
            )
            .label("out of range")
            .help_text(format!(
                "decimal bounds lie within ±{} (2^53): SQLite compares decimals as floating-point numbers, which \
                 hold larger integers inexactly",
                values::DECIMAL_BOUND_LIMIT
            ));
        }
    }
    if let (true, Some(min), Some(max)) = (numeric, &field.min, &field.max)
        && min.get_ref() > max.get_ref()
    {
        ctx.error(
            "rookery::bad_bound",
            max.span(),
            format!("`max` ({}) is less than `min` ({})", max.get_ref(), min.get_ref()),
        )
        .label("below min")
        .help_text("swap them, or fix one of them");
    }
    if field.indexed && rookery_macros_core::LIST_PARAMETERS.contains(&name.get_ref().as_str()) {
        ctx.error(
            "rookery::filter_collision",
            name.span(),
            format!(
                "indexed field `{}` would be a list filter named like a list parameter",
                name.get_ref()
            ),
        )
        .label("an `indexed` field becomes the `?<name>=` filter")
        .help_text(format!(
            "`{}` is the list route's own query parameter, so the filter could never be used (and the OpenAPI \
             document would name it twice); rename the field or drop `indexed`",
            name.get_ref()
        ));
    }
    if field.sortable && field.optional {
        ctx.error(
            "rookery::optional_sortable",
            name.span(),
            format!("optional field `{}` cannot be `sortable`", name.get_ref()),
        )
        .label("optional and sortable")
        .help_text(
            "a list is paged by a cursor on its sort key, which needs a value in every row; make the field required \
             (with a `default`) or remove `sortable`",
        );
    }
    if let Some(searchable) = field.searchable.as_ref().filter(|s| *s.get_ref())
        && !matches!(
            kind,
            FieldKind::String | FieldKind::Text | FieldKind::Email | FieldKind::Url
        )
    {
        ctx.error(
            "rookery::misplaced_option",
            searchable.span(),
            format!("{} field cannot be `searchable`", with_article(kind_name(kind))),
        )
        .label(format!("on {} field", with_article(kind_name(kind))))
        .help_text(
            "`?q=` searches text: string, text, email and url fields; filter other types with `indexed = true` \
             (`?field=`, `?field[in]=`, and ranges such as `?field[gte]=` on numbers and dates)",
        );
    }
    if matches!(kind, FieldKind::Text | FieldKind::Json) {
        let flags = [
            ("unique", field.unique),
            ("indexed", field.indexed),
            ("sortable", field.sortable),
        ];
        for (flag, _) in flags.iter().filter(|(_, on)| *on) {
            ctx.error(
                "rookery::misplaced_option",
                name.span(),
                format!("a {} field cannot be `{flag}`", kind_name(kind)),
            )
            .label(format!("`{flag} = true`"))
            .help_text(
                "text and json values are too large to index; use `type = \"string\"` with a `max_len` for a key",
            );
        }
    }
}

/// Warnings: a unique field with a default lets only one create omit it;
/// `sensitive` on a model that is not audited does nothing.
pub(super) fn warnings(ctx: &mut Ctx, model: &ModelSpec) {
    for (name, field) in &model.fields {
        let Some(default) = field.default.as_ref().filter(|_| field.unique) else {
            continue;
        };
        ctx.warning(
            "rookery::unique_default",
            default.span(),
            format!("unique field `{}` has a default", name.get_ref()),
        )
        .label("the same value for every create that omits it")
        .help_text("a second create without the field conflicts (409); remove the default or `unique`");
    }
    // `sensitive` masks a field in the audit log: of no use where no row is audited.
    if !model.audit {
        for (name, field) in &model.fields {
            if let Some(flag) = field.sensitive.as_ref().filter(|f| *f.get_ref()) {
                ctx.warning(
                    "rookery::sensitive_unaudited",
                    flag.span(),
                    format!("`sensitive` on `{}` of a model that is not audited", name.get_ref()),
                )
                .label("nothing records its values")
                .help_text(
                    "`sensitive` masks the field's values in the audit log; add `audit = true` to the model or drop it",
                );
            }
        }
    }
}

/// A default must fit the field's type and bounds.
fn check_default(ctx: &mut Ctx, name: &Spanned<String>, field: &FieldSpec) {
    let Some(default) = &field.default else {
        return;
    };
    let kind = *field.kind.get_ref();
    let field_name = name.get_ref();
    let value = default.get_ref();
    let span = default.span();
    let expected = match kind {
        FieldKind::Email | FieldKind::Url => {
            ctx.error(
                "rookery::bad_default",
                span,
                format!("{} field cannot have a default", with_article(kind_name(kind))),
            )
            .label("default not allowed")
            .help_text("an address is each row's own; make the field `optional` or set it in each create request");
            return;
        }
        FieldKind::Ref | FieldKind::Json => {
            ctx.error(
                "rookery::bad_default",
                span,
                format!("a {} field cannot have a default", kind_name(kind)),
            )
            .label("default not allowed")
            .help_text(if kind == FieldKind::Ref {
                "a referenced row's id differs per tenant; make the field `optional` or set it in each create request"
            } else {
                "set the document in each create request, or make the field `optional`"
            });
            return;
        }
        FieldKind::Bool => match value {
            Value::Boolean(_) => return,
            _ => "a boolean (`true` or `false`)",
        },
        FieldKind::Int | FieldKind::Bigint => match value {
            Value::Integer(n) => {
                integer_default(ctx, span, kind, field, *n);
                return;
            }
            _ => "an integer",
        },
        FieldKind::Decimal => match value {
            Value::Integer(n) => {
                bounded_default(ctx, span, field, &n.to_string(), |bound| n.cmp(&bound));
                return;
            }
            Value::String(text) if values::is_decimal(text) => {
                bounded_default(ctx, span, field, text, |bound| values::decimal_cmp(text, bound));
                return;
            }
            Value::String(_) => {
                return bad_text(ctx, span, field_name, "decimal", "\"12.50\" (at most 28 digits)");
            }
            Value::Float(_) => {
                ctx.error(
                    "rookery::bad_default",
                    span,
                    format!("default of `{field_name}` is a float"),
                )
                .label("would lose precision")
                .help_text("write a decimal default as a string, such as `default = \"12.50\"`");
                return;
            }
            _ => "a decimal as a string, such as \"12.50\"",
        },
        FieldKind::String | FieldKind::Text => match value {
            Value::String(text) => {
                let len = text.chars().count();
                if let Some(max_len) = field
                    .max_len
                    .as_ref()
                    .filter(|m| i64::try_from(len).is_ok_and(|l| l > *m.get_ref()))
                {
                    ctx.error(
                        "rookery::bad_default",
                        span,
                        format!("default of `{field_name}` is longer than `max_len`"),
                    )
                    .label(format!("{len} characters"))
                    .help_text(format!(
                        "`max_len` is {}; shorten the default or raise `max_len`",
                        max_len.get_ref()
                    ));
                }
                return;
            }
            _ => "a string",
        },
        FieldKind::Enum => match value {
            Value::String(text) => {
                let allowed: Vec<&str> = field
                    .values
                    .iter()
                    .flat_map(|v| v.get_ref())
                    .map(|v| v.get_ref().as_str())
                    .collect();
                if !allowed.contains(&text.as_str()) {
                    ctx.error(
                        "rookery::bad_default",
                        span,
                        format!("default `{text}` is not one of the values of `{field_name}`"),
                    )
                    .label("not in `values`")
                    .suggest(
                        text,
                        allowed.iter().copied(),
                        Some(format!("values: {}", super::list(allowed.iter().copied()))),
                    );
                }
                return;
            }
            _ => "one of the `values`, as a string",
        },
        FieldKind::Date => match value {
            Value::Datetime(d) if values::is_date_value(d) => return,
            Value::Datetime(_) => return bad_text(ctx, span, field_name, "date", "`2024-01-31`"),
            Value::String(text) if values::is_date(text) => return,
            Value::String(_) => return bad_text(ctx, span, field_name, "date", "`2024-01-31`"),
            _ => "a date, such as `2024-01-31`",
        },
        FieldKind::Datetime => match value {
            Value::Datetime(d) if values::is_datetime_value(d) => return,
            Value::Datetime(_) => {
                return bad_text(
                    ctx,
                    span,
                    field_name,
                    "datetime",
                    "`2024-01-31T09:00:00Z` (with an offset)",
                );
            }
            Value::String(text) if values::is_datetime(text) => return,
            Value::String(_) => {
                return bad_text(ctx, span, field_name, "datetime", "`2024-01-31T09:00:00Z`");
            }
            _ => "an instant with an offset, such as `2024-01-31T09:00:00Z`",
        },
        FieldKind::Uuid => match value {
            Value::String(text) if values::is_uuid(text) => return,
            Value::String(_) => {
                return bad_text(
                    ctx,
                    span,
                    field_name,
                    "uuid",
                    "\"0190b1a2-7c3d-7def-8abc-0123456789ab\"",
                );
            }
            _ => "a UUID string, such as \"0190b1a2-7c3d-7def-8abc-0123456789ab\"",
        },
    };
    ctx.error(
        "rookery::bad_default",
        span,
        format!("default of `{field_name}` does not fit type `{}`", kind_name(kind)),
    )
    .label(format!("found {}", with_article(value.type_str())))
    .help_text(format!("the default of a {} field must be {expected}", kind_name(kind)));
}

/// A default of the right TOML type whose text is not a valid `what`.
fn bad_text(ctx: &mut Ctx, span: std::ops::Range<usize>, field: &str, what: &str, example: &str) {
    ctx.error(
        "rookery::bad_default",
        span,
        format!("default of `{field}` is not a valid {what}"),
    )
    .label(format!("not a valid {what}"))
    .help_text(format!("write a {what} such as {example}"));
}

fn integer_default(ctx: &mut Ctx, span: std::ops::Range<usize>, kind: FieldKind, field: &FieldSpec, n: i64) {
    if kind == FieldKind::Int && i32::try_from(n).is_err() {
        ctx.error("rookery::bad_default", span, "default does not fit an int")
            .label("out of range")
            .help_text("an int is 32 bits; use `bigint` for larger numbers");
        return;
    }
    bounded_default(ctx, span, field, &n.to_string(), |bound| n.cmp(&bound));
}

/// A number default must lie between `min` and `max`; `compare(bound)` is
/// how the default compares with a bound.
fn bounded_default(
    ctx: &mut Ctx,
    span: std::ops::Range<usize>,
    field: &FieldSpec,
    shown: &str,
    compare: impl Fn(i64) -> Ordering,
) {
    if let Some(min) = field.min.as_ref().filter(|m| compare(*m.get_ref()).is_lt()) {
        ctx.error(
            "rookery::bad_default",
            span,
            format!("default {shown} is less than `min` ({})", min.get_ref()),
        )
        .label("below min")
        .help_text("the default must lie between `min` and `max`");
    } else if let Some(max) = field.max.as_ref().filter(|m| compare(*m.get_ref()).is_gt()) {
        ctx.error(
            "rookery::bad_default",
            span,
            format!("default {shown} is greater than `max` ({})", max.get_ref()),
        )
        .label("above max")
        .help_text("the default must lie between `min` and `max`");
    }
}

/// "an integer", "a string", "a uuid", "a url".
fn with_article(noun: &str) -> String {
    if noun.starts_with(['a', 'e', 'i', 'o']) {
        format!("an {noun}")
    } else {
        format!("a {noun}")
    }
}
