//! Identity routes: sign-up, login, refresh, logout, API keys, invitations,
//! members and `me`.
//!
//! Secrets (passwords, refresh tokens, API keys, invitation tokens) exist in
//! clear only in the request that receives or mints them: they are stored
//! hashed (argon2id for passwords, SHA-256 for opaque tokens, peppered
//! HMAC-SHA256 for API keys) and never logged or audited.
//!
//! Global tables (`tenants`, `users`) are reached through a
//! [`PlatformTx`](crate::db::PlatformTx); everything tenant-owned through a
//! [`TenantTx`](crate::db::TenantTx) whose tenant is bound as `$1`.
//! Argon2 runs outside transactions, so no lock is held while it works.

mod accounts;
mod api_keys;
mod invitations;
mod members;
mod roles;
mod session;
mod signup;
mod tenants;

pub(crate) use api_keys::record_use as record_key_use;
pub(crate) use members::erase_by_email;

use axum::Router;
use axum::routing::{delete, get, patch, post};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::app_spec::AppSpec;
use crate::auth::api_key;
use crate::db::{Bind, DbError, DbRow, TenantTx};
use crate::http::body::JsonBody;
use crate::http::{ApiError, AppState};
use crate::model::{DecodeError, FieldType, TenantId, UserId, Value};
use crate::rbac::{CustomRoles, Role};
use crate::repo::FieldError;

/// Refresh tokens live 30 days (each use rotates them).
const REFRESH_TTL: Duration = Duration::days(30);
/// Invitations expire after 7 days.
const INVITATION_TTL: Duration = Duration::days(7);
/// Longest accepted password, in characters (argon2 accepts more; this
/// bounds request cost).
pub(crate) const MAX_PASSWORD_LEN: usize = 1024;
/// Longest accepted email address (RFC 5321 path limit).
pub(crate) use crate::repo::MAX_EMAIL_LEN;

/// The rules of the identity routes' bodies, as the OpenAPI document
/// states them.
pub(crate) mod rules {
    pub(crate) use super::api_keys::MAX_NAME_LEN as MAX_KEY_NAME_LEN;
    pub(crate) use super::roles::MAX_GRANTS;
    pub(crate) use super::signup::{MAX_NAME_LEN as MAX_TENANT_NAME_LEN, slug_schema};
    pub(crate) use super::{EMAIL_FIELD_PATTERN, EMAIL_PATTERN, MAX_EMAIL_LEN, MAX_PASSWORD_LEN};
    pub(crate) use crate::auth::password::MIN_PASSWORD_LEN;

    /// One character that is neither whitespace (as `str::trim` sees it)
    /// nor U+0000: a name must hold one.
    pub(crate) const NOT_SPACE: &str =
        "[^\\u0000\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
}

/// Routes that need no bearer token (sign-up, login, refresh, logout,
/// accepting an invitation).
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(signup::signup))
        .route("/auth/login", post(session::login))
        .route("/auth/refresh", post(session::refresh))
        .route("/auth/logout", post(session::logout))
        .route("/invitations/accept", post(invitations::accept))
}

/// Routes behind authentication (API keys, invitations, members, `me`).
pub(crate) fn protected_routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(session::me).delete(members::erase_me))
        .route("/me/tenants", get(tenants::mine))
        .route("/auth/switch", post(tenants::switch))
        .route("/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api-keys/{id}", delete(api_keys::revoke))
        .route("/invitations", post(invitations::create))
        .route("/members", get(members::list))
        .route("/members/me/leave", post(members::leave))
        .route(
            "/members/{user_id}",
            patch(members::change_role).delete(members::remove),
        )
        .route("/roles", get(roles::list).post(roles::create))
        .route(
            "/roles/{name}",
            get(roles::show).patch(roles::update).delete(roles::delete),
        )
        .route("/permissions", get(roles::permissions))
        .route("/tenant/transfer", post(members::transfer))
        .route("/tenant/export", get(crate::http::export::export))
        .route(
            "/tenant/deletion",
            get(crate::http::deletion::show)
                .post(crate::http::deletion::request)
                .delete(crate::http::deletion::cancel),
        )
}

