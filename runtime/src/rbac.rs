//! Roles and permissions, from the spec (inheritance flattened by the
//! generator).

use crate::app_spec::RoleDef;

/// Whether `role` has `permission`.
pub(crate) fn allows(role: &RoleDef, permission: &str) -> bool {
    role.permissions.contains(&permission)
}

/// Whether `granter` may hand `role` out (to an invitee or an API key): only
/// roles whose every permission the granter has, at least as far: a
/// permission `role` has on any row the granter must have on any row; one
/// it has on own rows, the granter may have either way.
pub(crate) fn can_grant(granter: &RoleDef, role: &RoleDef) -> bool {
    role.permissions.iter().all(|p| granter.permissions.contains(p))
        && role
            .own
            .iter()
            .all(|p| granter.permissions.contains(p) || granter.own.contains(p))
}

#[cfg(test)]
mod tests {
    use super::can_grant;
    use crate::app_spec::RoleDef;

    const fn role(permissions: &'static [&'static str], own: &'static [&'static str]) -> RoleDef {
        RoleDef {
            name: "r",
            permissions,
            own,
        }
    }

    #[test]
    fn no_role_reaches_further_than_its_granter() {
        let manager = role(&["deals.write"], &[]);
        let sales = role(&[], &["deals.write"]);
        let viewer = role(&["deals.read"], &[]);
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
