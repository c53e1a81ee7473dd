//! The `check` stage: parse a spec keeping spans, then run every semantic
//! rule and report all problems together, each pointing into the TOML.
//!
//! [`load`] is the entry point. The rules live by topic: [`names`]
//! (identifiers and reserved words), `roles` (inheritance and grants),
//! `plans` (features, quotas, prices), `models` (fields, references,
//! defaults, sort) and `platform` (app, tenancy, auth).

use std::path::{Path, PathBuf};

use crate::handwritten::Handwritten;
use crate::spec::Spec;

mod jobs;
mod models;
pub mod names;
mod parse;
mod plans;
mod platform;
mod report;
mod roles;
mod values;

pub use names::table_name;
pub use report::{Report, Severity, SpecDiagnostic};
pub use roles::PLATFORM_PERMISSIONS;

use report::Ctx;

/// Parses `source` (shown as `name` in diagnostics) and checks it.
///
/// Returns the spec only when it has no error; otherwise a [`Report`] with
/// every problem found (warnings included). A TOML syntax or type error
/// stops before the semantic checks, since the rest of the file cannot be
/// trusted. [`load_with_warnings`] also returns the warnings of a valid spec.
pub fn load(name: &str, source: &str) -> Result<Spec, Report> {
    load_with_warnings(name, source, &Handwritten::default()).map(|(spec, _)| spec)
}

/// [`load`] for a project with `handwritten` models (whose permissions roles
/// may grant), and on success the report of the spec's warnings, if any.
pub fn load_with_warnings(
    name: &str,
    source: &str,
    handwritten: &Handwritten,
) -> Result<(Spec, Option<Report>), Report> {
    let spec = parse::spec(source).map_err(|diagnostics| Report::new(name, source, diagnostics))?;
    let diagnostics = check(&spec, handwritten);
    if diagnostics.is_empty() {
        return Ok((spec, None));
    }
    let report = Report::new(name, source, diagnostics);
    if report.has_errors() {
        Err(report)
    } else {
        Ok((spec, Some(report)))
    }
}

/// Every semantic problem of an already parsed spec, in check order: its
/// errors, or when it has none, its warnings.
pub fn check(spec: &Spec, handwritten: &Handwritten) -> Vec<SpecDiagnostic> {
    let mut ctx = Ctx::default();
    platform::check(&mut ctx, spec);
    let (catalogue, ownable) = catalogue(spec, handwritten);
    roles::check(&mut ctx, spec, &catalogue, &ownable);
    plans::check(&mut ctx, spec);
    plans::handwritten_features(&mut ctx, spec, handwritten);
    models::check(&mut ctx, spec);
    jobs::check(&mut ctx, spec, handwritten);
    // Warnings only for a spec without errors: they would drown the errors.
    if ctx.is_empty() {
        roles::administered(&mut ctx, spec);
        models::warnings(&mut ctx, spec);
    }
    ctx.into_diagnostics()
}

/// Every permission a role may grant, and which may be granted on own rows.
fn catalogue(spec: &Spec, handwritten: &Handwritten) -> (indexmap::IndexSet<String>, roles::Ownable) {
    let catalogue = roles::permission_catalogue(spec, &handwritten_permissions(handwritten, None));
    let by_owner = roles::HandwrittenPermissions {
        owned: handwritten_permissions(handwritten, Some(true)),
        ownerless: handwritten_permissions(handwritten, Some(false)),
        assign: handwritten.models.iter().filter_map(|m| m.assign.clone()).collect(),
    };
    (catalogue, roles::ownable(spec, &by_owner))
}

/// The permission catalogue (every permission a role may grant, in the
/// checker's order) with each one's description and whether it may be
/// granted on own rows only: what a tenant's custom roles may grant.
pub(crate) fn permissions(spec: &Spec, handwritten: &Handwritten) -> Vec<(String, Option<String>, bool)> {
    let (catalogue, ownable) = catalogue(spec, handwritten);
    catalogue
        .into_iter()
        .map(|p| {
            let description = spec
                .permissions
                .iter()
                .find(|(name, _)| *name.get_ref() == p)
                .map(|(_, d)| d.description.clone());
            let own = ownable.rows.contains(&p);
            (p, description, own)
        })
        .collect()
}