/// An access token and a refresh token, as every sign-in route returns them.
#[derive(Serialize)]
struct TokenPair {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
}

/// Issues an access token for `user` as `role` in `tenant` and stores a new
/// refresh token inside `tx` (which belongs to `tenant`).
async fn issue_tokens(state: &AppState, tx: &mut TenantTx, user: UserId, role: &str) -> Result<TokenPair, ApiError> {
    let refresh_token = insert_refresh_token(tx, user).await?;
    let access_token = state
        .keys()
        .issue(user, tx.tenant(), role)
        .map_err(ApiError::internal)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: state.keys().ttl(),
        refresh_token,
    })
}

async fn insert_refresh_token(tx: &mut TenantTx, user: UserId) -> Result<String, DbError> {
    let (token, hash) = api_key::opaque_token();
    let now = crate::db::now();
    tx.execute(
        "INSERT INTO refresh_tokens (tenant_id, id, user_id, token_hash, expires_at, revoked_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, $6)"
            .into(),
        vec![
            uuid_bind(tx.tenant().0),
            uuid_bind(Uuid::now_v7()),
            uuid_bind(user.0),
            bytes_bind(hash),
            time_bind(now + REFRESH_TTL),
            time_bind(now),
        ],
    )
    .await?;
    Ok(token)
}

/// The role a member signs in with: what their membership stores, and its
/// name.
struct MemberRole {
    /// The stored key (a spec role's name, a custom role's `custom:<id>`).
    key: String,
    /// The role's name.
    name: String,
}

/// The role of `user` in the transaction's tenant, if they are an active
/// member (a former member is refused like a stranger) with a role that
/// still exists: one of the spec's, or a custom role of the tenant.
async fn membership_role(
    spec: &'static AppSpec,
    tx: &mut TenantTx,
    user: UserId,
) -> Result<Option<MemberRole>, DbError> {
    let row = tx
        .fetch_optional(
            "SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2 AND status = 'active'".into(),
            vec![uuid_bind(tx.tenant().0), uuid_bind(user.0)],
        )
        .await?;
    let Some(key) = row.map(|row| text(&row, 0)).transpose()? else {
        return Ok(None);
    };
    let name = match crate::rbac::custom_id(&key) {
        None => spec.role(&key).map(|r| r.name.to_owned()),
        Some(id) => tx
            .fetch_optional(
                "SELECT name FROM rookery_roles WHERE tenant_id = $1 AND id = $2".into(),
                vec![uuid_bind(tx.tenant().0), uuid_bind(id)],
            )
            .await?
            .map(|row| text(&row, 0))
            .transpose()?,
    };
    Ok(name.map(|name| MemberRole { key, name }))
}

// ---- validation -------------------------------------------------------------

/// [`crate::repo::is_email`]'s rule as a pattern, without surroundings.
macro_rules! email_address {
    () => {
        concat!(
            "[^@\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+",
            "@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+"
        )
    };
}

/// [`normalize_email`]'s rule as a pattern, for the OpenAPI document:
/// around whitespace (`str::trim`'s), a local part without `@`, whitespace
/// or control characters, then a domain of at least two dot-separated
/// labels of ASCII letters, digits and `-`.
pub(crate) const EMAIL_PATTERN: &str = concat!(
    "^[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*",
    email_address!(),
    "[\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$"
);

/// An `email` field's value as a pattern, for the OpenAPI document: the
/// address exactly (nothing is trimmed from a field).
pub(crate) const EMAIL_FIELD_PATTERN: &str = concat!("^", email_address!(), "$");

