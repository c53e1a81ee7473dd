//! Roles and permissions: the spec's roles (inheritance flattened by the
//! generator) and each tenant's custom roles (`custom`), behind one type,
//! [`Role`], which is what a member, an invitation and an API key hold.
//!
//! A role is stored by its *key*: a spec role by its name, a custom role
//! as `custom:<id>`, so renaming a custom role changes no membership, key
//! or token.

mod custom;

use std::sync::Arc;

pub(crate) use custom::{CustomRole, CustomRoles, Grant, MAX_ROLE_NAME_LEN, ROLE_NAME_PATTERN, name_problem};

use crate::app_spec::{AppSpec, RoleDef};

/// A role a member, an invitation or an API key holds: one of the spec's
/// (a *system* role, which no tenant can change or delete) or one of the
/// tenant's custom roles, which its admins define at run time.
///
/// ```
/// # fn handler(principal: rookery::Principal) {
/// if principal.role.is_custom() || principal.role.permissions().contains(&"projects.write") {
///     println!("{} may write", principal.role.name());
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Role(Kind);

#[derive(Debug, Clone)]
enum Kind {
    System(&'static RoleDef),
    Custom(Arc<CustomRole>),
}

impl Role {
    /// A role of the spec.
    pub(crate) const fn system(def: &'static RoleDef) -> Self {
        Self(Kind::System(def))
    }

    pub(crate) fn custom(role: Arc<CustomRole>) -> Self {
        Self(Kind::Custom(role))
    }

    /// The role's name (a custom role's current one).
    pub fn name(&self) -> &str {
        match &self.0 {
            Kind::System(def) => def.name,
            Kind::Custom(role) => &role.name,
        }
    }

    /// Every permission the role has on any row, inherited ones included.
    pub fn permissions(&self) -> &[&'static str] {
        match &self.0 {
            Kind::System(def) => def.permissions,
            Kind::Custom(role) => &role.permissions,
        }
    }

    /// The permissions the role has on own rows only.
    pub fn own(&self) -> &[&'static str] {
        match &self.0 {
            Kind::System(def) => def.own,
            Kind::Custom(role) => &role.own,
        }
    }

    /// Whether the role is one of the tenant's custom roles rather than
    /// one of the spec's.
    pub fn is_custom(&self) -> bool {
        matches!(self.0, Kind::Custom(_))
    }

    /// What memberships, invitations, API keys and tokens store.
    pub(crate) fn key(&self) -> &str {
        match &self.0 {
            Kind::System(def) => def.name,
            Kind::Custom(role) => &role.key,
        }
    }

    /// The spec role, when this is one.
    pub(crate) fn as_system(&self) -> Option<&'static RoleDef> {
        match &self.0 {
            Kind::System(def) => Some(def),
            Kind::Custom(_) => None,
        }
    }
}

impl PartialEq for Role {
    /// The same role: the same key.
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

/// The role stored as `key` (a spec role's name or a custom role's
/// `custom:<id>`), among the spec's and the tenant's `custom` ones.
pub(crate) fn by_key(spec: &'static AppSpec, custom: &CustomRoles, key: &str) -> Option<Role> {
    if custom::is_custom_key(key) {
        custom.by_key(key).map(Role::custom)
    } else {
        spec.role(key).map(Role::system)
    }
}

/// The role called `name`, among the spec's and the tenant's `custom` ones
/// (their names never collide: a custom role may not take a spec role's).
pub(crate) fn by_name(spec: &'static AppSpec, custom: &CustomRoles, name: &str) -> Option<Role> {
    spec.role(name)
        .map(Role::system)
        .or_else(|| custom.by_name(name).map(Role::custom))
}

/// The id of the custom role stored as `key`, when `key` is one.
pub(crate) fn custom_id(key: &str) -> Option<uuid::Uuid> {
    custom::id_of(key)
}

/// Whether `role` has `permission`.
pub(crate) fn allows(role: &Role, permission: &str) -> bool {
    role.permissions().contains(&permission)
}

/// Whether `granter` may hand `role` out (to a member, an invitee or an
/// API key, or define it as a custom role): only roles whose every
/// permission the granter has, at least as far: a permission `role` has on
/// any row the granter must have on any row; one it has on own rows, the
/// granter may have either way.
pub(crate) fn can_grant(granter: &Role, role: &Role) -> bool {
    missing(granter, role).is_none()
}

/// A permission of `role` that `granter` lacks (as far as `role` has it),
/// if any: the answer a refusal names.
pub(crate) fn missing(granter: &Role, role: &Role) -> Option<&'static str> {
    role.permissions()
        .iter()
        .find(|p| !granter.permissions().contains(p))
        .or_else(|| {
            role.own()
                .iter()
                .find(|p| !granter.permissions().contains(p) && !granter.own().contains(p))
        })
        .copied()
}

#[cfg(test)]
mod tests {
    use super::{Role, can_grant};
    use crate::app_spec::RoleDef;

    const fn role(permissions: &'static [&'static str], own: &'static [&'static str]) -> RoleDef {
        RoleDef {
            name: "r",
            permissions,
            own,
        }
    }

    static MANAGER: RoleDef = role(&["deals.write"], &[]);
    static SALES: RoleDef = role(&[], &["deals.write"]);
    static VIEWER: RoleDef = role(&["deals.read"], &[]);

    #[test]
    fn no_role_reaches_further_than_its_granter() {
        let [manager, sales, viewer] = [&MANAGER, &SALES, &VIEWER].map(Role::system);
        for (granter, granted, ok) in [
            (&manager, &sales, true),
            (&manager, &manager, true),
            (&sales, &sales, true),
            // Own rows only cannot hand out every row.
            (&sales, &manager, false),
            (&sales, &viewer, false),
            (&viewer, &sales, false),
        ] {
            assert_eq!(can_grant(granter, granted), ok, "{granter:?} → {granted:?}");
        }
    }
}
