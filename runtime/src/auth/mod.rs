//! Authentication: who is calling, for which tenant, with which role.
//!
//! Plain Rust over the levels below (no HTTP): `Verifier::authenticate`
//! turns a bearer credential and the tenant a request names into a
//! [`Principal`], or says why not (`AuthError`); a [`Principal`] answers
//! permission checks ([`Denied`]). The HTTP layer (`http/auth.rs`) reads
//! the headers, runs this for every request under the API prefix (except
//! sign-up, login, refresh and accepting an invitation) in the order
//! credentials (401) → tenant agreement (403) → revocation (401) and rate
//! limit (429, `admit`), and maps the errors to problem+json. What other
//! instances must hear of (a plan, a member) goes through `invalidate`.

mod access;
mod admit;
pub(crate) mod api_key;
mod guarded;
/// Invalidations. Public to the runtime's own tests only.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod invalidate;
#[cfg(not(feature = "testing"))]
pub(crate) mod invalidate;
pub(crate) mod password;
pub(crate) mod revoked;
/// Access tokens (HS256 JWTs). Public to the runtime's own tests only.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod token;
#[cfg(not(feature = "testing"))]
pub(crate) mod token;

use uuid::Uuid;

use crate::app_spec::{AppSpec, AuthMethod, Gates};
use crate::config::Config;
use crate::db::{Bind, Db, DbError};
pub use crate::model::Actor;
use crate::model::{FieldType, TenantId, UserId, Value};
use crate::ratelimit::RateLimiter;
use crate::rbac::Role;
use crate::repo::FieldError;
use crate::shared::Redis;
pub use crate::tenant::TenantInfo;
use crate::tenant::{Known, ResolveError, TenantDirectory, TenantRef};
pub use access::Scope;
pub(crate) use admit::{Admitted, Authenticated};
pub use guarded::{AccessError, Guarded};
use revoked::Revocations;
use token::TokenKeys;

/// Why a caller is refused something a [`Principal`] was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denied {
    /// The caller's role lacks the permission.
    #[error("missing permission `{0}`")]
    Permission(String),
    /// The action needs a signed-in user; an API key cannot do it.
    #[error("API keys cannot do this; sign in as a user")]
    UserRequired,
    /// The body sets fields the caller may not set (read-only fields, a
    /// field whose own permission they lack, an owner they may not give
    /// the row to); every one is listed.
    #[error("not allowed to set {}", fields_list(.0))]
    Fields(Vec<FieldError>),
    /// The tenant's plan does not include the feature.
    #[error("the plan `{plan}` does not include the feature `{feature}`")]
    Feature {
        /// The feature.
        feature: String,
        /// The tenant's plan.
        plan: &'static str,
    },
}

/// `a`, `b` and `c`: the fields of a refusal.
fn fields_list(fields: &[FieldError]) -> String {
    let names: Vec<String> = fields.iter().map(|f| format!("`{}`", f.field)).collect();
    names.join(", ")
}

/// Why a request could not be authenticated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AuthError {
    /// Missing, invalid or expired credentials (401).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The request names no tenant, an unknown one, or another one than
    /// its credentials (403).
    #[error("{0}")]
    TenantMismatch(&'static str),
    /// The credential is an API key and the tenant's plan lacks the
    /// feature API keys need (403 `feature-not-in-plan`).
    #[error("the plan `{plan}` does not include the feature `{feature}`")]
    Feature {
        /// The feature.
        feature: &'static str,
        /// The tenant's plan.
        plan: &'static str,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<ResolveError> for AuthError {
    fn from(e: ResolveError) -> Self {
        Self::TenantMismatch(e.detail())
    }
}

/// An authenticated caller in a resolved tenant.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The tenant; every query of the request is scoped to it.
    pub tenant: TenantId,
    /// Who acts.
    pub actor: Actor,
    /// The role (the spec's or one of the tenant's custom roles), with its
    /// flattened permissions.
    pub role: Role,
    /// Tenant facts (slug, plan).
    pub info: TenantInfo,
    /// The app's feature gates on permissions.
    pub(crate) gates: &'static Gates,
}