/// The email trimmed and lower-cased, or a field error: at most
/// [`MAX_EMAIL_LEN`] characters as sent, matching [`EMAIL_PATTERN`].
fn normalize_email(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> String {
    let trimmed = raw.trim();
    let email = trimmed.to_lowercase();
    let valid = raw.chars().count() <= MAX_EMAIL_LEN && crate::repo::is_email(trimmed);
    if !valid {
        errors.push(FieldError {
            field: field.into(),
            code: "invalid",
            message: "must be an email address".into(),
        });
    }
    email
}

/// Checks a new password's length.
fn check_password(field: &str, password: &str, errors: &mut Vec<FieldError>) {
    let len = password.chars().count();
    if len < crate::auth::password::MIN_PASSWORD_LEN {
        errors.push(FieldError {
            field: field.into(),
            code: "too_short",
            message: format!(
                "must be at least {} characters",
                crate::auth::password::MIN_PASSWORD_LEN
            ),
        });
    } else if len > MAX_PASSWORD_LEN {
        errors.push(FieldError {
            field: field.into(),
            code: "too_long",
            message: format!("must be at most {MAX_PASSWORD_LEN} characters"),
        });
    }
}

/// The role called `name` (a spec role or one of the tenant's custom
/// roles, as `roles` knows them), or a field error on `field` naming the
/// roles.
fn known_role(
    spec: &'static AppSpec,
    roles: &CustomRoles,
    field: &str,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Role> {
    let role = crate::rbac::by_name(spec, roles, name);
    if role.is_none() {
        let known: Vec<&str> = spec
            .roles
            .iter()
            .map(|r| r.name)
            .chain(roles.iter().map(|r| r.name.as_str()))
            .collect();
        errors.push(FieldError {
            field: field.into(),
            code: "invalid",
            message: format!("unknown role; one of: {}", known.join(", ")),
        });
    }
    role
}

/// The name of the role stored as `key`, for an answer: a custom role's
/// current name; a key no role has any more, as stored.
fn role_label(spec: &'static AppSpec, roles: &CustomRoles, key: &str) -> String {
    crate::rbac::by_key(spec, roles, key).map_or_else(|| key.to_owned(), |role| role.name().to_owned())
}

/// 403 unless `granter` holds every permission of `role` (the
/// no-escalation rule, `rbac::can_grant`); the answer names one it lacks.
fn require_covers(granter: &Role, role: &Role) -> Result<(), ApiError> {
    match crate::rbac::missing(granter, role) {
        None => Ok(()),
        Some(missing) => Err(ApiError::Forbidden(missing.to_owned())),
    }
}

/// Refuses with 404 when the spec's `[auth].methods` does not enable `method`:
/// a disabled sign-in method has no routes.
fn require_method(state: &AppState, method: crate::app_spec::AuthMethod) -> Result<(), ApiError> {
    if state.spec().auth_methods.contains(&method) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Refuses with 422 when any field error was collected.
fn finish(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// At most one argon2 computation per core at a time (each takes 19 MiB and
/// a core for tens of milliseconds); a request that cannot get a turn within
/// a few seconds gets 503 instead of piling up memory.
async fn argon2_turn() -> Result<tokio::sync::SemaphorePermit<'static>, ApiError> {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let turns = TURNS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
    });
    match tokio::time::timeout(std::time::Duration::from_secs(5), turns.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError::Unavailable),
    }
}

/// Hashes a password (CPU-bound: runs on the blocking pool, one per core).
async fn hash_password(password: String) -> Result<String, ApiError> {
    let _turn = argon2_turn().await?;
    tokio::task::spawn_blocking(move || crate::auth::password::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(|_| ApiError::Internal("password hashing failed".into()))
}

/// Verifies a password against a PHC string (CPU-bound: runs on the
/// blocking pool). `None` verifies against a dummy hash and fails, so an
/// unknown account costs the same time as a wrong password.
/// [`verify_password`] for the account `email`, within its budget of
/// failures (`ROOKERY_SIGN_IN_ACCOUNT_RATE`) from any address: each check
/// is counted before argon2 runs, so concurrent guesses cannot overrun the
/// budget, and given back when the password was right. Unknown emails have
/// budgets too, so a 429 says nothing about whether an account exists.
async fn verify_account_password(
    state: &AppState,
    email: &str,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    use sha2::Digest as _;
    let account: [u8; 32] = sha2::Sha256::digest(email.trim().to_lowercase().as_bytes()).into();
    let (max, window) = state.config().sign_in_account_rate;
    let decision = state.account_limiter().count(state.redis(), account, max, window).await;
    if !decision.allowed {
        state
            .metrics()
            .rate_limited
            .get_or_create(&[("limiter", "account")])
            .inc();
        return Err(ApiError::RateLimited {
            retry_after: decision.reset,
        });
    }
    let verified = verify_password(password, hash).await?;
    if verified {
        state.account_limiter().give_back(state.redis(), account, window).await;
    } else {
        state
            .metrics()
            .auth_failures
            .get_or_create(&[("reason", "password")])
            .inc();
    }
    Ok(verified)
}

async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    let _turn = argon2_turn().await?;
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => crate::auth::password::verify_password(&password, &hash),
        None => {
            let _ = crate::auth::password::verify_password(&password, crate::auth::password::dummy_hash());
            false
        }
    })
    .await
    .map_err(ApiError::internal)
}

