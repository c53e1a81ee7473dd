//! Reading the spec's TOML, reporting every problem the parser can see in
//! one run: every syntax error (the parser recovers and goes on; an inline
//! table left open is said once, at its brace, not as the errors the
//! parser finds in the lines it then reads as the table's), and when
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
    let first_error = errors.first().and_then(toml::de::Error::span).map(|s| s.start);
    if let Some(at) = first_error.and_then(|first| unclosed_inline_table(source, first)) {
        // The parser reads the next lines as the table's elements and
        // reports each as a missing comma: the brace is the one mistake.
        let mut diagnostic = SpecDiagnostic::new(
            "rookery::parse",
            Some(at..at + 1),
            "this inline table is not closed".to_owned(),
        );
        diagnostic.label("opened here").help_text(
            "the lines after it were read as its elements: close it with `}` at the end of this line".to_owned(),
        );
        return Err(vec![diagnostic]);
    }
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

/// The offset of the `{` of an inline table that its line leaves open,
/// when that is what the parser's first error (at `before`, on a later
/// line) comes from: the first such line, confirmed by parsing the source
/// again with `}` at its end, which must remove every error or move the
/// first past `before` (and not to a line that closes a table, which shows
/// that the table goes on). An inline table may go on over several
/// lines (TOML 1.1), so a `{` left open is no mistake by itself. `None`
/// otherwise, and when a line before the error leaves a string open or the
/// source has multi-line strings, which a scan of single lines cannot read.
fn unclosed_inline_table(source: &str, before: usize) -> Option<usize> {
    if source.contains("\"\"\"") || source.contains("'''") {
        return None;
    }
    let mut start = 0;
    for line in source.split_inclusive('\n') {
        let end = start + line.len();
        let (open, content_end) = open_brace(line)?;
        match open {
            // An error on the table's own line is the parser's to say.
            Some(_) if before < end => return None,
            Some(brace) => {
                let insert = start + content_end;
                let closed = format!("{}}}{}", &source[..insert], &source[insert..]);
                let (_, errors) = DeTable::parse_recoverable(&closed);
                let first = errors.first().and_then(toml::de::Error::span).map(|s| s.start);
                // A later line that starts with `}` or `]` closes a table
                // that goes on over several lines: the mistake is inside it.
                let closes_later = |at: usize| {
                    let line_start = closed[..at].rfind('\n').map_or(0, |i| i + 1);
                    closed[line_start..].trim_start().starts_with(['}', ']'])
                };
                return first
                    .is_none_or(|first| first > before + 1 && !closes_later(first))
                    .then_some(start + brace);
            }
            None if end > before => return None,
            None => start = end,
        }
    }
    None
}

/// In one line of TOML: the first `{` it leaves open (outside strings and
/// comments), and where its content ends (before a comment and the line
/// break). `None` when the line leaves a string open.
fn open_brace(line: &str) -> Option<(Option<usize>, usize)> {
    let mut open: Vec<usize> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut content_end = line.trim_end_matches(['\n', '\r']).len();
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => {
                content_end = i;
                break;
            }
            (None, '{') => open.push(i),
            (None, '}') => {
                open.pop();
            }
            (None, _) => {}
        }
        escaped = false;
    }
    quote.is_none().then(|| (open.first().copied(), content_end))
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
