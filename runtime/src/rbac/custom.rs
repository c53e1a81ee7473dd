//! A tenant's custom roles: a name, grants from the app's permission
//! catalogue (`AppSpec::permissions`, each on any row or, where the
//! permission allows it, on own rows), optionally a spec role inherited.
//! Stored in `rookery_roles` (tenant-owned, row-level security forced),
//! read with the tenant's facts (`tenant::TenantDirectory`), so a request
//! costs nothing more for them.

use std::sync::Arc;

use uuid::Uuid;

use crate::app_spec::{AppSpec, RoleDef};
use crate::db::{Bind, DbError, Mode, TenantTx};
use crate::model::{FieldType, Value};

/// The prefix of a custom role's key (`custom:<id>`); no spec role's name
/// has a `:`.
const KEY_PREFIX: &str = "custom:";
/// The suffix of a grant on own rows only.
const OWN_SUFFIX: &str = ":own";
/// Longest custom role name.
pub(crate) const MAX_ROLE_NAME_LEN: usize = 63;
/// A custom role's name, as the OpenAPI document states it: the spec's
/// rule for role names (lower-case letters, digits and `_`, starting with
/// a letter) with `-` allowed too.
pub(crate) const ROLE_NAME_PATTERN: &str = "^[a-z][a-z0-9_-]*$";

pub(super) fn is_custom_key(key: &str) -> bool {
    key.starts_with(KEY_PREFIX)
}

pub(super) fn id_of(key: &str) -> Option<Uuid> {
    key.strip_prefix(KEY_PREFIX)?.parse().ok()
}

/// One grant of a custom role: a permission of the app, on any row or on
/// own rows only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The permission.
    pub(crate) permission: &'static str,
    /// On own rows only (`projects.write:own`).
    pub(crate) own: bool,
}

/// Why a grant or a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum GrantError {
    /// Not a permission of the app.
    #[error("unknown permission `{0}`")]
    Unknown(String),
    /// `:own` on a permission that cannot be held on own rows.
    #[error(
        "`{0}` cannot be granted on own rows only: not every model that uses it has an owner field, or it gives rows to others"
    )]
    NotOwnable(&'static str),
}

impl Grant {
    /// The grant `text` names (`x.y` or `x.y:own`), among `spec`'s
    /// permissions.
    pub(crate) fn parse(spec: &'static AppSpec, text: &str) -> Result<Self, GrantError> {
        let (name, own) = match text.strip_suffix(OWN_SUFFIX) {
            Some(base) => (base, true),
            None => (text, false),
        };
        let def = spec
            .permission(name)
            .ok_or_else(|| GrantError::Unknown(text.to_owned()))?;
        if own && !def.ownable {
            return Err(GrantError::NotOwnable(def.name));
        }
        Ok(Self {
            permission: def.name,
            own,
        })
    }

    /// The grant as the API and the table write it.
    pub(crate) fn text(self) -> String {
        if self.own {
            format!("{}{OWN_SUFFIX}", self.permission)
        } else {
            self.permission.to_owned()
        }
    }
}

/// Whether `name` may name a custom role: the pattern, at most
/// [`MAX_ROLE_NAME_LEN`] characters, and no spec role's name.
pub(crate) fn name_problem(spec: &AppSpec, name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_ROLE_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        return Some(format!(
            "must be 1 to {MAX_ROLE_NAME_LEN} lower-case letters, digits, `_` or `-`, starting with a letter"
        ));
    }
    spec.role(name)
        .map(|_| format!("`{name}` is a role of the app (a system role); choose another name"))
}

/// A custom role of one tenant, its permissions flattened.
#[derive(Debug, Clone)]
pub(crate) struct CustomRole {
    /// Its id.
    pub(crate) id: Uuid,
    /// `custom:<id>`, what holders store.
    pub(super) key: String,
    /// Its current name.
    pub(crate) name: String,
    /// The spec role it inherits, if any.
    pub(crate) inherits: Option<&'static RoleDef>,
    /// Its own grants, as defined (inherited ones not repeated).
    pub(crate) grants: Vec<Grant>,
    /// On any row: inherited and granted, sorted, deduplicated.
    pub(crate) permissions: Vec<&'static str>,
    /// On own rows only, those on any row left out.
    pub(crate) own: Vec<&'static str>,
}

impl CustomRole {
    /// The role with these parts, its permissions flattened.
    pub(crate) fn new(id: Uuid, name: String, inherits: Option<&'static RoleDef>, grants: Vec<Grant>) -> Self {
        let mut permissions: Vec<&'static str> = inherits.map(|r| r.permissions.to_vec()).unwrap_or_default();
        permissions.extend(grants.iter().filter(|g| !g.own).map(|g| g.permission));
        permissions.sort_unstable();
        permissions.dedup();
        let mut own: Vec<&'static str> = inherits.map(|r| r.own.to_vec()).unwrap_or_default();
        own.extend(grants.iter().filter(|g| g.own).map(|g| g.permission));
        own.retain(|p| !permissions.contains(p));
        own.sort_unstable();
        own.dedup();
        Self {
            id,
            key: format!("{KEY_PREFIX}{id}"),
            name,
            inherits,
            grants,
            permissions,
            own,
        }
    }