// ---- binds and decoding -----------------------------------------------------

fn uuid_bind(v: Uuid) -> Bind {
    Bind::new(Value::Uuid(v), FieldType::Uuid)
}

fn text_bind(v: impl Into<String>) -> Bind {
    Bind::new(Value::Text(v.into()), FieldType::Text)
}

fn time_bind(v: DateTime<Utc>) -> Bind {
    Bind::new(Value::DateTime(v), FieldType::DateTime)
}

fn bytes_bind(v: Vec<u8>) -> Bind {
    // The type only matters for a NULL, which a hash never is.
    Bind::new(Value::Bytes(v), FieldType::Text)
}

fn tenant_bind(tenant: TenantId) -> Bind {
    uuid_bind(tenant.0)
}

fn decode_err(expected: &'static str, found: &Value) -> DbError {
    DbError::Decode(DecodeError::new(expected, found))
}

fn uuid(row: &DbRow, idx: usize) -> Result<Uuid, DbError> {
    match row.value(idx, FieldType::Uuid)? {
        Value::Uuid(v) => Ok(v),
        other => Err(decode_err("uuid", &other)),
    }
}

fn text(row: &DbRow, idx: usize) -> Result<String, DbError> {
    match row.value(idx, FieldType::Text)? {
        Value::Text(v) => Ok(v),
        other => Err(decode_err("text", &other)),
    }
}

fn opt_text(row: &DbRow, idx: usize) -> Result<Option<String>, DbError> {
    match row.value(idx, FieldType::Text)? {
        Value::Text(v) => Ok(Some(v)),
        Value::Null => Ok(None),
        other => Err(decode_err("text", &other)),
    }
}

fn time(row: &DbRow, idx: usize) -> Result<DateTime<Utc>, DbError> {
    match row.value(idx, FieldType::DateTime)? {
        Value::DateTime(v) => Ok(v),
        other => Err(decode_err("datetime", &other)),
    }
}

fn opt_time(row: &DbRow, idx: usize) -> Result<Option<DateTime<Utc>>, DbError> {
    match row.value(idx, FieldType::DateTime)? {
        Value::DateTime(v) => Ok(Some(v)),
        Value::Null => Ok(None),
        other => Err(decode_err("datetime", &other)),
    }
}

fn bigint(row: &DbRow, idx: usize) -> Result<i64, DbError> {
    match row.value(idx, FieldType::BigInt)? {
        Value::BigInt(v) => Ok(v),
        Value::Int(v) => Ok(i64::from(v)),
        other => Err(decode_err("bigint", &other)),
    }
}

/// Whether `err` is a unique-constraint violation (a concurrent insert won).
fn is_unique_violation(err: &DbError) -> bool {
    matches!(err, DbError::Sqlx(sqlx::Error::Database(db)) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        let check = |raw: &str| {
            let mut errors = Vec::new();
            let email = normalize_email("email", raw, &mut errors);
            (email, errors.is_empty())
        };
        assert_eq!(check(" Ada@Example.COM "), ("ada@example.com".into(), true));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@example.com",
            "ada@.com",
            "ada@example..com",
            "ada@example.net*",
            "ada@example.com.",
            "a\u{85}b@example.com",
        ] {
            assert!(!check(bad).1, "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords_have_bounds() {
        let check = |pw: &str| {
            let mut errors = Vec::new();
            check_password("password", pw, &mut errors);
            errors.first().map(|e| e.code)
        };
        assert_eq!(check("short"), Some("too_short"));
        assert_eq!(check("long enough password"), None);
        assert_eq!(check(&"x".repeat(MAX_PASSWORD_LEN + 1)), Some("too_long"));
    }
}