impl Principal {
    /// Whether the caller has `permission` on every row (and the tenant's
    /// plan has the feature the permission needs, if any).
    pub fn can(&self, permission: &str) -> bool {
        self.gate(permission).is_ok() && crate::rbac::allows(&self.role, permission)
    }

    /// Refuses a permission whose feature (`[permissions]` in the spec) the
    /// tenant's plan lacks: asked before the role, since the fix is an
    /// upgrade, the same for every member.
    pub(crate) fn gate(&self, permission: &str) -> Result<(), Denied> {
        match self.gates.permission(permission) {
            Some(feature) => self.require_feature(feature),
            None => Ok(()),
        }
    }

    /// Refuses unless the caller has `permission` (a 403 `forbidden`
    /// problem in a handler).
    ///
    /// ```
    /// # fn handler(principal: rookery::auth::Principal) -> Result<(), rookery::http::ApiError> {
    /// principal.require("deals.approve")?;
    /// # Ok(()) }
    /// ```
    pub fn require(&self, permission: &str) -> Result<(), Denied> {
        self.gate(permission)?;
        if self.can(permission) {
            Ok(())
        } else {
            Err(Denied::Permission(permission.to_owned()))
        }
    }

    /// Refuses unless a signed-in user (not an API key) acts: keys may not
    /// mint keys or invitations that would outlive their revocation.
    pub fn require_user(&self) -> Result<(), Denied> {
        match self.actor {
            Actor::User(_) => Ok(()),
            Actor::ApiKey { .. } => Err(Denied::UserRequired),
        }
    }

    /// Whether the tenant's plan unlocks `feature` (from the spec's `[plans]`).
    pub fn has_feature(&self, feature: &str) -> bool {
        self.info.has_feature(feature)
    }

    /// Refuses unless the tenant's plan unlocks `feature` (a 403
    /// `feature-not-in-plan` problem in a handler, distinct from a missing
    /// permission: the fix is an upgrade, not a role).
    ///
    /// ```
    /// # fn handler(principal: rookery::auth::Principal) -> Result<(), rookery::http::ApiError> {
    /// principal.require_feature("api_access")?;
    /// # Ok(()) }
    /// ```
    pub fn require_feature(&self, feature: &str) -> Result<(), Denied> {
        if self.has_feature(feature) {
            Ok(())
        } else {
            Err(Denied::Feature {
                feature: feature.to_owned(),
                plan: self.info.plan.name,
            })
        }
    }

    /// The acting user: the signed-in user or the member who created the key.
    pub fn user(&self) -> UserId {
        match self.actor {
            Actor::User(user) | Actor::ApiKey { created_by: user, .. } => user,
        }
    }
}

/// What authentication reads: the app, its configuration, its database,
/// the tenant directory, the token keys and revocations, the API rate
/// limiter and the Redis they share with other instances.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verifier<'a> {
    /// The app.
    pub(crate) spec: &'static AppSpec,
    /// Its configuration (base domain, environment, API key pepper).
    pub(crate) config: &'a Config,
    /// Its database.
    pub(crate) db: &'a Db,
    /// Tenant facts.
    pub(crate) tenants: &'a TenantDirectory,
    /// The JWT keys.
    pub(crate) keys: &'a TokenKeys,
    /// Revoked access tokens.
    pub(crate) revocations: &'a Revocations,
    /// Per-tenant API windows, in process (also while Redis is down).
    pub(crate) limiter: &'a RateLimiter,
    /// Redis, when instances share one.
    pub(crate) redis: Option<&'a Redis>,
}

