//! The mail table's storage: `rookery_mail` (platform tables, version 4)
//! and its statements per dialect. The `mail` module renders messages and
//! sends them on top.
//!
//! A message is a row of its tenant: written in the transaction of the
//! write that asks for it (so it exists if and only if that write
//! commits), read and marked by its send job in that tenant's
//! transactions (row-level security on PostgreSQL confines both). The
//! operator's view across tenants (`<app> mail list`, `mail show`, run as
//! the tables' owner) and the pruning go through the owner's functions on
//! PostgreSQL, which show a message's body only while it sits in the
//! outbox: a message that was sent has none (it may have held a token),
//! and one still queued or failed is nobody's to read but its job's.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use uuid::Uuid;

use super::bind::format_datetime;
use super::sql::{FromRow, RowReader};
use super::tx::{Mode, TenantTx, Writing};
use super::{Db, DbError};
use crate::model::TenantId;

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredMail {
    pub(crate) id: Uuid,
    pub(crate) tenant: TenantId,
    pub(crate) template: String,
    pub(crate) to: String,
    pub(crate) from: String,
    pub(crate) subject: String,
    /// `None` once sent (and, in the operator's view, unless in the outbox).
    pub(crate) text: Option<String>,
    pub(crate) html: Option<String>,
    /// `queued`, `sent`, `outbox` or `failed`.
    pub(crate) state: String,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) sent_at: Option<DateTime<Utc>>,
}

/// The columns [`StoredMail`] reads, in its order.
const COLUMNS: &str = "id, tenant_id, template, to_address, from_address, subject, text_body, html_body, \
                       state, last_error, created_at, sent_at";

impl FromRow for StoredMail {
    fn from_row(row: &mut RowReader<'_>) -> Result<Self, DbError> {
        Ok(Self {
            id: row.read()?,
            tenant: TenantId(row.read()?),
            template: row.read()?,
            to: row.read()?,
            from: row.read()?,
            subject: row.read()?,
            text: row.read()?,
            html: row.read()?,
            state: row.read()?,
            last_error: row.read()?,
            created_at: row.read()?,
            sent_at: row.read()?,
        })
    }
}

/// A rendered message to store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewMail<'a> {
    pub(crate) id: Uuid,
    pub(crate) template: &'a str,
    pub(crate) to: &'a str,
    pub(crate) from: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) text: &'a str,
    pub(crate) html: Option<&'a str>,
}

