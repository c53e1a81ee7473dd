//! Schemathesis (`schemathesis run --checks all`) against the OpenAPI
//! document the example app serves, on PostgreSQL migrated as the owner
//! and served as a member of the app's group role: no 5xx, every status
//! documented, every body and content type as documented, valid requests
//! accepted and invalid ones refused, the stateful links followed.
//!
//! `scripts/test` installs the pinned Schemathesis into a virtualenv and
//! names it in `ROOKERY_SCHEMATHESIS`; without it this test fails, saying so.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use support::{Database, Server, binary, call};

/// The whole run's budget (`--max-time`): Schemathesis stops generating
/// when it is spent, so the run is bounded on a slow machine too.
const BUDGET_SECONDS: &str = "120";
/// Test cases per operation and phase (`--max-examples`).
const MAX_EXAMPLES: &str = "25";

fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("ROOKERY_SCHEMATHESIS") {
        return path.into();
    }
    let on_path = Command::new("schemathesis").arg("--version").output();
    assert!(
        on_path.is_ok_and(|o| o.status.success()),
        "Schemathesis is not installed: run `scripts/test`, which installs it, \
         or set ROOKERY_SCHEMATHESIS to its `schemathesis` executable"
    );
    "schemathesis".into()
}

/// `schemathesis.toml` for the taskboard's models. Two answers the
/// document cannot predict from a schema-valid request, each allowed only
/// where it can happen: 400 for a `cursor` that is not the `next_cursor`
/// of a page (an opaque token), and 422 for a reference to a row that does
/// not exist in the tenant. The hand-written archive route answers 404
/// for an id that is no project and 409 for one archived already. An
/// invitation is mailed, so its email must be an address a mail server
/// takes, which a pattern cannot state exactly (a local part of at most 64
/// bytes, in UTF-8): 422 for one the pattern lets through, as the
/// operation's description says. A webhook endpoint's URL must reach a
/// public address (400 naming `url` otherwise; the schema cannot say which
/// hosts resolve where), and a deliveries `cursor` is opaque like the
/// models' (400), as is the audit log's. A transfer's `to` must be another active member (422
/// otherwise: a uuid says nothing of who is one), and a role named in a
/// body one the tenant has (422 otherwise: custom roles are the tenant's).
/// Deleting the tenant needs its slug as `confirm`, and erasing the caller
/// their password (422 otherwise).
fn config() -> String {
    let app = taskboard::app();
    let positive = |extra: &str| {
        format!(
            "checks.positive_data_acceptance.expected-statuses = \
             [\"2xx\", \"401\", \"403\", \"404\", \"409\", \"429\", \"5xx\", \"{extra}\"]\n"
        )
    };
    let mut out = format!(
        "[[operations]]\ninclude-operation-id = \"archive_project\"\n{}\n\
         [[operations]]\ninclude-operation-id = \"invite\"\n{}\n\
         [[operations]]\ninclude-operation-id = \"transfer_tenant\"\n{}\n\
         [[operations]]\ninclude-operation-id = \"delete_tenant\"\n{}\n\
         [[operations]]\ninclude-operation-id = \"erase_me\"\n{}\n",
        positive("409"),
        positive("422"),
        positive("422"),
        positive("422"),
        positive("422")
    );
    // A role's name may be a custom role's, which no schema lists: one the
    // tenant does not have is 422; so is a grant that names no permission.
    for op in ["create_api_key", "change_member_role", "create_role", "update_role"] {
        out.push_str(&format!(
            "[[operations]]\ninclude-operation-id = \"{op}\"\n{}\n",
            positive("422")
        ));
    }
    for op in [
        "create_webhook_endpoint",
        "update_webhook_endpoint",
        "list_webhook_deliveries",
        "list_audit_log",
    ] {
        out.push_str(&format!(
            "[[operations]]\ninclude-operation-id = \"{op}\"\n{}\n",
            positive("400")
        ));
    }
    for def in app.models() {
        out.push_str(&format!(
            "[[operations]]\ninclude-operation-id = \"list_{}\"\n{}\n",
            def.path,
            positive("400")
        ));
        if def
            .fields
            .iter()
            .any(|f| matches!(f.ty, rookery::model::FieldType::Ref(_)))
        {
            for op in ["create", "update"] {
                out.push_str(&format!(
                    "[[operations]]\ninclude-operation-id = \"{op}_{}\"\n{}\n",
                    def.name,
                    positive("422")
                ));
            }
        }
    }
    out
}

#[test]
fn schemathesis_finds_nothing_against_the_served_document() {
    let cli = schemathesis();
    let db = Database::create();
    let bin = binary("taskboard");
    db.migrate_with(&bin);
    // The tenant's own rate limit would answer most requests with 429.
    let server = Server::start(
        &bin,
        &[
            ("DATABASE_URL", &db.serving_url),
            ("RATE_LIMIT_MAX", "1000000"),
            ("RATE_LIMIT_WINDOW_SECS", "60"),
        ],
    );
    let (status, body, _) = call(
        &server.base,
        "POST",
        "/api/v1/auth/signup",
        &[],
        Some(
            &json!({"tenant_slug": "fuzz", "tenant_name": "Fuzz", "email": "owner@fuzz.test", "password": "correct horse battery"}),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let tenant = body["tenant"]["id"].as_str().unwrap().to_owned();
    let token = body["access_token"].as_str().unwrap().to_owned();
    // The growth plan: room for 100 projects, so creates are not all quota answers.
    db.scalar(&format!(
        "WITH u AS (UPDATE tenants SET plan = 'growth' WHERE id = '{tenant}' RETURNING 1) SELECT count(*) FROM u"
    ));

    let work = tempfile::tempdir().unwrap();
    let config_path = work.path().join("schemathesis.toml");
    std::fs::write(&config_path, config()).unwrap();
    let mut cmd = Command::new(&cli);
    cmd.current_dir(work.path())
        .arg("--config-file")
        .arg(&config_path)
        .args(["run", &format!("{}/openapi.json", server.base)])
        .args(["--checks", "all"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--header", &format!("X-Tenant: {tenant}")])
        .args(["--max-examples", MAX_EXAMPLES, "--max-time", BUDGET_SECONDS])
        // One worker: CPython 3.11 before 3.11.8 can fail `ast.parse` in
        // concurrent threads (gh-106905), which Hypothesis calls.
        .args([
            "--workers",
            "1",
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--no-color",
        ]);
    let out = cmd.output().expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems ({:?}):\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Print the summary: `cargo nextest run --no-capture` shows what it tested.
    println!("{report}");
    drop(server);
}
