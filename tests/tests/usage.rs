//! The example app's usage analytics as an operator meets them: `taskboard`
//! serves, a tenant's owner makes a few requests, the server stops (its
//! graceful shutdown writes what it counted), and `taskboard usage` prints
//! the day's requests and active members per tenant. On SQLite and on
//! PostgreSQL, where only the tables' owner may read every tenant's usage.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::json;
use support::{Database, Server, binary, call};

/// Runs `taskboard usage <args>` with `env`; its stdout, or its stderr
/// when `ok` is false (and then it must fail).
fn usage_command(bin: &Path, env: &[(&str, &str)], args: &[&str], ok: bool) -> String {
    let out = Command::new(bin)
        .arg("usage")
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("run taskboard usage");
    assert_eq!(
        out.status.success(),
        ok,
        "taskboard usage {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(if ok { &out.stdout } else { &out.stderr }).into_owned()
}

/// Signs up `slug` and lists its projects `n` times as its owner.
fn requests(server: &Server, slug: &str, n: usize) {
    let (status, body, _) = call(
        &server.base,
        "POST",
        "/api/v1/auth/signup",
        &[],
        Some(
            &json!({ "tenant_slug": slug, "tenant_name": slug, "email": format!("owner@{slug}.test"), "password": "correct horse battery" }),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let owner = format!("Bearer {}", body["access_token"].as_str().unwrap());
    for _ in 0..n {
        let (status, body, _) = call(
            &server.base,
            "GET",
            "/api/v1/projects",
            &[("authorization", &owner), ("x-tenant", slug)],
            None,
        );
        assert_eq!(status, 200, "{body}");
    }
}

/// The line of `slug` in `usage`'s table, split on whitespace.
fn line<'a>(table: &'a str, slug: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.get(1) == Some(&slug))
        .unwrap_or_else(|| panic!("no line of {slug} in:\n{table}"))
}

/// What `usage` must print after acme's 3 requests and globex's 2 (a run
/// across midnight UTC has their days on more lines, and compares only
/// the header and the flags).
fn assert_usage(bin: &Path, env: &[(&str, &str)]) {
    let table = usage_command(bin, env, &[], true);
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(&header[..4], ["day", "tenant", "requests", "members"], "{table}");
    for model in ["project", "task", "comment"] {
        assert!(header.contains(&model), "{model} in {table}");
    }
    if table.lines().count() == 3 {
        let acme = line(&table, "acme");
        assert_eq!(&acme[2..4], ["3", "1"], "{table}");
        assert!(
            acme[4..].iter().all(|rows| *rows == "-"),
            "rows are counted at 23:55 UTC: {table}"
        );
        assert_eq!(&line(&table, "globex")[2..4], ["2", "1"], "{table}");
    }
    let only = usage_command(bin, env, &["--tenant", "globex", "--days", "1"], true);
    assert!(!only.contains("acme"), "{only}");
    let unknown = usage_command(bin, env, &["--tenant", "nosuch"], false);
    assert!(unknown.contains("no tenant has slug `nosuch`"), "{unknown}");
    let zero = usage_command(bin, env, &["--days", "0"], false);
    assert!(zero.contains("--days must be a number of days, 1-400"), "{zero}");
}

#[test]
fn sqlite_usage_is_written_when_serving_stops_and_the_cli_reads_it() {
    let bin = binary("taskboard");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("taskboard.sqlite").display());
    let env = [("DATABASE_URL", url.as_str())];
    let server = Server::start(&bin, &env);
    requests(&server, "acme", 3);
    requests(&server, "globex", 2);
    assert!(server.stop().success());
    assert_usage(&bin, &env);
}

#[test]
fn postgres_usage_is_the_owners_to_read() {
    let bin = binary("taskboard");
    let db = Database::create();
    db.migrate_with(&bin);
    let server = Server::start(&bin, &[("DATABASE_URL", db.serving_url.as_str())]);
    requests(&server, "acme", 3);
    requests(&server, "globex", 2);
    assert!(server.stop().success());
    // As the serving role: refused, saying whom it is for.
    let refused = usage_command(
        &bin,
        &[
            ("DATABASE_URL", db.serving_url.as_str()),
            ("ROOKERY_MIGRATE_DATABASE_URL", db.serving_url.as_str()),
        ],
        &[],
        false,
    );
    assert!(
        refused.contains("reading usage across tenants is for the tables' owner"),
        "{refused}"
    );
    let owner = [
        ("DATABASE_URL", db.serving_url.as_str()),
        ("ROOKERY_MIGRATE_DATABASE_URL", db.owner_url.as_str()),
    ];
    assert_usage(&bin, &owner);
}