    /// The role as stored: `inherits` a spec role's name, `grants` a JSON
    /// array of grant texts. What the spec no longer has (a role, a
    /// permission) is dropped: it grants nothing any more.
    pub(crate) fn stored(spec: &'static AppSpec, id: Uuid, name: String, inherits: Option<&str>, grants: &str) -> Self {
        let texts: Vec<String> = serde_json::from_str(grants).unwrap_or_default();
        let grants = texts.iter().filter_map(|t| Grant::parse(spec, t).ok()).collect();
        Self::new(id, name, inherits.and_then(|r| spec.role(r)), grants)
    }

    /// The grants as the table stores them, a JSON array.
    pub(crate) fn grants_json(&self) -> String {
        let texts: Vec<String> = self.grants.iter().map(|g| g.text()).collect();
        serde_json::to_string(&texts).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// A tenant's custom roles, by name. Nothing allocated for a tenant that
/// has none.
#[derive(Debug, Clone, Default)]
pub(crate) struct CustomRoles(Option<Arc<[Arc<CustomRole>]>>);

impl CustomRoles {
    /// These roles (any order; kept by name).
    pub(crate) fn new(mut roles: Vec<CustomRole>) -> Self {
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Self((!roles.is_empty()).then(|| roles.into_iter().map(Arc::new).collect()))
    }

    /// Every custom role, by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<CustomRole>> {
        self.0.as_deref().unwrap_or_default().iter()
    }

    /// The roles stored for the transaction's tenant.
    pub(crate) async fn read<M: Mode>(tx: &mut TenantTx<M>, spec: &'static AppSpec) -> Result<Self, DbError> {
        let rows = tx
            .fetch_all(
                "SELECT id, name, inherits, grants FROM rookery_roles WHERE tenant_id = $1".into(),
                vec![Bind::new(Value::Uuid(tx.tenant().0), FieldType::Uuid)],
            )
            .await?;
        let mut roles = Vec::with_capacity(rows.len());
        for row in &rows {
            if let (Value::Uuid(id), Value::Text(name), inherits, Value::Text(grants)) = (
                row.value(0, FieldType::Uuid)?,
                row.value(1, FieldType::Text)?,
                row.value(2, FieldType::Text)?,
                row.value(3, FieldType::Text)?,
            ) {
                let inherits = match &inherits {
                    Value::Text(r) => Some(r.as_str()),
                    _ => None,
                };
                roles.push(CustomRole::stored(spec, id, name, inherits, &grants));
            }
        }
        Ok(Self::new(roles))
    }

    pub(super) fn by_key(&self, key: &str) -> Option<Arc<CustomRole>> {
        self.iter().find(|r| r.key == key).cloned()
    }

    pub(super) fn by_name(&self, name: &str) -> Option<Arc<CustomRole>> {
        self.iter().find(|r| r.name == name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_spec::{Gates, PermissionDef};

    static ROLES: [RoleDef; 1] = [RoleDef {
        name: "member",
        permissions: &["deals.read"],
        own: &["deals.write"],
    }];
    static PERMISSIONS: [PermissionDef; 3] = [
        PermissionDef {
            name: "deals.read",
            description: None,
            ownable: true,
        },
        PermissionDef {
            name: "deals.write",
            description: None,
            ownable: true,
        },
        PermissionDef {
            name: "deals.assign",
            description: None,
            ownable: false,
        },
    ];
    static SPEC: AppSpec = AppSpec {
        name: "crm",
        title: "CRM",
        api_prefix: "/api/v1",
        resolvers: &[],
        auth_methods: &[],
        roles: &ROLES,
        permissions: &PERMISSIONS,
        features: &[],
        plans: &[],
        gates: Gates::NONE,
        schedules: &[],
        postgres_migrations: &[],
        sqlite_migrations: &[],
    };

    #[test]
    fn grants_name_the_apps_permissions_and_own_rows_where_allowed() {
        assert_eq!(
            Grant::parse(&SPEC, "deals.write:own"),
            Ok(Grant {
                permission: "deals.write",
                own: true
            })
        );
        assert_eq!(
            Grant::parse(&SPEC, "deals.delete"),
            Err(GrantError::Unknown("deals.delete".into()))
        );
        assert_eq!(
            Grant::parse(&SPEC, "deals.assign:own"),
            Err(GrantError::NotOwnable("deals.assign"))
        );
        assert!(Grant::parse(&SPEC, ":own").is_err());
    }

    #[test]
    fn inheriting_flattens_and_any_row_beats_own_rows() {
        let grants = vec![Grant::parse(&SPEC, "deals.write").unwrap()];
        let role = CustomRole::new(Uuid::nil(), "manager".into(), SPEC.role("member"), grants);
        assert_eq!(role.permissions, ["deals.read", "deals.write"]);
        assert!(role.own.is_empty());
        assert_eq!(role.key, format!("custom:{}", Uuid::nil()));
    }

    #[test]
    fn names_follow_the_pattern_and_leave_the_specs_alone() {
        assert_eq!(name_problem(&SPEC, "sales-rep_2"), None);
        for bad in ["", "Sales", "2nd", "a b", "custom:x", &"a".repeat(64)] {
            assert!(name_problem(&SPEC, bad).is_some(), "{bad:?}");
        }
        assert!(name_problem(&SPEC, "member").unwrap().contains("system role"));
    }

    #[test]
    fn a_stored_role_drops_what_the_spec_no_longer_has() {
        let role = CustomRole::stored(
            &SPEC,
            Uuid::nil(),
            "x".into(),
            Some("gone"),
            r#"["deals.read","old.perm"]"#,
        );
        assert!(role.inherits.is_none());
        assert_eq!(role.grants.len(), 1);
        assert_eq!(role.grants_json(), r#"["deals.read"]"#);
    }
}