impl Verifier<'_> {
    /// The tenant `named` names, looked up.
    pub(crate) async fn tenant(&self, named: Result<TenantRef, ResolveError>) -> Result<TenantInfo, AuthError> {
        Ok(self.known(named).await?.info)
    }

    async fn known(&self, named: Result<TenantRef, ResolveError>) -> Result<Known, AuthError> {
        self.tenants
            .lookup(self.db, self.spec, &named?, self.redis)
            .await?
            .ok_or(AuthError::TenantMismatch("unknown tenant"))
    }

    /// The caller a bearer credential (a JWT or an API key) proves, in the
    /// tenant the request names (`named`), which must be the credential's;
    /// [`Verifier::admit`] then checks what other instances may have changed.
    pub(crate) async fn authenticate(
        &self,
        bearer: &str,
        named: Result<TenantRef, ResolveError>,
    ) -> Result<Authenticated, AuthError> {
        let spec = self.spec;
        if api_key::looks_like_key(spec.name, bearer) {
            if !spec.auth_methods.contains(&AuthMethod::ApiKey) {
                return Err(AuthError::Unauthorized("API keys are not enabled for this app"));
            }
            let prefix = api_key::parse(spec.name, &self.config.env, bearer)
                .ok_or(AuthError::Unauthorized("invalid API key"))?;
            let mut known = self.known(named).await?;
            // No memory of keys: every request reads the key's row, so a
            // revoked key (or its creator's removal) is refused at once on
            // every instance.
            let key = find_api_key(self.db, known.info.id, &prefix)
                .await?
                .ok_or(AuthError::Unauthorized("invalid API key"))?;
            if !api_key::verify(&self.config.api_key_pepper, bearer, &key.hash) || key.revoked {
                return Err(AuthError::Unauthorized("invalid API key"));
            }
            // Only a genuine key learns that its plan lacks the feature.
            if let Some(feature) = spec.gates.api_keys
                && !known.info.has_feature(feature)
            {
                return Err(AuthError::Feature {
                    feature,
                    plan: known.info.plan.name,
                });
            }
            self.knows_roles(&mut known, &[&key.role, &key.creator_role]).await?;
            let Known { info, version } = known;
            // The creator's role caps the key's: checked by `admit`, once
            // the facts are known to be current.
            let role = crate::rbac::by_key(spec, &info.roles, &key.role)
                .ok_or(AuthError::Unauthorized("the key's role no longer exists"))?;
            let principal = Principal {
                tenant: info.id,
                actor: Actor::ApiKey {
                    id: key.id,
                    created_by: key.created_by,
                },
                role,
                info,
                gates: &spec.gates,
            };
            return Ok(Authenticated {
                principal,
                issued_at: None,
                version,
                last_use: Some(key.last_use),
                creator_role: Some(key.creator_role),
            });
        }
        let claims = self
            .keys
            .verify(bearer)
            .ok_or(AuthError::Unauthorized("invalid or expired token"))?;
        let verified = claims.parsed().ok_or(AuthError::Unauthorized("invalid token claims"))?;
        // The token names its tenant; the request must name the same one.
        const MISMATCH: &str = "the request's tenant does not match the token";
        let named = named?;
        if let TenantRef::Id(id) = &named
            && *id != verified.tenant
        {
            return Err(AuthError::TenantMismatch(MISMATCH));
        }
        // A slug of no tenant is said so (sign-in says it too), not
        // called a mismatch: the caller most likely mistyped it.
        let mut known = self
            .tenants
            .lookup(self.db, spec, &named, self.redis)
            .await?
            .ok_or(AuthError::TenantMismatch("unknown tenant"))?;
        if known.info.id != verified.tenant {
            return Err(AuthError::TenantMismatch(MISMATCH));
        }
        self.knows_roles(&mut known, &[verified.role]).await?;
        let Known { info, version } = known;
        // A custom role deleted since (it had no holder left) signs nobody in.
        let role = crate::rbac::by_key(spec, &info.roles, verified.role)
            .ok_or(AuthError::Unauthorized("invalid token claims"))?;
        let principal = Principal {
            tenant: info.id,
            actor: Actor::User(verified.user),
            role,
            info,
            gates: &spec.gates,
        };
        Ok(Authenticated {
            principal,
            issued_at: Some(claims.issued_at_millis()),
            version,
            last_use: None,
            creator_role: None,
        })
    }
}