/// The permissions hand-written models' derives name (their routes',
/// `assign` and their fields' `write`); with `Some(owned)`, of the models
/// with (`true`) or without (`false`) an owner field only.
fn handwritten_permissions(handwritten: &Handwritten, owned: Option<bool>) -> Vec<String> {
    handwritten
        .models
        .iter()
        .filter(|m| owned.is_none_or(|owned| m.fields.iter().any(|f| f.owner) == owned))
        .flat_map(|m| {
            let routes = m
                .permissions
                .iter()
                .flat_map(|(read, write, delete)| [Some(read), Some(write), delete.as_ref()])
                .chain([m.assign.as_ref()])
                .flatten();
            routes.chain(m.fields.iter().filter_map(|f| f.write.as_ref())).cloned()
        })
        .collect()
}

/// Why [`load_file`] failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(rookery::io))]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file was read but the spec has errors.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Spec(Box<Report>),
}

/// Reads and checks a spec file; diagnostics name the file as given.
pub fn load_file(path: &Path) -> Result<Spec, LoadError> {
    load_file_with_warnings(path, &Handwritten::default()).map(|(spec, _)| spec)
}

/// [`load_with_warnings`] of a file.
pub fn load_file_with_warnings(path: &Path, handwritten: &Handwritten) -> Result<(Spec, Option<Report>), LoadError> {
    let source = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let name = path.display().to_string();
    load_with_warnings(&name, &source, handwritten).map_err(|report| LoadError::Spec(Box::new(report)))
}

/// Turns toml's error (syntax, unknown key, wrong type) into a diagnostic,
/// suggesting the closest expected name for an unknown key or value.
fn parse_error(error: &toml::de::Error) -> SpecDiagnostic {
    let message = error.message().trim();
    let (first, rest) = match message.split_once('\n') {
        Some((first, rest)) => (first.trim(), Some(rest.trim())),
        None => (message, None),
    };
    let mut diagnostic = SpecDiagnostic::new("rookery::parse", error.span(), first.to_owned());
    diagnostic.label(label_for(first));
    if let Some(rest) = rest.filter(|r| !r.is_empty()) {
        diagnostic.help_text(rest.to_owned());
    }
    if let Some((unknown, expected)) = unknown_and_expected(first) {
        diagnostic.suggest(unknown, expected.iter().copied(), None);
    }
    diagnostic
}

fn label_for(message: &str) -> &'static str {
    if message.starts_with("unknown field") {
        "unknown key"
    } else if message.starts_with("unknown variant") {
        "unknown value"
    } else if message.starts_with("missing field") {
        "in this table"
    } else if message.starts_with("invalid type") {
        "wrong type"
    } else {
        "here"
    }
}

/// From "unknown field `x`, expected one of `a`, `b`" takes `x` and `[a, b]`.
fn unknown_and_expected(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (unknown, rest) = rest.split_once('`')?;
    let (_, expected) = rest.split_once("expected")?;
    let names = expected.split('`').skip(1).step_by(2).collect();
    Some((unknown, names))
}

#[cfg(test)]
mod tests {
    use super::unknown_and_expected;

    #[test]
    fn reads_expected_names_from_serde_messages() {
        let (unknown, expected) =
            unknown_and_expected("unknown field `permisions`, expected one of `fields`, `permissions`").unwrap();
        assert_eq!(unknown, "permisions");
        assert_eq!(expected, ["fields", "permissions"]);
        let (unknown, expected) = unknown_and_expected("unknown variant `strng`, expected `string`").unwrap();
        assert_eq!((unknown, expected), ("strng", vec!["string"]));
        assert!(unknown_and_expected("missing field `name`").is_none());
    }
}