/// How a send attempt ended, as the message records it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MailOutcome<'a> {
    /// Delivered over SMTP: the body is dropped.
    Sent,
    /// Kept in the outbox (no SMTP configured).
    Outbox,
    /// Not delivered, will be tried again.
    Deferred { error: &'a str },
    /// Not delivered, and no retry will deliver it.
    Failed { error: &'a str },
}

impl TenantTx<Writing> {
    /// Stores a queued message of this transaction's tenant; `false` when
    /// one with its id is stored already (nothing is written).
    pub(crate) async fn insert_mail(&mut self, mail: &NewMail<'_>) -> Result<bool, DbError> {
        let inserted = self
            .sql(
                "INSERT INTO rookery_mail (tenant_id, id, template, to_address, from_address, subject, text_body, \
                 html_body, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9) \
                 ON CONFLICT (tenant_id, id) DO NOTHING",
            )
            .bind(mail.id)
            .bind(mail.template)
            .bind(mail.to)
            .bind(mail.from)
            .bind(mail.subject)
            .bind(mail.text)
            .bind(mail.html)
            .bind(Utc::now())
            .execute()
            .await?;
        Ok(inserted == 1)
    }

    /// Records how a send attempt of message `id` ended. `false`: the
    /// message is gone (pruned, or its tenant deleted).
    pub(crate) async fn mark_mail(&mut self, id: Uuid, outcome: MailOutcome<'_>) -> Result<bool, DbError> {
        let (state, error, sent) = match outcome {
            MailOutcome::Sent => ("sent", None, true),
            MailOutcome::Outbox => ("outbox", None, false),
            MailOutcome::Deferred { error } => ("queued", Some(error), false),
            MailOutcome::Failed { error } => ("failed", Some(error), false),
        };
        let changed = self
            .sql(
                "UPDATE rookery_mail SET state = $3, last_error = $4, \
                     sent_at = CASE WHEN $5 THEN $6 ELSE sent_at END, \
                     text_body = CASE WHEN $5 THEN NULL ELSE text_body END, \
                     html_body = CASE WHEN $5 THEN NULL ELSE html_body END \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(id)
            .bind(state)
            .bind(error)
            .bind(sent)
            .bind(Utc::now())
            .execute()
            .await?;
        Ok(changed == 1)
    }
}

impl<M: Mode> TenantTx<M> {
    /// Message `id` of this transaction's tenant, body included.
    pub(crate) async fn load_mail(&mut self, id: Uuid) -> Result<Option<StoredMail>, DbError> {
        self.sql(format!(
            "SELECT {COLUMNS} FROM rookery_mail WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(id)
        .fetch_optional()
        .await
    }
}

/// The operator's view: the body only while a message is in the outbox.
const OPERATOR_COLUMNS: &str = "id, tenant_id, template, to_address, from_address, subject, \
     CASE WHEN state = 'outbox' THEN text_body END, CASE WHEN state = 'outbox' THEN html_body END, \
     state, last_error, created_at, sent_at";

impl Db {
    /// Every tenant's messages, newest first, at most `limit` (bodies of
    /// outbox messages only).
    pub(crate) async fn list_mail(&self, limit: u32) -> Result<Vec<StoredMail>, DbError> {
        let limit = i64::from(limit);
        if let Some(pool) = self.pg() {
            let rows = sqlx::query("SELECT * FROM rookery_mail_list($1)")
                .bind(limit)
                .fetch_all(pool)
                .await?;
            return rows.iter().map(pg_mail).collect();
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OPERATOR_COLUMNS} FROM rookery_mail ORDER BY created_at DESC, id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter().map(sqlite_mail).collect()
    }

    /// Message `id` of any tenant (its body only while it is in the outbox).
    pub(crate) async fn show_mail(&self, id: Uuid) -> Result<Option<StoredMail>, DbError> {
        if let Some(pool) = self.pg() {
            let row = sqlx::query("SELECT * FROM rookery_mail_show($1)")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            return row.as_ref().map(pg_mail).transpose();
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OPERATOR_COLUMNS} FROM rookery_mail WHERE id = $1"
        )))
        .bind(id.hyphenated().to_string())
        .fetch_optional(pool)
        .await?;
        row.as_ref().map(sqlite_mail).transpose()
    }

    /// Deletes messages created before `before` that are no longer queued;
    /// returns how many.
    pub(crate) async fn prune_mail(&self, before: DateTime<Utc>) -> Result<u64, DbError> {
        if let Some(pool) = self.pg() {
            let n: i64 = sqlx::query_scalar("SELECT rookery_mail_prune($1)")
                .bind(before)
                .fetch_one(pool)
                .await?;
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let pool = self.sqlite().expect("a Db always holds one pool");
        Ok(
            sqlx::query("DELETE FROM rookery_mail WHERE state <> 'queued' AND created_at < $1")
                .bind(format_datetime(before))
                .execute(pool)
                .await?
                .rows_affected(),
        )
    }
}

fn pg_mail(r: &sqlx::postgres::PgRow) -> Result<StoredMail, DbError> {
    Ok(StoredMail {
        id: r.try_get(0)?,
        tenant: TenantId(r.try_get(1)?),
        template: r.try_get(2)?,
        to: r.try_get(3)?,
        from: r.try_get(4)?,
        subject: r.try_get(5)?,
        text: r.try_get(6)?,
        html: r.try_get(7)?,
        state: r.try_get(8)?,
        last_error: r.try_get(9)?,
        created_at: r.try_get(10)?,
        sent_at: r.try_get(11)?,
    })
}

fn sqlite_mail(r: &sqlx::sqlite::SqliteRow) -> Result<StoredMail, DbError> {
    let decode = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Sqlx(sqlx::Error::Decode(e));
    let uuid = |i: usize| -> Result<Uuid, DbError> {
        Uuid::parse_str(&r.try_get::<String, _>(i)?).map_err(|e| decode(e.into()))
    };
    let time = |text: Option<String>| -> Result<Option<DateTime<Utc>>, DbError> {
        text.map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| decode(e.into()))
        })
        .transpose()
    };
    Ok(StoredMail {
        id: uuid(0)?,
        tenant: TenantId(uuid(1)?),
        template: r.try_get(2)?,
        to: r.try_get(3)?,
        from: r.try_get(4)?,
        subject: r.try_get(5)?,
        text: r.try_get(6)?,
        html: r.try_get(7)?,
        state: r.try_get(8)?,
        last_error: r.try_get(9)?,
        created_at: time(Some(r.try_get(10)?))?.unwrap_or_default(),
        sent_at: time(r.try_get(11)?)?,
    })
}

