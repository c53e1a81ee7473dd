//! Diagnostics and the report that carries them all.

use std::fmt;
use std::ops::Range;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Severity {
    /// The spec cannot be generated.
    Error,
    /// The spec generates and serves, but probably not as meant.
    Warning,
}

/// One problem found in a spec: what is wrong, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecDiagnostic {
    code: &'static str,
    severity: Severity,
    message: String,
    span: Option<Range<usize>>,
    label: Option<String>,
    help: Option<String>,
}

impl SpecDiagnostic {
    /// Whether `other` has this one's code and span (the same problem
    /// found twice).
    pub(crate) fn same_place(&self, other: &Self) -> bool {
        self.code == other.code && self.span == other.span
    }

    pub(crate) fn new(code: &'static str, span: Option<Range<usize>>, message: String) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message,
            span,
            label: None,
            help: None,
        }
    }

    /// Whether this is an error or a warning.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// A stable code naming the kind of problem, such as `rookery::unknown_permission`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte range in the source the problem points at, if it points anywhere.
    pub fn span(&self) -> Option<Range<usize>> {
        self.span.clone()
    }

    /// A suggestion, such as "did you mean `projects.read`?".
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// Sets the text printed under the span.
    pub(crate) fn label(&mut self, label: impl Into<String>) -> &mut Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the help line.
    pub(crate) fn help_text(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help to "did you mean `x`?" when a candidate is close to `name`,
    /// otherwise to `fallback` (if any).
    pub(crate) fn suggest<'a>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
        fallback: Option<String>,
    ) -> &mut Self {
        match closest(name, candidates) {
            Some(close) => self.help = Some(format!("did you mean `{close}`?")),
            None => self.help = fallback.or(self.help.take()),
        }
        self
    }
}

impl fmt::Display for SpecDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecDiagnostic {}

impl miette::Diagnostic for SpecDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span.clone()?;
        let label = LabeledSpan::new_primary_with_span(self.label.clone(), span);
        Some(Box::new(std::iter::once(label)))
    }
}

/// The closest candidate to `name`, if one is close enough to be a likely typo.
pub(crate) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = (len / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let distance = strsim::damerau_levenshtein(name, candidate);
        let close = distance <= limit || strsim::jaro_winkler(name, candidate) >= 0.92;
        if close && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Every problem found in one spec file, with the file's text so that each
/// can be shown in place.
#[derive(Debug, Clone)]
pub struct Report {
    source: NamedSource<String>,
    name: String,
    diagnostics: Vec<SpecDiagnostic>,
}

impl Report {
    pub(crate) fn new(name: &str, source: &str, mut diagnostics: Vec<SpecDiagnostic>) -> Self {
        // Top to bottom, as the reader meets them; checks keep their order on ties.
        diagnostics.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
        Self {
            source: NamedSource::new(name, source.to_owned()),
            name: name.to_owned(),
            diagnostics,
        }
    }

    /// The problems, in source order.
    pub fn diagnostics(&self) -> &[SpecDiagnostic] {
        &self.diagnostics
    }

    /// Plain rendering (no colour, fixed width of 100 columns), as the CLI
    /// prints it when stderr is not a terminal and as snapshots record it.
    pub fn render(&self) -> String {
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false)
            .with_word_splitter(textwrap::WordSplitter::NoHyphenation);
        self.render_with(&handler)
    }

    /// Renders every diagnostic with the given handler (for colour on a terminal),
    /// then a one-line count.
    pub fn render_with(&self, handler: &GraphicalReportHandler) -> String {
        let mut out = String::new();
        for diagnostic in &self.diagnostics {
            let sourced = Sourced {
                diagnostic,
                source: &self.source,
            };
            if handler.render_report(&mut out, &sourced).is_err() {
                out.push_str(&format!("error: {diagnostic}\n"));
            }
            out.push('\n');
        }
        out.push_str(&format!("{self}\n"));
        out
    }
}

impl Report {
    /// Whether any diagnostic is an error (not only warnings).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let warnings = self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        let errors = self.diagnostics.len() - warnings;
        let plural = |n: usize, noun: &str| {
            if n == 1 {
                format!("1 {noun}")
            } else {
                format!("{n} {noun}s")
            }
        };
        match (errors, warnings) {
            (_, 0) => write!(f, "{}: {}", self.name, plural(errors, "error")),
            (0, _) => write!(f, "{}: {}", self.name, plural(warnings, "warning")),
            _ => write!(
                f,
                "{}: {}, {}",
                self.name,
                plural(errors, "error"),
                plural(warnings, "warning")
            ),
        }
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("rookery::invalid_spec"))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(self.diagnostics.iter().map(|d| d as &dyn miette::Diagnostic)))
    }
}

/// A diagnostic paired with the source it points into, for rendering alone.
#[derive(Debug)]
struct Sourced<'a> {
    diagnostic: &'a SpecDiagnostic,
    source: &'a NamedSource<String>,
}

impl fmt::Display for Sourced<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diagnostic.fmt(f)
    }
}

impl std::error::Error for Sourced<'_> {}

impl miette::Diagnostic for Sourced<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        miette::Diagnostic::code(self.diagnostic)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        miette::Diagnostic::help(self.diagnostic)
    }

    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.diagnostic)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.diagnostic.labels()
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.source)
    }
}

/// Collects diagnostics while the checks run.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    diagnostics: Vec<SpecDiagnostic>,
}

impl Ctx {
    /// Records an error at `span` and returns it to add a label or help.
    pub(crate) fn error(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> &mut SpecDiagnostic {
        self.push(SpecDiagnostic::new(code, Some(span), message.into()))
    }

    /// Records a warning at `span`: the spec still generates.
    pub(crate) fn warning(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> &mut SpecDiagnostic {
        let diagnostic = self.push(SpecDiagnostic::new(code, Some(span), message.into()));
        diagnostic.severity = Severity::Warning;
        diagnostic
    }

    /// Records an error that points nowhere in particular.
    pub(crate) fn error_nowhere(&mut self, code: &'static str, message: impl Into<String>) -> &mut SpecDiagnostic {
        self.push(SpecDiagnostic::new(code, None, message.into()))
    }

    fn push(&mut self, diagnostic: SpecDiagnostic) -> &mut SpecDiagnostic {
        self.diagnostics.push(diagnostic);
        let last = self.diagnostics.len() - 1;
        &mut self.diagnostics[last]
    }

    /// Whether nothing was recorded yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    pub(crate) fn into_diagnostics(self) -> Vec<SpecDiagnostic> {
        self.diagnostics
    }
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_close_names_only() {
        let names = ["projects.read", "projects.write", "tasks.read"];
        assert_eq!(closest("project.read", names), Some("projects.read"));
        assert_eq!(closest("tasks.reed", names), Some("tasks.read"));
        assert_eq!(closest("billing", names), None);
        assert_eq!(closest("", names), None);
    }
}
