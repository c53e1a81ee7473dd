//! Reads hand-written `#[derive(TenantModel)]` structs and
//! `#[derive(ModelEnum)]` enums from a project's `src/**/*.rs` (except
//! `src/generated/`) with syn, so they get migrations and are registered in
//! the app like spec models.
//!
//! Each item is read by `rookery-macros-core`, the library the derive itself
//! calls: one grammar, one type rule, one set of checks. A model the derive
//! would refuse is refused here with the derive's message, at
//! `file:line:column`.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rookery_macros_core::{IdKind, Kind, StoredType};

use crate::model::{Key, OnDelete};

/// Everything found in the project's hand-written sources.
#[derive(Debug, Default, Clone)]
pub struct Handwritten {
    /// `#[derive(TenantModel)]` structs, ordered by file, then position.
    pub models: Vec<HandModel>,
    /// `#[derive(ModelEnum)]` enums.
    pub enums: Vec<HandEnum>,
    /// `impl Job for T` types (`rookery::jobs::Job`), which `[jobs]` in the
    /// spec names by their `NAME`.
    pub jobs: Vec<HandJob>,
}

/// A hand-written job type.
#[derive(Debug, Clone)]
pub struct HandJob {
    /// Its `const NAME`.
    pub name: String,
    /// The type's path from the crate root (`crate::jobs::Digest`).
    pub rust_path: String,
    /// Where it is (`src/jobs.rs:12`).
    pub file: String,
}

/// A hand-written enum and its stored values.
#[derive(Debug, Clone)]
pub struct HandEnum {
    /// Type name.
    pub name: String,
    /// Stored values in declaration order.
    pub values: Vec<String>,
}

/// A hand-written field and its `#[rookery(...)]` options.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct HandField {
    pub name: String,
    /// What the field's type is stored as, by the derive's rule.
    pub ty: StoredType,
    pub text: bool,
    pub email: bool,
    pub url: bool,
    pub searchable: bool,
    pub max_len: Option<u32>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub unique: bool,
    pub indexed: bool,
    pub sortable: bool,
    pub default: Option<String>,
    pub on_delete: Option<OnDelete>,
    pub column: Option<String>,
    pub renamed_from: Option<String>,
    /// `owner`: the row's owner.
    pub owner: bool,
    /// `write = "..."`: the permission that setting the field needs.
    pub write: Option<String>,
    /// `read_only`: set by the server only.
    pub read_only: bool,
    /// `sensitive`: masked in the audit log.
    pub sensitive: bool,
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
    /// The model's name, the derive's snake_case of the struct (`ApiKey` → `api_key`).
    pub name: String,
    /// `table = "..."` as written.
    pub table: Option<String>,
    /// The model's table, as the derive names it: `table`, else the English
    /// plural of [`HandModel::name`].
    pub resolved_table: String,
    pub key: Key,
    /// Whether the struct says `id = "..."` (the default is uuid).
    pub explicit_key: bool,
    /// `(read, write, delete)`.
    pub permissions: Option<(String, String, Option<String>)>,
    /// `permissions(assign = "...")`.
    pub assign: Option<String>,
    /// `feature = "..."`.
    pub feature: Option<String>,
    pub quota: Option<String>,
    pub audit: bool,
    /// `events(...)`: `created`, `updated`, `deleted`, in that order.
    pub events: Vec<String>,
    pub sort: Option<String>,
    pub renamed_from: Option<String>,
    pub fields: Vec<HandField>,
}

/// Why a hand-written item was refused: the derive's own message, where the
/// derive would put it (1-based line and column, as rustc prints them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandError {
    /// Source file, relative to the project.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
    /// The message.
    pub message: String,
}

impl fmt::Display for HandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

impl HandError {
    /// One entry per error of a (combined) syn error.
    fn all(file: &str, err: syn::Error) -> impl Iterator<Item = Self> + '_ {
        err.into_iter().map(move |e| {
            let start = e.span().start();
            Self {
                file: file.to_owned(),
                line: start.line,
                column: start.column + 1,
                message: e.to_string(),
            }
        })
    }
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
    let mut errors = Vec::new();
    for file in files {
        let rel = file.strip_prefix(project).unwrap_or(&file);
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {rel_text}"))?;
        if let Err(errs) = read_source(&rel_text, &module_path(rel), &text, &mut out) {
            errors.extend(errs);
        }
    }
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::bail!("{}", lines.join("\n"));
    }
    Ok(out)
}

