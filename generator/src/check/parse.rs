//! Reading the spec's TOML, reporting every problem the parser can see in
//! one run: every syntax error (the parser recovers and goes on), and when
//! the syntax is fine but the document does not fit the spec's types,
//! every section's first problem — each model, plan, role and feature is
//! read on its own, so one unknown key does not hide the next model's.

use indexmap::IndexMap;
use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::{SpecDiagnostic, parse_error};
use crate::spec::{self, Spec};

/// The spec in `source`, or every parse diagnostic found.
pub(super) fn spec(source: &str) -> Result<Spec, Vec<SpecDiagnostic>> {
    let (root, errors) = DeTable::parse_recoverable(source);
    if !errors.is_empty() {
        // After a syntax error the parser resynchronises, and what follows
        // on the same line is mostly its echo: one error per line.
        let line = |e: &toml::de::Error| e.span().map(|s| source[..s.start].matches('\n').count());
        let mut lines = Vec::new();
        let first_per_line = errors.iter().filter(|e| {
            let l = line(e);
            let new = !lines.contains(&l);
            lines.push(l);
            new
        });
        return Err(first_per_line.map(parse_error).collect());
    }
    let whole = Spec::deserialize(toml::de::Deserializer::from(root.clone()));
    let first = match whole {
        Ok(spec) => return Ok(spec),
        Err(e) => e,
    };
    let mut found = Vec::new();
    for (key, value) in root.into_inner() {
        let errors = match key.get_ref().as_ref() {
            "app" => one::<spec::AppSpec>(value),
            "tenancy" => one::<spec::TenancySpec>(value),
            "auth" => one::<spec::AuthSpec>(value),
            "features" => each::<spec::FeatureSpec>(value),
            "roles" => each::<spec::RoleSpec>(value),
            "plans" => each::<spec::PlanSpec>(value),
            "permissions" => each::<spec::PermissionSpec>(value),
            "models" => each::<spec::ModelSpec>(value),
            // Unknown sections: the whole document's error names them.
            _ => Vec::new(),
        };
        found.extend(errors);
    }
    // Some problems belong to no section (an unknown or missing section).
    let first = parse_error(&first);
    if !found.iter().any(|d| d.same_place(&first)) {
        found.insert(0, first);
    }
    Err(found)
}

/// The error of reading `value` as a `T`, if any.
fn one<T: DeserializeOwned>(value: Spanned<DeValue<'_>>) -> Vec<SpecDiagnostic> {
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(_) => Vec::new(),
        Err(e) => vec![parse_error(&e)],
    }
}

/// The errors of reading each entry of the table `value` as a `T`.
fn each<T: DeserializeOwned>(value: Spanned<DeValue<'_>>) -> Vec<SpecDiagnostic> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Table(table) => table.into_iter().flat_map(|(_, entry)| one::<T>(entry)).collect(),
        other => one::<IndexMap<String, T>>(Spanned::new(span, other)),
    }
}
