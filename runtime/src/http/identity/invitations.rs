//! Invitations: `POST /invitations` (a member invites an email with a role;
//! the invitee is mailed a link with the token, and the response shows the
//! token once) and `POST /invitations/accept` (the invitee signs in or
//! signs up and joins).
//!
//! Accepting: an unknown token answers 401; a known token that expired or
//! was already used answers 410 Gone, so the invitee knows to ask for a new
//! one (only the holder of a 256-bit token can tell the two apart).
//!
//! The plan's `members` quota counts members plus pending (unexpired,
//! unaccepted) invitations, so accepting never exceeds it.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    INVITATION_TTL, JsonBody, TokenPair, bigint, bytes_bind, check_password, finish, hash_password,
    is_unique_violation, issue_tokens, known_role, normalize_email, opt_text, opt_time, require_covers, tenant_bind,
    text, text_bind, time, time_bind, uuid, uuid_bind, verify_account_password,
};
use crate::app_spec::QuotaLimit;
use crate::audit::{self, Entry};
use crate::auth::api_key::{opaque_hash, opaque_token};
use crate::auth::{Actor, Principal};
use crate::db::TenantTx;
use crate::http::auth::request_tenant;
use crate::http::{ApiError, AppState, request_id};
use crate::mail::Mail;
use crate::model::{TenantId, UserId};
use crate::rbac::{CustomRoles, Role};
use crate::repo::FieldError;
use crate::tenant::TenantInfo;

const MANAGE: &str = "members.manage";
const QUOTA: &str = "members";
const UNKNOWN_TOKEN: &str = "invalid invitation token";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateInvitation {
    email: String,
    role: String,
}

#[derive(Serialize)]
pub(super) struct CreatedInvitation {
    id: Uuid,
    email: String,
    role: String,
    /// The invitation token: shown in this response only.
    token: String,
    expires_at: DateTime<Utc>,
}

