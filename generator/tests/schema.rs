//! The committed JSON Schema must equal the one generated from the spec types.

use std::path::Path;

#[test]
fn committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/rookery.schema.json");
    let current = rookery_generator::spec::json_schema();
    if std::env::var_os("ROOKERY_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &current).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "schemas/rookery.schema.json is stale: the spec types changed.\n\
         Regenerate it with `ROOKERY_BLESS=1 cargo test -p rookery-generator --test schema` and commit it."
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rookery"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        rookery_generator::spec::json_schema()
    );
}

#[test]
fn schema_command_writes_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_rookery"))
        .args(["schema", "--output"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        rookery_generator::spec::json_schema()
    );
}
