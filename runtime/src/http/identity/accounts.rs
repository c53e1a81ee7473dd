//! Reading accounts (`users`) the way least privilege allows.
//!
//! On PostgreSQL the serving role sees a user only through a membership of
//! the request's tenant (row-level security on `users`) and never the
//! `password_hash` column. The two questions the sign-in paths must ask
//! go through `SECURITY DEFINER` functions the migration runner keeps
//! (`db/migrate.rs`):
//!
//! - `rookery_sign_in(email)`: the account and its hash, only when it is a
//!   member of the tenant set for the transaction or holds a pending
//!   invitation there — login and accepting an invitation;
//! - `rookery_email_taken(email)`: whether any account has that email —
//!   sign-up's conflict check, which answers no more than the 409 does;
//! - `rookery_sign_in_anywhere(email)`: the account and its hash whatever
//!   its tenants — signing in without naming a tenant, which answers like
//!   any failed login unless the password is right and the account is an
//!   active member somewhere.
//!
//! SQLite has no roles; the same questions are plain queries there.

use super::{opt_text, text_bind, uuid};
use crate::db::{DbError, Dialect, Mode, PlatformTx, TenantTx};
use crate::model::UserId;

/// The account of `email` (lowercased) with its password hash, as the
/// sign-in paths of `tx`'s tenant may see it.
pub(super) async fn sign_in_account(
    tx: &mut TenantTx<impl Mode>,
    email: &str,
) -> Result<Option<(UserId, Option<String>)>, DbError> {
    let sql = match tx.dialect() {
        Dialect::Postgres => "SELECT id, password_hash FROM rookery_sign_in($1)",
        Dialect::Sqlite => "SELECT id, password_hash FROM users WHERE lower(email) = $1",
    };
    tx.fetch_optional(sql.into(), vec![text_bind(email)])
        .await?
        .map(|row| Ok((UserId(uuid(&row, 0)?), opt_text(&row, 1)?)))
        .transpose()
}

/// Whether an account with `email` (lowercased) exists, in any tenant.
pub(super) async fn email_taken(tx: &mut PlatformTx, email: &str) -> Result<bool, DbError> {
    let sql = match tx.dialect() {
        Dialect::Postgres => "SELECT 1 WHERE rookery_email_taken($1)",
        Dialect::Sqlite => "SELECT 1 FROM users WHERE lower(email) = $1",
    };
    Ok(tx.fetch_optional(sql.into(), vec![text_bind(email)]).await?.is_some())
}

/// The account of `email` (lowercased) with its password hash, whatever
/// its tenants: signing in without naming a tenant (`tenants::login`),
/// which then reads the account's memberships and refuses one with none.
pub(super) async fn sign_in_anywhere(
    tx: &mut PlatformTx,
    email: &str,
) -> Result<Option<(UserId, Option<String>)>, DbError> {
    let sql = match tx.dialect() {
        Dialect::Postgres => "SELECT id, password_hash FROM rookery_sign_in_anywhere($1)",
        Dialect::Sqlite => "SELECT id, password_hash FROM users WHERE lower(email) = $1",
    };
    tx.fetch_optional(sql.into(), vec![text_bind(email)])
        .await?
        .map(|row| Ok((UserId(uuid(&row, 0)?), opt_text(&row, 1)?)))
        .transpose()
}
