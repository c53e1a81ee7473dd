//! Mail on SQLite and on PostgreSQL, sent to a real SMTP server (aiosmtpd,
//! `support/smtp.rs`) that records what it received: an invitation is
//! mailed with its link in both parts and can be accepted from it; a
//! temporary refusal (451) is retried, a permanent one (550) is dead at
//! once; STARTTLS is required unless turned off; without SMTP the message
//! stays in the outbox; an app's own template is sent, and a message
//! exists only if its transaction commits.

mod support;

#[path = "support/smtp.rs"]
mod smtp;

use axum::http::StatusCode;
use rookery::App;
use rookery::config::{Config, MailConfig};
use rookery::jobs::Worker;
use rookery::mail::Mail;
use serde_json::json;
use smtp::SmtpServer;
use support::{Harness, TEST_SPEC};

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run(crate::support::Backend::Sqlite, crate::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run(crate::support::Backend::Postgres, crate::$scenario).await;
                }
            )*
        }
    };
}

on_both_backends!(
    an_invitation_is_mailed_with_its_link_and_accepted_from_it,
    a_temporary_refusal_is_retried_and_then_delivered,
    a_permanent_refusal_is_dead_at_once,
    starttls_is_required_unless_turned_off,
    without_smtp_mail_stays_in_the_outbox,
    an_apps_own_template_is_sent_only_if_its_transaction_commits,
);

const PW: &str = "correct horse battery";

/// The mail settings `vars` give, as the app reads them.
fn mail_config(vars: &[(&str, &str)]) -> MailConfig {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    Config::from_vars("testapp", &move |name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .expect("config")
    .mail
}

/// A worker of the test app sending with `mail`.
fn worker(h: &Harness, mail: &MailConfig) -> Worker {
    let app = App::new(&TEST_SPEC);
    app.worker(h.db().clone(), h.config()).with_mailer(app.mailer(mail))
}

/// Signs up `acme` and invites `email` as a member; the response.
async fn invite(h: &Harness, email: &str) -> support::Reply {
    let owner = h.signup("acme", "ada@example.com", PW).await.str("access_token");
    // An address no SMTP server takes is refused before anything is stored.
    let unmailable = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&owner),
            Some(json!({ "email": "+\u{23a}wxc\u{d8}@-.example.com", "role": "member" })),
        )
        .await;
    assert_eq!(unmailable.status, StatusCode::UNPROCESSABLE_ENTITY, "{unmailable:?}");
    assert_eq!(unmailable.body["errors"][0]["field"], "email", "{unmailable:?}");
    let invited = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&owner),
            Some(json!({ "email": email, "role": "member" })),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    invited
}

fn link(h: &Harness, token: &str) -> String {
    format!("{}/invitations/accept?tenant=acme&token={token}", h.config().public_url)
}

