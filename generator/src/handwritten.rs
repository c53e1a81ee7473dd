//! Reads hand-written `#[derive(TenantModel)]` structs and
//! `#[derive(ModelEnum)]` enums from a project's `src/**/*.rs` (except
//! `src/generated/`) with syn, so they get migrations and are registered in
//! the app like spec models.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use syn::spanned::Spanned as _;

use crate::model::Key;

/// Everything found in the project's hand-written sources.
#[derive(Debug, Default, Clone)]
pub struct Handwritten {
    /// `#[derive(TenantModel)]` structs, ordered by file, then position.
    pub models: Vec<HandModel>,
    /// `#[derive(ModelEnum)]` enums.
    pub enums: Vec<HandEnum>,
}

/// A hand-written enum and its stored values.
#[derive(Debug, Clone)]
pub struct HandEnum {
    /// Type name.
    pub name: String,
    /// Stored values in declaration order.
    pub values: Vec<String>,
}

/// A field type as far as the generator cares: `Option<…>` or the last
/// path segment of a named type (`DateTime<Utc>` → `DateTime`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandType {
    /// `Option<T>`.
    Option(Box<HandType>),
    /// Any other path type, by its last segment.
    Named(String),
}

/// A hand-written field and its `#[rookery(...)]` options.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct HandField {
    pub name: String,
    pub ty: HandType,
    pub text: bool,
    pub max_len: Option<u32>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub unique: bool,
    pub indexed: bool,
    pub sortable: bool,
    pub default: Option<String>,
    pub on_delete: Option<String>,
    pub column: Option<String>,
    pub renamed_from: Option<String>,
}

impl Default for HandType {
    fn default() -> Self {
        Self::Named(String::new())
    }
}

/// A hand-written model struct and its `#[rookery(...)]` options.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct HandModel {
    /// Source file, relative to the project (`src/notes.rs`).
    pub file: String,
    /// Module path (`crate::notes`).
    pub module_path: String,
    pub struct_name: String,
    pub table: Option<String>,
    pub key: Key,
    /// Whether the struct says `id = "..."` (the default is uuid).
    pub explicit_key: bool,
    /// `(read, write, delete)`.
    pub permissions: Option<(String, String, Option<String>)>,
    pub quota: Option<String>,
    pub audit: bool,
    pub sort: Option<String>,
    pub renamed_from: Option<String>,
    pub fields: Vec<HandField>,
}

/// Reads every `.rs` file under `project/src` except `src/generated/`.
pub fn read(project: &Path) -> Result<Handwritten> {
    let src = project.join("src");
    let mut files = Vec::new();
    if src.is_dir() {
        walk(&src, &src.join("generated"), &mut files)?;
    }
    files.sort();
    let mut out = Handwritten::default();
    for file in files {
        let rel = file.strip_prefix(project).unwrap_or(&file);
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {rel_text}"))?;
        // Cheap filter: most files derive neither.
        if !text.contains("TenantModel") && !text.contains("ModelEnum") {
            continue;
        }
        let ast = syn::parse_file(&text).map_err(|e| anyhow::anyhow!("{rel_text}: {e}"))?;
        let module = module_path(rel);
        read_items(&ast.items, &module, &rel_text, &mut out)?;
    }
    Ok(out)
}

fn walk(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path == skip {
            continue;
        }
        if path.is_dir() {
            walk(&path, skip, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `src/notes.rs` → `crate::notes`; `src/a/mod.rs` → `crate::a`;
/// `src/main.rs` → `crate`.
pub fn module_path(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .skip(1) // src
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if !matches!(stem, "mod" | "main" | "lib") {
            parts.push(stem.to_owned());
        }
    }
    std::iter::once("crate".to_owned())
        .chain(parts)
        .collect::<Vec<_>>()
        .join("::")
}

fn derives(attrs: &[syn::Attribute], name: &str) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|m| {
            if m.path.segments.last().is_some_and(|s| s.ident == name) {
                found = true;
            }
            Ok(())
        });
        found
    })
}

