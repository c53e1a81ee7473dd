//! Sending a stored message over SMTP with lettre (tokio, rustls with
//! ring and the webpki roots; pooled connections), and telling a refusal
//! no retry can fix from one worth retrying.

use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::config::{SmtpConfig, SmtpTls};
use crate::db::StoredMail;

/// How long one SMTP command may take before the attempt fails (and is
/// retried).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendError {
    /// No retry can deliver it: the server refused the recipient or the
    /// message for good (5xx), or the message cannot be built.
    Permanent(String),
    /// Worth another attempt: a 4xx answer, a connection, TLS or
    /// authentication failure, a timeout.
    Transient(String),
}

/// An SMTP server to send to. The client (lettre's pool, which spawns its
/// own task) is made on the first send, inside the worker's runtime: a
/// mailer that only queues mail (a `serve` whose workers run elsewhere)
/// never makes one.
pub(crate) struct Smtp {
    config: SmtpConfig,
    transport: OnceLock<Result<AsyncSmtpTransport<Tokio1Executor>, String>>,
    server: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Smtp {
    /// A client of `config`'s server (nothing is dialed yet).
    pub(crate) fn new(config: &SmtpConfig) -> Self {
        Self {
            config: config.clone(),
            transport: OnceLock::new(),
            server: config.redacted(),
        }
    }

    /// The server, without its password.
    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    /// Sends `mail` (which must still have its body).
    pub(crate) async fn send(&self, mail: &StoredMail) -> Result<(), SendError> {
        let transport = self
            .transport
            .get_or_init(|| transport(&self.config).map_err(|e| format!("the SMTP settings do not work: {e}")))
            .as_ref()
            .map_err(|e| SendError::Transient(e.clone()))?;
        let message = message(mail)?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
}

fn transport(config: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let params = || TlsParameters::new(config.host.clone());
    let tls = match config.tls {
        SmtpTls::Implicit => Tls::Wrapper(params()?),
        SmtpTls::Required => Tls::Required(params()?),
        SmtpTls::Opportunistic => Tls::Opportunistic(params()?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        .port(config.port)
        .tls(tls)
        .timeout(Some(COMMAND_TIMEOUT));
    if let Some(user) = &config.username {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            config.password.clone().unwrap_or_default(),
        ));
    }
    Ok(builder.build())
}

/// The MIME message: `multipart/alternative` (text, then HTML) or plain
/// text, with a `Message-ID` that is the same at every attempt, so a
/// receiver can tell a repeat (delivery is at least once).
fn message(mail: &StoredMail) -> Result<Message, SendError> {
    let permanent = |what: &str, e: &dyn std::fmt::Display| SendError::Permanent(format!("{what}: {e}"));
    let from: Mailbox = mail.from.parse().map_err(|e| permanent("the From address", &e))?;
    let to: Mailbox = mail.to.parse().map_err(|e| permanent("the recipient", &e))?;
    let text = mail
        .text
        .clone()
        .ok_or_else(|| SendError::Permanent("the message has no body left to send".into()))?;
    let builder = Message::builder()
        .message_id(Some(format!("<{}@{}>", mail.id, from.email.domain())))
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .date_now();
    let built = match &mail.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(text, html.clone())),
        None => builder.singlepart(SinglePart::plain(text)),
    };
    built.map_err(|e| permanent("the message", &e))
}

/// 5xx answers are final, except those that say the client must
/// authenticate or encrypt first (530, 534, 535, 538): a configuration
/// the operator can fix, so they are retried. Everything else (4xx,
/// connection, TLS, timeouts) is retried.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let message = e.to_string();
    let code = e.status().map(u16::from);
    match code {
        Some(530 | 534 | 535 | 538) => SendError::Transient(message),
        Some(500..=599) => SendError::Permanent(message),
        _ => SendError::Transient(message),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn stored(html: Option<&str>) -> StoredMail {
        StoredMail {
            id: uuid::Uuid::nil(),
            tenant: crate::model::TenantId(uuid::Uuid::nil()),
            template: "t".into(),
            to: "bob@example.com".into(),
            from: "Acme <no-reply@acme.test>".into(),
            subject: "Hi".into(),
            text: Some("text part\n".into()),
            html: html.map(str::to_owned),
            state: "queued".into(),
            last_error: None,
            created_at: Utc::now(),
            sent_at: None,
        }
    }

    #[test]
    fn messages_carry_both_parts_and_a_stable_message_id() {
        let both = String::from_utf8(message(&stored(Some("<p>html part</p>"))).unwrap().formatted()).unwrap();
        assert!(both.contains("multipart/alternative"), "{both}");
        assert!(
            both.contains("text part") && both.contains("<p>html part</p>"),
            "{both}"
        );
        assert!(
            both.contains("Message-ID: <00000000-0000-0000-0000-000000000000@acme.test>"),
            "{both}"
        );
        let plain = String::from_utf8(message(&stored(None)).unwrap().formatted()).unwrap();
        assert!(!plain.contains("multipart"), "{plain}");
        let mut sent = stored(None);
        sent.text = None;
        assert!(matches!(message(&sent), Err(SendError::Permanent(_))));
    }
}
