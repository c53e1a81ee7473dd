//! The member lifecycle: `GET /members` (active members, or the former
//! ones with `?status=former`), `PATCH /members/{user_id}` (a new role),
//! `DELETE /members/{user_id}` (removal), `POST /members/me/leave` and
//! `POST /tenant/transfer` (the owner hands the tenant over).
//!
//! A membership is never deleted: removing a member (or their leaving)
//! marks it `former`, with when and by whom. Rows of models that reference
//! a user point at `memberships (tenant_id, user_id)` and the audit log
//! names the member, so both keep working; a new invitation the former
//! member accepts makes the same row active again, with the invited role.
//!
//! **No escalation:** a caller gives only a role whose every permission
//! they hold, and changes or removes only a member whose every permission
//! they hold (`rbac::can_grant` both ways), so an admin can neither make
//! themselves owner nor touch an owner.
//!
//! **The owner** is the spec's first role, the one sign-up gives a
//! tenant's creator. A tenant always keeps at least one active owner:
//! every change that can take the role from someone (a role change, a
//! removal, leaving) takes the tenant's members lock first
//! ([`TenantTx::lock_members`]; SQLite's write transaction is exclusive
//! already), reads the memberships again under it (the caller's too: a
//! token may carry a role its member lost a moment ago) and refuses with
//! 409 `last-owner` when no other active owner would be left.
//!
//! **Revocation:** a member whose role changes or whose membership ends
//! loses their refresh tokens in the change's transaction and their
//! access tokens once it committed (`Invalidation::Member`, on every
//! instance). A removed member's pending invitations (the ones they sent
//! and any addressed to them) are deleted and the API keys they created
//! revoked: keys belong to the tenant, but a key acts for its creator
//! (capped by the creator's role), and a key that outlived its creator
//! would be access nobody answers for. The keys stay listed as revoked.

mod change;
mod erase;
mod remove;

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub(super) use change::{change_role, transfer};
pub(crate) use erase::erase_by_email;
pub(super) use erase::erase_me;
pub(super) use remove::{leave, remove};

use super::{opt_time, tenant_bind, text, text_bind, time, uuid, uuid_bind};
use crate::app_spec::AppSpec;
use crate::auth::Principal;
use crate::auth::invalidate::Invalidation;
use crate::db::{DbError, DbRow, TenantTx, Writing};
use crate::http::{ApiError, AppState};
use crate::model::{Actor, FieldType, UserId, Value};
use crate::rbac::{CustomRoles, Role};

const READ: &str = "members.read";
const MANAGE: &str = "members.manage";

#[derive(Serialize)]
pub(super) struct Member {
    user_id: UserId,
    email: String,
    role: String,
    /// `active` or `former`.
    status: String,
    created_at: DateTime<Utc>,
    /// When the membership ended (former members only).
    removed_at: Option<DateTime<Utc>>,
    /// Who ended it: the remover, or the member who left.
    removed_by: Option<UserId>,
}

/// The `status` a list asks for: `active` (the default) or `former`.
fn status_query(query: Option<&str>) -> Result<&'static str, ApiError> {
    let mut status = "active";
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match (&*key, &*value) {
            ("status", "active") => status = "active",
            ("status", "former") => status = "former",
            ("status", _) => return Err(ApiError::BadRequest("`status` is `active` or `former`".into())),
            (other, _) => return Err(ApiError::BadRequest(format!("unknown query parameter `{other}`"))),
        }
    }
    Ok(status)
}

