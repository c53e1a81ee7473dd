//! Mail: messages rendered from templates, queued in the transaction of
//! the write that asks for them, and sent by a background job.
//!
//! [`TenantTx::send_mail`] renders a [`Mail`] with the app's templates
//! (minijinja: a `subject`, a `text` and an optional `html` block; the
//! runtime's are built in, [`App::mail_template`](crate::App::mail_template)
//! replaces one or adds your own), stores the message in `rookery_mail` and
//! enqueues its send job, in that transaction: the message exists if and
//! only if the write commits. The job (queue `mail`) sends it over SMTP
//! when `SMTP_URL` is set; a refusal no retry can fix (a 5xx answer to the
//! recipient or the message) fails it at once, anything else (a 4xx
//! answer, a connection or TLS failure) is retried with the job's backoff.
//! Without `SMTP_URL` the message stays in the table as the outbox:
//! `<app> mail list` and `<app> mail show ID` read it.
//!
//! ```
//! use rookery::mail::Mail;
//! use rookery::serde_json::json;
//!
//! # async fn f(state: &rookery::AppState, tenant: rookery::TenantId) -> Result<(), rookery::ApiError> {
//! let mut tx = state.db().begin_write(tenant).await?;
//! // … the write the message belongs to …
//! let mail = Mail::new("weekly_report", "ada@example.com").context(json!({ "open": 3 }));
//! tx.send_mail(state.mailer(), &mail).await?;
//! tx.commit().await?; // queued from here on; a worker sends it
//! # Ok(()) }
//! ```
//!
//! Delivery is at least once: a worker that dies after the server took a
//! message and before it was marked sent sends it again, with the same
//! `Message-ID`.

mod notices;
mod send;
mod smtp;
mod templates;

use std::sync::Arc;

use uuid::Uuid;

pub(crate) use send::register;
pub(crate) use templates::Templates;

use crate::app_spec::AppSpec;
use crate::config::MailConfig;
use crate::db::{DbError, NewMail, TenantTx, Writing};
use crate::jobs::{EnqueueError, JobContext, JobError, Worker};

/// A message to send: a template, a recipient and the template's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    template: String,
    to: String,
    context: serde_json::Value,
}

impl Mail {
    /// Template `template` to `to`, with no values yet.
    pub fn new(template: impl Into<String>, to: impl Into<String>) -> Self {
        Self {
            template: template.into(),
            to: to.into(),
            context: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// The template's values: a JSON object (`app`, the app's `name` and
    /// `title`, is added unless it has one).
    pub fn context(mut self, context: serde_json::Value) -> Self {
        self.context = context;
        self
    }
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rendered {
    /// The subject, on one line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part, when the template has an `html` block.
    pub html: Option<String>,
}

/// A message could not be queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// No template has this name: neither one of the runtime's nor one the
    /// app added.
    #[error("no mail template `{0}`")]
    UnknownTemplate(String),
    /// The template failed to render (a variable it uses is missing: mail
    /// templates are strict).
    #[error("mail template `{template}` did not render: {message}")]
    Render {
        /// The template.
        template: String,
        /// minijinja's account of the failure.
        message: String,
    },
    /// The recipient is not an email address.
    #[error("the recipient is not an email address")]
    Address,
    /// The values are not a JSON object.
    #[error("a mail's context must be a JSON object")]
    Context,
    /// The send job could not be enqueued.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
    /// The database refused or failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Renders and queues an app's mail: its templates, its `From` and how
/// its workers send (SMTP, or the outbox). Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    spec: &'static AppSpec,
    templates: Arc<Templates>,
    from: String,
    smtp: Option<smtp::Smtp>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.inner.from)
            .field("smtp", &self.inner.smtp)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    pub(crate) fn new(spec: &'static AppSpec, templates: Arc<Templates>, config: &MailConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                spec,
                templates,
                from: config.from.clone(),
                smtp: config.smtp.as_ref().map(smtp::Smtp::new),
            }),
        }
    }

    /// Renders `mail` (what [`TenantTx::send_mail`] stores), for a preview.
    pub fn render(&self, mail: &Mail) -> Result<Rendered, MailError> {
        let serde_json::Value::Object(mut context) = mail.context.clone() else {
            return Err(MailError::Context);
        };
        let spec = self.inner.spec;
        context
            .entry("app")
            .or_insert_with(|| serde_json::json!({ "name": spec.name, "title": spec.title }));
        self.inner
            .templates
            .render(&mail.template, &serde_json::Value::Object(context))
    }

    /// The app's spec (who may be told what).
    pub(crate) fn spec(&self) -> &'static AppSpec {
        self.inner.spec
    }

    /// The `From` of every message (`MAIL_FROM`).
    pub fn from(&self) -> &str {
        &self.inner.from
    }

    /// Where this mailer's workers put mail, for the start-up log: the
    /// SMTP server (without its password), or `None` for the outbox.
    pub fn smtp_server(&self) -> Option<&str> {
        self.inner.smtp.as_ref().map(smtp::Smtp::server)
    }
}

/// Whether `to` is an address [`TenantTx::send_mail`] takes.
pub(crate) fn is_address(to: &str) -> bool {
    to.trim().parse::<lettre::Address>().is_ok()
}

impl TenantTx<Writing> {
    /// Renders `mail`, stores it for this transaction's tenant and
    /// enqueues its send job: it is sent if and only if the transaction
    /// commits. Returns the message's id (`<app> mail show ID`).
    pub async fn send_mail(&mut self, mailer: &Mailer, mail: &Mail) -> Result<Uuid, MailError> {
        let id = Uuid::now_v7();
        self.send_mail_as(mailer, mail, id).await?;
        Ok(id)
    }

    /// [`TenantTx::send_mail`] with the message's id chosen by the caller:
    /// `false` when a message with that id is stored already, and then
    /// nothing is written or enqueued (a job that runs twice mails once).
    pub(crate) async fn send_mail_as(&mut self, mailer: &Mailer, mail: &Mail, id: Uuid) -> Result<bool, MailError> {
        let to: lettre::Address = mail.to.trim().parse().map_err(|_| MailError::Address)?;
        let rendered = mailer.render(mail)?;
        let stored = self
            .insert_mail(&NewMail {
                id,
                template: &mail.template,
                to: to.as_ref(),
                from: mailer.from(),
                subject: &rendered.subject,
                text: &rendered.text,
                html: rendered.html.as_deref(),
            })
            .await?;
        if stored {
            self.enqueue(&send::SendMail { mail: id }).await?;
        }
        Ok(stored)
    }
}

impl Worker {
    /// This worker sending mail with `mailer` (`App::mailer`): without one
    /// it cannot run a send job, which then waits for a worker that can.
    pub fn with_mailer(self, mailer: Mailer) -> Self {
        self.provide(mailer)
    }
}

impl JobContext {
    /// The worker's mailer, for a job that sends mail in its own
    /// transaction ([`TenantTx::send_mail`]); an error (retried) when the
    /// worker has none ([`Worker::with_mailer`]).
    pub fn mailer(&self) -> Result<&Mailer, JobError> {
        self.resource::<Mailer>().ok_or_else(|| {
            JobError::retry("this worker has no mailer: start it with `.with_mailer(app.mailer(&config.mail))`")
        })
    }
}
