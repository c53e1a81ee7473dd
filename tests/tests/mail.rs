//! The example app's mail without SMTP, as a developer meets it: `taskboard`
//! serves (its workers in the same process), an owner invites a member, the
//! invitation mail lands in the outbox, and `taskboard mail list` /
//! `taskboard mail show ID` read it, with Taskboard's own template, the
//! accept link and its token. On SQLite (`cargo run`) and on PostgreSQL,
//! where `serve` warns that nothing is delivered and only the tables' owner
//! may read every tenant's mail.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::json;
use support::{Database, Server, binary, call};

/// Runs `taskboard mail <args>` with `env`; its stdout, or its stderr
/// when `ok` is false (and then it must fail).
fn mail_command(bin: &Path, env: &[(&str, &str)], args: &[&str], ok: bool) -> String {
    let out = Command::new(bin)
        .arg("mail")
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("run taskboard mail");
    assert_eq!(
        out.status.success(),
        ok,
        "taskboard mail {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(if ok { &out.stdout } else { &out.stderr }).into_owned()
}

/// Signs up `acme`, invites bob; waits for the worker's log line saying the
/// mail is in the outbox; returns the invitation's token and the mail's id.
fn invite_and_wait(server: &mut Server) -> (String, String) {
    let (status, body, _) = call(
        &server.base,
        "POST",
        "/api/v1/auth/signup",
        &[],
        Some(
            &json!({ "tenant_slug": "acme", "tenant_name": "Acme Corp", "email": "ada@acme.test", "password": "correct horse battery" }),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let owner = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let tenant = body["tenant"]["id"].as_str().unwrap().to_owned();
    let (status, invited, _) = call(
        &server.base,
        "POST",
        "/api/v1/invitations",
        &[("authorization", &owner), ("x-tenant", &tenant)],
        Some(&json!({ "email": "bob@example.com", "role": "member" })),
    );
    assert_eq!(status, 201, "{invited}");
    let line = server.wait_for_log("mail kept in the outbox");
    let token = invited["token"].as_str().unwrap().to_owned();
    assert!(!line.contains(&token), "the token was logged: {line}");
    let id = line
        .split("taskboard mail show ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no `taskboard mail show ID` in {line}"))
        .to_owned();
    (token, id)
}

/// What `mail list` and `mail show` must print for the invitation.
fn assert_outbox(bin: &Path, env: &[(&str, &str)], token: &str, id: &str) {
    let list = mail_command(bin, env, &["list"], true);
    let first = list.lines().next().unwrap_or_default();
    assert!(first.starts_with(id), "{list}");
    for expected in ["outbox", "invitation", "bob@example.com"] {
        assert!(first.contains(expected), "{expected} in {list}");
    }
    assert!(list.contains("subject: Join Acme Corp on Taskboard"), "{list}");
    assert!(!list.contains(token), "the list shows no body: {list}");
    let show = mail_command(bin, env, &["show", id], true);
    for expected in [
        "State: outbox",
        "To: bob@example.com",
        "From: taskboard <no-reply@localhost>",
        "Subject: Join Acme Corp on Taskboard",
        "wants you on the Acme Corp board as member",
        "----- text/html -----",
        "<h2",
    ] {
        assert!(show.contains(expected), "{expected} in {show}");
    }
    let link = format!("/invitations/accept?tenant=acme&token={token}");
    assert!(show.contains(&link), "{link} in {show}");
    let unknown = mail_command(bin, env, &["show", "0190b4a2-0000-7000-8000-000000000000"], false);
    assert!(unknown.contains("no message has id"), "{unknown}");
}

#[test]
fn sqlite_invitations_land_in_the_outbox_and_the_cli_reads_them() {
    let bin = binary("taskboard");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("taskboard.sqlite").display());
    let env = [("DATABASE_URL", url.as_str())];
    let mut server = Server::start(&bin, &env);
    let startup = server.startup_log.join("\n");
    assert!(
        startup.contains("SMTP_URL not set: mail stays in the outbox; read it with `taskboard mail list`"),
        "{startup}"
    );
    let (token, id) = invite_and_wait(&mut server);
    assert_outbox(&bin, &env, &token, &id);
    assert!(server.stop().success());
}

#[test]
fn postgres_invitations_land_in_the_outbox_for_the_owner_to_read() {
    let bin = binary("taskboard");
    let db = Database::create();
    db.migrate_with(&bin);
    let serving = [
        ("DATABASE_URL", db.serving_url.as_str()),
        ("ROOKERY_JOBS_IN_SERVE", "true"),
    ];
    let mut server = Server::start(&bin, &serving);
    let startup = server.startup_log.join("\n");
    assert!(
        startup.contains("SMTP_URL not set: mail is not delivered but kept in the outbox table"),
        "{startup}"
    );
    let (token, id) = invite_and_wait(&mut server);
    assert!(server.stop().success());
    // As the serving role: refused, saying whom it is for.
    let refused = mail_command(
        &bin,
        &[
            ("DATABASE_URL", db.serving_url.as_str()),
            ("ROOKERY_MIGRATE_DATABASE_URL", db.serving_url.as_str()),
        ],
        &["list"],
        false,
    );
    assert!(refused.contains("ROOKERY_MIGRATE_DATABASE_URL"), "{refused}");
    let owner = [
        ("DATABASE_URL", db.serving_url.as_str()),
        ("ROOKERY_MIGRATE_DATABASE_URL", db.owner_url.as_str()),
    ];
    assert_outbox(&bin, &owner, &token, &id);
}