/// `GET /members[?status=active|former]`, oldest first.
pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Member>>, ApiError> {
    principal.require(READ)?;
    let status = status_query(query.as_deref())?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let rows = tx
        .fetch_all(
            "SELECT m.user_id, u.email, m.role, m.status, m.created_at, m.removed_at, m.removed_by \
             FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.tenant_id = $1 AND m.status = $2 ORDER BY m.created_at, m.user_id"
                .into(),
            vec![tenant_bind(principal.tenant), text_bind(status)],
        )
        .await?;
    tx.finish_read();
    let members = rows
        .iter()
        .map(|row| {
            Ok(Member {
                user_id: UserId(uuid(row, 0)?),
                email: text(row, 1)?,
                role: super::role_label(state.spec(), &principal.info.roles, &text(row, 2)?),
                status: text(row, 3)?,
                created_at: time(row, 4)?,
                removed_at: opt_time(row, 5)?,
                removed_by: opt_uuid(row, 6)?.map(UserId),
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Json(members))
}

fn opt_uuid(row: &DbRow, idx: usize) -> Result<Option<uuid::Uuid>, DbError> {
    match row.value(idx, FieldType::Uuid)? {
        Value::Uuid(v) => Ok(Some(v)),
        Value::Null => Ok(None),
        other => Err(super::decode_err("uuid", &other)),
    }
}

/// The owner role: the spec's first, which sign-up gives a tenant's
/// creator.
fn owner_role(spec: &'static AppSpec) -> Result<Role, ApiError> {
    spec.roles
        .first()
        .map(Role::system)
        .ok_or_else(|| ApiError::Internal("the app defines no role".into()))
}

/// The role an owner steps down to when handing the tenant over: of the
/// other roles whose every permission the owner role has, the one with the
/// most permissions (the earlier in the spec on a tie). With the usual
/// chain `owner` inherits `admin` inherits … that is `admin`, the role the
/// owner role inherits. `None` when there is no such role (the owner
/// then stays owner).
fn step_down_role(spec: &'static AppSpec) -> Option<Role> {
    let owner = Role::system(spec.roles.first()?);
    spec.roles[1..]
        .iter()
        .map(Role::system)
        .filter(|role| crate::rbac::can_grant(&owner, role))
        .fold(None, |best: Option<Role>, role| match best {
            Some(b) if b.permissions().len() >= role.permissions().len() => Some(b),
            _ => Some(role),
        })
}

/// A membership, as read under the members lock.
struct Membership {
    /// The stored role (its key).
    role: String,
    /// The role, unless neither the spec nor the tenant has it any more
    /// (it then grants nothing).
    def: Option<Role>,
    active: bool,
}

impl Membership {
    fn holds(&self, role: &Role) -> bool {
        self.active && self.role == role.key()
    }

    /// The role's name, for an answer or the audit log.
    fn role_name(&self) -> &str {
        self.def.as_ref().map_or(&self.role, Role::name)
    }
}

/// What a membership change works with, read under the members lock: the
/// role the caller acts with, and the tenant's custom roles as they are
/// now (their changes take the lock too).
pub(in crate::http::identity) struct Locked {
    pub(in crate::http::identity) acting: Role,
    pub(in crate::http::identity) roles: CustomRoles,
}

async fn membership(
    locked: &CustomRoles,
    spec: &'static AppSpec,
    tx: &mut TenantTx<Writing>,
    user: UserId,
) -> Result<Option<Membership>, DbError> {
    let row = tx
        .fetch_optional(
            "SELECT role, status FROM memberships WHERE tenant_id = $1 AND user_id = $2".into(),
            vec![tenant_bind(tx.tenant()), uuid_bind(user.0)],
        )
        .await?;
    row.map(|row| {
        let role = text(&row, 0)?;
        Ok(Membership {
            def: crate::rbac::by_key(spec, locked, &role),
            role,
            active: text(&row, 1)? == "active",
        })
    })
    .transpose()
}

const ENDED: &str = "your membership of this tenant changed: sign in again";

/// Begins a membership change: the writing transaction, the members lock,
/// and the role the caller acts with as the database says now (a user's
/// current membership; an API key's own role while its creator is an
/// active member who still holds it). With `permission`, 403 unless that
/// role has it.
pub(in crate::http::identity) async fn begin(
    state: &AppState,
    principal: &Principal,
    permission: Option<&str>,
) -> Result<(TenantTx<Writing>, Locked), ApiError> {
    let mut tx = state.db().begin_write(principal.tenant).await?;
    tx.lock_members().await?;
    let roles = CustomRoles::read(&mut tx, state.spec()).await?;
    let member = membership(&roles, state.spec(), &mut tx, principal.user())
        .await?
        .filter(|m| m.active)
        .ok_or(ApiError::Unauthorized(ENDED))?;
    // A stored role that no longer exists signs nobody in (`membership_role`).
    let current = member.def.ok_or(ApiError::Unauthorized(ENDED))?;
    let acting = match principal.actor {
        Actor::User(_) => current,
        // The key's own role as it is now, capped by its creator's.
        Actor::ApiKey { .. } => crate::rbac::by_key(state.spec(), &roles, principal.role.key())
            .filter(|own| crate::rbac::can_grant(&current, own))
            .ok_or(ApiError::Unauthorized(ENDED))?,
    };
    if let Some(permission) = permission
        && !crate::rbac::allows(&acting, permission)
    {
        return Err(ApiError::Forbidden(permission.to_owned()));
    }
    Ok((tx, Locked { acting, roles }))
}

/// 403 unless `acting` holds every permission of `target`'s role: nobody
/// changes or removes a member stronger than themselves (a stored role
/// the spec dropped grants nothing, so anyone may).
fn require_over(acting: &Role, target: &Membership) -> Result<(), ApiError> {
    match &target.def {
        Some(role) => super::require_covers(acting, role),
        None => Ok(()),
    }
}

/// 409 `last-owner` unless another active member than `user` holds the
/// owner role: `user` is about to lose it.
async fn keep_an_owner(tx: &mut TenantTx<Writing>, owner: &Role, user: UserId) -> Result<(), ApiError> {
    let row = tx
        .fetch_optional(
            "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND status = 'active' AND role = $2 AND user_id <> $3"
                .into(),
            vec![tenant_bind(tx.tenant()), text_bind(owner.key()), uuid_bind(user.0)],
        )
        .await?;
    let others = row.map(|row| super::bigint(&row, 0)).transpose()?.unwrap_or(0);
    if others == 0 {
        return Err(ApiError::LastOwner(owner.as_system().map_or("owner", |r| r.name)));
    }
    Ok(())
}

/// Gives `user` the role `role` and revokes their refresh tokens (their
/// access tokens go once the change committed: [`invalidate`]).
async fn set_role(tx: &mut TenantTx<Writing>, user: UserId, role: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    tx.execute(
        "UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2 AND status = 'active'".into(),
        vec![tenant_bind(tx.tenant()), uuid_bind(user.0), text_bind(role)],
    )
    .await?;
    let tenant = tx.tenant();
    super::session::revoke_all(tx, tenant, user, now).await?;
    Ok(())
}

/// After the change committed: `user`'s access tokens issued until now are
/// refused on every instance.
async fn invalidate(state: &AppState, principal: &Principal, user: UserId) {
    let change = Invalidation::Member {
        tenant: principal.tenant,
        user,
    };
    state.invalidate(change).await;
}

/// The user id of a path, or 404 (as for any unknown member).
fn path_user(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<uuid::Uuid>().map(UserId).map_err(|_| ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_spec::PlanDef;

    use crate::app_spec::RoleDef;

    fn spec(roles: &'static [RoleDef]) -> &'static AppSpec {
        static PLANS: &[PlanDef] = &[];
        Box::leak(Box::new(AppSpec {
            name: "t",
            title: "T",
            api_prefix: "/api",
            resolvers: &[],
            auth_methods: &[],
            roles,
            permissions: &[],
            features: &[],
            plans: PLANS,
            gates: crate::app_spec::Gates::NONE,
            schedules: &[],
            postgres_migrations: &[],
            sqlite_migrations: &[],
        }))
    }

    #[test]
    fn the_owner_steps_down_to_the_strongest_role_it_contains() {
        static CHAIN: &[RoleDef] = &[
            RoleDef {
                name: "owner",
                permissions: &["a", "b", "c"],
                own: &[],
            },
            RoleDef {
                name: "viewer",
                permissions: &["a"],
                own: &[],
            },
            RoleDef {
                name: "admin",
                permissions: &["a", "b"],
                own: &[],
            },
        ];
        assert_eq!(step_down_role(spec(CHAIN)).as_ref().map(Role::name), Some("admin"));
        static APART: &[RoleDef] = &[
            RoleDef {
                name: "owner",
                permissions: &["a", "b"],
                own: &[],
            },
            RoleDef {
                name: "auditor",
                permissions: &["x"],
                own: &[],
            },
            RoleDef {
                name: "billing",
                permissions: &["b"],
                own: &[],
            },
            RoleDef {
                name: "support",
                permissions: &["a"],
                own: &[],
            },
        ];
        assert_eq!(
            step_down_role(spec(APART)).as_ref().map(Role::name),
            Some("billing"),
            "not a role with permissions the owner lacks; the earlier on a tie"
        );
        static ALONE: &[RoleDef] = &[RoleDef {
            name: "owner",
            permissions: &["a"],
            own: &[],
        }];
        assert!(step_down_role(spec(ALONE)).is_none());
    }

    #[test]
    fn lists_ask_for_active_or_former_members() {
        assert_eq!(status_query(None).ok(), Some("active"));
        assert_eq!(status_query(Some("status=former")).ok(), Some("former"));
        assert!(status_query(Some("status=gone")).is_err());
        assert!(status_query(Some("role=owner")).is_err());
    }
}