fn read_items(items: &[syn::Item], module: &str, file: &str, out: &mut Handwritten) -> Result<()> {
    for item in items {
        match item {
            syn::Item::Struct(s) if derives(&s.attrs, "TenantModel") => {
                out.models.push(read_struct(s, module, file)?);
            }
            syn::Item::Enum(e) if derives(&e.attrs, "ModelEnum") => {
                let mut values = Vec::new();
                for v in &e.variants {
                    let mut value = derive_snake_case(&v.ident.to_string());
                    for a in v.attrs.iter().filter(|a| a.path().is_ident("rookery")) {
                        a.parse_nested_meta(|m| {
                            if m.path.is_ident("rename") || m.path.is_ident("value") {
                                value = m.value()?.parse::<syn::LitStr>()?.value();
                            }
                            Ok(())
                        })
                        .map_err(|err| anyhow::anyhow!("{file}: enum `{}`: {err}", e.ident))?;
                    }
                    values.push(value);
                }
                out.enums.push(HandEnum {
                    name: e.ident.to_string(),
                    values,
                });
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    read_items(inner, &format!("{module}::{}", m.ident), file, out)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn lit_str(m: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<String> {
    Ok(m.value()?.parse::<syn::LitStr>()?.value())
}

fn lit_int<N>(m: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<N>
where
    N: std::str::FromStr,
    N::Err: std::fmt::Display,
{
    let input = m.value()?;
    let neg = input.parse::<Option<syn::Token![-]>>()?.is_some();
    let lit = input.parse::<syn::LitInt>()?;
    if neg {
        format!("-{}", lit.base10_digits())
            .parse()
            .map_err(|e| syn::Error::new(lit.span(), e))
    } else {
        lit.base10_parse()
    }
}

/// The derive's own snake case (`HTTPRequest` → `http_request`), so enum
/// values read here match what the derive stores.
pub fn derive_snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `default = "x" | true | 3 | -1.5`, as TOML literal text.
fn default_lit(m: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<String> {
    let input = m.value()?;
    let neg = input.parse::<Option<syn::Token![-]>>()?.is_some();
    let sign = if neg { "-" } else { "" };
    match input.parse::<syn::Lit>()? {
        syn::Lit::Str(s) if !neg => Ok(s.value()),
        syn::Lit::Bool(b) if !neg => Ok(b.value.to_string()),
        syn::Lit::Int(i) => Ok(format!("{sign}{}", i.base10_digits())),
        syn::Lit::Float(f) => Ok(format!("{sign}{}", f.base10_digits())),
        other => Err(syn::Error::new(other.span(), "expected a string, bool or number")),
    }
}

fn read_struct(s: &syn::ItemStruct, module: &str, file: &str) -> Result<HandModel> {
    let struct_name = s.ident.to_string();
    let mut model = HandModel {
        file: file.to_owned(),
        module_path: module.to_owned(),
        struct_name: struct_name.clone(),
        table: None,
        key: Key::Uuid,
        explicit_key: false,
        permissions: None,
        quota: None,
        audit: false,
        sort: None,
        renamed_from: None,
        fields: Vec::new(),
    };
    let err = |e: syn::Error| anyhow::anyhow!("{file}: `{struct_name}`: {e}");
    for a in s.attrs.iter().filter(|a| a.path().is_ident("rookery")) {
        a.parse_nested_meta(|m| {
            let p = &m.path;
            if p.is_ident("table") {
                model.table = Some(lit_str(&m)?);
            } else if p.is_ident("id") {
                model.explicit_key = true;
                model.key = match lit_str(&m)?.as_str() {
                    "uuid" => Key::Uuid,
                    "bigint" => Key::Bigint,
                    _ => return Err(m.error("id must be \"bigint\" or \"uuid\"")),
                };
            } else if p.is_ident("permissions") {
                let (mut r, mut w, mut d) = (None, None, None);
                m.parse_nested_meta(|pm| {
                    let v = lit_str(&pm)?;
                    if pm.path.is_ident("read") {
                        r = Some(v);
                    } else if pm.path.is_ident("write") {
                        w = Some(v);
                    } else if pm.path.is_ident("delete") {
                        d = Some(v);
                    } else {
                        return Err(pm.error("expected read, write or delete"));
                    }
                    Ok(())
                })?;
                match (r, w) {
                    (Some(r), Some(w)) => model.permissions = Some((r, w, d)),
                    _ => return Err(m.error("permissions need read and write")),
                }
            } else if p.is_ident("quota") {
                model.quota = Some(lit_str(&m)?);
            } else if p.is_ident("audit") {
                model.audit = true;
            } else if p.is_ident("sort") {
                model.sort = Some(lit_str(&m)?);
            } else if p.is_ident("renamed_from") {
                model.renamed_from = Some(lit_str(&m)?);
            } else {
                return Err(m.error("unknown rookery option"));
            }
            Ok(())
        })
        .map_err(err)?;
    }
    let syn::Fields::Named(named) = &s.fields else {
        bail!("{file}: `{struct_name}`: a TenantModel needs named fields");
    };
    for f in &named.named {
        let ident = f.ident.as_ref().map(|i| i.to_string()).unwrap_or_default();
        let name = ident.trim_start_matches("r#").to_owned();
        let ty = hand_type(&f.ty).ok_or_else(|| {
            err(syn::Error::new(
                f.ty.span(),
                format!("field `{name}`: unsupported type"),
            ))
        })?;
        let mut hf = HandField {
            name: name.clone(),
            ty,
            ..HandField::default()
        };
        for a in f.attrs.iter().filter(|a| a.path().is_ident("rookery")) {
            a.parse_nested_meta(|m| {
                let p = &m.path;
                if p.is_ident("text") {
                    hf.text = true;
                } else if p.is_ident("unique") {
                    hf.unique = true;
                } else if p.is_ident("indexed") {
                    hf.indexed = true;
                } else if p.is_ident("sortable") {
                    hf.sortable = true;
                } else if p.is_ident("max_len") {
                    hf.max_len = Some(lit_int(&m)?);
                } else if p.is_ident("min") {
                    hf.min = Some(lit_int(&m)?);
                } else if p.is_ident("max") {
                    hf.max = Some(lit_int(&m)?);
                } else if p.is_ident("default") {
                    hf.default = Some(default_lit(&m)?);
                } else if p.is_ident("on_delete") {
                    hf.on_delete = Some(lit_str(&m)?);
                } else if p.is_ident("column") {
                    hf.column = Some(lit_str(&m)?);
                } else if p.is_ident("renamed_from") {
                    hf.renamed_from = Some(lit_str(&m)?);
                } else {
                    return Err(m.error("unknown rookery field option"));
                }
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("{file}: `{struct_name}.{name}`: {e}"))?;
        }
        model.fields.push(hf);
    }
    Ok(model)
}

fn hand_type(ty: &syn::Type) -> Option<HandType> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    let ident = last.ident.to_string();
    if ident == "Option" {
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        let Some(syn::GenericArgument::Type(inner)) = args.args.first() else {
            return None;
        };
        return Some(HandType::Option(Box::new(hand_type(inner)?)));
    }
    Some(HandType::Named(ident))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths() {
        assert_eq!(module_path(Path::new("src/notes.rs")), "crate::notes");
        assert_eq!(module_path(Path::new("src/a/mod.rs")), "crate::a");
        assert_eq!(module_path(Path::new("src/a/b.rs")), "crate::a::b");
        assert_eq!(module_path(Path::new("src/main.rs")), "crate");
    }
}
