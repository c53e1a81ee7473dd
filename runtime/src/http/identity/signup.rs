//! `POST /auth/signup`: a new tenant, its first member (the spec's first
//! role) and a session, in one transaction.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::{
    JsonBody, TokenPair, check_password, finish, hash_password, is_unique_violation, issue_tokens, normalize_email,
    text_bind, time_bind, uuid_bind,
};
use crate::audit::{self, Entry};
use crate::auth::{Actor, Principal};
use crate::http::{ApiError, AppState, request_id};
use crate::model::{TenantId, UserId};
use crate::repo::FieldError;
use crate::tenant::TenantInfo;

pub(crate) const MAX_NAME_LEN: usize = 200;

/// The answer for an email that already has an account.
const ACCOUNT_CONFLICT: &str = "cannot sign up with this email; if you already have an account, sign in";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignupRequest {
    tenant_slug: String,
    tenant_name: String,
    email: String,
    password: String,
}

#[derive(Serialize)]
pub(super) struct SignupResponse {
    tenant: TenantView,
    user: UserView,
    #[serde(flatten)]
    tokens: TokenPair,
}

#[derive(Serialize)]
struct TenantView {
    id: TenantId,
    slug: String,
    name: String,
    plan: &'static str,
}

#[derive(Serialize)]
struct UserView {
    id: UserId,
    email: String,
}

/// Labels that name the platform, not a tenant.
const RESERVED_SLUGS: &[&str] = &[
    "www", "api", "app", "admin", "auth", "mail", "static", "assets", "docs", "status",
];

