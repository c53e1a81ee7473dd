//! What a field's Rust type is stored as: the one rule the derive and the
//! generator both apply ([`recognise`]).

use quote::ToTokens;
use syn::{GenericArgument, Path, PathArguments, PathSegment, Type};

/// How a field is stored, as read from its Rust type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredType {
    /// What the column holds.
    pub kind: Kind,
    /// `Option<T>`: the column is nullable.
    pub optional: bool,
}

/// The runtime field kind of a recognised type (`rookery::model::FieldType`).
///
/// Long text is [`Kind::String`] plus the field's `text` option. Exhaustive
/// on purpose: the derive and the generator match every kind, so a new one
/// fails both builds until both handle it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `String`: short text (or long with `text`).
    String,
    /// `i32`.
    Int,
    /// `i64`.
    BigInt,
    /// `rust_decimal::Decimal`.
    Decimal,
    /// `bool`.
    Bool,
    /// `chrono::NaiveDate`.
    Date,
    /// `chrono::DateTime<Utc>`.
    DateTime,
    /// `uuid::Uuid`.
    Uuid,
    /// `serde_json::Value`.
    Json,
    /// `rookery::UserId`: a member of the tenant.
    User,
    /// `<Model>Id` or `rookery::Id<Model>`: a row of another model.
    Ref {
        /// The model's struct name (`Project` for `ProjectId`).
        model: String,
    },
    /// Any other plain path: a `#[derive(ModelEnum)]` enum, by its last
    /// segment (`ProjectStatus` for `super::ProjectStatus`).
    Enum {
        /// The enum's name.
        name: String,
    },
}

/// A type rookery knows by name, and the paths it may be written with.
struct Known {
    name: &'static str,
    kind: Kind,
    /// Accepted module paths before the name; `""` is the bare name.
    prefixes: &'static [&'static str],
}

const STD_PRIMITIVE: &[&str] = &["", "std::primitive", "core::primitive"];
const CHRONO: &[&str] = &["", "chrono", "rookery::chrono"];

fn known() -> [Known; 10] {
    [
        Known {
            name: "String",
            kind: Kind::String,
            prefixes: &["", "std::string", "alloc::string"],
        },
        Known {
            name: "i32",
            kind: Kind::Int,
            prefixes: STD_PRIMITIVE,
        },
        Known {
            name: "i64",
            kind: Kind::BigInt,
            prefixes: STD_PRIMITIVE,
        },
        Known {
            name: "bool",
            kind: Kind::Bool,
            prefixes: STD_PRIMITIVE,
        },
        Known {
            name: "Decimal",
            kind: Kind::Decimal,
            prefixes: &["", "rust_decimal", "rust_decimal::prelude", "rookery"],
        },
        Known {
            name: "NaiveDate",
            kind: Kind::Date,
            prefixes: &["", "chrono", "chrono::naive", "rookery::chrono"],
        },
        Known {
            name: "DateTime",
            kind: Kind::DateTime,
            prefixes: CHRONO,
        },
        Known {
            name: "Uuid",
            kind: Kind::Uuid,
            prefixes: &["", "uuid", "rookery::uuid"],
        },
        Known {
            name: "Value",
            kind: Kind::Json,
            prefixes: &["", "serde_json", "rookery::serde_json"],
        },
        Known {
            name: "UserId",
            kind: Kind::User,
            prefixes: &["", "rookery", "rookery::model"],
        },
    ]
}

const OPTION_PREFIXES: &[&str] = &["", "std::option", "core::option"];
const ID_PREFIXES: &[&str] = &["", "rookery", "rookery::model"];
const UTC_PREFIXES: &[&str] = &["", "chrono", "chrono::offset", "rookery::chrono"];

/// Primitive names that are never an enum.
const PRIMITIVES: &[&str] = &[
    "i8", "i16", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32", "f64", "char", "str",
];

const SUPPORTED: &str = "use String, i32, i64, Decimal, bool, NaiveDate, DateTime<Utc>, Uuid, serde_json::Value, \
                         a `#[derive(ModelEnum)]` enum, `<Model>Id` or `UserId`, optionally in `Option<…>`";