/// `POST /invitations`.
pub(super) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateInvitation>,
) -> Result<(StatusCode, Json<CreatedInvitation>), ApiError> {
    principal.require(MANAGE)?;
    principal.require_user()?;
    let mut errors = Vec::new();
    let email = normalize_email("email", &body.email, &mut errors);
    // The invitation is mailed: the address must be one an SMTP server
    // takes (no UTF-8 local part, labels not starting with `-`).
    if errors.is_empty() && !crate::mail::is_address(&email) {
        errors.push(FieldError {
            field: "email".into(),
            code: "invalid",
            message: "must be an email address".into(),
        });
    }
    // Named among the roles as this instance knows them, with the other
    // field errors; then again under the lock.
    known_role(state.spec(), &principal.info.roles, "role", &body.role, &mut errors);
    finish(errors)?;
    // The role as the tenant has it now, and the caller's own, under the
    // members lock: a custom role deleted or narrowed meanwhile is seen.
    let (mut tx, locked) = super::members::begin(&state, &principal, Some(MANAGE)).await?;
    let mut errors = Vec::new();
    let role = known_role(state.spec(), &locked.roles, "role", &body.role, &mut errors);
    finish(errors)?;
    let role = role.ok_or_else(|| ApiError::Internal("role checked above".into()))?;
    require_covers(&locked.acting, &role)?;

    let member = tx
        .fetch_optional(
            "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.tenant_id = $1 AND lower(u.email) = $2 AND m.status = 'active'"
                .into(),
            vec![tenant_bind(principal.tenant), text_bind(&email)],
        )
        .await?;
    if member.is_some() {
        return Err(ApiError::Conflict(
            "this email is already a member of the tenant".into(),
        ));
    }
    let now = crate::db::now();
    check_members_quota(&mut tx, &principal, now).await?;
    let (token, hash) = opaque_token();
    let id = Uuid::now_v7();
    let expires_at = now + INVITATION_TTL;
    tx.execute(
        "INSERT INTO invitations (tenant_id, id, email, role, token_hash, invited_by, expires_at, accepted_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)"
            .into(),
        vec![
            tenant_bind(principal.tenant),
            uuid_bind(id),
            text_bind(&email),
            text_bind(role.key()),
            bytes_bind(hash),
            uuid_bind(principal.user().0),
            time_bind(expires_at),
            time_bind(now),
        ],
    )
    .await?;
    let entry = Entry {
        action: "invitation.create",
        target_type: "invitation",
        target_id: id.to_string(),
        request_id: request_id(&headers),
        metadata: Some(serde_json::json!({ "role": role.name() })),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    let invited = Invited {
        email: &email,
        role: role.name(),
        token: &token,
        expires_at,
    };
    mail_invitation(&state, &mut tx, &principal, &invited).await?;
    tx.commit().await?;
    let created = CreatedInvitation {
        id,
        email,
        role: role.name().to_owned(),
        token,
        expires_at,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

struct Invited<'a> {
    email: &'a str,
    role: &'a str,
    token: &'a str,
    expires_at: DateTime<Utc>,
}

/// Queues the invitation's mail (template `invitation`) in its
/// transaction: the link is `ROOKERY_PUBLIC_URL/invitations/accept` with
/// the tenant and the token.
async fn mail_invitation(
    state: &AppState,
    tx: &mut TenantTx,
    principal: &Principal,
    invited: &Invited<'_>,
) -> Result<(), ApiError> {
    let row = tx
        .fetch_optional(
            "SELECT t.name, u.email FROM tenants t, users u WHERE t.id = $1 AND u.id = $2".into(),
            vec![tenant_bind(principal.tenant), uuid_bind(principal.user().0)],
        )
        .await?
        .ok_or_else(|| ApiError::Internal("the inviting member's tenant and account".into()))?;
    let public_url = &state.config().public_url;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("tenant", &principal.info.slug)
        .append_pair("token", invited.token)
        .finish();
    let context = serde_json::json!({
        "tenant": { "name": text(&row, 0)?, "slug": principal.info.slug },
        "inviter": text(&row, 1)?,
        "role": invited.role,
        "accept_url": format!("{public_url}/invitations/accept?{query}"),
        "token": invited.token,
        "public_url": public_url,
        "expires_at": invited.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    });
    let mail = Mail::new("invitation", invited.email).context(context);
    tx.send_mail(state.mailer(), &mail).await?;
    Ok(())
}

/// 403 when members plus pending invitations already reach the plan's
/// `members` quota. Serialised per tenant (advisory lock on PostgreSQL,
/// the write lock on SQLite).
async fn check_members_quota(tx: &mut TenantTx, principal: &Principal, now: DateTime<Utc>) -> Result<(), ApiError> {
    let Some(QuotaLimit::Count(limit)) = principal.info.plan.quota(QUOTA) else {
        return Ok(());
    };
    tx.lock_quota(QUOTA).await?;
    let row = tx
        .fetch_optional(
            "SELECT (SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND status = 'active') \
                  + (SELECT COUNT(*) FROM invitations WHERE tenant_id = $1 AND accepted_at IS NULL AND expires_at > $2)"
                .into(),
            vec![tenant_bind(principal.tenant), time_bind(now)],
        )
        .await?;
    let used = row.map(|row| bigint(&row, 0)).transpose()?.unwrap_or(0);
    if u64::try_from(used).unwrap_or(0) >= limit {
        return Err(ApiError::QuotaExceeded {
            quota: QUOTA.to_owned(),
            limit,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AcceptInvitation {
    token: String,
    password: String,
    /// When given, it must be the invited email.
    #[serde(default)]
    email: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Accepted {
    tenant_id: TenantId,
    user: AcceptedUser,
    role: String,
    #[serde(flatten)]
    tokens: TokenPair,
}

#[derive(Serialize)]
struct AcceptedUser {
    id: UserId,
    email: String,
}

struct Invitation {
    id: Uuid,
    email: String,
    role: Role,
    /// The sender's role (its key) when the invitation was read: the claim
    /// requires it still (a demotion meanwhile makes the claim fail).
    sender: String,
}

const SENDER_GONE: ApiError =
    ApiError::Gone("the member who sent this invitation can no longer grant its role; ask for a new one");

/// The pending invitation a token names in `tenant`: 401 unknown, 410
/// expired or used, or no longer backed by its sender: an invitation
/// grants a role only while the member who sent it is active and still
/// may grant that role, so a removed or demoted member's pending
/// invitations stop with their rights.
async fn pending_invitation(state: &AppState, info: &TenantInfo, token: &str) -> Result<Invitation, ApiError> {
    let tenant = info.id;
    let mut tx = state.db().begin(tenant).await?;
    let row = tx
        .fetch_optional(
            "SELECT i.id, i.email, i.role, i.expires_at, i.accepted_at, m.role FROM invitations i \
             LEFT JOIN memberships m ON m.tenant_id = i.tenant_id AND m.user_id = i.invited_by AND m.status = 'active' \
             WHERE i.tenant_id = $1 AND i.token_hash = $2"
                .into(),
            vec![tenant_bind(tenant), bytes_bind(opaque_hash(token))],
        )
        .await?;
    tx.finish_read();
    let row = row.ok_or(ApiError::Unauthorized(UNKNOWN_TOKEN))?;
    if opt_time(&row, 4)?.is_some() {
        return Err(ApiError::Gone("this invitation was already accepted"));
    }
    if time(&row, 3)? <= Utc::now() {
        return Err(ApiError::Gone("this invitation has expired; ask for a new one"));
    }
    let role = crate::rbac::by_key(state.spec(), &info.roles, &text(&row, 2)?)
        .ok_or(ApiError::Gone("the invited role no longer exists"))?;
    let sender = opt_text(&row, 5)?.and_then(|key| crate::rbac::by_key(state.spec(), &info.roles, &key));
    match sender {
        Some(sender) if crate::rbac::can_grant(&sender, &role) => Ok(Invitation {
            id: uuid(&row, 0)?,
            email: text(&row, 1)?,
            role,
            sender: sender.key().to_owned(),
        }),
        _ => Err(SENDER_GONE),
    }
}

/// `POST /invitations/accept`, in the invitation's tenant (subdomain or
/// header): joins as the invited role, creating the account when the email
/// has none, or proving the existing account's password.
pub(super) async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AcceptInvitation>,
) -> Result<Json<Accepted>, ApiError> {
    super::require_method(&state, crate::app_spec::AuthMethod::Password)?;
    let info = request_tenant(&state, &headers).await?;
    let invitation = pending_invitation(&state, &info, &body.token).await?;
    let mut errors = Vec::new();
    if let Some(email) = &body.email
        && normalize_email("email", email, &mut errors) != invitation.email
        && errors.is_empty()
    {
        errors.push(FieldError {
            field: "email".into(),
            code: "invalid",
            message: "is not the invited email address".into(),
        });
    }
    finish(errors)?;

    let mut tx = state.db().begin(info.id).await?;
    let existing = super::accounts::sign_in_account(&mut tx, &invitation.email).await?;
    tx.finish_read();
    let (user, new_hash) = match existing {
        Some((user, stored)) => {
            if !verify_account_password(&state, &invitation.email, body.password, stored).await? {
                return Err(ApiError::Unauthorized("invalid invitation or credentials"));
            }
            (user, None)
        }
        None => {
            let mut errors = Vec::new();
            check_password("password", &body.password, &mut errors);
            finish(errors)?;
            (UserId::new_v7(), Some(hash_password(body.password).await?))
        }
    };

    let now = crate::db::now();
    let mut tx = state.db().begin_platform().await?;
    if let Some(hash) = new_hash {
        let inserted = tx
            .execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)".into(),
                vec![
                    uuid_bind(user.0),
                    text_bind(&invitation.email),
                    text_bind(hash),
                    time_bind(now),
                ],
            )
            .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => {
                return Err(ApiError::Conflict(
                    "an account with this email was created meanwhile; try again".into(),
                ));
            }
            other => other?,
        };
    }
    let mut tx = tx.into_tenant(info.id).await?;
    // Under the members lock, as the roles are now: the sender still holds
    // the role they held when the invitation was read, and that role (a
    // custom one may have changed since) may still grant the invited one.
    tx.lock_members().await?;
    let roles = CustomRoles::read(&mut tx, state.spec()).await?;
    let role = crate::rbac::by_key(state.spec(), &roles, invitation.role.key())
        .ok_or(ApiError::Gone("the invited role no longer exists"))?;
    let sender = crate::rbac::by_key(state.spec(), &roles, &invitation.sender).ok_or(SENDER_GONE)?;
    if !crate::rbac::can_grant(&sender, &role) {
        return Err(SENDER_GONE);
    }
    let claimed = tx
        .execute(
            "UPDATE invitations SET accepted_at = $3 WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL \
             AND EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = $1 AND m.user_id = invitations.invited_by \
             AND m.status = 'active' AND m.role = $4)"
                .into(),
            vec![
                tenant_bind(info.id),
                uuid_bind(invitation.id),
                time_bind(now),
                text_bind(&invitation.sender),
            ],
        )
        .await?;
    if claimed != 1 {
        // Accepted by a concurrent request, or the sender lost the role.
        return Err(ApiError::Gone("this invitation was already accepted or withdrawn"));
    }
    // A former member comes back: the same membership row, active again
    // with the invited role (rows that name them keep pointing at it).
    let rejoined = tx
        .execute(
            "UPDATE memberships SET status = 'active', role = $3, removed_at = NULL, removed_by = NULL \
             WHERE tenant_id = $1 AND user_id = $2 AND status = 'former'"
                .into(),
            vec![tenant_bind(info.id), uuid_bind(user.0), text_bind(role.key())],
        )
        .await?;
    if rejoined == 0 {
        let joined = tx
            .execute(
                "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)".into(),
                vec![
                    tenant_bind(info.id),
                    uuid_bind(user.0),
                    text_bind(role.key()),
                    time_bind(now),
                ],
            )
            .await;
        match joined {
            Err(err) if is_unique_violation(&err) => {
                return Err(ApiError::Conflict(
                    "this account is already a member of the tenant".into(),
                ));
            }
            other => other?,
        };
    }
    let principal = Principal {
        tenant: info.id,
        actor: Actor::User(user),
        role: role.clone(),
        info: info.clone(),
        gates: &state.spec().gates,
    };
    let entry = Entry {
        action: "invitation.accept",
        target_type: "invitation",
        target_id: invitation.id.to_string(),
        request_id: request_id(&headers),
        metadata: Some(serde_json::json!({ "role": role.name(), "rejoined": rejoined > 0 })),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    let tokens = issue_tokens(&state, &mut tx, user, role.key()).await?;
    tx.commit().await?;
    let user = AcceptedUser {
        id: user,
        email: invitation.email,
    };
    Ok(Json(Accepted {
        tenant_id: info.id,
        user,
        role: role.name().to_owned(),
        tokens,
    }))
}