/// The mail table's grants and functions on PostgreSQL (`{schema}` and
/// `{role}` quoted), applied by every `migrate` after the migrations, when
/// the table exists. The serving role reads, writes and marks its tenants'
/// messages (row-level security); it never deletes one (but through the
/// pruning function), nor changes a message's envelope or subject. The
/// operator's view across tenants is the owner's alone: `<app> mail`
/// connects as `migrate` does, and a serving role that SQL injection took
/// over reads no other tenant's mail.
pub(super) const FUNCTIONS: &str = r"
REVOKE ALL ON rookery_mail FROM {role};
GRANT SELECT, INSERT ON rookery_mail TO {role};
GRANT UPDATE (state, last_error, sent_at, text_body, html_body) ON rookery_mail TO {role};

CREATE OR REPLACE FUNCTION rookery_mail_list(p_limit bigint)
RETURNS TABLE (id uuid, tenant_id uuid, template text, to_address text, from_address text, subject text,
               text_body text, html_body text, state text, last_error text, created_at timestamptz,
               sent_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    SELECT m.id, m.tenant_id, m.template, m.to_address, m.from_address, m.subject,
           CASE WHEN m.state = 'outbox' THEN m.text_body END, CASE WHEN m.state = 'outbox' THEN m.html_body END,
           m.state, m.last_error, m.created_at, m.sent_at
    FROM rookery_mail m ORDER BY m.created_at DESC, m.id DESC LIMIT p_limit
$rookery$;

CREATE OR REPLACE FUNCTION rookery_mail_show(p_id uuid)
RETURNS TABLE (id uuid, tenant_id uuid, template text, to_address text, from_address text, subject text,
               text_body text, html_body text, state text, last_error text, created_at timestamptz,
               sent_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    SELECT m.id, m.tenant_id, m.template, m.to_address, m.from_address, m.subject,
           CASE WHEN m.state = 'outbox' THEN m.text_body END, CASE WHEN m.state = 'outbox' THEN m.html_body END,
           m.state, m.last_error, m.created_at, m.sent_at
    FROM rookery_mail m WHERE m.id = p_id
$rookery$;

CREATE OR REPLACE FUNCTION rookery_mail_prune(p_before timestamptz)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $rookery$
    WITH gone AS (DELETE FROM rookery_mail WHERE state <> 'queued' AND created_at < p_before RETURNING 1)
    SELECT count(*) FROM gone
$rookery$;

REVOKE ALL ON FUNCTION rookery_mail_list(bigint), rookery_mail_show(uuid), rookery_mail_prune(timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_mail_prune(timestamptz) TO {role};
";