impl Verifier<'_> {
    /// Reads `known`'s facts again when they lack a custom role one of
    /// `keys` names: one defined since they were cached (here, or on
    /// another instance), which the facts' version would only show later.
    async fn knows_roles(&self, known: &mut Known, keys: &[&str]) -> Result<(), AuthError> {
        let missing = keys.iter().any(|key| {
            crate::rbac::custom_id(key).is_some() && crate::rbac::by_key(self.spec, &known.info.roles, key).is_none()
        });
        if missing {
            // Boxed: rare, and its future would otherwise be part of
            // every request's.
            *known = Box::pin(self.tenants.reload(self.db, self.spec, known.info.id, None))
                .await?
                .ok_or(AuthError::TenantMismatch("unknown tenant"))?;
        }
        Ok(())
    }
}

struct StoredKey {
    id: Uuid,
    hash: Vec<u8>,
    role: String,
    creator_role: String,
    created_by: UserId,
    revoked: bool,
    last_use: api_key::LastUse,
}

async fn find_api_key(db: &Db, tenant: TenantId, prefix: &str) -> Result<Option<StoredKey>, DbError> {
    let mut tx = db.begin(tenant).await?;
    let row = tx
        .fetch_optional(
            // The creator's current role caps the key: a demoted member's keys
            // lose what the member lost, a former member's keys everything.
            "SELECT k.id, k.key_hash, k.role, k.created_by, k.revoked_at, m.role, k.last_used_at, k.last_used_ip \
             FROM api_keys k JOIN memberships m ON m.tenant_id = k.tenant_id AND m.user_id = k.created_by \
             WHERE k.tenant_id = $1 AND k.prefix = $2 AND m.status = 'active'"
                .into(),
            vec![
                Bind::new(Value::Uuid(tenant.0), FieldType::Uuid),
                Bind::new(Value::Text(prefix.to_owned()), FieldType::Text),
            ],
        )
        .await?;
    tx.finish_read();
    let Some(row) = row else { return Ok(None) };
    let hash = crate::db::bytes(&row, 1)?;
    let (Value::Uuid(id), Value::Text(role), Value::Uuid(created_by), revoked, Value::Text(creator_role)) = (
        row.value(0, FieldType::Uuid)?,
        row.value(2, FieldType::Text)?,
        row.value(3, FieldType::Uuid)?,
        row.value(4, FieldType::DateTime)?,
        row.value(5, FieldType::Text)?,
    ) else {
        return Ok(None);
    };
    let last_use = api_key::LastUse {
        at: match row.value(6, FieldType::DateTime)? {
            Value::DateTime(at) => Some(at),
            _ => None,
        },
        ip: match row.value(7, FieldType::Text)? {
            Value::Text(ip) => Some(ip),
            _ => None,
        },
    };
    Ok(Some(StoredKey {
        id,
        hash,
        role,
        creator_role,
        created_by: UserId(created_by),
        revoked: revoked != Value::Null,
        last_use,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_spec::PlanDef;

    static ROLE: crate::app_spec::RoleDef = crate::app_spec::RoleDef {
        name: "member",
        permissions: &["projects.read", "projects.write"],
        own: &[],
    };
    static PLAN: PlanDef = PlanDef {
        name: "growth",
        features: &["api_access"],
        quotas: &[],
        rate_limit: None,
        monthly_price: None,
        trial_days: None,
    };

    fn principal() -> Principal {
        let tenant = TenantId::new_v7();
        Principal {
            tenant,
            actor: Actor::User(UserId::new_v7()),
            role: Role::system(&ROLE),
            info: TenantInfo::new(tenant, "acme".into(), &PLAN),
            gates: &Gates::NONE,
        }
    }

    #[test]
    fn permissions_come_from_the_role_and_features_from_the_plan() {
        let p = principal();
        assert!(p.can("projects.write"));
        assert!(!p.can("projects.delete"));
        assert_eq!(
            p.require("projects.delete"),
            Err(Denied::Permission("projects.delete".into()))
        );
        assert!(matches!(
            p.require_feature("sso"),
            Err(Denied::Feature { plan: "growth", .. })
        ));
        assert_eq!(p.require_feature("api_access"), Ok(()));
        assert!(p.has_feature("api_access"));
        assert!(!p.has_feature("sso"));
    }
}
