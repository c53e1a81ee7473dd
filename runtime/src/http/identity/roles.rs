//! A tenant's roles: `GET /roles` (the spec's, marked `system`, and the
//! tenant's custom ones), `POST /roles`, `GET|PATCH|DELETE /roles/{name}`
//! for custom roles, and `GET /permissions`, what a custom role may grant.
//!
//! **No escalation:** the caller defines, changes or deletes only a role
//! whose every permission they hold (before and after a change), the rule
//! of assigning one (`rbac::can_grant`): nobody makes a role stronger than
//! themselves, then takes it or hands it out.
//!
//! **Consistency:** every change takes the tenant's members lock and reads
//! the roles again under it, like a member's role change, so a role is
//! never deleted while someone is given it, and the caller's own role is
//! the one the database holds now. Holders keep their role by its id:
//! a rename or a new set of grants reaches their next request on every
//! instance (the tenant's facts are invalidated, as for a plan change);
//! nobody needs to sign in again.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;

use uuid::Uuid;

use super::members::{Locked, begin};
use super::{
    JsonBody, finish, is_unique_violation, opt_text, require_covers, tenant_bind, text, text_bind, time, time_bind,
    uuid, uuid_bind,
};
use crate::app_spec::{AppSpec, RoleDef};
use crate::audit::{self, Entry};
use crate::auth::Principal;
use crate::auth::invalidate::Invalidation;
use crate::db::{TenantTx, Writing};
use crate::http::{ApiError, AppState, request_id};
use crate::rbac::{CustomRole, Grant, Role};
use crate::repo::FieldError;

/// Who reads roles and the permission catalogue: those who see members.
const READ: &str = "members.read";
/// Who defines them.
pub(crate) const MANAGE: &str = "roles.manage";
/// The most grants one custom role lists.
pub(crate) const MAX_GRANTS: usize = 512;

/// A role as the API shows it.
#[derive(Serialize)]
pub(super) struct RoleView {
    name: String,
    /// One of the spec's: it cannot be changed or deleted.
    system: bool,
    /// The spec role a custom role inherits.
    inherits: Option<&'static str>,
    /// A custom role's own grants (`x.y`, or `x.y:own` on own rows only).
    grants: Vec<String>,
    /// Every permission on any row, inherited ones included.
    permissions: Vec<&'static str>,
    /// Permissions on own rows only.
    own_permissions: Vec<&'static str>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl RoleView {
    fn system(def: &'static RoleDef) -> Self {
        Self {
            name: def.name.to_owned(),
            system: true,
            inherits: None,
            grants: Vec::new(),
            permissions: def.permissions.to_vec(),
            own_permissions: def.own.to_vec(),
            created_at: None,
            updated_at: None,
        }
    }

    fn custom(role: &CustomRole, created_at: DateTime<Utc>, updated_at: DateTime<Utc>) -> Self {
        Self {
            name: role.name.clone(),
            system: false,
            inherits: role.inherits.map(|r| r.name),
            grants: role.grants.iter().map(|g| g.text()).collect(),
            permissions: role.permissions.clone(),
            own_permissions: role.own.clone(),
            created_at: Some(created_at),
            updated_at: Some(updated_at),
        }
    }
}