/// `^[a-z][a-z0-9-]{1,62}$` (the same rule the `tenants` table checks), not
/// reserved, and not shaped like a tenant id (the `X-Tenant` header reads
/// an id-shaped value as an id, so such a slug could never be named).
fn valid_slug(slug: &str) -> bool {
    !RESERVED_SLUGS.contains(&slug)
        && slug.parse::<crate::model::TenantId>().is_err()
        && (2..=63).contains(&slug.len())
        && slug.starts_with(|c: char| c.is_ascii_lowercase())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The schema of a valid slug, for the OpenAPI document: [`valid_slug`].
pub(crate) fn slug_schema() -> serde_json::Value {
    const HEX: &str = "[0-9a-f]";
    let uuid = format!("^({HEX}{{32}}|{HEX}{{8}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{4}}-{HEX}{{12}})$");
    serde_json::json!({
        "type": "string",
        "pattern": "^[a-z][a-z0-9-]{1,62}$",
        "not": {"anyOf": [{"enum": RESERVED_SLUGS}, {"pattern": uuid}]},
        "description": "Lower-case letters, digits and `-`, starting with a letter; not a reserved name, not shaped like a tenant id"
    })
}

pub(super) async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SignupRequest>,
) -> Result<(StatusCode, Json<SignupResponse>), ApiError> {
    super::require_method(&state, crate::app_spec::AuthMethod::Password)?;
    let spec = state.spec();
    let mut errors = Vec::new();
    if !valid_slug(&body.tenant_slug) {
        errors.push(FieldError {
            field: "tenant_slug".into(),
            code: "invalid",
            message: "must match ^[a-z][a-z0-9-]{1,62}$".into(),
        });
    }
    let name = body.tenant_name.trim().to_owned();
    // The length as sent, as the OpenAPI document's `maxLength` says it.
    if name.is_empty() {
        errors.push(FieldError {
            field: "tenant_name".into(),
            code: "required",
            message: "must not be empty".into(),
        });
    } else if body.tenant_name.chars().count() > MAX_NAME_LEN {
        errors.push(FieldError {
            field: "tenant_name".into(),
            code: "too_long",
            message: format!("must be at most {MAX_NAME_LEN} characters"),
        });
    }
    let email = normalize_email("email", &body.email, &mut errors);
    check_password("password", &body.password, &mut errors);
    finish(errors)?;
    let role = spec
        .roles
        .first()
        .ok_or_else(|| ApiError::Internal("the app defines no role".into()))?;
    let plan = spec
        .plans
        .first()
        .ok_or_else(|| ApiError::Internal("the app defines no plan".into()))?;

    // Look first (no argon2 while a transaction is open).
    let mut tx = state.db().begin_platform().await?;
    let slug_taken = tx
        .fetch_optional(
            "SELECT id FROM tenants WHERE slug = $1".into(),
            vec![text_bind(&body.tenant_slug)],
        )
        .await?
        .is_some();
    let existing = super::accounts::email_taken(&mut tx, &email).await?;
    tx.commit().await?;
    if slug_taken {
        return Err(ApiError::Conflict("this tenant slug is taken".into()));
    }
    // Sign-up never checks an existing account's password: that would make
    // it an unlimited password oracle for any email. An existing account
    // adds tenants while signed in (a later version), not here.
    if existing {
        return Err(ApiError::Conflict(ACCOUNT_CONFLICT.into()));
    }
    let (user, new_hash) = (UserId::new_v7(), Some(hash_password(body.password).await?));

    let tenant = TenantId::new_v7();
    let now = crate::db::now();
    let mut tx = state.db().begin_platform().await?;
    let inserted = tx
        .execute(
            "INSERT INTO tenants (id, slug, name, plan, created_at) VALUES ($1, $2, $3, $4, $5)".into(),
            vec![
                uuid_bind(tenant.0),
                text_bind(&body.tenant_slug),
                text_bind(&name),
                text_bind(plan.name),
                time_bind(now),
            ],
        )
        .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::Conflict("this tenant slug is taken".into()));
        }
        other => other?,
    };
    if let Some(hash) = new_hash {
        let inserted = tx
            .execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)".into(),
                vec![uuid_bind(user.0), text_bind(&email), text_bind(hash), time_bind(now)],
            )
            .await;
        match inserted {
            // Someone signed up with this email meanwhile.
            Err(err) if is_unique_violation(&err) => {
                return Err(ApiError::Conflict(ACCOUNT_CONFLICT.into()));
            }
            other => other?,
        };
    }
    let mut tx = tx.into_tenant(tenant).await?;
    tx.execute(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)".into(),
        vec![
            uuid_bind(tenant.0),
            uuid_bind(user.0),
            text_bind(role.name),
            time_bind(now),
        ],
    )
    .await?;
    let principal = Principal {
        tenant,
        actor: Actor::User(user),
        role: crate::rbac::Role::system(role),
        info: TenantInfo::new(tenant, body.tenant_slug.clone(), plan),
        gates: &state.spec().gates,
    };
    let entry = Entry {
        action: "tenant.create",
        target_type: "tenant",
        target_id: tenant.to_string(),
        request_id: request_id(&headers),
        metadata: Some(serde_json::json!({ "plan": plan.name })),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    let tokens = issue_tokens(&state, &mut tx, user, role.name).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant, user = %user, "tenant signed up");

    let response = SignupResponse {
        tenant: TenantView {
            id: tenant,
            slug: body.tenant_slug,
            name,
            plan: plan.name,
        },
        user: UserView { id: user, email },
        tokens,
    };
    Ok((StatusCode::CREATED, Json(response)))
}

#[cfg(test)]
mod tests {
    use super::valid_slug;

    #[test]
    fn slugs_follow_the_table_rule() {
        for good in ["ab", "acme", "acme-co", "a1", &format!("a{}", "b".repeat(62))] {
            assert!(valid_slug(good), "{good:?} refused");
        }
        for bad in [
            "",
            "a",
            "1acme",
            "-acme",
            "Acme",
            "ac_me",
            "acme.co",
            &format!("a{}", "b".repeat(63)),
        ] {
            assert!(!valid_slug(bad), "{bad:?} accepted");
        }
    }
}