async fn an_invitation_is_mailed_with_its_link_and_accepted_from_it(h: Harness) {
    let mut server = SmtpServer::start(true).await;
    let invited = invite(&h, "bob@example.com").await;
    let token = invited.str("token");
    // Queued in the invitation's transaction, sent by its job.
    assert_eq!(h.mail_rows().await[0].state, "queued");
    let url = server
        .url("?tls=none")
        .replace("smtp://", "smtp://mailer%40testapp:s%2Fcret@");
    let sent = worker(&h, &mail_config(&[("SMTP_URL", &url)])).drain().await.unwrap();
    assert_eq!(sent.done, 1, "{sent:?}");

    let message = server.next_message().await;
    assert_eq!(message["rcpt_tos"], json!(["bob@example.com"]));
    // The From is the app's (MAIL_FROM where the message was queued).
    assert_eq!(h.config().mail.from, "testapp <no-reply@localhost>");
    assert_eq!(message["mail_from"], "no-reply@localhost");
    assert_eq!(message["from"], "testapp <no-reply@localhost>");
    assert_eq!(message["to"], "bob@example.com");
    assert_eq!(message["subject"], "ada@example.com invited you to ACME on Test app");
    assert_eq!(message["content_type"], "multipart/alternative");
    assert!(
        message["message_id"].as_str().unwrap().ends_with("@localhost>"),
        "{message}"
    );
    assert_eq!(
        (message["login"].as_str(), message["password"].as_str()),
        (Some("mailer@testapp"), Some("s/cret"))
    );
    let text = message["text"].as_str().unwrap();
    assert!(text.contains(&link(&h, &token)), "{text}");
    assert!(text.contains("as member"), "{text}");
    let html = message["html_unescaped"].as_str().unwrap();
    assert!(html.contains(&format!("href=\"{}\"", link(&h, &token))), "{html}");

    // Sent: the envelope and subject stay, the body (with the token) does not.
    let row = &h.mail_rows().await[0];
    assert_eq!(
        (row.state.as_str(), &row.text, &row.html),
        ("sent", &None, &None),
        "{row:?}"
    );

    // The invitee follows the mailed link.
    let mailed = text
        .split("token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    let body = json!({ "token": mailed, "password": "another good password" });
    let accepted = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
    assert_eq!(accepted.body["user"]["email"], "bob@example.com");
}

async fn a_temporary_refusal_is_retried_and_then_delivered(h: Harness) {
    let mut server = SmtpServer::start(false).await;
    invite(&h, "tempfail-once@example.com").await;
    let mail = mail_config(&[("SMTP_URL", &server.url("?tls=none"))]);
    let first = worker(&h, &mail).drain().await.unwrap();
    assert_eq!((first.done, first.retried), (0, 1), "{first:?}");
    let refused = server.next().await;
    assert_eq!(refused["answer"], "451 4.3.0 try again later", "{refused}");
    let row = &h.mail_rows().await[0];
    assert_eq!(row.state, "queued", "{row:?}");
    assert!(row.last_error.as_deref().unwrap().contains("451"), "{row:?}");
    assert!(row.text.is_some(), "kept for the next attempt");
    // The job's backoff passes.
    h.make_jobs_due().await;
    let second = worker(&h, &mail).drain().await.unwrap();
    assert_eq!(second.done, 1, "{second:?}");
    let message = server.next_message().await;
    assert_eq!(message["rcpt_tos"], json!(["tempfail-once@example.com"]));
    assert_eq!(h.mail_rows().await[0].state, "sent");
    let jobs = h.job_rows().await;
    let job = jobs.iter().find(|j| j.0 == "rookery.send_mail").unwrap();
    assert_eq!((job.1.as_str(), job.2), ("done", 2), "{jobs:?}");
}

async fn a_permanent_refusal_is_dead_at_once(h: Harness) {
    let mut server = SmtpServer::start(false).await;
    invite(&h, "reject@example.com").await;
    let drained = worker(&h, &mail_config(&[("SMTP_URL", &server.url("?tls=none"))]))
        .drain()
        .await
        .unwrap();
    assert_eq!((drained.dead, drained.retried), (1, 0), "{drained:?}");
    assert_eq!(server.next().await["answer"], "550 5.1.1 no such mailbox here");
    let jobs = h.job_rows().await;
    let job = jobs.iter().find(|j| j.0 == "rookery.send_mail").unwrap();
    assert_eq!((job.1.as_str(), job.2), ("dead", 1), "{jobs:?}");
    assert!(job.3.as_deref().unwrap().contains("550"), "{jobs:?}");
    let row = &h.mail_rows().await[0];
    assert_eq!(row.state, "failed", "{row:?}");
    assert!(row.last_error.as_deref().unwrap().contains("550"), "{row:?}");
}

async fn starttls_is_required_unless_turned_off(h: Harness) {
    let mut server = SmtpServer::start(false).await;
    invite(&h, "bob@example.com").await;
    // The test server offers no STARTTLS: the default refuses to go on.
    let required = worker(&h, &mail_config(&[("SMTP_URL", &server.url(""))]))
        .drain()
        .await
        .unwrap();
    assert_eq!(required.retried, 1, "{required:?}");
    let row = &h.mail_rows().await[0];
    assert_eq!(row.state, "queued", "{row:?}");
    assert!(row.last_error.as_deref().unwrap().contains("STARTTLS"), "{row:?}");
    h.make_jobs_due().await;
    let plain = worker(&h, &mail_config(&[("SMTP_URL", &server.url("?tls=none"))]))
        .drain()
        .await
        .unwrap();
    assert_eq!(plain.done, 1, "{plain:?}");
    // The server's first recipient is the plain attempt's: the refused
    // attempt never got as far as naming one.
    let first = server.next().await;
    assert_eq!(
        (first["event"].as_str(), first["answer"].as_str()),
        (Some("rcpt"), Some("250 OK"))
    );
    assert_eq!(server.next().await["event"], "message");
}

async fn without_smtp_mail_stays_in_the_outbox(h: Harness) {
    let invited = invite(&h, "bob@example.com").await;
    let drained = worker(&h, &mail_config(&[])).drain().await.unwrap();
    assert_eq!(drained.done, 1, "{drained:?}");
    let row = &h.mail_rows().await[0];
    assert_eq!((row.to.as_str(), row.state.as_str()), ("bob@example.com", "outbox"));
    let link = link(&h, &invited.str("token"));
    assert!(row.text.as_deref().unwrap().contains(&link), "{row:?}");
    assert!(
        row.html.as_deref().unwrap().contains("Accept the invitation"),
        "{row:?}"
    );
}

const WELCOME: &str = "{% block subject %}Welcome to {{ app.title }}, {{ name }}{% endblock %}
{% block text %}Hello {{ name }}.{% endblock %}";

async fn an_apps_own_template_is_sent_only_if_its_transaction_commits(h: Harness) {
    let mut server = SmtpServer::start(false).await;
    let tenant = h.tenant("acme").await;
    let app = App::new(&TEST_SPEC).mail_template("welcome", WELCOME);
    let mailer = app.mailer(&mail_config(&[("SMTP_URL", &server.url("?tls=none"))]));
    let welcome = Mail::new("welcome", "new@example.com").context(json!({ "name": "Nia" }));
    assert_eq!(mailer.render(&welcome).unwrap().subject, "Welcome to Test app, Nia");
    // Rolled back: no message, no job.
    let mut tx = h.db().begin_write(tenant).await.unwrap();
    tx.send_mail(&mailer, &welcome).await.unwrap();
    drop(tx);
    assert!(h.mail_rows().await.is_empty());
    // An unknown template or recipient fails in the request, not later.
    let mut tx = h.db().begin_write(tenant).await.unwrap();
    let unknown = tx.send_mail(&mailer, &Mail::new("nope", "new@example.com")).await;
    assert!(
        matches!(unknown, Err(rookery::mail::MailError::UnknownTemplate(_))),
        "{unknown:?}"
    );
    let bad = tx.send_mail(&mailer, &Mail::new("welcome", "not an address")).await;
    assert!(matches!(bad, Err(rookery::mail::MailError::Address)), "{bad:?}");
    tx.send_mail(&mailer, &welcome).await.unwrap();
    tx.commit().await.unwrap();
    let sent = app
        .worker(h.db().clone(), h.config())
        .with_mailer(mailer)
        .drain()
        .await
        .unwrap();
    assert_eq!(sent.done, 1, "{sent:?}");
    let message = server.next_message().await;
    assert_eq!(message["subject"], "Welcome to Test app, Nia");
    assert_eq!(message["content_type"], "text/plain", "no html block: one part");
    assert_eq!(message["text"].as_str().unwrap().trim_end(), "Hello Nia.");
}

/// Least privilege on PostgreSQL: the serving role sees and marks its own
/// tenant's mail only, never deletes a message or changes its envelope,
/// and cannot call the operator's functions (`<app> mail` runs as the
/// tables' owner).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_serving_role_reaches_its_tenants_mail_only() {
    support::run(support::Backend::Postgres, |h: Harness| async move {
        invite(&h, "bob@example.com").await;
        worker(&h, &mail_config(&[])).drain().await.unwrap();
        let other = h.tenant("globex").await;
        let mut tx = h.db().begin_write(other).await.unwrap();
        let (seen,): (i64,) = tx
            .sql("SELECT count(*) FROM rookery_mail WHERE $1::uuid IS NOT NULL")
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(seen, 0, "globex sees acme's mail");
        drop(tx);
        for refused in [
            "DELETE FROM rookery_mail WHERE $1::uuid IS NOT NULL",
            "UPDATE rookery_mail SET to_address = 'eve@evil.test' WHERE $1::uuid IS NOT NULL",
            "UPDATE rookery_mail SET subject = 'forged' WHERE $1::uuid IS NOT NULL",
            "SELECT count(*) FROM rookery_mail_list(10) WHERE $1::uuid IS NOT NULL",
        ] {
            let mut tx = h.db().begin_write(other).await.unwrap();
            let err = tx.sql(refused).execute().await.expect_err(refused).to_string();
            assert!(err.contains("permission denied"), "{refused}: {err}");
        }
        assert_eq!(h.mail_rows().await.len(), 1);
    })
    .await;
}
