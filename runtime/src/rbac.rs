//! Roles and permissions, from the spec (inheritance flattened by the
//! generator).

use crate::app_spec::RoleDef;

/// Whether `role` has `permission`.
pub(crate) fn allows(role: &RoleDef, permission: &str) -> bool {
    role.permissions.contains(&permission)
}

/// Whether `granter` may hand `role` out (to an invitee or an API key): only
/// roles whose every permission the granter has.
pub(crate) fn can_grant(granter: &RoleDef, role: &RoleDef) -> bool {
    role.permissions.iter().all(|p| granter.permissions.contains(p))
}