/// A stored custom role and its times.
struct Stored {
    role: CustomRole,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, inherits, grants, created_at, updated_at";

async fn stored<M: crate::db::Mode>(
    spec: &'static AppSpec,
    tx: &mut TenantTx<M>,
    name: Option<&str>,
) -> Result<Vec<Stored>, ApiError> {
    let rows = match name {
        None => {
            tx.fetch_all(
                format!("SELECT {COLUMNS} FROM rookery_roles WHERE tenant_id = $1"),
                vec![tenant_bind(tx.tenant())],
            )
            .await?
        }
        Some(name) => {
            tx.fetch_all(
                format!("SELECT {COLUMNS} FROM rookery_roles WHERE tenant_id = $1 AND name = $2"),
                vec![tenant_bind(tx.tenant()), text_bind(name)],
            )
            .await?
        }
    };
    let mut roles = rows
        .iter()
        .map(|row| {
            let inherits = opt_text(row, 2)?;
            Ok(Stored {
                role: CustomRole::stored(spec, uuid(row, 0)?, text(row, 1)?, inherits.as_deref(), &text(row, 3)?),
                created_at: time(row, 4)?,
                updated_at: time(row, 5)?,
            })
        })
        .collect::<Result<Vec<_>, crate::db::DbError>>()?;
    // By name, byte for byte: the same order on both dialects (a
    // database collation may weigh `-` and `_` differently).
    roles.sort_by(|a, b| a.role.name.cmp(&b.role.name));
    Ok(roles)
}

/// The tenant's custom role called `name`, if any: a name no custom role
/// may have (a NUL, which PostgreSQL cannot bind as text, among them) is
/// none, without asking the database.
async fn custom_named<M: crate::db::Mode>(
    spec: &'static AppSpec,
    tx: &mut TenantTx<M>,
    name: &str,
) -> Result<Option<Stored>, ApiError> {
    let valid = crate::rbac::name_problem(spec, name).is_none() || spec.role(name).is_some();
    if !valid {
        return Ok(None);
    }
    Ok(stored(spec, tx, Some(name)).await?.pop())
}

/// The custom role a change names: 409 `system-role` for a role of the
/// spec (unless the tenant defined a custom role of that name before the
/// spec had it: the tenant's can still be renamed or deleted), else 404.
async fn custom_or_system(spec: &'static AppSpec, tx: &mut TenantTx<Writing>, name: &str) -> Result<Stored, ApiError> {
    match (custom_named(spec, tx, name).await?, spec.role(name)) {
        (Some(found), _) => Ok(found),
        (None, Some(def)) => Err(ApiError::SystemRole(def.name)),
        (None, None) => Err(ApiError::NotFound),
    }
}

/// `GET /roles`: the spec's roles (in its order), then the tenant's
/// custom roles (by name).
pub(super) async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<RoleView>>, ApiError> {
    principal.require(READ)?;
    let spec = state.spec();
    let mut tx = state.db().begin(principal.tenant).await?;
    let custom = stored(spec, &mut tx, None).await?;
    tx.finish_read();
    let roles = spec
        .roles
        .iter()
        .map(RoleView::system)
        .chain(
            custom
                .iter()
                .map(|s| RoleView::custom(&s.role, s.created_at, s.updated_at)),
        )
        .collect();
    Ok(Json(roles))
}

/// `GET /roles/{name}`.
pub(super) async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<RoleView>, ApiError> {
    principal.require(READ)?;
    let spec = state.spec();
    let mut tx = state.db().begin(principal.tenant).await?;
    let found = custom_named(spec, &mut tx, &name).await?;
    tx.finish_read();
    match (found, spec.role(&name)) {
        (Some(found), _) => Ok(Json(RoleView::custom(&found.role, found.created_at, found.updated_at))),
        (None, Some(def)) => Ok(Json(RoleView::system(def))),
        (None, None) => Err(ApiError::NotFound),
    }
}

/// A permission of the catalogue.
#[derive(Serialize)]
pub(super) struct PermissionView {
    name: &'static str,
    description: Option<&'static str>,
    /// May be granted on own rows only (`name:own`).
    ownable: bool,
    /// The plan feature it needs, if any.
    feature: Option<&'static str>,
}

/// `GET /permissions`: what a custom role may grant.
pub(super) async fn permissions(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<PermissionView>>, ApiError> {
    principal.require(READ)?;
    let spec = state.spec();
    let list = spec
        .permissions
        .iter()
        .map(|p| PermissionView {
            name: p.name,
            description: p.description,
            ownable: p.ownable,
            feature: spec.gates.permission(p.name),
        })
        .collect();
    Ok(Json(list))
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A field that may be left out but, given, is never `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewRole {
    name: String,
    #[serde(default)]
    inherits: Option<String>,
    #[serde(default)]
    grants: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleChange {
    #[serde(default, deserialize_with = "present")]
    name: Option<String>,
    /// `null` inherits nothing any more.
    #[serde(default, deserialize_with = "double_option")]
    inherits: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    grants: Option<Vec<String>>,
}

/// The parts of a role as a body gives them, checked: every problem listed.
fn parts(
    spec: &'static AppSpec,
    name: &str,
    inherits: Option<&str>,
    grants: &[String],
) -> Result<(Option<&'static RoleDef>, Vec<Grant>), ApiError> {
    let mut errors = Vec::new();
    if let Some(problem) = crate::rbac::name_problem(spec, name) {
        errors.push(FieldError {
            field: "name".into(),
            code: "invalid",
            message: problem,
        });
    }
    let inherited = inherits.and_then(|r| spec.role(r));
    if let Some(r) = inherits
        && inherited.is_none()
    {
        let known: Vec<&str> = spec.roles.iter().map(|r| r.name).collect();
        errors.push(FieldError {
            field: "inherits".into(),
            code: "invalid",
            message: format!("`{r}` is not a role of the app; one of: {}", known.join(", ")),
        });
    }
    if grants.len() > MAX_GRANTS {
        errors.push(FieldError {
            field: "grants".into(),
            code: "too_long",
            message: format!("at most {MAX_GRANTS} grants"),
        });
    }
    let mut parsed: Vec<Grant> = Vec::with_capacity(grants.len());
    for (i, text) in grants.iter().enumerate().take(MAX_GRANTS) {
        match Grant::parse(spec, text) {
            Ok(grant) if !parsed.contains(&grant) => parsed.push(grant),
            Ok(_) => {}
            Err(e) => errors.push(FieldError {
                field: format!("grants[{i}]"),
                code: "invalid",
                message: e.to_string(),
            }),
        }
    }
    finish(errors)?;
    Ok((inherited, parsed))
}

/// `POST /roles` `{name, inherits?, grants}`: 201 with the role; 403 when
/// it would grant a permission the caller lacks; 409 when the name is
/// taken.
pub(super) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewRole>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    principal.require(MANAGE)?;
    let spec = state.spec();
    let (inherits, grants) = parts(spec, &body.name, body.inherits.as_deref(), &body.grants)?;
    let role = CustomRole::new(Uuid::now_v7(), body.name, inherits, grants);
    let (mut tx, locked) = begin(&state, &principal, Some(MANAGE)).await?;
    let new = Role::custom(Arc::new(role.clone()));
    require_covers(&locked.acting, &new)?;
    let now = crate::db::now();
    let inserted = tx
        .execute(
            "INSERT INTO rookery_roles (tenant_id, id, name, inherits, grants, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
                .into(),
            vec![
                tenant_bind(principal.tenant),
                uuid_bind(role.id),
                text_bind(&role.name),
                opt_text_bind(role.inherits.map(|r| r.name)),
                text_bind(role.grants_json()),
                uuid_bind(principal.user().0),
                time_bind(now),
            ],
        )
        .await;
    name_taken(inserted, &role.name)?;
    audited(&mut tx, &principal, &headers, "role.created", &role, None).await?;
    tx.commit().await?;
    state.invalidate(Invalidation::Tenant(principal.tenant)).await;
    Ok((StatusCode::CREATED, Json(RoleView::custom(&role, now, now))))
}

/// `PATCH /roles/{name}` `{name?, inherits?, grants?}`: 200 with the role
/// as it is now; 409 `system-role` for one of the spec's; 403 when the
/// caller lacks a permission of the role, before or after.
pub(super) async fn update(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<RoleChange>,
) -> Result<Json<RoleView>, ApiError> {
    principal.require(MANAGE)?;
    let spec = state.spec();
    let (mut tx, locked) = begin(&state, &principal, Some(MANAGE)).await?;
    let old = custom_or_system(spec, &mut tx, &name).await?;
    let held = role_of(&locked, &old.role)?;
    require_covers(&locked.acting, &held)?;
    let new_name = body.name.unwrap_or_else(|| old.role.name.clone());
    let inherits = match body.inherits {
        Some(inherits) => inherits,
        None => old.role.inherits.map(|r| r.name.to_owned()),
    };
    let grants = match body.grants {
        Some(grants) => grants,
        None => old.role.grants.iter().map(|g| g.text()).collect(),
    };
    let (inherits, grants) = parts(spec, &new_name, inherits.as_deref(), &grants)?;
    let role = CustomRole::new(old.role.id, new_name, inherits, grants);
    let new = Role::custom(Arc::new(role.clone()));
    require_covers(&locked.acting, &new)?;
    let now = crate::db::now();
    let updated = tx
        .execute(
            "UPDATE rookery_roles SET name = $3, inherits = $4, grants = $5, updated_at = $6 \
             WHERE tenant_id = $1 AND id = $2"
                .into(),
            vec![
                tenant_bind(principal.tenant),
                uuid_bind(role.id),
                text_bind(&role.name),
                opt_text_bind(role.inherits.map(|r| r.name)),
                text_bind(role.grants_json()),
                time_bind(now),
            ],
        )
        .await;
    name_taken(updated, &role.name)?;
    audited(&mut tx, &principal, &headers, "role.updated", &role, Some(&old.role)).await?;
    tx.commit().await?;
    state.invalidate(Invalidation::Tenant(principal.tenant)).await;
    Ok(Json(RoleView::custom(&role, old.created_at, now)))
}

/// `DELETE /roles/{name}`: 204; 409 `system-role` for one of the spec's,
/// `role-in-use` while an active member, a pending invitation or an API
/// key not revoked holds it; 403 when the caller lacks a permission of it.
pub(super) async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(MANAGE)?;
    let spec = state.spec();
    let (mut tx, locked) = begin(&state, &principal, Some(MANAGE)).await?;
    let old = custom_or_system(spec, &mut tx, &name).await?;
    let held = role_of(&locked, &old.role)?;
    require_covers(&locked.acting, &held)?;
    let holders = holders(&mut tx, held.key()).await?;
    if holders.iter().any(|(_, n)| *n > 0) {
        let list: Vec<String> = holders
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|((one, many), n)| format!("{n} {}", if *n == 1 { one } else { many }))
            .collect();
        return Err(ApiError::RoleInUse(format!(
            "the role `{name}` is still held ({}): give them another role first",
            list.join(", ")
        )));
    }
    tx.execute(
        "DELETE FROM rookery_roles WHERE tenant_id = $1 AND id = $2".into(),
        vec![tenant_bind(principal.tenant), uuid_bind(old.role.id)],
    )
    .await?;
    audited(&mut tx, &principal, &headers, "role.deleted", &old.role, None).await?;
    tx.commit().await?;
    state.invalidate(Invalidation::Tenant(principal.tenant)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// 409 for a write that found the name taken (`rookery_roles_name_key`),
/// else the write's own outcome.
fn name_taken(written: Result<u64, crate::db::DbError>, name: &str) -> Result<(), ApiError> {
    match written {
        Err(err) if is_unique_violation(&err) => Err(ApiError::Conflict(format!(
            "the tenant has a role named `{name}` already"
        ))),
        other => other.map(|_| ()).map_err(ApiError::from),
    }
}

/// The custom role as the members lock read it.
fn role_of(locked: &Locked, role: &CustomRole) -> Result<Role, ApiError> {
    locked
        .roles
        .iter()
        .find(|r| r.id == role.id)
        .map(|r| Role::custom(Arc::clone(r)))
        .ok_or(ApiError::NotFound)
}

/// What holds a role, in the singular and the plural.
type Holder = (&'static str, &'static str);

/// Who holds the role stored as `key`: active members, pending
/// invitations, API keys not revoked.
async fn holders(tx: &mut TenantTx<Writing>, key: &str) -> Result<[(Holder, i64); 3], ApiError> {
    let now = time_bind(Utc::now());
    let mut counts = [
        (("active member", "active members"), 0),
        (("pending invitation", "pending invitations"), 0),
        (("API key", "API keys"), 0),
    ];
    let queries = [
        "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = $2 AND status = 'active' AND $3 IS NOT NULL",
        "SELECT COUNT(*) FROM invitations WHERE tenant_id = $1 AND role = $2 AND accepted_at IS NULL AND expires_at > $3",
        "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND role = $2 AND revoked_at IS NULL AND $3 IS NOT NULL",
    ];
    for (slot, sql) in counts.iter_mut().zip(queries) {
        let row = tx
            .fetch_optional(sql.into(), vec![tenant_bind(tx.tenant()), text_bind(key), now.clone()])
            .await?;
        slot.1 = row.map(|row| super::bigint(&row, 0)).transpose()?.unwrap_or(0);
    }
    Ok(counts)
}

/// The audit row of a role change: the role's name, what it inherits and
/// grants (and before a change, what it was).
async fn audited(
    tx: &mut TenantTx<Writing>,
    principal: &Principal,
    headers: &HeaderMap,
    action: &'static str,
    role: &CustomRole,
    before: Option<&CustomRole>,
) -> Result<(), ApiError> {
    let facts = |r: &CustomRole| {
        serde_json::json!({
            "name": r.name,
            "inherits": r.inherits.map(|i| i.name),
            "grants": r.grants.iter().map(|g| g.text()).collect::<Vec<_>>(),
        })
    };
    let mut metadata = facts(role);
    if let Some(before) = before {
        metadata["before"] = facts(before);
    }
    let entry = Entry {
        action,
        target_type: "role",
        target_id: role.id.to_string(),
        request_id: request_id(headers),
        metadata: Some(metadata),
    };
    audit::record(tx, principal.actor, entry).await?;
    Ok(())
}

fn opt_text_bind(value: Option<&str>) -> crate::db::Bind {
    use crate::model::{FieldType, Value};
    crate::db::Bind::new(
        value.map_or(Value::Null, |v| Value::Text(v.to_owned())),
        FieldType::Text,
    )
}
