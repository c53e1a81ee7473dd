//! The generator reads hand-written models exactly as the derive does: every
//! trybuild case of the derive (`macros/tests/ui/{pass,fail}/*.rs`, whose
//! `.stderr` files are the derive's side) is run through the generator's
//! reader, which must accept what the derive's own read accepts and refuse
//! the rest with the same messages at the same `line:column`.
//!
//! Errors the compiler reports after the derive's read passed (`error[E…]`:
//! the const assertions on field types) are not the grammar's; for those the
//! reader must accept the input.

use std::path::{Path, PathBuf};

use rookery_generator::handwritten::{HandError, Handwritten, read_source};

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../macros/tests/ui")
}

/// The derive's own errors in a trybuild `.stderr`: `(message, line, column)`
/// of each `error: …` followed by its ` --> file:line:column`.
fn derive_errors(stderr: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut lines = stderr.lines();
    while let Some(line) = lines.next() {
        let Some(message) = line.strip_prefix("error: ") else {
            continue;
        };
        let location = lines
            .next()
            .and_then(|l| l.trim_start().strip_prefix("--> "))
            .unwrap_or_else(|| panic!("no location after `{line}`"));
        let mut parts = location.rsplitn(3, ':');
        let column = parts.next().and_then(|c| c.parse().ok()).expect("column");
        let at_line = parts.next().and_then(|l| l.parse().ok()).expect("line");
        out.push((message.to_owned(), at_line, column));
    }
    out
}

fn generator_errors(file: &Path) -> Result<Handwritten, Vec<HandError>> {
    let text = std::fs::read_to_string(file).expect("ui case");
    let mut out = Handwritten::default();
    read_source("src/case.rs", "crate::case", &text, &mut out).map(|()| out)
}

#[test]
fn the_generator_refuses_what_the_derive_refuses_with_its_message() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(ui_dir().join("fail"))
        .expect("ui/fail")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "{cases:?}");
    let mut failures = Vec::new();
    let mut refused = 0;
    for case in &cases {
        let stderr = std::fs::read_to_string(case.with_extension("stderr")).expect("stderr");
        let expect = derive_errors(&stderr);
        refused += usize::from(!expect.is_empty());
        let got = match generator_errors(case) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| (e.message, e.line, e.column)).collect(),
        };
        if got != expect {
            failures.push(format!(
                "{}:\n  derive:    {expect:?}\n  generator: {got:?}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(refused >= 12, "only {refused} cases are the grammar's own refusals");
}

#[test]
fn the_generator_accepts_what_the_derive_accepts() {
    for entry in std::fs::read_dir(ui_dir().join("pass")).expect("ui/pass") {
        let case = entry.expect("entry").path();
        let read = generator_errors(&case).unwrap_or_else(|e| panic!("{}: {e:?}", case.display()));
        assert!(!read.models.is_empty(), "{}", case.display());
    }
}

/// The three drifts the two parsers had, one per case: the default table, an
/// enum key only the generator knew, a known type name under another path.
#[test]
fn known_drifts_stay_fixed() {
    let read = |text: &str| {
        let mut out = Handwritten::default();
        read_source("src/a.rs", "crate::a", text, &mut out).map(|()| out)
    };
    let hand = read(
        "#[derive(rookery::TenantModel)]\n#[rookery(permissions(read = \"a.read\", write = \"a.write\"))]\n\
         pub struct Activity {\n    pub what: String,\n    pub at: rookery::chrono::DateTime<rookery::chrono::Utc>,\n}\n",
    )
    .expect("accepted");
    // macros/tests/derive.rs asserts `Activity::TABLE == "activities"`.
    assert_eq!(hand.models[0].resolved_table, "activities");

    let err =
        read("#[derive(ModelEnum)]\npub enum S {\n    #[rookery(value = \"x\")]\n    A,\n}\n").expect_err("refused");
    assert_eq!(
        err[0].to_string(),
        "src/a.rs:3:15: unknown rookery variant attribute `value`; expected one of: rename"
    );

    let err = read(
        "#[derive(TenantModel)]\n#[rookery(permissions(read = \"a.read\", write = \"a.write\"))]\n\
         pub struct P {\n    pub name: foo::String,\n}\n",
    )
    .expect_err("refused");
    assert_eq!((err[0].line, err[0].column), (4, 15));
    assert!(
        err[0].message.starts_with("unsupported field type `foo::String`"),
        "{err:?}"
    );
}
