//! The `check` stage over a corpus of specs: each broken spec's rendered
//! diagnostics are snapshotted, valid ones must load, no input may panic,
//! and the `rookery check` command exits 0, 1 or 2.

use std::path::Path;
use std::process::Command;

use rookery_generator::check;

/// `valid_*` specs check cleanly, `warn_*` ones with warnings only.
fn is_valid_case(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("valid_") || n.starts_with("warn_"))
}

/// The name diagnostics show: the file name only, so snapshots do not
/// depend on where the repository lives.
fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn broken_specs_render_their_diagnostics() {
    insta::glob!("check/*.toml", |path| {
        if is_valid_case(path) {
            return;
        }
        let source = std::fs::read_to_string(path).unwrap();
        let report = match check::load(&display_name(path), &source) {
            Ok(_) => panic!("{} should fail to check", path.display()),
            Err(report) => report,
        };
        insta::assert_snapshot!(report.render());
    });
}

#[test]
fn valid_specs_load() {
    insta::glob!("check/valid_*.toml", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        if let Err(report) = check::load(&display_name(path), &source) {
            panic!("{} should check cleanly:\n{}", path.display(), report.render());
        }
    });
}

#[test]
fn warnings_render_and_do_not_fail() {
    insta::glob!("check/warn_*.toml", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let warnings = match check::load_with_warnings(&display_name(path), &source, &Default::default()) {
            Ok((_, Some(warnings))) => warnings,
            Ok((_, None)) => panic!("{} should warn", path.display()),
            Err(report) => panic!("{} should check:\n{}", path.display(), report.render()),
        };
        assert!(
            warnings
                .diagnostics()
                .iter()
                .all(|d| d.severity() == check::Severity::Warning)
        );
        insta::assert_snapshot!(warnings.render());
    });
}

#[test]
fn every_diagnostic_has_a_message_and_a_span() {
    insta::glob!("check/*.toml", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let Err(report) = check::load(&display_name(path), &source) else {
            return;
        };
        assert!(!report.diagnostics().is_empty());
        for diagnostic in report.diagnostics() {
            assert!(!diagnostic.message().is_empty());
            assert!(diagnostic.code().starts_with("rookery::"));
            if let Some(span) = diagnostic.span() {
                assert!(
                    span.end <= source.len(),
                    "{}: span {span:?} out of the source",
                    diagnostic.message()
                );
                assert!(source.is_char_boundary(span.start) && source.is_char_boundary(span.end));
            } else {
                assert_eq!(
                    diagnostic.code(),
                    "rookery::no_plan",
                    "only the missing plan points nowhere"
                );
            }
        }
    });
}

#[test]
fn taskboard_from_the_brief_checks() {
    let source = include_str!("check/valid_taskboard.toml");
    let spec = check::load("rookery.toml", source).unwrap_or_else(|report| panic!("{}", report.render()));
    assert_eq!(spec.models.len(), 2);
    assert_eq!(spec.roles.len(), 4);
    assert_eq!(spec.plans.len(), 3);
}

/// Loads every prefix (cut at char boundaries) and a few byte mutations of
/// each corpus file; none may panic, and every report must render.
#[test]
fn no_input_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mutations: [&[u8]; 8] = [b"\"", b"[", b"]", b"=", b"\n", b"-", b"{", b"\xff"];
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "toml")) {
        let source = std::fs::read_to_string(file).unwrap();
        for (i, (cut, _)) in source.char_indices().enumerate() {
            let result = check::load("prefix.toml", &source[..cut]);
            if i % 5 == 0
                && let Err(report) = result
            {
                let _ = report.render();
            }
        }
        let bytes = source.as_bytes();
        for (n, mutation) in mutations.iter().enumerate() {
            for at in (n * 7..bytes.len()).step_by(13) {
                let mut mutated = bytes.to_vec();
                mutated.splice(at..=at, mutation.iter().copied());
                let text = String::from_utf8_lossy(&mutated);
                if let Err(report) = check::load("mutated.toml", &text) {
                    let _ = report.render();
                }
            }
        }
    }
}

fn rookery(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rookery"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn cli_exits_0_on_a_valid_spec() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/valid_taskboard.toml");
    let output = rookery(&["check", file.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.ends_with("valid_taskboard.toml: ok (2 models, 4 roles, 3 plans)\n"),
        "{stdout}"
    );
}

#[test]
fn cli_prints_warnings_and_exits_0() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/warn_unusable.toml");
    let output = rookery(&["check", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("nobody can invite members"), "{stderr}");
    assert!(stderr.ends_with("warn_unusable.toml: 4 warnings\n"), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(": ok (1 model, 2 roles, 1 plan)"), "{stdout}");
}

/// Roles may grant the permissions hand-written models beside the spec
/// name (`src/**/*.rs`).
#[test]
fn cli_knows_the_permissions_of_handwritten_models() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generate/handwritten");
    let file = project.join("rookery.toml");
    let output = rookery(&["check", file.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Without the sources, `notes.read` and `notes.write` are unknown.
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("rookery.toml");
    std::fs::copy(&file, &alone).unwrap();
    let output = rookery(&["check", alone.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unknown permission `notes.read`"), "{stderr}");
    assert!(stderr.contains("unknown permission `notes.write`"), "{stderr}");
}

/// A hand-written model's `feature` must be one the spec declares: the app
/// would refuse to start otherwise, so `check` refuses it first.
#[test]
fn cli_refuses_a_handwritten_models_unknown_feature() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generate/handwritten");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(project.join("rookery.toml"), dir.path().join("rookery.toml")).unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    let notes = std::fs::read_to_string(project.join("src/notes.rs")).unwrap();
    let gated = notes.replacen("audit, sort", "audit, feature = \"crmm\", sort", 1);
    assert_ne!(gated, notes);
    std::fs::write(dir.path().join("src/notes.rs"), gated).unwrap();
    let output = rookery(&["check", dir.path().join("rookery.toml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("src/notes.rs: `Note` requires the feature `crmm`, which the spec does not declare"),
        "{stderr}"
    );
}

#[test]
fn cli_exits_1_on_spec_errors_and_prints_them_all() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/many_errors.toml");
    let output = rookery(&["check", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains('\u{1b}'), "no colour when stderr is not a terminal");
    let source = std::fs::read_to_string(&file).unwrap();
    let report = check::load(file.to_str().unwrap(), &source).unwrap_err();
    assert_eq!(stderr, report.render());
    assert!(report.diagnostics().len() >= 5);
}

#[test]
fn cli_exits_2_on_a_missing_file_or_bad_usage() {
    let output = rookery(&["check", "/nonexistent/rookery.toml"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("/nonexistent/rookery.toml"), "{stderr}");
    let output = rookery(&["check", "a.toml", "b.toml"]);
    assert_eq!(output.status.code(), Some(2));
}

/// `generate` shows the same warnings and still generates.
#[test]
fn generate_prints_warnings_and_still_writes() {
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/warn_unusable.toml");
    std::fs::copy(&file, dir.path().join("rookery.toml")).unwrap();
    let output = rookery(&["generate", "--project", dir.path().to_str().unwrap()]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("nobody can invite members"), "{stderr}");
    assert!(dir.path().join("migrations/rookery.snapshot.json").exists());
}