/// Reads what a field's type is stored as.
///
/// The rule, the same for the derive and the generator (neither can resolve
/// names, so both read the path as written):
///
/// - `Option<T>` (also `std::option::Option`, `core::option::Option`) is an
///   optional `T`; `T` itself may not be an `Option`.
/// - A known type is recognised by its bare name or by the crate paths users
///   write, and by nothing else: `String` / `std::string::String`; `i32`,
///   `i64`, `bool` (also under `std::primitive`); `Decimal` /
///   `rust_decimal::Decimal` / `rookery::Decimal`; `NaiveDate`,
///   `DateTime<Utc>` under `chrono` or `rookery::chrono`; `Uuid` /
///   `uuid::Uuid` / `rookery::uuid::Uuid`; `Value` / `serde_json::Value` /
///   `rookery::serde_json::Value`; `UserId` / `rookery::UserId`; `Id<M>` /
///   `rookery::Id<M>`. A leading `::` is allowed.
/// - A known name under any other path (`foo::String`, `my::Uuid`) is
///   refused: it is someone else's type, not silently the known one.
/// - Any other path without generic arguments is a reference when its last
///   segment is `<Model>Id` (`super::ProjectId`), else a
///   `#[derive(ModelEnum)]` enum named by its last segment; the module path
///   before it is the user's own and is not checked.
/// - Everything else (other primitives, generics, references, tuples) is
///   refused.
///
/// A bare name can still be shadowed by a `use`; the derive guards against
/// that with a compile-time assertion that the type's `FieldValue` stores
/// what this function said.
///
/// # Errors
///
/// A message spanned on the type when it is not one of the above.
pub fn recognise(ty: &Type) -> Result<StoredType, syn::Error> {
    match unwrap(ty) {
        Type::Path(p) if p.qself.is_none() => {
            if let Some(inner) = single_arg(&p.path, "Option", OPTION_PREFIXES) {
                let inner = recognise_plain(inner.ok_or_else(|| unsupported(ty))?)?;
                return Ok(StoredType {
                    kind: inner,
                    optional: true,
                });
            }
            Ok(StoredType {
                kind: recognise_path(ty, &p.path)?,
                optional: false,
            })
        }
        _ => Err(unsupported(ty)),
    }
}

/// The inside of an `Option`: anything but another `Option`.
fn recognise_plain(ty: &Type) -> Result<Kind, syn::Error> {
    match unwrap(ty) {
        Type::Path(p) if p.qself.is_none() => {
            if single_arg(&p.path, "Option", OPTION_PREFIXES).is_some() {
                return Err(syn::Error::new_spanned(
                    ty,
                    "a nested `Option` is not supported: a column is null or holds a value",
                ));
            }
            recognise_path(ty, &p.path)
        }
        _ => Err(unsupported(ty)),
    }
}

fn recognise_path(ty: &Type, path: &Path) -> Result<Kind, syn::Error> {
    let (prefix, last) = split(path).ok_or_else(|| unsupported(ty))?;
    let name = last.ident.to_string();
    if let Some(known) = known().into_iter().find(|k| k.name == name) {
        let generics_ok = if known.kind == Kind::DateTime {
            match type_arg(last) {
                Some(Some(Type::Path(utc))) if utc.qself.is_none() => split(&utc.path).is_some_and(|(p, l)| {
                    l.ident == "Utc" && l.arguments.is_none() && UTC_PREFIXES.contains(&p.as_str())
                }),
                _ => false,
            }
        } else {
            last.arguments.is_none()
        };
        if !known.prefixes.contains(&prefix.as_str()) || !generics_ok {
            return Err(foreign(ty, known.name, known.prefixes));
        }
        return Ok(known.kind);
    }
    if name == "Id" && !last.arguments.is_none() {
        if !ID_PREFIXES.contains(&prefix.as_str()) {
            return Err(foreign(ty, "Id", ID_PREFIXES));
        }
        return match type_arg(last) {
            Some(Some(Type::Path(model))) if model.qself.is_none() => match model.path.segments.last() {
                Some(seg) if seg.arguments.is_none() => Ok(Kind::Ref {
                    model: seg.ident.to_string(),
                }),
                _ => Err(unsupported(ty)),
            },
            _ => Err(unsupported(ty)),
        };
    }
    if name == "Option" {
        return Err(foreign(ty, "Option", OPTION_PREFIXES));
    }
    if !last.arguments.is_none() || PRIMITIVES.contains(&name.as_str()) {
        return Err(unsupported(ty));
    }
    Ok(match name.strip_suffix("Id") {
        Some(model) if !model.is_empty() => Kind::Ref {
            model: model.to_owned(),
        },
        _ => Kind::Enum { name },
    })
}

/// Looks through invisible groups (a `$ty` from `macro_rules!`) and parentheses.
fn unwrap(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => unwrap(&g.elem),
        Type::Paren(p) => unwrap(&p.elem),
        other => other,
    }
}

/// The module path before the last segment (`std::string`), and the last
/// segment; `None` when a segment before the last has generic arguments.
fn split(path: &Path) -> Option<(String, &PathSegment)> {
    let last = path.segments.last()?;
    let mut prefix = Vec::new();
    for seg in path.segments.iter().take(path.segments.len() - 1) {
        if !seg.arguments.is_none() {
            return None;
        }
        prefix.push(seg.ident.to_string());
    }
    Some((prefix.join("::"), last))
}

