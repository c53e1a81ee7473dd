//! Erasing one person's personal data from their account (the owner's
//! `rookery_erase_user` on PostgreSQL).

use chrono::Utc;

use super::super::bind::format_datetime;
use super::super::tx::Conn;
use super::super::{DbError, PlatformTx};
use crate::model::UserId;

/// The placeholder an erased account's email becomes: it names no one and
/// is unique (the account's own id), so the address is free again.
pub(crate) fn erased_email(user: UserId) -> String {
    format!("erased-{}@erased.invalid", user.0.simple())
}

impl PlatformTx {
    /// Erases `user`'s personal data: the mail addressed to them and the
    /// invitations to their address (in every tenant) deleted, their email
    /// replaced by [`erased_email`], their password hash removed; whether
    /// the account was not erased already. On PostgreSQL the transaction
    /// must name the user first ([`PlatformTx::as_user`]).
    pub(crate) async fn erase_account(&mut self, user: UserId) -> Result<bool, DbError> {
        let email = erased_email(user);
        match self.conn() {
            Conn::Postgres(conn) => Ok(sqlx::query_scalar("SELECT rookery_erase_user($1, $2)")
                .bind(user.0)
                .bind(email)
                .fetch_one(conn)
                .await?),
            Conn::Sqlite(conn) => {
                let id = user.0.hyphenated().to_string();
                let old: Option<String> =
                    sqlx::query_scalar("SELECT lower(email) FROM users WHERE id = $1 AND erased_at IS NULL")
                        .bind(&id)
                        .fetch_optional(&mut *conn)
                        .await?;
                let Some(old) = old else { return Ok(false) };
                sqlx::query("DELETE FROM rookery_mail WHERE lower(to_address) = $1")
                    .bind(&old)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("DELETE FROM invitations WHERE lower(email) = $1")
                    .bind(&old)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("UPDATE users SET email = $2, password_hash = NULL, erased_at = $3 WHERE id = $1")
                    .bind(&id)
                    .bind(email)
                    .bind(format_datetime(Utc::now()))
                    .execute(&mut *conn)
                    .await?;
                Ok(true)
            }
        }
    }
}