/// Reads one source file (`file` relative to the project, `module` its
/// module path) into `out`; every refused item's errors come back, each
/// message as the derive gives it.
///
/// # Errors
///
/// The file does not parse, or the derive would refuse an item in it.
pub fn read_source(file: &str, module: &str, text: &str, out: &mut Handwritten) -> Result<(), Vec<HandError>> {
    // Cheap filter: most files derive neither and implement no job.
    if !text.contains("TenantModel") && !text.contains("ModelEnum") && !text.contains("Job for") {
        return Ok(());
    }
    let ast = syn::parse_file(text).map_err(|e| HandError::all(file, e).collect::<Vec<_>>())?;
    let mut errors = Vec::new();
    read_items(ast.items, module, file, out, &mut errors);
    if errors.is_empty() { Ok(()) } else { Err(errors) }
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

fn read_items(items: Vec<syn::Item>, module: &str, file: &str, out: &mut Handwritten, errors: &mut Vec<HandError>) {
    for item in items {
        // Whatever derives one of ours goes to the core, whatever its shape:
        // a `TenantModel` enum is refused here as the derive refuses it.
        let input = match item {
            syn::Item::Struct(s) => syn::DeriveInput::from(s),
            syn::Item::Enum(e) => syn::DeriveInput::from(e),
            syn::Item::Union(u) => syn::DeriveInput::from(u),
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = m.content {
                    read_items(inner, &format!("{module}::{}", m.ident), file, out, errors);
                }
                continue;
            }
            syn::Item::Impl(i) => {
                if let Some(job) = job_impl(&i, module, file) {
                    out.jobs.push(job);
                }
                continue;
            }
            _ => continue,
        };
        if derives(&input.attrs, "TenantModel") {
            match rookery_macros_core::read_model(&input) {
                Ok(model) => out.models.push(hand_model(&model, module, file)),
                Err(err) => errors.extend(HandError::all(file, err)),
            }
        }
        if derives(&input.attrs, "ModelEnum") {
            match rookery_macros_core::read_enum(&input) {
                Ok(read) => out.enums.push(HandEnum {
                    name: read.ident.to_string(),
                    values: read.variants.into_iter().map(|v| v.value).collect(),
                }),
                Err(err) => errors.extend(HandError::all(file, err)),
            }
        }
    }
}

/// `impl [path::]Job for Type { const NAME: &str = "…"; … }`: a job type
/// whose name is a string literal (anything else cannot be matched to the
/// spec, and the spec's check says the name has no job type).
fn job_impl(item: &syn::ItemImpl, module: &str, file: &str) -> Option<HandJob> {
    let (trait_path, _) = item.trait_.as_ref()?;
    if trait_path.segments.last()?.ident != "Job" {
        return None;
    }
    let syn::Type::Path(ty) = &*item.self_ty else {
        return None;
    };
    let ty = ty.path.segments.last()?.ident.to_string();
    let name = item.items.iter().find_map(|i| match i {
        syn::ImplItem::Const(c) if c.ident == "NAME" => match &c.expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })?;
    Some(HandJob {
        name,
        rust_path: format!("{module}::{ty}"),
        file: file.to_owned(),
    })
}

/// The generator's view of a model the core read and checked.
fn hand_model(model: &rookery_macros_core::Model<'_>, module: &str, file: &str) -> HandModel {
    let a = &model.attrs;
    let fields = model
        .fields
        .iter()
        .map(|f| {
            let fa = &f.attrs;
            HandField {
                name: syn::ext::IdentExt::unraw(f.ident).to_string(),
                // A model the core returns has every field's type recognised.
                ty: f.stored.clone().unwrap_or(StoredType {
                    kind: Kind::String,
                    optional: false,
                }),
                text: fa.text.is_some(),
                email: fa.email.is_some(),
                url: fa.url.is_some(),
                searchable: fa.searchable.is_some(),
                max_len: fa.max_len.as_ref().map(|v| v.value),
                min: fa.min.as_ref().map(|v| v.value),
                max: fa.max.as_ref().map(|v| v.value),
                unique: fa.unique.is_some(),
                indexed: fa.indexed.is_some(),
                sortable: fa.sortable.is_some(),
                default: fa.default.as_ref().map(|v| v.value.clone()),
                on_delete: fa.on_delete.as_ref().map(|v| match v.value {
                    rookery_macros_core::OnDelete::Restrict => OnDelete::Restrict,
                    rookery_macros_core::OnDelete::Cascade => OnDelete::Cascade,
                    rookery_macros_core::OnDelete::SetNull => OnDelete::SetNull,
                }),
                column: fa.column.as_ref().map(|v| v.value.clone()),
                renamed_from: fa.renamed_from.as_ref().map(|v| v.value.clone()),
                owner: fa.owner.is_some(),
                write: fa.write.as_ref().map(|v| v.value.clone()),
                read_only: fa.read_only.is_some(),
                sensitive: fa.sensitive.is_some(),
            }
        })
        .collect();
    HandModel {
        file: file.to_owned(),
        module_path: module.to_owned(),
        struct_name: model.ident.to_string(),
        name: model.name(),
        table: a.table.as_ref().map(|t| t.value.clone()),
        resolved_table: model.table(),
        key: match a.id_kind() {
            IdKind::BigInt => Key::Bigint,
            IdKind::Uuid => Key::Uuid,
        },
        explicit_key: a.id.is_some(),
        permissions: a.permissions.as_ref().map(|p| {
            let p = &p.value;
            (
                p.read.clone().unwrap_or_default(),
                p.write.clone().unwrap_or_default(),
                p.delete.clone(),
            )
        }),
        assign: a.permissions.as_ref().and_then(|p| p.value.assign.clone()),
        feature: a.feature.as_ref().map(|f| f.value.clone()),
        quota: a.quota.clone(),
        audit: a.audit,
        events: a.events.names().into_iter().map(str::to_owned).collect(),
        sort: a.sort.as_ref().map(|s| s.value.clone()),
        renamed_from: a.renamed_from.as_ref().map(|r| r.value.clone()),
        fields,
    }
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