/// `Name<T>` under one of `prefixes`: `Some(Some(T))`; `Some(None)` when the
/// arguments are not one type; `None` when the path is something else.
fn single_arg<'a>(path: &'a Path, name: &str, prefixes: &[&str]) -> Option<Option<&'a Type>> {
    let (prefix, last) = split(path)?;
    (last.ident == name && prefixes.contains(&prefix.as_str()) && !last.arguments.is_none()).then(|| type_arg(last)?)
}

/// The one type argument of `seg` (`Some(None)` when there are other arguments).
fn type_arg(seg: &PathSegment) -> Option<Option<&Type>> {
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return Some(None);
    };
    let mut args = args.args.iter();
    Some(match (args.next(), args.next()) {
        (Some(GenericArgument::Type(t)), None) => Some(t),
        _ => None,
    })
}

fn unsupported(ty: &Type) -> syn::Error {
    syn::Error::new_spanned(
        ty,
        format_args!("unsupported field type `{}`: {SUPPORTED}", display(ty)),
    )
}

/// A known name under a path that is not one of its own.
fn foreign(ty: &Type, name: &str, prefixes: &[&str]) -> syn::Error {
    let example = if name == "DateTime" { "DateTime<Utc>" } else { name };
    let spellings: Vec<String> = prefixes
        .iter()
        .map(|p| {
            if p.is_empty() {
                format!("`{example}`")
            } else {
                format!("`{p}::{example}`")
            }
        })
        .collect();
    syn::Error::new_spanned(
        ty,
        format_args!(
            "unsupported field type `{}`: rookery recognises `{example}` only as {}; a type of another path is not taken for it",
            display(ty),
            spellings.join(", ")
        ),
    )
}

/// The type as written, without the token spacing (`foo::String`).
pub(crate) fn display(ty: &Type) -> String {
    let text = ty.to_token_stream().to_string();
    text.replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ty: &str) -> Result<(Kind, bool), String> {
        let ty: Type = syn::parse_str(ty).expect("a type");
        recognise(&ty).map(|s| (s.kind, s.optional)).map_err(|e| e.to_string())
    }

    #[test]
    fn accepted_spellings() {
        let r = |m: &str| Kind::Ref { model: m.to_owned() };
        let e = |m: &str| Kind::Enum { name: m.to_owned() };
        for (ty, expect, optional) in [
            ("String", Kind::String, false),
            ("std::string::String", Kind::String, false),
            ("::std::string::String", Kind::String, false),
            ("Option<String>", Kind::String, true),
            ("std::option::Option<alloc::string::String>", Kind::String, true),
            ("i32", Kind::Int, false),
            ("i64", Kind::BigInt, false),
            ("bool", Kind::Bool, false),
            ("rust_decimal::Decimal", Kind::Decimal, false),
            ("rookery::Decimal", Kind::Decimal, false),
            ("NaiveDate", Kind::Date, false),
            ("rookery::chrono::NaiveDate", Kind::Date, false),
            ("DateTime<Utc>", Kind::DateTime, false),
            ("chrono::DateTime<chrono::Utc>", Kind::DateTime, false),
            ("rookery::chrono::DateTime<rookery::chrono::Utc>", Kind::DateTime, false),
            ("Option<DateTime<Utc>>", Kind::DateTime, true),
            ("uuid::Uuid", Kind::Uuid, false),
            ("rookery::uuid::Uuid", Kind::Uuid, false),
            ("serde_json::Value", Kind::Json, false),
            ("Option<rookery::serde_json::Value>", Kind::Json, true),
            ("UserId", Kind::User, false),
            ("rookery::UserId", Kind::User, false),
            ("ProjectId", r("Project"), false),
            ("super::ProjectId", r("Project"), false),
            ("crate::generated::models::DealId", r("Deal"), false),
            ("rookery::Id<Project>", r("Project"), false),
            ("Option<Id<crate::a::Project>>", r("Project"), true),
            ("ProjectStatus", e("ProjectStatus"), false),
            ("super::ProjectStatus", e("ProjectStatus"), false),
            ("Id", e("Id"), false),
        ] {
            assert_eq!(kind(ty), Ok((expect, optional)), "{ty}");
        }
    }

    #[test]
    fn refused() {
        for (ty, msg) in [
            (
                "foo::String",
                "rookery recognises `String` only as `String`, `std::string::String`",
            ),
            ("my::Uuid", "`Uuid` only as"),
            ("DateTime<FixedOffset>", "`DateTime<Utc>` only as"),
            ("rookery::__private::Value", "`Value` only as"),
            ("foo::Option<String>", "`Option` only as"),
            ("Option<Option<String>>", "nested `Option`"),
            ("f64", "unsupported field type `f64`"),
            ("Vec<String>", "unsupported field type `Vec<String>`"),
            ("&str", "unsupported field type"),
            ("(i32, i32)", "unsupported field type"),
        ] {
            let err = kind(ty).expect_err(ty);
            assert!(err.contains(msg), "{ty}: {err}");
        }
    }
}
